/* dvmq: the command-line front end (data plane, simulator, benchmarks). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dvmq/units.h"

static void usage(FILE *f)
{
	fputs("usage: dvmq COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  run --config FILE\n"
	      "                 the daemon: switch a host's VMs as FILE says (dvmq.conf(5)), driven by\n"
	      "                 dvmqctl; --check validates FILE and starts nothing\n"
	      "  run [SCENARIO] run a scenario on the real data plane (threads, frames, this machine's\n"
	      "                 CPUs); without one, the embedded default\n"
	      "  sim SCENARIO   run a scenario on the simulated host, report per policy\n"
	      "  bench WHAT     benchmarks: engine, sim, dataplane\n"
	      "  help           this text; 'dvmq COMMAND --help' for one command\n"
	      "  version        print the version\n",
	      f);
}

int cli_parse_duration(const char *s, uint64_t *ns)
{
	return dvmq_units_duration_ns(s, ns) ? -1 : 0;
}

void cli_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char path[4096];
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

int cli_load_scenario(const char *name, struct dvmq_scenario **out)
{
	char path[4096];
	const char *const pre[3] = { "", "", "scenarios/" }, *const suf[3] = { "", ".ini", ".ini" };
	if (strlen(name) + strlen("scenarios/.ini") >= sizeof(path)) {
		fprintf(stderr, "dvmq: %.64s...: path is longer than %zu bytes\n", name,
			sizeof(path) - 1 - strlen("scenarios/.ini"));
		return -ENAMETOOLONG;
	}
	const char *found = NULL;
	for (int i = 0; i < 3 && !found; i++) {
		snprintf(path, sizeof(path), "%s%s%s", pre[i], name, suf[i]);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			found = path;
	}
	if (!found) {
		fprintf(stderr, "dvmq: %s: no such scenario (tried %s, %s.ini, scenarios/%s.ini)\n", name,
			name, name, name);
		return -ENOENT;
	}
	struct dvmq_diag diag = { { 0 } };
	int rc = dvmq_scenario_load(found, out, &diag);
	if (rc)
		fprintf(stderr, "dvmq: %s\n", diag.msg[0] ? diag.msg : strerror(-rc));
	return rc;
}

int cli_apply_sets(const char *cmd, struct dvmq_engine_params *p, char **sets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *eq = strchr(sets[i], '=');
		if (!eq) {
			fprintf(stderr, "%s: --set wants PARAM=VALUE, got '%s'\n", cmd, sets[i]);
			return -EINVAL;
		}
		*eq = '\0';
		int rc = dvmq_engine_param_set(p, sets[i], eq + 1);
		if (rc) {
			const char *why = dvmq_engine_param_problem(p, sets[i], eq + 1);
			fprintf(stderr, "%s: --set %s=%s: %s%s%s\n", cmd, sets[i], eq + 1,
				rc == -ENOENT ? "unknown parameter" : "bad value", why && rc != -ENOENT ? ": " : "",
				why && rc != -ENOENT ? why : "");
			return rc;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		puts("dvmq " DVMQ_VERSION);
		return 0;
	}
	if (strcmp(cmd, "sim") == 0)
		return cmd_sim(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "bench") == 0)
		return cmd_bench(argc - 1, argv + 1);
	fprintf(stderr, "dvmq: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
