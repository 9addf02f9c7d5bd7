/* Data-plane internals shared by dp.c (control API, classifier), worker.c (workers, handoff),
 * switch.c (default-queue path) and snap.c (the RCU-published switch tables).
 *
 * Lock order: dp->ctl_lock is the only lock; the fast path takes none.
 * Counters: each has one writer at a time (the uplink thread, or a queue's current owner, whose
 * ownership passes by release/acquire); readers load them relaxed and subtract snapshots. */
#ifndef DVMQ_DP_INTERNAL_H
#define DVMQ_DP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "dvmq/dp.h"
#include "ring.h"

#define DP_NO_OWNER UINT32_MAX
#define DP_HANDOFF_SAMPLES 65536u
#define DP_WORK_CLASSES 9u          /* frame size classes 64 B .. 16 KiB for the work loop */

/* Single-writer counter: a plain add, atomic only so that readers see whole values. */
static inline void ctr_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static inline uint64_t ctr_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* One (MAC, VLAN) of the classifier's table. */
struct snap_bind {
	uint8_t mac[6];
	uint16_t vlan;
	uint32_t queue;
	uint32_t vm;      /* VM slot */
	uint32_t used;
};

struct snap_vm {
	uint8_t mac[6];
	uint16_t vlan;
	bool present;
	double cost_ns;             /* per frame, done as switch_work on its bytes */
	struct dvmq_port *port;
};

/* What the fast path reads: replaced whole by the control thread, published with RCU. */
struct snap {
	uint32_t mask;              /* n_binds - 1 */
	struct snap_bind *binds;
	uint32_t n_vms;
	struct snap_vm *vms;
	const double *bytes_per_ns; /* the data plane's calibration */
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
	uint64_t seen_ns;     /* 0: free */
};

/* Learned MACs (default path only: used by whichever worker owns queue 0). */
struct dp_fdb {
	uint32_t mask;
	uint32_t n, max;
	uint64_t age_ns;
	struct dp_fdb_entry *e;
};

struct dp_worker {
	struct dvmq_dp *dp;
	pthread_t thread;
	bool started;
	uint32_t id;
	int cpu;
	int efd;
	_Alignas(64) _Atomic uint32_t sleeping;
	_Atomic uint64_t gen;                  /* bumped when a queue is handed to or asked of it */
	/* stats (this worker writes) */
	_Alignas(64) _Atomic uint64_t busy_ns, packets, wakeups, sleeps;
	_Atomic uint32_t n_owned_pub;
	_Atomic uint64_t lat[DVMQ_HIST_BUCKETS];
	/* private */
	uint64_t seen_gen;
	uint32_t n_owned;
	uint32_t *owned;
};

struct dvmq_dp {
	struct dvmq_dp_config cfg;
	uint32_t n_workers, n_queues;
	struct dp_queue *q;
	struct dp_worker *w;
	_Atomic bool stop;
	double bytes_per_ns[DP_WORK_CLASSES];
	struct snap *_Atomic snap;             /* RCU-protected */
	/* uplink thread's counters */
	_Alignas(64) _Atomic uint64_t rx, verdict[DVMQ_FRAME_VERDICT_COUNT], overflow;
	/* written by queue owners: several workers at once, so these are real atomic adds */
	_Alignas(64) _Atomic uint64_t vmq_delivered, vm_gone;
	/* default-path counters (owner of queue 0) */
	_Alignas(64) _Atomic uint64_t default_unicast, flooded, flood_copies, filtered, learned, fdb_full;
	struct dp_fdb fdb;
	/* handoff latencies, appended by the new owners */
	_Atomic uint64_t n_handoffs;
	_Atomic uint64_t *handoff_ns;
	/* control */
	pthread_mutex_t ctl_lock;
	struct snap_vm *vms;                   /* master copy of the VM table */
	uint32_t *vm_queue;                    /* queue per VM slot */
};

uint64_t dp_now_ns(void);
void dp_wake(struct dp_worker *w);

/* worker.c */
int dp_workers_start(struct dvmq_dp *dp);
void dp_workers_stop(struct dvmq_dp *dp);

/* snap.c: rebuild and publish the fast-path tables from the master copy (ctl_lock held). */
int snap_publish(struct dvmq_dp *dp);
void snap_free_all(struct dvmq_dp *dp);
const struct snap_bind *snap_lookup(const struct snap *s, const uint8_t *mac, uint16_t vlan);
void dp_rcu_register(void);
void dp_rcu_unregister(void);
void dp_rcu_read_lock(void);
void dp_rcu_read_unlock(void);
struct snap *dp_rcu_snap(struct dvmq_dp *dp);

/* switch.c: serve a batch of one queue's records (owner only); returns the ns of work done. */
double switch_deliver(struct dvmq_dp *dp, struct dp_queue *q, uint32_t qid, struct ring_rec **recs,
		    unsigned n, uint64_t now);
uint32_t switch_work(const uint8_t *data, uint32_t len, uint32_t work_bytes);
void switch_calibrate(double bytes_per_ns[DP_WORK_CLASSES]);
/* Work bytes that take cost_ns on a frame of len bytes. */
uint32_t switch_work_bytes(const double bytes_per_ns[DP_WORK_CLASSES], double cost_ns, uint32_t len);

/* fdb.c */
int fdb_init(struct dp_fdb *f, uint32_t size, uint64_t age_ns);
void fdb_fini(struct dp_fdb *f);
/* Returns 1 learned anew, 0 refreshed, -ENOSPC table full. */
int fdb_learn(struct dp_fdb *f, const uint8_t *mac, uint16_t vlan, uint64_t now);
bool fdb_known(const struct dp_fdb *f, const uint8_t *mac, uint16_t vlan, uint64_t now);

#endif
