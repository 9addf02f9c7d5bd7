/* The control protocol: encode/decode of requests, replies and events, every bad input with its
 * exact error code, and the registry's argument checks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "dvmq/ctl.h"

/* Decodes `line` and returns the error code (DVMQ_CTL_OK when it decoded). */
static enum dvmq_ctl_errc decode_code(const char *line, size_t len)
{
	struct dvmq_ctl_request req;
	struct dvmq_ctl_error err;
	int rc = dvmq_ctl_decode_request(line, len, &req, &err);
	dvmq_ctl_request_clear(&req);
	return rc == 0 ? DVMQ_CTL_OK : err.code;
}

static enum dvmq_ctl_errc code_of(const char *line)
{
	return decode_code(line, strlen(line));
}

TEST(ctl_proto_decodes_a_request)
{
	const char *line = "{\"v\":1,\"id\":7,\"cmd\":\"vm.show\",\"args\":{\"name\":\"web-1\"}}";
	struct dvmq_ctl_request req;
	struct dvmq_ctl_error err;
	CHECK(dvmq_ctl_decode_request(line, strlen(line), &req, &err) == 0);
	CHECK(strcmp(req.cmd, "vm.show") == 0);
	CHECK(json_integer_value(req.id) == 7);
	CHECK(strcmp(json_string_value(json_object_get(req.args, "name")), "web-1") == 0);
	dvmq_ctl_request_clear(&req);
	/* no id, no args: an empty args object */
	const char *bare = "{\"cmd\":\"stats\",\"v\":1}";
	CHECK(dvmq_ctl_decode_request(bare, strlen(bare), &req, &err) == 0);
	CHECK(req.id == NULL && json_is_object(req.args) && json_object_size(req.args) == 0);
	dvmq_ctl_request_clear(&req);
	/* a string id is echoed too */
	CHECK(code_of("{\"v\":1,\"id\":\"abc\",\"cmd\":\"x\",\"args\":null}") == DVMQ_CTL_OK);
}

TEST(ctl_proto_every_bad_input_has_its_code)
{
	CHECK(code_of("hello") == DVMQ_CTL_E_PARSE);
	CHECK(code_of("") == DVMQ_CTL_E_PARSE);
	CHECK(code_of("{\"v\":1,\"cmd\":\"stats\"") == DVMQ_CTL_E_PARSE);
	CHECK(code_of("{\"v\":1,\"cmd\":\"stats\",\"cmd\":\"x\"}") == DVMQ_CTL_E_PARSE); /* duplicate key */
	static const char nul[] = "{\"v\":1,\"cmd\":\"s\0\"}";
	CHECK(decode_code(nul, sizeof(nul) - 1) == DVMQ_CTL_E_PARSE); /* a NUL byte */
	CHECK(code_of("{\"v\":1,\"cmd\":\"\xff\"}") == DVMQ_CTL_E_ENCODING);
	CHECK(code_of("{\"v\":1,\"cmd\":\"\xc0\xaf\"}") == DVMQ_CTL_E_ENCODING);     /* overlong '/' */
	CHECK(code_of("{\"v\":1,\"cmd\":\"\xed\xa0\x80\"}") == DVMQ_CTL_E_ENCODING); /* a surrogate */
	CHECK(code_of("{\"v\":1,\"cmd\":\"\xe2\x82\"}") == DVMQ_CTL_E_ENCODING);     /* cut short */
	CHECK(code_of("{\"v\":1,\"cmd\":\"caf\xc3\xa9\"}") == DVMQ_CTL_OK);
	CHECK(code_of("{\"v\":2,\"cmd\":\"stats\"}") == DVMQ_CTL_E_VERSION);
	CHECK(code_of("{\"cmd\":\"stats\"}") == DVMQ_CTL_E_VERSION);
	CHECK(code_of("{\"v\":\"1\",\"cmd\":\"stats\"}") == DVMQ_CTL_E_VERSION);
	CHECK(code_of("[1,2]") == DVMQ_CTL_E_REQUEST);
	CHECK(code_of("{\"v\":1}") == DVMQ_CTL_E_REQUEST);
	CHECK(code_of("{\"v\":1,\"cmd\":7}") == DVMQ_CTL_E_REQUEST);
	CHECK(code_of("{\"v\":1,\"cmd\":\"\"}") == DVMQ_CTL_E_REQUEST);
	CHECK(code_of("{\"v\":1,\"id\":-1,\"cmd\":\"stats\"}") == DVMQ_CTL_E_REQUEST);
	CHECK(code_of("{\"v\":1,\"id\":1.5,\"cmd\":\"stats\"}") == DVMQ_CTL_E_REQUEST);
	CHECK(code_of("{\"v\":1,\"cmd\":\"stats\",\"args\":[]}") == DVMQ_CTL_E_REQUEST);
	CHECK(code_of("{\"v\":1,\"cmd\":\"stats\",\"colour\":\"blue\"}") == DVMQ_CTL_E_REQUEST);
}

static char *nested(unsigned depth)
{
	/* {"v":1,"cmd":"x","args":{"a":[[[...]]]}}: the request object and args count as two */
	char *s = malloc(64 + 2 * depth);
	strcpy(s, "{\"v\":1,\"cmd\":\"x\",\"args\":{\"a\":");
	size_t n = strlen(s);
	for (unsigned i = 2; i < depth; i++)
		s[n++] = '[';
	for (unsigned i = 2; i < depth; i++)
		s[n++] = ']';
	strcpy(s + n, "}}");
	return s;
}

TEST(ctl_proto_nesting_is_bounded)
{
	char *ok = nested(DVMQ_CTL_MAX_DEPTH), *deep = nested(DVMQ_CTL_MAX_DEPTH + 1), *huge = nested(20000);
	enum dvmq_ctl_errc a = code_of(ok), b = code_of(deep), c = code_of(huge);
	free(ok);
	free(deep);
	free(huge);
	CHECK_MSG(a == DVMQ_CTL_OK, "depth %u refused: %s", DVMQ_CTL_MAX_DEPTH, dvmq_ctl_error_name(a));
	CHECK(b == DVMQ_CTL_E_TOO_DEEP);
	CHECK(c == DVMQ_CTL_E_TOO_DEEP);
	/* brackets inside strings are text, not nesting */
	CHECK(code_of("{\"v\":1,\"cmd\":\"[[[[[[[[[[[[[[[[\\\"{{{{{{{{{{{{\"}") == DVMQ_CTL_OK);
}

/* A valid request padded with spaces to exactly len bytes. */
static char *padded(size_t len)
{
	const char *head = "{\"v\":1,\"cmd\":\"stats\"";
	char *s = malloc(len + 1);
	size_t h = strlen(head);
	memcpy(s, head, h);
	memset(s + h, ' ', len - h - 1);
	s[len - 1] = '}';
	s[len] = '\0';
	return s;
}

TEST(ctl_proto_size_limit_is_exact)
{
	char *at = padded(DVMQ_CTL_MAX_LINE), *over = padded(DVMQ_CTL_MAX_LINE + 1);
	enum dvmq_ctl_errc a = code_of(at), b = code_of(over);
	free(at);
	free(over);
	CHECK(a == DVMQ_CTL_OK);
	CHECK(b == DVMQ_CTL_E_TOO_LARGE);
}

TEST(ctl_proto_error_names_round_trip)
{
	for (unsigned i = 0; i < DVMQ_CTL_E_COUNT; i++) {
		const char *n = dvmq_ctl_error_name((enum dvmq_ctl_errc)i);
		CHECK_MSG(dvmq_ctl_error_parse(n) == (enum dvmq_ctl_errc)i, "code %u name '%s'", i, n);
		for (unsigned k = 0; k < i; k++)
			CHECK(strcmp(n, dvmq_ctl_error_name((enum dvmq_ctl_errc)k)) != 0);
	}
	CHECK(dvmq_ctl_error_parse("no-such-code") == DVMQ_CTL_E_COUNT);
	CHECK(strcmp(dvmq_ctl_error_name(DVMQ_CTL_E_COUNT), "?") == 0);
}

TEST(ctl_proto_replies_and_events_round_trip)
{
	json_t *id = json_integer(42);
	size_t len;
	char *line = dvmq_ctl_encode_ok(id, json_pack("{s:i}", "n", 3), &len);
	CHECK(line && line[len - 1] == '\n' && !memchr(line, '\n', len - 1));
	struct dvmq_ctl_reply rep;
	struct dvmq_ctl_error err;
	CHECK(dvmq_ctl_decode_reply(line, len - 1, &rep, &err) == 0);
	free(line);
	CHECK(!rep.is_event && rep.id == 42 && rep.error.code == DVMQ_CTL_OK);
	CHECK(json_integer_value(json_object_get(rep.result, "n")) == 3);
	dvmq_ctl_reply_clear(&rep);

	struct dvmq_ctl_error e;
	dvmq_ctl_error_set(&e, DVMQ_CTL_E_UNKNOWN_VM, "unknown VM '%s'", "web-9");
	line = dvmq_ctl_encode_error(id, &e, &len);
	CHECK(dvmq_ctl_decode_reply(line, len, &rep, &err) == 0);
	free(line);
	CHECK(rep.error.code == DVMQ_CTL_E_UNKNOWN_VM && strcmp(rep.error.msg, "unknown VM 'web-9'") == 0);
	dvmq_ctl_reply_clear(&rep);
	json_decref(id);

	line = dvmq_ctl_encode_event("move", json_pack("{s:i}", "queue", 3), &len);
	CHECK(dvmq_ctl_decode_reply(line, len, &rep, &err) == 0);
	free(line);
	CHECK(rep.is_event && strcmp(rep.event, "move") == 0);
	CHECK(json_integer_value(json_object_get(rep.result, "queue")) == 3);
	dvmq_ctl_reply_clear(&rep);

	line = dvmq_ctl_encode_request(9, "vm.show", NULL, &len);
	struct dvmq_ctl_request req;
	CHECK(dvmq_ctl_decode_request(line, len - 1, &req, &err) == 0);
	free(line);
	CHECK(strcmp(req.cmd, "vm.show") == 0 && json_integer_value(req.id) == 9);
	dvmq_ctl_request_clear(&req);
}

TEST(ctl_proto_malformed_replies_are_refused)
{
	static const char *const bad[] = {
		"nope", "{}", "{\"v\":2,\"id\":1,\"ok\":true,\"result\":{}}", "{\"v\":1,\"id\":1,\"ok\":true}",
		"{\"v\":1,\"id\":1,\"ok\":false,\"error\":{\"code\":\"x\"}}", "{\"v\":1,\"event\":\"move\"}",
		"{\"v\":1,\"id\":[1],\"ok\":true,\"result\":{}}", "{\"v\":1,\"id\":-1,\"ok\":true,\"result\":{}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dvmq_ctl_reply rep;
		struct dvmq_ctl_error err;
		int rc = dvmq_ctl_decode_reply(bad[i], strlen(bad[i]), &rep, &err);
		CHECK_MSG(rc == -EPROTO, "'%s' gave %d", bad[i], rc);
		CHECK(rep.root == NULL);
	}
	/* a string id (the protocol allows one in a request, and the reply echoes it) is well formed:
	 * the fuzz target's oracle refused the registry's own reply to {"v":1,"id":"s"} (issue 18 §5) */
	const char *sid = "{\"v\":1,\"id\":\"a\",\"ok\":true,\"result\":{}}";
	struct dvmq_ctl_reply srep;
	struct dvmq_ctl_error serr;
	CHECK(dvmq_ctl_decode_reply(sid, strlen(sid), &srep, &serr) == 0 && srep.id == -1 && srep.error.code == DVMQ_CTL_OK);
	dvmq_ctl_reply_clear(&srep);
	/* an error code from a newer daemon is still an error */
	const char *newer = "{\"v\":1,\"id\":1,\"ok\":false,\"error\":{\"code\":\"quantum\",\"message\":\"m\"}}";
	struct dvmq_ctl_reply rep;
	struct dvmq_ctl_error err;
	CHECK(dvmq_ctl_decode_reply(newer, strlen(newer), &rep, &err) == 0);
	CHECK(rep.error.code == DVMQ_CTL_E_INTERNAL);
	dvmq_ctl_reply_clear(&rep);
}

/* ---- the registry ---- */

static void echo(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)aux;
	dvmq_ctl_call_ok(call, json_deep_copy(args));
}

static void silent(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)call;
	(void)args;
	(void)aux;
}

static void follow(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)args;
	(void)aux;
	dvmq_ctl_call_ok(call, NULL);
	dvmq_ctl_call_subscribe(call, "move");
}

static const struct dvmq_ctl_arg echo_args[] = {
	{ "name", DVMQ_CTL_ARG_STRING, true, 0, 8 },
	{ "n", DVMQ_CTL_ARG_INT, false, -5, 5 },
	{ "on", DVMQ_CTL_ARG_BOOL, false, 0, 0 },
	{ "map", DVMQ_CTL_ARG_MAP, false, 0, 2 },
};

static const struct dvmq_ctl_command test_cmds[] = {
	{ "echo", "name [n] [on] [map]", echo_args, 4, echo, NULL },
	{ "silent", "", NULL, 0, silent, NULL },
	{ "follow", "", NULL, 0, follow, NULL },
};

static struct dvmq_ctl_registry *test_registry(void)
{
	struct dvmq_ctl_registry *reg;
	if (dvmq_ctl_registry_create("1.2.3", &reg))
		return NULL;
	for (size_t i = 0; i < 3; i++)
		if (dvmq_ctl_registry_add(reg, &test_cmds[i])) {
			dvmq_ctl_registry_destroy(reg);
			return NULL;
		}
	return reg;
}

/* The reply of reg to line, decoded (the caller clears it). */
static struct dvmq_ctl_reply handle(struct dvmq_ctl_registry *reg, const char *line, struct dvmq_ctl_outcome *o)
{
	dvmq_ctl_registry_handle(reg, line, strlen(line), o);
	struct dvmq_ctl_reply rep;
	struct dvmq_ctl_error err;
	if (!o->reply || dvmq_ctl_decode_reply(o->reply, o->len - 1, &rep, &err) != 0)
		memset(&rep, 0, sizeof(rep));
	free(o->reply);
	o->reply = NULL;
	return rep;
}

static enum dvmq_ctl_errc reg_code(struct dvmq_ctl_registry *reg, const char *line)
{
	struct dvmq_ctl_outcome o;
	struct dvmq_ctl_reply rep = handle(reg, line, &o);
	enum dvmq_ctl_errc c = rep.root ? rep.error.code : DVMQ_CTL_E_COUNT;
	dvmq_ctl_reply_clear(&rep);
	return c;
}

TEST(ctl_registry_checks_arguments_against_the_schema)
{
	struct dvmq_ctl_registry *reg = test_registry();
	CHECK(reg);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":\"a\",\"n\":-5,\"on\":true,\"map\":{\"x\":\"1\"}}}") ==
	      DVMQ_CTL_OK);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"nope\"}") == DVMQ_CTL_E_UNKNOWN_COMMAND);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\"}") == DVMQ_CTL_E_ARGS);                                /* missing */
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":\"a\",\"x\":1}}") == DVMQ_CTL_E_ARGS); /* unknown */
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":1}}") == DVMQ_CTL_E_ARGS);           /* type */
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":\"a\",\"n\":\"3\"}}") == DVMQ_CTL_E_ARGS);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":\"a\",\"n\":2.0}}") == DVMQ_CTL_E_ARGS);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":\"a\",\"on\":1}}") == DVMQ_CTL_E_ARGS);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":\"a\",\"map\":{\"x\":1}}}") == DVMQ_CTL_E_ARGS);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":\"a\",\"map\":{\"x\":\"1\",\"y\":\"2\",\"z\":\"3\"}}}") ==
	      DVMQ_CTL_E_ARGS);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":\"a\",\"n\":6}}") == DVMQ_CTL_E_RANGE);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":\"a\",\"n\":-6}}") == DVMQ_CTL_E_RANGE);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"name\":\"123456789\"}}") == DVMQ_CTL_E_VALUE);
	CHECK(reg_code(reg, "{\"v\":1,\"cmd\":\"silent\"}") == DVMQ_CTL_E_INTERNAL);
	dvmq_ctl_registry_destroy(reg);
}

TEST(ctl_registry_keeps_the_id_and_reports_subscriptions)
{
	struct dvmq_ctl_registry *reg = test_registry();
	CHECK(reg);
	struct dvmq_ctl_outcome o;
	struct dvmq_ctl_reply rep = handle(reg, "{\"v\":9,\"id\":5,\"cmd\":\"echo\"}", &o);
	CHECK(rep.root && rep.id == 5 && rep.error.code == DVMQ_CTL_E_VERSION);
	dvmq_ctl_reply_clear(&rep);
	rep = handle(reg, "{\"v\":1,\"id\":6,\"cmd\":\"follow\"}", &o);
	CHECK(rep.root && rep.id == 6 && o.code == DVMQ_CTL_OK);
	CHECK(o.subscribe[0] && strcmp(o.subscribe[0], "move") == 0 && o.subscribe[1] == NULL);
	dvmq_ctl_reply_clear(&rep);
	rep = handle(reg, "garbage", &o);
	CHECK(rep.root && rep.id == -1 && rep.error.code == DVMQ_CTL_E_PARSE);
	dvmq_ctl_reply_clear(&rep);
	/* built-ins */
	rep = handle(reg, "{\"v\":1,\"cmd\":\"version\"}", &o);
	CHECK(rep.root && strcmp(json_string_value(json_object_get(rep.result, "version")), "1.2.3") == 0);
	CHECK(json_integer_value(json_object_get(rep.result, "protocol")) == DVMQ_CTL_VERSION);
	dvmq_ctl_reply_clear(&rep);
	rep = handle(reg, "{\"v\":1,\"cmd\":\"list-commands\"}", &o);
	CHECK(rep.root && json_array_size(json_object_get(rep.result, "commands")) == 5);
	dvmq_ctl_reply_clear(&rep);
	CHECK(dvmq_ctl_registry_add(reg, &test_cmds[0]) == -EEXIST);
	struct dvmq_ctl_command nameless = { 0 };
	CHECK(dvmq_ctl_registry_add(reg, &nameless) == -EINVAL);
	dvmq_ctl_registry_destroy(reg);
	dvmq_ctl_registry_destroy(NULL);
}
