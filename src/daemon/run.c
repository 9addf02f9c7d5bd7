/* dvmq run, the daemon (include/dvmq/run.h): setup from the host configuration, the control
 * thread's event loop, and the clean stop.
 * The control thread (the caller) polls four things and nothing else: the sampling timer
 * (timerfd), the signals (signalfd: SIGHUP reloads, SIGTERM and SIGINT stop), the control
 * server's descriptor and its client deadlines. Every control command and every reload runs on
 * this thread between two sampling rounds, so the engine (not thread-safe) has one owner.
 * The stop is ordered so that nothing is lost that could be counted: the socket goes first (no
 * new command), then the uplink (no new frame), the rings drain, the counters are read and
 * logged, and only then do the VM receive thread, the workers and the ports go. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <systemd/sd-daemon.h>

#include "dvmq/oracle.h"
#include "run_internal.h"

#define DRAIN_NS 2000000000ull
#define LOG_LINE_MAX 1024

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void run_vlog(struct run *r, int level, const char *fmt, va_list ap)
{
	if (!r->o->log || level > r->log_level)
		return;
	char line[LOG_LINE_MAX];
	vsnprintf(line, sizeof(line), fmt, ap);
	/* one call per line: lines of several threads never interleave */
	fprintf(r->o->log, "dvmq: %s: %s\n", level_names[level < 0 ? 0 : level > 3 ? 3 : level], line);
}

void run_log(struct run *r, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	run_vlog(r, level, fmt, ap);
	va_end(ap);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t run_now(const struct run *r)
{
	return mono_ns() - r->start_ns;
}

/* "ADDRESS:PORT", "[IPv6]:PORT" (port 0..65535: 0 takes any free one) or "off". */
static int parse_metrics(const char *v, struct dvmq_config_control *k)
{
	if (strcmp(v, "off") == 0) {
		k->metrics = false;
		return 0;
	}
	const char *colon = strrchr(v, ':');
	if (!colon || colon == v || !colon[1])
		return -EINVAL;
	const char *a = v, *a_end = colon;
	if (v[0] == '[') {
		if (colon[-1] != ']')
			return -EINVAL;
		a = v + 1;
		a_end = colon - 1;
	}
	size_t alen = (size_t)(a_end - a);
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (alen == 0 || alen >= sizeof(k->metrics_address) || *end || port > 65535 || colon[1] == '-' ||
	    colon[1] == '+')
		return -EINVAL;
	memcpy(k->metrics_address, a, alen);
	k->metrics_address[alen] = '\0';
	k->metrics_port = (uint16_t)port;
	k->metrics = true;
	return 0;
}

int run_apply_overrides(const struct dvmq_run_options *o, struct dvmq_config *c, struct dvmq_diag *diag)
{
	if (o->socket) {
		if (strlen(o->socket) >= sizeof(c->control.socket) || !o->socket[0]) {
			snprintf(diag->msg, sizeof(diag->msg), "bad --socket '%.200s' (want a path of 1..%zu bytes)", o->socket,
				 sizeof(c->control.socket) - 1);
			return -EINVAL;
		}
		snprintf(c->control.socket, sizeof(c->control.socket), "%s", o->socket);
	}
	if (o->metrics && parse_metrics(o->metrics, &c->control)) {
		snprintf(diag->msg, sizeof(diag->msg),
			 "bad --metrics '%.200s' (want ADDRESS:PORT such as 127.0.0.1:9911, [::1]:9911, port 0 for any, or off)",
			 o->metrics);
		return -EINVAL;
	}
	return 0;
}

static bool cpu_listed(const uint32_t *ids, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* As dvmq_config_check_machine gives the host to the engine: processors 0..n-1 are the CPUs in
 * use; a base beyond them is dropped (a scenario's, as `dvmq run` always did). */
void run_set_from_config(struct run *r, const struct dvmq_config *c)
{
	const struct dvmq_config_host *h = &c->host;
	uint32_t base = 0;
	while (h->has_base && base < r->n_procs && (uint32_t)r->cpus[base] < h->base_processor)
		base++;
	r->set_base = base == r->n_procs ? 0 : base;
	r->set_max = h->max_processors;
	r->set_numa = h->numa_node;
	r->set_max_number = r->n_procs - 1;
	for (uint32_t p = 0; p < r->n_procs; p++)
		r->set_allowed[p] = !cpu_listed(h->excluded, h->n_excluded, (uint32_t)r->cpus[p]);
}

static int create_engine(struct run *r, struct dvmq_diag *diag)
{
	uint32_t *excluded = calloc(r->n_procs + 1, sizeof(*excluded)), n_ex = 0;
	if (!excluded)
		return -ENOMEM;
	for (uint32_t p = 0; p < r->n_procs; p++)
		if (!r->set_allowed[p])
			excluded[n_ex++] = p;
	struct dvmq_engine_config ec = {
		.n_processors = r->n_procs,
		.numa_node = r->numa,
		.queue_pool = r->cfg->host.queue_pool,
		.max_adapters = r->cap_vms,
		.set = { .base = r->set_base, .max = r->set_max, .numa_node = r->set_numa, .excluded = excluded,
			 .n_excluded = n_ex },
		.params = r->params,
	};
	int rc = dvmq_engine_create(&ec, &r->engine);
	free(excluded);
	if (rc) {
		const char *why = dvmq_engine_params_problem(&r->params);
		snprintf(diag->msg, sizeof(diag->msg), "%.400s: the engine refuses this host on %u processors (%s)",
			 r->cfg->path, r->n_procs, rc == -ENOMEM ? "out of memory" : why ? why : "its processor set");
	}
	return rc;
}

static int alloc_state(struct run *r)
{
	r->vm = calloc(r->cap_vms, sizeof(*r->vm));
	r->adapter_vm = calloc(r->cap_vms, sizeof(*r->adapter_vm));
	r->q = calloc(r->n_queues, sizeof(*r->q));
	r->ps = calloc(r->n_procs, sizeof(*r->ps));
	r->qs = calloc(r->n_queues, sizeof(*r->qs));
	r->stat_prev = calloc(r->n_procs, sizeof(*r->stat_prev));
	r->stat_now = calloc(r->n_procs, sizeof(*r->stat_now));
	r->queues_on = calloc(r->n_procs, sizeof(*r->queues_on));
	r->movable_on = calloc(r->n_procs, sizeof(*r->movable_on));
	r->lat_prev = calloc(DVMQ_HIST_BUCKETS, sizeof(*r->lat_prev));
	r->lat_now = calloc(DVMQ_HIST_BUCKETS, sizeof(*r->lat_now));
	r->set_allowed = calloc(r->n_procs, sizeof(*r->set_allowed));
	r->numa = calloc(r->n_procs, sizeof(*r->numa));
	r->mlog = calloc(RUN_MOVE_HISTORY, sizeof(*r->mlog));
	if (!r->vm || !r->adapter_vm || !r->q || !r->ps || !r->qs || !r->stat_prev || !r->stat_now ||
	    !r->queues_on || !r->movable_on || !r->lat_prev || !r->lat_now || !r->set_allowed || !r->numa || !r->mlog)
		return -ENOMEM;
	for (uint32_t q = 0; q < r->n_queues; q++)
		r->q[q].adapter = UINT32_MAX;
	for (uint32_t i = 0; i < r->cap_vms; i++)
		r->adapter_vm[i] = RUN_NO_SLOT;
	return dvmq_snapshot_create(0, 0, 0, 0, &r->acc);
}

/* Processors, their NUMA nodes and the scale of a gen scenario capped to this machine. */
static int setup_host(struct run *r, const struct dvmq_config_cpus *cpus)
{
	struct dvmq_machine *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	int rc = dvmq_machine_probe(m);
	for (uint32_t p = 0; rc == 0 && p < r->n_procs; p++) {
		r->cpus[p] = (int)cpus->ids[p];
		int16_t node = cpus->ids[p] < DVMQ_MAX_PROCESSORS ? m->node[cpus->ids[p]] : -1;
		r->numa[p] = node < 0 ? 0 : (uint32_t)node;
	}
	free(m);
	r->scale = r->s && cpus->wanted > cpus->n ? (double)cpus->n / (double)cpus->wanted : 1.0;
	return rc;
}

static int setup(struct run *r, const struct dvmq_config_cpus *cpus, struct dvmq_diag *diag)
{
	const struct dvmq_config *c = r->cfg;
	r->s = c->uplink.port == DVMQ_CONFIG_PORT_GEN ? c->uplink.scenario : NULL;
	r->params = c->params;
	r->n_procs = cpus->n;
	r->n_queues = c->host.queue_pool + 1;
	r->interval_ns = c->host.interval_ns;
	r->duration_ns = r->o->duration_ns;
	r->scenario_period_ns = r->s ? r->s->host.duration_ns : 0;
	r->cap_vms = (uint32_t)c->n_vms + RUN_SPARE_VMS;
	r->vmq = true;
	r->tfd = -1;
	if (r->n_procs == 0 || r->n_procs > DVMQ_DP_MAX_WORKERS) {
		snprintf(diag->msg, sizeof(diag->msg), "%.400s: %u processors (want 1..%u)", c->path, r->n_procs,
			 DVMQ_DP_MAX_WORKERS);
		return -EINVAL;
	}
	r->cpus = calloc(r->n_procs, sizeof(*r->cpus));
	if (!r->cpus)
		return -ENOMEM;
	int rc = alloc_state(r);
	if (!rc)
		rc = setup_host(r, cpus);
	if (rc)
		return rc;
	run_set_from_config(r, c);
	rc = create_engine(r, diag);
	r->steps_end_ns = r->duration_ns ? r->duration_ns : r->scenario_period_ns;
	if (!rc && r->s)
		rc = dvmq_steps_create(r->s, r->steps_end_ns, &r->steps);
	if (!rc)
		rc = run_metrics_create(r);
	if (!rc) {
		r->dpif = run_dpif_for(c);
		if (!r->dpif) {
			snprintf(diag->msg, sizeof(diag->msg), "kernel mode: dvmq was built without it (meson -Dxdp: "
				 "libbpf and clang)");
			rc = -EOPNOTSUPP;
		} else {
			rc = r->dpif->open(r, diag);
		}
	}
	/* watched before the VMs open: a device that appears meanwhile is not missed */
	if (!rc)
		rc = run_devices_open(r, diag);
	for (size_t i = 0; rc == 0 && i < c->n_vms; i++) {
		char msg[256] = "";
		uint32_t slot;
		rc = run_vm_open(r, c->vms[i].name, &c->vms[i], msg, sizeof(msg), &slot);
		if (rc)
			snprintf(diag->msg, sizeof(diag->msg), "%.300s", msg);
	}
	if (!rc)
		rc = run_churn(r, 0);
	if (!rc)
		rc = procstat_read(r->cpus, r->n_procs, r->stat_prev);
	return rc;
}

static int start_timer(struct run *r, struct dvmq_diag *diag)
{
	r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (r->tfd < 0) {
		int e = errno;
		snprintf(diag->msg, sizeof(diag->msg), "cannot create the sampling timer: %s", strerror(e));
		return -e;
	}
	return 0;
}

int run_arm_timer(struct run *r)
{
	uint64_t first = mono_ns() + r->interval_ns;
	struct itimerspec its = {
		.it_interval = { (time_t)(r->interval_ns / 1000000000ull), (long)(r->interval_ns % 1000000000ull) },
		.it_value = { (time_t)(first / 1000000000ull), (long)(first % 1000000000ull) },
	};
	return timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL) ? -errno : 0;
}

static int block_signals(struct run *r, struct dvmq_diag *diag)
{
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	/* before any thread starts: they inherit the mask, so the signalfd gets every one of them */
	int rc = pthread_sigmask(SIG_BLOCK, &sigs, &r->old_mask);
	if (rc) {
		snprintf(diag->msg, sizeof(diag->msg), "cannot block signals: %s", strerror(rc));
		return -rc;
	}
	r->mask_set = true;
	r->sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sfd < 0) {
		int e = errno;
		snprintf(diag->msg, sizeof(diag->msg), "cannot create a signalfd: %s", strerror(e));
		return -e;
	}
	return 0;
}

/* Returns true when a signal asks to stop. */
static bool read_signals(struct run *r)
{
	struct signalfd_siginfo si;
	bool stop = false;
	while (read(r->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			run_reload(r);
		} else {
			run_log(r, DVMQ_LOG_INFO, "%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			stop = true;
		}
	}
	return stop;
}

static int on_timer(struct run *r)
{
	uint64_t ticks;
	if (read(r->tfd, &ticks, sizeof(ticks)) != (ssize_t)sizeof(ticks))
		return 0; /* not due yet (another source woke the loop) */
	uint64_t t = run_now(r);
	run_devices_check_lost(r);
	int rc = run_churn(r, t);
	if (!rc)
		rc = run_interval(r, t);
	if (rc)
		return rc;
	run_ctl_publish(r);
	if (r->o->live && t >= r->view_next_ns) {
		run_view(r, t);
		r->view_next_ns += 1000000000ull;
	}
	return 0;
}

static int event_loop(struct run *r)
{
	for (;;) {
		uint64_t now = run_now(r);
		struct pollfd p[5] = { { .fd = r->tfd, .events = POLLIN }, { .fd = r->sfd, .events = POLLIN },
				       { .fd = r->srv ? dvmq_ctl_server_fd(r->srv) : -1, .events = POLLIN },
				       { .fd = run_devices_fd(r), .events = POLLIN },
				       { .fd = run_devices_ns_fd(r), .events = POLLIN } };
		int tmo = r->srv ? dvmq_ctl_server_timeout_ms(r->srv, r->start_ns + now) : -1;
		if (poll(p, 5, tmo) < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents && read_signals(r))
			return 0;
		if (p[3].revents)
			run_devices_event(r); /* VMs whose device appeared or went */
		if (p[4].revents)
			run_devices_ns_event(r); /* containers (VMs' network namespaces) that came or went */
		if (p[0].revents) {
			int rc = on_timer(r);
			if (rc) {
				run_log(r, DVMQ_LOG_ERR, "sampling round failed: %s", strerror(-rc));
				return rc;
			}
			/* the last round is the one nearest the end (a scenario's intervals fit it) */
			if (r->duration_ns && r->n_intervals && r->t_prev + r->interval_ns / 2 >= r->duration_ns)
				return 0;
		}
		/* the server may have been replaced by a reload: ask it, not the poll set */
		if (r->srv) {
			int rc = dvmq_ctl_server_dispatch(r->srv, mono_ns());
			if (rc) {
				run_log(r, DVMQ_LOG_ERR, "control socket: %s (commands are no longer served)", strerror(-rc));
				dvmq_ctl_server_destroy(r->srv);
				r->srv = NULL;
			}
		}
	}
}

static void log_totals(struct run *r, const struct dvmq_run_result *res)
{
	const struct dvmq_result *o = &res->r;
	uint64_t refused = 0;
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++)
		refused += res->verdict[v];
	if (!r->dpif->delivers) {
		run_log(r, DVMQ_LOG_INFO,
			"stopped after %.1f s (%s data plane): offered %.0f, delivered %llu, dropped %llu, in flight %.0f, "
			"lost %llu; moves %llu, ping-pongs %llu",
			(double)run_now(r) * 1e-9, r->dpif->kind, o->offered, (unsigned long long)o->delivered,
			(unsigned long long)o->dropped, o->backlog_end, (unsigned long long)res->lost,
			(unsigned long long)o->moves, (unsigned long long)o->pingpongs);
		return;
	}
	run_log(r, DVMQ_LOG_INFO,
		"stopped after %.1f s: offered %.0f, delivered %llu, dropped %llu, refused %llu, in flight %.0f, lost %llu, "
		"reordered %llu; flows %llu, %llu reordered, %llu frames missing, %llu unexplained; VM frames %llu "
		"(forwarded %llu, dropped %llu, detached %llu, lost %llu); ports dropped rx %llu, tx %llu; "
		"moves %llu, ping-pongs %llu",
		(double)run_now(r) * 1e-9, o->offered, (unsigned long long)o->delivered, (unsigned long long)o->dropped,
		(unsigned long long)refused, o->backlog_end, (unsigned long long)res->lost,
		(unsigned long long)res->reordered, (unsigned long long)res->flows, (unsigned long long)res->flows_reordered,
		(unsigned long long)res->flows_missing, (unsigned long long)res->flows_unexplained,
		(unsigned long long)res->vm_frames, (unsigned long long)res->vm_forwarded, (unsigned long long)res->vm_dropped,
		(unsigned long long)res->vm_detached, (unsigned long long)res->vm_lost,
		(unsigned long long)res->port_rx_dropped, (unsigned long long)res->port_tx_dropped,
		(unsigned long long)o->moves, (unsigned long long)o->pingpongs);
}

static void teardown(struct run *r)
{
	run_ctl_stop(r);
	run_devices_close(r);
	if (r->dpif) {
		r->dpif->stop(r);
		r->dpif->close(r); /* the data plane, then the ports (VMs' too) */
	}
	dvmq_steps_destroy(r->steps);
	run_metrics_destroy(r);
	dvmq_engine_destroy(r->engine);
	dvmq_snapshot_unref(r->acc);
	if (r->tfd >= 0)
		close(r->tfd);
	if (r->sfd >= 0)
		close(r->sfd);
	if (r->mask_set) {
		/* a stop signal that came after the last read must not kill the caller */
		struct timespec zero = { 0, 0 };
		sigset_t sigs;
		sigemptyset(&sigs);
		sigaddset(&sigs, SIGHUP);
		sigaddset(&sigs, SIGTERM);
		sigaddset(&sigs, SIGINT);
		while (sigtimedwait(&sigs, NULL, &zero) > 0)
			;
		pthread_sigmask(SIG_SETMASK, &r->old_mask, NULL);
	}
	free(r->cpus);
	free(r->numa);
	for (uint32_t i = 0; r->vm && i < r->cap_vms; i++)
		free(r->vm[i].bucket_prev);
	free(r->vm);
	free(r->bs);
	free(r->adapter_vm);
	free(r->q);
	free(r->ps);
	free(r->qs);
	free(r->stat_prev);
	free(r->stat_now);
	free(r->queues_on);
	free(r->movable_on);
	free(r->lat_prev);
	free(r->lat_now);
	free(r->set_allowed);
	free(r->mlog);
	dvmq_config_free(r->cfg);
	dvmq_config_free(r->first_cfg);
}

int dvmq_run(struct dvmq_config *c, const struct dvmq_config_cpus *cpus, const struct dvmq_run_options *o,
	     struct dvmq_run_result *res, struct dvmq_diag *diag)
{
	struct run *r = calloc(1, sizeof(*r));
	diag->msg[0] = '\0';
	memset(res, 0, sizeof(*res));
	if (!r) {
		dvmq_config_free(c);
		snprintf(diag->msg, sizeof(diag->msg), "out of memory");
		return -ENOMEM;
	}
	r->cfg = c;
	r->o = o;
	r->sfd = r->tfd = -1;
	r->ns_watch = r->ns_ep = -1;
	r->start_ns = mono_ns();
	r->log_level = o->log_level >= 0 ? o->log_level : (int)c->control.log_level;
	snprintf(r->name, sizeof(r->name), "%.120s", o->name ? o->name : c->path);
	int rc = run_apply_overrides(o, c, diag);
	if (!rc)
		rc = block_signals(r, diag);
	if (!rc)
		rc = setup(r, cpus, diag);
	if (!rc)
		rc = start_timer(r, diag);
	if (!rc && o->control)
		rc = run_ctl_start(r, diag);
	if (!rc)
		rc = r->dpif->start(r);
	if (!rc)
		rc = run_arm_timer(r);
	if (rc == 0) {
		char what[96];
		r->dpif->describe(r, what, sizeof(what));
		run_log(r, DVMQ_LOG_INFO, "running %s: %u processors (CPUs %d..%d), %u VMs, %s, policy %s, interval %.4g ms",
			r->name, r->n_procs, r->cpus[0], r->cpus[r->n_procs - 1], r->n_vms, what,
			dvmq_policy_name(r->params.policy), (double)r->interval_ns * 1e-6);
		/* every port is open, the data plane's threads run and the socket serves: what depends
		 * on the switch may start (systemd Type=notify; sd_notify is a no-op without
		 * NOTIFY_SOCKET, and says nothing to anyone but the service manager) */
		run_log(r, DVMQ_LOG_INFO, "ready: the uplink and %u VM ports are open%s", r->n_vms,
			o->control ? ", the control socket serves" : "");
		sd_notify(0, "READY=1");
		r->view_next_ns = 1000000000ull;
		rc = event_loop(r);
		sd_notify(0, "STOPPING=1");
		run_ctl_stop(r); /* the socket first: dvmqctl now hears that no daemon runs */
		r->dpif->stop(r);
		if (r->dpif->drain(r, DRAIN_NS))
			run_log(r, DVMQ_LOG_WARN, "queues did not drain within %.0f s: what is left counts as in flight",
				(double)DRAIN_NS * 1e-9);
		run_finish(r, res);
		log_totals(r, res);
		if (atomic_load_explicit(&r->thread_failed, memory_order_acquire)) {
			snprintf(diag->msg, sizeof(diag->msg), "a data plane thread could not start (out of memory)");
			rc = -ENOMEM;
		}
	} else if (!diag->msg[0]) {
		snprintf(diag->msg, sizeof(diag->msg), "%s", strerror(-rc));
	}
	teardown(r);
	free(r);
	return rc;
}
