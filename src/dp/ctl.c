/* The data plane's control API (include/dvmq/dp.h): VMs added, removed, rebound and re-costed,
 * queues moved between workers. Calls serialise on ctl_lock; none rebuilds a table. Adding,
 * rebinding and re-costing publish one VM or one field: the fast path sees the change at its next
 * lookup, and a rebind completes as a handoff in the data plane (dp_internal.h). Removing waits
 * one RCU grace period, outside the lock, so that the caller may destroy the port it returns. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"

static uint64_t cost_bits(double cost_ns)
{
	uint64_t b;
	memcpy(&b, &cost_ns, sizeof(b));
	return b;
}

/* The VM an id names now, or NULL (ctl_lock held). */
static struct dp_vm *vm_get(struct dvmq_dp *dp, uint32_t id)
{
	if (id == DVMQ_DP_NO_VM)
		return NULL;
	struct dp_vm *vm = atomic_load_explicit(&dp->vm_slot[id % dp->cfg.max_vms], memory_order_relaxed);
	return vm && vm->id == id ? vm : NULL;
}

int dvmq_dp_vm_add(struct dvmq_dp *dp, const uint8_t mac[6], uint16_t vlan, double cost_ns,
		   struct dvmq_port *port, uint32_t *vm_id)
{
	if (vlan > 4094 || !port || !(cost_ns >= 0.0) || dvmq_mac_is_multicast(mac))
		return -EINVAL;
	struct dp_vm *vm = fault_zalloc_aligned(64, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	memcpy(vm->mac, mac, 6);
	vm->vlan = vlan;
	vm->port = port;
	atomic_init(&vm->queue, DVMQ_DEFAULT_QUEUE);
	atomic_init(&vm->n_group, 1); /* table[], group[]: zeroed, the default queue */
	atomic_init(&vm->cost_bits, cost_bits(cost_ns));
	pthread_mutex_lock(&dp->ctl_lock);
	int rc = -ENOSPC;
	if (dp->n_free == 0)
		goto out;
	uint32_t max = dp->cfg.max_vms, slot = dp->free_slots[dp->n_free - 1];
	/* a new id per VM (slot + k * max_vms): frames still queued for the slot's previous VM carry
	 * its id and are counted vm_gone, never delivered to this one */
	uint64_t id = slot + (uint64_t)dp->slot_reuse[slot] * max;
	if (id >= DVMQ_DP_NO_VM) {
		dp->slot_reuse[slot] = 0;
		id = slot;
	}
	vm->id = (uint32_t)id;
	vm->slot = slot;
	rc = vmtab_insert(dp, vm);
	if (rc)
		goto out;
	dp->n_free--;
	dp->slot_reuse[slot]++;
	if (slot + 1 > atomic_load_explicit(&dp->slot_hw, memory_order_relaxed))
		atomic_store_explicit(&dp->slot_hw, slot + 1, memory_order_release);
	*vm_id = vm->id;
	vm = NULL;
out:
	pthread_mutex_unlock(&dp->ctl_lock);
	free(vm); /* not linked: no reader has seen it */
	return rc;
}

int dvmq_dp_vm_remove(struct dvmq_dp *dp, uint32_t id)
{
	pthread_mutex_lock(&dp->ctl_lock);
	struct dp_vm *vm = vm_get(dp, id);
	if (vm) {
		vmtab_remove(dp, vm);
		dp->free_slots[dp->n_free++] = id % dp->cfg.max_vms;
	}
	pthread_mutex_unlock(&dp->ctl_lock);
	if (!vm)
		return -ENOENT;
	/* readers that found it finish before it is freed; frames that still carry its id are
	 * counted vm_gone by their queue's owner */
	dp_rcu_sync();
	free(vm);
	return 0;
}

/* Points every bucket at one queue (ctl_lock held). */
static void set_single(struct dp_vm *vm, uint32_t queue)
{
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		atomic_store_explicit(&vm->table[b], queue, memory_order_release);
	atomic_store_explicit(&vm->group[0], queue, memory_order_relaxed);
	atomic_store_explicit(&vm->n_group, 1, memory_order_relaxed);
	atomic_store_explicit(&vm->queue, queue, memory_order_release);
	atomic_store_explicit(&vm->hashed, 0, memory_order_release);
}

int dvmq_dp_vm_set_queue(struct dvmq_dp *dp, uint32_t id, uint32_t queue)
{
	if (queue >= dp->n_queues)
		return -EINVAL;
	pthread_mutex_lock(&dp->ctl_lock);
	struct dp_vm *vm = vm_get(dp, id);
	if (vm)
		set_single(vm, queue);
	pthread_mutex_unlock(&dp->ctl_lock);
	return vm ? 0 : -ENOENT;
}

int dvmq_dp_vm_set_group(struct dvmq_dp *dp, uint32_t id, const struct dvmq_queue_group *g, bool hashed)
{
	if (!g || g->n_queues < 1 || g->n_queues > DVMQ_MAX_GROUP_QUEUES)
		return -EINVAL;
	for (uint32_t k = 0; k < g->n_queues; k++)
		if (g->queues[k] >= dp->n_queues)
			return -EINVAL;
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		if (g->indirection[b] >= g->n_queues)
			return -EINVAL;
	pthread_mutex_lock(&dp->ctl_lock);
	struct dp_vm *vm = vm_get(dp, id);
	if (vm) {
		/* each bucket on its own: a frame finds its bucket's old queue or its new one, and
		 * the classifier's barrier orders the two (classify.c) */
		for (uint32_t k = 0; k < g->n_queues; k++)
			atomic_store_explicit(&vm->group[k], g->queues[k], memory_order_relaxed);
		atomic_store_explicit(&vm->n_group, (uint8_t)g->n_queues, memory_order_relaxed);
		for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
			atomic_store_explicit(&vm->table[b], g->queues[g->indirection[b]], memory_order_release);
		atomic_store_explicit(&vm->queue, g->queues[0], memory_order_release);
		atomic_store_explicit(&vm->hashed, hashed || g->n_queues > 1, memory_order_release);
	}
	pthread_mutex_unlock(&dp->ctl_lock);
	return vm ? 0 : -ENOENT;
}

int dvmq_dp_vm_buckets(struct dvmq_dp *dp, uint32_t id, uint64_t *packets, uint64_t *bytes)
{
	pthread_mutex_lock(&dp->ctl_lock);
	struct dp_vm *vm = vm_get(dp, id);
	for (uint32_t b = 0; vm && b < DVMQ_INDIRECTION_ENTRIES; b++) {
		packets[b] = ctr_get(&vm->bucket_pkts[b]);
		bytes[b] = ctr_get(&vm->bucket_bytes[b]);
	}
	pthread_mutex_unlock(&dp->ctl_lock);
	return vm ? 0 : -ENOENT;
}

int dvmq_dp_vm_set_cost(struct dvmq_dp *dp, uint32_t id, double cost_ns)
{
	if (!(cost_ns >= 0.0))
		return -EINVAL;
	pthread_mutex_lock(&dp->ctl_lock);
	struct dp_vm *vm = vm_get(dp, id);
	if (vm)
		atomic_store_explicit(&vm->cost_bits, cost_bits(cost_ns), memory_order_relaxed);
	pthread_mutex_unlock(&dp->ctl_lock);
	return vm ? 0 : -ENOENT;
}

int dvmq_dp_move(struct dvmq_dp *dp, uint32_t qid, uint32_t worker)
{
	if (qid >= dp->n_queues || worker >= dp->n_workers)
		return -EINVAL;
	pthread_mutex_lock(&dp->ctl_lock);
	struct dp_queue *q = &dp->q[qid];
	if (atomic_load(&q->next) != worker) {
		atomic_store_explicit(&q->move_req_ns, dp_now_ns(), memory_order_relaxed);
		atomic_store_explicit(&q->next, worker, memory_order_seq_cst);
		/* the owner may be asleep: it must look at its queues' `next` */
		struct dp_worker *owner = &dp->w[atomic_load_explicit(&q->owner, memory_order_seq_cst)];
		atomic_fetch_add_explicit(&owner->gen, 1, memory_order_seq_cst);
		dp_wake(owner);
	}
	pthread_mutex_unlock(&dp->ctl_lock);
	return 0;
}
