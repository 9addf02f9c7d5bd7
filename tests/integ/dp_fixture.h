/* Helpers for data-plane tests: a data plane with sink VMs, frames built by hand, and an
 * uplink thread that runs the generator at full speed. */
#ifndef DVMQ_TEST_DP_FIXTURE_H
#define DVMQ_TEST_DP_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/dp.h"

#define FX_MAX_VMS 16

struct dpfx {
	struct dvmq_dp *dp;
	struct dvmq_port *sink[FX_MAX_VMS];
	uint32_t vm[FX_MAX_VMS];
	uint32_t n_vms;
	_Atomic uint64_t clock_ns;   /* the data plane's aging clock (dpfx_init_clock) */
	/* full-speed uplink */
	struct dvmq_port *gen;
	pthread_t uplink;
	_Atomic bool stop;
};

static inline void fx_mac(uint8_t mac[6], uint32_t i)
{
	const uint8_t m[6] = { 0x02, 0x00, 0x00, 0x00, (uint8_t)(i >> 8), (uint8_t)i };
	memcpy(mac, m, 6);
}

static inline uint64_t fx_clock(void *arg)
{
	return atomic_load(&((struct dpfx *)arg)->clock_ns);
}

/* A data plane from cfg; the calling thread may classify (it is registered as an RCU reader
 * until dpfx_fini). With test_clock, MAC aging reads fx->clock_ns (starting at 1 s), which the
 * test advances. Returns 0 or -errno. */
static inline int dpfx_init_cfg(struct dpfx *fx, struct dvmq_dp_config cfg, bool test_clock)
{
	memset(fx, 0, sizeof(*fx));
	if (test_clock) {
		atomic_store(&fx->clock_ns, 1000000000ull);
		cfg.clock_ns = fx_clock;
		cfg.clock_arg = fx;
	}
	int rc = dvmq_dp_create(&cfg, &fx->dp);
	if (!rc)
		dvmq_dp_thread_register();
	return rc;
}

/* A data plane with n_workers, queue slots, lossless or not, FX_MAX_VMS VMs at most. */
static inline int dpfx_init(struct dpfx *fx, uint32_t n_workers, uint32_t n_queues, bool lossless,
			    uint64_t fdb_age_ns)
{
	struct dvmq_dp_config cfg = { .n_workers = n_workers, .n_queues = n_queues, .queue_depth = 1024,
				      .mtu = 1500, .max_vms = FX_MAX_VMS, .fdb_size = 64,
				      .fdb_age_ns = fdb_age_ns, .lossless = lossless };
	return dpfx_init_cfg(fx, cfg, false);
}

/* Adds VM i (MAC 02:00:00:00:00:i) on vlan with flows [flow_base, +n_flows). */
static inline int dpfx_vm(struct dpfx *fx, uint32_t i, uint16_t vlan, uint32_t flow_base, uint32_t n_flows)
{
	uint8_t mac[6];
	fx_mac(mac, i);
	int rc = dvmq_port_sink_open("vm", flow_base, n_flows, 1500, NULL, &fx->sink[i]);
	if (!rc)
		rc = dvmq_dp_vm_add(fx->dp, mac, vlan, 0.0, fx->sink[i], &fx->vm[i]);
	if (!rc && i + 1 > fx->n_vms)
		fx->n_vms = i + 1;
	return rc;
}

static inline void dpfx_fini(struct dpfx *fx)
{
	dvmq_dp_thread_unregister();
	dvmq_dp_destroy(fx->dp);
	for (uint32_t i = 0; i < FX_MAX_VMS; i++)
		dvmq_port_destroy(fx->sink[i]);
	dvmq_port_destroy(fx->gen);
}

static inline struct dvmq_port_stats dpfx_sink(const struct dpfx *fx, uint32_t i)
{
	struct dvmq_port_stats st;
	dvmq_port_stats(fx->sink[i], &st);
	return st;
}

static inline uint64_t dpfx_sink_packets(const struct dvmq_port *p)
{
	struct dvmq_port_stats st;
	dvmq_port_stats(p, &st);
	return st.tx_packets;
}

/* A minimal untagged or tagged frame from src to dst (60 bytes, ethertype 0x88b5). */
static inline unsigned fx_frame(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t vlan)
{
	memset(buf, 0, 64);
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	unsigned off = 12;
	if (vlan) {
		buf[12] = 0x81, buf[13] = 0x00, buf[14] = (uint8_t)(vlan >> 8), buf[15] = (uint8_t)vlan;
		off = 16;
	}
	buf[off] = 0x88, buf[off + 1] = 0xb5;
	return 64;
}

static inline void fx_send_dp(struct dvmq_dp *dp, uint8_t *frame, unsigned len)
{
	struct dvmq_pkt p = { frame, len, 0 };
	dvmq_dp_classify(dp, &p, 1);
}

static inline void fx_send(struct dpfx *fx, uint8_t *frame, unsigned len)
{
	fx_send_dp(fx->dp, frame, len);
}

static inline void *fx_uplink_main(void *arg)
{
	struct dpfx *fx = arg;
	struct dvmq_pkt pkts[DVMQ_BURST];
	uint64_t t = 1;
	dvmq_dp_thread_register();
	while (!atomic_load(&fx->stop)) {
		t += 1000000; /* 1 ms of credit per round: the generator never waits */
		dvmq_port_gen_advance(fx->gen, t);
		int n = dvmq_port_rx_burst(fx->gen, pkts, DVMQ_BURST);
		if (n > 0)
			dvmq_dp_classify(fx->dp, pkts, (unsigned)n);
	}
	dvmq_dp_thread_unregister();
	return NULL;
}

/* Starts a full-speed generator for VMs 0..n-1 (flows_per_vm each, 64-byte frames), VM i on
 * VLAN vlans[i] (vlans NULL: all untagged). */
static inline int dpfx_start_traffic_vlans(struct dpfx *fx, uint32_t n, uint32_t flows_per_vm, double pps_each,
					   const uint16_t *vlans)
{
	struct dvmq_gen_vm g[FX_MAX_VMS];
	memset(g, 0, sizeof(g));
	for (uint32_t i = 0; i < n; i++) {
		fx_mac(g[i].mac, i);
		g[i].vlan = vlans ? vlans[i] : 0;
		g[i].frame_bytes = 64;
		g[i].flows = flows_per_vm;
		g[i].flow_base = i * flows_per_vm;
	}
	int rc = dvmq_port_gen_open("gen", g, n, &fx->gen);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < n; i++)
		dvmq_port_gen_set_rate(fx->gen, i, pps_each);
	dvmq_port_gen_advance(fx->gen, 1);
	return -pthread_create(&fx->uplink, NULL, fx_uplink_main, fx);
}

static inline int dpfx_start_traffic(struct dpfx *fx, uint32_t n, uint32_t flows_per_vm, double pps_each)
{
	return dpfx_start_traffic_vlans(fx, n, flows_per_vm, pps_each, NULL);
}

static inline void dpfx_stop_traffic(struct dpfx *fx)
{
	atomic_store(&fx->stop, true);
	pthread_join(fx->uplink, NULL);
}

/* A VM port whose first tx_burst blocks until the test opens it (a VM that stops reading):
 * the worker delivering to it stays inside its batch, frames queue up behind it. */
struct gate_port {
	struct dvmq_port port;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool entered, open;
	_Atomic uint64_t frames;
	const _Atomic bool *removed;   /* if set: dvmq_dp_vm_remove returned (it must not have yet) */
	_Atomic bool early_return;
};

static inline unsigned gate_tx(struct dvmq_port *p, const struct dvmq_pkt *pkts, unsigned n, int flooded)
{
	(void)pkts, (void)flooded;
	struct gate_port *g = (struct gate_port *)p;
	pthread_mutex_lock(&g->lock);
	g->entered = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	if (g->removed && atomic_load(g->removed))
		atomic_store(&g->early_return, true); /* the port was still in use */
	atomic_fetch_add(&g->frames, n);
	return n;
}

static inline void gate_destroy(struct dvmq_port *p)
{
	struct gate_port *g = (struct gate_port *)p;
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
	free(g);
}

static const struct dvmq_port_ops gate_ops = { .kind = "gate", .tx_burst = gate_tx, .destroy = gate_destroy };

static inline struct gate_port *gate_open(void)
{
	struct gate_port *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->port.ops = &gate_ops;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	return g;
}

/* Waits until a worker is inside tx_burst, or `set` opens the gate. */
static inline void gate_wait_entered(struct gate_port *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->entered)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static inline void gate_set_open(struct gate_port *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

#endif
