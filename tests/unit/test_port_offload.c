/* Offload resolution (src/port/offload.c) on hand-built super-frames: every segment must be what
 * the sender's own stack would have put on the wire (lengths, IPv4 ids, TCP sequence numbers and
 * flags, every checksum verified independently), and frames it cannot resolve are refused. */
#include <stdlib.h>
#include <string.h>

#include "../../src/port/offload.h"
#include "../harness.h"
#include "../integ/port_fixture.h"

#define TCP_FIN 0x01u
#define TCP_PSH 0x08u
#define TCP_ACK 0x10u
#define TCP_CWR 0x80u

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t sum16(const uint8_t *b, uint32_t len)
{
	uint32_t s = 0;
	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += rd16(b + i);
	return s;
}

/* Ethernet [+ VLAN] + IPv4 or IPv6 + TCP (with 12 bytes of options) or UDP + payload. Returns the
 * frame length; *l3 and *l4 get the header offsets. The L4 checksum field holds junk: the
 * resolver must not trust it. */
static uint32_t super_frame(uint8_t *f, bool v6, bool tcp, uint16_t vlan, uint32_t payload, uint32_t *l3,
			    uint32_t *l4)
{
	memset(f, 0, 128);
	memcpy(f, (const uint8_t[]){ 2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa }, 12);
	uint32_t o = 12;
	if (vlan) {
		f[o++] = 0x81;
		f[o++] = 0x00;
		f[o++] = (uint8_t)(vlan >> 8);
		f[o++] = (uint8_t)vlan;
	}
	f[o++] = v6 ? 0x86 : 0x08;
	f[o++] = v6 ? 0xdd : 0x00;
	*l3 = o;
	uint32_t l4_hlen = tcp ? 32u : 8u;
	uint8_t proto = tcp ? 6 : 17;
	if (v6) {
		f[o] = 0x60;
		f[o + 4] = (uint8_t)((l4_hlen + payload) >> 8);
		f[o + 5] = (uint8_t)(l4_hlen + payload);
		f[o + 6] = proto;
		f[o + 7] = 64;
		for (int i = 0; i < 32; i++)
			f[o + 8 + i] = (uint8_t)(0x20 + i);
		o += 40;
	} else {
		f[o] = 0x45;
		uint32_t tot = 20 + l4_hlen + payload;
		f[o + 2] = (uint8_t)(tot >> 8);
		f[o + 3] = (uint8_t)tot;
		f[o + 4] = 0x12;
		f[o + 5] = 0x34;
		f[o + 6] = 0x40; /* DF */
		f[o + 8] = 64;
		f[o + 9] = proto;
		memcpy(f + o + 12, (const uint8_t[]){ 10, 9, 0, 1, 10, 9, 0, 2 }, 8);
		o += 20;
	}
	*l4 = o;
	f[o] = 0x9c;
	f[o + 1] = 0x40;
	f[o + 2] = 0x00;
	f[o + 3] = 0x50;
	if (tcp) {
		f[o + 4] = 0;
		f[o + 5] = 0;
		f[o + 6] = 0x03;
		f[o + 7] = 0xe8; /* seq 1000 */
		f[o + 12] = (uint8_t)(8u << 4);
		f[o + 13] = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR;
		f[o + 16] = 0xde;
		f[o + 17] = 0xad;
		for (int i = 20; i < 32; i++)
			f[o + i] = 1; /* NOP options */
	} else {
		f[o + 4] = (uint8_t)((8 + payload) >> 8);
		f[o + 5] = (uint8_t)(8 + payload);
		f[o + 6] = 0xde;
		f[o + 7] = 0xad;
	}
	o += l4_hlen;
	for (uint32_t i = 0; i < payload; i++)
		f[o + i] = (uint8_t)(i * 31u + 7u);
	return o + payload;
}

/* The L4 checksum of a segment verifies against its own pseudo header. */
static bool l4_ok(const uint8_t *s, uint32_t l3, uint32_t l4, uint32_t len, bool v6, uint8_t proto)
{
	uint32_t l4len = len - l4;
	uint32_t ph = (v6 ? sum16(s + l3 + 8, 32) : sum16(s + l3 + 12, 8)) + proto + l4len;
	return pf_csum_ok(s + l4, l4len, ph);
}

static void check_segments(bool v6, bool tcp, uint16_t vlan, uint32_t payload, uint16_t mss)
{
	static uint8_t f[70000], seg[4096], joined[70000];
	uint32_t l3, l4;
	uint32_t len = super_frame(f, v6, tcp, vlan, payload, &l3, &l4);
	struct dvmq_pkt p = { .data = f, .len = len };
	struct dvmq_offload o = {
		.flags = DVMQ_OFF_CSUM_PARTIAL,
		.gso_type = (uint8_t)(tcp ? (v6 ? DVMQ_GSO_TCPV6 : DVMQ_GSO_TCPV4) | DVMQ_GSO_ECN : DVMQ_GSO_UDP_L4),
		.gso_size = mss,
		.csum_start = (uint16_t)l4,
		.csum_offset = tcp ? 16 : 6,
	};
	uint32_t hdr = l4 + (tcp ? 32u : 8u);
	unsigned n = offload_segments(&p, &o);
	CHECK_MSG(n == (payload + mss - 1) / mss, "%u segments for %u bytes at mss %u", n, payload, mss);
	CHECK(offload_segment_max(&p, &o) == hdr + mss);
	uint32_t at = 0;
	for (unsigned k = 0; k < n; k++) {
		uint32_t sl = offload_segment(&p, &o, k, seg, sizeof(seg));
		uint32_t plen = payload - at < mss ? payload - at : mss;
		CHECK_MSG(sl == hdr + plen, "segment %u: %u bytes", k, sl);
		CHECK(memcmp(seg, f, l3) == 0); /* Ethernet and VLAN untouched */
		if (v6) {
			CHECK(rd16(seg + l3 + 4) == sl - l3 - 40);
		} else {
			CHECK(rd16(seg + l3 + 2) == sl - l3);
			CHECK_MSG(rd16(seg + l3 + 4) == 0x1234 + k, "segment %u: IPv4 id %#x", k, rd16(seg + l3 + 4));
			CHECK_MSG(pf_csum_ok(seg + l3, 20, 0), "segment %u: IPv4 header checksum", k);
		}
		CHECK_MSG(l4_ok(seg, l3, l4, sl, v6, tcp ? 6 : 17), "segment %u: L4 checksum", k);
		if (tcp) {
			uint8_t fl = seg[l4 + 13];
			CHECK_MSG(rd32(seg + l4 + 4) == 1000u + at, "segment %u: seq %u", k, rd32(seg + l4 + 4));
			CHECK_MSG(!!(fl & (TCP_FIN | TCP_PSH)) == (k + 1 == n), "segment %u: FIN/PSH %#x", k, fl);
			CHECK_MSG(!!(fl & TCP_CWR) == (k == 0), "segment %u: CWR %#x", k, fl);
			CHECK(fl & TCP_ACK);
		} else {
			CHECK(rd16(seg + l4 + 4) == 8 + plen);
		}
		memcpy(joined + at, seg + hdr, plen);
		at += plen;
	}
	CHECK(at == payload && memcmp(joined, f + hdr, payload) == 0);
	CHECK(offload_segment(&p, &o, n, seg, sizeof(seg)) == 0);
	CHECK_MSG(offload_segment(&p, &o, 0, seg, hdr + mss - 1) == 0, "a segment larger than the buffer");
}

TEST(port_offload_tcpv4_segments)
{
	check_segments(false, true, 0, 10000, 1448);
	if (test_failed())
		return;
	check_segments(false, true, 0, 1448 * 3, 1448); /* exact multiple: no empty tail */
}

TEST(port_offload_tcpv6_segments_with_vlan_tag)
{
	check_segments(true, true, 42, 60000, 1428);
}

TEST(port_offload_udp_l4_segments)
{
	check_segments(false, false, 0, 5000, 1000);
	if (test_failed())
		return;
	check_segments(true, false, 7, 3333, 1200);
}

/* A partial checksum without GSO: TCP/UDP recomputed in full, other protocols completed from the
 * pseudo-header sum the field holds, Ethernet padding left out of the sum. */
TEST(port_offload_completes_partial_checksums)
{
	static uint8_t f[2048], out[2048];
	uint32_t l3, l4;
	uint32_t len = super_frame(f, false, false, 0, 300, &l3, &l4);
	struct dvmq_pkt p = { .data = f, .len = len };
	struct dvmq_offload o = { .flags = DVMQ_OFF_CSUM_PARTIAL, .csum_start = (uint16_t)l4, .csum_offset = 6 };
	CHECK(offload_segments(&p, &o) == 1);
	CHECK(offload_segment(&p, &o, 0, out, sizeof(out)) == len);
	CHECK(l4_ok(out, l3, l4, len, false, 17));
	CHECK(memcmp(out, f, l4 + 6) == 0 && memcmp(out + l4 + 8, f + l4 + 8, len - l4 - 8) == 0);

	/* a 46-byte UDP frame padded to 60 on the wire: the sum covers the IP length, not the padding */
	uint32_t ul = super_frame(f, false, false, 0, 4, &l3, &l4);
	CHECK(ul == 46);
	memset(f + ul, 0xee, 60 - ul);
	p = (struct dvmq_pkt){ .data = f, .len = 60 };
	o = (struct dvmq_offload){ .flags = DVMQ_OFF_CSUM_PARTIAL, .csum_start = (uint16_t)l4, .csum_offset = 6 };
	CHECK(offload_segment(&p, &o, 0, out, sizeof(out)) == 60);
	CHECK_MSG(l4_ok(out, l3, l4, ul, false, 17), "UDP checksum with Ethernet padding after the packet");

	/* an ethertype the resolver does not parse: the field's pseudo sum (0 here) is completed */
	memset(f, 0, 200);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (int i = 14; i < 200; i++)
		f[i] = (uint8_t)i;
	f[40] = f[41] = 0;
	p = (struct dvmq_pkt){ .data = f, .len = 200 };
	o = (struct dvmq_offload){ .flags = DVMQ_OFF_CSUM_PARTIAL, .csum_start = 30, .csum_offset = 10 };
	CHECK(offload_segment(&p, &o, 0, out, sizeof(out)) == 200);
	CHECK(pf_csum_ok(out + 30, 170, 0));
	/* no offload: a copy */
	o = (struct dvmq_offload){ 0, 0, 0, 0, 0, 0 };
	CHECK(!offload_pending(&o) && offload_segment(&p, &o, 0, out, sizeof(out)) == 200 && memcmp(out, f, 200) == 0);
}

TEST(port_offload_refuses_what_it_cannot_resolve)
{
	static uint8_t f[4096], out[4096];
	uint32_t l3, l4;
	uint32_t len = super_frame(f, false, true, 0, 3000, &l3, &l4);
	struct dvmq_pkt p = { .data = f, .len = len };
	struct dvmq_offload o = { .flags = DVMQ_OFF_CSUM_PARTIAL, .gso_type = DVMQ_GSO_TCPV4, .gso_size = 1000,
				  .csum_start = (uint16_t)l4, .csum_offset = 16 };
	CHECK(offload_segments(&p, &o) == 3);
	struct dvmq_offload bad = o;
	bad.gso_type = DVMQ_GSO_UDP; /* UFO: IP fragments, not resolved */
	CHECK(offload_segments(&p, &bad) == 0 && offload_segment(&p, &bad, 0, out, sizeof(out)) == 0);
	bad = o;
	bad.gso_type = DVMQ_GSO_TCPV6; /* on an IPv4 frame */
	CHECK(offload_segments(&p, &bad) == 0);
	bad = o;
	bad.gso_size = 0;
	CHECK(offload_segments(&p, &bad) == 0);
	bad = o;
	bad.gso_type = DVMQ_GSO_UDP_L4; /* on TCP */
	CHECK(offload_segments(&p, &bad) == 0);
	bad = o;
	bad.gso_type = DVMQ_GSO_NONE | DVMQ_GSO_ECN, bad.gso_size = 0; /* ECN without a type (the kernel
	                                                                 * refuses it): no division by 0 */
	CHECK(offload_segments(&p, &bad) == 0 && offload_segment(&p, &bad, 0, out, sizeof(out)) == 0);
	struct dvmq_pkt cut = { .data = f, .len = l4 + 10 }; /* TCP header beyond the frame */
	CHECK(offload_segments(&cut, &o) == 0 && offload_segment(&cut, &o, 0, out, sizeof(out)) == 0);
	cut.len = 10; /* not even Ethernet */
	CHECK(offload_segments(&cut, &o) == 0);
}

/* The receive-side resolver hands a super-frame out a burst at a time, across calls. */
TEST(port_offload_rx_resolver_spans_bursts)
{
	static uint8_t f[70000];
	uint32_t l3, l4;
	uint32_t len = super_frame(f, false, true, 0, 50 * 1000, &l3, &l4);
	struct dvmq_pkt p = { .data = f, .len = len };
	struct dvmq_offload o = { .flags = DVMQ_OFF_CSUM_PARTIAL, .gso_type = DVMQ_GSO_TCPV4, .gso_size = 1000,
				  .csum_start = (uint16_t)l4, .csum_offset = 16 };
	struct offload_rx r;
	CHECK(offload_rx_init(&r, 1500) == 0);
	CHECK(offload_rx_take(&r, &p, &o));
	memset(f, 0, len); /* the original may be reused at once: the resolver copied it */
	struct dvmq_pkt out[DVMQ_BURST];
	uint64_t bytes = 0;
	unsigned total = 0, calls = 0;
	uint32_t next_seq = 1000;
	while (offload_rx_pending(&r) && calls < 10) {
		offload_rx_new_burst(&r);
		unsigned k = offload_rx_emit(&r, out, DVMQ_BURST, &bytes);
		for (unsigned i = 0; i < k; i++) {
			CHECK(rd32(out[i].data + l4 + 4) == next_seq);
			CHECK(l4_ok(out[i].data, l3, l4, out[i].len, false, 6));
			next_seq += 1000;
		}
		total += k;
		calls++;
	}
	CHECK_MSG(total == 50 && calls == 2, "%u segments in %u bursts", total, calls);
	CHECK(bytes == 50u * (l4 + 32u + 1000u));
	offload_rx_free(&r);
}

/* Segments of one flow, as a NIC would deliver them: a super-frame cut by the resolver. */
static unsigned make_segments(uint8_t *f, bool v6, uint32_t payload, uint16_t mss, uint8_t (*segs)[2048],
			      struct dvmq_pkt *pk, uint32_t *l4_out)
{
	uint32_t l3, l4;
	uint32_t len = super_frame(f, v6, true, 0, payload, &l3, &l4);
	f[l4 + 13] = 0x10; /* ACK only */
	struct dvmq_pkt p = { .data = f, .len = len };
	struct dvmq_offload o = { .flags = DVMQ_OFF_CSUM_PARTIAL,
				  .gso_type = (uint8_t)(v6 ? DVMQ_GSO_TCPV6 : DVMQ_GSO_TCPV4), .gso_size = mss,
				  .csum_start = (uint16_t)l4, .csum_offset = 16 };
	unsigned n = offload_segments(&p, &o);
	for (unsigned k = 0; k < n; k++)
		pk[k] = (struct dvmq_pkt){ .data = segs[k], .len = offload_segment(&p, &o, k, segs[k], 2048) };
	*l4_out = l4;
	return n;
}

/* Coalescing undoes segmentation: the super-frame cut again gives the very same segments. */
TEST(port_offload_coalesce_round_trip)
{
	static uint8_t f[70000], segs[64][2048], big[70000], again[2048];
	struct dvmq_pkt pk[64];
	for (int v6 = 0; v6 <= 1; v6++) {
		uint32_t l4;
		unsigned n = make_segments(f, v6, 20 * 1000 + 123, 1000, segs, pk, &l4);
		CHECK(n == 21);
		struct dvmq_pkt out;
		struct dvmq_offload o;
		unsigned took = offload_coalesce(pk, NULL, n, 0, big, sizeof(big), &out, &o);
		CHECK_MSG(took == n, "merged %u of %u (v6 %d)", took, n, v6);
		CHECK(o.gso_type == (v6 ? DVMQ_GSO_TCPV6 : DVMQ_GSO_TCPV4) && o.gso_size == 1000 &&
		      (o.flags & DVMQ_OFF_CSUM_PARTIAL) && o.csum_start == l4 && o.csum_offset == 16);
		CHECK(offload_segments(&out, &o) == n);
		for (unsigned k = 0; k < n; k++) {
			uint32_t len = offload_segment(&out, &o, k, again, sizeof(again));
			CHECK_MSG(len == pk[k].len && memcmp(again, pk[k].data, len) == 0,
				  "segment %u differs after the round trip (v6 %d)", k, v6);
		}
	}
}

/* What GRO must not merge: it ends the run there, and never merges across it. */
TEST(port_offload_coalesce_stops_where_it_must)
{
	static uint8_t f[70000], segs[64][2048], big[70000];
	struct dvmq_pkt pk[64], out;
	struct dvmq_offload o;
	uint32_t l4;
	unsigned n = make_segments(f, false, 8 * 1000, 1000, segs, pk, &l4);
	CHECK(n == 8);
	/* a corrupted payload byte in frame 3: frames 0..2 merge, frame 3 goes alone */
	segs[3][l4 + 40] ^= 0x55;
	CHECK(offload_coalesce(pk, NULL, n, 0, big, sizeof(big), &out, &o) == 3);
	CHECK(offload_coalesce(pk, NULL, n, 3, big, sizeof(big), &out, &o) == 0);
	segs[3][l4 + 40] ^= 0x55;
	/* a gap in the sequence (frame 5 missing) */
	struct dvmq_pkt gap[7] = { pk[0], pk[1], pk[2], pk[3], pk[4], pk[6], pk[7] };
	CHECK(offload_coalesce(gap, NULL, 7, 0, big, sizeof(big), &out, &o) == 5);
	/* another flow in between */
	struct dvmq_pkt other[3] = { pk[0], pk[1], pk[2] };
	uint8_t x[2048];
	memcpy(x, pk[1].data, pk[1].len);
	x[l4 + 1] ^= 1; /* source port */
	other[1].data = x;
	CHECK(offload_coalesce(other, NULL, 3, 0, big, sizeof(big), &out, &o) == 0);
	/* the same flow toward another MAC (or VLAN): another port's business, not merged */
	memcpy(x, pk[1].data, pk[1].len);
	x[5] ^= 1;
	other[1].data = x;
	CHECK(offload_coalesce(other, NULL, 3, 0, big, sizeof(big), &out, &o) == 0);
	/* a frame that carries offloads of its own */
	struct dvmq_offload offs[8] = { { 0, 0, 0, 0, 0, 0 } };
	offs[2].flags = DVMQ_OFF_CSUM_PARTIAL;
	CHECK(offload_coalesce(pk, offs, n, 0, big, sizeof(big), &out, &o) == 2);
	/* PSH ends a run, included; SYN, FIN or RST never merge */
	uint8_t y[2048];
	memcpy(y, pk[2].data, pk[2].len);
	y[l4 + 13] |= 0x08;
	struct dvmq_pkt psh[4] = { pk[0], pk[1], { .data = y, .len = pk[2].len }, pk[3] };
	/* the flag changed: fix the checksum the way a sender would have computed it */
	struct dvmq_offload fix = { .flags = DVMQ_OFF_CSUM_PARTIAL, .csum_start = (uint16_t)l4, .csum_offset = 16 };
	uint8_t y2[2048];
	struct dvmq_pkt yp = { .data = y, .len = pk[2].len };
	CHECK(offload_segment(&yp, &fix, 0, y2, sizeof(y2)) == pk[2].len);
	psh[2].data = y2;
	CHECK(offload_coalesce(psh, NULL, 4, 0, big, sizeof(big), &out, &o) == 3);
	CHECK(out.data[l4 + 13] & 0x08);
	y2[l4 + 13] = 0x11; /* FIN|ACK */
	CHECK(offload_segment(&(struct dvmq_pkt){ .data = y2, .len = pk[2].len }, &fix, 0, y, sizeof(y)) == pk[2].len);
	psh[2].data = y;
	CHECK(offload_coalesce(psh, NULL, 4, 0, big, sizeof(big), &out, &o) == 2);
	/* a payload longer than the first one's: [0,500) [500,1000) merge, [1000,2000) does not */
	static uint8_t f2[70000], segs2[64][2048];
	struct dvmq_pkt half[64];
	CHECK(make_segments(f2, false, 8 * 1000, 500, segs2, half, &l4) == 16);
	struct dvmq_pkt grow[3] = { half[0], half[1], pk[1] };
	CHECK(offload_coalesce(grow, NULL, 3, 0, big, sizeof(big), &out, &o) == 2);
	/* a buffer too small for more than four */
	CHECK(offload_coalesce(pk, NULL, n, 0, big, l4 + 32 + 4 * 1000, &out, &o) == 4);
	/* one frame is no run */
	CHECK(offload_coalesce(pk, NULL, 1, 0, big, sizeof(big), &out, &o) == 0);
}
