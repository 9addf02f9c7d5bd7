/* dvmq run: a scenario on the real data plane (include/dvmq/run.h).
 * Threads: the caller is the control thread; one uplink thread runs the `gen` port into the
 * classifier on a 500 us tick; the data plane's workers are pinned one per CPU. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_internal.h"

#define UPLINK_TICK_NS 500000ull
#define DRAIN_NS 2000000000ull
#define FDB_SIZE 4096u
#define FDB_AGE_NS 300000000000ull

uint64_t run_now(const struct run *r)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - r->start_ns;
}

static void sleep_until(const struct run *r, uint64_t t)
{
	uint64_t abs = r->start_ns + t;
	struct timespec ts = { (time_t)(abs / 1000000000ull), (long)(abs % 1000000000ull) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static double vm_rate(const struct run *r, uint32_t v, uint64_t t)
{
	const struct run_vm *vm = &r->vm[v];
	if (!atomic_load_explicit(&vm->rate_on, memory_order_acquire))
		return 0.0;
	const struct dvmq_vm *d = &r->s->vms[v];
	double base = vm->const_rate >= 0.0 ? vm->const_rate : d->scale * dvmq_load_at(&d->load, t);
	return base * r->scale;
}

/* The uplink: the scenario's traffic, generated and classified as it falls due. */
static void *uplink_main(void *arg)
{
	struct run *r = arg;
	struct dvmq_pkt pkts[DVMQ_BURST];
	uint64_t t = run_now(r);
	dvmq_dp_thread_register();
	while (!atomic_load_explicit(&r->stop, memory_order_acquire)) {
		for (uint32_t v = 0; v < r->n_vms; v++)
			dvmq_port_gen_set_rate(r->gen, v, vm_rate(r, v, t));
		dvmq_port_gen_advance(r->gen, r->start_ns + t);
		int n;
		while ((n = dvmq_port_rx_burst(r->gen, pkts, DVMQ_BURST)) > 0)
			dvmq_dp_classify(r->dp, pkts, (unsigned)n);
		uint64_t now = run_now(r);
		t += UPLINK_TICK_NS;
		if (t < now)
			t = now; /* fell behind: the credit cap bounds the catch-up burst */
		else
			sleep_until(r, t);
	}
	dvmq_dp_thread_unregister();
	return NULL;
}

static int pick_cpus(struct run *r)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	uint32_t want = r->s->host.n_processors, have = (uint32_t)CPU_COUNT(&set);
	if (r->o->max_cpus && r->o->max_cpus < have)
		have = r->o->max_cpus;
	r->n_procs = want < have ? want : have;
	r->cpus = calloc(r->n_procs, sizeof(*r->cpus));
	if (!r->cpus)
		return -ENOMEM;
	uint32_t k = 0;
	for (int c = 0; c < CPU_SETSIZE && k < r->n_procs; c++)
		if (CPU_ISSET(c, &set))
			r->cpus[k++] = c;
	/* a scenario sized for a bigger host keeps its load per processor */
	r->scale = (double)r->n_procs / (double)want;
	if (r->n_procs < want && r->o->notes)
		fprintf(r->o->notes,
			"dvmq: note: the scenario asks for %u processors, this machine gives %u: using %u, "
			"offered loads scaled by %.3f\n",
			want, have, r->n_procs, r->scale);
	return 0;
}

static int create_engine(struct run *r, struct dvmq_diag *diag)
{
	const struct dvmq_host *h = &r->s->host;
	uint32_t *excluded = calloc(h->n_excluded + 1, sizeof(*excluded)), n_ex = 0;
	if (!excluded)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->n_excluded; i++)
		if (h->excluded[i] < r->n_procs)
			excluded[n_ex++] = h->excluded[i];
	struct dvmq_engine_config cfg = {
		.n_processors = r->n_procs,
		.queue_pool = h->queue_pool,
		.max_adapters = r->n_vms,
		.set = { .base = h->base_processor < r->n_procs ? h->base_processor : 0,
			 .max = h->max_processors, .numa_node = -1, .excluded = excluded, .n_excluded = n_ex },
		.params = r->params,
	};
	int rc = dvmq_engine_create(&cfg, &r->engine);
	free(excluded);
	if (rc)
		snprintf(diag->msg, sizeof(diag->msg), "%.400s: the engine refuses this host on %u processors (%s)",
			 r->s->path, r->n_procs, rc == -ENOMEM ? "out of memory" : "empty processor set or bad parameters");
	return rc;
}

static int create_ports(struct run *r)
{
	struct dvmq_gen_vm *g = calloc(r->n_vms, sizeof(*g));
	if (!g)
		return -ENOMEM;
	uint32_t flows = 0, mtu = 1500, frame_bytes = 64 + DVMQ_VLAN_HLEN;
	for (uint32_t v = 0; v < r->n_vms; v++) {
		const struct dvmq_vm *d = &r->s->vms[v];
		memcpy(g[v].mac, d->adapter.mac, 6);
		g[v].vlan = d->adapter.vlan;
		g[v].frame_bytes = d->frame_bytes;
		g[v].flows = d->flows ? d->flows : 1;
		g[v].flow_base = flows;
		flows += g[v].flows;
		if (d->frame_bytes > mtu + DVMQ_ETH_HLEN)
			mtu = d->frame_bytes - DVMQ_ETH_HLEN;
		if (d->frame_bytes + DVMQ_VLAN_HLEN > frame_bytes)
			frame_bytes = d->frame_bytes + DVMQ_VLAN_HLEN;
	}
	int rc = dvmq_port_gen_open("gen", g, r->n_vms, &r->gen);
	for (uint32_t v = 0; v < r->n_vms && rc == 0; v++) {
		r->vm[v].flow_base = g[v].flow_base;
		r->vm[v].n_flows = g[v].flows;
		rc = dvmq_port_sink_open(r->s->vms[v].name, g[v].flow_base, g[v].flows, mtu, NULL, &r->vm[v].sink);
	}
	free(g);
	if (rc)
		return rc;
	const struct dvmq_host *h = &r->s->host;
	struct dvmq_dp_config cfg = {
		.n_workers = r->n_procs,
		.cpus = r->cpus,
		.n_queues = r->n_queues,
		.queue_depth = h->queue_depth,
		.mtu = mtu,
		.frame_bytes = frame_bytes, /* rings hold queue_depth of the scenario's largest frames */
		.max_vms = r->n_vms,
		.fdb_size = FDB_SIZE,
		.fdb_age_ns = FDB_AGE_NS,
	};
	return dvmq_dp_create(&cfg, &r->dp);
}

/* Makes the data plane follow the engine: VMs on their queues, queues on their processors. */
static int sync_dp(struct run *r)
{
	for (uint32_t q = 0; q < r->n_queues; q++) {
		uint32_t p = dvmq_engine_queue_processor(r->engine, q);
		if (p != DVMQ_NO_PROCESSOR)
			dvmq_dp_move(r->dp, q, p);
		uint32_t a = dvmq_engine_queue_adapter(r->engine, q);
		if (a != r->q[q].adapter) { /* a slot given to another VM is a new queue */
			r->q[q].adapter = a;
			dvmq_queue_moves_reset(&r->q[q].moves);
		}
	}
	for (uint32_t v = 0; v < r->n_vms; v++) {
		struct run_vm *vm = &r->vm[v];
		if (!vm->active)
			continue;
		int64_t q = dvmq_engine_adapter_queue(r->engine, vm->adapter);
		uint32_t want = q < 0 ? DVMQ_DEFAULT_QUEUE : (uint32_t)q;
		if (want != vm->queue) {
			int rc = dvmq_dp_vm_set_queue(r->dp, vm->dp_vm, want);
			if (rc)
				return rc;
			vm->queue = want;
		}
	}
	return 0;
}

/* Arrivals and departures due at t; per-packet costs that follow a trace. */
static int churn(struct run *r, uint64_t t)
{
	bool changed = false;
	for (uint32_t v = 0; v < r->n_vms; v++) {
		struct run_vm *vm = &r->vm[v];
		const struct dvmq_vm *d = &r->s->vms[v];
		if (!vm->active && !vm->gone && t >= d->arrive_ns) {
			int rc = dvmq_engine_adapter_add(r->engine, &d->adapter, &vm->adapter);
			if (!rc)
				rc = dvmq_dp_vm_add(r->dp, d->adapter.mac, d->adapter.vlan, d->cost_ns, vm->sink,
						    &vm->dp_vm);
			if (rc)
				return rc;
			vm->active = true;
			vm->queue = DVMQ_DEFAULT_QUEUE;
			vm->cost_now = d->cost_ns;
			changed = true;
		} else if (vm->active && t >= d->leave_ns) {
			atomic_store_explicit(&vm->rate_on, false, memory_order_release);
			dvmq_engine_adapter_remove(r->engine, vm->adapter);
			dvmq_dp_vm_remove(r->dp, vm->dp_vm); /* its waiting frames count as vm_gone */
			vm->active = false;
			vm->gone = true;
			changed = true;
		}
		if (vm->active && d->cost_trace.n_terms) {
			double c = dvmq_load_at(&d->cost_trace, t);
			if (c > 0.0 && c != vm->cost_now && dvmq_dp_vm_set_cost(r->dp, vm->dp_vm, c) == 0)
				vm->cost_now = c;
		}
	}
	if (!changed)
		return 0;
	int rc = sync_dp(r);
	for (uint32_t v = 0; v < r->n_vms; v++)
		if (r->vm[v].active)
			atomic_store_explicit(&r->vm[v].rate_on, true, memory_order_release);
	return rc;
}

static int setup(struct run *r, struct dvmq_diag *diag)
{
	const struct dvmq_scenario *s = r->s;
	r->n_vms = (uint32_t)s->n_vms;
	r->n_queues = s->host.queue_pool + 1;
	r->interval_ns = s->host.interval_ns;
	r->duration_ns = r->o->duration_ns ? r->o->duration_ns : s->host.duration_ns;
	r->params = r->o->params ? *r->o->params : s->params;
	int rc = pick_cpus(r);
	if (rc)
		return rc;
	r->vm = calloc(r->n_vms ? r->n_vms : 1, sizeof(*r->vm));
	r->q = calloc(r->n_queues, sizeof(*r->q));
	r->ps = calloc(r->n_procs, sizeof(*r->ps));
	r->qs = calloc(r->n_queues, sizeof(*r->qs));
	r->stat_prev = calloc(r->n_procs, sizeof(*r->stat_prev));
	r->stat_now = calloc(r->n_procs, sizeof(*r->stat_now));
	r->queues_on = calloc(r->n_procs, sizeof(*r->queues_on));
	r->lat_prev = calloc(DVMQ_HIST_BUCKETS, sizeof(*r->lat_prev));
	r->lat_now = calloc(DVMQ_HIST_BUCKETS, sizeof(*r->lat_now));
	if (!r->vm || !r->q || !r->ps || !r->qs || !r->stat_prev || !r->stat_now || !r->queues_on ||
	    !r->lat_prev || !r->lat_now)
		return -ENOMEM;
	for (uint32_t q = 0; q < r->n_queues; q++)
		r->q[q].adapter = UINT32_MAX;
	for (uint32_t v = 0; v < r->n_vms; v++) {
		const struct dvmq_vm *d = &s->vms[v];
		r->vm[v].const_rate = dvmq_load_is_constant(&d->load) ? d->scale * dvmq_load_at(&d->load, 0) : -1.0;
	}
	rc = create_engine(r, diag);
	if (!rc)
		rc = dvmq_steps_create(s, r->duration_ns, &r->steps);
	if (!rc)
		rc = run_metrics_create(r);
	if (!rc)
		rc = create_ports(r);
	if (!rc)
		rc = procstat_read(r->cpus, r->n_procs, r->stat_prev);
	return rc;
}

static void teardown(struct run *r)
{
	if (r->uplink_started) {
		atomic_store_explicit(&r->stop, true, memory_order_release);
		pthread_join(r->uplink, NULL);
	}
	dvmq_dp_destroy(r->dp);
	for (uint32_t v = 0; r->vm && v < r->n_vms; v++)
		dvmq_port_destroy(r->vm[v].sink);
	dvmq_port_destroy(r->gen);
	dvmq_steps_destroy(r->steps);
	run_metrics_destroy(r);
	dvmq_engine_destroy(r->engine);
	free(r->cpus);
	free(r->vm);
	free(r->q);
	free(r->ps);
	free(r->qs);
	free(r->stat_prev);
	free(r->stat_now);
	free(r->queues_on);
	free(r->lat_prev);
	free(r->lat_now);
}

int dvmq_run(const struct dvmq_scenario *s, const struct dvmq_run_options *o, struct dvmq_run_result *res,
	     struct dvmq_diag *diag)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.o = o;
	diag->msg[0] = '\0';
	r.start_ns = 0;
	r.start_ns = run_now(&r);
	int rc = setup(&r, diag);
	if (!rc)
		rc = churn(&r, 0);
	if (!rc) {
		rc = -pthread_create(&r.uplink, NULL, uplink_main, &r);
		r.uplink_started = rc == 0;
	}
	r.view_next_ns = 1000000000ull;
	for (uint64_t t = r.interval_ns; rc == 0 && t <= r.duration_ns; t += r.interval_ns) {
		sleep_until(&r, t);
		rc = churn(&r, t);
		if (!rc)
			rc = run_interval(&r, t);
		if (!rc && o->live && t >= r.view_next_ns) {
			run_view(&r, t);
			r.view_next_ns += 1000000000ull;
		}
	}
	if (r.uplink_started) {
		atomic_store_explicit(&r.stop, true, memory_order_release);
		pthread_join(r.uplink, NULL);
		r.uplink_started = false;
	}
	if (!rc) {
		dvmq_dp_drain(r.dp, DRAIN_NS); /* what is still queued is reported as backlog_end */
		run_finish(&r, res);
	}
	teardown(&r);
	return rc;
}
