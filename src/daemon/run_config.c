/* The running configuration: the file's (r->cfg) with what dvmqctl changed since, as a config:
 * what `dvmqctl config show` writes, what `config diff` compares with the file, and what a
 * reload (SIGHUP) brings to the file's (run_reload.c). Its arrays are its own; its scenario is
 * r->cfg's, borrowed. A processor-set key keeps the file's words where they still mean what runs
 * (base_processor = 3 on CPUs 0,1,2,4 reads back as processor 3, CPU 4: not a change). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

/* The engine processor base_processor lands on for the CPUs in use (run_set_from_config's). */
static uint32_t base_index(const struct run *r, const struct dvmq_config_host *h)
{
	uint32_t base = 0;
	while (h->has_base && base < r->n_procs && (uint32_t)r->cpus[base] < h->base_processor)
		base++;
	return base == r->n_procs ? 0 : base;
}

static bool cpu_in(const uint32_t *ids, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* The processor set as dvmqctl left it, in the file's terms (CPU ids). */
static int running_host(const struct run *r, struct dvmq_config_host *h)
{
	const struct dvmq_config_host *f = &r->cfg->host;
	if (base_index(r, f) != r->set_base) {
		h->has_base = r->set_base > 0;
		h->base_processor = h->has_base ? (uint32_t)r->cpus[r->set_base] : 0;
	}
	h->max_processors = r->set_max;
	h->numa_node = r->set_numa;
	h->interval_ns = r->interval_ns;
	/* excluded: the CPUs in use the engine may not serve from; the file's list stands while it
	 * says the same of them (it may name CPUs not in use too) */
	bool same = true;
	for (uint32_t p = 0; p < r->n_procs && same; p++) {
		bool out = !r->set_allowed[p] || p > r->set_max_number;
		same = out == cpu_in(f->excluded, f->n_excluded, (uint32_t)r->cpus[p]);
	}
	h->cpus = NULL;
	h->excluded = NULL;
	if (!f->all_cpus && f->n_cpus) {
		h->cpus = malloc(f->n_cpus * sizeof(*h->cpus));
		if (!h->cpus)
			return -ENOMEM;
		memcpy(h->cpus, f->cpus, f->n_cpus * sizeof(*h->cpus));
	}
	uint32_t n = 0;
	h->excluded = calloc(same ? f->n_excluded + 1 : r->n_procs + 1, sizeof(*h->excluded));
	if (!h->excluded)
		return -ENOMEM;
	if (same) {
		memcpy(h->excluded, f->excluded, f->n_excluded * sizeof(*h->excluded));
		n = f->n_excluded;
	} else {
		for (uint32_t p = 0; p < r->n_procs; p++) /* cpus[] ascending: the list stays sorted */
			if (!r->set_allowed[p] || p > r->set_max_number)
				h->excluded[n++] = (uint32_t)r->cpus[p];
	}
	h->n_excluded = n;
	return 0;
}

int run_config_running(const struct run *r, struct dvmq_config *out)
{
	*out = *r->cfg;
	out->vms = NULL;
	int rc = running_host(r, &out->host);
	if (rc) {
		run_config_running_free(out);
		return rc;
	}
	out->params = r->params;
	out->vms = calloc(r->n_vms ? r->n_vms : 1, sizeof(*out->vms));
	if (!out->vms) {
		run_config_running_free(out);
		return -ENOMEM;
	}
	out->n_vms = 0;
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		const struct run_vm *vm = &r->vm[i];
		if (!vm->used)
			continue;
		struct dvmq_config_vm *cv = &out->vms[out->n_vms++];
		memset(cv, 0, sizeof(*cv));
		snprintf(cv->name, sizeof(cv->name), "%.*s", (int)sizeof(cv->name) - 1, vm->name);
		cv->adapter = vm->adapter;
		cv->port = vm->kind;
		snprintf(cv->device, sizeof(cv->device), "%s", vm->device);
		cv->offload = vm->offload;
		cv->scenario_vm = vm->gen_vm;
		snprintf(cv->netns, sizeof(cv->netns), "%s", vm->netns);
		/* the file's line, where it has the VM: messages keep pointing at it */
		for (size_t k = 0; k < r->cfg->n_vms; k++)
			if (strcmp(r->cfg->vms[k].name, vm->name) == 0) {
				cv->line = r->cfg->vms[k].line;
				cv->line_mac = r->cfg->vms[k].line_mac;
				cv->line_device = r->cfg->vms[k].line_device;
				cv->scenario_vm = r->cfg->vms[k].scenario_vm;
			}
	}
	return 0;
}

void run_config_running_free(struct dvmq_config *c)
{
	free(c->host.cpus);
	free(c->host.excluded);
	free(c->vms);
	c->host.cpus = c->host.excluded = NULL;
	c->vms = NULL;
}

static void running_header(const struct run *r, const char *path, char *buf, size_t len)
{
	snprintf(buf, len,
		 "The running configuration of dvmq (dvmqctl config show): %.512s with the changes made with dvmqctl\n"
		 "since it was loaded. Save it over the file to keep them: a reload (systemctl reload dvmq)\n"
		 "or a restart brings the daemon to what the file says.%s",
		 path, r->vmq ? "" : "\nVMQ is off (dvmqctl adapter set --vmq off): no key says so, a restart turns it on.");
}

int run_op_config_show(void *ctx, char **text, char *path, size_t path_len, char *msg, size_t len)
{
	struct run *r = ctx;
	struct dvmq_config c;
	int rc = run_config_running(r, &c);
	if (rc) {
		snprintf(msg, len, "out of memory");
		return rc;
	}
	const char *file = r->o->reload_path ? r->o->reload_path : r->cfg->path;
	char header[1400];
	running_header(r, file, header, sizeof(header));
	rc = dvmq_config_write(&c, header, text);
	run_config_running_free(&c);
	snprintf(path, path_len, "%s", file);
	if (rc)
		snprintf(msg, len, "out of memory");
	return rc;
}

struct diff_line {
	void (*line)(void *lctx, const char *text);
	void *lctx;
};

static void diff_line(void *ctx, const char *text)
{
	const struct diff_line *d = ctx;
	d->line(d->lctx, text);
}

int run_op_config_diff(void *ctx, void (*line)(void *lctx, const char *text), void *lctx, char *path, size_t path_len,
		       char *msg, size_t len)
{
	struct run *r = ctx;
	const char *file = r->o->reload_path;
	if (!file) {
		snprintf(msg, len, "this run plays a scenario: it has no configuration file to compare with");
		return -EOPNOTSUPP;
	}
	snprintf(path, path_len, "%s", file);
	struct dvmq_config *fc = NULL, running;
	struct dvmq_diag diag = { { 0 } };
	int rc = dvmq_config_load(file, &fc, &diag);
	if (!rc)
		rc = run_apply_overrides(r->o, fc, &diag); /* what a reload reads: --socket/--metrics too */
	if (rc) {
		snprintf(msg, len, "%s", diag.msg[0] ? diag.msg : "the file does not load");
		dvmq_config_free(fc);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	rc = run_config_running(r, &running);
	struct dvmq_config_diff *d = NULL;
	if (!rc)
		rc = dvmq_config_diff(&running, fc, &d);
	if (!rc) {
		struct diff_line dl = { line, lctx };
		int n = dvmq_config_diff_describe(d, diff_line, &dl);
		rc = n < 0 ? n : 0;
	}
	if (rc)
		snprintf(msg, len, "out of memory");
	dvmq_config_diff_free(d);
	run_config_running_free(&running); /* also after its own failure: pointers NULL then */
	dvmq_config_free(fc);
	return rc;
}
