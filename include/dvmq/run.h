/* dvmq run: the daemon. One host configuration (include/dvmq/config.h: a file a person wrote,
 * or a scenario through dvmq_config_from_scenario) runs on the real data plane: the uplink port
 * (gen, pcap, afxdp, afpacket) feeds the classifier from its own thread, VM ports (tap,
 * afpacket, sink) receive from the workers (one pinned worker per processor) and their frames
 * are read by one VM receive thread (epoll), and a single control thread runs an event loop:
 * the sampling timer (/proc/stat and the workers' counters into the engine, its plan applied as
 * handoffs), signals (SIGHUP reloads the file as a diff, SIGTERM and SIGINT stop cleanly), the
 * control socket (dvmqctl, docs/ctl-protocol.md) and the snapshots the metrics page serves.
 * Control actions never restart a worker. Metrics have the simulator's definitions (DESIGN
 * section 7), plus what only real frames show: reordering, malformed frames, and loss no counter
 * explains.
 *
 * Thread safety: one run per process at a time (it pins threads to the CPUs it uses, and takes
 * SIGHUP, SIGTERM and SIGINT through a signalfd: they are blocked in the calling thread, and so
 * in every thread it starts, for the length of the call). Errors: 0 or a negative errno, with
 * a one-line reason in diag; the run prints nothing but its log lines (o->log) and live view. */
#ifndef DVMQ_RUN_H
#define DVMQ_RUN_H

#include <stdio.h>

#include "dvmq/config.h"
#include "dvmq/frame.h"
#include "dvmq/scenario.h"
#include "dvmq/sim.h"

/* Log levels: the control library's (DVMQ_LOG_ERR .. DVMQ_LOG_DEBUG), as the config's. */
#define DVMQ_RUN_LOG_FROM_CONFIG (-1)

struct dvmq_run_options {
	uint64_t duration_ns;       /* stop after this long; 0: run until SIGTERM or SIGINT */
	FILE *live;                 /* live view every second, or NULL */
	bool live_redraw;           /* redraw in place (a terminal) */
	FILE *log;                  /* log lines ("dvmq: LEVEL: what"), or NULL */
	int log_level;              /* DVMQ_LOG_*, or DVMQ_RUN_LOG_FROM_CONFIG */
	bool control;               /* serve the control socket and the metrics page (as configured) */
	const char *socket;         /* overrides the config's socket (on reloads too); NULL: keep */
	const char *metrics;        /* overrides the config's metrics: "ADDRESS:PORT" (port 0: any
	                             * free port, logged), "[IPv6]:PORT" or "off"; NULL: keep */
	const char *reload_path;    /* the file SIGHUP loads again; NULL: a reload is refused (logged) */
	const char *name;           /* names the run in the live view and the report */
	const char *version;        /* the daemon's version, for dvmqctl version and the metrics page */
	bool own_load;              /* a processor's load = its worker's busy time only (other programs
	                             * on its CPU ignored); false: /proc/stat, whatever the cause */
	bool virtual_cost;          /* frames' costs are counted as busy time, not spent
	                             * (dvmq_dp_config.virtual_cost); implies own_load: the engine
	                             * sees the scenario's loads on any machine, loaded or not */
	bool run_to_completion;     /* the uplink thread serves the last processor's queues itself
	                             * (dvmq_dp_config.inline_last; a device or pcap uplink on 2+
	                             * processors, else logged and off) */
};

struct dvmq_run_result {
	struct dvmq_result r;                 /* same fields as the simulator */
	uint64_t reordered;                       /* frames behind a later one of their flow */
	uint64_t lost;                            /* sent - delivered - counted drops - in flight */
	/* The same, flow by flow, from what each VM's sink received: every flow's order checked, and
	 * the frames flows miss (sent, never received) against the data plane's counted fates */
	uint64_t flows;                           /* flows checked */
	uint64_t flows_reordered;                 /* flows with a frame behind a later one */
	uint64_t flows_missing;                   /* sum over flows of sent - received */
	uint64_t flows_unexplained;               /* flows_missing - dropped - flooded - filtered - in flight */
	uint64_t verdict[DVMQ_FRAME_VERDICT_COUNT]; /* malformed / unsupported by reason */
	uint64_t vm_frames;                       /* frames the VMs sent (read from their ports) */
	/* their fates: vm_frames = vm_forwarded + vm_dropped + vm_detached + vm_lost (0 when every
	 * frame is counted) */
	uint64_t vm_forwarded, vm_dropped;        /* the switch's (dvmq_dp_counters.sent) */
	uint64_t vm_detached;                     /* read while its VM was out of the data plane */
	uint64_t vm_lost;
	uint64_t port_rx_dropped, port_tx_dropped; /* the ports' own (uplink and VMs): kernel ring
	                                            * overflow, TAP queue full, link down */
	uint64_t reloads, reloads_refused;        /* SIGHUP: applied, and refused (bad file, ...) */
	uint32_t processors, scenario_processors;
	uint32_t awake_end, parked_end;           /* processors owning queues, or none, at the end */
	double rate_scale;                        /* offered loads were multiplied by this */
	bool own_load, virtual_cost;              /* how processor loads were measured (options) */
	uint64_t moves_by_reason[DVMQ_REASON_COUNT]; /* r.moves by why (dvmq_reason_name) */
	double work_ns_per_byte;
};

/* Runs config c on the processors cpus (dvmq_config_check_machine's result on this machine)
 * until o->duration_ns passes or SIGTERM/SIGINT arrives, then stops cleanly: the uplink stops,
 * the queues drain, the counters are read into *res (and logged), the socket is removed, every
 * thread is joined and every port (TAP devices with them) is closed. Takes ownership of c (a
 * reload replaces it; freed before returning, also on error); cpus stays the caller's.
 * Returns 0, -EINVAL (diag: what is wrong with the host: the engine refuses it, a bad --metrics),
 * -EADDRINUSE (another daemon serves the socket, or the metrics port is taken), -EPERM (a port
 * needs a capability this process lacks: diag names it), -ENODEV, -ENOMEM, or the errno of a
 * failed thread, timer or port; diag always says which part failed. */
int dvmq_run(struct dvmq_config *c, const struct dvmq_config_cpus *cpus, const struct dvmq_run_options *o,
	     struct dvmq_run_result *res, struct dvmq_diag *diag);

#endif
