/* The fake daemon state of ctl_fixture.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl_fixture.h"
#include "dvmq/units.h"

#define PKT_BYTES 1000u
#define PKT_NS 1000u

void ctl_fake_init(struct ctl_fake *f, uint32_t n_procs)
{
	memset(f, 0, sizeof(*f));
	f->n_procs = n_procs > FAKE_MAX_PROCS ? FAKE_MAX_PROCS : n_procs;
	for (uint32_t p = 0; p < f->n_procs; p++)
		f->in_set[p] = true;
	f->adapter = (struct dvmq_snap_adapter){ .vmq = true, .base = 0, .max_processors = 0,
						 .max_number = f->n_procs - 1, .numa_node = -1, .queue_pool = FAKE_POOL };
	dvmq_engine_params_default(&f->params);
	f->interval_ns = 100000000ull;
	f->queues[0] = (struct fake_queue){ .active = true, .vm = DVMQ_SNAP_NO_VM };
}

static double proc_load(const struct ctl_fake *f, uint32_t p)
{
	double l = f->other_load[p];
	for (uint32_t q = 0; q <= FAKE_POOL; q++)
		if (f->queues[q].active && f->queues[q].proc == p && f->queues[q].vm != DVMQ_SNAP_NO_VM)
			l += f->vms[f->queues[q].vm].load;
	return l;
}

static uint32_t next_in_set(struct ctl_fake *f)
{
	for (uint32_t k = 0; k < f->n_procs; k++) {
		uint32_t p = (f->next_proc + k) % f->n_procs;
		if (f->in_set[p]) {
			f->next_proc = p + 1;
			return p;
		}
	}
	return 0;
}

/* Gives VM v a VMQ when its weight and the pool allow. */
static void grant(struct ctl_fake *f, uint32_t v)
{
	struct fake_vm *vm = &f->vms[v];
	if (vm->queue != DVMQ_DEFAULT_QUEUE || vm->weight == 0 || !f->adapter.vmq)
		return;
	for (uint32_t q = 1; q <= FAKE_POOL && q <= f->adapter.queue_pool; q++) {
		if (f->queues[q].active)
			continue;
		uint32_t p = next_in_set(f);
		f->queues[q] = (struct fake_queue){ .active = true, .vm = v, .proc = p, .home = p };
		vm->queue = q;
		return;
	}
}

/* A second queue for a VM allowed two or more (VMMQ), when the pool has one free. */
static void grant_second(struct ctl_fake *f, uint32_t v)
{
	struct fake_vm *vm = &f->vms[v];
	if (vm->queue == DVMQ_DEFAULT_QUEUE || vm->queue2 != DVMQ_DEFAULT_QUEUE || vm->max_queues < 2)
		return;
	for (uint32_t q = 1; q <= FAKE_POOL && q <= f->adapter.queue_pool; q++) {
		if (f->queues[q].active)
			continue;
		uint32_t p = next_in_set(f);
		f->queues[q] = (struct fake_queue){ .active = true, .vm = v, .proc = p, .home = p };
		vm->queue2 = q;
		return;
	}
}

static void release(struct ctl_fake *f, uint32_t v)
{
	if (f->vms[v].queue != DVMQ_DEFAULT_QUEUE)
		f->queues[f->vms[v].queue].active = false;
	if (f->vms[v].queue2 != DVMQ_DEFAULT_QUEUE)
		f->queues[f->vms[v].queue2].active = false;
	f->vms[v].queue = f->vms[v].queue2 = DVMQ_DEFAULT_QUEUE;
}

static int find_vm(const struct ctl_fake *f, const char *name)
{
	for (uint32_t v = 0; v < FAKE_MAX_VMS; v++)
		if (f->vms[v].used && strcmp(f->vms[v].name, name) == 0)
			return (int)v;
	return -1;
}

static int vm_add(void *ctx, const struct dvmq_ctl_vm_spec *s, char *msg, size_t len)
{
	struct ctl_fake *f = ctx;
	if (f->fail)
		return f->fail;
	for (uint32_t v = 0; v < FAKE_MAX_VMS; v++) {
		if (f->vms[v].used)
			continue;
		struct fake_vm *vm = &f->vms[v];
		*vm = (struct fake_vm){ .used = true, .vlan = s->vlan, .weight = s->weight, .queue = DVMQ_DEFAULT_QUEUE };
		snprintf(vm->name, sizeof(vm->name), "%s", s->name);
		snprintf(vm->port, sizeof(vm->port), "%s", s->port ? s->port : "");
		memcpy(vm->mac, s->mac, 6);
		grant(f, v);
		return 0;
	}
	snprintf(msg, len, "the VM table is full (%u VMs)", FAKE_MAX_VMS);
	return -ENOSPC;
}

static int vm_remove(void *ctx, const char *name, char *msg, size_t len)
{
	(void)msg;
	(void)len;
	struct ctl_fake *f = ctx;
	int v = find_vm(f, name);
	if (f->fail)
		return f->fail;
	if (v < 0)
		return -ENOENT;
	release(f, (uint32_t)v);
	f->vms[v].used = false;
	for (uint32_t w = 0; w < FAKE_MAX_VMS; w++) /* a freed queue goes to a waiting VM */
		if (f->vms[w].used)
			grant(f, w);
	return 0;
}

static int vm_set(void *ctx, const char *name, const struct dvmq_ctl_vm_change *c, char *msg, size_t len)
{
	(void)msg;
	(void)len;
	struct ctl_fake *f = ctx;
	int v = find_vm(f, name);
	if (f->fail)
		return f->fail;
	if (v < 0)
		return -ENOENT;
	if (c->has_vlan)
		f->vms[v].vlan = c->vlan;
	if (c->has_weight) {
		f->vms[v].weight = c->weight;
		if (c->weight == 0)
			release(f, (uint32_t)v);
		else
			grant(f, (uint32_t)v);
	}
	if (c->has_max_queues) {
		struct fake_vm *vm = &f->vms[v];
		vm->max_queues = c->max_queues;
		if (c->max_queues < 2 && vm->queue2 != DVMQ_DEFAULT_QUEUE) {
			f->queues[vm->queue2].active = false;
			vm->queue2 = DVMQ_DEFAULT_QUEUE;
		}
		grant_second(f, (uint32_t)v);
	}
	return 0;
}

static int adapter_set(void *ctx, const struct dvmq_ctl_adapter_change *c, char *msg, size_t len)
{
	struct ctl_fake *f = ctx;
	if (f->fail)
		return f->fail;
	if (c->has_queue_pool && c->queue_pool != f->adapter.queue_pool) {
		snprintf(msg, len, "the queue pool size is fixed while the daemon runs");
		return -EOPNOTSUPP;
	}
	bool set[FAKE_MAX_PROCS];
	uint32_t n = 0;
	struct dvmq_snap_adapter a = f->adapter;
	if (c->has_base)
		a.base = c->base;
	if (c->has_max_processors)
		a.max_processors = c->max_processors;
	if (c->has_max_number)
		a.max_number = c->max_number;
	if (c->has_numa_node)
		a.numa_node = c->numa_node;
	if (c->has_vmq)
		a.vmq = c->vmq;
	for (uint32_t p = 0; p < f->n_procs; p++) {
		set[p] = p >= a.base && p <= a.max_number && (!c->has_processors || c->processors[p]) &&
			 (a.numa_node <= 0) && (!a.max_processors || n < a.max_processors);
		n += set[p];
	}
	if (n == 0) {
		snprintf(msg, len, "that processor set is empty");
		return -EINVAL;
	}
	f->adapter = a;
	memcpy(f->in_set, set, sizeof(set));
	for (uint32_t v = 0; v < FAKE_MAX_VMS; v++) {
		if (!f->vms[v].used)
			continue;
		if (!a.vmq)
			release(f, v);
		else
			grant(f, v);
	}
	for (uint32_t q = 1; q <= FAKE_POOL; q++) /* queues outside the set move in */
		if (f->queues[q].active && !f->in_set[f->queues[q].proc])
			f->queues[q].proc = next_in_set(f);
	return 0;
}

static int params_set(void *ctx, const struct dvmq_engine_params *p, uint64_t interval_ns, char *msg, size_t len)
{
	(void)msg;
	(void)len;
	struct ctl_fake *f = ctx;
	if (f->fail)
		return f->fail;
	f->params = *p;
	f->interval_ns = interval_ns;
	return 0;
}

static void log_move_why(struct ctl_fake *f, uint32_t q, uint32_t to, double before_src, double before_dst,
			 enum dvmq_reason why)
{
	struct fake_queue *fq = &f->queues[q];
	struct dvmq_snap_move m = {
		.seq = ++f->seq, .at_ns = f->now_ns, .queue = q, .from = fq->proc, .to = to, .reason = why,
		.queue_load = f->vms[fq->vm].load, .src_before = before_src, .dst_before = before_dst,
	};
	m.src_after = before_src - m.queue_load;
	m.dst_after = before_dst + m.queue_load;
	snprintf(m.vm, sizeof(m.vm), "%s", f->vms[fq->vm].name);
	fq->proc = to;
	fq->moves++;
	fq->moved = true;
	fq->last_move_ns = f->now_ns;
	f->moves_by_reason[why]++;
	if (f->n_hist)
		f->h_moves[f->n_hist - 1]++;
	if (f->n_log == FAKE_LOG) {
		memmove(f->log, f->log + 1, (FAKE_LOG - 1) * sizeof(f->log[0]));
		f->n_log--;
	}
	f->log[f->n_log++] = m;
	if (f->on_move)
		f->on_move(f->on_move_ctx, &m);
}

static void log_move(struct ctl_fake *f, uint32_t q, uint32_t to, double before_src, double before_dst)
{
	log_move_why(f, q, to, before_src, before_dst, DVMQ_REASON_SPREAD);
}

void ctl_fake_move(struct ctl_fake *f, uint32_t q, uint32_t to)
{
	log_move(f, q, to, proc_load(f, f->queues[q].proc), proc_load(f, to));
}

/* The one move rebalance makes: the biggest unpinned queue off the busiest processor to the
 * least busy, when that lowers the maximum. Returns false when there is none. */
static bool plan_one(struct ctl_fake *f, uint32_t *q, uint32_t *to, double *lh, double *lc)
{
	uint32_t hot = 0, cold = 0;
	for (uint32_t p = 0; p < f->n_procs; p++) {
		if (!f->in_set[p])
			continue;
		if (!f->in_set[hot] || proc_load(f, p) > proc_load(f, hot))
			hot = p;
		if (!f->in_set[cold] || proc_load(f, p) < proc_load(f, cold))
			cold = p;
	}
	uint32_t best = 0;
	for (uint32_t k = 1; k <= FAKE_POOL; k++)
		if (f->queues[k].active && !f->queues[k].pinned && f->queues[k].proc == hot &&
		    (!best || f->vms[f->queues[k].vm].load > f->vms[f->queues[best].vm].load))
			best = k;
	*lh = proc_load(f, hot);
	*lc = proc_load(f, cold);
	*q = best;
	*to = cold;
	return best && hot != cold && *lc + f->vms[f->queues[best].vm].load < *lh;
}

static int rebalance(void *ctx, struct dvmq_snap_move *out, size_t max, size_t *n, char *msg, size_t len)
{
	(void)msg;
	(void)len;
	struct ctl_fake *f = ctx;
	*n = 0;
	if (f->fail)
		return f->fail;
	f->plans++;
	f->plan_buckets[0]++;
	f->plan_seconds += 5e-6;
	uint32_t q, to;
	double lh, lc;
	if (!plan_one(f, &q, &to, &lh, &lc) || max == 0)
		return 0;
	log_move(f, q, to, lh, lc);
	out[(*n)++] = f->log[f->n_log - 1];
	return 0;
}

static int rebalance_dry_run(void *ctx, struct dvmq_snap_move *out, size_t max, size_t *n, char *msg, size_t len)
{
	(void)msg;
	(void)len;
	struct ctl_fake *f = ctx;
	*n = 0;
	if (f->fail)
		return f->fail;
	uint32_t q, to;
	double lh, lc;
	if (!plan_one(f, &q, &to, &lh, &lc) || max == 0)
		return 0;
	const struct fake_queue *fq = &f->queues[q];
	double l = f->vms[fq->vm].load;
	out[(*n)++] = (struct dvmq_snap_move){ .queue = q, .from = fq->proc, .to = to, .reason = DVMQ_REASON_REBALANCE,
					       .queue_load = l, .src_before = lh, .src_after = lh - l,
					       .dst_before = lc, .dst_after = lc + l };
	snprintf(out[0].vm, sizeof(out[0].vm), "%s", f->vms[fq->vm].name);
	return 0;
}

static int queue_set(void *ctx, uint32_t q, uint32_t p, struct dvmq_snap_move *move, bool *moved, char *msg,
		     size_t len)
{
	(void)msg;
	(void)len;
	struct ctl_fake *f = ctx;
	*moved = false;
	if (f->fail)
		return f->fail;
	if (q > FAKE_POOL || !f->queues[q].active)
		return -ENOENT;
	struct fake_queue *fq = &f->queues[q];
	fq->pinned = p != DVMQ_NO_PROCESSOR;
	if (fq->pinned && fq->proc != p) {
		log_move_why(f, q, p, proc_load(f, fq->proc), proc_load(f, p), DVMQ_REASON_PIN);
		*move = f->log[f->n_log - 1];
		*moved = true;
	}
	return 0;
}

static int stats_clear(void *ctx, char *msg, size_t len)
{
	(void)msg;
	(void)len;
	struct ctl_fake *f = ctx;
	if (f->fail)
		return f->fail;
	for (uint32_t q = 0; q <= FAKE_POOL; q++) {
		struct fake_queue *fq = &f->queues[q];
		fq->packets = fq->bytes = fq->busy_ns = fq->moves = 0;
		memset(fq->drops, 0, sizeof(fq->drops));
	}
	memset(f->moves_by_reason, 0, sizeof(f->moves_by_reason));
	memset(f->p_busy_ns, 0, sizeof(f->p_busy_ns));
	memset(f->p_frames, 0, sizeof(f->p_frames));
	memset(f->p_ring_full, 0, sizeof(f->p_ring_full));
	memset(f->p_wakeups, 0, sizeof(f->p_wakeups));
	f->pingpongs = f->frames_rx = f->frames_delivered = 0;
	f->cleared_ns = f->now_ns;
	return 0;
}

static const uint32_t hist_queue_ids[FAKE_POOL + 1] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };

static int history(void *ctx, struct dvmq_ctl_history *h, char *msg, size_t len)
{
	(void)msg;
	(void)len;
	struct ctl_fake *f = ctx;
	static const char *vms[FAKE_POOL + 1];
	for (uint32_t q = 0; q <= FAKE_POOL; q++)
		vms[q] = f->queues[q].active && f->queues[q].vm != DVMQ_SNAP_NO_VM ? f->vms[f->queues[q].vm].name : "";
	*h = (struct dvmq_ctl_history){ .step_ns = 1000000000ull, .n_processors = f->n_procs, .n_queues = FAKE_POOL + 1,
					.queue_ids = hist_queue_ids, .queue_vms = vms, .n_rows = f->n_hist,
					.t_ns = f->h_t, .awake = f->h_awake, .drops_per_s = f->h_drops, .moves = f->h_moves };
	/* rows are FAKE_MAX_PROCS wide: the reply reads n_processors per row, so pack them */
	static float procs[FAKE_HIST * FAKE_MAX_PROCS], queues[FAKE_HIST * (FAKE_POOL + 1)];
	for (uint32_t r = 0; r < f->n_hist; r++) {
		memcpy(&procs[r * f->n_procs], f->h_proc[r], f->n_procs * sizeof(float));
		memcpy(&queues[r * (FAKE_POOL + 1)], f->h_queue[r], (FAKE_POOL + 1) * sizeof(float));
	}
	h->proc_load = procs;
	h->queue_load = queues;
	return 0;
}

static int config_show(void *ctx, char **text, char *path, size_t path_len, char *msg, size_t len)
{
	(void)msg;
	(void)len;
	struct ctl_fake *f = ctx;
	size_t cap = 256 + FAKE_MAX_VMS * 128, off = 0;
	char *t = malloc(cap);
	if (!t)
		return -ENOMEM;
	off += (size_t)snprintf(t + off, cap - off, "# the fake daemon\n[host]\ncpus = all\n[engine]\npolicy = %s\n",
				dvmq_policy_name(f->params.policy));
	for (uint32_t v = 0; v < FAKE_MAX_VMS; v++)
		if (f->vms[v].used)
			off += (size_t)snprintf(t + off, cap - off, "\n[vm %s]\nweight = %u\nport = sink\n", f->vms[v].name,
						f->vms[v].weight);
	*text = t;
	snprintf(path, path_len, "/etc/dvmq/fake.conf");
	return 0;
}

/* The fake's file gives every VM the weight it was added with: a VM set otherwise differs. */
static int config_diff(void *ctx, void (*line)(void *lctx, const char *text), void *lctx, char *path, size_t path_len,
		       char *msg, size_t len)
{
	struct ctl_fake *f = ctx;
	snprintf(path, path_len, "/etc/dvmq/fake.conf");
	if (f->fail == -EINVAL) {
		snprintf(msg, len, "/etc/dvmq/fake.conf:3: bad value 'x' for weight");
		return -EINVAL;
	}
	for (uint32_t v = 0; v < FAKE_MAX_VMS; v++)
		if (f->vms[v].used && f->vms[v].weight != f->vms[v].file_weight) {
			char l[160];
			snprintf(l, sizeof(l), "vm %s changed: weight %u -> %u", f->vms[v].name, f->vms[v].weight,
				 f->vms[v].file_weight);
			line(lctx, l);
		}
	return 0;
}

void ctl_fake_tick(struct ctl_fake *f, uint64_t dt_ns)
{
	f->now_ns += dt_ns;
	uint64_t drops = 0;
	bool awake[FAKE_MAX_PROCS] = { false };
	for (uint32_t q = 1; q <= FAKE_POOL; q++) {
		struct fake_queue *fq = &f->queues[q];
		if (!fq->active)
			continue;
		uint64_t busy = (uint64_t)(f->vms[fq->vm].load * (double)dt_ns);
		uint64_t pkts = busy / PKT_NS;
		fq->busy_ns += busy;
		fq->packets += pkts;
		fq->bytes += pkts * PKT_BYTES;
		f->frames_rx += pkts;
		f->frames_delivered += pkts;
		f->p_busy_ns[fq->proc] += busy > dt_ns ? dt_ns : busy;
		f->p_frames[fq->proc] += pkts;
		if (!awake[fq->proc])
			f->p_wakeups[fq->proc]++;
		awake[fq->proc] = true;
		if (f->vms[fq->vm].load > 1.0) { /* one queue wanting more than a processor overflows */
			fq->drops[DVMQ_SNAP_DROP_OVERFLOW] += pkts / 10;
			f->p_ring_full[fq->proc] += pkts / 10;
			f->frames_rx += pkts / 10;
			drops += pkts / 10;
		}
	}
	awake[f->queues[0].proc] = true;
	/* a history row per tick */
	if (f->n_hist == FAKE_HIST) {
		memmove(f->h_t, f->h_t + 1, (FAKE_HIST - 1) * sizeof(f->h_t[0]));
		memmove(f->h_proc, f->h_proc + 1, (FAKE_HIST - 1) * sizeof(f->h_proc[0]));
		memmove(f->h_queue, f->h_queue + 1, (FAKE_HIST - 1) * sizeof(f->h_queue[0]));
		memmove(f->h_drops, f->h_drops + 1, (FAKE_HIST - 1) * sizeof(f->h_drops[0]));
		memmove(f->h_awake, f->h_awake + 1, (FAKE_HIST - 1) * sizeof(f->h_awake[0]));
		memmove(f->h_moves, f->h_moves + 1, (FAKE_HIST - 1) * sizeof(f->h_moves[0]));
		f->n_hist--;
	}
	uint32_t r = f->n_hist++, n_awake = 0;
	f->h_t[r] = f->now_ns;
	for (uint32_t p = 0; p < f->n_procs; p++) {
		f->h_proc[r][p] = (float)proc_load(f, p);
		n_awake += awake[p];
	}
	for (uint32_t q = 0; q <= FAKE_POOL; q++)
		f->h_queue[r][q] = f->queues[q].active && f->queues[q].vm != DVMQ_SNAP_NO_VM ? (float)f->vms[f->queues[q].vm].load
											     : 0.0f;
	f->h_awake[r] = (uint16_t)n_awake;
	f->h_drops[r] = (float)((double)drops * 1e9 / (double)dt_ns);
	f->h_moves[r] = 0;
}

/* Distinct counters from base on, rx their balanced sum. */
static void fake_send_counters(struct dvmq_dp_send_counters *c, uint64_t base)
{
	uint64_t *u = (uint64_t *)c;
	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		u[i] = base + 13 * i;
	c->rx = c->to_vm + c->to_uplink + c->flooded + c->vm_refused + c->uplink_refused;
	for (unsigned i = 1; i < DVMQ_FRAME_VERDICT_COUNT; i++)
		c->rx += c->verdict[i];
	for (unsigned i = 1; i < DVMQ_DP_DROP_COUNT; i++)
		c->rx += c->drop[i];
}

static void fake_port_stats(struct dvmq_port_stats *p, uint64_t base)
{
	*p = (struct dvmq_port_stats){ .rx_packets = base + 1, .rx_bytes = base + 2, .tx_packets = base + 3,
				       .tx_bytes = base + 4, .rx_dropped = base + 5, .tx_dropped = base + 6,
				       .link_events = base + 7 };
}

static struct dvmq_snapshot *snapshot(void *ctx)
{
	struct ctl_fake *f = ctx;
	uint32_t nq = 0, nv = 0;
	for (uint32_t q = 0; q <= FAKE_POOL; q++)
		nq += f->queues[q].active;
	for (uint32_t v = 0; v < FAKE_MAX_VMS; v++)
		nv += f->vms[v].used;
	struct dvmq_snapshot *s;
	if (dvmq_snapshot_create(f->n_procs, nq, nv, f->n_log, &s))
		return NULL;
	snprintf(s->version, sizeof(s->version), "test");
	s->now_ns = f->now_ns;
	s->params = f->params;
	s->interval_ns = f->interval_ns;
	s->adapter = f->adapter;
	uint32_t vm_index[FAKE_MAX_VMS], k = 0;
	for (uint32_t v = 0; v < FAKE_MAX_VMS; v++) {
		if (!f->vms[v].used)
			continue;
		const struct fake_vm *vm = &f->vms[v];
		struct dvmq_snap_vm *sv = &s->vms[k];
		memcpy(sv->name, vm->name, sizeof(sv->name));
		memcpy(sv->mac, vm->mac, 6);
		memcpy(sv->port, vm->port, sizeof(sv->port));
		sv->vlan = vm->vlan;
		sv->weight = vm->weight;
		sv->queue = vm->queue;
		sv->has_dp = sv->has_port = true;
		fake_send_counters(&sv->dp.sent, 100 * (k + 1));
		sv->dp.refused = 7 + k;
		sv->dp.queue = vm->queue;
		fake_port_stats(&sv->port_stats, 1000 * (k + 1));
		sv->max_queues = vm->max_queues > 1 ? vm->max_queues : 1;
		if (vm->queue != DVMQ_DEFAULT_QUEUE) {
			/* VMMQ: even buckets on its first queue, odd ones on the second */
			bool two = vm->queue2 != DVMQ_DEFAULT_QUEUE;
			sv->group.n_queues = two ? 2 : 1;
			sv->group.queues[0] = vm->queue;
			sv->group.queues[1] = two ? vm->queue2 : 0;
			for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++) {
				sv->group.indirection[b] = (uint8_t)(two ? b % 2 : 0);
				sv->bucket_load[b] = (float)(vm->load / DVMQ_INDIRECTION_ENTRIES);
			}
			sv->bucket_moves = two ? 64 : 0;
		}
		vm_index[v] = k++;
	}
	k = 0;
	for (uint32_t q = 0; q <= FAKE_POOL; q++) {
		const struct fake_queue *fq = &f->queues[q];
		if (!fq->active)
			continue;
		struct dvmq_snap_queue *sq = &s->queues[k++];
		double load = fq->vm == DVMQ_SNAP_NO_VM ? 0.0 : f->vms[fq->vm].load;
		*sq = (struct dvmq_snap_queue){
			.id = q, .vm = fq->vm == DVMQ_SNAP_NO_VM ? DVMQ_SNAP_NO_VM : vm_index[fq->vm], .processor = fq->proc,
			.home = fq->home, .load = load, .pps = load * 1e9 / PKT_NS, .packets = fq->packets,
			.bytes = fq->bytes, .busy_ns = fq->busy_ns, .moves = fq->moves, .moved = fq->moved,
			.last_move_ns = fq->last_move_ns, .pinned = fq->pinned,
		};
		memcpy(sq->drops, fq->drops, sizeof(sq->drops));
		for (unsigned d = 0; d < DVMQ_SNAP_DROP_COUNT; d++)
			s->drops[d] += fq->drops[d];
		s->single_queue_overloads += load > 1.0;
	}
	for (uint32_t p = 0; p < f->n_procs; p++) {
		uint32_t nqp = 0;
		for (uint32_t i = 0; i < s->n_queues; i++)
			nqp += s->queues[i].processor == p;
		s->processors[p] = (struct dvmq_snap_processor){
			.id = p, .cpu = (int32_t)p, .numa_node = 0, .load = proc_load(f, p),
			.net_load = proc_load(f, p) - f->other_load[p], .awake = nqp > 0, .in_set = f->in_set[p],
			.n_queues = nqp, .has_counters = true, .busy_ns = f->p_busy_ns[p],
			.idle_ns = f->now_ns - f->cleared_ns > f->p_busy_ns[p] ? f->now_ns - f->cleared_ns - f->p_busy_ns[p] : 0,
			.frames = f->p_frames[p],
			.ring_full = f->p_ring_full[p], .wakeups = f->p_wakeups[p],
		};
	}
	memcpy(s->moves, f->log, f->n_log * sizeof(f->log[0]));
	memcpy(s->moves_by_reason, f->moves_by_reason, sizeof(s->moves_by_reason));
	s->pingpongs = f->pingpongs;
	s->plans = f->plans;
	s->plan_seconds = f->plan_seconds;
	memcpy(s->plan_buckets, f->plan_buckets, sizeof(s->plan_buckets));
	s->frames_rx = f->frames_rx;
	s->frames_delivered = f->frames_delivered;
	s->cleared_ns = f->cleared_ns;
	/* data plane and port counters: every one a different number (a name mixed up between
	 * `stats` and the page shows), each direction balanced */
	s->has_dp = s->has_uplink = true;
	uint64_t *u = (uint64_t *)&s->dp;
	for (size_t i = 0; i < offsetof(struct dvmq_dp_counters, sent) / sizeof(uint64_t); i++)
		u[i] = 11 + 3 * i;
	struct dvmq_dp_counters *c = &s->dp;
	c->rx = c->overflow + c->vmq_delivered + c->default_unicast + c->refused + c->flooded + c->filtered +
		c->vm_gone + c->in_flight;
	for (unsigned i = 1; i < DVMQ_FRAME_VERDICT_COUNT; i++)
		c->rx += c->verdict[i];
	for (unsigned i = 1; i < DVMQ_DP_DROP_COUNT; i++)
		c->rx += c->drop[i];
	fake_send_counters(&c->sent, 50000);
	snprintf(s->uplink_port, sizeof(s->uplink_port), "afpacket:fake0");
	fake_port_stats(&s->uplink, 90000);
	return s;
}

const struct dvmq_ctl_state_ops ctl_fake_ops = {
	.snapshot = snapshot,
	.vm_add = vm_add,
	.vm_remove = vm_remove,
	.vm_set = vm_set,
	.adapter_set = adapter_set,
	.params_set = params_set,
	.rebalance = rebalance,
	.rebalance_dry_run = rebalance_dry_run,
	.queue_set = queue_set,
	.stats_clear = stats_clear,
	.history = history,
	.config_show = config_show,
	.config_diff = config_diff,
};

const struct dvmq_ctl_state_ops ctl_fake_ops_minimal = {
	.snapshot = snapshot,
	.vm_add = vm_add,
	.vm_remove = vm_remove,
	.vm_set = vm_set,
	.adapter_set = adapter_set,
	.params_set = params_set,
	.rebalance = rebalance,
};

int ctl_fake_add(struct ctl_fake *f, const char *name, const char *mac, uint32_t weight, double load)
{
	struct dvmq_ctl_vm_spec s = { .name = name, .weight = weight };
	if (dvmq_units_mac(mac, s.mac))
		return -EINVAL;
	char msg[128];
	int rc = vm_add(f, &s, msg, sizeof(msg));
	if (rc == 0) {
		f->vms[find_vm(f, name)].load = load;
		f->vms[find_vm(f, name)].file_weight = weight;
	}
	return rc;
}

static char test_dir[64];

static void remove_test_dir(void)
{
	static const char *const names[] = { "s.sock", "s.sock.lock", "file" };
	char p[128];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", test_dir, names[i]);
		unlink(p);
	}
	rmdir(test_dir);
}

const char *ctl_test_sock_path(void)
{
	static char path[128];
	if (!test_dir[0]) {
		snprintf(test_dir, sizeof(test_dir), "/tmp/dvmq-ctl.XXXXXX");
		if (!mkdtemp(test_dir) || chmod(test_dir, 0755) != 0)
			return NULL;
		atexit(remove_test_dir);
	}
	snprintf(path, sizeof(path), "%s/s.sock", test_dir);
	return path;
}

uint64_t ctl_test_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
