/* Data-plane control API and the classifier stage (include/dvmq/dp.h).
 * The classifier parses each frame, counts the ones it refuses by reason, looks (dst MAC, VLAN)
 * up in the RCU-published table and copies the frame into its queue's ring; it then wakes, once
 * per burst, each sleeping worker whose queue received frames. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dp_internal.h"

#define RING_BYTES_MIN (1u << 20)
#define RING_BYTES_MAX (16u << 20)

static int ring_init(struct ring *r, uint32_t depth, uint32_t mtu)
{
	/* room for `depth` frames of up to 2 KiB (at most 16 MiB: deep queues of jumbo frames fill
	 * by bytes first), and never less than four maximal frames */
	uint64_t want = (uint64_t)depth * 2048u, max_rec = (uint64_t)ring_cells_for(mtu + 18u) * RING_CELL;
	if (want > RING_BYTES_MAX)
		want = RING_BYTES_MAX;
	if (want < RING_BYTES_MIN)
		want = RING_BYTES_MIN;
	if (want < 4 * max_rec)
		want = 4 * max_rec;
	uint64_t bytes = RING_CELL;
	while (bytes < want)
		bytes *= 2;
	r->mem = calloc(1, bytes); /* zero pages: memory is committed only as the ring is used */
	if (!r->mem)
		return -ENOMEM;
	r->n_cells = bytes / RING_CELL;
	r->depth = depth;
	return 0;
}

static int check_config(const struct dvmq_dp_config *c)
{
	if (c->n_workers == 0 || c->n_workers > DVMQ_DP_MAX_WORKERS || c->n_queues == 0 ||
	    c->n_queues > DVMQ_MAX_QUEUE_POOL + 1 || c->queue_depth == 0 || c->mtu < 68 || c->mtu > 65000 ||
	    c->max_vms == 0 || c->fdb_size == 0 || c->fdb_age_ns == 0)
		return -EINVAL;
	return 0;
}

int dvmq_dp_create(const struct dvmq_dp_config *cfg, struct dvmq_dp **out)
{
	int rc = check_config(cfg);
	if (rc)
		return rc;
	struct dvmq_dp *dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->cfg = *cfg;
	dp->cfg.cpus = NULL;
	dp->n_workers = cfg->n_workers;
	dp->n_queues = cfg->n_queues;
	pthread_mutex_init(&dp->ctl_lock, NULL);
	dp->q = aligned_alloc(64, sizeof(*dp->q) * dp->n_queues);
	dp->w = aligned_alloc(64, sizeof(*dp->w) * dp->n_workers);
	dp->vms = calloc(cfg->max_vms, sizeof(*dp->vms));
	dp->vm_queue = calloc(cfg->max_vms, sizeof(*dp->vm_queue));
	dp->handoff_ns = calloc(DP_HANDOFF_SAMPLES, sizeof(*dp->handoff_ns));
	rc = -ENOMEM;
	if (!dp->q || !dp->w || !dp->vms || !dp->vm_queue || !dp->handoff_ns)
		goto err;
	memset(dp->q, 0, sizeof(*dp->q) * dp->n_queues);
	memset(dp->w, 0, sizeof(*dp->w) * dp->n_workers);
	for (uint32_t i = 0; i < dp->n_workers; i++) {
		struct dp_worker *w = &dp->w[i];
		w->dp = dp;
		w->id = i;
		w->cpu = cfg->cpus ? cfg->cpus[i] : -1;
		w->efd = -1;
		w->owned = calloc(dp->n_queues, sizeof(*w->owned));
		if (!w->owned)
			goto err;
		w->efd = eventfd(0, EFD_CLOEXEC);
		if (w->efd < 0) {
			rc = -errno;
			goto err;
		}
	}
	for (uint32_t qid = 0; qid < dp->n_queues; qid++) {
		rc = ring_init(&dp->q[qid].ring, cfg->queue_depth, cfg->mtu);
		if (rc)
			goto err;
		atomic_init(&dp->q[qid].owner, 0);
		atomic_init(&dp->q[qid].next, 0);
	}
	rc = fdb_init(&dp->fdb, cfg->fdb_size, cfg->fdb_age_ns);
	if (rc)
		goto err;
	switch_calibrate(dp->bytes_per_ns);
	rc = snap_publish(dp);
	if (rc)
		goto err;
	/* every queue starts on worker 0: its gen makes it pick them up */
	atomic_store(&dp->w[0].gen, 1);
	rc = dp_workers_start(dp);
	if (rc)
		goto err;
	*out = dp;
	return 0;
err:
	dvmq_dp_destroy(dp);
	return rc;
}

void dvmq_dp_destroy(struct dvmq_dp *dp)
{
	if (!dp)
		return;
	if (dp->w)
		dp_workers_stop(dp);
	for (uint32_t i = 0; dp->w && i < dp->n_workers; i++) {
		if (dp->w[i].efd >= 0)
			close(dp->w[i].efd);
		free(dp->w[i].owned);
	}
	for (uint32_t qid = 0; dp->q && qid < dp->n_queues; qid++)
		free(dp->q[qid].ring.mem);
	snap_free_all(dp);
	fdb_fini(&dp->fdb);
	pthread_mutex_destroy(&dp->ctl_lock);
	free(dp->handoff_ns);
	free(dp->vm_queue);
	free(dp->vms);
	free(dp->w);
	free(dp->q);
	free(dp);
}

int dvmq_dp_vm_add(struct dvmq_dp *dp, const uint8_t mac[6], uint16_t vlan, double cost_ns,
		   struct dvmq_port *port, uint32_t *vm_id)
{
	if (vlan > 4094 || !port || !(cost_ns >= 0.0) || dvmq_mac_is_multicast(mac))
		return -EINVAL;
	pthread_mutex_lock(&dp->ctl_lock);
	int rc = -ENOSPC;
	uint32_t slot = UINT32_MAX;
	for (uint32_t v = 0; v < dp->cfg.max_vms; v++) {
		struct snap_vm *vm = &dp->vms[v];
		if (vm->present && vm->vlan == vlan && memcmp(vm->mac, mac, 6) == 0) {
			rc = -EEXIST;
			goto out;
		}
		/* slots are never reused: frames still queued for a removed VM must not reach another */
		if (!vm->present && !vm->port && slot == UINT32_MAX)
			slot = v;
	}
	if (slot == UINT32_MAX)
		goto out;
	struct snap_vm *vm = &dp->vms[slot];
	memcpy(vm->mac, mac, 6);
	vm->vlan = vlan;
	vm->cost_ns = cost_ns;
	vm->port = port;
	vm->present = true;
	dp->vm_queue[slot] = DVMQ_DEFAULT_QUEUE;
	rc = snap_publish(dp);
	if (rc)
		vm->present = false, vm->port = NULL;
	else
		*vm_id = slot;
out:
	pthread_mutex_unlock(&dp->ctl_lock);
	return rc;
}

static struct snap_vm *vm_get(struct dvmq_dp *dp, uint32_t id)
{
	return id < dp->cfg.max_vms && dp->vms[id].present ? &dp->vms[id] : NULL;
}

int dvmq_dp_vm_remove(struct dvmq_dp *dp, uint32_t id)
{
	pthread_mutex_lock(&dp->ctl_lock);
	struct snap_vm *vm = vm_get(dp, id);
	int rc = -ENOENT;
	if (vm) {
		vm->present = false;
		rc = snap_publish(dp); /* returns after a grace period: nobody holds the port now */
		if (rc)
			vm->present = true;
	}
	pthread_mutex_unlock(&dp->ctl_lock);
	return rc;
}

int dvmq_dp_vm_set_queue(struct dvmq_dp *dp, uint32_t id, uint32_t queue)
{
	if (queue >= dp->n_queues)
		return -EINVAL;
	pthread_mutex_lock(&dp->ctl_lock);
	int rc = -ENOENT;
	if (vm_get(dp, id)) {
		uint32_t old = dp->vm_queue[id];
		dp->vm_queue[id] = queue;
		rc = old == queue ? 0 : snap_publish(dp);
		if (rc)
			dp->vm_queue[id] = old;
	}
	pthread_mutex_unlock(&dp->ctl_lock);
	return rc;
}

int dvmq_dp_vm_set_cost(struct dvmq_dp *dp, uint32_t id, double cost_ns)
{
	if (!(cost_ns >= 0.0))
		return -EINVAL;
	pthread_mutex_lock(&dp->ctl_lock);
	struct snap_vm *vm = vm_get(dp, id);
	int rc = -ENOENT;
	if (vm) {
		vm->cost_ns = cost_ns;
		rc = snap_publish(dp);
	}
	pthread_mutex_unlock(&dp->ctl_lock);
	return rc;
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

void dvmq_dp_thread_register(void)
{
	dp_rcu_register();
}

void dvmq_dp_thread_unregister(void)
{
	dp_rcu_unregister();
}

unsigned dvmq_dp_classify(struct dvmq_dp *dp, const struct dvmq_pkt *pkts, unsigned n)
{
	uint32_t touched[DVMQ_BURST];
	unsigned n_touched = 0, accepted = 0;
	uint64_t now = dp_now_ns();
	ctr_add(&dp->rx, n);
	dp_rcu_read_lock();
	const struct snap *s = dp_rcu_snap(dp);
	for (unsigned i = 0; i < n; i++) {
		struct dvmq_frame f;
		enum dvmq_frame_verdict v = dvmq_frame_parse(pkts[i].data, pkts[i].len, dp->cfg.mtu, &f);
		if (v != DVMQ_FRAME_OK) {
			ctr_add(&dp->verdict[v], 1);
			continue;
		}
		uint32_t qid = DVMQ_DEFAULT_QUEUE, vm = DVMQ_DP_NO_VM;
		if (!dvmq_mac_is_multicast(f.dst)) {
			const struct snap_bind *b = snap_lookup(s, f.dst, f.vlan);
			if (b && b->queue != DVMQ_DEFAULT_QUEUE) {
				qid = b->queue;
				vm = b->vm;
			}
		}
		struct dp_queue *q = &dp->q[qid];
		while (!ring_push(&q->ring, pkts[i].data, pkts[i].len, vm, now)) {
			if (!dp->cfg.lossless) {
				ctr_add(&q->dropped, 1);
				ctr_add(&dp->overflow, 1);
				goto next;
			}
			/* a replay must not lose frames: wake the owner and wait for room */
			dp_wake(&dp->w[atomic_load_explicit(&q->owner, memory_order_seq_cst)]);
			sched_yield();
		}
		accepted++;
		bool seen = false;
		for (unsigned k = 0; k < n_touched && !seen; k++)
			seen = touched[k] == qid;
		if (!seen)
			touched[n_touched++] = qid;
next:;
	}
	dp_rcu_read_unlock();
	/* pairs with the worker's `sleeping` store then ring check (both seq_cst) */
	atomic_thread_fence(memory_order_seq_cst);
	uint32_t woken[DVMQ_BURST];
	unsigned n_woken = 0;
	for (unsigned k = 0; k < n_touched; k++) {
		uint32_t w = atomic_load_explicit(&dp->q[touched[k]].owner, memory_order_seq_cst);
		bool seen = false;
		for (unsigned j = 0; j < n_woken && !seen; j++)
			seen = woken[j] == w;
		if (seen)
			continue;
		woken[n_woken++] = w;
		if (atomic_load_explicit(&dp->w[w].sleeping, memory_order_seq_cst))
			dp_wake(&dp->w[w]);
	}
	return accepted;
}

int dvmq_dp_drain(struct dvmq_dp *dp, uint64_t timeout_ns)
{
	uint64_t until = dp_now_ns() + timeout_ns;
	for (;;) {
		bool empty = true;
		for (uint32_t qid = 0; qid < dp->n_queues && empty; qid++)
			empty = ring_backlog(&dp->q[qid].ring) == 0;
		if (empty)
			return 0;
		if (dp_now_ns() > until)
			return -ETIMEDOUT;
		for (uint32_t i = 0; i < dp->n_workers; i++)
			dp_wake(&dp->w[i]);
		usleep(200);
	}
}

void dvmq_dp_counters(const struct dvmq_dp *dp, struct dvmq_dp_counters *o)
{
	memset(o, 0, sizeof(*o));
	o->rx = ctr_get(&dp->rx);
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++)
		o->verdict[v] = ctr_get(&dp->verdict[v]);
	o->overflow = ctr_get(&dp->overflow);
	o->vmq_delivered = ctr_get(&dp->vmq_delivered);
	o->vm_gone = ctr_get(&dp->vm_gone);
	o->default_unicast = ctr_get(&dp->default_unicast);
	o->flooded = ctr_get(&dp->flooded);
	o->flood_copies = ctr_get(&dp->flood_copies);
	o->filtered = ctr_get(&dp->filtered);
	o->learned = ctr_get(&dp->learned);
	o->fdb_full = ctr_get(&dp->fdb_full);
	for (uint32_t qid = 0; qid < dp->n_queues; qid++)
		o->in_flight += ring_backlog(&dp->q[qid].ring);
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
