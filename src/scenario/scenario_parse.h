/* Shared state of the scenario parser (scenario.c) and the trace reader (trace.c). */
#ifndef DVMQ_SCENARIO_PARSE_H
#define DVMQ_SCENARIO_PARSE_H

#include <stdarg.h>

#include "dvmq/scenario.h"

struct vm_draft {
	struct dvmq_vm vm;
	uint32_t count;      /* instances; names get -N suffixes when > 1 */
	double jitter;       /* instance load scales spread over [1 - jitter, 1 + jitter] */
	uint64_t phase_step; /* added to sine/burst phases per instance */
	bool has_mac, has_load;
	int mac_line;
};

struct cpu_draft {
	uint32_t first, last;
	struct dvmq_load load;
	int line;
};

struct trace_opts {
	bool present;
	int line;
	char file[512];
	double scale;         /* multiplies pps */
	double compress;      /* trace seconds per simulated second */
	uint64_t start_ns;    /* trace time that maps to simulated 0 */
	double cost_ns;       /* defaults for VMs the trace creates */
	uint32_t frame_bytes;
};

struct scen_parse {
	const char *file;
	const char *base_dir;
	struct dvmq_diag *diag;
	bool failed;
	int line;
	const char *pos;     /* reader position in the text */
	enum { SEC_NONE, SEC_HOST, SEC_ENGINE, SEC_VM, SEC_CPU, SEC_TRACE, SEC_BAD } sec;
	struct dvmq_scenario *s;
	struct vm_draft *vms;
	size_t n_vms, cap_vms;
	struct cpu_draft *cpus;
	size_t n_cpus, cap_cpus;
	struct trace_opts trace;
	int host_line, line_processors, line_numa_nodes, line_base, line_max, line_exclude,
		line_numa_node, line_pool;
	bool have_duration;
};

/* Records the first error as "file:line: message"; later ones are dropped. Returns -EINVAL. */
int scen_fail(struct scen_parse *ps, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Reads the [trace] CSV and attaches per-VM trace loads, creating VMs it names that the scenario
 * does not describe. Returns 0, -EINVAL (with a diag naming the CSV's file:line) or -ENOMEM. */
int scen_trace_load(struct scen_parse *ps);

/* Appends an empty draft for a VM with defaults; NULL when out of memory. */
struct vm_draft *scen_vm_new(struct scen_parse *ps, const char *name, int line);

#endif
