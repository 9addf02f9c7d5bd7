/* Property tests of VM queue groups over hundreds of random hosts, VM loads, bucket skews, other
 * loads, adapter churn and max-queues changes (adaptive):
 * - a group never holds more than its max-queues, nor a queue that is not its adapter's, and its
 *   128 buckets always point at queues of the group (the sum of its buckets is 128);
 * - no bucket ping-pongs: no bucket moves B->A less than 1 s after it moved A->B (with dwell 0 too:
 *   the return guard alone must hold);
 * - shrinking never overloads: a bucket folded by a shrink never takes its processor over pack;
 * - the queues of a group are on processors of their own;
 * - every active queue is on a processor of the set. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "group_fixture.h"

#define PG_VMS 8u
#define PG_PLAIN 6u

static uint64_t pg_rng;

static uint32_t pg_rnd(uint32_t n)
{
	pg_rng ^= pg_rng << 13;
	pg_rng ^= pg_rng >> 7;
	pg_rng ^= pg_rng << 17;
	return (uint32_t)(pg_rng % n);
}

static double pg_rndf(void)
{
	return pg_rnd(1000000) / 1e6;
}

static void pg_skew(struct gvm *v)
{
	switch (pg_rnd(3)) {
	case 0:
		gv_uniform(v);
		break;
	case 1:
		gv_elephant(v, pg_rnd(GV_BUCKETS), 0.05 + 0.6 * pg_rndf());
		break;
	default: { /* zipf 1 over a shuffled order */
		double sum = 0.0;
		for (uint32_t b = 0; b < GV_BUCKETS; b++)
			sum += v->w[b] = 1.0 / (1.0 + pg_rnd(GV_BUCKETS));
		for (uint32_t b = 0; b < GV_BUCKETS; b++)
			v->w[b] /= sum;
	}
	}
}

/* The last logged move of each (VM, bucket). */
struct pg_last {
	uint32_t from, to;
	uint64_t at;
	bool any;
};

enum pg_mode { PG_DEFAULT, PG_NO_DWELL };

/* Runs n_hosts random hosts; returns false (after a CHECK-style message) at the first violation. */
static bool pg_run(enum pg_mode mode, uint32_t n_hosts, uint32_t rounds)
{
	static struct pg_last last[PG_VMS][GV_BUCKETS];
	for (uint32_t h = 0; h < n_hosts; h++) {
		struct fx f;
		uint32_t procs = 2 + pg_rnd(11), pool = 3 + pg_rnd(30);
		if (fx_init(&f, procs, pool, DVMQ_POLICY_ADAPTIVE, NULL) != 0) {
			test_fail(__FILE__, __LINE__, "fx_init");
			return false;
		}
		if (mode == PG_NO_DWELL)
			fx_set(&f, "dwell", "0");
		double pack = dvmq_engine_params(f.e)->pack;
		struct gvm vm[PG_VMS];
		uint32_t n_vm = 1 + pg_rnd(PG_VMS), plain[PG_PLAIN], n_plain = pg_rnd(PG_PLAIN + 1);
		memset(vm, 0, sizeof(vm));
		memset(last, 0, sizeof(last));
		for (uint32_t i = 0; i < n_vm; i++) {
			vm[i].adapter = gv_add(&f, i, 1 + pg_rnd(100), 1 + pg_rnd(6));
			vm[i].load = 0.05 + 3.0 * pg_rndf();
			pg_skew(&vm[i]);
		}
		for (uint32_t i = 0; i < n_plain; i++)
			plain[i] = fx_add(&f, 100 + i, 1 + pg_rnd(100));
		for (uint32_t r = 0; r < rounds; r++) {
			/* loads wander, sometimes jump; other work comes and goes; VMs come and go */
			for (uint32_t i = 0; i < n_vm; i++) {
				vm[i].load *= exp(0.15 * (pg_rndf() - 0.5));
				if (pg_rnd(40) == 0)
					vm[i].load = 0.05 + 3.0 * pg_rndf();
				if (pg_rnd(200) == 0)
					pg_skew(&vm[i]);
				if (pg_rnd(300) == 0)
					dvmq_engine_adapter_set_max_queues(f.e, vm[i].adapter, 1 + pg_rnd(6));
			}
			for (uint32_t i = 0; i < n_plain; i++) {
				f.qload[fx_q(&f, plain[i])] = 0.3 * pg_rndf();
				if (pg_rnd(150) == 0) {
					dvmq_engine_adapter_remove(f.e, plain[i]);
					plain[i] = fx_add(&f, 100 + i, 1 + pg_rnd(100));
				}
			}
			if (pg_rnd(20) == 0)
				f.other[pg_rnd(procs)] = 0.6 * pg_rndf();
			if (gv_round(&f, vm, n_vm) != 0) {
				test_fail(__FILE__, __LINE__, "round");
				return false;
			}
			for (size_t i = 0; i < f.plan->n_bucket_moves; i++) {
				const struct dvmq_bucket_move *m = &f.plan->bucket_moves[i];
				uint32_t v = 0;
				while (v < n_vm && vm[v].adapter != m->adapter)
					v++;
				if (v == n_vm) {
					test_fail(__FILE__, __LINE__, "a bucket move of adapter %u, no group VM", m->adapter);
					return false;
				}
				struct pg_last *l = &last[v][m->bucket];
				if (l->any && l->to == m->from && l->from == m->to && f.now - l->at < 1000000000ull) {
					test_fail(__FILE__, __LINE__,
						  "host %u round %u: bucket %u of VM %u back %u->%u %.1f s after %u->%u", h, r,
						  m->bucket, v, m->from, m->to, (double)(f.now - l->at) * 1e-9, l->from, l->to);
					return false;
				}
				*l = (struct pg_last){ .from = m->from, .to = m->to, .at = f.now, .any = true };
				if (m->reason == DVMQ_REASON_SHRINK && m->dst_after > pack + 1e-9) {
					test_fail(__FILE__, __LINE__, "host %u round %u: a shrink takes processor %u to %.3f > pack",
						  h, r, m->to_proc, m->dst_after);
					return false;
				}
			}
			for (uint32_t i = 0; i < n_vm; i++) {
				const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f.e, vm[i].adapter);
				uint32_t max = dvmq_engine_adapter_max_queues(f.e, vm[i].adapter);
				if (g->n_queues > max) {
					test_fail(__FILE__, __LINE__, "host %u round %u: VM %u holds %u queues, max %u", h, r,
						  i, g->n_queues, max);
					return false;
				}
				uint32_t count[DVMQ_MAX_GROUP_QUEUES] = { 0 }, sum = 0;
				for (uint32_t b = 0; b < GV_BUCKETS; b++)
					if (g->indirection[b] < g->n_queues)
						count[g->indirection[b]]++;
				for (uint32_t k = 0; k < g->n_queues; k++) {
					uint32_t q = g->queues[k], p = dvmq_engine_queue_processor(f.e, q);
					sum += count[k];
					bool own = q == DVMQ_DEFAULT_QUEUE ? g->n_queues == 1
									: dvmq_engine_queue_adapter(f.e, q) == vm[i].adapter;
					if (!own || p == DVMQ_NO_PROCESSOR || !dvmq_engine_processor_in_set(f.e, p)) {
						test_fail(__FILE__, __LINE__, "host %u round %u: VM %u's queue %u is not its own",
							  h, r, i, q);
						return false;
					}
					for (uint32_t j = 0; j < k; j++)
						if (g->queues[j] == q ||
						    (q != DVMQ_DEFAULT_QUEUE && dvmq_engine_queue_processor(f.e, g->queues[j]) == p)) {
							test_fail(__FILE__, __LINE__,
								  "host %u round %u: VM %u's queues %u and %u on processor %u",
								  h, r, i, g->queues[j], q, p);
							return false;
						}
				}
				if (sum != GV_BUCKETS) {
					test_fail(__FILE__, __LINE__, "host %u round %u: VM %u's buckets sum to %u", h, r, i, sum);
					return false;
				}
			}
		}
		dvmq_engine_destroy(f.e);
	}
	return true;
}

TEST(property_group_invariants_and_no_bucket_pingpong)
{
	pg_rng = 0x5eed0017u;
	if (!pg_run(PG_DEFAULT, 150, 120))
		return;
}

TEST(property_group_no_bucket_pingpong_without_dwell)
{
	pg_rng = 0x5eed1017u;
	if (!pg_run(PG_NO_DWELL, 150, 120))
		return;
}
