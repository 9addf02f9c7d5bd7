/* Frame parsing for the classifier: Ethernet II and 802.3, one 802.1Q tag, IPv4 (options and
 * fragments), IPv6 (fixed header), TCP/UDP ports. The parser never reads past `len` and never
 * writes; a frame it refuses gets a reason, which the data plane counts (malformed or
 * unsupported) instead of delivering it. Frames of other ethertypes (ARP, MPLS, PPPoE, ...) and
 * 802.3/LLC frames (spanning tree, ...) are valid: a switch forwards them by MAC.
 * Thread safety: pure functions. */
#ifndef DVMQ_FRAME_H
#define DVMQ_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DVMQ_ETH_HLEN 14u
#define DVMQ_VLAN_HLEN 4u

enum dvmq_frame_verdict {
	DVMQ_FRAME_OK,
	/* malformed */
	DVMQ_FRAME_RUNT,           /* shorter than an Ethernet header */
	DVMQ_FRAME_VLAN_TRUNCATED, /* 802.1Q tag cut short */
	DVMQ_FRAME_IPV4_TRUNCATED, /* fewer than 20 bytes after the Ethernet header */
	DVMQ_FRAME_IPV4_IHL,       /* IPv4 header length under 5 words */
	DVMQ_FRAME_IPV4_LENGTH,    /* header or total length beyond the frame, or total < header */
	DVMQ_FRAME_IPV6_TRUNCATED, /* fewer than 40 bytes after the Ethernet header */
	DVMQ_FRAME_IPV6_LENGTH,    /* payload length beyond the frame */
	DVMQ_FRAME_L4_TRUNCATED,   /* TCP/UDP header beyond the IP payload */
	DVMQ_FRAME_OVER_MTU,       /* longer than the configured MTU allows */
	DVMQ_FRAME_LLC_LENGTH,     /* 802.3 length field beyond the frame */
	/* unsupported (well-formed, but not switched by dvmq) */
	DVMQ_FRAME_QINQ,           /* a second VLAN tag (802.1ad / QinQ) */
	DVMQ_FRAME_VERDICT_COUNT
};
#define DVMQ_FRAME_FIRST_UNSUPPORTED DVMQ_FRAME_QINQ

struct dvmq_frame {
	const uint8_t *dst, *src;
	uint16_t vlan;       /* 0 = untagged */
	uint16_t ethertype;  /* after the tag; <= 1500: an 802.3 length (LLC follows) */
	uint16_t l3_off;     /* offset of the L3 header */
	uint8_t l4_proto;    /* IPPROTO_TCP/UDP when ports are valid, else 0 (also for fragments) */
	uint16_t sport, dport;
	uint16_t l4_off;     /* offset of the TCP/UDP header, 0 if none */
	uint32_t hash;       /* flow hash: 5-tuple for TCP/UDP, else addresses (fragments too) or MACs */
};

/* Parses frame[0..len). mtu is the largest L3 payload accepted (e.g. 1500): frames longer than
 * mtu + 14 (+4 when tagged) are over-mtu. Returns DVMQ_FRAME_OK and fills *f, or the reason. */
enum dvmq_frame_verdict dvmq_frame_parse(const uint8_t *frame, size_t len, uint32_t mtu,
					 struct dvmq_frame *f);

/* "runt", "vlan-truncated", ... ("ok" for DVMQ_FRAME_OK). */
const char *dvmq_frame_verdict_name(enum dvmq_frame_verdict v);

static inline bool dvmq_mac_is_multicast(const uint8_t *mac)
{
	return mac[0] & 1u; /* broadcast included */
}

#endif
