/* Scenario parsing: good files load completely, every bad input names file:line and what. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "../harness.h"
#include "dvmq/scenario.h"

static const char *good =
	"# a comment\n"
	"[host]\n"
	"processors = 4   # inline comment\n"
	"numa_nodes = 2\n"
	"queue_pool = 8\n"
	"interval = 100ms\n"
	"tick = 1ms\n"
	"duration = 10s\n"
	"exclude = 3\n"
	"[engine]\n"
	"high = 85%\n"
	"[vm web]\n"
	"mac = 02:00:00:00:00:01\n"
	"vlan = 10\n"
	"weight = 50\n"
	"cost = 800ns\n"
	"frame = 1500B\n"
	"flows = 16\n"
	"load = steps 0s:100kpps 5s:400kpps\n"
	"load = burst on=50kpps period=1s duty=20%\n"
	"[vm small]\n"
	"count = 3\n"
	"mac = 02:00:00:00:01:00\n"
	"load = sine mean=20kpps amp=10kpps period=4s\n"
	"arrive = 2s\n"
	"leave = 8s\n"
	"[cpu 0-1]\n"
	"load = ramp 0s:0% 10s:40%\n";

static int load(const char *text, struct dvmq_scenario **s, struct dvmq_diag *d)
{
	return dvmq_scenario_load_text("t.ini", text, NULL, s, d);
}

TEST(scenario_good_file_loads)
{
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	int rc = load(good, &s, &d);
	CHECK_MSG(rc == 0, "%s", d.msg);
	CHECK(s->host.n_processors == 4 && s->host.numa_nodes == 2 && s->host.queue_pool == 8);
	CHECK(s->host.n_excluded == 1 && s->host.excluded[0] == 3);
	CHECK(s->params.high > 0.849 && s->params.high < 0.851);
	CHECK(s->n_vms == 4);
	CHECK(strcmp(s->vms[1].name, "small-0") == 0 && strcmp(s->vms[3].name, "small-2") == 0);
	CHECK(s->vms[3].adapter.mac[5] == 2); /* instances count up from the group's MAC */
	CHECK(s->vms[0].adapter.vlan == 10 && s->vms[0].adapter.weight == 50);
	CHECK(s->vms[0].cost_ns == 800.0 && s->vms[0].frame_bytes == 1500 && s->vms[0].flows == 16);
	CHECK(dvmq_load_at(&s->vms[0].load, 1000000000ull) == 150000.0); /* 100k + burst on */
	CHECK(dvmq_load_at(&s->vms[0].load, 6500000000ull) == 400000.0); /* burst off */
	CHECK(s->vms[1].arrive_ns == 2000000000ull && s->vms[1].leave_ns == 8000000000ull);
	double cpu = dvmq_load_at(&s->cpu_load[1], 5000000000ull);
	CHECK(cpu > 0.199 && cpu < 0.201);
	CHECK(s->cpu_load[2].n_terms == 0);
	dvmq_scenario_free(s);
}

struct bad_case {
	const char *name, *text, *want;
};

#define HOST "[host]\nprocessors = 2\n"
#define VM "[vm a]\nmac = 02:00:00:00:00:01\nload = 1kpps\n"

static const struct bad_case bad[] = {
	{ "unknown key", HOST "colour = blue\n" VM, "t.ini:3: unknown key 'colour'" },
	{ "unknown section", HOST "[disk]\n" VM, "t.ini:3: unknown section [disk]" },
	{ "bad unit", HOST "interval = 10 parsecs\n" VM, "t.ini:3: bad interval" },
	{ "time without unit", HOST "interval = 10\n" VM, "t.ini:3: bad interval" },
	{ "duration not a time", HOST "duration = 10 parsecs\n" VM, "t.ini:3: bad duration '10 parsecs' (want a time such as 60s" },
	{ "negative rate", HOST "[vm a]\nload = -5kpps\n", "t.ini:4: load: negative rate" },
	{ "negative step rate", HOST "[vm a]\nload = steps 0s:1kpps 1s:-1kpps\n", "t.ini:4: load: negative rate" },
	{ "malformed mac", HOST "[vm a]\nmac = 02:00:00:00:01\nload = 1kpps\n", "t.ini:4: malformed MAC" },
	{ "multicast mac", HOST "[vm a]\nmac = 01:00:5e:00:00:01\nload = 1kpps\n", "t.ini:4: MAC '01:00:5e:00:00:01' is multicast" },
	{ "duplicate mac", HOST VM "[vm b]\nmac = 02:00:00:00:00:01\nload = 1kpps\n", "t.ini:7: duplicate MAC+VLAN" },
	{ "weight 101", HOST "[vm a]\nweight = 101\nload = 1kpps\n", "t.ini:4: weight 101 is out of range 0..100" },
	{ "empty host", "[host]\n" VM, "t.ini:1: empty host" },
	{ "no host", VM, "t.ini:1: no [host] section" },
	{ "zero processors", "[host]\nprocessors = 0\n" VM, "t.ini:2: processors 0 is out of range" },
	{ "base outside host", HOST "base_processor = 2\n" VM, "t.ini:3: processor set outside the host" },
	{ "exclude outside host", HOST "exclude = 0,5\n" VM, "t.ini:3: processor set outside the host" },
	{ "numa node outside host", HOST "numa_node = 1\n" VM, "t.ini:3: processor set outside the host" },
	{ "cpu outside host", HOST VM "[cpu 7]\nload = 10%\n", "t.ini:6: [cpu] names processor 7" },
	{ "no vms", HOST, "t.ini:1: no VM adapters" },
	{ "vm without load", HOST "[vm a]\nmac = 02:00:00:00:00:01\n", "t.ini:3: vm a has no load" },
	{ "duplicate vm name", HOST VM "[vm a]\nload = 1kpps\n", "t.ini:6: duplicate VM name 'a'" },
	{ "leave before arrive", HOST "[vm a]\nload = 1kpps\narrive = 5s\nleave = 1s\n", "t.ini:3: vm a leaves before it arrives" },
	{ "syntax", HOST "this is not ini\n" VM, "t.ini:3: syntax error" },
	{ "key before section", "processors = 2\n" HOST VM, "t.ini:1: key 'processors' outside a section" },
	{ "unknown formula", HOST "[vm a]\nload = zigzag 1kpps\n", "t.ini:4: load: unknown load formula 'zigzag'" },
	{ "sine without period", HOST "[vm a]\nload = sine mean=1kpps amp=1kpps\n", "t.ini:4: load: sine needs" },
	{ "steps out of order", HOST "[vm a]\nload = steps 2s:1kpps 1s:2kpps\n", "t.ini:4: load: point times must increase" },
	{ "unknown engine param", HOST "[engine]\nagility = 5\n" VM, "t.ini:4: unknown engine parameter 'agility'" },
	{ "bad engine value", HOST "[engine]\nhigh = 120%\n" VM, "t.ini:4: bad value '120%' for engine parameter 'high'" },
	{ "vlan 4095", HOST "[vm a]\nvlan = 4095\nload = 1kpps\n", "t.ini:4: vlan 4095 is out of range" },
	{ "second host", HOST "[host]\n" VM, "t.ini:3: second [host] section" },
	{ "tick longer than interval", HOST "interval = 1ms\ntick = 10ms\n" VM, "t.ini:1: tick" },
	{ "trace file missing", HOST "[trace]\nfile = nope.csv\n", "t.ini:4: cannot open trace nope.csv" },
	{ "frame too small", HOST "[vm a]\nframe = 10B\nload = 1kpps\n", "t.ini:4: bad frame '10B'" },
	{ "section without ]", HOST "[vm a\nload = 1kpps\n", "t.ini:3: section header without a closing ']'" },
	{ "cpu list twice", HOST VM "[cpu 0-1,1]\nload = 10%\n", "t.ini:6: [cpu 0-1,1] lists processor 1 twice" },
	{ "cpu list malformed", HOST VM "[cpu 0-]\nload = 10%\n", "t.ini:6: [cpu LIST] needs processor ids" },
	{ "cpu list outside host", HOST VM "[cpu 0,1,2]\nload = 10%\n", "t.ini:6: [cpu] names processor 2, host has 2" },
	{ "count into multicast", HOST "[vm a]\nmac = 02:ff:ff:ff:ff:fe\ncount = 3\nload = 1kpps\n",
	  "t.ini:5: vm a: count 3 from MAC 02:ff:ff:ff:ff:fe runs into 03:00:00:00:00:00, a multicast address" },
	{ "count past ff", HOST "[vm a]\nmac = fe:ff:ff:ff:ff:ff\ncount = 2\nload = 1kpps\n",
	  "t.ini:5: vm a: count 2 from MAC fe:ff:ff:ff:ff:ff runs into ff:00:00:00:00:00, a multicast address" },
	{ "count over the cap", HOST "[vm a]\ncount = 65537\nload = 1kpps\n", "t.ini:4: count 65537 is out of range 1..65536" },
	{ "groups over the cap", HOST "[vm a]\ncount = 40000\nload = 1kpps\n[vm b]\nmac = 02:00:01:00:00:00\n"
	  "count = 30000\nload = 1kpps\n", "t.ini:8: vm b brings the scenario to 70000 VMs, more than 65536" },
	{ "duplicate inside a range", HOST "[vm a]\nmac = 02:00:00:00:10:00\ncount = 20\nload = 1kpps\n"
	  "[vm b]\nmac = 02:00:00:00:10:13\nload = 1kpps\n", "t.ini:8: duplicate MAC+VLAN: vm b has the address of vm a-19" },
	{ "trace weight", HOST "[trace]\nfile = x.csv\nweight = 101\n", "t.ini:5: weight 101 is out of range 0..100" },
	{ "trace vlan", HOST "[trace]\nfile = x.csv\nvlan = 5000\n", "t.ini:5: vlan 5000 is out of range 0..4094" },
};

TEST(scenario_bad_inputs_name_file_line_and_what)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dvmq_scenario *s = NULL;
		struct dvmq_diag d = { { 0 } };
		int rc = load(bad[i].text, &s, &d);
		CHECK_MSG(rc == -EINVAL, "%s: rc %d", bad[i].name, rc);
		CHECK_MSG(s == NULL, "%s: partial scenario returned", bad[i].name);
		CHECK_MSG(strncmp(d.msg, bad[i].want, strlen(bad[i].want)) == 0, "%s: got '%s', want '%s...'",
			  bad[i].name, d.msg, bad[i].want);
	}
}

TEST(scenario_load_line_of_any_length)
{
	/* 100 points on one line each: steps and ramp (each line is over 1,500 characters) */
	char text[8192];
	int n = snprintf(text, sizeof(text), "[host]\nprocessors = 2\n[vm a]\nload = steps");
	for (int i = 0; i < 100; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, " %ds:%dkpps", i, 10 * i + 1);
	n += snprintf(text + n, sizeof(text) - (size_t)n, "\n[cpu 1]\nload = ramp");
	for (int i = 0; i < 100; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, " %ds:%d%%", i, i % 50);
	snprintf(text + n, sizeof(text) - (size_t)n, "\n");
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(load(text, &s, &d) == 0, "%s", d.msg);
	bool ok = s->vms[0].load.terms[0].n_points == 100 && s->cpu_load[1].terms[0].n_points == 100 &&
		  dvmq_load_at(&s->vms[0].load, 99500000000ull) == 991000.0 &&
		  dvmq_load_at(&s->cpu_load[1], 10500000000ull) > 0.104 && dvmq_load_at(&s->cpu_load[1], 10500000000ull) < 0.106;
	dvmq_scenario_free(s);
	CHECK(ok);
}

TEST(scenario_cpu_list)
{
	/* [cpu 1-2,5] loads processors 1, 2 and 5, and only those; two sections add up */
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(load("[host]\nprocessors = 8\n" VM "[cpu 1-2,5]\nload = 30%\n[cpu 5 , 7]\nload = 10%\n", &s, &d) == 0,
		  "%s", d.msg);
	double want[8] = { 0, 0.3, 0.3, 0, 0, 0.4, 0, 0.1 };
	bool ok = true;
	for (int p = 0; p < 8; p++)
		ok &= dvmq_load_at(&s->cpu_load[p], 0) > want[p] - 1e-9 && dvmq_load_at(&s->cpu_load[p], 0) < want[p] + 1e-9;
	dvmq_scenario_free(s);
	CHECK(ok);
}

TEST(scenario_large_groups_load_and_check_every_address)
{
	/* 65536 VMs (the cap) in two groups: every MAC counted up, no duplicate; one more VM with
	 * the address of the last instance is found */
	const char *base = "[host]\nprocessors = 64\nqueue_pool = 4096\n"
			   "[vm a]\nmac = 02:00:00:01:00:00\ncount = 65535\nload = 1kpps\n";
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	char text[512];
	snprintf(text, sizeof(text), "%s[vm b]\nmac = 02:00:00:02:00:00\nload = 1kpps\n", base);
	CHECK_MSG(load(text, &s, &d) == 0, "%s", d.msg);
	bool ok = s->n_vms == 65536 && s->vms[65534].adapter.mac[3] == 1 && s->vms[65534].adapter.mac[4] == 0xff &&
		  s->vms[65534].adapter.mac[5] == 0xfe;
	dvmq_scenario_free(s);
	CHECK(ok);
	snprintf(text, sizeof(text), "%s[vm b]\nmac = 02:00:00:01:ff:fe\nload = 1kpps\n", base);
	CHECK(load(text, &s, &d) == -EINVAL);
	CHECK_MSG(strcmp(d.msg, "t.ini:9: duplicate MAC+VLAN: vm b has the address of vm a-65534") == 0, "%s", d.msg);
	/* the same address on another VLAN is another filter */
	snprintf(text, sizeof(text), "%s[vm b]\nmac = 02:00:00:01:ff:fe\nvlan = 7\nload = 1kpps\n", base);
	CHECK_MSG(load(text, &s, &d) == 0, "%s", d.msg);
	dvmq_scenario_free(s);
}

TEST(scenario_missing_file)
{
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK(dvmq_scenario_load("/nonexistent/x.ini", &s, &d) == -ENOENT);
	CHECK(strstr(d.msg, "cannot open") != NULL);
}
