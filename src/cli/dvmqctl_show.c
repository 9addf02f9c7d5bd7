/* dvmqctl's readable output: one rendering per command result (docs/ctl-protocol.md names the
 * fields). Loads are shown in percent of one processor, times in seconds. Invariant: a field
 * missing from a result (an older daemon) prints as "-", never crashes. */
#include <stdio.h>
#include <string.h>

#include "dvmqctl.h"

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

/* An integer field as text, "-" when null or absent. */
static const char *num(json_t *o, const char *k, char *buf, size_t len)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_number(v))
		return "-";
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, len, "%.6g", json_real_value(v));
	return buf;
}

static const char *pct(json_t *o, const char *k, char *buf, size_t len)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_number(v))
		return "-";
	snprintf(buf, len, "%.0f%%", json_number_value(v) * 100.0);
	return buf;
}

/* [0,1,2,5] as "0-2,5". */
static void id_list(json_t *arr, char *buf, size_t len)
{
	size_t n = json_array_size(arr), used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len - 16;) {
		long long a = json_integer_value(json_array_get(arr, i)), b = a;
		size_t k = i + 1;
		while (k < n && json_integer_value(json_array_get(arr, k)) == b + 1)
			b = json_integer_value(json_array_get(arr, k++));
		used += (size_t)snprintf(buf + used, len - used, a == b ? "%s%lld" : "%s%lld-%lld", i ? "," : "", a, b);
		i = k;
	}
	if (!n)
		snprintf(buf, len, "none");
}

void show_adapter(json_t *r, FILE *f)
{
	char b1[32], b2[32], list[512];
	id_list(json_object_get(r, "processors"), list, sizeof(list));
	json_t *numa = json_object_get(r, "numa_node");
	fprintf(f, "vmq                   %s\n", json_is_false(json_object_get(r, "vmq")) ? "off" : "on");
	fprintf(f, "base processor        %s\n", num(r, "base_processor", b1, sizeof(b1)));
	long long maxp = json_integer_value(json_object_get(r, "max_processors"));
	fprintf(f, "max processors        %s%s\n", num(r, "max_processors", b1, sizeof(b1)), maxp == 0 ? " (no limit)" : "");
	fprintf(f, "max processor number  %s\n", num(r, "max_processor_number", b1, sizeof(b1)));
	fprintf(f, "numa node             %s\n", json_is_integer(numa) ? num(r, "numa_node", b1, sizeof(b1)) : "any");
	fprintf(f, "processors            %s (of %s)\n", list, num(r, "host_processors", b1, sizeof(b1)));
	fprintf(f, "queue pool            %s (%s used)\n", num(r, "queue_pool", b1, sizeof(b1)),
		num(r, "queues_used", b2, sizeof(b2)));
}

void show_queues(json_t *r, FILE *f)
{
	static const char *const head[] = { "QUEUE", "VM", "MAC", "VLAN", "PROCESSOR", "LOAD", "PPS", "BACKLOG", "DROPS" };
	struct ctl_table t;
	ctl_table_init(&t, 9, head);
	size_t i;
	json_t *q;
	json_array_foreach(json_object_get(r, "queues"), i, q) {
		char id[16], vlan[16], p[16], load[16], pps[32], bl[32], dr[32];
		const char *vm = json_is_null(json_object_get(q, "vm")) ? "(default)" : str(q, "vm");
		snprintf(pps, sizeof(pps), "%.0f", json_number_value(json_object_get(q, "pps")));
		ctl_table_row(&t, num(q, "queue", id, sizeof(id)), vm, str(q, "mac"), num(q, "vlan", vlan, sizeof(vlan)),
			      num(q, "processor", p, sizeof(p)), pct(q, "load", load, sizeof(load)), pps,
			      num(q, "backlog", bl, sizeof(bl)), num(q, "drops_total", dr, sizeof(dr)));
	}
	ctl_table_print(&t, f);
	ctl_table_free(&t);
}

static void vm_rows(struct ctl_table *t, json_t *vm)
{
	char vlan[16], w[16], q[16], p[16], sent[32], dr[32], ref[32], prx[32], ptx[32];
	const char *port = str(vm, "port");
	long long queue = json_integer_value(json_object_get(vm, "queue"));
	json_t *st = json_object_get(vm, "sent"), *ps = json_object_get(vm, "port_stats");
	snprintf(q, sizeof(q), queue ? "%lld" : "0 (default)", queue);
	ctl_table_row(t, str(vm, "name"), str(vm, "mac"), num(vm, "vlan", vlan, sizeof(vlan)), num(vm, "weight", w, sizeof(w)), q,
		      num(vm, "processor", p, sizeof(p)), port[0] ? port : "-", num(st, "received", sent, sizeof(sent)),
		      num(st, "dropped", dr, sizeof(dr)), num(vm, "refused", ref, sizeof(ref)),
		      num(ps, "rx_dropped", prx, sizeof(prx)), num(ps, "tx_dropped", ptx, sizeof(ptx)));
}

void show_vms(json_t *r, FILE *f)
{
	/* SENT/DROPPED: frames the VM sent, of them dropped; REFUSED: frames to it its port did not
	 * take; RX-/TX-DROPPED: its port's own losses (kernel ring, TAP queue) */
	static const char *const head[] = { "NAME", "MAC",	"VLAN",	   "WEIGHT",	 "QUEUE",     "PROCESSOR",
					    "PORT", "SENT", "DROPPED", "REFUSED", "RX-DROPPED", "TX-DROPPED" };
	struct ctl_table t;
	ctl_table_init(&t, 12, head);
	json_t *one = json_object_get(r, "vm");
	if (one) {
		vm_rows(&t, one);
	} else {
		size_t i;
		json_t *vm;
		json_array_foreach(json_object_get(r, "vms"), i, vm)
			vm_rows(&t, vm);
	}
	ctl_table_print(&t, f);
	ctl_table_free(&t);
}

void show_vm_removed(json_t *r, FILE *f)
{
	fprintf(f, "removed VM '%s'\n", str(r, "removed"));
}

void show_processors(json_t *r, FILE *f)
{
	static const char *const head[] = { "PROCESSOR", "CPU", "NUMA", "LOAD", "NETWORK", "STATE", "QUEUES" };
	struct ctl_table t;
	ctl_table_init(&t, 7, head);
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(r, "processors"), i, p) {
		char id[16], cpu[16], numa[16], load[16], net[16], qs[512];
		id_list(json_object_get(p, "queues"), qs, sizeof(qs));
		const char *state = json_is_false(json_object_get(p, "in_set")) ? "excluded"
				    : json_is_true(json_object_get(p, "awake")) ? "awake" : "parked";
		ctl_table_row(&t, num(p, "processor", id, sizeof(id)), num(p, "cpu", cpu, sizeof(cpu)),
			      num(p, "numa_node", numa, sizeof(numa)), pct(p, "load", load, sizeof(load)),
			      pct(p, "net_load", net, sizeof(net)), state, qs);
	}
	ctl_table_print(&t, f);
	ctl_table_free(&t);
}

void show_policy(json_t *r, FILE *f)
{
	fprintf(f, "policy    %s\ninterval  %s\n", str(r, "policy"), str(r, "interval"));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(r, "params"), k, v) {
		if (strcmp(k, "policy") != 0)
			fprintf(f, "  %-16s %s\n", k, json_string_value(v) ? json_string_value(v) : "-");
	}
}

static const char *const move_head[] = { "TIME", "SEQ", "QUEUE", "VM", "FROM", "TO", "REASON", "LOAD", "SOURCE", "DESTINATION" };

static void move_row(struct ctl_table *t, json_t *m)
{
	char time[32], seq[24], q[16], from[16], to[16], load[16], src[32], dst[32];
	snprintf(time, sizeof(time), "%.3f", json_number_value(json_object_get(m, "time_s")));
	snprintf(src, sizeof(src), "%.0f%%->%.0f%%", json_number_value(json_object_get(m, "src_before")) * 100.0,
		 json_number_value(json_object_get(m, "src_after")) * 100.0);
	snprintf(dst, sizeof(dst), "%.0f%%->%.0f%%", json_number_value(json_object_get(m, "dst_before")) * 100.0,
		 json_number_value(json_object_get(m, "dst_after")) * 100.0);
	char reason[48];
	snprintf(reason, sizeof(reason), "%s%s", str(m, "reason"),
		 json_is_true(json_object_get(m, "pingpong")) ? " (ping-pong)" : "");
	const char *vm = json_is_null(json_object_get(m, "vm")) ? "(default)" : str(m, "vm");
	ctl_table_row(t, time, num(m, "seq", seq, sizeof(seq)), num(m, "queue", q, sizeof(q)), vm,
		      num(m, "from", from, sizeof(from)), num(m, "to", to, sizeof(to)), reason,
		      pct(m, "queue_load", load, sizeof(load)), src, dst);
}

void show_moves(json_t *r, FILE *f)
{
	json_t *moves = json_object_get(r, "moves");
	if (json_array_size(moves) == 0) {
		fprintf(f, "no moves\n");
		return;
	}
	struct ctl_table t;
	ctl_table_init(&t, 10, move_head);
	size_t i;
	json_t *m;
	json_array_foreach(moves, i, m)
		move_row(&t, m);
	ctl_table_print(&t, f);
	ctl_table_free(&t);
}

void show_move_line(json_t *move, FILE *f, int header)
{
	/* fixed widths: lines printed one at a time cannot be aligned on each other */
	if (header)
		fprintf(f, "%-10s %-6s %-5s %-16s %-4s %-4s %-22s %-5s %-11s %s\n", move_head[0], move_head[1], move_head[2],
			move_head[3], move_head[4], move_head[5], move_head[6], move_head[7], move_head[8], move_head[9]);
	struct ctl_table t;
	ctl_table_init(&t, 10, move_head);
	move_row(&t, move);
	if (t.n_rows == 2) {
		char **c = t.cells + 10;
		fprintf(f, "%-10s %-6s %-5s %-16s %-4s %-4s %-22s %-5s %-11s %s\n", c[0], c[1], c[2], c[3], c[4], c[5], c[6],
			c[7], c[8], c[9]);
	}
	ctl_table_free(&t);
}

void show_rebalance(json_t *r, FILE *f)
{
	size_t n = json_array_size(json_object_get(r, "moves"));
	if (n == 0) {
		fprintf(f, "rebalanced: nothing to move\n");
		return;
	}
	fprintf(f, "rebalanced: %zu move%s\n", n, n == 1 ? "" : "s");
	show_moves(r, f);
}

/* " (overflow 3, vm-gone 1)\n": the non-zero members of a counter object, then the line's end. */
static void nonzero_parts(json_t *parts, FILE *f)
{
	const char *k, *sep = " (";
	json_t *v;
	json_object_foreach(parts, k, v) {
		if (json_integer_value(v)) {
			fprintf(f, "%s%s %lld", sep, k, (long long)json_integer_value(v));
			sep = ", ";
		}
	}
	fprintf(f, "%s\n", sep[0] == ',' ? ")" : "");
}

/* The data plane's fates both ways, then every port's counters. */
static void show_dataplane(json_t *r, FILE *f)
{
	json_t *dp = json_object_get(r, "dataplane"), *up = json_object_get(dp, "uplink"), *vms = json_object_get(dp, "vms");
	char b1[32], b2[32], b3[32], b4[32];
	if (up) {
		fprintf(f, "uplink frames           %s: delivered %s, in flight %s, dropped %s", num(up, "received", b1, sizeof(b1)),
			num(up, "delivered_total", b2, sizeof(b2)), num(up, "in_flight", b3, sizeof(b3)),
			num(up, "dropped", b4, sizeof(b4)));
		nonzero_parts(json_object_get(up, "dropped_by_reason"), f);
	}
	if (vms) {
		fprintf(f, "VM frames               %s: forwarded %s, dropped %s", num(vms, "received", b1, sizeof(b1)),
			num(vms, "forwarded_total", b2, sizeof(b2)), num(vms, "dropped", b3, sizeof(b3)));
		nonzero_parts(json_object_get(vms, "dropped_by_reason"), f);
	}
	json_t *ports = json_object_get(r, "ports");
	if (!json_array_size(ports))
		return;
	static const char *const head[] = { "PORT",	  "VM",		"RX",	       "TX",
					    "RX-DROPPED", "TX-DROPPED", "LINK-EVENTS" };
	struct ctl_table t;
	ctl_table_init(&t, 7, head);
	size_t i;
	json_t *p;
	json_array_foreach(ports, i, p) {
		char rx[32], tx[32], rd[32], td[32], le[32];
		ctl_table_row(&t, str(p, "port"), json_is_null(json_object_get(p, "vm")) ? "(uplink)" : str(p, "vm"),
			      num(p, "rx_packets", rx, sizeof(rx)), num(p, "tx_packets", tx, sizeof(tx)),
			      num(p, "rx_dropped", rd, sizeof(rd)), num(p, "tx_dropped", td, sizeof(td)),
			      num(p, "link_events", le, sizeof(le)));
	}
	fputc('\n', f);
	ctl_table_print(&t, f);
	ctl_table_free(&t);
}

/* The counters only the running data plane has, by name: one row each, its labels as k=v. */
static void show_dataplane_counters(json_t *r, FILE *f)
{
	json_t *cs = json_object_get(r, "dataplane_counters");
	if (!json_array_size(cs))
		return;
	static const char *const head[] = { "COUNTER", "LABELS", "VALUE" };
	struct ctl_table t;
	ctl_table_init(&t, 3, head);
	size_t i;
	json_t *c;
	json_array_foreach(cs, i, c) {
		char labels[160] = "", v[32];
		size_t n = 0;
		const char *k;
		json_t *lv;
		json_object_foreach(json_object_get(c, "labels"), k, lv) {
			if (n < sizeof(labels))
				n += (size_t)snprintf(labels + n, sizeof(labels) - n, "%s%s=%s", n ? "," : "", k,
						      json_string_value(lv) ? json_string_value(lv) : "");
		}
		ctl_table_row(&t, str(c, "name"), labels[0] ? labels : "-", num(c, "value", v, sizeof(v)));
	}
	fputc('\n', f);
	ctl_table_print(&t, f);
	ctl_table_free(&t);
}

void show_stats(json_t *r, FILE *f)
{
	json_t *fr = json_object_get(r, "frames"), *mv = json_object_get(r, "moves"), *plan = json_object_get(r, "plan");
	char b1[32], b2[32], b3[32];
	fprintf(f, "uptime                  %.1f s\n", json_number_value(json_object_get(r, "uptime_s")));
	fprintf(f, "frames received         %s\n", num(fr, "received", b1, sizeof(b1)));
	fprintf(f, "frames delivered        %s\n", num(fr, "delivered", b1, sizeof(b1)));
	fprintf(f, "frames dropped          %s", num(fr, "dropped", b1, sizeof(b1)));
	nonzero_parts(json_object_get(fr, "dropped_by_reason"), f);
	fprintf(f, "moves                   %s", num(mv, "total", b1, sizeof(b1)));
	nonzero_parts(json_object_get(mv, "by_reason"), f);
	fprintf(f, "ping-pongs              %s\n", num(r, "pingpongs", b1, sizeof(b1)));
	fprintf(f, "single-queue overloads  %s\n", num(r, "single_queue_overloads", b1, sizeof(b1)));
	long long rounds = json_integer_value(json_object_get(plan, "rounds"));
	double secs = json_number_value(json_object_get(plan, "seconds_total"));
	snprintf(b3, sizeof(b3), "%.1f us", rounds ? secs / (double)rounds * 1e6 : 0.0);
	fprintf(f, "engine rounds           %s (mean plan time %s)\n", num(plan, "rounds", b2, sizeof(b2)), b3);
	if (json_is_string(json_object_get(r, "dataplane_kind")))
		fprintf(f, "data plane              %s\n", str(r, "dataplane_kind"));
	show_dataplane(r, f);
	show_dataplane_counters(r, f);
}

void show_explain(json_t *r, FILE *f)
{
	char q[16], p[16], h[16], pl[16], ql[16];
	const char *vm = json_is_null(json_object_get(r, "vm")) ? "the default queue" : str(r, "vm");
	fprintf(f, "queue %s (%s) is on processor %s (home %s); processor load %s, queue load %s\n",
		num(r, "queue", q, sizeof(q)), vm, num(r, "processor", p, sizeof(p)), num(r, "home", h, sizeof(h)),
		pct(r, "processor_load", pl, sizeof(pl)), pct(r, "queue_load", ql, sizeof(ql)));
	fprintf(f, "why: %s\n", str(r, "rule"));
	if (json_array_size(json_object_get(r, "moves"))) {
		fprintf(f, "last moves:\n");
		show_moves(r, f);
	} else {
		fprintf(f, "it has not moved\n");
	}
}

void show_version(json_t *r, FILE *f)
{
	char b[16];
	fprintf(f, "dvmqctl %s, daemon %s, protocol %s\n", DVMQ_VERSION, str(r, "version"), num(r, "protocol", b, sizeof(b)));
}
