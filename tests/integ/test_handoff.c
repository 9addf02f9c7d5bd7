/* Handoffs under traffic, the generator at full speed: queues moved between workers (two, three,
 * re-targeted in flight, the default queue with its MAC learning), VMs rebound between queues,
 * VMs added, re-costed and removed. No frame may be lost or reordered; every flow is checked. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "../harness.h"
#include "dp_fixture.h"

#define SEC 1000000000ull
#define FLOWS 4u

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* Every flow of VM i got all its frames, in order. */
static int vm_complete(struct dpfx *fx, uint32_t i, char *why, size_t len)
{
	struct dvmq_port_stats st = dpfx_sink(fx, i);
	if (st.reordered || st.gaps) {
		snprintf(why, len, "vm %u: reordered %llu gaps %llu", i, (unsigned long long)st.reordered,
			 (unsigned long long)st.gaps);
		return 0;
	}
	for (uint32_t f = i * FLOWS; f < (i + 1) * FLOWS; f++) {
		struct dvmq_sink_flow fl;
		dvmq_port_sink_flow(fx->sink[i], f, &fl);
		uint64_t sent = dvmq_port_gen_flow_sent(fx->gen, f), got = fl.received;
		if (sent != got || sent == 0) {
			snprintf(why, len, "vm %u flow %u: sent %llu received %llu", i, f, (unsigned long long)sent,
				 (unsigned long long)got);
			return 0;
		}
	}
	return 1;
}

/* n_workers workers, VMs 0..n_vms-1 each on its own VMQ (queue i + 1, all on worker 0 at
 * first), the generator at full speed. Returns 0 or -errno. */
static int vmqs_under_traffic(struct dpfx *fx, uint32_t n_workers, uint32_t n_vms)
{
	int rc = dpfx_init(fx, n_workers, n_vms + 1, true, 60 * SEC);
	for (uint32_t i = 0; i < n_vms && !rc; i++) {
		rc = dpfx_vm(fx, i, 0, i * FLOWS, FLOWS);
		if (!rc)
			rc = dvmq_dp_vm_set_queue(fx->dp, fx->vm[i], i + 1);
	}
	return rc ? rc : dpfx_start_traffic(fx, n_vms, FLOWS, 1e9);
}

/* Waits until queues 1..n_queues are where they were sent last. Returns the first that is not by
 * `until`, or 0. */
static uint32_t settle_moves(struct dpfx *fx, uint32_t n_queues, uint64_t until)
{
	for (uint32_t q = 1; q <= n_queues; q++) {
		struct dvmq_dp_queue_stats st;
		do {
			dvmq_dp_queue_stats(fx->dp, q, &st);
			sched_yield();
		} while (st.owner != st.target && now_ns() < until);
		if (st.owner != st.target)
			return q;
	}
	return 0;
}

/* After the traffic stopped: drained, nothing dropped, flooded or left, VMs 0..n_vms-1 whole. */
static int all_whole(struct dpfx *fx, uint32_t n_vms, char *why, size_t len)
{
	if (dvmq_dp_drain(fx->dp, 10 * SEC) != 0) {
		snprintf(why, len, "the rings did not drain");
		return 0;
	}
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx->dp, &c);
	if (c.overflow || c.vm_gone || c.flooded || c.in_flight) {
		snprintf(why, len, "overflow %llu, gone %llu, flooded %llu, in flight %llu", (unsigned long long)c.overflow,
			 (unsigned long long)c.vm_gone, (unsigned long long)c.flooded, (unsigned long long)c.in_flight);
		return 0;
	}
	for (uint32_t i = 0; i < n_vms; i++)
		if (!vm_complete(fx, i, why, len))
			return 0;
	return 1;
}

SLOW_TEST(dp_handoff_10000_moves_under_full_traffic_lose_and_reorder_nothing)
{
	struct dpfx fx;
	const uint32_t n_vms = 4;
	CHECK(vmqs_under_traffic(&fx, 2, n_vms) == 0);
	unsigned seed = 7;
	uint32_t done = 0;
	uint64_t until = now_ns() + 120 * SEC;
	while (done < 10000 && now_ns() < until) {
		uint32_t q = 1 + (uint32_t)rand_r(&seed) % n_vms;
		struct dvmq_dp_queue_stats st;
		dvmq_dp_queue_stats(fx.dp, q, &st);
		if (st.owner != st.target) {
			sched_yield();
			continue; /* still moving: a move is counted once its handoff completed */
		}
		CHECK(dvmq_dp_move(fx.dp, q, 1 - st.owner) == 0);
		done++;
	}
	uint32_t unsettled = settle_moves(&fx, n_vms, until); /* the last handoffs complete */
	dpfx_stop_traffic(&fx);
	CHECK_MSG(unsettled == 0, "queue %u never settled", unsettled);
	CHECK_MSG(done == 10000, "only %u moves in the time allowed", done);
	uint64_t lat[16];
	CHECK(dvmq_dp_handoffs(fx.dp, lat, 16) == 16);
	char why[160];
	CHECK_MSG(all_whole(&fx, n_vms, why, sizeof(why)), "%s", why);
	dpfx_fini(&fx);
}

/* Every flow [base, base + FLOWS) a sink saw is whole over the sink's lifetime: no frame behind
 * a later one, none missing between the first and the last it got, and some received. */
static int lifetime_complete(const struct dvmq_port *sink, uint32_t base, const char *who, char *why, size_t len)
{
	for (uint32_t f = base; f < base + FLOWS; f++) {
		struct dvmq_sink_flow fl;
		dvmq_port_sink_flow(sink, f, &fl);
		if (fl.received == 0 || fl.reordered || fl.received != fl.last_seq - fl.first_seq + 1) {
			snprintf(why, len, "%s flow %u: received %llu of %llu..%llu, %llu reordered", who, f,
				 (unsigned long long)fl.received, (unsigned long long)fl.first_seq,
				 (unsigned long long)fl.last_seq, (unsigned long long)fl.reordered);
			return 0;
		}
	}
	return 1;
}

/* Issue 8 §3: runtime changes under traffic. VMs 0 and 1 sit on VMQs on different workers; VM 2
 * is rebound between the default queue and VMQ 3 every round; a temporary VM (its own VLAN,
 * with traffic of its own) is added, put on VMQ 3 beside VM 2, re-costed and removed, ten
 * times. Every VM's flows are checked: 0, 1 and 2 whole, the temporary VM whole over each of its
 * lifetimes; every frame sent has a counted fate. */
SLOW_TEST(dp_runtime_changes_under_traffic_every_vm_checked)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 2, 4, true, 60 * SEC) == 0);
	for (uint32_t i = 0; i < 3; i++)
		CHECK(dpfx_vm(&fx, i, 0, i * FLOWS, FLOWS) == 0);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[0], 1) == 0 && dvmq_dp_vm_set_queue(fx.dp, fx.vm[1], 2) == 0);
	CHECK(dvmq_dp_move(fx.dp, 2, 1) == 0);
	/* the temporary VM is VM 3 of the generator, alone on VLAN 9: while it is absent its frames
	 * are unknown unicast flooded to nobody */
	const uint16_t vlans[4] = { 0, 0, 0, 9 };
	CHECK(dpfx_start_traffic_vlans(&fx, 4, FLOWS, 2e5, vlans) == 0);
	struct timespec pause = { 0, 20000000 };
	char why[200];
	int rounds = 0;
	for (int round = 0; round < 10; round++) {
		uint8_t mac[6];
		fx_mac(mac, 3);
		struct dvmq_port *sink;
		uint32_t id;
		CHECK(dvmq_port_sink_open("tmp", 3 * FLOWS, FLOWS, 1500, NULL, &sink) == 0);
		int rc = dvmq_dp_vm_add(fx.dp, mac, 9, 0.0, sink, &id);
		nanosleep(&pause, NULL); /* on the default queue a while */
		if (!rc)
			rc = dvmq_dp_vm_set_queue(fx.dp, id, 3);
		if (!rc)
			rc = dvmq_dp_vm_set_cost(fx.dp, id, 100.0);
		nanosleep(&pause, NULL);
		if (!rc)
			rc = dvmq_dp_vm_remove(fx.dp, id);
		int whole = rc == 0 && lifetime_complete(sink, 3 * FLOWS, "temporary VM", why, sizeof(why));
		dvmq_port_destroy(sink);
		if (rc || !whole)
			break;
		/* a weight change elsewhere moves VM 2 between the default queue and VMQ 3 */
		rc = dvmq_dp_vm_set_queue(fx.dp, fx.vm[2], round % 2 ? DVMQ_DEFAULT_QUEUE : 3);
		nanosleep(&pause, NULL);
		if (rc)
			break;
		rounds++;
	}
	dpfx_stop_traffic(&fx);
	CHECK_MSG(rounds == 10, "round %d: %s", rounds, why);
	CHECK(dvmq_dp_drain(fx.dp, 10 * SEC) == 0);
	for (uint32_t i = 0; i < 3; i++)
		CHECK_MSG(vm_complete(&fx, i, why, sizeof(why)), "%s", why);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	uint64_t sent = 0;
	for (uint32_t v = 0; v < 4; v++)
		sent += dvmq_port_gen_sent(fx.gen, v);
	CHECK(c.overflow == 0 && c.rx == sent && c.filtered == 0);
	CHECK_MSG(c.vmq_delivered + c.default_unicast + c.flooded + c.vm_gone == sent,
		  "sent %llu: vmq %llu default %llu flooded %llu gone %llu", (unsigned long long)sent,
		  (unsigned long long)c.vmq_delivered, (unsigned long long)c.default_unicast,
		  (unsigned long long)c.flooded, (unsigned long long)c.vm_gone);
	/* (a frame for the temporary VM may be flooded to it: looked up just before it was added,
	 * flooded just after; nobody else is on VLAN 9, so that is the only copy there can be) */
	CHECK(c.flood_copies <= c.flooded);
	dpfx_fini(&fx);
}

/* Issue 8 §3: moves re-targeted before their handoff completes, on three workers: 2,000 moves
 * of random queues to random workers under full traffic, every other one followed at once by a
 * second to another worker. Nothing lost or reordered, every worker served frames, every
 * queue settles where it was sent last. */
SLOW_TEST(dp_moves_retargeted_before_the_handoff_completes_on_three_workers)
{
	struct dpfx fx;
	const uint32_t n_vms = 4;
	CHECK(vmqs_under_traffic(&fx, 3, n_vms) == 0);
	unsigned seed = 3;
	uint32_t retargeted = 0;
	uint64_t until = now_ns() + 120 * SEC;
	for (uint32_t k = 0; k < 2000 && now_ns() < until; k++) {
		uint32_t q = 1 + (uint32_t)rand_r(&seed) % n_vms;
		struct dvmq_dp_queue_stats st;
		dvmq_dp_queue_stats(fx.dp, q, &st);
		uint64_t served = st.packets;
		uint32_t a = (st.target + 1 + (uint32_t)rand_r(&seed) % 2) % 3;
		CHECK(dvmq_dp_move(fx.dp, q, a) == 0);
		if (k % 2 == 0) {
			dvmq_dp_queue_stats(fx.dp, q, &st);
			if (st.owner != a)
				retargeted++; /* the handoff to a has not completed: change the plan */
			CHECK(dvmq_dp_move(fx.dp, q, (a + 1 + (uint32_t)rand_r(&seed) % 2) % 3) == 0);
		}
		do /* traffic flows between moves */
			dvmq_dp_queue_stats(fx.dp, q, &st);
		while (st.packets < served + 32 && now_ns() < until);
	}
	uint32_t unsettled = settle_moves(&fx, n_vms, until);
	dpfx_stop_traffic(&fx);
	CHECK_MSG(unsettled == 0, "queue %u never settled", unsettled);
	CHECK_MSG(retargeted > 100, "only %u moves were re-targeted in flight", retargeted);
	for (uint32_t w = 0; w < 3; w++) {
		struct dvmq_dp_worker_stats ws;
		dvmq_dp_worker_stats(fx.dp, w, &ws);
		CHECK_MSG(ws.packets > 0, "worker %u served nothing", w);
	}
	char why[160];
	CHECK_MSG(all_whole(&fx, n_vms, why, sizeof(why)), "%s", why);
	dpfx_fini(&fx);
}

struct learner {
	struct dpfx *fx;
	uint32_t n_macs;
};

/* The uplink for the queue-0 test: the generator's frames (VMs on the default queue) mixed with
 * broadcasts from n_macs different uplink MACs, each seen once: learning on every batch. */
static void *learning_uplink(void *arg)
{
	struct learner *l = arg;
	struct dpfx *fx = l->fx;
	struct dvmq_pkt pkts[DVMQ_BURST + 4];
	static uint8_t bc[4][64];
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint64_t t = 1;
	uint32_t mac = 0;
	dvmq_dp_thread_register();
	while (!atomic_load(&fx->stop)) {
		t += 1000000;
		dvmq_port_gen_advance(fx->gen, t);
		int n = dvmq_port_rx_burst(fx->gen, pkts, DVMQ_BURST);
		if (n < 0)
			n = 0;
		for (int k = 0; k < 4 && mac < l->n_macs; k++, mac++) {
			uint8_t src[6] = { 0x02, 0x02, 0, (uint8_t)(mac >> 16), (uint8_t)(mac >> 8), (uint8_t)mac };
			pkts[n++] = (struct dvmq_pkt){ bc[k], fx_frame(bc[k], bcast, src, 0), 0 };
		}
		if (n > 0)
			dvmq_dp_classify(fx->dp, pkts, (unsigned)n);
	}
	dvmq_dp_thread_unregister();
	return NULL;
}

/* Issue 8 §3: moving queue 0, the default queue, whose owner also owns MAC learning: 2,000 moves
 * between two workers while VMs without a VMQ get traffic and new uplink MACs arrive all along.
 * The VMs' flows are whole, every MAC is learned exactly once (one learner at a time: TSan
 * watches the table change hands), every broadcast reaches both VMs. */
SLOW_TEST(dp_moving_the_default_queue_keeps_learning_and_order)
{
	struct dpfx fx;
	struct dvmq_dp_config cfg = { .n_workers = 2, .n_queues = 1, .queue_depth = 1024, .mtu = 1500,
				      .max_vms = 4, .fdb_size = 1u << 16, .fdb_age_ns = 3600 * SEC, .lossless = true };
	CHECK(dpfx_init_cfg(&fx, cfg, false) == 0);
	for (uint32_t i = 0; i < 2; i++)
		CHECK(dpfx_vm(&fx, i, 0, i * FLOWS, FLOWS) == 0);
	struct dvmq_gen_vm g[2];
	memset(g, 0, sizeof(g));
	for (uint32_t i = 0; i < 2; i++) {
		fx_mac(g[i].mac, i);
		g[i].frame_bytes = 64;
		g[i].flows = FLOWS;
		g[i].flow_base = i * FLOWS;
	}
	CHECK(dvmq_port_gen_open("gen", g, 2, &fx.gen) == 0);
	for (uint32_t i = 0; i < 2; i++)
		dvmq_port_gen_set_rate(fx.gen, i, 1e9);
	dvmq_port_gen_advance(fx.gen, 1);
	struct learner l = { &fx, 40000 };
	CHECK(pthread_create(&fx.uplink, NULL, learning_uplink, &l) == 0);
	uint32_t done = 0;
	uint64_t until = now_ns() + 120 * SEC;
	while (done < 2000 && now_ns() < until) {
		struct dvmq_dp_queue_stats st;
		dvmq_dp_queue_stats(fx.dp, 0, &st);
		if (st.owner != st.target) {
			sched_yield();
			continue;
		}
		CHECK(dvmq_dp_move(fx.dp, 0, 1 - st.owner) == 0);
		done++;
	}
	struct dvmq_dp_counters c;
	do { /* every MAC sent and learned */
		dvmq_dp_counters(fx.dp, &c);
		sched_yield();
	} while (c.learned < 40000 + 1 && now_ns() < until);
	dpfx_stop_traffic(&fx);
	CHECK(dvmq_dp_drain(fx.dp, 10 * SEC) == 0);
	CHECK_MSG(done == 2000, "only %u moves in the time allowed", done);
	dvmq_dp_counters(fx.dp, &c);
	/* 40,000 broadcast sources and the generator's one uplink MAC, each learned once */
	CHECK_MSG(c.learned == 40000 + 1 && c.fdb_full == 0 && c.fdb_entries == 40000 + 1, "learned %llu, held %llu",
		  (unsigned long long)c.learned, (unsigned long long)c.fdb_entries);
	CHECK(c.flooded == 40000 && c.flood_copies == 80000 && c.overflow == 0);
	char why[160];
	for (uint32_t i = 0; i < 2; i++) {
		CHECK_MSG(vm_complete(&fx, i, why, sizeof(why)), "%s", why);
		CHECK(dpfx_sink(&fx, i).tx_flooded == 40000);
	}
	dpfx_fini(&fx);
}

/* Issue 8 §2: a VM rebound from queue to queue (as the pool does when it gives or takes a VMQ)
 * must be a handoff too: frames already in the old queue reach the VM before any of the new one. */
SLOW_TEST(dp_rebind_1000_times_under_full_traffic_loses_and_reorders_nothing)
{
	struct dpfx fx;
	const uint32_t n_vms = 2;
	CHECK(dpfx_init(&fx, 2, 4, true, 60 * SEC) == 0);
	for (uint32_t i = 0; i < n_vms; i++)
		CHECK(dpfx_vm(&fx, i, 0, i * FLOWS, FLOWS) == 0);
	/* queue 0 (default) on worker 0, queue 1 on worker 1, queue 2 on worker 0 */
	CHECK(dvmq_dp_move(fx.dp, 1, 1) == 0);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[1], 3) == 0);
	CHECK(dpfx_start_traffic(&fx, n_vms, FLOWS, 1e9) == 0);
	static const uint32_t cycle[] = { 1, 2, 0, 1, 0, 2 };
	uint32_t done = 0;
	uint64_t until = now_ns() + 120 * SEC;
	while (done < 1000 && now_ns() < until) {
		uint32_t q = cycle[done % 6];
		struct dvmq_dp_queue_stats st;
		dvmq_dp_queue_stats(fx.dp, q, &st);
		uint64_t before = st.enqueued;
		CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[0], q) == 0);
		done++;
		/* under traffic: the classifier took the binding and frames flow through it (only VM 0
		 * is bound to queues 0, 1 and 2) */
		do
			dvmq_dp_queue_stats(fx.dp, q, &st);
		while (st.enqueued < before + 64 && now_ns() < until);
	}
	dpfx_stop_traffic(&fx);
	CHECK_MSG(done == 1000, "only %u rebinds in the time allowed", done);
	char why[160];
	CHECK_MSG(all_whole(&fx, n_vms, why, sizeof(why)), "%s", why);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	CHECK_MSG(c.rebinds >= 1000, "%llu rebinds reached the classifier", (unsigned long long)c.rebinds);
	dpfx_fini(&fx);
}
