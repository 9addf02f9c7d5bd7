/* `adaptive`, the default: dynamic's rules with the ping-pong and slowness taken out.
 * - Loads are demand, not busy time: a queue's arrivals (processed + dropped + backlog growth)
 *   times its cost per packet, so a queue on a saturated processor is not underestimated and a
 *   move does not make the destination the next bottleneck.
 * - Spread reacts in the round the overload is seen and moves only what it must: the smallest
 *   queue that alone brings the source under `high`, else the biggest that fits, repeated.
 * - A move must lower max(source, destination) by `min_gain`; no queue moves twice within
 *   `dwell`, and no move ever undoes one made less than `return_guard` ago (no ping-pong, by
 *   construction).
 * - Coalescing is asymmetric: destinations fill only up to `pack` (< high), one processor per
 *   round, and only after it looked coalescable for `coalesce_rounds` rounds. */
#include <math.h>

#include "engine_internal.h"

static bool undoes_recent(const struct dvmq_engine *e, const struct eng_queue *q, uint32_t from,
			  uint32_t to)
{
	uint64_t guard = e->params.return_guard_ns;
	uint64_t since = e->now_ns > guard ? e->now_ns - guard : 0;
	/* history full and all of it inside the guard: we cannot prove the move safe */
	if (q->n_recent == MOVE_HISTORY && q->recent[0].at_ns > since)
		return true;
	for (uint32_t i = 0; i < q->n_recent; i++)
		if (q->recent[i].at_ns > since && q->recent[i].from == to && q->recent[i].to == from)
			return true;
	return false;
}

static bool dwelling(const struct dvmq_engine *e, const struct eng_queue *q)
{
	return q->moved && e->now_ns - q->last_move_ns < e->params.dwell_ns;
}

/* Best destination for a spread move of demand `dl` off `from`, or DVMQ_NO_PROCESSOR.
 * Awake processors first (filled up to `pack`, then up to `high`), nearest NUMA node first and
 * least loaded within it; a parked processor only when no awake one fits. by_load is sorted by
 * predicted load, so the scan stops at the first processor too full to take the queue. */
static uint32_t spread_dest(struct dvmq_engine *e, const struct eng_queue *q, uint32_t from, double dl)
{
	const double high = e->params.high, src = e->procs[from].pred;
	const double caps[2] = { e->params.pack, high };
	for (int pass = 0; pass < 2; pass++) {
		uint32_t other_node = DVMQ_NO_PROCESSOR;
		for (uint32_t i = 0; i < e->n_set; i++) {
			uint32_t d = e->by_load[i];
			const struct eng_proc *pd = &e->procs[d];
			/* too full, or the move would only shift the bottleneck: so are all after it */
			if (pd->pred + dl > caps[pass] || pd->pred + dl + e->params.min_gain > src)
				break;
			if (d == from || !pd->awake || undoes_recent(e, q, from, d))
				continue;
			if (pd->numa == e->procs[from].numa)
				return d;
			if (other_node == DVMQ_NO_PROCESSOR)
				other_node = d;
		}
		if (other_node != DVMQ_NO_PROCESSOR)
			return other_node;
	}
	uint32_t best = DVMQ_NO_PROCESSOR;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t d = e->set_list[i];
		const struct eng_proc *pd = &e->procs[d];
		if (d == from || pd->awake || pd->pred + dl > high || pd->pred + dl + e->params.min_gain > src ||
		    undoes_recent(e, q, from, d))
			continue;
		if (best == DVMQ_NO_PROCESSOR || eng_distance(e, from, d) < eng_distance(e, from, best))
			best = d;
	}
	return best;
}

/* Restores by_load's order after processor p's predicted load changed. */
static void resort_one(struct dvmq_engine *e, uint32_t p)
{
	uint32_t *bl = e->by_load, *pos = e->by_load_pos;
	uint32_t i = pos[p];
	while (i > 0 && e->procs[bl[i - 1]].pred > e->procs[p].pred) {
		bl[i] = bl[i - 1];
		pos[bl[i]] = i;
		i--;
	}
	while (i + 1 < e->n_set && e->procs[bl[i + 1]].pred < e->procs[p].pred) {
		bl[i] = bl[i + 1];
		pos[bl[i]] = i;
		i++;
	}
	bl[i] = p;
	pos[p] = i;
}

static bool spread(struct dvmq_engine *e)
{
	const double high = e->params.high;
	bool moved = false;
	uint32_t n = 0;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		if (e->procs[p].pred > high) {
			e->order[n++] = p;
			e->tmp[p] = -e->procs[p].pred;
		}
	}
	if (n == 0)
		return false;
	eng_sort_by_key(e->order, n, e->tmp);
	for (uint32_t i = 0; i < e->n_set; i++) {
		e->by_load[i] = e->set_list[i];
		e->tmp[e->set_list[i]] = e->procs[e->set_list[i]].pred;
	}
	eng_sort_by_key(e->by_load, e->n_set, e->tmp);
	for (uint32_t i = 0; i < e->n_set; i++)
		e->by_load_pos[e->by_load[i]] = i;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p = e->order[i];
		uint32_t *qs = &e->bucket[e->bucket_start[p]];
		uint32_t nq = e->bucket_start[p + 1] - e->bucket_start[p];
		for (uint32_t k = 0; k < nq; k++)
			e->qkey[qs[k]] = e->queues[qs[k]].demand;
		eng_sort_by_key(qs, nq, e->qkey); /* ascending demand */
		for (uint32_t round = 0; round < nq && e->procs[p].pred > high; round++) {
			double excess = e->procs[p].pred - high;
			uint32_t pick = UINT32_MAX, dest = DVMQ_NO_PROCESSOR;
			/* smallest queue that alone ends the overload */
			for (uint32_t k = 0; k < nq && pick == UINT32_MAX; k++) {
				struct eng_queue *q = &e->queues[qs[k]];
				/* 1 % slack: demand is estimated from integer counters */
				if (q->proc != p || q->demand + 0.01 < excess || q->demand <= 0.0 ||
				    dwelling(e, q))
					continue;
				uint32_t d = spread_dest(e, q, p, q->demand);
				if (d != DVMQ_NO_PROCESSOR) {
					pick = qs[k];
					dest = d;
				}
			}
			/* else the biggest that fits somewhere, and go round again */
			for (uint32_t k = nq; k-- > 0 && pick == UINT32_MAX;) {
				struct eng_queue *q = &e->queues[qs[k]];
				if (q->proc != p || q->demand <= 0.0 || dwelling(e, q))
					continue;
				uint32_t d = spread_dest(e, q, p, q->demand);
				if (d != DVMQ_NO_PROCESSOR) {
					pick = qs[k];
					dest = d;
				}
			}
			if (pick == UINT32_MAX)
				break;
			eng_move(e, pick, dest, DVMQ_REASON_SPREAD, e->queues[pick].demand);
			resort_one(e, dest);
			resort_one(e, p);
			moved = true;
		}
	}
	return moved;
}

/* Smoothed, conservative load of a processor for coalescing: never below the latest sample. */
static double calm_load(const struct dvmq_engine *e, uint32_t p)
{
	return e->procs[p].calm;
}

static void coalesce(struct dvmq_engine *e)
{
	const double pack = e->params.pack;
	uint32_t victim = DVMQ_NO_PROCESSOR, n_awake = 0;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		if (!e->procs[p].awake)
			continue;
		n_awake++;
		/* least loaded; ties park the processor farthest from the base */
		if (victim == DVMQ_NO_PROCESSOR || calm_load(e, p) <= calm_load(e, victim))
			victim = p;
	}
	for (uint32_t i = 0; i < e->n_set; i++)
		if (e->set_list[i] != victim)
			e->procs[e->set_list[i]].idle_rounds = 0;
	if (victim == DVMQ_NO_PROCESSOR || n_awake < 2)
		return;
	uint32_t *qs = &e->bucket[e->bucket_start[victim]];
	uint32_t nq = e->bucket_start[victim + 1] - e->bucket_start[victim];
	for (uint32_t k = 0; k < nq; k++)
		e->qkey[qs[k]] = -fmax(e->queues[qs[k]].demand, e->queues[qs[k]].demand_peak);
	eng_sort_by_key(qs, nq, e->qkey); /* biggest first: best-fit decreasing */
	/* tentative placement in tmp[] (added load per processor); commit only if all fit */
	for (uint32_t i = 0; i < e->n_set; i++)
		e->tmp[e->set_list[i]] = calm_load(e, e->set_list[i]);
	uint32_t *dest = e->scratch + e->n_procs; /* n_queues entries after the bucket fill area */
	bool ok = true;
	for (uint32_t k = 0; k < nq && ok; k++) {
		struct eng_queue *q = &e->queues[qs[k]];
		double dl = -e->qkey[qs[k]];
		dest[k] = DVMQ_NO_PROCESSOR;
		if (dwelling(e, q)) {
			ok = false;
			break;
		}
		uint32_t h = q->home;
		if (h != victim && e->procs[h].in_set && e->procs[h].awake && e->tmp[h] + dl <= pack &&
		    !undoes_recent(e, q, victim, h)) {
			dest[k] = h;
		} else {
			uint32_t best_node = UINT32_MAX;
			for (uint32_t i = 0; i < e->n_set; i++) {
				uint32_t d = e->set_list[i];
				if (d == victim || !e->procs[d].awake || e->tmp[d] + dl > pack ||
				    undoes_recent(e, q, victim, d))
					continue;
				uint32_t node = e->procs[d].numa == e->procs[victim].numa ? 0u : 1u;
				if (dest[k] == DVMQ_NO_PROCESSOR || node < best_node ||
				    (node == best_node && e->tmp[d] > e->tmp[dest[k]])) {
					dest[k] = d;
					best_node = node;
				}
			}
		}
		if (dest[k] == DVMQ_NO_PROCESSOR)
			ok = false;
		else
			e->tmp[dest[k]] += dl;
	}
	struct eng_proc *pv = &e->procs[victim];
	pv->idle_rounds = ok ? pv->idle_rounds + 1 : 0;
	if (!ok || pv->idle_rounds < e->params.coalesce_rounds)
		return;
	pv->idle_rounds = 0;
	for (uint32_t k = 0; k < nq; k++)
		eng_move(e, qs[k], dest[k], DVMQ_REASON_COALESCE, -e->qkey[qs[k]]);
}

void eng_policy_adaptive(struct dvmq_engine *e)
{
	eng_bucket_build(e);
	/* predicted load = non-network load + the demand of the queues it serves */
	for (uint32_t p = 0; p < e->n_procs; p++) {
		e->procs[p].pred = e->procs[p].other;
		e->procs[p].calm = e->procs[p].other_ewma > e->procs[p].other ? e->procs[p].other_ewma
										   : e->procs[p].other;
	}
	for (uint32_t q = 0; q < e->n_queues; q++) {
		const struct eng_queue *qq = &e->queues[q];
		if (!qq->active)
			continue;
		e->procs[qq->proc].pred += qq->demand;
		e->procs[qq->proc].calm += fmax(qq->demand, qq->demand_peak);
	}
	if (!spread(e))
		coalesce(e);
}
