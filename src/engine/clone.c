/* dvmq_engine_clone: a deep copy of an engine, for a plan that is shown and not applied
 * (`dvmqctl rebalance --dry-run`: the clone plans on the same samples and is thrown away).
 * Invariant: the copy shares no memory with the original: every array struct dvmq_engine owns is
 * copied here (a field added to the struct that owns memory must be added here too; the unit
 * test destroys both under ASan, which a shared array turns into a double free). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

/* A copy of n bytes of src (NULL for NULL or nothing); *ok turns false when memory runs out. */
static void *dup_bytes(const void *src, size_t n, bool *ok)
{
	if (!src || n == 0)
		return NULL;
	void *p = malloc(n);
	if (!p) {
		*ok = false;
		return NULL;
	}
	memcpy(p, src, n);
	return p;
}

#define DUP(field, count) (c->field = dup_bytes(e->field, (size_t)(count) * sizeof(*e->field), &ok))

static void dup_buckets(struct eng_buckets *c, const struct eng_buckets *e, uint32_t n_procs, bool *okp)
{
	bool ok = *okp;
	c->next = dup_bytes(e->next, n_procs * sizeof(uint32_t), &ok);
	c->prev = dup_bytes(e->prev, n_procs * sizeof(uint32_t), &ok);
	c->where = dup_bytes(e->where, n_procs * sizeof(uint32_t), &ok);
	*okp = ok;
}

int dvmq_engine_clone(const struct dvmq_engine *e, struct dvmq_engine **out)
{
	if (!e || !out)
		return -EINVAL;
	struct dvmq_engine *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = *e;
	bool ok = true;
	uint32_t na = e->max_adapters ? e->max_adapters : 1;
	DUP(procs, e->n_procs);
	DUP(queues, e->n_queues);
	DUP(qnext, e->n_queues);
	DUP(qprev, e->n_queues);
	DUP(qmoves, e->n_queues);
	DUP(adapters, na);
	for (uint32_t i = 0; c->adapters && i < na; i++) {
		c->adapters[i].gs = dup_bytes(e->adapters[i].gs, sizeof(*e->adapters[i].gs), &ok);
		if (c->adapters[i].gs)
			c->adapters[i].gs->sample = NULL; /* a round's input, not state */
	}
	DUP(grp, e->cap_grp);
	DUP(pending, e->cap_pending);
	DUP(plan.bucket_moves, e->cap_bucket_moves);
	DUP(plan.group_changes, e->cap_group_changes);
	DUP(plan.moves, e->cap_moves);
	DUP(plan.park, e->n_procs);
	DUP(plan.wake, e->n_procs);
	DUP(plan.overloads, e->n_queues);
	DUP(scratch, (size_t)e->n_queues + e->n_procs);
	DUP(order, e->n_procs);
	DUP(set_list, e->n_procs);
	DUP(bucket, e->n_queues);
	DUP(bucket_start, (size_t)e->n_procs + 1);
	DUP(flag, e->n_procs);
	dup_buckets(&c->by_load, &e->by_load, e->n_procs, &ok);
	dup_buckets(&c->by_calm, &e->by_calm, e->n_procs, &ok);
	DUP(hist, (size_t)e->n_queues * OVS_HISTORY_MAX);
	DUP(tmp, e->n_procs);
	DUP(pkey, e->n_procs);
	DUP(qdest, e->n_queues);
	DUP(ovl, e->n_queues);
	DUP(qkey, e->n_queues);
	/* rsspp's solver scratch: sized like the original's, its contents a round's own */
	memset(&c->rsspp_ws, 0, sizeof(c->rsspp_ws));
	if (rsspp_workspace_init(&c->rsspp_ws, e->rsspp_ws.max_items, e->rsspp_ws.max_cores) != 0)
		ok = false;
	if (!ok) {
		dvmq_engine_destroy(c); /* every pointer is a copy or NULL: safe */
		return -ENOMEM;
	}
	*out = c;
	return 0;
}
