/* The fast path's switch tables: (MAC, VLAN) -> (queue, VM) for the classifier and the VM port
 * table for delivery and flooding. The control thread never edits a published table: it builds
 * a new one from its master copy, publishes it with a release store, waits for an RCU grace
 * period (liburcu, memb flavour: readers pay two thread-local increments, no atomics, no
 * fences) and frees the old one. Readers are the uplink thread and the workers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "dp_internal.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
/* ThreadSanitizer cannot see liburcu's grace periods (membarrier, uninstrumented library):
 * tell it that every read-side section happens before the free that follows a grace period. */
static char tsan_grace;
#define TSAN_READER_DONE() __tsan_release(&tsan_grace)
#define TSAN_GRACE_DONE() __tsan_acquire(&tsan_grace)
#else
#define TSAN_READER_DONE() ((void)0)
#define TSAN_GRACE_DONE() ((void)0)
#endif

void dp_rcu_register(void)
{
	urcu_memb_register_thread();
}

void dp_rcu_unregister(void)
{
	urcu_memb_unregister_thread();
}

void dp_rcu_read_lock(void)
{
	urcu_memb_read_lock();
}

void dp_rcu_read_unlock(void)
{
	TSAN_READER_DONE();
	urcu_memb_read_unlock();
}

struct snap *dp_rcu_snap(struct dvmq_dp *dp)
{
	return atomic_load_explicit(&dp->snap, memory_order_acquire);
}

static inline uint32_t bind_hash(const uint8_t *mac, uint16_t vlan)
{
	uint32_t a, b;
	memcpy(&a, mac, 4);
	b = (uint32_t)mac[4] | (uint32_t)mac[5] << 8 | (uint32_t)vlan << 16;
	uint64_t h = ((uint64_t)a << 32 | b) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32);
}

const struct snap_bind *snap_lookup(const struct snap *s, const uint8_t *mac, uint16_t vlan)
{
	for (uint32_t i = bind_hash(mac, vlan);; i++) {
		const struct snap_bind *b = &s->binds[i & s->mask];
		if (!b->used)
			return NULL;
		if (b->vlan == vlan && memcmp(b->mac, mac, 6) == 0)
			return b;
	}
}

static void snap_free(struct snap *s)
{
	if (!s)
		return;
	free(s->binds);
	free(s->vms);
	free(s);
}

int snap_publish(struct dvmq_dp *dp)
{
	uint32_t n = dp->cfg.max_vms, size = 16;
	while (size < 2 * n)
		size *= 2;
	struct snap *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->binds = calloc(size, sizeof(*s->binds));
	s->vms = malloc(n * sizeof(*s->vms));
	if (!s->binds || !s->vms) {
		snap_free(s);
		return -ENOMEM;
	}
	s->mask = size - 1;
	s->bytes_per_ns = dp->bytes_per_ns;
	s->n_vms = n;
	memcpy(s->vms, dp->vms, n * sizeof(*s->vms));
	for (uint32_t v = 0; v < n; v++) {
		if (!dp->vms[v].present)
			continue;
		/* load factor <= 1/2: the probe ends */
		uint32_t i = bind_hash(dp->vms[v].mac, dp->vms[v].vlan);
		while (s->binds[i & s->mask].used)
			i++;
		struct snap_bind *b = &s->binds[i & s->mask];
		memcpy(b->mac, dp->vms[v].mac, 6);
		b->vlan = dp->vms[v].vlan;
		b->queue = dp->vm_queue[v];
		b->vm = v;
		b->used = 1;
	}
	struct snap *old = atomic_exchange_explicit(&dp->snap, s, memory_order_acq_rel);
	if (old) {
		urcu_memb_synchronize_rcu();
		TSAN_GRACE_DONE();
		snap_free(old);
	}
	return 0;
}

void snap_free_all(struct dvmq_dp *dp)
{
	snap_free(atomic_exchange_explicit(&dp->snap, NULL, memory_order_acq_rel));
}
