// SPDX-License-Identifier: BSD-2-Clause
/* Kernel mode's BPF programs: dvmq steers the kernel's own receive path instead of switching
 * frames itself.
 *  - dvmq_kern (XDP, on the uplink): IEEE 802.1 link-local frames (01:80:c2:00:00:0x) and frames
 *    too short for their Ethernet/802.1Q header pass where they arrived; every other frame is
 *    classified by (destination MAC, VLAN) into a queue (no filter: queue 0, the default queue)
 *    and redirected through the cpumap to the processor serving that queue, whose cpumap kthread
 *    then runs GRO, the bridge or OVS, and the VM's port. A processor without a cpumap entry
 *    makes the frame pass here (counted), never lost. A frame whose queue's processor is the CPU
 *    that received it passes here instead (XDP_PASS: that CPU's own path, no ring and no kthread
 *    wake-up), unless a frame of its queue may still be in that CPU's ring (local_ok). A filter
 *    to a queue group (VMMQ) sends the frame through the group's table instead: its Toeplitz hash
 *    picks a bucket, and the bucket's slot is a queue like any other to everything below
 *    (dvmq_kern.h).
 *  - dvmq_kern_vlan: the same, dev-bound, for drivers that strip the 802.1Q tag (rxvlan; a veth
 *    whose peer sent with txvlan on): the tag, read with bpf_xdp_metadata_rx_vlan_tag, is put
 *    back into the frame's bytes, because the skb the cpumap kthread builds on the serving
 *    processor has no other place to carry it (and taken out again for a frame that stays here).
 *  - dvmq_kern_dev: the same, dev-bound, with the driver's rx metadata as the config asks: the VLAN
 *    tag put back (DVMQ_KERN_F_VLAN_KFUNC), and a queue group's bucket from the NIC's own RSS hash
 *    (bpf_xdp_metadata_rx_hash, DVMQ_KERN_F_NIC_HASH) where the driver has one for the frame.
 *  - dvmq_kern_cpu (cpumap program, on the serving processor): counts per queue what this
 *    processor processed, which is also what an ordered move waits for (bpf/dvmq_kern.h).
 *  - dvmq_kern_drops (tp_btf/xdp_cpumap_enqueue): frames the cpumap dropped because the serving
 *    processor's ring was full, exactly, per destination processor.
 *  - dvmq_kern_batch (tp_btf/xdp_cpumap_kthread) and dvmq_kern_left (tp_btf/sched_switch): count
 *    each processor's cpumap kthread's batches and its leaving the processor, so that an ordered
 *    move can tell the batch that delivered the old epoch's last frame has ended (dvmq_kern.h);
 *    dvmq_kern_bh (tp_btf/softirq_exit) the same for a frame that stayed local (NET_RX's end).
 *  - dvmq_kern_plain: a plain redirect by (MAC, VLAN) with nothing else, never attached: the
 *    baseline the cost of ordering and counting is measured against.
 * Invariant: a frame the XDP program redirects is counted in its queue's `steer` word (one
 * fetch-and-add, which also tells it the processor) and carries its queue in a 16-byte prefix (struct dvmq_kern_prefix);
 * the cpumap program takes the prefix away and counts the frame in its processor's per-CPU
 * cpu_packets for the queue. A move flips `steer` only with a compare-and-swap of the whole word,
 * so each frame is counted in exactly one epoch (bpf/dvmq_kern.h). */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "dvmq_kern.h"

/* sizes are set by the kdp library before loading (bpf_map__set_max_entries) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct dvmq_kern_key);
	__type(value, __u32);
} dvmq_kern_filters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct dvmq_kern_queue);
} dvmq_kern_queues SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} dvmq_kern_cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct dvmq_kern_qstat);
} dvmq_kern_qstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DVMQ_KERN_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} dvmq_kern_stats SEC(".maps");

/* frames dropped by a full cpumap ring, by destination processor (per receiving CPU) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} dvmq_kern_cpudrops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dvmq_kern_cfg);
} dvmq_kern_config SEC(".maps");

/* each processor's cpumap kthread: batches and departures (dvmq_kern.h) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dvmq_kern_kthread);
} dvmq_kern_kthreads SEC(".maps");

/* The one field of the kernel's task_struct read here (CO-RE: relocated against the kernel's BTF). */
struct task_struct {
	int pid;
} __attribute__((preserve_access_index));
struct xdp_cpumap_stats;

/* VMMQ: the Toeplitz tables (dvmq_kern.h), written once by userspace */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dvmq_kern_rss);
} dvmq_kern_rss SEC(".maps");

static __always_inline void count(__u32 what)
{
	__u64 *c = bpf_map_lookup_elem(&dvmq_kern_stats, &what);
	if (c)
		*c += 1;
}

/* Since Linux 6.8 (veth 6.8; mlx5, ice, ...): 0 and the stripped tag, -ENODATA when the frame had
 * none, -EOPNOTSUPP when the driver cannot say. */
extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx, __be16 *vlan_proto, __u16 *vlan_tci) __ksym __weak;

static __always_inline int is_vlan(__u16 proto_be)
{
	return proto_be == bpf_htons(0x8100) || proto_be == bpf_htons(0x88a8);
}

/* The frame's key. Returns 0, 1 when it has two tags (classified by the outer), -1 when it is too
 * short for its headers, -2 for an IEEE 802.1 link-local destination. */
static __always_inline int parse(struct xdp_md *ctx, struct dvmq_kern_key *k)
{
	const unsigned char *d = (const unsigned char *)(long)ctx->data;
	const unsigned char *end = (const unsigned char *)(long)ctx->data_end;
	if (d + 14 > end)
		return -1;
	if (d[0] == 0x01 && d[1] == 0x80 && d[2] == 0xc2 && d[3] == 0 && d[4] == 0 && (d[5] & 0xf0) == 0)
		return -2;
	__builtin_memcpy(k->mac, d, 6);
	k->vlan = 0;
	__u16 proto = *(const __u16 *)(d + 12);
	if (!is_vlan(proto))
		return 0;
	if (d + 18 > end)
		return -1;
	k->vlan = bpf_ntohs(*(const __u16 *)(d + 14)) & 0x0fff;
	if (!is_vlan(*(const __u16 *)(d + 16)))
		return 0;
	return d + 22 > end ? -1 : 1;
}

/* h ^= the Toeplitz hash of the n bytes at p (the caller checked they are in the frame) as input
 * bytes row.. : one table lookup per byte */
#define RSS_BYTES(h, t, p, row, n)                                   \
	do {                                                         \
		_Pragma("unroll") for (int i_ = 0; i_ < (n); i_++)   \
			(h) ^= (t)->t[(row) + i_][(p)[i_]];          \
	} while (0)

/* The RSS bucket of the frame d..end (from its Ethernet header; up to two tags in the frame are
 * skipped): the Toeplitz hash of dvmq/toeplitz.h's input, the IPv4 or IPv6 addresses, then the
 * ports of TCP and UDP when the frame is not a fragment (IPv4: more-fragments or an offset; IPv6:
 * a fragment header, or any other extension header, before the ports), low 7 bits. Frames that
 * are not IP: bucket 0. 12 lookups for IPv4 with ports, 36 for IPv6. */
static __always_inline __u32 rss_bucket(const unsigned char *d, const unsigned char *end)
{
	__u32 zero = 0;
	const struct dvmq_kern_rss *t = bpf_map_lookup_elem(&dvmq_kern_rss, &zero);
	if (!t || d + 14 > end)
		return 0;
	__u16 et = *(const __u16 *)(d + 12);
	const unsigned char *l3 = d + 14;
	if (is_vlan(et)) {
		if (d + 18 > end)
			return 0;
		et = *(const __u16 *)(d + 16);
		l3 = d + 18;
		if (is_vlan(et)) {
			if (d + 22 > end)
				return 0;
			et = *(const __u16 *)(d + 20);
			l3 = d + 22;
		}
	}
	__u32 h = 0;
	if (et == bpf_htons(0x0800)) {
		if (l3 + 20 > end)
			return 0;
		RSS_BYTES(h, t, l3 + 12, 0, 8);
		__u32 ihl = (__u32)(l3[0] & 0x0f) * 4;
		if (ihl >= 20 && !(*(const __u16 *)(l3 + 6) & bpf_htons(0x3fff)) && (l3[9] == 6 || l3[9] == 17)) {
			const unsigned char *l4 = l3 + ihl;
			if (l4 + 4 <= end)
				RSS_BYTES(h, t, l4, 8, 4);
		}
	} else if (et == bpf_htons(0x86dd)) {
		if (l3 + 40 > end)
			return 0;
		RSS_BYTES(h, t, l3 + 8, 0, 32);
		if (l3[6] == 6 || l3[6] == 17) {
			const unsigned char *l4 = l3 + 40;
			if (l4 + 4 <= end)
				RSS_BYTES(h, t, l4, 32, 4);
		}
	}
	return h & (DVMQ_KERN_BUCKETS - 1);
}

static __always_inline __u32 lookup_queue(const struct dvmq_kern_key *k, __u32 n_queues, int *fallback)
{
	__u32 *q = bpf_map_lookup_elem(&dvmq_kern_filters, k);
	if (!q) {
		*fallback = DVMQ_KERN_RX_DEFAULT;
		return 0;
	}
	if (*q >= n_queues) {
		*fallback = DVMQ_KERN_RX_BAD_QUEUE;
		return 0;
	}
	*fallback = -1;
	return *q;
}

/* The queue slot of frame d..end with key k: its filter's queue (none: the default queue; a queue
 * >= n_queues: the default queue too), or for a filter to a queue group the slot of the frame's
 * bucket (dvmq_kern.h): nic (the NIC's hash's bucket) when >= 0, else its Toeplitz bucket.
 * *what: the counter to add for a redirected frame, or -1. */
static __always_inline __u32 lookup_slot(const struct dvmq_kern_key *k, const struct dvmq_kern_cfg *cfg,
					 const unsigned char *d, const unsigned char *end, __s32 nic, int *what)
{
	__u32 *v = bpf_map_lookup_elem(&dvmq_kern_filters, k);
	if (!v) {
		*what = DVMQ_KERN_RX_DEFAULT;
		return 0;
	}
	__u32 q = *v;
	if (q & DVMQ_KERN_GROUP) {
		__u32 g = q & ~DVMQ_KERN_GROUP;
		if (g >= cfg->n_groups) {
			*what = DVMQ_KERN_RX_BAD_QUEUE;
			return 0;
		}
		*what = DVMQ_KERN_RX_HASHED;
		if (nic >= 0) {
			count(DVMQ_KERN_RX_NIC_HASHED);
			return cfg->n_queues + g * DVMQ_KERN_BUCKETS + ((__u32)nic & (DVMQ_KERN_BUCKETS - 1));
		}
		return cfg->n_queues + g * DVMQ_KERN_BUCKETS + rss_bucket(d, end);
	}
	if (q >= cfg->n_queues) {
		*what = DVMQ_KERN_RX_BAD_QUEUE;
		return 0;
	}
	*what = -1;
	return q;
}

/* What processor cpu's cpumap program counted for queue q (that processor's per-CPU copy). */
static __always_inline const struct dvmq_kern_qstat *served_on(__u32 q, __u32 cpu)
{
	return bpf_map_lookup_percpu_elem(&dvmq_kern_qstats, &q, cpu);
}

/* Whether the epoch of w (on its processor) is drained: every frame sent was processed (with
 * DVMQ_KERN_F_TC_DONE: and left GRO), or, one receiving CPU, the last frame sent was processed,
 * the ones before it processed or dropped (and every processed one left GRO). */
static __always_inline int drained(const struct dvmq_kern_queue *s, __u32 q, __u64 w, const struct dvmq_kern_cfg *cfg,
				   __u64 *last_ns)
{
	__u64 sent = DVMQ_KERN_STEER_SENT(w);
	__u32 e = DVMQ_KERN_STEER_EPOCH(w);
	if (sent == 0)
		return 1;
	const struct dvmq_kern_qstat *st = served_on(q, DVMQ_KERN_STEER_CPU(w));
	if (!st)
		return 0;
	/* a bucket hashed by the NIC: the tc counter cannot find it (the NIC's hash is not in the skb) */
	int tc = (cfg->flags & DVMQ_KERN_F_TC_DONE) != 0 &&
		 !(q >= cfg->n_queues && (cfg->flags & DVMQ_KERN_F_NIC_HASH));
	*last_ns = st->last_ns;
	/* The order of these reads is the point (dvmq_kern.h): a frame of this epoch counted first,
	 * so that the last frame read next is of this epoch, not one of 16 epochs ago whose index
	 * happens to match; then the counts again, which include that last frame. */
	__u64 seen = *(const volatile __u64 *)&st->cpu_packets - s->base[e & 1];
	__u32 last_seq = *(const volatile __u32 *)&st->last_seq;
	__u32 last_epoch = *(const volatile __u32 *)&st->last_epoch;
	__u64 processed = *(const volatile __u64 *)&st->cpu_packets - s->base[e & 1];
	__u64 delivered = *(const volatile __u64 *)&st->delivered - s->tcbase[e & 1];
	int counted = (tc ? delivered : processed) == sent;
	if (!counted) {
		__u32 rx = *(volatile __u32 *)&s->rx_cpu;
		counted = seen > 0 && rx != DVMQ_KERN_RX_NONE && rx != DVMQ_KERN_RX_MULTI && last_epoch == e + 1 &&
			  last_seq == (__u32)(sent - 1) && (!tc || delivered == processed);
	}
	if (!counted || !tc || !(cfg->flags & DVMQ_KERN_F_BATCH))
		return counted;
	/* read after `delivered` (written after it): the batch that delivered the last frame counted */
	__u64 last_iter = *(const volatile __u64 *)&st->last_iter;
	__u32 zero = 0;
	const struct dvmq_kern_kthread *kt = bpf_map_lookup_percpu_elem(&dvmq_kern_kthreads, &zero,
									DVMQ_KERN_STEER_CPU(w));
	return !kt || *(const volatile __u64 *)&kt->iter > last_iter;
}

/* A move is pending (next_cpu differs from steer's cpu): flip steer to the next processor when
 * the current epoch is drained (ordered mode; with a guard, the old processor has also processed
 * none of the queue's frames for guard_ns), or at once (unordered mode). The flip writes the new
 * epoch's base and resets rx_cpu before its compare-and-swap: the base slot is the one of the
 * epoch before this one, which nothing reads any more; a frame of this epoch that sees the reset
 * rx_cpu marks it MULTI, which only makes the check stricter. */
static __always_inline void steer_move(struct dvmq_kern_queue *s, __u32 q, __u64 w, __u32 next,
				       const struct dvmq_kern_cfg *cfg)
{
	__u32 ne = (DVMQ_KERN_STEER_EPOCH(w) + 1) & DVMQ_KERN_EPOCH_MASK;
	__u64 last_ns = 0;
	int ordered = (cfg->flags & DVMQ_KERN_F_ORDERED) != 0;
	if (ordered) {
		if (!drained(s, q, w, cfg, &last_ns))
			return;
		if (cfg->guard_ns && DVMQ_KERN_STEER_SENT(w) && bpf_ktime_get_ns() - last_ns < cfg->guard_ns)
			return;
	}
	const struct dvmq_kern_qstat *nst = served_on(q, next);
	if (!nst)
		return; /* not a possible CPU: userspace never asks for one */
	/* the new processor's counts, then the word again: unchanged, it proves the counts predate
	 * any flip (so hold no frame of the new epoch), and a store of them that lands after another
	 * receiving CPU's winning flip writes that flip's own values. Without the check, a CPU that
	 * lost the race could read the counts after the winner's flip and new frames, and overwrite
	 * the new epoch's base with them (that epoch would then never drain by count). */
	__u64 nb = *(const volatile __u64 *)&nst->cpu_packets;
	__u64 ntb = *(const volatile __u64 *)&nst->delivered;
	if (*(volatile __u64 *)&s->steer != w)
		return;
	s->base[ne & 1] = nb;
	s->tcbase[ne & 1] = ntb;
	*(volatile __u32 *)&s->rx_cpu = DVMQ_KERN_RX_NONE;
	if (__sync_val_compare_and_swap(&s->steer, w, DVMQ_KERN_STEER(next, ne, 0)) == w)
		count(ordered ? DVMQ_KERN_MOVE_ORDERED : DVMQ_KERN_MOVE_UNORDERED);
}

/* Records which receiving CPU sends this epoch's frames (see dvmq_kern.h): the epoch's first frame
 * claims rx_cpu, a frame from any other CPU makes it MULTI. Writes only on those two events. */
static __always_inline void note_rx_cpu(struct dvmq_kern_queue *s, __u64 w, __u32 me)
{
	if (DVMQ_KERN_STEER_SENT(w) == 0) {
		__sync_val_compare_and_swap(&s->rx_cpu, DVMQ_KERN_RX_NONE, me);
		return;
	}
	__u32 rx = *(volatile __u32 *)&s->rx_cpu;
	if (rx != me && rx != DVMQ_KERN_RX_MULTI)
		__sync_lock_test_and_set(&s->rx_cpu, DVMQ_KERN_RX_MULTI);
}

/* Whether frame w of queue q (counted in steer already) may be processed here, in the receiving
 * CPU's own bottom half, instead of through the cpumap (DVMQ_KERN_F_LOCAL): the queue's processor
 * is this CPU, and no frame of the queue sent before it can still be on its way through this
 * CPU's cpumap ring or its kthread (whose GRO holds frames between batches), so it overtakes
 * none: every frame of the epoch came from this CPU (each then took this path), or all of them
 * have been delivered (counted as an ordered move's drain counts them: after GRO where the tc
 * counter can, else processed). A frame here costs what the plain path costs: no ring, no kthread
 * wake-up, no second skb. st: this CPU's counters of slot q. */
static __always_inline int local_ok(const struct dvmq_kern_queue *s, const struct dvmq_kern_qstat *st, __u32 q,
				    __u64 w, const struct dvmq_kern_cfg *cfg, __u32 me)
{
	if (!(cfg->flags & DVMQ_KERN_F_LOCAL) || DVMQ_KERN_STEER_CPU(w) != me)
		return 0;
	if (*(volatile __u32 *)&s->rx_cpu == me)
		return 1;
	/* a bucket hashed by the NIC: the tc counter cannot find it, and the cpumap program counts
	 * before the kthread's GRO, which may still hold a frame of it (Linux 6.15+): only the rule
	 * above (every frame of the epoch from this CPU) is safe there */
	if (q >= cfg->n_queues && (cfg->flags & DVMQ_KERN_F_NIC_HASH))
		return 0;
	__u32 e = DVMQ_KERN_STEER_EPOCH(w);
	int tc = (cfg->flags & DVMQ_KERN_F_TC_DONE) != 0;
	__u64 done = tc ? st->delivered - s->tcbase[e & 1] : st->cpu_packets - s->base[e & 1];
	return done == DVMQ_KERN_STEER_SENT(w);
}

/* Counts a frame of the queue as this processor's, as the cpumap program does for the frames
 * the ring brings (the drain of an ordered move reads these) */
static __always_inline void count_served(struct dvmq_kern_qstat *st, const struct dvmq_kern_cfg *cfg, __u64 len,
					 __u32 seq, __u32 epoch1)
{
	st->cpu_packets += 1;
	st->cpu_bytes += len;
	/* after the counts (dvmq_kern.h) */
	*(volatile __u32 *)&st->last_seq = seq;
	*(volatile __u32 *)&st->last_epoch = epoch1;
	if (cfg->guard_ns)
		st->last_ns = bpf_ktime_get_ns();
}

static __always_inline int classify_redirect(struct xdp_md *ctx, __s32 nic)
{
	__u32 zero = 0;
	const struct dvmq_kern_cfg *cfg = bpf_map_lookup_elem(&dvmq_kern_config, &zero);
	if (!cfg)
		return XDP_PASS; /* cannot happen (an array of one); keeps the verifier content */
	struct dvmq_kern_key k;
	int tags = parse(ctx, &k);
	if (tags == -2) {
		count(DVMQ_KERN_RX_LINK_LOCAL);
		return XDP_PASS;
	}
	if (tags < 0) {
		count(DVMQ_KERN_RX_TRUNCATED);
		return XDP_PASS;
	}
	int fallback;
	__u32 q = lookup_slot(&k, cfg, (const unsigned char *)(long)ctx->data, (const unsigned char *)(long)ctx->data_end,
			      nic, &fallback);
	struct dvmq_kern_queue *s = bpf_map_lookup_elem(&dvmq_kern_queues, &q);
	if (!s) {
		/* no queue 0 either: userspace sized the maps wrong; pass rather than lose */
		count(DVMQ_KERN_RX_NO_CPU);
		return XDP_PASS;
	}
	__u64 len = bpf_xdp_get_buff_len(ctx);
	if (!(cfg->flags & DVMQ_KERN_F_RECLASSIFY)) {
		if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct dvmq_kern_prefix)) != 0) {
			count(DVMQ_KERN_RX_NO_ROOM);
			return XDP_PASS;
		}
		struct dvmq_kern_prefix *p = (struct dvmq_kern_prefix *)(long)ctx->data;
		if ((void *)(p + 1) > (void *)(long)ctx->data_end) {
			count(DVMQ_KERN_RX_NO_ROOM); /* cannot happen: the frame just grew by it */
			return XDP_DROP;
		}
		p->magic = DVMQ_KERN_PREFIX_MAGIC;
		p->queue = q;
	}
	__u64 w = *(volatile __u64 *)&s->steer;
	__u32 next = *(volatile __u32 *)&s->next_cpu;
	if (next != DVMQ_KERN_STEER_CPU(w))
		steer_move(s, q, w, next, cfg);
	/* counted in the epoch it is sent in: a flip after this is a compare-and-swap that fails */
	w = __sync_fetch_and_add(&s->steer, 1);
	__u32 me = bpf_get_smp_processor_id();
	note_rx_cpu(s, w, me);
	/* this CPU's counters of the queue: the receiving side's, and the serving side's when the
	 * queue's processor is this CPU */
	struct dvmq_kern_qstat *st = bpf_map_lookup_elem(&dvmq_kern_qstats, &q);
	if (st && local_ok(s, st, q, w, cfg, me)) {
		if (!(cfg->flags & DVMQ_KERN_F_RECLASSIFY))
			bpf_xdp_adjust_head(ctx, (int)sizeof(struct dvmq_kern_prefix));
		st->rx_packets += 1;
		st->rx_bytes += len;
		count_served(st, cfg, len, (__u32)DVMQ_KERN_STEER_SENT(w), DVMQ_KERN_STEER_EPOCH(w) + 1);
		count(DVMQ_KERN_RX_LOCAL);
		if (fallback >= 0)
			count((__u32)fallback);
		if (tags == 1)
			count(DVMQ_KERN_RX_DOUBLE_TAG);
		return XDP_PASS;
	}
	if (!(cfg->flags & DVMQ_KERN_F_RECLASSIFY)) {
		struct dvmq_kern_prefix *p = (struct dvmq_kern_prefix *)(long)ctx->data;
		if ((void *)(p + 1) > (void *)(long)ctx->data_end)
			return XDP_DROP; /* cannot happen: checked above, and the frame did not change */
		p->seq = (__u32)DVMQ_KERN_STEER_SENT(w);
		p->epoch = DVMQ_KERN_STEER_EPOCH(w);
	}
	long act = bpf_redirect_map(&dvmq_kern_cpus, DVMQ_KERN_STEER_CPU(w), 0);
	if (act != XDP_REDIRECT) {
		/* no entry for that processor: the frame stays here (without the prefix); its epoch can
		 * no longer drain (sent counts it), so the queue's next move is forced, and counted */
		if (!(cfg->flags & DVMQ_KERN_F_RECLASSIFY))
			bpf_xdp_adjust_head(ctx, (int)sizeof(struct dvmq_kern_prefix));
		count(DVMQ_KERN_RX_NO_CPU);
		return XDP_PASS;
	}
	count(DVMQ_KERN_RX_REDIRECTED);
	if (fallback >= 0)
		count((__u32)fallback);
	if (tags == 1)
		count(DVMQ_KERN_RX_DOUBLE_TAG);
	if (st) {
		st->rx_packets += 1;
		st->rx_bytes += len;
	}
	return XDP_REDIRECT;
}

SEC("xdp")
int dvmq_kern(struct xdp_md *ctx)
{
	return classify_redirect(ctx, -1);
}

/* Puts a tag the driver stripped back in front of the frame's EtherType. Returns 1 when it did, 0
 * when the frame had none, or -1 when the frame has no headroom for it (it then passes here, where
 * the stack still has the tag). */
static __always_inline int restore_vlan(struct xdp_md *ctx)
{
	__be16 proto = 0;
	__u16 tci = 0;
	int rc = bpf_xdp_metadata_rx_vlan_tag(ctx, &proto, &tci);
	if (rc != 0) {
		if (rc != -61 /* ENODATA: untagged */)
			count(DVMQ_KERN_RX_VLAN_UNREAD);
		return 0;
	}
	if (bpf_xdp_adjust_head(ctx, -4) != 0)
		return -1;
	unsigned char *d = (unsigned char *)(long)ctx->data;
	const unsigned char *end = (const unsigned char *)(long)ctx->data_end;
	if (d + 16 > end)
		return -1;
	__builtin_memmove(d, d + 4, 12);
	__u16 tpid = proto ? proto : bpf_htons(0x8100);
	__builtin_memcpy(d + 12, &tpid, 2);
	d[14] = (unsigned char)(tci >> 8);
	d[15] = (unsigned char)tci;
	count(DVMQ_KERN_RX_VLAN_RESTORED);
	return 1;
}

/* Takes out the tag restore_vlan put in, for a frame that stays here: the driver builds its skb
 * with the stripped tag beside it still, and a second copy in the bytes would make it tagged
 * twice. */
static __always_inline void unrestore_vlan(struct xdp_md *ctx)
{
	unsigned char *d = (unsigned char *)(long)ctx->data;
	const unsigned char *end = (const unsigned char *)(long)ctx->data_end;
	if (d + 16 > end)
		return;
	__builtin_memmove(d + 4, d, 12);
	bpf_xdp_adjust_head(ctx, 4);
}

SEC("xdp")
int dvmq_kern_vlan(struct xdp_md *ctx)
{
	int restored = restore_vlan(ctx);
	if (restored < 0) {
		count(DVMQ_KERN_RX_VLAN_NO_ROOM);
		return XDP_PASS;
	}
	int act = classify_redirect(ctx, -1);
	if (act == XDP_PASS && restored)
		unrestore_vlan(ctx);
	return act;
}

/* The kernel's enum (include/net/xdp.h): 0 is "no hash". */
enum xdp_rss_hash_type { DVMQ_XDP_RSS_TYPE_NONE = 0 };
/* Since Linux 6.3 (veth, mlx4, mlx5, ice, igc, stmmac, ...): 0 and the NIC's RSS hash of the frame
 * and its type, -ENODATA when the frame has none, -EOPNOTSUPP when the driver cannot say. */
extern int bpf_xdp_metadata_rx_hash(const struct xdp_md *ctx, __u32 *hash, enum xdp_rss_hash_type *rss_type) __ksym __weak;

SEC("xdp")
int dvmq_kern_dev(struct xdp_md *ctx)
{
	__u32 zero = 0;
	const struct dvmq_kern_cfg *cfg = bpf_map_lookup_elem(&dvmq_kern_config, &zero);
	if (!cfg)
		return XDP_PASS;
	int restored = (cfg->flags & DVMQ_KERN_F_VLAN_KFUNC) ? restore_vlan(ctx) : 0;
	if (restored < 0) {
		count(DVMQ_KERN_RX_VLAN_NO_ROOM);
		return XDP_PASS;
	}
	__s32 nic = -1;
	if (cfg->flags & DVMQ_KERN_F_NIC_HASH) {
		__u32 h = 0;
		enum xdp_rss_hash_type t = DVMQ_XDP_RSS_TYPE_NONE;
		if (bpf_xdp_metadata_rx_hash(ctx, &h, &t) == 0 && t != DVMQ_XDP_RSS_TYPE_NONE)
			nic = (__s32)(h & (DVMQ_KERN_BUCKETS - 1));
	}
	int act = classify_redirect(ctx, nic);
	if (act == XDP_PASS && restored)
		unrestore_vlan(ctx);
	return act;
}

SEC("xdp/cpumap")
int dvmq_kern_cpu(struct xdp_md *ctx)
{
	__u32 zero = 0;
	const struct dvmq_kern_cfg *cfg = bpf_map_lookup_elem(&dvmq_kern_config, &zero);
	if (!cfg)
		return XDP_PASS;
	const struct dvmq_kern_prefix *p = (const struct dvmq_kern_prefix *)(long)ctx->data;
	__u32 q, seq = 0, epoch1 = 0;
	if ((void *)(p + 1) <= (void *)(long)ctx->data_end && p->magic == DVMQ_KERN_PREFIX_MAGIC &&
	    !(cfg->flags & DVMQ_KERN_F_RECLASSIFY)) {
		q = p->queue;
		seq = p->seq;
		epoch1 = p->epoch + 1;
		bpf_xdp_adjust_head(ctx, (int)sizeof(struct dvmq_kern_prefix));
	} else {
		/* no prefix: classify again (what the XDP program did, minus its counters) */
		struct dvmq_kern_key k;
		int fallback;
		q = parse(ctx, &k) >= 0 ? lookup_slot(&k, cfg, (const unsigned char *)(long)ctx->data,
						      (const unsigned char *)(long)ctx->data_end, -1, &fallback) : 0;
		count(DVMQ_KERN_CPU_RECLASSIFIED);
	}
	/* this processor's copy, written only by its cpumap kthread */
	struct dvmq_kern_qstat *st = bpf_map_lookup_elem(&dvmq_kern_qstats, &q);
	if (st)
		count_served(st, cfg, bpf_xdp_get_buff_len(ctx), seq, epoch1);
	count(DVMQ_KERN_CPU_PROCESSED);
	return XDP_PASS;
}

/* The counter below only looks: it hands every frame on to whatever the host runs next on the
 * uplink's ingress (tcx's TCX_NEXT, legacy tc's TC_ACT_UNSPEC: both -1). TC_ACT_OK (0) would end
 * the chain there and skip the host's own tc programs (a VLAN demux, OVS's tc flower, Cilium). */
#define TC_NEXT (-1)

/* tc ingress on the uplink (with DVMQ_KERN_F_TC_DONE): counts, on the processor that runs it,
 * the frames each queue delivers to the stack, after the cpumap kthread's GRO held what it held:
 * a later point than the cpumap program for an ordered move to wait for. The tag the driver or
 * our XDP program left in the frame is outside it by now (skb_vlan_untag). */
SEC("tc")
int dvmq_kern_tc(struct __sk_buff *skb)
{
	__u32 zero = 0;
	const struct dvmq_kern_cfg *cfg = bpf_map_lookup_elem(&dvmq_kern_config, &zero);
	const unsigned char *d = (const unsigned char *)(long)skb->data;
	const unsigned char *end = (const unsigned char *)(long)skb->data_end;
	if (!cfg || d + 14 > end)
		return TC_NEXT;
	if (d[0] == 0x01 && d[1] == 0x80 && d[2] == 0xc2 && d[3] == 0 && d[4] == 0 && (d[5] & 0xf0) == 0)
		return TC_NEXT;
	struct dvmq_kern_key k;
	__builtin_memcpy(k.mac, d, 6);
	k.vlan = 0;
	if (skb->vlan_present)
		k.vlan = skb->vlan_tci & 0x0fff;
	else if (is_vlan(*(const __u16 *)(d + 12)) && d + 18 <= end)
		k.vlan = bpf_ntohs(*(const __u16 *)(d + 14)) & 0x0fff;
	int fallback;
	/* a group's bucket from the same headers the XDP program hashed (GRO keeps them); not a
	 * bucket the NIC's hash chose (that hash is not in this skb: such buckets drain at the
	 * cpumap program) */
	__u32 q = lookup_slot(&k, cfg, d, end, -1, &fallback);
	if (q >= cfg->n_queues && (cfg->flags & DVMQ_KERN_F_NIC_HASH))
		return TC_NEXT;
	struct dvmq_kern_qstat *st = bpf_map_lookup_elem(&dvmq_kern_qstats, &q);
	const struct dvmq_kern_kthread *kt = bpf_map_lookup_elem(&dvmq_kern_kthreads, &zero);
	if (st) {
		/* the batch first, the count after: a reader that sees the count sees its batch */
		*(volatile __u64 *)&st->last_iter = kt ? kt->iter : 0;
		*(volatile __u64 *)&st->delivered += skb->gso_segs ? skb->gso_segs : 1;
		if (cfg->guard_ns)
			st->last_ns = bpf_ktime_get_ns();
	}
	return TC_NEXT;
}

SEC("tp_btf/xdp_cpumap_enqueue")
int BPF_PROG(dvmq_kern_drops, int map_id, unsigned int processed, unsigned int drops, int to_cpu)
{
	(void)processed;
	__u32 zero = 0;
	const struct dvmq_kern_cfg *cfg = bpf_map_lookup_elem(&dvmq_kern_config, &zero);
	if (!cfg || drops == 0 || (__u32)map_id != cfg->cpumap_id)
		return 0;
	__u32 cpu = (__u32)to_cpu;
	__u64 *c = bpf_map_lookup_elem(&dvmq_kern_cpudrops, &cpu);
	if (c)
		*c += drops;
	__u32 k = DVMQ_KERN_CPUMAP_DROPS;
	c = bpf_map_lookup_elem(&dvmq_kern_stats, &k);
	if (c)
		*c += drops;
	return 0;
}

/* Once per batch of a cpumap kthread, before the batch's frames go to the stack (Linux 6.15+; before,
 * after them: the rule holds either way). Counts it on this processor and learns the kthread's PID. */
SEC("tp_btf/xdp_cpumap_kthread")
int BPF_PROG(dvmq_kern_batch, int map_id, unsigned int processed, unsigned int drops, int sched,
	     struct xdp_cpumap_stats *xdp_stats)
{
	(void)processed, (void)drops, (void)sched, (void)xdp_stats;
	__u32 zero = 0;
	const struct dvmq_kern_cfg *cfg = bpf_map_lookup_elem(&dvmq_kern_config, &zero);
	struct dvmq_kern_kthread *kt = bpf_map_lookup_elem(&dvmq_kern_kthreads, &zero);
	if (!cfg || !kt || (__u32)map_id != cfg->cpumap_id)
		return 0;
	kt->pid = (__u32)bpf_get_current_pid_tgid();
	*(volatile __u64 *)&kt->iter += 1;
	return 0;
}

/* The kthread leaving its processor (asleep on an empty ring, or preempted between batches): the
 * batch it ran last is over. Every context switch of this processor passes here; the test is one
 * per-CPU lookup and a compare. */
SEC("tp_btf/sched_switch")
int BPF_PROG(dvmq_kern_left, _Bool preempt, struct task_struct *prev, struct task_struct *next)
{
	(void)preempt, (void)next;
	__u32 zero = 0;
	struct dvmq_kern_kthread *kt = bpf_map_lookup_elem(&dvmq_kern_kthreads, &zero);
	if (kt && kt->pid && (__u32)prev->pid == kt->pid)
		*(volatile __u64 *)&kt->iter += 1;
	return 0;
}

/* The end of a NET_RX softirq on this processor. A frame that stayed on the CPU that received it
 * (DVMQ_KERN_F_LOCAL) is counted at the tc counter inside that softirq, not in a batch of the
 * kthread, which may then not run again for a long time: once the softirq has ended, the frame is
 * on the VM's port (a softirq neither nests nor leaves its processor; not so on PREEMPT_RT).
 * Counted with the batches: no NET_RX softirq ends on a processor inside its kthread's batch
 * (bottom halves are off there), so the rule stays right for the kthread's frames. */
SEC("tp_btf/softirq_exit")
int BPF_PROG(dvmq_kern_bh, unsigned int vec_nr)
{
	if (vec_nr != 3) /* NET_RX_SOFTIRQ */
		return 0;
	__u32 zero = 0;
	struct dvmq_kern_kthread *kt = bpf_map_lookup_elem(&dvmq_kern_kthreads, &zero);
	if (kt)
		*(volatile __u64 *)&kt->iter += 1;
	return 0;
}

SEC("xdp")
int dvmq_kern_plain(struct xdp_md *ctx)
{
	struct dvmq_kern_key k;
	if (parse(ctx, &k) < 0)
		return XDP_PASS;
	int fallback;
	__u32 q = lookup_queue(&k, 1u << 30, &fallback);
	struct dvmq_kern_queue *s = bpf_map_lookup_elem(&dvmq_kern_queues, &q);
	if (!s)
		return XDP_PASS;
	return (int)bpf_redirect_map(&dvmq_kern_cpus, DVMQ_KERN_STEER_CPU(s->steer), XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
