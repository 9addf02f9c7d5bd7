/* The data plane (DESIGN section 4): classifier, per-queue rings, pinned workers, handoffs, and
 * the switch for frames VMs send.
 *
 * Threads: one uplink thread calls dvmq_dp_classify with bursts of frames (it plays the NIC's
 * MAC filter); one worker thread per processor serves the queues it owns; VM rx threads (one per
 * VM port, or one epoll thread for many) hand what each VM sent to dvmq_dp_vm_send, which
 * switches it on the calling thread: into another VM's port, or out of the uplink port
 * (dvmq_dp_set_uplink); a control thread (the caller of everything else) binds VMs to queues,
 * moves queues and reads statistics.
 * Invariants (each backed by a test in tests/integ/):
 *  - a queue has exactly one owning worker at any instant; a move is a handoff (the old owner
 *    finishes its batch and releases, the new owner acquires and continues on the same ring),
 *    so a move neither drops nor reorders frames, even re-targeted before it completes;
 *  - a VM's frames are served by one worker at a time, in order, across rebinds to another
 *    queue too (dvmq_dp_vm_set_queue: the new queue waits until the old one has delivered what
 *    it held for the VM);
 *  - every frame given to classify ends in exactly one counter of dvmq_dp_counters, and every
 *    frame given to vm_send in exactly one of dvmq_dp_send_counters;
 *  - a worker with nothing to do sleeps, and is woken at most once per classify call;
 *  - a destination port that does not take a frame (link down, device gone, queue full) costs
 *    a counter, never a retry, a wait or an error return: the others keep going.
 *
 * Offloads (docs/ports.md): frames may carry struct dvmq_offload (GSO super-frames of up to
 * 64 KiB, partial checksums), given by the _off variants. They travel with the frame through
 * the rings and leave through tx_burst_off where the destination port has it; where it does
 * not, the data plane resolves them in software (segments, checksums) first. A super-frame is
 * over-mtu when its segments would be, not by its own length.
 *
 * Thread safety: dvmq_dp_classify from one thread at a time; dvmq_dp_vm_send from any number of
 * threads at once, but for one VM from one thread at a time (its counters have one writer);
 * every other function from any thread (control calls serialise on an internal mutex).
 * Threads that call classify or vm_send register first (dvmq_dp_thread_register).
 * Errors: 0 or a negative errno. The fast path returns counts, never per-frame errors.
 * Ownership: the data plane borrows VM ports and the uplink port; a VM port may be destroyed
 * once dvmq_dp_vm_remove returned (it waits for a grace period), the uplink port once
 * dvmq_dp_set_uplink replaced it (likewise), any of them after dvmq_dp_destroy. */
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
/* The longest frame the data plane takes: a 64 KiB super-frame with two tags and slack; longer
 * frames are over-mtu whatever their offloads say. */
#define DVMQ_DP_FRAME_MAX 65600u

/* Why the switch drops a frame, besides the parser's verdicts (dvmq/frame.h: malformed,
 * over-mtu, unsupported). Names (dvmq_dp_drop_name) are the counters' names in stats. */
enum dvmq_dp_drop {
	DVMQ_DP_DROP_NONE,
	DVMQ_DP_DROP_SPOOFED_MAC,      /* "spoofed-mac": a VM's frame whose source is not its MAC */
	DVMQ_DP_DROP_MULTICAST_SOURCE, /* "multicast-source": a group (or broadcast) source MAC */
	DVMQ_DP_DROP_FOREIGN_VLAN,     /* "foreign-vlan": a VM's frame tagged with another VLAN */
	DVMQ_DP_DROP_BAD_OFFLOAD,      /* "bad-offload": offloads the frame cannot carry (GSO type
	                                * for another protocol, gso_size 0, checksum outside it) */
	DVMQ_DP_DROP_TO_SELF,          /* "to-self": a VM's unicast to its own MAC (no hairpin) */
	DVMQ_DP_DROP_NO_UPLINK,        /* "no-uplink": for the uplink, and none is set */
	DVMQ_DP_DROP_UNKNOWN_VM,       /* "unknown-vm": vm_send for a VM id not present (removed) */
	DVMQ_DP_DROP_COUNT
};

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
	/* A frame's cost is counted, not spent: workers skip the work loop and add each frame's VM
	 * cost (dvmq_dp_vm_add, _set_cost) to its queue's and their own busy_ns instead of the time
	 * they took. Loads read from the queue stats are then the configured ones whatever the
	 * machine's speed and other programs' share of its CPUs (tests of the engine on real
	 * frames: `dvmq run --virtual-cost`). */
	bool virtual_cost;
	/* Run to completion on the last processor: the last worker gets no thread of its own; the
	 * thread that calls classify serves its queues with dvmq_dp_inline_serve after each burst
	 * (pinned by its caller to cpus[n_workers - 1]), so a frame for a queue there is delivered
	 * by the thread that read it, with no wake-up of another thread between. Each queue is still
	 * served by one processor at a time: moves to and from that worker are handoffs as any. */
	bool inline_last;
};

/* Fates of the frames VMs sent (dvmq_dp_vm_send): each ends in exactly one of verdict, drop,
 * to_vm, to_uplink, flooded, vm_refused and uplink_refused. */
struct dvmq_dp_send_counters {
	uint64_t rx;                                   /* frames given to vm_send */
	uint64_t verdict[DVMQ_FRAME_VERDICT_COUNT];    /* [0] unused; refused by the parser */
	uint64_t drop[DVMQ_DP_DROP_COUNT];             /* [0] unused; refused by the switch */
	uint64_t to_vm;                                /* known unicast, taken by its VM's port */
	uint64_t to_uplink;                            /* unicast to a MAC no VM has, taken by the uplink */
	uint64_t flooded;                              /* broadcast and multicast (frames, not copies) */
	uint64_t vm_refused;                           /* unicast the VM's port did not take */
	uint64_t uplink_refused;                       /* unicast the uplink port did not take */
	uint64_t flood_copies;                         /* copies of flooded frames taken (VMs, uplink) */
	uint64_t flood_refused;                        /* copies a port did not take */
};

/* Frame fates counted by the data plane; every classified frame ends in exactly one of verdict,
 * drop, overflow, vmq_delivered, default_unicast, refused, flooded, filtered, vm_gone and
 * in_flight. `sent` counts what VMs sent (vm_send), apart. */
struct dvmq_dp_counters {
	uint64_t rx;                                   /* frames given to classify */
	uint64_t verdict[DVMQ_FRAME_VERDICT_COUNT];    /* [0] unused; malformed and unsupported */
	uint64_t drop[DVMQ_DP_DROP_COUNT];             /* multicast-source, bad-offload */
	uint64_t overflow;                             /* dropped: queue ring full */
	uint64_t vmq_delivered;                        /* served from a VMQ, taken by its VM's port */
	uint64_t default_unicast;                      /* default path: known VM, taken by its port */
	uint64_t refused;                              /* unicast a VM's port did not take (either path) */
	uint64_t flooded;                              /* default path: flooded (frames, not copies) */
	uint64_t flood_copies;                         /* copies taken */
	uint64_t flood_refused;                        /* copies a VM's port did not take */
	uint64_t filtered;                             /* default path: destination learned on the uplink */
	uint64_t vm_gone;                              /* its VM was removed while it waited */
	uint64_t in_flight;                            /* still in rings */
	uint64_t rebinds;                              /* VMs seen on a new queue (each a handoff) */
	uint64_t learned, fdb_full;                    /* MAC learning events */
	uint64_t fdb_entries;                          /* learned MACs held now (aged ones deleted) */
	uint64_t fdb_probes_max;                       /* most table ways one learning lookup examined */
	uint64_t unknown_unicast;                      /* of flooded: to a unicast MAC no VM has and the
	                                                * uplink never showed (a stale ARP entry for a
	                                                * VM's old MAC shows here) */
	struct dvmq_dp_send_counters sent;             /* frames from VMs, all VMs (removed ones too) */
};

/* One VM's counters (dvmq_dp_vm_stats). */
struct dvmq_dp_vm_stats {
	struct dvmq_dp_send_counters sent;  /* what it sent */
	uint64_t refused;                   /* frames to it its port did not take (its queue, the
	                                     * default queue, other VMs), flood copies included */
	uint32_t queue;                     /* the queue its frames from the uplink go to */
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
/* VMMQ: binds the VM's frames to its queue group: each frame's RSS hash (dvmq/toeplitz.h: the
 * Toeplitz hash of its addresses and TCP/UDP ports, the addresses alone for other protocols and
 * fragments) picks one of 128 buckets, g->indirection[bucket] the queue in g->queues. A bucket
 * that changes queue is a handoff like a rebind: its frames already in the old queue are
 * delivered first, by one worker at a time (no flow reorders, no bucket is served by two workers
 * at once). With `hashed` (or a group of more than one queue) every frame of the VM is hashed
 * and counted per bucket (dvmq_dp_vm_buckets); a frame of g->queues[i] leaves through tx queue i
 * of the VM's port where the port has several (a multi-queue TAP). dvmq_dp_vm_set_queue is this
 * with one queue and hashing off. Returns 0, -ENOENT, -EINVAL (a queue out of range, an entry not
 * in the group, 0 or more than DVMQ_MAX_GROUP_QUEUES queues). Returns at once. */
int dvmq_dp_vm_set_group(struct dvmq_dp *dp, uint32_t vm_id, const struct dvmq_queue_group *g, bool hashed);
/* The VM's frames per RSS bucket since it was added (counted while it is hashed): packets and
 * bytes (DVMQ_INDIRECTION_ENTRIES each). Returns 0 or -ENOENT. */
int dvmq_dp_vm_buckets(struct dvmq_dp *dp, uint32_t vm_id, uint64_t *packets, uint64_t *bytes);
/* Returns 0, -ENOENT, -EINVAL (negative or NaN). */
int dvmq_dp_vm_set_cost(struct dvmq_dp *dp, uint32_t vm_id, double cost_ns);

/* Requests that `worker` serve queue q; returns at once (the handoff completes within a batch
 * of the old owner; a request made before the previous one completed re-targets it). Returns 0
 * or -EINVAL. */
int dvmq_dp_move(struct dvmq_dp *dp, uint32_t q, uint32_t worker);

/* The port frames leave the host through: VMs' unicast to MACs no VM has, and a copy of what
 * they flood (tagged with the sending adapter's VLAN). NULL: none (such unicast is counted
 * no-uplink). The data plane borrows it; tx_burst may then be called on it from every thread
 * that calls vm_send, each call sending its frames in bursts (the port is built for several
 * senders: docs/ports.md, Threads). Returns 0, after a grace period: no thread uses the port it
 * replaced, which the caller may destroy. Not from inside a port callback (a read-side section
 * would wait for itself). Any thread. */
int dvmq_dp_set_uplink(struct dvmq_dp *dp, struct dvmq_port *port);

/* Threads that call dvmq_dp_classify or dvmq_dp_vm_send read RCU-protected tables and use
 * scratch memory of their own (frames re-tagged or resolved in software): each calls register
 * once before its first call and unregister before it exits. Register returns 0 or -ENOMEM
 * (then the thread is not registered and must not call either). */
int dvmq_dp_thread_register(void);
void dvmq_dp_thread_unregister(void);

/* Classifies n frames (any n) into their queues (uplink thread only, registered) and wakes each
 * sleeping worker that got frames, once. Returns frames accepted into a queue; the others are
 * counted by reason (verdict, drop, overflow). Lossless: waits for room instead of dropping.
 * A frame with a multicast source MAC is dropped (multicast-source). */
unsigned dvmq_dp_classify(struct dvmq_dp *dp, const struct dvmq_pkt *pkts, unsigned n);
/* The same with each frame's offloads (off[i] for pkts[i], as rx_burst_off gives them); they
 * reach the VM's port with the frame (tx_burst_off), or are resolved in software for a port
 * without it. Offloads the frame cannot carry: bad-offload. */
unsigned dvmq_dp_classify_off(struct dvmq_dp *dp, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
			      unsigned n);

/* Switches n frames (any n) that VM vm_id sent, on the calling thread (registered): one VM's
 * frames from one thread at a time, different VMs' from any threads at once. Each frame is
 * parsed and checked (multicast-source, spoofed-mac: the source must be the adapter's MAC;
 * foreign-vlan: VM ports are access ports, a tag is accepted only for VLAN 0 (priority) or the
 * adapter's own; over-mtu and malformed by the parser's reasons), then:
 *  - unicast to a VM on the same VLAN: into that VM's port, untagged (access);
 *  - unicast to any other MAC: out of the uplink, tagged with the adapter's VLAN (none on 0):
 *    the host knows every VM's MAC, so what is not a VM here is outside;
 *  - broadcast and multicast: to every other VM of the VLAN and out of the uplink.
 * Frames never wait: a port that does not take one costs a counter (vm_refused,
 * uplink_refused, flood_refused). Counted in the VM's stats and in dvmq_dp_counters.sent.
 * The frames are read during the call only, never modified. Returns the frames forwarded
 * (to_vm + to_uplink + flooded); an unknown vm_id counts all n unknown-vm and returns 0. */
unsigned dvmq_dp_vm_send(struct dvmq_dp *dp, uint32_t vm_id, const struct dvmq_pkt *pkts, unsigned n);
/* The same with each frame's offloads (off[i] for pkts[i]; off NULL: none). */
unsigned dvmq_dp_vm_send_off(struct dvmq_dp *dp, uint32_t vm_id, const struct dvmq_pkt *pkts,
			     const struct dvmq_offload *off, unsigned n);

/* Waits until every ring is empty or timeout_ns passes. Returns 0 or -ETIMEDOUT. With
 * inline_last it serves the last worker's queues itself: call it once the thread that served
 * them inline has stopped. */
int dvmq_dp_drain(struct dvmq_dp *dp, uint64_t timeout_ns);

/* inline_last: one pass of the last worker (handoffs picked up or given, one batch of each of its
 * queues served), on the thread that classifies. `woken`: its descriptor (dvmq_dp_inline_fd)
 * polled readable, to be consumed. *pending: something of it still waits (a frame, a rebind's
 * barrier): call again soon instead of blocking. Returns frames served (0 without inline_last). */
unsigned dvmq_dp_inline_serve(struct dvmq_dp *dp, bool woken, bool *pending);
/* The descriptor that turns readable when the inline worker is handed a queue or asked to stop
 * (poll it beside the uplink's), or -1 without inline_last. */
int dvmq_dp_inline_fd(const struct dvmq_dp *dp);

void dvmq_dp_counters(const struct dvmq_dp *dp, struct dvmq_dp_counters *out);
/* Returns 0 or -ENOENT (no such VM now). */
int dvmq_dp_vm_stats(const struct dvmq_dp *dp, uint32_t vm_id, struct dvmq_dp_vm_stats *out);
/* "spoofed-mac", "multicast-source", ... ("?" out of range). */
const char *dvmq_dp_drop_name(enum dvmq_dp_drop d);
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
