/* Helpers of the config tests: a private directory for the files a test writes (removed when
 * the test's process exits, whatever the outcome), loading text as "t.conf" with relative paths
 * resolved there, and machines described by hand for the machine checks. */
#ifndef DVMQ_TEST_CONFIG_FIXTURE_H
#define DVMQ_TEST_CONFIG_FIXTURE_H

#include "dvmq/config.h"

/* The directory (created once per test process), or NULL when it cannot be made. */
const char *cfgt_dir(void);
/* Writes text into the directory under name; returns the file's path (static buffer) or NULL. */
const char *cfgt_write(const char *name, const char *text);
/* dvmq_config_load_text("t.conf", text, cfgt_dir(), ...). */
int cfgt_load(const char *text, struct dvmq_config **out, struct dvmq_diag *diag);
/* A machine with CPUs 0..n_cpus-1 online and allowed, split evenly over n_nodes NUMA nodes, no
 * capabilities, and the interfaces lo and eth0. malloc'd; free it. */
struct dvmq_machine *cfgt_machine(uint32_t n_cpus, uint32_t n_nodes);
/* A small scenario written as scen.ini in the directory: 4 processors, queue_pool 8, 100 ms
 * interval, high 80% in [engine], VMs a (02:00:00:00:00:0a) and b (02:00:00:00:00:0b, vlan 5). */
extern const char *const cfgt_scenario;

#endif
