/* The latency histogram's bucket of a fractional latency (dvmq/hist.h): the simulator reads it
 * from the double's bits; it must be the bucket of the floored value, edges included. */
#include <math.h>

#include "../harness.h"
#include "dvmq/hist.h"

static int bucket_matches(double ns)
{
	unsigned want = !(ns >= 1.0) ? 0 : dvmq_hist_bucket(ns >= 1.8e19 ? UINT64_MAX : (uint64_t)floor(ns));
	return dvmq_hist_bucket_f(ns) == want;
}

TEST(hist_fractional_bucket_is_the_floored_bucket)
{
	/* every bucket edge from 16 ns to 2^62, just below, on and above it */
	for (unsigned e = 4; e < 63; e++)
		for (uint64_t s = 0; s < DVMQ_HIST_SUB; s++) {
			double edge = (double)((DVMQ_HIST_SUB + s) << (e - 4));
			double around[] = { edge, nextafter(edge, 0.0), nextafter(edge, INFINITY), edge - 0.5,
					    edge + 0.5 };
			for (unsigned i = 0; i < 5; i++)
				CHECK_MSG(bucket_matches(around[i]), "ns %.17g: %u", around[i],
					  dvmq_hist_bucket_f(around[i]));
		}
	double odd[] = { -1.0, 0.0, 0.5, 1.0, 1.5, 15.999, 16.0, 17.3, 1e6 + 0.7, 1.8e19, 3e19, INFINITY, NAN };
	for (unsigned i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		CHECK_MSG(bucket_matches(odd[i]), "ns %.17g: %u", odd[i], dvmq_hist_bucket_f(odd[i]));
	CHECK(dvmq_hist_bucket_f(INFINITY) < DVMQ_HIST_BUCKETS);
	/* and a sweep of ordinary latencies */
	for (double ns = 1.0; ns < 1e9; ns *= 1.0007)
		CHECK_MSG(bucket_matches(ns), "ns %.17g", ns);
}
