/* The data plane (DESIGN section 4): classifier, per-queue rings, pinned workers, handoffs.
 *
 * Threads: one uplink thread calls dvmq_dp_classify with bursts of frames (it plays the NIC's
 * MAC filter); one worker thread per processor serves the queues it owns; a control thread (the
 * caller of everything else) binds VMs to queues, moves queues and reads statistics.
 * Invariants (each backed by a test in tests/integ/):
 *  - a queue has exactly one owning worker at any instant; a move is a handoff (the old owner
 *    finishes its batch and releases, the new owner acquires and continues on the same ring),
 *    so a move neither drops nor reorders frames, even re-targeted before it completes;
 *  - a VM's frames are served by one worker at a time, in order, across rebinds to another
 *    queue too (dvmq_dp_vm_set_queue: the new queue waits until the old one has delivered what
 *    it held for the VM);
 *  - every frame given to classify ends in exactly one counter of dvmq_dp_counters;
 *  - a worker with nothing to do sleeps, and is woken at most once per classify call.
 *
 * Thread safety: dvmq_dp_classify from one thread at a time; every other function from any
 * thread (control calls serialise on an internal mutex). Errors: 0 or a negative errno.
 * Ownership: the data plane borrows VM ports; a port may be destroyed once dvmq_dp_vm_remove
 * returned (it waits for a grace period) or after dvmq_dp_destroy. */
#ifndef DVMQ_DP_H
#define DVMQ_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvmq/engine.h"
#include "dvmq/frame.h"
#include "dvmq/hist.h"
#include "dvmq/port.h"

#define DVMQ_DP_NO_VM UINT32_MAX
#define DVMQ_DP_MAX_WORKERS 256u
#define DVMQ_DP_MAX_DEPTH (1u << 20)
#define DVMQ_DP_MAX_VMS (1u << 20)
#define DVMQ_DP_MAX_FDB (1u << 24)

struct dvmq_dp_config {
	uint32_t n_workers;       /* 1..DVMQ_DP_MAX_WORKERS */
	const int *cpus;          /* n_workers CPU ids to pin to, or NULL for no pinning */
	uint32_t n_queues;        /* queue slots including the default queue 0 */
	uint32_t queue_depth;     /* frames per queue ring, 1..DVMQ_DP_MAX_DEPTH */
	uint32_t mtu;             /* largest L3 payload, e.g. 1500 or 9000 */
	/* Ring memory per queue: queue_depth frames of frame_bytes (0: the largest the MTU allows),
	 * and at least four of the largest, in 16-byte cells rounded up to a power of two. Frames
	 * larger than frame_bytes fill a queue by bytes before it holds queue_depth of them. */
	uint32_t frame_bytes;
	uint32_t max_vms;         /* VMs at once, 1..DVMQ_DP_MAX_VMS */
	uint32_t fdb_size;        /* learned MACs at most, 1..DVMQ_DP_MAX_FDB */
	uint64_t fdb_age_ns;      /* a learned MAC is forgotten after this long unseen */
	bool lossless;            /* a full ring makes classify wait instead of drop (replays) */
	/* The clock MAC aging reads, in ns (NULL: CLOCK_MONOTONIC). Called by the worker that owns
	 * the default queue, once per batch; tests set it to make aging independent of timing. */
	uint64_t (*clock_ns)(void *arg);
	void *clock_arg;
};

/* Frame fates counted by the data plane; every classified frame ends in exactly one of verdict,
 * overflow, vmq_delivered, default_unicast, flooded, filtered, vm_gone and in_flight. */
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
	uint64_t in_flight;                            /* still in rings */
	uint64_t rebinds;                              /* VMs seen on a new queue (each a handoff) */
	uint64_t learned, fdb_full;                    /* MAC learning events */
	uint64_t fdb_entries;                          /* learned MACs held now (aged ones deleted) */
	uint64_t fdb_probes_max;                       /* most table ways one learning lookup examined */
};

struct dvmq_dp_queue_stats {
	uint64_t enqueued, packets, bytes, busy_ns, dropped, backlog;
	uint64_t ring_bytes;     /* ring memory (dvmq_dp_config.frame_bytes) */
	uint32_t owner;          /* worker serving it now */
	uint32_t target;         /* worker it is moving to (== owner when settled) */
};

struct dvmq_dp_worker_stats {
	uint64_t busy_ns, packets, wakeups, sleeps;
	uint64_t wake_writes;    /* eventfd writes aimed at this worker, by any thread */
	bool asleep;             /* blocked (or about to block) on its eventfd, and not yet woken */
	uint64_t lat[DVMQ_HIST_BUCKETS]; /* latency histogram, buckets of dvmq/hist.h */
	uint32_t n_queues;
};

struct dvmq_dp;

/* Returns 0, -EINVAL (bad config), -ENOMEM, or the errno of a failed thread (EAGAIN) or eventfd
 * (EMFILE, ...) creation; on error nothing is left allocated or open. Workers start at once and
 * park until they own a queue. The default queue starts on worker 0. */
int dvmq_dp_create(const struct dvmq_dp_config *cfg, struct dvmq_dp **out);
/* Stops and joins the workers; frames still in rings are dropped. The uplink thread must have
 * stopped classifying. NULL: no-op. */
void dvmq_dp_destroy(struct dvmq_dp *dp);

/* Adds a VM port (unicast mac, vlan 0..4094) whose frames cost `cost_ns` of real work each
 * (checksum passes over the frame). It starts on the default queue. *vm_id names it until it is
 * removed; ids are not reused while frames could still carry them. Returns 0, -EINVAL, -EEXIST
 * (that MAC and VLAN is present), -ENOSPC (max_vms present), -ENOMEM. */
int dvmq_dp_vm_add(struct dvmq_dp *dp, const uint8_t mac[6], uint16_t vlan, double cost_ns,
		   struct dvmq_port *port, uint32_t *vm_id);
/* Removes a VM; frames that still wait for it are counted vm_gone (also when a new VM has taken
 * its slot). Returns after an RCU grace period: no worker holds the port any more. Not from a
 * port's callback (a worker's read-side section: it would wait for itself). Returns 0 or -ENOENT. */
int dvmq_dp_vm_remove(struct dvmq_dp *dp, uint32_t vm_id);
/* Binds the VM's (MAC, VLAN) to queue (0: the default queue); its next frames go there. The
 * rebind is a handoff: frames already in the old queue are delivered first, by one worker at a
 * time. Returns 0, -ENOENT, -EINVAL (no such queue). No grace period: returns at once. */
int dvmq_dp_vm_set_queue(struct dvmq_dp *dp, uint32_t vm_id, uint32_t queue);
/* Returns 0, -ENOENT, -EINVAL (negative or NaN). */
int dvmq_dp_vm_set_cost(struct dvmq_dp *dp, uint32_t vm_id, double cost_ns);

/* Requests that `worker` serve queue q; returns at once (the handoff completes within a batch
 * of the old owner; a request made before the previous one completed re-targets it). Returns 0
 * or -EINVAL. */
int dvmq_dp_move(struct dvmq_dp *dp, uint32_t q, uint32_t worker);

/* The uplink thread reads RCU-protected tables: it calls register once before its first
 * dvmq_dp_classify and unregister before it exits (liburcu's reader registration). */
void dvmq_dp_thread_register(void);
void dvmq_dp_thread_unregister(void);

/* Classifies n frames (any n) into their queues (uplink thread only, registered) and wakes each
 * sleeping worker that got frames, once. Returns frames accepted into a queue; the others are
 * counted by reason (verdict, overflow). Lossless: waits for room instead of dropping. */
unsigned dvmq_dp_classify(struct dvmq_dp *dp, const struct dvmq_pkt *pkts, unsigned n);

/* Waits until every ring is empty or timeout_ns passes. Returns 0 or -ETIMEDOUT. */
int dvmq_dp_drain(struct dvmq_dp *dp, uint64_t timeout_ns);

void dvmq_dp_counters(const struct dvmq_dp *dp, struct dvmq_dp_counters *out);
/* Returns 0 or -EINVAL (no such queue / worker). */
int dvmq_dp_queue_stats(const struct dvmq_dp *dp, uint32_t q, struct dvmq_dp_queue_stats *out);
int dvmq_dp_worker_stats(const struct dvmq_dp *dp, uint32_t w, struct dvmq_dp_worker_stats *out);
uint32_t dvmq_dp_n_workers(const struct dvmq_dp *dp);
/* Handoff latencies (move requested -> new owner serving) recorded so far, in ns; copies up to
 * max of them into out and returns how many were copied. */
size_t dvmq_dp_handoffs(const struct dvmq_dp *dp, uint64_t *out, size_t max);
/* The calibrated cost of the work loop, ns per byte. */
double dvmq_dp_work_ns_per_byte(const struct dvmq_dp *dp);

#endif
