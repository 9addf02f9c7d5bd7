/* stall.bpf.c — a slow stretch of the host's receive path on one processor, for test_moves.sh.
 *
 * Attached to the uplink's legacy tc ingress (`tc filter add dev UPLINK ingress bpf da obj F sec
 * tc`), which runs after every tcx program, so after kernel mode's delivery counter and before
 * the bridge and the VM's port: each frame handled on processor STALL_CPU spins there for
 * STALL_NS before it goes on, one frame in STALL_ONE_IN (the others keep up with the traffic, so that
 * moves complete in the middle of a sender's burst of one flow, where an overtaking frame shows). It stands for what a real host can put between the two (a vCPU the
 * hypervisor descheduled, netfilter rules, a flood to many ports) on one processor and not on the
 * other: a move counted "delivered" at the uplink while its last frame is still short of the VM's
 * port lets the new processor's frames overtake it. Built by test_moves.sh with clang -target bpf
 * -DSTALL_CPU=N -DSTALL_NS=N -DSTALL_ONE_IN=N. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

static long spin(__u64 i, void *ctx)
{
	(void)i;
	return bpf_ktime_get_ns() >= *(__u64 *)ctx; /* 1 ends the loop */
}

SEC("tc")
int stall(struct __sk_buff *skb)
{
	(void)skb;
	if (bpf_get_smp_processor_id() != STALL_CPU || bpf_get_prandom_u32() % STALL_ONE_IN != 0)
		return TC_ACT_OK;
	__u64 until = bpf_ktime_get_ns() + STALL_NS;
	bpf_loop(1 << 20, spin, &until, 0);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
