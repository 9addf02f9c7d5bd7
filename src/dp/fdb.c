/* MAC learning table of the default path: (MAC, VLAN) seen as a source on the uplink, with the
 * time it was last seen. Only the owner of the default queue touches it (ownership passes with
 * the queue), so it needs no atomics and no RCU.
 *
 * Invariant: work per call is bounded whatever the history. A key lives in one of two buckets
 * of FDB_WAYS ways (two-choice hashing: the emptier one on insert), so a lookup examines at most
 * 2 x FDB_WAYS ways; a 16-bit tag per way spares most key comparisons. Entries sit on a list in
 * the order they were last seen: the head is the oldest, so aged entries are deleted from the
 * head (at most two per call) and occupancy follows the MACs alive, not the MACs ever seen.
 * A new MAC is refused (-ENOSPC) only when `max` MACs are alive, or both its buckets hold live
 * MACs: with buckets for twice the capacity that takes far more than chance. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"

#define FDB_NONE UINT32_MAX
#define FDB_EXPIRE_PER_CALL 2u

static inline uint64_t fdb_hash(const uint8_t *mac, uint16_t vlan)
{
	uint32_t lo;
	uint16_t hi;
	memcpy(&lo, mac, 4);
	memcpy(&hi, mac + 4, 2);
	uint64_t k = (uint64_t)lo | (uint64_t)hi << 32 | (uint64_t)vlan << 48; /* no 6-into-8 copy: see vmtab.c */
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	return k ^ (k >> 33);
}

static inline uint16_t hash_tag(uint64_t h)
{
	return (uint16_t)((h >> 48) | 1u); /* never 0: 0 marks an empty way */
}

static inline void buckets_of(const struct dp_fdb *f, uint64_t h, uint32_t b[2])
{
	uint32_t mask = f->n_buckets - 1;
	b[0] = (uint32_t)h & mask;
	b[1] = (uint32_t)(h >> 24) & mask;
	if (b[1] == b[0])
		b[1] = b[0] ^ (mask & 1u); /* a one-bucket table has one choice */
}

int fdb_init(struct dp_fdb *f, uint32_t size, uint64_t age_ns)
{
	memset(f, 0, sizeof(*f));
	uint32_t nb = 1;
	while ((uint64_t)nb * (FDB_WAYS / 2) < size)
		nb *= 2;
	f->e = fault_zalloc(size, sizeof(*f->e));
	f->tag = fault_zalloc((size_t)nb * FDB_WAYS, sizeof(*f->tag));
	f->idx = fault_zalloc((size_t)nb * FDB_WAYS, sizeof(*f->idx));
	if (!f->e || !f->tag || !f->idx) {
		fdb_fini(f);
		return -ENOMEM;
	}
	f->n_buckets = nb;
	f->max = size;
	f->age_ns = age_ns;
	f->lru_head = f->lru_tail = FDB_NONE;
	for (uint32_t i = 0; i < size; i++)
		f->e[i].next = i + 1 < size ? i + 1 : FDB_NONE;
	f->free_head = 0;
	return 0;
}

void fdb_fini(struct dp_fdb *f)
{
	free(f->e);
	free(f->tag);
	free(f->idx);
	f->e = NULL;
	f->tag = NULL;
	f->idx = NULL;
}

static inline bool aged(const struct dp_fdb *f, const struct dp_fdb_entry *e, uint64_t now)
{
	return now > e->seen_ns && now - e->seen_ns >= f->age_ns;
}

/* The way holding (mac, vlan), as bucket * FDB_WAYS + way, or FDB_NONE. */
static uint32_t find(struct dp_fdb *f, const uint8_t *mac, uint16_t vlan, uint64_t h)
{
	uint32_t b[2];
	buckets_of(f, h, b);
	uint16_t tag = hash_tag(h);
	uint64_t probes = 0;
	uint32_t found = FDB_NONE;
	for (unsigned k = 0; k < 2 && found == FDB_NONE; k++) {
		uint32_t base = b[k] * FDB_WAYS;
		for (uint32_t w = 0; w < FDB_WAYS; w++) {
			probes++;
			if (f->tag[base + w] != tag)
				continue;
			const struct dp_fdb_entry *e = &f->e[f->idx[base + w]];
			if (e->vlan == vlan && memcmp(e->mac, mac, 6) == 0) {
				found = base + w;
				break;
			}
		}
	}
	f->ops++;
	f->probes += probes;
	if (probes > f->probes_max)
		f->probes_max = probes;
	return found;
}

static void lru_unlink(struct dp_fdb *f, uint32_t i)
{
	struct dp_fdb_entry *e = &f->e[i];
	if (e->prev != FDB_NONE)
		f->e[e->prev].next = e->next;
	else
		f->lru_head = e->next;
	if (e->next != FDB_NONE)
		f->e[e->next].prev = e->prev;
	else
		f->lru_tail = e->prev;
}

static void lru_append(struct dp_fdb *f, uint32_t i)
{
	struct dp_fdb_entry *e = &f->e[i];
	e->prev = f->lru_tail;
	e->next = FDB_NONE;
	if (f->lru_tail != FDB_NONE)
		f->e[f->lru_tail].next = i;
	else
		f->lru_head = i;
	f->lru_tail = i;
}

/* Deletes the entry in `way`: out of its bucket, off the list, onto the free list. */
static void delete_way(struct dp_fdb *f, uint32_t way)
{
	uint32_t i = f->idx[way];
	f->tag[way] = 0;
	lru_unlink(f, i);
	f->e[i].next = f->free_head;
	f->free_head = i;
	f->n--;
}

static void expire(struct dp_fdb *f, uint64_t now)
{
	for (unsigned k = 0; k < FDB_EXPIRE_PER_CALL && f->lru_head != FDB_NONE; k++) {
		const struct dp_fdb_entry *e = &f->e[f->lru_head];
		if (!aged(f, e, now))
			return;
		uint32_t way = find(f, e->mac, e->vlan, fdb_hash(e->mac, e->vlan));
		delete_way(f, way);
		f->expired++;
	}
}

/* A free way in the emptier of the key's two buckets, or FDB_NONE. */
static uint32_t free_way(const struct dp_fdb *f, uint64_t h)
{
	uint32_t b[2], best = FDB_NONE, best_used = FDB_WAYS;
	buckets_of(f, h, b);
	for (unsigned k = 0; k < 2; k++) {
		uint32_t used = 0, empty = FDB_NONE;
		for (uint32_t w = 0; w < FDB_WAYS; w++) {
			if (f->tag[b[k] * FDB_WAYS + w])
				used++;
			else if (empty == FDB_NONE)
				empty = b[k] * FDB_WAYS + w;
		}
		if (empty != FDB_NONE && used < best_used) {
			best = empty;
			best_used = used;
		}
	}
	return best;
}

int fdb_learn(struct dp_fdb *f, const uint8_t *mac, uint16_t vlan, uint64_t now)
{
	expire(f, now);
	uint64_t h = fdb_hash(mac, vlan);
	uint32_t way = find(f, mac, vlan, h);
	if (way != FDB_NONE) {
		uint32_t i = f->idx[way];
		f->e[i].seen_ns = now;
		if (f->lru_tail != i) {
			lru_unlink(f, i);
			lru_append(f, i);
		}
		return 0;
	}
	way = f->free_head != FDB_NONE ? free_way(f, h) : FDB_NONE;
	if (way == FDB_NONE) {
		f->refused++;
		return -ENOSPC;
	}
	uint32_t i = f->free_head;
	struct dp_fdb_entry *e = &f->e[i];
	f->free_head = e->next;
	memcpy(e->mac, mac, 6);
	e->vlan = vlan;
	e->seen_ns = now;
	f->tag[way] = hash_tag(h);
	f->idx[way] = i;
	lru_append(f, i);
	f->n++;
	return 1;
}

bool fdb_known(struct dp_fdb *f, const uint8_t *mac, uint16_t vlan, uint64_t now)
{
	uint32_t way = find(f, mac, vlan, fdb_hash(mac, vlan));
	if (way == FDB_NONE)
		return false;
	if (!aged(f, &f->e[f->idx[way]], now))
		return true;
	delete_way(f, way);
	f->expired++;
	return false;
}
