/* The engine handle: processors, the processor set, queues, adapters, and the planning round that
 * updates loads from samples and hands over to the selected policy.
 * Invariant: every active queue sits on a processor of the set (see engine_internal.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static double clamp01(double x)
{
	return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
}

uint32_t eng_distance(const struct dvmq_engine *e, uint32_t a, uint32_t b)
{
	uint32_t d = a > b ? a - b : b - a;
	return (e->procs[a].numa != e->procs[b].numa ? DVMQ_MAX_PROCESSORS : 0u) + d;
}

static int build_set(struct dvmq_engine *e, const struct dvmq_processor_set *s)
{
	if (s->numa_node < -1 || s->base >= e->n_procs)
		return -EINVAL;
	for (size_t i = 0; i < s->n_excluded; i++)
		if (s->excluded[i] >= e->n_procs)
			return -EINVAL;
	uint32_t n = 0;
	for (uint32_t p = s->base; p < e->n_procs; p++) {
		bool ok = s->numa_node < 0 || e->procs[p].numa == (uint32_t)s->numa_node;
		for (size_t i = 0; ok && i < s->n_excluded; i++)
			ok = s->excluded[i] != p;
		if (ok && (s->max == 0 || n < s->max))
			e->scratch[n++] = p;
	}
	if (n == 0)
		return -EINVAL;
	for (uint32_t p = 0; p < e->n_procs; p++)
		e->procs[p].in_set = false;
	for (uint32_t i = 0; i < n; i++) {
		e->set_list[i] = e->scratch[i];
		e->procs[e->scratch[i]].in_set = true;
	}
	e->n_set = n;
	return 0;
}

int dvmq_engine_create(const struct dvmq_engine_config *cfg, struct dvmq_engine **out)
{
	if (!cfg || !out || cfg->n_processors == 0 || cfg->n_processors > DVMQ_MAX_PROCESSORS ||
	    cfg->queue_pool > DVMQ_MAX_QUEUE_POOL || cfg->max_adapters > (1u << 24) ||
	    dvmq_engine_params_validate(&cfg->params) != 0)
		return -EINVAL;
	struct dvmq_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->params = cfg->params;
	e->n_procs = cfg->n_processors;
	e->n_queues = cfg->queue_pool + 1;
	e->max_adapters = cfg->max_adapters;
	e->procs = calloc(e->n_procs, sizeof(*e->procs));
	e->queues = calloc(e->n_queues, sizeof(*e->queues));
	e->adapters = calloc(e->max_adapters ? e->max_adapters : 1, sizeof(*e->adapters));
	e->cap_moves = (size_t)e->n_queues + e->n_procs;
	e->plan.moves = calloc(e->cap_moves, sizeof(*e->plan.moves));
	e->plan.park = calloc(e->n_procs, sizeof(uint32_t));
	e->plan.wake = calloc(e->n_procs, sizeof(uint32_t));
	e->scratch = calloc((size_t)e->n_queues + e->n_procs, sizeof(uint32_t));
	e->order = calloc(e->n_procs, sizeof(uint32_t));
	e->set_list = calloc(e->n_procs, sizeof(uint32_t));
	e->bucket = calloc(e->n_queues, sizeof(uint32_t));
	e->bucket_start = calloc((size_t)e->n_procs + 1, sizeof(uint32_t));
	e->flag = calloc(e->n_procs, 1);
	e->by_load = calloc(e->n_procs, sizeof(uint32_t));
	e->by_load_pos = calloc(e->n_procs, sizeof(uint32_t));
	e->hist = calloc((size_t)e->n_queues * OVS_HISTORY_MAX, sizeof(float));
	e->tmp = calloc(e->n_procs, sizeof(double));
	e->qkey = calloc(e->n_queues, sizeof(double));
	int rc = -ENOMEM;
	if (!e->procs || !e->queues || !e->adapters || !e->plan.moves || !e->plan.park ||
	    !e->plan.wake || !e->scratch || !e->order || !e->set_list || !e->bucket ||
	    !e->bucket_start || !e->flag || !e->by_load || !e->by_load_pos || !e->hist || !e->tmp || !e->qkey)
		goto err;
	for (uint32_t p = 0; p < e->n_procs; p++)
		e->procs[p].numa = cfg->numa_node ? cfg->numa_node[p] : 0;
	rc = build_set(e, &cfg->set);
	if (rc)
		goto err;
	for (uint32_t q = 0; q < e->n_queues; q++)
		e->queues[q].adapter = UINT32_MAX;
	struct eng_queue *dq = &e->queues[DVMQ_DEFAULT_QUEUE];
	dq->active = true;
	dq->proc = dq->home = e->set_list[0];
	e->procs[dq->proc].n_queues = 1;
	e->procs[dq->proc].awake = true;
	*out = e;
	return 0;
err:
	dvmq_engine_destroy(e);
	return rc;
}

void dvmq_engine_destroy(struct dvmq_engine *e)
{
	if (!e)
		return;
	free(e->procs);
	free(e->queues);
	free(e->adapters);
	free(e->plan.moves);
	free(e->plan.park);
	free(e->plan.wake);
	free(e->scratch);
	free(e->order);
	free(e->set_list);
	free(e->bucket);
	free(e->bucket_start);
	free(e->flag);
	free(e->by_load);
	free(e->by_load_pos);
	free(e->hist);
	free(e->tmp);
	free(e->qkey);
	free(e);
}

/* Counting sort of active queues by processor: O(queues + processors). */
void eng_bucket_build(struct dvmq_engine *e)
{
	uint32_t *start = e->bucket_start;
	memset(start, 0, sizeof(uint32_t) * ((size_t)e->n_procs + 1));
	for (uint32_t q = 0; q < e->n_queues; q++)
		if (e->queues[q].active)
			start[e->queues[q].proc + 1]++;
	for (uint32_t p = 0; p < e->n_procs; p++)
		start[p + 1] += start[p];
	uint32_t *fill = e->scratch; /* n_procs entries of the n_queues + n_procs scratch */
	memcpy(fill, start, sizeof(uint32_t) * e->n_procs);
	for (uint32_t q = 0; q < e->n_queues; q++)
		if (e->queues[q].active)
			e->bucket[fill[e->queues[q].proc]++] = q;
}

void eng_sort_by_key(uint32_t *idx, uint32_t n, const double *key)
{
	/* insertion sort for the short per-processor lists, shell gaps keep long ones O(n^1.3) */
	static const uint32_t gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };
	for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		uint32_t gap = gaps[g];
		if (gap >= n && gap != 1)
			continue;
		for (uint32_t i = gap; i < n; i++) {
			uint32_t v = idx[i];
			uint32_t j = i;
			while (j >= gap && key[idx[j - gap]] > key[v]) {
				idx[j] = idx[j - gap];
				j -= gap;
			}
			idx[j] = v;
		}
	}
}

void eng_plan_reset(struct dvmq_engine *e, uint64_t now_ns)
{
	e->now_ns = now_ns;
	e->plan.now_ns = now_ns;
	e->plan.n_moves = 0;
	e->plan.n_park = 0;
	e->plan.n_wake = 0;
}

static void list_remove(uint32_t *list, size_t *n, uint32_t v)
{
	for (size_t i = 0; i < *n; i++) {
		if (list[i] == v) {
			list[i] = list[--*n];
			return;
		}
	}
}

/* Moves without recording: the shared bookkeeping of placement and moves. */
static void attach(struct dvmq_engine *e, uint32_t q, uint32_t to)
{
	struct eng_proc *pt = &e->procs[to];
	if (!pt->awake) {
		pt->awake = true;
		list_remove(e->plan.park, &e->plan.n_park, to);
		if (e->plan.n_wake < e->n_procs)
			e->plan.wake[e->plan.n_wake++] = to;
	}
	pt->n_queues++;
	e->queues[q].proc = to;
}

static void detach(struct dvmq_engine *e, uint32_t q)
{
	struct eng_proc *pf = &e->procs[e->queues[q].proc];
	if (--pf->n_queues == 0) {
		pf->awake = false;
		uint32_t id = (uint32_t)(pf - e->procs);
		list_remove(e->plan.wake, &e->plan.n_wake, id);
		if (e->plan.n_park < e->n_procs)
			e->plan.park[e->plan.n_park++] = id;
	}
}

void eng_move(struct dvmq_engine *e, uint32_t q, uint32_t to, enum dvmq_reason why, double qload)
{
	struct eng_queue *qq = &e->queues[q];
	uint32_t from = qq->proc;
	if (from == to || e->plan.n_moves >= e->cap_moves)
		return;
	struct dvmq_move *m = &e->plan.moves[e->plan.n_moves++];
	m->queue = q;
	m->from = from;
	m->to = to;
	m->reason = why;
	m->queue_load = qload;
	m->src_before = e->procs[from].pred;
	m->dst_before = e->procs[to].pred;
	e->procs[from].pred -= qload;
	if (e->procs[from].pred < 0.0)
		e->procs[from].pred = 0.0;
	e->procs[to].pred += qload;
	m->src_after = e->procs[from].pred;
	m->dst_after = e->procs[to].pred;
	detach(e, q);
	attach(e, q, to);
	if (why != DVMQ_REASON_POLICY && why != DVMQ_REASON_PROCESSOR_SET) {
		/* forced moves do not hold a queue back from balancing */
		qq->last_move_ns = e->now_ns;
		qq->moved = true;
	}
	/* keep the newest MOVE_HISTORY moves, oldest first */
	if (qq->n_recent == MOVE_HISTORY) {
		memmove(&qq->recent[0], &qq->recent[1], sizeof(qq->recent[0]) * (MOVE_HISTORY - 1));
		qq->n_recent--;
	}
	qq->recent[qq->n_recent].from = from;
	qq->recent[qq->n_recent].to = to;
	qq->recent[qq->n_recent].at_ns = e->now_ns;
	qq->n_recent++;
}

/* Where a newly activated queue starts. */
uint32_t eng_place_new(struct dvmq_engine *e)
{
	switch (e->params.policy) {
	case DVMQ_POLICY_NONE:
		return e->set_list[0];
	case DVMQ_POLICY_ADAPTIVE:
		/* a new queue's load is unknown: give it a processor of its own if one is parked
		 * (coalescing packs it once measured), else share round-robin */
		for (uint32_t i = 0; i < e->n_set; i++)
			if (!e->procs[e->set_list[i]].awake)
				return e->set_list[i];
		break;
	case DVMQ_POLICY_STATIC:
	case DVMQ_POLICY_DYNAMIC:
	case DVMQ_POLICY_OVS_ALB:
	default:
		break;
	}
	uint32_t p = e->set_list[e->rr_next % e->n_set];
	e->rr_next = (e->rr_next + 1) % e->n_set;
	return p;
}

/* Called by pool.c when a queue slot is granted to an adapter. */
void eng_queue_activate(struct dvmq_engine *e, uint32_t q, uint32_t adapter)
{
	struct eng_queue *qq = &e->queues[q];
	uint32_t p = eng_place_new(e);
	/* a new queue; the slot keeps its move history so that no move can undo a recent one */
	uint32_t n_recent = qq->n_recent;
	__typeof__(qq->recent) recent;
	memcpy(recent, qq->recent, sizeof(recent));
	memset(qq, 0, sizeof(*qq));
	qq->n_recent = n_recent;
	memcpy(qq->recent, recent, sizeof(recent));
	qq->active = true;
	qq->adapter = adapter;
	qq->home = p;
	attach(e, q, p);
}

void eng_queue_deactivate(struct dvmq_engine *e, uint32_t q)
{
	struct eng_queue *qq = &e->queues[q];
	if (!qq->active)
		return;
	detach(e, q);
	qq->active = false;
	qq->adapter = UINT32_MAX;
	qq->proc = DVMQ_NO_PROCESSOR;
}

/* Moves every queue outside the set (or every queue, for `none`, off the base processor). */
static void replace_outside(struct dvmq_engine *e, enum dvmq_reason why)
{
	for (uint32_t q = 0; q < e->n_queues; q++) {
		struct eng_queue *qq = &e->queues[q];
		if (!qq->active)
			continue;
		bool bad = !e->procs[qq->proc].in_set ||
			   (e->params.policy == DVMQ_POLICY_NONE && qq->proc != e->set_list[0]);
		if (!bad)
			continue;
		uint32_t to = e->params.policy == DVMQ_POLICY_NONE ? e->set_list[0] : DVMQ_NO_PROCESSOR;
		if (to == DVMQ_NO_PROCESSOR) {
			/* nearest processor of the set, so that NUMA locality survives */
			for (uint32_t i = 0; i < e->n_set; i++) {
				uint32_t c = e->set_list[i];
				if (to == DVMQ_NO_PROCESSOR ||
				    eng_distance(e, qq->proc, c) < eng_distance(e, qq->proc, to))
					to = c;
			}
		}
		eng_move(e, q, to, why, qq->load);
		if (!e->procs[qq->home].in_set)
			qq->home = to;
	}
}

int dvmq_engine_set_processor_set(struct dvmq_engine *e, const struct dvmq_processor_set *set,
				  uint64_t now_ns, const struct dvmq_plan **plan)
{
	if (!e || !set)
		return -EINVAL;
	int rc = build_set(e, set);
	if (rc)
		return rc;
	eng_plan_reset(e, now_ns);
	replace_outside(e, DVMQ_REASON_PROCESSOR_SET);
	if (plan)
		*plan = &e->plan;
	return 0;
}

bool dvmq_engine_processor_in_set(const struct dvmq_engine *e, uint32_t proc)
{
	return proc < e->n_procs && e->procs[proc].in_set;
}

int dvmq_engine_set_params(struct dvmq_engine *e, const struct dvmq_engine_params *p, uint64_t now_ns,
			   const struct dvmq_plan **plan)
{
	if (!e || !p || dvmq_engine_params_validate(p) != 0)
		return -EINVAL;
	e->params = *p;
	eng_plan_reset(e, now_ns);
	if (p->policy == DVMQ_POLICY_NONE)
		replace_outside(e, DVMQ_REASON_POLICY);
	if (plan)
		*plan = &e->plan;
	return 0;
}

const struct dvmq_engine_params *dvmq_engine_params(const struct dvmq_engine *e)
{
	return &e->params;
}

uint32_t dvmq_engine_n_queues(const struct dvmq_engine *e)
{
	return e->n_queues;
}

uint32_t dvmq_engine_n_processors(const struct dvmq_engine *e)
{
	return e->n_procs;
}

uint32_t dvmq_engine_queue_processor(const struct dvmq_engine *e, uint32_t q)
{
	return q < e->n_queues && e->queues[q].active ? e->queues[q].proc : DVMQ_NO_PROCESSOR;
}

uint32_t dvmq_engine_queue_home(const struct dvmq_engine *e, uint32_t q)
{
	return q < e->n_queues && e->queues[q].active ? e->queues[q].home : DVMQ_NO_PROCESSOR;
}

uint32_t dvmq_engine_queue_adapter(const struct dvmq_engine *e, uint32_t q)
{
	return q < e->n_queues ? e->queues[q].adapter : UINT32_MAX;
}

bool dvmq_engine_processor_awake(const struct dvmq_engine *e, uint32_t proc)
{
	return proc < e->n_procs && e->procs[proc].awake;
}

static void update_samples(struct dvmq_engine *e, uint64_t interval_ns,
			   const struct dvmq_proc_sample *procs, const struct dvmq_queue_sample *queues)
{
	const double a = e->params.ewma_alpha;
	const double iv = (double)interval_ns;
	const double peak_decay = e->params.peak_halflife_ns
					  ? pow(0.5, iv / (double)e->params.peak_halflife_ns)
					  : 0.0;
	for (uint32_t p = 0; p < e->n_procs; p++) {
		struct eng_proc *pp = &e->procs[p];
		double busy = procs[p].busy;
		pp->load = clamp01(isfinite(busy) ? busy : 0.0);
		pp->ewma = a * pp->load + (1.0 - a) * pp->ewma;
		pp->other = pp->load; /* network part subtracted below */
	}
	for (uint32_t q = 0; q < e->n_queues; q++) {
		struct eng_queue *qq = &e->queues[q];
		if (!qq->active)
			continue;
		const struct dvmq_queue_sample *s = &queues[q];
		qq->load = clamp01((double)s->busy_ns / iv);
		qq->ewma = a * qq->load + (1.0 - a) * qq->ewma;
		if (s->packets > 0) {
			double npp = (double)s->busy_ns / (double)s->packets;
			qq->ns_per_pkt = qq->ns_per_pkt > 0.0 ? 0.5 * npp + 0.5 * qq->ns_per_pkt : npp;
		}
		/* arrivals = processed + dropped + backlog growth; demand = arrivals x cost. On a
		 * saturated processor busy time understates what the queue needs; this does not. */
		double arrivals = (double)s->packets + (double)s->dropped + (double)s->backlog -
				  (double)qq->backlog;
		double demand = qq->load;
		if (qq->ns_per_pkt > 0.0 && arrivals > 0.0)
			demand = fmax(demand, arrivals * qq->ns_per_pkt / iv);
		qq->demand = demand;
		qq->demand_peak = fmax(demand, qq->demand_peak * peak_decay);
		qq->backlog = s->backlog;
		e->procs[qq->proc].other -= qq->load;
		/* ovs-alb keeps a history for every policy so that a policy change finds it full */
		e->hist[(size_t)q * OVS_HISTORY_MAX + qq->hist_pos] = (float)qq->load;
		qq->hist_pos = (qq->hist_pos + 1) % OVS_HISTORY_MAX;
		if (qq->n_hist < OVS_HISTORY_MAX)
			qq->n_hist++;
	}
	for (uint32_t p = 0; p < e->n_procs; p++) {
		struct eng_proc *pp = &e->procs[p];
		if (pp->other < 0.0)
			pp->other = 0.0;
		pp->other_ewma = a * pp->other + (1.0 - a) * pp->other_ewma;
		pp->pred = pp->load;
		if (pp->load >= e->params.ovs_threshold)
			pp->hot_rounds++;
		else
			pp->hot_rounds = 0;
	}
}

int dvmq_engine_plan(struct dvmq_engine *e, uint64_t now_ns, uint64_t interval_ns,
		     const struct dvmq_proc_sample *procs, const struct dvmq_queue_sample *queues,
		     const struct dvmq_plan **plan)
{
	if (!e || !procs || !queues || !plan || interval_ns == 0)
		return -EINVAL;
	eng_plan_reset(e, now_ns);
	update_samples(e, interval_ns, procs, queues);
	switch (e->params.policy) {
	case DVMQ_POLICY_DYNAMIC:
		eng_policy_dynamic(e);
		break;
	case DVMQ_POLICY_ADAPTIVE:
		eng_policy_adaptive(e);
		break;
	case DVMQ_POLICY_OVS_ALB:
		eng_policy_ovs(e);
		break;
	case DVMQ_POLICY_NONE:
	case DVMQ_POLICY_STATIC:
	default:
		break;
	}
	*plan = &e->plan;
	return 0;
}
