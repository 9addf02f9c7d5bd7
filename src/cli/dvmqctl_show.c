/* dvmqctl's readable output: one rendering per command result (docs/ctl-protocol.md names the
 * fields). Loads are shown in percent of one processor, times in seconds. Invariant: a field
 * missing from a result (an older daemon) prints as "-", never crashes. */
#include <stdbool.h>
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
	/* GROUP: queue i of its VM's group of n (VMMQ) and the buckets it holds, "-" for a lone VMQ */
	static const char *const head[] = { "QUEUE", "VM",    "MAC",     "VLAN",  "PROCESSOR",
					    "LOAD",  "PPS",   "BACKLOG", "DROPS", "GROUP" };
	struct ctl_table t;
	ctl_table_init(&t, 10, head);
	size_t i;
	json_t *q;
	json_array_foreach(json_object_get(r, "queues"), i, q) {
		char id[16], vlan[16], p[16], load[16], pps[32], bl[32], dr[32], grp[48] = "-";
		const char *vm = json_is_null(json_object_get(q, "vm")) ? "(default)" : str(q, "vm");
		snprintf(pps, sizeof(pps), "%.0f", json_number_value(json_object_get(q, "pps")));
		json_t *g = json_object_get(q, "group");
		if (json_is_object(g))
			snprintf(grp, sizeof(grp), "%lld/%lld (%lld buckets)", json_integer_value(json_object_get(g, "index")) + 1,
				 json_integer_value(json_object_get(g, "size")), json_integer_value(json_object_get(g, "buckets")));
		ctl_table_row(&t, num(q, "queue", id, sizeof(id)), vm, str(q, "mac"), num(q, "vlan", vlan, sizeof(vlan)),
			      num(q, "processor", p, sizeof(p)), pct(q, "load", load, sizeof(load)), pps,
			      num(q, "backlog", bl, sizeof(bl)), num(q, "drops_total", dr, sizeof(dr)), grp);
	}
	ctl_table_print(&t, f);
	ctl_table_free(&t);
}

/* One VM's queue group (VMMQ): its queues, and its indirection table as `ethtool -x` prints a
 * NIC's, eight buckets a row, each as QUEUE@PROCESSOR and its load. Nothing for a plain VMQ. */
static void show_group(json_t *vm, FILE *f)
{
	json_t *g = json_object_get(vm, "group");
	long long max = json_integer_value(json_object_get(vm, "max_queues"));
	if (max <= 1 && json_array_size(json_object_get(g, "queues")) <= 1)
		return; /* a plain VMQ */
	if (!json_is_object(g)) {
		fprintf(f, "\nqueue group (VMMQ): up to %lld queues; none now (no VMQ)\n", max);
		return;
	}
	json_t *qs = json_object_get(g, "queues"), *table = json_object_get(g, "table"), *load = json_object_get(g, "bucket_load");
	fprintf(f, "\nqueue group (VMMQ): %zu of up to %lld queues, %lld bucket moves so far\n", json_array_size(qs), max,
		json_integer_value(json_object_get(vm, "bucket_moves")));
	size_t i;
	json_t *q;
	json_array_foreach(qs, i, q) {
		long long id = json_integer_value(json_object_get(q, "queue"));
		unsigned nb = 0;
		double l = 0.0;
		for (size_t b = 0; b < json_array_size(table); b++)
			if (json_integer_value(json_array_get(table, b)) == id) {
				nb++;
				l += json_number_value(json_array_get(load, b));
			}
		char proc[24] = "-";
		if (json_is_integer(json_object_get(q, "processor")))
			snprintf(proc, sizeof(proc), "%lld", json_integer_value(json_object_get(q, "processor")));
		fprintf(f, "  queue %lld on processor %s: %u buckets, %.1f%% of a processor\n", id, proc, nb, l * 100.0);
	}
	fprintf(f, "RX flow hash indirection table (bucket: queue@processor load):\n");
	for (size_t b = 0; b < json_array_size(table); b++) {
		long long id = json_integer_value(json_array_get(table, b));
		long long proc = -1;
		json_array_foreach(qs, i, q)
			if (json_integer_value(json_object_get(q, "queue")) == id && json_is_integer(json_object_get(q, "processor")))
				proc = json_integer_value(json_object_get(q, "processor"));
		if (b % 8 == 0)
			fprintf(f, "%5zu:", b);
		fprintf(f, " %4lld@%-3lld %4.1f%%", id, proc, json_number_value(json_array_get(load, b)) * 100.0);
		if (b % 8 == 7)
			fputc('\n', f);
	}
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
	json_t *vms = json_object_get(r, "vms");
	if (!one && json_array_size(vms) == 1)
		one = json_array_get(vms, 0);
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
	if (one)
		show_group(one, f);
}

void show_vm_removed(json_t *r, FILE *f)
{
	fprintf(f, "removed VM '%s'\n", str(r, "removed"));
}

void show_processors(json_t *r, FILE *f)
{
	/* BUSY: the worker's time serving frames, of its time since the start or `stats --clear`;
	 * NS/FRAME: busy time per frame; RING-FULL: frames of its queues dropped for a full ring;
	 * WAKEUPS: times its worker was woken (OVS pmd-stats-show's columns) */
	static const char *const head[] = { "PROCESSOR", "CPU", "NUMA", "LOAD", "NETWORK", "STATE",   "QUEUES",
					    "BUSY",	 "IDLE", "FRAMES", "NS/FRAME", "RING-FULL", "WAKEUPS" };
	struct ctl_table t;
	ctl_table_init(&t, 13, head);
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(r, "processors"), i, p) {
		char id[16], cpu[16], numa[16], load[16], net[16], qs[512], busy[32], idle[32], fr[32], npf[32], rf[32],
			wk[32];
		id_list(json_object_get(p, "queues"), qs, sizeof(qs));
		const char *state = json_is_false(json_object_get(p, "in_set")) ? "excluded"
				    : json_is_true(json_object_get(p, "awake")) ? "awake" : "parked";
		json_t *c = json_object_get(p, "counters");
		snprintf(busy, sizeof(busy), c ? "%.1f s (%.0f%%)" : "-", json_number_value(json_object_get(c, "busy_s")),
			 json_number_value(json_object_get(c, "busy_fraction")) * 100.0);
		snprintf(idle, sizeof(idle), c ? "%.1f s" : "-", json_number_value(json_object_get(c, "idle_s")));
		json_t *n = json_object_get(c, "ns_per_frame");
		snprintf(npf, sizeof(npf), json_is_number(n) ? "%.0f" : "-", json_number_value(n));
		ctl_table_row(&t, num(p, "processor", id, sizeof(id)), num(p, "cpu", cpu, sizeof(cpu)),
			      num(p, "numa_node", numa, sizeof(numa)), pct(p, "load", load, sizeof(load)),
			      pct(p, "net_load", net, sizeof(net)), state, qs, busy, idle, num(c, "frames", fr, sizeof(fr)), npf,
			      num(c, "ring_full", rf, sizeof(rf)), num(c, "wakeups", wk, sizeof(wk)));
	}
	ctl_table_print(&t, f);
	ctl_table_free(&t);
}

void show_queue_set(json_t *r, FILE *f)
{
	json_t *q = json_object_get(r, "queue"), *m = json_object_get(r, "move");
	char id[16], p[16];
	const char *vm = json_is_null(json_object_get(q, "vm")) ? "the default queue" : str(q, "vm");
	if (json_is_true(json_object_get(q, "pinned")))
		fprintf(f, "queue %s (%s) pinned to processor %s%s\n", num(q, "queue", id, sizeof(id)), vm,
			num(q, "processor", p, sizeof(p)), json_is_object(m) ? " (moved there)" : "");
	else
		fprintf(f, "queue %s (%s) handed back to the engine, on processor %s for now\n",
			num(q, "queue", id, sizeof(id)), vm, num(q, "processor", p, sizeof(p)));
}

void show_config(json_t *r, FILE *f)
{
	fputs(str(r, "text"), f);
}

void show_config_diff(json_t *r, FILE *f)
{
	json_t *changes = json_object_get(r, "changes");
	if (json_array_size(changes) == 0) {
		fprintf(f, "%s: no difference: a reload would change nothing\n", str(r, "file"));
		return;
	}
	fprintf(f, "a reload of %s would change (what dvmqctl changed is undone unless saved: dvmqctl config show):\n",
		str(r, "file"));
	size_t i;
	json_t *l;
	json_array_foreach(changes, i, l)
		fprintf(f, "  %s\n", json_string_value(l) ? json_string_value(l) : "-");
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
	char time[32], seq[24], q[48], from[16], to[16], load[16], src[32], dst[32];
	snprintf(time, sizeof(time), "%.3f", json_number_value(json_object_get(m, "time_s")));
	snprintf(src, sizeof(src), "%.0f%%->%.0f%%", json_number_value(json_object_get(m, "src_before")) * 100.0,
		 json_number_value(json_object_get(m, "src_after")) * 100.0);
	snprintf(dst, sizeof(dst), "%.0f%%->%.0f%%", json_number_value(json_object_get(m, "dst_before")) * 100.0,
		 json_number_value(json_object_get(m, "dst_after")) * 100.0);
	char reason[48];
	snprintf(reason, sizeof(reason), "%s%s", str(m, "reason"),
		 json_is_true(json_object_get(m, "pingpong")) ? " (ping-pong)" : "");
	const char *vm = json_is_null(json_object_get(m, "vm")) ? "(default)" : str(m, "vm");
	/* VMMQ: N buckets of the VM's group from one queue to another (FROM, TO: processors) */
	if (json_is_integer(json_object_get(m, "buckets")))
		snprintf(q, sizeof(q), "%lld->%lld (%lld buckets)", json_integer_value(json_object_get(m, "queue")),
			 json_integer_value(json_object_get(m, "to_queue")), json_integer_value(json_object_get(m, "buckets")));
	else
		num(m, "queue", q, sizeof(q));
	ctl_table_row(t, time, num(m, "seq", seq, sizeof(seq)), q, vm,
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
	bool dry = json_is_true(json_object_get(r, "dry_run"));
	if (n == 0) {
		fprintf(f, "%s: nothing to move\n", dry ? "plan" : "rebalanced");
		return;
	}
	fprintf(f, "%s: %zu move%s\n", dry ? "plan (dry run: nothing moved)" : "rebalanced", n, n == 1 ? "" : "s");
	show_moves(r, f);
	static const char *const head[] = { "PROCESSOR", "LOAD", "PREDICTED", "QUEUES", "AFTER" };
	struct ctl_table t;
	ctl_table_init(&t, 5, head);
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(r, "processors"), i, p) {
		char id[16], b[16], a[16], qb[16], qa[16];
		ctl_table_row(&t, num(p, "processor", id, sizeof(id)), pct(p, "load_before", b, sizeof(b)),
			      pct(p, "load_after", a, sizeof(a)), num(p, "queues_before", qb, sizeof(qb)),
			      num(p, "queues_after", qa, sizeof(qa)));
	}
	fputc('\n', f);
	ctl_table_print(&t, f);
	ctl_table_free(&t);
	char g[16], mb[16], ma[16], ab[16], aa[16];
	fprintf(f, "\nbusiest processor %s -> %s (gain %s), processors awake %s -> %s\n",
		pct(r, "max_load_before", mb, sizeof(mb)), pct(r, "max_load_after", ma, sizeof(ma)), pct(r, "gain", g, sizeof(g)),
		num(r, "awake_before", ab, sizeof(ab)), num(r, "awake_after", aa, sizeof(aa)));
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
	json_t *cleared = json_object_get(r, "cleared_at_s");
	if (json_is_number(cleared))
		fprintf(f, "counting since          %.1f s (stats --clear)\n", json_number_value(cleared));
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
	json_t *cons = json_object_get(r, "considered");
	if (json_array_size(cons)) {
		fprintf(f, "the other processors:\n");
		size_t i;
		json_t *c;
		json_array_foreach(cons, i, c) {
			char pp[16], l[16];
			fprintf(f, "  %-4s %-5s %-9s %s\n", num(c, "processor", pp, sizeof(pp)), pct(c, "load", l, sizeof(l)),
				str(c, "verdict"), str(c, "why"));
		}
	}
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
