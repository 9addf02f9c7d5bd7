/* The userspace switch's counters as the daemon reads them (dpif.h): the workers' queue and
 * latency counters for the sampling round, the frame fates every data plane has, the typed
 * fates and port stats only this one has (the snapshot's has_dp, has_uplink, has_port), and the
 * run's result with the checks only real frames allow: each flow's order and the frames it
 * misses, the VM direction's fates, the ports' own drops. */
#include <stdio.h>
#include <string.h>

#include "dpif_user.h"

int dpif_user_sample(struct run *r, uint64_t elapsed_ns, struct dvmq_proc_sample *ps)
{
	(void)r;
	(void)elapsed_ns;
	(void)ps; /* /proc/stat's figure stands; the daemon raises it to the workers' queue time */
	return 0;
}

void dpif_user_queue_stats(struct run *r, uint32_t q, struct run_dpif_queue *out)
{
	struct dvmq_dp_queue_stats now;
	dvmq_dp_queue_stats(dpif_user_of(r)->dp, q, &now);
	*out = (struct run_dpif_queue){ .packets = now.packets, .bytes = now.bytes, .busy_ns = now.busy_ns,
					.dropped = now.dropped, .backlog = now.backlog };
}

void dpif_user_latency(struct run *r, uint64_t *hist)
{
	struct dpif_user *u = dpif_user_of(r);
	struct dvmq_dp_worker_stats ws;
	memset(hist, 0, sizeof(*hist) * DVMQ_HIST_BUCKETS);
	for (uint32_t w = 0; w < r->n_procs; w++) {
		dvmq_dp_worker_stats(u->dp, w, &ws);
		for (unsigned b = 0; b < DVMQ_HIST_BUCKETS; b++)
			hist[b] += ws.lat[b];
	}
}

/* What the uplink offered: the generator's sent frames, or what the classifier was given. */
static uint64_t offered(const struct run *r, const struct dvmq_dp_counters *c)
{
	const struct dpif_user *u = dpif_user_of(r);
	uint64_t sent = r->s ? 0 : c->rx;
	for (uint32_t v = 0; r->s && v < u->n_gen_vms; v++)
		sent += dvmq_port_gen_sent(u->uplink, v);
	return sent;
}

static void common(const struct run *r, const struct dvmq_dp_counters *c, struct run_dpif_counters *out)
{
	memset(out, 0, sizeof(*out));
	out->offered = offered(r, c);
	out->received = c->rx;
	out->delivered = c->vmq_delivered + c->default_unicast + c->flooded;
	out->drops[DVMQ_SNAP_DROP_OVERFLOW] = c->overflow;
	out->drops[DVMQ_SNAP_DROP_VM_GONE] = c->vm_gone;
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++)
		out->drops[v >= DVMQ_FRAME_FIRST_UNSUPPORTED ? DVMQ_SNAP_DROP_UNSUPPORTED : DVMQ_SNAP_DROP_MALFORMED] +=
			c->verdict[v];
	out->in_flight = c->in_flight;
}

void dpif_user_counters(struct run *r, struct run_dpif_counters *out)
{
	struct dvmq_dp_counters c;
	dvmq_dp_counters(dpif_user_of(r)->dp, &c);
	common(r, &c, out);
}

int dpif_user_snap_totals(struct run *r, struct dvmq_snapshot *s)
{
	struct dpif_user *u = dpif_user_of(r);
	/* read now, not at the last sample: the fates below and the VMs' and ports' counters
	 * (snap_vm) are then of the same instant, give or take frames in passage */
	s->has_dp = u->dp != NULL;
	if (u->dp) {
		struct run_dpif_counters c;
		dvmq_dp_counters(u->dp, &s->dp);
		common(r, &s->dp, &c);
		s->frames_rx = c.received;
		s->frames_delivered = c.delivered;
		memcpy(s->drops, c.drops, sizeof(s->drops));
	}
	if (u->uplink) {
		s->has_uplink = true;
		dvmq_port_stats(u->uplink, &s->uplink);
		if (r->cfg->uplink.device[0])
			snprintf(s->uplink_port, sizeof(s->uplink_port), "%s:%s", dvmq_config_port_name(r->cfg->uplink.port),
				 r->cfg->uplink.device);
		else
			snprintf(s->uplink_port, sizeof(s->uplink_port), "%s", dvmq_config_port_name(r->cfg->uplink.port));
	}
	return 0;
}

void dpif_user_snap_vm(struct run *r, uint32_t slot, struct dvmq_snap_vm *sv)
{
	struct dpif_user *u = dpif_user_of(r);
	const struct run_vm *vm = &r->vm[slot];
	const struct dpif_user_vm *uv = &u->vm[slot];
	/* the data plane's counters of a VM that is not attached are gone with its id */
	sv->has_dp = u->dp && vm->attached && dvmq_dp_vm_stats(u->dp, uv->dp_vm, &sv->dp) == 0;
	if (uv->port) {
		dvmq_port_stats(uv->port, &sv->port_stats);
		sv->has_port = true;
	}
}

/* Per flow: order from the sink, and the frames missing (the generator sent them, the VM's sink
 * never got them); every missing frame must be a counted fate: dropped (ring full, VM gone),
 * flooded (its VM left while it waited on the default queue), filtered, refused, still queued.
 * Flows the generator plays to a port that is not a sink, or to no VM, are not checked. */
static void flow_evidence(const struct run *r, const struct dvmq_dp_counters *c, uint64_t refused,
			  struct dvmq_run_result *res)
{
	const struct dpif_user *u = dpif_user_of(r);
	for (uint32_t v = 0; v < u->n_gen_vms; v++) {
		const struct run_gen_vm *g = &u->gen_vm[v];
		if (g->slot == RUN_NO_SLOT || r->vm[g->slot].kind != DVMQ_CONFIG_PORT_SINK)
			continue;
		for (uint32_t f = g->flow_base; f < g->flow_base + g->n_flows; f++) {
			struct dvmq_sink_flow fl;
			dvmq_port_sink_flow(u->vm[g->slot].port, f, &fl);
			uint64_t sent = dvmq_port_gen_flow_sent(u->uplink, f);
			res->flows++;
			res->flows_reordered += fl.reordered > 0;
			res->flows_missing += sent > fl.received ? sent - fl.received : 0;
		}
	}
	uint64_t fates = res->r.dropped + c->flooded + c->filtered + refused + c->in_flight;
	res->flows_unexplained = res->flows_missing > fates ? res->flows_missing - fates : 0;
}

void dpif_user_finish(struct run *r, struct dvmq_run_result *res)
{
	struct dpif_user *u = dpif_user_of(r);
	struct dvmq_result *o = &res->r;
	struct dvmq_dp_counters c;
	dvmq_dp_counters(u->dp, &c);
	uint64_t sent = offered(r, &c);
	struct dvmq_port_stats ps;
	dvmq_port_stats(u->uplink, &ps);
	res->port_rx_dropped = ps.rx_dropped;
	res->port_tx_dropped = ps.tx_dropped;
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		if (!r->vm[i].used)
			continue;
		dvmq_port_stats(u->vm[i].port, &ps);
		res->reordered += ps.reordered;
		res->port_rx_dropped += ps.rx_dropped;
		res->port_tx_dropped += ps.tx_dropped;
	}
	/* the VM direction: what the receive thread read = what the switch counted + detached */
	const struct dvmq_dp_send_counters *sc = &c.sent;
	res->vm_forwarded = sc->to_vm + sc->to_uplink + sc->flooded;
	res->vm_dropped = sc->vm_refused + sc->uplink_refused;
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++)
		res->vm_dropped += sc->verdict[v];
	for (unsigned d = 1; d < DVMQ_DP_DROP_COUNT; d++)
		res->vm_dropped += sc->drop[d];
	res->vm_frames = atomic_load_explicit(&u->vm_frames, memory_order_relaxed);
	res->vm_detached = atomic_load_explicit(&u->vm_frames_detached, memory_order_relaxed);
	uint64_t vm_counted = res->vm_forwarded + res->vm_dropped + res->vm_detached;
	res->vm_lost = res->vm_frames > vm_counted ? res->vm_frames - vm_counted : 0;
	uint64_t refused = 0;
	for (unsigned v = 1; v < DVMQ_FRAME_VERDICT_COUNT; v++) {
		res->verdict[v] = c.verdict[v];
		refused += c.verdict[v];
	}
	o->delivered = c.vmq_delivered + c.default_unicast + c.flooded;
	/* a VM port that did not take a frame (a TAP that is down or full) and the switch's own
	 * drops (multicast-source, bad-offload) are drops too: without them such frames were "lost" */
	uint64_t switch_drops = 0;
	for (unsigned d = 1; d < DVMQ_DP_DROP_COUNT; d++)
		switch_drops += c.drop[d];
	o->dropped = c.overflow + c.vm_gone + c.refused + switch_drops;
	o->offered = (double)sent;
	o->backlog_end = (double)c.in_flight;
	uint64_t accounted = o->delivered + o->dropped + c.in_flight + refused + c.filtered;
	res->lost = sent > accounted ? sent - accounted : 0;
	if (r->s)
		flow_evidence(r, &c, refused, res); /* after o->dropped: it reads it */
	res->work_ns_per_byte = dvmq_dp_work_ns_per_byte(u->dp);
}

bool dpif_user_proc_stats(struct run *r, uint32_t p, uint64_t *busy_ns, uint64_t *frames, uint64_t *wakeups)
{
	struct dvmq_dp_worker_stats w;
	const struct dpif_user *u = dpif_user_of(r);
	if (!u->dp || dvmq_dp_worker_stats(u->dp, p, &w) != 0)
		return false;
	*busy_ns = w.busy_ns;
	*frames = w.packets;
	*wakeups = w.wakeups;
	return true;
}
