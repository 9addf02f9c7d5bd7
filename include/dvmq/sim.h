/* The simulator: runs the engine on a modelled host driven by a scenario, on a virtual clock.
 * Host model and metrics follow DESIGN sections 6 and 7; docs/simulator.md gives the details.
 * A run is deterministic: the same scenario and parameters give the same result, bit for bit.
 * Thread safety: runs share nothing; several may go at once on different threads. */
#ifndef DVMQ_SIM_H
#define DVMQ_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dvmq/engine.h"
#include "dvmq/metrics.h"
#include "dvmq/scenario.h"

/* Optional time-series sinks, one row per interval (CSV, header written by the simulator);
 * NULL to skip. */
struct dvmq_sim_sinks {
	FILE *processors; /* time_s,processor,load,network_load,awake (one row per processor) */
	FILE *load;       /* time_s,cpu0,cpu1,... (each processor's load, one column each) */
	FILE *vms;        /* time_s,vm,offered_pps,delivered_pps,dropped_pps,latency_us */
	FILE *moves;      /* time_s,queue,vm,from,to,reason,queue_load,src_before,src_after,... */
	FILE *awake;      /* time_s,awake,oracle,dropped_pps,p99_us (the interval's p99 latency) */
	FILE *groups;     /* time_s,vm,queues,max_queues (VMs with max-queues > 1, each interval) */
	FILE *buckets;    /* time_s,vm,bucket,from,to,from_proc,to_proc,reason,bucket_load,pingpong;
	                   * and group changes as time_s,vm,-1,queue,-,processor,-,grow|shrink:WHY,... */
};

/* Runs the scenario under `params` (NULL: the scenario's own [engine] parameters).
 * Returns 0, -EINVAL (scenario the engine refuses; diag says why) or -ENOMEM. */
int dvmq_sim_run(const struct dvmq_scenario *s, const struct dvmq_engine_params *params,
		 const struct dvmq_sim_sinks *sinks, struct dvmq_result *res, struct dvmq_diag *diag);

/* Runs with the duration replaced (benchmarks); otherwise as dvmq_sim_run. */
int dvmq_sim_run_for(const struct dvmq_scenario *s, const struct dvmq_engine_params *params,
		     uint64_t duration_ns, const struct dvmq_sim_sinks *sinks,
		     struct dvmq_result *res, struct dvmq_diag *diag);

#endif
