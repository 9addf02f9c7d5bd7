/* The load history `dvmqctl history` reads, without Prometheus: a fixed ring of the last
 * RUN_HISTORY_ROWS seconds, one row per second (the intervals of that second averaged): each
 * processor's load, each queue slot's network load, processors awake, drops per second, moves.
 * Memory is fixed at start (rows x (processors + queues) floats): the ring never grows.
 * Invariant: rows are in time order from `first`; a row is written when its second is over. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

#define STEP_NS 1000000000ull

struct run_history {
	uint32_t np, nq;
	size_t n, first;            /* rows held, and where the oldest is */
	uint64_t *t;
	float *proc, *queue, *drops;
	uint16_t *awake;
	uint32_t *moves;
	/* the second being summed */
	uint64_t acc_end, acc_drops, acc_n;
	double *acc_proc, *acc_queue, acc_awake;
	uint32_t acc_moves;
	uint64_t drops_seen;        /* the drop counter at the last interval */
	/* a linear copy for the view */
	uint64_t *v_t;
	float *v_proc, *v_queue, *v_drops;
	uint16_t *v_awake;
	uint32_t *v_moves;
	uint32_t *ids;
	const char **vms;
};

int run_history_create(struct run *r)
{
	struct run_history *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	r->hist = h;
	h->np = r->n_procs;
	h->nq = r->n_queues;
	size_t R = RUN_HISTORY_ROWS;
	h->t = calloc(R, sizeof(*h->t));
	h->proc = calloc(R * h->np, sizeof(float));
	h->queue = calloc(R * h->nq, sizeof(float));
	h->drops = calloc(R, sizeof(float));
	h->awake = calloc(R, sizeof(uint16_t));
	h->moves = calloc(R, sizeof(uint32_t));
	h->acc_proc = calloc(h->np, sizeof(double));
	h->acc_queue = calloc(h->nq, sizeof(double));
	h->v_t = calloc(R, sizeof(*h->v_t));
	h->v_proc = calloc(R * h->np, sizeof(float));
	h->v_queue = calloc(R * h->nq, sizeof(float));
	h->v_drops = calloc(R, sizeof(float));
	h->v_awake = calloc(R, sizeof(uint16_t));
	h->v_moves = calloc(R, sizeof(uint32_t));
	h->ids = calloc(h->nq, sizeof(uint32_t));
	h->vms = calloc(h->nq, sizeof(char *));
	if (!h->t || !h->proc || !h->queue || !h->drops || !h->awake || !h->moves || !h->acc_proc || !h->acc_queue ||
	    !h->v_t || !h->v_proc || !h->v_queue || !h->v_drops || !h->v_awake || !h->v_moves || !h->ids || !h->vms)
		return -ENOMEM;
	for (uint32_t q = 0; q < h->nq; q++)
		h->ids[q] = q;
	return 0;
}

void run_history_destroy(struct run *r)
{
	struct run_history *h = r->hist;
	if (!h)
		return;
	free(h->t);
	free(h->proc);
	free(h->queue);
	free(h->drops);
	free(h->awake);
	free(h->moves);
	free(h->acc_proc);
	free(h->acc_queue);
	free(h->v_t);
	free(h->v_proc);
	free(h->v_queue);
	free(h->v_drops);
	free(h->v_awake);
	free(h->v_moves);
	free(h->ids);
	free(h->vms);
	free(h);
	r->hist = NULL;
}

/* Closes the second being summed into a row (the oldest row gives way when the ring is full). */
static void close_row(struct run_history *h)
{
	size_t k;
	if (h->n < RUN_HISTORY_ROWS) {
		k = (h->first + h->n++) % RUN_HISTORY_ROWS;
	} else {
		k = h->first;
		h->first = (h->first + 1) % RUN_HISTORY_ROWS;
	}
	double n = (double)h->acc_n;
	h->t[k] = h->acc_end;
	for (uint32_t p = 0; p < h->np; p++)
		h->proc[k * h->np + p] = (float)(h->acc_proc[p] / n);
	for (uint32_t q = 0; q < h->nq; q++)
		h->queue[k * h->nq + q] = (float)(h->acc_queue[q] / n);
	h->awake[k] = (uint16_t)(h->acc_awake / n + 0.5);
	h->drops[k] = (float)h->acc_drops; /* a second's worth: per second */
	h->moves[k] = h->acc_moves;
	memset(h->acc_proc, 0, h->np * sizeof(double));
	memset(h->acc_queue, 0, h->nq * sizeof(double));
	h->acc_awake = 0.0;
	h->acc_drops = h->acc_n = 0;
	h->acc_moves = 0;
}

void run_history_add(struct run *r, uint64_t t, uint32_t moves, uint64_t drops_total)
{
	struct run_history *h = r->hist;
	if (!h)
		return;
	if (h->acc_n && t > h->acc_end)
		close_row(h);
	if (!h->acc_n)
		h->acc_end = (t / STEP_NS + 1) * STEP_NS; /* the end of t's second */
	uint32_t awake = 0;
	for (uint32_t p = 0; p < h->np; p++) {
		h->acc_proc[p] += r->ps[p].busy;
		awake += dvmq_engine_processor_awake(r->engine, p);
	}
	for (uint32_t q = 0; q < h->nq; q++)
		h->acc_queue[q] += r->queue_load[q];
	h->acc_awake += awake;
	/* drops_total is cumulative: the history counts what this interval added */
	h->acc_drops += drops_total >= h->drops_seen ? drops_total - h->drops_seen : 0;
	h->drops_seen = drops_total;
	h->acc_moves += moves;
	h->acc_n++;
}

int run_history_view(struct run *r, struct dvmq_ctl_history *out)
{
	struct run_history *h = r->hist;
	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < h->n; i++) {
		size_t k = (h->first + i) % RUN_HISTORY_ROWS;
		h->v_t[i] = h->t[k];
		memcpy(&h->v_proc[i * h->np], &h->proc[k * h->np], h->np * sizeof(float));
		memcpy(&h->v_queue[i * h->nq], &h->queue[k * h->nq], h->nq * sizeof(float));
		h->v_drops[i] = h->drops[k];
		h->v_awake[i] = h->awake[k];
		h->v_moves[i] = h->moves[k];
	}
	for (uint32_t q = 0; q < h->nq; q++) {
		const char *vm = q == DVMQ_DEFAULT_QUEUE ? "" : run_queue_vm(r, q);
		h->vms[q] = strcmp(vm, "-") == 0 ? "" : vm; /* a slot nobody holds now */
	}
	*out = (struct dvmq_ctl_history){ .step_ns = STEP_NS, .n_processors = h->np, .n_queues = h->nq,
					  .queue_ids = h->ids, .queue_vms = h->vms, .n_rows = h->n, .t_ns = h->v_t,
					  .proc_load = h->v_proc, .queue_load = h->v_queue, .awake = h->v_awake,
					  .drops_per_s = h->v_drops, .moves = h->v_moves };
	return 0;
}
