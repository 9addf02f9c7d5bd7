/* The control command registry: names, usage, argument schemas and handlers, in the style of
 * OVS's unixctl, plus the path of one request line from bytes to reply line. Pure: no I/O.
 * Invariant: a handler only ever sees arguments that match its schema (names known, types and
 * integer ranges right, required ones present), and every call gets exactly one reply. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/ctl.h"

struct dvmq_ctl_call {
	const json_t *id;
	bool done;
	json_t *result;
	struct dvmq_ctl_error err;
	const char *subscribe[DVMQ_CTL_MAX_SUBSCRIPTIONS];
	unsigned n_subscribe;
};

struct dvmq_ctl_registry {
	struct dvmq_ctl_command *cmds;
	size_t n, cap;
	char version[64];
};

void dvmq_ctl_call_ok(struct dvmq_ctl_call *call, json_t *result)
{
	if (call->done) { /* a second answer is a handler bug: keep the first */
		json_decref(result);
		return;
	}
	call->done = true;
	call->result = result ? result : json_object();
	if (!call->result)
		dvmq_ctl_error_set(&call->err, DVMQ_CTL_E_INTERNAL, "out of memory");
}

void dvmq_ctl_call_error(struct dvmq_ctl_call *call, enum dvmq_ctl_errc code, const char *fmt, ...)
{
	if (call->done)
		return;
	call->done = true;
	call->err.code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(call->err.msg, sizeof(call->err.msg), fmt, ap);
	va_end(ap);
}

void dvmq_ctl_call_subscribe(struct dvmq_ctl_call *call, const char *event)
{
	if (call->n_subscribe < DVMQ_CTL_MAX_SUBSCRIPTIONS - 1)
		call->subscribe[call->n_subscribe++] = event;
}

static const struct dvmq_ctl_command *find(const struct dvmq_ctl_registry *reg, const char *name)
{
	for (size_t i = 0; i < reg->n; i++)
		if (strcmp(reg->cmds[i].name, name) == 0)
			return &reg->cmds[i];
	return NULL;
}

static void cmd_version(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)args;
	const struct dvmq_ctl_registry *reg = aux;
	dvmq_ctl_call_ok(call, json_pack("{s:s, s:i}", "version", reg->version, "protocol", DVMQ_CTL_VERSION));
}

static void cmd_list(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)args;
	const struct dvmq_ctl_registry *reg = aux;
	json_t *list = json_array();
	for (size_t i = 0; list && i < reg->n; i++)
		if (json_array_append_new(list, json_pack("{s:s, s:s}", "name", reg->cmds[i].name, "usage",
							  reg->cmds[i].usage ? reg->cmds[i].usage : "")))
			break;
	dvmq_ctl_call_ok(call, json_pack("{s:o}", "commands", list));
}

int dvmq_ctl_registry_create(const char *version, struct dvmq_ctl_registry **out)
{
	struct dvmq_ctl_registry *reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	snprintf(reg->version, sizeof(reg->version), "%s", version ? version : "");
	const struct dvmq_ctl_command builtin[] = {
		{ "version", "", NULL, 0, cmd_version, reg },
		{ "list-commands", "", NULL, 0, cmd_list, reg },
	};
	int rc = dvmq_ctl_registry_add(reg, &builtin[0]);
	if (!rc)
		rc = dvmq_ctl_registry_add(reg, &builtin[1]);
	if (rc) {
		dvmq_ctl_registry_destroy(reg);
		return rc;
	}
	*out = reg;
	return 0;
}

void dvmq_ctl_registry_destroy(struct dvmq_ctl_registry *reg)
{
	if (!reg)
		return;
	free(reg->cmds);
	free(reg);
}

int dvmq_ctl_registry_add(struct dvmq_ctl_registry *reg, const struct dvmq_ctl_command *cmd)
{
	if (!cmd || !cmd->name || !cmd->name[0] || !cmd->fn)
		return -EINVAL;
	if (find(reg, cmd->name))
		return -EEXIST;
	if (reg->n == reg->cap) {
		size_t cap = reg->cap ? reg->cap * 2 : 32;
		struct dvmq_ctl_command *c = realloc(reg->cmds, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		reg->cmds = c;
		reg->cap = cap;
	}
	reg->cmds[reg->n++] = *cmd;
	return 0;
}

static const char *type_name(enum dvmq_ctl_arg_type t)
{
	switch (t) {
	case DVMQ_CTL_ARG_STRING:
		return "a string";
	case DVMQ_CTL_ARG_INT:
		return "an integer";
	case DVMQ_CTL_ARG_BOOL:
		return "true or false";
	case DVMQ_CTL_ARG_MAP:
		return "an object of strings";
	}
	return "?";
}

static enum dvmq_ctl_errc check_arg(const struct dvmq_ctl_command *c, const struct dvmq_ctl_arg *a,
				    json_t *v, struct dvmq_ctl_error *err)
{
	bool type_ok = false;
	switch (a->type) {
	case DVMQ_CTL_ARG_STRING:
		type_ok = json_is_string(v);
		if (type_ok && json_string_length(v) > (size_t)a->max)
			return dvmq_ctl_error_set(err, DVMQ_CTL_E_VALUE, "%s: '%s' is longer than %lld bytes", c->name,
						  a->name, (long long)a->max);
		break;
	case DVMQ_CTL_ARG_INT:
		type_ok = json_is_integer(v);
		if (type_ok && (json_integer_value(v) < a->min || json_integer_value(v) > a->max))
			return dvmq_ctl_error_set(err, DVMQ_CTL_E_RANGE, "%s: %s %lld is out of range %lld..%lld", c->name,
						  a->name, (long long)json_integer_value(v), (long long)a->min,
						  (long long)a->max);
		break;
	case DVMQ_CTL_ARG_BOOL:
		type_ok = json_is_boolean(v);
		break;
	case DVMQ_CTL_ARG_MAP: {
		type_ok = json_is_object(v) && json_object_size(v) <= (size_t)a->max;
		const char *k;
		json_t *m;
		json_object_foreach(v, k, m)
			type_ok = type_ok && json_is_string(m);
		break;
	}
	}
	if (!type_ok)
		return dvmq_ctl_error_set(err, DVMQ_CTL_E_ARGS, "%s: '%s' must be %s%s", c->name, a->name,
					  type_name(a->type), a->type == DVMQ_CTL_ARG_MAP ? " (a few)" : "");
	return DVMQ_CTL_OK;
}

static enum dvmq_ctl_errc check_args(const struct dvmq_ctl_command *c, json_t *args,
				     struct dvmq_ctl_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(args, key, v) {
		const struct dvmq_ctl_arg *a = NULL;
		for (size_t i = 0; i < c->n_args && !a; i++)
			if (strcmp(c->args[i].name, key) == 0)
				a = &c->args[i];
		if (!a)
			return dvmq_ctl_error_set(err, DVMQ_CTL_E_ARGS, "%s: unknown argument '%.64s' (usage: %s)", c->name,
						  key, c->usage);
		enum dvmq_ctl_errc rc = check_arg(c, a, v, err);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < c->n_args; i++)
		if (c->args[i].required && !json_object_get(args, c->args[i].name))
			return dvmq_ctl_error_set(err, DVMQ_CTL_E_ARGS, "%s: missing argument '%s' (usage: %s)", c->name,
						  c->args[i].name, c->usage);
	return DVMQ_CTL_OK;
}

void dvmq_ctl_registry_handle(struct dvmq_ctl_registry *reg, const char *line, size_t len,
			      struct dvmq_ctl_outcome *out)
{
	memset(out, 0, sizeof(*out));
	struct dvmq_ctl_request req;
	struct dvmq_ctl_call call = { 0 };
	int rc = dvmq_ctl_decode_request(line, len, &req, &call.err);
	if (rc == -ENOMEM) {
		dvmq_ctl_error_set(&call.err, DVMQ_CTL_E_INTERNAL, "out of memory");
	} else if (rc == 0) {
		call.id = req.id;
		const struct dvmq_ctl_command *c = find(reg, req.cmd);
		if (!c)
			dvmq_ctl_error_set(&call.err, DVMQ_CTL_E_UNKNOWN_COMMAND, "unknown command '%s' (list-commands lists them)",
					   req.cmd);
		else if (check_args(c, req.args, &call.err) == DVMQ_CTL_OK) {
			c->fn(&call, req.args, c->aux);
			if (!call.done)
				dvmq_ctl_error_set(&call.err, DVMQ_CTL_E_INTERNAL, "%s gave no answer", c->name);
		}
	}
	call.id = req.id;
	out->code = call.err.code;
	if (call.err.code == DVMQ_CTL_OK) {
		out->reply = dvmq_ctl_encode_ok(call.id, call.result, &out->len);
		for (unsigned i = 0; i < call.n_subscribe; i++)
			out->subscribe[i] = call.subscribe[i];
	} else {
		json_decref(call.result);
		out->reply = dvmq_ctl_encode_error(call.id, &call.err, &out->len);
	}
	dvmq_ctl_request_clear(&req);
}
