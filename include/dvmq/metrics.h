/* Metrics shared by the simulator and the data plane, so both define them identically
 * (DESIGN section 7, docs/simulator.md): the result of a run, load steps with reaction and
 * settle times, ping-pongs and returns, and the derived ratios.
 * Not thread-safe: the control thread (or the simulator) owns these objects. */
#ifndef DVMQ_METRICS_H
#define DVMQ_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "dvmq/engine.h"
#include "dvmq/scenario.h"

/* One VM's queue group (VMMQ) over a run. */
#define DVMQ_RESULT_GROUPS 32u /* VMs with max-queues > 1 reported one by one; the rest in totals */
struct dvmq_group_result {
	char vm[DVMQ_NAME_MAX];
	uint32_t max_queues;
	double queues_mean;          /* time-weighted queues of its group while it was present */
	uint32_t queues_max;
	uint64_t bucket_moves, grows, shrinks;
};

/* What one run of one policy measured; the same fields for `dvmq sim` and `dvmq run`. The JSON
 * and table field names (report.h) are these names. */
struct dvmq_result {
	enum dvmq_policy policy;
	uint64_t delivered, dropped;
	double offered, backlog_end;  /* packets; offered = delivered + dropped + backlog_end */
	double drop_ratio;            /* dropped / (delivered + dropped) */
	double latency_p50_us, latency_p99_us, latency_p999_us;
	double worst_window_p99_us;   /* worst p99 over 100 ms windows */
	double awake_processors_mean; /* time-weighted processors owning >= 1 queue */
	double busy_core_seconds;     /* network processing, move penalties included */
	uint64_t moves;
	uint64_t pingpongs;           /* B->A less than 1 s after A->B */
	uint64_t returns_10s;         /* back to a processor the queue left less than 10 s before */
	uint64_t single_queue_overloads; /* overloads of one queue alone that no move can fix (the
	                               * engine's dvmq_plan.overloads; each counted once, when it starts) */
	double moves_per_queue_minute;
	bool has_reaction, has_settle;
	double reaction_ms, settle_ms; /* worst over the load steps that overloaded a processor */
	uint32_t steps, unanswered_steps;
	double imbalance_mean;
	double oracle_processors_mean;
	double awake_over_oracle;     /* awake_processors_mean / oracle_processors_mean */
	uint64_t oracle_unavoidable_drops;
	double simulated_s;
	/* queue groups (VMMQ): bucket moves and their ping-pongs (a bucket B->A less than 1 s after
	 * A->B, queues as A and B), group changes, and the single-queue overloads by why their group
	 * did not help (indexed by enum dvmq_overload_group) */
	uint64_t bucket_moves, bucket_pingpongs, group_grows, group_shrinks;
	uint64_t overloads_by_group[DVMQ_OVERLOAD_GROUP_COUNT];
	uint32_t n_groups;           /* VMs with max-queues > 1 (groups[] holds the first ones) */
	struct dvmq_group_result groups[DVMQ_RESULT_GROUPS];
};

/* Fills the derived fields from the counted ones, one definition for every host of the engine:
 * drop_ratio, moves_per_queue_minute (queue_ns: the time integral of active queues, in
 * queue-nanoseconds) and awake_over_oracle. */
void dvmq_result_derive(struct dvmq_result *r, double queue_ns);

struct dvmq_steps;

/* Finds the scenario's load steps (a VM's offered load jumping up by a tenth of a processor or
 * more; steps within one interval merge). Returns 0 or -ENOMEM. */
int dvmq_steps_create(const struct dvmq_scenario *s, uint64_t duration_ns, struct dvmq_steps **out);
void dvmq_steps_destroy(struct dvmq_steps *st);
/* End of a sampling interval at `now`: steps that happened during it are judged. A step counts
 * (a move can answer it) when some processor is then over `high` and holds at least two movable
 * queues: movable_on[p] is the number of p's queues whose load in the interval is at least the
 * spread floor (with one such queue only, e.g. an elephant among crumbs, no legal move relieves
 * p). A caller that passes all queues per processor gets the older, looser judge. An unanswered
 * step whose hot processors are all back under `high` is closed: it stays unanswered. `bad`:
 * drops or p99 over target. */
void dvmq_steps_interval(struct dvmq_steps *st, uint64_t now, const struct dvmq_proc_sample *ps,
			 const uint32_t *movable_on, uint32_t n_procs, double high, bool bad);
/* A move at `now`: the first one off a hot processor (not a coalesce) answers the open step. */
void dvmq_steps_move(struct dvmq_steps *st, const struct dvmq_move *mv, uint64_t now);
/* Fills steps, unanswered_steps, has_reaction/reaction_ms, has_settle/settle_ms. */
void dvmq_steps_finish(const struct dvmq_steps *st, struct dvmq_result *r);

/* Recent moves of one queue: a ping-pong is a move B->A less than 1 s after A->B (the seed's
 * definition); a return is a move back to a processor the queue left less than 10 s before
 * (ping-pong in all but name when the moves are further apart than the ping-pong window). */
#define DVMQ_PINGPONG_WINDOW_NS 1000000000ull
#define DVMQ_RETURN_WINDOW_NS 10000000000ull
#define DVMQ_QUEUE_MOVES_RECENT 16u /* dwell 1 s allows at most 10 moves in the return window */

enum { DVMQ_MOVE_PINGPONG = 1u, DVMQ_MOVE_RETURN = 2u };

struct dvmq_queue_moves {
	struct { uint32_t from, to; uint64_t at; } recent[DVMQ_QUEUE_MOVES_RECENT];
	uint32_t n;
};

/* Records the move; returns DVMQ_MOVE_PINGPONG and/or DVMQ_MOVE_RETURN (0: neither). */
unsigned dvmq_queue_moves_record(struct dvmq_queue_moves *m, uint32_t from, uint32_t to, uint64_t now);
/* An operator's move (a processor-set change, a pin, a policy change, `dvmqctl rebalance`): not
 * a ping-pong nor a return, and the history starts over, so that no engine move pairs with one
 * made before it. Ping-pongs and returns are the engine's own back-and-forth only. */
void dvmq_queue_moves_operator(struct dvmq_queue_moves *m);
/* A queue slot given to another VM starts a new history. */
void dvmq_queue_moves_reset(struct dvmq_queue_moves *m);

#endif
