/* The XDP rx metadata a driver offers (Linux 6.3+ netdev netlink family). Shared by the afxdp
 * port and kernel mode (src/kdp), which both put back VLAN tags the driver stripped. */
#ifndef DVMQ_PORT_XDP_RXMETA_H
#define DVMQ_PORT_XDP_RXMETA_H

#include <stdint.h>

/* Bits of the netdev family's xdp-features (NETDEV_XDP_ACT_*) and xdp-rx-metadata-features
 * (NETDEV_XDP_RX_METADATA_*), as in <linux/netdev.h>, which Debian 12's headers lack. */
#define DVMQ_XDP_ACT_BASIC 1u      /* native XDP: XDP_PASS, XDP_DROP, XDP_ABORTED */
#define DVMQ_XDP_ACT_REDIRECT 2u   /* native XDP_REDIRECT (a cpumap, a devmap, an AF_XDP socket) */
#define DVMQ_XDP_ACT_RX_SG 32u     /* multi-buffer frames (frags) in native XDP */
#define DVMQ_XDP_RX_META_HASH 2u
#define DVMQ_XDP_RX_META_VLAN_TAG 4u

/* The device's xdp-features and xdp-rx-metadata-features (both 0 when the kernel reports none).
 * Returns 0, or -errno when the kernel cannot say (before Linux 6.3: no netdev family; -ENODEV).
 * Any thread. */
int dvmq_xdp_features(unsigned ifindex, uint64_t *xdp, uint64_t *rx_meta);

/* Whether the device's driver hands XDP the VLAN tag it stripped (the netdev family's
 * xdp-rx-metadata-features has vlan-tag, for bpf_xdp_metadata_rx_vlan_tag). Returns 1, 0, or
 * -errno when the kernel cannot say (before Linux 6.3: no netdev family). Any thread. */
int dvmq_xdp_rx_vlan_kfunc(unsigned ifindex);

#endif
