/* Engine internals shared by the engine's files; never included outside src/engine/.
 * Invariants: q->proc of an active queue is a processor with in_set; proc->n_queues counts the
 * active queues on it, and the list from proc->qhead through queue `next` links holds exactly
 * them (kept by attach/detach, so no round has to rebuild it). */
#ifndef DVMQ_ENGINE_INTERNAL_H
#define DVMQ_ENGINE_INTERNAL_H

#include "dvmq/engine.h"

#define OVS_HISTORY_MAX 64u
#define MOVE_HISTORY 8u
#define ENG_NIL UINT32_MAX

struct eng_proc {
	uint32_t numa;
	bool in_set;
	bool awake;          /* owns at least one queue (engine's view) */
	uint8_t touched;     /* adaptive, this round: ENG_SPREAD_* (coalescing keeps off these) */
	uint32_t n_queues;
	uint32_t qhead;      /* first queue of its list, ENG_NIL when none */
	double load;         /* last sample, any cause */
	double ewma;
	double other;        /* non-network part of the last sample */
	double other_ewma;
	double net_load;     /* sum of its queues' measured loads, last sample */
	double pred;         /* predicted load while a round is planned */
	double calm;         /* adaptive: conservative smoothed load for coalescing */
	uint32_t idle_rounds;/* adaptive: consecutive rounds it could have been emptied */
	uint32_t hot_rounds; /* ovs-alb: consecutive rounds >= ovs_threshold */
};

/* Fields every round reads or writes come first, so the per-queue loops touch one line. */
struct eng_queue {
	bool active;
	bool moved;
	bool overloaded;     /* adaptive: a single-queue overload was reported and is not over */
	uint32_t proc;
	uint32_t next, prev; /* the processor's queue list */
	double load;         /* measured busy fraction, last interval */
	double ewma;
	double demand;       /* estimated demand (adaptive), fraction */
	double demand_peak;  /* decaying peak of demand (adaptive coalescing) */
	double ns_per_pkt;   /* smoothed cost of one packet */
	uint64_t backlog;
	uint64_t last_move_ns;
	uint32_t adapter;    /* UINT32_MAX for the default queue */
	uint32_t home;
	uint64_t hist_from;  /* ovs-alb: round its load history starts */
};

/* A queue's recent moves, kept apart from the hot fields. The slot keeps them when it is given to
 * another adapter, so that no move can undo a recent one. */
struct eng_qmoves {
	struct { uint32_t from, to; uint64_t at_ns; } recent[MOVE_HISTORY]; /* oldest first */
	uint32_t n;
};

struct eng_adapter {
	bool used;
	struct dvmq_adapter_desc desc;
	uint64_t seq;        /* arrival order: ties first-come first-served */
	struct dvmq_queue_group group;
};

enum { ENG_SPREAD_SRC = 1, ENG_SPREAD_DST = 2, ENG_VICTIM = 4, ENG_RECEIVER = 8 };

struct dvmq_engine {
	struct dvmq_engine_params params;
	uint32_t n_procs;
	struct eng_proc *procs;
	uint32_t n_queues;   /* pool + 1 */
	struct eng_queue *queues;
	struct eng_qmoves *qmoves;
	uint32_t max_adapters;
	struct eng_adapter *adapters;
	uint64_t next_seq;
	uint32_t rr_next;    /* round-robin cursor for static placement */
	uint64_t last_rebalance_ns;
	uint64_t now_ns;
	uint64_t round;      /* planning rounds so far */
	/* plan storage, allocated once */
	struct dvmq_plan plan;
	size_t cap_moves;
	uint32_t *scratch;   /* n_queues + n_procs entries */
	uint32_t *order;     /* n_procs entries */
	uint32_t *set_list;  /* processors in the set, ascending */
	uint32_t *bucket;    /* queues grouped by processor, rebuilt by eng_bucket_build */
	uint32_t *bucket_start; /* n_procs + 1 offsets into bucket */
	uint8_t *flag;       /* per processor, scratch for one round */
	/* adaptive: set processors by predicted load (spread) and by calm load (coalesce), ascending;
	 * kept from round to round, so that re-sorting a mostly sorted list is cheap */
	uint32_t *by_load, *by_load_pos;
	uint32_t *by_calm, *by_calm_pos;
	float *hist;         /* ovs-alb load history, [round % OVS_HISTORY_MAX][queue]: the round's
	                      * samples are one contiguous row */
	double *tmp;         /* per processor, scratch for one round */
	double *pkey;        /* per processor, scratch for one round */
	uint32_t *qdest;     /* per queue, scratch for one round */
	double *qkey;        /* per queue, scratch for one round */
	uint32_t n_set;
	uint32_t n_active;   /* active queues */
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
/* Whether moving q from `from` to `to` would undo one of its moves made within `window_ns`. */
bool eng_undoes(const struct dvmq_engine *e, uint32_t q, uint32_t from, uint32_t to, uint64_t window_ns);
/* Whether q left processor p within `window_ns` (a move there would be a return). */
bool eng_left_recently(const struct dvmq_engine *e, uint32_t q, uint32_t p, uint64_t window_ns);

void eng_queue_activate(struct dvmq_engine *e, uint32_t q, uint32_t adapter);
void eng_queue_deactivate(struct dvmq_engine *e, uint32_t q);

/* pool.c */
void eng_pool_rebalance(struct dvmq_engine *e);

/* policy files: one planning round each */
void eng_policy_dynamic(struct dvmq_engine *e);
void eng_policy_adaptive(struct dvmq_engine *e);
void eng_policy_ovs(struct dvmq_engine *e);

#endif
