/* The XDP rx metadata a driver offers (Linux 6.3+ netdev netlink family). Shared by the afxdp
 * port and kernel mode (src/kdp), which both put back VLAN tags the driver stripped. */
#ifndef DVMQ_PORT_XDP_RXMETA_H
#define DVMQ_PORT_XDP_RXMETA_H

/* Whether the device's driver hands XDP the VLAN tag it stripped (the netdev family's
 * xdp-rx-metadata-features has vlan-tag, for bpf_xdp_metadata_rx_vlan_tag). Returns 1, 0, or
 * -errno when the kernel cannot say (before Linux 6.3: no netdev family). Any thread. */
int dvmq_xdp_rx_vlan_kfunc(unsigned ifindex);

#endif
