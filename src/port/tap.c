/* tap: a VM adapter as a TAP device whose descriptor dvmq holds. The TAP netdev is the VM's NIC
 * (a network namespace's interface in tests, a container's); what the VM sends, rx_burst reads
 * from the descriptor, and what tx_burst writes, the VM receives.
 * Invariant: one frame per read/write (the kernel offers no batch call on a TAP descriptor), so
 * the port's cost is one system call per frame, or per super-frame with offloads: IFF_VNET_HDR
 * and TUNSETOFFLOAD let the VM's stack hand over 64 KiB TCP/UDP super-frames with their
 * virtio_net_hdr, which travel beside the frames (rx_burst_off, tx_burst_off); the plain
 * rx_burst resolves them into segments. Without offloads the frames are complete both ways: the
 * kernel segments before the port reads, and the port resolves what it must write.
 * A multi-queue TAP (VMMQ, kopts.queues > 1: IFF_MULTI_QUEUE, as QEMU's queues=N) has one
 * descriptor per queue: tx_burst_q writes into queue txq's, so what dvmq served on queue i of
 * the VM's group reaches the guest's queue i and its own RSS sees the same spread; rx_burst reads
 * every queue in turn (the kernel spreads what the VM sends over them by flow), and the port's
 * pollable descriptor is an epoll instance over all of them.
 * Thread safety: rx_burst on one thread; tx_burst on any (each write is one whole frame;
 * resolving offloads in software uses one scratch buffer under a mutex: a slow path). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kport.h"
#include "offload.h"

#define VNET_LEN ((uint32_t)sizeof(struct virtio_net_hdr))
#define TAP_GRO_CAP (KPORT_GSO_MAX + KPORT_FRAME_SLACK)

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

struct tap_port {
	struct dvmq_port port;
	int fd;                /* queue 0's descriptor; with several queues the epoll one is `ep` */
	int fds[DVMQ_TAP_MAX_QUEUES];
	uint32_t n_fds;
	int ep;                /* epoll over fds (multi-queue), else -1 */
	uint32_t rx_next;      /* the queue rx_burst reads first next time (rx thread) */
	_Atomic uint64_t rxq[DVMQ_TAP_MAX_QUEUES]; /* frames read per queue */
	int offload;
	uint32_t hdr;          /* VNET_LEN with offloads, else 0 */
	uint32_t buf_len;      /* one read buffer: hdr + the largest frame accepted + 1 */
	uint8_t *rx_buf;       /* DVMQ_BURST read buffers */
	_Atomic int down;      /* the last write found the link down */
	_Atomic int gone;      /* the device was deleted: every later call reports it */
	struct kport_counters c;
	pthread_mutex_t resolve_lock;
	uint8_t *resolve_buf;  /* one resolved frame: tx without vnet header */
	uint32_t resolve_len;
	struct offload_rx res; /* rx_burst with vnet header: super-frames to resolve */
	pthread_mutex_t gro_lock;
	uint8_t *gro_buf;      /* one coalesced super-frame (vnet header only) */
};

static int tap_fd(const struct dvmq_port *port)
{
	const struct tap_port *t = (const struct tap_port *)port;
	return t->ep >= 0 ? t->ep : t->fd;
}

/* An error from read/write: a deleted device reads as EBADFD (tun detached), a device that is
 * down as EIO; both are counted once per change. Returns the errno to report. */
static int tap_io_error(struct tap_port *t, int e)
{
	if (e == EBADFD || e == ENODEV || e == ENXIO) {
		if (!atomic_exchange_explicit(&t->gone, 1, memory_order_relaxed))
			kport_bump(&t->c.link_events, 1);
		return ENODEV;
	}
	if (e == EIO || e == ENETDOWN) {
		if (!atomic_exchange_explicit(&t->down, 1, memory_order_relaxed))
			kport_bump(&t->c.link_events, 1);
		return ENETDOWN;
	}
	return e;
}

/* Reads up to n frames. off == NULL (plain rx_burst): super-frames are resolved into segments. */
static int tap_rx_common(struct dvmq_port *port, struct dvmq_pkt *pkts, struct dvmq_offload *off, unsigned n)
{
	struct tap_port *t = (struct tap_port *)port;
	if (atomic_load_explicit(&t->gone, memory_order_relaxed))
		return -ENODEV;
	if (n > DVMQ_BURST)
		n = DVMQ_BURST;
	unsigned k = 0;
	uint64_t bytes = 0, dropped = 0;
	if (t->hdr) {
		offload_rx_new_burst(&t->res);
		k += offload_rx_emit(&t->res, pkts, n, &bytes);
	}
	/* queues in turn from rx_next; a queue with nothing left (EAGAIN) is done for this call */
	uint32_t qi = t->rx_next, empty = 0;
	for (unsigned slot = 0; k < n && slot < DVMQ_BURST && empty < t->n_fds &&
			       !(t->hdr && offload_rx_pending(&t->res));
	     slot++) {
		uint8_t *b = t->rx_buf + (size_t)slot * t->buf_len;
		ssize_t r = read(t->fds[qi], b, t->buf_len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno == EAGAIN ? 0 : tap_io_error(t, errno);
			if (e == ENODEV && k == 0)
				return -ENODEV;
			if (e)
				break;
			empty++; /* this queue is drained; the next one */
			qi = qi + 1 == t->n_fds ? 0 : qi + 1;
			continue;
		}
		empty = 0;
		kport_bump(&t->rxq[qi], 1);
		qi = qi + 1 == t->n_fds ? 0 : qi + 1;
		/* a frame that filled the buffer was cut: the kernel had more */
		if ((uint32_t)r >= t->buf_len || (uint32_t)r < t->hdr + 14u) {
			dropped++;
			continue;
		}
		struct dvmq_pkt p = { .data = b + t->hdr, .len = (uint32_t)r - t->hdr, .ts_ns = 0 };
		struct dvmq_offload o = { 0, 0, 0, 0, 0, 0 };
		if (t->hdr) {
			struct virtio_net_hdr vh;
			memcpy(&vh, b, sizeof(vh));
			offload_from_vnet(&vh, &o);
		}
		if (off) {
			off[k] = o;
		} else if (offload_pending(&o)) {
			if (!offload_rx_take(&t->res, &p, &o))
				dropped++;
			else
				k += offload_rx_emit(&t->res, pkts + k, n - k, &bytes);
			continue;
		}
		pkts[k++] = p;
		bytes += p.len;
	}
	t->rx_next = qi;
	kport_count_rx(&t->c, k, bytes, dropped);
	return (int)k;
}

static int tap_rx(struct dvmq_port *port, struct dvmq_pkt *pkts, unsigned n)
{
	return tap_rx_common(port, pkts, NULL, n);
}

static int tap_rx_off(struct dvmq_port *port, struct dvmq_pkt *pkts, struct dvmq_offload *off, unsigned n)
{
	return tap_rx_common(port, pkts, off, n);
}

/* Writes one frame into descriptor fd (with its vnet header when offloads are on). Returns 0 or
 * an errno. */
static int tap_write(struct tap_port *t, int fd, const uint8_t *data, uint32_t len, const struct dvmq_offload *off)
{
	struct virtio_net_hdr vh;
	struct iovec iov[2];
	int iovcnt = 0;
	if (t->hdr) {
		memset(&vh, 0, sizeof(vh));
		if (off)
			offload_to_vnet(off, &vh);
		vh.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM; /* DATA_VALID is a receive-side flag */
		iov[iovcnt++] = (struct iovec){ &vh, sizeof(vh) };
	}
	iov[iovcnt++] = (struct iovec){ (void *)(uintptr_t)data, len };
	for (;;) {
		ssize_t w = writev(fd, iov, iovcnt);
		if (w >= 0)
			return 0;
		if (errno != EINTR)
			return errno;
	}
}

/* No vnet header, a frame with offloads: write the frames it stands for. Returns 0 or an errno. */
static int tap_write_resolved(struct tap_port *t, int fd, const struct dvmq_pkt *p, const struct dvmq_offload *o)
{
	unsigned n = offload_segments(p, o);
	if (n == 0)
		return EINVAL;
	int e = 0;
	pthread_mutex_lock(&t->resolve_lock);
	for (unsigned k = 0; k < n && e == 0; k++) {
		uint32_t len = offload_segment(p, o, k, t->resolve_buf, t->resolve_len);
		e = len ? tap_write(t, fd, t->resolve_buf, len, NULL) : EMSGSIZE;
	}
	pthread_mutex_unlock(&t->resolve_lock);
	return e;
}

static unsigned tap_tx_common(struct dvmq_port *port, uint32_t txq, const struct dvmq_pkt *pkts,
			      const struct dvmq_offload *off, unsigned n)
{
	struct tap_port *t = (struct tap_port *)port;
	int fd = t->fds[txq % t->n_fds];
	unsigned sent = 0;
	uint64_t bytes = 0;
	/* with a vnet header, runs of one TCP flow go as one super-frame (one call, one trip up the
	 * VM's stack); the scratch buffer is one per port: a caller that finds it taken sends frame
	 * by frame instead of waiting */
	bool gro = t->hdr && n > 1 && pthread_mutex_trylock(&t->gro_lock) == 0;
	for (unsigned i = 0; i < n;) {
		if (atomic_load_explicit(&t->gone, memory_order_relaxed))
			break;
		const struct dvmq_pkt *p = &pkts[i];
		const struct dvmq_offload *o = off ? &off[i] : NULL;
		struct dvmq_pkt merged;
		struct dvmq_offload mo;
		unsigned took = gro ? offload_coalesce(pkts, off, n, i, t->gro_buf, TAP_GRO_CAP, &merged, &mo) : 0;
		int e;
		if (took) {
			e = tap_write(t, fd, merged.data, merged.len, &mo);
		} else {
			took = 1;
			e = !t->hdr && o && offload_pending(o) ? tap_write_resolved(t, fd, p, o)
							       : tap_write(t, fd, p->data, p->len, o);
		}
		if (e) {
			tap_io_error(t, e);
		} else {
			atomic_store_explicit(&t->down, 0, memory_order_relaxed);
			sent += took;
			for (unsigned k = i; k < i + took; k++)
				bytes += pkts[k].len;
		}
		i += took;
	}
	if (gro)
		pthread_mutex_unlock(&t->gro_lock);
	kport_bump(&t->c.tx_packets, sent);
	kport_bump(&t->c.tx_bytes, bytes);
	if (sent < n)
		kport_bump(&t->c.tx_dropped, n - sent);
	return sent;
}

static unsigned tap_tx(struct dvmq_port *port, const struct dvmq_pkt *pkts, unsigned n, int flooded)
{
	(void)flooded;
	return tap_tx_common(port, 0, pkts, NULL, n);
}

static unsigned tap_tx_off(struct dvmq_port *port, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
			   unsigned n, int flooded)
{
	(void)flooded;
	return tap_tx_common(port, 0, pkts, off, n);
}

static unsigned tap_tx_q(struct dvmq_port *port, uint32_t txq, const struct dvmq_pkt *pkts,
			 const struct dvmq_offload *off, unsigned n, int flooded)
{
	(void)flooded;
	return tap_tx_common(port, txq, pkts, off, n);
}

int64_t dvmq_port_tap_queue_rx(const struct dvmq_port *port, uint32_t q)
{
	if (!port || strcmp(port->ops->kind, "tap") != 0)
		return -EINVAL;
	const struct tap_port *t = (const struct tap_port *)port;
	return q < t->n_fds ? (int64_t)atomic_load_explicit(&t->rxq[q], memory_order_relaxed) : -EINVAL;
}

static void tap_stats(const struct dvmq_port *port, struct dvmq_port_stats *o)
{
	kport_stats(&((const struct tap_port *)port)->c, o);
}

static void tap_destroy(struct dvmq_port *port)
{
	struct tap_port *t = (struct tap_port *)port;
	for (uint32_t i = 0; i < t->n_fds; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	if (t->ep >= 0)
		close(t->ep);
	pthread_mutex_destroy(&t->resolve_lock);
	pthread_mutex_destroy(&t->gro_lock);
	free(t->gro_buf);
	free(t->rx_buf);
	free(t->resolve_buf);
	offload_rx_free(&t->res);
	free(t);
}

static const struct dvmq_port_ops tap_ops = {
	.kind = "tap",
	.rx_burst = tap_rx,
	.tx_burst = tap_tx,
	.stats = tap_stats,
	.destroy = tap_destroy,
	.fd = tap_fd,
	.rx_burst_off = tap_rx_off,
	.tx_burst_off = tap_tx_off,
	.tx_burst_q = tap_tx_q,
};

/* Offloads the VM's stack may hand over: checksums, TSO, and USO where the kernel has it. */
static int tap_set_offloads(int fd)
{
	unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	if (ioctl(fd, TUNSETOFFLOAD, base | TUN_F_USO4 | TUN_F_USO6) == 0)
		return 0;
	return ioctl(fd, TUNSETOFFLOAD, base) == 0 ? 0 : -errno;
}

/* Moves the calling thread into the network namespace at path; *self gets its own to come back
 * to. Returns 0 or a negative errno with err filled in. */
static int tap_enter_netns(const char *path, int *self, const char *who, char *err, size_t err_len)
{
	*self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;
	if (*self < 0)
		rc = kport_fail(err, err_len, -errno, "%s: its own network namespace", who);
	else if (ns < 0)
		rc = kport_fail(err, err_len, errno == ENOENT ? -ENODEV : -errno, "%s: network namespace %s", who, path);
	else if (setns(ns, CLONE_NEWNET) != 0)
		rc = errno == EPERM ? kport_denied(err, err_len, who, "entering a network namespace",
						   (const int[]){ CAP_SYS_ADMIN }, 1)
				    : kport_fail(err, err_len, -errno, "%s: entering network namespace %s", who, path);
	if (ns >= 0)
		close(ns);
	if (rc && *self >= 0) {
		close(*self);
		*self = -1;
	}
	return rc;
}

/* Opens one queue of the TAP: /dev/net/tun, TUNSETIFF (IFF_MULTI_QUEUE with several), the vnet
 * header and offloads. Returns the descriptor, or a negative errno with err filled in. */
static int tap_attach(struct tap_port *t, const char *ifname, bool multi, const char *who, char *err, size_t err_len)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	int rc;
	if (fd < 0) {
		rc = -errno;
		if ((rc == -EACCES || rc == -EPERM) && kport_lacks_cap(CAP_NET_ADMIN))
			return kport_denied(err, err_len, who, "creating a TAP device", (const int[]){ CAP_NET_ADMIN }, 1);
		if (rc == -EACCES)
			return kport_fail(err, err_len, rc, "%s: cannot open /dev/net/tun (its file mode)", who);
		return kport_fail(err, err_len, rc, "%s: cannot open /dev/net/tun", who);
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | (t->offload ? IFF_VNET_HDR : 0) | (multi ? IFF_MULTI_QUEUE : 0));
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		rc = -errno;
		if (rc == -EPERM || rc == -EACCES)
			rc = kport_denied(err, err_len, who, "creating a TAP device", (const int[]){ CAP_NET_ADMIN }, 1);
		else if (rc == -EBUSY)
			kport_fail(err, err_len, rc, "%s: a TAP of that name is held by another process", who);
		else if (rc == -EINVAL)
			kport_fail(err, err_len, rc, "%s: the name belongs to a device that is not a TAP "
				   "with these flags%s", who, multi ? " (multi-queue)" : "");
		else
			kport_fail(err, err_len, rc, "%s: TUNSETIFF", who);
		close(fd);
		return rc;
	}
	snprintf(t->port.name, sizeof(t->port.name), "%s", ifr.ifr_name);
	if (t->offload) {
		int sz = (int)VNET_LEN;
		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) != 0) {
			rc = kport_fail(err, err_len, -errno, "%s: TUNSETVNETHDRSZ", who);
			close(fd);
			return rc;
		}
		rc = tap_set_offloads(fd);
		if (rc) {
			kport_fail(err, err_len, rc, "%s: TUNSETOFFLOAD", who);
			close(fd);
			return rc;
		}
	}
	return fd;
}

int dvmq_port_tap_open(const char *ifname, const struct dvmq_port_kopts *o, struct dvmq_port **out,
		       char *err, size_t err_len)
{
	int rc = kport_check_ifname(ifname, "tap", err, err_len);
	if (rc)
		return rc;
	char who[IFNAMSIZ + 8];
	snprintf(who, sizeof(who), "tap %s", ifname);
	uint32_t queues = o && o->queues > 1 ? o->queues : 1;
	if (queues > DVMQ_TAP_MAX_QUEUES)
		return kport_fail(err, err_len, -EINVAL, "%s: %u queues (at most %u)", who, queues, DVMQ_TAP_MAX_QUEUES);
	struct tap_port *t = calloc(1, sizeof(*t));
	if (!t)
		return kport_fail(err, err_len, -ENOMEM, "%s", who);
	t->fd = t->ep = -1;
	t->port.ops = &tap_ops;
	pthread_mutex_init(&t->resolve_lock, NULL);
	pthread_mutex_init(&t->gro_lock, NULL);
	t->offload = o && o->offload;
	t->hdr = t->offload ? VNET_LEN : 0;
	uint32_t mtu = kport_mtu(o);
	uint32_t frame_max = t->offload ? KPORT_GSO_MAX + KPORT_FRAME_SLACK : mtu + KPORT_FRAME_SLACK;
	t->buf_len = t->hdr + frame_max + 1;
	t->resolve_len = mtu + KPORT_FRAME_SLACK;
	t->rx_buf = malloc((size_t)t->buf_len * DVMQ_BURST);
	t->resolve_buf = malloc(t->resolve_len);
	if (t->hdr)
		t->gro_buf = malloc(TAP_GRO_CAP);
	if (!t->rx_buf || !t->resolve_buf || (t->hdr && (!t->gro_buf || offload_rx_init(&t->res, mtu) != 0))) {
		rc = kport_fail(err, err_len, -ENOMEM, "%s", who);
		goto err_free;
	}
	/* a TAP in another namespace (a container's): TUNSETIFF there, the descriptors work from here */
	int self = -1;
	if (o && o->netns) {
		rc = tap_enter_netns(o->netns, &self, who, err, err_len);
		if (rc)
			goto err_free;
		/* the TAP there is the container's: opened, never created (one dvmq made would be
		 * gone with dvmq, and would stand in the way of the container's own) */
		if (if_nametoindex(ifname) == 0)
			rc = kport_fail(err, err_len, -ENODEV, "%s: no such device in network namespace %s (dvmq opens "
					"a TAP there, never creates one)", who, o->netns);
	}
	for (uint32_t i = 0; rc == 0 && i < queues; i++) {
		int fd = tap_attach(t, ifname, queues > 1, who, err, err_len);
		if (fd < 0) {
			rc = fd;
			break;
		}
		t->fds[t->n_fds++] = fd;
	}
	if (self >= 0) {
		if (setns(self, CLONE_NEWNET) != 0 && rc >= 0) /* back home: nothing else may run there */
			rc = kport_fail(err, err_len, -errno, "%s: back to dvmq's network namespace", who);
		close(self);
	}
	if (rc < 0)
		goto err_free;
	t->fd = t->fds[0];
	static const uint8_t zero[6];
	if (o && memcmp(o->mac, zero, 6) != 0) {
		/* the netdev is the VM's NIC: it carries the VM's configured MAC from the start, so a
		 * namespace it is moved into sends and answers as that VM (tun takes it on its fd) */
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, o->mac, 6);
		if (ioctl(t->fd, SIOCSIFHWADDR, &ifr) != 0) {
			rc = kport_fail(err, err_len, -errno, "%s: setting its MAC (SIOCSIFHWADDR)", who);
			goto err_free;
		}
	}
	if (queues > 1) {
		/* one descriptor to poll for all queues: rx threads block on one fd per port */
		t->ep = epoll_create1(EPOLL_CLOEXEC);
		if (t->ep < 0) {
			rc = kport_fail(err, err_len, -errno, "%s: epoll_create1", who);
			goto err_free;
		}
		for (uint32_t i = 0; i < t->n_fds; i++) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
			if (epoll_ctl(t->ep, EPOLL_CTL_ADD, t->fds[i], &ev) != 0) {
				rc = kport_fail(err, err_len, -errno, "%s: epoll_ctl", who);
				goto err_free;
			}
		}
	}
	*out = &t->port;
	return 0;

err_free:
	tap_destroy(&t->port);
	return rc;
}
