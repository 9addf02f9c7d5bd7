/* Scenarios: a host, its VM adapters and their offered load over time, written by people in an
 * INI file (see docs/scenarios.md), optionally with a recorded per-VM load trace (CSV).
 * A scenario is immutable once loaded; all times are in ns, rates in packets/s, loads as
 * fractions of one processor. Loading never prints: errors come back as "file:line: message". */
#ifndef DVMQ_SCENARIO_H
#define DVMQ_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvmq/engine.h"

#define DVMQ_LOAD_MAX_TERMS 4
#define DVMQ_NAME_MAX 48
#define DVMQ_DIAG_MAX 512

enum dvmq_load_kind {
	DVMQ_LOAD_CONST,
	DVMQ_LOAD_STEPS, /* piecewise constant through points */
	DVMQ_LOAD_RAMP,  /* piecewise linear through points */
	DVMQ_LOAD_SINE,  /* mean + amp * sin(2 pi (t + phase) / period) */
	DVMQ_LOAD_BURST, /* `on` for duty x period, then `off` */
	DVMQ_LOAD_TRACE, /* points from a trace file, held until the next */
};

struct dvmq_load_point {
	uint64_t t_ns;
	double v;
};

struct dvmq_load_term {
	enum dvmq_load_kind kind;
	double v;                  /* const */
	double mean, amp;          /* sine */
	double on, off, duty;      /* burst */
	uint64_t period_ns, phase_ns;
	size_t n_points;           /* steps, ramp, trace */
	struct dvmq_load_point *points;
};

/* A load: the sum of its terms (one `load =` line each), never below zero. */
struct dvmq_load {
	size_t n_terms;
	struct dvmq_load_term terms[DVMQ_LOAD_MAX_TERMS];
};

struct dvmq_vm {
	char name[DVMQ_NAME_MAX];
	struct dvmq_adapter_desc adapter;
	double cost_ns;        /* per packet */
	uint32_t frame_bytes;
	uint32_t flows;
	/* how the simulator splits the VM's load over the 128 buckets of its group (VMMQ, adapter
	 * max_queues > 1; docs/scenarios.md): flows hashed by Toeplitz, their sizes even or Zipf,
	 * plus an optional elephant flow carrying a share of the load. Without `flows` the load is
	 * spread evenly over the buckets (as many flows as you like). */
	bool flows_set;
	double zipf_s;                /* 0: flows of even size; else Zipf with this exponent */
	double elephant;              /* share of the load in one flow (0: none) */
	uint64_t arrive_ns, leave_ns; /* leave_ns == UINT64_MAX: stays */
	struct dvmq_load load;        /* pps */
	struct dvmq_load cost_trace;  /* ns per packet over time, from a trace (n_terms 0: cost_ns) */
	struct dvmq_load frame_trace; /* bytes over time, from a trace (n_terms 0: frame_bytes) */
	double scale;                 /* multiplies the load (instances of a group vary) */
	bool shares_load;             /* instance of a group: load points belong to the first */
	int line;                     /* where it was described, 0 for trace-created VMs */
};

struct dvmq_host {
	uint32_t n_processors;
	uint32_t numa_nodes;
	uint32_t queue_pool;
	uint32_t base_processor, max_processors;
	int32_t numa_node;               /* processor set restriction, -1 = any */
	uint32_t n_excluded;
	uint32_t *excluded;
	uint64_t interval_ns, tick_ns, duration_ns;
	uint32_t queue_depth;            /* packets per queue */
	uint64_t move_gap_ns;            /* a moved queue is not served for this long */
	double cold_penalty;             /* extra cost fraction right after a move */
	uint64_t cold_ns;                /* how long the penalty lasts */
	uint64_t latency_target_ns;      /* p99 target used by the settle metric */
	uint64_t seed;
};

struct dvmq_scenario {
	char name[128];
	char path[512];
	struct dvmq_host host;
	struct dvmq_engine_params params; /* defaults overridden by an [engine] section */
	size_t n_vms;
	struct dvmq_vm *vms;
	struct dvmq_load *cpu_load;       /* per processor, non-network load as a fraction */
};

struct dvmq_diag {
	char msg[DVMQ_DIAG_MAX];
};

/* Loads a scenario file. Returns 0, -ENOENT (cannot open), -EINVAL (bad content: diag says
 * "file:line: what"), -ENOMEM. On error *out is untouched and nothing is leaked. */
int dvmq_scenario_load(const char *path, struct dvmq_scenario **out, struct dvmq_diag *diag);
/* Same, from text in memory (name is used in messages; relative trace paths resolve against
 * base_dir, which may be NULL for the current directory). */
int dvmq_scenario_load_text(const char *name, const char *text, const char *base_dir,
			    struct dvmq_scenario **out, struct dvmq_diag *diag);
void dvmq_scenario_free(struct dvmq_scenario *s);

/* Value of a load at time t (never negative). */
double dvmq_load_at(const struct dvmq_load *l, uint64_t t_ns);
/* Whether the load never changes (only `const` terms): callers evaluate it once. */
bool dvmq_load_is_constant(const struct dvmq_load *l);
/* Parses one `load =` value into a term (pps when rate is true, else a fraction). Returns 0 or
 * -EINVAL with a message in err. Points are heap-allocated into term->points. */
int dvmq_load_parse_term(const char *text, bool rate, struct dvmq_load_term *term, char *err,
			 size_t err_len);
void dvmq_load_free(struct dvmq_load *l);

#endif
