/* State of one `dvmq run` (include/dvmq/run.h), shared by its files:
 *   run.c          setup from the config, the control thread's event loop, the clean stop
 *   run_vms.c      VM slots in and out of the engine and the data plane, the data plane kept
 *                  in step with the engine (run_sync_dp), scenario arrivals and departures
 *   run_metrics.c  the sampling round (samples, plan, moves) and the result
 *   run_ctl.c      the control commands' state ops, snapshots, the socket and metrics page
 *   run_reload.c   SIGHUP: the file again, applied as a diff
 *   run_view.c     the live view
 *   run_devices.c  VMs whose device comes and goes (rtnetlink: src/port/devwatch.h), TAPs lost
 *   run_ctl_ops.c  the operator's commands: pins, dry runs, stats clear, history, config
 *   run_config.c   the running configuration (config show, config diff, the reload's base)
 *   run_history.c  the load history ring
 *   dpif.h         the data plane behind one ops table (r->dpif): dpif_user*.c is the userspace
 *                  switch with its ports and threads; every frame is the data plane's business
 * Threads: the control thread owns everything here; the data plane's own threads (dpif_*.c)
 * touch only its private state (r->dpif_priv) and the atomics marked below.
 * Invariant: a VM slot `attached` is in the engine (adapter_id) and in the data plane
 * (ops->vm_add), and only then does the generator send it traffic; it is attached only while
 * its port is open (`port_open`: a VM whose device is absent is configured but detached). */
#ifndef DVMQ_RUN_INTERNAL_H
#define DVMQ_RUN_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "dvmq/config.h"
#include "dvmq/ctl_state.h"
#include "dvmq/dp.h"
#include "dpif.h"
#include "dvmq/metrics.h"
#include "dvmq/run.h"
#include "procstat.h"

#define RUN_LOG_MOVES 4         /* moves and overloads in the live view */
#define RUN_MOVE_HISTORY 1000u  /* moves kept for `dvmqctl moves` and explain */
#define RUN_SPARE_VMS 1024u     /* room for VMs added at run time, beyond the config's */
#define RUN_NO_SLOT UINT32_MAX

struct run_vm {
	bool used;                 /* the slot holds a VM */
	bool attached;             /* in the engine and the data plane now */
	char name[DVMQ_SNAP_NAME_MAX];
	struct dvmq_adapter_desc adapter; /* weight: the configured one (vmq off gives the engine 0) */
	enum dvmq_config_port kind;
	char device[DVMQ_IFNAME_MAX];
	bool offload;
	int32_t gen_vm;            /* the scenario VM whose traffic the generator plays to it, or -1
	                            * (set by the data plane's vm_open) */
	uint32_t adapter_id, queue;
	bool port_open;            /* the data plane holds its port (false: its device is absent) */
	int ifindex;               /* its device's index while open (tap, afpacket), else 0 */
	bool tap_created;          /* a TAP dvmq created (not a persistent one it opened) */
	char netns[DVMQ_CONFIG_PATH_MAX]; /* tap: the namespace its TAP lives in, "" dvmq's own */
	struct dvmq_devwatch *nsw;  /* netns: link events there while its path exists, or NULL */
	bool nsw_warned;            /* nsw could not be opened, and a line said so */
	uint32_t pin;              /* the processor an operator pinned its queue to, or
	                            * DVMQ_NO_PROCESSOR; re-applied when it gets a queue again */
	uint64_t dev_appeared, dev_gone; /* its device came and went (log lines, metrics) */
	/* VMMQ: the group the data plane was last told (n_queues 0: none yet) and whether it hashes;
	 * bucket counters at the last sample (2 x 128, allocated for VMs with max-queues > 1) */
	struct dvmq_queue_group told;
	bool told_hashed;
	uint64_t *bucket_prev;
	uint64_t bucket_moves;
};

struct run_queue {
	struct run_dpif_queue prev, base; /* base: the counters when the slot got its VM */
	struct dvmq_queue_moves moves;
	uint32_t adapter;
	uint64_t n_moves, last_move_ns;
};

struct run {
	struct dvmq_config *cfg;          /* the running configuration (owned) */
	struct dvmq_config *first_cfg;    /* after a reload: the first one, which owns the scenario the
	                                   * uplink thread plays (r->s) for the daemon's life */
	const struct dvmq_scenario *s;    /* the gen uplink's scenario (in cfg), or NULL */
	const struct dvmq_run_options *o;
	int log_level;
	char name[128];
	struct dvmq_engine_params params;
	struct dvmq_engine *engine;
	const struct run_dpif_ops *dpif;  /* the data plane (dpif.h) */
	void *dpif_priv;                  /* its state */
	struct dvmq_steps *steps;
	uint64_t steps_end_ns;            /* steps are judged over the scenario's first run */
	uint32_t n_procs, n_queues, cap_vms, n_vms;
	int *cpus;
	uint32_t *numa;
	double scale;
	uint64_t start_ns, duration_ns, interval_ns, scenario_period_ns;
	uint64_t t_prev, elapsed_ns;      /* the last sample's time and the interval it covered */
	struct run_vm *vm;                /* cap_vms slots */
	uint32_t *adapter_vm;             /* engine adapter id -> VM slot */
	struct run_queue *q;
	struct dvmq_proc_sample *ps;
	struct dvmq_queue_sample *qs;
	struct procstat_cpu *stat_prev, *stat_now;
	uint32_t *queues_on;
	uint32_t *movable_on;             /* per processor: its queues at or above the spread floor */
	uint64_t *lat_prev, *lat_now;     /* summed over workers */
	/* the adapter as dvmqctl sets it: engine processor numbers */
	bool vmq;
	uint32_t set_base, set_max, set_max_number;
	int32_t set_numa;
	bool *set_allowed;
	_Atomic bool thread_failed;       /* a data plane thread could not start its work (any thread) */
	/* the control loop */
	int tfd, sfd;
	sigset_t old_mask;
	bool mask_set;
	struct dvmq_ctl_registry *reg;
	struct dvmq_ctl_server *srv;
	struct dvmq_snapshot_pub *pub;
	struct dvmq_metrics_http *http;
	struct dvmq_ctl_state st;
	struct dvmq_snapshot *snap;       /* the latest state built, while nothing changed since */
	struct dvmq_snapshot *acc;        /* counters only: moves by reason, ping-pongs, plan time */
	struct dvmq_snap_move *mlog;      /* RUN_MOVE_HISTORY, a ring */
	uint32_t mlog_head, mlog_n;
	uint64_t reloads, reloads_refused;
	/* metrics */
	uint64_t moves, pingpongs, returns, overloads, n_intervals, drops_prev;
	uint64_t bucket_moves, group_grows, group_shrinks; /* VMMQ */
	uint64_t move_seq;               /* the last seq of the move log (queue and bucket moves) */
	struct dvmq_bucket_sample *bs;    /* the interval's per-bucket samples (VMs with groups) */
	uint32_t n_bs, cap_bs;
	double queue_ns;           /* active queues x time, for moves per queue-minute */
	double awake_ns, oracle_ns, imbalance_sum, unavoidable, busy_ns, worst_p99_ns, sampled_ns;
	struct dvmq_oracle *oracle;     /* run_metrics.c: the simulator's oracle, from measurements */
	double *proc_net, *remaining;   /* per processor: network load, capacity left under high */
	double *queue_load;             /* per queue: demand in the interval */
	char move_log[RUN_LOG_MOVES][160];
	uint32_t n_log;
	char overload_log[RUN_LOG_MOVES][300]; /* the latest queues stuck over high, as they started */
	uint64_t no_room;                 /* queues stuck over high by other work (not single-queue) */
	uint32_t n_overload_log;
	uint64_t view_next_ns;
	struct dvmq_devwatch *devwatch;   /* devices of VMs coming and going (run_devices.c), or NULL */
	int ns_watch;                     /* inotify on the directories of VMs' netns paths, or -1 */
	int ns_ep;                        /* epoll: ns_watch and every VM's nsw (run_devices.c), or -1 */
	struct dvmq_snapshot *cleared;    /* the counters at the last `stats clear`, or NULL */
	uint64_t *p_ring_full;            /* per processor: frames of its queues dropped, ring full */
	struct run_history *hist;         /* the load history (run_history.c) */
};

/* run.c */
void run_log(struct run *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void run_vlog(struct run *r, int level, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
uint64_t run_now(const struct run *r);
/* (Re)arms the sampling timer: every interval_ns from now. Returns 0 or -errno. */
int run_arm_timer(struct run *r);
/* Applies the --socket and --metrics overrides of o to a loaded config. Returns 0 or -EINVAL
 * (diag says why). */
int run_apply_overrides(const struct dvmq_run_options *o, struct dvmq_config *c, struct dvmq_diag *diag);
/* The engine's processor numbers of the config's processor set on the CPUs in use. */
void run_set_from_config(struct run *r, const struct dvmq_config *c);

/* run_vms.c */
/* A VM (from the config, or dvmqctl's as a config VM; name may be longer than a config's) into
 * a free slot, its port open (ops->vm_open); run_churn attaches it. Returns 0 or -errno with
 * msg; on error nothing is left. */
int run_vm_open(struct run *r, const char *name, const struct dvmq_config_vm *cv, char *msg, size_t len,
		uint32_t *slot);
/* Into the engine and the data plane; the generator plays to it. Returns 0 or -errno (msg). */
int run_vm_attach(struct run *r, uint32_t slot, char *msg, size_t len);
void run_vm_detach(struct run *r, uint32_t slot);
/* Detaches, closes the port, frees the slot. */
void run_vm_close(struct run *r, uint32_t slot);
uint32_t run_vm_find(const struct run *r, const char *name);
/* Makes the data plane follow the engine (VMs on their queues, queues on their processors) and
 * switches on the traffic of attached VMs. Returns 0 or -errno. */
int run_sync_dp(struct run *r);
/* Scenario arrivals and departures due at t. */
int run_churn(struct run *r, uint64_t t);
/* The scenario's time at run time t (it repeats when a daemon outlives it). */
uint64_t run_scenario_time(const struct run *r, uint64_t t);

/* run_metrics.c */
int run_metrics_create(struct run *r);
void run_metrics_destroy(struct run *r);
/* One sampling interval ending at t (ns since start): samples, plan, moves, metrics. */
int run_interval(struct run *r, uint64_t t);
/* Applies one plan of the engine's (made at t): each move recorded, published, handed off.
 * by_operator: an operator's doing (processor set, pin, policy, rebalance): its moves are no
 * ping-pongs or returns, and start their queues' counts over. */
int run_apply_plan(struct run *r, const struct dvmq_plan *plan, uint64_t t, bool by_operator, struct dvmq_snap_move *out,
		   size_t max, size_t *n_out);
void run_finish(struct run *r, struct dvmq_run_result *res);
const char *run_queue_vm(const struct run *r, uint32_t q);
/* The q-quantile, in ns, of a histogram of whole counts (dvmq/hist.h buckets). */
double run_hist_quantile(const uint64_t *h, double q);
/* The oracle's capacity of each processor of e's set, in set order, into remaining: `high` minus
 * its non-network load (what /proc/stat counted, ps[p].busy, beyond its workers' queue time,
 * net[p]; never below 0). Returns how many processors the set has. */
uint32_t run_oracle_capacity(const struct dvmq_engine *e, uint32_t n_procs, double high,
			     const struct dvmq_proc_sample *ps, const double *net, double *remaining);

/* run_ctl.c */
int run_ctl_start(struct run *r, struct dvmq_diag *diag);
void run_ctl_stop(struct run *r);
/* Opens, attaches and places a new VM (no device serves twice); on error nothing is left.
 * Returns 0 or -errno with msg. */
int run_ctl_add_vm(struct run *r, const char *name, const struct dvmq_config_vm *cv, char *msg, size_t len);
/* The state changed: the next snapshot is built afresh. */
void run_ctl_dirty(struct run *r);
/* After an interval: a fresh snapshot for the metrics page. */
void run_ctl_publish(struct run *r);
void run_ctl_move(struct run *r, const struct dvmq_snap_move *m);
/* The engine's processor set from the adapter fields (set_*). Returns as
 * dvmq_engine_set_processor_set, with the plan's moves applied. */
int run_apply_processor_set(struct run *r, char *msg, size_t len);
/* The control socket and metrics page of a new control section (a reload). */
int run_ctl_restart(struct run *r, const struct dvmq_config_control *old_ctl, uint32_t changed);

/* run_devices.c */
/* Opens the device watcher (the daemon's network namespace); its fd joins the control loop.
 * Returns 0 or -errno (diag). */
int run_devices_open(struct run *r, struct dvmq_diag *diag);
void run_devices_close(struct run *r);
int run_devices_fd(const struct run *r);
/* The netns watcher's descriptor (-1: none) and what to do when it fires. */
int run_devices_ns_fd(const struct run *r);
void run_devices_ns_event(struct run *r);
/* A VM with a netns path: its directory is watched, and link events in the namespace while it
 * exists (called when the VM opens, and when it closes: forget = true). */
void run_devices_follow_netns(struct run *r, uint32_t slot, bool forget);
/* The watcher said something: VMs whose device appeared are attached, gone ones detached. */
void run_devices_event(struct run *r);
/* Every interval: VM ports the data plane found lost (a TAP deleted with its namespace). */
void run_devices_check_lost(struct run *r);
/* A VM slot's device state: opens the port when the device is there (and attaches the VM),
 * closes it when it went (detaching the VM); one log line and a count per change. */
void run_vm_check_device(struct run *r, uint32_t slot, bool lost);

/* run_ctl_ops.c: the operator's state ops (ctl_state.h) */
int run_op_queue_set(void *ctx, uint32_t q, uint32_t p, struct dvmq_snap_move *move, bool *moved, char *msg,
		     size_t len);
int run_op_rebalance_dry_run(void *ctx, struct dvmq_snap_move *moves, size_t max, size_t *n, char *msg, size_t len);
int run_op_stats_clear(void *ctx, char *msg, size_t len);
int run_op_history(void *ctx, struct dvmq_ctl_history *h, char *msg, size_t len);
int run_op_config_show(void *ctx, char **text, char *path, size_t path_len, char *msg, size_t len);
int run_op_config_diff(void *ctx, void (*line)(void *lctx, const char *text), void *lctx, char *path, size_t path_len,
		       char *msg, size_t len);
/* The raw snapshot (before a clear's baseline is taken off) of run_ctl.c. */
struct dvmq_snapshot *run_ctl_build(struct run *r);

/* run_config.c */
/* The running configuration: r->cfg with what dvmqctl changed since (VMs, weights, VLANs, the
 * processor set, the policy and parameters, the interval). Fills *out, whose arrays are its own
 * and whose scenario is r->cfg's (borrowed): free it with run_config_running_free only. Returns
 * 0 or -ENOMEM. */
int run_config_running(const struct run *r, struct dvmq_config *out);
void run_config_running_free(struct dvmq_config *c);

/* run_history.c: a fixed ring of the last RUN_HISTORY_ROWS seconds */
#define RUN_HISTORY_ROWS 600u
int run_history_create(struct run *r);
void run_history_destroy(struct run *r);
/* After each interval (its loads in r->ps and r->queue_load, its moves and drops). */
void run_history_add(struct run *r, uint64_t t, uint32_t moves, uint64_t drops);
/* Lays the ring out oldest first into h (valid until the next add). Returns 0 or -ENOMEM. */
int run_history_view(struct run *r, struct dvmq_ctl_history *h);

/* run_reload.c */
void run_reload(struct run *r);

/* run_view.c */
void run_view(struct run *r, uint64_t t);

#endif
