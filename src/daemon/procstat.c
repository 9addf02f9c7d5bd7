/* /proc/stat reader (procstat.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "procstat.h"

int procstat_read(const int *cpus, uint32_t n, struct procstat_cpu *out)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return -errno;
	for (uint32_t i = 0; i < n; i++)
		out[i].total = UINT64_MAX;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		int cpu;
		uint64_t v[8] = { 0 };
		if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
			continue;
		if (sscanf(line + 3, "%d %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
				     " %" SCNu64 " %" SCNu64,
			   &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 5)
			continue;
		for (uint32_t i = 0; i < n; i++) {
			if (cpus[i] != cpu)
				continue;
			uint64_t total = 0;
			for (int k = 0; k < 8; k++)
				total += v[k];
			out[i].total = total;
			out[i].busy = total - v[3] - v[4]; /* minus idle and iowait */
		}
	}
	fclose(f);
	for (uint32_t i = 0; i < n; i++)
		if (out[i].total == UINT64_MAX)
			return -ENOENT;
	return 0;
}

double procstat_busy(const struct procstat_cpu *a, const struct procstat_cpu *b)
{
	if (b->total <= a->total)
		return 0.0;
	double busy = (double)(b->busy - a->busy) / (double)(b->total - a->total);
	return busy < 0.0 ? 0.0 : busy > 1.0 ? 1.0 : busy;
}

double procstat_processor_load(double measured, double queues_sum)
{
	double load = queues_sum > measured ? queues_sum : measured;
	return load > 1.0 ? 1.0 : load > 0.0 ? load : 0.0;
}
