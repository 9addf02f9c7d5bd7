/* The inline worker (dvmq_dp_config.inline_last): the last processor's worker has no thread of
 * its own; the thread that classifies serves its queues between bursts (run to completion, as
 * Open vSwitch's PMD threads and DPDK applications do), so a frame for a queue there goes from the
 * uplink's socket to its VM's port on one thread, with no wake-up of another in between: on a
 * busy 2-CPU host each wake-up is a wait for a CPU (docs/ports.md, "Latency: what bounds it").
 * Handoffs are unchanged: the control thread and the other workers write its eventfd, which the
 * caller polls (dvmq_dp_inline_fd) and reports here (`woken`); classify never writes it (the
 * worker is never marked sleeping: the caller serves right after classifying). */
#include <unistd.h>

#include "dp_internal.h"

unsigned dvmq_dp_inline_serve(struct dvmq_dp *dp, bool woken, bool *pending)
{
	struct dp_worker *w = dp_inline_worker(dp);
	*pending = false;
	if (!w)
		return 0;
	if (woken) {
		uint64_t v;
		(void)!read(w->efd, &v, sizeof(v)); /* nonblocking: consumed, or nothing there */
	}
	unsigned done = dp_worker_pass(w);
	*pending = dp_worker_pending(w) ||
		   atomic_load_explicit(&w->gen, memory_order_seq_cst) != w->seen_gen;
	return done;
}

int dvmq_dp_inline_fd(const struct dvmq_dp *dp)
{
	return dp->cfg.inline_last ? dp->w[dp->n_workers - 1].efd : -1;
}
