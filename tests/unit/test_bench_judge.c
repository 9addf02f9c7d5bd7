/* dvmq bench dataplane's judge (src/cli/bench_judge.c, issue 18 §1): a run whose threads waited
 * for their CPU, or during which the host ran a fixed compute kernel slower than its fastest, is
 * rejected with its reason, and only clean runs make a result stable. Runs are made up. */
#include <string.h>

#include "../harness.h"
#include "../../src/cli/bench_dataplane.h"

/* A clean-looking run: threads never waited, kernel 10 ms on both CPUs, the given ratio. */
static struct dp_bench_run good(double ratio)
{
	struct dp_bench_run r;
	memset(&r, 0, sizeof(r));
	r.cpu[0] = 0, r.cpu[1] = 1;
	r.ratio = ratio;
	for (unsigned t = 0; t < DP_BENCH_THREADS; t++)
		r.wall_ns[t] = 400e6, r.wait_ns[t] = 1e6; /* 0.25 % */
	for (unsigned w = 0; w < 2; w++)
		r.kernel_ns[w][0] = r.kernel_ns[w][1] = 10e6;
	return r;
}

TEST(bench_judge_clean_runs_that_agree_are_stable)
{
	struct dp_bench_run r[3] = { good(0.86), good(0.88), good(0.90) };
	CHECK(dp_bench_judge(r, 3, 3));
	CHECK(r[0].clean && r[1].clean && r[2].clean && r[0].why[0] == '\0');
	r[2].ratio = 0.60; /* the spread is 0.30 / 0.86 */
	CHECK(!dp_bench_judge(r, 3, 3));
	CHECK(!dp_bench_judge(r, 2, 3)); /* fewer clean runs than min_runs */
}

TEST(bench_judge_a_thread_short_of_cpu_rejects_the_run_and_stability)
{
	/* the case: ratios that agree (0.33) on a host where both threads waited */
	struct dp_bench_run r[4] = { good(0.33), good(0.33), good(0.33), good(0.33) };
	r[1].wait_ns[DP_BENCH_WORKER] = 0.06 * 400e6;
	CHECK(!dp_bench_judge(r, 3, 3));
	CHECK(r[0].clean && !r[1].clean && r[2].clean);
	CHECK_MSG(strstr(r[1].why, "worker waited for its CPU 6 % of the time (24.0 ms)"), "%s", r[1].why);
	/* a fourth clean run makes three clean ones: stable, the rejected one left out */
	CHECK(dp_bench_judge(r, 4, 3));
	r[3].wait_ns[DP_BENCH_LIMIT_WORKER_CPU] = 0.5 * 400e6;
	CHECK(!dp_bench_judge(r, 4, 3));
	CHECK_MSG(strstr(r[3].why, "limit loop (worker's CPU) waited"), "%s", r[3].why);
	/* just under the bound is clean */
	r[3].wait_ns[DP_BENCH_LIMIT_WORKER_CPU] = 0.049 * 400e6;
	CHECK(dp_bench_judge(r, 4, 3) && r[3].clean);
}

TEST(bench_judge_a_slowed_host_shows_in_the_compute_kernel)
{
	/* no thread waited (no steal, nothing else runnable), yet the same work took 1.3x longer */
	struct dp_bench_run r[4] = { good(0.88), good(0.33), good(0.88), good(0.88) };
	r[1].kernel_ns[1][1] = 13e6;
	CHECK(!dp_bench_judge(r, 3, 3));
	CHECK(!r[1].clean && r[0].clean && r[2].clean);
	CHECK_MSG(strstr(r[1].why, "the compute kernel took 1.30x its fastest time on CPU 1 (13.0 ms)"), "%s", r[1].why);
	CHECK(dp_bench_judge(r, 4, 3));
	/* the fastest is over all runs: a later faster kernel rejects the runs before it */
	r[3].kernel_ns[0][0] = r[3].kernel_ns[1][0] = 8e6;
	CHECK(!dp_bench_judge(r, 4, 3));
	CHECK(!r[0].clean && !r[2].clean && r[3].clean);
	CHECK_MSG(strstr(r[0].why, "1.25x its fastest time on CPU 0"), "%s", r[0].why);
}
