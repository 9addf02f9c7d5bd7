/* Offload resolution (see offload.h): GSO segmentation and checksum completion in software, for
 * frames that must leave through a port that cannot hand offloads to its kernel.
 * Checksums are summed over native-order 16-bit words and stored with memcpy: the one's
 * complement sum is byte-order independent, so no swap per word is needed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kport.h"
#include "offload.h"

#define OFF_ETH_IPV4 0x0800u
#define OFF_ETH_IPV6 0x86ddu
#define OFF_ETH_8021Q 0x8100u
#define OFF_ETH_8021AD 0x88a8u
#define PROTO_TCP 6u
#define PROTO_UDP 17u
#define TCP_FIN 0x01u
#define TCP_PSH 0x08u
#define TCP_CWR 0x80u

struct layout {
	uint32_t l3, l4, l4_hlen, payload; /* payload: L4 payload bytes (up to the IP length) */
	uint8_t proto;                      /* PROTO_TCP, PROTO_UDP, or 0: checksum by offsets */
	bool v6;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

uint64_t offload_sum(const uint8_t *buf, uint32_t len, uint64_t sum)
{
	uint32_t i = 0;
	for (; i + 4 <= len; i += 4) {
		uint32_t w;
		memcpy(&w, buf + i, 4);
		sum += w;
	}
	for (; i + 2 <= len; i += 2) {
		uint16_t w;
		memcpy(&w, buf + i, 2);
		sum += w;
	}
	if (i < len) {
		uint8_t last[2] = { buf[i], 0 };
		uint16_t w;
		memcpy(&w, last, 2);
		sum += w;
	}
	return sum;
}

uint16_t offload_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

/* Finds the headers the offload needs. csum_start, when given, wins over the IP header's idea of
 * where L4 starts (IPv6 extension headers). Returns false when the frame cannot carry it. */
static bool layout_of(const struct dvmq_pkt *p, const struct dvmq_offload *o, struct layout *L)
{
	const uint8_t *d = p->data;
	uint32_t len = p->len;
	memset(L, 0, sizeof(*L));
	if (len < 14)
		return false;
	uint32_t l3 = 14;
	uint16_t et = rd16(d + 12);
	for (int tags = 0; (et == OFF_ETH_8021Q || et == OFF_ETH_8021AD) && tags < 2; tags++) {
		if (len < l3 + 4)
			return false;
		et = rd16(d + l3 + 2);
		l3 += 4;
	}
	L->l3 = l3;
	if (et == OFF_ETH_IPV4) {
		if (len < l3 + 20 || (d[l3] >> 4) != 4 || (d[l3] & 15u) < 5)
			return false;
		L->l4 = l3 + (d[l3] & 15u) * 4u;
		L->proto = d[l3 + 9];
	} else if (et == OFF_ETH_IPV6) {
		if (len < l3 + 40 || (d[l3] >> 4) != 6)
			return false;
		L->v6 = true;
		L->l4 = l3 + 40;
		L->proto = d[l3 + 6];
	} else {
		L->proto = 0;
		L->l4 = o->csum_start;
		return o->gso_type == DVMQ_GSO_NONE;
	}
	if (o->csum_start > L->l4) {
		/* extension headers: the GSO type says what follows them */
		L->l4 = o->csum_start;
		uint8_t t = o->gso_type & (uint8_t)~DVMQ_GSO_ECN;
		L->proto = t == DVMQ_GSO_TCPV4 || t == DVMQ_GSO_TCPV6 ? PROTO_TCP
			   : t == DVMQ_GSO_UDP_L4			 ? PROTO_UDP
			   : o->csum_offset == 16			 ? PROTO_TCP
			   : o->csum_offset == 6			 ? PROTO_UDP
									 : 0;
	}
	/* the IP length, not the frame, says where L4 ends: a short frame may carry padding */
	uint32_t ip_end = L->v6 ? l3 + 40u + rd16(d + l3 + 4) : l3 + rd16(d + l3 + 2);
	if (ip_end < len && ip_end > L->l4)
		len = ip_end;
	if (L->l4 > len)
		return false;
	if (L->proto == PROTO_TCP) {
		if (len < L->l4 + 20 || (d[L->l4 + 12] >> 4) < 5)
			return false;
		L->l4_hlen = (uint32_t)(d[L->l4 + 12] >> 4) * 4u;
	} else if (L->proto == PROTO_UDP) {
		L->l4_hlen = 8;
	} else {
		L->proto = 0;
		return o->gso_type == DVMQ_GSO_NONE;
	}
	if (len < L->l4 + L->l4_hlen)
		return false;
	L->payload = len - L->l4 - L->l4_hlen;
	return true;
}

static bool gso_matches(const struct dvmq_offload *o, const struct layout *L)
{
	switch (o->gso_type & (uint8_t)~DVMQ_GSO_ECN) {
	case DVMQ_GSO_NONE:
		return o->gso_type == DVMQ_GSO_NONE; /* ECN alone: refused, as the kernel does */
	case DVMQ_GSO_TCPV4:
		return !L->v6 && L->proto == PROTO_TCP && o->gso_size > 0;
	case DVMQ_GSO_TCPV6:
		return L->v6 && L->proto == PROTO_TCP && o->gso_size > 0;
	case DVMQ_GSO_UDP_L4:
		return L->proto == PROTO_UDP && o->gso_size > 0;
	default:
		return false; /* UFO (fragments) and types this build does not know */
	}
}

unsigned offload_segments(const struct dvmq_pkt *p, const struct dvmq_offload *o)
{
	struct layout L;
	if (!layout_of(p, o, &L) || !gso_matches(o, &L))
		return 0;
	if (o->gso_type == DVMQ_GSO_NONE || L.payload <= o->gso_size)
		return 1;
	return (L.payload + o->gso_size - 1u) / o->gso_size;
}

uint32_t offload_segment_max(const struct dvmq_pkt *p, const struct dvmq_offload *o)
{
	struct layout L;
	if (o->gso_type == DVMQ_GSO_NONE || !layout_of(p, o, &L))
		return p->len;
	return L.l4 + L.l4_hlen + o->gso_size;
}

/* The L4 checksum over out[l4 .. l4 + l4_len) with its pseudo header, written in place. */
static void l4_checksum(uint8_t *out, const struct layout *L, uint32_t l4_len)
{
	uint8_t *l4 = out + L->l4;
	uint32_t field = L->proto == PROTO_TCP ? 16u : 6u;
	memset(l4 + field, 0, 2);
	uint64_t s = L->v6 ? offload_sum(out + L->l3 + 8, 32, 0) : offload_sum(out + L->l3 + 12, 8, 0);
	uint8_t ph[8];
	wr32(ph, l4_len);
	wr16(ph + 4, 0);
	wr16(ph + 6, L->proto);
	s = offload_sum(ph, 8, s);
	s = offload_sum(l4, l4_len, s);
	uint16_t c = (uint16_t)~offload_fold(s);
	if (c == 0 && L->proto == PROTO_UDP)
		c = 0xffff;
	memcpy(l4 + field, &c, 2);
}

static void ipv4_checksum(uint8_t *ip)
{
	uint32_t hlen = (ip[0] & 15u) * 4u;
	memset(ip + 10, 0, 2);
	uint16_t c = (uint16_t)~offload_fold(offload_sum(ip, hlen, 0));
	memcpy(ip + 10, &c, 2);
}

/* A partial checksum on a protocol we do not parse: the field holds the pseudo-header sum, so
 * the sum from csum_start to the end completes it (the virtio_net_hdr contract). */
static uint32_t generic_checksum(const struct dvmq_pkt *p, const struct dvmq_offload *o, uint8_t *out, uint32_t cap)
{
	uint32_t at = (uint32_t)o->csum_start + o->csum_offset;
	if (p->len > cap || o->csum_start >= p->len || at + 2 > p->len)
		return 0;
	memcpy(out, p->data, p->len);
	uint16_t c = (uint16_t)~offload_fold(offload_sum(out + o->csum_start, p->len - o->csum_start, 0));
	memcpy(out + at, &c, 2);
	return p->len;
}

uint32_t offload_segment(const struct dvmq_pkt *p, const struct dvmq_offload *o, unsigned k, uint8_t *out, uint32_t cap)
{
	struct layout L;
	if (!layout_of(p, o, &L) || !gso_matches(o, &L))
		return 0;
	if (o->gso_type == DVMQ_GSO_NONE) {
		if (k != 0)
			return 0;
		if (!(o->flags & DVMQ_OFF_CSUM_PARTIAL)) {
			if (p->len > cap)
				return 0;
			memcpy(out, p->data, p->len);
			return p->len;
		}
		if (L.proto == 0)
			return generic_checksum(p, o, out, cap);
		if (p->len > cap)
			return 0;
		memcpy(out, p->data, p->len);
		l4_checksum(out, &L, L.l4_hlen + L.payload);
		return p->len;
	}
	uint32_t mss = o->gso_size, hdr = L.l4 + L.l4_hlen;
	unsigned n = L.payload <= mss ? 1u : (L.payload + mss - 1u) / mss;
	if (k >= n)
		return 0;
	uint32_t at = k * mss, plen = L.payload - at < mss ? L.payload - at : mss;
	if (hdr + plen > cap)
		return 0;
	memcpy(out, p->data, hdr);
	memcpy(out + hdr, p->data + hdr + at, plen);
	uint32_t l4_len = L.l4_hlen + plen;
	uint8_t *ip = out + L.l3;
	if (L.v6) {
		wr16(ip + 4, (uint16_t)(L.l4 - L.l3 - 40u + l4_len));
	} else {
		wr16(ip + 2, (uint16_t)(L.l4 - L.l3 + l4_len));
		wr16(ip + 4, (uint16_t)(rd16(ip + 4) + k));
		ipv4_checksum(ip);
	}
	uint8_t *l4 = out + L.l4;
	if (L.proto == PROTO_TCP) {
		wr32(l4 + 4, rd32(l4 + 4) + at);
		if (k + 1 < n)
			l4[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (k > 0)
			l4[13] &= (uint8_t)~TCP_CWR;
	} else {
		wr16(l4 + 4, (uint16_t)l4_len);
	}
	l4_checksum(out, &L, l4_len);
	return hdr + plen;
}

void offload_from_vnet(const struct virtio_net_hdr *h, struct dvmq_offload *o)
{
	o->flags = h->flags;
	o->gso_type = h->gso_type;
	o->hdr_len = h->hdr_len;
	o->gso_size = h->gso_size;
	o->csum_start = h->csum_start;
	o->csum_offset = h->csum_offset;
}

void offload_to_vnet(const struct dvmq_offload *o, struct virtio_net_hdr *h)
{
	h->flags = o->flags;
	h->gso_type = o->gso_type;
	h->hdr_len = o->hdr_len;
	h->gso_size = o->gso_size;
	h->csum_start = o->csum_start;
	h->csum_offset = o->csum_offset;
}

int offload_rx_init(struct offload_rx *r, uint32_t mtu)
{
	memset(r, 0, sizeof(*r));
	r->frame_cap = KPORT_GSO_MAX + KPORT_FRAME_SLACK;
	r->seg_stride = mtu + KPORT_FRAME_SLACK;
	r->frame = malloc(r->frame_cap);
	r->segs = malloc((size_t)r->seg_stride * DVMQ_BURST);
	if (!r->frame || !r->segs) {
		offload_rx_free(r);
		return -ENOMEM;
	}
	return 0;
}

void offload_rx_free(struct offload_rx *r)
{
	free(r->frame);
	free(r->segs);
	r->frame = r->segs = NULL;
}

bool offload_rx_take(struct offload_rx *r, const struct dvmq_pkt *p, const struct dvmq_offload *o)
{
	r->done = r->total = 0;
	if (p->len > r->frame_cap)
		return false;
	unsigned n = offload_segments(p, o);
	if (n == 0 || offload_segment_max(p, o) > r->seg_stride)
		return false;
	memcpy(r->frame, p->data, p->len);
	r->pkt = (struct dvmq_pkt){ .data = r->frame, .len = p->len, .ts_ns = p->ts_ns };
	r->off = *o;
	r->total = n;
	return true;
}

unsigned offload_rx_emit(struct offload_rx *r, struct dvmq_pkt *pkts, unsigned n, uint64_t *bytes)
{
	unsigned k = 0;
	while (k < n && r->done < r->total && r->used < DVMQ_BURST) {
		uint8_t *dst = r->segs + (size_t)r->used * r->seg_stride;
		uint32_t len = offload_segment(&r->pkt, &r->off, r->done, dst, r->seg_stride);
		r->done++;
		if (len == 0)
			continue; /* cannot happen after take's checks; never hand out a broken frame */
		r->used++;
		pkts[k++] = (struct dvmq_pkt){ .data = dst, .len = len, .ts_ns = r->pkt.ts_ns };
		*bytes += len;
	}
	return k;
}

/* ---- coalescing ---- */

#define TCP_SYN_RST_URG_ECE 0x66u /* SYN 0x02, RST 0x04, URG 0x20, ECE 0x40 */
#define OFFLOAD_RUN_MAX 64u       /* frames merged into one at most (a 64 KiB frame holds 45 of 1448) */

/* What a frame is, for coalescing: a TCP segment whose checksums verify. */
struct seg {
	struct layout L;
	uint32_t seq, payload, end; /* end: offset of the end of the IP packet */
	uint8_t flags;
};

static bool seg_of(const struct dvmq_pkt *p, struct seg *g)
{
	static const struct dvmq_offload none = { 0, 0, 0, 0, 0, 0 };
	const uint8_t *d = p->data;
	if (!layout_of(p, &none, &g->L) || g->L.proto != PROTO_TCP)
		return false;
	const uint8_t *ip = d + g->L.l3;
	if (g->L.v6) {
		if (d[g->L.l3 + 6] != PROTO_TCP) /* extension headers: not coalesced */
			return false;
	} else if ((ip[0] & 15u) != 5 || (rd16(ip + 6) & 0x3fffu) != 0) {
		return false; /* options, or a fragment */
	}
	g->end = g->L.l4 + g->L.l4_hlen + g->L.payload;
	g->flags = d[g->L.l4 + 13];
	g->seq = rd32(d + g->L.l4 + 4);
	g->payload = g->L.payload;
	if ((g->flags & (TCP_SYN_RST_URG_ECE | TCP_FIN | TCP_CWR)) || !(g->flags & 0x10u) || g->payload == 0)
		return false;
	/* verify as the kernel's GRO does: a frame merged is a frame whose checksum is never checked again */
	if (!g->L.v6 && offload_fold(offload_sum(ip, 20, 0)) != 0xffffu)
		return false;
	uint32_t l4len = g->end - g->L.l4;
	uint8_t ph[8];
	wr32(ph, l4len);
	wr16(ph + 4, 0);
	wr16(ph + 6, PROTO_TCP);
	uint64_t sum = g->L.v6 ? offload_sum(ip + 8, 32, 0) : offload_sum(ip + 12, 8, 0);
	sum = offload_sum(ph, 8, sum);
	return offload_fold(offload_sum(d + g->L.l4, l4len, sum)) == 0xffffu;
}

/* Whether segment b directly follows segment a in one flow, with headers GRO would merge. */
static bool seg_follows(const struct dvmq_pkt *pa, const struct seg *a, const struct dvmq_pkt *pb, const struct seg *b)
{
	const uint8_t *x = pa->data, *y = pb->data;
	if (a->L.l3 != b->L.l3 || a->L.l4 != b->L.l4 || a->L.l4_hlen != b->L.l4_hlen || a->L.v6 != b->L.v6)
		return false;
	if (memcmp(x, y, a->L.l3) != 0) /* MACs, VLAN tag, ethertype */
		return false;
	const uint8_t *ia = x + a->L.l3, *ib = y + b->L.l3;
	if (a->L.v6) {
		/* version, class, flow label; next header and hop limit; addresses */
		if (memcmp(ia, ib, 4) != 0 || memcmp(ia + 6, ib + 6, 34) != 0)
			return false;
	} else if (ia[1] != ib[1] || ia[8] != ib[8] || memcmp(ia + 12, ib + 12, 8) != 0) {
		return false; /* TOS, TTL, addresses */
	}
	const uint8_t *ta = x + a->L.l4, *tb = y + b->L.l4;
	/* ports; ack; window may move on; options (timestamps) must be equal, as GRO asks */
	return memcmp(ta, tb, 4) == 0 && memcmp(ta + 8, tb + 8, 4) == 0 &&
	       memcmp(ta + 20, tb + 20, a->L.l4_hlen - 20) == 0 && b->seq == a->seq + a->payload;
}

unsigned offload_coalesce(const struct dvmq_pkt *pkts, const struct dvmq_offload *off, unsigned n, unsigned i,
			  uint8_t *buf, uint32_t cap, struct dvmq_pkt *out, struct dvmq_offload *o)
{
	struct seg first, prev, cur;
	uint32_t pl[OFFLOAD_RUN_MAX];
	if (i + 1 >= n || (off && offload_pending(&off[i])) || !seg_of(&pkts[i], &first) || (first.flags & TCP_PSH))
		return 0;
	uint32_t hdr = first.L.l4 + first.L.l4_hlen, mss = first.payload, total = mss;
	unsigned j = i + 1;
	prev = first;
	pl[0] = mss;
	while (j < n && j - i < OFFLOAD_RUN_MAX) {
		if ((off && offload_pending(&off[j])) || !seg_of(&pkts[j], &cur) || !seg_follows(&pkts[j - 1], &prev, &pkts[j], &cur))
			break;
		if (cur.payload > mss || hdr + total + cur.payload > cap || total + cur.payload + hdr - first.L.l3 > 65535u)
			break;
		total += cur.payload;
		pl[j - i] = cur.payload;
		j++;
		bool last = cur.payload < mss || (cur.flags & TCP_PSH);
		prev = cur;
		if (last)
			break;
	}
	if (j - i < 2)
		return 0;
	memcpy(buf, pkts[i].data, hdr);
	uint32_t at = hdr;
	for (unsigned k = i; k < j; k++) {
		memcpy(buf + at, pkts[k].data + hdr, pl[k - i]);
		at += pl[k - i];
	}
	uint8_t *ip = buf + first.L.l3, *th = buf + first.L.l4;
	uint32_t l4len = at - first.L.l4;
	if (first.L.v6) {
		wr16(ip + 4, (uint16_t)(at - first.L.l3 - 40u));
	} else {
		wr16(ip + 2, (uint16_t)(at - first.L.l3));
		ipv4_checksum(ip);
	}
	th[13] |= (uint8_t)(prev.flags & TCP_PSH);
	memcpy(th + 14, pkts[j - 1].data + first.L.l4 + 14, 2); /* the newest window */
	/* a partial checksum: the pseudo header's sum, the rest is the receiver's to add */
	uint8_t ph[8];
	wr32(ph, l4len);
	wr16(ph + 4, 0);
	wr16(ph + 6, PROTO_TCP);
	uint64_t sum = first.L.v6 ? offload_sum(ip + 8, 32, 0) : offload_sum(ip + 12, 8, 0);
	uint16_t c = offload_fold(offload_sum(ph, 8, sum));
	memcpy(th + 16, &c, 2);
	*out = (struct dvmq_pkt){ .data = buf, .len = at, .ts_ns = pkts[i].ts_ns };
	*o = (struct dvmq_offload){ .flags = DVMQ_OFF_CSUM_PARTIAL,
				    .gso_type = (uint8_t)(first.L.v6 ? DVMQ_GSO_TCPV6 : DVMQ_GSO_TCPV4),
				    .hdr_len = (uint16_t)hdr,
				    .gso_size = (uint16_t)mss,
				    .csum_start = (uint16_t)first.L.l4,
				    .csum_offset = 16 };
	return j - i;
}
