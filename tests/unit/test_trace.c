/* Trace replay: rows held until the next, VMs created from the trace, bad rows with file:line. */
#include <errno.h>
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

static int load(const char *csv, struct dvmq_scenario **s, struct dvmq_diag *d)
{
	strcpy(dir, "/tmp/dvmq-trace.XXXXXX");
	if (!mkdtemp(dir))
		return -EIO;
	write_csv(csv);
	const char *ini = "[host]\nprocessors = 2\n[trace]\nfile = t.csv\ncompress = 10\nscale = 2\n"
			  "[vm known]\nmac = 02:00:00:00:00:09\nweight = 7\n";
	int rc = dvmq_scenario_load_text("t.ini", ini, dir, s, d);
	char path[128];
	snprintf(path, sizeof(path), "%s/t.csv", dir);
	unlink(path);
	rmdir(dir);
	return rc;
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
