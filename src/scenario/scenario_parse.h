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
	int mac_line, count_line;
};

struct cpu_draft {
	uint32_t *ids;       /* the processors the section names, each once */
	uint32_t n_ids;
	struct dvmq_load load;
	int line;
};

struct trace_opts {
	bool present;
	int line;
	int file_line;        /* the `file` key's line (errors about the file itself) */
	char file[512];
	double scale;         /* multiplies pps */
	double compress;      /* trace seconds per simulated second */
	uint64_t start_ns;    /* trace time that maps to simulated 0 */
	double cost_ns;       /* defaults for VMs the trace creates */
	uint32_t frame_bytes;
	uint32_t weight;
	uint16_t vlan;
};

struct scen_parse {
	const char *file;
	const char *base_dir;
	struct dvmq_diag *diag;
	bool failed;
	int line;
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

/* Checks what single keys cannot, fills defaults and expands groups into the scenario
 * (scenario_build.c). Returns 0, -EINVAL (diag set) or -ENOMEM. */
int scen_build(struct scen_parse *ps);

/* "0-3,7" (blanks allowed around items) into ids: returns the count, -1 malformed, -2 an id
 * >= limit, -3 more than max ids. */
int scen_parse_id_list(const char *s, uint32_t *ids, size_t max, uint32_t limit);

/* At most this many VM adapters in a scenario, groups and trace together: the engine keeps an
 * adapter table of this size and the queue pool offers at most 65535 VMQs; each VM costs about a
 * kilobyte before it runs, so the cap also bounds what a 16 MiB file can make the loader do. */
#define SCEN_MAX_VMS 65536u

/* Appends an empty draft for a VM with defaults; NULL when out of memory. */
struct vm_draft *scen_vm_new(struct scen_parse *ps, const char *name, int line);

#endif
