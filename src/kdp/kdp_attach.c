/* The XDP program onto the uplink through the shared attach module (src/port/xdp_link.c): a BPF
 * link the process owns, never a netlink attach, so the kernel takes the program off when the
 * link's last descriptor closes (destroy, or the process dying, kill -9 included); a dvmq program a
 * dead instance left is removed with a line; a device holding anything else is refused, the
 * owner named, the program left alone. Native XDP unless generic was asked for (then a line says
 * generic is slow). With drain_at_tc, the tc ingress counter goes on through a tcx link, the same
 * way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "../port/xdp_link.h"
#include "kdp_internal.h"

static void kdp_link_log(void *ctx, const char *line)
{
	kdp_log(ctx, DVMQ_KDP_LOG_INFO, "kernel mode: %s", line);
}

/* The tc ingress counter (tcx: BPF_TCX_INGRESS, Linux 6.6; Debian 12's headers are 6.1), before
 * the XDP program so that it has counted every frame the XDP program ever redirects; where the
 * kernel has no tcx, moves wait for the cpumap program's count alone, and a line says so. */
static int kdp_attach_tc(struct dvmq_kdp *k)
{
	if (k->tc_fd < 0)
		return 0;
	/* first in the chain (BPF_F_BEFORE, no anchor): a host program after it may redirect or drop
	 * frames; counted here first, the drain sees every frame the cpumap handed on */
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = 1u << 3 /* BPF_F_BEFORE, Linux 6.6 */);
	k->tc_link_fd = bpf_link_create(k->tc_fd, (int)k->ifindex, (enum bpf_attach_type)46, &lo);
	if (k->tc_link_fd < 0) {
		int e = errno;
		k->tc_link_fd = -1;
		if (e == EPERM || e == EACCES)
			return -EPERM;
		kdp_log(k, DVMQ_KDP_LOG_INFO, "kernel mode %s: no tcx here (%s): an ordered move waits for the cpumap "
			"program's count only, not for GRO to let the frames go", k->cfg.ifname, strerror(e));
		return 0;
	}
	struct dvmq_kern_cfg c;
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(k->cfg_fd, &zero, &c) != 0)
		return -errno;
	c.flags |= DVMQ_KERN_F_TC_DONE | (k->batch_link[0] && !k->cfg.drain_at_tc ? DVMQ_KERN_F_BATCH : 0u);
	return kdp_write_cfg(k, &c);
}

/* Takes the tc counter off again (a failed XDP attach), and the drain back to the cpumap count. */
static void kdp_detach_tc(struct dvmq_kdp *k)
{
	if (k->tc_link_fd < 0)
		return;
	close(k->tc_link_fd);
	k->tc_link_fd = -1;
	struct dvmq_kern_cfg c;
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(k->cfg_fd, &zero, &c) == 0) {
		c.flags &= ~(DVMQ_KERN_F_TC_DONE | DVMQ_KERN_F_BATCH);
		kdp_write_cfg(k, &c);
	}
}

int kdp_attach(struct dvmq_kdp *k, char *err, size_t len)
{
	const char *dev = k->cfg.ifname;
	bool generic = k->cfg.xdp_mode == DVMQ_KDP_XDP_GENERIC;
	int rc = kdp_attach_tc(k);
	if (rc == -EPERM)
		return kdp_fail(err, len, rc, "kernel mode %s: attaching a tc program needs CAP_NET_ADMIN and CAP_BPF", dev);
	if (rc)
		return kdp_fail(err, len, rc, "kernel mode %s: the tc ingress counter: %s", dev, strerror(-rc));
	char why[300] = "";
	rc = dvmq_xdp_link_attach((int)k->ifindex, k->xdp_fd, generic ? DVMQ_XDP_LINK_GENERIC : DVMQ_XDP_LINK_NATIVE,
				  &k->link_fd, k->how, sizeof(k->how), kdp_link_log, k, why, sizeof(why));
	if (rc) {
		k->link_fd = -1;
		kdp_detach_tc(k); /* nothing of dvmq's stays on the device after a failed attach */
		if (!generic && (rc == -EOPNOTSUPP || rc == -EINVAL))
			return kdp_fail(err, len, -EOPNOTSUPP, "kernel mode %s: %s: the driver has no native XDP "
					"(xdp_mode = generic runs the program in the stack, slowly)", dev, why);
		return kdp_fail(err, len, rc, "kernel mode %s: %s%s", dev, why,
				rc == -EBUSY && strstr(why, "another XDP program")
					? " (remove it: kernel mode steers through the device's XDP hook, which holds one "
					  "program)"
					: "");
	}
	if (generic)
		kdp_log(k, DVMQ_KDP_LOG_WARN, "kernel mode %s: generic XDP, as asked: the stack runs the program on an skb "
			"it has already built, slower than native XDP", dev);
	char veth[400];
	if (dvmq_kdp_veth_note(dev, veth, sizeof(veth)))
		kdp_log(k, DVMQ_KDP_LOG_WARN, "kernel mode: %s", veth);
	if (dvmq_kdp_gro(dev) == 0)
		kdp_log(k, DVMQ_KDP_LOG_INFO, "kernel mode %s: GRO is off on the device, so the cpumap kthreads do no GRO "
			"for its frames either (`ethtool -K %s gro on`)",
			dev, dev);
	return 0;
}
