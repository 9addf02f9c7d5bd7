/* The second half of loading a config: what single keys cannot check. The uplink's keys against
 * its port, the gen scenario (loaded here, its [host] and [engine] under the file's), the
 * [engine] lines applied in file order, the VM adapters (the scenario's, then the file's, a
 * section with a scenario VM's name overriding that VM), and the processor set where the file
 * names CPUs. Also dvmq_config_from_scenario, the same result built from a scenario alone.
 * Invariant on success: see include/dvmq/config.h; names, MAC+VLAN and devices are unique
 * (checked through hash tables: a file of 65536 VMs costs no quadratic pass). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define DEFAULT_SOCKET "/run/dvmq/dvmq.sock"
#define DEFAULT_METRICS_ADDRESS "127.0.0.1"
#define DEFAULT_METRICS_PORT 9911

/* Defaults for what the file did not say (ps NULL: nothing was said). */
static void defaults(struct dvmq_config *c, const struct cfg_parse *ps)
{
	struct dvmq_config_host *h = &c->host;
	h->all_cpus = h->all_cpus || !(h->set & DVMQ_CONFIG_HOST_CPUS);
	if (!(h->set & DVMQ_CONFIG_HOST_NUMA))
		h->numa_node = -1;
	if (!(h->set & DVMQ_CONFIG_HOST_POOL))
		h->queue_pool = 64;
	if (!(h->set & DVMQ_CONFIG_HOST_DEPTH))
		h->queue_depth = 4096;
	if (!(h->set & DVMQ_CONFIG_HOST_MTU))
		h->mtu = 1500;
	if (!(h->set & DVMQ_CONFIG_HOST_INTERVAL))
		h->interval_ns = 100000000ull;
	struct dvmq_config_control *k = &c->control;
	if (!k->socket[0])
		snprintf(k->socket, sizeof(k->socket), "%s", DEFAULT_SOCKET);
	if (!ps || !ps->ctl_log_level)
		k->log_level = DVMQ_CONFIG_LOG_INFO;
	if (!ps || !ps->ctl_metrics) {
		k->metrics = true;
		snprintf(k->metrics_address, sizeof(k->metrics_address), "%s", DEFAULT_METRICS_ADDRESS);
		k->metrics_port = DEFAULT_METRICS_PORT;
	}
}

static uint64_t mac_u64(const uint8_t *mac)
{
	uint64_t m = 0;
	for (int b = 0; b < 6; b++)
		m = m << 8 | mac[b];
	return m;
}

uint64_t cfg_hash_u64(uint64_t x)
{
	x *= 0x9E3779B97F4A7C15ull;
	return x ^ (x >> 29);
}

uint64_t cfg_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

int cfg_tab_init(struct cfg_tab *t, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	t->slot = calloc(cap, sizeof(*t->slot));
	t->mask = cap - 1;
	return t->slot ? 0 : -ENOMEM;
}

uint32_t cfg_tab_find(const struct cfg_tab *t, uint64_t h, cfg_match_fn match, const void *ctx)
{
	for (size_t j = h & t->mask; t->slot[j]; j = (j + 1) & t->mask)
		if (match(ctx, t->slot[j] - 1))
			return t->slot[j] - 1;
	return UINT32_MAX;
}

void cfg_tab_add(struct cfg_tab *t, uint64_t h, uint32_t idx)
{
	size_t j = h & t->mask;
	while (t->slot[j])
		j = (j + 1) & t->mask;
	t->slot[j] = idx + 1;
}

bool cfg_same_name(const void *ctx, uint32_t idx)
{
	const struct cfg_vm_key *k = ctx;
	return strcmp(k->vms[idx].name, k->key->name) == 0;
}

static bool same_addr(const void *ctx, uint32_t idx)
{
	const struct cfg_vm_key *k = ctx;
	return k->vms[idx].adapter.vlan == k->key->adapter.vlan && memcmp(k->vms[idx].adapter.mac, k->key->adapter.mac, 6) == 0;
}

static bool same_device(const void *ctx, uint32_t idx)
{
	const struct cfg_vm_key *k = ctx;
	return strcmp(k->vms[idx].device, k->key->device) == 0;
}

/* Adds vms[i] under hash h unless an equal one is there: returns that one's index, or
 * UINT32_MAX when added. */
static uint32_t tab_put(struct cfg_tab *t, uint64_t h, const struct dvmq_config_vm *vms, uint32_t i, cfg_match_fn same)
{
	struct cfg_vm_key k = { vms, &vms[i] };
	uint32_t o = cfg_tab_find(t, h, same, &k);
	if (o == UINT32_MAX)
		cfg_tab_add(t, h, i);
	return o;
}

static const char *port_of(const struct dvmq_config_uplink *u)
{
	return dvmq_config_port_name(u->port);
}

/* Kernel mode's uplink: a device dvmq puts its XDP program on, no port, none of the ports' keys. */
static int check_uplink_kernel(struct cfg_parse *ps)
{
	struct dvmq_config_uplink *u = &ps->c->uplink;
	if (ps->up_port)
		return cfg_fail(ps, ps->line_up_port, "mode = kernel takes no port: dvmq puts its XDP program on device "
				"and the host's bridge keeps switching (leave port out, or mode = switch)");
	u->port = DVMQ_CONFIG_PORT_KERNEL;
	if (!u->device[0])
		return cfg_fail(ps, ps->line_up_mode, "mode = kernel needs device = INTERFACE (the uplink NIC the "
				"host's bridge uses, such as eth0)");
	if (u->line_file)
		return cfg_fail(ps, u->line_file, "%s is for port %s; kernel mode has no port", ps->up_scenario ? "scenario" : "file",
				ps->up_scenario ? "gen" : "pcap");
	const struct {
		bool given;
		int line;
		const char *key, *port;
	} port_keys[] = { { ps->up_scenario_vms, ps->line_up_scenario_vms, "scenario_vms", "gen" },
			  { ps->up_fallback, ps->line_up_fallback, "fallback", "afxdp" },
			  { ps->up_rx, ps->line_up_rx, "rx", "afpacket" },
			  { ps->up_ring, ps->line_up_ring, "ring", "afxdp and afpacket" } };
	for (size_t i = 0; i < sizeof(port_keys) / sizeof(port_keys[0]); i++)
		if (port_keys[i].given)
			return cfg_fail(ps, port_keys[i].line, "%s is for port %s; kernel mode has no port (its keys: device, "
					"xdp_mode, qsize, kthread_priority, rx_hash, local_path)", port_keys[i].key, port_keys[i].port);
	if (ps->up_xdp_mode && u->xdp_mode == DVMQ_CONFIG_XDP_AUTO)
		return cfg_fail(ps, ps->line_up_xdp_mode, "xdp_mode auto is for port afxdp: kernel mode attaches native XDP, "
				"or generic XDP only when asked (want native or generic)");
	if (!ps->up_xdp_mode)
		u->xdp_mode = DVMQ_CONFIG_XDP_NATIVE;
	u->scenario_vms = true;
	return 0;
}

/* The uplink's keys against its port. */
static int check_uplink(struct cfg_parse *ps)
{
	struct dvmq_config_uplink *u = &ps->c->uplink;
	u->line = ps->uplink_line;
	/* the shipped /etc/dvmq/dvmq.conf: every line a comment, inert until edited */
	if (!ps->uplink_line && !ps->host_line && !ps->n_vms && !ps->n_engine && !ps->ctl_socket && !ps->ctl_metrics &&
	    !ps->ctl_log_level)
		return cfg_fail(ps, 1, "nothing is configured (no section): uncomment and edit the file (dvmq.conf(5)), "
				"starting with [uplink]");
	if (!ps->uplink_line)
		return cfg_fail(ps, 1, "no [uplink] section: a host needs an uplink (port = afxdp, afpacket, pcap or "
			       "gen)");
	if (ps->up_kernel)
		return check_uplink_kernel(ps);
	if (ps->up_qsize || ps->up_kprio)
		return cfg_fail(ps, ps->up_qsize ? ps->line_up_qsize : ps->line_up_kprio, "%s is for mode = kernel (%s; "
				"this uplink is %s)", ps->up_qsize ? "qsize" : "kthread_priority",
				ps->up_qsize ? "the cpumap ring" : "the cpumap kthreads", ps->up_port ? port_of(u) : "a switch port");
	if (ps->up_rx_hash)
		return cfg_fail(ps, ps->line_up_rx_hash, "rx_hash is for mode = kernel (the XDP program's hash; this uplink "
				"is %s: dvmq hashes with Toeplitz)", ps->up_port ? port_of(u) : "a switch port");
	if (ps->up_local_path)
		return cfg_fail(ps, ps->line_up_local_path, "local_path is for mode = kernel (the XDP program's local "
				"path; this uplink is %s)", ps->up_port ? port_of(u) : "a switch port");
	if (!ps->up_port)
		return cfg_fail(ps, ps->uplink_line, "[uplink] needs port = gen, pcap, afxdp or afpacket (or mode = kernel "
				"with device = INTERFACE)");
	bool kernel = u->port == DVMQ_CONFIG_PORT_AFXDP || u->port == DVMQ_CONFIG_PORT_AFPACKET;
	if (kernel && !u->device[0])
		return cfg_fail(ps, ps->uplink_line, "port %s needs device = INTERFACE (the uplink NIC, such as eth0)",
				port_of(u));
	if (!kernel && u->device[0])
		return cfg_fail(ps, u->line_device, "port %s takes no device (device is for afxdp and afpacket)",
				port_of(u));
	if (u->port == DVMQ_CONFIG_PORT_GEN && !ps->up_scenario)
		return cfg_fail(ps, u->line_file ? u->line_file : ps->uplink_line,
				"port gen plays a scenario: it needs scenario = FILE");
	if (u->port == DVMQ_CONFIG_PORT_PCAP && (!u->line_file || ps->up_scenario))
		return cfg_fail(ps, u->line_file ? u->line_file : ps->uplink_line,
				"port pcap replays a capture: it needs file = CAPTURE.pcap");
	if (u->line_file && !ps->up_scenario && u->port != DVMQ_CONFIG_PORT_PCAP)
		return cfg_fail(ps, u->line_file, "file is for port pcap (this uplink is %s)", port_of(u));
	if (ps->up_scenario && u->port != DVMQ_CONFIG_PORT_GEN)
		return cfg_fail(ps, u->line_file, "scenario is for port gen (this uplink is %s)", port_of(u));
	if (ps->up_scenario_vms && u->port != DVMQ_CONFIG_PORT_GEN)
		return cfg_fail(ps, ps->line_up_scenario_vms, "scenario_vms is for port gen (this uplink is %s)", port_of(u));
	if (ps->up_fallback && u->port != DVMQ_CONFIG_PORT_AFXDP)
		return cfg_fail(ps, ps->line_up_fallback, "fallback is for port afxdp (this uplink is %s)", port_of(u));
	if (ps->up_xdp_mode && u->port != DVMQ_CONFIG_PORT_AFXDP)
		return cfg_fail(ps, ps->line_up_xdp_mode, "xdp_mode is for port afxdp (this uplink is %s)", port_of(u));
	if (ps->up_rx && !kernel)
		return cfg_fail(ps, ps->line_up_rx, "rx is for port afpacket (and afxdp's fallback; this uplink is %s)",
				port_of(u));
	if (ps->up_ring && !kernel)
		return cfg_fail(ps, ps->line_up_ring, "ring is for ports afxdp and afpacket (this uplink is %s)", port_of(u));
	if (!ps->up_fallback)
		u->fallback = true;
	if (!ps->up_scenario_vms)
		u->scenario_vms = true;
	return 0;
}

/* The path without "..", links or "./" when it resolves (so a reload compares the file, not its
 * spelling); unchanged when it does not. */
static void canonical(char path[DVMQ_CONFIG_PATH_MAX])
{
	char *real = realpath(path, NULL);
	if (real && strlen(real) < DVMQ_CONFIG_PATH_MAX)
		strcpy(path, real);
	free(real);
}

static int load_scenario(struct cfg_parse *ps)
{
	struct dvmq_config_uplink *u = &ps->c->uplink;
	if (u->port != DVMQ_CONFIG_PORT_GEN)
		return 0;
	struct dvmq_diag d = { { 0 } };
	int rc = dvmq_scenario_load(u->path, &u->scenario, &d);
	canonical(u->path);
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return cfg_fail(ps, u->line_file, "scenario does not load: %s", d.msg);
	u->scenario_hash = cfg_file_hash(u->path);
	return 0;
}

/* Largest L3 payload the scenario's frames need (as `dvmq run` sizes its rings). */
static uint32_t scenario_mtu(const struct dvmq_scenario *s)
{
	uint32_t mtu = 1500;
	for (size_t i = 0; i < s->n_vms; i++)
		if (s->vms[i].frame_bytes > mtu + 14)
			mtu = s->vms[i].frame_bytes - 14;
	return mtu > 65000 ? 65000 : mtu;
}

/* Fills the host fields the file left out from the scenario's [host]. Its processors are
 * numbered from 0 as CPUs are: processor N is CPU N, as `dvmq run SCENARIO` places them. */
static int host_from_scenario(struct dvmq_config_host *h, const struct dvmq_scenario *s)
{
	const struct dvmq_host *sh = &s->host;
	if (!(h->set & DVMQ_CONFIG_HOST_PROCESSORS))
		h->processors = sh->n_processors;
	if (!(h->set & DVMQ_CONFIG_HOST_BASE) && sh->base_processor) {
		h->has_base = true;
		h->base_processor = sh->base_processor;
	}
	if (!(h->set & DVMQ_CONFIG_HOST_MAX))
		h->max_processors = sh->max_processors;
	if (!(h->set & DVMQ_CONFIG_HOST_EXCLUDE) && sh->n_excluded) {
		free(h->excluded);
		h->excluded = calloc(sh->n_excluded, sizeof(*h->excluded));
		if (!h->excluded)
			return -ENOMEM;
		/* the scenario lists them as written; a config keeps them ascending and distinct */
		uint32_t n = 0;
		for (uint32_t id = 0; id < DVMQ_MAX_PROCESSORS && n < sh->n_excluded; id++)
			for (uint32_t i = 0; i < sh->n_excluded; i++)
				if (sh->excluded[i] == id) {
					h->excluded[n++] = id;
					break;
				}
		h->n_excluded = n;
	}
	if (!(h->set & DVMQ_CONFIG_HOST_POOL))
		h->queue_pool = sh->queue_pool;
	if (!(h->set & DVMQ_CONFIG_HOST_DEPTH))
		h->queue_depth = sh->queue_depth;
	if (!(h->set & DVMQ_CONFIG_HOST_INTERVAL))
		h->interval_ns = sh->interval_ns;
	if (!(h->set & DVMQ_CONFIG_HOST_MTU))
		h->mtu = scenario_mtu(s);
	return 0;
}

static int apply_engine(struct cfg_parse *ps)
{
	struct dvmq_config *c = ps->c;
	if (c->uplink.scenario)
		c->params = c->uplink.scenario->params;
	else
		dvmq_engine_params_default(&c->params);
	/* in any order that works, as dvmqctl policy set takes them: `return-window = 1s` before
	 * `return-guard = 1s` is refused alone (the window is below the default guard), not together;
	 * passes until one makes no progress, then the first key still refused is the message */
	bool *done = calloc(ps->n_engine ? ps->n_engine : 1, sizeof(*done));
	if (!done)
		return -ENOMEM;
	size_t left = ps->n_engine;
	for (bool progress = true; left && progress;) {
		progress = false;
		for (size_t i = 0; i < ps->n_engine; i++)
			if (!done[i] && dvmq_engine_param_set(&c->params, ps->engine[i].key, ps->engine[i].value) == 0) {
				done[i] = progress = true;
				left--;
			}
	}
	int rc = 0;
	for (size_t i = 0; i < ps->n_engine && !rc; i++) {
		const struct cfg_engine_key *k = &ps->engine[i];
		if (!done[i])
			rc = cfg_fail(ps, k->line, "bad value '%s' for engine parameter '%s': %s", k->value, k->key,
				      dvmq_engine_param_problem(&c->params, k->key, k->value));
	}
	free(done);
	return rc;
}

static void scenario_vm(struct dvmq_config_vm *vm, const struct dvmq_scenario *s, size_t i)
{
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->name, sizeof(vm->name), "%s", s->vms[i].name);
	vm->adapter = s->vms[i].adapter;
	vm->port = DVMQ_CONFIG_PORT_SINK;
	vm->scenario_vm = (int32_t)i;
}

static void mac_fmt(const uint8_t *m, char *out, size_t len)
{
	snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* A [vm] section that names a scenario VM: the generator sends to the scenario's address, so
 * the section may change everything but that. */
static int override_vm(struct cfg_parse *ps, struct dvmq_config_vm *vm, const struct cfg_vm_draft *d)
{
	if ((d->has_mac && memcmp(d->vm.adapter.mac, vm->adapter.mac, 6) != 0) ||
	    (d->has_vlan && d->vm.adapter.vlan != vm->adapter.vlan)) {
		char mac[24];
		mac_fmt(vm->adapter.mac, mac, sizeof(mac));
		return cfg_fail(ps, d->has_mac ? d->vm.line_mac : d->line_vlan,
				"vm %s is the scenario's, with MAC %s VLAN %u: the generator sends to that address "
				"(leave mac and vlan out, or name the VM differently)", vm->name, mac, vm->adapter.vlan);
	}
	vm->line = d->vm.line;
	vm->line_mac = d->vm.line_mac;
	if (d->has_weight)
		vm->adapter.weight = d->vm.adapter.weight;
	if (d->has_max_queues)
		vm->adapter.max_queues = d->vm.adapter.max_queues;
	if (d->has_port)
		vm->port = d->vm.port;
	snprintf(vm->device, sizeof(vm->device), "%s", d->vm.device);
	vm->line_device = d->vm.line_device;
	vm->offload = d->vm.offload;
	snprintf(vm->netns, sizeof(vm->netns), "%s", d->vm.netns);
	return 0;
}

static int check_vm(struct cfg_parse *ps, const struct dvmq_config_vm *vm, const struct cfg_vm_draft *d)
{
	const char *port = dvmq_config_port_name(vm->port);
	if (!d)
		return 0; /* a scenario VM on its sink */
	if (ps->c->uplink.port == DVMQ_CONFIG_PORT_KERNEL) {
		if (!d->has_mac)
			return cfg_fail(ps, vm->line, "vm %s has no mac (want mac = a unicast address such as "
					"52:54:00:12:34:56)", vm->name);
		if (d->has_port)
			return cfg_fail(ps, d->line_port, "vm %s: in kernel mode a VM has no port (the host's bridge "
					"delivers its frames): mac, vlan, weight, and device naming its kernel port for "
					"the views", vm->name);
		if (d->has_offload)
			return cfg_fail(ps, d->line_offload, "vm %s: offload is for port tap; in kernel mode a VM has no port",
					vm->name);
		return 0;
	}
	if (vm->scenario_vm < 0 && !d->has_mac)
		return cfg_fail(ps, vm->line, "vm %s has no mac (want mac = a unicast address such as 52:54:00:12:34:56)",
				vm->name);
	if (vm->scenario_vm < 0 && !d->has_port)
		return cfg_fail(ps, vm->line, "vm %s needs port = tap, afpacket or sink", vm->name);
	if (vm->port != DVMQ_CONFIG_PORT_SINK && !vm->device[0])
		return cfg_fail(ps, d->has_port ? d->line_port : vm->line, "vm %s: port %s needs device = INTERFACE%s",
				vm->name, port,
				vm->port == DVMQ_CONFIG_PORT_TAP ? " (a TAP: opened when it exists, else created)" : " (an existing interface)");
	if (vm->port == DVMQ_CONFIG_PORT_SINK && vm->device[0])
		return cfg_fail(ps, vm->line_device, "vm %s: port sink takes no device (device is for tap and afpacket)",
				vm->name);
	if (d->has_offload && vm->port != DVMQ_CONFIG_PORT_TAP)
		return cfg_fail(ps, d->line_offload, "vm %s: offload is for port tap (afpacket always exchanges offloads "
				"with its kernel; this port is %s)", vm->name, port);
	if (d->has_netns && vm->port != DVMQ_CONFIG_PORT_TAP)
		return cfg_fail(ps, d->line_netns, "vm %s: netns is for port tap (an afpacket device is reached in dvmq's "
				"own namespace; this port is %s)", vm->name, port);
	return 0;
}

/* Builds the VM list: the scenario's (when the uplink plays one and keeps its VMs), then the
 * file's sections; drafts[i] is the section of vms[i], or NULL. */
static int build_vms(struct cfg_parse *ps)
{
	struct dvmq_config *c = ps->c;
	const struct dvmq_scenario *s = c->uplink.scenario;
	size_t n_scen = s && c->uplink.scenario_vms ? s->n_vms : 0;
	size_t total = n_scen + ps->n_vms;
	c->vms = calloc(total ? total : 1, sizeof(*c->vms));
	const struct cfg_vm_draft **drafts = calloc(total ? total : 1, sizeof(*drafts));
	struct cfg_tab names = { 0 };
	int rc = -ENOMEM;
	if (!c->vms || !drafts || cfg_tab_init(&names, total))
		goto out;
	for (size_t i = 0; i < n_scen; i++) {
		scenario_vm(&c->vms[i], s, i);
		tab_put(&names, cfg_hash_str(c->vms[i].name), c->vms, (uint32_t)i, cfg_same_name);
	}
	c->n_vms = n_scen;
	rc = 0;
	for (size_t i = 0; i < ps->n_vms && rc == 0; i++) {
		const struct cfg_vm_draft *d = &ps->vms[i];
		struct dvmq_config_vm *vm = &c->vms[c->n_vms];
		*vm = d->vm;
		if (c->uplink.port == DVMQ_CONFIG_PORT_KERNEL)
			vm->port = DVMQ_CONFIG_PORT_KERNEL; /* its device, if any, is only a name for the views */
		uint32_t other = tab_put(&names, cfg_hash_str(vm->name), c->vms, (uint32_t)c->n_vms, cfg_same_name);
		if (other == UINT32_MAX) {
			drafts[c->n_vms++] = d;
		} else if (c->vms[other].line == 0 && (size_t)other < n_scen) {
			rc = override_vm(ps, &c->vms[other], d);
			drafts[other] = d;
		} else {
			rc = cfg_fail(ps, d->vm.line, "duplicate VM name '%s' (first on line %d)", vm->name,
				      c->vms[other].line);
		}
	}
	for (size_t i = 0; i < c->n_vms && rc == 0; i++)
		rc = check_vm(ps, &c->vms[i], drafts[i]);
	if (rc == 0 && c->n_vms > DVMQ_CONFIG_MAX_VMS)
		rc = cfg_fail(ps, ps->vms[ps->n_vms - 1].vm.line, "more than %u VM adapters (the scenario brings %zu)",
			      DVMQ_CONFIG_MAX_VMS, n_scen);
out:
	free(names.slot);
	free(drafts);
	return rc;
}

/* No two VMs share MAC+VLAN; no device serves twice (a VM's and the uplink's included). Scenario
 * VMs come first and never clash with each other, so the later one of a pair is the file's. */
static int check_unique(struct cfg_parse *ps)
{
	struct dvmq_config *c = ps->c;
	struct cfg_tab addr = { 0 }, dev = { 0 };
	int rc = -ENOMEM;
	if (cfg_tab_init(&addr, c->n_vms) || cfg_tab_init(&dev, c->n_vms))
		goto out;
	rc = 0;
	for (size_t i = 0; i < c->n_vms && rc == 0; i++) {
		const struct dvmq_config_vm *vm = &c->vms[i];
		uint64_t key = mac_u64(vm->adapter.mac) << 12 | vm->adapter.vlan;
		uint32_t o = tab_put(&addr, cfg_hash_u64(key), c->vms, (uint32_t)i, same_addr);
		if (o != UINT32_MAX) {
			rc = cfg_fail(ps, vm->line_mac ? vm->line_mac : vm->line,
				      "duplicate MAC+VLAN: vm %s has the address of vm %s%s", vm->name, c->vms[o].name,
				      c->vms[o].line ? "" : " (from the scenario)");
			break;
		}
		if (!vm->device[0])
			continue;
		if (strcmp(vm->device, c->uplink.device) == 0) {
			rc = cfg_fail(ps, vm->line_device, "device %s is used twice: vm %s and the uplink (line %d)",
				      vm->device, vm->name, c->uplink.line_device);
			break;
		}
		o = tab_put(&dev, cfg_hash_str(vm->device), c->vms, (uint32_t)i, same_device);
		if (o != UINT32_MAX)
			rc = cfg_fail(ps, vm->line_device, "device %s is used twice: vm %s and vm %s (line %d)", vm->device,
				      vm->name, c->vms[o].name, c->vms[o].line_device);
	}
out:
	free(addr.slot);
	free(dev.slot);
	return rc;
}

static bool listed(const uint32_t *ids, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* What the text alone can tell about the processor set: only where the file lists the CPUs. */
static int check_host(struct cfg_parse *ps)
{
	const struct dvmq_config_host *h = &ps->c->host;
	if (h->all_cpus)
		return 0;
	char list[128];
	cfg_format_cpu_list(h->cpus, h->n_cpus, list, sizeof(list));
	/* a gen scenario's count is fitted to the CPUs in the machine step, as it is to a machine */
	if (h->processors > h->n_cpus && (h->set & DVMQ_CONFIG_HOST_PROCESSORS))
		return cfg_fail(ps, h->line_processors, "processors %u, but cpus (%s) lists %u", h->processors, list,
				h->n_cpus);
	for (uint32_t i = 0; i < h->n_excluded; i++)
		if ((h->set & DVMQ_CONFIG_HOST_EXCLUDE) && !listed(h->cpus, h->n_cpus, h->excluded[i]))
			return cfg_fail(ps, h->line_exclude, "exclude names CPU %u, which cpus (%s) does not list",
					h->excluded[i], list);
	uint32_t used = h->processors && h->processors < h->n_cpus ? h->processors : h->n_cpus, left = 0;
	for (uint32_t i = 0; i < used; i++)
		if ((!h->has_base || h->cpus[i] >= h->base_processor) && !listed(h->excluded, h->n_excluded, h->cpus[i]))
			left++;
	if (left == 0) {
		int line = h->line_exclude ? h->line_exclude : h->line_base ? h->line_base : h->line_cpus;
		return cfg_fail(ps, line, "the processor set is empty: base_processor and exclude leave none of the "
				"CPUs in use (%s)", list);
	}
	return 0;
}

int cfg_build(struct cfg_parse *ps)
{
	struct dvmq_config *c = ps->c;
	defaults(c, ps);
	c->host.line = ps->host_line;
	int rc = check_uplink(ps);
	if (rc == 0)
		rc = load_scenario(ps);
	if (rc == 0 && c->uplink.scenario)
		rc = host_from_scenario(&c->host, c->uplink.scenario);
	if (rc == 0)
		rc = check_host(ps);
	if (rc == 0)
		rc = apply_engine(ps);
	if (rc == 0)
		rc = build_vms(ps);
	if (rc == 0)
		rc = check_unique(ps);
	return rc;
}

int dvmq_config_from_scenario(struct dvmq_scenario *s, struct dvmq_config **out)
{
	struct dvmq_config *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->path, sizeof(c->path), "%s", s->path);
	c->from_scenario = true;
	struct dvmq_config_uplink *u = &c->uplink;
	u->port = DVMQ_CONFIG_PORT_GEN;
	snprintf(u->file, sizeof(u->file), "%s", s->path);
	snprintf(u->path, sizeof(u->path), "%s", s->path);
	canonical(u->path);
	u->scenario_vms = true;
	u->fallback = true;
	u->scenario_hash = cfg_file_hash(s->path);
	defaults(c, NULL);
	int rc = host_from_scenario(&c->host, s);
	if (rc == 0) {
		c->params = s->params;
		c->vms = calloc(s->n_vms ? s->n_vms : 1, sizeof(*c->vms));
		rc = c->vms ? 0 : -ENOMEM;
	}
	if (rc) {
		dvmq_config_free(c); /* u->scenario is still NULL: s stays the caller's */
		return rc;
	}
	for (size_t i = 0; i < s->n_vms; i++)
		scenario_vm(&c->vms[i], s, i);
	c->n_vms = s->n_vms;
	u->scenario = s;
	*out = c;
	return 0;
}
