/* Pins (dvmqctl queue set --processor N): the engine never moves a pinned queue, under every
 * policy that moves queues, through overload and through idleness, so its processor stays awake;
 * the pin's own rules (where it may go, what ends it). And the ping-pong count's rule: only
 * engine moves pair up (an operator's moves are not ping-pongs and break the pairs). */
#include <errno.h>

#include "../harness.h"
#include "dvmq/metrics.h"
#include "engine_fixture.h"

static bool plan_moves_queue(const struct dvmq_plan *p, uint32_t q)
{
	for (size_t i = 0; p && i < p->n_moves; i++)
		if (p->moves[i].queue == q)
			return true;
	return false;
}

/* Six VMs stacked on processor 0 with the one under test: 40 rounds of overload (queues spread),
 * then it goes to processor 3 (pinned there, or pinned and handed back at once) and 60 rounds
 * of near idleness follow (queues coalesce). Returns the rounds in which that queue moved off
 * where it was put or its processor slept, and *others the moves of the other queues. */
static int pin_run(enum dvmq_policy pol, bool pin, uint32_t *others)
{
	struct fx f;
	if (fx_init(&f, 4, 6, pol, NULL) != 0)
		return -1;
	uint32_t a[6];
	for (uint32_t i = 0; i < 6; i++)
		a[i] = fx_add(&f, i + 1, 100);
	fx_stack_on_first(&f);
	if (fx_set(&f, "ovs-interval", "1s") != 0 || fx_set(&f, "ovs-history", "5") != 0 || /* ovs-alb acts */
	    fx_set(&f, "irqbalance-interval", "1s") != 0 || fx_set(&f, "irqbalance-powerthresh", "1") != 0)
		return -1;
	uint32_t pq = fx_q(&f, a[0]), where = 0;
	if (pin && dvmq_engine_queue_pin(f.e, pq, 0, f.now, NULL) != 0)
		return -1;
	int bad = 0;
	*others = 0;
	for (int r = 0; r < 100; r++) {
		if (r == 40) {
			where = 3;
			if (dvmq_engine_queue_pin(f.e, pq, where, f.now, NULL) != 0 ||
			    (!pin && dvmq_engine_queue_unpin(f.e, pq) != 0))
				return -1;
		}
		for (uint32_t i = 0; i < 6; i++)
			f.qload[fx_q(&f, a[i])] = r < 40 ? (i == 0 ? 0.25 : 0.35) : 0.01;
		if (fx_round(&f) != 0)
			return -1;
		bool moved = plan_moves_queue(f.plan, pq);
		bad += moved || dvmq_engine_queue_processor(f.e, pq) != where || !dvmq_engine_processor_awake(f.e, where);
		for (size_t k = 0; k < f.plan->n_moves; k++)
			*others += f.plan->moves[k].queue != pq;
	}
	dvmq_engine_destroy(f.e);
	return bad;
}

static const enum dvmq_policy movers[] = { DVMQ_POLICY_DYNAMIC, DVMQ_POLICY_ADAPTIVE, DVMQ_POLICY_OVS_ALB,
					    DVMQ_POLICY_RSSPP, DVMQ_POLICY_IRQBALANCE };

TEST(engine_pin_a_pinned_queue_never_moves_and_its_processor_stays_awake)
{
	for (size_t i = 0; i < sizeof(movers) / sizeof(movers[0]); i++) {
		uint32_t others;
		int bad = pin_run(movers[i], true, &others);
		CHECK_MSG(bad == 0, "%s: the pinned queue moved or its processor slept in %d rounds",
			  dvmq_policy_name(movers[i]), bad);
		CHECK_MSG(others > 0, "%s: nothing moved at all: the run proves nothing", dvmq_policy_name(movers[i]));
	}
}

/* the same runs without the pin: the queue does move (the test above is not vacuous) */
TEST(engine_pin_an_unpinned_queue_moves_in_the_same_run)
{
	for (size_t i = 0; i < sizeof(movers) / sizeof(movers[0]); i++) {
		uint32_t others;
		int bad = pin_run(movers[i], false, &others);
		CHECK_MSG(bad > 0, "%s: the queue never moved without its pin", dvmq_policy_name(movers[i]));
	}
}

TEST(engine_pin_where_it_may_go_and_what_ends_it)
{
	struct fx f;
	CHECK(fx_init(&f, 4, 4, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100);
	uint32_t q = fx_q(&f, a);
	const struct dvmq_plan *plan = NULL;
	CHECK(dvmq_engine_queue_pin(f.e, 3, 1, 0, &plan) == -ENOENT);  /* slot 3 unused */
	CHECK(dvmq_engine_queue_pin(f.e, q, 4, 0, &plan) == -EINVAL);  /* no processor 4 */
	struct dvmq_processor_set two = { .max = 2, .numa_node = -1 }, all = { .numa_node = -1 };
	CHECK(dvmq_engine_set_processor_set(f.e, &two, 0, NULL) == 0);
	CHECK(dvmq_engine_queue_pin(f.e, q, 3, 0, &plan) == -EINVAL);  /* outside the set */
	uint32_t from = dvmq_engine_queue_processor(f.e, q), to = from == 0 ? 1 : 0;
	CHECK(dvmq_engine_queue_pin(f.e, q, to, 0, &plan) == 0);
	CHECK(plan->n_moves == 1 && plan->moves[0].queue == q && plan->moves[0].from == from &&
	      plan->moves[0].to == to && plan->moves[0].reason == DVMQ_REASON_PIN);
	CHECK(strcmp(dvmq_reason_name(DVMQ_REASON_PIN), "pin") == 0 && !dvmq_reason_is_engine(DVMQ_REASON_PIN));
	/* pinning where it already is: no move, pinned all the same */
	CHECK(dvmq_engine_queue_pin(f.e, q, to, 0, &plan) == 0 && plan->n_moves == 0);
	CHECK(dvmq_engine_queue_pinned(f.e, q));
	/* `none` puts every queue on the base processor, but not a pinned one */
	CHECK(dvmq_engine_set_processor_set(f.e, &all, 0, NULL) == 0);
	CHECK(dvmq_engine_queue_pin(f.e, q, 3, 0, NULL) == 0);
	CHECK(fx_set(&f, "policy", "none") == 0);
	CHECK(dvmq_engine_queue_processor(f.e, q) == 3 && dvmq_engine_queue_pinned(f.e, q));
	/* a set without its processor moves it and ends the pin */
	CHECK(dvmq_engine_set_processor_set(f.e, &two, 0, &plan) == 0);
	CHECK(dvmq_engine_queue_processor(f.e, q) < 2 && !dvmq_engine_queue_pinned(f.e, q));
	CHECK(plan_moves_queue(plan, q));
	/* the VM gone: its slot is no longer pinned, nor active */
	CHECK(dvmq_engine_queue_pin(f.e, q, 1, 0, NULL) == 0);
	CHECK(dvmq_engine_adapter_remove(f.e, a) == 0);
	CHECK(!dvmq_engine_queue_pinned(f.e, q) && dvmq_engine_queue_unpin(f.e, q) == -ENOENT);
	a = fx_add(&f, 2, 100);
	CHECK(fx_q(&f, a) == q && !dvmq_engine_queue_pinned(f.e, q)); /* a new VM on the slot: no pin */
	dvmq_engine_destroy(f.e);
}

/* The count: alternating the processor set (operator moves) three times made 25
 * "ping-pongs". Moves of an operator are neither ping-pongs nor returns, and no engine move pairs
 * with one made before an operator's move of the same queue. */
TEST(pingpong_counts_only_between_engine_moves)
{
	struct dvmq_queue_moves m = { 0 };
	uint64_t ms = 1000000ull;
	/* engine A->B, engine B->A within 1 s: a ping-pong (and a return) */
	CHECK(dvmq_queue_moves_record(&m, 0, 1, 0) == 0);
	CHECK(dvmq_queue_moves_record(&m, 1, 0, 500 * ms) == (DVMQ_MOVE_PINGPONG | DVMQ_MOVE_RETURN));
	/* operator moves back and forth: nothing counted, however fast */
	dvmq_queue_moves_reset(&m);
	for (int i = 0; i < 6; i++) {
		dvmq_queue_moves_operator(&m);
		CHECK(m.n == 0);
	}
	/* engine A->B, the operator B->C and C->B, engine B->A: the engine's second move pairs with
	 * nothing (without the operator it would be a ping-pong) */
	CHECK(dvmq_queue_moves_record(&m, 0, 1, 100 * ms) == 0);
	dvmq_queue_moves_operator(&m); /* 1 -> 2 at 150 ms */
	dvmq_queue_moves_operator(&m); /* 2 -> 1 at 200 ms */
	CHECK(dvmq_queue_moves_record(&m, 1, 0, 300 * ms) == 0);
	/* operator A->B, then engine B->A: not a ping-pong (the first move was not the engine's) */
	dvmq_queue_moves_operator(&m); /* 1 -> 2 at 400 ms */
	CHECK(dvmq_queue_moves_record(&m, 2, 1, 500 * ms) == 0);
	/* and engine moves after that pair up again */
	CHECK(dvmq_queue_moves_record(&m, 1, 2, 600 * ms) == (DVMQ_MOVE_PINGPONG | DVMQ_MOVE_RETURN));
}

/* The dry run's engine: a clone plans exactly as the original would, and planning on it changes
 * nothing of the original (both destroyed under ASan: a shared array would be a double free). */
TEST(engine_clone_plans_as_the_original_and_leaves_it_alone)
{
	struct fx f;
	CHECK(fx_init(&f, 4, 6, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	uint32_t a[6];
	for (uint32_t i = 0; i < 6; i++)
		a[i] = fx_add(&f, i + 1, 100);
	fx_stack_on_first(&f);
	for (uint32_t i = 0; i < 6; i++)
		f.qload[fx_q(&f, a[i])] = 0.3;
	struct dvmq_engine *c = NULL;
	CHECK(dvmq_engine_clone(f.e, &c) == 0);
	CHECK(fx_round(&f) == 0); /* the original plans on these samples */
	size_t n = f.plan->n_moves;
	struct dvmq_move mv[16];
	for (size_t i = 0; i < n && i < 16; i++)
		mv[i] = f.plan->moves[i];
	uint32_t after[7];
	for (uint32_t q = 0; q < 7; q++)
		after[q] = dvmq_engine_queue_processor(f.e, q);
	const struct dvmq_plan *pc = NULL;
	CHECK(dvmq_engine_plan(c, f.now, FX_IV, f.ps, f.qs, &pc) == 0); /* the clone on the same */
	CHECK_MSG(n > 0 && pc->n_moves == n, "the original planned %zu moves, the clone %zu", n, pc->n_moves);
	for (size_t i = 0; i < n && i < 16; i++)
		CHECK(pc->moves[i].queue == mv[i].queue && pc->moves[i].to == mv[i].to && pc->moves[i].reason == mv[i].reason);
	for (uint32_t q = 0; q < 7; q++) /* the clone's plan moved nothing of the original's */
		CHECK(dvmq_engine_queue_processor(f.e, q) == after[q]);
	dvmq_engine_destroy(c);
	dvmq_engine_destroy(f.e);
}
