/* afpacket: an adapter or the uplink on an existing interface (a veth, libvirt's vnetN, a NIC)
 * through one AF_PACKET socket: rx with recvmmsg (default) or a TPACKET_V3 ring of blocks, tx with
 * sendmmsg and PACKET_QDISC_BYPASS, PACKET_VNET_HDR both ways.
 * Why recvmmsg by default: a V3 block is handed over when full or after its timer (1 ms at
 * least), so at light load every frame waits for the timer (a 0.9 ms round trip instead of
 * 30 us), and TCP's ACK clock with it (6 Gb/s instead of 11 here); docs/ports.md has the numbers.
 * Invariants:
 *  - rx_burst hands out pointers into ring blocks (or receive slots); a block goes back to the
 *    kernel (a slot is refilled) at the next rx_burst, never while a frame of it may be read.
 *  - Every frame leaves rx_burst as it was on the wire: the VLAN tag the kernel moved into
 *    metadata is put back in front of the ethertype.
 *  - The kernel's offloads are never lost: rx_burst_off hands the virtio_net_hdr over beside
 *    the frame; the plain rx_burst resolves GSO super-frames and partial checksums here
 *    (offload_rx), so a frame it delivers is a frame a NIC could send. A veth peer's TCP needs
 *    this: its stack hands veth 64 KiB super-frames with checksums left to do.
 *  - tx always passes the offloads to the kernel (the socket has PACKET_VNET_HDR), which
 *    segments and checksums for devices without them; runs of one TCP flow in a burst are sent
 *    as one super-frame (offload_coalesce: the receiving stack takes them as one).
 * Thread safety: rx_burst on one thread; tx_burst on any (sendmmsg of a caller's own arrays; the
 * coalescing buffers under a trylock);
 * stats on any (PACKET_STATISTICS is read and added under relaxed atomics). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kport.h"
#include "offload.h"

#define VNET_LEN ((uint32_t)sizeof(struct virtio_net_hdr))
#define AFP_BLOCK_SIZE (256u * 1024u) /* holds a 64 KiB super-frame with room to spare */
#define AFP_FRAME_SIZE 2048u           /* V3 ignores it, but the ring request must be valid */
#define AFP_RETIRE_MS 1u               /* a block waits at most this long for more frames */
#define AFP_CMSG_LEN CMSG_SPACE(sizeof(struct tpacket_auxdata))
#define AFP_GRO_BUFS 4u
#define AFP_GRO_CAP (KPORT_GSO_MAX + KPORT_FRAME_SLACK)

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

struct afp_port {
	struct dvmq_port port;
	int fd;
	unsigned ifindex;
	uint32_t mtu;
	/* rx ring */
	uint8_t *ring;
	size_t ring_len;
	uint32_t n_blocks;
	uint32_t blk;                       /* block being read, or the next to wait for */
	uint32_t left;                      /* frames of blk not read yet; 0: blk not taken */
	struct tpacket3_hdr *next;          /* next frame of blk */
	uint32_t release_from, n_release;   /* blocks read through, returned at the next rx_burst */
	struct offload_rx res;              /* plain rx_burst: super-frames to resolve */
	/* rx without a ring (recvmmsg): DVMQ_BURST slots of 4 bytes headroom + a super-frame */
	struct mmsghdr *mm;
	struct iovec (*miov)[2];
	struct virtio_net_hdr *mvnet;
	uint8_t *mbuf, *mcmsg;
	uint32_t mstride;
	unsigned mm_next, mm_count;         /* slots of the last batch handed out, filled */
	pthread_mutex_t gro_lock;
	uint8_t *gro_buf;                   /* AFP_GRO_BUFS coalesced super-frames (tx) */
	_Atomic int gone;
	struct kport_counters c;
};

static struct tpacket_block_desc *afp_block(const struct afp_port *a, uint32_t i)
{
	return (struct tpacket_block_desc *)(void *)(a->ring + (size_t)i * AFP_BLOCK_SIZE);
}

static int afp_fd(const struct dvmq_port *port)
{
	return ((const struct afp_port *)port)->fd;
}

static void afp_release(struct afp_port *a)
{
	for (uint32_t i = 0; i < a->n_release; i++) {
		struct tpacket_block_desc *b = afp_block(a, (a->release_from + i) % a->n_blocks);
		__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	}
	a->n_release = 0;
}

/* Moves past the frame at `next`; a block read through is queued for release. */
static void afp_advance(struct afp_port *a)
{
	if (--a->left > 0) {
		a->next = (struct tpacket3_hdr *)(void *)((uint8_t *)a->next + a->next->tp_next_offset);
		return;
	}
	if (a->n_release == 0)
		a->release_from = a->blk;
	a->n_release++;
	a->blk = (a->blk + 1) % a->n_blocks;
}

/* Puts back the VLAN tag the kernel moved into metadata, in the 4 bytes before the frame (free:
 * the vnet header's place in the ring, headroom in a receive slot); offsets shift with it. */
static void afp_put_vlan(struct dvmq_pkt *p, struct dvmq_offload *o, uint16_t tpid, uint16_t tci)
{
	uint8_t *mac = p->data - 4;
	memmove(mac, p->data, 12);
	mac[12] = (uint8_t)(tpid >> 8);
	mac[13] = (uint8_t)tpid;
	mac[14] = (uint8_t)(tci >> 8);
	mac[15] = (uint8_t)tci;
	p->data = mac;
	p->len += 4;
	if (o->flags & DVMQ_OFF_CSUM_PARTIAL)
		o->csum_start = (uint16_t)(o->csum_start + 4u);
	if (o->hdr_len)
		o->hdr_len = (uint16_t)(o->hdr_len + 4u);
}

/* The frame at h as it was on the wire, with its offloads. Returns false for a frame cut short
 * by the ring (counted by the caller). Runs once per frame: it moves the frame in place. */
static bool afp_frame(struct tpacket3_hdr *h, struct dvmq_pkt *p, struct dvmq_offload *o)
{
	uint8_t *mac = (uint8_t *)h + h->tp_mac;
	if (h->tp_snaplen < h->tp_len || h->tp_snaplen < 14)
		return false;
	struct virtio_net_hdr vh; /* where the ring puts it, it may be misaligned */
	memcpy(&vh, mac - VNET_LEN, sizeof(vh));
	offload_from_vnet(&vh, o);
	p->data = mac;
	p->len = h->tp_snaplen;
	p->ts_ns = 0;
	if (h->tp_status & TP_STATUS_VLAN_VALID) {
		uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) && h->hv1.tp_vlan_tpid
					? h->hv1.tp_vlan_tpid : ETH_P_8021Q;
		afp_put_vlan(p, o, tpid, (uint16_t)h->hv1.tp_vlan_tci);
	}
	return true;
}

/* Hands one received frame to the caller: whole with its offloads (off), whole when it has none,
 * or as the segments it stands for (plain rx_burst). Returns the new count of pkts. */
static unsigned afp_deliver(struct afp_port *a, const struct dvmq_pkt *p, const struct dvmq_offload *o,
			    struct dvmq_pkt *pkts, struct dvmq_offload *off, unsigned n, unsigned k, uint64_t *bytes,
			    uint64_t *dropped)
{
	if (off) {
		off[k] = *o;
	} else if (offload_pending(o)) {
		if (offload_rx_take(&a->res, p, o))
			return k + offload_rx_emit(&a->res, pkts + k, n - k, bytes);
		++*dropped;
		return k;
	}
	pkts[k] = *p;
	*bytes += p->len;
	return k + 1;
}

/* The ring is empty: a link that went down or a device that vanished shows as a socket error.
 * Returns 0, -ENETDOWN (once per event) or -ENODEV (for good). */
static int afp_idle_check(struct afp_port *a)
{
	int e = 0;
	socklen_t el = sizeof(e);
	if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e == 0)
		return 0;
	kport_bump(&a->c.link_events, 1);
	if (kport_ifflags(a->ifindex) == -ENODEV) {
		atomic_store_explicit(&a->gone, 1, memory_order_relaxed);
		return -ENODEV;
	}
	return -ENETDOWN;
}

/* Reads up to n frames from the ring. off == NULL (plain rx_burst): super-frames and partial
 * checksums are resolved (offload_rx), so only complete frames leave. */
static int afp_rx_common(struct dvmq_port *port, struct dvmq_pkt *pkts, struct dvmq_offload *off, unsigned n)
{
	struct afp_port *a = (struct afp_port *)port;
	if (atomic_load_explicit(&a->gone, memory_order_relaxed))
		return -ENODEV;
	afp_release(a);
	if (n > DVMQ_BURST)
		n = DVMQ_BURST;
	uint64_t bytes = 0, dropped = 0;
	offload_rx_new_burst(&a->res);
	unsigned k = offload_rx_emit(&a->res, pkts, n, &bytes);
	while (k < n && !offload_rx_pending(&a->res)) {
		if (a->left == 0) {
			struct tpacket_block_desc *b = afp_block(a, a->blk);
			if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
				break;
			if (b->hdr.bh1.num_pkts == 0) {
				a->left = 1; /* an empty block retired by the timer: pass it */
				afp_advance(a);
				continue;
			}
			a->left = b->hdr.bh1.num_pkts;
			a->next = (struct tpacket3_hdr *)(void *)((uint8_t *)b + b->hdr.bh1.offset_to_first_pkt);
		}
		struct dvmq_pkt p;
		struct dvmq_offload o;
		bool ok = afp_frame(a->next, &p, &o);
		afp_advance(a); /* the block stays ours until the next rx_burst */
		if (!ok)
			dropped++;
		else
			k = afp_deliver(a, &p, &o, pkts, off, n, k, &bytes, &dropped);
	}
	kport_count_rx(&a->c, k, bytes, dropped);
	if (k == 0 && !dropped)
		return afp_idle_check(a);
	return (int)k;
}

static int afp_rx(struct dvmq_port *port, struct dvmq_pkt *pkts, unsigned n)
{
	return afp_rx_common(port, pkts, NULL, n);
}

static int afp_rx_off(struct dvmq_port *port, struct dvmq_pkt *pkts, struct dvmq_offload *off, unsigned n)
{
	return afp_rx_common(port, pkts, off, n);
}

/* ---- rx without a ring: recvmmsg, a batch per system call, no block timer ---- */

/* Frames of the last recvmmsg not handed out yet (a super-frame filled the burst), and the
 * link events recvmmsg reports (it returns the socket's pending error). */
static int afp_copy_error(struct afp_port *a, int e)
{
	if (e != ENETDOWN && e != ENXIO && e != ENODEV)
		return 0;
	kport_bump(&a->c.link_events, 1);
	if (e != ENETDOWN || kport_ifflags(a->ifindex) == -ENODEV) {
		atomic_store_explicit(&a->gone, 1, memory_order_relaxed);
		return -ENODEV;
	}
	return -ENETDOWN;
}

/* The frame in slot i as it was on the wire: the VLAN tag from PACKET_AUXDATA put back into the
 * 4 bytes of headroom before it. */
static bool afp_copy_frame(struct afp_port *a, unsigned i, struct dvmq_pkt *p, struct dvmq_offload *o)
{
	struct mmsghdr *m = &a->mm[i];
	uint8_t *mac = a->mbuf + (size_t)i * a->mstride + 4;
	if ((m->msg_hdr.msg_flags & MSG_TRUNC) || m->msg_len < VNET_LEN + 14)
		return false;
	offload_from_vnet(&a->mvnet[i], o);
	*p = (struct dvmq_pkt){ .data = mac, .len = m->msg_len - VNET_LEN };
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m->msg_hdr); c; c = CMSG_NXTHDR(&m->msg_hdr, c)) {
		struct tpacket_auxdata aux;
		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
			continue;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if (!(aux.tp_status & TP_STATUS_VLAN_VALID))
			continue;
		uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) && aux.tp_vlan_tpid ? aux.tp_vlan_tpid
												: ETH_P_8021Q;
		afp_put_vlan(p, o, tpid, aux.tp_vlan_tci);
	}
	return true;
}

static int afp_copy_rx_common(struct dvmq_port *port, struct dvmq_pkt *pkts, struct dvmq_offload *off, unsigned n)
{
	struct afp_port *a = (struct afp_port *)port;
	if (atomic_load_explicit(&a->gone, memory_order_relaxed))
		return -ENODEV;
	if (n > DVMQ_BURST)
		n = DVMQ_BURST;
	uint64_t bytes = 0, dropped = 0;
	offload_rx_new_burst(&a->res);
	unsigned k = offload_rx_emit(&a->res, pkts, n, &bytes);
	int rc = 0;
	while (k < n && !offload_rx_pending(&a->res)) {
		if (a->mm_next == a->mm_count) {
			/* slots are reused only once every frame of the last batch was handed out */
			if (k > 0)
				break;
			for (unsigned i = 0; i < n; i++) {
				a->mm[i].msg_hdr.msg_controllen = AFP_CMSG_LEN;
				a->mm[i].msg_hdr.msg_flags = 0;
			}
			int r = recvmmsg(a->fd, a->mm, n, MSG_DONTWAIT, NULL);
			if (r <= 0) {
				if (r < 0 && errno != EAGAIN && errno != EINTR)
					rc = afp_copy_error(a, errno);
				break;
			}
			a->mm_next = 0;
			a->mm_count = (unsigned)r;
		}
		struct dvmq_pkt p;
		struct dvmq_offload o;
		if (!afp_copy_frame(a, a->mm_next++, &p, &o))
			dropped++;
		else
			k = afp_deliver(a, &p, &o, pkts, off, n, k, &bytes, &dropped);
	}
	kport_count_rx(&a->c, k, bytes, dropped);
	return k ? (int)k : rc;
}

static int afp_copy_rx(struct dvmq_port *port, struct dvmq_pkt *pkts, unsigned n)
{
	return afp_copy_rx_common(port, pkts, NULL, n);
}

static int afp_copy_rx_off(struct dvmq_port *port, struct dvmq_pkt *pkts, struct dvmq_offload *off, unsigned n)
{
	return afp_copy_rx_common(port, pkts, off, n);
}

/* sendmmsg's failure on one frame: the link or the device is the reason for the frames after it
 * too; anything else (too long, no buffer) is that frame's alone. */
static bool afp_fatal_tx(struct afp_port *a, int e)
{
	if (e == ENXIO || e == ENODEV) {
		if (!atomic_exchange_explicit(&a->gone, 1, memory_order_relaxed))
			kport_bump(&a->c.link_events, 1);
		return true;
	}
	return e == ENETDOWN;
}

/* Sends up to DVMQ_BURST messages; a message is a frame, or a run of frames coalesced into one
 * super-frame in a GRO buffer (one per run, AFP_GRO_BUFS per call at most). */
static unsigned afp_tx_common(struct dvmq_port *port, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
			      unsigned n)
{
	struct afp_port *a = (struct afp_port *)port;
	struct virtio_net_hdr vh[DVMQ_BURST];
	struct iovec iov[DVMQ_BURST][2];
	struct mmsghdr msg[DVMQ_BURST];
	unsigned cnt[DVMQ_BURST]; /* input frames per message */
	uint64_t len[DVMQ_BURST];
	unsigned sent = 0;
	uint64_t bytes = 0;
	/* the receiving stack (a veth's namespace, a NIC's TSO) takes a run of one TCP flow as one
	 * frame; the buffers are the port's: a caller that finds them taken sends frame by frame */
	bool gro = n > 1 && pthread_mutex_trylock(&a->gro_lock) == 0;
	for (unsigned done = 0; done < n && !atomic_load_explicit(&a->gone, memory_order_relaxed);) {
		unsigned m = 0, used = 0, g = 0;
		while (m < DVMQ_BURST && done + used < n) {
			unsigned i = done + used;
			struct dvmq_pkt merged;
			struct dvmq_offload mo;
			unsigned took = gro && g < AFP_GRO_BUFS
						? offload_coalesce(pkts, off, n, i, a->gro_buf + (size_t)g * AFP_GRO_CAP,
								   AFP_GRO_CAP, &merged, &mo)
						: 0;
			memset(&vh[m], 0, sizeof(vh[m]));
			if (took) {
				g++;
				offload_to_vnet(&mo, &vh[m]);
				iov[m][1] = (struct iovec){ merged.data, merged.len };
			} else {
				took = 1;
				if (off)
					offload_to_vnet(&off[i], &vh[m]);
				iov[m][1] = (struct iovec){ pkts[i].data, pkts[i].len };
			}
			vh[m].flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM; /* DATA_VALID means nothing on tx */
			iov[m][0] = (struct iovec){ &vh[m], VNET_LEN };
			memset(&msg[m], 0, sizeof(msg[m]));
			msg[m].msg_hdr.msg_iov = iov[m];
			msg[m].msg_hdr.msg_iovlen = 2;
			cnt[m] = took;
			len[m] = 0;
			for (unsigned k = i; k < i + took; k++)
				len[m] += pkts[k].len;
			used += took;
			m++;
		}
		bool fatal = false;
		for (unsigned i = 0; i < m && !fatal;) {
			int r = sendmmsg(a->fd, msg + i, m - i, MSG_DONTWAIT);
			if (r > 0) {
				for (unsigned j = i; j < i + (unsigned)r; j++) {
					bytes += len[j];
					sent += cnt[j];
				}
				i += (unsigned)r;
				continue;
			}
			int e = r < 0 ? errno : EIO;
			if (e == EINTR)
				continue;
			fatal = afp_fatal_tx(a, e);
			i++; /* this message is dropped (too long, no buffer, queue full): never block */
		}
		if (fatal)
			break;
		done += used;
	}
	if (gro)
		pthread_mutex_unlock(&a->gro_lock);
	kport_bump(&a->c.tx_packets, sent);
	kport_bump(&a->c.tx_bytes, bytes);
	if (sent < n)
		kport_bump(&a->c.tx_dropped, n - sent);
	return sent;
}

static unsigned afp_tx(struct dvmq_port *port, const struct dvmq_pkt *pkts, unsigned n, int flooded)
{
	(void)flooded;
	return afp_tx_common(port, pkts, NULL, n);
}

static unsigned afp_tx_off(struct dvmq_port *port, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
			   unsigned n, int flooded)
{
	(void)flooded;
	return afp_tx_common(port, pkts, off, n);
}

static void afp_stats(const struct dvmq_port *port, struct dvmq_port_stats *o)
{
	struct afp_port *a = (struct afp_port *)(uintptr_t)port;
	/* the kernel's ring drops, reset by each read: fold them into our counter */
	struct tpacket_stats_v3 st;
	socklen_t sl = sizeof(st);
	if (getsockopt(a->fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0 && st.tp_drops)
		kport_bump(&a->c.rx_dropped, st.tp_drops);
	kport_stats(&a->c, o);
}

static void afp_destroy(struct dvmq_port *port)
{
	struct afp_port *a = (struct afp_port *)port;
	if (a->ring)
		munmap(a->ring, a->ring_len);
	if (a->fd >= 0)
		close(a->fd);
	offload_rx_free(&a->res);
	free(a->mm);
	free(a->miov);
	free(a->mvnet);
	free(a->mbuf);
	free(a->mcmsg);
	free(a->gro_buf);
	pthread_mutex_destroy(&a->gro_lock);
	free(a);
}

static const struct dvmq_port_ops afp_ops = {
	.kind = "afpacket",
	.rx_burst = afp_rx,
	.tx_burst = afp_tx,
	.stats = afp_stats,
	.destroy = afp_destroy,
	.fd = afp_fd,
	.rx_burst_off = afp_rx_off,
	.tx_burst_off = afp_tx_off,
};

static const struct dvmq_port_ops afp_copy_ops = {
	.kind = "afpacket",
	.rx_burst = afp_copy_rx,
	.tx_burst = afp_tx,
	.stats = afp_stats,
	.destroy = afp_destroy,
	.fd = afp_fd,
	.rx_burst_off = afp_copy_rx_off,
	.tx_burst_off = afp_tx_off,
};

static int afp_setopt(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val)) == 0 ? 0 : -errno;
}

/* TPACKET_V3: blocks of AFP_BLOCK_SIZE, mapped into our memory. */
static int afp_setup_ring(struct afp_port *a, const char *who, char *err, size_t err_len)
{
	int rc = afp_setopt(a->fd, SOL_PACKET, PACKET_VERSION, TPACKET_V3);
	if (rc)
		return kport_fail(err, err_len, rc, "%s: PACKET_VERSION", who);
	struct tpacket_req3 req = {
		.tp_block_size = AFP_BLOCK_SIZE,
		.tp_block_nr = a->n_blocks,
		.tp_frame_size = AFP_FRAME_SIZE,
		.tp_frame_nr = AFP_BLOCK_SIZE / AFP_FRAME_SIZE * a->n_blocks,
		.tp_retire_blk_tov = AFP_RETIRE_MS,
	};
	if (setsockopt(a->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0)
		return kport_fail(err, err_len, -errno, "%s: PACKET_RX_RING (%u blocks of %u KiB)", who, a->n_blocks,
				  AFP_BLOCK_SIZE / 1024u);
	a->ring_len = (size_t)AFP_BLOCK_SIZE * a->n_blocks;
	/* locked when the memlock limit allows (root), else plain: the ring still works */
	a->ring = mmap(NULL, a->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, a->fd, 0);
	if (a->ring == MAP_FAILED)
		a->ring = mmap(NULL, a->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, a->fd, 0);
	if (a->ring == MAP_FAILED) {
		a->ring = NULL;
		return kport_fail(err, err_len, -errno, "%s: mmap of the rx ring", who);
	}
	return 0;
}

/* recvmmsg: DVMQ_BURST receive slots, the socket buffer sized like a ring would be. */
static int afp_setup_copy(struct afp_port *a, uint32_t ring_kib, const char *who, char *err, size_t err_len)
{
	a->port.ops = &afp_copy_ops;
	a->mstride = 4u + KPORT_GSO_MAX + KPORT_FRAME_SLACK;
	a->mm = calloc(DVMQ_BURST, sizeof(*a->mm));
	a->miov = calloc(DVMQ_BURST, sizeof(*a->miov));
	a->mvnet = calloc(DVMQ_BURST, sizeof(*a->mvnet));
	a->mbuf = malloc((size_t)a->mstride * DVMQ_BURST);
	a->mcmsg = calloc(DVMQ_BURST, AFP_CMSG_LEN);
	if (!a->mm || !a->miov || !a->mvnet || !a->mbuf || !a->mcmsg)
		return kport_fail(err, err_len, -ENOMEM, "%s", who);
	for (unsigned i = 0; i < DVMQ_BURST; i++) {
		a->miov[i][0] = (struct iovec){ &a->mvnet[i], VNET_LEN };
		a->miov[i][1] = (struct iovec){ a->mbuf + (size_t)i * a->mstride + 4, a->mstride - 4 };
		a->mm[i].msg_hdr.msg_iov = a->miov[i];
		a->mm[i].msg_hdr.msg_iovlen = 2;
		a->mm[i].msg_hdr.msg_control = a->mcmsg + (size_t)i * AFP_CMSG_LEN;
	}
	int bytes = (int)(ring_kib > 65536 ? 65536u * 1024u : ring_kib * 1024u);
	/* beyond net.core.rmem_max where the process may (CAP_NET_ADMIN), else up to it */
	if (setsockopt(a->fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0)
		setsockopt(a->fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	int rc = afp_setopt(a->fd, SOL_PACKET, PACKET_AUXDATA, 1);
	return rc ? kport_fail(err, err_len, rc, "%s: PACKET_AUXDATA", who) : 0;
}

int dvmq_port_afpacket_open(const char *ifname, const struct dvmq_port_kopts *o, struct dvmq_port **out,
			    char *err, size_t err_len)
{
	int rc = kport_check_ifname(ifname, "afpacket", err, err_len);
	if (rc)
		return rc;
	char who[IFNAMSIZ + 16];
	snprintf(who, sizeof(who), "afpacket %s", ifname);
	struct afp_port *a = calloc(1, sizeof(*a));
	if (!a)
		return kport_fail(err, err_len, -ENOMEM, "%s", who);
	a->fd = -1;
	a->port.ops = &afp_ops;
	pthread_mutex_init(&a->gro_lock, NULL);
	snprintf(a->port.name, sizeof(a->port.name), "%s", ifname);
	a->mtu = kport_mtu(o);
	bool ring = o && o->afpacket_rx == DVMQ_AFPACKET_RX_RING;
	a->n_blocks = kport_ring_kib(o) * 1024u / AFP_BLOCK_SIZE;
	if (a->n_blocks < 4)
		a->n_blocks = 4;
	a->gro_buf = malloc((size_t)AFP_GRO_CAP * AFP_GRO_BUFS);
	if (!a->gro_buf || offload_rx_init(&a->res, a->mtu) != 0) {
		rc = kport_fail(err, err_len, -ENOMEM, "%s", who);
		goto err_free;
	}

	a->ifindex = if_nametoindex(ifname);
	if (a->ifindex == 0) {
		rc = kport_fail(err, err_len, -ENODEV, "%s: no such interface", who);
		goto err_free;
	}
	/* protocol 0: nothing is queued before the ring exists; bind() below starts reception */
	a->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->fd < 0) {
		rc = -errno;
		if (rc == -EPERM || rc == -EACCES)
			kport_denied(err, err_len, who, "opening an AF_PACKET socket", (const int[]){ CAP_NET_RAW }, 1);
		else
			kport_fail(err, err_len, rc, "%s: socket(AF_PACKET)", who);
		goto err_free;
	}
	if ((rc = afp_setopt(a->fd, SOL_PACKET, PACKET_VNET_HDR, 1))) {
		kport_fail(err, err_len, rc, "%s: PACKET_VNET_HDR", who);
		goto err_free;
	}
	rc = ring ? afp_setup_ring(a, who, err, err_len) : afp_setup_copy(a, kport_ring_kib(o), who, err, err_len);
	if (rc)
		goto err_free;
	/* a frame we send must not come back to us as received */
	afp_setopt(a->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
	if ((rc = afp_setopt(a->fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1))) {
		kport_fail(err, err_len, rc, "%s: PACKET_QDISC_BYPASS", who);
		goto err_free;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)a->ifindex };
	if (bind(a->fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
		rc = -errno;
		if (rc == -ENODEV || rc == -ENXIO)
			kport_fail(err, err_len, -ENODEV, "%s: no such interface", who), rc = -ENODEV;
		else
			kport_fail(err, err_len, rc, "%s: bind", who);
		goto err_free;
	}
	*out = &a->port;
	return 0;

err_free:
	afp_destroy(&a->port);
	return rc;
}
