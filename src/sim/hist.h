/* Weighted latency histogram: log-linear buckets (16 per power of two) over ns, counts are
 * fractional packets (the host model is fluid). Quantiles are accurate to ~4 %. */
#ifndef DVMQ_SIM_HIST_H
#define DVMQ_SIM_HIST_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define HIST_SUB 16
#define HIST_BUCKETS (64 * HIST_SUB)

struct hist {
	double total;
	double count[HIST_BUCKETS];
};

static inline unsigned hist_bucket(double ns)
{
	if (!(ns >= 1.0))
		return 0;
	int e;
	double m = frexp(ns, &e); /* ns = m * 2^e, m in [0.5, 1) */
	unsigned b = (unsigned)(e - 1) * HIST_SUB + (unsigned)((m - 0.5) * 2.0 * HIST_SUB);
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

static inline double hist_value(unsigned b)
{
	unsigned e = b / HIST_SUB, s = b % HIST_SUB;
	return ldexp(1.0 + (s + 0.5) / HIST_SUB, (int)e);
}

static inline void hist_add_bucket(struct hist *h, unsigned b, double weight)
{
	h->count[b] += weight;
	h->total += weight;
}

static inline void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* q in (0,1); 0 when empty. */
static inline double hist_quantile(const struct hist *h, double q)
{
	if (h->total <= 0.0)
		return 0.0;
	double want = q * h->total, seen = 0.0;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += h->count[b];
		if (seen >= want && h->count[b] > 0.0)
			return hist_value(b);
	}
	return hist_value(HIST_BUCKETS - 1);
}

#endif
