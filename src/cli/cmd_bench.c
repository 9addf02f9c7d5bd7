/* `dvmq bench`: performance numbers, printed as measured; never a test gate.
 *   engine: one planning round, 4096 queues on 256 processors, adaptive policy, loads that
 *           overload a quarter of the processors each round (~100 spread moves a round); five
 *           blocks of 2000 rounds, the median block reported with the others' range. With
 *           --groups, 16 of the VMs may hold 16 queues each (VMMQ) and carry 1 to 4
 *           processors' load that changes every 50 rounds (their groups grow, balance, shrink;
 *           per-bucket samples each round), the others as before on the rest of the pool.
 *           --rounds N shortens the blocks (an instruction count under callgrind); the plan
 *           digest (FNV-1a over every plan's decisions, and with their predicted loads) tells
 *           whether two builds planned the same rounds. Each round's thread CPU time is read
 *           beside its wall time: on a shared machine a round the scheduler interrupted reads
 *           milliseconds of wall time (the wall p99 then measures the machine), and the
 *           rounds with wall >= CPU + 100 us are counted as preempted.
 *   sim:    the big-host scenario for one simulated hour at 10 ms ticks, on one core; wall and
 *           CPU time (on a shared machine the wall time counts the others' work too).
 *   dataplane: limit loop, full path, handoffs, each run judged, repeated until stable
 *           (bench_dataplane.h). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "bench_dataplane.h"
#include "dvmq/dp.h"
#include "dvmq/engine.h"
#include "dvmq/sim.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this process: on a shared machine the wall time also counts other work */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: a round's wall time on a shared machine also holds the time the
 * scheduler gave the processor to others (a preempted round reads milliseconds), its CPU time
 * does not */
static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

enum { BG_GROUPS = 16, BG_MAX = 16 };

/* FNV-1a, 64 bits */
static void digest(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		*h ^= c[i];
		*h *= 0x100000001b3ull;
	}
}

static void digest_u32(uint64_t *h, uint32_t v)
{
	digest(h, &v, sizeof(v));
}

static void digest_f64(uint64_t *h, double v)
{
	digest(h, &v, sizeof(v));
}

/* A plan's decisions into d (which queue, bucket or group went where, and why; parks, wakes,
 * overloads, in their order) and, into l, the same with every predicted load the plan carries. */
static void digest_plan(uint64_t *d, uint64_t *l, const struct dvmq_plan *pl)
{
	for (size_t i = 0; i < pl->n_moves; i++) {
		const struct dvmq_move *m = &pl->moves[i];
		uint32_t v[4] = { m->queue, m->from, m->to, (uint32_t)m->reason };
		digest(d, v, sizeof(v));
		digest(l, v, sizeof(v));
		double f[5] = { m->queue_load, m->src_before, m->src_after, m->dst_before, m->dst_after };
		digest(l, f, sizeof(f));
	}
	for (size_t i = 0; i < pl->n_bucket_moves; i++) {
		const struct dvmq_bucket_move *m = &pl->bucket_moves[i];
		uint32_t v[7] = { m->adapter, m->bucket, m->from, m->to, m->from_proc, m->to_proc, (uint32_t)m->reason };
		digest(d, v, sizeof(v));
		digest(l, v, sizeof(v));
		double f[5] = { m->bucket_load, m->src_before, m->src_after, m->dst_before, m->dst_after };
		digest(l, f, sizeof(f));
	}
	for (size_t i = 0; i < pl->n_group_changes; i++) {
		const struct dvmq_group_change *g = &pl->group_changes[i];
		uint32_t v[8] = { g->adapter, g->queue, g->processor, (uint32_t)g->kind, (uint32_t)g->why,
				  g->n_before, g->n_after, g->n_buckets };
		digest(d, v, sizeof(v));
		digest(l, v, sizeof(v));
		digest_f64(l, g->group_load);
		digest_f64(l, g->moved_load);
	}
	for (size_t i = 0; i < pl->n_overloads; i++) {
		const struct dvmq_overload *o = &pl->overloads[i];
		uint32_t v[4] = { o->queue, o->processor, (uint32_t)o->reason, (uint32_t)o->group };
		digest(d, v, sizeof(v));
		digest(l, v, sizeof(v));
		digest_f64(l, o->queue_load);
		digest_f64(l, o->processor_load);
	}
	for (size_t i = 0; i < pl->n_park; i++) {
		digest_u32(d, pl->park[i]);
		digest_u32(l, pl->park[i]);
	}
	digest_u32(d, UINT32_MAX);
	for (size_t i = 0; i < pl->n_wake; i++) {
		digest_u32(d, pl->wake[i]);
		digest_u32(l, pl->wake[i]);
	}
	digest_u32(d, UINT32_MAX);
	digest_u32(l, UINT32_MAX);
}

/* --groups: the group VMs' loads this round (1..4 processors, a new level every 50 rounds) split
 * over their queues by their buckets (bucket b weighs 1 + b % 7), into qs and their samples. */
static void bench_groups_round(struct dvmq_engine *e, uint64_t round, uint64_t iv, struct dvmq_queue_sample *qs,
			       struct dvmq_bucket_sample *bs)
{
	double wsum = 0.0;
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		wsum += 1.0 + b % 7;
	for (uint32_t i = 0; i < BG_GROUPS; i++) {
		const struct dvmq_queue_group *g = dvmq_engine_adapter_group(e, i);
		double load = 1.0 + (double)((round / 50 + i * 7) % 4);
		bs[i].adapter = i;
		for (uint32_t k = 0; g && k < g->n_queues; k++)
			qs[g->queues[k]] = (struct dvmq_queue_sample){ 0 };
		for (uint32_t b = 0; g && b < DVMQ_INDIRECTION_ENTRIES; b++) {
			double l = load * (1.0 + b % 7) / wsum;
			struct dvmq_queue_sample *q = &qs[g->queues[g->indirection[b]]];
			q->packets += (uint64_t)(l * 1e5);
			q->busy_ns += (uint64_t)(l * (double)iv);
			bs[i].packets[b] = (uint64_t)(l * 1e5);
			bs[i].bytes[b] = bs[i].packets[b] * 64;
		}
		/* what a saturated queue serves is capped, its arrivals are not: drops */
		for (uint32_t k = 0; g && k < g->n_queues; k++) {
			struct dvmq_queue_sample *q = &qs[g->queues[k]];
			if (q->busy_ns > iv) {
				q->dropped = q->packets - q->packets * iv / q->busy_ns;
				q->packets -= q->dropped;
				q->busy_ns = iv;
			}
		}
	}
}

static int bench_engine(bool json, bool groups, unsigned rounds)
{
	enum { PROCS = 256, QUEUES = 4096, BLOCKS = 5 };
	const int ROUNDS = (int)rounds;
	/* with groups: 16 group VMs and as many plain ones as leave the group VMs room for 15 extra
	 * queues each in the pool (a VM's first queue comes first) */
	const uint32_t n_plain = groups ? QUEUES - 1 - BG_GROUPS * BG_MAX : QUEUES - 1;
	struct dvmq_engine_config cfg = { .n_processors = PROCS, .queue_pool = QUEUES - 1,
					  .max_adapters = QUEUES - 1, .set = { .numa_node = -1 } };
	dvmq_engine_params_default(&cfg.params);
	struct dvmq_engine *e;
	if (dvmq_engine_create(&cfg, &e)) {
		fprintf(stderr, "dvmq bench: engine create failed\n");
		return 1;
	}
	for (uint32_t i = 0; i < (groups ? BG_GROUPS : 0u) + n_plain; i++) {
		struct dvmq_adapter_desc d = { .mac = { 2, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i }, .weight = 100,
					       .max_queues = groups && i < BG_GROUPS ? BG_MAX : 1 };
		uint32_t id;
		dvmq_engine_adapter_add(e, &d, &id);
	}
	struct dvmq_proc_sample *ps = calloc(PROCS, sizeof(*ps));
	struct dvmq_queue_sample *qs = calloc(QUEUES, sizeof(*qs));
	struct dvmq_bucket_sample *bs = calloc(BG_GROUPS, sizeof(*bs));
	double *t = calloc(ROUNDS, sizeof(double)), *tc = calloc(ROUNDS, sizeof(double));
	if (!ps || !qs || !bs || !t || !tc) {
		dvmq_engine_destroy(e);
		free(ps);
		free(qs);
		free(bs);
		free(t);
		free(tc);
		return 1;
	}
	/* what reading the thread's CPU clock around an empty interval costs (a system call: it is
	 * in each round's CPU time below, and printed) */
	enum { CLOCK_READS = 1001 };
	double clk[CLOCK_READS];
	for (int i = 0; i < CLOCK_READS; i++) {
		double c0 = thread_cpu_s();
		(void)now_s(); /* as a round reads it */
		clk[i] = (thread_cpu_s() - c0) * 1e6;
	}
	qsort(clk, CLOCK_READS, sizeof(double), cmp_double);
	const double clock_us = clk[CLOCK_READS / 2];
	uint64_t rng = 42;
	const uint64_t iv = 100000000ull;
	double p50[BLOCKS], p99[BLOCKS], c50[BLOCKS], c99[BLOCKS];
	uint64_t preempted = 0; /* rounds whose wall time exceeds their CPU time by 100 us or more */
	uint64_t moves = 0, bucket_moves = 0, grows = 0, shrinks = 0;
	uint64_t dig = 0xcbf29ce484222325ull, dig_loads = dig;
	/* BLOCKS blocks of ROUNDS rounds, one after the other: the median block is the number, the
	 * spread between blocks says how much the machine's other work disturbed it */
	for (int b = 0; b < BLOCKS; b++) {
		for (int r = 0; r < ROUNDS; r++) {
			double load[PROCS] = { 0 };
			uint64_t round = (uint64_t)b * ROUNDS + (uint64_t)r;
			for (uint32_t q = 0; q < QUEUES; q++) {
				/* a quarter of the processors get heavy queues this round */
				uint32_t p = dvmq_engine_queue_processor(e, q);
				double f = (xorshift(&rng) % 1000) / 1000.0 * ((p % 4 == round % 4) ? 0.12 : 0.02);
				qs[q] = (struct dvmq_queue_sample){ .busy_ns = (uint64_t)(f * iv), .packets = 1000,
								    .bytes = 64000 };
			}
			if (groups)
				bench_groups_round(e, round, iv, qs, bs);
			for (uint32_t q = 0; q < QUEUES; q++) {
				uint32_t p = dvmq_engine_queue_processor(e, q);
				if (p < PROCS)
					load[p] += (double)qs[q].busy_ns / (double)iv;
			}
			for (uint32_t p = 0; p < PROCS; p++)
				ps[p] = (struct dvmq_proc_sample){ .busy = load[p] > 1 ? 1 : load[p], .awake = true };
			const struct dvmq_plan *plan;
			double c0 = thread_cpu_s(), t0 = now_s();
			dvmq_engine_plan_ex(e, (round + 1) * iv, iv, ps, qs, bs, groups ? BG_GROUPS : 0, &plan);
			t[r] = (now_s() - t0) * 1e6;
			tc[r] = (thread_cpu_s() - c0) * 1e6;
			preempted += t[r] - tc[r] >= 100.0;
			moves += plan->n_moves;
			digest_plan(&dig, &dig_loads, plan);
			bucket_moves += plan->n_bucket_moves;
			for (size_t c = 0; c < plan->n_group_changes; c++) {
				grows += plan->group_changes[c].kind == DVMQ_GROUP_GROW;
				shrinks += plan->group_changes[c].kind == DVMQ_GROUP_SHRINK;
			}
		}
		qsort(t, ROUNDS, sizeof(double), cmp_double);
		qsort(tc, ROUNDS, sizeof(double), cmp_double);
		p50[b] = t[ROUNDS / 2];
		p99[b] = t[ROUNDS * 99 / 100];
		c50[b] = tc[ROUNDS / 2];
		c99[b] = tc[ROUNDS * 99 / 100];
	}
	qsort(p50, BLOCKS, sizeof(double), cmp_double);
	qsort(p99, BLOCKS, sizeof(double), cmp_double);
	qsort(c50, BLOCKS, sizeof(double), cmp_double);
	qsort(c99, BLOCKS, sizeof(double), cmp_double);
	double mv = (double)moves / (BLOCKS * ROUNDS), bmv = (double)bucket_moves / (BLOCKS * ROUNDS);
	if (json)
		printf("{\"queues\": %d, \"processors\": %d, \"rounds\": %d, \"moves_per_round\": %.1f, "
		       "\"groups\": %d, \"bucket_moves_per_round\": %.1f, \"grows\": %llu, \"shrinks\": %llu, "
		       "\"plan_us_p50\": %.2f, \"plan_us_p50_min\": %.2f, \"plan_us_p50_max\": %.2f, "
		       "\"plan_us_p99\": %.2f, \"plan_us_p99_min\": %.2f, \"plan_us_p99_max\": %.2f, "
		       "\"plan_cpu_us_p50\": %.2f, \"plan_cpu_us_p50_min\": %.2f, \"plan_cpu_us_p50_max\": %.2f, "
		       "\"plan_cpu_us_p99\": %.2f, \"plan_cpu_us_p99_min\": %.2f, \"plan_cpu_us_p99_max\": %.2f, "
		       "\"cpu_clock_us\": %.2f, \"rounds_preempted\": %llu, "
		       "\"plan_digest\": \"%016llx\", \"plan_digest_loads\": \"%016llx\"}\n",
		       QUEUES, PROCS, BLOCKS * ROUNDS, mv, groups ? BG_GROUPS : 0, bmv, (unsigned long long)grows,
		       (unsigned long long)shrinks, p50[BLOCKS / 2], p50[0], p50[BLOCKS - 1], p99[BLOCKS / 2], p99[0],
		       p99[BLOCKS - 1], c50[BLOCKS / 2], c50[0], c50[BLOCKS - 1], c99[BLOCKS / 2], c99[0],
		       c99[BLOCKS - 1], clock_us, (unsigned long long)preempted, (unsigned long long)dig,
		       (unsigned long long)dig_loads);
	else
		printf("engine: one planning round, %d queues on %d processors, %.0f moves a round%s: "
		       "p50 %.2f us (blocks %.2f..%.2f), p99 %.2f us (%.2f..%.2f), median of %d blocks of %d "
		       "rounds (goal p50 <= 50 us)\n",
		       QUEUES, PROCS, mv, groups ? ", 16 VM groups of up to 16 queues" : "", p50[BLOCKS / 2], p50[0],
		       p50[BLOCKS - 1], p99[BLOCKS / 2], p99[0], p99[BLOCKS - 1], BLOCKS, ROUNDS);
	if (!json)
		printf("        CPU time of a round: p50 %.2f us (blocks %.2f..%.2f), p99 %.2f us (%.2f..%.2f), of "
		       "which reading the clock %.2f us; %llu of %d rounds preempted (wall >= CPU + 100 us)\n",
		       c50[BLOCKS / 2], c50[0], c50[BLOCKS - 1], c99[BLOCKS / 2], c99[0], c99[BLOCKS - 1], clock_us,
		       (unsigned long long)preempted, BLOCKS * ROUNDS);
	if (groups && !json)
		printf("        groups: %.1f bucket moves a round, %llu grows, %llu shrinks\n", bmv,
		       (unsigned long long)grows, (unsigned long long)shrinks);
	if (!json)
		printf("        plan digest %016llx (with loads %016llx)\n", (unsigned long long)dig,
		       (unsigned long long)dig_loads);
	dvmq_engine_destroy(e);
	free(ps);
	free(qs);
	free(bs);
	free(t);
	free(tc);
	return 0;
}

static int bench_sim(bool json, const char *duration)
{
	struct dvmq_scenario *s;
	if (cli_load_scenario("big-host", &s))
		return 1;
	uint64_t dur = 3600ull * 1000000000ull;
	if (duration && cli_parse_duration(duration, &dur)) {
		fprintf(stderr, "dvmq bench sim: bad --duration '%s'\n", duration);
		dvmq_scenario_free(s);
		return 2;
	}
	s->host.tick_ns = 10000000ull; /* 10 ms resolution, as the goal states */
	if (s->host.interval_ns < s->host.tick_ns)
		s->host.interval_ns = s->host.tick_ns;
	struct dvmq_result r;
	struct dvmq_diag diag = { { 0 } };
	double t0 = now_s(), c0 = cpu_s();
	int rc = dvmq_sim_run_for(s, NULL, dur, NULL, &r, &diag);
	double wall = now_s() - t0, cpu = cpu_s() - c0;
	dvmq_scenario_free(s);
	if (rc) {
		fprintf(stderr, "dvmq bench sim: %s\n", diag.msg);
		return 1;
	}
	if (json)
		printf("{\"scenario\": \"big-host\", \"simulated_s\": %.1f, \"wall_s\": %.3f, \"cpu_s\": %.3f}\n",
		       r.simulated_s, wall, cpu);
	else
		printf("sim: big-host, %.0f s simulated at 10 ms ticks in %.2f s wall, %.2f s CPU (goal: 3600 s in "
		       "<= 10 s)\n", r.simulated_s, wall, cpu);
	return 0;
}

static void stat_json(const char *name, struct dp_bench_stat st, bool last)
{
	printf("\"%s\": {\"median\": %.3f, \"min\": %.3f, \"max\": %.3f}%s", name, st.median, st.min, st.max,
	       last ? "" : ", ");
}

/* Every run, clean or not, with what it measured and (rejected) why: the JSON's "rejected" is
 * the list of runs that did not count, "run" all of them. */
static void runs_json(const struct dp_bench_result *r)
{
	printf("\"rejected\": [");
	bool first = true;
	for (unsigned i = 0; i < r->runs; i++)
		if (!r->run[i].clean) {
			printf("%s{\"run\": %u, \"why\": \"%s\"}", first ? "" : ", ", i + 1, r->run[i].why);
			first = false;
		}
	printf("], \"run\": [");
	for (unsigned i = 0; i < r->runs; i++) {
		const struct dp_bench_run *x = &r->run[i];
		printf("%s{\"clean\": %s, \"limit_mpps\": %.3f, \"limit_mpps_uplink_cpu\": %.3f, "
		       "\"limit_mpps_worker_cpu\": %.3f, \"dataplane_mpps\": %.3f, \"limit_mpps_per_cpu_s\": %.3f, "
		       "\"dataplane_mpps_per_cpu_s\": %.3f, \"uplink_mpps_per_cpu_s\": %.3f, \"worker_mpps_per_cpu_s\": %.3f, "
		       "\"ratio\": %.3f, "
		       "\"ratio_per_cpu_s\": %.3f, \"uplink_cpu_share\": %.3f, \"worker_cpu_share\": %.3f, "
		       "\"runqueue_wait_ms\": {\"limit_uplink_cpu\": %.2f, \"limit_worker_cpu\": %.2f, \"uplink\": %.2f, "
		       "\"worker\": %.2f}, \"kernel_ms\": {\"before\": [%.2f, %.2f], \"after\": [%.2f, %.2f]}}",
		       i ? ", " : "", x->clean ? "true" : "false", x->limit_mpps, x->limit_mpps_on[0], x->limit_mpps_on[1],
		       x->full_mpps, x->limit_mpps_per_cpu_s, x->full_mpps_per_cpu_s, x->uplink_mpps_per_cpu_s,
		       x->worker_mpps_per_cpu_s, x->ratio, x->ratio_per_cpu_s, x->uplink_cpu_share, x->worker_cpu_share,
		       x->wait_ns[DP_BENCH_LIMIT_UPLINK_CPU] * 1e-6, x->wait_ns[DP_BENCH_LIMIT_WORKER_CPU] * 1e-6,
		       x->wait_ns[DP_BENCH_UPLINK] * 1e-6, x->wait_ns[DP_BENCH_WORKER] * 1e-6, x->kernel_ns[0][0] * 1e-6,
		       x->kernel_ns[0][1] * 1e-6, x->kernel_ns[1][0] * 1e-6, x->kernel_ns[1][1] * 1e-6);
	}
	printf("], ");
}

static int bench_dataplane(bool json, unsigned runs)
{
	struct dp_bench_options o = { .run_s = 0.4, .min_runs = runs, .max_runs = 3 * runs };
	if (o.max_runs > DP_BENCH_MAX_RUNS)
		o.max_runs = DP_BENCH_MAX_RUNS;
	struct dp_bench_result *r = malloc(sizeof(*r));
	int rc = r ? dp_bench_run(&o, r) : -ENOMEM;
	if (rc) {
		fprintf(stderr, "dvmq bench dataplane: %s\n", strerror(-rc));
		free(r);
		return 1;
	}
	if (json) {
		printf("{\"runs\": %u, \"clean_runs\": %u, \"stable\": %s, ", r->runs, r->clean_runs,
		       r->stable ? "true" : "false");
		stat_json("limit_mpps", r->limit_mpps, false);
		stat_json("dataplane_mpps_per_worker", r->dataplane_mpps_per_worker, false);
		stat_json("ratio", r->ratio, false);
		stat_json("limit_mpps_per_cpu_s", r->limit_mpps_per_cpu_s, false);
		stat_json("dataplane_mpps_per_cpu_s", r->dataplane_mpps_per_cpu_s, false);
		stat_json("ratio_per_cpu_s", r->ratio_per_cpu_s, false);
		stat_json("uplink_cpu_share", r->uplink_cpu_share, false);
		stat_json("worker_cpu_share", r->worker_cpu_share, false);
		stat_json("handoff_us_p50", r->handoff_us_p50, false);
		stat_json("handoff_us_p99", r->handoff_us_p99, false);
		runs_json(r);
		printf("\"handoffs\": %llu}\n", (unsigned long long)r->handoffs);
		free(r);
		return 0;
	}
	char verdict[160];
	if (r->stable)
		snprintf(verdict, sizeof(verdict), "stable: the last %u clean runs' ratios within 10 %%", runs);
	else if (r->clean_runs == 0)
		snprintf(verdict, sizeof(verdict), "NOT STABLE: no clean run, the figures below are not to be trusted");
	else
		snprintf(verdict, sizeof(verdict), "NOT STABLE: the machine is busy or slowed");
	printf("dataplane: %u runs, %u clean (%s); median [min .. max] over clean runs\n"
	       "  limit loop         %6.2f Mpps   [%.2f .. %.2f]   %6.2f Mpps per CPU-s\n"
	       "  full path          %6.2f Mpps   [%.2f .. %.2f]   %6.2f Mpps per CPU-s of its busier thread\n"
	       "  ratio              %6.2f        [%.2f .. %.2f]   %6.2f per CPU-s (goal >= 0.8)\n"
	       "  CPU share          uplink %.2f, worker %.2f\n"
	       "  handoff p50        %6.1f us     [%.1f .. %.1f] (goal <= 50 us)\n"
	       "  handoff p99        %6.1f us     [%.1f .. %.1f] over %llu handoffs\n",
	       r->runs, r->clean_runs, verdict, r->limit_mpps.median, r->limit_mpps.min, r->limit_mpps.max,
	       r->limit_mpps_per_cpu_s.median, r->dataplane_mpps_per_worker.median, r->dataplane_mpps_per_worker.min,
	       r->dataplane_mpps_per_worker.max, r->dataplane_mpps_per_cpu_s.median, r->ratio.median, r->ratio.min,
	       r->ratio.max, r->ratio_per_cpu_s.median, r->uplink_cpu_share.median, r->worker_cpu_share.median,
	       r->handoff_us_p50.median, r->handoff_us_p50.min, r->handoff_us_p50.max, r->handoff_us_p99.median,
	       r->handoff_us_p99.min, r->handoff_us_p99.max, (unsigned long long)r->handoffs);
	for (unsigned i = 0; i < r->runs; i++)
		if (!r->run[i].clean)
			printf("  run %u rejected: %s\n", i + 1, r->run[i].why);
	free(r);
	return 0;
}

/* dvmq bench e2e and dvmq bench kernel: real traffic between network namespaces (Linux bridge vs
 * dvmq's userspace switch; the bridge, with RPS, and dvmq's kernel steering) are shell scripts of
 * the source tree, scripts/bench-e2e.sh and scripts/bench-kernel.sh (they build namespaces, run
 * iperf3, ping and a sender): exec one with this binary's build directory. The script is found as
 * $ENV_NAME, else three levels above this executable (BUILD/src/cli/dvmq). Returns only when it
 * cannot be run: 1. */
static int bench_script(const char *what, const char *file, const char *env_name, bool json)
{
	char exe[PATH_MAX], script[PATH_MAX + 32], build[PATH_MAX + 8];
	const char *env = getenv(env_name);
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		fprintf(stderr, "dvmq bench %s: cannot read /proc/self/exe: %s\n", what, strerror(errno));
		return 1;
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0'; /* BUILD/src/cli */
	snprintf(build, sizeof build, "%s/../..", exe);
	if (env && *env)
		snprintf(script, sizeof script, "%s", env);
	else
		snprintf(script, sizeof script, "%s/../../../scripts/%s", exe, file);
	char opt_build[] = "--build", opt_json[] = "--json";
	char *args[] = { script, opt_build, build, json ? opt_json : NULL, NULL };
	execv(script, args);
	fprintf(stderr,
		"dvmq bench %s: cannot run %s: %s (the benchmark is a script of the source tree: run "
		"`make bench-%s` there, or set %s)\n",
		what, script, strerror(errno), what, env_name);
	return 1;
}

int cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "duration", required_argument, NULL, 'd' },
		{ "runs", required_argument, NULL, 'r' },
		{ "groups", no_argument, NULL, 'g' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, groups = false;
	const char *duration = NULL;
	unsigned runs = 5, rounds = 2000;
	optind = 1;
	int c;
	const char *help = "usage: dvmq bench engine|sim|dataplane|e2e|kernel [--json] [--duration TIME (sim only; a bare "
			   "number is seconds)]\n"
			   "                  [--runs N (dataplane: at least N runs of each measurement, 1..10)]\n"
			   "                  [--groups (engine: 16 VMs with queue groups of up to 16 queues, VMMQ)]\n"
			   "                  [--rounds N (engine: rounds in each of its 5 blocks, 1..2000; default 2000)]\n";
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'g')
			groups = true;
		else if (c == 'd')
			duration = optarg;
		else if (c == 'r') {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 10) {
				fprintf(stderr, "dvmq bench: bad --runs '%s' (1..10)\n", optarg);
				return 2;
			}
			runs = (unsigned)v;
		} else if (c == 'R') {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 2000) {
				fprintf(stderr, "dvmq bench: bad --rounds '%s' (1..2000)\n", optarg);
				return 2;
			}
			rounds = (unsigned)v;
		}
		else if (c == 'h') {
			fputs(help, stdout);
			return 0;
		} else {
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(help, stderr);
		return 2;
	}
	if (strcmp(argv[optind], "engine") == 0)
		return bench_engine(json, groups, rounds);
	if (strcmp(argv[optind], "sim") == 0)
		return bench_sim(json, duration);
	if (strcmp(argv[optind], "dataplane") == 0)
		return bench_dataplane(json, runs);
	if (strcmp(argv[optind], "e2e") == 0)
		return bench_script("e2e", "bench-e2e.sh", "DVMQ_BENCH_E2E_SCRIPT", json);
	if (strcmp(argv[optind], "kernel") == 0)
		return bench_script("kernel", "bench-kernel.sh", "DVMQ_BENCH_KERNEL_SCRIPT", json);
	fprintf(stderr, "dvmq bench: unknown benchmark '%s' (engine, sim, dataplane, e2e, kernel)\n", argv[optind]);
	return 2;
}
