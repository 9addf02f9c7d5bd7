/* Benchmark of the data plane with 64-byte frames (dvmq bench dataplane). The limit loop is the
 * bare parse-lookup-enqueue-dequeue loop on one thread; the full path is the uplink thread
 * (generator + classifier) feeding one pinned worker (switch work, delivery into sink ports);
 * handoffs are timed from the move request to the new owner serving, under traffic. */
#ifndef DVMQ_CLI_BENCH_DATAPLANE_H
#define DVMQ_CLI_BENCH_DATAPLANE_H

struct dvmq_dp_bench_result {
	double limit_mpps, dataplane_mpps_per_worker, ratio;
	double handoff_us_p50, handoff_us_p99;
	uint64_t handoffs;
};
/* Runs about 3 * seconds. Returns 0 or -errno. */
int dvmq_dp_bench(double seconds, struct dvmq_dp_bench_result *out);

#endif
