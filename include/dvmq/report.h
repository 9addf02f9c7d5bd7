/* Reports of simulator and data-plane runs: a human table, JSON, a gnuplot plot.
 * The JSON field names are part of the CLI contract (README "Output"). */
#ifndef DVMQ_REPORT_H
#define DVMQ_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "dvmq/metrics.h"

/* {"scenario": S, "policies": {NAME: {...}}, "oracle": {...}}; NULL when out of memory.
 * The caller owns the reference. */
json_t *dvmq_report_json(const char *scenario, const struct dvmq_result *res, size_t n);
/* One row per policy, with a header; oracle bounds underneath. */
void dvmq_report_table(FILE *f, const char *scenario, const struct dvmq_result *res, size_t n);
/* Writes a gnuplot script that draws csv_dir's series for `policy` (processor load with moves
 * marked) and every policy's awake processors against the oracle into svg_path, then runs
 * gnuplot. Returns 0, -ENOENT (gnuplot missing), -EIO (gnuplot failed). */
int dvmq_report_plot(const char *csv_dir, const char *const *policies, size_t n_policies,
		     const char *focus_policy, uint32_t n_processors, const char *svg_path);

#endif
