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

#endif
