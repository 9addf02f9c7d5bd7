/* Per-CPU busy time from /proc/stat: what a processor did for any cause (our workers, the
 * generator, other programs), the load the engine must see. */
#ifndef DVMQ_PROCSTAT_H
#define DVMQ_PROCSTAT_H

#include <stdint.h>

struct procstat_cpu {
	uint64_t busy, total; /* clock ticks since boot */
};

/* Reads the counters of cpus[0..n) into out. Returns 0, -errno (cannot read), -ENOENT (a CPU
 * is missing from /proc/stat). */
int procstat_read(const int *cpus, uint32_t n, struct procstat_cpu *out);
/* Busy fraction between two readings (0 when no tick passed). */
double procstat_busy(const struct procstat_cpu *before, const struct procstat_cpu *after);
/* The load the engine is given for a processor: what /proc/stat measured (0 with --own-load),
 * but never less than the sum of its queues' measured network time, capped at 1. /proc/stat
 * ticks at 100 Hz and under-counts a short interval; with --own-load the queues' time is all
 * there is. The sum, not the largest queue: two queues of 50 % keep a processor 100 % busy. */
double procstat_processor_load(double measured, double queues_sum);

#endif
