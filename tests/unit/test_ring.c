/* The SPSC frame ring (src/dp/ring.h) on its own: wrap-around with skip records, a full ring by
 * depth and by cells, variable-size records near the end, barrier records, and a producer and a
 * consumer thread (ASan checks every access, TSan the orderings: named dp_ring_* so the TSan
 * build runs them). */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/dp/ring.h"
#include "../harness.h"

#define BATCH 32u

/* A ring of n_cells cells (power of two) holding at most depth packets. */
static int ring_make(struct ring *r, uint64_t n_cells, uint32_t depth)
{
	memset(r, 0, sizeof(*r));
	r->mem = calloc(n_cells, RING_CELL);
	r->n_cells = n_cells;
	r->depth = depth;
	return r->mem ? 0 : -1;
}

/* A frame of len bytes whose contents say (seq, len). */
static void fill(uint8_t *buf, uint32_t len, uint32_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seq * 31u + i);
}

static int same(const uint8_t *data, uint32_t len, uint32_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		if (data[i] != (uint8_t)(seq * 31u + i))
			return 0;
	return 1;
}

/* A frame length that takes exactly k cells with its header. */
static uint32_t len_for_cells(uint32_t k)
{
	return k * RING_CELL - RING_HDR;
}

/* Pops one frame; returns its length, or -1 when nothing (or a barrier) is at the tail. */
static int pop_one(struct ring *r, uint8_t *out)
{
	struct ring_rec *rec, *barrier;
	uint64_t end;
	if (ring_peek(r, &rec, 1, &end, &barrier) != 1)
		return -1;
	uint32_t len = rec->len;
	memcpy(out, ring_data(rec), len);
	ring_release(r, end, 1);
	return (int)len;
}

TEST(dp_ring_full_by_depth_then_by_cells)
{
	struct ring r;
	uint8_t f[2048], out[2048];
	const uint32_t two = len_for_cells(2), big = len_for_cells(24);
	CHECK(ring_make(&r, 64, 4) == 0);
	fill(f, two, 0);
	for (int i = 0; i < 4; i++)
		CHECK(ring_push(&r, f, two, 0, 0));
	CHECK(!ring_push(&r, f, two, 0, 0)); /* depth 4 */
	CHECK(ring_backlog(&r) == 4 && atomic_load(&r.head) == 8);
	CHECK(pop_one(&r, out) == (int)two);
	CHECK(ring_push(&r, f, two, 0, 0));
	free(r.mem);
	/* by cells: 24-cell records; 64 cells hold two */
	CHECK(ring_make(&r, 64, 100) == 0);
	CHECK(ring_cells_for(big) == 24 && ring_cells_for(big + 1) == 25);
	CHECK(ring_push(&r, f, big, 0, 0) && ring_push(&r, f, big, 0, 0));
	uint64_t head = atomic_load(&r.head);
	CHECK(!ring_push(&r, f, big, 0, 0));
	CHECK(atomic_load(&r.head) == head && ring_backlog(&r) == 2); /* a refused push changes nothing */
	CHECK(ring_push(&r, f, len_for_cells(16), 0, 0)); /* 16 cells still fit */
	CHECK(!ring_push(&r, f, 1, 0, 0));
	free(r.mem);
}

TEST(dp_ring_wraps_with_skip_records_and_keeps_order)
{
	struct ring r;
	uint8_t f[2048], out[2048];
	CHECK(ring_make(&r, 32, 1000) == 0);
	/* sizes of 1..16 cells that leave 1..n cells before the end, so every skip length occurs (a
	 * record of half the ring always fits an empty one, skip included) */
	uint32_t seq_in = 0, seq_out = 0, skips = 0;
	for (int round = 0; round < 2000; round++) {
		uint32_t len = 1 + (uint32_t)(round * 37) % len_for_cells(16);
		fill(f, len, seq_in);
		uint64_t head = atomic_load(&r.head);
		uint64_t pos = head & (r.n_cells - 1);
		bool wraps = pos + ring_cells_for(len) > r.n_cells;
		while (!ring_push(&r, f, len, seq_in, 0)) {
			int got = pop_one(&r, out);
			CHECK_MSG(got >= 0 && same(out, (uint32_t)got, seq_out), "frame %u damaged", seq_out);
			seq_out++;
		}
		if (wraps) {
			/* the record starts at cell 0, behind a skip record covering the end */
			CHECK(ring_at(&r, head)->len == RING_SKIP && ring_at(&r, head)->vm == r.n_cells - pos);
			skips++;
		}
		seq_in++;
	}
	int got;
	while ((got = pop_one(&r, out)) >= 0) {
		CHECK_MSG(same(out, (uint32_t)got, seq_out), "frame %u damaged", seq_out);
		seq_out++;
	}
	CHECK(seq_out == seq_in && ring_backlog(&r) == 0 && !ring_pending(&r));
	CHECK_MSG(skips > 100, "only %u wraps", skips);
	free(r.mem);
}

TEST(dp_ring_record_that_exactly_fills_the_end_needs_no_skip)
{
	struct ring r;
	uint8_t f[512], out[512];
	const uint32_t one = len_for_cells(1), six = len_for_cells(6);
	CHECK(ring_make(&r, 8, 100) == 0);
	fill(f, six, 1);
	CHECK(ring_push(&r, f, one, 1, 0));             /* cell 0 */
	CHECK(ring_push(&r, f, six, 1, 0));             /* cells 1..6 */
	CHECK(pop_one(&r, out) == (int)one && pop_one(&r, out) == (int)six);
	CHECK(ring_push(&r, f, one, 1, 0));             /* cell 7: the last one, no skip */
	CHECK(ring_at(&r, 7)->len == one);
	CHECK(ring_push(&r, f, one, 1, 0));             /* cell 8 = cell 0 */
	CHECK(atomic_load(&r.head) == 9);
	CHECK(pop_one(&r, out) == (int)one && pop_one(&r, out) == (int)one && pop_one(&r, out) == -1);
	free(r.mem);
}

TEST(dp_ring_barrier_holds_the_frames_behind_it)
{
	struct ring r;
	uint8_t f[256], out[256];
	const uint32_t two = len_for_cells(2);
	CHECK(ring_make(&r, 16, 100) == 0);
	fill(f, two, 0);
	CHECK(ring_push(&r, f, two, 0, 0));
	CHECK(ring_push_ex(&r, f, two, 1, 0, true, 3, 42));
	CHECK(ring_backlog(&r) == 2); /* a barrier is not a packet */
	struct ring_rec *recs[4], *barrier;
	uint64_t end;
	CHECK(ring_peek(&r, recs, 4, &end, &barrier) == 1 && barrier == NULL); /* stops before it */
	ring_release(&r, end, 1);
	CHECK(ring_peek(&r, recs, 4, &end, &barrier) == 0 && barrier != NULL);
	CHECK(barrier->len == RING_BARRIER && barrier->vm == 3 && barrier->ts_ns == 42);
	CHECK(ring_pending(&r));
	ring_pass_barrier(&r, end);
	CHECK(pop_one(&r, out) == (int)two && ring_backlog(&r) == 0 && !ring_pending(&r));
	free(r.mem);
	/* a barrier and its frame go in together or not at all, across the end too */
	CHECK(ring_make(&r, 8, 100) == 0);
	CHECK(ring_push(&r, f, two, 0, 0) && ring_push(&r, f, two, 0, 0) && ring_push(&r, f, two, 0, 0));
	CHECK(pop_one(&r, out) == (int)two && pop_one(&r, out) == (int)two); /* cells 0..3 free, head at 6 */
	CHECK(ring_push_ex(&r, f, two, 1, 0, true, 2, 7)); /* barrier at 6, skip 7, frame at 8..9 */
	CHECK(ring_at(&r, 6)->len == RING_BARRIER && ring_at(&r, 7)->len == RING_SKIP);
	CHECK(!ring_push_ex(&r, f, two, 1, 0, true, 2, 7)); /* 3 cells needed, 2 free */
	CHECK(ring_backlog(&r) == 2);
	CHECK(pop_one(&r, out) == (int)two);
	CHECK(ring_peek(&r, recs, 4, &end, &barrier) == 0 && barrier && barrier->vm == 2);
	ring_pass_barrier(&r, end);
	CHECK(pop_one(&r, out) == (int)two && !ring_pending(&r));
	free(r.mem);
}

struct pc {
	struct ring r;
	uint32_t n;
	_Atomic int failed;
};

static void *producer(void *arg)
{
	struct pc *pc = arg;
	uint8_t f[1600];
	for (uint32_t seq = 0; seq < pc->n; seq++) {
		uint32_t len = 60 + (seq * 7919u) % 1440;
		fill(f, len, seq);
		while (!ring_push(&pc->r, f, len, seq, seq))
			if (atomic_load(&pc->failed))
				return NULL;
			else
				sched_yield();
	}
	return NULL;
}

/* One producer and one consumer thread at once, variable sizes, many wraps: every frame arrives
 * whole and in order (TSan: every record read happens after its write, every cell reuse after
 * its release). 50000 frames of 760 bytes on average through 64 KiB: ~600 wraps. The ring holds
 * ~80 of them, so a loaded machine (each side waits a time slice for the other when it is full or
 * empty) costs ~600 such waits, not the ~40000 a 4 KiB ring did: that took 2-5 minutes under
 * stress-ng and timed out under TSan (issue 18 §4). */
TEST(dp_ring_producer_and_consumer_threads_agree_on_every_record)
{
	struct pc pc = { .n = 50000 };
	CHECK(ring_make(&pc.r, 4096, 256) == 0);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, producer, &pc) == 0);
	uint32_t seq = 0;
	while (seq < pc.n) {
		struct ring_rec *recs[BATCH], *barrier;
		uint64_t end;
		unsigned k = ring_peek(&pc.r, recs, BATCH, &end, &barrier);
		for (unsigned i = 0; i < k; i++, seq++) {
			if (recs[i]->vm != seq || recs[i]->ts_ns != seq || recs[i]->len != 60 + (seq * 7919u) % 1440 ||
			    !same(ring_data(recs[i]), recs[i]->len, seq))
				atomic_store(&pc.failed, 1);
		}
		if (k)
			ring_release(&pc.r, end, k);
		else
			sched_yield();
		if (atomic_load(&pc.failed))
			break;
	}
	pthread_join(th, NULL);
	CHECK_MSG(!atomic_load(&pc.failed), "record %u arrived damaged or out of order", seq);
	CHECK(seq == pc.n && ring_backlog(&pc.r) == 0);
	free(pc.r.mem);
}
