/* What the files of src/ctl share and nobody else needs: JSON renderings of snapshot parts, kept
 * in one place so `queue show`, `stats` and the "move" event name every field the same way
 * (docs/ctl-protocol.md lists them; each returns a new reference, or NULL when out of memory),
 * and the parameter text check of explain.c. */
#ifndef DVMQ_CTL_INTERNAL_H
#define DVMQ_CTL_INTERNAL_H

#include "dvmq/ctl_state.h"

void ctl_json_mac(const uint8_t mac[6], char out[18]);
json_t *ctl_json_vm(const struct dvmq_snapshot *s, const struct dvmq_snap_vm *vm);
json_t *ctl_json_queue(const struct dvmq_snapshot *s, const struct dvmq_snap_queue *q);
json_t *ctl_json_processor(const struct dvmq_snapshot *s, const struct dvmq_snap_processor *p);
json_t *ctl_json_adapter(const struct dvmq_snapshot *s);
json_t *ctl_json_policy(const struct dvmq_snapshot *s);
/* The counters of one queue: {"overflow": N, ...} */
json_t *ctl_json_drops(const uint64_t drops[DVMQ_SNAP_DROP_COUNT]);

/* ---- what the command files share (commands.c) ---- */

const struct dvmq_ctl_state *ctl_state_of(void *aux);
/* The daemon's snapshot, or NULL with the call answered `internal`. */
struct dvmq_snapshot *ctl_snap(struct dvmq_ctl_call *call, const struct dvmq_ctl_state *st);
/* An op's refusal as a protocol error (-ENOENT as `enoent`): its message when it gave one. */
void ctl_op_error(struct dvmq_ctl_call *call, int rc, const char *msg, enum dvmq_ctl_errc enoent);
bool ctl_has(const json_t *args, const char *name);
int64_t ctl_arg_int(const json_t *args, const char *name, int64_t dflt);
const char *ctl_arg_str(const json_t *args, const char *name);
void ctl_unknown_vm(struct dvmq_ctl_call *call, const char *name);
void ctl_unknown_processor(struct dvmq_ctl_call *call, const struct dvmq_snapshot *s, int64_t id);
/* The operator's commands (commands_ops.c): queue.set, rebalance, stats.clear, history,
 * config.show, config.diff. Returns 0 or as dvmq_ctl_registry_add. */
int ctl_commands_ops_register(struct dvmq_ctl_registry *reg, const struct dvmq_ctl_state *st);
/* JSON of a queue's placement reasons: every other processor the engine could consider, and
 * why it does not move the queue there (explain.c). NULL when out of memory. */
json_t *ctl_explain_considered(const struct dvmq_snapshot *s, uint32_t q);

/* ---- the data plane's fates (ctl_fates.c): one list of names for `stats` and the page ---- */

/* One named counter. */
struct ctl_fate {
	const char *name;
	uint64_t v;
};
/* Room for every fate list below: parser verdicts, switch drops and the few of each direction. */
#define CTL_FATES_MAX (DVMQ_FRAME_VERDICT_COUNT + DVMQ_DP_DROP_COUNT + 8u)

/* Frames from the uplink (dvmq_dp_classify): delivered ("vmq", "default-unicast", "flooded")
 * and dropped by reason (parser verdicts, switch drops, "overflow", "vm-gone", "refused",
 * "filtered"); received = delivered + dropped + in_flight. Each returns how many it wrote. */
size_t ctl_uplink_delivered(const struct dvmq_dp_counters *c, struct ctl_fate out[CTL_FATES_MAX]);
size_t ctl_uplink_drops(const struct dvmq_dp_counters *c, struct ctl_fate out[CTL_FATES_MAX]);
/* Frames VMs sent (dvmq_dp_vm_send): forwarded ("to-vm", "to-uplink", "flooded") and dropped
 * by reason (parser verdicts, switch drops, "vm-refused", "uplink-refused"); received =
 * forwarded + dropped. */
size_t ctl_sent_forwarded(const struct dvmq_dp_send_counters *c, struct ctl_fate out[CTL_FATES_MAX]);
size_t ctl_sent_drops(const struct dvmq_dp_send_counters *c, struct ctl_fate out[CTL_FATES_MAX]);
uint64_t ctl_fates_sum(const struct ctl_fate *f, size_t n);

/* JSON of the fates ({"received", "delivered"/"forwarded": {...}, "dropped": N,
 * "dropped_by_reason": {...}, "in_flight", "flood": {...}, "balanced"}) and of a port's stats. */
json_t *ctl_json_uplink_fates(const struct dvmq_dp_counters *c);
json_t *ctl_json_sent_fates(const struct dvmq_dp_send_counters *c);
json_t *ctl_json_port_stats(const char *port, const char *vm, const struct dvmq_port_stats *st);


#endif
