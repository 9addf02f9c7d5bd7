/* Frame parser (include/dvmq/frame.h). Every read is preceded by a bounds check against the
 * frame's length; the checks are ordered so the first failing layer names the reason. The
 * libFuzzer target fuzz/fuzz_frame.c holds it to that on every input and every truncation. */
#include <string.h>

#include "dvmq/frame.h"

#define ETH_P_IPV4 0x0800u
#define ETH_P_IPV6 0x86ddu
#define ETH_P_8021Q 0x8100u
#define ETH_P_8021AD 0x88a8u
#define ETH_P_QINQ_OLD 0x9100u
#define ETH_8023_MAX_LEN 1500u /* a type field up to this is an 802.3 length */
#define PROTO_TCP 6u
#define PROTO_UDP 17u

static const char *const verdict_names[DVMQ_FRAME_VERDICT_COUNT] = {
	[DVMQ_FRAME_OK] = "ok",
	[DVMQ_FRAME_RUNT] = "runt",
	[DVMQ_FRAME_VLAN_TRUNCATED] = "vlan-truncated",
	[DVMQ_FRAME_IPV4_TRUNCATED] = "ipv4-truncated",
	[DVMQ_FRAME_IPV4_IHL] = "ipv4-header-length",
	[DVMQ_FRAME_IPV4_LENGTH] = "ipv4-length",
	[DVMQ_FRAME_IPV6_TRUNCATED] = "ipv6-truncated",
	[DVMQ_FRAME_IPV6_LENGTH] = "ipv6-length",
	[DVMQ_FRAME_L4_TRUNCATED] = "l4-truncated",
	[DVMQ_FRAME_OVER_MTU] = "over-mtu",
	[DVMQ_FRAME_LLC_LENGTH] = "llc-length",
	[DVMQ_FRAME_QINQ] = "qinq",
};

const char *dvmq_frame_verdict_name(enum dvmq_frame_verdict v)
{
	return (unsigned)v < DVMQ_FRAME_VERDICT_COUNT ? verdict_names[v] : "?";
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v * 0xcc9e2d51u;
	h = (h << 13 | h >> 19) * 5u + 0xe6546b64u;
	return h;
}

static inline uint32_t finish(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

/* Ports of a TCP/UDP header at off, when [off, end) holds one. */
static enum dvmq_frame_verdict parse_l4(const uint8_t *p, size_t off, size_t end, uint8_t proto,
					struct dvmq_frame *f)
{
	if (proto != PROTO_TCP && proto != PROTO_UDP)
		return DVMQ_FRAME_OK;
	if (end - off < (proto == PROTO_TCP ? 20u : 8u))
		return DVMQ_FRAME_L4_TRUNCATED;
	f->l4_proto = proto;
	f->l4_off = (uint16_t)off;
	f->sport = rd16(p + off);
	f->dport = rd16(p + off + 2);
	return DVMQ_FRAME_OK;
}

static enum dvmq_frame_verdict parse_ipv4(const uint8_t *p, size_t len, size_t off, struct dvmq_frame *f)
{
	if (len - off < 20)
		return DVMQ_FRAME_IPV4_TRUNCATED;
	const uint8_t *ip = p + off;
	size_t ihl = (size_t)(ip[0] & 0x0fu) * 4;
	if (ihl < 20)
		return DVMQ_FRAME_IPV4_IHL;
	size_t total = rd16(ip + 2);
	if (ihl > len - off || total > len - off || total < ihl)
		return DVMQ_FRAME_IPV4_LENGTH;
	uint32_t h = mix(mix(0x9747b28cu, rd32(ip + 12)), rd32(ip + 16));
	/* a fragment (more fragments set, or an offset) is hashed on its addresses, as RSS does:
	 * only the first fragment has the ports, and all of a datagram's fragments must go alike */
	bool fragment = (rd16(ip + 6) & 0x3fffu) != 0;
	enum dvmq_frame_verdict v = fragment ? DVMQ_FRAME_OK : parse_l4(p, off + ihl, off + total, ip[9], f);
	if (v != DVMQ_FRAME_OK)
		return v;
	f->hash = finish(mix(h, (uint32_t)f->sport << 16 | f->dport) ^ f->l4_proto);
	return DVMQ_FRAME_OK;
}

static enum dvmq_frame_verdict parse_ipv6(const uint8_t *p, size_t len, size_t off, struct dvmq_frame *f)
{
	if (len - off < 40)
		return DVMQ_FRAME_IPV6_TRUNCATED;
	const uint8_t *ip = p + off;
	size_t payload = rd16(ip + 4);
	if (payload > len - off - 40)
		return DVMQ_FRAME_IPV6_LENGTH;
	uint32_t h = 0x9747b28cu;
	for (unsigned i = 8; i < 40; i += 4)
		h = mix(h, rd32(ip + i));
	/* extension headers are not walked: ports only when TCP/UDP follows the fixed header */
	enum dvmq_frame_verdict v = parse_l4(p, off + 40, off + 40 + payload, ip[6], f);
	if (v != DVMQ_FRAME_OK)
		return v;
	f->hash = finish(mix(h, (uint32_t)f->sport << 16 | f->dport) ^ f->l4_proto);
	return DVMQ_FRAME_OK;
}

enum dvmq_frame_verdict dvmq_frame_parse(const uint8_t *p, size_t len, uint32_t mtu, struct dvmq_frame *f)
{
	if (len < DVMQ_ETH_HLEN)
		return DVMQ_FRAME_RUNT;
	f->dst = p;
	f->src = p + 6;
	f->vlan = 0;
	f->l4_proto = 0;
	f->l4_off = 0;
	f->sport = f->dport = 0;
	size_t off = DVMQ_ETH_HLEN;
	uint16_t type = rd16(p + 12);
	if (type == ETH_P_8021AD || type == ETH_P_QINQ_OLD)
		return len < DVMQ_ETH_HLEN + DVMQ_VLAN_HLEN ? DVMQ_FRAME_VLAN_TRUNCATED : DVMQ_FRAME_QINQ;
	if (type == ETH_P_8021Q) {
		if (len < DVMQ_ETH_HLEN + DVMQ_VLAN_HLEN)
			return DVMQ_FRAME_VLAN_TRUNCATED;
		f->vlan = rd16(p + 14) & 0x0fffu;
		type = rd16(p + 16);
		off += DVMQ_VLAN_HLEN;
		if (type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ_OLD)
			return DVMQ_FRAME_QINQ;
	}
	if (len - off > mtu)
		return DVMQ_FRAME_OVER_MTU;
	f->ethertype = type;
	f->l3_off = (uint16_t)off;
	/* 802.3: a length, not a type (LLC follows); padding may make the frame longer, not shorter */
	if (type <= ETH_8023_MAX_LEN && type > len - off)
		return DVMQ_FRAME_LLC_LENGTH;
	if (type == ETH_P_IPV4)
		return parse_ipv4(p, len, off, f);
	if (type == ETH_P_IPV6)
		return parse_ipv6(p, len, off, f);
	f->hash = finish(mix(mix(0x9747b28cu, rd32(p)), rd32(p + 6)) ^ type);
	return DVMQ_FRAME_OK;
}
