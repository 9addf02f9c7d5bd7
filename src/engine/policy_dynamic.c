/* `dynamic`: Windows Server 2012 Dynamic VMQ as published, ping-pong included on purpose.
 * Spread: a processor over `high` moves its heaviest queue that fits to the nearest processor whose
 * measured load plus the queue's stays under `high` (one move per processor per round).
 * Coalesce: a processor under `low` hands its queues to other awake processors, home first.
 * It trusts last-interval busy time, which understates a queue on a saturated processor: the move
 * then overloads the destination and the queue comes back (the seed's ping-pong). */
#include "engine_internal.h"

enum { GAVE = 1, RECEIVED = 2 };

/* Nearest processor (NUMA first, then id distance) other than `from` that fits `ql` under `cap`. */
static uint32_t nearest_fit(struct dvmq_engine *e, uint32_t from, double ql, double cap,
			    bool awake_only, const uint8_t *flags)
{
	uint32_t best = DVMQ_NO_PROCESSOR;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t d = e->set_list[i];
		if (d == from || e->procs[d].pred + ql >= cap)
			continue;
		if (awake_only && (!e->procs[d].awake || (flags && (flags[d] & GAVE))))
			continue;
		if (best == DVMQ_NO_PROCESSOR || eng_distance(e, from, d) < eng_distance(e, from, best))
			best = d;
	}
	return best;
}

static void spread(struct dvmq_engine *e)
{
	const double high = e->params.high;
	uint32_t n = 0;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		if (e->procs[p].load > high) {
			e->order[n++] = p;
			e->tmp[p] = -e->procs[p].load; /* sort descending */
		}
	}
	eng_sort_by_key(e->order, n, e->tmp);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p = e->order[i];
		uint32_t *qs = &e->bucket[e->bucket_start[p]];
		uint32_t nq = e->bucket_start[p + 1] - e->bucket_start[p];
		for (uint32_t k = 0; k < nq; k++)
			e->qkey[qs[k]] = -e->queues[qs[k]].load;
		eng_sort_by_key(qs, nq, e->qkey);
		for (uint32_t k = 0; k < nq; k++) {
			struct eng_queue *q = &e->queues[qs[k]];
			if (q->proc != p || q->load <= 0.0 || q->pinned)
				continue;
			uint32_t d = nearest_fit(e, p, q->load, high, false, NULL);
			if (d != DVMQ_NO_PROCESSOR) {
				eng_move(e, qs[k], d, DVMQ_REASON_SPREAD, q->load);
				break;
			}
		}
	}
}

static void coalesce(struct dvmq_engine *e)
{
	const double high = e->params.high, low = e->params.low;
	uint8_t *flags = e->flag; /* GAVE / RECEIVED this round */
	uint32_t n = 0;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		flags[p] = 0;
		if (e->procs[p].awake && e->procs[p].load < low) {
			e->order[n++] = p;
			e->tmp[p] = e->procs[p].load;
		}
	}
	eng_sort_by_key(e->order, n, e->tmp);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p = e->order[i];
		if (flags[p])
			continue;
		flags[p] = GAVE;
		uint32_t *qs = &e->bucket[e->bucket_start[p]];
		uint32_t nq = e->bucket_start[p + 1] - e->bucket_start[p];
		for (uint32_t k = 0; k < nq; k++) {
			struct eng_queue *q = &e->queues[qs[k]];
			if (q->proc != p || q->pinned)
				continue;
			uint32_t h = q->home, d = DVMQ_NO_PROCESSOR;
			if (h != p && e->procs[h].in_set && e->procs[h].awake && !(flags[h] & GAVE) &&
			    e->procs[h].pred + q->load < high)
				d = h;
			else
				d = nearest_fit(e, p, q->load, high, true, flags);
			if (d == DVMQ_NO_PROCESSOR)
				continue;
			eng_move(e, qs[k], d, DVMQ_REASON_COALESCE, q->load);
			flags[d] |= RECEIVED; /* a receiver must not give back in the same round */
		}
	}
}

void eng_policy_dynamic(struct dvmq_engine *e)
{
	eng_bucket_build(e);
	spread(e);
	coalesce(e);
}
