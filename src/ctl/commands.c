/* The control commands of docs/ctl-protocol.md, written against the daemon's state interface
 * (struct dvmq_ctl_state_ops): the handlers check every value against the current snapshot and
 * give the precise error code (unknown-vm, out-of-range, ...) before the daemon sees a call, so
 * an op only ever refuses what only the daemon can know.
 * Invariant: a handler answers exactly once and holds no snapshot reference after it returns. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_internal.h"
#include "dvmq/units.h"

#define MOVES_DEFAULT 20
#define MOVES_MAX 10000
#define EXPLAIN_MOVES 5

/* Parameter names the engine does not know but `policy set` takes. */
#define PARAM_INTERVAL "interval"

const struct dvmq_ctl_state *ctl_state_of(void *aux)
{
	return aux;
}

struct dvmq_snapshot *ctl_snap(struct dvmq_ctl_call *call, const struct dvmq_ctl_state *st)
{
	struct dvmq_snapshot *s = st->ops->snapshot(st->ctx);
	if (!s)
		dvmq_ctl_call_error(call, DVMQ_CTL_E_INTERNAL, "the daemon has no state snapshot (out of memory)");
	return s;
}

void ctl_op_error(struct dvmq_ctl_call *call, int rc, const char *msg, enum dvmq_ctl_errc enoent)
{
	/* a device that does not exist is the user's to fix (vm add --port afpacket:nosuch0) */
	enum dvmq_ctl_errc c = rc == -ENOENT	  ? enoent
			       : rc == -ENODEV || rc == -ENXIO ? DVMQ_CTL_E_VALUE
			       : rc == -EINVAL	  ? DVMQ_CTL_E_RANGE
			       : rc == -EEXIST	  ? DVMQ_CTL_E_EXISTS
			       : rc == -ENOSPC	  ? DVMQ_CTL_E_NO_SPACE
			       : rc == -EOPNOTSUPP ? DVMQ_CTL_E_UNSUPPORTED
						  : DVMQ_CTL_E_INTERNAL;
	dvmq_ctl_call_error(call, c, "%s", msg[0] ? msg : strerror(-rc));
}

bool ctl_has(const json_t *args, const char *name)
{
	return json_object_get(args, name) != NULL;
}

int64_t ctl_arg_int(const json_t *args, const char *name, int64_t dflt)
{
	const json_t *v = json_object_get(args, name);
	return v ? json_integer_value(v) : dflt;
}

const char *ctl_arg_str(const json_t *args, const char *name)
{
	return json_string_value(json_object_get(args, name));
}

/* 1..63 bytes of [A-Za-z0-9._-], not starting with '-' (it would read as an option). */
static bool vm_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len >= DVMQ_SNAP_NAME_MAX || n[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '.' && n[i] != '_' && n[i] != '-')
			return false;
	return true;
}

void ctl_unknown_vm(struct dvmq_ctl_call *call, const char *name)
{
	dvmq_ctl_call_error(call, DVMQ_CTL_E_UNKNOWN_VM, "unknown VM '%s'", name);
}

void ctl_unknown_processor(struct dvmq_ctl_call *call, const struct dvmq_snapshot *s, int64_t id)
{
	dvmq_ctl_call_error(call, DVMQ_CTL_E_UNKNOWN_PROCESSOR, "unknown processor %lld (this host has %u: 0..%u)",
			    (long long)id, s->n_processors, s->n_processors ? s->n_processors - 1 : 0);
}

/* Answers with one object member holding a list built by `item` for each index that `want`. */
static json_t *list_of(const char *key, json_t *arr)
{
	return arr ? json_pack("{s:o}", key, arr) : NULL;
}

/* ---- adapter ---- */

static void adapter_show(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)args;
	struct dvmq_snapshot *s = ctl_snap(call, ctl_state_of(aux));
	if (!s)
		return;
	dvmq_ctl_call_ok(call, ctl_json_adapter(s));
	dvmq_snapshot_unref(s);
}

/* "0-3,6" into n flags. Returns 0, -EINVAL (syntax) or -ERANGE (*bad: the id past the host). */
static int parse_cpu_list(const char *text, bool *flags, uint32_t n, int64_t *bad)
{
	const char *p = text;
	if (!*p)
		return -EINVAL;
	while (*p) {
		char *end;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		unsigned long a = strtoul(p, &end, 10), b = a;
		p = end;
		if (*p == '-') {
			if (!isdigit((unsigned char)p[1]))
				return -EINVAL;
			b = strtoul(p + 1, &end, 10);
			p = end;
		}
		if (b < a || (*p && *p != ','))
			return -EINVAL;
		if (*p == ',' && !p[1])
			return -EINVAL;
		if (*p)
			p++;
		if (b >= n) {
			*bad = (int64_t)(b > DVMQ_MAX_PROCESSORS ? DVMQ_MAX_PROCESSORS : b);
			return -ERANGE;
		}
		for (unsigned long i = a; i <= b; i++)
			flags[i] = true;
	}
	return 0;
}

static const struct dvmq_ctl_arg adapter_set_args[] = {
	{ "vmq", DVMQ_CTL_ARG_BOOL, false, 0, 0 },
	{ "base_processor", DVMQ_CTL_ARG_INT, false, 0, DVMQ_MAX_PROCESSORS - 1 },
	{ "max_processors", DVMQ_CTL_ARG_INT, false, 0, DVMQ_MAX_PROCESSORS },
	{ "max_processor_number", DVMQ_CTL_ARG_INT, false, 0, DVMQ_MAX_PROCESSORS - 1 },
	{ "numa_node", DVMQ_CTL_ARG_INT, false, -1, DVMQ_SNAP_MAX_NUMA - 1 },
	{ "queue_pool", DVMQ_CTL_ARG_INT, false, 0, DVMQ_MAX_QUEUE_POOL },
	{ "processors", DVMQ_CTL_ARG_STRING, false, 0, 1024 },
};

static void adapter_set_with(struct dvmq_ctl_call *call, json_t *args, const struct dvmq_ctl_state *st,
			     struct dvmq_snapshot *s, bool *flags)
{
	struct dvmq_ctl_adapter_change c = { 0 };
	if (json_object_size(args) == 0) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_ARGS, "adapter.set: nothing to set");
		return;
	}
	c.has_vmq = ctl_has(args, "vmq");
	c.vmq = json_is_true(json_object_get(args, "vmq"));
	c.has_base = ctl_has(args, "base_processor");
	c.base = (uint32_t)ctl_arg_int(args, "base_processor", 0);
	c.has_max_processors = ctl_has(args, "max_processors");
	c.max_processors = (uint32_t)ctl_arg_int(args, "max_processors", 0);
	c.has_max_number = ctl_has(args, "max_processor_number");
	c.max_number = (uint32_t)ctl_arg_int(args, "max_processor_number", 0);
	c.has_numa_node = ctl_has(args, "numa_node");
	c.numa_node = (int32_t)ctl_arg_int(args, "numa_node", -1);
	c.has_queue_pool = ctl_has(args, "queue_pool");
	c.queue_pool = (uint32_t)ctl_arg_int(args, "queue_pool", 0);
	if (c.has_base && c.base >= s->n_processors) {
		ctl_unknown_processor(call, s, c.base);
		return;
	}
	if (c.has_max_number && c.max_number >= s->n_processors) {
		ctl_unknown_processor(call, s, c.max_number);
		return;
	}
	if (c.has_max_processors && c.max_processors > s->n_processors) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_RANGE, "max_processors %u is out of range 0..%u (0: no limit)",
				    c.max_processors, s->n_processors);
		return;
	}
	const char *list = ctl_arg_str(args, "processors");
	if (list) {
		int64_t bad = 0;
		int rc = parse_cpu_list(list, flags, s->n_processors, &bad);
		if (rc == -ERANGE) {
			ctl_unknown_processor(call, s, bad);
			return;
		}
		if (rc) {
			dvmq_ctl_call_error(call, DVMQ_CTL_E_VALUE, "bad processor list '%.64s' (want e.g. 0-3,6)", list);
			return;
		}
		c.has_processors = true;
		c.processors = flags;
		c.n_processors = s->n_processors;
	}
	char msg[DVMQ_CTL_MSG_MAX] = "";
	int rc = st->ops->adapter_set(st->ctx, &c, msg, sizeof(msg));
	if (rc) {
		ctl_op_error(call, rc, msg, DVMQ_CTL_E_UNKNOWN_PROCESSOR);
		return;
	}
	struct dvmq_snapshot *now = ctl_snap(call, st);
	if (now)
		dvmq_ctl_call_ok(call, ctl_json_adapter(now));
	dvmq_snapshot_unref(now);
}

static void adapter_set(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	struct dvmq_snapshot *s = ctl_snap(call, st);
	if (!s)
		return;
	bool *flags = calloc(s->n_processors ? s->n_processors : 1, sizeof(*flags));
	if (flags)
		adapter_set_with(call, args, st, s, flags);
	else
		dvmq_ctl_call_error(call, DVMQ_CTL_E_INTERNAL, "out of memory");
	free(flags);
	dvmq_snapshot_unref(s);
}

/* ---- queues and processors ---- */

static const struct dvmq_ctl_arg queue_show_args[] = {
	{ "queue", DVMQ_CTL_ARG_INT, false, 0, DVMQ_MAX_QUEUE_POOL },
	{ "vm", DVMQ_CTL_ARG_STRING, false, 0, 255 },
};

static void queue_show(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	struct dvmq_snapshot *s = ctl_snap(call, ctl_state_of(aux));
	if (!s)
		return;
	int64_t want = ctl_arg_int(args, "queue", -1);
	const char *vm_name = ctl_arg_str(args, "vm");
	const struct dvmq_snap_vm *vm = vm_name ? dvmq_snap_vm_find(s, vm_name) : NULL;
	if (want >= 0 && !dvmq_snap_queue_find(s, (uint32_t)want)) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_UNKNOWN_QUEUE, "unknown queue %lld", (long long)want);
	} else if (vm_name && !vm) {
		ctl_unknown_vm(call, vm_name);
	} else {
		json_t *arr = json_array();
		for (uint32_t i = 0; arr && i < s->n_queues; i++) {
			const struct dvmq_snap_queue *q = &s->queues[i];
			if ((want >= 0 && q->id != want) || (vm && (q->vm >= s->n_vms || &s->vms[q->vm] != vm)))
				continue;
			if (json_array_append_new(arr, ctl_json_queue(s, q))) {
				json_decref(arr);
				arr = NULL;
			}
		}
		dvmq_ctl_call_ok(call, list_of("queues", arr));
	}
	dvmq_snapshot_unref(s);
}

static const struct dvmq_ctl_arg processor_show_args[] = {
	{ "processor", DVMQ_CTL_ARG_INT, false, 0, DVMQ_MAX_PROCESSORS - 1 },
};

static void processor_show(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	struct dvmq_snapshot *s = ctl_snap(call, ctl_state_of(aux));
	if (!s)
		return;
	int64_t want = ctl_arg_int(args, "processor", -1);
	if (want >= 0 && !dvmq_snap_processor_find(s, (uint32_t)want)) {
		ctl_unknown_processor(call, s, want);
	} else {
		json_t *arr = json_array();
		for (uint32_t i = 0; arr && i < s->n_processors; i++) {
			if (want >= 0 && s->processors[i].id != want)
				continue;
			if (json_array_append_new(arr, ctl_json_processor(s, &s->processors[i]))) {
				json_decref(arr);
				arr = NULL;
			}
		}
		dvmq_ctl_call_ok(call, list_of("processors", arr));
	}
	dvmq_snapshot_unref(s);
}

/* ---- VMs ---- */

static const struct dvmq_ctl_arg vm_add_args[] = {
	{ "name", DVMQ_CTL_ARG_STRING, true, 0, 255 },
	{ "mac", DVMQ_CTL_ARG_STRING, true, 0, 64 },
	{ "vlan", DVMQ_CTL_ARG_INT, false, 0, 4094 },
	{ "weight", DVMQ_CTL_ARG_INT, false, 0, 100 },
	{ "port", DVMQ_CTL_ARG_STRING, true, 0, DVMQ_SNAP_PORT_MAX - 1 },
};

/* "KIND:DEVICE" or "sink" (the daemon says which kinds it has) */
static bool port_ok(const char *p)
{
	if (strcmp(p, "sink") == 0)
		return true;
	const char *colon = strchr(p, ':');
	if (!colon || colon == p || !colon[1])
		return false;
	for (; *p; p++)
		if (!isgraph((unsigned char)*p))
			return false;
	return true;
}

static void vm_reply(struct dvmq_ctl_call *call, const struct dvmq_ctl_state *st, const char *name)
{
	struct dvmq_snapshot *s = ctl_snap(call, st);
	if (!s)
		return;
	const struct dvmq_snap_vm *vm = dvmq_snap_vm_find(s, name);
	if (vm)
		dvmq_ctl_call_ok(call, json_pack("{s:o}", "vm", ctl_json_vm(s, vm)));
	else
		dvmq_ctl_call_error(call, DVMQ_CTL_E_INTERNAL, "VM '%s' vanished after the change", name);
	dvmq_snapshot_unref(s);
}

static void vm_add(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	struct dvmq_ctl_vm_spec spec = {
		.name = ctl_arg_str(args, "name"),
		.vlan = (uint16_t)ctl_arg_int(args, "vlan", 0),
		.weight = (uint32_t)ctl_arg_int(args, "weight", 100),
		.port = ctl_arg_str(args, "port"),
	};
	const char *mac = ctl_arg_str(args, "mac");
	if (!vm_name_ok(spec.name)) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_VALUE, "bad VM name '%.64s' (1-63 of A-Z a-z 0-9 . _ -, not starting with -)",
				    spec.name);
		return;
	}
	if (dvmq_units_mac(mac, spec.mac) != 0 || (spec.mac[0] & 1) ||
	    !(spec.mac[0] | spec.mac[1] | spec.mac[2] | spec.mac[3] | spec.mac[4] | spec.mac[5])) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_VALUE, "bad MAC '%.64s' (want a unicast aa:bb:cc:dd:ee:ff)", mac);
		return;
	}
	if (spec.port && !port_ok(spec.port)) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_VALUE, "bad port '%s' (want tap:DEVICE, afpacket:DEVICE or sink)",
				    spec.port);
		return;
	}
	struct dvmq_snapshot *s = ctl_snap(call, st);
	if (!s)
		return;
	bool taken = false;
	for (uint32_t i = 0; i < s->n_vms && !taken; i++) {
		const struct dvmq_snap_vm *v = &s->vms[i];
		if (strcmp(v->name, spec.name) == 0) {
			dvmq_ctl_call_error(call, DVMQ_CTL_E_EXISTS, "VM '%s' exists", spec.name);
			taken = true;
		} else if (memcmp(v->mac, spec.mac, 6) == 0 && v->vlan == spec.vlan) {
			dvmq_ctl_call_error(call, DVMQ_CTL_E_EXISTS, "MAC %s on VLAN %u belongs to VM '%s'", mac, spec.vlan,
					    v->name);
			taken = true;
		}
	}
	dvmq_snapshot_unref(s);
	if (taken)
		return;
	char msg[DVMQ_CTL_MSG_MAX] = "";
	int rc = st->ops->vm_add(st->ctx, &spec, msg, sizeof(msg));
	if (rc)
		ctl_op_error(call, rc, msg, DVMQ_CTL_E_UNKNOWN_VM);
	else
		vm_reply(call, st, spec.name);
}

static const struct dvmq_ctl_arg vm_name_args[] = {
	{ "name", DVMQ_CTL_ARG_STRING, true, 0, 255 },
};

/* The VM named in args exists: true, else answered with unknown-vm. */
static bool vm_exists(struct dvmq_ctl_call *call, const struct dvmq_ctl_state *st, const char *name)
{
	struct dvmq_snapshot *s = ctl_snap(call, st);
	if (!s)
		return false;
	bool found = dvmq_snap_vm_find(s, name) != NULL;
	dvmq_snapshot_unref(s);
	if (!found)
		ctl_unknown_vm(call, name);
	return found;
}

static void vm_remove(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	const char *name = ctl_arg_str(args, "name");
	if (!vm_exists(call, st, name))
		return;
	char msg[DVMQ_CTL_MSG_MAX] = "";
	int rc = st->ops->vm_remove(st->ctx, name, msg, sizeof(msg));
	if (rc)
		ctl_op_error(call, rc, msg, DVMQ_CTL_E_UNKNOWN_VM);
	else
		dvmq_ctl_call_ok(call, json_pack("{s:s}", "removed", name));
}

static const struct dvmq_ctl_arg vm_show_args[] = {
	{ "name", DVMQ_CTL_ARG_STRING, false, 0, 255 },
};

static void vm_show(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	struct dvmq_snapshot *s = ctl_snap(call, ctl_state_of(aux));
	if (!s)
		return;
	const char *name = ctl_arg_str(args, "name");
	if (name && !dvmq_snap_vm_find(s, name)) {
		ctl_unknown_vm(call, name);
	} else {
		json_t *arr = json_array();
		for (uint32_t i = 0; arr && i < s->n_vms; i++) {
			if (name && strcmp(s->vms[i].name, name) != 0)
				continue;
			if (json_array_append_new(arr, ctl_json_vm(s, &s->vms[i]))) {
				json_decref(arr);
				arr = NULL;
			}
		}
		dvmq_ctl_call_ok(call, list_of("vms", arr));
	}
	dvmq_snapshot_unref(s);
}

static const struct dvmq_ctl_arg vm_set_args[] = {
	{ "name", DVMQ_CTL_ARG_STRING, true, 0, 255 },
	{ "weight", DVMQ_CTL_ARG_INT, false, 0, 100 },
	{ "vlan", DVMQ_CTL_ARG_INT, false, 0, 4094 },
	{ "max_queues", DVMQ_CTL_ARG_INT, false, 1, DVMQ_MAX_GROUP_QUEUES },
};

static void vm_set(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	const char *name = ctl_arg_str(args, "name");
	struct dvmq_ctl_vm_change c = {
		.has_weight = ctl_has(args, "weight"),
		.weight = (uint32_t)ctl_arg_int(args, "weight", 0),
		.has_vlan = ctl_has(args, "vlan"),
		.vlan = (uint16_t)ctl_arg_int(args, "vlan", 0),
		.has_max_queues = ctl_has(args, "max_queues"),
		.max_queues = (uint32_t)ctl_arg_int(args, "max_queues", 1),
	};
	if (!c.has_weight && !c.has_vlan && !c.has_max_queues) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_ARGS, "vm.set: nothing to set (weight, vlan, max_queues)");
		return;
	}
	if (!vm_exists(call, st, name))
		return;
	char msg[DVMQ_CTL_MSG_MAX] = "";
	int rc = st->ops->vm_set(st->ctx, name, &c, msg, sizeof(msg));
	if (rc)
		ctl_op_error(call, rc, msg, DVMQ_CTL_E_UNKNOWN_VM);
	else
		vm_reply(call, st, name);
}

/* ---- policy ---- */

static void policy_show(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)args;
	struct dvmq_snapshot *s = ctl_snap(call, ctl_state_of(aux));
	if (!s)
		return;
	dvmq_ctl_call_ok(call, ctl_json_policy(s));
	dvmq_snapshot_unref(s);
}

static const struct dvmq_ctl_arg policy_set_args[] = {
	{ "policy", DVMQ_CTL_ARG_STRING, false, 0, 64 },
	{ "params", DVMQ_CTL_ARG_MAP, false, 0, 32 },
};

/* One parameter's refusal: which code, and the message: the engine's reason, as --set gives it
 * (why: dvmq_engine_param_problem against the parameters it was applied to, or NULL). */
static void param_error(struct dvmq_ctl_call *call, const char *name, const char *value, int rc, const char *why)
{
	if (rc == -ENOENT)
		dvmq_ctl_call_error(call, DVMQ_CTL_E_UNKNOWN_PARAMETER, "unknown parameter '%.64s' (policy show lists them)", name);
	else if (strcmp(name, "policy") == 0)
		dvmq_ctl_call_error(call, DVMQ_CTL_E_VALUE,
				    "unknown policy '%.64s' (none, static, dynamic, ovs-alb, adaptive, rsspp, irqbalance)", value);
	else if (rc == -ERANGE)
		dvmq_ctl_call_error(call, DVMQ_CTL_E_RANGE, "%s=%.64s: %s", name, value, why ? why : "out of range");
	else
		dvmq_ctl_call_error(call, DVMQ_CTL_E_VALUE, "%s: bad value '%.64s'%s%s%s", name, value, why ? " (" : "",
				    why ? why : "", why ? ")" : "");
}

/* Applies every name=value to p; an order that works is found by retrying those refused until
 * a pass makes no progress (low=95% must wait for high=99%). Returns 0 or answers the call. */
static int apply_params(struct dvmq_ctl_call *call, json_t *params, struct dvmq_engine_params *p, uint64_t *interval)
{
	size_t n = json_object_size(params), left = n;
	int *rcs = calloc(n ? n : 1, sizeof(*rcs)); /* per member: 1 = not yet applied, else 0 or why */
	if (!rcs) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		rcs[i] = 1;
	bool progress = true;
	while (left && progress) {
		progress = false;
		size_t i = 0;
		const char *k;
		json_t *v;
		json_object_foreach(params, k, v) {
			if (rcs[i++] == 0)
				continue;
			const char *val = json_string_value(v);
			int rc;
			if (strcmp(k, PARAM_INTERVAL) == 0) {
				uint64_t ns = 0;
				rc = dvmq_units_time_ns(val, &ns) ? -EINVAL : 0;
				if (!rc && (ns < DVMQ_INTERVAL_MIN_NS || ns > DVMQ_INTERVAL_MAX_NS))
					rc = -ERANGE;
				if (!rc)
					*interval = ns;
			} else {
				rc = dvmq_engine_param_set(p, k, val);
			}
			rcs[i - 1] = rc;
			if (rc == 0) {
				left--;
				progress = true;
			}
		}
	}
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach(params, k, v) {
		int rc = rcs[i++];
		if (rc == 0)
			continue;
		if (rc == -ERANGE && strcmp(k, PARAM_INTERVAL) == 0)
			dvmq_ctl_call_error(call, DVMQ_CTL_E_RANGE, "interval %.64s is out of range 1ms..10s", json_string_value(v));
		else
			param_error(call, k, json_string_value(v), rc, dvmq_engine_param_problem(p, k, json_string_value(v)));
		break;
	}
	free(rcs);
	return left ? -EINVAL : 0;
}

static void policy_set(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	const char *pol = ctl_arg_str(args, "policy");
	json_t *params = json_object_get(args, "params");
	if (!pol && json_object_size(params) == 0) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_ARGS, "policy.set: nothing to set (policy, params)");
		return;
	}
	struct dvmq_snapshot *s = ctl_snap(call, st);
	if (!s)
		return;
	struct dvmq_engine_params p = s->params;
	uint64_t interval = s->interval_ns;
	dvmq_snapshot_unref(s);
	if (pol && dvmq_engine_param_set(&p, "policy", pol) != 0) {
		param_error(call, "policy", pol, -EINVAL, NULL);
		return;
	}
	if (params && apply_params(call, params, &p, &interval) != 0)
		return;
	char msg[DVMQ_CTL_MSG_MAX] = "";
	int rc = st->ops->params_set(st->ctx, &p, interval, msg, sizeof(msg));
	if (rc) {
		ctl_op_error(call, rc, msg, DVMQ_CTL_E_UNKNOWN_PARAMETER);
		return;
	}
	policy_show(call, args, aux);
}

/* ---- moves, stats, rebalance, explain ---- */

static json_t *moves_json(const struct dvmq_snapshot *s, int64_t queue, int64_t limit)
{
	json_t *arr = json_array();
	uint32_t first = 0, n = 0;
	/* the newest `limit` of the matching moves, oldest first */
	for (uint32_t i = s->n_moves; i-- > 0 && n < limit;)
		if (queue < 0 || s->moves[i].queue == queue || (s->moves[i].buckets && s->moves[i].to_queue == queue)) {
			first = i;
			n++;
		}
	for (uint32_t i = first; arr && n && i < s->n_moves; i++) {
		if (queue >= 0 && s->moves[i].queue != queue && !(s->moves[i].buckets && s->moves[i].to_queue == queue))
			continue;
		if (json_array_append_new(arr, dvmq_ctl_move_json(&s->moves[i]))) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

static const struct dvmq_ctl_arg moves_args[] = {
	{ "limit", DVMQ_CTL_ARG_INT, false, 1, MOVES_MAX },
	{ "queue", DVMQ_CTL_ARG_INT, false, 0, DVMQ_MAX_QUEUE_POOL },
	{ "follow", DVMQ_CTL_ARG_BOOL, false, 0, 0 },
};

static void moves(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	struct dvmq_snapshot *s = ctl_snap(call, ctl_state_of(aux));
	if (!s)
		return;
	int64_t q = ctl_arg_int(args, "queue", -1);
	if (q >= 0 && !dvmq_snap_queue_find(s, (uint32_t)q)) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_UNKNOWN_QUEUE, "unknown queue %lld", (long long)q);
	} else {
		dvmq_ctl_call_ok(call, list_of("moves", moves_json(s, q, ctl_arg_int(args, "limit", MOVES_DEFAULT))));
		if (json_is_true(json_object_get(args, "follow")))
			dvmq_ctl_call_subscribe(call, "move");
	}
	dvmq_snapshot_unref(s);
}

static void stats(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)args;
	struct dvmq_snapshot *s = ctl_snap(call, ctl_state_of(aux));
	if (!s)
		return;
	dvmq_ctl_call_ok(call, dvmq_ctl_stats_json(s));
	dvmq_snapshot_unref(s);
}

static const struct dvmq_ctl_arg explain_args[] = {
	{ "queue", DVMQ_CTL_ARG_INT, false, 0, DVMQ_MAX_QUEUE_POOL },
	{ "vm", DVMQ_CTL_ARG_STRING, false, 0, 255 },
};

static void explain_in(struct dvmq_ctl_call *call, json_t *args, const struct dvmq_snapshot *s)
{
	int64_t id = ctl_arg_int(args, "queue", -1);
	const char *name = ctl_arg_str(args, "vm");
	if ((id >= 0) == (name != NULL)) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_ARGS, "explain: give a queue or a vm, one of them");
		return;
	}
	if (name) {
		const struct dvmq_snap_vm *vm = dvmq_snap_vm_find(s, name);
		if (!vm) {
			ctl_unknown_vm(call, name);
			return;
		}
		id = vm->queue;
	}
	const struct dvmq_snap_queue *q = dvmq_snap_queue_find(s, (uint32_t)id);
	char rule[512];
	if (!q || dvmq_ctl_explain_rule(s, (uint32_t)id, rule, sizeof(rule)) != 0) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_UNKNOWN_QUEUE, "unknown queue %lld", (long long)id);
		return;
	}
	const struct dvmq_snap_processor *p = dvmq_snap_processor_find(s, q->processor);
	json_t *vm = q->vm < s->n_vms ? json_string(s->vms[q->vm].name) : json_null();
	dvmq_ctl_call_ok(call, json_pack("{s:i, s:o, s:i, s:i, s:f, s:f, s:b, s:s, s:o, s:o}", "queue", (int)q->id, "vm",
					 vm, "processor", (int)q->processor, "home", (int)q->home, "processor_load",
					 p ? p->load : 0.0, "queue_load", q->load, "pinned", q->pinned, "rule", rule,
					 "considered", ctl_explain_considered(s, q->id), "moves",
					 moves_json(s, q->id, EXPLAIN_MOVES)));
}

static void explain(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	struct dvmq_snapshot *s = ctl_snap(call, ctl_state_of(aux));
	if (!s)
		return;
	explain_in(call, args, s);
	dvmq_snapshot_unref(s);
}

#define ARGS(a) a, sizeof(a) / sizeof(a[0])
static const struct dvmq_ctl_command commands[] = {
	{ "adapter.show", "", NULL, 0, adapter_show, NULL },
	{ "adapter.set", "[vmq] [base_processor] [max_processors] [max_processor_number] [numa_node] [queue_pool] [processors]",
	  ARGS(adapter_set_args), adapter_set, NULL },
	{ "queue.show", "[queue] [vm]", ARGS(queue_show_args), queue_show, NULL },
	{ "vm.add", "name mac port [vlan] [weight]", ARGS(vm_add_args), vm_add, NULL },
	{ "vm.remove", "name", ARGS(vm_name_args), vm_remove, NULL },
	{ "vm.show", "[name]", ARGS(vm_show_args), vm_show, NULL },
	{ "vm.set", "name [weight] [vlan] [max_queues]", ARGS(vm_set_args), vm_set, NULL },
	{ "processor.show", "[processor]", ARGS(processor_show_args), processor_show, NULL },
	{ "policy.show", "", NULL, 0, policy_show, NULL },
	{ "policy.set", "[policy] [params {name: value}]", ARGS(policy_set_args), policy_set, NULL },
	{ "moves", "[limit] [queue] [follow]", ARGS(moves_args), moves, NULL },
	{ "stats", "", NULL, 0, stats, NULL },
	{ "explain", "queue | vm", ARGS(explain_args), explain, NULL },
};
#undef ARGS

int dvmq_ctl_commands_register(struct dvmq_ctl_registry *reg, const struct dvmq_ctl_state *st)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		struct dvmq_ctl_command c = commands[i];
		c.aux = (void *)(uintptr_t)st; /* handlers only read it: state() gives it back const */
		int rc = dvmq_ctl_registry_add(reg, &c);
		if (rc)
			return rc;
	}
	return ctl_commands_ops_register(reg, st);
}
