/* SIGHUP: the configuration file loaded again and applied as a diff (dvmq_config_diff) to the
 * running daemon, on the control thread, without stopping a worker or the uplink.
 * What a reload may change while running: VMs (added, removed, re-weighted, or readdressed and
 * re-ported: removed and added again), engine parameters, the processor set over the same
 * CPUs, the interval, and the control side (socket, metrics page, log level). What it may not
 * (the uplink, the CPUs, queue pool, depth and MTU, which size the rings) refuses the whole
 * reload before anything is applied: the running configuration stays, as for a bad file.
 * The rule (docs/config.md): a reload brings the daemon to what the file says. The diff is taken
 * from the running configuration (run_config.c: the file loaded last with dvmqctl's changes), so
 * a change made with dvmqctl and not saved in the file (`dvmqctl config show`) is undone, each
 * one in a log line like any other change; `dvmqctl config diff` shows the same lines before.
 * Invariant: r->cfg is the file as last applied. A VM of the new file that cannot be applied
 * (its TAP refused) is logged and left out of r->cfg, so the next reload tries it again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

static void note(void *ctx, const char *line)
{
	run_log(ctx, DVMQ_LOG_WARN, "reload: %s", line);
}

static void describe(void *ctx, const char *line)
{
	run_log(ctx, DVMQ_LOG_INFO, "reload: %s", line);
}

static void refuse(struct run *r, const char *why)
{
	r->reloads_refused++;
	run_log(r, DVMQ_LOG_ERR, "reload refused: %s; the running configuration stays", why);
}

/* The changes that need a restart, in words; "" when there are none. */
static void needs_restart(const struct dvmq_config_diff *d, bool same_cpus, char *buf, size_t len)
{
	static const struct { uint32_t bit; const char *what; } host[] = {
		{ DVMQ_CONFIG_HOST_POOL, "queue_pool" }, { DVMQ_CONFIG_HOST_DEPTH, "queue_depth" },
		{ DVMQ_CONFIG_HOST_MTU, "mtu" },
	};
	size_t off = 0;
	buf[0] = '\0';
	if (d->uplink)
		off += (size_t)snprintf(buf + off, len - off, "the uplink");
	if (!same_cpus && off < len)
		off += (size_t)snprintf(buf + off, len - off, "%sthe CPUs in use", off ? ", " : "");
	for (size_t i = 0; i < sizeof(host) / sizeof(host[0]) && off < len; i++)
		if (d->host & host[i].bit)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", host[i].what);
}

static bool same_cpus(const struct run *r, const struct dvmq_config_cpus *cpus)
{
	if (cpus->n != r->n_procs)
		return false;
	for (uint32_t p = 0; p < r->n_procs; p++)
		if (cpus->ids[p] != (uint32_t)r->cpus[p])
			return false;
	return true;
}

/* Leaves VM `name` out of c (it could not be applied). */
static void drop_vm(struct dvmq_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_vms; i++)
		if (strcmp(c->vms[i].name, name) == 0) {
			memmove(&c->vms[i], &c->vms[i + 1], (c->n_vms - i - 1) * sizeof(c->vms[0]));
			c->n_vms--;
			return;
		}
}

/* One VM change; returns false when the new VM could not be applied. */
static bool apply_vm(struct run *r, const struct dvmq_config_vm_change *ch)
{
	char msg[300] = "";
	const char *name = ch->new_vm ? ch->new_vm->name : ch->old_vm->name;
	uint32_t slot = run_vm_find(r, name);
	if (ch->kind == DVMQ_CONFIG_VM_CHANGED && slot != RUN_NO_SLOT &&
	    (ch->fields & ~(uint32_t)(DVMQ_CONFIG_VM_WEIGHT | DVMQ_CONFIG_VM_MAX_QUEUES)) == 0) {
		struct run_vm *vm = &r->vm[slot];
		vm->adapter.weight = ch->new_vm->adapter.weight;
		vm->adapter.max_queues = ch->new_vm->adapter.max_queues;
		if (vm->attached && r->vmq && (ch->fields & DVMQ_CONFIG_VM_WEIGHT))
			dvmq_engine_adapter_set_weight(r->engine, vm->adapter_id, vm->adapter.weight);
		if (vm->attached && (ch->fields & DVMQ_CONFIG_VM_MAX_QUEUES))
			dvmq_engine_adapter_set_max_queues(r->engine, vm->adapter_id, vm->adapter.max_queues);
		return true;
	}
	if (ch->kind != DVMQ_CONFIG_VM_ADDED) {
		if (slot != RUN_NO_SLOT)
			run_vm_close(r, slot);
		else
			run_log(r, DVMQ_LOG_INFO, "reload: vm %s was removed with dvmqctl already", name);
		if (ch->kind == DVMQ_CONFIG_VM_REMOVED)
			return true;
	} else if (slot != RUN_NO_SLOT) {
		run_log(r, DVMQ_LOG_ERR, "reload: vm %s not added: a VM of that name was added with dvmqctl (remove it, "
			"then reload)", name);
		return false;
	}
	if (run_ctl_add_vm(r, name, ch->new_vm, msg, sizeof(msg))) {
		run_log(r, DVMQ_LOG_ERR, "reload: %s (left out; the next reload tries again)", msg);
		return false;
	}
	return true;
}

static void apply(struct run *r, struct dvmq_config *nc, const struct dvmq_config_diff *d)
{
	char **failed = calloc(d->n_vms ? d->n_vms : 1, sizeof(*failed));
	size_t n_failed = 0;
	for (size_t i = 0; i < d->n_vms; i++)
		if (!apply_vm(r, &d->vms[i]) && failed)
			failed[n_failed++] = (char *)(uintptr_t)d->vms[i].new_vm->name;
	if (run_sync_dp(r))
		run_log(r, DVMQ_LOG_ERR, "reload: the data plane failed to follow the engine");
	char msg[300] = "";
	if (d->n_params) {
		const struct dvmq_plan *plan = NULL;
		uint64_t t = run_now(r);
		if (dvmq_engine_set_params(r->engine, &nc->params, t, &plan) == 0) {
			r->params = nc->params;
			if (plan)
				run_apply_plan(r, plan, t, true, NULL, 0, NULL);
		} else {
			run_log(r, DVMQ_LOG_ERR, "reload: the engine refuses the parameters: %s",
				dvmq_engine_params_problem(&nc->params));
		}
	}
	if (d->host & DVMQ_CONFIG_HOST_PROCESSOR_SET & ~(DVMQ_CONFIG_HOST_CPUS | DVMQ_CONFIG_HOST_PROCESSORS)) {
		run_set_from_config(r, nc);
		if (run_apply_processor_set(r, msg, sizeof(msg)))
			run_log(r, DVMQ_LOG_ERR, "reload: processor set not applied: %s", msg);
	}
	if ((d->host & DVMQ_CONFIG_HOST_INTERVAL) && nc->host.interval_ns != r->interval_ns) {
		r->interval_ns = nc->host.interval_ns;
		if (run_arm_timer(r))
			run_log(r, DVMQ_LOG_ERR, "reload: cannot re-arm the sampling timer");
	}
	/* names point into nc: drop them only now */
	for (size_t i = 0; i < n_failed; i++) {
		char name[DVMQ_CONFIG_VM_NAME_MAX];
		snprintf(name, sizeof(name), "%s", failed[i]);
		drop_vm(nc, name);
	}
	free(failed);
}

void run_reload(struct run *r)
{
	const char *path = r->o->reload_path;
	if (!path) {
		refuse(r, "SIGHUP: this run plays a scenario and has no configuration file to reload");
		return;
	}
	run_log(r, DVMQ_LOG_INFO, "SIGHUP: reloading %s", path);
	struct dvmq_config *nc = NULL;
	struct dvmq_diag diag = { { 0 } };
	struct dvmq_machine *m = malloc(sizeof(*m));
	struct dvmq_config_cpus cpus = { 0 };
	struct dvmq_config_diff *d = NULL;
	struct dvmq_config running;
	bool have_running = false;
	char why[300];
	if (!m || dvmq_machine_probe(m)) {
		refuse(r, m ? "cannot read this machine's CPUs" : "out of memory");
		goto out;
	}
	if (dvmq_config_load(path, &nc, &diag) || run_apply_overrides(r->o, nc, &diag) ||
	    dvmq_config_check_machine(nc, m, &cpus, note, r, &diag)) {
		refuse(r, diag.msg[0] ? diag.msg : "out of memory");
		goto out;
	}
	if (run_config_running(r, &running) || (have_running = true, dvmq_config_diff(&running, nc, &d))) {
		refuse(r, "out of memory");
		goto out;
	}
	needs_restart(d, same_cpus(r, &cpus), why, sizeof(why));
	if (why[0]) {
		char line[400];
		snprintf(line, sizeof(line), "%.300s changed, which needs a restart of dvmq", why);
		refuse(r, line);
		goto out;
	}
	if (dvmq_config_diff_empty(d)) {
		run_log(r, DVMQ_LOG_INFO, "reload: %s is unchanged", path);
	} else {
		dvmq_config_diff_describe(d, describe, r);
		apply(r, nc, d);
	}
	struct dvmq_config *old = r->cfg;
	struct dvmq_config_control old_ctl = old->control;
	uint32_t control = d->control;
	dvmq_config_diff_free(d);
	d = NULL;
	r->cfg = nc;
	nc = NULL;
	/* the first config owns the scenario the uplink thread plays: it stays until the end */
	if (!r->first_cfg)
		r->first_cfg = old;
	else
		dvmq_config_free(old);
	if (r->o->log_level < 0)
		r->log_level = (int)r->cfg->control.log_level;
	if (control)
		run_ctl_restart(r, &old_ctl, control);
	r->reloads++;
	run_ctl_dirty(r);
	run_log(r, DVMQ_LOG_INFO, "reload: applied");
out:
	dvmq_config_diff_free(d);
	if (have_running)
		run_config_running_free(&running);
	dvmq_config_cpus_free(&cpus);
	dvmq_config_free(nc);
	free(m);
}
