/* Benchmark of the data plane with 64-byte frames (dvmq bench dataplane).
 *   limit loop: the bare generate-parse-lookup-enqueue-dequeue loop on one thread, with the data
 *               plane's own parts and tables: the work the full path cannot avoid;
 *   full path:  the uplink thread (generator + classifier) feeding one pinned worker on another
 *               CPU (switch work, delivery into sink ports that check every frame's sequence),
 *               offered more than it takes (the excess dropped at the ring): frames delivered/s;
 *   handoffs:   a queue moved between two workers every millisecond under 1 Mpps, timed from
 *               the move request to the new owner serving.
 * One noisy run decides nothing: limit and full path run in interleaved pairs (so both see the
 * same machine), at least min_runs pairs and until the last min_runs ratios agree within 10 %
 * (or max_runs); every figure is reported as median, min and max over the runs. */
#ifndef DVMQ_CLI_BENCH_DATAPLANE_H
#define DVMQ_CLI_BENCH_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#define DP_BENCH_MAX_RUNS 31u

struct dp_bench_stat {
	double median, min, max;
};

struct dp_bench_options {
	double run_s;                 /* each measurement (limit, full path, handoffs), seconds */
	unsigned min_runs, max_runs;  /* 1..DP_BENCH_MAX_RUNS */
};

struct dp_bench_result {
	unsigned runs;
	bool stable;                  /* the last min_runs ratios agreed within 10 % */
	struct dp_bench_stat limit_mpps, dataplane_mpps_per_worker, ratio;
	struct dp_bench_stat handoff_us_p50, handoff_us_p99;
	uint64_t handoffs;            /* timed, over all runs */
};

/* Returns 0 or -errno (a data plane or thread could not be created). */
int dp_bench_run(const struct dp_bench_options *o, struct dp_bench_result *out);

#endif
