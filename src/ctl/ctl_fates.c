/* The data plane's frame fates and the ports' counters as `stats` and the metrics page name
 * them. Pure.
 * Invariant: every frame the data plane counts is in exactly one fate of one list here (the
 * lists are built from dvmq_dp_counters' own partition, dvmq/dp.h), so received = delivered +
 * dropped (+ in flight) is checkable by anyone reading `stats`; names are dvmq_dp_drop_name and
 * dvmq_frame_verdict_name, plus the few fates that are no parser or switch reason. */
#include "ctl_internal.h"

static size_t verdicts(const uint64_t v[DVMQ_FRAME_VERDICT_COUNT], struct ctl_fate *out, size_t n)
{
	for (unsigned i = 1; i < DVMQ_FRAME_VERDICT_COUNT; i++)
		out[n++] = (struct ctl_fate){ dvmq_frame_verdict_name((enum dvmq_frame_verdict)i), v[i] };
	return n;
}

static size_t switch_drops(const uint64_t d[DVMQ_DP_DROP_COUNT], struct ctl_fate *out, size_t n)
{
	for (unsigned i = 1; i < DVMQ_DP_DROP_COUNT; i++)
		out[n++] = (struct ctl_fate){ dvmq_dp_drop_name((enum dvmq_dp_drop)i), d[i] };
	return n;
}

size_t ctl_uplink_delivered(const struct dvmq_dp_counters *c, struct ctl_fate out[CTL_FATES_MAX])
{
	out[0] = (struct ctl_fate){ "vmq", c->vmq_delivered };
	out[1] = (struct ctl_fate){ "default-unicast", c->default_unicast };
	out[2] = (struct ctl_fate){ "flooded", c->flooded };
	return 3;
}

size_t ctl_uplink_drops(const struct dvmq_dp_counters *c, struct ctl_fate out[CTL_FATES_MAX])
{
	size_t n = verdicts(c->verdict, out, 0);
	n = switch_drops(c->drop, out, n);
	out[n++] = (struct ctl_fate){ "overflow", c->overflow };
	out[n++] = (struct ctl_fate){ "vm-gone", c->vm_gone };
	out[n++] = (struct ctl_fate){ "refused", c->refused };   /* a VM's port did not take it */
	out[n++] = (struct ctl_fate){ "filtered", c->filtered }; /* its destination is outside */
	return n;
}

size_t ctl_sent_forwarded(const struct dvmq_dp_send_counters *c, struct ctl_fate out[CTL_FATES_MAX])
{
	out[0] = (struct ctl_fate){ "to-vm", c->to_vm };
	out[1] = (struct ctl_fate){ "to-uplink", c->to_uplink };
	out[2] = (struct ctl_fate){ "flooded", c->flooded };
	return 3;
}

size_t ctl_sent_drops(const struct dvmq_dp_send_counters *c, struct ctl_fate out[CTL_FATES_MAX])
{
	size_t n = verdicts(c->verdict, out, 0);
	n = switch_drops(c->drop, out, n);
	out[n++] = (struct ctl_fate){ "vm-refused", c->vm_refused };
	out[n++] = (struct ctl_fate){ "uplink-refused", c->uplink_refused };
	return n;
}

uint64_t ctl_fates_sum(const struct ctl_fate *f, size_t n)
{
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++)
		t += f[i].v;
	return t;
}

static json_t *fates_object(const struct ctl_fate *f, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++) {
		if (json_object_set_new(o, f[i].name, json_integer((json_int_t)f[i].v))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *ctl_json_uplink_fates(const struct dvmq_dp_counters *c)
{
	struct ctl_fate del[CTL_FATES_MAX], drop[CTL_FATES_MAX];
	size_t nd = ctl_uplink_delivered(c, del), nx = ctl_uplink_drops(c, drop);
	uint64_t delivered = ctl_fates_sum(del, nd), dropped = ctl_fates_sum(drop, nx);
	return json_pack("{s:I, s:I, s:o, s:I, s:o, s:I, s:{s:I, s:I, s:I}, s:b}", "received", (json_int_t)c->rx,
			 "delivered_total", (json_int_t)delivered, "delivered", fates_object(del, nd), "dropped",
			 (json_int_t)dropped, "dropped_by_reason", fates_object(drop, nx), "in_flight",
			 (json_int_t)c->in_flight, "flood", "copies", (json_int_t)c->flood_copies, "refused",
			 (json_int_t)c->flood_refused, "unknown_unicast", (json_int_t)c->unknown_unicast, "balanced",
			 c->rx == delivered + dropped + c->in_flight);
}

json_t *ctl_json_sent_fates(const struct dvmq_dp_send_counters *c)
{
	struct ctl_fate fw[CTL_FATES_MAX], drop[CTL_FATES_MAX];
	size_t nf = ctl_sent_forwarded(c, fw), nx = ctl_sent_drops(c, drop);
	uint64_t forwarded = ctl_fates_sum(fw, nf), dropped = ctl_fates_sum(drop, nx);
	return json_pack("{s:I, s:I, s:o, s:I, s:o, s:{s:I, s:I}, s:b}", "received", (json_int_t)c->rx,
			 "forwarded_total", (json_int_t)forwarded, "forwarded", fates_object(fw, nf), "dropped",
			 (json_int_t)dropped, "dropped_by_reason", fates_object(drop, nx), "flood", "copies",
			 (json_int_t)c->flood_copies, "refused", (json_int_t)c->flood_refused, "balanced",
			 c->rx == forwarded + dropped);
}

json_t *ctl_json_port_stats(const char *port, const char *vm, const struct dvmq_port_stats *st)
{
	return json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "port", port, "vm",
			 vm ? json_string(vm) : json_null(), "rx_packets", (json_int_t)st->rx_packets, "rx_bytes",
			 (json_int_t)st->rx_bytes, "tx_packets", (json_int_t)st->tx_packets, "tx_bytes",
			 (json_int_t)st->tx_bytes, "rx_dropped", (json_int_t)st->rx_dropped, "tx_dropped",
			 (json_int_t)st->tx_dropped, "link_events", (json_int_t)st->link_events);
}
