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
	bool has_weight, has_vlan;
	uint32_t weight;
	uint16_t vlan;
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
