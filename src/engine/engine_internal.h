/* Engine internals shared by the engine's files; never included outside src/engine/.
 * Invariant: q->proc of an active queue is a processor with in_set; proc->n_queues counts them. */
#ifndef DVMQ_ENGINE_INTERNAL_H
#define DVMQ_ENGINE_INTERNAL_H

#include "dvmq/engine.h"

#define OVS_HISTORY_MAX 64u
#define MOVE_HISTORY 8u

struct eng_proc {
	uint32_t numa;
	bool in_set;
	bool awake;          /* owns at least one queue (engine's view) */
	uint32_t n_queues;
	double load;         /* last sample, any cause */
	double ewma;
	double other;        /* non-network part of the last sample */
	double other_ewma;
	double pred;         /* predicted load while a round is planned */
	double calm;         /* adaptive: conservative smoothed load for coalescing */
	uint32_t idle_rounds;/* adaptive: consecutive rounds it looked coalescable */
	uint32_t hot_rounds; /* ovs-alb: consecutive rounds >= ovs_threshold */
};

struct eng_queue {
	bool active;
	uint32_t adapter;    /* UINT32_MAX for the default queue */
	uint32_t proc, home;
	uint64_t last_move_ns;
	bool moved;
	double load;         /* measured busy fraction, last interval */
	double ewma;
	double demand;       /* estimated demand (adaptive), fraction */
	double ns_per_pkt;   /* smoothed cost of one packet */
	uint64_t backlog;
	double demand_peak;  /* decaying peak of demand (adaptive coalescing) */
	/* adaptive: recent moves, to refuse any move that would undo one within return_guard */
	struct { uint32_t from, to; uint64_t at_ns; } recent[MOVE_HISTORY];
	uint32_t n_recent;
	uint32_t n_hist, hist_pos;
};

struct eng_adapter {
	bool used;
	struct dvmq_adapter_desc desc;
	uint64_t seq;        /* arrival order: ties first-come first-served */
	struct dvmq_queue_group group;
};

struct dvmq_engine {
	struct dvmq_engine_params params;
	uint32_t n_procs;
	struct eng_proc *procs;
	uint32_t n_queues;   /* pool + 1 */
	struct eng_queue *queues;
	uint32_t max_adapters;
	struct eng_adapter *adapters;
	uint64_t next_seq;
	uint32_t rr_next;    /* round-robin cursor for static placement */
	uint64_t last_rebalance_ns;
	uint64_t now_ns;
	/* plan storage, allocated once */
	struct dvmq_plan plan;
	size_t cap_moves;
	uint32_t *scratch;   /* n_queues + n_procs entries */
	uint32_t *order;     /* n_procs entries */
	uint32_t *set_list;  /* processors in the set, ascending */
	uint32_t *bucket;    /* queues grouped by processor, rebuilt each round */
	uint32_t *bucket_start; /* n_procs + 1 offsets into bucket */
	uint8_t *flag;       /* per processor, scratch for one round */
	uint32_t *by_load;   /* adaptive spread: set processors by predicted load, ascending */
	uint32_t *by_load_pos; /* position of each processor in by_load */
	float *hist;         /* ovs-alb load history, OVS_HISTORY_MAX per queue, kept out of the
	                      * queue structs so the per-round loops stay in cache */
	double *tmp;         /* per processor, scratch for one round */
	double *qkey;        /* per queue, scratch for one round */
	uint32_t n_set;
};

/* engine.c */
void eng_plan_reset(struct dvmq_engine *e, uint64_t now_ns);
/* Moves q to `to`, records it in the plan with predicted loads; updates park/wake. */
void eng_move(struct dvmq_engine *e, uint32_t q, uint32_t to, enum dvmq_reason why, double qload);
uint32_t eng_place_new(struct dvmq_engine *e);
void eng_bucket_build(struct dvmq_engine *e);
/* Sorts idx[0..n) by key[idx[i]], ascending (deterministic, not stable). */
void eng_sort_by_key(uint32_t *idx, uint32_t n, const double *key);
uint32_t eng_distance(const struct dvmq_engine *e, uint32_t a, uint32_t b);

void eng_queue_activate(struct dvmq_engine *e, uint32_t q, uint32_t adapter);
void eng_queue_deactivate(struct dvmq_engine *e, uint32_t q);

/* pool.c */
void eng_pool_rebalance(struct dvmq_engine *e);

/* policy files: one planning round each */
void eng_policy_dynamic(struct dvmq_engine *e);
void eng_policy_adaptive(struct dvmq_engine *e);
void eng_policy_ovs(struct dvmq_engine *e);

#endif
