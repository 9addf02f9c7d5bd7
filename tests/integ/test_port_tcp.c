/* Real TCP through the kernel ports (root, private namespaces): namespace A (an "external host")
 * on a veth whose other end is an afpacket or afxdp port, namespace B (a "VM") on a TAP port, a
 * two-port hub between them. 16 MiB of a known pattern must arrive intact, with and without
 * offloads. This is what proves offload handling end to end: A's stack hands its veth 64 KiB
 * super-frames with checksums left to do, which the ports must pass whole (offload) or resolve
 * (plain); a TAP with IFF_VNET_HDR hands B's super-frames out the same way. Throughput is printed
 * for information only (dvmq-portbench measures it). */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "port_fixture.h"

#define BYTES (16u << 20)

typedef int (*open_fn)(const char *, const struct dvmq_port_kopts *, struct dvmq_port **, char *, size_t);

static void tcp_through(open_fn uplink_open, bool tap_offload, bool fwd_offload)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	int here = pf_ns_self(), ns_a = pf_ns_new(), ns_b = pf_ns_new();
	CHECK(here >= 0 && ns_a >= 0 && ns_b >= 0);
	CHECK(pf_sh("ip link add dvtpb type veth peer name dvtpa && ip link set dvtpa netns /proc/%d/fd/%d",
		    (int)getpid(), ns_a) == 0);
	CHECK(pf_sh("ip link set dvtpb up") == 0);
	struct dvmq_port *up, *tap;
	char err[512] = "";
	struct dvmq_port_kopts uo = { 0 }, to = { .offload = tap_offload };
	int rc = uplink_open("dvtpb", &uo, &up, err, sizeof(err));
	if (rc == -EOPNOTSUPP && strstr(err, "built without"))
		SKIP("%s", err);
	CHECK_MSG(rc == 0, "uplink: %d %s", rc, err);
	rc = dvmq_port_tap_open("dvtpt", &to, &tap, err, sizeof(err));
	CHECK_MSG(rc == 0, "tap: %d %s", rc, err);
	CHECK(pf_sh("ip link set dvtpt netns /proc/%d/fd/%d", (int)getpid(), ns_b) == 0);
	CHECK(pf_ns_enter(ns_a) == 0);
	CHECK(pf_sh("ip addr add 10.9.0.1/24 dev dvtpa && ip link set dvtpa up") == 0);
	/* veth hands its peer's frames over with checksums left to do; AF_XDP carries no offload
	 * metadata to say so (a NIC never does this): A must complete its checksums itself */
	if (uplink_open == dvmq_port_afxdp_open)
		CHECK(pf_sh("ethtool -K dvtpa tx off >/dev/null") == 0);
	CHECK(pf_ns_enter(ns_b) == 0);
	CHECK(pf_sh("ip addr add 10.9.0.2/24 dev dvtpt && ip link set dvtpt up") == 0);
	CHECK(pf_ns_enter(here) == 0);

	struct pf_fwd *fwd;
	CHECK(pf_fwd_start(up, tap, fwd_offload, &fwd) == 0);
	char why[256] = "";
	double ab = 0, ba = 0;
	int r1 = pf_tcp_transfer(ns_a, ns_b, "10.9.0.2", 5001, BYTES, 30000, &ab, why, sizeof(why));
	int r2 = r1 ? -1 : pf_tcp_transfer(ns_b, ns_a, "10.9.0.1", 5002, BYTES, 30000, &ba, why, sizeof(why));
	uint64_t n_ab, n_ba;
	pf_fwd_stop(fwd, &n_ab, &n_ba);
	struct dvmq_port_stats su, st;
	dvmq_port_stats(up, &su);
	dvmq_port_stats(tap, &st);
	char info[400];
	snprintf(info, sizeof(info), "%s <-> tap(%s), hub %s: A->B %.2f Gb/s, B->A %.2f Gb/s; frames %llu/%llu; "
		 "rx dropped %llu/%llu, tx dropped %llu/%llu", up->ops->kind, tap_offload ? "vnet" : "plain",
		 fwd_offload ? "offload" : "plain", ab, ba, (unsigned long long)n_ab, (unsigned long long)n_ba,
		 (unsigned long long)su.rx_dropped, (unsigned long long)st.rx_dropped,
		 (unsigned long long)su.tx_dropped, (unsigned long long)st.tx_dropped);
	if (getenv("DVMQ_TEST_VERBOSE"))
		printf("    %s\n", info);
	CHECK_MSG(r1 == 0 && r2 == 0, "%s: %s (%s)", r1 ? "A -> B" : "B -> A", why, info);
	dvmq_port_destroy(up);
	dvmq_port_destroy(tap);
	close(ns_a);
	close(ns_b);
	close(here);
}

TEST(port_tcp_afpacket_tap_plain)
{
	tcp_through(dvmq_port_afpacket_open, false, false);
}

TEST(port_tcp_afpacket_tap_offload)
{
	tcp_through(dvmq_port_afpacket_open, true, true);
}

/* A TAP with offloads behind a hub without them: the TAP's rx_burst resolves B's super-frames. */
TEST(port_tcp_afpacket_vnet_tap_plain_hub)
{
	tcp_through(dvmq_port_afpacket_open, true, false);
}

TEST(port_tcp_afxdp_tap_plain)
{
	tcp_through(dvmq_port_afxdp_open, false, false);
}

/* B's super-frames toward the AF_XDP uplink, which has no offloads: afxdp's tx resolves them. */
TEST(port_tcp_afxdp_tap_offload)
{
	tcp_through(dvmq_port_afxdp_open, true, true);
}
