/* Ports: where frames enter and leave the data plane (DESIGN section 5). One small vtable;
 * each backend has its own open function (dvmq_port_gen_open, dvmq_port_pcap_open, ...).
 *
 * Frames move as dvmq_pkt views: rx_burst fills pkts with pointers into the port's own buffers,
 * valid until the next rx_burst on that port; tx_burst reads the frames before returning and
 * keeps no pointer. rx_burst is called by one thread at a time; tx_burst may be called by several
 * threads at once (a VM port receives from its VMQ's worker and from the default queue's).
 * Kernel ports (tap, afpacket, afxdp) also give a pollable descriptor (dvmq_port_fd): an rx
 * thread blocks in poll/epoll on it when rx_burst returns 0, instead of spinning. */
#ifndef DVMQ_PORT_H
#define DVMQ_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DVMQ_BURST 32u

struct dvmq_pkt {
	uint8_t *data;
	uint32_t len;
	uint64_t ts_ns;  /* arrival at its queue (set by the data plane) */
};

/* Offloads a frame may carry: the virtio_net_hdr's meaning (what TAP's IFF_VNET_HDR and
 * AF_PACKET's PACKET_VNET_HDR exchange with the kernel), in host byte order. All zero: a complete
 * frame, checksums filled in, no longer than the MTU allows. A GSO frame is a super-frame of up
 * to 64 KiB standing for the segments a receiver would see. They travel beside the frames, in
 * the _off variants of rx_burst and tx_burst; the plain variants move complete frames only (a
 * kernel port resolves offloads itself: segments, checksums). */
#define DVMQ_OFF_CSUM_PARTIAL 1u  /* the L4 checksum at csum_start + csum_offset is left to do */
#define DVMQ_OFF_CSUM_VALID 2u    /* the checksum was verified already (receive side) */
#define DVMQ_GSO_NONE 0u
#define DVMQ_GSO_TCPV4 1u
#define DVMQ_GSO_UDP 3u           /* UFO: not produced by current kernels, refused by resolution */
#define DVMQ_GSO_TCPV6 4u
#define DVMQ_GSO_UDP_L4 5u        /* USO */
#define DVMQ_GSO_ECN 0x80u        /* flag on gso_type: the sender set ECN CWR */
struct dvmq_offload {
	uint8_t flags;        /* DVMQ_OFF_* */
	uint8_t gso_type;     /* DVMQ_GSO_* */
	uint16_t hdr_len;     /* Ethernet to L4 header end, a hint */
	uint16_t gso_size;    /* L4 payload bytes per segment */
	uint16_t csum_start;  /* L4 header offset from the start of the frame */
	uint16_t csum_offset; /* checksum field offset from csum_start */
};

struct dvmq_port_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_flooded;   /* of tx_packets, copies flooded to this port */
	uint64_t seq_frames;   /* frames carrying a dvmq sequence tag (sink ports) */
	uint64_t reordered;    /* arrived after a later frame of the same flow */
	uint64_t gaps;         /* frames skipped in a flow's sequence (lost or dropped upstream) */
	/* kernel ports */
	uint64_t rx_dropped;   /* lost before dvmq read them: kernel ring full, or unresolvable */
	uint64_t tx_dropped;   /* not sent: link down, device gone, kernel queue full, unresolvable */
	uint64_t link_events;  /* times the port found its link down or its device gone */
};

struct dvmq_port;

struct dvmq_port_ops {
	const char *kind;
	/* Returns frames produced (0..n), 0 when none now, or -ENODATA at the end of the input.
	 * Kernel ports: -ENETDOWN once when they find the link down (call again: frames resume when
	 * it is up), -ENODEV when the device is gone (from then on: reopen the port). */
	int (*rx_burst)(struct dvmq_port *p, struct dvmq_pkt *pkts, unsigned n);
	/* Takes n frames; returns how many it accepted (ports here accept all). flooded: copies
	 * the switch flooded rather than unicast. Kernel ports return how many they handed to the
	 * kernel; the others are dropped and counted in tx_dropped (never retried, never blocking). */
	unsigned (*tx_burst)(struct dvmq_port *p, const struct dvmq_pkt *pkts, unsigned n, int flooded);
	void (*stats)(const struct dvmq_port *p, struct dvmq_port_stats *out);
	void (*destroy)(struct dvmq_port *p);
	/* A descriptor that polls readable (or in error) when rx_burst has something to report;
	 * absent for ports that never block (gen, pcap). */
	int (*fd)(const struct dvmq_port *p);
	/* rx_burst and tx_burst with offloads beside the frames (off[i] for pkts[i]): super-frames
	 * and partial checksums pass whole. Absent: the port moves complete frames only. */
	int (*rx_burst_off)(struct dvmq_port *p, struct dvmq_pkt *pkts, struct dvmq_offload *off, unsigned n);
	unsigned (*tx_burst_off)(struct dvmq_port *p, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
				 unsigned n, int flooded);
	/* A port of several queues (a multi-queue TAP, VMMQ): tx_burst_off into its queue txq (modulo
	 * its queues), off may be NULL. Absent: one queue. */
	unsigned (*tx_burst_q)(struct dvmq_port *p, uint32_t txq, const struct dvmq_pkt *pkts,
			       const struct dvmq_offload *off, unsigned n, int flooded);
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

/* rx_burst with each frame's offloads in off[0..n) (all zero from ports without offloads). */
static inline int dvmq_port_rx_burst_off(struct dvmq_port *p, struct dvmq_pkt *pkts, struct dvmq_offload *off,
					 unsigned n)
{
	if (p->ops->rx_burst_off)
		return p->ops->rx_burst_off(p, pkts, off, n);
	int k = dvmq_port_rx_burst(p, pkts, n);
	for (int i = 0; i < k; i++)
		off[i] = (struct dvmq_offload){ 0, 0, 0, 0, 0, 0 };
	return k;
}

/* tx_burst of frames with offloads (off may be NULL: none). A port without offloads receives the
 * frames as they are: only kernel ports resolve. */
static inline unsigned dvmq_port_tx_burst_off(struct dvmq_port *p, const struct dvmq_pkt *pkts,
					      const struct dvmq_offload *off, unsigned n, int flooded)
{
	if (p->ops->tx_burst_off)
		return p->ops->tx_burst_off(p, pkts, off, n, flooded);
	return dvmq_port_tx_burst(p, pkts, n, flooded);
}

/* The port's pollable descriptor (owned by the port), or -EOPNOTSUPP when it has none. */
static inline int dvmq_port_fd(const struct dvmq_port *p)
{
	return p->ops->fd ? p->ops->fd(p) : -95 /* -EOPNOTSUPP */;
}

void dvmq_port_stats(const struct dvmq_port *p, struct dvmq_port_stats *out);
/* NULL is a no-op. */
void dvmq_port_destroy(struct dvmq_port *p);

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

/* ---- kernel ports: tap, afpacket, afxdp (docs/ports.md) ----
 * Each open function returns 0, or a negative errno with a one-line reason in err:
 * -EPERM (the reason names the capability missing: CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF),
 * -ENODEV (no such interface), -EINVAL (bad name or option), -EOPNOTSUPP (the kernel or the
 * device lacks the feature), -ENOMEM, or the kernel's errno for anything else.
 * Thread safety of the ports: rx_burst from one thread at a time; tx_burst from any number of
 * threads at once; stats and fd from any thread; destroy when no other call is in flight. */

/* Receives one line (no newline) about a decision the caller may want to log. */
typedef void (*dvmq_port_log_fn)(void *ctx, const char *line);

/* afpacket receive: recvmmsg (the default: a copy and one system call per batch, frames leave
 * at once) or a TPACKET_V3 ring (no copy, no call while busy, but a block waits up to 1 ms for
 * more frames: a lone frame is held that long, and TCP's ACK clock with it). The numbers that
 * chose the default are in docs/ports.md. */
#define DVMQ_AFPACKET_RX_COPY 0
#define DVMQ_AFPACKET_RX_RING 1

/* Options of the kernel ports; a zeroed struct (or NULL) means every default. */
struct dvmq_port_kopts {
	uint32_t mtu;          /* largest L3 payload (0: 1500): sizes buffers; a frame beyond them
	                        * is dropped and counted (rx_dropped), one somewhat over the MTU
	                        * is delivered for the parser to count */
	int offload;           /* tap: 1 = IFF_VNET_HDR and checksum/TSO/USO offered to the VM's
	                        * stack, which then sends super-frames (read them with
	                        * rx_burst_off, or rx_burst resolves them); afpacket always
	                        * exchanges offloads with its kernel; afxdp has none. */
	uint32_t ring_kib;     /* afpacket rx ring or socket buffer (0: 4 MiB), afxdp UMEM per queue
	                        * (0: 16 MiB, half for rx, half for tx) */
	int afpacket_rx;       /* DVMQ_AFPACKET_RX_COPY (recvmmsg, default) or _RING (TPACKET_V3) */
	uint8_t mac[6];        /* tap: the MAC its netdev (the VM's NIC) gets; all zeros: the
	                        * kernel's random one */
	uint32_t queues;       /* tap: queues of a multi-queue TAP, 1..DVMQ_TAP_MAX_QUEUES (0, 1: one,
	                        * no IFF_MULTI_QUEUE). afpacket takes a multi-queue device on its one
	                        * socket whatever this says */
	const char *netns;     /* tap: the network namespace the TAP lives in (a file such as
	                        * /run/netns/ct1 or /proc/PID/ns/net), NULL: the caller's. A TAP
	                        * there (a persistent one a container's tooling made) is opened,
	                        * never created (-ENODEV while it is absent); its descriptors work
	                        * from anywhere. Entering the namespace needs CAP_SYS_ADMIN */
	/* afxdp only */
	int one_queue;         /* 0: a socket on every rx queue; 1: only on rx queue `queue` */
	uint32_t queue;
	int xdp_mode;          /* 0: native, else generic; 1: native only; 2: generic only */
	int fallback;          /* 1: where AF_XDP cannot be used, open afpacket instead */
	dvmq_port_log_fn log;  /* afxdp's one line: how it runs, or why it fell back (may be NULL) */
	void *log_ctx;
};

/* tap: creates TAP device `ifname` (IFF_TAP | IFF_NO_PI; IFF_VNET_HDR with offload) and holds its
 * descriptor: the device is the VM's NIC (move it into the VM's namespace). With o->queues > 1
 * (VMMQ) it is a multi-queue TAP (IFF_MULTI_QUEUE, as QEMU's queues=N): one descriptor per queue;
 * tx_burst_q writes into queue txq's (the guest's queue txq receives it), rx_burst reads them
 * all, and the port's fd is an epoll descriptor over them. A hypervisor holds
 * its VM's TAP descriptor itself: reach that TAP with afpacket (docs/ports.md).
 * rx_burst reads the frames the VM sent, tx_burst writes frames to the VM; the device disappears
 * with the port. Needs CAP_NET_ADMIN. o may be NULL (defaults). */
int dvmq_port_tap_open(const char *ifname, const struct dvmq_port_kopts *o, struct dvmq_port **out,
		       char *err, size_t err_len);
#define DVMQ_TAP_MAX_QUEUES 16u
/* A tap port's frames read from queue q (its descriptor q) since it opened; -EINVAL when p is not
 * a tap port or q is not one of its queues. */
int64_t dvmq_port_tap_queue_rx(const struct dvmq_port *p, uint32_t q);

/* afpacket: an existing interface through one AF_PACKET socket: rx with recvmmsg or a TPACKET_V3
 * ring (o->afpacket_rx; with the ring, frames point into its blocks, returned to the kernel at
 * the next rx_burst), tx with sendmmsg and PACKET_QDISC_BYPASS. Always PACKET_VNET_HDR
 * underneath: rx_burst_off hands the kernel's super-frames over whole, rx_burst resolves them.
 * Needs CAP_NET_RAW. */
int dvmq_port_afpacket_open(const char *ifname, const struct dvmq_port_kopts *o, struct dvmq_port **out,
			    char *err, size_t err_len);

/* afxdp: the uplink through AF_XDP with dvmq's XDP program (bpf/dvmq_xdp.bpf.c), one socket per
 * rx queue, copy mode where zero-copy is refused. Needs CAP_BPF, CAP_NET_ADMIN and CAP_NET_RAW.
 * The program goes on through a BPF link the port owns (src/port/xdp_link.h): it leaves the
 * device with the port or the process, whatever ends them. A dvmq program an older dvmq left
 * attached without a link is removed (one line through o->log); another program, or a running
 * dvmq's, is refused (-EBUSY) and left alone.
 * With o->fallback, a failure that afpacket does not share (no AF_XDP build, no BPF, XDP refused
 * by the device, another XDP program attached) logs one line through o->log and opens afpacket
 * instead: the returned port's ops->kind says which. On success o->log gets one line saying how
 * the port runs. Without -Dxdp, always -EOPNOTSUPP (or the fallback).
 * A veth whose peer (in this namespace) sends with checksum offload is such a failure: with
 * o->fallback the port is afpacket there, the line saying why and the fix (`ethtool -K PEER tx
 * off`); without, or when the peer is in another namespace (not checkable), o->log gets the line
 * (dvmq_port_veth_csum_line) and the port is afxdp. */
int dvmq_port_afxdp_open(const char *ifname, const struct dvmq_port_kopts *o, struct dvmq_port **out,
			 char *err, size_t err_len);

/* A veth and its peer's transmit checksum offload. A veth hands AF_XDP its peer's frames with the
 * L4 checksum left to do when the peer's stack sends with checksum offload (tx-checksumming, a
 * veth's default), and AF_XDP cannot tell userspace: such frames reach the VMs with wrong
 * checksums (TCP stalls) and nothing counts them. afpacket learns it (PACKET_VNET_HDR). */
struct dvmq_veth_peer {
	bool veth;            /* the device is a veth (ethtool driver "veth") */
	bool peer_here;       /* its peer is in the caller's network namespace (else another) */
	char peer[16];        /* the peer's name (peer_here), else "" */
	int peer_tx_csum;     /* 1: the peer sends with checksum offload; 0: it does not; -1: unknown
	                       * (the peer is in another namespace) */
};
/* Fills out for ifname (not a veth: out->veth false). Reads only (ethtool, rtnetlink), no
 * privilege. Returns 0 or -errno (-ENODEV: no such interface). */
int dvmq_port_veth_peer(const char *ifname, struct dvmq_veth_peer *out);
/* The line that says what the checksums of a veth uplink on afxdp do and the fix, "" when there is
 * nothing to say (not a veth, or its peer sends without checksum offload). */
void dvmq_port_veth_csum_line(const char *ifname, const struct dvmq_veth_peer *vp, char *buf, size_t len);

/* afxdp: the XDP program's own counters, summed over CPUs. */
struct dvmq_afxdp_counters {
	uint64_t to_xsk;      /* redirected to dvmq (with its stripped VLAN tag put back, where it had one) */
	uint64_t no_xsk;      /* passed to the kernel: no dvmq socket on that rx queue */
	uint64_t link_local;  /* passed to the kernel: IEEE 802.1 link-local (LLDP, LACP, STP) */
	uint64_t vlan_restored; /* a VLAN tag the driver stripped put back into the frame */
	uint64_t vlan_unread; /* the driver could not hand the program its stripped VLAN tag */
	uint64_t vlan_no_room; /* dropped: no headroom to put the VLAN tag back (in rx_dropped too) */
};
/* Returns 0, or -EINVAL when p is not an afxdp port (e.g. afpacket after a fallback). */
int dvmq_port_afxdp_counters(const struct dvmq_port *p, struct dvmq_afxdp_counters *out);

#endif
