/* dvmq-portbench: what the kernel ports carry on this machine, measured by hand (root; never a
 * test gate). Every measurement builds its own topology in private network namespaces (devices
 * named dvtp*), so nothing outside is touched, and repeats it (--repeat, median with min and max).
 *   rx:      64-byte frames queued for the port by an AF_PACKET sendmmsg sender, then drained by
 *            rx_burst: frames/s, and frames per CPU-second of the rx thread (what the port costs,
 *            whatever share of a shared machine it got).
 *   tx:      frames/s the port's tx_burst hands over, counted by the receiving device, at 64 and
 *            1514 bytes, and per CPU-second of the tx thread.
 *   tcp:     iperf3 (one stream) between namespace A (veth, uplink port afpacket or afxdp) and
 *            namespace B (TAP port) through a two-port hub, plain and with offloads, next to the
 *            same namespaces connected by a Linux bridge; and through the data plane itself
 *            ("dvmq: ..."): B's TAP a VM port, A's frames classified into B's queue and delivered
 *            by a worker, B's switched by dvmq_dp_vm_send out of the uplink (the daemon's path).
 *   latency: UDP round trips A <-> B through the same paths, idle: p50 and p99.
 *   fps:     64-byte frames A -> B through the same paths, offered by an AF_PACKET sendmmsg sender in
 *            A (iperf3's UDP is bound by its own sender), counted by B's device: Mframes/s.
 * Usage: dvmq-portbench [--seconds S] [--repeat N] [--spin] [--json] [--path S]... [rx] [tx] [tcp] [latency] [fps] */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <jansson.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "../tests/integ/port_fixture.h"
#include "dvmq/dp.h"
#include "dvmq/port.h"

typedef int (*open_fn)(const char *, const struct dvmq_port_kopts *, struct dvmq_port **, char *, size_t);

struct kind {
	const char *name;
	open_fn open;
	int offload, afpacket_rx;
};

static const struct kind KINDS[] = {
	{ "afpacket", dvmq_port_afpacket_open, 0, DVMQ_AFPACKET_RX_COPY },
	{ "afpacket-ring", dvmq_port_afpacket_open, 0, DVMQ_AFPACKET_RX_RING },
	{ "afxdp", dvmq_port_afxdp_open, 0, 0 },
	{ "tap", dvmq_port_tap_open, 0, 0 },
	{ "tap-vnet", dvmq_port_tap_open, 1, 0 },
};

static double g_seconds = 3.0;
static int g_repeat = 3;
static bool g_spin; /* the hub busy-polls instead of sleeping in poll() */

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* median, min, max of v[0..n) into a JSON object and a text cell */
static json_t *summary(double *v, int n, double scale, char *cell, size_t cl)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	snprintf(cell, cl, "%.2f (%.2f-%.2f)", med * scale, v[0] * scale, v[n - 1] * scale);
	return json_pack("{s:f,s:f,s:f}", "median", med * scale, "min", v[0] * scale, "max", v[n - 1] * scale);
}

/* A device's received frames, from /proc/thread-self/net/dev: this namespace's view (sysfs
 * would show the namespace it was mounted in). */
static uint64_t rx_frames(const char *ifname)
{
	FILE *f = fopen("/proc/thread-self/net/dev", "r");
	char line[512];
	unsigned long long bytes, pkts = 0;
	size_t nl = strlen(ifname);
	while (f && fgets(line, sizeof(line), f)) {
		char *p = line;
		while (*p == ' ')
			p++;
		if (strncmp(p, ifname, nl) == 0 && p[nl] == ':' && sscanf(p + nl + 1, "%llu %llu", &bytes, &pkts) == 2)
			break;
	}
	if (f)
		fclose(f);
	return pkts;
}

static double now_s(void)
{
	return (double)pf_now_ms() / 1000.0;
}

/* ---- rx: the port drains what a sender queued for it ---- */

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The port on dvtpb (a veth whose peer dvtpa sends), or the TAP dvtpt whose netdev sends. Queues
 * are made deep enough to hold a round of frames while the port does not read. */
static int setup_port(const struct kind *k, struct dvmq_port **p, char *sender_if)
{
	char err[512] = "";
	struct dvmq_port_kopts o = { .offload = k->offload, .afpacket_rx = k->afpacket_rx,
				     .ring_kib = k->open == dvmq_port_afpacket_open ? 65536 : 0 };
	int rc;
	if (k->open == dvmq_port_tap_open) {
		rc = k->open("dvtpt", &o, p, err, sizeof(err));
		if (rc == 0)
			pf_sh("ip link set dvtpt txqueuelen 20000 up");
		strcpy(sender_if, "dvtpt");
	} else {
		pf_sh("ip link del dvtpb 2>/dev/null; ip link add dvtpb type veth peer name dvtpa && "
		      "ip link set dvtpa up && ip link set dvtpb up");
		rc = k->open("dvtpb", &o, p, err, sizeof(err));
		strcpy(sender_if, "dvtpa");
	}
	if (rc)
		fprintf(stderr, "%s: %s\n", k->name, err);
	return rc;
}

static void teardown(struct dvmq_port *p)
{
	dvmq_port_destroy(p);
	pf_sh("ip link del dvtpb 2>/dev/null; true");
}

/* Rounds of: the sender queues a round of 64-byte frames (sendmmsg, qdisc bypass) while the port
 * does not read; then the port drains them, timed. Wall time says what the port reached on this
 * (shared) machine; the rx thread's CPU time what it costs, whatever share the machine gave. */
static double measure_rx(const struct kind *k, double *per_cpu_s)
{
	struct dvmq_port *p;
	char sif[16];
	if (setup_port(k, &p, sif))
		return -1;
	int fd = pf_raw_open(sif), one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	/* AF_XDP holds what its fill ring holds; a veth's NAPI ring takes 256 at a time */
	unsigned round = k->open == dvmq_port_afxdp_open ? 1500 : 16000;
	static const uint8_t dst[6] = { 2, 0, 0, 0, 0, 0xa }, src[6] = { 2, 0, 0, 0, 0, 0xb };
	static uint8_t fr[64][64];
	uint8_t *frames[64];
	uint32_t lens[64];
	for (int i = 0; i < 64; i++) {
		lens[i] = pf_frame(fr[i], 64, dst, src, 0, (uint32_t)i);
		frames[i] = fr[i];
	}
	pin(0);
	uint64_t total = 0;
	double wall = 0, cpu = 0, t_end = now_s() + g_seconds;
	struct dvmq_pkt pk[DVMQ_BURST];
	while (now_s() < t_end) {
		for (unsigned sent = 0; sent < round; sent += 64)
			pf_raw_send_many(fd, frames, lens, 64);
		usleep(20000); /* let softirqs deliver what the sends queued */
		double w0 = now_s(), c0 = thread_cpu_s();
		int idle = 0, n;
		while (idle < 2) {
			n = dvmq_port_rx_burst(p, pk, DVMQ_BURST);
			if (n > 0) {
				total += (unsigned)n;
				idle = 0;
			} else {
				idle++;
			}
		}
		wall += now_s() - w0;
		cpu += thread_cpu_s() - c0;
	}
	close(fd);
	teardown(p);
	*per_cpu_s = cpu > 0 ? (double)total / cpu : 0;
	return wall > 0 ? (double)total / wall : 0;
}

/* ---- tx: the port sends as fast as tx_burst goes; the receiving device counts ---- */

static double measure_tx(const struct kind *k, uint32_t size, double *per_cpu_s)
{
	struct dvmq_port *p;
	char sif[16];
	if (setup_port(k, &p, sif))
		return -1;
	static const uint8_t dst[6] = { 2, 0, 0, 0, 0, 0xb }, src[6] = { 2, 0, 0, 0, 0, 0xa };
	static uint8_t fr[DVMQ_BURST][1514];
	struct dvmq_pkt pk[DVMQ_BURST];
	for (unsigned i = 0; i < DVMQ_BURST; i++)
		pk[i] = (struct dvmq_pkt){ .data = fr[i], .len = pf_frame(fr[i], size, dst, src, 0, i) };
	pin(0);
	double t0 = now_s();
	while (now_s() - t0 < 0.3)
		dvmq_port_tx_burst(p, pk, DVMQ_BURST, 0);
	uint64_t c0 = rx_frames(sif);
	double c0_cpu = thread_cpu_s();
	t0 = now_s();
	double el;
	while ((el = now_s() - t0) < g_seconds)
		dvmq_port_tx_burst(p, pk, DVMQ_BURST, 0);
	uint64_t c1 = rx_frames(sif);
	double cpu = thread_cpu_s() - c0_cpu;
	teardown(p);
	*per_cpu_s = cpu > 0 ? (double)(c1 - c0) / cpu : 0;
	return (double)(c1 - c0) / el;
}

/* ---- tcp: iperf3 through the hub, or through a Linux bridge ---- */

/* Runs argv in namespace ns; with out, its stdout is read into out (cap bytes). Returns the exit
 * status, or -1. */
static int run_in(int ns, const char *const argv[], char *out, size_t cap, pid_t *bg)
{
	int pfd[2] = { -1, -1 };
	if (out && pipe(pfd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (pf_ns_enter(ns) != 0)
			_exit(126);
		if (out) {
			dup2(pfd[1], 1);
			close(pfd[0]);
		} else {
			int dn = open("/dev/null", O_WRONLY);
			dup2(dn, 1);
			dup2(dn, 2);
		}
		char *av[16];
		int i = 0;
		for (; argv[i] && i < 15; i++)
			av[i] = strdup(argv[i]);
		av[i] = NULL;
		execvp(av[0], av);
		_exit(127);
	}
	if (bg) {
		*bg = pid;
		return 0;
	}
	size_t got = 0;
	if (out) {
		close(pfd[1]);
		ssize_t r;
		while (got + 1 < cap && (r = read(pfd[0], out + got, cap - 1 - got)) > 0)
			got += (size_t)r;
		out[got] = '\0';
		close(pfd[0]);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One iperf3 run A -> B: Gb/s received, and the sender's retransmissions. */
static double iperf(const struct pf_topo *t, int streams, double *retrans)
{
	char secs[16], par[8];
	snprintf(secs, sizeof(secs), "%.0f", g_seconds < 1 ? 1 : g_seconds);
	snprintf(par, sizeof(par), "%d", streams);
	pid_t srv;
	const char *sargv[] = { "iperf3", "-s", "-1", "-B", "10.9.0.2", NULL };
	if (run_in(t->ns_b, sargv, NULL, 0, &srv) != 0)
		return -1;
	static char out[1 << 18];
	const char *cargv[] = { "iperf3", "-c", "10.9.0.2", "-t", secs, "-P", par, "-J", NULL };
	int st = -1;
	for (int tries = 0; tries < 20 && st != 0; tries++) {
		usleep(100000);
		st = run_in(t->ns_a, cargv, out, sizeof(out), NULL);
	}
	/* iperf3 -s -1 leaves after its one test; stop it only if it did not */
	bool reaped = false;
	for (int i = 0; i < 40 && !reaped; i++) {
		reaped = waitpid(srv, NULL, WNOHANG) == srv;
		if (!reaped)
			usleep(50000);
	}
	if (!reaped) {
		kill(srv, SIGTERM);
		waitpid(srv, NULL, 0);
	}
	if (st != 0)
		return -1;
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);
	double bps = -1;
	json_t *end = json_object_get(j, "end");
	json_t *recv = json_object_get(end, "sum_received"), *sent = json_object_get(end, "sum_sent");
	if (recv)
		bps = json_number_value(json_object_get(recv, "bits_per_second"));
	*retrans = sent ? json_number_value(json_object_get(sent, "retransmits")) : 0;
	json_decref(j);
	return bps / 1e9;
}

struct path {
	const char *name;
	pf_open_fn uplink; /* NULL: Linux bridge */
	int afpacket_rx;
	bool tap_offload, hub_offload;
	bool dp; /* through the data plane, not a two-port hub */
};

static const struct path PATHS[] = {
	{ "bridge", NULL, 0, false, false, false },
	{ "afpacket+tap", dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_COPY, false, false, false },
	{ "afpacket+tap offload", dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_COPY, true, true, false },
	{ "afpacket-ring+tap", dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_RING, false, false, false },
	{ "afpacket-ring+tap offload", dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_RING, true, true, false },
	{ "afxdp+tap", dvmq_port_afxdp_open, 0, false, false, false },
	{ "afxdp+tap-vnet", dvmq_port_afxdp_open, 0, true, true, false },
	{ "dvmq: afpacket+tap", dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_COPY, false, false, true },
	{ "dvmq: afpacket+tap offload", dvmq_port_afpacket_open, DVMQ_AFPACKET_RX_COPY, true, true, true },
};
static const char *g_paths[16]; /* --path: substrings of the path names to run (the bridge always) */
static int g_n_paths;

static bool path_wanted(size_t k)
{
	if (k == 0 || g_n_paths == 0)
		return true;
	for (int i = 0; i < g_n_paths; i++)
		if (strstr(PATHS[k].name, g_paths[i]))
			return true;
	return false;
}

/* The data plane between the ports, as the daemon runs it: B's TAP is VM 1 (MAC_B, VLAN 0) on
 * queue 1, served by one worker; one rx thread hands the uplink's frames to dvmq_dp_classify and
 * the TAP's to dvmq_dp_vm_send (with offloads when the path has them). */
static const uint8_t MAC_B[6] = { 0x02, 0x00, 0x00, 0x00, 0x0b, 0x0b };
struct dp_hub {
	struct dvmq_dp *dp;
	struct dvmq_port *up, *tap;
	uint32_t vm;
	bool offload;
	_Atomic bool stop;
	pthread_t thr;
};

static unsigned dp_hub_move(struct dp_hub *h, struct dvmq_port *from)
{
	struct dvmq_pkt pk[DVMQ_BURST];
	struct dvmq_offload off[DVMQ_BURST];
	int n = h->offload ? dvmq_port_rx_burst_off(from, pk, off, DVMQ_BURST) : dvmq_port_rx_burst(from, pk, DVMQ_BURST);
	if (n <= 0)
		return 0;
	if (from == h->up)
		dvmq_dp_classify_off(h->dp, pk, h->offload ? off : NULL, (unsigned)n);
	else
		dvmq_dp_vm_send_off(h->dp, h->vm, pk, h->offload ? off : NULL, (unsigned)n);
	return (unsigned)n;
}

static void *dp_hub_run(void *arg)
{
	struct dp_hub *h = arg;
	if (dvmq_dp_thread_register() != 0)
		return NULL;
	while (!atomic_load(&h->stop)) {
		unsigned n = dp_hub_move(h, h->up) + dp_hub_move(h, h->tap);
		if (n || g_spin)
			continue;
		struct pollfd pfd[2] = { { .fd = dvmq_port_fd(h->up), .events = POLLIN },
					 { .fd = dvmq_port_fd(h->tap), .events = POLLIN } };
		poll(pfd, 2, 20);
	}
	dvmq_dp_thread_unregister();
	return NULL;
}

static void dp_hub_stop(struct dp_hub *h)
{
	if (!h)
		return;
	if (h->thr) {
		atomic_store(&h->stop, true);
		pthread_join(h->thr, NULL);
	}
	if (getenv("DVMQ_BENCH_VERBOSE") && h->dp) {
		struct dvmq_dp_counters c;
		dvmq_dp_counters(h->dp, &c);
		fprintf(stderr, "    dp: classified %llu (vmq %llu, flooded %llu, overflow %llu, refused %llu); B sent %llu "
			"(uplink %llu refused %llu)\n", (unsigned long long)c.rx, (unsigned long long)c.vmq_delivered,
			(unsigned long long)c.flooded, (unsigned long long)c.overflow, (unsigned long long)c.refused,
			(unsigned long long)c.sent.rx, (unsigned long long)c.sent.to_uplink,
			(unsigned long long)c.sent.uplink_refused);
	}
	dvmq_dp_destroy(h->dp);
	free(h);
}

static int dp_hub_start(struct pf_topo *t, bool offload, struct dp_hub **out)
{
	struct dp_hub *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->up = t->up, h->tap = t->tap, h->offload = offload;
	struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 2, .queue_depth = 1024, .mtu = 1500, .max_vms = 4,
				      .fdb_size = 256, .fdb_age_ns = 300000000000ull, .lossless = true };
	pf_ns_enter(t->ns_b);
	int rc = pf_sh("ip link set dvtpt address 02:00:00:00:0b:0b") ? -EIO : 0;
	pf_ns_enter(t->here);
	if (!rc)
		rc = dvmq_dp_create(&cfg, &h->dp);
	if (!rc)
		rc = dvmq_dp_vm_add(h->dp, MAC_B, 0, 0.0, t->tap, &h->vm);
	if (!rc)
		rc = dvmq_dp_vm_set_queue(h->dp, h->vm, 1);
	if (!rc)
		rc = dvmq_dp_set_uplink(h->dp, t->up);
	if (!rc)
		rc = -pthread_create(&h->thr, NULL, dp_hub_run, h);
	if (rc) {
		dp_hub_stop(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* What forwards between the ports of a path: a two-port hub or the data plane. */
struct fwd {
	struct pf_fwd *hub;
	struct dp_hub *dp;
};

/* Sets up one path; the hub starts when there are ports. */
static int path_open(const struct path *p, struct pf_topo *t, struct fwd *fwd)
{
	char err[512] = "";
	memset(fwd, 0, sizeof(*fwd));
	struct dvmq_port_kopts uo = { .afpacket_rx = p->afpacket_rx };
	int rc = pf_topo_open(t, p->uplink, &uo, p->tap_offload, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->name, err);
		pf_topo_close(t);
		return rc;
	}
	if (p->uplink && (p->dp ? dp_hub_start(t, p->hub_offload, &fwd->dp)
				: pf_fwd_start(t->up, t->tap, p->hub_offload, g_spin, &fwd->hub)) != 0) {
		fprintf(stderr, "%s: the forwarder did not start\n", p->name);
		pf_topo_close(t);
		return -1;
	}
	return 0;
}

static void path_close(struct pf_topo *t, struct fwd *fwd)
{
	uint64_t ab = 0, ba = 0;
	pf_fwd_stop(fwd->hub, &ab, &ba);
	dp_hub_stop(fwd->dp);
	if (getenv("DVMQ_BENCH_VERBOSE") && t->up) {
		struct dvmq_port_stats u, v;
		dvmq_port_stats(t->up, &u);
		dvmq_port_stats(t->tap, &v);
		fprintf(stderr, "    hub %llu/%llu frames; %s rx %llu dropped %llu, tx %llu dropped %llu; tap rx %llu "
			"dropped %llu, tx %llu dropped %llu\n", (unsigned long long)ab, (unsigned long long)ba,
			t->up->ops->kind, (unsigned long long)u.rx_packets, (unsigned long long)u.rx_dropped,
			(unsigned long long)u.tx_packets, (unsigned long long)u.tx_dropped,
			(unsigned long long)v.rx_packets, (unsigned long long)v.rx_dropped,
			(unsigned long long)v.tx_packets, (unsigned long long)v.tx_dropped);
	}
	pf_topo_close(t);
}

/* ---- fps: 64-byte frames A -> B through a path, offered by a sendmmsg sender in A, counted
 * by B's device (what arrived, not what was offered) ---- */
static double path_fps(const struct pf_topo *t, bool bridge)
{
	const char *b_if = bridge ? "dvtpd" : "dvtpt";
	pf_ns_enter(t->ns_b);
	int rc = pf_sh("ip link set %s address 02:00:00:00:0b:0b", b_if);
	uint64_t before = rx_frames(b_if);
	pf_ns_enter(t->ns_a);
	int fd = rc ? -1 : pf_raw_open("dvtpa");
	pf_ns_enter(t->here);
	if (fd < 0)
		return -1;
	enum { BATCH = 64 };
	static uint8_t buf[BATCH][64];
	uint8_t *frames[BATCH];
	uint32_t lens[BATCH];
	uint8_t a_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x0a, 0x0a };
	for (unsigned i = 0; i < BATCH; i++) {
		lens[i] = pf_frame(buf[i], 64, MAC_B, a_mac, 0, i);
		frames[i] = buf[i];
	}
	double t0 = now_s();
	while (now_s() - t0 < g_seconds)
		if (pf_raw_send_many(fd, frames, lens, BATCH) < 0)
			break;
	double secs = now_s() - t0;
	usleep(100000); /* what is still in flight arrives */
	close(fd);
	pf_ns_enter(t->ns_b);
	uint64_t after = rx_frames(b_if);
	pf_ns_enter(t->here);
	return (double)(after - before) / secs;
}

/* ---- rounds over the paths ---- */

/* One measurement on an open path: 0 and its figures in *x (and *y), or -1 (no result). */
typedef int (*path_measure)(const struct pf_topo *t, const struct path *p, double *x, double *y);

static int measure_tcp(const struct pf_topo *t, const struct path *p, double *gbps, double *retrans)
{
	(void)p;
	*retrans = 0;
	*gbps = iperf(t, 1, retrans);
	return *gbps >= 0 ? 0 : -1;
}

static int measure_latency(const struct pf_topo *t, const struct path *p, double *p50, double *p99)
{
	(void)p;
	static double rtt[500];
	int got = pf_udp_rtt(t->ns_a, t->ns_b, "10.9.0.2", 7007, 500, 1000, rtt);
	if (got < 250)
		return -1;
	qsort(rtt, 500, sizeof(double), cmp_d);
	unsigned lost = 500u - (unsigned)got;
	*p50 = rtt[lost + (unsigned)got / 2];
	*p99 = rtt[lost + (unsigned)got * 99 / 100];
	return 0;
}

static int measure_fps(const struct pf_topo *t, const struct path *p, double *fps, double *unused)
{
	*unused = 0;
	*fps = path_fps(t, p->uplink == NULL);
	return *fps >= 0 ? 0 : -1;
}

/* g_repeat rounds, each over every wanted path in turn (so that a machine whose speed drifts
 * moves them all alike): a[k][r], b[k][r] path k's figures, na[k] how many rounds gave some. */
static void path_rounds(path_measure m, double a[][50], double b[][50], int na[])
{
	enum { NP = sizeof(PATHS) / sizeof(PATHS[0]) };
	memset(na, 0, NP * sizeof(*na));
	for (int r = 0; r < g_repeat; r++)
		for (size_t k = 0; k < NP; k++) {
			struct pf_topo t;
			struct fwd fwd;
			if (!path_wanted(k) || path_open(&PATHS[k], &t, &fwd))
				continue;
			int rc = m(&t, &PATHS[k], &a[k][na[k]], &b[k][na[k]]);
			path_close(&t, &fwd);
			if (rc == 0)
				na[k]++;
		}
}

/* Path k's figures over the bridge's (path 0) of the same rounds, into sj and cell ("-": none). */
static void ratio_to_bridge(json_t *sj, double a[][50], const int na[], size_t k, char *cell, size_t cl)
{
	int nr = 0;
	double ratio[50];
	for (int r = 0; r < na[k] && r < na[0]; r++)
		if (a[0][r] > 0)
			ratio[nr++] = a[k][r] / a[0][r];
	if (nr)
		json_object_set_new(sj, "ratio_to_bridge", summary(ratio, nr, 1, cell, cl));
	else
		snprintf(cell, cl, "-");
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: dvmq-portbench [--seconds S] [--repeat N] [--spin] [--json] [--path S]... [rx] [tx] [tcp] "
		   "[latency] [fps]\n"
		   "  measures the kernel ports (root; private namespaces, devices dvtp*); default: all\n"
		   "  --spin: the hub between the ports busy-polls instead of sleeping in poll()\n"
		   "  --path S: tcp, latency and fps only on paths whose name contains S (repeatable; the bridge always)\n");
}

int main(int argc, char **argv)
{
	bool json = false;
	static const struct option opts[] = { { "seconds", 1, NULL, 's' }, { "repeat", 1, NULL, 'r' },
					      { "spin", 0, NULL, 'p' }, { "path", 1, NULL, 'P' },
					      { "json", 0, NULL, 'j' }, { "help", 0, NULL, 'h' }, { 0, 0, 0, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "s:r:jhpP:", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			if (g_n_paths == (int)(sizeof(g_paths) / sizeof(g_paths[0]))) {
				fprintf(stderr, "dvmq-portbench: at most %zu --path\n", sizeof(g_paths) / sizeof(g_paths[0]));
				return 2;
			}
			g_paths[g_n_paths++] = optarg;
			break;
		case 'p':
			g_spin = true;
			break;
		case 's':
			g_seconds = atof(optarg);
			break;
		case 'r':
			g_repeat = atoi(optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (g_seconds <= 0 || g_repeat < 1 || g_repeat > 50) {
		fprintf(stderr, "dvmq-portbench: --seconds must be > 0 and --repeat 1..50\n");
		return 2;
	}
	bool all = optind == argc, want[5] = { all, all, all, all, all };
	static const char *what[5] = { "rx", "tx", "tcp", "latency", "fps" };
	for (int i = optind; i < argc; i++) {
		int k = 0;
		while (k < 5 && strcmp(argv[i], what[k]) != 0)
			k++;
		if (k == 5) {
			fprintf(stderr, "dvmq-portbench: unknown measurement '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
		want[k] = true;
	}
	const char *skip = pf_private_net();
	if (skip) {
		fprintf(stderr, "dvmq-portbench: %s\n", skip);
		return 1;
	}
	json_t *res = json_object();
	enum { NK = sizeof(KINDS) / sizeof(KINDS[0]), NP = sizeof(PATHS) / sizeof(PATHS[0]) };
	_Static_assert(NK <= 12 && NP <= 12, "result arrays");
	/* rounds interleave the variants, so that a machine whose speed drifts (others' builds)
	 * moves all of them alike: ratios to the bridge are taken round by round */
	static double a[12][50], b[12][50];
	int na[12];
	char cell[64], cell2[64], cell3[64];
	if (want[0]) {
		memset(na, 0, sizeof(na));
		for (int r = 0; r < g_repeat; r++)
			for (size_t k = 0; k < NK; k++) {
				double got = measure_rx(&KINDS[k], &b[k][na[k]]);
				if (got >= 0)
					a[k][na[k]++] = got;
			}
		json_t *o = json_object();
		if (!json)
			printf("rx, 64-byte frames drained from the kernel's queue, Mframes/s: wall, per rx-thread CPU-second\n");
		for (size_t k = 0; k < NK; k++) {
			if (!na[k])
				continue;
			json_t *sj = summary(a[k], na[k], 1e-6, cell, sizeof(cell));
			json_object_set_new(sj, "per_cpu_second", summary(b[k], na[k], 1e-6, cell2, sizeof(cell2)));
			json_object_set_new(o, KINDS[k].name, sj);
			if (!json)
				printf("  %-14s %-24s %s\n", KINDS[k].name, cell, cell2);
		}
		json_object_set_new(res, "rx_mpps", o);
	}
	if (want[1]) {
		static double cx[12][50], cy[12][50];
		memset(na, 0, sizeof(na));
		for (int r = 0; r < g_repeat; r++)
			for (size_t k = 0; k < NK; k++) {
				double x = measure_tx(&KINDS[k], 64, &cx[k][na[k]]), y = measure_tx(&KINDS[k], 1514, &cy[k][na[k]]);
				if (x >= 0 && y >= 0) {
					a[k][na[k]] = x;
					b[k][na[k]++] = y;
				}
			}
		json_t *o = json_object();
		if (!json)
			printf("tx, Mframes/s counted by the receiving device, wall (per tx-thread CPU-second): 64 bytes, 1514 bytes\n");
		for (size_t k = 0; k < NK; k++) {
			if (!na[k])
				continue;
			char c1[64], c2[64];
			json_t *sj = json_object(), *s64 = summary(a[k], na[k], 1e-6, cell, sizeof(cell));
			json_t *s1514 = summary(b[k], na[k], 1e-6, cell2, sizeof(cell2));
			json_object_set_new(s64, "per_cpu_second", summary(cx[k], na[k], 1e-6, c1, sizeof(c1)));
			json_object_set_new(s1514, "per_cpu_second", summary(cy[k], na[k], 1e-6, c2, sizeof(c2)));
			json_object_set_new(sj, "64", s64);
			json_object_set_new(sj, "1514", s1514);
			json_object_set_new(o, KINDS[k].name, sj);
			if (!json)
				printf("  %-14s %s (%s)   %s (%s)\n", KINDS[k].name, cell, c1, cell2, c2);
		}
		json_object_set_new(res, "tx_mpps", o);
	}
	if (want[2]) {
		path_rounds(measure_tcp, a, b, na);
		json_t *o = json_object();
		if (!json)
			printf("tcp, iperf3 A -> B, one stream: Gb/s, ratio to the bridge in the same round, retransmits\n");
		for (size_t k = 0; k < NP; k++) {
			if (!na[k])
				continue;
			json_t *sj = summary(a[k], na[k], 1, cell, sizeof(cell));
			json_object_set_new(sj, "retransmits", summary(b[k], na[k], 1, cell2, sizeof(cell2)));
			ratio_to_bridge(sj, a, na, k, cell3, sizeof(cell3));
			json_object_set_new(o, PATHS[k].name, sj);
			if (!json)
				printf("  %-26s %-20s x%-20s %s\n", PATHS[k].name, cell, cell3, cell2);
		}
		json_object_set_new(res, "tcp_gbps", o);
	}
	if (want[3]) {
		path_rounds(measure_latency, a, b, na);
		json_t *o = json_object();
		if (!json)
			printf("latency, UDP round trip A -> B -> A, idle, 500 probes a round, us: p50, p99\n");
		for (size_t k = 0; k < NP; k++) {
			if (!na[k])
				continue;
			json_t *sj = json_object();
			json_object_set_new(sj, "p50", summary(a[k], na[k], 1, cell, sizeof(cell)));
			json_object_set_new(sj, "p99", summary(b[k], na[k], 1, cell2, sizeof(cell2)));
			json_object_set_new(o, PATHS[k].name, sj);
			if (!json)
				printf("  %-26s %-24s %s\n", PATHS[k].name, cell, cell2);
		}
		json_object_set_new(res, "latency_us", o);
	}
	if (want[4]) {
		path_rounds(measure_fps, a, b, na);
		json_t *o = json_object();
		if (!json)
			printf("fps, 64-byte frames A -> B offered by a sendmmsg sender, arrived at B, Mframes/s; ratio to the "
			       "bridge in the same round\n");
		for (size_t k = 0; k < NP; k++) {
			if (!na[k])
				continue;
			json_t *sj = summary(a[k], na[k], 1e-6, cell, sizeof(cell));
			ratio_to_bridge(sj, a, na, k, cell3, sizeof(cell3));
			json_object_set_new(o, PATHS[k].name, sj);
			if (!json)
				printf("  %-26s %-24s x%s\n", PATHS[k].name, cell, cell3);
		}
		json_object_set_new(res, "fps_mpps", o);
	}
	if (json) {
		json_object_set_new(res, "seconds", json_real(g_seconds));
		json_object_set_new(res, "repeat", json_integer(g_repeat));
		json_object_set_new(res, "hub", json_string(g_spin ? "spin" : "poll"));
		char *s = json_dumps(res, JSON_INDENT(2));
		puts(s);
		free(s);
	}
	json_decref(res);
	return 0;
}
