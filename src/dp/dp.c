/* Data-plane lifecycle (include/dvmq/dp.h): configuration, create and destroy, drain.
 * Invariant: every field destroy reads is valid from the first allocation on
 * (zeroed memory, descriptors -1), so every failure in create unwinds through destroy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "dp_internal.h"

uint64_t dp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t dp_age_clock(const struct dvmq_dp *dp)
{
	return dp->cfg.clock_ns ? dp->cfg.clock_ns(dp->cfg.clock_arg) : dp_now_ns();
}

/* Ring bytes for a queue: `depth` records of frame_bytes, plus one more (the cells a wrap may
 * skip, and a rebind barrier), so a ring always holds `depth` such frames; and never fewer than
 * four of the largest frame the MTU allows (so one jumbo frame cannot wedge a ring sized for
 * small ones) nor two of the largest super-frame with its offloads (DVMQ_DP_FRAME_MAX: one
 * always fits, even behind a wrap's skip). Rounded up to a power of two. */
static uint64_t ring_bytes_for(const struct dvmq_dp_config *c)
{
	uint32_t frame = c->frame_bytes ? c->frame_bytes : c->mtu + DVMQ_ETH_HLEN + DVMQ_VLAN_HLEN;
	uint64_t want = ((uint64_t)c->queue_depth + 1) * ring_cells_for(frame) * RING_CELL;
	uint64_t least = 4ull * ring_cells_for(c->mtu + DVMQ_ETH_HLEN + DVMQ_VLAN_HLEN) * RING_CELL;
	uint64_t super = 2ull * (ring_cells_for(DVMQ_DP_FRAME_MAX) + 2u) * RING_CELL;
	if (least < super)
		least = super;
	if (want < least)
		want = least;
	uint64_t bytes = RING_CELL;
	while (bytes < want)
		bytes *= 2;
	return bytes;
}

static int check_config(const struct dvmq_dp_config *c)
{
	if (c->n_workers == 0 || c->n_workers > DVMQ_DP_MAX_WORKERS || c->n_queues == 0 ||
	    c->n_queues > DVMQ_MAX_QUEUE_POOL + 1 || c->queue_depth == 0 || c->queue_depth > DVMQ_DP_MAX_DEPTH ||
	    c->mtu < 68 || c->mtu > 65000 || c->frame_bytes > 65535 || c->max_vms == 0 ||
	    c->max_vms > DVMQ_DP_MAX_VMS || c->fdb_size == 0 || c->fdb_size > DVMQ_DP_MAX_FDB || c->fdb_age_ns == 0)
		return -EINVAL;
	return 0;
}

static int create_queues(struct dvmq_dp *dp)
{
	dp->ring_bytes = ring_bytes_for(&dp->cfg);
	for (uint32_t qid = 0; qid < dp->n_queues; qid++) {
		struct ring *r = &dp->q[qid].ring;
		/* zero pages: memory is committed only as far as the ring is used */
		r->mem = fault_zalloc(1, dp->ring_bytes);
		if (!r->mem)
			return -ENOMEM;
		r->n_cells = dp->ring_bytes / RING_CELL;
		r->depth = dp->cfg.queue_depth;
	}
	return 0;
}

static int create_workers(struct dvmq_dp *dp, const int *cpus)
{
	/* before anything can fail: destroy closes descriptors >= 0 only */
	for (uint32_t i = 0; i < dp->n_workers; i++) {
		struct dp_worker *w = &dp->w[i];
		w->dp = dp;
		w->id = i;
		w->cpu = cpus ? cpus[i] : -1;
		w->efd = -1;
	}
	for (uint32_t i = 0; i < dp->n_workers; i++) {
		struct dp_worker *w = &dp->w[i];
		w->owned = fault_zalloc(dp->n_queues, sizeof(*w->owned));
		w->cx = w->owned ? dp_txctx_new() : NULL;
		if (!w->cx)
			return -ENOMEM;
		/* the inline worker's is polled by its caller and read without waiting */
		int flags = EFD_CLOEXEC | (dp->cfg.inline_last && i + 1 == dp->n_workers ? EFD_NONBLOCK : 0);
		w->efd = fault_hit(EMFILE) ? (errno = EMFILE, -1) : eventfd(0, flags);
		if (w->efd < 0)
			return -errno;
	}
	return 0;
}

int dvmq_dp_create(const struct dvmq_dp_config *cfg, struct dvmq_dp **out)
{
	int rc = check_config(cfg);
	if (rc)
		return rc;
	struct dvmq_dp *dp = fault_zalloc_aligned(64, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->cfg = *cfg;
	dp->cfg.cpus = NULL;
	dp->n_workers = cfg->n_workers;
	dp->n_queues = cfg->n_queues;
	pthread_mutex_init(&dp->ctl_lock, NULL);
	rc = -ENOMEM;
	dp->w = fault_zalloc_aligned(64, sizeof(*dp->w) * dp->n_workers);
	if (!dp->w)
		goto err;
	rc = create_workers(dp, cfg->cpus);
	if (rc)
		goto err;
	rc = -ENOMEM;
	dp->q = fault_zalloc_aligned(64, sizeof(*dp->q) * dp->n_queues);
	dp->vm_slot = fault_zalloc(cfg->max_vms, sizeof(*dp->vm_slot));
	dp->slot_reuse = fault_zalloc(cfg->max_vms, sizeof(*dp->slot_reuse));
	dp->free_slots = fault_zalloc(cfg->max_vms, sizeof(*dp->free_slots));
	dp->cls_vm = fault_zalloc(cfg->max_vms, sizeof(*dp->cls_vm));
	dp->rss = fault_zalloc(1, sizeof(*dp->rss));
	dp->cls_touched = fault_zalloc(dp->n_queues, sizeof(*dp->cls_touched));
	dp->cls_qmark = fault_zalloc(dp->n_queues, sizeof(*dp->cls_qmark));
	dp->cls_wmark = fault_zalloc(dp->n_workers, sizeof(*dp->cls_wmark));
	dp->handoff_ns = fault_zalloc(DP_HANDOFF_SAMPLES, sizeof(*dp->handoff_ns));
	if (dp->rss)
		dvmq_toeplitz_init(dp->rss, dvmq_rss_default_key);
	if (!dp->q || !dp->vm_slot || !dp->slot_reuse || !dp->free_slots || !dp->cls_vm || !dp->rss || !dp->cls_touched ||
	    !dp->cls_qmark || !dp->cls_wmark || !dp->handoff_ns)
		goto err;
	for (uint32_t s = 0; s < cfg->max_vms; s++) {
		dp->free_slots[s] = cfg->max_vms - 1 - s; /* slot 0 on top */
		dp->cls_vm[s].id = DVMQ_DP_NO_VM;
	}
	dp->n_free = cfg->max_vms;
	rc = create_queues(dp);
	if (!rc)
		rc = fdb_init(&dp->fdb, cfg->fdb_size, cfg->fdb_age_ns);
	if (!rc)
		rc = switch_calibrate(dp->bytes_per_ns);
	if (!rc)
		rc = vmtab_init(dp);
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
	vmtab_fini(dp);
	for (uint32_t i = 0; dp->w && i < dp->n_workers; i++) {
		if (dp->w[i].efd >= 0)
			close(dp->w[i].efd);
		free(dp->w[i].owned);
		dp_txctx_free(dp->w[i].cx);
	}
	for (uint32_t qid = 0; dp->q && qid < dp->n_queues; qid++)
		free(dp->q[qid].ring.mem);
	fdb_fini(&dp->fdb);
	pthread_mutex_destroy(&dp->ctl_lock);
	free(dp->handoff_ns);
	free(dp->cls_wmark);
	free(dp->cls_qmark);
	free(dp->cls_touched);
	free(dp->cls_vm);
	free(dp->rss);
	free(dp->free_slots);
	free(dp->slot_reuse);
	free(dp->vm_slot);
	free(dp->w);
	free(dp->q);
	free(dp);
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
		struct dp_worker *iw = dp_inline_worker(dp);
		if (iw) {
			/* its thread has stopped (the contract): this one serves its queues meanwhile */
			bool reg = dp_rcu_enter();
			while (dp_worker_pass(iw))
				;
			dp_rcu_exit(reg);
		}
		usleep(200);
	}
}
