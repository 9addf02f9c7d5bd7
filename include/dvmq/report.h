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
/* One policy's result as the object dvmq_report_json puts under its name; NULL when out of
 * memory. The caller owns the reference. */
json_t *dvmq_report_result_json(const struct dvmq_result *r);
/* One row per policy, with a header; oracle bounds underneath. */
void dvmq_report_table(FILE *f, const char *scenario, const struct dvmq_result *res, size_t n);
/* The same with the header's word for the run: "simulated" (sim), "on the real data plane" (run). */
void dvmq_report_table_as(FILE *f, const char *scenario, const char *how, const struct dvmq_result *res, size_t n);
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
	bool no_oracle;              /* the awake series has no oracle nor latency worth drawing (a
	                              * daemon's history): three panels, awake processors alone */
	const char *const *labels;   /* the key's text per policy (NULL, or NULL entries: its name),
	                              * e.g. "ovs-alb (no move: it re-plans at most every 60s)" */
	const char *const *group_vms; /* VMs with max-queues > 1 (a panel of their group sizes under
	                               * `focus`, from FOCUS-groups.csv); may be NULL */
	size_t n_group_vms;
};

/* Whether out_path can be plotted to: .svg or .png, no line break, its directory exists and
 * this process may write there. Checked before a run, so that a long run does not end in
 * "gnuplot: system error". Returns 0 or -EINVAL/-ENOENT/-EACCES with err saying which. */
int dvmq_report_plot_check(const char *out_path, char *err, size_t err_len);

/* Draws four panels into out_path: each processor's load under `focus` (one line per
 * processor) with its moves marked, awake processors per policy against the oracle, drops per
 * second per policy, and each interval's p99 latency per policy (log scale); a fifth with the
 * group size of each VM of group_vms (the first 16) when there are any. Writes csv_dir/plot.gp
 * and runs gnuplot on it without a shell (paths are
 * quoted inside the script), its output in csv_dir/gnuplot.log. Returns 0, -EINVAL (out_path
 * not .svg or .png, or a path or title with a line break: err says which), -ENOENT (gnuplot not
 * installed), -EIO (gnuplot failed: err holds its first error line), or another negative errno
 * from writing the script. err (may be NULL) gets a message. */
int dvmq_report_plot(const struct dvmq_plot *p, char *err, size_t err_len);

/* What dvmq_report_sweep_plot draws: csv_dir holds sweep.csv (one row per value swept) and
 * peers.csv (one row per peer at its defaults), each `label,awake,p99_us,drop_pct`. */
struct dvmq_sweep_plot {
	const char *csv_dir;
	const char *policy;   /* the policy swept */
	const char *param;    /* e.g. "pack=75%..95%:2%" */
	const char *title;    /* e.g. the scenario's name */
	const char *out_path; /* FILE.svg or FILE.png */
};

/* Draws two panels into out_path: p99 latency (log scale) and drops, each against mean awake
 * processors, the sweep as a line with each point's value and every peer as a labelled point.
 * Returns as dvmq_report_plot. */
int dvmq_report_sweep_plot(const struct dvmq_sweep_plot *p, char *err, size_t err_len);

#endif
