/* Benchmark of the data plane with 64-byte frames (dvmq bench dataplane).
 *   limit loop: the bare generate-parse-lookup-enqueue-dequeue loop on one thread, with the data
 *               plane's own parts and tables: the work the full path cannot avoid; run on the
 *               uplink's CPU and on the worker's, the lower counts (a CPU whose neighbour is
 *               busier is slower);
 *   full path:  the uplink thread (generator + classifier) feeding one pinned worker on another
 *               CPU (switch work, delivery into sink ports that check every frame's sequence),
 *               offered more than it takes (the excess dropped at the ring): frames delivered/s;
 *   handoffs:   a queue moved between two workers every millisecond under 1 Mpps, timed from
 *               the move request to the new owner serving.
 * Each figure also per CPU-second of the thread that does the work (its CPU clock): what the code
 * costs, whatever share of a shared machine it got.
 * A shared or slowed host lies, so every run is judged (bench_judge.c): each timed thread's
 * run-queue delay (/proc/self/task/TID/schedstat) must stay under DP_BENCH_MAX_WAIT of the wall
 * time, and a fixed compute kernel, timed by its thread's CPU clock on both CPUs before and after
 * the run, must stay within DP_BENCH_MAX_SLOW of its fastest in this benchmark (a host that slows
 * without steal time shows there). A rejected run says why, is reported, and is retried; figures
 * are medians over clean runs only, and the result is stable only when the last min_runs clean
 * runs' ratios agree within 10 %. */
#ifndef DVMQ_CLI_BENCH_DATAPLANE_H
#define DVMQ_CLI_BENCH_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#define DP_BENCH_MAX_RUNS 31u
#define DP_BENCH_MAX_WAIT 0.05       /* a thread waiting for its CPU longer than this share: rejected */
#define DP_BENCH_MAX_SLOW 0.15       /* the kernel this much slower than its fastest: rejected */
#define DP_BENCH_STABLE_SPREAD 0.10  /* (max - min) / median of the last ratios */

struct dp_bench_stat {
	double median, min, max;
};

struct dp_bench_options {
	double run_s;                 /* each measurement (limit, full path, handoffs), seconds */
	unsigned min_runs, max_runs;  /* 1..DP_BENCH_MAX_RUNS */
};

/* The threads a run times (wall_ns/wait_ns index). */
enum dp_bench_thread {
	DP_BENCH_LIMIT_UPLINK_CPU,    /* the limit loop on the uplink's CPU */
	DP_BENCH_LIMIT_WORKER_CPU,    /* the limit loop on the worker's CPU */
	DP_BENCH_UPLINK,              /* the full path's uplink thread */
	DP_BENCH_WORKER,              /* the full path's worker */
	DP_BENCH_THREADS
};

/* One run: a limit loop on each CPU and the full path, measured back to back. */
struct dp_bench_run {
	int cpu[2];                        /* the uplink's CPU, the worker's */
	double limit_mpps_on[2];           /* the limit loop on each CPU */
	double limit_mpps;                 /* the lower */
	double limit_mpps_per_cpu_s;       /* frames per CPU-second of that loop's thread, in M */
	double full_mpps;                  /* delivered per second by the worker */
	double full_mpps_per_cpu_s;        /* per CPU-second of its busier thread (uplink or worker) */
	double uplink_mpps_per_cpu_s;      /* frames classified per CPU-second of the uplink thread
	                                    * (generator and classifier: its own cost per frame) */
	double worker_mpps_per_cpu_s;      /* frames delivered per CPU-second of the worker */
	double uplink_cpu_share, worker_cpu_share; /* CPU time / wall over the measurement */
	double ratio;                      /* full_mpps / limit_mpps */
	double ratio_per_cpu_s;            /* full_mpps_per_cpu_s / limit_mpps_per_cpu_s */
	double wall_ns[DP_BENCH_THREADS], wait_ns[DP_BENCH_THREADS]; /* run-queue delay over wall */
	double kernel_ns[2][2];            /* [before, after][cpu]: the compute kernel's CPU time */
	double handoff_us_p50, handoff_us_p99;
	uint64_t handoffs;
	bool clean;                        /* dp_bench_judge's verdict */
	char why[512];                     /* why not, "" when clean */
};

struct dp_bench_result {
	unsigned runs, clean_runs;
	bool stable;                  /* the last min_runs clean runs' ratios agreed within 10 % */
	struct dp_bench_stat limit_mpps, dataplane_mpps_per_worker, ratio;   /* over clean runs */
	struct dp_bench_stat limit_mpps_per_cpu_s, dataplane_mpps_per_cpu_s, ratio_per_cpu_s;
	struct dp_bench_stat uplink_cpu_share, worker_cpu_share;
	struct dp_bench_stat handoff_us_p50, handoff_us_p99;
	uint64_t handoffs;            /* timed, over all runs */
	struct dp_bench_run run[DP_BENCH_MAX_RUNS]; /* every run, rejected ones with their reason */
};

/* Returns 0 or -errno (a data plane or thread could not be created). */
int dp_bench_run(const struct dp_bench_options *o, struct dp_bench_result *out);

/* bench_judge.c: marks each of runs[0..n) clean or not (why), against the fastest compute kernel
 * over all n; returns whether the last min_runs clean runs are stable. Pure. */
bool dp_bench_judge(struct dp_bench_run *runs, unsigned n, unsigned min_runs);
/* Median, min and max of v[0..n) (zeros for n == 0); n <= DP_BENCH_MAX_RUNS. */
struct dp_bench_stat dp_bench_stat_of(const double *v, unsigned n);

#endif
