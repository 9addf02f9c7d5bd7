/* The metrics page: Prometheus text exposition format 0.0.4 of one snapshot. Pure.
 * Invariant: every counter here is the snapshot field that `stats` (dvmq_ctl_stats_json) reports
 * under the same definition; metric names follow Prometheus conventions (dvmq_ prefix, base
 * units, _total on counters, _ratio for fractions) and every label value is escaped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_internal.h"

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped, as the format requires. */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* {vm="web-1",queue="3"  (no closing brace: the caller may add labels). The default queue has
 * no vm label (an empty value is the same as none to Prometheus). */
static void queue_labels(FILE *f, const struct dvmq_snapshot *s, const struct dvmq_snap_queue *q)
{
	fputc('{', f);
	if (q->vm < s->n_vms) {
		fputs("vm=\"", f);
		label_value(f, s->vms[q->vm].name);
		fputs("\",", f);
	}
	fprintf(f, "queue=\"%u\"", q->id);
}

static void num(FILE *f, double v)
{
	fprintf(f, " %.9g\n", v);
}

static void count(FILE *f, uint64_t v)
{
	fprintf(f, " %llu\n", (unsigned long long)v);
}

enum qfield { Q_PACKETS, Q_BYTES, Q_BUSY, Q_BACKLOG, Q_PROCESSOR, Q_LOAD, Q_MOVES };

static void queue_metric(FILE *f, const struct dvmq_snapshot *s, const char *name, const char *type,
			 const char *help, enum qfield field)
{
	head(f, name, type, help);
	for (uint32_t i = 0; i < s->n_queues; i++) {
		const struct dvmq_snap_queue *q = &s->queues[i];
		fputs(name, f);
		queue_labels(f, s, q);
		fputc('}', f);
		switch (field) {
		case Q_PACKETS:
			count(f, q->packets);
			break;
		case Q_BYTES:
			count(f, q->bytes);
			break;
		case Q_BUSY:
			num(f, (double)q->busy_ns * 1e-9);
			break;
		case Q_BACKLOG:
			count(f, q->backlog);
			break;
		case Q_PROCESSOR:
			count(f, q->processor);
			break;
		case Q_LOAD:
			num(f, q->load);
			break;
		case Q_MOVES:
			count(f, q->moves);
			break;
		}
	}
}

static void queues(FILE *f, const struct dvmq_snapshot *s)
{
	queue_metric(f, s, "dvmq_queue_packets_total", "counter", "Packets processed from the queue.", Q_PACKETS);
	queue_metric(f, s, "dvmq_queue_bytes_total", "counter", "Bytes processed from the queue.", Q_BYTES);
	queue_metric(f, s, "dvmq_queue_busy_seconds_total", "counter",
		     "Processor time spent processing the queue's packets.", Q_BUSY);
	head(f, "dvmq_queue_drops_total", "counter", "Packets of the queue dropped, by reason.");
	for (uint32_t i = 0; i < s->n_queues; i++) {
		for (unsigned d = 0; d < DVMQ_SNAP_DROP_COUNT; d++) {
			fputs("dvmq_queue_drops_total", f);
			queue_labels(f, s, &s->queues[i]);
			fprintf(f, ",reason=\"%s\"}", dvmq_snap_drop_name((enum dvmq_snap_drop)d));
			count(f, s->queues[i].drops[d]);
		}
	}
	queue_metric(f, s, "dvmq_queue_backlog_packets", "gauge", "Packets waiting in the queue.", Q_BACKLOG);
	queue_metric(f, s, "dvmq_queue_processor", "gauge", "The processor serving the queue now.", Q_PROCESSOR);
	queue_metric(f, s, "dvmq_queue_load_ratio", "gauge",
		     "Network load of the queue over the last interval, fraction of one processor.", Q_LOAD);
	queue_metric(f, s, "dvmq_queue_moves_total", "counter", "Moves of the queue between processors.", Q_MOVES);
}

static void processors(FILE *f, const struct dvmq_snapshot *s)
{
	static const char *const names[4] = {
		"dvmq_processor_load_ratio", "dvmq_processor_network_load_ratio", "dvmq_processor_awake",
		"dvmq_processor_queues",
	};
	static const char *const help[4] = {
		"Busy fraction of the processor from any cause over the last interval.",
		"Busy fraction of the processor spent on its queues over the last interval.",
		"1 when the processor serves a queue, 0 when it is parked.",
		"Queues the processor serves.",
	};
	for (unsigned m = 0; m < 4; m++) {
		head(f, names[m], "gauge", help[m]);
		for (uint32_t i = 0; i < s->n_processors; i++) {
			const struct dvmq_snap_processor *p = &s->processors[i];
			fprintf(f, "%s{processor=\"%u\"}", names[m], p->id);
			double v = m == 0 ? p->load : m == 1 ? p->net_load : m == 2 ? (p->awake ? 1.0 : 0.0) : p->n_queues;
			num(f, v);
		}
	}
}

static void totals(FILE *f, const struct dvmq_snapshot *s)
{
	head(f, "dvmq_frames_received_total", "counter", "Frames received from the uplink.");
	fputs("dvmq_frames_received_total", f);
	count(f, s->frames_rx);
	head(f, "dvmq_frames_delivered_total", "counter", "Frames delivered to VMs.");
	fputs("dvmq_frames_delivered_total", f);
	count(f, s->frames_delivered);
	head(f, "dvmq_frames_dropped_total", "counter", "Frames dropped, by reason.");
	for (unsigned d = 0; d < DVMQ_SNAP_DROP_COUNT; d++) {
		fprintf(f, "dvmq_frames_dropped_total{reason=\"%s\"}", dvmq_snap_drop_name((enum dvmq_snap_drop)d));
		count(f, s->drops[d]);
	}
	head(f, "dvmq_moves_total", "counter", "Queue moves between processors, by reason.");
	for (unsigned r = 0; r < DVMQ_REASON_COUNT; r++) {
		fprintf(f, "dvmq_moves_total{reason=\"%s\"}", dvmq_reason_name((enum dvmq_reason)r));
		count(f, s->moves_by_reason[r]);
	}
	head(f, "dvmq_pingpongs_total", "counter", "Moves B->A less than 1 s after the same queue moved A->B.");
	fputs("dvmq_pingpongs_total", f);
	count(f, s->pingpongs);
	head(f, "dvmq_single_queue_overloads_total", "counter",
	     "Intervals in which one queue alone wanted more than a whole processor.");
	fputs("dvmq_single_queue_overloads_total", f);
	count(f, s->single_queue_overloads);
	head(f, "dvmq_engine_plan_seconds", "histogram", "Time the engine took to plan one round.");
	uint64_t cum = 0;
	for (unsigned b = 0; b < DVMQ_SNAP_PLAN_BUCKETS; b++) {
		cum += s->plan_buckets[b];
		fprintf(f, "dvmq_engine_plan_seconds_bucket{le=\"%g\"}", dvmq_snap_plan_bounds_s[b]);
		count(f, cum);
	}
	cum += s->plan_buckets[DVMQ_SNAP_PLAN_BUCKETS];
	fputs("dvmq_engine_plan_seconds_bucket{le=\"+Inf\"}", f);
	count(f, cum);
	fputs("dvmq_engine_plan_seconds_sum", f);
	num(f, s->plan_seconds);
	fputs("dvmq_engine_plan_seconds_count", f);
	count(f, s->plans);
}

/* name{LABELS,key="fate"} v for each fate; labels may be "" (then no leading comma). */
static void fates(FILE *f, const char *name, const char *labels, const char *key, const struct ctl_fate *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s{%s%s%s=\"%s\"} %llu\n", name, labels, *labels ? "," : "", key, x[i].name,
			(unsigned long long)x[i].v);
}

static void dataplane(FILE *f, const struct dvmq_snapshot *s)
{
	if (!s->has_dp)
		return;
	const struct dvmq_dp_counters *c = &s->dp;
	struct ctl_fate x[CTL_FATES_MAX];
	head(f, "dvmq_uplink_delivered_total", "counter", "Frames from the uplink delivered to VMs, by path.");
	fates(f, "dvmq_uplink_delivered_total", "", "path", x, ctl_uplink_delivered(c, x));
	head(f, "dvmq_uplink_drops_total", "counter", "Frames from the uplink not delivered, by reason.");
	fates(f, "dvmq_uplink_drops_total", "", "reason", x, ctl_uplink_drops(c, x));
	head(f, "dvmq_uplink_in_flight_frames", "gauge", "Frames from the uplink waiting in queue rings.");
	fputs("dvmq_uplink_in_flight_frames", f);
	count(f, c->in_flight);
	head(f, "dvmq_uplink_flood_refused_total", "counter", "Flooded copies a VM's port did not take.");
	fputs("dvmq_uplink_flood_refused_total", f);
	count(f, c->flood_refused);
	head(f, "dvmq_uplink_unknown_unicast_total", "counter",
	     "Frames from the uplink to a unicast MAC no VM has, flooded on their VLAN.");
	fputs("dvmq_uplink_unknown_unicast_total", f);
	count(f, c->unknown_unicast);
	head(f, "dvmq_vms_sent_frames_total", "counter", "Frames VMs sent (removed VMs included).");
	fputs("dvmq_vms_sent_frames_total", f);
	count(f, c->sent.rx);
	head(f, "dvmq_vms_forwarded_total", "counter", "Frames VMs sent that were forwarded, by destination.");
	fates(f, "dvmq_vms_forwarded_total", "", "to", x, ctl_sent_forwarded(&c->sent, x));
	head(f, "dvmq_vms_drops_total", "counter", "Frames VMs sent that were dropped, by reason (removed VMs included).");
	fates(f, "dvmq_vms_drops_total", "", "reason", x, ctl_sent_drops(&c->sent, x));
	head(f, "dvmq_vms_flood_refused_total", "counter", "Copies of frames VMs flooded that a port did not take.");
	fputs("dvmq_vms_flood_refused_total", f);
	count(f, c->sent.flood_refused);
}

/* The counters only the running data plane has, by their own names: one head per name (its
 * entries are listed together), one line per entry with its labels. */
static void dataplane_counters(FILE *f, const struct dvmq_snapshot *s)
{
	for (uint32_t i = 0; i < s->n_counters; i++) {
		const struct dvmq_snap_counter *c = &s->counters[i];
		char name[128];
		snprintf(name, sizeof(name), "dvmq_dataplane_%s", c->name);
		if (i == 0 || strcmp(s->counters[i - 1].name, c->name) != 0)
			head(f, name, c->gauge ? "gauge" : "counter", c->help ? c->help : "A counter of the data plane.");
		fputs(name, f);
		bool any = false;
		for (unsigned l = 0; l < DVMQ_SNAP_COUNTER_LABELS; l++) {
			if (!c->labels[l].key)
				continue;
			fprintf(f, "%c%s=\"", any ? ',' : '{', c->labels[l].key);
			label_value(f, c->labels[l].value);
			fputc('"', f);
			any = true;
		}
		if (any)
			fputc('}', f);
		count(f, c->value);
	}
}

/* vm="NAME" with the value escaped as label_value does, into buf. */
static void vm_label(char *buf, size_t len, const char *vm)
{
	size_t k = (size_t)snprintf(buf, len, "vm=\"");
	for (; *vm && k + 3 < len; vm++) {
		if (*vm == '\\' || *vm == '"' || *vm == '\n')
			buf[k++] = '\\';
		buf[k++] = *vm == '\n' ? 'n' : *vm;
	}
	snprintf(buf + k, len - k, "\"");
}

static void vms(FILE *f, const struct dvmq_snapshot *s)
{
	static const char *const names[4] = { "dvmq_vm_sent_frames_total", "dvmq_vm_forwarded_total",
					      "dvmq_vm_drops_total", "dvmq_vm_refused_total" };
	static const char *const help[4] = {
		"Frames the VM sent.", "Frames the VM sent that were forwarded, by destination.",
		"Frames the VM sent that were dropped, by reason.",
		"Frames to the VM that its port did not take (flooded copies included).",
	};
	char lab[2 * DVMQ_SNAP_NAME_MAX + 8];
	struct ctl_fate x[CTL_FATES_MAX];
	for (unsigned m = 0; m < 4; m++) {
		head(f, names[m], "counter", help[m]);
		for (uint32_t i = 0; i < s->n_vms; i++) {
			const struct dvmq_snap_vm *vm = &s->vms[i];
			if (!vm->has_dp)
				continue;
			vm_label(lab, sizeof(lab), vm->name);
			if (m == 1)
				fates(f, names[m], lab, "to", x, ctl_sent_forwarded(&vm->dp.sent, x));
			else if (m == 2)
				fates(f, names[m], lab, "reason", x, ctl_sent_drops(&vm->dp.sent, x));
			else
				fprintf(f, "%s{%s} %llu\n", names[m], lab,
					(unsigned long long)(m == 0 ? vm->dp.sent.rx : vm->dp.refused));
		}
	}
}

/* VMs whose device comes and goes: whether it is absent now, and how often it came and went */
static void vm_devices(FILE *f, const struct dvmq_snapshot *s)
{
	char lab[2 * DVMQ_SNAP_NAME_MAX + 8];
	head(f, "dvmq_vm_device_absent", "gauge", "1 while the VM's device does not exist: configured, detached.");
	for (uint32_t i = 0; i < s->n_vms; i++)
		if (s->vms[i].has_device) {
			vm_label(lab, sizeof(lab), s->vms[i].name);
			fprintf(f, "dvmq_vm_device_absent{%s} %d\n", lab, s->vms[i].device_absent ? 1 : 0);
		}
	head(f, "dvmq_vm_device_events_total", "counter", "Times the VM's device appeared (attached) or went (detached).");
	for (uint32_t i = 0; i < s->n_vms; i++)
		if (s->vms[i].has_device) {
			vm_label(lab, sizeof(lab), s->vms[i].name);
			fprintf(f, "dvmq_vm_device_events_total{%s,event=\"appeared\"} %llu\n", lab,
				(unsigned long long)s->vms[i].device_appeared);
			fprintf(f, "dvmq_vm_device_events_total{%s,event=\"gone\"} %llu\n", lab,
				(unsigned long long)s->vms[i].device_gone);
		}
}

/* VMMQ: each VM's queue group: its size, its max-queues, its bucket moves. */
static void groups(FILE *f, const struct dvmq_snapshot *s)
{
	char lab[2 * DVMQ_SNAP_NAME_MAX + 8];
	head(f, "dvmq_vm_queues", "gauge", "Queues of the VM's queue group (VMMQ; 0 without a VMQ).");
	for (uint32_t i = 0; i < s->n_vms; i++) {
		vm_label(lab, sizeof(lab), s->vms[i].name);
		fprintf(f, "dvmq_vm_queues{%s} %u\n", lab, s->vms[i].group.n_queues);
	}
	head(f, "dvmq_vm_max_queues", "gauge", "The most queues the VM's group may hold (max-queues; 1: a plain VMQ).");
	for (uint32_t i = 0; i < s->n_vms; i++) {
		vm_label(lab, sizeof(lab), s->vms[i].name);
		fprintf(f, "dvmq_vm_max_queues{%s} %u\n", lab, s->vms[i].max_queues ? s->vms[i].max_queues : 1);
	}
	head(f, "dvmq_vm_bucket_moves_total", "counter", "Buckets of the VM's indirection table moved to another queue.");
	for (uint32_t i = 0; i < s->n_vms; i++) {
		vm_label(lab, sizeof(lab), s->vms[i].name);
		fprintf(f, "dvmq_vm_bucket_moves_total{%s} %llu\n", lab, (unsigned long long)s->vms[i].bucket_moves);
	}
}

static void port_line(FILE *f, const char *name, const char *port, const char *vm, uint64_t v)
{
	fprintf(f, "%s{port=\"", name);
	label_value(f, port);
	if (vm) {
		fputs("\",vm=\"", f);
		label_value(f, vm);
	}
	fputs("\"}", f);
	count(f, v);
}

static void ports(FILE *f, const struct dvmq_snapshot *s)
{
	static const char *const names[7] = {
		"dvmq_port_rx_packets_total", "dvmq_port_rx_bytes_total",   "dvmq_port_tx_packets_total",
		"dvmq_port_tx_bytes_total",   "dvmq_port_rx_dropped_total", "dvmq_port_tx_dropped_total",
		"dvmq_port_link_events_total",
	};
	static const char *const help[7] = {
		"Frames the port received.", "Bytes the port received.", "Frames the port sent.", "Bytes the port sent.",
		"Frames lost before dvmq read them (kernel ring full, unresolvable).",
		"Frames the port did not send (link down, device gone, kernel queue full).",
		"Times the port found its link down or its device gone.",
	};
	for (unsigned m = 0; m < 7; m++) {
		head(f, names[m], "counter", help[m]);
		for (uint32_t i = 0; i <= s->n_vms; i++) {
			const struct dvmq_port_stats *st;
			const char *port, *vm = NULL;
			if (i == s->n_vms) {
				if (!s->has_uplink)
					continue;
				st = &s->uplink;
				port = s->uplink_port;
			} else {
				if (!s->vms[i].has_port)
					continue;
				st = &s->vms[i].port_stats;
				port = s->vms[i].port;
				vm = s->vms[i].name;
			}
			const uint64_t v[7] = { st->rx_packets, st->rx_bytes,	st->tx_packets, st->tx_bytes,
						st->rx_dropped, st->tx_dropped, st->link_events };
			port_line(f, names[m], port, vm, v[m]);
		}
	}
}

int dvmq_prom_render(const struct dvmq_snapshot *s, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return -ENOMEM;
	head(f, "dvmq_info", "gauge", "Version and policy of the running daemon (always 1).");
	fputs("dvmq_info{version=\"", f);
	label_value(f, s->version);
	fprintf(f, "\",policy=\"%s\"", dvmq_policy_name(s->params.policy));
	if (s->dp_kind[0]) {
		fputs(",dataplane=\"", f);
		label_value(f, s->dp_kind);
		fputc('"', f);
	}
	fputs("} 1\n", f);
	head(f, "dvmq_uptime_seconds", "gauge", "Seconds since the daemon started.");
	fputs("dvmq_uptime_seconds", f);
	num(f, (double)s->now_ns * 1e-9);
	head(f, "dvmq_vms", "gauge", "VM adapters configured.");
	fputs("dvmq_vms", f);
	count(f, s->n_vms);
	head(f, "dvmq_queue_pool_size", "gauge", "VMQs the adapter offers besides the default queue.");
	fputs("dvmq_queue_pool_size", f);
	count(f, s->adapter.queue_pool);
	queues(f, s);
	processors(f, s);
	totals(f, s);
	dataplane(f, s);
	dataplane_counters(f, s);
	vms(f, s);
	vm_devices(f, s);
	groups(f, s);
	ports(f, s);
	bool failed = ferror(f) != 0;
	if (fclose(f) != 0 || failed) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = n;
	return 0;
}
