/* Simulator state shared by sim.c (host model), sim_rate.c (offered rates) and sim_round.c
 * (engine rounds, metrics, sinks). */
#ifndef DVMQ_SIM_INTERNAL_H
#define DVMQ_SIM_INTERNAL_H

#include "dvmq/metrics.h"
#include "dvmq/sim.h"
#include "dvmq/hist.h"
#include "dvmq/oracle.h"

/* How a VM's offered rate is evaluated each tick (sim_rate.c). A group's instances share a
 * sine or burst period: the clock of that period does the expensive part once per tick. */
enum sim_rate_kind {
	SIM_RATE_CONST, /* p0: the rate, evaluated once */
	SIM_RATE_SINE,  /* one sine term: p0 mean, p1 amp, p2/p3 cos/sin of the phase angle */
	SIM_RATE_BURST, /* one burst term: p0 on, p1 off, p2 duty, phase_mod (in place of p3) */
	SIM_RATE_LOAD,  /* anything else: dvmq_load_at */
};

struct sim_clock {
	uint64_t period_ns;
	uint64_t t_mod;          /* now % period_ns */
	double sin_t, cos_t;     /* of 2 pi t_mod / period_ns, when `sine` */
	bool sine;
	uint32_t users;
};

/* Per VM, or per queue of a VM's group: a VM with max-queues N has N entries in a row (shards);
 * the first, its lead, evaluates the VM's rate and carries its identity; shard k serves the
 * share of the VM's load whose buckets point at its queue (sim_groups.c). A plain VM is its lead
 * with share 1. The first two cache lines (the array is cache-line aligned) are what every tick
 * reads and writes. */
struct sim_vm {
	bool active;               /* a shard: its VM is present and the shard has a queue */
	bool dyn_cost, dyn_frame;  /* cost/frame come from a trace */
	uint8_t rate_kind;         /* enum sim_rate_kind */
	uint8_t shard;             /* 0: the lead */
	uint8_t n_shards;          /* lead: its VM's entries (1 for a plain VM) */
	uint32_t queue;
	double share;              /* of its VM's offered load, this shard's now */
	uint32_t clock;            /* sine, burst: index into sim.clocks */
	double scale;
	double p0, p1, p2;         /* parameters of rate_kind */
	union {
		double p3;
		uint64_t phase_mod; /* burst: phase % period */
	};
	double cost, frame;        /* current per-packet cost (ns) and frame size */
	double rate, arr;          /* this tick: packets/s, packets */
	double backlog;            /* packets waiting */
	double offered;
	/* served since the last sim_fold_queue_counters (the queue's and the processor's interval
	 * counters, kept here because the VM's cache lines are the ones a tick already writes) */
	double q_busy_ns, q_packets, q_bytes;
	const struct dvmq_load *load;
	/* per interval, and only with a per-VM series sink */
	double iv_delivered, iv_dropped, iv_lat_sum;
	bool gone;
	uint32_t adapter;
	uint32_t sv;               /* its scenario VM */
	uint32_t group;            /* lead of a group VM: index into sim.grp, else UINT32_MAX */
};

/* A VM with max-queues > 1 (sim_groups.c): its buckets' shares of its load, and what its group
 * did over the run. */
struct sim_group {
	uint32_t sv, lead, max_queues;
	double w[DVMQ_INDIRECTION_ENTRIES];      /* bucket b's share of the VM's load */
	double w_desc[DVMQ_INDIRECTION_ENTRIES]; /* the same, descending (the oracle) */
	double iv_arr;           /* the VM's arrivals in the interval, packets */
	double queues_ns;        /* time integral of its group's size while present */
	uint64_t present_ns;
	uint32_t queues_max;
	uint64_t bucket_moves, grows, shrinks;
	struct dvmq_queue_moves moves[DVMQ_INDIRECTION_ENTRIES]; /* per bucket, for ping-pongs */
};

/* Per queue, what a tick reads and writes. A VMQ serves one VM; the default queue serves every
 * VM without one. */
struct sim_queue {
	uint32_t proc, adapter;
	uint64_t prepared_at;    /* the tick cost_factor and serve_frac are for (UINT64_MAX: none) */
	uint64_t cold_until;
	double gap_left_ns;
	double cost_factor, serve_frac;
	double backlog;          /* packets waiting, summed over its VMs at each interval's end */
};

/* Per queue, the interval counters handed to the engine as samples. */
struct sim_queue_iv {
	double busy_ns, packets, bytes, dropped;
};

struct sim_proc {
	bool has_other;
	double other;            /* non-network load, fraction */
	double demand_ns[2];     /* this tick, in two lanes by VM index: neighbouring VMs on one
	                          * processor do not wait for each other's addition */
	double share, md1;
	/* this tick's packets served without waiting from settled queues at one cost per packet:
	 * they share one latency, cost x (1 + md1), so they enter the histogram once */
	double batch_cost, batch_served;
	double busy_ns;          /* network busy in the interval (sim_fold_queue_counters) */
	double other_ns;         /* non-network busy in the interval */
	uint32_t n_queues;
};

/* Latencies of the ticks since the last flush into the histograms below. Consecutive VMs often
 * land in the same bucket; spreading them over lanes by VM index keeps the additions independent
 * (one chain through memory per lane, not one for all). */
#define SIM_HIST_LANES 4u
struct sim_recent {
	double count[SIM_HIST_LANES][DVMQ_HIST_BUCKETS];
	unsigned lo, hi; /* buckets touched: lo > hi when none */
};

struct sim {
	const struct dvmq_scenario *s;
	struct dvmq_engine_params params;
	struct dvmq_engine *engine;
	uint32_t n_vms, n_procs, n_queues, n_awake; /* n_vms: entries of vm[] (shards) */
	uint32_t n_sv;           /* scenario VMs */
	uint32_t *sv_lead;       /* per scenario VM: its lead in vm[] */
	struct sim_group *grp;   /* VMs with max-queues > 1 */
	uint32_t n_grp;
	struct dvmq_bucket_sample *bsamples; /* n_grp, filled every interval */
	uint64_t bucket_moves, bucket_pingpongs, group_grows, group_shrinks;
	uint64_t overloads_by_group[DVMQ_OVERLOAD_GROUP_COUNT];
	struct sim_vm *vm;
	struct sim_queue *q;
	struct sim_queue_iv *qiv;
	struct dvmq_queue_moves *q_moves; /* per queue; apart from sim_queue, which ticks walk */
	struct sim_proc *p;
	struct dvmq_proc_sample *procs_sample;
	struct dvmq_queue_sample *queues_sample;
	struct dvmq_hist *all, *window, *interval_hist;
	struct sim_recent *recent;
	bool vm_series;          /* a per-VM series sink wants the iv_ counters */
	struct sim_clock *clocks;
	uint32_t n_clocks;
	struct dvmq_oracle *oracle;
	uint32_t n_set;          /* processors of the processor set */
	uint32_t *set_procs;     /* their ids */
	double *remaining;       /* per set processor: high minus non-network load */
	bool capacity_dirty;     /* a non-network load changed: the oracle re-sorts */
	uint64_t next_churn;
	double delivered, dropped, iv_dropped, oracle_drops;
	double oracle_sum, awake_sum;
	double oracle_now;       /* processors the oracle needs this tick */
	double worst_window_p99;
	double imbalance_sum;
	uint64_t n_intervals, moves, pingpongs, returns, overloads;
	double queue_ns;         /* active queues x time, for moves per queue-minute */
	double busy_total_ns;
	struct dvmq_steps *steps;
	uint32_t *queues_on;     /* per processor: queues at or above the floor, for the step judge */
};

/* Re-reads which queue serves each VM (its group's shards too) and where each queue runs. */
void sim_sync_mapping(struct sim *m);

/* sim_groups.c. Setup: the groups and their buckets' shares (vm[] built). Returns 0 or -ENOMEM. */
int sim_groups_setup(struct sim *m);
void sim_groups_free(struct sim *m);
/* After any engine change: the group's shards follow its queues, their shares its table. */
void sim_group_sync(struct sim *m, struct sim_group *g);
/* The interval's per-bucket samples (m->bsamples) from the VMs' arrivals. */
void sim_groups_samples(struct sim *m);
/* A plan's bucket moves and group changes: metrics, sinks, the handoff gap of a bucket's new
 * queue. Returns whether the groups changed size (the caller re-reads the mapping). */
bool sim_groups_apply(struct sim *m, const struct dvmq_plan *plan, uint64_t now, const struct dvmq_sim_sinks *sinks);
/* End of an interval: each group's size over it. */
void sim_groups_interval(struct sim *m, uint64_t iv_ns, uint64_t now, const struct dvmq_sim_sinks *sinks);
void sim_groups_finish(const struct sim *m, struct dvmq_result *r);

/* Chooses each VM's rate evaluation and the shared clocks. Returns 0 or -ENOMEM. */
int sim_rates_setup(struct sim *m);
/* Advances the clocks to `now`; call once per tick before sim_vm_rate. */
void sim_clocks_tick(struct sim *m, uint64_t now);

/* The VM's offered rate at the tick the clocks were advanced to; equal to
 * scale x dvmq_load_at(load, now) (the sine up to rounding: its angle is a sum). */
static inline double sim_vm_rate(const struct sim *m, const struct sim_vm *vm, uint64_t now)
{
	double v;
	switch (vm->rate_kind) {
	case SIM_RATE_CONST:
		return vm->p0;
	case SIM_RATE_SINE: {
		const struct sim_clock *c = &m->clocks[vm->clock];
		v = vm->p0 + vm->p1 * (c->sin_t * vm->p2 + c->cos_t * vm->p3);
		break;
	}
	case SIM_RATE_BURST: {
		const struct sim_clock *c = &m->clocks[vm->clock];
		uint64_t ph = c->t_mod + vm->phase_mod;
		if (ph >= c->period_ns)
			ph -= c->period_ns;
		double x = (double)ph / (double)c->period_ns;
		v = x < vm->p2 ? vm->p0 : vm->p1;
		break;
	}
	default:
		return vm->scale * dvmq_load_at(vm->load, now);
	}
	return vm->scale * (v > 0.0 ? v : 0.0);
}

/* Moves what the VMs served since the last call into their queues' interval counters: before
 * the engine samples them, and before VMs change queues. */
void sim_fold_queue_counters(struct sim *m);
/* Adds the recent latencies to the run's, the window's and the interval's histograms. */
void sim_hist_flush(struct sim *m);
void sim_sinks_header(const struct dvmq_sim_sinks *sinks, uint32_t n_procs);
void sim_interval(struct sim *m, uint64_t now, const struct dvmq_sim_sinks *sinks);
void sim_finish(struct sim *m, uint64_t duration_ns, struct dvmq_result *r);

#endif
