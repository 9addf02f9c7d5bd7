/* Snapshots of the daemon's state (include/dvmq/ctl_state.h): one allocation, reference
 * counted, immutable once published; and the publisher that hands the latest one to readers.
 * Invariant: the publisher holds one reference to the latest snapshot; a reader's reference
 * keeps its snapshot alive however many newer ones are published meanwhile. The mutex guards
 * only the pointer swap and the reference taken under it, never a rendering. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/ctl_state.h"

const double dvmq_snap_plan_bounds_s[DVMQ_SNAP_PLAN_BUCKETS] = {
	10e-6, 50e-6, 100e-6, 500e-6, 1e-3, 5e-3, 10e-3, 50e-3,
};

static const char *const drop_names[DVMQ_SNAP_DROP_COUNT] = {
	[DVMQ_SNAP_DROP_OVERFLOW] = "overflow",
	[DVMQ_SNAP_DROP_VM_GONE] = "vm-gone",
	[DVMQ_SNAP_DROP_MALFORMED] = "malformed",
	[DVMQ_SNAP_DROP_UNSUPPORTED] = "unsupported",
};

const char *dvmq_snap_drop_name(enum dvmq_snap_drop d)
{
	return (unsigned)d < DVMQ_SNAP_DROP_COUNT ? drop_names[d] : "?";
}

void dvmq_snap_count_plan(struct dvmq_snapshot *s, double seconds)
{
	unsigned b = 0;
	while (b < DVMQ_SNAP_PLAN_BUCKETS && seconds > dvmq_snap_plan_bounds_s[b])
		b++;
	s->plan_buckets[b]++;
	s->plans++;
	s->plan_seconds += seconds;
}

/* Arrays live behind the header in the same block; each starts aligned for its type. */
static size_t align_up(size_t n)
{
	return (n + 15u) & ~(size_t)15u;
}

int dvmq_snapshot_create(uint32_t n_processors, uint32_t n_queues, uint32_t n_vms, uint32_t n_moves,
			 struct dvmq_snapshot **out)
{
	size_t off_p = align_up(sizeof(struct dvmq_snapshot));
	size_t off_q = off_p + align_up((size_t)n_processors * sizeof(struct dvmq_snap_processor));
	size_t off_v = off_q + align_up((size_t)n_queues * sizeof(struct dvmq_snap_queue));
	size_t off_m = off_v + align_up((size_t)n_vms * sizeof(struct dvmq_snap_vm));
	size_t total = off_m + (size_t)n_moves * sizeof(struct dvmq_snap_move);
	char *block = calloc(1, total);
	if (!block)
		return -ENOMEM;
	struct dvmq_snapshot *s = (struct dvmq_snapshot *)(void *)block;
	s->n_processors = n_processors;
	s->n_queues = n_queues;
	s->n_vms = n_vms;
	s->n_moves = n_moves;
	s->processors = (struct dvmq_snap_processor *)(void *)(block + off_p);
	s->queues = (struct dvmq_snap_queue *)(void *)(block + off_q);
	s->vms = (struct dvmq_snap_vm *)(void *)(block + off_v);
	s->moves = (struct dvmq_snap_move *)(void *)(block + off_m);
	s->adapter.numa_node = -1;
	s->adapter.vmq = true;
	atomic_init(&s->refs, 1);
	*out = s;
	return 0;
}

struct dvmq_snapshot *dvmq_snapshot_ref(struct dvmq_snapshot *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void dvmq_snapshot_unref(struct dvmq_snapshot *s)
{
	/* acq_rel: the last holder must see every other holder's reads finished */
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
		free(s->counters);
		free(s);
	}
}

int dvmq_snapshot_set_counters(struct dvmq_snapshot *s, uint32_t n)
{
	if (s->counters)
		return -EBUSY;
	s->counters = calloc(n ? n : 1, sizeof(*s->counters));
	if (!s->counters)
		return -ENOMEM;
	s->n_counters = n;
	return 0;
}

const struct dvmq_snap_vm *dvmq_snap_vm_find(const struct dvmq_snapshot *s, const char *name)
{
	for (uint32_t i = 0; i < s->n_vms; i++)
		if (strcmp(s->vms[i].name, name) == 0)
			return &s->vms[i];
	return NULL;
}

const struct dvmq_snap_queue *dvmq_snap_queue_find(const struct dvmq_snapshot *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->n_queues; i++)
		if (s->queues[i].id == id)
			return &s->queues[i];
	return NULL;
}

const struct dvmq_snap_processor *dvmq_snap_processor_find(const struct dvmq_snapshot *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->n_processors; i++)
		if (s->processors[i].id == id)
			return &s->processors[i];
	return NULL;
}

struct dvmq_snapshot_pub {
	pthread_mutex_t lock;
	struct dvmq_snapshot *latest;
};

int dvmq_snapshot_pub_create(struct dvmq_snapshot_pub **out)
{
	struct dvmq_snapshot_pub *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int rc = pthread_mutex_init(&p->lock, NULL);
	if (rc) {
		free(p);
		return -rc;
	}
	*out = p;
	return 0;
}

void dvmq_snapshot_pub_destroy(struct dvmq_snapshot_pub *p)
{
	if (!p)
		return;
	dvmq_snapshot_unref(p->latest);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void dvmq_snapshot_publish(struct dvmq_snapshot_pub *p, struct dvmq_snapshot *s)
{
	pthread_mutex_lock(&p->lock);
	struct dvmq_snapshot *old = p->latest;
	p->latest = s;
	pthread_mutex_unlock(&p->lock);
	dvmq_snapshot_unref(old); /* outside the lock: freeing may take a while */
}

struct dvmq_snapshot *dvmq_snapshot_acquire(struct dvmq_snapshot_pub *p)
{
	pthread_mutex_lock(&p->lock);
	struct dvmq_snapshot *s = dvmq_snapshot_ref(p->latest);
	pthread_mutex_unlock(&p->lock);
	return s;
}
