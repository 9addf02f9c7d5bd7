/* Reports of simulator and data-plane runs: a human table, JSON, a gnuplot plot.
 * The JSON field names are part of the CLI contract (README "Output"). */
#ifndef DVMQ_REPORT_H
#define DVMQ_REPORT_H

#include <jansson.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#include "dvmq/metrics.h"

/* {"scenario": S, "policies": {NAME: {...}}, "oracle": {...}}; NULL when out of memory.
 * The caller owns the reference. */
json_t *dvmq_report_json(const char *scenario, const struct dvmq_result *res, size_t n);
/* One row per policy, with a header; oracle bounds underneath. */
void dvmq_report_table(FILE *f, const char *scenario, const struct dvmq_result *res, size_t n);
/* What dvmq_report_plot draws from a run's CSV series (dvmq_sim_sinks, written into csv_dir as
 * POLICY-{load,moves,awake}.csv). */
struct dvmq_plot {
	const char *csv_dir;
	const char *const *policies; /* every policy run, for the awake and drops panels */
	size_t n_policies;
	const char *focus;           /* the policy whose processor loads and moves are drawn */
	uint32_t n_processors;
	const char *title;           /* e.g. "sim default": the picture's title follows "dvmq " */
	const char *out_path;        /* FILE.svg or FILE.png */
	bool no_oracle;              /* the awake series has no oracle column worth drawing (a daemon's
	                              * history): the panel shows awake processors alone */
	const char *const *labels;   /* the key's text per policy (NULL, or NULL entries: its name),
	                              * e.g. "ovs-alb (no move: it re-plans at most every 60s)" */
};

/* Whether out_path can be plotted to: .svg or .png, no line break, its directory exists and
 * this process may write there. Checked before a run, so that a long run does not end in
 * "gnuplot: system error". Returns 0 or -EINVAL/-ENOENT/-EACCES with err saying which. */
int dvmq_report_plot_check(const char *out_path, char *err, size_t err_len);

/* Draws three panels into out_path: each processor's load under `focus` (one line per
 * processor) with its moves marked, awake processors per policy against the oracle, and drops
 * per second per policy. Writes csv_dir/plot.gp and runs gnuplot on it without a shell (paths are
 * quoted inside the script), its output in csv_dir/gnuplot.log. Returns 0, -EINVAL (out_path
 * not .svg or .png, or a path or title with a line break: err says which), -ENOENT (gnuplot not
 * installed), -EIO (gnuplot failed: err holds its first error line), or another negative errno
 * from writing the script. err (may be NULL) gets a message. */
int dvmq_report_plot(const struct dvmq_plot *p, char *err, size_t err_len);

#endif
