/* Which runs of `dvmq bench dataplane` count (bench_dataplane.h): a pure function of what each
 * run measured, so its rules are tested on made-up runs (tests/unit/test_bench_judge.c).
 * A run is clean when every thread it timed got its CPU (run-queue delay under DP_BENCH_MAX_WAIT
 * of the wall time: the scheduler gave it away to other programs) and the host ran the fixed
 * compute kernel, before and after the run on both CPUs, within DP_BENCH_MAX_SLOW of the fastest
 * the kernel ran on that CPU in this benchmark (a host that slows without showing steal time:
 * the thread's CPU time passes, the work does not get done). Only clean runs are summarised,
 * and only clean runs can be stable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_dataplane.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct dp_bench_stat dp_bench_stat_of(const double *v, unsigned n)
{
	struct dp_bench_stat st = { 0.0, 0.0, 0.0 };
	if (n == 0)
		return st;
	double s[DP_BENCH_MAX_RUNS];
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	st.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
	st.min = s[0];
	st.max = s[n - 1];
	return st;
}

/* Appends a reason to r->why ("; " between reasons). */
static void why(struct dp_bench_run *r, const char *reason)
{
	size_t n = strlen(r->why);
	snprintf(r->why + n, sizeof(r->why) - n, "%s%s", n ? "; " : "", reason);
}

static const char *const THREAD_NAMES[DP_BENCH_THREADS] = {
	[DP_BENCH_LIMIT_UPLINK_CPU] = "limit loop (uplink's CPU)",
	[DP_BENCH_LIMIT_WORKER_CPU] = "limit loop (worker's CPU)",
	[DP_BENCH_UPLINK] = "uplink thread",
	[DP_BENCH_WORKER] = "worker",
};

bool dp_bench_judge(struct dp_bench_run *runs, unsigned n, unsigned min_runs)
{
	double best[2] = { 0.0, 0.0 };
	for (unsigned i = 0; i < n; i++)
		for (unsigned when = 0; when < 2; when++)
			for (unsigned c = 0; c < 2; c++) {
				double k = runs[i].kernel_ns[when][c];
				if (k > 0.0 && (best[c] == 0.0 || k < best[c]))
					best[c] = k;
			}
	for (unsigned i = 0; i < n; i++) {
		struct dp_bench_run *r = &runs[i];
		r->why[0] = '\0';
		for (unsigned t = 0; t < DP_BENCH_THREADS; t++) {
			double wall = r->wall_ns[t], wait = r->wait_ns[t];
			if (wall > 0.0 && wait > DP_BENCH_MAX_WAIT * wall) {
				char m[128];
				snprintf(m, sizeof(m), "%s waited for its CPU %.0f %% of the time (%.1f ms)",
					 THREAD_NAMES[t], 100.0 * wait / wall, wait * 1e-6);
				why(r, m);
			}
		}
		for (unsigned c = 0; c < 2; c++) {
			double worst = r->kernel_ns[0][c] > r->kernel_ns[1][c] ? r->kernel_ns[0][c] : r->kernel_ns[1][c];
			if (best[c] > 0.0 && worst > best[c] * (1.0 + DP_BENCH_MAX_SLOW)) {
				char m[128];
				snprintf(m, sizeof(m), "the compute kernel took %.2fx its fastest time on CPU %d (%.1f ms)",
					 worst / best[c], r->cpu[c], worst * 1e-6);
				why(r, m);
			}
		}
		r->clean = r->why[0] == '\0';
	}
	/* stable: the last min_runs clean runs' ratios within DP_BENCH_STABLE_SPREAD */
	double ratio[DP_BENCH_MAX_RUNS];
	unsigned k = 0;
	for (unsigned i = n; i-- > 0 && k < min_runs;)
		if (runs[i].clean)
			ratio[k++] = runs[i].ratio;
	if (k < min_runs || k == 0)
		return false;
	struct dp_bench_stat st = dp_bench_stat_of(ratio, k);
	return st.median > 0.0 && (st.max - st.min) / st.median <= DP_BENCH_STABLE_SPREAD;
}
