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


#endif
