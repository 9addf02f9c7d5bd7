/* The daemon's ports and the threads that read them, and VMs in and out of the engine and the
 * data plane.
 * Threads: the uplink thread reads the uplink (the generator on a 500 us tick, a capture as fast
 * as the workers take it, or a kernel port's descriptor) into the classifier; the VM receive
 * thread waits in epoll on every kernel VM port and hands what the VMs send to vm_frames, which
 * gives them to the data plane's switch (dvmq_dp_vm_send_off): other VMs, the uplink (set for
 * transmit when it can send), floods. Both also wait on stop_fd.
 * Invariant: the VM receive thread touches a port only under rx_lock and only while its rx
 * entry's generation matches the epoll registration's, so the control thread may close a VM's
 * port once it has cleared the entry under the lock. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "run_internal.h"

#define UPLINK_TICK_NS 500000ull
#define DOWN_RETRY_MS 100
#define FDB_SIZE 4096u
#define FDB_AGE_NS 300000000000ull
#define RX_EVENTS 64
#define RX_BURSTS_PER_EVENT 8   /* then the next port: level-triggered epoll comes back */
#define STOP_TOKEN UINT64_MAX

uint64_t run_scenario_time(const struct run *r, uint64_t t)
{
	/* a daemon outlives its scenario: the scenario's day repeats */
	return !r->duration_ns && r->scenario_period_ns ? t % r->scenario_period_ns : t;
}

static double gen_rate(const struct run *r, uint32_t v, uint64_t t)
{
	const struct run_gen_vm *g = &r->gen_vm[v];
	if (!atomic_load_explicit(&g->on, memory_order_acquire))
		return 0.0;
	const struct dvmq_vm *d = &r->s->vms[v];
	double base = g->const_rate >= 0.0 ? g->const_rate : d->scale * dvmq_load_at(&d->load, run_scenario_time(r, t));
	return base * r->scale;
}

static void sleep_until(const struct run *r, uint64_t t)
{
	uint64_t abs = r->start_ns + t;
	struct timespec ts = { (time_t)(abs / 1000000000ull), (long)(abs % 1000000000ull) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static bool stopping(const struct run *r)
{
	return atomic_load_explicit(&r->stop, memory_order_acquire);
}

/* Blocks until fd is readable (fd < 0: only stop) or ms pass (-1: no limit). */
static void wait_fd(const struct run *r, int fd, int ms)
{
	struct pollfd p[2] = { { .fd = r->stop_fd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
	if (!stopping(r))
		poll(p, fd >= 0 ? 2 : 1, ms);
}

/* The scenario's traffic, generated and classified as it falls due. */
static void uplink_gen(struct run *r)
{
	struct dvmq_pkt pkts[DVMQ_BURST];
	uint64_t t = run_now(r);
	while (!stopping(r)) {
		for (uint32_t v = 0; v < r->n_gen_vms; v++)
			dvmq_port_gen_set_rate(r->uplink, v, gen_rate(r, v, t));
		dvmq_port_gen_advance(r->uplink, r->start_ns + t);
		int n;
		while ((n = dvmq_port_rx_burst(r->uplink, pkts, DVMQ_BURST)) > 0)
			dvmq_dp_classify(r->dp, pkts, (unsigned)n);
		uint64_t now = run_now(r);
		t += UPLINK_TICK_NS;
		if (t < now)
			t = now; /* fell behind: the credit cap bounds the catch-up burst */
		else
			sleep_until(r, t);
	}
}

/* A capture or a kernel port: read until the input ends, waiting on the descriptor when idle. */
static void uplink_read(struct run *r)
{
	struct dvmq_pkt pkts[DVMQ_BURST];
	struct dvmq_offload off[DVMQ_BURST];
	int fd = dvmq_port_fd(r->uplink);
	uint64_t frames = 0;
	while (!stopping(r)) {
		int n = dvmq_port_rx_burst_off(r->uplink, pkts, off, DVMQ_BURST);
		if (n > 0) {
			dvmq_dp_classify_off(r->dp, pkts, off, (unsigned)n);
			frames += (uint64_t)n;
		} else if (n == 0) {
			wait_fd(r, fd, fd >= 0 ? -1 : DOWN_RETRY_MS);
		} else if (n == -ENETDOWN) {
			atomic_fetch_add_explicit(&r->uplink_events, 1, memory_order_relaxed);
			run_log(r, DVMQ_LOG_WARN, "uplink %s: link down (frames resume when it is up)", r->uplink->name);
			wait_fd(r, -1, DOWN_RETRY_MS);
		} else {
			if (n == -ENODATA)
				run_log(r, DVMQ_LOG_INFO, "uplink %s: capture replayed, %llu frames", r->uplink->name,
					(unsigned long long)frames);
			else
				run_log(r, DVMQ_LOG_ERR, "uplink %s: %s: no more frames from it (reload with another uplink, "
					"or restart dvmq)", r->uplink->name, n == -ENODEV ? "device gone" : strerror(-n));
			atomic_fetch_add_explicit(&r->uplink_events, n != -ENODATA, memory_order_relaxed);
			wait_fd(r, -1, -1);
		}
	}
}

/* A thread the data plane cannot take (out of memory for its scratch): it never classifies or
 * sends; the daemon stops as on SIGTERM (every frame so far still counted) and fails. */
static bool thread_register(struct run *r, const char *who)
{
	int rc = dvmq_dp_thread_register();
	if (rc == 0)
		return true;
	run_log(r, DVMQ_LOG_ERR, "%s thread: the data plane cannot take it: %s; stopping", who, strerror(-rc));
	atomic_store_explicit(&r->thread_failed, true, memory_order_release);
	kill(getpid(), SIGTERM); /* the control thread's signalfd gets it: the ordinary stop */
	return false;
}

static void *uplink_main(void *arg)
{
	struct run *r = arg;
	if (!thread_register(r, "uplink"))
		return NULL;
	if (r->cfg->uplink.port == DVMQ_CONFIG_PORT_GEN)
		uplink_gen(r);
	else
		uplink_read(r);
	dvmq_dp_thread_unregister();
	return NULL;
}

/* What becomes of the frames a VM sends: the data plane's switch checks them against the
 * adapter and switches them to other VMs, out of the uplink, or floods them (its send counters
 * say which). Frames from a port whose VM left the data plane are counted only. */
static void vm_frames(struct run *r, const struct run_rx *rx, const struct dvmq_pkt *pkts,
		      const struct dvmq_offload *off, unsigned n)
{
	atomic_fetch_add_explicit(&r->vm_frames, n, memory_order_relaxed);
	if (rx->dp_vm != DVMQ_DP_NO_VM)
		dvmq_dp_vm_send_off(r->dp, rx->dp_vm, pkts, off, n);
	else
		atomic_fetch_add_explicit(&r->vm_frames_detached, n, memory_order_relaxed);
}

/* Up to RX_BURSTS_PER_EVENT bursts from one VM port; under rx_lock. */
static void vm_read(struct run *r, struct run_rx *rx, uint32_t slot, uint32_t gen)
{
	struct dvmq_pkt pkts[DVMQ_BURST];
	struct dvmq_offload off[DVMQ_BURST];
	for (int b = 0; b < RX_BURSTS_PER_EVENT; b++) {
		int n = dvmq_port_rx_burst_off(rx->port, pkts, off, DVMQ_BURST);
		if (n > 0) {
			rx->reported = false;
			vm_frames(r, rx, pkts, off, (unsigned)n);
			if (n < (int)DVMQ_BURST)
				return;
			continue;
		}
		if (n == -ENETDOWN && !rx->reported) {
			run_log(r, DVMQ_LOG_WARN, "vm port %s: link down (what it is sent meanwhile is counted as dropped)",
				rx->port->name);
			rx->reported = true;
		} else if (n < 0 && n != -ENETDOWN) {
			/* from now on only errors: stop watching it (its VM stays, frames to it count as dropped) */
			struct epoll_event ev = { .events = EPOLLIN, .data.u64 = slot | (uint64_t)gen << 32 };
			epoll_ctl(r->epfd, EPOLL_CTL_DEL, dvmq_port_fd(rx->port), &ev);
			run_log(r, DVMQ_LOG_ERR, "vm port %s: %s (remove the VM, or add it again to reopen)", rx->port->name,
				n == -ENODEV ? "device gone" : strerror(-n));
		}
		return;
	}
}

static void *vm_rx_main(void *arg)
{
	struct run *r = arg;
	struct epoll_event evs[RX_EVENTS];
	if (!thread_register(r, "VM receive"))
		return NULL;
	while (!stopping(r)) {
		int n = epoll_wait(r->epfd, evs, RX_EVENTS, -1);
		for (int i = 0; i < n && !stopping(r); i++) {
			uint64_t tok = evs[i].data.u64;
			if (tok == STOP_TOKEN)
				continue;
			uint32_t slot = (uint32_t)tok, gen = (uint32_t)(tok >> 32);
			pthread_mutex_lock(&r->rx_lock);
			struct run_rx *rx = &r->rx[slot];
			if (rx->port && rx->gen == gen)
				vm_read(r, rx, slot, gen);
			pthread_mutex_unlock(&r->rx_lock);
		}
	}
	dvmq_dp_thread_unregister();
	return NULL;
}

static void port_log(void *ctx, const char *line)
{
	run_log(ctx, DVMQ_LOG_INFO, "uplink: %s", line);
}

/* The generator: one gen VM per scenario VM, flows numbered across them. */
static int open_gen(struct run *r, uint32_t *frame_bytes)
{
	const struct dvmq_scenario *s = r->s;
	r->n_gen_vms = (uint32_t)s->n_vms;
	r->gen_vm = calloc(r->n_gen_vms ? r->n_gen_vms : 1, sizeof(*r->gen_vm));
	struct dvmq_gen_vm *g = calloc(r->n_gen_vms ? r->n_gen_vms : 1, sizeof(*g));
	int rc = -ENOMEM;
	if (!g || !r->gen_vm)
		goto out;
	uint32_t flows = 0;
	*frame_bytes = 64 + DVMQ_VLAN_HLEN;
	for (uint32_t v = 0; v < r->n_gen_vms; v++) {
		const struct dvmq_vm *d = &s->vms[v];
		memcpy(g[v].mac, d->adapter.mac, 6);
		g[v].vlan = d->adapter.vlan;
		g[v].frame_bytes = d->frame_bytes;
		g[v].flows = d->flows ? d->flows : 1;
		g[v].flow_base = flows;
		flows += g[v].flows;
		if (d->frame_bytes + DVMQ_VLAN_HLEN > *frame_bytes)
			*frame_bytes = d->frame_bytes + DVMQ_VLAN_HLEN;
		struct run_gen_vm *gv = &r->gen_vm[v];
		gv->flow_base = g[v].flow_base;
		gv->n_flows = g[v].flows;
		gv->slot = RUN_NO_SLOT;
		gv->const_rate = dvmq_load_is_constant(&d->load) ? d->scale * dvmq_load_at(&d->load, 0) : -1.0;
	}
	rc = dvmq_port_gen_open("gen", g, r->n_gen_vms, &r->uplink);
out:
	free(g);
	return rc;
}

static int open_uplink(struct run *r, uint32_t *frame_bytes, struct dvmq_diag *diag)
{
	const struct dvmq_config_uplink *u = &r->cfg->uplink;
	struct dvmq_port_kopts ko;
	char err[200] = "";
	int rc;
	dvmq_config_uplink_kopts(r->cfg, &ko);
	ko.log = port_log;
	ko.log_ctx = r;
	*frame_bytes = 0; /* the largest the MTU allows */
	switch (u->port) {
	case DVMQ_CONFIG_PORT_GEN: rc = open_gen(r, frame_bytes); break;
	case DVMQ_CONFIG_PORT_PCAP: rc = dvmq_port_pcap_open_read(u->path, &r->uplink, err, sizeof(err)); break;
	case DVMQ_CONFIG_PORT_AFXDP: rc = dvmq_port_afxdp_open(u->device, &ko, &r->uplink, err, sizeof(err)); break;
	case DVMQ_CONFIG_PORT_AFPACKET: rc = dvmq_port_afpacket_open(u->device, &ko, &r->uplink, err, sizeof(err)); break;
	default: rc = -EINVAL; snprintf(err, sizeof(err), "port %s cannot be the uplink", dvmq_config_port_name(u->port));
	}
	if (rc)
		snprintf(diag->msg, sizeof(diag->msg), "uplink %s%s%s: %s", dvmq_config_port_name(u->port),
			 u->device[0] ? " " : "", u->device, err[0] ? err : strerror(-rc));
	return rc;
}

int run_ports_create(struct run *r, struct dvmq_diag *diag)
{
	uint32_t frame_bytes;
	int rc = open_uplink(r, &frame_bytes, diag);
	if (rc)
		return rc;
	const struct dvmq_config_host *h = &r->cfg->host;
	struct dvmq_dp_config cfg = {
		.n_workers = r->n_procs,
		.cpus = r->cpus,
		.n_queues = r->n_queues,
		.queue_depth = h->queue_depth,
		.mtu = h->mtu,
		.frame_bytes = frame_bytes, /* a gen's rings hold queue_depth of the scenario's largest frames */
		.max_vms = r->cap_vms,
		.fdb_size = FDB_SIZE,
		.fdb_age_ns = FDB_AGE_NS,
		.lossless = r->cfg->uplink.port == DVMQ_CONFIG_PORT_PCAP, /* a capture has no clock to keep */
		.virtual_cost = r->o->virtual_cost,
	};
	rc = dvmq_dp_create(&cfg, &r->dp);
	if (rc) {
		snprintf(diag->msg, sizeof(diag->msg), "data plane on %u processors: %s", r->n_procs, strerror(-rc));
		return rc;
	}
	/* a port that transmits (afpacket, afxdp) takes what VMs send outside; a generator or a
	 * capture does not, and such frames count as no-uplink */
	if (r->uplink->ops->tx_burst) {
		rc = dvmq_dp_set_uplink(r->dp, r->uplink);
		if (rc) {
			snprintf(diag->msg, sizeof(diag->msg), "uplink for transmit: %s", strerror(-rc));
			return rc;
		}
	}
	rc = pthread_mutex_init(&r->rx_lock, NULL);
	if (rc)
		return -rc;
	r->rx_lock_ready = true;
	r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->stop_fd < 0 || r->epfd < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = STOP_TOKEN };
	return epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->stop_fd, &ev) ? -errno : 0;
}

int run_threads_start(struct run *r)
{
	int rc = pthread_create(&r->vm_rx_thread, NULL, vm_rx_main, r);
	r->vm_rx_started = rc == 0;
	if (!rc)
		rc = pthread_create(&r->uplink_thread, NULL, uplink_main, r);
	r->uplink_started = r->vm_rx_started && rc == 0;
	return -rc;
}

void run_threads_stop(struct run *r)
{
	if (!r->uplink_started && !r->vm_rx_started)
		return;
	atomic_store_explicit(&r->stop, true, memory_order_release);
	uint64_t one = 1;
	if (write(r->stop_fd, &one, sizeof(one)) < 0)
		run_log(r, DVMQ_LOG_ERR, "cannot wake the port threads: %s", strerror(errno));
	if (r->uplink_started)
		pthread_join(r->uplink_thread, NULL);
	if (r->vm_rx_started)
		pthread_join(r->vm_rx_thread, NULL);
	r->uplink_started = r->vm_rx_started = false;
}

void run_ports_destroy(struct run *r)
{
	/* the workers go first: after that no one holds a VM port (no grace period per VM) */
	dvmq_dp_destroy(r->dp);
	r->dp = NULL;
	for (uint32_t i = 0; r->vm && i < r->cap_vms; i++)
		if (r->vm[i].used) {
			dvmq_port_destroy(r->vm[i].port);
			r->vm[i].used = false;
		}
	dvmq_port_destroy(r->uplink);
	r->uplink = NULL;
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	r->epfd = r->stop_fd = -1;
	if (r->rx_lock_ready)
		pthread_mutex_destroy(&r->rx_lock);
	r->rx_lock_ready = false;
	free(r->gen_vm);
	r->gen_vm = NULL;
}

uint32_t run_vm_find(const struct run *r, const char *name)
{
	for (uint32_t i = 0; i < r->cap_vms; i++)
		if (r->vm[i].used && strcmp(r->vm[i].name, name) == 0)
			return i;
	return RUN_NO_SLOT;
}

/* The scenario VM the generator plays to this address, if no other VM holds it. */
static int32_t gen_link(const struct run *r, const struct dvmq_config_vm *cv)
{
	if (!r->s)
		return -1;
	if (cv->scenario_vm >= 0 && (uint32_t)cv->scenario_vm < r->n_gen_vms)
		return r->gen_vm[cv->scenario_vm].slot == RUN_NO_SLOT ? cv->scenario_vm : -1;
	for (uint32_t v = 0; v < r->n_gen_vms; v++) {
		const struct dvmq_adapter_desc *a = &r->s->vms[v].adapter;
		if (a->vlan == cv->adapter.vlan && memcmp(a->mac, cv->adapter.mac, 6) == 0)
			return r->gen_vm[v].slot == RUN_NO_SLOT ? (int32_t)v : -1;
	}
	return -1;
}

static int open_vm_port(struct run *r, struct run_vm *vm, const struct dvmq_config_vm *cv, char *msg, size_t len)
{
	struct dvmq_port_kopts ko;
	char err[200] = "";
	int rc;
	dvmq_config_vm_kopts(r->cfg, cv, &ko);
	switch (cv->port) {
	case DVMQ_CONFIG_PORT_SINK: {
		const struct run_gen_vm *g = vm->gen_vm >= 0 ? &r->gen_vm[vm->gen_vm] : NULL;
		rc = dvmq_port_sink_open(vm->name, g ? g->flow_base : 0, g ? g->n_flows : 0, r->cfg->host.mtu, NULL,
					 &vm->port);
		break;
	}
	case DVMQ_CONFIG_PORT_TAP: rc = dvmq_port_tap_open(cv->device, &ko, &vm->port, err, sizeof(err)); break;
	case DVMQ_CONFIG_PORT_AFPACKET: rc = dvmq_port_afpacket_open(cv->device, &ko, &vm->port, err, sizeof(err)); break;
	default: rc = -EINVAL; snprintf(err, sizeof(err), "port %s cannot serve a VM", dvmq_config_port_name(cv->port));
	}
	if (rc)
		snprintf(msg, len, "vm %s: %s%s%s: %s", vm->name, dvmq_config_port_name(cv->port), cv->device[0] ? " " : "",
			 cv->device, err[0] ? err : strerror(-rc));
	return rc;
}

int run_vm_open(struct run *r, const char *name, const struct dvmq_config_vm *cv, char *msg, size_t len,
		uint32_t *slot_out)
{
	uint32_t slot = 0;
	while (slot < r->cap_vms && r->vm[slot].used)
		slot++;
	if (slot == r->cap_vms) {
		snprintf(msg, len, "the VM table is full (%u VMs)", r->cap_vms);
		return -ENOSPC;
	}
	struct run_vm *vm = &r->vm[slot];
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	vm->adapter = cv->adapter;
	vm->kind = cv->port;
	snprintf(vm->device, sizeof(vm->device), "%s", cv->device);
	vm->offload = cv->offload;
	vm->gen_vm = gen_link(r, cv);
	vm->cost_ns = vm->gen_vm >= 0 ? r->s->vms[vm->gen_vm].cost_ns : 0.0;
	int rc = open_vm_port(r, vm, cv, msg, len);
	if (rc)
		return rc;
	int fd = dvmq_port_fd(vm->port);
	if (fd >= 0) {
		pthread_mutex_lock(&r->rx_lock);
		struct run_rx *rx = &r->rx[slot];
		rx->gen++;
		rx->port = vm->port;
		rx->dp_vm = DVMQ_DP_NO_VM;
		rx->reported = false;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = slot | (uint64_t)rx->gen << 32 };
		rc = epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
		if (rc)
			rx->port = NULL;
		pthread_mutex_unlock(&r->rx_lock);
		if (rc) {
			snprintf(msg, len, "vm %s: cannot watch its port: %s", name, strerror(-rc));
			dvmq_port_destroy(vm->port);
			return rc;
		}
	}
	vm->used = true;
	if (vm->gen_vm >= 0)
		r->gen_vm[vm->gen_vm].slot = slot;
	r->n_vms++;
	*slot_out = slot;
	return 0;
}

int run_vm_attach(struct run *r, uint32_t slot, char *msg, size_t len)
{
	struct run_vm *vm = &r->vm[slot];
	struct dvmq_adapter_desc d = vm->adapter;
	if (!r->vmq)
		d.weight = 0; /* VMQ off: every VM on the default queue */
	int rc = dvmq_engine_adapter_add(r->engine, &d, &vm->adapter_id);
	if (rc) {
		snprintf(msg, len, "vm %s: the engine refuses it: %s", vm->name,
			 rc == -EEXIST ? "its MAC is taken on that VLAN" : rc == -ENOSPC ? "its adapter table is full" : strerror(-rc));
		return rc;
	}
	rc = dvmq_dp_vm_add(r->dp, d.mac, d.vlan, vm->cost_ns, vm->port, &vm->dp_vm);
	if (rc) {
		dvmq_engine_adapter_remove(r->engine, vm->adapter_id);
		snprintf(msg, len, "vm %s: the data plane refuses it: %s", vm->name, strerror(-rc));
		return rc;
	}
	r->adapter_vm[vm->adapter_id] = slot;
	vm->queue = DVMQ_DEFAULT_QUEUE;
	vm->cost_now = vm->cost_ns;
	vm->attached = true;
	pthread_mutex_lock(&r->rx_lock);
	r->rx[slot].dp_vm = vm->dp_vm;
	pthread_mutex_unlock(&r->rx_lock);
	run_log(r, DVMQ_LOG_DEBUG, "vm %s attached (adapter %u)", vm->name, vm->adapter_id);
	return 0;
}

void run_vm_detach(struct run *r, uint32_t slot)
{
	struct run_vm *vm = &r->vm[slot];
	if (!vm->attached)
		return;
	if (vm->gen_vm >= 0)
		atomic_store_explicit(&r->gen_vm[vm->gen_vm].on, false, memory_order_release);
	dvmq_engine_adapter_remove(r->engine, vm->adapter_id);
	r->adapter_vm[vm->adapter_id] = RUN_NO_SLOT;
	pthread_mutex_lock(&r->rx_lock);
	r->rx[slot].dp_vm = DVMQ_DP_NO_VM;
	pthread_mutex_unlock(&r->rx_lock);
	dvmq_dp_vm_remove(r->dp, vm->dp_vm); /* its waiting frames count as vm_gone */
	vm->attached = false;
	vm->queue = DVMQ_DEFAULT_QUEUE;
	run_log(r, DVMQ_LOG_DEBUG, "vm %s detached", vm->name);
}

void run_vm_close(struct run *r, uint32_t slot)
{
	struct run_vm *vm = &r->vm[slot];
	run_vm_detach(r, slot);
	int fd = dvmq_port_fd(vm->port);
	pthread_mutex_lock(&r->rx_lock);
	if (r->rx[slot].port) {
		struct epoll_event ev = { .events = EPOLLIN };
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, &ev); /* fails harmlessly after a device-gone */
		r->rx[slot].port = NULL;
	}
	pthread_mutex_unlock(&r->rx_lock);
	dvmq_port_destroy(vm->port); /* no worker holds it (detach waited), no reader (the lock) */
	if (vm->gen_vm >= 0)
		r->gen_vm[vm->gen_vm].slot = RUN_NO_SLOT;
	memset(vm, 0, sizeof(*vm));
	r->n_vms--;
}

int run_sync_dp(struct run *r)
{
	for (uint32_t q = 0; q < r->n_queues; q++) {
		uint32_t p = dvmq_engine_queue_processor(r->engine, q);
		if (p != DVMQ_NO_PROCESSOR)
			dvmq_dp_move(r->dp, q, p);
		uint32_t a = dvmq_engine_queue_adapter(r->engine, q);
		if (a != r->q[q].adapter) { /* a slot given to another VM is a new queue */
			struct run_queue *rq = &r->q[q];
			rq->adapter = a;
			dvmq_queue_moves_reset(&rq->moves);
			dvmq_dp_queue_stats(r->dp, q, &rq->base);
			rq->n_moves = 0;
			rq->last_move_ns = 0;
		}
	}
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		struct run_vm *vm = &r->vm[i];
		if (!vm->used || !vm->attached)
			continue;
		int64_t q = dvmq_engine_adapter_queue(r->engine, vm->adapter_id);
		uint32_t want = q < 0 ? DVMQ_DEFAULT_QUEUE : (uint32_t)q;
		if (want != vm->queue) {
			int rc = dvmq_dp_vm_set_queue(r->dp, vm->dp_vm, want);
			if (rc)
				return rc;
			vm->queue = want;
		}
		/* traffic only once the VM is on its queue: its first frames never wait behind a rebind */
		if (vm->gen_vm >= 0)
			atomic_store_explicit(&r->gen_vm[vm->gen_vm].on, true, memory_order_release);
	}
	run_ctl_dirty(r);
	return 0;
}

static bool present(const struct run *r, const struct run_vm *vm, uint64_t t)
{
	if (vm->gen_vm < 0)
		return true;
	const struct dvmq_vm *d = &r->s->vms[vm->gen_vm];
	uint64_t st = run_scenario_time(r, t);
	return st >= d->arrive_ns && st < d->leave_ns;
}

int run_churn(struct run *r, uint64_t t)
{
	bool changed = false;
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		struct run_vm *vm = &r->vm[i];
		if (!vm->used)
			continue;
		bool want = present(r, vm, t);
		if (want && !vm->attached) {
			char msg[256];
			int rc = run_vm_attach(r, i, msg, sizeof(msg));
			if (rc) {
				run_log(r, DVMQ_LOG_ERR, "%s", msg);
				return rc;
			}
			changed = true;
		} else if (!want && vm->attached) {
			run_vm_detach(r, i);
			changed = true;
		}
		if (vm->attached && vm->gen_vm >= 0) {
			const struct dvmq_vm *d = &r->s->vms[vm->gen_vm];
			if (d->cost_trace.n_terms) {
				double c = dvmq_load_at(&d->cost_trace, run_scenario_time(r, t));
				if (c > 0.0 && c != vm->cost_now && dvmq_dp_vm_set_cost(r->dp, vm->dp_vm, c) == 0)
					vm->cost_now = c;
			}
		}
	}
	return changed ? run_sync_dp(r) : 0;
}
