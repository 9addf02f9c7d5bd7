// SPDX-License-Identifier: BSD-2-Clause
/* dvmq's XDP program for the afxdp uplink: every frame goes to the AF_XDP socket of the rx queue
 * it arrived on (XSKMAP by rx_queue_index), with two exceptions passed to the kernel's stack:
 *  - frames to IEEE 802.1 link-local addresses 01:80:c2:00:00:0x (STP, LACP, LLDP, 802.1X): a
 *    switch never forwards them, and the host's own agents (lldpd, a bond) must still see them;
 *  - frames on a queue where no socket is bound (bpf_redirect_map's XDP_PASS default), so that
 *    the host keeps the queues dvmq does not serve.
 * VLAN tag: a driver that strips the 802.1Q tag on receive (rxvlan on; a veth whose peer sent with
 * txvlan on) keeps it outside the frame's bytes, where an AF_XDP socket never sees it. Program
 * dvmq_xdp_vlan (dev-bound: loaded for one device, the port's) asks the driver through the XDP
 * rx metadata kfunc bpf_xdp_metadata_rx_vlan_tag and, for a frame bound for a socket, puts the
 * tag back into the frame's bytes: the data plane then sees the VLAN as on the wire. Frames
 * passed to the kernel are left as they are (the stack still has the tag in its metadata).
 * Program dvmq_xdp is the same without the kfunc, for drivers or kernels that lack it (it comes
 * first: libxdp takes the section's first program).
 * Counters per reason in a per-CPU array (bpf/dvmq_xdp.h). The program does not parse beyond the
 * destination MAC: bad frames are the data plane parser's to count. */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "dvmq_xdp.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, DVMQ_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} dvmq_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DVMQ_XDP_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} dvmq_xdp_stats SEC(".maps");

static __always_inline void count(__u32 what)
{
	__u64 *c = bpf_map_lookup_elem(&dvmq_xdp_stats, &what);
	if (c)
		*c += 1;
}

/* Since Linux 6.8 (veth since 6.8; mlx5, ice, ...): 0 and the stripped tag, -ENODATA when the
 * frame had none, -EOPNOTSUPP when the driver cannot say. */
extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx, __be16 *vlan_proto, __u16 *vlan_tci) __ksym __weak;

/* count_xsk: whether a redirect counts as handed to the socket here; dvmq_xdp_vlan counts it only
 * once the tag is back (a frame it then drops must not count as handed over too). */
static __always_inline int dvmq_redirect(struct xdp_md *ctx, int count_xsk)
{
	const unsigned char *d = (const unsigned char *)(long)ctx->data;
	const unsigned char *end = (const unsigned char *)(long)ctx->data_end;
	if (d + 6 <= end && d[0] == 0x01 && d[1] == 0x80 && d[2] == 0xc2 && d[3] == 0 && d[4] == 0 &&
	    (d[5] & 0xf0) == 0) {
		count(DVMQ_XDP_LINK_LOCAL);
		return XDP_PASS;
	}
	long act = bpf_redirect_map(&dvmq_xsks, ctx->rx_queue_index, XDP_PASS);
	if (act != XDP_REDIRECT)
		count(DVMQ_XDP_NO_XSK);
	else if (count_xsk)
		count(DVMQ_XDP_TO_XSK);
	return (int)act;
}

SEC("xdp")
int dvmq_xdp(struct xdp_md *ctx)
{
	return dvmq_redirect(ctx, 1);
}

SEC("xdp")
int dvmq_xdp_vlan(struct xdp_md *ctx)
{
	int act = dvmq_redirect(ctx, 0);
	if (act != XDP_REDIRECT)
		return act;
	__be16 proto = 0;
	__u16 tci = 0;
	int rc = bpf_xdp_metadata_rx_vlan_tag(ctx, &proto, &tci);
	if (rc != 0) {
		if (rc != -61 /* ENODATA: untagged */)
			count(DVMQ_XDP_VLAN_UNREAD);
		count(DVMQ_XDP_TO_XSK);
		return act;
	}
	/* the redirect happens when the program returns: the frame it takes is the one grown here */
	if (bpf_xdp_adjust_head(ctx, -4) != 0) {
		count(DVMQ_XDP_VLAN_NO_ROOM);
		return XDP_DROP;
	}
	unsigned char *d = (unsigned char *)(long)ctx->data;
	const unsigned char *end = (const unsigned char *)(long)ctx->data_end;
	if (d + 16 > end) {
		count(DVMQ_XDP_VLAN_NO_ROOM);
		return XDP_DROP;
	}
	__builtin_memmove(d, d + 4, 12);
	__u16 tpid = proto ? proto : bpf_htons(0x8100);
	__builtin_memcpy(d + 12, &tpid, 2);
	d[14] = (unsigned char)(tci >> 8);
	d[15] = (unsigned char)tci;
	count(DVMQ_XDP_VLAN_RESTORED);
	count(DVMQ_XDP_TO_XSK);
	return act;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
