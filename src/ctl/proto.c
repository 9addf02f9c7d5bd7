/* Control protocol encode/decode (include/dvmq/ctl.h, docs/ctl-protocol.md). Pure: no I/O.
 * Invariant: every input either decodes into a request of the documented shape or yields exactly
 * one error code; the cheap checks (size, UTF-8, depth) run before jansson sees the bytes, so a
 * hostile line costs one linear scan and never a deep recursion. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/ctl.h"

static const char *const errc_names[DVMQ_CTL_E_COUNT] = {
	[DVMQ_CTL_OK] = "ok",
	[DVMQ_CTL_E_PARSE] = "parse-error",
	[DVMQ_CTL_E_TOO_LARGE] = "too-large",
	[DVMQ_CTL_E_ENCODING] = "bad-encoding",
	[DVMQ_CTL_E_TOO_DEEP] = "too-deep",
	[DVMQ_CTL_E_VERSION] = "bad-version",
	[DVMQ_CTL_E_REQUEST] = "bad-request",
	[DVMQ_CTL_E_UNKNOWN_COMMAND] = "unknown-command",
	[DVMQ_CTL_E_ARGS] = "bad-args",
	[DVMQ_CTL_E_VALUE] = "bad-value",
	[DVMQ_CTL_E_RANGE] = "out-of-range",
	[DVMQ_CTL_E_UNKNOWN_VM] = "unknown-vm",
	[DVMQ_CTL_E_UNKNOWN_QUEUE] = "unknown-queue",
	[DVMQ_CTL_E_UNKNOWN_PROCESSOR] = "unknown-processor",
	[DVMQ_CTL_E_UNKNOWN_PARAMETER] = "unknown-parameter",
	[DVMQ_CTL_E_EXISTS] = "exists",
	[DVMQ_CTL_E_NO_SPACE] = "no-space",
	[DVMQ_CTL_E_UNSUPPORTED] = "unsupported",
	[DVMQ_CTL_E_TIMEOUT] = "timeout",
	[DVMQ_CTL_E_BUSY] = "busy",
	[DVMQ_CTL_E_INTERNAL] = "internal",
};

const char *dvmq_ctl_error_name(enum dvmq_ctl_errc c)
{
	return (unsigned)c < DVMQ_CTL_E_COUNT ? errc_names[c] : "?";
}

enum dvmq_ctl_errc dvmq_ctl_error_parse(const char *name)
{
	for (unsigned i = 0; i < DVMQ_CTL_E_COUNT; i++)
		if (strcmp(errc_names[i], name) == 0)
			return (enum dvmq_ctl_errc)i;
	return DVMQ_CTL_E_COUNT;
}

enum dvmq_ctl_errc dvmq_ctl_error_set(struct dvmq_ctl_error *e, enum dvmq_ctl_errc code, const char *fmt, ...)
{
	e->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. Returns the offset
 * of the first bad byte, or len. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		unsigned lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return i;
		}
		if (len - i <= n)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		i += n + 1;
	}
	return len;
}

/* The deepest nesting of [ and { outside strings. Stops counting past limit. */
static unsigned json_depth(const char *s, size_t len, unsigned limit)
{
	unsigned depth = 0, max = 0;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < len && max <= limit; i++) {
		char c = s[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return max;
}

void dvmq_ctl_request_clear(struct dvmq_ctl_request *req)
{
	json_decref(req->root);
	if (!req->root)
		json_decref(req->id); /* a failed decode may own an id alone */
	memset(req, 0, sizeof(*req));
}

static bool id_ok(const json_t *id)
{
	if (json_is_integer(id))
		return json_integer_value(id) >= 0;
	return json_is_string(id) && json_string_length(id) <= 64;
}

static int check_shape(struct dvmq_ctl_request *req, struct dvmq_ctl_error *err)
{
	json_t *root = req->root;
	if (!json_is_object(root)) {
		dvmq_ctl_error_set(err, DVMQ_CTL_E_REQUEST, "a request is a JSON object");
		return -EINVAL;
	}
	json_t *id = json_object_get(root, "id");
	if (id && !json_is_null(id)) {
		if (!id_ok(id)) {
			dvmq_ctl_error_set(err, DVMQ_CTL_E_REQUEST, "\"id\" must be an integer >= 0 or a string of at most 64 bytes");
			return -EINVAL;
		}
		req->id = id;
	}
	json_t *v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != DVMQ_CTL_VERSION) {
		dvmq_ctl_error_set(err, DVMQ_CTL_E_VERSION, "protocol version %d wanted (\"v\":%d)", DVMQ_CTL_VERSION,
				   DVMQ_CTL_VERSION);
		return -EINVAL;
	}
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val) {
		if (strcmp(key, "v") && strcmp(key, "id") && strcmp(key, "cmd") && strcmp(key, "args")) {
			dvmq_ctl_error_set(err, DVMQ_CTL_E_REQUEST, "unknown request member '%.64s'", key);
			return -EINVAL;
		}
	}
	json_t *cmd = json_object_get(root, "cmd");
	if (!json_is_string(cmd) || json_string_length(cmd) == 0 || json_string_length(cmd) > 64) {
		dvmq_ctl_error_set(err, DVMQ_CTL_E_REQUEST, "\"cmd\" must be a command name");
		return -EINVAL;
	}
	req->cmd = json_string_value(cmd);
	json_t *args = json_object_get(root, "args");
	if (args && !json_is_null(args) && !json_is_object(args)) {
		dvmq_ctl_error_set(err, DVMQ_CTL_E_REQUEST, "\"args\" must be an object");
		return -EINVAL;
	}
	if (!args || json_is_null(args)) {
		args = json_object();
		if (!args || json_object_set_new(root, "args", args))
			return -ENOMEM;
	}
	req->args = args;
	return 0;
}

int dvmq_ctl_decode_request(const char *line, size_t len, struct dvmq_ctl_request *req,
			    struct dvmq_ctl_error *err)
{
	memset(req, 0, sizeof(*req));
	err->code = DVMQ_CTL_OK;
	err->msg[0] = '\0';
	if (len > DVMQ_CTL_MAX_LINE) {
		dvmq_ctl_error_set(err, DVMQ_CTL_E_TOO_LARGE, "request of %zu bytes: at most %u", len, DVMQ_CTL_MAX_LINE);
		return -EINVAL;
	}
	size_t bad = utf8_check((const unsigned char *)line, len);
	if (bad != len) {
		dvmq_ctl_error_set(err, DVMQ_CTL_E_ENCODING, "invalid UTF-8 at byte %zu", bad);
		return -EINVAL;
	}
	if (json_depth(line, len, DVMQ_CTL_MAX_DEPTH) > DVMQ_CTL_MAX_DEPTH) {
		dvmq_ctl_error_set(err, DVMQ_CTL_E_TOO_DEEP, "nested deeper than %u levels", DVMQ_CTL_MAX_DEPTH);
		return -EINVAL;
	}
	json_error_t je;
	req->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!req->root) {
		if (json_error_code(&je) == json_error_out_of_memory)
			return -ENOMEM;
		bool trunc = json_error_code(&je) == json_error_premature_end_of_input;
		dvmq_ctl_error_set(err, DVMQ_CTL_E_PARSE, "%s at byte %d: %.120s", trunc ? "truncated JSON" : "not JSON",
				   je.position, je.text);
		return -EINVAL;
	}
	int rc = check_shape(req, err);
	if (rc) {
		/* keep the id for the error reply, drop the rest */
		json_t *id = json_incref(req->id);
		json_decref(req->root);
		memset(req, 0, sizeof(*req));
		req->id = id;
	}
	return rc;
}

static char *dump_line(json_t *obj, size_t *len)
{
	if (!obj)
		return NULL;
	char *s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	if (len)
		*len = n + 1;
	return line;
}

static json_t *id_copy(const json_t *id)
{
	return id ? json_deep_copy(id) : json_null();
}

char *dvmq_ctl_encode_request(json_int_t id, const char *cmd, json_t *args, size_t *len)
{
	return dump_line(json_pack("{s:i, s:I, s:s, s:o}", "v", DVMQ_CTL_VERSION, "id", id, "cmd", cmd, "args",
				   args ? args : json_object()),
			 len);
}

char *dvmq_ctl_encode_ok(const json_t *id, json_t *result, size_t *len)
{
	return dump_line(json_pack("{s:i, s:o, s:b, s:o}", "v", DVMQ_CTL_VERSION, "id", id_copy(id), "ok", 1,
				   "result", result ? result : json_object()),
			 len);
}

char *dvmq_ctl_encode_error(const json_t *id, const struct dvmq_ctl_error *e, size_t *len)
{
	return dump_line(json_pack("{s:i, s:o, s:b, s:{s:s, s:s}}", "v", DVMQ_CTL_VERSION, "id", id_copy(id), "ok", 0,
				   "error", "code", dvmq_ctl_error_name(e->code), "message", e->msg),
			 len);
}

char *dvmq_ctl_encode_event(const char *event, json_t *data, size_t *len)
{
	return dump_line(json_pack("{s:i, s:s, s:o}", "v", DVMQ_CTL_VERSION, "event", event, "data",
				   data ? data : json_object()),
			 len);
}

void dvmq_ctl_reply_clear(struct dvmq_ctl_reply *rep)
{
	json_decref(rep->root);
	memset(rep, 0, sizeof(*rep));
}

static int bad_reply(struct dvmq_ctl_reply *rep, struct dvmq_ctl_error *err, const char *why)
{
	dvmq_ctl_reply_clear(rep);
	dvmq_ctl_error_set(err, DVMQ_CTL_E_PARSE, "malformed reply: %s", why);
	return -EPROTO;
}

int dvmq_ctl_decode_reply(const char *line, size_t len, struct dvmq_ctl_reply *rep, struct dvmq_ctl_error *err)
{
	memset(rep, 0, sizeof(*rep));
	if (len > DVMQ_CTL_MAX_REPLY)
		return -EMSGSIZE;
	json_error_t je;
	rep->root = json_loadb(line, len, 0, &je);
	if (!rep->root)
		return json_error_code(&je) == json_error_out_of_memory ? -ENOMEM : bad_reply(rep, err, je.text);
	json_t *v = json_object_get(rep->root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != DVMQ_CTL_VERSION)
		return bad_reply(rep, err, "protocol version");
	json_t *ev = json_object_get(rep->root, "event");
	if (ev) {
		if (!json_is_string(ev) || !json_is_object(json_object_get(rep->root, "data")))
			return bad_reply(rep, err, "event without a name or data");
		rep->is_event = true;
		rep->event = json_string_value(ev);
		rep->result = json_object_get(rep->root, "data");
		rep->id = -1;
		return 0;
	}
	json_t *id = json_object_get(rep->root, "id"), *ok = json_object_get(rep->root, "ok");
	/* the id a request carried, echoed: an integer >= 0, a string (docs/ctl-protocol.md) or null */
	if (!json_is_boolean(ok) ||
	    !(json_is_null(id) || json_is_string(id) || (json_is_integer(id) && json_integer_value(id) >= 0)))
		return bad_reply(rep, err, "no \"ok\" or \"id\"");
	rep->id = json_is_integer(id) ? json_integer_value(id) : -1;
	if (json_is_true(ok)) {
		rep->result = json_object_get(rep->root, "result");
		if (!json_is_object(rep->result))
			return bad_reply(rep, err, "no result object");
		rep->error.code = DVMQ_CTL_OK;
		return 0;
	}
	json_t *e = json_object_get(rep->root, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	if (!code || !msg)
		return bad_reply(rep, err, "error without code or message");
	enum dvmq_ctl_errc c = dvmq_ctl_error_parse(code);
	/* a newer daemon's unknown code still fails the call, as a daemon-side error */
	if (c == DVMQ_CTL_E_COUNT || c == DVMQ_CTL_OK)
		c = DVMQ_CTL_E_INTERNAL;
	dvmq_ctl_error_set(&rep->error, c, "%s", msg);
	return 0;
}
