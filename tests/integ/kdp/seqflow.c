/* dvmq-seqflow: sequence-numbered UDP flows, to count what a path loses and reorders.
 *
 *   dvmq-seqflow send DST_IP PORT [--flows N] [--rate PPS] [--count N] [--duration S] [--size B] [--burst N]
 *   dvmq-seqflow recv PORT [--duration S] [--idle-ms MS] [--events FILE]
 *   dvmq-seqflow recv-tap DEVICE PORT [same options]
 *
 * send: N flows (one UDP socket each, so each has its own source port), frames round-robin over
 * the flows in sendmmsg bursts of N frames of one flow (default 32; 1: each frame paced on its own)
 * at PPS (0: as fast as it can), until COUNT frames or S seconds;
 * prints {"sent": N, "flows": N}. Payload: magic, flow, sequence number.
 * recv: counts per flow what arrives until SIGTERM/SIGINT, S seconds, or MS ms without a frame
 * after the first; prints {"received", "reordered" (frames behind a later frame of their flow),
 * "reorder_episodes" (reordered frames more than 1 ms after the previous one), "flows_reordered",
 * "missing" (below each flow's highest sequence number, never arrived), "highest" (sum over flows
 * of the highest sequence number + 1: what the sender sent up to the last frame that arrived)};
 * recv-tap: the same from a TAP device it creates (as QEMU holds a VM's TAP): whole frames read
 * from its descriptor, the UDP payloads to PORT taken out of them (IPv4, untagged);
 * "port_dropped" is what the TAP itself dropped because this reader fell behind.
 * --events: one line per reordered frame, "CLOCK_MONOTONIC_ns flow seq", to tell which move
 * caused it (kdptool --events).
 * Exit 0, 1 on a socket error, 2 on bad usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x73657146u /* "Fqes" */
#define MAX_FLOWS 4096
#define BURST 32

struct payload {
	uint32_t magic, flow;
	uint64_t seq;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr, "usage: dvmq-seqflow send DST_IP PORT [--flows N] [--rate PPS] [--count N] [--duration S] [--size B] [--burst N]\n"
			"       dvmq-seqflow recv PORT [--duration S] [--idle-ms MS] [--events FILE]\n"
			"       dvmq-seqflow recv-tap DEVICE PORT [--duration S] [--idle-ms MS] [--events FILE]\n");
	return 2;
}

static int do_send(int argc, char **argv)
{
	if (argc < 4)
		return usage();
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3])) };
	if (inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1)
		return usage();
	unsigned flows = 1, size = 64, burst = BURST;
	double rate = 0, duration = 0;
	uint64_t count = 0;
	for (int i = 4; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--flows") == 0)
			flows = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--rate") == 0)
			rate = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--count") == 0)
			count = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--duration") == 0)
			duration = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--size") == 0)
			size = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--burst") == 0)
			burst = (unsigned)atoi(argv[i + 1]);
		else
			return usage();
	}
	if (burst == 0 || burst > BURST || flows == 0 || flows > MAX_FLOWS || size < sizeof(struct payload) || size > 1400)
		return usage();
	int *fd = calloc(flows, sizeof(int));
	uint64_t *seq = calloc(flows, sizeof(uint64_t));
	if (!fd || !seq)
		return 1;
	for (unsigned f = 0; f < flows; f++) {
		fd[f] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd[f] < 0 || connect(fd[f], (struct sockaddr *)&dst, sizeof(dst)) != 0) {
			perror("seqflow: socket");
			return 1;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	unsigned char buf[BURST][1400];
	memset(buf, 0, sizeof(buf));
	struct iovec iov[BURST];
	struct mmsghdr msg[BURST];
	uint64_t sent = 0, t0 = now_ns();
	unsigned f = 0;
	while (!stop) {
		uint64_t t = now_ns();
		if (duration > 0 && (double)(t - t0) / 1e9 >= duration)
			break;
		if (count && sent >= count)
			break;
		if (rate > 0 && (double)sent > rate * (double)(t - t0) / 1e9) {
			/* sleep until the next burst is due (a spinning sender would starve the
			 * kthreads that share its processor) */
			uint64_t due = t0 + (uint64_t)((double)sent / rate * 1e9);
			struct timespec ts = { .tv_sec = (time_t)(due / 1000000000u), .tv_nsec = (long)(due % 1000000000u) };
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			continue;
		}
		/* one burst per flow socket: `burst` frames of flow f, then the next flow */
		unsigned n = burst;
		if (count && count - sent < n)
			n = (unsigned)(count - sent);
		for (unsigned i = 0; i < n; i++) {
			struct payload p = { MAGIC, f, seq[f] + i };
			memcpy(buf[i], &p, sizeof(p));
			iov[i] = (struct iovec){ buf[i], size };
			msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		int r = sendmmsg(fd[f], msg, n, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED)
				continue;
			perror("seqflow: sendmmsg");
			return 1;
		}
		seq[f] += (uint64_t)r;
		sent += (uint64_t)r;
		f = (f + 1) % flows;
	}
	printf("{\"sent\": %" PRIu64 ", \"flows\": %u, \"seconds\": %.3f}\n", sent, flows, (double)(now_ns() - t0) / 1e9);
	return 0;
}

/* A TAP device named dev, whole frames without a packet-info header: its descriptor, or -1. */
static int tap_open(const char *dev)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) != 0) {
		perror("seqflow: tap");
		return -1;
	}
	return fd;
}

/* The UDP payload to port in an untagged Ethernet/IPv4 frame, or NULL. */
static const unsigned char *udp_payload(const unsigned char *f, size_t len, uint16_t port, size_t *plen)
{
	if (len < 14 + 20 + 8 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4 || f[23] != 17)
		return NULL;
	size_t ihl = (size_t)(f[14] & 15) * 4, off = 14 + ihl;
	if (len < off + 8 || ((unsigned)f[off + 2] << 8 | f[off + 3]) != port)
		return NULL;
	*plen = len - off - 8;
	return f + off + 8;
}

static int do_recv(int argc, char **argv)
{
	const char *tap = NULL;
	if (strcmp(argv[1], "recv-tap") == 0) {
		if (argc < 4)
			return usage();
		tap = argv[2];
		argv++;
		argc--;
	}
	if (argc < 3)
		return usage();
	double duration = 0;
	unsigned idle_ms = 0;
	FILE *ev = NULL;
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--duration") == 0)
			duration = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--idle-ms") == 0)
			idle_ms = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--events") == 0 && !ev && (ev = fopen(argv[i + 1], "w")))
			;
		else
			return usage();
	}
	uint16_t port = (uint16_t)atoi(argv[2]);
	int fd;
	if (tap) {
		fd = tap_open(tap);
		if (fd < 0)
			return 1;
	} else {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
		int big = 8 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			perror("seqflow: bind");
			return 1;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	uint64_t *next = calloc(MAX_FLOWS, sizeof(uint64_t)), *got = calloc(MAX_FLOWS, sizeof(uint64_t));
	uint8_t *seen = calloc(MAX_FLOWS, 1), *reord = calloc(MAX_FLOWS, 1);
	if (!next || !got || !seen || !reord)
		return 1;
	unsigned char buf[BURST][2048];
	struct iovec iov[BURST];
	struct mmsghdr msg[BURST];
	uint64_t received = 0, reordered = 0, episodes = 0, last_reorder = 0, t0 = now_ns(), last_rx = 0;
	fflush(stdout);
	fprintf(stderr, "seqflow: ready\n");
	while (!stop) {
		uint64_t t = now_ns();
		if (duration > 0 && (double)(t - t0) / 1e9 >= duration)
			break;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 10) <= 0) {
			/* idle: decided only when nothing is waiting (a reader descheduled longer than the
			 * idle time must still take what arrived meanwhile) */
			if (idle_ms && last_rx && now_ns() - last_rx > (uint64_t)idle_ms * 1000000u)
				break;
			continue;
		}
		for (int i = 0; i < BURST; i++) {
			iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
			msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		int r = 0;
		if (tap) {
			/* a TAP gives one frame per read */
			for (; r < BURST; r++) {
				ssize_t n = read(fd, buf[r], sizeof(buf[r]));
				if (n <= 0)
					break;
				msg[r].msg_len = (unsigned)n;
			}
		} else {
			r = recvmmsg(fd, msg, BURST, MSG_DONTWAIT, NULL);
		}
		if (r <= 0) {
			/* woken with nothing to read (an error or hang-up the TAP keeps signalling): the
			 * idle rule still applies, or this loop would spin for ever */
			if (idle_ms && last_rx && now_ns() - last_rx > (uint64_t)idle_ms * 1000000u)
				break;
			continue;
		}
		last_rx = now_ns();
		for (int i = 0; i < r; i++) {
			struct payload pl;
			const unsigned char *data = buf[i];
			size_t dlen = msg[i].msg_len;
			if (tap && !(data = udp_payload(buf[i], msg[i].msg_len, port, &dlen)))
				continue;
			if (dlen < sizeof(pl))
				continue;
			memcpy(&pl, data, sizeof(pl));
			if (pl.magic != MAGIC || pl.flow >= MAX_FLOWS)
				continue;
			received++;
			got[pl.flow]++;
			seen[pl.flow] = 1;
			if (pl.seq < next[pl.flow]) {
				reordered++;
				reord[pl.flow] = 1;
				if (last_rx - last_reorder > 1000000u)
					episodes++;
				if (ev)
					fprintf(ev, "%" PRIu64 " %u %" PRIu64 "\n", last_rx, pl.flow, pl.seq);
				last_reorder = last_rx;
			} else {
				next[pl.flow] = pl.seq + 1;
			}
		}
	}
	uint64_t highest = 0, flows = 0, flows_reordered = 0;
	for (unsigned f = 0; f < MAX_FLOWS; f++) {
		if (!seen[f])
			continue;
		flows++;
		flows_reordered += reord[f];
		highest += next[f];
	}
	if (ev)
		fclose(ev);
	/* a TAP drops what its reader did not take in time: its own count, read while it exists */
	unsigned long long port_dropped = 0;
	if (tap) {
		char path[128];
		snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_dropped", tap);
		FILE *f = fopen(path, "re");
		if (!f || fscanf(f, "%llu", &port_dropped) != 1)
			port_dropped = 0;
		if (f)
			fclose(f);
	}
	printf("{\"port_dropped\": %llu, \"received\": %" PRIu64 ", \"reordered\": %" PRIu64 ", \"reorder_episodes\": %" PRIu64
	       ", \"flows\": %" PRIu64 ", \"flows_reordered\": %" PRIu64 ", \"highest\": %" PRIu64 ", \"missing\": %" PRIu64 "}\n",
	       port_dropped, received, reordered, episodes, flows, flows_reordered, highest, highest - received);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return do_send(argc, argv);
	if (argc >= 2 && (strcmp(argv[1], "recv") == 0 || strcmp(argv[1], "recv-tap") == 0))
		return do_recv(argc, argv);
	return usage();
}
