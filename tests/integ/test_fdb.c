/* MAC learning on the default path (src/dp/fdb.c): learned uplink MACs filter frames addressed
 * to them, per VLAN, until they age; aging reads the data plane's clock hook, so no test here
 * depends on how long anything takes. The table deletes what aged and bounds the work of every
 * lookup, whatever went through it before. */
#include "../harness.h"
#include "dp_fixture.h"
#include "../../src/dp/dp_internal.h"

#define SEC 1000000000ull

static void settle(struct dpfx *fx)
{
	dvmq_dp_drain(fx->dp, 10 * SEC);
}

static struct dvmq_dp_counters counters(const struct dpfx *fx)
{
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx->dp, &c);
	return c;
}

TEST(dp_learned_uplink_macs_are_filtered_until_they_age)
{
	struct dpfx fx;
	struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 2, .queue_depth = 64, .mtu = 1500, .max_vms = 4,
				      .fdb_size = 64, .fdb_age_ns = 10 * SEC, .lossless = true };
	CHECK(dpfx_init_cfg(&fx, cfg, true) == 0);
	CHECK(dpfx_vm(&fx, 1, 0, 0, 1) == 0);
	uint8_t f[64], x[6], y[6], old[6];
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	fx_mac(x, 0x50), fx_mac(y, 0x51);
	for (uint32_t i = 0; i < 3; i++) { /* older than x: aging deletes them first */
		fx_mac(old, 0x60 + i);
		fx_send(&fx, f, fx_frame(f, bcast, old, 0));
	}
	fx_send(&fx, f, fx_frame(f, y, x, 0)); /* y unknown: flooded; x learned on the uplink */
	settle(&fx);
	fx_send(&fx, f, fx_frame(f, x, y, 0)); /* x known on the uplink: filtered; y learned */
	settle(&fx);
	struct dvmq_dp_counters c = counters(&fx);
	CHECK_MSG(c.learned == 5 && c.flooded == 4 && c.filtered == 1, "learned %llu flooded %llu filtered %llu",
		  (unsigned long long)c.learned, (unsigned long long)c.flooded, (unsigned long long)c.filtered);
	atomic_fetch_add(&fx.clock_ns, 10 * SEC - 1); /* just under the age: still known */
	fx_send(&fx, f, fx_frame(f, x, y, 0));
	settle(&fx);
	c = counters(&fx);
	CHECK(c.filtered == 2 && c.flooded == 4);
	/* x was last seen 20 s ago: aged, unknown again (still in the table: learning y deleted two
	 * of the three older MACs only, so the lookup itself must see the age) */
	atomic_fetch_add(&fx.clock_ns, 10 * SEC);
	fx_send(&fx, f, fx_frame(f, x, y, 0));
	settle(&fx);
	c = counters(&fx);
	CHECK_MSG(c.filtered == 2 && c.flooded == 5 && dpfx_sink(&fx, 1).tx_flooded == 5,
		  "filtered %llu flooded %llu", (unsigned long long)c.filtered, (unsigned long long)c.flooded);
	dpfx_fini(&fx);
}

TEST(dp_learning_is_per_vlan)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 1, 2, true, 60 * SEC) == 0);
	CHECK(dpfx_vm(&fx, 1, 3, 0, 1) == 0);
	uint8_t f[64], x[6], y[6];
	fx_mac(x, 0x50), fx_mac(y, 0x51);
	fx_send(&fx, f, fx_frame(f, y, x, 2)); /* x learned on VLAN 2 */
	fx_send(&fx, f, fx_frame(f, x, y, 3)); /* x unknown on VLAN 3: flooded to VM 1 */
	settle(&fx);
	struct dvmq_dp_counters c = counters(&fx);
	CHECK(c.filtered == 0 && dpfx_sink(&fx, 1).tx_flooded == 1);
	dpfx_fini(&fx);
}

/* A uplink MAC (02:01:xx:xx:xx:xx) numbered i. */
static void churn_mac(uint8_t mac[6], uint32_t i)
{
	const uint8_t m[6] = { 0x02, 0x01, (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
	memcpy(mac, m, 6);
}

/* Sends frames from MACs [first, first + n) to `dst`, in bursts, and waits until all are served. */
static void send_from(struct dpfx *fx, uint32_t first, uint32_t n, const uint8_t dst[6])
{
	static uint8_t buf[DVMQ_BURST][64];
	struct dvmq_pkt p[DVMQ_BURST];
	for (uint32_t i = 0; i < n;) {
		unsigned k = 0;
		for (; k < DVMQ_BURST && i < n; k++, i++) {
			uint8_t src[6];
			churn_mac(src, first + i);
			p[k] = (struct dvmq_pkt){ buf[k], fx_frame(buf[k], dst, src, 0), 0 };
		}
		dvmq_dp_classify(fx->dp, p, k);
	}
	settle(fx);
}

/* Issue 8 §2: 100,000 MACs churn through a 4,096-entry table, 500 new ones per second of the
 * test clock, each alive 2.5 s: aged entries are deleted (occupancy follows the MACs alive, so
 * no new MAC is ever refused), and no lookup examines more than two buckets, even for unknown
 * unicast after all that churn. With entries never deleted (the old table) the table fills after
 * 4,096 MACs and lookups walk it whole. */
TEST(dp_fdb_100000_macs_churn_through_4096_entries_with_bounded_work)
{
	struct dpfx fx;
	struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 1, .queue_depth = 1024, .mtu = 1500, .max_vms = 4,
				      .fdb_size = 4096, .fdb_age_ns = 2500000000ull, .lossless = true };
	CHECK(dpfx_init_cfg(&fx, cfg, true) == 0);
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint64_t most = 0;
	for (uint32_t sec = 0; sec < 200; sec++) {
		send_from(&fx, sec * 500, 500, bcast);
		struct dvmq_dp_counters c = counters(&fx);
		if (c.fdb_entries > most)
			most = c.fdb_entries;
		atomic_fetch_add(&fx.clock_ns, SEC);
	}
	struct dvmq_dp_counters c = counters(&fx);
	CHECK_MSG(c.learned == 100000 && c.fdb_full == 0, "learned %llu, refused %llu", (unsigned long long)c.learned,
		  (unsigned long long)c.fdb_full);
	/* alive at once: the last three seconds' MACs (a few aged ones wait for the next call) */
	CHECK_MSG(most <= 1500 + 4, "the table held %llu MACs at once", (unsigned long long)most);
	/* unknown unicast after the churn: looked up, flooded, bounded */
	uint8_t unknown[6];
	churn_mac(unknown, 0xfffffff0u);
	send_from(&fx, 200 * 500, 64, unknown);
	c = counters(&fx);
	CHECK(c.flooded == 100000 + 64 && c.filtered == 0);
	CHECK_MSG(c.fdb_probes_max <= 16, "a lookup examined %llu ways", (unsigned long long)c.fdb_probes_max);
	dpfx_fini(&fx);
}

/* A full table of live MACs refuses new ones (counted), keeps the ones it has, and learns again
 * as soon as they age. */
TEST(dp_fdb_full_refuses_then_learns_again_after_aging)
{
	struct dpfx fx;
	struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 1, .queue_depth = 1024, .mtu = 1500, .max_vms = 4,
				      .fdb_size = 4096, .fdb_age_ns = 10 * SEC, .lossless = true };
	CHECK(dpfx_init_cfg(&fx, cfg, true) == 0);
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	send_from(&fx, 0, 5000, bcast);
	struct dvmq_dp_counters c = counters(&fx);
	CHECK_MSG(c.learned == 4096 && c.fdb_full == 5000 - 4096 && c.fdb_entries == 4096,
		  "learned %llu refused %llu held %llu", (unsigned long long)c.learned, (unsigned long long)c.fdb_full,
		  (unsigned long long)c.fdb_entries);
	uint8_t known[6];
	churn_mac(known, 7);
	send_from(&fx, 9000, 1, known); /* MAC 7 is still known: filtered (and MAC 9000 refused) */
	c = counters(&fx);
	CHECK(c.filtered == 1 && c.fdb_full == 5000 - 4096 + 1);
	atomic_fetch_add(&fx.clock_ns, 10 * SEC);
	send_from(&fx, 10000, 3000, bcast); /* everything aged: 3,000 new MACs fit */
	c = counters(&fx);
	CHECK_MSG(c.learned == 4096 + 3000 && c.fdb_entries == 3000, "learned %llu held %llu",
		  (unsigned long long)c.learned, (unsigned long long)c.fdb_entries);
	CHECK(c.fdb_probes_max <= 16);
	dpfx_fini(&fx);
}

TEST(dp_fdb_expires_at_most_two_aged_entries_per_call)
{
	/* ten MACs learned at 0 s, all aged at 20 s: each learning call deletes two of them from the
	 * head of the list, no more, whatever waits behind (the work of one call stays bounded) */
	struct dp_fdb f;
	CHECK(fdb_init(&f, 64, 10 * SEC) == 0);
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0 };
	for (uint8_t i = 0; i < 10; i++) {
		mac[5] = i;
		CHECK(fdb_learn(&f, mac, 0, 0) == 1);
	}
	CHECK(f.n == 10 && f.expired == 0);
	uint64_t before = f.expired;
	for (uint8_t k = 0; k < 3; k++) {
		mac[5] = (uint8_t)(100 + k);
		int rc = fdb_learn(&f, mac, 0, 20 * SEC);
		CHECK_MSG(rc == 1 && f.expired - before == 2u * (k + 1u), "call %u: %llu expired in all", k + 1,
			  (unsigned long long)(f.expired - before));
	}
	CHECK(f.n == 10 - 6 + 3);
	fdb_fini(&f);
}
