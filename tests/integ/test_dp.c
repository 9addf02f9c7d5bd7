/* Data plane with real worker threads: classifier, default path (flooding), tagging,
 * malformed frames, VM removal. Frames are classified by the test thread (the uplink).
 * MAC learning has its own file, test_fdb.c. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../harness.h"
#include "dp_fixture.h"

#define SEC 1000000000ull

static void settle(struct dpfx *fx)
{
	dvmq_dp_drain(fx->dp, 5 * SEC);
}

TEST(dp_vmq_frames_reach_their_vm_through_their_queue)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 2, 4, true, 60 * SEC) == 0);
	CHECK(dpfx_vm(&fx, 1, 0, 0, 1) == 0 && dpfx_vm(&fx, 2, 0, 0, 1) == 0);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[1], 1) == 0);
	CHECK(dvmq_dp_move(fx.dp, 1, 1) == 0);
	uint8_t f[64], a[6], b[6], up[6];
	fx_mac(a, 1), fx_mac(b, 2), fx_mac(up, 0x99);
	for (int i = 0; i < 100; i++) {
		fx_send(&fx, f, fx_frame(f, a, up, 0));
		fx_send(&fx, f, fx_frame(f, b, up, 0));
	}
	settle(&fx);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	struct dvmq_dp_queue_stats q1;
	dvmq_dp_queue_stats(fx.dp, 1, &q1);
	CHECK_MSG(c.vmq_delivered == 100 && c.default_unicast == 100, "vmq %llu default %llu",
		  (unsigned long long)c.vmq_delivered, (unsigned long long)c.default_unicast);
	CHECK(q1.packets == 100 && q1.owner == 1);
	CHECK(dpfx_sink(&fx, 1).tx_packets == 100 && dpfx_sink(&fx, 2).tx_packets == 100);
	CHECK(c.flooded == 0 && c.in_flight == 0);
	dpfx_fini(&fx);
}

TEST(dp_broadcast_and_unknown_unicast_flood_the_vlan_except_the_source)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 1, 2, true, 60 * SEC) == 0);
	CHECK(dpfx_vm(&fx, 1, 0, 0, 1) == 0 && dpfx_vm(&fx, 2, 0, 0, 1) == 0 && dpfx_vm(&fx, 3, 5, 0, 1) == 0);
	uint8_t f[64], bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	uint8_t a[6], unknown[6], up[6];
	fx_mac(a, 1), fx_mac(unknown, 0x77), fx_mac(up, 0x99);
	fx_send(&fx, f, fx_frame(f, bcast, up, 0));   /* VMs 1 and 2 */
	fx_send(&fx, f, fx_frame(f, mcast, up, 5));   /* VM 3 */
	fx_send(&fx, f, fx_frame(f, unknown, up, 0)); /* VMs 1 and 2 */
	fx_send(&fx, f, fx_frame(f, bcast, a, 0));    /* from VM 1's MAC: VM 2 only */
	settle(&fx);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	CHECK(c.flooded == 4 && c.flood_copies == 6);
	CHECK_MSG(c.unknown_unicast == 1, "unknown unicast %llu", (unsigned long long)c.unknown_unicast);
	CHECK(dpfx_sink(&fx, 1).tx_flooded == 2);
	CHECK(dpfx_sink(&fx, 2).tx_flooded == 3);
	CHECK(dpfx_sink(&fx, 3).tx_flooded == 1);
	dpfx_fini(&fx);
}

TEST(dp_tagged_frames_are_delivered_untagged)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 1, 2, true, 60 * SEC) == 0);
	uint8_t vm_mac[6], up[6], f[64];
	fx_mac(vm_mac, 1), fx_mac(up, 0x99);
	struct dvmq_port *pc;
	char err[256];
	char path[] = "/tmp/dvmq-test-untag.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK(dvmq_port_pcap_open_write(path, &pc, err, sizeof(err)) == 0);
	CHECK(dvmq_port_sink_open("vm", 0, 1, 1500, pc, &fx.sink[1]) == 0);
	CHECK(dvmq_dp_vm_add(fx.dp, vm_mac, 7, 0.0, fx.sink[1], &fx.vm[1]) == 0);
	fx_send(&fx, f, fx_frame(f, vm_mac, up, 7));
	fx_send(&fx, f, fx_frame(f, vm_mac, up, 8)); /* other VLAN: unknown there, flooded to nobody */
	settle(&fx);
	dpfx_fini(&fx); /* closes the capture */
	struct dvmq_port *rd;
	CHECK(dvmq_port_pcap_open_read(path, &rd, err, sizeof(err)) == 0);
	struct dvmq_pkt p[4];
	int n = dvmq_port_rx_burst(rd, p, 4);
	CHECK(n == 1 && p[0].len == 60 && p[0].data[12] == 0x88 && p[0].data[13] == 0xb5);
	CHECK(memcmp(p[0].data, vm_mac, 6) == 0 && memcmp(p[0].data + 6, up, 6) == 0);
	CHECK(dvmq_port_rx_burst(rd, p, 4) == -ENODATA);
	dvmq_port_destroy(rd);
	unlink(path);
}

TEST(dp_malformed_frames_are_counted_by_reason_and_reach_no_vm)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 1, 2, true, 60 * SEC) == 0);
	CHECK(dpfx_vm(&fx, 1, 0, 0, 1) == 0);
	uint8_t f[64], a[6], up[6];
	fx_mac(a, 1), fx_mac(up, 0x99);
	fx_frame(f, a, up, 0);
	fx_send(&fx, f, 10);
	f[12] = 0x81, f[13] = 0x00;
	fx_send(&fx, f, 16);
	f[12] = 0x08, f[13] = 0x00, f[14] = 0x42;
	fx_send(&fx, f, 60);
	settle(&fx);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	CHECK(c.rx == 3 && c.verdict[DVMQ_FRAME_RUNT] == 1 && c.verdict[DVMQ_FRAME_VLAN_TRUNCATED] == 1 &&
	      c.verdict[DVMQ_FRAME_IPV4_IHL] == 1);
	CHECK(dpfx_sink(&fx, 1).tx_packets == 0);
	dpfx_fini(&fx);
}

TEST(dp_removed_vm_is_unknown_and_bad_control_calls_are_refused)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 1, 2, false, 60 * SEC) == 0);
	CHECK(dpfx_vm(&fx, 1, 0, 0, 1) == 0 && dpfx_vm(&fx, 2, 0, 0, 1) == 0);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[1], 1) == 0);
	CHECK(dvmq_dp_vm_remove(fx.dp, fx.vm[1]) == 0);
	CHECK(dvmq_dp_vm_remove(fx.dp, fx.vm[1]) == -ENOENT);
	uint8_t a[6], again[6], up[6], f[64];
	fx_mac(a, 1), fx_mac(again, 2), fx_mac(up, 0x99);
	CHECK(dvmq_dp_vm_add(fx.dp, again, 0, 0.0, fx.sink[2], &fx.vm[3]) == -EEXIST);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[2], 9) == -EINVAL);
	CHECK(dvmq_dp_move(fx.dp, 1, 5) == -EINVAL);
	fx_send(&fx, f, fx_frame(f, a, up, 0)); /* VM gone: unknown unicast, flooded to VM 2 */
	settle(&fx);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	CHECK(c.flooded == 1 && dpfx_sink(&fx, 2).tx_flooded == 1 && dpfx_sink(&fx, 1).tx_packets == 0);
	dpfx_fini(&fx);
}

struct remover {
	struct dvmq_dp *dp;
	uint32_t id;
	int rc;
	_Atomic bool returned;
};

static void *remove_main(void *arg)
{
	struct remover *r = arg;
	r->rc = dvmq_dp_vm_remove(r->dp, r->id);
	atomic_store(&r->returned, true);
	return NULL;
}

/* Issue 8 §3: a VM removed while frames still wait in its queue: they are counted vm_gone, none
 * reaches its port nor the VM that takes its slot next, remove returns only once no worker can
 * touch the port, and the port is then destroyed (ASan: no use after free). The VM's port is a
 * gate that holds the worker inside its first delivery, so the frames behind it are still
 * queued when the removal is published. */
TEST(dp_vm_removed_with_frames_queued_counts_them_gone_then_its_port_is_destroyed)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 1, 3, false, 60 * SEC) == 0);
	struct gate_port *gate = gate_open();
	CHECK(gate != NULL);
	uint8_t b[6], up[6], f[64];
	fx_mac(b, 2), fx_mac(up, 0x99);
	uint32_t id;
	CHECK(dvmq_dp_vm_add(fx.dp, b, 0, 0.0, &gate->port, &id) == 0);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, id, 1) == 0);
	CHECK(dpfx_vm(&fx, 1, 0, 0, 1) == 0 && dvmq_dp_vm_set_queue(fx.dp, fx.vm[1], 2) == 0);
	fx_send(&fx, f, fx_frame(f, b, up, 0));
	gate_wait_entered(gate); /* the worker is inside the VM's port with frame 1 */
	for (int i = 0; i < 10; i++)
		fx_send(&fx, f, fx_frame(f, b, up, 0));
	struct remover rm = { fx.dp, id, -1, false };
	gate->removed = &rm.returned;
	pthread_t th;
	CHECK(pthread_create(&th, NULL, remove_main, &rm) == 0);
	/* the removal is published once the VM is unknown to the control API; remove itself must
	 * wait for the worker to leave the port (give a remove that does not a chance to return) */
	while (dvmq_dp_vm_set_cost(fx.dp, id, 1.0) != -ENOENT)
		sched_yield();
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (!atomic_load(&rm.returned) && (t.tv_sec - t0.tv_sec) * 1000000000l + (t.tv_nsec - t0.tv_nsec) < 100000000l);
	/* the same MAC comes back at once, on a new port, in the slot just freed: the frames still
	 * queued carry the old VM's id and must not reach it */
	struct dvmq_port *again;
	uint32_t id2;
	CHECK(dvmq_port_sink_open("again", 0, 0, 1500, NULL, &again) == 0);
	CHECK(dvmq_dp_vm_add(fx.dp, b, 0, 0.0, again, &id2) == 0);
	CHECK_MSG(id2 != id && id2 % FX_MAX_VMS == id % FX_MAX_VMS, "ids %u then %u", id, id2);
	gate_set_open(gate);
	pthread_join(th, NULL);
	CHECK(rm.rc == 0);
	CHECK_MSG(!atomic_load(&gate->early_return), "dvmq_dp_vm_remove returned while a worker was in the port");
	dvmq_port_destroy(&gate->port);
	uint8_t a[6];
	fx_mac(a, 1);
	fx_send(&fx, f, fx_frame(f, a, up, 0)); /* the other VM is served as before */
	settle(&fx);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	CHECK_MSG(c.vm_gone == 10 && c.vmq_delivered == 2 && c.in_flight == 0, "gone %llu delivered %llu",
		  (unsigned long long)c.vm_gone, (unsigned long long)c.vmq_delivered);
	CHECK(dpfx_sink(&fx, 1).tx_packets == 1);
	CHECK(dpfx_sink_packets(again) == 0);
	dpfx_fini(&fx);
	dvmq_port_destroy(again);
}

/* Issue 8 §2: adding a VM, rebinding it and re-costing it publish one object or field in the RCU
 * hash table: none of them waits for a grace period (nor rebuilds a table), so all return while
 * a worker sits inside its read-side section (held in a gate port's delivery). Only remove
 * waits for readers. With the old table (rebuilt, then synchronize_rcu, per call) the first
 * call blocked until the gate opened: this test timed out. */
TEST(dp_control_calls_other_than_remove_wait_for_no_reader)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 1, 3, false, 60 * SEC) == 0);
	struct gate_port *gate = gate_open();
	CHECK(gate != NULL);
	uint8_t g[6], up[6], f[64];
	fx_mac(g, 2), fx_mac(up, 0x99);
	uint32_t gid;
	CHECK(dvmq_dp_vm_add(fx.dp, g, 0, 0.0, &gate->port, &gid) == 0);
	fx_send(&fx, f, fx_frame(f, g, up, 0));
	gate_wait_entered(gate); /* worker 0 is inside a read-side section, and stays there */
	for (uint32_t i = 3; i < 10; i++) {
		CHECK(dpfx_vm(&fx, i, 0, 0, 1) == 0);
		CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[i], 1 + i % 2) == 0);
		CHECK(dvmq_dp_vm_set_cost(fx.dp, fx.vm[i], 50.0) == 0);
		CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[i], DVMQ_DEFAULT_QUEUE) == 0);
		CHECK(dvmq_dp_move(fx.dp, 1 + i % 2, 0) == 0);
	}
	gate_set_open(gate);
	settle(&fx);
	CHECK(atomic_load(&gate->frames) == 1);
	CHECK(dvmq_dp_vm_remove(fx.dp, gid) == 0); /* now there is no reader to wait for */
	dvmq_port_destroy(&gate->port);
	uint8_t a[6];
	fx_mac(a, 5);
	fx_send(&fx, f, fx_frame(f, a, up, 0));
	settle(&fx);
	CHECK(dpfx_sink(&fx, 5).tx_packets == 1);
	dpfx_fini(&fx);
}

TEST(dp_bad_config_is_refused)
{
	struct dvmq_dp *dp = NULL;
	struct dvmq_dp_config ok = { .n_workers = 1, .n_queues = 1, .queue_depth = 8, .mtu = 1500, .max_vms = 1,
				     .fdb_size = 1, .fdb_age_ns = 1 };
	struct dvmq_dp_config c = ok;
	c.n_workers = 0;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	c = ok, c.n_queues = 0;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	c = ok, c.mtu = 10;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	c = ok, c.queue_depth = 0;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	c = ok, c.queue_depth = DVMQ_DP_MAX_DEPTH + 1;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	c = ok, c.frame_bytes = 65536;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	c = ok, c.max_vms = 0;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	c = ok, c.max_vms = DVMQ_DP_MAX_VMS + 1;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	c = ok, c.fdb_size = 0;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	c = ok, c.fdb_age_ns = 0;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	c = ok, c.n_workers = DVMQ_DP_MAX_WORKERS + 1;
	CHECK(dvmq_dp_create(&c, &dp) == -EINVAL);
	CHECK(dp == NULL);
	dvmq_dp_destroy(NULL);
}

/* Issue 8 §2: a burst longer than DVMQ_BURST reaching more than DVMQ_BURST queues overflowed the
 * classifier's per-burst arrays (ASan: stack-buffer-overflow). Every frame must be taken. */
TEST(dp_classify_takes_a_burst_longer_than_dvmq_burst_over_many_queues)
{
	enum { N = 96 };
	struct dvmq_dp_config cfg = { .n_workers = 2, .n_queues = N + 1, .queue_depth = 64, .mtu = 1500,
				      .max_vms = N, .fdb_size = 64, .fdb_age_ns = 60 * SEC, .lossless = true };
	struct dvmq_dp *dp;
	CHECK(dvmq_dp_create(&cfg, &dp) == 0);
	dvmq_dp_thread_register();
	struct dvmq_port *sink[N] = { 0 };
	static uint8_t frames[2 * N][64];
	struct dvmq_pkt pkts[2 * N];
	uint8_t up[6];
	fx_mac(up, 0x999);
	int ok = 1;
	for (uint32_t i = 0; i < N && ok; i++) {
		uint8_t mac[6];
		uint32_t id;
		fx_mac(mac, i);
		ok = dvmq_port_sink_open("vm", 0, 0, 1500, NULL, &sink[i]) == 0 &&
		     dvmq_dp_vm_add(dp, mac, 0, 0.0, sink[i], &id) == 0 && dvmq_dp_vm_set_queue(dp, id, i + 1) == 0 &&
		     dvmq_dp_move(dp, i + 1, i % 2) == 0;
		for (uint32_t k = 0; k < 2; k++) {
			pkts[2 * i + k].data = frames[2 * i + k];
			pkts[2 * i + k].len = fx_frame(frames[2 * i + k], mac, up, 0);
		}
	}
	unsigned took = ok ? dvmq_dp_classify(dp, pkts, 2 * N) : 0;
	int drained = dvmq_dp_drain(dp, 10 * SEC);
	uint64_t got = 0;
	for (uint32_t i = 0; i < N; i++)
		got += dpfx_sink_packets(sink[i]);
	dvmq_dp_thread_unregister();
	dvmq_dp_destroy(dp);
	for (uint32_t i = 0; i < N; i++)
		dvmq_port_destroy(sink[i]);
	CHECK(ok);
	CHECK_MSG(took == 2 * N && drained == 0 && got == 2 * N, "took %u, drained %d, delivered %llu", took, drained,
		  (unsigned long long)got);
}

static void *create_destroy(void *arg)
{
	struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 2, .queue_depth = 64, .mtu = 1500, .max_vms = 4,
				      .fdb_size = 16, .fdb_age_ns = SEC };
	struct dvmq_dp *dp = NULL;
	*(int *)arg = dvmq_dp_create(&cfg, &dp);
	dvmq_dp_destroy(dp);
	return NULL;
}

/* Issue 8 §2: every dvmq_dp_create wrote one static calibration buffer; two data planes created
 * at once raced on it (ThreadSanitizer reports it; this test runs in the TSan build). */
TEST(dp_two_data_planes_created_at_once_share_no_state)
{
	pthread_t th[2];
	int rc[2] = { -1, -1 };
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&th[i], NULL, create_destroy, &rc[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(rc[0] == 0 && rc[1] == 0);
}

/* Issue 18 §4: with virtual_cost a worker's busy time is its frames' VM costs, exactly, on the
 * VMQ and on the default path alike, whatever the time it took (the engine's loads in tests). */
TEST(dp_virtual_cost_counts_each_frames_cost_as_busy_time)
{
	struct dpfx fx;
	struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 2, .queue_depth = 1024, .mtu = 1500,
				      .max_vms = FX_MAX_VMS, .fdb_size = 64, .fdb_age_ns = 60 * SEC, .lossless = true,
				      .virtual_cost = true };
	CHECK(dpfx_init_cfg(&fx, cfg, false) == 0);
	CHECK(dpfx_vm(&fx, 1, 0, 0, 1) == 0 && dpfx_vm(&fx, 2, 0, 0, 1) == 0);
	CHECK(dvmq_dp_vm_set_cost(fx.dp, fx.vm[1], 20000.0) == 0 && dvmq_dp_vm_set_cost(fx.dp, fx.vm[2], 3000.0) == 0);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[1], 1) == 0);
	uint8_t f[64], a[6], b[6], up[6];
	fx_mac(a, 1), fx_mac(b, 2), fx_mac(up, 0x99);
	for (int i = 0; i < 200; i++) {
		fx_send(&fx, f, fx_frame(f, a, up, 0));
		if (i % 2)
			fx_send(&fx, f, fx_frame(f, b, up, 0));
	}
	settle(&fx);
	struct dvmq_dp_queue_stats q0, q1;
	struct dvmq_dp_worker_stats w;
	dvmq_dp_queue_stats(fx.dp, 0, &q0);
	dvmq_dp_queue_stats(fx.dp, 1, &q1);
	dvmq_dp_worker_stats(fx.dp, 0, &w);
	CHECK(q1.packets == 200 && q0.packets == 100);
	CHECK_MSG(q1.busy_ns == 200 * 20000ull && q0.busy_ns == 100 * 3000ull && w.busy_ns == q0.busy_ns + q1.busy_ns,
		  "busy: queue 1 %llu, queue 0 %llu, worker %llu", (unsigned long long)q1.busy_ns,
		  (unsigned long long)q0.busy_ns, (unsigned long long)w.busy_ns);
	dpfx_fini(&fx);
}
