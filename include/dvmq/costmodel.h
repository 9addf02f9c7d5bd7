/* The cost model of kernel mode (docs/kernel-mode.md, "The cost model"): what a queue's frames
 * cost the processor that served them, when the only time measured is the processor's total
 * network time (softirq + its cpumap kthread) and the only per-queue figures are packets and
 * bytes. Per processor it fits
 *     busy fraction = c0 + a * packets/s + b * bytes/s,   c0, a, b >= 0
 * by least squares over the intervals seen, older ones weighted down by `forget` per interval
 * (exponential forgetting: costs that change are tracked), with a small ridge so that a processor
 * whose frames all have one size (packets and bytes proportional) still has one answer. The
 * non-negative solution is exact: with three unknowns every set of coefficients held at zero is
 * tried. c0 is the work no queue explains (the NIC's own receive on that processor, timers).
 * A queue's busy time on a processor is the fitted cost of its packets and bytes, scaled so that
 * the processor's queues together get the measured network time minus c0's share.
 * Pure: no I/O, no clock, no globals. Thread safety: none; one model per caller. */
#ifndef DVMQ_COSTMODEL_H
#define DVMQ_COSTMODEL_H

#include <stdint.h>

struct dvmq_costmodel;

struct dvmq_costmodel_coef {
	double const_frac;    /* c0: busy fraction no packet explains */
	double ns_per_packet; /* a */
	double ns_per_byte;   /* b */
	uint64_t intervals;   /* how many fed the fit */
};

/* A model for n_cpus processors (1..65536); forget in (0, 1] (1: never forget; 0.9 is a 10-interval
 * memory). Returns NULL for bad arguments or ENOMEM. */
struct dvmq_costmodel *dvmq_costmodel_create(uint32_t n_cpus, double forget);
void dvmq_costmodel_destroy(struct dvmq_costmodel *m);

/* Feeds processor i's interval: its measured network time, and the packets and bytes it processed
 * (all queues). Intervals of 0 ns are ignored. */
void dvmq_costmodel_update(struct dvmq_costmodel *m, uint32_t i, uint64_t interval_ns, uint64_t net_ns,
			   uint64_t packets, uint64_t bytes);

/* Processor i's coefficients now (zeros before the first update). */
struct dvmq_costmodel_coef dvmq_costmodel_coef(const struct dvmq_costmodel *m, uint32_t i);

/* Splits processor i's network time of one interval among n queues that processed packets[q] and
 * bytes[q] there: busy_ns[q] = fitted cost of q, scaled so the queues sum to net_ns minus c0's
 * share (never below 0). Queues without packets get 0; when the fit prices every queue at 0 (no
 * fit yet), the time is split by packets. Returns the time given out (<= net_ns). */
uint64_t dvmq_costmodel_attribute(const struct dvmq_costmodel *m, uint32_t i, uint64_t interval_ns, uint64_t net_ns,
				  const uint64_t *packets, const uint64_t *bytes, uint32_t n, uint64_t *busy_ns);

#endif
