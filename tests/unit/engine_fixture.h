/* Helpers for engine tests: build an engine, add adapters, feed per-queue loads as samples. */
#ifndef DVMQ_TEST_ENGINE_FIXTURE_H
#define DVMQ_TEST_ENGINE_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "dvmq/engine.h"

#define FX_IV 100000000ull /* 100 ms */

struct fx {
	struct dvmq_engine *e;
	uint32_t n_procs, n_queues;
	uint64_t now;
	struct dvmq_proc_sample ps[256];
	struct dvmq_queue_sample qs[1024];
	double qload[1024];   /* demand per queue, fraction of a processor */
	double other[256];    /* non-network load per processor */
	const struct dvmq_plan *plan;
};

static inline int fx_init(struct fx *f, uint32_t procs, uint32_t pool, enum dvmq_policy pol,
			  const uint32_t *numa)
{
	memset(f, 0, sizeof(*f));
	struct dvmq_engine_config cfg = { .n_processors = procs, .numa_node = numa, .queue_pool = pool,
					  .max_adapters = 512, .set = { .numa_node = -1 } };
	dvmq_engine_params_default(&cfg.params);
	cfg.params.policy = pol;
	f->n_procs = procs;
	f->n_queues = pool + 1;
	return dvmq_engine_create(&cfg, &f->e);
}

static inline uint32_t fx_add(struct fx *f, uint32_t i, uint32_t weight)
{
	struct dvmq_adapter_desc d = { .mac = { 2, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i }, .weight = weight };
	uint32_t id = UINT32_MAX;
	if (dvmq_engine_adapter_add(f->e, &d, &id) != 0)
		return UINT32_MAX;
	return id;
}

/* Samples as a real host would produce them: a saturated processor serves its queues in
 * proportion, the rest waits (backlog) — busy time understates demand there. bs: per-bucket
 * counters of groups (n_bs of them, may be NULL). */
static inline int fx_round_ex(struct fx *f, const struct dvmq_bucket_sample *bs, size_t n_bs)
{
	double demand[256] = { 0 };
	for (uint32_t q = 0; q < f->n_queues; q++) {
		uint32_t p = dvmq_engine_queue_processor(f->e, q);
		if (p < f->n_procs)
			demand[p] += f->qload[q];
	}
	for (uint32_t p = 0; p < f->n_procs; p++) {
		double cap = 1.0 - f->other[p];
		double busy = f->other[p] + (demand[p] < cap ? demand[p] : cap);
		f->ps[p] = (struct dvmq_proc_sample){ .busy = busy, .awake = dvmq_engine_processor_awake(f->e, p) };
	}
	for (uint32_t q = 0; q < f->n_queues; q++) {
		uint32_t p = dvmq_engine_queue_processor(f->e, q);
		double served = f->qload[q];
		if (p < f->n_procs && demand[p] > 1.0 - f->other[p])
			served = f->qload[q] * (1.0 - f->other[p]) / demand[p];
		uint64_t busy = (uint64_t)(served * FX_IV);
		uint64_t pk = busy / 1000; /* 1 us per packet */
		uint64_t lost = (uint64_t)((f->qload[q] - served) * FX_IV) / 1000;
		f->qs[q] = (struct dvmq_queue_sample){ .busy_ns = busy, .packets = pk, .bytes = pk * 64,
						       .backlog = 0, .dropped = lost };
	}
	f->now += FX_IV;
	return dvmq_engine_plan_ex(f->e, f->now, FX_IV, f->ps, f->qs, bs, n_bs, &f->plan);
}

static inline int fx_round(struct fx *f)
{
	return fx_round_ex(f, NULL, 0);
}

/* Puts every queue on the first processor (set shrunk to one processor, then restored), the
 * starting point of most spread tests. */
static inline int fx_stack_on_first(struct fx *f)
{
	struct dvmq_processor_set one = { .max = 1, .numa_node = -1 }, all = { .numa_node = -1 };
	int rc = dvmq_engine_set_processor_set(f->e, &one, 0, NULL);
	return rc ? rc : dvmq_engine_set_processor_set(f->e, &all, 0, NULL);
}

/* Sets one engine parameter by name, as `--set NAME=VALUE` would. Returns 0 or a negative errno. */
static inline int fx_set(struct fx *f, const char *name, const char *value)
{
	struct dvmq_engine_params p = *dvmq_engine_params(f->e);
	int rc = dvmq_engine_param_set(&p, name, value);
	return rc ? rc : dvmq_engine_set_params(f->e, &p, f->now, NULL);
}

static inline uint32_t fx_awake(struct fx *f)
{
	uint32_t n = 0;
	for (uint32_t p = 0; p < f->n_procs; p++)
		n += dvmq_engine_processor_awake(f->e, p);
	return n;
}

static inline uint32_t fx_q(struct fx *f, uint32_t adapter)
{
	return (uint32_t)dvmq_engine_adapter_queue(f->e, adapter);
}

static inline uint32_t fx_proc(struct fx *f, uint32_t adapter)
{
	return dvmq_engine_queue_processor(f->e, fx_q(f, adapter));
}

#endif
