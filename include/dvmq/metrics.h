/* Metrics shared by the simulator and the data plane, so both define them identically
 * (DESIGN section 7): load steps with reaction and settle times, and ping-pong detection.
 * Not thread-safe: the control thread (or the simulator) owns these objects. */
#ifndef DVMQ_METRICS_H
#define DVMQ_METRICS_H

#include "dvmq/engine.h"
#include "dvmq/scenario.h"
#include "dvmq/sim.h"

#define DVMQ_PINGPONG_WINDOW_NS 1000000000ull

struct dvmq_steps;

/* Finds the scenario's load steps (a VM's offered load jumping up by a tenth of a processor or
 * more; steps within one interval merge). Returns 0 or -ENOMEM. */
int dvmq_steps_create(const struct dvmq_scenario *s, uint64_t duration_ns, struct dvmq_steps **out);
void dvmq_steps_destroy(struct dvmq_steps *st);
/* End of a sampling interval at `now`: steps that happened during it are judged (counted when a
 * processor is then over `high` with two queues or more). `bad`: drops or p99 over target in it. */
void dvmq_steps_interval(struct dvmq_steps *st, uint64_t now, const struct dvmq_proc_sample *ps,
			 const uint32_t *queues_on, uint32_t n_procs, double high, bool bad);
/* A move at `now`: the first one off a hot processor (not a coalesce) answers the open step. */
void dvmq_steps_move(struct dvmq_steps *st, const struct dvmq_move *mv, uint64_t now);
/* Fills steps, unanswered_steps, has_reaction/reaction_ms, has_settle/settle_ms. */
void dvmq_steps_finish(const struct dvmq_steps *st, struct dvmq_sim_result *r);

/* Recent moves of one queue, to recognise ping-pong (B->A less than 1 s after A->B). */
#define DVMQ_PINGPONG_RECENT 8
struct dvmq_pingpong {
	struct { uint32_t from, to; uint64_t at; } recent[DVMQ_PINGPONG_RECENT];
	uint32_t n;
};
/* Records the move; returns whether it undoes one within the window. */
bool dvmq_pingpong_record(struct dvmq_pingpong *pp, uint32_t from, uint32_t to, uint64_t now);

#endif
