/* The XDP program onto the uplink through a BPF link the process owns (never a netlink attach):
 * the kernel takes it off when the link's last descriptor closes, at destroy or when the process
 * dies. Native XDP unless generic was asked for (then a line says generic is slow). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <linux/if_link.h>

#include "kdp_internal.h"

int kdp_attach(struct dvmq_kdp *k, char *err, size_t len)
{
	const char *dev = k->cfg.ifname;
	bool generic = k->cfg.xdp_mode == DVMQ_KDP_XDP_GENERIC;
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
	k->link_fd = bpf_link_create(k->xdp_fd, (int)k->ifindex, BPF_XDP, &lo);
	if (k->link_fd < 0) {
		int e = errno;
		k->link_fd = -1;
		if (e == EPERM || e == EACCES)
			return kdp_fail(err, len, -EPERM, "kernel mode %s: attaching an XDP program is not allowed (CAP_NET_ADMIN)", dev);
		if (e == EBUSY || e == EEXIST)
			return kdp_fail(err, len, -EBUSY, "kernel mode %s: another XDP program is attached to the device", dev);
		if (!generic && (e == EOPNOTSUPP || e == EINVAL))
			return kdp_fail(err, len, -EOPNOTSUPP, "kernel mode %s: the driver has no native XDP (xdp_mode = generic "
					"runs it in the stack, slowly)", dev);
		return kdp_fail(err, len, -e, "kernel mode %s: attaching the XDP program: %s", dev, strerror(e));
	}
	snprintf(k->describe, sizeof(k->describe), "BPF link, %s XDP", generic ? "generic" : "native");
	if (k->tc_fd >= 0) {
		/* BPF_TCX_INGRESS (Linux 6.6; Debian 12's headers are 6.1): a link, gone with the process */
		k->tc_link_fd = bpf_link_create(k->tc_fd, (int)k->ifindex, (enum bpf_attach_type)46, NULL);
		if (k->tc_link_fd < 0) {
			int e = errno;
			k->tc_link_fd = -1;
			return kdp_fail(err, len, -e, "kernel mode %s: attaching the tc ingress counter (tcx): %s", dev, strerror(e));
		}
	}
	if (generic)
		kdp_log(k, DVMQ_KDP_LOG_WARN, "kernel mode %s: generic XDP, as asked: the stack runs the program on an skb "
			"it has already built, slower than native XDP", dev);
	return 0;
}
