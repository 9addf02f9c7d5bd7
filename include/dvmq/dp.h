/* The data plane (DESIGN section 4): classifier, per-queue rings, pinned workers, handoffs.
 *
 * Threads: one uplink thread calls dvmq_dp_classify with bursts of frames (it plays the NIC's
 * MAC filter); one worker thread per processor serves the queues it owns; a control thread (the
 * caller of everything else) binds VMs to queues, moves queues and reads statistics.
 * Invariant: a queue has exactly one owning worker at any instant; a move is a handoff (the old
 * owner finishes its batch and releases, the new owner acquires and continues on the same ring),
 * so a move neither drops nor reorders frames.
 *
 * Thread safety: dvmq_dp_classify from one thread at a time; every other function from any
 * thread (control calls serialise on an internal mutex). Errors: 0 or a negative errno.
 * Ownership: the data plane borrows VM ports; a port may be destroyed once dvmq_dp_vm_remove
 * returned (a grace period has passed) or after dvmq_dp_destroy. */
#ifndef DVMQ_DP_H
#define DVMQ_DP_H

#include <stdbool.h>
#include <stdint.h>

#include "dvmq/engine.h"
#include "dvmq/frame.h"
#include "dvmq/hist.h"
#include "dvmq/port.h"

#define DVMQ_DP_NO_VM UINT32_MAX
#define DVMQ_DP_MAX_WORKERS 256u

struct dvmq_dp_config {
	uint32_t n_workers;       /* 1..DVMQ_DP_MAX_WORKERS */
	const int *cpus;          /* n_workers CPU ids to pin to, or NULL for no pinning */
	uint32_t n_queues;        /* queue slots including the default queue 0 */
	uint32_t queue_depth;     /* packets per queue ring */
	uint32_t mtu;             /* largest L3 payload, e.g. 1500 or 9000 */
	uint32_t max_vms;         /* VM port table size */
	uint32_t fdb_size;        /* learned MACs at most */
	uint64_t fdb_age_ns;      /* a learned MAC is forgotten after this long unseen */
	bool lossless;            /* a full ring makes classify wait instead of drop (replays) */
};

/* Frame fates counted by the data plane; every classified frame ends in exactly one. */
struct dvmq_dp_counters {
	uint64_t rx;                                   /* frames given to classify */
	uint64_t verdict[DVMQ_FRAME_VERDICT_COUNT];    /* [0] unused; malformed and unsupported */
	uint64_t overflow;                             /* dropped: queue ring full */
	uint64_t vmq_delivered;                        /* served from a VMQ to its VM */
	uint64_t default_unicast;                      /* default path: known VM, delivered */
	uint64_t flooded;                              /* default path: flooded (frames, not copies) */
	uint64_t flood_copies;
	uint64_t filtered;                             /* default path: destination learned on the uplink */
	uint64_t vm_gone;                              /* its VM was removed while it waited */
	uint64_t learned, fdb_full;                    /* MAC learning events */
	uint64_t in_flight;                            /* still in rings */
};

struct dvmq_dp_queue_stats {
	uint64_t enqueued, packets, bytes, busy_ns, dropped, backlog;
	uint32_t owner;          /* worker serving it now */
	uint32_t target;         /* worker it is moving to (== owner when settled) */
};

struct dvmq_dp_worker_stats {
	uint64_t busy_ns, packets, wakeups, sleeps;
	uint64_t lat[DVMQ_HIST_BUCKETS]; /* latency histogram, buckets of dvmq/hist.h */
	uint32_t n_queues;
};

struct dvmq_dp;

/* Returns 0, -EINVAL (bad config), -ENOMEM, or the errno of a failed thread/eventfd creation.
 * Workers start at once and park until they own a queue. The default queue starts on worker 0. */
int dvmq_dp_create(const struct dvmq_dp_config *cfg, struct dvmq_dp **out);
/* Stops and joins the workers; frames still in rings are counted as in flight. NULL: no-op. */
void dvmq_dp_destroy(struct dvmq_dp *dp);

/* Adds a VM port (mac, vlan 0..4094) whose frames cost `cost_ns` of real work each (checksum
 * passes over the frame). Starts on the default queue. Returns 0, -EINVAL, -EEXIST, -ENOSPC. */
int dvmq_dp_vm_add(struct dvmq_dp *dp, const uint8_t mac[6], uint16_t vlan, double cost_ns,
		   struct dvmq_port *port, uint32_t *vm_id);
/* Frames that still wait for it are counted vm_gone. Returns 0 or -ENOENT. */
int dvmq_dp_vm_remove(struct dvmq_dp *dp, uint32_t vm_id);
/* Binds the VM's (MAC, VLAN) to queue (0: the default queue). Returns 0, -ENOENT, -EINVAL. */
int dvmq_dp_vm_set_queue(struct dvmq_dp *dp, uint32_t vm_id, uint32_t queue);
int dvmq_dp_vm_set_cost(struct dvmq_dp *dp, uint32_t vm_id, double cost_ns);

/* Requests that `worker` serve queue q; returns at once (the handoff completes within a batch
 * of the old owner). Returns 0 or -EINVAL. */
int dvmq_dp_move(struct dvmq_dp *dp, uint32_t q, uint32_t worker);

/* The uplink thread reads RCU-protected tables: it calls register once before its first
 * dvmq_dp_classify and unregister before it exits (liburcu's reader registration). */
void dvmq_dp_thread_register(void);
void dvmq_dp_thread_unregister(void);

/* Classifies n frames into their queues (uplink thread only, registered). Returns frames
 * accepted into a queue; the others are counted by reason. */
unsigned dvmq_dp_classify(struct dvmq_dp *dp, const struct dvmq_pkt *pkts, unsigned n);

/* Waits until every ring is empty or timeout_ns passes. Returns 0 or -ETIMEDOUT. */
int dvmq_dp_drain(struct dvmq_dp *dp, uint64_t timeout_ns);

void dvmq_dp_counters(const struct dvmq_dp *dp, struct dvmq_dp_counters *out);
int dvmq_dp_queue_stats(const struct dvmq_dp *dp, uint32_t q, struct dvmq_dp_queue_stats *out);
int dvmq_dp_worker_stats(const struct dvmq_dp *dp, uint32_t w, struct dvmq_dp_worker_stats *out);
uint32_t dvmq_dp_n_workers(const struct dvmq_dp *dp);
/* Handoff latencies (move requested -> new owner serving) recorded so far, in ns; copies up to
 * max of them into out and returns how many were copied. */
size_t dvmq_dp_handoffs(const struct dvmq_dp *dp, uint64_t *out, size_t max);
/* The calibrated cost of the work loop, ns per byte. */
double dvmq_dp_work_ns_per_byte(const struct dvmq_dp *dp);

#endif

/* Benchmark of the data plane with 64-byte frames (dvmq bench dataplane). The limit loop is the
 * bare parse-lookup-enqueue-dequeue loop on one thread; the full path is the uplink thread
 * (generator + classifier) feeding one pinned worker (switch work, delivery into sink ports);
 * handoffs are timed from the move request to the new owner serving, under traffic. */
struct dvmq_dp_bench_result {
	double limit_mpps, dataplane_mpps_per_worker, ratio;
	double handoff_us_p50, handoff_us_p99;
	uint64_t handoffs;
};
/* Runs about 3 * seconds. Returns 0 or -errno. */
int dvmq_dp_bench(double seconds, struct dvmq_dp_bench_result *out);
