/* The kernel steering behind the daemon's data plane interface (dpif.h): kernel mode ([uplink]
 * mode = kernel). The host's own datapath (a Linux bridge, OVS's kernel datapath) keeps switching;
 * dvmq's XDP program on the uplink redirects each VM's frames through a cpumap to the processor
 * that serves its queue (include/dvmq/kdp.h). No thread of its own, no VM port opened: a VM is a
 * filter (MAC, VLAN) -> queue, a queue's placement is a map update, a move is an ordered flip.
 * Samples: what each processor processed per queue (the cpumap program's counters), its network
 * time from /proc, and the cost model (dvmq/costmodel.h) turning packets and bytes into each
 * queue's busy time.
 * VMMQ: a VM that may hold a queue group gets one of kdp's groups, and its filter sends its frames
 * through that group's table (the XDP program hashes them, dvmq/kdp.h); a table change or a queue
 * move is a set of ordered bucket moves, waited for like a queue move.
 * Invariant: a VM slot has a filter exactly while it is in the data plane (vm_add .. vm_remove);
 * a VM holds a kdp group (group >= 0) from its first hashed vm_set_group until it leaves the data
 * plane or stops being hashed; the XDP program is on the uplink only between start and stop (or
 * close). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dvmq/costmodel.h"
#include "dvmq/kdp.h"
#include "dpif.h"
#include "kernel_drops.h"
#include "run_internal.h"

#define KERNEL_FORGET 0.9 /* the cost model's memory: about ten intervals */

struct dpif_kernel_vm {
	bool filtered;       /* a filter (MAC, VLAN) is set for it */
	bool hashed;         /* ... through its group's table (else to `queue`) */
	uint32_t queue;
	int group;           /* its kdp group, or -1 */
};

#define KERNEL_SPARE_GROUPS 8u /* groups beyond the config's VMMQ VMs: for VMs given one later */

struct dpif_kernel {
	struct dvmq_kdp *k;
	struct dvmq_kdp_sample *s;
	struct dvmq_costmodel *cm;
	struct dpif_kernel_vm *vm;   /* r->cap_vms */
	struct run_dpif_queue *acc;  /* per queue, since start: processed, modelled busy time */
	uint64_t *rx;                /* per queue, since start: what the XDP program sent it */
	uint64_t *pk, *by, *busy;    /* scratch, per queue */
	uint64_t *qcpu;              /* per queue per processor of the set, since start: processed */
	bool *group_taken;           /* per kdp group */
	uint32_t n_groups;
	bool told_no_group;          /* the "no group left" line was logged */
	/* redirected, never processed nor counted dropped, found once the counts stood still (at rest
	 * or at the drain): in total, and per queue (what its backlog no longer keeps) */
	uint64_t lost;
	uint64_t *qlost;
	int *deferred;               /* per queue: the cpu of a move refused with -EBUSY, or -1 */
	uint64_t still_redirected, still_done, still_since_ns; /* the counts at rest, since when */
};

static struct dpif_kernel *dk_of(const struct run *r)
{
	return r->dpif_priv;
}

static void kdp_log_line(void *ctx, int level, const char *line)
{
	run_log(ctx, level == DVMQ_KDP_LOG_WARN ? DVMQ_LOG_WARN : DVMQ_LOG_INFO, "%s", line);
}

static int kernel_open(struct run *r, struct dvmq_diag *diag)
{
	struct dpif_kernel *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	r->dpif_priv = d;
	d->vm = calloc(r->cap_vms, sizeof(*d->vm));
	d->acc = calloc(r->n_queues, sizeof(*d->acc));
	d->rx = calloc(r->n_queues, sizeof(*d->rx));
	d->pk = calloc(r->n_queues, sizeof(*d->pk));
	d->by = calloc(r->n_queues, sizeof(*d->by));
	d->busy = calloc(r->n_queues, sizeof(*d->busy));
	d->qcpu = calloc((size_t)r->n_queues * r->n_procs, sizeof(*d->qcpu));
	d->qlost = calloc(r->n_queues, sizeof(*d->qlost));
	d->deferred = malloc(r->n_queues * sizeof(*d->deferred));
	for (uint32_t q = 0; d->deferred && q < r->n_queues; q++)
		d->deferred[q] = -1;
	d->cm = dvmq_costmodel_create(r->n_procs, KERNEL_FORGET);
	/* VMMQ: a group (128 bucket slots, each costing what a queue costs) per VM that may hold one,
	 * and a few for VMs given max-queues later */
	uint32_t hashed_vms = 0;
	for (size_t i = 0; i < r->cfg->n_vms; i++)
		hashed_vms += r->cfg->vms[i].adapter.max_queues > 1;
	d->n_groups = hashed_vms + KERNEL_SPARE_GROUPS;
	if (d->n_groups > r->cap_vms)
		d->n_groups = r->cap_vms;
	if (d->n_groups > DVMQ_KDP_MAX_GROUPS)
		d->n_groups = DVMQ_KDP_MAX_GROUPS;
	d->group_taken = calloc(d->n_groups ? d->n_groups : 1, sizeof(*d->group_taken));
	if (!d->vm || !d->acc || !d->rx || !d->pk || !d->by || !d->busy || !d->qcpu || !d->qlost || !d->deferred || !d->cm || !d->group_taken)
		return -ENOMEM;
	const struct dvmq_config_uplink *u = &r->cfg->uplink;
	struct dvmq_kdp_config kc = {
		.ifname = u->device,
		.defer_attach = true,
		.xdp_mode = u->xdp_mode == DVMQ_CONFIG_XDP_GENERIC ? DVMQ_KDP_XDP_GENERIC : DVMQ_KDP_XDP_NATIVE,
		.cpus = r->cpus,
		.n_cpus = r->n_procs,
		.n_queues = r->n_queues,
		.max_filters = r->cap_vms,
		.max_groups = d->n_groups,
		.qsize = u->qsize,
		.kthread_fifo = (int)u->kthread_priority,
		.nic_hash = u->rx_hash_nic,
		.no_local = u->local_path_off,
		.log = kdp_log_line,
		.log_ctx = r,
	};
	int rc = dvmq_kdp_create(&kc, &d->k, diag->msg, sizeof(diag->msg));
	if (rc)
		return rc;
	d->s = dvmq_kdp_sample_new(d->k);
	return d->s ? dvmq_kdp_sample(d->k, d->s) : -ENOMEM;
}

static int kernel_start(struct run *r)
{
	struct dpif_kernel *d = dk_of(r);
	char err[320];
	int rc = dvmq_kdp_attach(d->k, err, sizeof(err));
	if (rc)
		run_log(r, DVMQ_LOG_ERR, "%s", err);
	else
		run_log(r, DVMQ_LOG_INFO, "kernel mode %s: %s", r->cfg->uplink.device, dvmq_kdp_describe(d->k));
	if (r->o->run_to_completion)
		run_log(r, DVMQ_LOG_WARN, "--run-to-completion is for the userspace switch; kernel mode ignores it");
	return rc;
}

static void kernel_stop(struct run *r)
{
	struct dpif_kernel *d = dk_of(r);
	if (d && d->k)
		dvmq_kdp_detach(d->k); /* frames take the kernel's plain path again: none lost */
}

/* Frames the XDP program redirected that no processor has processed yet (nor a full ring dropped),
 * less those found lost. */
static uint64_t in_flight(const struct dpif_kernel *d, const struct dvmq_kdp_counters *c)
{
	uint64_t done = c->processed + c->cpumap_drops + d->lost;
	return c->redirected > done ? c->redirected - done : 0;
}

/* With nothing redirected (at rest, or after the detach), what is in the cpumap rings is processed
 * within milliseconds (a starved kthread: tens of them). Counts that have not moved for this long
 * will not: what is still missing was lost uncounted (the kernel's enqueue tracepoint missed a
 * flush's drops: seen in the lab, tens to hundreds of frames after cpumap drop bursts). */
#define KERNEL_SETTLED_NS 250000000ull

static uint64_t mono_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Counts that have stood still for KERNEL_SETTLED_NS (nothing redirected, processed or dropped):
 * the frames still missing are lost, in total and per queue (each queue's frames sent and neither
 * processed nor dropped nor lost yet), with a warning line. Only with the drop tracepoint: an
 * estimated drop count cannot tell in flight from dropped. */
static void kernel_settle(struct run *r, const struct dvmq_kdp_counters *c, uint64_t now)
{
	struct dpif_kernel *d = dk_of(r);
	uint64_t done = c->processed + c->cpumap_drops;
	if (c->redirected != d->still_redirected || done != d->still_done || d->still_since_ns == 0) {
		d->still_redirected = c->redirected;
		d->still_done = done;
		d->still_since_ns = now;
		return;
	}
	uint64_t missing = in_flight(d, c);
	if (now - d->still_since_ns < KERNEL_SETTLED_NS || missing == 0 || !c->cpumap_drops_exact)
		return;
	d->lost += missing;
	for (uint32_t q = 0; q < r->n_queues; q++) {
		uint64_t accounted = d->acc[q].packets + d->acc[q].dropped + d->qlost[q];
		d->qlost[q] += d->rx[q] > accounted ? d->rx[q] - accounted : 0;
	}
	run_log(r, DVMQ_LOG_WARN, "kernel mode: %llu frames the XDP program redirected were neither processed "
		"nor counted dropped by the cpumap: lost uncounted between the redirect and the serving processor "
		"(%llu in all)", (unsigned long long)missing, (unsigned long long)d->lost);
}

static int kernel_drain(struct run *r, uint64_t timeout_ns)
{
	struct dpif_kernel *d = dk_of(r);
	uint64_t t0 = mono_now_ns();
	for (;;) {
		struct dvmq_kdp_counters c;
		if (dvmq_kdp_counters(d->k, &c) != 0 || in_flight(d, &c) == 0 || !c.cpumap_drops_exact)
			return 0; /* an estimated drop count cannot tell in flight from dropped */
		uint64_t now = mono_now_ns();
		kernel_settle(r, &c, now);
		if (in_flight(d, &c) == 0)
			return 0;
		if (now - t0 >= timeout_ns)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
}

static void kernel_close(struct run *r)
{
	struct dpif_kernel *d = dk_of(r);
	if (!d)
		return;
	dvmq_kdp_sample_free(d->s);
	dvmq_kdp_destroy(d->k); /* the programs leave the device with their links */
	dvmq_costmodel_destroy(d->cm);
	free(d->vm);
	free(d->acc);
	free(d->rx);
	free(d->pk);
	free(d->by);
	free(d->busy);
	free(d->qcpu);
	free(d->qlost);
	free(d->deferred);
	free(d->group_taken);
	free(d);
	r->dpif_priv = NULL;
}

static void kernel_describe(const struct run *r, char *buf, size_t len)
{
	snprintf(buf, len, "kernel mode on %s", r->cfg->uplink.device);
}

/* ---- VMs: filters ---- */

static int kernel_vm_open(struct run *r, uint32_t slot, const struct dvmq_config_vm *cv, char *msg, size_t len)
{
	(void)cv; /* no port: its device, if named, is only for the views */
	(void)msg;
	(void)len;
	dk_of(r)->vm[slot] = (struct dpif_kernel_vm){ .group = -1 };
	r->vm[slot].gen_vm = -1;
	return 0;
}

static int vm_filter(struct run *r, uint32_t slot, uint32_t queue, char *msg, size_t len)
{
	struct dpif_kernel *d = dk_of(r);
	const struct run_vm *vm = &r->vm[slot];
	struct dvmq_kdp_filter f = { .vlan = vm->adapter.vlan, .queue = queue };
	memcpy(f.mac, vm->adapter.mac, 6);
	int rc = dvmq_kdp_filter_set(d->k, &f);
	if (rc && msg)
		snprintf(msg, len, "vm %s: its filter: %s", vm->name, strerror(-rc));
	if (rc == 0) {
		d->vm[slot].filtered = true;
		d->vm[slot].hashed = false;
		d->vm[slot].queue = queue;
	}
	return rc;
}

static int kernel_vm_add(struct run *r, uint32_t slot, char *msg, size_t len)
{
	return vm_filter(r, slot, DVMQ_DEFAULT_QUEUE, msg, len);
}

/* The VM's kdp group back to the free ones. */
static void group_release(struct dpif_kernel *d, struct dpif_kernel_vm *v)
{
	if (v->group < 0)
		return;
	dvmq_kdp_group_clear(d->k, (uint32_t)v->group);
	d->group_taken[v->group] = false;
	v->group = -1;
}

static void kernel_vm_remove(struct run *r, uint32_t slot)
{
	struct dpif_kernel *d = dk_of(r);
	const struct run_vm *vm = &r->vm[slot];
	if (!d->vm[slot].filtered)
		return;
	int rc = dvmq_kdp_filter_del(d->k, vm->adapter.mac, vm->adapter.vlan);
	if (rc && rc != -ENOENT)
		run_log(r, DVMQ_LOG_WARN, "vm %s: removing its filter: %s", vm->name, strerror(-rc));
	d->vm[slot].filtered = false;
	d->vm[slot].hashed = false;
	group_release(d, &d->vm[slot]);
}

static void kernel_vm_close(struct run *r, uint32_t slot)
{
	dk_of(r)->vm[slot] = (struct dpif_kernel_vm){ .group = -1 };
}

/* Group g's table, each bucket moved in order (waited for, like a queue move; a bucket a forced
 * move just took off a processor waits to go back, at most settle_ns). */
static int group_table(struct run *r, uint32_t g, const uint32_t table[DVMQ_KDP_BUCKETS])
{
	struct dpif_kernel *d = dk_of(r);
	int rc = dvmq_kdp_group_set(d->k, g, table);
	for (int tries = 0; rc == -EBUSY && tries < 200; tries++) {
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
		rc = dvmq_kdp_group_set(d->k, g, table);
	}
	if (rc == 0)
		rc = dvmq_kdp_moves_wait(d->k);
	return rc;
}

static int kernel_vm_set_group(struct run *r, uint32_t slot, const struct dvmq_queue_group *g, bool hashed)
{
	struct dpif_kernel *d = dk_of(r);
	struct dpif_kernel_vm *v = &d->vm[slot];
	const struct run_vm *vm = &r->vm[slot];
	uint32_t table[DVMQ_KDP_BUCKETS];
	int rc = 0;
	if (!hashed || g->n_queues == 0) {
		/* one queue again: every bucket onto it first, then the filter to it: what was sent
		 * through a bucket is processed before the queue's next frames (the same processor) */
		uint32_t q = g->n_queues ? g->queues[0] : DVMQ_DEFAULT_QUEUE;
		if (v->group >= 0 && v->hashed) {
			for (uint32_t b = 0; b < DVMQ_KDP_BUCKETS; b++)
				table[b] = q;
			rc = group_table(r, (uint32_t)v->group, table);
		}
		if (rc == 0)
			rc = vm_filter(r, slot, q, NULL, 0);
		if (rc == 0)
			group_release(d, v);
	} else {
		if (v->group < 0) {
			for (uint32_t i = 0; i < d->n_groups && v->group < 0; i++)
				if (!d->group_taken[i]) {
					d->group_taken[i] = true;
					v->group = (int)i;
				}
			if (v->group < 0) {
				if (!d->told_no_group)
					run_log(r, DVMQ_LOG_WARN, "vm %s: kernel mode has no queue group left (%u, sized at start "
						"for the VMs with max-queues > 1): its frames stay on its first queue", vm->name,
						d->n_groups);
				d->told_no_group = true;
				return g->queues[0] == v->queue && v->filtered ? 0 : vm_filter(r, slot, g->queues[0], NULL, 0);
			}
		}
		if (!v->hashed) {
			/* into the group: every bucket on the VM's queue first, then the filter through the
			 * table (the same processor: in order), then the table moves buckets in order */
			for (uint32_t b = 0; b < DVMQ_KDP_BUCKETS; b++)
				table[b] = v->filtered ? v->queue : g->queues[0];
			rc = group_table(r, (uint32_t)v->group, table);
			if (rc == 0) {
				struct dvmq_kdp_filter f = { .vlan = vm->adapter.vlan, .hashed = true, .group = (uint32_t)v->group };
				memcpy(f.mac, vm->adapter.mac, 6);
				rc = dvmq_kdp_filter_set(d->k, &f);
				if (rc == 0) {
					v->filtered = v->hashed = true;
				}
			}
		}
		for (uint32_t b = 0; b < DVMQ_KDP_BUCKETS && rc == 0; b++)
			table[b] = g->queues[g->indirection[b] < g->n_queues ? g->indirection[b] : 0];
		if (rc == 0)
			rc = group_table(r, (uint32_t)v->group, table);
	}
	if (rc)
		run_log(r, DVMQ_LOG_ERR, "vm %s: its queue group: %s", vm->name, strerror(-rc));
	return rc;
}

static int kernel_vm_buckets(struct run *r, uint32_t slot, uint64_t *packets, uint64_t *bytes)
{
	struct dpif_kernel *d = dk_of(r);
	int g = d->vm[slot].group;
	if (g < 0)
		return -ENOENT;
	/* as of the interval's sample (dpif sample runs first) */
	return dvmq_kdp_group_buckets(d->k, (uint32_t)g, packets, bytes);
}

static int kernel_vm_set_queue(struct run *r, uint32_t slot, uint32_t queue)
{
	struct dpif_kernel *d = dk_of(r);
	struct dpif_kernel_vm *v = &d->vm[slot];
	group_release(d, v); /* (a VM that held a group leaves it by vm_set_group) */
	if (!v->filtered || v->hashed || v->queue == queue)
		return vm_filter(r, slot, queue, NULL, 0);
	/* from one queue to another under traffic: without reordering (dvmq_kdp_filter_rebind), the
	 * new queue then on to the processor the engine gave it (started: each sample completes it) */
	const struct run_vm *vm = &r->vm[slot];
	struct dvmq_kdp_filter f = { .vlan = vm->adapter.vlan, .queue = queue };
	memcpy(f.mac, vm->adapter.mac, 6);
	uint32_t p = dvmq_engine_queue_processor(r->engine, queue);
	int cpu = p != DVMQ_NO_PROCESSOR ? r->cpus[p] : dvmq_kdp_queue_cpu(d->k, queue);
	int rc = dvmq_kdp_filter_rebind(d->k, &f, v->queue, cpu);
	if (rc) {
		run_log(r, DVMQ_LOG_WARN, "vm %s: queue %u to %u in order: %s; its filter changes at once", vm->name,
			v->queue, queue, strerror(-rc));
		return vm_filter(r, slot, queue, NULL, 0);
	}
	v->queue = queue;
	return 0;
}

/* A move, ordered (bpf/dvmq_kern.h), started and not waited for: the control thread (dvmqctl,
 * sampling) does not stop for a plan's moves, each bounded by the old processor's ring. The XDP
 * program flips a queue once drained, at its next frame; the poll here completes the idle and
 * the drained ones at once, each sample's poll the rest (forced past their bound). A queue a
 * forced move just took off `p` may not go back before its old frames there are processed
 * (-EBUSY, at most settle_ns): that move is started by a later sample. */
static int kernel_queue_move(struct run *r, uint32_t q, uint32_t p)
{
	struct dpif_kernel *d = dk_of(r);
	int cpu = r->cpus[p];
	int rc = dvmq_kdp_queue_move(d->k, q, cpu);
	d->deferred[q] = rc == -EBUSY ? cpu : -1; /* a later move of q replaces a deferred one */
	if (rc == -EBUSY)
		return 0;
	if (rc == 0)
		rc = dvmq_kdp_moves_poll(d->k, mono_now_ns());
	if (rc < 0)
		run_log(r, DVMQ_LOG_ERR, "queue %u to cpu%d: %s", q, cpu, strerror(-rc));
	return rc < 0 ? rc : 0;
}

/* The moves that were refused for a while (-EBUSY) started now, then what can complete of them all. */
static int kernel_moves_continue(struct run *r)
{
	struct dpif_kernel *d = dk_of(r);
	for (uint32_t q = 0; q < r->n_queues; q++) {
		if (d->deferred[q] < 0)
			continue;
		int rc = dvmq_kdp_queue_move(d->k, q, d->deferred[q]);
		if (rc == -EBUSY)
			continue;
		if (rc)
			run_log(r, DVMQ_LOG_ERR, "queue %u to cpu%d: %s", q, d->deferred[q], strerror(-rc));
		d->deferred[q] = -1;
	}
	int rc = dvmq_kdp_moves_poll(d->k, mono_now_ns());
	return rc < 0 ? rc : 0;
}

/* ---- samples ---- */

/* Processor index i's ring drops of the interval, into its queues' dropped counts
 * (kernel_drops.h): the queues on it now or that it served in the interval, by their frames not
 * yet accounted for. (Without the drop tracepoint the per-processor drops are 0: the frames then
 * stay in the queues' backlog, as the counters' estimate does.) */
static void kernel_queue_drops(struct run *r, uint32_t i)
{
	struct dpif_kernel *d = dk_of(r);
	const struct dvmq_kdp_sample *s = d->s;
	uint64_t drops = s->cpus[i].cpumap_drops;
	if (drops == 0)
		return;
	uint32_t fallback = 0; /* the default queue, if no queue is on it (a drop from before a move) */
	bool found = false;
	for (uint32_t q = 0; q < r->n_queues; q++) {
		const struct dvmq_kdp_queue_sample *qs = &s->queues[q];
		bool here = qs->cpu == r->cpus[i];
		if (here && !found) {
			fallback = q;
			found = true;
		}
		uint64_t done = d->acc[q].packets + d->acc[q].dropped;
		d->pk[q] = (here || qs->packets[i] > 0) && d->rx[q] > done ? d->rx[q] - done : 0;
		d->by[q] = 0;
	}
	kernel_drops_attribute(drops, r->n_queues, d->pk, fallback, d->by);
	for (uint32_t q = 0; q < r->n_queues; q++)
		d->acc[q].dropped += d->by[q];
}

static int kernel_sample(struct run *r, uint64_t elapsed_ns, struct dvmq_proc_sample *ps)
{
	(void)elapsed_ns;
	(void)ps; /* /proc/stat's busy fraction stands: the network time is part of it */
	struct dpif_kernel *d = dk_of(r);
	int rc = kernel_moves_continue(r);
	if (rc < 0)
		return rc;
	rc = dvmq_kdp_sample(d->k, d->s);
	if (rc)
		return rc;
	const struct dvmq_kdp_sample *s = d->s;
	for (uint32_t q = 0; q < r->n_queues; q++) {
		d->rx[q] += s->queues[q].rx_packets;
		for (uint32_t i = 0; i < s->n_cpus; i++) {
			d->qcpu[(size_t)q * r->n_procs + i] += s->queues[q].packets[i];
			d->acc[q].packets += s->queues[q].packets[i];
			d->acc[q].bytes += s->queues[q].bytes[i];
		}
	}
	for (uint32_t i = 0; i < s->n_cpus; i++) {
		const struct dvmq_kdp_cpu_sample *c = &s->cpus[i];
		dvmq_costmodel_update(d->cm, i, s->interval_ns, c->net_ns, c->packets, c->bytes);
		for (uint32_t q = 0; q < r->n_queues; q++) {
			d->pk[q] = s->queues[q].packets[i];
			d->by[q] = s->queues[q].bytes[i];
		}
		dvmq_costmodel_attribute(d->cm, i, s->interval_ns, c->net_ns, d->pk, d->by, r->n_queues, d->busy);
		for (uint32_t q = 0; q < r->n_queues; q++)
			d->acc[q].busy_ns += d->busy[q];
	}
	for (uint32_t i = 0; i < s->n_cpus; i++)
		kernel_queue_drops(r, i);
	/* at rest, frames still missing are lost: said now, not only at the stop */
	struct dvmq_kdp_counters c;
	if (dvmq_kdp_counters(d->k, &c) == 0)
		kernel_settle(r, &c, mono_now_ns());
	return 0;
}

static void kernel_queue_stats(struct run *r, uint32_t q, struct run_dpif_queue *out)
{
	struct dpif_kernel *d = dk_of(r);
	*out = d->acc[q];
	/* sent but neither processed nor dropped yet: in its processor's cpumap ring */
	uint64_t done = d->acc[q].packets + d->acc[q].dropped + d->qlost[q];
	out->backlog = d->rx[q] > done ? d->rx[q] - done : 0;
}

static void kernel_counters(struct run *r, struct run_dpif_counters *out)
{
	struct dvmq_kdp_counters c;
	memset(out, 0, sizeof(*out));
	if (dvmq_kdp_counters(dk_of(r)->k, &c) != 0)
		return;
	uint64_t passed = c.link_local + c.truncated + c.no_cpu + c.vlan_no_room + c.no_room;
	out->received = out->offered = c.redirected + c.local + passed;
	/* delivered: into the kernel's own path, on the queue's processor (through its ring, or where
	 * it arrived when that is the queue's processor) or (passed) where it arrived */
	out->delivered = c.processed + c.local + passed;
	out->drops[DVMQ_SNAP_DROP_OVERFLOW] = c.cpumap_drops;
	out->in_flight = in_flight(dk_of(r), &c);
}

/* One named counter of the snapshot. */
static void counter(struct dvmq_snapshot *s, uint32_t *i, const char *name, const char *help, const char *key,
		    const char *value, uint64_t v)
{
	/* past the room the snapshot has: counted (the caller says so), never written */
	if ((*i)++ >= s->n_counters)
		return;
	struct dvmq_snap_counter *c = &s->counters[*i - 1];
	c->name = name;
	c->help = help;
	if (key) {
		c->labels[0].key = key;
		snprintf(c->labels[0].value, sizeof(c->labels[0].value), "%s", value);
	}
	c->value = v;
}

/* Room for the fixed counters below (26 today), with some to spare: the list grows with the
 * data plane, and writing past the snapshot's array is what a forgotten bump did twice; every
 * write is checked against the room (counter()), and n_counters is set to what was written. */
#define KERNEL_COUNTERS 40u

static int kernel_snap_totals(struct run *r, struct dvmq_snapshot *s)
{
	struct dvmq_kdp_counters c;
	struct run_dpif_counters cc;
	if (dvmq_kdp_counters(dk_of(r)->k, &c) != 0)
		return 0;
	kernel_counters(r, &cc);
	s->frames_rx = cc.received;
	s->frames_delivered = cc.delivered;
	memcpy(s->drops, cc.drops, sizeof(s->drops));
	snprintf(s->uplink_port, sizeof(s->uplink_port), "kernel:%s", r->cfg->uplink.device);
	const uint64_t *qc = dk_of(r)->qcpu;
	uint32_t n_qc = 0;
	for (size_t j = 0; j < (size_t)r->n_queues * r->n_procs; j++)
		n_qc += qc[j] != 0;
	if (dvmq_snapshot_set_counters(s, KERNEL_COUNTERS + n_qc) != 0)
		return -ENOMEM;
	uint32_t i = 0;
	static const char *const fh = "frames the XDP program saw, by fate";
	counter(s, &i, "xdp_frames_total", fh, "fate", "redirected", c.redirected);
	counter(s, &i, "xdp_frames_total", fh, "fate", "local", c.local);
	counter(s, &i, "xdp_frames_total", fh, "fate", "link_local", c.link_local);
	counter(s, &i, "xdp_frames_total", fh, "fate", "truncated", c.truncated);
	counter(s, &i, "xdp_frames_total", fh, "fate", "no_cpu", c.no_cpu);
	counter(s, &i, "xdp_frames_total", fh, "fate", "vlan_no_room", c.vlan_no_room);
	counter(s, &i, "xdp_frames_total", fh, "fate", "no_room", c.no_room);
	static const char *const rh = "redirected (and local) frames, by what they were";
	counter(s, &i, "xdp_redirected_total", rh, "kind", "default_queue", c.default_queue);
	counter(s, &i, "xdp_redirected_total", rh, "kind", "bad_queue", c.bad_queue);
	counter(s, &i, "xdp_redirected_total", rh, "kind", "double_tag", c.double_tag);
	counter(s, &i, "xdp_redirected_total", rh, "kind", "hashed", c.hashed);
	counter(s, &i, "xdp_redirected_total", rh, "kind", "nic_hashed", c.nic_hashed);
	counter(s, &i, "xdp_vlan_total", "VLAN tags the driver stripped: put back, or unreadable", "tag", "restored",
		c.vlan_restored);
	counter(s, &i, "xdp_vlan_total", "VLAN tags the driver stripped: put back, or unreadable", "tag", "unread",
		c.vlan_unread);
	counter(s, &i, "cpumap_processed_total", "frames the queues' processors processed", NULL, NULL, c.processed);
	counter(s, &i, "cpumap_reclassified_total", "frames the serving side classified again (no prefix)", NULL, NULL,
		c.reclassified);
	/* "tracepoint": the kernel's enqueue tracepoint, which misses some drops in bursts (lost) */
	counter(s, &i, "cpumap_drops_total", "frames a full cpumap ring dropped", "count",
		c.cpumap_drops_exact ? "tracepoint" : "estimated", c.cpumap_drops);
	counter(s, &i, "cpumap_lost_total",
		"frames redirected that no processor processed nor the drop tracepoint counted (found at rest)", NULL, NULL,
		dk_of(r)->lost);
	counter(s, &i, "kernel_rebinds_total", "VMs' filters moved to another queue in order (a VMQ granted or revoked)",
		NULL, NULL, c.rebinds);
	static const char *const mh = "queue moves, by how they ended";
	counter(s, &i, "kernel_moves_total", mh, "kind", "ordered", c.moves_ordered);
	counter(s, &i, "kernel_moves_total", mh, "kind", "forced", c.moves_forced);
	counter(s, &i, "kernel_moves_total", mh, "kind", "deferred", c.moves_busy);
	counter(s, &i, "kernel_moves_total", mh, "kind", "ordered_by_xdp", c.moves_ordered_xdp);
	static const char *const bh = "VMMQ bucket moves (a queue group's bucket to another processor), by how they ended";
	counter(s, &i, "kernel_bucket_moves_total", bh, "kind", "ordered", c.bucket_moves_ordered);
	counter(s, &i, "kernel_bucket_moves_total", bh, "kind", "forced", c.bucket_moves_forced);
	counter(s, &i, "kernel_filters", "(MAC, VLAN) filters set", NULL, NULL, dvmq_kdp_filter_count(dk_of(r)->k));
	if (i <= s->n_counters)
		s->counters[i - 1].gauge = true;
	if (i > KERNEL_COUNTERS) { /* a counter added above without room for it: a bug, said once */
		static atomic_bool said;
		if (!atomic_exchange(&said, true))
			run_log(r, DVMQ_LOG_ERR, "kernel mode: %u counters for room %u (KERNEL_COUNTERS): the "
				"per-queue counters are left out", i, KERNEL_COUNTERS);
		s->n_counters = i < s->n_counters ? i : s->n_counters;
		return 0;
	}
	/* what each processor processed of each queue (the cpumap program's per-CPU counts): the
	 * per-CPU counters that show frames follow the plan; only the pairs that ever had a frame */
	for (uint32_t q = 0; q < r->n_queues; q++)
		for (uint32_t p = 0; p < r->n_procs; p++) {
			uint64_t v = qc[(size_t)q * r->n_procs + p];
			if (!v)
				continue;
			struct dvmq_snap_counter *e = &s->counters[i++];
			e->name = "processed_packets_total";
			e->help = "frames of each queue each processor processed (cpumap program; XDP for local frames)";
			e->labels[0].key = "cpu";
			snprintf(e->labels[0].value, sizeof(e->labels[0].value), "%d", r->cpus[p]);
			e->labels[1].key = "queue";
			snprintf(e->labels[1].value, sizeof(e->labels[1].value), "%u", q);
			e->value = v;
		}
	s->n_counters = i;
	return 0;
}

static void kernel_snap_vm(struct run *r, uint32_t slot, struct dvmq_snap_vm *sv)
{
	const struct run_vm *vm = &r->vm[slot];
	if (vm->device[0])
		snprintf(sv->port, sizeof(sv->port), "kernel:%s", vm->device);
	else
		snprintf(sv->port, sizeof(sv->port), "kernel");
}

static void kernel_finish(struct run *r, struct dvmq_run_result *res)
{
	struct run_dpif_counters c;
	kernel_counters(r, &c);
	res->r.offered = c.offered;
	res->r.delivered = c.delivered;
	res->r.dropped = c.drops[DVMQ_SNAP_DROP_OVERFLOW];
	res->r.backlog_end = (double)c.in_flight; /* the lost ones are not in it */
	res->lost = dk_of(r)->lost;
	/* kernel mode sees no frame past the cpumap: order and per-flow loss are the host's to
	 * observe (the namespace tests do it with sequence-numbered flows) */
}

const struct run_dpif_ops run_dpif_kernel = {
	.kind = "kernel",
	.open = kernel_open,
	.start = kernel_start,
	.stop = kernel_stop,
	.drain = kernel_drain,
	.close = kernel_close,
	.describe = kernel_describe,
	.vm_open = kernel_vm_open,
	.vm_add = kernel_vm_add,
	.vm_remove = kernel_vm_remove,
	.vm_close = kernel_vm_close,
	.vm_set_queue = kernel_vm_set_queue,
	.vm_set_group = kernel_vm_set_group,
	.vm_buckets = kernel_vm_buckets,
	.queue_move = kernel_queue_move,
	.sample = kernel_sample,
	.queue_stats = kernel_queue_stats,
	.counters = kernel_counters,
	.snap_totals = kernel_snap_totals,
	.snap_vm = kernel_snap_vm,
	.finish = kernel_finish,
};
