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

/* The queue groups (VMMQ) of a run: totals, overloads by why their group did not help, per VM. */
static json_t *groups_json(const struct dvmq_result *r)
{
	json_t *by = json_object(), *vms = json_array();
	for (unsigned g = 0; by && g < DVMQ_OVERLOAD_GROUP_COUNT; g++)
		json_object_set_new(by, dvmq_overload_group_name((enum dvmq_overload_group)g),
				    json_integer((json_int_t)r->overloads_by_group[g]));
	for (uint32_t i = 0; vms && i < r->n_groups && i < DVMQ_RESULT_GROUPS; i++) {
		const struct dvmq_group_result *g = &r->groups[i];
		json_array_append_new(vms, json_pack("{s:s, s:i, s:f, s:i, s:I, s:I, s:I}", "vm", g->vm, "max_queues",
						     (int)g->max_queues, "queues_mean", g->queues_mean, "queues_max",
						     (int)g->queues_max, "bucket_moves", (json_int_t)g->bucket_moves,
						     "grows", (json_int_t)g->grows, "shrinks", (json_int_t)g->shrinks));
	}
	if (!by || !vms) {
		json_decref(by);
		json_decref(vms);
		return NULL;
	}
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:o, s:o}", "vms_with_groups", (int)r->n_groups, "bucket_moves",
			 (json_int_t)r->bucket_moves, "bucket_pingpongs", (json_int_t)r->bucket_pingpongs, "grows",
			 (json_int_t)r->group_grows, "shrinks", (json_int_t)r->group_shrinks,
			 "single_queue_overloads_by_group", by, "vms", vms);
}

json_t *dvmq_report_result_json(const struct dvmq_result *r)
{
	json_t *o = json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:f, s:o, s:o, "
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
	if (o && r->n_groups > 0 && json_object_set_new(o, "groups", groups_json(r)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
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

/* VMs with queue groups (VMMQ): per policy, bucket moves and their ping-pongs, grows and shrinks,
 * overloads a bigger group could have helped (no-group, group-full) and those of one bucket; then
 * per VM its group's size over time. Nothing when no VM has max-queues > 1. */
static void groups_table(FILE *f, const struct dvmq_result *res, size_t n)
{
	if (n == 0 || res[0].n_groups == 0)
		return;
	fprintf(f, "queue groups (VMMQ), %u VMs with max_queues > 1:\n", res[0].n_groups);
	fprintf(f, "%-9s %9s %6s %6s %7s %8s %8s %8s\n", "policy", "b_moves", "b_pp", "grows", "shrinks", "sqo_grp",
		"sqo_1bk", "sqo_oth");
	for (size_t i = 0; i < n; i++) {
		const struct dvmq_result *r = &res[i];
		const uint64_t *o = r->overloads_by_group;
		fprintf(f, "%-9s %9llu %6llu %6llu %7llu %8llu %8llu %8llu\n", dvmq_policy_name(r->policy),
			(unsigned long long)r->bucket_moves, (unsigned long long)r->bucket_pingpongs,
			(unsigned long long)r->group_grows, (unsigned long long)r->group_shrinks,
			(unsigned long long)(o[DVMQ_OVERLOAD_NO_GROUP] + o[DVMQ_OVERLOAD_GROUP_FULL]),
			(unsigned long long)o[DVMQ_OVERLOAD_ONE_BUCKET],
			(unsigned long long)(o[DVMQ_OVERLOAD_NO_QUEUE] + o[DVMQ_OVERLOAD_NO_PROCESSOR] + o[DVMQ_OVERLOAD_HELD]));
	}
	fprintf(f, "%-9s %-20s %4s %7s %5s %9s %6s %7s\n", "policy", "vm", "max", "q_mean", "q_max", "b_moves", "grows",
		"shrinks");
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < res[i].n_groups && k < DVMQ_RESULT_GROUPS; k++) {
			const struct dvmq_group_result *g = &res[i].groups[k];
			fprintf(f, "%-9s %-20.20s %4u %7.2f %5u %9llu %6llu %7llu\n", dvmq_policy_name(res[i].policy), g->vm,
				g->max_queues, g->queues_mean, g->queues_max, (unsigned long long)g->bucket_moves,
				(unsigned long long)g->grows, (unsigned long long)g->shrinks);
		}
	if (res[0].n_groups > DVMQ_RESULT_GROUPS)
		fprintf(f, "(the first %u VMs with groups listed)\n", DVMQ_RESULT_GROUPS);
	fputs("b_moves, b_pp: bucket moves and their ping-pongs (back within 1 s); sqo_grp: single-queue "
	      "overloads a bigger\ngroup could have helped (max_queues 1 or reached); sqo_1bk: one bucket "
	      "(one flow) alone; sqo_oth: no free queue,\nno processor, or buckets held by dwell/guard\n",
	      f);
}

void dvmq_report_table(FILE *f, const char *scenario, const struct dvmq_result *res, size_t n)
{
	dvmq_report_table_as(f, scenario, "simulated", res, n);
}

void dvmq_report_table_as(FILE *f, const char *scenario, const char *how, const struct dvmq_result *res, size_t n)
{
	fprintf(f, "scenario %s (%.1f s %s)\n", scenario, n ? res[0].simulated_s : 0.0, how);
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
			   "(a VM's load beyond its queues: one bucket over a processor, or more than max_queues)\n",
			res[0].oracle_processors_mean, (unsigned long long)res[0].oracle_unavoidable_drops);
	groups_table(f, res, n);
	fputs("x_orc: awake / oracle; pp: ping-pongs (back within 1 s); ret: returns within 10 s; "
	      "mv/q/m: moves per queue-minute;\nsqo: single-queue overloads (one queue alone over high, no move "
	      "helps: that VM needs VMMQ)\n", f);
}
