/* Kernel ports when the world changes under them (root, private namespaces): a link set down and
 * up again, a device deleted. The port reports (-ENETDOWN once, -ENODEV for good), counts what it
 * could not send, never crashes, and never spins: its descriptor stops polling ready once the
 * event was reported. Without privileges, each open names the capability it lacks; afxdp falls
 * back to afpacket with one log line where AF_XDP cannot be used. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"
#include "port_fixture.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static const uint8_t MAC_A[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b };

typedef int (*open_fn)(const char *, const struct dvmq_port_kopts *, struct dvmq_port **, char *, size_t);

/* rx_burst until it reports something other than "nothing now" or the deadline passes. */
static int rx_until_event(struct dvmq_port *p, int timeout_ms)
{
	uint64_t end = pf_now_ms() + (uint64_t)timeout_ms;
	struct dvmq_pkt pk[DVMQ_BURST];
	for (;;) {
		int n = dvmq_port_rx_burst(p, pk, DVMQ_BURST);
		if (n != 0 || pf_now_ms() >= end)
			return n;
		struct pollfd pfd = { .fd = dvmq_port_fd(p), .events = POLLIN };
		poll(&pfd, 1, 20);
	}
}

/* After an event was reported, the descriptor must not keep polling ready (a spinning rx thread):
 * rx_burst is called as an epoll loop would, and must come back empty-handed each time. */
static int spins(struct dvmq_port *p)
{
	int ready = 0;
	for (int i = 0; i < 20; i++) {
		struct pollfd pfd = { .fd = dvmq_port_fd(p), .events = POLLIN };
		if (poll(&pfd, 1, 10) > 0) {
			struct dvmq_pkt pk[DVMQ_BURST];
			int n = dvmq_port_rx_burst(p, pk, DVMQ_BURST);
			ready += n == 0;
		}
	}
	return ready > 10;
}

static int send_one(struct dvmq_port *p, uint32_t seq)
{
	uint8_t fr[128];
	struct dvmq_pkt pk = { .data = fr, .len = pf_frame(fr, 100, MAC_B, MAC_A, 0, seq) };
	return (int)dvmq_port_tx_burst(p, &pk, 1, 0);
}

/* The port on dvtpa, the peer on dvtpb: down, up, traffic again, then deleted. */
static void link_events(open_fn op, const struct dvmq_port_kopts *o, const char *kind, const char *dev,
			const char *peer_dev, bool is_tap)
{
	char err[256] = "";
	struct dvmq_port *p;
	if (!is_tap)
		CHECK(pf_sh("ip link set %s up", dev) == 0);
	int rc = op(dev, o, &p, err, sizeof(err));
	if (rc == -EOPNOTSUPP && strstr(err, "built without"))
		SKIP("%s", err);
	CHECK_MSG(rc == 0, "%s open: %d %s", kind, rc, err);
	CHECK(pf_sh("ip link set %s up", dev) == 0);
	int peer = pf_raw_open(peer_dev);
	CHECK(peer >= 0);

	/* down: rx reports it at most once, then rests; what is sent is dropped and counted */
	CHECK(pf_sh("ip link set %s down", dev) == 0);
	rc = rx_until_event(p, 500);
	CHECK_MSG(rc == 0 || rc == -ENETDOWN, "%s: rx on a down link: %d", kind, rc);
	CHECK_MSG(!spins(p), "%s: the descriptor keeps polling ready on a down link", kind);
	struct dvmq_port_stats st;
	int sent = send_one(p, 1);
	dvmq_port_stats(p, &st);
	CHECK_MSG(sent == 0 && st.tx_dropped == 1, "%s: tx on a down link: sent %d, dropped %llu", kind, sent,
		  (unsigned long long)st.tx_dropped);
	CHECK_MSG(st.link_events >= 1, "%s: link_events %llu", kind, (unsigned long long)st.link_events);

	/* up again: both directions work */
	CHECK(pf_sh("ip link set %s up", dev) == 0);
	uint8_t fr[128], buf[256];
	uint32_t len = pf_frame(fr, 100, MAC_A, MAC_B, 0, 2);
	bool back = false;
	for (int tries = 0; tries < 50 && !back; tries++) {
		CHECK(pf_raw_send(peer, fr, len) == 0);
		uint8_t *g[1] = { buf };
		uint32_t gl[1];
		back = pf_port_collect(p, g, gl, sizeof(buf), 1, 100, NULL) == 1;
	}
	CHECK_MSG(back, "%s: no frame received after the link came back up", kind);
	CHECK_MSG(send_one(p, 3) == 1, "%s: tx after the link came back up", kind);

	/* deleted: -ENODEV, for good; tx drops and counts; no spinning */
	CHECK(pf_sh("ip link del %s", is_tap ? dev : peer_dev) == 0);
	rc = rx_until_event(p, 10000);
	CHECK_MSG(rc == -ENODEV, "%s: rx after the device was deleted: %d", kind, rc);
	CHECK_MSG(dvmq_port_rx_burst(p, (struct dvmq_pkt[DVMQ_BURST]){ { 0 } }, DVMQ_BURST) == -ENODEV,
		  "%s: -ENODEV must stay", kind);
	dvmq_port_stats(p, &st);
	uint64_t dropped = st.tx_dropped;
	CHECK_MSG(send_one(p, 4) == 0, "%s: tx to a deleted device", kind);
	dvmq_port_stats(p, &st);
	CHECK(st.tx_dropped == dropped + 1);
	close(peer);
	dvmq_port_destroy(p);
}

TEST(port_tap_link_down_up_and_deleted)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	link_events(dvmq_port_tap_open, NULL, "tap", "dvtp0", "dvtp0", true);
}

TEST(port_afpacket_ring_link_down_up_and_deleted)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpb up") == 0);
	struct dvmq_port_kopts o = { .afpacket_rx = DVMQ_AFPACKET_RX_RING };
	link_events(dvmq_port_afpacket_open, &o, "afpacket (ring)", "dvtpa", "dvtpb", false);
}

TEST(port_afpacket_copy_link_down_up_and_deleted)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpb up") == 0);
	struct dvmq_port_kopts o = { .afpacket_rx = DVMQ_AFPACKET_RX_COPY };
	link_events(dvmq_port_afpacket_open, &o, "afpacket (recvmmsg)", "dvtpa", "dvtpb", false);
}

TEST(port_afxdp_link_down_up_and_deleted)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpb up") == 0);
	link_events(dvmq_port_afxdp_open, NULL, "afxdp", "dvtpa", "dvtpb", false);
}

struct log_lines {
	int n;
	char last[512];
};

static void log_line(void *ctx, const char *line)
{
	struct log_lines *l = ctx;
	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", line);
}

/* Checks one open: refused with -EPERM and a single line naming `cap`. */
static int refused_naming(open_fn op, const char *dev, const struct dvmq_port_kopts *o, const char *cap,
			  char *why, size_t wl)
{
	struct dvmq_port *p = NULL;
	char err[512] = "";
	int rc = op(dev, o, &p, err, sizeof(err));
	if (rc == 0) {
		dvmq_port_destroy(p);
		return snprintf(why, wl, "opened although %s is missing", cap), -1;
	}
	if (rc == -EOPNOTSUPP && strstr(err, "built without"))
		return 1;
	if (rc != -EPERM || !strstr(err, cap) || strchr(err, '\n'))
		return snprintf(why, wl, "rc %d, message '%s' (wanted -EPERM naming %s)", rc, err, cap), -1;
	return 0;
}

/* An unprivileged user (uid 65534, no capabilities): every kernel port says what it lacks. */
TEST(port_unprivileged_opens_name_the_capability)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpa up && ip link set dvtpb up") == 0);
	CHECK(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0);
	char why[600];
	int r = refused_naming(dvmq_port_tap_open, "dvtp9", NULL, "CAP_NET_ADMIN", why, sizeof(why));
	CHECK_MSG(r == 0, "tap: %s", why);
	r = refused_naming(dvmq_port_afpacket_open, "dvtpa", NULL, "CAP_NET_RAW", why, sizeof(why));
	CHECK_MSG(r == 0, "afpacket: %s", why);
	r = refused_naming(dvmq_port_afxdp_open, "dvtpa", NULL, "CAP_BPF", why, sizeof(why));
	CHECK_MSG(r >= 0, "afxdp: %s", why);
	/* the fallback cannot help: both reasons on one line, no log line */
	struct log_lines l = { 0, "" };
	struct dvmq_port_kopts o = { .fallback = 1, .log = log_line, .log_ctx = &l };
	r = refused_naming(dvmq_port_afxdp_open, "dvtpa", &o, "CAP_NET_RAW", why, sizeof(why));
	CHECK_MSG(r >= 0, "afxdp with fallback: %s", why);
	CHECK(l.n == 0);
}

/* Root with one capability taken away at a time: the message names exactly that one. */
TEST(port_each_missing_capability_is_named)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpa up && ip link set dvtpb up") == 0);
	static const struct {
		int drop[3];
		open_fn op;
		const char *name, *cap;
	} cases[] = {
		{ { CAP_NET_ADMIN, -1 }, dvmq_port_tap_open, "tap", "CAP_NET_ADMIN" },
		{ { CAP_NET_RAW, -1 }, dvmq_port_afpacket_open, "afpacket", "CAP_NET_RAW" },
		{ { CAP_NET_RAW, -1 }, dvmq_port_afxdp_open, "afxdp", "CAP_NET_RAW" },
		/* CAP_SYS_ADMIN too: it also grants BPF links (bpf_net_capable) */
		{ { CAP_NET_ADMIN, CAP_SYS_ADMIN, -1 }, dvmq_port_afxdp_open, "afxdp", "CAP_NET_ADMIN" },
		{ { CAP_BPF, CAP_SYS_ADMIN, -1 }, dvmq_port_afxdp_open, "afxdp", "CAP_BPF" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(pf_drop_caps(cases[i].drop) == 0);
		char why[600];
		int r = refused_naming(cases[i].op, cases[i].op == dvmq_port_tap_open ? "dvtp9" : "dvtpa", NULL,
				       cases[i].cap, why, sizeof(why));
		CHECK_MSG(r >= 0, "%s without %s: %s", cases[i].name, cases[i].cap, why);
		CHECK(pf_drop_caps((const int[]){ -1 }) == 0);
		/* effective capabilities come back from the permitted set */
		struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
		struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
		CHECK(syscall(SYS_capget, &h, d) == 0);
		d[0].effective = d[0].permitted;
		d[1].effective = d[1].permitted;
		CHECK(syscall(SYS_capset, &h, d) == 0);
	}
}

/* Without CAP_BPF AF_XDP cannot be used at all: with fallback, afpacket and exactly one line. */
TEST(port_afxdp_falls_back_to_afpacket_with_one_line)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpa up && ip link set dvtpb up && "
		    "ethtool -K dvtpb tx off >/dev/null") == 0); /* else the fallback is for the checksums */
	CHECK(pf_drop_caps((const int[]){ CAP_BPF, CAP_SYS_ADMIN, -1 }) == 0);
	struct log_lines l = { 0, "" };
	struct dvmq_port_kopts o = { .fallback = 1, .log = log_line, .log_ctx = &l };
	struct dvmq_port *p;
	char err[512] = "";
	int rc = dvmq_port_afxdp_open("dvtpa", &o, &p, err, sizeof(err));
	CHECK_MSG(rc == 0, "%d %s", rc, err);
	CHECK_MSG(strcmp(p->ops->kind, "afpacket") == 0, "kind %s", p->ops->kind);
	CHECK_MSG(l.n == 1 && strstr(l.last, "afpacket") && (strstr(l.last, "CAP_BPF") || strstr(l.last, "built without")),
		  "%d lines, last: %s", l.n, l.last);
	/* and it carries traffic */
	int peer = pf_raw_open("dvtpb");
	CHECK(peer >= 0);
	uint8_t fr[128], buf[256];
	uint32_t len = pf_frame(fr, 100, MAC_A, MAC_B, 0, 5);
	CHECK(pf_raw_send(peer, fr, len) == 0);
	uint8_t *g[1] = { buf };
	uint32_t gl[1];
	CHECK(pf_port_collect(p, g, gl, sizeof(buf), 1, 2000, NULL) == 1);
	struct dvmq_afxdp_counters xc;
	CHECK(dvmq_port_afxdp_counters(p, &xc) == -EINVAL);
	close(peer);
	dvmq_port_destroy(p);
}

/* A device a running dvmq's program holds (here: this process's first port): no clobbering, the
 * message names the holder; the fallback takes over with one line. Foreign programs:
 * test_xdp_link.c. */
TEST(port_afxdp_never_replaces_another_program)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpa up && ip link set dvtpb up && "
		    "ethtool -K dvtpb tx off >/dev/null") == 0);
	struct dvmq_port *first, *second;
	char err[512] = "";
	int rc = dvmq_port_afxdp_open("dvtpa", NULL, &first, err, sizeof(err));
	if (rc == -EOPNOTSUPP && strstr(err, "built without"))
		SKIP("%s", err);
	CHECK_MSG(rc == 0, "%d %s", rc, err);
	rc = dvmq_port_afxdp_open("dvtpa", NULL, &second, err, sizeof(err));
	CHECK_MSG(rc == -EBUSY && strstr(err, "is attached by a running dvmq") && strstr(err, "(this process)"),
		  "second open: %d %s", rc, err);
	struct log_lines l = { 0, "" };
	struct dvmq_port_kopts o = { .fallback = 1, .log = log_line, .log_ctx = &l };
	rc = dvmq_port_afxdp_open("dvtpa", &o, &second, err, sizeof(err));
	CHECK_MSG(rc == 0 && strcmp(second->ops->kind, "afpacket") == 0, "%d %s", rc, err);
	CHECK_MSG(l.n == 1 && strstr(l.last, "a running dvmq") && strstr(l.last, "afpacket"), "%d: %s", l.n, l.last);
	dvmq_port_destroy(second);
	struct dvmq_afxdp_counters xc;
	CHECK_MSG(dvmq_port_afxdp_counters(first, &xc) == 0, "the first port's program must still be there");
	dvmq_port_destroy(first);
}

static void first_line(void *ctx, const char *line)
{
	char *first = ctx;
	if (!first[0])
		snprintf(first, 512, "%s", line);
}

/* A veth whose peer sends with checksum offload (its default): AF_XDP would hand the VMs frames
 * with their checksums undone. Probed (veth, the peer, its tx-checksumming), then: with the
 * fallback, afpacket and one line naming the peer and the fix; without, afxdp and the line;
 * the peer's offload off, nothing said; the peer in another namespace, the line for it. */
TEST(port_afxdp_on_a_veth_whose_peer_offloads_checksums)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpa up && ip link set dvtpb up") == 0);
	struct dvmq_veth_peer vp;
	CHECK(dvmq_port_veth_peer("lo", &vp) == 0 && !vp.veth);
	CHECK(dvmq_port_veth_peer("dvtpnone", &vp) == -ENODEV);
	CHECK(dvmq_port_veth_peer("dvtpa", &vp) == 0);
	CHECK_MSG(vp.veth && vp.peer_here && strcmp(vp.peer, "dvtpb") == 0 && vp.peer_tx_csum == 1, "%d %d %s %d", vp.veth,
		  vp.peer_here, vp.peer, vp.peer_tx_csum);
	struct log_lines l = { 0, "" };
	struct dvmq_port_kopts o = { .fallback = 1, .log = log_line, .log_ctx = &l };
	struct dvmq_port *p;
	char err[512] = "";
	int rc = dvmq_port_afxdp_open("dvtpa", &o, &p, err, sizeof(err));
	CHECK_MSG(rc == 0 && strcmp(p->ops->kind, "afpacket") == 0, "%d %s", rc, err);
	CHECK_MSG(l.n == 1 && strstr(l.last, "afxdp dvtpa: a veth whose peer dvtpb sends with checksum offload on") &&
		  strstr(l.last, "`ethtool -K dvtpb tx off`") && strstr(l.last, "using afpacket instead"), "%d: %s", l.n,
		  l.last);
	dvmq_port_destroy(p);
	/* without the fallback: the line first, then afxdp opens (where this build and kernel have it) */
	o.fallback = 0;
	o.log = first_line;
	char first[512] = "";
	o.log_ctx = first;
	rc = dvmq_port_afxdp_open("dvtpa", &o, &p, err, sizeof(err));
	CHECK_MSG(strstr(first, "afxdp dvtpa: a veth whose peer dvtpb sends with checksum offload on") &&
		  !strstr(first, "using afpacket"), "%s", first);
	if (rc == 0)
		dvmq_port_destroy(p);
	/* the peer's offload off: nothing to say */
	CHECK(pf_sh("ethtool -K dvtpb tx off >/dev/null") == 0);
	CHECK(dvmq_port_veth_peer("dvtpa", &vp) == 0 && vp.veth && vp.peer_tx_csum == 0);
	char line[400] = "x";
	dvmq_port_veth_csum_line("dvtpa", &vp, line, sizeof(line));
	CHECK(line[0] == '\0');
	/* the peer in another namespace: not checkable from here, said so */
	int hold[2];
	CHECK(pipe(hold) == 0);
	pid_t child = fork();
	if (child == 0) { /* a namespace of its own, held until the pipe closes */
		char c;
		if (unshare(CLONE_NEWNET) != 0)
			_exit(1);
		close(hold[1]);
		(void)!read(hold[0], &c, 1);
		_exit(0);
	}
	close(hold[0]);
	CHECK(child > 0);
	int moved = -1;
	for (int i = 0; i < 100 && moved != 0; i++) { /* once the child has unshared */
		moved = pf_sh("ip link set dvtpb netns %d 2>/dev/null && ! ip link show dvtpb >/dev/null 2>&1", (int)child);
		if (moved)
			usleep(10000);
	}
	CHECK(moved == 0);
	CHECK(dvmq_port_veth_peer("dvtpa", &vp) == 0 && vp.veth && !vp.peer_here && vp.peer_tx_csum == -1);
	dvmq_port_veth_csum_line("dvtpa", &vp, line, sizeof(line));
	CHECK_MSG(strstr(line, "a veth whose peer is in another namespace") && strstr(line, "`ethtool -K PEER tx off` there"),
		  "%s", line);
	close(hold[1]);
	waitpid(child, NULL, 0);
}
