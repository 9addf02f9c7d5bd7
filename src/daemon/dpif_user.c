/* The userspace switch behind the daemon's data plane interface (dpif.h, dpif_user.h): the
 * ports, the threads that read them, and VMs in and out of the data plane (include/dvmq/dp.h).
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
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "dpif_user.h"

#define UPLINK_TICK_NS 500000ull
#define DOWN_RETRY_MS 100
#define FDB_SIZE 4096u
#define FDB_AGE_NS 300000000000ull
#define RX_EVENTS 64
#define RX_BURSTS_PER_EVENT 8   /* then the next port: level-triggered epoll comes back */
#define STOP_TOKEN UINT64_MAX

static double gen_rate(const struct run *r, uint32_t v, uint64_t t)
{
	struct dpif_user *u = dpif_user_of(r);
	const struct run_gen_vm *g = &u->gen_vm[v];
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
	struct dpif_user *u = dpif_user_of(r);
	return atomic_load_explicit(&u->stop, memory_order_acquire);
}

/* Blocks until fd is readable (fd < 0: only stop) or ms pass (-1: no limit); also wakes for the
 * inline worker's descriptor (ifd >= 0), and says whether that was readable. */
static bool wait_fds(const struct run *r, int fd, int ifd, int ms)
{
	struct dpif_user *u = dpif_user_of(r);
	struct pollfd p[3] = { { .fd = u->stop_fd, .events = POLLIN }, { .fd = ifd, .events = POLLIN },
			       { .fd = fd, .events = POLLIN } };
	if (stopping(r))
		return false;
	poll(p, fd >= 0 ? 3 : 2, ms); /* a negative fd in the set is ignored */
	return p[1].revents & POLLIN;
}

/* The scenario's traffic, generated and classified as it falls due. */
static void uplink_gen(struct run *r)
{
	struct dpif_user *u = dpif_user_of(r);
	struct dvmq_pkt pkts[DVMQ_BURST];
	uint64_t t = run_now(r);
	while (!stopping(r)) {
		for (uint32_t v = 0; v < u->n_gen_vms; v++)
			dvmq_port_gen_set_rate(u->uplink, v, gen_rate(r, v, t));
		dvmq_port_gen_advance(u->uplink, r->start_ns + t);
		int n;
		while ((n = dvmq_port_rx_burst(u->uplink, pkts, DVMQ_BURST)) > 0)
			dvmq_dp_classify(u->dp, pkts, (unsigned)n);
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
	struct dpif_user *u = dpif_user_of(r);
	struct dvmq_pkt pkts[DVMQ_BURST];
	struct dvmq_offload off[DVMQ_BURST];
	int fd = dvmq_port_fd(u->uplink), ifd = dvmq_dp_inline_fd(u->dp);
	uint64_t frames = 0;
	bool woken = false, pending = false;
	int ended = 0; /* the input's end (a capture's, a device gone): the port is not read again */
	while (!stopping(r)) {
		int n = ended ? ended : dvmq_port_rx_burst_off(u->uplink, pkts, off, DVMQ_BURST);
		if (n > 0) {
			dvmq_dp_classify_off(u->dp, pkts, off, (unsigned)n);
			frames += (uint64_t)n;
		}
		unsigned served = ifd >= 0 ? dvmq_dp_inline_serve(u->dp, woken, &pending) : 0;
		woken = false;
		if (n > 0 || served)
			continue;
		if (n == 0) {
			woken = wait_fds(r, fd, ifd, pending ? 0 : fd >= 0 ? -1 : DOWN_RETRY_MS);
		} else if (n == -ENETDOWN) {
			atomic_fetch_add_explicit(&u->uplink_events, 1, memory_order_relaxed);
			run_log(r, DVMQ_LOG_WARN, "uplink %s: link down (frames resume when it is up)", u->uplink->name);
			/* with run to completion the inline worker's handoffs still wake it */
			woken = wait_fds(r, -1, ifd, pending ? 0 : DOWN_RETRY_MS);
		} else {
			if (!ended) {
				if (n == -ENODATA)
					run_log(r, DVMQ_LOG_INFO, "uplink %s: capture replayed, %llu frames", u->uplink->name,
						(unsigned long long)frames);
				else
					run_log(r, DVMQ_LOG_ERR, "uplink %s: %s: no more frames from it (reload with another "
						"uplink, or restart dvmq)", u->uplink->name, n == -ENODEV ? "device gone" : strerror(-n));
				atomic_fetch_add_explicit(&u->uplink_events, n != -ENODATA, memory_order_relaxed);
				ended = n;
			}
			/* nothing more to read; with run to completion, the inline worker is still served */
			woken = wait_fds(r, -1, ifd, pending ? 0 : -1);
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
	if (dvmq_dp_inline_fd(dpif_user_of(r)->dp) >= 0) {
		/* it is the last processor's worker: on that processor, as a worker is on its own */
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(r->cpus[r->n_procs - 1], &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set); /* best effort */
	}
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
	struct dpif_user *u = dpif_user_of(r);
	atomic_fetch_add_explicit(&u->vm_frames, n, memory_order_relaxed);
	if (rx->dp_vm != DVMQ_DP_NO_VM)
		dvmq_dp_vm_send_off(u->dp, rx->dp_vm, pkts, off, n);
	else
		atomic_fetch_add_explicit(&u->vm_frames_detached, n, memory_order_relaxed);
}

/* Up to RX_BURSTS_PER_EVENT bursts from one VM port; under rx_lock. */
static void vm_read(struct run *r, struct run_rx *rx, uint32_t slot, uint32_t gen)
{
	struct dpif_user *u = dpif_user_of(r);
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
			/* from now on only errors: stop watching it; the control thread closes and reopens
			 * it (run_devices.c), with the one line that says so */
			struct epoll_event ev = { .events = EPOLLIN, .data.u64 = slot | (uint64_t)gen << 32 };
			epoll_ctl(u->epfd, EPOLL_CTL_DEL, dvmq_port_fd(rx->port), &ev);
			rx->lost = true;
		}
		return;
	}
}

static void *vm_rx_main(void *arg)
{
	struct run *r = arg;
	struct dpif_user *u = dpif_user_of(r);
	struct epoll_event evs[RX_EVENTS];
	if (!thread_register(r, "VM receive"))
		return NULL;
	while (!stopping(r)) {
		int n = epoll_wait(u->epfd, evs, RX_EVENTS, -1);
		for (int i = 0; i < n && !stopping(r); i++) {
			uint64_t tok = evs[i].data.u64;
			if (tok == STOP_TOKEN)
				continue;
			uint32_t slot = (uint32_t)tok, gen = (uint32_t)(tok >> 32);
			pthread_mutex_lock(&u->rx_lock);
			struct run_rx *rx = &u->rx[slot];
			if (rx->port && rx->gen == gen)
				vm_read(r, rx, slot, gen);
			pthread_mutex_unlock(&u->rx_lock);
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
	struct dpif_user *u = dpif_user_of(r);
	const struct dvmq_scenario *s = r->s;
	u->n_gen_vms = (uint32_t)s->n_vms;
	u->gen_vm = calloc(u->n_gen_vms ? u->n_gen_vms : 1, sizeof(*u->gen_vm));
	struct dvmq_gen_vm *g = calloc(u->n_gen_vms ? u->n_gen_vms : 1, sizeof(*g));
	int rc = -ENOMEM;
	if (!g || !u->gen_vm)
		goto out;
	uint32_t flows = 0;
	*frame_bytes = 64 + DVMQ_VLAN_HLEN;
	for (uint32_t v = 0; v < u->n_gen_vms; v++) {
		const struct dvmq_vm *d = &s->vms[v];
		memcpy(g[v].mac, d->adapter.mac, 6);
		g[v].vlan = d->adapter.vlan;
		g[v].frame_bytes = d->frame_bytes;
		g[v].flows = d->flows ? d->flows : 1;
		g[v].flow_base = flows;
		flows += g[v].flows;
		if (d->frame_bytes + DVMQ_VLAN_HLEN > *frame_bytes)
			*frame_bytes = d->frame_bytes + DVMQ_VLAN_HLEN;
		struct run_gen_vm *gv = &u->gen_vm[v];
		gv->flow_base = g[v].flow_base;
		gv->n_flows = g[v].flows;
		gv->slot = RUN_NO_SLOT;
		gv->const_rate = dvmq_load_is_constant(&d->load) ? d->scale * dvmq_load_at(&d->load, 0) : -1.0;
	}
	rc = dvmq_port_gen_open("gen", g, u->n_gen_vms, &u->uplink);
out:
	free(g);
	return rc;
}

static int open_uplink(struct run *r, uint32_t *frame_bytes, struct dvmq_diag *diag)
{
	struct dpif_user *u = dpif_user_of(r);
	const struct dvmq_config_uplink *up = &r->cfg->uplink;
	struct dvmq_port_kopts ko;
	char err[200] = "";
	int rc;
	dvmq_config_uplink_kopts(r->cfg, &ko);
	ko.log = port_log;
	ko.log_ctx = r;
	*frame_bytes = 0; /* the largest the MTU allows */
	switch (up->port) {
	case DVMQ_CONFIG_PORT_GEN: rc = open_gen(r, frame_bytes); break;
	case DVMQ_CONFIG_PORT_PCAP: rc = dvmq_port_pcap_open_read(up->path, &u->uplink, err, sizeof(err)); break;
	case DVMQ_CONFIG_PORT_AFXDP: rc = dvmq_port_afxdp_open(up->device, &ko, &u->uplink, err, sizeof(err)); break;
	case DVMQ_CONFIG_PORT_AFPACKET: rc = dvmq_port_afpacket_open(up->device, &ko, &u->uplink, err, sizeof(err)); break;
	default: rc = -EINVAL; snprintf(err, sizeof(err), "port %s cannot be the uplink", dvmq_config_port_name(up->port));
	}
	if (rc)
		snprintf(diag->msg, sizeof(diag->msg), "uplink %s%s%s: %s", dvmq_config_port_name(up->port),
			 up->device[0] ? " " : "", up->device, err[0] ? err : strerror(-rc));
	return rc;
}

static int user_open(struct run *r, struct dvmq_diag *diag)
{
	struct dpif_user *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	r->dpif_priv = u;
	u->stop_fd = u->epfd = -1;
	u->vm = calloc(r->cap_vms, sizeof(*u->vm));
	u->rx = calloc(r->cap_vms, sizeof(*u->rx));
	if (!u->vm || !u->rx)
		return -ENOMEM;
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
		/* --run-to-completion (issue 18 §2): the uplink thread serves the last processor's
		 * queues; the generator's thread keeps its own timing loop, one processor has no other */
		.inline_last = r->o->run_to_completion && r->cfg->uplink.port != DVMQ_CONFIG_PORT_GEN && r->n_procs > 1,
	};
	if (cfg.inline_last)
		run_log(r, DVMQ_LOG_INFO, "run to completion: the uplink thread serves processor %u's queues (CPU %d)",
			r->n_procs - 1, r->cpus[r->n_procs - 1]);
	else if (r->o->run_to_completion)
		run_log(r, DVMQ_LOG_WARN, "--run-to-completion is off: it needs a device or pcap uplink on 2 or more "
			"processors (here %s, %u processor%s)", r->cfg->uplink.port == DVMQ_CONFIG_PORT_GEN ? "gen" : "a device",
			r->n_procs, r->n_procs == 1 ? "" : "s");
	rc = dvmq_dp_create(&cfg, &u->dp);
	if (rc) {
		snprintf(diag->msg, sizeof(diag->msg), "data plane on %u processors: %s", r->n_procs, strerror(-rc));
		return rc;
	}
	/* a port that transmits (afpacket, afxdp) takes what VMs send outside; a generator or a
	 * capture does not, and such frames count as no-uplink */
	if (u->uplink->ops->tx_burst) {
		rc = dvmq_dp_set_uplink(u->dp, u->uplink);
		if (rc) {
			snprintf(diag->msg, sizeof(diag->msg), "uplink for transmit: %s", strerror(-rc));
			return rc;
		}
	}
	rc = pthread_mutex_init(&u->rx_lock, NULL);
	if (rc)
		return -rc;
	u->rx_lock_ready = true;
	u->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	u->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (u->stop_fd < 0 || u->epfd < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = STOP_TOKEN };
	return epoll_ctl(u->epfd, EPOLL_CTL_ADD, u->stop_fd, &ev) ? -errno : 0;
}

/* The generator plays the NIC: its CPU time is the NIC's work, which a host does where the
 * default queue is served. Unpinned, the scheduler moves it between CPUs and its time, counted
 * in /proc/stat as non-network load, hops from processor to processor: queues spread off one and
 * back after return-guard (issue 7: 49 % of make run's moves were returns). Pinned to the default
 * queue's processor at start, it stays one steady load (best effort: a line says if it fails). */
static void pin_generator(struct run *r, pthread_t t)
{
	uint32_t p = dvmq_engine_queue_processor(r->engine, DVMQ_DEFAULT_QUEUE);
	if (p >= r->n_procs)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(r->cpus[p], &set);
	int rc = pthread_setaffinity_np(t, sizeof(set), &set);
	if (rc)
		run_log(r, DVMQ_LOG_WARN, "uplink: gen thread not pinned to CPU %d: %s (its time may hop between CPUs)",
			r->cpus[p], strerror(rc));
	else
		run_log(r, DVMQ_LOG_INFO, "uplink: gen thread pinned to CPU %d, the default queue's", r->cpus[p]);
}

static int user_start(struct run *r)
{
	struct dpif_user *u = dpif_user_of(r);
	int rc = pthread_create(&u->vm_rx_thread, NULL, vm_rx_main, r);
	u->vm_rx_started = rc == 0;
	if (!rc)
		rc = pthread_create(&u->uplink_thread, NULL, uplink_main, r);
	u->uplink_started = u->vm_rx_started && rc == 0;
	if (u->uplink_started && r->cfg->uplink.port == DVMQ_CONFIG_PORT_GEN)
		pin_generator(r, u->uplink_thread);
	return -rc;
}

static void user_stop(struct run *r)
{
	struct dpif_user *u = dpif_user_of(r);
	if (!u || (!u->uplink_started && !u->vm_rx_started))
		return;
	atomic_store_explicit(&u->stop, true, memory_order_release);
	uint64_t one = 1;
	if (write(u->stop_fd, &one, sizeof(one)) < 0)
		run_log(r, DVMQ_LOG_ERR, "cannot wake the port threads: %s", strerror(errno));
	if (u->uplink_started)
		pthread_join(u->uplink_thread, NULL);
	if (u->vm_rx_started)
		pthread_join(u->vm_rx_thread, NULL);
	u->uplink_started = u->vm_rx_started = false;
}

static int user_drain(struct run *r, uint64_t timeout_ns)
{
	return dvmq_dp_drain(dpif_user_of(r)->dp, timeout_ns);
}

static void user_close(struct run *r)
{
	struct dpif_user *u = dpif_user_of(r);
	if (!u)
		return;
	/* the workers go first: after that no one holds a VM port (no grace period per VM) */
	dvmq_dp_destroy(u->dp);
	u->dp = NULL;
	for (uint32_t i = 0; u->vm && i < r->cap_vms; i++) {
		dvmq_port_destroy(u->vm[i].port);
		u->vm[i].port = NULL;
	}
	dvmq_port_destroy(u->uplink);
	u->uplink = NULL;
	if (u->epfd >= 0)
		close(u->epfd);
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	if (u->rx_lock_ready)
		pthread_mutex_destroy(&u->rx_lock);
	free(u->gen_vm);
	free(u->vm);
	free(u->rx);
	free(u);
	r->dpif_priv = NULL;
}

static void user_describe(const struct run *r, char *buf, size_t len)
{
	snprintf(buf, len, "uplink %s", dpif_user_of(r)->uplink->ops->kind);
}

/* The scenario VM the generator plays to this address, if no other VM holds it. */
static int32_t gen_link(const struct run *r, const struct dvmq_config_vm *cv)
{
	const struct dpif_user *u = dpif_user_of(r);
	if (!r->s)
		return -1;
	if (cv->scenario_vm >= 0 && (uint32_t)cv->scenario_vm < u->n_gen_vms)
		return u->gen_vm[cv->scenario_vm].slot == RUN_NO_SLOT ? cv->scenario_vm : -1;
	for (uint32_t v = 0; v < u->n_gen_vms; v++) {
		const struct dvmq_adapter_desc *a = &r->s->vms[v].adapter;
		if (a->vlan == cv->adapter.vlan && memcmp(a->mac, cv->adapter.mac, 6) == 0)
			return u->gen_vm[v].slot == RUN_NO_SLOT ? (int32_t)v : -1;
	}
	return -1;
}

static int open_vm_port(struct run *r, const struct run_vm *vm, struct dpif_user_vm *uv, const struct dvmq_config_vm *cv,
			char *msg, size_t len)
{
	const struct dpif_user *u = dpif_user_of(r);
	struct dvmq_port_kopts ko;
	char err[200] = "";
	int rc;
	dvmq_config_vm_kopts(r->cfg, cv, &ko);
	switch (cv->port) {
	case DVMQ_CONFIG_PORT_SINK: {
		const struct run_gen_vm *g = vm->gen_vm >= 0 ? &u->gen_vm[vm->gen_vm] : NULL;
		rc = dvmq_port_sink_open(vm->name, g ? g->flow_base : 0, g ? g->n_flows : 0, r->cfg->host.mtu, NULL,
					 &uv->port);
		break;
	}
	case DVMQ_CONFIG_PORT_TAP: rc = dvmq_port_tap_open(cv->device, &ko, &uv->port, err, sizeof(err)); break;
	case DVMQ_CONFIG_PORT_AFPACKET: rc = dvmq_port_afpacket_open(cv->device, &ko, &uv->port, err, sizeof(err)); break;
	default: rc = -EINVAL; snprintf(err, sizeof(err), "port %s cannot serve a VM", dvmq_config_port_name(cv->port));
	}
	/* the port's message names it already ("afpacket vnet3: no such interface") */
	if (rc && err[0])
		snprintf(msg, len, "vm %s: %s", vm->name, err);
	else if (rc)
		snprintf(msg, len, "vm %s: %s%s%s: %s", vm->name, dvmq_config_port_name(cv->port), cv->device[0] ? " " : "",
			 cv->device, strerror(-rc));
	return rc;
}

static int user_vm_open(struct run *r, uint32_t slot, const struct dvmq_config_vm *cv, char *msg, size_t len)
{
	struct dpif_user *u = dpif_user_of(r);
	struct run_vm *vm = &r->vm[slot];
	struct dpif_user_vm *uv = &u->vm[slot];
	memset(uv, 0, sizeof(*uv));
	vm->gen_vm = gen_link(r, cv);
	uv->cost_ns = vm->gen_vm >= 0 ? r->s->vms[vm->gen_vm].cost_ns : 0.0;
	int rc = open_vm_port(r, vm, uv, cv, msg, len);
	if (rc)
		return rc;
	int fd = dvmq_port_fd(uv->port);
	if (fd >= 0) {
		pthread_mutex_lock(&u->rx_lock);
		struct run_rx *rx = &u->rx[slot];
		rx->gen++;
		rx->port = uv->port;
		rx->dp_vm = DVMQ_DP_NO_VM;
		rx->reported = false;
		rx->lost = false;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = slot | (uint64_t)rx->gen << 32 };
		rc = epoll_ctl(u->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
		if (rc)
			rx->port = NULL;
		pthread_mutex_unlock(&u->rx_lock);
		if (rc) {
			snprintf(msg, len, "vm %s: cannot watch its port: %s", vm->name, strerror(-rc));
			dvmq_port_destroy(uv->port);
			uv->port = NULL;
			return rc;
		}
	}
	if (vm->gen_vm >= 0)
		u->gen_vm[vm->gen_vm].slot = slot;
	return 0;
}

static int user_vm_add(struct run *r, uint32_t slot, char *msg, size_t len)
{
	struct dpif_user *u = dpif_user_of(r);
	struct run_vm *vm = &r->vm[slot];
	struct dpif_user_vm *uv = &u->vm[slot];
	int rc = dvmq_dp_vm_add(u->dp, vm->adapter.mac, vm->adapter.vlan, uv->cost_ns, uv->port, &uv->dp_vm);
	if (rc) {
		snprintf(msg, len, "vm %s: the data plane refuses it: %s", vm->name, strerror(-rc));
		return rc;
	}
	uv->cost_now = uv->cost_ns;
	pthread_mutex_lock(&u->rx_lock);
	u->rx[slot].dp_vm = uv->dp_vm;
	pthread_mutex_unlock(&u->rx_lock);
	return 0;
}

static void user_vm_remove(struct run *r, uint32_t slot)
{
	struct dpif_user *u = dpif_user_of(r);
	const struct run_vm *vm = &r->vm[slot];
	if (vm->gen_vm >= 0)
		atomic_store_explicit(&u->gen_vm[vm->gen_vm].on, false, memory_order_release);
	pthread_mutex_lock(&u->rx_lock);
	u->rx[slot].dp_vm = DVMQ_DP_NO_VM;
	pthread_mutex_unlock(&u->rx_lock);
	dvmq_dp_vm_remove(u->dp, u->vm[slot].dp_vm); /* its waiting frames count as vm_gone */
}

static void user_vm_close(struct run *r, uint32_t slot)
{
	struct dpif_user *u = dpif_user_of(r);
	const struct run_vm *vm = &r->vm[slot];
	struct dpif_user_vm *uv = &u->vm[slot];
	int fd = dvmq_port_fd(uv->port);
	pthread_mutex_lock(&u->rx_lock);
	if (u->rx[slot].port) {
		struct epoll_event ev = { .events = EPOLLIN };
		epoll_ctl(u->epfd, EPOLL_CTL_DEL, fd, &ev); /* fails harmlessly after a device-gone */
		u->rx[slot].port = NULL;
	}
	pthread_mutex_unlock(&u->rx_lock);
	dvmq_port_destroy(uv->port); /* no worker holds it (detach waited), no reader (the lock) */
	if (vm->gen_vm >= 0)
		u->gen_vm[vm->gen_vm].slot = RUN_NO_SLOT;
	memset(uv, 0, sizeof(*uv));
}

static int user_vm_set_queue(struct run *r, uint32_t slot, uint32_t queue)
{
	struct dpif_user *u = dpif_user_of(r);
	return dvmq_dp_vm_set_queue(u->dp, u->vm[slot].dp_vm, queue);
}

static int user_vm_set_group(struct run *r, uint32_t slot, const struct dvmq_queue_group *g, bool hashed)
{
	struct dpif_user *u = dpif_user_of(r);
	return dvmq_dp_vm_set_group(u->dp, u->vm[slot].dp_vm, g, hashed);
}

static int user_vm_buckets(struct run *r, uint32_t slot, uint64_t *packets, uint64_t *bytes)
{
	struct dpif_user *u = dpif_user_of(r);
	return dvmq_dp_vm_buckets(u->dp, u->vm[slot].dp_vm, packets, bytes);
}

/* Traffic only once the VM is on its queue: its first frames never wait behind a rebind. */
static void user_placed(struct run *r)
{
	struct dpif_user *u = dpif_user_of(r);
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		const struct run_vm *vm = &r->vm[i];
		if (vm->used && vm->attached && vm->gen_vm >= 0)
			atomic_store_explicit(&u->gen_vm[vm->gen_vm].on, true, memory_order_release);
	}
}

/* A scenario VM's cost per frame follows its cost trace. */
static void user_at(struct run *r, uint64_t t)
{
	struct dpif_user *u = dpif_user_of(r);
	for (uint32_t i = 0; r->s && i < r->cap_vms; i++) {
		const struct run_vm *vm = &r->vm[i];
		struct dpif_user_vm *uv = &u->vm[i];
		if (!vm->used || !vm->attached || vm->gen_vm < 0)
			continue;
		const struct dvmq_vm *d = &r->s->vms[vm->gen_vm];
		if (d->cost_trace.n_terms) {
			double c = dvmq_load_at(&d->cost_trace, run_scenario_time(r, t));
			if (c > 0.0 && c != uv->cost_now && dvmq_dp_vm_set_cost(u->dp, uv->dp_vm, c) == 0)
				uv->cost_now = c;
		}
	}
}

static bool user_vm_port_lost(struct run *r, uint32_t slot)
{
	struct dpif_user *u = dpif_user_of(r);
	pthread_mutex_lock(&u->rx_lock);
	bool lost = u->rx[slot].port && u->rx[slot].lost;
	pthread_mutex_unlock(&u->rx_lock);
	return lost;
}

static int user_queue_move(struct run *r, uint32_t q, uint32_t p)
{
	return dvmq_dp_move(dpif_user_of(r)->dp, q, p);
}

const struct run_dpif_ops run_dpif_user = {
	.kind = "user",
	.delivers = true,
	.open = user_open,
	.start = user_start,
	.stop = user_stop,
	.drain = user_drain,
	.close = user_close,
	.describe = user_describe,
	.vm_open = user_vm_open,
	.vm_add = user_vm_add,
	.vm_remove = user_vm_remove,
	.vm_close = user_vm_close,
	.vm_set_queue = user_vm_set_queue,
	.vm_set_group = user_vm_set_group,
	.vm_buckets = user_vm_buckets,
	.placed = user_placed,
	.at = user_at,
	.queue_move = user_queue_move,
	.sample = dpif_user_sample,
	.queue_stats = dpif_user_queue_stats,
	.latency = dpif_user_latency,
	.counters = dpif_user_counters,
	.snap_totals = dpif_user_snap_totals,
	.snap_vm = dpif_user_snap_vm,
	.finish = dpif_user_finish,
	.proc_stats = dpif_user_proc_stats,
	.vm_port_lost = user_vm_port_lost,
};
