/* adaptive's rules, one test each, built so that the rule alone decides the outcome: where it can,
 * a test also runs the same host with the rule's parameter switched off and sees the outcome change.
 * Rules: demand as load, the smallest sufficient spread, the floor, single-queue overloads, no
 * move undone within return-guard, spreading and coalescing in one round, many processors
 * coalesced per round within pack, no coalescing back within return-window, dwell yielding to a
 * move that ends an overload or leaves a single-queue overload. */
#include <errno.h>
#include <math.h>
#include <string.h>

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

static size_t plan_count(const struct dvmq_plan *p, enum dvmq_reason why)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_moves; i++)
		n += p->moves[i].reason == why;
	return n;
}

TEST(adaptive_reacts_in_one_round_moving_the_smallest_sufficient_queue)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 3, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100), c = fx_add(&f, 3, 100);
	CHECK(fx_stack_on_first(&f) == 0);
	f.qload[fx_q(&f, a)] = 0.5;
	f.qload[fx_q(&f, b)] = 0.3;
	f.qload[fx_q(&f, c)] = 0.25; /* total 1.05: 0.25 is the smallest that alone ends it */
	CHECK(fx_round(&f) == 0);
	CHECK(f.plan->n_moves == 1);
	CHECK(plan_has_move(f.plan, fx_q(&f, c), 0, 1, DVMQ_REASON_SPREAD));
	CHECK(f.plan->moves[0].src_after <= 0.9 + 1e-9);
	dvmq_engine_destroy(f.e);
}

TEST(adaptive_sees_demand_not_throttled_busy_time)
{
	/* 0.8 + 0.7 on one processor: busy shows ~0.53 + 0.47, demand is 1.5. dynamic would put a
	 * 0.53 queue next to 0.35 (=0.88, "fits") and overload the destination; adaptive must not. */
	struct fx f;
	CHECK(fx_init(&f, 2, 3, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100);
	CHECK(fx_stack_on_first(&f) == 0);
	f.qload[fx_q(&f, a)] = 0.8;
	f.qload[fx_q(&f, b)] = 0.7;
	f.other[1] = 0.35;
	for (int r = 0; r < 3; r++) {
		CHECK(fx_round(&f) == 0);
		for (size_t i = 0; i < f.plan->n_moves; i++)
			CHECK(f.plan->moves[i].dst_after <= 0.9 + 1e-9);
	}
	CHECK(fx_proc(&f, a) == 0 && fx_proc(&f, b) == 0);
	dvmq_engine_destroy(f.e);
}

/* Round (counted from the spread) in which the spread queue first goes back, or -1 within 40. */
static int rounds_until_undone(const char *guard, const char *dwell)
{
	struct fx f;
	if (fx_init(&f, 2, 2, DVMQ_POLICY_ADAPTIVE, NULL) || fx_set(&f, "return-guard", guard) ||
	    fx_set(&f, "dwell", dwell))
		return -2;
	uint32_t qa = fx_q(&f, fx_add(&f, 1, 100)), qb = fx_q(&f, fx_add(&f, 2, 100));
	int back = -3;
	if (fx_stack_on_first(&f) == 0) {
		f.qload[qa] = 0.3;
		f.qload[qb] = 0.65; /* 0.95: qa, the smallest sufficient, goes to processor 1 */
		if (fx_round(&f) || !plan_has_move(f.plan, qa, 0, 1, DVMQ_REASON_SPREAD))
			back = -4;
		/* then processor 1 gets busy from other causes and processor 0 has room: the move
		 * back to 0 fits and relieves 1; only the return guard refuses it */
		f.qload[qb] = 0.3;
		f.other[1] = 0.7;
		for (int r = 1; r <= 40 && back == -3; r++)
			if (fx_round(&f) == 0 && plan_has_move(f.plan, qa, 1, 0, DVMQ_REASON_SPREAD))
				back = r;
	}
	dvmq_engine_destroy(f.e);
	return back == -3 ? -1 : back;
}

TEST(adaptive_never_undoes_a_recent_move)
{
	/* the queue goes back exactly when the guard ends, not a round sooner: nothing but the
	 * guard held it, and dwell (0 here) plays no part */
	int r = rounds_until_undone("2s", "0");
	CHECK_MSG(r == 20, "return-guard 2s: moved back after %d rounds, want 20", r);
	r = rounds_until_undone("1s", "0");
	CHECK_MSG(r == 10, "return-guard 1s: moved back after %d rounds, want 10", r);
}

TEST(adaptive_refuses_a_return_guard_shorter_than_the_pingpong_window)
{
	struct dvmq_engine_params p;
	dvmq_engine_params_default(&p);
	CHECK(dvmq_engine_param_set(&p, "return-guard", "0") == -ERANGE);
	CHECK(dvmq_engine_param_set(&p, "return-guard", "999ms") == -ERANGE);
	const char *why = dvmq_engine_param_problem(&p, "return-guard", "500ms");
	CHECK(why && strstr(why, "return-guard must be at least 1s"));
	CHECK(dvmq_engine_param_set(&p, "return-guard", "1s") == 0);
	CHECK(dvmq_engine_param_problem(&p, "return-guard", "1s") == NULL);
	/* dwell 0 is allowed: the no-ping-pong promise does not rest on it */
	CHECK(dvmq_engine_param_set(&p, "dwell", "0") == 0 && p.dwell_ns == 0);
	CHECK(dvmq_engine_param_set(&p, "return-window", "500ms") == -ERANGE); /* < return-guard */
	p.return_guard_ns = 0;
	CHECK(dvmq_engine_params_validate(&p) == -EINVAL);
	struct fx f;
	CHECK(fx_init(&f, 2, 2, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	CHECK(dvmq_engine_set_params(f.e, &p, 0, NULL) == -EINVAL);
	dvmq_engine_destroy(f.e);
}

/* Spread moves off a processor whose 1.3-processor queue can go nowhere, shared with ten queues of
 * 0.08 % each: they would leave it (isolation) but for the floor. */
static int crumb_spreads(const char *floor)
{
	struct fx f;
	if (fx_init(&f, 2, 11, DVMQ_POLICY_ADAPTIVE, NULL) || fx_set(&f, "floor", floor))
		return -1;
	f.qload[fx_q(&f, fx_add(&f, 99, 100))] = 1.3;
	for (uint32_t i = 0; i < 10; i++)
		f.qload[fx_q(&f, fx_add(&f, i, 100))] = 0.0008;
	int n = fx_stack_on_first(&f) ? -1 : 0;
	for (int r = 0; r < 10 && n >= 0; r++)
		n = fx_round(&f) ? -1 : n + (int)plan_count(f.plan, DVMQ_REASON_SPREAD);
	dvmq_engine_destroy(f.e);
	return n;
}

TEST(adaptive_never_spreads_a_queue_under_the_floor)
{
	int n = crumb_spreads("0.1%");
	CHECK_MSG(n == 0, "floor 0.1%%: %d spread moves of 0.08 %% queues", n);
	n = crumb_spreads("0");
	CHECK_MSG(n == 10, "floor 0: %d spread moves, want the 10 crumbs (else the test does not exercise "
		  "the floor)", n);
}

TEST(adaptive_no_partial_relief_with_crumbs)
{
	/* a processor over high from other work with ten 1 % queues, another at 30 %: moving a crumb
	 * leaves the source over high and sheds less than min-gain, so nothing moves; with min-gain 0
	 * the crumbs would go. Pass 2: both processors busy with other work (as on a small host that
	 * also runs the VMs): no 1 % queue is a single-queue overload, whatever fits where. */
	for (int pass = 0; pass < 3; pass++) {
		struct fx f;
		CHECK(fx_init(&f, 2, 10, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
		CHECK(fx_set(&f, "min-gain", pass == 1 ? "0" : "5%") == 0);
		for (uint32_t i = 0; i < 10; i++)
			f.qload[fx_q(&f, fx_add(&f, i, 100))] = 0.01;
		CHECK(fx_stack_on_first(&f) == 0);
		f.other[0] = pass == 2 ? 0.95 : 0.90;
		f.other[1] = pass == 2 ? 0.93 : 0.30;
		size_t n = 0;
		for (int r = 0; r < 10; r++) {
			CHECK(fx_round(&f) == 0);
			n += plan_count(f.plan, DVMQ_REASON_SPREAD);
			CHECK(f.plan->n_overloads == 0); /* 1 % queues are nobody's single-queue overload */
		}
		dvmq_engine_destroy(f.e);
		CHECK_MSG(pass == 1 ? n > 0 : n == 0, "pass %d: %zu spread moves", pass, n);
	}
}

TEST(adaptive_single_queue_overload_reported_once_per_episode)
{
	struct fx f;
	CHECK(fx_init(&f, 4, 4, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	uint32_t qe = fx_q(&f, fx_add(&f, 0, 100)), mice[3];
	for (uint32_t i = 0; i < 3; i++)
		mice[i] = fx_q(&f, fx_add(&f, i + 1, 100));
	CHECK(fx_stack_on_first(&f) == 0);
	f.qload[qe] = 1.3;
	for (uint32_t i = 0; i < 3; i++)
		f.qload[mice[i]] = 0.1;
	/* the elephant cannot move anywhere; the mice sharing its processor leave it (relief for
	 * them), and the plan says once that the elephant needs VMMQ */
	CHECK(fx_round(&f) == 0);
	CHECK(plan_count(f.plan, DVMQ_REASON_SPREAD) == 3);
	for (size_t i = 0; i < f.plan->n_moves; i++)
		CHECK(f.plan->moves[i].queue != qe);
	CHECK(f.plan->n_overloads == 1);
	const struct dvmq_overload *ov = &f.plan->overloads[0];
	CHECK(ov->queue == qe && ov->processor == 0 && ov->reason == DVMQ_OVERLOAD_OVER_CAPACITY);
	CHECK(fabs(ov->queue_load - 1.3) < 0.01 && ov->processor_load > 0.9);
	CHECK(strcmp(dvmq_overload_reason_name(ov->reason), "over-capacity") == 0);
	for (int r = 0; r < 20; r++) {
		CHECK(fx_round(&f) == 0);
		CHECK_MSG(f.plan->n_overloads == 0, "reported again in round %d", r + 2);
		CHECK(plan_count(f.plan, DVMQ_REASON_SPREAD) == 0);
	}
	/* the episode ends when its processor is back under pack; a new one is reported again */
	f.qload[qe] = 0.3;
	CHECK(fx_round(&f) == 0 && f.plan->n_overloads == 0);
	f.qload[qe] = 1.3;
	CHECK(fx_round(&f) == 0);
	CHECK(f.plan->n_overloads == 1 && f.plan->overloads[0].queue == qe);
	dvmq_engine_destroy(f.e);

	/* 93 % alone: under a processor, over high everywhere */
	CHECK(fx_init(&f, 2, 1, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	uint32_t q = fx_q(&f, fx_add(&f, 0, 100));
	f.qload[q] = 0.93;
	CHECK(fx_round(&f) == 0);
	CHECK(f.plan->n_moves == 0 && f.plan->n_overloads == 1);
	CHECK(f.plan->overloads[0].queue == q && f.plan->overloads[0].reason == DVMQ_OVERLOAD_OVER_HIGH);
	dvmq_engine_destroy(f.e);

	/* 70 % with 25 % of other work: over high here and nowhere to go now (the other processor
	 * holds 50 % of queues), but it would run under high on a processor of its own: a full host,
	 * not a queue that needs VMMQ */
	CHECK(fx_init(&f, 2, 2, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	q = fx_q(&f, fx_add(&f, 0, 100));
	uint32_t q2 = fx_q(&f, fx_add(&f, 1, 100));
	CHECK(dvmq_engine_queue_processor(f.e, q) != dvmq_engine_queue_processor(f.e, q2));
	f.qload[q] = 0.7;
	f.qload[q2] = 0.5;
	f.other[dvmq_engine_queue_processor(f.e, q)] = 0.25;
	for (int r = 0; r < 5; r++) {
		CHECK(fx_round(&f) == 0);
		CHECK(f.plan->n_moves == 0 && f.plan->n_overloads == 0);
	}
	dvmq_engine_destroy(f.e);
}

TEST(adaptive_a_queue_under_high_stuck_by_other_work_is_no_room_not_a_single_queue_overload)
{
	/* `make run` on a busy host: a 6 % queue on a processor that other programs keep at 88 %, the
	 * other processor at 87 %: nothing fits anywhere, but the queue is no single-queue overload
	 * (VMMQ would not help): its own outcome, no-room, in its own words */
	struct fx f;
	CHECK(fx_init(&f, 2, 1, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	uint32_t q = fx_q(&f, fx_add(&f, 0, 100));
	uint32_t p = dvmq_engine_queue_processor(f.e, q);
	f.qload[q] = 0.06;
	f.other[p] = 0.88;
	f.other[1 - p] = 0.87;
	CHECK(fx_round(&f) == 0);
	CHECK(f.plan->n_moves == 0 && f.plan->n_overloads == 1);
	const struct dvmq_overload *ov = &f.plan->overloads[0];
	CHECK_MSG(ov->reason == DVMQ_OVERLOAD_NO_ROOM, "%s", dvmq_overload_reason_name(ov->reason));
	CHECK(!dvmq_overload_is_single_queue(ov->reason));
	CHECK(fabs(ov->other_load - 0.88) < 0.01);
	char words[256];
	dvmq_overload_format(ov, words, sizeof(words));
	CHECK_MSG(strcmp(words, "load 6%, its processor 94% (other work 88%): no room: other work leaves no processor "
				"of the set room for it (not a single-queue overload)") == 0, "%s", words);
	dvmq_engine_destroy(f.e);

	/* 93 % alone: a single-queue overload, its processor's load over 100 % said as such */
	CHECK(fx_init(&f, 2, 1, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	q = fx_q(&f, fx_add(&f, 0, 100));
	f.qload[q] = 1.5;
	f.other[dvmq_engine_queue_processor(f.e, q)] = 0.1;
	CHECK(fx_round(&f) == 0);
	CHECK(f.plan->n_overloads == 1 && dvmq_overload_is_single_queue(f.plan->overloads[0].reason));
	dvmq_overload_format(&f.plan->overloads[0], words, sizeof(words));
	CHECK_MSG(strcmp(words, "load 150%, its processor 160% of its capacity (other work 10%): single-queue overload "
				"(over-capacity), needs VMMQ (max-queues 1)") == 0, "%s", words);
	dvmq_engine_destroy(f.e);
}

TEST(adaptive_spreads_and_coalesces_in_the_same_round)
{
	struct fx f;
	CHECK(fx_init(&f, 4, 5, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	/* parked processors first, then round-robin: a:1 b:2 c:3 d:0 e:1 */
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100), c = fx_add(&f, 3, 100);
	uint32_t d = fx_add(&f, 4, 100), e = fx_add(&f, 5, 100);
	CHECK(fx_proc(&f, a) == 1 && fx_proc(&f, b) == 2 && fx_proc(&f, c) == 3);
	CHECK(fx_proc(&f, d) == 0 && fx_proc(&f, e) == 1);
	uint32_t qa = fx_q(&f, a), qb = fx_q(&f, b), qc = fx_q(&f, c), qd = fx_q(&f, d), qe = fx_q(&f, e);
	f.qload[qd] = 0.5;
	f.qload[qa] = 0.3;
	f.qload[qe] = 0.3;
	f.qload[qb] = 0.1;   /* processor 2 could be emptied */
	f.qload[qc] = 0.6;
	uint32_t rounds = dvmq_engine_params(f.e)->coalesce_rounds;
	for (uint32_t r = 1; r < rounds; r++) {
		CHECK(fx_round(&f) == 0);
		CHECK(f.plan->n_moves == 0);
	}
	/* the round coalescing was waiting for: processor 1 goes over high at the same time, and
	 * processor 3, nearly idle now (the spread's destination) but still sized by its queue's
	 * recent peak, would be coalescing's fullest receiver for q_b if spreading had not touched it */
	f.qload[qa] = 0.55;
	f.qload[qe] = 0.45;
	f.qload[qc] = 0.05;
	CHECK(fx_round(&f) == 0);
	CHECK(plan_count(f.plan, DVMQ_REASON_SPREAD) >= 1);
	CHECK(plan_count(f.plan, DVMQ_REASON_COALESCE) >= 1);
	CHECK(plan_has_move(f.plan, qe, 1, 3, DVMQ_REASON_SPREAD));
	CHECK(plan_has_move(f.plan, qb, 2, 0, DVMQ_REASON_COALESCE));
	/* on disjoint processors */
	for (size_t i = 0; i < f.plan->n_moves; i++)
		for (size_t j = 0; j < f.plan->n_moves; j++) {
			const struct dvmq_move *s = &f.plan->moves[i], *k = &f.plan->moves[j];
			if (s->reason != DVMQ_REASON_SPREAD || k->reason != DVMQ_REASON_COALESCE)
				continue;
			CHECK(s->from != k->from && s->from != k->to && s->to != k->from && s->to != k->to);
		}
	dvmq_engine_destroy(f.e);
}

TEST(adaptive_coalesces_many_processors_per_round_within_pack)
{
	struct fx f;
	CHECK(fx_init(&f, 8, 7, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	for (uint32_t i = 0; i < 7; i++) {
		uint32_t id = fx_add(&f, i, 100);
		CHECK(fx_proc(&f, id) == i + 1);
		f.qload[fx_q(&f, id)] = 0.26; /* 1.82 in all: three processors at pack 87 % */
	}
	CHECK(fx_awake(&f) == 8);
	const struct dvmq_engine_params *pa = dvmq_engine_params(f.e);
	for (uint32_t r = 1; r < pa->coalesce_rounds; r++) {
		CHECK(fx_round(&f) == 0);
		CHECK(f.plan->n_moves == 0); /* not calm long enough yet */
	}
	CHECK(fx_round(&f) == 0);
	CHECK_MSG(f.plan->n_park == 5, "parked %zu processors in the round, want 5", f.plan->n_park);
	for (size_t i = 0; i < f.plan->n_moves; i++) {
		CHECK(f.plan->moves[i].reason == DVMQ_REASON_COALESCE);
		CHECK(f.plan->moves[i].dst_after <= pa->pack + 1e-9);
	}
	CHECK(fx_awake(&f) == 3);
	for (int r = 0; r < 30; r++) {
		CHECK(fx_round(&f) == 0);
		CHECK(f.plan->n_moves == 0);
	}
	dvmq_engine_destroy(f.e);
}

TEST(adaptive_coalesce_respects_pack)
{
	struct fx f;
	CHECK(fx_init(&f, 2, 2, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100);
	CHECK(fx_proc(&f, a) != fx_proc(&f, b));
	f.qload[fx_q(&f, a)] = 0.5;
	f.qload[fx_q(&f, b)] = 0.4; /* together 0.9 > pack 0.87: keep both awake */
	for (int r = 0; r < 20; r++) {
		CHECK(fx_round(&f) == 0);
		CHECK(f.plan->n_moves == 0);
	}
	CHECK(fx_set(&f, "pack", "90%") == 0); /* the same loads fit under 90 % */
	for (int r = 0; r < 20; r++)
		CHECK(fx_round(&f) == 0);
	CHECK(fx_awake(&f) == 1);
	dvmq_engine_destroy(f.e);
}

TEST(adaptive_coalescing_never_returns_a_queue_within_return_window)
{
	struct fx f;
	CHECK(fx_init(&f, 3, 2, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	CHECK(fx_set(&f, "peak-halflife", "0") == 0); /* size queues by demand alone */
	uint32_t qa = fx_q(&f, fx_add(&f, 1, 100)), qb = fx_q(&f, fx_add(&f, 2, 100));
	CHECK(fx_stack_on_first(&f) == 0);
	f.qload[qa] = 0.5;
	f.qload[qb] = 0.45;
	CHECK(fx_round(&f) == 0);
	CHECK(plan_has_move(f.plan, qb, 0, 1, DVMQ_REASON_SPREAD));
	uint64_t left = f.now;
	/* 0.95 in all: nothing coalesces until the loads drop, after return-guard (so the guard
	 * cannot be what keeps qb off processor 0) and inside return-window */
	while (f.now < left + dvmq_engine_params(f.e)->return_guard_ns + FX_IV) {
		CHECK(fx_round(&f) == 0);
		CHECK(f.plan->n_moves == 0);
	}
	/* now the lightest processor is qb's: emptying it would send qb back to 0, which it left
	 * less than return-window ago; coalescing empties processor 0 into 1 instead */
	f.qload[qa] = 0.1;
	f.qload[qb] = 0.05;
	uint64_t window = dvmq_engine_params(f.e)->return_window_ns;
	bool coalesced = false;
	while (f.now < left + window + 10 * FX_IV) {
		CHECK(fx_round(&f) == 0);
		for (size_t i = 0; i < f.plan->n_moves; i++) {
			const struct dvmq_move *m = &f.plan->moves[i];
			CHECK_MSG(!(m->queue == qb && m->to == 0 && f.now - left < window),
				  "queue went back to processor 0 %.1f s after leaving it",
				  (double)(f.now - left) * 1e-9);
			coalesced |= m->reason == DVMQ_REASON_COALESCE && m->queue == qa && m->to == 1;
		}
	}
	CHECK(coalesced && fx_awake(&f) == 1);
	dvmq_engine_destroy(f.e);
}

TEST(adaptive_empties_a_processor_busy_with_other_work)
{
	/* processor 1 is at 95 % from other work with five 1 % queues: spreading cannot relieve it
	 * (no crumb ends the overload or sheds min-gain), but its queues all fit on processor 0, so
	 * coalescing empties it once it has been emptiable for coalesce-rounds rounds */
	struct fx f;
	CHECK(fx_init(&f, 2, 6, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	uint32_t qs[6];
	for (uint32_t i = 0; i < 6; i++)
		qs[i] = fx_q(&f, fx_add(&f, i, 100));
	for (uint32_t i = 0; i < 6; i++)
		f.qload[qs[i]] = dvmq_engine_queue_processor(f.e, qs[i]) == 1 ? 0.01 : 0.05;
	f.other[1] = 0.95;
	uint32_t rounds = dvmq_engine_params(f.e)->coalesce_rounds;
	for (uint32_t r = 0; r < rounds; r++) {
		CHECK(fx_round(&f) == 0);
		CHECK(plan_count(f.plan, DVMQ_REASON_SPREAD) == 0 && f.plan->n_overloads == 0);
	}
	CHECK_MSG(!dvmq_engine_processor_awake(f.e, 1), "processor 1 still holds queues");
	CHECK(f.plan->n_park == 1 && f.plan->park[0] == 1);
	dvmq_engine_destroy(f.e);
}

/* Round in which the queue spread in round 1 leaves its new processor, once `other` work loads
 * that processor from round 2 on (nothing else there to move), or -1 within 30 rounds. */
static int rounds_until_dwelling_queue_leaves(const char *dwell, double other)
{
	struct fx f;
	if (fx_init(&f, 3, 2, DVMQ_POLICY_ADAPTIVE, NULL) || fx_set(&f, "dwell", dwell))
		return -2;
	uint32_t qa = fx_q(&f, fx_add(&f, 1, 100)), qb = fx_q(&f, fx_add(&f, 2, 100));
	int left = -3;
	if (fx_stack_on_first(&f) == 0) {
		f.qload[qa] = 0.3;
		f.qload[qb] = 0.65; /* 0.95: qa, the smallest sufficient, spreads */
		uint32_t d = fx_round(&f) == 0 ? dvmq_engine_queue_processor(f.e, qa) : 0;
		if (d == 0 || !plan_has_move(f.plan, qa, 0, d, DVMQ_REASON_SPREAD))
			left = -4;
		else
			f.other[d] = other; /* only qa can leave d, and not back to 0 (0.95) */
		for (int r = 2; r <= 30 && left == -3; r++)
			if (fx_round(&f) == 0 && dvmq_engine_queue_processor(f.e, qa) != d)
				left = dvmq_engine_queue_processor(f.e, qa) != 0 ? r : -5;
	}
	dvmq_engine_destroy(f.e);
	return left == -3 ? -1 : left;
}

TEST(adaptive_dwell_yields_to_a_move_that_ends_an_overload)
{
	/* other 0.7: d at 1.0, qa's move alone ends the overload: the next round, whatever dwell is
	 * (a dwell that held it would answer when it ends: round 11 for 1s, never within 30 for 5s) */
	int r = rounds_until_dwelling_queue_leaves("1s", 0.7);
	CHECK_MSG(r == 2, "dwell 1s: left after %d rounds, want 2", r);
	r = rounds_until_dwelling_queue_leaves("5s", 0.7);
	CHECK_MSG(r == 2, "dwell 5s: left after %d rounds, want 2", r);
	/* other 0.95: d stays over high without qa, its move is partial relief: dwell holds it
	 * (round 11: the first round after 1 s) */
	r = rounds_until_dwelling_queue_leaves("1s", 0.95);
	CHECK_MSG(r == 11, "partial relief, dwell 1s: left after %d rounds, want 11", r);
}

/* Round (counted from the surge) in which a queue spread next to another one leaves it when that
 * other one surges past a whole processor (a single-queue overload), or -1 within 30 rounds. */
static int rounds_until_neighbour_leaves_elephant(const char *dwell)
{
	struct fx f;
	if (fx_init(&f, 3, 3, DVMQ_POLICY_ADAPTIVE, NULL) || fx_set(&f, "dwell", dwell))
		return -2;
	uint32_t qa = fx_q(&f, fx_add(&f, 1, 100)), qb = fx_q(&f, fx_add(&f, 2, 100)),
		 qc = fx_q(&f, fx_add(&f, 3, 100));
	int left = -3;
	if (fx_stack_on_first(&f) == 0) {
		f.qload[qa] = 0.3;
		f.qload[qb] = 0.65;
		uint32_t d = fx_round(&f) == 0 ? dvmq_engine_queue_processor(f.e, qa) : 0; /* qa spreads */
		f.qload[qc] = 0.3; /* 0.95 on 0 again: qc follows qa onto d, the awake one with room */
		if (d == 0 || fx_round(&f) || dvmq_engine_queue_processor(f.e, qc) != d)
			left = -4;
		f.qload[qa] = 1.5; /* qa needs more than a processor: qc, in its dwell, shares a saturated one */
		for (int r = 1; r <= 30 && left == -3; r++)
			if (fx_round(&f) == 0 && dvmq_engine_queue_processor(f.e, qc) != d)
				left = r;
	}
	dvmq_engine_destroy(f.e);
	return left == -3 ? -1 : left;
}

TEST(adaptive_dwell_yields_when_a_neighbour_leaves_a_single_queue_overload)
{
	/* leaving the saturated processor is the neighbour's relief: the surge's round, not when its
	 * dwell ends (round 10 for 1s) */
	int r = rounds_until_neighbour_leaves_elephant("1s");
	CHECK_MSG(r == 1, "dwell 1s: the neighbour left after %d rounds, want 1", r);
	r = rounds_until_neighbour_leaves_elephant("5s");
	CHECK_MSG(r == 1, "dwell 5s: the neighbour left after %d rounds, want 1", r);
}

TEST(adaptive_coalescing_fills_destinations_only_up_to_pack)
{
	/* three processors at 0.35 (with the idle default queue), 0.53 and 0.53: the total room under
	 * pack (1.2) would take 0.35, but no destination can: 0.53 + 0.35 = 0.88 > pack 87 %. Nothing
	 * coalesces (with room up to high, 90 %, it would) */
	struct fx f;
	CHECK(fx_init(&f, 3, 3, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	CHECK(fx_set(&f, "peak-halflife", "0") == 0);
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100), c = fx_add(&f, 3, 100);
	CHECK(fx_proc(&f, a) == 1 && fx_proc(&f, b) == 2 && fx_proc(&f, c) == 0);
	f.qload[fx_q(&f, a)] = 0.53;
	f.qload[fx_q(&f, b)] = 0.53;
	f.qload[fx_q(&f, c)] = 0.35;
	for (int r = 0; r < 30; r++) {
		CHECK(fx_round(&f) == 0);
		CHECK_MSG(f.plan->n_moves == 0, "round %d: queue %u coalesced onto %u (%.2f after)", r + 1,
			  f.plan->moves[0].queue, f.plan->moves[0].to, f.plan->moves[0].dst_after);
	}
	CHECK(fx_awake(&f) == 3);
	dvmq_engine_destroy(f.e);
}

/* Round of the first coalescing move when the loads of `busy_round` make every processor
 * unemptiable (two processors: a on 1, b and the default queue on 0, 0.3 each; busy: a at 0.7). */
static int first_coalesce_after_a_busy_round_everywhere(int busy_round)
{
	struct fx f;
	if (fx_init(&f, 2, 2, DVMQ_POLICY_ADAPTIVE, NULL) || fx_set(&f, "peak-halflife", "0"))
		return -2;
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100);
	int first = -3;
	if (fx_proc(&f, a) == 1 && fx_proc(&f, b) == 0) {
		first = -1;
		for (int r = 1; r <= 12 && first == -1; r++) {
			f.qload[fx_q(&f, a)] = r == busy_round ? 0.7 : 0.3;
			f.qload[fx_q(&f, b)] = 0.3;
			if (fx_round(&f) == 0 && f.plan->n_moves && f.plan->moves[0].reason == DVMQ_REASON_COALESCE)
				first = r;
		}
	}
	dvmq_engine_destroy(f.e);
	return first;
}

/* The same with three processors (a on 1, b on 2, c and the default queue on 0: 0.3, 0.02,
 * 0.5): processor 2 can be emptied every round (and is, in round 3), processor 1 not in
 * `busy_round` (a at 0.5). Returns the round in which a is coalesced. */
static int round_a_coalesces_after_a_busy_round_of_its_own(int busy_round)
{
	struct fx f;
	if (fx_init(&f, 3, 3, DVMQ_POLICY_ADAPTIVE, NULL) || fx_set(&f, "peak-halflife", "0"))
		return -2;
	uint32_t a = fx_add(&f, 1, 100), b = fx_add(&f, 2, 100), c = fx_add(&f, 3, 100);
	int first = -3;
	if (fx_proc(&f, a) == 1 && fx_proc(&f, b) == 2 && fx_proc(&f, c) == 0) {
		first = -1;
		for (int r = 1; r <= 12 && first == -1; r++) {
			f.qload[fx_q(&f, a)] = r == busy_round ? 0.5 : 0.3;
			f.qload[fx_q(&f, b)] = 0.02;
			f.qload[fx_q(&f, c)] = 0.5;
			if (fx_round(&f) != 0)
				break;
			for (size_t i = 0; i < f.plan->n_moves; i++)
				if (f.plan->moves[i].queue == fx_q(&f, a) && f.plan->moves[i].reason == DVMQ_REASON_COALESCE)
					first = r;
		}
	}
	dvmq_engine_destroy(f.e);
	return first;
}

TEST(adaptive_coalesce_rounds_must_be_consecutive)
{
	/* calm, calm, busy, calm...: the busy round starts the count again (coalesce-rounds 3): the
	 * coalescing comes in round 6, not round 4 (the third calm round in all). Once with no
	 * processor emptiable in the busy round, once with another processor emptied meanwhile */
	int r = first_coalesce_after_a_busy_round_everywhere(0);
	CHECK_MSG(r == 3, "always calm: coalesced in round %d, want 3", r);
	r = first_coalesce_after_a_busy_round_everywhere(3);
	CHECK_MSG(r == 6, "calm x2, busy everywhere, calm...: coalesced in round %d, want 6", r);
	r = round_a_coalesces_after_a_busy_round_of_its_own(3);
	CHECK_MSG(r == 6, "calm x2, busy (another processor emptiable), calm...: a coalesced in round %d, want 6", r);
}

/* Round in which queue b, spread in round 1 onto processor 1 (next to x), is coalesced away
 * from it once the loads fall (its processor could be emptied from round 2 on), or -1 within 30
 * rounds. Processor 0: a and b, then a alone; processor 2: y (0.8). */
static int round_spread_queue_is_coalesced(const char *dwell)
{
	struct fx f;
	if (fx_init(&f, 3, 4, DVMQ_POLICY_ADAPTIVE, NULL) || fx_set(&f, "peak-halflife", "0") ||
	    fx_set(&f, "dwell", dwell))
		return -2;
	/* a and b on processor 0 (the set shrunk to it while they arrive), then x on 1 and y on 2 */
	struct dvmq_processor_set one = { .max = 1, .numa_node = -1 }, all = { .numa_node = -1 };
	if (dvmq_engine_set_processor_set(f.e, &one, 0, NULL))
		return -2;
	uint32_t qa = fx_q(&f, fx_add(&f, 1, 100)), qb = fx_q(&f, fx_add(&f, 2, 100));
	if (dvmq_engine_set_processor_set(f.e, &all, 0, NULL))
		return -2;
	uint32_t qx = fx_q(&f, fx_add(&f, 3, 100)), qy = fx_q(&f, fx_add(&f, 4, 100));
	int when = -3;
	if (dvmq_engine_queue_processor(f.e, qb) == 0 && dvmq_engine_queue_processor(f.e, qx) == 1 &&
	    dvmq_engine_queue_processor(f.e, qy) == 2) {
		f.qload[qa] = 0.5;
		f.qload[qb] = 0.45; /* 0.95: b, the smallest sufficient, spreads to the least loaded: 1 */
		f.qload[qx] = 0.3;
		f.qload[qy] = 0.8; /* processor 2 can never be emptied, and takes b once b may leave */
		if (fx_round(&f) || dvmq_engine_queue_processor(f.e, qb) != 1)
			when = -4;
		else
			when = -1;
		f.qload[qb] = 0.05;
		f.qload[qx] = 0.35; /* processor 1 at 0.4: b fits on 2 (0.85), x on 0 (0.85); 0's a fits
				     * nowhere (0.9 on 1) */
		for (int r = 2; r <= 30 && when == -1; r++)
			if (fx_round(&f) == 0 && dvmq_engine_queue_processor(f.e, qb) != 1)
				when = r;
	}
	dvmq_engine_destroy(f.e);
	return when;
}

TEST(adaptive_coalescing_respects_dwell)
{
	/* dwell 1 s: b may not move again before round 11 (1 s after its spread in round 1); then
	 * three emptiable rounds in a row: round 13. Without dwell: the third calm round, 4 */
	int r = round_spread_queue_is_coalesced("1s");
	CHECK_MSG(r == 13, "dwell 1s: b coalesced in round %d, want 13", r);
	r = round_spread_queue_is_coalesced("0");
	CHECK_MSG(r == 4, "dwell 0: b coalesced in round %d, want 4", r);
}

/* Rounds until a queue that spread in round 1 and then fell to `load` leaves its processor once
 * that processor's other work brings it just over high (its move alone would end it), or -1
 * within 30 rounds. */
static int rounds_until_shrunken_dwelling_queue_leaves(const char *floor, double load)
{
	struct fx f;
	if (fx_init(&f, 3, 2, DVMQ_POLICY_ADAPTIVE, NULL) || fx_set(&f, "floor", floor))
		return -2;
	uint32_t qa = fx_q(&f, fx_add(&f, 1, 100)), qb = fx_q(&f, fx_add(&f, 2, 100));
	int left = -3;
	if (fx_stack_on_first(&f) == 0) {
		f.qload[qa] = 0.3;
		f.qload[qb] = 0.65;
		uint32_t d = fx_round(&f) == 0 ? dvmq_engine_queue_processor(f.e, qa) : 0;
		if (d != 0) {
			left = -1;
			f.qload[qa] = load;
			f.other[d] = 0.9 - load / 2; /* over high by less than the queue */
		}
		for (int r = 2; r <= 30 && left == -1; r++)
			if (fx_round(&f) == 0 && dvmq_engine_queue_processor(f.e, qa) != d)
				left = r;
	}
	dvmq_engine_destroy(f.e);
	return left;
}

TEST(adaptive_dwell_yield_keeps_the_floor)
{
	/* a 0.05 % queue, within its dwell, whose move alone would end the overload: under the floor
	 * (0.1 %) it never moves, dwell or not; with floor 0 it leaves in the dwell-yield pass */
	int r = rounds_until_shrunken_dwelling_queue_leaves("0.1%", 0.0005);
	CHECK_MSG(r == -1, "floor 0.1%%: the 0.05 %% queue left in round %d", r);
	r = rounds_until_shrunken_dwelling_queue_leaves("0", 0.0005);
	CHECK_MSG(r == 2, "floor 0: the 0.05 %% queue left in round %d, want 2", r);
}

TEST(adaptive_full_move_history_inside_return_guard_holds_a_queue)
{
	/* dwell 0. Eight processor-set changes within half a second move q between processors 0 and
	 * 1 (its whole history, all inside return-guard): the move a spread would make cannot be
	 * proven not to undo one (the oldest may have been forgotten), so q stays until return-guard
	 * has passed since the oldest, then moves */
	struct fx f;
	CHECK(fx_init(&f, 4, 1, DVMQ_POLICY_ADAPTIVE, NULL) == 0);
	CHECK(fx_set(&f, "dwell", "0") == 0);
	uint32_t q = fx_q(&f, fx_add(&f, 1, 100));
	for (int r = 0; r < 5; r++)
		CHECK(fx_round(&f) == 0);
	uint64_t first = f.now;
	for (uint32_t k = 0; k < 8; k++) {
		struct dvmq_processor_set one = { .base = 1 - (dvmq_engine_queue_processor(f.e, q) == 1 ? 1u : 0u),
						  .max = 1, .numa_node = -1 };
		CHECK(dvmq_engine_set_processor_set(f.e, &one, first, NULL) == 0);
	}
	struct dvmq_processor_set all = { .numa_node = -1 };
	CHECK(dvmq_engine_set_processor_set(f.e, &all, first, NULL) == 0);
	uint32_t at = dvmq_engine_queue_processor(f.e, q);
	CHECK(at == 0 || at == 1);
	f.qload[q] = 0.2;
	f.other[at] = 0.8; /* 1.0: q's move alone ends it, processors 2 and 3 are free */
	uint64_t moved = 0;
	for (int r = 0; r < 40 && !moved; r++) {
		CHECK(fx_round(&f) == 0);
		if (dvmq_engine_queue_processor(f.e, q) != at)
			moved = f.now;
	}
	uint64_t guard = dvmq_engine_params(f.e)->return_guard_ns;
	CHECK_MSG(moved >= first + guard && moved < first + guard + FX_IV,
		  "moved %.1f s after its eight forced moves, want the first round after return-guard (2 s)",
		  moved ? (double)(moved - first) * 1e-9 : -1.0);
	dvmq_engine_destroy(f.e);
}

/* Where queue b goes when its processor is coalesced after `pattern` (its demand per round from
 * round 1; 0.02 after the pattern), with peak-hold `hold`: processor 1 holds a at 0.75, processor 0
 * c at 0.1 (and the idle default queue), b is alone on 2. Coalescing waits (coalesce-rounds 1000)
 * until the pattern is over, then is allowed again. Returns b's destination, or -1 within 60
 * rounds. */
static int burst_dest(const double *pattern, int n, const char *hold)
{
	struct fx f;
	if (fx_init(&f, 3, 3, DVMQ_POLICY_ADAPTIVE, NULL) || fx_set(&f, "peak-hold", hold) ||
	    fx_set(&f, "coalesce-rounds", "1000"))
		return -2;
	uint32_t qa = fx_q(&f, fx_add(&f, 1, 100)), qb = fx_q(&f, fx_add(&f, 2, 100)), qc = fx_q(&f, fx_add(&f, 3, 100));
	int dest = -3;
	if (dvmq_engine_queue_processor(f.e, qa) == 1 && dvmq_engine_queue_processor(f.e, qb) == 2 &&
	    dvmq_engine_queue_processor(f.e, qc) == 0) {
		f.qload[qa] = 0.75;
		f.qload[qc] = 0.1;
		dest = -1;
		for (int r = 1; r <= n + 60 && dest == -1; r++) {
			f.qload[qb] = r <= n ? pattern[r - 1] : 0.02;
			if (r == n + 1 && fx_set(&f, "coalesce-rounds", "3"))
				break;
			if (fx_round(&f))
				break;
			uint32_t at = dvmq_engine_queue_processor(f.e, qb);
			if (at != 2)
				dest = (int)at;
		}
	}
	dvmq_engine_destroy(f.e);
	return dest;
}

/* b's pattern: bursts to `top` for 5 rounds at rounds 1 and 66, rests at 0.02 between (6 s, three
 * peak-halflives: its decaying peak is down to 0.05), `len` rounds in all. */
static int two_bursts(double *p, int len, double top)
{
	for (int r = 0; r < len; r++)
		p[r] = (r < 5 || (r >= 65 && r < 70)) ? top : 0.02;
	return len;
}

TEST(adaptive_coalescing_leaves_room_for_a_burst_that_comes_back)
{
	/* b bursts to 0.3 twice with a 6 s rest between: a burst that comes back. Sized by its
	 * decaying peak (~0.05) it fits best on 1 (0.8, under pack), but not in its next burst
	 * (1.05): its processor is emptied onto 0 (0.1 + 0.05 + 0.25) */
	double p[160];
	int n = two_bursts(p, 130, 0.3);
	int d = burst_dest(p, n, "30s");
	CHECK_MSG(d == 0, "a burst that came back: b coalesced onto %d, want 0", d);
	/* without peak-hold, or once it has passed since the last burst, b is sized by its peak */
	d = burst_dest(p, n, "0");
	CHECK_MSG(d == 1, "peak-hold 0: b coalesced onto %d, want 1", d);
	n = two_bursts(p, 160, 0.3);
	d = burst_dest(p, n, "8s");
	CHECK_MSG(d == 1, "9 s after its last burst, peak-hold 8s: b coalesced onto %d, want 1", d);
	/* a level shift is no burst that comes back: up by three steps, then down once */
	for (int r = 0; r < 130; r++)
		p[r] = r < 3 ? 0.02 + 0.11 * (r + 1) : r < 8 ? 0.35 : 0.02;
	d = burst_dest(p, 130, "30s");
	CHECK_MSG(d == 1, "steps up, one fall: b coalesced onto %d, want 1", d);
	/* nor are spikes of a round, with rests between (then 10 s quiet: the peak decays) */
	for (int r = 0; r < 160; r++)
		p[r] = r < 90 && r % 30 == 0 ? 0.3 : 0.02;
	d = burst_dest(p, 160, "30s");
	CHECK_MSG(d == 1, "one-round spikes: b coalesced onto %d, want 1", d);
}

/* Where x spreads when processor 0 (x and a) goes over high after processor 1's b burst to 0.5
 * twice (a burst that comes back, rests of 6 s) and rests at 0.02 next to s (0.28); processor 2
 * holds c (0.4). Returns x's destination, or a negative number. */
static int spread_dest_beside_a_burst(const char *hold)
{
	struct fx f;
	if (fx_init(&f, 3, 6, DVMQ_POLICY_ADAPTIVE, NULL) || fx_set(&f, "peak-hold", hold) ||
	    fx_set(&f, "coalesce-rounds", "1000"))
		return -2;
	uint32_t qs = fx_q(&f, fx_add(&f, 1, 100)), qc = fx_q(&f, fx_add(&f, 2, 100));
	uint32_t qx = fx_q(&f, fx_add(&f, 3, 100)), qb = fx_q(&f, fx_add(&f, 4, 100));
	fx_add(&f, 5, 100); /* idle, on 2 */
	uint32_t qa = fx_q(&f, fx_add(&f, 6, 100));
	int dest = -3;
	double p[140];
	two_bursts(p, 140, 0.5);
	if (dvmq_engine_queue_processor(f.e, qs) == 1 && dvmq_engine_queue_processor(f.e, qb) == 1 &&
	    dvmq_engine_queue_processor(f.e, qc) == 2 && dvmq_engine_queue_processor(f.e, qx) == 0 &&
	    dvmq_engine_queue_processor(f.e, qa) == 0) {
		f.qload[qs] = 0.28;
		f.qload[qc] = 0.4;
		f.qload[qa] = 0.6;
		dest = -1;
		for (int r = 1; r <= 140 && dest == -1; r++) {
			f.qload[qb] = p[r - 1];
			f.qload[qx] = r <= 135 ? 0.2 : 0.35; /* 0.95 on processor 0 from round 136 */
			if (fx_round(&f))
				break;
			if (dvmq_engine_queue_processor(f.e, qx) != 0)
				dest = (int)dvmq_engine_queue_processor(f.e, qx);
		}
	}
	dvmq_engine_destroy(f.e);
	return dest;
}

TEST(adaptive_spreads_first_where_a_burst_that_comes_back_still_fits)
{
	/* 1 is the least loaded (~0.3) and x fits there under pack, but not with b's next burst:
	 * 2 (0.75, no burst) is the better destination; without peak-hold, 1 */
	int d = spread_dest_beside_a_burst("30s");
	CHECK_MSG(d == 2, "x spread to %d, want 2", d);
	d = spread_dest_beside_a_burst("0");
	CHECK_MSG(d == 1, "peak-hold 0: x spread to %d, want 1", d);
}
