/* The oracle's lower bound on the processors a host needs (include/dvmq/oracle.h).
 *
 * Invariant: `cap` holds the remaining capacities of the processor set in descending order and
 * prefix[k] is the sum of the k largest (prefix[0] = 0), so the volume bound is a binary search.
 *
 * Why each bound holds (C = the largest remaining capacity; a queue "fits" when it is <= C):
 * - over: a queue > C is over capacity wherever it runs, so it runs alone; each takes a processor.
 * - volume: the other processors used hold the fitting load within their capacities, and no k of
 *   them offer more than prefix[k].
 * - half: two queues > C/2 never share a processor (together > C >= any capacity).
 * - third: a processor holds at most two queues > C/3, and at most one of them next to a queue
 *   > C/2; so the queues in (C/3, C/2] beyond one per half-queue need a processor per pair.
 * The result is the over count plus the larger of the volume and the half/third bounds. */
#include <errno.h>
#include <stdlib.h>

#include "dvmq/engine.h"
#include "dvmq/oracle.h"

/* Loads within this of a threshold count below it: rounding must only ever weaken the bound. */
#define ORACLE_EPS 1e-9

struct oracle_cap {
	double cap;
	uint32_t proc; /* index into the caller's array, to keep the order across calls */
};

struct dvmq_oracle {
	uint32_t n_max, n;
	struct oracle_cap *cap; /* descending */
	double *prefix;         /* n + 1 entries */
};

int dvmq_oracle_create(uint32_t n_max, struct dvmq_oracle **out)
{
	if (!out || n_max == 0 || n_max > DVMQ_MAX_PROCESSORS)
		return -EINVAL;
	struct dvmq_oracle *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->n_max = n_max;
	o->cap = calloc(n_max, sizeof(*o->cap));
	if (!o->cap)
		goto err_free;
	o->prefix = calloc((size_t)n_max + 1, sizeof(*o->prefix));
	if (!o->prefix)
		goto err_free;
	*out = o;
	return 0;
err_free:
	dvmq_oracle_destroy(o);
	return -ENOMEM;
}

void dvmq_oracle_destroy(struct dvmq_oracle *o)
{
	if (!o)
		return;
	free(o->cap);
	free(o->prefix);
	free(o);
}

static int cap_cmp_desc(const void *a, const void *b)
{
	const struct oracle_cap *x = a, *y = b;
	if (x->cap != y->cap)
		return x->cap < y->cap ? 1 : -1;
	return x->proc < y->proc ? -1 : x->proc > y->proc;
}

int dvmq_oracle_set_capacity(struct dvmq_oracle *o, const double *remaining, uint32_t n)
{
	if (!o || n > o->n_max || (n > 0 && !remaining))
		return -EINVAL;
	if (n != o->n) { /* a new set: start from the identity order */
		o->n = n;
		for (uint32_t i = 0; i < n; i++)
			o->cap[i].proc = i;
	}
	for (uint32_t i = 0; i < n; i++) {
		double c = remaining[o->cap[i].proc];
		o->cap[i].cap = c > 0.0 ? c : 0.0;
	}
	/* insertion sort from last call's order: capacities usually change little between calls, so
	 * this is O(n); a wholesale reshuffle gives up after 8n shifts and sorts from scratch */
	uint64_t shifts = 0, budget = 8ull * n;
	for (uint32_t i = 1; i < n && shifts <= budget; i++) {
		struct oracle_cap x = o->cap[i];
		uint32_t j = i;
		while (j > 0 && cap_cmp_desc(&o->cap[j - 1], &x) > 0) {
			o->cap[j] = o->cap[j - 1];
			j--;
			shifts++;
		}
		o->cap[j] = x;
	}
	if (shifts > budget)
		qsort(o->cap, n, sizeof(*o->cap), cap_cmp_desc);
	o->prefix[0] = 0.0;
	for (uint32_t i = 0; i < n; i++)
		o->prefix[i + 1] = o->prefix[i] + o->cap[i].cap;
	return 0;
}

void dvmq_oracle_tally_begin(const struct dvmq_oracle *o, struct dvmq_oracle_tally *t)
{
	double c = o->n > 0 ? o->cap[0].cap : 0.0;
	*t = (struct dvmq_oracle_tally){
		.over = c + ORACLE_EPS,
		.half = c / 2.0 + ORACLE_EPS,
		.third = c / 3.0 + ORACLE_EPS,
	};
}

uint32_t dvmq_oracle_processors(const struct dvmq_oracle *o, const struct dvmq_oracle_tally *t)
{
	const uint32_t n = o->n;
	if (n <= 1)
		return 1;
	if (t->n_over >= n)
		return n;
	const uint32_t rest = n - t->n_over;
	const double want = t->volume - ORACLE_EPS * (t->volume > 1.0 ? t->volume : 1.0);
	if (want > o->prefix[rest])
		return n; /* does not fit even on every processor: all of them are needed */
	/* smallest k with prefix[k] >= want; prefix is nondecreasing */
	uint32_t lo = 0, hi = rest;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (o->prefix[mid] >= want)
			hi = mid;
		else
			lo = mid + 1;
	}
	uint32_t k_volume = lo;
	uint32_t pairs = t->n_third > t->n_half ? (t->n_third - t->n_half + 1) / 2 : 0;
	uint32_t k_count = t->n_half + pairs;
	uint64_t need = (uint64_t)t->n_over + (k_volume > k_count ? k_volume : k_count);
	if (need < 1)
		need = 1;
	return need > n ? n : (uint32_t)need;
}

uint32_t dvmq_oracle_processors_of(struct dvmq_oracle *o, const double *remaining, uint32_t n_procs,
				   const double *queue_loads, uint32_t n_queues)
{
	if (dvmq_oracle_set_capacity(o, remaining, n_procs))
		return 0;
	struct dvmq_oracle_tally t;
	dvmq_oracle_tally_begin(o, &t);
	for (uint32_t q = 0; q < n_queues; q++)
		dvmq_oracle_tally_add(&t, queue_loads[q]);
	return dvmq_oracle_processors(o, &t);
}

void dvmq_oracle_tally_add_divisible(struct dvmq_oracle_tally *t, double load, const double *w_desc, uint32_t n)
{
	if (!(load > 0.0))
		return;
	double rest = load;
	/* buckets in descending order: only those over a third are counted, the rest is volume */
	for (uint32_t i = 0; i < n && load * w_desc[i] > t->third; i++) {
		dvmq_oracle_tally_add(t, load * w_desc[i]);
		rest -= load * w_desc[i];
	}
	if (rest > 0.0)
		t->volume += rest;
}

double dvmq_oracle_group_excess(double load, const double *w_desc, uint32_t n, uint32_t max_queues)
{
	if (max_queues <= 1 || n == 0)
		return load > 1.0 ? load - 1.0 : 0.0;
	double over = 0.0;
	for (uint32_t i = 0; i < n && load * w_desc[i] > 1.0; i++)
		over += load * w_desc[i] - 1.0;
	double beyond = load - (double)max_queues;
	return over > beyond ? over : (beyond > 0.0 ? beyond : 0.0);
}
