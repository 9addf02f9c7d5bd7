/* Reports: table and JSON (jansson). The plot is in plot.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/report.h"

static json_t *opt_real(bool has, double v)
{
	return has ? json_real(v) : json_null();
}

json_t *dvmq_report_result_json(const struct dvmq_result *r)
{
	return json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:f, s:o, s:o, "
			 "s:f, s:i, s:i, s:f, s:f, s:I}",
			 "delivered", (json_int_t)r->delivered, "dropped", (json_int_t)r->dropped,
			 "drop_ratio", r->drop_ratio, "latency_p50_us", r->latency_p50_us,
			 "latency_p99_us", r->latency_p99_us, "latency_p999_us", r->latency_p999_us,
			 "awake_processors_mean", r->awake_processors_mean, "awake_over_oracle",
			 r->awake_over_oracle, "busy_core_seconds", r->busy_core_seconds, "moves",
			 (json_int_t)r->moves, "pingpongs", (json_int_t)r->pingpongs, "returns_10s",
			 (json_int_t)r->returns_10s, "moves_per_queue_minute", r->moves_per_queue_minute,
			 "reaction_ms", opt_real(r->has_reaction, r->reaction_ms), "settle_ms",
			 opt_real(r->has_settle, r->settle_ms), "imbalance_mean", r->imbalance_mean,
			 "steps", (int)r->steps, "unanswered_steps", (int)r->unanswered_steps,
			 "worst_window_p99_us", r->worst_window_p99_us, "simulated_s", r->simulated_s,
			 "single_queue_overloads", (json_int_t)r->single_queue_overloads);
}

json_t *dvmq_report_json(const char *scenario, const struct dvmq_result *res, size_t n)
{
	json_t *root = json_object(), *pols = json_object();
	if (!root || !pols)
		goto err;
	json_object_set_new(root, "scenario", json_string(scenario));
	json_object_set_new(root, "policies", pols);
	for (size_t i = 0; i < n; i++) {
		json_t *o = dvmq_report_result_json(&res[i]);
		if (!o)
			goto err;
		json_object_set_new(pols, dvmq_policy_name(res[i].policy), o);
	}
	if (n > 0) {
		json_t *oracle = json_pack("{s:f, s:I}", "processors_mean", res[0].oracle_processors_mean,
					   "unavoidable_drops", (json_int_t)res[0].oracle_unavoidable_drops);
		if (!oracle)
			goto err;
		json_object_set_new(root, "oracle", oracle);
	}
	return root;
err:
	json_decref(root);
	return NULL;
}

static void fmt_opt(char *buf, size_t len, bool has, double v)
{
	if (has)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "-");
}

void dvmq_report_table(FILE *f, const char *scenario, const struct dvmq_result *res, size_t n)
{
	fprintf(f, "scenario %s (%.1f s simulated)\n", scenario, n ? res[0].simulated_s : 0.0);
	fprintf(f, "%-10s %12s %10s %8s %8s %9s %9s %6s %5s %7s %6s %4s %4s %6s %4s %8s %8s %6s\n", "policy",
		"delivered", "dropped", "drop%", "p50_us", "p99_us", "p999_us", "awake", "x_orc", "core_s", "moves", "pp",
		"ret", "mv/q/m", "sqo", "react_ms", "settle_ms", "imbal");
	for (size_t i = 0; i < n; i++) {
		const struct dvmq_result *r = &res[i];
		char react[32], settle[32];
		fmt_opt(react, sizeof(react), r->has_reaction, r->reaction_ms);
		fmt_opt(settle, sizeof(settle), r->has_settle, r->settle_ms);
		fprintf(f, "%-10s %12llu %10llu %8.4f %8.1f %9.1f %9.1f %6.2f %5.2f %7.1f %6llu %4llu %4llu %6.2f %4llu "
			   "%8s %8s %6.2f\n",
			dvmq_policy_name(r->policy), (unsigned long long)r->delivered,
			(unsigned long long)r->dropped, r->drop_ratio * 100.0, r->latency_p50_us,
			r->latency_p99_us, r->latency_p999_us, r->awake_processors_mean, r->awake_over_oracle,
			r->busy_core_seconds, (unsigned long long)r->moves, (unsigned long long)r->pingpongs,
			(unsigned long long)r->returns_10s, r->moves_per_queue_minute,
			(unsigned long long)r->single_queue_overloads, react, settle, r->imbalance_mean);
	}
	if (n > 0)
		fprintf(f, "oracle: %.2f processors needed on average, %llu drops unavoidable "
			   "(a single-queue VM beyond one processor)\n",
			res[0].oracle_processors_mean, (unsigned long long)res[0].oracle_unavoidable_drops);
	fputs("x_orc: awake / oracle; pp: ping-pongs (back within 1 s); ret: returns within 10 s; "
	      "mv/q/m: moves per queue-minute;\nsqo: single-queue overloads (one queue alone over high, no move "
	      "helps: that VM needs VMMQ)\n", f);
}
