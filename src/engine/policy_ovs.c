/* `ovs-alb`: Open vSwitch's PMD auto load balance, as a baseline.
 * Trigger: some processor of the set was >= ovs_threshold busy for the whole history window
 * (ovs_history rounds) and ovs_interval passed since the last check. Then a global re-plan: queues
 * sorted by their mean load over the window, each given to the least-loaded processor; applied only
 * if the variance of processor loads improves by ovs_improvement. Never coalesces. */
#include "engine_internal.h"

static double queue_mean(const struct dvmq_engine *e, uint32_t qi, uint32_t window)
{
	/* e->round counts the rounds whose samples are in hist; its newest row is round - 1 */
	uint64_t have = e->round - e->queues[qi].hist_from;
	uint32_t n = have < window ? (uint32_t)have : window;
	if (n == 0)
		return 0.0;
	double sum = 0.0;
	for (uint32_t i = 1; i <= n; i++)
		sum += (double)e->hist[(size_t)((e->round - i) % OVS_HISTORY_MAX) * e->n_queues + qi];
	return sum / n;
}

/* Variance over the set of either load[] (indexed by processor) or, when NULL, the pred field. */
static double variance(const struct dvmq_engine *e, const double *load)
{
	double mean = 0.0, var = 0.0;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		mean += load ? load[p] : e->procs[p].pred;
	}
	mean /= e->n_set;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		double d = (load ? load[p] : e->procs[p].pred) - mean;
		var += d * d;
	}
	return var / e->n_set;
}

void eng_policy_ovs(struct dvmq_engine *e)
{
	const struct dvmq_engine_params *pa = &e->params;
	if (e->now_ns < e->last_rebalance_ns + pa->ovs_interval_ns)
		return;
	bool hot = false;
	for (uint32_t i = 0; i < e->n_set && !hot; i++)
		hot = e->procs[e->set_list[i]].hot_rounds >= pa->ovs_history;
	if (!hot)
		return;
	e->last_rebalance_ns = e->now_ns;

	double *cur = e->tmp;
	uint32_t n = 0;
	for (uint32_t i = 0; i < e->n_set; i++)
		cur[e->set_list[i]] = 0.0;
	for (uint32_t q = 0; q < e->n_queues; q++) {
		if (!e->queues[q].active)
			continue;
		e->qkey[q] = -queue_mean(e, q, pa->ovs_history);
		cur[e->queues[q].proc] += -e->qkey[q];
		e->bucket[n++] = q;
	}
	double var_cur = variance(e, cur);
	eng_sort_by_key(e->bucket, n, e->qkey); /* heaviest first */

	/* dry run: per-processor assigned load in pred[], target per queue in scratch[] */
	for (uint32_t i = 0; i < e->n_set; i++)
		e->procs[e->set_list[i]].pred = 0.0;
	uint32_t *target = e->scratch;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t best = e->set_list[0];
		for (uint32_t i = 1; i < e->n_set; i++)
			if (e->procs[e->set_list[i]].pred < e->procs[best].pred)
				best = e->set_list[i];
		if (e->queues[e->bucket[k]].pinned)
			best = e->queues[e->bucket[k]].proc; /* a pinned queue stays: its load is there */
		target[k] = best;
		e->procs[best].pred += -e->qkey[e->bucket[k]];
	}
	double var_new = variance(e, NULL);
	if (var_cur <= 0.0 || (var_cur - var_new) / var_cur < pa->ovs_improvement)
		return;
	/* apply: predicted loads restart from the measured ones so the plan reports them */
	for (uint32_t i = 0; i < e->n_set; i++)
		e->procs[e->set_list[i]].pred = cur[e->set_list[i]];
	for (uint32_t k = 0; k < n; k++)
		if (e->queues[e->bucket[k]].proc != target[k])
			eng_move(e, e->bucket[k], target[k], DVMQ_REASON_REBALANCE, -e->qkey[e->bucket[k]]);
	for (uint32_t p = 0; p < e->n_procs; p++)
		e->procs[p].hot_rounds = 0;
}
