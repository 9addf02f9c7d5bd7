/* State of one `dvmq run` shared by run.c (threads, wiring, control loop), run_metrics.c
 * (per-interval metrics and the result) and run_view.c (the live view). The control thread owns
 * everything here except what the uplink thread reads: `stop`, each VM's `rate_on`. */
#ifndef DVMQ_RUN_INTERNAL_H
#define DVMQ_RUN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "dvmq/dp.h"
#include "dvmq/metrics.h"
#include "dvmq/run.h"
#include "procstat.h"

#define RUN_LOG_MOVES 4

struct run_vm {
	_Atomic bool rate_on;     /* the uplink thread generates its traffic */
	bool active, gone;
	uint32_t adapter, dp_vm, queue;
	uint32_t flow_base, n_flows;  /* its flows' global ids */
	double const_rate;        /* >= 0 when the load never changes */
	struct dvmq_port *sink;
	double cost_now;
};

struct run_queue {
	struct dvmq_dp_queue_stats prev;
	struct dvmq_queue_moves moves;
	uint32_t adapter;
};

struct run {
	const struct dvmq_scenario *s;
	const struct dvmq_run_options *o;
	struct dvmq_engine_params params;
	struct dvmq_engine *engine;
	struct dvmq_dp *dp;
	struct dvmq_port *gen;
	struct dvmq_steps *steps;
	uint32_t n_procs, n_queues, n_vms;
	int *cpus;
	double scale;
	uint64_t start_ns, duration_ns, interval_ns;
	struct run_vm *vm;
	struct run_queue *q;
	struct dvmq_proc_sample *ps;
	struct dvmq_queue_sample *qs;
	struct procstat_cpu *stat_prev, *stat_now;
	uint32_t *queues_on;
	uint64_t *lat_prev, *lat_now;   /* summed over workers */
	pthread_t uplink;
	bool uplink_started;
	_Atomic bool stop;
	/* metrics */
	uint64_t moves, pingpongs, returns, overloads, n_intervals, drops_prev;
	double queue_ns;           /* active queues x time, for moves per queue-minute */
	double awake_ns, oracle_ns, imbalance_sum, unavoidable, busy_ns, worst_p99_ns;
	struct dvmq_oracle *oracle;     /* run_metrics.c: the simulator's oracle, from measurements */
	double *proc_net, *remaining;   /* per processor: network load, capacity left under high */
	double *queue_load;             /* per queue: demand in the interval */
	char move_log[RUN_LOG_MOVES][160];
	uint32_t n_log;
	char overload_log[RUN_LOG_MOVES][160]; /* the latest single-queue overloads, as they started */
	uint32_t n_overload_log;
	uint64_t view_next_ns;
};

/* The metrics' own state (the oracle's). Returns 0 or -ENOMEM; destroy frees what create made. */
int run_metrics_create(struct run *r);
void run_metrics_destroy(struct run *r);
uint64_t run_now(const struct run *r);
/* One sampling interval ending at t (ns since start): samples, plan, moves, metrics. */
int run_interval(struct run *r, uint64_t t);
void run_finish(struct run *r, struct dvmq_run_result *res);
void run_view(struct run *r, uint64_t t);
const char *run_queue_vm(const struct run *r, uint32_t q);
/* The q-quantile, in ns, of a histogram of whole counts (dvmq/hist.h buckets). */
double run_hist_quantile(const uint64_t *h, double q);

#endif
