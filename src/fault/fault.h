/* Fault injection for tests, after Lua's ltests.c and SQLite's test allocator: every fallible
 * call of the data plane and the ports (allocation, eventfd, pthread_create, table creation)
 * asks fault_hit() first. Armed with dvmq_fault_arm(n), the n-th such call from then on fails
 * with the errno that call would report (ENOMEM, EMFILE, EAGAIN); disarmed (the default) it
 * costs one relaxed load, on control paths only: the fast path allocates nothing.
 * Thread safety: any thread; the state is one process-wide counter (tests run one per process). */
#ifndef DVMQ_FAULT_H
#define DVMQ_FAULT_H

#include <stdbool.h>
#include <stddef.h>

/* Arms the n-th fallible call from now on to fail (n >= 1); 0 disarms. Resets the counters. */
void dvmq_fault_arm(unsigned long n);
/* Fallible calls seen since the last arm. */
unsigned long dvmq_fault_calls(void);
/* The negative errno the armed call failed with, or 0 while it has not been reached. */
int dvmq_fault_injected(void);

/* True when this call must fail with -err (recorded for dvmq_fault_injected). */
bool fault_hit(int err);

/* Allocation through the fault hook: NULL on (injected) failure, memory zeroed. */
void *fault_zalloc(size_t n, size_t size);
/* Zeroed memory aligned to `align` (a power of two, a multiple of sizeof(void *)). */
void *fault_zalloc_aligned(size_t align, size_t size);

#endif
