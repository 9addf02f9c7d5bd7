/* Recorded load traces: CSV with a header naming time_s, vm, pps (any order) and optionally
 * frame_bytes and cost_ns. Each row sets a VM's rate from its time until that VM's next row.
 * Times are trace seconds; [trace] start and compress map them onto simulated time.
 * Errors name the CSV's own file:line. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scenario_parse.h"

enum { COL_TIME, COL_VM, COL_PPS, COL_FRAME, COL_COST, N_COLS };

struct series {
	struct dvmq_load_point *pps, *frame, *cost;
	size_t n, cap;
};

struct name_map {
	uint32_t *slot; /* draft index + 1, 0 = empty */
	size_t cap;
};

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static uint32_t *map_find(struct name_map *m, struct scen_parse *ps, const char *name)
{
	for (size_t i = hash_name(name) & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
		if (m->slot[i] == 0 || strcmp(ps->vms[m->slot[i] - 1].vm.name, name) == 0)
			return &m->slot[i];
}

static int grow_map(struct name_map *m, struct scen_parse *ps, size_t need)
{
	if (need * 2 < m->cap)
		return 0;
	size_t cap = m->cap ? m->cap * 2 : 1024;
	while (need * 2 >= cap)
		cap *= 2;
	struct name_map n = { calloc(cap, sizeof(uint32_t)), cap };
	if (!n.slot)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slot[i])
			*map_find(&n, ps, ps->vms[m->slot[i] - 1].vm.name) = m->slot[i];
	free(m->slot);
	*m = n;
	return 0;
}

static int push(struct series *s, uint64_t t, double pps, double frame, double cost, bool held_equal)
{
	if (held_equal && s->n > 0 && s->pps[s->n - 1].t_ns == t) {
		s->pps[s->n - 1].v = pps; /* rows mapped onto the same instant: the last one wins */
		s->frame[s->n - 1].v = frame;
		s->cost[s->n - 1].v = cost;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct dvmq_load_point *a = realloc(s->pps, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		s->pps = a;
		a = realloc(s->frame, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		s->frame = a;
		a = realloc(s->cost, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		s->cost = a;
		s->cap = cap;
	}
	s->pps[s->n] = (struct dvmq_load_point){ t, pps };
	s->frame[s->n] = (struct dvmq_load_point){ t, frame };
	s->cost[s->n] = (struct dvmq_load_point){ t, cost };
	s->n++;
	return 0;
}

static int attach(struct dvmq_load *l, struct dvmq_load_point *pts, size_t n)
{
	if (l->n_terms == DVMQ_LOAD_MAX_TERMS)
		return -E2BIG;
	struct dvmq_load_term *t = &l->terms[l->n_terms++];
	memset(t, 0, sizeof(*t));
	t->kind = DVMQ_LOAD_TRACE;
	t->points = pts;
	t->n_points = n;
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Splits a CSV line at every comma, keeping empty fields; fields are trimmed. Returns the
 * number of fields (all of them, even beyond max; only the first max are stored). */
static int split_fields(char *t, char **fields, int max)
{
	int nf = 0;
	for (;;) {
		char *comma = strchr(t, ',');
		if (comma)
			*comma = '\0';
		if (nf < max)
			fields[nf] = trim(t);
		nf++;
		if (!comma)
			return nf;
		t = comma + 1;
	}
}

static const char *const col_names[N_COLS] = { "time_s", "vm", "pps", "frame_bytes", "cost_ns" };

static int parse_num(const char *s, double *v)
{
	char *end;
	*v = strtod(s, &end);
	return end != s && *end == '\0' && isfinite(*v) ? 0 : -EINVAL;
}

int scen_trace_load(struct scen_parse *ps)
{
	struct trace_opts *to = &ps->trace;
	if (!to->file[0])
		return scen_fail(ps, ps->file, to->line, "[trace] needs file = PATH.csv");
	char path[1100];
	if (to->file[0] == '/' || !ps->base_dir)
		snprintf(path, sizeof(path), "%s", to->file);
	else
		snprintf(path, sizeof(path), "%s/%s", ps->base_dir, to->file);
	FILE *f = fopen(path, "r");
	if (!f)
		return scen_fail(ps, ps->file, to->file_line, "cannot open trace %s: %s", path, strerror(errno));
	/* a directory opens but reads EISDIR; a device or a FIFO (/dev/zero, /dev/stdin) may never
	 * end a line or never return: a trace is a regular file, said at the scenario's line */
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
		fclose(f);
		return scen_fail(ps, ps->file, to->file_line, "trace file '%s' is %s", path,
				 S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
	}

	int rc = 0, line = 0, col[N_COLS];
	struct name_map map = { 0 };
	struct series *ser = NULL;
	size_t n_ser = 0;
	int n_header = 0;
	char *buf = NULL;
	size_t buf_cap = 0;
	for (int i = 0; i < N_COLS; i++)
		col[i] = -1;
	rc = grow_map(&map, ps, ps->n_vms + 1);
	for (size_t i = 0; i < ps->n_vms && rc == 0; i++)
		*map_find(&map, ps, ps->vms[i].vm.name) = (uint32_t)i + 1;
	while (rc == 0 && getline(&buf, &buf_cap, f) >= 0) {
		line++;
		char *fields[N_COLS + 1];
		char *t = trim(buf);
		if (*t == '\0' || *t == '#')
			continue;
		int nf = split_fields(t, fields, N_COLS + 1);
		if (col[COL_TIME] < 0) { /* header */
			if (nf > N_COLS) {
				rc = scen_fail(ps, path, line, "header has %d columns, at most %d (time_s, vm, pps, "
					       "frame_bytes, cost_ns)", nf, N_COLS);
				break;
			}
			for (int i = 0; i < nf && rc == 0; i++) {
				int k = 0;
				while (k < N_COLS && strcmp(fields[i], col_names[k]) != 0)
					k++;
				if (!*fields[i])
					rc = scen_fail(ps, path, line, "header column %d is empty", i + 1);
				else if (k == N_COLS)
					rc = scen_fail(ps, path, line, "unknown column '%s' (known: time_s, vm, "
						       "pps, frame_bytes, cost_ns)", fields[i]);
				else if (col[k] >= 0)
					rc = scen_fail(ps, path, line, "column '%s' named twice", fields[i]);
				else
					col[k] = i;
			}
			if (rc == 0 && (col[COL_TIME] < 0 || col[COL_VM] < 0 || col[COL_PPS] < 0))
				rc = scen_fail(ps, path, line, "header must name time_s, vm and pps");
			n_header = nf;
			continue;
		}
		if (nf != n_header) {
			rc = scen_fail(ps, path, line, "row has %d fields, the header %d", nf, n_header);
			break;
		}
		for (int k = 0; k < N_COLS && rc == 0; k++)
			if (col[k] >= 0 && !*fields[col[k]])
				rc = scen_fail(ps, path, line, "empty %s field", col_names[k]);
		if (rc)
			break;
		double ts = 0, pps = 0, frame = to->frame_bytes, cost = to->cost_ns;
		const char *vm = fields[col[COL_VM]];
		if (parse_num(fields[col[COL_TIME]], &ts) || ts < 0)
			rc = scen_fail(ps, path, line, "bad time_s '%s'", fields[col[COL_TIME]]);
		else if (parse_num(fields[col[COL_PPS]], &pps))
			rc = scen_fail(ps, path, line, "bad pps '%s'", fields[col[COL_PPS]]);
		else if (pps < 0)
			rc = scen_fail(ps, path, line, "negative rate %s pps", fields[col[COL_PPS]]);
		else if (col[COL_FRAME] >= 0 && (parse_num(fields[col[COL_FRAME]], &frame) ||
						 frame < 60 || frame > 65535))
			rc = scen_fail(ps, path, line, "bad frame_bytes '%s' (60..65535)",
				       fields[col[COL_FRAME]]);
		else if (col[COL_COST] >= 0 && (parse_num(fields[col[COL_COST]], &cost) || cost <= 0))
			rc = scen_fail(ps, path, line, "bad cost_ns '%s' (> 0)", fields[col[COL_COST]]);
		else if (!*vm || strlen(vm) >= DVMQ_NAME_MAX - 8)
			rc = scen_fail(ps, path, line, "bad vm name '%s'", vm);
		if (rc)
			break;
		rc = grow_map(&map, ps, ps->n_vms + 1);
		if (rc)
			break;
		uint32_t *slot = map_find(&map, ps, vm);
		if (*slot == 0) {
			if (ps->n_vms >= SCEN_MAX_VMS) {
				rc = scen_fail(ps, path, line, "vm %s: more than %u VMs", vm, SCEN_MAX_VMS);
				break;
			}
			struct vm_draft *d = scen_vm_new(ps, vm, 0);
			if (!d) {
				rc = -ENOMEM;
				break;
			}
			d->vm.cost_ns = to->cost_ns;
			d->vm.frame_bytes = to->frame_bytes;
			d->vm.adapter.weight = to->weight;
			d->vm.adapter.vlan = to->vlan;
			*slot = (uint32_t)ps->n_vms;
		}
		size_t vi = *slot - 1;
		if (vi >= n_ser) {
			size_t n = ps->n_vms + 64;
			struct series *ns = realloc(ser, n * sizeof(*ns));
			if (!ns) {
				rc = -ENOMEM;
				break;
			}
			memset(ns + n_ser, 0, (n - n_ser) * sizeof(*ns));
			ser = ns;
			n_ser = n;
		}
		double tsim = (ts * 1e9 - (double)to->start_ns) / to->compress;
		uint64_t tns = tsim > 0 ? (uint64_t)llround(tsim) : 0;
		struct series *s = &ser[vi];
		if (s->n > 0 && tns < s->pps[s->n - 1].t_ns) {
			rc = scen_fail(ps, path, line, "time_s goes backwards for vm %s", vm);
			break;
		}
		rc = push(s, tns, pps * to->scale, frame, cost, true);
		if (!ps->have_duration && tns > ps->s->host.duration_ns)
			ps->s->host.duration_ns = tns;
	}
	free(buf);
	if (rc == 0 && ferror(f))
		rc = scen_fail(ps, path, line, "read error");
	if (rc == 0 && col[COL_TIME] < 0)
		rc = scen_fail(ps, path, line > 0 ? line : 1, "empty trace: no header");
	fclose(f);
	free(map.slot);
	for (size_t i = 0; i < n_ser; i++) {
		struct series *s = &ser[i];
		if (rc == 0 && s->n > 0) {
			struct dvmq_vm *vm = &ps->vms[i].vm;
			ps->vms[i].has_load = true;
			if (attach(&vm->load, s->pps, s->n) != 0) {
				rc = scen_fail(ps, ps->file, vm->line, "vm %s has too many load lines", vm->name);
			} else {
				s->pps = NULL;
				if (col[COL_FRAME] >= 0 && attach(&vm->frame_trace, s->frame, s->n) == 0)
					s->frame = NULL;
				if (col[COL_COST] >= 0 && attach(&vm->cost_trace, s->cost, s->n) == 0)
					s->cost = NULL;
			}
		}
		free(s->pps);
		free(s->frame);
		free(s->cost);
	}
	free(ser);
	if (rc == -ENOMEM)
		return scen_fail(ps, path, line, "out of memory");
	return rc;
}
