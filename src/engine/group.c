/* VM queue groups (VMMQ): the model the policies work on. An adapter whose max-queues is above 1
 * is listed in e->grp and has per-bucket state (struct eng_gstate); its group holds 1..max-queues
 * queues and a 128-entry indirection table. Each round, every listed group's queues' demands are
 * split over their buckets by the buckets' packet counts (eng_groups_update); adaptive's rules
 * (policy_group.c) move buckets and grow and shrink groups from those. This file also does what
 * the pool and max-queues force on a group (eng_group_drop) and keeps the plan storage groups
 * need.
 * Invariants: for every adapter holding a VMQ, group.queues[0..n_queues) are active queues of that
 * adapter, distinct, and every indirection entry is < n_queues; a listed adapter has gs != NULL
 * and grp[grp_index] == its id; plan storage has room for 128 bucket moves and
 * DVMQ_MAX_GROUP_QUEUES group changes per listed group (a bucket moves at most once a round). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

const char *dvmq_overload_group_name(enum dvmq_overload_group g)
{
	static const char *const names[DVMQ_OVERLOAD_GROUP_COUNT] = {
		[DVMQ_OVERLOAD_NO_GROUP] = "no-group",       [DVMQ_OVERLOAD_GROUP_FULL] = "group-full",
		[DVMQ_OVERLOAD_NO_QUEUE] = "no-queue",       [DVMQ_OVERLOAD_NO_PROCESSOR] = "no-processor",
		[DVMQ_OVERLOAD_ONE_BUCKET] = "one-bucket",   [DVMQ_OVERLOAD_HELD] = "held",
	};
	return (unsigned)g < DVMQ_OVERLOAD_GROUP_COUNT ? names[g] : "?";
}

const char *dvmq_group_change_kind_name(enum dvmq_group_change_kind k)
{
	return k == DVMQ_GROUP_GROW ? "grow" : k == DVMQ_GROUP_SHRINK ? "shrink" : "?";
}

const char *dvmq_group_why_name(enum dvmq_group_why w)
{
	static const char *const names[DVMQ_GROUP_WHY_COUNT] = {
		[DVMQ_GROUP_WHY_OVERLOAD] = "overload", [DVMQ_GROUP_WHY_CALM] = "calm",
		[DVMQ_GROUP_WHY_MAX_QUEUES] = "max-queues", [DVMQ_GROUP_WHY_POOL] = "pool",
	};
	return (unsigned)w < DVMQ_GROUP_WHY_COUNT ? names[w] : "?";
}

void eng_group_mark(struct dvmq_engine *e, const struct dvmq_queue_group *g)
{
	for (uint32_t k = 0; k < g->n_queues; k++)
		if (g->queues[k] != DVMQ_DEFAULT_QUEUE)
			e->queues[g->queues[k]].grouped = g->n_queues > 1;
}

uint32_t eng_siblings(const struct dvmq_engine *e, uint32_t q, uint32_t *sib)
{
	/* the flag spares the adapter's cold lines for the queues of plain VMQs (nearly all) */
	uint32_t a = e->queues[q].adapter, n = 0;
	if (!e->queues[q].grouped || a == UINT32_MAX)
		return 0;
	const struct dvmq_queue_group *g = &e->adapters[a].group;
	for (uint32_t k = 0; k < g->n_queues && g->n_queues > 1; k++)
		if (g->queues[k] != q)
			sib[n++] = e->queues[g->queues[k]].proc;
	return n;
}

/* Grows e->grp and the plan storage for one more listed group. Returns 0 or -ENOMEM (nothing
 * changed then). */
static int grp_reserve(struct dvmq_engine *e)
{
	if (e->n_grp < e->cap_grp)
		return 0;
	uint32_t cap = e->cap_grp ? e->cap_grp * 2 : 4;
	uint32_t *grp = realloc(e->grp, cap * sizeof(*grp));
	if (!grp)
		return -ENOMEM;
	e->grp = grp;
	size_t nb = (size_t)cap * DVMQ_INDIRECTION_ENTRIES, nc = (size_t)cap * DVMQ_MAX_GROUP_QUEUES;
	struct dvmq_bucket_move *bm = realloc(e->plan.bucket_moves, nb * sizeof(*bm));
	if (!bm)
		return -ENOMEM;
	e->plan.bucket_moves = bm;
	e->cap_bucket_moves = nb;
	/* a round's changes, and the pending ones copied in before them */
	struct dvmq_group_change *gc = realloc(e->plan.group_changes, 2 * nc * sizeof(*gc));
	if (!gc)
		return -ENOMEM;
	e->plan.group_changes = gc;
	e->cap_group_changes = 2 * nc;
	struct dvmq_group_change *pc = realloc(e->pending, nc * sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	e->pending = pc;
	e->cap_pending = nc;
	e->cap_grp = cap;
	return 0;
}

static int grp_list(struct dvmq_engine *e, uint32_t id)
{
	struct eng_adapter *a = &e->adapters[id];
	if (a->grp_index != ENG_NIL)
		return 0;
	if (!a->gs) {
		a->gs = calloc(1, sizeof(*a->gs));
		if (!a->gs)
			return -ENOMEM;
	}
	int rc = grp_reserve(e);
	if (rc)
		return rc;
	a->grp_index = e->n_grp;
	e->grp[e->n_grp++] = id;
	return 0;
}

static void grp_unlist(struct dvmq_engine *e, struct eng_adapter *a)
{
	if (a->grp_index == ENG_NIL)
		return;
	uint32_t last = e->grp[--e->n_grp];
	e->grp[a->grp_index] = last;
	e->adapters[last].grp_index = a->grp_index;
	a->grp_index = ENG_NIL;
}

void eng_group_free(struct eng_adapter *a)
{
	free(a->gs);
	a->gs = NULL;
}

/* Estimated load of group index k: its queue's demand. */
static double queue_est(const struct dvmq_engine *e, const struct dvmq_queue_group *g, uint32_t k)
{
	return e->queues[g->queues[k]].demand;
}

uint32_t eng_group_drop(struct dvmq_engine *e, struct eng_adapter *a, uint32_t k, enum dvmq_group_why why)
{
	struct dvmq_queue_group *g = &a->group;
	uint32_t q = g->queues[k], n = g->n_queues;
	double est[DVMQ_MAX_GROUP_QUEUES], moved = 0.0, total = 0.0;
	for (uint32_t i = 0; i < n; i++) {
		est[i] = queue_est(e, g, i);
		total += est[i];
	}
	uint32_t n_buckets = 0;
	/* each bucket to the remaining queue with the least load so far (a forced fold: no plan
	 * entry per bucket, no history, as forced queue moves do not hold a queue back) */
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++) {
		if (g->indirection[b] != k)
			continue;
		uint32_t best = k == 0 ? 1 : 0;
		for (uint32_t i = 0; i < n; i++)
			if (i != k && est[i] < est[best])
				best = i;
		double d = a->gs ? a->gs->bdemand[b] : 0.0;
		est[best] += d;
		moved += d;
		g->indirection[b] = (uint8_t)best;
		n_buckets++;
	}
	for (uint32_t i = 0; i < n; i++)
		if (i != k)
			e->queues[g->queues[i]].demand = est[i];
	/* the last queue takes index k */
	g->queues[k] = g->queues[n - 1];
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		if (g->indirection[b] == n - 1)
			g->indirection[b] = (uint8_t)k;
	g->n_queues = n - 1;
	eng_group_mark(e, g);
	uint32_t proc = e->queues[q].proc;
	eng_queue_deactivate(e, q);
	if (e->n_pending < e->cap_pending)
		e->pending[e->n_pending++] = (struct dvmq_group_change){
			.adapter = (uint32_t)(a - e->adapters), .queue = q, .processor = proc,
			.kind = DVMQ_GROUP_SHRINK, .why = why, .n_before = n, .n_after = n - 1,
			.n_buckets = n_buckets, .group_load = total, .moved_load = moved,
		};
	return q;
}

void eng_group_release(struct dvmq_engine *e, struct eng_adapter *a)
{
	struct dvmq_queue_group *g = &a->group;
	for (uint32_t k = 0; k < g->n_queues; k++)
		if (g->queues[k] != DVMQ_DEFAULT_QUEUE)
			eng_queue_deactivate(e, g->queues[k]);
	g->n_queues = 1;
	g->queues[0] = DVMQ_DEFAULT_QUEUE;
	memset(g->indirection, 0, sizeof(g->indirection));
}

/* Lower rank first: lower weight, then later arrival. */
static bool ranks_below(const struct eng_adapter *a, const struct eng_adapter *b)
{
	if (a->desc.weight != b->desc.weight)
		return a->desc.weight < b->desc.weight;
	return a->seq > b->seq;
}

uint32_t eng_group_lowest_extra(const struct dvmq_engine *e)
{
	uint32_t best = ENG_NIL;
	for (uint32_t i = 0; i < e->n_grp; i++) {
		const struct eng_adapter *a = &e->adapters[e->grp[i]];
		if (a->group.n_queues > 1 && (best == ENG_NIL || ranks_below(a, &e->adapters[best])))
			best = e->grp[i];
	}
	return best;
}

uint32_t eng_group_least_extra(const struct dvmq_engine *e, const struct eng_adapter *a)
{
	const struct dvmq_queue_group *g = &a->group;
	uint32_t best = 1;
	for (uint32_t k = 2; k < g->n_queues; k++)
		if (queue_est(e, g, k) < queue_est(e, g, best))
			best = k;
	return best;
}

int dvmq_engine_adapter_set_max_queues(struct dvmq_engine *e, uint32_t id, uint32_t max_queues)
{
	if (!e || id >= e->max_adapters || !e->adapters[id].used)
		return -ENOENT;
	if (max_queues > DVMQ_MAX_GROUP_QUEUES)
		return -EINVAL;
	if (max_queues == 0)
		max_queues = 1;
	struct eng_adapter *a = &e->adapters[id];
	if (max_queues > 1) {
		int rc = grp_list(e, id);
		if (rc)
			return rc;
	}
	a->desc.max_queues = max_queues;
	while (a->group.n_queues > max_queues)
		eng_group_drop(e, a, eng_group_least_extra(e, a), DVMQ_GROUP_WHY_MAX_QUEUES);
	if (max_queues == 1)
		grp_unlist(e, a);
	return 0;
}

/* Called by pool.c when an adapter arrives (its desc set) and when it leaves. */
int eng_group_adapter_added(struct dvmq_engine *e, uint32_t id)
{
	struct eng_adapter *a = &e->adapters[id];
	a->grp_index = ENG_NIL;
	if (a->desc.max_queues == 0)
		a->desc.max_queues = 1;
	if (a->gs)
		memset(a->gs, 0, sizeof(*a->gs));
	return a->desc.max_queues > 1 ? grp_list(e, id) : 0;
}

void eng_group_adapter_removed(struct dvmq_engine *e, uint32_t id)
{
	grp_unlist(e, &e->adapters[id]);
}

uint32_t dvmq_engine_adapter_max_queues(const struct dvmq_engine *e, uint32_t id)
{
	if (!e || id >= e->max_adapters || !e->adapters[id].used)
		return 0;
	return e->adapters[id].desc.max_queues;
}

double dvmq_engine_bucket_demand(const struct dvmq_engine *e, uint32_t id, uint32_t bucket)
{
	if (!e || id >= e->max_adapters || !e->adapters[id].used || !e->adapters[id].gs ||
	    bucket >= DVMQ_INDIRECTION_ENTRIES)
		return 0.0;
	return e->adapters[id].gs->bdemand[bucket];
}

void eng_groups_update(struct dvmq_engine *e, uint64_t interval_ns, const struct dvmq_bucket_sample *bs,
		       size_t n_bs)
{
	if (e->n_grp == 0)
		return;
	for (uint32_t i = 0; i < e->n_grp; i++)
		e->adapters[e->grp[i]].gs->sample = NULL;
	for (size_t i = 0; i < n_bs; i++) {
		uint32_t id = bs[i].adapter;
		if (id < e->max_adapters && e->adapters[id].used && e->adapters[id].gs)
			e->adapters[id].gs->sample = &bs[i];
	}
	const double decay = e->params.peak_halflife_ns
				     ? pow(0.5, (double)interval_ns / (double)e->params.peak_halflife_ns)
				     : 0.0;
	for (uint32_t i = 0; i < e->n_grp; i++) {
		struct eng_adapter *a = &e->adapters[e->grp[i]];
		struct eng_gstate *gs = a->gs;
		const struct dvmq_queue_group *g = &a->group;
		const struct dvmq_bucket_sample *s = gs->sample;
		const uint8_t *ind = g->indirection;
		/* a queue's demand split over its buckets by their packets, else their bytes, else
		 * evenly (no counters: the hash is taken to spread flows uniformly) */
		double pk[DVMQ_MAX_GROUP_QUEUES] = { 0 }, by[DVMQ_MAX_GROUP_QUEUES] = { 0 };
		uint32_t nb[DVMQ_MAX_GROUP_QUEUES] = { 0 };
		bool all_packets = s != NULL;
		if (s) {
			for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++) {
				uint32_t k = ind[b];
				nb[k]++;
				pk[k] += (double)s->packets[b];
			}
			for (uint32_t k = 0; k < g->n_queues; k++)
				all_packets &= pk[k] > 0.0;
			/* bytes only count for a queue whose buckets saw no packets */
			for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES && !all_packets; b++)
				by[ind[b]] += (double)s->bytes[b];
		} else {
			for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
				nb[ind[b]]++;
		}
		/* per queue once, what the bucket loop would decide for each of its buckets: a
		 * bucket's share is num / den[k], num its packets, its bytes or 1 (by how[k]) */
		enum { BY_PACKETS, BY_BYTES, EVENLY };
		uint8_t how[DVMQ_MAX_GROUP_QUEUES];
		bool none[DVMQ_MAX_GROUP_QUEUES];
		double den[DVMQ_MAX_GROUP_QUEUES], est[DVMQ_MAX_GROUP_QUEUES];
		for (uint32_t k = 0; k < g->n_queues; k++) {
			how[k] = s && pk[k] > 0.0 ? BY_PACKETS : s && by[k] > 0.0 ? BY_BYTES : EVENLY;
			den[k] = how[k] == BY_PACKETS ? pk[k] : how[k] == BY_BYTES ? by[k] : (double)nb[k];
			none[k] = g->queues[k] == DVMQ_DEFAULT_QUEUE;
			est[k] = none[k] ? 0.0 : queue_est(e, g, k);
		}
		double *restrict bd = gs->bdemand, *restrict bp = gs->bpeak;
		for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++) {
			uint32_t k = ind[b];
			double num = all_packets	       ? (double)s->packets[b]
				     : how[k] == BY_PACKETS ? (double)s->packets[b]
				     : how[k] == BY_BYTES   ? (double)s->bytes[b]
							    : 1.0;
			double d = none[k] ? 0.0 : est[k] * (num / den[k]);
			bd[b] = d;
			double peak = bp[b] * decay;
			bp[b] = d > peak ? d : peak;
		}
	}
}

void eng_groups_plan_begin(struct dvmq_engine *e)
{
	for (size_t i = 0; i < e->n_pending && e->plan.n_group_changes < e->cap_group_changes; i++)
		e->plan.group_changes[e->plan.n_group_changes++] = e->pending[i];
	e->n_pending = 0;
}

void eng_bucket_move(struct dvmq_engine *e, uint32_t ai, uint32_t b, uint32_t k, enum dvmq_reason why)
{
	struct eng_adapter *a = &e->adapters[ai];
	struct eng_gstate *gs = a->gs;
	struct dvmq_queue_group *g = &a->group;
	uint32_t fk = g->indirection[b];
	if (fk == k || e->plan.n_bucket_moves >= e->cap_bucket_moves)
		return;
	uint32_t fq = g->queues[fk], tq = g->queues[k];
	struct eng_queue *f = &e->queues[fq], *t = &e->queues[tq];
	struct eng_proc *pf = &e->procs[f->proc], *pt = &e->procs[t->proc];
	double d = gs->bdemand[b], pk = gs->bpeak[b];
	struct dvmq_bucket_move *m = &e->plan.bucket_moves[e->plan.n_bucket_moves++];
	*m = (struct dvmq_bucket_move){
		.adapter = ai, .bucket = b, .from = fq, .to = tq, .from_proc = f->proc, .to_proc = t->proc,
		.reason = why, .bucket_load = d, .src_before = pf->pred, .dst_before = pt->pred,
	};
	pf->pred = pf->pred > d ? pf->pred - d : 0.0;
	pt->pred += d;
	pf->calm = pf->calm > pk ? pf->calm - pk : 0.0;
	pt->calm += pk;
	f->demand = f->demand > d ? f->demand - d : 0.0;
	t->demand += d;
	f->demand_peak = f->demand_peak > pk ? f->demand_peak - pk : 0.0;
	t->demand_peak += pk;
	m->src_after = pf->pred;
	m->dst_after = pt->pred;
	g->indirection[b] = (uint8_t)k;
	gs->bfrom[b] = fq;
	gs->bmoved_ns[b] = e->now_ns;
	gs->bround[b] = e->round;
}
