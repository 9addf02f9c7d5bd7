/* A VM's filter moved to another queue without reordering its frames (dvmq/kdp.h,
 * dvmq_kdp_filter_rebind; review finding E).
 *
 * A plain filter change sends the VM's next frames to the new queue's processor while its last
 * ones may still wait in the old queue's ring: they are overtaken. And the tc counter classifies
 * a frame by the filters when it gets there, so the old queue's frames delivered after the change
 * count for the new queue: the old queue's epoch never meets its count (its next ordered move is
 * forced) and the new one's runs ahead (its move could flip early). So:
 *  1. the new queue first goes where the old one's frames go now (ordered; an idle queue flips at
 *     once): after the change the VM's frames queue up behind the old ones, in one ring;
 *  2. the filter changes;
 *  3. the old queue's frames that tc will count for the new queue are known once the filter has
 *     changed: its epoch's sent count less what tc counted for it. The new queue's delivered base
 *     for its epoch goes up by that many (nothing reads it: no move of it is pending), the old
 *     queue's down by as many (its epoch then drains as its frames leave);
 *  4. the new queue moves on to its processor, ordered, not waited for.
 * Races left (microseconds): an XDP run that read the old filter and counts the old queue after
 * step 3's read, a tc run likewise; either makes the count one off, so the move is forced later
 * (counted), not early. Frames a full ring dropped are never delivered: the same. */
#include <errno.h>
#include <time.h>

#include "kdp_internal.h"

/* Polls the pending moves until queue q is on cpu (each move is bounded: this returns). */
static int kdp_wait_queue_on(struct dvmq_kdp *k, uint32_t q, int cpu)
{
	for (;;) {
		int n = dvmq_kdp_moves_poll(k, kdp_now_ns());
		if (n < 0)
			return n;
		if (dvmq_kdp_queue_cpu(k, q) == cpu)
			return 0;
		if (n == 0)
			return -EAGAIN; /* no move pending and not there: someone moved it elsewhere */
		nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
	}
}

int dvmq_kdp_filter_rebind(struct dvmq_kdp *k, const struct dvmq_kdp_filter *f, uint32_t from, int cpu)
{
	uint32_t to = f->queue;
	if (f->hashed || from >= k->cfg.n_queues || to >= k->cfg.n_queues)
		return -EINVAL;
	if (from == to)
		return dvmq_kdp_filter_set(k, f);
	/* 1. where the old queue's frames go now */
	int a = dvmq_kdp_queue_cpu(k, from);
	int rc = dvmq_kdp_queue_move(k, to, a);
	for (int tries = 0; rc == -EBUSY && tries < 200; tries++) {
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
		rc = dvmq_kdp_queue_move(k, to, a);
	}
	if (rc == 0)
		rc = kdp_wait_queue_on(k, to, a);
	if (rc)
		return rc;
	struct dvmq_kern_queue *sf = &k->q[from], *st = &k->q[to];
	uint64_t wt = __atomic_load_n(&st->steer, __ATOMIC_ACQUIRE);
	/* 2. */
	if ((rc = dvmq_kdp_filter_set(k, f)) != 0)
		return rc;
	/* 3. an XDP run that read the old filter has counted its frame by now (runs take
	 * microseconds, with preemption off) */
	nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	uint64_t wf = __atomic_load_n(&sf->steer, __ATOMIC_ACQUIRE);
	if ((int)DVMQ_KERN_STEER_CPU(wf) == a && (int)DVMQ_KERN_STEER_CPU(wt) == a &&
	    DVMQ_KERN_STEER_EPOCH(__atomic_load_n(&st->steer, __ATOMIC_ACQUIRE)) == DVMQ_KERN_STEER_EPOCH(wt)) {
		if ((rc = kdp_qstat_read(k, from)) != 0)
			return rc;
		unsigned ef = DVMQ_KERN_STEER_EPOCH(wf), et = DVMQ_KERN_STEER_EPOCH(wt);
		uint64_t sent = DVMQ_KERN_STEER_SENT(wf);
		uint64_t counted = k->qbuf[a].delivered - __atomic_load_n(&sf->tcbase[ef & 1], __ATOMIC_ACQUIRE);
		if (k->tc_link_fd >= 0 && sent > counted) { /* tc counts: drains wait for it */
			uint64_t left = sent - counted;
			__atomic_fetch_add(&st->tcbase[et & 1], left, __ATOMIC_SEQ_CST);
			__atomic_fetch_sub(&sf->tcbase[ef & 1], left, __ATOMIC_SEQ_CST);
			k->rebind_carried += left;
		}
	}
	k->rebinds++;
	/* 4. */
	return dvmq_kdp_queue_move(k, to, cpu);
}
