/* The classifier stage (dvmq_dp_classify, include/dvmq/dp.h): it plays the NIC's MAC filter.
 * It parses each frame (decide.h: with its offloads, a super-frame measured by its segments),
 * counts the ones it refuses by reason, looks (dst MAC, VLAN) up in the VM table and copies the
 * frame, with its offloads when it has any, into its VM's queue, or the default queue; then it
 * wakes each sleeping worker whose queues received frames, once per call.
 * A VM whose queue changed since the classifier last fed it (a rebind) gets a barrier before its
 * first frame in the new queue (dp_internal.h): nothing of it is reordered or served twice at
 * once. A VM with a queue group (VMMQ, `hashed`) is hashed once per frame (RSS: Toeplitz over its
 * addresses and ports, dvmq/toeplitz.h); the bucket (hash & 127) picks the queue through the VM's
 * table, and the same barrier rule holds per bucket: a bucket moved to another queue waits there
 * until the queue that held it delivered its frames, so no flow reorders and no bucket is served
 * by two workers at once. When a VM's buckets come back to one queue (its group shrank to one,
 * hashing switched off), its next frame waits behind one barrier per queue that held them.
 * Uplink thread only; no allocation, no lock, no locked instruction per frame. */
#include <sched.h>
#include <string.h>

#include "decide.h"
#include "dp_internal.h"

#define CLS_FULL_SPINS 4096u /* pauses before a full ring makes a lossless classifier yield */

/* A VM's buckets, spread over queues, come back to queue qid: its frame waits behind one
 * barrier per other queue that held its buckets. Returns false when the ring is full. */
static bool enqueue_gather(struct dvmq_dp *dp, const struct dvmq_pkt *p, const struct dvmq_offload *off,
			   struct dp_vm *vm, struct cls_vm *c, uint32_t id, uint32_t qid, uint64_t now)
{
	uint32_t qs[DVMQ_INDIRECTION_ENTRIES];
	uint64_t pos[DVMQ_INDIRECTION_ENTRIES];
	unsigned k = 0;
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++) {
		uint32_t from = vm->fed[b];
		bool seen = from == qid;
		for (unsigned i = 0; i < k && !seen; i++)
			seen = qs[i] == from;
		if (!seen) {
			qs[k] = from;
			pos[k++] = dp->q[from].ring.p_enq;
		}
	}
	if (!ring_stage_barriers(&dp->q[qid].ring, p->data, p->len, off, id, now, qs, pos, k))
		return false;
	vm->split = false;
	c->queue = qid;
	if (k)
		ctr_add(&dp->rebinds, 1);
	return true;
}

/* Enqueues one frame for `vm` (NULL: default path, no VM resolved) into queue qid, with its
 * offloads (off NULL: none); bucket is the frame's RSS bucket when the VM is hashed, else
 * UINT32_MAX. Returns false when the ring is full (a lossy data plane drops it then). */
static bool enqueue(struct dvmq_dp *dp, const struct dvmq_pkt *p, const struct dvmq_offload *off,
		    struct dp_vm *vm, uint32_t qid, uint32_t bucket, uint64_t now)
{
	struct dp_queue *q = &dp->q[qid];
	uint32_t id = qid == DVMQ_DEFAULT_QUEUE || !vm ? DVMQ_DP_NO_VM : vm->id;
	if (!vm)
		return ring_stage_off(&q->ring, p->data, p->len, off, id, now, false, 0, 0);
	struct cls_vm *c = &dp->cls_vm[vm->slot]; /* not id % max_vms: a division per frame */
	if (c->id != vm->id) {
		/* a new VM starts where frames to its MAC went so far: the default queue */
		c->id = vm->id;
		c->queue = DVMQ_DEFAULT_QUEUE;
	}
	if (bucket != UINT32_MAX) {
		/* per bucket: the same rule as for the VM below, with the bucket's last queue */
		if (!vm->split) {
			for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
				vm->fed[b] = c->queue;
			vm->split = true;
		}
		uint32_t from = vm->fed[bucket];
		bool moved = from != qid;
		if (!ring_stage_off(&q->ring, p->data, p->len, off, id, now, moved, from,
				    moved ? dp->q[from].ring.p_enq : 0))
			return false;
		if (moved) {
			vm->fed[bucket] = qid;
			ctr_add(&dp->rebinds, 1);
		}
		return true;
	}
	if (vm->split)
		return enqueue_gather(dp, p, off, vm, c, id, qid, now);
	if (c->queue == qid)
		return ring_stage_off(&q->ring, p->data, p->len, off, id, now, false, 0, 0);
	/* the old queue may still hold its frames: this queue waits until that one has released
	 * every packet staged so far (p_enq is ours: the classifier is every ring's producer) */
	uint64_t pos = dp->q[c->queue].ring.p_enq;
	if (!ring_stage_off(&q->ring, p->data, p->len, off, id, now, true, c->queue, pos))
		return false;
	c->queue = qid;
	ctr_add(&dp->rebinds, 1);
	return true;
}

/* The VM of a unicast (mac, vlan), through this call's cache (a dp_lookup_fn on the dp). */
const void *dp_cls_lookup(void *ctx, const uint8_t *mac, uint16_t vlan)
{
	struct dvmq_dp *dp = ctx;
	uint32_t lo;
	uint16_t hi;
	memcpy(&lo, mac, 4);
	memcpy(&hi, mac + 4, 2);
	uint64_t key = (uint64_t)lo | (uint64_t)hi << 32 | (uint64_t)vlan << 48;
	/* multiplicative hash: MACs differ in any byte (often only the last ones) */
	struct cls_cache *c = &dp->cls_cache[(key * 0x9e3779b97f4a7c15ull) >> 60];
	if (c->call == dp->cls_call && c->key == key)
		return c->vm;
	c->call = dp->cls_call;
	c->key = key;
	c->vm = vmtab_lookup(dp, mac, vlan);
	return c->vm;
}

static void publish_touched(struct dvmq_dp *dp, unsigned n_touched)
{
	for (unsigned k = 0; k < n_touched; k++)
		ring_publish(&dp->q[dp->cls_touched[k]].ring);
}

static void touch(struct dvmq_dp *dp, uint32_t qid, unsigned *n_touched)
{
	if (dp->cls_qmark[qid] == dp->cls_call)
		return;
	dp->cls_qmark[qid] = dp->cls_call;
	dp->cls_touched[(*n_touched)++] = qid;
}

unsigned dvmq_dp_classify_off(struct dvmq_dp *dp, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
			      unsigned n)
{
	unsigned n_touched = 0, accepted = 0;
	uint64_t now = dp_now_ns();
	dp->cls_call++;
	ctr_add(&dp->rx, n);
	dp_rcu_read_lock();
	for (unsigned i = 0; i < n; i++) {
		const struct dvmq_offload *o = off && offload_pending(&off[i]) ? &off[i] : NULL;
		struct dp_decision d;
		dp_decide_uplink(&d, pkts[i].data, pkts[i].len, o, dp->cfg.mtu, dp_cls_lookup, dp);
		if (d.dest != DP_DEST_QUEUE) {
			if (d.verdict != DVMQ_FRAME_OK)
				ctr_add(&dp->verdict[d.verdict], 1);
			else
				ctr_add(&dp->drop[d.drop], 1);
			continue;
		}
		struct dp_vm *vm = (struct dp_vm *)(uintptr_t)d.vm; /* the classifier's fields are its own */
		uint32_t qid = DVMQ_DEFAULT_QUEUE, bucket = UINT32_MAX;
		if (vm && atomic_load_explicit(&vm->hashed, memory_order_acquire)) {
			/* VMMQ: the RSS hash, once per frame; its bucket picks the queue */
			bucket = dvmq_rss_hash(dp->rss, pkts[i].data, &d.f) & DVMQ_BUCKET_MASK;
			ctr_add(&vm->bucket_pkts[bucket], 1);
			ctr_add(&vm->bucket_bytes[bucket], pkts[i].len);
			qid = atomic_load_explicit(&vm->table[bucket], memory_order_acquire);
		} else if (vm) {
			qid = atomic_load_explicit(&vm->queue, memory_order_acquire);
		}
		struct dp_queue *q = &dp->q[qid];
		for (unsigned spins = 0; !enqueue(dp, &pkts[i], o, vm, qid, bucket, now); spins++) {
			if (!dp->cfg.lossless) {
				ctr_add(&q->dropped, 1);
				ctr_add(&dp->overflow, 1);
				goto next;
			}
			/* a replay must not lose frames: make sure the owner is awake, wait for room; spin
			 * first (the owner frees a batch within microseconds), yield the CPU only after
			 * (a yield on a busy machine gives away a whole time slice) */
			/* publish everything staged: the owner must see this ring's frames, and a barrier
			 * here may wait for frames staged in another ring during this call */
			publish_touched(dp, n_touched);
			struct dp_worker *w = &dp->w[atomic_load_explicit(&q->owner, memory_order_acquire)];
			if (w == dp_inline_worker(dp)) {
				/* its worker is this thread (inline.c): make room by serving it (its read-side
				 * section nests in this one: `vm` stays valid) */
				dp_worker_pass(w);
				continue;
			}
			atomic_thread_fence(memory_order_seq_cst); /* the wake-up pairing (worker.c) */
			dp_wake_sleeper(w);
			if (spins < CLS_FULL_SPINS)
				dp_cpu_relax();
			else
				sched_yield();
		}
		accepted++;
		touch(dp, qid, &n_touched);
next:;
	}
	dp_rcu_read_unlock();
	publish_touched(dp, n_touched);
	/* the classifier's half of the wake-up pairing (worker.c): the ring heads stored above are
	 * ordered before the `sleeping` loads below */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned k = 0; k < n_touched; k++) {
		uint32_t w = atomic_load_explicit(&dp->q[dp->cls_touched[k]].owner, memory_order_relaxed);
		if (dp->cls_wmark[w] == dp->cls_call)
			continue; /* one wake-up per worker per call, whatever its queues */
		dp->cls_wmark[w] = dp->cls_call;
		dp_wake_sleeper(&dp->w[w]);
	}
	return accepted;
}

unsigned dvmq_dp_classify(struct dvmq_dp *dp, const struct dvmq_pkt *pkts, unsigned n)
{
	return dvmq_dp_classify_off(dp, pkts, NULL, n);
}
