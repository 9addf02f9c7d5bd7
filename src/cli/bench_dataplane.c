/* `dvmq bench dataplane` (bench_dataplane.h): the data plane's throughput against its limit
 * loop, and handoff latency, each repeated until stable. The limit loop is built from the data
 * plane's own parts (its internal header), so it measures exactly the work the full path cannot
 * avoid; the full path and the handoffs use the public API only. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec d = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
	while (nanosleep(&d, &d) != 0 && errno == EINTR)
		;
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
 * thread, with the same frames and tables as the full path. */
static int limit_loop(double seconds, double *mpps)
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
	while (t < end) {
		dvmq_port_gen_advance(gen, t);
		int n = dvmq_port_rx_burst(gen, pkts, DVMQ_BURST);
		dp_rcu_read_lock();
		for (int i = 0; i < n; i++) {
			struct dvmq_frame f;
			if (dvmq_frame_parse(pkts[i].data, pkts[i].len, 1500, &f) != DVMQ_FRAME_OK)
				continue;
			const struct dp_vm *vm = vmtab_lookup(dp, f.dst, f.vlan);
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
				t0 = t; /* warm: count from here */
				frames = 0;
			}
		}
	}
	*mpps = (double)frames / ((double)(dp_now_ns() - t0) * 1e-3);
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
};

static void *uplink_main(void *arg)
{
	struct uplink *u = arg;
	struct dvmq_pkt pkts[DVMQ_BURST];
	pthread_setname_np(pthread_self(), "bench-uplink");
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

/* The full path: uplink on cpus[0], one worker on cpus[1]; frames delivered per second. The
 * uplink offers more than the worker can take and drops the rest at the ring (as dvmq run does):
 * a lossless uplink would wait for the worker, and on a shared machine each wait for a worker
 * that lost its CPU costs a whole time slice, which measures the scheduler, not the data plane. */
static int full_path(double seconds, const int *cpus, double *mpps)
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
	if (ws) {
		dvmq_dp_worker_stats(u.dp, 0, ws);
		uint64_t p0 = ws->packets, t0 = dp_now_ns();
		sleep_ns((uint64_t)(seconds * 1e9));
		dvmq_dp_worker_stats(u.dp, 0, ws);
		*mpps = (double)(ws->packets - p0) / ((double)(dp_now_ns() - t0) * 1e-3);
		free(ws);
	} else {
		rc = -ENOMEM;
	}
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

static struct dp_bench_stat stat_of(const double *v, unsigned n)
{
	double s[DP_BENCH_MAX_RUNS];
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	struct dp_bench_stat st = { n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0, s[0], s[n - 1] };
	return st;
}

/* The last k ratios agree: (max - min) / median within STABLE_SPREAD. */
static bool stable(const double *ratio, unsigned n, unsigned k)
{
	if (n < k)
		return false;
	struct dp_bench_stat st = stat_of(ratio + n - k, k);
	return st.median > 0.0 && (st.max - st.min) / st.median <= STABLE_SPREAD;
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
	double limit[DP_BENCH_MAX_RUNS], full[DP_BENCH_MAX_RUNS], ratio[DP_BENCH_MAX_RUNS];
	double p50[DP_BENCH_MAX_RUNS], p99[DP_BENCH_MAX_RUNS];
	unsigned n = 0;
	int rc = 0;
	while (n < max_runs && !(n >= min_runs && stable(ratio, n, min_runs))) {
		uint64_t count = 0;
		/* the limit loop on the uplink's CPU: both see that CPU's neighbours alike */
		cpu_set_t all;
		sched_getaffinity(0, sizeof(all), &all);
		bench_pin(cpus[0]);
		rc = limit_loop(o->run_s, &limit[n]);
		pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
		if (!rc)
			rc = full_path(o->run_s, cpus, &full[n]);
		if (!rc)
			rc = handoffs(o->run_s, cpus, &p50[n], &p99[n], &count);
		if (rc)
			return rc;
		ratio[n] = limit[n] > 0.0 ? full[n] / limit[n] : 0.0;
		out->handoffs += count;
		n++;
	}
	out->runs = n;
	out->stable = stable(ratio, n, min_runs);
	out->limit_mpps = stat_of(limit, n);
	out->dataplane_mpps_per_worker = stat_of(full, n);
	out->ratio = stat_of(ratio, n);
	out->handoff_us_p50 = stat_of(p50, n);
	out->handoff_us_p99 = stat_of(p99, n);
	return 0;
}
