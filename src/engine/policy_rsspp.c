/* `rsspp`: RSS++ (Barbette, Katsikas, Maguire, Kostic, CoNEXT 2019) as a peer, from the paper and
 * the public rsspp/fastclick solver (vendor/nicscheduler/methods/rsspp.cc, solver.hh), with
 * queues as its items (RSS buckets once VMMQ exists: rsspp_solver.c takes any items).
 * Every round (the host's interval; RSS++'s TIMER is 100 ms):
 * - the used processors' loads (any cause, the reference's "realcpu") give
 *   suppload = sum(target - load); with autoscale, the least loaded used processor is removed when
 *   suppload > 1 + (1 - target) + (N + 1) * max(0.05, maxload - target), its items placed largest
 *   first onto the processors with the most room below the new mean, and nothing else moves that
 *   round; a processor is added when suppload < -0.1 (the last one removed first);
 * - each used processor's imbalance is mean - load; one that received items last round sits this
 *   one out; over `rsspp-imbalance` above the mean with two items or more that saw packets it is
 *   overloaded, as far below it underloaded; an item's load is its share of its processor's
 *   packets times the processor's load; the target solver moves items (rsspp_solver.h).
 * Not modelled: NUMA awareness (off by default in the reference), the "dancer" option (off), the
 * adaptive timer (TIMER_MAX unset: a fixed 100 ms). */
#include "engine_internal.h"

static bool holds_a_pin(const struct dvmq_engine *e, uint32_t p)
{
	for (uint32_t q = e->procs[p].qhead; q != ENG_NIL; q = e->qnext[q])
		if (e->queues[q].pinned)
			return true;
	return false;
}

/* The used processors: the set's awake ones (RSS++ spreads its table over all of them at start,
 * and a queue the engine places is served where it lands) plus those added and still empty.
 * *least: the least loaded that may be removed (one holding a pinned queue stays). */
static uint32_t used_set(struct dvmq_engine *e, double *total, double *maxload, uint32_t *least)
{
	uint32_t n = 0;
	*total = *maxload = 0.0;
	*least = DVMQ_NO_PROCESSOR;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		struct eng_proc *pp = &e->procs[p];
		if (pp->awake)
			pp->peer |= ENG_PEER_USED;
		if (!(pp->peer & ENG_PEER_USED))
			continue;
		n++;
		*total += pp->load;
		if (pp->load > *maxload)
			*maxload = pp->load;
		if ((*least == DVMQ_NO_PROCESSOR || pp->load < e->procs[*least].load) && !holds_a_pin(e, p))
			*least = p;
	}
	return n;
}

/* Removes processor r from the used set: its items go, largest first, to the used processors
 * with the most room below the mean of the others (BucketMapProblem). */
static void remove_core(struct dvmq_engine *e, uint32_t r, double total, uint32_t n)
{
	struct eng_proc *pr = &e->procs[r];
	uint32_t *cores = e->order, nc = 0;
	double *room = e->tmp;
	double mean = total / (double)(n - 1);
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		if (p != r && (e->procs[p].peer & ENG_PEER_USED)) {
			room[nc] = mean - e->procs[p].load;
			cores[nc++] = p;
		}
	}
	uint32_t *items = e->scratch, ni = 0;
	double *load = e->qkey, count = 0.0;
	for (uint32_t q = pr->qhead; q != ENG_NIL; q = e->qnext[q])
		count += e->queues[q].arrivals;
	for (uint32_t q = pr->qhead; q != ENG_NIL; q = e->qnext[q]) {
		load[ni] = count > 0.0 ? e->queues[q].arrivals / count * pr->load : 0.0;
		items[ni++] = q;
	}
	pr->peer = 0;
	pr->peer_stamp = e->round;
	if (rsspp_solve_removal(ni, load, nc, room, e->qdest, &e->rsspp_ws) != 0)
		return;
	for (uint32_t i = 0; i < ni; i++)
		eng_move(e, items[i], cores[e->qdest[i]], DVMQ_REASON_REBALANCE, load[i]);
}

/* Adds the processor of the set that left the used set last (else the first unused one). */
static bool add_core(struct dvmq_engine *e)
{
	uint32_t best = DVMQ_NO_PROCESSOR;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		if (e->procs[p].peer & ENG_PEER_USED)
			continue;
		if (best == DVMQ_NO_PROCESSOR || e->procs[p].peer_stamp > e->procs[best].peer_stamp)
			best = p;
	}
	if (best == DVMQ_NO_PROCESSOR)
		return false;
	e->procs[best].peer = ENG_PEER_USED;
	return true;
}

static uint32_t items_with_packets(const struct dvmq_engine *e, uint32_t p)
{
	uint32_t n = 0;
	for (uint32_t q = e->procs[p].qhead; q != ENG_NIL; q = e->qnext[q])
		n += e->queues[q].arrivals > 0.0;
	return n;
}

/* The imbalance round: over- and underloaded processors around the mean, items of the overloaded
 * ones to the underloaded ones by the target solver. */
static void rebalance(struct dvmq_engine *e, double mean)
{
	const double thr = e->params.rsspp_imbalance;
	uint32_t *over = e->order, no = 0;
	uint32_t *under = e->bucket_start, nu = 0; /* n_procs + 1 entries */
	double *excess = e->tmp, *room = e->pkey;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		struct eng_proc *pp = &e->procs[p];
		if (!(pp->peer & ENG_PEER_USED))
			continue;
		if (pp->peer & ENG_PEER_MOVED) { /* received items last round: sits this one out */
			pp->peer &= (uint8_t)~ENG_PEER_MOVED;
			continue;
		}
		double imb = mean - pp->load;
		if (imb > thr) {
			room[nu] = imb;
			under[nu++] = p;
		} else if (imb < -thr && items_with_packets(e, p) > 1) {
			excess[no] = -imb;
			over[no++] = p;
		}
	}
	if (no == 0 || nu == 0)
		return;
	uint32_t *items = e->scratch, *from = e->bucket, ni = 0;
	double *load = e->qkey;
	for (uint32_t o = 0; o < no; o++) {
		const struct eng_proc *pp = &e->procs[over[o]];
		double count = 0.0;
		for (uint32_t q = pp->qhead; q != ENG_NIL; q = e->qnext[q])
			count += e->queues[q].arrivals;
		for (uint32_t q = pp->qhead; q != ENG_NIL; q = e->qnext[q]) {
			if (e->queues[q].arrivals <= 0.0 || e->queues[q].pinned) /* a pin: no policy moves it */
				continue;
			load[ni] = e->queues[q].arrivals / count * pp->load;
			from[ni] = o;
			items[ni++] = q;
		}
	}
	struct rsspp_target_problem pb = { .n_items = ni, .item_load = load, .item_from = from, .n_over = no,
					   .over_excess = excess, .n_under = nu, .under_room = room,
					   .transfer = e->qdest };
	if (rsspp_solve_target(&pb, &e->rsspp_ws) != 0)
		return;
	for (uint32_t i = 0; i < ni; i++) {
		if (e->qdest[i] == RSSPP_STAY)
			continue;
		uint32_t to = under[e->qdest[i]];
		eng_move(e, items[i], to, DVMQ_REASON_REBALANCE, load[i]);
		e->procs[to].peer |= ENG_PEER_MOVED;
	}
}

void eng_policy_rsspp(struct dvmq_engine *e)
{
	const struct dvmq_engine_params *pa = &e->params;
	double total, maxload;
	uint32_t least;
	uint32_t n = used_set(e, &total, &maxload, &least);
	if (n == 0)
		return;
	double suppload = pa->rsspp_target * (double)n - total;
	double protect = (double)(n + 1) * (maxload - pa->rsspp_target > 0.05 ? maxload - pa->rsspp_target : 0.05);
	if (pa->rsspp_autoscale) {
		if (suppload > 1.0 + (1.0 - pa->rsspp_target) + protect && n > 1 && least != DVMQ_NO_PROCESSOR) {
			remove_core(e, least, total, n);
			return;
		}
		if (suppload < -0.1 && add_core(e))
			n++;
	}
	rebalance(e, total / (double)n);
}
