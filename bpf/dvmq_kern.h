/* What kernel mode's BPF programs (dvmq_kern.bpf.c) and the kdp library (src/kdp/) share: the
 * maps' keys and values, the counters' indices and the encoding of a queue's steering word.
 * Included by the BPF object and by userspace, so plain C types only (no <stdint.h> in BPF).
 *
 * A queue's state (struct dvmq_kern_queue, one cache line per queue in an mmapable array) is
 * written by the XDP program on the receiving processors (one atomic add per frame on `steer`)
 * and, for a move, by userspace through mmap (`next_cpu`, and a compare-and-swap on `steer` when
 * the XDP program does not flip it itself). What a processor processed per queue is in a per-CPU
 * array (struct dvmq_kern_qstat), written only on that processor (its cpumap kthread, and its own
 * XDP program for a frame that stays where it arrived, DVMQ_KERN_F_LOCAL: both with bottom halves
 * off, never at once): the serving side shares no cache line with the receiving side.
 *
 * steer = [cpu:16][epoch:4][sent:44]: the processor the queue's frames go to now, the move
 * generation (mod 16) and how many frames were sent to that processor in this epoch. The XDP
 * program takes its frame's processor and counts the frame with one fetch-and-add, so no frame
 * can be sent to a processor uncounted after a flip: a flip is a compare-and-swap of the whole
 * word, which fails when a frame was counted since the word was read.
 * base[epoch & 1]: the serving processor's cpu_packets for the queue when the epoch began,
 * written by the flipper before its compare-and-swap. The epoch is drained when that processor's
 * cpu_packets - base == sent: its cpumap ring then holds none of the queue's frames, and an
 * ordered move may flip. Exact when the processor had no older frames of the queue in flight at
 * the flip (always after an ordered move; the library keeps a queue away from a processor a
 * forced move left until that processor settled).
 * A frame a full cpumap ring dropped is counted sent and never processed: that epoch's counts never
 * meet. The frames also carry their index in the epoch (the prefix): when every frame of the epoch
 * came from one receiving CPU (rx_cpu), they reach the ring in order, so the old processor having
 * processed the last one sent means the ring holds none of the queue's frames, dropped ones or
 * not; the XDP program keeps sending to the old processor until one gets through.
 * Where the kernel has tcx (6.6+), the drain also waits for the frames to leave GRO: a tc ingress
 * program on the uplink counts them (`delivered`, base tcbase) after GRO, in the same bottom half
 * that hands them to the bridge; the epoch is drained when delivered meets sent, or (drops) when
 * the ring rule holds and delivered meets cpu_packets. Counting at the cpumap program alone lets
 * frames the kthread's GRO still holds be overtaken (docs/kernel-mode.md has the numbers).
 * The tc count is still short of the VM's port: after it the same bottom half runs the bridge (or
 * OVS) and queues the frame on the port, and a processor held up there (its vCPU descheduled by the
 * hypervisor, a long netfilter or flood path) lets the new processor's frames pass its last one.
 * With DVMQ_KERN_F_BATCH a move also waits until the old processor's cpumap kthread has left the
 * batch in which it delivered the epoch's last frame (struct dvmq_kern_kthread): the kthread runs
 * a batch with bottom halves off, so it cannot leave the processor inside one; a batch it began
 * since, or its leaving the processor (asleep: its ring is empty), means that batch's frames were
 * all handed to the port's queue (a TAP's, or the stack's for whatever comes next). */
#ifndef DVMQ_KERN_H
#define DVMQ_KERN_H

#define DVMQ_KERN_MAX_CPUS 4096u       /* processor ids the cpumap may index (steer's cpu field) */
#define DVMQ_KERN_MAX_QUEUES 65536u
#define DVMQ_KERN_PREFIX_MAGIC 0x716d7664u /* "dvmq": first word of the prefix dvmq_kern writes */

#define DVMQ_KERN_SENT_BITS 44
#define DVMQ_KERN_SENT_MASK ((1ull << DVMQ_KERN_SENT_BITS) - 1)
#define DVMQ_KERN_EPOCH_MASK 0xfull
/* a queue's sent count is renewed (epoch + 1, same processor) by userspace past this, long before
 * it could carry into the epoch bits (kdp_renew_epochs) */
#define DVMQ_KERN_RENEW_AT (1ull << 43)
#define DVMQ_KERN_STEER(cpu, epoch, sent) \
	(((unsigned long long)(cpu) << 48) | (((unsigned long long)(epoch) & DVMQ_KERN_EPOCH_MASK) << 44) | (sent))
#define DVMQ_KERN_STEER_CPU(w) ((unsigned)((w) >> 48))
#define DVMQ_KERN_STEER_EPOCH(w) ((unsigned)(((w) >> 44) & DVMQ_KERN_EPOCH_MASK))
#define DVMQ_KERN_STEER_SENT(w) ((w) & DVMQ_KERN_SENT_MASK)

/* VMMQ (queue groups): a filter whose value has DVMQ_KERN_GROUP set sends its frames through
 * group g = value & ~DVMQ_KERN_GROUP: the frame's Toeplitz hash (the table dvmq_kern_rss, built by
 * userspace from the key, dvmq/toeplitz.h) picks bucket b = hash & 127, and the frame takes queue
 * slot n_queues + g * 128 + b. Each bucket slot is a queue of its own to the programs (a steering
 * word, per-CPU counts, ordered moves): a bucket that changes queue, or whose queue moves, is an
 * ordered move of its slot, waiting only for that bucket's frames. */
#define DVMQ_KERN_GROUP 0x80000000u
#define DVMQ_KERN_BUCKETS 128u
#define DVMQ_KERN_MAX_GROUPS 512u
#define DVMQ_KERN_RSS_BYTES 36u       /* IPv6 addresses and ports */

/* The Toeplitz hash of byte value v at input position i (an array of one). */
struct dvmq_kern_rss {
	unsigned int t[DVMQ_KERN_RSS_BYTES][256];
};

/* Filter key: destination MAC and VLAN id (0 = untagged; the outer tag's VID when two). */
struct dvmq_kern_key {
	unsigned char mac[6];
	unsigned short vlan;
};

struct dvmq_kern_queue {
	unsigned long long steer;    /* see above */
	unsigned int next_cpu;       /* where userspace wants the queue (== steer's cpu: no move) */
	unsigned int rx_cpu;         /* the one CPU that sent this epoch's frames, or NONE/MULTI */
	unsigned long long base[2];  /* see above, by epoch parity */
	unsigned long long tcbase[2]; /* the same for `delivered` (DVMQ_KERN_F_TC_DONE) */
	unsigned long long pad1[2];
} __attribute__((aligned(64)));

#define DVMQ_KERN_RX_NONE 0xffffffffu  /* rx_cpu: no frame sent in this epoch yet */
#define DVMQ_KERN_RX_MULTI 0xfffffffeu /* rx_cpu: frames from several receiving CPUs */

/* Per queue, per processor (a per-CPU array indexed by queue): what the uplink's receiving side
 * sent (rx_*, on the processor that ran the XDP program) and what the serving side processed
 * (cpu_*, on the processor whose cpumap kthread ran the cpumap program; cpu_packets is also the
 * drain count of the ordered moves). last_ns: when this processor last processed a frame of the
 * queue (bpf_ktime_get_ns, CLOCK_MONOTONIC), kept only while the move guard is on. */
struct dvmq_kern_qstat {
	/* first, and read first: a reader that sees the last frame here then sees it in the counts
	 * below (the cpumap program writes the counts first; x86 keeps stores and loads in order,
	 * and a per-CPU map read copies in address order) */
	unsigned int last_seq;        /* the prefix of the last frame this processor processed: seq, */
	unsigned int last_epoch;      /* and epoch + 1 (0: none, or a frame without a prefix) */
	unsigned long long rx_packets, rx_bytes;
	unsigned long long cpu_packets, cpu_bytes;
	unsigned long long delivered; /* frames the uplink's tc ingress saw on this processor (GRO
	                               * super-frames by their segments), with DVMQ_KERN_F_TC_DONE */
	unsigned long long last_ns;
	unsigned long long last_iter; /* the kthread's iter when this processor's tc counter last counted
	                               * a frame of the queue (written before `delivered`) */
};

/* Per processor (a per-CPU array of one), written on that processor only: its cpumap kthread's
 * batches, counted by the xdp_cpumap_kthread tracepoint (once per batch, before the batch's frames
 * go to the stack) and by sched_switch when the kthread leaves the processor (never inside a batch:
 * it runs with bottom halves, hence preemption, off; not so on PREEMPT_RT), and by softirq_exit at
 * the end of each NET_RX softirq, where the frames that stayed local (DVMQ_KERN_F_LOCAL) were
 * counted (none ends inside a batch either). */
struct dvmq_kern_kthread {
	unsigned long long iter;      /* batches begun + times it left the processor + NET_RX ends */
	unsigned int pid;             /* the kthread (the kernel's PID), once it ran a batch */
	unsigned int pad;
};

/* Runtime settings (array of one), written by userspace. */
struct dvmq_kern_cfg {
	unsigned int n_queues;
	unsigned int flags;           /* DVMQ_KERN_F_* */
	unsigned long long guard_ns;  /* ordered moves: old processor idle for the queue this long */
	unsigned int cpumap_id;       /* the cpumap's map id (the tracepoint names maps by id) */
	unsigned int n_groups;        /* queue groups: slots n_queues .. n_queues + n_groups * 128 */
};

#define DVMQ_KERN_F_ORDERED 1u    /* moves wait for the old processor to drain (else flip at once) */
#define DVMQ_KERN_F_RECLASSIFY 2u /* no prefix: the serving side classifies again (to measure) */
#define DVMQ_KERN_F_TC_DONE 4u    /* a move's drain counts frames at the uplink's tc ingress (after
                                   * GRO: delivered to the stack), not only at the cpumap program */
#define DVMQ_KERN_F_NIC_HASH 8u   /* dvmq_kern_dev: a group's bucket from the NIC's RSS hash (the rx
                                   * hash kfunc) where the driver has one; the tc counter cannot
                                   * find such a bucket, so bucket slots drain at the cpumap program */
#define DVMQ_KERN_F_VLAN_KFUNC 16u /* dvmq_kern_dev: put back VLAN tags the driver stripped */
#define DVMQ_KERN_F_BATCH 32u     /* with TC_DONE: and waits for the kthread to leave the batch that
                                   * delivered the last frame (struct dvmq_kern_kthread) */
#define DVMQ_KERN_F_LOCAL 64u     /* a frame whose queue's processor is the CPU that received it
                                   * stays on that CPU's path (XDP_PASS) when it can overtake no
                                   * frame of its queue; set before attach, never changed after */

/* The 16 bytes dvmq_kern puts in front of a redirected frame (bpf_xdp_adjust_head) and the cpumap
 * program takes away: the queue, so that the serving side need not classify again. (The
 * metadata area would be the place, but this kernel refuses bpf_xdp_adjust_meta to XDP
 * programs; the headroom any XDP driver keeps, 256 bytes, has room for both.) */
struct dvmq_kern_prefix {
	unsigned int magic;   /* DVMQ_KERN_PREFIX_MAGIC */
	unsigned int queue;
	unsigned int seq;     /* the frame's index in its epoch (steer's sent before it, low 32 bits) */
	unsigned int epoch;
};

/* Per-CPU counters by reason (map dvmq_kern_stats), summed by userspace. Every frame the XDP
 * program sees lands in exactly one of the RX fates (REDIRECTED, LOCAL, LINK_LOCAL, TRUNCATED, NO_CPU,
 * VLAN_NO_ROOM, NO_ROOM); the others say more about some of them. */
enum dvmq_kern_stat {
	DVMQ_KERN_RX_REDIRECTED,   /* fate: handed to the queue's processor through the cpumap */
	DVMQ_KERN_RX_LINK_LOCAL,   /* fate: passed here, IEEE 802.1 link-local (STP, LACP, LLDP) */
	DVMQ_KERN_RX_TRUNCATED,    /* fate: passed here, shorter than its Ethernet/802.1Q header */
	DVMQ_KERN_RX_NO_CPU,       /* fate: passed here, the processor has no cpumap entry */
	DVMQ_KERN_RX_VLAN_NO_ROOM, /* fate: passed here, no headroom to put a stripped tag back */
	DVMQ_KERN_RX_NO_ROOM,      /* fate: passed here, no headroom for the prefix */
	DVMQ_KERN_RX_DEFAULT,      /* of the redirected: no filter matched, the default queue */
	DVMQ_KERN_RX_BAD_QUEUE,    /* of the redirected: a filter named a queue >= n_queues (default) */
	DVMQ_KERN_RX_DOUBLE_TAG,   /* of the redirected: two VLAN tags (classified by the outer) */
	DVMQ_KERN_RX_VLAN_RESTORED, /* a tag the driver stripped put back into the frame */
	DVMQ_KERN_RX_VLAN_UNREAD,  /* the driver could not say whether it stripped a tag */
	DVMQ_KERN_MOVE_ORDERED,    /* moves flipped by the XDP program once the old processor drained */
	DVMQ_KERN_MOVE_UNORDERED,  /* moves flipped by the XDP program at once (ordering off) */
	DVMQ_KERN_CPU_PROCESSED,   /* cpumap program: frames processed (all queues) */
	DVMQ_KERN_CPU_RECLASSIFIED, /* cpumap program: classified again (no prefix) */
	DVMQ_KERN_CPUMAP_DROPS,    /* tp_btf xdp_cpumap_enqueue: frames a full cpumap ring dropped */
	DVMQ_KERN_RX_HASHED,       /* of the redirected: through a queue group's table (VMMQ) */
	DVMQ_KERN_RX_NIC_HASHED,   /* of the hashed: by the NIC's RSS hash (DVMQ_KERN_F_NIC_HASH) */
	DVMQ_KERN_RX_LOCAL,        /* fate: passed here, this CPU being its queue's processor (with
	                            * DVMQ_KERN_F_LOCAL); DEFAULT, BAD_QUEUE, DOUBLE_TAG and HASHED
	                            * count these frames too */
	DVMQ_KERN_STAT_COUNT
};

#endif
