/* RSS++'s solvers over items (rsspp_solver.h). Written from the paper and the reference solver's
 * behaviour; the tolerance search follows the reference's phases (grow by half while the squared
 * imbalance falls, then bisect between the last two turning points), and keeps the best run,
 * which is what the reference's comments intend (its own bookkeeping of the best run never
 * records a minimum, so it returns the next-to-last run's tolerances instead). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rsspp_solver.h"

int rsspp_workspace_init(struct rsspp_workspace *w, uint32_t max_items, uint32_t max_cores)
{
	memset(w, 0, sizeof(*w));
	size_t ni = max_items ? max_items : 1, nc = max_cores ? max_cores : 1;
	w->max_items = max_items;
	w->max_cores = max_cores;
	w->order = calloc(ni, sizeof(uint32_t));
	w->best = calloc(ni, sizeof(uint32_t));
	w->start = calloc(nc + 1, sizeof(uint32_t));
	w->pos = calloc(nc, sizeof(uint32_t));
	w->left = calloc(nc, sizeof(double));
	w->room = calloc(nc, sizeof(double));
	w->heap_o = calloc(nc, sizeof(*w->heap_o));
	w->heap_u = calloc(nc, sizeof(*w->heap_u));
	if (!w->order || !w->best || !w->start || !w->pos || !w->left || !w->room || !w->heap_o || !w->heap_u)
		return -ENOMEM;
	return 0;
}

void rsspp_workspace_free(struct rsspp_workspace *w)
{
	free(w->order);
	free(w->best);
	free(w->start);
	free(w->pos);
	free(w->left);
	free(w->room);
	free(w->heap_o);
	free(w->heap_u);
	memset(w, 0, sizeof(*w));
}

/* ---- a max-heap on key, ties to the smaller id (deterministic) ------------------------------ */

static bool above(const struct rsspp_heap_entry *a, const struct rsspp_heap_entry *b)
{
	return a->key > b->key || (a->key == b->key && a->id < b->id);
}

static void heap_push(struct rsspp_heap_entry *h, uint32_t *n, double key, uint32_t id)
{
	uint32_t i = (*n)++;
	h[i] = (struct rsspp_heap_entry){ key, id };
	while (i > 0 && above(&h[i], &h[(i - 1) / 2])) {
		struct rsspp_heap_entry t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct rsspp_heap_entry heap_pop(struct rsspp_heap_entry *h, uint32_t *n)
{
	struct rsspp_heap_entry top = h[0];
	h[0] = h[--*n];
	for (uint32_t i = 0;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < *n && above(&h[l], &h[m]))
			m = l;
		if (r < *n && above(&h[r], &h[m]))
			m = r;
		if (m == i)
			break;
		struct rsspp_heap_entry t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
	return top;
}

/* ---- the target problem ------------------------------------------------------------------- */

/* Items grouped by their overloaded processor, heaviest first (ties: lower item index), into
 * w->order with offsets w->start: the reference's per-processor priority queues of buckets. */
static void group_items(const struct rsspp_target_problem *pb, struct rsspp_workspace *w)
{
	memset(w->start, 0, sizeof(uint32_t) * ((size_t)pb->n_over + 1));
	for (uint32_t i = 0; i < pb->n_items; i++)
		w->start[pb->item_from[i] + 1]++;
	for (uint32_t o = 0; o < pb->n_over; o++)
		w->start[o + 1] += w->start[o];
	memcpy(w->pos, w->start, sizeof(uint32_t) * pb->n_over);
	for (uint32_t i = 0; i < pb->n_items; i++)
		w->order[w->pos[pb->item_from[i]]++] = i;
	const double *ld = pb->item_load;
	for (uint32_t o = 0; o < pb->n_over; o++) {
		uint32_t *a = &w->order[w->start[o]], n = w->start[o + 1] - w->start[o];
		for (uint32_t k = 1; k < n; k++) { /* insertion sort: a processor holds few items */
			uint32_t v = a[k], j = k;
			while (j > 0 && (ld[a[j - 1]] < ld[v] || (ld[a[j - 1]] == ld[v] && a[j - 1] > v))) {
				a[j] = a[j - 1];
				j--;
			}
			a[j] = v;
		}
	}
}

/* One greedy run with tolerances oa (overloaded) and ua (underloaded); fills pb->transfer and
 * returns the squared imbalance left, with the absolute imbalance left on each side. */
static double greedy(struct rsspp_target_problem *pb, struct rsspp_workspace *w, double oa, double ua,
		     double *imb_o, double *imb_u)
{
	uint32_t no = 0, nu = 0;
	double sq = 0.0;
	*imb_o = *imb_u = 0.0;
	for (uint32_t i = 0; i < pb->n_items; i++)
		pb->transfer[i] = RSSPP_STAY;
	for (uint32_t o = 0; o < pb->n_over; o++) {
		w->pos[o] = w->start[o];
		w->left[o] = pb->over_excess[o];
		heap_push(w->heap_o, &no, w->left[o], o);
	}
	for (uint32_t u = 0; u < pb->n_under; u++) {
		w->room[u] = pb->under_room[u];
		heap_push(w->heap_u, &nu, w->room[u], u);
	}
	while (no > 0 && nu > 0) {
		uint32_t o = heap_pop(w->heap_o, &no).id;
		if (w->pos[o] < w->start[o + 1]) {
			uint32_t item = w->order[w->pos[o]++]; /* tried once, moved or not */
			double l = pb->item_load[item];
			/* the underloaded processor with the most room: if the item does not fit there
			 * it fits nowhere (the reference tries them all, with the same outcome) */
			uint32_t u = w->heap_u[0].id;
			if (l < w->room[u] + ua) {
				heap_pop(w->heap_u, &nu);
				w->room[u] -= l;
				w->left[o] -= l;
				pb->transfer[item] = u;
				if (w->room[u] > RSSPP_TOLERANCE) {
					heap_push(w->heap_u, &nu, w->room[u], u);
				} else {
					*imb_u += w->room[u] < 0 ? -w->room[u] : w->room[u];
					sq += w->room[u] * w->room[u];
				}
			}
		}
		if (w->left[o] > -oa && w->pos[o] < w->start[o + 1]) {
			heap_push(w->heap_o, &no, w->left[o], o);
		} else {
			*imb_o += w->left[o] < 0 ? -w->left[o] : w->left[o];
			sq += w->left[o] * w->left[o];
		}
	}
	while (no > 0) {
		uint32_t o = heap_pop(w->heap_o, &no).id;
		*imb_o += w->left[o] < 0 ? -w->left[o] : w->left[o];
		sq += w->left[o] * w->left[o];
	}
	while (nu > 0) {
		uint32_t u = heap_pop(w->heap_u, &nu).id;
		*imb_u += w->room[u] < 0 ? -w->room[u] : w->room[u];
		sq += w->room[u] * w->room[u];
	}
	return sq;
}

int rsspp_solve_target(struct rsspp_target_problem *pb, struct rsspp_workspace *w)
{
	if (pb->n_items > w->max_items || pb->n_over > w->max_cores || pb->n_under > w->max_cores)
		return -EINVAL;
	for (uint32_t i = 0; i < pb->n_items; i++)
		if (pb->item_from[i] >= pb->n_over)
			return -EINVAL;
	group_items(pb, w);
	double oa = -RSSPP_TOLERANCE, ua = -RSSPP_TOLERANCE;
	double bottom_oa = oa, bottom_ua = ua, top_oa = 0.0, top_ua = 0.0;
	double last_sq = HUGE_VAL, best_sq = HUGE_VAL, bottom_sq = HUGE_VAL, top_sq = HUGE_VAL;
	double m = -1.0;
	int phase = 0;
	pb->runs = 0;
	for (uint32_t run = 1;; run++) {
		double imb_o, imb_u;
		double sq = greedy(pb, w, oa, ua, &imb_o, &imb_u);
		pb->runs = run;
		bool best = sq < best_sq;
		if (best) {
			best_sq = sq;
			memcpy(w->best, pb->transfer, sizeof(uint32_t) * pb->n_items);
		}
		if (run == RSSPP_MAX_RUNS || sq < RSSPP_TARGET_SQ)
			break;
		if (run == 1) {
			oa = imb_o; /* how much the first run left: the search starts there */
			ua = imb_u;
			phase = 1;
		} else if (phase == 1) { /* widen by half while it helps */
			if (sq <= last_sq) {
				oa += oa / 2;
				ua += ua / 2;
			} else {
				phase = 2;
				top_oa = oa;
				top_ua = ua;
				m = 0.5;
				oa /= 2;
				ua /= 2;
			}
		} else if (phase == 2) { /* towards the bottom */
			if (sq <= last_sq) {
				m /= 2;
				if (m < 0.01)
					break;
			} else {
				bottom_oa = oa;
				bottom_ua = ua;
				bottom_sq = sq;
				phase = 3;
				m = 0.5;
			}
			oa = bottom_oa + (top_oa - bottom_oa) * m;
			ua = bottom_ua + (top_ua - bottom_ua) * m;
		} else { /* phase 3: towards the top */
			if (sq <= last_sq) {
				m = (1 + m) / 2;
				if (m > 0.99)
					break;
			} else {
				phase = 2;
				top_oa = oa;
				top_ua = ua;
				top_sq = sq;
				m = 0.5;
			}
			oa = bottom_oa + (top_oa - bottom_oa) * m;
			ua = bottom_ua + (top_ua - bottom_ua) * m;
		}
		if (run > 1 && top_sq == bottom_sq && bottom_sq == sq && sq == best_sq)
			break;
		last_sq = sq;
	}
	memcpy(pb->transfer, w->best, sizeof(uint32_t) * pb->n_items);
	pb->square_imbalance = best_sq;
	return 0;
}

/* ---- the removal problem ------------------------------------------------------------------ */

int rsspp_solve_removal(uint32_t n_items, const double *item_load, uint32_t n_cores, const double *core_room,
			uint32_t *transfer, struct rsspp_workspace *w)
{
	if (n_cores == 0 || n_cores > w->max_cores || n_items > w->max_items)
		return -EINVAL;
	uint32_t n = 0;
	for (uint32_t c = 0; c < n_cores; c++)
		heap_push(w->heap_u, &n, core_room[c], c);
	/* heaviest item first (ties: lower index) */
	for (uint32_t i = 0; i < n_items; i++) {
		uint32_t j = i;
		for (; j > 0 && (item_load[w->order[j - 1]] < item_load[i]); j--)
			w->order[j] = w->order[j - 1];
		w->order[j] = i;
	}
	for (uint32_t k = 0; k < n_items; k++) {
		uint32_t i = w->order[k];
		struct rsspp_heap_entry c = heap_pop(w->heap_u, &n);
		transfer[i] = c.id;
		heap_push(w->heap_u, &n, c.key - item_load[i], c.id);
	}
	return 0;
}
