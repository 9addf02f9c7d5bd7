/* Helpers of the config tests (config_fixture.h). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_fixture.h"

static char dir[64];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_dir(void)
{
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

const char *cfgt_dir(void)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/dvmq-config.XXXXXX");
		if (!mkdtemp(dir)) {
			dir[0] = '\0';
			return NULL;
		}
		atexit(remove_dir);
	}
	return dir;
}

const char *cfgt_write(const char *name, const char *text)
{
	static char path[256];
	if (!cfgt_dir())
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	return fclose(f) == 0 ? path : NULL;
}

int cfgt_load(const char *text, struct dvmq_config **out, struct dvmq_diag *diag)
{
	return dvmq_config_load_text("t.conf", text, cfgt_dir(), out, diag);
}

struct dvmq_machine *cfgt_machine(uint32_t n_cpus, uint32_t n_nodes)
{
	struct dvmq_machine *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	for (uint32_t c = 0; c < DVMQ_MAX_PROCESSORS; c++)
		m->node[c] = -1;
	for (uint32_t c = 0; c < n_cpus; c++) {
		m->online[c / 64] |= 1ull << (c % 64);
		m->allowed[c / 64] |= 1ull << (c % 64);
		m->node[c] = (int16_t)(c * n_nodes / n_cpus);
	}
	m->nodes = n_nodes >= 64 ? ~0ull : (1ull << n_nodes) - 1;
	m->netdevs_known = true;
	m->n_netdevs = 2;
	snprintf(m->netdevs[0], sizeof(m->netdevs[0]), "lo");
	snprintf(m->netdevs[1], sizeof(m->netdevs[1]), "eth0");
	return m;
}

const char *const cfgt_scenario = "[host]\n"
				  "processors = 4\n"
				  "queue_pool = 8\n"
				  "interval = 100ms\n"
				  "[engine]\n"
				  "high = 80%\n"
				  "[vm a]\n"
				  "mac = 02:00:00:00:00:0a\n"
				  "load = 10kpps\n"
				  "[vm b]\n"
				  "mac = 02:00:00:00:00:0b\n"
				  "vlan = 5\n"
				  "load = 10kpps\n";
