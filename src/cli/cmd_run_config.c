/* `dvmq run --config FILE --check`: the host configuration validated as the daemon will take it
 * (the file, then this machine), and a short summary or one JSON object. Nothing is started and
 * no device is touched, so it needs no privilege. Exit: 0 valid, 2 invalid (file:line on stderr),
 * 1 when dvmq itself failed (memory, the machine could not be read).
 * Also the machine step the daemon runs before it starts (cli_config_machine), with the same
 * messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dvmq/config_json.h"
#include "dvmq/port.h"
#include "dvmq/ctl_state.h"
#include "dvmq/units.h"
#ifdef DVMQ_HAVE_KDP
#include "dvmq/kdp.h"
#endif

/* Lists at most this many VMs in the table (the JSON lists all). */
#define SUMMARY_VMS 40

struct notes {
	json_t *list; /* --json: collected */
};

static void on_note(void *ctx, const char *line)
{
	struct notes *n = ctx;
	fprintf(stderr, "dvmq run: %s\n", line);
	if (n->list)
		json_array_append_new(n->list, json_string(line));
}

static void print_host(const struct dvmq_config *c, const struct dvmq_config_cpus *cpus)
{
	const struct dvmq_config_host *h = &c->host;
	printf("host       %u processor%s on CPU%s", cpus->n, cpus->n == 1 ? "" : "s", cpus->n == 1 ? "" : "s");
	for (uint32_t i = 0; i < cpus->n && i < 64; i++)
		printf("%s%u", i ? "," : " ", cpus->ids[i]);
	printf("%s (cpus = %s", cpus->n > 64 ? ",..." : "", h->all_cpus ? "all" : "a list");
	if (cpus->wanted > cpus->n)
		printf(", capped from %u", cpus->wanted);
	printf(")\n           processor set: base_processor ");
	h->has_base ? printf("%u", h->base_processor) : printf("-");
	printf(", max_processors ");
	h->max_processors ? printf("%u", h->max_processors) : printf("-");
	printf(", numa_node ");
	h->numa_node >= 0 ? printf("%d", h->numa_node) : printf("any");
	printf(", exclude ");
	for (uint32_t i = 0; i < h->n_excluded; i++)
		printf("%s%u", i ? "," : "", h->excluded[i]);
	char iv[32];
	dvmq_units_time_format(h->interval_ns, iv, sizeof(iv));
	printf("%s\n           queue_pool %u, queue_depth %u, mtu %u, interval %s\n", h->n_excluded ? "" : "none",
	       h->queue_pool, h->queue_depth, h->mtu, iv);
}

static void print_engine(const struct dvmq_engine_params *p)
{
	printf("engine    ");
	int col = 10;
	for (const char *const *n = dvmq_engine_param_names(); *n; n++) {
		char v[64], item[96];
		if (dvmq_engine_param_format(p, *n, v, sizeof(v)))
			continue;
		int w = snprintf(item, sizeof(item), " %s=%s", *n, v);
		if (col + w > 96) {
			printf("\n          ");
			col = 10;
		}
		fputs(item, stdout);
		col += w;
	}
	putchar('\n');
}

static void print_uplink(const struct dvmq_config_uplink *u)
{
	static const char *const modes[] = { "auto", "native", "generic" };
	printf("uplink     %s", dvmq_config_port_name(u->port));
	if (u->port == DVMQ_CONFIG_PORT_AFXDP)
		printf(" %s (xdp_mode %s, %s)", u->device, modes[u->xdp_mode],
		       u->fallback ? "falls back to afpacket" : "no fallback");
	else if (u->port == DVMQ_CONFIG_PORT_AFPACKET)
		printf(" %s (rx %s)", u->device, u->rx == DVMQ_CONFIG_RX_RING ? "ring" : "copy");
	else if (u->port == DVMQ_CONFIG_PORT_KERNEL)
		printf(" %s (mode kernel: XDP + cpumap steering of the host's own datapath, %s XDP, qsize %u)", u->device,
		       modes[u->xdp_mode], u->qsize ? u->qsize : 2048);
	else if (u->port == DVMQ_CONFIG_PORT_GEN)
		printf(" playing %s (%zu VMs%s)", u->path, u->scenario ? u->scenario->n_vms : 0,
		       u->scenario_vms ? ", each an adapter" : "");
	else
		printf(" replaying %s", u->path);
	putchar('\n');
}

static void print_vms(const struct dvmq_config *c)
{
	printf("vms        %zu\n", c->n_vms);
	if (c->n_vms)
		printf("  %-20s %-17s %4s %6s  %s\n", "NAME", "MAC", "VLAN", "WEIGHT", "PORT");
	for (size_t i = 0; i < c->n_vms && i < SUMMARY_VMS; i++) {
		const struct dvmq_config_vm *vm = &c->vms[i];
		const uint8_t *m = vm->adapter.mac;
		printf("  %-20s %02x:%02x:%02x:%02x:%02x:%02x %4u %6u  %s%s%s%s\n", vm->name, m[0], m[1], m[2], m[3], m[4],
		       m[5], vm->adapter.vlan, vm->adapter.weight, dvmq_config_port_name(vm->port), vm->device[0] ? " " : "",
		       vm->device, vm->offload ? " (offload)" : "");
	}
	if (c->n_vms > SUMMARY_VMS)
		printf("  ... %zu more (--json lists every one)\n", c->n_vms - SUMMARY_VMS);
}

/* Kernel mode: what it needs (native XDP and XDP_REDIRECT in the uplink's driver, BPF programs and
 * a cpumap allowed here, tcx for moves that wait for GRO) and what this machine lacks, probed
 * without attaching anything; the veth checksum line where it applies. Lines go to `line`, and
 * into obj (--json) when given. Returns how many things this machine lacks. */
static int kernel_needs(const struct dvmq_config *c, json_t *obj, void (*line)(const char *))
{
#ifdef DVMQ_HAVE_KDP
	struct dvmq_kdp_probe p;
	dvmq_kdp_probe(c->uplink.device, &p);
	char buf[600];
	int lacks = 0;
	bool generic = c->uplink.xdp_mode == DVMQ_CONFIG_XDP_GENERIC;
	if (!p.device) {
		snprintf(buf, sizeof(buf), "device %s does not exist here now: dvmq attaches to it when it starts",
			 c->uplink.device);
	} else if (!p.features_known) {
		snprintf(buf, sizeof(buf), "device %s: this kernel does not report XDP features (Linux 6.3+): native XDP "
			 "is tried when dvmq starts", c->uplink.device);
	} else {
		/* the driver's advertised features (netlink): only an attach proves them, and --check
		 * attaches nothing (a virtio-net device advertises native XDP it may not deliver) */
		snprintf(buf, sizeof(buf), "device %s: the driver advertises native XDP %s, redirect %s, frags %s; stripped VLAN tags %s, RSS hash %s%s",
			 c->uplink.device, p.native ? "yes" : "NO", p.redirect ? "yes" : "NO", p.frags ? "yes" : "no",
			 p.vlan_kfunc ? "put back" : "not readable (tagged frames need rxvlan off)",
			 p.rx_hash ? "handed to XDP" : c->uplink.rx_hash_nic ? "not handed to XDP (rx_hash = nic: Toeplitz instead)"
									  : "not handed to XDP",
			 !generic && (!p.native || !p.redirect) ? "; the driver lacks native XDP redirect: xdp_mode = "
								    "generic (slow), or a driver with XDP"
								  : "");
		lacks += !generic && (!p.native || !p.redirect);
	}
	line(buf);
	if (obj)
		json_object_set_new(obj, "device", json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b}", "exists", p.device,
							       "features_known", p.features_known, "native", p.native,
							       "redirect", p.redirect, "frags", p.frags, "vlan_kfunc",
							       p.vlan_kfunc, "rx_hash", p.rx_hash));
	snprintf(buf, sizeof(buf), "BPF programs: %s; cpumap: %s; tcx: %s", p.bpf_errno ? strerror(p.bpf_errno) : "allowed",
		 p.cpumap_errno ? strerror(p.cpumap_errno) : "allowed",
		 p.tcx ? "yes (moves wait for GRO too)" : "no, Linux < 6.6 (moves wait for the cpumap's count only)");
	line(buf);
	if (p.bpf_errno || p.cpumap_errno) {
		snprintf(buf, sizeof(buf), "kernel mode needs %s here (this process lacks it: run as root, or with the "
			 "systemd unit's capabilities)", p.cpumap_errno && !p.bpf_errno
			 ? "CAP_NET_ADMIN for the cpumap (CAP_SYS_ADMIN before Linux 6.5)" : "CAP_BPF and CAP_NET_ADMIN");
		line(buf);
		lacks++;
	}
	if (obj)
		json_object_set_new(obj, "bpf", json_pack("{s:s, s:s, s:b}", "programs",
							    p.bpf_errno ? strerror(p.bpf_errno) : "allowed", "cpumap",
							    p.cpumap_errno ? strerror(p.cpumap_errno) : "allowed", "tcx",
							    p.tcx));
	if (p.veth_note[0])
		line(p.veth_note);
	if (p.device && !p.gro) {
		snprintf(buf, sizeof(buf), "GRO is off on %s: the cpumap kthreads do no GRO for its frames either "
			 "(`ethtool -K %s gro on`)", c->uplink.device, c->uplink.device);
		line(buf);
	}
	if (obj) {
		json_object_set_new(obj, "veth_note", p.veth_note[0] ? json_string(p.veth_note) : json_null());
		json_object_set_new(obj, "gro", json_boolean(p.gro));
		json_object_set_new(obj, "lacks", json_integer(lacks));
	}
	return lacks;
#else
	line("dvmq was built without kernel mode (meson -Dxdp: libbpf and clang): it cannot run this file");
	if (obj)
		json_object_set_new(obj, "built", json_false());
	return 1;
#endif
}

static void kernel_line(const char *l)
{
	printf("kernel     %s\n", l);
}

static void kernel_line_quiet(const char *l)
{
	(void)l;
}

static void print_summary(const struct dvmq_config *c, const struct dvmq_config_cpus *cpus)
{
	printf("%s: valid\n", c->path);
	print_host(c, cpus);
	print_engine(&c->params);
	print_uplink(&c->uplink);
	print_vms(c);
	char metrics[80];
	dvmq_config_metrics_format(&c->control, metrics, sizeof(metrics));
	printf("control    socket %s, metrics %s, log_level %s\n", c->control.socket, metrics,
	       dvmq_config_log_level_name(c->control.log_level));
	uint64_t caps = dvmq_config_capabilities(c);
	printf("needs     ");
	for (int cap = 0; cap < 64; cap++)
		if (caps >> cap & 1)
			printf(" %s", dvmq_config_capability_name(cap));
	printf("%s\n", caps ? "" : " no privileges");
	if (c->uplink.port == DVMQ_CONFIG_PORT_KERNEL)
		kernel_needs(c, NULL, kernel_line);
}

/* Prints the failure: on stderr, and with --json as an object on stdout too. */
static int invalid(bool json, const char *path, const char *msg, int code)
{
	fprintf(stderr, "dvmq run: %s\n", msg);
	if (json) {
		json_t *j = json_pack("{s:s, s:b, s:s}", "file", path, "valid", 0, "error", msg);
		if (j && json_dumpf(j, stdout, JSON_INDENT(2)) == 0)
			fputc('\n', stdout);
		json_decref(j);
	}
	return code;
}

/* Keeps the first n CPUs this process may use (`dvmq run --cpus N`). */
static void keep_cpus(struct dvmq_machine *m, uint32_t n)
{
	uint32_t kept = 0;
	for (uint32_t c = 0; c < DVMQ_MAX_PROCESSORS; c++) {
		uint64_t bit = 1ull << (c % 64);
		if (!(m->allowed[c / 64] & bit) || !(m->online[c / 64] & bit))
			continue;
		if (kept < n)
			kept++;
		else
			m->allowed[c / 64] &= ~bit;
	}
}

int cli_config_machine(const struct dvmq_config *c, uint32_t max_cpus, struct dvmq_config_cpus *cpus)
{
	struct dvmq_machine *m = malloc(sizeof(*m));
	struct dvmq_diag diag = { { 0 } };
	struct notes notes = { NULL };
	int code = 1;
	if (!m) {
		fprintf(stderr, "dvmq run: out of memory\n");
		return 1;
	}
	int rc = dvmq_machine_probe(m);
	if (rc) {
		fprintf(stderr, "dvmq run: cannot read this machine's CPUs: %s\n", strerror(-rc));
		goto out;
	}
	if (max_cpus)
		keep_cpus(m, max_cpus);
	rc = dvmq_config_check_machine(c, m, cpus, on_note, &notes, &diag);
	if (rc)
		fprintf(stderr, "dvmq run: %s\n", rc == -ENOMEM ? "out of memory" : diag.msg);
	code = rc == 0 ? 0 : rc == -ENOMEM ? 1 : 2;
out:
	free(m);
	return code;
}

/* An afxdp uplink on a veth whose peer leaves checksums to offload: said at --check as at start. */
static void veth_csum_note(const struct dvmq_config *c, struct notes *notes)
{
	const struct dvmq_config_uplink *u = &c->uplink;
	struct dvmq_veth_peer vp;
	char line[400], note[DVMQ_CONFIG_PATH_MAX + 520];
	if (u->port != DVMQ_CONFIG_PORT_AFXDP || !u->device[0] || dvmq_port_veth_peer(u->device, &vp) != 0)
		return;
	dvmq_port_veth_csum_line(u->device, &vp, line, sizeof(line));
	if (!line[0])
		return;
	snprintf(note, sizeof(note), "%s:%d: note: %s%s", c->path, u->line_device ? u->line_device : 1, line,
		 vp.peer_here && u->fallback ? " (with fallback = afpacket, as here, dvmq runs afpacket on it)" : "");
	on_note(notes, note);
}

int cli_check_config(const char *path, bool json)
{
	struct dvmq_config *c = NULL;
	struct dvmq_diag diag = { { 0 } };
	int rc = dvmq_config_load(path, &c, &diag);
	if (rc)
		return invalid(json, path, rc == -ENOMEM ? "out of memory" : diag.msg, rc == -ENOMEM ? 1 : 2);
	struct dvmq_machine *m = malloc(sizeof(*m));
	struct notes notes = { json ? json_array() : NULL };
	struct dvmq_config_cpus cpus = { 0 };
	int code = 1;
	if (!m || (json && !notes.list)) {
		fprintf(stderr, "dvmq run: out of memory\n");
		goto out;
	}
	if ((rc = dvmq_machine_probe(m))) {
		fprintf(stderr, "dvmq run: cannot read this machine's CPUs: %s\n", strerror(-rc));
		goto out;
	}
	rc = dvmq_config_check_machine(c, m, &cpus, on_note, &notes, &diag);
	if (rc) {
		code = invalid(json, path, diag.msg, rc == -ENOMEM ? 1 : 2);
		goto out;
	}
	veth_csum_note(c, &notes);
	code = 0;
	if (json) {
		json_t *j = dvmq_config_json(c, &cpus);
		if (j) {
			json_object_set_new(j, "valid", json_true());
			json_object_set(j, "notes", notes.list);
			if (c->uplink.port == DVMQ_CONFIG_PORT_KERNEL) {
				json_t *k = json_object();
				kernel_needs(c, k, kernel_line_quiet);
				json_object_set_new(j, "kernel", k);
			}
		}
		if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0)
			code = 1;
		else
			fputc('\n', stdout);
		json_decref(j);
	} else {
		print_summary(c, &cpus);
	}
out:
	json_decref(notes.list);
	dvmq_config_cpus_free(&cpus);
	free(m);
	dvmq_config_free(c);
	return code;
}
