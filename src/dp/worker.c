/* Workers: one thread per processor, pinned, serving the queues it owns in batches.
 *
 * Handoff (DESIGN section 4): the control thread writes a queue's `next` and wakes its owner.
 * The owner checks `next` between batches; when it names another worker, the owner stores that
 * worker into `owner` (release) and wakes it. The new owner notices through its `gen` counter,
 * loads `owner` (acquire) and continues from the ring's tail where the old owner stopped. At no
 * instant do two workers consume one ring, and the ring's order is the order of service.
 * A rebind barrier at a ring's tail (dp_internal.h) is passed once the queue it names has
 * released the packets it counts; until then the ring waits and its owner polls (it does not
 * sleep: nobody would wake it when the other queue drains, and that takes one batch or two).
 *
 * Sleeping and waking, a Dekker pairing (the orderings, as DPDK's rte_ring documents its own):
 *   worker                                   classifier (uplink thread)
 *   store sleeping = 1        (relaxed)      publish frames: store ring heads (release)
 *   fence                     (seq_cst)      fence                          (seq_cst)
 *   load ring heads, gen, stop               load owner's sleeping
 *   all empty: block on eventfd              1: take it (exchange 1 -> 0), write the eventfd
 * Each side's fence orders its store before its load, and the two fences are totally ordered:
 * whichever comes second sees the other side's store. So either the worker sees the frame and
 * stays awake, or the classifier sees `sleeping` and writes the eventfd, which the worker's
 * read then consumes (an eventfd remembers a write made before the read). Without a fence a
 * side's load may pass its own store (a store buffer; C11 allows it even to a seq_cst store
 * followed by an acquire load, which is what the worker once had): both sides miss, and the
 * worker sleeps on a frame (tests/integ/test_wake.c catches it with both fences removed).
 * The waker clears `sleeping` with an exchange, so of all the calls that find a worker asleep
 * only one writes (one write per sleep: a worker that waits for its CPU is not sent a syscall's
 * worth of eventfd writes by every classify call meanwhile).
 * A handoff (control thread, old owner) bumps `gen` then always writes the eventfd: no pairing
 * needed there.
 * A worker that owns nothing therefore blocks and uses no CPU. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "dp_internal.h"

/* Empty polls last this long before a worker sleeps: long enough to bridge the gaps inside a
 * burst of traffic, short enough that an idle worker's CPU shows idle in /proc/stat. */
#define SPIN_NS 20000u

void dp_wake_sleeper(struct dp_worker *w)
{
	/* the relaxed load spares the locked exchange when it is awake (nearly always) */
	if (atomic_load_explicit(&w->sleeping, memory_order_relaxed) &&
	    atomic_exchange_explicit(&w->sleeping, 0, memory_order_acq_rel))
		dp_wake(w);
}

void dp_wake(struct dp_worker *w)
{
	uint64_t one = 1;
	atomic_fetch_add_explicit(&w->wake_writes, 1, memory_order_relaxed);
	ssize_t rc;
	do
		rc = write(w->efd, &one, sizeof(one));
	while (rc < 0 && errno == EINTR);
}

/* Rebuilds the owned list after a handoff reached this worker. */
static void rescan(struct dp_worker *w, uint64_t now)
{
	struct dvmq_dp *dp = w->dp;
	uint32_t n = 0;
	for (uint32_t qid = 0; qid < dp->n_queues; qid++) {
		struct dp_queue *q = &dp->q[qid];
		if (atomic_load_explicit(&q->owner, memory_order_seq_cst) != w->id)
			continue;
		bool known = false;
		for (uint32_t i = 0; i < w->n_owned && !known; i++)
			known = w->owned[i] == qid;
		uint64_t req = atomic_load_explicit(&q->move_req_ns, memory_order_relaxed);
		if (!known && req && atomic_load_explicit(&q->next, memory_order_relaxed) == w->id) {
			uint64_t k = atomic_fetch_add_explicit(&dp->n_handoffs, 1, memory_order_relaxed);
			if (k < DP_HANDOFF_SAMPLES)
				atomic_store_explicit(&dp->handoff_ns[k], now > req ? now - req : 1,
						      memory_order_relaxed);
			atomic_store_explicit(&q->move_req_ns, 0, memory_order_relaxed);
		}
		w->owned[n++] = qid;
	}
	w->n_owned = n;
	atomic_store_explicit(&w->n_owned_pub, n, memory_order_relaxed);
}

/* Gives q away if the control thread asked for it. Returns true when released. */
static bool maybe_release(struct dp_worker *w, struct dp_queue *q)
{
	uint32_t next = atomic_load_explicit(&q->next, memory_order_acquire);
	if (next == w->id)
		return false;
	struct dp_worker *to = &w->dp->w[next];
	atomic_store_explicit(&q->owner, next, memory_order_seq_cst);
	atomic_fetch_add_explicit(&to->gen, 1, memory_order_seq_cst);
	dp_wake(to);
	return true;
}

/* Serves one batch of queue q. *now is the time the batch starts (the end of the previous batch
 * in this pass: one clock read per batch, not two); it is advanced to the batch's end. */
static unsigned serve(struct dp_worker *w, struct dp_queue *q, uint32_t qid, uint64_t *now)
{
	struct ring_rec *recs[DVMQ_BURST], *barrier;
	uint64_t end;
	unsigned n;
	while ((n = ring_peek(&q->ring, recs, DVMQ_BURST, &end, &barrier)) == 0) {
		if (!barrier)
			return 0;
		/* a rebind: pass once the old queue has released what was queued before it */
		const struct ring *old = &w->dp->q[barrier->vm].ring;
		if (atomic_load_explicit(&old->deq, memory_order_acquire) < barrier->ts_ns)
			return 0;
		ring_pass_barrier(&q->ring, end);
	}
	uint64_t t0 = *now, bytes = 0;
	for (unsigned i = 0; i < n; i++)
		bytes += ring_rec_len(recs[i]);
	double work = switch_deliver(w->dp, w->cx, q, qid, recs, n);
	uint64_t t1 = dp_now_ns();
	*now = t1;
	uint64_t busy = t1 - t0;
	if (w->dp->cfg.virtual_cost) {
		busy = (uint64_t)(work + 0.5); /* the frames' costs, whatever the time taken */
	} else {
		/* integral control: a frame's whole cost should match its VM's cost (switch.c) */
		double err = ((double)(t1 - t0) - work) / n - q->overhead_ns;
		q->overhead_ns += err * 0.0625;
		if (q->overhead_ns < 0.0)
			q->overhead_ns = 0.0;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned b = dvmq_hist_bucket(t1 > recs[i]->ts_ns ? t1 - recs[i]->ts_ns : 0);
		ctr_add(&w->lat[b], 1);
	}
	ring_release(&q->ring, end, n);
	ctr_add(&q->busy_ns, busy);
	ctr_add(&q->packets, n);
	ctr_add(&q->bytes, bytes);
	ctr_add(&w->busy_ns, busy);
	ctr_add(&w->packets, n);
	return n;
}

bool dp_worker_pending(struct dp_worker *w)
{
	for (uint32_t i = 0; i < w->n_owned; i++)
		if (ring_pending(&w->dp->q[w->owned[i]].ring))
			return true;
	return false;
}

unsigned dp_worker_pass(struct dp_worker *w)
{
	struct dvmq_dp *dp = w->dp;
	uint64_t gen = atomic_load_explicit(&w->gen, memory_order_seq_cst);
	if (gen != w->seen_gen) {
		w->seen_gen = gen;
		rescan(w, dp_now_ns());
	}
	unsigned done = 0;
	uint64_t now = dp_now_ns();
	dp_rcu_read_lock();
	for (uint32_t i = 0; i < w->n_owned;) {
		uint32_t qid = w->owned[i];
		struct dp_queue *q = &dp->q[qid];
		if (maybe_release(w, q)) {
			w->owned[i] = w->owned[--w->n_owned];
			atomic_store_explicit(&w->n_owned_pub, w->n_owned, memory_order_relaxed);
			continue;
		}
		done += serve(w, q, qid, &now);
		i++;
	}
	dp_rcu_read_unlock();
	return done;
}

static void *worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dvmq_dp *dp = w->dp;
	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set); /* best effort */
	}
	char name[16];
	snprintf(name, sizeof(name), "dvmq-w%u", w->id); /* top -H, perf: which worker is which */
	pthread_setname_np(pthread_self(), name);
	dp_rcu_register();
	uint64_t idle_since = 0;
	unsigned idle = 0;
	while (!atomic_load_explicit(&dp->stop, memory_order_acquire)) {
		unsigned done = dp_worker_pass(w);
		if (done) {
			idle = 0;
			continue;
		}
		if (idle++ == 0)
			idle_since = dp_now_ns();
		if ((idle & 63u) != 0 || dp_now_ns() - idle_since < SPIN_NS) {
			dp_cpu_relax();
			continue;
		}
		atomic_store_explicit(&w->sleeping, 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst); /* the Dekker pairing above */
		if (dp_worker_pending(w) || atomic_load_explicit(&w->gen, memory_order_seq_cst) != w->seen_gen ||
		    atomic_load_explicit(&dp->stop, memory_order_seq_cst)) {
			atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
			continue;
		}
		uint64_t v;
		ctr_add(&w->sleeps, 1);
		while (read(w->efd, &v, sizeof(v)) < 0 && errno == EINTR)
			;
		ctr_add(&w->wakeups, 1);
		atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed); /* woken by another path */
		idle = 0;
	}
	dp_rcu_unregister();
	return NULL;
}

int dp_workers_start(struct dvmq_dp *dp)
{
	for (uint32_t i = 0; i < dp->n_workers; i++) {
		struct dp_worker *w = &dp->w[i];
		if (w == dp_inline_worker(dp))
			continue; /* served by the classifying thread (inline.c) */
		int rc = fault_hit(EAGAIN) ? EAGAIN : pthread_create(&w->thread, NULL, worker_main, w);
		if (rc)
			return -rc;
		w->started = true;
	}
	return 0;
}

void dp_workers_stop(struct dvmq_dp *dp)
{
	atomic_store_explicit(&dp->stop, true, memory_order_seq_cst);
	for (uint32_t i = 0; i < dp->n_workers; i++)
		if (dp->w[i].started)
			dp_wake(&dp->w[i]);
	for (uint32_t i = 0; i < dp->n_workers; i++)
		if (dp->w[i].started) {
			pthread_join(dp->w[i].thread, NULL);
			dp->w[i].started = false;
		}
}
