/* The operator's state ops behind dvmqctl (include/dvmq/ctl_state.h): a pin on one queue,
 * rebalance's plan without applying it, stats clear, the load history. Control thread only.
 * A pin is kept by VM (run_vm.pin) as well as in the engine, so that a VM that loses its queue
 * (its device gone, a heavier VM taking its VMQ) is pinned again when it gets one back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "run_internal.h"

static uint32_t slot_of_queue(const struct run *r, uint32_t q)
{
	uint32_t a = dvmq_engine_queue_adapter(r->engine, q);
	return a < r->cap_vms ? r->adapter_vm[a] : RUN_NO_SLOT;
}

int run_op_queue_set(void *ctx, uint32_t q, uint32_t p, struct dvmq_snap_move *move, bool *moved, char *msg,
		     size_t len)
{
	struct run *r = ctx;
	*moved = false;
	uint32_t slot = slot_of_queue(r, q);
	if (p == DVMQ_NO_PROCESSOR) {
		int rc = dvmq_engine_queue_unpin(r->engine, q);
		if (rc) {
			snprintf(msg, len, "queue %u is not in use", q);
			return rc;
		}
		if (slot != RUN_NO_SLOT)
			r->vm[slot].pin = DVMQ_NO_PROCESSOR;
		run_log(r, DVMQ_LOG_INFO, "queue %u (%s) handed back to the engine (dvmqctl)", q, run_queue_vm(r, q));
		run_ctl_dirty(r);
		return 0;
	}
	const struct dvmq_plan *plan = NULL;
	uint64_t t = run_now(r);
	int rc = dvmq_engine_queue_pin(r->engine, q, p, t, &plan);
	if (rc == -EINVAL)
		snprintf(msg, len, "processor %u is not in the processor set", p);
	else if (rc)
		snprintf(msg, len, "queue %u is not in use", q);
	if (rc)
		return rc;
	size_t n = 0;
	if (plan)
		rc = run_apply_plan(r, plan, t, true, move, 1, &n);
	*moved = n > 0;
	if (slot != RUN_NO_SLOT)
		r->vm[slot].pin = p;
	run_log(r, DVMQ_LOG_INFO, "queue %u (%s) pinned to processor %u (dvmqctl)%s", q, run_queue_vm(r, q), p,
		*moved ? ": moved there" : "");
	run_ctl_dirty(r);
	return rc;
}

/* The plan a rebalance would make now, on a copy of the engine: nothing moves. */
int run_op_rebalance_dry_run(void *ctx, struct dvmq_snap_move *moves, size_t max, size_t *n, char *msg, size_t len)
{
	struct run *r = ctx;
	*n = 0;
	struct dvmq_engine *copy = NULL;
	int rc = dvmq_engine_clone(r->engine, &copy);
	if (rc) {
		snprintf(msg, len, "out of memory for a copy of the engine");
		return rc;
	}
	const struct dvmq_plan *plan;
	uint64_t t = run_now(r);
	rc = dvmq_engine_plan(copy, t, r->elapsed_ns ? r->elapsed_ns : r->interval_ns, r->ps, r->qs, &plan);
	if (rc) {
		snprintf(msg, len, "the engine could not plan: %s", strerror(-rc));
	} else {
		for (size_t i = 0; i < plan->n_moves && *n < max; i++) {
			const struct dvmq_move *mv = &plan->moves[i];
			struct dvmq_snap_move *m = &moves[(*n)++];
			*m = (struct dvmq_snap_move){ .at_ns = t, .queue = mv->queue, .from = mv->from, .to = mv->to,
						      .reason = mv->reason, .queue_load = mv->queue_load,
						      .src_before = mv->src_before, .src_after = mv->src_after,
						      .dst_before = mv->dst_before, .dst_after = mv->dst_after };
			if (mv->queue != DVMQ_DEFAULT_QUEUE)
				snprintf(m->vm, sizeof(m->vm), "%s", run_queue_vm(r, mv->queue));
		}
	}
	dvmq_engine_destroy(copy);
	run_log(r, DVMQ_LOG_INFO, "rebalance --dry-run (dvmqctl): %zu move%s planned, none made", *n, *n == 1 ? "" : "s");
	return rc;
}

int run_op_stats_clear(void *ctx, char *msg, size_t len)
{
	struct run *r = ctx;
	struct dvmq_snapshot *base = run_ctl_build(r);
	if (!base) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	dvmq_snapshot_unref(r->cleared);
	r->cleared = base;
	run_ctl_dirty(r);
	run_log(r, DVMQ_LOG_INFO, "stats cleared (dvmqctl): the views and the metrics page count from now");
	return 0;
}

int run_op_history(void *ctx, struct dvmq_ctl_history *h, char *msg, size_t len)
{
	struct run *r = ctx;
	int rc = run_history_view(r, h);
	if (rc)
		snprintf(msg, len, "no history kept");
	return rc;
}
