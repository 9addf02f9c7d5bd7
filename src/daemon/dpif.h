/* The daemon's data plane interface: everything `dvmq run` does to frames goes through one ops
 * table, so the daemon, dvmqctl and the metrics page need not know which data plane runs (the
 * shape of Open vSwitch's dpif, with dpif-netdev and dpif-netlink behind it).
 * Implementations:
 *   dpif_user.c   the userspace switch (include/dvmq/dp.h, src/dp/): the uplink port read by an
 *                 uplink thread into the classifier, one pinned worker per processor, VM ports
 *                 (tap, afpacket, sink) read by one VM receive thread; the generator and captures.
 *   (kernel)      the kernel steering (include/dvmq/kdp.h, src/kdp/, bpf/): an XDP program on the
 *                 uplink redirects each VM's frames through a cpumap to its queue's processor.
 *
 * How to add a data plane:
 *  1. a file dpif_NAME.c with `const struct run_dpif_ops run_dpif_NAME`, its state in a struct of
 *     its own hung on r->dpif_priv by open() and freed by close() (close must cope with a failed
 *     or partial open; every op may assume open() returned 0);
 *  2. run_dpif_for() (dpif.c) picks it from the config; add the file to meson.build;
 *  3. VMs: the daemon keeps the VM slots (struct run_vm: name, adapter, engine id, queue) and
 *     calls vm_open/vm_add/vm_set_queue/vm_remove/vm_close by slot; keep per-VM state in an array
 *     of r->cap_vms indexed by slot. Queues: queue_move when the engine places one;
 *  4. sampling: the daemon reads /proc/stat into ps[].busy, then calls sample() (refresh what
 *     the interval needs, adjust ps[] if you measure better), then queue_stats() for each queue:
 *     cumulative counters, busy_ns measured (userspace: the workers' time) or modelled (kernel:
 *     the cost model over the maps' counters). The daemon takes the differences;
 *  5. counters: counters() gives what every data plane has (offered, received, delivered, drops
 *     by the snapshot's reasons, in flight: the live view, the round's drop check). For the
 *     views, snap_totals() writes the same common counters into the snapshot together with what
 *     only this data plane has, of one instant: the userspace switch its typed fates and port
 *     stats (has_dp, has_uplink; snap_vm: a VM's has_dp, has_port), any other one named
 *     counters (dvmq_snapshot_set_counters: stats JSON "dataplane_counters", Prometheus
 *     dvmq_dataplane_NAME{labels}), which dvmqctl and the metrics page print without knowing
 *     them; the snapshot's dp_kind says which runs;
 *  6. finish() fills the run's result with what this data plane can tell (offered, delivered,
 *     drops, in flight, loss; reordering and flow checks where it can see them).
 *
 * Threads: every op runs on the control thread (the daemon's event loop, or its setup and
 * teardown), never two at once; an implementation's own threads are its business (start/stop).
 * Order of a life: open, [vm_open, vm_add ...], start, [vm_* , queue_move, sample ...], stop,
 * drain, (counters, finish), close. Errors: 0 or a negative errno; msg/diag get one line. */
#ifndef DVMQ_DPIF_H
#define DVMQ_DPIF_H

#include <stddef.h>
#include <stdint.h>

#include "dvmq/config.h"
#include "dvmq/ctl_state.h"
#include "dvmq/engine.h"
#include "dvmq/run.h"

struct run;

/* One queue's counters since the data plane started. */
struct run_dpif_queue {
	uint64_t packets, bytes;   /* processed */
	uint64_t busy_ns;          /* processing time: measured or modelled */
	uint64_t dropped;          /* dropped before processing (ring or cpumap full) */
	uint64_t backlog;          /* waiting now */
};

/* What every data plane counts, since it started. Every frame received ends in delivered, one
 * of drops, or in_flight. */
struct run_dpif_counters {
	uint64_t offered;          /* frames the uplink offered (a generator: sent; else received) */
	uint64_t received;         /* frames the data plane took from the uplink */
	uint64_t delivered;        /* to a VM (its queue, the default queue, flooded) */
	uint64_t drops[DVMQ_SNAP_DROP_COUNT];
	uint64_t in_flight;        /* still queued */
};

struct run_dpif_ops {
	const char *kind;          /* "user", "kernel": logs, the snapshot, dvmqctl stats */
	/* It hands frames to the VMs itself, so the run's result has its flow checks, the VMs'
	 * direction and its ports' counters (the stop line prints them); false: it steers a
	 * datapath that delivers them (what happens past the steering is not its to count). */
	bool delivers;

	/* Life. open: after the engine exists, before any VM: ports, maps, data plane (diag says
	 * what failed). start: frames flow (threads, the program attached). stop: no new frame
	 * comes in (idempotent). drain: waits until nothing is queued or timeout_ns passes
	 * (-ETIMEDOUT). close: everything the data plane holds goes, also after a failed open
	 * (NULL-safe on its own state). */
	int (*open)(struct run *r, struct dvmq_diag *diag);
	int (*start)(struct run *r);
	void (*stop)(struct run *r);
	int (*drain)(struct run *r, uint64_t timeout_ns);
	void (*close)(struct run *r);
	/* One line for the start-up log: "uplink afpacket", "uplink gen" ... */
	void (*describe)(const struct run *r, char *buf, size_t len);

	/* VMs, by the daemon's slot. vm_open: the VM's port opened (or looked up), nothing in the
	 * data plane yet; on error nothing is left (msg "vm NAME: ..."). vm_add: into the data
	 * plane on the default queue (msg on error). vm_remove: out of it, frames waiting for it
	 * counted; returns when nothing holds its port. vm_close: its port closed. */
	int (*vm_open)(struct run *r, uint32_t slot, const struct dvmq_config_vm *cv, char *msg, size_t len);
	int (*vm_add)(struct run *r, uint32_t slot, char *msg, size_t len);
	void (*vm_remove)(struct run *r, uint32_t slot);
	void (*vm_close)(struct run *r, uint32_t slot);
	/* The VM's frames go to queue (DVMQ_DEFAULT_QUEUE: the default queue), in order. */
	int (*vm_set_queue)(struct run *r, uint32_t slot, uint32_t queue);
	/* Optional (VMMQ): the VM's frames spread over its queue group by their RSS bucket (g: its
	 * queues and 128-entry table), a bucket that changes queue in order; hashed: the VM may hold
	 * a group, count its buckets. Absent: the daemon uses vm_set_queue(g->queues[0]). */
	int (*vm_set_group)(struct run *r, uint32_t slot, const struct dvmq_queue_group *g, bool hashed);
	/* Optional: the VM's frames per bucket since it was added (packets, bytes: 128 each), for
	 * the engine's per-bucket samples. */
	int (*vm_buckets)(struct run *r, uint32_t slot, uint64_t *packets, uint64_t *bytes);
	/* Optional: every attached VM is on its queue now (after the daemon synced the data plane
	 * with the engine): the generator may play to it. */
	void (*placed)(struct run *r);
	/* Optional: daemon time t passes (the scenario's per-VM costs). */
	void (*at)(struct run *r, uint64_t t);
	/* Queue q to engine processor p (a move: no frame lost, none reordered). */
	int (*queue_move)(struct run *r, uint32_t q, uint32_t p);

	/* Sampling. sample: once per interval, before queue_stats; ps[n_procs].busy holds /proc/stat's
	 * busy fraction (0 with --own-load), which it may refine. queue_stats: queue q now. latency
	 * (optional): the frames' latency histogram since start (dvmq/hist.h buckets), summed. */
	int (*sample)(struct run *r, uint64_t elapsed_ns, struct dvmq_proc_sample *ps);
	void (*queue_stats)(struct run *r, uint32_t q, struct run_dpif_queue *out);
	void (*latency)(struct run *r, uint64_t *hist);
	void (*counters)(struct run *r, struct run_dpif_counters *out);

	/* Views, into a snapshot being built. snap_totals: the common counters (frames_rx,
	 * frames_delivered, drops) and what only this data plane has, read at one instant (0 or
	 * -ENOMEM). snap_vm: VM slot's own counters into sv. */
	int (*snap_totals)(struct run *r, struct dvmq_snapshot *s);
	void (*snap_vm)(struct run *r, uint32_t slot, struct dvmq_snap_vm *sv);
	/* Optional: processor p's worker since the data plane started: time serving frames,
	 * frames handled, wake-ups from sleep (processor show). Returns false when it has none. */
	bool (*proc_stats)(struct run *r, uint32_t p, uint64_t *busy_ns, uint64_t *frames, uint64_t *wakeups);
	/* Optional: whether VM slot's port failed for good since it was opened (a TAP deleted with
	 * its namespace, a device gone): the daemon then closes and reopens it (run_devices.c). */
	bool (*vm_port_lost)(struct run *r, uint32_t slot);
	/* The run's result: the data plane's fields (res->r offered, delivered, dropped, backlog_end,
	 * latency; lost, reordered, flows, verdicts, VM and port counters, work_ns_per_byte). After
	 * stop and drain. */
	void (*finish)(struct run *r, struct dvmq_run_result *res);
};

extern const struct run_dpif_ops run_dpif_user;
extern const struct run_dpif_ops run_dpif_kernel; /* dpif_kernel.c, built with -Dxdp */

/* The data plane the configuration asks for, or NULL when this build lacks it (kernel mode
 * without -Dxdp). */
const struct run_dpif_ops *run_dpif_for(const struct dvmq_config *c);

#endif
