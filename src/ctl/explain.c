/* The engine's rules in words, for operators: the rule that keeps a queue where it is
 * (`explain`), derived from a snapshot alone. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ctl_internal.h"

static double pct(double f)
{
	return f * 100.0;
}

/* Whether some other processor in the set could take `load` and stay under `high`. */
static bool room_elsewhere(const struct dvmq_snapshot *s, uint32_t self, double load, double high)
{
	for (uint32_t i = 0; i < s->n_processors; i++) {
		const struct dvmq_snap_processor *p = &s->processors[i];
		if (p->id != self && p->in_set && p->load + load < high)
			return true;
	}
	return false;
}

int dvmq_ctl_explain_rule(const struct dvmq_snapshot *s, uint32_t id, char *buf, size_t len)
{
	const struct dvmq_snap_queue *q = dvmq_snap_queue_find(s, id);
	if (!q)
		return -ENOENT;
	const struct dvmq_engine_params *pr = &s->params;
	const struct dvmq_snap_processor *p = dvmq_snap_processor_find(s, q->processor);
	double load = p ? p->load : 0.0;
	uint64_t since = q->moved && s->now_ns >= q->last_move_ns ? s->now_ns - q->last_move_ns : UINT64_MAX;
	char t[32];
	if (!p) {
		snprintf(buf, len, "queue %u has no processor: it is being placed", id);
	} else if (!p->in_set) {
		snprintf(buf, len, "processor %u left the processor set: the next round moves queue %u into the set "
			 "(reason processor-set)", p->id, id);
	} else if (pr->policy == DVMQ_POLICY_NONE) {
		snprintf(buf, len, "policy none: every queue stays on the base processor (%u)", s->adapter.base);
	} else if (pr->policy == DVMQ_POLICY_STATIC) {
		snprintf(buf, len, "policy static: queues are placed round-robin when created and never move");
	} else if (pr->policy == DVMQ_POLICY_OVS_ALB) {
		dvmq_engine_param_format(pr, "ovs-interval", t, sizeof(t));
		snprintf(buf, len, "policy ovs-alb: it re-plans only after a processor stayed at or over %.0f%% busy "
			 "for %u samples, at most every %s, and only for a %.0f%% better variance; processor %u is at %.0f%%",
			 pct(pr->ovs_threshold), pr->ovs_history, t, pct(pr->ovs_improvement), p->id, pct(load));
	} else if (pr->policy == DVMQ_POLICY_RSSPP) {
		snprintf(buf, len, "policy rsspp: every round it moves queues from processors over %.0f%% above the mean "
			 "load to those under it (RSS++'s solver), and adds or removes processors around a %.0f%% "
			 "target; processor %u is at %.0f%%", pct(pr->rsspp_imbalance), pct(pr->rsspp_target), p->id,
			 pct(load));
	} else if (pr->policy == DVMQ_POLICY_IRQBALANCE) {
		dvmq_engine_param_format(pr, "irqbalance-interval", t, sizeof(t));
		snprintf(buf, len, "policy irqbalance: every %s it moves the heaviest queues that do not reverse the "
			 "imbalance off processors busier in interrupt time than the least busy one; processor %u is at "
			 "%.0f%%", t, p->id, pct(load));
	} else if (pr->policy == DVMQ_POLICY_ADAPTIVE && since < pr->dwell_ns && load <= pr->high) {
		dvmq_engine_param_format(pr, "dwell", t, sizeof(t));
		snprintf(buf, len, "it moved %.2f s ago: dwell %s keeps it on processor %u for %.2f s more",
			 (double)since * 1e-9, t, p->id, (double)(pr->dwell_ns - since) * 1e-9);
	} else if (pr->policy == DVMQ_POLICY_ADAPTIVE && since < pr->dwell_ns) {
		/* dwell yields to relief (policy_adaptive.c): only the engine's full view decides */
		dvmq_engine_param_format(pr, "dwell", t, sizeof(t));
		snprintf(buf, len, "it moved %.2f s ago and processor %u is at %.0f%%, over high %.0f%%: within dwell %s "
			 "it leaves only if its move alone brings the processor under high where the queues free to move "
			 "could not, or if another queue there is a single-queue overload", (double)since * 1e-9, p->id,
			 pct(load), pct(pr->high), t);
	} else if (pr->policy == DVMQ_POLICY_ADAPTIVE && load > pr->high && q->load < pr->spread_floor) {
		snprintf(buf, len, "processor %u is at %.0f%%, over high %.0f%%, but this queue's %.2f%% is under floor "
			 "%.2f%%: moving it would relieve nobody, so it never spreads", p->id, pct(load), pct(pr->high),
			 pct(q->load), pct(pr->spread_floor));
	} else if (load > pr->high) {
		if (room_elsewhere(s, p->id, q->load, pr->high))
			snprintf(buf, len, "processor %u is at %.0f%%, over high %.0f%%: the next round spreads a queue off "
				 "it (this one unless a smaller one suffices)", p->id, pct(load), pct(pr->high));
		else
			snprintf(buf, len, "processor %u is at %.0f%%, over high %.0f%%, but no processor in the set can take "
				 "this queue's %.0f%% and stay under high: moving it would only move the bottleneck",
				 p->id, pct(load), pct(pr->high), pct(q->load));
	} else if (pr->policy == DVMQ_POLICY_DYNAMIC && load < pr->low) {
		snprintf(buf, len, "processor %u is at %.0f%%, under low %.0f%%: coalescing may move this queue home "
			 "(processor %u) or onto a busier processor", p->id, pct(load), pct(pr->low), q->home);
	} else if (pr->policy == DVMQ_POLICY_DYNAMIC) {
		snprintf(buf, len, "processor %u is at %.0f%%, between low %.0f%% and high %.0f%%: neither spread nor "
			 "coalesce applies", p->id, pct(load), pct(pr->low), pct(pr->high));
	} else if (since < pr->return_guard_ns) {
		dvmq_engine_param_format(pr, "return-guard", t, sizeof(t));
		snprintf(buf, len, "processor %u is at %.0f%%, under high %.0f%%; the queue moved %.2f s ago and "
			 "return-guard %s forbids undoing that move for %.2f s more", p->id, pct(load), pct(pr->high),
			 (double)since * 1e-9, t, (double)(pr->return_guard_ns - since) * 1e-9);
	} else {
		snprintf(buf, len, "processor %u is at %.0f%%, under high %.0f%%: adaptive moves it only to let a "
			 "processor park, when every queue there fits elsewhere under pack %.0f%% for %u rounds",
			 p->id, pct(load), pct(pr->high), pct(pr->pack), pr->coalesce_rounds);
	}
	return 0;
}
