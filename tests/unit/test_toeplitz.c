/* The Toeplitz hash against Microsoft's published verification vectors ("Verifying the RSS Hash
 * Calculation": IPv4 and IPv6, with and without ports, under the standard key), the tables
 * against the bit-by-bit definition, and the tuple a frame hashes on: TCP/UDP 4-tuple, addresses
 * only for other protocols and for every fragment, the same with or without a VLAN tag, 0 for
 * what is not IP. */
#include <arpa/inet.h>
#include <string.h>

#include "../harness.h"
#include "dvmq/toeplitz.h"

struct vec {
	const char *src, *dst;
	uint16_t sport, dport;
	uint32_t addrs_only, with_ports;
};

static const struct vec v4[] = {
	{ "66.9.149.187", "161.142.100.80", 2794, 1766, 0x323e8fc2, 0x51ccc178 },
	{ "199.92.111.2", "65.69.140.83", 14230, 4739, 0xd718262a, 0xc626b0ea },
	{ "24.19.198.95", "12.22.207.184", 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
	{ "38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xafc7327f },
	{ "153.39.163.191", "202.188.127.2", 44251, 1303, 0x5d1809c5, 0x10e828a2 },
};

static const struct vec v6[] = {
	{ "3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x2cc18cd5, 0x40207d3d },
	{ "3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0x0f0c461c, 0xdde51bbf },
	{ "3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024, 0x4b61e985, 0x02d1feef },
};

/* src address, dst address, src port, dst port: the RSS input. Returns its length with ports. */
static size_t input_of(const struct vec *v, int af, uint8_t *in)
{
	size_t a = af == AF_INET ? 4 : 16;
	inet_pton(af, v->src, in);
	inet_pton(af, v->dst, in + a);
	in[2 * a] = (uint8_t)(v->sport >> 8), in[2 * a + 1] = (uint8_t)v->sport;
	in[2 * a + 2] = (uint8_t)(v->dport >> 8), in[2 * a + 3] = (uint8_t)v->dport;
	return 2 * a + 4;
}

TEST(toeplitz_matches_the_published_vectors)
{
	static struct dvmq_toeplitz t;
	dvmq_toeplitz_init(&t, dvmq_rss_default_key);
	uint8_t in[DVMQ_RSS_INPUT_MAX];
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		size_t n = input_of(&v4[i], AF_INET, in);
		CHECK_MSG(dvmq_toeplitz(&t, in, n) == v4[i].with_ports, "IPv4 %zu with ports: %08x", i,
			  dvmq_toeplitz(&t, in, n));
		CHECK(dvmq_toeplitz(&t, in, n - 4) == v4[i].addrs_only);
		CHECK(dvmq_toeplitz_bitwise(dvmq_rss_default_key, in, n) == v4[i].with_ports);
		CHECK(dvmq_toeplitz_bitwise(dvmq_rss_default_key, in, n - 4) == v4[i].addrs_only);
	}
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		size_t n = input_of(&v6[i], AF_INET6, in);
		CHECK_MSG(dvmq_toeplitz(&t, in, n) == v6[i].with_ports, "IPv6 %zu with ports: %08x", i,
			  dvmq_toeplitz(&t, in, n));
		CHECK(dvmq_toeplitz(&t, in, n - 4) == v6[i].addrs_only);
		CHECK(dvmq_toeplitz_bitwise(dvmq_rss_default_key, in, n) == v6[i].with_ports);
	}
}

TEST(toeplitz_tables_equal_the_definition_for_any_key_and_input)
{
	static struct dvmq_toeplitz t;
	uint64_t x = 0x1234567887654321ull;
	uint8_t key[DVMQ_RSS_KEY_BYTES], in[DVMQ_RSS_INPUT_MAX];
	for (int k = 0; k < 20; k++) {
		for (size_t i = 0; i < sizeof(key); i++)
			key[i] = (uint8_t)((x = x * 6364136223846793005ull + 1442695040888963407ull) >> 56);
		dvmq_toeplitz_init(&t, key);
		for (int r = 0; r < 50; r++) {
			size_t n = (size_t)(x >> 60) % (DVMQ_RSS_INPUT_MAX + 1);
			for (size_t i = 0; i < sizeof(in); i++)
				in[i] = (uint8_t)((x = x * 6364136223846793005ull + 1442695040888963407ull) >> 56);
			CHECK(dvmq_toeplitz(&t, in, n) == dvmq_toeplitz_bitwise(key, in, n));
		}
	}
}

/* Ethernet [+ tag] + IPv4 (proto, flags/offset) + 8 bytes of L4 from vector v. */
static size_t frame4(uint8_t *b, const struct vec *v, uint8_t proto, uint16_t frag, uint16_t vlan)
{
	static const uint8_t eth[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	size_t off = 12;
	memcpy(b, eth, 12);
	if (vlan) {
		b[12] = 0x81, b[13] = 0, b[14] = (uint8_t)(vlan >> 8), b[15] = (uint8_t)vlan;
		off += 4;
	}
	b[off] = 0x08, b[off + 1] = 0x00;
	uint8_t *ip = b + off + 2;
	memset(ip, 0, 40);
	ip[0] = 0x45, ip[3] = 40, ip[9] = proto;
	ip[6] = (uint8_t)(frag >> 8), ip[7] = (uint8_t)frag;
	inet_pton(AF_INET, v->src, ip + 12);
	inet_pton(AF_INET, v->dst, ip + 16);
	ip[20] = (uint8_t)(v->sport >> 8), ip[21] = (uint8_t)v->sport;
	ip[22] = (uint8_t)(v->dport >> 8), ip[23] = (uint8_t)v->dport;
	ip[32] = 5 << 4; /* a TCP data offset */
	return off + 2 + 40;
}

static uint32_t frame_hash(const struct dvmq_toeplitz *t, const uint8_t *b, size_t n)
{
	struct dvmq_frame f;
	if (dvmq_frame_parse(b, n, 1500, &f) != DVMQ_FRAME_OK)
		return 0xdeadbeefu;
	return dvmq_rss_hash(t, b, &f);
}

TEST(toeplitz_frames_hash_on_their_tuple)
{
	static struct dvmq_toeplitz t;
	dvmq_toeplitz_init(&t, dvmq_rss_default_key);
	uint8_t b[128];
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		CHECK(frame_hash(&t, b, frame4(b, &v4[i], 6, 0, 0)) == v4[i].with_ports);     /* TCP */
		CHECK(frame_hash(&t, b, frame4(b, &v4[i], 17, 0, 0)) == v4[i].with_ports);    /* UDP */
		CHECK(frame_hash(&t, b, frame4(b, &v4[i], 17, 0, 42)) == v4[i].with_ports);   /* tagged */
		CHECK(frame_hash(&t, b, frame4(b, &v4[i], 1, 0, 0)) == v4[i].addrs_only);     /* ICMP */
		/* every fragment of a datagram on its addresses, the first (ports present) too */
		CHECK(frame_hash(&t, b, frame4(b, &v4[i], 17, 0x2000, 0)) == v4[i].addrs_only);
		CHECK(frame_hash(&t, b, frame4(b, &v4[i], 17, 0x0003, 0)) == v4[i].addrs_only);
		/* and the input it writes is the one it hashes */
		struct dvmq_frame f;
		uint8_t in[DVMQ_RSS_INPUT_MAX];
		size_t n = frame4(b, &v4[i], 6, 0, 0);
		CHECK(dvmq_frame_parse(b, n, 1500, &f) == DVMQ_FRAME_OK);
		CHECK(dvmq_rss_input(b, &f, in) == 12 && dvmq_toeplitz(&t, in, 12) == v4[i].with_ports);
	}
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		memset(b, 0, sizeof(b));
		memcpy(b, (const uint8_t[]){ 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd }, 14);
		uint8_t *ip = b + 14;
		ip[0] = 0x60, ip[5] = 20, ip[6] = 6;
		inet_pton(AF_INET6, v6[i].src, ip + 8);
		inet_pton(AF_INET6, v6[i].dst, ip + 24);
		ip[40] = (uint8_t)(v6[i].sport >> 8), ip[41] = (uint8_t)v6[i].sport;
		ip[42] = (uint8_t)(v6[i].dport >> 8), ip[43] = (uint8_t)v6[i].dport;
		ip[52] = 5 << 4;
		CHECK(frame_hash(&t, b, 14 + 40 + 20) == v6[i].with_ports);
		ip[6] = 44; /* a fragment header: addresses only */
		CHECK(frame_hash(&t, b, 14 + 40 + 20) == v6[i].addrs_only);
		ip[6] = 58; /* ICMPv6 */
		CHECK(frame_hash(&t, b, 14 + 40 + 20) == v6[i].addrs_only);
	}
	/* not IP: 0 */
	uint8_t arp[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9, 0x08, 0x06 };
	CHECK(frame_hash(&t, arp, sizeof(arp)) == 0);
}
