/* `dvmq bench dataplane` (bench_dataplane.h): the data plane's throughput against its limit
 * loop, and handoff latency, each run judged (bench_judge.c) and repeated until stable. The limit
 * loop is built from the data plane's own parts (its internal header), so it measures exactly the
 * work the full path cannot avoid; the full path and the handoffs use the public API, and the
 * internal header only to find the worker thread whose CPU clock and run-queue delay count. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../dp/dp_internal.h"
#include "bench_dataplane.h"

#define BENCH_VMS 4u
#define BENCH_FLOWS 16u
#define WARMUP_NS 100000000ull
#define STABLE_SPREAD 0.10

static void bench_pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec d = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
	while (nanosleep(&d, &d) != 0 && errno == EINTR)
		;
}

/* A thread's clocks: CPU time (its CPU clock), and run-queue delay (schedstat's second field:
 * time it was runnable but another thread had its CPU), against the wall clock. */
struct tclock {
	clockid_t cpu_clock;
	pid_t tid;
	uint64_t wall, cpu, wait;
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	if (clock_gettime(c, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t runqueue_wait_ns(pid_t tid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", (int)tid);
	FILE *f = fopen(path, "r");
	unsigned long long run = 0, wait = 0;
	if (f) {
		if (fscanf(f, "%llu %llu", &run, &wait) != 2)
			wait = 0;
		fclose(f);
	}
	return wait;
}

static void tclock_read(struct tclock *t)
{
	t->wall = dp_now_ns();
	t->cpu = clock_ns(t->cpu_clock);
	t->wait = runqueue_wait_ns(t->tid);
}

static int tclock_init(struct tclock *t, pthread_t th, pid_t tid)
{
	t->tid = tid;
	int rc = pthread_getcpuclockid(th, &t->cpu_clock);
	if (!rc)
		tclock_read(t);
	return -rc;
}

/* The thread of this process named `name` (its comm), or 0. */
static pid_t tid_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	pid_t tid = 0;
	struct dirent *e;
	while (d && !tid && (e = readdir(d))) {
		char path[300], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && strncmp(comm, name, strlen(name)) == 0 &&
		    (comm[strlen(name)] == '\n' || comm[strlen(name)] == '\0'))
			tid = (pid_t)atoi(e->d_name);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return tid;
}

/* The compute kernel: a fixed chain of dependent multiply-xorshift steps (no memory, no calls),
 * on the calling thread pinned to cpu; returns the thread CPU time it took, in ns. The same work
 * taking longer means the host ran this CPU slower (a busy neighbour, throttling) whether or not
 * it shows steal time. */
#define KERNEL_STEPS 20000000u
static double compute_kernel(int cpu)
{
	cpu_set_t all;
	sched_getaffinity(0, sizeof(all), &all);
	bench_pin(cpu);
	sched_yield(); /* start on that CPU */
	uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), x = 0x9e3779b97f4a7c15ull;
	for (uint32_t i = 0; i < KERNEL_STEPS; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		x ^= x >> 29;
	}
	uint64_t t1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	volatile uint64_t keep = x;
	(void)keep;
	pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
	return (double)(t1 - t0);
}

static void bench_mac(uint8_t mac[6], uint32_t i)
{
	const uint8_t m[6] = { 0x02, 0, 0, 0, 0x0b, (uint8_t)i };
	memcpy(mac, m, 6);
}

static int make_gen(struct dvmq_port **gen, double pps)
{
	struct dvmq_gen_vm g[BENCH_VMS];
	memset(g, 0, sizeof(g));
	for (uint32_t i = 0; i < BENCH_VMS; i++) {
		bench_mac(g[i].mac, i);
		g[i].frame_bytes = 64;
		g[i].flows = BENCH_FLOWS;
		g[i].flow_base = i * BENCH_FLOWS;
	}
	int rc = dvmq_port_gen_open("bench", g, BENCH_VMS, gen);
	for (uint32_t v = 0; v < BENCH_VMS && !rc; v++)
		dvmq_port_gen_set_rate(*gen, v, pps / BENCH_VMS);
	return rc;
}

/* A data plane with BENCH_VMS sink VMs, each on its own VMQ (all on worker 0 at first). */
static int make_dp(uint32_t n_workers, const int *cpus, bool lossless, struct dvmq_dp **dp, struct dvmq_port **sinks)
{
	struct dvmq_dp_config cfg = { .n_workers = n_workers, .cpus = cpus, .n_queues = BENCH_VMS + 1,
				      .queue_depth = 4096, .frame_bytes = 64, .mtu = 1500, .max_vms = BENCH_VMS,
				      .fdb_size = 64, .fdb_age_ns = 1000000000ull, .lossless = lossless };
	int rc = dvmq_dp_create(&cfg, dp);
	for (uint32_t i = 0; i < BENCH_VMS && !rc; i++) {
		uint8_t mac[6];
		uint32_t id;
		bench_mac(mac, i);
		rc = dvmq_port_sink_open("sink", i * BENCH_FLOWS, BENCH_FLOWS, 1500, NULL, &sinks[i]);
		if (!rc)
			rc = dvmq_dp_vm_add(*dp, mac, 0, 0.0, sinks[i], &id);
		if (!rc)
			rc = dvmq_dp_vm_set_queue(*dp, id, i + 1);
	}
	return rc;
}

static void free_dp(struct dvmq_dp *dp, struct dvmq_port **sinks)
{
	dvmq_dp_destroy(dp);
	for (uint32_t i = 0; i < BENCH_VMS; i++)
		dvmq_port_destroy(sinks[i]);
}

/* The limit loop: generate, parse, look up, enqueue, dequeue (reading every record), on one
 * thread (the caller's, pinned by it), with the same frames and tables as the full path. Returns
 * frames per second and per CPU-second (in M), and the thread's wall and run-queue time. */
static int limit_loop(double seconds, double *mpps, double *mpps_cpu, double *wall_ns, double *wait_ns)
{
	struct dvmq_dp *dp = NULL;
	struct dvmq_port *sinks[BENCH_VMS] = { 0 }, *gen = NULL;
	struct ring r = { 0 };
	int rc = make_dp(1, NULL, true, &dp, sinks);
	if (!rc)
		rc = make_gen(&gen, 1e12);
	r.n_cells = 1u << 12;
	r.depth = 4096;
	r.mem = rc ? NULL : calloc(r.n_cells, RING_CELL);
	if (!rc && !r.mem)
		rc = -ENOMEM;
	if (rc)
		goto out;
	dvmq_dp_thread_register();
	struct dvmq_pkt pkts[DVMQ_BURST];
	struct ring_rec *recs[DVMQ_BURST], *barrier;
	uint64_t frames = 0, sum = 0, t = dp_now_ns(), t0 = 0, end = t + WARMUP_NS + (uint64_t)(seconds * 1e9);
	struct tclock c0 = { 0 };
	while (t < end) {
		dvmq_port_gen_advance(gen, t);
		int n = dvmq_port_rx_burst(gen, pkts, DVMQ_BURST);
		dp_rcu_read_lock();
		dp->cls_call++; /* the classifier's per-call lookup cache, as the full path has it */
		for (int i = 0; i < n; i++) {
			struct dvmq_frame f;
			if (dvmq_frame_parse(pkts[i].data, pkts[i].len, 1500, &f) != DVMQ_FRAME_OK)
				continue;
			const struct dp_vm *vm = dp_cls_lookup(dp, f.dst, f.vlan);
			ring_stage(&r, pkts[i].data, pkts[i].len, vm ? vm->id : 0, t);
		}
		dp_rcu_read_unlock();
		ring_publish(&r);
		uint64_t e;
		unsigned k = ring_peek(&r, recs, DVMQ_BURST, &e, &barrier);
		for (unsigned i = 0; i < k; i++)
			sum += recs[i]->len + ring_data(recs[i])[5];
		ring_release(&r, e, k);
		frames += k;
		if ((frames & 0x3ff) < DVMQ_BURST) {
			t = dp_now_ns();
			if (!t0 && t >= end - (uint64_t)(seconds * 1e9)) {
				c0.cpu_clock = CLOCK_THREAD_CPUTIME_ID;
				c0.tid = (pid_t)syscall(SYS_gettid);
				tclock_read(&c0);
				t0 = c0.wall; /* warm: count from here */
				frames = 0;
			}
		}
	}
	struct tclock c1;
	c1.cpu_clock = CLOCK_THREAD_CPUTIME_ID;
	c1.tid = c0.tid;
	tclock_read(&c1);
	*mpps = (double)frames / ((double)(c1.wall - t0) * 1e-3);
	*mpps_cpu = c1.cpu > c0.cpu ? (double)frames / ((double)(c1.cpu - c0.cpu) * 1e-3) : 0.0;
	*wall_ns = (double)(c1.wall - c0.wall);
	*wait_ns = (double)(c1.wait - c0.wait);
	volatile uint64_t keep = sum; /* the dequeue reads the frames: keep that work */
	(void)keep;
	dvmq_dp_thread_unregister();
out:
	free(r.mem);
	free_dp(dp, sinks);
	dvmq_port_destroy(gen);
	return rc;
}

struct uplink {
	struct dvmq_dp *dp;
	struct dvmq_port *gen;
	_Atomic bool stop;
	_Atomic pid_t tid;
};

static void *uplink_main(void *arg)
{
	struct uplink *u = arg;
	struct dvmq_pkt pkts[DVMQ_BURST];
	pthread_setname_np(pthread_self(), "bench-uplink");
	atomic_store(&u->tid, (pid_t)syscall(SYS_gettid));
	dvmq_dp_thread_register();
	while (!atomic_load_explicit(&u->stop, memory_order_acquire)) {
		dvmq_port_gen_advance(u->gen, dp_now_ns());
		int n = dvmq_port_rx_burst(u->gen, pkts, DVMQ_BURST);
		if (n > 0)
			dvmq_dp_classify(u->dp, pkts, (unsigned)n);
		else
			sched_yield();
	}
	dvmq_dp_thread_unregister();
	return NULL;
}

/* Starts the uplink thread (on the calling thread's CPU set) for a data plane. */
static int start_uplink(struct uplink *u, pthread_t *th, double pps)
{
	int rc = make_gen(&u->gen, pps);
	if (!rc)
		rc = -pthread_create(th, NULL, uplink_main, u);
	return rc;
}

static void stop_uplink(struct uplink *u, pthread_t th)
{
	atomic_store(&u->stop, true);
	pthread_join(th, NULL);
}

/* The full path: uplink on cpus[0], one worker on cpus[1]; frames delivered per second, and per
 * CPU-second of the worker; each thread's CPU share and run-queue delay (into r). The uplink
 * offers more than the worker can take and drops the rest at the ring (as dvmq run does): a
 * lossless uplink would wait for the worker, and on a shared machine each wait for a worker that
 * lost its CPU costs a whole time slice, which measures the scheduler, not the data plane. */
static int full_path(double seconds, const int *cpus, struct dp_bench_run *r)
{
	struct dvmq_port *sinks[BENCH_VMS] = { 0 };
	struct uplink u = { 0 };
	pthread_t th;
	cpu_set_t all;
	sched_getaffinity(0, sizeof(all), &all);
	bench_pin(cpus[0]); /* the uplink thread inherits it */
	int rc = make_dp(1, cpus + 1, false, &u.dp, sinks);
	if (!rc)
		rc = start_uplink(&u, &th, 1e12);
	pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
	if (rc)
		goto out;
	sleep_ns(WARMUP_NS);
	struct dvmq_dp_worker_stats *ws = malloc(sizeof(*ws));
	struct tclock up0, wk0, up1, wk1;
	/* the worker names itself once it runs: on a loaded machine that may take a while */
	pid_t wtid = 0;
	for (int i = 0; i < 200 && (!wtid || !atomic_load(&u.tid)); i++) {
		wtid = tid_named("dvmq-w0");
		if (!wtid || !atomic_load(&u.tid))
			sleep_ns(10000000);
	}
	if (!ws)
		rc = -ENOMEM;
	else if (!wtid || !atomic_load(&u.tid))
		rc = -ESRCH;
	if (!rc)
		rc = tclock_init(&up0, th, atomic_load(&u.tid));
	if (!rc)
		rc = tclock_init(&wk0, u.dp->w[0].thread, wtid);
	struct dvmq_dp_counters *c = calloc(1, sizeof(*c));
	if (!rc && !c)
		rc = -ENOMEM;
	if (!rc) {
		dvmq_dp_counters(u.dp, c);
		uint64_t rx0 = c->rx;
		dvmq_dp_worker_stats(u.dp, 0, ws);
		uint64_t p0 = ws->packets;
		sleep_ns((uint64_t)(seconds * 1e9));
		dvmq_dp_worker_stats(u.dp, 0, ws);
		dvmq_dp_counters(u.dp, c);
		up1 = up0, wk1 = wk0;
		tclock_read(&up1);
		tclock_read(&wk1);
		double frames = (double)(ws->packets - p0), wall = (double)(wk1.wall - wk0.wall);
		r->full_mpps = frames / (wall * 1e-3);
		/* per CPU-second of the busier thread: what the path delivers when that one gets a
		 * whole CPU (the uplink spins at this offer, so it is nearly always the uplink) */
		uint64_t busier = wk1.cpu - wk0.cpu > up1.cpu - up0.cpu ? wk1.cpu - wk0.cpu : up1.cpu - up0.cpu;
		r->full_mpps_per_cpu_s = busier ? frames / ((double)busier * 1e-3) : 0.0;
		r->uplink_mpps_per_cpu_s = up1.cpu > up0.cpu ? (double)(c->rx - rx0) / ((double)(up1.cpu - up0.cpu) * 1e-3) : 0.0;
		r->worker_mpps_per_cpu_s = wk1.cpu > wk0.cpu ? frames / ((double)(wk1.cpu - wk0.cpu) * 1e-3) : 0.0;
		r->uplink_cpu_share = (double)(up1.cpu - up0.cpu) / (double)(up1.wall - up0.wall);
		r->worker_cpu_share = (double)(wk1.cpu - wk0.cpu) / wall;
		r->wall_ns[DP_BENCH_UPLINK] = (double)(up1.wall - up0.wall);
		r->wait_ns[DP_BENCH_UPLINK] = (double)(up1.wait - up0.wait);
		r->wall_ns[DP_BENCH_WORKER] = wall;
		r->wait_ns[DP_BENCH_WORKER] = (double)(wk1.wait - wk0.wait);
	}
	free(ws);
	free(c);
	stop_uplink(&u, th);
out:
	free_dp(u.dp, sinks);
	dvmq_port_destroy(u.gen);
	return rc;
}

/* Handoffs under 1 Mpps of traffic: every queue moves between two workers every millisecond;
 * p50 and p99 of the handoff latencies, in us. */
static int handoffs(double seconds, const int *cpus, double *p50, double *p99, uint64_t *count)
{
	struct dvmq_port *sinks[BENCH_VMS] = { 0 };
	struct uplink u = { 0 };
	pthread_t th;
	uint64_t *lat = NULL;
	int rc = make_dp(2, cpus, true, &u.dp, sinks);
	if (!rc)
		rc = start_uplink(&u, &th, 1e6);
	if (rc)
		goto out;
	uint64_t end = dp_now_ns() + (uint64_t)(seconds * 1e9);
	uint32_t to = 1;
	while (dp_now_ns() < end) {
		for (uint32_t q = 1; q <= BENCH_VMS; q++)
			dvmq_dp_move(u.dp, q, to);
		to ^= 1u;
		sleep_ns(1000000);
	}
	stop_uplink(&u, th);
	lat = malloc(DP_HANDOFF_SAMPLES * sizeof(*lat));
	if (!lat) {
		rc = -ENOMEM;
		goto out;
	}
	size_t n = dvmq_dp_handoffs(u.dp, lat, DP_HANDOFF_SAMPLES);
	qsort(lat, n, sizeof(*lat), cmp_u64);
	*count = n;
	*p50 = n ? (double)lat[n / 2] * 1e-3 : 0.0;
	*p99 = n ? (double)lat[n * 99 / 100] * 1e-3 : 0.0;
out:
	free(lat);
	free_dp(u.dp, sinks);
	dvmq_port_destroy(u.gen);
	return rc;
}

/* The limit loop pinned to cpu. */
static int limit_on(int cpu, double seconds, struct dp_bench_run *r, enum dp_bench_thread t, double *mpps_cpu)
{
	cpu_set_t all;
	sched_getaffinity(0, sizeof(all), &all);
	bench_pin(cpu);
	int rc = limit_loop(seconds, &r->limit_mpps_on[t == DP_BENCH_LIMIT_WORKER_CPU], mpps_cpu, &r->wall_ns[t],
			    &r->wait_ns[t]);
	pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
	return rc;
}

/* One run: the compute kernel on both CPUs, the limit loop on each, the full path, the kernel
 * again, then the handoffs (not judged: they time wake-ups, which a busy host delays anyway). */
static int one_run(const struct dp_bench_options *o, const int cpus[2], struct dp_bench_run *r)
{
	memset(r, 0, sizeof(*r));
	r->cpu[0] = cpus[0];
	r->cpu[1] = cpus[1];
	for (unsigned c = 0; c < 2; c++)
		r->kernel_ns[0][c] = compute_kernel(cpus[c]);
	double per_cpu[2] = { 0.0, 0.0 };
	int rc = limit_on(cpus[0], o->run_s, r, DP_BENCH_LIMIT_UPLINK_CPU, &per_cpu[0]);
	if (!rc)
		rc = limit_on(cpus[1], o->run_s, r, DP_BENCH_LIMIT_WORKER_CPU, &per_cpu[1]);
	if (!rc)
		rc = full_path(o->run_s, cpus, r);
	for (unsigned c = 0; c < 2; c++)
		r->kernel_ns[1][c] = compute_kernel(cpus[c]);
	if (!rc)
		rc = handoffs(o->run_s, cpus, &r->handoff_us_p50, &r->handoff_us_p99, &r->handoffs);
	if (rc)
		return rc;
	unsigned lo = r->limit_mpps_on[1] < r->limit_mpps_on[0];
	r->limit_mpps = r->limit_mpps_on[lo];
	r->limit_mpps_per_cpu_s = per_cpu[lo];
	r->ratio = r->limit_mpps > 0.0 ? r->full_mpps / r->limit_mpps : 0.0;
	r->ratio_per_cpu_s = r->limit_mpps_per_cpu_s > 0.0 ? r->full_mpps_per_cpu_s / r->limit_mpps_per_cpu_s : 0.0;
	return 0;
}

/* A figure over the clean runs (all runs when none is clean: the summary then says so). */
static struct dp_bench_stat over_clean(const struct dp_bench_result *out, size_t field)
{
	double v[DP_BENCH_MAX_RUNS];
	unsigned k = 0;
	for (unsigned i = 0; i < out->runs; i++)
		if (out->run[i].clean || out->clean_runs == 0) {
			double x;
			memcpy(&x, (const char *)&out->run[i] + field, sizeof(x));
			v[k++] = x;
		}
	return dp_bench_stat_of(v, k);
}

int dp_bench_run(const struct dp_bench_options *o, struct dp_bench_result *out)
{
	memset(out, 0, sizeof(*out));
	unsigned min_runs = o->min_runs, max_runs = o->max_runs;
	if (min_runs < 1 || max_runs < min_runs || max_runs > DP_BENCH_MAX_RUNS || !(o->run_s > 0.0))
		return -EINVAL;
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	int cpus[2] = { 0, 0 }, k = 0;
	for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[k++] = c;
	if (k < 2)
		cpus[1] = cpus[0];
	unsigned n = 0;
	bool stable = false;
	while (n < max_runs && !stable) {
		int rc = one_run(o, cpus, &out->run[n]);
		if (rc)
			return rc;
		out->handoffs += out->run[n].handoffs;
		n++;
		/* judged again over all runs so far: a later faster kernel can reject earlier runs */
		stable = dp_bench_judge(out->run, n, min_runs);
	}
	out->runs = n;
	out->stable = stable;
	for (unsigned i = 0; i < n; i++)
		out->clean_runs += out->run[i].clean;
#define OVER(f) over_clean(out, offsetof(struct dp_bench_run, f))
	out->limit_mpps = OVER(limit_mpps);
	out->dataplane_mpps_per_worker = OVER(full_mpps);
	out->ratio = OVER(ratio);
	out->limit_mpps_per_cpu_s = OVER(limit_mpps_per_cpu_s);
	out->dataplane_mpps_per_cpu_s = OVER(full_mpps_per_cpu_s);
	out->ratio_per_cpu_s = OVER(ratio_per_cpu_s);
	out->uplink_cpu_share = OVER(uplink_cpu_share);
	out->worker_cpu_share = OVER(worker_cpu_share);
	out->handoff_us_p50 = OVER(handoff_us_p50);
	out->handoff_us_p99 = OVER(handoff_us_p99);
#undef OVER
	return 0;
}
