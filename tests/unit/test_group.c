/* Dynamic VMMQ's rules (src/engine/policy_group.c, group.c, pool.c), one test each, built so that
 * the rule alone decides the outcome; where it can, a test runs the same host with the rule
 * switched off (max-queues 1, a parameter) and sees the outcome change.
 * Rules: grow on a single-queue overload, never past max-queues, only with a free queue (first
 * queues first, whatever the weights), on a processor without a queue of the group; RSS++'s
 * balance within a group (heaviest bucket first, to the least loaded queue where it fits); no
 * bucket back within return-guard; bucket dwell; min-gain for a relief; shrink when one queue fewer
 * fits under pack for coalesce-rounds rounds, not within return-guard of a grow; max-queues
 * lowered folds at once; bucket samples size the buckets; one bucket is the limit of spreading. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "../harness.h"
#include "group_fixture.h"

/* A host of n processors, a pool of `pool` queues, and one VM of max-queues max and load l. */
static bool one_vm(struct fx *f, struct gvm *v, uint32_t procs, uint32_t pool, uint32_t max, double l)
{
	if (fx_init(f, procs, pool, DVMQ_POLICY_ADAPTIVE, NULL) != 0)
		return false;
	memset(v, 0, sizeof(*v));
	v->adapter = gv_add(f, 1, 100, max);
	v->load = l;
	gv_uniform(v);
	return v->adapter != UINT32_MAX;
}

static double proc_pred(struct fx *f, uint32_t p)
{
	return dvmq_engine_processor_predicted(f->e, p);
}

/* Checks the group's own invariants: queues active, distinct, the adapter's; entries < n. */
static bool group_sane(struct fx *f, uint32_t adapter)
{
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f->e, adapter);
	if (!g || g->n_queues < 1 || g->n_queues > DVMQ_MAX_GROUP_QUEUES)
		return false;
	for (uint32_t k = 0; k < g->n_queues; k++) {
		if (g->queues[k] != DVMQ_DEFAULT_QUEUE && dvmq_engine_queue_adapter(f->e, g->queues[k]) != adapter)
			return false;
		for (uint32_t j = 0; j < k; j++)
			if (g->queues[j] == g->queues[k])
				return false;
	}
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		if (g->indirection[b] >= g->n_queues)
			return false;
	return true;
}

/* Rounds until the group has n queues (at most `rounds`); returns the rounds taken or -1. */
static int rounds_to_size(struct fx *f, struct gvm *v, uint32_t n, int rounds)
{
	for (int r = 1; r <= rounds; r++) {
		if (gv_round(f, v, 1) != 0)
			return -1;
		if (gv_n_queues(f, v) == n)
			return r;
	}
	return -1;
}

TEST(group_grows_where_a_queue_alone_overloads_its_processor)
{
	struct fx f;
	struct gvm v;
	CHECK(one_vm(&f, &v, 4, 8, 4, 1.4));
	uint32_t q0 = gv_queue_of(&f, &v, 0), p0 = dvmq_engine_queue_processor(f.e, q0);
	CHECK(gv_round(&f, &v, 1) == 0);
	CHECK(f.plan->n_group_changes == 1);
	const struct dvmq_group_change *c = &f.plan->group_changes[0];
	CHECK(c->kind == DVMQ_GROUP_GROW && c->why == DVMQ_GROUP_WHY_OVERLOAD && c->n_before == 1 && c->n_after == 2);
	CHECK(c->processor != p0 && dvmq_engine_queue_processor(f.e, c->queue) == c->processor);
	CHECK(c->n_buckets > 0 && c->n_buckets == plan_bucket_moves(f.plan, DVMQ_REASON_GROW));
	for (size_t i = 0; i < f.plan->n_bucket_moves; i++) {
		const struct dvmq_bucket_move *m = &f.plan->bucket_moves[i];
		CHECK(m->from == q0 && m->to == c->queue && m->to_proc == c->processor && m->dst_after <= 0.9 + 1e-9);
	}
	CHECK(proc_pred(&f, p0) <= 0.9 + 1e-9); /* the overload ends in the round it is seen */
	CHECK(f.plan->n_overloads == 0);
	CHECK(group_sane(&f, v.adapter));
	dvmq_engine_destroy(f.e);

	/* rule off: max-queues 1, a plain VMQ: no group change, the overload is reported */
	CHECK(one_vm(&f, &v, 4, 8, 1, 1.4));
	CHECK(gv_round(&f, &v, 1) == 0);
	CHECK(f.plan->n_group_changes == 0 && f.plan->n_bucket_moves == 0);
	CHECK(f.plan->n_overloads == 1 && f.plan->overloads[0].group == DVMQ_OVERLOAD_NO_GROUP);
	dvmq_engine_destroy(f.e);
}

TEST(group_grows_as_far_as_needed_and_never_past_max_queues)
{
	struct fx f;
	struct gvm v;
	/* 3.0 processors of work: three queues of 0.9 leave 0.3, a fourth takes it */
	CHECK(one_vm(&f, &v, 8, 16, 4, 3.0));
	CHECK(rounds_to_size(&f, &v, 4, 5) > 0);
	for (int r = 0; r < 10; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		CHECK(gv_n_queues(&f, &v) == 4);
		CHECK(f.plan->n_overloads == 0);
	}
	/* each on its own processor, none over high */
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f.e, v.adapter);
	for (uint32_t k = 0; k < g->n_queues; k++) {
		uint32_t p = dvmq_engine_queue_processor(f.e, g->queues[k]);
		CHECK(proc_pred(&f, p) <= 0.9 + 1e-9);
		for (uint32_t j = 0; j < k; j++)
			CHECK(dvmq_engine_queue_processor(f.e, g->queues[j]) != p);
	}
	dvmq_engine_destroy(f.e);

	/* max-queues 3: the group stops at 3 and the overload is reported as group-full */
	CHECK(one_vm(&f, &v, 8, 16, 3, 3.0));
	bool full = false;
	for (int r = 0; r < 10; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		CHECK(gv_n_queues(&f, &v) <= 3);
		for (size_t i = 0; i < f.plan->n_overloads; i++)
			full |= f.plan->overloads[i].group == DVMQ_OVERLOAD_GROUP_FULL;
	}
	CHECK(gv_n_queues(&f, &v) == 3 && full);
	CHECK(group_sane(&f, v.adapter));
	dvmq_engine_destroy(f.e);
}

TEST(group_takes_only_free_queues_and_first_queues_come_first)
{
	struct fx f;
	struct gvm v;
	/* pool of 2: the group VM and one other VM hold a queue each, nothing is free */
	CHECK(one_vm(&f, &v, 4, 2, 4, 1.4));
	uint32_t other = fx_add(&f, 2, 100);
	CHECK(other != UINT32_MAX && fx_q(&f, other) != DVMQ_DEFAULT_QUEUE);
	CHECK(gv_round(&f, &v, 1) == 0);
	CHECK(gv_n_queues(&f, &v) == 1);
	CHECK(f.plan->n_overloads == 1 && f.plan->overloads[0].group == DVMQ_OVERLOAD_NO_QUEUE);
	dvmq_engine_destroy(f.e);

	/* pool of 3: the group grows into the free queue; a VM of lower weight arriving then takes
	 * it back (first queues before extra ones), the change comes in the next plan as `pool` */
	CHECK(one_vm(&f, &v, 4, 3, 4, 1.4));
	CHECK(fx_add(&f, 2, 100) != UINT32_MAX);
	CHECK(gv_round(&f, &v, 1) == 0);
	CHECK(gv_n_queues(&f, &v) == 2);
	uint32_t extra = dvmq_engine_adapter_group(f.e, v.adapter)->queues[1];
	uint32_t late = fx_add(&f, 3, 1);
	CHECK(late != UINT32_MAX && fx_q(&f, late) == extra);
	CHECK(gv_n_queues(&f, &v) == 1 && group_sane(&f, v.adapter));
	CHECK(gv_round(&f, &v, 1) == 0);
	bool pool = false;
	for (size_t i = 0; i < f.plan->n_group_changes; i++)
		pool |= f.plan->group_changes[i].kind == DVMQ_GROUP_SHRINK &&
			f.plan->group_changes[i].why == DVMQ_GROUP_WHY_POOL && f.plan->group_changes[i].queue == extra;
	CHECK(pool);
	/* and the group cannot grow back while no queue is free */
	CHECK(gv_n_queues(&f, &v) == 1);
	/* the late VM leaves: the group may grow again */
	CHECK(dvmq_engine_adapter_remove(f.e, late) == 0);
	CHECK(rounds_to_size(&f, &v, 2, 3) > 0);
	dvmq_engine_destroy(f.e);
}

/* A group of two (grown from 1.2 of uniform load), then the load shifts into the buckets of its
 * first queue: that processor goes over high, the second queue has room. */
static bool two_queue_group(struct fx *f, struct gvm *v, uint32_t procs)
{
	if (!one_vm(f, v, procs, 8, 2, 1.2) || rounds_to_size(f, v, 2, 3) < 0)
		return false;
	/* let the grow's dwell and return-guard pass with a calm load */
	v->load = 0.9;
	for (int r = 0; r < 25; r++)
		if (gv_round(f, v, 1) != 0 || gv_n_queues(f, v) != 2)
			return false;
	return true;
}

TEST(group_balances_heaviest_bucket_first_to_the_least_loaded_queue_where_it_fits)
{
	struct fx f;
	struct gvm v;
	CHECK(two_queue_group(&f, &v, 4));
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f.e, v.adapter);
	uint32_t qa = g->queues[0], qb = g->queues[1];
	/* two heavy buckets on qa (0.25 and 0.15 of 1.4), the rest even */
	uint32_t heavy = UINT32_MAX, second = UINT32_MAX;
	for (uint32_t b = 0; b < GV_BUCKETS; b++)
		if (gv_queue_of(&f, &v, b) == qa)
			heavy == UINT32_MAX ? (heavy = b) : second == UINT32_MAX ? (second = b) : 0u;
	CHECK(second != UINT32_MAX);
	v.load = 1.4;
	for (uint32_t b = 0; b < GV_BUCKETS; b++)
		v.w[b] = 0.6 / (GV_BUCKETS - 2);
	v.w[heavy] = 0.25;
	v.w[second] = 0.15;
	CHECK(gv_round(&f, &v, 1) == 0); /* measured: the split comes from the samples */
	CHECK(f.plan->n_group_changes == 0);
	CHECK(f.plan->n_bucket_moves >= 1 && plan_bucket_moves(f.plan, DVMQ_REASON_BALANCE) == f.plan->n_bucket_moves);
	CHECK(f.plan->bucket_moves[0].bucket == heavy && f.plan->bucket_moves[0].from == qa &&
	      f.plan->bucket_moves[0].to == qb);
	CHECK(gv_queue_of(&f, &v, heavy) == qb);
	for (size_t i = 0; i < f.plan->n_bucket_moves; i++)
		CHECK(f.plan->bucket_moves[i].dst_after <= 0.9 + 1e-9);
	CHECK(proc_pred(&f, dvmq_engine_queue_processor(f.e, qa)) <= 0.9 + 1e-9);
	dvmq_engine_destroy(f.e);
}

TEST(group_bucket_never_returns_within_return_guard)
{
	struct fx f;
	struct gvm v;
	CHECK(two_queue_group(&f, &v, 2)); /* no third processor: qb cannot move whole */
	CHECK(fx_set(&f, "dwell", "0") == 0); /* the guard alone holds the bucket back */
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f.e, v.adapter);
	uint32_t qa = g->queues[0], qb = g->queues[1];
	uint32_t pa = dvmq_engine_queue_processor(f.e, qa), pb = dvmq_engine_queue_processor(f.e, qb);
	uint32_t heavy = 0;
	while (gv_queue_of(&f, &v, heavy) != qa)
		heavy++;
	/* the group split its buckets evenly (64/64): other work on qa's processor makes it the hot
	 * one, and the heavy bucket (0.25) fits on qb */
	gv_elephant(&v, heavy, 0.25);
	v.load = 1.0;
	f.other[pa] = 0.3;
	CHECK(gv_round(&f, &v, 1) == 0);
	CHECK(gv_queue_of(&f, &v, heavy) == qb);
	/* then the load falls and qb's processor gets busy with other work: the heavy bucket is the
	 * heaviest there and qa has room for it, but it left qa less than return-guard (2 s) ago */
	v.load = 0.8;
	f.other[pb] = 0.45;
	uint64_t moved_at = f.now;
	bool relieved = false;
	for (int r = 0; r < 30; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		for (size_t i = 0; i < f.plan->n_bucket_moves; i++) {
			const struct dvmq_bucket_move *m = &f.plan->bucket_moves[i];
			CHECK_MSG(!(m->bucket == heavy && m->to == qa && f.now - moved_at < 2000000000ull),
				  "bucket %u back to queue %u %.1f s after it left", heavy, qa,
				  (double)(f.now - moved_at) * 1e-9);
			relieved |= m->from == qb && m->to == qa;
		}
	}
	CHECK(relieved); /* other buckets relieved qb meanwhile */
	CHECK(proc_pred(&f, pb) <= 0.9 + 1e-9 && proc_pred(&f, pa) <= 0.9 + 1e-9);
	dvmq_engine_destroy(f.e);
}

TEST(group_bucket_waits_out_its_dwell)
{
	struct fx f;
	struct gvm v;
	/* a group of three on three processors, calm long enough for every guard to pass */
	CHECK(one_vm(&f, &v, 3, 8, 3, 2.2));
	CHECK(rounds_to_size(&f, &v, 3, 5) > 0);
	v.load = 1.8;
	for (int r = 0; r < 25; r++)
		CHECK(gv_round(&f, &v, 1) == 0 && gv_n_queues(&f, &v) == 3);
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f.e, v.adapter);
	uint32_t q[3];
	for (uint32_t k = 0; k < 3; k++)
		q[k] = g->queues[k];
	uint32_t heavy = 0;
	while (gv_queue_of(&f, &v, heavy) != q[0])
		heavy++;
	gv_elephant(&v, heavy, 0.1);
	v.load = 2.0;
	f.other[dvmq_engine_queue_processor(f.e, q[0])] = 0.2; /* q[0]'s processor is the hot one */
	CHECK(gv_round(&f, &v, 1) == 0);
	uint32_t to = gv_queue_of(&f, &v, heavy), third = to == q[1] ? q[2] : q[1];
	CHECK(to != q[0]);
	/* heavy's new processor gets busy; the third queue is the least loaded and has room: heavy
	 * is its heaviest bucket and going there undoes nothing, but it moved 0.1 s ago */
	uint32_t pt = dvmq_engine_queue_processor(f.e, to);
	v.load = 1.6;
	f.other[pt] = 0.3;
	uint64_t moved_at = f.now;
	bool others = false;
	for (int r = 0; r < 5; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		for (size_t i = 0; i < f.plan->n_bucket_moves; i++) {
			const struct dvmq_bucket_move *m = &f.plan->bucket_moves[i];
			CHECK_MSG(m->bucket != heavy || f.now - moved_at >= 1000000000ull,
				  "bucket %u moved again %.1f s after its last move", heavy,
				  (double)(f.now - moved_at) * 1e-9);
			others |= m->from == to && m->to == third;
		}
	}
	CHECK(others);
	dvmq_engine_destroy(f.e);
}

TEST(group_relief_sheds_min_gain_or_ends_the_overload)
{
	struct fx f;
	struct gvm v;
	CHECK(two_queue_group(&f, &v, 2));
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f.e, v.adapter);
	uint32_t qa = g->queues[0], qb = g->queues[1];
	uint32_t pa = dvmq_engine_queue_processor(f.e, qa), pb = dvmq_engine_queue_processor(f.e, qb);
	/* qa's processor over high by 0.2 from other work; qb's has room for 0.03 only: moving 0.03
	 * of buckets neither ends the overload nor sheds min-gain (0.05): nothing moves */
	v.load = 0.9;
	f.other[pa] = 0.2 + 0.9 - 0.675 + 0.0; /* qa carries ~0.675: pa ~1.1 */
	f.other[pb] = 0.9 - 0.03 - 0.225;      /* qb carries ~0.225: pb ~0.87 */
	for (int r = 0; r < 3; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		CHECK(f.plan->n_bucket_moves == 0);
	}
	CHECK(fx_set(&f, "min-gain", "0.02") == 0); /* rule off: now the crumbs move */
	CHECK(gv_round(&f, &v, 1) == 0);
	CHECK(f.plan->n_bucket_moves > 0 && plan_bucket_moves(f.plan, DVMQ_REASON_BALANCE) == f.plan->n_bucket_moves);
	dvmq_engine_destroy(f.e);
}

/* Grows a group to 3 queues (2.2 of load) and lets every guard pass at 1.8. */
static bool three_queue_group(struct fx *f, struct gvm *v, uint32_t procs)
{
	if (!one_vm(f, v, procs, 8, 3, 2.2) || rounds_to_size(f, v, 3, 5) < 0)
		return false;
	v->load = 1.8;
	for (int r = 0; r < 25; r++)
		if (gv_round(f, v, 1) != 0 || gv_n_queues(f, v) != 3)
			return false;
	return true;
}

TEST(group_shrinks_when_one_queue_fewer_fits_under_pack_for_coalesce_rounds)
{
	struct fx f;
	struct gvm v;
	CHECK(three_queue_group(&f, &v, 4));
	/* 1.2 of load fits two queues under pack (0.87 each) once the peaks have decayed */
	v.load = 1.2;
	int shrunk_at = -1;
	for (int r = 0; r < 100 && shrunk_at < 0; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		if (plan_group_changes(f.plan, DVMQ_GROUP_SHRINK) == 0)
			continue;
		shrunk_at = r;
		CHECK(f.plan->n_group_changes == 1);
		const struct dvmq_group_change *c = &f.plan->group_changes[0];
		CHECK(c->why == DVMQ_GROUP_WHY_CALM && c->n_before == 3 && c->n_after == 2);
		CHECK(dvmq_engine_queue_processor(f.e, c->queue) == DVMQ_NO_PROCESSOR);
		CHECK(c->n_buckets == plan_bucket_moves(f.plan, DVMQ_REASON_SHRINK));
		for (size_t i = 0; i < f.plan->n_bucket_moves; i++) {
			CHECK(f.plan->bucket_moves[i].from == c->queue);
			CHECK(f.plan->bucket_moves[i].dst_after <= 0.87 + 1e-9); /* never overloads */
		}
		for (uint32_t b = 0; b < GV_BUCKETS; b++)
			CHECK(gv_queue_of(&f, &v, b) != c->queue);
	}
	CHECK(shrunk_at >= 2); /* coalesce-rounds (3) rounds in a row first */
	CHECK(gv_n_queues(&f, &v) == 2 && group_sane(&f, v.adapter));
	/* and it stays at 2: 1.2 needs two */
	for (int r = 0; r < 50; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		CHECK(gv_n_queues(&f, &v) == 2 && f.plan->n_overloads == 0);
	}
	dvmq_engine_destroy(f.e);

	/* rule off: coalesce-rounds so long that the calm period never ends */
	CHECK(three_queue_group(&f, &v, 4));
	CHECK(fx_set(&f, "coalesce-rounds", "1000") == 0);
	v.load = 1.2;
	for (int r = 0; r < 100; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		CHECK(gv_n_queues(&f, &v) == 3);
	}
	dvmq_engine_destroy(f.e);
}

TEST(group_does_not_shrink_within_return_guard_of_a_grow)
{
	/* a group of two grows to three: the third queue's buckets came from both others, so each
	 * could fold into the other one without undoing its own move; the group's guard holds */
	struct fx f;
	CHECK(fx_init(&f, 4, 8, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	CHECK(fx_set(&f, "peak-halflife", "0") == 0); /* no peak memory: the guard alone holds */
	struct gvm v = { 0 };
	v.adapter = gv_add(&f, 1, 100, 3);
	gv_uniform(&v);
	v.load = 1.2;
	CHECK(rounds_to_size(&f, &v, 2, 3) == 1);
	v.load = 1.6;
	for (int r = 0; r < 25; r++)
		CHECK(gv_round(&f, &v, 1) == 0 && gv_n_queues(&f, &v) == 2);
	v.load = 2.4;
	CHECK(rounds_to_size(&f, &v, 3, 3) > 0);
	uint64_t grown_at = f.now;
	v.load = 1.2; /* fits two queues at once */
	int shrunk = -1;
	for (int r = 0; r < 40 && shrunk < 0; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		if (plan_group_changes(f.plan, DVMQ_GROUP_SHRINK))
			shrunk = r;
	}
	CHECK_MSG(shrunk >= 0 && f.now - grown_at >= 2000000000ull, "shrunk %.1f s after the grow",
		  (double)(f.now - grown_at) * 1e-9);
	dvmq_engine_destroy(f.e);
}

static bool group_split(struct fx *f, const struct gvm *v)
{
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f->e, v->adapter);
	for (uint32_t k = 0; k < g->n_queues; k++)
		for (uint32_t j = 0; j < k; j++)
			if (dvmq_engine_queue_processor(f->e, g->queues[j]) == dvmq_engine_queue_processor(f->e, g->queues[k]))
				return false;
	return true;
}

TEST(group_queues_keep_to_processors_of_their_own_when_coalescing)
{
	/* coalescing: a group of two just grown (no shrink within return-guard) whose load falls to
	 * 0.3 on a host of two processors: packing would put both queues on one processor; only
	 * shrinking may join them, later */
	struct fx f;
	struct gvm v;
	CHECK(one_vm(&f, &v, 2, 8, 2, 1.2));
	CHECK(rounds_to_size(&f, &v, 2, 3) > 0);
	v.load = 0.3;
	for (int r = 0; r < 15; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		CHECK_MSG(gv_n_queues(&f, &v) == 1 || group_split(&f, &v), "round %d: two queues of the group on one processor", r);
	}
	dvmq_engine_destroy(f.e);
	/* spreading's side of the rule: property_group_* (random hosts) */
}

TEST(group_one_bucket_is_the_limit_of_spreading)
{
	struct fx f;
	struct gvm v;
	CHECK(one_vm(&f, &v, 4, 8, 4, 1.4));
	gv_elephant(&v, 5, 0.75); /* one flow of 1.05: no queue can hold it under high */
	bool one_bucket = false;
	for (int r = 0; r < 10; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		for (size_t i = 0; i < f.plan->n_overloads; i++)
			one_bucket |= f.plan->overloads[i].group == DVMQ_OVERLOAD_ONE_BUCKET;
	}
	CHECK(one_bucket);
	/* the rest of the VM's buckets moved away from the elephant's queue */
	uint32_t qe = gv_queue_of(&f, &v, 5);
	for (uint32_t b = 0; b < GV_BUCKETS; b++)
		CHECK(b == 5 || gv_queue_of(&f, &v, b) != qe);
	dvmq_engine_destroy(f.e);
}

TEST(group_max_queues_lowered_folds_at_once)
{
	struct fx f;
	struct gvm v;
	CHECK(three_queue_group(&f, &v, 4));
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f.e, v.adapter);
	uint32_t before[3] = { g->queues[0], g->queues[1], g->queues[2] };
	CHECK(dvmq_engine_adapter_set_max_queues(f.e, v.adapter, 1) == 0);
	CHECK(g->n_queues == 1 && g->queues[0] == before[0] && group_sane(&f, v.adapter));
	CHECK(dvmq_engine_adapter_max_queues(f.e, v.adapter) == 1);
	for (uint32_t k = 1; k < 3; k++)
		CHECK(dvmq_engine_queue_processor(f.e, before[k]) == DVMQ_NO_PROCESSOR);
	CHECK(gv_round(&f, &v, 1) == 0);
	CHECK(plan_group_changes(f.plan, DVMQ_GROUP_SHRINK) == 2);
	for (size_t i = 0; i < f.plan->n_group_changes; i++)
		CHECK(f.plan->group_changes[i].why == DVMQ_GROUP_WHY_MAX_QUEUES);
	CHECK(plan_group_changes(f.plan, DVMQ_GROUP_GROW) == 0); /* 1.8 on one queue: overload */
	CHECK(f.plan->n_overloads == 1 && f.plan->overloads[0].group == DVMQ_OVERLOAD_NO_GROUP);
	dvmq_engine_destroy(f.e);
}

TEST(group_bucket_samples_size_the_buckets)
{
	struct fx f;
	struct gvm v;
	CHECK(one_vm(&f, &v, 4, 8, 4, 0.6));
	gv_elephant(&v, 9, 0.5);
	CHECK(gv_round(&f, &v, 1) == 0);
	CHECK(fabs(dvmq_engine_bucket_demand(f.e, v.adapter, 9) - 0.3) < 0.01);
	CHECK(fabs(dvmq_engine_bucket_demand(f.e, v.adapter, 10) - 0.3 / 127) < 0.001);
	/* without a sample: even */
	CHECK(fx_round(&f) == 0);
	CHECK(fabs(dvmq_engine_bucket_demand(f.e, v.adapter, 9) - 0.6 / 128) < 0.001);
	dvmq_engine_destroy(f.e);
}

TEST(group_bad_inputs)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 4, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	CHECK(gv_add(&f, 1, 100, DVMQ_MAX_GROUP_QUEUES + 1) == UINT32_MAX);
	uint32_t a = gv_add(&f, 1, 100, DVMQ_MAX_GROUP_QUEUES);
	CHECK(a != UINT32_MAX && dvmq_engine_adapter_max_queues(f.e, a) == DVMQ_MAX_GROUP_QUEUES);
	CHECK(dvmq_engine_adapter_set_max_queues(f.e, a, DVMQ_MAX_GROUP_QUEUES + 1) == -EINVAL);
	CHECK(dvmq_engine_adapter_set_max_queues(f.e, a + 1, 2) == -ENOENT);
	CHECK(dvmq_engine_adapter_set_max_queues(f.e, a, 0) == 0 && dvmq_engine_adapter_max_queues(f.e, a) == 1);
	CHECK(dvmq_engine_adapter_max_queues(f.e, a + 1) == 0);
	CHECK(dvmq_engine_bucket_demand(f.e, a, DVMQ_INDIRECTION_ENTRIES) == 0.0);
	CHECK(dvmq_engine_plan_ex(f.e, 1, FX_IV, f.ps, f.qs, NULL, 1, &f.plan) == -EINVAL);
	/* a sample for an adapter the engine does not know is ignored */
	static struct dvmq_bucket_sample bs = { .adapter = 9999 };
	CHECK(dvmq_engine_plan_ex(f.e, 1, FX_IV, f.ps, f.qs, &bs, 1, &f.plan) == 0);
	dvmq_engine_destroy(f.e);
}

TEST(group_shrink_never_frees_a_pinned_queue)
{
	struct fx f;
	struct gvm v;
	CHECK(three_queue_group(&f, &v, 4));
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f.e, v.adapter);
	/* pin the extra queue a calm group would free first (the least loaded) */
	uint32_t k = dvmq_engine_queue_demand(f.e, g->queues[1]) <= dvmq_engine_queue_demand(f.e, g->queues[2]) ? 1 : 2;
	uint32_t pinned = g->queues[k], p = dvmq_engine_queue_processor(f.e, pinned);
	CHECK(dvmq_engine_queue_pin(f.e, pinned, p, f.now, NULL) == 0);
	v.load = 0.5; /* fits one queue */
	for (int r = 0; r < 100; r++) {
		CHECK(gv_round(&f, &v, 1) == 0);
		CHECK(dvmq_engine_queue_processor(f.e, pinned) == p);
	}
	CHECK(gv_n_queues(&f, &v) == 2); /* the other extra queue went */
	dvmq_engine_destroy(f.e);
}

TEST(group_grows_evenly_to_what_the_load_needs_under_pack)
{
	/* 3.0 processors of load on one queue: ceil(3.0 / pack 0.87) = 4 queues in one round, each
	 * with about 0.75 (even shares leave each queue headroom where the measurement lags) */
	struct fx f;
	struct gvm v;
	CHECK(one_vm(&f, &v, 8, 16, 8, 3.0));
	CHECK(gv_round(&f, &v, 1) == 0);
	CHECK(gv_n_queues(&f, &v) == 4 && plan_group_changes(f.plan, DVMQ_GROUP_GROW) == 3);
	const struct dvmq_queue_group *g = dvmq_engine_adapter_group(f.e, v.adapter);
	for (uint32_t k = 0; k < g->n_queues; k++) {
		double d = 0.0;
		for (uint32_t b = 0; b < GV_BUCKETS; b++)
			d += g->indirection[b] == k ? v.load * v.w[b] : 0.0;
		CHECK_MSG(fabs(d - 0.75) <= 2 * v.load / GV_BUCKETS, "queue %u of the group carries %.3f", k, d);
	}
	dvmq_engine_destroy(f.e);
}
