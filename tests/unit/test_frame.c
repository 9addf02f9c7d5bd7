/* Frame parser: one test per malformed case of issue 3, plus the frames it must accept. */
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "dvmq/frame.h"

/* Builds Ethernet [+ 802.1Q] + IPv4 + UDP with a payload into buf; returns the length. */
static size_t udp4(uint8_t *buf, uint16_t vlan, size_t payload)
{
	static const uint8_t hdr[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00 };
	size_t off = 12;
	memcpy(buf, hdr, 12);
	if (vlan) {
		buf[12] = 0x81, buf[13] = 0x00, buf[14] = (uint8_t)(vlan >> 8), buf[15] = (uint8_t)vlan;
		off += 4;
	}
	buf[off] = 0x08, buf[off + 1] = 0x00;
	uint8_t *ip = buf + off + 2;
	memset(ip, 0, 28);
	size_t total = 20 + 8 + payload;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total;
	ip[9] = 17;
	ip[12] = 10, ip[15] = 1, ip[16] = 10, ip[19] = 2;
	ip[20] = 0x30, ip[21] = 0x39, ip[22] = 0x12, ip[23] = 0xb5; /* ports 12345 -> 4789 */
	memset(ip + 28, 0xab, payload);
	return off + 2 + total;
}

TEST(frame_accepts_ipv4_udp_and_reads_ports)
{
	uint8_t b[256];
	struct dvmq_frame f;
	size_t n = udp4(b, 0, 32);
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_OK);
	CHECK(f.vlan == 0 && f.ethertype == 0x0800 && f.l4_proto == 17);
	CHECK(f.sport == 12345 && f.dport == 4789 && f.l4_off == 34);
	n = udp4(b, 42, 32);
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_OK);
	CHECK(f.vlan == 42 && f.l4_off == 38);
}

TEST(frame_flow_hash_follows_the_5_tuple)
{
	uint8_t a[128], b[128];
	struct dvmq_frame fa, fb;
	size_t n = udp4(a, 0, 16);
	memcpy(b, a, n);
	CHECK(dvmq_frame_parse(a, n, 1500, &fa) == DVMQ_FRAME_OK);
	CHECK(dvmq_frame_parse(b, n, 1500, &fb) == DVMQ_FRAME_OK && fa.hash == fb.hash);
	b[34] ^= 1; /* source port */
	CHECK(dvmq_frame_parse(b, n, 1500, &fb) == DVMQ_FRAME_OK && fa.hash != fb.hash);
}

TEST(frame_non_ip_is_switched_by_mac)
{
	uint8_t b[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9, 0x08, 0x06 }; /* ARP */
	struct dvmq_frame f;
	CHECK(dvmq_frame_parse(b, sizeof(b), 1500, &f) == DVMQ_FRAME_OK);
	CHECK(f.ethertype == 0x0806 && f.l4_proto == 0 && dvmq_mac_is_multicast(f.dst));
}

TEST(frame_malformed_runt)
{
	uint8_t b[13] = { 0 };
	struct dvmq_frame f;
	for (size_t n = 0; n < 14; n++)
		CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_RUNT);
}

TEST(frame_malformed_truncated_vlan)
{
	uint8_t b[64];
	struct dvmq_frame f;
	udp4(b, 7, 16);
	CHECK(dvmq_frame_parse(b, 14, 1500, &f) == DVMQ_FRAME_VLAN_TRUNCATED);
	CHECK(dvmq_frame_parse(b, 17, 1500, &f) == DVMQ_FRAME_VLAN_TRUNCATED);
}

TEST(frame_malformed_truncated_ipv4_header)
{
	uint8_t b[64];
	struct dvmq_frame f;
	udp4(b, 0, 16);
	CHECK(dvmq_frame_parse(b, 14 + 19, 1500, &f) == DVMQ_FRAME_IPV4_TRUNCATED);
	udp4(b, 5, 16);
	CHECK(dvmq_frame_parse(b, 18 + 10, 1500, &f) == DVMQ_FRAME_IPV4_TRUNCATED);
}

TEST(frame_malformed_ipv4_header_length_under_5)
{
	uint8_t b[64];
	struct dvmq_frame f;
	size_t n = udp4(b, 0, 16);
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		b[14] = (uint8_t)(0x40 | ihl);
		CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_IPV4_IHL);
	}
}

TEST(frame_malformed_ipv4_lengths_beyond_the_frame)
{
	uint8_t b[128];
	struct dvmq_frame f;
	size_t n = udp4(b, 0, 16);
	b[17] = (uint8_t)(b[17] + 1); /* total length one past the frame */
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_IPV4_LENGTH);
	n = udp4(b, 0, 16);
	b[14] = 0x4f; /* 60-byte header in a 44-byte packet */
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_IPV4_LENGTH);
	n = udp4(b, 0, 16);
	b[16] = 0, b[17] = 19; /* total shorter than the header */
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_IPV4_LENGTH);
}

TEST(frame_malformed_l4_header_beyond_ip_payload)
{
	uint8_t b[128];
	struct dvmq_frame f;
	udp4(b, 0, 0);
	b[16] = 0, b[17] = 24; /* IP says 4 bytes of UDP */
	CHECK(dvmq_frame_parse(b, 14 + 28, 1500, &f) == DVMQ_FRAME_L4_TRUNCATED);
}

TEST(frame_malformed_ipv6_truncated_and_length)
{
	uint8_t b[128] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60 };
	struct dvmq_frame f;
	CHECK(dvmq_frame_parse(b, 14 + 39, 1500, &f) == DVMQ_FRAME_IPV6_TRUNCATED);
	b[14 + 4] = 0, b[14 + 5] = 9, b[14 + 6] = 59; /* 9 bytes of payload, none present */
	CHECK(dvmq_frame_parse(b, 14 + 40 + 8, 1500, &f) == DVMQ_FRAME_IPV6_LENGTH);
	CHECK(dvmq_frame_parse(b, 14 + 40 + 9, 1500, &f) == DVMQ_FRAME_OK);
	b[14 + 6] = 17, b[14 + 5] = 8; /* UDP, 8 bytes: ports read */
	b[54] = 0, b[55] = 53;
	CHECK(dvmq_frame_parse(b, 14 + 48, 1500, &f) == DVMQ_FRAME_OK && f.sport == 53 && f.l4_proto == 17);
}

TEST(frame_malformed_longer_than_mtu)
{
	static uint8_t b[1600];
	struct dvmq_frame f;
	size_t n = udp4(b, 0, 1472); /* exactly 1500 bytes of IP */
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_OK);
	n = udp4(b, 0, 1473);
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_OVER_MTU);
	n = udp4(b, 9, 1472); /* the tag does not count against the MTU */
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_OK);
}

TEST(frame_qinq_is_unsupported_not_malformed)
{
	uint8_t b[64];
	struct dvmq_frame f;
	size_t n = udp4(b, 100, 16);
	b[16] = 0x81, b[17] = 0x00; /* a second tag */
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_QINQ);
	b[12] = 0x88, b[13] = 0xa8; /* 802.1ad outer tag */
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_QINQ);
	CHECK(DVMQ_FRAME_QINQ >= DVMQ_FRAME_FIRST_UNSUPPORTED);
	CHECK(strcmp(dvmq_frame_verdict_name(DVMQ_FRAME_QINQ), "qinq") == 0);
}

TEST(frame_never_reads_past_len)
{
	/* every prefix of valid frames parses to some verdict (ASan checks the reads) */
	uint8_t full[200];
	struct dvmq_frame f;
	size_t n = udp4(full, 3, 100);
	for (size_t k = 0; k <= n; k++) {
		uint8_t *copy = malloc(k ? k : 1); /* exact size: ASan flags any read past it */
		CHECK(copy);
		memcpy(copy, full, k);
		enum dvmq_frame_verdict v = dvmq_frame_parse(copy, k, 1500, &f);
		free(copy);
		CHECK(v < DVMQ_FRAME_VERDICT_COUNT);
		CHECK(k == n ? v == DVMQ_FRAME_OK : v != DVMQ_FRAME_OK || k > n);
	}
}

/* Every fragment of a datagram must hash alike (RSS's rule: a fragment's flow is its addresses),
 * or the fragments of one datagram could land on different queues and be reordered; ports are
 * read from no fragment, the first one included. */
TEST(frame_ipv4_fragments_hash_on_addresses_only)
{
	uint8_t b[128];
	struct dvmq_frame whole, first, later, other;
	size_t n = udp4(b, 0, 32);
	CHECK(dvmq_frame_parse(b, n, 1500, &whole) == DVMQ_FRAME_OK && whole.l4_proto == 17);
	b[20] = 0x20; /* MF: the first fragment, ports present */
	CHECK(dvmq_frame_parse(b, n, 1500, &first) == DVMQ_FRAME_OK);
	CHECK(first.l4_proto == 0 && first.sport == 0 && first.l4_off == 0);
	b[20] = 0x00, b[21] = 0x03; /* offset 24: the last fragment, no UDP header */
	CHECK(dvmq_frame_parse(b, n, 1500, &later) == DVMQ_FRAME_OK && later.l4_proto == 0);
	CHECK(first.hash == later.hash && first.hash != whole.hash);
	b[29] ^= 1; /* another destination address */
	CHECK(dvmq_frame_parse(b, n, 1500, &other) == DVMQ_FRAME_OK && other.hash != later.hash);
	/* a fragment too short to hold a UDP header is not truncated: it holds none */
	b[20] = 0x20, b[21] = 0, b[16] = 0, b[17] = 24;
	CHECK(dvmq_frame_parse(b, 14 + 24, 1500, &first) == DVMQ_FRAME_OK);
}

TEST(frame_ipv4_options_move_the_l4_header)
{
	uint8_t b[128];
	struct dvmq_frame f;
	size_t n = udp4(b, 0, 32);
	/* 8 bytes of options (IHL 7): the UDP header now starts 8 bytes later */
	memmove(b + 14 + 28, b + 14 + 20, n - 34);
	memset(b + 14 + 20, 1, 8); /* NOPs */
	b[14] = 0x47;
	n += 8;
	b[16] = (uint8_t)((n - 14) >> 8), b[17] = (uint8_t)(n - 14);
	CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_OK);
	CHECK(f.l4_off == 14 + 28 && f.sport == 12345 && f.dport == 4789);
	CHECK(dvmq_frame_parse(b, 14 + 27, 1500, &f) == DVMQ_FRAME_IPV4_LENGTH); /* options cut */
}

/* 802.3 frames carry a length, not an ethertype: switched by MAC like any other, unless the
 * length claims more than the frame holds (padding to 60 bytes makes it shorter, never longer). */
TEST(frame_8023_llc_frames_are_switched_and_their_length_checked)
{
	/* a spanning-tree BPDU: 802.3, LLC 42 42 03 */
	uint8_t b[64] = { 0x01, 0x80, 0xc2, 0, 0, 0, 2, 0, 0, 0, 0, 9, 0x00, 0x26, 0x42, 0x42, 0x03 };
	struct dvmq_frame f;
	CHECK(dvmq_frame_parse(b, 60, 1500, &f) == DVMQ_FRAME_OK);
	CHECK(f.ethertype == 0x0026 && f.l4_proto == 0 && f.l3_off == 14);
	CHECK(dvmq_frame_parse(b, 14 + 38, 1500, &f) == DVMQ_FRAME_OK);
	CHECK(dvmq_frame_parse(b, 14 + 37, 1500, &f) == DVMQ_FRAME_LLC_LENGTH);
	CHECK(strcmp(dvmq_frame_verdict_name(DVMQ_FRAME_LLC_LENGTH), "llc-length") == 0);
	CHECK(DVMQ_FRAME_LLC_LENGTH < DVMQ_FRAME_FIRST_UNSUPPORTED);
	/* tagged 802.3 too */
	uint8_t t[64] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 9, 0x81, 0x00, 0x00, 0x05, 0x00, 0x2e };
	CHECK(dvmq_frame_parse(t, 64, 1500, &f) == DVMQ_FRAME_OK && f.vlan == 5);
	CHECK(dvmq_frame_parse(t, 18 + 0x2d, 1500, &f) == DVMQ_FRAME_LLC_LENGTH);
}
