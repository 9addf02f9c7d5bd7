/* kdp: kernel mode's data plane. dvmq steers the receive path the host already runs (a Linux
 * bridge or Open vSwitch, tap or veth VM ports) instead of switching frames itself: an XDP program
 * on the uplink classifies each frame by (destination MAC, VLAN) into a queue and redirects it
 * through a cpumap to the processor that serves the queue, whose cpumap kthread runs the rest of
 * the path (GRO, the bridge, the VM's port). bpf/dvmq_kern.bpf.c has the programs and
 * bpf/dvmq_kern.h the maps they share with this library.
 *
 * The library owns the BPF object (embedded in the binary), its maps, one cpumap entry per
 * processor of the processor set (created once, with a fixed qsize: an entry is never changed to
 * move a queue) and the BPF link that attaches the XDP program to the uplink: the program leaves
 * the device with the handle, and with the process whatever way it ends (kill -9 included).
 *
 * Queues: 0 is the default queue (frames no filter matches: broadcast, multicast, unknown
 * unicast, VMs without a VMQ); 1..n_queues-1 are VM queues, bound to VMs by filters. A queue is
 * always on exactly one processor of the set; all start on the set's first processor.
 *
 * Moves are ordered (unless the config turns ordering off): dvmq_kdp_queue_move only says where
 * the queue should go; the XDP program keeps sending the queue's frames to the old processor until
 * that processor has processed every one of them (its cpumap ring holds none) and, where the
 * kernel has tcx, its GRO has let them go (a tc ingress counter on the uplink) and the kthread has
 * finished the batch that handed the last of them to the VM's port, then flips the
 * queue itself; dvmq_kdp_moves_poll does the same for a queue that receives nothing, and forces
 * the flip once a move has waited longer than its bound (the old processor's ring, qsize frames,
 * at the rate it processed in the last interval, plus move_margin_ns), counting ordered and
 * forced moves apart.
 *
 * Thread safety: none inside; one thread (the daemon's control thread) calls everything, or the
 * caller serialises. The BPF programs run concurrently on every processor; the library's map
 * reads and writes are atomic where the programs need them to be.
 * Errors: 0 or a negative errno; create fills err with a line that names the device. The
 * library never prints: it logs through the config's callback (may be NULL).
 * Ownership: the handle owns everything it creates; dvmq_kdp_destroy (NULL is a no-op) detaches
 * the program and frees the maps and their cpumap kthreads. Arrays the caller passes are
 * borrowed for the call; samples and counters are written into the caller's memory. */
#ifndef DVMQ_KDP_H
#define DVMQ_KDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DVMQ_KDP_MAX_QUEUES 65536u
#define DVMQ_KDP_MAX_CPUS 4096u
#define DVMQ_KDP_MAX_GROUPS 512u
#define DVMQ_KDP_BUCKETS 128u

enum dvmq_kdp_xdp_mode {
	DVMQ_KDP_XDP_NATIVE = 1,  /* the driver runs the program (the default) */
	DVMQ_KDP_XDP_GENERIC = 2, /* the stack runs it on an skb: any device, slow (only when asked) */
};

enum dvmq_kdp_log_level { DVMQ_KDP_LOG_INFO, DVMQ_KDP_LOG_WARN };
typedef void (*dvmq_kdp_log_fn)(void *ctx, int level, const char *line);

struct dvmq_kdp_config {
	const char *ifname;        /* the uplink device, in the calling thread's network namespace;
	                            * NULL: load and set up, attach nothing (BPF_PROG_TEST_RUN tests) */
	bool defer_attach;         /* load for ifname, attach at dvmq_kdp_attach */
	int xdp_mode;              /* enum dvmq_kdp_xdp_mode; 0 = native */
	const int *cpus;           /* the processor set: a cpumap entry each (ids < DVMQ_KDP_MAX_CPUS) */
	uint32_t n_cpus;           /* 1.. */
	uint32_t n_queues;         /* 1..DVMQ_KDP_MAX_QUEUES, queue 0 included */
	uint32_t max_filters;      /* (MAC, VLAN) entries; 0 = n_queues */
	uint32_t max_groups;       /* VMMQ: queue groups, 0..DVMQ_KDP_MAX_GROUPS; each holds 128 bucket
	                            * slots, and a slot costs what a queue costs (a steering word, and
	                            * per-CPU counters: 56 bytes x possible CPUs) */
	uint32_t qsize;            /* cpumap ring per processor, 1..16384; 0 = 2048 */
	bool unordered;            /* moves flip at once (to measure what ordering is for) */
	bool reclassify;           /* the serving side classifies again instead of reading the
	                            * prefix the XDP program adds (to measure the difference) */
	bool no_frags;             /* do not declare multi-buffer (frags) support */
	bool nic_hash;             /* VMMQ: a queue group's bucket from the NIC's own RSS hash
	                            * (bpf_xdp_metadata_rx_hash; native XDP, a driver with rx-hash
	                            * metadata), Toeplitz for frames it has none for; a bucket move then
	                            * waits at the cpumap program only (the tc counter cannot find
	                            * such a bucket). Where the driver has no hash: Toeplitz, logged */
	bool no_local;             /* every frame through the cpumap, also one whose queue's processor
	                            * is the CPU that received it (by default such a frame stays on
	                            * that CPU's own path when it can overtake no frame of its queue:
	                            * no ring, no kthread wake-up; to measure the difference) */
	bool drain_at_cpumap;      /* an ordered move waits only for the cpumap program's count, not
	                            * for the frames to leave GRO too (counted at the uplink's tc
	                            * ingress, where the kernel has tcx: Linux 6.6+); to measure */
	bool drain_at_tc;          /* an ordered move waits for the tc count only, not also for the old
	                            * processor's cpumap kthread to leave the batch that delivered the
	                            * last frame (bpf/dvmq_kern.h, DVMQ_KERN_F_BATCH); to measure */
	uint64_t guard_ns;         /* ordered moves also wait until the old processor has processed
	                            * none of the queue's frames for this long (0: off) */
	uint64_t move_margin_ns;   /* added to a move's bound; 0 = 2 ms */
	uint64_t settle_ns;        /* after a forced move off a processor, the queue may not return
	                            * to it for this long (its old frames may still be there); 0 = 100 ms */
	int kthread_fifo;          /* > 0: run the cpumap kthreads SCHED_FIFO at this priority (1..99),
	                            * as the kernel runs threaded IRQ handlers (50): busy vCPU threads
	                            * then cannot starve the processing of frames already accepted */
	dvmq_kdp_log_fn log;
	void *log_ctx;
};

struct dvmq_kdp;

/* Loads the programs, sizes the maps, creates the cpumap entries, places every queue on cpus[0]
 * and attaches the XDP program to the uplink through a BPF link (never a netlink attach): native
 * by default, generic only when asked (with a log line saying it is slow).
 * Returns 0 and *out, or:
 *  -EINVAL: a bad config (err says which field); -ENODEV: no such device;
 *  -EPERM: not allowed (err names the capabilities: CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN for the
 *   cpumap, CAP_PERFMON for the drop counter's tracepoint);
 *  -EBUSY: the device holds an XDP program dvmq does not own (err names it);
 *  -EOPNOTSUPP: the driver has no native XDP (err says so and how to ask for generic);
 *  -ENOMEM, or another errno from the kernel (err says which step). */
int dvmq_kdp_create(const struct dvmq_kdp_config *cfg, struct dvmq_kdp **out, char *err, size_t err_len);
void dvmq_kdp_destroy(struct dvmq_kdp *k);
/* With defer_attach: attaches now (the same checks and errors as create). Returns 0 (already
 * attached: 0), or as create. */
int dvmq_kdp_attach(struct dvmq_kdp *k, char *err, size_t err_len);
/* Takes the programs off the uplink (frames go the kernel's plain way again; those already in a
 * cpumap ring are still processed). Idempotent. */
void dvmq_kdp_detach(struct dvmq_kdp *k);

/* "BPF link, native XDP, dvmq_kern, frags, 2 processors, qsize 2048, drops: tracepoint": how the
 * data plane runs, for the start log line. */
const char *dvmq_kdp_describe(const struct dvmq_kdp *k);

/* ---- filters: (MAC, VLAN) -> queue ---- */

struct dvmq_kdp_filter {
	uint8_t mac[6];
	uint16_t vlan;   /* 0 = untagged, else 1..4094 */
	uint32_t queue;  /* 0..n_queues-1 (0 = the default queue, like no filter at all) */
	bool hashed;     /* VMMQ: the frames go through group `group`'s table instead (queue unused) */
	uint32_t group;  /* 0..max_groups-1 */
};

/* Adds or changes one filter. Returns 0, -EINVAL (bad VLAN or queue), -E2BIG (max_filters
 * reached), or the kernel's errno. */
int dvmq_kdp_filter_set(struct dvmq_kdp *k, const struct dvmq_kdp_filter *f);
/* Moves filter f (not hashed), whose frames go to queue `from` now, to queue f->queue without
 * reordering them (review finding E): f->queue first goes where `from`'s frames go (ordered, waited
 * for: an idle queue flips at once), the filter changes, the old queue's frames still on their way
 * are carried over to the new queue's drain count (the tc counter counts them for the new queue),
 * then f->queue moves on to cpu, ordered, started and not waited for (dvmq_kdp_moves_poll).
 * Returns 0, -EINVAL (hashed, a queue >= n_queues), -EBUSY (f->queue may not go to `from`'s
 * processor yet, 200 ms after trying), an errno. */
int dvmq_kdp_filter_rebind(struct dvmq_kdp *k, const struct dvmq_kdp_filter *f, uint32_t from, int cpu);
/* Removes one filter (its frames go to the default queue). Returns 0, -ENOENT, or an errno. */
int dvmq_kdp_filter_del(struct dvmq_kdp *k, const uint8_t mac[6], uint16_t vlan);
/* Many at once (a reload): removes `del`, then sets `set`, one map update each (a batch would not
 * say which keys were new, and filter_count must stay exact; a reload changes few). Returns 0 or
 * the first error (entries before it are applied). */
int dvmq_kdp_filters_apply(struct dvmq_kdp *k, const struct dvmq_kdp_filter *set, uint32_t n_set,
			   const struct dvmq_kdp_filter *del, uint32_t n_del);
/* How many filters are set now. */
uint32_t dvmq_kdp_filter_count(const struct dvmq_kdp *k);

/* ---- queues ---- */

/* The processor queue q is on now, or -EINVAL. */
int dvmq_kdp_queue_cpu(const struct dvmq_kdp *k, uint32_t q);
/* Starts moving queue q to cpu (see above; re-targets a move still pending). Returns 0 (nothing
 * to do when q is there already), -EINVAL (no such queue, cpu not in the set), -EBUSY (a forced
 * move took q off cpu less than settle_ns ago: try again later). */
int dvmq_kdp_queue_move(struct dvmq_kdp *k, uint32_t q, int cpu);
/* Completes what it can of the pending moves at now_ns (CLOCK_MONOTONIC): flips drained queues
 * the XDP program has not flipped, forces those past their bound. Returns how many are still
 * pending, or a negative errno. */
int dvmq_kdp_moves_poll(struct dvmq_kdp *k, uint64_t now_ns);
/* How the moves completed by the last poll ended, for tools that log them: a callback per move
 * (queue, from, to, start and end in CLOCK_MONOTONIC ns, forced or not). NULL: none. */
typedef void (*dvmq_kdp_move_fn)(void *ctx, uint32_t q, int from, int to, uint64_t start_ns, uint64_t end_ns,
				 bool forced);
void dvmq_kdp_on_move(struct dvmq_kdp *k, dvmq_kdp_move_fn fn, void *ctx);
/* Polls until no move is pending (each is bounded, so this returns). Returns 0 or an errno. */
int dvmq_kdp_moves_wait(struct dvmq_kdp *k);

/* ---- queue groups (VMMQ) ----
 * A VM whose filter is hashed spreads its frames over queues by their flow: the XDP program
 * computes each frame's Toeplitz hash (the standard key; the input of dvmq/toeplitz.h: addresses,
 * and ports for TCP and UDP that are not fragments), and bucket hash & 127 of the group's table
 * names the queue. Each bucket is steered like a queue of its own (a steering word, per-CPU
 * counts), so a bucket that changes queue, or whose queue moves, is an ordered move of that
 * bucket alone: its frames keep going to the old processor until that processor has processed
 * (and, with tcx, let out of GRO) every frame of the bucket sent to it; moves_poll completes and
 * forces bucket moves by the same bound as queue moves. Samples count a bucket's frames in the
 * queue that holds it. */

/* Group g's table: bucket b's frames go to queue table[b] (0..n_queues-1), on that queue's
 * processor (where a move of the queue is pending: its new one). Puts the group in use (sampled).
 * Returns 0; -EINVAL (g >= max_groups, a queue >= n_queues); -EBUSY: some bucket may not yet go
 * back to a processor a forced move took it off (settle_ns); everything else is done, and the
 * same call later finishes it. */
int dvmq_kdp_group_set(struct dvmq_kdp *k, uint32_t g, const uint32_t table[DVMQ_KDP_BUCKETS]);
/* Group g out of use (no filter names it any more): no longer sampled, its queues' moves no longer
 * carry its buckets. No-op for a group not in use. */
void dvmq_kdp_group_clear(struct dvmq_kdp *k, uint32_t g);
/* The frames (and bytes) the XDP program sent through each bucket of group g since create, as of
 * the last dvmq_kdp_sample (which reads them). Returns 0 or -EINVAL. */
int dvmq_kdp_group_buckets(const struct dvmq_kdp *k, uint32_t g, uint64_t packets[DVMQ_KDP_BUCKETS],
			   uint64_t bytes[DVMQ_KDP_BUCKETS]);
/* The processor bucket b of group g is on now, or -EINVAL. */
int dvmq_kdp_bucket_cpu(const struct dvmq_kdp *k, uint32_t g, uint32_t b);

/* ---- samples ---- */

/* What one processor of the set did in the interval. net_ns is the network time the cost model
 * explains: the softirq time of that CPU (/proc/stat) plus the CPU time of its cpumap kthread
 * (/proc/PID/schedstat, else /proc/PID/stat), at most the CPU's kernel time (system + irq +
 * softirq in /proc/stat): without CONFIG_IRQ_TIME_ACCOUNTING the softirq the kthread runs itself
 * is in both figures. */
struct dvmq_kdp_cpu_sample {
	int cpu;
	uint64_t softirq_ns, kthread_ns, net_ns;
	uint64_t packets, bytes;  /* processed by its cpumap kthread, every queue */
	uint64_t cpumap_drops;    /* frames its full ring dropped (exact: tracepoint; or estimated) */
};

/* Per queue: what the receiving side sent it, and per processor of the set what was processed
 * (a queue of a group: the frames of the buckets it holds at the end of the interval included). */
struct dvmq_kdp_queue_sample {
	uint64_t rx_packets, rx_bytes;
	int cpu;                  /* where it is at the end of the interval */
	const uint64_t *packets;  /* n_cpus entries, indexed like the config's cpus */
	const uint64_t *bytes;
};

struct dvmq_kdp_sample {
	uint64_t interval_ns;
	uint32_t n_cpus, n_queues;
	struct dvmq_kdp_cpu_sample *cpus;      /* n_cpus */
	struct dvmq_kdp_queue_sample *queues;  /* n_queues */
};

/* Allocates a sample the size of k's config. Returns NULL on ENOMEM. */
struct dvmq_kdp_sample *dvmq_kdp_sample_new(const struct dvmq_kdp *k);
void dvmq_kdp_sample_free(struct dvmq_kdp_sample *s);
/* Fills s with what happened since the previous call (the first call: since create). Also renews
 * the epoch of a queue that stayed on its processor for 2^43 frames (its 44-bit sent count would
 * otherwise wrap into the epoch and processor bits): call it every interval.
 * Returns 0, or an errno from reading the maps or /proc. */
int dvmq_kdp_sample(struct dvmq_kdp *k, struct dvmq_kdp_sample *s);

/* ---- counters (since create) ---- */

struct dvmq_kdp_counters {
	/* the XDP program's fates: every frame it saw is in exactly one */
	uint64_t redirected, link_local, truncated, no_cpu, vlan_no_room, no_room;
	uint64_t local;            /* processed where it arrived, that CPU being its queue's processor
	                            * (not in `processed`, which the cpumap program counts) */
	/* of the redirected (and the local) */
	uint64_t default_queue, bad_queue, double_tag;
	uint64_t vlan_restored, vlan_unread;
	/* the serving side */
	uint64_t processed, reclassified; /* processed: by the cpumap program (the local not included) */
	uint64_t cpumap_drops;     /* frames full cpumap rings dropped */
	bool cpumap_drops_exact;   /* from the tracepoint; false: redirected - processed (estimate,
	                            * frames still in the rings included) */
	/* moves */
	uint64_t moves, moves_ordered, moves_forced, moves_busy;
	uint64_t moves_ordered_xdp; /* of the ordered: flipped by the XDP program itself (queues and
	                             * buckets) */
	/* VMMQ */
	uint64_t hashed;            /* of the redirected: through a group's table */
	uint64_t nic_hashed;        /* of the hashed: by the NIC's hash (nic_hash) */
	bool nic_hash;              /* the NIC's hash is in use */
	uint64_t bucket_moves, bucket_moves_ordered, bucket_moves_forced; /* as the queues' moves */
	uint64_t rebinds;           /* dvmq_kdp_filter_rebind calls */
	uint64_t rebind_carried;    /* of the old queues' frames, carried to the new queue's drain */
};

int dvmq_kdp_counters(const struct dvmq_kdp *k, struct dvmq_kdp_counters *out);

/* ---- what kernel mode needs, probed without attaching anything ---- */

struct dvmq_kdp_probe {
	bool device;          /* the uplink device exists here */
	bool features_known;  /* the kernel reports the driver's XDP features (Linux 6.3+) */
	bool native;          /* native XDP in the driver */
	bool redirect;        /* native XDP_REDIRECT (the cpumap) */
	bool frags;           /* multi-buffer frames in native XDP */
	bool vlan_kfunc;      /* the driver hands XDP the VLAN tags it strips */
	bool rx_hash;         /* the driver hands XDP its RSS hash (VMMQ's nic_hash) */
	bool tcx;             /* tcx links (Linux 6.6+): moves wait for GRO too */
	bool gro;             /* GRO is on for the device: the cpumap kthreads' GRO (Linux 6.15+)
	                       * runs for its frames (it follows the device's feature) */
	int bpf_errno;        /* loading a BPF program here: 0, or why not (EPERM: CAP_BPF) */
	int cpumap_errno;     /* creating a cpumap here: 0, or why not (EPERM: CAP_NET_ADMIN, or
	                       * CAP_SYS_ADMIN before Linux 6.5) */
	char veth_note[400];  /* dvmq_kdp_veth_note's line, or "" */
};

/* Fills p for uplink ifname (NULL: no device questions). Loads one trivial program and creates
 * one empty cpumap, both freed at once; attaches nothing. Returns 0. Any thread. */
int dvmq_kdp_probe(const char *ifname, struct dvmq_kdp_probe *p);

/* The veth checksum artefact: when ifname is a veth whose peer checksums on transmit (or whose
 * peer is in another namespace, where it cannot be seen), one line saying what goes wrong under
 * native XDP and the fix (`ethtool -K PEER tx off`). Returns 1 with line filled, else 0 ("").
 * A NIC hands complete checksums: only labs and containers meet this. Any thread. */
int dvmq_kdp_veth_note(const char *ifname, char *line, size_t len);

/* Whether GRO is on for ifname (ETHTOOL_GGRO): 1, 0, or -errno. Any thread. */
int dvmq_kdp_gro(const char *ifname);

/* ---- for tests and tools ---- */

/* The BPF map fds (filters, queues, cpumap, qstats, stats, config) and program fds; -1 when not
 * loaded. For tests that drive the programs with BPF_PROG_TEST_RUN. */
enum dvmq_kdp_fd {
	DVMQ_KDP_FD_XDP_PROG, DVMQ_KDP_FD_CPU_PROG, DVMQ_KDP_FD_PLAIN_PROG, DVMQ_KDP_FD_FILTERS,
	DVMQ_KDP_FD_QUEUES, DVMQ_KDP_FD_CPUMAP, DVMQ_KDP_FD_QSTATS, DVMQ_KDP_FD_STATS, DVMQ_KDP_FD_CONFIG,
	DVMQ_KDP_FD_TC_PROG, /* the tc ingress counter (loaded unless drain_at_cpumap) */
};
int dvmq_kdp_fd(const struct dvmq_kdp *k, enum dvmq_kdp_fd which);
/* The PID of the cpumap kthread of cpu (cpumap/CPU/map:ID), or -ENOENT. */
int dvmq_kdp_kthread_pid(const struct dvmq_kdp *k, int cpu);

#endif
