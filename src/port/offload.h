/* Offload resolution for the kernel ports: turns a frame that carries offloads (a GSO super-frame,
 * a partial checksum: struct dvmq_offload) into the complete frames a receiver without offloads
 * expects, and converts between dvmq_offload and the kernel's virtio_net_hdr.
 * Invariant: a resolved segment is a frame the receiver cannot tell from one the sender's stack
 * segmented itself: IP lengths and IPv4 ids, TCP sequence numbers and flags, every checksum.
 * Thread safety: pure functions. Only what the mechanics need is parsed (Ethernet, up to two VLAN
 * tags, IPv4/IPv6 without extension headers, TCP/UDP); bad frames are still the parser's job. */
#ifndef DVMQ_PORT_OFFLOAD_H
#define DVMQ_PORT_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>

#include "dvmq/port.h"

static inline bool offload_pending(const struct dvmq_offload *o)
{
	return o->gso_type != DVMQ_GSO_NONE || (o->flags & DVMQ_OFF_CSUM_PARTIAL);
}

/* How many frames p (with offloads o) stands for once resolved: 1 without GSO; 0 when it cannot be resolved
 * (UFO, a GSO type on the wrong protocol, gso_size 0, headers beyond the frame). */
unsigned offload_segments(const struct dvmq_pkt *p, const struct dvmq_offload *o);

/* Writes frame k (0 <= k < offload_segments(p, o)) of p, complete, into out (cap bytes).
 * Returns its length, or 0 when p cannot be resolved or the frame does not fit in cap. */
uint32_t offload_segment(const struct dvmq_pkt *p, const struct dvmq_offload *o, unsigned k, uint8_t *out,
			 uint32_t cap);

/* Largest frame offload_segment writes for p (for sizing buffers): headers + gso_size. */
uint32_t offload_segment_max(const struct dvmq_pkt *p, const struct dvmq_offload *o);

/* Resolution on the receive side, for callers of the plain rx_burst: a super-frame is copied
 * (its ring slot or read buffer is reused before all its segments are out) and handed out a
 * burst's worth of segments at a time. One per port, used by the rx thread only. */
struct offload_rx {
	uint8_t *frame;        /* the super-frame being resolved (KPORT_GSO_MAX + slack) */
	uint32_t frame_cap;
	struct dvmq_pkt pkt;
	struct dvmq_offload off;
	unsigned done, total;  /* segments handed out, segments in all */
	uint8_t *segs;         /* DVMQ_BURST segment slots of seg_stride bytes */
	uint32_t seg_stride;
	unsigned used;         /* slots used in the current burst */
};

/* Returns 0 or -ENOMEM. mtu sizes the segment slots. */
int offload_rx_init(struct offload_rx *r, uint32_t mtu);
void offload_rx_free(struct offload_rx *r);
/* At the start of each rx_burst: the previous burst's segments are no longer read. */
static inline void offload_rx_new_burst(struct offload_rx *r)
{
	r->used = 0;
}
static inline bool offload_rx_pending(const struct offload_rx *r)
{
	return r->done < r->total;
}
/* Takes a frame whose offloads must be resolved. Returns false when they cannot be (a drop). */
bool offload_rx_take(struct offload_rx *r, const struct dvmq_pkt *p, const struct dvmq_offload *o);
/* Hands out up to n pending segments into pkts, adding their bytes to *bytes. Returns how many. */
unsigned offload_rx_emit(struct offload_rx *r, struct dvmq_pkt *pkts, unsigned n, uint64_t *bytes);

/* Coalescing on the transmit side (the kernel's GRO, in userspace), for ports that hand
 * super-frames to their kernel (a TAP with IFF_VNET_HDR): the receiving stack then takes one
 * 64 KiB frame instead of forty, and the port makes one system call instead of forty.
 * Starting at pkts[i], takes the longest run of frames that are consecutive segments of one TCP
 * flow (IPv4 without options or IPv6 without extension headers; same addresses, ports, ack,
 * TCP options; only ACK and a final PSH; equal payloads but the last; every checksum valid)
 * and writes them as one super-frame into buf (cap bytes) with its offloads in *o.
 * Returns how many frames it merged (>= 2), or 0 when pkts[i] starts no run (send it alone).
 * off may be NULL (no frame carries offloads); a frame that does is never merged. */
unsigned offload_coalesce(const struct dvmq_pkt *pkts, const struct dvmq_offload *off, unsigned n, unsigned i,
			  uint8_t *buf, uint32_t cap, struct dvmq_pkt *out, struct dvmq_offload *o);

/* virtio_net_hdr (native byte order: TAP and AF_PACKET default on little-endian hosts) <->
 * dvmq_offload. Unknown flags and types are kept as they are, so resolve refuses them. */
void offload_from_vnet(const struct virtio_net_hdr *h, struct dvmq_offload *o);
void offload_to_vnet(const struct dvmq_offload *o, struct virtio_net_hdr *h);

/* The Internet checksum's 32-bit partial sum of buf[0..len) (network byte order words), to be
 * folded by offload_fold. */
uint64_t offload_sum(const uint8_t *buf, uint32_t len, uint64_t sum);
uint16_t offload_fold(uint64_t sum);

#endif
