/* Scenario files: INI parsed by libinih, checked key by key, every error as "file:line: what".
 * A file is either loaded whole or not at all: any error frees everything and returns -EINVAL.
 * Line numbers come from our own reader, which also strips '#' comments and tracks sections
 * (inih alone gives the handler no line numbers in Debian's build). */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/units.h"
#include "scenario_parse.h"

int scen_fail(struct scen_parse *ps, const char *file, int line, const char *fmt, ...)
{
	if (ps->failed)
		return -EINVAL;
	ps->failed = true;
	int n = snprintf(ps->diag->msg, sizeof(ps->diag->msg), "%s:%d: ", file, line);
	if (n < 0 || (size_t)n >= sizeof(ps->diag->msg))
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->diag->msg + n, sizeof(ps->diag->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define FAIL(...) scen_fail(ps, ps->file, ps->line, __VA_ARGS__)

struct vm_draft *scen_vm_new(struct scen_parse *ps, const char *name, int line)
{
	if (ps->n_vms == ps->cap_vms) {
		size_t cap = ps->cap_vms ? ps->cap_vms * 2 : 16;
		struct vm_draft *v = realloc(ps->vms, cap * sizeof(*v));
		if (!v)
			return NULL;
		ps->vms = v;
		ps->cap_vms = cap;
	}
	struct vm_draft *d = &ps->vms[ps->n_vms++];
	memset(d, 0, sizeof(*d));
	snprintf(d->vm.name, sizeof(d->vm.name), "%s", name);
	d->vm.adapter.weight = 100;
	d->vm.cost_ns = 1000.0;
	d->vm.frame_bytes = 1500;
	d->vm.flows = 1;
	d->vm.leave_ns = UINT64_MAX;
	d->vm.scale = 1.0;
	d->vm.line = line;
	d->count = 1;
	return d;
}

/* "0-3,7" into [first,last] pairs checked against limit; returns count or -1. */
static int parse_id_list(const char *s, uint32_t *ids, size_t max, uint32_t limit)
{
	size_t n = 0;
	char buf[256];
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		char *dash = strchr(tok, '-');
		uint64_t a, b;
		if (dash) {
			*dash = '\0';
			if (dvmq_units_count(tok, &a) || dvmq_units_count(dash + 1, &b) || b < a)
				return -1;
		} else if (dvmq_units_count(tok, &a)) {
			return -1;
		} else {
			b = a;
		}
		for (uint64_t i = a; i <= b; i++) {
			if (i >= limit || n == max)
				return -2;
			ids[n++] = (uint32_t)i;
		}
	}
	return n == 0 ? -1 : (int)n;
}

static int add_load(struct scen_parse *ps, struct dvmq_load *l, const char *value, bool rate)
{
	if (l->n_terms == DVMQ_LOAD_MAX_TERMS)
		return FAIL("at most %d load lines per section", DVMQ_LOAD_MAX_TERMS);
	char err[256];
	int rc = dvmq_load_parse_term(value, rate, &l->terms[l->n_terms], err, sizeof(err));
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return FAIL("load: %s", err);
	l->n_terms++;
	return 0;
}

static int time_key(struct scen_parse *ps, const char *key, const char *v, uint64_t *out, bool nonzero)
{
	int rc = dvmq_units_time_ns(v, out);
	if (rc == -ERANGE)
		return FAIL("%s must not be negative: '%s'", key, v);
	if (rc)
		return FAIL("bad %s '%s' (want a time such as 100ms, 2s, 1min)", key, v);
	if (nonzero && *out == 0)
		return FAIL("%s must be greater than zero", key);
	return 0;
}

static int count_key(struct scen_parse *ps, const char *key, const char *v, uint64_t lo, uint64_t hi,
		     uint64_t *out)
{
	int rc = dvmq_units_count(v, out);
	if (rc == -ERANGE && *v == '-')
		return FAIL("%s must not be negative: '%s'", key, v);
	if (rc)
		return FAIL("bad %s '%s' (want a whole number)", key, v);
	if (*out < lo || *out > hi)
		return FAIL("%s %s is out of range %llu..%llu", key, v, (unsigned long long)lo,
			    (unsigned long long)hi);
	return 0;
}

static int frac_key(struct scen_parse *ps, const char *key, const char *v, double hi, double *out)
{
	int rc = dvmq_units_fraction(v, out);
	if (rc == -ERANGE)
		return FAIL("%s must not be negative: '%s'", key, v);
	if (rc)
		return FAIL("bad %s '%s' (want a percentage such as 20%%)", key, v);
	if (*out > hi)
		return FAIL("%s %s is over %.0f%%", key, v, hi * 100.0);
	return 0;
}

static int host_key(struct scen_parse *ps, const char *k, const char *v)
{
	struct dvmq_host *h = &ps->s->host;
	uint64_t n;
	int rc;
	if (strcmp(k, "processors") == 0) {
		ps->line_processors = ps->line;
		rc = count_key(ps, k, v, 1, DVMQ_MAX_PROCESSORS, &n);
		h->n_processors = (uint32_t)n;
	} else if (strcmp(k, "numa_nodes") == 0) {
		ps->line_numa_nodes = ps->line;
		rc = count_key(ps, k, v, 1, 64, &n);
		h->numa_nodes = (uint32_t)n;
	} else if (strcmp(k, "queue_pool") == 0) {
		ps->line_pool = ps->line;
		rc = count_key(ps, k, v, 0, DVMQ_MAX_QUEUE_POOL, &n);
		h->queue_pool = (uint32_t)n;
	} else if (strcmp(k, "base_processor") == 0) {
		ps->line_base = ps->line;
		rc = count_key(ps, k, v, 0, DVMQ_MAX_PROCESSORS, &n);
		h->base_processor = (uint32_t)n;
	} else if (strcmp(k, "max_processors") == 0) {
		ps->line_max = ps->line;
		rc = count_key(ps, k, v, 1, DVMQ_MAX_PROCESSORS, &n);
		h->max_processors = (uint32_t)n;
	} else if (strcmp(k, "numa_node") == 0) {
		ps->line_numa_node = ps->line;
		rc = count_key(ps, k, v, 0, 63, &n);
		h->numa_node = (int32_t)n;
	} else if (strcmp(k, "exclude") == 0) {
		ps->line_exclude = ps->line;
		free(h->excluded);
		h->excluded = calloc(DVMQ_MAX_PROCESSORS, sizeof(uint32_t));
		if (!h->excluded)
			return -ENOMEM;
		int c = parse_id_list(v, h->excluded, DVMQ_MAX_PROCESSORS, DVMQ_MAX_PROCESSORS);
		if (c < 0)
			return FAIL("bad exclude '%s' (want processor ids such as 0,3,8-11)", v);
		h->n_excluded = (uint32_t)c;
		rc = 0;
	} else if (strcmp(k, "interval") == 0) {
		rc = time_key(ps, k, v, &h->interval_ns, true);
	} else if (strcmp(k, "tick") == 0) {
		rc = time_key(ps, k, v, &h->tick_ns, true);
	} else if (strcmp(k, "duration") == 0) {
		ps->have_duration = true;
		rc = time_key(ps, k, v, &h->duration_ns, true);
	} else if (strcmp(k, "queue_depth") == 0) {
		rc = count_key(ps, k, v, 1, 1u << 24, &n);
		h->queue_depth = (uint32_t)n;
	} else if (strcmp(k, "move_gap") == 0) {
		rc = time_key(ps, k, v, &h->move_gap_ns, false);
	} else if (strcmp(k, "cold_penalty") == 0) {
		rc = frac_key(ps, k, v, 10.0, &h->cold_penalty);
	} else if (strcmp(k, "cold_time") == 0) {
		rc = time_key(ps, k, v, &h->cold_ns, false);
	} else if (strcmp(k, "latency_target") == 0) {
		rc = time_key(ps, k, v, &h->latency_target_ns, true);
	} else if (strcmp(k, "seed") == 0) {
		rc = count_key(ps, k, v, 0, UINT64_MAX, &h->seed);
	} else {
		return FAIL("unknown key '%s' in [host] (known: processors, numa_nodes, queue_pool, "
			    "base_processor, max_processors, numa_node, exclude, interval, tick, duration, "
			    "queue_depth, move_gap, cold_penalty, cold_time, latency_target, seed)", k);
	}
	return rc;
}

static int vm_key(struct scen_parse *ps, const char *k, const char *v)
{
	struct vm_draft *d = &ps->vms[ps->n_vms - 1];
	struct dvmq_vm *vm = &d->vm;
	uint64_t n;
	int rc = 0;
	if (strcmp(k, "mac") == 0) {
		if (dvmq_units_mac(v, vm->adapter.mac))
			return FAIL("malformed MAC '%s' (want six hex pairs such as 02:00:00:00:00:01)", v);
		if (vm->adapter.mac[0] & 1)
			return FAIL("MAC '%s' is multicast: a VM adapter needs a unicast address", v);
		d->has_mac = true;
		d->mac_line = ps->line;
	} else if (strcmp(k, "vlan") == 0) {
		rc = count_key(ps, k, v, 0, 4094, &n);
		vm->adapter.vlan = (uint16_t)n;
	} else if (strcmp(k, "weight") == 0) {
		rc = count_key(ps, k, v, 0, 100, &n);
		vm->adapter.weight = (uint32_t)n;
	} else if (strcmp(k, "cost") == 0) {
		uint64_t ns;
		rc = time_key(ps, k, v, &ns, true);
		vm->cost_ns = (double)ns;
	} else if (strcmp(k, "frame") == 0) {
		rc = dvmq_units_bytes(v, &n);
		if (rc || n < 60 || n > 65535)
			return FAIL("bad frame '%s' (want a size 60B..65535B)", v);
		vm->frame_bytes = (uint32_t)n;
	} else if (strcmp(k, "flows") == 0) {
		rc = count_key(ps, k, v, 1, 1u << 20, &n);
		vm->flows = (uint32_t)n;
	} else if (strcmp(k, "arrive") == 0) {
		rc = time_key(ps, k, v, &vm->arrive_ns, false);
	} else if (strcmp(k, "leave") == 0) {
		rc = time_key(ps, k, v, &vm->leave_ns, false);
	} else if (strcmp(k, "load") == 0) {
		rc = add_load(ps, &vm->load, v, true);
		d->has_load = true;
	} else if (strcmp(k, "count") == 0) {
		rc = count_key(ps, k, v, 1, 65536, &n);
		d->count = (uint32_t)n;
	} else if (strcmp(k, "jitter") == 0) {
		rc = frac_key(ps, k, v, 1.0, &d->jitter);
	} else if (strcmp(k, "phase_step") == 0) {
		rc = time_key(ps, k, v, &d->phase_step, false);
	} else {
		return FAIL("unknown key '%s' in [vm %s] (known: mac, vlan, weight, cost, frame, flows, "
			    "arrive, leave, load, count, jitter, phase_step)", k, vm->name);
	}
	return rc;
}

static int trace_key(struct scen_parse *ps, const char *k, const char *v)
{
	struct trace_opts *t = &ps->trace;
	int rc = 0;
	uint64_t n;
	if (strcmp(k, "file") == 0) {
		if (strlen(v) >= sizeof(t->file))
			return FAIL("trace file name too long");
		strcpy(t->file, v);
	} else if (strcmp(k, "scale") == 0 || strcmp(k, "compress") == 0) {
		char *end;
		double x = strtod(v, &end);
		if (end == v || *end != '\0' || !(x > 0.0) || x > 1e9)
			return FAIL("bad %s '%s' (want a positive number)", k, v);
		*(k[0] == 's' ? &t->scale : &t->compress) = x;
	} else if (strcmp(k, "start") == 0) {
		rc = time_key(ps, k, v, &t->start_ns, false);
	} else if (strcmp(k, "cost") == 0) {
		rc = time_key(ps, k, v, &n, true);
		t->cost_ns = (double)n;
	} else if (strcmp(k, "frame") == 0) {
		if (dvmq_units_bytes(v, &n) || n < 60 || n > 65535)
			return FAIL("bad frame '%s' (want a size 60B..65535B)", v);
		t->frame_bytes = (uint32_t)n;
	} else {
		return FAIL("unknown key '%s' in [trace] (known: file, scale, compress, start, cost, frame)",
			    k);
	}
	return rc;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct scen_parse *ps = user;
	(void)section; /* sections are tracked by the reader, which knows their lines */
	if (ps->failed)
		return 0;
	int rc;
	switch (ps->sec) {
	case SEC_HOST:
		rc = host_key(ps, name, value);
		break;
	case SEC_ENGINE:
		rc = dvmq_engine_param_set(&ps->s->params, name, value);
		if (rc == -ENOENT)
			rc = FAIL("unknown engine parameter '%s'", name);
		else if (rc)
			rc = FAIL("bad value '%s' for engine parameter '%s': %s", value, name,
				  dvmq_engine_param_problem(&ps->s->params, name, value));
		break;
	case SEC_VM:
		rc = vm_key(ps, name, value);
		break;
	case SEC_CPU:
		if (strcmp(name, "load") != 0)
			rc = FAIL("unknown key '%s' in [cpu] (known: load)", name);
		else
			rc = add_load(ps, &ps->cpus[ps->n_cpus - 1].load, value, false);
		break;
	case SEC_TRACE:
		rc = trace_key(ps, name, value);
		break;
	case SEC_NONE:
	case SEC_BAD:
	default:
		rc = FAIL("key '%s' outside a section (start with [host])", name);
		break;
	}
	if (rc == -ENOMEM)
		FAIL("out of memory");
	return rc == 0;
}

static void begin_section(struct scen_parse *ps, const char *text)
{
	char name[128];
	const char *close = strchr(text, ']');
	size_t len = close ? (size_t)(close - text) : strlen(text);
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, text, len);
	name[len] = '\0';
	char *arg = strchr(name, ' ');
	if (arg) {
		*arg++ = '\0';
		while (*arg == ' ')
			arg++;
	}
	ps->sec = SEC_BAD;
	if (strcmp(name, "host") == 0 && !arg) {
		if (ps->host_line)
			FAIL("second [host] section (the first is on line %d)", ps->host_line);
		ps->host_line = ps->line;
		ps->sec = SEC_HOST;
	} else if (strcmp(name, "engine") == 0 && !arg) {
		ps->sec = SEC_ENGINE;
	} else if (strcmp(name, "trace") == 0 && !arg) {
		if (ps->trace.present)
			FAIL("second [trace] section");
		ps->trace.present = true;
		ps->trace.line = ps->line;
		ps->sec = SEC_TRACE;
	} else if (strcmp(name, "vm") == 0) {
		if (!arg || !*arg || strlen(arg) >= DVMQ_NAME_MAX - 8 || strpbrk(arg, " ,\"")) {
			FAIL("[vm NAME] needs a name of 1..%d characters without blanks or commas",
			     DVMQ_NAME_MAX - 9);
			return;
		}
		for (size_t i = 0; i < ps->n_vms; i++)
			if (strcmp(ps->vms[i].vm.name, arg) == 0)
				FAIL("duplicate VM name '%s' (first on line %d)", arg, ps->vms[i].vm.line);
		if (!scen_vm_new(ps, arg, ps->line))
			FAIL("out of memory");
		else
			ps->sec = SEC_VM;
	} else if (strcmp(name, "cpu") == 0) {
		uint32_t ids[DVMQ_MAX_PROCESSORS];
		int c = arg ? parse_id_list(arg, ids, DVMQ_MAX_PROCESSORS, DVMQ_MAX_PROCESSORS) : -1;
		if (c < 0) {
			FAIL("[cpu LIST] needs processor ids such as [cpu 0-3]");
			return;
		}
		if (ps->n_cpus == ps->cap_cpus) {
			size_t cap = ps->cap_cpus ? ps->cap_cpus * 2 : 8;
			struct cpu_draft *cd = realloc(ps->cpus, cap * sizeof(*cd));
			if (!cd) {
				FAIL("out of memory");
				return;
			}
			ps->cpus = cd;
			ps->cap_cpus = cap;
		}
		/* a list is kept as the ids themselves, one draft per contiguous run */
		for (int i = 0; i < c; i++) {
			if (i > 0 && ids[i] == ids[i - 1] + 1 && ps->cpus[ps->n_cpus - 1].line == ps->line &&
			    ps->cpus[ps->n_cpus - 1].last == ids[i - 1]) {
				ps->cpus[ps->n_cpus - 1].last = ids[i];
				continue;
			}
			if (i > 0) {
				FAIL("[cpu LIST] takes one contiguous range per section");
				return;
			}
			struct cpu_draft *cd = &ps->cpus[ps->n_cpus++];
			memset(cd, 0, sizeof(*cd));
			cd->first = cd->last = ids[i];
			cd->line = ps->line;
		}
		ps->sec = SEC_CPU;
	} else {
		FAIL("unknown section [%s] (known: host, engine, vm NAME, cpu LIST, trace)", name);
	}
}

/* inih's reader: one line per call, numbered, '#' comments stripped, sections noted. */
static char *reader(char *str, int num, void *stream)
{
	struct scen_parse *ps = stream;
	if (!ps->pos || *ps->pos == '\0' || num < 2)
		return NULL;
	const char *nl = strchr(ps->pos, '\n');
	size_t len = nl ? (size_t)(nl - ps->pos) : strlen(ps->pos);
	ps->line++;
	if (len >= (size_t)num - 1) {
		FAIL("line longer than %d characters", num - 2);
		return NULL;
	}
	memcpy(str, ps->pos, len);
	str[len] = '\0';
	ps->pos += len + (nl ? 1 : 0);
	char *hash = strchr(str, '#');
	if (hash)
		*hash = '\0';
	char *p = str;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '[')
		begin_section(ps, p + 1);
	strcat(str, "\n");
	return str;
}

/* Checks what single keys cannot, fills defaults, and expands groups into the scenario. */
static int finish(struct scen_parse *ps)
{
	struct dvmq_scenario *s = ps->s;
	struct dvmq_host *h = &s->host;
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
		if (ps->cpus[i].last >= h->n_processors)
			return scen_fail(ps, f, ps->cpus[i].line, "[cpu] names processor %u, host has %u",
					 ps->cpus[i].last, h->n_processors);
	if (ps->trace.present) {
		int rc = scen_trace_load(ps);
		if (rc)
			return rc;
	}
	size_t total = 0;
	for (size_t i = 0; i < ps->n_vms; i++) {
		struct vm_draft *d = &ps->vms[i];
		if (d->vm.leave_ns <= d->vm.arrive_ns)
			return scen_fail(ps, f, d->vm.line, "vm %s leaves before it arrives", d->vm.name);
		if (!d->has_load && d->vm.load.n_terms == 0)
			return scen_fail(ps, f, d->vm.line, "vm %s has no load (add load = RATE)", d->vm.name);
		total += d->count;
	}
	if (total == 0)
		return scen_fail(ps, f, ps->host_line, "no VM adapters: add a [vm NAME] section or a [trace]");
	s->vms = calloc(total, sizeof(*s->vms));
	if (!s->vms)
		return -ENOMEM;
	uint64_t rng = h->seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
	uint64_t auto_mac = 0x020000000001ull;
	for (size_t i = 0; i < ps->n_vms; i++) {
		struct vm_draft *d = &ps->vms[i];
		uint64_t mac = 0;
		for (int b = 0; b < 6; b++)
			mac = mac << 8 | d->vm.adapter.mac[b];
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
	/* duplicates: O(n^2) over a few thousand VMs is a few ms, once */
	for (size_t i = 0; i < s->n_vms; i++)
		for (size_t j = 0; j < i; j++)
			if (s->vms[i].adapter.vlan == s->vms[j].adapter.vlan &&
			    memcmp(s->vms[i].adapter.mac, s->vms[j].adapter.mac, 6) == 0) {
				int line = s->vms[i].line;
				for (size_t k = 0; k < ps->n_vms; k++)
					if (ps->vms[k].vm.line == line && ps->vms[k].has_mac)
						line = ps->vms[k].mac_line;
				return scen_fail(ps, f, line, "duplicate MAC+VLAN: vm %s has the address of vm %s",
						 s->vms[i].name, s->vms[j].name);
			}
	s->cpu_load = calloc(h->n_processors, sizeof(*s->cpu_load));
	if (!s->cpu_load)
		return -ENOMEM;
	for (size_t i = 0; i < ps->n_cpus; i++) {
		struct cpu_draft *c = &ps->cpus[i];
		for (uint32_t p = c->first; p <= c->last; p++) {
			struct dvmq_load *l = &s->cpu_load[p];
			for (size_t t = 0; t < c->load.n_terms; t++) {
				if (l->n_terms == DVMQ_LOAD_MAX_TERMS)
					return scen_fail(ps, f, c->line, "processor %u has more than %d load lines",
							 p, DVMQ_LOAD_MAX_TERMS);
				struct dvmq_load_term *dst = &l->terms[l->n_terms++];
				*dst = c->load.terms[t];
				if (dst->n_points) {
					dst->points = malloc(dst->n_points * sizeof(*dst->points));
					if (!dst->points)
						return -ENOMEM;
					memcpy(dst->points, c->load.terms[t].points,
					       dst->n_points * sizeof(*dst->points));
				}
			}
		}
	}
	return 0;
}

static void free_drafts(struct scen_parse *ps, bool loads_owned_by_scenario)
{
	for (size_t i = 0; i < ps->n_vms && !loads_owned_by_scenario; i++) {
		dvmq_load_free(&ps->vms[i].vm.load);
		dvmq_load_free(&ps->vms[i].vm.cost_trace);
		dvmq_load_free(&ps->vms[i].vm.frame_trace);
	}
	for (size_t i = 0; i < ps->n_cpus; i++)
		dvmq_load_free(&ps->cpus[i].load);
	free(ps->vms);
	free(ps->cpus);
}

void dvmq_scenario_free(struct dvmq_scenario *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_vms; i++) {
		if (s->vms[i].shares_load)
			continue;
		dvmq_load_free(&s->vms[i].load);
		dvmq_load_free(&s->vms[i].cost_trace);
		dvmq_load_free(&s->vms[i].frame_trace);
	}
	if (s->cpu_load)
		for (uint32_t p = 0; p < s->host.n_processors; p++)
			dvmq_load_free(&s->cpu_load[p]);
	free(s->cpu_load);
	free(s->vms);
	free(s->host.excluded);
	free(s);
}

int dvmq_scenario_load_text(const char *name, const char *text, const char *base_dir,
			    struct dvmq_scenario **out, struct dvmq_diag *diag)
{
	struct dvmq_diag dummy;
	if (!diag)
		diag = &dummy;
	diag->msg[0] = '\0';
	struct dvmq_scenario *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	struct scen_parse ps = { .file = name, .base_dir = base_dir, .diag = diag, .pos = text, .s = s };
	snprintf(s->path, sizeof(s->path), "%s", name);
	const char *slash = strrchr(name, '/');
	snprintf(s->name, sizeof(s->name), "%s", slash ? slash + 1 : name);
	char *dot = strrchr(s->name, '.');
	if (dot && strcmp(dot, ".ini") == 0)
		*dot = '\0';
	dvmq_engine_params_default(&s->params);
	s->host = (struct dvmq_host){
		.numa_nodes = 1, .queue_pool = 64, .numa_node = -1, .interval_ns = 100000000ull,
		.tick_ns = 1000000ull, .duration_ns = 60000000000ull, .queue_depth = 4096,
		.move_gap_ns = 50000ull, .cold_penalty = 0.2, .cold_ns = 20000000ull,
		.latency_target_ns = 1000000ull, .seed = 1,
	};
	ps.trace.scale = 1.0;
	ps.trace.compress = 1.0;
	ps.trace.cost_ns = 1000.0;
	ps.trace.frame_bytes = 800;
	int rc = ini_parse_stream(reader, &ps, handler, &ps);
	if (rc > 0 && !ps.failed)
		scen_fail(&ps, name, rc, "syntax error: want KEY = VALUE, [section] or a # comment");
	else if (rc < 0 && !ps.failed)
		scen_fail(&ps, name, 0, "cannot parse (out of memory)");
	int frc = ps.failed ? -EINVAL : finish(&ps);
	if (frc == -ENOMEM && !ps.failed)
		scen_fail(&ps, name, ps.line, "out of memory");
	if (ps.failed || frc) {
		free_drafts(&ps, false);
		s->n_vms = 0; /* loads still belong to the drafts, freed above */
		dvmq_scenario_free(s);
		return frc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	free_drafts(&ps, true);
	*out = s;
	return 0;
}

int dvmq_scenario_load(const char *path, struct dvmq_scenario **out, struct dvmq_diag *diag)
{
	struct dvmq_diag dummy;
	if (!diag)
		diag = &dummy;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(diag->msg, sizeof(diag->msg), "%s: cannot open: %s", path, strerror(errno));
		return -ENOENT;
	}
	char *text = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 16384;
			if (cap > (16u << 20)) {
				fclose(f);
				free(text);
				snprintf(diag->msg, sizeof(diag->msg), "%s:1: file larger than 16 MiB", path);
				return -EINVAL;
			}
			char *t = realloc(text, cap);
			if (!t) {
				fclose(f);
				free(text);
				return -ENOMEM;
			}
			text = t;
		}
		size_t n = fread(text + len, 1, 4096, f);
		len += n;
		if (n < 4096)
			break;
	}
	fclose(f);
	text[len] = '\0';
	if (strlen(text) != len) {
		free(text);
		snprintf(diag->msg, sizeof(diag->msg), "%s:1: file contains a NUL byte (not a text file)",
			 path);
		return -EINVAL;
	}
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	int rc = dvmq_scenario_load_text(path, text, dir, out, diag);
	free(text);
	return rc;
}
