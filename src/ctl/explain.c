/* The engine's rules in words, for operators: the rule that keeps a queue where it is, and why
 * each other processor does not take it (`explain`), derived from a snapshot alone. */
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

/* A queue of a VM's group (VMMQ): what holds the group together, after the rule above. */
static void explain_group(const struct dvmq_snapshot *s, const struct dvmq_snap_queue *q, char *buf, size_t len)
{
	const struct dvmq_snap_vm *vm = q->vm < s->n_vms ? &s->vms[q->vm] : NULL;
	if (!vm || vm->group.n_queues < 2 || s->params.policy != DVMQ_POLICY_ADAPTIVE)
		return;
	uint32_t k = 0, nb = 0;
	while (k < vm->group.n_queues && vm->group.queues[k] != q->id)
		k++;
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		nb += vm->group.indirection[b] == k;
	size_t n = strlen(buf);
	if (n + 1 < len)
		snprintf(buf + n, len - n, ". It is queue %u of %u of VM %s's group (VMMQ, at most %u), with %u of its 128 "
			 "buckets: a processor of the group over high %.0f%% sends buckets to the group's least loaded queue "
			 "where they fit; the group grows when one of its queues alone keeps its processor over high, and "
			 "shrinks when its buckets fit one queue fewer under pack %.0f%% for %u rounds",
			 k + 1, vm->group.n_queues, vm->name, vm->max_queues, nb, pct(s->params.high), pct(s->params.pack),
			 s->params.coalesce_rounds);
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
	} else if (q->pinned) {
		snprintf(buf, len, "pinned to processor %u by an operator (dvmqctl queue set): the engine never moves it "
			 "and processor %u stays awake; `queue set %u --processor auto` hands it back", p->id, p->id, id);
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
	explain_group(s, q, buf, len);
	return 0;
}

/* The newest move of queue q in the snapshot's move log, or NULL. */
static const struct dvmq_snap_move *last_move(const struct dvmq_snapshot *s, uint32_t q)
{
	for (uint32_t i = s->n_moves; i-- > 0;)
		if (s->moves[i].queue == q)
			return &s->moves[i];
	return NULL;
}

/* Whether q left processor p within window_ns (the move log; older moves are not in it). */
static bool left_within(const struct dvmq_snapshot *s, uint32_t q, uint32_t p, uint64_t window_ns, double *ago_s)
{
	for (uint32_t i = s->n_moves; i-- > 0;) {
		const struct dvmq_snap_move *m = &s->moves[i];
		if (m->queue != q || m->from != p)
			continue;
		uint64_t ago = s->now_ns > m->at_ns ? s->now_ns - m->at_ns : 0;
		*ago_s = (double)ago * 1e-9;
		return ago < window_ns;
	}
	return false;
}

/* Why processor p does not take queue q now: a verdict ("rejected", "fits": it could but nothing
 * calls for a move, "candidate": a spread would look at it) and the reason. */
static const char *judge(const struct dvmq_snapshot *s, const struct dvmq_snap_queue *q,
			 const struct dvmq_snap_processor *cur, const struct dvmq_snap_processor *p, char *why, size_t len)
{
	const struct dvmq_engine_params *pr = &s->params;
	double after = p->load + q->load, ago = 0.0;
	const struct dvmq_snap_move *m = last_move(s, q->id);
	char t[32];
	if (q->pinned) {
		snprintf(why, len, "the queue is pinned to processor %u: the engine considers no other", q->processor);
	} else if (!p->in_set) {
		snprintf(why, len, "not in the processor set");
	} else if (pr->policy == DVMQ_POLICY_NONE || pr->policy == DVMQ_POLICY_STATIC) {
		snprintf(why, len, "policy %s never moves a queue", dvmq_policy_name(pr->policy));
	} else if (after > pr->high) {
		snprintf(why, len, "it would be at %.0f%% with this queue, over high %.0f%%", pct(after), pct(pr->high));
	} else if (pr->policy == DVMQ_POLICY_ADAPTIVE && m && m->from == p->id && m->to == q->processor &&
		   s->now_ns - m->at_ns < pr->return_guard_ns) {
		dvmq_engine_param_format(pr, "return-guard", t, sizeof(t));
		snprintf(why, len, "the queue left it %.1f s ago: return-guard %s forbids undoing that move",
			 (double)(s->now_ns - m->at_ns) * 1e-9, t);
	} else if (pr->policy == DVMQ_POLICY_ADAPTIVE && left_within(s, q->id, p->id, pr->return_window_ns, &ago)) {
		dvmq_engine_param_format(pr, "return-window", t, sizeof(t));
		snprintf(why, len, "the queue left it %.1f s ago, within return-window %s: coalescing never sends it back, "
			 "spreading only when no other processor fits", ago, t);
	} else if (!p->awake) {
		snprintf(why, len, "parked: woken for a queue only when no awake processor can take it");
	} else if (cur && cur->load <= pr->high) {
		snprintf(why, len, "it could take the queue (%.0f%% with it), but processor %u is under high %.0f%%: "
			 "nothing calls for a move", pct(after), cur->id, pct(pr->high));
		return "fits";
	} else {
		snprintf(why, len, "a destination a spread would weigh (%.0f%% with this queue)", pct(after));
		return "candidate";
	}
	return "rejected";
}

json_t *ctl_explain_considered(const struct dvmq_snapshot *s, uint32_t qid)
{
	const struct dvmq_snap_queue *q = dvmq_snap_queue_find(s, qid);
	if (!q)
		return NULL;
	const struct dvmq_snap_processor *cur = dvmq_snap_processor_find(s, q->processor);
	json_t *a = json_array();
	for (uint32_t i = 0; a && i < s->n_processors; i++) {
		const struct dvmq_snap_processor *p = &s->processors[i];
		if (p->id == q->processor)
			continue;
		char why[256];
		const char *verdict = judge(s, q, cur, p, why, sizeof(why));
		if (json_array_append_new(a, json_pack("{s:i, s:f, s:f, s:s, s:s}", "processor", (int)p->id, "load", p->load,
						       "load_with_queue", p->load + q->load, "verdict", verdict, "why", why))) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}
