/* dvmq balancing engine: decides which processor serves which VM queue.
 *
 * Pure C: no I/O, no threads, no clock, no globals. The caller (simulator or data plane) feeds one
 * sample per processor and per queue every sampling interval and gets back a plan; the engine
 * assumes the caller applies the plan before the next round, and its own view already reflects it.
 *
 * Invariant: every active queue has exactly one processor, and that processor is in the processor
 * set. Queue 0 is the default queue and is always active.
 *
 * Thread safety: an engine handle is not thread-safe; one thread (the control thread) owns it.
 * Errors: functions return 0 or a negative errno; nothing here prints, exits or aborts.
 */
#ifndef DVMQ_ENGINE_H
#define DVMQ_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DVMQ_DEFAULT_QUEUE 0u
#define DVMQ_MAX_PROCESSORS 4096u
#define DVMQ_MAX_QUEUE_POOL 65535u
#define DVMQ_MAX_GROUP_QUEUES 16u
#define DVMQ_INDIRECTION_ENTRIES 128u
#define DVMQ_NO_PROCESSOR UINT32_MAX
/* The sampling interval a daemon takes, in its config file and from dvmqctl alike. */
#define DVMQ_INTERVAL_MIN_NS 1000000ull      /* 1ms */
#define DVMQ_INTERVAL_MAX_NS 10000000000ull  /* 10s */
/* The seeds' ping-pong window (B->A within 1 s of A->B): adaptive's return guard is never shorter. */
#define DVMQ_PINGPONG_GUARD_MIN_NS 1000000000ull

enum dvmq_policy {
	DVMQ_POLICY_NONE,     /* every queue on the base processor */
	DVMQ_POLICY_STATIC,   /* round-robin at creation, never moves */
	DVMQ_POLICY_DYNAMIC,  /* Windows Server 2012 dVMQ, ping-pong included */
	DVMQ_POLICY_OVS_ALB,  /* Open vSwitch PMD auto load balance */
	DVMQ_POLICY_ADAPTIVE, /* ours: dynamic without ping-pong, faster, coalesces harder */
	DVMQ_POLICY_RSSPP,    /* RSS++ (Barbette et al., CoNEXT 2019): imbalance solver, autoscale */
	DVMQ_POLICY_IRQBALANCE, /* irqbalance 1.9.4 on queues as interrupts, with powersave */
	DVMQ_POLICY_COUNT
};

enum dvmq_reason {
	DVMQ_REASON_SPREAD,        /* source over the high threshold */
	DVMQ_REASON_COALESCE,      /* source under the low threshold: pack to park it */
	DVMQ_REASON_REBALANCE,     /* ovs-alb global re-plan */
	DVMQ_REASON_PROCESSOR_SET, /* processor left the processor set */
	DVMQ_REASON_POLICY,        /* policy change re-placed the queue (e.g. to `none`) */
	DVMQ_REASON_PIN,           /* an operator pinned the queue to a processor */
	/* bucket moves within a VM's queue group (VMMQ) */
	DVMQ_REASON_BALANCE,       /* RSS++'s rule: off the group's queue whose processor is over high */
	DVMQ_REASON_GROW,          /* to the queue the group just gained */
	DVMQ_REASON_SHRINK,        /* off the queue the group frees */
	DVMQ_REASON_COUNT
};

/* Tunables. Fractions are of one processor (0..1). Every field can change while running. */
struct dvmq_engine_params {
	enum dvmq_policy policy;
	double high;               /* spread above this load */
	double low;                /* dynamic: coalesce a processor under this load */
	double ewma_alpha;         /* weight of the newest sample in smoothed loads */
	uint64_t dwell_ns;         /* adaptive: min time between two moves of one queue (0: none) */
	uint64_t return_guard_ns;  /* adaptive: no move undoes one (B->A after A->B) within this;
	                            * at least DVMQ_PINGPONG_GUARD_MIN_NS, so that adaptive never
	                            * ping-pongs whatever dwell is */
	uint64_t return_window_ns; /* adaptive: coalescing never sends a queue back to a processor it
	                            * left within this; spreading only when nothing else fits */
	double min_gain;           /* adaptive: a move must lower max(src,dst) by this much */
	double spread_floor;       /* adaptive: a queue under this load never spreads */
	double pack;               /* adaptive: coalescing fills destinations up to this load */
	uint32_t coalesce_rounds;  /* adaptive: rounds a processor must look idle before coalescing */
	uint64_t peak_halflife_ns; /* adaptive: coalescing sizes queues by their peak demand, which
	                            * decays with this half-life (bursty queues are not packed) */
	uint64_t peak_hold_ns;     /* adaptive: a queue's peak demand holds this long before it
	                            * decays (0: it decays at once) */
	double ovs_threshold;      /* ovs-alb: busy threshold over the whole history */
	uint32_t ovs_history;      /* ovs-alb: samples in the history window (1..64) */
	uint64_t ovs_interval_ns;  /* ovs-alb: min time between re-plans */
	double ovs_improvement;    /* ovs-alb: min relative variance improvement */
	double rsspp_target;       /* rsspp: target load of a used processor (autoscale) */
	double rsspp_imbalance;    /* rsspp: a processor this far from the mean is over/underloaded */
	uint32_t rsspp_autoscale;  /* rsspp: 1 adds and removes processors, 0 keeps the set used */
	uint64_t irqb_interval_ns; /* irqbalance: time between two rebalances (its --interval) */
	uint32_t irqb_powerthresh; /* irqbalance: processors under the mean by a standard deviation
	                            * before one enters powersave (its --powerthresh); 0 = off */
};

struct dvmq_processor_set {
	uint32_t base;             /* first processor id usable */
	uint32_t max;              /* at most this many processors (0 = no limit) */
	int32_t numa_node;         /* restrict to one node, -1 = any */
	const uint32_t *excluded;  /* ids never used; borrowed during the call */
	size_t n_excluded;
};

struct dvmq_engine_config {
	uint32_t n_processors;     /* 1..DVMQ_MAX_PROCESSORS */
	const uint32_t *numa_node; /* n_processors entries, or NULL for all on node 0 */
	uint32_t queue_pool;       /* VMQs offered besides the default queue */
	uint32_t max_adapters;     /* capacity of the adapter table */
	struct dvmq_processor_set set;
	struct dvmq_engine_params params;
};

struct dvmq_adapter_desc {
	uint8_t mac[6];
	uint16_t vlan;   /* 0 = untagged, else 1..4094 */
	uint32_t weight; /* 0..100; 0 = never a VMQ */
	uint32_t max_queues; /* VMMQ: the most queues its group may hold, 1..DVMQ_MAX_GROUP_QUEUES;
	                      * 0 or 1 = one queue (plain VMQ). Only `adaptive` grows a group. */
};

/* A VM's queues (VMMQ): 1..max_queues queues, each on its own processor under `adaptive`, and a
 * 128-entry indirection table: a frame's flow hash (Toeplitz, dvmq/toeplitz.h) picks bucket
 * hash & 127, whose entry is an index into queues[]. queues[0] is the VM's first queue (the
 * default queue when it holds no VMQ); a group never frees it while the VM keeps a VMQ. When a
 * queue leaves the group the last one takes its index: callers track queues by id, not index. */
struct dvmq_queue_group {
	uint32_t n_queues;
	uint32_t queues[DVMQ_MAX_GROUP_QUEUES];
	uint8_t indirection[DVMQ_INDIRECTION_ENTRIES]; /* index into queues[] */
};
#define DVMQ_BUCKET_MASK (DVMQ_INDIRECTION_ENTRIES - 1u)

/* Per-interval inputs, indexed by processor id / queue id. */
struct dvmq_proc_sample {
	double busy;  /* busy fraction over the interval from any cause, 0..1 */
	bool awake;
};

struct dvmq_queue_sample {
	uint64_t busy_ns;  /* network processing time in the interval */
	uint64_t packets;  /* processed */
	uint64_t bytes;
	uint64_t backlog;  /* packets waiting at the end of the interval */
	uint64_t dropped;  /* overflow drops in the interval */
};

/* Per-bucket counters of one VM's group over the interval (frames that arrived for each bucket,
 * wherever they went). The engine splits each queue's demand over its buckets by their packets
 * (bytes where no packets were counted); a group without a sample is taken as uniform. */
struct dvmq_bucket_sample {
	uint32_t adapter;
	uint64_t packets[DVMQ_INDIRECTION_ENTRIES];
	uint64_t bytes[DVMQ_INDIRECTION_ENTRIES];
};

/* Why a queue is reported as stuck over `high` with no move to help it (adaptive). The first two
 * are single-queue overloads (the queue itself is over `high`: its VM needs VMMQ); no-room is not:
 * the queue is under `high`, but other work (not the network's) leaves no processor of the set room
 * for it: fewer other programs or more processors help, VMMQ need not. */
enum dvmq_overload_reason {
	DVMQ_OVERLOAD_OVER_CAPACITY, /* needs more than a whole processor: it drops wherever it runs */
	DVMQ_OVERLOAD_OVER_HIGH,     /* over `high` by itself: no processor can hold it under high */
	DVMQ_OVERLOAD_NO_ROOM,       /* under `high` itself; other work leaves no processor room */
	DVMQ_OVERLOAD_REASON_COUNT
};

/* Whether an overload of this reason is a single-queue overload (counted as one; needs VMMQ). */
static inline bool dvmq_overload_is_single_queue(enum dvmq_overload_reason r)
{
	return r == DVMQ_OVERLOAD_OVER_CAPACITY || r == DVMQ_OVERLOAD_OVER_HIGH;
}

/* Why the queue's group (VMMQ) did not relieve a single-queue overload. The first two are where a
 * bigger group would help (raise max-queues); one-bucket is the limit of any hash spreading. */
enum dvmq_overload_group {
	DVMQ_OVERLOAD_NO_GROUP,      /* max-queues 1: the VM needs VMMQ */
	DVMQ_OVERLOAD_GROUP_FULL,    /* the group holds max-queues queues already */
	DVMQ_OVERLOAD_NO_QUEUE,      /* no queue of the pool is free for a group (first queues first) */
	DVMQ_OVERLOAD_NO_PROCESSOR,  /* no processor without a queue of the group can take load */
	DVMQ_OVERLOAD_ONE_BUCKET,    /* one bucket (a flow no hash splits) alone keeps it over high */
	DVMQ_OVERLOAD_HELD,          /* buckets that would help are held by dwell or return-guard */
	DVMQ_OVERLOAD_GROUP_COUNT
};

/* A single-queue overload: one queue alone keeps its processor over `high` and no move can fix it
 * (moving the queues that share its processor relieves them, not it). Such a VM needs VMMQ. The
 * engine reports it once, in the round it starts; it is over when the processor's predicted load
 * falls under `pack` or the queue moves, and a later overload of the same queue is a new one. */
struct dvmq_overload {
	uint32_t queue, processor;
	enum dvmq_overload_reason reason;
	double queue_load;                 /* estimated demand of the queue, fraction */
	double processor_load;             /* predicted load of its processor, any cause: its queues'
	                                    * demand and other work, over 1.0 when it cannot serve them */
	double other_load;                 /* of that, the load from other work (not the network's) */
	enum dvmq_overload_group group;    /* why its group did not relieve it */
};

struct dvmq_move {
	uint32_t queue, from, to;
	enum dvmq_reason reason;
	double queue_load;                 /* estimated demand of the queue, fraction */
	double src_before, src_after;      /* predicted source load */
	double dst_before, dst_after;      /* predicted destination load */
};

/* A bucket of a VM's indirection table pointed at another queue of its group (a handoff in the
 * data plane: the bucket's frames in the old queue are delivered before its new ones). */
struct dvmq_bucket_move {
	uint32_t adapter;
	uint32_t bucket;                   /* 0..DVMQ_BUCKET_MASK */
	uint32_t from, to;                 /* queues of the group */
	uint32_t from_proc, to_proc;       /* their processors */
	enum dvmq_reason reason;           /* balance, grow or shrink */
	double bucket_load;                /* estimated demand of the bucket, fraction */
	double src_before, src_after;      /* predicted load of from_proc */
	double dst_before, dst_after;      /* predicted load of to_proc */
};

enum dvmq_group_change_kind { DVMQ_GROUP_GROW, DVMQ_GROUP_SHRINK };
enum dvmq_group_why {
	DVMQ_GROUP_WHY_OVERLOAD,   /* grow: a queue of the group alone keeps its processor over high */
	DVMQ_GROUP_WHY_CALM,       /* shrink: the group's peak load fitted one queue fewer under pack
	                            * for coalesce-rounds rounds in a row */
	DVMQ_GROUP_WHY_MAX_QUEUES, /* shrink: max-queues lowered under the group's size */
	DVMQ_GROUP_WHY_POOL,       /* shrink: a VM waiting for its first VMQ takes the queue */
	DVMQ_GROUP_WHY_COUNT
};

/* A queue added to or freed from a VM's group. A grown queue is active on `processor` when the
 * plan is returned (before the bucket moves to it); a freed one has given its buckets away and
 * is inactive (its processor parks if it owned nothing else). */
struct dvmq_group_change {
	uint32_t adapter;
	uint32_t queue, processor;
	enum dvmq_group_change_kind kind;
	enum dvmq_group_why why;
	uint32_t n_before, n_after;        /* queues in the group */
	uint32_t n_buckets;                /* buckets moved to (grow) or off (shrink) the queue */
	double group_load;                 /* estimated demand of the whole group, fraction */
	double moved_load;                 /* demand of those buckets */
};

/* Owned by the engine; valid until the next call that takes a plan.
 * A caller applies it in this order: group changes of kind grow (the new queue on its
 * processor), queue moves, bucket moves, then shrinks (the freed queue drains what it holds).
 * Group changes forced by dvmq_engine_adapter_* calls (pool, max-queues) come in the next plan;
 * the groups (dvmq_engine_adapter_group) already show them when those calls return. */
struct dvmq_plan {
	uint64_t now_ns;
	size_t n_moves;
	struct dvmq_move *moves;
	size_t n_park;
	uint32_t *park;    /* processors that no longer own a queue */
	size_t n_wake;
	uint32_t *wake;    /* parked processors that receive a queue */
	size_t n_overloads;
	struct dvmq_overload *overloads; /* single-queue overloads that started this round */
	size_t n_bucket_moves;
	struct dvmq_bucket_move *bucket_moves;
	size_t n_group_changes;
	struct dvmq_group_change *group_changes;
};

struct dvmq_engine;

const char *dvmq_policy_name(enum dvmq_policy p);
/* Returns 0, or -EINVAL for an unknown name. */
int dvmq_policy_parse(const char *name, enum dvmq_policy *out);
const char *dvmq_reason_name(enum dvmq_reason r);
/* Whether a move of this reason is the engine's own decision (spread, coalesce, rebalance, and a
 * group's bucket moves: balance, grow, shrink), as opposed to an operator's (processor-set,
 * policy, pin): ping-pongs and returns count only between engine moves (dvmq_queue_moves_record). */
bool dvmq_reason_is_engine(enum dvmq_reason r);
/* "over-capacity" or "over-high". */
const char *dvmq_overload_reason_name(enum dvmq_overload_reason r);
/* One overload in words for a log line, without the queue's name: e.g. "load 93%, its processor
 * 189% of its capacity (other work 12%): single-queue overload, needs VMMQ (max-queues 1)" or
 * "load 6%, its processor 90% (other work 84%): no room: other work leaves no processor of the set
 * room for it (not a single-queue overload)". Returns snprintf's count. */
int dvmq_overload_format(const struct dvmq_overload *ov, char *buf, size_t len);
/* "no-group", "group-full", "no-queue", "no-processor", "one-bucket", "held". */
const char *dvmq_overload_group_name(enum dvmq_overload_group g);
/* "grow", "shrink"; and "overload", "calm", "max-queues", "pool". */
const char *dvmq_group_change_kind_name(enum dvmq_group_change_kind k);
const char *dvmq_group_why_name(enum dvmq_group_why w);

void dvmq_engine_params_default(struct dvmq_engine_params *p);
/* Checks ranges. Returns 0 or -EINVAL. */
int dvmq_engine_params_validate(const struct dvmq_engine_params *p);
/* Why dvmq_engine_params_validate() refuses p, in words for an operator (a static string), or
 * NULL when p is valid. */
const char *dvmq_engine_params_problem(const struct dvmq_engine_params *p);
/* Sets one parameter by its documented name ("high", "dwell", "policy", ...) from text with units
 * ("90%", "0.9", "2s"). A `high` below the current `pack` lowers `pack` by as much as `high` fell.
 * Returns 0, -ENOENT (unknown name), -EINVAL (not a well-formed value for this parameter) or
 * -ERANGE (well-formed, but out of range or in conflict with another parameter); p unchanged on
 * error. */
int dvmq_engine_param_set(struct dvmq_engine_params *p, const char *name, const char *value);
/* Why dvmq_engine_param_set(p, name, value) fails, in words (a static string: "not a time such as
 * 2s or 250ms", "return-guard must be at least 1s: ..."), or NULL when it would succeed. */
const char *dvmq_engine_param_problem(const struct dvmq_engine_params *p, const char *name,
				      const char *value);
/* Names of the settable parameters, NULL-terminated. */
const char *const *dvmq_engine_param_names(void);
/* Writes parameter `name` of p as the text dvmq_engine_param_set takes ("90%", "250ms",
 * "adaptive"); the text parses back to exactly the same value. Returns 0 or -ENOENT. */
int dvmq_engine_param_format(const struct dvmq_engine_params *p, const char *name, char *buf, size_t len);

/* A deep copy of e, sharing nothing with it: a plan made on the copy (dvmqctl rebalance
 * --dry-run) changes nothing of e. Returns 0 or -ENOMEM; *out freed with destroy. */
int dvmq_engine_clone(const struct dvmq_engine *e, struct dvmq_engine **out);
/* Returns 0, -EINVAL (bad config), -ENOMEM. *out owned by the caller, freed with destroy. */
int dvmq_engine_create(const struct dvmq_engine_config *cfg, struct dvmq_engine **out);
void dvmq_engine_destroy(struct dvmq_engine *e);

/* Changes policy/parameters at run time. A change to `none` re-places queues at once; the moves
 * are in *plan (may be NULL when the caller does not want them). Returns 0 or -EINVAL. */
int dvmq_engine_set_params(struct dvmq_engine *e, const struct dvmq_engine_params *p, uint64_t now_ns,
			   const struct dvmq_plan **plan);
const struct dvmq_engine_params *dvmq_engine_params(const struct dvmq_engine *e);

/* Replaces the processor set; queues outside it move in (reason processor-set).
 * Returns 0, or -EINVAL when the set is empty or names processors outside the host. */
int dvmq_engine_set_processor_set(struct dvmq_engine *e, const struct dvmq_processor_set *set,
				  uint64_t now_ns, const struct dvmq_plan **plan);
bool dvmq_engine_processor_in_set(const struct dvmq_engine *e, uint32_t proc);

/* Adds a VM adapter and gives it a VMQ if its weight earns one (this may take a queue from a
 * lower-weight adapter). Returns 0, -EINVAL (weight > 100, vlan > 4094), -EEXIST (same MAC+VLAN),
 * -ENOSPC (adapter table full). */
int dvmq_engine_adapter_add(struct dvmq_engine *e, const struct dvmq_adapter_desc *d, uint32_t *id);
/* Returns 0 or -ENOENT. A freed VMQ goes to the highest-weight adapter still waiting. */
int dvmq_engine_adapter_remove(struct dvmq_engine *e, uint32_t id);
/* Returns 0, -ENOENT or -EINVAL. */
int dvmq_engine_adapter_set_weight(struct dvmq_engine *e, uint32_t id, uint32_t weight);
/* Sets the most queues the adapter's group may hold (0 counts as 1). A group bigger than that
 * shrinks at once (its least loaded queues fold into the others; the changes come in the next
 * plan). Returns 0, -ENOENT, -EINVAL (over DVMQ_MAX_GROUP_QUEUES) or -ENOMEM. */
int dvmq_engine_adapter_set_max_queues(struct dvmq_engine *e, uint32_t id, uint32_t max_queues);
/* The adapter's max-queues (1 for a plain VMQ), or 0 when there is no such adapter. */
uint32_t dvmq_engine_adapter_max_queues(const struct dvmq_engine *e, uint32_t id);
/* What the last round estimated of bucket b of the adapter's group: its demand (fraction of a
 * processor; 0 for an adapter without a group of more than one queue allowed). */
double dvmq_engine_bucket_demand(const struct dvmq_engine *e, uint32_t id, uint32_t bucket);
/* The adapter's queue group (the default queue when it holds no VMQ). NULL if no such adapter. */
const struct dvmq_queue_group *dvmq_engine_adapter_group(const struct dvmq_engine *e, uint32_t id);
/* The adapter's first queue, DVMQ_DEFAULT_QUEUE without a VMQ, or -ENOENT. */
int64_t dvmq_engine_adapter_queue(const struct dvmq_engine *e, uint32_t id);

/* Pins: an operator's hand on one queue (OVS's pmd-rxq-affinity). A pinned queue is never moved by
 * the engine: no spread, coalesce or rebalance, and a change to policy `none` leaves it; so its
 * processor stays awake. Only a processor-set change that takes its processor out of the set
 * moves it (reason processor-set) and ends the pin. A pin ends too when the queue slot leaves
 * its adapter (VM removed, VMQ given to a heavier VM).
 * dvmq_engine_queue_pin moves q to proc at once if it is elsewhere (one move, reason pin, in
 * *plan; plan may be NULL). Returns 0, -ENOENT (q is not an active queue) or -EINVAL (proc is
 * not a processor of the set). */
int dvmq_engine_queue_pin(struct dvmq_engine *e, uint32_t q, uint32_t proc, uint64_t now_ns,
			  const struct dvmq_plan **plan);
/* Hands q back to the engine (a no-op when it is not pinned). Returns 0 or -ENOENT. */
int dvmq_engine_queue_unpin(struct dvmq_engine *e, uint32_t q);
bool dvmq_engine_queue_pinned(const struct dvmq_engine *e, uint32_t q);

/* Queue slots: 0 (default) .. queue_pool. */
uint32_t dvmq_engine_n_queues(const struct dvmq_engine *e);
uint32_t dvmq_engine_n_processors(const struct dvmq_engine *e);
/* Processor serving queue q, or DVMQ_NO_PROCESSOR if the slot is unused. */
uint32_t dvmq_engine_queue_processor(const struct dvmq_engine *e, uint32_t q);
uint32_t dvmq_engine_queue_home(const struct dvmq_engine *e, uint32_t q);
/* Adapter holding queue q, or UINT32_MAX (default queue or unused slot). */
uint32_t dvmq_engine_queue_adapter(const struct dvmq_engine *e, uint32_t q);
/* Whether the engine considers the processor awake (owns a queue). */
bool dvmq_engine_processor_awake(const struct dvmq_engine *e, uint32_t proc);
/* What the last planning round estimated: a queue's demand (fraction of a processor; 0 for an
 * unused slot) and a processor's predicted load after the plan (any cause; adaptive only, other
 * policies report the last sample). For views and tests. */
double dvmq_engine_queue_demand(const struct dvmq_engine *e, uint32_t q);
/* Whether queue q is in a single-queue overload episode (reported in a plan, not over yet). */
bool dvmq_engine_queue_overloaded(const struct dvmq_engine *e, uint32_t q);
double dvmq_engine_processor_predicted(const struct dvmq_engine *e, uint32_t proc);

/* One planning round. procs has n_processors entries, queues n_queues entries; interval_ns > 0.
 * Returns 0 or -EINVAL. The plan is already applied to the engine's view. */
int dvmq_engine_plan(struct dvmq_engine *e, uint64_t now_ns, uint64_t interval_ns,
		     const struct dvmq_proc_sample *procs, const struct dvmq_queue_sample *queues,
		     const struct dvmq_plan **plan);
/* The same with the per-bucket counters of the groups (buckets[0..n_buckets), any order, one per
 * adapter at most; adapters the engine does not know are ignored). Returns 0 or -EINVAL. */
int dvmq_engine_plan_ex(struct dvmq_engine *e, uint64_t now_ns, uint64_t interval_ns,
			const struct dvmq_proc_sample *procs, const struct dvmq_queue_sample *queues,
			const struct dvmq_bucket_sample *buckets, size_t n_buckets, const struct dvmq_plan **plan);

#endif
