/* The kdp handle and what its files share (kdp.c: load, attach, filters; kdp_move.c: ordered
 * moves; kdp_sample.c: samples, counters, /proc). Not a public header. */
#ifndef DVMQ_KDP_INTERNAL_H
#define DVMQ_KDP_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "dvmq/kdp.h"
#include "../../bpf/dvmq_kern.h"

struct bpf_object;

enum { KDP_PROG_PLAIN, KDP_PROG_VLAN, KDP_PROG_DEV }; /* dvmq_kern, dvmq_kern_vlan, dvmq_kern_dev */
struct bpf_link;

/* A move waiting for the old processor to drain. */
struct kdp_move {
	uint32_t queue;
	int from, to;
	uint64_t start_ns, deadline_ns;
};

/* What a forced move left behind: queue q may not return to `cpu` before `until_ns`. */
struct kdp_dirty {
	int cpu;
	uint64_t until_ns;
};

struct kdp_proc {
	uint64_t softirq_ticks;   /* /proc/stat */
	uint64_t kernel_ticks;    /* /proc/stat: system + irq + softirq */
	uint64_t kthread_ns;      /* the cpumap kthread's CPU time */
	uint64_t packets, bytes;  /* processed, all queues (from the qstats sums) */
	uint64_t drops;
};

/* the tracepoint programs of DVMQ_KERN_F_BATCH: dvmq_kern_batch, dvmq_kern_left, dvmq_kern_bh */
#define KDP_BATCH_LINKS 3

struct dvmq_kdp {
	struct dvmq_kdp_config cfg;
	int *cpus;                    /* cfg.cpus, copied */
	int cpu_index[DVMQ_KERN_MAX_CPUS > 4096 ? 4096 : DVMQ_KERN_MAX_CPUS]; /* cpu id -> index, -1 */
	int ncpus_possible;           /* libbpf_num_possible_cpus() */
	unsigned ifindex;
	char ifname[16];              /* the uplink ("" for none) */
	struct bpf_object *obj;
	int xdp_fd, cpu_fd, plain_fd;
	int filters_fd, queues_fd, cpumap_fd, qstats_fd, stats_fd, cpudrops_fd, cfg_fd;
	uint32_t cpumap_id;
	int link_fd;                  /* the XDP program's BPF link on the uplink, or -1 */
	int tc_link_fd;               /* the tc ingress program's tcx link (drain_at_tc), or -1 */
	int tc_fd;
	struct bpf_link *tp_link;     /* the drop counter's tracepoint, or NULL */
	struct bpf_link *batch_link[KDP_BATCH_LINKS]; /* the kthreads' batches and departures
	                               * (xdp_cpumap_kthread, sched_switch) and the ends of NET_RX
	                               * softirqs (softirq_exit: local frames), or NULL: moves then
	                               * wait for no batch */
	int kthreads_fd;
	struct dvmq_kern_queue *q;    /* the queue array, mmapped: n_slots (queues, then buckets) */
	uint32_t n_slots;             /* cfg.n_queues + cfg.max_groups * DVMQ_KERN_BUCKETS */
	size_t q_len;
	uint32_t n_filters;
	bool frags, vlan_prog, drops_exact;
	int prog;                     /* the XDP program loaded: KDP_PROG_* */
	bool nic_hash;                /* dvmq_kern_dev with the NIC's hash (DVMQ_KERN_F_NIC_HASH) */
	char how[64];                 /* "BPF link, native XDP" once attached, else "" */
	char describe[320];

	/* moves */
	struct kdp_move *moves;       /* pending, n_moves of them (at most one per slot) */
	uint32_t n_moves;
	uint32_t *pend;               /* per slot: 1 + its index in moves, or 0 */
	struct kdp_dirty *dirty;      /* per slot */
	uint64_t n_moved, moves_ordered, moves_forced, moves_busy, moves_ordered_user;
	uint64_t epochs_renewed;      /* kdp_renew_epochs: queues whose sent count was about to wrap */
	uint64_t bucket_moves, bucket_moves_ordered, bucket_moves_forced;

	/* queue groups (VMMQ): per bucket slot (index slot - n_queues) the queue that holds it, and
	 * what the XDP program sent through it (as of the last sample) */
	uint32_t *owner;
	uint64_t *slot_rx;            /* packets, bytes: 2 per bucket slot */
	bool *group_used;             /* per group */
	bool *behind;                 /* per queue: a bucket it holds could not follow its last move */
	double *cpu_pps;              /* per processor (index): processed rate in the last interval */
	dvmq_kdp_move_fn on_move;
	void *on_move_ctx;

	/* samples */
	int *kthread_pid;             /* per processor (index), or -1 */
	struct kdp_proc *prev;        /* per processor (index): the last sample's readings */
	struct dvmq_kern_qstat *qprev; /* per slot x processor index (+1: the receiving side): the last readings */
	struct dvmq_kern_qstat *qbuf; /* per possible CPU: one percpu lookup */
	struct dvmq_kern_kthread *ktbuf; /* per possible CPU: the kthreads' batches */
	uint64_t prev_ns;
	uint64_t rebinds, rebind_carried; /* dvmq_kdp_filter_rebind: calls, frames carried (kdp_rebind.c) */
	const char *stat_path;        /* "/proc/stat" (tests point it at a file of their own) */
};

void kdp_log(const struct dvmq_kdp *k, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int kdp_fail(char *err, size_t len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
uint64_t kdp_now_ns(void);

/* Reads the per-CPU qstats of slot q into k->qbuf (ncpus_possible entries). */
int kdp_qstat_read(struct dvmq_kdp *k, uint32_t q);
/* kdp_sample.c: the last readings of group g's slots taken now (the group comes into use). */
int kdp_group_baseline(struct dvmq_kdp *k, uint32_t g);

/* kdp_move.c: renews the epoch of queues whose sent count nears its 44 bits (each sample) */
void kdp_renew_epochs(struct dvmq_kdp *k);

/* kdp_sample.c: /proc readers, and the first readings at create */
int kdp_sample_init(struct dvmq_kdp *k);
int kdp_find_kthread(uint32_t map_id, int cpu);

int kdp_write_cfg(struct dvmq_kdp *k, const struct dvmq_kern_cfg *c);

/* kdp_attach.c: the XDP program onto the uplink through a BPF link. */
int kdp_attach(struct dvmq_kdp *k, char *err, size_t err_len);

#endif
