/* Trace replay: rows held until the next, VMs created from the trace, bad rows with file:line. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "dvmq/scenario.h"

static char dir[64];

static void write_csv(const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/t.csv", dir);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static int load_with(const char *csv, const char *ini, struct dvmq_scenario **s, struct dvmq_diag *d)
{
	strcpy(dir, "/tmp/dvmq-trace.XXXXXX");
	if (!mkdtemp(dir))
		return -EIO;
	write_csv(csv);
	int rc = dvmq_scenario_load_text("t.ini", ini, dir, s, d);
	char path[128];
	snprintf(path, sizeof(path), "%s/t.csv", dir);
	unlink(path);
	rmdir(dir);
	return rc;
}

static int load(const char *csv, struct dvmq_scenario **s, struct dvmq_diag *d)
{
	return load_with(csv,
			 "[host]\nprocessors = 2\n[trace]\nfile = t.csv\ncompress = 10\nscale = 2\n"
			 "[vm known]\nmac = 02:00:00:00:00:09\nweight = 7\n",
			 s, d);
}

TEST(trace_defaults_for_the_vms_it_creates)
{
	/* weight, vlan, cost and frame from [trace] for the VMs it creates; a [vm] of the same
	 * name keeps its own */
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	int rc = load_with("time_s,vm,pps\n0,known,100\n0,new1,10\n0,new2,10\n",
			   "[host]\nprocessors = 2\n[trace]\nfile = t.csv\nweight = 30\nvlan = 12\ncost = 2us\n"
			   "frame = 400B\n[vm known]\nmac = 02:00:00:00:00:09\nweight = 70\n",
			   &s, &d);
	CHECK_MSG(rc == 0, "%s", d.msg);
	CHECK(s->n_vms == 3);
	bool ok = s->vms[0].adapter.weight == 70 && s->vms[0].adapter.vlan == 0;
	for (size_t i = 1; i < 3; i++)
		ok &= s->vms[i].adapter.weight == 30 && s->vms[i].adapter.vlan == 12 && s->vms[i].cost_ns == 2000.0 &&
		      s->vms[i].frame_bytes == 400;
	dvmq_scenario_free(s);
	CHECK(ok);
}

TEST(trace_long_lines)
{
	/* a VM name at the limit and blanks: lines longer than any fixed buffer the reader had */
	char csv[8192];
	int n = snprintf(csv, sizeof(csv), "time_s ,  vm  , pps\n");
	n += snprintf(csv + n, sizeof(csv) - (size_t)n, "0,%-3000s,5\n", "a");
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(load_with(csv, "[host]\nprocessors = 2\n[trace]\nfile = t.csv\n", &s, &d) == 0, "%s", d.msg);
	bool ok = s->n_vms == 1 && strcmp(s->vms[0].name, "a") == 0 && dvmq_load_at(&s->vms[0].load, 0) == 5.0;
	dvmq_scenario_free(s);
	CHECK(ok);
}

TEST(trace_rows_hold_and_create_vms)
{
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	int rc = load("time_s,vm,pps,cost_ns\n0,known,100,500\n0,other,10,900\n100,known,300,500\n", &s, &d);
	CHECK_MSG(rc == 0, "%s", d.msg);
	CHECK(s->n_vms == 2);
	CHECK(strcmp(s->vms[0].name, "known") == 0 && s->vms[0].adapter.weight == 7);
	CHECK(strcmp(s->vms[1].name, "other") == 0 && s->vms[1].adapter.weight == 100);
	/* compress 10: trace second 100 is simulated second 10; scale 2 doubles the rate */
	CHECK(dvmq_load_at(&s->vms[0].load, 5000000000ull) == 200.0);
	CHECK(dvmq_load_at(&s->vms[0].load, 10000000000ull) == 600.0);
	CHECK(dvmq_load_at(&s->vms[1].load, 9000000000ull) == 20.0); /* held */
	CHECK(dvmq_load_at(&s->vms[1].cost_trace, 0) == 900.0);
	dvmq_scenario_free(s);
}

TEST(trace_bad_rows)
{
	static const struct {
		const char *csv, *want;
	} bad[] = {
		{ "time_s,vm,pps\n0,a,-5\n", "t.csv:2: negative rate" },
		{ "time_s,vm,pps\n0,a,x\n", "t.csv:2: bad pps" },
		{ "time_s,vm,pps\n5,a,1\n4,a,1\n", "t.csv:3: time_s goes backwards" },
		{ "time_s,vm\n0,a\n", "t.csv:1: header must name time_s, vm and pps" },
		{ "time_s,vm,pps,colour\n", "t.csv:1: unknown column 'colour'" },
		{ "time_s,vm,pps\n0,a\n", "t.csv:2: row has 2 fields" },
		{ "time_s,vm,pps\n-1,a,1\n", "t.csv:2: bad time_s" },
		{ "", "t.csv:1: empty trace" },
		{ "time_s,vm,pps\n0,a,1,2\n", "t.csv:2: row has 4 fields, the header 3" },
		{ "time_s,vm,pps\n0,a,1,\n", "t.csv:2: row has 4 fields, the header 3" },
		{ "time_s,vm,pps\n0,,1\n", "t.csv:2: empty vm field" },
		{ "time_s,vm,pps\n0,a,\n", "t.csv:2: empty pps field" },
		{ "time_s,vm,pps\n,a,1\n", "t.csv:2: empty time_s field" },
		{ "time_s,vm,pps,cost_ns\n0,a,1, \n", "t.csv:2: empty cost_ns field" },
		{ "time_s,,vm,pps\n", "t.csv:1: header column 2 is empty" },
		{ "time_s,vm,pps,vm\n", "t.csv:1: column 'vm' named twice" },
		{ "time_s,vm,pps,cost_ns,frame_bytes,pps\n", "t.csv:1: header has 6 columns, at most 5" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dvmq_scenario *s = NULL;
		struct dvmq_diag d = { { 0 } };
		CHECK_MSG(load(bad[i].csv, &s, &d) == -EINVAL, "case %zu loaded", i);
		CHECK(s == NULL);
		const char *at = strstr(d.msg, "t.csv:");
		CHECK_MSG(at && strncmp(at, bad[i].want, strlen(bad[i].want)) == 0, "got '%s', want '%s'", d.msg,
			  bad[i].want);
	}
}

/* Issue 18 §5: a trace `file` naming a directory read as "/:0: read error" (no scenario line;
 * the fuzz target aborted on it); one naming a device could read forever. Both are refused at
 * the scenario's line, before anything is read. */
TEST(trace_file_that_is_a_directory_or_a_device_is_refused_at_the_scenario_line)
{
	static const struct {
		const char *ini, *want;
	} bad[] = {
		{ "[host]\nprocessors = 2\n[trace]\nfile =/", "fuzz.ini:4: trace file '/' is a directory" },
		{ "[host]\nprocessors = 2\n[trace]\nfile = /dev/zero\n", "fuzz.ini:4: trace file '/dev/zero' is not a regular file" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dvmq_scenario *s = NULL;
		struct dvmq_diag d = { { 0 } };
		CHECK(dvmq_scenario_load_text("fuzz.ini", bad[i].ini, "/nonexistent", &s, &d) == -EINVAL && s == NULL);
		CHECK_MSG(strcmp(d.msg, bad[i].want) == 0, "got '%s', want '%s'", d.msg, bad[i].want);
	}
}

TEST(trace_more_vms_than_the_limit_is_refused)
{
	/* 65,537 VM names: the row over the limit is refused with its line, nothing half-built */
	size_t n = 65537, cap = 32 + n * 24;
	char *csv = malloc(cap);
	CHECK(csv);
	size_t len = (size_t)snprintf(csv, cap, "time_s,vm,pps\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(csv + len, cap - len, "0,v%zu,1\n", i);
	struct dvmq_scenario *sc = NULL;
	struct dvmq_diag d = { { 0 } };
	int rc = load(csv, &sc, &d);
	free(csv);
	CHECK_MSG(rc == -EINVAL && sc == NULL, "rc %d", rc);
	/* with the ini's own [vm known], the trace's 65,536th VM is the 65,537th */
	CHECK_MSG(strstr(d.msg, "t.csv:65537: vm v65535: more than 65536 VMs") != NULL, "%s", d.msg);
}
