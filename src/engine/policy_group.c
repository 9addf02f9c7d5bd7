/* Dynamic VMMQ: adaptive's rules for VM queue groups (docs/simulator.md, "Queue groups").
 * - Balance (RSS++'s rule, within a group): while a processor is over `high`, the heaviest bucket
 *   of a group's queue there goes to the least loaded other queue of the group where it fits
 *   (that processor ends at most `high`, and below where the source was), as many as needed.
 * - Grow: where a queue of a group alone keeps its processor over `high` (a single-queue
 *   overload) and the group may hold more queues, it gains a free queue of the pool on a processor
 *   without a queue of the group that can take load, and buckets move to it by the same rule.
 * - Shrink: where the buckets of a group's least loaded extra queue, sized by their decaying
 *   peaks, fit on the group's other queues' processors under `pack` for `coalesce-rounds` rounds
 *   in a row (and the group did not grow within return-guard), they fold into those queues and
 *   the queue is freed (its processor parks if it owned nothing else).
 * Every bucket move obeys what queue moves obey: a bucket under `floor` never moves for relief, a
 * bucket that moved within `dwell` moves only when the others leave the processor over `high`
 * (dwell spares needless second moves, it does not hold back relief, as for queues), no move
 * sends a bucket back to the queue it left within `return-guard` (no ping-pong), and the buckets
 * a relief moves off a processor end its overload or shed at least `min-gain` (one bucket is
 * often far under min-gain: the relief as a whole is held to it). A bucket moves at most once a
 * round.
 * Invariant: no processor gives or takes group moves and coalescing moves in the same round
 * (group moves mark processors as spread moves do). */
#include <math.h>

#include "engine_internal.h"

#define GMAX (DVMQ_MAX_GROUP_QUEUES + 1u)

/* Possible destinations of a relief: queues of the group (one may be a queue about to be added). */
struct gdest {
	uint32_t n;
	uint32_t k[GMAX];      /* index in the group */
	uint32_t queue[GMAX];
	uint32_t proc[GMAX];
	double load[GMAX];     /* predicted processor load, updated as the relief is planned */
	double cap[GMAX];      /* the most it may reach (high; a grown queue: its even share) */
};

/* A relief as planned: buckets and their destinations (indices into a gdest). */
struct grelief {
	uint32_t n;
	uint32_t b[DVMQ_INDIRECTION_ENTRIES], d[DVMQ_INDIRECTION_ENTRIES];
	double shed;
	bool held;             /* a bucket that would have fitted was held by dwell or return-guard */
};

static bool bucket_dwelling(const struct dvmq_engine *e, const struct eng_gstate *gs, uint32_t b)
{
	return gs->bround[b] == e->round ||
	       (gs->bmoved_ns[b] && e->now_ns - gs->bmoved_ns[b] < e->params.dwell_ns);
}

static bool bucket_undoes(const struct dvmq_engine *e, const struct eng_gstate *gs, uint32_t b, uint32_t to_q)
{
	return gs->bmoved_ns[b] && e->now_ns - gs->bmoved_ns[b] < e->params.return_guard_ns && gs->bfrom[b] == to_q;
}

static bool proc_takes(const struct dvmq_engine *e, uint32_t d)
{
	/* a spread source sheds load this round, it takes none */
	return e->procs[d].in_set && !(e->procs[d].touched & ENG_SPREAD_SRC);
}

/* The group's other queues as destinations for buckets leaving index hk on processor p. */
static void dest_siblings(const struct dvmq_engine *e, const struct dvmq_queue_group *g, uint32_t hk, uint32_t p,
			  struct gdest *dd)
{
	dd->n = 0;
	for (uint32_t k = 0; k < g->n_queues; k++) {
		uint32_t q = g->queues[k], d = e->queues[q].proc;
		if (k == hk || d == p || !proc_takes(e, d))
			continue;
		dd->k[dd->n] = k;
		dd->queue[dd->n] = q;
		dd->proc[dd->n] = d;
		dd->cap[dd->n] = e->params.high;
		dd->load[dd->n++] = e->procs[d].pred;
	}
}

/* Sorts the bucket indices idx[0..n) by demand, heaviest first (insertion sort: n <= 128, and
 * this runs only for processors over high). */
static void sort_heaviest(uint32_t *idx, uint32_t n, const double *demand)
{
	for (uint32_t i = 1; i < n; i++) {
		uint32_t v = idx[i], j = i;
		while (j > 0 && (demand[idx[j - 1]] < demand[v] || (demand[idx[j - 1]] == demand[v] && idx[j - 1] > v))) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
}

/* Plans RSS++'s rule for the buckets of group index hk on processor p: heaviest first, each to
 * the least loaded destination where it fits (under its cap, and below where the source was),
 * while p is over high or has shed less than `goal`. Returns whether the relief is acceptable:
 * it ends p's overload or sheds at least min-gain. */
static bool plan_relief(const struct dvmq_engine *e, const struct eng_gstate *gs, const struct dvmq_queue_group *g,
			uint32_t hk, uint32_t p, struct gdest *dd, struct grelief *r, double goal)
{
	const double high = e->params.high;
	double src = e->procs[p].pred;
	uint32_t idx[DVMQ_INDIRECTION_ENTRIES], n = 0;
	r->n = 0;
	r->shed = 0.0;
	r->held = false;
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		if (g->indirection[b] == hk && gs->bdemand[b] > 0.0 && gs->bdemand[b] >= e->params.spread_floor)
			idx[n++] = b;
	sort_heaviest(idx, n, gs->bdemand);
	/* buckets within dwell only when the others leave p over high: dwell spares buckets needless
	 * second moves, it does not hold back relief (as for queues); the guard still holds */
	bool taken[DVMQ_INDIRECTION_ENTRIES] = { false };
	for (int pass = 0; pass < 2 && (src > high || r->shed < goal); pass++) {
		for (uint32_t i = 0; i < n && (src > high || r->shed < goal) && dd->n > 0; i++) {
			uint32_t b = idx[i];
			double dl = gs->bdemand[b];
			uint32_t best = UINT32_MAX;
			bool blocked = false;
			if (taken[i] || gs->bround[b] == e->round)
				continue;
			for (uint32_t j = 0; j < dd->n; j++) {
				/* fits: ends at most its cap, and below where the source was (a gain) */
				if (dd->load[j] + dl > dd->cap[j] || dd->load[j] + dl >= src)
					continue;
				if (bucket_undoes(e, gs, b, dd->queue[j])) {
					blocked = true;
					continue;
				}
				if (best == UINT32_MAX || dd->load[j] < dd->load[best])
					best = j;
			}
			if (best != UINT32_MAX && pass == 0 && bucket_dwelling(e, gs, b)) {
				blocked = true;
				best = UINT32_MAX;
			}
			if (best == UINT32_MAX) {
				r->held |= blocked && pass == 1;
				continue;
			}
			taken[i] = true;
			r->b[r->n] = b;
			r->d[r->n++] = best;
			dd->load[best] += dl;
			src -= dl;
			r->shed += dl;
		}
	}
	return r->n > 0 && (src <= high || r->shed >= e->params.min_gain);
}

/* Commits a planned relief. */
static void commit_relief(struct dvmq_engine *e, uint32_t ai, uint32_t p, const struct gdest *dd,
			  const struct grelief *r, enum dvmq_reason why)
{
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t d = dd->proc[r->d[i]];
		eng_bucket_move(e, ai, r->b[i], dd->k[r->d[i]], why);
		e->procs[d].touched |= ENG_SPREAD_DST;
		eng_buckets_put(&e->by_load, d, e->procs[d].pred);
	}
	e->procs[p].touched |= ENG_SPREAD_GAVE;
}

/* Up to n free queue slots a group may take, the ones whose last use is oldest first (a slot
 * freed a moment ago would look like a return to its buckets' old queue). The pool invariant
 * (pool.c) leaves slots free only when no VM waits for its first queue. Returns how many. */
static uint32_t free_slots(const struct dvmq_engine *e, uint32_t *out, uint32_t n)
{
	uint32_t got = 0;
	if (e->n_active >= e->n_queues)
		return 0; /* every slot in use: no scan */
	for (; got < n; got++) {
		uint32_t best = 0;
		for (uint32_t q = 1; q < e->n_queues; q++)
			if (!e->queues[q].active && !eng_recent_has(out, got, q) &&
			    (best == 0 || e->queues[q].recorded_ns < e->queues[best].recorded_ns))
				best = q;
		if (best == 0)
			break;
		out[got] = best;
	}
	return got;
}

/* Where a queue added to the group of queue q (on p) runs: an awake processor with room for
 * `want` (the least loaded), else the nearest parked one, else the awake one with the most room;
 * never one holding a queue of the group or chosen already (taken[0..n_taken)); room at least
 * min-gain. */
static uint32_t grow_dest(const struct dvmq_engine *e, uint32_t q, uint32_t p, double want, const uint32_t *taken,
			  uint32_t n_taken)
{
	const double high = e->params.high;
	uint32_t sib[DVMQ_MAX_GROUP_QUEUES];
	uint32_t n_sib = eng_siblings(e, q, sib);
	uint32_t fit = DVMQ_NO_PROCESSOR, parked = DVMQ_NO_PROCESSOR, roomy = DVMQ_NO_PROCESSOR;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t d = e->set_list[i];
		const struct eng_proc *pd = &e->procs[d];
		double room = high - pd->pred;
		if (d == p || !proc_takes(e, d) || room < e->params.min_gain || eng_recent_has(sib, n_sib, d) ||
		    eng_recent_has(taken, n_taken, d))
			continue;
		if (!pd->awake) {
			if (parked == DVMQ_NO_PROCESSOR || eng_distance(e, p, d) < eng_distance(e, p, parked))
				parked = d;
		} else if (room >= want) {
			if (fit == DVMQ_NO_PROCESSOR || pd->pred < e->procs[fit].pred)
				fit = d;
		} else if (roomy == DVMQ_NO_PROCESSOR || pd->pred < e->procs[roomy].pred) {
			roomy = d;
		}
	}
	return fit != DVMQ_NO_PROCESSOR ? fit : parked != DVMQ_NO_PROCESSOR ? parked : roomy;
}

/* Grows the group of queue index hk (on p, alone over high) and moves buckets to the new queues.
 * How many: as many as the group's demand needs under `pack` (at least one, at most max-queues);
 * the hot queue's buckets spread evenly: it keeps and each new queue takes about the group's
 * demand over its new size. Even shares leave every queue headroom when the measurement lags the
 * load (a step in the middle of an interval shows half of itself). Returns whether it grew;
 * gs->limit says why not. */
static bool grow(struct dvmq_engine *e, uint32_t ai, uint32_t hk, uint32_t p)
{
	struct eng_adapter *a = &e->adapters[ai];
	struct eng_gstate *gs = a->gs;
	struct dvmq_queue_group *g = &a->group;
	if (g->n_queues >= a->desc.max_queues) {
		gs->limit = DVMQ_OVERLOAD_GROUP_FULL;
		return false;
	}
	double total = 0.0;
	for (uint32_t k = 0; k < g->n_queues; k++)
		total += e->queues[g->queues[k]].demand;
	uint32_t want = (uint32_t)ceil(total / e->params.pack - 1e-9);
	want = want > a->desc.max_queues ? a->desc.max_queues : want < g->n_queues + 1 ? g->n_queues + 1 : want;
	uint32_t slot[DVMQ_MAX_GROUP_QUEUES], n_new = free_slots(e, slot, want - g->n_queues);
	if (n_new == 0) {
		gs->limit = DVMQ_OVERLOAD_NO_QUEUE;
		return false;
	}
	double share = total / (double)want, hot = e->queues[g->queues[hk]].demand;
	struct gdest dd = { .n = 0 };
	for (uint32_t i = 0; i < n_new; i++) {
		uint32_t d = grow_dest(e, g->queues[hk], p, share, dd.proc, dd.n);
		if (d == DVMQ_NO_PROCESSOR)
			break;
		dd.k[dd.n] = g->n_queues + dd.n;
		dd.queue[dd.n] = slot[i];
		dd.proc[dd.n] = d;
		dd.load[dd.n] = e->procs[d].pred;
		/* its even share, never past high */
		dd.cap[dd.n] = e->procs[d].pred + share < e->params.high ? e->procs[d].pred + share : e->params.high;
		dd.n++;
	}
	if (dd.n == 0) {
		gs->limit = DVMQ_OVERLOAD_NO_PROCESSOR;
		return false;
	}
	struct grelief r;
	if (!plan_relief(e, gs, g, hk, p, &dd, &r, hot > share ? hot - share : 0.0)) {
		gs->limit = r.held ? DVMQ_OVERLOAD_HELD : DVMQ_OVERLOAD_ONE_BUCKET;
		return false;
	}
	/* only the new queues that took buckets join the group */
	bool used[GMAX] = { false };
	for (uint32_t i = 0; i < r.n; i++)
		used[r.d[i]] = true;
	uint32_t map[GMAX];
	for (uint32_t j = 0; j < dd.n; j++) {
		if (!used[j])
			continue;
		uint32_t n_before = g->n_queues, nb = 0;
		double moved = 0.0;
		for (uint32_t i = 0; i < r.n; i++)
			if (r.d[i] == j) {
				nb++;
				moved += gs->bdemand[r.b[i]];
			}
		eng_queue_activate_on(e, dd.queue[j], ai, dd.proc[j]);
		map[j] = g->n_queues;
		g->queues[g->n_queues++] = dd.queue[j];
		if (e->plan.n_group_changes < e->cap_group_changes)
			e->plan.group_changes[e->plan.n_group_changes++] = (struct dvmq_group_change){
				.adapter = ai, .queue = dd.queue[j], .processor = dd.proc[j], .kind = DVMQ_GROUP_GROW,
				.why = DVMQ_GROUP_WHY_OVERLOAD, .n_before = n_before, .n_after = g->n_queues,
				.n_buckets = nb, .group_load = total, .moved_load = moved,
			};
	}
	eng_group_mark(e, g);
	for (uint32_t j = 0; j < dd.n; j++)
		dd.k[j] = map[j]; /* indices as committed (unused ones are never read) */
	commit_relief(e, ai, p, &dd, &r, DVMQ_REASON_GROW);
	gs->last_grow_ns = e->now_ns;
	gs->calm_rounds = 0;
	return true;
}

static uint32_t group_index(const struct dvmq_queue_group *g, uint32_t q)
{
	for (uint32_t k = 0; k < g->n_queues; k++)
		if (g->queues[k] == q)
			return k;
	return 0;
}

bool eng_group_relieve(struct dvmq_engine *e, uint32_t p)
{
	const double high = e->params.high;
	struct eng_proc *pp = &e->procs[p];
	uint32_t qs[GMAX], nq = 0;
	double key[GMAX];
	/* the group queues on p, heaviest first (a processor holds few) */
	for (uint32_t q = pp->qhead; q != ENG_NIL && nq < GMAX; q = e->qnext[q]) {
		uint32_t ai = e->queues[q].adapter;
		if (ai == UINT32_MAX || !e->adapters[ai].gs || e->adapters[ai].grp_index == ENG_NIL)
			continue;
		uint32_t j = nq++;
		for (; j > 0 && key[j - 1] < e->queues[q].demand; j--) {
			qs[j] = qs[j - 1];
			key[j] = key[j - 1];
		}
		qs[j] = q;
		key[j] = e->queues[q].demand;
	}
	for (uint32_t i = 0; i < nq && pp->pred > high; i++) {
		uint32_t q = qs[i], ai = e->queues[q].adapter;
		struct eng_adapter *a = &e->adapters[ai];
		struct dvmq_queue_group *g = &a->group;
		uint32_t hk = group_index(g, q);
		a->gs->limit = g->n_queues >= a->desc.max_queues ? DVMQ_OVERLOAD_GROUP_FULL : DVMQ_OVERLOAD_HELD;
		struct gdest dd;
		struct grelief r;
		dest_siblings(e, g, hk, p, &dd);
		if (plan_relief(e, a->gs, g, hk, p, &dd, &r, 0.0))
			commit_relief(e, ai, p, &dd, &r, DVMQ_REASON_BALANCE);
		/* grow only for a single-queue overload: the queue alone keeps p over high */
		while (pp->pred > high && pp->other + e->queues[q].demand > high && grow(e, ai, hk, p))
			;
	}
	return pp->pred <= high;
}

enum dvmq_overload_group eng_group_limit(const struct dvmq_engine *e, uint32_t q)
{
	uint32_t ai = e->queues[q].adapter;
	if (ai == UINT32_MAX || e->adapters[ai].desc.max_queues <= 1 || !e->adapters[ai].gs)
		return DVMQ_OVERLOAD_NO_GROUP;
	return e->adapters[ai].gs->limit;
}

/* ---- shrink ---------------------------------------------------------------------------- */
/* A pinned queue is never the one a calm group frees (its processor stays awake for the pin);
 * the pool and max-queues may still take it, which ends the pin (the slot leaves its adapter). */

/* Plans folding the buckets of group index v into the group's other queues, each processor ending
 * under pack by calm (peak) loads: best fit decreasing (the fullest processor where a bucket
 * fits). Returns whether every bucket found a place. */
static bool plan_fold(const struct dvmq_engine *e, const struct eng_gstate *gs, const struct dvmq_queue_group *g,
		      uint32_t v, struct gdest *dd, struct grelief *r)
{
	const double pack = e->params.pack;
	uint32_t idx[DVMQ_INDIRECTION_ENTRIES], n = 0;
	dd->n = 0;
	for (uint32_t k = 0; k < g->n_queues; k++) {
		if (k == v)
			continue;
		uint32_t q = g->queues[k], d = e->queues[q].proc;
		dd->k[dd->n] = k;
		dd->queue[dd->n] = q;
		dd->proc[dd->n] = d;
		dd->load[dd->n++] = e->procs[d].calm;
	}
	r->n = 0;
	r->shed = 0.0;
	double need = 0.0, room = 0.0;
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		if (g->indirection[b] == v) {
			if (bucket_dwelling(e, gs, b))
				return false;
			idx[n++] = b;
			need += gs->bpeak[b];
		}
	for (uint32_t j = 0; j < dd->n; j++)
		room += dd->load[j] < pack ? pack - dd->load[j] : 0.0;
	if (need > room)
		return false; /* most rounds of a busy group: no placement can fit, skip the sort */
	sort_heaviest(idx, n, gs->bpeak);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t b = idx[i], best = UINT32_MAX;
		double dl = gs->bpeak[b];
		for (uint32_t j = 0; j < dd->n; j++)
			if (dd->load[j] + dl <= pack && !bucket_undoes(e, gs, b, dd->queue[j]) &&
			    (best == UINT32_MAX || dd->load[j] > dd->load[best]))
				best = j;
		if (best == UINT32_MAX)
			return false;
		r->b[r->n] = b;
		r->d[r->n++] = best;
		dd->load[best] += dl;
		r->shed += gs->bdemand[b];
	}
	return true;
}

static bool group_touched(const struct dvmq_engine *e, const struct dvmq_queue_group *g)
{
	for (uint32_t k = 0; k < g->n_queues; k++) {
		const struct eng_queue *q = &e->queues[g->queues[k]];
		if ((e->procs[q->proc].touched & (ENG_SPREAD_SRC | ENG_SPREAD_MOVED)) || eng_overloaded(e, g->queues[k]))
			return true;
	}
	return false;
}

void eng_group_shrink(struct dvmq_engine *e)
{
	for (uint32_t i = 0; i < e->n_grp; i++) {
		uint32_t ai = e->grp[i];
		struct eng_adapter *a = &e->adapters[ai];
		struct eng_gstate *gs = a->gs;
		struct dvmq_queue_group *g = &a->group;
		if (g->n_queues < 2 || group_touched(e, g) ||
		    (gs->last_grow_ns && e->now_ns - gs->last_grow_ns < e->params.return_guard_ns)) {
			gs->calm_rounds = 0;
			continue;
		}
		/* the least loaded extra queue that is not pinned (a pin keeps its queue) */
		uint32_t v = 0;
		for (uint32_t k = 1; k < g->n_queues; k++)
			if (!e->queues[g->queues[k]].pinned &&
			    (v == 0 || e->queues[g->queues[k]].demand < e->queues[g->queues[v]].demand))
				v = k;
		if (v == 0) {
			gs->calm_rounds = 0;
			continue;
		}
		struct gdest dd;
		struct grelief r;
		if (!plan_fold(e, gs, g, v, &dd, &r)) {
			gs->calm_rounds = 0;
			continue;
		}
		if (++gs->calm_rounds < e->params.coalesce_rounds)
			continue;
		gs->calm_rounds = 0;
		uint32_t q = g->queues[v], p = e->queues[q].proc, n_before = g->n_queues;
		double total = 0.0;
		for (uint32_t k = 0; k < g->n_queues; k++)
			total += e->queues[g->queues[k]].demand;
		for (uint32_t j = 0; j < r.n; j++) {
			uint32_t d = dd.proc[r.d[j]];
			eng_bucket_move(e, ai, r.b[j], dd.k[r.d[j]], DVMQ_REASON_SHRINK);
			e->procs[d].touched |= ENG_SPREAD_DST;
		}
		e->procs[p].touched |= ENG_SPREAD_GAVE;
		/* the queue holds no bucket now: the last queue takes its index, and it is freed */
		g->queues[v] = g->queues[n_before - 1];
		for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
			if (g->indirection[b] == n_before - 1)
				g->indirection[b] = (uint8_t)v;
		g->n_queues = n_before - 1;
		eng_group_mark(e, g);
		eng_queue_deactivate(e, q);
		if (e->plan.n_group_changes < e->cap_group_changes)
			e->plan.group_changes[e->plan.n_group_changes++] = (struct dvmq_group_change){
				.adapter = ai, .queue = q, .processor = p, .kind = DVMQ_GROUP_SHRINK,
				.why = DVMQ_GROUP_WHY_CALM, .n_before = n_before, .n_after = g->n_queues,
				.n_buckets = r.n, .group_load = total, .moved_load = r.shed,
			};
	}
}
