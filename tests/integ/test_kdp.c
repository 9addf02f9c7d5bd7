/* Kernel mode's BPF programs driven by BPF_PROG_TEST_RUN (root; skipped with the reason
 * otherwise), in a private network namespace, nothing attached to any device: the classifier's
 * verdicts and counters frame by frame, the prefix it hands the serving side, the serving side's
 * per-processor counts, and the ordered move's rule (the XDP program flips a queue only once the
 * old processor processed every frame sent to it). The cpumap program runs where the test pins
 * itself, so "processor X processed it" is the test's to arrange. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "port_fixture.h"

#ifdef DVMQ_HAVE_KDP
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "../../bpf/dvmq_kern.h"
#include "../../src/kdp/kdp_internal.h" /* stat_path: a /proc/stat of the test's own */
#include "dvmq/kdp.h"

static const uint8_t VM1[6] = { 0x02, 0, 0, 0, 0x14, 0x01 };
static const uint8_t VM2[6] = { 0x02, 0, 0, 0, 0x14, 0x02 };
static const uint8_t SRC[6] = { 0x02, 0, 0, 0, 0x14, 0x99 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MCAST[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t LLDP[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };

struct krig {
	struct dvmq_kdp *k;
	int cpus[2];
	uint32_t n_cpus;
};

/* kdp with nothing attached; queue 1 = VM1 untagged, queue 2 = VM1 on VLAN 5, queue 3 = VM2 on
 * VLAN 7. local: a frame for the receiving CPU's own queues may stay there (the daemon's default);
 * off, every frame goes to the cpumap, whatever CPU the test runs on. NULL, or why the test cannot
 * run (SKIP). */
static const char *krig_open_local(struct krig *r, bool unordered, bool local)
{
	static char why[400];
	const char *w = pf_private_net();
	if (w)
		return w;
	memset(r, 0, sizeof(*r));
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	r->n_cpus = n >= 2 ? 2 : 1;
	r->cpus[0] = 0;
	r->cpus[1] = 1;
	struct dvmq_kdp_config cfg = { .cpus = r->cpus, .n_cpus = r->n_cpus, .n_queues = 4, .unordered = unordered,
				       .move_margin_ns = 1000000, .no_local = !local };
	char err[300];
	int rc = dvmq_kdp_create(&cfg, &r->k, err, sizeof(err));
	if (rc) {
		snprintf(why, sizeof(why), "kernel mode cannot load here: %s", err);
		return why;
	}
	const struct dvmq_kdp_filter f[3] = { { .queue = 1 }, { .vlan = 5, .queue = 2 }, { .vlan = 7, .queue = 3 } };
	for (int i = 0; i < 3; i++) {
		struct dvmq_kdp_filter x = f[i];
		memcpy(x.mac, i < 2 ? VM1 : VM2, 6);
		if (dvmq_kdp_filter_set(r->k, &x) != 0)
			return "filter_set failed";
	}
	return NULL;
}

static const char *krig_open(struct krig *r, bool unordered)
{
	return krig_open_local(r, unordered, false);
}

/* Runs the XDP classifier once on frame[0..len). Returns the XDP action; out (may be NULL) gets
 * what the program made of the frame, out_len its length. */
static int xdp_run(struct krig *r, int prog, const uint8_t *frame, uint32_t len, uint8_t *out, uint32_t *out_len)
{
	uint8_t buf[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .data_out = out ? out : buf,
		    .data_size_out = sizeof(buf), .repeat = 1);
	int fd = dvmq_kdp_fd(r->k, (enum dvmq_kdp_fd)prog);
	if (bpf_prog_test_run_opts(fd, &o) != 0)
		return -errno;
	if (out_len)
		*out_len = o.data_size_out;
	return (int)o.retval;
}

/* A frame with up to two tags (tpid 0 = none) built around pf_frame's UDP frame. */
static uint32_t frame_tags(uint8_t *buf, const uint8_t dst[6], uint16_t tpid1, uint16_t vid1, uint16_t tpid2,
			   uint16_t vid2)
{
	uint8_t plain[128];
	uint32_t n = pf_frame(plain, 64, dst, SRC, 0, 1);
	memcpy(buf, plain, 12);
	uint32_t off = 12;
	const uint16_t tp[2] = { tpid1, tpid2 }, vid[2] = { vid1, vid2 };
	for (int i = 0; i < 2; i++) {
		if (!tp[i])
			continue;
		buf[off] = (uint8_t)(tp[i] >> 8);
		buf[off + 1] = (uint8_t)tp[i];
		buf[off + 2] = (uint8_t)(vid[i] >> 8);
		buf[off + 3] = (uint8_t)vid[i];
		off += 4;
	}
	memcpy(buf + off, plain + 12, n - 12);
	return off + n - 12;
}

static uint64_t rx_of(struct krig *r, struct dvmq_kdp_sample *s, uint32_t q)
{
	return dvmq_kdp_sample(r->k, s) == 0 ? s->queues[q].rx_packets : UINT64_MAX;
}

/* Plays processor cpu's cpumap program having processed n frames of queue q (BPF_PROG_TEST_RUN
 * cannot run a cpumap program): adds n to that CPU's copy of the queue's counters. */
static int served(struct krig *r, uint32_t q, int cpu, uint64_t n)
{
	int ncpu = libbpf_num_possible_cpus(), fd = dvmq_kdp_fd(r->k, DVMQ_KDP_FD_QSTATS);
	struct dvmq_kern_qstat v[64];
	if (ncpu <= 0 || ncpu > 64 || bpf_map_lookup_elem(fd, &q, v) != 0)
		return -1;
	v[cpu].cpu_packets += n;
	return bpf_map_update_elem(fd, &q, v, 0);
}

/* Plays processor cpu's cpumap program having processed the frame of index seq (epoch epoch) of
 * queue q last, n frames in all. */
static int served_last(struct krig *r, uint32_t q, int cpu, uint64_t n, uint32_t seq, uint32_t epoch)
{
	int ncpu = libbpf_num_possible_cpus(), fd = dvmq_kdp_fd(r->k, DVMQ_KDP_FD_QSTATS);
	struct dvmq_kern_qstat v[64];
	if (ncpu <= 0 || ncpu > 64 || bpf_map_lookup_elem(fd, &q, v) != 0)
		return -1;
	v[cpu].cpu_packets += n;
	v[cpu].last_seq = seq;
	v[cpu].last_epoch = epoch + 1;
	return bpf_map_update_elem(fd, &q, v, 0);
}

static int pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Runs the XDP classifier on n copies of frame as live frames: redirected for real, through the
 * cpumap, to the processors' kthreads. Returns 0 or -errno. */
static int xdp_live(struct krig *r, const uint8_t *frame, uint32_t len, uint32_t n)
{
	struct xdp_md ctx = { .data_end = len }; /* the kernel wants it to match the frame */
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = n, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	int rc = bpf_prog_test_run_opts(dvmq_kdp_fd(r->k, DVMQ_KDP_FD_XDP_PROG), &o);
	return rc == 0 ? 0 : rc < 0 && rc != -1 ? rc : -errno;
}

#endif

TEST(kdp_classifier_queues_tags_and_fates)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open(&r, false);
	if (why)
		SKIP("%s", why);
	struct dvmq_kdp_sample *s = dvmq_kdp_sample_new(r.k);
	CHECK(s && dvmq_kdp_sample(r.k, s) == 0);
	uint8_t f[256], out[2048];
	uint32_t n, ol;
	struct {
		const uint8_t *dst;
		uint16_t t1, v1, t2, v2;
		uint32_t queue;
	} cases[] = {
		{ VM1, 0, 0, 0, 0, 1 },                     /* unicast to a VM's queue */
		{ VM1, 0x8100, 5, 0, 0, 2 },                /* the same MAC on VLAN 5: its own queue */
		{ VM1, 0x8100, 6, 0, 0, 0 },                /* on a VLAN it has no filter for: default */
		{ VM2, 0x8100, 7, 0, 0, 3 },                /* VM2 on VLAN 7 */
		{ VM2, 0, 0, 0, 0, 0 },                     /* VM2 untagged: no filter, default */
		{ VM1, 0x8100, 5, 0x8100, 9, 2 },           /* two tags: classified by the outer */
		{ VM2, 0x88a8, 7, 0x8100, 100, 3 },         /* 802.1ad outer tag */
		{ BCAST, 0, 0, 0, 0, 0 },                   /* broadcast: default */
		{ MCAST, 0x8100, 5, 0, 0, 0 },              /* multicast: default */
		{ SRC, 0, 0, 0, 0, 0 },                     /* unknown unicast: default */
	};
	uint32_t want_rx[4] = { 0 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = frame_tags(f, cases[i].dst, cases[i].t1, cases[i].v1, cases[i].t2, cases[i].v2);
		int act = xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, out, &ol);
		CHECK_MSG(act == XDP_REDIRECT, "case %zu: action %d", i, act);
		/* the prefix for the serving side: magic and queue, then the frame as it came */
		struct dvmq_kern_prefix p;
		memcpy(&p, out, sizeof(p));
		CHECK_MSG(ol == n + sizeof(p) && p.magic == DVMQ_KERN_PREFIX_MAGIC && p.queue == cases[i].queue &&
				  memcmp(out + sizeof(p), f, n) == 0,
			  "case %zu: out %u bytes, queue %u (want %u)", i, ol, p.queue, cases[i].queue);
		want_rx[cases[i].queue]++;
	}
	CHECK(dvmq_kdp_sample(r.k, s) == 0);
	for (uint32_t q = 0; q < 4; q++)
		CHECK_MSG(s->queues[q].rx_packets == want_rx[q], "queue %u: %lu redirected, want %u", q,
			  (unsigned long)s->queues[q].rx_packets, want_rx[q]);

	/* passed where they arrived: link-local (even tagged), runts, a tag cut short */
	n = frame_tags(f, LLDP, 0, 0, 0, 0);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_PASS);
	n = frame_tags(f, LLDP, 0x8100, 5, 0, 0);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_PASS);
	/* (BPF_PROG_TEST_RUN refuses frames under 14 bytes: a runt is the driver's to drop) */
	const uint32_t short_len[3] = { 16, 17, 20 }; /* a tag cut short (twice); the second tag cut */
	n = frame_tags(f, VM1, 0x8100, 5, 0x8100, 9);
	for (int i = 0; i < 3; i++)
		CHECK_MSG(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, short_len[i], NULL, NULL) == XDP_PASS, "%u bytes",
			  short_len[i]);
	CHECK(rx_of(&r, s, 2) == 0); /* nothing of those went to a queue */

	/* counters: each frame in exactly one fate, the reasons exact */
	struct dvmq_kdp_counters c;
	CHECK(dvmq_kdp_counters(r.k, &c) == 0);
	CHECK_MSG(c.redirected == 10 && c.link_local == 2 && c.truncated == 3 && c.no_cpu == 0 && c.no_room == 0,
		  "redirected %lu link_local %lu truncated %lu", (unsigned long)c.redirected, (unsigned long)c.link_local,
		  (unsigned long)c.truncated);
	CHECK_MSG(c.default_queue == 5 && c.double_tag == 2 && c.bad_queue == 0, "default %lu double %lu",
		  (unsigned long)c.default_queue, (unsigned long)c.double_tag);
	dvmq_kdp_sample_free(s);
	dvmq_kdp_destroy(r.k);
#endif
}

TEST(kdp_filters_change_and_remove)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open(&r, false);
	if (why)
		SKIP("%s", why);
	uint8_t f[256], out[2048];
	uint32_t ol, n = frame_tags(f, VM1, 0, 0, 0, 0);
	struct dvmq_kern_prefix p;
	CHECK(dvmq_kdp_filter_count(r.k) == 3);
	/* change: VM1 untagged to queue 3 */
	struct dvmq_kdp_filter x = { .queue = 3 };
	memcpy(x.mac, VM1, 6);
	CHECK(dvmq_kdp_filter_set(r.k, &x) == 0 && dvmq_kdp_filter_count(r.k) == 3);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, out, &ol) == XDP_REDIRECT);
	memcpy(&p, out, sizeof(p));
	CHECK(p.queue == 3);
	/* remove: the default queue */
	CHECK(dvmq_kdp_filter_del(r.k, VM1, 0) == 0 && dvmq_kdp_filter_count(r.k) == 2);
	CHECK(dvmq_kdp_filter_del(r.k, VM1, 0) == -ENOENT);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, out, &ol) == XDP_REDIRECT);
	memcpy(&p, out, sizeof(p));
	CHECK(p.queue == 0);
	/* a batch: VM2 off VLAN 7, VM1 back on queue 1 */
	struct dvmq_kdp_filter set = { .queue = 1 }, del = { .vlan = 7 };
	memcpy(set.mac, VM1, 6);
	memcpy(del.mac, VM2, 6);
	CHECK(dvmq_kdp_filters_apply(r.k, &set, 1, &del, 1) == 0 && dvmq_kdp_filter_count(r.k) == 2);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, out, &ol) == XDP_REDIRECT);
	memcpy(&p, out, sizeof(p));
	CHECK(p.queue == 1);
	/* bad input */
	struct dvmq_kdp_filter bad = { .vlan = 4095, .queue = 1 };
	CHECK(dvmq_kdp_filter_set(r.k, &bad) == -EINVAL);
	bad.vlan = 0;
	bad.queue = 4;
	CHECK(dvmq_kdp_filter_set(r.k, &bad) == -EINVAL);
	CHECK(dvmq_kdp_filters_apply(r.k, &bad, 1, NULL, 0) == -EINVAL);
	dvmq_kdp_destroy(r.k);
#endif
}

TEST(kdp_missing_cpumap_entry_passes_and_counts)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open(&r, false);
	if (why)
		SKIP("%s", why);
	uint32_t key = (uint32_t)r.cpus[0]; /* every queue is there */
	CHECK(bpf_map_delete_elem(dvmq_kdp_fd(r.k, DVMQ_KDP_FD_CPUMAP), &key) == 0);
	uint8_t f[256], out[2048];
	uint32_t ol, n = frame_tags(f, VM1, 0, 0, 0, 0);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, out, &ol) == XDP_PASS);
	CHECK_MSG(ol == n && memcmp(out, f, n) == 0, "the frame passes as it came (%u bytes, want %u)", ol, n);
	struct dvmq_kdp_counters c;
	CHECK(dvmq_kdp_counters(r.k, &c) == 0);
	CHECK(c.no_cpu == 1 && c.redirected == 0);
	dvmq_kdp_destroy(r.k);
#endif
}

/* Live frames (BPF_F_TEST_XDP_LIVE_FRAMES): redirected through the cpumap for real, processed by
 * the kthread of their queue's processor, whose cpumap program reads the prefix and counts them
 * there; after a move, on the new processor. */
TEST(kdp_live_frames_follow_the_queue_map)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open(&r, false);
	if (why)
		SKIP("%s", why);
	if (r.n_cpus < 2) {
		dvmq_kdp_destroy(r.k);
		SKIP("needs two processors");
	}
	struct dvmq_kdp_sample *s = dvmq_kdp_sample_new(r.k);
	CHECK(s && dvmq_kdp_sample(r.k, s) == 0);
	uint8_t f[256];
	uint32_t n = frame_tags(f, VM2, 0x8100, 7, 0, 0);
	CHECK(dvmq_kdp_queue_move(r.k, 3, r.cpus[1]) == 0 && dvmq_kdp_moves_wait(r.k) == 0);
	uint64_t got[2] = { 0, 0 }, got_bytes = 0;
	for (int round = 0; round < 2; round++) {
		int rc = xdp_live(&r, f, n, 100);
		if ((rc == -EINVAL || rc == -EPERM || rc == -EOPNOTSUPP) && round == 0) {
			dvmq_kdp_sample_free(s);
			dvmq_kdp_destroy(r.k);
			SKIP("this kernel refuses live-frame test runs (%s); the namespace tests cover the path",
			     strerror(-rc));
		}
		CHECK_MSG(rc == 0, "live run: %d", rc);
		/* the kthreads run on their own: wait for them (generous deadline, never a timing check) */
		uint64_t t0 = pf_now_ms();
		struct dvmq_kdp_counters c;
		do {
			CHECK(dvmq_kdp_counters(r.k, &c) == 0);
			if (c.processed + c.cpumap_drops >= 100u * (round + 1))
				break;
			usleep(2000);
		} while (pf_now_ms() - t0 < 10000);
		CHECK_MSG(c.processed == 100u * (round + 1) && c.reclassified == 0 && c.cpumap_drops == 0,
			  "processed %lu, reclassified %lu, dropped %lu", (unsigned long)c.processed,
			  (unsigned long)c.reclassified, (unsigned long)c.cpumap_drops);
		CHECK(dvmq_kdp_sample(r.k, s) == 0);
		got[0] += s->queues[3].packets[0];
		got[1] += s->queues[3].packets[1];
		got_bytes += s->queues[3].bytes[0] + s->queues[3].bytes[1];
		CHECK_MSG(got[round == 0 ? 1 : 0] == 100 && got[round == 0 ? 0 : 1] == (round == 0 ? 0 : 100),
			  "round %d: processor %d processed %lu, processor %d %lu", round, r.cpus[0], (unsigned long)got[0],
			  r.cpus[1], (unsigned long)got[1]);
		CHECK(s->cpus[round == 0 ? 1 : 0].packets == 100 && s->queues[3].rx_packets == 100);
		/* the second round on processor 0 */
		CHECK(dvmq_kdp_queue_move(r.k, 3, r.cpus[0]) == 0 && dvmq_kdp_moves_wait(r.k) == 0);
	}
	CHECK_MSG(got_bytes == 200ull * n, "bytes %lu, want %lu: the prefix is not counted", (unsigned long)got_bytes,
		  200ul * n);
	CHECK(dvmq_kdp_kthread_pid(r.k, r.cpus[0]) > 0 && dvmq_kdp_kthread_pid(r.k, r.cpus[1]) > 0);
	dvmq_kdp_sample_free(s);
	dvmq_kdp_destroy(r.k);
#endif
}

/* The ordered move's rule, step by step: a queue with frames sent to its processor and not yet
 * processed there does not flip (its frames keep going to the old processor); it flips on the
 * first frame after the old processor processed them all. Unordered, it flips at once. */
TEST(kdp_ordered_move_waits_for_the_old_processor)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	for (int unordered = 0; unordered <= 1; unordered++) {
		struct krig r;
		const char *why = krig_open(&r, unordered);
		if (why)
			SKIP("%s", why);
		if (r.n_cpus < 2) {
			dvmq_kdp_destroy(r.k);
			SKIP("needs two processors");
		}
		uint8_t f[256], out[3][2048];
		uint32_t ol[3], n = frame_tags(f, VM1, 0, 0, 0, 0);
		/* three frames of queue 1 sent to processor 0, none processed */
		for (int i = 0; i < 3; i++)
			CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, out[i], &ol[i]) == XDP_REDIRECT);
		CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[1]) == 0);
		CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
		if (unordered) {
			CHECK_MSG(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[1], "unordered: flips at once");
			CHECK(dvmq_kdp_moves_poll(r.k, 0) == 0);
			dvmq_kdp_destroy(r.k);
			continue;
		}
		CHECK_MSG(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0], "flipped with 4 frames in the old processor's ring");
		CHECK(dvmq_kdp_moves_poll(r.k, 0) == 1); /* userspace does not flip it either */
		/* processor 0 processes 3 of the 4: the 5th still goes there */
		CHECK(served(&r, 1, r.cpus[0], 3) == 0);
		CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
		CHECK(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0]);
		CHECK(dvmq_kdp_moves_poll(r.k, 0) == 1);
		/* 4 of 5: the 6th too */
		CHECK(served(&r, 1, r.cpus[0], 1) == 0);
		CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
		CHECK(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0]);
		/* 6 of 6: the 7th flips it, and goes to the new processor */
		CHECK(served(&r, 1, r.cpus[0], 2) == 0);
		CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
		CHECK_MSG(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[1], "drained, and still on the old processor");
		CHECK(dvmq_kdp_moves_poll(r.k, 0) == 0);
		struct dvmq_kdp_counters c;
		CHECK(dvmq_kdp_counters(r.k, &c) == 0);
		CHECK_MSG(c.moves == 1 && c.moves_ordered == 1 && c.moves_ordered_xdp == 1 && c.moves_forced == 0,
			  "moves %lu ordered %lu xdp %lu forced %lu", (unsigned long)c.moves, (unsigned long)c.moves_ordered,
			  (unsigned long)c.moves_ordered_xdp, (unsigned long)c.moves_forced);
		dvmq_kdp_destroy(r.k);
	}
#endif
}

/* A frame whose queue's processor is the CPU that received it stays on that CPU's own path
 * (XDP_PASS, without the prefix, counted served there and `local`), unless a frame of its queue
 * sent before it may still be in that CPU's cpumap ring: then it goes through the ring too, behind
 * it. A frame for another processor's queue is redirected as always. */
TEST(kdp_frame_for_the_receiving_cpu_stays_local)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open_local(&r, false, true);
	if (why)
		SKIP("%s", why);
	cpu_set_t was;
	CHECK(sched_getaffinity(0, sizeof(was), &was) == 0);
	uint8_t f[256], out[2048];
	uint32_t ol = 0, n = frame_tags(f, VM1, 0, 0, 0, 0);
	struct dvmq_kdp_counters c;
	/* queue 1 is on cpus[0] (where create places every queue); the test runs there */
	CHECK(pin(r.cpus[0]) == 0);
	int act = xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, out, &ol);
	CHECK_MSG(act == XDP_PASS, "a frame for this CPU's own queue: action %d (want XDP_PASS)", act);
	CHECK_MSG(ol == n && memcmp(out, f, n) == 0, "it leaves as it came (%u bytes, want %u, no prefix)", ol, n);
	CHECK(dvmq_kdp_counters(r.k, &c) == 0);
	CHECK_MSG(c.local == 1 && c.redirected == 0 && c.processed == 0, "local %lu redirected %lu processed %lu",
		  (unsigned long)c.local, (unsigned long)c.redirected, (unsigned long)c.processed);
	struct dvmq_kdp_sample *s = dvmq_kdp_sample_new(r.k);
	CHECK(s != NULL && dvmq_kdp_sample(r.k, s) == 0);
	CHECK_MSG(s->queues[1].rx_packets == 1, "queue 1 received %lu", (unsigned long)s->queues[1].rx_packets);
	if (r.n_cpus >= 2) {
		/* queue 1 on the other processor: redirected, with the prefix */
		CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[1]) == 0 && dvmq_kdp_moves_wait(r.k) == 0);
		CHECK(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[1]);
		CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, out, &ol) == XDP_REDIRECT);
		CHECK(ol == n + sizeof(struct dvmq_kern_prefix));
		/* back to cpus[0] once cpus[1] processed it */
		CHECK(served(&r, 1, r.cpus[1], 1) == 0);
		CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[0]) == 0 && dvmq_kdp_moves_wait(r.k) == 0);
		CHECK(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0]);
		/* a frame received on cpus[1] goes to cpus[0]'s ring; the next one, received on cpus[0],
		 * must not overtake it */
		CHECK(pin(r.cpus[1]) == 0);
		CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
		CHECK(pin(r.cpus[0]) == 0);
		act = xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL);
		CHECK_MSG(act == XDP_REDIRECT, "a frame of the queue is still in the ring: action %d (want the ring)", act);
		/* both processed there: the path is clear again */
		CHECK(served(&r, 1, r.cpus[0], 2) == 0);
		act = xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL);
		CHECK_MSG(act == XDP_PASS, "the ring holds none of the queue's frames: action %d (want XDP_PASS)", act);
		CHECK(dvmq_kdp_counters(r.k, &c) == 0);
		CHECK_MSG(c.local == 2 && c.redirected == 3, "local %lu redirected %lu", (unsigned long)c.local,
			  (unsigned long)c.redirected);
	}
	dvmq_kdp_sample_free(s);
	CHECK(sched_setaffinity(0, sizeof(was), &was) == 0);
	dvmq_kdp_destroy(r.k);
#endif
}

/* A move the XDP program completed before any poll saw it, then asked for again (the queue is
 * there already): it is counted, once; a move cancelled before it flipped is not. */
TEST(kdp_move_completed_before_a_poll_is_counted)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open(&r, false);
	if (why)
		SKIP("%s", why);
	if (r.n_cpus < 2) {
		dvmq_kdp_destroy(r.k);
		SKIP("needs two processors");
	}
	uint8_t f[256];
	uint32_t n = frame_tags(f, VM1, 0, 0, 0, 0);
	/* queue 1 idle on processor 0: the next frame flips it at once */
	CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[1]) == 0);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
	CHECK(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[1]);
	CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[1]) == 0); /* there already, before any poll */
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 0);
	/* a move cancelled before any frame flipped it: not a move */
	CHECK(dvmq_kdp_queue_move(r.k, 2, r.cpus[1]) == 0);
	CHECK(dvmq_kdp_queue_move(r.k, 2, r.cpus[0]) == 0);
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 0 && dvmq_kdp_queue_cpu(r.k, 2) == r.cpus[0]);
	struct dvmq_kdp_counters c;
	CHECK(dvmq_kdp_counters(r.k, &c) == 0);
	CHECK_MSG(c.moves == 1 && c.moves_ordered == 1 && c.moves_ordered_xdp == 1 && c.moves_forced == 0,
		  "moves %llu ordered %llu (by the XDP program %llu) forced %llu", (unsigned long long)c.moves,
		  (unsigned long long)c.moves_ordered, (unsigned long long)c.moves_ordered_xdp,
		  (unsigned long long)c.moves_forced);
	dvmq_kdp_destroy(r.k);
#endif
}

/* /proc/stat without a processor's line (it went offline) or with counters lower than the last
 * reading (it came back): that processor's softirq and network time for the interval are 0, not
 * 0 minus the last reading (~1.8e19 ns, which the cost model handed the queues as busy time). */
TEST(kdp_sample_survives_a_processor_leaving_proc_stat)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open(&r, false);
	if (why)
		SKIP("%s", why);
	struct dvmq_kdp_sample *s = dvmq_kdp_sample_new(r.k);
	CHECK(s && dvmq_kdp_sample(r.k, s) == 0); /* the real /proc/stat: the readings to compare with */
	char path[] = "/tmp/dvmq-kdp-stat.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	static const char *const texts[2] = {
		"cpu  1 2 3 4 5 6 7 0 0 0\nintr 0\n", /* no processor's line: all offline */
		"cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\n", /* went back */
	};
	for (int t = 0; t < 2 && fd >= 0; t++) {
		CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, texts[t], strlen(texts[t]), 0) == (ssize_t)strlen(texts[t]));
		r.k->stat_path = path;
		CHECK(dvmq_kdp_sample(r.k, s) == 0);
		for (uint32_t i = 0; i < s->n_cpus; i++)
			CHECK_MSG(s->cpus[i].softirq_ns == 0 && s->cpus[i].net_ns <= s->interval_ns,
				  "case %d, cpu %d: softirq %llu ns, network %llu ns in an interval of %llu", t, s->cpus[i].cpu,
				  (unsigned long long)s->cpus[i].softirq_ns, (unsigned long long)s->cpus[i].net_ns,
				  (unsigned long long)s->interval_ns);
	}
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	dvmq_kdp_sample_free(s);
	dvmq_kdp_destroy(r.k);
#endif
}

/* A queue that stays on its processor counts every frame in the 44 bits of its steering word's
 * sent field; past them the count carries into the epoch and then into the processor: the frames
 * go to the next CPU. Each sample renews a queue's epoch (same processor, bases moved on by what
 * was sent) long before that. */
TEST(kdp_sent_count_never_wraps_into_the_processor)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open(&r, false);
	if (why)
		SKIP("%s", why);
	int qfd = dvmq_kdp_fd(r.k, DVMQ_KDP_FD_QUEUES);
	uint32_t q = 1;
	struct dvmq_kern_queue v;
	CHECK(bpf_map_lookup_elem(qfd, &q, &v) == 0);
	/* epoch 15, three frames short of the 44 bits: the next frames would carry into the processor */
	const uint64_t sent = DVMQ_KERN_SENT_MASK - 2;
	v.steer = DVMQ_KERN_STEER(r.cpus[0], 15, sent);
	v.base[1] = 1000;
	v.tcbase[1] = 2000;
	CHECK(bpf_map_update_elem(qfd, &q, &v, 0) == 0);
	struct dvmq_kdp_sample *s = dvmq_kdp_sample_new(r.k);
	CHECK(s && dvmq_kdp_sample(r.k, s) == 0);
	CHECK(bpf_map_lookup_elem(qfd, &q, &v) == 0);
	CHECK_MSG(DVMQ_KERN_STEER_CPU(v.steer) == (unsigned)r.cpus[0] && DVMQ_KERN_STEER_EPOCH(v.steer) == 0 &&
			  DVMQ_KERN_STEER_SENT(v.steer) == 0 && v.base[0] == 1000 + sent && v.tcbase[0] == 2000 + sent,
		  "after a sample: cpu %u epoch %u sent %llu base %llu", DVMQ_KERN_STEER_CPU(v.steer),
		  DVMQ_KERN_STEER_EPOCH(v.steer), (unsigned long long)DVMQ_KERN_STEER_SENT(v.steer),
		  (unsigned long long)v.base[0]);
	uint8_t f[256];
	uint32_t n = frame_tags(f, VM1, 0, 0, 0, 0);
	for (int i = 0; i < 5; i++)
		CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
	CHECK_MSG(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0], "5 frames later queue 1 is on processor %d (want %d)",
		  dvmq_kdp_queue_cpu(r.k, 1), r.cpus[0]);
	/* a queue with a move pending is the move's to flip, not renewed */
	if (r.n_cpus >= 2) {
		CHECK(bpf_map_lookup_elem(qfd, &q, &v) == 0);
		v.steer = DVMQ_KERN_STEER(r.cpus[0], 3, DVMQ_KERN_RENEW_AT + 7);
		CHECK(bpf_map_update_elem(qfd, &q, &v, 0) == 0);
		CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[1]) == 0);
		CHECK(dvmq_kdp_sample(r.k, s) == 0);
		CHECK(bpf_map_lookup_elem(qfd, &q, &v) == 0);
		CHECK_MSG(DVMQ_KERN_STEER_EPOCH(v.steer) == 3 && DVMQ_KERN_STEER_CPU(v.steer) == (unsigned)r.cpus[0],
			  "a pending move's queue renewed: epoch %u", DVMQ_KERN_STEER_EPOCH(v.steer));
	}
	dvmq_kdp_sample_free(s);
	dvmq_kdp_destroy(r.k);
#endif
}

/* A full cpumap ring drops a frame: sent and processed never meet. With every frame from one
 * receiving CPU, the old processor having processed the last frame sent is enough (the ring is a
 * FIFO: the frames before it were processed or dropped); with frames from two receiving CPUs it is
 * not (one CPU's bulk queue may still hold an earlier frame), and the move waits. */
TEST(kdp_ordered_move_tolerates_ring_drops)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	for (int multi = 0; multi <= 1; multi++) {
		struct krig r;
		const char *why = krig_open(&r, false);
		if (why)
			SKIP("%s", why);
		if (r.n_cpus < 2) {
			dvmq_kdp_destroy(r.k);
			SKIP("needs two processors");
		}
		uint8_t f[256];
		uint32_t n = frame_tags(f, VM1, 0, 0, 0, 0);
		/* frames 0, 1, 2 of queue 1 sent to processor 0 (from CPU 0, or 0, 1, 0) */
		for (int i = 0; i < 3; i++) {
			CHECK(pin(multi && i == 1 ? r.cpus[1] : r.cpus[0]) == 0);
			CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
		}
		CHECK(pin(r.cpus[0]) == 0);
		CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[1]) == 0);
		/* frame 1 dropped by the ring, 0 and 2 processed: 2 of 3 counted, the last one seen */
		CHECK(served_last(&r, 1, r.cpus[0], 2, 2, 0) == 0);
		CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
		if (!multi) {
			CHECK_MSG(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[1], "one receiving CPU: drained despite the drop");
			CHECK(dvmq_kdp_moves_poll(r.k, 0) == 0);
		} else {
			CHECK_MSG(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0], "two receiving CPUs: must wait");
			CHECK(dvmq_kdp_moves_poll(r.k, 0) == 1);
			/* frame 1 was not dropped but late (CPU 1's bulk queue): it and frame 3 processed,
			 * the counts meet, the next frame flips */
			CHECK(served_last(&r, 1, r.cpus[0], 2, 1, 0) == 0);
			CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
			CHECK(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[1]);
		}
		dvmq_kdp_destroy(r.k);
	}
#endif
}

/* With the tc ingress counter (DVMQ_KERN_F_TC_DONE), a move also waits until the frames the old
 * processor processed have left its GRO (counted at tc ingress): processed is not enough. */
TEST(kdp_ordered_move_waits_for_gro)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open(&r, false);
	if (why)
		SKIP("%s", why);
	if (r.n_cpus < 2) {
		dvmq_kdp_destroy(r.k);
		SKIP("needs two processors");
	}
	struct dvmq_kern_cfg c;
	uint32_t zero = 0;
	int cfd = dvmq_kdp_fd(r.k, DVMQ_KDP_FD_CONFIG), qfd = dvmq_kdp_fd(r.k, DVMQ_KDP_FD_QSTATS);
	CHECK(bpf_map_lookup_elem(cfd, &zero, &c) == 0);
	c.flags |= DVMQ_KERN_F_TC_DONE;
	CHECK(bpf_map_update_elem(cfd, &zero, &c, 0) == 0);
	CHECK(pin(r.cpus[0]) == 0);
	uint8_t f[256];
	uint32_t n = frame_tags(f, VM1, 0, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
	CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[1]) == 0);
	/* all 3 processed, 2 out of GRO: waits */
	CHECK(served_last(&r, 1, r.cpus[0], 3, 2, 0) == 0);
	struct dvmq_kern_qstat v[64];
	uint32_t q = 1;
	CHECK(bpf_map_lookup_elem(qfd, &q, v) == 0);
	v[r.cpus[0]].delivered += 2;
	CHECK(bpf_map_update_elem(qfd, &q, v, 0) == 0);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
	CHECK_MSG(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0], "flipped with a frame still in GRO");
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 1);
	/* the 4th processed; both out of GRO: the next frame flips */
	CHECK(served_last(&r, 1, r.cpus[0], 1, 3, 0) == 0);
	CHECK(bpf_map_lookup_elem(qfd, &q, v) == 0);
	v[r.cpus[0]].delivered += 2;
	CHECK(bpf_map_update_elem(qfd, &q, v, 0) == 0);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
	CHECK(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[1]);
	dvmq_kdp_destroy(r.k);
#endif
}

/* With the batch rule (DVMQ_KERN_F_BATCH), a move whose old processor's tc counter has counted every
 * frame still waits until that processor's cpumap kthread has begun another batch or left the
 * processor: the frame counted last may still be on its way from the uplink to the VM's port (the
 * bridge, the port's queue) in the same batch. Neither the XDP program nor userspace flips before. */
TEST(kdp_ordered_move_waits_for_the_batch)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open(&r, false);
	if (why)
		SKIP("%s", why);
	if (r.n_cpus < 2) {
		dvmq_kdp_destroy(r.k);
		SKIP("needs two processors");
	}
	struct dvmq_kern_cfg c;
	uint32_t zero = 0, q = 1;
	int cfd = dvmq_kdp_fd(r.k, DVMQ_KDP_FD_CONFIG), qfd = dvmq_kdp_fd(r.k, DVMQ_KDP_FD_QSTATS);
	CHECK(bpf_map_lookup_elem(cfd, &zero, &c) == 0);
	c.flags |= DVMQ_KERN_F_TC_DONE | DVMQ_KERN_F_BATCH;
	CHECK(bpf_map_update_elem(cfd, &zero, &c, 0) == 0);
	CHECK(pin(r.cpus[0]) == 0);
	uint8_t f[256];
	uint32_t n = frame_tags(f, VM1, 0, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
	CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[1]) == 0);
	/* all 3 processed and counted at tc, the last in processor 0's batch 7, which is still running */
	CHECK(served_last(&r, 1, r.cpus[0], 3, 2, 0) == 0);
	struct dvmq_kern_qstat v[64];
	struct dvmq_kern_kthread kt[64];
	CHECK(bpf_map_lookup_elem(qfd, &q, v) == 0);
	v[r.cpus[0]].delivered += 3;
	v[r.cpus[0]].last_iter = 7;
	CHECK(bpf_map_update_elem(qfd, &q, v, 0) == 0);
	CHECK(bpf_map_lookup_elem(r.k->kthreads_fd, &zero, kt) == 0);
	kt[r.cpus[0]].iter = 7;
	CHECK(bpf_map_update_elem(r.k->kthreads_fd, &zero, kt, 0) == 0);
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 1);
	CHECK_MSG(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0], "userspace flipped inside the old processor's batch");
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
	CHECK_MSG(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0], "the XDP program flipped inside the old processor's batch");
	/* the 4th frame went there too: processed and counted in batch 8, which ends (the kthread
	 * leaves the processor): the next frame flips */
	CHECK(served_last(&r, 1, r.cpus[0], 1, 3, 0) == 0);
	CHECK(bpf_map_lookup_elem(qfd, &q, v) == 0);
	v[r.cpus[0]].delivered += 1;
	v[r.cpus[0]].last_iter = 8;
	CHECK(bpf_map_update_elem(qfd, &q, v, 0) == 0);
	kt[r.cpus[0]].iter = 8;
	CHECK(bpf_map_update_elem(r.k->kthreads_fd, &zero, kt, 0) == 0);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
	CHECK(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0]);
	kt[r.cpus[0]].iter = 9;
	CHECK(bpf_map_update_elem(r.k->kthreads_fd, &zero, kt, 0) == 0);
	/* the 5th is still in flight there: its batch must be seen too; userspace waits */
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 1);
	CHECK(served_last(&r, 1, r.cpus[0], 1, 4, 0) == 0);
	CHECK(bpf_map_lookup_elem(qfd, &q, v) == 0);
	v[r.cpus[0]].delivered += 1;
	v[r.cpus[0]].last_iter = 9;
	CHECK(bpf_map_update_elem(qfd, &q, v, 0) == 0);
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 1);
	CHECK(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[0]);
	/* batch 9 over (the kthread went to sleep): userspace flips it, ordered */
	kt[r.cpus[0]].iter = 10;
	CHECK(bpf_map_update_elem(r.k->kthreads_fd, &zero, kt, 0) == 0);
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 0);
	CHECK_MSG(dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[1], "the batch is over, still on the old processor");
	struct dvmq_kdp_counters cn;
	CHECK(dvmq_kdp_counters(r.k, &cn) == 0);
	CHECK(cn.moves == 1 && cn.moves_ordered == 1 && cn.moves_forced == 0);
	dvmq_kdp_destroy(r.k);
#endif
}

/* A move whose old processor never processes the frames sent to it is forced at its bound, and
 * counted forced; the queue may not go back there at once (-EBUSY); an idle queue moves ordered
 * by userspace alone. */
TEST(kdp_move_bound_forces_and_idle_queue_moves)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	struct krig r;
	const char *why = krig_open(&r, false);
	if (why)
		SKIP("%s", why);
	if (r.n_cpus < 2) {
		dvmq_kdp_destroy(r.k);
		SKIP("needs two processors");
	}
	/* queue 2 receives nothing: userspace flips it, ordered */
	CHECK(dvmq_kdp_queue_move(r.k, 2, r.cpus[1]) == 0);
	CHECK(dvmq_kdp_moves_wait(r.k) == 0 && dvmq_kdp_queue_cpu(r.k, 2) == r.cpus[1]);
	CHECK(dvmq_kdp_queue_move(r.k, 2, r.cpus[1]) == 0 && dvmq_kdp_moves_poll(r.k, 0) == 0); /* already there */
	/* queue 1 has a frame in a ring nobody serves (test run): forced at the bound */
	uint8_t f[256];
	uint32_t n = frame_tags(f, VM1, 0, 0, 0, 0);
	CHECK(xdp_run(&r, DVMQ_KDP_FD_XDP_PROG, f, n, NULL, NULL) == XDP_REDIRECT);
	CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[1]) == 0);
	CHECK(dvmq_kdp_moves_poll(r.k, 0) == 1);
	CHECK(dvmq_kdp_moves_wait(r.k) == 0 && dvmq_kdp_queue_cpu(r.k, 1) == r.cpus[1]);
	CHECK(dvmq_kdp_queue_move(r.k, 1, r.cpus[0]) == -EBUSY);
	struct dvmq_kdp_counters c;
	CHECK(dvmq_kdp_counters(r.k, &c) == 0);
	CHECK_MSG(c.moves == 2 && c.moves_ordered == 1 && c.moves_forced == 1 && c.moves_busy == 1,
		  "moves %lu ordered %lu forced %lu busy %lu", (unsigned long)c.moves, (unsigned long)c.moves_ordered,
		  (unsigned long)c.moves_forced, (unsigned long)c.moves_busy);
	/* bad input */
	CHECK(dvmq_kdp_queue_move(r.k, 4, r.cpus[0]) == -EINVAL);
	CHECK(dvmq_kdp_queue_move(r.k, 1, 4095) == -EINVAL);
	CHECK(dvmq_kdp_queue_move(r.k, 1, -1) == -EINVAL);
	dvmq_kdp_destroy(r.k);
#endif
}

TEST(kdp_create_rejects_bad_config)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	int cpus[2] = { 0, 0 }, many[1] = { 4095 };
	struct dvmq_kdp *k = NULL;
	char err[300];
	struct {
		struct dvmq_kdp_config c;
		int rc;
		const char *says;
	} bad[] = {
		{ { .cpus = cpus, .n_cpus = 0, .n_queues = 2 }, -EINVAL, "processor set is empty" },
		{ { .cpus = cpus, .n_cpus = 2, .n_queues = 2 }, -EINVAL, "processor 0 twice" },
		{ { .cpus = cpus, .n_cpus = 1, .n_queues = 0 }, -EINVAL, "0 queues" },
		{ { .cpus = cpus, .n_cpus = 1, .n_queues = 2, .qsize = 16385 }, -EINVAL, "qsize 16385" },
		{ { .cpus = many, .n_cpus = 1, .n_queues = 2 }, -EINVAL, "processor 4095 does not exist" },
		{ { .ifname = "dvtk-nosuch", .cpus = cpus, .n_cpus = 1, .n_queues = 2 }, -ENODEV, "dvtk-nosuch: no such device" },
	};
	const char *why = pf_private_net();
	if (why)
		SKIP("%s", why);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rc = dvmq_kdp_create(&bad[i].c, &k, err, sizeof(err));
		CHECK_MSG(rc == bad[i].rc && !k && strstr(err, bad[i].says), "case %zu: %d \"%s\"", i, rc, err);
	}
#endif
}
