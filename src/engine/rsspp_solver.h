/* RSS++'s two solvers (Barbette et al., CoNEXT 2019, and the public rsspp/fastclick NICScheduler
 * solver), over *items*: today an item is a VM queue, once VMMQ exists it is an RSS bucket (an
 * indirection-table entry). Pure functions over arrays: no engine state, no allocation in a call
 * (the workspace is sized once). docs/simulator.md ("rsspp") states the rules and where this
 * differs from the reference code. */
#ifndef DVMQ_RSSPP_SOLVER_H
#define DVMQ_RSSPP_SOLVER_H

#include <stdint.h>

#define RSSPP_STAY UINT32_MAX   /* transfer[] of an item that does not move */
#define RSSPP_MAX_RUNS 10u      /* tolerance-search runs of the target solver */
#define RSSPP_TARGET_SQ 0.01    /* stop once the squared imbalance is under this */
#define RSSPP_TOLERANCE 0.01    /* first run: take and give just not enough (-0.01) */

struct rsspp_heap_entry {
	double key;
	uint32_t id;
};

/* Scratch memory for up to max_items items and max_cores processors. */
struct rsspp_workspace {
	uint32_t max_items, max_cores;
	uint32_t *order, *start, *pos, *best; /* items by source, sorted; offsets; cursors; best run */
	double *left, *room;                  /* per overloaded: excess left; per underloaded: room */
	struct rsspp_heap_entry *heap_o, *heap_u;
};

/* Returns 0 or -ENOMEM (rsspp_workspace_free still frees what was allocated). */
int rsspp_workspace_init(struct rsspp_workspace *w, uint32_t max_items, uint32_t max_cores);
void rsspp_workspace_free(struct rsspp_workspace *w);

/* Moving items off overloaded processors onto underloaded ones (BucketMapTargetProblem).
 * Greedy run with tolerances (oa, ua): take the most overloaded processor's heaviest item not yet
 * tried; it goes to the underloaded processor with the most room if it is lighter than that room
 * plus ua, else it stays (and is not tried again); an underloaded processor takes items while its
 * room is over 0.01, an overloaded one gives while its excess is over -oa. The squared imbalance
 * is the sum of the squares of what is left on every processor. Up to RSSPP_MAX_RUNS runs, the
 * first with both tolerances at -0.01, the next searching (oa, ua) as the reference does; stops
 * under RSSPP_TARGET_SQ; the assignment of the run with the least squared imbalance is kept. */
struct rsspp_target_problem {
	uint32_t n_items;
	const double *item_load;   /* per item, fraction of a processor */
	const uint32_t *item_from; /* per item: its overloaded processor, index < n_over */
	uint32_t n_over;
	const double *over_excess; /* per overloaded processor: its load above the mean */
	uint32_t n_under;
	const double *under_room;  /* per underloaded processor: the mean minus its load */
	uint32_t *transfer;        /* out, per item: underloaded index, or RSSPP_STAY */
	double square_imbalance;   /* out: of the assignment kept */
	uint32_t runs;             /* out: greedy runs made */
};
/* Returns 0, or -EINVAL when the problem is larger than the workspace or an item_from is out of
 * range. */
int rsspp_solve_target(struct rsspp_target_problem *pb, struct rsspp_workspace *w);

/* Moving every item of a removed processor onto the others (BucketMapProblem): heaviest item
 * first, each onto the processor with the most room left (room = mean without the removed one
 * minus its load, less what it was given). transfer[i] = index into core_room. Returns 0 or
 * -EINVAL (n_cores 0, or larger than the workspace). */
int rsspp_solve_removal(uint32_t n_items, const double *item_load, uint32_t n_cores, const double *core_room,
			uint32_t *transfer, struct rsspp_workspace *w);

#endif
