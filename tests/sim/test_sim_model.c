/* The simulator's host model against independent arithmetic: the offered load its shared clocks
 * evaluate (sim_rate.c) is the scenario's load formula; the busy time the engine is fed adds up
 * to what was served, VMs coming and going included; every run conserves packets and repeats
 * bit for bit. */
#include <math.h>
#include <string.h>

#include "../harness.h"
#include "dvmq/sim.h"

static struct dvmq_scenario *load_text(const char *text)
{
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	if (dvmq_scenario_load_text("model.ini", text, NULL, &s, &d) != 0)
		fprintf(stdout, "    %s\n", d.msg);
	return s;
}

static struct dvmq_scenario *load_suite(const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/scenarios/%s.ini", DVMQ_SOURCE_ROOT, name);
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	if (dvmq_scenario_load(path, &s, &d) != 0)
		fprintf(stdout, "    %s\n", d.msg);
	return s;
}

static int run(const struct dvmq_scenario *s, enum dvmq_policy pol, uint64_t dur, struct dvmq_result *r)
{
	struct dvmq_engine_params p = s->params;
	p.policy = pol;
	return dvmq_sim_run_for(s, &p, dur ? dur : s->host.duration_ns, NULL, r, NULL);
}

TEST(sim_offered_load_follows_the_formulas)
{
	/* groups share a sine or burst clock (instances differ in phase and scale); a lone sine of
	 * its own period and a sum of terms take the general path */
	struct dvmq_scenario *s = load_text("[host]\nprocessors = 8\nqueue_pool = 64\nduration = 3s\n"
					    "[vm s]\ncount = 5\nload = sine mean=100kpps amp=80kpps period=700ms "
					    "phase=30ms\nphase_step = 13ms\njitter = 30%\n"
					    "[vm b]\ncount = 4\nload = burst on=200kpps off=10kpps period=250ms "
					    "duty=30% phase=7ms\nphase_step = 50ms\njitter = 20%\n"
					    "[vm c]\nload = sine mean=50kpps amp=10kpps period=1s\n"
					    "[vm d]\nload = 20kpps\nload = burst on=50kpps period=700ms\n");
	CHECK(s);
	struct dvmq_result r;
	int rc = run(s, DVMQ_POLICY_STATIC, 0, &r);
	double want = 0.0;
	const double tick_s = (double)s->host.tick_ns * 1e-9;
	for (size_t v = 0; v < s->n_vms; v++)
		for (uint64_t t = 0; t < s->host.duration_ns; t += s->host.tick_ns)
			want += s->vms[v].scale * dvmq_load_at(&s->vms[v].load, t) * tick_s;
	dvmq_scenario_free(s);
	CHECK(rc == 0);
	CHECK_MSG(fabs(r.offered - want) <= 1e-12 * want, "offered %.6f, the formulas say %.6f", r.offered, want);
}

/* Runs the scenario text under `policy`; the result in *r. Returns 0, -1 (does not load) or the
 * simulator's error. */
static int run_text(const char *text, enum dvmq_policy policy, struct dvmq_result *r)
{
	struct dvmq_scenario *s = load_text(text);
	if (!s)
		return -1;
	int rc = run(s, policy, 0, r);
	dvmq_scenario_free(s);
	return rc;
}

TEST(sim_busy_time_adds_up_to_what_was_served)
{
	/* one cost for all (1 us), no moves (static): the busy time handed to the engine interval by
	 * interval is delivered x 1 us, with VMs leaving and arriving mid-interval and taking over
	 * freed VMQs (pool 3 for 6 VMs); and where nobody waits for a freed VMQ, so that the queue
	 * is gone when the interval ends, what its VM served before leaving still counts */
	static const char *const texts[] = {
		"[host]\nprocessors = 4\nqueue_pool = 3\nduration = 6s\n"
		"[vm a]\ncount = 3\nload = 150kpps\nleave = 2050ms\n"
		"[vm b]\ncount = 3\nweight = 50\nload = 120kpps\narrive = 1234ms\n"
		"[vm c]\nweight = 0\nload = 90kpps\n",
		"[host]\nprocessors = 2\nqueue_pool = 8\nduration = 3s\n"
		"[vm a]\ncount = 4\nload = 200kpps\nleave = 1050ms\n[vm b]\nload = 100kpps\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct dvmq_result r;
		CHECK(run_text(texts[i], DVMQ_POLICY_STATIC, &r) == 0);
		CHECK(r.moves == 0);
		double want = (double)r.delivered * 1e-6;
		CHECK_MSG(fabs(r.busy_core_seconds - want) <= 1e-6 * want, "case %zu: busy %.9f s, served x cost %.9f s",
			  i, r.busy_core_seconds, want);
	}
}

TEST(sim_default_queue_depth_holds_for_all_its_vms)
{
	/* no VMQs: four VMs of 0.4 processor share the default queue on one processor (1.6 of
	 * work): the queue fills to queue_depth (1000) for the four together, the rest is dropped */
	struct dvmq_result r;
	CHECK(run_text("[host]\nprocessors = 1\nqueue_pool = 0\nqueue_depth = 1000\nduration = 2s\n"
		       "[vm a]\ncount = 4\nload = 400kpps\n",
		       DVMQ_POLICY_NONE, &r) == 0);
	CHECK(r.dropped > 0);
	CHECK_MSG(r.backlog_end <= 1000.0 + 1e-6, "backlog %.1f over the queue's depth", r.backlog_end);
	CHECK_MSG(r.backlog_end >= 999.0, "backlog %.1f: the queue should be full", r.backlog_end);
}

TEST(sim_latency_is_the_same_with_and_without_per_vm_series)
{
	/* without a per-VM series the simulator enters zero-wait packets of one cost on one
	 * processor into the histogram once per tick; with it, VM by VM: the same histogram */
	static const char *const names[] = { "default", "bursts", "churn", "noisy-neighbour" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct dvmq_scenario *s = load_suite(names[i]);
		CHECK_MSG(s, "scenario %s does not load", names[i]);
		FILE *sink = tmpfile();
		struct dvmq_sim_sinks sinks = { .vms = sink };
		struct dvmq_result a, b;
		int rc = sink ? dvmq_sim_run_for(s, NULL, 10000000000ull, NULL, &a, NULL) : -1;
		if (rc == 0)
			rc = dvmq_sim_run_for(s, NULL, 10000000000ull, &sinks, &b, NULL);
		if (sink)
			fclose(sink);
		dvmq_scenario_free(s);
		CHECK(rc == 0);
		CHECK_MSG(a.latency_p50_us == b.latency_p50_us && a.latency_p99_us == b.latency_p99_us &&
				  a.latency_p999_us == b.latency_p999_us &&
				  a.worst_window_p99_us == b.worst_window_p99_us,
			  "%s: p50 %.3f/%.3f p99 %.3f/%.3f p999 %.3f/%.3f worst %.3f/%.3f", names[i], a.latency_p50_us,
			  b.latency_p50_us, a.latency_p99_us, b.latency_p99_us, a.latency_p999_us, b.latency_p999_us,
			  a.worst_window_p99_us, b.worst_window_p99_us);
		CHECK(a.delivered == b.delivered && a.moves == b.moves);
	}
}

SLOW_TEST(sim_every_scenario_conserves_packets_and_repeats_bit_for_bit)
{
	static const char *const names[] = { "default", "steady-skew", "step-up", "diurnal", "bursts",
					     "pingpong-trap", "many-light", "elephant", "churn",
					     "noisy-neighbour", "numa", "big-host", "bitbrains", "vmmq-three",
					     "vmmq-swing", "vmmq-elephant-flow" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct dvmq_scenario *s = load_suite(names[i]);
		CHECK_MSG(s, "scenario %s does not load", names[i]);
		for (unsigned p = 0; p < DVMQ_POLICY_COUNT; p++) {
			struct dvmq_result a, b;
			/* big-host (2,048 VMs) is most of the cost: 1 s of it under each of the seven
			 * policies checks the same conservation and repetition */
			uint64_t dur = strcmp(names[i], "big-host") == 0 ? 1000000000ull : 4000000000ull;
			int rc = run(s, (enum dvmq_policy)p, dur, &a);
			if (rc == 0)
				rc = run(s, (enum dvmq_policy)p, dur, &b);
			if (rc) {
				dvmq_scenario_free(s);
				CHECK_MSG(0, "%s: run failed", names[i]);
			}
			double acc = (double)a.delivered + (double)a.dropped + a.backlog_end;
			bool same = memcmp(&a, &b, sizeof(a)) == 0;
			bool conserved = fabs(acc - a.offered) <= 2.0 + 1e-9 * a.offered;
			if (!same || !conserved)
				dvmq_scenario_free(s);
			CHECK_MSG(same, "%s/%s: two runs differ", names[i], dvmq_policy_name((enum dvmq_policy)p));
			CHECK_MSG(conserved, "%s/%s: offered %.1f, delivered + dropped + backlog %.1f", names[i],
				  dvmq_policy_name((enum dvmq_policy)p), a.offered, acc);
		}
		dvmq_scenario_free(s);
	}
}
