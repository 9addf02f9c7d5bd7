/* Shared state of the config parser (config.c), its cross checks and scenario merge
 * (config_build.c). The parser records what each key said and on which line; the build step
 * decides what the combination means, so keys may come in any order within a file. */
#ifndef DVMQ_CONFIG_INTERNAL_H
#define DVMQ_CONFIG_INTERNAL_H

#include <stdarg.h>

#include "dvmq/config.h"

#define CFG_MAX_SECTION_KEYS 32

/* An [engine] line, applied after the whole file is read (on top of the gen scenario's [engine]
 * when there is one, so the order of sections does not matter). Points into the reader's text. */
struct cfg_engine_key {
	const char *key, *value;
	int line;
};

struct cfg_vm_draft {
	struct dvmq_config_vm vm;
	bool has_mac, has_vlan, has_weight, has_max_queues, has_port, has_offload, has_netns;
	int line_netns;
	int line_vlan, line_port, line_offload;
};

struct cfg_parse {
	const char *file;       /* name in messages */
	const char *base_dir;   /* relative paths in the file resolve against it */
	struct dvmq_diag *diag;
	bool failed;
	int line;
	enum { CFG_SEC_NONE, CFG_SEC_HOST, CFG_SEC_ENGINE, CFG_SEC_UPLINK, CFG_SEC_VM, CFG_SEC_CONTROL } sec;
	struct dvmq_config *c;
	int host_line, engine_line, uplink_line, control_line;
	/* keys of the current section, so that a key set twice is an error */
	const char *seen_key[CFG_MAX_SECTION_KEYS];
	int seen_line[CFG_MAX_SECTION_KEYS];
	int n_seen;
	struct cfg_engine_key *engine;
	size_t n_engine, cap_engine;
	struct cfg_vm_draft *vms;
	size_t n_vms, cap_vms;
	/* [uplink] keys given, and where */
	bool up_port, up_scenario_vms, up_fallback, up_xdp_mode, up_rx, up_ring, up_scenario;
	int line_up_port, line_up_scenario_vms, line_up_fallback, line_up_xdp_mode, line_up_rx, line_up_ring;
	bool up_mode, up_kernel, up_qsize, up_kprio; /* mode = kernel given, qsize, kthread_priority */
	bool up_rx_hash, up_local_path;              /* rx_hash, local_path */
	int line_up_mode, line_up_qsize, line_up_kprio, line_up_rx_hash, line_up_local_path;
	/* [control] keys given */
	bool ctl_socket, ctl_metrics, ctl_log_level;
};

/* Records the first error as "file:line: message"; later ones are dropped. Returns -EINVAL. */
int cfg_fail(struct cfg_parse *ps, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Everything after the last line: the scenario, defaults from it, engine keys, combinations,
 * duplicates; fills ps->c. Returns 0, -EINVAL (diag set) or -ENOMEM. */
int cfg_build(struct cfg_parse *ps);

/* Sorted, de-duplicated copy check of a CPU id list ("0-3,8"): fills ids (ascending), returns the
 * count, or -1 malformed, -2 an id >= DVMQ_MAX_PROCESSORS, -3 an id twice (*dup says which). */
int cfg_parse_cpu_list(const char *s, uint32_t *ids, uint32_t *dup);

/* "0-3,8" for a sorted id list, shortened with "..." when it does not fit. */
void cfg_format_cpu_list(const uint32_t *ids, uint32_t n, char *buf, size_t len);

/* An open-addressing table of indices into the caller's array (slot: index + 1, 0 empty). */
struct cfg_tab {
	uint32_t *slot;
	size_t mask;
};
typedef bool (*cfg_match_fn)(const void *ctx, uint32_t idx);
/* Room for n entries. Returns 0 or -ENOMEM; free t->slot. */
int cfg_tab_init(struct cfg_tab *t, size_t n);
/* The first index under hash h that match() accepts, or UINT32_MAX. */
uint32_t cfg_tab_find(const struct cfg_tab *t, uint64_t h, cfg_match_fn match, const void *ctx);
void cfg_tab_add(struct cfg_tab *t, uint64_t h, uint32_t idx);
uint64_t cfg_hash_str(const char *s);
uint64_t cfg_hash_u64(uint64_t x);
/* A VM table lookup's context: is vms[idx] equal to *key (by name, address or device)? */
struct cfg_vm_key {
	const struct dvmq_config_vm *vms, *key;
};
bool cfg_same_name(const void *ctx, uint32_t idx);

/* 64-bit FNV-1a of a file's bytes; 0 when it cannot be read. */
uint64_t cfg_file_hash(const char *path);

#endif
