/* afxdp: the uplink through AF_XDP. dvmq's own XDP program (bpf/dvmq_xdp.bpf.c, embedded in the
 * binary) redirects each frame into the AF_XDP socket of its rx queue; the port has one socket
 * per rx queue, each with its own UMEM: the first half of a UMEM's 4 KiB chunks circulate
 * through the fill and rx rings, the second half through the tx and completion rings.
 * Invariants:
 *  - an rx chunk handed out by rx_burst goes back to the fill ring at the next rx_burst, never
 *    earlier; a tx chunk is reused only after the completion ring returned it;
 *  - the program is attached through a BPF link owned by the port (xdp_link.c, never netlink,
 *    never libxdp's attach): it leaves the device when the port is destroyed or the process
 *    dies, a failed open included, and never lingers to redirect into nothing;
 *  - frames are copied into tx chunks, complete: AF_XDP has no offloads, so a GSO super-frame or
 *    a partial checksum from a VM is resolved here (offload.c).
 * Attach: xdp_link.c, native mode, else generic (auto), or the mode asked for; a dvmq program a
 * dead instance left is removed, any other program refused. Zero-copy where the driver has it,
 * else copy. libxdp serves only the AF_XDP sockets (xsk.h).
 * Thread safety: rx_burst on one thread (fill and rx rings); tx_burst on any (tx and completion
 * rings under one mutex); stats on any.
 * libbpf and libxdp print through process-wide callbacks: the port installs one that keeps the
 * last message per thread for its error lines (libraries never print). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kport.h"

#ifdef DVMQ_HAVE_XDP
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "../../bpf/dvmq_xdp.h"
#include "../fault/fault.h"
#include "offload.h"
#include "xdp_link.h"
#include "xdp_rxmeta.h"

#ifndef BPF_F_XDP_DEV_BOUND_ONLY
#define BPF_F_XDP_DEV_BOUND_ONLY (1U << 6) /* Linux 6.3; Debian 12's headers are 6.1 */
#endif

extern const unsigned char dvmq_xdp_bpf_obj[];
extern const unsigned long dvmq_xdp_bpf_obj_len;

#define XQ_CHUNK 4096u
#define XQ_HEADROOM 0u
#define XQ_RING 2048u /* rx, tx, fill and completion ring sizes */
/* 4096 chunks: a full fill ring (a TCP window's burst must find room) and as many for tx */
#define XQ_DEFAULT_KIB (2u * XQ_RING * XQ_CHUNK / 1024u)

struct xq {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons rx, comp;
	uint8_t *area;
	size_t area_len;
	uint32_t queue;
	int fd;
	uint64_t held[DVMQ_BURST]; /* rx chunks handed out, refilled at the next rx_burst */
	uint32_t n_held;
	uint64_t *tx_free;         /* tx chunks not in flight (under tx_lock) */
	uint32_t n_tx_free;
};

struct xdp_port {
	struct dvmq_port port;
	unsigned ifindex;
	uint32_t mtu;
	struct xq *q;
	uint32_t n_q, rr;
	int epfd;                  /* all sockets: the pollable descriptor */
	struct bpf_object *obj;
	int link_fd;               /* the BPF link that holds the program on the device, or -1 */
	bool vlan_lost;            /* dvmq_xdp: VLAN tags the driver strips never reach dvmq */
	int stats_fd;
	pthread_mutex_t tx_lock;
	uint8_t *resolve_buf;      /* one resolved frame (under tx_lock) */
	struct kport_link link;    /* sampled: AF_XDP sockets hear nothing of a link going down */
	struct kport_counters c;
	char how[256];             /* "BPF link, native XDP, copy mode, 2 queues": the open line */
};

static __thread char xdp_last_msg[256];

static int xdp_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_DEBUG) {
		vsnprintf(xdp_last_msg, sizeof(xdp_last_msg), fmt, ap);
		xdp_last_msg[strcspn(xdp_last_msg, "\n")] = '\0';
	}
	return 0;
}

static int xdp_print_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return xdp_print(level == LIBXDP_WARN ? LIBBPF_WARN : level == LIBXDP_INFO ? LIBBPF_INFO : LIBBPF_DEBUG,
			 fmt, ap);
}

static pthread_once_t xdp_print_once = PTHREAD_ONCE_INIT;

static void xdp_print_install(void)
{
	libbpf_set_print(xdp_print);
	libxdp_set_print(xdp_print_libxdp);
}

static int xdp_fd(const struct dvmq_port *port)
{
	return ((const struct xdp_port *)port)->epfd;
}

/* ---- rx ---- */

static void xq_refill(struct xq *q)
{
	if (q->n_held == 0)
		return;
	uint32_t idx;
	/* the fill ring holds every rx chunk, so there is always room for those handed out */
	if (xsk_ring_prod__reserve(&q->fill, q->n_held, &idx) != q->n_held)
		return;
	for (uint32_t i = 0; i < q->n_held; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = q->held[i];
	xsk_ring_prod__submit(&q->fill, q->n_held);
	q->n_held = 0;
}

static unsigned xq_rx(struct xq *q, struct dvmq_pkt *pkts, unsigned n, uint64_t *bytes)
{
	uint32_t idx;
	unsigned got = xsk_ring_cons__peek(&q->rx, n, &idx);
	if (got == 0) {
		if (xsk_ring_prod__needs_wakeup(&q->fill))
			recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		return 0;
	}
	for (unsigned i = 0; i < got; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);
		q->held[q->n_held++] = xsk_umem__extract_addr(d->addr);
		pkts[i] = (struct dvmq_pkt){ .data = xsk_umem__get_data(q->area, xsk_umem__add_offset_to_addr(d->addr)),
					     .len = d->len };
		*bytes += d->len;
	}
	xsk_ring_cons__release(&q->rx, got);
	return got;
}

/* Nothing received: a deleted device shows as a socket error (the kernel unbinds the sockets);
 * a link going down only in the device's flags, sampled every KPORT_LINK_SAMPLE_MS. */
static int xdp_idle_check(struct xdp_port *x)
{
	int e = 0;
	socklen_t el = sizeof(e);
	if (getsockopt(x->q[0].fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e != 0) {
		if (atomic_exchange_explicit(&x->link.state, -ENODEV, memory_order_relaxed) != -ENODEV)
			kport_bump(&x->c.link_events, 1);
		return -ENODEV;
	}
	bool changed;
	int st = kport_link_state(&x->link, &x->c, false, &changed);
	return st == -ENODEV ? -ENODEV : changed && st == 0 ? -ENETDOWN : 0;
}

static int xdp_rx(struct dvmq_port *port, struct dvmq_pkt *pkts, unsigned n)
{
	struct xdp_port *x = (struct xdp_port *)port;
	if (atomic_load_explicit(&x->link.state, memory_order_relaxed) == -ENODEV)
		return -ENODEV;
	if (n > DVMQ_BURST)
		n = DVMQ_BURST;
	for (uint32_t i = 0; i < x->n_q; i++)
		xq_refill(&x->q[i]);
	unsigned k = 0;
	uint64_t bytes = 0;
	/* round-robin start, so that a busy queue 0 cannot starve the others */
	for (uint32_t i = 0; i < x->n_q && k < n; i++)
		k += xq_rx(&x->q[(x->rr + i) % x->n_q], pkts + k, n - k, &bytes);
	x->rr = (x->rr + 1) % x->n_q;
	kport_count_rx(&x->c, k, bytes, 0);
	if (k == 0)
		return xdp_idle_check(x);
	/* frames arrive: the link is up, whatever the last sample said */
	int down = 0;
	atomic_compare_exchange_strong_explicit(&x->link.state, &down, 1, memory_order_relaxed, memory_order_relaxed);
	return (int)k;
}

/* ---- tx (under tx_lock) ---- */

static void xq_reclaim(struct xq *q)
{
	uint32_t idx;
	unsigned done = xsk_ring_cons__peek(&q->comp, XQ_RING, &idx);
	for (unsigned i = 0; i < done; i++)
		q->tx_free[q->n_tx_free++] = *xsk_ring_cons__comp_addr(&q->comp, idx + i);
	if (done)
		xsk_ring_cons__release(&q->comp, done);
}

/* Queues one complete frame on q's tx ring. Returns false when no chunk or slot is free. */
static bool xq_put(struct xq *q, const uint8_t *data, uint32_t len)
{
	uint32_t idx;
	if (q->n_tx_free == 0 || len > XQ_CHUNK - XQ_HEADROOM || xsk_ring_prod__reserve(&q->tx, 1, &idx) != 1)
		return false;
	uint64_t addr = q->tx_free[--q->n_tx_free];
	memcpy(xsk_umem__get_data(q->area, addr), data, len);
	struct xdp_desc *d = xsk_ring_prod__tx_desc(&q->tx, idx);
	d->addr = addr;
	d->len = len;
	d->options = 0;
	xsk_ring_prod__submit(&q->tx, 1);
	return true;
}

/* Copy mode sends only when kicked; a kick that finds the link down or the device gone says so. */
static void xq_kick(struct xdp_port *x, struct xq *q)
{
	if (!xsk_ring_prod__needs_wakeup(&q->tx))
		return;
	for (int tries = 0; tries < 4; tries++) {
		if (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			return;
		if (errno == ENETDOWN || errno == ENXIO || errno == ENODEV) {
			/* what is in the ring leaves when the link is back, as from a NIC's queue */
			kport_link_state(&x->link, &x->c, true, NULL);
			return;
		}
		if (errno != EAGAIN && errno != EBUSY && errno != EINTR)
			return;
		xq_reclaim(q); /* the ring drains as completions come back */
	}
}

static unsigned xdp_tx_common(struct dvmq_port *port, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
			      unsigned n)
{
	struct xdp_port *x = (struct xdp_port *)port;
	struct xq *q = &x->q[0];
	unsigned sent = 0;
	uint64_t bytes = 0;
	pthread_mutex_lock(&x->tx_lock);
	if (kport_link_state(&x->link, &x->c, false, NULL) == 1) {
		xq_reclaim(q);
		for (unsigned i = 0; i < n; i++) {
			const struct dvmq_pkt *p = &pkts[i];
			const struct dvmq_offload *o = off ? &off[i] : NULL;
			bool ok = true;
			if (!o || !offload_pending(o)) {
				ok = xq_put(q, p->data, p->len);
			} else {
				unsigned segs = offload_segments(p, o);
				ok = segs > 0;
				for (unsigned s = 0; s < segs && ok; s++) {
					uint32_t len = offload_segment(p, o, s, x->resolve_buf, XQ_CHUNK);
					ok = len > 0 && xq_put(q, x->resolve_buf, len);
				}
			}
			if (ok) {
				sent++;
				bytes += p->len;
			}
		}
		xq_kick(x, q);
	}
	pthread_mutex_unlock(&x->tx_lock);
	kport_bump(&x->c.tx_packets, sent);
	kport_bump(&x->c.tx_bytes, bytes);
	if (sent < n)
		kport_bump(&x->c.tx_dropped, n - sent);
	return sent;
}

static unsigned xdp_tx(struct dvmq_port *port, const struct dvmq_pkt *pkts, unsigned n, int flooded)
{
	(void)flooded;
	return xdp_tx_common(port, pkts, NULL, n);
}

static unsigned xdp_tx_off(struct dvmq_port *port, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
			   unsigned n, int flooded)
{
	(void)flooded;
	return xdp_tx_common(port, pkts, off, n);
}

/* Adds counter k of the XDP program's per-CPU stats map, summed over CPUs, to *sum (nothing when
 * the map cannot be read). Returns 0, -ENOMEM, or the CPU count's error. */
static int xdp_stat_add(const struct xdp_port *x, uint32_t k, uint64_t *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	uint64_t *v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(x->stats_fd, &k, v) == 0)
		for (int c = 0; c < ncpu; c++)
			*sum += v[c];
	free(v);
	return 0;
}

static void xdp_stats(const struct dvmq_port *port, struct dvmq_port_stats *o)
{
	const struct xdp_port *x = (const struct xdp_port *)port;
	kport_stats(&x->c, o);
	/* frames the program dropped for want of headroom to put their VLAN tag back */
	(void)xdp_stat_add(x, DVMQ_XDP_VLAN_NO_ROOM, &o->rx_dropped); /* stats have no error path */
	for (uint32_t i = 0; i < x->n_q; i++) {
		struct xdp_statistics st;
		socklen_t sl = sizeof(st);
		if (getsockopt(x->q[i].fd, SOL_XDP, XDP_STATISTICS, &st, &sl) == 0)
			o->rx_dropped += st.rx_dropped + st.rx_ring_full + st.rx_invalid_descs;
	}
}

/* ---- setup ---- */

static void xq_close(struct xq *q)
{
	if (q->xsk)
		xsk_socket__delete(q->xsk);
	if (q->umem)
		xsk_umem__delete(q->umem);
	if (q->area)
		munmap(q->area, q->area_len);
	free(q->tx_free);
}

static void xdp_destroy(struct dvmq_port *port)
{
	struct xdp_port *x = (struct xdp_port *)port;
	if (x->link_fd >= 0)
		close(x->link_fd);
	for (uint32_t i = 0; x->q && i < x->n_q; i++)
		xq_close(&x->q[i]);
	bpf_object__close(x->obj);
	if (x->epfd >= 0)
		close(x->epfd);
	pthread_mutex_destroy(&x->tx_lock);
	free(x->q);
	free(x->resolve_buf);
	free(x);
}

static const struct dvmq_port_ops xdp_ops = {
	.kind = "afxdp",
	.rx_burst = xdp_rx,
	.tx_burst = xdp_tx,
	.stats = xdp_stats,
	.destroy = xdp_destroy,
	.fd = xdp_fd,
	.tx_burst_off = xdp_tx_off,
};

static int xq_open(struct xdp_port *x, struct xq *q, const char *ifname, uint32_t queue, uint32_t ring_kib,
		   const char *who, char *err, size_t err_len)
{
	q->queue = queue;
	q->fd = -1;
	uint32_t chunks = ring_kib * 1024u / XQ_CHUNK;
	if (chunks < 2u * DVMQ_BURST * 2u)
		chunks = 2u * DVMQ_BURST * 2u;
	if (chunks > 2u * XQ_RING)
		chunks = 2u * XQ_RING; /* half in the fill ring, which holds XQ_RING */
	q->area_len = (size_t)chunks * XQ_CHUNK;
	/* fault_hit: a start that fails after the attach (tests: the device is left clean) */
	q->area = fault_hit(ENOMEM) ? MAP_FAILED
				    : mmap(NULL, q->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
					   -1, 0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		return kport_fail(err, err_len, -ENOMEM, "%s: UMEM of %zu KiB", who, q->area_len / 1024);
	}
	q->tx_free = malloc(sizeof(uint64_t) * (chunks / 2));
	if (!q->tx_free)
		return kport_fail(err, err_len, -ENOMEM, "%s", who);
	struct xsk_umem_config ucfg = { .fill_size = XQ_RING, .comp_size = XQ_RING, .frame_size = XQ_CHUNK,
					.frame_headroom = XQ_HEADROOM, .flags = 0 };
	int rc = xsk_umem__create(&q->umem, q->area, q->area_len, &q->fill, &q->comp, &ucfg);
	if (rc) {
		q->umem = NULL;
		if (rc == -EPERM || rc == -EACCES)
			return kport_denied(err, err_len, who, "opening an AF_XDP socket", (const int[]){ CAP_NET_RAW }, 1);
		if (rc == -ENOBUFS || rc == -ENOMEM)
			return kport_fail(err, err_len, rc, "%s: registering the UMEM (%zu KiB) exceeds the memlock "
					  "limit without CAP_IPC_LOCK", who, q->area_len / 1024);
		return kport_fail(err, err_len, rc, "%s: xsk_umem__create", who);
	}
	struct xsk_socket_config scfg = { .rx_size = XQ_RING, .tx_size = XQ_RING,
					  .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
					  .bind_flags = XDP_USE_NEED_WAKEUP };
	rc = xsk_socket__create(&q->xsk, ifname, queue, q->umem, &q->rx, &q->tx, &scfg);
	if (rc) {
		q->xsk = NULL;
		if (rc == -EPERM || rc == -EACCES)
			return kport_denied(err, err_len, who, "opening an AF_XDP socket", (const int[]){ CAP_NET_RAW }, 1);
		return kport_fail(err, err_len, rc, "%s: AF_XDP socket on queue %u", who, queue);
	}
	q->fd = xsk_socket__fd(q->xsk);
	uint32_t idx, half = chunks / 2;
	if (xsk_ring_prod__reserve(&q->fill, half, &idx) != half)
		return kport_fail(err, err_len, -ENOSPC, "%s: fill ring", who);
	for (uint32_t i = 0; i < half; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = (uint64_t)i * XQ_CHUNK;
	xsk_ring_prod__submit(&q->fill, half);
	for (uint32_t i = 0; i < half; i++)
		q->tx_free[q->n_tx_free++] = (uint64_t)(half + i) * XQ_CHUNK;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = queue };
	if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, q->fd, &ev) != 0)
		return kport_fail(err, err_len, -errno, "%s: epoll", who);
	return 0;
}

/* The embedded object with one of its programs to load: dvmq_xdp_vlan bound to ifindex (vlan),
 * else dvmq_xdp. */
static struct bpf_object *xdp_obj_open(unsigned ifindex, bool vlan)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "dvmq_xdp");
	struct bpf_object *obj = bpf_object__open_mem(dvmq_xdp_bpf_obj, dvmq_xdp_bpf_obj_len, &oo);
	if (!obj)
		return NULL;
	struct bpf_program *plain = bpf_object__find_program_by_name(obj, "dvmq_xdp");
	struct bpf_program *tagged = bpf_object__find_program_by_name(obj, "dvmq_xdp_vlan");
	if (!plain || !tagged) {
		bpf_object__close(obj);
		errno = ENOENT;
		return NULL;
	}
	bpf_program__set_autoload(vlan ? plain : tagged, false);
	if (vlan) {
		bpf_program__set_ifindex(tagged, ifindex);
		bpf_program__set_flags(tagged, bpf_program__flags(tagged) | BPF_F_XDP_DEV_BOUND_ONLY);
	}
	return obj;
}

/* dvmq_xdp or dvmq_xdp_vlan loaded and attached through a BPF link (xdp_link.c): detached by the
 * kernel when the link's last descriptor closes, so it cannot outlive the port or the process. */
static int xdp_attach_link(struct xdp_port *x, int xdp_mode, bool vlan, const char *who, const struct dvmq_port_kopts *o,
			   char *err, size_t err_len)
{
	static const int caps[] = { CAP_BPF, CAP_NET_ADMIN };
	int rc = bpf_object__load(x->obj);
	if (rc == -EPERM || rc == -EACCES)
		return kport_denied(err, err_len, who, "loading dvmq's XDP program", caps, 2);
	if (rc)
		return kport_fail(err, err_len, rc, "%s: loading dvmq's XDP program (%s)", who, xdp_last_msg);
	int prog_fd = bpf_program__fd(bpf_object__find_program_by_name(x->obj, vlan ? "dvmq_xdp_vlan" : "dvmq_xdp"));
	char why[300];
	rc = dvmq_xdp_link_attach((int)x->ifindex, prog_fd, xdp_mode, &x->link_fd, x->how, sizeof(x->how),
				  o ? o->log : NULL, o ? o->log_ctx : NULL, why, sizeof(why));
	if (rc && err && err_len)
		snprintf(err, err_len, "%s: %s%s", who, why, rc == -EBUSY && strstr(why, "another XDP program") ?
			 " (remove it, or use the afpacket port)" : "");
	return rc;
}

/* A driver that hands XDP the VLAN tag it strips gets dvmq_xdp_vlan, bound to the device. Where
 * that fails (generic mode cannot run a device-bound program), and for other drivers, dvmq_xdp,
 * and x->how says that tags the driver strips are lost (the one line the port logs). A device
 * that another program holds is refused at once (-EBUSY), as is a missing permission. */
static int xdp_attach(struct xdp_port *x, int xdp_mode, const char *who, const struct dvmq_port_kopts *o, char *err,
		      size_t err_len)
{
	int rc;
	if (dvmq_xdp_rx_vlan_kfunc(x->ifindex) == 1) {
		if (!(x->obj = xdp_obj_open(x->ifindex, true)))
			return kport_fail(err, err_len, -errno, "%s: opening the embedded XDP object", who);
		rc = xdp_attach_link(x, xdp_mode, true, who, o, err, err_len);
		if (rc == 0 || rc == -EPERM || rc == -EBUSY || rc == -ENODEV)
			return rc;
		bpf_object__close(x->obj);
	}
	x->vlan_lost = true;
	if (!(x->obj = xdp_obj_open(x->ifindex, false)))
		return kport_fail(err, err_len, -errno, "%s: opening the embedded XDP object", who);
	return xdp_attach_link(x, xdp_mode, false, who, o, err, err_len);
}

static int xdp_open_real(const char *ifname, const struct dvmq_port_kopts *o, struct dvmq_port **out,
			 char *err, size_t err_len)
{
	pthread_once(&xdp_print_once, xdp_print_install);
	char who[IFNAMSIZ + 16];
	snprintf(who, sizeof(who), "afxdp %s", ifname);
	uint32_t mtu = kport_mtu(o);
	if (mtu + 22u > XQ_CHUNK - XQ_HEADROOM - 256u)
		return kport_fail(err, err_len, -EINVAL, "%s: mtu %u does not fit a %u-byte AF_XDP chunk", who, mtu,
				  XQ_CHUNK);
	unsigned ifindex = if_nametoindex(ifname);
	if (ifindex == 0)
		return kport_fail(err, err_len, -ENODEV, "%s: no such interface", who);
	int nrx = o && o->one_queue ? 1 : kport_rx_queues(ifindex);
	if (nrx < 0)
		return kport_fail(err, err_len, nrx, "%s: counting its rx queues", who);
	uint32_t nq = (uint32_t)nrx;
	if (nq > DVMQ_XDP_MAX_QUEUES || (o && o->one_queue && o->queue >= DVMQ_XDP_MAX_QUEUES))
		return kport_fail(err, err_len, -EINVAL, "%s: at most %u queues", who, DVMQ_XDP_MAX_QUEUES);

	struct xdp_port *x = calloc(1, sizeof(*x));
	if (!x)
		return kport_fail(err, err_len, -ENOMEM, "%s", who);
	x->port.ops = &xdp_ops;
	snprintf(x->port.name, sizeof(x->port.name), "%s", ifname);
	x->ifindex = ifindex;
	x->link.ifindex = ifindex;
	x->mtu = mtu;
	x->epfd = -1;
	x->link_fd = -1;
	x->stats_fd = -1;
	pthread_mutex_init(&x->tx_lock, NULL);
	int rc;
	x->q = calloc(nq, sizeof(*x->q));
	x->resolve_buf = malloc(XQ_CHUNK);
	if (!x->q || !x->resolve_buf) {
		rc = kport_fail(err, err_len, -ENOMEM, "%s", who);
		goto err_free;
	}
	x->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (x->epfd < 0) {
		rc = kport_fail(err, err_len, -errno, "%s: epoll", who);
		goto err_free;
	}
	/* attach first: until a queue's socket is in the map, its frames pass to the kernel */
	rc = xdp_attach(x, o ? o->xdp_mode : 0, who, o, err, err_len);
	if (rc)
		goto err_free;
	int map_fd = bpf_object__find_map_fd_by_name(x->obj, "dvmq_xsks");
	x->stats_fd = bpf_object__find_map_fd_by_name(x->obj, "dvmq_xdp_stats");
	for (uint32_t i = 0; i < nq; i++) {
		uint32_t queue = o && o->one_queue ? o->queue : i;
		rc = xq_open(x, &x->q[i], ifname, queue, o && o->ring_kib ? o->ring_kib : XQ_DEFAULT_KIB, who, err, err_len);
		x->n_q = i + 1; /* xq_close undoes what xq_open did, even halfway */
		if (rc)
			goto err_free;
		int sfd = x->q[i].fd;
		if (bpf_map_update_elem(map_fd, &queue, &sfd, BPF_ANY) != 0) {
			rc = kport_fail(err, err_len, -errno, "%s: XSKMAP entry for queue %u", who, queue);
			goto err_free;
		}
	}
	struct xdp_options xo;
	socklen_t xl = sizeof(xo);
	kport_link_state(&x->link, &x->c, true, NULL);
	bool zc = getsockopt(x->q[0].fd, SOL_XDP, XDP_OPTIONS, &xo, &xl) == 0 && (xo.flags & XDP_OPTIONS_ZEROCOPY);
	size_t hl = strlen(x->how);
	snprintf(x->how + hl, sizeof(x->how) - hl, ", %s, %u queue%s%s%s%s", zc ? "zero-copy" : "copy mode", nq,
		 nq == 1 ? "" : "s",
		 x->vlan_lost ? "; the driver cannot hand XDP the VLAN tags it strips: tagged frames are lost "
				"unless `ethtool -K " : ", VLAN tags the driver strips put back",
		 x->vlan_lost ? ifname : "", x->vlan_lost ? " rxvlan off` (a veth: txvlan off on its peer)" : "");
	*out = &x->port;
	return 0;

err_free:
	xdp_destroy(&x->port);
	return rc;
}
#endif /* DVMQ_HAVE_XDP */

int dvmq_port_afxdp_counters(const struct dvmq_port *p, struct dvmq_afxdp_counters *out)
{
	memset(out, 0, sizeof(*out));
#ifdef DVMQ_HAVE_XDP
	if (!p || p->ops != &xdp_ops)
		return -EINVAL;
	const struct xdp_port *x = (const struct xdp_port *)p;
	uint64_t *dst[DVMQ_XDP_STAT_COUNT] = { &out->to_xsk, &out->no_xsk, &out->link_local, &out->vlan_restored,
					       &out->vlan_unread, &out->vlan_no_room };
	for (uint32_t k = 0; k < DVMQ_XDP_STAT_COUNT; k++) {
		int rc = xdp_stat_add(x, k, dst[k]);
		if (rc)
			return rc;
	}
	return 0;
#else
	(void)p;
	return -EINVAL;
#endif
}

/* Failures that afpacket does not share: AF_XDP or BPF is missing or refused, the device has no
 * XDP, another program holds it. Not: no such interface, a bad name or option. */
static bool xdp_fallback_helps(int rc)
{
	return rc != -ENODEV && rc != -EINVAL && rc != -ENOMEM;
}

int dvmq_port_afxdp_open(const char *ifname, const struct dvmq_port_kopts *o, struct dvmq_port **out,
			 char *err, size_t err_len)
{
	int rc = kport_check_ifname(ifname, "afxdp", err, err_len);
	if (rc)
		return rc;
	/* a wrong name is said as such, built with AF_XDP or not */
	if (if_nametoindex(ifname) == 0)
		return kport_fail(err, err_len, -ENODEV, "afxdp %s: no such interface", ifname);
	/* a veth whose peer leaves checksums to offload: AF_XDP would pass wrong checksums on */
	struct dvmq_veth_peer vp;
	char csum[400] = "";
	if (dvmq_port_veth_peer(ifname, &vp) == 0)
		dvmq_port_veth_csum_line(ifname, &vp, csum, sizeof(csum));
	if (csum[0] && vp.peer_here && o && o->fallback)
		goto fallback;
	if (csum[0] && o && o->log)
		o->log(o->log_ctx, csum);
#ifdef DVMQ_HAVE_XDP
	rc = xdp_open_real(ifname, o, out, err, err_len);
#else
	rc = kport_fail(err, err_len, -EOPNOTSUPP, "afxdp %s: dvmq was built without AF_XDP (meson -Dxdp)", ifname);
#endif
	if (rc == 0) {
#ifdef DVMQ_HAVE_XDP
		if (o && o->log) {
			char line[300];
			snprintf(line, sizeof(line), "afxdp %s: %s", ifname, ((struct xdp_port *)*out)->how);
			o->log(o->log_ctx, line);
		}
#endif
		return 0;
	}
	if (!o || !o->fallback || !xdp_fallback_helps(rc))
		return rc;
fallback:;
	char why[400];
	snprintf(why, sizeof(why), "%s", csum[0] && vp.peer_here ? csum : err && err_len ? err : "AF_XDP unavailable");
	struct dvmq_port_kopts ao = *o;
	ao.offload = 0;
	char aerr[256] = "";
	rc = dvmq_port_afpacket_open(ifname, &ao, out, aerr, sizeof(aerr));
	if (rc != 0 && err && err_len)
		snprintf(err, err_len, "%s; fallback: %s", why, aerr);
	if (rc == 0 && o->log) {
		char line[448];
		snprintf(line, sizeof(line), "%s; using afpacket instead", why);
		o->log(o->log_ctx, line);
	}
	return rc;
}
