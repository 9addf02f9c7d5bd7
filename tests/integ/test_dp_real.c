/* The data plane between real devices, in a private network namespace (root; skipped with the
 * reason otherwise): two VMs on TAP ports (dvtw1, dvtw2: raw sockets on the TAP netdevs stand
 * for the VMs' stacks), the uplink on an afpacket veth (dvtwu, its peer dvtwx the outside), a
 * hub thread doing what the daemon's rx threads do (each VM port's frames to dvmq_dp_vm_send,
 * the uplink's to dvmq_dp_classify, with offloads). Checked on the wire: VM -> VM on the VLAN,
 * VM -> outside tagged, outside -> VM untagged, broadcast to the VLAN and out, spoofed and
 * foreign-VLAN frames reach nobody and are counted; the uplink link down and a VM's TAP deleted
 * cost counters while the others keep going. And real TCP with offloads: super-frames whole. */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "dvmq/dp.h"
#include "port_fixture.h"

#define SEC 1000000000ull

static const uint8_t MAC1[6] = { 0x02, 0, 0, 0, 0x77, 0x01 };
static const uint8_t MAC2[6] = { 0x02, 0, 0, 0, 0x77, 0x02 };
static const uint8_t OUT[6] = { 0x02, 0, 0, 0, 0x77, 0x99 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct rig {
	struct dvmq_dp *dp;
	struct dvmq_port *up, *vm[2];
	uint32_t id[2];
	_Atomic bool vm_alive[2];
	int raw_vm[2], raw_out;
	pthread_t hub;
	_Atomic bool stop;
};

/* The daemon's rx side in one thread: poll every port, hand what each read to the data plane.
 * A port that reported its device gone is left alone (as the daemon would reopen or drop it). */
static void *hub_main(void *arg)
{
	struct rig *r = arg;
	if (dvmq_dp_thread_register() != 0)
		return NULL;
	struct dvmq_pkt pk[DVMQ_BURST];
	struct dvmq_offload off[DVMQ_BURST];
	bool gone[3] = { false, false, false };
	while (!atomic_load(&r->stop)) {
		struct pollfd pfd[3];
		for (int i = 0; i < 3; i++) {
			struct dvmq_port *p = i == 2 ? r->up : r->vm[i];
			pfd[i] = (struct pollfd){ .fd = gone[i] || !p ? -1 : dvmq_port_fd(p), .events = POLLIN };
		}
		poll(pfd, 3, 5);
		for (int i = 0; i < 3; i++) {
			struct dvmq_port *p = i == 2 ? r->up : r->vm[i];
			if (gone[i] || !p)
				continue;
			int n = dvmq_port_rx_burst_off(p, pk, off, DVMQ_BURST);
			if (n == -ENODEV)
				gone[i] = true;
			if (n <= 0)
				continue;
			if (i == 2)
				dvmq_dp_classify_off(r->dp, pk, off, (unsigned)n);
			else
				dvmq_dp_vm_send_off(r->dp, r->id[i], pk, off, (unsigned)n);
		}
	}
	dvmq_dp_thread_unregister();
	return NULL;
}

static int rig_start(struct rig *r, char *err, size_t el)
{
	memset(r, 0, sizeof(*r));
	r->raw_vm[0] = r->raw_vm[1] = r->raw_out = -1;
	if (pf_sh("ip link add dvtwu type veth peer name dvtwx && ip link set dvtwu up && ip link set dvtwx up"))
		return snprintf(err, el, "veth"), -1;
	int rc = dvmq_port_afpacket_open("dvtwu", NULL, &r->up, err, el);
	if (rc)
		return rc;
	const char *tap[2] = { "dvtw1", "dvtw2" };
	for (int i = 0; i < 2; i++) {
		if ((rc = dvmq_port_tap_open(tap[i], NULL, &r->vm[i], err, el)) != 0)
			return rc;
		if (pf_sh("ip link set %s up", tap[i]))
			return snprintf(err, el, "%s up", tap[i]), -1;
		if ((r->raw_vm[i] = pf_raw_open(tap[i])) < 0)
			return snprintf(err, el, "raw %s", tap[i]), -1;
	}
	if ((r->raw_out = pf_raw_open("dvtwx")) < 0)
		return snprintf(err, el, "raw dvtwx"), -1;
	struct dvmq_dp_config cfg = { .n_workers = 2, .n_queues = 3, .queue_depth = 1024, .mtu = 1500,
				      .max_vms = 8, .fdb_size = 64, .fdb_age_ns = 60 * SEC, .lossless = true };
	if ((rc = dvmq_dp_create(&cfg, &r->dp)) != 0)
		return snprintf(err, el, "dp create"), rc;
	if ((rc = dvmq_dp_vm_add(r->dp, MAC1, 5, 0.0, r->vm[0], &r->id[0])) != 0 ||
	    (rc = dvmq_dp_vm_add(r->dp, MAC2, 5, 0.0, r->vm[1], &r->id[1])) != 0)
		return snprintf(err, el, "vm add"), rc;
	if ((rc = dvmq_dp_vm_set_queue(r->dp, r->id[1], 1)) != 0)
		return rc;
	dvmq_dp_set_uplink(r->dp, r->up);
	if (pthread_create(&r->hub, NULL, hub_main, r) != 0)
		return snprintf(err, el, "hub thread"), -1;
	return 0;
}

static void rig_stop(struct rig *r)
{
	atomic_store(&r->stop, true);
	pthread_join(r->hub, NULL);
	dvmq_dp_destroy(r->dp);
	for (int i = 0; i < 2; i++) {
		if (r->raw_vm[i] >= 0)
			close(r->raw_vm[i]);
		dvmq_port_destroy(r->vm[i]);
	}
	if (r->raw_out >= 0)
		close(r->raw_out);
	dvmq_port_destroy(r->up);
}

/* Waits up to timeout_ms for the test frame with sequence number seq on raw socket fd; returns
 * its length (copied into buf) or 0. Other frames (the kernel's chatter, earlier tests') pass. */
static int wait_seq(int fd, uint32_t seq, uint8_t *buf, uint32_t cap, int timeout_ms)
{
	uint64_t end = pf_now_ms() + (uint64_t)timeout_ms;
	while (pf_now_ms() < end) {
		int n = pf_raw_recv(fd, buf, cap, 50);
		if (n > 0 && pf_frame_seq(buf, (uint32_t)n) == (int64_t)seq)
			return n;
	}
	return 0;
}

/* Waits up to 3 s until the counter at byte offset `at` of struct dvmq_dp_counters reaches
 * want; returns its value then. */
static uint64_t wait_counter(struct dvmq_dp *dp, size_t at, uint64_t want)
{
	uint64_t end = pf_now_ms() + 3000, v;
	for (;;) {
		struct dvmq_dp_counters c;
		dvmq_dp_counters(dp, &c);
		memcpy(&v, (const uint8_t *)&c + at, sizeof(v));
		if (v >= want || pf_now_ms() > end)
			return v;
		usleep(2000);
	}
}
#define CTR(field) offsetof(struct dvmq_dp_counters, field)

TEST(dp_real_taps_and_an_afpacket_uplink_switch_both_directions)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct rig r;
	char err[256] = "";
	int rc = rig_start(&r, err, sizeof(err));
	CHECK_MSG(rc == 0, "setup: %d %s", rc, err);
	uint8_t f[2048], got[2100];
	uint32_t seq = 1;

	/* VM1 -> VM2, same VLAN: as sent; the outside sees nothing of it */
	uint32_t len = pf_frame(f, 200, MAC2, MAC1, 0, seq);
	CHECK(pf_raw_send(r.raw_vm[0], f, len) == 0);
	int n = wait_seq(r.raw_vm[1], seq, got, sizeof(got), 10000);
	CHECK_MSG(n == (int)len && memcmp(got, f, len) == 0, "VM2 got %d bytes of %u", n, len);
	CHECK(wait_seq(r.raw_out, seq, got, sizeof(got), 200) == 0);

	/* VM1 -> the outside: tagged VLAN 5 */
	len = pf_frame(f, 300, OUT, MAC1, 0, ++seq);
	pf_raw_send(r.raw_vm[0], f, len);
	n = wait_seq(r.raw_out, seq, got, sizeof(got), 10000);
	CHECK_MSG(n == (int)len + 4 && got[12] == 0x81 && got[13] == 0 && (got[14] & 0x0f) == 0 && got[15] == 5 &&
			  memcmp(got, f, 12) == 0 && memcmp(got + 16, f + 12, len - 12) == 0,
		  "outside got %d bytes (tag %02x%02x %02x%02x)", n, got[12], got[13], got[14], got[15]);

	/* the outside -> VM2 (tagged VLAN 5, through its VMQ): untagged at VM2, not at VM1 */
	len = pf_frame(f, 400, MAC2, OUT, 5, ++seq);
	pf_raw_send(r.raw_out, f, len);
	n = wait_seq(r.raw_vm[1], seq, got, sizeof(got), 10000);
	CHECK_MSG(n == (int)len - 4 && got[12] == 0x08 && memcmp(got + 12, f + 16, len - 16) == 0, "VM2 got %d", n);
	CHECK(wait_seq(r.raw_vm[0], seq, got, sizeof(got), 200) == 0);

	/* broadcast from VM1: VM2 untagged, the outside tagged, not back to VM1 */
	len = pf_frame(f, 100, BCAST, MAC1, 0, ++seq);
	pf_raw_send(r.raw_vm[0], f, len);
	CHECK(wait_seq(r.raw_vm[1], seq, got, sizeof(got), 10000) == (int)len);
	CHECK(wait_seq(r.raw_out, seq, got, sizeof(got), 10000) == (int)len + 4 && got[15] == 5);
	CHECK(wait_seq(r.raw_vm[0], seq, got, sizeof(got), 200) == 0);

	/* spoofed source, foreign VLAN: nobody gets them, each counted by its reason */
	uint8_t other[6] = { 0x02, 0, 0, 0, 0x77, 0x55 };
	len = pf_frame(f, 100, MAC2, other, 0, ++seq);
	pf_raw_send(r.raw_vm[0], f, len);
	CHECK(wait_counter(r.dp, CTR(sent.drop[DVMQ_DP_DROP_SPOOFED_MAC]), 1) == 1);
	len = pf_frame(f, 100, MAC2, MAC1, 9, ++seq);
	pf_raw_send(r.raw_vm[0], f, len);
	CHECK(wait_counter(r.dp, CTR(sent.drop[DVMQ_DP_DROP_FOREIGN_VLAN]), 1) == 1);
	CHECK(wait_seq(r.raw_vm[1], seq - 1, got, sizeof(got), 200) == 0);
	CHECK(wait_seq(r.raw_vm[1], seq, got, sizeof(got), 200) == 0 &&
	      wait_seq(r.raw_out, seq, got, sizeof(got), 200) == 0);
	struct dvmq_dp_vm_stats v1;
	CHECK(dvmq_dp_vm_stats(r.dp, r.id[0], &v1) == 0);
	CHECK(v1.sent.drop[DVMQ_DP_DROP_SPOOFED_MAC] == 1 && v1.sent.drop[DVMQ_DP_DROP_FOREIGN_VLAN] == 1);

	/* the uplink down: what VM1 sends out is counted refused; VM1 -> VM2 still flows */
	CHECK(pf_sh("ip link set dvtwu down") == 0);
	len = pf_frame(f, 100, OUT, MAC1, 0, ++seq);
	pf_raw_send(r.raw_vm[0], f, len);
	CHECK_MSG(wait_counter(r.dp, CTR(sent.uplink_refused), 1) == 1, "uplink down: not counted");
	len = pf_frame(f, 100, MAC2, MAC1, 0, ++seq);
	pf_raw_send(r.raw_vm[0], f, len);
	CHECK(wait_seq(r.raw_vm[1], seq, got, sizeof(got), 10000) == (int)len);
	CHECK(pf_sh("ip link set dvtwu up") == 0);

	/* VM2's TAP deleted: frames to it are counted refused, never retried; VM1 -> outside flows */
	close(r.raw_vm[1]);
	r.raw_vm[1] = -1;
	CHECK(pf_sh("ip link del dvtw2") == 0);
	len = pf_frame(f, 100, MAC2, MAC1, 0, ++seq);
	pf_raw_send(r.raw_vm[0], f, len);
	CHECK_MSG(wait_counter(r.dp, CTR(sent.vm_refused), 1) == 1, "VM2 gone: not counted");
	len = pf_frame(f, 100, MAC2, OUT, 5, ++seq); /* from outside, through VM2's queue */
	uint64_t end = pf_now_ms() + 3000;
	struct dvmq_dp_counters c;
	do { /* the uplink's link comes back within a moment: resend until one is read */
		pf_raw_send(r.raw_out, f, len);
		usleep(20000);
		dvmq_dp_counters(r.dp, &c);
	} while (c.refused == 0 && pf_now_ms() < end);
	CHECK_MSG(c.refused >= 1, "from the uplink to a deleted TAP: not counted");
	struct dvmq_dp_vm_stats v2;
	CHECK(dvmq_dp_vm_stats(r.dp, r.id[1], &v2) == 0 && v2.refused >= 2);
	len = pf_frame(f, 100, OUT, MAC1, 0, ++seq);
	end = pf_now_ms() + 3000;
	n = 0;
	while (n == 0 && pf_now_ms() < end) {
		pf_raw_send(r.raw_vm[0], f, len);
		n = wait_seq(r.raw_out, seq, got, sizeof(got), 200);
	}
	CHECK_MSG(n == (int)len + 4, "VM1 -> outside after VM2 was deleted: %d", n);
	/* every frame the VMs sent ended in exactly one counter */
	dvmq_dp_counters(r.dp, &c);
	uint64_t ends = c.sent.to_vm + c.sent.to_uplink + c.sent.flooded + c.sent.vm_refused + c.sent.uplink_refused;
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++)
		ends += c.sent.verdict[v];
	for (unsigned d = 1; d < DVMQ_DP_DROP_COUNT; d++)
		ends += c.sent.drop[d];
	CHECK_MSG(c.sent.rx == ends, "%llu frames sent, %llu counted", (unsigned long long)c.sent.rx,
		  (unsigned long long)ends);
	rig_stop(&r);
}

#define TCP_BYTES (16u << 20)

/* Real TCP through the data plane with offloads (issue 9 §4): namespace A (10.9.0.1) on a veth
 * whose other end is the afpacket uplink, namespace B (10.9.0.2, MAC2) on a TAP with vnet
 * headers as VM 2 on its own queue. 16 MiB each way must arrive intact, and the super-frames
 * must cross whole: far fewer frames classified and sent than MSS-sized segments (a data plane
 * that dropped the offloads would see each segment). */
TEST(dp_real_tcp_through_the_data_plane_carries_super_frames_whole)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct rig r;
	memset(&r, 0, sizeof(r));
	r.raw_vm[0] = r.raw_vm[1] = r.raw_out = -1;
	int here = pf_ns_self(), ns_a = pf_ns_new(), ns_b = pf_ns_new(), pid = (int)getpid();
	CHECK(here >= 0 && ns_a >= 0 && ns_b >= 0);
	CHECK(pf_sh("ip link add dvtwu type veth peer name dvtwa && ip link set dvtwa netns /proc/%d/fd/%d && "
		    "ip link set dvtwu up", pid, ns_a) == 0);
	char err[256] = "";
	int rc = dvmq_port_afpacket_open("dvtwu", NULL, &r.up, err, sizeof(err));
	CHECK_MSG(rc == 0, "afpacket: %d %s", rc, err);
	struct dvmq_port_kopts to = { .offload = 1 };
	rc = dvmq_port_tap_open("dvtwt", &to, &r.vm[0], err, sizeof(err));
	CHECK_MSG(rc == 0, "tap: %d %s", rc, err);
	CHECK(pf_sh("ip link set dvtwt netns /proc/%d/fd/%d", pid, ns_b) == 0);
	CHECK(pf_ns_enter(ns_a) == 0);
	CHECK(pf_sh("ip addr add 10.9.0.1/24 dev dvtwa && ip link set dvtwa up") == 0);
	CHECK(pf_ns_enter(ns_b) == 0);
	CHECK(pf_sh("ip link set dvtwt address 02:00:00:00:77:02 && ip addr add 10.9.0.2/24 dev dvtwt && "
		    "ip link set dvtwt up") == 0);
	CHECK(pf_ns_enter(here) == 0);
	struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 2, .queue_depth = 1024, .mtu = 1500,
				      .max_vms = 4, .fdb_size = 64, .fdb_age_ns = 60 * SEC, .lossless = true };
	CHECK(dvmq_dp_create(&cfg, &r.dp) == 0);
	CHECK(dvmq_dp_vm_add(r.dp, MAC2, 0, 0.0, r.vm[0], &r.id[0]) == 0);
	CHECK(dvmq_dp_vm_set_queue(r.dp, r.id[0], 1) == 0);
	CHECK(dvmq_dp_set_uplink(r.dp, r.up) == 0);
	CHECK(pthread_create(&r.hub, NULL, hub_main, &r) == 0);
	char why[256] = "";
	double ab = 0, ba = 0;
	int r1 = pf_tcp_transfer(ns_a, ns_b, "10.9.0.2", 5001, TCP_BYTES, 30000, &ab, why, sizeof(why));
	CHECK_MSG(r1 == 0, "A -> B: %s", why);
	int r2 = pf_tcp_transfer(ns_b, ns_a, "10.9.0.1", 5002, TCP_BYTES, 30000, &ba, why, sizeof(why));
	CHECK_MSG(r2 == 0, "B -> A: %s", why);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(r.dp, &c);
	/* each way carries TCP_BYTES of payload: at MSS 1448 that is 11586 segments, plus the ACKs of
	 * the other way; super-frames carried whole make it several times fewer */
	uint64_t segments = TCP_BYTES / 1448;
	if (getenv("DVMQ_TEST_VERBOSE"))
		printf("    A->B %.2f Gb/s, B->A %.2f Gb/s; classified %llu (vmq %llu), B sent %llu\n", ab, ba,
		       (unsigned long long)c.rx, (unsigned long long)c.vmq_delivered, (unsigned long long)c.sent.rx);
	CHECK_MSG(c.rx < segments && c.sent.rx < segments,
		  "super-frames not carried whole: %llu frames classified, %llu sent by B, for %llu segments each way",
		  (unsigned long long)c.rx, (unsigned long long)c.sent.rx, (unsigned long long)segments);
	CHECK(c.refused == 0 && c.sent.uplink_refused == 0 && c.sent.verdict[DVMQ_FRAME_OVER_MTU] == 0 &&
	      c.verdict[DVMQ_FRAME_OVER_MTU] == 0 && c.drop[DVMQ_DP_DROP_BAD_OFFLOAD] == 0 &&
	      c.sent.drop[DVMQ_DP_DROP_BAD_OFFLOAD] == 0);
	rig_stop(&r);
	close(ns_a), close(ns_b), close(here);
}
