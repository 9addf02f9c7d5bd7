/* `dvmq sim SCENARIO --sweep PARAM=A..B[:STEP]`: one policy run once per value of one engine
 * parameter, every other policy once at the same settings beside it (the peers): a table or JSON,
 * the points as CSV (sweep.csv, peers.csv) and a plot of p99 latency and drops against mean awake
 * processors. Values are validated before anything runs (a bad one exits 2 naming it). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dvmq/report.h"
#include "dvmq/sim.h"
#include "dvmq/units.h"

#define SWEEP_MAX_POINTS 64

enum sweep_kind { K_TIME, K_FRAC, K_COUNT };

struct sweep {
	char name[64];
	enum sweep_kind kind;
	size_t n;
	char text[SWEEP_MAX_POINTS][48]; /* each value as the parameter takes it */
	struct dvmq_engine_params params[SWEEP_MAX_POINTS];
};

/* The kind of a numeric parameter, found through the public setter: a malformed value is -EINVAL,
 * an out-of-range one -ERANGE. Returns 0, or -ENOENT (unknown) / -EINVAL (not numeric). */
static int param_kind(const struct dvmq_engine_params *base, const char *name, enum sweep_kind *k)
{
	struct dvmq_engine_params p = *base;
	if (strcmp(name, "policy") == 0)
		return -EINVAL;
	int rc = dvmq_engine_param_set(&p, name, "1ms");
	if (rc == -ENOENT)
		return -ENOENT;
	if (rc != -EINVAL) {
		*k = K_TIME;
		return 0;
	}
	p = *base;
	if (dvmq_engine_param_set(&p, name, "50%") != -EINVAL) {
		*k = K_FRAC;
		return 0;
	}
	*k = K_COUNT;
	return 0;
}

static int parse_value(enum sweep_kind k, const char *s, double *v)
{
	uint64_t u;
	int rc;
	switch (k) {
	case K_TIME:
		rc = dvmq_units_time_ns(s, &u);
		*v = (double)u;
		return rc;
	case K_FRAC:
		return dvmq_units_fraction(s, v);
	case K_COUNT:
	default:
		rc = dvmq_units_count(s, &u);
		*v = (double)u;
		return rc;
	}
}

static void format_value(enum sweep_kind k, double v, char *buf, size_t len)
{
	switch (k) {
	case K_TIME:
		snprintf(buf, len, "%.0fns", v);
		break;
	case K_FRAC:
		snprintf(buf, len, "%.10g", v);
		break;
	case K_COUNT:
	default:
		snprintf(buf, len, "%.0f", v);
		break;
	}
}

/* Parses "PARAM=A..B[:STEP]" (STEP: a quarter of the range, whole for counts) into one parameter
 * set per value. Prints what is wrong; returns 0 or -1. */
static int sweep_parse(const char *spec, const struct dvmq_engine_params *base, struct sweep *sw)
{
	const char *eq = strchr(spec, '='), *dots = eq ? strstr(eq, "..") : NULL;
	if (!eq || !dots || eq == spec || (size_t)(eq - spec) >= sizeof(sw->name)) {
		fprintf(stderr, "dvmq sim: bad --sweep '%s' (want PARAM=A..B[:STEP], e.g. pack=75%%..95%%:5%%)\n", spec);
		return -1;
	}
	snprintf(sw->name, sizeof(sw->name), "%.*s", (int)(eq - spec), spec);
	int rc = param_kind(base, sw->name, &sw->kind);
	if (rc) {
		fprintf(stderr, "dvmq sim: --sweep: %s '%s'\n",
			rc == -ENOENT ? "unknown parameter" : "not a numeric parameter", sw->name);
		return -1;
	}
	char a[64], b[64], st[64] = "";
	const char *colon = strchr(dots + 2, ':');
	size_t la = (size_t)(dots - eq - 1), lb = colon ? (size_t)(colon - dots - 2) : strlen(dots + 2);
	if (la >= sizeof(a) || lb >= sizeof(b) || (colon && strlen(colon + 1) >= sizeof(st))) {
		fprintf(stderr, "dvmq sim: bad --sweep '%s': a value is too long\n", spec);
		return -1;
	}
	snprintf(a, sizeof(a), "%.*s", (int)la, eq + 1);
	snprintf(b, sizeof(b), "%.*s", (int)lb, dots + 2);
	if (colon)
		snprintf(st, sizeof(st), "%s", colon + 1);
	double va, vb, vs;
	if (parse_value(sw->kind, a, &va) || parse_value(sw->kind, b, &vb) || (colon && parse_value(sw->kind, st, &vs))) {
		fprintf(stderr, "dvmq sim: bad --sweep '%s': %s\n", spec,
			sw->kind == K_TIME ? "values are times such as 2s or 250ms"
			: sw->kind == K_FRAC ? "values are fractions such as 90% or 0.9"
					     : "values are whole numbers");
		return -1;
	}
	if (!colon)
		vs = sw->kind == K_COUNT ? fmax(1.0, round((vb - va) / 4.0)) : (vb - va) / 4.0;
	if (!(vb > va) || !(vs > 0.0)) {
		fprintf(stderr, "dvmq sim: bad --sweep '%s': want A < B and a positive STEP\n", spec);
		return -1;
	}
	sw->n = 0;
	for (double v = va; v <= vb + vs * 1e-6; v = va + vs * (double)sw->n) {
		if (sw->n == SWEEP_MAX_POINTS) {
			fprintf(stderr, "dvmq sim: bad --sweep '%s': more than %d values\n", spec, SWEEP_MAX_POINTS);
			return -1;
		}
		char *t = sw->text[sw->n];
		format_value(sw->kind, v, t, sizeof(sw->text[0]));
		sw->params[sw->n] = *base;
		const char *why = dvmq_engine_param_problem(&sw->params[sw->n], sw->name, t);
		if (why || dvmq_engine_param_set(&sw->params[sw->n], sw->name, t) != 0) {
			fprintf(stderr, "dvmq sim: --sweep %s=%s: %s\n", sw->name, t, why ? why : "refused");
			return -1;
		}
		/* the label the table and plot show: a percentage for a fraction, else the parameter's
		 * own format */
		if (sw->kind == K_FRAC)
			snprintf(t, sizeof(sw->text[0]), "%.6g%%", v * 100.0);
		else
			dvmq_engine_param_format(&sw->params[sw->n], sw->name, t, sizeof(sw->text[0]));
		sw->n++;
	}
	return 0;
}

static void row(FILE *f, const char *label, const struct dvmq_result *r)
{
	fprintf(f, "%-28s %7.2f %5.2f %9.4f %9.1f %9.1f %7llu %5llu %4llu\n", label, r->awake_processors_mean,
		r->awake_over_oracle, r->drop_ratio * 100.0, r->latency_p99_us, r->latency_p999_us,
		(unsigned long long)r->moves, (unsigned long long)r->returns_10s, (unsigned long long)r->pingpongs);
}

static int write_csv(const char *dir, const char *file, char labels[][48], const struct dvmq_result *r, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "dvmq sim: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	fputs("label,awake,p99_us,drop_pct,p999_us,moves,returns_10s\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s,%.4f,%.3f,%.6f,%.3f,%llu,%llu\n", labels[i], r[i].awake_processors_mean,
			r[i].latency_p99_us, r[i].drop_ratio * 100.0, r[i].latency_p999_us,
			(unsigned long long)r[i].moves, (unsigned long long)r[i].returns_10s);
	if (fclose(f) != 0) {
		fprintf(stderr, "dvmq sim: writing %s failed\n", path);
		return -1;
	}
	return 0;
}

static json_t *sweep_json(const struct dvmq_scenario *s, const struct sweep *sw, const char *spec,
			  enum dvmq_policy pol, const struct dvmq_result *pts, const struct dvmq_result *peers,
			  size_t n_peers)
{
	json_t *root = json_object(), *points = json_array(), *pj = json_object();
	if (!root || !points || !pj) {
		json_decref(root);
		json_decref(points);
		json_decref(pj);
		return NULL;
	}
	json_object_set_new(root, "scenario", json_string(s->name));
	json_object_set_new(root, "policy", json_string(dvmq_policy_name(pol)));
	json_object_set_new(root, "param", json_string(sw->name));
	json_object_set_new(root, "sweep", json_string(spec));
	json_object_set_new(root, "points", points);
	json_object_set_new(root, "peers", pj);
	bool ok = true;
	for (size_t i = 0; i < sw->n && ok; i++) {
		json_t *o = dvmq_report_result_json(&pts[i]);
		ok = o && json_object_set_new(o, "value", json_string(sw->text[i])) == 0 &&
		     json_array_append_new(points, o) == 0;
	}
	for (size_t i = 0; i < n_peers && ok; i++) {
		json_t *o = dvmq_report_result_json(&peers[i]);
		ok = o && json_object_set_new(pj, dvmq_policy_name(peers[i].policy), o) == 0;
	}
	if (ok && sw->n > 0)
		ok = json_object_set_new(root, "oracle",
					 json_pack("{s:f, s:I}", "processors_mean", pts[0].oracle_processors_mean,
						   "unavoidable_drops", (json_int_t)pts[0].oracle_unavoidable_drops)) == 0;
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int cli_sweep(const struct dvmq_scenario *s, const struct dvmq_engine_params *base, enum dvmq_policy pol,
	      const char *spec, uint64_t duration, bool json, const char *csv_dir, const char *plot)
{
	static struct sweep sw; /* large: not on the stack */
	if (sweep_parse(spec, base, &sw))
		return 2;
	if (plot) {
		const char *dot = strrchr(plot, '.');
		if (!dot || (strcmp(dot, ".svg") != 0 && strcmp(dot, ".png") != 0)) {
			fprintf(stderr, "dvmq sim: plot failed: %s: want a FILE.svg or FILE.png\n", plot);
			return 2;
		}
	}
	char tmpdir[] = "/tmp/dvmq-sweep.XXXXXX";
	bool own_dir = false;
	if (plot && !csv_dir) {
		csv_dir = mkdtemp(tmpdir);
		own_dir = csv_dir != NULL;
		if (!csv_dir) {
			fprintf(stderr, "dvmq sim: cannot make a temporary directory: %s\n", strerror(errno));
			return 1;
		}
	} else if (csv_dir && mkdir(csv_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "dvmq sim: cannot create %s: %s\n", csv_dir, strerror(errno));
		return 1;
	}
	static struct dvmq_result pts[SWEEP_MAX_POINTS], peers[DVMQ_POLICY_COUNT];
	static char labels[SWEEP_MAX_POINTS][48], peer_labels[DVMQ_POLICY_COUNT][48];
	size_t n_peers = 0;
	int exit_code = 0;
	struct dvmq_diag diag = { { 0 } };
	for (size_t i = 0; i < sw.n && exit_code == 0; i++) {
		sw.params[i].policy = pol;
		if (dvmq_sim_run_for(s, &sw.params[i], duration, NULL, &pts[i], &diag) != 0) {
			fprintf(stderr, "dvmq sim: %s\n", diag.msg[0] ? diag.msg : "run failed");
			exit_code = 1;
		}
		snprintf(labels[i], sizeof(labels[i]), "%s", sw.text[i]);
	}
	for (unsigned p = 0; p < DVMQ_POLICY_COUNT && exit_code == 0; p++) {
		if (p == pol)
			continue;
		struct dvmq_engine_params pp = *base;
		pp.policy = (enum dvmq_policy)p;
		if (dvmq_sim_run_for(s, &pp, duration, NULL, &peers[n_peers], &diag) != 0) {
			fprintf(stderr, "dvmq sim: %s\n", diag.msg[0] ? diag.msg : "run failed");
			exit_code = 1;
		}
		snprintf(peer_labels[n_peers], sizeof(peer_labels[0]), "%s", dvmq_policy_name((enum dvmq_policy)p));
		n_peers++;
	}
	if (exit_code == 0 && json) {
		json_t *j = sweep_json(s, &sw, spec, pol, pts, peers, n_peers);
		if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0)
			exit_code = 1;
		else
			fputc('\n', stdout);
		json_decref(j);
	} else if (exit_code == 0) {
		printf("sweep %s: %s over %s (%.1f s simulated each)\n", s->name, dvmq_policy_name(pol), spec,
		       sw.n ? pts[0].simulated_s : 0.0);
		printf("%-28s %7s %5s %9s %9s %9s %7s %5s %4s\n", "point", "awake", "x_orc", "drop%", "p99_us", "p999_us",
		       "moves", "ret", "pp");
		for (size_t i = 0; i < sw.n; i++) {
			char l[128];
			snprintf(l, sizeof(l), "%s %s=%s", dvmq_policy_name(pol), sw.name, sw.text[i]);
			row(stdout, l, &pts[i]);
		}
		for (size_t i = 0; i < n_peers; i++)
			row(stdout, peer_labels[i], &peers[i]);
		if (sw.n)
			printf("oracle: %.2f processors needed on average\n", pts[0].oracle_processors_mean);
	}
	if (exit_code == 0 && csv_dir &&
	    (write_csv(csv_dir, "sweep.csv", labels, pts, sw.n) || write_csv(csv_dir, "peers.csv", peer_labels, peers, n_peers)))
		exit_code = 1;
	if (exit_code == 0 && plot) {
		struct dvmq_sweep_plot pl = { .csv_dir = csv_dir, .policy = dvmq_policy_name(pol), .param = spec,
					      .title = s->name, .out_path = plot };
		char err[600];
		int rc = dvmq_report_sweep_plot(&pl, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "dvmq sim: plot failed: %s\n", err);
			exit_code = rc == -EINVAL ? 2 : 1;
		} else if (!json) {
			printf("plot: %s\n", plot);
		}
	}
	if (own_dir)
		cli_remove_dir(csv_dir);
	return exit_code;
}
