/* A host configuration (dvmq/config.h) as JSON, with jansson: its own header so that the config
 * API does not pull jansson into every file that includes it. */
#ifndef DVMQ_CONFIG_JSON_H
#define DVMQ_CONFIG_JSON_H

#include <jansson.h>

#include "dvmq/config.h"

/* One object: file, from_scenario, host (with cpus_in_use when cpus is not NULL), engine (every
 * parameter as text such as "90%"), uplink, vms, control, capabilities (names the ports need).
 * Returns a new reference, or NULL when out of memory. Thread-safe on an immutable config. */
json_t *dvmq_config_json(const struct dvmq_config *c, const struct dvmq_config_cpus *cpus);

#endif
