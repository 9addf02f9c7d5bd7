/* The gen port's frames (src/port/gen.c): every IPv4 header checksum is valid (it is updated
 * incrementally from the template's: issue 18 §3), tagged and untagged, for flows on both sides
 * of each 60000 (where the source address changes), and each flow is its own 5-tuple. */
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "dvmq/port.h"

/* One's complement sum over a header including its checksum: 0xffff when it is valid. */
static unsigned header_sum(const uint8_t *h)
{
	unsigned s = 0;
	for (unsigned i = 0; i < 20; i += 2)
		s += (unsigned)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return s;
}

static void check_vm(uint16_t vlan)
{
	enum { FLOWS = 130000 };
	struct dvmq_gen_vm vm = { .mac = { 2, 0, 0, 0, 0, 7 }, .vlan = vlan, .frame_bytes = 64, .flows = FLOWS };
	struct dvmq_port *gen;
	CHECK(dvmq_port_gen_open("t", &vm, 1, &gen) == 0);
	dvmq_port_gen_set_rate(gen, 0, 1e12);
	unsigned l3 = vlan ? 18 : 14, bad = 0, seen = 0;
	uint8_t src_hi[3] = { 0, 0, 0 };
	uint16_t port0 = 0, port60000 = 0;
	uint64_t t = 1;
	for (unsigned f = 0; f < FLOWS;) {
		dvmq_port_gen_advance(gen, t);
		t += 1000000000ull;
		struct dvmq_pkt p[DVMQ_BURST];
		int n = dvmq_port_rx_burst(gen, p, DVMQ_BURST);
		for (int i = 0; i < n && f < FLOWS; i++, f++) {
			const uint8_t *h = p[i].data + l3;
			bad += h[0] != 0x45 || header_sum(h) != 0xffffu;
			seen++;
			uint16_t sport = (uint16_t)(h[20] << 8 | h[21]);
			if (f == 0)
				port0 = sport, src_hi[0] = h[14];
			if (f == 60000)
				port60000 = sport, src_hi[1] = h[14];
			if (f == 120000)
				src_hi[2] = h[14];
		}
	}
	dvmq_port_destroy(gen);
	CHECK_MSG(bad == 0, "%u of %u frames with a bad IPv4 header checksum (vlan %u)", bad, seen, vlan);
	/* flow 60000 has flow 0's port and the next source address: a 5-tuple of its own */
	CHECK(port0 == port60000 && src_hi[0] == 0 && src_hi[1] == 1 && src_hi[2] == 2);
}

TEST(gen_frames_carry_valid_ipv4_checksums_on_every_flow)
{
	check_vm(0);
	if (test_failed())
		return;
	check_vm(10);
}
