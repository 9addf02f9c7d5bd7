/* A config written back as a file (include/dvmq/config.h, dvmq_config_write): what
 * `dvmqctl config show` prints for the running daemon, ready to save over the file.
 * Invariant: dvmq_config_load_text of the text gives a config whose dvmq_config_diff with the
 * original is empty (tests/unit/test_config_write.c loads, writes and reloads every example and
 * a config with every key). Paths are written resolved (absolute where the original was), so the
 * text means the same wherever it is saved. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "dvmq/units.h"

struct cw {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void put(struct cw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct cw *w, const char *fmt, ...)
{
	if (w->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			w->oom = true;
			return;
		}
		if ((size_t)n < w->cap - w->len) {
			w->len += (size_t)n;
			return;
		}
		size_t cap = (w->cap + (size_t)n + 1) * 2;
		char *b = realloc(w->buf, cap);
		if (!b) {
			w->oom = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
}

/* "0-3,8" from an ascending list */
static void put_cpu_list(struct cw *w, const uint32_t *ids, uint32_t n)
{
	for (uint32_t i = 0; i < n;) {
		uint32_t j = i;
		while (j + 1 < n && ids[j + 1] == ids[j] + 1)
			j++;
		if (j > i)
			put(w, "%s%u-%u", i ? "," : "", ids[i], ids[j]);
		else
			put(w, "%s%u", i ? "," : "", ids[i]);
		i = j + 1;
	}
}

static void put_time(struct cw *w, const char *key, uint64_t ns)
{
	char t[32];
	dvmq_units_time_format(ns, t, sizeof(t));
	put(w, "%s = %s\n", key, t);
}

static void write_host(struct cw *w, const struct dvmq_config_host *h)
{
	put(w, "[host]\ncpus = ");
	if (h->all_cpus)
		put(w, "all");
	else
		put_cpu_list(w, h->cpus, h->n_cpus);
	put(w, "\n");
	if (h->processors)
		put(w, "processors = %u\n", h->processors);
	if (h->has_base)
		put(w, "base_processor = %u\n", h->base_processor);
	if (h->max_processors)
		put(w, "max_processors = %u\n", h->max_processors);
	if (h->numa_node < 0)
		put(w, "numa_node = any\n");
	else
		put(w, "numa_node = %d\n", h->numa_node);
	put(w, "exclude = ");
	if (h->n_excluded)
		put_cpu_list(w, h->excluded, h->n_excluded);
	else
		put(w, "none");
	put(w, "\nqueue_pool = %u\nqueue_depth = %u\nmtu = %u\n", h->queue_pool, h->queue_depth, h->mtu);
	put_time(w, "interval", h->interval_ns);
}

/* The policy always, then every parameter that differs from what the file starts from: the
 * defaults, or the scenario's [engine] for a gen uplink. */
static void write_engine(struct cw *w, const struct dvmq_config *c)
{
	struct dvmq_engine_params base;
	if (c->uplink.scenario)
		base = c->uplink.scenario->params;
	else
		dvmq_engine_params_default(&base);
	put(w, "\n[engine]\npolicy = %s\n", dvmq_policy_name(c->params.policy));
	for (const char *const *n = dvmq_engine_param_names(); *n; n++) {
		char have[64], was[64];
		if (strcmp(*n, "policy") == 0 || dvmq_engine_param_format(&c->params, *n, have, sizeof(have)) ||
		    dvmq_engine_param_format(&base, *n, was, sizeof(was)))
			continue;
		if (strcmp(have, was) != 0)
			put(w, "%s = %s\n", *n, have);
	}
}

static void write_uplink(struct cw *w, const struct dvmq_config_uplink *u)
{
	static const char *const modes[] = { "auto", "native", "generic" };
	if (u->port == DVMQ_CONFIG_PORT_KERNEL) {
		/* kernel mode: no port, its own keys */
		put(w, "\n[uplink]\nmode = kernel\ndevice = %s\nxdp_mode = %s\n", u->device, modes[u->xdp_mode]);
		if (u->qsize)
			put(w, "qsize = %u\n", u->qsize);
		if (u->kthread_priority)
			put(w, "kthread_priority = %u\n", u->kthread_priority);
		if (u->rx_hash_nic)
			put(w, "rx_hash = nic\n");
		if (u->local_path_off)
			put(w, "local_path = off\n");
		return;
	}
	put(w, "\n[uplink]\nport = %s\n", dvmq_config_port_name(u->port));
	if (u->device[0])
		put(w, "device = %s\n", u->device);
	if (u->path[0])
		put(w, "%s = %s\n", u->port == DVMQ_CONFIG_PORT_GEN ? "scenario" : "file", u->path);
	if (u->port == DVMQ_CONFIG_PORT_GEN && !u->scenario_vms)
		put(w, "scenario_vms = no\n");
	if (u->port == DVMQ_CONFIG_PORT_AFXDP) {
		put(w, "fallback = %s\n", u->fallback ? "afpacket" : "none");
		put(w, "xdp_mode = %s\n", modes[u->xdp_mode]);
	}
	if (u->port == DVMQ_CONFIG_PORT_AFPACKET && u->rx == DVMQ_CONFIG_RX_RING)
		put(w, "rx = ring\n");
	if (u->ring_kib && (u->port == DVMQ_CONFIG_PORT_AFPACKET || u->port == DVMQ_CONFIG_PORT_AFXDP))
		put(w, "ring = %uKiB\n", u->ring_kib);
}

static void write_vm(struct cw *w, const struct dvmq_config *c, const struct dvmq_config_vm *vm)
{
	const uint8_t *m = vm->adapter.mac;
	const struct dvmq_scenario *s = c->uplink.scenario;
	if (vm->scenario_vm >= 0 && s && (size_t)vm->scenario_vm < s->n_vms) {
		/* the scenario gives its VMs (MAC, VLAN, weight, a sink): a section only for what differs */
		const struct dvmq_adapter_desc *a = &s->vms[vm->scenario_vm].adapter;
		if (vm->adapter.weight == a->weight && vm->adapter.max_queues == a->max_queues &&
		    vm->port == DVMQ_CONFIG_PORT_SINK && !vm->device[0] && !vm->offload)
			return;
		put(w, "\n[vm %s]\n", vm->name);
		if (vm->adapter.weight != a->weight)
			put(w, "weight = %u\n", vm->adapter.weight);
		if (vm->adapter.max_queues != a->max_queues)
			put(w, "max-queues = %u\n", vm->adapter.max_queues ? vm->adapter.max_queues : 1);
	} else {
		put(w, "\n[vm %s]\nmac = %02x:%02x:%02x:%02x:%02x:%02x\n", vm->name, m[0], m[1], m[2], m[3], m[4], m[5]);
		if (vm->adapter.vlan)
			put(w, "vlan = %u\n", vm->adapter.vlan);
		put(w, "weight = %u\n", vm->adapter.weight);
		if (vm->adapter.max_queues > 1)
			put(w, "max-queues = %u\n", vm->adapter.max_queues);
	}
	if (vm->port == DVMQ_CONFIG_PORT_KERNEL) { /* kernel mode: no port, a device for the views */
		if (vm->device[0])
			put(w, "device = %s\n", vm->device);
		return;
	}
	put(w, "port = %s\n", dvmq_config_port_name(vm->port));
	if (vm->device[0])
		put(w, "device = %s\n", vm->device);
	if (vm->port == DVMQ_CONFIG_PORT_TAP && vm->offload)
		put(w, "offload = yes\n");
	if (vm->port == DVMQ_CONFIG_PORT_TAP && vm->netns[0])
		put(w, "netns = %s\n", vm->netns);
}

static void write_control(struct cw *w, const struct dvmq_config_control *k)
{
	char metrics[96];
	dvmq_config_metrics_format(k, metrics, sizeof(metrics));
	put(w, "\n[control]\nsocket = %s\nmetrics = %s\nlog_level = %s\n", k->socket, metrics,
	    dvmq_config_log_level_name(k->log_level));
}

int dvmq_config_write(const struct dvmq_config *c, const char *header, char **text)
{
	struct cw w = { 0 };
	if (header && *header) {
		/* every line of the header as a comment */
		for (const char *p = header; *p;) {
			size_t n = strcspn(p, "\n");
			put(&w, "# %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
		put(&w, "\n");
	}
	write_host(&w, &c->host);
	write_engine(&w, c);
	write_uplink(&w, &c->uplink);
	for (size_t i = 0; i < c->n_vms; i++)
		write_vm(&w, c, &c->vms[i]);
	write_control(&w, &c->control);
	if (w.oom || !w.buf) {
		free(w.buf);
		return -ENOMEM;
	}
	*text = w.buf;
	return 0;
}
