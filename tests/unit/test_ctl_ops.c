/* The operator's commands (src/ctl/commands_ops.c) and explain's processors, against the fake
 * daemon state: queue.set (pins), rebalance with dry_run, stats.clear, history, config.show and
 * config.diff, the processor counters, every refusal with its code, and `unsupported` from a
 * daemon without the ops. */
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
};

static int env_init(struct env *e, uint32_t procs, const struct dvmq_ctl_state_ops *ops)
{
	memset(e, 0, sizeof(*e));
	ctl_fake_init(&e->f, procs);
	e->st = (struct dvmq_ctl_state){ ops, &e->f };
	if (dvmq_ctl_registry_create("test", &e->reg))
		return -1;
	if (dvmq_ctl_commands_register(e->reg, &e->st))
		return -1;
	/* a on processor 0 (0.6), b on 1 (0.1), c on 2 (0.2), z without a VMQ */
	e->f.next_proc = 0;
	if (ctl_fake_add(&e->f, "a", "02:00:00:00:00:01", 100, 0.6) || ctl_fake_add(&e->f, "b", "02:00:00:00:00:02", 100, 0.1) ||
	    ctl_fake_add(&e->f, "c", "02:00:00:00:00:03", 100, 0.2) || ctl_fake_add(&e->f, "z", "02:00:00:00:00:04", 0, 0.05))
		return -1;
	return 0;
}

static void env_free(struct env *e)
{
	dvmq_ctl_registry_destroy(e->reg);
}

static json_t *run(struct env *e, const char *cmd, const char *args)
{
	char line[1200];
	snprintf(line, sizeof(line), "{\"v\":1,\"id\":1,\"cmd\":\"%s\",\"args\":%s}", cmd, args);
	struct dvmq_ctl_outcome o;
	dvmq_ctl_registry_handle(e->reg, line, strlen(line), &o);
	json_t *r = o.reply ? json_loads(o.reply, 0, NULL) : NULL;
	free(o.reply);
	return r;
}

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
	const char *m = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
	return m ? m : "";
}

/* Runs and checks the code and, when given, a piece of the message. */
static bool expect(struct env *e, const char *want, const char *cmd, const char *args, const char *msg_part)
{
	json_t *r = run(e, cmd, args);
	bool ok = strcmp(code(r), want) == 0 && (!msg_part || strstr(message(r), msg_part));
	if (!ok)
		printf("    %s %s: got %s (%s), want %s%s%s\n", cmd, args, code(r), message(r), want,
		       msg_part ? " with " : "", msg_part ? msg_part : "");
	json_decref(r);
	return ok;
}

static json_t *res(json_t *r)
{
	return json_object_get(r, "result");
}

static int64_t queue_proc(struct env *e, const char *vm)
{
	char args[64];
	snprintf(args, sizeof(args), "{\"vm\":\"%s\"}", vm);
	json_t *r = run(e, "queue.show", args);
	int64_t p = json_integer_value(json_object_get(json_array_get(json_object_get(res(r), "queues"), 0), "processor"));
	json_decref(r);
	return p;
}

TEST(ctl_ops_queue_set_pins_and_hands_back)
{
	struct env e;
	CHECK(env_init(&e, 4, &ctl_fake_ops) == 0);
	json_t *r = run(&e, "queue.set", "{\"vm\":\"b\",\"processor\":3}");
	CHECK_MSG(strcmp(code(r), "ok") == 0, "%s %s", code(r), message(r));
	json_t *q = json_object_get(res(r), "queue"), *mv = json_object_get(res(r), "move");
	CHECK(json_is_true(json_object_get(q, "pinned")) && json_integer_value(json_object_get(q, "processor")) == 3);
	CHECK(strcmp(json_string_value(json_object_get(mv, "reason")), "pin") == 0 &&
	      json_integer_value(json_object_get(mv, "to")) == 3);
	json_decref(r);
	/* the pin stands where it is: no move, still pinned */
	r = run(&e, "queue.set", "{\"vm\":\"b\",\"processor\":3}");
	CHECK(json_is_null(json_object_get(res(r), "move")));
	json_decref(r);
	CHECK(queue_proc(&e, "b") == 3);
	/* explain says so, and every other processor is out of the question */
	r = run(&e, "explain", "{\"vm\":\"b\"}");
	CHECK(strcmp(code(r), "ok") == 0 && json_is_true(json_object_get(res(r), "pinned")));
	CHECK_MSG(strstr(json_string_value(json_object_get(res(r), "rule")), "pinned to processor 3"), "%s",
		  json_string_value(json_object_get(res(r), "rule")));
	json_t *c = json_object_get(res(r), "considered");
	CHECK(json_array_size(c) == 3);
	for (size_t i = 0; i < 3; i++)
		CHECK(strstr(json_string_value(json_object_get(json_array_get(c, i), "why")), "pinned"));
	json_decref(r);
	/* handed back */
	r = run(&e, "queue.set", "{\"queue\":2,\"auto\":true}");
	CHECK(strcmp(code(r), "ok") == 0 && json_is_false(json_object_get(json_object_get(res(r), "queue"), "pinned")));
	json_decref(r);
	/* refusals */
	CHECK(expect(&e, "bad-value", "queue.set", "{\"vm\":\"z\",\"processor\":1}", "has no VMQ"));
	CHECK(expect(&e, "unknown-vm", "queue.set", "{\"vm\":\"nope\",\"processor\":1}", NULL));
	CHECK(expect(&e, "unknown-queue", "queue.set", "{\"queue\":7,\"processor\":1}", NULL));
	CHECK(expect(&e, "unknown-processor", "queue.set", "{\"queue\":1,\"processor\":9}", NULL));
	CHECK(expect(&e, "bad-args", "queue.set", "{\"queue\":1}", "a processor or auto"));
	CHECK(expect(&e, "bad-args", "queue.set", "{\"queue\":1,\"processor\":1,\"auto\":true}", NULL));
	CHECK(expect(&e, "bad-args", "queue.set", "{\"queue\":1,\"vm\":\"a\",\"processor\":1}", "one of them"));
	CHECK(expect(&e, "ok", "adapter.set", "{\"processors\":\"0-2\"}", NULL));
	CHECK(expect(&e, "out-of-range", "queue.set", "{\"queue\":1,\"processor\":3}", "not in the processor set"));
	env_free(&e);
}

TEST(ctl_ops_rebalance_dry_run_predicts_and_applies_nothing)
{
	struct env e;
	CHECK(env_init(&e, 4, &ctl_fake_ops) == 0);
	ctl_fake_move(&e.f, 3, 0); /* c joins a on 0: 0.8, the others 0.1 and 0 */
	json_t *r = run(&e, "rebalance", "{\"dry_run\":true}");
	CHECK_MSG(strcmp(code(r), "ok") == 0, "%s %s", code(r), message(r));
	json_t *o = res(r);
	CHECK(json_is_true(json_object_get(o, "dry_run")) && json_array_size(json_object_get(o, "moves")) == 1);
	double before = json_number_value(json_object_get(o, "max_load_before"));
	double after = json_number_value(json_object_get(o, "max_load_after"));
	double gain = json_number_value(json_object_get(o, "gain"));
	CHECK_MSG(before > 0.79 && after < 0.61 && gain > 0.19 && gain < 0.21, "%f %f %f", before, after, gain);
	json_t *p0 = json_array_get(json_object_get(o, "processors"), 0);
	CHECK(json_integer_value(json_object_get(p0, "queues_before")) == 3 &&
	      json_integer_value(json_object_get(p0, "queues_after")) == 2);
	json_decref(r);
	/* nothing moved */
	CHECK(queue_proc(&e, "a") == 0 && queue_proc(&e, "c") == 0);
	/* the real one applies the same plan */
	r = run(&e, "rebalance", "{}");
	CHECK(strcmp(code(r), "ok") == 0 && json_is_false(json_object_get(res(r), "dry_run")) &&
	      json_array_size(json_object_get(res(r), "moves")) == 1);
	json_decref(r);
	CHECK(queue_proc(&e, "a") != 0);
	env_free(&e);
}

TEST(ctl_ops_stats_clear_resets_the_counters)
{
	struct env e;
	CHECK(env_init(&e, 4, &ctl_fake_ops) == 0);
	ctl_fake_tick(&e.f, 1000000000ull);
	json_t *r = run(&e, "processor.show", "{\"processor\":0}");
	json_t *c = json_object_get(json_array_get(json_object_get(res(r), "processors"), 0), "counters");
	CHECK_MSG(json_integer_value(json_object_get(c, "frames")) > 0 && json_number_value(json_object_get(c, "busy_s")) > 0.5 &&
		  json_number_value(json_object_get(c, "ns_per_frame")) > 0.0 && json_object_get(c, "ring_full") &&
		  json_integer_value(json_object_get(c, "wakeups")) > 0, "counters missing");
	json_decref(r);
	r = run(&e, "stats.clear", "{}");
	CHECK(strcmp(code(r), "ok") == 0 && json_number_value(json_object_get(res(r), "at_s")) > 0.99);
	json_decref(r);
	r = run(&e, "stats", "{}");
	CHECK(json_integer_value(json_object_get(json_object_get(res(r), "frames"), "received")) == 0);
	json_decref(r);
	r = run(&e, "processor.show", "{\"processor\":0}");
	c = json_object_get(json_array_get(json_object_get(res(r), "processors"), 0), "counters");
	CHECK(json_integer_value(json_object_get(c, "frames")) == 0 && json_is_null(json_object_get(c, "ns_per_frame")));
	json_decref(r);
	env_free(&e);
}

TEST(ctl_ops_history_gives_rows_and_takes_the_last_seconds)
{
	struct env e;
	CHECK(env_init(&e, 4, &ctl_fake_ops) == 0);
	for (int i = 0; i < 5; i++)
		ctl_fake_tick(&e.f, 1000000000ull);
	json_t *r = run(&e, "history", "{}");
	CHECK_MSG(strcmp(code(r), "ok") == 0, "%s %s", code(r), message(r));
	json_t *rows = json_object_get(res(r), "rows");
	CHECK(json_array_size(rows) == 5 && json_number_value(json_object_get(res(r), "step_s")) == 1.0);
	json_t *last = json_array_get(rows, 4);
	CHECK(json_array_size(json_object_get(last, "load")) == 4 && json_number_value(json_object_get(last, "t")) == 5.0);
	CHECK(json_number_value(json_array_get(json_object_get(last, "load"), 0)) > 0.59);
	json_t *q1 = json_array_get(json_object_get(res(r), "queues"), 1);
	CHECK(strcmp(json_string_value(json_object_get(q1, "vm")), "a") == 0);
	json_decref(r);
	r = run(&e, "history", "{\"seconds\":2}");
	CHECK(json_array_size(json_object_get(res(r), "rows")) == 2);
	json_decref(r);
	env_free(&e);
}

TEST(ctl_ops_config_show_and_diff)
{
	struct env e;
	CHECK(env_init(&e, 4, &ctl_fake_ops) == 0);
	json_t *r = run(&e, "config.show", "{}");
	CHECK(strcmp(code(r), "ok") == 0 && strstr(json_string_value(json_object_get(res(r), "text")), "[vm a]") &&
	      strcmp(json_string_value(json_object_get(res(r), "file")), "/etc/dvmq/fake.conf") == 0);
	json_decref(r);
	r = run(&e, "config.diff", "{}");
	CHECK(json_is_true(json_object_get(res(r), "same")) && json_array_size(json_object_get(res(r), "changes")) == 0);
	json_decref(r);
	CHECK(expect(&e, "ok", "vm.set", "{\"name\":\"a\",\"weight\":40}", NULL));
	r = run(&e, "config.diff", "{}");
	CHECK(json_is_false(json_object_get(res(r), "same")));
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(res(r), "changes"), 0)), "vm a changed: weight 40 -> 100") == 0);
	json_decref(r);
	e.f.fail = -EINVAL; /* the file does not load: the user's to fix, with its line */
	CHECK(expect(&e, "bad-value", "config.diff", "{}", "fake.conf:3:"));
	env_free(&e);
}

TEST(ctl_ops_an_older_daemon_says_unsupported)
{
	struct env e;
	CHECK(env_init(&e, 4, &ctl_fake_ops_minimal) == 0);
	CHECK(expect(&e, "unsupported", "queue.set", "{\"queue\":1,\"processor\":1}", "cannot pin queues"));
	CHECK(expect(&e, "unsupported", "rebalance", "{\"dry_run\":true}", "dry_run"));
	CHECK(expect(&e, "unsupported", "stats.clear", "{}", NULL));
	CHECK(expect(&e, "unsupported", "history", "{}", NULL));
	CHECK(expect(&e, "unsupported", "config.show", "{}", NULL));
	CHECK(expect(&e, "unsupported", "config.diff", "{}", NULL));
	CHECK(expect(&e, "ok", "rebalance", "{}", NULL)); /* the plain one it has */
	env_free(&e);
}

/* explain names every other processor and why it does not take the queue */
TEST(ctl_ops_explain_lists_the_processors_considered)
{
	struct env e;
	CHECK(env_init(&e, 4, &ctl_fake_ops) == 0);
	e.f.other_load[2] = 0.85; /* c's processor is busy with other work: 1.05 with c */
	CHECK(expect(&e, "ok", "adapter.set", "{\"processors\":\"0-2\"}", NULL));
	json_t *r = run(&e, "explain", "{\"vm\":\"a\"}");
	CHECK_MSG(strcmp(code(r), "ok") == 0, "%s %s", code(r), message(r));
	json_t *c = json_object_get(res(r), "considered");
	CHECK(json_array_size(c) == 3);
	const char *why[4] = { 0 }, *verdict[4] = { 0 };
	for (size_t i = 0; i < 3; i++) {
		json_t *x = json_array_get(c, i);
		int p = (int)json_integer_value(json_object_get(x, "processor"));
		CHECK(p >= 1 && p <= 3);
		why[p] = json_string_value(json_object_get(x, "why"));
		verdict[p] = json_string_value(json_object_get(x, "verdict"));
	}
	CHECK_MSG(strstr(why[3], "not in the processor set") && strcmp(verdict[3], "rejected") == 0, "%s", why[3]);
	CHECK_MSG(strstr(why[2], "over high") && strcmp(verdict[2], "rejected") == 0, "%s", why[2]);
	CHECK_MSG(strcmp(verdict[1], "fits") == 0 && strstr(why[1], "nothing calls for a move"), "%s: %s", verdict[1], why[1]);
	json_decref(r);
	env_free(&e);
}

/* stats clear's arithmetic: counters from the baseline, levels as they are, fates balanced */
TEST(ctl_ops_snapshot_since_a_clear)
{
	struct env e;
	CHECK(env_init(&e, 4, &ctl_fake_ops) == 0);
	ctl_fake_tick(&e.f, 1000000000ull);
	struct dvmq_snapshot *base = ctl_fake_ops.snapshot(&e.f);
	ctl_fake_tick(&e.f, 500000000ull);
	struct dvmq_snapshot *now = ctl_fake_ops.snapshot(&e.f);
	CHECK(base && now);
	uint64_t rx = now->frames_rx - base->frames_rx, q1 = now->queues[1].packets - base->queues[1].packets;
	uint64_t in_flight = now->dp.in_flight, backlog = now->queues[1].backlog;
	dvmq_snapshot_since(now, base);
	CHECK(now->cleared_ns == base->now_ns && now->frames_rx == rx && rx > 0 && now->queues[1].packets == q1);
	CHECK(now->dp.in_flight == in_flight && now->queues[1].backlog == backlog);
	CHECK(now->processors[0].frames == e.f.p_frames[0] - base->processors[0].frames);
	json_t *j = dvmq_ctl_stats_json(now);
	CHECK(json_is_true(json_object_get(json_object_get(json_object_get(j, "dataplane"), "uplink"), "balanced")));
	json_decref(j);
	dvmq_snapshot_unref(base);
	dvmq_snapshot_unref(now);
	env_free(&e);
}
