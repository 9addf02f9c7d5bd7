/* The difference between two configs, what the daemon's SIGHUP applies (include/dvmq/config.h):
 * VMs matched by name (removed, changed with the fields that changed, added), and bitmasks of
 * what changed in the host, the uplink and the control side, and the engine parameters by name.
 * Invariant: a diff of a config with itself is empty, and every field of the config that the
 * daemon acts on is compared (tests/unit/test_config_diff.c changes each one). Engine parameters
 * compare through dvmq_engine_param_format, whose text parses back to the exact value, so a
 * parameter the engine adds is compared (and named) without a line here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "dvmq/ctl_state.h"

static bool same_list(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

static uint32_t host_changes(const struct dvmq_config_host *a, const struct dvmq_config_host *b)
{
	uint32_t f = 0;
	if (a->all_cpus != b->all_cpus || (!a->all_cpus && !same_list(a->cpus, a->n_cpus, b->cpus, b->n_cpus)))
		f |= DVMQ_CONFIG_HOST_CPUS;
	if (a->processors != b->processors)
		f |= DVMQ_CONFIG_HOST_PROCESSORS;
	if (a->has_base != b->has_base || (a->has_base && a->base_processor != b->base_processor))
		f |= DVMQ_CONFIG_HOST_BASE;
	if (a->max_processors != b->max_processors)
		f |= DVMQ_CONFIG_HOST_MAX;
	if (a->numa_node != b->numa_node)
		f |= DVMQ_CONFIG_HOST_NUMA;
	if (!same_list(a->excluded, a->n_excluded, b->excluded, b->n_excluded))
		f |= DVMQ_CONFIG_HOST_EXCLUDE;
	if (a->queue_pool != b->queue_pool)
		f |= DVMQ_CONFIG_HOST_POOL;
	if (a->queue_depth != b->queue_depth)
		f |= DVMQ_CONFIG_HOST_DEPTH;
	if (a->mtu != b->mtu)
		f |= DVMQ_CONFIG_HOST_MTU;
	if (a->interval_ns != b->interval_ns)
		f |= DVMQ_CONFIG_HOST_INTERVAL;
	return f;
}

static uint32_t uplink_changes(const struct dvmq_config_uplink *a, const struct dvmq_config_uplink *b)
{
	uint32_t f = 0;
	if (a->port != b->port)
		f |= DVMQ_CONFIG_UPLINK_PORT;
	if (strcmp(a->device, b->device) != 0)
		f |= DVMQ_CONFIG_UPLINK_DEVICE;
	if (strcmp(a->path, b->path) != 0)
		f |= DVMQ_CONFIG_UPLINK_FILE;
	else if (a->scenario_hash != b->scenario_hash)
		f |= DVMQ_CONFIG_UPLINK_SCENARIO;
	if (a->fallback != b->fallback || a->xdp_mode != b->xdp_mode || a->rx != b->rx || a->ring_kib != b->ring_kib ||
	    a->scenario_vms != b->scenario_vms || a->qsize != b->qsize || a->kthread_priority != b->kthread_priority ||
	    a->rx_hash_nic != b->rx_hash_nic || a->local_path_off != b->local_path_off)
		f |= DVMQ_CONFIG_UPLINK_OPTIONS;
	return f;
}

static uint32_t control_changes(const struct dvmq_config_control *a, const struct dvmq_config_control *b)
{
	uint32_t f = 0;
	if (strcmp(a->socket, b->socket) != 0)
		f |= DVMQ_CONFIG_CONTROL_SOCKET;
	if (a->metrics != b->metrics ||
	    (a->metrics && (strcmp(a->metrics_address, b->metrics_address) != 0 || a->metrics_port != b->metrics_port)))
		f |= DVMQ_CONFIG_CONTROL_METRICS;
	if (a->log_level != b->log_level)
		f |= DVMQ_CONFIG_CONTROL_LOG_LEVEL;
	return f;
}

static uint32_t vm_changes(const struct dvmq_config_vm *a, const struct dvmq_config_vm *b, uint32_t uplink)
{
	uint32_t f = 0;
	if (memcmp(a->adapter.mac, b->adapter.mac, 6) != 0)
		f |= DVMQ_CONFIG_VM_MAC;
	if (a->adapter.vlan != b->adapter.vlan)
		f |= DVMQ_CONFIG_VM_VLAN;
	if (a->adapter.weight != b->adapter.weight)
		f |= DVMQ_CONFIG_VM_WEIGHT;
	if ((a->adapter.max_queues > 1 ? a->adapter.max_queues : 1) != (b->adapter.max_queues > 1 ? b->adapter.max_queues : 1))
		f |= DVMQ_CONFIG_VM_MAX_QUEUES;
	if (a->port != b->port)
		f |= DVMQ_CONFIG_VM_PORT;
	if (strcmp(a->device, b->device) != 0 || strcmp(a->netns, b->netns) != 0)
		f |= DVMQ_CONFIG_VM_DEVICE;
	if (a->offload != b->offload)
		f |= DVMQ_CONFIG_VM_OFFLOAD;
	/* another scenario (or an edited one) may play other traffic to the same VM */
	if (a->scenario_vm != b->scenario_vm ||
	    (b->scenario_vm >= 0 && (uplink & (DVMQ_CONFIG_UPLINK_FILE | DVMQ_CONFIG_UPLINK_SCENARIO))))
		f |= DVMQ_CONFIG_VM_TRAFFIC;
	return f;
}

static int diff_params(struct dvmq_config_diff *d)
{
	size_t n = 0;
	for (const char *const *p = dvmq_engine_param_names(); *p; p++)
		n++;
	d->params = calloc(n ? n : 1, sizeof(*d->params));
	if (!d->params)
		return -ENOMEM;
	for (const char *const *p = dvmq_engine_param_names(); *p; p++) {
		char a[64], b[64];
		/* a name the formatter does not know counts as changed: re-applying is harmless */
		if (dvmq_engine_param_format(&d->old_cfg->params, *p, a, sizeof(a)) ||
		    dvmq_engine_param_format(&d->new_cfg->params, *p, b, sizeof(b)) || strcmp(a, b) != 0)
			d->params[d->n_params++] = *p;
	}
	return 0;
}

/* Index of the VM of `key`'s name in c, or UINT32_MAX. */
static uint32_t lookup(const struct cfg_tab *t, const struct dvmq_config *c, const struct dvmq_config_vm *key)
{
	struct cfg_vm_key k = { c->vms, key };
	return cfg_tab_find(t, cfg_hash_str(key->name), cfg_same_name, &k);
}

static int diff_vms(struct dvmq_config_diff *d)
{
	const struct dvmq_config *a = d->old_cfg, *b = d->new_cfg;
	struct cfg_tab ta = { 0 }, tb = { 0 };
	int rc = -ENOMEM;
	d->vms = calloc(a->n_vms + b->n_vms + 1, sizeof(*d->vms));
	if (!d->vms || cfg_tab_init(&ta, a->n_vms) || cfg_tab_init(&tb, b->n_vms))
		goto out;
	for (size_t i = 0; i < a->n_vms; i++)
		cfg_tab_add(&ta, cfg_hash_str(a->vms[i].name), (uint32_t)i);
	for (size_t i = 0; i < b->n_vms; i++)
		cfg_tab_add(&tb, cfg_hash_str(b->vms[i].name), (uint32_t)i);
	for (size_t i = 0; i < a->n_vms; i++)
		if (lookup(&tb, b, &a->vms[i]) == UINT32_MAX)
			d->vms[d->n_vms++] = (struct dvmq_config_vm_change){ DVMQ_CONFIG_VM_REMOVED, &a->vms[i], NULL, 0 };
	for (size_t i = 0; i < b->n_vms; i++) {
		uint32_t o = lookup(&ta, a, &b->vms[i]);
		if (o == UINT32_MAX) {
			d->vms[d->n_vms++] = (struct dvmq_config_vm_change){ DVMQ_CONFIG_VM_ADDED, NULL, &b->vms[i], 0 };
			continue;
		}
		uint32_t f = vm_changes(&a->vms[o], &b->vms[i], d->uplink);
		if (f)
			d->vms[d->n_vms++] = (struct dvmq_config_vm_change){ DVMQ_CONFIG_VM_CHANGED, &a->vms[o], &b->vms[i], f };
	}
	rc = 0;
out:
	free(ta.slot);
	free(tb.slot);
	return rc;
}

int dvmq_config_diff(const struct dvmq_config *old_cfg, const struct dvmq_config *new_cfg,
		     struct dvmq_config_diff **out)
{
	struct dvmq_config_diff *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->old_cfg = old_cfg;
	d->new_cfg = new_cfg;
	d->host = host_changes(&old_cfg->host, &new_cfg->host);
	d->uplink = uplink_changes(&old_cfg->uplink, &new_cfg->uplink);
	d->control = control_changes(&old_cfg->control, &new_cfg->control);
	int rc = diff_params(d);
	if (rc == 0)
		rc = diff_vms(d);
	if (rc) {
		dvmq_config_diff_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void dvmq_config_diff_free(struct dvmq_config_diff *d)
{
	if (!d)
		return;
	free(d->vms);
	free(d->params);
	free(d);
}

bool dvmq_config_diff_empty(const struct dvmq_config_diff *d)
{
	return !d->n_vms && !d->host && !d->uplink && !d->control && !d->n_params;
}

/* ---- in words ---- */

void dvmq_config_metrics_format(const struct dvmq_config_control *c, char *buf, size_t len)
{
	if (!c->metrics)
		snprintf(buf, len, "off");
	else if (strchr(c->metrics_address, ':'))
		snprintf(buf, len, "[%s]:%u", c->metrics_address, c->metrics_port);
	else
		snprintf(buf, len, "%s:%u", c->metrics_address, c->metrics_port);
}

struct out {
	dvmq_config_note_fn line;
	void *ctx;
	int n;
	char buf[DVMQ_DIAG_MAX];
	size_t off;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	if (o->off >= sizeof(o->buf))
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(o->buf + o->off, sizeof(o->buf) - o->off, fmt, ap);
	va_end(ap);
	if (w > 0)
		o->off += (size_t)w;
}

static void flush(struct out *o)
{
	if (o->off == 0)
		return;
	o->line(o->ctx, o->buf);
	o->n++;
	o->off = 0;
	o->buf[0] = '\0';
}

static void mac_fmt(const uint8_t *m, char *out, size_t len)
{
	snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void port_fmt(const struct dvmq_config_vm *vm, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s%s%s", dvmq_config_port_name(vm->port), vm->device[0] ? " " : "", vm->device,
		 vm->netns[0] ? " in " : "", vm->netns);
}

static void describe_vm(struct out *o, const struct dvmq_config_vm_change *ch)
{
	char m1[24], m2[24], p1[DVMQ_CONFIG_PATH_MAX + 40], p2[DVMQ_CONFIG_PATH_MAX + 40];
	const struct dvmq_config_vm *a = ch->old_vm, *b = ch->new_vm;
	if (ch->kind == DVMQ_CONFIG_VM_REMOVED) {
		put(o, "vm %s removed", a->name);
	} else if (ch->kind == DVMQ_CONFIG_VM_ADDED) {
		mac_fmt(b->adapter.mac, m2, sizeof(m2));
		port_fmt(b, p2, sizeof(p2));
		put(o, "vm %s added: %s vlan %u weight %u %s", b->name, m2, b->adapter.vlan, b->adapter.weight, p2);
	} else {
		mac_fmt(a->adapter.mac, m1, sizeof(m1));
		mac_fmt(b->adapter.mac, m2, sizeof(m2));
		port_fmt(a, p1, sizeof(p1));
		port_fmt(b, p2, sizeof(p2));
		const char *sep = ":";
		put(o, "vm %s changed", b->name);
		if (ch->fields & DVMQ_CONFIG_VM_MAC)
			put(o, "%s mac %s -> %s", sep, m1, m2), sep = ",";
		if (ch->fields & DVMQ_CONFIG_VM_VLAN)
			put(o, "%s vlan %u -> %u", sep, a->adapter.vlan, b->adapter.vlan), sep = ",";
		if (ch->fields & DVMQ_CONFIG_VM_WEIGHT)
			put(o, "%s weight %u -> %u", sep, a->adapter.weight, b->adapter.weight), sep = ",";
		if (ch->fields & DVMQ_CONFIG_VM_MAX_QUEUES)
			put(o, "%s max-queues %u -> %u", sep, a->adapter.max_queues > 1 ? a->adapter.max_queues : 1,
			    b->adapter.max_queues > 1 ? b->adapter.max_queues : 1), sep = ",";
		if (ch->fields & (DVMQ_CONFIG_VM_PORT | DVMQ_CONFIG_VM_DEVICE))
			put(o, "%s port %s -> %s", sep, p1, p2), sep = ",";
		if (ch->fields & DVMQ_CONFIG_VM_OFFLOAD)
			put(o, "%s offload %s -> %s", sep, a->offload ? "yes" : "no", b->offload ? "yes" : "no"), sep = ",";
		if (ch->fields & DVMQ_CONFIG_VM_TRAFFIC)
			put(o, "%s traffic from the scenario", sep);
	}
	flush(o);
}

static void describe_host(struct out *o, const struct dvmq_config_host *a, const struct dvmq_config_host *b,
			  uint32_t f)
{
	char x[128], y[128];
	if (f & DVMQ_CONFIG_HOST_CPUS) {
		if (a->all_cpus)
			snprintf(x, sizeof(x), "all");
		else
			cfg_format_cpu_list(a->cpus, a->n_cpus, x, sizeof(x));
		if (b->all_cpus)
			snprintf(y, sizeof(y), "all");
		else
			cfg_format_cpu_list(b->cpus, b->n_cpus, y, sizeof(y));
		put(o, "host: cpus %s -> %s", x, y), flush(o);
	}
	if (f & DVMQ_CONFIG_HOST_PROCESSORS)
		put(o, "host: processors %u -> %u (0: all)", a->processors, b->processors), flush(o);
	if (f & DVMQ_CONFIG_HOST_BASE)
		put(o, "host: base_processor %d -> %d (-1: none)", a->has_base ? (int)a->base_processor : -1,
		    b->has_base ? (int)b->base_processor : -1), flush(o);
	if (f & DVMQ_CONFIG_HOST_MAX)
		put(o, "host: max_processors %u -> %u (0: no limit)", a->max_processors, b->max_processors), flush(o);
	if (f & DVMQ_CONFIG_HOST_NUMA)
		put(o, "host: numa_node %d -> %d (-1: any)", a->numa_node, b->numa_node), flush(o);
	if (f & DVMQ_CONFIG_HOST_EXCLUDE) {
		cfg_format_cpu_list(a->excluded, a->n_excluded, x, sizeof(x));
		cfg_format_cpu_list(b->excluded, b->n_excluded, y, sizeof(y));
		put(o, "host: exclude %s -> %s", x, y), flush(o);
	}
	if (f & DVMQ_CONFIG_HOST_POOL)
		put(o, "host: queue_pool %u -> %u", a->queue_pool, b->queue_pool), flush(o);
	if (f & DVMQ_CONFIG_HOST_DEPTH)
		put(o, "host: queue_depth %u -> %u", a->queue_depth, b->queue_depth), flush(o);
	if (f & DVMQ_CONFIG_HOST_MTU)
		put(o, "host: mtu %u -> %u", a->mtu, b->mtu), flush(o);
	if (f & DVMQ_CONFIG_HOST_INTERVAL)
		put(o, "host: interval %.3gms -> %.3gms", (double)a->interval_ns / 1e6, (double)b->interval_ns / 1e6), flush(o);
}

static void describe_rest(struct out *o, const struct dvmq_config_diff *d)
{
	const struct dvmq_config_uplink *a = &d->old_cfg->uplink, *b = &d->new_cfg->uplink;
	if (d->uplink & (DVMQ_CONFIG_UPLINK_PORT | DVMQ_CONFIG_UPLINK_DEVICE | DVMQ_CONFIG_UPLINK_FILE))
		put(o, "uplink: %s %s -> %s %s", dvmq_config_port_name(a->port), a->device[0] ? a->device : a->file,
		    dvmq_config_port_name(b->port), b->device[0] ? b->device : b->file), flush(o);
	if (d->uplink & DVMQ_CONFIG_UPLINK_SCENARIO)
		put(o, "uplink: scenario %s was edited", b->file), flush(o);
	if (d->uplink & DVMQ_CONFIG_UPLINK_OPTIONS)
		put(o, "uplink: options changed (fallback, xdp_mode, rx, ring, scenario_vms, qsize, kthread_priority, local_path or "
		       "rx_hash)"), flush(o);
	const struct dvmq_config_control *x = &d->old_cfg->control, *y = &d->new_cfg->control;
	if (d->control & DVMQ_CONFIG_CONTROL_SOCKET)
		put(o, "control: socket %s -> %s", x->socket, y->socket), flush(o);
	if (d->control & DVMQ_CONFIG_CONTROL_METRICS) {
		char m1[80], m2[80];
		dvmq_config_metrics_format(x, m1, sizeof(m1));
		dvmq_config_metrics_format(y, m2, sizeof(m2));
		put(o, "control: metrics %s -> %s", m1, m2), flush(o);
	}
	if (d->control & DVMQ_CONFIG_CONTROL_LOG_LEVEL)
		put(o, "control: log_level %s -> %s", dvmq_config_log_level_name(x->log_level),
		    dvmq_config_log_level_name(y->log_level)), flush(o);
}

int dvmq_config_diff_describe(const struct dvmq_config_diff *d, dvmq_config_note_fn line, void *ctx)
{
	struct out *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->line = line;
	o->ctx = ctx;
	for (size_t i = 0; i < d->n_vms; i++)
		describe_vm(o, &d->vms[i]);
	for (size_t i = 0; i < d->n_params; i++) {
		char a[64], b[64];
		if (dvmq_engine_param_format(&d->old_cfg->params, d->params[i], a, sizeof(a)) ||
		    dvmq_engine_param_format(&d->new_cfg->params, d->params[i], b, sizeof(b)))
			put(o, "engine: %s changed", d->params[i]);
		else
			put(o, "engine: %s %s -> %s", d->params[i], a, b);
		flush(o);
	}
	describe_host(o, &d->old_cfg->host, &d->new_cfg->host, d->host);
	describe_rest(o, d);
	int n = o->n;
	free(o);
	return n;
}
