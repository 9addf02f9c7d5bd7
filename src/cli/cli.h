/* Shared helpers of the dvmq command-line front end. Only main() and cmd_* pick exit codes. */
#ifndef DVMQ_CLI_H
#define DVMQ_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvmq/scenario.h"

int cmd_sim(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* `dvmq sim --sweep` (cmd_sweep.c): policy `pol` once per value of SPEC's parameter over base,
 * every other policy once at base. Returns the exit code (0, 1 run failed, 2 bad SPEC or plot
 * name). */
int cli_sweep(const struct dvmq_scenario *s, const struct dvmq_engine_params *base, enum dvmq_policy pol,
	      const char *spec, uint64_t duration, bool json, const char *csv_dir, const char *plot);
/* `dvmq run --config FILE --check [--json]` (cmd_run_config.c). Returns the exit code. */
int cli_check_config(const char *path, bool json);
struct dvmq_config;
struct dvmq_config_cpus;
/* The machine step before the daemon starts: this machine's CPUs (the first max_cpus of them
 * when not 0) checked against c, into *cpus; notes on stderr. Returns 0, or the exit code
 * (2: the config does not fit this machine, the message printed; 1: dvmq failed). */
int cli_config_machine(const struct dvmq_config *c, uint32_t max_cpus, struct dvmq_config_cpus *cpus);

/* The embedded default scenario (scenarios/default.ini, built in). */
extern const unsigned char cli_default_scenario[];

/* Loads NAME, NAME.ini, scenarios/NAME.ini; prints the error and returns non-zero on failure. */
int cli_load_scenario(const char *name, struct dvmq_scenario **out);
/* A positive time with a unit ("20s", "1.5min") or a bare number of seconds ("20").
 * Returns 0 or -1. */
int cli_parse_duration(const char *s, uint64_t *ns);
void cli_remove_dir(const char *dir);
/* Applies "PARAM=VALUE" strings (modified in place); prints the error. Returns 0 or -errno. */
int cli_apply_sets(const char *cmd, struct dvmq_engine_params *p, char **sets, size_t n);

#endif
