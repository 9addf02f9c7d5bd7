/* dvmq run: a scenario on the real data plane. The `gen` port plays the scenario's traffic into
 * the classifier, one pinned worker per processor serves the queues, and the control thread
 * samples /proc/stat and the workers every interval, feeds the engine and applies its plan.
 * Metrics have the simulator's definitions (DESIGN section 7), plus what only real frames show:
 * reordering, malformed frames, and loss no counter explains.
 * Thread safety: one run per process at a time (it pins threads to the CPUs it uses). */
#ifndef DVMQ_RUN_H
#define DVMQ_RUN_H

#include <stdio.h>

#include "dvmq/frame.h"
#include "dvmq/scenario.h"
#include "dvmq/sim.h"

struct dvmq_run_options {
	uint64_t duration_ns;                     /* 0: the scenario's */
	const struct dvmq_engine_params *params;  /* NULL: the scenario's [engine] */
	uint32_t max_cpus;                        /* 0: every CPU this process may use */
	FILE *live;                               /* live view every second, or NULL */
	bool live_redraw;                         /* redraw in place (a terminal) */
	FILE *notes;                              /* notes such as capping, or NULL */
};

struct dvmq_run_result {
	struct dvmq_result r;                 /* same fields as the simulator */
	uint64_t reordered;                       /* frames behind a later one of their flow */
	uint64_t lost;                            /* sent - delivered - counted drops - in flight */
	/* The same, flow by flow, from what each VM's sink received: every flow's order checked, and
	 * the frames flows miss (sent, never received) against the data plane's counted fates */
	uint64_t flows;                           /* flows checked */
	uint64_t flows_reordered;                 /* flows with a frame behind a later one */
	uint64_t flows_missing;                   /* sum over flows of sent - received */
	uint64_t flows_unexplained;               /* flows_missing - dropped - flooded - filtered - in flight */
	uint64_t verdict[DVMQ_FRAME_VERDICT_COUNT]; /* malformed / unsupported by reason */
	uint32_t processors, scenario_processors;
	uint32_t awake_end, parked_end;           /* processors owning queues, or none, at the end */
	double rate_scale;                        /* offered loads were multiplied by this */
	double work_ns_per_byte;
};

/* Runs until the duration ends. Returns 0, -EINVAL (the engine refuses the scenario; diag says
 * why), -ENOMEM, or the errno of a failed thread creation. */
int dvmq_run(const struct dvmq_scenario *s, const struct dvmq_run_options *o, struct dvmq_run_result *res,
	     struct dvmq_diag *diag);

#endif
