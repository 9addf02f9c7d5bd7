/* sink: a VM's port. It counts what the VM receives and checks the generator's sequence tags:
 * per flow, a frame older than the newest seen is reordered, a jump forward is a gap (frames
 * lost or dropped upstream; the data plane counts its drops, so gaps - drops = unexplained).
 * A VM's flows are served by one worker at a time (the data plane's handoffs and rebinds
 * guarantee it), so each flow's state has one writer at a time, handed over with release/acquire
 * by the data plane: plain loads and stores suffice, atomic only so that readers on other threads
 * see whole values. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/frame.h"
#include "../fault/fault.h"
#include "dvmq/port.h"

struct sink_flow {
	_Atomic uint64_t next;     /* next sequence number expected: the highest seen + 1 */
	_Atomic uint64_t received, reordered;
	_Atomic uint64_t first;    /* sequence number of the first frame received, + 1 (0: none) */
};

struct sink_port {
	struct dvmq_port port;
	uint32_t flow_base, n_flows, mtu;
	struct sink_flow *flows;
	struct dvmq_port *mirror;
	_Atomic uint64_t tx_packets, tx_bytes, tx_flooded, seq_frames, reordered, gaps;
};

struct seq_tally {
	uint64_t seq_frames, reordered, gaps;
};

/* Where the generator's tag sits: straight after an untagged IPv4 header without options and
 * the UDP header (what every VM port receives from gen: the data plane strips the VLAN tag),
 * else wherever the parser finds the UDP payload. Returns the offset, or 0 for none. */
static uint32_t tag_offset(const struct sink_port *s, const struct dvmq_pkt *p)
{
	const uint8_t *d = p->data;
	const uint32_t fixed = DVMQ_ETH_HLEN + 20u + 8u;
	if (p->len >= fixed + sizeof(struct dvmq_seq_tag) && d[12] == 0x08 && d[13] == 0x00 && d[14] == 0x45 &&
	    d[23] == 17 && (d[20] & 0x3fu) == 0 && d[21] == 0)
		return fixed;
	struct dvmq_frame f;
	if (dvmq_frame_parse(d, p->len, s->mtu, &f) != DVMQ_FRAME_OK || f.l4_proto != 17 ||
	    p->len < (uint32_t)f.l4_off + 8u + sizeof(struct dvmq_seq_tag))
		return 0;
	return f.l4_off + 8u;
}

static void check_seq(struct sink_port *s, const struct dvmq_pkt *p, struct seq_tally *t)
{
	uint32_t off = tag_offset(s, p);
	if (!off)
		return;
	struct dvmq_seq_tag tag;
	memcpy(&tag, p->data + off, sizeof(tag));
	if (tag.magic != DVMQ_SEQ_MAGIC || tag.flow < s->flow_base || tag.flow - s->flow_base >= s->n_flows)
		return;
	struct sink_flow *fl = &s->flows[tag.flow - s->flow_base];
	t->seq_frames++;
	/* one writer per flow at a time: plain load/store, no locked instruction per frame */
	atomic_store_explicit(&fl->received, atomic_load_explicit(&fl->received, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	if (atomic_load_explicit(&fl->first, memory_order_relaxed) == 0)
		atomic_store_explicit(&fl->first, tag.seq + 1, memory_order_relaxed);
	uint64_t next = atomic_load_explicit(&fl->next, memory_order_relaxed);
	if (tag.seq < next) {
		t->reordered++;
		atomic_store_explicit(&fl->reordered,
				      atomic_load_explicit(&fl->reordered, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		return;
	}
	t->gaps += tag.seq - next;
	atomic_store_explicit(&fl->next, tag.seq + 1, memory_order_relaxed);
}

static unsigned sink_tx(struct dvmq_port *port, const struct dvmq_pkt *pkts, unsigned n, int flooded)
{
	struct sink_port *s = (struct sink_port *)port;
	struct seq_tally t = { 0, 0, 0 };
	uint64_t bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		bytes += pkts[i].len;
		check_seq(s, &pkts[i], &t);
	}
	atomic_fetch_add_explicit(&s->tx_packets, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->tx_bytes, bytes, memory_order_relaxed);
	if (t.seq_frames)
		atomic_fetch_add_explicit(&s->seq_frames, t.seq_frames, memory_order_relaxed);
	if (t.reordered)
		atomic_fetch_add_explicit(&s->reordered, t.reordered, memory_order_relaxed);
	if (t.gaps)
		atomic_fetch_add_explicit(&s->gaps, t.gaps, memory_order_relaxed);
	if (flooded)
		atomic_fetch_add_explicit(&s->tx_flooded, n, memory_order_relaxed);
	if (s->mirror)
		dvmq_port_tx_burst(s->mirror, pkts, n, flooded);
	return n;
}

static void sink_stats(const struct dvmq_port *port, struct dvmq_port_stats *o)
{
	const struct sink_port *s = (const struct sink_port *)port;
	o->tx_packets = atomic_load_explicit(&s->tx_packets, memory_order_relaxed);
	o->tx_bytes = atomic_load_explicit(&s->tx_bytes, memory_order_relaxed);
	o->tx_flooded = atomic_load_explicit(&s->tx_flooded, memory_order_relaxed);
	o->seq_frames = atomic_load_explicit(&s->seq_frames, memory_order_relaxed);
	o->reordered = atomic_load_explicit(&s->reordered, memory_order_relaxed);
	o->gaps = atomic_load_explicit(&s->gaps, memory_order_relaxed);
}

int dvmq_port_sink_flow(const struct dvmq_port *port, uint32_t flow, struct dvmq_sink_flow *out)
{
	const struct sink_port *s = (const struct sink_port *)port;
	memset(out, 0, sizeof(*out));
	out->first_seq = out->last_seq = UINT64_MAX;
	if (flow < s->flow_base || flow - s->flow_base >= s->n_flows)
		return -ENOENT;
	const struct sink_flow *fl = &s->flows[flow - s->flow_base];
	out->received = atomic_load_explicit(&fl->received, memory_order_relaxed);
	out->reordered = atomic_load_explicit(&fl->reordered, memory_order_relaxed);
	uint64_t first = atomic_load_explicit(&fl->first, memory_order_relaxed);
	if (first) {
		out->first_seq = first - 1;
		out->last_seq = atomic_load_explicit(&fl->next, memory_order_relaxed) - 1;
	}
	return 0;
}

static void sink_destroy(struct dvmq_port *port)
{
	struct sink_port *s = (struct sink_port *)port;
	dvmq_port_destroy(s->mirror);
	free(s->flows);
	free(s);
}

static const struct dvmq_port_ops sink_ops = {
	.kind = "sink",
	.tx_burst = sink_tx,
	.stats = sink_stats,
	.destroy = sink_destroy,
};

int dvmq_port_sink_open(const char *name, uint32_t flow_base, uint32_t n_flows, uint32_t mtu,
			struct dvmq_port *mirror, struct dvmq_port **out)
{
	struct sink_port *s = fault_zalloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->flows = fault_zalloc(n_flows ? n_flows : 1, sizeof(*s->flows));
	if (!s->flows) {
		free(s);
		return -ENOMEM;
	}
	s->port.ops = &sink_ops;
	snprintf(s->port.name, sizeof(s->port.name), "%s", name);
	s->flow_base = flow_base;
	s->n_flows = n_flows;
	s->mtu = mtu;
	s->mirror = mirror;
	*out = &s->port;
	return 0;
}
