/* VM adapters and the queue pool.
 * Invariant: the adapters holding a VMQ are exactly the top queue_pool adapters of weight > 0,
 * ordered by weight (highest first) then arrival (first come, first served). Every change of the
 * adapter table re-establishes it, so a freed VMQ goes to the heaviest adapter still waiting.
 * Groups (VMMQ): a VM's first queue comes before any VM's extra queues, whatever the weights: a
 * group holds an extra queue only while no adapter of weight > 0 waits for its first one, and an
 * adapter that arrives to a full pool takes an extra queue (the lowest-ranked group's least
 * loaded) before it could take a first queue from a lower-weight VM. Why: a first VMQ takes a VM
 * off the default queue's full switch path, an extra one only adds parallelism to a VM that has
 * a queue already; and a waiting VM of any weight would otherwise starve behind a big group. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static void group_single(struct dvmq_queue_group *g, uint32_t q)
{
	g->n_queues = 1;
	g->queues[0] = q;
	memset(g->indirection, 0, sizeof(g->indirection));
}

/* Higher weight first, then earlier arrival. */
static bool outranks(const struct eng_adapter *a, const struct eng_adapter *b)
{
	if (a->desc.weight != b->desc.weight)
		return a->desc.weight > b->desc.weight;
	return a->seq < b->seq;
}

static bool holds_vmq(const struct eng_adapter *a)
{
	return a->group.queues[0] != DVMQ_DEFAULT_QUEUE;
}

static void revoke(struct dvmq_engine *e, struct eng_adapter *a)
{
	eng_group_release(e, a);
}

void eng_pool_rebalance(struct dvmq_engine *e)
{
	uint32_t pool = e->n_queues - 1;
	for (uint32_t i = 0; i < e->max_adapters; i++)
		if (e->adapters[i].used && e->adapters[i].desc.weight == 0 && holds_vmq(&e->adapters[i]))
			revoke(e, &e->adapters[i]);
	/* Hand queues to the best waiter until none outranks the worst holder. O(A) per step and
	 * adapter changes are rare control-path events, so no sort buffer is kept. */
	for (;;) {
		uint32_t worst = UINT32_MAX, best = UINT32_MAX, n_holders = 0;
		for (uint32_t i = 0; i < e->max_adapters; i++) {
			struct eng_adapter *a = &e->adapters[i];
			if (!a->used)
				continue;
			if (holds_vmq(a)) {
				n_holders += a->group.n_queues; /* slots in use, extra queues too */
				if (worst == UINT32_MAX || outranks(&e->adapters[worst], a))
					worst = i;
			} else if (a->desc.weight > 0 &&
				   (best == UINT32_MAX || outranks(a, &e->adapters[best]))) {
				best = i;
			}
		}
		if (best == UINT32_MAX)
			return;
		uint32_t free_q = 0, extra = eng_group_lowest_extra(e);
		if (n_holders < pool) {
			for (uint32_t q = 1; q < e->n_queues && free_q == 0; q++)
				if (!e->queues[q].active)
					free_q = q;
		} else if (extra != ENG_NIL) {
			/* first queues before extra ones (file comment) */
			struct eng_adapter *g = &e->adapters[extra];
			free_q = eng_group_drop(e, g, eng_group_least_extra(e, g), DVMQ_GROUP_WHY_POOL);
		} else if (worst != UINT32_MAX && outranks(&e->adapters[best], &e->adapters[worst])) {
			free_q = e->adapters[worst].group.queues[0];
			revoke(e, &e->adapters[worst]);
		}
		if (free_q == 0)
			return;
		eng_queue_activate(e, free_q, best);
		group_single(&e->adapters[best].group, free_q);
	}
}

int dvmq_engine_adapter_add(struct dvmq_engine *e, const struct dvmq_adapter_desc *d, uint32_t *id)
{
	if (!e || !d || !id || d->weight > 100 || d->vlan > 4094 || d->max_queues > DVMQ_MAX_GROUP_QUEUES)
		return -EINVAL;
	uint32_t slot = UINT32_MAX;
	for (uint32_t i = 0; i < e->max_adapters; i++) {
		struct eng_adapter *a = &e->adapters[i];
		if (!a->used) {
			if (slot == UINT32_MAX)
				slot = i;
			continue;
		}
		if (a->desc.vlan == d->vlan && memcmp(a->desc.mac, d->mac, 6) == 0)
			return -EEXIST;
	}
	if (slot == UINT32_MAX)
		return -ENOSPC;
	struct eng_adapter *a = &e->adapters[slot];
	a->desc = *d;
	a->seq = e->next_seq;
	group_single(&a->group, DVMQ_DEFAULT_QUEUE);
	int rc = eng_group_adapter_added(e, slot);
	if (rc)
		return rc;
	a->used = true;
	e->next_seq++;
	eng_pool_rebalance(e);
	*id = slot;
	return 0;
}

int dvmq_engine_adapter_remove(struct dvmq_engine *e, uint32_t id)
{
	if (!e || id >= e->max_adapters || !e->adapters[id].used)
		return -ENOENT;
	struct eng_adapter *a = &e->adapters[id];
	if (holds_vmq(a))
		eng_group_release(e, a);
	eng_group_adapter_removed(e, id);
	a->used = false;
	eng_pool_rebalance(e);
	return 0;
}

int dvmq_engine_adapter_set_weight(struct dvmq_engine *e, uint32_t id, uint32_t weight)
{
	if (!e || id >= e->max_adapters || !e->adapters[id].used)
		return -ENOENT;
	if (weight > 100)
		return -EINVAL;
	e->adapters[id].desc.weight = weight;
	eng_pool_rebalance(e);
	return 0;
}

const struct dvmq_queue_group *dvmq_engine_adapter_group(const struct dvmq_engine *e, uint32_t id)
{
	if (!e || id >= e->max_adapters || !e->adapters[id].used)
		return NULL;
	return &e->adapters[id].group;
}

int64_t dvmq_engine_adapter_queue(const struct dvmq_engine *e, uint32_t id)
{
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(e, id);
	return g ? (int64_t)g->queues[0] : -ENOENT;
}
