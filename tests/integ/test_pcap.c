/* Real captures replayed through the pcap port into the data plane (two workers): every frame is
 * accounted for (delivered, flooded, filtered, or refused by reason) and none crashes the parser.
 * The three busiest unicast destinations become VMs: two on VMQs, one on the default path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "dp_fixture.h"

#define SEC 1000000000ull
#define MAX_DST 512

struct dst_count {
	uint8_t mac[6];
	uint16_t vlan;
	uint64_t n;
};

/* First pass: frames, and unicast destinations by count (parsed the way the classifier does). */
static int survey(const char *path, uint64_t *frames, struct dst_count *d, size_t *n_d)
{
	struct dvmq_port *rd;
	char err[256];
	int rc = dvmq_port_pcap_open_read(path, &rd, err, sizeof(err));
	if (rc)
		return rc;
	struct dvmq_pkt p[DVMQ_BURST];
	int n;
	*frames = 0;
	*n_d = 0;
	while ((n = dvmq_port_rx_burst(rd, p, DVMQ_BURST)) > 0) {
		*frames += (uint64_t)n;
		for (int i = 0; i < n; i++) {
			struct dvmq_frame f;
			if (dvmq_frame_parse(p[i].data, p[i].len, 1500, &f) != DVMQ_FRAME_OK ||
			    dvmq_mac_is_multicast(f.dst))
				continue;
			size_t k = 0;
			while (k < *n_d && !(memcmp(d[k].mac, f.dst, 6) == 0 && d[k].vlan == f.vlan))
				k++;
			if (k == *n_d && *n_d < MAX_DST) {
				memcpy(d[k].mac, f.dst, 6);
				d[k].vlan = f.vlan;
				d[k].n = 0;
				(*n_d)++;
			}
			if (k < *n_d)
				d[k].n++;
		}
	}
	dvmq_port_destroy(rd);
	return 0;
}

static int by_count(const void *a, const void *b)
{
	const struct dst_count *x = a, *y = b;
	return x->n < y->n ? 1 : x->n > y->n ? -1 : 0;
}

static void replay(const char *path)
{
	static struct dst_count d[MAX_DST];
	uint64_t frames;
	size_t n_d;
	CHECK_MSG(survey(path, &frames, d, &n_d) == 0, "cannot read %s", path);
	CHECK(frames > 0);
	qsort(d, n_d, sizeof(d[0]), by_count);
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 2, 4, true, 300 * SEC) == 0);
	size_t n_vms = n_d < 3 ? n_d : 3;
	for (size_t i = 0; i < n_vms; i++) {
		CHECK(dvmq_port_sink_open("vm", 0, 0, 1500, NULL, &fx.sink[i]) == 0);
		CHECK(dvmq_dp_vm_add(fx.dp, d[i].mac, d[i].vlan, 0.0, fx.sink[i], &fx.vm[i]) == 0);
		if (i < 2) {
			CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[i], (uint32_t)i + 1) == 0);
			CHECK(dvmq_dp_move(fx.dp, (uint32_t)i + 1, (uint32_t)i) == 0);
		}
	}
	struct dvmq_port *rd;
	char err[256];
	CHECK(dvmq_port_pcap_open_read(path, &rd, err, sizeof(err)) == 0);
	struct dvmq_pkt p[DVMQ_BURST];
	int n;
	while ((n = dvmq_port_rx_burst(rd, p, DVMQ_BURST)) > 0)
		dvmq_dp_classify(fx.dp, p, (unsigned)n);
	CHECK(n == -ENODATA);
	dvmq_port_destroy(rd);
	CHECK(dvmq_dp_drain(fx.dp, 10 * SEC) == 0);
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	uint64_t refused = 0;
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++)
		refused += c.verdict[v];
	uint64_t fates = refused + c.vmq_delivered + c.default_unicast + c.flooded + c.filtered + c.overflow +
			 c.vm_gone + c.in_flight;
	CHECK_MSG(c.rx == frames && fates == frames,
		  "%s: %llu frames, rx %llu, accounted %llu (refused %llu vmq %llu unicast %llu flooded %llu "
		  "filtered %llu)",
		  path, (unsigned long long)frames, (unsigned long long)c.rx, (unsigned long long)fates,
		  (unsigned long long)refused, (unsigned long long)c.vmq_delivered,
		  (unsigned long long)c.default_unicast, (unsigned long long)c.flooded,
		  (unsigned long long)c.filtered);
	CHECK(c.overflow == 0 && c.vm_gone == 0);
	/* the VMQ'd VMs got exactly the frames addressed to them, plus floods */
	for (size_t i = 0; i < n_vms && i < 2; i++) {
		struct dvmq_port_stats st = dpfx_sink(&fx, (uint32_t)i);
		CHECK_MSG(st.tx_packets - st.tx_flooded == d[i].n, "%s: VM %zu got %llu unicast, want %llu", path, i,
			  (unsigned long long)(st.tx_packets - st.tx_flooded), (unsigned long long)d[i].n);
	}
	dpfx_fini(&fx);
}

TEST(pcap_replay_zeek_mapi)
{
	replay(DVMQ_SOURCE_ROOT "/tests/data/pcaps/zeek_mapi.pcap");
}

TEST(pcap_replay_zeek_wikipedia)
{
	replay(DVMQ_SOURCE_ROOT "/tests/data/pcaps/zeek_wikipedia.pcap");
}

TEST(pcap_replay_zeek_mixed_vlan_mpls)
{
	replay(DVMQ_SOURCE_ROOT "/tests/data/pcaps/zeek_mixed-vlan-mpls.pcap");
}

TEST(pcap_replay_zeek_qinq_is_unsupported_by_reason)
{
	replay(DVMQ_SOURCE_ROOT "/tests/data/pcaps/zeek_pppoe-over-qinq.pcap");
	struct dvmq_port *rd;
	char err[256];
	CHECK(dvmq_port_pcap_open_read(DVMQ_SOURCE_ROOT "/tests/data/pcaps/zeek_pppoe-over-qinq.pcap", &rd, err,
				       sizeof(err)) == 0);
	struct dvmq_pkt p[DVMQ_BURST];
	int n, qinq = 0, total = 0;
	while ((n = dvmq_port_rx_burst(rd, p, DVMQ_BURST)) > 0)
		for (int i = 0; i < n; i++, total++) {
			struct dvmq_frame f;
			qinq += dvmq_frame_parse(p[i].data, p[i].len, 1500, &f) == DVMQ_FRAME_QINQ;
		}
	dvmq_port_destroy(rd);
	CHECK(total == 86 && qinq == 86);
}

TEST(pcap_replay_tcpreplay_from_shared_folder)
{
	/* the shared folder sits beside the main checkout, or beside the worktrees' folder */
	static const char *const paths[] = { DVMQ_SOURCE_ROOT "/../shared/pcaps/tcpreplay_test.pcap",
					     DVMQ_SOURCE_ROOT "/../../shared/pcaps/tcpreplay_test.pcap" };
	for (unsigned i = 0; i < 2; i++) {
		FILE *f = fopen(paths[i], "rb");
		if (f) {
			fclose(f);
			replay(paths[i]);
			return;
		}
	}
	SKIP("%s is not on this machine (GPLv3, not copied)", paths[0]);
}

TEST(pcap_bad_files_are_refused_with_a_reason)
{
	struct dvmq_port *rd = NULL;
	char err[256] = "";
	CHECK(dvmq_port_pcap_open_read("/nonexistent/x.pcap", &rd, err, sizeof(err)) == -ENOENT && err[0]);
	CHECK(dvmq_port_pcap_open_read(DVMQ_SOURCE_ROOT "/README.md", &rd, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "README.md") != NULL && rd == NULL);
	CHECK(dvmq_port_pcap_open_write("/nonexistent/dir/out.pcap", &rd, err, sizeof(err)) == -EIO);
}
