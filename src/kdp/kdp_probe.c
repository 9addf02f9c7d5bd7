/* What kernel mode needs, probed without attaching anything (dvmq/kdp.h, dvmq_kdp_probe): the
 * device and what its driver says of XDP (netdev netlink: native, redirect, frags, the VLAN
 * kfunc), whether BPF programs and a cpumap may be created here (a trivial program and a
 * one-entry cpumap, loaded and freed at once: no entry, so no kthread), tcx (Linux 6.6+), and
 * the veth artefact: a veth uplink whose peer checksums nothing on transmit. */
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../port/xdp_rxmeta.h"
#include "kdp_internal.h"

/* ETHTOOL request `cmd` on ifname (data in/out). Returns 0 or -errno. */
static int kdp_ethtool(const char *ifname, void *data)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	int rc = ioctl(fd, SIOCETHTOOL, &ifr) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static int kdp_sysfs_int(const char *ifname, const char *what, long *out)
{
	char path[128], buf[32];
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	*out = strtol(buf, NULL, 10);
	return 0;
}

/* Whether the link ifindex names its peer in another network namespace (rtnetlink's
 * IFLA_LINK_NETNSID). Returns 1, 0, or -errno. */
static int kdp_peer_elsewhere(unsigned ifindex)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = { .nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		  .ifi = { .ifi_family = AF_UNSPEC, .ifi_index = (int)ifindex } };
	char buf[8192];
	int rc = send(fd, &req, sizeof(req), 0) < 0 ? -errno : 0;
	ssize_t n = rc ? -1 : recv(fd, buf, sizeof(buf), 0);
	close(fd);
	if (rc || n < 0)
		return rc ? rc : -errno;
	const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
	if (!NLMSG_OK(nh, (size_t)n) || nh->nlmsg_type != RTM_NEWLINK)
		return -EPROTO;
	const struct rtattr *a = IFLA_RTA(NLMSG_DATA(nh));
	int left = (int)IFLA_PAYLOAD(nh);
	for (; RTA_OK(a, left); a = RTA_NEXT(a, left))
		if (a->rta_type == IFLA_LINK_NETNSID)
			return 1;
	return 0;
}

int dvmq_kdp_veth_note(const char *ifname, char *line, size_t len)
{
	line[0] = '\0';
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	if (kdp_ethtool(ifname, &di) != 0 || strcmp(di.driver, "veth") != 0)
		return 0;
	long peer = 0, self = 0;
	if (kdp_sysfs_int(ifname, "iflink", &peer) != 0 || kdp_sysfs_int(ifname, "ifindex", &self) != 0)
		return 0;
	char pname[IF_NAMESIZE] = "";
	/* the peer in this namespace (an ifindex alone may name another device here) */
	bool here = kdp_peer_elsewhere((unsigned)self) == 0 && if_indextoname((unsigned)peer, pname);
	if (here) {
		struct ethtool_value v = { .cmd = ETHTOOL_GTXCSUM };
		if (kdp_ethtool(pname, &v) != 0 || !v.data)
			return 0;
		snprintf(line, len, "uplink %s is a veth whose peer %s checksums on transmit (tx-checksumming on): the "
			 "frames its stack sends carry partial checksums, which native XDP loses on the way (TCP stalls, "
			 "UDP is discarded at the receiver; ping works): `ethtool -K %s tx off` (TSO goes off with it)",
			 ifname, pname, pname);
		return 1;
	}
	snprintf(line, len, "uplink %s is a veth whose peer (ifindex %ld) is in another network namespace: if that "
		 "peer checksums on transmit (a veth's default), native XDP loses the partial checksums its stack "
		 "leaves (TCP stalls, UDP is discarded): run `ethtool -K PEER tx off` in that namespace", ifname, peer);
	return 1;
}

int dvmq_kdp_gro(const char *ifname)
{
	struct ethtool_value v = { .cmd = ETHTOOL_GGRO };
	int rc = kdp_ethtool(ifname, &v);
	return rc ? rc : v.data != 0;
}

static bool kdp_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int a = 0, b = 0;
	if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return false;
	return a > major || (a == major && b >= minor);
}

int dvmq_kdp_probe(const char *ifname, struct dvmq_kdp_probe *p)
{
	memset(p, 0, sizeof(*p));
	unsigned ifindex = ifname ? if_nametoindex(ifname) : 0;
	p->device = ifindex != 0;
	if (p->device) {
		uint64_t xdp = 0, meta = 0;
		int rc = dvmq_xdp_features(ifindex, &xdp, &meta);
		p->features_known = rc == 0;
		p->native = (xdp & DVMQ_XDP_ACT_BASIC) != 0;
		p->redirect = (xdp & DVMQ_XDP_ACT_REDIRECT) != 0;
		p->frags = (xdp & DVMQ_XDP_ACT_RX_SG) != 0;
		p->vlan_kfunc = (meta & DVMQ_XDP_RX_META_VLAN_TAG) != 0;
		p->rx_hash = (meta & DVMQ_XDP_RX_META_HASH) != 0;
		dvmq_kdp_veth_note(ifname, p->veth_note, sizeof(p->veth_note));
		p->gro = dvmq_kdp_gro(ifname) == 1;
	}
	/* a two-instruction XDP program: CAP_BPF (or CAP_SYS_ADMIN) */
	const struct bpf_insn prog[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS },
					 { .code = BPF_JMP | BPF_EXIT } };
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "dvmq_probe", "GPL", prog, 2, NULL);
	p->bpf_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	/* a cpumap (CAP_NET_ADMIN; CAP_SYS_ADMIN on older kernels); no entry: no kthread */
	LIBBPF_OPTS(bpf_map_create_opts, mo);
	fd = bpf_map_create(BPF_MAP_TYPE_CPUMAP, "dvmq_probe", 4, sizeof(struct bpf_cpumap_val), 1, &mo);
	p->cpumap_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	p->tcx = kdp_kernel_at_least(6, 6);
	return 0;
}
