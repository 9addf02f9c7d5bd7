/* The operator's hand on a running daemon (docs/ctl-protocol.md): queue.set (a pin, OVS's
 * pmd-rxq-affinity), rebalance with its predicted loads and gain (and dry_run: the plan alone),
 * stats.clear, history (the load ring), config.show and config.diff. Each checks what it can
 * against the snapshot before the daemon's op sees it; an op the daemon lacks answers
 * `unsupported`.
 * Invariant: a handler answers exactly once and holds no snapshot reference after it returns. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_internal.h"

#define REBALANCE_MAX 256
#define HISTORY_MAX_CELLS 400000u /* rows x columns in one reply (a few MiB of JSON at most) */

static bool supported(struct dvmq_ctl_call *call, bool have, const char *what)
{
	if (!have)
		dvmq_ctl_call_error(call, DVMQ_CTL_E_UNSUPPORTED, "this daemon cannot %s", what);
	return have;
}

/* ---- queue.set ---- */

static const struct dvmq_ctl_arg queue_set_args[] = {
	{ "queue", DVMQ_CTL_ARG_INT, false, 0, DVMQ_MAX_QUEUE_POOL },
	{ "vm", DVMQ_CTL_ARG_STRING, false, 0, 255 },
	{ "processor", DVMQ_CTL_ARG_INT, false, 0, DVMQ_MAX_PROCESSORS - 1 },
	{ "auto", DVMQ_CTL_ARG_BOOL, false, 0, 0 },
};

/* The queue a queue.set names (by id, or a VM's VMQ), or -1 with the call answered. */
static int64_t queue_of(struct dvmq_ctl_call *call, json_t *args, const struct dvmq_snapshot *s)
{
	int64_t id = ctl_arg_int(args, "queue", -1);
	const char *name = ctl_arg_str(args, "vm");
	if ((id >= 0) == (name != NULL)) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_ARGS, "queue.set: give a queue or a vm, one of them");
		return -1;
	}
	if (name) {
		const struct dvmq_snap_vm *vm = dvmq_snap_vm_find(s, name);
		if (!vm) {
			ctl_unknown_vm(call, name);
			return -1;
		}
		if (vm->queue == DVMQ_DEFAULT_QUEUE) {
			dvmq_ctl_call_error(call, DVMQ_CTL_E_VALUE, "VM '%s' has no VMQ: it shares the default queue 0 with "
					    "the VMs that have none (set queue 0 to place them all)", name);
			return -1;
		}
		id = vm->queue;
	}
	if (!dvmq_snap_queue_find(s, (uint32_t)id)) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_UNKNOWN_QUEUE, "unknown queue %lld", (long long)id);
		return -1;
	}
	return id;
}

static void queue_set_in(struct dvmq_ctl_call *call, json_t *args, const struct dvmq_ctl_state *st,
			 const struct dvmq_snapshot *s)
{
	bool to_auto = json_is_true(json_object_get(args, "auto"));
	int64_t proc = ctl_arg_int(args, "processor", -1);
	if ((proc >= 0) == to_auto) {
		dvmq_ctl_call_error(call, DVMQ_CTL_E_ARGS, "queue.set: give a processor or auto, one of them");
		return;
	}
	int64_t q = queue_of(call, args, s);
	if (q < 0)
		return;
	if (proc >= 0) {
		const struct dvmq_snap_processor *p = dvmq_snap_processor_find(s, (uint32_t)proc);
		if (!p) {
			ctl_unknown_processor(call, s, proc);
			return;
		}
		if (!p->in_set) {
			dvmq_ctl_call_error(call, DVMQ_CTL_E_RANGE, "processor %lld is not in the processor set (adapter show "
					    "lists it; adapter set --processors changes it)", (long long)proc);
			return;
		}
	}
	struct dvmq_snap_move mv = { 0 };
	bool moved = false;
	char msg[DVMQ_CTL_MSG_MAX] = "";
	int rc = st->ops->queue_set(st->ctx, (uint32_t)q, proc < 0 ? DVMQ_NO_PROCESSOR : (uint32_t)proc, &mv, &moved, msg,
				    sizeof(msg));
	if (rc) {
		ctl_op_error(call, rc, msg, DVMQ_CTL_E_UNKNOWN_QUEUE);
		return;
	}
	struct dvmq_snapshot *now = ctl_snap(call, st);
	if (!now)
		return;
	const struct dvmq_snap_queue *nq = dvmq_snap_queue_find(now, (uint32_t)q);
	if (nq)
		dvmq_ctl_call_ok(call, json_pack("{s:o, s:o}", "queue", ctl_json_queue(now, nq), "move",
						 moved ? dvmq_ctl_move_json(&mv) : json_null()));
	else
		dvmq_ctl_call_error(call, DVMQ_CTL_E_INTERNAL, "queue %lld vanished after the change", (long long)q);
	dvmq_snapshot_unref(now);
}

static void queue_set(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	if (!supported(call, st->ops->queue_set != NULL, "pin queues"))
		return;
	struct dvmq_snapshot *s = ctl_snap(call, st);
	if (!s)
		return;
	queue_set_in(call, args, st, s);
	dvmq_snapshot_unref(s);
}

/* ---- rebalance ---- */

static const struct dvmq_ctl_arg rebalance_args[] = {
	{ "dry_run", DVMQ_CTL_ARG_BOOL, false, 0, 0 },
};

/* The plan with each processor's load before and predicted after it (the last sample's loads,
 * each move taking its queue's load from its source to its destination), how many processors
 * own a queue before and after, and the gain: how much the busiest processor's load drops. */
static json_t *plan_json(const struct dvmq_snapshot *s, const struct dvmq_snap_move *mv, size_t n, bool dry)
{
	uint32_t np = s->n_processors;
	double *after = calloc(np ? np : 1, sizeof(*after));
	int *queues = calloc(np ? np : 1, sizeof(*queues));
	json_t *moves = json_array(), *procs = json_array();
	if (!after || !queues || !moves || !procs)
		goto err;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(moves, dvmq_ctl_move_json(&mv[i])))
			goto err;
	for (uint32_t i = 0; i < np; i++) {
		after[i] = s->processors[i].load;
		queues[i] = (int)s->processors[i].n_queues;
	}
	for (size_t i = 0; i < n; i++) {
		if (mv[i].from < np) {
			after[mv[i].from] -= mv[i].queue_load;
			queues[mv[i].from]--;
		}
		if (mv[i].to < np) {
			after[mv[i].to] += mv[i].queue_load;
			queues[mv[i].to]++;
		}
	}
	double max_before = 0.0, max_after = 0.0;
	int awake_before = 0, awake_after = 0;
	for (uint32_t i = 0; i < np; i++) {
		const struct dvmq_snap_processor *p = &s->processors[i];
		if (after[i] < 0.0)
			after[i] = 0.0;
		max_before = fmax(max_before, p->load);
		max_after = fmax(max_after, after[i]);
		awake_before += p->n_queues > 0;
		awake_after += queues[i] > 0;
		if (json_array_append_new(procs, json_pack("{s:i, s:f, s:f, s:i, s:i}", "processor", (int)p->id,
							   "load_before", p->load, "load_after", after[i], "queues_before",
							   (int)p->n_queues, "queues_after", queues[i])))
			goto err;
	}
	free(after);
	free(queues);
	return json_pack("{s:b, s:o, s:o, s:f, s:f, s:f, s:i, s:i}", "dry_run", dry, "moves", moves, "processors", procs,
			 "max_load_before", max_before, "max_load_after", max_after, "gain", max_before - max_after,
			 "awake_before", awake_before, "awake_after", awake_after);
err:
	free(after);
	free(queues);
	json_decref(moves);
	json_decref(procs);
	return NULL;
}

static void rebalance(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	bool dry = json_is_true(json_object_get(args, "dry_run"));
	if (dry && !supported(call, st->ops->rebalance_dry_run != NULL, "plan without applying (dry_run)"))
		return;
	struct dvmq_snapshot *s = ctl_snap(call, st); /* the loads the plan is made from */
	if (!s)
		return;
	struct dvmq_snap_move *mv = calloc(REBALANCE_MAX, sizeof(*mv));
	size_t n = 0;
	char msg[DVMQ_CTL_MSG_MAX] = "";
	int rc = !mv ? -ENOMEM
	       : dry ? st->ops->rebalance_dry_run(st->ctx, mv, REBALANCE_MAX, &n, msg, sizeof(msg))
		     : st->ops->rebalance(st->ctx, mv, REBALANCE_MAX, &n, msg, sizeof(msg));
	if (rc)
		ctl_op_error(call, rc, msg, DVMQ_CTL_E_INTERNAL);
	else
		dvmq_ctl_call_ok(call, plan_json(s, mv, n < REBALANCE_MAX ? n : REBALANCE_MAX, dry));
	free(mv);
	dvmq_snapshot_unref(s);
}

/* ---- stats.clear ---- */

static void stats_clear(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)args;
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	if (!supported(call, st->ops->stats_clear != NULL, "clear its counters"))
		return;
	char msg[DVMQ_CTL_MSG_MAX] = "";
	int rc = st->ops->stats_clear(st->ctx, msg, sizeof(msg));
	if (rc) {
		ctl_op_error(call, rc, msg, DVMQ_CTL_E_INTERNAL);
		return;
	}
	struct dvmq_snapshot *s = ctl_snap(call, st);
	if (s)
		dvmq_ctl_call_ok(call, json_pack("{s:b, s:f}", "cleared", 1, "at_s", (double)s->cleared_ns * 1e-9));
	dvmq_snapshot_unref(s);
}

/* ---- history ---- */

static const struct dvmq_ctl_arg history_args[] = {
	{ "seconds", DVMQ_CTL_ARG_INT, false, 1, 86400 },
};

static json_t *floats(const float *v, uint32_t n)
{
	json_t *a = json_array();
	for (uint32_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_real(round((double)v[i] * 1e4) / 1e4))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *history_json(const struct dvmq_ctl_history *h, int64_t seconds)
{
	size_t first = 0, cols = (size_t)h->n_processors + h->n_queues;
	if (seconds > 0 && h->n_rows && h->step_ns) {
		uint64_t want = (uint64_t)seconds * 1000000000ull / h->step_ns;
		first = h->n_rows > want ? h->n_rows - (size_t)want : 0;
	}
	if (cols && (h->n_rows - first) * cols > HISTORY_MAX_CELLS)
		first = h->n_rows - HISTORY_MAX_CELLS / cols; /* the newest that fit one reply */
	json_t *queues = json_array(), *rows = json_array();
	for (uint32_t i = 0; queues && i < h->n_queues; i++)
		if (json_array_append_new(queues, json_pack("{s:i, s:o}", "queue", (int)h->queue_ids[i], "vm",
							    h->queue_vms[i][0] ? json_string(h->queue_vms[i]) : json_null()))) {
			json_decref(queues);
			queues = NULL;
		}
	for (size_t r = first; rows && r < h->n_rows; r++)
		if (json_array_append_new(rows, json_pack("{s:f, s:o, s:o, s:i, s:f, s:i}", "t", (double)h->t_ns[r] * 1e-9,
							  "load", floats(&h->proc_load[r * h->n_processors], h->n_processors),
							  "queue_load", floats(&h->queue_load[r * h->n_queues], h->n_queues),
							  "awake", (int)h->awake[r], "drops_per_s", (double)h->drops_per_s[r],
							  "moves", (int)h->moves[r]))) {
			json_decref(rows);
			rows = NULL;
		}
	return json_pack("{s:f, s:i, s:o, s:o}", "step_s", (double)h->step_ns * 1e-9, "processors", (int)h->n_processors,
			 "queues", queues, "rows", rows);
}

static void history(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	if (!supported(call, st->ops->history != NULL, "keep a load history"))
		return;
	struct dvmq_ctl_history h = { 0 };
	char msg[DVMQ_CTL_MSG_MAX] = "";
	int rc = st->ops->history(st->ctx, &h, msg, sizeof(msg));
	if (rc)
		ctl_op_error(call, rc, msg, DVMQ_CTL_E_INTERNAL);
	else
		dvmq_ctl_call_ok(call, history_json(&h, ctl_arg_int(args, "seconds", 0)));
}

/* ---- config.show, config.diff ---- */

static void config_show(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)args;
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	if (!supported(call, st->ops->config_show != NULL, "write its running configuration"))
		return;
	char *text = NULL, path[512] = "", msg[DVMQ_CTL_MSG_MAX] = "";
	int rc = st->ops->config_show(st->ctx, &text, path, sizeof(path), msg, sizeof(msg));
	if (rc)
		ctl_op_error(call, rc, msg, DVMQ_CTL_E_INTERNAL);
	else
		dvmq_ctl_call_ok(call, json_pack("{s:s, s:s}", "file", path, "text", text));
	free(text);
}

static void add_line(void *ctx, const char *text)
{
	json_array_append_new(ctx, json_string(text));
}

static void config_diff(struct dvmq_ctl_call *call, json_t *args, void *aux)
{
	(void)args;
	const struct dvmq_ctl_state *st = ctl_state_of(aux);
	if (!supported(call, st->ops->config_diff != NULL, "compare its running configuration with the file"))
		return;
	char path[512] = "", msg[DVMQ_CTL_MSG_MAX] = "";
	json_t *lines = json_array();
	int rc = lines ? st->ops->config_diff(st->ctx, add_line, lines, path, sizeof(path), msg, sizeof(msg)) : -ENOMEM;
	if (rc) {
		json_decref(lines);
		/* a file that does not load is the user's to fix, with its file:line */
		if (rc == -EINVAL)
			dvmq_ctl_call_error(call, DVMQ_CTL_E_VALUE, "%s", msg[0] ? msg : "the file does not load");
		else
			ctl_op_error(call, rc, msg, DVMQ_CTL_E_INTERNAL);
		return;
	}
	dvmq_ctl_call_ok(call, json_pack("{s:s, s:b, s:o}", "file", path, "same", json_array_size(lines) == 0, "changes",
					 lines));
}

#define ARGS(a) a, sizeof(a) / sizeof(a[0])
static const struct dvmq_ctl_command commands[] = {
	{ "queue.set", "queue | vm, processor | auto", ARGS(queue_set_args), queue_set, NULL },
	{ "rebalance", "[dry_run]", ARGS(rebalance_args), rebalance, NULL },
	{ "stats.clear", "", NULL, 0, stats_clear, NULL },
	{ "history", "[seconds]", ARGS(history_args), history, NULL },
	{ "config.show", "", NULL, 0, config_show, NULL },
	{ "config.diff", "", NULL, 0, config_diff, NULL },
};
#undef ARGS

int ctl_commands_ops_register(struct dvmq_ctl_registry *reg, const struct dvmq_ctl_state *st)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		struct dvmq_ctl_command c = commands[i];
		c.aux = (void *)(uintptr_t)st;
		int rc = dvmq_ctl_registry_add(reg, &c);
		if (rc)
			return rc;
	}
	return 0;
}
