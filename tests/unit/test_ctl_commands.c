/* The control commands against a fake daemon state (ctl_fixture.h): every command's result and
 * every refusal with its exact error code, parameter text round trips, and the explain rules. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "ctl_fixture.h"

struct env {
	struct ctl_fake f;
	struct dvmq_ctl_state st;
	struct dvmq_ctl_registry *reg;
	const char *subscribed; /* the last call's first subscription */
};

static int env_init(struct env *e, uint32_t procs)
{
	memset(e, 0, sizeof(*e));
	ctl_fake_init(&e->f, procs);
	e->st = (struct dvmq_ctl_state){ &ctl_fake_ops, &e->f };
	if (dvmq_ctl_registry_create("test", &e->reg))
		return -1;
	return dvmq_ctl_commands_register(e->reg, &e->st);
}

/* Runs {"v":1,"cmd":CMD,"args":ARGS} and returns the whole reply object (caller decrefs). */
static json_t *run(struct env *e, const char *cmd, const char *args_fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *run(struct env *e, const char *cmd, const char *args_fmt, ...)
{
	char args[1024], line[1200];
	va_list ap;
	va_start(ap, args_fmt);
	vsnprintf(args, sizeof(args), args_fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "{\"v\":1,\"id\":1,\"cmd\":\"%s\",\"args\":%s}", cmd, args);
	struct dvmq_ctl_outcome o;
	dvmq_ctl_registry_handle(e->reg, line, strlen(line), &o);
	e->subscribed = o.subscribe[0];
	json_t *r = o.reply ? json_loads(o.reply, 0, NULL) : NULL;
	free(o.reply);
	return r;
}

/* The error code of a reply, "ok" when it succeeded. */
static const char *code(const json_t *r)
{
	if (!r)
		return "(no reply)";
	if (json_is_true(json_object_get(r, "ok")))
		return "ok";
	return json_string_value(json_object_get(json_object_get(r, "error"), "code"));
}

static const char *message(const json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"), "message"));
}

/* Runs and checks only the code; returns whether it matched (prints what came otherwise). */
static bool expect(struct env *e, const char *want, const char *cmd, const char *args)
{
	json_t *r = run(e, cmd, "%s", args);
	bool ok = strcmp(code(r), want) == 0;
	if (!ok)
		printf("    %s %s: got %s (%s), want %s\n", cmd, args, code(r), r && message(r) ? message(r) : "", want);
	json_decref(r);
	return ok;
}

static bool near(double a, double b)
{
	return a - b < 1e-12 && b - a < 1e-12;
}

static json_t *result(json_t *r)
{
	return json_object_get(r, "result");
}

TEST(ctl_cmd_vm_add_show_set_remove)
{
	struct env e;
	CHECK(env_init(&e, 4) == 0);
	json_t *r = run(&e, "vm.add", "{\"name\":\"web-1\",\"mac\":\"02:00:00:00:00:01\",\"vlan\":10,\"weight\":50,\"port\":\"tap:vm1\"}");
	CHECK_MSG(strcmp(code(r), "ok") == 0, "%s", message(r));
	json_t *vm = json_object_get(result(r), "vm");
	CHECK(strcmp(json_string_value(json_object_get(vm, "name")), "web-1") == 0);
	CHECK(strcmp(json_string_value(json_object_get(vm, "mac")), "02:00:00:00:00:01") == 0);
	CHECK(json_integer_value(json_object_get(vm, "vlan")) == 10);
	CHECK(json_integer_value(json_object_get(vm, "weight")) == 50);
	CHECK(strcmp(json_string_value(json_object_get(vm, "port")), "tap:vm1") == 0);
	CHECK(json_integer_value(json_object_get(vm, "queue")) == 1);
	json_decref(r);
	CHECK(expect(&e, "ok", "vm.add", "{\"name\":\"db\",\"mac\":\"02:00:00:00:00:02\",\"port\":\"sink\"}"));
	r = run(&e, "vm.show", "{}");
	CHECK(json_array_size(json_object_get(result(r), "vms")) == 2);
	json_decref(r);
	r = run(&e, "vm.show", "{\"name\":\"db\"}");
	json_t *vms = json_object_get(result(r), "vms");
	CHECK(json_array_size(vms) == 1);
	CHECK(json_integer_value(json_object_get(json_array_get(vms, 0), "weight")) == 100); /* the default */
	json_decref(r);
	/* weight 0: back to the default queue */
	r = run(&e, "vm.set", "{\"name\":\"web-1\",\"weight\":0}");
	CHECK(json_integer_value(json_object_get(json_object_get(result(r), "vm"), "queue")) == 0);
	json_decref(r);
	r = run(&e, "vm.remove", "{\"name\":\"web-1\"}");
	CHECK(strcmp(json_string_value(json_object_get(result(r), "removed")), "web-1") == 0);
	json_decref(r);
	CHECK(expect(&e, "unknown-vm", "vm.show", "{\"name\":\"web-1\"}"));
	dvmq_ctl_registry_destroy(e.reg);
}

TEST(ctl_cmd_vm_refusals)
{
	struct env e;
	CHECK(env_init(&e, 2) == 0);
	CHECK(expect(&e, "ok", "vm.add", "{\"name\":\"a\",\"mac\":\"02:00:00:00:00:01\",\"port\":\"sink\"}"));
	CHECK(expect(&e, "exists", "vm.add", "{\"name\":\"a\",\"mac\":\"02:00:00:00:00:09\",\"port\":\"sink\"}"));
	CHECK(expect(&e, "exists", "vm.add", "{\"name\":\"b\",\"mac\":\"02:00:00:00:00:01\",\"port\":\"sink\"}"));
	CHECK(expect(&e, "ok", "vm.add", "{\"name\":\"b\",\"mac\":\"02:00:00:00:00:01\",\"vlan\":5,\"port\":\"sink\"}")); /* other VLAN */
	CHECK(expect(&e, "bad-value", "vm.add", "{\"name\":\"c\",\"mac\":\"02:00:00:00:01\",\"port\":\"sink\"}"));
	CHECK(expect(&e, "bad-value", "vm.add", "{\"name\":\"c\",\"mac\":\"03:00:00:00:00:01\",\"port\":\"sink\"}")); /* multicast */
	CHECK(expect(&e, "bad-value", "vm.add", "{\"name\":\"c\",\"mac\":\"00:00:00:00:00:00\",\"port\":\"sink\"}"));
	CHECK(expect(&e, "bad-value", "vm.add", "{\"name\":\"has space\",\"mac\":\"02:00:00:00:00:03\",\"port\":\"sink\"}"));
	CHECK(expect(&e, "bad-value", "vm.add", "{\"name\":\"-x\",\"mac\":\"02:00:00:00:00:03\",\"port\":\"sink\"}"));
	CHECK(expect(&e, "bad-value", "vm.add", "{\"name\":\"\",\"mac\":\"02:00:00:00:00:03\",\"port\":\"sink\"}"));
	CHECK(expect(&e, "bad-value", "vm.add", "{\"name\":\"c\",\"mac\":\"02:00:00:00:00:03\",\"port\":\"tap\"}"));
	CHECK(expect(&e, "out-of-range", "vm.add", "{\"name\":\"c\",\"mac\":\"02:00:00:00:00:03\",\"weight\":101,\"port\":\"sink\"}"));
	CHECK(expect(&e, "out-of-range", "vm.add", "{\"name\":\"c\",\"mac\":\"02:00:00:00:00:03\",\"vlan\":4095,\"port\":\"sink\"}"));
	CHECK(expect(&e, "bad-args", "vm.add", "{\"name\":\"c\",\"port\":\"sink\"}"));
	CHECK(expect(&e, "bad-args", "vm.add", "{\"name\":\"c\",\"mac\":\"02:00:00:00:00:03\"}")); /* no port: a black hole */
	CHECK(expect(&e, "unknown-vm", "vm.remove", "{\"name\":\"zz\"}"));
	CHECK(expect(&e, "unknown-vm", "vm.set", "{\"name\":\"zz\",\"weight\":3}"));
	CHECK(expect(&e, "bad-args", "vm.set", "{\"name\":\"a\"}"));
	CHECK(expect(&e, "out-of-range", "vm.set", "{\"name\":\"a\",\"weight\":-1}"));
	/* the table fills */
	char args[128];
	for (unsigned i = 2; i < FAKE_MAX_VMS; i++) {
		snprintf(args, sizeof(args), "{\"name\":\"v%u\",\"mac\":\"02:00:00:00:01:%02x\",\"port\":\"sink\"}", i, i);
		CHECK(expect(&e, "ok", "vm.add", args));
	}
	CHECK(expect(&e, "no-space", "vm.add", "{\"name\":\"last\",\"mac\":\"02:00:00:00:02:01\",\"port\":\"sink\"}"));
	/* the daemon failing is `internal` */
	e.f.fail = -EIO;
	CHECK(expect(&e, "internal", "vm.remove", "{\"name\":\"a\"}"));
	dvmq_ctl_registry_destroy(e.reg);
}

TEST(ctl_cmd_queues_and_processors)
{
	struct env e;
	CHECK(env_init(&e, 2) == 0);
	CHECK(ctl_fake_add(&e.f, "a", "02:00:00:00:00:01", 100, 0.3) == 0);
	CHECK(ctl_fake_add(&e.f, "b", "02:00:00:00:00:02", 0, 0.1) == 0);
	ctl_fake_tick(&e.f, 1000000000ull);
	json_t *r = run(&e, "queue.show", "{}");
	json_t *qs = json_object_get(result(r), "queues");
	CHECK(json_array_size(qs) == 2); /* the default queue and a's */
	json_t *q0 = json_array_get(qs, 0), *q1 = json_array_get(qs, 1);
	CHECK(json_integer_value(json_object_get(q0, "queue")) == 0 && json_is_null(json_object_get(q0, "vm")));
	CHECK(strcmp(json_string_value(json_object_get(q1, "vm")), "a") == 0);
	CHECK(json_integer_value(json_object_get(q1, "packets")) == 300000);
	CHECK(json_real_value(json_object_get(q1, "load")) > 0.29);
	json_decref(r);
	r = run(&e, "queue.show", "{\"vm\":\"a\"}");
	CHECK(json_array_size(json_object_get(result(r), "queues")) == 1);
	json_decref(r);
	CHECK(expect(&e, "unknown-queue", "queue.show", "{\"queue\":7}"));
	CHECK(expect(&e, "unknown-vm", "queue.show", "{\"vm\":\"nope\"}"));
	CHECK(expect(&e, "out-of-range", "queue.show", "{\"queue\":-1}"));
	r = run(&e, "processor.show", "{\"processor\":1}");
	json_t *ps = json_object_get(result(r), "processors");
	CHECK(json_array_size(ps) == 1 && json_integer_value(json_object_get(json_array_get(ps, 0), "processor")) == 1);
	json_decref(r);
	r = run(&e, "processor.show", "{}");
	ps = json_object_get(result(r), "processors");
	CHECK(json_array_size(ps) == 2);
	CHECK(json_array_size(json_object_get(json_array_get(ps, 0), "queues")) == 2); /* 0 and a's, both on 0 */
	json_decref(r);
	r = run(&e, "processor.show", "{\"processor\":2}");
	CHECK(strcmp(code(r), "unknown-processor") == 0 && strstr(message(r), "0..1"));
	json_decref(r);
	dvmq_ctl_registry_destroy(e.reg);
}

TEST(ctl_cmd_adapter_show_and_set)
{
	struct env e;
	CHECK(env_init(&e, 4) == 0);
	CHECK(ctl_fake_add(&e.f, "a", "02:00:00:00:00:01", 100, 0.3) == 0);
	json_t *r = run(&e, "adapter.show", "{}");
	json_t *a = result(r);
	CHECK(json_is_true(json_object_get(a, "vmq")) && json_integer_value(json_object_get(a, "queue_pool")) == FAKE_POOL);
	CHECK(json_array_size(json_object_get(a, "processors")) == 4 && json_integer_value(json_object_get(a, "queues_used")) == 1);
	CHECK(json_is_null(json_object_get(a, "numa_node")));
	json_decref(r);
	r = run(&e, "adapter.set", "{\"processors\":\"1-2\"}");
	CHECK_MSG(strcmp(code(r), "ok") == 0, "%s", message(r));
	json_t *set = json_object_get(result(r), "processors");
	CHECK(json_array_size(set) == 2 && json_integer_value(json_array_get(set, 0)) == 1);
	json_decref(r);
	CHECK(expect(&e, "ok", "adapter.set", "{\"base_processor\":1,\"max_processors\":1}"));
	CHECK(expect(&e, "unknown-processor", "adapter.set", "{\"base_processor\":4}"));
	CHECK(expect(&e, "unknown-processor", "adapter.set", "{\"max_processor_number\":9}"));
	CHECK(expect(&e, "unknown-processor", "adapter.set", "{\"processors\":\"0-7\"}"));
	CHECK(expect(&e, "out-of-range", "adapter.set", "{\"max_processors\":5}"));
	CHECK(expect(&e, "out-of-range", "adapter.set", "{\"numa_node\":-2}"));
	static const char *const bad_lists[] = { "", "x", "1-", "3-1", "1,,2", "1,", "-1", "1 2" };
	for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
		char args[64];
		snprintf(args, sizeof(args), "{\"processors\":\"%s\"}", bad_lists[i]);
		CHECK(expect(&e, "bad-value", "adapter.set", args));
	}
	CHECK(expect(&e, "bad-args", "adapter.set", "{}"));
	CHECK(expect(&e, "unsupported", "adapter.set", "{\"queue_pool\":3}"));
	CHECK(expect(&e, "out-of-range", "adapter.set", "{\"numa_node\":3}")); /* the fake: an empty set */
	r = run(&e, "adapter.set", "{\"vmq\":false}");
	CHECK(json_is_false(json_object_get(result(r), "vmq")) && json_integer_value(json_object_get(result(r), "queues_used")) == 0);
	json_decref(r);
	dvmq_ctl_registry_destroy(e.reg);
}

TEST(ctl_cmd_policy_show_and_set)
{
	struct env e;
	CHECK(env_init(&e, 2) == 0);
	json_t *r = run(&e, "policy.show", "{}");
	CHECK(strcmp(json_string_value(json_object_get(result(r), "policy")), "adaptive") == 0);
	CHECK(strcmp(json_string_value(json_object_get(result(r), "interval")), "100ms") == 0);
	json_t *params = json_object_get(result(r), "params");
	const char *const *names = dvmq_engine_param_names();
	for (size_t i = 0; names[i]; i++)
		CHECK_MSG(json_is_string(json_object_get(params, names[i])), "parameter %s missing", names[i]);
	CHECK(strcmp(json_string_value(json_object_get(params, "high")), "90%") == 0);
	CHECK(strcmp(json_string_value(json_object_get(params, "dwell")), "1s") == 0);
	/* 95% reads back an ulp off (95 * 0.01): shown as the plain fraction, not 17 digits */
	CHECK(strcmp(json_string_value(json_object_get(params, "ovs-threshold")), "95%") == 0); /* not 0.95 */
	json_decref(r);
	r = run(&e, "policy.set", "%s", "{\"policy\":\"dynamic\",\"params\":{\"high\":\"85%\",\"interval\":\"50ms\"}}");
	CHECK_MSG(strcmp(code(r), "ok") == 0, "%s", message(r));
	CHECK(strcmp(json_string_value(json_object_get(result(r), "policy")), "dynamic") == 0);
	CHECK(strcmp(json_string_value(json_object_get(result(r), "interval")), "50ms") == 0);
	json_decref(r);
	CHECK(e.f.params.policy == DVMQ_POLICY_DYNAMIC && near(e.f.params.high, 0.85) && e.f.interval_ns == 50000000ull);
	/* an order that validates is found: low=95% alone is over high=85% */
	CHECK(expect(&e, "ok", "policy.set", "{\"params\":{\"low\":\"95%\",\"high\":\"99%\",\"pack\":\"96%\"}}"));
	CHECK(near(e.f.params.low, 0.95) && near(e.f.params.high, 0.99));
	CHECK(expect(&e, "out-of-range", "policy.set", "{\"params\":{\"high\":\"2\"}}"));
	CHECK(expect(&e, "bad-value", "policy.set", "{\"params\":{\"high\":\"lots\"}}"));
	CHECK(expect(&e, "bad-value", "policy.set", "{\"params\":{\"dwell\":\"3 fortnights\"}}"));
	CHECK(expect(&e, "unknown-parameter", "policy.set", "{\"params\":{\"agility\":\"3\"}}"));
	CHECK(expect(&e, "bad-value", "policy.set", "{\"policy\":\"fastest\"}"));
	CHECK(expect(&e, "bad-value", "policy.set", "{\"params\":{\"policy\":\"fastest\"}}"));
	CHECK(expect(&e, "out-of-range", "policy.set", "{\"params\":{\"interval\":\"0\"}}"));
	CHECK(expect(&e, "out-of-range", "policy.set", "{\"params\":{\"interval\":\"11s\"}}"));
	CHECK(expect(&e, "bad-value", "policy.set", "{\"params\":{\"interval\":\"soon\"}}"));
	CHECK(expect(&e, "bad-args", "policy.set", "{}"));
	CHECK(expect(&e, "bad-args", "policy.set", "{\"params\":{\"high\":0.9}}"));
	/* nothing half-applied after a refusal */
	CHECK(expect(&e, "unknown-parameter", "policy.set", "{\"params\":{\"high\":\"98%\",\"agility\":\"3\"}}"));
	CHECK(near(e.f.params.high, 0.99));
	dvmq_ctl_registry_destroy(e.reg);
}

TEST(ctl_cmd_every_parameter_formats_and_parses_back)
{
	struct dvmq_engine_params p, back;
	dvmq_engine_params_default(&p);
	/* values off the defaults, so a wrong field would show */
	CHECK(dvmq_engine_param_set(&p, "policy", "ovs-alb") == 0);
	CHECK(dvmq_engine_param_set(&p, "ewma", "0.3") == 0);
	CHECK(dvmq_engine_param_set(&p, "dwell", "250ms") == 0);
	CHECK(dvmq_engine_param_set(&p, "return-guard", "1500ms") == 0); /* >= 1 s (the ping-pong window) */
	CHECK(dvmq_engine_param_set(&p, "return-window", "2500us") == -ERANGE); /* < return-guard */
	CHECK(dvmq_engine_param_set(&p, "return-window", "12s") == 0);
	CHECK(dvmq_engine_param_set(&p, "floor", "0.3%") == 0);
	CHECK(dvmq_engine_param_set(&p, "peak-halflife", "7ns") == 0);
	CHECK(dvmq_engine_param_set(&p, "ovs-history", "7") == 0);
	CHECK(dvmq_engine_param_set(&p, "min-gain", "12.5%") == 0);
	CHECK(dvmq_engine_param_set(&p, "ovs-threshold", "0.123456789012") == 0); /* not a round percentage */
	dvmq_engine_params_default(&back);
	const char *const *names = dvmq_engine_param_names();
	char text[64];
	for (size_t i = 0; names[i]; i++) {
		CHECK_MSG(dvmq_engine_param_format(&p, names[i], text, sizeof(text)) == 0, "no text for %s", names[i]);
		CHECK_MSG(dvmq_engine_param_set(&back, names[i], text) == 0, "%s=%s does not parse", names[i], text);
	}
	/* field by field: the struct has padding */
	CHECK(p.policy == back.policy && p.high == back.high && p.low == back.low && p.ewma_alpha == back.ewma_alpha);
	CHECK(p.dwell_ns == back.dwell_ns && p.return_guard_ns == back.return_guard_ns && p.min_gain == back.min_gain);
	CHECK(p.pack == back.pack && p.coalesce_rounds == back.coalesce_rounds && p.peak_halflife_ns == back.peak_halflife_ns);
	CHECK(p.return_window_ns == back.return_window_ns && p.spread_floor == back.spread_floor);
	CHECK(p.ovs_threshold == back.ovs_threshold && p.ovs_history == back.ovs_history);
	CHECK(p.ovs_interval_ns == back.ovs_interval_ns && p.ovs_improvement == back.ovs_improvement);
	CHECK(dvmq_engine_param_format(&p, "agility", text, sizeof(text)) == -ENOENT);
	CHECK(dvmq_engine_param_format(&p, "dwell", text, sizeof(text)) == 0 && strcmp(text, "250ms") == 0);
}

TEST(ctl_cmd_rebalance_moves_and_follow)
{
	struct env e;
	CHECK(env_init(&e, 2) == 0);
	e.f.next_proc = 0;
	CHECK(ctl_fake_add(&e.f, "a", "02:00:00:00:00:01", 100, 0.5) == 0);
	e.f.next_proc = 0; /* both on processor 0 */
	CHECK(ctl_fake_add(&e.f, "b", "02:00:00:00:00:02", 100, 0.6) == 0);
	e.f.now_ns = 3000000000ull;
	json_t *r = run(&e, "rebalance", "{}");
	json_t *mv = json_object_get(result(r), "moves");
	CHECK(json_array_size(mv) == 1);
	json_t *m = json_array_get(mv, 0);
	CHECK(strcmp(json_string_value(json_object_get(m, "vm")), "b") == 0);
	CHECK(json_integer_value(json_object_get(m, "from")) == 0 && json_integer_value(json_object_get(m, "to")) == 1);
	CHECK(strcmp(json_string_value(json_object_get(m, "reason")), "spread") == 0);
	CHECK(json_real_value(json_object_get(m, "src_before")) > 1.0 && json_real_value(json_object_get(m, "time_s")) == 3.0);
	json_decref(r);
	r = run(&e, "rebalance", "{}"); /* balanced now: nothing to do */
	CHECK(json_array_size(json_object_get(result(r), "moves")) == 0);
	json_decref(r);
	r = run(&e, "moves", "{}");
	CHECK(json_array_size(json_object_get(result(r), "moves")) == 1 && e.subscribed == NULL);
	json_decref(r);
	r = run(&e, "moves", "{\"follow\":true,\"queue\":1}");
	CHECK(json_array_size(json_object_get(result(r), "moves")) == 0);
	CHECK(e.subscribed && strcmp(e.subscribed, "move") == 0);
	json_decref(r);
	CHECK(expect(&e, "unknown-queue", "moves", "{\"queue\":5}"));
	CHECK(expect(&e, "out-of-range", "moves", "{\"limit\":0}"));
	/* limit keeps the newest */
	for (unsigned i = 0; i < 5; i++)
		ctl_fake_move(&e.f, 1 + i % 2, i % 2);
	r = run(&e, "moves", "{\"limit\":2}");
	mv = json_object_get(result(r), "moves");
	CHECK(json_array_size(mv) == 2);
	CHECK(json_integer_value(json_object_get(json_array_get(mv, 1), "seq")) == (json_int_t)e.f.seq);
	CHECK(json_integer_value(json_object_get(json_array_get(mv, 0), "seq")) == (json_int_t)e.f.seq - 1);
	json_decref(r);
	dvmq_ctl_registry_destroy(e.reg);
}

TEST(ctl_cmd_explain)
{
	struct env e;
	CHECK(env_init(&e, 2) == 0);
	CHECK(ctl_fake_add(&e.f, "a", "02:00:00:00:00:01", 100, 0.4) == 0);
	json_t *r = run(&e, "explain", "{\"vm\":\"a\"}");
	CHECK_MSG(strcmp(code(r), "ok") == 0, "%s", message(r));
	const char *rule = json_string_value(json_object_get(result(r), "rule"));
	CHECK_MSG(rule && strstr(rule, "processor 0 is at 40%") && strstr(rule, "pack 87%"), "rule: %s", rule);
	CHECK(json_integer_value(json_object_get(result(r), "queue")) == 1);
	json_decref(r);
	CHECK(expect(&e, "ok", "explain", "{\"queue\":0}"));
	CHECK(expect(&e, "bad-args", "explain", "{}"));
	CHECK(expect(&e, "bad-args", "explain", "{\"queue\":1,\"vm\":\"a\"}"));
	CHECK(expect(&e, "unknown-queue", "explain", "{\"queue\":4}"));
	CHECK(expect(&e, "unknown-vm", "explain", "{\"vm\":\"b\"}"));
	dvmq_ctl_registry_destroy(e.reg);
}

/* The rule text for queue 1 of the fake after `setup` changed it. */
static void rule_for(struct ctl_fake *f, char *buf, size_t len)
{
	struct dvmq_snapshot *s = ctl_fake_ops.snapshot(f);
	if (!s || dvmq_ctl_explain_rule(s, 1, buf, len) != 0)
		snprintf(buf, len, "(none)");
	dvmq_snapshot_unref(s);
}

TEST(ctl_cmd_explain_names_the_rule_of_each_policy)
{
	struct ctl_fake f;
	ctl_fake_init(&f, 2);
	CHECK(ctl_fake_add(&f, "a", "02:00:00:00:00:01", 100, 0.95) == 0);
	char rule[512];
	/* the processor's load is the queue's plus `other` from elsewhere */
	struct { enum dvmq_policy pol; double queue, other; uint64_t since_move_ns; const char *want; } cases[] = {
		{ DVMQ_POLICY_NONE, 0.5, 0, 0, "policy none" },
		{ DVMQ_POLICY_STATIC, 0.5, 0, 0, "never move" },
		{ DVMQ_POLICY_OVS_ALB, 0.5, 0, 0, "ovs-alb" },
		{ DVMQ_POLICY_RSSPP, 0.5, 0, 0, "over 2% above the mean load" },
		{ DVMQ_POLICY_IRQBALANCE, 0.5, 0, 0, "every 10s it moves the heaviest queues" },
		{ DVMQ_POLICY_ADAPTIVE, 0.45, 0.3, 200000000ull, "dwell 1s keeps it" },
		{ DVMQ_POLICY_ADAPTIVE, 0.45, 0.5, 200000000ull, "over high 90%: within dwell 1s it leaves only if" },
		{ DVMQ_POLICY_ADAPTIVE, 0.45, 0.5, 0, "over high 90%: the next round spreads" },
		{ DVMQ_POLICY_ADAPTIVE, 0.5, 0, 1500000000ull, "return-guard 2s" },
		{ DVMQ_POLICY_DYNAMIC, 0.1, 0, 0, "under low 25%" },
		{ DVMQ_POLICY_DYNAMIC, 0.5, 0, 0, "between low 25% and high 90%" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f.params.policy = cases[i].pol;
		f.vms[0].load = cases[i].queue;
		f.other_load[0] = cases[i].other;
		f.queues[1].moved = cases[i].since_move_ns != 0;
		f.now_ns = 10000000000ull;
		f.queues[1].last_move_ns = f.now_ns - cases[i].since_move_ns;
		rule_for(&f, rule, sizeof(rule));
		CHECK_MSG(strstr(rule, cases[i].want), "case %zu: '%s' lacks '%s'", i, rule, cases[i].want);
	}
	/* no room anywhere: saying so, not promising a move */
	f.params.policy = DVMQ_POLICY_ADAPTIVE;
	f.queues[1].moved = false;
	f.vms[0].load = 0.95;
	f.other_load[0] = 0.0;
	rule_for(&f, rule, sizeof(rule));
	CHECK_MSG(strstr(rule, "no processor in the set can take"), "%s", rule);
	f.in_set[0] = false;
	rule_for(&f, rule, sizeof(rule));
	CHECK_MSG(strstr(rule, "left the processor set"), "%s", rule);
}

TEST(ctl_cmd_stats_counts)
{
	struct env e;
	CHECK(env_init(&e, 2) == 0);
	CHECK(ctl_fake_add(&e.f, "a", "02:00:00:00:00:01", 100, 1.5) == 0);
	ctl_fake_tick(&e.f, 1000000000ull);
	json_t *r = run(&e, "stats", "{}");
	json_t *s = result(r);
	json_t *frames = json_object_get(s, "frames");
	CHECK(json_integer_value(json_object_get(frames, "delivered")) == 1500000);
	CHECK(json_integer_value(json_object_get(frames, "dropped")) == 150000);
	CHECK(json_integer_value(json_object_get(json_object_get(frames, "dropped_by_reason"), "overflow")) == 150000);
	CHECK(json_integer_value(json_object_get(frames, "received")) == 1650000);
	CHECK(json_integer_value(json_object_get(s, "single_queue_overloads")) == 1);
	CHECK(json_real_value(json_object_get(s, "uptime_s")) == 1.0);
	json_t *q = json_array_get(json_object_get(s, "queues"), 1);
	CHECK(json_real_value(json_object_get(q, "busy_seconds")) == 1.5);
	json_decref(r);
	dvmq_ctl_registry_destroy(e.reg);
}

TEST(ctl_cmd_vm_max_queues_shows_its_group_table_and_explains_it)
{
	struct env e;
	CHECK(env_init(&e, 4) == 0);
	CHECK(ctl_fake_add(&e.f, "a", "02:00:00:00:00:01", 100, 0.64) == 0);
	/* a plain VMQ: max_queues 1, a group of its one queue */
	json_t *r = run(&e, "vm.show", "{\"name\":\"a\"}");
	json_t *vm = json_array_get(json_object_get(result(r), "vms"), 0);
	CHECK(json_integer_value(json_object_get(vm, "max_queues")) == 1);
	CHECK(json_array_size(json_object_get(json_object_get(vm, "group"), "queues")) == 1);
	json_decref(r);
	/* max-queues 2: the fake gives it a second queue, the odd buckets */
	r = run(&e, "vm.set", "{\"name\":\"a\",\"max_queues\":2}");
	CHECK_MSG(strcmp(code(r), "ok") == 0, "%s", message(r));
	vm = json_object_get(result(r), "vm");
	json_t *g = json_object_get(vm, "group");
	CHECK(json_integer_value(json_object_get(vm, "max_queues")) == 2);
	CHECK(json_array_size(json_object_get(g, "queues")) == 2);
	json_t *table = json_object_get(g, "table");
	CHECK(json_array_size(table) == DVMQ_INDIRECTION_ENTRIES);
	CHECK(json_integer_value(json_array_get(table, 0)) == 1 && json_integer_value(json_array_get(table, 1)) == 2);
	CHECK(json_array_size(json_object_get(g, "bucket_load")) == DVMQ_INDIRECTION_ENTRIES);
	json_decref(r);
	/* queue.show: each queue's place in the group */
	r = run(&e, "queue.show", "{\"queue\":2}");
	json_t *qg = json_object_get(json_array_get(json_object_get(result(r), "queues"), 0), "group");
	CHECK(json_integer_value(json_object_get(qg, "index")) == 1 && json_integer_value(json_object_get(qg, "size")) == 2 &&
	      json_integer_value(json_object_get(qg, "buckets")) == 64);
	json_decref(r);
	/* explain names the group */
	r = run(&e, "explain", "{\"queue\":2}");
	const char *rule = json_string_value(json_object_get(result(r), "rule"));
	CHECK_MSG(rule && strstr(rule, "queue 2 of 2 of VM a's group (VMMQ, at most 2), with 64 of its 128 buckets"),
		  "rule: %s", rule);
	json_decref(r);
	/* stats: every VM's group */
	r = run(&e, "stats", "{}");
	json_t *sg = json_array_get(json_object_get(result(r), "groups"), 0);
	CHECK(json_integer_value(json_object_get(sg, "queues")) == 2 && json_integer_value(json_object_get(sg, "max_queues")) == 2);
	json_decref(r);
	/* back to one; bad values */
	r = run(&e, "vm.set", "{\"name\":\"a\",\"max_queues\":1}");
	CHECK(json_array_size(json_object_get(json_object_get(json_object_get(result(r), "vm"), "group"), "queues")) == 1);
	json_decref(r);
	CHECK(expect(&e, "out-of-range", "vm.set", "{\"name\":\"a\",\"max_queues\":17}"));
	CHECK(expect(&e, "out-of-range", "vm.set", "{\"name\":\"a\",\"max_queues\":0}"));
	CHECK(expect(&e, "unknown-vm", "vm.set", "{\"name\":\"zz\",\"max_queues\":2}"));
	dvmq_ctl_registry_destroy(e.reg);
}
