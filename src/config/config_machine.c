/* Step 2 of a config (include/dvmq/config.h): the config against this machine. The machine is
 * probed once into a plain struct (so tests describe any machine they like); the checks read
 * only that struct and the file system (a capture's readability), open no device and need no
 * privilege. Invariant: a key the file set is held to what it says (a CPU that does not exist
 * is an error at its line); a value that came from a gen scenario's [host] is fitted to the
 * machine as `dvmq run SCENARIO` fits it (capped, with a note). */
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../scenario/scenario_parse.h" /* scen_parse_id_list: the one CPU list syntax */
#include "config_internal.h"
#include "dvmq/dp.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int cfg_parse_cpu_list(const char *s, uint32_t *ids, uint32_t *dup)
{
	int n = scen_parse_id_list(s, ids, DVMQ_MAX_PROCESSORS, DVMQ_MAX_PROCESSORS);
	if (n == -1 || n == -2)
		return n;
	/* more ids than there are CPUs: some id is there twice, and the sort below finds it */
	size_t count = n == -3 ? DVMQ_MAX_PROCESSORS : (size_t)n;
	qsort(ids, count, sizeof(*ids), cmp_u32);
	for (size_t i = 1; i < count; i++)
		if (ids[i] == ids[i - 1]) {
			*dup = ids[i];
			return -3;
		}
	return n;
}

void cfg_format_cpu_list(const uint32_t *ids, uint32_t n, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < n && off < len;) {
		uint32_t j = i;
		while (j + 1 < n && ids[j + 1] == ids[j] + 1)
			j++;
		int w = j > i ? snprintf(buf + off, len - off, "%s%u-%u", i ? "," : "", ids[i], ids[j])
			      : snprintf(buf + off, len - off, "%s%u", i ? "," : "", ids[i]);
		if (w < 0 || (size_t)w >= len - off) {
			if (len >= 4)
				snprintf(buf + len - 4, 4, "...");
			return;
		}
		off += (size_t)w;
		i = j + 1;
	}
	if (n == 0)
		snprintf(buf, len, "none");
}

uint64_t cfg_file_hash(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
	fclose(f);
	return h;
}

static bool bit(const uint64_t *map, uint32_t id)
{
	return id < DVMQ_MAX_PROCESSORS && (map[id / 64] >> (id % 64) & 1);
}

static void set_bit(uint64_t *map, uint32_t id)
{
	map[id / 64] |= 1ull << (id % 64);
}

/* Reads a kernel CPU list file ("0-3,8\n") into a bitmap. Returns the CPUs read, -1 if none. */
static int read_cpu_file(const char *path, uint64_t *map)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[4096];
	char *ok = fgets(line, sizeof(line), f);
	fclose(f);
	if (!ok)
		return -1;
	line[strcspn(line, "\n")] = '\0';
	uint32_t *ids = calloc(DVMQ_MAX_PROCESSORS, sizeof(*ids)), dup;
	int n = ids && line[0] ? cfg_parse_cpu_list(line, ids, &dup) : -1;
	for (int i = 0; i < n; i++)
		set_bit(map, ids[i]);
	free(ids);
	return n;
}

int dvmq_machine_probe(struct dvmq_machine *m)
{
	memset(m, 0, sizeof(*m));
	cpu_set_t *set = CPU_ALLOC(DVMQ_MAX_PROCESSORS);
	size_t sz = CPU_ALLOC_SIZE(DVMQ_MAX_PROCESSORS);
	if (!set)
		return -ENOMEM;
	CPU_ZERO_S(sz, set);
	if (sched_getaffinity(0, sz, set)) {
		int e = errno;
		CPU_FREE(set);
		return -e;
	}
	for (uint32_t c = 0; c < DVMQ_MAX_PROCESSORS; c++)
		if (CPU_ISSET_S(c, sz, set))
			set_bit(m->allowed, c);
	CPU_FREE(set);
	if (read_cpu_file("/sys/devices/system/cpu/online", m->online) < 0)
		memcpy(m->online, m->allowed, sizeof(m->online)); /* no sysfs: what we may use exists */
	for (uint32_t c = 0; c < DVMQ_MAX_PROCESSORS; c++)
		m->node[c] = -1;
	for (int n = 0; n < 64; n++) {
		char path[64];
		uint64_t cpus[DVMQ_MAX_PROCESSORS / 64] = { 0 };
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", n);
		if (read_cpu_file(path, cpus) < 0 && access(path, F_OK) != 0)
			continue;
		m->nodes |= 1ull << n;
		for (uint32_t c = 0; c < DVMQ_MAX_PROCESSORS; c++)
			if (bit(cpus, c))
				m->node[c] = (int16_t)n;
	}
	if (!m->nodes) { /* a kernel without NUMA: one node holds everything */
		m->nodes = 1;
		for (uint32_t c = 0; c < DVMQ_MAX_PROCESSORS; c++)
			if (bit(m->online, c))
				m->node[c] = 0;
	}
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %" SCNx64, &m->cap_effective) == 1)
			break;
	if (f)
		fclose(f);
	struct if_nameindex *ifs = if_nameindex();
	if (ifs) {
		m->netdevs_known = true;
		for (struct if_nameindex *i = ifs; i->if_index && m->n_netdevs < DVMQ_MACHINE_MAX_NETDEVS; i++)
			snprintf(m->netdevs[m->n_netdevs++], DVMQ_IFNAME_MAX, "%s", i->if_name);
		if_freenameindex(ifs);
	}
	return 0;
}

void dvmq_config_cpus_free(struct dvmq_config_cpus *c)
{
	if (!c)
		return;
	free(c->ids);
	c->ids = NULL;
	c->n = 0;
}

uint64_t dvmq_config_capabilities(const struct dvmq_config *c)
{
	uint64_t caps = 0;
	if (c->uplink.port == DVMQ_CONFIG_PORT_AFXDP)
		caps |= 1ull << CAP_BPF | 1ull << CAP_NET_ADMIN | 1ull << CAP_NET_RAW;
	if (c->uplink.port == DVMQ_CONFIG_PORT_AFPACKET)
		caps |= 1ull << CAP_NET_RAW;
	/* kernel mode: load BPF and attach it (CAP_BPF, CAP_NET_ADMIN), and CAP_PERFMON for the drop
	 * counter's tracepoint (without it the drops are estimated); what the kernel itself asks for
	 * beyond these (CAP_SYS_ADMIN for a cpumap before Linux 6.5) --check probes */
	if (c->uplink.port == DVMQ_CONFIG_PORT_KERNEL)
		caps |= 1ull << CAP_BPF | 1ull << CAP_NET_ADMIN | 1ull << CAP_PERFMON;
	for (size_t i = 0; i < c->n_vms; i++)
		if (c->vms[i].port == DVMQ_CONFIG_PORT_TAP)
			caps |= 1ull << CAP_NET_ADMIN;
		else if (c->vms[i].port == DVMQ_CONFIG_PORT_AFPACKET)
			caps |= 1ull << CAP_NET_RAW;
	if (c->control.metrics && c->control.metrics_port < 1024)
		caps |= 1ull << CAP_NET_BIND_SERVICE;
	return caps;
}

/* The state of one check: the config, the machine, and where notes and the error go. */
struct mcheck {
	const struct dvmq_config *c;
	const struct dvmq_machine *m;
	dvmq_config_note_fn note;
	void *note_ctx;
	struct dvmq_diag *diag;
	uint32_t *ids, n; /* the CPUs in use */
};

static int mfail(struct mcheck *k, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int mfail(struct mcheck *k, int line, const char *fmt, ...)
{
	int n = snprintf(k->diag->msg, sizeof(k->diag->msg), "%s:%d: ", k->c->path, line ? line : 1);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(k->diag->msg))
		vsnprintf(k->diag->msg + n, sizeof(k->diag->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void mnote(struct mcheck *k, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void mnote(struct mcheck *k, int line, const char *fmt, ...)
{
	if (!k->note)
		return;
	char buf[DVMQ_DIAG_MAX];
	int n = line ? snprintf(buf, sizeof(buf), "%s:%d: note: ", k->c->path, line)
		     : snprintf(buf, sizeof(buf), "%s: note: ", k->c->path);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(buf))
		vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	k->note(k->note_ctx, buf);
}

/* The CPUs of a bitmap, as a list for messages. */
static void map_list(const uint64_t *map, char *buf, size_t len)
{
	uint32_t *ids = malloc(DVMQ_MAX_PROCESSORS * sizeof(*ids)), n = 0;
	if (!ids) {
		snprintf(buf, len, "?");
		return;
	}
	for (uint32_t c = 0; c < DVMQ_MAX_PROCESSORS; c++)
		if (bit(map, c))
			ids[n++] = c;
	cfg_format_cpu_list(ids, n, buf, len);
	free(ids);
}

/* The CPUs in use: cpus (every allowed online CPU for `all`), the first `processors` of them. */
static int resolve_cpus(struct mcheck *k, uint32_t *wanted)
{
	const struct dvmq_config_host *h = &k->c->host;
	const struct dvmq_machine *m = k->m;
	char online[160], allowed[160];
	map_list(m->online, online, sizeof(online));
	map_list(m->allowed, allowed, sizeof(allowed));
	k->ids = calloc(DVMQ_MAX_PROCESSORS, sizeof(*k->ids));
	if (!k->ids)
		return -ENOMEM;
	k->n = 0;
	if (h->all_cpus) {
		for (uint32_t c = 0; c < DVMQ_MAX_PROCESSORS; c++)
			if (bit(m->allowed, c) && bit(m->online, c))
				k->ids[k->n++] = c;
		if (k->n == 0)
			return mfail(k, h->line_cpus, "cpus = all, but this process may run on no online CPU "
				     "(allowed: %s, online: %s)", allowed, online);
	} else {
		/* a CPU that does not exist says more than one this process may not use */
		for (uint32_t i = 0; i < h->n_cpus; i++)
			if (!bit(m->online, h->cpus[i]))
				return mfail(k, h->line_cpus, "cpus names CPU %u, which this machine does not have "
					     "(online: %s)", h->cpus[i], online);
		for (uint32_t i = 0; i < h->n_cpus; i++) {
			uint32_t c = h->cpus[i];
			if (!bit(m->allowed, c))
				return mfail(k, h->line_cpus, "cpus names CPU %u, which this process may not run on "
					     "(allowed: %s; see taskset, the cgroup's cpuset or the unit's CPUAffinity=)",
					     c, allowed);
			k->ids[k->n++] = c;
		}
	}
	*wanted = h->processors ? h->processors : k->n;
	bool from_file = h->set & (DVMQ_CONFIG_HOST_PROCESSORS | DVMQ_CONFIG_HOST_CPUS);
	uint32_t cap = k->n < DVMQ_DP_MAX_WORKERS ? k->n : DVMQ_DP_MAX_WORKERS;
	if (*wanted > k->n && (h->set & DVMQ_CONFIG_HOST_PROCESSORS))
		return mfail(k, h->line_processors, "processors %u, but this machine lets dvmq use %u CPUs (%s)",
			     h->processors, k->n, allowed);
	if (*wanted > DVMQ_DP_MAX_WORKERS && from_file)
		return mfail(k, h->line_processors ? h->line_processors : h->line_cpus,
			     "%u processors, but the data plane runs at most %u workers (set processors = %u or fewer)",
			     *wanted, DVMQ_DP_MAX_WORKERS, DVMQ_DP_MAX_WORKERS);
	if (*wanted > cap) {
		mnote(k, 0, "the scenario's host has %u processors, this machine gives %u: using %u (the generator "
		      "scales the scenario's loads by %.3f)", *wanted, cap, cap, (double)cap / (double)*wanted);
		k->n = cap;
	} else {
		k->n = *wanted;
	}
	return 0;
}

static bool in_list(const uint32_t *ids, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* The processor set over the CPUs in use; the file's keys held to existing CPUs and nodes. */
static int check_set(struct mcheck *k)
{
	const struct dvmq_config_host *h = &k->c->host;
	const struct dvmq_machine *m = k->m;
	char online[160], used[160];
	map_list(m->online, online, sizeof(online));
	cfg_format_cpu_list(k->ids, k->n, used, sizeof(used));
	bool file_exclude = h->set & DVMQ_CONFIG_HOST_EXCLUDE, file_base = h->set & DVMQ_CONFIG_HOST_BASE;
	for (uint32_t i = 0; i < h->n_excluded && file_exclude; i++)
		if (!bit(m->online, h->excluded[i]))
			return mfail(k, h->line_exclude, "exclude names CPU %u, which this machine does not have (online: %s)",
				     h->excluded[i], online);
	if (file_base && h->has_base && !bit(m->online, h->base_processor))
		return mfail(k, h->line_base, "base_processor %u is not a CPU of this machine (online: %s)",
			     h->base_processor, online);
	if (h->numa_node >= 0) {
		if (!(m->nodes >> h->numa_node & 1)) {
			char nodes[160] = "";
			size_t off = 0;
			for (int n = 0; n < 64 && off < sizeof(nodes); n++)
				if (m->nodes >> n & 1)
					off += (size_t)snprintf(nodes + off, sizeof(nodes) - off, "%s%d", off ? "," : "", n);
			return mfail(k, h->line_numa, "numa_node %d does not exist on this machine (nodes: %s)", h->numa_node,
				     nodes);
		}
		bool any = false;
		for (uint32_t i = 0; i < k->n && !any; i++)
			any = m->node[k->ids[i]] == h->numa_node;
		if (!any)
			return mfail(k, h->line_numa, "numa_node %d holds none of the CPUs in use (%s)", h->numa_node, used);
	}
	/* a scenario's base beyond the CPUs in use is dropped, as `dvmq run` does */
	bool base = h->has_base && (file_base || (k->n && k->ids[k->n - 1] >= h->base_processor));
	uint32_t left = 0;
	for (uint32_t i = 0; i < k->n; i++) {
		uint32_t c = k->ids[i];
		if ((!base || c >= h->base_processor) && !in_list(h->excluded, h->n_excluded, c) &&
		    (h->numa_node < 0 || m->node[c] == h->numa_node))
			left++;
	}
	if (left == 0)
		return mfail(k, h->line_exclude ? h->line_exclude : h->line_base ? h->line_base : h->line_numa,
			     "the processor set is empty: base_processor, exclude and numa_node leave none of the CPUs in "
			     "use (%s)", used);
	return 0;
}

/* The engine takes the host as the daemon will give it: processors 0..n-1 are the CPUs in use. */
static int check_engine(struct mcheck *k)
{
	const struct dvmq_config *c = k->c;
	const struct dvmq_config_host *h = &c->host;
	uint32_t *numa = calloc(k->n, sizeof(*numa)), *ex = calloc(k->n + 1, sizeof(*ex)), n_ex = 0, base = 0;
	int rc = -ENOMEM;
	if (!numa || !ex)
		goto out;
	for (uint32_t i = 0; i < k->n; i++) {
		numa[i] = k->m->node[k->ids[i]] < 0 ? 0 : (uint32_t)k->m->node[k->ids[i]];
		if (in_list(h->excluded, h->n_excluded, k->ids[i]))
			ex[n_ex++] = i;
	}
	/* a scenario's base beyond the CPUs in use is dropped, as `dvmq run` does */
	while (h->has_base && base < k->n && k->ids[base] < h->base_processor)
		base++;
	if (base == k->n)
		base = 0;
	struct dvmq_engine_config ec = {
		.n_processors = k->n,
		.numa_node = numa,
		.queue_pool = h->queue_pool,
		.max_adapters = c->n_vms ? (uint32_t)c->n_vms : 1,
		.set = { .base = base, .max = h->max_processors, .numa_node = h->numa_node, .excluded = ex,
			 .n_excluded = n_ex },
		.params = c->params,
	};
	struct dvmq_engine *e = NULL;
	rc = dvmq_engine_create(&ec, &e);
	dvmq_engine_destroy(e);
	const char *why = dvmq_engine_params_problem(&c->params);
	if (rc == -EINVAL)
		rc = mfail(k, h->line, "the engine refuses this host (%u processors, queue_pool %u, policy %s): %s", k->n,
			   h->queue_pool, dvmq_policy_name(c->params.policy), why ? why : "its processor set");
out:
	free(numa);
	free(ex);
	return rc;
}

static bool has_netdev(const struct dvmq_machine *m, const char *name)
{
	for (uint32_t i = 0; i < m->n_netdevs; i++)
		if (strcmp(m->netdevs[i], name) == 0)
			return true;
	return false;
}

/* Devices and privileges: what would stop the ports later, said now without touching them. */
static int check_ports(struct mcheck *k)
{
	const struct dvmq_config *c = k->c;
	const struct dvmq_config_uplink *u = &c->uplink;
	if (u->port == DVMQ_CONFIG_PORT_PCAP && access(u->path, R_OK) != 0)
		return mfail(k, u->line_file, "capture '%s' cannot be read: %s", u->path, strerror(errno));
	if (k->m->netdevs_known) {
		if (u->device[0] && !has_netdev(k->m, u->device))
			mnote(k, u->line_device, "device %s does not exist now (the uplink opens it when dvmq starts)",
			      u->device);
		for (size_t i = 0; i < c->n_vms; i++) {
			const struct dvmq_config_vm *vm = &c->vms[i];
			bool there = vm->device[0] && has_netdev(k->m, vm->device);
			if (vm->port == DVMQ_CONFIG_PORT_AFPACKET && !there)
				mnote(k, vm->line_device, "vm %s: device %s does not exist now: the VM stays detached until "
				      "it appears (a libvirt VM that is not running), then dvmq attaches it", vm->name,
				      vm->device);
			if (vm->port == DVMQ_CONFIG_PORT_TAP && there)
				mnote(k, vm->line_device, "vm %s: device %s exists already: dvmq creates its TAP devices "
				      "(a persistent TAP is attached, another device refused)", vm->name, vm->device);
		}
	}
	uint64_t need = dvmq_config_capabilities(c), lack = need & ~k->m->cap_effective;
	if (lack) {
		char list[160] = "";
		size_t off = 0;
		for (int cap = 0; cap < 64 && off < sizeof(list); cap++)
			if (lack >> cap & 1)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", dvmq_config_capability_name(cap));
		mnote(k, 0, "running this host needs %s, which this process lacks (--check needs none; the systemd "
		      "unit grants them)", list);
	}
	return 0;
}

int dvmq_config_check_machine(const struct dvmq_config *c, const struct dvmq_machine *m, struct dvmq_config_cpus *cpus,
			      dvmq_config_note_fn note, void *note_ctx, struct dvmq_diag *diag)
{
	struct dvmq_diag dummy;
	if (!diag)
		diag = &dummy;
	diag->msg[0] = '\0';
	struct mcheck k = { .c = c, .m = m, .note = note, .note_ctx = note_ctx, .diag = diag };
	uint32_t wanted = 0;
	int rc = resolve_cpus(&k, &wanted);
	if (rc == 0)
		rc = check_set(&k);
	if (rc == 0)
		rc = check_engine(&k);
	if (rc == 0)
		rc = check_ports(&k);
	if (rc == 0 && cpus) {
		cpus->n = k.n;
		cpus->ids = k.ids;
		cpus->wanted = wanted;
		k.ids = NULL;
	}
	if (rc == -ENOMEM && !diag->msg[0])
		snprintf(diag->msg, sizeof(diag->msg), "%.400s: out of memory", c->path);
	free(k.ids);
	return rc;
}
