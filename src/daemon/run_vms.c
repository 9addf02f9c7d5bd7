/* VM slots of `dvmq run`: in and out of the engine and the data plane (r->dpif), the data plane
 * kept in step with the engine's placement (run_sync_dp), and a scenario's arrivals and
 * departures.
 * Invariant: a slot `attached` is an engine adapter (adapter_id, adapter_vm) and a VM of the
 * data plane; its `queue` is the queue the data plane was last told, which run_sync_dp brings
 * to the engine's choice. */
#include <errno.h>
#include <net/if.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

uint64_t run_scenario_time(const struct run *r, uint64_t t)
{
	/* a daemon outlives its scenario: the scenario's day repeats */
	return !r->duration_ns && r->scenario_period_ns ? t % r->scenario_period_ns : t;
}

uint32_t run_vm_find(const struct run *r, const char *name)
{
	for (uint32_t i = 0; i < r->cap_vms; i++)
		if (r->vm[i].used && strcmp(r->vm[i].name, name) == 0)
			return i;
	return RUN_NO_SLOT;
}

/* The slot's port through the data plane; what the daemon needs to know of its device. */
static int port_open(struct run *r, uint32_t slot, const struct dvmq_config_vm *cv, char *msg, size_t len)
{
	struct run_vm *vm = &r->vm[slot];
	bool elsewhere = vm->netns[0] != '\0'; /* a TAP in a container's namespace: not ours to see */
	bool existed = elsewhere || (vm->device[0] && if_nametoindex(vm->device) != 0);
	int rc = r->dpif->vm_open(r, slot, cv, msg, len);
	if (rc)
		return rc;
	vm->ifindex = vm->device[0] && !elsewhere ? (int)if_nametoindex(vm->device) : 0;
	if (vm->kind != DVMQ_CONFIG_PORT_SINK && vm->kind != DVMQ_CONFIG_PORT_TAP && vm->device[0] && vm->ifindex == 0) {
		/* a data plane that opened nothing (kernel mode names the device for the views): the
		 * VM waits for its device as with a port */
		r->dpif->vm_close(r, slot);
		snprintf(msg, len, "vm %s: %s %s: no such interface", vm->name, dvmq_config_port_name(vm->kind), vm->device);
		return -ENODEV;
	}
	vm->port_open = true;
	/* a TAP that was not there is dvmq's own; one that was is the hypervisor's (persistent) */
	vm->tap_created = vm->kind == DVMQ_CONFIG_PORT_TAP && !existed;
	return 0;
}

/* The config VM a slot stands for (what vm_open takes again when its device comes back). */
static void slot_config(const struct run *r, uint32_t slot, struct dvmq_config_vm *cv)
{
	const struct run_vm *vm = &r->vm[slot];
	memset(cv, 0, sizeof(*cv));
	snprintf(cv->name, sizeof(cv->name), "%.*s", (int)sizeof(cv->name) - 1, vm->name);
	cv->adapter = vm->adapter;
	cv->port = vm->kind;
	snprintf(cv->device, sizeof(cv->device), "%s", vm->device);
	cv->offload = vm->offload;
	cv->scenario_vm = vm->gen_vm;
	snprintf(cv->netns, sizeof(cv->netns), "%s", vm->netns);
}

int run_vm_open(struct run *r, const char *name, const struct dvmq_config_vm *cv, char *msg, size_t len,
		uint32_t *slot_out)
{
	uint32_t slot = 0;
	while (slot < r->cap_vms && r->vm[slot].used)
		slot++;
	if (slot == r->cap_vms) {
		snprintf(msg, len, "the VM table is full (%u VMs)", r->cap_vms);
		return -ENOSPC;
	}
	struct run_vm *vm = &r->vm[slot];
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	vm->adapter = cv->adapter;
	vm->kind = cv->port;
	snprintf(vm->device, sizeof(vm->device), "%s", cv->device);
	vm->offload = cv->offload;
	snprintf(vm->netns, sizeof(vm->netns), "%s", cv->netns);
	vm->gen_vm = -1;
	vm->pin = DVMQ_NO_PROCESSOR;
	if (vm->netns[0])
		run_devices_follow_netns(r, slot, false); /* before the open: its TAP appearing is heard */
	int rc = port_open(r, slot, cv, msg, len);
	/* an existing interface that is not there yet (a libvirt VM not running: vnet3 exists only
	 * while it runs) is no failure: the VM is configured, detached until its device appears */
	if (rc == -ENODEV && cv->device[0]) {
		vm->gen_vm = cv->scenario_vm;
		run_log(r, DVMQ_LOG_WARN, "vm %s: device %s%s%s absent: configured, detached until it appears", name,
			cv->device, cv->netns[0] ? " in network namespace " : "", cv->netns);
		rc = 0;
	}
	if (rc) {
		if (vm->netns[0])
			run_devices_follow_netns(r, slot, true);
		return rc;
	}
	vm->used = true;
	r->n_vms++;
	*slot_out = slot;
	return 0;
}

int run_vm_attach(struct run *r, uint32_t slot, char *msg, size_t len)
{
	struct run_vm *vm = &r->vm[slot];
	struct dvmq_adapter_desc d = vm->adapter;
	if (!r->vmq)
		d.weight = 0; /* VMQ off: every VM on the default queue */
	int rc = dvmq_engine_adapter_add(r->engine, &d, &vm->adapter_id);
	if (rc) {
		snprintf(msg, len, "vm %s: the engine refuses it: %s", vm->name,
			 rc == -EEXIST ? "its MAC is taken on that VLAN" : rc == -ENOSPC ? "its adapter table is full" : strerror(-rc));
		return rc;
	}
	rc = r->dpif->vm_add(r, slot, msg, len);
	if (rc) {
		dvmq_engine_adapter_remove(r->engine, vm->adapter_id);
		return rc;
	}
	r->adapter_vm[vm->adapter_id] = slot;
	vm->queue = DVMQ_DEFAULT_QUEUE;
	vm->attached = true;
	run_log(r, DVMQ_LOG_DEBUG, "vm %s attached (adapter %u)", vm->name, vm->adapter_id);
	return 0;
}

void run_vm_detach(struct run *r, uint32_t slot)
{
	struct run_vm *vm = &r->vm[slot];
	if (!vm->attached)
		return;
	dvmq_engine_adapter_remove(r->engine, vm->adapter_id);
	r->adapter_vm[vm->adapter_id] = RUN_NO_SLOT;
	r->dpif->vm_remove(r, slot); /* its waiting frames are counted */
	vm->attached = false;
	vm->queue = DVMQ_DEFAULT_QUEUE;
	memset(&vm->told, 0, sizeof(vm->told));
	vm->told_hashed = false;
	/* its bucket counters start again with its next attach (a new dp VM, or another kdp group):
	 * the baseline is read again then, not subtracted from counts it never held */
	free(vm->bucket_prev);
	vm->bucket_prev = NULL;
	run_log(r, DVMQ_LOG_DEBUG, "vm %s detached", vm->name);
}

void run_vm_close(struct run *r, uint32_t slot)
{
	struct run_vm *vm = &r->vm[slot];
	run_vm_detach(r, slot);
	if (vm->port_open)
		r->dpif->vm_close(r, slot);
	if (vm->nsw)
		run_devices_follow_netns(r, slot, true);
	free(vm->bucket_prev);
	memset(vm, 0, sizeof(*vm));
	r->n_vms--;
}

/* A VM pinned by an operator that got a queue again (its device back, a VMQ again): the pin
 * holds on its new queue, or ends with a line when its processor left the set. */
static void repin(struct run *r, struct run_vm *vm, uint32_t q)
{
	if (vm->pin == DVMQ_NO_PROCESSOR || q == DVMQ_DEFAULT_QUEUE || dvmq_engine_queue_pinned(r->engine, q))
		return;
	const struct dvmq_plan *plan = NULL;
	uint64_t t = run_now(r);
	if (dvmq_engine_queue_pin(r->engine, q, vm->pin, t, &plan) != 0) {
		run_log(r, DVMQ_LOG_WARN, "vm %s: its pin to processor %u ends: that processor left the processor set",
			vm->name, vm->pin);
		vm->pin = DVMQ_NO_PROCESSOR;
		return;
	}
	if (plan)
		run_apply_plan(r, plan, t, true, NULL, 0, NULL);
	run_log(r, DVMQ_LOG_INFO, "vm %s: pinned again to processor %u (queue %u)", vm->name, vm->pin, q);
}

/* VMMQ: a VM that may hold a group (max-queues > 1), or still holds one, gets its group's
 * table in the data plane when it changed. Returns 1 (handled), 0 (a plain VMQ: the caller binds
 * its one queue) or a negative errno. */
static int sync_group(struct run *r, uint32_t slot)
{
	struct run_vm *vm = &r->vm[slot];
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(r->engine, vm->adapter_id);
	bool hashed = dvmq_engine_adapter_max_queues(r->engine, vm->adapter_id) > 1;
	if (!g || !r->dpif->vm_set_group || (!hashed && g->n_queues < 2 && !vm->told_hashed))
		return 0;
	if (vm->told_hashed == hashed && memcmp(&vm->told, g, sizeof(*g)) == 0)
		return 1;
	int rc = r->dpif->vm_set_group(r, slot, g, hashed);
	if (rc)
		return rc;
	vm->told = *g;
	vm->told_hashed = hashed;
	vm->queue = g->queues[0];
	if (hashed && !vm->bucket_prev) {
		/* counters start with the VM's: read them once so that the first sample is one interval */
		vm->bucket_prev = calloc(2 * DVMQ_INDIRECTION_ENTRIES, sizeof(uint64_t));
		if (vm->bucket_prev && r->dpif->vm_buckets)
			r->dpif->vm_buckets(r, slot, vm->bucket_prev, vm->bucket_prev + DVMQ_INDIRECTION_ENTRIES);
	}
	return 1;
}

int run_sync_dp(struct run *r)
{
	for (uint32_t q = 0; q < r->n_queues; q++) {
		uint32_t p = dvmq_engine_queue_processor(r->engine, q);
		if (p != DVMQ_NO_PROCESSOR)
			r->dpif->queue_move(r, q, p);
		uint32_t a = dvmq_engine_queue_adapter(r->engine, q);
		if (a != r->q[q].adapter) { /* a slot given to another VM is a new queue */
			struct run_queue *rq = &r->q[q];
			rq->adapter = a;
			dvmq_queue_moves_reset(&rq->moves);
			r->dpif->queue_stats(r, q, &rq->base);
			rq->n_moves = 0;
			rq->last_move_ns = 0;
		}
	}
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		struct run_vm *vm = &r->vm[i];
		if (!vm->used || !vm->attached)
			continue;
		int rc = sync_group(r, i);
		if (rc < 0)
			return rc;
		if (rc > 0)
			continue;
		int64_t q = dvmq_engine_adapter_queue(r->engine, vm->adapter_id);
		uint32_t want = q < 0 ? DVMQ_DEFAULT_QUEUE : (uint32_t)q;
		repin(r, vm, want);
		if (want != vm->queue) {
			rc = r->dpif->vm_set_queue(r, i, want);
			if (rc)
				return rc;
			vm->queue = want;
		}
	}
	if (r->dpif->placed)
		r->dpif->placed(r);
	run_ctl_dirty(r);
	return 0;
}

static bool present(const struct run *r, const struct run_vm *vm, uint64_t t)
{
	if (vm->gen_vm < 0)
		return true;
	const struct dvmq_vm *d = &r->s->vms[vm->gen_vm];
	uint64_t st = run_scenario_time(r, t);
	return st >= d->arrive_ns && st < d->leave_ns;
}

int run_churn(struct run *r, uint64_t t)
{
	bool changed = false;
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		struct run_vm *vm = &r->vm[i];
		if (!vm->used || !vm->port_open)
			continue; /* its device is absent: run_vm_check_device attaches it when it comes */
		bool want = present(r, vm, t);
		if (want && !vm->attached) {
			char msg[256];
			int rc = run_vm_attach(r, i, msg, sizeof(msg));
			if (rc) {
				run_log(r, DVMQ_LOG_ERR, "%s", msg);
				return rc;
			}
			changed = true;
		} else if (!want && vm->attached) {
			run_vm_detach(r, i);
			changed = true;
		}
	}
	if (r->dpif->at)
		r->dpif->at(r, t);
	return changed ? run_sync_dp(r) : 0;
}

void run_vm_check_device(struct run *r, uint32_t slot, bool lost)
{
	struct run_vm *vm = &r->vm[slot];
	if (!vm->used || !vm->device[0]) /* a sink, a kernel-mode VM named by no device */
		return;
	const char *kind = dvmq_config_port_name(vm->kind);
	int now = (int)if_nametoindex(vm->device);
	if (vm->port_open) {
		/* dvmq's own TAP may live in another namespace (a container's), as does a TAP in a
		 * configured netns: only its port (or the namespace's path) says when it is lost; any
		 * other device is gone when its name no longer finds it here */
		bool gone = lost || (!vm->tap_created && !vm->netns[0] && now != vm->ifindex);
		if (!gone)
			return;
		run_vm_detach(r, slot);
		r->dpif->vm_close(r, slot);
		free(vm->bucket_prev); /* its counters start again with its port */
		vm->bucket_prev = NULL;
		vm->port_open = false;
		vm->ifindex = 0;
		vm->dev_gone++;
		run_log(r, DVMQ_LOG_WARN, "vm %s: %s %s %s: detached (frames it is sent are counted as detached until it is "
			"back)", vm->name, kind, vm->device, lost ? "lost its port" : "is gone");
		now = (int)if_nametoindex(vm->device);
	}
	/* dvmq's own TAP comes back when dvmq creates it again, a TAP in a container's namespace when
	 * that namespace exists (opened there, or created), another device when it exists here */
	bool can = vm->netns[0] ? access(vm->netns, F_OK) == 0 : vm->tap_created || now != 0;
	if (!can)
		return;
	struct dvmq_config_vm cv;
	slot_config(r, slot, &cv);
	char msg[300] = "";
	int rc = port_open(r, slot, &cv, msg, sizeof(msg));
	if (rc == -ENODEV && vm->netns[0]) /* the container is there, its TAP not yet: heard when it is */
		return;
	if (rc) {
		run_log(r, DVMQ_LOG_ERR, "%s (the VM stays detached)", msg);
		return;
	}
	vm->dev_appeared++;
	rc = present(r, vm, run_now(r)) ? run_vm_attach(r, slot, msg, sizeof(msg)) : 0;
	if (rc)
		run_log(r, DVMQ_LOG_ERR, "%s", msg);
	else
		run_log(r, DVMQ_LOG_INFO, "vm %s: %s %s %s: attached", vm->name, kind, vm->device,
			vm->tap_created ? "created again" : "appeared");
}
