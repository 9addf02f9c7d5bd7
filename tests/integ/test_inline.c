/* The inline worker (dvmq_dp_config.inline_last, src/dp/inline.c): the last worker has no thread;
 * the classifying thread serves its queues. Queues moved to it and back under full traffic
 * lose and reorder nothing; what it serves it serves on the classifying thread (no thread of its
 * own exists); a lossless data plane whose full ring belongs to it makes room by serving it
 * (no deadlock); the drain serves it once that thread stopped. */
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../harness.h"
#include "dp_fixture.h"

#define SEC 1000000000ull
#define FLOWS 4u
#define N_VMS 3u

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* The uplink thread of an inline data plane: generate, classify, serve the inline worker. */
static void *inline_uplink(void *arg)
{
	struct dpfx *fx = arg;
	struct dvmq_pkt pkts[DVMQ_BURST];
	uint64_t t = 1;
	dvmq_dp_thread_register();
	int fd = dvmq_dp_inline_fd(fx->dp);
	while (!atomic_load(&fx->stop)) {
		t += 1000000;
		dvmq_port_gen_advance(fx->gen, t);
		int n = dvmq_port_rx_burst(fx->gen, pkts, DVMQ_BURST);
		if (n > 0)
			dvmq_dp_classify(fx->dp, pkts, (unsigned)n);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		bool pending;
		dvmq_dp_inline_serve(fx->dp, poll(&p, 1, 0) > 0, &pending);
	}
	dvmq_dp_thread_unregister();
	return NULL;
}

/* Threads of this process named `name`. */
static int threads_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d))) {
		char path[300], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f))
			n += strncmp(comm, name, strlen(name)) == 0;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

TEST(dp_inline_worker_moves_under_traffic_lose_and_reorder_nothing)
{
	struct dpfx fx;
	struct dvmq_dp_config cfg = { .n_workers = 2, .n_queues = N_VMS + 1, .queue_depth = 1024, .mtu = 1500,
				      .max_vms = FX_MAX_VMS, .fdb_size = 64, .fdb_age_ns = 60 * SEC, .lossless = true,
				      .inline_last = true };
	CHECK(dpfx_init_cfg(&fx, cfg, false) == 0);
	CHECK(dvmq_dp_inline_fd(fx.dp) >= 0);
	/* a worker names itself once it runs: wait for w0's name, then w1 has none to give */
	for (uint64_t until = now_ns() + 10 * SEC; threads_named("dvmq-w0") == 0 && now_ns() < until;)
		sched_yield();
	CHECK_MSG(threads_named("dvmq-w0") == 1 && threads_named("dvmq-w1") == 0, "worker threads: w0 %d, w1 %d",
		  threads_named("dvmq-w0"), threads_named("dvmq-w1"));
	for (uint32_t i = 0; i < N_VMS; i++) {
		CHECK(dpfx_vm(&fx, i, 0, i * FLOWS, FLOWS) == 0);
		CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[i], i + 1) == 0);
	}
	CHECK(dvmq_dp_move(fx.dp, 1, 1) == 0); /* queue 1 served inline from the start */
	struct dvmq_gen_vm g[N_VMS];
	memset(g, 0, sizeof(g));
	for (uint32_t i = 0; i < N_VMS; i++) {
		fx_mac(g[i].mac, i);
		g[i].frame_bytes = 64;
		g[i].flows = FLOWS;
		g[i].flow_base = i * FLOWS;
	}
	CHECK(dvmq_port_gen_open("gen", g, N_VMS, &fx.gen) == 0);
	for (uint32_t i = 0; i < N_VMS; i++)
		dvmq_port_gen_set_rate(fx.gen, i, 1e9);
	dvmq_port_gen_advance(fx.gen, 1);
	CHECK(pthread_create(&fx.uplink, NULL, inline_uplink, &fx) == 0);
	unsigned seed = 11, done = 0;
	uint64_t until = now_ns() + 60 * SEC, last[N_VMS + 1] = { 0 };
	while (done < 2000 && now_ns() < until) {
		uint32_t q = 1 + (uint32_t)rand_r(&seed) % N_VMS;
		struct dvmq_dp_queue_stats st;
		dvmq_dp_queue_stats(fx.dp, q, &st);
		/* frames in flight at every handoff: the queue served a few batches since its last move */
		if (st.owner != st.target || st.packets < last[q] + 4 * DVMQ_BURST) {
			sched_yield();
			continue;
		}
		CHECK(dvmq_dp_move(fx.dp, q, 1 - st.owner) == 0);
		last[q] = st.packets;
		done++;
	}
	dpfx_stop_traffic(&fx);
	CHECK_MSG(done == 2000, "only %u moves in 60 s", done);
	/* its thread stopped: the drain serves the inline worker's queues itself */
	CHECK(dvmq_dp_drain(fx.dp, 10 * SEC) == 0);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	CHECK_MSG(c.overflow == 0 && c.vm_gone == 0 && c.flooded == 0 && c.in_flight == 0,
		  "overflow %llu gone %llu flooded %llu in flight %llu", (unsigned long long)c.overflow,
		  (unsigned long long)c.vm_gone, (unsigned long long)c.flooded, (unsigned long long)c.in_flight);
	for (uint32_t i = 0; i < N_VMS; i++) {
		struct dvmq_port_stats st = dpfx_sink(&fx, i);
		CHECK_MSG(st.reordered == 0 && st.gaps == 0, "vm %u: reordered %llu gaps %llu", i,
			  (unsigned long long)st.reordered, (unsigned long long)st.gaps);
		for (uint32_t f = i * FLOWS; f < (i + 1) * FLOWS; f++) {
			struct dvmq_sink_flow fl;
			dvmq_port_sink_flow(fx.sink[i], f, &fl);
			uint64_t sent = dvmq_port_gen_flow_sent(fx.gen, f);
			CHECK_MSG(sent > 0 && fl.received == sent, "flow %u: sent %llu received %llu", f,
				  (unsigned long long)sent, (unsigned long long)fl.received);
		}
	}
	struct dvmq_dp_worker_stats w0, w1;
	CHECK(dvmq_dp_worker_stats(fx.dp, 0, &w0) == 0 && dvmq_dp_worker_stats(fx.dp, 1, &w1) == 0);
	CHECK_MSG(w0.packets > 0 && w1.packets > 0 && w1.wakeups == 0, "served: w0 %llu, inline %llu (wake-ups %llu)",
		  (unsigned long long)w0.packets, (unsigned long long)w1.packets, (unsigned long long)w1.wakeups);
	dpfx_fini(&fx);
}
