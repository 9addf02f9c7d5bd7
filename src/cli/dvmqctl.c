/* dvmqctl: the operator's command line for a running dvmq daemon (docs/ctl-protocol.md,
 * dvmqctl(8)). Each command turns its words and options into one protocol request, prints the
 * result as a table (or --json), and exits 0; 2 for anything the user can fix (bad usage, unknown
 * VM/queue/processor, value out of range, no daemon, permission denied); 1 when the daemon itself
 * failed (an internal error, no answer, a broken reply). Errors are one line on stderr. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dvmq/ctl.h"
#include "dvmq/engine.h"
#include "dvmqctl.h"

#define EXIT_USER 2
#define EXIT_DAEMON 1
#define DEFAULT_TIMEOUT_MS 5000
#define TOP_MOVES 5

enum ptype { P_NONE, P_STR, P_INT, P_QUEUE_OR_VM };
enum otype { O_STR, O_INT, O_ONOFF, O_NUMA, O_FLAG, O_PROC };
enum mode { M_CALL, M_FOLLOW, M_TOP, M_POLICY_SET, M_RAW, M_COMPLETE, M_STATS, M_HISTORY };

struct opt {
	const char *flag, *key;
	enum otype type;
	const char *arg; /* placeholder in usage */
};

struct cmd {
	const char *group, *verb, *proto;
	const char *usage, *help;
	const char *pos_key;
	enum ptype pos;
	bool pos_required;
	const struct opt *opts;
	void (*show)(json_t *, FILE *);
	enum mode mode;
};

static const struct opt vm_add_opts[] = {
	{ "--mac", "mac", O_STR, "MAC" }, { "--port", "port", O_STR, "tap:DEV|afpacket:DEV|sink" },
	{ "--vlan", "vlan", O_INT, "N" }, { "--weight", "weight", O_INT, "0-100" }, { NULL, NULL, O_STR, NULL },
};
static const struct opt queue_set_opts[] = { { "--processor", "processor", O_PROC, "N|auto" }, { NULL, NULL, O_STR, NULL } };
static const struct opt rebalance_opts[] = { { "--dry-run", "dry_run", O_FLAG, NULL }, { NULL, NULL, O_STR, NULL } };
static const struct opt stats_opts[] = { { "--clear", "clear", O_FLAG, NULL }, { NULL, NULL, O_STR, NULL } };
static const struct opt history_opts[] = {
	{ "--seconds", "seconds", O_INT, "N" }, { "--csv", "csv", O_FLAG, NULL }, { "--plot", "plot", O_STR, "FILE.png" },
	{ NULL, NULL, O_STR, NULL },
};
static const struct opt vm_set_opts[] = {
	{ "--weight", "weight", O_INT, "0-100" }, { "--vlan", "vlan", O_INT, "N" },
	{ "--max-queues", "max_queues", O_INT, "1-16" }, { NULL, NULL, O_STR, NULL },
};
static const struct opt adapter_set_opts[] = {
	{ "--vmq", "vmq", O_ONOFF, "on|off" }, { "--base", "base_processor", O_INT, "N" },
	{ "--max-processors", "max_processors", O_INT, "N" }, { "--max-number", "max_processor_number", O_INT, "N" },
	{ "--processors", "processors", O_STR, "LIST" }, { "--numa-node", "numa_node", O_NUMA, "N|any" },
	{ "--queue-pool", "queue_pool", O_INT, "N" }, { NULL, NULL, O_STR, NULL },
};
static const struct opt queue_show_opts[] = { { "--vm", "vm", O_STR, "NAME" }, { NULL, NULL, O_STR, NULL } };
static const struct opt moves_opts[] = {
	{ "--limit", "limit", O_INT, "N" }, { "--queue", "queue", O_INT, "N" }, { "--follow", "follow", O_FLAG, NULL },
	{ NULL, NULL, O_STR, NULL },
};
static const struct opt top_opts[] = { { "-n", "iterations", O_INT, "N" }, { NULL, NULL, O_STR, NULL } };
static const struct opt no_opts[] = { { NULL, NULL, O_STR, NULL } };

static const struct cmd cmds[] = {
	{ "adapter", "show", "adapter.show", "", "VMQ settings of the adapter (Get-NetAdapterVmq)", NULL, P_NONE, false,
	  no_opts, show_adapter, M_CALL },
	{ "adapter", "set", "adapter.set", "[OPTIONS]", "change VMQ settings (Set-/Enable-/Disable-NetAdapterVmq)", NULL,
	  P_NONE, false, adapter_set_opts, show_adapter, M_CALL },
	{ "queue", "show", "queue.show", "[QUEUE]", "queues: VM, MAC, VLAN, processor, load, pps, backlog, drops", "queue",
	  P_INT, false, queue_show_opts, show_queues, M_CALL },
	{ "queue", "set", "queue.set", "QUEUE|VM --processor N|auto", "pin a queue to a processor (auto: hand it back)",
	  "queue", P_QUEUE_OR_VM, true, queue_set_opts, show_queue_set, M_CALL },
	{ "vm", "add", "vm.add", "NAME --mac MAC --port tap:DEV|afpacket:DEV|sink", "add a VM adapter", "name", P_STR, true,
	  vm_add_opts, show_vms, M_CALL },
	{ "vm", "remove", "vm.remove", "NAME", "remove a VM adapter", "name", P_STR, true, no_opts, show_vm_removed, M_CALL },
	{ "vm", "show", "vm.show", "[NAME]", "VM adapters (Get-VMNetworkAdapter)", "name", P_STR, false, no_opts, show_vms,
	  M_CALL },
	{ "vm", "set", "vm.set", "NAME", "change a VM adapter (Set-VMNetworkAdapter -VmqWeight)", "name", P_STR, true,
	  vm_set_opts, show_vms, M_CALL },
	{ "processor", "show", "processor.show", "[PROCESSOR]", "processors: load, network load, awake or parked, queues",
	  "processor", P_INT, false, no_opts, show_processors, M_CALL },
	{ "policy", "show", "policy.show", "", "the policy, every parameter and the interval", NULL, P_NONE, false, no_opts,
	  show_policy, M_CALL },
	{ "policy", "set", "policy.set", "[POLICY] [PARAM=VALUE]...", "change the policy or parameters (interval too)",
	  NULL, P_NONE, false, no_opts, show_policy, M_POLICY_SET },
	{ "moves", NULL, "moves", "", "recent moves; --follow streams them", NULL, P_NONE, false, moves_opts, show_moves,
	  M_FOLLOW },
	{ "stats", NULL, "stats", "", "counters since the daemon started (--clear: from now on)", NULL, P_NONE, false,
	  stats_opts, show_stats, M_STATS },
	{ "history", NULL, "history", "", "processor and queue loads of the last minutes (--csv, --plot FILE.png)", NULL,
	  P_NONE, false, history_opts, show_history, M_HISTORY },
	{ "top", NULL, NULL, "", "a live view refreshing every second (-n N: N times)", NULL, P_NONE, false, top_opts, NULL,
	  M_TOP },
	{ "rebalance", NULL, "rebalance", "", "plan now and apply the moves (--dry-run: show the plan only)", NULL, P_NONE,
	  false, rebalance_opts, show_rebalance, M_CALL },
	{ "explain", NULL, "explain", "QUEUE|VM", "why a queue is where it is", "queue", P_QUEUE_OR_VM, true, no_opts,
	  show_explain, M_CALL },
	{ "config", "show", "config.show", "", "the running configuration as a config file, ready to save", NULL, P_NONE,
	  false, no_opts, show_config, M_CALL },
	{ "config", "diff", "config.diff", "", "what a reload would change: the file against the running configuration",
	  NULL, P_NONE, false, no_opts, show_config_diff, M_CALL },
	{ "version", NULL, "version", "", "versions of dvmqctl, the daemon and the protocol", NULL, P_NONE, false, no_opts,
	  show_version, M_CALL },
	{ "call", NULL, NULL, "COMMAND [JSON-ARGS]", "send one raw protocol request, print its result", NULL, P_NONE,
	  false, no_opts, NULL, M_RAW },
	{ "complete", NULL, NULL, "WHAT [WORDS]", "words for shell completion: commands, verbs GROUP, options WORDS, "
	  "vms, queues, params, policies", NULL, P_NONE, false, no_opts, NULL, M_COMPLETE },
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

struct globals {
	const char *socket;
	bool json, help;
	int timeout_ms;
};

static void usage(FILE *f)
{
	fputs("usage: dvmqctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]\n\ncommands:\n", f);
	for (size_t i = 0; i < N_CMDS; i++) {
		char words[64];
		snprintf(words, sizeof(words), "%s%s%s %s", cmds[i].group, cmds[i].verb ? " " : "", cmds[i].verb ? cmds[i].verb : "",
			 cmds[i].usage);
		fprintf(f, "  %-37s %s\n", words, cmds[i].help);
	}
	fputs("\n'dvmqctl COMMAND --help' for its options. The socket is $DVMQ_SOCKET or " DVMQ_CTL_DEFAULT_SOCKET ".\n"
	      "Exit status: 0 ok, 2 bad usage or a refused request (unknown VM, out of range, no daemon,\n"
	      "permission denied), 1 the daemon failed.\n",
	      f);
}

static void cmd_usage(const struct cmd *c, FILE *f)
{
	fprintf(f, "usage: dvmqctl %s%s%s %s", c->group, c->verb ? " " : "", c->verb ? c->verb : "", c->usage);
	for (const struct opt *o = c->opts; o->flag; o++)
		if (!strstr(c->usage, o->flag)) /* a required option is in the usage already */
			fprintf(f, " [%s%s%s]", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(f, " [--json]\n  %s\n", c->help);
	if (c->mode == M_POLICY_SET) {
		fputs("  POLICY: none, static, dynamic, ovs-alb, adaptive, rsspp, irqbalance; PARAM: interval and", f);
		for (const char *const *n = dvmq_engine_param_names(); *n; n++)
			if (strcmp(*n, "policy") != 0)
				fprintf(f, " %s", *n);
		fputc('\n', f);
	}
}

/* --json: errors are JSON too ({"ok": false, "error": {"code", "message"}} on stdout) */
static bool json_errors;

static int vfail(int code, const char *errname, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (json_errors) {
		json_t *e = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", errname, "message", msg);
		if (e) {
			json_dumpf(e, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			fflush(stdout);
			json_decref(e);
			return code;
		}
	}
	fprintf(stderr, "dvmqctl: %s\n", msg);
	return code;
}

static int fail_as(int code, const char *errname, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_as(int code, const char *errname, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(code, errname, fmt, ap);
	va_end(ap);
	return code;
}

/* usage mistakes are "usage", the daemon's failures "daemon-failed" */
static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(code, code == EXIT_USER ? "usage" : "daemon-failed", fmt, ap);
	va_end(ap);
	return code;
}

static bool parse_int(const char *s, long long *v)
{
	char *end;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return *s && !*end && errno == 0;
}

static const struct cmd *find_cmd(char **w, int n, int *used)
{
	for (size_t i = 0; i < N_CMDS; i++) {
		if (strcmp(cmds[i].group, w[0]) != 0)
			continue;
		if (!cmds[i].verb) {
			*used = 1;
			return &cmds[i];
		}
		if (n > 1 && strcmp(cmds[i].verb, w[1]) == 0) {
			*used = 2;
			return &cmds[i];
		}
	}
	return NULL;
}

static bool is_group(const char *w)
{
	for (size_t i = 0; i < N_CMDS; i++)
		if (strcmp(cmds[i].group, w) == 0)
			return true;
	return false;
}

static const char *cmd_name(const struct cmd *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", c->group, c->verb ? " " : "", c->verb ? c->verb : "");
	return buf;
}

/* Turns the command's arguments into the request's args. Returns 0 or EXIT_USER (printed). */
static int build_args(const struct cmd *c, char **argv, int argc, json_t *args)
{
	char name[48];
	cmd_name(c, name, sizeof(name));
	bool have_pos = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1]) {
			const char *eq = strchr(a, '=');
			size_t flen = eq ? (size_t)(eq - a) : strlen(a);
			const struct opt *o = c->opts;
			while (o->flag && (strlen(o->flag) != flen || strncmp(o->flag, a, flen) != 0))
				o++;
			if (!o->flag)
				return fail(EXIT_USER, "%s: unknown option '%.*s' (dvmqctl %s --help)", name, (int)flen, a, name);
			const char *val = NULL;
			if (o->type != O_FLAG) {
				val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
				if (!val)
					return fail(EXIT_USER, "%s: %s needs a value (%s)", name, o->flag, o->arg);
			}
			long long v;
			json_t *j;
			const char *key = o->key;
			if (o->type == O_FLAG)
				j = json_true();
			else if (o->type == O_STR)
				j = json_string(val);
			else if (o->type == O_ONOFF && (strcmp(val, "on") == 0 || strcmp(val, "off") == 0))
				j = json_boolean(strcmp(val, "on") == 0);
			else if (o->type == O_NUMA && strcmp(val, "any") == 0)
				j = json_integer(-1);
			else if (o->type == O_PROC && strcmp(val, "auto") == 0)
				j = json_true(), key = "auto";
			else if (o->type != O_ONOFF && parse_int(val, &v))
				j = json_integer(v);
			else
				return fail(EXIT_USER, "%s: %s wants %s, got '%s'", name, o->flag,
					    o->type == O_ONOFF ? "on or off" : o->type == O_NUMA ? "a number or any"
					    : o->type == O_PROC ? "a processor number or auto" : "a number", val);
			if (!j || json_object_set_new(args, key, j))
				return fail(EXIT_USER, "out of memory");
			continue;
		}
		if (c->pos == P_NONE || have_pos)
			return fail(EXIT_USER, "%s: unexpected argument '%s' (usage: dvmqctl %s %s)", name, a, name, c->usage);
		have_pos = true;
		long long v;
		json_t *j;
		const char *key = c->pos_key;
		if (c->pos == P_STR) {
			j = json_string(a);
		} else if (parse_int(a, &v)) {
			j = json_integer(v);
		} else if (c->pos == P_QUEUE_OR_VM) {
			key = "vm";
			j = json_string(a);
		} else {
			return fail(EXIT_USER, "%s: %s wants a number, got '%s'", name, c->pos_key, a);
		}
		if (!j || json_object_set_new(args, key, j))
			return fail(EXIT_USER, "out of memory");
	}
	if (c->pos_required && !have_pos)
		return fail(EXIT_USER, "%s: missing %s (usage: dvmqctl %s %s)", name, c->usage, name, c->usage);
	/* a VM without a port would be a black hole on a real host: say where its frames go */
	if (c->opts == vm_add_opts && !json_object_get(args, "port"))
		return fail(EXIT_USER, "vm add: --port is required: tap:DEVICE, afpacket:DEVICE, or sink (a VM that "
			    "only counts what it gets)");
	if (c->opts == queue_set_opts && !json_object_get(args, "processor") && !json_object_get(args, "auto"))
		return fail(EXIT_USER, "queue set: --processor N or --processor auto is required");
	return 0;
}

/* policy set [POLICY] [PARAM=VALUE]... */
static int build_policy_args(char **argv, int argc, json_t *args)
{
	json_t *params = json_object();
	if (!params || json_object_set_new(args, "params", params))
		return fail(EXIT_USER, "out of memory");
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (argv[i][0] == '-')
			return fail(EXIT_USER, "policy set: unknown option '%s' (dvmqctl policy set --help)", argv[i]);
		if (!eq) {
			if (json_object_get(args, "policy"))
				return fail(EXIT_USER, "policy set: one POLICY only, then PARAM=VALUE ('%s')", argv[i]);
			json_object_set_new(args, "policy", json_string(argv[i]));
			continue;
		}
		char key[64];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		json_object_set_new(params, key, json_string(eq + 1));
	}
	if (!json_object_get(args, "policy") && json_object_size(params) == 0)
		return fail(EXIT_USER, "policy set: nothing to set (usage: dvmqctl policy set [POLICY] [PARAM=VALUE]...)");
	return 0;
}

static int connect_daemon(const struct globals *g, struct dvmq_ctl_client **c)
{
	int rc = dvmq_ctl_client_open(g->socket, c);
	if (rc == 0)
		return 0;
	if (rc == -ENOENT)
		return fail_as(EXIT_USER, "no-daemon", "no dvmq daemon is running: no socket at %s (--socket PATH?)", g->socket);
	if (rc == -ENOTSOCK)
		return fail_as(EXIT_USER, "no-daemon", "%s is not a socket", g->socket);
	struct stat st;
	if (rc == -ECONNREFUSED && stat(g->socket, &st) == 0 && !S_ISSOCK(st.st_mode))
		return fail_as(EXIT_USER, "no-daemon", "%s is not a socket (%s): --socket names the daemon's control socket",
			       g->socket, S_ISDIR(st.st_mode) ? "a directory" : S_ISREG(st.st_mode) ? "a regular file" : "not a socket");
	if (rc == -ECONNREFUSED)
		return fail_as(EXIT_USER, "no-daemon", "no dvmq daemon is running: %s refuses connections (a stale socket)",
			       g->socket);
	if (rc == -EACCES || rc == -EPERM)
		return fail_as(EXIT_USER, "permission-denied", "permission denied on %s (run as root or join group 'dvmq')",
			       g->socket);
	return fail(EXIT_USER, "cannot connect to %s: %s", g->socket, strerror(-rc));
}

/* One call; prints a failure. Returns 0 with *rep filled (ok), or the exit code. */
static int call(const struct globals *g, struct dvmq_ctl_client *c, const char *proto, json_t *args,
		struct dvmq_ctl_reply *rep)
{
	struct dvmq_ctl_error err = { 0 };
	int rc = dvmq_ctl_client_call(c, proto, args, g->timeout_ms, rep, &err);
	if (rc == -ETIMEDOUT)
		return fail(EXIT_DAEMON, "the daemon did not answer within %.3g s", g->timeout_ms / 1000.0);
	if (rc == -ECONNRESET)
		return fail(EXIT_DAEMON, "the daemon closed the connection");
	if (rc == -EPROTO)
		return fail(EXIT_DAEMON, "the daemon's reply: %s", err.msg);
	if (rc)
		return fail(EXIT_DAEMON, "%s: %s", proto, strerror(-rc));
	enum dvmq_ctl_errc code = rep->error.code;
	if (code == DVMQ_CTL_OK)
		return 0;
	bool daemon = code == DVMQ_CTL_E_INTERNAL || code == DVMQ_CTL_E_BUSY || code == DVMQ_CTL_E_TIMEOUT;
	fail_as(daemon ? EXIT_DAEMON : EXIT_USER, dvmq_ctl_error_name(code), "%s%s", daemon ? "the daemon failed: " : "",
		rep->error.msg);
	dvmq_ctl_reply_clear(rep);
	return daemon ? EXIT_DAEMON : EXIT_USER;
}

static void print_json(json_t *r, bool compact)
{
	json_dumpf(r, stdout, compact ? JSON_COMPACT : JSON_INDENT(2));
	fputc('\n', stdout);
	fflush(stdout);
}

static int run_follow(const struct globals *g, struct dvmq_ctl_client *c, const struct cmd *cmd, json_t *args)
{
	bool follow = json_is_true(json_object_get(args, "follow"));
	struct dvmq_ctl_reply rep;
	int rc = call(g, c, cmd->proto, args, &rep);
	if (rc)
		return rc;
	if (!follow) {
		g->json ? print_json(rep.result, false) : cmd->show(rep.result, stdout);
		dvmq_ctl_reply_clear(&rep);
		return 0;
	}
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(rep.result, "moves"), i, m)
		g->json ? print_json(m, true) : show_move_line(m, stdout, i == 0);
	bool header = json_array_size(json_object_get(rep.result, "moves")) == 0;
	dvmq_ctl_reply_clear(&rep);
	fflush(stdout);
	json_t *want_q = json_object_get(args, "queue");
	for (;;) {
		struct dvmq_ctl_error err;
		rc = dvmq_ctl_client_next_event(c, -1, &rep, &err);
		if (rc)
			return fail(EXIT_DAEMON, rc == -ECONNRESET ? "the daemon closed the connection" : "%s",
				    rc == -EPROTO ? err.msg : strerror(-rc));
		json_t *q = json_object_get(rep.result, "queue");
		if (!want_q || json_integer_value(q) == json_integer_value(want_q)) {
			g->json ? print_json(rep.result, true) : show_move_line(rep.result, stdout, header);
			header = false;
			fflush(stdout);
		}
		dvmq_ctl_reply_clear(&rep);
	}
}

static int run_top(const struct globals *g, struct dvmq_ctl_client *c, json_t *args)
{
	long long n = json_integer_value(json_object_get(args, "iterations"));
	if (json_object_get(args, "iterations") && n < 1)
		return fail(EXIT_USER, "top: -n wants a count of 1 or more");
	bool tty = isatty(STDOUT_FILENO) && !g->json;
	static const char *const parts[4] = { "stats", "processor.show", "queue.show", "moves" };
	for (long long it = 0; n == 0 || it < n; it++) {
		if (it)
			sleep(1);
		json_t *all = json_object();
		for (int k = 0; k < 4; k++) {
			struct dvmq_ctl_reply rep;
			json_t *a = k == 3 ? json_pack("{s:i}", "limit", TOP_MOVES) : NULL;
			int rc = call(g, c, parts[k], a, &rep);
			if (rc) {
				json_decref(all);
				return rc;
			}
			json_object_set(all, k == 0 ? "stats" : k == 1 ? "processors" : k == 2 ? "queues" : "moves",
					k == 0 ? rep.result : json_object_get(rep.result, k == 1 ? "processors" : k == 2 ? "queues" : "moves"));
			dvmq_ctl_reply_clear(&rep);
		}
		if (g->json) {
			print_json(all, true);
		} else {
			if (tty)
				fputs("\033[H\033[J", stdout);
			json_t *st = json_object_get(all, "stats"), *fr = json_object_get(st, "frames");
			printf("dvmq  up %.0f s  received %lld  delivered %lld  dropped %lld  moves %lld  ping-pongs %lld\n\n",
			       json_number_value(json_object_get(st, "uptime_s")), (long long)json_integer_value(json_object_get(fr, "received")),
			       (long long)json_integer_value(json_object_get(fr, "delivered")),
			       (long long)json_integer_value(json_object_get(fr, "dropped")),
			       (long long)json_integer_value(json_object_get(json_object_get(st, "moves"), "total")),
			       (long long)json_integer_value(json_object_get(st, "pingpongs")));
			show_processors(all, stdout);
			putchar('\n');
			show_queues(all, stdout);
			putchar('\n');
			show_moves(all, stdout);
			fflush(stdout);
		}
		json_decref(all);
	}
	return 0;
}

static int run_raw(const struct globals *g, struct dvmq_ctl_client *c, char **argv, int argc)
{
	if (argc < 1 || argc > 2)
		return fail(EXIT_USER, "call: usage: dvmqctl call COMMAND [JSON-ARGS]");
	json_t *args = NULL;
	if (argc == 2) {
		json_error_t je;
		args = json_loads(argv[1], 0, &je);
		if (!json_is_object(args)) {
			json_decref(args);
			return fail(EXIT_USER, "call: JSON-ARGS must be a JSON object (%s)", je.text);
		}
	}
	struct dvmq_ctl_reply rep;
	int rc = call(g, c, argv[0], args, &rep);
	if (rc)
		return rc;
	print_json(rep.result, false);
	dvmq_ctl_reply_clear(&rep);
	return 0;
}

/* Words for the bash completion script; daemon-backed lists print nothing when it is away. */
static int run_complete(const struct globals *g, char **argv, int argc)
{
	if (argc < 1)
		return fail(EXIT_USER, "complete: usage: dvmqctl complete commands|verbs GROUP|options WORDS|vms|queues|params|policies");
	const char *what = argv[0];
	if (strcmp(what, "commands") == 0) {
		for (size_t i = 0; i < N_CMDS; i++)
			if (i == 0 || strcmp(cmds[i].group, cmds[i - 1].group) != 0)
				printf("%s\n", cmds[i].group);
	} else if (strcmp(what, "verbs") == 0 && argc == 2) {
		for (size_t i = 0; i < N_CMDS; i++)
			if (cmds[i].verb && strcmp(cmds[i].group, argv[1]) == 0)
				printf("%s\n", cmds[i].verb);
	} else if (strcmp(what, "options") == 0 && argc >= 2) {
		int used;
		const struct cmd *c = find_cmd(argv + 1, argc - 1, &used);
		for (const struct opt *o = c ? c->opts : no_opts; o->flag; o++)
			printf("%s\n", o->flag);
		printf("--json\n--help\n--socket\n");
	} else if (strcmp(what, "params") == 0) {
		for (const char *const *n = dvmq_engine_param_names(); *n; n++)
			if (strcmp(*n, "policy") != 0)
				printf("%s=\n", *n);
		printf("interval=\n");
	} else if (strcmp(what, "policies") == 0) {
		for (unsigned p = 0; p < DVMQ_POLICY_COUNT; p++)
			printf("%s\n", dvmq_policy_name((enum dvmq_policy)p));
	} else if (strcmp(what, "vms") == 0 || strcmp(what, "queues") == 0) {
		bool vms = strcmp(what, "vms") == 0;
		struct dvmq_ctl_client *c;
		if (dvmq_ctl_client_open(g->socket, &c) != 0)
			return EXIT_DAEMON;
		struct dvmq_ctl_reply rep;
		struct dvmq_ctl_error err;
		int rc = dvmq_ctl_client_call(c, vms ? "vm.show" : "queue.show", NULL, g->timeout_ms, &rep, &err);
		if (rc == 0 && rep.error.code == DVMQ_CTL_OK) {
			size_t i;
			json_t *x;
			json_array_foreach(json_object_get(rep.result, vms ? "vms" : "queues"), i, x) {
				if (vms)
					printf("%s\n", json_string_value(json_object_get(x, "name")));
				else
					printf("%lld\n", (long long)json_integer_value(json_object_get(x, "queue")));
			}
		}
		if (rc == 0)
			dvmq_ctl_reply_clear(&rep);
		dvmq_ctl_client_close(c);
		return rc == 0 ? 0 : EXIT_DAEMON;
	} else {
		return fail(EXIT_USER, "complete: unknown list '%s'", what);
	}
	return 0;
}

/* stats [--clear]: the clear first, then the counters from then on. */
static int run_stats(const struct globals *g, struct dvmq_ctl_client *c, const struct cmd *cmd, json_t *args)
{
	struct dvmq_ctl_reply rep;
	int rc = 0;
	if (json_is_true(json_object_get(args, "clear"))) {
		rc = call(g, c, "stats.clear", NULL, &rep);
		if (rc)
			return rc;
		dvmq_ctl_reply_clear(&rep);
	}
	rc = call(g, c, cmd->proto, NULL, &rep);
	if (rc)
		return rc;
	g->json ? print_json(rep.result, false) : cmd->show(rep.result, stdout);
	dvmq_ctl_reply_clear(&rep);
	return 0;
}

/* history [--seconds N] [--csv] [--plot FILE.png|FILE.svg]: the load ring as a table, CSV on
 * stdout, or the simulator's picture. */
static int run_history(const struct globals *g, struct dvmq_ctl_client *c, const struct cmd *cmd, json_t *args)
{
	const char *plot = json_string_value(json_object_get(args, "plot"));
	bool csv = json_is_true(json_object_get(args, "csv"));
	char err[512];
	if (plot && history_plot_check(plot, err, sizeof(err)) != 0) /* before asking: the path is the user's */
		return fail(EXIT_USER, "history: %s", err);
	json_t *a = json_object();
	if (!a)
		return fail(EXIT_DAEMON, "out of memory");
	json_t *secs = json_object_get(args, "seconds");
	if (secs)
		json_object_set(a, "seconds", secs);
	struct dvmq_ctl_reply rep;
	int rc = call(g, c, cmd->proto, a, &rep);
	if (rc)
		return rc;
	if (plot) {
		rc = history_plot(rep.result, plot, err, sizeof(err));
		if (rc)
			rc = fail(rc == -ENOENT || rc == -EINVAL ? EXIT_USER : EXIT_DAEMON, "history: %s", err);
		else if (!g->json)
			printf("wrote %s\n", plot);
	}
	if (rc == 0 && csv)
		history_csv(rep.result, stdout);
	else if (rc == 0 && g->json)
		print_json(rep.result, false);
	else if (rc == 0 && !plot)
		cmd->show(rep.result, stdout);
	dvmq_ctl_reply_clear(&rep);
	return rc;
}

/* Takes the global options out of argv wherever they stand; returns the remaining count. */
static int globals_parse(int argc, char **argv, struct globals *g, char **rest)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			g->json = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			g->help = true;
		} else if (strcmp(a, "--socket") == 0 || strncmp(a, "--socket=", 9) == 0) {
			g->socket = a[8] == '=' ? a + 9 : i + 1 < argc ? argv[++i] : NULL;
			if (!g->socket || !*g->socket)
				return fail(EXIT_USER, "--socket needs a PATH"), -1;
		} else if (strcmp(a, "--timeout") == 0 || strncmp(a, "--timeout=", 10) == 0) {
			const char *v = a[9] == '=' ? a + 10 : i + 1 < argc ? argv[++i] : NULL;
			char *end;
			double s = v ? strtod(v, &end) : 0.0;
			if (!v || *end || !(s > 0.0 && s <= 3600.0))
				return fail(EXIT_USER, "--timeout wants seconds (0 < s <= 3600), got '%s'", v ? v : ""), -1;
			g->timeout_ms = (int)(s * 1000.0 + 0.5);
		} else {
			rest[n++] = argv[i];
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	struct globals g = { .socket = getenv("DVMQ_SOCKET"), .timeout_ms = DEFAULT_TIMEOUT_MS };
	if (!g.socket || !*g.socket)
		g.socket = DVMQ_CTL_DEFAULT_SOCKET;
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest)
		return fail(EXIT_DAEMON, "out of memory");
	for (int i = 1; i < argc; i++) /* before anything can fail */
		json_errors = json_errors || strcmp(argv[i], "--json") == 0;
	int n = globals_parse(argc, argv, &g, rest), rc = 0;
	if (n < 0) {
		rc = EXIT_USER;
	} else if (n == 0) {
		usage(g.help ? stdout : stderr);
		rc = g.help ? 0 : EXIT_USER;
	} else if (strcmp(rest[0], "--version") == 0) {
		printf("dvmqctl %s (protocol %d)\n", DVMQ_VERSION, DVMQ_CTL_VERSION);
	} else {
		int used = 0;
		const struct cmd *c = find_cmd(rest, n, &used);
		if (!c && is_group(rest[0]) && g.help) {
			/* `dvmqctl queue --help`: the group's commands */
			for (size_t i = 0; i < N_CMDS; i++)
				if (strcmp(cmds[i].group, rest[0]) == 0)
					cmd_usage(&cmds[i], stdout);
		} else if (!c && is_group(rest[0])) {
			if (n > 1)
				fprintf(stderr, "dvmqctl: %s: unknown subcommand '%s'; one of:", rest[0], rest[1]);
			else
				fprintf(stderr, "dvmqctl: %s: missing subcommand; one of:", rest[0]);
			for (size_t i = 0; i < N_CMDS; i++)
				if (strcmp(cmds[i].group, rest[0]) == 0)
					fprintf(stderr, " %s", cmds[i].verb);
			fputc('\n', stderr);
			rc = EXIT_USER;
		} else if (!c) {
			rc = fail(EXIT_USER, "unknown command '%s' (dvmqctl --help lists them)", rest[0]);
		} else if (g.help) {
			cmd_usage(c, stdout);
		} else if (c->mode == M_COMPLETE) {
			rc = run_complete(&g, rest + used, n - used);
		} else {
			json_t *args = json_object();
			if (c->mode == M_POLICY_SET)
				rc = build_policy_args(rest + used, n - used, args);
			else if (c->mode != M_RAW)
				rc = build_args(c, rest + used, n - used, args);
			struct dvmq_ctl_client *cl = NULL;
			if (!rc)
				rc = connect_daemon(&g, &cl);
			if (!rc && c->mode == M_RAW) {
				rc = run_raw(&g, cl, rest + used, n - used);
			} else if (!rc && c->mode == M_TOP) {
				rc = run_top(&g, cl, args);
			} else if (!rc && c->mode == M_FOLLOW) {
				rc = run_follow(&g, cl, c, json_incref(args));
			} else if (!rc && c->mode == M_STATS) {
				rc = run_stats(&g, cl, c, args);
			} else if (!rc && c->mode == M_HISTORY) {
				rc = run_history(&g, cl, c, args);
			} else if (!rc) {
				struct dvmq_ctl_reply rep;
				rc = call(&g, cl, c->proto, json_incref(args), &rep);
				if (!rc && strcmp(c->proto, "version") == 0) /* this dvmqctl's own, beside the daemon's */
					json_object_set_new(rep.result, "dvmqctl", json_string(DVMQ_VERSION));
				if (!rc) {
					g.json ? print_json(rep.result, false) : c->show(rep.result, stdout);
					dvmq_ctl_reply_clear(&rep);
				}
			}
			json_decref(args);
			dvmq_ctl_client_close(cl);
		}
	}
	free(rest);
	return rc;
}
