/* Samples and counters (dvmq/kdp.h): per queue and processor what the cpumap programs counted,
 * per processor its network time from /proc (softirq from /proc/stat, the cpumap kthread's CPU
 * time from /proc/PID/schedstat, else /proc/PID/stat), each a difference from the previous sample.
 * The readings of the previous sample live in the handle (k->prev, k->qprev). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "../fault/fault.h"
#include "kdp_internal.h"

struct dvmq_kdp_sample_mem {
	struct dvmq_kdp_sample s;
	uint64_t *packets, *bytes; /* n_queues x n_cpus */
};

int kdp_find_kthread(uint32_t map_id, int cpu)
{
	char want[64];
	snprintf(want, sizeof(want), "cpumap/%d/map:%u", cpu, map_id);
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	int found = -ENOENT;
	struct dirent *e;
	while ((e = readdir(d)) && found < 0) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		char path[300], comm[64] = "";
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = '\0';
			if (strcmp(comm, want) == 0)
				found = atoi(e->d_name);
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

/* The kthread's CPU time in ns, or 0 when it cannot be read. */
static uint64_t kdp_task_ns(int pid)
{
	if (pid <= 0)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	FILE *f = fopen(path, "re");
	uint64_t ns = 0;
	if (f) {
		int ok = fscanf(f, "%" SCNu64, &ns) == 1;
		fclose(f);
		if (ok)
			return ns;
	}
	/* no schedstat: utime + stime in clock ticks */
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* comm may hold spaces; fields follow its ')' */
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (uint64_t)(ut + st) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* Softirq and kernel (system + irq + softirq) clock ticks of every processor of the set from
 * /proc/stat into out[i]; a processor without a line (offline) keeps what out[i] held. Returns 0
 * or an errno. */
static int kdp_softirq_read(const struct dvmq_kdp *k, struct kdp_proc *out)
{
	FILE *f = fopen(k->stat_path ? k->stat_path : "/proc/stat", "re");
	if (!f)
		return -errno;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		int cpu;
		unsigned long long v[7];
		if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
			continue;
		if (sscanf(line + 3, "%d %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6]) != 8)
			continue;
		if (cpu >= 0 && cpu < (int)DVMQ_KDP_MAX_CPUS && k->cpu_index[cpu] >= 0) {
			out[k->cpu_index[cpu]].softirq_ticks = v[6];
			out[k->cpu_index[cpu]].kernel_ticks = v[2] + v[5] + v[6];
		}
	}
	fclose(f);
	return 0;
}

/* now - prev, or 0 when a counter went back (a processor that went offline and came back) */
static uint64_t kdp_since(uint64_t now, uint64_t prev)
{
	return now >= prev ? now - prev : 0;
}

static uint64_t kdp_ticks_ns(uint64_t ticks)
{
	return ticks * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* Frames a full ring dropped at processor cpu, summed over the receiving CPUs. */
static uint64_t kdp_cpu_drops(const struct dvmq_kdp *k, int cpu, uint64_t *buf)
{
	uint32_t key = (uint32_t)cpu;
	uint64_t sum = 0;
	if (bpf_map_lookup_elem(k->cpudrops_fd, &key, buf) == 0)
		for (int c = 0; c < k->ncpus_possible; c++)
			sum += buf[c];
	return sum;
}

int kdp_sample_init(struct dvmq_kdp *k)
{
	uint32_t n = k->cfg.n_cpus;
	k->kthread_pid = fault_zalloc(n, sizeof(int));
	k->prev = fault_zalloc(n, sizeof(*k->prev));
	k->qprev = fault_zalloc((size_t)k->n_slots * (n + 1), sizeof(*k->qprev));
	k->qbuf = fault_zalloc((size_t)k->ncpus_possible, sizeof(*k->qbuf));
	k->ktbuf = fault_zalloc((size_t)k->ncpus_possible, sizeof(*k->ktbuf));
	if (!k->kthread_pid || !k->prev || !k->qprev || !k->qbuf || !k->ktbuf)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		int pid = kdp_find_kthread(k->cpumap_id, k->cpus[i]);
		k->kthread_pid[i] = pid > 0 ? pid : -1;
		if (pid <= 0)
			kdp_log(k, DVMQ_KDP_LOG_WARN, "kernel mode: no cpumap/%d/map:%u kthread in /proc: its CPU time is "
				"not in processor %d's network time", k->cpus[i], k->cpumap_id, k->cpus[i]);
		k->prev[i].kthread_ns = kdp_task_ns(k->kthread_pid[i]);
		if (pid > 0 && k->cfg.kthread_fifo > 0) {
			struct sched_param sp = { .sched_priority = k->cfg.kthread_fifo };
			if (sched_setscheduler(pid, SCHED_FIFO, &sp) != 0)
				kdp_log(k, DVMQ_KDP_LOG_WARN, "kernel mode: cpumap/%d/map:%u stays SCHED_OTHER: %s", k->cpus[i],
					k->cpumap_id, strerror(errno));
		}
	}
	int rc = kdp_softirq_read(k, k->prev);
	k->prev_ns = kdp_now_ns();
	return rc;
}

int dvmq_kdp_kthread_pid(const struct dvmq_kdp *k, int cpu)
{
	if (cpu < 0 || cpu >= (int)DVMQ_KDP_MAX_CPUS || k->cpu_index[cpu] < 0)
		return -EINVAL;
	int pid = k->kthread_pid[k->cpu_index[cpu]];
	return pid > 0 ? pid : -ENOENT;
}

/* Slot q's readings since the last call (k->qbuf holds them): what the receiving side sent (rx)
 * and, per processor of the set, what was processed (packets, bytes: n_cpus each). */
static void kdp_slot_delta(struct dvmq_kdp *k, uint32_t q, uint64_t *rxp, uint64_t *rxb, uint64_t *packets,
			   uint64_t *bytes)
{
	uint32_t nc = k->cfg.n_cpus;
	struct dvmq_kern_qstat *prev = &k->qprev[(size_t)q * (nc + 1)];
	/* slot nc: the receiving side, summed over every CPU */
	uint64_t p = 0, b = 0;
	for (int c = 0; c < k->ncpus_possible; c++) {
		p += k->qbuf[c].rx_packets;
		b += k->qbuf[c].rx_bytes;
	}
	*rxp = p - prev[nc].rx_packets;
	*rxb = b - prev[nc].rx_bytes;
	prev[nc].rx_packets = p;
	prev[nc].rx_bytes = b;
	for (uint32_t i = 0; i < nc; i++) {
		const struct dvmq_kern_qstat *v = &k->qbuf[k->cpus[i]];
		packets[i] = v->cpu_packets - prev[i].cpu_packets;
		bytes[i] = v->cpu_bytes - prev[i].cpu_bytes;
		prev[i] = *v;
	}
}

int kdp_group_baseline(struct dvmq_kdp *k, uint32_t g)
{
	uint32_t nc = k->cfg.n_cpus;
	uint64_t *scratch = calloc(2 * (size_t)nc, sizeof(uint64_t));
	if (!scratch)
		return -ENOMEM;
	int rc = 0;
	for (uint32_t b = 0; b < DVMQ_KERN_BUCKETS && rc == 0; b++) {
		uint32_t i = g * DVMQ_KERN_BUCKETS + b;
		uint64_t rp, rb;
		if ((rc = kdp_qstat_read(k, k->cfg.n_queues + i)) == 0) {
			kdp_slot_delta(k, k->cfg.n_queues + i, &rp, &rb, scratch, scratch + nc);
			k->slot_rx[2 * i] += rp;
			k->slot_rx[2 * i + 1] += rb;
		}
	}
	free(scratch);
	return rc;
}

int dvmq_kdp_group_buckets(const struct dvmq_kdp *k, uint32_t g, uint64_t packets[DVMQ_KDP_BUCKETS],
			   uint64_t bytes[DVMQ_KDP_BUCKETS])
{
	if (g >= k->cfg.max_groups)
		return -EINVAL;
	for (uint32_t b = 0; b < DVMQ_KERN_BUCKETS; b++) {
		packets[b] = k->slot_rx[2 * ((size_t)g * DVMQ_KERN_BUCKETS + b)];
		bytes[b] = k->slot_rx[2 * ((size_t)g * DVMQ_KERN_BUCKETS + b) + 1];
	}
	return 0;
}

struct dvmq_kdp_sample *dvmq_kdp_sample_new(const struct dvmq_kdp *k)
{
	uint32_t nc = k->cfg.n_cpus, nq = k->cfg.n_queues;
	struct dvmq_kdp_sample_mem *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->s.n_cpus = nc;
	m->s.n_queues = nq;
	m->s.cpus = calloc(nc, sizeof(*m->s.cpus));
	m->s.queues = calloc(nq, sizeof(*m->s.queues));
	m->packets = calloc((size_t)nq * nc, sizeof(uint64_t));
	m->bytes = calloc((size_t)nq * nc, sizeof(uint64_t));
	if (!m->s.cpus || !m->s.queues || !m->packets || !m->bytes) {
		dvmq_kdp_sample_free(&m->s);
		return NULL;
	}
	for (uint32_t q = 0; q < nq; q++) {
		m->s.queues[q].packets = m->packets + (size_t)q * nc;
		m->s.queues[q].bytes = m->bytes + (size_t)q * nc;
	}
	return &m->s;
}

void dvmq_kdp_sample_free(struct dvmq_kdp_sample *s)
{
	if (!s)
		return;
	struct dvmq_kdp_sample_mem *m = (struct dvmq_kdp_sample_mem *)s;
	free(m->s.cpus);
	free(m->s.queues);
	free(m->packets);
	free(m->bytes);
	free(m);
}

int dvmq_kdp_sample(struct dvmq_kdp *k, struct dvmq_kdp_sample *s)
{
	struct dvmq_kdp_sample_mem *m = (struct dvmq_kdp_sample_mem *)s;
	uint32_t nc = k->cfg.n_cpus, nq = k->cfg.n_queues;
	if (s->n_cpus != nc || s->n_queues != nq)
		return -EINVAL;
	uint64_t now = kdp_now_ns();
	struct kdp_proc *now_p = calloc(nc, sizeof(*now_p));
	uint64_t *dbuf = calloc((size_t)k->ncpus_possible, sizeof(uint64_t));
	if (!now_p || !dbuf) {
		free(now_p);
		free(dbuf);
		return -ENOMEM;
	}
	kdp_renew_epochs(k);
	/* a processor /proc/stat does not list now (offline) reads as unchanged: its difference is 0,
	 * not 0 minus the last reading (~1.8e19 ns of softirq, handed to the queues as busy time) */
	for (uint32_t i = 0; i < nc; i++) {
		now_p[i].softirq_ticks = k->prev[i].softirq_ticks;
		now_p[i].kernel_ticks = k->prev[i].kernel_ticks;
	}
	int rc = kdp_softirq_read(k, now_p);
	s->interval_ns = now - k->prev_ns;
	for (uint32_t i = 0; i < nc; i++) {
		s->cpus[i] = (struct dvmq_kdp_cpu_sample){ .cpu = k->cpus[i] };
		now_p[i].kthread_ns = kdp_task_ns(k->kthread_pid[i]);
		now_p[i].drops = kdp_cpu_drops(k, k->cpus[i], dbuf);
	}
	for (uint32_t q = 0; q < nq && rc == 0; q++) {
		if ((rc = kdp_qstat_read(k, q)) != 0)
			break;
		struct dvmq_kdp_queue_sample *qs = &s->queues[q];
		kdp_slot_delta(k, q, &qs->rx_packets, &qs->rx_bytes, m->packets + (size_t)q * nc, m->bytes + (size_t)q * nc);
		qs->cpu = dvmq_kdp_queue_cpu(k, q);
	}
	/* VMMQ: the buckets of the groups in use, each into the queue that holds it */
	uint64_t *bp = rc == 0 && k->cfg.max_groups ? calloc(2 * (size_t)nc, sizeof(uint64_t)) : NULL;
	if (rc == 0 && k->cfg.max_groups && !bp)
		rc = -ENOMEM;
	for (uint32_t g = 0; g < k->cfg.max_groups && rc == 0; g++) {
		if (!k->group_used[g])
			continue;
		for (uint32_t b = 0; b < DVMQ_KERN_BUCKETS && rc == 0; b++) {
			uint32_t i = g * DVMQ_KERN_BUCKETS + b, owner = k->owner[i];
			if ((rc = kdp_qstat_read(k, nq + i)) != 0)
				break;
			uint64_t rp, rb;
			kdp_slot_delta(k, nq + i, &rp, &rb, bp, bp + nc);
			k->slot_rx[2 * i] += rp;
			k->slot_rx[2 * i + 1] += rb;
			s->queues[owner].rx_packets += rp;
			s->queues[owner].rx_bytes += rb;
			for (uint32_t c = 0; c < nc; c++) {
				m->packets[(size_t)owner * nc + c] += bp[c];
				m->bytes[(size_t)owner * nc + c] += bp[nc + c];
			}
		}
	}
	free(bp);
	for (uint32_t q = 0; q < nq && rc == 0; q++)
		for (uint32_t i = 0; i < nc; i++) {
			s->cpus[i].packets += m->packets[(size_t)q * nc + i];
			s->cpus[i].bytes += m->bytes[(size_t)q * nc + i];
		}
	if (rc == 0) {
		for (uint32_t i = 0; i < nc; i++) {
			struct dvmq_kdp_cpu_sample *c = &s->cpus[i];
			c->softirq_ns = kdp_ticks_ns(kdp_since(now_p[i].softirq_ticks, k->prev[i].softirq_ticks));
			c->kthread_ns = now_p[i].kthread_ns >= k->prev[i].kthread_ns ? now_p[i].kthread_ns - k->prev[i].kthread_ns : 0;
			/* the softirq the kthread runs when it re-enables bottom halves is in both figures
			 * (without CONFIG_IRQ_TIME_ACCOUNTING): never more than the CPU's kernel time */
			uint64_t kernel_ns = kdp_ticks_ns(kdp_since(now_p[i].kernel_ticks, k->prev[i].kernel_ticks));
			c->net_ns = c->softirq_ns + c->kthread_ns;
			if (c->net_ns > kernel_ns && kernel_ns >= c->kthread_ns)
				c->net_ns = kernel_ns;
			c->cpumap_drops = kdp_since(now_p[i].drops, k->prev[i].drops);
			k->cpu_pps[i] = s->interval_ns ? (double)c->packets * 1e9 / (double)s->interval_ns : 0.0;
			k->prev[i] = now_p[i];
		}
		k->prev_ns = now;
	}
	free(now_p);
	free(dbuf);
	return rc;
}

int dvmq_kdp_counters(const struct dvmq_kdp *k, struct dvmq_kdp_counters *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t v[DVMQ_KERN_STAT_COUNT] = { 0 };
	uint64_t *buf = calloc((size_t)k->ncpus_possible, sizeof(uint64_t));
	if (!buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < DVMQ_KERN_STAT_COUNT; i++) {
		if (bpf_map_lookup_elem(k->stats_fd, &i, buf) != 0) {
			int e = errno;
			free(buf);
			return -e;
		}
		for (int c = 0; c < k->ncpus_possible; c++)
			v[i] += buf[c];
	}
	free(buf);
	out->redirected = v[DVMQ_KERN_RX_REDIRECTED];
	out->link_local = v[DVMQ_KERN_RX_LINK_LOCAL];
	out->truncated = v[DVMQ_KERN_RX_TRUNCATED];
	out->no_cpu = v[DVMQ_KERN_RX_NO_CPU];
	out->vlan_no_room = v[DVMQ_KERN_RX_VLAN_NO_ROOM];
	out->no_room = v[DVMQ_KERN_RX_NO_ROOM];
	out->local = v[DVMQ_KERN_RX_LOCAL];
	out->default_queue = v[DVMQ_KERN_RX_DEFAULT];
	out->bad_queue = v[DVMQ_KERN_RX_BAD_QUEUE];
	out->double_tag = v[DVMQ_KERN_RX_DOUBLE_TAG];
	out->vlan_restored = v[DVMQ_KERN_RX_VLAN_RESTORED];
	out->vlan_unread = v[DVMQ_KERN_RX_VLAN_UNREAD];
	out->processed = v[DVMQ_KERN_CPU_PROCESSED];
	out->reclassified = v[DVMQ_KERN_CPU_RECLASSIFIED];
	out->cpumap_drops_exact = k->drops_exact;
	out->rebinds = k->rebinds;
	out->rebind_carried = k->rebind_carried;
	out->cpumap_drops = k->drops_exact ? v[DVMQ_KERN_CPUMAP_DROPS]
		: out->redirected > out->processed ? out->redirected - out->processed : 0;
	out->moves = k->n_moved;
	out->moves_ordered = k->moves_ordered;
	out->moves_forced = k->moves_forced;
	out->moves_busy = k->moves_busy;
	out->moves_ordered_xdp = v[DVMQ_KERN_MOVE_ORDERED];
	out->hashed = v[DVMQ_KERN_RX_HASHED];
	out->nic_hashed = v[DVMQ_KERN_RX_NIC_HASHED];
	out->nic_hash = k->nic_hash;
	out->bucket_moves = k->bucket_moves;
	out->bucket_moves_ordered = k->bucket_moves_ordered;
	out->bucket_moves_forced = k->bucket_moves_forced;
	return 0;
}
