/* Kernel mode's queue groups (VMMQ) driven by BPF_PROG_TEST_RUN (root; skipped with the reason
 * otherwise), in a private network namespace, nothing attached to any device: the XDP program's
 * Toeplitz hash frame by frame against the userspace one (dvmq/toeplitz.h) and Microsoft's
 * published vectors, the bucket's queue slot and processor, the tc counter finding the same
 * bucket, the samples folding buckets into their queues, and a bucket move ordered like a queue
 * move (it waits for its own frames only). The cpumap program runs where the test pins itself, so
 * "processor X processed it" is the test's to arrange (as in test_kdp.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "port_fixture.h"

#ifdef DVMQ_HAVE_KDP
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "../../bpf/dvmq_kern.h"
#include "dvmq/frame.h"
#include "dvmq/kdp.h"
#include "dvmq/toeplitz.h"

#define NQ 4u                      /* queues 0..3 */
#define G 1u                       /* the group the tests use (of 2: the slot offset matters) */
#define SLOT(b) (NQ + G * DVMQ_KDP_BUCKETS + (b))

static const uint8_t VM1[6] = { 0x02, 0, 0, 0, 0x15, 0x01 };
static const uint8_t SRC[6] = { 0x02, 0, 0, 0, 0x15, 0x99 };

struct grig {
	struct dvmq_kdp *k;
	int cpus[2];
	uint32_t n_cpus;
	uint32_t table[DVMQ_KDP_BUCKETS];
	struct dvmq_toeplitz rss;
};

/* kdp with nothing attached, 2 groups; queue 1 on the first processor, queue 2 on the second;
 * group G: even buckets on queue 1, odd on queue 2; VM1 (untagged and VLAN 5) hashed through G.
 * NULL, or why the test cannot run. */
static const char *grig_open(struct grig *r)
{
	static char why[400];
	const char *w = pf_private_net();
	if (w)
		return w;
	memset(r, 0, sizeof(*r));
	r->n_cpus = sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
	r->cpus[0] = 0;
	r->cpus[1] = 1;
	/* no_local: each frame's verdict is the cpumap's, whatever CPU the test runs on (the local
	 * path has its test in test_kdp.c) */
	struct dvmq_kdp_config cfg = { .cpus = r->cpus, .n_cpus = r->n_cpus, .n_queues = NQ, .max_groups = 2,
				       .move_margin_ns = 1000000, .no_local = true };
	char err[300];
	int rc = dvmq_kdp_create(&cfg, &r->k, err, sizeof(err));
	if (rc) {
		snprintf(why, sizeof(why), "kernel mode cannot load here: %s", err);
		return why;
	}
	dvmq_toeplitz_init(&r->rss, dvmq_rss_default_key);
	if (dvmq_kdp_queue_move(r->k, 2, r->cpus[r->n_cpus - 1]) != 0 || dvmq_kdp_moves_wait(r->k) != 0)
		return "queue_move failed";
	for (uint32_t b = 0; b < DVMQ_KDP_BUCKETS; b++)
		r->table[b] = b % 2 ? 2 : 1;
	if (dvmq_kdp_group_set(r->k, G, r->table) != 0 || dvmq_kdp_moves_wait(r->k) != 0)
		return "group_set failed";
	for (uint16_t vlan = 0; vlan <= 5; vlan += 5) {
		struct dvmq_kdp_filter f = { .vlan = vlan, .hashed = true, .group = G };
		memcpy(f.mac, VM1, 6);
		if (dvmq_kdp_filter_set(r->k, &f) != 0)
			return "filter_set failed";
	}
	return NULL;
}

static int pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Runs the XDP classifier on frame[0..len); the queue slot its prefix names (-1: not redirected). */
static int64_t xdp_slot(struct grig *r, const uint8_t *frame, uint32_t len)
{
	uint8_t out[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);
	if (bpf_prog_test_run_opts(dvmq_kdp_fd(r->k, DVMQ_KDP_FD_XDP_PROG), &o) != 0 || o.retval != XDP_REDIRECT)
		return -1;
	struct dvmq_kern_prefix p;
	memcpy(&p, out, sizeof(p));
	return p.magic == DVMQ_KERN_PREFIX_MAGIC ? (int64_t)p.queue : -1;
}

/* The bucket userspace computes for the frame (the parser and dvmq_rss_hash, as the userspace
 * data plane does). */
static uint32_t user_bucket(struct grig *r, const uint8_t *frame, uint32_t len)
{
	struct dvmq_frame f;
	if (dvmq_frame_parse(frame, len, 9000, &f) != DVMQ_FRAME_OK)
		return 999;
	return dvmq_rss_hash(&r->rss, frame, &f) & (DVMQ_KDP_BUCKETS - 1u);
}

struct fspec {
	bool v6;
	uint8_t proto;           /* 6, 17, or 1 (ICMP) */
	uint16_t sport, dport, vlan;
	int frag;                /* 0: none; 1: first fragment (ports); 2: a later one (none) */
	const char *src, *dst;   /* addresses */
};

/* A frame to VM1 per s (checksums left 0: nothing on this path checks them). Returns its length. */
static uint32_t mkframe(uint8_t *b, const struct fspec *s)
{
	memset(b, 0, 256);
	memcpy(b, VM1, 6);
	memcpy(b + 6, SRC, 6);
	uint32_t off = 12;
	if (s->vlan) {
		b[12] = 0x81, b[13] = 0x00, b[14] = (uint8_t)(s->vlan >> 8), b[15] = (uint8_t)s->vlan;
		off = 16;
	}
	b[off] = s->v6 ? 0x86 : 0x08, b[off + 1] = s->v6 ? 0xdd : 0x00;
	uint8_t *ip = b + off + 2;
	uint32_t l4len = s->frag == 2 ? 0 : s->proto == 6 ? 20 : 8, payload = 16;
	uint8_t *l4;
	if (!s->v6) {
		uint32_t total = 20 + l4len + payload;
		ip[0] = 0x45, ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total, ip[8] = 64, ip[9] = s->proto;
		ip[6] = s->frag == 1 ? 0x20 : s->frag == 2 ? 0x00 : 0, ip[7] = s->frag == 2 ? 0xb9 : 0;
		inet_pton(AF_INET, s->src, ip + 12);
		inet_pton(AF_INET, s->dst, ip + 16);
		l4 = ip + 20;
	} else {
		uint32_t fh = s->frag ? 8 : 0, plen = fh + l4len + payload;
		ip[0] = 0x60, ip[4] = (uint8_t)(plen >> 8), ip[5] = (uint8_t)plen, ip[6] = s->frag ? 44 : s->proto, ip[7] = 64;
		inet_pton(AF_INET6, s->src, ip + 8);
		inet_pton(AF_INET6, s->dst, ip + 24);
		l4 = ip + 40;
		if (s->frag) {
			l4[0] = s->proto;
			l4[2] = s->frag == 1 ? 0x00 : 0x03, l4[3] = s->frag == 1 ? 0x01 : 0x20; /* M, or offset 100 */
			l4[7] = 0x42;
			l4 += 8;
		}
	}
	if (l4len) {
		l4[0] = (uint8_t)(s->sport >> 8), l4[1] = (uint8_t)s->sport;
		l4[2] = (uint8_t)(s->dport >> 8), l4[3] = (uint8_t)s->dport;
		if (s->proto == 6)
			l4[12] = 0x50;
		else if (s->proto == 17)
			l4[5] = (uint8_t)(8 + payload);
	}
	return (uint32_t)(l4 + l4len + payload - b);
}

/* Plays processor cpu's cpumap program having processed n frames of slot q (BPF_PROG_TEST_RUN
 * cannot run a cpumap program). */
static int served(struct grig *r, uint32_t q, int cpu, uint64_t n)
{
	int ncpu = libbpf_num_possible_cpus(), fd = dvmq_kdp_fd(r->k, DVMQ_KDP_FD_QSTATS);
	struct dvmq_kern_qstat v[64];
	if (ncpu <= 0 || ncpu > 64 || bpf_map_lookup_elem(fd, &q, v) != 0)
		return -1;
	v[cpu].cpu_packets += n;
	return bpf_map_update_elem(fd, &q, v, 0);
}

static int64_t steer_cpu(struct grig *r, uint32_t q)
{
	struct dvmq_kern_queue s;
	int fd = dvmq_kdp_fd(r->k, DVMQ_KDP_FD_QUEUES);
	return bpf_map_lookup_elem(fd, &q, &s) == 0 ? (int64_t)DVMQ_KERN_STEER_CPU(s.steer) : -1;
}

/* A TCP frame whose bucket is b, from a search over source ports (or 0: none found). */
static uint32_t frame_in_bucket(struct grig *r, uint8_t *f, uint32_t b)
{
	for (uint32_t port = 1000; port < 60000; port++) {
		struct fspec s = { .proto = 6, .sport = (uint16_t)port, .dport = 80, .src = "10.1.0.1", .dst = "10.1.0.2" };
		uint32_t n = mkframe(f, &s);
		if (user_bucket(r, f, n) == b)
			return n;
	}
	return 0;
}

#endif

/* Every kind of frame lands in the slot of the bucket userspace computes for it (addresses and
 * ports; addresses only for other protocols and every fragment; bucket 0 for what is not IP),
 * Microsoft's vectors give their buckets, tags do not change a bucket, and the slot's processor
 * is that of the table's queue. The samples count the frames per bucket and in the queues that
 * hold the buckets. */
TEST(kdp_group_frames_take_their_buckets_queue)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct grig r;
	const char *why = grig_open(&r);
	if (why)
		SKIP("%s", why);
	CHECK(pin(r.cpus[0]) == 0);
	struct dvmq_kdp_sample *s = dvmq_kdp_sample_new(r.k);
	CHECK(s && dvmq_kdp_sample(r.k, s) == 0);
	uint64_t before_pk[DVMQ_KDP_BUCKETS], before_by[DVMQ_KDP_BUCKETS];
	CHECK(dvmq_kdp_group_buckets(r.k, G, before_pk, before_by) == 0);
	/* Microsoft's verification suite: with ports, and addresses only (every fragment) */
	static const struct {
		struct fspec s;
		uint32_t bucket;
	} vec[] = {
		{ { .proto = 6, .sport = 2794, .dport = 1766, .src = "66.9.149.187", .dst = "161.142.100.80" }, 0x51ccc178 & 127 },
		{ { .proto = 17, .sport = 2794, .dport = 1766, .frag = 1, .src = "66.9.149.187", .dst = "161.142.100.80" },
		  0x323e8fc2 & 127 },
		{ { .proto = 17, .frag = 2, .src = "66.9.149.187", .dst = "161.142.100.80" }, 0x323e8fc2 & 127 },
		{ { .proto = 1, .vlan = 5, .src = "66.9.149.187", .dst = "161.142.100.80" }, 0x323e8fc2 & 127 },
		{ { .proto = 6, .sport = 14230, .dport = 4739, .src = "199.92.111.2", .dst = "65.69.140.83" }, 0xc626b0ea & 127 },
		{ { .v6 = true, .proto = 6, .sport = 2794, .dport = 1766, .src = "3ffe:2501:200:1fff::7",
		    .dst = "3ffe:2501:200:3::1" }, 0x40207d3d & 127 },
		{ { .v6 = true, .proto = 17, .sport = 2794, .dport = 1766, .frag = 1, .src = "3ffe:2501:200:1fff::7",
		    .dst = "3ffe:2501:200:3::1" }, 0x2cc18cd5 & 127 },
		{ { .v6 = true, .proto = 17, .frag = 2, .vlan = 5, .src = "3ffe:2501:200:1fff::7", .dst = "3ffe:2501:200:3::1" },
		  0x2cc18cd5 & 127 },
		{ { .v6 = true, .proto = 6, .sport = 44251, .dport = 38024, .src = "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
		    .dst = "fe80::200:f8ff:fe21:67cf" }, 0x02d1feef & 127 },
	};
	uint64_t want[DVMQ_KDP_BUCKETS] = { 0 }, want_q[NQ] = { 0 };
	uint8_t f[256];
	uint32_t n_frames = 0;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		uint32_t n = mkframe(f, &vec[i].s);
		CHECK_MSG(user_bucket(&r, f, n) == vec[i].bucket, "vector %zu: userspace bucket %u, want %u", i,
			  user_bucket(&r, f, n), vec[i].bucket);
		int64_t slot = xdp_slot(&r, f, n);
		CHECK_MSG(slot == SLOT(vec[i].bucket), "vector %zu: slot %ld, want %u (bucket %u)", i, (long)slot,
			  SLOT(vec[i].bucket), vec[i].bucket);
		want[vec[i].bucket]++;
		want_q[r.table[vec[i].bucket]]++;
		n_frames++;
	}
	/* many flows of every kind, each where userspace puts it; all 128 buckets reached */
	uint64_t x = 0x9e3779b97f4a7c15ull;
	bool seen[DVMQ_KDP_BUCKETS] = { false };
	for (int i = 0; i < 3000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		char a[64], d[64];
		struct fspec sp = { .v6 = (x >> 20) % 3 == 0, .proto = (x >> 24) % 5 == 0 ? 1 : (x >> 24) % 2 ? 6 : 17,
				    .sport = (uint16_t)(x >> 32), .dport = (uint16_t)(x >> 48), .vlan = (x >> 8) % 4 == 0 ? 5 : 0,
				    .frag = (x >> 12) % 7 == 0 ? (int)((x >> 14) % 2) + 1 : 0 };
		if (sp.proto == 1)
			sp.frag = 0;
		if (sp.v6) {
			snprintf(a, sizeof(a), "fd00::%x:%x", (unsigned)(x >> 40) & 0xffff, (unsigned)(x >> 5) & 0xff);
			snprintf(d, sizeof(d), "fd00:1::%x", (unsigned)(x >> 52) & 0xfff);
		} else {
			snprintf(a, sizeof(a), "10.%u.%u.%u", (unsigned)(x >> 40) & 0xff, (unsigned)(x >> 30) & 0xff,
				 (unsigned)(x >> 5) & 0xff);
			snprintf(d, sizeof(d), "10.9.%u.%u", (unsigned)(x >> 52) & 0xff, (unsigned)(x >> 60));
		}
		sp.src = a, sp.dst = d;
		uint32_t n = mkframe(f, &sp);
		uint32_t b = user_bucket(&r, f, n);
		CHECK_MSG(b < DVMQ_KDP_BUCKETS, "frame %d: the parser refused it", i);
		int64_t slot = xdp_slot(&r, f, n);
		CHECK_MSG(slot == SLOT(b), "frame %d (%s, proto %u, frag %d, vlan %u): slot %ld, want %u", i,
			  sp.v6 ? "IPv6" : "IPv4", sp.proto, sp.frag, sp.vlan, (long)slot, SLOT(b));
		want[b]++;
		want_q[r.table[b]]++;
		seen[b] = true;
		n_frames++;
	}
	for (uint32_t b = 0; b < DVMQ_KDP_BUCKETS; b++)
		CHECK_MSG(seen[b], "bucket %u never reached in 3000 flows", b);
	/* not IP (ARP): bucket 0 */
	uint8_t arp[60] = { 0 };
	memcpy(arp, VM1, 6);
	memcpy(arp + 6, SRC, 6);
	arp[12] = 0x08, arp[13] = 0x06;
	CHECK(xdp_slot(&r, arp, sizeof(arp)) == SLOT(0));
	want[0]++;
	want_q[r.table[0]]++;
	n_frames++;
	/* each slot on its queue's processor */
	for (uint32_t b = 0; b < DVMQ_KDP_BUCKETS; b++)
		CHECK_MSG(dvmq_kdp_bucket_cpu(r.k, G, b) == r.cpus[r.table[b] == 1 ? 0 : r.n_cpus - 1] &&
				  steer_cpu(&r, SLOT(b)) == dvmq_kdp_bucket_cpu(r.k, G, b),
			  "bucket %u on processor %d", b, dvmq_kdp_bucket_cpu(r.k, G, b));
	struct dvmq_kdp_counters c;
	CHECK(dvmq_kdp_counters(r.k, &c) == 0);
	CHECK_MSG(c.redirected == n_frames && c.hashed == n_frames && c.default_queue == 0 && c.bad_queue == 0,
		  "redirected %lu hashed %lu of %u", (unsigned long)c.redirected, (unsigned long)c.hashed, n_frames);
	/* samples: per bucket, and each bucket's frames in its queue */
	CHECK(dvmq_kdp_sample(r.k, s) == 0);
	uint64_t pk[DVMQ_KDP_BUCKETS], by[DVMQ_KDP_BUCKETS];
	CHECK(dvmq_kdp_group_buckets(r.k, G, pk, by) == 0);
	for (uint32_t b = 0; b < DVMQ_KDP_BUCKETS; b++)
		CHECK_MSG(pk[b] - before_pk[b] == want[b] && (want[b] == 0 || by[b] > before_by[b]),
			  "bucket %u: %lu frames, want %lu", b, (unsigned long)(pk[b] - before_pk[b]), (unsigned long)want[b]);
	for (uint32_t q = 0; q < NQ; q++)
		CHECK_MSG(s->queues[q].rx_packets == want_q[q], "queue %u: %lu frames, want %lu", q,
			  (unsigned long)s->queues[q].rx_packets, (unsigned long)want_q[q]);
	dvmq_kdp_sample_free(s);
	dvmq_kdp_destroy(r.k);
#endif
}

/* A bucket that changes queue is an ordered move of that bucket alone: while frames of it sent to
 * the old processor are unprocessed there, its frames keep going there (userspace does not flip
 * it either); frames of another bucket of the same queue, unprocessed, do not hold it; once the
 * old processor processed the bucket's frames, the next frame flips it. Counted as a bucket move,
 * not a queue move. */
TEST(kdp_group_bucket_move_waits_for_its_own_frames)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct grig r;
	const char *why = grig_open(&r);
	if (why)
		SKIP("%s", why);
	if (r.n_cpus < 2) {
		dvmq_kdp_destroy(r.k);
		SKIP("needs two processors");
	}
	CHECK(pin(r.cpus[0]) == 0);
	uint8_t fa[256], fb[256];
	uint32_t na = frame_in_bucket(&r, fa, 10), nb = frame_in_bucket(&r, fb, 12); /* both on queue 1 */
	CHECK(na && nb);
	for (int i = 0; i < 3; i++)
		CHECK(xdp_slot(&r, fa, na) == SLOT(10) && xdp_slot(&r, fb, nb) == SLOT(12));
	CHECK(steer_cpu(&r, SLOT(10)) == r.cpus[0]);
	/* bucket 10 to queue 2 (the second processor) */
	r.table[10] = 2;
	CHECK(dvmq_kdp_group_set(r.k, G, r.table) == 0);
	CHECK(xdp_slot(&r, fa, na) == SLOT(10));
	CHECK_MSG(steer_cpu(&r, SLOT(10)) == r.cpus[0], "flipped with 4 of its frames in the old processor's ring");
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 1);
	/* 3 of its 4 processed: still waits */
	CHECK(served(&r, SLOT(10), r.cpus[0], 3) == 0);
	CHECK(xdp_slot(&r, fa, na) == SLOT(10));
	CHECK(steer_cpu(&r, SLOT(10)) == r.cpus[0]);
	/* all 5 processed; bucket 12's 3 frames are not: the next frame of bucket 10 flips it */
	CHECK(served(&r, SLOT(10), r.cpus[0], 2) == 0);
	CHECK(xdp_slot(&r, fa, na) == SLOT(10));
	CHECK_MSG(steer_cpu(&r, SLOT(10)) == r.cpus[1], "drained, and still on the old processor");
	CHECK(steer_cpu(&r, SLOT(12)) == r.cpus[0]);
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 0);
	struct dvmq_kdp_counters c;
	CHECK(dvmq_kdp_counters(r.k, &c) == 0);
	/* grig_open's placement: queue 2 moved once, the group's 64 odd buckets with it */
	CHECK_MSG(c.bucket_moves == 64 + 1 && c.bucket_moves_ordered == 64 + 1 && c.bucket_moves_forced == 0 &&
			  c.moves == 1 && c.moves_ordered_xdp >= 1,
		  "bucket moves %lu ordered %lu forced %lu, queue moves %lu, by xdp %lu", (unsigned long)c.bucket_moves,
		  (unsigned long)c.bucket_moves_ordered, (unsigned long)c.bucket_moves_forced, (unsigned long)c.moves,
		  (unsigned long)c.moves_ordered_xdp);
	dvmq_kdp_destroy(r.k);
#endif
}

/* A queue move carries the buckets the queue holds (each ordered on its own; idle ones flip at
 * once), not the others; a group out of use no longer follows its queues; a bucket that does not
 * drain is forced at the move's bound and counted forced. */
TEST(kdp_group_queue_move_carries_its_buckets)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct grig r;
	const char *why = grig_open(&r);
	if (why)
		SKIP("%s", why);
	if (r.n_cpus < 2) {
		dvmq_kdp_destroy(r.k);
		SKIP("needs two processors");
	}
	CHECK(pin(r.cpus[0]) == 0);
	uint8_t fa[256];
	uint32_t na = frame_in_bucket(&r, fa, 20); /* queue 1 */
	CHECK(na && xdp_slot(&r, fa, na) == SLOT(20));
	/* queue 1 to the second processor: its 63 idle buckets flip by userspace's poll, bucket 20
	 * (one frame unprocessed) waits, and is forced at the bound */
	CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[1]) == 0);
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 1);
	for (uint32_t b = 0; b < DVMQ_KDP_BUCKETS; b++)
		CHECK_MSG(dvmq_kdp_bucket_cpu(r.k, G, b) == (b == 20 ? r.cpus[0] : r.cpus[1]), "bucket %u on %d", b,
			  dvmq_kdp_bucket_cpu(r.k, G, b));
	CHECK(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[1]);
	CHECK(dvmq_kdp_moves_wait(r.k) == 0);
	CHECK(dvmq_kdp_bucket_cpu(r.k, G, 20) == r.cpus[1]);
	struct dvmq_kdp_counters c;
	CHECK(dvmq_kdp_counters(r.k, &c) == 0);
	CHECK_MSG(c.bucket_moves_forced == 1 && c.moves_forced == 0, "forced: %lu buckets, %lu queues",
		  (unsigned long)c.bucket_moves_forced, (unsigned long)c.moves_forced);
	/* out of use: queue 2's move leaves the group's buckets where they are */
	dvmq_kdp_group_clear(r.k, G);
	CHECK(dvmq_kdp_queue_move(r.k, 2, r.cpus[0]) == 0 && dvmq_kdp_moves_wait(r.k) == 0);
	CHECK(dvmq_kdp_bucket_cpu(r.k, G, 1) == r.cpus[1]);
	/* in use again: the table puts every bucket where its queue is */
	CHECK(dvmq_kdp_group_set(r.k, G, r.table) == 0 && dvmq_kdp_moves_wait(r.k) == 0);
	CHECK(dvmq_kdp_bucket_cpu(r.k, G, 1) == r.cpus[0] && dvmq_kdp_bucket_cpu(r.k, G, 2) == r.cpus[1]);
	dvmq_kdp_destroy(r.k);
#endif
}

/* The tc ingress counter (after GRO) finds a frame's bucket as the XDP program did: what an
 * ordered bucket move waits for with tcx. */
TEST(kdp_group_tc_counter_finds_the_bucket)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct grig r;
	const char *why = grig_open(&r);
	if (why)
		SKIP("%s", why);
	CHECK(pin(r.cpus[0]) == 0);
	int tc = dvmq_kdp_fd(r.k, DVMQ_KDP_FD_TC_PROG), qfd = dvmq_kdp_fd(r.k, DVMQ_KDP_FD_QSTATS);
	CHECK(tc >= 0);
	const struct fspec sp[3] = {
		{ .proto = 6, .sport = 2794, .dport = 1766, .src = "66.9.149.187", .dst = "161.142.100.80" },
		{ .proto = 17, .sport = 5000, .dport = 53, .vlan = 5, .src = "10.0.0.1", .dst = "10.0.0.2" },
		{ .v6 = true, .proto = 6, .sport = 2794, .dport = 1766, .src = "3ffe:2501:200:1fff::7", .dst = "3ffe:2501:200:3::1" },
	};
	for (int i = 0; i < 3; i++) {
		uint8_t f[256];
		uint32_t n = mkframe(f, &sp[i]), b = user_bucket(&r, f, n), q = SLOT(b);
		struct dvmq_kern_qstat v[64];
		CHECK(libbpf_num_possible_cpus() <= 64 && bpf_map_lookup_elem(qfd, &q, v) == 0);
		uint64_t before = v[r.cpus[0]].delivered;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = n, .repeat = 1);
		CHECK(bpf_prog_test_run_opts(tc, &o) == 0);
		CHECK(bpf_map_lookup_elem(qfd, &q, v) == 0);
		CHECK_MSG(v[r.cpus[0]].delivered == before + 1, "frame %d: bucket %u's slot counted %lu", i, b,
			  (unsigned long)(v[r.cpus[0]].delivered - before));
	}
	dvmq_kdp_destroy(r.k);
#endif
}

/* Bad inputs: a group beyond max_groups, a table naming a queue that does not exist, a hashed
 * filter to a group beyond max_groups, too many groups at create. */
TEST(kdp_group_bad_inputs)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct grig r;
	const char *why = grig_open(&r);
	if (why)
		SKIP("%s", why);
	CHECK(dvmq_kdp_group_set(r.k, 2, r.table) == -EINVAL);
	r.table[7] = NQ;
	CHECK(dvmq_kdp_group_set(r.k, G, r.table) == -EINVAL);
	struct dvmq_kdp_filter f = { .hashed = true, .group = 2 };
	memcpy(f.mac, SRC, 6);
	CHECK(dvmq_kdp_filter_set(r.k, &f) == -EINVAL);
	uint64_t pk[DVMQ_KDP_BUCKETS], by[DVMQ_KDP_BUCKETS];
	CHECK(dvmq_kdp_group_buckets(r.k, 2, pk, by) == -EINVAL && dvmq_kdp_bucket_cpu(r.k, 0, 128) == -EINVAL);
	dvmq_kdp_destroy(r.k);
	struct dvmq_kdp_config cfg = { .cpus = r.cpus, .n_cpus = 1, .n_queues = NQ, .max_groups = DVMQ_KDP_MAX_GROUPS + 1 };
	char err[300];
	struct dvmq_kdp *k;
	CHECK(dvmq_kdp_create(&cfg, &k, err, sizeof(err)) == -EINVAL && strstr(err, "groups"));
#endif
}
