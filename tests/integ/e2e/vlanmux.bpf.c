/* vlanmux.bpf.c — an 802.1Q trunk split into access links with tc BPF, for the e2e tests.
 *
 * Why: the test kernel has neither VLAN devices (CONFIG_VLAN_8021Q) nor bridge VLAN filtering, so
 * the "external host" cannot have VLAN subinterfaces. Instead lib.sh pairs a veth per VLAN with
 * the trunk: what the trunk receives tagged VID goes out of that VLAN's veth untagged
 * (trunk_in), what the VLAN's veth receives goes out of the trunk tagged (access_in). Everything
 * else (untagged, unknown VID) is dropped, as a VLAN-aware switch port would.
 * Built by lib.sh with clang -target bpf and -D: VLAN_A/IF_A, VLAN_B/IF_B (trunk_in: the VIDs and
 * the ifindexes of their veths), VLAN and TRUNK (access_in: the VID to push and the trunk's ifindex).
 * Attached with `tc filter add dev X ingress bpf da obj F sec S`. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifdef TRUNK_SIDE
SEC("tc/trunk")
int trunk_in(struct __sk_buff *skb)
{
	__u32 out;

	/* the receive path moved any tag into the metadata before tc ingress */
	if (!skb->vlan_present)
		return TC_ACT_SHOT;
	if ((skb->vlan_tci & 0xfff) == VLAN_A)
		out = IF_A;
	else if ((skb->vlan_tci & 0xfff) == VLAN_B)
		out = IF_B;
	else
		return TC_ACT_SHOT;
	if (bpf_skb_vlan_pop(skb))
		return TC_ACT_SHOT;
	return bpf_redirect(out, 0);
}
#else
SEC("tc/access")
int access_in(struct __sk_buff *skb)
{
	if (skb->vlan_present)
		return TC_ACT_SHOT; /* an access link carries untagged frames only */
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), VLAN))
		return TC_ACT_SHOT;
	return bpf_redirect(TRUNK, 0);
}
#endif

char LICENSE[] SEC("license") = "GPL";
