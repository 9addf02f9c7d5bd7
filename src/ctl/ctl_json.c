/* JSON renderings of snapshot parts (ctl_json.h) and the `stats` result. Pure.
 * Invariant: loads are fractions of one processor (0.45, not 45), times are seconds, counters are
 * integers since the daemon started: a counter here and on the metrics page is the same number
 * under the same definition (tests/unit/test_ctl_prom.c compares them). */
#include <stdio.h>

#include "ctl_internal.h"

void ctl_json_mac(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static const struct dvmq_snap_vm *queue_vm(const struct dvmq_snapshot *s, const struct dvmq_snap_queue *q)
{
	return q->vm < s->n_vms ? &s->vms[q->vm] : NULL;
}

/* A VM's queue group (VMMQ): its queues with their processors, and its indirection table as
 * `ethtool -x` shows a NIC's (a queue per bucket), with each bucket's load. */
static json_t *group_json(const struct dvmq_snapshot *s, const struct dvmq_snap_vm *vm)
{
	const struct dvmq_queue_group *g = &vm->group;
	json_t *qs = json_array(), *table = json_array(), *load = json_array();
	for (uint32_t k = 0; qs && k < g->n_queues; k++) {
		const struct dvmq_snap_queue *q = dvmq_snap_queue_find(s, g->queues[k]);
		json_array_append_new(qs, json_pack("{s:i, s:o}", "queue", (int)g->queues[k], "processor",
						    q ? json_integer(q->processor) : json_null()));
	}
	for (uint32_t b = 0; table && load && b < DVMQ_INDIRECTION_ENTRIES; b++) {
		json_array_append_new(table, json_integer(g->queues[g->indirection[b]]));
		json_array_append_new(load, json_real((double)vm->bucket_load[b]));
	}
	if (!qs || !table || !load) {
		json_decref(qs);
		json_decref(table);
		json_decref(load);
		return NULL;
	}
	return json_pack("{s:o, s:o, s:o}", "queues", qs, "table", table, "bucket_load", load);
}

json_t *ctl_json_vm(const struct dvmq_snapshot *s, const struct dvmq_snap_vm *vm)
{
	char mac[18];
	ctl_json_mac(vm->mac, mac);
	const struct dvmq_snap_queue *q = dvmq_snap_queue_find(s, vm->queue);
	json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:s, s:i, s:o}", "name", vm->name, "mac", mac, "vlan", (int)vm->vlan,
			      "weight", (int)vm->weight, "port", vm->port, "queue", (int)vm->queue, "processor",
			      q ? json_integer(q->processor) : json_null());
	/* its frames' fates and its port's counters, where the daemon has them */
	if (o && vm->has_dp &&
	    (json_object_set_new(o, "sent", ctl_json_sent_fates(&vm->dp.sent)) ||
	     json_object_set_new(o, "refused", json_integer((json_int_t)vm->dp.refused))))
		goto err;
	if (o && vm->has_port && json_object_set_new(o, "port_stats", ctl_json_port_stats(vm->port, vm->name, &vm->port_stats)))
		goto err;
	/* a device that comes and goes: whether it is there now, and how often it came and went */
	if (o && vm->has_device &&
	    (json_object_set_new(o, "device", json_string(vm->device_absent ? "absent" : "present")) ||
	     json_object_set_new(o, "device_appeared", json_integer((json_int_t)vm->device_appeared)) ||
	     json_object_set_new(o, "device_gone", json_integer((json_int_t)vm->device_gone))))
		goto err;
	if (o && (json_object_set_new(o, "max_queues", json_integer(vm->max_queues ? vm->max_queues : 1)) ||
		  json_object_set_new(o, "bucket_moves", json_integer((json_int_t)vm->bucket_moves)) ||
		  json_object_set_new(o, "group", vm->group.n_queues ? group_json(s, vm) : json_null())))
		goto err;
	return o;
err:
	json_decref(o);
	return NULL;
}

json_t *ctl_json_drops(const uint64_t drops[DVMQ_SNAP_DROP_COUNT])
{
	json_t *o = json_object();
	for (unsigned d = 0; o && d < DVMQ_SNAP_DROP_COUNT; d++) {
		if (json_object_set_new(o, dvmq_snap_drop_name((enum dvmq_snap_drop)d), json_integer((json_int_t)drops[d]))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *ctl_json_queue(const struct dvmq_snapshot *s, const struct dvmq_snap_queue *q)
{
	const struct dvmq_snap_vm *vm = queue_vm(s, q);
	char mac[18];
	if (vm)
		ctl_json_mac(vm->mac, mac);
	uint64_t total = 0;
	for (unsigned d = 0; d < DVMQ_SNAP_DROP_COUNT; d++)
		total += q->drops[d];
	/* VMMQ: its place in its VM's group */
	json_t *group = json_null();
	for (uint32_t k = 0; vm && k < vm->group.n_queues && vm->group.n_queues > 1; k++)
		if (vm->group.queues[k] == q->id) {
			uint32_t nb = 0;
			for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
				nb += vm->group.indirection[b] == k;
			group = json_pack("{s:i, s:i, s:i}", "index", (int)k, "size", (int)vm->group.n_queues, "buckets",
					  (int)nb);
		}
	json_t *o = json_pack("{s:i, s:o, s:o, s:o, s:i, s:i, s:f, s:f, s:I, s:I, s:I, s:f, s:o, s:I, s:I, s:o}", "queue",
			 (int)q->id, "vm", vm ? json_string(vm->name) : json_null(), "mac",
			 vm ? json_string(mac) : json_null(), "vlan", vm ? json_integer(vm->vlan) : json_null(),
			 "processor", (int)q->processor, "home", (int)q->home, "load", q->load, "pps", q->pps, "backlog",
			 (json_int_t)q->backlog, "packets", (json_int_t)q->packets, "bytes", (json_int_t)q->bytes,
			 "busy_seconds", (double)q->busy_ns * 1e-9, "drops", ctl_json_drops(q->drops), "drops_total",
			 (json_int_t)total, "moves", (json_int_t)q->moves, "group", group);
	if (o && json_object_set_new(o, "pinned", json_boolean(q->pinned))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ctl_json_processor(const struct dvmq_snapshot *s, const struct dvmq_snap_processor *p)
{
	json_t *qs = json_array();
	for (uint32_t i = 0; qs && i < s->n_queues; i++) {
		if (s->queues[i].processor == p->id && json_array_append_new(qs, json_integer(s->queues[i].id))) {
			json_decref(qs);
			qs = NULL;
		}
	}
	json_t *o = json_pack("{s:i, s:i, s:i, s:f, s:f, s:b, s:b, s:o}", "processor", (int)p->id, "cpu", (int)p->cpu,
			      "numa_node", (int)p->numa_node, "load", p->load, "net_load", p->net_load, "awake", p->awake,
			      "in_set", p->in_set, "queues", qs);
	if (o && p->has_counters) {
		/* OVS pmd-stats-show's: where its time went and what it did, since start or `stats clear` */
		uint64_t total = p->busy_ns + p->idle_ns;
		json_t *c = json_pack("{s:f, s:f, s:f, s:I, s:o, s:I, s:I}", "busy_s", (double)p->busy_ns * 1e-9, "idle_s",
				      (double)p->idle_ns * 1e-9, "busy_fraction", total ? (double)p->busy_ns / (double)total : 0.0,
				      "frames", (json_int_t)p->frames, "ns_per_frame",
				      p->frames ? json_real((double)p->busy_ns / (double)p->frames) : json_null(), "ring_full",
				      (json_int_t)p->ring_full, "wakeups", (json_int_t)p->wakeups);
		if (json_object_set_new(o, "counters", c)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *ctl_json_adapter(const struct dvmq_snapshot *s)
{
	const struct dvmq_snap_adapter *a = &s->adapter;
	json_t *set = json_array();
	for (uint32_t i = 0; set && i < s->n_processors; i++) {
		if (s->processors[i].in_set && json_array_append_new(set, json_integer(s->processors[i].id))) {
			json_decref(set);
			set = NULL;
		}
	}
	uint32_t used = 0;
	for (uint32_t i = 0; i < s->n_queues; i++)
		used += s->queues[i].id != DVMQ_DEFAULT_QUEUE;
	return json_pack("{s:b, s:i, s:i, s:i, s:o, s:i, s:i, s:i, s:o}", "vmq", a->vmq, "base_processor",
			 (int)a->base, "max_processors", (int)a->max_processors, "max_processor_number",
			 (int)a->max_number, "numa_node", a->numa_node < 0 ? json_null() : json_integer(a->numa_node),
			 "queue_pool", (int)a->queue_pool, "queues_used", (int)used, "host_processors",
			 (int)s->n_processors, "processors", set);
}

json_t *ctl_json_policy(const struct dvmq_snapshot *s)
{
	json_t *params = json_object();
	char buf[64];
	const char *const *names = dvmq_engine_param_names();
	for (size_t i = 0; params && names[i]; i++) {
		if (dvmq_engine_param_format(&s->params, names[i], buf, sizeof(buf)) != 0)
			snprintf(buf, sizeof(buf), "?"); /* a parameter newer than ctl: shown, not hidden */
		if (json_object_set_new(params, names[i], json_string(buf))) {
			json_decref(params);
			params = NULL;
		}
	}
	char interval[32];
	snprintf(interval, sizeof(interval), "%.10gms", (double)s->interval_ns * 1e-6);
	return json_pack("{s:s, s:s, s:o}", "policy", dvmq_policy_name(s->params.policy), "interval", interval,
			 "params", params);
}

json_t *dvmq_ctl_move_json(const struct dvmq_snap_move *m)
{
	json_t *o = json_pack("{s:I, s:f, s:i, s:o, s:i, s:i, s:s, s:f, s:f, s:f, s:f, s:f, s:b}", "seq",
			      (json_int_t)m->seq, "time_s", (double)m->at_ns * 1e-9, "queue", (int)m->queue, "vm",
			      m->vm[0] ? json_string(m->vm) : json_null(), "from", (int)m->from, "to", (int)m->to, "reason",
			      dvmq_reason_name(m->reason), "queue_load", m->queue_load, "src_before", m->src_before,
			      "src_after", m->src_after, "dst_before", m->dst_before, "dst_after", m->dst_after, "pingpong",
			      m->pingpong);
	/* VMMQ: buckets of a VM's group from `queue` to `to_queue` (from/to are processors) */
	if (o && m->buckets &&
	    (json_object_set_new(o, "buckets", json_integer(m->buckets)) ||
	     json_object_set_new(o, "to_queue", json_integer(m->to_queue)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *stats_plan(const struct dvmq_snapshot *s)
{
	json_t *b = json_array();
	uint64_t cum = 0;
	for (unsigned i = 0; b && i <= DVMQ_SNAP_PLAN_BUCKETS; i++) {
		cum += s->plan_buckets[i];
		json_t *le = i < DVMQ_SNAP_PLAN_BUCKETS ? json_real(dvmq_snap_plan_bounds_s[i]) : json_string("+Inf");
		if (json_array_append_new(b, json_pack("{s:o, s:I}", "le", le, "count", (json_int_t)cum))) {
			json_decref(b);
			b = NULL;
		}
	}
	return json_pack("{s:I, s:f, s:o}", "rounds", (json_int_t)s->plans, "seconds_total", s->plan_seconds,
			 "buckets", b);
}

static json_t *stats_moves(const struct dvmq_snapshot *s)
{
	json_t *by = json_object();
	uint64_t total = 0;
	for (unsigned r = 0; by && r < DVMQ_REASON_COUNT; r++) {
		total += s->moves_by_reason[r];
		if (json_object_set_new(by, dvmq_reason_name((enum dvmq_reason)r),
					json_integer((json_int_t)s->moves_by_reason[r]))) {
			json_decref(by);
			by = NULL;
		}
	}
	return json_pack("{s:I, s:o}", "total", (json_int_t)total, "by_reason", by);
}

/* The data plane's fates both ways ("dataplane"), each VM's ("vms") and each port's counters
 * ("ports"): only what the daemon has (a fake state or a daemon without data plane has none). */
static int stats_dataplane(const struct dvmq_snapshot *s, json_t *o)
{
	if (s->has_dp &&
	    json_object_set_new(o, "dataplane", json_pack("{s:o, s:o, s:I}", "uplink", ctl_json_uplink_fates(&s->dp), "vms",
							    ctl_json_sent_fates(&s->dp.sent), "rebinds",
							    (json_int_t)s->dp.rebinds)))
		return -1;
	/* each array is o's (or freed: json_object_set_new steals it, NULL included) before the next */
	json_t *vms = json_array();
	if (json_object_set_new(o, "vms", vms))
		return -1;
	json_t *ports = json_array();
	if (json_object_set_new(o, "ports", ports))
		return -1;
	if (s->has_uplink && json_array_append_new(ports, ctl_json_port_stats(s->uplink_port, NULL, &s->uplink)))
		return -1;
	for (uint32_t i = 0; i < s->n_vms; i++) {
		const struct dvmq_snap_vm *vm = &s->vms[i];
		if (vm->has_dp && json_array_append_new(vms, json_pack("{s:s, s:s, s:i, s:o, s:I}", "vm", vm->name, "port",
									vm->port, "queue", (int)vm->dp.queue, "sent",
									ctl_json_sent_fates(&vm->dp.sent), "refused",
									(json_int_t)vm->dp.refused)))
			return -1;
		if (vm->has_port && json_array_append_new(ports, ctl_json_port_stats(vm->port, vm->name, &vm->port_stats)))
			return -1;
	}
	return 0;
}

/* Which data plane runs ("dataplane_kind") and the counters only it has ("dataplane_counters":
 * name, labels, value), when the daemon says. */
static int stats_dataplane_counters(const struct dvmq_snapshot *s, json_t *o)
{
	if (s->dp_kind[0] && json_object_set_new(o, "dataplane_kind", json_string(s->dp_kind)))
		return -1;
	if (!s->n_counters)
		return 0;
	json_t *a = json_array();
	if (json_object_set_new(o, "dataplane_counters", a))
		return -1;
	for (uint32_t i = 0; i < s->n_counters; i++) {
		const struct dvmq_snap_counter *c = &s->counters[i];
		json_t *labels = json_object();
		for (unsigned l = 0; labels && l < DVMQ_SNAP_COUNTER_LABELS; l++)
			if (c->labels[l].key && json_object_set_new(labels, c->labels[l].key, json_string(c->labels[l].value))) {
				json_decref(labels);
				labels = NULL;
			}
		if (json_array_append_new(a, json_pack("{s:s, s:o, s:I}", "name", c->name, "labels", labels, "value",
						       (json_int_t)c->value)))
			return -1;
	}
	return 0;
}

/* VMMQ: every VM's queue group ("groups": vm, queues, max_queues, bucket_moves). */
static int stats_groups(const struct dvmq_snapshot *s, json_t *o)
{
	json_t *a = json_array();
	if (json_object_set_new(o, "groups", a))
		return -1;
	for (uint32_t i = 0; i < s->n_vms; i++) {
		const struct dvmq_snap_vm *vm = &s->vms[i];
		if (json_array_append_new(a, json_pack("{s:s, s:i, s:i, s:I}", "vm", vm->name, "queues",
						       (int)vm->group.n_queues, "max_queues",
						       (int)(vm->max_queues ? vm->max_queues : 1), "bucket_moves",
						       (json_int_t)vm->bucket_moves)))
			return -1;
	}
	return 0;
}

json_t *dvmq_ctl_stats_json(const struct dvmq_snapshot *s)
{
	json_t *queues = json_array(), *procs = json_array();
	for (uint32_t i = 0; queues && i < s->n_queues; i++) {
		const struct dvmq_snap_queue *q = &s->queues[i];
		const struct dvmq_snap_vm *vm = queue_vm(s, q);
		if (json_array_append_new(queues, json_pack("{s:i, s:o, s:i, s:I, s:I, s:f, s:o, s:I, s:I}", "queue",
							    (int)q->id, "vm", vm ? json_string(vm->name) : json_null(),
							    "processor", (int)q->processor, "packets", (json_int_t)q->packets,
							    "bytes", (json_int_t)q->bytes, "busy_seconds", (double)q->busy_ns * 1e-9,
							    "drops", ctl_json_drops(q->drops), "backlog", (json_int_t)q->backlog,
							    "moves", (json_int_t)q->moves))) {
			json_decref(queues);
			queues = NULL;
		}
	}
	for (uint32_t i = 0; procs && i < s->n_processors; i++) {
		const struct dvmq_snap_processor *p = &s->processors[i];
		if (json_array_append_new(procs, json_pack("{s:i, s:f, s:f, s:b, s:i}", "processor", (int)p->id, "load",
							   p->load, "net_load", p->net_load, "awake", p->awake, "queues",
							   (int)p->n_queues))) {
			json_decref(procs);
			procs = NULL;
		}
	}
	uint64_t dropped = 0;
	for (unsigned d = 0; d < DVMQ_SNAP_DROP_COUNT; d++)
		dropped += s->drops[d];
	json_t *o = json_pack("{s:f, s:{s:I, s:I, s:I, s:o}, s:o, s:I, s:I, s:o, s:o, s:o}", "uptime_s",
			 (double)s->now_ns * 1e-9, "frames", "received", (json_int_t)s->frames_rx, "delivered",
			 (json_int_t)s->frames_delivered, "dropped", (json_int_t)dropped, "dropped_by_reason",
			 ctl_json_drops(s->drops), "moves", stats_moves(s), "pingpongs", (json_int_t)s->pingpongs,
			 "single_queue_overloads", (json_int_t)s->single_queue_overloads, "plan", stats_plan(s), "queues",
			 queues, "processors", procs);
	if (o && (stats_dataplane(s, o) || stats_dataplane_counters(s, o) || stats_groups(s, o))) {
		json_decref(o);
		return NULL;
	}
	/* after `stats clear`, the counters count from then: when that was */
	if (o && json_object_set_new(o, "cleared_at_s", s->cleared_ns ? json_real((double)s->cleared_ns * 1e-9) : json_null())) {
		json_decref(o);
		return NULL;
	}
	return o;
}
