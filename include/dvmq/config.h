/* The host configuration: what `dvmq run --config FILE` runs (docs/config.md, dvmq.conf(5)).
 * One struct describes a host whatever it came from: a file a person wrote (an uplink, VM
 * adapters, the processor set, the engine and the control side), or a scenario, which means a
 * `gen` uplink playing it into `sink` VM ports (dvmq_config_from_scenario). The daemon has this
 * one input type, and reloads (SIGHUP) as the difference of two of them (dvmq_config_diff).
 *
 * Three steps, each with its own messages, every one "file:line: what is wrong (want ...)":
 *   1. dvmq_config_load: the text alone (syntax, values, cross checks, the scenario it names).
 *   2. dvmq_config_check_machine: against a machine (CPUs that exist and this process may use,
 *      NUMA nodes, the processor set the engine accepts, capture files, devices, capabilities);
 *      nothing is opened, created or started, no privilege is needed.
 *   3. the daemon opens its ports.
 *
 * Invariant of a loaded config: every field is valid on its own and against the others (unique
 * VM names, MAC+VLAN and devices; each port kind in its place; params pass
 * dvmq_engine_params_validate); a load either succeeds whole or leaves nothing behind.
 * Ownership: a config owns everything it points to (its VMs, its scenario); free with
 * dvmq_config_free. Thread safety: a config is immutable once loaded and may be read from any
 * thread; each function documents its own. Nothing here prints, exits or aborts. */
#ifndef DVMQ_CONFIG_H
#define DVMQ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvmq/engine.h"
#include "dvmq/scenario.h"

#define DVMQ_IFNAME_MAX 16u       /* IFNAMSIZ: 15 characters and the NUL */
#define DVMQ_CONFIG_PATH_MAX 512u
#define DVMQ_CONFIG_SOCKET_MAX 108u /* sun_path: 107 bytes and the NUL */
#define DVMQ_CONFIG_MAX_VMS 65536u
#define DVMQ_CONFIG_VM_NAME_MAX DVMQ_NAME_MAX /* 47 characters of [A-Za-z0-9._-] */

/* Where a port may stand: the uplink takes gen, pcap, afxdp, afpacket; a VM adapter takes tap,
 * afpacket, sink; in kernel mode both are "kernel". Names are the file's words. */
enum dvmq_config_port {
	DVMQ_CONFIG_PORT_GEN,      /* built-in generator playing a scenario (no privileges) */
	DVMQ_CONFIG_PORT_PCAP,     /* replays a capture file (no privileges) */
	DVMQ_CONFIG_PORT_AFXDP,    /* AF_XDP on a NIC: CAP_BPF, CAP_NET_ADMIN, CAP_NET_RAW */
	DVMQ_CONFIG_PORT_AFPACKET, /* AF_PACKET on an existing interface: CAP_NET_RAW */
	DVMQ_CONFIG_PORT_TAP,      /* a TAP device dvmq creates and holds: CAP_NET_ADMIN */
	DVMQ_CONFIG_PORT_SINK,     /* counts and checks what it receives (no privileges) */
	DVMQ_CONFIG_PORT_KERNEL,   /* kernel mode ([uplink] mode = kernel): the host's own device,
	                            * which dvmq steers and never opens. The uplink's is where the
	                            * XDP program goes (CAP_BPF, CAP_NET_ADMIN); a VM's (optional)
	                            * names its kernel port for the views. Never written as a port */
	DVMQ_CONFIG_PORT_COUNT
};

/* The values of struct dvmq_port_kopts.xdp_mode: auto (native where the driver has it) 0,
 * native only 1, generic only 2. */
enum dvmq_config_xdp_mode { DVMQ_CONFIG_XDP_AUTO, DVMQ_CONFIG_XDP_NATIVE, DVMQ_CONFIG_XDP_GENERIC };
enum dvmq_config_rx { DVMQ_CONFIG_RX_COPY, DVMQ_CONFIG_RX_RING }; /* afpacket: recvmmsg or TPACKET_V3 */

/* The same order and values as enum dvmq_ctl_log_level (include/dvmq/ctl.h). */
enum dvmq_config_log_level {
	DVMQ_CONFIG_LOG_ERROR, DVMQ_CONFIG_LOG_WARNING, DVMQ_CONFIG_LOG_INFO, DVMQ_CONFIG_LOG_DEBUG
};

/* Bits of struct dvmq_config_host.set, and of the host part of a diff. */
enum {
	DVMQ_CONFIG_HOST_CPUS = 1u << 0,
	DVMQ_CONFIG_HOST_PROCESSORS = 1u << 1,
	DVMQ_CONFIG_HOST_BASE = 1u << 2,
	DVMQ_CONFIG_HOST_MAX = 1u << 3,
	DVMQ_CONFIG_HOST_NUMA = 1u << 4,
	DVMQ_CONFIG_HOST_EXCLUDE = 1u << 5,
	DVMQ_CONFIG_HOST_POOL = 1u << 6,
	DVMQ_CONFIG_HOST_DEPTH = 1u << 7,
	DVMQ_CONFIG_HOST_MTU = 1u << 8,
	DVMQ_CONFIG_HOST_INTERVAL = 1u << 9,
	/* the processor set: what dvmq_engine_set_processor_set takes, and the CPUs under it */
	DVMQ_CONFIG_HOST_PROCESSOR_SET = DVMQ_CONFIG_HOST_CPUS | DVMQ_CONFIG_HOST_PROCESSORS | DVMQ_CONFIG_HOST_BASE |
					 DVMQ_CONFIG_HOST_MAX | DVMQ_CONFIG_HOST_NUMA | DVMQ_CONFIG_HOST_EXCLUDE,
};

/* The host's processors: the daemon runs one pinned worker on each of the first `processors`
 * CPUs of `cpus` (processor k is the k-th of them, in ascending CPU order). The processor set,
 * where queues may run, narrows that as Set-NetAdapterVmq does. CPU ids are the kernel's. */
struct dvmq_config_host {
	bool all_cpus;           /* cpus = all: every CPU this process may run on at start */
	uint32_t n_cpus;         /* else: cpus[], ascending, distinct, each < DVMQ_MAX_PROCESSORS */
	uint32_t *cpus;
	uint32_t processors;     /* use the first N of cpus; 0: all of them */
	bool has_base;           /* base_processor given: queues run on CPUs >= it */
	uint32_t base_processor;
	uint32_t max_processors; /* 0: no limit */
	int32_t numa_node;       /* -1: any */
	uint32_t n_excluded;     /* CPU ids never used for queues, ascending, distinct */
	uint32_t *excluded;
	uint32_t queue_pool;     /* VMQs offered besides the default queue */
	uint32_t queue_depth;    /* frames per queue ring */
	uint32_t mtu;            /* largest L3 payload (68..65000) */
	uint64_t interval_ns;    /* sampling interval */
	uint32_t set;            /* DVMQ_CONFIG_HOST_* given in the file (the rest: defaults, or the
	                          * gen scenario's [host] when the uplink plays one) */
	/* lines of [host] and its keys, for machine-check messages (0: not in the file) */
	int line, line_cpus, line_processors, line_base, line_max, line_numa, line_exclude;
};

struct dvmq_config_uplink {
	enum dvmq_config_port port;        /* gen, pcap, afxdp or afpacket */
	char device[DVMQ_IFNAME_MAX];      /* afxdp, afpacket */
	char file[DVMQ_CONFIG_PATH_MAX];   /* pcap: the capture; gen: the scenario (as written) */
	char path[DVMQ_CONFIG_PATH_MAX];   /* file resolved against the config file's directory
	                                    * (gen: canonical, realpath(3)) */
	struct dvmq_scenario *scenario;    /* gen: the scenario, loaded and owned by the config */
	uint64_t scenario_hash;            /* gen: FNV-1a of the scenario file's bytes (the diff
	                                    * sees an edited scenario at an unchanged path; a
	                                    * [trace] CSV it names is not in it); 0: no file */
	bool scenario_vms;                 /* gen: the scenario's VMs are adapters (default yes) */
	bool fallback;                     /* afxdp: afpacket where AF_XDP cannot be used (default) */
	enum dvmq_config_xdp_mode xdp_mode;
	enum dvmq_config_rx rx;            /* afpacket */
	uint32_t ring_kib;                 /* afpacket ring or socket buffer, afxdp UMEM; 0: default */
	uint32_t qsize;                    /* kernel mode: each processor's cpumap ring, in frames;
	                                    * 0: the default (2048) */
	uint32_t kthread_priority;         /* kernel mode: SCHED_FIFO priority of the cpumap kthreads
	                                    * (1..99); 0: as the kernel makes them (SCHED_OTHER) */
	bool rx_hash_nic;                  /* kernel mode, VMMQ: rx_hash = nic (the NIC's RSS hash where
	                                    * the driver hands XDP one); false: toeplitz (default) */
	bool local_path_off;               /* kernel mode: local_path = off (every frame through the
	                                    * cpumap, also one already on its queue's processor) */
	int line;                          /* [uplink], or 0 (built from a scenario) */
	int line_device, line_file;
};

struct dvmq_config_vm {
	char name[DVMQ_CONFIG_VM_NAME_MAX];
	struct dvmq_adapter_desc adapter;  /* MAC, VLAN, VMQ weight */
	enum dvmq_config_port port;        /* tap, afpacket or sink */
	char device[DVMQ_IFNAME_MAX];      /* tap: the device dvmq creates; afpacket: an existing
	                                    * interface (a veth, a hypervisor's TAP, libvirt's vnetN);
	                                    * sink: "" */
	bool offload;                      /* tap: IFF_VNET_HDR, offloads offered to the VM */
	char netns[DVMQ_CONFIG_PATH_MAX];  /* tap: the network namespace its TAP lives in (a
	                                    * container's: /run/netns/NAME or a path), "" dvmq's own */
	int32_t scenario_vm;               /* index in uplink.scenario->vms of the VM the generator
	                                    * plays to this adapter, or -1 */
	int line;                          /* [vm NAME], or 0 (a scenario VM without a section) */
	int line_mac, line_device;
};

struct dvmq_config_control {
	char socket[DVMQ_CONFIG_SOCKET_MAX]; /* control socket path (relative: to the working dir) */
	bool metrics;                        /* false: metrics = off */
	char metrics_address[64];            /* numeric IPv4 or IPv6 */
	uint16_t metrics_port;
	enum dvmq_config_log_level log_level;
};

struct dvmq_config {
	char path[DVMQ_CONFIG_PATH_MAX];     /* the file (or name) messages use */
	bool from_scenario;                  /* built by dvmq_config_from_scenario */
	struct dvmq_config_host host;
	struct dvmq_engine_params params;    /* defaults, the gen scenario's [engine], then [engine] */
	struct dvmq_config_uplink uplink;
	size_t n_vms;
	struct dvmq_config_vm *vms;          /* in file order; scenario VMs first, in its order */
	struct dvmq_config_control control;
};

const char *dvmq_config_port_name(enum dvmq_config_port p);
const char *dvmq_config_log_level_name(enum dvmq_config_log_level l);
/* The metrics address as the file writes it: "127.0.0.1:9911", "[::1]:9911" or "off". */
void dvmq_config_metrics_format(const struct dvmq_config_control *c, char *buf, size_t len);
/* Whether the port kind may stand at the uplink / at a VM adapter. */
bool dvmq_config_port_is_uplink(enum dvmq_config_port p);
bool dvmq_config_port_is_vm(enum dvmq_config_port p);

/* Checks an interface name as the kernel does (1..15 characters, not "." or "..", no '/', ':'
 * or white space). Returns NULL when good, else what is wrong (a static string). Pure. */
const char *dvmq_config_ifname_problem(const char *name);

/* Parses a VM port as dvmqctl writes it: "tap:DEVICE", "afpacket:DEVICE" or "sink". Returns 0,
 * or -EINVAL with the reason in err ("bad port 'x' (want ...)"). device gets "" for sink. Pure. */
int dvmq_config_vm_port_parse(const char *spec, enum dvmq_config_port *port, char device[DVMQ_IFNAME_MAX],
			      char *err, size_t err_len);

/* Loads a config file. A relative scenario or capture path is taken from the file's directory.
 * Returns 0, -ENOENT (cannot open: diag says "FILE: cannot open: why"), -EINVAL (diag says
 * "file:line: what is wrong"; a scenario that does not load adds its own file:line), -ENOMEM.
 * On error *out is untouched and nothing is leaked. Thread-safe (no shared state). */
int dvmq_config_load(const char *path, struct dvmq_config **out, struct dvmq_diag *diag);
/* Same from text; name is used in messages, base_dir (NULL: ".") resolves relative paths. */
int dvmq_config_load_text(const char *name, const char *text, const char *base_dir, struct dvmq_config **out,
			  struct dvmq_diag *diag);
/* NULL is a no-op. */
void dvmq_config_free(struct dvmq_config *c);

/* What `dvmq run SCENARIO` means as a config: a gen uplink playing s, each of its VMs on a sink
 * port (MAC, VLAN, weight from the scenario), its [host] (processors, processor set, pool,
 * depth, interval; MTU from its largest frame) and [engine]; cpus = all, control defaults.
 * Takes ownership of s on success (freed with the config); on error s stays the caller's.
 * Returns 0 or -ENOMEM. */
int dvmq_config_from_scenario(struct dvmq_scenario *s, struct dvmq_config **out);

/* The options of the uplink's kernel port (afxdp, afpacket; ignored by gen and pcap) and of a VM
 * adapter's (tap, afpacket), as the file sets them: mtu, ring, rx, xdp_mode, fallback, offload.
 * The caller adds its log callback. Pure. */
struct dvmq_port_kopts;
void dvmq_config_uplink_kopts(const struct dvmq_config *c, struct dvmq_port_kopts *o);
void dvmq_config_vm_kopts(const struct dvmq_config *c, const struct dvmq_config_vm *vm, struct dvmq_port_kopts *o);

/* Writes c as a config file: [host] with every key, [engine] with the policy and the parameters
 * that differ from where the file starts (the defaults, or a gen scenario's [engine]), [uplink],
 * a [vm] section per adapter (a gen scenario's VMs only where they differ from it), [control].
 * Paths as resolved (c->uplink.path). header (may be NULL) goes first, each line as a comment.
 * Loading the text gives a config with an empty dvmq_config_diff against c: what
 * `dvmqctl config show` prints, ready to save. Returns 0 (*text malloc'd, NUL-terminated) or
 * -ENOMEM. Pure. */
int dvmq_config_write(const struct dvmq_config *c, const char *header, char **text);

/* ---- step 2: the machine ---- */

#define DVMQ_MACHINE_MAX_NETDEVS 1024u

/* What the machine checks need to know, probed once (dvmq_machine_probe) or written by a test.
 * Bitmaps hold CPU ids 0..DVMQ_MAX_PROCESSORS-1. */
struct dvmq_machine {
	uint64_t online[DVMQ_MAX_PROCESSORS / 64];   /* CPUs this machine has online */
	uint64_t allowed[DVMQ_MAX_PROCESSORS / 64];  /* CPUs this process may run on */
	int16_t node[DVMQ_MAX_PROCESSORS];           /* NUMA node of each online CPU, -1 unknown */
	uint64_t nodes;                              /* NUMA nodes that exist (bit n: node n) */
	uint64_t cap_effective;                      /* bit n: capability n held (CAP_NET_RAW=13...) */
	bool netdevs_known;                          /* false: device checks are skipped */
	uint32_t n_netdevs;
	char netdevs[DVMQ_MACHINE_MAX_NETDEVS][DVMQ_IFNAME_MAX]; /* interfaces in this namespace */
};

/* Fills m from /sys/devices/system/cpu, sched_getaffinity, /sys/devices/system/node,
 * /proc/self/status and if_nameindex; whatever cannot be read is left out and said so where it
 * matters (a machine with unknown CPUs refuses nothing). Returns 0 or -errno of
 * sched_getaffinity. Reads only; thread-safe. */
int dvmq_machine_probe(struct dvmq_machine *m);

/* The processors a config runs on here (step 2's result). */
struct dvmq_config_cpus {
	uint32_t n;          /* processors: one worker each */
	uint32_t *ids;       /* their CPU ids, ascending; owned, free with dvmq_config_cpus_free */
	uint32_t wanted;     /* what the config asked for (> n: capped to this machine; only for a
	                      * gen scenario's host, which the daemon scales, as `dvmq run` does) */
};
void dvmq_config_cpus_free(struct dvmq_config_cpus *c);

/* Receives one line of a note that does not stop the config (a device missing now, a capability
 * this process lacks, a scenario's host capped to this machine). */
typedef void (*dvmq_config_note_fn)(void *ctx, const char *line);

/* Step 2: checks c against m, resolves its CPUs into *cpus (may be NULL) and has the engine
 * accept the host (processor set, pool, parameters) without starting anything. Returns 0,
 * -EINVAL (diag: "file:line: what", the first problem), or -ENOMEM. Notes go to note (may be
 * NULL). Thread-safe. */
int dvmq_config_check_machine(const struct dvmq_config *c, const struct dvmq_machine *m, struct dvmq_config_cpus *cpus,
			      dvmq_config_note_fn note, void *note_ctx, struct dvmq_diag *diag);

/* Capabilities the config's ports need to run, as bits (1 << CAP_NET_ADMIN, ...). Pure. */
uint64_t dvmq_config_capabilities(const struct dvmq_config *c);
/* "CAP_NET_RAW" for CAP_NET_RAW (13), ...; "?" for a capability no port needs. */
const char *dvmq_config_capability_name(int cap);

/* ---- the reload: what changed between two configs ---- */

enum dvmq_config_vm_change_kind { DVMQ_CONFIG_VM_ADDED, DVMQ_CONFIG_VM_REMOVED, DVMQ_CONFIG_VM_CHANGED };

/* Bits of a changed VM's fields. MAC, VLAN, port and device change the adapter itself (the
 * daemon removes and adds it); weight alone is dvmq_engine_adapter_set_weight, max-queues alone
 * dvmq_engine_adapter_set_max_queues (a TAP keeps the queues it was opened with). */
enum {
	DVMQ_CONFIG_VM_MAC = 1u << 0,
	DVMQ_CONFIG_VM_VLAN = 1u << 1,
	DVMQ_CONFIG_VM_WEIGHT = 1u << 2,
	DVMQ_CONFIG_VM_PORT = 1u << 3,
	DVMQ_CONFIG_VM_DEVICE = 1u << 4,
	DVMQ_CONFIG_VM_OFFLOAD = 1u << 5,
	DVMQ_CONFIG_VM_TRAFFIC = 1u << 6, /* a gen scenario plays other traffic to it */
	DVMQ_CONFIG_VM_MAX_QUEUES = 1u << 7,
};

/* Bits of the uplink part of a diff: any of them means reopening the uplink. */
enum {
	DVMQ_CONFIG_UPLINK_PORT = 1u << 0,
	DVMQ_CONFIG_UPLINK_DEVICE = 1u << 1,
	DVMQ_CONFIG_UPLINK_FILE = 1u << 2,      /* the capture or scenario path */
	DVMQ_CONFIG_UPLINK_SCENARIO = 1u << 3,  /* the scenario's content (same path, edited) */
	DVMQ_CONFIG_UPLINK_OPTIONS = 1u << 4,   /* fallback, xdp_mode, rx, ring, scenario_vms, qsize,
	                                         * kthread_priority */
};

/* Bits of the control part. */
enum {
	DVMQ_CONFIG_CONTROL_SOCKET = 1u << 0,
	DVMQ_CONFIG_CONTROL_METRICS = 1u << 1,
	DVMQ_CONFIG_CONTROL_LOG_LEVEL = 1u << 2,
};

struct dvmq_config_vm_change {
	enum dvmq_config_vm_change_kind kind;
	const struct dvmq_config_vm *old_vm; /* NULL when added; points into the old config */
	const struct dvmq_config_vm *new_vm; /* NULL when removed; points into the new config */
	uint32_t fields;                     /* DVMQ_CONFIG_VM_* (changed only) */
};

struct dvmq_config_diff {
	const struct dvmq_config *old_cfg, *new_cfg; /* borrowed: keep both until the diff is freed */
	size_t n_vms;
	struct dvmq_config_vm_change *vms; /* removed first (old order), then changed and added (new
	                                    * order): applying in this order frees names, MACs and
	                                    * devices before anything takes them */
	uint32_t host;     /* DVMQ_CONFIG_HOST_* that differ */
	uint32_t uplink;   /* DVMQ_CONFIG_UPLINK_* */
	uint32_t control;  /* DVMQ_CONFIG_CONTROL_* */
	size_t n_params;   /* engine parameters that differ, by their names (static strings from */
	const char **params; /* dvmq_engine_param_names()), "policy" included */
};

/* The difference from old to new: VMs matched by name. Both configs are borrowed and must
 * outlive the diff. Returns 0 or -ENOMEM. Thread-safe on immutable configs. */
int dvmq_config_diff(const struct dvmq_config *old_cfg, const struct dvmq_config *new_cfg,
		     struct dvmq_config_diff **out);
/* NULL is a no-op. */
void dvmq_config_diff_free(struct dvmq_config_diff *d);
/* Whether nothing changed. */
bool dvmq_config_diff_empty(const struct dvmq_config_diff *d);
/* The diff in words, one line per change ("vm web-2 added: 52:54:00:00:00:02 vlan 10 weight 100
 * tap vm2", "vm db changed: weight 100 -> 50", "engine: high 90% -> 85%", "uplink changed: device
 * eth0 -> eth1", "host changed: queue_pool 64 -> 32"), for the daemon's log. Returns the number
 * of lines, or -ENOMEM. */
int dvmq_config_diff_describe(const struct dvmq_config_diff *d, dvmq_config_note_fn line, void *ctx);

#endif
