/* `dvmq sim`: run a scenario under one policy or all of them and report. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dvmq/report.h"
#include "dvmq/scenario.h"
#include "dvmq/sim.h"
#include "dvmq/units.h"

static void usage(FILE *f)
{
	fputs("usage: dvmq sim SCENARIO [--policy NAME|all] [--set PARAM=VALUE]... [--duration TIME]\n"
	      "                [--json] [--csv DIR] [--plot FILE.svg|FILE.png]\n"
	      "       dvmq sim SCENARIO --sweep PARAM=A..B[:STEP] [--policy NAME] [--set PARAM=VALUE]...\n"
	      "                [--duration TIME] [--json] [--csv DIR] [--plot FILE.svg|FILE.png]\n"
	      "\n"
	      "Runs SCENARIO (a file, or a name in scenarios/ without .ini) on the simulated host.\n"
	      "  --policy NAME   none, static, dynamic, ovs-alb, adaptive, rsspp, irqbalance, or all\n"
	      "                  (default: the scenario's [engine] policy, adaptive unless it says\n"
	      "                  otherwise)\n"
	      "  --set P=V       override an engine parameter (high, low, ewma, dwell, return-guard,\n"
	      "                  return-window, min-gain, floor, pack, coalesce-rounds, peak-halflife,\n"
	      "                  peak-hold, ovs-threshold, ovs-history, ovs-interval, ovs-improvement,\n"
	      "                  rsspp-target, rsspp-imbalance, rsspp-autoscale, irqbalance-interval,\n"
	      "                  irqbalance-powerthresh); repeatable\n"
	      "  --duration T    simulate T (30s, 2min; a bare number is seconds) instead of the\n"
	      "                  scenario's duration\n"
	      "  --json          print one JSON object instead of the table\n"
	      "  --csv DIR       write time series: DIR/POLICY-{processors,load,vms,moves,awake,\n"
	      "                  groups,buckets}.csv (groups, buckets: VMs with max_queues > 1)\n"
	      "  --plot FILE     draw each processor's load with the moves, awake processors against\n"
	      "                  the oracle, drops per second, each interval's p99 latency, and the\n"
	      "                  size of each VM's queue group (VMMQ) when there are any (FILE.svg\n"
	      "                  or FILE.png; needs gnuplot)\n"
	      "  --sweep P=A..B[:STEP]  run the policy (default: the scenario's) once per value of\n"
	      "                  parameter P from A to B (STEP: a quarter of the range), every other\n"
	      "                  policy once beside it: a table of awake processors, drops and p99 per\n"
	      "                  point; --csv DIR writes DIR/sweep.csv and DIR/peers.csv, --plot draws\n"
	      "                  p99 and drops against mean awake processors\n"
	      "Exit: 0 ok, 1 run failed, 2 bad usage or bad scenario.\n",
	      f);
}

static FILE *open_series(const char *dir, const char *policy, const char *what)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s-%s.csv", dir, policy, what);
	return fopen(path, "w");
}

static int run_one(const struct dvmq_scenario *s, const struct dvmq_engine_params *params,
		   uint64_t duration, const char *csv_dir, struct dvmq_result *res)
{
	struct dvmq_sim_sinks sinks = { 0 };
	const char *pol = dvmq_policy_name(params->policy);
	int rc = 0;
	if (csv_dir) {
		sinks.processors = open_series(csv_dir, pol, "processors");
		sinks.load = open_series(csv_dir, pol, "load");
		sinks.vms = open_series(csv_dir, pol, "vms");
		sinks.moves = open_series(csv_dir, pol, "moves");
		sinks.awake = open_series(csv_dir, pol, "awake");
		sinks.groups = open_series(csv_dir, pol, "groups");
		sinks.buckets = open_series(csv_dir, pol, "buckets");
		if (!sinks.processors || !sinks.load || !sinks.vms || !sinks.moves || !sinks.awake || !sinks.groups ||
		    !sinks.buckets) {
			fprintf(stderr, "dvmq sim: cannot write CSV files in %s: %s\n", csv_dir, strerror(errno));
			rc = -EIO;
		}
	}
	struct dvmq_diag diag = { { 0 } };
	if (rc == 0) {
		rc = dvmq_sim_run_for(s, params, duration, csv_dir ? &sinks : NULL, res, &diag);
		if (rc)
			fprintf(stderr, "dvmq sim: %s\n", diag.msg[0] ? diag.msg : strerror(-rc));
	}
	FILE *all[] = { sinks.processors, sinks.load, sinks.vms, sinks.moves, sinks.awake, sinks.groups, sinks.buckets };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] && fclose(all[i]) != 0 && rc == 0) {
			fprintf(stderr, "dvmq sim: writing CSV in %s failed\n", csv_dir);
			rc = -EIO;
		}
	return rc;
}

int cmd_sim(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' }, { "json", no_argument, NULL, 'j' },
		{ "csv", required_argument, NULL, 'c' },    { "plot", required_argument, NULL, 'P' },
		{ "set", required_argument, NULL, 's' },    { "duration", required_argument, NULL, 'd' },
		{ "sweep", required_argument, NULL, 'S' },  { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *policy = NULL, *csv_dir = NULL, *plot = NULL, *duration_s = NULL, *sweep = NULL;
	bool json = false;
	char *sets[64];
	size_t n_sets = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy = optarg; break;
		case 'j': json = true; break;
		case 'c': csv_dir = optarg; break;
		case 'P': plot = optarg; break;
		case 'd': duration_s = optarg; break;
		case 'S': sweep = optarg; break;
		case 's':
			if (n_sets == 64) {
				fprintf(stderr, "dvmq sim: too many --set\n");
				return 2;
			}
			sets[n_sets++] = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "dvmq sim: %s\n", optind >= argc ? "missing SCENARIO" : "one SCENARIO only");
		usage(stderr);
		return 2;
	}
	struct dvmq_scenario *s = NULL;
	int rc = cli_load_scenario(argv[optind], &s);
	if (rc)
		return 2;
	struct dvmq_engine_params base = s->params;
	if (cli_apply_sets("dvmq sim", &base, sets, n_sets))
		goto usage_err;
	if (plot) {
		/* before the run: a path that cannot be written must not end a long run in a failure */
		char err[600];
		if (dvmq_report_plot_check(plot, err, sizeof(err)) != 0) {
			fprintf(stderr, "dvmq sim: --plot %s\n", err);
			goto usage_err;
		}
	}
	uint64_t duration = s->host.duration_ns;
	if (duration_s && cli_parse_duration(duration_s, &duration)) {
		fprintf(stderr, "dvmq sim: bad --duration '%s' (want e.g. 30s, or 30 for seconds)\n", duration_s);
		goto usage_err;
	}
	enum dvmq_policy list[DVMQ_POLICY_COUNT];
	size_t n = 0;
	if (sweep && policy && strcmp(policy, "all") == 0) {
		fprintf(stderr, "dvmq sim: --sweep runs one policy (its peers run beside it): not --policy all\n");
		goto usage_err;
	}
	if (policy && strcmp(policy, "all") == 0) {
		for (unsigned i = 0; i < DVMQ_POLICY_COUNT; i++)
			list[n++] = (enum dvmq_policy)i;
	} else if (policy) {
		if (dvmq_policy_parse(policy, &list[0])) {
			fprintf(stderr, "dvmq sim: unknown policy '%s' (none, static, dynamic, ovs-alb, "
					"adaptive, rsspp, irqbalance, all)\n", policy);
			goto usage_err;
		}
		n = 1;
	} else {
		list[n++] = base.policy;
	}
	if (sweep) {
		int code = cli_sweep(s, &base, list[0], sweep, duration, json, csv_dir, plot);
		dvmq_scenario_free(s);
		return code;
	}
	char tmpdir[] = "/tmp/dvmq-plot.XXXXXX";
	bool own_dir = false;
	if (plot && !csv_dir) {
		csv_dir = mkdtemp(tmpdir);
		own_dir = csv_dir != NULL;
		if (!csv_dir) {
			fprintf(stderr, "dvmq sim: cannot make a temporary directory: %s\n", strerror(errno));
			dvmq_scenario_free(s);
			return 1;
		}
	} else if (csv_dir && mkdir(csv_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "dvmq sim: cannot create %s: %s\n", csv_dir, strerror(errno));
		dvmq_scenario_free(s);
		return 1;
	}
	struct dvmq_result res[DVMQ_POLICY_COUNT];
	const char *names[DVMQ_POLICY_COUNT];
	int exit_code = 0;
	for (size_t i = 0; i < n && exit_code == 0; i++) {
		struct dvmq_engine_params p = base;
		p.policy = list[i];
		names[i] = dvmq_policy_name(list[i]);
		if (run_one(s, &p, duration, csv_dir, &res[i]) != 0)
			exit_code = 1;
	}
	if (exit_code == 0) {
		if (json) {
			json_t *j = dvmq_report_json(s->name, res, n);
			if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0)
				exit_code = 1;
			else
				fputc('\n', stdout);
			json_decref(j);
		} else {
			dvmq_report_table(stdout, s->name, res, n);
		}
	}
	if (exit_code == 0 && plot) {
		const char *focus = n > 1 ? dvmq_policy_name(DVMQ_POLICY_ADAPTIVE) : names[0];
		/* a policy that never moved says why in the key (ovs-alb re-plans at most every
		 * ovs-interval: a run shorter than that is static's run, drawn on top of it) */
		char notes[DVMQ_POLICY_COUNT][160], title[300];
		const char *labels[DVMQ_POLICY_COUNT];
		for (size_t i = 0; i < n; i++) {
			labels[i] = names[i];
			if (list[i] == DVMQ_POLICY_OVS_ALB && res[i].moves == 0) {
				char iv[32];
				dvmq_units_time_format(base.ovs_interval_ns, iv, sizeof(iv));
				snprintf(notes[i], sizeof(notes[i]), "ovs-alb (no move: it re-plans at most every %s)", iv);
				labels[i] = notes[i];
			}
		}
		snprintf(title, sizeof(title), "sim %s", s->name);
		struct dvmq_plot pl = { .csv_dir = csv_dir, .policies = names, .n_policies = n, .focus = focus,
					.n_processors = s->host.n_processors, .title = title, .out_path = plot,
					.labels = labels };
		/* the VMs with queue groups, for the group-size panel */
		const char **gv = calloc(s->n_vms ? s->n_vms : 1, sizeof(*gv));
		for (size_t v = 0; gv && v < s->n_vms; v++)
			if (s->vms[v].adapter.max_queues > 1)
				gv[pl.n_group_vms++] = s->vms[v].name;
		pl.group_vms = gv;
		char err[600];
		rc = gv ? dvmq_report_plot(&pl, err, sizeof(err)) : -ENOMEM;
		if (!gv)
			snprintf(err, sizeof(err), "out of memory");
		free(gv);
		if (rc) {
			fprintf(stderr, "dvmq sim: plot failed: %s\n", err);
			exit_code = rc == -EINVAL ? 2 : 1;
		} else if (!json) {
			printf("plot: %s\n", plot);
		}
	}
	if (own_dir)
		cli_remove_dir(csv_dir);
	dvmq_scenario_free(s);
	return exit_code;
usage_err:
	dvmq_scenario_free(s);
	return 2;
}
