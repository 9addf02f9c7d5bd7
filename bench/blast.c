/* dvmq-blast: a UDP/IPv4 frame sender that can load a software switch (issue 18 §1), for the
 * benchmarks (scripts/bench-e2e.sh, the kernel-mode benchmark) and by hand. One thread builds
 * each flow's frame once and hands batches to the kernel with sendmmsg on an AF_PACKET socket
 * with PACKET_QDISC_BYPASS (no qdisc, no per-frame syscall: tcpreplay's one sendto per frame
 * bounds its offer near 180 k frames/s on this machine, far below what the switches take).
 * Flows differ in UDP source port and are spread over the destinations round-robin; a frame may
 * carry a per-flow sequence tag (struct dvmq_seq_tag, as dvmq's generator writes it) after its
 * UDP header, so a receiver can count loss and reordering per flow. The UDP checksum is 0 (none,
 * allowed in IPv4), so the tag is written without touching a checksum.
 * What it prints is what it offered: frames the kernel took (sendmmsg's count), frames it did not
 * (ENOBUFS or EAGAIN: the device's queue was full; dropped, counted, never retried), and the
 * sender's own CPU time. Whether the frames arrived is for the receiver to count.
 * Root (or CAP_NET_RAW); run it inside the namespace that holds the device (ip netns exec). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dvmq/port.h" /* struct dvmq_seq_tag, DVMQ_SEQ_MAGIC */

#define MAX_BATCH 1024u
#define MAX_DST 64u
#define MAX_FLOWS 65536u
#define MAX_FRAME 9018u /* a 9000-byte MTU frame with its tag */
#define HDR (14u + 20u + 8u)

struct opts {
	const char *dev;
	uint8_t dst[MAX_DST][6], src[6];
	uint32_t dst_ip[MAX_DST], src_ip;
	unsigned n_dst, n_dst_ip, flows, size, batch, vlan, dst_port, first_flow;
	double rate, seconds;
	uint64_t count;
	bool seq, json, quiet;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void usage(FILE *f)
{
	fputs("usage: dvmq-blast --dev IFNAME --dst MAC[,MAC...] [--src MAC] [--vlan VID]\n"
	      "                  [--dst-ip A.B.C.D[,...]] [--src-ip A.B.C.D] [--dst-port N] [--flows N]\n"
	      "                  [--first-flow N] [--size BYTES] [--rate PPS] [--seconds S] [--count N]\n"
	      "                  [--batch N] [--seq] [--json] [--quiet]\n"
	      "Sends UDP/IPv4 frames out of IFNAME (AF_PACKET, sendmmsg, qdisc bypass), as fast as the\n"
	      "device takes them or at --rate, and prints what it offered. Root or CAP_NET_RAW; run it in\n"
	      "the namespace that holds IFNAME (ip netns exec NS dvmq-blast ...).\n"
	      "  --dev IFNAME     the device to send on\n"
	      "  --dst MAC,...    destination MACs; flow f goes to the (f mod count)-th (up to 64)\n"
	      "  --src MAC        source MAC (default: 02:dd:00:00:00:01)\n"
	      "  --vlan VID       an 802.1Q tag 1..4094 on every frame (default: none)\n"
	      "  --dst-ip A,...   destination addresses, paired with --dst in order (one: for all;\n"
	      "                   default 10.77.0.2); --src-ip the source (default 10.77.0.1)\n"
	      "  --dst-port N     UDP destination port (default 9, discard)\n"
	      "  --flows N        distinct flows (UDP source ports 1024 + flow), 1..65536 (default 1)\n"
	      "  --first-flow N   the first flow's number in the tags (default 0)\n"
	      "  --size BYTES     frame length without FCS, tag included: 60..9018 (default 60)\n"
	      "  --rate PPS       frames per second to offer; 0: as fast as the device takes them (default)\n"
	      "  --seconds S      how long (default 3); --count N stops after N frames (first of the two)\n"
	      "  --batch N        frames per sendmmsg, 1..1024 (default 64)\n"
	      "  --seq            a per-flow sequence tag after the UDP header (struct dvmq_seq_tag:\n"
	      "                   magic \"DMVQ\", flow, seq 0, 1, 2, ...; needs --size >= 58 + tag 4 if tagged)\n"
	      "  --json           one JSON object; --quiet: nothing but errors\n"
	      "Output: sent (frames the kernel took), refused (ENOBUFS/EAGAIN: the device queue was full;\n"
	      "not retried), late (with --rate: frames more than 10 ms overdue when the sender got its CPU\n"
	      "back, skipped rather than sent in a burst), offered_pps (sent / elapsed), gbps (frame\n"
	      "bytes without FCS), cpu_s (this process, user + system), elapsed_s.\n"
	      "Exit: 0 ok, 1 a socket error, 2 bad usage.\n",
	      f);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static int parse_uint(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A comma-separated list, each item parsed by fn into out[i]; returns the count or -1. */
static int parse_list(const char *arg, int (*fn)(const char *, void *), void *out, size_t item, unsigned max)
{
	char buf[4096];
	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	unsigned n = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == max || fn(t, (char *)out + n * item))
			return -1;
		n++;
	}
	return n ? (int)n : -1;
}

static int mac_item(const char *s, void *out)
{
	return parse_mac(s, out);
}

static int ip_item(const char *s, void *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	memcpy(out, &a.s_addr, 4);
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },    { "dst", required_argument, NULL, 'D' },
		{ "src", required_argument, NULL, 'S' },    { "vlan", required_argument, NULL, 'v' },
		{ "dst-ip", required_argument, NULL, 'I' }, { "src-ip", required_argument, NULL, 'i' },
		{ "dst-port", required_argument, NULL, 'P' }, { "flows", required_argument, NULL, 'f' },
		{ "first-flow", required_argument, NULL, 'F' }, { "size", required_argument, NULL, 'l' },
		{ "rate", required_argument, NULL, 'r' },   { "seconds", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },  { "batch", required_argument, NULL, 'b' },
		{ "seq", no_argument, NULL, 'q' },          { "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'Q' },        { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct opts){ .flows = 1, .size = 60, .batch = 64, .dst_port = 9, .seconds = 3.0,
			    .src = { 0x02, 0xdd, 0, 0, 0, 0x01 } };
	o->src_ip = htonl(0x0a4d0001);    /* 10.77.0.1 */
	o->dst_ip[0] = htonl(0x0a4d0002); /* 10.77.0.2 */
	o->n_dst_ip = 1;
	int c;
	unsigned long long v;
	char *end;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case 'd': o->dev = optarg; break;
		case 'D': {
			int n = parse_list(optarg, mac_item, o->dst, 6, MAX_DST);
			if (n < 0)
				bad = "--dst: MAC[,MAC...] (up to 64)";
			else
				o->n_dst = (unsigned)n;
			break;
		}
		case 'S': if (parse_mac(optarg, o->src)) bad = "--src: a MAC"; break;
		case 'v': if (parse_uint(optarg, 1, 4094, &v)) bad = "--vlan: 1..4094"; else o->vlan = (unsigned)v; break;
		case 'I': {
			int n = parse_list(optarg, ip_item, o->dst_ip, 4, MAX_DST);
			if (n < 0)
				bad = "--dst-ip: A.B.C.D[,...] (up to 64)";
			else
				o->n_dst_ip = (unsigned)n;
			break;
		}
		case 'i': if (ip_item(optarg, &o->src_ip)) bad = "--src-ip: A.B.C.D"; break;
		case 'P': if (parse_uint(optarg, 1, 65535, &v)) bad = "--dst-port: 1..65535"; else o->dst_port = (unsigned)v; break;
		case 'f': if (parse_uint(optarg, 1, MAX_FLOWS, &v)) bad = "--flows: 1..65536"; else o->flows = (unsigned)v; break;
		case 'F': if (parse_uint(optarg, 0, UINT32_MAX - MAX_FLOWS, &v)) bad = "--first-flow: a count"; else o->first_flow = (unsigned)v; break;
		case 'l': if (parse_uint(optarg, 60, MAX_FRAME, &v)) bad = "--size: 60..9018"; else o->size = (unsigned)v; break;
		case 'r':
			o->rate = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || !(o->rate >= 0.0) || o->rate > 1e9)
				bad = "--rate: frames per second, 0 for as fast as possible";
			break;
		case 't':
			o->seconds = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || !(o->seconds > 0.0) || o->seconds > 86400.0)
				bad = "--seconds: more than 0, at most 86400";
			break;
		case 'c': if (parse_uint(optarg, 1, UINT64_MAX, &v)) bad = "--count: a positive count"; else o->count = v; break;
		case 'b': if (parse_uint(optarg, 1, MAX_BATCH, &v)) bad = "--batch: 1..1024"; else o->batch = (unsigned)v; break;
		case 'q': o->seq = true; break;
		case 'j': o->json = true; break;
		case 'Q': o->quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "dvmq-blast: bad %s ('%s')\n", bad, optarg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dvmq-blast: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o->dev || !o->n_dst) {
		fprintf(stderr, "dvmq-blast: --dev and --dst are required\n");
		usage(stderr);
		return 2;
	}
	if (o->n_dst_ip != 1 && o->n_dst_ip != o->n_dst) {
		fprintf(stderr, "dvmq-blast: --dst-ip gives %u addresses for %u MACs (one, or one each)\n",
			o->n_dst_ip, o->n_dst);
		return 2;
	}
	unsigned least = HDR + (o->vlan ? 4u : 0u) + (o->seq ? (unsigned)sizeof(struct dvmq_seq_tag) : 0u);
	if (o->size < least) {
		fprintf(stderr, "dvmq-blast: --size %u is too short for the headers%s (%u bytes)\n", o->size,
			o->seq ? " and the tag" : "", least);
		return 2;
	}
	return -1;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t ip_checksum(const uint8_t *h)
{
	uint32_t s = 0;
	for (unsigned i = 0; i < 20; i += 2)
		s += (uint32_t)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)~s;
}

/* Flow f's frame into buf (o->size bytes). Returns the tag's offset. */
static unsigned build_frame(const struct opts *o, unsigned f, uint8_t *buf)
{
	memset(buf, 0, o->size);
	unsigned d = f % o->n_dst;
	memcpy(buf, o->dst[d], 6);
	memcpy(buf + 6, o->src, 6);
	unsigned off = 12;
	if (o->vlan) {
		put16(buf + 12, 0x8100);
		put16(buf + 14, (uint16_t)o->vlan);
		off = 16;
	}
	put16(buf + off, 0x0800);
	uint8_t *ip = buf + off + 2;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(o->size - off - 2));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &o->src_ip, 4);
	memcpy(ip + 16, &o->dst_ip[o->n_dst_ip == 1 ? 0 : d], 4);
	put16(ip + 10, ip_checksum(ip));
	uint8_t *udp = ip + 20;
	put16(udp, (uint16_t)(1024u + f % 64512u));
	put16(udp + 2, (uint16_t)o->dst_port);
	put16(udp + 4, (uint16_t)(o->size - off - 2 - 20));
	if (o->seq) {
		struct dvmq_seq_tag t = { .magic = DVMQ_SEQ_MAGIC, .flow = o->first_flow + f, .seq = 0 };
		memcpy(udp + 8, &t, sizeof(t));
	}
	return (unsigned)(udp + 8 - buf);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec * 1e-6;
}

static int open_socket(const char *dev)
{
	unsigned idx = if_nametoindex(dev);
	if (!idx) {
		fprintf(stderr, "dvmq-blast: no device '%s' here: %s\n", dev, strerror(errno));
		return -1;
	}
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: sends, receives nothing */
	if (fd < 0) {
		fprintf(stderr, "dvmq-blast: AF_PACKET socket: %s%s\n", strerror(errno),
			errno == EPERM ? " (needs root or CAP_NET_RAW)" : "");
		return -1;
	}
	int one = 1;
	/* best effort: without it (old kernels) frames go through the qdisc, still counted */
	(void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	int sndbuf = 4 << 20;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = (int)idx, .sll_protocol = 0 };
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "dvmq-blast: bind to %s: %s\n", dev, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct opts o;
	int code = parse_args(argc, argv, &o);
	if (code >= 0)
		return code;
	int fd = open_socket(o.dev);
	if (fd < 0)
		return 1;
	/* one frame per batch slot: a slot is rewritten (tag) only after sendmmsg copied it */
	uint8_t *tmpl = calloc(o.flows, o.size), *slots = calloc(o.batch, o.size);
	uint64_t *seq = calloc(o.flows, sizeof(*seq));
	struct mmsghdr *m = calloc(o.batch, sizeof(*m));
	struct iovec *iov = calloc(o.batch, sizeof(*iov));
	if (!tmpl || !slots || !seq || !m || !iov) {
		fprintf(stderr, "dvmq-blast: out of memory\n");
		return 1;
	}
	unsigned tag_off = 0;
	for (unsigned f = 0; f < o.flows; f++)
		tag_off = build_frame(&o, f, tmpl + (size_t)f * o.size);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	uint64_t sent = 0, refused = 0, calls = 0, late = 0;
	unsigned cursor = 0;
	int err = 0;
	double c0 = cpu_s(), t0 = now_s(), end = t0 + o.seconds, t = t0;
	while (!g_stop && t < end && (!o.count || sent + refused + late < o.count)) {
		uint64_t want = o.batch;
		if (o.rate > 0.0) {
			double due = (t - t0) * o.rate - (double)(sent + refused + late);
			if (due > o.rate * 0.01 + o.batch) {
				/* more than 10 ms behind (the sender lost its CPU): those frames are late,
				 * counted, not sent in a burst that the asked rate never meant */
				uint64_t skip = (uint64_t)(due - o.rate * 0.01);
				if (o.count && skip > o.count - sent - refused - late)
					skip = o.count - sent - refused - late;
				late += skip;
				due -= (double)skip;
			}
			if (o.count && sent + refused + late == o.count)
				break;
			if (due < 1.0) {
				/* ahead of the rate: wait for the next frame's time, at most 1 ms at once */
				double wait = (1.0 - due) / o.rate;
				struct timespec ts = { 0, (long)((wait < 1e-3 ? wait : 1e-3) * 1e9) };
				nanosleep(&ts, NULL);
				t = now_s();
				continue;
			}
			if ((uint64_t)due < want)
				want = (uint64_t)due;
		}
		if (o.count && o.count - sent - refused - late < want)
			want = o.count - sent - refused - late;
		for (unsigned i = 0; i < want; i++) {
			unsigned f = cursor;
			cursor = cursor + 1 == o.flows ? 0 : cursor + 1;
			uint8_t *fr = tmpl + (size_t)f * o.size;
			if (o.seq) {
				uint8_t *s = slots + (size_t)i * o.size;
				memcpy(s, fr, o.size);
				memcpy(s + tag_off + offsetof(struct dvmq_seq_tag, seq), &seq[f], sizeof(seq[f]));
				seq[f]++;
				fr = s;
			}
			iov[i] = (struct iovec){ fr, o.size };
			m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		unsigned done = 0;
		while (done < want) {
			int r = sendmmsg(fd, m + done, (unsigned)want - done, 0);
			calls++;
			if (r > 0) {
				done += (unsigned)r;
				sent += (unsigned)r;
				continue;
			}
			if (r < 0 && (errno == ENOBUFS || errno == EAGAIN)) {
				/* the device queue is full: this frame is not offered again (a sequence
				 * gap a receiver sees as such), the next ones are */
				done++;
				refused++;
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			err = errno;
			break;
		}
		if (err)
			break;
		t = now_s();
	}
	double elapsed = now_s() - t0, cpu = cpu_s() - c0;
	close(fd);
	if (err) {
		fprintf(stderr, "dvmq-blast: sendmmsg on %s: %s (after %llu frames)\n", o.dev, strerror(err),
			(unsigned long long)sent);
		return 1;
	}
	double pps = elapsed > 0 ? (double)sent / elapsed : 0.0;
	double gbps = pps * o.size * 8e-9;
	if (o.json)
		printf("{\"dev\": \"%s\", \"flows\": %u, \"destinations\": %u, \"size\": %u, \"rate_asked\": %.0f, "
		       "\"sent\": %llu, \"refused\": %llu, \"late\": %llu, \"sendmmsg_calls\": %llu, \"elapsed_s\": %.6f, "
		       "\"offered_pps\": %.0f, \"gbps\": %.4f, \"cpu_s\": %.4f, \"seq\": %s}\n",
		       o.dev, o.flows, o.n_dst, o.size, o.rate, (unsigned long long)sent, (unsigned long long)refused,
		       (unsigned long long)late, (unsigned long long)calls, elapsed, pps, gbps, cpu, o.seq ? "true" : "false");
	else if (!o.quiet)
		printf("dvmq-blast: %s: %llu frames of %u bytes in %.3f s: %.0f frames/s offered (%.3f Gbit/s), "
		       "%llu refused (device queue full), %llu late (--rate: the sender fell behind), %u flows to %u MACs, "
		       "%.3f CPU s\n",
		       o.dev, (unsigned long long)sent, o.size, elapsed, pps, gbps, (unsigned long long)refused,
		       (unsigned long long)late, o.flows, o.n_dst, cpu);
	free(tmpl);
	free(slots);
	free(seq);
	free(m);
	free(iov);
	return 0;
}
