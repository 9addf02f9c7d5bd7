/* Queue groups in the simulator (VMMQ): how a VM's load splits over its 128 buckets, which of its
 * entries (shards) serves which queue of its group, the engine's per-bucket samples, and the
 * group metrics (docs/simulator.md, "Queue groups").
 * A VM's buckets: its `flows` (docs/scenarios.md), each hashed by Toeplitz from a synthetic
 * 5-tuple into a bucket, of even sizes or Zipf (`skew`), plus an `elephant` flow carrying a share
 * of the load; without `flows`, the load is even over the buckets. A bucket's share is constant
 * over the run: a VM's rate changes, its mix of flows does not.
 * Invariant (after sim_group_sync): the VM's active shards are exactly its group's queues, the
 * lead serving queues[0]; their shares are the sums of their buckets' shares (1 in all). A shard
 * whose queue leaves the group hands its backlog to the lead's (those packets were waiting in a
 * ring that still drains in the data plane; the fluid model has no freed queue to drain it). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/toeplitz.h"
#include "sim_internal.h"

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The bucket of flow f of scenario VM sv: the Toeplitz hash of a 5-tuple made up for it (a
 * client 10.x.y.z:port towards the VM's 192.168.a.b:80). */
static uint32_t flow_bucket(const struct dvmq_toeplitz *t, uint32_t sv, uint64_t f, uint64_t seed)
{
	uint8_t in[12];
	uint32_t src = 0x0a000000u | (uint32_t)((f * 2654435761u + seed * 40503u) & 0xffffffu);
	uint32_t dst = 0xc0a80000u | (sv & 0xffffu);
	uint16_t sport = (uint16_t)(1024u + (f * 7919u + seed) % 64000u), dport = 80;
	for (int i = 0; i < 4; i++) {
		in[i] = (uint8_t)(src >> (24 - 8 * i));
		in[4 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	in[8] = (uint8_t)(sport >> 8), in[9] = (uint8_t)sport;
	in[10] = (uint8_t)(dport >> 8), in[11] = (uint8_t)dport;
	return dvmq_toeplitz(t, in, sizeof(in)) & DVMQ_BUCKET_MASK;
}

static void weights(const struct dvmq_toeplitz *t, const struct dvmq_vm *d, uint32_t sv, uint64_t seed, double *w)
{
	const uint32_t nb = DVMQ_INDIRECTION_ENTRIES;
	double rest = 1.0 - d->elephant;
	for (uint32_t b = 0; b < nb; b++)
		w[b] = d->flows_set ? 0.0 : rest / nb;
	if (d->flows_set) {
		double norm = 0.0;
		for (uint32_t f = 0; f < d->flows; f++)
			norm += d->zipf_s > 0.0 ? pow(1.0 + f, -d->zipf_s) : 1.0;
		for (uint32_t f = 0; f < d->flows; f++) {
			double size = d->zipf_s > 0.0 ? pow(1.0 + f, -d->zipf_s) : 1.0;
			w[flow_bucket(t, sv, f, seed)] += rest * size / norm;
		}
	}
	if (d->elephant > 0.0) /* one more flow, the elephant */
		w[flow_bucket(t, sv, d->flows_set ? d->flows : 0x7fffffffu, seed)] += d->elephant;
}

int sim_groups_setup(struct sim *m)
{
	for (uint32_t sv = 0; sv < m->n_sv; sv++)
		m->n_grp += m->vm[m->sv_lead[sv]].n_shards > 1;
	if (m->n_grp == 0)
		return 0;
	m->grp = calloc(m->n_grp, sizeof(*m->grp));
	m->bsamples = calloc(m->n_grp, sizeof(*m->bsamples));
	struct dvmq_toeplitz *t = malloc(sizeof(*t));
	if (!m->grp || !m->bsamples || !t) {
		free(t);
		return -ENOMEM;
	}
	dvmq_toeplitz_init(t, dvmq_rss_default_key);
	uint32_t i = 0;
	for (uint32_t sv = 0; sv < m->n_sv; sv++) {
		struct sim_vm *lead = &m->vm[m->sv_lead[sv]];
		if (lead->n_shards < 2)
			continue;
		struct sim_group *g = &m->grp[i];
		g->sv = sv;
		g->lead = m->sv_lead[sv];
		g->max_queues = lead->n_shards;
		lead->group = i++;
		weights(t, &m->s->vms[sv], sv, m->s->host.seed, g->w);
		memcpy(g->w_desc, g->w, sizeof(g->w));
		qsort(g->w_desc, DVMQ_INDIRECTION_ENTRIES, sizeof(double), cmp_desc);
	}
	free(t);
	return 0;
}

void sim_groups_free(struct sim *m)
{
	free(m->grp);
	free(m->bsamples);
}

void sim_group_sync(struct sim *m, struct sim_group *g)
{
	struct sim_vm *sh = &m->vm[g->lead];
	uint32_t n = sh->n_shards;
	if (!sh->active && !sh->gone && sh->adapter == UINT32_MAX)
		return; /* not arrived */
	const struct dvmq_queue_group *grp = sh->gone ? NULL : dvmq_engine_adapter_group(m->engine, sh->adapter);
	if (!grp) {
		for (uint32_t k = 1; k < n; k++)
			sh[k].active = false;
		return;
	}
	/* shards whose queue left the group: their backlog goes to the lead's */
	sh[0].queue = grp->queues[0];
	for (uint32_t k = 1; k < n; k++) {
		bool kept = false;
		for (uint32_t j = 1; j < grp->n_queues && !kept; j++)
			kept = sh[k].active && sh[k].queue == grp->queues[j];
		if (!kept && sh[k].active) {
			sh[0].backlog += sh[k].backlog;
			sh[k].backlog = 0.0;
			sh[k].active = false;
		}
	}
	/* queues without a shard get a free one */
	for (uint32_t j = 1; j < grp->n_queues; j++) {
		bool has = false;
		for (uint32_t k = 1; k < n && !has; k++)
			has = sh[k].active && sh[k].queue == grp->queues[j];
		for (uint32_t k = 1; k < n && !has; k++)
			if (!sh[k].active) {
				sh[k].active = true;
				sh[k].queue = grp->queues[j];
				has = true;
			}
	}
	for (uint32_t k = 0; k < n; k++)
		sh[k].share = 0.0;
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++) {
		uint32_t q = grp->queues[grp->indirection[b]];
		for (uint32_t k = 0; k < n; k++)
			if ((k == 0 || sh[k].active) && sh[k].queue == q) {
				sh[k].share += g->w[b];
				break;
			}
	}
}

void sim_groups_samples(struct sim *m)
{
	for (uint32_t i = 0; i < m->n_grp; i++) {
		struct sim_group *g = &m->grp[i];
		struct dvmq_bucket_sample *s = &m->bsamples[i];
		const struct sim_vm *lead = &m->vm[g->lead];
		s->adapter = lead->active ? lead->adapter : UINT32_MAX;
		for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++) {
			double pk = g->iv_arr * g->w[b];
			s->packets[b] = (uint64_t)(pk + 0.5);
			s->bytes[b] = (uint64_t)(pk * lead->frame + 0.5);
		}
		g->iv_arr = 0.0;
	}
}

static struct sim_group *group_of(struct sim *m, uint32_t adapter)
{
	for (uint32_t i = 0; i < m->n_grp; i++)
		if (m->vm[m->grp[i].lead].adapter == adapter && !m->vm[m->grp[i].lead].gone)
			return &m->grp[i];
	return NULL;
}

bool sim_groups_apply(struct sim *m, const struct dvmq_plan *plan, uint64_t now, const struct dvmq_sim_sinks *sinks)
{
	const struct dvmq_host *h = &m->s->host;
	for (size_t i = 0; i < plan->n_bucket_moves; i++) {
		const struct dvmq_bucket_move *mv = &plan->bucket_moves[i];
		struct sim_group *g = group_of(m, mv->adapter);
		if (!g)
			continue;
		unsigned kind = dvmq_queue_moves_record(&g->moves[mv->bucket], mv->from, mv->to, now);
		bool pp = kind & DVMQ_MOVE_PINGPONG;
		m->bucket_moves++;
		m->bucket_pingpongs += pp;
		g->bucket_moves++;
		/* the new queue waits behind a barrier until the old one drained the bucket's frames:
		 * modelled as the handoff gap of a queue move */
		struct sim_queue *sq = &m->q[mv->to];
		if (sq->gap_left_ns < (double)h->move_gap_ns)
			sq->gap_left_ns = (double)h->move_gap_ns;
		if (sinks && sinks->buckets)
			fprintf(sinks->buckets, "%.3f,%s,%u,%u,%u,%u,%u,%s,%.5f,%d\n", (double)now * 1e-9,
				m->s->vms[g->sv].name, mv->bucket, mv->from, mv->to, mv->from_proc, mv->to_proc,
				dvmq_reason_name(mv->reason), mv->bucket_load, pp);
	}
	for (size_t i = 0; i < plan->n_group_changes; i++) {
		const struct dvmq_group_change *c = &plan->group_changes[i];
		struct sim_group *g = group_of(m, c->adapter);
		bool grow = c->kind == DVMQ_GROUP_GROW;
		m->group_grows += grow;
		m->group_shrinks += !grow;
		if (g) {
			g->grows += grow;
			g->shrinks += !grow;
		}
		if (sinks && sinks->buckets)
			fprintf(sinks->buckets, "%.3f,%s,-1,%u,-,%u,-,%s:%s,%.5f,0\n", (double)now * 1e-9,
				g ? m->s->vms[g->sv].name : "?", c->queue, c->processor,
				dvmq_group_change_kind_name(c->kind), dvmq_group_why_name(c->why), c->moved_load);
	}
	for (size_t i = 0; i < plan->n_overloads; i++)
		if ((unsigned)plan->overloads[i].group < DVMQ_OVERLOAD_GROUP_COUNT &&
		    dvmq_overload_is_single_queue(plan->overloads[i].reason))
			m->overloads_by_group[plan->overloads[i].group]++;
	return plan->n_group_changes > 0 || plan->n_bucket_moves > 0;
}

void sim_groups_interval(struct sim *m, uint64_t iv_ns, uint64_t now, const struct dvmq_sim_sinks *sinks)
{
	for (uint32_t i = 0; i < m->n_grp; i++) {
		struct sim_group *g = &m->grp[i];
		const struct sim_vm *lead = &m->vm[g->lead];
		if (!lead->active)
			continue;
		const struct dvmq_queue_group *grp = dvmq_engine_adapter_group(m->engine, lead->adapter);
		uint32_t n = grp && grp->queues[0] != DVMQ_DEFAULT_QUEUE ? grp->n_queues : 0;
		g->queues_ns += (double)n * (double)iv_ns;
		g->present_ns += iv_ns;
		if (n > g->queues_max)
			g->queues_max = n;
		if (sinks && sinks->groups)
			fprintf(sinks->groups, "%.3f,%s,%u,%u\n", (double)now * 1e-9, m->s->vms[g->sv].name, n,
				g->max_queues);
	}
}

void sim_groups_finish(const struct sim *m, struct dvmq_result *r)
{
	r->bucket_moves = m->bucket_moves;
	r->bucket_pingpongs = m->bucket_pingpongs;
	r->group_grows = m->group_grows;
	r->group_shrinks = m->group_shrinks;
	memcpy(r->overloads_by_group, m->overloads_by_group, sizeof(r->overloads_by_group));
	r->n_groups = m->n_grp;
	for (uint32_t i = 0; i < m->n_grp && i < DVMQ_RESULT_GROUPS; i++) {
		const struct sim_group *g = &m->grp[i];
		struct dvmq_group_result *o = &r->groups[i];
		snprintf(o->vm, sizeof(o->vm), "%s", m->s->vms[g->sv].name);
		o->max_queues = g->max_queues;
		o->queues_mean = g->present_ns ? g->queues_ns / (double)g->present_ns : 0.0;
		o->queues_max = g->queues_max;
		o->bucket_moves = g->bucket_moves;
		o->grows = g->grows;
		o->shrinks = g->shrinks;
	}
}
