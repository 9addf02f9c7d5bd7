/* Data-plane internals shared by dp.c (create, destroy, drain), ctl.c (VMs and moves), classify.c
 * (the classifier), worker.c (workers, handoff, wake-ups), switch.c (delivery, default path),
 * send.c (frames from VMs, the uplink port), txpath.c (sending to a port, offloads resolved in
 * software), vmtab.c (the RCU VM table), fdb.c (MAC learning) and stats.c (readers); the switch
 * decision itself is decide.h.
 *
 * Lock order: dp->ctl_lock is the only lock; the fast path takes none.
 * Counters: each has one writer at a time (the uplink thread, or a queue's current owner, whose
 * ownership passes by release/acquire); readers load them relaxed and subtract snapshots.
 * Rebinding a VM to another queue is a handoff too: the classifier, the only producer, puts a
 * barrier record before the VM's first frame in the new queue; that queue's consumer passes it
 * only once the old queue's consumer has released every packet enqueued before it, so the VM's
 * frames are delivered in order and by one worker at a time. */
#ifndef DVMQ_DP_INTERNAL_H
#define DVMQ_DP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

#include "dvmq/dp.h"
#include "dvmq/toeplitz.h"
#include "../fault/fault.h"
#include "ring.h"

#define DP_NO_OWNER UINT32_MAX
#define DP_HANDOFF_SAMPLES 65536u
#define DP_WORK_CLASSES 9u          /* frame size classes 64 B .. 16 KiB for the work loop */
#define DP_SEND_WORDS (sizeof(struct dvmq_dp_send_counters) / sizeof(uint64_t))
_Static_assert(sizeof(struct dvmq_dp_send_counters) % sizeof(uint64_t) == 0, "send counters are words");

/* Single-writer counter: a plain add, atomic only so that readers see whole values. */
static inline void ctr_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static inline uint64_t ctr_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* A VM port as the fast path sees it: in the VM table under (mac, vlan) and in its slot
 * (id % max_vms). RCU-protected: unlinked by the control thread, freed after a grace period. */
struct dp_vm {
	struct cds_lfht_node node;
	uint8_t mac[6];
	uint16_t vlan;
	uint32_t id;                 /* slot + k * max_vms: unique while frames may carry it */
	uint32_t slot;               /* id % max_vms, kept: the classifier's per-frame index */
	_Atomic uint32_t queue;      /* the queue the classifier feeds (control writes) */
	_Atomic uint64_t cost_bits;  /* double: ns of work per frame (control writes) */
	struct dvmq_port *port;
	/* VMMQ (control writes): with `hashed`, each frame's RSS hash picks its bucket, counted in
	 * bucket_pkts/bytes, and table[bucket] its queue; `queue` is table[0] then. group: the
	 * group's queues in order (a frame of group[i] leaves through the port's tx queue i). */
	_Atomic uint8_t hashed;
	_Atomic uint8_t n_group;
	_Atomic uint32_t group[DVMQ_MAX_GROUP_QUEUES];
	_Atomic uint32_t table[DVMQ_INDIRECTION_ENTRIES];
	/* the classifier's own (uplink thread only): the queue each bucket was fed last, while
	 * `split` (it then stands for the VM's cls_vm.queue), and the per-bucket arrivals */
	_Alignas(64) bool split;
	uint32_t fed[DVMQ_INDIRECTION_ENTRIES];
	_Atomic uint64_t bucket_pkts[DVMQ_INDIRECTION_ENTRIES], bucket_bytes[DVMQ_INDIRECTION_ENTRIES];
	/* what it sent (struct dvmq_dp_send_counters as words): one writer, its vm_send thread */
	_Alignas(64) _Atomic uint64_t sent[DP_SEND_WORDS];
	/* frames to it that its port did not take: any delivering thread (atomic adds, rare) */
	_Atomic uint64_t refused;
};

/* Scratch of one thread that sends to ports (a worker, or a thread registered for vm_send):
 * frames re-tagged for their destination (the arena), frames resolved into segments for a port
 * without offloads, and the batches being built. Private to its thread. */
#define DP_ARENA_BYTES (256u * 1024u)    /* > 2 rewritten super-frames */
#define DP_RESOLVE_BYTES (128u * 1024u)  /* > the segments of one super-frame, headers and all */
struct dp_batch {
	struct dvmq_pkt pkts[DVMQ_BURST];
	struct dvmq_offload off[DVMQ_BURST];
	unsigned n;
	bool any_off;   /* some off[] pending: send with offloads */
};
struct dp_txctx {
	uint8_t *arena;
	uint32_t arena_used;
	uint8_t *res;
	struct dvmq_pkt seg[DVMQ_BURST];
	struct dp_batch up, vm;         /* vm_send: to the uplink, to one VM (vm_dst) */
	struct dp_vm *vm_dst;
};

/* The classifier's memory of a VM: which queue it fed last (rebinds), for which VM id. */
struct cls_vm {
	uint32_t id, queue;
};

/* The classifier's lookups of one call: bursts hold few destinations, so most frames find their
 * VM here, not in the hash table. Valid within one read-side section (one call) only. */
#define CLS_CACHE 16u  /* a power of two: classify.c takes the top 4 bits of a hash */
struct cls_cache {
	uint64_t call;               /* the call that filled it; another call: empty */
	uint64_t key;                /* MAC and VLAN */
	const struct dp_vm *vm;      /* NULL: no VM has that MAC and VLAN */
};

struct dp_queue {
	struct ring ring;
	_Alignas(64) _Atomic uint32_t owner;   /* the worker serving it; written by the owner only */
	_Atomic uint32_t next;                 /* the worker it should move to (control) */
	_Atomic uint64_t move_req_ns;          /* when the pending move was requested */
	_Atomic uint64_t dropped;              /* uplink thread: ring full */
	/* owner's counters */
	_Alignas(64) _Atomic uint64_t busy_ns, packets, bytes;
	uint32_t work_sum;                     /* result of the switch work, kept so it is not elided */
	double overhead_ns;                    /* owner: smoothed cost per frame besides the work */
};

struct dp_fdb_entry {
	uint8_t mac[6];
	uint16_t vlan;
	uint32_t prev, next;   /* LRU list by last seen (in use) or free list (next only) */
	uint64_t seen_ns;
};

/* Learned MACs (default path only: used by whichever worker owns queue 0, fdb.c). */
struct dp_fdb {
	struct dp_fdb_entry *e;        /* max entries */
	uint16_t *tag;                 /* n_buckets x FDB_WAYS: hash tags, 0 = empty way */
	uint32_t *idx;                 /* n_buckets x FDB_WAYS: entry index */
	uint32_t n_buckets, max, n;
	uint32_t lru_head, lru_tail, free_head;
	uint64_t age_ns;
	uint64_t ops, probes, probes_max, expired, refused;
};

struct dp_worker {
	struct dvmq_dp *dp;
	pthread_t thread;
	bool started;
	uint32_t id;
	int cpu;
	int efd;
	_Alignas(64) _Atomic uint32_t sleeping; /* blocked or about to block, and not yet woken */
	_Atomic uint64_t gen;                  /* bumped when a queue is handed to or asked of it */
	_Atomic uint64_t wake_writes;          /* eventfd writes aimed at it (any thread) */
	/* stats (this worker writes) */
	_Alignas(64) _Atomic uint64_t busy_ns, packets, wakeups, sleeps;
	_Atomic uint32_t n_owned_pub;
	_Atomic uint64_t lat[DVMQ_HIST_BUCKETS];
	/* private */
	uint64_t seen_gen;
	uint32_t n_owned;
	uint32_t *owned;
	struct dp_txctx *cx;
};

struct dvmq_dp {
	struct dvmq_dp_config cfg;
	uint32_t n_workers, n_queues;
	struct dp_queue *q;
	struct dp_worker *w;
	_Atomic bool stop;
	double bytes_per_ns[DP_WORK_CLASSES];
	uint64_t ring_bytes;
	/* the VM table (vmtab.c): readers are the uplink thread and the workers */
	struct cds_lfht *vm_table;
	struct dp_vm *_Atomic *vm_slot;        /* max_vms; NULL when free */
	_Atomic uint32_t slot_hw;              /* slots ever used: floods scan [0, slot_hw) */
	struct dvmq_port *_Atomic uplink;      /* where VMs' frames leave (RCU: set_uplink) */
	/* uplink thread (classifier) private state */
	struct dvmq_toeplitz *rss;             /* the RSS hash's tables (read-only after create) */
	struct cls_vm *cls_vm;                 /* max_vms */
	uint32_t *cls_touched;                 /* queues that got frames this call */
	uint64_t *cls_qmark, *cls_wmark;       /* per queue / worker: call that touched it last */
	uint64_t cls_call;
	struct cls_cache cls_cache[CLS_CACHE];
	/* uplink thread's counters */
	_Alignas(64) _Atomic uint64_t rx, verdict[DVMQ_FRAME_VERDICT_COUNT], drop[DVMQ_DP_DROP_COUNT], overflow,
		rebinds;
	/* written by queue owners: several workers at once, so these are real atomic adds */
	_Alignas(64) _Atomic uint64_t vmq_delivered, vm_gone, refused;
	/* default-path counters (owner of queue 0) */
	_Alignas(64) _Atomic uint64_t default_unicast, flooded, flood_copies, flood_refused, filtered, learned,
		fdb_full, unknown_unicast;
	_Atomic uint64_t fdb_entries, fdb_probes_max;
	struct dp_fdb fdb;
	/* what VMs sent, all of them (vm_send threads: atomic adds, one per counter per call) */
	_Alignas(64) _Atomic uint64_t sent[DP_SEND_WORDS];
	/* handoff latencies, appended by the new owners */
	_Atomic uint64_t n_handoffs;
	_Atomic uint64_t *handoff_ns;
	/* control (ctl_lock) */
	pthread_mutex_t ctl_lock;
	uint32_t *slot_reuse;                  /* per slot: VMs it held before (ids) */
	uint32_t *free_slots, n_free;          /* a stack of free slots */
};

uint64_t dp_now_ns(void);

static inline void dp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}
/* The clock for MAC aging: the config's hook, else CLOCK_MONOTONIC. */
uint64_t dp_age_clock(const struct dvmq_dp *dp);
/* Writes w's eventfd (handoffs, drain, stop: whether it sleeps or not). */
void dp_wake(struct dp_worker *w);
/* Wakes w if it sleeps and nobody has woken it yet (the classifier's half of the pairing). */
void dp_wake_sleeper(struct dp_worker *w);

/* classify.c: the classifier's VM lookup through its per-call cache (dp->cls_cache, valid while
 * dp->cls_call stays the same; the caller bumps it per burst). Uplink thread only; exported for
 * the benchmark's limit loop, which must pay what the classifier pays. */
const void *dp_cls_lookup(void *ctx, const uint8_t *mac, uint16_t vlan);

/* worker.c */
int dp_workers_start(struct dvmq_dp *dp);
void dp_workers_stop(struct dvmq_dp *dp);
/* One pass of w's loop: handoffs picked up, one batch of each owned queue served, the queues
 * asked of it released. Returns frames served. w's thread (or the inline worker's caller). */
unsigned dp_worker_pass(struct dp_worker *w);
/* Whether any of w's queues holds a frame or a barrier still to pass. */
bool dp_worker_pending(struct dp_worker *w);
/* The last worker when it is served inline (cfg.inline_last), else NULL. */
static inline struct dp_worker *dp_inline_worker(struct dvmq_dp *dp)
{
	return dp->cfg.inline_last ? &dp->w[dp->n_workers - 1] : NULL;
}

/* vmtab.c: the RCU-protected VM table and RCU reader registration. */
int vmtab_init(struct dvmq_dp *dp);
void vmtab_fini(struct dvmq_dp *dp);
/* A VM by (mac, vlan), or NULL (RCU read-side). */
struct dp_vm *vmtab_lookup(struct dvmq_dp *dp, const uint8_t *mac, uint16_t vlan);
/* A VM by slot (RCU read-side). */
static inline struct dp_vm *vmtab_slot(struct dvmq_dp *dp, uint32_t slot)
{
	return atomic_load_explicit(&dp->vm_slot[slot], memory_order_acquire);
}
/* Control (ctl_lock held): link a new VM / unlink one (the caller frees it after dp_rcu_sync). */
int vmtab_insert(struct dvmq_dp *dp, struct dp_vm *vm);
void vmtab_remove(struct dvmq_dp *dp, struct dp_vm *vm);
void dp_rcu_register(void);
void dp_rcu_unregister(void);
void dp_rcu_read_lock(void);
void dp_rcu_read_unlock(void);
/* Control: waits until every reader that might hold an unlinked VM has moved on. */
void dp_rcu_sync(void);
/* Control calls may come from threads that are not RCU readers: these register them meanwhile. */
bool dp_rcu_enter(void);
void dp_rcu_exit(bool registered);

static inline double vm_cost(const struct dp_vm *vm)
{
	uint64_t b = atomic_load_explicit(&vm->cost_bits, memory_order_relaxed);
	double d;
	memcpy(&d, &b, sizeof(d));
	return d;
}

/* switch.c: serve a batch of one queue's records (owner only, with its scratch); returns the ns
 * of work done. */
double switch_deliver(struct dvmq_dp *dp, struct dp_txctx *cx, struct dp_queue *q, uint32_t qid,
		      struct ring_rec **recs, unsigned n);
uint32_t switch_work(const uint8_t *data, uint32_t len, uint32_t work_bytes);
int switch_calibrate(double bytes_per_ns[DP_WORK_CLASSES]);
/* Work bytes that take cost_ns on a frame of len bytes. */
uint32_t switch_work_bytes(const double bytes_per_ns[DP_WORK_CLASSES], double cost_ns, uint32_t len);

/* txpath.c */
/* Returns a thread's scratch, or NULL (no memory); free(NULL-safe) with dp_txctx_free. */
struct dp_txctx *dp_txctx_new(void);
void dp_txctx_free(struct dp_txctx *cx);
/* Sends n frames to port with their offloads (off NULL: none): tx_burst_off where the port has
 * it, else resolved in software through cx. Returns how many of the n frames the port took
 * (a resolved frame counts when all its segments were taken). */
unsigned dp_port_tx(struct dp_txctx *cx, struct dvmq_port *port, const struct dvmq_pkt *pkts,
		    const struct dvmq_offload *off, unsigned n, int flooded);
/* The same into tx queue txq of a port of several queues (tx_burst_q); dp_port_tx otherwise. */
unsigned dp_port_tx_q(struct dp_txctx *cx, struct dvmq_port *port, uint32_t txq, const struct dvmq_pkt *pkts,
		      const struct dvmq_offload *off, unsigned n);

/* fdb.c: bounded work per call (two buckets of FDB_WAYS, at most two expiries). */
#define FDB_WAYS 8u
int fdb_init(struct dp_fdb *f, uint32_t size, uint64_t age_ns);
void fdb_fini(struct dp_fdb *f);
/* Returns 1 learned anew, 0 refreshed, -ENOSPC no room (table or both buckets full of live MACs). */
int fdb_learn(struct dp_fdb *f, const uint8_t *mac, uint16_t vlan, uint64_t now);
bool fdb_known(struct dp_fdb *f, const uint8_t *mac, uint16_t vlan, uint64_t now);

#endif
