/* dvmq-nettime: what the kernel's receive path cost in CPU time while it ran, exactly, for
 * `dvmq bench kernel` (scripts/bench-kernel.sh). Root.
 *
 * Measures from start until SIGINT/SIGTERM (or --duration), then prints one JSON object:
 *  - softirq_ns: time in the network softirqs (NET_RX, NET_TX) outside the cpumap kthreads, per
 *    CPU and in all, read from the clock at the softirq tracepoints (bench/nettime.bpf.c);
 *  - softirq_in_kthreads_ns: the same inside cpumap kthreads (already in their run time);
 *  - kthreads: each cpumap kthread's run time, run-queue wait and times it ran
 *    (/proc/PID/schedstat: exact; the caller knows the frames, and so the frames per run), and
 *    their sum kthread_run_ns (--map: one cpumap's only; --no-kthreads: none, for a path that has
 *    no cpumap of its own on a machine where other programs may run one);
 *  - net_ns = softirq_ns + kthread_run_ns: the receive path's CPU time, each nanosecond once;
 *  - the machine while it ran: procs_running sampled every 100 ms (mean, max), steal time.
 * Why not /proc/stat: this kernel samples softirq time at the tick (no IRQ_TIME_ACCOUNTING),
 * and counts the softirqs run inside a cpumap kthread twice (there and in the kthread's time).
 * What it leaves out: hard interrupt time (the IPIs of RPS and of the kthreads' wake-ups),
 * and the cost a wake-up adds to the task it preempts. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern const unsigned char dvmq_nettime_bpf_obj[];
extern const unsigned long dvmq_nettime_bpf_obj_len;

/* the BPF side's per-CPU value (bench/nettime.bpf.c) */
struct nt_cpu {
	uint64_t start;
	uint32_t inside, pad;
	uint64_t ns[2];
	uint64_t count[2];
};

#define MAX_KTHREADS 256

struct kthread {
	int pid;
	char name[32];
	uint64_t run0, wait0, slices0; /* at start (0: created since) */
	uint64_t run, wait, slices;    /* at stop */
	bool at_start, at_stop;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: dvmq-nettime [--map ID | --no-kthreads] [--duration S]\n"
		   "Measures the kernel's network receive CPU time from start until SIGINT/SIGTERM (or S\n"
		   "seconds), then prints one JSON object: softirq_ns (NET_RX+NET_TX outside cpumap\n"
		   "kthreads, exact, per CPU and total), softirq_in_kthreads_ns, each cpumap kthread's run\n"
		   "time, wait and runs (schedstat), net_ns = softirq_ns + kthread_run_ns, and the machine's\n"
		   "procs_running (mean, max) and steal time meanwhile. Prints 'ready' on stderr once it\n"
		   "measures. Root (BPF tracing).\n"
		   "  --map ID      only the cpumap kthreads of cpumap ID (cpumap/N/map:ID); default all\n"
		   "  --no-kthreads no cpumap kthread's time (a path without a cpumap of its own)\n"
		   "  --duration S  stop after S seconds (decimal)\n");
}

/* /proc/stat: procs_running and the steal column of the "cpu" line (USER_HZ ticks) */
static void read_stat(long *running, uint64_t *steal)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[512];
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[8];
		if (strncmp(line, "cpu ", 4) == 0 &&
		    sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6], &v[7]) == 8)
			*steal = v[7];
		else if (strncmp(line, "procs_running ", 14) == 0)
			*running = strtol(line + 14, NULL, 10);
	}
	fclose(f);
}

/* each cpumap kthread (of map_id, or any when 0) now: at_start or at_stop set with its schedstat */
static int scan_kthreads(struct kthread *k, int n, unsigned map_id, bool at_start)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	if (!d)
		return n;
	while ((e = readdir(d)) != NULL) {
		char path[64], comm[32] = "";
		int pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		bool ok = fgets(comm, sizeof(comm), f) != NULL;
		fclose(f);
		comm[strcspn(comm, "\n")] = 0;
		unsigned cpu, id;
		if (!ok || sscanf(comm, "cpumap/%u/map:%u", &cpu, &id) != 2 || (map_id && id != map_id))
			continue;
		unsigned long long run = 0, wait = 0, slices = 0;
		snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		ok = fscanf(f, "%llu %llu %llu", &run, &wait, &slices) == 3;
		fclose(f);
		if (!ok)
			continue;
		int i;
		for (i = 0; i < n && k[i].pid != pid; i++)
			;
		if (i == n) {
			if (n == MAX_KTHREADS)
				continue;
			memset(&k[n], 0, sizeof(k[n]));
			k[n].pid = pid;
			snprintf(k[n].name, sizeof(k[n].name), "%s", comm);
			n++;
		}
		if (at_start) {
			k[i].at_start = true;
			k[i].run0 = run, k[i].wait0 = wait, k[i].slices0 = slices;
		} else {
			k[i].at_stop = true;
			k[i].run = run, k[i].wait = wait, k[i].slices = slices;
		}
	}
	closedir(d);
	return n;
}

static int read_cpus(int fd, struct nt_cpu *v)
{
	uint32_t zero = 0;
	return bpf_map_lookup_elem(fd, &zero, v);
}

int main(int argc, char **argv)
{
	unsigned map_id = 0;
	bool kthreads = true;
	double duration = 0;
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--map") == 0 && i + 1 < argc) {
			unsigned long v = strtoul(argv[++i], &end, 10);
			if (!*argv[i] || *end || v == 0 || v > UINT32_MAX) {
				fprintf(stderr, "dvmq-nettime: --map takes a map id (a positive whole number), not '%s'\n", argv[i]);
				return 2;
			}
			map_id = (unsigned)v;
		} else if (strcmp(argv[i], "--no-kthreads") == 0) {
			kthreads = false;
		} else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
			duration = strtod(argv[++i], &end);
			if (!*argv[i] || *end || !(duration > 0 && duration < 1e6)) {
				fprintf(stderr, "dvmq-nettime: --duration takes seconds > 0, not '%s'\n", argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "dvmq-nettime: unknown or incomplete argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		fprintf(stderr, "dvmq-nettime: cannot count the possible CPUs: %s\n", strerror(-ncpu));
		return 1;
	}
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "dvmq_nettime");
	struct bpf_object *obj = bpf_object__open_mem(dvmq_nettime_bpf_obj, dvmq_nettime_bpf_obj_len, &oo);
	if (!obj) {
		fprintf(stderr, "dvmq-nettime: cannot open its BPF object: %s\n", strerror(errno));
		return 1;
	}
	int err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "dvmq-nettime: cannot load its BPF programs (root, and a kernel with BTF and tp_btf?): %s\n",
			strerror(-err));
		bpf_object__close(obj);
		return 1;
	}
	struct bpf_link *links[2] = { NULL, NULL };
	const char *progs[2] = { "nt_entry", "nt_exit" };
	for (int i = 0; i < 2; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, progs[i]);
		links[i] = p ? bpf_program__attach(p) : NULL;
		if (!links[i]) {
			fprintf(stderr, "dvmq-nettime: cannot attach %s to the softirq tracepoint: %s\n", progs[i],
				strerror(errno));
			for (int j = 0; j < i; j++)
				bpf_link__destroy(links[j]);
			bpf_object__close(obj);
			return 1;
		}
	}
	int fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "nt_cpus"));
	struct nt_cpu *v0 = calloc((size_t)ncpu, sizeof(*v0)), *v1 = calloc((size_t)ncpu, sizeof(*v1));
	struct kthread *k = calloc(MAX_KTHREADS, sizeof(*k));
	if (!v0 || !v1 || !k || read_cpus(fd, v0) != 0) {
		fprintf(stderr, "dvmq-nettime: cannot read its map or allocate: %s\n", strerror(errno));
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	long running = 0;
	uint64_t steal0 = 0, steal1 = 0;
	read_stat(&running, &steal0);
	int nk = kthreads ? scan_kthreads(k, 0, map_id, true) : 0;
	uint64_t t0 = now_ns();
	fprintf(stderr, "ready\n");
	double run_sum = 0;
	long run_max = 0, samples = 0;
	while (!stop && !(duration > 0 && (double)(now_ns() - t0) / 1e9 >= duration)) {
		poll(NULL, 0, 100);
		running = 0;
		read_stat(&running, &steal1);
		run_sum += (double)running;
		if (running > run_max)
			run_max = running;
		samples++;
	}
	uint64_t t1 = now_ns();
	if (kthreads)
		nk = scan_kthreads(k, nk, map_id, false);
	read_stat(&running, &steal1);
	if (read_cpus(fd, v1) != 0) {
		fprintf(stderr, "dvmq-nettime: cannot read its map: %s\n", strerror(errno));
		return 1;
	}

	uint64_t out = 0, in = 0, nout = 0, nin = 0, krun = 0;
	for (int c = 0; c < ncpu; c++) {
		out += v1[c].ns[0] - v0[c].ns[0], in += v1[c].ns[1] - v0[c].ns[1];
		nout += v1[c].count[0] - v0[c].count[0], nin += v1[c].count[1] - v0[c].count[1];
	}
	printf("{\"seconds\": %.3f, \"softirq_ns\": %" PRIu64 ", \"softirq_runs\": %" PRIu64
	       ", \"softirq_in_kthreads_ns\": %" PRIu64 ", \"softirq_in_kthreads_runs\": %" PRIu64 ", \"softirq_ns_by_cpu\": [",
	       (double)(t1 - t0) / 1e9, out, nout, in, nin);
	for (int c = 0; c < ncpu; c++)
		printf("%s%" PRIu64, c ? ", " : "", v1[c].ns[0] - v0[c].ns[0]);
	printf("], \"kthreads\": [");
	int first = 1;
	for (int i = 0; i < nk; i++) {
		if (!k[i].at_stop)
			continue; /* gone before the end: its time is lost with it */
		uint64_t run = k[i].run - k[i].run0, wait = k[i].wait - k[i].wait0, sl = k[i].slices - k[i].slices0;
		krun += run;
		printf("%s{\"name\": \"%s\", \"run_ns\": %" PRIu64 ", \"wait_ns\": %" PRIu64 ", \"runs\": %" PRIu64 "}",
		       first ? "" : ", ", k[i].name, run, wait, sl);
		first = 0;
	}
	long hz = sysconf(_SC_CLK_TCK);
	printf("], \"kthread_run_ns\": %" PRIu64 ", \"net_ns\": %" PRIu64
	       ", \"procs_running_mean\": %.2f, \"procs_running_max\": %ld, \"steal_ms\": %.0f}\n",
	       krun, out + krun, samples ? run_sum / (double)samples : 0.0, run_max,
	       hz > 0 ? (double)(steal1 - steal0) * 1000.0 / (double)hz : 0.0);
	bpf_link__destroy(links[0]);
	bpf_link__destroy(links[1]);
	bpf_object__close(obj);
	free(v0), free(v1), free(k);
	return 0;
}
