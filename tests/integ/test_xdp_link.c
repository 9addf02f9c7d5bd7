/* XDP on a device only through a link the process owns (src/port/xdp_link.c), in a private
 * network namespace on veths and a bridge named dvt* (root; skipped with the reason otherwise):
 * the device is clean after the port closes, after its process exits without closing it or is
 * killed, and after an open that fails once the program is on (fault injection); a program of
 * someone else's is refused and left as it was; a dvmq program an older netlink attach left is
 * removed, with its line; a running dvmq's program is refused with its PID. */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"
#include "../../src/fault/fault.h"
#include "dvmq/port.h"
#include "port_fixture.h"

#ifdef DVMQ_HAVE_XDP
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#include "../../src/port/xdp_link.h"

/* Up to 2 s for the kernel to release a closed link (its release may be deferred). Returns the
 * number of programs still on the device. */
static int settle_clean(const char *ifname)
{
	int n = -1;
	for (uint64_t end = pf_now_ms() + 2000; pf_now_ms() < end; usleep(10000)) {
		struct dvmq_xdp_attached a[3];
		n = dvmq_xdp_link_inspect((int)if_nametoindex(ifname), a, 3);
		if (n == 0)
			break;
	}
	return n;
}

static int veth(void)
{
	/* the peer without checksum offload, as a NIC's link partner: else afxdp's fallback takes
	 * the veth for that reason (test_port_faults.c port_afxdp_on_a_veth_...) */
	return pf_sh("ip link add dvtxa type veth peer name dvtxb && ip link set dvtxa up && ip link set dvtxb up && "
		     "ethtool -K dvtxb tx off >/dev/null");
}

/* An XDP_PASS program of the given name, loaded (not attached). Returns its fd or -errno. */
static int pass_prog(const char *name)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	return bpf_prog_load(BPF_PROG_TYPE_XDP, name, "GPL", insns, 2, NULL);
}

static char logged[2048]; /* every line logged, one after the other */

static void keep_log(void *ctx, const char *line)
{
	(void)ctx;
	size_t l = strlen(logged);
	snprintf(logged + l, sizeof(logged) - l, "%s\n", line);
}

static const char *setup(void)
{
	const char *skip = pf_private_net();
	if (skip)
		return skip;
	if (veth())
		return "cannot create a veth pair";
	logged[0] = '\0';
	return NULL;
}

/* The one program on ifname: 1 and *a filled, or how many there are. */
static int only_prog(const char *ifname, struct dvmq_xdp_attached *a)
{
	struct dvmq_xdp_attached all[3];
	int n = dvmq_xdp_link_inspect((int)if_nametoindex(ifname), all, 3);
	if (n == 1)
		*a = all[0];
	return n;
}

static void check_mode_clean(int mode, const char *mode_name)
{
	const char *skip = setup();
	if (skip)
		SKIP("%s", skip);
	struct dvmq_port_kopts o = { .xdp_mode = mode, .log = keep_log };
	struct dvmq_port *p = NULL;
	char err[320] = "";
	int rc = dvmq_port_afxdp_open("dvtxa", &o, &p, err, sizeof(err));
	CHECK_MSG(rc == 0, "afxdp open: %d %s", rc, err);
	CHECK_MSG(strstr(logged, mode_name) && strstr(logged, "BPF link"), "open line: %s", logged);
	struct dvmq_xdp_attached a;
	CHECK(only_prog("dvtxa", &a) == 1);
	CHECK_MSG(strncmp(a.name, "dvmq_xdp", 8) == 0 && a.link_id != 0 && a.pid == getpid() && a.mode == mode,
		  "%s id %u link %u pid %d mode %d", a.name, a.prog_id, a.link_id, a.pid, a.mode);
	dvmq_port_destroy(p);
	CHECK_MSG(settle_clean("dvtxa") == 0, "a program is still on dvtxa after the port closed");
}

TEST(port_xdp_link_native_leaves_the_device_clean)
{
	check_mode_clean(DVMQ_XDP_LINK_NATIVE, "native XDP");
}

TEST(port_xdp_link_generic_leaves_the_device_clean)
{
	check_mode_clean(DVMQ_XDP_LINK_GENERIC, "generic XDP");
}

/* auto on a device without native XDP (a bridge): generic, and a line that says it is slow */
TEST(port_xdp_link_auto_falls_to_generic_with_a_line)
{
	const char *skip = setup();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtxbr type bridge && ip link set dvtxbr up") == 0);
	int fd = pass_prog("dvmq_test");
	CHECK_MSG(fd >= 0, "loading a program: %d", fd);
	int link = -1;
	char how[64] = "", err[320] = "";
	int rc = dvmq_xdp_link_attach((int)if_nametoindex("dvtxbr"), fd, DVMQ_XDP_LINK_AUTO, &link, how, sizeof(how),
				      keep_log, NULL, err, sizeof(err));
	CHECK_MSG(rc == 0, "attach: %d %s", rc, err);
	CHECK_MSG(strcmp(how, "BPF link, generic XDP") == 0, "how: %s", how);
	CHECK_MSG(strstr(logged, "dvtxbr: no native XDP here") && strstr(logged, "slow"), "line: %s", logged);
	close(link);
	close(fd);
	CHECK(settle_clean("dvtxbr") == 0);
}

/* an open that fails after the program went on (the first UMEM: fault injection) */
TEST(port_xdp_link_failed_open_leaves_the_device_clean)
{
	const char *skip = setup();
	if (skip)
		SKIP("%s", skip);
	for (int mode = DVMQ_XDP_LINK_NATIVE; mode <= DVMQ_XDP_LINK_GENERIC; mode++) {
		struct dvmq_port_kopts o = { .xdp_mode = mode };
		struct dvmq_port *p = NULL;
		char err[320] = "";
		dvmq_fault_arm(1);
		int rc = dvmq_port_afxdp_open("dvtxa", &o, &p, err, sizeof(err));
		int injected = dvmq_fault_injected();
		dvmq_fault_arm(0);
		CHECK_MSG(rc == -ENOMEM && injected == -ENOMEM, "mode %d: open %d (%s), injected %d", mode, rc, err,
			  injected);
		/* in this very process: the failed open itself took the program off */
		struct dvmq_xdp_attached a[3];
		CHECK_MSG(dvmq_xdp_link_inspect((int)if_nametoindex("dvtxa"), a, 3) == 0 || settle_clean("dvtxa") == 0,
			  "mode %d: a program is still on dvtxa after the failed open", mode);
	}
}

/* A child opens the port and tells us; then it exits without closing it, or is killed. */
static pid_t holder(int mode, int how_ends, int *ready_fd)
{
	int pfd[2];
	if (pipe(pfd))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		struct dvmq_port_kopts o = { .xdp_mode = mode };
		struct dvmq_port *p = NULL;
		char err[320];
		char ok = dvmq_port_afxdp_open("dvtxa", &o, &p, err, sizeof(err)) == 0 ? 'y' : 'n';
		if (write(pfd[1], &ok, 1) != 1 || ok != 'y' || how_ends == 0)
			_exit(0); /* the port never closed: only the process's end takes the link */
		pause();
		_exit(0);
	}
	close(pfd[1]);
	*ready_fd = pfd[0];
	return pid;
}

TEST(port_xdp_link_exit_and_kill_leave_the_device_clean)
{
	const char *skip = setup();
	if (skip)
		SKIP("%s", skip);
	static const int sigs[] = { 0, SIGTERM, SIGKILL };
	for (int mode = DVMQ_XDP_LINK_NATIVE; mode <= DVMQ_XDP_LINK_GENERIC; mode++)
		for (int s = 0; s < 3; s++) {
			int rfd;
			pid_t pid = holder(mode, sigs[s], &rfd);
			CHECK(pid > 0);
			char ok = 'n';
			ssize_t got = read(rfd, &ok, 1);
			close(rfd);
			if (sigs[s])
				kill(pid, sigs[s]);
			waitpid(pid, NULL, 0);
			CHECK_MSG(got == 1 && ok == 'y', "mode %d: the child could not open the port", mode);
			CHECK_MSG(settle_clean("dvtxa") == 0, "mode %d, signal %d: a program is still on dvtxa", mode,
				  sigs[s]);
		}
}

TEST(port_xdp_link_refuses_a_foreign_program_and_leaves_it)
{
	const char *skip = setup();
	if (skip)
		SKIP("%s", skip);
	int fd = pass_prog("dvt_foreign");
	CHECK_MSG(fd >= 0, "loading a program: %d", fd);
	CHECK(bpf_xdp_attach((int)if_nametoindex("dvtxa"), fd, XDP_FLAGS_DRV_MODE, NULL) == 0);
	struct dvmq_xdp_attached before, after;
	CHECK(only_prog("dvtxa", &before) == 1);
	struct dvmq_port_kopts o = { .log = keep_log };
	struct dvmq_port *p = NULL;
	char err[320] = "", id[32];
	int rc = dvmq_port_afxdp_open("dvtxa", &o, &p, err, sizeof(err));
	snprintf(id, sizeof(id), "(id %u,", before.prog_id);
	CHECK_MSG(rc == -EBUSY && strstr(err, "afxdp dvtxa: another XDP program") && strstr(err, "dvt_foreign") &&
		  strstr(err, id) && strstr(err, "or use the afpacket port"), "open: %d %s", rc, err);
	CHECK(only_prog("dvtxa", &after) == 1 && after.prog_id == before.prog_id && after.link_id == 0);
	/* with the fallback, afpacket serves the device; the program stays all the same */
	o.fallback = 1;
	rc = dvmq_port_afxdp_open("dvtxa", &o, &p, err, sizeof(err));
	CHECK_MSG(rc == 0 && strcmp(p->ops->kind, "afpacket") == 0 && strstr(logged, "dvt_foreign"), "fallback: %d %s",
		  rc, logged);
	dvmq_port_destroy(p);
	CHECK(only_prog("dvtxa", &after) == 1 && after.prog_id == before.prog_id);
	close(fd);
}

/* what an older dvmq's netlink attach left (the bug this module fixes): removed, said */
TEST(port_xdp_link_removes_a_stale_dvmq_program_with_a_line)
{
	const char *skip = setup();
	if (skip)
		SKIP("%s", skip);
	int fd = pass_prog("dvmq_xdp");
	CHECK_MSG(fd >= 0, "loading a program: %d", fd);
	CHECK(bpf_xdp_attach((int)if_nametoindex("dvtxa"), fd, XDP_FLAGS_SKB_MODE, NULL) == 0);
	close(fd); /* a netlink attach outlives its descriptor, and its process */
	struct dvmq_xdp_attached stale, now;
	CHECK(only_prog("dvtxa", &stale) == 1 && stale.link_id == 0);
	struct dvmq_port_kopts o = { .xdp_mode = DVMQ_XDP_LINK_GENERIC, .log = keep_log };
	struct dvmq_port *p = NULL;
	char err[320] = "", want[96];
	int rc = dvmq_port_afxdp_open("dvtxa", &o, &p, err, sizeof(err));
	CHECK_MSG(rc == 0, "open: %d %s", rc, err);
	CHECK(only_prog("dvtxa", &now) == 1 && now.prog_id != stale.prog_id && now.link_id != 0);
	dvmq_port_destroy(p);
	snprintf(want, sizeof(want), "dvtxa: removed XDP program dvmq_xdp (id %u, generic mode)", stale.prog_id);
	CHECK_MSG(strstr(logged, want), "lines: %s", logged);
	CHECK(settle_clean("dvtxa") == 0);
}

TEST(port_xdp_link_refuses_a_running_dvmqs_program_naming_its_pid)
{
	const char *skip = setup();
	if (skip)
		SKIP("%s", skip);
	int rfd;
	pid_t pid = holder(DVMQ_XDP_LINK_NATIVE, SIGKILL, &rfd);
	CHECK(pid > 0);
	char ok = 'n';
	ssize_t got = read(rfd, &ok, 1);
	close(rfd);
	struct dvmq_port *p = NULL;
	char err[320] = "", want[64];
	int rc = got == 1 && ok == 'y' ? dvmq_port_afxdp_open("dvtxa", NULL, &p, err, sizeof(err)) : -1;
	struct dvmq_xdp_attached a = { 0 };
	int n = only_prog("dvtxa", &a);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	snprintf(want, sizeof(want), "pid %d holds its BPF link", (int)pid);
	CHECK_MSG(rc == -EBUSY && strstr(err, "is attached by a running dvmq") && strstr(err, want), "open: %d %s", rc,
		  err);
	CHECK(n == 1 && a.pid == pid); /* the running one's program was left alone */
}
#endif
