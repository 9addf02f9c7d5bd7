/* The metrics page: its text (names, labels, escaping), promtool's verdict on it, every counter
 * equal to what `stats` reports for the same snapshot, and the snapshot publisher. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "ctl_fixture.h"

/* A fake host with traffic, drops, moves and plans, as a snapshot. */
static struct dvmq_snapshot *busy_snapshot(void)
{
	static struct ctl_fake f;
	ctl_fake_init(&f, 3);
	f.next_proc = 0;
	/* web-1 and batch on processor 0 (1.1), db alone on 1 and over a whole processor (1.05) */
	if (ctl_fake_add(&f, "web-1", "02:00:00:00:00:01", 100, 0.6) || ctl_fake_add(&f, "db", "02:00:00:00:00:02", 100, 1.05))
		return NULL;
	f.next_proc = 0;
	if (ctl_fake_add(&f, "batch", "02:00:00:00:00:03", 100, 0.5))
		return NULL;
	ctl_fake_tick(&f, 2500000000ull);
	struct dvmq_snap_move mv[4];
	size_t n;
	char msg[64];
	ctl_fake_ops.rebalance(&f, mv, 4, &n, msg, sizeof(msg)); /* web-1 to processor 2 */
	ctl_fake_tick(&f, 1000000000ull);
	f.pingpongs = 2;
	struct dvmq_snapshot *s = ctl_fake_ops.snapshot(&f);
	if (s) {
		s->drops[DVMQ_SNAP_DROP_MALFORMED] = 7;
		dvmq_snap_count_plan(s, 0.0002);
		dvmq_snap_count_plan(s, 2.0);
	}
	return s;
}

static char *render(const struct dvmq_snapshot *s)
{
	char *text = NULL;
	size_t len;
	return dvmq_prom_render(s, &text, &len) == 0 && strlen(text) == len ? text : NULL;
}

TEST(ctl_prom_page_names_and_labels)
{
	struct dvmq_snapshot *s = busy_snapshot();
	CHECK(s);
	char *text = render(s);
	dvmq_snapshot_unref(s);
	CHECK(text);
	CHECK(strstr(text, "# TYPE dvmq_queue_packets_total counter\n"));
	CHECK(strstr(text, "dvmq_queue_packets_total{vm=\"web-1\",queue=\"1\"} 2100000\n"));
	CHECK(strstr(text, "dvmq_queue_packets_total{queue=\"0\"} 0\n")); /* the default queue: no vm label */
	CHECK(strstr(text, "dvmq_queue_drops_total{vm=\"db\",queue=\"2\",reason=\"overflow\"} 367500\n"));
	CHECK(strstr(text, "dvmq_queue_busy_seconds_total{vm=\"db\",queue=\"2\"} 3.675\n"));
	CHECK(strstr(text, "dvmq_queue_processor{vm=\"web-1\",queue=\"1\"} 2\n"));
	CHECK(strstr(text, "dvmq_processor_awake{processor=\"2\"} 1\n"));
	CHECK(strstr(text, "dvmq_moves_total{reason=\"spread\"} 1\n"));
	CHECK(strstr(text, "dvmq_pingpongs_total 2\n"));
	CHECK(strstr(text, "dvmq_single_queue_overloads_total 1\n"));
	CHECK(strstr(text, "dvmq_frames_dropped_total{reason=\"malformed\"} 7\n"));
	CHECK(strstr(text, "dvmq_engine_plan_seconds_bucket{le=\"0.0005\"} 2\n"));
	CHECK(strstr(text, "dvmq_engine_plan_seconds_bucket{le=\"+Inf\"} 3\n"));
	CHECK(strstr(text, "dvmq_engine_plan_seconds_count 3\n"));
	CHECK(strstr(text, "dvmq_info{version=\"test\",policy=\"adaptive\"} 1\n"));
	free(text);
}

TEST(ctl_prom_label_values_are_escaped)
{
	struct dvmq_snapshot *s = busy_snapshot();
	CHECK(s);
	snprintf(s->vms[0].name, sizeof(s->vms[0].name), "we\"b\\1\nx");
	char *text = render(s);
	dvmq_snapshot_unref(s);
	CHECK(text);
	CHECK_MSG(strstr(text, "dvmq_queue_packets_total{vm=\"we\\\"b\\\\1\\nx\",queue=\"1\"}"), "%s", text);
	free(text);
}

/* promtool check metrics on the page; returns its exit status (-1: could not run). */
static int promtool(const char *text, char *out, size_t out_len)
{
	char path[] = "/tmp/dvmq-prom.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	bool wrote = write(fd, text, len) == (ssize_t)len;
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	FILE *p = wrote ? popen(cmd, "r") : NULL;
	int rc = -1;
	if (p) {
		size_t n = fread(out, 1, out_len - 1, p);
		out[n] = '\0';
		int st = pclose(p);
		rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	unlink(path);
	return rc;
}

TEST(ctl_prom_page_passes_promtool)
{
	if (system("command -v promtool >/dev/null 2>&1") != 0)
		SKIP("promtool is not installed (apt-get install prometheus)");
	struct dvmq_snapshot *s = busy_snapshot();
	CHECK(s);
	char *text = render(s);
	dvmq_snapshot_unref(s);
	CHECK(text);
	char out[4096];
	int rc = promtool(text, out, sizeof(out));
	CHECK_MSG(rc == 0 && out[0] == '\0', "promtool exit %d: %s", rc, out);
	/* and it can fail: a counter without _total is refused */
	rc = promtool("# HELP dvmq_x A count.\n# TYPE dvmq_x counter\ndvmq_x 1\n", out, sizeof(out));
	CHECK_MSG(rc != 0, "promtool accepted a bad page");
	free(text);
}

/* The value of a label in a sample line ("" when absent). */
static void label(const char *labels, const char *name, char *out, size_t len)
{
	char key[32];
	snprintf(key, sizeof(key), "%s=\"", name);
	const char *p = strstr(labels, key);
	out[0] = '\0';
	if (!p)
		return;
	p += strlen(key);
	size_t n = strcspn(p, "\"");
	snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p);
}

static json_t *queue_entry(json_t *stats, const char *id)
{
	size_t i;
	json_t *q;
	json_array_foreach(json_object_get(stats, "queues"), i, q)
		if (json_integer_value(json_object_get(q, "queue")) == atoi(id))
			return q;
	return NULL;
}

/* The entry of array `key` whose field `field` is `value` (a JSON null when value is ""). */
static json_t *entry_by(json_t *st, const char *key, const char *field, const char *value)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(st, key), i, e) {
		json_t *f = json_object_get(e, field);
		if (value[0] ? json_is_string(f) && strcmp(json_string_value(f), value) == 0 : json_is_null(f))
			return e;
	}
	return NULL;
}

/* The data plane's and the ports' counters (ctl_fates.c); NULL when the name is none of them. */
static json_t *dp_value(json_t *st, const char *name, const char *labels)
{
	char vm[80], reason[40], to[40], path[40];
	label(labels, "vm", vm, sizeof(vm));
	label(labels, "reason", reason, sizeof(reason));
	label(labels, "to", to, sizeof(to));
	label(labels, "path", path, sizeof(path));
	json_t *dp = json_object_get(st, "dataplane"), *up = json_object_get(dp, "uplink"), *vms = json_object_get(dp, "vms");
	json_t *ve = json_object_get(entry_by(st, "vms", "vm", vm), "sent");
	if (strcmp(name, "dvmq_uplink_delivered_total") == 0)
		return json_object_get(json_object_get(up, "delivered"), path);
	if (strcmp(name, "dvmq_uplink_drops_total") == 0)
		return json_object_get(json_object_get(up, "dropped_by_reason"), reason);
	if (strcmp(name, "dvmq_uplink_flood_refused_total") == 0)
		return json_object_get(json_object_get(up, "flood"), "refused");
	if (strcmp(name, "dvmq_uplink_unknown_unicast_total") == 0)
		return json_object_get(json_object_get(up, "flood"), "unknown_unicast");
	if (strcmp(name, "dvmq_vms_sent_frames_total") == 0)
		return json_object_get(vms, "received");
	if (strcmp(name, "dvmq_vms_forwarded_total") == 0)
		return json_object_get(json_object_get(vms, "forwarded"), to);
	if (strcmp(name, "dvmq_vms_drops_total") == 0)
		return json_object_get(json_object_get(vms, "dropped_by_reason"), reason);
	if (strcmp(name, "dvmq_vms_flood_refused_total") == 0)
		return json_object_get(json_object_get(vms, "flood"), "refused");
	if (strcmp(name, "dvmq_vm_sent_frames_total") == 0)
		return json_object_get(ve, "received");
	if (strcmp(name, "dvmq_vm_forwarded_total") == 0)
		return json_object_get(json_object_get(ve, "forwarded"), to);
	if (strcmp(name, "dvmq_vm_drops_total") == 0)
		return json_object_get(json_object_get(ve, "dropped_by_reason"), reason);
	if (strcmp(name, "dvmq_vm_refused_total") == 0)
		return json_object_get(entry_by(st, "vms", "vm", vm), "refused");
	if (strcmp(name, "dvmq_vm_bucket_moves_total") == 0)
		return json_object_get(entry_by(st, "groups", "vm", vm), "bucket_moves");
	if (strncmp(name, "dvmq_port_", 10) == 0 && strlen(name) > 16) {
		char field[40];
		snprintf(field, sizeof(field), "%.*s", (int)(strlen(name) - 16), name + 10); /* less _total */
		return json_object_get(entry_by(st, "ports", "vm", vm), field);
	}
	return NULL;
}

/* What `stats` says for one counter sample of the page; NAN when it has no such field. */
static double stats_value(json_t *st, const char *name, const char *labels)
{
	char queue[16], reason[32], le[32];
	label(labels, "queue", queue, sizeof(queue));
	label(labels, "reason", reason, sizeof(reason));
	label(labels, "le", le, sizeof(le));
	json_t *q = queue[0] ? queue_entry(st, queue) : NULL, *v = NULL;
	json_t *frames = json_object_get(st, "frames"), *plan = json_object_get(st, "plan");
	if (strcmp(name, "dvmq_queue_packets_total") == 0)
		v = json_object_get(q, "packets");
	else if (strcmp(name, "dvmq_queue_bytes_total") == 0)
		v = json_object_get(q, "bytes");
	else if (strcmp(name, "dvmq_queue_busy_seconds_total") == 0)
		v = json_object_get(q, "busy_seconds");
	else if (strcmp(name, "dvmq_queue_moves_total") == 0)
		v = json_object_get(q, "moves");
	else if (strcmp(name, "dvmq_queue_drops_total") == 0)
		v = json_object_get(json_object_get(q, "drops"), reason);
	else if (strcmp(name, "dvmq_frames_received_total") == 0)
		v = json_object_get(frames, "received");
	else if (strcmp(name, "dvmq_frames_delivered_total") == 0)
		v = json_object_get(frames, "delivered");
	else if (strcmp(name, "dvmq_frames_dropped_total") == 0)
		v = json_object_get(json_object_get(frames, "dropped_by_reason"), reason);
	else if (strcmp(name, "dvmq_moves_total") == 0)
		v = json_object_get(json_object_get(json_object_get(st, "moves"), "by_reason"), reason);
	else if (strcmp(name, "dvmq_pingpongs_total") == 0)
		v = json_object_get(st, "pingpongs");
	else if (strcmp(name, "dvmq_single_queue_overloads_total") == 0)
		v = json_object_get(st, "single_queue_overloads");
	else if (strcmp(name, "dvmq_engine_plan_seconds_sum") == 0)
		v = json_object_get(plan, "seconds_total");
	else if (strcmp(name, "dvmq_engine_plan_seconds_count") == 0)
		v = json_object_get(plan, "rounds");
	else if (strncmp(name, "dvmq_uplink_", 12) == 0 || strncmp(name, "dvmq_vm", 7) == 0 ||
		 strncmp(name, "dvmq_port_", 10) == 0)
		v = dp_value(st, name, labels);
	else if (strcmp(name, "dvmq_engine_plan_seconds_bucket") == 0) {
		size_t i;
		json_t *b;
		json_array_foreach(json_object_get(plan, "buckets"), i, b) {
			json_t *bl = json_object_get(b, "le");
			char text[32];
			if (json_is_string(bl))
				snprintf(text, sizeof(text), "%s", json_string_value(bl));
			else
				snprintf(text, sizeof(text), "%g", json_real_value(bl));
			if (strcmp(text, le) == 0)
				v = json_object_get(b, "count");
		}
	}
	return v ? json_number_value(v) : (double)NAN;
}

TEST(ctl_prom_every_counter_matches_stats)
{
	struct dvmq_snapshot *s = busy_snapshot();
	CHECK(s);
	char *text = render(s);
	json_t *st = dvmq_ctl_stats_json(s);
	dvmq_snapshot_unref(s);
	CHECK(text && st);
	unsigned checked = 0;
	char family_type[32] = "";
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# TYPE ", 7) == 0) {
			snprintf(family_type, sizeof(family_type), "%s", strrchr(line, ' ') + 1);
			continue;
		}
		if (line[0] == '#' || (strcmp(family_type, "counter") != 0 && strcmp(family_type, "histogram") != 0))
			continue;
		char name[96];
		size_t nlen = strcspn(line, "{ ");
		snprintf(name, sizeof(name), "%.*s", (int)nlen, line);
		const char *labels = line + nlen, *val = strrchr(line, ' ') + 1;
		double page = strtod(val, NULL), want = stats_value(st, name, labels);
		CHECK_MSG(!isnan(want), "counter %s%s has no field in stats --json", name, labels);
		CHECK_MSG(fabs(page - want) <= 1e-8 * fabs(want), "%s: page %.17g, stats %.17g", line, page, want);
		checked++;
	}
	CHECK_MSG(checked >= 40, "only %u counter samples", checked);
	json_decref(st);
	free(text);
}

/* Counters only one data plane has travel by name: the page and stats show them without knowing
 * the data plane (a head per name, its labels, the same values in both). */
TEST(ctl_prom_dataplane_counters_by_name)
{
	struct dvmq_snapshot *s = busy_snapshot();
	CHECK(s);
	snprintf(s->dp_kind, sizeof(s->dp_kind), "kernel");
	CHECK(dvmq_snapshot_set_counters(s, 3) == 0);
	CHECK(dvmq_snapshot_set_counters(s, 3) == -EBUSY);
	for (unsigned i = 0; i < 2; i++) {
		s->counters[i] = (struct dvmq_snap_counter){ .name = "xdp_redirected_total", .help = "Frames redirected.",
							     .value = 10 + i };
		s->counters[i].labels[0].key = "cpu";
		snprintf(s->counters[i].labels[0].value, DVMQ_SNAP_LABEL_MAX, "%u", i);
		s->counters[i].labels[1].key = "queue";
		snprintf(s->counters[i].labels[1].value, DVMQ_SNAP_LABEL_MAX, "q\"%u", i);
	}
	s->counters[2] = (struct dvmq_snap_counter){ .name = "cpumap_entries", .help = "Entries.", .gauge = true, .value = 2 };
	char *text = render(s);
	json_t *st = dvmq_ctl_stats_json(s);
	dvmq_snapshot_unref(s);
	CHECK(text && st);
	CHECK_MSG(strstr(text, "dvmq_info{version=\"test\",policy=\"adaptive\",dataplane=\"kernel\"} 1\n"), "%s", text);
	const char *head = "# HELP dvmq_dataplane_xdp_redirected_total Frames redirected.\n"
			   "# TYPE dvmq_dataplane_xdp_redirected_total counter\n"
			   "dvmq_dataplane_xdp_redirected_total{cpu=\"0\",queue=\"q\\\"0\"} 10\n"
			   "dvmq_dataplane_xdp_redirected_total{cpu=\"1\",queue=\"q\\\"1\"} 11\n"
			   "# HELP dvmq_dataplane_cpumap_entries Entries.\n"
			   "# TYPE dvmq_dataplane_cpumap_entries gauge\n"
			   "dvmq_dataplane_cpumap_entries 2\n";
	CHECK_MSG(strstr(text, head), "%s", text);
	CHECK(strcmp(json_string_value(json_object_get(st, "dataplane_kind")), "kernel") == 0);
	json_t *c = json_object_get(st, "dataplane_counters");
	CHECK(json_array_size(c) == 3);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(c, 1), "name")), "xdp_redirected_total") == 0);
	CHECK(json_integer_value(json_object_get(json_array_get(c, 1), "value")) == 11);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(json_array_get(c, 1), "labels"), "queue")), "q\"1") == 0);
	CHECK(json_object_size(json_object_get(json_array_get(c, 2), "labels")) == 0);
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		char out[4096];
		int rc = promtool(text, out, sizeof(out));
		CHECK_MSG(rc == 0 && out[0] == '\0', "promtool exit %d: %s", rc, out);
	}
	json_decref(st);
	free(text);
}

TEST(ctl_snapshot_publisher_keeps_what_readers_hold)
{
	struct dvmq_snapshot_pub *pub;
	CHECK(dvmq_snapshot_pub_create(&pub) == 0);
	CHECK(dvmq_snapshot_acquire(pub) == NULL);
	struct dvmq_snapshot *a, *b;
	CHECK(dvmq_snapshot_create(1, 1, 0, 0, &a) == 0 && dvmq_snapshot_create(2, 1, 0, 0, &b) == 0);
	dvmq_snapshot_publish(pub, a);
	struct dvmq_snapshot *held = dvmq_snapshot_acquire(pub);
	CHECK(held == a);
	dvmq_snapshot_publish(pub, b); /* a survives: the reader holds it */
	CHECK(held->n_processors == 1 && atomic_load(&held->refs) == 1);
	dvmq_snapshot_unref(held);
	struct dvmq_snapshot *now = dvmq_snapshot_acquire(pub);
	CHECK(now == b && now->n_processors == 2);
	dvmq_snapshot_unref(now);
	dvmq_snapshot_pub_destroy(pub);
	dvmq_snapshot_pub_destroy(NULL);
	dvmq_snapshot_unref(NULL);
}

TEST(ctl_snapshot_plan_histogram_buckets)
{
	struct dvmq_snapshot *s;
	CHECK(dvmq_snapshot_create(0, 0, 0, 0, &s) == 0);
	dvmq_snap_count_plan(s, 0.0);
	dvmq_snap_count_plan(s, 10e-6); /* on a bound: in that bucket (le) */
	dvmq_snap_count_plan(s, 11e-6);
	dvmq_snap_count_plan(s, 1.0);
	CHECK(s->plan_buckets[0] == 2 && s->plan_buckets[1] == 1 && s->plan_buckets[DVMQ_SNAP_PLAN_BUCKETS] == 1);
	CHECK(s->plans == 4 && fabs(s->plan_seconds - 1.000021) < 1e-12);
	dvmq_snapshot_unref(s);
}
