/* Offloads through the data plane (issue 9 §4, §5): a GSO super-frame or a partial checksum
 * travels with its frame through the rings and out of vm_send, whole to a port with
 * tx_burst_off (its offsets moved with the VLAN tag the switch takes off or puts on), resolved
 * into complete, checksummed segments for a port without; a super-frame is over-mtu by its
 * segments, not its length; offloads a frame cannot carry are bad-offload; a resolved frame a
 * port refuses counts once. On capturing ports (cap_port.h). */
#include <errno.h>
#include <stdlib.h>

#include "../harness.h"
#include "cap_port.h"
#include "dp_fixture.h"
#include "port_fixture.h"

#define SEC 1000000000ull
#define MSS 1448u
#define BIG 20000u /* payload of the test super-frames: 14 segments at MSS */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t sum16(const uint8_t *b, uint32_t len)
{
	uint32_t s = 0;
	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += rd16(b + i);
	return s;
}

/* An IPv4 TCP super-frame from src to dst (tagged when vlan), `payload` bytes, sequence number
 * seq, its TCP checksum left to do; *o gets its offloads (GSO TCPv4 at MSS, or only the partial
 * checksum when payload <= MSS). Returns its length. */
static uint32_t tcp_frame(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t vlan, uint32_t payload,
			  uint32_t seq, struct dvmq_offload *o)
{
	memset(f, 0, 80);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	uint32_t l3 = 14;
	if (vlan) {
		f[12] = 0x81, f[13] = 0x00, f[14] = (uint8_t)(vlan >> 8), f[15] = (uint8_t)vlan;
		l3 = 18;
	}
	f[l3 - 2] = 0x08, f[l3 - 1] = 0x00;
	uint8_t *ip = f + l3, *tcp = ip + 20;
	uint32_t tot = 20 + 20 + payload;
	ip[0] = 0x45, ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot, ip[6] = 0x40, ip[8] = 64, ip[9] = 6;
	memcpy(ip + 12, (const uint8_t[]){ 10, 9, 0, 1, 10, 9, 0, 2 }, 8);
	uint32_t s = sum16(ip, 20);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	ip[10] = (uint8_t)(~s >> 8), ip[11] = (uint8_t)~s;
	tcp[0] = 0x9c, tcp[1] = 0x40, tcp[3] = 0x50;
	tcp[4] = (uint8_t)(seq >> 24), tcp[5] = (uint8_t)(seq >> 16), tcp[6] = (uint8_t)(seq >> 8), tcp[7] = (uint8_t)seq;
	tcp[12] = 5u << 4, tcp[13] = 0x18; /* ACK PSH */
	for (uint32_t i = 0; i < payload; i++)
		tcp[20 + i] = (uint8_t)(i * 31u + seq);
	*o = (struct dvmq_offload){ .flags = DVMQ_OFF_CSUM_PARTIAL,
				    .gso_type = payload > MSS ? DVMQ_GSO_TCPV4 : DVMQ_GSO_NONE,
				    .hdr_len = (uint16_t)(l3 + 40),
				    .gso_size = payload > MSS ? MSS : 0,
				    .csum_start = (uint16_t)(l3 + 20),
				    .csum_offset = 16 };
	return l3 + tot;
}

/* A complete TCPv4 segment (untagged or tagged): its IP length and both checksums verify. */
static bool segment_ok(const uint8_t *s, uint32_t len)
{
	uint32_t l3 = s[12] == 0x81 ? 18 : 14;
	const uint8_t *ip = s + l3;
	uint32_t l4len = len - l3 - 20;
	return len >= l3 + 40 && rd16(ip + 2) == len - l3 && pf_csum_ok(ip, 20, 0) &&
	       pf_csum_ok(ip + 20, l4len, sum16(ip + 12, 8) + 6 + l4len);
}

/* The segments c holds from index `from` on are the super-frame's, in order: each complete,
 * no longer than the MTU allows, their payloads joined back the original's. */
static bool segments_of(struct cap_port *c, uint32_t from, const uint8_t *super, uint32_t hdr, uint32_t payload,
			bool tagged)
{
	uint32_t at = 0, n = (payload + MSS - 1) / MSS;
	if (cap_count(c) != from + n)
		return false;
	for (uint32_t k = 0; k < n; k++) {
		const struct cap_frame *f = &c->f[from + k];
		uint32_t plen = payload - at < MSS ? payload - at : MSS;
		uint32_t fh = tagged ? 58 : 54;
		if (f->len != fh + plen || !segment_ok(f->data, f->len) || (f->data[12] == 0x81) != tagged ||
		    memcmp(f->data + fh, super + hdr + at, plen) != 0)
			return false;
		at += plen;
	}
	return at == payload;
}

/* From the uplink, tagged VLAN 5: through a VMQ to a VM whose port takes offloads (the frame
 * whole, untagged, its checksum start moved by the tag), through the default queue to a VM
 * whose port does not (complete untagged segments). Nothing is over-mtu. */
TEST(dp_offload_super_frames_from_the_uplink_reach_vms_whole_or_resolved)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 5, true) == 0 && sfx_vm(&s, 2, 5, false) == 0);
	CHECK(dvmq_dp_vm_set_queue(s.fx.dp, s.id[1], 1) == 0);
	static uint8_t f1[70000], f2[70000];
	uint8_t out[6];
	fx_mac(out, 0x99);
	struct dvmq_offload o[2];
	uint32_t l1 = tcp_frame(f1, s.mac[1], out, 5, BIG, 1000, &o[0]);
	uint32_t l2 = tcp_frame(f2, s.mac[2], out, 5, BIG, 5000, &o[1]);
	struct dvmq_pkt p[2] = { { f1, l1, 0 }, { f2, l2, 0 } };
	CHECK(dvmq_dp_classify_off(s.fx.dp, p, o, 2) == 2);
	CHECK(dvmq_dp_drain(s.fx.dp, 5 * SEC) == 0);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(s.fx.dp, &c);
	CHECK_MSG(c.vmq_delivered == 1 && c.default_unicast == 1 && c.verdict[DVMQ_FRAME_OVER_MTU] == 0 &&
			  c.refused == 0,
		  "vmq %llu default %llu over-mtu %llu", (unsigned long long)c.vmq_delivered,
		  (unsigned long long)c.default_unicast, (unsigned long long)c.verdict[DVMQ_FRAME_OVER_MTU]);
	CHECK(cap_count(s.vm[1]) == 1);
	const struct cap_frame *w = &s.vm[1]->f[0];
	CHECK(w->len == l1 - 4 && w->has_off && memcmp(w->data, f1, 12) == 0 && w->data[12] == 0x08 &&
	      memcmp(w->data + 12, f1 + 16, l1 - 16) == 0);
	CHECK_MSG(w->off.gso_type == DVMQ_GSO_TCPV4 && w->off.gso_size == MSS && w->off.csum_start == 34 &&
			  w->off.csum_offset == 16 && w->off.hdr_len == 54 && (w->off.flags & DVMQ_OFF_CSUM_PARTIAL),
		  "offloads %u/%u/%u/%u", w->off.gso_type, w->off.gso_size, w->off.csum_start, w->off.hdr_len);
	CHECK_MSG(segments_of(s.vm[2], 0, f2, 58, BIG, false), "%u frames at the VM without offloads",
		  cap_count(s.vm[2]));
	CHECK(!s.vm[2]->f[0].has_off);
	sfx_fini(&s);
}

/* Many super-frames in a row through one VMQ: records with an offload cell wrap around a ring
 * that holds a few of them, in order, none lost (lossless classifier waits for room). */
TEST(dp_offload_super_frames_wrap_the_ring_in_order)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 0, true) == 0);
	CHECK(dvmq_dp_vm_set_queue(s.fx.dp, s.id[1], 2) == 0);
	static uint8_t f[70000];
	uint8_t out[6];
	fx_mac(out, 0x99);
	enum { N = 60 };
	uint32_t lens[N];
	for (uint32_t i = 0; i < N; i++) {
		struct dvmq_offload o;
		uint32_t payload = 1000 + (i * 7919u) % 62000u; /* 1000 .. 63000: some small, some large */
		lens[i] = tcp_frame(f, s.mac[1], out, 0, payload, i, &o);
		struct dvmq_pkt p = { f, lens[i], 0 };
		CHECK(dvmq_dp_classify_off(s.fx.dp, &p, &o, 1) == 1);
	}
	CHECK(dvmq_dp_drain(s.fx.dp, 10 * SEC) == 0);
	CHECK(cap_count(s.vm[1]) == N);
	for (uint32_t i = 0; i < N; i++) {
		const struct cap_frame *w = &s.vm[1]->f[i];
		struct dvmq_offload o;
		tcp_frame(f, s.mac[1], out, 0, lens[i] - 54, i, &o);
		CHECK_MSG(w->len == lens[i] && memcmp(w->data, f, lens[i]) == 0 && w->has_off &&
				  w->off.gso_size == o.gso_size && w->off.csum_start == 34,
			  "frame %u: %u bytes, want %u", i, w->len, lens[i]);
	}
	sfx_fini(&s);
}

/* From a VM (access, VLAN 5): a super-frame to the uplink leaves tagged, whole where the uplink
 * takes offloads (checksum start moved by the tag), to another VM without offloads resolved;
 * and tagged resolved segments to an uplink without offloads. */
TEST(dp_offload_super_frames_from_a_vm_leave_tagged_whole_or_resolved)
{
	for (int up_off = 0; up_off < 2; up_off++) {
		struct sfx s;
		CHECK(sfx_init(&s, up_off) == 0);
		CHECK(sfx_vm(&s, 1, 5, true) == 0 && sfx_vm(&s, 2, 5, false) == 0);
		static uint8_t f[70000], g[70000];
		uint8_t out[6];
		fx_mac(out, 0x99);
		struct dvmq_offload o[2];
		uint32_t lf = tcp_frame(f, out, s.mac[1], 0, BIG, 7, &o[0]);
		uint32_t lg = tcp_frame(g, s.mac[2], s.mac[1], 0, BIG, 9, &o[1]);
		struct dvmq_pkt p[2] = { { f, lf, 0 }, { g, lg, 0 } };
		CHECK(dvmq_dp_vm_send_off(s.fx.dp, s.id[1], p, o, 2) == 2);
		struct dvmq_dp_counters c;
		dvmq_dp_counters(s.fx.dp, &c);
		CHECK(c.sent.to_uplink == 1 && c.sent.to_vm == 1 && c.sent.uplink_refused == 0 && c.sent.vm_refused == 0);
		CHECK_MSG(segments_of(s.vm[2], 0, g, 54, BIG, false), "up_off %d: %u frames at VM 2", up_off,
			  cap_count(s.vm[2]));
		if (up_off) {
			CHECK(cap_count(s.up) == 1);
			const struct cap_frame *u = &s.up->f[0];
			CHECK(u->len == lf + 4 && u->has_off && u->data[12] == 0x81 && u->data[15] == 5 &&
			      memcmp(u->data + 16, f + 12, lf - 12) == 0);
			CHECK(u->off.csum_start == 38 && u->off.hdr_len == 58 && u->off.gso_size == MSS);
		} else {
			static uint8_t tagged[70000];
			struct dvmq_offload t;
			tcp_frame(tagged, out, s.mac[1], 5, BIG, 7, &t);
			CHECK_MSG(segments_of(s.up, 0, tagged, 58, BIG, true), "%u frames at the uplink", cap_count(s.up));
		}
		sfx_fini(&s);
	}
}

/* Issue 9 §4/§5: a super-frame is over-mtu when its segments would be, not by its length; a
 * complete frame of the same length is; nothing longer than DVMQ_DP_FRAME_MAX passes; offloads
 * the frame cannot carry are bad-offload. Both directions, each case counted alone. */
TEST(dp_offload_over_mtu_by_segments_and_bad_offloads_are_counted)
{
	struct sfx s;
	CHECK(sfx_init(&s, true) == 0);
	CHECK(sfx_vm(&s, 1, 0, true) == 0 && sfx_vm(&s, 2, 0, true) == 0);
	static uint8_t f[DVMQ_DP_FRAME_MAX + 100];
	uint8_t out[6];
	fx_mac(out, 0x99);
	enum kind { PASS, OVER, BAD };
	static const struct {
		const char *what;
		enum kind want;
	} cases[] = {
		{ "60000-byte super-frame at MSS 1448", PASS },
		{ "super-frame at gso_size 1461", OVER },
		{ "super-frame at gso_size 1460", PASS },
		{ "3000-byte frame without offloads", OVER },
		{ "longer than DVMQ_DP_FRAME_MAX", OVER },
		{ "gso_size 0", BAD },
		{ "UFO", BAD },
		{ "TCPv6 GSO on an IPv4 frame", BAD },
		{ "checksum start in the IP header", BAD },
		{ "checksum field past the end", BAD },
		{ "ECN flag without a GSO type", BAD },
	};
	for (int dir = 0; dir < 2; dir++) {
		for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			struct dvmq_offload o;
			const uint8_t *dst = dir ? s.mac[2] : s.mac[1];
			const uint8_t *src = dir ? s.mac[1] : out;
			uint32_t len = tcp_frame(f, dst, src, 0, k == 3 ? 2946 : k >= 9 ? 1000 : 60000, 1, &o);
			switch (k) {
			case 1: o.gso_size = 1461; break;
			case 2: o.gso_size = 1460; break;
			case 3: o = (struct dvmq_offload){ 0, 0, 0, 0, 0, 0 }; break;
			case 4: len = DVMQ_DP_FRAME_MAX + 1; break;
			case 5: o.gso_size = 0; break;
			case 6: o.gso_type = DVMQ_GSO_UDP; break;
			case 7: o.gso_type = DVMQ_GSO_TCPV6; break;
			case 8: o.csum_start = 20; break;
			case 9: o.gso_type = DVMQ_GSO_NONE, o.gso_size = 0, o.csum_offset = (uint16_t)(len - o.csum_start - 1); break;
			case 10: o.gso_type = DVMQ_GSO_NONE | DVMQ_GSO_ECN, o.gso_size = 0; break;
			}
			struct dvmq_pkt p = { f, len, 0 };
			struct dvmq_dp_counters b, c;
			dvmq_dp_counters(s.fx.dp, &b);
			unsigned took = dir ? dvmq_dp_vm_send_off(s.fx.dp, s.id[1], &p, &o, 1)
					    : dvmq_dp_classify_off(s.fx.dp, &p, &o, 1);
			CHECK(dvmq_dp_drain(s.fx.dp, 5 * SEC) == 0);
			dvmq_dp_counters(s.fx.dp, &c);
			uint64_t over = dir ? c.sent.verdict[DVMQ_FRAME_OVER_MTU] - b.sent.verdict[DVMQ_FRAME_OVER_MTU]
					    : c.verdict[DVMQ_FRAME_OVER_MTU] - b.verdict[DVMQ_FRAME_OVER_MTU];
			uint64_t bad = dir ? c.sent.drop[DVMQ_DP_DROP_BAD_OFFLOAD] - b.sent.drop[DVMQ_DP_DROP_BAD_OFFLOAD]
					   : c.drop[DVMQ_DP_DROP_BAD_OFFLOAD] - b.drop[DVMQ_DP_DROP_BAD_OFFLOAD];
			CHECK_MSG(took == (cases[k].want == PASS) && over == (cases[k].want == OVER) &&
					  bad == (cases[k].want == BAD),
				  "%s (%s): took %u, over-mtu %llu, bad-offload %llu", cases[k].what,
				  dir ? "from a VM" : "from the uplink", took, (unsigned long long)over,
				  (unsigned long long)bad);
		}
	}
	CHECK(strcmp(dvmq_dp_drop_name(DVMQ_DP_DROP_BAD_OFFLOAD), "bad-offload") == 0);
	sfx_fini(&s);
}

/* A super-frame resolved for a port that refuses part of its segments counts once, refused,
 * on the VM (vm_refused there, refused on the receiving VM); never retried. */
TEST(dp_offload_a_resolved_frame_a_port_refuses_counts_once)
{
	struct sfx s;
	CHECK(sfx_init(&s, false) == 0);
	CHECK(sfx_vm(&s, 1, 0, false) == 0 && sfx_vm(&s, 2, 0, false) == 0);
	atomic_store(&s.vm[2]->mode, CAP_REFUSE_FIRST);
	static uint8_t f[70000];
	struct dvmq_offload o;
	uint32_t len = tcp_frame(f, s.mac[2], s.mac[1], 0, BIG, 3, &o);
	struct dvmq_pkt p = { f, len, 0 };
	CHECK(dvmq_dp_vm_send_off(s.fx.dp, s.id[1], &p, &o, 1) == 0);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(s.fx.dp, &c);
	CHECK(c.sent.vm_refused == 1 && c.sent.to_vm == 0);
	struct dvmq_dp_vm_stats v;
	CHECK(dvmq_dp_vm_stats(s.fx.dp, s.id[2], &v) == 0 && v.refused == 1);
	CHECK(atomic_load(&s.vm[2]->calls) == 1); /* 14 segments in one burst, no retry */
	sfx_fini(&s);
}
