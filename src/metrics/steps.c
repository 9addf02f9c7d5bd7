/* Load steps with reaction and settle times, ping-pongs and returns, and the derived ratios
 * (include/dvmq/metrics.h), shared by the simulator and `dvmq run`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/metrics.h"

#define STEP_MIN_LOAD 0.10   /* a step must add a tenth of a processor to count */
#define MAX_EVENTS 200000u

struct step {
	uint64_t at;
	bool counted, answered;
	uint32_t n_hot;
	uint32_t hot[4];          /* overloaded processors seen right after the step */
	uint64_t reaction_ns, last_bad_end;
};

struct dvmq_steps {
	struct step *ev;
	size_t n, cap, next, open;
};

static int add_event(struct dvmq_steps *st, uint64_t at)
{
	if (st->n == MAX_EVENTS)
		return 0;
	if (st->n == st->cap) {
		size_t c = st->cap ? st->cap * 2 : 64;
		struct step *e = realloc(st->ev, c * sizeof(*e));
		if (!e)
			return -ENOMEM;
		st->ev = e;
		st->cap = c;
	}
	memset(&st->ev[st->n], 0, sizeof(st->ev[0]));
	st->ev[st->n++].at = at;
	return 0;
}

static int cmp_event(const void *a, const void *b)
{
	const struct step *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Upward jumps of each VM's offered load: arrivals, step and trace points, burst edges. */
static int find_steps(struct dvmq_steps *st, const struct dvmq_scenario *s, uint64_t dur)
{
	for (size_t v = 0; v < s->n_vms; v++) {
		const struct dvmq_vm *d = &s->vms[v];
		/* pps that make a tenth of a processor for this VM */
		double min_jump = STEP_MIN_LOAD * 1e9 / d->cost_ns / (d->scale > 0 ? d->scale : 1.0);
		if (d->arrive_ns > 0 && d->arrive_ns < dur && dvmq_load_at(&d->load, d->arrive_ns) >= min_jump &&
		    add_event(st, d->arrive_ns))
			return -ENOMEM;
		for (size_t t = 0; t < d->load.n_terms; t++) {
			const struct dvmq_load_term *lt = &d->load.terms[t];
			if (lt->kind == DVMQ_LOAD_STEPS || lt->kind == DVMQ_LOAD_TRACE) {
				for (size_t i = 1; i < lt->n_points; i++)
					if (lt->points[i].v - lt->points[i - 1].v >= min_jump &&
					    lt->points[i].t_ns < dur && lt->points[i].t_ns >= d->arrive_ns &&
					    add_event(st, lt->points[i].t_ns))
						return -ENOMEM;
			} else if (lt->kind == DVMQ_LOAD_BURST && lt->on - lt->off >= min_jump) {
				uint64_t first = (lt->period_ns - lt->phase_ns % lt->period_ns) % lt->period_ns;
				for (uint64_t at = first; at < dur; at += lt->period_ns)
					if (at > 0 && at >= d->arrive_ns && add_event(st, at))
						return -ENOMEM;
			}
		}
	}
	return 0;
}

int dvmq_steps_create(const struct dvmq_scenario *s, uint64_t duration_ns, struct dvmq_steps **out)
{
	struct dvmq_steps *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (find_steps(st, s, duration_ns)) {
		dvmq_steps_destroy(st);
		return -ENOMEM;
	}
	if (st->n)
		qsort(st->ev, st->n, sizeof(st->ev[0]), cmp_event);
	/* steps within one interval are one step */
	size_t n = 0;
	for (size_t i = 0; i < st->n; i++)
		if (n == 0 || st->ev[i].at >= st->ev[n - 1].at + s->host.interval_ns)
			st->ev[n++] = st->ev[i];
	st->n = n;
	st->open = SIZE_MAX;
	*out = st;
	return 0;
}

void dvmq_steps_destroy(struct dvmq_steps *st)
{
	if (!st)
		return;
	free(st->ev);
	free(st);
}

void dvmq_steps_interval(struct dvmq_steps *st, uint64_t now, const struct dvmq_proc_sample *ps,
			 const uint32_t *movable_on, uint32_t n_procs, double high, bool bad)
{
	/* an unanswered step whose overload ended without a move stays unanswered: a move seconds
	 * later, in another overload of the same processor, is no answer to it */
	if (st->open != SIZE_MAX && !st->ev[st->open].answered) {
		const struct step *ev = &st->ev[st->open];
		bool still = false;
		for (uint32_t i = 0; i < ev->n_hot && !still; i++)
			still = ps[ev->hot[i]].busy > high;
		if (!still)
			st->open = SIZE_MAX;
	}
	while (st->next < st->n && st->ev[st->next].at < now) {
		struct step *ev = &st->ev[st->next++];
		for (uint32_t p = 0; p < n_procs && ev->n_hot < 4; p++)
			/* answerable: a second queue at or above the floor can leave p (one alone, an
			 * elephant among crumbs, leaves nothing whose move relieves p) */
			if (ps[p].busy > high && movable_on[p] >= 2)
				ev->hot[ev->n_hot++] = p;
		if (ev->n_hot == 0)
			continue;
		ev->counted = true;
		st->open = (size_t)(ev - st->ev);
	}
	if (bad && st->open != SIZE_MAX)
		st->ev[st->open].last_bad_end = now;
}

void dvmq_steps_move(struct dvmq_steps *st, const struct dvmq_move *mv, uint64_t now)
{
	if (st->open == SIZE_MAX || mv->reason == DVMQ_REASON_COALESCE)
		return;
	struct step *ev = &st->ev[st->open];
	for (uint32_t i = 0; i < ev->n_hot && !ev->answered; i++) {
		if (ev->hot[i] == mv->from) {
			ev->answered = true;
			ev->reaction_ns = now - ev->at;
		}
	}
}

void dvmq_steps_finish(const struct dvmq_steps *st, struct dvmq_result *r)
{
	uint64_t worst_reaction = 0, worst_settle = 0;
	for (size_t i = 0; i < st->n; i++) {
		const struct step *ev = &st->ev[i];
		if (!ev->counted)
			continue;
		r->steps++;
		if (!ev->answered) {
			r->unanswered_steps++;
			continue;
		}
		r->has_reaction = true;
		if (ev->reaction_ns > worst_reaction)
			worst_reaction = ev->reaction_ns;
		r->has_settle = true;
		uint64_t settle = ev->last_bad_end > ev->at ? ev->last_bad_end - ev->at : 0;
		if (settle > worst_settle)
			worst_settle = settle;
	}
	r->reaction_ms = (double)worst_reaction * 1e-6;
	r->settle_ms = (double)worst_settle * 1e-6;
}

unsigned dvmq_queue_moves_record(struct dvmq_queue_moves *m, uint32_t from, uint32_t to, uint64_t now)
{
	unsigned flags = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		uint64_t age = now - m->recent[i].at;
		if (m->recent[i].from == to && age < DVMQ_RETURN_WINDOW_NS) {
			flags |= DVMQ_MOVE_RETURN;
			if (m->recent[i].to == from && age < DVMQ_PINGPONG_WINDOW_NS)
				flags |= DVMQ_MOVE_PINGPONG;
		}
	}
	if (m->n == DVMQ_QUEUE_MOVES_RECENT) {
		memmove(m->recent, m->recent + 1, sizeof(m->recent[0]) * (DVMQ_QUEUE_MOVES_RECENT - 1));
		m->n--;
	}
	m->recent[m->n].from = from;
	m->recent[m->n].to = to;
	m->recent[m->n].at = now;
	m->n++;
	return flags;
}

void dvmq_queue_moves_reset(struct dvmq_queue_moves *m)
{
	m->n = 0;
}

void dvmq_queue_moves_operator(struct dvmq_queue_moves *m)
{
	m->n = 0;
}

void dvmq_result_derive(struct dvmq_result *r, double queue_ns)
{
	double handled = (double)r->delivered + (double)r->dropped;
	r->drop_ratio = handled > 0.0 ? (double)r->dropped / handled : 0.0;
	double queue_min = queue_ns / 60e9;
	r->moves_per_queue_minute = queue_min > 0.0 ? (double)r->moves / queue_min : 0.0;
	r->awake_over_oracle =
		r->oracle_processors_mean > 0.0 ? r->awake_processors_mean / r->oracle_processors_mean : 0.0;
}
