/* `dvmq bench dataplane` (bench_dataplane.h): the data plane's throughput against its limit
 * loop, and handoff latency, measured side by side in one run. The limit loop is built from the
 * data plane's own parts (the internal header), so it measures exactly the work the full path
 * cannot avoid. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../dp/dp_internal.h"
#include "bench_dataplane.h"

#define BENCH_VMS 4u

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

static int make_gen(struct dvmq_port **gen)
{
	struct dvmq_gen_vm g[BENCH_VMS];
	memset(g, 0, sizeof(g));
	for (uint32_t i = 0; i < BENCH_VMS; i++) {
		const uint8_t mac[6] = { 0x02, 0, 0, 0, 0x0b, (uint8_t)i };
		memcpy(g[i].mac, mac, 6);
		g[i].frame_bytes = 64;
		g[i].flows = 16;
		g[i].flow_base = i * 16;
	}
	return dvmq_port_gen_open("bench", g, BENCH_VMS, gen);
}

/* A data plane with BENCH_VMS sink VMs, each on its own VMQ, all on worker `on`. */
static int make_dp(uint32_t n_workers, const int *cpus, struct dvmq_dp **dp, struct dvmq_port **sinks)
{
	struct dvmq_dp_config cfg = { .n_workers = n_workers, .cpus = cpus, .n_queues = BENCH_VMS + 1,
				      .queue_depth = 4096, .mtu = 1500, .max_vms = BENCH_VMS, .fdb_size = 64,
				      .fdb_age_ns = 1000000000ull, .lossless = true };
	int rc = dvmq_dp_create(&cfg, dp);
	for (uint32_t i = 0; i < BENCH_VMS && !rc; i++) {
		const uint8_t mac[6] = { 0x02, 0, 0, 0, 0x0b, (uint8_t)i };
		uint32_t id;
		rc = dvmq_port_sink_open("sink", i * 16, 16, 1500, NULL, &sinks[i]);
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

/* The limit loop: parse, look up, enqueue, dequeue, on one thread, same frames and tables. */
static int limit_loop(double seconds, double *mpps)
{
	struct dvmq_dp *dp;
	struct dvmq_port *sinks[BENCH_VMS] = { 0 }, *gen = NULL;
	int rc = make_dp(1, NULL, &dp, sinks);
	if (!rc)
		rc = make_gen(&gen);
	if (rc)
		goto out;
	dvmq_dp_thread_register();
	struct dvmq_pkt pkts[DVMQ_BURST];
	struct ring_rec *recs[DVMQ_BURST];
	struct ring r = { 0 };
	r.n_cells = 1u << 16;
	r.depth = 4096;
	r.mem = calloc(r.n_cells, RING_CELL);
	if (!r.mem) {
		rc = -ENOMEM;
		dvmq_dp_thread_unregister();
		goto out;
	}
	for (uint32_t v = 0; v < BENCH_VMS; v++)
		dvmq_port_gen_set_rate(gen, v, 1e12);
	uint64_t frames = 0, t0 = dp_now_ns(), end = t0 + (uint64_t)(seconds * 1e9), t = t0, sum = 0;
	while (t < end) {
		dvmq_port_gen_advance(gen, t);
		int n = dvmq_port_rx_burst(gen, pkts, DVMQ_BURST);
		dp_rcu_read_lock();
		for (int i = 0; i < n; i++) {
			struct dvmq_frame f;
			if (dvmq_frame_parse(pkts[i].data, pkts[i].len, 1500, &f) != DVMQ_FRAME_OK)
				continue;
			const struct dp_vm *vm = vmtab_lookup(dp, f.dst, f.vlan);
			ring_push(&r, pkts[i].data, pkts[i].len, vm ? vm->id : 0, t);
		}
		dp_rcu_read_unlock();
		uint64_t e;
		struct ring_rec *barrier;
		unsigned k = ring_peek(&r, recs, DVMQ_BURST, &e, &barrier);
		for (unsigned i = 0; i < k; i++)
			sum += recs[i]->len;
		ring_release(&r, e, k);
		frames += k;
		if ((frames & 0x3ff) < DVMQ_BURST)
			t = dp_now_ns();
	}
	*mpps = (double)frames / ((double)(dp_now_ns() - t0) * 1e-3);
	volatile uint64_t keep = sum; /* the dequeue reads the frames: keep that work */
	(void)keep;
	free(r.mem);
	dvmq_dp_thread_unregister();
out:
	free_dp(dp, sinks);
	dvmq_port_destroy(gen);
	return rc;
}

struct uplink {
	struct dvmq_dp *dp;
	struct dvmq_port *gen;
	double pps;
	_Atomic bool stop;
};

static void *uplink_main(void *arg)
{
	struct uplink *u = arg;
	struct dvmq_pkt pkts[DVMQ_BURST];
	dvmq_dp_thread_register();
	for (uint32_t v = 0; v < BENCH_VMS; v++)
		dvmq_port_gen_set_rate(u->gen, v, u->pps / BENCH_VMS);
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

/* The full path: uplink on one CPU, one worker on another; frames delivered per second. */
static int full_path(double seconds, const int *cpus, double *mpps)
{
	struct dvmq_port *sinks[BENCH_VMS] = { 0 };
	struct uplink u = { .pps = 1e12 };
	int rc = make_dp(1, cpus + 1, &u.dp, sinks);
	if (!rc)
		rc = make_gen(&u.gen);
	pthread_t th;
	if (!rc)
		rc = -pthread_create(&th, NULL, uplink_main, &u);
	if (!rc) {
		struct timespec warm = { 0, 200000000 };
		nanosleep(&warm, NULL);
		struct dvmq_dp_worker_stats *ws = malloc(sizeof(*ws));
		if (ws) {
			dvmq_dp_worker_stats(u.dp, 0, ws);
			uint64_t p0 = ws->packets, t0 = dp_now_ns();
			struct timespec d = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
			nanosleep(&d, NULL);
			dvmq_dp_worker_stats(u.dp, 0, ws);
			*mpps = (double)(ws->packets - p0) / ((double)(dp_now_ns() - t0) * 1e-3);
			free(ws);
		} else {
			rc = -ENOMEM;
		}
		atomic_store(&u.stop, true);
		pthread_join(th, NULL);
	}
	free_dp(u.dp, sinks);
	dvmq_port_destroy(u.gen);
	return rc;
}

/* Handoffs under 1 Mpps of traffic: a queue moves between two workers every millisecond. */
static int handoffs(double seconds, const int *cpus, struct dvmq_dp_bench_result *out)
{
	struct dvmq_port *sinks[BENCH_VMS] = { 0 };
	struct uplink u = { .pps = 1e6 };
	int rc = make_dp(2, cpus, &u.dp, sinks);
	if (!rc)
		rc = make_gen(&u.gen);
	pthread_t th;
	if (!rc)
		rc = -pthread_create(&th, NULL, uplink_main, &u);
	if (rc)
		goto out;
	uint64_t end = dp_now_ns() + (uint64_t)(seconds * 1e9);
	uint32_t to = 1;
	while (dp_now_ns() < end) {
		for (uint32_t q = 1; q <= BENCH_VMS; q++)
			dvmq_dp_move(u.dp, q, to);
		to ^= 1u;
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	atomic_store(&u.stop, true);
	pthread_join(th, NULL);
	uint64_t *lat = malloc(DP_HANDOFF_SAMPLES * sizeof(*lat));
	if (!lat) {
		rc = -ENOMEM;
		goto out;
	}
	size_t n = dvmq_dp_handoffs(u.dp, lat, DP_HANDOFF_SAMPLES);
	qsort(lat, n, sizeof(*lat), cmp_u64);
	out->handoffs = n;
	out->handoff_us_p50 = n ? (double)lat[n / 2] * 1e-3 : 0.0;
	out->handoff_us_p99 = n ? (double)lat[n * 99 / 100] * 1e-3 : 0.0;
	free(lat);
out:
	free_dp(u.dp, sinks);
	dvmq_port_destroy(u.gen);
	return rc;
}

int dvmq_dp_bench(double seconds, struct dvmq_dp_bench_result *out)
{
	memset(out, 0, sizeof(*out));
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
	int rc = limit_loop(seconds, &out->limit_mpps);
	if (!rc) {
		bench_pin(cpus[0]); /* the uplink side: the worker gets the other CPU */
		rc = full_path(seconds, cpus, &out->dataplane_mpps_per_worker);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set); /* unpinned again */
	}
	if (!rc)
		rc = handoffs(seconds, cpus, out);
	out->ratio = out->limit_mpps > 0 ? out->dataplane_mpps_per_worker / out->limit_mpps : 0.0;
	return rc;
}
