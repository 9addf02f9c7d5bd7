/* The control thread's sampling round for `dvmq run`: /proc/stat and the workers' counters
 * become engine samples, the plan becomes handoffs, and the metrics keep the simulator's
 * definitions (DESIGN section 7) so `dvmq sim` and `dvmq run` compare field by field. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <errno.h>
#include <stdlib.h>

#include "dvmq/oracle.h"
#include "run_internal.h"

int run_metrics_create(struct run *r)
{
	r->proc_net = calloc(r->n_procs, sizeof(*r->proc_net));
	r->remaining = calloc(r->n_procs, sizeof(*r->remaining));
	r->queue_load = calloc(r->n_queues, sizeof(*r->queue_load));
	if (!r->proc_net || !r->remaining || !r->queue_load)
		return -ENOMEM;
	return dvmq_oracle_create(r->n_procs, &r->oracle);
}

void run_metrics_destroy(struct run *r)
{
	dvmq_oracle_destroy(r->oracle);
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

const char *run_queue_vm(const struct run *r, uint32_t q)
{
	if (q == DVMQ_DEFAULT_QUEUE)
		return "default";
	for (uint32_t v = 0; v < r->n_vms; v++)
		if (r->vm[v].active && r->vm[v].queue == q)
			return r->s->vms[v].name;
	return "-";
}

static void latency_totals(const struct run *r, uint64_t *out)
{
	struct dvmq_dp_worker_stats ws;
	memset(out, 0, sizeof(*out) * DVMQ_HIST_BUCKETS);
	for (uint32_t w = 0; w < r->n_procs; w++) {
		dvmq_dp_worker_stats(r->dp, w, &ws);
		for (unsigned b = 0; b < DVMQ_HIST_BUCKETS; b++)
			out[b] += ws.lat[b];
	}
}

/* A single-queue overload, once, when it starts: that VM needs VMMQ (no move can help it). */
static void log_overload(struct run *r, const struct dvmq_overload *ov, uint64_t t)
{
	if (r->n_overload_log == RUN_LOG_MOVES) {
		memmove(r->overload_log[0], r->overload_log[1], sizeof(r->overload_log[0]) * (RUN_LOG_MOVES - 1));
		r->n_overload_log--;
	}
	snprintf(r->overload_log[r->n_overload_log++], sizeof(r->overload_log[0]),
		 "%7.1f s  queue %u (%s) on cpu%d  %s  load %.0f%%  cpu %.0f%%  single-queue overload: needs VMMQ",
		 (double)t * 1e-9, ov->queue, run_queue_vm(r, ov->queue), r->cpus[ov->processor],
		 dvmq_overload_reason_name(ov->reason), ov->queue_load * 100, ov->processor_load * 100);
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
	const double iv = (double)r->interval_ns;
	for (uint32_t p = 0; p < r->n_procs; p++) {
		r->queues_on[p] = 0;
		r->proc_net[p] = 0.0;
	}
	for (uint32_t q = 0; q < r->n_queues; q++) {
		struct dvmq_dp_queue_stats now;
		dvmq_dp_queue_stats(r->dp, q, &now);
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
		if (qs->packets > 0) {
			demand = net * (double)(qs->packets + qs->dropped) / (double)qs->packets;
			/* what a single queue asks beyond one processor is lost whatever the policy */
			if (demand > 1.0)
				r->unavoidable += (demand - 1.0) / demand * (double)(qs->packets + qs->dropped);
		}
		r->queue_load[q] = demand;
		uint32_t p = dvmq_engine_queue_processor(r->engine, q);
		if (p != DVMQ_NO_PROCESSOR) {
			r->queues_on[p]++;
			r->proc_net[p] += net;
			/* /proc/stat ticks at 100 Hz; the workers' own busy time is exact */
			if (net > r->ps[p].busy)
				r->ps[p].busy = net > 1.0 ? 1.0 : net;
		}
	}
}

int run_interval(struct run *r, uint64_t t)
{
	const double iv = (double)r->interval_ns;
	int rc = procstat_read(r->cpus, r->n_procs, r->stat_now);
	if (rc)
		return rc;
	for (uint32_t p = 0; p < r->n_procs; p++) {
		r->ps[p].busy = procstat_busy(&r->stat_prev[p], &r->stat_now[p]);
		r->stat_prev[p] = r->stat_now[p];
	}
	sample_queues(r);
	double load_sum = 0.0, load_max = 0.0;
	uint32_t n_awake = 0, n_set = 0;
	for (uint32_t p = 0; p < r->n_procs; p++) {
		r->ps[p].awake = r->queues_on[p] > 0;
		if (dvmq_engine_processor_in_set(r->engine, p)) {
			/* non-network load: what /proc/stat counts beyond the workers' queue time */
			double other = r->ps[p].busy - r->proc_net[p];
			r->remaining[n_set++] = r->params.high - (other > 0.0 ? other : 0.0);
		}
		if (!r->ps[p].awake)
			continue;
		n_awake++;
		load_sum += r->ps[p].busy;
		if (r->ps[p].busy > load_max)
			load_max = r->ps[p].busy;
	}
	r->awake_ns += (double)n_awake * iv;
	uint32_t n_active = 0;
	for (uint32_t p = 0; p < r->n_procs; p++)
		n_active += r->queues_on[p];
	r->queue_ns += (double)n_active * iv;
	uint32_t oracle = dvmq_oracle_processors_of(r->oracle, r->remaining, n_set, r->queue_load, r->n_queues);
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
	struct dvmq_dp_counters c;
	dvmq_dp_counters(r->dp, &c);
	uint64_t drops = c.overflow + c.vm_gone;
	bool bad = drops > r->drops_prev || p99 > (double)r->s->host.latency_target_ns;
	r->drops_prev = drops;
	dvmq_steps_interval(r->steps, t, r->ps, r->queues_on, r->n_procs, r->params.high, bad);

	const struct dvmq_plan *plan;
	rc = dvmq_engine_plan(r->engine, t, r->interval_ns, r->ps, r->qs, &plan);
	if (rc)
		return rc;
	for (size_t i = 0; i < plan->n_overloads; i++)
		log_overload(r, &plan->overloads[i], t);
	r->overloads += plan->n_overloads;
	for (size_t i = 0; i < plan->n_moves; i++) {
		const struct dvmq_move *mv = &plan->moves[i];
		unsigned kind = dvmq_queue_moves_record(&r->q[mv->queue].moves, mv->from, mv->to, t);
		bool pp = kind & DVMQ_MOVE_PINGPONG;
		r->pingpongs += pp;
		r->returns += (kind & DVMQ_MOVE_RETURN) != 0;
		r->moves++;
		dvmq_steps_move(r->steps, mv, t);
		log_move(r, mv, t, pp);
		rc = dvmq_dp_move(r->dp, mv->queue, mv->to);
		if (rc)
			return rc;
	}
	return 0;
}

/* Per flow: order from the sink, and the frames missing (the generator sent them, the VM's sink
 * never got them); every missing frame must be a counted fate: dropped (ring full, VM gone),
 * flooded (its VM left while it waited on the default queue), filtered, refused, still queued. */
static void flow_evidence(const struct run *r, const struct dvmq_dp_counters *c, uint64_t refused,
			  struct dvmq_run_result *res)
{
	for (uint32_t v = 0; v < r->n_vms; v++) {
		const struct run_vm *vm = &r->vm[v];
		for (uint32_t f = vm->flow_base; f < vm->flow_base + vm->n_flows; f++) {
			struct dvmq_sink_flow fl;
			dvmq_port_sink_flow(vm->sink, f, &fl);
			uint64_t sent = dvmq_port_gen_flow_sent(r->gen, f);
			res->flows++;
			res->flows_reordered += fl.reordered > 0;
			res->flows_missing += sent > fl.received ? sent - fl.received : 0;
		}
	}
	uint64_t fates = c->overflow + c->vm_gone + c->flooded + c->filtered + refused + c->in_flight;
	res->flows_unexplained = res->flows_missing > fates ? res->flows_missing - fates : 0;
}

void run_finish(struct run *r, struct dvmq_run_result *res)
{
	memset(res, 0, sizeof(*res));
	struct dvmq_result *o = &res->r;
	struct dvmq_dp_counters c;
	dvmq_dp_counters(r->dp, &c);
	uint64_t sent = 0;
	for (uint32_t v = 0; v < r->n_vms; v++) {
		sent += dvmq_port_gen_sent(r->gen, v);
		struct dvmq_port_stats ps;
		dvmq_port_stats(r->vm[v].sink, &ps);
		res->reordered += ps.reordered;
	}
	uint64_t refused = 0;
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++) {
		res->verdict[v] = c.verdict[v];
		refused += c.verdict[v];
	}
	o->policy = r->params.policy;
	o->delivered = c.vmq_delivered + c.default_unicast + c.flooded;
	o->dropped = c.overflow + c.vm_gone;
	o->offered = (double)sent;
	o->backlog_end = (double)c.in_flight;
	uint64_t accounted = o->delivered + o->dropped + c.in_flight + refused + c.filtered;
	res->lost = sent > accounted ? sent - accounted : 0;
	flow_evidence(r, &c, refused, res);
	latency_totals(r, r->lat_now);
	o->latency_p50_us = run_hist_quantile(r->lat_now, 0.50) * 1e-3;
	o->latency_p99_us = run_hist_quantile(r->lat_now, 0.99) * 1e-3;
	o->latency_p999_us = run_hist_quantile(r->lat_now, 0.999) * 1e-3;
	o->worst_window_p99_us = r->worst_p99_ns * 1e-3;
	double dur = (double)r->n_intervals * (double)r->interval_ns;
	o->awake_processors_mean = dur > 0 ? r->awake_ns / dur : 0.0;
	o->oracle_processors_mean = dur > 0 ? r->oracle_ns / dur : 0.0;
	o->oracle_unavoidable_drops = (uint64_t)(r->unavoidable + 0.5);
	o->busy_core_seconds = r->busy_ns * 1e-9;
	o->moves = r->moves;
	o->pingpongs = r->pingpongs;
	o->returns_10s = r->returns;
	o->single_queue_overloads = r->overloads;
	o->imbalance_mean = r->n_intervals ? r->imbalance_sum / (double)r->n_intervals : 1.0;
	o->simulated_s = dur * 1e-9;
	dvmq_steps_finish(r->steps, o);
	dvmq_result_derive(o, r->queue_ns);
	res->processors = r->n_procs;
	for (uint32_t p = 0; p < r->n_procs; p++) {
		if (dvmq_engine_processor_awake(r->engine, p))
			res->awake_end++;
		else
			res->parked_end++;
	}
	res->scenario_processors = r->s->host.n_processors;
	res->rate_scale = r->scale;
	res->work_ns_per_byte = dvmq_dp_work_ns_per_byte(r->dp);
}
