/* Kernel mode's life on a device (root; skipped with the reason otherwise), in a private network
 * namespace on a veth pair named dvtk*: attached native or generic as asked and clean after
 * destroy (no XDP program, no tc program, no cpumap kthread); clean after its process ends by
 * SIGTERM or kill -9 without destroying anything; clean after a create that fails at any fallible
 * call, the ones after the attach included (fault injection); a device holding someone else's XDP
 * program refused, the program named and left; a dvmq program an older netlink attach left
 * removed, with its line. And frames follow the queue map: per-CPU processed counters and each
 * processor's cpumap kthread CPU time. */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"
#include "../../src/fault/fault.h"
#include "port_fixture.h"

#ifdef DVMQ_HAVE_KDP
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#include "../../bpf/dvmq_kern.h"
#include "../../src/port/xdp_link.h"
#include "dvmq/kdp.h"

#define DEV "dvtka"
#define PEER "dvtkb"

static char logged[4096];

static void keep_log(void *ctx, int level, const char *line)
{
	(void)ctx;
	(void)level;
	size_t l = strlen(logged);
	snprintf(logged + l, sizeof(logged) - l, "%s\n", line);
}

static const char *setup(void)
{
	const char *skip = pf_private_net();
	if (skip)
		return skip;
	if (pf_sh("ip link add " DEV " type veth peer name " PEER " && ip link set " DEV " up && ip link set " PEER " up"))
		return "cannot create a veth pair";
	logged[0] = '\0';
	return NULL;
}

static int cpus2[2] = { 0, 1 };

static struct dvmq_kdp_config cfg_for(int mode)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return (struct dvmq_kdp_config){ .ifname = DEV, .xdp_mode = mode, .cpus = cpus2, .n_cpus = n >= 2 ? 2 : 1,
					 .n_queues = 4, .log = keep_log };
}

/* Whether pid is (still) a cpumap kthread. */
static bool is_cpumap_kthread(int pid)
{
	char path[64], comm[64] = "";
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	FILE *f = fopen(path, "re");
	bool yes = f && fgets(comm, sizeof(comm), f) && strncmp(comm, "cpumap/", 7) == 0;
	if (f)
		fclose(f);
	return yes;
}

/* Programs on DEV: XDP (any mode) plus tcx ingress. Waits up to 2 s for the kernel to release
 * closed links (their release may be deferred). */
static int programs_left(void)
{
	int n = -1;
	for (uint64_t end = pf_now_ms() + 2000; pf_now_ms() < end; usleep(10000)) {
		struct dvmq_xdp_attached a[3];
		int x = dvmq_xdp_link_inspect((int)if_nametoindex(DEV), a, 3);
		uint32_t ids[4], cnt = 4;
		int trc = bpf_prog_query((int)if_nametoindex(DEV), (enum bpf_attach_type)46 /* BPF_TCX_INGRESS */, 0, NULL,
					 ids, &cnt);
		n = (x < 0 ? 0 : x) + (trc == 0 ? (int)cnt : 0);
		if (n == 0)
			break;
	}
	return n;
}

static int xdp_mode_now(void)
{
	struct dvmq_xdp_attached a[3];
	int n = dvmq_xdp_link_inspect((int)if_nametoindex(DEV), a, 3);
	return n == 1 ? a[0].mode : -n;
}

static int pass_prog(const char *name)
{
	const struct bpf_insn insns[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS },
					  { .code = BPF_JMP | BPF_EXIT } };
	return bpf_prog_load(BPF_PROG_TYPE_XDP, name, "GPL", insns, 2, NULL);
}
#endif

TEST(kdp_attach_native_and_generic_clean_after_destroy)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	const char *why = setup();
	if (why)
		SKIP("%s", why);
	const int modes[2] = { DVMQ_KDP_XDP_NATIVE, DVMQ_KDP_XDP_GENERIC };
	for (int i = 0; i < 2; i++) {
		struct dvmq_kdp_config c = cfg_for(modes[i]);
		struct dvmq_kdp *k = NULL;
		char err[320] = "";
		logged[0] = '\0';
		int rc = dvmq_kdp_create(&c, &k, err, sizeof(err));
		CHECK_MSG(rc == 0, "mode %d: %s", modes[i], err);
		CHECK_MSG(xdp_mode_now() == modes[i], "mode %d: the device has mode %d", modes[i], xdp_mode_now());
		/* one cpumap kthread per processor, of this map (other tests' maps may come and go) */
		int pids[2] = { 0, 0 };
		for (uint32_t j = 0; j < c.n_cpus; j++) {
			pids[j] = dvmq_kdp_kthread_pid(k, cpus2[j]);
			CHECK_MSG(pids[j] > 0 && is_cpumap_kthread(pids[j]), "no cpumap kthread for processor %d", cpus2[j]);
		}
		CHECK(strstr(dvmq_kdp_describe(k), modes[i] == DVMQ_KDP_XDP_NATIVE ? "native XDP" : "generic XDP"));
		if (modes[i] == DVMQ_KDP_XDP_GENERIC)
			CHECK_MSG(strstr(logged, "generic XDP, as asked") && strstr(logged, "slower"), "%s", logged);
		dvmq_kdp_destroy(k);
		CHECK_MSG(programs_left() == 0, "mode %d: programs left after destroy", modes[i]);
		/* the cpumap kthreads go with the map (their stop is a deferred work item) */
		for (uint32_t j = 0; j < c.n_cpus; j++) {
			uint64_t end = pf_now_ms() + 5000;
			while (is_cpumap_kthread(pids[j]) && pf_now_ms() < end)
				usleep(10000);
			CHECK_MSG(!is_cpumap_kthread(pids[j]), "cpumap kthread %d still there after destroy", pids[j]);
		}
	}
	/* detach and attach again on the same handle (the daemon's stop, then close) */
	struct dvmq_kdp_config c = cfg_for(0);
	c.defer_attach = true;
	struct dvmq_kdp *k = NULL;
	char err[320] = "";
	CHECK(dvmq_kdp_create(&c, &k, err, sizeof(err)) == 0);
	CHECK(programs_left() == 0);
	CHECK_MSG(dvmq_kdp_attach(k, err, sizeof(err)) == 0, "%s", err);
	CHECK(xdp_mode_now() == DVMQ_KDP_XDP_NATIVE);
	dvmq_kdp_detach(k);
	CHECK(programs_left() == 0);
	dvmq_kdp_destroy(k);
#endif
}

/* A child attaches and is ended by a signal without destroying anything: the kernel closes its
 * links with its descriptors. */
TEST(kdp_clean_after_sigterm_and_kill)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	const char *why = setup();
	if (why)
		SKIP("%s", why);
	const int sigs[2] = { SIGTERM, SIGKILL };
	for (int i = 0; i < 2; i++) {
		int p[2];
		CHECK(pipe(p) == 0);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			struct dvmq_kdp_config c = cfg_for(0);
			struct dvmq_kdp *k = NULL;
			char err[320];
			char ok = dvmq_kdp_create(&c, &k, err, sizeof(err)) == 0 ? 'y' : 'n';
			if (write(p[1], &ok, 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		close(p[1]);
		char ok = 0;
		CHECK(read(p[0], &ok, 1) == 1 && ok == 'y');
		close(p[0]);
		CHECK(xdp_mode_now() == DVMQ_KDP_XDP_NATIVE);
		kill(pid, sigs[i]);
		int st;
		CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == sigs[i]);
		CHECK_MSG(programs_left() == 0, "after %s: programs left on the device", i ? "kill -9" : "SIGTERM");
	}
#endif
}

/* Every fallible call of create fails in turn (the ones after the attach included): each failure
 * comes back as an error and leaves the device clean. */
TEST(kdp_create_fails_cleanly_at_every_fallible_call)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	const char *why = setup();
	if (why)
		SKIP("%s", why);
	bool after_attach = false;
	unsigned long n;
	for (n = 1; n < 200; n++) {
		struct dvmq_kdp_config c = cfg_for(0);
		struct dvmq_kdp *k = NULL;
		char err[320] = "";
		dvmq_fault_arm(n);
		int rc = dvmq_kdp_create(&c, &k, err, sizeof(err));
		int injected = dvmq_fault_injected();
		dvmq_fault_arm(0);
		if (rc == 0) {
			CHECK(injected == 0 && k);
			dvmq_kdp_destroy(k);
			break;
		}
		CHECK_MSG(rc == injected && !k, "call %lu: create returned %d (%s), injected %d", n, rc, err, injected);
		after_attach |= strstr(err, "after the attach") != NULL;
		CHECK_MSG(programs_left() == 0, "call %lu: programs left on the device (%s)", n, err);
	}
	CHECK_MSG(n > 3 && n < 200, "create made %lu fallible calls", n - 1);
	CHECK_MSG(after_attach, "no failure came after the attach");
	CHECK(programs_left() == 0);
#endif
}

/* Someone else's XDP program: refused, named, left on the device. A dvmq program an older netlink
 * attach left (no link holds it): removed, with its line, and kernel mode attached instead. */
TEST(kdp_foreign_program_refused_stale_one_removed)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	const char *why = setup();
	if (why)
		SKIP("%s", why);
	int ifindex = (int)if_nametoindex(DEV);
	int foreign = pass_prog("theirs");
	CHECK(foreign >= 0 && bpf_xdp_attach(ifindex, foreign, XDP_FLAGS_DRV_MODE, NULL) == 0);
	struct dvmq_kdp_config c = cfg_for(0);
	struct dvmq_kdp *k = NULL;
	char err[320] = "";
	int rc = dvmq_kdp_create(&c, &k, err, sizeof(err));
	CHECK_MSG(rc == -EBUSY && !k && strstr(err, "theirs") && strstr(err, DEV) && strstr(err, "remove it") &&
			  !strstr(err, "afpacket"),
		  "%d: %s", rc, err);
	struct dvmq_xdp_attached a[3];
	CHECK(dvmq_xdp_link_inspect(ifindex, a, 3) == 1 && strcmp(a[0].name, "theirs") == 0);
	uint32_t ids[4], cnt = 4;
	CHECK(bpf_prog_query(ifindex, (enum bpf_attach_type)46, 0, NULL, ids, &cnt) != 0 || cnt == 0);
	/* the daemon's way: load first, attach at start; the refused attach leaves nothing either
	 * (the tc counter goes on before the XDP program: it must come off again) */
	c.defer_attach = true;
	rc = dvmq_kdp_create(&c, &k, err, sizeof(err));
	CHECK_MSG(rc == 0, "%s", err);
	rc = k ? dvmq_kdp_attach(k, err, sizeof(err)) : -1;
	cnt = 4;
	int trc = bpf_prog_query(ifindex, (enum bpf_attach_type)46, 0, NULL, ids, &cnt);
	CHECK_MSG(rc == -EBUSY && strstr(err, "theirs") && (trc != 0 || cnt == 0),
		  "deferred attach: %d (%s), %u tc programs left before destroy", rc, err, trc ? 0u : cnt);
	dvmq_kdp_destroy(k);
	k = NULL;
	c.defer_attach = false;
	CHECK(dvmq_xdp_link_inspect(ifindex, a, 3) == 1 && strcmp(a[0].name, "theirs") == 0);
	CHECK(bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL) == 0);
	close(foreign);

	int stale = pass_prog("dvmq_kern");
	CHECK(stale >= 0 && bpf_xdp_attach(ifindex, stale, XDP_FLAGS_DRV_MODE, NULL) == 0);
	close(stale); /* the netlink attach holds it, as after a crash */
	logged[0] = '\0';
	rc = dvmq_kdp_create(&c, &k, err, sizeof(err));
	CHECK_MSG(rc == 0, "%s", err);
	CHECK_MSG(strstr(logged, "removed XDP program dvmq_kern") && strstr(logged, "earlier dvmq"), "log: %s", logged);
	CHECK(dvmq_xdp_link_inspect(ifindex, a, 3) == 1 && a[0].link_id != 0);
	dvmq_kdp_destroy(k);
	CHECK(programs_left() == 0);
#endif
}

/* Frames sent into the uplink on one processor go to their queue's processor, the other: its
 * cpumap program counts them there and its cpumap kthread spends CPU time; the other processor's
 * kthread none. After a move, the other way round. */
TEST(kdp_frames_follow_the_queue_map)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	const char *why = setup();
	if (why)
		SKIP("%s", why);
	struct dvmq_kdp_config c = cfg_for(0);
	if (c.n_cpus < 2)
		SKIP("needs two processors");
	struct dvmq_kdp *k = NULL;
	char err[320] = "";
	CHECK_MSG(dvmq_kdp_create(&c, &k, err, sizeof(err)) == 0, "%s", err);
	static const uint8_t VM[6] = { 0x02, 0, 0, 0, 0x15, 0x01 }, SRC[6] = { 0x02, 0, 0, 0, 0x15, 0x99 };
	struct dvmq_kdp_filter f = { .queue = 1 };
	memcpy(f.mac, VM, 6);
	CHECK(dvmq_kdp_filter_set(k, &f) == 0);
	int tx = pf_raw_open(PEER);
	CHECK(tx >= 0);
	struct dvmq_kdp_sample *s = dvmq_kdp_sample_new(k);
	CHECK(s);
	for (int round = 0; round < 2; round++) {
		int to = round == 0 ? 1 : 0, other = 1 - to;
		CHECK(dvmq_kdp_queue_move(k, 1, cpus2[to]) == 0 && dvmq_kdp_moves_wait(k) == 0);
		/* from here, once the other kthread is done with the last round's frames (it counts them
		 * before it hands them to the stack): an interval in which it spent nothing */
		CHECK(dvmq_kdp_sample(k, s) == 0);
		for (uint64_t end = pf_now_ms() + 5000; pf_now_ms() < end; ) {
			usleep(20000);
			CHECK(dvmq_kdp_sample(k, s) == 0);
			if (s->cpus[other].kthread_ns == 0)
				break;
		}
		uint8_t fr[128];
		uint32_t n = pf_frame(fr, 128, VM, SRC, 0, 1);
		/* sent from the other processor (the uplink's XDP runs where the sender runs): through
		 * the cpumap; from the queue's own processor they would stay there
		 * (kdp_frame_for_the_receiving_cpu_stays_local) */
		cpu_set_t was, one;
		CHECK(sched_getaffinity(0, sizeof(was), &was) == 0);
		CPU_ZERO(&one);
		CPU_SET(cpus2[other], &one);
		CHECK(sched_setaffinity(0, sizeof(one), &one) == 0);
		for (int i = 0; i < 2000; i++)
			CHECK(pf_raw_send(tx, fr, n) == 0);
		CHECK(sched_setaffinity(0, sizeof(was), &was) == 0);
		uint64_t got = 0, t0 = pf_now_ms();
		uint64_t pk[2] = { 0, 0 }, kt[2] = { 0, 0 };
		while (got < 2000 && pf_now_ms() - t0 < 10000) {
			usleep(20000);
			CHECK(dvmq_kdp_sample(k, s) == 0);
			for (int i = 0; i < 2; i++) {
				pk[i] += s->queues[1].packets[i];
				kt[i] += s->cpus[i].kthread_ns;
			}
			got = pk[0] + pk[1];
		}
		CHECK_MSG(pk[to] == 2000 && pk[other] == 0, "round %d: processor %d processed %lu, processor %d %lu", round,
			  cpus2[to], (unsigned long)pk[to], cpus2[other], (unsigned long)pk[other]);
		CHECK_MSG(kt[to] > 0 && kt[other] == 0, "round %d: kthread CPU time %lu ns on processor %d, %lu on %d",
			  round, (unsigned long)kt[to], cpus2[to], (unsigned long)kt[other], cpus2[other]);
	}
	close(tx);
	dvmq_kdp_sample_free(s);
	dvmq_kdp_destroy(k);
#endif
}

/* The after-GRO counter goes first on the uplink's tc ingress: a host program already there that
 * consumes frames (a redirect, a drop) cannot hide them from the drain. */
TEST(kdp_tc_counter_goes_first)
{
#ifndef DVMQ_HAVE_KDP
	SKIP("built without kernel mode (-Dxdp: libbpf and clang)");
#else
	const char *why = setup();
	if (why)
		SKIP("%s", why);
	/* the host's own program: drops everything (TC_ACT_SHOT) */
	const struct bpf_insn shot[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 2 },
					 { .code = BPF_JMP | BPF_EXIT } };
	int pfd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "host_drop", "GPL", shot, 2, NULL);
	CHECK(pfd >= 0);
	int lfd = bpf_link_create(pfd, (int)if_nametoindex(DEV), (enum bpf_attach_type)46, NULL);
	if (lfd < 0) {
		close(pfd);
		SKIP("no tcx here (%s)", strerror(errno));
	}
	struct dvmq_kdp_config c = cfg_for(0);
	struct dvmq_kdp *k = NULL;
	char err[320] = "";
	CHECK_MSG(dvmq_kdp_create(&c, &k, err, sizeof(err)) == 0, "%s", err);
	CHECK(strstr(dvmq_kdp_describe(k), "drained after GRO"));
	static const uint8_t VM[6] = { 0x02, 0, 0, 0, 0x16, 0x01 }, SRC[6] = { 0x02, 0, 0, 0, 0x16, 0x99 };
	struct dvmq_kdp_filter f = { .queue = 1 };
	memcpy(f.mac, VM, 6);
	CHECK(dvmq_kdp_filter_set(k, &f) == 0);
	int tx = pf_raw_open(PEER);
	CHECK(tx >= 0);
	uint8_t fr[128];
	uint32_t n = pf_frame(fr, 128, VM, SRC, 0, 1);
	for (int i = 0; i < 100; i++)
		CHECK(pf_raw_send(tx, fr, n) == 0);
	/* every frame counted at tc ingress (delivered), on queue 1's processor */
	int qfd = dvmq_kdp_fd(k, DVMQ_KDP_FD_QSTATS), ncpu = libbpf_num_possible_cpus();
	uint64_t delivered = 0;
	for (uint64_t end = pf_now_ms() + 5000; pf_now_ms() < end && delivered < 100; usleep(10000)) {
		struct dvmq_kern_qstat v[64];
		uint32_t q = 1;
		delivered = 0;
		CHECK(ncpu > 0 && ncpu <= 64 && bpf_map_lookup_elem(qfd, &q, v) == 0);
		for (int i = 0; i < ncpu; i++)
			delivered += v[i].delivered;
	}
	CHECK_MSG(delivered == 100, "%lu of 100 frames counted after GRO (the host's drop went first)",
		  (unsigned long)delivered);
	close(tx);
	dvmq_kdp_destroy(k);
	close(lfd);
	close(pfd);
#endif
}
