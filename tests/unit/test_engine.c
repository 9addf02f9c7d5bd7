/* Engine decisions, rule by rule: pool by weight, processor set, the rules of dynamic and ovs-alb,
 * run-time changes and parameters (adaptive's rules: test_adaptive.c). */
#include <errno.h>

#include "../harness.h"
#include "engine_fixture.h"

static bool plan_has_move(const struct dvmq_plan *p, uint32_t q, uint32_t from, uint32_t to,
			  enum dvmq_reason why)
{
	for (size_t i = 0; i < p->n_moves; i++)
		if (p->moves[i].queue == q && p->moves[i].from == from && p->moves[i].to == to &&
		    p->moves[i].reason == why)
			return true;
	return false;
}

TEST(pool_highest_weight_wins_when_short)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 2, DVMQ_POLICY_STATIC, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 50), b = fx_add(&f, 2, 100), c = fx_add(&f, 3, 80);
	CHECK(fx_q(&f, b) != DVMQ_DEFAULT_QUEUE);
	CHECK(fx_q(&f, c) != DVMQ_DEFAULT_QUEUE);
	CHECK(fx_q(&f, a) == DVMQ_DEFAULT_QUEUE); /* arrived first, but lighter: it lost its VMQ */
	dvmq_engine_destroy(f.e);
}

TEST(pool_ties_first_come_first_served)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 1, DVMQ_POLICY_STATIC, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100);
	CHECK(fx_q(&f, a) == 1);
	CHECK(fx_q(&f, b) == DVMQ_DEFAULT_QUEUE);
	dvmq_engine_destroy(f.e);
}

TEST(pool_weight_zero_never_gets_a_vmq)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 4, DVMQ_POLICY_STATIC, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 0);
	CHECK(fx_q(&f, a) == DVMQ_DEFAULT_QUEUE);
	CHECK(dvmq_engine_adapter_set_weight(f.e, a, 10) == 0);
	CHECK(fx_q(&f, a) != DVMQ_DEFAULT_QUEUE);
	CHECK(dvmq_engine_adapter_set_weight(f.e, a, 0) == 0);
	CHECK(fx_q(&f, a) == DVMQ_DEFAULT_QUEUE);
	dvmq_engine_destroy(f.e);
}

TEST(pool_freed_vmq_goes_to_heaviest_waiter)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 1, DVMQ_POLICY_STATIC, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 30), c = fx_add(&f, 3, 60), d = fx_add(&f, 4, 60);
	CHECK(fx_q(&f, a) == 1);
	CHECK(dvmq_engine_adapter_remove(f.e, a) == 0);
	CHECK(fx_q(&f, c) == 1); /* heaviest waiting, and first of the two 60s */
	CHECK(fx_q(&f, b) == DVMQ_DEFAULT_QUEUE);
	CHECK(fx_q(&f, d) == DVMQ_DEFAULT_QUEUE);
	CHECK(dvmq_engine_adapter_queue(f.e, a) == -ENOENT);
	dvmq_engine_destroy(f.e);
}

TEST(adapter_bad_inputs)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 2, DVMQ_POLICY_STATIC, NULL) == 0);
	struct dvmq_adapter_desc d = { .mac = { 2, 0, 0, 0, 0, 1 }, .weight = 101 };
	uint32_t id;
	CHECK(dvmq_engine_adapter_add(f.e, &d, &id) == -EINVAL);
	d.weight = 100;
	d.vlan = 4095;
	CHECK(dvmq_engine_adapter_add(f.e, &d, &id) == -EINVAL);
	d.vlan = 10;
	CHECK(dvmq_engine_adapter_add(f.e, &d, &id) == 0);
	CHECK(dvmq_engine_adapter_add(f.e, &d, &id) == -EEXIST);
	d.vlan = 11; /* same MAC on another VLAN is another adapter */
	CHECK(dvmq_engine_adapter_add(f.e, &d, &id) == 0);
	CHECK(dvmq_engine_adapter_set_weight(f.e, id, 101) == -EINVAL);
	CHECK(dvmq_engine_adapter_remove(f.e, 9999) == -ENOENT);
	CHECK(dvmq_engine_adapter_set_weight(f.e, 77, 1) == -ENOENT);
	dvmq_engine_destroy(f.e);
}

TEST(adapter_table_full)
{
	struct dvmq_engine_config cfg = { .n_processors = 1, .queue_pool = 1, .max_adapters = 2,
					  .set = { .numa_node = -1 } };
	dvmq_engine_params_default(&cfg.params);
	struct dvmq_engine *e;
	CHECK(dvmq_engine_create(&cfg, &e) == 0);
	uint32_t id;
	for (uint8_t i = 0; i < 2; i++) {
		struct dvmq_adapter_desc d = { .mac = { 2, 0, 0, 0, 0, i }, .weight = 1 };
		CHECK(dvmq_engine_adapter_add(e, &d, &id) == 0);
	}
	struct dvmq_adapter_desc d = { .mac = { 2, 0, 0, 0, 0, 9 }, .weight = 1 };
	CHECK(dvmq_engine_adapter_add(e, &d, &id) == -ENOSPC);
	dvmq_engine_destroy(e);
}

TEST(create_rejects_bad_config)
{
	struct dvmq_engine_config cfg = { .n_processors = 0, .set = { .numa_node = -1 } };
	dvmq_engine_params_default(&cfg.params);
	struct dvmq_engine *e = NULL;
	CHECK(dvmq_engine_create(&cfg, &e) == -EINVAL);
	cfg.n_processors = 4;
	cfg.set.base = 4; /* outside the host */
	CHECK(dvmq_engine_create(&cfg, &e) == -EINVAL);
	cfg.set.base = 0;
	uint32_t ex[] = { 0, 1, 2, 3 };
	cfg.set.excluded = ex;
	cfg.set.n_excluded = 4; /* empty set */
	CHECK(dvmq_engine_create(&cfg, &e) == -EINVAL);
	cfg.set.n_excluded = 0;
	cfg.params.high = 1.5;
	CHECK(dvmq_engine_create(&cfg, &e) == -EINVAL);
	dvmq_engine_destroy(NULL);
}

TEST(processor_set_limits_placement_and_moves_queues_in)
{
	struct dvmq_engine_config cfg = { .n_processors = 8, .queue_pool = 8, .max_adapters = 16 };
	uint32_t ex[] = { 3 };
	cfg.set = (struct dvmq_processor_set){ .base = 2, .max = 3, .numa_node = -1, .excluded = ex,
					       .n_excluded = 1 };
	dvmq_engine_params_default(&cfg.params);
	cfg.params.policy = DVMQ_POLICY_STATIC;
	struct dvmq_engine *e;
	CHECK(dvmq_engine_create(&cfg, &e) == 0);
	/* the set is {2, 4, 5} */
	CHECK(!dvmq_engine_processor_in_set(e, 1) && dvmq_engine_processor_in_set(e, 2));
	CHECK(!dvmq_engine_processor_in_set(e, 3) && dvmq_engine_processor_in_set(e, 5));
	CHECK(!dvmq_engine_processor_in_set(e, 6));
	for (uint8_t i = 0; i < 6; i++) {
		struct dvmq_adapter_desc d = { .mac = { 2, 0, 0, 0, 0, i }, .weight = 100 };
		uint32_t id;
		CHECK(dvmq_engine_adapter_add(e, &d, &id) == 0);
	}
	for (uint32_t q = 0; q < 7; q++)
		CHECK(dvmq_engine_processor_in_set(e, dvmq_engine_queue_processor(e, q)));
	struct dvmq_processor_set s2 = { .base = 0, .max = 2, .numa_node = -1 };
	const struct dvmq_plan *plan;
	CHECK(dvmq_engine_set_processor_set(e, &s2, 1, &plan) == 0);
	CHECK(plan->n_moves > 0);
	for (size_t i = 0; i < plan->n_moves; i++)
		CHECK(plan->moves[i].reason == DVMQ_REASON_PROCESSOR_SET);
	for (uint32_t q = 0; q < 7; q++)
		CHECK(dvmq_engine_queue_processor(e, q) <= 1);
	struct dvmq_processor_set bad = { .base = 9, .numa_node = -1 };
	CHECK(dvmq_engine_set_processor_set(e, &bad, 2, &plan) == -EINVAL);
	dvmq_engine_destroy(e);
}

TEST(processor_set_numa_node)
{
	uint32_t numa[4] = { 0, 0, 1, 1 };
	struct dvmq_engine_config cfg = { .n_processors = 4, .numa_node = numa, .queue_pool = 4,
					  .max_adapters = 4, .set = { .numa_node = 1 } };
	dvmq_engine_params_default(&cfg.params);
	struct dvmq_engine *e;
	CHECK(dvmq_engine_create(&cfg, &e) == 0);
	for (uint8_t i = 0; i < 4; i++) {
		struct dvmq_adapter_desc d = { .mac = { 2, 0, 0, 0, 0, i }, .weight = 100 };
		uint32_t id;
		CHECK(dvmq_engine_adapter_add(e, &d, &id) == 0);
	}
	for (uint32_t q = 0; q < 5; q++)
		CHECK(dvmq_engine_queue_processor(e, q) >= 2);
	dvmq_engine_destroy(e);
}

TEST(policy_none_keeps_everything_on_base)
{
	struct fx f;
	CHECK(fx_init(&f, 4, 4, DVMQ_POLICY_NONE, NULL) == 0);
	for (uint32_t i = 0; i < 4; i++)
		fx_add(&f, i, 100);
	for (uint32_t q = 0; q < 5; q++) {
		CHECK(dvmq_engine_queue_processor(f.e, q) == 0);
		f.qload[q] = 0.5;
	}
	CHECK(fx_round(&f) == 0);
	CHECK(f.plan->n_moves == 0);
	dvmq_engine_destroy(f.e);
}

TEST(policy_static_round_robin_never_moves)
{
	struct fx f;
	CHECK(fx_init(&f, 3, 6, DVMQ_POLICY_STATIC, NULL) == 0);
	uint32_t ids[6];
	for (uint32_t i = 0; i < 6; i++)
		ids[i] = fx_add(&f, i, 100);
	for (uint32_t i = 0; i < 6; i++)
		CHECK(fx_proc(&f, ids[i]) == i % 3);
	f.qload[fx_q(&f, ids[0])] = 0.9;
	f.qload[fx_q(&f, ids[3])] = 0.9; /* processor 0 at 180 % */
	for (int r = 0; r < 20; r++) {
		CHECK(fx_round(&f) == 0);
		CHECK(f.plan->n_moves == 0);
	}
	dvmq_engine_destroy(f.e);
}

TEST(dynamic_spreads_over_high_only)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 2, DVMQ_POLICY_DYNAMIC, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100);
	CHECK(fx_proc(&f, a) == 0 && fx_proc(&f, b) == 1);
	/* move b next to a by hand through a processor-set change back and forth */
	uint32_t qa = fx_q(&f, a), qb = fx_q(&f, b);
	f.qload[qa] = 0.5;
	f.qload[qb] = 0.3;
	f.qload[0] = 0.05;
	CHECK(fx_round(&f) == 0);
	CHECK(f.plan->n_moves == 0 || f.plan->moves[0].reason == DVMQ_REASON_COALESCE);
	dvmq_engine_destroy(f.e);

	CHECK(fx_init(&f, 2, 2, DVMQ_POLICY_DYNAMIC, NULL) == 0);
	struct dvmq_processor_set one = { .max = 1, .numa_node = -1 }, two = { .numa_node = -1 };
	a = fx_add(&f, 1, 100);
	b = fx_add(&f, 2, 100);
	CHECK(dvmq_engine_set_processor_set(f.e, &one, 0, NULL) == 0);
	CHECK(dvmq_engine_set_processor_set(f.e, &two, 0, NULL) == 0);
	qa = fx_q(&f, a);
	qb = fx_q(&f, b);
	CHECK(fx_proc(&f, a) == 0 && fx_proc(&f, b) == 0);
	f.qload[qa] = 0.6;
	f.qload[qb] = 0.5; /* processor 0 over high */
	CHECK(fx_round(&f) == 0);
	CHECK(f.plan->n_moves == 1);
	CHECK(plan_has_move(f.plan, qa, 0, 1, DVMQ_REASON_SPREAD)); /* the heaviest that fits */
	CHECK(f.plan->moves[0].dst_after < 0.9);
	CHECK(f.plan->n_wake == 1 && f.plan->wake[0] == 1);
	dvmq_engine_destroy(f.e);
}

/* A data plane's busy time is taken for at most the interval: a counter that went wrong (>= 2^63
 * ns, e.g. a difference of readings that went back) reads as a saturated queue, never as a negative
 * load that would hide the queue's processor's work from the plan. */
TEST(queue_busy_time_is_clamped_to_the_interval)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 2, DVMQ_POLICY_DYNAMIC, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100);
	uint32_t qa = fx_q(&f, a);
	f.qload[qa] = 0.3;
	CHECK(fx_round(&f) == 0);
	f.ps[0] = (struct dvmq_proc_sample){ .busy = 1.0, .awake = true };
	f.ps[1] = (struct dvmq_proc_sample){ .busy = 0.0, .awake = dvmq_engine_processor_awake(f.e, 1) };
	const uint64_t huge[] = { 1ull << 63, (1ull << 63) + 12345, UINT64_MAX, 3 * FX_IV };
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		f.qs[qa] = (struct dvmq_queue_sample){ .busy_ns = huge[i], .packets = 1000, .bytes = 64000 };
		f.now += FX_IV;
		CHECK(dvmq_engine_plan(f.e, f.now, FX_IV, f.ps, f.qs, &f.plan) == 0);
		double d = dvmq_engine_queue_demand(f.e, qa);
		CHECK_MSG(d == 1.0, "busy %llu ns in a %llu ns interval: demand %g (want 1)", (unsigned long long)huge[i],
			  (unsigned long long)FX_IV, d);
		/* under pressure the cost per packet comes from the clamped time too */
		f.qs[qa].dropped = 1000;
		f.now += FX_IV;
		CHECK(dvmq_engine_plan(f.e, f.now, FX_IV, f.ps, f.qs, &f.plan) == 0);
		d = dvmq_engine_queue_demand(f.e, qa);
		CHECK_MSG(d >= 1.0 && d <= 2.0 + 1e-9, "with drops: demand %g (want 1..2: twice the frames at <= 100 us each)", d);
	}
	dvmq_engine_destroy(f.e);
}

TEST(dynamic_destination_must_stay_under_high)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 3, DVMQ_POLICY_DYNAMIC, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100), c = fx_add(&f, 3, 100);
	/* a and c on 0, b on 1 */
	CHECK(fx_proc(&f, a) == 0 && fx_proc(&f, b) == 1 && fx_proc(&f, c) == 0);
	f.qload[fx_q(&f, a)] = 0.6;
	f.qload[fx_q(&f, c)] = 0.6;
	f.qload[fx_q(&f, b)] = 0.5; /* 0.5 + ~0.5 measured would reach 1.0 > 0.9 */
	CHECK(fx_round(&f) == 0);
	for (size_t i = 0; i < f.plan->n_moves; i++)
		CHECK(f.plan->moves[i].reason != DVMQ_REASON_SPREAD);
	dvmq_engine_destroy(f.e);
}

TEST(dynamic_nearest_destination_first)
{
	/* Processor 3 shares processor 0's node, 1 and 2 do not: the same-node rule alone picks 3,
	 * the farthest by id. Without NUMA data the same host picks 1, the nearest by id. */
	uint32_t numa[4] = { 0, 1, 1, 0 };
	uint32_t want[2] = { 3, 1 };
	for (int pass = 0; pass < 2; pass++) {
		struct fx f;
		CHECK(fx_init(&f, 4, 4, DVMQ_POLICY_DYNAMIC, pass == 0 ? numa : NULL) == 0);
		uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100);
		CHECK(fx_stack_on_first(&f) == 0);
		f.qload[fx_q(&f, a)] = 0.6;
		f.qload[fx_q(&f, b)] = 0.5;
		CHECK(fx_round(&f) == 0);
		CHECK(f.plan->n_moves >= 1);
		CHECK_MSG(f.plan->moves[0].to == want[pass], "%s: moved to %u, want %u",
			  pass == 0 ? "nodes {0,1,1,0}" : "no NUMA data", f.plan->moves[0].to, want[pass]);
		dvmq_engine_destroy(f.e);
	}
}

TEST(dynamic_coalesces_toward_home)
{
	/* q_c starts on processor 2 (its home), is spread to 1, and when 1 falls under `low` it
	 * goes home to 2 while its neighbours on 1, whose home is 1, go to the nearest processor, 0:
	 * the home rule alone sends q_c to 2. */
	struct fx f;
	CHECK(fx_init(&f, 3, 6, DVMQ_POLICY_DYNAMIC, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100), c = fx_add(&f, 3, 100);
	uint32_t d = fx_add(&f, 4, 100), e = fx_add(&f, 5, 100), g = fx_add(&f, 6, 100);
	CHECK(fx_proc(&f, a) == 0 && fx_proc(&f, b) == 1 && fx_proc(&f, c) == 2);
	CHECK(fx_proc(&f, d) == 0 && fx_proc(&f, e) == 1 && fx_proc(&f, g) == 2);
	uint32_t qc = fx_q(&f, c);
	f.qload[fx_q(&f, a)] = 0.3;
	f.qload[fx_q(&f, d)] = 0.3;
	f.qload[fx_q(&f, b)] = 0.1;
	f.qload[fx_q(&f, e)] = 0.1;
	f.other[1] = 0.1;
	f.qload[qc] = 0.55;
	f.qload[fx_q(&f, g)] = 0.1;
	f.other[2] = 0.3; /* processor 2 at 95 %: q_c spreads to 1 (0.3 + 0.55 < 0.9) */
	CHECK(fx_round(&f) == 0);
	CHECK(plan_has_move(f.plan, qc, 2, 1, DVMQ_REASON_SPREAD));
	CHECK(dvmq_engine_queue_home(f.e, qc) == 2);
	f.qload[qc] = 0.1;
	f.qload[fx_q(&f, b)] = 0.05;
	f.qload[fx_q(&f, e)] = 0.05;
	f.other[1] = 0.0; /* processor 1 at 20 % < low */
	CHECK(fx_round(&f) == 0);
	CHECK(plan_has_move(f.plan, qc, 1, 2, DVMQ_REASON_COALESCE));
	CHECK(plan_has_move(f.plan, fx_q(&f, b), 1, 0, DVMQ_REASON_COALESCE));
	CHECK(plan_has_move(f.plan, fx_q(&f, e), 1, 0, DVMQ_REASON_COALESCE));
	CHECK(f.plan->n_park == 1 && f.plan->park[0] == 1);
	dvmq_engine_destroy(f.e);
}

/* Rounds until ovs-alb's first re-plan of two 0.6 queues stacked on one processor of two. */
static int ovs_first_rebalance(uint32_t history, uint64_t interval_ns)
{
	struct fx f;
	if (fx_init(&f, 2, 2, DVMQ_POLICY_OVS_ALB, NULL) != 0)
		return -1;
	struct dvmq_engine_params p = *dvmq_engine_params(f.e);
	p.ovs_history = history;
	p.ovs_interval_ns = interval_ns;
	int first = -1;
	if (dvmq_engine_set_params(f.e, &p, 0, NULL) == 0) {
		uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100);
		if (fx_stack_on_first(&f) == 0) {
			f.qload[fx_q(&f, a)] = 0.6;
			f.qload[fx_q(&f, b)] = 0.6;
			for (int r = 1; r <= 12 && first < 0; r++)
				if (fx_round(&f) == 0 && f.plan->n_moves &&
				    f.plan->moves[0].reason == DVMQ_REASON_REBALANCE &&
				    fx_proc(&f, a) != fx_proc(&f, b))
					first = r;
		}
	}
	dvmq_engine_destroy(f.e);
	return first;
}

TEST(ovs_alb_needs_full_history_and_interval)
{
	/* each rule alone binds: the history with an interval of one round, then the interval with
	 * a history of one sample */
	int h = ovs_first_rebalance(4, FX_IV);
	CHECK_MSG(h == 4, "history 4, interval 1 round: first re-plan in round %d, want 4", h);
	int i = ovs_first_rebalance(1, 6 * FX_IV);
	CHECK_MSG(i == 6, "history 1, interval 6 rounds: first re-plan in round %d, want 6", i);
	int both = ovs_first_rebalance(3, 5 * FX_IV);
	CHECK_MSG(both == 5, "history 3, interval 5 rounds: first re-plan in round %d, want 5", both);
}

TEST(ovs_alb_skips_small_improvement)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 3, DVMQ_POLICY_OVS_ALB, NULL) == 0);
	struct dvmq_engine_params p = *dvmq_engine_params(f.e);
	p.ovs_history = 2;
	p.ovs_interval_ns = FX_IV;
	CHECK(dvmq_engine_set_params(f.e, &p, 0, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100), c = fx_add(&f, 3, 100);
	/* a, c on 0 (0.5 + 0.48), b on 1 (0.97): both hot, already as balanced as it gets */
	f.qload[fx_q(&f, a)] = 0.5;
	f.qload[fx_q(&f, c)] = 0.48;
	f.qload[fx_q(&f, b)] = 0.97;
	for (int r = 0; r < 6; r++) {
		CHECK(fx_round(&f) == 0);
		CHECK(f.plan->n_moves == 0);
	}
	dvmq_engine_destroy(f.e);
}

/* Round of ovs-alb's first re-plan (history 4, interval one round) of two 0.6 queues stacked on
 * processor 0 when the rounds in `cool` see them at 0.3 each (processor 0 under the threshold),
 * or -1 within 12 rounds. */
static int ovs_rebalance_with_cool_rounds(uint32_t cool_mask)
{
	struct fx f;
	if (fx_init(&f, 2, 2, DVMQ_POLICY_OVS_ALB, NULL) || fx_set(&f, "ovs-history", "4") ||
	    fx_set(&f, "ovs-interval", "100ms"))
		return -2;
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100);
	int first = -1;
	if (fx_stack_on_first(&f) == 0) {
		for (int r = 1; r <= 12 && first < 0; r++) {
			double l = (cool_mask >> r) & 1u ? 0.3 : 0.6;
			f.qload[fx_q(&f, a)] = l;
			f.qload[fx_q(&f, b)] = l;
			if (fx_round(&f) == 0 && f.plan->n_moves && f.plan->moves[0].reason == DVMQ_REASON_REBALANCE)
				first = r;
		}
	}
	dvmq_engine_destroy(f.e);
	return first;
}

TEST(ovs_alb_hot_rounds_must_be_consecutive)
{
	/* hot, hot, hot, cool, hot...: the cool round starts the count again, so the 4th hot round in
	 * a row is round 8, not round 5 (the 4th hot round in all) */
	int r = ovs_rebalance_with_cool_rounds(1u << 4);
	CHECK_MSG(r == 8, "hot x3, cool, hot...: first re-plan in round %d, want 8", r);
	r = ovs_rebalance_with_cool_rounds(0);
	CHECK_MSG(r == 4, "always hot: first re-plan in round %d, want 4", r);
}

/* Whether ovs-alb applies its re-plan of a (0.96) and b (0.02) on processor 0 and c (`c`) on
 * processor 1: the greedy re-plan leaves a alone and moves b (and the idle default queue) next to
 * c, which improves the variance by 9.99 % for c = 0.2 and 26.5 % for c = 0.7. Returns the moves
 * of b within 6 rounds, or a negative number. */
static int ovs_replan_moves(double c_load, const char *improvement)
{
	struct fx f;
	if (fx_init(&f, 2, 3, DVMQ_POLICY_OVS_ALB, NULL) || fx_set(&f, "ovs-history", "2") ||
	    fx_set(&f, "ovs-interval", "100ms") || fx_set(&f, "ovs-improvement", improvement))
		return -2;
	uint32_t a = fx_add(&f, 1, 100), c = fx_add(&f, 2, 100), b = fx_add(&f, 3, 100);
	int moves = -1;
	if (fx_proc(&f, a) == 0 && fx_proc(&f, b) == 0 && fx_proc(&f, c) == 1) {
		f.qload[fx_q(&f, a)] = 0.96;
		f.qload[fx_q(&f, b)] = 0.02;
		f.qload[fx_q(&f, c)] = c_load;
		moves = 0;
		for (int r = 0; r < 6 && moves >= 0; r++) {
			if (fx_round(&f) != 0) {
				moves = -3;
				break;
			}
			for (size_t i = 0; i < f.plan->n_moves; i++)
				moves += f.plan->moves[i].queue == fx_q(&f, b);
		}
	}
	dvmq_engine_destroy(f.e);
	return moves;
}

TEST(ovs_alb_applies_a_re_plan_only_past_its_improvement_threshold)
{
	int n = ovs_replan_moves(0.2, "25%");
	CHECK_MSG(n == 0, "a 10 %% better variance under a 25 %% threshold: %d moves, want none", n);
	n = ovs_replan_moves(0.7, "25%");
	CHECK_MSG(n == 1, "a 26.5 %% better variance under a 25 %% threshold: %d moves, want 1", n);
	n = ovs_replan_moves(0.2, "5%");
	CHECK_MSG(n == 1, "a 10 %% better variance under a 5 %% threshold: %d moves, want 1", n);
}

TEST(runtime_policy_change)
{
	struct fx f;
	CHECK(fx_init(&f, 4, 4, DVMQ_POLICY_STATIC, NULL) == 0);
	for (uint32_t i = 0; i < 4; i++)
		fx_add(&f, i, 100);
	struct dvmq_engine_params p = *dvmq_engine_params(f.e);
	p.policy = DVMQ_POLICY_NONE;
	const struct dvmq_plan *plan;
	CHECK(dvmq_engine_set_params(f.e, &p, 5, &plan) == 0);
	CHECK(plan->n_moves == 3);
	for (size_t i = 0; i < plan->n_moves; i++)
		CHECK(plan->moves[i].reason == DVMQ_REASON_POLICY && plan->moves[i].to == 0);
	p.policy = DVMQ_POLICY_ADAPTIVE;
	p.high = 0.7;
	p.pack = 0.6;
	CHECK(dvmq_engine_set_params(f.e, &p, 6, &plan) == 0);
	CHECK(dvmq_engine_params(f.e)->high == 0.7);
	for (uint32_t q = 1; q < 5; q++)
		f.qload[q] = 0.3; /* 1.2 on processor 0: adaptive spreads under the new high */
	CHECK(fx_round(&f) == 0);
	CHECK(f.plan->n_moves >= 2);
	for (size_t i = 0; i < f.plan->n_moves; i++)
		CHECK(f.plan->moves[i].dst_after <= 0.7 + 1e-9);
	p.low = 0.8; /* low above high */
	CHECK(dvmq_engine_set_params(f.e, &p, 7, NULL) == -EINVAL);
	dvmq_engine_destroy(f.e);
}

TEST(param_set_by_name)
{
	struct dvmq_engine_params p;
	dvmq_engine_params_default(&p);
	CHECK(dvmq_engine_param_set(&p, "high", "80%") == 0 && p.high > 0.79 && p.high < 0.81);
	CHECK(p.pack > 0.769 && p.pack < 0.771); /* pack followed high down: 87 % - 10 points */
	CHECK(dvmq_engine_param_set(&p, "dwell", "250ms") == 0 && p.dwell_ns == 250000000ull);
	CHECK(dvmq_engine_param_set(&p, "policy", "ovs-alb") == 0 && p.policy == DVMQ_POLICY_OVS_ALB);
	CHECK(dvmq_engine_param_set(&p, "coalesce-rounds", "5") == 0 && p.coalesce_rounds == 5);
	CHECK(dvmq_engine_param_set(&p, "nope", "1") == -ENOENT);
	CHECK(dvmq_engine_param_set(&p, "high", "150%") == -ERANGE);
	CHECK(dvmq_engine_param_set(&p, "low", "95%") == -ERANGE); /* above high */
	CHECK(dvmq_engine_param_set(&p, "dwell", "2") == -EINVAL); /* unit missing */
	CHECK(dvmq_engine_param_set(&p, "policy", "fastest") == -EINVAL);
	CHECK(p.high > 0.79 && p.high < 0.81); /* failed sets change nothing */
	for (const char *const *n = dvmq_engine_param_names(); *n; n++) {
		struct dvmq_engine_params q = p;
		CHECK(dvmq_engine_param_set(&q, *n, "nonsense") == -EINVAL);
	}
}
