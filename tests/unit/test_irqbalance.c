/* irqbalance's rules (1.9.4), one test each: the interval and the first scan that only measures,
 * interrupt load only (no vCPU load), the heaviest interrupt that does not reverse the imbalance,
 * placement on the least loaded NUMA node first, powersave (from the 7th scan, its threshold,
 * and leaving it when a processor is a standard deviation over). */
#include <errno.h>
#include <string.h>

#include "../harness.h"
#include "engine_fixture.h"

static size_t plan_rebalances(const struct dvmq_plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_moves; i++)
		n += p->moves[i].reason == DVMQ_REASON_REBALANCE;
	return n;
}

/* Engine with n processors and `pool` queues under irqbalance, the interval set (NULL: default).
 * Queues go round-robin from processor 0 (the default queue stays there, idle). */
static int ib_init(struct fx *f, uint32_t n, uint32_t pool, const char *interval, const uint32_t *numa)
{
	int rc = fx_init(f, n, pool, DVMQ_POLICY_IRQBALANCE, numa);
	if (rc == 0 && interval)
		rc = fx_set(f, "irqbalance-interval", interval);
	return rc;
}

TEST(irqbalance_scans_every_interval_and_the_first_only_measures)
{
	/* processor 0: queues of 0.3 and 0.2, processor 1 idle but for one of 0.01: the 0.2 moves at
	 * the second scan, 10 s after the first (round 1 measures, as irqbalance's cycle 0) */
	struct fx f;
	CHECK(ib_init(&f, 2, 3, NULL, NULL) == 0);
	uint32_t a = fx_q(&f, fx_add(&f, 0, 100)), b = fx_q(&f, fx_add(&f, 1, 100)), c = fx_q(&f, fx_add(&f, 2, 100));
	CHECK(dvmq_engine_queue_processor(f.e, a) == 0 && dvmq_engine_queue_processor(f.e, c) == 0);
	f.qload[a] = 0.3;
	f.qload[c] = 0.2;
	f.qload[b] = 0.01;
	int first = -1;
	for (int r = 1; r <= 110 && first < 0; r++) {
		CHECK(fx_round(&f) == 0);
		if (plan_rebalances(f.plan))
			first = r;
	}
	CHECK_MSG(first == 101, "first move in round %d, want 101 (10 s after the first scan)", first);
	CHECK(f.plan->n_moves == 1 && f.plan->moves[0].queue == c && f.plan->moves[0].to == 1);
	dvmq_engine_destroy(f.e);
}

TEST(irqbalance_moves_what_does_not_reverse_the_imbalance)
{
	/* processor 0: 0.4, 0.3, 0.1 (and the idle default queue); processor 1: 0.05 and an idle one.
	 * Heaviest first: 0.4 would leave 0.4 against 0.45 (reversed), 0.3 leaves 0.5 against 0.35
	 * (moves), then 0.1 would make 0.45 against 0.4 (reversed) */
	struct fx f;
	CHECK(ib_init(&f, 2, 5, "100ms", NULL) == 0);
	uint32_t q[5];
	for (uint32_t i = 0; i < 5; i++)
		q[i] = fx_q(&f, fx_add(&f, i, 100));
	for (uint32_t i = 0; i < 5; i++)
		CHECK(dvmq_engine_queue_processor(f.e, q[i]) == i % 2);
	f.qload[q[0]] = 0.4;
	f.qload[q[2]] = 0.3;
	f.qload[q[4]] = 0.1;
	f.qload[q[1]] = 0.05;
	CHECK(fx_round(&f) == 0 && f.plan->n_moves == 0); /* the first scan measures */
	CHECK(fx_round(&f) == 0);
	CHECK_MSG(f.plan->n_moves == 1 && f.plan->moves[0].queue == q[2] && f.plan->moves[0].to == 1,
		  "%zu moves, first queue %u (0.3 is %u)", f.plan->n_moves,
		  f.plan->n_moves ? f.plan->moves[0].queue : 0, q[2]);
	dvmq_engine_destroy(f.e);
}

TEST(irqbalance_sees_interrupt_load_only)
{
	/* processor 1 runs one light queue and 85 % of other work (vCPUs): irqbalance counts only
	 * interrupt and softirq time, so it is the least loaded, and the 0.2 queue of processor 0
	 * goes there, over a whole processor (load from any cause would have kept it) */
	struct fx f;
	CHECK(ib_init(&f, 2, 3, "100ms", NULL) == 0);
	uint32_t a = fx_q(&f, fx_add(&f, 0, 100)), b = fx_q(&f, fx_add(&f, 1, 100)), c = fx_q(&f, fx_add(&f, 2, 100));
	CHECK(dvmq_engine_queue_processor(f.e, c) == 0);
	f.qload[a] = 0.4;
	f.qload[c] = 0.2;
	f.qload[b] = 0.05;
	f.other[1] = 0.85;
	CHECK(fx_round(&f) == 0 && fx_round(&f) == 0);
	CHECK_MSG(f.plan->n_moves == 1 && f.plan->moves[0].queue == c && f.plan->moves[0].to == 1, "%zu moves",
		  f.plan->n_moves);
	dvmq_engine_destroy(f.e);
}

TEST(irqbalance_places_on_the_least_loaded_node_first)
{
	/* nodes {0, 0, 1, 1}. Processor 0: 0.5, 0.2, 0.1; processor 1 (node 0): 0.1; 2 and 3 (node 1):
	 * 0.3 each (each processor also holds an idle queue). 0.2 and 0.1 leave processor 0; node 0
	 * holds 0.9, node 1 0.6: both go to node 1, though processor 1 is the least loaded one */
	static const uint32_t numa[4] = { 0, 0, 1, 1 };
	static const double load[9] = { 0.5, 0.1, 0.3, 0.3, 0.2, 0.0, 0.0, 0.0, 0.1 };
	struct fx f;
	CHECK(ib_init(&f, 4, 9, "100ms", numa) == 0);
	uint32_t q[9];
	for (uint32_t i = 0; i < 9; i++) {
		q[i] = fx_q(&f, fx_add(&f, i, 100));
		CHECK(dvmq_engine_queue_processor(f.e, q[i]) == i % 4);
		f.qload[q[i]] = load[i];
	}
	CHECK(fx_round(&f) == 0 && fx_round(&f) == 0);
	CHECK_MSG(f.plan->n_moves == 2, "%zu moves", f.plan->n_moves);
	for (size_t i = 0; i < f.plan->n_moves; i++)
		CHECK_MSG(f.plan->moves[i].to == (f.plan->moves[i].queue == q[4] ? 2u : 3u), "queue %u to %u",
			  f.plan->moves[i].queue, f.plan->moves[i].to);
	dvmq_engine_destroy(f.e);
}

/* Four processors: 0..2 with two queues of 0.15 each, 3 with one of 0.02 (under the mean by more
 * than a standard deviation; nobody over). Returns the round (interval 100 ms) in which processor
 * 3 parks, -1 within `rounds`. */
static int powersave_round(const char *thresh, int rounds, struct fx *f, uint32_t q[7])
{
	if (ib_init(f, 4, 7, "100ms", NULL) || fx_set(f, "irqbalance-powerthresh", thresh))
		return -2;
	for (uint32_t i = 0; i < 7; i++) {
		q[i] = fx_q(f, fx_add(f, i, 100));
		f->qload[q[i]] = i == 3 ? 0.02 : 0.15;
	}
	for (int r = 1; r <= rounds; r++) {
		if (fx_round(f) != 0)
			return -3;
		if (f->plan->n_park == 1 && f->plan->park[0] == 3)
			return r;
		if (f->plan->n_moves)
			return -4;
	}
	return -1;
}

TEST(irqbalance_powersave_from_the_seventh_scan_past_its_threshold)
{
	struct fx f;
	uint32_t q[7];
	/* threshold 1: one processor under is enough; the 7th scan (cycle 6 > 5) empties it */
	int r = powersave_round("1", 20, &f, q);
	dvmq_engine_destroy(f.e);
	CHECK_MSG(r == 7, "powerthresh 1: processor 3 parked in round %d, want 7", r);
	r = powersave_round("2", 20, &f, q);
	dvmq_engine_destroy(f.e);
	CHECK_MSG(r == -1, "powerthresh 2: processor 3 parked in round %d, want never (one under)", r);
	r = powersave_round("0", 20, &f, q);
	dvmq_engine_destroy(f.e);
	CHECK_MSG(r == -1, "powersave off: processor 3 parked in round %d", r);
}

TEST(irqbalance_leaves_powersave_when_a_processor_is_over)
{
	struct fx f;
	uint32_t q[7];
	int r = powersave_round("1", 20, &f, q);
	CHECK_MSG(r == 7, "parked in round %d", r);
	/* processor 0 surges past a standard deviation over the mean: every processor leaves powersave
	 * in that scan, and the interrupts shed (processor 0's 0.15, processor 1's 0.02) go to the
	 * idle processor 3 */
	f.qload[q[0]] = 0.9;
	CHECK(fx_round(&f) == 0);
	CHECK_MSG(f.plan->n_moves >= 1, "no move");
	for (size_t i = 0; i < f.plan->n_moves; i++)
		CHECK_MSG(f.plan->moves[i].to == 3, "queue %u to %u", f.plan->moves[i].queue, f.plan->moves[i].to);
	dvmq_engine_destroy(f.e);
}

TEST(irqbalance_parameters)
{
	struct dvmq_engine_params p;
	dvmq_engine_params_default(&p);
	CHECK(p.irqb_interval_ns == 10000000000ull && p.irqb_powerthresh == 2);
	CHECK(dvmq_engine_param_set(&p, "policy", "irqbalance") == 0 && p.policy == DVMQ_POLICY_IRQBALANCE);
	CHECK(dvmq_engine_param_set(&p, "irqbalance-interval", "0") == -ERANGE);
	const char *why = dvmq_engine_param_problem(&p, "irqbalance-interval", "0");
	CHECK(why && strstr(why, "irqbalance-interval must be at least 1ms"));
	CHECK(dvmq_engine_param_set(&p, "irqbalance-powerthresh", "5000") == -ERANGE);
	CHECK(dvmq_engine_param_set(&p, "irqbalance-powerthresh", "off") == -EINVAL);
	CHECK(dvmq_engine_param_set(&p, "irqbalance-powerthresh", "0") == 0 && p.irqb_powerthresh == 0);
}
