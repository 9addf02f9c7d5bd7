// SPDX-License-Identifier: BSD-2-Clause
/* dvmq's XDP program for the afxdp uplink: every frame goes to the AF_XDP socket of the rx queue
 * it arrived on (XSKMAP by rx_queue_index), with two exceptions passed to the kernel's stack:
 *  - frames to IEEE 802.1 link-local addresses 01:80:c2:00:00:0x (STP, LACP, LLDP, 802.1X): a
 *    switch never forwards them, and the host's own agents (lldpd, a bond) must still see them;
 *  - frames on a queue where no socket is bound (bpf_redirect_map's XDP_PASS default), so that
 *    the host keeps the queues dvmq does not serve.
 * Counters per reason in a per-CPU array (bpf/dvmq_xdp.h). The program does not parse beyond the
 * destination MAC: bad frames are the data plane parser's to count. */
#include <linux/bpf.h>
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

SEC("xdp")
int dvmq_xdp(struct xdp_md *ctx)
{
	const unsigned char *d = (const unsigned char *)(long)ctx->data;
	const unsigned char *end = (const unsigned char *)(long)ctx->data_end;
	if (d + 6 <= end && d[0] == 0x01 && d[1] == 0x80 && d[2] == 0xc2 && d[3] == 0 && d[4] == 0 &&
	    (d[5] & 0xf0) == 0) {
		count(DVMQ_XDP_LINK_LOCAL);
		return XDP_PASS;
	}
	long act = bpf_redirect_map(&dvmq_xsks, ctx->rx_queue_index, XDP_PASS);
	count(act == XDP_REDIRECT ? DVMQ_XDP_TO_XSK : DVMQ_XDP_NO_XSK);
	return (int)act;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
