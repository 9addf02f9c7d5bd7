/* The daemon behind dvmqctl: struct dvmq_ctl_state_ops on the running engine, data plane and
 * ports; the snapshots the commands and the metrics page read; the control socket and the
 * metrics page themselves.
 * Invariant: r->snap, when set, is the state as of now (every op and every sampling round marks
 * it stale with run_ctl_dirty), and it is also the one the metrics page serves: a snapshot is
 * built at most once per change and published as soon as it is built, so `dvmqctl stats` and
 * the page show the same numbers for the same instant. Everything here runs on the control
 * thread (the command handlers are called from dvmq_ctl_server_dispatch in its loop). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_internal.h"

static struct run *ctx_run(void *ctx)
{
	return ctx;
}

void run_ctl_dirty(struct run *r)
{
	dvmq_snapshot_unref(r->snap);
	r->snap = NULL;
}

static uint64_t sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static void fill_vms(struct run *r, struct dvmq_snapshot *s, uint32_t *index)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		index[i] = DVMQ_SNAP_NO_VM;
		const struct run_vm *vm = &r->vm[i];
		if (!vm->used)
			continue;
		struct dvmq_snap_vm *sv = &s->vms[k];
		snprintf(sv->name, sizeof(sv->name), "%s", vm->name);
		memcpy(sv->mac, vm->adapter.mac, 6);
		sv->vlan = vm->adapter.vlan;
		sv->weight = vm->adapter.weight;
		if (vm->kind == DVMQ_CONFIG_PORT_SINK)
			snprintf(sv->port, sizeof(sv->port), "sink");
		else
			snprintf(sv->port, sizeof(sv->port), "%s:%s", dvmq_config_port_name(vm->kind), vm->device);
		sv->queue = vm->attached ? vm->queue : DVMQ_DEFAULT_QUEUE;
		sv->max_queues = vm->adapter.max_queues > 1 ? vm->adapter.max_queues : 1;
		sv->bucket_moves = vm->bucket_moves;
		const struct dvmq_queue_group *g = vm->attached ? dvmq_engine_adapter_group(r->engine, vm->adapter_id) : NULL;
		if (g && g->queues[0] != DVMQ_DEFAULT_QUEUE) {
			sv->group = *g;
			for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
				sv->bucket_load[b] = (float)dvmq_engine_bucket_demand(r->engine, vm->adapter_id, b);
		}
		if (r->dpif_priv && vm->port_open)
			r->dpif->snap_vm(r, i, sv);
		sv->has_device = vm->device[0] != '\0';
		sv->device_absent = !vm->port_open;
		sv->device_appeared = vm->dev_appeared;
		sv->device_gone = vm->dev_gone;
		index[i] = k++;
	}
}

static void fill_queue(struct run *r, struct dvmq_snap_queue *sq, uint32_t q, const uint32_t *index)
{
	const struct run_queue *rq = &r->q[q];
	const struct dvmq_queue_sample *qs = &r->qs[q];
	uint32_t a = dvmq_engine_queue_adapter(r->engine, q);
	uint32_t slot = a < r->cap_vms ? r->adapter_vm[a] : RUN_NO_SLOT;
	double iv = r->elapsed_ns ? (double)r->elapsed_ns : 1.0;
	*sq = (struct dvmq_snap_queue){
		.id = q,
		.vm = slot == RUN_NO_SLOT ? DVMQ_SNAP_NO_VM : index[slot],
		.processor = dvmq_engine_queue_processor(r->engine, q),
		.home = dvmq_engine_queue_home(r->engine, q),
		.load = (double)qs->busy_ns / iv,
		.pps = (double)qs->packets * 1e9 / iv,
		.backlog = rq->prev.backlog,
		.packets = sub(rq->prev.packets, rq->base.packets),
		.bytes = sub(rq->prev.bytes, rq->base.bytes),
		.busy_ns = sub(rq->prev.busy_ns, rq->base.busy_ns),
		.moves = rq->n_moves,
		.moved = rq->n_moves > 0,
		.last_move_ns = rq->last_move_ns,
		.pinned = dvmq_engine_queue_pinned(r->engine, q),
	};
	sq->drops[DVMQ_SNAP_DROP_OVERFLOW] = sub(rq->prev.dropped, rq->base.dropped);
}

static int fill_totals(struct run *r, struct dvmq_snapshot *s)
{
	snprintf(s->dp_kind, sizeof(s->dp_kind), "%s", r->dpif->kind);
	/* the data plane's counters, common and its own, of one instant */
	int rc = r->dpif_priv ? r->dpif->snap_totals(r, s) : 0;
	if (rc)
		return rc;
	memcpy(s->moves_by_reason, r->acc->moves_by_reason, sizeof(s->moves_by_reason));
	s->pingpongs = r->acc->pingpongs;
	s->single_queue_overloads = r->acc->single_queue_overloads;
	s->plans = r->acc->plans;
	s->plan_seconds = r->acc->plan_seconds;
	memcpy(s->plan_buckets, r->acc->plan_buckets, sizeof(s->plan_buckets));
	return 0;
}

struct dvmq_snapshot *run_ctl_build(struct run *r)
{
	uint32_t n_queues = 0;
	for (uint32_t q = 0; q < r->n_queues; q++)
		n_queues += dvmq_engine_queue_processor(r->engine, q) != DVMQ_NO_PROCESSOR;
	struct dvmq_snapshot *s;
	uint32_t *index = calloc(r->cap_vms, sizeof(*index));
	if (!index || dvmq_snapshot_create(r->n_procs, n_queues, r->n_vms, r->mlog_n, &s)) {
		free(index);
		return NULL;
	}
	s->now_ns = run_now(r);
	snprintf(s->version, sizeof(s->version), "%s", r->o->version ? r->o->version : "?");
	s->params = r->params;
	s->interval_ns = r->interval_ns;
	s->adapter = (struct dvmq_snap_adapter){ .vmq = r->vmq, .base = r->set_base, .max_processors = r->set_max,
						 .max_number = r->set_max_number, .numa_node = r->set_numa,
						 .queue_pool = r->cfg->host.queue_pool };
	fill_vms(r, s, index);
	uint32_t k = 0;
	for (uint32_t q = 0; q < r->n_queues && k < n_queues; q++)
		if (dvmq_engine_queue_processor(r->engine, q) != DVMQ_NO_PROCESSOR)
			fill_queue(r, &s->queues[k++], q, index);
	for (uint32_t p = 0; p < r->n_procs; p++) {
		uint32_t nq = 0;
		for (uint32_t i = 0; i < n_queues; i++)
			nq += s->queues[i].processor == p;
		s->processors[p] = (struct dvmq_snap_processor){
			.id = p, .cpu = r->cpus[p], .numa_node = (int32_t)r->numa[p], .load = r->ps[p].busy,
			.net_load = r->proc_net ? r->proc_net[p] : 0.0, .awake = dvmq_engine_processor_awake(r->engine, p),
			.in_set = dvmq_engine_processor_in_set(r->engine, p), .n_queues = nq,
		};
		/* its worker's time and work (OVS pmd-stats-show's), where the data plane says */
		struct dvmq_snap_processor *sp = &s->processors[p];
		uint64_t busy, frames, wakeups;
		if (r->dpif_priv && r->dpif->proc_stats && r->dpif->proc_stats(r, p, &busy, &frames, &wakeups)) {
			uint64_t up = s->now_ns;
			sp->has_counters = true;
			sp->busy_ns = busy;
			sp->idle_ns = up > busy ? up - busy : 0;
			sp->frames = frames;
			sp->wakeups = wakeups;
			sp->ring_full = r->p_ring_full ? r->p_ring_full[p] : 0;
		}
	}
	for (uint32_t i = 0; i < r->mlog_n; i++)
		s->moves[i] = r->mlog[(r->mlog_head + i) % RUN_MOVE_HISTORY];
	int rc = fill_totals(r, s);
	free(index);
	if (rc) {
		dvmq_snapshot_unref(s);
		return NULL;
	}
	return s;
}

static struct dvmq_snapshot *op_snapshot(void *ctx)
{
	struct run *r = ctx_run(ctx);
	if (!r->snap) {
		r->snap = run_ctl_build(r);
		if (r->snap)
			dvmq_snapshot_since(r->snap, r->cleared); /* stats clear: from then on */
		if (r->snap && r->pub)
			dvmq_snapshot_publish(r->pub, dvmq_snapshot_ref(r->snap));
	}
	return dvmq_snapshot_ref(r->snap);
}

void run_ctl_publish(struct run *r)
{
	if (!r->pub)
		return; /* nobody reads snapshots: not even built */
	run_ctl_dirty(r);
	dvmq_snapshot_unref(op_snapshot(r));
}

void run_ctl_move(struct run *r, const struct dvmq_snap_move *m)
{
	if (m->buckets)
		run_log(r, DVMQ_LOG_DEBUG, "move %llu: %u buckets of %s queue %u -> %u (cpu %u -> %u) %s, load %.0f%%",
			(unsigned long long)m->seq, m->buckets, m->vm, m->queue, m->to_queue, m->from, m->to,
			dvmq_reason_name(m->reason), m->queue_load * 100);
	else
		run_log(r, DVMQ_LOG_DEBUG, "move %llu: queue %u (%s) %u -> %u %s, load %.0f%%", (unsigned long long)m->seq,
			m->queue, m->vm[0] ? m->vm : "default", m->from, m->to, dvmq_reason_name(m->reason),
			m->queue_load * 100);
	if (r->srv)
		dvmq_ctl_server_publish(r->srv, "move", dvmq_ctl_move_json(m));
}

/* ---- VMs ---- */

/* No device serves twice: not two VMs, not a VM and the uplink. */
static int device_taken(const struct run *r, const struct dvmq_config_vm *cv, char *msg, size_t len)
{
	if (cv->port == DVMQ_CONFIG_PORT_SINK || !cv->device[0])
		return 0;
	if (r->cfg->uplink.device[0] && strcmp(r->cfg->uplink.device, cv->device) == 0) {
		snprintf(msg, len, "device %s is the uplink", cv->device);
		return -EEXIST;
	}
	for (uint32_t i = 0; i < r->cap_vms; i++)
		if (r->vm[i].used && r->vm[i].kind != DVMQ_CONFIG_PORT_SINK && strcmp(r->vm[i].device, cv->device) == 0) {
			snprintf(msg, len, "device %s serves VM '%s'", cv->device, r->vm[i].name);
			return -EEXIST;
		}
	return 0;
}

int run_ctl_add_vm(struct run *r, const char *name, const struct dvmq_config_vm *cv, char *msg, size_t len)
{
	uint32_t slot;
	int rc = device_taken(r, cv, msg, len);
	if (!rc)
		rc = run_vm_open(r, name, cv, msg, len, &slot);
	if (rc)
		return rc;
	rc = run_vm_attach(r, slot, msg, len);
	if (rc) {
		run_vm_close(r, slot);
		return rc;
	}
	rc = run_sync_dp(r);
	if (rc)
		snprintf(msg, len, "vm %s: the data plane failed to place it: %s", name, strerror(-rc));
	return rc;
}

static int op_vm_add(void *ctx, const struct dvmq_ctl_vm_spec *spec, char *msg, size_t len)
{
	struct run *r = ctx_run(ctx);
	struct dvmq_config_vm cv = { .scenario_vm = -1 };
	memcpy(cv.adapter.mac, spec->mac, 6);
	cv.adapter.vlan = spec->vlan;
	cv.adapter.weight = spec->weight;
	if (r->cfg->uplink.port == DVMQ_CONFIG_PORT_KERNEL) {
		/* kernel mode: no port; "kernel:DEVICE" names its kernel port for the views */
		cv.port = DVMQ_CONFIG_PORT_KERNEL;
		const char *dev = spec->port && strncmp(spec->port, "kernel:", 7) == 0 ? spec->port + 7 : NULL;
		const char *why = dev ? dvmq_config_ifname_problem(dev) : NULL;
		if ((spec->port && !dev) || why) {
			snprintf(msg, len, "bad port '%s': in kernel mode a VM has no port (its frames reach it through "
				 "the host's bridge); kernel:DEVICE names its kernel port for the views%s%s",
				 spec->port, why ? ": the device name " : "", why ? why : "");
			return -EINVAL;
		}
		if (dev)
			snprintf(cv.device, sizeof(cv.device), "%s", dev);
	} else if (dvmq_config_vm_port_parse(spec->port ? spec->port : "sink", &cv.port, cv.device, msg, len)) {
		return -EINVAL;
	}
	if (run_vm_find(r, spec->name) != RUN_NO_SLOT) {
		snprintf(msg, len, "VM '%s' exists", spec->name);
		return -EEXIST;
	}
	int rc = run_ctl_add_vm(r, spec->name, &cv, msg, len);
	if (rc == 0)
		run_log(r, DVMQ_LOG_INFO, "vm %s added (dvmqctl): %02x:%02x:%02x:%02x:%02x:%02x vlan %u weight %u %s%s%s",
			spec->name, spec->mac[0], spec->mac[1], spec->mac[2], spec->mac[3], spec->mac[4], spec->mac[5],
			spec->vlan, spec->weight, dvmq_config_port_name(cv.port), cv.device[0] ? " " : "", cv.device);
	/* only a name for the views in kernel mode, so not refused; but a typo should not pass unseen */
	if (rc == 0 && cv.port == DVMQ_CONFIG_PORT_KERNEL && cv.device[0] && if_nametoindex(cv.device) == 0)
		run_log(r, DVMQ_LOG_WARN, "vm %s: its kernel port %s does not exist here now (kernel mode only names it in "
			"the views; the VM's frames reach it through the host's bridge)", spec->name, cv.device);
	return rc;
}

static int op_vm_remove(void *ctx, const char *name, char *msg, size_t len)
{
	struct run *r = ctx_run(ctx);
	uint32_t slot = run_vm_find(r, name);
	if (slot == RUN_NO_SLOT) {
		snprintf(msg, len, "unknown VM '%s'", name);
		return -ENOENT;
	}
	run_vm_close(r, slot);
	int rc = run_sync_dp(r);
	run_log(r, DVMQ_LOG_INFO, "vm %s removed (dvmqctl)", name);
	if (rc)
		snprintf(msg, len, "the data plane failed to follow the engine: %s", strerror(-rc));
	return rc;
}

/* A VM's address changes: out of the engine and the data plane, and in again. */
static int readdress(struct run *r, uint32_t slot, uint16_t vlan, char *msg, size_t len)
{
	struct run_vm *vm = &r->vm[slot];
	for (uint32_t i = 0; i < r->cap_vms; i++)
		if (i != slot && r->vm[i].used && r->vm[i].adapter.vlan == vlan &&
		    memcmp(r->vm[i].adapter.mac, vm->adapter.mac, 6) == 0) {
			snprintf(msg, len, "its MAC on VLAN %u belongs to VM '%s'", vlan, r->vm[i].name);
			return -EEXIST;
		}
	bool was = vm->attached;
	uint16_t old = vm->adapter.vlan;
	run_vm_detach(r, slot);
	vm->adapter.vlan = vlan;
	int rc = was ? run_vm_attach(r, slot, msg, len) : 0;
	if (rc) {
		vm->adapter.vlan = old;
		if (run_vm_attach(r, slot, msg + strlen(msg), len - strlen(msg)))
			run_log(r, DVMQ_LOG_ERR, "vm %s: lost on a VLAN change: %s", vm->name, msg);
	}
	return rc;
}

static int op_vm_set(void *ctx, const char *name, const struct dvmq_ctl_vm_change *c, char *msg, size_t len)
{
	struct run *r = ctx_run(ctx);
	uint32_t slot = run_vm_find(r, name);
	if (slot == RUN_NO_SLOT) {
		snprintf(msg, len, "unknown VM '%s'", name);
		return -ENOENT;
	}
	struct run_vm *vm = &r->vm[slot];
	int rc = 0;
	if (c->has_vlan && c->vlan != vm->adapter.vlan)
		rc = readdress(r, slot, c->vlan, msg, len);
	if (!rc && c->has_weight) {
		vm->adapter.weight = c->weight;
		if (vm->attached && r->vmq)
			rc = dvmq_engine_adapter_set_weight(r->engine, vm->adapter_id, c->weight);
	}
	if (!rc && c->has_max_queues) {
		/* the group folds at once when it holds more; a TAP keeps the queues it opened with */
		vm->adapter.max_queues = c->max_queues;
		if (vm->attached)
			rc = dvmq_engine_adapter_set_max_queues(r->engine, vm->adapter_id, c->max_queues);
	}
	int rs = run_sync_dp(r);
	if (!rc && rs)
		snprintf(msg, len, "the data plane failed to follow the engine: %s", strerror(-rs));
	if (!rc && !rs)
		run_log(r, DVMQ_LOG_INFO, "vm %s set (dvmqctl): weight %u vlan %u max-queues %u", name, vm->adapter.weight,
			vm->adapter.vlan, vm->adapter.max_queues > 1 ? vm->adapter.max_queues : 1);
	return rc ? rc : rs;
}

/* ---- adapter, policy, rebalance ---- */

int run_apply_processor_set(struct run *r, char *msg, size_t len)
{
	uint32_t *ex = calloc(r->n_procs + 1, sizeof(*ex)), n_ex = 0;
	if (!ex)
		return -ENOMEM;
	for (uint32_t p = 0; p < r->n_procs; p++)
		if (!r->set_allowed[p] || p > r->set_max_number)
			ex[n_ex++] = p;
	struct dvmq_processor_set set = { .base = r->set_base, .max = r->set_max, .numa_node = r->set_numa,
					  .excluded = ex, .n_excluded = n_ex };
	const struct dvmq_plan *plan = NULL;
	uint64_t t = run_now(r);
	int rc = dvmq_engine_set_processor_set(r->engine, &set, t, &plan);
	free(ex);
	if (rc == -EINVAL)
		snprintf(msg, len, "that processor set is empty (base, max, NUMA node and processor list leave no "
			 "processor)");
	if (!rc && plan)
		rc = run_apply_plan(r, plan, t, true, NULL, 0, NULL);
	return rc;
}

static int op_adapter_set(void *ctx, const struct dvmq_ctl_adapter_change *c, char *msg, size_t len)
{
	struct run *r = ctx_run(ctx);
	if (c->has_queue_pool && c->queue_pool != r->cfg->host.queue_pool) {
		snprintf(msg, len, "the queue pool size is fixed while the daemon runs (queue_pool in the config, "
			 "then a restart)");
		return -EOPNOTSUPP;
	}
	if (c->has_processors && c->n_processors != r->n_procs)
		return -EINVAL;
	/* keep the old set: a refused one changes nothing */
	uint32_t base = r->set_base, max = r->set_max, max_number = r->set_max_number;
	int32_t numa = r->set_numa;
	bool *allowed = malloc(r->n_procs * sizeof(*allowed));
	if (!allowed)
		return -ENOMEM;
	memcpy(allowed, r->set_allowed, r->n_procs * sizeof(*allowed));
	if (c->has_base)
		r->set_base = c->base;
	if (c->has_max_processors)
		r->set_max = c->max_processors;
	if (c->has_max_number)
		r->set_max_number = c->max_number;
	if (c->has_numa_node)
		r->set_numa = c->numa_node;
	if (c->has_processors)
		memcpy(r->set_allowed, c->processors, r->n_procs * sizeof(*allowed));
	int rc = run_apply_processor_set(r, msg, len);
	if (rc) {
		r->set_base = base;
		r->set_max = max;
		r->set_max_number = max_number;
		r->set_numa = numa;
		memcpy(r->set_allowed, allowed, r->n_procs * sizeof(*allowed));
	}
	free(allowed);
	if (!rc && c->has_vmq && c->vmq != r->vmq) {
		r->vmq = c->vmq;
		for (uint32_t i = 0; i < r->cap_vms && !rc; i++)
			if (r->vm[i].used && r->vm[i].attached)
				rc = dvmq_engine_adapter_set_weight(r->engine, r->vm[i].adapter_id,
								    r->vmq ? r->vm[i].adapter.weight : 0);
	}
	int rs = run_sync_dp(r);
	if (!rc && !rs) {
		char node[16] = "any";
		if (r->set_numa >= 0)
			snprintf(node, sizeof(node), "%d", (int)r->set_numa);
		run_log(r, DVMQ_LOG_INFO, "adapter set (dvmqctl): vmq %s, base %u, max %u, max number %u, numa %s",
			r->vmq ? "on" : "off", r->set_base, r->set_max, r->set_max_number, node);
	}
	return rc ? rc : rs;
}

static int op_params_set(void *ctx, const struct dvmq_engine_params *p, uint64_t interval_ns, char *msg, size_t len)
{
	struct run *r = ctx_run(ctx);
	const struct dvmq_plan *plan = NULL;
	uint64_t t = run_now(r);
	int rc = dvmq_engine_set_params(r->engine, p, t, &plan);
	if (rc) {
		const char *why = dvmq_engine_params_problem(p);
		snprintf(msg, len, "the engine refuses these parameters: %s", why ? why : strerror(-rc));
		return rc;
	}
	r->params = *p;
	if (plan)
		rc = run_apply_plan(r, plan, t, true, NULL, 0, NULL);
	if (!rc && interval_ns != r->interval_ns) {
		r->interval_ns = interval_ns;
		rc = run_arm_timer(r);
	}
	run_ctl_dirty(r);
	if (!rc)
		run_log(r, DVMQ_LOG_INFO, "policy set (dvmqctl): %s, interval %.4g ms", dvmq_policy_name(p->policy),
			(double)r->interval_ns * 1e-6);
	return rc;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int op_rebalance(void *ctx, struct dvmq_snap_move *moves, size_t max, size_t *n, char *msg, size_t len)
{
	struct run *r = ctx_run(ctx);
	const struct dvmq_plan *plan;
	uint64_t t = run_now(r);
	double t0 = mono_s();
	/* the latest samples, as the last round saw them */
	int rc = dvmq_engine_plan(r->engine, t, r->elapsed_ns ? r->elapsed_ns : r->interval_ns, r->ps, r->qs, &plan);
	dvmq_snap_count_plan(r->acc, mono_s() - t0);
	if (rc) {
		snprintf(msg, len, "the engine could not plan: %s", strerror(-rc));
		return rc;
	}
	rc = run_apply_plan(r, plan, t, true, moves, max, n);
	run_log(r, DVMQ_LOG_INFO, "rebalance (dvmqctl): %zu move%s", *n, *n == 1 ? "" : "s");
	return rc;
}

static const struct dvmq_ctl_state_ops ops = {
	.snapshot = op_snapshot,
	.vm_add = op_vm_add,
	.vm_remove = op_vm_remove,
	.vm_set = op_vm_set,
	.adapter_set = op_adapter_set,
	.params_set = op_params_set,
	.rebalance = op_rebalance,
	.rebalance_dry_run = run_op_rebalance_dry_run,
	.queue_set = run_op_queue_set,
	.stats_clear = run_op_stats_clear,
	.history = run_op_history,
	.config_show = run_op_config_show,
	.config_diff = run_op_config_diff,
};

/* ---- the socket and the page ---- */

static void ctl_log(void *ctx, enum dvmq_ctl_log_level level, const char *msg)
{
	run_log(ctx, (int)level, "control: %s", msg);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int start_server(struct run *r, const char *path, struct dvmq_ctl_server **out, char *msg, size_t len)
{
	struct dvmq_ctl_server_config cfg = { .path = path, .log = ctl_log, .log_ctx = r };
	char err[256] = "";
	int rc = dvmq_ctl_server_create(&cfg, r->reg, mono_ns(), out, err, sizeof(err));
	if (rc)
		snprintf(msg, len, "control socket %s: %s", path, err[0] ? err : strerror(-rc));
	else
		run_log(r, DVMQ_LOG_INFO, "control socket %s", path);
	return rc;
}

static int start_metrics(struct run *r, const struct dvmq_config_control *k, char *msg, size_t len)
{
	if (!k->metrics)
		return 0;
	struct dvmq_metrics_http_config cfg = { .address = k->metrics_address, .port = k->metrics_port };
	char err[256] = "";
	int rc = dvmq_metrics_http_start(&cfg, r->pub, &r->http, err, sizeof(err));
	if (rc) {
		snprintf(msg, len, "metrics page on %s port %u: %s", k->metrics_address, k->metrics_port,
			 err[0] ? err : strerror(-rc));
		return rc;
	}
	bool v6 = strchr(k->metrics_address, ':') != NULL;
	run_log(r, DVMQ_LOG_INFO, "metrics on http://%s%s%s:%u/metrics", v6 ? "[" : "", k->metrics_address, v6 ? "]" : "",
		dvmq_metrics_http_port(r->http));
	return 0;
}

int run_ctl_start(struct run *r, struct dvmq_diag *diag)
{
	r->st = (struct dvmq_ctl_state){ &ops, r };
	int rc = dvmq_ctl_registry_create(r->o->version ? r->o->version : "?", &r->reg);
	if (!rc)
		rc = dvmq_ctl_commands_register(r->reg, &r->st);
	if (!rc)
		rc = dvmq_snapshot_pub_create(&r->pub);
	if (rc) {
		snprintf(diag->msg, sizeof(diag->msg), "control: %s", strerror(-rc));
		return rc;
	}
	rc = start_server(r, r->cfg->control.socket, &r->srv, diag->msg, sizeof(diag->msg));
	if (!rc)
		rc = start_metrics(r, &r->cfg->control, diag->msg, sizeof(diag->msg));
	if (!rc)
		run_ctl_publish(r); /* the page answers from the start */
	return rc;
}

void run_ctl_stop(struct run *r)
{
	dvmq_metrics_http_stop(r->http);
	r->http = NULL;
	dvmq_ctl_server_destroy(r->srv);
	r->srv = NULL;
	dvmq_ctl_registry_destroy(r->reg);
	r->reg = NULL;
	dvmq_snapshot_unref(r->snap);
	r->snap = NULL;
	dvmq_snapshot_unref(r->cleared);
	r->cleared = NULL;
	dvmq_snapshot_pub_destroy(r->pub);
	r->pub = NULL;
}

int run_ctl_restart(struct run *r, const struct dvmq_config_control *old_ctl, uint32_t changed)
{
	const struct dvmq_config_control *k = &r->cfg->control;
	char msg[300];
	int rc = 0;
	if (!r->reg)
		return 0; /* not serving: nothing to restart */
	if ((changed & DVMQ_CONFIG_CONTROL_SOCKET) && strcmp(old_ctl->socket, k->socket) != 0) {
		struct dvmq_ctl_server *srv;
		rc = start_server(r, k->socket, &srv, msg, sizeof(msg));
		if (rc) {
			run_log(r, DVMQ_LOG_ERR, "%s: still serving %s", msg, old_ctl->socket);
		} else {
			dvmq_ctl_server_destroy(r->srv); /* its clients are closed: they reconnect to the new path */
			r->srv = srv;
		}
	}
	if (changed & DVMQ_CONFIG_CONTROL_METRICS) {
		dvmq_metrics_http_stop(r->http);
		r->http = NULL;
		int rm = start_metrics(r, k, msg, sizeof(msg));
		if (rm)
			run_log(r, DVMQ_LOG_ERR, "%s: the metrics page is off", msg);
		rc = rc ? rc : rm;
	}
	return rc;
}
