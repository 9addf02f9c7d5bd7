/* What XDP a device's driver offers (xdp_rxmeta.h): the netdev generic netlink family's
 * xdp-features and xdp-rx-metadata-features, asked without libnl (two requests, one socket). */
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xdp_rxmeta.h"

/* the netdev generic netlink family (Linux 6.3+; the rx metadata attribute 6.8+), numbers as in
 * <linux/netdev.h>, which Debian 12's headers do not have yet */
#define XNL_CMD_DEV_GET 1
#define XNL_A_DEV_IFINDEX 1
#define XNL_A_DEV_XDP_FEATURES 3
#define XNL_A_DEV_XDP_RX_METADATA_FEATURES 5

/* One generic netlink request (family, cmd, one u32 or string attribute) and its reply into
 * buf. Returns the reply's length, or -errno (an error the kernel answered included). */
static int xnl_ask(int fd, uint16_t family, uint8_t cmd, uint16_t attr, const void *val, uint16_t val_len,
		   char *buf, size_t cap)
{
	struct {
		struct nlmsghdr nh;
		struct genlmsghdr gh;
		char attrs[64];
	} req = { .nh = { .nlmsg_type = family, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		  .gh = { .cmd = cmd, .version = 1 } };
	struct nlattr *na = (struct nlattr *)req.attrs;
	na->nla_type = attr;
	na->nla_len = (uint16_t)(NLA_HDRLEN + val_len);
	memcpy((char *)na + NLA_HDRLEN, val, val_len);
	req.nh.nlmsg_len = (uint32_t)(NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(na->nla_len));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	ssize_t n = recv(fd, buf, cap, 0);
	if (n < 0)
		return -errno;
	const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
	if ((size_t)n < sizeof(*nh) || !NLMSG_OK(nh, (size_t)n))
		return -EPROTO;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nh);
		return e->error ? e->error : -EPROTO;
	}
	return (int)n;
}

/* The first attribute `type` of the generic netlink reply in buf, or NULL. */
static const struct nlattr *xnl_attr(const char *buf, int len, uint16_t type, uint16_t min_len)
{
	const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
	uint32_t n = nh->nlmsg_len < (uint32_t)len ? nh->nlmsg_len : (uint32_t)len;
	const char *p = (const char *)NLMSG_DATA(nh) + GENL_HDRLEN, *end = buf + n;
	while (p + NLA_HDRLEN <= end) {
		const struct nlattr *a = (const struct nlattr *)p;
		if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end)
			return NULL;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a->nla_len >= NLA_HDRLEN + min_len ? a : NULL;
		p += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

int dvmq_xdp_features(unsigned ifindex, uint64_t *xdp, uint64_t *rx_meta)
{
	*xdp = *rx_meta = 0;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	char buf[4096];
	int rc = xnl_ask(fd, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME, "netdev", 7, buf, sizeof(buf));
	const struct nlattr *a = rc > 0 ? xnl_attr(buf, rc, CTRL_ATTR_FAMILY_ID, 2) : NULL;
	if (rc > 0 && !a)
		rc = -EPROTO;
	if (rc > 0) {
		uint16_t family;
		memcpy(&family, (const char *)a + NLA_HDRLEN, 2);
		uint32_t ifi = ifindex;
		rc = xnl_ask(fd, family, XNL_CMD_DEV_GET, XNL_A_DEV_IFINDEX, &ifi, 4, buf, sizeof(buf));
	}
	if (rc > 0) {
		a = xnl_attr(buf, rc, XNL_A_DEV_XDP_FEATURES, 8);
		if (a)
			memcpy(xdp, (const char *)a + NLA_HDRLEN, 8);
		a = xnl_attr(buf, rc, XNL_A_DEV_XDP_RX_METADATA_FEATURES, 8);
		if (a)
			memcpy(rx_meta, (const char *)a + NLA_HDRLEN, 8);
		rc = 0;
	}
	close(fd);
	return rc;
}

int dvmq_xdp_rx_vlan_kfunc(unsigned ifindex)
{
	uint64_t xdp, meta;
	int rc = dvmq_xdp_features(ifindex, &xdp, &meta);
	return rc ? rc : (meta & DVMQ_XDP_RX_META_VLAN_TAG) != 0;
}
