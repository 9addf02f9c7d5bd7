/* The kernel ports on real devices, both directions, each test in a private network namespace
 * (root; skipped with the reason otherwise): frames arrive intact and in order, are counted, come
 * in batches; VLAN tags survive; bad names and missing devices get one clear error each. */
#include <errno.h>
#include <linux/if_packet.h>
#include <sched.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/port/offload.h"
#include "../harness.h"
#include "port_fixture.h"

#define N_FRAMES 200u
#define FRAME_CAP 2048u

static const uint8_t MAC_A[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b };

struct frames {
	uint8_t *buf[N_FRAMES];
	uint32_t len[N_FRAMES];
	uint8_t *got[N_FRAMES];
	uint32_t got_len[N_FRAMES];
};

static void frames_fill(struct frames *f, uint16_t vlan)
{
	for (unsigned i = 0; i < N_FRAMES; i++) {
		f->buf[i] = malloc(FRAME_CAP);
		f->got[i] = malloc(FRAME_CAP);
		/* sizes 64..1514 so that lengths, not just contents, are checked */
		f->len[i] = pf_frame(f->buf[i], 64u + (i * 97u) % 1451u, MAC_B, MAC_A, vlan, i);
	}
}

static void frames_free(struct frames *f)
{
	for (unsigned i = 0; i < N_FRAMES; i++) {
		free(f->buf[i]);
		free(f->got[i]);
	}
}

/* The frames the peer sent reach the port intact, in order, in batches, counted. */
static int check_port_rx(struct dvmq_port *p, int peer, struct frames *f, char *why, size_t wl)
{
	struct dvmq_port_stats before, after;
	dvmq_port_stats(p, &before);
	if (pf_raw_send_many(peer, f->buf, f->len, N_FRAMES) != (int)N_FRAMES)
		return snprintf(why, wl, "the peer could not send"), -1;
	unsigned max_burst = 0;
	int got = pf_port_collect(p, f->got, f->got_len, FRAME_CAP, N_FRAMES, 5000, &max_burst);
	if (got != (int)N_FRAMES)
		return snprintf(why, wl, "port received %d of %u frames", got, N_FRAMES), -1;
	for (unsigned i = 0; i < N_FRAMES; i++)
		if (f->got_len[i] != f->len[i] || memcmp(f->got[i], f->buf[i], f->len[i]) != 0)
			return snprintf(why, wl, "frame %u differs (len %u, sent %u)", i, f->got_len[i], f->len[i]), -1;
	if (max_burst < 2)
		return snprintf(why, wl, "rx_burst never returned more than %u frame", max_burst), -1;
	dvmq_port_stats(p, &after);
	if (after.rx_packets - before.rx_packets < N_FRAMES)
		return snprintf(why, wl, "rx_packets counted %llu",
				(unsigned long long)(after.rx_packets - before.rx_packets)), -1;
	return 0;
}

/* The frames the port sends reach the peer intact and in order, counted. */
static int check_port_tx(struct dvmq_port *p, int peer, struct frames *f, char *why, size_t wl)
{
	struct dvmq_port_stats before, after;
	dvmq_port_stats(p, &before);
	for (unsigned i = 0; i < N_FRAMES; i += 25) {
		struct dvmq_pkt pk[25];
		for (unsigned k = 0; k < 25; k++)
			pk[k] = (struct dvmq_pkt){ .data = f->buf[i + k], .len = f->len[i + k] };
		unsigned s = dvmq_port_tx_burst(p, pk, 25, 0);
		if (s != 25)
			return snprintf(why, wl, "tx_burst took %u of 25", s), -1;
	}
	unsigned got = 0;
	uint64_t end = pf_now_ms() + 5000;
	uint8_t buf[FRAME_CAP + 4];
	while (got < N_FRAMES && pf_now_ms() < end) {
		int n = pf_raw_recv(peer, buf, sizeof(buf), 100);
		if (n <= 0)
			continue;
		if (pf_frame_seq(buf, (uint32_t)n) < 0)
			continue;
		if ((uint32_t)n != f->len[got] || memcmp(buf, f->buf[got], f->len[got]) != 0)
			return snprintf(why, wl, "peer got frame %u altered or out of order (seq %lld)", got,
					(long long)pf_frame_seq(buf, (uint32_t)n)), -1;
		got++;
	}
	if (got != N_FRAMES)
		return snprintf(why, wl, "peer received %u of %u frames", got, N_FRAMES), -1;
	dvmq_port_stats(p, &after);
	if (after.tx_packets - before.tx_packets != N_FRAMES || after.tx_dropped != before.tx_dropped)
		return snprintf(why, wl, "tx counted %llu sent, %llu dropped",
				(unsigned long long)(after.tx_packets - before.tx_packets),
				(unsigned long long)(after.tx_dropped - before.tx_dropped)), -1;
	return 0;
}

TEST(port_tap_both_directions)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct dvmq_port *p;
	char err[256] = "";
	int rc = dvmq_port_tap_open("dvtp0", NULL, &p, err, sizeof(err));
	CHECK_MSG(rc == 0, "tap open: %d %s", rc, err);
	CHECK(strcmp(p->ops->kind, "tap") == 0 && strcmp(p->name, "dvtp0") == 0);
	CHECK(pf_sh("ip link set dvtp0 up") == 0);
	int peer = pf_raw_open("dvtp0"); /* the VM's side: its NIC is the TAP netdev */
	CHECK(peer >= 0);
	struct frames f;
	frames_fill(&f, 0);
	char why[200] = "";
	int r1 = check_port_rx(p, peer, &f, why, sizeof(why));
	CHECK_MSG(r1 == 0, "VM -> port: %s", why);
	int r2 = check_port_tx(p, peer, &f, why, sizeof(why));
	CHECK_MSG(r2 == 0, "port -> VM: %s", why);
	frames_free(&f);
	close(peer);
	dvmq_port_destroy(p);
	CHECK_MSG(pf_sh("ip link show dvtp0 >/dev/null 2>&1") != 0, "the TAP outlived its port");
}

/* Issue 18 §6: a TAP dvmq creates is the VM's NIC: it carries the configured MAC (kopts.mac),
 * not the kernel's random one; without one it keeps the kernel's. */
TEST(port_tap_created_with_the_vms_mac)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct dvmq_port_kopts o = { .mac = { 0x02, 0x77, 0x00, 0x00, 0x0a, 0x01 } };
	struct dvmq_port *p, *q;
	char err[256] = "";
	int rc = dvmq_port_tap_open("dvtpm", &o, &p, err, sizeof(err));
	CHECK_MSG(rc == 0, "tap open: %d %s", rc, err);
	CHECK(pf_sh("ip -o link show dvtpm | grep -q 'link/ether 02:77:00:00:0a:01 '") == 0);
	rc = dvmq_port_tap_open("dvtpn", NULL, &q, err, sizeof(err));
	CHECK_MSG(rc == 0, "tap open: %d %s", rc, err);
	CHECK(pf_sh("ip -o link show dvtpn | grep -q 'link/ether ' && ! ip -o link show dvtpn | grep -q 02:77:00:00:0a:01") == 0);
	dvmq_port_destroy(q);
	dvmq_port_destroy(p);
}

static void afpacket_both_directions(int rx_mode)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpa up && ip link set dvtpb up") == 0);
	struct dvmq_port *p;
	char err[256] = "";
	struct dvmq_port_kopts o = { .afpacket_rx = rx_mode };
	int rc = dvmq_port_afpacket_open("dvtpa", &o, &p, err, sizeof(err));
	CHECK_MSG(rc == 0, "afpacket open: %d %s", rc, err);
	CHECK(strcmp(p->ops->kind, "afpacket") == 0);
	int peer = pf_raw_open("dvtpb");
	CHECK(peer >= 0);
	char why[200] = "";
	for (uint16_t vlan = 0; vlan <= 100; vlan += 100) {
		struct frames f;
		frames_fill(&f, vlan);
		int r1 = check_port_rx(p, peer, &f, why, sizeof(why));
		CHECK_MSG(r1 == 0, "peer -> port (vlan %u): %s", vlan, why);
		int r2 = check_port_tx(p, peer, &f, why, sizeof(why));
		CHECK_MSG(r2 == 0, "port -> peer (vlan %u): %s", vlan, why);
		frames_free(&f);
	}
	close(peer);
	dvmq_port_destroy(p);
}

TEST(port_afpacket_ring_both_directions_with_vlan_tags)
{
	afpacket_both_directions(DVMQ_AFPACKET_RX_RING);
}

TEST(port_afpacket_copy_both_directions_with_vlan_tags)
{
	afpacket_both_directions(DVMQ_AFPACKET_RX_COPY);
}

TEST(port_afxdp_both_directions)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpa up && ip link set dvtpb up") == 0);
	struct dvmq_port *p;
	char err[256] = "";
	int rc = dvmq_port_afxdp_open("dvtpa", NULL, &p, err, sizeof(err));
	if (rc == -EOPNOTSUPP && strstr(err, "built without"))
		SKIP("%s", err);
	CHECK_MSG(rc == 0, "afxdp open: %d %s", rc, err);
	CHECK(strcmp(p->ops->kind, "afxdp") == 0);
	int peer = pf_raw_open("dvtpb");
	CHECK(peer >= 0);
	struct frames f;
	frames_fill(&f, 0);
	char why[200] = "";
	int r1 = check_port_rx(p, peer, &f, why, sizeof(why));
	CHECK_MSG(r1 == 0, "peer -> port: %s", why);
	int r2 = check_port_tx(p, peer, &f, why, sizeof(why));
	CHECK_MSG(r2 == 0, "port -> peer: %s", why);
	struct dvmq_afxdp_counters xc;
	CHECK(dvmq_port_afxdp_counters(p, &xc) == 0);
	CHECK_MSG(xc.to_xsk >= N_FRAMES, "XDP program redirected %llu", (unsigned long long)xc.to_xsk);
	frames_free(&f);
	close(peer);
	dvmq_port_destroy(p);
	CHECK_MSG(pf_sh("ip link show dvtpa | grep -q xdp") != 0, "the XDP program outlived its port");
}

/* IEEE 802.1 link-local frames (LLDP here) are the host's, never the switch's. */
TEST(port_afxdp_passes_link_local_frames_to_the_host)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpa up && ip link set dvtpb up") == 0);
	struct dvmq_port *p;
	char err[256] = "";
	int rc = dvmq_port_afxdp_open("dvtpa", NULL, &p, err, sizeof(err));
	if (rc == -EOPNOTSUPP && strstr(err, "built without"))
		SKIP("%s", err);
	CHECK_MSG(rc == 0, "afxdp open: %d %s", rc, err);
	int host = pf_raw_open("dvtpa"); /* the host's stack on the uplink, e.g. lldpd */
	int peer = pf_raw_open("dvtpb");
	CHECK(host >= 0 && peer >= 0);
	static const uint8_t lldp[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };
	uint8_t fr[128], other[128], buf[256];
	uint32_t len = pf_frame(fr, 100, lldp, MAC_B, 0, 7);
	uint32_t olen = pf_frame(other, 100, MAC_A, MAC_B, 0, 8);
	CHECK(pf_raw_send(peer, fr, len) == 0 && pf_raw_send(peer, other, olen) == 0);
	uint8_t *g[2] = { buf, buf + 128 };
	uint32_t gl[2];
	int got = pf_port_collect(p, g, gl, 128, 2, 1000, NULL);
	CHECK_MSG(got == 1 && pf_frame_seq(buf, gl[0]) == 8, "the port got %d frames (want only seq 8)", got);
	int n;
	bool host_saw = false;
	while ((n = pf_raw_recv(host, buf, sizeof(buf), 500)) > 0)
		host_saw |= pf_frame_seq(buf, (uint32_t)n) == 7;
	CHECK_MSG(host_saw, "the host stack never saw the LLDP frame");
	struct dvmq_afxdp_counters xc;
	CHECK(dvmq_port_afxdp_counters(p, &xc) == 0);
	CHECK(xc.link_local == 1 && xc.to_xsk >= 1);
	close(host);
	close(peer);
	dvmq_port_destroy(p);
}

/* A persistent TAP opened by a hypervisor (as libvirt's <interface type='ethernet'> with
 * managed='no' does for QEMU), dvmq on its host side through afpacket: both directions. */
TEST(port_afpacket_on_a_hypervisor_tap)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	CHECK(pf_sh("ip tuntap add dev dvtpq mode tap vnet_hdr && ip link set dvtpq up") == 0);
	/* QEMU's side: the TAP's descriptor, with a virtio_net_hdr in front of every frame */
	struct dvmq_port *qemu;
	char err[256] = "";
	struct dvmq_port_kopts qo = { .offload = 1 };
	int rc = dvmq_port_tap_open("dvtpq", &qo, &qemu, err, sizeof(err));
	CHECK_MSG(rc == 0, "attaching to the persistent TAP: %d %s", rc, err);
	struct dvmq_port *p;
	rc = dvmq_port_afpacket_open("dvtpq", NULL, &p, err, sizeof(err));
	CHECK_MSG(rc == 0, "afpacket open: %d %s", rc, err);
	uint8_t fr[8][256], got[8][256];
	uint8_t *g[8];
	uint32_t gl[8];
	struct dvmq_pkt pk[8];
	for (unsigned i = 0; i < 8; i++) {
		pk[i] = (struct dvmq_pkt){ .data = fr[i], .len = pf_frame(fr[i], 100 + i, MAC_B, MAC_A, 0, i) };
		g[i] = got[i];
	}
	/* the guest sends: QEMU writes, dvmq receives */
	CHECK(dvmq_port_tx_burst(qemu, pk, 8, 0) == 8);
	int n = pf_port_collect(p, g, gl, 256, 8, 3000, NULL);
	CHECK_MSG(n == 8, "dvmq received %d of 8 frames the guest sent", n);
	for (unsigned i = 0; i < 8; i++)
		CHECK(gl[i] == pk[i].len && memcmp(got[i], fr[i], gl[i]) == 0);
	/* dvmq sends: QEMU reads what the guest receives */
	CHECK(dvmq_port_tx_burst(p, pk, 8, 0) == 8);
	n = pf_port_collect(qemu, g, gl, 256, 8, 3000, NULL);
	CHECK_MSG(n == 8, "the guest received %d of 8 frames", n);
	for (unsigned i = 0; i < 8; i++)
		CHECK(gl[i] == pk[i].len && memcmp(got[i], fr[i], gl[i]) == 0);
	dvmq_port_destroy(p);
	dvmq_port_destroy(qemu);
	CHECK_MSG(pf_sh("ip link show dvtpq >/dev/null 2>&1") == 0, "the persistent TAP should stay");
	pf_sh("ip link del dvtpq");
}

/* Names and devices that cannot work: one clear line each, no root needed. */
TEST(port_bad_names_and_missing_devices)
{
	struct dvmq_port *p = NULL;
	char err[256];
	static const char *bad[] = { "", "dvtp-name-too-long", "dvtp/0", "dvtp 0" };
	int (*open_fn[3])(const char *, const struct dvmq_port_kopts *, struct dvmq_port **, char *, size_t) = {
		dvmq_port_tap_open, dvmq_port_afpacket_open, dvmq_port_afxdp_open
	};
	for (unsigned k = 0; k < 3; k++) {
		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			err[0] = '\0';
			int rc = open_fn[k](bad[i], NULL, &p, err, sizeof(err));
			CHECK_MSG(rc == -EINVAL, "open %u '%s': %d", k, bad[i], rc);
			CHECK_MSG(strstr(err, "interface name") && !strchr(err, '\n'), "message: %s", err);
		}
	}
	for (unsigned k = 1; k < 3; k++) {
		err[0] = '\0';
		int rc = open_fn[k]("dvtpnone", NULL, &p, err, sizeof(err));
		CHECK_MSG(rc == -ENODEV, "open %u of a missing device: %d %s", k, rc, err);
		CHECK_MSG(strstr(err, "dvtpnone: no such interface"), "message: %s", err);
	}
	/* the fallback does not hide a missing device */
	struct dvmq_port_kopts o = { .fallback = 1 };
	CHECK(dvmq_port_afxdp_open("dvtpnone", &o, &p, err, sizeof(err)) == -ENODEV);
	/* a frame size AF_XDP's 4 KiB chunks cannot hold */
	struct dvmq_port_kopts big = { .mtu = 9000 };
	int rc = dvmq_port_afxdp_open("lo", &big, &p, err, sizeof(err));
	CHECK_MSG(rc == -EINVAL || (rc == -EOPNOTSUPP && strstr(err, "built without")), "mtu 9000: %d %s", rc, err);
}

/* Sends frames from each CPU in turn: AF_PACKET with qdisc bypass picks the tx queue by CPU, and a
 * veth delivers on the peer's rx queue of the same number. Returns frames sent. */
static unsigned send_from_each_cpu(int peer, unsigned per_cpu)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int one = 1;
	setsockopt(peer, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	unsigned sent = 0;
	uint8_t fr[128];
	for (long c = 0; c < ncpu && c < 4; c++) {
		cpu_set_t s;
		CPU_ZERO(&s);
		CPU_SET((int)c, &s);
		if (sched_setaffinity(0, sizeof(s), &s) != 0)
			continue;
		for (unsigned i = 0; i < per_cpu; i++) {
			uint32_t len = pf_frame(fr, 100, MAC_A, MAC_B, 0, sent);
			sent += pf_raw_send(peer, fr, len) == 0;
		}
	}
	return sent;
}

/* A device with several rx queues: a socket on each, none left to the kernel; with one_queue, the
 * frames of the other queues pass to the kernel (counted), none is lost to nowhere. */
TEST(port_afxdp_serves_every_rx_queue)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP("needs 2 CPUs to fill two rx queues");
	CHECK(pf_sh("ip link add dvtpa numrxqueues 2 numtxqueues 2 type veth peer name dvtpb numrxqueues 2 "
		    "numtxqueues 2 && ethtool -L dvtpa rx 2 tx 2 && ethtool -L dvtpb rx 2 tx 2 && "
		    "ip link set dvtpa up && ip link set dvtpb up") == 0);
	for (int one = 0; one <= 1; one++) {
		struct dvmq_port *p;
		char err[256] = "";
		struct dvmq_port_kopts o = { .one_queue = one, .queue = 0 };
		int rc = dvmq_port_afxdp_open("dvtpa", &o, &p, err, sizeof(err));
		if (rc == -EOPNOTSUPP && strstr(err, "built without"))
			SKIP("%s", err);
		CHECK_MSG(rc == 0, "afxdp open: %d %s", rc, err);
		int peer = pf_raw_open("dvtpb");
		CHECK(peer >= 0);
		unsigned sent = send_from_each_cpu(peer, 50);
		static uint8_t bufs[200][256];
		uint8_t *g[200];
		uint32_t gl[200];
		for (int i = 0; i < 200; i++)
			g[i] = bufs[i];
		int got = pf_port_collect(p, g, gl, 256, sent, one ? 500 : 3000, NULL);
		struct dvmq_afxdp_counters xc;
		CHECK(dvmq_port_afxdp_counters(p, &xc) == 0);
		if (!one) {
			CHECK_MSG(got == (int)sent && xc.no_xsk == 0, "all queues: got %d of %u, %llu passed to the kernel",
				  got, sent, (unsigned long long)xc.no_xsk);
		} else {
			CHECK_MSG(xc.no_xsk > 0 && (uint64_t)got + xc.no_xsk == sent,
				  "queue 0 only: got %d, %llu passed to the kernel, of %u", got,
				  (unsigned long long)xc.no_xsk, sent);
		}
		close(peer);
		dvmq_port_destroy(p);
	}
}

/* Eight consecutive segments of one TCP flow (10.9.0.1:40000 -> 10.9.0.2:80, ACK, seq 1000...),
 * complete and with valid checksums, as an uplink would deliver them. */
static unsigned tcp_run(uint8_t (*segs)[1600], struct dvmq_pkt *pk)
{
	static uint8_t f[16384];
	memset(f, 0, 54);
	memcpy(f, MAC_B, 6);
	memcpy(f + 6, MAC_A, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *th = ip + 20;
	uint32_t payload = 8 * 1000;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((40 + payload) >> 8);
	ip[3] = (uint8_t)(40 + payload);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, (const uint8_t[]){ 10, 9, 0, 1, 10, 9, 0, 2 }, 8);
	th[0] = 0x9c;
	th[1] = 0x40;
	th[3] = 80;
	th[6] = 0x03;
	th[7] = 0xe8;
	th[12] = 5 << 4;
	th[13] = 0x10;
	th[14] = 0xff;
	for (uint32_t i = 0; i < payload; i++)
		th[20 + i] = (uint8_t)(i * 13u);
	struct dvmq_pkt sp = { .data = f, .len = 54 + payload };
	struct dvmq_offload so = { .flags = DVMQ_OFF_CSUM_PARTIAL, .gso_type = DVMQ_GSO_TCPV4, .gso_size = 1000,
				   .csum_start = 34, .csum_offset = 16 };
	unsigned n = offload_segments(&sp, &so);
	for (unsigned k = 0; k < n; k++)
		pk[k] = (struct dvmq_pkt){ .data = segs[k], .len = offload_segment(&sp, &so, k, segs[k], 1600) };
	return n;
}

/* What the peer sees of a run sent through a port: one super-frame when the port coalesces
 * (a packet socket sees a GSO frame whole), else the frames one by one. Returns frames seen and
 * the bytes of TCP payload they carried. */
static int peer_sees(int peer, uint32_t *payload)
{
	uint8_t buf[70000];
	int frames = 0, n;
	*payload = 0;
	while ((n = pf_raw_recv(peer, buf, sizeof(buf), 300)) > 0) {
		if (n < 54 || buf[12] != 0x08 || buf[23] != 6 || buf[36] != 0x00 || buf[37] != 80)
			continue;
		frames++;
		*payload += (uint32_t)n - 54;
	}
	return frames;
}

static void coalesce_through(const char *kind, bool coalesces)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct dvmq_port *p;
	char err[256] = "";
	int rc, peer;
	if (strcmp(kind, "afpacket") == 0) {
		CHECK(pf_sh("ip link add dvtpa type veth peer name dvtpb && ip link set dvtpa up && ip link set dvtpb up") == 0);
		rc = dvmq_port_afpacket_open("dvtpa", NULL, &p, err, sizeof(err));
		peer = pf_raw_open("dvtpb");
	} else {
		struct dvmq_port_kopts o = { .offload = coalesces };
		rc = dvmq_port_tap_open("dvtp0", &o, &p, err, sizeof(err));
		CHECK(pf_sh("ip link set dvtp0 up") == 0);
		peer = pf_raw_open("dvtp0");
	}
	CHECK_MSG(rc == 0 && peer >= 0, "%s: %d %s", kind, rc, err);
	static uint8_t segs[16][1600];
	struct dvmq_pkt pk[16];
	unsigned n = tcp_run(segs, pk);
	CHECK(n == 8);
	CHECK(dvmq_port_tx_burst(p, pk, n, 0) == n);
	uint32_t payload;
	int frames = peer_sees(peer, &payload);
	CHECK_MSG(payload == 8000, "%s: %u payload bytes arrived", kind, payload);
	CHECK_MSG(frames == (coalesces ? 1 : 8), "%s: the run arrived as %d frames", kind, frames);
	struct dvmq_port_stats st;
	dvmq_port_stats(p, &st);
	CHECK(st.tx_packets == 8 && st.tx_dropped == 0);
	close(peer);
	dvmq_port_destroy(p);
}

TEST(port_tap_vnet_coalesces_a_tcp_run)
{
	coalesce_through("tap", true);
}

TEST(port_tap_plain_sends_a_tcp_run_frame_by_frame)
{
	coalesce_through("tap", false);
}

TEST(port_afpacket_coalesces_a_tcp_run)
{
	coalesce_through("afpacket", true);
}
