/* The host configuration file (include/dvmq/config.h): a good file loads whole, defaults and
 * the gen scenario fill what it leaves out, and every bad input is refused with its exact
 * "file:line: message" and nothing half-loaded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "config_fixture.h"
#include "dvmq/config.h"
#include "dvmq/port.h"

static const char *good =
	"# a host\n"
	"[host]\n"
	"cpus = 0-3,8   # a list\n"
	"processors = 4\n"
	"base_processor = 1\n"
	"max_processors = 3\n"
	"numa_node = 0\n"
	"exclude = 2\n"
	"queue_pool = 16\n"
	"queue_depth = 1024\n"
	"mtu = 9000\n"
	"interval = 250ms\n"
	"[engine]\n"
	"policy = dynamic\n"
	"high = 85%\n"
	"[uplink]\n"
	"port = afxdp\n"
	"device = eth0\n"
	"fallback = none\n"
	"xdp_mode = generic\n"
	"rx = ring\n"
	"ring = 8MiB\n"
	"[vm web]\n"
	"mac = 52:54:00:12:34:01\n"
	"vlan = 10\n"
	"weight = 50\n"
	"port = tap\n"
	"device = web-tap\n"
	"offload = yes\n"
	"[vm db]\n"
	"mac = 52:54:00:12:34:01\n" /* the same MAC on another VLAN is another adapter */
	"port = afpacket\n"
	"device = vnet3\n"
	"[vm probe]\n"
	"mac = 02:00:00:00:00:09\n"
	"port = sink\n"
	"[control]\n"
	"socket = /tmp/x/dvmq.sock\n"
	"metrics = [::1]:9100\n"
	"log_level = debug\n";

TEST(config_good_file_loads_every_key)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	int rc = cfgt_load(good, &c, &d);
	CHECK_MSG(rc == 0, "%s", d.msg);
	const struct dvmq_config_host *h = &c->host;
	CHECK(!h->all_cpus && h->n_cpus == 5 && h->cpus[3] == 3 && h->cpus[4] == 8);
	CHECK(h->processors == 4 && h->has_base && h->base_processor == 1 && h->max_processors == 3);
	CHECK(h->numa_node == 0 && h->n_excluded == 1 && h->excluded[0] == 2);
	CHECK(h->queue_pool == 16 && h->queue_depth == 1024 && h->mtu == 9000 && h->interval_ns == 250000000ull);
	CHECK(h->line_cpus == 3 && h->line_exclude == 8 && h->line == 2);
	CHECK(c->params.policy == DVMQ_POLICY_DYNAMIC && c->params.high == 0.85);
	const struct dvmq_config_uplink *u = &c->uplink;
	CHECK(u->port == DVMQ_CONFIG_PORT_AFXDP && strcmp(u->device, "eth0") == 0 && !u->fallback);
	CHECK(u->xdp_mode == DVMQ_CONFIG_XDP_GENERIC && u->rx == DVMQ_CONFIG_RX_RING && u->ring_kib == 8192);
	CHECK(c->n_vms == 3);
	const struct dvmq_config_vm *web = &c->vms[0], *db = &c->vms[1], *probe = &c->vms[2];
	CHECK(strcmp(web->name, "web") == 0 && web->adapter.mac[5] == 1 && web->adapter.vlan == 10);
	CHECK(web->adapter.weight == 50 && web->port == DVMQ_CONFIG_PORT_TAP && strcmp(web->device, "web-tap") == 0);
	CHECK(web->offload && web->scenario_vm == -1 && web->line == 23 && web->line_mac == 24);
	CHECK(db->adapter.vlan == 0 && db->adapter.weight == 100 && db->port == DVMQ_CONFIG_PORT_AFPACKET);
	CHECK(probe->port == DVMQ_CONFIG_PORT_SINK && probe->device[0] == '\0');
	CHECK(strcmp(c->control.socket, "/tmp/x/dvmq.sock") == 0 && c->control.metrics);
	CHECK(strcmp(c->control.metrics_address, "::1") == 0 && c->control.metrics_port == 9100);
	CHECK(c->control.log_level == DVMQ_CONFIG_LOG_DEBUG);
	char m[80];
	dvmq_config_metrics_format(&c->control, m, sizeof(m));
	CHECK(strcmp(m, "[::1]:9100") == 0);
	dvmq_config_free(c);
}

TEST(config_defaults_fill_what_the_file_leaves_out)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(cfgt_load("[uplink]\nport = afpacket\ndevice = eth0\n", &c, &d) == 0, "%s", d.msg);
	const struct dvmq_config_host *h = &c->host;
	CHECK(h->all_cpus && h->processors == 0 && !h->has_base && h->max_processors == 0 && h->numa_node == -1);
	CHECK(h->n_excluded == 0 && h->queue_pool == 64 && h->queue_depth == 4096 && h->mtu == 1500);
	CHECK(h->interval_ns == 100000000ull && h->set == 0);
	struct dvmq_engine_params p;
	dvmq_engine_params_default(&p);
	CHECK(c->params.policy == p.policy && c->params.high == p.high && c->params.dwell_ns == p.dwell_ns);
	CHECK(c->uplink.rx == DVMQ_CONFIG_RX_COPY && c->uplink.ring_kib == 0 && c->n_vms == 0);
	CHECK(strcmp(c->control.socket, "/run/dvmq/dvmq.sock") == 0 && c->control.metrics);
	CHECK(strcmp(c->control.metrics_address, "127.0.0.1") == 0 && c->control.metrics_port == 9911);
	CHECK(c->control.log_level == DVMQ_CONFIG_LOG_INFO && !c->from_scenario);
	dvmq_config_free(c);
	/* afxdp falls back by default; metrics can be switched off */
	CHECK(cfgt_load("[uplink]\nport = afxdp\ndevice = eth0\n[control]\nmetrics = off\n", &c, &d) == 0);
	CHECK(c->uplink.fallback && c->uplink.xdp_mode == DVMQ_CONFIG_XDP_AUTO && !c->control.metrics);
	dvmq_config_free(c);
}

TEST(config_gen_scenario_gives_host_engine_and_vms_the_file_overrides)
{
	CHECK(cfgt_write("scen.ini", cfgt_scenario));
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	int rc = cfgt_load("[uplink]\nport = gen\nscenario = scen.ini\n"
			   "[host]\nqueue_pool = 4\n"
			   "[engine]\nlow = 10%\n"
			   "[vm b]\nweight = 7\nport = tap\ndevice = tb\n"
			   "[vm extra]\nmac = 02:00:00:00:00:0c\nport = sink\n",
			   &c, &d);
	CHECK_MSG(rc == 0, "%s", d.msg);
	CHECK(c->uplink.scenario && c->uplink.scenario->n_vms == 2 && c->uplink.scenario_vms);
	CHECK(strstr(c->uplink.path, "/scen.ini") && c->uplink.path[0] == '/' && c->uplink.scenario_hash != 0);
	/* [host]: the scenario's, except what the file says */
	CHECK(c->host.processors == 4 && c->host.queue_pool == 4 && c->host.interval_ns == 100000000ull);
	CHECK(c->host.set == DVMQ_CONFIG_HOST_POOL);
	/* [engine]: the scenario's high, the file's low */
	CHECK(c->params.high == 0.8 && c->params.low == 0.1);
	CHECK(c->n_vms == 3);
	CHECK(strcmp(c->vms[0].name, "a") == 0 && c->vms[0].port == DVMQ_CONFIG_PORT_SINK && c->vms[0].scenario_vm == 0);
	CHECK(c->vms[0].line == 0 && c->vms[0].adapter.weight == 100 && c->vms[0].adapter.mac[5] == 0x0a);
	/* b keeps the scenario's address and takes the section's weight and port */
	CHECK(strcmp(c->vms[1].name, "b") == 0 && c->vms[1].scenario_vm == 1 && c->vms[1].adapter.vlan == 5);
	CHECK(c->vms[1].adapter.weight == 7 && c->vms[1].port == DVMQ_CONFIG_PORT_TAP && c->vms[1].line == 8);
	CHECK(strcmp(c->vms[2].name, "extra") == 0 && c->vms[2].scenario_vm == -1);
	dvmq_config_free(c);
	/* scenario_vms = no: only the file's VMs, and a scenario name is just a name */
	rc = cfgt_load("[uplink]\nport = gen\nscenario = scen.ini\nscenario_vms = no\n"
		       "[vm a]\nmac = 02:00:00:00:00:99\nport = sink\n", &c, &d);
	CHECK_MSG(rc == 0, "%s", d.msg);
	CHECK(c->n_vms == 1 && c->vms[0].scenario_vm == -1 && c->vms[0].adapter.mac[5] == 0x99);
	dvmq_config_free(c);
}

TEST(config_load_file_resolves_paths_from_its_directory)
{
	CHECK(cfgt_write("scen.ini", cfgt_scenario));
	const char *p = cfgt_write("host.conf", "[uplink]\nport = gen\nscenario = scen.ini\n");
	CHECK(p);
	char path[256];
	snprintf(path, sizeof(path), "%s", p);
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(dvmq_config_load(path, &c, &d) == 0, "%s", d.msg);
	CHECK(strcmp(c->path, path) == 0 && c->n_vms == 2);
	dvmq_config_free(c);
	/* a file that is not there, and one that is not text */
	snprintf(path, sizeof(path), "%s/nope.conf", cfgt_dir());
	c = NULL;
	CHECK(dvmq_config_load(path, &c, &d) == -ENOENT && c == NULL);
	char want[512];
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	CHECK_MSG(strcmp(d.msg, want) == 0, "got '%s'", d.msg);
	p = cfgt_write("nul.conf", "[uplink]\n");
	FILE *f = fopen(p, "a");
	CHECK(f);
	fputc(0, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s", p);
	CHECK(dvmq_config_load(path, &c, &d) == -EINVAL && c == NULL);
	snprintf(want, sizeof(want), "%s:1: file contains a NUL byte (not a text file)", path);
	CHECK_MSG(strcmp(d.msg, want) == 0, "got '%s'", d.msg);
}

TEST(config_port_words_and_interface_names)
{
	enum dvmq_config_port p;
	char dev[DVMQ_IFNAME_MAX], err[160];
	CHECK(dvmq_config_vm_port_parse("tap:vm1", &p, dev, err, sizeof(err)) == 0);
	CHECK(p == DVMQ_CONFIG_PORT_TAP && strcmp(dev, "vm1") == 0);
	CHECK(dvmq_config_vm_port_parse("afpacket:vnet3", &p, dev, err, sizeof(err)) == 0);
	CHECK(p == DVMQ_CONFIG_PORT_AFPACKET && strcmp(dev, "vnet3") == 0);
	CHECK(dvmq_config_vm_port_parse("sink", &p, dev, err, sizeof(err)) == 0 && p == DVMQ_CONFIG_PORT_SINK && !dev[0]);
	CHECK(dvmq_config_vm_port_parse("afxdp:eth0", &p, dev, err, sizeof(err)) == -EINVAL);
	CHECK_MSG(strcmp(err, "bad port 'afxdp:eth0' (want tap:DEVICE, afpacket:DEVICE or sink)") == 0, "%s", err);
	CHECK(dvmq_config_vm_port_parse("tap", &p, dev, err, sizeof(err)) == -EINVAL);
	CHECK_MSG(strcmp(err, "bad port 'tap': the device name is missing") == 0, "%s", err);
	CHECK(dvmq_config_vm_port_parse("tap:a/b", &p, dev, err, sizeof(err)) == -EINVAL);
	CHECK(dvmq_config_vm_port_parse("sink:x", &p, dev, err, sizeof(err)) == -EINVAL);
	CHECK(dvmq_config_ifname_problem("eth0") == NULL && dvmq_config_ifname_problem("abcdefghijklmno") == NULL);
	CHECK(dvmq_config_ifname_problem("abcdefghijklmnop") != NULL); /* 16: over IFNAMSIZ */
	CHECK(dvmq_config_ifname_problem("") && dvmq_config_ifname_problem(".") && dvmq_config_ifname_problem(".."));
	CHECK(dvmq_config_ifname_problem("a b") && dvmq_config_ifname_problem("a:b") && dvmq_config_ifname_problem("a\tb"));
	for (unsigned k = 0; k < DVMQ_CONFIG_PORT_COUNT; k++)
		CHECK(dvmq_config_port_is_uplink((enum dvmq_config_port)k) ==
		      (k == DVMQ_CONFIG_PORT_GEN || k == DVMQ_CONFIG_PORT_PCAP || k == DVMQ_CONFIG_PORT_AFXDP ||
		       k == DVMQ_CONFIG_PORT_AFPACKET || k == DVMQ_CONFIG_PORT_KERNEL));
}

struct bad_case {
	const char *text, *want;
};

/* Each case: text loaded as t.conf must be refused with exactly `want`. */
static void expect_bad(const struct bad_case *cases, size_t n)
{
	CHECK(cfgt_write("scen.ini", cfgt_scenario));
	CHECK(cfgt_write("bad.ini", "[host]\nprocessors = 2\ncolour = blue\n"));
	for (size_t i = 0; i < n; i++) {
		struct dvmq_config *c = NULL;
		struct dvmq_diag d = { { 0 } };
		int rc = cfgt_load(cases[i].text, &c, &d);
		CHECK_MSG(rc == -EINVAL, "case %zu (%s): rc %d", i, cases[i].want, rc);
		CHECK_MSG(c == NULL, "case %zu: partial config returned", i);
		CHECK_MSG(strcmp(d.msg, cases[i].want) == 0, "case %zu:\n     got '%s'\n    want '%s'", i, d.msg,
			  cases[i].want);
	}
}

#define UP "[uplink]\nport = afpacket\ndevice = eth0\n" /* lines 1-3 */
#define VM "[vm a]\nmac = 52:54:00:00:00:01\nport = tap\ndevice = tap-a\n"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

TEST(config_bad_sections_and_syntax)
{
	static const struct bad_case cases[] = {
		{ UP "[disk]\n", "t.conf:4: unknown section [disk] (known: host, engine, uplink, vm NAME, control)" },
		{ UP "[disk sda]\n", "t.conf:4: unknown section [disk sda] (known: host, engine, uplink, vm NAME, control)" },
		{ "port = gen\n", "t.conf:1: key 'port' outside a section (start with [host], [uplink] or [vm NAME])" },
		{ UP "garbage\n", "t.conf:4: syntax error: want KEY = VALUE, [section] or a # comment" },
		{ UP "[host\n", "t.conf:4: section header without a closing ']'" },
		{ UP UP, "t.conf:4: second [uplink] section (the first is on line 1)" },
		{ "[host]\n" UP "[host]\n", "t.conf:5: second [host] section (the first is on line 1)" },
		{ "[engine]\n" UP "[engine]\n", "t.conf:5: second [engine] section (the first is on line 1)" },
		{ "[control]\n" UP "[control]\n", "t.conf:5: second [control] section (the first is on line 1)" },
		{ "[host main]\n" UP, "t.conf:1: [host] takes no name (want [host])" },
		{ UP "[vm]\n", "t.conf:4: [vm NAME] needs a name of 1..47 characters from A-Z a-z 0-9 . _ - (not "
			       "starting with '-')" },
		{ UP "[vm a/b]\n", "t.conf:4: [vm NAME] needs a name of 1..47 characters from A-Z a-z 0-9 . _ - (not "
				   "starting with '-')" },
		{ UP "[vm -a]\n", "t.conf:4: [vm NAME] needs a name of 1..47 characters from A-Z a-z 0-9 . _ - (not "
				  "starting with '-')" },
		{ UP "[vm a123456789012345678901234567890123456789012345678]\n",
		  "t.conf:4: [vm NAME] needs a name of 1..47 characters from A-Z a-z 0-9 . _ - (not starting with '-')" },
		{ UP "[vm a]\nmac = 52:54:00:00:00:01\nmac = 52:54:00:00:00:02\n",
		  "t.conf:6: 'mac' set twice in [vm a] (first on line 5)" },
		{ "[host]\nmtu = 1500\nmtu = 9000\n" UP, "t.conf:3: 'mtu' set twice in [host] (first on line 2)" },
		{ UP "device = eth1\n", "t.conf:4: 'device' set twice in [uplink] (first on line 3)" },
		{ "[engine]\nhigh = 80%\nhigh = 85%\n" UP, "t.conf:3: 'high' set twice in [engine] (first on line 2)" },
		{ UP "[control]\nsocket = /a\nsocket = /b\n", "t.conf:6: 'socket' set twice in [control] (first on line 5)" },
	};
	expect_bad(cases, COUNT(cases));
}

TEST(config_bad_host_values)
{
	static const struct bad_case cases[] = {
		{ "[host]\ncolour = blue\n" UP, "t.conf:2: unknown key 'colour' in [host] (known: cpus, processors, "
						"base_processor, max_processors, numa_node, exclude, queue_pool, queue_depth, mtu, interval)" },
		{ "[host]\ncpus = 0-\n" UP, "t.conf:2: bad cpus '0-' (want all, or CPU ids such as 0-3,8)" },
		{ "[host]\ncpus = some\n" UP, "t.conf:2: bad cpus 'some' (want all, or CPU ids such as 0-3,8)" },
		{ "[host]\ncpus = 3-1\n" UP, "t.conf:2: bad cpus '3-1' (want all, or CPU ids such as 0-3,8)" },
		{ "[host]\ncpus = 4096\n" UP, "t.conf:2: cpus '4096' names a CPU beyond 4095" },
		{ "[host]\ncpus = 0-3,2\n" UP, "t.conf:2: cpus lists CPU 2 twice" },
		{ "[host]\nprocessors = 0\n" UP, "t.conf:2: processors 0 is out of range 1..4096" },
		{ "[host]\nprocessors = -2\n" UP, "t.conf:2: processors must not be negative: '-2'" },
		{ "[host]\nprocessors = two\n" UP, "t.conf:2: bad processors 'two' (want a whole number)" },
		{ "[host]\ncpus = 0-3\nprocessors = 8\n" UP, "t.conf:3: processors 8, but cpus (0-3) lists 4" },
		{ "[host]\ncpus = 0-3\nexclude = 9\n" UP, "t.conf:3: exclude names CPU 9, which cpus (0-3) does not list" },
		{ "[host]\nexclude = 1,1\n" UP, "t.conf:2: exclude lists CPU 1 twice" },
		{ "[host]\nexclude = x\n" UP, "t.conf:2: bad exclude 'x' (want none, or CPU ids such as 0,3,8-11)" },
		{ "[host]\nexclude = 9000\n" UP, "t.conf:2: exclude '9000' names a CPU beyond 4095" },
		{ "[host]\ncpus = 0-1\nexclude = 0-1\n" UP, "t.conf:3: the processor set is empty: base_processor and "
							    "exclude leave none of the CPUs in use (0-1)" },
		{ "[host]\ncpus = 0-1\nbase_processor = 5\n" UP, "t.conf:3: the processor set is empty: base_processor and "
								 "exclude leave none of the CPUs in use (0-1)" },
		{ "[host]\ncpus = 0-3\nprocessors = 2\nexclude = 0-1\n" UP,
		  "t.conf:4: the processor set is empty: base_processor and exclude leave none of the CPUs in use (0-3)" },
		{ "[host]\nbase_processor = 4096\n" UP, "t.conf:2: base_processor 4096 is out of range 0..4095" },
		{ "[host]\nmax_processors = 0\n" UP, "t.conf:2: max_processors 0 is out of range 1..4096" },
		{ "[host]\nnuma_node = 64\n" UP, "t.conf:2: bad numa_node '64' (want any, or a node number 0..63)" },
		{ "[host]\nnuma_node = first\n" UP, "t.conf:2: bad numa_node 'first' (want any, or a node number 0..63)" },
		{ "[host]\nqueue_pool = 65536\n" UP, "t.conf:2: queue_pool 65536 is out of range 0..65535" },
		{ "[host]\nqueue_depth = 0\n" UP, "t.conf:2: queue_depth 0 is out of range 1..16777216" },
		{ "[host]\nmtu = 67\n" UP, "t.conf:2: mtu 67 is out of range 68..65000" },
		{ "[host]\nmtu = 65001\n" UP, "t.conf:2: mtu 65001 is out of range 68..65000" },
		{ "[host]\ninterval = soon\n" UP, "t.conf:2: bad interval 'soon' (want a time such as 100ms or 1s)" },
		{ "[host]\ninterval = 100\n" UP, "t.conf:2: bad interval '100' (want a time such as 100ms or 1s)" },
		{ "[host]\ninterval = 500us\n" UP, "t.conf:2: interval 500us is out of range 1ms..10s (dvmqctl policy set takes the same)" },
		{ "[host]\ninterval = 30s\n" UP, "t.conf:2: interval 30s is out of range 1ms..10s (dvmqctl policy set takes the same)" },
	};
	expect_bad(cases, COUNT(cases));
}

TEST(config_bad_engine_values_name_the_parameter)
{
	static const struct bad_case cases[] = {
		{ UP "[engine]\nagility = 3\n", "t.conf:5: unknown engine parameter 'agility' (known: policy, high, low, "
						"ewma, dwell, return-guard, return-window, min-gain, floor, pack, "
						"coalesce-rounds, peak-halflife, peak-hold, ovs-threshold, ovs-history, ovs-interval, "
						"ovs-improvement, rsspp-target, rsspp-imbalance, rsspp-autoscale, "
						"irqbalance-interval, irqbalance-powerthresh)" },
		{ UP "[engine]\nhigh = 200%\n", "t.conf:5: bad value '200%' for engine parameter 'high': high must be above 0 "
						"and at most 100%" },
		{ UP "[engine]\nlow = 95%\n", "t.conf:5: bad value '95%' for engine parameter 'low': low must be at least 0 "
					      "and below high" },
		{ UP "[engine]\npolicy = fastest\n", "t.conf:5: bad value 'fastest' for engine parameter 'policy': not a "
						     "policy (none, static, dynamic, ovs-alb, adaptive, rsspp, irqbalance)" },
		{ UP "[engine]\ndwell = soon\n", "t.conf:5: bad value 'soon' for engine parameter 'dwell': not a time such as "
						 "2s or 250ms" },
		{ UP "[engine]\nreturn-guard = 500ms\n", "t.conf:5: bad value '500ms' for engine parameter 'return-guard': "
							 "return-guard must be at least 1s: adaptive's promise of no "
							 "ping-pong (no move back within 1 s) rests on it" },
		/* on top of the scenario's [engine] (high 80%): pack 85% is over it */
		{ "[uplink]\nport = gen\nscenario = scen.ini\n[engine]\npack = 85%\n",
		  "t.conf:5: bad value '85%' for engine parameter 'pack': pack must be above 0 and at most high "
		  "(coalescing must not fill a processor past the point where it spreads again)" },
	};
	expect_bad(cases, COUNT(cases));
}

TEST(config_bad_uplinks)
{
	static const struct bad_case cases[] = {
		{ VM, "t.conf:1: no [uplink] section: a host needs an uplink (port = afxdp, afpacket, pcap or gen)" },
		{ "[uplink]\ndevice = eth0\n", "t.conf:1: [uplink] needs port = gen, pcap, afxdp or afpacket (or mode = "
						  "kernel with device = INTERFACE)" },
		{ "[uplink]\nport = nic\n", "t.conf:2: unknown port 'nic' for the uplink (want gen, pcap, afxdp or afpacket)" },
		{ "[uplink]\nport = tap\ndevice = t0\n", "t.conf:2: port tap does not fit the uplink: tap and sink are VM "
							 "adapter ports (want gen, pcap, afxdp or afpacket)" },
		{ "[uplink]\nport = sink\n", "t.conf:2: port sink does not fit the uplink: tap and sink are VM adapter "
					     "ports (want gen, pcap, afxdp or afpacket)" },
		{ "[uplink]\nport = afxdp\n", "t.conf:1: port afxdp needs device = INTERFACE (the uplink NIC, such as eth0)" },
		{ "[uplink]\nport = afpacket\n", "t.conf:1: port afpacket needs device = INTERFACE (the uplink NIC, such as "
						 "eth0)" },
		{ "[uplink]\nport = gen\nscenario = scen.ini\ndevice = eth0\n", "t.conf:4: port gen takes no device (device "
										"is for afxdp and afpacket)" },
		{ "[uplink]\nport = gen\n", "t.conf:1: port gen plays a scenario: it needs scenario = FILE" },
		{ "[uplink]\nport = gen\nfile = x.pcap\n", "t.conf:3: port gen plays a scenario: it needs scenario = FILE" },
		{ "[uplink]\nport = pcap\n", "t.conf:1: port pcap replays a capture: it needs file = CAPTURE.pcap" },
		{ UP "file = x.pcap\n", "t.conf:4: file is for port pcap (this uplink is afpacket)" },
		{ UP "scenario = scen.ini\n", "t.conf:4: scenario is for port gen (this uplink is afpacket)" },
		{ "[uplink]\nport = gen\nscenario = scen.ini\nfile = x.pcap\n", "t.conf:4: file and scenario in one [uplink] "
										"(file is pcap's capture, scenario is gen's)" },
		{ "[uplink]\nport = gen\nscenario =\n", "t.conf:3: scenario is empty (want a file name)" },
		{ UP "fallback = afpacket\n", "t.conf:4: fallback is for port afxdp (this uplink is afpacket)" },
		{ "[uplink]\nport = afxdp\ndevice = eth0\nfallback = tap\n", "t.conf:4: bad fallback 'tap' (want afpacket or "
									      "none)" },
		{ UP "xdp_mode = native\n", "t.conf:4: xdp_mode is for port afxdp (this uplink is afpacket)" },
		{ UP "xdp_mode = fast\n", "t.conf:4: bad xdp_mode 'fast' (want auto, native or generic)" },
		{ "[uplink]\nport = gen\nscenario = scen.ini\nrx = ring\n", "t.conf:4: rx is for port afpacket (and afxdp's "
									    "fallback; this uplink is gen)" },
		{ UP "rx = mmap\n", "t.conf:4: bad rx 'mmap' (want copy or ring)" },
		{ UP "ring = 1KiB\n", "t.conf:4: bad ring '1KiB' (want a size of 64KiB..1024MiB in whole KiB, such as 4MiB)" },
		{ "[uplink]\nport = pcap\nfile = x.pcap\nring = 4MiB\n", "t.conf:4: ring is for ports afxdp and afpacket "
									 "(this uplink is pcap)" },
		{ UP "scenario_vms = no\n", "t.conf:4: scenario_vms is for port gen (this uplink is afpacket)" },
		{ "[uplink]\nport = gen\nscenario = scen.ini\nscenario_vms = maybe\n", "t.conf:4: bad scenario_vms 'maybe' "
										       "(want yes or no)" },
		{ "[uplink]\nport = afpacket\ndevice = abcdefghijklmnop\n",
		  "t.conf:3: device name 'abcdefghijklmnop' is longer than 15 characters (IFNAMSIZ) (want an interface "
		  "name of 1..15 characters without '/', ':' or white space)" },
		{ "[uplink]\nport = afpacket\ndevice = eth0:1\n",
		  "t.conf:3: device name 'eth0:1' contains '/', ':', white space or a control character (want an interface "
		  "name of 1..15 characters without '/', ':' or white space)" },
		{ "[uplink]\nport = afpacket\ndevice = ..\n", "t.conf:3: device name '..' is '.' or '..' (want an interface "
							      "name of 1..15 characters without '/', ':' or white space)" },
		{ "[uplink]\nport = afpacket\ndevice = a b\n", "t.conf:3: device name 'a b' contains '/', ':', white space "
							       "or a control character (want an interface name of 1..15 "
							       "characters without '/', ':' or white space)" },
		{ "[uplink]\ncolour = blue\n", "t.conf:2: unknown key 'colour' in [uplink] (known: mode, port, device, file, "
					       "scenario, scenario_vms, fallback, xdp_mode, rx, ring, qsize, kthread_priority, rx_hash, "
					       "local_path)" },
	};
	expect_bad(cases, COUNT(cases));
}

/* The scenario's own file:line comes after the config's. */
TEST(config_scenario_that_does_not_load_names_both_lines)
{
	char want[DVMQ_DIAG_MAX];
	snprintf(want, sizeof(want),
		 "t.conf:3: scenario does not load: %s/bad.ini:3: unknown key 'colour' in [host] (known: processors, "
		 "numa_nodes, queue_pool, base_processor, max_processors, numa_node, exclude, interval, tick, duration, "
		 "queue_depth, move_gap, cold_penalty, cold_time, latency_target, seed)", cfgt_dir());
	struct bad_case c1[] = { { "[uplink]\nport = gen\nscenario = bad.ini\n", want } };
	expect_bad(c1, 1);
	char want2[DVMQ_DIAG_MAX];
	snprintf(want2, sizeof(want2),
		 "t.conf:3: scenario does not load: %s/none.ini: cannot open: No such file or directory", cfgt_dir());
	struct bad_case c2[] = { { "[uplink]\nport = gen\nscenario = none.ini\n", want2 } };
	expect_bad(c2, 1);
}

TEST(config_bad_vms)
{
	static const struct bad_case cases[] = {
		{ UP "[vm a]\ncolour = blue\n", "t.conf:5: unknown key 'colour' in [vm a] (known: mac, vlan, weight, max-queues, port, "
						"device, offload, netns)" },
		{ UP "[vm a]\nmac = 52:54:00:00:00:01\nport = afpacket\ndevice = v0\nnetns = ct1\n",
		  "t.conf:8: vm a: netns is for port tap (an afpacket device is reached in dvmq's own namespace; this port "
		  "is afpacket)" },
		{ UP "[vm a]\nnetns = run/netns/ct1\n", "t.conf:5: bad netns 'run/netns/ct1' (want a name of `ip netns list`, "
							 "or an absolute path such as /proc/PID/ns/net)" },
		{ UP "[vm a]\nnetns = ..\n", "t.conf:5: bad netns '..' (want a name of `ip netns list`, or an absolute path "
					      "such as /proc/PID/ns/net)" },
		{ UP "[vm a]\nmac = 52:54:00\n", "t.conf:5: malformed MAC '52:54:00' (want six hex pairs such as "
						 "52:54:00:12:34:56)" },
		{ UP "[vm a]\nmac = 52:54:00:00:00:0g\n", "t.conf:5: malformed MAC '52:54:00:00:00:0g' (want six hex pairs "
							  "such as 52:54:00:12:34:56)" },
		{ UP "[vm a]\nmac = 01:00:5e:00:00:01\n", "t.conf:5: MAC '01:00:5e:00:00:01' is multicast: a VM adapter "
							  "needs a unicast address" },
		{ UP "[vm a]\nmac = ff:ff:ff:ff:ff:ff\n", "t.conf:5: MAC 'ff:ff:ff:ff:ff:ff' is multicast: a VM adapter "
							  "needs a unicast address" },
		{ UP "[vm a]\nmac = 00:00:00:00:00:00\n", "t.conf:5: MAC '00:00:00:00:00:00' is all zeros: a VM adapter "
							  "needs a real address" },
		{ UP "[vm a]\nvlan = 4095\n", "t.conf:5: vlan 4095 is out of range 0..4094" },
		{ UP "[vm a]\nvlan = -1\n", "t.conf:5: vlan must not be negative: '-1'" },
		{ UP "[vm a]\nweight = 101\n", "t.conf:5: weight 101 is out of range 0..100" },
		{ UP "[vm a]\nmax-queues = 17\n", "t.conf:5: max-queues 17 is out of range 1..16" },
		{ UP "[vm a]\nmax-queues = 0\n", "t.conf:5: max-queues 0 is out of range 1..16" },
		{ UP "[vm a]\nport = virtio\n", "t.conf:5: unknown port 'virtio' for a VM adapter (want tap, afpacket or "
						"sink)" },
		{ UP "[vm a]\nport = afxdp\n", "t.conf:5: port afxdp does not fit a VM adapter: afxdp is an uplink port "
					       "(want tap, afpacket or sink)" },
		{ UP "[vm a]\nport = gen\n", "t.conf:5: port gen does not fit a VM adapter: gen is an uplink port (want "
					     "tap, afpacket or sink)" },
		{ UP "[vm a]\nport = pcap\n", "t.conf:5: port pcap does not fit a VM adapter: pcap is an uplink port "
					      "(want tap, afpacket or sink)" },
		{ UP "[vm a]\nport = sink\n", "t.conf:4: vm a has no mac (want mac = a unicast address such as "
					      "52:54:00:12:34:56)" },
		{ UP "[vm a]\nmac = 52:54:00:00:00:01\n", "t.conf:4: vm a needs port = tap, afpacket or sink" },
		{ UP "[vm a]\nmac = 52:54:00:00:00:01\nport = tap\n", "t.conf:6: vm a: port tap needs device = INTERFACE "
								      "(a TAP: opened when it exists, else created)" },
		{ UP "[vm a]\nmac = 52:54:00:00:00:01\nport = afpacket\n", "t.conf:6: vm a: port afpacket needs device = "
									   "INTERFACE (an existing interface)" },
		{ UP "[vm a]\nmac = 52:54:00:00:00:01\nport = sink\ndevice = x\n", "t.conf:7: vm a: port sink takes no "
										   "device (device is for tap and afpacket)" },
		{ UP "[vm a]\nmac = 52:54:00:00:00:01\nport = afpacket\ndevice = v0\noffload = yes\n",
		  "t.conf:8: vm a: offload is for port tap (afpacket always exchanges offloads with its kernel; this port "
		  "is afpacket)" },
		{ UP "[vm a]\noffload = perhaps\n", "t.conf:5: bad offload 'perhaps' (want yes or no)" },
		{ UP "[vm a]\ndevice = abcdefghijklmnop\n", "t.conf:5: device name 'abcdefghijklmnop' is longer than 15 "
							    "characters (IFNAMSIZ) (want an interface name of 1..15 "
							    "characters without '/', ':' or white space)" },
		{ UP "[vm a]\ndevice = a/b\n", "t.conf:5: device name 'a/b' contains '/', ':', white space or a control "
					       "character (want an interface name of 1..15 characters without '/', ':' or "
					       "white space)" },
		{ UP VM "[vm a]\nmac = 52:54:00:00:00:02\nport = sink\n", "t.conf:8: duplicate VM name 'a' (first on line 4)" },
		{ UP VM "[vm b]\nmac = 52:54:00:00:00:01\nport = sink\n", "t.conf:9: duplicate MAC+VLAN: vm b has the "
									  "address of vm a" },
		{ UP VM "[vm b]\nmac = 52:54:00:00:00:02\nport = afpacket\ndevice = tap-a\n",
		  "t.conf:11: device tap-a is used twice: vm b and vm a (line 7)" },
		{ UP "[vm a]\nmac = 52:54:00:00:00:01\nport = afpacket\ndevice = eth0\n",
		  "t.conf:7: device eth0 is used twice: vm a and the uplink (line 3)" },
		/* against the gen scenario's VMs */
		{ "[uplink]\nport = gen\nscenario = scen.ini\n[vm a]\nmac = 02:00:00:00:00:01\n",
		  "t.conf:5: vm a is the scenario's, with MAC 02:00:00:00:00:0a VLAN 0: the generator sends to that "
		  "address (leave mac and vlan out, or name the VM differently)" },
		{ "[uplink]\nport = gen\nscenario = scen.ini\n[vm b]\nvlan = 6\n",
		  "t.conf:5: vm b is the scenario's, with MAC 02:00:00:00:00:0b VLAN 5: the generator sends to that "
		  "address (leave mac and vlan out, or name the VM differently)" },
		{ "[uplink]\nport = gen\nscenario = scen.ini\n[vm a]\nport = tap\n",
		  "t.conf:5: vm a: port tap needs device = INTERFACE (a TAP: opened when it exists, else created)" },
		{ "[uplink]\nport = gen\nscenario = scen.ini\n[vm a]\nweight = 5\n[vm a]\nweight = 6\n",
		  "t.conf:6: duplicate VM name 'a' (first on line 4)" },
		{ "[uplink]\nport = gen\nscenario = scen.ini\n[vm c]\nmac = 02:00:00:00:00:0a\nport = sink\n",
		  "t.conf:5: duplicate MAC+VLAN: vm c has the address of vm a (from the scenario)" },
	};
	expect_bad(cases, COUNT(cases));
}

TEST(config_bad_control)
{
	static const struct bad_case cases[] = {
		{ UP "[control]\nsocket = /run/dvmq/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
		  "t.conf:5: socket path is 128 bytes, a unix socket path holds at most 107" },
		{ UP "[control]\nsocket =\n", "t.conf:5: socket is empty (want a path such as /run/dvmq/dvmq.sock)" },
		{ UP "[control]\nmetrics = localhost\n", "t.conf:5: bad metrics 'localhost' (want ADDRESS:PORT such as "
							 "127.0.0.1:9911 or [::1]:9911, or off)" },
		{ UP "[control]\nmetrics = ::1:9911\n", "t.conf:5: bad metrics '::1:9911' (want ADDRESS:PORT such as "
							"127.0.0.1:9911 or [::1]:9911, or off)" },
		{ UP "[control]\nmetrics = [::1]9911\n", "t.conf:5: bad metrics '[::1]9911' (want ADDRESS:PORT such as "
							 "127.0.0.1:9911 or [::1]:9911, or off)" },
		{ UP "[control]\nmetrics = localhost:9911\n", "t.conf:5: metrics address 'localhost' is not a numeric IPv4 "
							      "address" },
		{ UP "[control]\nmetrics = [fe80::zz]:9911\n", "t.conf:5: metrics address 'fe80::zz' is not a numeric IPv6 "
							       "address" },
		{ UP "[control]\nmetrics = 127.0.0.1:0\n", "t.conf:5: metrics port '0' is out of range 1..65535" },
		{ UP "[control]\nmetrics = 127.0.0.1:65536\n", "t.conf:5: metrics port '65536' is out of range 1..65535" },
		{ UP "[control]\nmetrics = 127.0.0.1:\n", "t.conf:5: metrics port '' is out of range 1..65535" },
		{ UP "[control]\nlog_level = loud\n", "t.conf:5: unknown log_level 'loud' (want error, warning, info or "
						      "debug)" },
		{ UP "[control]\ncolour = blue\n", "t.conf:5: unknown key 'colour' in [control] (known: socket, metrics, "
						   "log_level)" },
	};
	expect_bad(cases, COUNT(cases));
}

/* Nothing is half-loaded: a failure late in the build (after the scenario was loaded and the
 * VMs built) frees everything (LeakSanitizer checks it in the ASan build). */
TEST(config_failure_after_scenario_leaves_nothing)
{
	CHECK(cfgt_write("scen.ini", cfgt_scenario));
	struct dvmq_config *c = (struct dvmq_config *)0x1;
	struct dvmq_diag d = { { 0 } };
	int rc = cfgt_load("[uplink]\nport = gen\nscenario = scen.ini\n[vm c]\nmac = 02:00:00:00:00:0b\nvlan = 5\n"
			   "port = sink\n", &c, &d);
	CHECK(rc == -EINVAL && c == (struct dvmq_config *)0x1);
	CHECK_MSG(strstr(d.msg, "duplicate MAC+VLAN: vm c has the address of vm b"), "%s", d.msg);
	dvmq_config_free(NULL);
}

TEST(config_port_options_carry_the_file)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(cfgt_load(good, &c, &d) == 0, "%s", d.msg);
	struct dvmq_port_kopts o;
	memset(&o, 0xff, sizeof(o));
	dvmq_config_uplink_kopts(c, &o);
	CHECK(o.mtu == 9000 && o.ring_kib == 8192 && o.afpacket_rx == DVMQ_AFPACKET_RX_RING);
	CHECK(o.xdp_mode == 2 /* generic only, port.h */ && o.fallback == 0 && o.offload == 0 && o.log == NULL);
	dvmq_config_vm_kopts(c, &c->vms[0], &o);
	CHECK(o.mtu == 9000 && o.offload == 1 && o.ring_kib == 0 && o.xdp_mode == 0);
	dvmq_config_vm_kopts(c, &c->vms[1], &o);
	CHECK(o.offload == 0 && o.netns == NULL);
	dvmq_config_free(c);
	/* a container's TAP: a name of `ip netns` is its path in /run/netns, a path is kept */
	CHECK_MSG(cfgt_load("[uplink]\nport = afpacket\ndevice = eth0\n[vm a]\nmac = 52:54:00:00:00:01\nport = tap\n"
			    "device = ct1eth\nnetns = ct1\n[vm b]\nmac = 52:54:00:00:00:02\nport = tap\ndevice = tb\n"
			    "netns = /proc/42/ns/net\n", &c, &d) == 0, "%s", d.msg);
	dvmq_config_vm_kopts(c, &c->vms[0], &o);
	CHECK(o.netns && strcmp(o.netns, "/run/netns/ct1") == 0);
	dvmq_config_vm_kopts(c, &c->vms[1], &o);
	CHECK(o.netns && strcmp(o.netns, "/proc/42/ns/net") == 0);
	dvmq_config_free(c);
	CHECK(cfgt_load("[uplink]\nport = afxdp\ndevice = eth0\nxdp_mode = native\n", &c, &d) == 0);
	dvmq_config_uplink_kopts(c, &o);
	CHECK(o.xdp_mode == 1 && o.fallback == 1 && o.mtu == 1500 && o.afpacket_rx == DVMQ_AFPACKET_RX_COPY);
	dvmq_config_free(c);
}

/* Text of n sink VMs, named v0.., MACs from 52:54:00:00:00:00. malloc'd. */
static char *many_vms(size_t n)
{
	size_t cap = 64 + n * 64, len = 0;
	char *t = malloc(cap);
	for (size_t i = 0; t && i < n; i++)
		len += (size_t)snprintf(t + len, cap - len, "[vm v%zu]\nmac = 52:54:00:%02zx:%02zx:%02zx\nport = sink\n", i,
					(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
	return t;
}

TEST(config_more_vms_than_the_limit_is_refused)
{
	/* 65,537 [vm] sections: the last one is refused with its line */
	char *vms = many_vms(65537);
	CHECK(vms);
	size_t cap = strlen(vms) + 64;
	char *text = malloc(cap);
	CHECK(text);
	snprintf(text, cap, "[uplink]\nport = gen\nscenario = scen.ini\nscenario_vms = no\n%s", vms);
	free(vms);
	CHECK(cfgt_write("scen.ini", cfgt_scenario));
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	int rc = cfgt_load(text, &c, &d);
	free(text);
	CHECK_MSG(rc == -EINVAL && c == NULL, "rc %d", rc);
	/* each VM takes 3 lines after the 4 of [uplink]: the 65,537th starts on line 4 + 65536 x 3 + 1 */
	CHECK_MSG(strcmp(d.msg, "t.conf:196613: more than 65536 VM adapters") == 0, "%s", d.msg);
}

TEST(config_a_path_that_does_not_fit_is_refused)
{
	char text[1024], name[600];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text), "[uplink]\nport = pcap\nfile = %s\n", name);
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK(cfgt_load(text, &c, &d) == -EINVAL && c == NULL);
	CHECK_MSG(strcmp(d.msg, "t.conf:3: file path is longer than 511 bytes") == 0, "%s", d.msg);
}

/* Kernel mode ([uplink] mode = kernel): the uplink is a device and no port; a VM is MAC, VLAN,
 * weight and, optionally, the device naming its kernel port; the ports' keys are refused where
 * they stand, with what kernel mode takes instead. */
TEST(config_kernel_mode)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(cfgt_load("[uplink]\nmode = kernel\ndevice = eth0\nqsize = 4096\nkthread_priority = 1\n[vm a]\n"
			    "mac = 52:54:00:00:00:01\n"
			    "vlan = 7\ndevice = vnet0\n[vm b]\nmac = 52:54:00:00:00:02\nweight = 0\n",
			    &c, &d) == 0,
		  "%s", d.msg);
	CHECK(c->uplink.port == DVMQ_CONFIG_PORT_KERNEL && strcmp(c->uplink.device, "eth0") == 0 && c->uplink.qsize == 4096 &&
	      c->uplink.xdp_mode == DVMQ_CONFIG_XDP_NATIVE && c->uplink.kthread_priority == 1);
	CHECK(c->n_vms == 2 && c->vms[0].port == DVMQ_CONFIG_PORT_KERNEL && strcmp(c->vms[0].device, "vnet0") == 0 &&
	      c->vms[0].adapter.vlan == 7 && c->vms[1].port == DVMQ_CONFIG_PORT_KERNEL && !c->vms[1].device[0]);
	CHECK(strcmp(dvmq_config_port_name(c->uplink.port), "kernel") == 0);
	dvmq_config_free(c);
	c = NULL;
	CHECK(cfgt_load("[uplink]\nmode = kernel\ndevice = eth0\nxdp_mode = generic\n", &c, &d) == 0);
	CHECK(c->uplink.xdp_mode == DVMQ_CONFIG_XDP_GENERIC && c->uplink.qsize == 0 && !c->uplink.rx_hash_nic);
	dvmq_config_free(c);
	c = NULL;
	CHECK(cfgt_load("[uplink]\nmode = kernel\ndevice = eth0\nrx_hash = nic\n", &c, &d) == 0 && c->uplink.rx_hash_nic);
	dvmq_config_free(c);
	c = NULL;
	CHECK(cfgt_load("[uplink]\nmode = kernel\ndevice = eth0\nrx_hash = toeplitz\n", &c, &d) == 0 && !c->uplink.rx_hash_nic);
	CHECK(!c->uplink.local_path_off); /* the local path is on unless turned off */
	dvmq_config_free(c);
	c = NULL;
	CHECK(cfgt_load("[uplink]\nmode = kernel\ndevice = eth0\nlocal_path = off\n", &c, &d) == 0 && c->uplink.local_path_off);
	dvmq_config_free(c);
	c = NULL;
	CHECK(cfgt_load("[uplink]\nmode = kernel\ndevice = eth0\nlocal_path = on\n", &c, &d) == 0 && !c->uplink.local_path_off);
	dvmq_config_free(c);
	c = NULL;
	CHECK(cfgt_load("[uplink]\nmode = switch\nport = afpacket\ndevice = eth0\n", &c, &d) == 0);
	CHECK(c->uplink.port == DVMQ_CONFIG_PORT_AFPACKET);
	dvmq_config_free(c);

#define KUP "[uplink]\nmode = kernel\ndevice = eth0\n" /* lines 1-3 */
	static const struct bad_case cases[] = {
		{ "[uplink]\nmode = fast\n", "t.conf:2: bad mode 'fast' (want switch: dvmq switches the VMs' frames itself, "
					     "or kernel: dvmq steers the host's own bridge with XDP)" },
		{ "[uplink]\nmode = kernel\n", "t.conf:2: mode = kernel needs device = INTERFACE (the uplink NIC the host's "
					       "bridge uses, such as eth0)" },
		{ KUP "port = afxdp\n", "t.conf:4: mode = kernel takes no port: dvmq puts its XDP program on device and the "
					"host's bridge keeps switching (leave port out, or mode = switch)" },
		{ "[uplink]\nport = kernel\n", "t.conf:2: port kernel: kernel mode is `mode = kernel` with device = "
					       "INTERFACE (and no port)" },
		{ KUP "fallback = none\n", "t.conf:4: fallback is for port afxdp; kernel mode has no port (its keys: device, "
					   "xdp_mode, qsize, kthread_priority, rx_hash, local_path)" },
		{ KUP "ring = 4MiB\n", "t.conf:4: ring is for port afxdp and afpacket; kernel mode has no port (its keys: "
				       "device, xdp_mode, qsize, kthread_priority, rx_hash, local_path)" },
		{ KUP "kthread_priority = 100\n", "t.conf:4: kthread_priority 100 is out of range 0..99" },
		{ KUP "rx_hash = crc\n", "t.conf:4: bad rx_hash 'crc' (want toeplitz: dvmq hashes a queue group's frames "
					"itself, or nic: the NIC's RSS hash where its driver hands XDP one)" },
		{ UP "rx_hash = nic\n", "t.conf:4: rx_hash is for mode = kernel (the XDP program's hash; this uplink is "
					"afpacket: dvmq hashes with Toeplitz)" },
		{ KUP "local_path = maybe\n", "t.conf:4: bad local_path 'maybe' (want on: a frame already on its queue's "
					      "processor stays there when it can overtake none of its queue, or off: every frame "
					      "through the cpumap)" },
		{ UP "local_path = off\n", "t.conf:4: local_path is for mode = kernel (the XDP program's local path; this "
					    "uplink is afpacket)" },
		{ UP "kthread_priority = 1\n", "t.conf:4: kthread_priority is for mode = kernel (the cpumap kthreads; this "
						"uplink is afpacket)" },
		{ KUP "xdp_mode = auto\n", "t.conf:4: xdp_mode auto is for port afxdp: kernel mode attaches native XDP, or "
					   "generic XDP only when asked (want native or generic)" },
		{ KUP "qsize = 0\n", "t.conf:4: qsize 0 is out of range 1..16384" },
		{ KUP "qsize = 20000\n", "t.conf:4: qsize 20000 is out of range 1..16384" },
		{ UP "qsize = 64\n", "t.conf:4: qsize is for mode = kernel (the cpumap ring; this uplink is afpacket)" },
		{ KUP "[vm a]\nmac = 52:54:00:00:00:01\nport = tap\ndevice = t0\n",
		  "t.conf:6: vm a: in kernel mode a VM has no port (the host's bridge delivers its frames): mac, vlan, "
		  "weight, and device naming its kernel port for the views" },
		{ KUP "[vm a]\nmac = 52:54:00:00:00:01\nport = kernel\n", "t.conf:6: port kernel: in kernel mode ([uplink] "
									  "mode = kernel) a VM has no port key" },
		{ KUP "[vm a]\nmac = 52:54:00:00:00:01\noffload = yes\n", "t.conf:6: vm a: offload is for port tap; in "
									  "kernel mode a VM has no port" },
		{ KUP "[vm a]\nvlan = 3\n", "t.conf:4: vm a has no mac (want mac = a unicast address such as "
					    "52:54:00:12:34:56)" },
		{ KUP "[vm a]\nmac = 52:54:00:00:00:01\ndevice = eth0\n", "t.conf:6: device eth0 is used twice: vm a and "
									  "the uplink (line 3)" },
	};
#undef KUP
	expect_bad(cases, COUNT(cases));
}

/* engine keys in any order that works together, as dvmqctl policy set takes them (kernel mode's
 * lab writes return-window = 1s before return-guard = 1s: alone, the window is below the guard) */
TEST(config_engine_keys_in_any_order_that_works)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(cfgt_load("[engine]\nreturn-window = 1s\nreturn-guard = 1s\n[uplink]\nport = afpacket\ndevice = eth0\n",
			    &c, &d) == 0, "%s", d.msg);
	CHECK(c->params.return_window_ns == 1000000000ull && c->params.return_guard_ns == 1000000000ull);
	dvmq_config_free(c);
	/* what cannot work in any order still names its line */
	CHECK(cfgt_load("[engine]\nreturn-window = 1s\nreturn-guard = 3s\n[uplink]\nport = afpacket\ndevice = eth0\n",
			&c, &d) == -EINVAL);
	CHECK_MSG(strstr(d.msg, "t.conf:2: bad value '1s' for engine parameter 'return-window'"), "%s", d.msg);
}

/* the example /etc/dvmq/dvmq.conf the packages ship: inert until edited, and says so */
TEST(config_the_shipped_example_is_inert_until_edited)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK(dvmq_config_load(DVMQ_SOURCE_ROOT "/dist/dvmq.conf", &c, &d) == -EINVAL && c == NULL);
	CHECK_MSG(strstr(d.msg, "dvmq.conf:1: nothing is configured (no section): uncomment and edit the file"), "%s", d.msg);
}
