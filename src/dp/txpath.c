/* Sending frames to a port from the data plane (workers, vm_send threads): with their offloads
 * through tx_burst_off where the port has it, else resolved in software (src/port/offload.c:
 * a super-frame becomes the segments its sender's stack would have made, a partial checksum is
 * completed) into the calling thread's scratch, so that a port without offloads (sink, pcap, a
 * test's fake) only ever receives complete frames.
 * Invariant: a frame counts as taken only when the port took all of it (every segment); the
 * caller counts the rest by reason. No allocation, no lock, no wait: the scratch is the
 * thread's own (dp_txctx). */
#include <errno.h>
#include <stdlib.h>

#include "dp_internal.h"
#include "../port/offload.h"

struct dp_txctx *dp_txctx_new(void)
{
	struct dp_txctx *cx = fault_zalloc_aligned(64, sizeof(*cx));
	if (!cx)
		return NULL;
	cx->arena = fault_zalloc(1, DP_ARENA_BYTES);
	cx->res = fault_zalloc(1, DP_RESOLVE_BYTES);
	if (!cx->arena || !cx->res) {
		dp_txctx_free(cx);
		return NULL;
	}
	return cx;
}

void dp_txctx_free(struct dp_txctx *cx)
{
	if (!cx)
		return;
	free(cx->arena);
	free(cx->res);
	free(cx);
}

/* One frame with offloads, as the segments (or the checksummed frame) it stands for, in bursts
 * of DVMQ_BURST or as many as the scratch holds. Returns 1 when the port took every one. */
static unsigned resolve_one(struct dp_txctx *cx, struct dvmq_port *port, const struct dvmq_pkt *p,
			    const struct dvmq_offload *o, int flooded)
{
	unsigned total = offload_segments(p, o);
	if (total == 0)
		return 0;
	uint32_t max = offload_segment_max(p, o), used = 0;
	unsigned m = 0, took = 0, k = 0;
	for (; k < total; k++) {
		if (m == DVMQ_BURST || DP_RESOLVE_BYTES - used < max) {
			took += dvmq_port_tx_burst(port, cx->seg, m, flooded);
			m = 0;
			used = 0;
		}
		uint32_t len = offload_segment(p, o, k, cx->res + used, DP_RESOLVE_BYTES - used);
		if (len == 0)
			break;
		cx->seg[m++] = (struct dvmq_pkt){ cx->res + used, len, p->ts_ns };
		used += len;
	}
	if (m)
		took += dvmq_port_tx_burst(port, cx->seg, m, flooded);
	return k == total && took == total ? 1u : 0u;
}

unsigned dp_port_tx(struct dp_txctx *cx, struct dvmq_port *port, const struct dvmq_pkt *pkts,
		    const struct dvmq_offload *off, unsigned n, int flooded)
{
	if (n == 0)
		return 0;
	if (!off)
		return dvmq_port_tx_burst(port, pkts, n, flooded);
	if (port->ops->tx_burst_off)
		return port->ops->tx_burst_off(port, pkts, off, n, flooded);
	unsigned took = 0;
	for (unsigned i = 0; i < n;) {
		unsigned run = 0;
		while (i + run < n && !offload_pending(&off[i + run]))
			run++;
		if (run) {
			took += dvmq_port_tx_burst(port, pkts + i, run, flooded);
			i += run;
			continue;
		}
		took += resolve_one(cx, port, &pkts[i], &off[i], flooded);
		i++;
	}
	return took;
}

unsigned dp_port_tx_q(struct dp_txctx *cx, struct dvmq_port *port, uint32_t txq, const struct dvmq_pkt *pkts,
		      const struct dvmq_offload *off, unsigned n)
{
	if (n == 0)
		return 0;
	if (port->ops->tx_burst_q)
		return port->ops->tx_burst_q(port, txq, pkts, off, n, 0);
	return dp_port_tx(cx, port, pkts, off, n, 0);
}
