/* A config as one JSON object (`dvmq run --config FILE --check --json`; the daemon may answer
 * with it too). Engine parameters appear as the text `dvmqctl policy set` takes back ("90%",
 * "1s"), CPUs as the ids this machine gives when the caller resolved them. Invariant: every
 * field the file can set appears, under the file's own key names. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>

#include "config_internal.h"
#include "dvmq/config_json.h"
#include "dvmq/ctl_state.h"

_Static_assert((int)DVMQ_CONFIG_LOG_ERROR == (int)DVMQ_LOG_ERR && (int)DVMQ_CONFIG_LOG_WARNING == (int)DVMQ_LOG_WARN &&
		       (int)DVMQ_CONFIG_LOG_INFO == (int)DVMQ_LOG_INFO && (int)DVMQ_CONFIG_LOG_DEBUG == (int)DVMQ_LOG_DEBUG,
	       "a config's log level is the control server's");

const char *dvmq_config_capability_name(int cap)
{
	switch (cap) {
	case CAP_NET_BIND_SERVICE: return "CAP_NET_BIND_SERVICE";
	case CAP_NET_ADMIN: return "CAP_NET_ADMIN";
	case CAP_NET_RAW: return "CAP_NET_RAW";
	case CAP_BPF: return "CAP_BPF";
	case CAP_PERFMON: return "CAP_PERFMON";
	case CAP_SYS_ADMIN: return "CAP_SYS_ADMIN";
	default: return "?";
	}
}

static json_t *id_array(const uint32_t *ids, uint32_t n)
{
	json_t *a = json_array();
	for (uint32_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(ids[i]));
	return a;
}

static json_t *host_json(const struct dvmq_config_host *h, const struct dvmq_config_cpus *cpus)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "cpus", h->all_cpus ? json_string("all") : id_array(h->cpus, h->n_cpus));
	if (cpus)
		json_object_set_new(o, "cpus_in_use", id_array(cpus->ids, cpus->n));
	json_object_set_new(o, "processors", h->processors ? json_integer(h->processors) : json_null());
	json_object_set_new(o, "base_processor", h->has_base ? json_integer(h->base_processor) : json_null());
	json_object_set_new(o, "max_processors", h->max_processors ? json_integer(h->max_processors) : json_null());
	json_object_set_new(o, "numa_node", h->numa_node >= 0 ? json_integer(h->numa_node) : json_string("any"));
	json_object_set_new(o, "exclude", id_array(h->excluded, h->n_excluded));
	json_object_set_new(o, "queue_pool", json_integer(h->queue_pool));
	json_object_set_new(o, "queue_depth", json_integer(h->queue_depth));
	json_object_set_new(o, "mtu", json_integer(h->mtu));
	json_object_set_new(o, "interval_ms", json_real((double)h->interval_ns / 1e6));
	return o;
}

static json_t *engine_json(const struct dvmq_engine_params *p)
{
	json_t *o = json_object();
	for (const char *const *n = dvmq_engine_param_names(); o && *n; n++) {
		char buf[64];
		if (dvmq_engine_param_format(p, *n, buf, sizeof(buf)) == 0)
			json_object_set_new(o, *n, json_string(buf));
	}
	return o;
}

static json_t *uplink_json(const struct dvmq_config_uplink *u)
{
	static const char *const modes[] = { "auto", "native", "generic" };
	json_t *o = json_pack("{s:s}", "port", dvmq_config_port_name(u->port));
	if (!o)
		return NULL;
	switch (u->port) {
	case DVMQ_CONFIG_PORT_AFXDP:
		json_object_set_new(o, "fallback", json_string(u->fallback ? "afpacket" : "none"));
		json_object_set_new(o, "xdp_mode", json_string(modes[u->xdp_mode]));
		/* afxdp's fallback is afpacket, with its options */
		__attribute__((fallthrough));
	case DVMQ_CONFIG_PORT_AFPACKET:
		json_object_set_new(o, "device", json_string(u->device));
		json_object_set_new(o, "rx", json_string(u->rx == DVMQ_CONFIG_RX_RING ? "ring" : "copy"));
		json_object_set_new(o, "ring_kib", u->ring_kib ? json_integer(u->ring_kib) : json_null());
		break;
	case DVMQ_CONFIG_PORT_GEN:
		json_object_set_new(o, "scenario", json_string(u->path));
		json_object_set_new(o, "scenario_vms", json_boolean(u->scenario_vms));
		break;
	case DVMQ_CONFIG_PORT_PCAP:
		json_object_set_new(o, "file", json_string(u->path));
		break;
	case DVMQ_CONFIG_PORT_KERNEL:
		json_object_set_new(o, "mode", json_string("kernel"));
		json_object_set_new(o, "device", json_string(u->device));
		json_object_set_new(o, "xdp_mode", json_string(modes[u->xdp_mode]));
		json_object_set_new(o, "qsize", json_integer(u->qsize ? u->qsize : 2048));
		json_object_set_new(o, "kthread_priority", json_integer(u->kthread_priority));
		json_object_set_new(o, "rx_hash", json_string(u->rx_hash_nic ? "nic" : "toeplitz"));
		json_object_set_new(o, "local_path", json_string(u->local_path_off ? "off" : "on"));
		break;
	case DVMQ_CONFIG_PORT_TAP:
	case DVMQ_CONFIG_PORT_SINK:
	case DVMQ_CONFIG_PORT_COUNT:
	default:
		break;
	}
	return o;
}

static json_t *vms_json(const struct dvmq_config *c)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < c->n_vms; i++) {
		const struct dvmq_config_vm *vm = &c->vms[i];
		const uint8_t *m = vm->adapter.mac;
		char mac[24];
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
		json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:s, s:b}", "name", vm->name, "mac", mac, "vlan",
				      (int)vm->adapter.vlan, "weight", (int)vm->adapter.weight, "port",
				      dvmq_config_port_name(vm->port), "from_scenario", vm->scenario_vm >= 0);
		if (o && vm->device[0])
			json_object_set_new(o, "device", json_string(vm->device));
		if (o)
			json_object_set_new(o, "max_queues",
					    json_integer(vm->adapter.max_queues > 1 ? vm->adapter.max_queues : 1));
		if (o && vm->port == DVMQ_CONFIG_PORT_TAP)
			json_object_set_new(o, "offload", json_boolean(vm->offload));
		if (o && vm->netns[0])
			json_object_set_new(o, "netns", json_string(vm->netns));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *dvmq_config_json(const struct dvmq_config *c, const struct dvmq_config_cpus *cpus)
{
	char metrics[80];
	dvmq_config_metrics_format(&c->control, metrics, sizeof(metrics));
	json_t *caps = json_array();
	uint64_t need = dvmq_config_capabilities(c);
	for (int cap = 0; caps && cap < 64; cap++)
		if (need >> cap & 1)
			json_array_append_new(caps, json_string(dvmq_config_capability_name(cap)));
	return json_pack("{s:s, s:b, s:o, s:o, s:o, s:o, s:{s:s, s:s, s:s}, s:o}", "file", c->path, "from_scenario",
			 c->from_scenario, "host", host_json(&c->host, cpus), "engine", engine_json(&c->params), "uplink",
			 uplink_json(&c->uplink), "vms", vms_json(c), "control", "socket", c->control.socket, "metrics",
			 metrics, "log_level", dvmq_config_log_level_name(c->control.log_level), "capabilities", caps);
}
