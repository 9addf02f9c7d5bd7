/* Multi-queue TAP ports (VMMQ): a TAP with one descriptor per queue in a private namespace.
 * - what the VM sends over many flows, the kernel spreads over the queues, and the port reads
 *   every one of them (per-queue counters);
 * - what the port writes into queue i reaches the VM's NIC on its receive queue i (four
 *   AF_PACKET sockets in a PACKET_FANOUT_QM group tell the receive queues apart);
 * - an afpacket VM port on a multi-queue TAP a hypervisor holds takes all of its queues on its
 *   one socket, both ways. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "port_fixture.h"

#define MQ_QUEUES 4u
#define MQ_FLOWS 64u

static const uint8_t MQ_VM[6] = { 0x02, 0x00, 0x00, 0x00, 0x7a, 0x01 };
static const uint8_t MQ_PEER[6] = { 0x02, 0x00, 0x00, 0x00, 0x7a, 0x02 };

/* A test frame of flow f (its UDP source port) with sequence number seq. */
static uint32_t mq_frame(uint8_t *b, const uint8_t dst[6], const uint8_t src[6], uint32_t f, uint32_t seq)
{
	uint32_t len = pf_frame(b, 100, dst, src, 0, seq);
	b[34] = (uint8_t)((20000 + f) >> 8);
	b[35] = (uint8_t)(20000 + f);
	return len;
}

TEST(port_tap_multiqueue_reads_every_queue)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct dvmq_port *p;
	char err[256] = "";
	struct dvmq_port_kopts o = { .queues = MQ_QUEUES };
	int rc = dvmq_port_tap_open("dvtpm", &o, &p, err, sizeof(err));
	CHECK_MSG(rc == 0, "multi-queue tap open: %d %s", rc, err);
	CHECK(pf_sh("ip link set dvtpm up") == 0);
	CHECK_MSG(pf_sh("ip -d link show dvtpm | grep -q 'numqueues %u '", MQ_QUEUES) == 0,
		  "the TAP does not have %u queues", MQ_QUEUES);
	int vm = pf_raw_open("dvtpm"); /* the VM's side: its NIC is the TAP netdev */
	CHECK(vm >= 0);
	/* the VM sends 4 frames of each of 64 flows: the kernel picks a queue per flow */
	static uint8_t fr[MQ_FLOWS * 4][128], got[MQ_FLOWS * 4][128];
	uint8_t *g[MQ_FLOWS * 4];
	uint32_t gl[MQ_FLOWS * 4];
	unsigned n = 0;
	for (uint32_t k = 0; k < 4; k++)
		for (uint32_t f = 0; f < MQ_FLOWS; f++, n++) {
			uint32_t len = mq_frame(fr[n], MQ_PEER, MQ_VM, f, n);
			CHECK(pf_raw_send(vm, fr[n], len) == 0);
		}
	for (unsigned i = 0; i < n; i++)
		g[i] = got[i];
	int r = pf_port_collect(p, g, gl, 128, n, 5000, NULL);
	CHECK_MSG(r == (int)n, "the port read %d of %u frames", r, n);
	for (uint32_t q = 0; q < MQ_QUEUES; q++)
		CHECK_MSG(dvmq_port_tap_queue_rx(p, q) > 0, "queue %u: nothing read (%lld)", q,
			  (long long)dvmq_port_tap_queue_rx(p, q));
	CHECK(dvmq_port_tap_queue_rx(p, MQ_QUEUES) == -EINVAL);
	close(vm);
	dvmq_port_destroy(p);
	CHECK_MSG(pf_sh("ip link show dvtpm >/dev/null 2>&1") != 0, "the TAP outlived its port");
}

/* Four AF_PACKET sockets on ifname in one PACKET_FANOUT_QM group: socket i gets the frames whose
 * queue_mapping % 4 is i, and a received frame's queue_mapping is its receive queue + 1. */
static int fanout_qm(const char *ifname, int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		fds[i] = pf_raw_open(ifname);
		if (fds[i] < 0)
			return fds[i];
		int arg = 0x7a1 | (PACKET_FANOUT_QM << 16);
		if (setsockopt(fds[i], SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0)
			return -errno;
	}
	return 0;
}

TEST(port_tap_multiqueue_queue_i_reaches_the_vm_on_its_queue_i)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct dvmq_port *p;
	char err[256] = "";
	struct dvmq_port_kopts o = { .queues = MQ_QUEUES };
	int rc = dvmq_port_tap_open("dvtpm", &o, &p, err, sizeof(err));
	CHECK_MSG(rc == 0, "multi-queue tap open: %d %s", rc, err);
	CHECK(pf_sh("ip link set dvtpm up") == 0);
	int fds[MQ_QUEUES];
	rc = fanout_qm("dvtpm", fds, MQ_QUEUES);
	CHECK_MSG(rc == 0, "PACKET_FANOUT_QM: %d", rc);
	/* 16 frames through each tx queue; frame seq = 100 * queue + k */
	for (uint32_t q = 0; q < MQ_QUEUES; q++) {
		uint8_t fr[16][128];
		struct dvmq_pkt pk[16];
		for (uint32_t k = 0; k < 16; k++)
			pk[k] = (struct dvmq_pkt){ fr[k], mq_frame(fr[k], MQ_VM, MQ_PEER, k, 100 * q + k), 0 };
		CHECK(p->ops->tx_burst_q(p, q, pk, NULL, 16, 0) == 16);
	}
	/* each socket gets exactly the frames written into its queue */
	for (uint32_t q = 0; q < MQ_QUEUES; q++) {
		unsigned seen = 0;
		uint8_t buf[256];
		int len;
		while ((len = pf_raw_recv(fds[q], buf, sizeof(buf), seen < 16 ? 2000 : 50)) > 0) {
			int64_t seq = pf_frame_seq(buf, (uint32_t)len);
			if (seq < 0)
				continue; /* the kernel's own chatter */
			/* the QM fanout picks by skb->queue_mapping, which holds the receive queue + 1 */
			uint32_t rxq = (q + MQ_QUEUES - 1) % MQ_QUEUES;
			CHECK_MSG(seq / 100 == rxq, "receive queue %u got a frame of tx queue %lld", rxq,
				  (long long)(seq / 100));
			seen++;
		}
		CHECK_MSG(seen == 16, "fanout socket %u got %u of 16 frames", q, seen);
		close(fds[q]);
	}
	dvmq_port_destroy(p);
}

TEST(port_afpacket_takes_a_multiqueue_tap_on_one_socket)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	/* the hypervisor's side: a multi-queue TAP with its four descriptors (QEMU's queues=4) */
	struct dvmq_port *qemu, *p;
	char err[256] = "";
	struct dvmq_port_kopts qo = { .queues = MQ_QUEUES };
	int rc = dvmq_port_tap_open("dvtpm", &qo, &qemu, err, sizeof(err));
	CHECK_MSG(rc == 0, "multi-queue tap open: %d %s", rc, err);
	CHECK(pf_sh("ip link set dvtpm up") == 0);
	rc = dvmq_port_afpacket_open("dvtpm", NULL, &p, err, sizeof(err));
	CHECK_MSG(rc == 0, "afpacket open: %d %s", rc, err);
	/* the guest sends on every queue: dvmq's one socket receives it all */
	static uint8_t fr[MQ_QUEUES * 8][128], got[MQ_QUEUES * 8][128];
	uint8_t *g[MQ_QUEUES * 8];
	uint32_t gl[MQ_QUEUES * 8];
	for (uint32_t q = 0; q < MQ_QUEUES; q++) {
		struct dvmq_pkt pk[8];
		for (uint32_t k = 0; k < 8; k++) {
			uint32_t i = q * 8 + k;
			pk[k] = (struct dvmq_pkt){ fr[i], mq_frame(fr[i], MQ_PEER, MQ_VM, i, i), 0 };
			g[i] = got[i];
		}
		CHECK(qemu->ops->tx_burst_q(qemu, q, pk, NULL, 8, 0) == 8);
	}
	int n = pf_port_collect(p, g, gl, 128, MQ_QUEUES * 8, 3000, NULL);
	CHECK_MSG(n == (int)(MQ_QUEUES * 8), "dvmq received %d of %u frames the guest sent on %u queues", n,
		  MQ_QUEUES * 8, MQ_QUEUES);
	/* dvmq sends many flows on its one socket: the guest reads them all, on its queues */
	struct dvmq_pkt pk[MQ_QUEUES * 8];
	for (uint32_t i = 0; i < MQ_QUEUES * 8; i++)
		pk[i] = (struct dvmq_pkt){ fr[i], mq_frame(fr[i], MQ_VM, MQ_PEER, i, i), 0 };
	CHECK(dvmq_port_tx_burst(p, pk, MQ_QUEUES * 8, 0) == MQ_QUEUES * 8);
	n = pf_port_collect(qemu, g, gl, 128, MQ_QUEUES * 8, 3000, NULL);
	CHECK_MSG(n == (int)(MQ_QUEUES * 8), "the guest received %d of %u frames", n, MQ_QUEUES * 8);
	dvmq_port_destroy(p);
	dvmq_port_destroy(qemu);
}

TEST(port_tap_multiqueue_bad_queue_counts)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct dvmq_port *p = NULL;
	char err[256] = "";
	struct dvmq_port_kopts o = { .queues = DVMQ_TAP_MAX_QUEUES + 1 };
	CHECK(dvmq_port_tap_open("dvtpm", &o, &p, err, sizeof(err)) == -EINVAL);
	CHECK_MSG(strstr(err, "queues") != NULL, "%s", err);
	/* a single-queue TAP of that name cannot be reopened as multi-queue */
	struct dvmq_port *one;
	CHECK(dvmq_port_tap_open("dvtpm", NULL, &one, err, sizeof(err)) == 0);
	o.queues = 2;
	CHECK(dvmq_port_tap_open("dvtpm", &o, &p, err, sizeof(err)) < 0);
	CHECK(dvmq_port_tap_queue_rx(one, 1) == -EINVAL && dvmq_port_tap_queue_rx(one, 0) == 0);
	dvmq_port_destroy(one);
}
