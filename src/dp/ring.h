/* Single-producer single-consumer ring of variable-size frame records, one per queue.
 *
 * The producer is the uplink thread; the consumer is the queue's current owner. Ownership moves
 * between workers with a release/acquire pair on the queue's owner field (dp_internal.h), so the
 * consumer side's private state (`tail`, `deq`) travels with the queue.
 * Records are whole 64-byte cells: a 16-byte header then the frame; a record never straddles the
 * end of the buffer (the producer writes a skip record and starts over at cell 0).
 * Capacity: at most `depth` packets and `n_cells` cells, whichever fills first.
 * Counters are monotonic; `head - tail` is cells in use, `enq - deq` packets waiting. */
#ifndef DVMQ_DP_RING_H
#define DVMQ_DP_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define RING_CELL 64u
#define RING_HDR 16u
#define RING_SKIP UINT32_MAX

struct ring_rec {
	uint32_t len;     /* frame bytes, RING_SKIP for a skip record */
	uint32_t vm;      /* VM slot the classifier resolved, or DVMQ_DP_NO_VM (default path) */
	uint64_t ts_ns;   /* arrival */
};

struct ring {
	/* producer side */
	_Alignas(64) _Atomic uint64_t head;    /* cells written */
	_Atomic uint64_t enq;                  /* packets written */
	uint64_t tail_cache;
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

/* Producer. Returns false when full (no side effect then). */
static inline bool ring_push(struct ring *r, const uint8_t *data, uint32_t len, uint32_t vm, uint64_t ts)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t enq = atomic_load_explicit(&r->enq, memory_order_relaxed);
	uint32_t need = ring_cells_for(len);
	uint64_t pos = head & (r->n_cells - 1);
	uint64_t skip = pos + need > r->n_cells ? r->n_cells - pos : 0;
	if (enq - atomic_load_explicit(&r->deq, memory_order_acquire) >= r->depth)
		return false;
	if (head + skip + need - r->tail_cache > r->n_cells) {
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (head + skip + need - r->tail_cache > r->n_cells)
			return false;
	}
	if (skip) {
		struct ring_rec *s = ring_at(r, head);
		s->len = RING_SKIP;
		s->vm = (uint32_t)skip;
		head += skip;
	}
	struct ring_rec *rec = ring_at(r, head);
	rec->len = len;
	rec->vm = vm;
	rec->ts_ns = ts;
	memcpy((uint8_t *)rec + RING_HDR, data, len);
	atomic_store_explicit(&r->enq, enq + 1, memory_order_relaxed);
	atomic_store_explicit(&r->head, head + need, memory_order_release);
	return true;
}

static inline uint64_t ring_backlog(const struct ring *r)
{
	uint64_t enq = atomic_load_explicit(&r->enq, memory_order_relaxed);
	uint64_t deq = atomic_load_explicit(&r->deq, memory_order_relaxed);
	return enq > deq ? enq - deq : 0;
}

/* Consumer: is anything waiting? */
static inline bool ring_pending(struct ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) !=
	       atomic_load_explicit(&r->tail, memory_order_relaxed);
}

/* Consumer: up to n records from the tail, without releasing them. Returns records; *end is the
 * cell after the last one (pass it to ring_release). */
static inline unsigned ring_peek(struct ring *r, struct ring_rec **recs, unsigned n, uint64_t *end)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t c = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned got = 0;
	while (got < n && c != head) {
		struct ring_rec *rec = ring_at(r, c);
		if (rec->len == RING_SKIP) {
			c += rec->vm;
			continue;
		}
		recs[got++] = rec;
		c += ring_cells_for(rec->len);
	}
	*end = c;
	return got;
}

static inline void ring_release(struct ring *r, uint64_t end, unsigned n)
{
	atomic_store_explicit(&r->deq, atomic_load_explicit(&r->deq, memory_order_relaxed) + n,
			      memory_order_release);
	atomic_store_explicit(&r->tail, end, memory_order_release);
}

static inline uint8_t *ring_data(struct ring_rec *rec)
{
	return (uint8_t *)rec + RING_HDR;
}

#endif
