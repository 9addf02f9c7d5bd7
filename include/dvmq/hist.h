/* The latency histogram of the simulator and the data plane, one type for both: log-linear
 * buckets over nanoseconds, exact below 16 ns, then 16 per power of two (a quantile is within 3 %
 * of the true value). Counts are doubles: the simulator adds fractional packets (its host model
 * is fluid), the data plane whole ones. Header-only: the data plane's workers bucket each frame
 * on the fast path, so dvmq_hist_bucket is a few integer instructions.
 * Thread safety: none; a histogram has one writer (the data plane keeps per-worker counters of
 * its own and folds them in with dvmq_hist_add_bucket). */
#ifndef DVMQ_HIST_H
#define DVMQ_HIST_H

#include <stdint.h>
#include <string.h>

#define DVMQ_HIST_SUB 16u
#define DVMQ_HIST_BUCKETS 1024u /* covers every uint64_t: the top bucket index is 975 */

struct dvmq_hist {
	double total;
	double count[DVMQ_HIST_BUCKETS];
};

static inline unsigned dvmq_hist_bucket(uint64_t ns)
{
	if (ns < DVMQ_HIST_SUB)
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns); /* ns in [2^e, 2^(e+1)), e >= 4 */
	return (e - 3u) * DVMQ_HIST_SUB + (unsigned)((ns >> (e - 4u)) & (DVMQ_HIST_SUB - 1u));
}

/* Bucket for a latency in (fractional) ns; negative or NaN counts as 0. The same bucket as
 * dvmq_hist_bucket(floor(ns)), read from the double's exponent and top mantissa bits: from 16 ns
 * up the bucket edges are whole multiples of 2^(e-4), so flooring never crosses one. (The
 * simulator buckets every VM every tick.) */
static inline unsigned dvmq_hist_bucket_f(double ns)
{
	if (!(ns >= 1.0))
		return 0;
	if (ns < (double)DVMQ_HIST_SUB)
		return (unsigned)ns;
	if (ns >= 1.8e19)
		return dvmq_hist_bucket(UINT64_MAX);
	uint64_t bits;
	memcpy(&bits, &ns, sizeof(bits));
	unsigned e = (unsigned)(bits >> 52) - 1023u; /* ns in [2^e, 2^(e+1)), 4 <= e < 64 */
	return (e - 3u) * DVMQ_HIST_SUB + (unsigned)((bits >> 48) & (DVMQ_HIST_SUB - 1u));
}

/* The middle of bucket b, in ns (b itself below 16). */
static inline double dvmq_hist_value(unsigned b)
{
	if (b < DVMQ_HIST_SUB)
		return (double)b;
	unsigned e = b / DVMQ_HIST_SUB + 3u, s = b % DVMQ_HIST_SUB;
	double width = (double)(1ull << (e - 4u));
	return (double)(DVMQ_HIST_SUB + s) * width + width * 0.5;
}

static inline void dvmq_hist_add_bucket(struct dvmq_hist *h, unsigned b, double weight)
{
	h->count[b] += weight;
	h->total += weight;
}

static inline void dvmq_hist_reset(struct dvmq_hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* The q-quantile (0 < q < 1) in ns; 0 when the histogram is empty. */
static inline double dvmq_hist_quantile(const struct dvmq_hist *h, double q)
{
	if (h->total <= 0.0)
		return 0.0;
	double want = q * h->total, seen = 0.0;
	for (unsigned b = 0; b < DVMQ_HIST_BUCKETS; b++) {
		seen += h->count[b];
		if (seen >= want && h->count[b] > 0.0)
			return dvmq_hist_value(b);
	}
	return dvmq_hist_value(DVMQ_HIST_BUCKETS - 1);
}

#endif
