/* Ports: where frames enter and leave the data plane (DESIGN section 5). One small vtable;
 * each backend has its own open function (dvmq_port_gen_open, dvmq_port_pcap_open, ...).
 *
 * Frames move as dvmq_pkt views: rx_burst fills pkts with pointers into the port's own buffers,
 * valid until the next rx_burst on that port; tx_burst reads the frames before returning and
 * keeps no pointer. rx_burst is called by one thread at a time; tx_burst may be called by several
 * threads at once (a VM port receives from its VMQ's worker and from the default queue's). */
#ifndef DVMQ_PORT_H
#define DVMQ_PORT_H

#include <stddef.h>
#include <stdint.h>

#define DVMQ_BURST 32u

struct dvmq_pkt {
	uint8_t *data;
	uint32_t len;
	uint64_t ts_ns;  /* arrival at its queue (set by the data plane) */
};

struct dvmq_port_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_flooded;   /* of tx_packets, copies flooded to this port */
	uint64_t seq_frames;   /* frames carrying a dvmq sequence tag (sink ports) */
	uint64_t reordered;    /* arrived after a later frame of the same flow */
	uint64_t gaps;         /* frames skipped in a flow's sequence (lost or dropped upstream) */
};

struct dvmq_port;

struct dvmq_port_ops {
	const char *kind;
	/* Returns frames produced (0..n), 0 when none now, or -ENODATA at the end of the input. */
	int (*rx_burst)(struct dvmq_port *p, struct dvmq_pkt *pkts, unsigned n);
	/* Takes n frames; returns how many it accepted (ports here accept all). flooded: copies
	 * the switch flooded rather than unicast. */
	unsigned (*tx_burst)(struct dvmq_port *p, const struct dvmq_pkt *pkts, unsigned n, int flooded);
	void (*stats)(const struct dvmq_port *p, struct dvmq_port_stats *out);
	void (*destroy)(struct dvmq_port *p);
};

struct dvmq_port {
	const struct dvmq_port_ops *ops;
	char name[64];
};

static inline int dvmq_port_rx_burst(struct dvmq_port *p, struct dvmq_pkt *pkts, unsigned n)
{
	return p->ops->rx_burst ? p->ops->rx_burst(p, pkts, n) : -95 /* -EOPNOTSUPP */;
}

static inline unsigned dvmq_port_tx_burst(struct dvmq_port *p, const struct dvmq_pkt *pkts, unsigned n,
					  int flooded)
{
	return p->ops->tx_burst ? p->ops->tx_burst(p, pkts, n, flooded) : 0;
}

void dvmq_port_stats(const struct dvmq_port *p, struct dvmq_port_stats *out);
/* NULL is a no-op. */
void dvmq_port_destroy(struct dvmq_port *p);

#endif

/* ---- backends ---- */

/* Sequence tag carried by generated frames in the UDP payload. */
#define DVMQ_SEQ_MAGIC 0x51564d44u /* "DMVQ" little-endian */
struct dvmq_seq_tag {
	uint32_t magic;
	uint32_t flow;    /* global flow id */
	uint64_t seq;     /* 0, 1, 2, ... per flow */
};

/* One VM's traffic for the generator. */
struct dvmq_gen_vm {
	uint8_t mac[6];
	uint16_t vlan;
	uint32_t frame_bytes;  /* 64.. (the tag needs 62) */
	uint32_t flows;        /* >= 1 distinct 5-tuples */
	uint32_t flow_base;    /* global id of its first flow */
};

/* gen: builds real frames for n VMs (copied), paced by dvmq_port_gen_advance. rx_burst returns
 * the frames that are due, round-robin over VMs and their flows. Returns 0, -EINVAL, -ENOMEM. */
int dvmq_port_gen_open(const char *name, const struct dvmq_gen_vm *vms, uint32_t n, struct dvmq_port **out);
/* Sets VM v's rate (packets/s; 0 stops it). Uplink thread only. */
void dvmq_port_gen_set_rate(struct dvmq_port *p, uint32_t v, double pps);
/* Makes frames due up to now_ns (credit is capped at 10 ms of traffic per VM). Uplink thread. */
void dvmq_port_gen_advance(struct dvmq_port *p, uint64_t now_ns);
/* Frames emitted so far for VM v (readable from any thread). */
uint64_t dvmq_port_gen_sent(const struct dvmq_port *p, uint32_t v);
/* Frames emitted so far for one global flow. */
uint64_t dvmq_port_gen_flow_sent(const struct dvmq_port *p, uint32_t flow);

/* sink: a VM port that verifies the sequence tags of flows [flow_base, flow_base + n_flows) and
 * counts reordering and gaps; frames may also be copied to `mirror` (e.g. a pcap writer, which
 * the sink then owns). Returns 0, -ENOMEM. */
int dvmq_port_sink_open(const char *name, uint32_t flow_base, uint32_t n_flows, uint32_t mtu,
			struct dvmq_port *mirror, struct dvmq_port **out);
/* What a sink saw of one flow (its global id). A flow is complete over the sink's lifetime when
 * received == last_seq - first_seq + 1 and reordered == 0. */
struct dvmq_sink_flow {
	uint64_t received;             /* frames of the flow received */
	uint64_t reordered;            /* of them, behind a later frame of the flow */
	uint64_t first_seq, last_seq;  /* first received, highest received; UINT64_MAX: none yet */
};
/* Returns 0, or -ENOENT (not one of its flows; *out says nothing received). */
int dvmq_port_sink_flow(const struct dvmq_port *p, uint32_t flow, struct dvmq_sink_flow *out);

/* pcap reader: rx_burst replays the capture's Ethernet frames (-ENODATA at the end).
 * Returns 0, -ENOENT/-EINVAL (cannot open, not Ethernet; err says why), -ENOMEM. */
int dvmq_port_pcap_open_read(const char *path, struct dvmq_port **out, char *err, size_t err_len);
/* pcap writer: tx_burst appends frames to the file (flushed on destroy). */
int dvmq_port_pcap_open_write(const char *path, struct dvmq_port **out, char *err, size_t err_len);
