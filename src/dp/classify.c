/* The classifier stage (dvmq_dp_classify, include/dvmq/dp.h): it plays the NIC's MAC filter.
 * It parses each frame, counts the ones it refuses by reason, looks (dst MAC, VLAN) up in the VM
 * table and copies the frame into its VM's queue, or the default queue; then it wakes each
 * sleeping worker whose queues received frames, once per call.
 * A VM whose queue changed since the classifier last fed it (a rebind) gets a barrier before its
 * first frame in the new queue (dp_internal.h): nothing of it is reordered or served twice at
 * once. Uplink thread only; no allocation, no lock, no locked instruction per frame. */
#include <sched.h>

#include "dp_internal.h"

/* Enqueues one frame for `vm` (NULL: default path, no VM resolved) into queue qid. Returns
 * false when the ring is full (a lossy data plane drops it then). */
static bool enqueue(struct dvmq_dp *dp, const struct dvmq_pkt *p, const struct dp_vm *vm, uint32_t qid,
		    uint64_t now)
{
	struct dp_queue *q = &dp->q[qid];
	uint32_t id = qid == DVMQ_DEFAULT_QUEUE || !vm ? DVMQ_DP_NO_VM : vm->id;
	if (!vm)
		return ring_push(&q->ring, p->data, p->len, id, now);
	struct cls_vm *c = &dp->cls_vm[vm->id % dp->cfg.max_vms];
	if (c->id != vm->id) {
		/* a new VM starts where frames to its MAC went so far: the default queue */
		c->id = vm->id;
		c->queue = DVMQ_DEFAULT_QUEUE;
	}
	if (c->queue == qid)
		return ring_push(&q->ring, p->data, p->len, id, now);
	/* the old queue may still hold its frames: this queue waits until that one has released
	 * every packet enqueued so far (enq is ours: the classifier is every ring's producer) */
	uint64_t pos = atomic_load_explicit(&dp->q[c->queue].ring.enq, memory_order_relaxed);
	if (!ring_push_ex(&q->ring, p->data, p->len, id, now, true, c->queue, pos))
		return false;
	c->queue = qid;
	ctr_add(&dp->rebinds, 1);
	return true;
}

static void touch(struct dvmq_dp *dp, uint32_t qid, unsigned *n_touched)
{
	if (dp->cls_qmark[qid] == dp->cls_call)
		return;
	dp->cls_qmark[qid] = dp->cls_call;
	dp->cls_touched[(*n_touched)++] = qid;
}

unsigned dvmq_dp_classify(struct dvmq_dp *dp, const struct dvmq_pkt *pkts, unsigned n)
{
	unsigned n_touched = 0, accepted = 0;
	uint64_t now = dp_now_ns();
	dp->cls_call++;
	ctr_add(&dp->rx, n);
	dp_rcu_read_lock();
	for (unsigned i = 0; i < n; i++) {
		struct dvmq_frame f;
		enum dvmq_frame_verdict v = dvmq_frame_parse(pkts[i].data, pkts[i].len, dp->cfg.mtu, &f);
		if (v != DVMQ_FRAME_OK) {
			ctr_add(&dp->verdict[v], 1);
			continue;
		}
		const struct dp_vm *vm = dvmq_mac_is_multicast(f.dst) ? NULL : vmtab_lookup(dp, f.dst, f.vlan);
		uint32_t qid = vm ? atomic_load_explicit(&vm->queue, memory_order_acquire) : DVMQ_DEFAULT_QUEUE;
		struct dp_queue *q = &dp->q[qid];
		while (!enqueue(dp, &pkts[i], vm, qid, now)) {
			if (!dp->cfg.lossless) {
				ctr_add(&q->dropped, 1);
				ctr_add(&dp->overflow, 1);
				goto next;
			}
			/* a replay must not lose frames: make sure the owner is awake, wait for room */
			struct dp_worker *w = &dp->w[atomic_load_explicit(&q->owner, memory_order_acquire)];
			atomic_thread_fence(memory_order_seq_cst); /* the wake-up pairing (worker.c) */
			if (atomic_load_explicit(&w->sleeping, memory_order_relaxed))
				dp_wake(w);
			sched_yield();
		}
		accepted++;
		touch(dp, qid, &n_touched);
next:;
	}
	dp_rcu_read_unlock();
	/* the classifier's half of the wake-up pairing (worker.c): the ring heads stored above are
	 * ordered before the `sleeping` loads below */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned k = 0; k < n_touched; k++) {
		uint32_t w = atomic_load_explicit(&dp->q[dp->cls_touched[k]].owner, memory_order_relaxed);
		if (dp->cls_wmark[w] == dp->cls_call)
			continue; /* one wake-up per worker per call, whatever its queues */
		dp->cls_wmark[w] = dp->cls_call;
		if (atomic_load_explicit(&dp->w[w].sleeping, memory_order_relaxed))
			dp_wake(&dp->w[w]);
	}
	return accepted;
}
