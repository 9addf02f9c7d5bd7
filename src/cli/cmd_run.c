/* `dvmq run`: a scenario on the real data plane, with a live view and the simulator's report,
 * or (`--config FILE`) the daemon for a host; both run the same daemon code (include/dvmq/run.h)
 * on one input type, a host configuration (a scenario is one through dvmq_config_from_scenario). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dvmq/report.h"
#include "dvmq/config.h"
#include "dvmq/run.h"

static void usage(FILE *f)
{
	fputs("usage: dvmq run [SCENARIO] [--policy NAME] [--set PARAM=VALUE]... [--duration TIME]\n"
	      "                [--cpus N] [--json] [--quiet] [--socket PATH] [--metrics ADDR:PORT]\n"
	      "                [--log-level LEVEL] [--own-load] [--virtual-cost]\n"
	      "       dvmq run --config FILE [--socket PATH] [--metrics ADDR:PORT|off] [--log-level LEVEL]\n"
	      "                [--own-load] [--virtual-cost] [--run-to-completion] [--json]\n"
	      "       dvmq run --config FILE --check [--json]\n"
	      "\n"
	      "Runs SCENARIO (a file, or a name in scenarios/ without .ini; default: the embedded\n"
	      "scenarios/default) on the real data plane: the built-in generator sends the scenario's\n"
	      "frames, one pinned worker per CPU serves the queues, the engine moves them. No root.\n"
	      "A scenario with more processors than this machine is capped to its CPUs and its offered\n"
	      "loads are scaled by the same ratio (a note says so). It ends after the scenario's\n"
	      "duration (or SIGINT/SIGTERM) with the simulator's report.\n"
	      "With --config, runs the host FILE describes as a daemon, in the foreground, until SIGTERM:\n"
	      "its uplink and VM ports, the control socket for dvmqctl(8) and the metrics page; SIGHUP\n"
	      "reloads FILE (applied as a difference; a bad file is logged and changes nothing).\n"
	      "  --policy NAME   none, static, dynamic, ovs-alb, adaptive, rsspp or irqbalance (default:\n"
	      "                  the scenario's)\n"
	      "  --set P=V       override an engine parameter (see dvmq sim --help); repeatable\n"
	      "  --duration T    run T (e.g. 20s) instead of the scenario's duration\n"
	      "  --cpus N        use at most N CPUs\n"
	      "  --json          print one JSON object at the end (the live view goes to stderr)\n"
	      "  --quiet         no live view\n"
	      "  --config FILE   the host configuration (dvmq.conf(5), docs/config.md): uplink, VM\n"
	      "                  adapters, processor set, engine, control socket and metrics\n"
	      "  --check         with --config: validate FILE and this machine's side of it (CPUs,\n"
	      "                  NUMA nodes, the engine's acceptance), print a summary (or --json) and\n"
	      "                  exit; starts nothing, touches no device, needs no privilege\n"
	      "  --socket PATH   serve dvmqctl on PATH (a scenario serves none unless given; the\n"
	      "                  config's [control] socket otherwise)\n"
	      "  --metrics A:P   the Prometheus page on address A, port P (0: any free port, logged),\n"
	      "                  or off (a scenario's default; the config's [control] metrics otherwise)\n"
	      "  --log-level L   error, warning, info or debug (default: the config's, warning for a\n"
	      "                  scenario); one line per event on stderr\n"
	      "  --own-load      a processor's load is its worker's own busy time only: other programs\n"
	      "                  on the same CPUs are not counted (default: /proc/stat, any cause);\n"
	      "                  for results that must not depend on a shared machine's other load\n"
	      "  --virtual-cost  a frame's cost is counted as its worker's busy time, not spent (implies\n"
	      "                  --own-load): the engine sees the scenario's loads whatever this\n"
	      "                  machine's speed and its other programs (tests of the engine's moves)\n"
	      "  --run-to-completion  with --config: the uplink thread serves the last processor's\n"
	      "                  queues itself (pinned there, no worker thread of its own), so a frame\n"
	      "                  for them is delivered by the thread that read it; a device or pcap\n"
	      "                  uplink on 2 or more processors (else logged and off). Default off\n"
	      "                  (docs/config.md, \"Run to completion\")\n"
	      "Exit: 0 ok (also after SIGTERM), 1 run failed (a port, the socket in use, ...), 2 bad\n"
	      "usage, bad scenario or bad config (the message names file:line).\n",
	      f);
}

static json_t *verdicts_json(const struct dvmq_run_result *res, bool unsupported)
{
	json_t *o = json_object();
	for (unsigned v = 1; o && v < DVMQ_FRAME_VERDICT_COUNT; v++)
		if ((v >= DVMQ_FRAME_FIRST_UNSUPPORTED) == unsupported)
			json_object_set_new(o, dvmq_frame_verdict_name((enum dvmq_frame_verdict)v),
					    json_integer((json_int_t)res->verdict[v]));
	return o;
}

static int print_json(const char *name, const struct dvmq_run_result *res)
{
	json_t *j = dvmq_report_json(name, &res->r, 1);
	json_t *pol = j ? json_object_get(json_object_get(j, "policies"), dvmq_policy_name(res->r.policy)) : NULL;
	int rc = -ENOMEM;
	if (pol) {
		json_object_set_new(pol, "offered", json_integer((json_int_t)res->r.offered));
		json_object_set_new(pol, "backlog_end", json_integer((json_int_t)res->r.backlog_end));
		json_object_set_new(pol, "reordered", json_integer((json_int_t)res->reordered));
		json_object_set_new(pol, "lost", json_integer((json_int_t)res->lost));
		json_object_set_new(pol, "flows",
				    json_pack("{s:I, s:I, s:I, s:I}", "checked", (json_int_t)res->flows, "reordered",
					      (json_int_t)res->flows_reordered, "missing", (json_int_t)res->flows_missing,
					      "unexplained", (json_int_t)res->flows_unexplained));
		json_t *why = json_object();
		for (unsigned m = 0; why && m < DVMQ_REASON_COUNT; m++)
			json_object_set_new(why, dvmq_reason_name((enum dvmq_reason)m),
					    json_integer((json_int_t)res->moves_by_reason[m]));
		json_object_set_new(pol, "moves_by_reason", why);
		json_object_set_new(pol, "malformed", verdicts_json(res, false));
		json_object_set_new(pol, "unsupported", verdicts_json(res, true));
		json_object_set_new(j, "host",
				    json_pack("{s:i, s:i, s:f, s:f, s:i, s:i, s:s}", "processors", (json_int_t)res->processors,
					      "scenario_processors", (json_int_t)res->scenario_processors, "rate_scale",
					      res->rate_scale, "work_ns_per_byte", res->work_ns_per_byte, "awake_end",
					      (json_int_t)res->awake_end, "parked_end", (json_int_t)res->parked_end, "load",
					      res->virtual_cost ? "virtual-cost" : res->own_load ? "own" : "proc-stat"));
		json_object_set_new(j, "daemon",
				    json_pack("{s:I, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I}, s:I, s:I}", "vm_frames",
					      (json_int_t)res->vm_frames, "vm_fates", "forwarded", (json_int_t)res->vm_forwarded,
					      "dropped", (json_int_t)res->vm_dropped, "detached", (json_int_t)res->vm_detached,
					      "lost", (json_int_t)res->vm_lost, "ports_dropped", "rx",
					      (json_int_t)res->port_rx_dropped, "tx", (json_int_t)res->port_tx_dropped, "reloads",
					      (json_int_t)res->reloads, "reloads_refused", (json_int_t)res->reloads_refused));
		if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) == 0) {
			fputc('\n', stdout);
			rc = 0;
		}
	}
	json_decref(j);
	return rc;
}

static void print_table(const char *name, const struct dvmq_run_result *res)
{
	dvmq_report_table_as(stdout, name, "on the real data plane", &res->r, 1); /* not simulated */
	printf("data plane: %u processors (scenario %u, loads x%.3f), %u awake and %u parked at the end; "
	       "reordered %llu; lost %llu; flows %llu, %llu reordered, %llu frames missing, %llu unexplained",
	       res->processors, res->scenario_processors, res->rate_scale, res->awake_end, res->parked_end,
	       (unsigned long long)res->reordered, (unsigned long long)res->lost, (unsigned long long)res->flows,
	       (unsigned long long)res->flows_reordered, (unsigned long long)res->flows_missing,
	       (unsigned long long)res->flows_unexplained);
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++)
		if (res->verdict[v])
			printf("; %s %llu", dvmq_frame_verdict_name((enum dvmq_frame_verdict)v),
			       (unsigned long long)res->verdict[v]);
	putchar('\n');
}

static int parse_level(const char *v)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	for (int i = 0; i < 4; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return -2;
}

struct run_args {
	const char *policy, *duration, *cpus, *config, *socket, *metrics, *log_level;
	bool json, quiet, check, own_load, virtual_cost, run_to_completion;
	char *sets[64];
	size_t n_sets;
};

static int parse_args(int argc, char **argv, struct run_args *a)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },   { "json", no_argument, NULL, 'j' },
		{ "set", required_argument, NULL, 's' },      { "duration", required_argument, NULL, 'd' },
		{ "cpus", required_argument, NULL, 'c' },     { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },	      { "config", required_argument, NULL, 'C' },
		{ "check", no_argument, NULL, 'k' },	      { "socket", required_argument, NULL, 'S' },
		{ "metrics", required_argument, NULL, 'M' },  { "log-level", required_argument, NULL, 'L' },
		{ "own-load", no_argument, NULL, 'O' },       { "virtual-cost", no_argument, NULL, 'V' },
		{ "run-to-completion", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': a->policy = optarg; break;
		case 'j': a->json = true; break;
		case 'd': a->duration = optarg; break;
		case 'c': a->cpus = optarg; break;
		case 'q': a->quiet = true; break;
		case 's':
			if (a->n_sets == 64) {
				fprintf(stderr, "dvmq run: too many --set\n");
				return 2;
			}
			a->sets[a->n_sets++] = optarg;
			break;
		case 'C': a->config = optarg; break;
		case 'k': a->check = true; break;
		case 'S': a->socket = optarg; break;
		case 'M': a->metrics = optarg; break;
		case 'L': a->log_level = optarg; break;
		case 'O': a->own_load = true; break;
		case 'V': a->virtual_cost = true; break;
		case 'R': a->run_to_completion = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (a->log_level && parse_level(a->log_level) < 0) {
		fprintf(stderr, "dvmq run: bad --log-level '%s' (error, warning, info or debug)\n", a->log_level);
		return 2;
	}
	return -1;
}

/* The scenario as a config: SCENARIO (or the embedded default) with --policy and --set. */
static int scenario_config(int argc, char **argv, const struct run_args *a, struct dvmq_config **out,
			   char *name, size_t name_len)
{
	if (argc - optind > 1) {
		fprintf(stderr, "dvmq run: one SCENARIO only\n");
		usage(stderr);
		return 2;
	}
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag diag = { { 0 } };
	if (optind < argc) {
		if (cli_load_scenario(argv[optind], &s))
			return 2;
	} else if (dvmq_scenario_load_text("default (embedded)", (const char *)cli_default_scenario, NULL, &s, &diag)) {
		fprintf(stderr, "dvmq run: embedded default: %s\n", diag.msg);
		return 1;
	}
	int code = 2;
	if (cli_apply_sets("dvmq run", &s->params, (char **)(uintptr_t)a->sets, a->n_sets))
		goto err;
	if (a->policy && dvmq_policy_parse(a->policy, &s->params.policy)) {
		fprintf(stderr, "dvmq run: unknown policy '%s' (none, static, dynamic, ovs-alb, adaptive, rsspp, "
				"irqbalance)\n", a->policy);
		goto err;
	}
	snprintf(name, name_len, "%s", s->name);
	code = dvmq_config_from_scenario(s, out) ? 1 : 0;
	if (code) {
		fprintf(stderr, "dvmq run: out of memory\n");
		goto err;
	}
	return 0;
err:
	dvmq_scenario_free(s);
	return code;
}

static int file_config(const struct run_args *a, struct dvmq_config **out)
{
	struct dvmq_diag diag = { { 0 } };
	int rc = dvmq_config_load(a->config, out, &diag);
	if (rc)
		fprintf(stderr, "dvmq run: %s\n", rc == -ENOMEM ? "out of memory" : diag.msg);
	return rc == 0 ? 0 : rc == -ENOMEM ? 1 : 2;
}

int cmd_run(int argc, char **argv)
{
	struct run_args a = { 0 };
	int code = parse_args(argc, argv, &a);
	if (code >= 0)
		return code;
	struct dvmq_run_options o = { .log = stderr, .version = DVMQ_VERSION, .socket = a.socket, .metrics = a.metrics,
				   .own_load = a.own_load, .virtual_cost = a.virtual_cost,
				   .run_to_completion = a.run_to_completion };
	if (a.config || a.check) {
		if (!a.config) {
			fprintf(stderr, "dvmq run: --check needs --config FILE\n");
			return 2;
		}
		if (optind < argc) {
			fprintf(stderr, "dvmq run: --config FILE and SCENARIO exclude each other (a config plays a "
					"scenario with [uplink] port = gen)\n");
			return 2;
		}
		if (a.policy || a.duration || a.cpus || a.n_sets || a.quiet) {
			fprintf(stderr, "dvmq run: --policy, --set, --duration, --cpus and --quiet are for a scenario; "
					"with --config they are keys of FILE\n");
			return 2;
		}
		if (a.check && (a.socket || a.metrics || a.log_level || a.own_load || a.virtual_cost || a.run_to_completion)) {
			fprintf(stderr, "dvmq run: --check starts nothing: --socket, --metrics, --log-level, --own-load, "
					"--virtual-cost and --run-to-completion are for running\n");
			return 2;
		}
		if (a.check)
			return cli_check_config(a.config, a.json);
	} else if (a.run_to_completion) {
		fprintf(stderr, "dvmq run: --run-to-completion is for --config (a scenario's uplink is the generator, "
				"which has no thread to serve a processor's queues)\n");
		return 2;
	}
	if (a.duration && cli_parse_duration(a.duration, &o.duration_ns)) {
		fprintf(stderr, "dvmq run: bad --duration '%s' (want e.g. 20s)\n", a.duration);
		return 2;
	}
	uint32_t max_cpus = 0;
	if (a.cpus) {
		char *end;
		long n = strtol(a.cpus, &end, 10);
		if (*a.cpus == '\0' || *end != '\0' || n < 1 || n > 4096) {
			fprintf(stderr, "dvmq run: bad --cpus '%s' (want 1..4096)\n", a.cpus);
			return 2;
		}
		max_cpus = (uint32_t)n;
	}
	struct dvmq_config *c = NULL;
	char name[128] = "";
	code = a.config ? file_config(&a, &c) : scenario_config(argc, argv, &a, &c, name, sizeof(name));
	if (code)
		return code;
	struct dvmq_config_cpus cpus = { 0 };
	code = cli_config_machine(c, max_cpus, &cpus);
	if (code) {
		dvmq_config_free(c);
		return code;
	}
	o.log_level = a.log_level ? parse_level(a.log_level) : a.config ? DVMQ_RUN_LOG_FROM_CONFIG : 1 /* warning */;
	if (a.config) {
		o.control = true;
		o.reload_path = a.config;
	} else {
		/* a scenario is an experiment: it serves dvmqctl and the page only when asked to */
		o.control = a.socket != NULL;
		o.metrics = a.metrics ? a.metrics : "off";
		if (!o.duration_ns)
			o.duration_ns = c->uplink.scenario->host.duration_ns;
		o.name = name;
		if (!a.quiet) {
			o.live = a.json ? stderr : stdout;
			o.live_redraw = isatty(fileno(o.live)) == 1;
		}
	}
	struct dvmq_run_result res;
	struct dvmq_diag diag = { { 0 } };
	int rc = dvmq_run(c, &cpus, &o, &res, &diag); /* takes c */
	dvmq_config_cpus_free(&cpus);
	if (rc) {
		fprintf(stderr, "dvmq run: %s\n", diag.msg[0] ? diag.msg : strerror(-rc));
		return rc == -EINVAL ? 2 : 1;
	}
	if (a.json)
		return print_json(a.config ? a.config : name, &res) ? 1 : 0;
	if (!a.config)
		print_table(name, &res);
	return 0;
}
