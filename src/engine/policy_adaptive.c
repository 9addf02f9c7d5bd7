/* `adaptive`, the default: dynamic's rules with the ping-pong, the pointless moves and the
 * slowness taken out. docs/simulator.md ("The engine") states the rules with their reasons.
 * - Loads are demand, not busy time: a queue's arrivals (processed + dropped + backlog growth)
 *   times its cost per packet, so a queue on a saturated processor is not underestimated.
 * - Spread (a processor over `high`) reacts in the round the overload is seen, and only with moves
 *   that relieve the source: the smallest queue whose move alone brings the source to `high` or
 *   below; when no single queue can, the biggest that fits somewhere and sheds at least
 *   `min_gain`, repeated (the best partial relief); a queue within `dwell` only when it alone
 *   ends an overload the others could not, or leaves a single-queue overload's processor (dwell
 *   stops needless moves, not relief). A queue
 *   under `floor` never spreads. When one queue alone keeps its processor over `high` and fits on
 *   no processor of the set, the plan reports a single-queue overload, once: that VM needs VMMQ
 *   (a queue under `high` itself, stuck because other work fills every processor, is reported
 *   as no-room instead: no single-queue overload). The queues sharing its processor still spread off it, whatever their size over the floor:
 *   that relieves them.
 * - No move undoes one made less than `return_guard` ago (>= 1 s: no ping-pong, by construction,
 *   whatever `dwell` is); a spread sends a queue back to a processor it left within
 *   `return_window` only when nothing else fits, coalescing never does.
 * - Coalescing runs in the same round on the processors no spread move touched (a processor over
 *   high that spreading could not relieve, busy with other work, may be emptied), and parks as
 *   many processors per round as fit: each one whose queues all fit on the other awake processors
 *   under `pack` (< high), sized by their decaying peak demand, for `coalesce_rounds` rounds in a
 *   row. pack < high and peak sizing are the asymmetric hysteresis that keeps a coalesced queue
 *   from being spread straight back.
 * Invariant of a round: no processor gives or takes both a spread move and a coalescing move. */
#include <math.h>

#include "engine_internal.h"

static bool dwelling(const struct dvmq_engine *e, const struct eng_queue *q)
{
	return q->moved && e->now_ns - q->last_move_ns < e->params.dwell_ns;
}

/* A queue spreading may take within its dwell: any but a pinned one. */
static bool dwell_candidate(const struct dvmq_engine *e, const struct eng_queue *q)
{
	return q->demand > 0.0 && q->demand >= e->params.spread_floor && dwelling(e, q) && !q->pinned;
}

/* The burst queue q may bring back (its hold above its decaying peak: peak-hold), and whether
 * processor d, holding `load` and taking a queue of dl, keeps room for the larger of that and its
 * own queues' under halfway from `high` to a whole processor (0.95 for high 90 %: the M/D/1 wait
 * stays near 10 service times at the burst's height, and an interval's average hides its peaks). */
static double swing_of(const struct eng_queue *q)
{
	return q->demand_hold > q->demand_peak ? q->demand_hold - q->demand_peak : 0.0;
}

static bool burst_room(const struct dvmq_engine *e, const struct eng_proc *d, double load, double dl,
		       double q_swing)
{
	return load + dl + (d->swing > q_swing ? d->swing : q_swing) <= (e->params.high + 1.0) / 2;
}

/* ---- spread ---------------------------------------------------------------------------- */

/* Destination classes, best first. A return (a processor the queue left within return_window)
 * comes after every other choice, parked processors included. */
enum { D_PACK_NEAR, D_PACK_FAR, D_HIGH_NEAR, D_HIGH_FAR, D_PARKED, D_RETURN, D_RETURN_PARKED, D_NONE };

/* Best destination for a spread move of queue qi (demand dl) off `from`, or DVMQ_NO_PROCESSOR:
 * it must end at most `high` and `min_gain` below the source, and the move must not undo a move
 * within return_guard. Awake processors first (up to `pack`, then up to `high`; same NUMA node
 * first, least loaded first), then the nearest parked one; a processor the queue left within
 * return_window last. The awake processors' buckets are visited from the least loaded up to the
 * last one that can take the queue, and the first bucket holding the best class settles it (the
 * next are more loaded); parked processors, which rank below every awake one, are searched only
 * when no awake processor is a match that good. */
static uint32_t spread_dest(const struct dvmq_engine *e, uint32_t qi, uint32_t from, double dl)
{
	const struct dvmq_engine_params *pa = &e->params;
	const struct eng_proc *src = &e->procs[from];
	const struct eng_buckets *bl = &e->by_load;
	double limit = (pa->high < src->pred - pa->min_gain ? pa->high : src->pred - pa->min_gain) - dl;
	const double q_swing = swing_of(&e->queues[qi]);
	struct eng_recent rec;
	eng_recent_get(e, qi, from, &rec);
	if (rec.all)
		return DVMQ_NO_PROCESSOR;
	uint32_t sib[DVMQ_MAX_GROUP_QUEUES], n_sib = eng_siblings(e, qi, sib); /* a group's queues apart */
	uint32_t best = DVMQ_NO_PROCESSOR;
	int best_class = D_NONE;
	for (uint32_t k = eng_buckets_next(bl, 0); k != ENG_NIL && eng_bucket_lo(bl, k) <= limit &&
						     best_class != D_PACK_NEAR;
	     k = eng_buckets_next(bl, k + 1)) {
		for (uint32_t d = bl->head[k]; d != ENG_NIL; d = bl->next[d]) {
			const struct eng_proc *pd = &e->procs[d];
			/* a spread source sheds load this round, it takes none (its bucket is the one
			 * it had, over high) */
			if (pd->pred > limit || (pd->touched & ENG_SPREAD_SRC) ||
			    eng_recent_has(rec.undo, rec.n_undo, d) || eng_recent_has(sib, n_sib, d))
				continue;
			int c = eng_recent_has(rec.left, rec.n_left, d)
					? D_RETURN
					: (pd->pred + dl <= pa->pack && burst_room(e, pd, pd->pred, dl, q_swing) ? D_PACK_NEAR
													   : D_HIGH_NEAR) +
						  (pd->numa != src->numa);
			if (c < best_class || (c == best_class && (pd->pred < e->procs[best].pred ||
								   (pd->pred == e->procs[best].pred && d < best)))) {
				best = d;
				best_class = c;
			}
		}
	}
	if (best_class <= D_HIGH_FAR)
		return best;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t d = e->set_list[i];
		const struct eng_proc *pd = &e->procs[d];
		if (pd->awake || pd->pred > limit || eng_recent_has(rec.undo, rec.n_undo, d) ||
		    eng_recent_has(sib, n_sib, d))
			continue;
		int c = eng_recent_has(rec.left, rec.n_left, d) ? D_RETURN_PARKED : D_PARKED;
		if (c < best_class || (c == best_class && eng_distance(e, from, d) < eng_distance(e, from, best))) {
			best = d;
			best_class = c;
		}
	}
	return best;
}

static bool spread_candidate(const struct dvmq_engine *e, const struct eng_queue *q, uint32_t p)
{
	return q->proc == p && q->demand > 0.0 && q->demand >= e->params.spread_floor && !dwelling(e, q) &&
	       !q->pinned;
}

static void spread_move(struct dvmq_engine *e, uint32_t q, uint32_t from, uint32_t to)
{
	eng_move(e, q, to, DVMQ_REASON_SPREAD, e->queues[q].demand);
	double sw = swing_of(&e->queues[q]);
	if (sw > e->procs[to].swing)
		e->procs[to].swing = sw;
	/* a source stays in its bucket (even one a move parks): spread_dest skips it */
	e->procs[from].touched |= ENG_SPREAD_GAVE;
	e->procs[to].touched |= ENG_SPREAD_DST;
	eng_buckets_put(&e->by_load, to, e->procs[to].pred); /* awake now, if it was parked */
}

/* Reports queue q as stuck on processor p (a single-queue overload, or no room), unless it already is. */
static void report_overload(struct dvmq_engine *e, uint32_t qi, uint32_t p)
{
	struct eng_queue *q = &e->queues[qi];
	if (e->plan.n_overloads >= e->n_queues || !eng_overload_begin(e, qi))
		return;
	e->plan.overloads[e->plan.n_overloads++] = (struct dvmq_overload){
		.queue = qi,
		.processor = p,
		/* a queue under high itself is stuck only because other work fills every processor */
		.reason = q->demand <= e->params.high	      ? DVMQ_OVERLOAD_NO_ROOM
			  : q->demand > 1.0 - e->least_other ? DVMQ_OVERLOAD_OVER_CAPACITY
							 : DVMQ_OVERLOAD_OVER_HIGH,
		.queue_load = q->demand,
		.processor_load = e->procs[p].pred,
		.other_load = e->procs[p].other,
		.group = eng_group_limit(e, qi),
	};
}

/* Moves queues of qs[0..*nq) off p while p is over `high`: the smallest queue that alone ends the
 * overload, else the biggest that fits and weighs at least `partial_min`. Min/max scans, not a
 * sort: the first pick nearly always has a destination, and a queue found to have none keeps none
 * for the rest of the round (destinations only fill up, and the source's bar for min-gain only
 * drops), so it leaves qs. */
static void relieve_with(struct dvmq_engine *e, uint32_t p, uint32_t *qs, double *dem, uint32_t *nq,
			 double partial_min)
{
	const double high = e->params.high;
	struct eng_proc *pp = &e->procs[p];
	while (pp->pred > high && *nq > 0) {
		double excess = pp->pred - high;
		uint32_t pick = UINT32_MAX, dest = DVMQ_NO_PROCESSOR;
		for (int want_small = 1; want_small >= 0 && pick == UINT32_MAX; want_small--) {
			while (pick == UINT32_MAX && *nq > 0) {
				/* dem[k] is qs[k]'s demand: nothing a spread move does changes it */
				uint32_t best = UINT32_MAX;
				if (want_small) {
					for (uint32_t k = 0; k < *nq; k++)
						if (dem[k] >= excess && (best == UINT32_MAX || dem[k] < dem[best]))
							best = k;
				} else {
					for (uint32_t k = 0; k < *nq; k++)
						if (dem[k] >= partial_min && (best == UINT32_MAX || dem[k] > dem[best]))
							best = k;
				}
				if (best == UINT32_MAX)
					break;
				dest = spread_dest(e, qs[best], p, dem[best]);
				if (dest != DVMQ_NO_PROCESSOR)
					pick = qs[best];
				/* moved now, or no destination this round */
				--*nq;
				qs[best] = qs[*nq];
				dem[best] = dem[*nq];
			}
		}
		if (pick == UINT32_MAX)
			break;
		spread_move(e, pick, p, dest);
	}
}

/* Relieves one processor over `high` (see the file comment for the order of choices). One walk of
 * its list finds the queues free to spread (qs, dem from the front of the round's scratch) and the
 * ones within their dwell (from the back, in reverse): the first relief moves only the former,
 * and nothing it does changes which of the others are candidates or their demand. */
static void relieve(struct dvmq_engine *e, uint32_t p)
{
	const double high = e->params.high;
	struct eng_proc *pp = &e->procs[p];
	uint32_t *qs = e->scratch, nq = 0, nd = 0, end = e->n_queues;
	double *dem = e->qkey; /* n_queues entries, as scratch has: a processor holds no more queues */
	for (uint32_t q = pp->qhead; q != ENG_NIL; q = e->qnext[q]) {
		const struct eng_queue *qq = &e->queues[q];
		if (spread_candidate(e, qq, p)) {
			qs[nq] = q;
			dem[nq++] = qq->demand;
		} else if (dwell_candidate(e, qq)) {
			nd++;
			qs[end - nd] = q;
			dem[end - nd] = qq->demand;
		}
	}
	/* a move that leaves the source over high must shed at least min-gain: moving crumbs off a
	 * processor kept busy by other work relieves nobody */
	relieve_with(e, p, qs, dem, &nq, e->params.min_gain);
	if (pp->pred <= high)
		return;
	/* Still over: dwell yields to a move that ends the overload. A queue that moved in the last
	 * `dwell` may leave again when it alone brings its processor to `high` and the queues free to
	 * move could not (on bitbrains, a 0.31 queue spread onto a processor whose other queues then
	 * surged waited out its dwell: 300 ms). Other partial relief waits (the neighbours of a
	 * single-queue overload aside, below): allowing it lost bb-64cpu's reaction target. No
	 * ping-pong follows: spread_dest never undoes a move within return-guard. */
	for (nq = 0; nq < nd; nq++) {
		qs[nq] = qs[end - 1 - nq]; /* list order again */
		dem[nq] = dem[end - 1 - nq];
	}
	relieve_with(e, p, qs, dem, &nq, HUGE_VAL);
	if (pp->pred <= high)
		return;
	/* Still over: the queues of VM groups (VMMQ) on p shed buckets to their groups' other queues,
	 * and a group whose queue alone keeps p over high grows (policy_group.c) */
	if (e->n_grp > 0 && eng_group_relieve(e, p))
		return;
	/* Still over: if one queue alone keeps this processor over high (the processor is under high
	 * without its queues, and the queue is no crumb: at least min-gain), would keep any processor
	 * of the set over high, and fits nowhere (dwell aside), no move can help it. It is reported
	 * once; the queues sharing its processor leave it whatever their size over the floor, within
	 * their dwell too: that is their relief (the queues still in qs had no destination and keep
	 * none this round; on bb-scale150 a neighbour waiting out its dwell made 550 ms). A
	 * processor over high from other work is no queue's overload: nothing more moves. */
	uint32_t heavy = UINT32_MAX;
	for (uint32_t q = pp->qhead; q != ENG_NIL; q = e->qnext[q])
		if (heavy == UINT32_MAX || e->queues[q].demand > e->queues[heavy].demand)
			heavy = q;
	if (heavy == UINT32_MAX)
		return; /* over high from other causes alone */
	const struct eng_queue *h = &e->queues[heavy];
	if (pp->other >= high || h->demand < e->params.min_gain || pp->other + h->demand <= high ||
	    h->demand + e->least_other <= high ||
	    spread_dest(e, heavy, p, h->demand) != DVMQ_NO_PROCESSOR)
		return;
	report_overload(e, heavy, p);
	nq = 0;
	for (uint32_t q = pp->qhead; q != ENG_NIL; q = e->qnext[q])
		if (q != heavy && ((spread_candidate(e, &e->queues[q], p) && e->queues[q].demand < e->params.min_gain) ||
				   dwell_candidate(e, &e->queues[q]))) {
			qs[nq] = q;
			dem[nq++] = e->queues[q].demand;
		}
	relieve_with(e, p, qs, dem, &nq, 0.0);
}

static void spread(struct dvmq_engine *e)
{
	const double high = e->params.high;
	uint32_t n = 0;
	e->least_other = 1.0;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		e->procs[p].touched = 0;
		if (e->procs[p].other < e->least_other)
			e->least_other = e->procs[p].other;
		if (e->procs[p].pred > high)
			e->order[n++] = p;
	}
	if (n == 0)
		return;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		if (e->procs[p].awake)
			eng_buckets_put(&e->by_load, p, e->procs[p].pred);
		else
			eng_buckets_remove(&e->by_load, p);
	}
	/* busiest source first: it has the least choice */
	for (uint32_t i = 0; i < n; i++)
		e->pkey[e->order[i]] = -e->procs[e->order[i]].pred;
	eng_sort_by_key(e->order, n, e->pkey);
	for (uint32_t i = 0; i < n; i++)
		e->procs[e->order[i]].touched |= ENG_SPREAD_SRC;
	for (uint32_t i = 0; i < n; i++)
		relieve(e, e->order[i]);
}

/* A single-queue overload is over when the queue with its processor's other load is comfortably
 * under `high` again (under `pack`); between the two it goes on without isolating anything. */
static void end_overloads(struct dvmq_engine *e)
{
	for (uint32_t i = e->n_overloaded; i-- > 0;) {
		const struct eng_queue *q = &e->queues[e->ovl[i]];
		if (q->ovl_pos != i || !q->active) {
			/* not a member: only a broken invariant could put it here; the entry goes
			 * rather than a processor being read through it */
			e->ovl[i] = e->ovl[--e->n_overloaded];
			continue;
		}
		if (e->procs[q->proc].other + q->demand < e->params.pack)
			eng_overload_end(e, e->ovl[i]);
	}
}

/* ---- coalesce -------------------------------------------------------------------------- */

static bool coalesce_target_ok(const struct dvmq_engine *e, uint32_t qi, uint32_t victim, uint32_t d,
			       const uint32_t *sib, uint32_t n_sib)
{
	const struct eng_proc *pd = &e->procs[d];
	return d != victim && pd->awake && !(pd->touched & ENG_SPREAD_MOVED) && !(e->flag[d] & ENG_VICTIM) &&
	       !eng_recent_has(sib, n_sib, d) &&
	       !eng_undoes(e, qi, victim, d, e->params.return_guard_ns) &&
	       !eng_left_recently(e, qi, d, e->params.return_window_ns);
}

/* Where queue qi (sized dl) goes when `victim` is emptied: its home if that fits under pack,
 * else the fullest processor of the same node where it fits (best fit), else of another node.
 * by_calm's buckets are visited from the one holding `pack - dl` down. */
static uint32_t coalesce_dest(const struct dvmq_engine *e, uint32_t qi, uint32_t victim, double dl)
{
	const double room = e->params.pack - dl;
	const double *load = e->tmp;
	const struct eng_buckets *bc = &e->by_calm;
	uint32_t h = e->queues[qi].home;
	uint32_t sib[DVMQ_MAX_GROUP_QUEUES], n_sib = eng_siblings(e, qi, sib);
	const double q_swing = swing_of(&e->queues[qi]);
	if (e->procs[h].in_set && load[h] <= room && burst_room(e, &e->procs[h], load[h], dl, q_swing) &&
	    coalesce_target_ok(e, qi, victim, h, sib, n_sib))
		return h;
	if (room < 0.0)
		return DVMQ_NO_PROCESSOR;
	uint32_t near = DVMQ_NO_PROCESSOR, far = DVMQ_NO_PROCESSOR;
	for (uint32_t k = eng_buckets_prev(bc, eng_bucket_of(bc, room)); k != ENG_NIL && near == DVMQ_NO_PROCESSOR;
	     k = k ? eng_buckets_prev(bc, k - 1) : ENG_NIL) {
		for (uint32_t d = bc->head[k]; d != ENG_NIL; d = bc->next[d]) {
			if (load[d] > room || !burst_room(e, &e->procs[d], load[d], dl, q_swing) ||
			    !coalesce_target_ok(e, qi, victim, d, sib, n_sib))
				continue;
			/* the fullest; among equals the one nearest the base, whatever the list order */
			if (e->procs[d].numa == e->procs[victim].numa) {
				if (near == DVMQ_NO_PROCESSOR || load[d] > load[near] ||
				    (load[d] == load[near] && d < near))
					near = d;
			} else if (far == DVMQ_NO_PROCESSOR || load[d] > load[far] ||
				   (load[d] == load[far] && d < far)) {
				far = d;
			}
		}
	}
	return near != DVMQ_NO_PROCESSOR ? near : far;
}

static void coalesce(struct dvmq_engine *e)
{
	const struct dvmq_engine_params *pa = &e->params;
	double *load = e->tmp;       /* tentative calm load per processor, this round */
	double *committed = e->pkey; /* calm load per processor with the committed moves only */
	uint32_t n_awake = 0;
	double spare = 0.0;    /* room under pack on the processors that may receive */
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		const struct eng_proc *pp = &e->procs[p];
		load[p] = committed[p] = pp->calm;
		e->flag[p] = 0;
		if (!pp->awake)
			continue;
		n_awake++;
		if (!(pp->touched & ENG_SPREAD_MOVED) && pp->calm < pa->pack)
			spare += pa->pack - pp->calm;
	}
	/* most rounds on a busy host nothing can be emptied: find out before anything else */
	bool any = false;
	for (uint32_t i = 0; i < e->n_set && !any && n_awake >= 2; i++) {
		const struct eng_proc *pv = &e->procs[e->set_list[i]];
		double other = pv->other_ewma > pv->other ? pv->other_ewma : pv->other;
		double own_spare = pv->calm < pa->pack ? pa->pack - pv->calm : 0.0;
		any = pv->awake && !(pv->touched & ENG_SPREAD_MOVED) && pv->calm - other <= spare - own_spare;
	}
	if (!any) {
		for (uint32_t i = 0; i < e->n_set; i++)
			e->procs[e->set_list[i]].idle_rounds = 0;
		return;
	}
	struct eng_buckets *bc = &e->by_calm;
	for (uint32_t i = 0; i < e->n_set; i++)
		eng_buckets_put(bc, e->set_list[i], load[e->set_list[i]]);
	/* victims in order of calm load (by bucket; within one, farthest from the base first), from a
	 * snapshot: by_calm changes as queues are placed. The order must not depend on how the lists
	 * happen to be linked: the same victims must come up round after round to count as calm. */
	uint32_t *victims = e->order, n_cand = 0, n_victims = 0;
	for (uint32_t k = eng_buckets_next(bc, 0); k != ENG_NIL; k = eng_buckets_next(bc, k + 1)) {
		uint32_t first = n_cand;
		for (uint32_t p = bc->head[k]; p != ENG_NIL; p = bc->next[p]) {
			uint32_t j = n_cand++;
			for (; j > first && victims[j - 1] < p; j--)
				victims[j] = victims[j - 1];
			victims[j] = p;
		}
	}
	uint32_t *qs = e->scratch, *dest = e->qdest;
	for (uint32_t i = 0; i < n_cand && n_awake - n_victims >= 2; i++) {
		uint32_t v = victims[i];
		struct eng_proc *pv = &e->procs[v];
		if (!pv->awake || (pv->touched & ENG_SPREAD_MOVED) || (e->flag[v] & ENG_RECEIVER))
			continue;
		double other = pv->other_ewma > pv->other ? pv->other_ewma : pv->other;
		double own_spare = load[v] < pa->pack ? pa->pack - load[v] : 0.0;
		if (load[v] - other > spare - own_spare)
			continue; /* its queues cannot fit on the others, whatever the placement */
		uint32_t nq = 0;
		bool ok = true;
		for (uint32_t q = pv->qhead; q != ENG_NIL && ok; q = e->qnext[q]) {
			qs[nq++] = q;
			e->qkey[q] = -e->queues[q].demand_peak;
			ok = !dwelling(e, &e->queues[q]) && !e->queues[q].pinned; /* a pin keeps v awake */
		}
		eng_sort_by_key(qs, nq, e->qkey); /* biggest first: best-fit decreasing */
		uint32_t placed = 0;
		double moved = 0.0;
		e->flag[v] |= ENG_VICTIM; /* not a destination of its own queues */
		for (; ok && placed < nq; placed++) {
			double dl = -e->qkey[qs[placed]];
			dest[placed] = coalesce_dest(e, qs[placed], v, dl);
			if (dest[placed] == DVMQ_NO_PROCESSOR)
				break;
			load[dest[placed]] += dl;
			moved += dl;
			/* kept even if v is not emptied after all: later placements this round see a
			 * burst that may not come (conservative, never unsafe) */
			double sw = swing_of(&e->queues[qs[placed]]);
			if (sw > e->procs[dest[placed]].swing)
				e->procs[dest[placed]].swing = sw;
			eng_buckets_put(bc, dest[placed], load[dest[placed]]);
		}
		if (!ok || placed < nq) {
			for (uint32_t k = 0; k < placed; k++) {
				load[dest[k]] -= -e->qkey[qs[k]];
				eng_buckets_put(bc, dest[k], load[dest[k]]);
			}
			e->flag[v] &= (uint8_t)~ENG_VICTIM;
			continue;
		}
		/* v could be emptied: its queues' room stays reserved this round, committed or not,
		 * so that the victims of this round are the same from one round to the next */
		n_victims++;
		spare -= own_spare + moved;
		for (uint32_t k = 0; k < nq; k++)
			e->flag[dest[k]] |= ENG_RECEIVER;
		if (++pv->idle_rounds < pa->coalesce_rounds)
			continue;
		pv->idle_rounds = 0;
		/* the plan reports coalescing in the loads it was decided on: calm loads, with the
		 * moves committed so far (committed[] starts as calm, a copy of it) */
		for (uint32_t k = 0; k < nq; k++) {
			e->procs[v].pred = committed[v];
			e->procs[dest[k]].pred = committed[dest[k]];
			eng_move(e, qs[k], dest[k], DVMQ_REASON_COALESCE, -e->qkey[qs[k]]);
			committed[v] = e->procs[v].pred;
			committed[dest[k]] = e->procs[dest[k]].pred;
		}
	}
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		if (!(e->flag[p] & ENG_VICTIM))
			e->procs[p].idle_rounds = 0;
	}
}

void eng_policy_adaptive(struct dvmq_engine *e)
{
	end_overloads(e);
	spread(e);
	if (e->n_grp > 0)
		eng_group_shrink(e);
	coalesce(e);
}
