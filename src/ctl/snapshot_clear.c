/* `stats clear`: a snapshot's counters since a baseline snapshot (dvmq_snapshot_since), so that
 * `stats`, `processor show`, `queue show`, `vm show` and the metrics page count from the clear.
 * Invariant: only counters are taken from; levels stay what they are now (in_flight, backlog,
 * fdb entries, loads, gauges), and the uplink's fates stay balanced: received since the clear
 * counts the frames in flight at the clear too, since those end in a fate after it. Entries
 * match by identity (queue id, VM name, processor id, counter name and labels); one the
 * baseline lacks counts from zero. */
#include <string.h>

#include "ctl_internal.h"

static void sub(uint64_t *v, uint64_t base)
{
	*v = *v > base ? *v - base : 0;
}

static void sub_array(uint64_t *v, const uint64_t *base, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sub(&v[i], base[i]);
}

static void sub_send(struct dvmq_dp_send_counters *c, const struct dvmq_dp_send_counters *b)
{
	sub_array((uint64_t *)c, (const uint64_t *)b, sizeof(*c) / sizeof(uint64_t));
}

static void sub_port(struct dvmq_port_stats *p, const struct dvmq_port_stats *b)
{
	sub_array((uint64_t *)p, (const uint64_t *)b, sizeof(*p) / sizeof(uint64_t));
}

static void sub_dp(struct dvmq_dp_counters *c, const struct dvmq_dp_counters *b)
{
	struct dvmq_dp_counters now = *c;
	sub_array((uint64_t *)c, (const uint64_t *)b, offsetof(struct dvmq_dp_counters, sent) / sizeof(uint64_t));
	c->in_flight = now.in_flight; /* levels, not counters */
	c->fdb_entries = now.fdb_entries;
	c->fdb_probes_max = now.fdb_probes_max;
	c->rx += b->in_flight; /* those frames' fates come after the clear */
	sub_send(&c->sent, &b->sent);
}

static bool same_labels(const struct dvmq_snap_counter *a, const struct dvmq_snap_counter *b)
{
	for (unsigned l = 0; l < DVMQ_SNAP_COUNTER_LABELS; l++) {
		if ((a->labels[l].key == NULL) != (b->labels[l].key == NULL))
			return false;
		if (a->labels[l].key && (strcmp(a->labels[l].key, b->labels[l].key) != 0 ||
					 strcmp(a->labels[l].value, b->labels[l].value) != 0))
			return false;
	}
	return true;
}

void dvmq_snapshot_since(struct dvmq_snapshot *s, const struct dvmq_snapshot *base)
{
	if (!base)
		return;
	s->cleared_ns = base->now_ns;
	sub(&s->frames_rx, base->frames_rx);
	sub(&s->frames_delivered, base->frames_delivered);
	sub_array(s->drops, base->drops, DVMQ_SNAP_DROP_COUNT);
	sub_array(s->moves_by_reason, base->moves_by_reason, DVMQ_REASON_COUNT);
	sub(&s->pingpongs, base->pingpongs);
	sub(&s->single_queue_overloads, base->single_queue_overloads);
	sub(&s->plans, base->plans);
	s->plan_seconds = s->plan_seconds > base->plan_seconds ? s->plan_seconds - base->plan_seconds : 0.0;
	sub_array(s->plan_buckets, base->plan_buckets, DVMQ_SNAP_PLAN_BUCKETS + 1);
	if (s->has_dp && base->has_dp)
		sub_dp(&s->dp, &base->dp);
	if (s->has_uplink && base->has_uplink)
		sub_port(&s->uplink, &base->uplink);
	for (uint32_t i = 0; i < s->n_queues; i++) {
		struct dvmq_snap_queue *q = &s->queues[i];
		const struct dvmq_snap_queue *b = dvmq_snap_queue_find(base, q->id);
		if (!b)
			continue;
		sub(&q->packets, b->packets);
		sub(&q->bytes, b->bytes);
		sub(&q->busy_ns, b->busy_ns);
		sub_array(q->drops, b->drops, DVMQ_SNAP_DROP_COUNT);
		sub(&q->moves, b->moves);
	}
	for (uint32_t i = 0; i < s->n_vms; i++) {
		struct dvmq_snap_vm *v = &s->vms[i];
		const struct dvmq_snap_vm *b = dvmq_snap_vm_find(base, v->name);
		if (!b)
			continue;
		if (v->has_dp && b->has_dp) {
			sub_send(&v->dp.sent, &b->dp.sent);
			sub(&v->dp.refused, b->dp.refused);
		}
		if (v->has_port && b->has_port)
			sub_port(&v->port_stats, &b->port_stats);
		sub(&v->device_appeared, b->device_appeared);
		sub(&v->device_gone, b->device_gone);
	}
	for (uint32_t i = 0; i < s->n_processors; i++) {
		struct dvmq_snap_processor *p = &s->processors[i];
		const struct dvmq_snap_processor *b = dvmq_snap_processor_find(base, p->id);
		if (!b || !p->has_counters || !b->has_counters)
			continue;
		sub(&p->busy_ns, b->busy_ns);
		sub(&p->idle_ns, b->idle_ns);
		sub(&p->frames, b->frames);
		sub(&p->ring_full, b->ring_full);
		sub(&p->wakeups, b->wakeups);
	}
	for (uint32_t i = 0; i < s->n_counters; i++) {
		struct dvmq_snap_counter *c = &s->counters[i];
		if (c->gauge)
			continue;
		for (uint32_t k = 0; k < base->n_counters; k++)
			if (strcmp(base->counters[k].name, c->name) == 0 && same_labels(&base->counters[k], c)) {
				sub(&c->value, base->counters[k].value);
				break;
			}
	}
}
