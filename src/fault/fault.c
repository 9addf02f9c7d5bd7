/* Fault injection (fault.h): a countdown armed by tests; 0 means disarmed. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

static _Atomic unsigned long fault_at;    /* fail the call with this ordinal; 0: never */
static _Atomic unsigned long fault_calls; /* ordinal of the latest call since arming */
static _Atomic int fault_err;

void dvmq_fault_arm(unsigned long n)
{
	atomic_store(&fault_calls, 0);
	atomic_store(&fault_err, 0);
	atomic_store(&fault_at, n);
}

unsigned long dvmq_fault_calls(void)
{
	return atomic_load(&fault_calls);
}

int dvmq_fault_injected(void)
{
	return atomic_load(&fault_err);
}

bool fault_hit(int err)
{
	unsigned long at = atomic_load_explicit(&fault_at, memory_order_relaxed);
	if (at == 0)
		return false;
	if (atomic_fetch_add(&fault_calls, 1) + 1 != at)
		return false;
	atomic_store(&fault_err, -err);
	return true;
}

void *fault_zalloc(size_t n, size_t size)
{
	return fault_hit(ENOMEM) ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *fault_zalloc_aligned(size_t align, size_t size)
{
	if (fault_hit(ENOMEM))
		return NULL;
	size = (size + align - 1) & ~(align - 1); /* aligned_alloc wants a multiple of align */
	void *p = aligned_alloc(align, size ? size : align);
	if (p)
		memset(p, 0, size); /* aligned_alloc does not zero: cleanup paths read these fields */
	return p;
}
