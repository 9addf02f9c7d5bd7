/* MAC learning table of the default path: (MAC, VLAN) seen as a source on the uplink, with the
 * time it was last seen. An entry unseen for age_ns is gone: lookups ignore it and learning
 * reuses its slot. Open addressing with linear probing; entries are never deleted, only aged,
 * so probe chains stay intact. Only the owner of the default queue touches it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"

static uint32_t fdb_hash(const uint8_t *mac, uint16_t vlan)
{
	uint64_t k = 0;
	memcpy(&k, mac, 6);
	k ^= (uint64_t)vlan << 48;
	return (uint32_t)((k * 0x9e3779b97f4a7c15ull) >> 32);
}

int fdb_init(struct dp_fdb *f, uint32_t size, uint64_t age_ns)
{
	uint32_t cap = 16;
	while (cap < 2 * size)
		cap *= 2;
	f->e = calloc(cap, sizeof(*f->e));
	if (!f->e)
		return -ENOMEM;
	f->mask = cap - 1;
	f->max = size;
	f->n = 0;
	f->age_ns = age_ns;
	return 0;
}

void fdb_fini(struct dp_fdb *f)
{
	free(f->e);
	f->e = NULL;
}

static bool alive(const struct dp_fdb *f, const struct dp_fdb_entry *e, uint64_t now)
{
	return e->seen_ns != 0 && now - e->seen_ns < f->age_ns;
}

bool fdb_known(const struct dp_fdb *f, const uint8_t *mac, uint16_t vlan, uint64_t now)
{
	for (uint32_t i = fdb_hash(mac, vlan), n = 0; n <= f->mask; i++, n++) {
		const struct dp_fdb_entry *e = &f->e[i & f->mask];
		if (e->seen_ns == 0)
			return false;
		if (e->vlan == vlan && memcmp(e->mac, mac, 6) == 0)
			return alive(f, e, now);
	}
	return false;
}

/* Whether one more live entry fits (used counts occupied slots, aged ones included). */
static bool has_room(const struct dp_fdb *f, uint64_t now)
{
	if (f->n < f->max)
		return true;
	uint32_t live = 0;
	for (uint32_t k = 0; k <= f->mask; k++)
		live += alive(f, &f->e[k], now);
	return live < f->max;
}

int fdb_learn(struct dp_fdb *f, const uint8_t *mac, uint16_t vlan, uint64_t now)
{
	struct dp_fdb_entry *slot = NULL;
	uint32_t i = fdb_hash(mac, vlan);
	if (now == 0)
		now = 1; /* 0 marks a free slot */
	for (uint32_t n = 0; n <= f->mask; i++, n++) {
		struct dp_fdb_entry *e = &f->e[i & f->mask];
		if (e->seen_ns == 0) {
			if (!slot)
				slot = e;
			break;
		}
		if (e->vlan == vlan && memcmp(e->mac, mac, 6) == 0) {
			if (alive(f, e, now)) {
				e->seen_ns = now;
				return 0;
			}
			slot = e;
			break;
		}
		if (!slot && !alive(f, e, now))
			slot = e;
	}
	if (!slot || !has_room(f, now))
		return -ENOSPC;
	if (slot->seen_ns == 0)
		f->n++;
	memcpy(slot->mac, mac, 6);
	slot->vlan = vlan;
	slot->seen_ns = now;
	return 1;
}
