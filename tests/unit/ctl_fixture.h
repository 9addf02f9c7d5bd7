/* A fake daemon state behind struct dvmq_ctl_state_ops, for the control command tests, the ctl
 * fuzz target and the fake daemon that dvmqctl's tests talk to. A small deterministic host: VMs
 * get a VMQ while the pool lasts (weight > 0), placed round-robin over the processor set; each
 * queue has a load the test sets; `rebalance` moves the biggest queue off the busiest processor
 * when that lowers the maximum; counters grow with ctl_fake_tick.
 * Not thread-safe (the control thread's view). */
#ifndef DVMQ_CTL_FIXTURE_H
#define DVMQ_CTL_FIXTURE_H

#include "dvmq/ctl_state.h"

#define FAKE_MAX_PROCS 8u
#define FAKE_MAX_VMS 16u
#define FAKE_POOL 8u
#define FAKE_LOG 64u
#define FAKE_HIST 32u

struct fake_vm {
	bool used;
	char name[DVMQ_SNAP_NAME_MAX];
	uint8_t mac[6];
	uint16_t vlan;
	uint32_t weight;
	char port[DVMQ_SNAP_PORT_MAX];
	uint32_t queue;      /* DVMQ_DEFAULT_QUEUE without a VMQ */
	double load;         /* network load its traffic puts on its queue */
	uint32_t file_weight; /* the weight it was added with: the fake's config file says that */
	uint32_t max_queues; /* VMMQ: with 2 or more and a free queue, a second one (queue2) takes
	                      * its odd buckets */
	uint32_t queue2;     /* DVMQ_DEFAULT_QUEUE: none */
};

struct fake_queue {
	bool active;
	uint32_t vm;         /* DVMQ_SNAP_NO_VM for the default queue */
	uint32_t proc, home;
	uint64_t packets, bytes, busy_ns, drops[DVMQ_SNAP_DROP_COUNT], moves, last_move_ns;
	bool moved;
	bool pinned;         /* queue.set: rebalance leaves it */
};

struct ctl_fake {
	uint32_t n_procs;
	bool in_set[FAKE_MAX_PROCS];
	double other_load[FAKE_MAX_PROCS];  /* non-network load per processor */
	struct dvmq_snap_adapter adapter;
	struct fake_vm vms[FAKE_MAX_VMS];
	struct fake_queue queues[FAKE_POOL + 1];
	uint32_t next_proc;
	struct dvmq_engine_params params;
	uint64_t interval_ns, now_ns;
	struct dvmq_snap_move log[FAKE_LOG];
	uint32_t n_log;
	uint64_t seq, moves_by_reason[DVMQ_REASON_COUNT], pingpongs, plans, frames_rx, frames_delivered;
	double plan_seconds;
	uint64_t plan_buckets[DVMQ_SNAP_PLAN_BUCKETS + 1];
	int fail;                           /* != 0: every mutation fails with it (tests `internal`) */
	uint64_t cleared_ns;
	/* per processor, since the start or the last clear (ctl_fake_tick) */
	uint64_t p_busy_ns[FAKE_MAX_PROCS], p_frames[FAKE_MAX_PROCS], p_ring_full[FAKE_MAX_PROCS],
		p_wakeups[FAKE_MAX_PROCS];
	/* the load history: a row per tick, the newest FAKE_HIST */
	uint32_t n_hist;
	uint64_t h_t[FAKE_HIST];
	float h_proc[FAKE_HIST][FAKE_MAX_PROCS], h_queue[FAKE_HIST][FAKE_POOL + 1], h_drops[FAKE_HIST];
	uint16_t h_awake[FAKE_HIST];
	uint32_t h_moves[FAKE_HIST];
	/* called with every move (the server tests publish it as a "move" event) */
	void (*on_move)(void *ctx, const struct dvmq_snap_move *m);
	void *on_move_ctx;
};

extern const struct dvmq_ctl_state_ops ctl_fake_ops;
/* The same without the optional ops (queue_set, rebalance_dry_run, stats_clear, history,
 * config_show, config_diff): what an older daemon answers. */
extern const struct dvmq_ctl_state_ops ctl_fake_ops_minimal;

/* n_procs processors (<= FAKE_MAX_PROCS), all in the set, default parameters, no VMs. */
void ctl_fake_init(struct ctl_fake *f, uint32_t n_procs);
/* Adds a VM directly (as the configuration would); returns 0 or the op's errno. */
int ctl_fake_add(struct ctl_fake *f, const char *name, const char *mac, uint32_t weight, double load);
/* Moves queue q to processor `to` now, logged and published as a spread. */
void ctl_fake_move(struct ctl_fake *f, uint32_t q, uint32_t to);
/* Advances time: counters grow with each queue's load, as 1 us of work per 1000-byte packet. */
void ctl_fake_tick(struct ctl_fake *f, uint64_t dt_ns);

/* A socket path in a private directory (mode 0755: other users may reach the socket), made on
 * first use and removed at exit whatever the test's outcome; NULL when it cannot be made. */
const char *ctl_test_sock_path(void);
uint64_t ctl_test_mono_ns(void);

/* on_move for a fake serving on a real server: publishes the move there (test_ctl_server.c). */
void ctl_fake_publish_move(void *server, const struct dvmq_snap_move *m);

#endif
