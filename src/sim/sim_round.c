/* The simulator's sampling round and metrics (DESIGN section 7): samples to the engine, moves
 * applied, ping-pongs, load steps with reaction and settle times, time series to the sinks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

void sim_sinks_header(const struct dvmq_sim_sinks *k, uint32_t n_procs)
{
	if (!k)
		return;
	if (k->processors)
		fputs("time_s,processor,load,network_load,awake\n", k->processors);
	if (k->load) {
		fputs("time_s", k->load);
		for (uint32_t p = 0; p < n_procs; p++)
			fprintf(k->load, ",cpu%u", p);
		fputc('\n', k->load);
	}
	if (k->vms)
		fputs("time_s,vm,offered_pps,delivered_pps,dropped_pps,latency_us\n", k->vms);
	if (k->moves)
		fputs("time_s,queue,vm,from,to,reason,queue_load,src_before,src_after,dst_before,"
		      "dst_after,pingpong,return\n",
		      k->moves);
	if (k->awake)
		fputs("time_s,awake,oracle,dropped_pps,p99_us\n", k->awake);
	if (k->groups)
		fputs("time_s,vm,queues,max_queues\n", k->groups);
	if (k->buckets)
		fputs("time_s,vm,bucket,from,to,from_proc,to_proc,reason,bucket_load,pingpong\n", k->buckets);
}

static void apply_move(struct sim *m, const struct dvmq_move *mv, uint64_t now,
		       const struct dvmq_sim_sinks *sinks)
{
	struct sim_queue *sq = &m->q[mv->queue];
	const struct dvmq_host *h = &m->s->host;
	/* ping-pongs and returns are the engine's own: an operator's move (a processor-set change)
	 * counts as neither and starts the queue's history over */
	unsigned kind = 0;
	if (dvmq_reason_is_engine(mv->reason))
		kind = dvmq_queue_moves_record(&m->q_moves[mv->queue], mv->from, mv->to, now);
	else
		dvmq_queue_moves_operator(&m->q_moves[mv->queue]);
	bool pp = kind & DVMQ_MOVE_PINGPONG, ret = kind & DVMQ_MOVE_RETURN;
	m->pingpongs += pp;
	m->returns += ret;
	m->moves++;
	sq->proc = mv->to;
	sq->gap_left_ns = (double)h->move_gap_ns;
	sq->cold_until = now + h->cold_ns;
	if (m->p[mv->from].n_queues-- == 1)
		m->n_awake--;
	if (m->p[mv->to].n_queues++ == 0)
		m->n_awake++;
	dvmq_steps_move(m->steps, mv, now);
	if (sinks && sinks->moves) {
		const char *vm = "default";
		for (uint32_t v = 0; v < m->n_vms; v++)
			if (m->vm[v].active && m->vm[v].queue == mv->queue && mv->queue != 0)
				vm = m->s->vms[m->vm[v].sv].name;
		fprintf(sinks->moves, "%.3f,%u,%s,%u,%u,%s,%.4f,%.4f,%.4f,%.4f,%.4f,%d,%d\n", (double)now * 1e-9,
			mv->queue, vm, mv->from, mv->to, dvmq_reason_name(mv->reason), mv->queue_load,
			mv->src_before, mv->src_after, mv->dst_before, mv->dst_after, pp, ret);
	}
}

void sim_interval(struct sim *m, uint64_t now, const struct dvmq_sim_sinks *sinks)
{
	const struct dvmq_host *h = &m->s->host;
	const double iv = (double)h->interval_ns;
	double load_max = 0.0, load_sum = 0.0;
	uint32_t n_active = 0;
	for (uint32_t q = 0; q < m->n_queues; q++) {
		n_active += m->q[q].proc != DVMQ_NO_PROCESSOR;
		m->q[q].backlog = 0.0;
	}
	sim_fold_queue_counters(m);
	for (uint32_t v = 0; v < m->n_vms; v++)
		if (m->vm[v].active)
			m->q[m->vm[v].queue].backlog += m->vm[v].backlog;
	uint32_t n_awake = 0;
	for (uint32_t p = 0; p < m->n_procs; p++) {
		struct sim_proc *sp = &m->p[p];
		m->queues_on[p] = 0;
		double busy = (sp->busy_ns + sp->other_ns) / iv;
		m->procs_sample[p].busy = busy > 1.0 ? 1.0 : busy;
		m->procs_sample[p].awake = sp->n_queues > 0;
		m->busy_total_ns += sp->busy_ns;
		if (sp->n_queues > 0) {
			n_awake++;
			load_sum += m->procs_sample[p].busy;
			if (m->procs_sample[p].busy > load_max)
				load_max = m->procs_sample[p].busy;
		}
		if (sinks && sinks->processors)
			fprintf(sinks->processors, "%.3f,%u,%.4f,%.4f,%d\n", (double)now * 1e-9, p,
				m->procs_sample[p].busy, sp->busy_ns / iv, sp->n_queues > 0);
	}
	if (sinks && sinks->load) {
		fprintf(sinks->load, "%.3f", (double)now * 1e-9);
		for (uint32_t p = 0; p < m->n_procs; p++)
			fprintf(sinks->load, ",%.4f", m->procs_sample[p].busy);
		fputc('\n', sinks->load);
	}
	m->queue_ns += (double)n_active * iv;
	m->imbalance_sum += load_sum > 0.0 ? load_max / (load_sum / n_awake) : 1.0;
	m->n_intervals++;
	for (uint32_t q = 0; q < m->n_queues; q++) {
		struct sim_queue_iv *qi = &m->qiv[q];
		struct dvmq_queue_sample *qs = &m->queues_sample[q];
		qs->busy_ns = (uint64_t)qi->busy_ns;
		qs->packets = (uint64_t)qi->packets;
		qs->bytes = (uint64_t)qi->bytes;
		qs->backlog = (uint64_t)m->q[q].backlog;
		qs->dropped = (uint64_t)qi->dropped;
		/* the step judge counts the queues a spread move may take: at or above the floor */
		if (m->q[q].proc != DVMQ_NO_PROCESSOR && qi->busy_ns >= m->params.spread_floor * iv)
			m->queues_on[m->q[q].proc]++;
		*qi = (struct sim_queue_iv){ 0 };
	}
	double p99 = dvmq_hist_quantile(m->interval_hist, 0.99);
	bool bad = m->iv_dropped > 0.5 || p99 > (double)h->latency_target_ns;
	dvmq_steps_interval(m->steps, now, m->procs_sample, m->queues_on, m->n_procs, m->params.high, bad);

	sim_groups_samples(m);
	sim_groups_interval(m, h->interval_ns, now, sinks);
	const struct dvmq_plan *plan;
	if (dvmq_engine_plan_ex(m->engine, now, h->interval_ns, m->procs_sample, m->queues_sample, m->bsamples,
				m->n_grp, &plan) == 0) {
		bool regroup = sim_groups_apply(m, plan, now, sinks);
		for (size_t i = 0; i < plan->n_moves; i++)
			apply_move(m, &plan->moves[i], now, sinks);
		/* groups changed: shards and shares follow the tables, queue counts the grown and
		 * freed queues (the moves' bookkeeping above is superseded) */
		if (regroup)
			sim_sync_mapping(m);
		for (size_t i = 0; i < plan->n_overloads; i++)
			m->overloads += dvmq_overload_is_single_queue(plan->overloads[i].reason);
	}

	if (sinks && sinks->vms) {
		/* one row per VM: its shards summed */
		for (uint32_t sv = 0; sv < m->n_sv; sv++) {
			const struct sim_vm *vm = &m->vm[m->sv_lead[sv]];
			double rate = 0.0, dl = 0.0, dr = 0.0, lat = 0.0;
			bool any = false;
			for (uint32_t k = 0; k < vm->n_shards; k++) {
				any |= vm[k].active || vm[k].iv_delivered > 0.0;
				rate += vm[k].active ? vm[k].rate : 0.0;
				dl += vm[k].iv_delivered;
				dr += vm[k].iv_dropped;
				lat += vm[k].iv_lat_sum;
			}
			if (!any)
				continue;
			fprintf(sinks->vms, "%.3f,%s,%.1f,%.1f,%.1f,%.2f\n", (double)now * 1e-9, m->s->vms[sv].name,
				rate, dl * 1e9 / iv, dr * 1e9 / iv, dl > 0 ? lat / dl * 1e-3 : 0.0);
		}
	}
	if (sinks && sinks->awake)
		fprintf(sinks->awake, "%.3f,%u,%.0f,%.1f,%.2f\n", (double)now * 1e-9, m->n_awake, m->oracle_now,
			m->iv_dropped * 1e9 / iv, p99 * 1e-3);
	for (uint32_t p = 0; p < m->n_procs; p++)
		m->p[p].busy_ns = m->p[p].other_ns = 0.0;
	for (uint32_t v = 0; m->vm_series && v < m->n_vms; v++)
		m->vm[v].iv_delivered = m->vm[v].iv_dropped = m->vm[v].iv_lat_sum = 0.0;
	dvmq_hist_reset(m->interval_hist);
	m->iv_dropped = 0.0;
}

void sim_finish(struct sim *m, uint64_t duration_ns, struct dvmq_result *r)
{
	memset(r, 0, sizeof(*r));
	r->policy = m->params.policy;
	r->delivered = (uint64_t)(m->delivered + 0.5);
	r->dropped = (uint64_t)(m->dropped + 0.5);
	for (uint32_t v = 0; v < m->n_vms; v++) {
		r->offered += m->vm[v].offered;
		r->backlog_end += m->vm[v].backlog;
	}
	r->latency_p50_us = dvmq_hist_quantile(m->all, 0.50) * 1e-3;
	r->latency_p99_us = dvmq_hist_quantile(m->all, 0.99) * 1e-3;
	r->latency_p999_us = dvmq_hist_quantile(m->all, 0.999) * 1e-3;
	r->worst_window_p99_us = m->worst_window_p99 * 1e-3;
	double dur = (double)duration_ns;
	r->awake_processors_mean = dur > 0 ? m->awake_sum / dur : 0.0;
	r->oracle_processors_mean = dur > 0 ? m->oracle_sum / dur : 0.0;
	r->oracle_unavoidable_drops = (uint64_t)(m->oracle_drops + 0.5);
	r->busy_core_seconds = m->busy_total_ns * 1e-9;
	r->moves = m->moves;
	r->pingpongs = m->pingpongs;
	r->returns_10s = m->returns;
	r->single_queue_overloads = m->overloads;
	r->imbalance_mean = m->n_intervals ? m->imbalance_sum / (double)m->n_intervals : 1.0;
	r->simulated_s = dur * 1e-9;
	sim_groups_finish(m, r);
	dvmq_steps_finish(m->steps, r);
	dvmq_result_derive(r, m->queue_ns);
}
