/* The switch decision for one frame, and the rewrites it implies (VLAN tag in or out), as pure
 * functions: the data plane calls them on every frame (classify.c from the uplink, send.c from
 * a VM) and the libFuzzer target fuzz/fuzz_switch.c holds them to their invariants on any input.
 * Invariant: a frame is switched only once the parser accepted it (dvmq/frame.h), its offloads
 * are ones it can carry, and its source may send it; then it has exactly one destination: a queue
 * (from the uplink), a VM, the uplink, or a flood of its VLAN (from a VM). Nothing here reads
 * past the frame's length, writes to it, or keeps state; the VM table is the caller's, behind a
 * lookup function. */
#ifndef DVMQ_DP_DECIDE_H
#define DVMQ_DP_DECIDE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dvmq/dp.h"
#include "dvmq/frame.h"
#include "../port/offload.h"

enum dp_dest {
	DP_DEST_DROP,   /* verdict (parser) or drop (switch) says why */
	DP_DEST_QUEUE,  /* from the uplink: vm's queue, or the default queue when vm is NULL */
	DP_DEST_VM,     /* from a VM: known unicast, into vm's port */
	DP_DEST_UPLINK, /* from a VM: unicast to a MAC no VM on its VLAN has */
	DP_DEST_FLOOD,  /* from a VM: broadcast or multicast, to its VLAN's other VMs and the uplink */
};

struct dp_decision {
	enum dp_dest dest;
	enum dvmq_frame_verdict verdict; /* DVMQ_FRAME_OK unless the parser refused it */
	enum dvmq_dp_drop drop;          /* DVMQ_DP_DROP_NONE unless the switch refused it */
	bool tagged;                     /* an 802.1Q tag follows the source MAC */
	uint16_t vlan;                   /* the VLAN it is switched on */
	const void *vm;                  /* DP_DEST_QUEUE (NULL: default), DP_DEST_VM */
	struct dvmq_frame f;             /* the parse, when verdict is OK */
};

/* The caller's VM table: the VM with (mac, vlan), or NULL. */
typedef const void *(*dp_lookup_fn)(void *ctx, const uint8_t *mac, uint16_t vlan);

static inline bool dp_off_pending(const struct dvmq_offload *off)
{
	return off && offload_pending(off);
}

/* Parses a frame with its offloads (off may be NULL). A GSO super-frame is measured by its
 * segments (headers + gso_size) against the MTU, not by its own length; no frame may exceed
 * DVMQ_DP_FRAME_MAX. Offloads must be resolvable (offload.c could segment and checksum the
 * frame) and a partial checksum must lie past the IP header (the L4 header where the parser
 * found one): else *drop = bad-offload. */
static inline enum dvmq_frame_verdict dp_parse(const uint8_t *data, uint32_t len, const struct dvmq_offload *off,
					       uint32_t mtu, struct dvmq_frame *f, enum dvmq_dp_drop *drop)
{
	*drop = DVMQ_DP_DROP_NONE;
	if (len > DVMQ_DP_FRAME_MAX)
		return DVMQ_FRAME_OVER_MTU;
	bool gso = off && (off->gso_type & (uint8_t)~DVMQ_GSO_ECN) != DVMQ_GSO_NONE;
	enum dvmq_frame_verdict v = dvmq_frame_parse(data, len, gso ? DVMQ_DP_FRAME_MAX : mtu, f);
	if (v != DVMQ_FRAME_OK || !dp_off_pending(off))
		return v;
	struct dvmq_pkt p = { (uint8_t *)(uintptr_t)data, len, 0 };
	if (offload_segments(&p, off) == 0) {
		*drop = DVMQ_DP_DROP_BAD_OFFLOAD;
		return DVMQ_FRAME_OK;
	}
	/* the checksum is written where the frame says: never into the headers the switch checked
	 * (a source MAC rewritten after the spoof check) nor the IP header */
	uint32_t l4 = f->l4_off ? f->l4_off : f->l3_off + 20u;
	if ((off->flags & DVMQ_OFF_CSUM_PARTIAL) &&
	    (off->csum_start < l4 || (uint32_t)off->csum_start + off->csum_offset + 2u > len)) {
		*drop = DVMQ_DP_DROP_BAD_OFFLOAD;
		return DVMQ_FRAME_OK;
	}
	if (gso) {
		uint32_t seg = offload_segment_max(&p, off);
		if (seg > len)
			seg = len;
		if (seg - f->l3_off > mtu)
			return DVMQ_FRAME_OVER_MTU;
	}
	return DVMQ_FRAME_OK;
}

static inline bool dp_frame_tagged(const uint8_t *data, uint32_t len)
{
	return len >= DVMQ_ETH_HLEN + DVMQ_VLAN_HLEN && data[12] == 0x81 && data[13] == 0x00;
}

/* What both directions check first: the parser (with the offloads) and a group source MAC.
 * Returns whether the frame passed; d->dest is DROP until the caller picks a destination. */
static inline bool dp_decide_common(struct dp_decision *d, const uint8_t *data, uint32_t len,
				    const struct dvmq_offload *off, uint32_t mtu)
{
	d->dest = DP_DEST_DROP;
	d->vm = NULL;
	d->verdict = dp_parse(data, len, off, mtu, &d->f, &d->drop);
	if (d->verdict != DVMQ_FRAME_OK || d->drop != DVMQ_DP_DROP_NONE)
		return false;
	d->tagged = dp_frame_tagged(data, len);
	d->vlan = d->f.vlan;
	if (dvmq_mac_is_multicast(d->f.src)) {
		d->drop = DVMQ_DP_DROP_MULTICAST_SOURCE;
		return false;
	}
	return true;
}

/* From the uplink: the parser, the source, then the NIC's filter (dst MAC, VLAN) -> queue. */
static inline void dp_decide_uplink(struct dp_decision *d, const uint8_t *data, uint32_t len,
				    const struct dvmq_offload *off, uint32_t mtu, dp_lookup_fn lookup, void *ctx)
{
	if (!dp_decide_common(d, data, len, off, mtu))
		return;
	d->dest = DP_DEST_QUEUE;
	if (!dvmq_mac_is_multicast(d->f.dst))
		d->vm = lookup(ctx, d->f.dst, d->vlan);
}

/* From VM `self` (adapter MAC vm_mac, access VLAN vm_vlan): the parser, the source checks (in
 * this order: a group source, then any other MAC than the adapter's, then a tag of another
 * VLAN), then the destination on the adapter's VLAN. */
static inline void dp_decide_vm(struct dp_decision *d, const uint8_t *data, uint32_t len,
				const struct dvmq_offload *off, uint32_t mtu, const uint8_t vm_mac[6], uint16_t vm_vlan,
				const void *self, dp_lookup_fn lookup, void *ctx)
{
	if (!dp_decide_common(d, data, len, off, mtu))
		return;
	d->vlan = vm_vlan; /* an access port: its own VLAN whatever the tag (checked below) */
	if (memcmp(d->f.src, vm_mac, 6) != 0) {
		d->drop = DVMQ_DP_DROP_SPOOFED_MAC;
		return;
	}
	/* an access port: untagged, or tagged with priority only (VID 0) or its own VLAN */
	if (d->tagged && d->f.vlan != 0 && d->f.vlan != vm_vlan) {
		d->drop = DVMQ_DP_DROP_FOREIGN_VLAN;
		return;
	}
	if (dvmq_mac_is_multicast(d->f.dst)) {
		d->dest = DP_DEST_FLOOD;
		return;
	}
	d->vm = lookup(ctx, d->f.dst, vm_vlan);
	if (d->vm == self) {
		d->vm = NULL;
		d->drop = DVMQ_DP_DROP_TO_SELF;
		return;
	}
	d->dest = d->vm ? DP_DEST_VM : DP_DEST_UPLINK;
}

/* What a rewrite changes in a frame's offloads: the L3/L4 offsets move with the tag. */
static inline void dp_off_shift(struct dvmq_offload *o, int by)
{
	/* csum_start lies past the tag when it matters (dp_parse); hdr_len is a hint, kept sane */
	if (o->csum_start && (by > 0 || o->csum_start >= (uint16_t)-by))
		o->csum_start = (uint16_t)(o->csum_start + by);
	if (o->hdr_len)
		o->hdr_len = by > 0 || o->hdr_len >= (uint16_t)-by ? (uint16_t)(o->hdr_len + by) : 0;
}

/* The frame as the uplink must carry it: tagged with `vlan` (keeping a priority tag's PCP and
 * DEI), or as it is on VLAN 0. Returns 0 when the frame goes as it is (no copy), else the length
 * written into out (cap bytes; the caller gives len + 4), with *o (may be NULL) shifted. */
static inline uint32_t dp_to_uplink(const uint8_t *data, uint32_t len, bool tagged, uint16_t vlan, uint8_t *out,
				    uint32_t cap, struct dvmq_offload *o)
{
	if (vlan == 0 || (tagged && (((uint32_t)data[14] << 8 | data[15]) & 0x0fffu) == vlan))
		return 0;
	if (tagged) {
		if (len > cap)
			return 0;
		memcpy(out, data, len);
		out[14] = (uint8_t)((data[14] & 0xf0u) | (vlan >> 8));
		out[15] = (uint8_t)vlan;
		return len;
	}
	if (len + DVMQ_VLAN_HLEN > cap)
		return 0;
	memcpy(out, data, 12);
	out[12] = 0x81, out[13] = 0x00, out[14] = (uint8_t)(vlan >> 8), out[15] = (uint8_t)vlan;
	memcpy(out + 16, data + 12, len - 12);
	if (o)
		dp_off_shift(o, (int)DVMQ_VLAN_HLEN);
	return len + DVMQ_VLAN_HLEN;
}

/* The frame as a VM port (access) must carry it: without its tag. Returns 0 when it is untagged
 * (no copy), else the length written into out (cap bytes), with *o (may be NULL) shifted. */
static inline uint32_t dp_to_access(const uint8_t *data, uint32_t len, bool tagged, uint8_t *out, uint32_t cap,
				    struct dvmq_offload *o)
{
	if (!tagged || len - DVMQ_VLAN_HLEN > cap)
		return 0;
	memcpy(out, data, 12);
	memcpy(out + 12, data + 16, len - 16);
	if (o)
		dp_off_shift(o, -(int)DVMQ_VLAN_HLEN);
	return len - DVMQ_VLAN_HLEN;
}

#endif
