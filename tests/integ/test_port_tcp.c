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

#include "../harness.h"
#include "port_fixture.h"

#define BYTES (16u << 20)

static void tcp_through(pf_open_fn uplink_open, int afpacket_rx, bool tap_offload, bool fwd_offload)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct pf_topo t;
	char err[512] = "";
	struct dvmq_port_kopts uo = { .afpacket_rx = afpacket_rx };
	int rc = pf_topo_open(&t, uplink_open, &uo, tap_offload, err, sizeof(err));
	if (rc == -EOPNOTSUPP && strstr(err, "built without"))
		SKIP("%s", err);
	CHECK_MSG(rc == 0, "topology: %d %s", rc, err);
	struct pf_fwd *fwd;
	CHECK(pf_fwd_start(t.up, t.tap, fwd_offload, false, &fwd) == 0);
	char why[256] = "";
	double ab = 0, ba = 0;
	int r1 = pf_tcp_transfer(t.ns_a, t.ns_b, "10.9.0.2", 5001, BYTES, 30000, &ab, why, sizeof(why));
	int r2 = r1 ? -1 : pf_tcp_transfer(t.ns_b, t.ns_a, "10.9.0.1", 5002, BYTES, 30000, &ba, why, sizeof(why));
	uint64_t n_ab, n_ba;
	pf_fwd_stop(fwd, &n_ab, &n_ba);
	struct dvmq_port_stats su, st;
	dvmq_port_stats(t.up, &su);
	dvmq_port_stats(t.tap, &st);
	char info[400];
	snprintf(info, sizeof(info), "%s <-> tap(%s), hub %s: A->B %.2f Gb/s, B->A %.2f Gb/s; frames %llu/%llu; "
		 "rx dropped %llu/%llu, tx dropped %llu/%llu", t.up->ops->kind, tap_offload ? "vnet" : "plain",
		 fwd_offload ? "offload" : "plain", ab, ba, (unsigned long long)n_ab, (unsigned long long)n_ba,
		 (unsigned long long)su.rx_dropped, (unsigned long long)st.rx_dropped,
		 (unsigned long long)su.tx_dropped, (unsigned long long)st.tx_dropped);
	if (getenv("DVMQ_TEST_VERBOSE"))
		printf("    %s\n", info);
	CHECK_MSG(r1 == 0 && r2 == 0, "%s: %s (%s)", r1 ? "A -> B" : "B -> A", why, info);
	pf_topo_close(&t);
}

TEST(port_tcp_afpacket_ring_tap_plain)
{
	tcp_through(dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_RING, false, false);
}

TEST(port_tcp_afpacket_ring_tap_offload)
{
	tcp_through(dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_RING, true, true);
}

/* A TAP with offloads behind a hub without them: the TAP's rx_burst resolves B's super-frames. */
TEST(port_tcp_afpacket_ring_vnet_tap_plain_hub)
{
	tcp_through(dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_RING, true, false);
}

TEST(port_tcp_afxdp_tap_plain)
{
	tcp_through(dvmq_port_afxdp_open, 0, false, false);
}

/* B's super-frames toward the AF_XDP uplink, which has no offloads: afxdp's tx resolves them. */
TEST(port_tcp_afxdp_tap_offload)
{
	tcp_through(dvmq_port_afxdp_open, 0, true, true);
}

TEST(port_tcp_afpacket_tap_plain)
{
	tcp_through(dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_COPY, false, false);
}

TEST(port_tcp_afpacket_tap_offload)
{
	tcp_through(dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_COPY, true, true);
}
