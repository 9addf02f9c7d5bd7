/* Statistics readers (include/dvmq/dp.h): relaxed loads of single-writer counters, from any
 * thread; each value is whole, a set of them is a snapshot only approximately (callers subtract
 * successive readings). */
#include <errno.h>
#include <string.h>

#include "dp_internal.h"

void dvmq_dp_counters(const struct dvmq_dp *dp, struct dvmq_dp_counters *o)
{
	memset(o, 0, sizeof(*o));
	o->rx = ctr_get(&dp->rx);
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++)
		o->verdict[v] = ctr_get(&dp->verdict[v]);
	for (unsigned d = 1; d < DVMQ_DP_DROP_COUNT; d++)
		o->drop[d] = ctr_get(&dp->drop[d]);
	o->overflow = ctr_get(&dp->overflow);
	o->refused = ctr_get(&dp->refused);
	o->flood_refused = ctr_get(&dp->flood_refused);
	o->rebinds = ctr_get(&dp->rebinds);
	o->vmq_delivered = ctr_get(&dp->vmq_delivered);
	o->vm_gone = ctr_get(&dp->vm_gone);
	o->default_unicast = ctr_get(&dp->default_unicast);
	o->flooded = ctr_get(&dp->flooded);
	o->unknown_unicast = ctr_get(&dp->unknown_unicast);
	o->flood_copies = ctr_get(&dp->flood_copies);
	o->filtered = ctr_get(&dp->filtered);
	o->learned = ctr_get(&dp->learned);
	o->fdb_full = ctr_get(&dp->fdb_full);
	o->fdb_entries = ctr_get(&dp->fdb_entries);
	o->fdb_probes_max = ctr_get(&dp->fdb_probes_max);
	for (uint32_t qid = 0; qid < dp->n_queues; qid++)
		o->in_flight += ring_backlog(&dp->q[qid].ring);
	uint64_t t[DP_SEND_WORDS];
	for (size_t i = 0; i < DP_SEND_WORDS; i++)
		t[i] = ctr_get(&dp->sent[i]);
	memcpy(&o->sent, t, sizeof(t));
}

int dvmq_dp_vm_stats(const struct dvmq_dp *dp, uint32_t id, struct dvmq_dp_vm_stats *o)
{
	struct dvmq_dp *mdp = (struct dvmq_dp *)(uintptr_t)dp; /* the lock; nothing else is written */
	int rc = -ENOENT;
	memset(o, 0, sizeof(*o));
	/* under the control lock: a VM is freed only after remove unlinked it under that lock */
	pthread_mutex_lock(&mdp->ctl_lock);
	const struct dp_vm *vm = id < DVMQ_DP_NO_VM ? atomic_load_explicit(&dp->vm_slot[id % dp->cfg.max_vms],
									  memory_order_acquire)
						    : NULL;
	if (vm && vm->id == id) {
		uint64_t t[DP_SEND_WORDS];
		for (size_t i = 0; i < DP_SEND_WORDS; i++)
			t[i] = ctr_get(&vm->sent[i]);
		memcpy(&o->sent, t, sizeof(t));
		o->refused = ctr_get(&vm->refused);
		o->queue = atomic_load_explicit(&vm->queue, memory_order_relaxed);
		rc = 0;
	}
	pthread_mutex_unlock(&mdp->ctl_lock);
	return rc;
}

static const char *const drop_names[DVMQ_DP_DROP_COUNT] = {
	[DVMQ_DP_DROP_NONE] = "none",
	[DVMQ_DP_DROP_SPOOFED_MAC] = "spoofed-mac",
	[DVMQ_DP_DROP_MULTICAST_SOURCE] = "multicast-source",
	[DVMQ_DP_DROP_FOREIGN_VLAN] = "foreign-vlan",
	[DVMQ_DP_DROP_BAD_OFFLOAD] = "bad-offload",
	[DVMQ_DP_DROP_TO_SELF] = "to-self",
	[DVMQ_DP_DROP_NO_UPLINK] = "no-uplink",
	[DVMQ_DP_DROP_UNKNOWN_VM] = "unknown-vm",
};

const char *dvmq_dp_drop_name(enum dvmq_dp_drop d)
{
	return (unsigned)d < DVMQ_DP_DROP_COUNT ? drop_names[d] : "?";
}

int dvmq_dp_queue_stats(const struct dvmq_dp *dp, uint32_t qid, struct dvmq_dp_queue_stats *o)
{
	if (qid >= dp->n_queues)
		return -EINVAL;
	const struct dp_queue *q = &dp->q[qid];
	o->enqueued = ctr_get(&q->ring.enq);
	o->packets = ctr_get(&q->packets);
	o->bytes = ctr_get(&q->bytes);
	o->busy_ns = ctr_get(&q->busy_ns);
	o->dropped = ctr_get(&q->dropped);
	o->backlog = ring_backlog(&q->ring);
	o->ring_bytes = dp->ring_bytes;
	o->owner = atomic_load_explicit(&q->owner, memory_order_relaxed);
	o->target = atomic_load_explicit(&q->next, memory_order_relaxed);
	return 0;
}

int dvmq_dp_worker_stats(const struct dvmq_dp *dp, uint32_t i, struct dvmq_dp_worker_stats *o)
{
	if (i >= dp->n_workers)
		return -EINVAL;
	const struct dp_worker *w = &dp->w[i];
	o->busy_ns = ctr_get(&w->busy_ns);
	o->packets = ctr_get(&w->packets);
	o->wakeups = ctr_get(&w->wakeups);
	o->sleeps = ctr_get(&w->sleeps);
	o->wake_writes = ctr_get(&w->wake_writes);
	o->asleep = atomic_load_explicit(&w->sleeping, memory_order_relaxed) != 0;
	o->n_queues = atomic_load_explicit(&w->n_owned_pub, memory_order_relaxed);
	for (unsigned b = 0; b < DVMQ_HIST_BUCKETS; b++)
		o->lat[b] = ctr_get(&w->lat[b]);
	return 0;
}

uint32_t dvmq_dp_n_workers(const struct dvmq_dp *dp)
{
	return dp->n_workers;
}

size_t dvmq_dp_handoffs(const struct dvmq_dp *dp, uint64_t *out, size_t max)
{
	uint64_t n = atomic_load_explicit(&dp->n_handoffs, memory_order_relaxed);
	if (n > DP_HANDOFF_SAMPLES)
		n = DP_HANDOFF_SAMPLES;
	size_t k = 0;
	for (uint64_t i = 0; i < n && k < max; i++) {
		uint64_t v = atomic_load_explicit(&dp->handoff_ns[i], memory_order_relaxed);
		if (v)
			out[k++] = v;
	}
	return k;
}

double dvmq_dp_work_ns_per_byte(const struct dvmq_dp *dp)
{
	return 1.0 / dp->bytes_per_ns[4]; /* 1 KiB frames */
}
