/* Messages an operator found wrong by hand (issue 15, section 3), each with the rule that
 * fixes it: fractions print as percentages and read back exactly, pack follows high to a round
 * number, a scenario's bare duration is seconds as --duration's is, times print with a unit
 * (not 3e+04ms). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../harness.h"
#include "dvmq/engine.h"
#include "dvmq/scenario.h"
#include "dvmq/units.h"

TEST(message_fractions_print_as_percentages_and_read_back)
{
	struct dvmq_engine_params p;
	dvmq_engine_params_default(&p);
	char buf[64];
	static const char *const fracs[] = { "high", "low", "pack", "ovs-threshold", "ovs-improvement", "min-gain" };
	for (size_t i = 0; i < sizeof(fracs) / sizeof(fracs[0]); i++) {
		CHECK(dvmq_engine_param_format(&p, fracs[i], buf, sizeof(buf)) == 0);
		CHECK_MSG(strchr(buf, '%') != NULL, "%s prints as '%s'", fracs[i], buf);
	}
	/* `policy set high=85%` then `policy show`: pack 82%, not 0.82 */
	CHECK(dvmq_engine_param_set(&p, "high", "85%") == 0);
	CHECK(dvmq_engine_param_format(&p, "pack", buf, sizeof(buf)) == 0);
	CHECK_MSG(strcmp(buf, "82%") == 0, "pack prints as '%s'", buf);
	dvmq_engine_params_default(&p); /* 87% - 7% is an ulp off 80% without the rounding */
	CHECK(dvmq_engine_param_set(&p, "high", "83%") == 0);
	CHECK(dvmq_engine_param_format(&p, "pack", buf, sizeof(buf)) == 0);
	CHECK_MSG(strcmp(buf, "80%") == 0, "pack prints as '%s'", buf);
	/* "95%" and "0.95" are the same number */
	double a, b;
	CHECK(dvmq_units_fraction("95%", &a) == 0 && dvmq_units_fraction("0.95", &b) == 0 && a == b);
}

TEST(message_a_scenario_duration_may_be_bare_seconds)
{
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	int rc = dvmq_scenario_load_text("t.ini", "[host]\nprocessors = 2\nduration = 60\n[vm a]\nmac = 02:00:00:00:00:01\n"
					 "load = 1kpps\n", NULL, &s, &d);
	CHECK_MSG(rc == 0, "%s", d.msg);
	CHECK(s->host.duration_ns == 60000000000ull);
	dvmq_scenario_free(s);
	uint64_t ns;
	CHECK(dvmq_units_duration_ns("2.5", &ns) == 0 && ns == 2500000000ull);
	CHECK(dvmq_units_duration_ns("0", &ns) == -EINVAL && dvmq_units_duration_ns("-3", &ns) == -ERANGE);
}

TEST(message_times_print_with_a_unit)
{
	static const struct { uint64_t ns; const char *want; } cases[] = {
		{ 30000000000ull, "30s" }, { 100000000ull, "100ms" }, { 120000000000ull, "2min" }, { 1500000ull, "1500us" },
		{ 7ull, "7ns" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[32];
		uint64_t back = 0;
		dvmq_units_time_format(cases[i].ns, buf, sizeof(buf));
		CHECK_MSG(strcmp(buf, cases[i].want) == 0, "%llu ns prints as %s", (unsigned long long)cases[i].ns, buf);
		CHECK(dvmq_units_time_ns(buf, &back) == 0 && back == cases[i].ns);
	}
}
