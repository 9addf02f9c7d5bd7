/* Config files (include/dvmq/config.h): read by the INI reader (dvmq/ini.h), each key checked
 * on its own here with its line; config_build.c checks what keys mean together. A file is
 * loaded whole or not at all: any error frees everything and returns -EINVAL with the first
 * problem as "file:line: what is wrong (want ...)". Invariant: a key is recorded in the draft
 * only once its value was valid, and no key is recorded twice in one section. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "dvmq/ini.h"
#include "dvmq/port.h"
#include "dvmq/units.h"

int cfg_fail(struct cfg_parse *ps, int line, const char *fmt, ...)
{
	if (ps->failed)
		return -EINVAL;
	ps->failed = true;
	int n = snprintf(ps->diag->msg, sizeof(ps->diag->msg), "%s:%d: ", ps->file, line);
	if (n < 0 || (size_t)n >= sizeof(ps->diag->msg))
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->diag->msg + n, sizeof(ps->diag->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define FAIL(...) cfg_fail(ps, ps->line, __VA_ARGS__)

static const char *const port_names[DVMQ_CONFIG_PORT_COUNT] = {
	[DVMQ_CONFIG_PORT_GEN] = "gen",		  [DVMQ_CONFIG_PORT_PCAP] = "pcap",
	[DVMQ_CONFIG_PORT_AFXDP] = "afxdp",	  [DVMQ_CONFIG_PORT_AFPACKET] = "afpacket",
	[DVMQ_CONFIG_PORT_TAP] = "tap",		  [DVMQ_CONFIG_PORT_SINK] = "sink",
	[DVMQ_CONFIG_PORT_KERNEL] = "kernel",
};

const char *dvmq_config_port_name(enum dvmq_config_port p)
{
	return (unsigned)p < DVMQ_CONFIG_PORT_COUNT ? port_names[p] : "?";
}

static const char *const level_names[] = { "error", "warning", "info", "debug" };

const char *dvmq_config_log_level_name(enum dvmq_config_log_level l)
{
	return (unsigned)l < 4 ? level_names[l] : "?";
}

bool dvmq_config_port_is_uplink(enum dvmq_config_port p)
{
	return p == DVMQ_CONFIG_PORT_GEN || p == DVMQ_CONFIG_PORT_PCAP || p == DVMQ_CONFIG_PORT_AFXDP ||
	       p == DVMQ_CONFIG_PORT_AFPACKET || p == DVMQ_CONFIG_PORT_KERNEL;
}

bool dvmq_config_port_is_vm(enum dvmq_config_port p)
{
	return p == DVMQ_CONFIG_PORT_TAP || p == DVMQ_CONFIG_PORT_AFPACKET || p == DVMQ_CONFIG_PORT_SINK ||
	       p == DVMQ_CONFIG_PORT_KERNEL;
}

/* A port a file may write ("kernel" is not one: kernel mode is [uplink] mode = kernel). */
static int port_parse(const char *s, enum dvmq_config_port *out)
{
	for (unsigned i = 0; i < DVMQ_CONFIG_PORT_COUNT; i++)
		if (i != DVMQ_CONFIG_PORT_KERNEL && strcmp(s, port_names[i]) == 0) {
			*out = (enum dvmq_config_port)i;
			return 0;
		}
	return -EINVAL;
}

const char *dvmq_config_ifname_problem(const char *name)
{
	size_t n = strlen(name);
	if (n == 0)
		return "is empty";
	if (n >= DVMQ_IFNAME_MAX)
		return "is longer than 15 characters (IFNAMSIZ)";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "is '.' or '..'";
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || (unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return "contains '/', ':', white space or a control character";
	return NULL;
}

int dvmq_config_vm_port_parse(const char *spec, enum dvmq_config_port *port, char device[DVMQ_IFNAME_MAX],
			      char *err, size_t err_len)
{
	const char *colon = strchr(spec, ':');
	char kind[16];
	size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
	enum dvmq_config_port p;
	if (klen >= sizeof(kind))
		goto bad;
	memcpy(kind, spec, klen);
	kind[klen] = '\0';
	if (port_parse(kind, &p) || !dvmq_config_port_is_vm(p))
		goto bad;
	if (p == DVMQ_CONFIG_PORT_SINK) {
		if (colon)
			goto bad;
		device[0] = '\0';
	} else {
		const char *why = colon ? dvmq_config_ifname_problem(colon + 1) : "is missing";
		if (why) {
			if (err && err_len)
				snprintf(err, err_len, "bad port '%s': the device name %s", spec, why);
			return -EINVAL;
		}
		snprintf(device, DVMQ_IFNAME_MAX, "%s", colon + 1);
	}
	*port = p;
	return 0;
bad:
	if (err && err_len)
		snprintf(err, err_len, "bad port '%s' (want tap:DEVICE, afpacket:DEVICE or sink)", spec);
	return -EINVAL;
}

/* ---- values ---- */

static int count_key(struct cfg_parse *ps, const char *k, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	int rc = dvmq_units_count(v, out);
	if (rc == -ERANGE && *v == '-')
		return FAIL("%s must not be negative: '%s'", k, v);
	if (rc)
		return FAIL("bad %s '%s' (want a whole number)", k, v);
	if (*out < lo || *out > hi)
		return FAIL("%s %s is out of range %llu..%llu", k, v, (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

static int bool_key(struct cfg_parse *ps, const char *k, const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			*out = strcmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return FAIL("bad %s '%s' (want yes or no)", k, v);
}

static int ifname_key(struct cfg_parse *ps, const char *v, char out[DVMQ_IFNAME_MAX])
{
	const char *why = dvmq_config_ifname_problem(v);
	if (why)
		return FAIL("device name '%s' %s (want an interface name of 1..15 characters without '/', ':' "
			    "or white space)", v, why);
	snprintf(out, DVMQ_IFNAME_MAX, "%s", v);
	return 0;
}

static int path_key(struct cfg_parse *ps, const char *k, const char *v, char *file, char *path)
{
	if (!*v)
		return FAIL("%s is empty (want a file name)", k);
	int n = *v == '/' || !ps->base_dir ? snprintf(path, DVMQ_CONFIG_PATH_MAX, "%s", v)
					   : snprintf(path, DVMQ_CONFIG_PATH_MAX, "%s/%s", ps->base_dir, v);
	if (strlen(v) >= DVMQ_CONFIG_PATH_MAX || n < 0 || n >= (int)DVMQ_CONFIG_PATH_MAX)
		return FAIL("%s path is longer than %u bytes", k, DVMQ_CONFIG_PATH_MAX - 1);
	snprintf(file, DVMQ_CONFIG_PATH_MAX, "%s", v);
	return 0;
}

/* ---- sections ---- */

static int host_key(struct cfg_parse *ps, const char *k, const char *v)
{
	struct dvmq_config_host *h = &ps->c->host;
	uint64_t n;
	int rc = 0;
	uint32_t bit = 0;
	if (strcmp(k, "cpus") == 0) {
		bit = DVMQ_CONFIG_HOST_CPUS;
		h->line_cpus = ps->line;
		if (strcmp(v, "all") == 0) {
			h->all_cpus = true;
		} else {
			uint32_t dup = 0, *ids = calloc(DVMQ_MAX_PROCESSORS, sizeof(*ids));
			if (!ids)
				return -ENOMEM;
			int c = cfg_parse_cpu_list(v, ids, &dup);
			if (c == -2)
				rc = FAIL("cpus '%s' names a CPU beyond %u", v, DVMQ_MAX_PROCESSORS - 1);
			else if (c == -3)
				rc = FAIL("cpus lists CPU %u twice", dup);
			else if (c < 0)
				rc = FAIL("bad cpus '%s' (want all, or CPU ids such as 0-3,8)", v);
			if (rc) {
				free(ids);
				return rc;
			}
			h->all_cpus = false;
			h->cpus = ids;
			h->n_cpus = (uint32_t)c;
		}
	} else if (strcmp(k, "processors") == 0) {
		bit = DVMQ_CONFIG_HOST_PROCESSORS;
		h->line_processors = ps->line;
		rc = count_key(ps, k, v, 1, DVMQ_MAX_PROCESSORS, &n);
		h->processors = (uint32_t)n;
	} else if (strcmp(k, "base_processor") == 0) {
		bit = DVMQ_CONFIG_HOST_BASE;
		h->line_base = ps->line;
		rc = count_key(ps, k, v, 0, DVMQ_MAX_PROCESSORS - 1, &n);
		h->base_processor = (uint32_t)n;
		h->has_base = true;
	} else if (strcmp(k, "max_processors") == 0) {
		bit = DVMQ_CONFIG_HOST_MAX;
		h->line_max = ps->line;
		rc = count_key(ps, k, v, 1, DVMQ_MAX_PROCESSORS, &n);
		h->max_processors = (uint32_t)n;
	} else if (strcmp(k, "numa_node") == 0) {
		bit = DVMQ_CONFIG_HOST_NUMA;
		h->line_numa = ps->line;
		if (strcmp(v, "any") == 0) {
			h->numa_node = -1;
		} else {
			if (dvmq_units_count(v, &n) || n > 63)
				return FAIL("bad numa_node '%s' (want any, or a node number 0..63)", v);
			h->numa_node = (int32_t)n;
		}
	} else if (strcmp(k, "exclude") == 0) {
		bit = DVMQ_CONFIG_HOST_EXCLUDE;
		h->line_exclude = ps->line;
		uint32_t dup = 0, *ids = calloc(DVMQ_MAX_PROCESSORS, sizeof(*ids));
		if (!ids)
			return -ENOMEM;
		int c = strcmp(v, "none") == 0 ? 0 : cfg_parse_cpu_list(v, ids, &dup);
		if (c == -2)
			rc = FAIL("exclude '%s' names a CPU beyond %u", v, DVMQ_MAX_PROCESSORS - 1);
		else if (c == -3)
			rc = FAIL("exclude lists CPU %u twice", dup);
		else if (c < 0)
			rc = FAIL("bad exclude '%s' (want none, or CPU ids such as 0,3,8-11)", v);
		if (rc) {
			free(ids);
			return rc;
		}
		h->excluded = ids;
		h->n_excluded = (uint32_t)c;
	} else if (strcmp(k, "queue_pool") == 0) {
		bit = DVMQ_CONFIG_HOST_POOL;
		rc = count_key(ps, k, v, 0, DVMQ_MAX_QUEUE_POOL, &n);
		h->queue_pool = (uint32_t)n;
	} else if (strcmp(k, "queue_depth") == 0) {
		bit = DVMQ_CONFIG_HOST_DEPTH;
		rc = count_key(ps, k, v, 1, 1u << 24, &n);
		h->queue_depth = (uint32_t)n;
	} else if (strcmp(k, "mtu") == 0) {
		bit = DVMQ_CONFIG_HOST_MTU;
		rc = count_key(ps, k, v, 68, 65000, &n);
		h->mtu = (uint32_t)n;
	} else if (strcmp(k, "interval") == 0) {
		bit = DVMQ_CONFIG_HOST_INTERVAL;
		rc = dvmq_units_time_ns(v, &h->interval_ns);
		if (rc)
			return FAIL("bad interval '%s' (want a time such as 100ms or 1s)", v);
		if (h->interval_ns < DVMQ_INTERVAL_MIN_NS || h->interval_ns > DVMQ_INTERVAL_MAX_NS)
			return FAIL("interval %s is out of range 1ms..10s (dvmqctl policy set takes the same)", v);
	} else {
		return FAIL("unknown key '%s' in [host] (known: cpus, processors, base_processor, max_processors, "
			    "numa_node, exclude, queue_pool, queue_depth, mtu, interval)", k);
	}
	if (rc == 0)
		h->set |= bit;
	return rc;
}

static int engine_key(struct cfg_parse *ps, const char *k, const char *v)
{
	/* checked now for the name (so an unknown one is named at its line), applied in cfg_build */
	struct dvmq_engine_params scratch;
	dvmq_engine_params_default(&scratch);
	if (dvmq_engine_param_set(&scratch, k, v) == -ENOENT) {
		char known[512] = "";
		size_t off = 0;
		for (const char *const *n = dvmq_engine_param_names(); *n && off < sizeof(known); n++)
			off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s", off ? ", " : "", *n);
		return FAIL("unknown engine parameter '%s' (known: %s)", k, known);
	}
	if (ps->n_engine == ps->cap_engine) {
		size_t cap = ps->cap_engine ? ps->cap_engine * 2 : 16;
		struct cfg_engine_key *e = realloc(ps->engine, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		ps->engine = e;
		ps->cap_engine = cap;
	}
	ps->engine[ps->n_engine++] = (struct cfg_engine_key){ k, v, ps->line };
	return 0;
}

static int uplink_key(struct cfg_parse *ps, const char *k, const char *v)
{
	struct dvmq_config_uplink *u = &ps->c->uplink;
	uint64_t n;
	int rc = 0;
	if (strcmp(k, "mode") == 0) {
		if (strcmp(v, "kernel") != 0 && strcmp(v, "switch") != 0)
			return FAIL("bad mode '%s' (want switch: dvmq switches the VMs' frames itself, or kernel: dvmq "
				    "steers the host's own bridge with XDP)", v);
		ps->up_kernel = v[0] == 'k';
		ps->up_mode = true;
		ps->line_up_mode = ps->line;
	} else if (strcmp(k, "qsize") == 0) {
		rc = count_key(ps, k, v, 1, 16384, &n);
		u->qsize = (uint32_t)n;
		ps->up_qsize = true;
		ps->line_up_qsize = ps->line;
	} else if (strcmp(k, "kthread_priority") == 0) {
		rc = count_key(ps, k, v, 0, 99, &n);
		u->kthread_priority = (uint32_t)n;
		ps->up_kprio = true;
		ps->line_up_kprio = ps->line;
	} else if (strcmp(k, "rx_hash") == 0) {
		if (strcmp(v, "toeplitz") != 0 && strcmp(v, "nic") != 0)
			return FAIL("bad rx_hash '%s' (want toeplitz: dvmq hashes a queue group's frames itself, or nic: "
				    "the NIC's RSS hash where its driver hands XDP one)", v);
		u->rx_hash_nic = v[0] == 'n';
		ps->up_rx_hash = true;
		ps->line_up_rx_hash = ps->line;
	} else if (strcmp(k, "local_path") == 0) {
		if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
			return FAIL("bad local_path '%s' (want on: a frame already on its queue's processor stays there "
				    "when it can overtake none of its queue, or off: every frame through the cpumap)", v);
		u->local_path_off = strcmp(v, "off") == 0;
		ps->up_local_path = true;
		ps->line_up_local_path = ps->line;
	} else if (strcmp(k, "port") == 0) {
		if (strcmp(v, "kernel") == 0)
			return FAIL("port kernel: kernel mode is `mode = kernel` with device = INTERFACE (and no port)");
		if (port_parse(v, &u->port))
			return FAIL("unknown port '%s' for the uplink (want gen, pcap, afxdp or afpacket)", v);
		if (!dvmq_config_port_is_uplink(u->port))
			return FAIL("port %s does not fit the uplink: tap and sink are VM adapter ports (want gen, "
				    "pcap, afxdp or afpacket)", v);
		ps->up_port = true;
		ps->line_up_port = ps->line;
	} else if (strcmp(k, "device") == 0) {
		rc = ifname_key(ps, v, u->device);
		u->line_device = ps->line;
	} else if (strcmp(k, "file") == 0 || strcmp(k, "scenario") == 0) {
		if (u->line_file)
			return FAIL("%s and %s in one [uplink] (file is pcap's capture, scenario is gen's)", k,
				    ps->up_scenario ? "scenario" : "file");
		rc = path_key(ps, k, v, u->file, u->path);
		u->line_file = ps->line;
		ps->up_scenario = k[0] == 's';
	} else if (strcmp(k, "scenario_vms") == 0) {
		rc = bool_key(ps, k, v, &u->scenario_vms);
		ps->up_scenario_vms = true;
		ps->line_up_scenario_vms = ps->line;
	} else if (strcmp(k, "fallback") == 0) {
		if (strcmp(v, "afpacket") != 0 && strcmp(v, "none") != 0)
			return FAIL("bad fallback '%s' (want afpacket or none)", v);
		u->fallback = v[0] == 'a';
		ps->up_fallback = true;
		ps->line_up_fallback = ps->line;
	} else if (strcmp(k, "xdp_mode") == 0) {
		if (strcmp(v, "auto") == 0)
			u->xdp_mode = DVMQ_CONFIG_XDP_AUTO;
		else if (strcmp(v, "native") == 0)
			u->xdp_mode = DVMQ_CONFIG_XDP_NATIVE;
		else if (strcmp(v, "generic") == 0)
			u->xdp_mode = DVMQ_CONFIG_XDP_GENERIC;
		else
			return FAIL("bad xdp_mode '%s' (want auto, native or generic)", v);
		ps->up_xdp_mode = true;
		ps->line_up_xdp_mode = ps->line;
	} else if (strcmp(k, "rx") == 0) {
		if (strcmp(v, "copy") != 0 && strcmp(v, "ring") != 0)
			return FAIL("bad rx '%s' (want copy or ring)", v);
		u->rx = v[0] == 'r' ? DVMQ_CONFIG_RX_RING : DVMQ_CONFIG_RX_COPY;
		ps->up_rx = true;
		ps->line_up_rx = ps->line;
	} else if (strcmp(k, "ring") == 0) {
		rc = dvmq_units_bytes(v, &n);
		if (rc || n < 65536 || n > (1ull << 30) || n % 1024)
			return FAIL("bad ring '%s' (want a size of 64KiB..1024MiB in whole KiB, such as 4MiB)", v);
		u->ring_kib = (uint32_t)(n / 1024);
		ps->up_ring = true;
		ps->line_up_ring = ps->line;
	} else {
		return FAIL("unknown key '%s' in [uplink] (known: mode, port, device, file, scenario, scenario_vms, "
			    "fallback, xdp_mode, rx, ring, qsize, kthread_priority, rx_hash, local_path)", k);
	}
	return rc;
}

static int vm_key(struct cfg_parse *ps, const char *k, const char *v)
{
	struct cfg_vm_draft *d = &ps->vms[ps->n_vms - 1];
	struct dvmq_config_vm *vm = &d->vm;
	uint64_t n;
	int rc = 0;
	if (strcmp(k, "mac") == 0) {
		if (dvmq_units_mac(v, vm->adapter.mac))
			return FAIL("malformed MAC '%s' (want six hex pairs such as 52:54:00:12:34:56)", v);
		if (vm->adapter.mac[0] & 1)
			return FAIL("MAC '%s' is multicast: a VM adapter needs a unicast address", v);
		static const uint8_t zero[6];
		if (memcmp(vm->adapter.mac, zero, 6) == 0)
			return FAIL("MAC '%s' is all zeros: a VM adapter needs a real address", v);
		d->has_mac = true;
		vm->line_mac = ps->line;
	} else if (strcmp(k, "vlan") == 0) {
		rc = count_key(ps, k, v, 0, 4094, &n);
		vm->adapter.vlan = (uint16_t)n;
		d->has_vlan = true;
		d->line_vlan = ps->line;
	} else if (strcmp(k, "weight") == 0) {
		rc = count_key(ps, k, v, 0, 100, &n);
		vm->adapter.weight = (uint32_t)n;
		d->has_weight = true;
	} else if (strcmp(k, "max-queues") == 0) {
		rc = count_key(ps, k, v, 1, DVMQ_MAX_GROUP_QUEUES, &n);
		vm->adapter.max_queues = (uint32_t)n;
		d->has_max_queues = true;
	} else if (strcmp(k, "port") == 0) {
		if (strcmp(v, "kernel") == 0)
			return FAIL("port kernel: in kernel mode ([uplink] mode = kernel) a VM has no port key");
		if (port_parse(v, &vm->port))
			return FAIL("unknown port '%s' for a VM adapter (want tap, afpacket or sink)", v);
		if (!dvmq_config_port_is_vm(vm->port))
			return FAIL("port %s does not fit a VM adapter: %s is an uplink port (want tap, afpacket or "
				    "sink)", v, v);
		d->has_port = true;
		d->line_port = ps->line;
	} else if (strcmp(k, "device") == 0) {
		rc = ifname_key(ps, v, vm->device);
		vm->line_device = ps->line;
	} else if (strcmp(k, "offload") == 0) {
		rc = bool_key(ps, k, v, &vm->offload);
		d->has_offload = true;
		d->line_offload = ps->line;
	} else if (strcmp(k, "netns") == 0) {
		/* a name of `ip netns` (/run/netns/NAME), or a path (/proc/PID/ns/net) */
		bool name = strchr(v, '/') == NULL;
		if (!*v || (!name && v[0] != '/') || (name && (strcmp(v, ".") == 0 || strcmp(v, "..") == 0)))
			return FAIL("bad netns '%s' (want a name of `ip netns list`, or an absolute path such as "
				    "/proc/PID/ns/net)", v);
		int len = name ? snprintf(vm->netns, sizeof(vm->netns), "/run/netns/%s", v)
			     : snprintf(vm->netns, sizeof(vm->netns), "%s", v);
		if (len < 0 || len >= (int)sizeof(vm->netns))
			return FAIL("netns '%s' is longer than %zu bytes", v, sizeof(vm->netns) - 1);
		d->has_netns = true;
		d->line_netns = ps->line;
	} else {
		return FAIL("unknown key '%s' in [vm %s] (known: mac, vlan, weight, max-queues, port, device, offload, netns)", k,
			    vm->name);
	}
	return rc;
}

static int control_key(struct cfg_parse *ps, const char *k, const char *v)
{
	struct dvmq_config_control *c = &ps->c->control;
	if (strcmp(k, "socket") == 0) {
		if (!*v)
			return FAIL("socket is empty (want a path such as /run/dvmq/dvmq.sock)");
		if (strlen(v) >= DVMQ_CONFIG_SOCKET_MAX)
			return FAIL("socket path is %zu bytes, a unix socket path holds at most %u", strlen(v),
				    DVMQ_CONFIG_SOCKET_MAX - 1);
		snprintf(c->socket, sizeof(c->socket), "%s", v);
		ps->ctl_socket = true;
	} else if (strcmp(k, "metrics") == 0) {
		ps->ctl_metrics = true;
		if (strcmp(v, "off") == 0) {
			c->metrics = false;
			return 0;
		}
		/* ADDRESS:PORT, the address in brackets when it is IPv6 */
		char addr[64];
		const char *port;
		if (v[0] == '[') {
			const char *close = strchr(v, ']');
			if (!close || close[1] != ':' || (size_t)(close - v - 1) >= sizeof(addr))
				goto bad_metrics;
			snprintf(addr, sizeof(addr), "%.*s", (int)(close - v - 1), v + 1);
			port = close + 2;
		} else {
			const char *colon = strrchr(v, ':');
			if (!colon || (size_t)(colon - v) >= sizeof(addr) || strchr(v, ':') != colon)
				goto bad_metrics;
			snprintf(addr, sizeof(addr), "%.*s", (int)(colon - v), v);
			port = colon + 1;
		}
		unsigned char buf[16];
		if (inet_pton(v[0] == '[' ? AF_INET6 : AF_INET, addr, buf) != 1)
			return FAIL("metrics address '%s' is not a numeric %s address", addr, v[0] == '[' ? "IPv6" : "IPv4");
		uint64_t n;
		if (dvmq_units_count(port, &n) || n < 1 || n > 65535)
			return FAIL("metrics port '%s' is out of range 1..65535", port);
		c->metrics = true;
		snprintf(c->metrics_address, sizeof(c->metrics_address), "%s", addr);
		c->metrics_port = (uint16_t)n;
	} else if (strcmp(k, "log_level") == 0) {
		for (unsigned i = 0; i < 4; i++)
			if (strcmp(v, level_names[i]) == 0) {
				c->log_level = (enum dvmq_config_log_level)i;
				ps->ctl_log_level = true;
				return 0;
			}
		return FAIL("unknown log_level '%s' (want error, warning, info or debug)", v);
	} else {
		return FAIL("unknown key '%s' in [control] (known: socket, metrics, log_level)", k);
	}
	return 0;
bad_metrics:
	return FAIL("bad metrics '%s' (want ADDRESS:PORT such as 127.0.0.1:9911 or [::1]:9911, or off)", v);
}

static const char *section_name(const struct cfg_parse *ps)
{
	static const char *const names[] = { "", "[host]", "[engine]", "[uplink]", "[vm]", "[control]" };
	return names[ps->sec];
}

static int key(struct cfg_parse *ps, const char *k, const char *v)
{
	if (ps->sec == CFG_SEC_NONE)
		return FAIL("key '%s' outside a section (start with [host], [uplink] or [vm NAME])", k);
	for (int i = 0; i < ps->n_seen; i++)
		if (strcmp(ps->seen_key[i], k) == 0) {
			if (ps->sec == CFG_SEC_VM)
				return FAIL("'%s' set twice in [vm %s] (first on line %d)", k,
					    ps->vms[ps->n_vms - 1].vm.name, ps->seen_line[i]);
			return FAIL("'%s' set twice in %s (first on line %d)", k, section_name(ps), ps->seen_line[i]);
		}
	int rc;
	switch (ps->sec) {
	case CFG_SEC_HOST: rc = host_key(ps, k, v); break;
	case CFG_SEC_ENGINE: rc = engine_key(ps, k, v); break;
	case CFG_SEC_UPLINK: rc = uplink_key(ps, k, v); break;
	case CFG_SEC_VM: rc = vm_key(ps, k, v); break;
	case CFG_SEC_CONTROL: rc = control_key(ps, k, v); break;
	case CFG_SEC_NONE:
	default: rc = -EINVAL; break;
	}
	/* every valid key is known, so a section never holds more than its table */
	if (rc == 0 && ps->n_seen < CFG_MAX_SECTION_KEYS) {
		ps->seen_key[ps->n_seen] = k;
		ps->seen_line[ps->n_seen++] = ps->line;
	}
	return rc;
}

/* 1..47 characters of [A-Za-z0-9._-], not starting with '-': what dvmqctl and the metrics page
 * accept as a VM name. */
static bool vm_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len >= DVMQ_CONFIG_VM_NAME_MAX || n[0] == '-')
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-'))
			return false;
	return true;
}

static int vm_section(struct cfg_parse *ps, const char *arg)
{
	if (!arg || !vm_name_ok(arg))
		return FAIL("[vm NAME] needs a name of 1..%u characters from A-Z a-z 0-9 . _ - (not starting with "
			    "'-')", DVMQ_CONFIG_VM_NAME_MAX - 1);
	if (ps->n_vms == DVMQ_CONFIG_MAX_VMS)
		return FAIL("more than %u VM adapters", DVMQ_CONFIG_MAX_VMS);
	if (ps->n_vms == ps->cap_vms) {
		size_t cap = ps->cap_vms ? ps->cap_vms * 2 : 16;
		struct cfg_vm_draft *d = realloc(ps->vms, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		ps->vms = d;
		ps->cap_vms = cap;
	}
	struct cfg_vm_draft *d = &ps->vms[ps->n_vms++];
	memset(d, 0, sizeof(*d));
	snprintf(d->vm.name, sizeof(d->vm.name), "%s", arg);
	d->vm.adapter.weight = 100;
	d->vm.scenario_vm = -1;
	d->vm.line = ps->line;
	ps->sec = CFG_SEC_VM;
	return 0;
}

static int begin_section(struct cfg_parse *ps, const char *name, const char *arg)
{
	static const struct {
		const char *name;
		int sec;
		size_t line_off;
	} singles[] = {
		{ "host", CFG_SEC_HOST, offsetof(struct cfg_parse, host_line) },
		{ "engine", CFG_SEC_ENGINE, offsetof(struct cfg_parse, engine_line) },
		{ "uplink", CFG_SEC_UPLINK, offsetof(struct cfg_parse, uplink_line) },
		{ "control", CFG_SEC_CONTROL, offsetof(struct cfg_parse, control_line) },
	};
	ps->sec = CFG_SEC_NONE;
	ps->n_seen = 0;
	if (strcmp(name, "vm") == 0)
		return vm_section(ps, arg);
	for (size_t i = 0; i < sizeof(singles) / sizeof(singles[0]); i++) {
		if (strcmp(name, singles[i].name) != 0)
			continue;
		int *first = (int *)(void *)((char *)ps + singles[i].line_off);
		if (arg)
			return FAIL("[%s] takes no name (want [%s])", name, name);
		if (*first)
			return FAIL("second [%s] section (the first is on line %d)", name, *first);
		*first = ps->line;
		ps->sec = singles[i].sec;
		return 0;
	}
	return FAIL("unknown section [%s%s%s] (known: host, engine, uplink, vm NAME, control)", name, arg ? " " : "",
		    arg ? arg : "");
}

static int parse(struct cfg_parse *ps, struct dvmq_ini *r)
{
	struct dvmq_ini_item it;
	int rc;
	while ((rc = dvmq_ini_next(r, &it)) == 1) {
		ps->line = it.line;
		rc = it.kind == DVMQ_INI_SECTION ? begin_section(ps, it.name, it.arg) : key(ps, it.key, it.value);
		if (rc == -ENOMEM)
			return rc;
		if (rc)
			return -EINVAL;
	}
	if (rc < 0)
		return cfg_fail(ps, it.line, "%s", dvmq_ini_error(r));
	return 0;
}

void dvmq_config_free(struct dvmq_config *c)
{
	if (!c)
		return;
	free(c->host.cpus);
	free(c->host.excluded);
	dvmq_scenario_free(c->uplink.scenario);
	free(c->vms);
	free(c);
}

static int load_ini(const char *name, struct dvmq_ini *r, const char *base_dir, struct dvmq_config **out,
		    struct dvmq_diag *diag)
{
	struct dvmq_config *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->path, sizeof(c->path), "%s", name);
	struct cfg_parse ps = { .file = name, .base_dir = base_dir, .diag = diag, .c = c };
	int rc = parse(&ps, r);
	if (rc == 0)
		rc = cfg_build(&ps);
	free(ps.engine);
	free(ps.vms);
	if (rc == -ENOMEM && !ps.failed)
		cfg_fail(&ps, ps.line, "out of memory");
	if (rc || ps.failed) {
		dvmq_config_free(c);
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	*out = c;
	return 0;
}

int dvmq_config_load_text(const char *name, const char *text, const char *base_dir, struct dvmq_config **out,
			  struct dvmq_diag *diag)
{
	struct dvmq_diag dummy;
	if (!diag)
		diag = &dummy;
	diag->msg[0] = '\0';
	struct dvmq_ini *r;
	int rc = dvmq_ini_create(text, &r);
	if (rc)
		return rc;
	rc = load_ini(name, r, base_dir, out, diag);
	dvmq_ini_destroy(r);
	return rc;
}

int dvmq_config_load(const char *path, struct dvmq_config **out, struct dvmq_diag *diag)
{
	struct dvmq_diag dummy;
	if (!diag)
		diag = &dummy;
	diag->msg[0] = '\0';
	struct dvmq_ini *r;
	char dir[DVMQ_CONFIG_PATH_MAX];
	int rc = dvmq_ini_open(path, &r, dir, sizeof(dir), diag->msg, sizeof(diag->msg));
	if (rc)
		return rc;
	rc = load_ini(path, r, dir, out, diag);
	dvmq_ini_destroy(r);
	return rc;
}

/* ---- the ports' options ---- */

void dvmq_config_uplink_kopts(const struct dvmq_config *c, struct dvmq_port_kopts *o)
{
	memset(o, 0, sizeof(*o));
	o->mtu = c->host.mtu;
	o->ring_kib = c->uplink.ring_kib;
	o->afpacket_rx = c->uplink.rx == DVMQ_CONFIG_RX_RING ? DVMQ_AFPACKET_RX_RING : DVMQ_AFPACKET_RX_COPY;
	/* the same three values, in the same order, as port.h's xdp_mode */
	o->xdp_mode = (int)c->uplink.xdp_mode;
	o->fallback = c->uplink.fallback;
}

void dvmq_config_vm_kopts(const struct dvmq_config *c, const struct dvmq_config_vm *vm, struct dvmq_port_kopts *o)
{
	memset(o, 0, sizeof(*o));
	o->mtu = c->host.mtu;
	o->offload = vm->offload;
	if (vm->port == DVMQ_CONFIG_PORT_TAP)
		memcpy(o->mac, vm->adapter.mac, 6); /* a TAP dvmq creates is the VM's NIC */
	/* a TAP as many queues as the VM's group may hold (VMMQ: queue i of the group, fd i) */
	o->queues = vm->port == DVMQ_CONFIG_PORT_TAP && vm->adapter.max_queues > 1 ? vm->adapter.max_queues : 0;
	o->netns = vm->port == DVMQ_CONFIG_PORT_TAP && vm->netns[0] ? vm->netns : NULL;
}
