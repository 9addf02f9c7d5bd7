/* VM slots of `dvmq run`: in and out of the engine and the data plane (r->dpif), the data plane
 * kept in step with the engine's placement (run_sync_dp), and a scenario's arrivals and
 * departures.
 * Invariant: a slot `attached` is an engine adapter (adapter_id, adapter_vm) and a VM of the
 * data plane; its `queue` is the queue the data plane was last told, which run_sync_dp brings
 * to the engine's choice. */
#include <errno.h>
#include <stdio.h>
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
	vm->gen_vm = -1;
	int rc = r->dpif->vm_open(r, slot, cv, msg, len);
	if (rc)
		return rc;
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
	run_log(r, DVMQ_LOG_DEBUG, "vm %s detached", vm->name);
}

void run_vm_close(struct run *r, uint32_t slot)
{
	struct run_vm *vm = &r->vm[slot];
	run_vm_detach(r, slot);
	r->dpif->vm_close(r, slot);
	memset(vm, 0, sizeof(*vm));
	r->n_vms--;
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
		int64_t q = dvmq_engine_adapter_queue(r->engine, vm->adapter_id);
		uint32_t want = q < 0 ? DVMQ_DEFAULT_QUEUE : (uint32_t)q;
		if (want != vm->queue) {
			int rc = r->dpif->vm_set_queue(r, i, want);
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
		if (!vm->used)
			continue;
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
