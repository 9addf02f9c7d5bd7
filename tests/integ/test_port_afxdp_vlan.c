/* VLAN tags through an afxdp uplink, in a private network namespace (root; skipped with the
 * reason otherwise). The outside sends on a veth (dvtqx) whose tc egress program pushes a VLAN
 * tag (the sending socket's SO_MARK: 5 or 7) with bpf_skb_vlan_push, which keeps it beside the
 * frame (skb metadata, as a VLAN device on a txvlan-on veth does; this kernel has no 8021q),
 * never in its bytes: as from a NIC with rxvlan on. The other end (dvtqu) is dvmq's afxdp
 * uplink. Two VMs on TAP ports (dvtq1 on VLAN 5, dvtq2 on VLAN 7; raw sockets on the TAP netdevs
 * stand for their stacks), a hub thread doing what the daemon's rx thread does with the uplink. Each tagged frame must reach the VM of its
 * VLAN and nobody else: an XDP program that does not put the stripped tag back delivers none. */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#ifdef DVMQ_HAVE_XDP /* libbpf linked (meson: have_xdp), not merely its header present */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#define HAVE_LIBBPF 1
#endif

#include "../harness.h"
#include "dvmq/dp.h"
#include "port_fixture.h"

#define SEC 1000000000ull

static const uint8_t MAC1[6] = { 0x02, 0, 0, 0, 0x71, 0x01 };
static const uint8_t MAC2[6] = { 0x02, 0, 0, 0, 0x71, 0x02 };
static const uint8_t OUT[6] = { 0x02, 0, 0, 0, 0x71, 0x99 };

struct vrig {
	struct dvmq_dp *dp;
	struct dvmq_port *up, *vm[2];
	uint32_t id[2];
	int raw_vm[2], raw_v5, raw_v7, prog_fd;
	pthread_t hub;
	bool hub_running;
	_Atomic bool stop;
	char line[320]; /* the port's open line */
};

static void *hub_main(void *arg)
{
	struct vrig *r = arg;
	if (dvmq_dp_thread_register() != 0)
		return NULL;
	struct dvmq_pkt pk[DVMQ_BURST];
	struct dvmq_offload off[DVMQ_BURST];
	while (!atomic_load(&r->stop)) {
		struct pollfd pfd = { .fd = dvmq_port_fd(r->up), .events = POLLIN };
		poll(&pfd, 1, 5);
		int n = dvmq_port_rx_burst_off(r->up, pk, off, DVMQ_BURST);
		if (n > 0)
			dvmq_dp_classify_off(r->dp, pk, off, (unsigned)n);
	}
	dvmq_dp_thread_unregister();
	return NULL;
}

static void keep_line(void *ctx, const char *line)
{
	snprintf(((struct vrig *)ctx)->line, sizeof(((struct vrig *)ctx)->line), "%s", line);
}

#ifdef HAVE_LIBBPF
/* tc egress on dvtqx: a frame sent with a mark gets VLAN tag <mark> pushed beside it (skb
 * metadata), unmarked frames pass as they are. Returns 0 or -errno. */
static int push_vlan_by_mark(struct vrig *r)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3, .src_reg = 1,
		  .off = (int16_t)offsetof(struct __sk_buff, mark) },
		{ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = 3, .off = 2, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 2, .imm = htons(ETH_P_8021Q) },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_skb_vlan_push },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 /* TC_ACT_OK */ },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	r->prog_fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "dvtq_vlan_push", "GPL", insns,
				   sizeof(insns) / sizeof(insns[0]), NULL);
	if (r->prog_fd < 0)
		return r->prog_fd;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)if_nametoindex("dvtqx"), .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = r->prog_fd);
	int rc = bpf_tc_hook_create(&hook);
	return rc && rc != -EEXIST ? rc : bpf_tc_attach(&hook, &to);
}

static int raw_marked(uint32_t mark)
{
	int fd = pf_raw_open("dvtqx");
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}
#endif

/* Returns 0, -EOPNOTSUPP when dvmq was built without AF_XDP (err says so), else -errno/-1. */
static int vrig_start(struct vrig *r, char *err, size_t el)
{
	memset(r, 0, sizeof(*r));
	r->raw_vm[0] = r->raw_vm[1] = r->raw_v5 = r->raw_v7 = r->prog_fd = -1;
	/* txvlan on (veth's default): the tag stays beside the frame through the veth */
	if (pf_sh("ip link add dvtqu type veth peer name dvtqx && ethtool -K dvtqx txvlan on >/dev/null && "
		  "ip link set dvtqu up && ip link set dvtqx up"))
		return snprintf(err, el, "veth"), -1;
	int rc;
#ifdef HAVE_LIBBPF
	rc = push_vlan_by_mark(r);
	if (rc)
		return snprintf(err, el, "tc program pushing VLAN tags: %d", rc), -1;
#else
	return snprintf(err, el, "built without AF_XDP (no libbpf)"), -EOPNOTSUPP;
#endif
	struct dvmq_port_kopts o = { .log = keep_line, .log_ctx = r };
	rc = dvmq_port_afxdp_open("dvtqu", &o, &r->up, err, el);
	if (rc)
		return rc;
	const char *tap[2] = { "dvtq1", "dvtq2" };
	for (int i = 0; i < 2; i++) {
		if ((rc = dvmq_port_tap_open(tap[i], NULL, &r->vm[i], err, el)) != 0)
			return rc;
		if (pf_sh("ip link set %s up", tap[i]))
			return snprintf(err, el, "%s up", tap[i]), -1;
		if ((r->raw_vm[i] = pf_raw_open(tap[i])) < 0)
			return snprintf(err, el, "raw %s", tap[i]), -1;
	}
#ifdef HAVE_LIBBPF
	if ((r->raw_v5 = raw_marked(5)) < 0 || (r->raw_v7 = raw_marked(7)) < 0)
		return snprintf(err, el, "raw sockets with marks"), -1;
#endif
	struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 3, .queue_depth = 256, .mtu = 1500,
				      .max_vms = 4, .fdb_size = 64, .fdb_age_ns = 60 * SEC, .lossless = true };
	if ((rc = dvmq_dp_create(&cfg, &r->dp)) != 0)
		return snprintf(err, el, "dp create"), rc;
	if ((rc = dvmq_dp_vm_add(r->dp, MAC1, 5, 0.0, r->vm[0], &r->id[0])) != 0 ||
	    (rc = dvmq_dp_vm_add(r->dp, MAC2, 7, 0.0, r->vm[1], &r->id[1])) != 0)
		return snprintf(err, el, "vm add"), rc;
	if ((rc = dvmq_dp_vm_set_queue(r->dp, r->id[1], 1)) != 0 || (rc = dvmq_dp_set_uplink(r->dp, r->up)) != 0)
		return snprintf(err, el, "queue or uplink"), rc;
	if (pthread_create(&r->hub, NULL, hub_main, r) != 0)
		return snprintf(err, el, "hub thread"), -1;
	r->hub_running = true;
	return 0;
}

static void vrig_stop(struct vrig *r)
{
	atomic_store(&r->stop, true);
	if (r->hub_running)
		pthread_join(r->hub, NULL);
	dvmq_dp_destroy(r->dp);
	int fds[5] = { r->raw_vm[0], r->raw_vm[1], r->raw_v5, r->raw_v7, r->prog_fd };
	for (int i = 0; i < 5; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (int i = 0; i < 2; i++)
		dvmq_port_destroy(r->vm[i]);
	dvmq_port_destroy(r->up);
}

/* Waits up to timeout_ms for the test frame seq on raw socket fd; returns its length or 0. */
static int wait_seq(int fd, uint32_t seq, uint8_t *buf, uint32_t cap, int timeout_ms)
{
	uint64_t end = pf_now_ms() + (uint64_t)timeout_ms;
	while (pf_now_ms() < end) {
		int n = pf_raw_recv(fd, buf, cap, 50);
		if (n > 0 && pf_frame_seq(buf, (uint32_t)n) == (int64_t)seq)
			return n;
	}
	return 0;
}

TEST(port_afxdp_vlan_tags_kept_beside_the_frame_reach_the_vlans_vm)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct vrig r;
	char err[256] = "";
	int rc = vrig_start(&r, err, sizeof(err));
	if (rc == -EOPNOTSUPP && strstr(err, "built without"))
		SKIP("%s", err);
	CHECK_MSG(rc == 0, "setup: %d %s", rc, err);
	/* veth hands XDP its VLAN tags since Linux 6.8: skip only below that; from 6.8 on the same
	 * line means the program failed to load or attach, which is a failure */
	struct utsname u;
	unsigned major = 0, minor = 0;
	if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2 && (major < 6 || (major == 6 && minor < 8)))
		SKIP("Linux %s: veth has no XDP VLAN metadata before 6.8 (%s)", u.release, r.line);
	CHECK_MSG(strstr(r.line, "VLAN tags the driver strips put back") != NULL, "open line: %s", r.line);
	uint8_t f[512], got[600];
	uint32_t seq = 1;

	/* VLAN 5 to VM1: arrives untagged, as built; VM2 (VLAN 7) sees nothing */
	uint32_t len = pf_frame(f, 200, MAC1, OUT, 0, seq);
	CHECK(pf_raw_send(r.raw_v5, f, len) == 0);
	int n = wait_seq(r.raw_vm[0], seq, got, sizeof(got), 10000);
	CHECK_MSG(n == (int)len && memcmp(got, f, len) == 0, "VM1 got %d bytes of %u from VLAN 5", n, len);
	CHECK(wait_seq(r.raw_vm[1], seq, got, sizeof(got), 200) == 0);

	/* VLAN 7 to VM2 (through its own queue) */
	len = pf_frame(f, 300, MAC2, OUT, 0, ++seq);
	CHECK(pf_raw_send(r.raw_v7, f, len) == 0);
	n = wait_seq(r.raw_vm[1], seq, got, sizeof(got), 10000);
	CHECK_MSG(n == (int)len && memcmp(got, f, len) == 0, "VM2 got %d bytes of %u from VLAN 7", n, len);

	/* VM1's MAC on VLAN 7: not VM1's VLAN (VM2 may get it as unknown unicast flooded on VLAN 7) */
	len = pf_frame(f, 100, MAC1, OUT, 0, ++seq);
	CHECK(pf_raw_send(r.raw_v7, f, len) == 0);
	CHECK(wait_seq(r.raw_vm[0], seq, got, sizeof(got), 300) == 0);

	struct dvmq_afxdp_counters xc;
	CHECK(dvmq_port_afxdp_counters(r.up, &xc) == 0);
	CHECK_MSG(xc.vlan_restored >= 3 && xc.vlan_unread == 0 && xc.vlan_no_room == 0,
		  "tags put back %llu, unread %llu, no room %llu", (unsigned long long)xc.vlan_restored,
		  (unsigned long long)xc.vlan_unread, (unsigned long long)xc.vlan_no_room);
	vrig_stop(&r);
}
