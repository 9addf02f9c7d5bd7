/* gen: the built-in traffic generator. Each VM gets an Ethernet/[802.1Q]/IPv4/UDP template with
 * its MAC and VLAN; each of its flows differs in source address and port (distinct 5-tuples);
 * each frame carries a dvmq_seq_tag after the UDP header so VM sinks can count loss and
 * reordering. Pacing is by credit: advance() adds rate x elapsed time, rx_burst spends it.
 * A frame differs from its VM's template only in the source address's middle bytes (flow /
 * 60000), the UDP source port and the tag: the IPv4 checksum is the template's plus that one
 * difference (RFC 1624), not a pass over the header per frame. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fault/fault.h"
#include "dvmq/port.h"

#define GEN_MAX_CREDIT_S 0.010
#define HDR_UNTAGGED (14u + 20u + 8u)

struct gen_vm {
	struct dvmq_gen_vm d;
	uint32_t frame_len, hdr_len, next_flow;
	uint32_t csum_base;        /* one's complement sum of the template's IPv4 header, checksum 0 */
	double rate, credit;
	uint8_t *tmpl;
	_Atomic uint64_t sent;
};

struct gen_port {
	struct dvmq_port port;
	uint32_t n_vms, cursor, n_flows;
	struct gen_vm *vm;
	uint64_t *seq;              /* per global flow: next sequence number */
	_Atomic uint64_t *flow_sent; /* per global flow, for readers on other threads */
	uint64_t last_ns;
	uint8_t *buf;               /* DVMQ_BURST frames */
	uint32_t buf_stride;
	_Atomic uint64_t rx_packets, rx_bytes;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The one's complement sum of a header's 16-bit words, folded, not inverted. */
static uint32_t ip_sum(const uint8_t *h, unsigned len)
{
	uint32_t s = 0;
	for (unsigned i = 0; i < len; i += 2)
		s += (uint32_t)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return s;
}

/* The template's checksum with the source address's bytes 1 and 2 (l3[13], l3[14]) set to hi:
 * they sit in the low byte of the word at 12 and the high byte of the word at 14. */
static uint16_t ip_checksum_for(uint32_t base, uint32_t hi)
{
	uint32_t s = base + ((hi >> 8) & 0xffu) + ((hi & 0xffu) << 8);
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)~s;
}

static int build_template(struct gen_vm *g, uint32_t index)
{
	uint32_t tag = g->d.vlan ? 4u : 0u;
	g->hdr_len = HDR_UNTAGGED + tag;
	g->frame_len = g->d.frame_bytes;
	if (g->frame_len < g->hdr_len + sizeof(struct dvmq_seq_tag))
		g->frame_len = g->hdr_len + (uint32_t)sizeof(struct dvmq_seq_tag);
	g->tmpl = fault_zalloc(1, g->frame_len);
	if (!g->tmpl)
		return -ENOMEM;
	uint8_t *p = g->tmpl;
	memcpy(p, g->d.mac, 6);
	const uint8_t peer[6] = { 0x02, 0x00, 0x5e, 0xff, 0x00, 0x01 }; /* the uplink's far side */
	memcpy(p + 6, peer, 6);
	uint8_t *l3 = p + 14 + tag;
	if (tag) {
		put16(p + 12, 0x8100);
		put16(p + 14, g->d.vlan);
	}
	put16(l3 - 2, 0x0800);
	l3[0] = 0x45;
	put16(l3 + 2, (uint16_t)(g->frame_len - 14 - tag));
	l3[8] = 64;
	l3[9] = 17;
	l3[12] = 10, l3[13] = 255, l3[14] = 0, l3[15] = 0;     /* source varies per flow */
	l3[16] = 10, l3[17] = (uint8_t)(index >> 8), l3[18] = (uint8_t)index, l3[19] = 2;
	uint8_t *udp = l3 + 20;
	put16(udp + 2, 4789);
	put16(udp + 4, (uint16_t)(g->frame_len - 14 - tag - 20));
	uint8_t h[20]; /* the header as every frame has it but for the per-flow bytes, then 0 */
	memcpy(h, l3, sizeof(h));
	h[13] = h[14] = 0;
	g->csum_base = ip_sum(h, sizeof(h));
	return 0;
}

static int gen_rx(struct dvmq_port *port, struct dvmq_pkt *pkts, unsigned n)
{
	struct gen_port *gp = (struct gen_port *)port;
	if (n > DVMQ_BURST)
		n = DVMQ_BURST;
	unsigned k = 0, idle = 0;
	uint64_t bytes = 0;
	while (k < n && idle < gp->n_vms) {
		struct gen_vm *g = &gp->vm[gp->cursor];
		gp->cursor = gp->cursor + 1 == gp->n_vms ? 0 : gp->cursor + 1;
		if (g->credit < 1.0) {
			idle++;
			continue;
		}
		idle = 0;
		g->credit -= 1.0;
		uint8_t *f = gp->buf + (size_t)k * gp->buf_stride;
		memcpy(f, g->tmpl, g->frame_len);
		uint32_t fl = g->next_flow;
		g->next_flow = fl + 1 == g->d.flows ? 0 : fl + 1;
		uint32_t gid = g->d.flow_base + fl;
		uint8_t *l3 = f + g->hdr_len - 28;
		uint32_t hi = fl / 60000u;
		l3[13] = (uint8_t)(hi >> 8), l3[14] = (uint8_t)hi;
		put16(l3 + 10, ip_checksum_for(g->csum_base, hi));
		put16(l3 + 20, (uint16_t)(1024u + fl % 60000u));
		struct dvmq_seq_tag t = { DVMQ_SEQ_MAGIC, gid, gp->seq[gid]++ };
		memcpy(f + g->hdr_len, &t, sizeof(t));
		atomic_store_explicit(&gp->flow_sent[gid], gp->seq[gid], memory_order_relaxed);
		atomic_store_explicit(&g->sent, atomic_load_explicit(&g->sent, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		pkts[k].data = f;
		pkts[k].len = g->frame_len;
		pkts[k].ts_ns = 0;
		bytes += g->frame_len;
		k++;
	}
	atomic_store_explicit(&gp->rx_packets, atomic_load_explicit(&gp->rx_packets, memory_order_relaxed) + k,
			      memory_order_relaxed);
	atomic_store_explicit(&gp->rx_bytes, atomic_load_explicit(&gp->rx_bytes, memory_order_relaxed) + bytes,
			      memory_order_relaxed);
	return (int)k;
}

void dvmq_port_gen_set_rate(struct dvmq_port *port, uint32_t v, double pps)
{
	struct gen_port *gp = (struct gen_port *)port;
	if (v < gp->n_vms)
		gp->vm[v].rate = pps > 0.0 ? pps : 0.0;
}

void dvmq_port_gen_advance(struct dvmq_port *port, uint64_t now_ns)
{
	struct gen_port *gp = (struct gen_port *)port;
	if (gp->last_ns == 0 || now_ns <= gp->last_ns) {
		gp->last_ns = now_ns;
		return;
	}
	double dt = (double)(now_ns - gp->last_ns) * 1e-9;
	gp->last_ns = now_ns;
	for (uint32_t v = 0; v < gp->n_vms; v++) {
		struct gen_vm *g = &gp->vm[v];
		double cap = g->rate * GEN_MAX_CREDIT_S + 1.0;
		g->credit += g->rate * dt;
		if (g->credit > cap)
			g->credit = cap;
	}
}

uint64_t dvmq_port_gen_sent(const struct dvmq_port *port, uint32_t v)
{
	const struct gen_port *gp = (const struct gen_port *)port;
	return v < gp->n_vms ? atomic_load_explicit(&gp->vm[v].sent, memory_order_relaxed) : 0;
}

uint64_t dvmq_port_gen_flow_sent(const struct dvmq_port *port, uint32_t flow)
{
	const struct gen_port *gp = (const struct gen_port *)port;
	return flow < gp->n_flows ? atomic_load_explicit(&gp->flow_sent[flow], memory_order_relaxed) : 0;
}

static void gen_stats(const struct dvmq_port *port, struct dvmq_port_stats *o)
{
	const struct gen_port *gp = (const struct gen_port *)port;
	o->rx_packets = atomic_load_explicit(&gp->rx_packets, memory_order_relaxed);
	o->rx_bytes = atomic_load_explicit(&gp->rx_bytes, memory_order_relaxed);
}

static void gen_destroy(struct dvmq_port *port)
{
	struct gen_port *gp = (struct gen_port *)port;
	for (uint32_t v = 0; gp->vm && v < gp->n_vms; v++)
		free(gp->vm[v].tmpl);
	free(gp->vm);
	free(gp->seq);
	free(gp->flow_sent);
	free(gp->buf);
	free(gp);
}

static const struct dvmq_port_ops gen_ops = {
	.kind = "gen",
	.rx_burst = gen_rx,
	.stats = gen_stats,
	.destroy = gen_destroy,
};

int dvmq_port_gen_open(const char *name, const struct dvmq_gen_vm *vms, uint32_t n, struct dvmq_port **out)
{
	if (n == 0)
		return -EINVAL;
	uint32_t n_flows = 0, max_len = 64;
	for (uint32_t v = 0; v < n; v++) {
		if (vms[v].flows == 0 || vms[v].vlan > 4094 || vms[v].frame_bytes > 65535 || (vms[v].mac[0] & 1))
			return -EINVAL;
		if (vms[v].flow_base + vms[v].flows > n_flows)
			n_flows = vms[v].flow_base + vms[v].flows;
		if (vms[v].frame_bytes > max_len)
			max_len = vms[v].frame_bytes;
	}
	struct gen_port *gp = fault_zalloc(1, sizeof(*gp));
	if (!gp)
		return -ENOMEM;
	gp->port.ops = &gen_ops;
	snprintf(gp->port.name, sizeof(gp->port.name), "%s", name);
	gp->n_vms = n;
	gp->n_flows = n_flows;
	gp->buf_stride = (max_len + 63u) & ~63u;
	gp->vm = fault_zalloc(n, sizeof(*gp->vm));
	gp->seq = fault_zalloc(n_flows, sizeof(*gp->seq));
	gp->flow_sent = fault_zalloc(n_flows, sizeof(*gp->flow_sent));
	gp->buf = fault_zalloc(1, (size_t)gp->buf_stride * DVMQ_BURST);
	if (!gp->vm || !gp->seq || !gp->flow_sent || !gp->buf)
		goto err;
	for (uint32_t v = 0; v < n; v++) {
		gp->vm[v].d = vms[v];
		if (build_template(&gp->vm[v], v))
			goto err;
	}
	*out = &gp->port;
	return 0;
err:
	gen_destroy(&gp->port);
	return -ENOMEM;
}
