/* Engine internals shared by the engine's files; never included outside src/engine/.
 * Invariants: q->proc of an active queue is a processor with in_set; proc->n_queues counts the
 * active queues on it, and the list from proc->qhead through e->qnext links holds exactly
 * them (kept by attach/detach, so no round has to rebuild it). */
#ifndef DVMQ_ENGINE_INTERNAL_H
#define DVMQ_ENGINE_INTERNAL_H

#include "dvmq/engine.h"
#include "rsspp_solver.h"

#define OVS_HISTORY_MAX 64u
#define MOVE_HISTORY 8u
#define ENG_BURST_STEP 0.1 /* a jump of demand this big may be a burst (adaptive's peak-hold) */
#define ENG_BURST_ROUNDS 3u /* ... when it holds this many rounds */
#define ENG_NIL UINT32_MAX

struct eng_proc {
	uint32_t numa;
	bool in_set;
	bool awake;          /* owns at least one queue (engine's view) */
	uint8_t touched;     /* adaptive, this round: ENG_SPREAD_* */
	uint32_t n_queues;
	uint32_t qhead;      /* first queue of its list, ENG_NIL when none */
	double load;         /* last sample, any cause */
	double other;        /* non-network part of the last sample */
	double other_ewma;
	double net_load;     /* sum of its queues' measured loads, last sample */
	double pred;         /* predicted load while a round is planned */
	double calm;         /* adaptive: conservative smoothed load for coalescing */
	double swing;        /* adaptive: the largest burst one of its queues may bring back */
	uint32_t idle_rounds;/* adaptive: consecutive rounds it could have been emptied */
	uint32_t hot_rounds; /* ovs-alb: consecutive rounds >= ovs_threshold */
	uint8_t peer;        /* rsspp, irqbalance: ENG_PEER_* */
	uint64_t peer_stamp; /* rsspp: round it was removed from the used set (LIFO re-adds) */
	double peer_acc;     /* irqbalance: network busy fraction summed over its interval */
};

/* eng_proc.peer: the peers' own per-processor state */
enum { ENG_PEER_USED = 1, ENG_PEER_MOVED = 2, ENG_PEER_POWERSAVE = 4, ENG_PEER_SEEN = 8 };

/* The fields every round reads or writes come first. */
struct eng_queue {
	bool active;
	bool moved;
	bool grouped;        /* its adapter's group holds more than this queue (eng_group_mark) */
	bool pinned;         /* an operator's pin: no policy moves it (eng_move refuses) */
	uint8_t n_recent;    /* moves held in e->qmoves[q] (kept with the slot, as they are) */
	uint32_t proc;
	double load;         /* measured busy fraction, last interval */
	double demand;       /* estimated demand, fraction */
	double demand_peak;  /* decaying peak of demand (adaptive coalescing) */
	double demand_hold;  /* adaptive: the height of its bursts once one came back after a rest, 0 if
	                      * none (peak-hold): demand_hold - demand_peak is what it may bring back */
	double burst_top;    /* adaptive: the height of its bursts (burst_track in engine.c) */
	double cand_top;     /* adaptive: a jump not yet held for ENG_BURST_ROUNDS rounds */
	uint64_t hold_at;    /* adaptive: its last burst */
	uint64_t low_since;  /* adaptive: since when it rests under half burst_top (0: it does not) */
	uint8_t cand_rounds; /* adaptive: rounds the candidate burst has held */
	bool cand_after_rest; /* adaptive: the candidate came after a rest */
	bool burst_fell, burst_back; /* adaptive: rested since the last burst; a burst came back */
	double ns_per_pkt;   /* smoothed cost of one packet, from the rounds with drops or backlog */
	uint64_t backlog;
	uint64_t last_move_ns;
	uint64_t recorded_ns; /* its newest move in e->qmoves (any reason); 0 if none: checks of
	                       * the history skip it when that is older than their window */
	uint32_t adapter;    /* UINT32_MAX for the default queue */
	uint32_t home;
	uint64_t hist_from;  /* ovs-alb: round its load history starts */
	uint32_t ovl_pos;    /* its place in ovl[] while in a single-queue overload (eng_overloaded) */
	double arrivals;     /* packets that reached it in the last interval (processed + dropped) */
	double peer_acc;     /* irqbalance: arrivals summed over its interval */
};

/* A queue's recent moves, kept apart from the hot fields (how many: eng_queue.n_recent, so that a
 * queue without recent moves costs no read here). The slot keeps them when it is given to another
 * adapter, so that no move can undo a recent one. Two cache lines, allocated on a line boundary:
 * the newest moves, the ones a check reads, share at most two. */
struct eng_qmoves {
	struct { uint32_t from, to; uint64_t at_ns; } recent[MOVE_HISTORY]; /* oldest first */
};

/* A group's per-bucket state (group.c), allocated for adapters whose max-queues is above 1. */
struct eng_gstate {
	double bdemand[DVMQ_INDIRECTION_ENTRIES]; /* estimated demand per bucket, this round */
	double bpeak[DVMQ_INDIRECTION_ENTRIES];   /* its decaying peak (shrink sizes buckets by it) */
	uint64_t bmoved_ns[DVMQ_INDIRECTION_ENTRIES]; /* the bucket's last move; 0: none */
	uint32_t bfrom[DVMQ_INDIRECTION_ENTRIES];     /* the queue it left then */
	uint64_t bround[DVMQ_INDIRECTION_ENTRIES];    /* round of its last move + 1 (0: none) */
	const struct dvmq_bucket_sample *sample;      /* this round's, or NULL (uniform) */
	uint64_t last_grow_ns;
	uint32_t calm_rounds;   /* adaptive: rounds in a row one queue fewer would have done */
	enum dvmq_overload_group limit; /* why the last group relief fell short */
};

struct eng_adapter {
	bool used;
	struct dvmq_adapter_desc desc;  /* desc.max_queues >= 1 */
	uint64_t seq;        /* arrival order: ties first-come first-served */
	struct dvmq_queue_group group;
	struct eng_gstate *gs; /* NULL until max_queues > 1 */
	uint32_t grp_index;  /* its place in e->grp, ENG_NIL when not listed */
};

/* touched (per processor, per round): over high when spreading began; gave or took a spread move.
 * Coalescing keeps off the processors a spread move touched. flag: coalescing's victims and
 * receivers. */
enum { ENG_SPREAD_SRC = 1, ENG_SPREAD_DST = 2, ENG_SPREAD_GAVE = 16, ENG_SPREAD_MOVED = ENG_SPREAD_DST | ENG_SPREAD_GAVE };
enum { ENG_VICTIM = 4, ENG_RECEIVER = 8 };

/* The processors of queue q's siblings (the other queues of its group) into sib (room for
 * DVMQ_MAX_GROUP_QUEUES); returns how many. A group's queues keep to processors of their own (two
 * on one processor would add nothing but handoffs): destination searches skip these. */
uint32_t eng_siblings(const struct dvmq_engine *e, uint32_t q, uint32_t *sib);
/* Sets `grouped` on the group's queues after its size changed. */
void eng_group_mark(struct dvmq_engine *e, const struct dvmq_queue_group *g);

/* buckets.c: processors by a load in buckets 1/scale wide (loads of 2 and more share the last),
 * non-empty buckets in a bitmap. Within a bucket, order is arbitrary: callers compare the loads of
 * a bucket's members themselves. by_calm is 1/256 wide (coalescing takes its victims bucket by
 * bucket: the width is part of that rule); by_load, whose searches are exact at any width, is
 * 1/1024 wide: fewer processors share the least loaded bucket a destination search reads whole. */
#define ENG_BUCKETS_MAX 2048u
#define ENG_BUCKET_SCALE 256.0      /* by_calm */
#define ENG_BUCKET_SCALE_LOAD 1024.0 /* by_load */
struct eng_buckets {
	uint32_t n;      /* buckets: 2 * scale */
	double scale;
	uint32_t head[ENG_BUCKETS_MAX];
	uint64_t bits[ENG_BUCKETS_MAX / 64];
	uint32_t *next, *prev, *where; /* per processor; where: its bucket, ENG_NIL if none */
};

static inline uint32_t eng_bucket_of(const struct eng_buckets *b, double key)
{
	double k = key * b->scale;
	return k <= 0.0 ? 0u : (k >= (double)(b->n - 1) ? b->n - 1 : (uint32_t)k);
}

/* The smallest key of bucket k. */
static inline double eng_bucket_lo(const struct eng_buckets *b, uint32_t k)
{
	return (double)k / b->scale;
}

/* Returns 0 or -1 (out of memory; eng_buckets_free still frees what was allocated). */
int eng_buckets_init(struct eng_buckets *b, uint32_t n_procs, double scale);
void eng_buckets_free(struct eng_buckets *b);
void eng_buckets_clear(struct eng_buckets *b, uint32_t n_procs);
/* Puts processor p in the bucket of key (moving it if it is in another), or takes it out. O(1). */
void eng_buckets_put(struct eng_buckets *b, uint32_t p, double key);
void eng_buckets_remove(struct eng_buckets *b, uint32_t p);
/* The first non-empty bucket >= from, or the last one <= from; ENG_NIL when none. */
uint32_t eng_buckets_next(const struct eng_buckets *b, uint32_t from);
uint32_t eng_buckets_prev(const struct eng_buckets *b, uint32_t from);

/* Every array this struct owns is copied by clone.c (dvmq_engine_clone): add a new one there. */
struct dvmq_engine {
	struct dvmq_engine_params params;
	uint32_t n_procs;
	struct eng_proc *procs;
	uint32_t n_queues;   /* pool + 1 */
	struct eng_queue *queues;
	/* each processor's queue list (from eng_proc.qhead), links per queue: apart from the queues'
	 * other fields so that walking a list chases 4-byte links in a small array, and the loads of
	 * the queues' fields along the way do not wait for one another */
	uint32_t *qnext, *qprev;
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
	/* adaptive: awake processors of the set bucketed by predicted load (spread), and the set's
	 * processors by calm load (coalesce), kept from round to round */
	struct eng_buckets by_load, by_calm;
	float *hist;         /* ovs-alb load history, [round % OVS_HISTORY_MAX][queue]: the round's
	                      * samples are one contiguous row */
	double *tmp;         /* per processor, scratch for one round */
	double *pkey;        /* per processor, scratch for one round */
	uint32_t *qdest;     /* per queue, scratch for one round */
	double *qkey;        /* per queue, scratch for one round */
	uint32_t n_set;
	uint32_t n_active;   /* active queues */
	uint32_t n_overloaded; /* queues in a single-queue overload episode, listed in ovl[] */
	uint32_t *ovl;
	double least_other;  /* adaptive, this round: the least non-network load in the set */
	struct rsspp_workspace rsspp_ws; /* rsspp: the solvers' scratch (queues, processors) */
	uint64_t peer_last_ns; /* irqbalance: its last rebalance */
	uint64_t peer_cycles;  /* irqbalance: rebalances so far (its cycle_count) */
	/* groups (group.c): adapters whose max-queues is above 1, and the plan storage their rounds
	 * need, grown with them (control path) */
	uint32_t *grp, n_grp, cap_grp;
	size_t cap_bucket_moves, cap_group_changes;
	struct dvmq_group_change *pending; /* forced by adapter calls, for the next plan */
	size_t n_pending, cap_pending;
};

/* engine.c */
void eng_plan_reset(struct dvmq_engine *e, uint64_t now_ns);
/* Moves q to `to`, records it in the plan with predicted loads; updates park/wake. */
void eng_move(struct dvmq_engine *e, uint32_t q, uint32_t to, enum dvmq_reason why, double qload);
uint32_t eng_place_new(struct dvmq_engine *e);
void eng_bucket_build(struct dvmq_engine *e);
/* Sorts idx[0..n) by key[idx[i]], ascending (deterministic, not stable). */
void eng_sort_by_key(uint32_t *idx, uint32_t n, const double *key);
/* NUMA node first (another node counts as DVMQ_MAX_PROCESSORS away), then id distance. */
static inline uint32_t eng_distance(const struct dvmq_engine *e, uint32_t a, uint32_t b)
{
	uint32_t d = a > b ? a - b : b - a;
	return (e->procs[a].numa != e->procs[b].numa ? DVMQ_MAX_PROCESSORS : 0u) + d;
}

/* A queue's recent moves as a destination check needs them, read once per queue instead of once
 * per candidate: `all` when any move off `from` would be refused (the history is full and all of
 * it inside return_guard), the processors a move off `from` must not go to (it would undo a move
 * to `from` within return_guard), and the processors it left within return_window. */
struct eng_recent {
	bool all;
	uint32_t n_undo, n_left;
	uint32_t undo[MOVE_HISTORY], left[MOVE_HISTORY];
};
void eng_recent_get(const struct dvmq_engine *e, uint32_t q, uint32_t from, struct eng_recent *r);
static inline bool eng_recent_has(const uint32_t *list, uint32_t n, uint32_t p)
{
	for (uint32_t i = 0; i < n; i++)
		if (list[i] == p)
			return true;
	return false;
}
/* Whether moving q from `from` to `to` would undo one of its moves made within `window_ns`. */
bool eng_undoes(const struct dvmq_engine *e, uint32_t q, uint32_t from, uint32_t to, uint64_t window_ns);
/* Whether q left processor p within `window_ns` (a move there would be a return). */
bool eng_left_recently(const struct dvmq_engine *e, uint32_t q, uint32_t p, uint64_t window_ns);

/* Single-queue overload episodes: a sparse set, ovl[0..n_overloaded) with each member's place in
 * its ovl_pos. A queue is a member at most once by construction (membership is ovl[ovl_pos] == q,
 * not a flag that could disagree with the list), so the set never outgrows its n_queues slots. */
static inline bool eng_overloaded(const struct dvmq_engine *e, uint32_t q)
{
	uint32_t pos = e->queues[q].ovl_pos;
	return pos < e->n_overloaded && e->ovl[pos] == q;
}
/* Starts q's episode; false when it already has one. */
bool eng_overload_begin(struct dvmq_engine *e, uint32_t q);
/* Ends q's single-queue overload episode, if it has one. */
void eng_overload_end(struct dvmq_engine *e, uint32_t q);

void eng_queue_activate(struct dvmq_engine *e, uint32_t q, uint32_t adapter);
void eng_queue_deactivate(struct dvmq_engine *e, uint32_t q);

/* pool.c */
void eng_pool_rebalance(struct dvmq_engine *e);

/* group.c: the queue groups' model (state, samples, forced shrinks); policy_group.c: adaptive's
 * Dynamic VMMQ rules */
void eng_group_free(struct eng_adapter *a);
/* An adapter arrived (desc set: lists it when max-queues > 1; returns 0 or -ENOMEM) / left. */
int eng_group_adapter_added(struct dvmq_engine *e, uint32_t id);
void eng_group_adapter_removed(struct dvmq_engine *e, uint32_t id);
/* Takes every queue of the adapter's group back (it keeps no VMQ). */
void eng_group_release(struct dvmq_engine *e, struct eng_adapter *a);
/* Frees queue index k (>= 1) of the adapter's group, folding its buckets into the others; the
 * change is recorded for the next plan (why: pool or max-queues). Returns the queue freed. */
uint32_t eng_group_drop(struct dvmq_engine *e, struct eng_adapter *a, uint32_t k, enum dvmq_group_why why);
/* The adapter whose group holds an extra queue (beyond its first) and ranks lowest, or ENG_NIL. */
uint32_t eng_group_lowest_extra(const struct dvmq_engine *e);
/* Its least loaded extra queue's index. */
uint32_t eng_group_least_extra(const struct dvmq_engine *e, const struct eng_adapter *a);
/* After the queues' demands are known: each group's buckets' demands from the samples. */
void eng_groups_update(struct dvmq_engine *e, uint64_t interval_ns, const struct dvmq_bucket_sample *bs,
		       size_t n_bs);
/* Plan storage: pending changes copied in at a round's start. */
void eng_groups_plan_begin(struct dvmq_engine *e);
/* Points bucket b of adapter a at group index k, with a plan entry (predicted loads updated). */
void eng_bucket_move(struct dvmq_engine *e, uint32_t a, uint32_t b, uint32_t k, enum dvmq_reason why);
/* Activates slot q for adapter a on processor p (a queue the group gains). */
void eng_queue_activate_on(struct dvmq_engine *e, uint32_t q, uint32_t adapter, uint32_t p);
/* adaptive: relieves processor p (over high) by bucket moves within groups and, where a queue of
 * a group alone keeps it over high, by growing the group; returns whether p is at or under high. */
bool eng_group_relieve(struct dvmq_engine *e, uint32_t p);
/* adaptive: shrinks groups whose load fits one queue fewer (after spread, before coalesce). */
void eng_group_shrink(struct dvmq_engine *e);
/* Why queue q's group could not relieve it (for a single-queue overload report). */
enum dvmq_overload_group eng_group_limit(const struct dvmq_engine *e, uint32_t q);

/* policy files: one planning round each */
void eng_policy_dynamic(struct dvmq_engine *e);
void eng_policy_adaptive(struct dvmq_engine *e);
void eng_policy_ovs(struct dvmq_engine *e);
void eng_policy_rsspp(struct dvmq_engine *e);
void eng_policy_irqbalance(struct dvmq_engine *e);

#endif
