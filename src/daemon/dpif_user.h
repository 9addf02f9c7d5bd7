/* The userspace switch behind the daemon's data plane interface (dpif.h), private to its files:
 *   dpif_user.c        ports, the uplink thread, the VM receive thread, VMs in the data plane
 *   dpif_user_stats.c  samples, counters, the views' own counters, the run's result
 * Threads and what they touch (all in struct dpif_user): the control thread owns everything,
 * except
 *   - the uplink thread: reads `stop`, the gen VMs' `on` and the uplink port;
 *   - the VM receive thread: reads `stop` and the rx table under rx_lock (the control thread
 *     changes the table under the same lock, so a port is never closed while it is read);
 *   - both: bump the atomic counters below. */
#ifndef DVMQ_DPIF_USER_H
#define DVMQ_DPIF_USER_H

#include <pthread.h>
#include <stdatomic.h>

#include "run_internal.h"

/* One scenario VM as the generator plays it. */
struct run_gen_vm {
	_Atomic bool on;           /* its adapter is attached: the uplink thread sends its frames */
	double const_rate;         /* >= 0 when the load never changes */
	uint32_t flow_base, n_flows;
	uint32_t slot;             /* the VM slot it plays to, or RUN_NO_SLOT */
};

/* The VM receive thread's view of a VM port (under rx_lock). */
struct run_rx {
	struct dvmq_port *port;    /* NULL: free */
	uint32_t gen;              /* matches the epoll registration's */
	uint32_t dp_vm;            /* DVMQ_DP_NO_VM while detached */
	bool reported;             /* its link-down was logged */
	bool lost;                 /* it failed for good (device gone): the control thread reopens it */
};

/* A VM slot's side in the data plane. */
struct dpif_user_vm {
	struct dvmq_port *port;    /* open from vm_open to vm_close */
	uint32_t dp_vm;            /* its id in the data plane while added */
	double cost_ns;            /* work per frame the worker does for it (scenario VMs) */
	double cost_now;
};

struct dpif_user {
	struct dvmq_dp *dp;
	struct dvmq_port *uplink;
	struct dpif_user_vm *vm;          /* cap_vms, by slot */
	struct run_gen_vm *gen_vm;
	uint32_t n_gen_vms;
	/* threads */
	pthread_t uplink_thread, vm_rx_thread;
	bool uplink_started, vm_rx_started;
	_Atomic bool stop;
	int stop_fd;                      /* eventfd: wakes the threads blocked in poll/epoll */
	int epfd;                         /* the VM receive thread's ports */
	pthread_mutex_t rx_lock;
	bool rx_lock_ready;
	struct run_rx *rx;                /* cap_vms entries, one per VM slot */
	_Atomic uint64_t vm_frames, uplink_events;
	_Atomic uint64_t vm_frames_detached; /* of vm_frames, read while the VM was out of the data plane */
};

static inline struct dpif_user *dpif_user_of(const struct run *r)
{
	return r->dpif_priv;
}

/* dpif_user_stats.c: the ops of sampling and views */
int dpif_user_sample(struct run *r, uint64_t elapsed_ns, struct dvmq_proc_sample *ps);
void dpif_user_queue_stats(struct run *r, uint32_t q, struct run_dpif_queue *out);
void dpif_user_latency(struct run *r, uint64_t *hist);
void dpif_user_counters(struct run *r, struct run_dpif_counters *out);
int dpif_user_snap_totals(struct run *r, struct dvmq_snapshot *s);
void dpif_user_snap_vm(struct run *r, uint32_t slot, struct dvmq_snap_vm *sv);
void dpif_user_finish(struct run *r, struct dvmq_run_result *res);
bool dpif_user_proc_stats(struct run *r, uint32_t p, uint64_t *busy_ns, uint64_t *frames, uint64_t *wakeups);

#endif
