/* Frames VMs send (dvmq_dp_vm_send) and the uplink's transmit side (dvmq_dp_set_uplink), on
 * capturing ports (cap_port.h): every rule of issue 9 §1 (tap bullet) and §5 with its exact
 * counter: known unicast into the VM's port, other VLANs not delivered, unknown unicast out of
 * the uplink tagged, floods to the VLAN and the uplink, spoofed-mac, multicast-source,
 * foreign-vlan, over-mtu, malformed, to-self, no-uplink, unknown-vm; ports that refuse frames
 * (a link down) on every path. Offloads: test_dp_offload.c. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "../harness.h"
#include "cap_port.h"
#include "dp_fixture.h"

#define SEC 1000000000ull
static unsigned send1(struct sfx *s, uint32_t vm, const uint8_t *frame, uint32_t len)
{
	struct dvmq_pkt p = { (uint8_t *)(uintptr_t)frame, len, 0 };
	return dvmq_dp_vm_send(s->fx.dp, s->id[vm], &p, 1);
}

static struct dvmq_dp_counters counters(struct sfx *s)
{
	struct dvmq_dp_counters c;
	dvmq_dp_counters(s->fx.dp, &c);
	return c;
}

static struct dvmq_dp_vm_stats vstats(struct sfx *s, uint32_t vm)
{
	struct dvmq_dp_vm_stats st;
	memset(&st, 0xff, sizeof(st));
	dvmq_dp_vm_stats(s->fx.dp, s->id[vm], &st);
	return st;
}

/* Every send counter of a, except the ones named, is zero (so a frame went nowhere else). */
static bool only(const struct dvmq_dp_send_counters *a, uint64_t rx, uint64_t to_vm, uint64_t to_uplink,
		 uint64_t flooded)
{
	uint64_t dropped = 0;
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++)
		dropped += a->verdict[v];
	for (unsigned d = 1; d < DVMQ_DP_DROP_COUNT; d++)
		dropped += a->drop[d];
	return a->rx == rx && a->to_vm == to_vm && a->to_uplink == to_uplink && a->flooded == flooded &&
	       a->vm_refused == 0 && a->uplink_refused == 0 && a->flood_refused == 0 &&
	       dropped == rx - to_vm - to_uplink - flooded;
}

TEST(dp_vm_send_known_unicast_goes_into_that_vms_port_only)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 5, false) == 0 && sfx_vm(&s, 2, 5, false) == 0 && sfx_vm(&s, 3, 5, false) == 0);
	uint8_t f[64];
	fx_frame(f, s.mac[2], s.mac[1], 0);
	f[20] = 0x5a; /* a payload byte to recognise */
	CHECK(send1(&s, 1, f, 64) == 1);
	CHECK(cap_count(s.vm[2]) == 1 && s.vm[2]->f[0].len == 64 && memcmp(s.vm[2]->f[0].data, f, 64) == 0);
	CHECK(s.vm[2]->f[0].flooded == 0);
	CHECK(cap_count(s.vm[1]) == 0 && cap_count(s.vm[3]) == 0 && cap_count(s.up) == 0);
	struct dvmq_dp_counters c = counters(&s);
	CHECK(only(&c.sent, 1, 1, 0, 0));
	struct dvmq_dp_vm_stats v1 = vstats(&s, 1), v2 = vstats(&s, 2);
	CHECK(only(&v1.sent, 1, 1, 0, 0));
	CHECK(v2.sent.rx == 0 && v2.refused == 0);
	/* the uplink direction saw nothing of it */
	CHECK(c.rx == 0 && c.vmq_delivered == 0 && c.flooded == 0);
	sfx_fini(&s);
}

TEST(dp_vm_send_a_tagged_frame_of_its_own_vlan_reaches_a_vm_untagged)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 5, false) == 0 && sfx_vm(&s, 2, 5, false) == 0);
	uint8_t f[64], plain[64];
	fx_frame(f, s.mac[2], s.mac[1], 5);
	fx_frame(plain, s.mac[2], s.mac[1], 0);
	CHECK(send1(&s, 1, f, 64) == 1);
	f[14] = 0xa0, f[15] = 0; /* a priority tag: PCP 5, VID 0 */
	CHECK(send1(&s, 1, f, 64) == 1);
	CHECK(cap_count(s.vm[2]) == 2);
	for (int i = 0; i < 2; i++)
		CHECK_MSG(s.vm[2]->f[i].len == 60 && memcmp(s.vm[2]->f[i].data, plain, 60) == 0, "frame %d", i);
	sfx_fini(&s);
}

TEST(dp_vm_send_to_a_vm_on_another_vlan_leaves_by_the_uplink_not_into_that_vm)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 5, false) == 0 && sfx_vm(&s, 3, 7, false) == 0);
	uint8_t f[64];
	fx_frame(f, s.mac[3], s.mac[1], 0);
	CHECK(send1(&s, 1, f, 64) == 1);
	CHECK(cap_count(s.vm[3]) == 0);
	CHECK(cap_count(s.up) == 1);
	const struct cap_frame *u = &s.up->f[0];
	CHECK(u->len == 68 && u->data[12] == 0x81 && u->data[13] == 0x00 && u->data[14] == 0 && u->data[15] == 5);
	struct dvmq_dp_counters c = counters(&s);
	CHECK(only(&c.sent, 1, 0, 1, 0));
	sfx_fini(&s);
}

/* Unknown unicast leaves through the uplink with the adapter's VLAN: a tag inserted, a priority
 * tag's VID set (its PCP kept), its own tag kept; on VLAN 0 the frame leaves as it came. */
TEST(dp_vm_send_unknown_unicast_leaves_by_the_uplink_with_the_adapters_tag)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 5, false) == 0 && sfx_vm(&s, 2, 0, false) == 0);
	uint8_t out[6], f[64], want[64];
	fx_mac(out, 0x99);
	fx_frame(f, out, s.mac[1], 0);
	fx_frame(want, out, s.mac[1], 5);
	CHECK(send1(&s, 1, f, 60) == 1); /* untagged: tag inserted */
	fx_frame(f, out, s.mac[1], 5);
	CHECK(send1(&s, 1, f, 64) == 1); /* its own tag: as is */
	f[14] = 0xe0, f[15] = 0;         /* priority PCP 7: VID set, PCP kept */
	CHECK(send1(&s, 1, f, 64) == 1);
	fx_frame(f, out, s.mac[2], 0);
	CHECK(send1(&s, 2, f, 60) == 1); /* VLAN 0: untouched */
	CHECK(cap_count(s.up) == 4);
	CHECK(s.up->f[0].len == 64 && memcmp(s.up->f[0].data, want, 64) == 0);
	CHECK(s.up->f[1].len == 64 && memcmp(s.up->f[1].data, want, 64) == 0);
	CHECK(s.up->f[2].len == 64 && s.up->f[2].data[14] == 0xe0 && s.up->f[2].data[15] == 5 &&
	      memcmp(s.up->f[2].data + 16, want + 16, 48) == 0);
	CHECK(s.up->f[3].len == 60 && memcmp(s.up->f[3].data, f, 60) == 0);
	CHECK(cap_count(s.vm[1]) == 0 && cap_count(s.vm[2]) == 0);
	struct dvmq_dp_counters c = counters(&s);
	CHECK(only(&c.sent, 4, 0, 4, 0));
	struct dvmq_dp_vm_stats v1 = vstats(&s, 1);
	CHECK(only(&v1.sent, 3, 0, 3, 0));
	sfx_fini(&s);
}

TEST(dp_vm_send_broadcast_and_multicast_flood_the_vlan_and_the_uplink)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 5, false) == 0 && sfx_vm(&s, 2, 5, false) == 0 && sfx_vm(&s, 4, 5, false) == 0 &&
	      sfx_vm(&s, 3, 7, false) == 0);
	uint8_t f[64], bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, mcast[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	fx_frame(f, bcast, s.mac[1], 0);
	CHECK(send1(&s, 1, f, 60) == 1);
	fx_frame(f, mcast, s.mac[1], 5); /* tagged with its own VLAN: untagged to VMs */
	CHECK(send1(&s, 1, f, 64) == 1);
	for (int v = 2; v <= 4; v += 2) {
		CHECK_MSG(cap_count(s.vm[v]) == 2, "vm %d got %u", v, cap_count(s.vm[v]));
		for (int i = 0; i < 2; i++)
			CHECK(s.vm[v]->f[i].len == 60 && s.vm[v]->f[i].flooded && s.vm[v]->f[i].data[12] == 0x88);
	}
	CHECK(cap_count(s.vm[1]) == 0 && cap_count(s.vm[3]) == 0);
	CHECK(cap_count(s.up) == 2);
	for (int i = 0; i < 2; i++)
		CHECK(s.up->f[i].len == 64 && s.up->f[i].data[12] == 0x81 && s.up->f[i].data[15] == 5);
	struct dvmq_dp_counters c = counters(&s);
	CHECK(only(&c.sent, 2, 0, 0, 2));
	CHECK(c.sent.flood_copies == 6);
	sfx_fini(&s);
}

/* Issue 9 §5: bad frames from a VM are counted by reason and reach nobody. Each case is sent
 * alone and checked alone, so a frame counted under the wrong reason fails its own line. */
TEST(dp_vm_send_bad_frames_are_dropped_and_counted_by_reason)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 5, false) == 0 && sfx_vm(&s, 2, 5, false) == 0);
	uint8_t other[6], mc[6] = { 0x01, 0, 0x5e, 0, 0, 9 }, f[1600];
	fx_mac(other, 0x77);
	struct {
		const char *what;
		enum dvmq_dp_drop drop;
		enum dvmq_frame_verdict verdict;
	} want[] = {
		{ "spoofed source", DVMQ_DP_DROP_SPOOFED_MAC, DVMQ_FRAME_OK },
		{ "another VM's source", DVMQ_DP_DROP_SPOOFED_MAC, DVMQ_FRAME_OK },
		{ "multicast source", DVMQ_DP_DROP_MULTICAST_SOURCE, DVMQ_FRAME_OK },
		{ "broadcast source", DVMQ_DP_DROP_MULTICAST_SOURCE, DVMQ_FRAME_OK },
		{ "tag of VLAN 9", DVMQ_DP_DROP_FOREIGN_VLAN, DVMQ_FRAME_OK },
		{ "to itself", DVMQ_DP_DROP_TO_SELF, DVMQ_FRAME_OK },
		{ "1501-byte payload", DVMQ_DP_DROP_NONE, DVMQ_FRAME_OVER_MTU },
		{ "runt", DVMQ_DP_DROP_NONE, DVMQ_FRAME_RUNT },
		{ "IPv4 header length 2", DVMQ_DP_DROP_NONE, DVMQ_FRAME_IPV4_IHL },
		{ "QinQ", DVMQ_DP_DROP_NONE, DVMQ_FRAME_QINQ },
	};
	for (unsigned k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		uint32_t len = fx_frame(f, s.mac[2], s.mac[1], 0);
		switch (k) {
		case 0: memcpy(f + 6, other, 6); break;
		case 1: memcpy(f + 6, s.mac[2], 6); break;
		case 2: memcpy(f + 6, mc, 6); break;
		case 3: memset(f + 6, 0xff, 6); break;
		case 4: len = fx_frame(f, s.mac[2], s.mac[1], 9); break;
		case 5: memcpy(f, s.mac[1], 6); break;
		case 6: memset(f + 14, 0, 1501); len = 14 + 1501; break;
		case 7: len = 13; break;
		case 8: f[12] = 0x08, f[13] = 0x00, f[14] = 0x42; break;
		case 9: len = fx_frame(f, s.mac[2], s.mac[1], 5); f[16] = 0x81, f[17] = 0x00; break;
		}
		struct dvmq_dp_counters before = counters(&s);
		CHECK_MSG(send1(&s, 1, f, len) == 0, "%s: forwarded", want[k].what);
		struct dvmq_dp_counters c = counters(&s);
		if (want[k].drop)
			CHECK_MSG(c.sent.drop[want[k].drop] == before.sent.drop[want[k].drop] + 1, "%s: not counted %s",
				  want[k].what, dvmq_dp_drop_name(want[k].drop));
		else
			CHECK_MSG(c.sent.verdict[want[k].verdict] == before.sent.verdict[want[k].verdict] + 1,
				  "%s: not counted %s", want[k].what, dvmq_frame_verdict_name(want[k].verdict));
	}
	unsigned n = sizeof(want) / sizeof(want[0]);
	struct dvmq_dp_counters c = counters(&s);
	CHECK(only(&c.sent, n, 0, 0, 0));
	struct dvmq_dp_vm_stats v1 = vstats(&s, 1);
	CHECK(memcmp(&v1.sent, &c.sent, sizeof(c.sent)) == 0);
	CHECK(c.sent.drop[DVMQ_DP_DROP_SPOOFED_MAC] == 2 && c.sent.drop[DVMQ_DP_DROP_MULTICAST_SOURCE] == 2);
	CHECK(cap_count(s.vm[1]) == 0 && cap_count(s.vm[2]) == 0 && cap_count(s.up) == 0);
	/* the same VM still sends what is right */
	fx_frame(f, s.mac[2], s.mac[1], 0);
	CHECK(send1(&s, 1, f, 64) == 1 && cap_count(s.vm[2]) == 1);
	CHECK(strcmp(dvmq_dp_drop_name(DVMQ_DP_DROP_FOREIGN_VLAN), "foreign-vlan") == 0 &&
	      strcmp(dvmq_dp_drop_name(DVMQ_DP_DROP_COUNT), "?") == 0);
	sfx_fini(&s);
}

TEST(dp_vm_send_without_an_uplink_counts_no_uplink_and_still_floods_the_vlan)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 0, false) == 0 && sfx_vm(&s, 2, 0, false) == 0);
	CHECK(dvmq_dp_set_uplink(s.fx.dp, NULL) == 0);
	uint8_t out[6], f[64], bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	fx_mac(out, 0x99);
	fx_frame(f, out, s.mac[1], 0);
	CHECK(send1(&s, 1, f, 64) == 0);
	fx_frame(f, bcast, s.mac[1], 0);
	CHECK(send1(&s, 1, f, 64) == 1);
	struct dvmq_dp_counters c = counters(&s);
	CHECK(c.sent.drop[DVMQ_DP_DROP_NO_UPLINK] == 1 && c.sent.flooded == 1 && c.sent.flood_copies == 1);
	CHECK(cap_count(s.up) == 0 && cap_count(s.vm[2]) == 1);
	/* set again: used again */
	CHECK(dvmq_dp_set_uplink(s.fx.dp, &s.up->port) == 0);
	fx_frame(f, out, s.mac[1], 0);
	CHECK(send1(&s, 1, f, 64) == 1 && cap_count(s.up) == 1);
	sfx_fini(&s);
}

TEST(dp_vm_send_for_an_unknown_or_removed_vm_counts_unknown_vm)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 0, false) == 0 && sfx_vm(&s, 2, 0, false) == 0);
	uint8_t f[64];
	fx_frame(f, s.mac[2], s.mac[1], 0);
	struct dvmq_pkt p[3] = { { f, 64, 0 }, { f, 64, 0 }, { f, 64, 0 } };
	uint32_t gone = s.id[1];
	CHECK(dvmq_dp_vm_remove(s.fx.dp, gone) == 0);
	CHECK(dvmq_dp_vm_send(s.fx.dp, gone, p, 3) == 0);
	CHECK(dvmq_dp_vm_send(s.fx.dp, DVMQ_DP_NO_VM, p, 3) == 0);
	CHECK(dvmq_dp_vm_send(s.fx.dp, 12345, p, 1) == 0);
	struct dvmq_dp_counters c = counters(&s);
	CHECK(c.sent.rx == 7 && c.sent.drop[DVMQ_DP_DROP_UNKNOWN_VM] == 7 && cap_count(s.vm[2]) == 0);
	struct dvmq_dp_vm_stats st;
	CHECK(dvmq_dp_vm_stats(s.fx.dp, gone, &st) == -ENOENT);
	/* its slot reused by a new VM with the same MAC: the old id still names nobody */
	uint32_t again;
	CHECK(dvmq_dp_vm_add(s.fx.dp, s.mac[1], 0, 0.0, &s.vm[1]->port, &again) == 0 && again != gone);
	CHECK(dvmq_dp_vm_send(s.fx.dp, gone, p, 1) == 0 && cap_count(s.vm[2]) == 0);
	CHECK(dvmq_dp_vm_send(s.fx.dp, again, p, 1) == 1 && cap_count(s.vm[2]) == 1);
	sfx_fini(&s);
}

struct unreg {
	struct sfx *s;
	unsigned fwd;
};

static void *unregistered_main(void *arg)
{
	struct unreg *u = arg;
	uint8_t f[64];
	fx_frame(f, u->s->mac[2], u->s->mac[1], 0);
	struct dvmq_pkt p = { f, 64, 0 };
	u->fwd = dvmq_dp_vm_send(u->s->fx.dp, u->s->id[1], &p, 1);
	return NULL;
}

/* A thread that never registered breaks the contract: its frames are counted unknown-vm and go
 * nowhere (it has no scratch to switch them with), rather than crash. */
TEST(dp_vm_send_from_an_unregistered_thread_is_counted_not_switched)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 0, false) == 0 && sfx_vm(&s, 2, 0, false) == 0);
	struct unreg u = { &s, 99 };
	pthread_t th;
	CHECK(pthread_create(&th, NULL, unregistered_main, &u) == 0);
	pthread_join(th, NULL);
	struct dvmq_dp_counters c = counters(&s);
	CHECK(u.fwd == 0 && c.sent.rx == 1 && c.sent.drop[DVMQ_DP_DROP_UNKNOWN_VM] == 1 && cap_count(s.vm[2]) == 0);
	sfx_fini(&s);
}

/* Issue 9 §1 and §3: a port that takes fewer frames than it is given (a TAP whose VM is gone, a
 * link down) costs a counter on every path, is never retried, and the others keep going. */
TEST(dp_frames_a_port_refuses_are_counted_on_every_path_and_others_keep_going)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 0, false) == 0 && sfx_vm(&s, 2, 0, false) == 0 && sfx_vm(&s, 3, 0, false) == 0);
	atomic_store(&s.vm[2]->mode, CAP_REFUSE_ALL);
	atomic_store(&s.up->mode, CAP_REFUSE_ALL);
	uint8_t f[64], out[6], up_mac[6], bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	fx_mac(out, 0x99), fx_mac(up_mac, 0x98);
	/* from a VM: unicast to the refusing VM, to the refusing uplink, a flood */
	fx_frame(f, s.mac[2], s.mac[1], 0);
	struct dvmq_pkt p[4] = { { f, 64, 0 }, { f, 64, 0 }, { f, 64, 0 }, { f, 64, 0 } };
	CHECK(dvmq_dp_vm_send(s.fx.dp, s.id[1], p, 4) == 0);
	fx_frame(f, out, s.mac[1], 0);
	CHECK(send1(&s, 1, f, 64) == 0);
	fx_frame(f, bcast, s.mac[1], 0);
	CHECK(send1(&s, 1, f, 64) == 1);
	struct dvmq_dp_counters c = counters(&s);
	CHECK_MSG(c.sent.vm_refused == 4 && c.sent.uplink_refused == 1 && c.sent.flooded == 1 &&
			  c.sent.flood_copies == 1 && c.sent.flood_refused == 2 && c.sent.to_vm == 0,
		  "vm_refused %llu uplink_refused %llu flood %llu/%llu/%llu", (unsigned long long)c.sent.vm_refused,
		  (unsigned long long)c.sent.uplink_refused, (unsigned long long)c.sent.flooded,
		  (unsigned long long)c.sent.flood_copies, (unsigned long long)c.sent.flood_refused);
	CHECK(atomic_load(&s.vm[2]->calls) == 2); /* one burst of four, one flood copy: no retries */
	CHECK(cap_count(s.vm[3]) == 1);
	/* from the uplink: through a VMQ and the default queue, to the refusing VM and VM 3 */
	CHECK(dvmq_dp_vm_set_queue(s.fx.dp, s.id[2], 1) == 0);
	for (int i = 0; i < 3; i++) {
		fx_frame(f, s.mac[2], up_mac, 0);
		fx_send(&s.fx, f, 64);
		fx_frame(f, s.mac[3], up_mac, 0);
		fx_send(&s.fx, f, 64);
	}
	fx_frame(f, bcast, up_mac, 0);
	fx_send(&s.fx, f, 64);
	CHECK(dvmq_dp_drain(s.fx.dp, 5 * SEC) == 0);
	c = counters(&s);
	CHECK_MSG(c.refused == 3 && c.vmq_delivered == 0 && c.default_unicast == 3 && c.flooded == 1 &&
			  c.flood_copies == 2 && c.flood_refused == 1,
		  "refused %llu vmq %llu default %llu flood copies %llu refused %llu", (unsigned long long)c.refused,
		  (unsigned long long)c.vmq_delivered, (unsigned long long)c.default_unicast,
		  (unsigned long long)c.flood_copies, (unsigned long long)c.flood_refused);
	CHECK(c.rx == c.vmq_delivered + c.default_unicast + c.refused + c.flooded + c.filtered + c.vm_gone + c.overflow);
	struct dvmq_dp_vm_stats v2 = vstats(&s, 2);
	CHECK_MSG(v2.refused == 4 + 1 + 3 + 1 && v2.queue == 1, "vm 2 refused %llu", (unsigned long long)v2.refused);
	CHECK(cap_count(s.vm[3]) == 1 + 3 + 1 && cap_count(s.vm[1]) == 1);
	/* the link comes back: frames flow again, nothing was kept to retry */
	atomic_store(&s.vm[2]->mode, CAP_TAKE);
	atomic_store(&s.up->mode, CAP_TAKE);
	fx_frame(f, s.mac[2], s.mac[1], 0);
	CHECK(send1(&s, 1, f, 64) == 1 && cap_count(s.vm[2]) == 1);
	fx_frame(f, out, s.mac[1], 0);
	CHECK(send1(&s, 1, f, 64) == 1 && cap_count(s.up) == 1);
	sfx_fini(&s);
}

/* A port that takes part of a burst: the rest is counted, each frame once. */
TEST(dp_vm_send_a_burst_partly_taken_counts_the_rest_refused)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 3, false) == 0 && sfx_vm(&s, 2, 3, false) == 0);
	atomic_store(&s.vm[2]->mode, CAP_REFUSE_FIRST);
	atomic_store(&s.up->mode, CAP_REFUSE_FIRST);
	static uint8_t f[100][64];
	struct dvmq_pkt p[100];
	uint8_t out[6];
	fx_mac(out, 0x99);
	for (int i = 0; i < 100; i++) {
		fx_frame(f[i], i % 2 ? out : s.mac[2], s.mac[1], 0);
		p[i] = (struct dvmq_pkt){ f[i], 64, 0 };
	}
	unsigned fwd = dvmq_dp_vm_send(s.fx.dp, s.id[1], p, 100);
	struct dvmq_dp_counters c = counters(&s);
	/* alternating destinations, but each destination has its own burst: VM 2's 50 and the
	 * uplink's 50 each go in bursts of DVMQ_BURST (32 + 18), the first of each burst refused */
	CHECK_MSG(c.sent.vm_refused == 2 && c.sent.to_vm == 48 && c.sent.uplink_refused == 2 &&
			  c.sent.to_uplink == 48 && fwd == 96,
		  "vm %llu/%llu uplink %llu/%llu fwd %u", (unsigned long long)c.sent.to_vm,
		  (unsigned long long)c.sent.vm_refused, (unsigned long long)c.sent.to_uplink,
		  (unsigned long long)c.sent.uplink_refused, fwd);
	CHECK(cap_count(s.up) == 48 && cap_count(s.vm[2]) == 48);
	CHECK(atomic_load(&s.vm[2]->calls) == 2 && atomic_load(&s.up->calls) == 2);
	sfx_fini(&s);
}

struct sender {
	struct sfx *s;
	uint32_t vm, n_vms, rounds;
	int rc;
};

/* A VM's rx thread: frames to every other VM (tagged with a flow of its own, sequence numbered,
 * as the generator does) and to the outside, in bursts. */
static void *sender_main(void *arg)
{
	struct sender *t = arg;
	struct sfx *s = t->s;
	if (dvmq_dp_thread_register() != 0) {
		t->rc = -ENOMEM;
		return NULL;
	}
	static _Thread_local uint8_t buf[DVMQ_BURST][128];
	struct dvmq_pkt p[DVMQ_BURST];
	uint8_t out[6];
	fx_mac(out, 0x99);
	uint64_t seq[NV] = { 0 };
	for (uint32_t r = 0; r < t->rounds; r++) {
		for (unsigned k = 0; k < DVMQ_BURST; k++) {
			uint32_t to = k % t->n_vms;
			const uint8_t *dst = to == t->vm ? out : s->mac[to];
			/* a UDP frame carrying the sink's tag: flow = sender * NV + receiver */
			memset(buf[k], 0, 128);
			memcpy(buf[k], dst, 6);
			memcpy(buf[k] + 6, s->mac[t->vm], 6);
			buf[k][12] = 0x08, buf[k][14] = 0x45, buf[k][17] = 100 - 14, buf[k][23] = 17;
			buf[k][38] = 0, buf[k][39] = 100 - 34;
			struct dvmq_seq_tag tag = { DVMQ_SEQ_MAGIC, t->vm * NV + to, seq[to]++ };
			memcpy(buf[k] + 42, &tag, sizeof(tag));
			p[k] = (struct dvmq_pkt){ buf[k], 100, 0 };
		}
		dvmq_dp_vm_send(s->fx.dp, s->id[t->vm], p, DVMQ_BURST);
	}
	dvmq_dp_thread_unregister();
	return NULL;
}

/* Several VMs' rx threads send at once, to each other and to the uplink, while the uplink
 * classifies: every frame arrives once and in order per flow (the sinks check the tags), every
 * counter adds up, and TSan sees no race (this test runs in the TSan build). */
TEST(dp_vm_send_from_many_threads_at_once_loses_and_reorders_nothing)
{
	enum { VMS = 4, ROUNDS = 2000 };
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 2, VMS + 1, true, 60 * SEC) == 0);
	struct sfx s;
	memset(&s, 0, sizeof(s));
	s.fx = fx;
	struct dvmq_port *up;
	CHECK(dvmq_port_sink_open("uplink", 0, 0, 1500, NULL, &up) == 0);
	CHECK(dvmq_dp_set_uplink(s.fx.dp, up) == 0);
	for (uint32_t v = 0; v < VMS; v++) {
		fx_mac(s.mac[v], v);
		CHECK(dvmq_port_sink_open("vm", 0, VMS * NV, 1500, NULL, &s.fx.sink[v]) == 0);
		CHECK(dvmq_dp_vm_add(s.fx.dp, s.mac[v], 0, 0.0, s.fx.sink[v], &s.id[v]) == 0);
		CHECK(dvmq_dp_vm_set_queue(s.fx.dp, s.id[v], 1 + v) == 0 && dvmq_dp_move(s.fx.dp, 1 + v, v % 2) == 0);
	}
	/* frames from the uplink to the same VMs meanwhile (their own flows, 1000 + ...) */
	struct dvmq_gen_vm g[VMS];
	memset(g, 0, sizeof(g));
	for (uint32_t v = 0; v < VMS; v++) {
		fx_mac(g[v].mac, v);
		g[v].frame_bytes = 64, g[v].flows = 1, g[v].flow_base = 1000 + v;
	}
	CHECK(dvmq_port_gen_open("gen", g, VMS, &s.fx.gen) == 0);
	struct sender t[VMS];
	pthread_t th[VMS];
	for (uint32_t v = 0; v < VMS; v++) {
		t[v] = (struct sender){ &s, v, VMS, ROUNDS, 0 };
		CHECK(pthread_create(&th[v], NULL, sender_main, &t[v]) == 0);
	}
	struct dvmq_pkt pk[DVMQ_BURST];
	uint64_t classified = 0;
	for (uint32_t v = 0; v < VMS; v++)
		dvmq_port_gen_set_rate(s.fx.gen, v, 1e6);
	for (uint64_t tick = 1; tick <= 200; tick++) {
		dvmq_port_gen_advance(s.fx.gen, tick * 100000);
		int n;
		while ((n = dvmq_port_rx_burst(s.fx.gen, pk, DVMQ_BURST)) > 0)
			classified += dvmq_dp_classify(s.fx.dp, pk, (unsigned)n);
	}
	for (uint32_t v = 0; v < VMS; v++)
		pthread_join(th[v], NULL);
	CHECK(dvmq_dp_drain(s.fx.dp, 10 * SEC) == 0);
	for (uint32_t v = 0; v < VMS; v++)
		CHECK(t[v].rc == 0);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(s.fx.dp, &c);
	uint64_t per_sender = (uint64_t)ROUNDS * DVMQ_BURST, total = VMS * per_sender;
	uint64_t to_out = VMS * (uint64_t)ROUNDS * (DVMQ_BURST / VMS);
	CHECK_MSG(c.sent.rx == total && c.sent.to_uplink == to_out && c.sent.to_vm == total - to_out,
		  "rx %llu to_vm %llu to_uplink %llu", (unsigned long long)c.sent.rx, (unsigned long long)c.sent.to_vm,
		  (unsigned long long)c.sent.to_uplink);
	CHECK(dpfx_sink_packets(up) == to_out);
	uint64_t from_vms = 0;
	for (uint32_t v = 0; v < VMS; v++) {
		struct dvmq_dp_vm_stats st;
		CHECK(dvmq_dp_vm_stats(s.fx.dp, s.id[v], &st) == 0);
		CHECK(st.sent.rx == per_sender && st.sent.to_vm + st.sent.to_uplink == per_sender);
		from_vms += st.sent.to_vm;
		struct dvmq_port_stats ps = dpfx_sink(&s.fx, v);
		CHECK_MSG(ps.reordered == 0 && ps.gaps == 0, "vm %u: %llu reordered, %llu gaps", v,
			  (unsigned long long)ps.reordered, (unsigned long long)ps.gaps);
		for (uint32_t from = 0; from < VMS; from++) {
			struct dvmq_sink_flow fl;
			CHECK(dvmq_port_sink_flow(s.fx.sink[v], from * NV + v, &fl) == 0);
			uint64_t want = from == v ? 0 : (uint64_t)ROUNDS * (DVMQ_BURST / VMS);
			CHECK_MSG(fl.received == want && fl.reordered == 0, "flow %u -> %u: %llu of %llu", from, v,
				  (unsigned long long)fl.received, (unsigned long long)want);
		}
	}
	CHECK(from_vms == c.sent.to_vm);
	CHECK(c.vmq_delivered == classified && c.refused == 0);
	dvmq_dp_set_uplink(s.fx.dp, NULL);
	dpfx_fini(&s.fx);
	dvmq_port_destroy(up);
}

/* Issue 9 §5, the uplink direction: a frame with a group source MAC reaches nobody and is
 * counted multicast-source (not learned either); the same frame with a unicast source is
 * delivered. */
TEST(dp_uplink_multicast_source_is_dropped_and_counted)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 0, false) == 0 && sfx_vm(&s, 2, 0, false) == 0);
	uint8_t f[64], mc[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 }, bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, out[6];
	fx_mac(out, 0x99);
	fx_frame(f, s.mac[1], mc, 0);
	CHECK(dvmq_dp_classify(s.fx.dp, &(struct dvmq_pkt){ f, 64, 0 }, 1) == 0);
	fx_frame(f, bc, bc, 0);
	CHECK(dvmq_dp_classify(s.fx.dp, &(struct dvmq_pkt){ f, 64, 0 }, 1) == 0);
	fx_frame(f, s.mac[1], out, 0);
	CHECK(dvmq_dp_classify(s.fx.dp, &(struct dvmq_pkt){ f, 64, 0 }, 1) == 1);
	CHECK(dvmq_dp_drain(s.fx.dp, 5 * SEC) == 0);
	struct dvmq_dp_counters c = counters(&s);
	CHECK_MSG(c.drop[DVMQ_DP_DROP_MULTICAST_SOURCE] == 2 && c.default_unicast == 1 && c.flooded == 0 &&
			  c.learned == 1,
		  "multicast-source %llu unicast %llu flooded %llu learned %llu",
		  (unsigned long long)c.drop[DVMQ_DP_DROP_MULTICAST_SOURCE], (unsigned long long)c.default_unicast,
		  (unsigned long long)c.flooded, (unsigned long long)c.learned);
	CHECK(cap_count(s.vm[1]) == 1 && cap_count(s.vm[2]) == 0);
	sfx_fini(&s);
}
