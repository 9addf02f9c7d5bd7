/* Step 2 of a config: against a machine described by hand (CPUs, NUMA nodes, capabilities,
 * interfaces), each problem with its exact message, notes for what does not stop it, and the
 * CPUs it resolves to. One test probes this machine for real. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "config_fixture.h"
#include "dvmq/config.h"

#define UP "[uplink]\nport = afpacket\ndevice = eth0\n"

struct notes {
	int n;
	char last[DVMQ_DIAG_MAX];
	char all[4 * DVMQ_DIAG_MAX];
};

static void on_note(void *ctx, const char *line)
{
	struct notes *n = ctx;
	n->n++;
	snprintf(n->last, sizeof(n->last), "%s", line);
	size_t off = strlen(n->all);
	snprintf(n->all + off, sizeof(n->all) - off, "%s\n", line);
}

/* Loads text and checks it against m: the return code of the machine step (the load must pass). */
static int check_on(const char *text, const struct dvmq_machine *m, struct dvmq_config_cpus *cpus,
		    struct notes *notes, struct dvmq_diag *d)
{
	struct dvmq_config *c = NULL;
	int rc = cfgt_load(text, &c, d);
	if (rc)
		return 1000 + rc;
	rc = dvmq_config_check_machine(c, m, cpus, notes ? on_note : NULL, notes, d);
	dvmq_config_free(c);
	return rc;
}

struct bad_case {
	const char *text, *want;
};

TEST(config_machine_refuses_cpus_nodes_and_sets_it_does_not_have)
{
	/* CPUs 0-3 on two nodes (0-1 on node 0, 2-3 on node 1), this process allowed on 0-2 */
	struct dvmq_machine *m = cfgt_machine(4, 2);
	CHECK(m);
	m->allowed[0] &= ~(1ull << 3);
	static const struct bad_case cases[] = {
		{ "[host]\ncpus = 0-5\n" UP, "t.conf:2: cpus names CPU 4, which this machine does not have (online: 0-3)" },
		{ "[host]\ncpus = 1,3\n" UP, "t.conf:2: cpus names CPU 3, which this process may not run on (allowed: 0-2; "
					     "see taskset, the cgroup's cpuset or the unit's CPUAffinity=)" },
		{ "[host]\nprocessors = 4\n" UP, "t.conf:2: processors 4, but this machine lets dvmq use 3 CPUs (0-2)" },
		{ "[host]\nexclude = 7\n" UP, "t.conf:2: exclude names CPU 7, which this machine does not have (online: "
					      "0-3)" },
		{ "[host]\nbase_processor = 9\n" UP, "t.conf:2: base_processor 9 is not a CPU of this machine (online: "
						     "0-3)" },
		{ "[host]\nnuma_node = 2\n" UP, "t.conf:2: numa_node 2 does not exist on this machine (nodes: 0,1)" },
		{ "[host]\ncpus = 0-1\nnuma_node = 1\n" UP, "t.conf:3: numa_node 1 holds none of the CPUs in use (0-1)" },
		{ "[host]\nnuma_node = 1\nexclude = 2\n" UP, "t.conf:3: the processor set is empty: base_processor, "
							     "exclude and numa_node leave none of the CPUs in use (0-2)" },
		{ "[host]\nbase_processor = 3\n" UP, "t.conf:2: the processor set is empty: base_processor, exclude and "
						     "numa_node leave none of the CPUs in use (0-2)" },
		{ "[uplink]\nport = pcap\nfile = nope.pcap\n", NULL /* filled below: the directory is the test's */ },
	};
	char pcap_want[DVMQ_DIAG_MAX];
	snprintf(pcap_want, sizeof(pcap_want), "t.conf:3: capture '%s/nope.pcap' cannot be read: No such file or directory",
		 cfgt_dir());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *want = cases[i].want ? cases[i].want : pcap_want;
		struct dvmq_diag d = { { 0 } };
		struct dvmq_config_cpus cpus = { 0, (uint32_t *)0x1, 0 };
		int rc = check_on(cases[i].text, m, &cpus, NULL, &d);
		CHECK_MSG(rc == -EINVAL, "case %zu: rc %d (%s)", i, rc, d.msg);
		CHECK_MSG(cpus.ids == (uint32_t *)0x1, "case %zu: cpus filled on error", i);
		CHECK_MSG(strcmp(d.msg, want) == 0, "case %zu:\n     got '%s'\n    want '%s'", i, d.msg, want);
	}
	free(m);
}

TEST(config_machine_resolves_the_cpus_in_use)
{
	struct dvmq_machine *m = cfgt_machine(8, 2);
	CHECK(m);
	struct dvmq_diag d = { { 0 } };
	struct dvmq_config_cpus cpus = { 0 };
	/* all: every allowed online CPU, in order */
	CHECK_MSG(check_on(UP, m, &cpus, NULL, &d) == 0, "%s", d.msg);
	CHECK(cpus.n == 8 && cpus.wanted == 8 && cpus.ids[0] == 0 && cpus.ids[7] == 7);
	dvmq_config_cpus_free(&cpus);
	/* the first `processors` of a list; a set within one node */
	CHECK_MSG(check_on("[host]\ncpus = 2,5-7\nprocessors = 3\nnuma_node = 1\n" UP, m, &cpus, NULL, &d) == 0, "%s",
		  d.msg);
	CHECK(cpus.n == 3 && cpus.ids[0] == 2 && cpus.ids[1] == 5 && cpus.ids[2] == 6);
	dvmq_config_cpus_free(&cpus);
	/* a CPU this process may not use is left out of `all` */
	m->allowed[0] &= ~(1ull << 0);
	CHECK(check_on(UP, m, &cpus, NULL, &d) == 0 && cpus.n == 7 && cpus.ids[0] == 1);
	dvmq_config_cpus_free(&cpus);
	/* and no CPU at all is an error */
	m->allowed[0] = 0;
	CHECK(check_on(UP, m, &cpus, NULL, &d) == -EINVAL);
	CHECK_MSG(strcmp(d.msg, "t.conf:1: cpus = all, but this process may run on no online CPU (allowed: none, "
				"online: 0-7)") == 0, "%s", d.msg);
	free(m);
}

TEST(config_machine_caps_a_scenario_host_with_a_note)
{
	CHECK(cfgt_write("scen.ini", cfgt_scenario)); /* 4 processors */
	struct dvmq_machine *m = cfgt_machine(2, 1);
	CHECK(m);
	struct dvmq_diag d = { { 0 } };
	struct dvmq_config_cpus cpus = { 0 };
	struct notes n = { 0 };
	const char *lab = "[uplink]\nport = gen\nscenario = scen.ini\n";
	CHECK_MSG(check_on(lab, m, &cpus, &n, &d) == 0, "%s", d.msg);
	CHECK(cpus.n == 2 && cpus.wanted == 4);
	CHECK_MSG(n.n == 1 && strcmp(n.last, "t.conf: note: the scenario's host has 4 processors, this machine gives 2: "
					     "using 2 (the generator scales the scenario's loads by 0.500)") == 0,
		  "%s", n.all);
	dvmq_config_cpus_free(&cpus);
	/* the same count written in the file is held to it */
	CHECK(check_on("[host]\nprocessors = 4\n[uplink]\nport = gen\nscenario = scen.ini\n", m, &cpus, NULL, &d) == -EINVAL);
	CHECK_MSG(strcmp(d.msg, "t.conf:2: processors 4, but this machine lets dvmq use 2 CPUs (0-1)") == 0, "%s", d.msg);
	free(m);
}

TEST(config_machine_bounds_workers_to_the_data_plane)
{
	struct dvmq_machine *m = cfgt_machine(300, 1);
	CHECK(m);
	struct dvmq_diag d = { { 0 } };
	struct dvmq_config_cpus cpus = { 0 };
	CHECK(check_on("[host]\ncpus = 0-299\n" UP, m, &cpus, NULL, &d) == -EINVAL);
	CHECK_MSG(strcmp(d.msg, "t.conf:2: 300 processors, but the data plane runs at most 256 workers (set processors "
				"= 256 or fewer)") == 0, "%s", d.msg);
	CHECK_MSG(check_on("[host]\ncpus = 0-299\nprocessors = 256\n" UP, m, &cpus, NULL, &d) == 0, "%s", d.msg);
	CHECK(cpus.n == 256);
	dvmq_config_cpus_free(&cpus);
	free(m);
}

TEST(config_machine_notes_devices_and_capabilities)
{
	struct dvmq_machine *m = cfgt_machine(2, 1);
	CHECK(m);
	snprintf(m->netdevs[m->n_netdevs++], DVMQ_IFNAME_MAX, "tap-old");
	struct dvmq_diag d = { { 0 } };
	struct notes n = { 0 };
	const char *text = "[uplink]\nport = afxdp\ndevice = eth9\n"
			   "[vm a]\nmac = 52:54:00:00:00:01\nport = afpacket\ndevice = vnet7\n"
			   "[vm b]\nmac = 52:54:00:00:00:02\nport = tap\ndevice = tap-old\n"
			   "[vm c]\nmac = 52:54:00:00:00:03\nport = afpacket\ndevice = eth0\n";
	CHECK_MSG(check_on(text, m, NULL, &n, &d) == 0, "%s", d.msg);
	CHECK_MSG(n.n == 4 && strcmp(n.all,
				     "t.conf:3: note: device eth9 does not exist now (the uplink opens it when dvmq starts)\n"
				     "t.conf:7: note: vm a: device vnet7 does not exist now: the VM stays detached until it "
				     "appears (a libvirt VM that is not running), then dvmq attaches it\n"
				     "t.conf:11: note: vm b: device tap-old exists already: dvmq creates its TAP devices (a "
				     "persistent TAP is attached, another device refused)\n"
				     "t.conf: note: running this host needs CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF, which this "
				     "process lacks (--check needs none; the systemd unit grants them)\n") == 0,
		  "%s", n.all);
	/* holding them: no capability note; a low metrics port needs one more */
	m->cap_effective = 1ull << CAP_NET_ADMIN | 1ull << CAP_NET_RAW | 1ull << CAP_BPF;
	memset(&n, 0, sizeof(n));
	CHECK(check_on(text, m, NULL, &n, &d) == 0 && n.n == 3 && !strstr(n.all, "lacks"));
	memset(&n, 0, sizeof(n));
	CHECK(check_on(UP "[control]\nmetrics = 0.0.0.0:80\n", m, NULL, &n, &d) == 0);
	CHECK_MSG(n.n == 1 && strcmp(n.last, "t.conf: note: running this host needs CAP_NET_BIND_SERVICE, which this "
					     "process lacks (--check needs none; the systemd unit grants them)") == 0,
		  "%s", n.all);
	/* interfaces unknown: no device notes at all */
	m->netdevs_known = false;
	memset(&n, 0, sizeof(n));
	CHECK(check_on(text, m, NULL, &n, &d) == 0 && n.n == 0);
	free(m);
}

TEST(config_capabilities_follow_the_ports)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK(cfgt_write("scen.ini", cfgt_scenario));
	CHECK_MSG(cfgt_load("[uplink]\nport = gen\nscenario = scen.ini\n[control]\nmetrics = off\n", &c, &d) == 0, "%s",
		  d.msg);
	CHECK(dvmq_config_capabilities(c) == 0);
	dvmq_config_free(c);
	CHECK(cfgt_load(UP, &c, &d) == 0);
	CHECK(dvmq_config_capabilities(c) == 1ull << CAP_NET_RAW);
	dvmq_config_free(c);
	CHECK(cfgt_load(UP "[vm a]\nmac = 52:54:00:00:00:01\nport = tap\ndevice = t\n", &c, &d) == 0);
	CHECK(dvmq_config_capabilities(c) == (1ull << CAP_NET_RAW | 1ull << CAP_NET_ADMIN));
	CHECK(strcmp(dvmq_config_capability_name(CAP_NET_ADMIN), "CAP_NET_ADMIN") == 0);
	dvmq_config_free(c);
}

/* This machine as probed: whatever it is, the probe's CPUs are consistent and the loopback
 * interface is listed (tests run where `lo` exists, in any network namespace). */
TEST(config_machine_probe_reads_this_machine)
{
	struct dvmq_machine *m = malloc(sizeof(*m));
	CHECK(m);
	CHECK(dvmq_machine_probe(m) == 0);
	uint32_t allowed = 0;
	bool subset = true;
	for (uint32_t c = 0; c < DVMQ_MAX_PROCESSORS; c++) {
		bool a = m->allowed[c / 64] >> (c % 64) & 1, o = m->online[c / 64] >> (c % 64) & 1;
		allowed += a;
		subset = subset && (!a || o);
		if (o && m->node[c] < 0)
			subset = false; /* every online CPU has a node (node 0 without NUMA) */
	}
	CHECK(allowed >= 1 && subset && (m->nodes & 1));
	bool lo = false;
	for (uint32_t i = 0; i < m->n_netdevs; i++)
		lo = lo || strcmp(m->netdevs[i], "lo") == 0;
	CHECK(m->netdevs_known && lo);
	/* and the default config passes on it */
	struct dvmq_diag d = { { 0 } };
	struct dvmq_config_cpus cpus = { 0 };
	CHECK_MSG(check_on(UP, m, &cpus, NULL, &d) == 0, "%s", d.msg);
	CHECK(cpus.n == allowed || cpus.n == 256);
	dvmq_config_cpus_free(&cpus);
	free(m);
}

/* The engine has the last word on a host: a config changed after loading (as a daemon may do
 * with dvmqctl's changes) that the engine refuses is refused here, not at start. */
TEST(config_machine_asks_the_engine)
{
	struct dvmq_machine *m = cfgt_machine(2, 1);
	CHECK(m);
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK(cfgt_load(UP, &c, &d) == 0);
	CHECK(dvmq_config_check_machine(c, m, NULL, NULL, NULL, &d) == 0);
	c->params.low = c->params.high; /* low must stay below high */
	CHECK(dvmq_config_check_machine(c, m, NULL, NULL, NULL, &d) == -EINVAL);
	CHECK_MSG(strcmp(d.msg, "t.conf:1: the engine refuses this host (2 processors, queue_pool 64, policy adaptive): "
				"low must be at least 0 and below high") == 0,
		  "%s", d.msg);
	dvmq_config_free(c);
	free(m);
}

/* A gen scenario's processors against a `cpus` list the file gives: fitted, as to a machine. */
TEST(config_scenario_processors_fit_a_cpu_list)
{
	CHECK(cfgt_write("scen.ini", cfgt_scenario)); /* 4 processors */
	struct dvmq_machine *m = cfgt_machine(8, 1);
	CHECK(m);
	struct dvmq_diag d = { { 0 } };
	struct dvmq_config_cpus cpus = { 0 };
	struct notes n = { 0 };
	CHECK_MSG(check_on("[host]\ncpus = 5-6\n[uplink]\nport = gen\nscenario = scen.ini\n", m, &cpus, &n, &d) == 0, "%s",
		  d.msg);
	CHECK(cpus.n == 2 && cpus.ids[0] == 5 && cpus.wanted == 4 && n.n == 1);
	dvmq_config_cpus_free(&cpus);
	free(m);
}
