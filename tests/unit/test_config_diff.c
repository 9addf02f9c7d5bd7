/* What a reload applies: dvmq_config_diff between two configs, each field on its own, the VMs by
 * name in the order that frees before it takes, the diff in words; and the scenario as a config
 * (dvmq_config_from_scenario), which must say what examples/lab.conf says where they overlap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "config_fixture.h"
#include "dvmq/config.h"

static struct dvmq_config *load(const char *text)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	if (cfgt_load(text, &c, &d)) {
		fprintf(stdout, "    load: %s\n", d.msg);
		return NULL;
	}
	return c;
}

/* The diff from a to b (texts), or NULL. Frees nothing: the caller frees *ca, *cb and the diff. */
static struct dvmq_config_diff *diff_of(const char *a, const char *b, struct dvmq_config **ca, struct dvmq_config **cb)
{
	struct dvmq_config_diff *d = NULL;
	*ca = load(a);
	*cb = load(b);
	if (*ca && *cb && dvmq_config_diff(*ca, *cb, &d) != 0)
		d = NULL;
	return d;
}

static void done(struct dvmq_config_diff *d, struct dvmq_config *a, struct dvmq_config *b)
{
	dvmq_config_diff_free(d);
	dvmq_config_free(a);
	dvmq_config_free(b);
}

struct lines {
	int n;
	char all[2048];
};

static void on_line(void *ctx, const char *line)
{
	struct lines *l = ctx;
	l->n++;
	size_t off = strlen(l->all);
	snprintf(l->all + off, sizeof(l->all) - off, "%s\n", line);
}

#define BASE                                                                                                    \
	"[host]\ncpus = 0-3\nqueue_pool = 8\n"                                                                  \
	"[uplink]\nport = afpacket\ndevice = eth0\n"                                                            \
	"[vm a]\nmac = 52:54:00:00:00:01\nport = tap\ndevice = ta\n"                                            \
	"[vm b]\nmac = 52:54:00:00:00:02\nvlan = 10\nport = afpacket\ndevice = vb\n"                            \
	"[control]\nsocket = /tmp/s.sock\n"

TEST(config_diff_of_equal_configs_is_empty)
{
	struct dvmq_config *a, *b;
	struct dvmq_config_diff *d = diff_of(BASE, BASE, &a, &b);
	CHECK(d);
	CHECK(dvmq_config_diff_empty(d) && d->n_vms == 0 && d->n_params == 0);
	struct lines l = { 0 };
	CHECK(dvmq_config_diff_describe(d, on_line, &l) == 0 && l.n == 0);
	done(d, a, b);
	/* the same host written another way: key order, comments, defaults spelled out */
	d = diff_of(BASE, "[vm b]\nport = afpacket\ndevice = vb\nvlan = 10\nmac = 52:54:00:00:00:02\nweight = 100\n"
			  "[control]\nsocket = /tmp/s.sock\nlog_level = info\n[uplink]\ndevice = eth0\nport = afpacket\n"
			  "[host]\nqueue_pool = 8\ncpus = 0,1,2,3\ninterval = 100ms\n"
			  "[vm a]\nmac = 52:54:00:00:00:01\nport = tap\ndevice = ta # same\n[engine]\nhigh = 90%\n",
		    &a, &b);
	CHECK(d);
	CHECK_MSG(dvmq_config_diff_empty(d), "host %x uplink %x control %x vms %zu params %zu", d->host, d->uplink,
		  d->control, d->n_vms, d->n_params);
	done(d, a, b);
}

TEST(config_diff_vms_removed_then_changed_and_added)
{
	struct dvmq_config *a, *b;
	struct dvmq_config_diff *d = diff_of(
		BASE "[vm c]\nmac = 52:54:00:00:00:03\nport = sink\n",
		"[host]\ncpus = 0-3\nqueue_pool = 8\n[uplink]\nport = afpacket\ndevice = eth0\n"
		"[vm d]\nmac = 52:54:00:00:00:01\nport = tap\ndevice = ta\n" /* a's address and device, new name */
		"[vm c]\nmac = 52:54:00:00:00:03\nport = sink\n"
		"[vm b]\nmac = 52:54:00:00:00:02\nvlan = 10\nweight = 40\nport = afpacket\ndevice = vb\n"
		"[control]\nsocket = /tmp/s.sock\n",
		&a, &b);
	CHECK(d);
	CHECK(d->n_vms == 3 && d->host == 0 && d->uplink == 0 && d->control == 0 && d->n_params == 0);
	/* a goes first (its MAC and TAP become free), then the new order: d added, b changed */
	CHECK(d->vms[0].kind == DVMQ_CONFIG_VM_REMOVED && strcmp(d->vms[0].old_vm->name, "a") == 0 && !d->vms[0].new_vm);
	CHECK(d->vms[1].kind == DVMQ_CONFIG_VM_ADDED && strcmp(d->vms[1].new_vm->name, "d") == 0 && !d->vms[1].old_vm);
	CHECK(d->vms[2].kind == DVMQ_CONFIG_VM_CHANGED && strcmp(d->vms[2].new_vm->name, "b") == 0);
	CHECK(d->vms[2].fields == DVMQ_CONFIG_VM_WEIGHT && d->vms[2].old_vm == &a->vms[1] && d->vms[2].new_vm == &b->vms[2]);
	struct lines l = { 0 };
	CHECK(dvmq_config_diff_describe(d, on_line, &l) == 3);
	CHECK_MSG(strcmp(l.all, "vm a removed\n"
				"vm d added: 52:54:00:00:00:01 vlan 0 weight 100 tap ta\n"
				"vm b changed: weight 100 -> 40\n") == 0, "%s", l.all);
	done(d, a, b);
}

/* Each VM field on its own: exactly its bit, and its words. */
TEST(config_diff_each_vm_field)
{
	static const struct {
		const char *vm_b, *line;
		uint32_t fields;
	} cases[] = {
		{ "[vm b]\nmac = 52:54:00:00:00:22\nvlan = 10\nport = afpacket\ndevice = vb\n",
		  "vm b changed: mac 52:54:00:00:00:02 -> 52:54:00:00:00:22\n", DVMQ_CONFIG_VM_MAC },
		{ "[vm b]\nmac = 52:54:00:00:00:02\nvlan = 11\nport = afpacket\ndevice = vb\n",
		  "vm b changed: vlan 10 -> 11\n", DVMQ_CONFIG_VM_VLAN },
		{ "[vm b]\nmac = 52:54:00:00:00:02\nvlan = 10\nweight = 0\nport = afpacket\ndevice = vb\n",
		  "vm b changed: weight 100 -> 0\n", DVMQ_CONFIG_VM_WEIGHT },
		{ "[vm b]\nmac = 52:54:00:00:00:02\nvlan = 10\nport = tap\ndevice = vb\n",
		  "vm b changed: port afpacket vb -> tap vb\n", DVMQ_CONFIG_VM_PORT },
		{ "[vm b]\nmac = 52:54:00:00:00:02\nvlan = 10\nport = afpacket\ndevice = vb2\n",
		  "vm b changed: port afpacket vb -> afpacket vb2\n", DVMQ_CONFIG_VM_DEVICE },
		{ "[vm b]\nmac = 52:54:00:00:00:02\nvlan = 10\nport = tap\ndevice = vb\nnetns = ct1\n",
		  "vm b changed: port afpacket vb -> tap vb in /run/netns/ct1\n", DVMQ_CONFIG_VM_PORT | DVMQ_CONFIG_VM_DEVICE },
		{ "[vm b]\nmac = 52:54:00:00:00:02\nvlan = 10\nport = tap\ndevice = vb\noffload = yes\n",
		  "vm b changed: port afpacket vb -> tap vb, offload no -> yes\n", DVMQ_CONFIG_VM_PORT | DVMQ_CONFIG_VM_OFFLOAD },
		{ "[vm b]\nmac = 52:54:00:00:00:22\nvlan = 12\nweight = 1\nport = sink\n",
		  "vm b changed: mac 52:54:00:00:00:02 -> 52:54:00:00:00:22, vlan 10 -> 12, weight 100 -> 1, port afpacket "
		  "vb -> sink\n",
		  DVMQ_CONFIG_VM_MAC | DVMQ_CONFIG_VM_VLAN | DVMQ_CONFIG_VM_WEIGHT | DVMQ_CONFIG_VM_PORT | DVMQ_CONFIG_VM_DEVICE },
	};
	const char *head = "[uplink]\nport = afpacket\ndevice = eth0\n";
	char old_text[512], new_text[512];
	snprintf(old_text, sizeof(old_text), "%s[vm b]\nmac = 52:54:00:00:00:02\nvlan = 10\nport = afpacket\ndevice = vb\n",
		 head);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(new_text, sizeof(new_text), "%s%s", head, cases[i].vm_b);
		struct dvmq_config *a, *b;
		struct dvmq_config_diff *d = diff_of(old_text, new_text, &a, &b);
		CHECK_MSG(d, "case %zu", i);
		CHECK_MSG(d->n_vms == 1 && d->vms[0].kind == DVMQ_CONFIG_VM_CHANGED && d->vms[0].fields == cases[i].fields,
			  "case %zu: %zu changes, fields %x", i, d->n_vms, d->n_vms ? d->vms[0].fields : 0);
		CHECK_MSG(!d->host && !d->uplink && !d->control && !d->n_params, "case %zu: more than the VM", i);
		struct lines l = { 0 };
		dvmq_config_diff_describe(d, on_line, &l);
		CHECK_MSG(strcmp(l.all, cases[i].line) == 0, "case %zu: got '%s'", i, l.all);
		done(d, a, b);
	}
}

TEST(config_diff_each_host_uplink_control_and_engine_field)
{
	static const struct {
		const char *text, *line;
		uint32_t host, uplink, control;
		const char *param;
	} cases[] = {
		{ "[host]\ncpus = 0-7\n", "host: cpus all -> 0-7\n", DVMQ_CONFIG_HOST_CPUS, 0, 0, NULL },
		{ "[host]\nprocessors = 2\n", "host: processors 0 -> 2 (0: all)\n", DVMQ_CONFIG_HOST_PROCESSORS, 0, 0, NULL },
		{ "[host]\nbase_processor = 1\n", "host: base_processor -1 -> 1 (-1: none)\n", DVMQ_CONFIG_HOST_BASE, 0, 0, NULL },
		{ "[host]\nmax_processors = 4\n", "host: max_processors 0 -> 4 (0: no limit)\n", DVMQ_CONFIG_HOST_MAX, 0, 0,
		  NULL },
		{ "[host]\nnuma_node = 0\n", "host: numa_node -1 -> 0 (-1: any)\n", DVMQ_CONFIG_HOST_NUMA, 0, 0, NULL },
		{ "[host]\nexclude = 0,2\n", "host: exclude none -> 0,2\n", DVMQ_CONFIG_HOST_EXCLUDE, 0, 0, NULL },
		{ "[host]\nqueue_pool = 8\n", "host: queue_pool 64 -> 8\n", DVMQ_CONFIG_HOST_POOL, 0, 0, NULL },
		{ "[host]\nqueue_depth = 512\n", "host: queue_depth 4096 -> 512\n", DVMQ_CONFIG_HOST_DEPTH, 0, 0, NULL },
		{ "[host]\nmtu = 9000\n", "host: mtu 1500 -> 9000\n", DVMQ_CONFIG_HOST_MTU, 0, 0, NULL },
		{ "[host]\ninterval = 250ms\n", "host: interval 100ms -> 250ms\n", DVMQ_CONFIG_HOST_INTERVAL, 0, 0, NULL },
		{ "[uplink]\ndevice = eth1\n", "uplink: afpacket eth0 -> afpacket eth1\n", 0, DVMQ_CONFIG_UPLINK_DEVICE, 0, NULL },
		{ "[uplink]\nport = afxdp\n", "uplink: afpacket eth0 -> afxdp eth0\n", 0, DVMQ_CONFIG_UPLINK_PORT, 0, NULL },
		{ "[uplink]\nrx = ring\n", "uplink: options changed (fallback, xdp_mode, rx, ring, scenario_vms, qsize, kthread_priority, local_path or rx_hash)\n", 0,
		  DVMQ_CONFIG_UPLINK_OPTIONS, 0, NULL },
		{ "[uplink]\nring = 8MiB\n", "uplink: options changed (fallback, xdp_mode, rx, ring, scenario_vms, qsize, kthread_priority, local_path or rx_hash)\n", 0,
		  DVMQ_CONFIG_UPLINK_OPTIONS, 0, NULL },
		{ "[control]\nsocket = /tmp/t.sock\n", "control: socket /run/dvmq/dvmq.sock -> /tmp/t.sock\n", 0, 0,
		  DVMQ_CONFIG_CONTROL_SOCKET, NULL },
		{ "[control]\nmetrics = off\n", "control: metrics 127.0.0.1:9911 -> off\n", 0, 0, DVMQ_CONFIG_CONTROL_METRICS,
		  NULL },
		{ "[control]\nmetrics = 127.0.0.1:9912\n", "control: metrics 127.0.0.1:9911 -> 127.0.0.1:9912\n", 0, 0,
		  DVMQ_CONFIG_CONTROL_METRICS, NULL },
		{ "[control]\nlog_level = debug\n", "control: log_level info -> debug\n", 0, 0, DVMQ_CONFIG_CONTROL_LOG_LEVEL,
		  NULL },
		{ "[engine]\nhigh = 95%\n", "engine: high 90% -> 95%\n", 0, 0, 0, "high" },
		{ "[engine]\npolicy = ovs-alb\n", "engine: policy adaptive -> ovs-alb\n", 0, 0, 0, "policy" },
		{ "[engine]\nreturn-guard = 3s\n", "engine: return-guard 2s -> 3s\n", 0, 0, 0, "return-guard" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* the uplink section of the case replaces the base's keys it names, merged by hand */
		char old_text[256], new_text[512];
		snprintf(old_text, sizeof(old_text), "[uplink]\nport = afpacket\ndevice = eth0\n");
		if (strncmp(cases[i].text, "[uplink]\nport", 13) == 0)
			snprintf(new_text, sizeof(new_text), "%sdevice = eth0\n", cases[i].text);
		else if (strncmp(cases[i].text, "[uplink]\ndevice", 15) == 0)
			snprintf(new_text, sizeof(new_text), "%sport = afpacket\n", cases[i].text);
		else if (strncmp(cases[i].text, "[uplink]", 8) == 0)
			snprintf(new_text, sizeof(new_text), "%sport = afpacket\ndevice = eth0\n", cases[i].text);
		else
			snprintf(new_text, sizeof(new_text), "%s%s", old_text, cases[i].text);
		struct dvmq_config *a, *b;
		struct dvmq_config_diff *d = diff_of(old_text, new_text, &a, &b);
		CHECK_MSG(d, "case %zu", i);
		CHECK_MSG(d->host == cases[i].host && d->uplink == cases[i].uplink && d->control == cases[i].control,
			  "case %zu: host %x uplink %x control %x", i, d->host, d->uplink, d->control);
		CHECK_MSG(d->n_vms == 0, "case %zu: VMs changed", i);
		if (cases[i].param)
			CHECK_MSG(d->n_params == 1 && strcmp(d->params[0], cases[i].param) == 0, "case %zu: %zu params", i,
				  d->n_params);
		else
			CHECK_MSG(d->n_params == 0, "case %zu: params changed (%s)", i, d->params[0]);
		struct lines l = { 0 };
		dvmq_config_diff_describe(d, on_line, &l);
		CHECK_MSG(strcmp(l.all, cases[i].line) == 0, "case %zu: got '%s'", i, l.all);
		done(d, a, b);
	}
}

/* kernel mode's rx_hash (VMMQ) is an uplink option: a change needs a restart, and says so. */
TEST(config_diff_kernel_rx_hash)
{
	struct dvmq_config *a, *b;
	struct dvmq_config_diff *d = diff_of("[uplink]\nmode = kernel\ndevice = eth0\n",
					     "[uplink]\nmode = kernel\ndevice = eth0\nrx_hash = nic\n", &a, &b);
	CHECK(d);
	CHECK_MSG(d->uplink == DVMQ_CONFIG_UPLINK_OPTIONS && d->host == 0 && d->n_params == 0, "uplink %x", d->uplink);
	struct lines l = { 0 };
	dvmq_config_diff_describe(d, on_line, &l);
	CHECK_MSG(strstr(l.all, "rx_hash"), "got '%s'", l.all);
	done(d, a, b);
}

TEST(config_diff_sees_an_edited_scenario_and_its_traffic)
{
	CHECK(cfgt_write("scen.ini", cfgt_scenario));
	const char *text = "[uplink]\nport = gen\nscenario = scen.ini\n[vm x]\nmac = 02:00:00:00:01:01\nport = sink\n";
	struct dvmq_config *a = load(text), *b = NULL;
	CHECK(a);
	/* the same path, other rates: the VMs stay, their traffic changes */
	char edited[1024];
	snprintf(edited, sizeof(edited), "%s", cfgt_scenario);
	char *rate = strstr(edited, "load = 10kpps");
	CHECK(rate);
	memcpy(rate, "load = 20kpps", 13);
	CHECK(cfgt_write("scen.ini", edited));
	b = load(text);
	CHECK(b);
	struct dvmq_config_diff *d = NULL;
	CHECK(dvmq_config_diff(a, b, &d) == 0);
	CHECK(d->uplink == DVMQ_CONFIG_UPLINK_SCENARIO && d->host == 0 && d->n_params == 0);
	/* a and b play other traffic now; x is not the scenario's */
	CHECK(d->n_vms == 2 && d->vms[0].fields == DVMQ_CONFIG_VM_TRAFFIC && d->vms[1].fields == DVMQ_CONFIG_VM_TRAFFIC);
	CHECK(strcmp(d->vms[0].new_vm->name, "a") == 0 && strcmp(d->vms[1].new_vm->name, "b") == 0);
	struct lines l = { 0 };
	dvmq_config_diff_describe(d, on_line, &l);
	char want[512];
	snprintf(want, sizeof(want), "vm a changed: traffic from the scenario\nvm b changed: traffic from the scenario\n"
		 "uplink: scenario scen.ini was edited\n");
	CHECK_MSG(strcmp(l.all, want) == 0, "%s", l.all);
	done(d, a, b);
}

/* `dvmq run default` as a config says what examples/lab.conf says, but for what lab.conf adds
 * (its control socket and metrics port). */
TEST(config_from_scenario_default_equals_lab_conf)
{
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag diag = { { 0 } };
	CHECK_MSG(dvmq_scenario_load(DVMQ_SOURCE_ROOT "/scenarios/default.ini", &s, &diag) == 0, "%s", diag.msg);
	struct dvmq_config *from = NULL, *lab = NULL;
	CHECK(dvmq_config_from_scenario(s, &from) == 0);
	CHECK(from->from_scenario && from->uplink.port == DVMQ_CONFIG_PORT_GEN && from->uplink.scenario == s);
	CHECK(from->n_vms == 24 && from->host.processors == 8 && from->host.queue_pool == 32);
	CHECK(from->host.mtu == 9000 - 14 && from->host.interval_ns == 100000000ull && from->host.all_cpus);
	for (size_t i = 0; i < from->n_vms; i++)
		CHECK(from->vms[i].port == DVMQ_CONFIG_PORT_SINK && from->vms[i].scenario_vm == (int32_t)i &&
		      memcmp(from->vms[i].adapter.mac, s->vms[i].adapter.mac, 6) == 0);
	CHECK_MSG(dvmq_config_load(DVMQ_SOURCE_ROOT "/examples/lab.conf", &lab, &diag) == 0, "%s", diag.msg);
	struct dvmq_config_diff *d = NULL;
	CHECK(dvmq_config_diff(from, lab, &d) == 0);
	struct lines l = { 0 };
	dvmq_config_diff_describe(d, on_line, &l);
	CHECK_MSG(d->n_vms == 0 && d->host == 0 && d->uplink == 0 && d->n_params == 0, "%s", l.all);
	CHECK_MSG(d->control == (DVMQ_CONFIG_CONTROL_SOCKET | DVMQ_CONFIG_CONTROL_METRICS), "%s", l.all);
	done(d, from, lab);
}

TEST(config_from_scenario_owns_the_scenario)
{
	/* a scenario that is no file (the embedded default's case): nothing to hash, still a config */
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag diag = { { 0 } };
	CHECK_MSG(dvmq_scenario_load_text("default (embedded)", cfgt_scenario, NULL, &s, &diag) == 0, "%s", diag.msg);
	struct dvmq_config *c = NULL;
	CHECK(dvmq_config_from_scenario(s, &c) == 0);
	CHECK(c->uplink.scenario_hash == 0 && strcmp(c->path, "default (embedded)") == 0);
	CHECK(c->params.high == 0.8 && c->host.queue_pool == 8 && c->n_vms == 2 && c->vms[1].adapter.vlan == 5);
	CHECK(c->control.log_level == DVMQ_CONFIG_LOG_INFO && c->control.metrics);
	dvmq_config_free(c); /* frees s too: LeakSanitizer and ASan see a leak or a double free */
}
