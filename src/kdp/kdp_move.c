/* Ordered queue moves (dvmq/kdp.h, bpf/dvmq_kern.h). A move writes next_cpu; the XDP program
 * flips the queue's steer word itself once the old processor has processed every frame sent to it
 * in the current epoch. Here: the same flip for a queue that receives nothing (the XDP program
 * never runs for it), and the forced flip once the bound has passed. Every flip is a
 * compare-and-swap of steer on the mmapped queue array, after writing the new epoch's base (the
 * new processor's processed count for the queue, stable because nothing of the queue is in flight
 * there). A group's bucket (VMMQ) is a slot of the same array, moved the same way: a queue move
 * moves the buckets the queue holds, and a bucket that changes queue moves to the new queue's
 * processor. Invariant: at most one pending move per slot, in k->moves[0..n_moves), and
 * k->pend[slot] is 1 + its index there (0: none). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "kdp_internal.h"

#define KDP_MIN_PPS 50000.0             /* the rate assumed for a processor that had no traffic */
#define KDP_MAX_BOUND_NS 100000000ull   /* 100 ms: a move never waits longer */

int kdp_qstat_read(struct dvmq_kdp *k, uint32_t q)
{
	return bpf_map_lookup_elem(k->qstats_fd, &q, k->qbuf) == 0 ? 0 : -errno;
}

int dvmq_kdp_queue_cpu(const struct dvmq_kdp *k, uint32_t q)
{
	if (q >= k->cfg.n_queues)
		return -EINVAL;
	return (int)DVMQ_KERN_STEER_CPU(__atomic_load_n(&k->q[q].steer, __ATOMIC_ACQUIRE));
}

static struct kdp_move *kdp_pending(struct dvmq_kdp *k, uint32_t q)
{
	return k->pend[q] ? &k->moves[k->pend[q] - 1] : NULL;
}

static void kdp_drop_pending(struct dvmq_kdp *k, struct kdp_move *m)
{
	k->pend[m->queue] = 0;
	*m = k->moves[--k->n_moves];
	if (m != &k->moves[k->n_moves])
		k->pend[m->queue] = (uint32_t)(m - k->moves) + 1;
}

/* Counts a completed move of slot q: a queue's, or a bucket's. */
static void kdp_count(struct dvmq_kdp *k, uint32_t q, bool forced, bool by_user)
{
	bool ordered = !forced && !k->cfg.unordered;
	if (q >= k->cfg.n_queues) {
		k->bucket_moves++;
		k->bucket_moves_forced += forced;
		k->bucket_moves_ordered += ordered;
		return;
	}
	k->n_moved++;
	k->moves_forced += forced;
	k->moves_ordered += ordered;
	k->moves_ordered_user += ordered && by_user;
}

/* Starts moving slot q (a queue, or a group's bucket) to cpu, a processor of the set. */
static int kdp_slot_move(struct dvmq_kdp *k, uint32_t q, int cpu)
{
	struct dvmq_kern_queue *s = &k->q[q];
	struct kdp_move *m = kdp_pending(k, q);
	bool fresh = m == NULL;
	uint64_t now = kdp_now_ns();
	uint64_t w = __atomic_load_n(&s->steer, __ATOMIC_ACQUIRE);
	if ((int)DVMQ_KERN_STEER_CPU(w) == cpu) {
		/* already there: cancel a move still pending; if the XDP program flipped it to the old
		 * target meanwhile, the queue is elsewhere and moves back below */
		__atomic_store_n(&s->next_cpu, (unsigned)cpu, __ATOMIC_SEQ_CST);
		w = __atomic_load_n(&s->steer, __ATOMIC_SEQ_CST);
		if ((int)DVMQ_KERN_STEER_CPU(w) == cpu) {
			if (m && m->to == cpu) {
				/* the XDP program completed that very move before a poll saw it: count it */
				k->n_moved++;
				k->moves_ordered += !k->cfg.unordered;
			}
			if (m)
				kdp_drop_pending(k, m);
			return 0;
		}
		/* the pending move completed (flipped to its target): count it, and reuse its entry for
		 * the move back (one entry per slot) */
		if (m) {
			kdp_count(k, q, false, false);
			fresh = true;
		}
	}
	if (k->dirty[q].until_ns > now && k->dirty[q].cpu == cpu) {
		k->moves_busy++;
		return -EBUSY;
	}
	int from = (int)DVMQ_KERN_STEER_CPU(w);
	double pps = from < (int)DVMQ_KDP_MAX_CPUS && k->cpu_index[from] >= 0 ? k->cpu_pps[k->cpu_index[from]] : 0.0;
	if (pps < KDP_MIN_PPS)
		pps = KDP_MIN_PPS;
	uint32_t qsize = k->cfg.qsize ? k->cfg.qsize : 2048;
	uint64_t bound = (uint64_t)((double)qsize * 1e9 / pps) + (k->cfg.move_margin_ns ? k->cfg.move_margin_ns : 2000000ull);
	if (bound > KDP_MAX_BOUND_NS)
		bound = KDP_MAX_BOUND_NS;
	if (!m) {
		m = &k->moves[k->n_moves++];
		k->pend[q] = k->n_moves;
	}
	if (fresh) {
		m->queue = q;
		m->start_ns = now;
		m->deadline_ns = now + bound;
	}
	m->from = from;
	m->to = cpu;
	__atomic_store_n(&s->next_cpu, (unsigned)cpu, __ATOMIC_RELEASE);
	return 0;
}

static bool kdp_cpu_ok(const struct dvmq_kdp *k, int cpu)
{
	return cpu >= 0 && cpu < (int)DVMQ_KDP_MAX_CPUS && k->cpu_index[cpu] >= 0;
}

int dvmq_kdp_queue_move(struct dvmq_kdp *k, uint32_t q, int cpu)
{
	if (q >= k->cfg.n_queues || !kdp_cpu_ok(k, cpu))
		return -EINVAL;
	/* asked again where it is or is going (the daemon asks every interval): its buckets are
	 * there too, unless one could not follow yet (-EBUSY) */
	bool again = (int)__atomic_load_n(&k->q[q].next_cpu, __ATOMIC_ACQUIRE) == cpu && !k->behind[q];
	int rc = kdp_slot_move(k, q, cpu);
	if (again)
		return rc;
	/* the buckets the queue holds go with it, each ordered on its own */
	bool busy = false;
	for (uint32_t g = 0; g < k->cfg.max_groups; g++) {
		if (!k->group_used[g])
			continue;
		for (uint32_t b = 0; b < DVMQ_KERN_BUCKETS; b++) {
			uint32_t i = g * DVMQ_KERN_BUCKETS + b;
			if (k->owner[i] != q)
				continue;
			int brc = kdp_slot_move(k, k->cfg.n_queues + i, cpu);
			busy |= brc == -EBUSY;
			if (brc && !rc)
				rc = brc;
		}
	}
	k->behind[q] = busy;
	return rc;
}

/* ---- queue groups ---- */

int dvmq_kdp_group_set(struct dvmq_kdp *k, uint32_t g, const uint32_t table[DVMQ_KDP_BUCKETS])
{
	if (g >= k->cfg.max_groups)
		return -EINVAL;
	for (uint32_t b = 0; b < DVMQ_KERN_BUCKETS; b++)
		if (table[b] >= k->cfg.n_queues)
			return -EINVAL;
	if (!k->group_used[g]) {
		int rc = kdp_group_baseline(k, g);
		if (rc)
			return rc;
		k->group_used[g] = true;
	}
	int rc = 0;
	for (uint32_t b = 0; b < DVMQ_KERN_BUCKETS; b++) {
		uint32_t i = g * DVMQ_KERN_BUCKETS + b, slot = k->cfg.n_queues + i;
		k->owner[i] = table[b];
		/* where the queue is, or is going */
		int want = (int)__atomic_load_n(&k->q[table[b]].next_cpu, __ATOMIC_ACQUIRE);
		if (!kdp_cpu_ok(k, want))
			continue; /* cannot happen: a queue's next_cpu is always a processor of the set */
		if ((int)__atomic_load_n(&k->q[slot].next_cpu, __ATOMIC_ACQUIRE) == want &&
		    (int)DVMQ_KERN_STEER_CPU(__atomic_load_n(&k->q[slot].steer, __ATOMIC_ACQUIRE)) == want)
			continue;
		int brc = kdp_slot_move(k, slot, want);
		if (brc && !rc)
			rc = brc;
	}
	return rc;
}

void dvmq_kdp_group_clear(struct dvmq_kdp *k, uint32_t g)
{
	if (g < k->cfg.max_groups)
		k->group_used[g] = false;
}

int dvmq_kdp_bucket_cpu(const struct dvmq_kdp *k, uint32_t g, uint32_t b)
{
	if (g >= k->cfg.max_groups || b >= DVMQ_KERN_BUCKETS)
		return -EINVAL;
	uint32_t slot = k->cfg.n_queues + g * DVMQ_KERN_BUCKETS + b;
	return (int)DVMQ_KERN_STEER_CPU(__atomic_load_n(&k->q[slot].steer, __ATOMIC_ACQUIRE));
}

/* The new processor's counts for q, the new epoch's bases. */
struct kdp_base {
	uint64_t processed, delivered;
};

/* Flips q's steer from w to `to`, epoch + 1, as the XDP program does (steer_move). Returns 1 when
 * this compare-and-swap did it. */
static int kdp_flip(struct dvmq_kdp *k, uint32_t q, uint64_t w, int to, struct kdp_base b)
{
	struct dvmq_kern_queue *s = &k->q[q];
	unsigned ne = (DVMQ_KERN_STEER_EPOCH(w) + 1) & DVMQ_KERN_EPOCH_MASK;
	__atomic_store_n(&s->base[ne & 1], b.processed, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->tcbase[ne & 1], b.delivered, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->rx_cpu, DVMQ_KERN_RX_NONE, __ATOMIC_SEQ_CST);
	return __atomic_compare_exchange_n(&s->steer, &w, DVMQ_KERN_STEER((unsigned)to, ne, 0), false, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST);
}

/* Whether processor cpu's cpumap kthread has left the batch in which its tc counter last counted a
 * frame of q (bpf/dvmq_kern.bpf.c, drained): 1, 0 or an errno. Read after the counts that met: the
 * batch is written before the count. */
static int kdp_batch_over(struct dvmq_kdp *k, uint32_t q, int cpu)
{
	int rc = kdp_qstat_read(k, q);
	if (rc)
		return rc;
	uint64_t last_iter = k->qbuf[cpu].last_iter;
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(k->kthreads_fd, &zero, k->ktbuf) != 0)
		return -errno;
	return k->ktbuf[cpu].iter > last_iter;
}

/* Whether q's current epoch (w, on processor `from`) is drained and, with a guard, quiet: the
 * XDP program's rule (bpf/dvmq_kern.bpf.c, drained). Returns 1, 0 or an errno. */
static int kdp_drained(struct dvmq_kdp *k, uint32_t q, uint64_t w, int from, uint64_t now)
{
	uint64_t sent = DVMQ_KERN_STEER_SENT(w);
	if (sent == 0)
		return 1;
	/* two reads: a frame of this epoch counted in the first, then (a per-CPU read copies in
	 * address order) the last frame and the counts in the second (bpf/dvmq_kern.bpf.c, drained) */
	const struct dvmq_kern_queue *s = &k->q[q];
	unsigned e = DVMQ_KERN_STEER_EPOCH(w);
	int rc = kdp_qstat_read(k, q);
	if (rc)
		return rc;
	uint64_t seen = k->qbuf[from].cpu_packets - __atomic_load_n(&s->base[e & 1], __ATOMIC_ACQUIRE);
	if ((rc = kdp_qstat_read(k, q)) != 0)
		return rc;
	const struct dvmq_kern_qstat *st = &k->qbuf[from];
	uint64_t processed = st->cpu_packets - __atomic_load_n(&s->base[e & 1], __ATOMIC_ACQUIRE);
	uint64_t delivered = st->delivered - __atomic_load_n(&s->tcbase[e & 1], __ATOMIC_ACQUIRE);
	unsigned rx = __atomic_load_n(&s->rx_cpu, __ATOMIC_ACQUIRE);
	/* the programs' own settings decide, as for the XDP program (one source of truth) */
	struct dvmq_kern_cfg c;
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(k->cfg_fd, &zero, &c) != 0)
		return -errno;
	/* a bucket the NIC's hash chose drains at the cpumap program (the tc counter cannot find it) */
	bool tc = (c.flags & DVMQ_KERN_F_TC_DONE) != 0 && !(q >= k->cfg.n_queues && (c.flags & DVMQ_KERN_F_NIC_HASH));
	int ok = (tc ? delivered : processed) == sent ||
		 (seen > 0 && rx != DVMQ_KERN_RX_NONE && rx != DVMQ_KERN_RX_MULTI && st->last_epoch == e + 1 &&
		  st->last_seq == (uint32_t)(sent - 1) && (!tc || delivered == processed));
	if (ok && tc && (c.flags & DVMQ_KERN_F_BATCH) && (rc = kdp_batch_over(k, q, from)) != 1)
		return rc;
	return ok && (!k->cfg.guard_ns || now - st->last_ns >= k->cfg.guard_ns);
}

/* One pending move. Returns 1 when it completed ordered (or unordered by config), 2 when it was
 * forced, 0 when still pending, or an errno. */
static int kdp_move_step(struct dvmq_kdp *k, struct kdp_move *m, uint64_t now)
{
	struct dvmq_kern_queue *s = &k->q[m->queue];
	/* the new epoch's bases first, the steering word after: a word still of the old epoch then
	 * proves the bases predate the flip (no frame of the new epoch counted in them), whoever flips
	 * and whenever kdp_flip's stores land. Read the other way round, an XDP flip between the two
	 * reads could hand this flip's (failing) compare-and-swap a base that already counts new
	 * frames, written into the slot the new epoch drains by. */
	int rc = kdp_qstat_read(k, m->queue);
	if (rc)
		return rc;
	struct kdp_base base = { k->qbuf[m->to].cpu_packets, k->qbuf[m->to].delivered };
	uint64_t w = __atomic_load_n(&s->steer, __ATOMIC_ACQUIRE);
	if ((int)DVMQ_KERN_STEER_CPU(w) == m->to) {
		/* the XDP program flipped it, after the drain (or at once: unordered) */
		kdp_count(k, m->queue, false, false);
		return 1;
	}
	/* the epoch to drain is on the word's processor (m->from is where the move started: the XDP
	 * program may have flipped the queue to an earlier target since) */
	m->from = (int)DVMQ_KERN_STEER_CPU(w);
	rc = k->cfg.unordered ? 1 : kdp_drained(k, m->queue, w, m->from, now);
	if (rc < 0)
		return rc;
	if (rc == 1 && kdp_flip(k, m->queue, w, m->to, base)) {
		kdp_count(k, m->queue, false, true);
		return 1;
	}
	if (now < m->deadline_ns)
		return 0;
	uint64_t old_done = 0, old_base = __atomic_load_n(&s->base[DVMQ_KERN_STEER_EPOCH(w) & 1], __ATOMIC_ACQUIRE);
	if (kdp_qstat_read(k, m->queue) == 0)
		old_done = k->qbuf[m->from].cpu_packets;
	/* past the bound: force it (a busy queue changes steer with every frame: retry until the
	 * compare-and-swap lands between two of them, or the XDP program flips it first) */
	for (int tries = 0; tries < 100000; tries++) {
		w = __atomic_load_n(&s->steer, __ATOMIC_ACQUIRE);
		if ((int)DVMQ_KERN_STEER_CPU(w) == m->to) {
			kdp_count(k, m->queue, false, false);
			return 1;
		}
		if (kdp_flip(k, m->queue, w, m->to, base)) {
			kdp_count(k, m->queue, true, true);
			k->dirty[m->queue] = (struct kdp_dirty){ .cpu = m->from,
								  .until_ns = now + (k->cfg.settle_ns ? k->cfg.settle_ns : 100000000ull) };
			char what[48];
			if (m->queue < k->cfg.n_queues)
				snprintf(what, sizeof(what), "queue %u", m->queue);
			else
				snprintf(what, sizeof(what), "group %u bucket %u", (m->queue - k->cfg.n_queues) / DVMQ_KERN_BUCKETS,
					 (m->queue - k->cfg.n_queues) % DVMQ_KERN_BUCKETS);
			kdp_log(k, DVMQ_KDP_LOG_INFO, "kernel mode: %s forced from processor %d to %d after %.1f ms "
				"(of %llu frames sent there, %llu not processed yet or dropped)", what, m->from, m->to,
				(double)(now - m->start_ns) / 1e6, (unsigned long long)DVMQ_KERN_STEER_SENT(w),
				(unsigned long long)(DVMQ_KERN_STEER_SENT(w) - (old_done - old_base)));
			return 2;
		}
	}
	return 0; /* a storm of frames: next poll */
}

/* Renews the epoch of every queue whose sent count passed DVMQ_KERN_RENEW_AT with no move
 * pending: same processor, epoch + 1, sent 0, the new epoch's bases those at which every frame
 * of the old one is processed (old base + sent), so the drain counts stay exact. Without it a
 * queue that stays put for 2^44 frames (13 days at 14.88 Mpps) carries into the epoch bits, and
 * at 2^48 into the processor bits: its frames then go to the next CPU. The XDP program never
 * flips a queue whose next_cpu is its processor, and only this thread writes next_cpu, so the
 * compare-and-swap races only with frames being counted (retried from the new word). */
void kdp_renew_epochs(struct dvmq_kdp *k)
{
	for (uint32_t q = 0; q < k->n_slots; q++) { /* the groups' bucket slots too */
		struct dvmq_kern_queue *s = &k->q[q];
		for (int tries = 0; tries < 1000; tries++) {
			uint64_t w = __atomic_load_n(&s->steer, __ATOMIC_ACQUIRE);
			uint64_t sent = DVMQ_KERN_STEER_SENT(w);
			unsigned cpu = DVMQ_KERN_STEER_CPU(w), e = DVMQ_KERN_STEER_EPOCH(w);
			if (sent < DVMQ_KERN_RENEW_AT || __atomic_load_n(&s->next_cpu, __ATOMIC_ACQUIRE) != cpu ||
			    kdp_pending(k, q))
				break;
			unsigned ne = (e + 1) & DVMQ_KERN_EPOCH_MASK;
			__atomic_store_n(&s->base[ne & 1], __atomic_load_n(&s->base[e & 1], __ATOMIC_ACQUIRE) + sent,
					 __ATOMIC_SEQ_CST);
			__atomic_store_n(&s->tcbase[ne & 1], __atomic_load_n(&s->tcbase[e & 1], __ATOMIC_ACQUIRE) + sent,
					 __ATOMIC_SEQ_CST);
			__atomic_store_n(&s->rx_cpu, DVMQ_KERN_RX_NONE, __ATOMIC_SEQ_CST);
			if (__atomic_compare_exchange_n(&s->steer, &w, DVMQ_KERN_STEER(cpu, ne, 0), false, __ATOMIC_SEQ_CST,
							__ATOMIC_SEQ_CST)) {
				k->epochs_renewed++;
				kdp_log(k, DVMQ_KDP_LOG_INFO, "kernel mode: queue slot %u renewed its epoch on processor %u after %llu "
					"frames (its sent count would wrap)", q, cpu, (unsigned long long)sent);
				break;
			}
		}
	}
}

void dvmq_kdp_on_move(struct dvmq_kdp *k, dvmq_kdp_move_fn fn, void *ctx)
{
	k->on_move = fn;
	k->on_move_ctx = ctx;
}

int dvmq_kdp_moves_poll(struct dvmq_kdp *k, uint64_t now_ns)
{
	for (uint32_t i = 0; i < k->n_moves;) {
		int rc = kdp_move_step(k, &k->moves[i], now_ns);
		if (rc < 0)
			return rc;
		if (rc >= 1) {
			struct kdp_move *m = &k->moves[i];
			if (k->on_move && m->queue < k->cfg.n_queues)
				k->on_move(k->on_move_ctx, m->queue, m->from, m->to, m->start_ns, kdp_now_ns(), rc == 2);
			kdp_drop_pending(k, m);
		} else {
			i++;
		}
	}
	return (int)k->n_moves;
}

int dvmq_kdp_moves_wait(struct dvmq_kdp *k)
{
	for (;;) {
		int n = dvmq_kdp_moves_poll(k, kdp_now_ns());
		if (n <= 0)
			return n;
		nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
	}
}
