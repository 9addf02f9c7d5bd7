/* Helpers for tests of VM queue groups (VMMQ): a VM's load split over its 128 buckets by weights,
 * its queues' loads derived from the group's indirection table, and its per-bucket sample. */
#ifndef DVMQ_TEST_GROUP_FIXTURE_H
#define DVMQ_TEST_GROUP_FIXTURE_H

#include "engine_fixture.h"

#define GV_BUCKETS DVMQ_INDIRECTION_ENTRIES

struct gvm {
	uint32_t adapter;
	double load;          /* the VM's demand, fraction of a processor */
	double w[GV_BUCKETS]; /* bucket weights, summing to 1 */
};

static inline uint32_t gv_add(struct fx *f, uint32_t i, uint32_t weight, uint32_t max_queues)
{
	struct dvmq_adapter_desc d = { .mac = { 2, 0, 0, 1, (uint8_t)(i >> 8), (uint8_t)i }, .weight = weight,
				       .max_queues = max_queues };
	uint32_t id = UINT32_MAX;
	if (dvmq_engine_adapter_add(f->e, &d, &id) != 0)
		return UINT32_MAX;
	return id;
}

static inline void gv_uniform(struct gvm *v)
{
	for (uint32_t b = 0; b < GV_BUCKETS; b++)
		v->w[b] = 1.0 / GV_BUCKETS;
}

/* One bucket carries `share` of the load, the rest spread evenly over the others. */
static inline void gv_elephant(struct gvm *v, uint32_t bucket, double share)
{
	for (uint32_t b = 0; b < GV_BUCKETS; b++)
		v->w[b] = (1.0 - share) / (GV_BUCKETS - 1);
	v->w[bucket] = share;
}

/* The queue that serves bucket b now. */
static inline uint32_t gv_queue_of(struct fx *f, const struct gvm *v, uint32_t b)
{
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f->e, v->adapter);
	return g->queues[g->indirection[b]];
}

static inline uint32_t gv_n_queues(struct fx *f, const struct gvm *v)
{
	return dvmq_engine_adapter_group(f->e, v->adapter)->n_queues;
}

/* Sets the VMs' queue loads from their groups, and their bucket samples (1 us per packet, as
 * fx_round counts). */
static inline void gv_apply(struct fx *f, const struct gvm *vms, uint32_t n, struct dvmq_bucket_sample *bs)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f->e, vms[i].adapter);
		for (uint32_t k = 0; k < g->n_queues; k++)
			f->qload[g->queues[k]] = 0.0;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f->e, vms[i].adapter);
		bs[i].adapter = vms[i].adapter;
		for (uint32_t b = 0; b < GV_BUCKETS; b++) {
			double l = vms[i].load * vms[i].w[b];
			f->qload[g->queues[g->indirection[b]]] += l;
			bs[i].packets[b] = (uint64_t)(l * (double)FX_IV / 1000.0);
			bs[i].bytes[b] = bs[i].packets[b] * 64;
		}
	}
}

/* One round with the VMs' loads and samples. */
static inline int gv_round(struct fx *f, const struct gvm *vms, uint32_t n)
{
	static struct dvmq_bucket_sample bs[64];
	if (n > 64)
		return -1;
	gv_apply(f, vms, n, bs);
	return fx_round_ex(f, bs, n);
}

static inline size_t plan_bucket_moves(const struct dvmq_plan *p, enum dvmq_reason why)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_bucket_moves; i++)
		n += p->bucket_moves[i].reason == why;
	return n;
}

static inline size_t plan_group_changes(const struct dvmq_plan *p, enum dvmq_group_change_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_group_changes; i++)
		n += p->group_changes[i].kind == kind;
	return n;
}

#endif
