/* Fluid host model on a virtual clock (DESIGN section 6).
 * Each tick: every active VM offers rate x tick packets to its queue (its VMQ, or the default
 * queue); each processor has tick x (1 - non-network load) ns of capacity, shared in proportion to
 * the work waiting on it; unserved packets wait, a queue's backlog beyond queue_depth is dropped.
 * Every interval the engine gets the same samples the data plane produces, and its moves take
 * effect with a handoff gap (queue unserved) and a cold-cache penalty (cost up for cold_time).
 * Invariant: offered = delivered + dropped + backlog, at every tick (tests check it).
 * The per-tick passes and what keeps them fast are in docs/simulator.md ("How the simulator stays
 * fast"); offered rates are sim_rate.c's, engine rounds and series sim_round.c's. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/sim.h"
#include "dvmq/hist.h"
#include "sim_internal.h"

#define WINDOW_NS 100000000ull /* worst-window latency */

static int setup(struct sim *m, const struct dvmq_scenario *s, const struct dvmq_engine_params *params,
		 struct dvmq_diag *diag)
{
	const struct dvmq_host *h = &s->host;
	m->s = s;
	m->params = params ? *params : s->params;
	m->n_sv = (uint32_t)s->n_vms;
	m->n_vms = 0; /* a VM with max-queues N has N entries (shards, sim_groups.c) */
	for (uint32_t v = 0; v < m->n_sv; v++)
		m->n_vms += s->vms[v].adapter.max_queues > 1 ? s->vms[v].adapter.max_queues : 1;
	m->n_procs = h->n_processors;
	m->n_queues = h->queue_pool + 1;
	uint32_t *numa = calloc(m->n_procs, sizeof(uint32_t));
	if (!numa)
		return -ENOMEM;
	uint32_t per_node = (m->n_procs + h->numa_nodes - 1) / h->numa_nodes;
	for (uint32_t p = 0; p < m->n_procs; p++)
		numa[p] = p / per_node;
	struct dvmq_engine_config cfg = {
		.n_processors = m->n_procs,
		.numa_node = numa,
		.queue_pool = h->queue_pool,
		.max_adapters = m->n_sv,
		.set = { .base = h->base_processor, .max = h->max_processors, .numa_node = h->numa_node,
			 .excluded = h->excluded, .n_excluded = h->n_excluded },
		.params = m->params,
	};
	int rc = dvmq_engine_create(&cfg, &m->engine);
	free(numa);
	if (rc) {
		snprintf(diag->msg, sizeof(diag->msg), "%.400s: the engine refuses this host (%s)", s->path,
			 rc == -ENOMEM ? "out of memory" : "empty processor set or bad parameters");
		return rc;
	}
	/* cache-line aligned: a VM's hot fields are its first two lines */
	size_t vm_bytes = ((size_t)m->n_vms * sizeof(*m->vm) + 63) & ~(size_t)63;
	m->vm = aligned_alloc(64, vm_bytes ? vm_bytes : 64);
	if (m->vm)
		memset(m->vm, 0, vm_bytes);
	m->q = calloc(m->n_queues, sizeof(*m->q));
	m->q_moves = calloc(m->n_queues, sizeof(*m->q_moves));
	m->qiv = calloc(m->n_queues, sizeof(*m->qiv));
	m->p = calloc(m->n_procs, sizeof(*m->p));
	m->procs_sample = calloc(m->n_procs, sizeof(*m->procs_sample));
	m->queues_sample = calloc(m->n_queues, sizeof(*m->queues_sample));
	m->all = calloc(1, sizeof(*m->all));
	m->window = calloc(1, sizeof(*m->window));
	m->interval_hist = calloc(1, sizeof(*m->interval_hist));
	m->recent = calloc(1, sizeof(*m->recent));
	m->queues_on = calloc(m->n_procs, sizeof(*m->queues_on));
	m->sv_lead = calloc(m->n_sv ? m->n_sv : 1, sizeof(*m->sv_lead));
	if (!m->vm || !m->sv_lead || !m->q || !m->q_moves || !m->qiv || !m->p || !m->procs_sample || !m->queues_sample || !m->all || !m->window ||
	    !m->interval_hist || !m->recent || !m->queues_on)
		return -ENOMEM;
	m->recent->lo = DVMQ_HIST_BUCKETS;
	for (uint32_t sv = 0, v = 0; sv < m->n_sv; sv++) {
		const struct dvmq_vm *d = &s->vms[sv];
		uint32_t n = d->adapter.max_queues > 1 ? d->adapter.max_queues : 1;
		m->sv_lead[sv] = v;
		for (uint32_t k = 0; k < n; k++, v++) {
			struct sim_vm *vm = &m->vm[v];
			vm->adapter = UINT32_MAX;
			vm->group = UINT32_MAX;
			vm->sv = sv;
			vm->shard = (uint8_t)k;
			vm->n_shards = k == 0 ? (uint8_t)n : 0;
			vm->share = k == 0 ? 1.0 : 0.0;
			vm->cost = d->cost_ns;
			vm->frame = d->frame_bytes;
			vm->dyn_cost = d->cost_trace.n_terms > 0;
			vm->dyn_frame = d->frame_trace.n_terms > 0;
			vm->scale = d->scale;
			vm->load = &d->load;
		}
	}
	rc = sim_groups_setup(m);
	if (rc)
		return rc;
	rc = sim_rates_setup(m);
	if (rc)
		return rc;
	for (uint32_t q = 0; q < m->n_queues; q++) {
		m->q[q].adapter = UINT32_MAX;
		m->q[q].prepared_at = UINT64_MAX;
	}
	for (uint32_t p = 0; p < m->n_procs; p++)
		m->p[p].has_other = s->cpu_load[p].n_terms > 0;
	m->set_procs = calloc(m->n_procs, sizeof(*m->set_procs));
	m->remaining = calloc(m->n_procs, sizeof(*m->remaining));
	if (!m->set_procs || !m->remaining)
		return -ENOMEM;
	for (uint32_t p = 0; p < m->n_procs; p++)
		if (dvmq_engine_processor_in_set(m->engine, p))
			m->set_procs[m->n_set++] = p;
	m->capacity_dirty = true;
	rc = dvmq_oracle_create(m->n_procs, &m->oracle);
	if (rc)
		return rc;
	return dvmq_steps_create(s, s->host.duration_ns, &m->steps);
}

void sim_hist_flush(struct sim *m)
{
	struct sim_recent *r = m->recent;
	for (unsigned b = r->lo; b <= r->hi; b++) {
		double c = 0.0;
		for (unsigned l = 0; l < SIM_HIST_LANES; l++) {
			c += r->count[l][b];
			r->count[l][b] = 0.0;
		}
		if (c > 0.0) {
			dvmq_hist_add_bucket(m->all, b, c);
			dvmq_hist_add_bucket(m->window, b, c);
			dvmq_hist_add_bucket(m->interval_hist, b, c);
		}
	}
	r->lo = DVMQ_HIST_BUCKETS;
	r->hi = 0;
}

static void teardown(struct sim *m)
{
	dvmq_engine_destroy(m->engine);
	free(m->vm);
	free(m->q);
	free(m->q_moves);
	free(m->qiv);
	free(m->p);
	free(m->procs_sample);
	free(m->queues_sample);
	free(m->all);
	free(m->window);
	free(m->interval_hist);
	free(m->recent);
	free(m->clocks);
	free(m->queues_on);
	free(m->set_procs);
	free(m->remaining);
	free(m->sv_lead);
	sim_groups_free(m);
	dvmq_oracle_destroy(m->oracle);
	dvmq_steps_destroy(m->steps);
}

/* Re-reads which queue serves each VM and where each queue runs, after any engine change. */
void sim_sync_mapping(struct sim *m)
{
	for (uint32_t sv = 0; sv < m->n_sv; sv++) {
		struct sim_vm *vm = &m->vm[m->sv_lead[sv]];
		if (!vm->active)
			continue;
		int64_t q = dvmq_engine_adapter_queue(m->engine, vm->adapter);
		vm->queue = q < 0 ? DVMQ_DEFAULT_QUEUE : (uint32_t)q;
		if (vm->group != UINT32_MAX)
			sim_group_sync(m, &m->grp[vm->group]);
	}
	for (uint32_t p = 0; p < m->n_procs; p++)
		m->p[p].n_queues = 0;
	m->n_awake = 0;
	for (uint32_t q = 0; q < m->n_queues; q++) {
		struct sim_queue *sq = &m->q[q];
		uint32_t proc = dvmq_engine_queue_processor(m->engine, q);
		uint32_t adapter = dvmq_engine_queue_adapter(m->engine, q);
		if (adapter != sq->adapter) { /* a slot given to another VM is a new queue */
			sq->adapter = adapter;
			dvmq_queue_moves_reset(&m->q_moves[q]);
		}
		sq->proc = proc;
		if (proc != DVMQ_NO_PROCESSOR && m->p[proc].n_queues++ == 0)
			m->n_awake++;
	}
}

void sim_fold_queue_counters(struct sim *m)
{
	for (uint32_t v = 0; v < m->n_vms; v++) {
		struct sim_vm *vm = &m->vm[v];
		if (vm->q_packets == 0.0 && vm->q_busy_ns == 0.0)
			continue;
		struct sim_queue_iv *qi = &m->qiv[vm->queue];
		qi->busy_ns += vm->q_busy_ns;
		/* queues change processors only between intervals, VMs change queues only here */
		uint32_t proc = m->q[vm->queue].proc;
		if (proc != DVMQ_NO_PROCESSOR)
			m->p[proc].busy_ns += vm->q_busy_ns;
		qi->packets += vm->q_packets;
		qi->bytes += vm->q_bytes;
		vm->q_busy_ns = vm->q_packets = vm->q_bytes = 0.0;
	}
}

/* Arrivals and departures due at or before now. */
static int churn(struct sim *m, uint64_t now)
{
	bool changed = false;
	sim_fold_queue_counters(m); /* what was served so far belongs to the queues of before */
	for (uint32_t sv = 0; sv < m->n_sv; sv++) {
		struct sim_vm *vm = &m->vm[m->sv_lead[sv]];
		const struct dvmq_vm *d = &m->s->vms[sv];
		if (!vm->active && !vm->gone && now >= d->arrive_ns) {
			int rc = dvmq_engine_adapter_add(m->engine, &d->adapter, &vm->adapter);
			if (rc)
				return rc;
			vm->active = true;
			changed = true;
		} else if (vm->active && now >= d->leave_ns) {
			dvmq_engine_adapter_remove(m->engine, vm->adapter);
			vm->gone = true;
			/* a leaving VM's waiting packets are lost, counted (on every queue of its group) */
			for (uint32_t k = 0; k < vm->n_shards; k++) {
				vm[k].active = false;
				m->dropped += vm[k].backlog;
				m->iv_dropped += vm[k].backlog;
				vm[k].backlog = 0.0;
			}
			changed = true;
		}
	}
	if (changed)
		sim_sync_mapping(m);
	m->next_churn = UINT64_MAX;
	for (uint32_t sv = 0; sv < m->n_sv; sv++) {
		const struct dvmq_vm *d = &m->s->vms[sv];
		const struct sim_vm *vm = &m->vm[m->sv_lead[sv]];
		uint64_t t = !vm->active && !vm->gone ? d->arrive_ns
			     : vm->active	      ? d->leave_ns
						      : UINT64_MAX;
		if (t > now && t < m->next_churn)
			m->next_churn = t;
	}
	return 0;
}

/* The queue's service this tick: the cold-cache cost factor, and the part of the tick its
 * handoff gap leaves. The first VM on the queue prepares it, once per tick. */
static inline void queue_prepare(struct sim_queue *sq, uint64_t now, double tick_ns, double cold_penalty)
{
	sq->prepared_at = now;
	if (now >= sq->cold_until && sq->gap_left_ns == 0.0) {
		sq->cost_factor = sq->serve_frac = 1.0; /* settled long after its last move */
		return;
	}
	sq->cost_factor = now < sq->cold_until ? 1.0 + cold_penalty : 1.0;
	double gap = sq->gap_left_ns > tick_ns ? tick_ns : sq->gap_left_ns;
	sq->serve_frac = 1.0 - gap / tick_ns;
	sq->gap_left_ns -= gap;
}

/* Offered load: each VM's rate at `now`, its arrivals, the demand on its processor, the oracle. */
static void tick_offer(struct sim *m, uint64_t now, double tick_ns)
{
	const struct dvmq_scenario *s = m->s;
	const double tick_s = tick_ns * 1e-9, cold_penalty = s->host.cold_penalty;
	struct dvmq_oracle_tally tally;
	dvmq_oracle_tally_begin(m->oracle, &tally);
	double default_work = 0.0;
	sim_clocks_tick(m, now);
	double lead_rate = 0.0, lead_cost = 0.0, lead_frame = 0.0; /* of the VM whose shards follow */
	for (uint32_t v = 0; v < m->n_vms; v++) {
		struct sim_vm *vm = &m->vm[v];
		if (!vm->active)
			continue;
		double rate;
		if (vm->shard == 0) {
			if (vm->dyn_cost)
				vm->cost = dvmq_load_at(&s->vms[vm->sv].cost_trace, now);
			if (vm->dyn_frame)
				vm->frame = dvmq_load_at(&s->vms[vm->sv].frame_trace, now);
			rate = lead_rate = sim_vm_rate(m, vm, now);
			lead_cost = vm->cost;
			lead_frame = vm->frame;
			double work_ns = rate * vm->cost; /* per second */
			if (vm->group == UINT32_MAX) {
				if (work_ns > 1e9) /* beyond one processor: lost whatever the policy */
					m->oracle_drops += (rate - 1e9 / vm->cost) * tick_s;
				/* the oracle sizes queues: a VMQ is its VM, the default queue all of its
				 * VMs at once */
				if (vm->queue == DVMQ_DEFAULT_QUEUE)
					default_work += work_ns;
				else
					dvmq_oracle_tally_add(&tally, work_ns * 1e-9);
			} else {
				/* a group splits at bucket granularity, on at most max-queues processors */
				struct sim_group *g = &m->grp[vm->group];
				double excess = dvmq_oracle_group_excess(work_ns * 1e-9, g->w_desc,
									 DVMQ_INDIRECTION_ENTRIES, g->max_queues);
				m->oracle_drops += excess * 1e9 / vm->cost * tick_s;
				g->iv_arr += rate * tick_s;
				if (vm->queue == DVMQ_DEFAULT_QUEUE)
					default_work += work_ns;
				else
					dvmq_oracle_tally_add_divisible(&tally, work_ns * 1e-9, g->w_desc,
									DVMQ_INDIRECTION_ENTRIES);
				rate *= vm->share;
			}
		} else {
			vm->cost = lead_cost;
			vm->frame = lead_frame;
			rate = lead_rate * vm->share;
		}
		vm->rate = rate;
		double arr = rate * tick_s;
		vm->arr = arr;
		vm->offered += arr;
		struct sim_queue *sq = &m->q[vm->queue];
		if (sq->prepared_at != now)
			queue_prepare(sq, now, tick_ns, cold_penalty);
		m->p[sq->proc].demand_ns[v & 1] += (vm->backlog + arr) * vm->cost * sq->cost_factor * sq->serve_frac;
	}
	dvmq_oracle_tally_add(&tally, default_work * 1e-9);
	m->oracle_now = (double)dvmq_oracle_processors(m->oracle, &tally);
}

/* Service: each processor's capacity shared in proportion to the work waiting on it; latency
 * of what is served; overflow beyond queue_depth dropped. */
static void tick_serve(struct sim *m, double tick_ns)
{
	const double depth = (double)m->s->host.queue_depth;
	struct sim_recent *recent = m->recent;
	unsigned lo = recent->lo, hi = recent->hi;
	double default_backlog = 0.0, delivered = 0.0; /* locals: m's fields would be reloaded per VM */
	bool overflow = false;
	for (uint32_t v = 0; v < m->n_vms; v++) {
		struct sim_vm *vm = &m->vm[v];
		if (!vm->active)
			continue;
		struct sim_queue *sq = &m->q[vm->queue];
		struct sim_proc *sp = &m->p[sq->proc];
		double cost = vm->cost * sq->cost_factor;
		double waiting = vm->backlog + vm->arr;
		double served = waiting * sp->share * sq->serve_frac;
		double before = vm->backlog;
		vm->backlog = waiting - served;
		double busy = served * cost;
		vm->q_busy_ns += busy;
		vm->q_packets += served;
		vm->q_bytes += served * vm->frame;
		delivered += served;
		if (vm->queue == DVMQ_DEFAULT_QUEUE)
			default_backlog += vm->backlog;
		else
			overflow |= vm->backlog > depth;
		if (served > 0.0 && before == 0.0 && sq->serve_frac == 1.0 && !m->vm_series &&
		    (sp->batch_cost == cost || sp->batch_served == 0.0)) {
			sp->batch_cost = cost;
			sp->batch_served += served;
		} else if (served > 0.0) {
			/* packets served now waited for the backlog ahead of them to drain */
			double wait = before > 0.0 ? before * tick_ns / served : 0.0;
			double lat = cost + wait + cost * sp->md1 + (1.0 - sq->serve_frac) * tick_ns * 0.5;
			unsigned b = dvmq_hist_bucket_f(lat);
			recent->count[v % SIM_HIST_LANES][b] += served;
			lo = b < lo ? b : lo;
			hi = b > hi ? b : hi;
			if (m->vm_series) {
				vm->iv_delivered += served;
				vm->iv_lat_sum += lat * served;
			}
		}
	}
	for (uint32_t p = 0; p < m->n_procs; p++) {
		struct sim_proc *sp = &m->p[p];
		if (sp->batch_served == 0.0)
			continue;
		double cost = sp->batch_cost;
		unsigned b = dvmq_hist_bucket_f(cost + 0.0 + cost * sp->md1 + 0.0);
		recent->count[p % SIM_HIST_LANES][b] += sp->batch_served;
		lo = b < lo ? b : lo;
		hi = b > hi ? b : hi;
		sp->batch_served = 0.0;
	}
	recent->lo = lo;
	recent->hi = hi;
	m->delivered += delivered;
	if (!overflow && default_backlog <= depth)
		return;
	/* a queue holds queue_depth packets; the excess of each VM on it is dropped in proportion */
	for (uint32_t v = 0; v < m->n_vms; v++) {
		struct sim_vm *vm = &m->vm[v];
		if (!vm->active)
			continue;
		double queue_backlog = vm->queue == DVMQ_DEFAULT_QUEUE ? default_backlog : vm->backlog;
		if (queue_backlog <= depth)
			continue;
		double drop = vm->backlog * (1.0 - depth / queue_backlog);
		vm->backlog -= drop;
		vm->iv_dropped += drop;
		m->qiv[vm->queue].dropped += drop;
		m->dropped += drop;
		m->iv_dropped += drop;
	}
}

static void tick(struct sim *m, uint64_t now)
{
	const struct dvmq_scenario *s = m->s;
	const double tick_ns = (double)s->host.tick_ns;
	for (uint32_t p = 0; p < m->n_procs; p++) {
		struct sim_proc *sp = &m->p[p];
		sp->demand_ns[0] = sp->demand_ns[1] = 0.0;
		if (sp->has_other) {
			double o = dvmq_load_at(&s->cpu_load[p], now);
			o = o > 1.0 ? 1.0 : o;
			m->capacity_dirty |= o != sp->other;
			sp->other = o;
		}
	}
	if (m->capacity_dirty) {
		for (uint32_t i = 0; i < m->n_set; i++)
			m->remaining[i] = m->params.high - m->p[m->set_procs[i]].other;
		dvmq_oracle_set_capacity(m->oracle, m->remaining, m->n_set);
		m->capacity_dirty = false;
	}
	tick_offer(m, now, tick_ns);
	for (uint32_t p = 0; p < m->n_procs; p++) {
		struct sim_proc *sp = &m->p[p];
		double cap = tick_ns * (1.0 - sp->other);
		double demand = sp->demand_ns[0] + sp->demand_ns[1];
		sp->share = demand > cap ? cap / demand : 1.0;
		double u = (fmin(demand, cap) + tick_ns * sp->other) / tick_ns;
		sp->other_ns += tick_ns * sp->other;
		sp->md1 = u >= 0.99 ? 49.5 : u / (2.0 * (1.0 - u)); /* M/D/1 wait in service times */
	}
	tick_serve(m, tick_ns);
	m->oracle_sum += m->oracle_now * tick_ns;
	m->awake_sum += (double)m->n_awake * tick_ns;
}

static int run(struct sim *m, uint64_t duration_ns, const struct dvmq_sim_sinks *sinks,
	       struct dvmq_result *r)
{
	const struct dvmq_host *h = &m->s->host;
	const uint64_t tick_ns = h->tick_ns, iv_ns = h->interval_ns;
	int rc = churn(m, 0);
	if (rc)
		return rc;
	sim_sync_mapping(m);
	sim_sinks_header(sinks, m->n_procs);
	m->vm_series = sinks && sinks->vms;
	uint64_t next_iv = iv_ns, next_window = WINDOW_NS;
	for (uint64_t now = 0; now < duration_ns; now += tick_ns) {
		if (now >= m->next_churn && (rc = churn(m, now)) != 0)
			return rc;
		tick(m, now);
		uint64_t end = now + tick_ns;
		if (end >= next_window || end >= next_iv)
			sim_hist_flush(m);
		if (end >= next_window) {
			double p99 = dvmq_hist_quantile(m->window, 0.99);
			if (p99 > m->worst_window_p99)
				m->worst_window_p99 = p99;
			dvmq_hist_reset(m->window);
			next_window += WINDOW_NS;
		}
		if (end >= next_iv) {
			sim_interval(m, end, sinks);
			next_iv += iv_ns;
		}
	}
	sim_hist_flush(m);
	sim_finish(m, duration_ns, r);
	return 0;
}

int dvmq_sim_run_for(const struct dvmq_scenario *s, const struct dvmq_engine_params *params,
		     uint64_t duration_ns, const struct dvmq_sim_sinks *sinks,
		     struct dvmq_result *res, struct dvmq_diag *diag)
{
	struct dvmq_diag dummy;
	if (!diag)
		diag = &dummy;
	struct sim m;
	memset(&m, 0, sizeof(m));
	int rc = setup(&m, s, params, diag);
	if (rc == 0)
		rc = run(&m, duration_ns, sinks, res);
	if (rc == -EINVAL && !diag->msg[0])
		snprintf(diag->msg, sizeof(diag->msg), "%.400s: the engine refused an adapter", s->path);
	teardown(&m);
	return rc;
}

int dvmq_sim_run(const struct dvmq_scenario *s, const struct dvmq_engine_params *params,
		 const struct dvmq_sim_sinks *sinks, struct dvmq_result *res, struct dvmq_diag *diag)
{
	return dvmq_sim_run_for(s, params, s->host.duration_ns, sinks, res, diag);
}
