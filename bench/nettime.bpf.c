// SPDX-License-Identifier: BSD-2-Clause
/* dvmq-nettime's BPF side (bench/nettime.c): the exact time each CPU spends in the network
 * softirqs (NET_RX, NET_TX), split by where they ran: inside a cpumap kthread (`cpumap/...`,
 * whose own CPU time already includes them: the kthread re-enables bottom halves after each
 * batch and the backlogs behind it run then) or anywhere else (the interrupted task, ksoftirqd,
 * the end of a sender's system call). /proc/stat's softirq column is sampled at the tick on this
 * kernel (no CONFIG_IRQ_TIME_ACCOUNTING) and counts the part inside the kthreads a second time;
 * these sums are clock readings, disjoint from the kthreads' schedstat. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define NET_TX 2u /* enum softirq vectors (include/linux/interrupt.h) */
#define NET_RX 3u

struct nt_cpu {
	unsigned long long start; /* ktime at entry of the softirq running now, 0 if none */
	unsigned int inside;      /* it runs inside a cpumap kthread */
	unsigned int pad;
	unsigned long long ns[2];    /* [outside, inside a cpumap kthread] */
	unsigned long long count[2]; /* softirq runs, likewise */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_cpu);
} nt_cpus SEC(".maps");

SEC("tp_btf/softirq_entry")
int BPF_PROG(nt_entry, unsigned int vec)
{
	__u32 zero = 0;
	struct nt_cpu *c = bpf_map_lookup_elem(&nt_cpus, &zero);
	if (!c || (vec != NET_RX && vec != NET_TX))
		return 0;
	char comm[16];
	bpf_get_current_comm(comm, sizeof(comm));
	c->inside = comm[0] == 'c' && comm[1] == 'p' && comm[2] == 'u' && comm[3] == 'm' && comm[4] == 'a' &&
		    comm[5] == 'p' && comm[6] == '/';
	c->start = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(nt_exit, unsigned int vec)
{
	__u32 zero = 0;
	struct nt_cpu *c = bpf_map_lookup_elem(&nt_cpus, &zero);
	if (!c || (vec != NET_RX && vec != NET_TX) || c->start == 0)
		return 0;
	__u32 i = c->inside ? 1 : 0;
	c->ns[i] += bpf_ktime_get_ns() - c->start;
	c->count[i] += 1;
	c->start = 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
