/* VM queue groups (VMMQ) in the data plane, under sequence-numbered traffic over many flows at
 * full speed: 10,000 bucket moves lose and reorder nothing; a group grows from 1 to 4 queues and
 * back (its last step with hashing off: every queue's frames gathered behind barriers); each
 * frame of queue i of the group leaves through tx queue i of a multi-queue port; bad groups are
 * refused. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../harness.h"
#include "dp_fixture.h"
#include "dvmq/toeplitz.h"

#define G_SEC 1000000000ull
#define G_FLOWS 96u

static uint64_t g_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * G_SEC + (uint64_t)ts.tv_nsec;
}

/* After the traffic stopped: drained, nothing dropped or left, every flow of VM 0 whole. */
static int g_whole(struct dpfx *fx, char *why, size_t len)
{
	if (dvmq_dp_drain(fx->dp, 10 * G_SEC) != 0) {
		snprintf(why, len, "the rings did not drain");
		return 0;
	}
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx->dp, &c);
	if (c.overflow || c.vm_gone || c.flooded || c.in_flight) {
		snprintf(why, len, "overflow %llu, gone %llu, flooded %llu, in flight %llu", (unsigned long long)c.overflow,
			 (unsigned long long)c.vm_gone, (unsigned long long)c.flooded, (unsigned long long)c.in_flight);
		return 0;
	}
	struct dvmq_port_stats st = dpfx_sink(fx, 0);
	if (st.reordered || st.gaps) {
		snprintf(why, len, "reordered %llu, gaps %llu", (unsigned long long)st.reordered,
			 (unsigned long long)st.gaps);
		return 0;
	}
	for (uint32_t f = 0; f < G_FLOWS; f++) {
		struct dvmq_sink_flow fl;
		dvmq_port_sink_flow(fx->sink[0], f, &fl);
		uint64_t sent = dvmq_port_gen_flow_sent(fx->gen, f);
		if (sent == 0 || fl.received != sent || fl.reordered) {
			snprintf(why, len, "flow %u: sent %llu, received %llu, reordered %llu", f, (unsigned long long)sent,
				 (unsigned long long)fl.received, (unsigned long long)fl.reordered);
			return 0;
		}
	}
	return 1;
}

/* Two workers, VM 0 with G_FLOWS flows, queues 1..4 (1, 3 on worker 0; 2, 4 on worker 1), the
 * generator at full speed, lossless. */
static int g_setup(struct dpfx *fx)
{
	int rc = dpfx_init(fx, 2, 5, true, 60 * G_SEC);
	if (!rc)
		rc = dpfx_vm(fx, 0, 0, 0, G_FLOWS);
	for (uint32_t q = 2; q <= 4 && !rc; q += 2)
		rc = dvmq_dp_move(fx->dp, q, 1);
	if (!rc)
		rc = dvmq_dp_vm_set_queue(fx->dp, fx->vm[0], 1);
	return rc ? rc : dpfx_start_traffic(fx, 1, G_FLOWS, 2e9);
}

/* The buckets VM 0's traffic hits (its per-bucket counters), into used[]; returns how many. */
static uint32_t g_used_buckets(struct dpfx *fx, uint32_t *used)
{
	uint64_t pk[DVMQ_INDIRECTION_ENTRIES], by[DVMQ_INDIRECTION_ENTRIES];
	uint32_t n = 0;
	if (dvmq_dp_vm_buckets(fx->dp, fx->vm[0], pk, by) != 0)
		return 0;
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		if (pk[b])
			used[n++] = b;
	return n;
}

SLOW_TEST(dp_group_10000_bucket_moves_under_full_traffic_lose_and_reorder_nothing)
{
	struct dpfx fx;
	CHECK(g_setup(&fx) == 0);
	struct dvmq_queue_group g = { .n_queues = 4, .queues = { 1, 2, 3, 4 } };
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		g.indirection[b] = (uint8_t)(b % 4);
	CHECK(dvmq_dp_vm_set_group(fx.dp, fx.vm[0], &g, true) == 0);
	/* wait for traffic on the buckets, then move only buckets that carry flows, each again only
	 * once a frame crossed its last move (its counter moved); one table update may move many */
	uint32_t used[DVMQ_INDIRECTION_ENTRIES], n_used = 0;
	uint64_t until = g_now() + 120 * G_SEC;
	while ((n_used = g_used_buckets(&fx, used)) < 16 && g_now() < until)
		sched_yield();
	CHECK_MSG(n_used >= 16, "only %u buckets carry the %u flows", n_used, G_FLOWS);
	struct dvmq_dp_counters before, after;
	dvmq_dp_counters(fx.dp, &before);
	unsigned seed = 17;
	uint32_t done = 0;
	uint64_t pk[DVMQ_INDIRECTION_ENTRIES], by[DVMQ_INDIRECTION_ENTRIES], moved_at[DVMQ_INDIRECTION_ENTRIES] = { 0 };
	while (done < 10000 && g_now() < until) {
		/* any bucket a frame crossed since its last move may move again (many in flight) */
		dvmq_dp_vm_buckets(fx.dp, fx.vm[0], pk, by);
		uint32_t start = (uint32_t)rand_r(&seed) % n_used, moved = 0;
		for (uint32_t i = 0; i < n_used && done < 10000; i++) {
			uint32_t b = used[(start + i) % n_used];
			if (pk[b] <= moved_at[b])
				continue;
			moved_at[b] = pk[b];
			g.indirection[b] = (uint8_t)((g.indirection[b] + 1 + (uint32_t)rand_r(&seed) % 3) % 4);
			done++;
			moved++;
		}
		if (moved)
			CHECK(dvmq_dp_vm_set_group(fx.dp, fx.vm[0], &g, true) == 0);
		sched_yield();
	}
	dpfx_stop_traffic(&fx);
	dvmq_dp_counters(fx.dp, &after);
	CHECK_MSG(done == 10000, "only %u bucket moves in the time allowed", done);
	/* every move but the last ones was crossed by frames, each a barrier in the new queue */
	CHECK_MSG(after.rebinds - before.rebinds >= 9000, "%llu handoffs for %u moves",
		  (unsigned long long)(after.rebinds - before.rebinds), done);
	char why[200];
	CHECK_MSG(g_whole(&fx, why, sizeof(why)), "%s", why);
	dpfx_fini(&fx);
}

SLOW_TEST(dp_group_grows_1_to_4_and_back_under_traffic_losing_nothing)
{
	struct dpfx fx;
	CHECK(g_setup(&fx) == 0);
	uint64_t until = g_now() + 60 * G_SEC;
	/* 1 -> 2 -> 3 -> 4 -> 3 -> 2 -> 1 queues, the buckets dealt round-robin, twice; the last
	 * step each time with hashing off (dvmq_dp_vm_set_queue): the frames of every queue the
	 * buckets were on gathered behind barriers */
	static const uint32_t sizes[] = { 1, 2, 3, 4, 3, 2, 1 };
	for (int cycle = 0; cycle < 2; cycle++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			struct dvmq_queue_group g = { .n_queues = sizes[s] };
			for (uint32_t k = 0; k < sizes[s]; k++)
				g.queues[k] = 1 + k;
			for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
				g.indirection[b] = (uint8_t)(b % sizes[s]);
			if (s + 1 == sizeof(sizes) / sizeof(sizes[0]))
				CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[0], 1) == 0);
			else
				CHECK(dvmq_dp_vm_set_group(fx.dp, fx.vm[0], &g, true) == 0);
			/* let every queue of the group serve a while */
			for (uint32_t q = 1; q <= sizes[s]; q++) {
				struct dvmq_dp_queue_stats st0, st;
				dvmq_dp_queue_stats(fx.dp, q, &st0);
				do {
					sched_yield();
					dvmq_dp_queue_stats(fx.dp, q, &st);
				} while (st.packets < st0.packets + 1000 && g_now() < until);
				CHECK_MSG(st.packets >= st0.packets + 1000, "queue %u of a group of %u serves nothing", q,
					  sizes[s]);
			}
		}
	}
	dpfx_stop_traffic(&fx);
	char why[200];
	CHECK_MSG(g_whole(&fx, why, sizeof(why)), "%s", why);
	dpfx_fini(&fx);
}

/* A port of 4 tx queues that checks each frame came through the tx queue of its bucket's queue
 * in the group (recomputing the bucket from the frame). */
struct mq_port {
	struct dvmq_port port;
	struct dvmq_toeplitz rss;
	struct dvmq_queue_group g;
	_Atomic uint64_t frames, wrong, by_txq[4];
};

static unsigned mq_tx_q(struct dvmq_port *p, uint32_t txq, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
			unsigned n, int flooded)
{
	(void)off, (void)flooded;
	struct mq_port *m = (struct mq_port *)p;
	for (unsigned i = 0; i < n; i++) {
		struct dvmq_frame f;
		if (dvmq_frame_parse(pkts[i].data, pkts[i].len, 1500, &f) != DVMQ_FRAME_OK)
			continue;
		uint32_t b = dvmq_rss_hash(&m->rss, pkts[i].data, &f) & DVMQ_BUCKET_MASK;
		if (m->g.indirection[b] != txq)
			atomic_fetch_add(&m->wrong, 1);
		atomic_fetch_add(&m->by_txq[txq % 4], 1);
	}
	atomic_fetch_add(&m->frames, n);
	return n;
}

static unsigned mq_tx(struct dvmq_port *p, const struct dvmq_pkt *pkts, unsigned n, int flooded)
{
	return mq_tx_q(p, UINT32_MAX, pkts, NULL, n, flooded);
}

static void mq_destroy(struct dvmq_port *p)
{
	free(p);
}

static const struct dvmq_port_ops mq_ops = { .kind = "mq", .tx_burst = mq_tx, .tx_burst_q = mq_tx_q,
					     .destroy = mq_destroy };

SLOW_TEST(dp_group_queue_i_leaves_through_tx_queue_i)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 2, 5, true, 60 * G_SEC) == 0);
	struct mq_port *m = calloc(1, sizeof(*m));
	CHECK(m);
	m->port.ops = &mq_ops;
	dvmq_toeplitz_init(&m->rss, dvmq_rss_default_key);
	m->g = (struct dvmq_queue_group){ .n_queues = 4, .queues = { 3, 1, 4, 2 } };
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		m->g.indirection[b] = (uint8_t)((b * 7) % 4);
	uint8_t mac[6];
	fx_mac(mac, 0);
	uint32_t id;
	CHECK(dvmq_dp_vm_add(fx.dp, mac, 0, 0.0, &m->port, &id) == 0);
	CHECK(dvmq_dp_vm_set_group(fx.dp, id, &m->g, true) == 0);
	CHECK(dpfx_start_traffic(&fx, 1, G_FLOWS, 1e9) == 0);
	uint64_t until = g_now() + 30 * G_SEC;
	while (atomic_load(&m->frames) < 50000 && g_now() < until)
		sched_yield();
	dpfx_stop_traffic(&fx);
	CHECK(dvmq_dp_drain(fx.dp, 10 * G_SEC) == 0);
	CHECK(atomic_load(&m->frames) >= 50000);
	CHECK_MSG(atomic_load(&m->wrong) == 0, "%llu frames through another tx queue",
		  (unsigned long long)atomic_load(&m->wrong));
	for (uint32_t i = 0; i < 4; i++)
		CHECK_MSG(atomic_load(&m->by_txq[i]) > 0, "tx queue %u got nothing", i);
	CHECK(dvmq_dp_vm_remove(fx.dp, id) == 0);
	dpfx_fini(&fx);
	mq_destroy(&m->port);
}

TEST(dp_group_bad_groups_are_refused)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 1, 5, true, 60 * G_SEC) == 0);
	CHECK(dpfx_vm(&fx, 0, 0, 0, 1) == 0);
	struct dvmq_queue_group g = { .n_queues = 2, .queues = { 1, 2 } };
	CHECK(dvmq_dp_vm_set_group(fx.dp, fx.vm[0], &g, false) == 0);
	g.indirection[5] = 2; /* not in the group */
	CHECK(dvmq_dp_vm_set_group(fx.dp, fx.vm[0], &g, false) == -EINVAL);
	g.indirection[5] = 1;
	g.queues[1] = 5; /* no such queue */
	CHECK(dvmq_dp_vm_set_group(fx.dp, fx.vm[0], &g, false) == -EINVAL);
	g.queues[1] = 2;
	g.n_queues = 0;
	CHECK(dvmq_dp_vm_set_group(fx.dp, fx.vm[0], &g, false) == -EINVAL);
	g.n_queues = DVMQ_MAX_GROUP_QUEUES + 1;
	CHECK(dvmq_dp_vm_set_group(fx.dp, fx.vm[0], &g, false) == -EINVAL);
	g.n_queues = 2;
	CHECK(dvmq_dp_vm_set_group(fx.dp, fx.vm[0] + 1, &g, false) == -ENOENT);
	uint64_t pk[DVMQ_INDIRECTION_ENTRIES], by[DVMQ_INDIRECTION_ENTRIES];
	CHECK(dvmq_dp_vm_buckets(fx.dp, fx.vm[0] + 1, pk, by) == -ENOENT);
	dpfx_fini(&fx);
}

/* Waits until queue q served `more` packets beyond what it had; false at the deadline. */
static bool g_served(struct dpfx *fx, uint32_t q, uint64_t more, uint64_t until)
{
	struct dvmq_dp_queue_stats st0, st;
	dvmq_dp_queue_stats(fx->dp, q, &st0);
	do {
		sched_yield();
		dvmq_dp_queue_stats(fx->dp, q, &st);
	} while (st.packets < st0.packets + more && g_now() < until);
	return st.packets >= st0.packets + more;
}

SLOW_TEST(dp_group_gathered_back_on_one_queue_keeps_every_flow_in_order)
{
	/* frames cost 1 us: queues 2..4 hold backlogs when the group comes back to the empty queue
	 * 1 with hashing off, so queue 1 would overtake their frames but for its barriers */
	struct dpfx fx;
	CHECK(g_setup(&fx) == 0);
	CHECK(dvmq_dp_vm_set_cost(fx.dp, fx.vm[0], 1000.0) == 0);
	struct dvmq_queue_group g = { .n_queues = 3, .queues = { 2, 3, 4 } };
	for (uint32_t b = 0; b < DVMQ_INDIRECTION_ENTRIES; b++)
		g.indirection[b] = (uint8_t)(b % 3);
	uint64_t until = g_now() + 60 * G_SEC;
	int cycles = 0;
	for (; cycles < 30 && g_now() < until; cycles++) {
		CHECK(dvmq_dp_vm_set_group(fx.dp, fx.vm[0], &g, true) == 0);
		CHECK(g_served(&fx, 4, 200, until) && g_served(&fx, 2, 200, until));
		CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[0], 1) == 0);
		CHECK(g_served(&fx, 1, 500, until));
	}
	dpfx_stop_traffic(&fx);
	CHECK_MSG(cycles == 30, "only %d cycles in the time allowed", cycles);
	char why[200];
	CHECK_MSG(g_whole(&fx, why, sizeof(why)), "%s", why);
	dpfx_fini(&fx);
}
