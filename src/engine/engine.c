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

static void attach(struct dvmq_engine *e, uint32_t q, uint32_t to);

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
	/* the buckets hold the set's processors only; adaptive puts them in by their loads */
	eng_buckets_clear(&e->by_load, e->n_procs);
	eng_buckets_clear(&e->by_calm, e->n_procs);
	for (uint32_t i = 0; i < n; i++) {
		eng_buckets_put(&e->by_load, e->scratch[i], 0.0);
		eng_buckets_put(&e->by_calm, e->scratch[i], 0.0);
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
	e->qnext = calloc(e->n_queues, sizeof(uint32_t));
	e->qprev = calloc(e->n_queues, sizeof(uint32_t));
	e->qmoves = aligned_alloc(64, (size_t)e->n_queues * sizeof(*e->qmoves));
	if (e->qmoves)
		memset(e->qmoves, 0, (size_t)e->n_queues * sizeof(*e->qmoves));
	e->adapters = calloc(e->max_adapters ? e->max_adapters : 1, sizeof(*e->adapters));
	e->cap_moves = (size_t)e->n_queues + e->n_procs;
	e->plan.moves = calloc(e->cap_moves, sizeof(*e->plan.moves));
	e->plan.park = calloc(e->n_procs, sizeof(uint32_t));
	e->plan.wake = calloc(e->n_procs, sizeof(uint32_t));
	e->plan.overloads = calloc(e->n_queues, sizeof(*e->plan.overloads));
	e->scratch = calloc((size_t)e->n_queues + e->n_procs, sizeof(uint32_t));
	e->order = calloc(e->n_procs, sizeof(uint32_t));
	e->set_list = calloc(e->n_procs, sizeof(uint32_t));
	e->bucket = calloc(e->n_queues, sizeof(uint32_t));
	e->bucket_start = calloc((size_t)e->n_procs + 1, sizeof(uint32_t));
	e->flag = calloc(e->n_procs, 1);
	bool buckets_ok = eng_buckets_init(&e->by_load, e->n_procs, ENG_BUCKET_SCALE_LOAD) == 0 &&
			  eng_buckets_init(&e->by_calm, e->n_procs, ENG_BUCKET_SCALE) == 0 &&
			  rsspp_workspace_init(&e->rsspp_ws, e->n_queues, e->n_procs) == 0;
	e->hist = calloc((size_t)e->n_queues * OVS_HISTORY_MAX, sizeof(float));
	e->tmp = calloc(e->n_procs, sizeof(double));
	e->pkey = calloc(e->n_procs, sizeof(double));
	e->qdest = calloc(e->n_queues, sizeof(uint32_t));
	e->ovl = calloc(e->n_queues, sizeof(uint32_t));
	e->qkey = calloc(e->n_queues, sizeof(double));
	int rc = -ENOMEM;
	if (!e->procs || !e->queues || !e->qnext || !e->qprev || !e->qmoves || !e->adapters || !e->plan.moves || !e->plan.park ||
	    !e->plan.wake || !e->plan.overloads || !e->scratch || !e->order || !e->set_list || !e->bucket ||
	    !e->bucket_start || !e->flag || !buckets_ok || !e->hist || !e->tmp || !e->pkey || !e->qdest || !e->ovl ||
	    !e->qkey)
		goto err;
	for (uint32_t p = 0; p < e->n_procs; p++) {
		e->procs[p].numa = cfg->numa_node ? cfg->numa_node[p] : 0;
		e->procs[p].qhead = ENG_NIL;
	}
	rc = build_set(e, &cfg->set);
	if (rc)
		goto err;
	for (uint32_t q = 0; q < e->n_queues; q++) {
		e->queues[q].adapter = UINT32_MAX;
		e->queues[q].proc = DVMQ_NO_PROCESSOR;
	}
	/* the default queue starts on the first processor of the set, whatever the policy */
	struct eng_queue *dq = &e->queues[DVMQ_DEFAULT_QUEUE];
	dq->active = true;
	dq->home = e->set_list[0];
	e->n_active = 1;
	attach(e, DVMQ_DEFAULT_QUEUE, e->set_list[0]);
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
	free(e->qnext);
	free(e->qprev);
	free(e->qmoves);
	for (uint32_t i = 0; e->adapters && i < e->max_adapters; i++)
		eng_group_free(&e->adapters[i]);
	free(e->adapters);
	free(e->grp);
	free(e->pending);
	free(e->plan.bucket_moves);
	free(e->plan.group_changes);
	free(e->plan.moves);
	free(e->plan.park);
	free(e->plan.wake);
	free(e->plan.overloads);
	free(e->scratch);
	free(e->order);
	free(e->set_list);
	free(e->bucket);
	free(e->bucket_start);
	free(e->flag);
	eng_buckets_free(&e->by_load);
	eng_buckets_free(&e->by_calm);
	rsspp_workspace_free(&e->rsspp_ws);
	free(e->hist);
	free(e->tmp);
	free(e->pkey);
	free(e->qdest);
	free(e->ovl);
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
	e->plan.n_overloads = 0;
	e->plan.n_bucket_moves = 0;
	e->plan.n_group_changes = 0;
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
	struct eng_queue *qq = &e->queues[q];
	qq->proc = to;
	e->qprev[q] = ENG_NIL;
	e->qnext[q] = pt->qhead;
	if (pt->qhead != ENG_NIL)
		e->qprev[pt->qhead] = q;
	pt->qhead = q;
}

static void detach(struct dvmq_engine *e, uint32_t q)
{
	struct eng_proc *pf = &e->procs[e->queues[q].proc];
	uint32_t next = e->qnext[q], prev = e->qprev[q];
	if (prev != ENG_NIL)
		e->qnext[prev] = next;
	else
		pf->qhead = next;
	if (next != ENG_NIL)
		e->qprev[next] = prev;
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
	/* the pin rule: no policy moves a pinned queue (policies skip it; this is the backstop) */
	if (from == to || e->plan.n_moves >= e->cap_moves || (qq->pinned && dvmq_reason_is_engine(why)))
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
	eng_overload_end(e, q); /* an overload that goes on after a move is a new one */
	if (dvmq_reason_is_engine(why)) {
		/* forced moves do not hold a queue back from balancing */
		qq->last_move_ns = e->now_ns;
		qq->moved = true;
	}
	/* keep the newest MOVE_HISTORY moves, oldest first */
	struct eng_qmoves *h = &e->qmoves[q];
	uint32_t n = qq->n_recent;
	if (n == MOVE_HISTORY) {
		for (uint32_t i = 1; i < MOVE_HISTORY; i++)
			h->recent[i - 1] = h->recent[i];
		n--;
	}
	h->recent[n].from = from;
	h->recent[n].to = to;
	h->recent[n].at_ns = e->now_ns;
	qq->n_recent = (uint8_t)(n + 1);
	qq->recorded_ns = e->now_ns;
}

bool eng_overload_begin(struct dvmq_engine *e, uint32_t q)
{
	if (eng_overloaded(e, q) || e->n_overloaded >= e->n_queues)
		return false;
	e->queues[q].ovl_pos = e->n_overloaded;
	e->ovl[e->n_overloaded++] = q;
	return true;
}

void eng_overload_end(struct dvmq_engine *e, uint32_t q)
{
	if (!eng_overloaded(e, q))
		return;
	uint32_t pos = e->queues[q].ovl_pos, last = e->ovl[--e->n_overloaded];
	e->ovl[pos] = last;
	e->queues[last].ovl_pos = pos;
}

/* Whether the queue's newest recorded move is within the window (the history's cold lines need
 * not be read otherwise). A slot's history outlives its queue: recorded_ns is kept likewise. */
static bool history_within(const struct dvmq_engine *e, uint32_t q, uint64_t since)
{
	return e->queues[q].recorded_ns > since && e->queues[q].n_recent > 0;
}

bool eng_undoes(const struct dvmq_engine *e, uint32_t q, uint32_t from, uint32_t to, uint64_t window_ns)
{
	const struct eng_qmoves *h = &e->qmoves[q];
	uint64_t since = e->now_ns > window_ns ? e->now_ns - window_ns : 0;
	if (!history_within(e, q, since))
		return false;
	uint32_t n = e->queues[q].n_recent;
	/* history full and all of it inside the window: the move it would undo may have been
	 * forgotten, so it cannot be proven safe */
	if (n == MOVE_HISTORY && h->recent[0].at_ns > since)
		return true;
	for (uint32_t i = 0; i < n; i++)
		if (h->recent[i].at_ns > since && h->recent[i].from == to && h->recent[i].to == from)
			return true;
	return false;
}

void eng_recent_get(const struct dvmq_engine *e, uint32_t q, uint32_t from, struct eng_recent *r)
{
	const struct eng_qmoves *h = &e->qmoves[q];
	uint64_t guard = e->params.return_guard_ns, window = e->params.return_window_ns;
	uint64_t since_guard = e->now_ns > guard ? e->now_ns - guard : 0;
	uint64_t since_window = e->now_ns > window ? e->now_ns - window : 0;
	uint64_t since = since_window < since_guard ? since_window : since_guard;
	r->all = false;
	r->n_undo = r->n_left = 0;
	if (!history_within(e, q, since))
		return;
	uint32_t n = e->queues[q].n_recent;
	r->all = n == MOVE_HISTORY && h->recent[0].at_ns > since_guard;
	for (uint32_t i = 0; i < n; i++) {
		if (h->recent[i].at_ns > since_guard && h->recent[i].to == from)
			r->undo[r->n_undo++] = h->recent[i].from;
		if (h->recent[i].at_ns > since_window)
			r->left[r->n_left++] = h->recent[i].from;
	}
}

bool eng_left_recently(const struct dvmq_engine *e, uint32_t q, uint32_t p, uint64_t window_ns)
{
	const struct eng_qmoves *h = &e->qmoves[q];
	uint64_t since = e->now_ns > window_ns ? e->now_ns - window_ns : 0;
	if (!history_within(e, q, since))
		return false;
	for (uint32_t i = e->queues[q].n_recent; i-- > 0 && h->recent[i].at_ns > since;)
		if (h->recent[i].from == p)
			return true;
	return false;
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
	case DVMQ_POLICY_RSSPP:
	case DVMQ_POLICY_IRQBALANCE:
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
	eng_queue_activate_on(e, q, adapter, eng_place_new(e));
}

void eng_queue_activate_on(struct dvmq_engine *e, uint32_t q, uint32_t adapter, uint32_t p)
{
	struct eng_queue *qq = &e->queues[q];
	/* a new queue; the slot keeps its move history (e->qmoves) so that no move can undo a
	 * recent one */
	uint64_t recorded = qq->recorded_ns;
	uint8_t n_recent = qq->n_recent;
	memset(qq, 0, sizeof(*qq));
	qq->recorded_ns = recorded;
	qq->n_recent = n_recent;
	qq->active = true;
	qq->adapter = adapter;
	qq->home = p;
	qq->hist_from = e->round;
	e->n_active++;
	attach(e, q, p);
}

void eng_queue_deactivate(struct dvmq_engine *e, uint32_t q)
{
	struct eng_queue *qq = &e->queues[q];
	if (!qq->active)
		return;
	eng_overload_end(e, q);
	detach(e, q);
	qq->active = false;
	qq->adapter = UINT32_MAX;
	qq->proc = DVMQ_NO_PROCESSOR;
	e->n_active--;
}

/* Moves every queue outside the set (or every queue, for `none`, off the base processor). */
static void replace_outside(struct dvmq_engine *e, enum dvmq_reason why)
{
	for (uint32_t q = 0; q < e->n_queues; q++) {
		struct eng_queue *qq = &e->queues[q];
		if (!qq->active)
			continue;
		/* `none` leaves a pinned queue where the operator put it; the set does not */
		bool bad = !e->procs[qq->proc].in_set ||
			   (e->params.policy == DVMQ_POLICY_NONE && qq->proc != e->set_list[0] && !qq->pinned);
		if (!bad)
			continue;
		qq->pinned = false;
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

int dvmq_engine_queue_pin(struct dvmq_engine *e, uint32_t q, uint32_t proc, uint64_t now_ns,
			  const struct dvmq_plan **plan)
{
	if (!e || q >= e->n_queues || !e->queues[q].active)
		return -ENOENT;
	if (proc >= e->n_procs || !e->procs[proc].in_set)
		return -EINVAL;
	eng_plan_reset(e, now_ns);
	struct eng_queue *qq = &e->queues[q];
	qq->pinned = false;
	eng_move(e, q, proc, DVMQ_REASON_PIN, qq->load);
	qq->pinned = true;
	if (plan)
		*plan = &e->plan;
	return 0;
}

int dvmq_engine_queue_unpin(struct dvmq_engine *e, uint32_t q)
{
	if (!e || q >= e->n_queues || !e->queues[q].active)
		return -ENOENT;
	e->queues[q].pinned = false;
	return 0;
}

bool dvmq_engine_queue_pinned(const struct dvmq_engine *e, uint32_t q)
{
	return e && q < e->n_queues && e->queues[q].active && e->queues[q].pinned;
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

double dvmq_engine_queue_demand(const struct dvmq_engine *e, uint32_t q)
{
	return q < e->n_queues && e->queues[q].active ? e->queues[q].demand : 0.0;
}

bool dvmq_engine_queue_overloaded(const struct dvmq_engine *e, uint32_t q)
{
	return q < e->n_queues && e->queues[q].active && eng_overloaded(e, q);
}

double dvmq_engine_processor_predicted(const struct dvmq_engine *e, uint32_t proc)
{
	return proc < e->n_procs ? e->procs[proc].pred : 0.0;
}

/* Bursts (adaptive's peak-hold). A burst: demand jumps by ENG_BURST_STEP or more over its
 * decaying peak (the load step the metrics count) and then, without rising by a step again, stays
 * at half that height or more for ENG_BURST_ROUNDS rounds (a spike of a round or two is noise the
 * next round answers). A burst that
 * comes back after a rest (under a quarter of its height for peak-halflife or longer: on the
 * compressed Bitbrains traces, half counted ordinary activity as rests) makes the queue
 * bursty: its hold is the height its bursts reached, kept for peak-hold after its last burst
 * ended (then forgotten). A level shift (steps up, then down once) holds nothing. */
static void burst_track(struct eng_queue *q, double demand, double peak, uint64_t now, uint64_t hold_ns,
			uint64_t rest_ns)
{
	if (demand - peak >= ENG_BURST_STEP) {
		q->cand_top = demand; /* a candidate burst starts (again, while it is still rising) */
		q->cand_rounds = 1;
		q->cand_after_rest = q->burst_fell;
	} else if (q->cand_rounds > 0) {
		if (demand < q->cand_top / 2) {
			q->cand_rounds = 0; /* too short: a spike */
		} else {
			q->cand_top = demand > q->cand_top ? demand : q->cand_top;
			q->cand_rounds++;
		}
	}
	if (q->cand_rounds >= ENG_BURST_ROUNDS) {
		q->burst_top = q->cand_top > q->burst_top ? q->cand_top : q->burst_top;
		q->burst_back |= q->cand_after_rest;
		q->burst_fell = false;
		q->low_since = 0;
		q->hold_at = now;
		q->cand_rounds = 0;
	} else if (q->burst_top > 0.0) {
		if (demand >= q->burst_top / 4) {
			q->low_since = 0;
			q->hold_at = now; /* the hold runs from the end of its last burst */
		}
		else if (!q->low_since)
			q->low_since = now;
		else if (now - q->low_since >= rest_ns)
			q->burst_fell = true;
		if (now - q->hold_at >= hold_ns) {
			q->burst_top = 0.0;
			q->burst_back = q->burst_fell = false;
			q->low_since = 0;
		}
	}
	q->demand_hold = q->burst_back ? q->burst_top : 0.0;
}

/* One pass over the queues: measured load, demand and its peak, the OVS history row, and each
 * processor's sums; then one pass over the processors: non-network load and predicted loads.
 * The queue pass runs for every queue every round (most of a round's work on a big host): the
 * arrays are read through locals (a store through qq cannot make the compiler reload them), the
 * policy test is taken out of the loop, and the common case (no drops, no backlog growth) goes
 * straight through; every sum keeps its order, so the results are the same to the bit. */
static inline void sample_queues(struct dvmq_engine *e, const struct dvmq_queue_sample *restrict queues,
				 uint64_t interval_ns, double inv_iv, double peak_decay, const bool adaptive)
{
	struct eng_queue *restrict qs = e->queues;
	struct eng_proc *restrict ps = e->procs;
	float *restrict row = &e->hist[(size_t)(e->round % OVS_HISTORY_MAX) * e->n_queues];
	const uint32_t n = e->n_queues;
	const uint64_t now = e->now_ns, hold_ns = e->params.peak_hold_ns, rest_ns = e->params.peak_halflife_ns;
	for (uint32_t q = 0; q < n; q++) {
		struct eng_queue *qq = &qs[q];
		if (!qq->active)
			continue;
		const struct dvmq_queue_sample *s = &queues[q];
		/* a queue is busy at most the whole interval: clamped first, the busy time fits in 63
		 * bits whatever a data plane hands in (>= 2^63 would convert to a negative load), and a
		 * signed conversion is one instruction, an unsigned one several (every queue, every round) */
		const uint64_t busy_ns = s->busy_ns < interval_ns ? s->busy_ns : interval_ns;
		double load = (double)(int64_t)busy_ns * inv_iv;
		load = load > 1.0 ? 1.0 : load;
		double demand = load;
		if (s->dropped > 0 || s->backlog > qq->backlog) {
			/* under pressure busy time understates what the queue needs: demand is its
			 * arrivals (processed + dropped + backlog growth) times its cost per packet */
			if (s->packets > 0) {
				double npp = (double)busy_ns / (double)s->packets;
				qq->ns_per_pkt = qq->ns_per_pkt > 0.0 ? 0.5 * npp + 0.5 * qq->ns_per_pkt : npp;
			}
			double arrivals = (double)s->packets + (double)s->dropped + (double)s->backlog -
					  (double)qq->backlog;
			double need = arrivals * qq->ns_per_pkt * inv_iv;
			if (need > demand)
				demand = need;
		}
		qq->load = load;
		qq->demand = demand;
		double peak = qq->demand_peak * peak_decay;
		burst_track(qq, demand, peak, now, hold_ns, rest_ns);
		peak = demand > peak ? demand : peak;
		qq->demand_peak = peak;
		qq->backlog = s->backlog;
		qq->arrivals = (double)(int64_t)s->packets + (double)(int64_t)s->dropped;
		struct eng_proc *pp = &ps[qq->proc];
		pp->net_load += load;
		if (adaptive) {
			pp->pred += demand;
			pp->calm += peak;
			double swing = qq->demand_hold - peak;
			if (swing > pp->swing)
				pp->swing = swing;
		}
		/* ovs-alb keeps a history for every policy so that a policy change finds it full */
		row[q] = (float)load;
	}
}

static void update_samples(struct dvmq_engine *e, uint64_t interval_ns,
			   const struct dvmq_proc_sample *procs, const struct dvmq_queue_sample *queues)
{
	const double a = e->params.ewma_alpha;
	const double inv_iv = 1.0 / (double)interval_ns;
	const double peak_decay = e->params.peak_halflife_ns
					  ? pow(0.5, (double)interval_ns / (double)e->params.peak_halflife_ns)
					  : 0.0;
	const bool adaptive = e->params.policy == DVMQ_POLICY_ADAPTIVE;
	for (uint32_t p = 0; p < e->n_procs; p++) {
		struct eng_proc *pp = &e->procs[p];
		pp->net_load = pp->pred = pp->calm = pp->swing = 0.0;
	}
	if (adaptive)
		sample_queues(e, queues, interval_ns, inv_iv, peak_decay, true);
	else
		sample_queues(e, queues, interval_ns, inv_iv, peak_decay, false);
	e->round++;
	for (uint32_t p = 0; p < e->n_procs; p++) {
		struct eng_proc *pp = &e->procs[p];
		double busy = procs[p].busy;
		pp->load = clamp01(isfinite(busy) ? busy : 0.0);
		pp->other = pp->load - pp->net_load;
		if (pp->other < 0.0)
			pp->other = 0.0;
		pp->other_ewma = a * pp->other + (1.0 - a) * pp->other_ewma;
		if (adaptive) {
			/* predicted = non-network load + its queues' demand; calm (coalescing) takes the
			 * higher of the two non-network readings and the queues' decaying peaks */
			pp->pred += pp->other;
			pp->calm += pp->other_ewma > pp->other ? pp->other_ewma : pp->other;
		} else {
			pp->pred = pp->load;
		}
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
	return dvmq_engine_plan_ex(e, now_ns, interval_ns, procs, queues, NULL, 0, plan);
}

int dvmq_engine_plan_ex(struct dvmq_engine *e, uint64_t now_ns, uint64_t interval_ns,
			const struct dvmq_proc_sample *procs, const struct dvmq_queue_sample *queues,
			const struct dvmq_bucket_sample *buckets, size_t n_buckets, const struct dvmq_plan **plan)
{
	if (!e || !procs || !queues || !plan || interval_ns == 0 || (n_buckets > 0 && !buckets))
		return -EINVAL;
	eng_plan_reset(e, now_ns);
	eng_groups_plan_begin(e);
	update_samples(e, interval_ns, procs, queues);
	eng_groups_update(e, interval_ns, buckets, n_buckets);
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
	case DVMQ_POLICY_RSSPP:
		eng_policy_rsspp(e);
		break;
	case DVMQ_POLICY_IRQBALANCE:
		eng_policy_irqbalance(e);
		break;
	case DVMQ_POLICY_NONE:
	case DVMQ_POLICY_STATIC:
	default:
		break;
	}
	*plan = &e->plan;
	return 0;
}
