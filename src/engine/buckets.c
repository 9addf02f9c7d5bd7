/* Processors bucketed by a load (a bucket queue): adaptive finds the least loaded processor that
 * takes a queue, or the fullest one it still fits on, without sorting anything, and a move updates
 * two processors in O(1). The structure lives as long as the engine; each round only the
 * processors whose load crossed a bucket boundary move.
 * Invariant: every processor with where[p] != ENG_NIL is on exactly the list head[where[p]], and
 * bit k of bits is set exactly when head[k] is not empty. */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

int eng_buckets_init(struct eng_buckets *b, uint32_t n_procs, double scale)
{
	memset(b, 0, sizeof(*b));
	b->scale = scale;
	b->n = (uint32_t)(2.0 * scale);
	b->next = calloc(n_procs, sizeof(uint32_t));
	b->prev = calloc(n_procs, sizeof(uint32_t));
	b->where = calloc(n_procs, sizeof(uint32_t));
	if (!b->next || !b->prev || !b->where)
		return -1;
	eng_buckets_clear(b, n_procs);
	return 0;
}

void eng_buckets_free(struct eng_buckets *b)
{
	free(b->next);
	free(b->prev);
	free(b->where);
}

void eng_buckets_clear(struct eng_buckets *b, uint32_t n_procs)
{
	for (uint32_t k = 0; k < b->n; k++)
		b->head[k] = ENG_NIL;
	memset(b->bits, 0, sizeof(b->bits));
	for (uint32_t p = 0; p < n_procs; p++)
		b->where[p] = ENG_NIL;
}

static void unlink_p(struct eng_buckets *b, uint32_t p)
{
	uint32_t k = b->where[p];
	if (b->prev[p] != ENG_NIL)
		b->next[b->prev[p]] = b->next[p];
	else
		b->head[k] = b->next[p];
	if (b->next[p] != ENG_NIL)
		b->prev[b->next[p]] = b->prev[p];
	if (b->head[k] == ENG_NIL)
		b->bits[k / 64] &= ~(1ull << (k % 64));
	b->where[p] = ENG_NIL;
}

void eng_buckets_remove(struct eng_buckets *b, uint32_t p)
{
	if (b->where[p] != ENG_NIL)
		unlink_p(b, p);
}

void eng_buckets_put(struct eng_buckets *b, uint32_t p, double key)
{
	uint32_t k = eng_bucket_of(b, key);
	if (b->where[p] == k)
		return;
	if (b->where[p] != ENG_NIL)
		unlink_p(b, p);
	b->prev[p] = ENG_NIL;
	b->next[p] = b->head[k];
	if (b->head[k] != ENG_NIL)
		b->prev[b->head[k]] = p;
	b->head[k] = p;
	b->where[p] = k;
	b->bits[k / 64] |= 1ull << (k % 64);
}

uint32_t eng_buckets_next(const struct eng_buckets *b, uint32_t from)
{
	for (uint32_t w = from / 64; from < b->n && w < b->n / 64; w++) {
		uint64_t m = b->bits[w];
		if (w == from / 64)
			m &= ~0ull << (from % 64);
		if (m)
			return w * 64 + (uint32_t)__builtin_ctzll(m);
	}
	return ENG_NIL;
}

uint32_t eng_buckets_prev(const struct eng_buckets *b, uint32_t from)
{
	if (from >= b->n)
		from = b->n - 1;
	for (uint32_t w = from / 64 + 1; w-- > 0;) {
		uint64_t m = b->bits[w];
		if (w == from / 64 && from % 64 != 63)
			m &= (1ull << (from % 64 + 1)) - 1;
		if (m)
			return w * 64 + 63 - (uint32_t)__builtin_clzll(m);
	}
	return ENG_NIL;
}
