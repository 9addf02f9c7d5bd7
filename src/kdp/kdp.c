/* kdp (dvmq/kdp.h): loading the embedded BPF object, sizing its maps, the cpumap entries, the
 * queue array (mmapped), the filters, and the handle's life. Invariant: once create returned, every
 * queue's steer word names a processor with a cpumap entry, and the XDP program is on the uplink
 * only through k->link_fd (closed by destroy, or by the kernel when the process dies). */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dvmq/toeplitz.h"
#include "../fault/fault.h"
#include "../port/xdp_rxmeta.h"
#include "kdp_internal.h"

#ifndef BPF_F_XDP_DEV_BOUND_ONLY
#define BPF_F_XDP_DEV_BOUND_ONLY (1U << 6) /* Linux 6.3; Debian 12's headers are 6.1 */
#endif
#ifndef BPF_F_XDP_HAS_FRAGS
#define BPF_F_XDP_HAS_FRAGS (1U << 5)
#endif

extern const unsigned char dvmq_kern_bpf_obj[];
extern const unsigned long dvmq_kern_bpf_obj_len;

/* libbpf prints through one process-wide callback: the library installs one that keeps the last
 * warning per thread for its error lines (libbpf's own would write to stderr; the afxdp port, the
 * other user of libbpf, never runs in the same process as kernel mode). */
static __thread char kdp_last_msg[256];
static pthread_once_t kdp_print_once = PTHREAD_ONCE_INIT;

static int kdp_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_DEBUG) {
		vsnprintf(kdp_last_msg, sizeof(kdp_last_msg), fmt, ap);
		kdp_last_msg[strcspn(kdp_last_msg, "\n")] = '\0';
	}
	return 0;
}

static void kdp_print_install(void)
{
	libbpf_set_print(kdp_print);
}

void kdp_log(const struct dvmq_kdp *k, int level, const char *fmt, ...)
{
	if (!k->cfg.log)
		return;
	char line[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	k->cfg.log(k->cfg.log_ctx, level, line);
}

int kdp_fail(char *err, size_t len, int rc, const char *fmt, ...)
{
	if (err && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

uint64_t kdp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int kdp_validate(const struct dvmq_kdp_config *c, char *err, size_t len)
{
	if (c->n_cpus == 0 || !c->cpus)
		return kdp_fail(err, len, -EINVAL, "kernel mode: the processor set is empty");
	if (c->n_queues == 0 || c->n_queues > DVMQ_KDP_MAX_QUEUES)
		return kdp_fail(err, len, -EINVAL, "kernel mode: %u queues (1..%u)", c->n_queues, DVMQ_KDP_MAX_QUEUES);
	if (c->max_groups > DVMQ_KDP_MAX_GROUPS)
		return kdp_fail(err, len, -EINVAL, "kernel mode: %u queue groups (0..%u)", c->max_groups, DVMQ_KDP_MAX_GROUPS);
	if (c->qsize > 16384)
		return kdp_fail(err, len, -EINVAL, "kernel mode: qsize %u (1..16384)", c->qsize);
	if (c->kthread_fifo < 0 || c->kthread_fifo > 99)
		return kdp_fail(err, len, -EINVAL, "kernel mode: kthread priority %d (0..99)", c->kthread_fifo);
	if (c->xdp_mode < 0 || c->xdp_mode > DVMQ_KDP_XDP_GENERIC)
		return kdp_fail(err, len, -EINVAL, "kernel mode: xdp mode %d", c->xdp_mode);
	for (uint32_t i = 0; i < c->n_cpus; i++) {
		if (c->cpus[i] < 0 || c->cpus[i] >= (int)DVMQ_KDP_MAX_CPUS)
			return kdp_fail(err, len, -EINVAL, "kernel mode: processor %d (0..%u)", c->cpus[i],
					DVMQ_KDP_MAX_CPUS - 1);
		for (uint32_t j = 0; j < i; j++)
			if (c->cpus[j] == c->cpus[i])
				return kdp_fail(err, len, -EINVAL, "kernel mode: processor %d twice", c->cpus[i]);
	}
	if (c->ifname && (c->ifname[0] == '\0' || strlen(c->ifname) >= IFNAMSIZ))
		return kdp_fail(err, len, -EINVAL, "kernel mode: bad device name");
	if (c->nic_hash && c->reclassify)
		return kdp_fail(err, len, -EINVAL, "kernel mode: the NIC's hash cannot be reclassified (the serving side has "
				"no hash)");
	return 0;
}

static const char *const kdp_prog_name[] = { "dvmq_kern", "dvmq_kern_vlan", "dvmq_kern_dev" };

/* The object with its maps sized and the programs to load chosen (prog: KDP_PROG_*). */
static struct bpf_object *kdp_open(struct dvmq_kdp *k, int prog, bool frags, bool drops)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "dvmq_kern");
	struct bpf_object *obj = bpf_object__open_mem(dvmq_kern_bpf_obj, dvmq_kern_bpf_obj_len, &oo);
	if (!obj)
		return NULL;
	int max_cpu = 0;
	for (uint32_t i = 0; i < k->cfg.n_cpus; i++)
		if (k->cpus[i] > max_cpu)
			max_cpu = k->cpus[i];
	uint32_t nf = k->cfg.max_filters ? k->cfg.max_filters : k->cfg.n_queues;
	struct {
		const char *name;
		uint32_t n;
	} sizes[] = { { "dvmq_kern_filters", nf },           { "dvmq_kern_queues", k->n_slots },
		      { "dvmq_kern_cpus", (uint32_t)max_cpu + 1 }, { "dvmq_kern_qstats", k->n_slots },
		      { "dvmq_kern_cpudrops", (uint32_t)max_cpu + 1 } };
	int rc = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && rc == 0; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, sizes[i].name);
		rc = m ? bpf_map__set_max_entries(m, sizes[i].n) : -ENOENT;
	}
	struct bpf_program *plain = bpf_object__find_program_by_name(obj, "dvmq_kern");
	struct bpf_program *tagged = bpf_object__find_program_by_name(obj, "dvmq_kern_vlan");
	struct bpf_program *cpu = bpf_object__find_program_by_name(obj, "dvmq_kern_cpu");
	struct bpf_program *base = bpf_object__find_program_by_name(obj, "dvmq_kern_plain");
	struct bpf_program *tp = bpf_object__find_program_by_name(obj, "dvmq_kern_drops");
	struct bpf_program *tc = bpf_object__find_program_by_name(obj, "dvmq_kern_tc");
	struct bpf_program *dev = bpf_object__find_program_by_name(obj, "dvmq_kern_dev");
	struct bpf_program *batch = bpf_object__find_program_by_name(obj, "dvmq_kern_batch");
	struct bpf_program *left = bpf_object__find_program_by_name(obj, "dvmq_kern_left");
	struct bpf_program *bh = bpf_object__find_program_by_name(obj, "dvmq_kern_bh");
	if (rc || !plain || !tagged || !cpu || !base || !tp || !tc || !dev || !batch || !left || !bh) {
		bpf_object__close(obj);
		errno = rc ? -rc : ENOENT;
		return NULL;
	}
	/* one receiving program: the others are not loaded */
	bpf_program__set_autoload(plain, prog == KDP_PROG_PLAIN);
	bpf_program__set_autoload(tagged, prog == KDP_PROG_VLAN);
	bpf_program__set_autoload(dev, prog == KDP_PROG_DEV);
	bpf_program__set_autoload(tp, drops); /* tracing programs: all three where the kernel allows them */
	bpf_program__set_autoload(batch, drops);
	bpf_program__set_autoload(left, drops);
	bpf_program__set_autoload(bh, drops);
	/* loaded without a device too: tests run it (BPF_PROG_TEST_RUN); attached only to one */
	bpf_program__set_autoload(tc, !k->cfg.drain_at_cpumap);
	struct bpf_program *bound = prog == KDP_PROG_VLAN ? tagged : prog == KDP_PROG_DEV ? dev : NULL;
	if (bound) {
		bpf_program__set_ifindex(bound, k->ifindex);
		bpf_program__set_flags(bound, bpf_program__flags(bound) | BPF_F_XDP_DEV_BOUND_ONLY);
	}
	/* every XDP program sharing the cpumap must agree on frags (the kernel checks) */
	if (frags) {
		struct bpf_program *xdp[] = { plain, tagged, dev, cpu, base };
		for (size_t i = 0; i < 5; i++)
			bpf_program__set_flags(xdp[i], bpf_program__flags(xdp[i]) | BPF_F_XDP_HAS_FRAGS);
	}
	return obj;
}

/* Loads the object: the dev-bound VLAN program where the driver hands XDP stripped tags (native
 * mode), frags declared, the drop tracepoint; each dropped in turn where the kernel refuses it. */
static int kdp_load(struct dvmq_kdp *k, char *err, size_t len)
{
	bool native = k->cfg.ifname && k->cfg.xdp_mode != DVMQ_KDP_XDP_GENERIC;
	bool want_vlan = native && dvmq_xdp_rx_vlan_kfunc(k->ifindex) == 1;
	uint64_t xdp_feat = 0, rx_meta = 0;
	bool want_dev = k->cfg.nic_hash && native && dvmq_xdp_features(k->ifindex, &xdp_feat, &rx_meta) == 0 &&
			(rx_meta & DVMQ_XDP_RX_META_HASH);
	if (k->cfg.nic_hash && !want_dev)
		kdp_log(k, DVMQ_KDP_LOG_INFO, "kernel mode: %s: queue groups hash with Toeplitz",
			!native ? "the NIC's RSS hash needs native XDP on a device"
				: "the driver hands XDP no RSS hash (xdp-rx-metadata-features lacks hash)");
	/* the programs to try, best first: the NIC's hash (and tags), the tags, neither */
	int progs[3], n_progs = 0;
	if (want_dev)
		progs[n_progs++] = KDP_PROG_DEV;
	if (want_vlan)
		progs[n_progs++] = KDP_PROG_VLAN;
	progs[n_progs++] = KDP_PROG_PLAIN;
	int rc = -EINVAL;
	char first[256] = "";
	for (int pi = 0; pi < n_progs; pi++)
		for (int frags = !k->cfg.no_frags; frags >= 0; frags--)
			for (int drops = 1; drops >= 0; drops--) {
				int prog = progs[pi];
				bool vlan = prog == KDP_PROG_VLAN || (prog == KDP_PROG_DEV && want_vlan);
				k->obj = kdp_open(k, prog, frags, drops);
				if (!k->obj)
					return kdp_fail(err, len, -errno, "kernel mode: opening the embedded BPF object");
				kdp_last_msg[0] = '\0';
				rc = bpf_object__load(k->obj);
				if (rc == 0) {
					k->prog = prog;
					k->vlan_prog = vlan;
					k->nic_hash = prog == KDP_PROG_DEV;
					k->frags = frags;
					k->drops_exact = drops;
					if (!drops || frags != !k->cfg.no_frags || vlan != want_vlan || prog != progs[0])
						kdp_log(k, DVMQ_KDP_LOG_INFO, "kernel mode: %s%s%s%s(first refusal: %s)",
							want_dev && prog != KDP_PROG_DEV ? "the NIC's hash was refused: Toeplitz; " : "",
							vlan != want_vlan ? "VLAN tags the driver strips are lost; " : "",
							frags != !k->cfg.no_frags ? "no multi-buffer (frags) support; " : "",
							drops ? "" : "cpumap drops estimated, the tracepoint was refused; ",
							first);
					return 0;
				}
				if (!first[0])
					snprintf(first, sizeof(first), "%s", kdp_last_msg[0] ? kdp_last_msg : strerror(-rc));
				bpf_object__close(k->obj);
				k->obj = NULL;
				if (rc == -EPERM || rc == -EACCES)
					return kdp_fail(err, len, -EPERM, "kernel mode: loading dvmq's BPF programs is not "
							"allowed: needs CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON (or root)");
			}
	return kdp_fail(err, len, rc, "kernel mode: loading dvmq's BPF programs: %s", first);
}

static int kdp_map_fd(struct dvmq_kdp *k, const char *name)
{
	return bpf_object__find_map_fd_by_name(k->obj, name);
}

int kdp_write_cfg(struct dvmq_kdp *k, const struct dvmq_kern_cfg *c)
{
	uint32_t zero = 0;
	return bpf_map_update_elem(k->cfg_fd, &zero, c, 0) == 0 ? 0 : -errno;
}

/* The kthreads' batch counters (bpf/dvmq_kern.h, DVMQ_KERN_F_BATCH, set with the tc counter):
 * all three tracepoints or none (the third, NET_RX's end, for the frames that stay local); without
 * them a move waits for the tc count alone, and a line says what that leaves. */
static void kdp_attach_batch(struct dvmq_kdp *k)
{
	const char *name[KDP_BATCH_LINKS] = { "dvmq_kern_batch", "dvmq_kern_left", "dvmq_kern_bh" };
	static const char *const tp[KDP_BATCH_LINKS] = { "xdp_cpumap_kthread", "sched_switch", "softirq_exit" };
	for (int i = 0; i < KDP_BATCH_LINKS; i++) {
		/* without the local path no frame ends its batch at NET_RX's end: the machine-wide hook
		 * (every softirq on every CPU) is not worth its cost then */
		if (k->cfg.no_local && strcmp(name[i], "dvmq_kern_bh") == 0)
			continue;
		kdp_last_msg[0] = '\0';
		k->batch_link[i] = bpf_program__attach(bpf_object__find_program_by_name(k->obj, name[i]));
		if (libbpf_get_error(k->batch_link[i])) {
			k->batch_link[i] = NULL;
			kdp_log(k, DVMQ_KDP_LOG_INFO, "kernel mode: moves do not wait for the old processor's batch to end "
				"(%s: %s): a frame counted delivered may still be short of the VM's port",
				tp[i], kdp_last_msg[0] ? kdp_last_msg : "refused");
			for (int j = 0; j < i; j++) {
				bpf_link__destroy(k->batch_link[j]);
				k->batch_link[j] = NULL;
			}
			return;
		}
	}
}

static int kdp_setup_maps(struct dvmq_kdp *k, char *err, size_t len)
{
	k->xdp_fd = bpf_program__fd(bpf_object__find_program_by_name(k->obj, kdp_prog_name[k->prog]));
	k->cpu_fd = bpf_program__fd(bpf_object__find_program_by_name(k->obj, "dvmq_kern_cpu"));
	k->plain_fd = bpf_program__fd(bpf_object__find_program_by_name(k->obj, "dvmq_kern_plain"));
	k->tc_fd = !k->cfg.drain_at_cpumap ? bpf_program__fd(bpf_object__find_program_by_name(k->obj, "dvmq_kern_tc")) : -1;
	k->filters_fd = kdp_map_fd(k, "dvmq_kern_filters");
	k->queues_fd = kdp_map_fd(k, "dvmq_kern_queues");
	k->cpumap_fd = kdp_map_fd(k, "dvmq_kern_cpus");
	k->qstats_fd = kdp_map_fd(k, "dvmq_kern_qstats");
	k->stats_fd = kdp_map_fd(k, "dvmq_kern_stats");
	k->cpudrops_fd = kdp_map_fd(k, "dvmq_kern_cpudrops");
	k->cfg_fd = kdp_map_fd(k, "dvmq_kern_config");
	k->kthreads_fd = kdp_map_fd(k, "dvmq_kern_kthreads");
	int rss_fd = kdp_map_fd(k, "dvmq_kern_rss");
	if (k->xdp_fd < 0 || k->cpu_fd < 0 || k->filters_fd < 0 || k->queues_fd < 0 || k->cpumap_fd < 0 ||
	    k->qstats_fd < 0 || k->stats_fd < 0 || k->cpudrops_fd < 0 || k->cfg_fd < 0 || k->kthreads_fd < 0 || rss_fd < 0)
		return kdp_fail(err, len, -ENOENT, "kernel mode: the BPF object lacks a program or map");
	struct bpf_map_info info;
	uint32_t il = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(k->cpumap_fd, &info, &il) != 0)
		return kdp_fail(err, len, -errno, "kernel mode: reading the cpumap's id");
	k->cpumap_id = info.id;

	/* VMMQ: the Toeplitz tables of the standard key, which the XDP program hashes with */
	struct dvmq_toeplitz *rss = fault_zalloc(1, sizeof(*rss));
	if (!rss)
		return kdp_fail(err, len, -ENOMEM, "kernel mode: out of memory");
	dvmq_toeplitz_init(rss, dvmq_rss_default_key);
	_Static_assert(sizeof(struct dvmq_kern_rss) == sizeof(struct dvmq_toeplitz), "the same tables");
	uint32_t zero = 0;
	int urc = bpf_map_update_elem(rss_fd, &zero, rss, 0) == 0 ? 0 : -errno;
	free(rss);
	if (urc)
		return kdp_fail(err, len, urc, "kernel mode: writing the RSS hash's tables");

	/* the queues (and the groups' bucket slots), every one on the first processor, epoch 0,
	 * nothing sent or processed */
	long page = sysconf(_SC_PAGESIZE);
	k->q_len = ((size_t)k->n_slots * sizeof(struct dvmq_kern_queue) + (size_t)page - 1) & ~((size_t)page - 1);
	void *m = fault_hit(ENOMEM) ? (errno = ENOMEM, MAP_FAILED)
				    : mmap(NULL, k->q_len, PROT_READ | PROT_WRITE, MAP_SHARED, k->queues_fd, 0);
	if (m == MAP_FAILED)
		return kdp_fail(err, len, -errno, "kernel mode: mapping the queue array");
	k->q = m;
	for (uint32_t q = 0; q < k->n_slots; q++) {
		struct dvmq_kern_queue *s = &k->q[q];
		memset(s, 0, sizeof(*s));
		s->next_cpu = (unsigned)k->cpus[0];
		s->rx_cpu = DVMQ_KERN_RX_NONE;
		__atomic_store_n(&s->steer, DVMQ_KERN_STEER(k->cpus[0], 0, 0), __ATOMIC_RELEASE);
	}

	/* one cpumap entry per processor, with the serving program, created once */
	for (uint32_t i = 0; i < k->cfg.n_cpus; i++) {
		struct bpf_cpumap_val v = { .qsize = k->cfg.qsize ? k->cfg.qsize : 2048 };
		v.bpf_prog.fd = k->cpu_fd;
		uint32_t key = (uint32_t)k->cpus[i];
		if (bpf_map_update_elem(k->cpumap_fd, &key, &v, 0) != 0) {
			int e = errno;
			if (e == ENODEV)
				return kdp_fail(err, len, -EINVAL, "kernel mode: processor %d does not exist", k->cpus[i]);
			return kdp_fail(err, len, -e, "kernel mode: cpumap entry for processor %d: %s", k->cpus[i], strerror(e));
		}
	}
	struct dvmq_kern_cfg c = { .n_queues = k->cfg.n_queues, .guard_ns = k->cfg.guard_ns, .cpumap_id = k->cpumap_id,
				   .n_groups = k->cfg.max_groups };
	c.flags = (k->cfg.unordered ? 0u : DVMQ_KERN_F_ORDERED) | (k->cfg.reclassify ? DVMQ_KERN_F_RECLASSIFY : 0u) |
		  (k->cfg.no_local ? 0u : DVMQ_KERN_F_LOCAL);
	if (k->prog == KDP_PROG_DEV)
		c.flags |= (k->nic_hash ? DVMQ_KERN_F_NIC_HASH : 0u) | (k->vlan_prog ? DVMQ_KERN_F_VLAN_KFUNC : 0u);
	int rc = kdp_write_cfg(k, &c);
	if (rc)
		return kdp_fail(err, len, rc, "kernel mode: writing the programs' settings");
	if (k->drops_exact) {
		struct bpf_program *tp = bpf_object__find_program_by_name(k->obj, "dvmq_kern_drops");
		k->tp_link = bpf_program__attach(tp);
		if (libbpf_get_error(k->tp_link)) {
			k->tp_link = NULL;
			k->drops_exact = false;
			kdp_log(k, DVMQ_KDP_LOG_INFO, "kernel mode: cpumap drops estimated (tracepoint xdp_cpumap_enqueue: %s)",
				kdp_last_msg[0] ? kdp_last_msg : "refused");
		}
		kdp_attach_batch(k);
	}
	return 0;
}

/* The start line: how it is attached, which program, and how moves and drops are counted. */
static void kdp_describe_fill(struct dvmq_kdp *k)
{
	const struct dvmq_kdp_config *cfg = &k->cfg;
	snprintf(k->describe, sizeof(k->describe), "%s, %s, %s, %u processor%s, qsize %u, %s moves, %s, cpumap drops: %s",
		 k->how[0] ? k->how : k->ifname[0] ? "not attached" : "no device", k->prog == KDP_PROG_DEV ? (k->vlan_prog ? "dvmq_kern_dev (the NIC's hash for queue groups; stripped VLAN tags put back)" : "dvmq_kern_dev (the NIC's hash for queue groups)") : k->vlan_prog ? "dvmq_kern_vlan (stripped VLAN tags put back)" : "dvmq_kern", k->frags ? "frags" : "no frags",
		 cfg->n_cpus, cfg->n_cpus == 1 ? "" : "s", cfg->qsize ? cfg->qsize : 2048,
		 cfg->unordered ? "unordered"
		 : k->tc_link_fd >= 0 ? k->batch_link[0] && !cfg->drain_at_tc ? "ordered (drained after GRO and the batch)" : "ordered (drained after GRO)"
		 : "ordered",
		 cfg->no_local ? "every frame through the cpumap" : "local frames stay local",
		 k->drops_exact ? "tracepoint" : "estimated");
}

int dvmq_kdp_create(const struct dvmq_kdp_config *cfg, struct dvmq_kdp **out, char *err, size_t err_len)
{
	*out = NULL;
	pthread_once(&kdp_print_once, kdp_print_install);
	int rc = kdp_validate(cfg, err, err_len);
	if (rc)
		return rc;
	unsigned ifindex = 0;
	if (cfg->ifname && (ifindex = if_nametoindex(cfg->ifname)) == 0)
		return kdp_fail(err, err_len, -ENODEV, "kernel mode %s: no such device", cfg->ifname);
	struct dvmq_kdp *k = fault_zalloc(1, sizeof(*k));
	if (!k)
		return kdp_fail(err, err_len, -ENOMEM, "kernel mode: out of memory");
	k->cfg = *cfg;
	k->ifindex = ifindex;
	k->link_fd = -1;
	k->tc_link_fd = -1;
	k->ncpus_possible = libbpf_num_possible_cpus();
	k->n_slots = cfg->n_queues + cfg->max_groups * DVMQ_KERN_BUCKETS;
	uint32_t n_buckets = cfg->max_groups * DVMQ_KERN_BUCKETS;
	k->cpus = fault_zalloc(cfg->n_cpus, sizeof(int));
	k->dirty = fault_zalloc(k->n_slots, sizeof(*k->dirty));
	k->moves = fault_zalloc(k->n_slots, sizeof(*k->moves));
	k->pend = fault_zalloc(k->n_slots, sizeof(*k->pend));
	k->cpu_pps = fault_zalloc(cfg->n_cpus, sizeof(double));
	k->owner = n_buckets ? fault_zalloc(n_buckets, sizeof(*k->owner)) : NULL;
	k->slot_rx = n_buckets ? fault_zalloc(2 * (size_t)n_buckets, sizeof(*k->slot_rx)) : NULL;
	k->group_used = cfg->max_groups ? fault_zalloc(cfg->max_groups, sizeof(*k->group_used)) : NULL;
	k->behind = fault_zalloc(cfg->n_queues, sizeof(*k->behind));
	if (!k->cpus || !k->dirty || !k->moves || !k->pend || !k->cpu_pps || !k->behind || k->ncpus_possible <= 0 ||
	    (n_buckets && (!k->owner || !k->slot_rx || !k->group_used))) {
		rc = kdp_fail(err, err_len, k->ncpus_possible <= 0 ? -EINVAL : -ENOMEM, "kernel mode: out of memory");
		goto fail;
	}
	memcpy(k->cpus, cfg->cpus, cfg->n_cpus * sizeof(int));
	k->cfg.cpus = k->cpus;
	k->cfg.ifname = NULL; /* the caller's string is borrowed for the call only */
	for (uint32_t i = 0; i < sizeof(k->cpu_index) / sizeof(k->cpu_index[0]); i++)
		k->cpu_index[i] = -1;
	for (uint32_t i = 0; i < cfg->n_cpus; i++) {
		if (cfg->cpus[i] >= k->ncpus_possible) {
			rc = kdp_fail(err, err_len, -EINVAL, "kernel mode: processor %d does not exist", cfg->cpus[i]);
			goto fail;
		}
		k->cpu_index[cfg->cpus[i]] = (int)i;
	}
	char who[IFNAMSIZ + 16];
	snprintf(who, sizeof(who), "%s", cfg->ifname ? cfg->ifname : "(no device)");
	k->cfg.ifname = cfg->ifname; /* for kdp_load and kdp_attach; k->ifname keeps a copy */
	if (cfg->ifname)
		snprintf(k->ifname, sizeof(k->ifname), "%s", cfg->ifname);
	if ((rc = kdp_load(k, err, err_len)) != 0 || (rc = kdp_setup_maps(k, err, err_len)) != 0 ||
	    (rc = kdp_sample_init(k)) != 0) {
		if (rc == -ENOMEM && err && err_len && !err[0])
			kdp_fail(err, err_len, rc, "kernel mode: out of memory");
		goto fail;
	}
	if (cfg->ifname && !cfg->defer_attach && (rc = kdp_attach(k, err, err_len)) != 0)
		goto fail;
	/* a step that can fail after the attach (fault injection): the device must be left clean */
	if (fault_hit(ENOMEM)) {
		rc = kdp_fail(err, err_len, -ENOMEM, "kernel mode %s: out of memory after the attach", who);
		goto fail;
	}
	k->cfg.ifname = NULL;
	kdp_describe_fill(k);
	*out = k;
	return 0;
fail:
	k->cfg.ifname = NULL;
	dvmq_kdp_destroy(k);
	return rc;
}

int dvmq_kdp_attach(struct dvmq_kdp *k, char *err, size_t err_len)
{
	if (k->link_fd >= 0)
		return 0;
	if (!k->ifname[0])
		return kdp_fail(err, err_len, -EINVAL, "kernel mode: no device to attach to");
	k->cfg.ifname = k->ifname;
	int rc = kdp_attach(k, err, err_len);
	k->cfg.ifname = NULL;
	kdp_describe_fill(k);
	return rc;
}

void dvmq_kdp_detach(struct dvmq_kdp *k)
{
	if (k->link_fd >= 0)
		close(k->link_fd);
	if (k->tc_link_fd >= 0)
		close(k->tc_link_fd);
	k->link_fd = k->tc_link_fd = -1;
	k->how[0] = '\0';
	kdp_describe_fill(k);
}

void dvmq_kdp_destroy(struct dvmq_kdp *k)
{
	if (!k)
		return;
	if (k->link_fd >= 0)
		close(k->link_fd);
	if (k->tc_link_fd >= 0)
		close(k->tc_link_fd);
	if (k->tp_link)
		bpf_link__destroy(k->tp_link);
	for (int i = 0; i < KDP_BATCH_LINKS; i++)
		if (k->batch_link[i])
			bpf_link__destroy(k->batch_link[i]);
	if (k->q)
		munmap(k->q, k->q_len);
	bpf_object__close(k->obj);
	free(k->cpus);
	free(k->dirty);
	free(k->moves);
	free(k->pend);
	free(k->owner);
	free(k->slot_rx);
	free(k->group_used);
	free(k->behind);
	free(k->cpu_pps);
	free(k->kthread_pid);
	free(k->prev);
	free(k->qprev);
	free(k->qbuf);
	free(k->ktbuf);
	free(k);
}

const char *dvmq_kdp_describe(const struct dvmq_kdp *k)
{
	return k->describe;
}

int dvmq_kdp_fd(const struct dvmq_kdp *k, enum dvmq_kdp_fd which)
{
	switch (which) {
	case DVMQ_KDP_FD_XDP_PROG: return k->xdp_fd;
	case DVMQ_KDP_FD_CPU_PROG: return k->cpu_fd;
	case DVMQ_KDP_FD_PLAIN_PROG: return k->plain_fd;
	case DVMQ_KDP_FD_FILTERS: return k->filters_fd;
	case DVMQ_KDP_FD_QUEUES: return k->queues_fd;
	case DVMQ_KDP_FD_CPUMAP: return k->cpumap_fd;
	case DVMQ_KDP_FD_QSTATS: return k->qstats_fd;
	case DVMQ_KDP_FD_STATS: return k->stats_fd;
	case DVMQ_KDP_FD_CONFIG: return k->cfg_fd;
	case DVMQ_KDP_FD_TC_PROG: return k->tc_fd;
	}
	return -1;
}

/* ---- filters ---- */

static int kdp_filter_check(const struct dvmq_kdp *k, const struct dvmq_kdp_filter *f)
{
	if (f->hashed)
		return f->vlan > 4094 || f->group >= k->cfg.max_groups ? -EINVAL : 0;
	return f->vlan > 4094 || f->queue >= k->cfg.n_queues ? -EINVAL : 0;
}

static struct dvmq_kern_key kdp_key(const uint8_t mac[6], uint16_t vlan)
{
	struct dvmq_kern_key key;
	memset(&key, 0, sizeof(key));
	memcpy(key.mac, mac, 6);
	key.vlan = vlan;
	return key;
}

int dvmq_kdp_filter_set(struct dvmq_kdp *k, const struct dvmq_kdp_filter *f)
{
	if (kdp_filter_check(k, f))
		return -EINVAL;
	struct dvmq_kern_key key = kdp_key(f->mac, f->vlan);
	uint32_t cur;
	bool fresh = bpf_map_lookup_elem(k->filters_fd, &key, &cur) != 0;
	uint32_t v = f->hashed ? DVMQ_KERN_GROUP | f->group : f->queue;
	if (bpf_map_update_elem(k->filters_fd, &key, &v, BPF_ANY) != 0)
		return -errno;
	k->n_filters += fresh;
	return 0;
}

int dvmq_kdp_filter_del(struct dvmq_kdp *k, const uint8_t mac[6], uint16_t vlan)
{
	struct dvmq_kern_key key = kdp_key(mac, vlan);
	if (bpf_map_delete_elem(k->filters_fd, &key) != 0)
		return -errno;
	k->n_filters--;
	return 0;
}

int dvmq_kdp_filters_apply(struct dvmq_kdp *k, const struct dvmq_kdp_filter *set, uint32_t n_set,
			   const struct dvmq_kdp_filter *del, uint32_t n_del)
{
	for (uint32_t i = 0; i < n_set; i++)
		if (kdp_filter_check(k, &set[i]))
			return -EINVAL;
	/* one at a time keeps n_filters exact (which of a batch's keys were new is not reported);
	 * a reload changes few, and each is one syscall */
	for (uint32_t i = 0; i < n_del; i++) {
		int rc = dvmq_kdp_filter_del(k, del[i].mac, del[i].vlan);
		if (rc && rc != -ENOENT)
			return rc;
	}
	for (uint32_t i = 0; i < n_set; i++) {
		int rc = dvmq_kdp_filter_set(k, &set[i]);
		if (rc)
			return rc;
	}
	return 0;
}

uint32_t dvmq_kdp_filter_count(const struct dvmq_kdp *k)
{
	return k->n_filters;
}
