/* Property tests over thousands of random hosts and load sequences:
 * - every active queue always has exactly one processor, inside the processor set;
 * - no plan predicts a spread destination over the high threshold;
 * - the pool invariant holds after every adapter change;
 * - adaptive never ping-pongs (no B->A within 1 s of A->B). */
#include <stdlib.h>

#include "../harness.h"
#include "dvmq/engine.h"

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static double rndf(void)
{
	return rnd(1000000) / 1e6;
}

struct move_log {
	uint32_t q, adapter, from, to;
	uint64_t at;
};

static void one_host(uint64_t seed, enum dvmq_policy pol)
{
	rng_state = seed * 2654435761ull + 1;
	uint32_t n_procs = 1 + rnd(24), nodes = 1 + rnd(n_procs < 4 ? n_procs : 4);
	uint32_t numa[24];
	for (uint32_t p = 0; p < n_procs; p++)
		numa[p] = p * nodes / n_procs;
	uint32_t pool = rnd(40);
	uint32_t ex[2] = { rnd(n_procs), rnd(n_procs) };
	struct dvmq_engine_config cfg = {
		.n_processors = n_procs, .numa_node = numa, .queue_pool = pool, .max_adapters = 64,
		.set = { .base = rnd(2) ? 0 : rnd(n_procs), .max = rnd(3) ? 0 : 1 + rnd(n_procs),
			 .numa_node = rnd(4) ? -1 : (int32_t)numa[rnd(n_procs)], .excluded = ex,
			 .n_excluded = rnd(3) ? 0 : 1 + rnd(2) },
	};
	dvmq_engine_params_default(&cfg.params);
	cfg.params.policy = pol;
	struct dvmq_engine *e;
	if (dvmq_engine_create(&cfg, &e) != 0)
		return; /* an empty random set: refusal is the right answer */
	const double high = cfg.params.high;
	uint32_t n_q = pool + 1;
	double *load = calloc(n_q, sizeof(double));
	double *other = calloc(n_procs, sizeof(double));
	struct dvmq_proc_sample *ps = calloc(n_procs, sizeof(*ps));
	struct dvmq_queue_sample *qs = calloc(n_q, sizeof(*qs));
	struct move_log *log = calloc(4096, sizeof(*log));
	size_t n_log = 0;
	uint32_t ids[64], wts[64];
	uint32_t n_ids = 0;
	const uint64_t iv = 100000000ull;
	for (uint32_t round = 1; round <= 60; round++) {
		/* churn */
		if (rnd(4) == 0 && n_ids < 60) {
			struct dvmq_adapter_desc d = { .mac = { 2, 0, 0, 0, (uint8_t)(seed >> 3), (uint8_t)round },
						       .weight = rnd(101) };
			if (dvmq_engine_adapter_add(e, &d, &ids[n_ids]) == 0)
				wts[n_ids++] = d.weight;
		}
		if (rnd(10) == 0 && n_ids > 0) {
			uint32_t k = rnd(n_ids);
			CHECK(dvmq_engine_adapter_remove(e, ids[k]) == 0);
			n_ids--;
			ids[k] = ids[n_ids];
			wts[k] = wts[n_ids];
		}
		if (rnd(10) == 0 && n_ids > 0) {
			uint32_t k = rnd(n_ids);
			wts[k] = rnd(101);
			CHECK(dvmq_engine_adapter_set_weight(e, ids[k], wts[k]) == 0);
		}
		/* loads: random walk with occasional steps */
		for (uint32_t q = 0; q < n_q; q++) {
			if (rnd(8) == 0)
				load[q] = rndf() * 0.7;
			else
				load[q] *= 0.9 + 0.2 * rndf();
		}
		for (uint32_t p = 0; p < n_procs; p++)
			other[p] = rnd(5) == 0 ? rndf() * 0.5 : other[p];
		double demand[24] = { 0 };
		for (uint32_t q = 0; q < n_q; q++) {
			uint32_t p = dvmq_engine_queue_processor(e, q);
			if (p != DVMQ_NO_PROCESSOR)
				demand[p] += load[q];
		}
		for (uint32_t p = 0; p < n_procs; p++) {
			double b = other[p] + demand[p];
			ps[p] = (struct dvmq_proc_sample){ .busy = b > 1 ? 1 : b,
							   .awake = dvmq_engine_processor_awake(e, p) };
		}
		for (uint32_t q = 0; q < n_q; q++) {
			uint32_t p = dvmq_engine_queue_processor(e, q);
			double cap = p == DVMQ_NO_PROCESSOR ? 1 : 1 - other[p];
			double f = p != DVMQ_NO_PROCESSOR && demand[p] > cap ? cap / demand[p] : 1.0;
			uint64_t busy = (uint64_t)(load[q] * f * iv);
			qs[q] = (struct dvmq_queue_sample){ .busy_ns = busy, .packets = busy / 500,
							    .bytes = busy / 5, .backlog = rnd(100),
							    .dropped = (uint64_t)(load[q] * (1 - f) * iv / 500) };
		}
		const struct dvmq_plan *plan;
		uint64_t now = round * iv;
		CHECK(dvmq_engine_plan(e, now, iv, ps, qs, &plan) == 0);
		for (size_t i = 0; i < plan->n_moves; i++) {
			const struct dvmq_move *m = &plan->moves[i];
			CHECK(dvmq_engine_processor_in_set(e, m->to));
			CHECK(m->from != m->to);
			if (m->reason == DVMQ_REASON_SPREAD)
				CHECK_MSG(m->dst_after <= high + 1e-9, "seed %llu: spread predicts %.3f > high",
					  (unsigned long long)seed, m->dst_after);
			if (m->reason == DVMQ_REASON_COALESCE)
				CHECK(m->dst_after <= high + 1e-9);
			if (pol == DVMQ_POLICY_ADAPTIVE) {
				for (size_t k = 0; k < n_log; k++)
					CHECK_MSG(!(log[k].q == m->queue && log[k].from == m->to &&
						    log[k].adapter == dvmq_engine_queue_adapter(e, m->queue) &&
						    log[k].to == m->from && now - log[k].at < 1000000000ull),
						  "seed %llu: adaptive ping-pong of queue %u", (unsigned long long)seed,
						  m->queue);
			}
			if (n_log < 4096)
				log[n_log++] = (struct move_log){ m->queue, dvmq_engine_queue_adapter(e, m->queue),
								  m->from, m->to, now };
		}
		/* invariants: one processor in the set per active queue; queue counts add up */
		uint32_t active = 0;
		for (uint32_t q = 0; q < n_q; q++) {
			uint32_t p = dvmq_engine_queue_processor(e, q);
			if (p == DVMQ_NO_PROCESSOR)
				continue;
			active++;
			CHECK(dvmq_engine_processor_in_set(e, p));
			CHECK(dvmq_engine_processor_awake(e, p));
		}
		/* pool: holders are the heaviest; nobody with weight > 0 waits while a VMQ is free */
		uint32_t holders = 0, waiting_max = 0, holding_min = 101;
		for (uint32_t i = 0; i < n_ids; i++) {
			const struct dvmq_queue_group *g = dvmq_engine_adapter_group(e, ids[i]);
			CHECK(g && g->n_queues == 1);
			if (g->queues[0] != DVMQ_DEFAULT_QUEUE) {
				holders++;
				CHECK(wts[i] > 0);
				CHECK(dvmq_engine_queue_adapter(e, g->queues[0]) == ids[i]);
				if (wts[i] < holding_min)
					holding_min = wts[i];
			} else if (wts[i] > waiting_max) {
				waiting_max = wts[i];
			}
		}
		CHECK(holders <= pool);
		CHECK(waiting_max <= holding_min || holders == 0);
		CHECK(waiting_max == 0 || holders == pool);
		CHECK(active == holders + 1);
		if (test_failed())
			break;
	}
	free(load);
	free(other);
	free(ps);
	free(qs);
	free(log);
	dvmq_engine_destroy(e);
}

TEST(property_random_hosts_all_policies)
{
	for (uint64_t seed = 1; seed <= 3000 && !test_failed(); seed++)
		one_host(seed, (enum dvmq_policy)(seed % DVMQ_POLICY_COUNT));
}

TEST(property_adaptive_never_pingpongs)
{
	for (uint64_t seed = 5000; seed < 7000 && !test_failed(); seed++)
		one_host(seed, DVMQ_POLICY_ADAPTIVE);
}
