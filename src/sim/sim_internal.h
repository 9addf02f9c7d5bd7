/* Simulator state shared by sim.c (host model) and sim_round.c (engine rounds, metrics, sinks). */
#ifndef DVMQ_SIM_INTERNAL_H
#define DVMQ_SIM_INTERNAL_H

#include "dvmq/metrics.h"
#include "dvmq/sim.h"
#include "dvmq/hist.h"
#include "dvmq/oracle.h"

struct sim_vm {
	bool active, gone;
	bool dyn_cost, dyn_frame;  /* cost/frame come from a trace */
	double scale;
	double const_rate;         /* >= 0: the load never changes (no per-tick evaluation) */
	const struct dvmq_load *load;
	uint32_t adapter, queue;
	double cost, frame;      /* current per-packet cost (ns) and frame size */
	double rate, arr, demand_ns;
	double backlog;          /* packets waiting */
	double offered, delivered, dropped;
	double iv_delivered, iv_dropped, iv_lat_sum;
};

struct sim_queue {
	uint32_t proc, adapter;
	uint64_t cold_until;
	double gap_left_ns;
	double cost_factor, serve_frac;
	double backlog;
	double load;             /* network load offered to it this tick (base cost), for the oracle */
	/* interval counters, handed to the engine as samples */
	double busy_ns, packets, bytes, dropped;
	struct dvmq_queue_moves moves;
};

struct sim_proc {
	bool has_other;
	double other;            /* non-network load, fraction */
	double demand_ns, share, md1;
	double busy_ns;          /* network busy in the interval */
	double other_ns;         /* non-network busy in the interval */
	uint32_t n_queues;
};

struct sim {
	const struct dvmq_scenario *s;
	struct dvmq_engine_params params;
	struct dvmq_engine *engine;
	uint32_t n_vms, n_procs, n_queues, n_awake;
	struct sim_vm *vm;
	struct sim_queue *q;
	struct sim_proc *p;
	struct dvmq_proc_sample *procs_sample;
	struct dvmq_queue_sample *queues_sample;
	struct dvmq_hist *all, *window, *interval_hist;
	struct dvmq_oracle *oracle;
	uint32_t n_set;          /* processors of the processor set */
	uint32_t *set_procs;     /* their ids */
	double *remaining;       /* per set processor: high minus non-network load */
	bool capacity_dirty;     /* a non-network load changed: the oracle re-sorts */
	uint64_t next_churn;
	double delivered, dropped, iv_dropped, oracle_drops;
	double oracle_sum, awake_sum;
	double oracle_now;       /* processors the oracle needs this tick */
	double worst_window_p99;
	double imbalance_sum;
	uint64_t n_intervals, moves, pingpongs, returns, overloads;
	double queue_ns;         /* active queues x time, for moves per queue-minute */
	double busy_total_ns;
	struct dvmq_steps *steps;
	uint32_t *queues_on;     /* per processor, for the step judge */
};

void sim_sinks_header(const struct dvmq_sim_sinks *sinks);
void sim_interval(struct sim *m, uint64_t now, const struct dvmq_sim_sinks *sinks);
void sim_finish(struct sim *m, uint64_t duration_ns, struct dvmq_result *r);

#endif
