/* The daemon's state as the control commands and the metrics page see it: an immutable,
 * reference-counted snapshot; a publisher that hands the latest one to other threads; the
 * mutation calls the daemon implements (struct dvmq_ctl_state_ops); and the control commands of
 * docs/ctl-protocol.md written against them, plus the pure renderings (stats JSON, Prometheus
 * text, the explanation of a queue's placement).
 *
 * Invariant: a published snapshot never changes; readers on any thread see one consistent state
 * of one instant (counters, placement and moves from the same control-thread step).
 *
 * Ownership: dvmq_snapshot_create returns one reference; every ref/acquire is matched by an unref.
 * Thread safety: snapshots and the publisher may be used from any thread; the state ops and the
 * command handlers run on the daemon's control thread only (the engine is not thread-safe).
 * Errors: 0 or a negative errno; nothing here prints. */
#ifndef DVMQ_CTL_STATE_H
#define DVMQ_CTL_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvmq/ctl.h"
#include "dvmq/dp.h"
#include "dvmq/engine.h"
#include "dvmq/port.h"

#define DVMQ_SNAP_NAME_MAX 64u   /* VM names: 1..63 bytes of [A-Za-z0-9._-] */
#define DVMQ_SNAP_PORT_MAX 64u   /* "tap:vm1", "afpacket:veth3" */
#define DVMQ_SNAP_NO_VM UINT32_MAX
#define DVMQ_SNAP_NO_QUEUE UINT32_MAX
#define DVMQ_SNAP_MAX_NUMA 64

/* Frame drops by reason, per queue and in total. Names: dvmq_snap_drop_name. */
enum dvmq_snap_drop {
	DVMQ_SNAP_DROP_OVERFLOW,    /* its queue ring was full */
	DVMQ_SNAP_DROP_VM_GONE,     /* its VM was removed while it waited */
	DVMQ_SNAP_DROP_MALFORMED,   /* the parser refused it */
	DVMQ_SNAP_DROP_UNSUPPORTED, /* well-formed, but nothing dvmq switches */
	DVMQ_SNAP_DROP_COUNT
};

/* Upper bounds (seconds) of the engine plan time histogram; a last bucket takes the rest. */
#define DVMQ_SNAP_PLAN_BUCKETS 8u
extern const double dvmq_snap_plan_bounds_s[DVMQ_SNAP_PLAN_BUCKETS];

struct dvmq_snap_processor {
	uint32_t id;               /* engine processor number */
	int32_t cpu;               /* the host CPU its worker is pinned to */
	int32_t numa_node;
	double load;               /* busy fraction from any cause, last interval */
	double net_load;           /* network processing of its queues, last interval */
	bool awake, in_set;
	uint32_t n_queues;
	/* Its worker's counters (OVS pmd-stats-show's), since the daemon started or the last
	 * `stats clear`; has_counters: false where the daemon keeps none. */
	bool has_counters;
	uint64_t busy_ns, idle_ns;  /* serving frames; the rest of the time (asleep, or looking) */
	uint64_t frames;            /* frames its worker handed to VMs or dropped */
	uint64_t ring_full;         /* frames of its queues dropped because their ring was full */
	uint64_t wakeups;           /* times its worker was woken from sleep */
};

struct dvmq_snap_queue {
	uint32_t id;               /* 0: the default queue */
	uint32_t vm;               /* index into vms, or DVMQ_SNAP_NO_VM (the default queue) */
	uint32_t processor, home;
	double load;               /* network load, fraction of one processor, last interval */
	double pps;                /* packets per second, last interval */
	uint64_t backlog;          /* packets waiting */
	uint64_t packets, bytes, busy_ns;          /* since the daemon started */
	uint64_t drops[DVMQ_SNAP_DROP_COUNT];
	uint64_t moves;
	bool moved;                /* last_move_ns is meaningful */
	uint64_t last_move_ns;
	bool pinned;               /* an operator pinned it (queue set): the engine never moves it */
};

struct dvmq_snap_vm {
	char name[DVMQ_SNAP_NAME_MAX];
	uint8_t mac[6];
	uint16_t vlan;             /* 0: untagged */
	uint32_t weight;           /* 0..100 */
	char port[DVMQ_SNAP_PORT_MAX]; /* "KIND:DEVICE", or "" */
	uint32_t queue;            /* its first VMQ, or DVMQ_DEFAULT_QUEUE without one */
	bool has_dp;               /* dp holds the data plane's counters of this VM */
	struct dvmq_dp_vm_stats dp; /* what it sent, by fate; what its port refused */
	bool has_port;             /* port_stats holds its port's own counters */
	struct dvmq_port_stats port_stats;
	/* Its device (a tap or afpacket port's; never for sink): absent while it does not exist,
	 * the VM configured but detached; device_appeared/gone count the changes the daemon heard
	 * (rtnetlink), each one a log line. */
	bool has_device, device_absent;
	uint64_t device_appeared, device_gone;
	/* VMMQ: the most queues its group may hold (1: a plain VMQ), the group (its queues and the
	 * 128-entry indirection table; n_queues 0 when it holds no VMQ), each bucket's estimated
	 * demand in the last round (fraction of a processor), and its bucket moves so far */
	uint32_t max_queues;
	struct dvmq_queue_group group;
	float bucket_load[DVMQ_INDIRECTION_ENTRIES];
	uint64_t bucket_moves;
};

/* A counter only one data plane has (the kernel steering's XDP counters, say), carried by name
 * so that `stats` ("dataplane_counters") and the metrics page (dvmq_dataplane_NAME) show it
 * without knowing which data plane runs. A NAME's entries are listed one after the other. */
#define DVMQ_SNAP_COUNTER_LABELS 2u
#define DVMQ_SNAP_LABEL_MAX 32u
struct dvmq_snap_counter {
	const char *name;          /* static; [a-z0-9_], a counter's ending in _total */
	const char *help;          /* static; one line */
	bool gauge;                /* a level (a count now), not a counter */
	struct {
		const char *key;       /* static; [a-z_]; NULL: unused */
		char value[DVMQ_SNAP_LABEL_MAX];
	} labels[DVMQ_SNAP_COUNTER_LABELS];
	uint64_t value;
};

struct dvmq_snap_move {
	uint64_t seq;              /* 1, 2, ... over the daemon's life */
	uint64_t at_ns;            /* daemon time of the plan */
	uint32_t queue, from, to;
	char vm[DVMQ_SNAP_NAME_MAX]; /* "" for the default queue */
	enum dvmq_reason reason;
	double queue_load, src_before, src_after, dst_before, dst_after;
	bool pingpong;
	/* VMMQ bucket moves: `buckets` buckets of vm's group from queue `queue` (on processor from)
	 * to queue to_queue (on processor to) in one plan, reason balance, grow or shrink;
	 * queue_load their demand. 0: a queue move. */
	uint32_t buckets, to_queue;
};

/* The adapter (the NIC's VMQ settings, Get-NetAdapterVmq). */
struct dvmq_snap_adapter {
	bool vmq;                  /* false: every VM on the default queue */
	uint32_t base;             /* BaseProcessorNumber */
	uint32_t max_processors;   /* MaxProcessors, 0 = no limit */
	uint32_t max_number;       /* MaxProcessorNumber: highest processor usable */
	int32_t numa_node;         /* -1: any */
	uint32_t queue_pool;       /* VMQs besides the default queue */
};

struct dvmq_snapshot {
	uint64_t now_ns;           /* daemon time (since it started) of this state */
	char version[32];
	struct dvmq_engine_params params;
	uint64_t interval_ns;
	struct dvmq_snap_adapter adapter;
	uint32_t n_processors, n_queues, n_vms, n_moves;
	struct dvmq_snap_processor *processors;
	struct dvmq_snap_queue *queues;   /* active queues, by id: the default queue first */
	struct dvmq_snap_vm *vms;
	struct dvmq_snap_move *moves;     /* the most recent, oldest first */
	/* counters since the daemon started */
	uint64_t frames_rx, frames_delivered;
	uint64_t drops[DVMQ_SNAP_DROP_COUNT];
	uint64_t moves_by_reason[DVMQ_REASON_COUNT];
	uint64_t pingpongs;
	uint64_t single_queue_overloads;  /* intervals a single queue wanted more than a processor */
	uint64_t cleared_ns;              /* daemon time of the last `stats clear` (0: never): the
	                                   * counters above count from then */
	uint64_t plans;                   /* engine rounds */
	double plan_seconds;              /* their summed time */
	uint64_t plan_buckets[DVMQ_SNAP_PLAN_BUCKETS + 1]; /* per bound, then the rest (not cumulative) */
	/* The data plane's own counters (every fate of every frame, both directions) and the
	 * uplink port's; has_*: false where the daemon has none (no data plane, no uplink port). */
	bool has_dp;
	struct dvmq_dp_counters dp;
	bool has_uplink;
	char uplink_port[DVMQ_SNAP_PORT_MAX]; /* "KIND:DEVICE" or "gen" */
	struct dvmq_port_stats uplink;
	/* Which data plane runs ("user", "kernel"; "" when none) and the counters only it has. */
	char dp_kind[16];
	uint32_t n_counters;
	struct dvmq_snap_counter *counters;
	atomic_uint refs;
};

const char *dvmq_snap_drop_name(enum dvmq_snap_drop d);
/* Adds one engine plan's wall time to plans, plan_seconds and plan_buckets. */
void dvmq_snap_count_plan(struct dvmq_snapshot *s, double seconds);

/* One allocation holding the arrays (zeroed), sizes set, one reference. Returns 0 or -ENOMEM. */
int dvmq_snapshot_create(uint32_t n_processors, uint32_t n_queues, uint32_t n_vms, uint32_t n_moves,
			 struct dvmq_snapshot **out);
/* Makes s's counters count from base (a snapshot taken at `stats clear`): counters minus the
 * baseline's, levels as they are, the uplink's fates still balanced; sets cleared_ns. NULL base:
 * no-op. Pure. */
void dvmq_snapshot_since(struct dvmq_snapshot *s, const struct dvmq_snapshot *base);
/* Gives s room for n named counters (zeroed; freed with s), once. Returns 0, -ENOMEM, -EBUSY
 * (it has them already). */
int dvmq_snapshot_set_counters(struct dvmq_snapshot *s, uint32_t n);
struct dvmq_snapshot *dvmq_snapshot_ref(struct dvmq_snapshot *s);
/* Frees it with the last reference. NULL: no-op. */
void dvmq_snapshot_unref(struct dvmq_snapshot *s);
/* Lookups: NULL when absent. */
const struct dvmq_snap_vm *dvmq_snap_vm_find(const struct dvmq_snapshot *s, const char *name);
const struct dvmq_snap_queue *dvmq_snap_queue_find(const struct dvmq_snapshot *s, uint32_t id);
const struct dvmq_snap_processor *dvmq_snap_processor_find(const struct dvmq_snapshot *s, uint32_t id);

/* Hands the latest snapshot from the control thread to readers (the metrics page). */
struct dvmq_snapshot_pub;
int dvmq_snapshot_pub_create(struct dvmq_snapshot_pub **out);
/* Drops the held snapshot. NULL: no-op. */
void dvmq_snapshot_pub_destroy(struct dvmq_snapshot_pub *p);
/* Takes over the caller's reference to s; the previous snapshot loses the publisher's. */
void dvmq_snapshot_publish(struct dvmq_snapshot_pub *p, struct dvmq_snapshot *s);
/* A new reference to the latest snapshot, or NULL before the first publish. */
struct dvmq_snapshot *dvmq_snapshot_acquire(struct dvmq_snapshot_pub *p);

/* The load history (dvmqctl history): one row per step, a column per processor and per queue.
 * Arrays are the daemon's, valid during the op's call. */
struct dvmq_ctl_history {
	uint64_t step_ns;              /* time between rows */
	uint32_t n_processors;         /* processors 0..n-1 */
	uint32_t n_queues;             /* queue columns */
	const uint32_t *queue_ids;     /* n_queues */
	const char *const *queue_vms;  /* n_queues: the VM that holds it now, "" for none */
	size_t n_rows;                 /* oldest first */
	const uint64_t *t_ns;          /* n_rows: daemon time at the end of each step */
	const float *proc_load;        /* n_rows x n_processors: busy fraction, any cause */
	const float *queue_load;       /* n_rows x n_queues: network load, fraction of a processor */
	const uint16_t *awake;         /* n_rows: processors owning a queue */
	const float *drops_per_s;      /* n_rows: frames dropped per second */
	const uint32_t *moves;         /* n_rows: moves made in the step */
};

/* ---- what the daemon implements (phase 2: run.c) ---- */

/* Every op returns 0 or a negative errno and may write a one-line reason into msg:
 * -ENOENT (no such VM), -EINVAL (refused value), -EEXIST, -ENOSPC, -EOPNOTSUPP (cannot change
 * this while running), anything else = the daemon failed (`internal`). */
struct dvmq_ctl_vm_spec {
	const char *name;
	uint8_t mac[6];
	uint16_t vlan;
	uint32_t weight;
	const char *port;          /* "KIND:DEVICE" or NULL */
};

struct dvmq_ctl_vm_change {
	bool has_weight, has_vlan, has_max_queues;
	uint32_t weight;
	uint16_t vlan;
	uint32_t max_queues;       /* 1..DVMQ_MAX_GROUP_QUEUES */
};

struct dvmq_ctl_adapter_change {
	bool has_vmq, has_base, has_max_processors, has_max_number, has_numa_node, has_queue_pool,
		has_processors;
	bool vmq;
	uint32_t base, max_processors, max_number, queue_pool;
	int32_t numa_node;
	const bool *processors;    /* has_processors: n_processors flags, true = may serve queues */
	uint32_t n_processors;
};

struct dvmq_ctl_state_ops {
	/* A reference to a snapshot that reflects every op that returned before (the caller
	 * unrefs it), or NULL when out of memory. */
	struct dvmq_snapshot *(*snapshot)(void *ctx);
	int (*vm_add)(void *ctx, const struct dvmq_ctl_vm_spec *vm, char *msg, size_t len);
	int (*vm_remove)(void *ctx, const char *name, char *msg, size_t len);
	int (*vm_set)(void *ctx, const char *name, const struct dvmq_ctl_vm_change *c, char *msg, size_t len);
	int (*adapter_set)(void *ctx, const struct dvmq_ctl_adapter_change *c, char *msg, size_t len);
	/* p passed dvmq_engine_params_validate; interval_ns > 0. */
	int (*params_set)(void *ctx, const struct dvmq_engine_params *p, uint64_t interval_ns, char *msg,
			  size_t len);
	/* Plans now with the latest samples and applies the plan; the moves made are copied into
	 * moves (at most max, seq and at_ns filled), their number into *n. */
	int (*rebalance)(void *ctx, struct dvmq_snap_move *moves, size_t max, size_t *n, char *msg, size_t len);

	/* The ops below may be NULL: the command then answers `unsupported`. */

	/* The plan rebalance would apply now, applied to nothing (moves as rebalance's, seq 0). */
	int (*rebalance_dry_run)(void *ctx, struct dvmq_snap_move *moves, size_t max, size_t *n, char *msg, size_t len);
	/* Pins queue q (an active queue) to processor p (in the set), or hands it back to the engine
	 * (p = DVMQ_NO_PROCESSOR); *move gets the move the pin made, *moved whether it made one. */
	int (*queue_set)(void *ctx, uint32_t q, uint32_t p, struct dvmq_snap_move *move, bool *moved, char *msg,
			 size_t len);
	/* Resets the counters `stats`, `processor show`, `queue show` and `vm show` report (and the
	 * metrics page: a counter reset, which Prometheus' rate() expects). */
	int (*stats_clear)(void *ctx, char *msg, size_t len);
	/* The load history ring (the handler reads it during the call: the control thread's). */
	int (*history)(void *ctx, struct dvmq_ctl_history *h, char *msg, size_t len);
	/* The running configuration as a config file's text (dvmq_config_write): *text malloc'd,
	 * the caller frees it; path gets the file the daemon was started with. */
	int (*config_show)(void *ctx, char **text, char *path, size_t path_len, char *msg, size_t len);
	/* What a reload would change: the file read now against the running configuration, one
	 * line per change to line(); path gets the file. */
	int (*config_diff)(void *ctx, void (*line)(void *lctx, const char *text), void *lctx, char *path,
			   size_t path_len, char *msg, size_t len);
};

/* The daemon's side of the commands: its ops and the context they get. */
struct dvmq_ctl_state {
	const struct dvmq_ctl_state_ops *ops;
	void *ctx;
};

/* Registers the control commands (adapter.*, queue.show, vm.*, processor.show, policy.*,
 * moves, stats, rebalance, explain) on reg. st is borrowed and must outlive the registry.
 * Returns 0 or as dvmq_ctl_registry_add. `moves` with follow subscribes to the "move" event. */
int dvmq_ctl_commands_register(struct dvmq_ctl_registry *reg, const struct dvmq_ctl_state *st);

/* ---- pure renderings ---- */

/* JSON of one move, as in the `moves` result and the "move" event. NULL when out of memory. */
json_t *dvmq_ctl_move_json(const struct dvmq_snap_move *m);
/* The `stats` result: every counter of the snapshot. NULL when out of memory. */
json_t *dvmq_ctl_stats_json(const struct dvmq_snapshot *s);
/* One sentence: the rule that keeps queue q where it is now. Returns 0 or -ENOENT. */
int dvmq_ctl_explain_rule(const struct dvmq_snapshot *s, uint32_t q, char *buf, size_t len);
/* The Prometheus text exposition (format 0.0.4) of the snapshot. Returns 0 (*out malloc'd,
 * NUL-terminated, *len its length) or -ENOMEM. */
int dvmq_prom_render(const struct dvmq_snapshot *s, char **out, size_t *len);

/* ---- the metrics page (libmicrohttpd on its own thread; reads only the publisher) ---- */

struct dvmq_metrics_http_config {
	const char *address;       /* NULL: "127.0.0.1" */
	uint16_t port;             /* 0: an ephemeral port (tests); the daemon's default is 9911 */
};

#define DVMQ_METRICS_DEFAULT_PORT 9911

struct dvmq_metrics_http;
/* Serves GET /metrics from the publisher's latest snapshot (503 before the first). Returns 0,
 * -EINVAL (bad address), -EADDRINUSE or another errno of the listening socket. err (may be
 * NULL) gets a one-line reason. pub is borrowed and must outlive the server. */
int dvmq_metrics_http_start(const struct dvmq_metrics_http_config *cfg, struct dvmq_snapshot_pub *pub,
			    struct dvmq_metrics_http **out, char *err, size_t err_len);
uint16_t dvmq_metrics_http_port(const struct dvmq_metrics_http *h);
/* Stops the thread. NULL: no-op. */
void dvmq_metrics_http_stop(struct dvmq_metrics_http *h);

#endif
