/* Scenario files: read by our INI reader (dvmq/ini.h), checked key by key, every error as
 * "file:line: what". A file is either loaded whole or not at all: any error frees everything and
 * returns -EINVAL. scenario_build.c checks what single keys cannot and expands the groups. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/ini.h"
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

/* One id of a list: digits only. Returns the position after it, or NULL. */
static const char *parse_id(const char *p, uint64_t *v)
{
	if (*p < '0' || *p > '9')
		return NULL;
	*v = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((*v = *v * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
			return NULL;
	return p;
}

int scen_parse_id_list(const char *s, uint32_t *ids, size_t max, uint32_t limit)
{
	size_t n = 0;
	const char *p = s;
	for (;;) {
		uint64_t a, b;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!(p = parse_id(p, &a)))
			return -1;
		while (*p == ' ' || *p == '\t')
			p++;
		b = a;
		if (*p == '-') {
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			if (!(p = parse_id(p, &b)) || b < a)
				return -1;
			while (*p == ' ' || *p == '\t')
				p++;
		}
		for (uint64_t i = a; i <= b; i++) {
			if (i >= limit)
				return -2;
			if (n == max)
				return -3;
			ids[n++] = (uint32_t)i;
		}
		if (*p == '\0')
			return (int)n;
		if (*p++ != ',')
			return -1;
	}
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

/* `uniform` (0) or `zipf S` with 0 < S <= 10. */
static int skew_key(struct scen_parse *ps, const char *v, double *out)
{
	if (strcmp(v, "uniform") == 0) {
		*out = 0.0;
		return 0;
	}
	char *end;
	if (strncmp(v, "zipf", 4) == 0 && (v[4] == ' ' || v[4] == '\t')) {
		double x = strtod(v + 5, &end);
		while (*end == ' ' || *end == '\t')
			end++;
		if (end != v + 5 && *end == '\0' && x > 0.0 && x <= 10.0) {
			*out = x;
			return 0;
		}
	}
	return FAIL("bad skew '%s' (want uniform, or zipf S with 0 < S <= 10, such as zipf 1.1)", v);
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
		int c = scen_parse_id_list(v, h->excluded, DVMQ_MAX_PROCESSORS, DVMQ_MAX_PROCESSORS);
		if (c == -2 || c == -3)
			return FAIL("exclude '%s' names more than %u processors", v, DVMQ_MAX_PROCESSORS);
		if (c < 0)
			return FAIL("bad exclude '%s' (want processor ids such as 0,3,8-11)", v);
		h->n_excluded = (uint32_t)c;
		rc = 0;
	} else if (strcmp(k, "interval") == 0) {
		rc = time_key(ps, k, v, &h->interval_ns, true);
	} else if (strcmp(k, "tick") == 0) {
		rc = time_key(ps, k, v, &h->tick_ns, true);
	} else if (strcmp(k, "duration") == 0) {
		/* a bare number is seconds, as --duration takes it */
		ps->have_duration = true;
		rc = dvmq_units_duration_ns(v, &h->duration_ns);
		if (rc == -ERANGE && strchr(v, '-'))
			return FAIL("duration must not be negative: '%s'", v);
		if (rc)
			return FAIL("bad duration '%s' (want a time such as 60s or 2min, or a number of seconds)", v);
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
		vm->flows_set = true;
	} else if (strcmp(k, "max_queues") == 0) {
		rc = count_key(ps, k, v, 1, DVMQ_MAX_GROUP_QUEUES, &n);
		vm->adapter.max_queues = (uint32_t)n;
	} else if (strcmp(k, "skew") == 0) {
		rc = skew_key(ps, v, &vm->zipf_s);
	} else if (strcmp(k, "elephant") == 0) {
		rc = frac_key(ps, k, v, 1.0, &vm->elephant);
	} else if (strcmp(k, "arrive") == 0) {
		rc = time_key(ps, k, v, &vm->arrive_ns, false);
	} else if (strcmp(k, "leave") == 0) {
		rc = time_key(ps, k, v, &vm->leave_ns, false);
	} else if (strcmp(k, "load") == 0) {
		rc = add_load(ps, &vm->load, v, true);
		d->has_load = true;
	} else if (strcmp(k, "count") == 0) {
		rc = count_key(ps, k, v, 1, SCEN_MAX_VMS, &n);
		d->count = (uint32_t)n;
		d->count_line = ps->line;
	} else if (strcmp(k, "jitter") == 0) {
		rc = frac_key(ps, k, v, 1.0, &d->jitter);
	} else if (strcmp(k, "phase_step") == 0) {
		rc = time_key(ps, k, v, &d->phase_step, false);
	} else {
		return FAIL("unknown key '%s' in [vm %s] (known: mac, vlan, weight, cost, frame, flows, "
			    "max_queues, skew, elephant, arrive, leave, load, count, jitter, phase_step)", k, vm->name);
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
		t->file_line = ps->line;
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
	} else if (strcmp(k, "weight") == 0) {
		rc = count_key(ps, k, v, 0, 100, &n);
		t->weight = (uint32_t)n;
	} else if (strcmp(k, "vlan") == 0) {
		rc = count_key(ps, k, v, 0, 4094, &n);
		t->vlan = (uint16_t)n;
	} else {
		return FAIL("unknown key '%s' in [trace] (known: file, scale, compress, start, cost, frame, "
			    "weight, vlan)", k);
	}
	return rc;
}

static int key(struct scen_parse *ps, const char *name, const char *value)
{
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
	return rc;
}

static int cpu_section(struct scen_parse *ps, const char *arg)
{
	uint32_t *ids = calloc(DVMQ_MAX_PROCESSORS, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	int c = arg ? scen_parse_id_list(arg, ids, DVMQ_MAX_PROCESSORS, DVMQ_MAX_PROCESSORS) : -1;
	if (c == -2 || c == -3) {
		free(ids);
		return FAIL("[cpu %s] names processors beyond %u", arg, DVMQ_MAX_PROCESSORS - 1);
	}
	if (c < 0) {
		free(ids);
		return FAIL("[cpu LIST] needs processor ids such as [cpu 3], [cpu 0-7] or [cpu 1-2,5]");
	}
	/* a processor listed twice would get the section's load twice */
	for (int i = 0; i < c; i++)
		for (int k = 0; k < i; k++)
			if (ids[k] == ids[i]) {
				uint32_t twice = ids[i];
				free(ids);
				return FAIL("[cpu %s] lists processor %u twice", arg, twice);
			}
	if (ps->n_cpus == ps->cap_cpus) {
		size_t cap = ps->cap_cpus ? ps->cap_cpus * 2 : 8;
		struct cpu_draft *cd = realloc(ps->cpus, cap * sizeof(*cd));
		if (!cd) {
			free(ids);
			return -ENOMEM;
		}
		ps->cpus = cd;
		ps->cap_cpus = cap;
	}
	struct cpu_draft *cd = &ps->cpus[ps->n_cpus++];
	memset(cd, 0, sizeof(*cd));
	cd->ids = ids;
	cd->n_ids = (uint32_t)c;
	cd->line = ps->line;
	ps->sec = SEC_CPU;
	return 0;
}

static int begin_section(struct scen_parse *ps, const char *name, const char *arg)
{
	ps->sec = SEC_BAD;
	if (strcmp(name, "host") == 0 && !arg) {
		if (ps->host_line)
			return FAIL("second [host] section (the first is on line %d)", ps->host_line);
		ps->host_line = ps->line;
		ps->sec = SEC_HOST;
	} else if (strcmp(name, "engine") == 0 && !arg) {
		ps->sec = SEC_ENGINE;
	} else if (strcmp(name, "trace") == 0 && !arg) {
		if (ps->trace.present)
			return FAIL("second [trace] section (the first is on line %d)", ps->trace.line);
		ps->trace.present = true;
		ps->trace.line = ps->line;
		ps->sec = SEC_TRACE;
	} else if (strcmp(name, "vm") == 0) {
		if (!arg || strlen(arg) >= DVMQ_NAME_MAX - 8 || strpbrk(arg, " \t,\""))
			return FAIL("[vm NAME] needs a name of 1..%d characters without blanks or commas",
				    DVMQ_NAME_MAX - 9);
		for (size_t i = 0; i < ps->n_vms; i++)
			if (strcmp(ps->vms[i].vm.name, arg) == 0)
				return FAIL("duplicate VM name '%s' (first on line %d)", arg, ps->vms[i].vm.line);
		if (!scen_vm_new(ps, arg, ps->line))
			return -ENOMEM;
		ps->sec = SEC_VM;
	} else if (strcmp(name, "cpu") == 0) {
		return cpu_section(ps, arg);
	} else {
		return FAIL("unknown section [%s%s%s] (known: host, engine, vm NAME, cpu LIST, trace)", name,
			    arg ? " " : "", arg ? arg : "");
	}
	return 0;
}

/* Reads every item; stops at the first error (already recorded in ps->diag). */
static int parse(struct scen_parse *ps, struct dvmq_ini *r)
{
	struct dvmq_ini_item it;
	int rc;
	while ((rc = dvmq_ini_next(r, &it)) == 1) {
		ps->line = it.line;
		rc = it.kind == DVMQ_INI_SECTION ? begin_section(ps, it.name, it.arg)
						  : key(ps, it.key, it.value);
		if (rc == -ENOMEM)
			return FAIL("out of memory");
		if (rc)
			return rc;
	}
	if (rc < 0)
		return scen_fail(ps, ps->file, it.line, "%s", dvmq_ini_error(r));
	return 0;
}

static void free_drafts(struct scen_parse *ps, bool loads_owned_by_scenario)
{
	for (size_t i = 0; i < ps->n_vms && !loads_owned_by_scenario; i++) {
		dvmq_load_free(&ps->vms[i].vm.load);
		dvmq_load_free(&ps->vms[i].vm.cost_trace);
		dvmq_load_free(&ps->vms[i].vm.frame_trace);
	}
	for (size_t i = 0; i < ps->n_cpus; i++) {
		dvmq_load_free(&ps->cpus[i].load);
		free(ps->cpus[i].ids);
	}
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

/* Parses what reader r yields; name is the file in messages. Consumes nothing of r's. */
static int load_ini(const char *name, struct dvmq_ini *r, const char *base_dir, struct dvmq_scenario **out,
		    struct dvmq_diag *diag)
{
	struct dvmq_scenario *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	struct scen_parse ps = { .file = name, .base_dir = base_dir, .diag = diag, .s = s };
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
	ps.trace.weight = 100;
	int rc = parse(&ps, r);
	if (rc == 0)
		rc = scen_build(&ps);
	if (rc == -ENOMEM && !ps.failed)
		scen_fail(&ps, name, ps.line, "out of memory");
	if (ps.failed || rc) {
		free_drafts(&ps, false);
		s->n_vms = 0; /* loads still belong to the drafts, freed above */
		dvmq_scenario_free(s);
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	free_drafts(&ps, true);
	*out = s;
	return 0;
}

int dvmq_scenario_load_text(const char *name, const char *text, const char *base_dir,
			    struct dvmq_scenario **out, struct dvmq_diag *diag)
{
	struct dvmq_diag dummy;
	if (!diag)
		diag = &dummy;
	diag->msg[0] = '\0';
	struct dvmq_ini *r;
	int rc = dvmq_ini_create(text, &r);
	if (rc)
		return rc;
	rc = load_ini(name, r, base_dir, out, diag);
	dvmq_ini_destroy(r);
	return rc;
}

int dvmq_scenario_load(const char *path, struct dvmq_scenario **out, struct dvmq_diag *diag)
{
	struct dvmq_diag dummy;
	if (!diag)
		diag = &dummy;
	diag->msg[0] = '\0';
	struct dvmq_ini *r;
	char dir[4096]; /* a [trace] file is named relative to the scenario's directory */
	int rc = dvmq_ini_open(path, &r, dir, sizeof(dir), diag->msg, sizeof(diag->msg));
	if (rc)
		return rc;
	rc = load_ini(path, r, dir, out, diag);
	dvmq_ini_destroy(r);
	return rc;
}
