/* rsspp's rules, one test each: the target solver over items (greedy, tolerance search, best run
 * kept), the removal solver, and the policy round (imbalance around the mean with its threshold,
 * a processor that received items sits a round out, autoscale's removal with its variance guard
 * and its addition). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "../harness.h"
#include "../../src/engine/rsspp_solver.h"
#include "engine_fixture.h"

static size_t plan_rebalances(const struct dvmq_plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_moves; i++)
		n += p->moves[i].reason == DVMQ_REASON_REBALANCE;
	return n;
}

TEST(rsspp_greedy_gives_the_heaviest_item_to_the_most_room)
{
	/* two overloaded processors, two underloaded: the most overloaded gives first, its heaviest
	 * item that fits under the most room (less the 0.01 tolerance) */
	struct rsspp_workspace w;
	CHECK(rsspp_workspace_init(&w, 8, 4) == 0);
	double load[] = { 0.10, 0.25, 0.05, 0.20 };
	uint32_t from[] = { 0, 0, 1, 1 }, to[4];
	double excess[] = { 0.25, 0.20 }, room[] = { 0.22, 0.27 };
	struct rsspp_target_problem pb = { .n_items = 4, .item_load = load, .item_from = from, .n_over = 2,
					   .over_excess = excess, .n_under = 2, .under_room = room, .transfer = to };
	CHECK(rsspp_solve_target(&pb, &w) == 0);
	/* 0.25 (processor 0's heaviest) goes to room 0.27 */
	CHECK_MSG(to[1] == 1, "item 0.25 went to %u", to[1]);
	/* 0.20 (processor 1's heaviest) to the most room left: 0.22 */
	CHECK_MSG(to[3] == 0, "item 0.20 went to %u", to[3]);
	CHECK(to[0] == RSSPP_STAY && to[2] == RSSPP_STAY);
	CHECK(pb.square_imbalance < RSSPP_TARGET_SQ && pb.runs == 1);
	rsspp_workspace_free(&w);
}

TEST(rsspp_tolerance_search_finds_what_one_greedy_run_misses)
{
	/* one overloaded processor 0.3 over the mean with items 0.4 and 0.3; rooms 0.2 and 0.1. A
	 * single run with the -0.01 tolerance moves nothing (neither item fits); the search widens the
	 * tolerance and keeps the run that moves 0.3 into 0.2 of room (squared imbalance 0.02 against
	 * 0.14 for moving nothing and 0.24 for moving both) */
	struct rsspp_workspace w;
	CHECK(rsspp_workspace_init(&w, 4, 4) == 0);
	double load[] = { 0.4, 0.3 };
	uint32_t from[] = { 0, 0 }, to[2];
	double excess[] = { 0.3 }, room[] = { 0.2, 0.1 };
	struct rsspp_target_problem pb = { .n_items = 2, .item_load = load, .item_from = from, .n_over = 1,
					   .over_excess = excess, .n_under = 2, .under_room = room, .transfer = to };
	CHECK(rsspp_solve_target(&pb, &w) == 0);
	CHECK_MSG(to[0] == RSSPP_STAY && to[1] == 0, "transfers %u %u after %u runs", to[0], to[1], pb.runs);
	CHECK_MSG(fabs(pb.square_imbalance - 0.02) < 1e-9, "square imbalance %.4f", pb.square_imbalance);
	CHECK(pb.runs > 1 && pb.runs <= RSSPP_MAX_RUNS);
	rsspp_workspace_free(&w);
}

TEST(rsspp_solver_refuses_items_of_no_overloaded_processor)
{
	struct rsspp_workspace w;
	CHECK(rsspp_workspace_init(&w, 2, 2) == 0);
	double load[] = { 0.1 }, excess[] = { 0.2 }, room[] = { 0.2 };
	uint32_t from[] = { 1 }, to[1];
	struct rsspp_target_problem pb = { .n_items = 1, .item_load = load, .item_from = from, .n_over = 1,
					   .over_excess = excess, .n_under = 1, .under_room = room, .transfer = to };
	CHECK(rsspp_solve_target(&pb, &w) == -EINVAL);
	pb.n_items = 3; /* beyond the workspace */
	from[0] = 0;
	CHECK(rsspp_solve_target(&pb, &w) == -EINVAL);
	CHECK(rsspp_solve_removal(1, load, 0, room, to, &w) == -EINVAL);
	rsspp_workspace_free(&w);
}

TEST(rsspp_removal_places_the_largest_first_on_the_most_room)
{
	/* rooms 0.5, 0.3, 0.2; items 0.1, 0.4, 0.25: 0.4 -> 0.5 (room 0.1 left), 0.25 -> 0.3, 0.1 -> 0.2 */
	struct rsspp_workspace w;
	CHECK(rsspp_workspace_init(&w, 4, 4) == 0);
	double load[] = { 0.1, 0.4, 0.25 }, room[] = { 0.5, 0.3, 0.2 };
	uint32_t to[3];
	CHECK(rsspp_solve_removal(3, load, 3, room, to, &w) == 0);
	CHECK_MSG(to[1] == 0 && to[2] == 1 && to[0] == 2, "to %u %u %u", to[0], to[1], to[2]);
	rsspp_workspace_free(&w);
}

/* Three processors, the adapters' queues round-robin from 0 (0: a, d; 1: b; 2: c); loads
 * 0.4 + 0.3, 0.2, 0.3: mean 0.4, processor 0 is 0.3 over it, 1 is 0.2 under, 2 is 0.1 under.
 * Returns the rebalance moves of the first round, or -1. */
static int first_round_moves(const char *threshold, uint32_t *moved, uint32_t *to)
{
	struct fx f;
	if (fx_init(&f, 3, 4, DVMQ_POLICY_RSSPP, NULL) || fx_set(&f, "rsspp-imbalance", threshold))
		return -1;
	uint32_t q[4];
	for (uint32_t i = 0; i < 4; i++)
		q[i] = fx_q(&f, fx_add(&f, i, 100));
	int n = -1;
	if (fx_proc(&f, 0) == 0 && fx_proc(&f, 3) == 0 && fx_proc(&f, 1) == 1 && fx_proc(&f, 2) == 2) {
		f.qload[q[0]] = 0.4;
		f.qload[q[3]] = 0.3;
		f.qload[q[1]] = 0.2;
		f.qload[q[2]] = 0.3;
		if (fx_round(&f) == 0) {
			n = (int)plan_rebalances(f.plan);
			*moved = n ? f.plan->moves[0].queue : 0;
			*to = n ? f.plan->moves[0].to : 0;
			*moved = *moved == q[3] ? 3 : *moved == q[0] ? 0 : 99;
		}
	}
	dvmq_engine_destroy(f.e);
	return n;
}

TEST(rsspp_moves_items_from_over_to_under_the_mean_beyond_the_threshold)
{
	uint32_t moved = 0, to = 0;
	int n = first_round_moves("2%", &moved, &to);
	CHECK_MSG(n == 1 && moved == 3 && to == 1, "imbalance 2%%: %d moves, queue %u to %u", n, moved, to);
	/* 35 %: processor 0 is only 30 % over the mean, nobody is overloaded */
	n = first_round_moves("35%", &moved, &to);
	CHECK_MSG(n == 0, "imbalance 35%%: %d moves", n);
}

/* Round (from 2) of the first rebalance after processor 1 received a queue in round 1 and then
 * became the overloaded one, or -1 within 5 rounds. */
static int round_of_next_rebalance(void)
{
	struct fx f;
	if (fx_init(&f, 3, 4, DVMQ_POLICY_RSSPP, NULL))
		return -2;
	uint32_t q[4];
	for (uint32_t i = 0; i < 4; i++)
		q[i] = fx_q(&f, fx_add(&f, i, 100));
	f.qload[q[0]] = 0.4;
	f.qload[q[3]] = 0.3;
	f.qload[q[1]] = 0.2;
	f.qload[q[2]] = 0.3;
	int r = -3;
	if (fx_round(&f) == 0 && plan_rebalances(f.plan) == 1 && fx_proc(&f, 3) == 1) {
		f.qload[q[1]] = 0.5; /* processor 1 at 0.8 against a mean of 0.5: over by 0.3 */
		r = -1;
		for (int k = 2; k <= 5 && r == -1; k++)
			if (fx_round(&f) == 0 && plan_rebalances(f.plan) > 0)
				r = k;
	}
	dvmq_engine_destroy(f.e);
	return r;
}

TEST(rsspp_a_processor_that_received_items_sits_a_round_out)
{
	int r = round_of_next_rebalance();
	CHECK_MSG(r == 3, "the next rebalance came in round %d, want 3 (round 2 is processor 1's to sit out)", r);
}

/* Four processors with one light queue each (the default queue, idle, on processor 0): loads
 * 0.1, 0.05, 0.15, 0.1. Fills parked[] with the processor parked in each of `rounds` rounds
 * (DVMQ_NO_PROCESSOR for none) and returns the moves of the first, or -1. */
static int removals(const char *autoscale, double top, uint32_t *parked, int rounds)
{
	struct fx f;
	if (fx_init(&f, 4, 4, DVMQ_POLICY_RSSPP, NULL) || fx_set(&f, "rsspp-autoscale", autoscale))
		return -1;
	double loads[4] = { 0.1, 0.05, 0.15, 0.1 };
	loads[2] = top;
	uint32_t q[4];
	for (uint32_t i = 0; i < 4; i++) {
		q[i] = fx_q(&f, fx_add(&f, i, 100));
		f.qload[q[i]] = loads[i];
	}
	int first = -1;
	for (int r = 0; r < rounds; r++) {
		if (fx_round(&f) != 0)
			break;
		if (r == 0)
			first = (int)f.plan->n_moves;
		parked[r] = f.plan->n_park == 1 ? f.plan->park[0] : f.plan->n_park ? 1000 : DVMQ_NO_PROCESSOR;
	}
	dvmq_engine_destroy(f.e);
	return first;
}

TEST(rsspp_autoscale_removes_the_least_loaded_one_per_round)
{
	/* suppload 0.75 x 4 - 0.4 = 2.6 > 1 + 0.25 + 5 x 0.05: processor 1 (0.05) goes, its one queue
	 * moved; then 3 used: 1.85 > 1.45, the least loaded of the rest goes; then 2 used: 1.1 < 1.4 */
	uint32_t parked[4];
	int n = removals("1", 0.15, parked, 4);
	CHECK_MSG(n == 1 && parked[0] == 1, "round 1: %d moves, parked %u", n, parked[0]);
	CHECK_MSG(parked[1] != DVMQ_NO_PROCESSOR && parked[1] != 1000, "round 2 parked %u", parked[1]);
	CHECK_MSG(parked[2] == DVMQ_NO_PROCESSOR && parked[3] == DVMQ_NO_PROCESSOR, "rounds 3, 4 parked %u, %u",
		  parked[2], parked[3]);
	n = removals("0", 0.15, parked, 4);
	CHECK_MSG(n == 0 && parked[0] == DVMQ_NO_PROCESSOR, "autoscale off: %d moves, parked %u", n, parked[0]);
}

TEST(rsspp_autoscale_keeps_its_variance_guard)
{
	/* one processor at 0.95, three at 0.05-0.1: suppload 3 - 1.2 = 1.8 would remove one against
	 * (N + 1) x 0.05, but the guard is (N + 1) x (0.95 - 0.75) = 1.0: 1.8 < 2.25, nothing removed
	 * (and the 0.95 processor holds one queue: nothing to rebalance) */
	uint32_t parked[3];
	int n = removals("1", 0.95, parked, 3);
	CHECK_MSG(n == 0 && parked[0] == DVMQ_NO_PROCESSOR && parked[1] == DVMQ_NO_PROCESSOR &&
			  parked[2] == DVMQ_NO_PROCESSOR,
		  "%d moves, parked %u, %u, %u", n, parked[0], parked[1], parked[2]);
}

TEST(rsspp_autoscale_adds_a_processor_when_short)
{
	/* four queues of 0.3 stacked on processor 0 (the only one used): suppload 0.75 - 1.0 < -0.1
	 * adds processor 1 (processor 2 stays unused), and the same round gives it half the load */
	struct fx f;
	CHECK(fx_init(&f, 3, 4, DVMQ_POLICY_RSSPP, NULL) == 0);
	uint32_t q[4];
	for (uint32_t i = 0; i < 4; i++)
		q[i] = fx_q(&f, fx_add(&f, i, 100));
	CHECK(fx_stack_on_first(&f) == 0);
	for (uint32_t i = 0; i < 4; i++)
		f.qload[q[i]] = 0.3;
	CHECK(fx_round(&f) == 0);
	size_t to1 = 0, to2 = 0;
	for (size_t i = 0; i < f.plan->n_moves; i++) {
		to1 += f.plan->moves[i].to == 1;
		to2 += f.plan->moves[i].to == 2;
	}
	CHECK_MSG(to1 == 2 && to2 == 0, "moved %zu queues to processor 1 and %zu to 2", to1, to2);
	dvmq_engine_destroy(f.e);
	CHECK(fx_init(&f, 3, 4, DVMQ_POLICY_RSSPP, NULL) == 0);
	CHECK(fx_set(&f, "rsspp-autoscale", "0") == 0);
	for (uint32_t i = 0; i < 4; i++)
		q[i] = fx_q(&f, fx_add(&f, i, 100));
	CHECK(fx_stack_on_first(&f) == 0);
	for (uint32_t i = 0; i < 4; i++)
		f.qload[q[i]] = 0.3;
	CHECK(fx_round(&f) == 0);
	CHECK_MSG(f.plan->n_moves == 0, "autoscale off: %zu moves", f.plan->n_moves);
	dvmq_engine_destroy(f.e);
}

TEST(rsspp_parameters)
{
	struct dvmq_engine_params p;
	dvmq_engine_params_default(&p);
	CHECK(p.rsspp_target == 0.75 && p.rsspp_imbalance == 0.02 && p.rsspp_autoscale == 1);
	CHECK(dvmq_engine_param_set(&p, "policy", "rsspp") == 0 && p.policy == DVMQ_POLICY_RSSPP);
	CHECK(strcmp(dvmq_policy_name(DVMQ_POLICY_RSSPP), "rsspp") == 0);
	CHECK(dvmq_engine_param_set(&p, "rsspp-target", "80%") == 0 && p.rsspp_target == 0.8);
	CHECK(dvmq_engine_param_set(&p, "rsspp-target", "0") == -ERANGE);
	CHECK(dvmq_engine_param_set(&p, "rsspp-imbalance", "60%") == -ERANGE);
	CHECK(dvmq_engine_param_set(&p, "rsspp-autoscale", "2") == -ERANGE);
	const char *why = dvmq_engine_param_problem(&p, "rsspp-autoscale", "2");
	CHECK(why && strstr(why, "rsspp-autoscale must be 0 (off) or 1 (on)"));
	char buf[32];
	CHECK(dvmq_engine_param_format(&p, "rsspp-target", buf, sizeof(buf)) == 0 && strcmp(buf, "80%") == 0);
}
