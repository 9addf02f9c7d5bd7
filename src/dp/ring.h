/* Single-producer single-consumer ring of variable-size frame records, one per queue.
 *
 * The producer is the uplink thread; the consumer is the queue's current owner. Ownership moves
 * between workers with a release/acquire pair on the queue's owner field (dp_internal.h), so the
 * consumer side's private state (`tail`, `deq`) travels with the queue.
 * Records are whole 16-byte cells: a 16-byte header then the frame, so a 64-byte frame takes 80
 * bytes (1.25 cache lines to move between CPUs, not 2 as with line-sized cells). A frame with
 * offloads (struct dvmq_offload: a super-frame, a partial checksum) has them in one more cell
 * between the header and the frame, flagged in the length (RING_F_OFF). A record never
 * straddles the end of the buffer: the producer writes a skip record and starts over at cell 0.
 * A barrier record (a VM rebound from another queue, dp_internal.h) holds the consumer until
 * another ring's consumer has released a given number of packets; barriers and skips are not
 * packets: they take cells, not depth.
 * Capacity: at most `depth` packets and `n_cells` cells, whichever fills first.
 * Counters are monotonic; `head - tail` is cells in use, `enq - deq` packets waiting.
 *
 * Orderings (the producer/consumer contract, as DPDK's rte_ring states its own):
 *   producer: reads tail/deq (acquire) for room,          consumer: loads head (acquire), then
 *             writes the record(s), then publishes                 reads the records, then
 *             head once per burst (release)                        deq and tail (release)
 *   so a consumer never reads a record before it is written, and the producer never overwrites
 *   a cell before the consumer has finished with it. */
#ifndef DVMQ_DP_RING_H
#define DVMQ_DP_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dvmq/port.h"

#define RING_CELL 16u
#define RING_HDR 16u
#define RING_SKIP UINT32_MAX
#define RING_BARRIER (UINT32_MAX - 1u)
#define RING_PREFETCH_CELLS (512u / RING_CELL)
#define RING_F_OFF 0x80000000u   /* in len: an offload cell precedes the frame */
#define RING_LEN_MASK 0x00ffffffu

_Static_assert(sizeof(struct dvmq_offload) <= RING_CELL, "offloads fit one cell");

struct ring_rec {
	uint32_t len;     /* frame bytes (| RING_F_OFF); RING_SKIP or RING_BARRIER for the special records */
	uint32_t vm;      /* VM id, or DVMQ_DP_NO_VM; skip: cells to skip; barrier: queue to wait for */
	uint64_t ts_ns;   /* arrival; barrier: packets that queue must have released */
};

struct ring {
	/* producer side */
	_Alignas(64) _Atomic uint64_t head;    /* cells published */
	_Atomic uint64_t enq;                  /* packets published */
	_Alignas(64) uint64_t p_head, p_enq;   /* producer-private: staged, not yet published */
	uint64_t tail_cache, deq_cache;        /* the consumer's, as last read: reloaded when full */
	/* consumer side */
	_Alignas(64) _Atomic uint64_t tail;    /* cells released */
	_Atomic uint64_t deq;                  /* packets released */
	/* constant */
	_Alignas(64) uint8_t *mem;
	uint64_t n_cells;                      /* power of two */
	uint32_t depth;
};

static inline uint32_t ring_cells_for(uint32_t len)
{
	return (RING_HDR + len + RING_CELL - 1) / RING_CELL;
}

static inline struct ring_rec *ring_at(const struct ring *r, uint64_t cell)
{
	return (struct ring_rec *)(void *)(r->mem + (cell & (r->n_cells - 1)) * RING_CELL);
}

/* Cells to skip so that a record of `need` cells starting at `head` does not wrap. */
static inline uint64_t ring_skip_for(const struct ring *r, uint64_t head, uint32_t need)
{
	uint64_t pos = head & (r->n_cells - 1);
	return pos + need > r->n_cells ? r->n_cells - pos : 0;
}

/* Producer: is there room for `cells` more cells? Reloads the consumer's tail only when the
 * cached one says no (one read of the consumer's cache line per wrap, not per frame; the
 * depth check does the same with deq). */
static inline bool ring_room(struct ring *r, uint64_t head, uint64_t cells)
{
	if (head + cells - r->tail_cache <= r->n_cells)
		return true;
	r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
	return head + cells - r->tail_cache <= r->n_cells;
}

/* Cells a frame record takes, its header and offload cell included. */
static inline uint32_t ring_rec_cells(const struct ring_rec *rec)
{
	return ring_cells_for(rec->len & RING_LEN_MASK) + (rec->len & RING_F_OFF ? 1u : 0u);
}

static inline uint32_t ring_rec_len(const struct ring_rec *rec)
{
	return rec->len & RING_LEN_MASK;
}

/* Producer. Stages a frame (with its offloads when off is not NULL), preceded by a barrier
 * record when `barrier` (wait for queue barrier_q to have released barrier_pos packets): both or
 * neither. The consumer sees staged records once ring_publish is called (one store per burst,
 * not per frame: the consumer's line does not bounce on every frame). len < 2^24. Returns false
 * when full (no side effect then). */
static inline bool ring_stage_off(struct ring *r, const uint8_t *data, uint32_t len, const struct dvmq_offload *off,
				  uint32_t vm, uint64_t ts, bool barrier, uint32_t barrier_q, uint64_t barrier_pos)
{
	uint64_t head = r->p_head, enq = r->p_enq;
	if (enq - r->deq_cache >= r->depth) {
		r->deq_cache = atomic_load_explicit(&r->deq, memory_order_acquire);
		if (enq - r->deq_cache >= r->depth)
			return false;
	}
	uint32_t need = ring_cells_for(len) + (off ? 1u : 0u);
	uint64_t at = head + (barrier ? 1u : 0u); /* a one-cell barrier always fits before the end */
	uint64_t skip = ring_skip_for(r, at, need);
	if (!ring_room(r, head, at - head + skip + need))
		return false;
	if (barrier) {
		struct ring_rec *b = ring_at(r, head);
		b->len = RING_BARRIER;
		b->vm = barrier_q;
		b->ts_ns = barrier_pos;
	}
	if (skip) {
		struct ring_rec *s = ring_at(r, at);
		s->len = RING_SKIP;
		s->vm = (uint32_t)skip;
		at += skip;
	}
	struct ring_rec *rec = ring_at(r, at);
	rec->len = len | (off ? RING_F_OFF : 0u);
	rec->vm = vm;
	rec->ts_ns = ts;
	uint8_t *dst = (uint8_t *)rec + RING_HDR;
	if (off) {
		memcpy(dst, off, sizeof(*off));
		dst += RING_CELL;
	}
	memcpy(dst, data, len);
	r->p_enq = enq + 1;
	r->p_head = at + need;
	return true;
}

/* Producer. Stages a frame preceded by k barrier records (wait for queue qs[i] to have released
 * pos[i] packets, each), all or nothing; k <= 128. Used where a VM's buckets, spread over several
 * queues, come back to one (VMMQ): its next frame waits for every queue that held its frames.
 * Returns false when full (no side effect then). */
static inline bool ring_stage_barriers(struct ring *r, const uint8_t *data, uint32_t len, const struct dvmq_offload *off,
				       uint32_t vm, uint64_t ts, const uint32_t *qs, const uint64_t *pos, unsigned k)
{
	uint64_t head = r->p_head, enq = r->p_enq;
	if (enq - r->deq_cache >= r->depth) {
		r->deq_cache = atomic_load_explicit(&r->deq, memory_order_acquire);
		if (enq - r->deq_cache >= r->depth)
			return false;
	}
	uint32_t need = ring_cells_for(len) + (off ? 1u : 0u);
	uint64_t at = head + k; /* one-cell barriers never straddle the end */
	uint64_t skip = ring_skip_for(r, at, need);
	if (!ring_room(r, head, at - head + skip + need))
		return false;
	for (unsigned i = 0; i < k; i++) {
		struct ring_rec *b = ring_at(r, head + i);
		b->len = RING_BARRIER;
		b->vm = qs[i];
		b->ts_ns = pos[i];
	}
	r->p_head = at;
	bool ok = ring_stage_off(r, data, len, off, vm, ts, false, 0, 0);
	return ok; /* room and depth were checked: it fits */
}

static inline bool ring_stage_ex(struct ring *r, const uint8_t *data, uint32_t len, uint32_t vm, uint64_t ts,
				 bool barrier, uint32_t barrier_q, uint64_t barrier_pos)
{
	return ring_stage_off(r, data, len, NULL, vm, ts, barrier, barrier_q, barrier_pos);
}

static inline bool ring_stage(struct ring *r, const uint8_t *data, uint32_t len, uint32_t vm, uint64_t ts)
{
	return ring_stage_ex(r, data, len, vm, ts, false, 0, 0);
}

/* Producer: makes every staged record visible to the consumer. */
static inline void ring_publish(struct ring *r)
{
	atomic_store_explicit(&r->enq, r->p_enq, memory_order_relaxed);
	atomic_store_explicit(&r->head, r->p_head, memory_order_release);
}

/* Producer: stage and publish one frame (tests, and callers with one frame at a time). */
static inline bool ring_push(struct ring *r, const uint8_t *data, uint32_t len, uint32_t vm, uint64_t ts)
{
	if (!ring_stage(r, data, len, vm, ts))
		return false;
	ring_publish(r);
	return true;
}

static inline bool ring_push_ex(struct ring *r, const uint8_t *data, uint32_t len, uint32_t vm, uint64_t ts,
				bool barrier, uint32_t barrier_q, uint64_t barrier_pos)
{
	if (!ring_stage_ex(r, data, len, vm, ts, barrier, barrier_q, barrier_pos))
		return false;
	ring_publish(r);
	return true;
}

/* Packets waiting (any thread; a snapshot). */
static inline uint64_t ring_backlog(const struct ring *r)
{
	uint64_t deq = atomic_load_explicit(&r->deq, memory_order_relaxed);
	uint64_t enq = atomic_load_explicit(&r->enq, memory_order_relaxed);
	return enq > deq ? enq - deq : 0;
}

/* Consumer: is anything waiting (a frame, or a barrier still to pass)? */
static inline bool ring_pending(struct ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) !=
	       atomic_load_explicit(&r->tail, memory_order_relaxed);
}

/* Consumer: up to n frame records from the tail, without releasing them; stops before a
 * barrier. Returns records; *end is the cell after the last one (pass it to ring_release).
 * When it returns 0 because a barrier is first, *barrier points at it (else NULL). */
static inline unsigned ring_peek(struct ring *r, struct ring_rec **recs, unsigned n, uint64_t *end,
				 struct ring_rec **barrier)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t c = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned got = 0;
	*barrier = NULL;
	while (got < n && c != head) {
		struct ring_rec *rec = ring_at(r, c);
		/* the producer wrote these lines on another CPU: ask for the ones a few records
		 * ahead now, so their transfers overlap instead of one miss after the other */
		if (head - c > RING_PREFETCH_CELLS)
			__builtin_prefetch(ring_at(r, c + RING_PREFETCH_CELLS));
		if (rec->len == RING_SKIP) {
			c += rec->vm;
			continue;
		}
		if (rec->len == RING_BARRIER) {
			if (got == 0)
				*barrier = rec;
			break;
		}
		recs[got++] = rec;
		c += ring_rec_cells(rec);
	}
	*end = c;
	return got;
}

/* Consumer: gives n packets' cells, up to `end`, back to the producer. */
static inline void ring_release(struct ring *r, uint64_t end, unsigned n)
{
	atomic_store_explicit(&r->deq, atomic_load_explicit(&r->deq, memory_order_relaxed) + n,
			      memory_order_release);
	atomic_store_explicit(&r->tail, end, memory_order_release);
}

/* Consumer: passes the barrier ring_peek reported (its end is the cell after it). */
static inline void ring_pass_barrier(struct ring *r, uint64_t end)
{
	atomic_store_explicit(&r->tail, end + 1, memory_order_release);
}

static inline uint8_t *ring_data(struct ring_rec *rec)
{
	return (uint8_t *)rec + RING_HDR + (rec->len & RING_F_OFF ? RING_CELL : 0u);
}

/* The record's offloads, or NULL when it has none. */
static inline const struct dvmq_offload *ring_off(const struct ring_rec *rec)
{
	return rec->len & RING_F_OFF ? (const struct dvmq_offload *)(const void *)((const uint8_t *)rec + RING_HDR)
				     : NULL;
}

#endif
