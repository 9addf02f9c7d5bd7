/* Kernel mode's per-queue drops (dpif_kernel.c). A full cpumap ring drops frames before any
 * program of dvmq sees them again: the kernel's enqueue tracepoint says how many per processor,
 * not whose. The drops of an interval go to the queues whose frames were waiting for that
 * processor, in proportion to how many of each queue's frames are unaccounted for (sent, not yet
 * processed nor given a drop). Pure arithmetic, no kernel: the unit tests run it directly. */
#ifndef DVMQ_KERNEL_DROPS_H
#define DVMQ_KERNEL_DROPS_H

#include <stdint.h>

/* Splits `drops` over n queues: out[q] += each one's share. gap[q] is queue q's unaccounted
 * frames on this processor (0: not a candidate) and is lowered by what it gets. Shares are in
 * proportion to gap, never above it, and sum to `drops` exactly: drops beyond the gaps together
 * (counts read at slightly different instants) go to `fallback` (a queue of this processor), so
 * that every dropped frame is in some queue's count. Returns what went beyond the gaps. */
uint64_t kernel_drops_attribute(uint64_t drops, uint32_t n, uint64_t *gap, uint32_t fallback, uint64_t *out);

#endif
