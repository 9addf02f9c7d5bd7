/* The daemon's processor load (src/daemon/procstat.h): /proc/stat's busy fraction between two
 * readings, and the load the engine is given — never less than the processor's queues together. */
#include "../harness.h"
#include "../../src/daemon/procstat.h"

TEST(procstat_busy_is_the_fraction_of_ticks_not_idle)
{
	struct procstat_cpu a = { .busy = 100, .total = 1000 }, b = { .busy = 150, .total = 1100 };
	CHECK(procstat_busy(&a, &b) == 0.5);
	CHECK(procstat_busy(&a, &a) == 0.0);   /* no tick passed */
	CHECK(procstat_busy(&b, &a) == 0.0);   /* counters went back (a CPU came back online) */
	struct procstat_cpu c = { .busy = 300, .total = 1100 };
	CHECK(procstat_busy(&a, &c) == 1.0);   /* more busy than total ticks: capped */
}

TEST(processor_load_is_at_least_its_queues_together)
{
	/* --own-load: two queues of 40 % and 35 % on one processor make it 75 % busy, not 40 % */
	double q[2] = { 0.40, 0.35 };
	CHECK_MSG(procstat_processor_load(0.0, q[0] + q[1]) == q[0] + q[1], "got %g",
		  procstat_processor_load(0.0, q[0] + q[1]));
	/* /proc/stat saw more (other programs): that stands */
	CHECK(procstat_processor_load(0.9, 0.75) == 0.9);
	/* /proc/stat's 100 Hz tick under-counted a short interval: the queues' time stands */
	CHECK(procstat_processor_load(0.5, 0.75) == 0.75);
	/* capped to one processor, never negative */
	CHECK(procstat_processor_load(0.2, 1.6) == 1.0);
	CHECK(procstat_processor_load(-0.1, 0.0) == 0.0);
}
