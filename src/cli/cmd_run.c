/* `dvmq run`: a scenario on the real data plane, with a live view and the simulator's report. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dvmq/report.h"
#include "dvmq/run.h"

static void usage(FILE *f)
{
	fputs("usage: dvmq run [SCENARIO] [--policy NAME] [--set PARAM=VALUE]... [--duration TIME]\n"
	      "                [--cpus N] [--json] [--quiet]\n"
	      "       dvmq run --config FILE --check [--json]\n"
	      "\n"
	      "Runs SCENARIO (a file, or a name in scenarios/ without .ini; default: the embedded\n"
	      "scenarios/default) on the real data plane: the built-in generator sends the scenario's\n"
	      "frames, one pinned worker per CPU serves the queues, the engine moves them. No root.\n"
	      "A scenario with more processors than this machine is capped to its CPUs and its offered\n"
	      "loads are scaled by the same ratio (a note says so).\n"
	      "  --policy NAME   none, static, dynamic, ovs-alb or adaptive (default: the scenario's)\n"
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
	      "Exit: 0 ok, 1 run failed, 2 bad usage, bad scenario or bad config (the message names\n"
	      "file:line).\n",
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
		json_object_set_new(pol, "malformed", verdicts_json(res, false));
		json_object_set_new(pol, "unsupported", verdicts_json(res, true));
		json_object_set_new(j, "host",
				    json_pack("{s:i, s:i, s:f, s:f, s:i, s:i}", "processors", (json_int_t)res->processors,
					      "scenario_processors", (json_int_t)res->scenario_processors, "rate_scale",
					      res->rate_scale, "work_ns_per_byte", res->work_ns_per_byte, "awake_end",
					      (json_int_t)res->awake_end, "parked_end", (json_int_t)res->parked_end));
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
	dvmq_report_table(stdout, name, &res->r, 1);
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

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' }, { "json", no_argument, NULL, 'j' },
		{ "set", required_argument, NULL, 's' },    { "duration", required_argument, NULL, 'd' },
		{ "cpus", required_argument, NULL, 'c' },   { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },	    { "config", required_argument, NULL, 'C' },
		{ "check", no_argument, NULL, 'k' },	    { NULL, 0, NULL, 0 },
	};
	const char *policy = NULL, *duration_s = NULL, *cpus_s = NULL, *config = NULL;
	bool json = false, quiet = false, check = false;
	char *sets[64];
	size_t n_sets = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy = optarg; break;
		case 'j': json = true; break;
		case 'd': duration_s = optarg; break;
		case 'c': cpus_s = optarg; break;
		case 'q': quiet = true; break;
		case 's':
			if (n_sets == 64) {
				fprintf(stderr, "dvmq run: too many --set\n");
				return 2;
			}
			sets[n_sets++] = optarg;
			break;
		case 'C': config = optarg; break;
		case 'k': check = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (config || check) {
		if (!config) {
			fprintf(stderr, "dvmq run: --check needs --config FILE\n");
			return 2;
		}
		if (optind < argc) {
			fprintf(stderr, "dvmq run: --config FILE and SCENARIO exclude each other (a config plays a "
					"scenario with [uplink] port = gen)\n");
			return 2;
		}
		if (policy || duration_s || cpus_s || n_sets || quiet) {
			fprintf(stderr, "dvmq run: --policy, --set, --duration, --cpus and --quiet are for a scenario; "
					"with --config they are keys of FILE\n");
			return 2;
		}
		return cli_run_config(config, check, json);
	}
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
	struct dvmq_engine_params params = s->params;
	struct dvmq_run_options o = { 0 };
	int exit_code = 2;
	if (cli_apply_sets("dvmq run", &params, sets, n_sets))
		goto out;
	if (policy && dvmq_policy_parse(policy, &params.policy)) {
		fprintf(stderr, "dvmq run: unknown policy '%s' (none, static, dynamic, ovs-alb, adaptive)\n", policy);
		goto out;
	}
	if (duration_s && cli_parse_duration(duration_s, &o.duration_ns)) {
		fprintf(stderr, "dvmq run: bad --duration '%s' (want e.g. 20s)\n", duration_s);
		goto out;
	}
	if (cpus_s) {
		char *end;
		long n = strtol(cpus_s, &end, 10);
		if (*cpus_s == '\0' || *end != '\0' || n < 1 || n > 4096) {
			fprintf(stderr, "dvmq run: bad --cpus '%s' (want 1..4096)\n", cpus_s);
			goto out;
		}
		o.max_cpus = (uint32_t)n;
	}
	o.params = &params;
	o.notes = stderr;
	if (!quiet) {
		o.live = json ? stderr : stdout;
		o.live_redraw = isatty(fileno(o.live)) == 1;
	}
	struct dvmq_run_result res;
	int rc = dvmq_run(s, &o, &res, &diag);
	if (rc) {
		fprintf(stderr, "dvmq run: %s\n", diag.msg[0] ? diag.msg : strerror(-rc));
		exit_code = rc == -EINVAL ? 2 : 1;
		goto out;
	}
	exit_code = 0;
	if (json)
		exit_code = print_json(s->name, &res) ? 1 : 0;
	else
		print_table(s->name, &res);
out:
	dvmq_scenario_free(s);
	return exit_code;
}
