/* The fast path's VM table: (MAC, VLAN) -> VM in a liburcu lock-free hash table (rculfhash) for
 * the classifier and the default path, and VM by slot for delivery and flooding. The control
 * thread links and unlinks single VMs: no table rebuild, no grace period on add or rebind; only a
 * removal waits one (the caller then frees the VM and may destroy its port).
 * The table has a fixed bucket count (max_vms rounded up to a power of two): at most one VM per
 * bucket on average, no resize thread. Readers are the uplink thread and the workers, registered
 * with liburcu's memb flavour (a read-side section costs two thread-local increments). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
/* ThreadSanitizer cannot see liburcu's ordering (membarrier, an uninstrumented library): tell it
 * that a VM's fields are published by its insertion, and that every read-side section happens
 * before the free that follows a grace period. */
static char tsan_grace;
#define TSAN_PUBLISH(p) __tsan_release((void *)(uintptr_t)(p))
#define TSAN_SUBSCRIBE(p) __tsan_acquire((void *)(uintptr_t)(p))
#define TSAN_READER_DONE() __tsan_release(&tsan_grace)
#define TSAN_GRACE_DONE() __tsan_acquire(&tsan_grace)
#else
#define TSAN_PUBLISH(p) ((void)(p))
#define TSAN_SUBSCRIBE(p) ((void)(p))
#define TSAN_READER_DONE() ((void)0)
#define TSAN_GRACE_DONE() ((void)0)
#endif

/* Whether this thread is a registered reader (liburcu keeps the same fact privately). */
static _Thread_local bool rcu_registered;

void dp_rcu_register(void)
{
	urcu_memb_register_thread();
	rcu_registered = true;
}

void dp_rcu_unregister(void)
{
	urcu_memb_unregister_thread();
	rcu_registered = false;
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

void dp_rcu_sync(void)
{
	urcu_memb_synchronize_rcu();
	TSAN_GRACE_DONE();
}

bool dp_rcu_enter(void)
{
	if (rcu_registered)
		return false;
	dp_rcu_register();
	return true;
}

void dp_rcu_exit(bool registered)
{
	if (registered)
		dp_rcu_unregister();
}

static inline unsigned long vm_hash(const uint8_t *mac, uint16_t vlan)
{
	/* two loads, combined in registers: copying 6 bytes into an 8-byte variable makes the
	 * compiler store 4 + 2 bytes and load 8, which stalls store forwarding (11 % of the
	 * classifier's time in a profile) */
	uint32_t lo;
	uint16_t hi;
	memcpy(&lo, mac, 4);
	memcpy(&hi, mac + 4, 2);
	uint64_t k = (uint64_t)lo | (uint64_t)hi << 32 | (uint64_t)vlan << 48;
	k ^= k >> 31;
	k *= 0x9e3779b97f4a7c15ull;
	return (unsigned long)(k ^ (k >> 29));
}

struct vm_key {
	const uint8_t *mac;
	uint16_t vlan;
};

/* The VM whose node this is. liburcu's caa_container_of casts through a plain char *, which
 * clang rejects with -Wcast-align (a dp_vm is 64-byte aligned) and -Wcast-qual (a const node);
 * the table holds only nodes embedded in a dp_vm, so the address has a dp_vm's alignment, and
 * the arithmetic on the integer says so without a cast that drops either. */
static inline struct dp_vm *vm_of(const struct cds_lfht_node *node)
{
	return (struct dp_vm *)((uintptr_t)node - offsetof(struct dp_vm, node));
}

static int vm_match(struct cds_lfht_node *node, const void *key)
{
	const struct dp_vm *vm = vm_of(node);
	const struct vm_key *k = key;
	TSAN_SUBSCRIBE(vm);
	return vm->vlan == k->vlan && memcmp(vm->mac, k->mac, 6) == 0;
}

struct dp_vm *vmtab_lookup(struct dvmq_dp *dp, const uint8_t *mac, uint16_t vlan)
{
	struct vm_key k = { mac, vlan };
	struct cds_lfht_iter it;
	cds_lfht_lookup(dp->vm_table, vm_hash(mac, vlan), vm_match, &k, &it);
	struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
	return n ? vm_of(n) : NULL;
}

int vmtab_init(struct dvmq_dp *dp)
{
	unsigned long buckets = 1;
	while (buckets < dp->cfg.max_vms)
		buckets *= 2;
	dp->vm_table = fault_hit(ENOMEM) ? NULL
					: cds_lfht_new_flavor(buckets, buckets, buckets, 0, &urcu_memb_flavor, NULL);
	return dp->vm_table ? 0 : -ENOMEM;
}

void vmtab_fini(struct dvmq_dp *dp)
{
	if (!dp->vm_table)
		return;
	/* no reader is left (the workers are joined, the uplink thread has stopped by contract):
	 * unlink what remains, let liburcu finish with it, free it, then the table */
	bool reg = dp_rcu_enter();
	dp_rcu_read_lock();
	for (uint32_t s = 0; s < dp->cfg.max_vms; s++) {
		struct dp_vm *vm = atomic_load_explicit(&dp->vm_slot[s], memory_order_relaxed);
		if (vm)
			cds_lfht_del(dp->vm_table, &vm->node);
	}
	dp_rcu_read_unlock();
	dp_rcu_sync();
	dp_rcu_exit(reg);
	for (uint32_t s = 0; s < dp->cfg.max_vms; s++) {
		free(atomic_load_explicit(&dp->vm_slot[s], memory_order_relaxed));
		atomic_store_explicit(&dp->vm_slot[s], NULL, memory_order_relaxed);
	}
	cds_lfht_destroy(dp->vm_table, NULL);
	dp->vm_table = NULL;
}

int vmtab_insert(struct dvmq_dp *dp, struct dp_vm *vm)
{
	TSAN_PUBLISH(vm);
	bool reg = dp_rcu_enter();
	dp_rcu_read_lock();
	struct vm_key k = { vm->mac, vm->vlan };
	struct cds_lfht_node *n = cds_lfht_add_unique(dp->vm_table, vm_hash(vm->mac, vm->vlan), vm_match, &k,
						      &vm->node);
	dp_rcu_read_unlock();
	dp_rcu_exit(reg);
	if (n != &vm->node)
		return -EEXIST;
	atomic_store_explicit(&dp->vm_slot[vm->id % dp->cfg.max_vms], vm, memory_order_release);
	return 0;
}

void vmtab_remove(struct dvmq_dp *dp, struct dp_vm *vm)
{
	/* out of its slot first (no more floods to it, its queued frames are gone), then out of the
	 * table: a frame addressed to it is delivered as unicast or is unknown, but never flooded
	 * back to it while it leaves (the reverse of insert, which links then fills the slot) */
	atomic_store_explicit(&dp->vm_slot[vm->id % dp->cfg.max_vms], NULL, memory_order_release);
	bool reg = dp_rcu_enter();
	dp_rcu_read_lock();
	cds_lfht_del(dp->vm_table, &vm->node);
	dp_rcu_read_unlock();
	dp_rcu_exit(reg);
}
