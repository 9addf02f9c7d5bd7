/* The second half of loading a scenario: what single keys cannot check (the host against its
 * processor set, VMs against each other), then the groups expanded into VMs and the [cpu] loads
 * onto their processors. Invariant on success: every VM has a unicast MAC, no two share MAC+VLAN,
 * at most SCEN_MAX_VMS VMs, every [cpu] names processors of the host. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario_parse.h"

static uint64_t mac_u64(const uint8_t *mac)
{
	uint64_t m = 0;
	for (int b = 0; b < 6; b++)
		m = m << 8 | mac[b];
	return m;
}

static void mac_fmt(uint64_t m, char *out, size_t len)
{
	snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", (unsigned)(m >> 40) & 0xff, (unsigned)(m >> 32) & 0xff,
		 (unsigned)(m >> 24) & 0xff, (unsigned)(m >> 16) & 0xff, (unsigned)(m >> 8) & 0xff, (unsigned)m & 0xff);
}

static int check_host(struct scen_parse *ps)
{
	const struct dvmq_host *h = &ps->s->host;
	const char *f = ps->file;
	if (!ps->host_line)
		return scen_fail(ps, f, 1, "no [host] section: a scenario needs a host");
	if (h->n_processors == 0)
		return scen_fail(ps, f, ps->host_line, "empty host: [host] needs processors = N (>= 1)");
	if (h->numa_nodes > h->n_processors)
		return scen_fail(ps, f, ps->line_numa_nodes, "numa_nodes %u exceeds processors %u",
				 h->numa_nodes, h->n_processors);
	if (h->base_processor >= h->n_processors)
		return scen_fail(ps, f, ps->line_base,
				 "processor set outside the host: base_processor %u, host has %u processors",
				 h->base_processor, h->n_processors);
	for (uint32_t i = 0; i < h->n_excluded; i++)
		if (h->excluded[i] >= h->n_processors)
			return scen_fail(ps, f, ps->line_exclude,
					 "processor set outside the host: exclude names %u, host has %u processors",
					 h->excluded[i], h->n_processors);
	if (h->numa_node >= 0 && (uint32_t)h->numa_node >= h->numa_nodes)
		return scen_fail(ps, f, ps->line_numa_node,
				 "processor set outside the host: numa_node %d, host has %u nodes",
				 h->numa_node, h->numa_nodes);
	if (h->tick_ns > h->interval_ns)
		return scen_fail(ps, f, ps->host_line, "tick (%llu ns) longer than interval (%llu ns)",
				 (unsigned long long)h->tick_ns, (unsigned long long)h->interval_ns);
	for (size_t i = 0; i < ps->n_cpus; i++)
		for (uint32_t k = 0; k < ps->cpus[i].n_ids; k++)
			if (ps->cpus[i].ids[k] >= h->n_processors)
				return scen_fail(ps, f, ps->cpus[i].line, "[cpu] names processor %u, host has %u",
						 ps->cpus[i].ids[k], h->n_processors);
	return 0;
}

/* A group counts its MACs up from `mac`: they must stay unicast. Counting up changes the first
 * octet only by a carry out of the lower 40 bits, and the first instance is unicast (even first
 * octet), so the first carry makes it odd: multicast. The group is fine exactly when the last MAC
 * keeps the first's top octet. (Wrapping past ff:ff:ff:ff:ff:ff would need a carry out of ff:,
 * itself multicast, so this check catches it first.) */
static int check_group_macs(struct scen_parse *ps, const struct vm_draft *d)
{
	uint64_t first = mac_u64(d->vm.adapter.mac), last = first + d->count - 1;
	if (!d->has_mac || d->count < 2 || (first >> 40) == (last >> 40))
		return 0;
	char a[24], b[24];
	mac_fmt(first, a, sizeof(a));
	mac_fmt((first | 0xffffffffffull) + 1, b, sizeof(b));
	return scen_fail(ps, ps->file, d->count_line,
			 "vm %s: count %u from MAC %s runs into %s, a multicast address (a VM adapter needs "
			 "unicast MACs)", d->vm.name, d->count, a, b);
}

static uint64_t hash_addr(uint64_t mac, uint16_t vlan)
{
	uint64_t x = (mac << 12 | vlan) * 0x9E3779B97F4A7C15ull;
	return x ^ (x >> 29);
}

/* The line to blame for VM i: its group's mac line when it set one, else its section. */
static int vm_blame_line(const struct scen_parse *ps, const struct dvmq_vm *vm)
{
	for (size_t k = 0; k < ps->n_vms; k++)
		if (ps->vms[k].vm.line == vm->line && ps->vms[k].has_mac && vm->line)
			return ps->vms[k].mac_line;
	return vm->line ? vm->line : ps->trace.line;
}

/* No two VMs share MAC+VLAN: one pass over an open-addressing table of VM indices. */
static int check_duplicates(struct scen_parse *ps)
{
	const struct dvmq_scenario *s = ps->s;
	size_t cap = 16;
	while (cap < 2 * s->n_vms)
		cap *= 2;
	uint32_t *slot = calloc(cap, sizeof(*slot)); /* VM index + 1, 0 = empty */
	if (!slot)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < s->n_vms && rc == 0; i++) {
		const struct dvmq_adapter_desc *a = &s->vms[i].adapter;
		uint64_t mac = mac_u64(a->mac);
		for (size_t j = hash_addr(mac, a->vlan) & (cap - 1);; j = (j + 1) & (cap - 1)) {
			if (slot[j] == 0) {
				slot[j] = (uint32_t)i + 1;
				break;
			}
			const struct dvmq_adapter_desc *b = &s->vms[slot[j] - 1].adapter;
			if (b->vlan == a->vlan && memcmp(b->mac, a->mac, 6) == 0) {
				rc = scen_fail(ps, ps->file, vm_blame_line(ps, &s->vms[i]),
					       "duplicate MAC+VLAN: vm %s has the address of vm %s", s->vms[i].name,
					       s->vms[slot[j] - 1].name);
				break;
			}
		}
	}
	free(slot);
	return rc;
}

static int expand_vms(struct scen_parse *ps)
{
	struct dvmq_scenario *s = ps->s;
	const char *f = ps->file;
	size_t total = 0;
	for (size_t i = 0; i < ps->n_vms; i++) {
		struct vm_draft *d = &ps->vms[i];
		if (d->vm.leave_ns <= d->vm.arrive_ns)
			return scen_fail(ps, f, d->vm.line, "vm %s leaves before it arrives", d->vm.name);
		if (!d->has_load && d->vm.load.n_terms == 0)
			return scen_fail(ps, f, d->vm.line, "vm %s has no load (add load = RATE)", d->vm.name);
		int rc = check_group_macs(ps, d);
		if (rc)
			return rc;
		total += d->count;
		if (total > SCEN_MAX_VMS)
			return scen_fail(ps, f, d->count_line ? d->count_line : d->vm.line,
					 "vm %s brings the scenario to %zu VMs, more than %u", d->vm.name, total,
					 SCEN_MAX_VMS);
	}
	if (total == 0)
		return scen_fail(ps, f, ps->host_line, "no VM adapters: add a [vm NAME] section or a [trace]");
	s->vms = calloc(total, sizeof(*s->vms));
	if (!s->vms)
		return -ENOMEM;
	uint64_t rng = s->host.seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
	uint64_t auto_mac = 0x020000000001ull;
	for (size_t i = 0; i < ps->n_vms; i++) {
		struct vm_draft *d = &ps->vms[i];
		uint64_t mac = mac_u64(d->vm.adapter.mac);
		for (uint32_t k = 0; k < d->count; k++) {
			struct dvmq_vm *vm = &s->vms[s->n_vms];
			*vm = d->vm;
			/* the group's loads are shared; only the first instance owns the points */
			vm->shares_load = k > 0;
			if (d->count > 1) {
				/* names are at most DVMQ_NAME_MAX - 9 characters, so the suffix fits */
				char name[DVMQ_NAME_MAX + 16];
				snprintf(name, sizeof(name), "%s-%u", d->vm.name, k);
				memcpy(vm->name, name, sizeof(vm->name) - 1);
				vm->name[sizeof(vm->name) - 1] = '\0';
			}
			uint64_t m = d->has_mac ? mac + k : auto_mac++;
			for (int b = 5; b >= 0; b--, m >>= 8)
				vm->adapter.mac[b] = (uint8_t)m;
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			double u = (double)(rng >> 11) / 9007199254740992.0;
			vm->scale = 1.0 + d->jitter * (2.0 * u - 1.0);
			for (size_t t = 0; t < vm->load.n_terms; t++)
				vm->load.terms[t].phase_ns += d->phase_step * k;
			s->n_vms++;
		}
	}
	return 0;
}

static int place_cpu_loads(struct scen_parse *ps)
{
	struct dvmq_scenario *s = ps->s;
	s->cpu_load = calloc(s->host.n_processors, sizeof(*s->cpu_load));
	if (!s->cpu_load)
		return -ENOMEM;
	for (size_t i = 0; i < ps->n_cpus; i++) {
		struct cpu_draft *c = &ps->cpus[i];
		for (uint32_t k = 0; k < c->n_ids; k++) {
			uint32_t p = c->ids[k];
			struct dvmq_load *l = &s->cpu_load[p];
			for (size_t t = 0; t < c->load.n_terms; t++) {
				if (l->n_terms == DVMQ_LOAD_MAX_TERMS)
					return scen_fail(ps, ps->file, c->line,
							 "processor %u has more than %d load lines", p,
							 DVMQ_LOAD_MAX_TERMS);
				struct dvmq_load_term *dst = &l->terms[l->n_terms++];
				*dst = c->load.terms[t];
				if (dst->n_points) {
					dst->points = malloc(dst->n_points * sizeof(*dst->points));
					if (!dst->points) {
						dst->n_points = 0; /* the points stay the draft's */
						return -ENOMEM;
					}
					memcpy(dst->points, c->load.terms[t].points,
					       dst->n_points * sizeof(*dst->points));
				}
			}
		}
	}
	return 0;
}

int scen_build(struct scen_parse *ps)
{
	int rc = check_host(ps);
	if (rc == 0 && ps->trace.present)
		rc = scen_trace_load(ps);
	if (rc == 0)
		rc = expand_vms(ps);
	if (rc == 0)
		rc = check_duplicates(ps);
	if (rc == 0)
		rc = place_cpu_loads(ps);
	return rc;
}
