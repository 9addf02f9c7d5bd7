/* kport: helpers shared by the kernel ports (see kport.h). */
#include <ctype.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kport.h"

void kport_stats(const struct kport_counters *c, struct dvmq_port_stats *o)
{
	o->rx_packets = atomic_load_explicit(&c->rx_packets, memory_order_relaxed);
	o->rx_bytes = atomic_load_explicit(&c->rx_bytes, memory_order_relaxed);
	o->rx_dropped = atomic_load_explicit(&c->rx_dropped, memory_order_relaxed);
	o->tx_packets = atomic_load_explicit(&c->tx_packets, memory_order_relaxed);
	o->tx_bytes = atomic_load_explicit(&c->tx_bytes, memory_order_relaxed);
	o->tx_dropped = atomic_load_explicit(&c->tx_dropped, memory_order_relaxed);
	o->link_events = atomic_load_explicit(&c->link_events, memory_order_relaxed);
}

int kport_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
	if (!err || err_len == 0)
		return rc;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < err_len)
		snprintf(err + n, err_len - (size_t)n, ": %s", strerror(-rc));
	return rc;
}

const char *kport_cap_name(int cap)
{
	switch (cap) {
	case CAP_NET_ADMIN:
		return "CAP_NET_ADMIN";
	case CAP_NET_RAW:
		return "CAP_NET_RAW";
	case CAP_BPF:
		return "CAP_BPF";
	case CAP_SYS_ADMIN:
		return "CAP_SYS_ADMIN";
	case CAP_IPC_LOCK:
		return "CAP_IPC_LOCK";
	default:
		return "a capability";
	}
}

bool kport_lacks_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) != 0)
		return false; /* cannot tell: do not blame a capability */
	unsigned word = (unsigned)cap / 32u, bit = (unsigned)cap % 32u;
	return word >= _LINUX_CAPABILITY_U32S_3 || !(d[word].effective & (1u << bit));
}

int kport_denied(char *err, size_t err_len, const char *who, const char *what, const int *caps, unsigned n_caps)
{
	for (unsigned i = 0; i < n_caps; i++) {
		/* CAP_SYS_ADMIN stands in for CAP_BPF on the kernel side: name the narrow one */
		if (caps[i] == CAP_BPF && !kport_lacks_cap(CAP_SYS_ADMIN))
			continue;
		if (kport_lacks_cap(caps[i])) {
			if (err && err_len)
				snprintf(err, err_len, "%s: %s needs %s", who, what, kport_cap_name(caps[i]));
			return -EPERM;
		}
	}
	if (err && err_len)
		snprintf(err, err_len, "%s: %s refused although the process holds %s (a security policy, "
			 "a user namespace or a sysctl decided)", who, what,
			 n_caps ? kport_cap_name(caps[0]) : "its capabilities");
	return -EPERM;
}

int kport_check_ifname(const char *ifname, const char *kind, char *err, size_t err_len)
{
	size_t n = ifname ? strlen(ifname) : 0;
	if (n == 0 || n >= IFNAMSIZ)
		return kport_fail(err, err_len, -EINVAL, "%s: interface name '%s' must have 1 to %d characters",
				  kind, ifname ? ifname : "", IFNAMSIZ - 1);
	for (size_t i = 0; i < n; i++)
		if (ifname[i] == '/' || ifname[i] == ':' || isspace((unsigned char)ifname[i]) ||
		    !isprint((unsigned char)ifname[i]))
			return kport_fail(err, err_len, -EINVAL, "%s: interface name '%s' may not contain '/', ':' "
					  "or white space", kind, ifname);
	return 0;
}

uint32_t kport_mtu(const struct dvmq_port_kopts *o)
{
	return o && o->mtu ? o->mtu : KPORT_DEFAULT_MTU;
}

uint32_t kport_ring_kib(const struct dvmq_port_kopts *o)
{
	return o && o->ring_kib ? o->ring_kib : KPORT_DEFAULT_RING_KIB;
}

int kport_ifflags(unsigned ifindex)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname(ifindex, ifr.ifr_name))
		return -ENODEV;
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	int e = errno;
	close(s);
	if (rc != 0)
		return e == ENODEV || e == ENXIO ? -ENODEV : -e;
	return (unsigned short)ifr.ifr_flags;
}

int kport_link_state(struct kport_link *l, struct kport_counters *c, bool force, bool *changed)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	int old = atomic_load_explicit(&l->state, memory_order_relaxed);
	if (changed)
		*changed = false;
	if (old == -ENODEV || (!force && now < atomic_load_explicit(&l->next_ms, memory_order_relaxed)))
		return old;
	atomic_store_explicit(&l->next_ms, now + KPORT_LINK_SAMPLE_MS, memory_order_relaxed);
	int f = kport_ifflags(l->ifindex);
	int st = f == -ENODEV ? -ENODEV : f < 0 ? old : (f & IFF_UP) && (f & IFF_RUNNING) ? 1 : 0;
	if (st != old && atomic_compare_exchange_strong_explicit(&l->state, &old, st, memory_order_relaxed,
								  memory_order_relaxed)) {
		if (st != 1)
			kport_bump(&c->link_events, 1);
		if (changed)
			*changed = true;
	}
	return st;
}

int kport_rx_queues(unsigned ifindex)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname(ifindex, ifr.ifr_name))
		return -ENODEV;
	ifr.ifr_data = (void *)&ch;
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	int rc = ioctl(s, SIOCETHTOOL, &ifr);
	int e = errno;
	close(s);
	if (rc != 0)
		return e == EOPNOTSUPP ? 1 : -e; /* a driver without channels has one queue */
	uint32_t n = ch.rx_count + ch.combined_count;
	return n ? (int)n : 1;
}

/* The ethtool ioctl cmd on ifname with data; 0 or -errno. */
static int ethtool_ioctl(const char *ifname, void *data)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	int rc = ioctl(s, SIOCETHTOOL, &ifr) == 0 ? 0 : -errno;
	close(s);
	return rc;
}

/* The link's IFLA_LINK (its peer's ifindex, 0 none) and whether IFLA_LINK_NETNSID came with it
 * (the peer is in another namespace). 0 or -errno. */
static int link_peer(unsigned ifindex, int *peer, bool *elsewhere)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = { .nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		  .ifi = { .ifi_family = AF_UNSPEC, .ifi_index = (int)ifindex } };
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	char buf[16384] __attribute__((aligned(4)));
	int rc = send(s, &req, sizeof(req), 0) < 0 ? -errno : 0;
	ssize_t n = rc ? 0 : recv(s, buf, sizeof(buf), 0);
	if (!rc && n < 0)
		rc = -errno;
	close(s);
	*peer = 0;
	*elsewhere = false;
	if (rc)
		return rc;
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)n); nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(nh);
			return e->error ? e->error : -EIO;
		}
		if (nh->nlmsg_type != RTM_NEWLINK || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
			continue;
		struct ifinfomsg *ifi = NLMSG_DATA(nh);
		int len = (int)IFLA_PAYLOAD(nh);
		for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			if (a->rta_type == IFLA_LINK && RTA_PAYLOAD(a) >= sizeof(uint32_t))
				memcpy(peer, RTA_DATA(a), sizeof(*peer));
			else if (a->rta_type == IFLA_LINK_NETNSID)
				*elsewhere = true;
		}
		return 0;
	}
	return -EIO;
}

int dvmq_port_veth_peer(const char *ifname, struct dvmq_veth_peer *out)
{
	memset(out, 0, sizeof(*out));
	out->peer_tx_csum = -1;
	unsigned ifindex = if_nametoindex(ifname);
	if (ifindex == 0)
		return -ENODEV;
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	if (ethtool_ioctl(ifname, &di) != 0 || strcmp(di.driver, "veth") != 0)
		return 0; /* no driver info: no veth */
	out->veth = true;
	int peer = 0;
	bool elsewhere = false;
	int rc = link_peer(ifindex, &peer, &elsewhere);
	if (rc)
		return rc;
	if (peer <= 0 || elsewhere)
		return 0;
	char name[IF_NAMESIZE];
	if (!if_indextoname((unsigned)peer, name))
		return 0;
	out->peer_here = true;
	snprintf(out->peer, sizeof(out->peer), "%s", name);
	struct ethtool_value v = { .cmd = ETHTOOL_GTXCSUM };
	if (ethtool_ioctl(name, &v) == 0)
		out->peer_tx_csum = v.data != 0;
	return 0;
}

void dvmq_port_veth_csum_line(const char *ifname, const struct dvmq_veth_peer *vp, char *buf, size_t len)
{
	if (!vp->veth || vp->peer_tx_csum == 0) {
		if (len)
			buf[0] = '\0';
		return;
	}
	if (vp->peer_here && vp->peer_tx_csum == 1)
		snprintf(buf, len, "afxdp %s: a veth whose peer %s sends with checksum offload on: AF_XDP would hand "
			 "its frames over with their checksums undone (the VMs' TCP stalls, nothing counted); "
			 "`ethtool -K %s tx off`, or port = afpacket", ifname, vp->peer, vp->peer);
	else
		snprintf(buf, len, "afxdp %s: a veth whose peer is in another namespace: if the peer sends with "
			 "checksum offload on (a veth's default), AF_XDP hands its frames over with their checksums "
			 "undone (the VMs' TCP stalls, nothing counted); `ethtool -K PEER tx off` there, or port = "
			 "afpacket", ifname);
}
