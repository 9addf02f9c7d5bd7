/* dvmq-kdptool: drives the kdp library by hand, for the kernel-mode namespace tests and
 * measurements (tests/integ/kdp/ scripts). Runs in the calling network namespace.
 *
 *   dvmq-kdptool DEV --cpus 0,1 [--queues N] [--vm MAC,VLAN,QUEUE]... [--place Q=CPU]...
 *                [--generic] [--unordered] [--reclassify] [--drain-at-cpumap] [--drain-at-tc] [--no-frags] [--no-local] [--guard-us G] [--qsize N]
 *                [--moves N --queue Q [--gap-us U]] [--hold SECONDS] [--sample] [--json] [--events FILE] [--bench N]
 *                [--group MAC,VLAN,Q1:Q2[:Q3...] [--bucket-moves N] [--nic-hash]] [--rebind-to Q2 [--rebind-plain]]
 *
 * Attaches kernel mode to DEV, sets the filters and placements, then either moves queue Q back and
 * forth between the first two processors N times (each move waited for, U us apart) or holds
 * for SECONDS (after the moves, "moves done" on stderr; until SIGTERM/SIGINT), and prints the counters (one JSON object with --json), with
 * --sample also the interval's per-queue, per-processor packets and network times; --events writes
 * a line per completed move ("start_ns end_ns queue from to ordered|forced"); --bench N times the
 * XDP programs under BPF_PROG_TEST_RUN (N runs each; DEV "-": nothing attached). "ready" on
 * stderr once attached. --group (VMMQ): MAC's frames on VLAN go through queue group 0, its buckets
 * spread round-robin over the queues listed; --bucket-moves N then moves buckets 0, 1, 2, ...
 * (round-robin) each to the next queue of the list, N moves, each waited for (U us apart), instead
 * of moving a queue; --nic-hash: the group's buckets from the NIC's RSS hash where the driver
 * hands XDP one (dvmq/kdp.h nic_hash). --rebind-to Q2: the N moves are rebinds of the first --vm's filter
 * between its queue and Q2 (dvmq_kdp_filter_rebind; each queue back to its --place), waited for;
 * --rebind-plain: a plain filter change instead (the old way, to measure). Exit 0, 1 on a library error, 2 on bad usage. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dvmq/kdp.h"

#define MAX_VMS 64
#define MAX_CPUS 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void log_line(void *ctx, int level, const char *line)
{
	(void)ctx;
	fprintf(stderr, "kdptool: %s: %s\n", level == DVMQ_KDP_LOG_WARN ? "warn" : "info", line);
}

static void log_move(void *ctx, uint32_t q, int from, int to, uint64_t start_ns, uint64_t end_ns, bool forced)
{
	fprintf(ctx, "%" PRIu64 " %" PRIu64 " %u %d %d %s\n", start_ns, end_ns, q, from, to, forced ? "forced" : "ordered");
}

/* ns per run of program `which` over a 64-byte frame to queue 1 (BPF_PROG_TEST_RUN, repeat n):
 * the program alone, no redirect happens. */
static double bench_prog(struct dvmq_kdp *k, enum dvmq_kdp_fd which, uint32_t n, const uint8_t *frame, uint32_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .repeat = n);
	if (bpf_prog_test_run_opts(dvmq_kdp_fd(k, which), &o) != 0)
		return -1.0;
	return (double)o.duration;
}

/* The same, one frame per BPF_PROG_TEST_RUN call (repeat 1), n calls, the kernel's own duration
 * of each averaged: with repeat > 1 the kernel runs the program again on the frame as the last run
 * left it, and dvmq_kern's prefix (bpf_xdp_adjust_head) shifts it every run, so after the first
 * run the frame no longer matches its filter (and soon has no headroom left). */
static double bench_each(struct dvmq_kdp *k, enum dvmq_kdp_fd which, uint32_t n, const uint8_t *frame, uint32_t len)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t out[256];
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);
		if (bpf_prog_test_run_opts(dvmq_kdp_fd(k, which), &o) != 0)
			return -1.0;
		sum += o.duration;
	}
	return n ? (double)sum / n : 0.0;
}

static int usage(void)
{
	fprintf(stderr, "usage: dvmq-kdptool DEV --cpus 0,1 [--queues N] [--vm MAC,VLAN,QUEUE]... [--place Q=CPU]...\n"
			"       [--generic] [--unordered] [--reclassify] [--drain-at-cpumap] [--drain-at-tc] [--no-frags] [--no-local] [--guard-us G] [--qsize N]\n"
			"       [--moves N --queue Q [--gap-us U]] [--hold SECONDS] [--sample] [--json]\n");
	return 2;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0)
		return usage();
	struct dvmq_kdp_config cfg = { .ifname = strcmp(argv[1], "-") == 0 ? NULL : argv[1], .n_queues = 8 };
	int cpus[MAX_CPUS];
	struct dvmq_kdp_filter vms[MAX_VMS] = { 0 };
	uint32_t n_vms = 0, place_q[MAX_VMS];
	int place_cpu[MAX_VMS];
	uint32_t n_place = 0, moves = 0, queue = 1;
	uint64_t gap_us = 0;
	double hold = 0;
	int json = 0, sample = 0;
	FILE *events = NULL;
	uint32_t bench = 0;
	struct dvmq_kdp_filter group = { .hashed = true };
	uint32_t gq[16], n_gq = 0, bucket_moves = 0, rebind_q = 0;
	int rebind_plain = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--cpus") == 0 && v) {
			char *s = strdup(v), *save = NULL;
			for (char *t = strtok_r(s, ",", &save); t && cfg.n_cpus < MAX_CPUS; t = strtok_r(NULL, ",", &save))
				cpus[cfg.n_cpus++] = atoi(t);
			free(s);
			i++;
		} else if (strcmp(a, "--queues") == 0 && v) {
			cfg.n_queues = (uint32_t)atoi(v);
			i++;
		} else if (strcmp(a, "--vm") == 0 && v && n_vms < MAX_VMS) {
			unsigned m[6], vlan, q;
			if (sscanf(v, "%x:%x:%x:%x:%x:%x,%u,%u", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &vlan, &q) != 8)
				return usage();
			for (int k = 0; k < 6; k++)
				vms[n_vms].mac[k] = (uint8_t)m[k];
			vms[n_vms].vlan = (uint16_t)vlan;
			vms[n_vms++].queue = q;
			i++;
		} else if (strcmp(a, "--group") == 0 && v) {
			unsigned m[6], vlan;
			int used = 0;
			if (sscanf(v, "%x:%x:%x:%x:%x:%x,%u,%n", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &vlan, &used) != 7 || !used)
				return usage();
			for (int k = 0; k < 6; k++)
				group.mac[k] = (uint8_t)m[k];
			group.vlan = (uint16_t)vlan;
			char *list = strdup(v + used), *save = NULL;
			for (char *t = strtok_r(list, ":", &save); t && n_gq < 16; t = strtok_r(NULL, ":", &save))
				gq[n_gq++] = (uint32_t)atoi(t);
			free(list);
			if (n_gq < 2)
				return usage();
			cfg.max_groups = 1;
			i++;
		} else if (strcmp(a, "--rebind-to") == 0 && v) {
			rebind_q = (uint32_t)atoi(v);
			i++;
		} else if (strcmp(a, "--rebind-plain") == 0) {
			rebind_plain = 1;
		} else if (strcmp(a, "--bucket-moves") == 0 && v) {
			bucket_moves = (uint32_t)atoi(v);
			i++;
		} else if (strcmp(a, "--place") == 0 && v && n_place < MAX_VMS) {
			if (sscanf(v, "%u=%d", &place_q[n_place], &place_cpu[n_place]) != 2)
				return usage();
			n_place++;
			i++;
		} else if (strcmp(a, "--generic") == 0) {
			cfg.xdp_mode = DVMQ_KDP_XDP_GENERIC;
		} else if (strcmp(a, "--unordered") == 0) {
			cfg.unordered = true;
		} else if (strcmp(a, "--reclassify") == 0) {
			cfg.reclassify = true;
		} else if (strcmp(a, "--nic-hash") == 0) {
			cfg.nic_hash = true;
		} else if (strcmp(a, "--drain-at-cpumap") == 0) {
			cfg.drain_at_cpumap = true;
		} else if (strcmp(a, "--drain-at-tc") == 0) {
			cfg.drain_at_tc = true;
		} else if (strcmp(a, "--no-frags") == 0) {
			cfg.no_frags = true;
		} else if (strcmp(a, "--no-local") == 0) {
			cfg.no_local = true;
		} else if (strcmp(a, "--guard-us") == 0 && v) {
			cfg.guard_ns = (uint64_t)atoll(v) * 1000u;
			i++;
		} else if (strcmp(a, "--fifo") == 0 && v) {
			cfg.kthread_fifo = atoi(v);
			i++;
		} else if (strcmp(a, "--qsize") == 0 && v) {
			cfg.qsize = (uint32_t)atoi(v);
			i++;
		} else if (strcmp(a, "--moves") == 0 && v) {
			moves = (uint32_t)atoi(v);
			i++;
		} else if (strcmp(a, "--queue") == 0 && v) {
			queue = (uint32_t)atoi(v);
			i++;
		} else if (strcmp(a, "--gap-us") == 0 && v) {
			gap_us = (uint64_t)atoll(v);
			i++;
		} else if (strcmp(a, "--hold") == 0 && v) {
			hold = atof(v);
			i++;
		} else if (strcmp(a, "--events") == 0 && v) {
			events = fopen(v, "w");
			if (!events)
				return usage();
			i++;
		} else if (strcmp(a, "--bench") == 0 && v) {
			bench = (uint32_t)atoi(v);
			i++;
		} else if (strcmp(a, "--json") == 0) {
			json = 1;
		} else if (strcmp(a, "--sample") == 0) {
			sample = 1;
		} else {
			return usage();
		}
	}
	if (cfg.n_cpus == 0)
		return usage();
	cfg.cpus = cpus;
	cfg.log = log_line;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	struct dvmq_kdp *k;
	char err[300] = "";
	int rc = dvmq_kdp_create(&cfg, &k, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "kdptool: %s (%s)\n", err, strerror(-rc));
		return 1;
	}
	if (events)
		dvmq_kdp_on_move(k, log_move, events);
	for (uint32_t i = 0; i < n_vms && rc == 0; i++)
		rc = dvmq_kdp_filter_set(k, &vms[i]);
	for (uint32_t i = 0; i < n_place && rc == 0; i++)
		rc = dvmq_kdp_queue_move(k, place_q[i], place_cpu[i]);
	if (rc == 0)
		rc = dvmq_kdp_moves_wait(k);
	uint32_t table[DVMQ_KDP_BUCKETS];
	if (rc == 0 && n_gq) {
		for (uint32_t b = 0; b < DVMQ_KDP_BUCKETS; b++)
			table[b] = gq[b % n_gq];
		rc = dvmq_kdp_group_set(k, 0, table);
		if (rc == 0)
			rc = dvmq_kdp_moves_wait(k);
		if (rc == 0)
			rc = dvmq_kdp_filter_set(k, &group);
	}
	if (rc) {
		fprintf(stderr, "kdptool: setting filters and placements: %s\n", strerror(-rc));
		dvmq_kdp_destroy(k);
		return 1;
	}
	fprintf(stderr, "kdptool: ready: %s\n", dvmq_kdp_describe(k));
	if (bench && n_vms) {
		/* the XDP programs' own cost per frame: plain redirect, dvmq_kern, dvmq_kern with a move
		 * pending (the drain check on every frame) */
		uint8_t f[64] = { 0 };
		memcpy(f, vms[0].mac, 6);
		f[12] = 0x08;
		double plain = bench_prog(k, DVMQ_KDP_FD_PLAIN_PROG, bench, f, sizeof(f));
		double full = bench_prog(k, DVMQ_KDP_FD_XDP_PROG, bench, f, sizeof(f));
		dvmq_kdp_queue_move(k, vms[0].queue, cpus[cfg.n_cpus - 1]);
		double moving = bench_prog(k, DVMQ_KDP_FD_XDP_PROG, bench, f, sizeof(f));
		printf("{\"plain_ns\": %.1f, \"dvmq_kern_ns\": %.1f, \"dvmq_kern_moving_ns\": %.1f", plain, full, moving);
		if (n_gq) {
			/* VMMQ: the same through the group's table, the Toeplitz hash of an IPv4 and an
			 * IPv6 TCP frame (12 and 36 table lookups) */
			uint8_t g4[128] = { 0 }, g6[128] = { 0 };
			memcpy(g4, group.mac, 6);
			g4[12] = 0x08, g4[14] = 0x45, g4[17] = 60, g4[22] = 64, g4[23] = 6;
			memcpy(g4 + 26, (const uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2, 0x12, 0x34, 0, 80 }, 12);
			g4[46] = 0x50;
			memcpy(g6, group.mac, 6);
			g6[12] = 0x86, g6[13] = 0xdd, g6[14] = 0x60, g6[19] = 40, g6[20] = 6, g6[21] = 64;
			g6[22] = 0xfd, g6[37] = 1, g6[38] = 0xfd, g6[53] = 2;
			memcpy(g6 + 54, (const uint8_t[]){ 0x12, 0x34, 0, 80 }, 4);
			g6[66] = 0x50;
			uint8_t g1[128];
			memcpy(g1, g4, sizeof(g1));
			memcpy(g1, vms[0].mac, 6);
			uint32_t each = bench < 200000 ? bench : 200000;
			double e_plain = bench_each(k, DVMQ_KDP_FD_PLAIN_PROG, each, g1, 74);
			double e_full = bench_each(k, DVMQ_KDP_FD_XDP_PROG, each, g1, 74);
			double h4 = bench_each(k, DVMQ_KDP_FD_XDP_PROG, each, g4, 74);
			double h6 = bench_each(k, DVMQ_KDP_FD_XDP_PROG, each, g6, 94);
			struct dvmq_kdp_counters hc;
			printf(", \"each_runs\": %u, \"each_plain_ns\": %.1f, \"each_dvmq_kern_ns\": %.1f, \"each_dvmq_kern_hashed_ipv4_ns\": %.1f, "
			       "\"each_dvmq_kern_hashed_ipv6_ns\": %.1f, \"hashed\": %" PRIu64, each, e_plain, e_full, h4, h6,
			       dvmq_kdp_counters(k, &hc) == 0 ? hc.hashed : 0);
		}
		printf("}\n");
		dvmq_kdp_destroy(k);
		return plain < 0 || full < 0 ? 1 : 0;
	}
	struct dvmq_kdp_sample *s = dvmq_kdp_sample_new(k);
	if (!s || dvmq_kdp_sample(k, s) != 0) {
		fprintf(stderr, "kdptool: first sample failed\n");
		dvmq_kdp_sample_free(s);
		dvmq_kdp_destroy(k);
		return 1;
	}
	uint64_t t0 = now_ns(), move_ns_max = 0, move_ns_sum = 0;
	uint32_t done = 0;
	if (n_gq && bucket_moves)
		moves = bucket_moves;
	for (; done < moves && !stop; done++) {
		uint64_t a = now_ns();
		if (rebind_q && n_vms) {
			/* the first VM's filter to the other queue, which then goes back to its place */
			struct dvmq_kdp_filter f = vms[0];
			uint32_t from = done % 2 ? rebind_q : vms[0].queue;
			f.queue = done % 2 ? vms[0].queue : rebind_q;
			int home = dvmq_kdp_queue_cpu(k, f.queue);
			for (uint32_t j = 0; j < n_place; j++)
				if (place_q[j] == f.queue)
					home = place_cpu[j];
			rc = rebind_plain ? dvmq_kdp_filter_set(k, &f) : dvmq_kdp_filter_rebind(k, &f, from, home);
		} else if (n_gq && bucket_moves) {
			/* bucket done % 128 to the next queue of the group's list */
			uint32_t b = done % DVMQ_KDP_BUCKETS, at = 0;
			while (at < n_gq && gq[at] != table[b])
				at++;
			table[b] = gq[(at + 1) % n_gq];
			rc = dvmq_kdp_group_set(k, 0, table);
		} else {
			rc = dvmq_kdp_queue_move(k, queue, cpus[(done + 1) % (cfg.n_cpus > 1 ? 2 : 1)]);
		}
		if (rc == 0)
			rc = dvmq_kdp_moves_wait(k);
		if (rc && rc != -EBUSY)
			break;
		uint64_t d = now_ns() - a;
		move_ns_sum += d;
		if (d > move_ns_max)
			move_ns_max = d;
		if (gap_us)
			nanosleep(&(struct timespec){ .tv_sec = (time_t)(gap_us / 1000000u), .tv_nsec = (long)(gap_us % 1000000u) * 1000 },
				  NULL);
	}
	if (moves)
		fprintf(stderr, "kdptool: moves done\n");
	t0 = now_ns(); /* the hold starts after the moves */
	while (hold > 0 && !stop && (double)(now_ns() - t0) / 1e9 < hold)
		nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
	struct dvmq_kdp_counters c;
	int src = dvmq_kdp_sample(k, s);
	if (src == 0)
		src = dvmq_kdp_counters(k, &c);
	if (src) {
		fprintf(stderr, "kdptool: reading counters: %s\n", strerror(-src));
		dvmq_kdp_sample_free(s);
		dvmq_kdp_destroy(k);
		return 1;
	}
	printf("{\"moves_done\": %u, \"move_us_mean\": %.1f, \"move_us_max\": %.1f, \"redirected\": %" PRIu64
	       ", \"local\": %" PRIu64 ", \"link_local\": %" PRIu64 ", \"truncated\": %" PRIu64 ", \"no_cpu\": %" PRIu64 ", \"no_room\": %" PRIu64
	       ", \"default_queue\": %" PRIu64 ", \"double_tag\": %" PRIu64 ", \"vlan_restored\": %" PRIu64
	       ", \"processed\": %" PRIu64 ", \"reclassified\": %" PRIu64 ", \"cpumap_drops\": %" PRIu64
	       ", \"cpumap_drops_exact\": %s, \"moves\": %" PRIu64 ", \"moves_ordered\": %" PRIu64 ", \"moves_forced\": %" PRIu64
	       ", \"moves_busy\": %" PRIu64 ", \"moves_ordered_xdp\": %" PRIu64 ", \"hashed\": %" PRIu64
	       ", \"bucket_moves\": %" PRIu64 ", \"bucket_moves_ordered\": %" PRIu64 ", \"bucket_moves_forced\": %" PRIu64
	       ", \"nic_hash\": %s, \"nic_hashed\": %" PRIu64 ", \"rebinds\": %" PRIu64 ", \"rebind_carried\": %" PRIu64,
	       done, done ? (double)move_ns_sum / done / 1e3 : 0.0, (double)move_ns_max / 1e3, c.redirected, c.local,
	       c.link_local,
	       c.truncated, c.no_cpu, c.no_room, c.default_queue, c.double_tag, c.vlan_restored, c.processed, c.reclassified,
	       c.cpumap_drops, c.cpumap_drops_exact ? "true" : "false", c.moves, c.moves_ordered, c.moves_forced, c.moves_busy,
	       c.moves_ordered_xdp, c.hashed, c.bucket_moves, c.bucket_moves_ordered, c.bucket_moves_forced,
	       c.nic_hash ? "true" : "false", c.nic_hashed, c.rebinds, c.rebind_carried);
	if (sample) {
		printf(", \"interval_ns\": %" PRIu64 ", \"cpus\": [", s->interval_ns);
		for (uint32_t i = 0; i < s->n_cpus; i++)
			printf("%s{\"cpu\": %d, \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"softirq_ns\": %" PRIu64
			       ", \"kthread_ns\": %" PRIu64 ", \"net_ns\": %" PRIu64 ", \"drops\": %" PRIu64 ", \"kthread_pid\": %d}",
			       i ? ", " : "", s->cpus[i].cpu, s->cpus[i].packets, s->cpus[i].bytes, s->cpus[i].softirq_ns,
			       s->cpus[i].kthread_ns, s->cpus[i].net_ns, s->cpus[i].cpumap_drops,
			       dvmq_kdp_kthread_pid(k, s->cpus[i].cpu));
		printf("], \"queues\": [");
		for (uint32_t q = 0; q < s->n_queues; q++) {
			printf("%s{\"queue\": %u, \"cpu\": %d, \"rx_packets\": %" PRIu64 ", \"packets\": [", q ? ", " : "", q,
			       s->queues[q].cpu, s->queues[q].rx_packets);
			for (uint32_t i = 0; i < s->n_cpus; i++)
				printf("%s%" PRIu64, i ? ", " : "", s->queues[q].packets[i]);
			printf("]}");
		}
		printf("]");
	}
	printf("}\n");
	(void)json;
	dvmq_kdp_sample_free(s);
	dvmq_kdp_destroy(k);
	if (events)
		fclose(events);
	return rc && rc != -EBUSY ? 1 : 0;
}
