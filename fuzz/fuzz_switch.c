/* libFuzzer target: the switch decision (src/dp/decide.h) on one frame from the uplink or from a
 * VM, with or without offloads, and the rewrites it implies (the VLAN tag put on for the uplink,
 * taken off for a VM), each on a buffer of exactly its size so ASan sees any read or write past
 * it. Input: byte 0 flags (bit 0: from a VM; bit 1: offloads follow; bit 2: the VM's MAC is
 * the frame's source, so the spoof check passes), bytes 1-2 the VM's VLAN, bytes 3-12 struct
 * dvmq_offload (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, little-endian),
 * the rest the frame. The verdict must obey the rules of include/dvmq/dp.h (dvmq_dp_vm_send):
 * a forwarded frame was accepted by the parser, its offloads resolve, its source is the VM's
 * unicast MAC, it carries no other VLAN's tag, and its destination is the one the table says.
 * `make fuzz-switch` runs it; `fuzz-switch-replay` (in `make test`) replays fuzz/corpus-switch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/dp/decide.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 13u
#define MTU 1500u

/* The VM table: three VMs, two on the sender's VLAN (one of them the sender), one on VLAN 7. */
struct vm {
	uint8_t mac[6];
	uint16_t vlan;
};
static struct vm table[3];

static const void *lookup(void *ctx, const uint8_t *mac, uint16_t vlan)
{
	(void)ctx;
	for (unsigned i = 0; i < 3; i++)
		if (memcmp(table[i].mac, mac, 6) == 0 && table[i].vlan == vlan)
			return &table[i];
	return NULL;
}

static void *dup(const uint8_t *p, size_t n)
{
	void *c = malloc(n ? n : 1);
	if (c)
		memcpy(c, p, n);
	return c;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Every segment the offloads stand for, each into a buffer of exactly the size the resolver
 * says is the largest, its L3 part (from l3_off) no longer than the MTU allows. */
static void resolve_all(const uint8_t *frame, uint32_t len, const struct dvmq_offload *o, uint32_t l3_off)
{
	struct dvmq_pkt p = { (uint8_t *)(uintptr_t)frame, len, 0 };
	unsigned n = offload_segments(&p, o);
	if (n == 0)
		abort(); /* the decision let a frame through that cannot be resolved */
	uint32_t max = offload_segment_max(&p, o);
	uint8_t *seg = malloc(max ? max : 1);
	if (!seg)
		return;
	for (unsigned k = 0; k < n && k < 64; k++) {
		uint32_t sl = offload_segment(&p, o, k, seg, max);
		if (sl == 0 || sl > max || sl < l3_off || sl - l3_off > MTU)
			abort();
	}
	free(seg);
}

static void from_vm(const uint8_t *frame, uint32_t len, const struct dvmq_offload *off, bool own_src,
		    uint16_t vlan)
{
	memcpy(table[0].mac, (const uint8_t[]){ 2, 0, 0, 0, 0, 1 }, 6);
	if (own_src && len >= 12 && !dvmq_mac_is_multicast(frame + 6))
		memcpy(table[0].mac, frame + 6, 6);
	table[0].vlan = vlan;
	memcpy(table[1].mac, (const uint8_t[]){ 2, 0, 0, 0, 0, 2 }, 6);
	table[1].vlan = vlan;
	memcpy(table[2].mac, (const uint8_t[]){ 2, 0, 0, 0, 0, 3 }, 6);
	table[2].vlan = 7;
	struct dp_decision d;
	dp_decide_vm(&d, frame, len, off, MTU, table[0].mac, vlan, &table[0], lookup, NULL);
	if ((unsigned)d.dest > DP_DEST_FLOOD || (unsigned)d.verdict >= DVMQ_FRAME_VERDICT_COUNT ||
	    (unsigned)d.drop >= DVMQ_DP_DROP_COUNT || d.dest == DP_DEST_QUEUE)
		abort();
	if ((d.dest == DP_DEST_DROP) != (d.verdict != DVMQ_FRAME_OK || d.drop != DVMQ_DP_DROP_NONE))
		abort();
	if (d.dest == DP_DEST_DROP)
		return;
	/* the rules a forwarded frame obeys */
	if (memcmp(frame + 6, table[0].mac, 6) != 0 || dvmq_mac_is_multicast(frame + 6))
		abort();
	if (d.tagged && d.f.vlan != 0 && d.f.vlan != vlan)
		abort();
	if (d.vlan != vlan)
		abort();
	bool group = dvmq_mac_is_multicast(frame);
	const struct vm *to = lookup(NULL, frame, vlan);
	if (group != (d.dest == DP_DEST_FLOOD) || (d.dest == DP_DEST_VM) != (!group && to != NULL) ||
	    (d.dest == DP_DEST_VM && (d.vm != to || to == &table[0])))
		abort();
	if (to == &table[0] && !group)
		abort(); /* to itself: dropped, never forwarded */
	if (off)
		resolve_all(frame, len, off, d.f.l3_off);
	else if (len - d.f.l3_off > MTU)
		abort();
	/* the uplink's copy: tagged with the VLAN, the rest as it was; it parses as the same frame */
	uint8_t *up = malloc(len + DVMQ_VLAN_HLEN);
	struct dvmq_offload uo = off ? *off : (struct dvmq_offload){ 0, 0, 0, 0, 0, 0 };
	uint32_t ul = up ? dp_to_uplink(frame, len, d.tagged, vlan, up, len + DVMQ_VLAN_HLEN, off ? &uo : NULL) : 0;
	if (ul) {
		uint8_t *exact = dup(up, ul);
		struct dvmq_frame g;
		enum dvmq_frame_verdict v = exact ? dvmq_frame_parse(exact, ul, off ? DVMQ_DP_FRAME_MAX : MTU, &g)
						  : DVMQ_FRAME_OK;
		if (exact && (v != DVMQ_FRAME_OK || g.vlan != vlan || memcmp(exact, frame, 12) != 0 ||
			      ul != len + (d.tagged ? 0u : DVMQ_VLAN_HLEN)))
			abort();
		if (exact && off)
			resolve_all(exact, ul, &uo, g.l3_off); /* the offsets moved with the tag */
		free(exact);
	} else if (vlan != 0 && !(d.tagged && d.f.vlan == vlan)) {
		abort(); /* it had to be rewritten */
	}
	free(up);
	/* a VM's copy: untagged */
	if (d.tagged) {
		uint8_t *acc = malloc(len);
		struct dvmq_offload ao = uo = off ? *off : (struct dvmq_offload){ 0, 0, 0, 0, 0, 0 };
		uint32_t al = acc ? dp_to_access(frame, len, true, acc, len, off ? &ao : NULL) : 0;
		if (acc && al != len - DVMQ_VLAN_HLEN)
			abort();
		if (al) {
			uint8_t *exact = dup(acc, al);
			struct dvmq_frame g;
			if (exact && (dvmq_frame_parse(exact, al, off ? DVMQ_DP_FRAME_MAX : MTU, &g) != DVMQ_FRAME_OK ||
				      g.vlan != 0))
				abort();
			if (exact && off)
				resolve_all(exact, al, &ao, g.l3_off);
			free(exact);
		}
		free(acc);
	}
}

static void from_uplink(const uint8_t *frame, uint32_t len, const struct dvmq_offload *off, uint16_t vlan)
{
	memcpy(table[0].mac, (const uint8_t[]){ 2, 0, 0, 0, 0, 1 }, 6);
	table[0].vlan = vlan;
	if (len >= 6 && !dvmq_mac_is_multicast(frame))
		memcpy(table[1].mac, frame, 6); /* the destination is a VM on `vlan` */
	table[1].vlan = vlan;
	struct dp_decision d;
	dp_decide_uplink(&d, frame, len, off, MTU, lookup, NULL);
	if ((d.dest != DP_DEST_DROP && d.dest != DP_DEST_QUEUE) || (unsigned)d.verdict >= DVMQ_FRAME_VERDICT_COUNT ||
	    (unsigned)d.drop >= DVMQ_DP_DROP_COUNT)
		abort();
	if ((d.dest == DP_DEST_DROP) != (d.verdict != DVMQ_FRAME_OK || d.drop != DVMQ_DP_DROP_NONE))
		abort();
	if (d.dest == DP_DEST_DROP)
		return;
	if (dvmq_mac_is_multicast(frame + 6) || d.vlan != d.f.vlan)
		abort();
	if (d.vm != (dvmq_mac_is_multicast(frame) ? NULL : lookup(NULL, frame, d.f.vlan)))
		abort();
	if (off)
		resolve_all(frame, len, off, d.f.l3_off);
	else if (len - d.f.l3_off > MTU)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR || size - HDR > DVMQ_DP_FRAME_MAX + 64)
		return 0;
	uint8_t fl = data[0];
	uint16_t vlan = le16(data + 1) % 4095u;
	struct dvmq_offload o = { data[3], data[4], le16(data + 5), le16(data + 7), le16(data + 9), le16(data + 11) };
	const struct dvmq_offload *off = (fl & 2) && offload_pending(&o) ? &o : NULL;
	uint32_t len = (uint32_t)(size - HDR);
	uint8_t *frame = dup(data + HDR, len); /* exactly its size */
	if (!frame)
		return 0;
	if (fl & 1)
		from_vm(frame, len, off, fl & 4, vlan);
	else
		from_uplink(frame, len, off, vlan);
	free(frame);
	return 0;
}
