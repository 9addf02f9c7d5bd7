/* The control thread's sampling round for `dvmq run`: /proc/stat and the workers' counters
 * become engine samples, the plan becomes handoffs, and the metrics keep the simulator's
 * definitions (DESIGN section 7) so `dvmq sim` and `dvmq run` compare field by field.
 * Every plan the engine makes (a round, `rebalance`, a policy or processor-set change) goes
 * through run_apply_plan: one place records, counts, publishes and hands off each move. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dvmq/oracle.h"
#include "run_internal.h"

int run_metrics_create(struct run *r)
{
	r->proc_net = calloc(r->n_procs, sizeof(*r->proc_net));
	r->remaining = calloc(r->n_procs, sizeof(*r->remaining));
	r->queue_load = calloc(r->n_queues, sizeof(*r->queue_load));
	r->p_ring_full = calloc(r->n_procs, sizeof(*r->p_ring_full));
	if (!r->proc_net || !r->remaining || !r->queue_load || !r->p_ring_full)
		return -ENOMEM;
	int rc = run_history_create(r);
	return rc ? rc : dvmq_oracle_create(r->n_procs, &r->oracle);
}

void run_metrics_destroy(struct run *r)
{
	dvmq_oracle_destroy(r->oracle);
	run_history_destroy(r);
	free(r->p_ring_full);
	free(r->proc_net);
	free(r->remaining);
	free(r->queue_load);
}

double run_hist_quantile(const uint64_t *h, double q)
{
	struct dvmq_hist hist;
	dvmq_hist_reset(&hist);
	for (unsigned b = 0; b < DVMQ_HIST_BUCKETS; b++)
		if (h[b])
			dvmq_hist_add_bucket(&hist, b, (double)h[b]);
	return dvmq_hist_quantile(&hist, q);
}

#define LATENCY_TARGET_NS 1000000ull /* a scenario's default p99 target, for hosts without one */

const char *run_queue_vm(const struct run *r, uint32_t q)
{
	if (q == DVMQ_DEFAULT_QUEUE)
		return "default";
	uint32_t a = dvmq_engine_queue_adapter(r->engine, q);
	uint32_t slot = a < r->cap_vms ? r->adapter_vm[a] : RUN_NO_SLOT;
	return slot != RUN_NO_SLOT ? r->vm[slot].name : "-";
}

static void latency_totals(struct run *r, uint64_t *out)
{
	if (r->dpif->latency)
		r->dpif->latency(r, out);
	else
		memset(out, 0, sizeof(*out) * DVMQ_HIST_BUCKETS);
}

/* A queue stuck over high, once, when it starts: a single-queue overload (that VM needs VMMQ: no
 * move can help it) or no room (other work fills every processor), in the live view. */
static void log_overload(struct run *r, const struct dvmq_overload *ov, uint64_t t)
{
	if (r->n_overload_log == RUN_LOG_MOVES) {
		memmove(r->overload_log[0], r->overload_log[1], sizeof(r->overload_log[0]) * (RUN_LOG_MOVES - 1));
		r->n_overload_log--;
	}
	char words[200];
	dvmq_overload_format(ov, words, sizeof(words));
	snprintf(r->overload_log[r->n_overload_log++], sizeof(r->overload_log[0]), "%7.1f s  queue %u (%s) on cpu%d  %s",
		 (double)t * 1e-9, ov->queue, run_queue_vm(r, ov->queue), r->cpus[ov->processor], words);
}

static void log_move(struct run *r, const struct dvmq_move *mv, uint64_t t, bool pingpong)
{
	if (r->n_log == RUN_LOG_MOVES) {
		memmove(r->move_log[0], r->move_log[1], sizeof(r->move_log[0]) * (RUN_LOG_MOVES - 1));
		r->n_log--;
	}
	snprintf(r->move_log[r->n_log++], sizeof(r->move_log[0]),
		 "%7.1f s  queue %u (%s) cpu%d -> cpu%d  %s  load %.0f%%  src %.0f%% -> %.0f%%  dst %.0f%% -> %.0f%%%s",
		 (double)t * 1e-9, mv->queue, run_queue_vm(r, mv->queue), r->cpus[mv->from], r->cpus[mv->to],
		 dvmq_reason_name(mv->reason), mv->queue_load * 100, mv->src_before * 100, mv->src_after * 100,
		 mv->dst_before * 100, mv->dst_after * 100, pingpong ? "  PING-PONG" : "");
}

static void sample_queues(struct run *r)
{
	const double iv = (double)r->elapsed_ns;
	for (uint32_t p = 0; p < r->n_procs; p++) {
		r->queues_on[p] = 0;
		r->movable_on[p] = 0;
		r->proc_net[p] = 0.0;
	}
	for (uint32_t q = 0; q < r->n_queues; q++) {
		struct run_dpif_queue now;
		r->dpif->queue_stats(r, q, &now);
		struct run_queue *rq = &r->q[q];
		struct dvmq_queue_sample *qs = &r->qs[q];
		qs->busy_ns = now.busy_ns - rq->prev.busy_ns;
		qs->packets = now.packets - rq->prev.packets;
		qs->bytes = now.bytes - rq->prev.bytes;
		qs->dropped = now.dropped - rq->prev.dropped;
		qs->backlog = now.backlog;
		rq->prev = now;
		r->busy_ns += (double)qs->busy_ns;
		double net = (double)qs->busy_ns / iv;
		/* the oracle sizes a queue by its demand: the work it was offered, dropped frames included */
		double demand = net;
		if (qs->packets > 0)
			demand = net * (double)(qs->packets + qs->dropped) / (double)qs->packets;
		r->queue_load[q] = demand; /* its unavoidable part: oracle_interval */
		uint32_t p = dvmq_engine_queue_processor(r->engine, q);
		if (p != DVMQ_NO_PROCESSOR) {
			r->queues_on[p]++;
			r->p_ring_full[p] += qs->dropped; /* processor show: its rings' overflows */
			/* the step judge counts the queues a spread move may take: at or above the floor
			 * (as the simulator does, src/sim/sim_round.c) */
			r->movable_on[p] += (double)qs->busy_ns >= r->params.spread_floor * iv;
			r->proc_net[p] += net;
		}
	}
	/* /proc/stat ticks at 100 Hz; the queues' own busy time is exact (and all there is with
	 * --own-load): a processor is at least as busy as its queues together */
	for (uint32_t p = 0; p < r->n_procs; p++)
		r->ps[p].busy = procstat_processor_load(r->ps[p].busy, r->proc_net[p]);
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The next entry of the move log (the oldest goes when it is full). */
static struct dvmq_snap_move *log_slot(struct run *r)
{
	struct dvmq_snap_move *m = &r->mlog[(r->mlog_head + r->mlog_n) % RUN_MOVE_HISTORY];
	if (r->mlog_n == RUN_MOVE_HISTORY)
		r->mlog_head = (r->mlog_head + 1) % RUN_MOVE_HISTORY;
	else
		r->mlog_n++;
	return m;
}

static void record_move(struct run *r, const struct dvmq_move *mv, uint64_t t, bool pp, struct dvmq_snap_move *out)
{
	struct dvmq_snap_move *m = log_slot(r);
	*m = (struct dvmq_snap_move){
		.seq = ++r->move_seq, .at_ns = t, .queue = mv->queue, .from = mv->from, .to = mv->to, .reason = mv->reason,
		.queue_load = mv->queue_load, .src_before = mv->src_before, .src_after = mv->src_after,
		.dst_before = mv->dst_before, .dst_after = mv->dst_after, .pingpong = pp,
	};
	if (mv->queue != DVMQ_DEFAULT_QUEUE)
		snprintf(m->vm, sizeof(m->vm), "%s", run_queue_vm(r, mv->queue));
	if (out)
		*out = *m;
	run_ctl_move(r, m);
}

/* VMMQ: the interval's per-bucket samples of the VMs that may hold a group (r->bs), from the
 * data plane's counters; and what their buckets say cannot be served whatever the policy (the
 * oracle's unavoidable drops, by bucket as the simulator counts them). */
static void sample_buckets(struct run *r)
{
	r->n_bs = 0;
	if (!r->dpif->vm_buckets)
		return;
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		struct run_vm *vm = &r->vm[i];
		if (!vm->used || !vm->attached || !vm->bucket_prev || !vm->told_hashed)
			continue;
		if (r->n_bs == r->cap_bs) {
			uint32_t cap = r->cap_bs ? 2 * r->cap_bs : 4;
			struct dvmq_bucket_sample *bs = realloc(r->bs, cap * sizeof(*bs));
			if (!bs)
				return; /* the engine takes such groups as even this interval */
			r->bs = bs;
			r->cap_bs = cap;
		}
		struct dvmq_bucket_sample *s = &r->bs[r->n_bs];
		uint64_t pk[DVMQ_INDIRECTION_ENTRIES], by[DVMQ_INDIRECTION_ENTRIES];
		if (r->dpif->vm_buckets(r, i, pk, by) != 0)
			continue;
		uint64_t *prev = vm->bucket_prev;
		s->adapter = vm->adapter_id;
		for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++) {
			s->packets[b] = pk[b] - prev[b];
			s->bytes[b] = by[b] - prev[DVMQ_INDIRECTION_ENTRIES + b];
			prev[b] = pk[b];
			prev[DVMQ_INDIRECTION_ENTRIES + b] = by[b];
		}
		r->n_bs++;
	}
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The oracle's bound this interval (processors) and its unavoidable frames: a queue is one item,
 * a VM with a group (a bucket sample) is divisible by bucket (docs/simulator.md, the oracle). */
static uint32_t oracle_interval(struct run *r, uint32_t n_set)
{
	struct dvmq_oracle_tally t;
	if (dvmq_oracle_set_capacity(r->oracle, r->remaining, n_set))
		return 1;
	dvmq_oracle_tally_begin(r->oracle, &t);
	for (uint32_t q = 0; q < r->n_queues; q++) {
		uint32_t a = dvmq_engine_queue_adapter(r->engine, q);
		bool grouped = false;
		for (uint32_t i = 0; i < r->n_bs && !grouped; i++)
			grouped = r->bs[i].adapter == a;
		if (grouped)
			continue;
		dvmq_oracle_tally_add(&t, r->queue_load[q]);
		/* what a single queue asks beyond one processor is lost whatever the policy */
		double d = r->queue_load[q];
		if (d > 1.0)
			r->unavoidable += (d - 1.0) / d * (double)(r->qs[q].packets + r->qs[q].dropped);
	}
	for (uint32_t i = 0; i < r->n_bs; i++) {
		const struct dvmq_bucket_sample *s = &r->bs[i];
		const struct dvmq_queue_group *g = dvmq_engine_adapter_group(r->engine, s->adapter);
		double load = 0.0, frames = 0.0, w[DVMQ_INDIRECTION_ENTRIES], total = 0.0;
		for (uint32_t k = 0; g && k < g->n_queues; k++) {
			load += r->queue_load[g->queues[k]];
			frames += (double)(r->qs[g->queues[k]].packets + r->qs[g->queues[k]].dropped);
		}
		for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
			total += (double)s->packets[b];
		if (!(total > 0.0) || !(load > 0.0))
			continue;
		for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
			w[b] = (double)s->packets[b] / total;
		qsort(w, DVMQ_INDIRECTION_ENTRIES, sizeof(w[0]), cmp_desc);
		dvmq_oracle_tally_add_divisible(&t, load, w, DVMQ_INDIRECTION_ENTRIES);
		double ex = dvmq_oracle_group_excess(load, w, DVMQ_INDIRECTION_ENTRIES,
						     dvmq_engine_adapter_max_queues(r->engine, s->adapter));
		r->unavoidable += ex / load * frames;
	}
	return dvmq_oracle_processors(r->oracle, &t);
}

/* A plan's group changes and bucket moves: counted, logged, and the data plane told the VMs'
 * new tables (run_sync_dp places grown queues first). */
static int apply_groups(struct run *r, const struct dvmq_plan *plan, uint64_t t)
{
	if (plan->n_bucket_moves == 0 && plan->n_group_changes == 0)
		return 0;
	for (size_t i = 0; i < plan->n_bucket_moves; i++) {
		const struct dvmq_bucket_move *m = &plan->bucket_moves[i];
		r->bucket_moves++;
		r->acc->moves_by_reason[m->reason < DVMQ_REASON_COUNT ? m->reason : 0]++;
		uint32_t slot = m->adapter < r->cap_vms ? r->adapter_vm[m->adapter] : RUN_NO_SLOT;
		if (slot != RUN_NO_SLOT)
			r->vm[slot].bucket_moves++;
		/* the move log gets one entry per VM, queue pair and reason of the plan (a grow moves
		 * dozens of buckets at once: one line) */
		bool first = true;
		for (size_t j = 0; j < i && first; j++) {
			const struct dvmq_bucket_move *o = &plan->bucket_moves[j];
			first = !(o->adapter == m->adapter && o->from == m->from && o->to == m->to && o->reason == m->reason);
		}
		if (!first)
			continue;
		struct dvmq_snap_move *e = log_slot(r);
		*e = (struct dvmq_snap_move){
			.seq = ++r->move_seq, .at_ns = t, .queue = m->from, .from = m->from_proc, .to = m->to_proc,
			.reason = m->reason, .src_before = m->src_before, .dst_before = m->dst_before, .to_queue = m->to,
		};
		for (size_t j = i; j < plan->n_bucket_moves; j++) {
			const struct dvmq_bucket_move *o = &plan->bucket_moves[j];
			if (o->adapter == m->adapter && o->from == m->from && o->to == m->to && o->reason == m->reason) {
				e->buckets++;
				e->queue_load += o->bucket_load;
				e->src_after = o->src_after;
				e->dst_after = o->dst_after;
			}
		}
		if (slot != RUN_NO_SLOT)
			snprintf(e->vm, sizeof(e->vm), "%s", r->vm[slot].name);
		run_ctl_move(r, e);
	}
	for (size_t i = 0; i < plan->n_group_changes; i++) {
		const struct dvmq_group_change *c = &plan->group_changes[i];
		bool grow = c->kind == DVMQ_GROUP_GROW;
		r->group_grows += grow;
		r->group_shrinks += !grow;
		uint32_t slot = c->adapter < r->cap_vms ? r->adapter_vm[c->adapter] : RUN_NO_SLOT;
		run_log(r, DVMQ_LOG_INFO, "%.3f s: vm %s: group %s %u -> %u queues (%s): queue %u on cpu %u, %u buckets, "
			"%.1f%% of a processor",
			(double)t * 1e-9, slot != RUN_NO_SLOT ? r->vm[slot].name : "?", dvmq_group_change_kind_name(c->kind),
			c->n_before, c->n_after, dvmq_group_why_name(c->why), c->queue, c->processor, c->n_buckets,
			c->moved_load * 100.0);
	}
	return run_sync_dp(r);
}

int run_apply_plan(struct run *r, const struct dvmq_plan *plan, uint64_t t, bool by_operator, struct dvmq_snap_move *out,
		   size_t max, size_t *n_out)
{
	if (n_out)
		*n_out = 0;
	for (size_t i = 0; i < plan->n_overloads; i++) {
		log_overload(r, &plan->overloads[i], t);
		if (dvmq_overload_is_single_queue(plan->overloads[i].reason)) {
			r->overloads++;
			r->acc->single_queue_overloads++;
		} else {
			r->no_room++;
		}
	}
	for (size_t i = 0; i < plan->n_moves; i++) {
		const struct dvmq_move *mv = &plan->moves[i];
		struct run_queue *rq = &r->q[mv->queue];
		/* ping-pongs and returns are the engine's own back-and-forth: an operator's move is
		 * neither, and no engine move pairs with one before it (docs/simulator.md) */
		unsigned kind = 0;
		if (by_operator || !dvmq_reason_is_engine(mv->reason))
			dvmq_queue_moves_operator(&rq->moves);
		else
			kind = dvmq_queue_moves_record(&rq->moves, mv->from, mv->to, t);
		bool pp = kind & DVMQ_MOVE_PINGPONG;
		r->pingpongs += pp;
		r->acc->pingpongs += pp;
		r->returns += (kind & DVMQ_MOVE_RETURN) != 0;
		r->moves++;
		r->acc->moves_by_reason[mv->reason < DVMQ_REASON_COUNT ? mv->reason : 0]++;
		rq->n_moves++;
		rq->last_move_ns = t;
		if (r->steps && t <= r->steps_end_ns)
			dvmq_steps_move(r->steps, mv, t);
		log_move(r, mv, t, pp);
		bool keep = out && n_out && *n_out < max;
		record_move(r, mv, t, pp, keep ? &out[*n_out] : NULL);
		if (keep)
			(*n_out)++;
		int rc = r->dpif->queue_move(r, mv->queue, mv->to);
		if (rc)
			return rc;
	}
	int rc = apply_groups(r, plan, t);
	if (rc)
		return rc;
	run_ctl_dirty(r);
	return 0;
}

uint32_t run_oracle_capacity(const struct dvmq_engine *e, uint32_t n_procs, double high,
			     const struct dvmq_proc_sample *ps, const double *net, double *remaining)
{
	uint32_t n_set = 0;
	for (uint32_t p = 0; p < n_procs; p++) {
		if (!dvmq_engine_processor_in_set(e, p))
			continue;
		/* non-network load: what /proc/stat counts beyond the workers' queue time */
		double other = ps[p].busy - net[p];
		remaining[n_set++] = high - (other > 0.0 ? other : 0.0);
	}
	return n_set;
}

int run_interval(struct run *r, uint64_t t)
{
	r->elapsed_ns = t > r->t_prev ? t - r->t_prev : 1;
	r->t_prev = t;
	const double iv = (double)r->elapsed_ns;
	int rc = procstat_read(r->cpus, r->n_procs, r->stat_now);
	if (rc)
		return rc;
	for (uint32_t p = 0; p < r->n_procs; p++) {
		/* own_load: sample_queues raises it to the workers' queue time, nothing else counts */
		bool own = r->o->own_load || r->o->virtual_cost;
		r->ps[p].busy = own ? 0.0 : procstat_busy(&r->stat_prev[p], &r->stat_now[p]);
		r->stat_prev[p] = r->stat_now[p];
	}
	rc = r->dpif->sample(r, r->elapsed_ns, r->ps);
	if (rc)
		return rc;
	sample_queues(r);
	sample_buckets(r);
	double load_sum = 0.0, load_max = 0.0;
	uint32_t n_awake = 0, n_set = 0;
	for (uint32_t p = 0; p < r->n_procs; p++) {
		r->ps[p].awake = r->queues_on[p] > 0;
		if (!r->ps[p].awake)
			continue;
		n_awake++;
		load_sum += r->ps[p].busy;
		if (r->ps[p].busy > load_max)
			load_max = r->ps[p].busy;
	}
	r->awake_ns += (double)n_awake * iv;
	r->sampled_ns += iv;
	uint32_t n_active = 0;
	for (uint32_t p = 0; p < r->n_procs; p++)
		n_active += r->queues_on[p];
	r->queue_ns += (double)n_active * iv;
	n_set = run_oracle_capacity(r->engine, r->n_procs, r->params.high, r->ps, r->proc_net, r->remaining);
	uint32_t oracle = oracle_interval(r, n_set);
	r->oracle_ns += (double)(oracle < 1 ? 1 : oracle) * iv;
	r->imbalance_sum += load_sum > 0.0 ? load_max / (load_sum / n_awake) : 1.0;
	r->n_intervals++;

	latency_totals(r, r->lat_now);
	for (unsigned b = 0; b < DVMQ_HIST_BUCKETS; b++) {
		uint64_t d = r->lat_now[b] - r->lat_prev[b];
		r->lat_prev[b] = r->lat_now[b];
		r->lat_now[b] = d;
	}
	double p99 = run_hist_quantile(r->lat_now, 0.99);
	if (p99 > r->worst_p99_ns)
		r->worst_p99_ns = p99;
	struct run_dpif_counters c;
	r->dpif->counters(r, &c);
	uint64_t drops = c.drops[DVMQ_SNAP_DROP_OVERFLOW] + c.drops[DVMQ_SNAP_DROP_VM_GONE];
	uint64_t target = r->s ? r->s->host.latency_target_ns : LATENCY_TARGET_NS;
	bool bad = drops > r->drops_prev || p99 > (double)target;
	r->drops_prev = drops;
	if (r->steps && t <= r->steps_end_ns)
		dvmq_steps_interval(r->steps, t, r->ps, r->movable_on, r->n_procs, r->params.high, bad);

	const struct dvmq_plan *plan;
	double t0 = mono_s();
	rc = dvmq_engine_plan_ex(r->engine, t, r->elapsed_ns, r->ps, r->qs, r->bs, r->n_bs, &plan);
	dvmq_snap_count_plan(r->acc, mono_s() - t0);
	if (rc)
		return rc;
	uint64_t moves_before = r->moves;
	rc = run_apply_plan(r, plan, t, false, NULL, 0, NULL);
	run_history_add(r, t, (uint32_t)(r->moves - moves_before), drops);
	return rc;
}

void run_finish(struct run *r, struct dvmq_run_result *res)
{
	memset(res, 0, sizeof(*res));
	struct dvmq_result *o = &res->r;
	r->dpif->finish(r, res);
	o->policy = r->params.policy;
	latency_totals(r, r->lat_now);
	o->latency_p50_us = run_hist_quantile(r->lat_now, 0.50) * 1e-3;
	o->latency_p99_us = run_hist_quantile(r->lat_now, 0.99) * 1e-3;
	o->latency_p999_us = run_hist_quantile(r->lat_now, 0.999) * 1e-3;
	o->worst_window_p99_us = r->worst_p99_ns * 1e-3;
	double dur = r->sampled_ns;
	o->awake_processors_mean = dur > 0 ? r->awake_ns / dur : 0.0;
	o->oracle_processors_mean = dur > 0 ? r->oracle_ns / dur : 0.0;
	o->oracle_unavoidable_drops = (uint64_t)(r->unavoidable + 0.5);
	o->busy_core_seconds = r->busy_ns * 1e-9;
	o->moves = r->moves;
	o->pingpongs = r->pingpongs;
	o->returns_10s = r->returns;
	o->single_queue_overloads = r->overloads;
	o->bucket_moves = r->bucket_moves;
	o->group_grows = r->group_grows;
	o->group_shrinks = r->group_shrinks;
	o->imbalance_mean = r->n_intervals ? r->imbalance_sum / (double)r->n_intervals : 1.0;
	o->simulated_s = dur * 1e-9;
	if (r->steps)
		dvmq_steps_finish(r->steps, o);
	dvmq_result_derive(o, r->queue_ns);
	res->reloads = r->reloads;
	res->reloads_refused = r->reloads_refused;
	res->processors = r->n_procs;
	for (uint32_t p = 0; p < r->n_procs; p++) {
		if (dvmq_engine_processor_awake(r->engine, p))
			res->awake_end++;
		else
			res->parked_end++;
	}
	res->scenario_processors = r->s ? r->s->host.n_processors : r->n_procs;
	res->rate_scale = r->scale;
	res->own_load = r->o->own_load || r->o->virtual_cost;
	res->virtual_cost = r->o->virtual_cost;
	memcpy(res->moves_by_reason, r->acc->moves_by_reason, sizeof(res->moves_by_reason));
}
