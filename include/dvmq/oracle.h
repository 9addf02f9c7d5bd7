/* The oracle: a true lower bound, per tick or interval, on the processors a host needs to serve
 * its network load, whatever the policy (docs/simulator.md, "The oracle"). The simulator and
 * `dvmq run` both use it, so `awake_over_oracle` means the same in both.
 *
 * The problem it bounds: place every queue (indivisible; the VMs on the default queue share it)
 * on processors of the processor set so that no processor's network load exceeds its remaining
 * capacity (`high` minus its non-network load); a queue larger than every remaining capacity gets
 * a processor to itself. The fewest processors that allow this is a bin-packing optimum; the
 * oracle is the best of three cheap bounds on it (volume, queues over half, queues over a third),
 * never more than the optimum.
 *
 * Cost: dvmq_oracle_set_capacity sorts (insertion sort from the previous order, so a small change
 * costs O(n)); call it only when non-network loads change. A tally is O(1) per queue and fuses
 * into the caller's own loop over queues; dvmq_oracle_processors is O(log n).
 * Thread safety: none; an oracle has one owner. Tallies are plain values. */
#ifndef DVMQ_ORACLE_H
#define DVMQ_ORACLE_H

#include <stdint.h>

struct dvmq_oracle;

/* Loads of one moment, summed queue by queue with dvmq_oracle_tally_add. The thresholds are
 * copied from the oracle by dvmq_oracle_tally_begin so that adding needs nothing else. */
struct dvmq_oracle_tally {
	double over, half, third; /* the largest remaining capacity, its half and its third */
	double volume;            /* load of the queues that fit on some processor */
	uint32_t n_over;          /* queues larger than every remaining capacity */
	uint32_t n_half;          /* queues in (largest/2, largest] */
	uint32_t n_third;         /* queues in (largest/3, largest/2] */
};

/* Room for up to n_max processors (1..DVMQ_MAX_PROCESSORS). Returns 0, -EINVAL or -ENOMEM. */
int dvmq_oracle_create(uint32_t n_max, struct dvmq_oracle **out);
void dvmq_oracle_destroy(struct dvmq_oracle *o);

/* The remaining capacities (fractions of one processor; negative counts as 0) of the n processors
 * of the processor set, in any order; n <= n_max. Returns 0 or -EINVAL (n out of range). */
int dvmq_oracle_set_capacity(struct dvmq_oracle *o, const double *remaining, uint32_t n);

/* Starts a tally against the capacities last set. */
void dvmq_oracle_tally_begin(const struct dvmq_oracle *o, struct dvmq_oracle_tally *t);

/* Adds one queue's network load (a fraction of one processor; 0 adds nothing). */
static inline void dvmq_oracle_tally_add(struct dvmq_oracle_tally *t, double load)
{
	if (!(load > 0.0))
		return;
	if (load > t->third) {
		if (load > t->over) {
			t->n_over++;
			return; /* on a processor of its own; what it brings beyond is not packed */
		}
		if (load > t->half)
			t->n_half++;
		else
			t->n_third++;
	}
	t->volume += load;
}

/* Adds a queue group's load (VMMQ): a VM whose load splits over its buckets, each bucket
 * indivisible. w_desc[0..n) are the buckets' shares of the load, in descending order (summing to
 * 1): each bucket is an item of its own (the heavy ones counted, the light ones add volume). */
void dvmq_oracle_tally_add_divisible(struct dvmq_oracle_tally *t, double load, const double *w_desc, uint32_t n);

/* The load (fraction of one processor) a VM of `load` split over buckets of shares w_desc (as
 * above) cannot have served on max_queues processors of capacity 1 whatever the placement: the
 * larger of what its buckets over one processor bring beyond it and what exceeds max_queues
 * processors. 0 when it fits. (max_queues 1: load beyond one processor.) */
double dvmq_oracle_group_excess(double load, const double *w_desc, uint32_t n, uint32_t max_queues);

/* The lower bound: at least 1 (the default queue always runs somewhere), at most the size of the
 * processor set (all of it when the load cannot fit). */
uint32_t dvmq_oracle_processors(const struct dvmq_oracle *o, const struct dvmq_oracle_tally *t);

/* Convenience for callers without a loop of their own: capacities and loads at once. Returns the
 * bound, or 0 with n_procs out of range. */
uint32_t dvmq_oracle_processors_of(struct dvmq_oracle *o, const double *remaining, uint32_t n_procs,
				   const double *queue_loads, uint32_t n_queues);

#endif
