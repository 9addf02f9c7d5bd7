/* dvmq_config_write (`dvmqctl config show`): a config written as a file and loaded back is the
 * same config (an empty diff), for the examples, a config with every key, a scenario's config,
 * and a config changed the way dvmqctl changes a running daemon. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "config_fixture.h"
#include "dvmq/config.h"

static int n_lines;
static char first_line[256];

static void count_line(void *ctx, const char *line)
{
	(void)ctx;
	if (n_lines++ == 0)
		snprintf(first_line, sizeof(first_line), "%s", line);
}

/* Writes c, loads the text back (relative paths from the fixture's directory) and diffs. Returns
 * the number of differences (0: the same), or -1 when the text did not load (printed). */
static int roundtrip(const struct dvmq_config *c, char **text_out)
{
	char *text = NULL;
	if (dvmq_config_write(c, "a header line\nand another", &text) != 0)
		return -1;
	struct dvmq_config *back = NULL;
	struct dvmq_diag d = { { 0 } };
	int rc = dvmq_config_load_text("written.conf", text, cfgt_dir(), &back, &d);
	if (rc) {
		printf("    reload: %s\n--\n%s--\n", d.msg, text);
		free(text);
		return -1;
	}
	struct dvmq_config_diff *df = NULL;
	n_lines = 0;
	first_line[0] = '\0';
	if (dvmq_config_diff(c, back, &df) == 0)
		dvmq_config_diff_describe(df, count_line, NULL);
	else
		n_lines = -1;
	if (n_lines)
		printf("    first difference: %s\n--\n%s--\n", first_line, text);
	dvmq_config_diff_free(df);
	dvmq_config_free(back);
	if (text_out)
		*text_out = text;
	else
		free(text);
	return n_lines;
}

TEST(config_write_the_examples_read_back_the_same)
{
	static const char *const files[] = { DVMQ_SOURCE_ROOT "/examples/host.conf", DVMQ_SOURCE_ROOT "/examples/lab.conf" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct dvmq_config *c = NULL;
		struct dvmq_diag d = { { 0 } };
		CHECK_MSG(dvmq_config_load(files[i], &c, &d) == 0, "%s", d.msg);
		char *text = NULL;
		int n = roundtrip(c, &text);
		dvmq_config_free(c);
		CHECK_MSG(n == 0, "%s: %d differences", files[i], n);
		CHECK(strncmp(text, "# a header line\n# and another\n\n[host]\n", 38) == 0);
		free(text);
	}
}

#define EVERY_KEY                                                                                               \
	"[host]\ncpus = 0-3,6\nprocessors = 4\nbase_processor = 1\nmax_processors = 2\nnuma_node = 0\n"          \
	"exclude = 2\nqueue_pool = 12\nqueue_depth = 512\nmtu = 9000\ninterval = 250ms\n"                      \
	"[engine]\npolicy = dynamic\nhigh = 85%\nlow = 10%\ndwell = 2s\n"                                      \
	"[uplink]\nport = afxdp\ndevice = eth1\nfallback = none\nxdp_mode = generic\nring = 8MiB\n"            \
	"[vm a]\nmac = 52:54:00:00:00:01\nvlan = 7\nweight = 30\nmax-queues = 4\nport = tap\ndevice = ta\n"     \
	"offload = yes\nnetns = ct1\n"                                                                       \
	"[vm b]\nmac = 52:54:00:00:00:02\nweight = 0\nport = afpacket\ndevice = vb\n"                          \
	"[vm c]\nmac = 52:54:00:00:00:03\nport = sink\n"                                                       \
	"[control]\nsocket = /tmp/x.sock\nmetrics = [::1]:9000\nlog_level = debug\n"

TEST(config_write_every_key_reads_back_the_same)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(cfgt_load(EVERY_KEY, &c, &d) == 0, "%s", d.msg);
	int n = roundtrip(c, NULL);
	dvmq_config_free(c);
	CHECK_MSG(n == 0, "%d differences", n);
	/* afpacket with a ring, metrics off */
	CHECK_MSG(cfgt_load("[uplink]\nport = afpacket\ndevice = eth1\nrx = ring\nring = 1MiB\n[control]\nmetrics = off\n",
			    &c, &d) == 0, "%s", d.msg);
	n = roundtrip(c, NULL);
	dvmq_config_free(c);
	CHECK_MSG(n == 0, "%d differences", n);
}

/* a gen uplink playing a scenario, its VMs kept, one of them overridden, one VM of the file's */
TEST(config_write_a_scenario_and_its_overrides_read_back_the_same)
{
	CHECK(cfgt_write("scen.ini", cfgt_scenario) != NULL);
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(cfgt_load("[uplink]\nport = gen\nscenario = scen.ini\n[engine]\nlow = 5%\n"
			    "[vm b]\nweight = 20\n[vm x]\nmac = 52:54:00:00:00:09\nport = sink\n", &c, &d) == 0, "%s", d.msg);
	char *text = NULL;
	int n = roundtrip(c, &text);
	dvmq_config_free(c);
	CHECK_MSG(n == 0, "%d differences", n);
	/* the scenario's high 80% is where the file starts: not written; low is */
	CHECK(!strstr(text, "high =") && strstr(text, "low = 5%") && strstr(text, "[vm b]\nweight = 20\n") &&
	      !strstr(text, "[vm a]"));
	free(text);
}

/* what dvmqctl changes in a running daemon (a VM added, a weight, the policy, the pool) is in
 * the text, and only that differs from the file it started with */
TEST(config_write_shows_runtime_changes)
{
	struct dvmq_config *c = NULL, *file = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK(cfgt_load(EVERY_KEY, &c, &d) == 0 && cfgt_load(EVERY_KEY, &file, &d) == 0);
	struct dvmq_config_vm *vms = realloc(c->vms, (c->n_vms + 1) * sizeof(*vms));
	CHECK(vms != NULL);
	c->vms = vms;
	struct dvmq_config_vm *nv = &c->vms[c->n_vms++];
	memset(nv, 0, sizeof(*nv));
	snprintf(nv->name, sizeof(nv->name), "added");
	memcpy(nv->adapter.mac, (const uint8_t[]){ 0x52, 0x54, 0, 0, 0, 0x20 }, 6);
	nv->adapter.weight = 100;
	nv->port = DVMQ_CONFIG_PORT_AFPACKET;
	snprintf(nv->device, sizeof(nv->device), "vnet9");
	nv->scenario_vm = -1;
	c->vms[0].adapter.weight = 55;
	c->params.policy = DVMQ_POLICY_ADAPTIVE;
	c->host.queue_pool = 3;
	char *text = NULL;
	int n = roundtrip(c, &text);
	CHECK_MSG(n == 0, "%d differences", n);
	CHECK(strstr(text, "[vm added]\nmac = 52:54:00:00:00:20\nweight = 100\nport = afpacket\ndevice = vnet9\n") &&
	      strstr(text, "weight = 55") && strstr(text, "policy = adaptive") && strstr(text, "queue_pool = 3"));
	free(text);
	struct dvmq_config_diff *df = NULL;
	CHECK(dvmq_config_diff(file, c, &df) == 0);
	n_lines = 0;
	dvmq_config_diff_describe(df, count_line, NULL);
	dvmq_config_diff_free(df);
	CHECK_MSG(n_lines == 4, "%d lines from the file to the running config", n_lines);
	dvmq_config_free(c);
	dvmq_config_free(file);
}

/* kernel mode: no port, its own uplink keys, VMs named by a device or none */
TEST(config_write_kernel_mode_reads_back_the_same)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag d = { { 0 } };
	CHECK_MSG(cfgt_load("[uplink]\nmode = kernel\ndevice = eth1\nxdp_mode = generic\nqsize = 512\nkthread_priority = 10\n"
			    "rx_hash = nic\nlocal_path = off\n[vm a]\nmac = 52:54:00:00:00:01\ndevice = vnet1\n[vm b]\nmac = 52:54:00:00:00:02\nvlan = 3\n"
			    "max-queues = 2\n", &c, &d) == 0, "%s", d.msg);
	char *text = NULL;
	int n = roundtrip(c, &text);
	dvmq_config_free(c);
	CHECK_MSG(n == 0, "%d differences", n);
	CHECK(strstr(text, "mode = kernel\ndevice = eth1\n") && strstr(text, "rx_hash = nic\n") && strstr(text, "local_path = off\n") &&
	      !strstr(text, "port ="));
	free(text);
}
