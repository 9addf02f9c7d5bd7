/* Kernel mode's per-queue drops (src/daemon/kernel_drops.c): a processor's ring drops split over
 * the queues whose frames were waiting for it, in proportion to each one's unaccounted frames,
 * never more than those, summing to the processor's count exactly (review finding D: queue show
 * said DROPS 0 and BACKLOG growing with every drop, forever). */
#include <string.h>

#include "../harness.h"
#include "../../src/daemon/kernel_drops.h"

TEST(kernel_drops_split_by_unaccounted_frames)
{
	uint64_t gap[4] = { 30, 10, 0, 60 }, out[4] = { 0 };
	CHECK(kernel_drops_attribute(10, 4, gap, 0, out) == 0);
	CHECK_MSG(out[0] == 3 && out[1] == 1 && out[2] == 0 && out[3] == 6, "10 drops over gaps 30/10/0/60: %llu %llu %llu %llu",
		  (unsigned long long)out[0], (unsigned long long)out[1], (unsigned long long)out[2],
		  (unsigned long long)out[3]);
	CHECK(gap[0] == 27 && gap[1] == 9 && gap[2] == 0 && gap[3] == 54);
	/* a queue that was not waiting for this processor (gap 0) gets none, even by rounding */
	uint64_t g2[3] = { 1, 0, 1 }, o2[3] = { 0 };
	CHECK(kernel_drops_attribute(1, 3, g2, 1, o2) == 0);
	CHECK(o2[0] + o2[2] == 1 && o2[1] == 0);
	/* all of the gaps */
	uint64_t g3[2] = { 5, 7 }, o3[2] = { 0 };
	CHECK(kernel_drops_attribute(12, 2, g3, 0, o3) == 0);
	CHECK(o3[0] == 5 && o3[1] == 7 && g3[0] == 0 && g3[1] == 0);
}

/* Drops beyond every gap (counts read at slightly different instants) still land in a queue: the
 * processor's own (fallback); what went beyond is returned. */
TEST(kernel_drops_beyond_the_gaps_go_to_the_processor_queue)
{
	uint64_t gap[3] = { 2, 0, 3 }, out[3] = { 0 };
	CHECK(kernel_drops_attribute(9, 3, gap, 1, out) == 4);
	CHECK_MSG(out[0] == 2 && out[1] == 4 && out[2] == 3, "9 drops, gaps 2/0/3, fallback 1: %llu %llu %llu",
		  (unsigned long long)out[0], (unsigned long long)out[1], (unsigned long long)out[2]);
	uint64_t none[2] = { 0, 0 }, o2[2] = { 0 };
	CHECK(kernel_drops_attribute(5, 2, none, 0, o2) == 5 && o2[0] == 5 && o2[1] == 0);
}

/* Property: for any gaps and drops, every drop lands in exactly one queue, no queue gets more than
 * its gap (beyond-the-gaps drops aside, on the fallback), and each share is at most one frame off
 * its exact proportion. */
TEST(kernel_drops_property_exact_sum_and_proportion)
{
	unsigned st = 12345u;
	for (int it = 0; it < 20000; it++) {
		uint32_t n = 1 + (st = st * 1103515245u + 12345u) % 8;
		uint64_t gap[8], g0[8], out[8] = { 0 }, total = 0;
		for (uint32_t q = 0; q < n; q++) {
			st = st * 1103515245u + 12345u;
			gap[q] = g0[q] = (st >> 8) % 4 == 0 ? 0 : (st >> 12) % (it % 2 ? 5000 : 7);
			total += gap[q];
		}
		st = st * 1103515245u + 12345u;
		uint64_t drops = (st >> 8) % (total + 3);
		uint32_t fb = (st >> 20) % n;
		uint64_t over = kernel_drops_attribute(drops, n, gap, fb, out);
		uint64_t sum = 0;
		for (uint32_t q = 0; q < n; q++) {
			sum += out[q];
			uint64_t mine = out[q] - (q == fb ? over : 0);
			CHECK_MSG(mine <= g0[q] && gap[q] == g0[q] - mine, "queue %u got %llu of gap %llu", q,
				  (unsigned long long)mine, (unsigned long long)g0[q]);
			if (total > 0 && drops <= total) {
				double exact = (double)drops * (double)g0[q] / (double)total;
				CHECK_MSG((double)mine >= exact - 1.0 - 1e-6 && (double)mine <= exact + 1.0 + 1e-6,
					  "queue %u: %llu of %llu drops, exact share %.2f", q, (unsigned long long)mine,
					  (unsigned long long)drops, exact);
			}
		}
		CHECK_MSG(sum == drops, "%llu drops, %llu given", (unsigned long long)drops, (unsigned long long)sum);
		CHECK(over == (drops > total ? drops - total : 0));
	}
}
