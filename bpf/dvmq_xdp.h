/* What dvmq's XDP program (dvmq_xdp.bpf.c) and the afxdp port share: map sizes and the indices of
 * the program's counters. Included by the BPF object and by userspace, so plain C types only. */
#ifndef DVMQ_XDP_H
#define DVMQ_XDP_H

#define DVMQ_XDP_MAX_QUEUES 256 /* rx queues an uplink may have sockets on (XSKMAP size) */

/* Per-CPU counters (map dvmq_xdp_stats), summed by userspace. */
enum dvmq_xdp_stat {
	DVMQ_XDP_TO_XSK,      /* redirected to the queue's AF_XDP socket */
	DVMQ_XDP_NO_XSK,      /* passed to the kernel: no socket bound on that queue */
	DVMQ_XDP_LINK_LOCAL,  /* passed to the kernel: IEEE 802.1 link-local (LLDP, LACP, STP) */
	DVMQ_XDP_VLAN_RESTORED, /* a tag the driver stripped put back into the frame (dvmq_xdp_vlan) */
	DVMQ_XDP_VLAN_UNREAD, /* the driver could not say whether it stripped a tag (kfunc error) */
	DVMQ_XDP_VLAN_NO_ROOM, /* dropped: no headroom to put the tag back */
	DVMQ_XDP_STAT_COUNT
};

#endif
