/* Handoff under traffic: queues move between two workers while the generator runs at full speed;
 * no frame may be lost or reordered. Also runtime changes (VMs added, removed, re-queued) while
 * traffic flows: the other VMs lose nothing. */
#include <errno.h>
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

SLOW_TEST(dp_handoff_10000_moves_under_full_traffic_lose_and_reorder_nothing)
{
	struct dpfx fx;
	const uint32_t n_vms = 4;
	CHECK(dpfx_init(&fx, 2, n_vms + 1, true, 60 * SEC) == 0);
	for (uint32_t i = 0; i < n_vms; i++) {
		CHECK(dpfx_vm(&fx, i, 0, i * FLOWS, FLOWS) == 0);
		CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[i], i + 1) == 0);
	}
	CHECK(dpfx_start_traffic(&fx, n_vms, FLOWS, 1e9) == 0);
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
	/* wait for the last handoffs to complete */
	for (uint32_t q = 1; q <= n_vms; q++) {
		struct dvmq_dp_queue_stats st;
		do {
			dvmq_dp_queue_stats(fx.dp, q, &st);
			sched_yield();
		} while (st.owner != st.target && now_ns() < until);
	}
	dpfx_stop_traffic(&fx);
	CHECK(dvmq_dp_drain(fx.dp, 10 * SEC) == 0);
	CHECK_MSG(done == 10000, "only %u moves in the time allowed", done);
	uint64_t lat[16];
	CHECK(dvmq_dp_handoffs(fx.dp, lat, 16) == 16);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	CHECK(c.overflow == 0 && c.vm_gone == 0 && c.flooded == 0 && c.in_flight == 0);
	char why[160];
	for (uint32_t i = 0; i < n_vms; i++)
		CHECK_MSG(vm_complete(&fx, i, why, sizeof(why)), "%s", why);
	dpfx_fini(&fx);
}

SLOW_TEST(dp_runtime_changes_under_traffic_leave_other_vms_whole)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 2, 4, true, 60 * SEC) == 0);
	/* VMs 0 and 1 on VMQs on different workers, VM 2 on the default queue */
	for (uint32_t i = 0; i < 3; i++)
		CHECK(dpfx_vm(&fx, i, 0, i * FLOWS, FLOWS) == 0);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[0], 1) == 0 && dvmq_dp_vm_set_queue(fx.dp, fx.vm[1], 2) == 0);
	CHECK(dvmq_dp_move(fx.dp, 2, 1) == 0);
	CHECK(dpfx_start_traffic(&fx, 3, FLOWS, 2e5) == 0);
	struct timespec pause = { 0, 20000000 };
	int rounds = 0;
	/* VM slots are never reused, so 3 + 10 rounds fit the fixture's 16 */
	for (int round = 0; round < 10; round++) {
		/* a VM that comes and goes (no traffic of its own), on a VMQ then off it */
		uint8_t mac[6];
		fx_mac(mac, 9);
		struct dvmq_port *sink;
		uint32_t id;
		CHECK(dvmq_port_sink_open("tmp", 0, 0, 1500, NULL, &sink) == 0);
		int rc = dvmq_dp_vm_add(fx.dp, mac, 0, 0.0, sink, &id);
		if (!rc)
			rc = dvmq_dp_vm_set_queue(fx.dp, id, 3);
		if (!rc)
			rc = dvmq_dp_vm_set_cost(fx.dp, id, 100.0);
		nanosleep(&pause, NULL);
		if (!rc)
			rc = dvmq_dp_vm_remove(fx.dp, id);
		dvmq_port_destroy(sink);
		if (rc)
			break;
		/* a weight change elsewhere moves VM 2 between the default queue and VMQ 3 */
		rc = dvmq_dp_vm_set_queue(fx.dp, fx.vm[2], round % 2 ? DVMQ_DEFAULT_QUEUE : 3);
		nanosleep(&pause, NULL);
		if (rc)
			break;
		rounds++;
	}
	dpfx_stop_traffic(&fx);
	CHECK_MSG(rounds == 10, "a runtime change failed in round %d", rounds);
	CHECK(dvmq_dp_drain(fx.dp, 10 * SEC) == 0);
	char why[160];
	CHECK_MSG(vm_complete(&fx, 0, why, sizeof(why)), "%s", why);
	CHECK_MSG(vm_complete(&fx, 1, why, sizeof(why)), "%s", why);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	CHECK(c.overflow == 0 && c.vm_gone == 0);
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
	CHECK(dvmq_dp_drain(fx.dp, 10 * SEC) == 0);
	CHECK_MSG(done == 1000, "only %u rebinds in the time allowed", done);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	CHECK(c.overflow == 0 && c.vm_gone == 0 && c.in_flight == 0);
	CHECK_MSG(c.rebinds >= 1000, "%llu rebinds reached the classifier", (unsigned long long)c.rebinds);
	char why[160];
	for (uint32_t i = 0; i < n_vms; i++)
		CHECK_MSG(vm_complete(&fx, i, why, sizeof(why)), "%s", why);
	dpfx_fini(&fx);
}
