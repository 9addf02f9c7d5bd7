/* Fixture for the kernel port tests: see port_fixture.h. */
#include "port_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

uint64_t pf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pf_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t w = write(fd, text, strlen(text));
		(void)w;
		close(fd);
	}
}

/* A namespace of our own: no IPv6 chatter on the test devices, loopback up. */
static void pf_ns_quiet(void)
{
	pf_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	pf_write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	pf_sh("ip link set lo up");
}

const char *pf_private_net(void)
{
	static char why[160];
	if (geteuid() != 0)
		return "needs root (network namespaces, TAP, AF_PACKET, BPF); CI runs it as root";
	if (unshare(CLONE_NEWNET) != 0) {
		snprintf(why, sizeof(why), "unshare(CLONE_NEWNET): %s", strerror(errno));
		return why;
	}
	if (pf_sh("ip -V >/dev/null 2>&1") != 0)
		return "needs iproute2's ip command";
	pf_ns_quiet();
	return NULL;
}

int pf_ns_self(void)
{
	return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

int pf_ns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) == 0 ? 0 : -errno;
}

int pf_ns_new(void)
{
	int self = pf_ns_self();
	if (self < 0)
		return -1;
	int fd = -1;
	if (unshare(CLONE_NEWNET) == 0) {
		pf_ns_quiet();
		fd = pf_ns_self();
		pf_ns_enter(self);
	}
	close(self);
	return fd;
}

int pf_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(NULL);
	int st = system(cmd);
	return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int pf_raw_open(const char *ifname)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one));
	int big = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)if_nametoindex(ifname) };
	if (sll.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
		int e = sll.sll_ifindex == 0 ? ENODEV : errno;
		close(fd);
		return -e;
	}
	return fd;
}

int pf_raw_send(int fd, const uint8_t *frame, uint32_t len)
{
	/* a link that went down left its error on the socket: the first send reports it */
	for (int tries = 0; tries < 2; tries++)
		if (send(fd, frame, len, 0) == (ssize_t)len)
			return 0;
	return -errno;
}

int pf_raw_send_many(int fd, uint8_t *const *frames, const uint32_t *lens, unsigned n)
{
	struct mmsghdr m[64];
	struct iovec iov[64];
	unsigned done = 0;
	while (done < n) {
		unsigned b = n - done < 64 ? n - done : 64;
		for (unsigned i = 0; i < b; i++) {
			iov[i] = (struct iovec){ frames[done + i], lens[done + i] };
			memset(&m[i], 0, sizeof(m[i]));
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		int r = sendmmsg(fd, m, b, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				usleep(1000);
				continue;
			}
			return -errno;
		}
		done += (unsigned)r;
	}
	return (int)n;
}

int pf_raw_recv(int fd, uint8_t *buf, uint32_t cap, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int pr = poll(&pfd, 1, timeout_ms);
	if (pr <= 0)
		return pr < 0 ? -errno : 0;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} ctl;
	struct iovec iov = { buf + 4, cap - 4 }; /* room to put a VLAN tag back */
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
	ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	uint32_t len = (uint32_t)r;
	memmove(buf, buf + 4, len);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
			continue;
		struct tpacket_auxdata aux;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if (!(aux.tp_status & TP_STATUS_VLAN_VALID) || len < 12 || len + 4 > cap)
			continue;
		uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid : ETH_P_8021Q;
		memmove(buf + 16, buf + 12, len - 12);
		buf[12] = (uint8_t)(tpid >> 8);
		buf[13] = (uint8_t)tpid;
		buf[14] = (uint8_t)(aux.tp_vlan_tci >> 8);
		buf[15] = (uint8_t)aux.tp_vlan_tci;
		len += 4;
	}
	return (int)len;
}

static uint32_t pf_sum(const uint8_t *b, uint32_t len, uint32_t s)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	return s;
}

static uint16_t pf_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

bool pf_csum_ok(const uint8_t *buf, uint32_t len, uint32_t sum)
{
	return pf_fold(pf_sum(buf, len, sum)) == 0xffffu;
}

uint32_t pf_frame(uint8_t *b, uint32_t len, const uint8_t dst[6], const uint8_t src[6], uint16_t vlan, uint32_t seq)
{
	memset(b, 0, len);
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	uint32_t l3 = 14;
	if (vlan) {
		b[12] = 0x81;
		b[13] = 0x00;
		b[14] = (uint8_t)(vlan >> 8);
		b[15] = (uint8_t)vlan;
		l3 = 18;
	}
	b[l3 - 2] = 0x08;
	b[l3 - 1] = 0x00;
	uint8_t *ip = b + l3, *udp = ip + 20;
	uint32_t ip_len = len - l3, udp_len = ip_len - 20;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (const uint8_t[]){ 10, 9, 0, 1 }, 4);
	memcpy(ip + 16, (const uint8_t[]){ 10, 9, 0, 2 }, 4);
	uint16_t c = (uint16_t)~pf_fold(pf_sum(ip, 20, 0));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = 0x9c;
	udp[1] = 0x40;
	udp[2] = 0x9c;
	udp[3] = 0x41;
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;
	uint8_t *pl = udp + 8;
	uint32_t magic = htonl(PF_MAGIC), s = htonl(seq);
	memcpy(pl, &magic, 4);
	memcpy(pl + 4, &s, 4);
	for (uint32_t i = 8; i < udp_len - 8; i++)
		pl[i] = (uint8_t)(seq * 7u + i);
	uint32_t ph = pf_sum(ip + 12, 8, 0) + 17u + udp_len;
	c = (uint16_t)~pf_fold(pf_sum(udp, udp_len, ph));
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;
	return len;
}

int64_t pf_frame_seq(const uint8_t *f, uint32_t len)
{
	uint32_t l3 = len >= 18 && f[12] == 0x81 && f[13] == 0x00 ? 18u : 14u;
	if (len < l3 + 28 + 8 || f[l3 - 2] != 0x08 || f[l3 - 1] != 0x00 || f[l3 + 9] != 17)
		return -1;
	uint32_t magic, seq;
	memcpy(&magic, f + l3 + 28, 4);
	memcpy(&seq, f + l3 + 32, 4);
	return ntohl(magic) == PF_MAGIC ? (int64_t)ntohl(seq) : -1;
}

int pf_port_collect(struct dvmq_port *p, uint8_t **frames, uint32_t *lens, uint32_t cap, unsigned want,
		    int timeout_ms, unsigned *max_burst)
{
	uint64_t end = pf_now_ms() + (uint64_t)timeout_ms;
	unsigned got = 0;
	if (max_burst)
		*max_burst = 0;
	while (got < want) {
		struct dvmq_pkt pk[DVMQ_BURST];
		int n = dvmq_port_rx_burst(p, pk, DVMQ_BURST);
		if (n < 0)
			return n;
		if (max_burst && (unsigned)n > *max_burst)
			*max_burst = (unsigned)n;
		for (int i = 0; i < n && got < want; i++) {
			if (pf_frame_seq(pk[i].data, pk[i].len) < 0)
				continue;
			lens[got] = pk[i].len < cap ? pk[i].len : cap;
			memcpy(frames[got], pk[i].data, lens[got]);
			got++;
		}
		if (n > 0)
			continue;
		uint64_t now = pf_now_ms();
		if (now >= end)
			break;
		struct pollfd pfd = { .fd = dvmq_port_fd(p), .events = POLLIN };
		poll(&pfd, 1, (int)(end - now < 50 ? end - now : 50));
	}
	return (int)got;
}

int pf_drop_caps(const int *caps)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &h, d) != 0)
		return -errno;
	for (const int *c = caps; *c >= 0; c++)
		d[*c / 32].effective &= ~(1u << (*c % 32));
	return syscall(SYS_capset, &h, d) == 0 ? 0 : -errno;
}

struct pf_fwd {
	struct dvmq_port *p[2];
	bool offload, spin;
	_Atomic bool stop;
	uint64_t moved[2];
	pthread_t thr;
};

static unsigned pf_fwd_move(struct pf_fwd *f, int from)
{
	struct dvmq_pkt pk[DVMQ_BURST];
	struct dvmq_offload off[DVMQ_BURST];
	int n = f->offload ? dvmq_port_rx_burst_off(f->p[from], pk, off, DVMQ_BURST)
			   : dvmq_port_rx_burst(f->p[from], pk, DVMQ_BURST);
	if (n <= 0)
		return 0;
	if (f->offload)
		dvmq_port_tx_burst_off(f->p[!from], pk, off, (unsigned)n, 0);
	else
		dvmq_port_tx_burst(f->p[!from], pk, (unsigned)n, 0);
	f->moved[from] += (unsigned)n;
	return (unsigned)n;
}

static void *pf_fwd_run(void *arg)
{
	struct pf_fwd *f = arg;
	while (!atomic_load(&f->stop)) {
		unsigned n = pf_fwd_move(f, 0) + pf_fwd_move(f, 1);
		if (n || f->spin)
			continue;
		struct pollfd pfd[2] = { { .fd = dvmq_port_fd(f->p[0]), .events = POLLIN },
					 { .fd = dvmq_port_fd(f->p[1]), .events = POLLIN } };
		poll(pfd, 2, 20);
	}
	return NULL;
}

int pf_fwd_start(struct dvmq_port *a, struct dvmq_port *b, bool offload, bool spin, struct pf_fwd **out)
{
	struct pf_fwd *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->p[0] = a;
	f->p[1] = b;
	f->offload = offload;
	f->spin = spin;
	int rc = pthread_create(&f->thr, NULL, pf_fwd_run, f);
	if (rc) {
		free(f);
		return -rc;
	}
	*out = f;
	return 0;
}

void pf_fwd_stop(struct pf_fwd *f, uint64_t *a_to_b, uint64_t *b_to_a)
{
	if (!f)
		return;
	atomic_store(&f->stop, true);
	pthread_join(f->thr, NULL);
	if (a_to_b)
		*a_to_b = f->moved[0];
	if (b_to_a)
		*b_to_a = f->moved[1];
	free(f);
}

static uint8_t pf_pattern(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

struct pf_server {
	int lfd;
	uint64_t want, got, bad_at;
	bool bad;
	int timeout_ms;
};

static void *pf_server_run(void *arg)
{
	struct pf_server *s = arg;
	struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
	if (poll(&pfd, 1, s->timeout_ms) <= 0)
		return NULL;
	int c = accept(s->lfd, NULL, NULL);
	if (c < 0)
		return NULL;
	static uint8_t buf[1 << 16];
	uint64_t end = pf_now_ms() + (uint64_t)s->timeout_ms;
	while (s->got < s->want && pf_now_ms() < end) {
		struct pollfd cp = { .fd = c, .events = POLLIN };
		if (poll(&cp, 1, 100) <= 0)
			continue;
		ssize_t r = recv(c, buf, sizeof(buf), MSG_DONTWAIT);
		if (r <= 0) {
			if (r < 0 && errno == EAGAIN)
				continue;
			break;
		}
		for (ssize_t i = 0; i < r && !s->bad; i++)
			if (buf[i] != pf_pattern(s->got + (uint64_t)i)) {
				s->bad = true;
				s->bad_at = s->got + (uint64_t)i;
			}
		s->got += (uint64_t)r;
	}
	close(c);
	return NULL;
}

/* A TCP socket made in namespace ns (sockets stay in the namespace they were made in). */
static int pf_socket_in(int ns)
{
	int self = pf_ns_self();
	if (self < 0 || pf_ns_enter(ns) != 0) {
		if (self >= 0)
			close(self);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pf_ns_enter(self);
	close(self);
	return fd;
}

int pf_tcp_transfer(int ns_cli, int ns_srv, const char *addr, uint16_t port, uint64_t bytes, int timeout_ms,
		    double *gbps, char *why, size_t why_len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, addr, &sa.sin_addr);
	struct pf_server s = { .want = bytes, .timeout_ms = timeout_ms };
	s.lfd = pf_socket_in(ns_srv);
	int one = 1, rc = -1;
	int cfd = pf_socket_in(ns_cli);
	pthread_t thr;
	bool started = false;
	if (s.lfd < 0 || cfd < 0) {
		snprintf(why, why_len, "sockets: %s", strerror(errno));
		goto out;
	}
	setsockopt(s.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s.lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s.lfd, 1) != 0) {
		snprintf(why, why_len, "server bind/listen: %s", strerror(errno));
		goto out;
	}
	if (pthread_create(&thr, NULL, pf_server_run, &s) != 0)
		goto out;
	started = true;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(why, why_len, "connect: %s", strerror(errno));
		goto out;
	}
	static uint8_t chunk[1 << 16];
	uint64_t t0 = pf_now_ms(), sent = 0;
	while (sent < bytes) {
		size_t n = bytes - sent < sizeof(chunk) ? (size_t)(bytes - sent) : sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = pf_pattern(sent + i);
		ssize_t w = send(cfd, chunk, n, MSG_NOSIGNAL);
		if (w <= 0) {
			snprintf(why, why_len, "send after %llu bytes: %s", (unsigned long long)sent,
				 w < 0 ? strerror(errno) : "closed");
			goto out;
		}
		sent += (uint64_t)w;
	}
	shutdown(cfd, SHUT_WR);
	pthread_join(thr, NULL);
	started = false;
	double s_el = (double)(pf_now_ms() - t0) / 1000.0;
	if (gbps)
		*gbps = s_el > 0 ? (double)bytes * 8.0 / s_el / 1e9 : 0;
	if (s.bad)
		snprintf(why, why_len, "byte %llu arrived corrupted", (unsigned long long)s.bad_at);
	else if (s.got != bytes)
		snprintf(why, why_len, "server received %llu of %llu bytes", (unsigned long long)s.got,
			 (unsigned long long)bytes);
	else
		rc = 0;
out:
	if (cfd >= 0)
		close(cfd);
	if (s.lfd >= 0)
		shutdown(s.lfd, SHUT_RDWR);
	if (started)
		pthread_join(thr, NULL);
	if (s.lfd >= 0)
		close(s.lfd);
	return rc;
}

int pf_topo_open(struct pf_topo *t, pf_open_fn uplink, const struct dvmq_port_kopts *uplink_opts, bool tap_offload,
		 char *err, size_t err_len)
{
	memset(t, 0, sizeof(*t));
	t->here = pf_ns_self();
	t->ns_a = pf_ns_new();
	t->ns_b = pf_ns_new();
	int pid = (int)getpid(), rc = 0;
	if (t->here < 0 || t->ns_a < 0 || t->ns_b < 0)
		return snprintf(err, err_len, "namespaces: %s", strerror(errno)), -EIO;
	if (pf_sh("ip link add dvtpb type veth peer name dvtpa && ip link set dvtpa netns /proc/%d/fd/%d && "
		  "ip link set dvtpb up", pid, t->ns_a) != 0)
		return snprintf(err, err_len, "veth dvtpa/dvtpb"), -EIO;
	const char *b_if = "dvtpt";
	if (!uplink) {
		b_if = "dvtpd";
		if (pf_sh("ip link add dvtpbr type bridge && ip link set dvtpbr up && ip link set dvtpb master dvtpbr && "
			  "ip link add dvtpc type veth peer name dvtpd && ip link set dvtpd netns /proc/%d/fd/%d && "
			  "ip link set dvtpc master dvtpbr && ip link set dvtpc up", pid, t->ns_b) != 0)
			return snprintf(err, err_len, "bridge dvtpbr"), -EIO;
	} else {
		struct dvmq_port_kopts to = { .offload = tap_offload };
		if ((rc = uplink("dvtpb", uplink_opts, &t->up, err, err_len)) != 0)
			return rc;
		if ((rc = dvmq_port_tap_open("dvtpt", &to, &t->tap, err, err_len)) != 0)
			return rc;
		if (pf_sh("ip link set dvtpt netns /proc/%d/fd/%d", pid, t->ns_b) != 0)
			return snprintf(err, err_len, "moving the TAP"), -EIO;
	}
	pf_ns_enter(t->ns_a);
	rc = pf_sh("ip addr add 10.9.0.1/24 dev dvtpa && ip link set dvtpa up");
	/* veth hands its peer's frames over with checksums left to do; AF_XDP carries no offload
	 * metadata to say so (a NIC never does this): A must complete its checksums itself */
	if (rc == 0 && uplink == dvmq_port_afxdp_open)
		rc = pf_sh("ethtool -K dvtpa tx off >/dev/null");
	pf_ns_enter(t->ns_b);
	if (rc == 0)
		rc = pf_sh("ip addr add 10.9.0.2/24 dev %s && ip link set %s up", b_if, b_if);
	pf_ns_enter(t->here);
	return rc ? (snprintf(err, err_len, "addresses"), -EIO) : 0;
}

void pf_topo_close(struct pf_topo *t)
{
	dvmq_port_destroy(t->up);
	dvmq_port_destroy(t->tap);
	pf_sh("ip link del dvtpb 2>/dev/null; ip link del dvtpbr 2>/dev/null; ip link del dvtpc 2>/dev/null; true");
	if (t->ns_a >= 0)
		close(t->ns_a);
	if (t->ns_b >= 0)
		close(t->ns_b);
	if (t->here >= 0)
		close(t->here);
	memset(t, 0, sizeof(*t));
}

struct pf_echo {
	int fd;
	_Atomic bool stop;
};

static void *pf_echo_run(void *arg)
{
	struct pf_echo *e = arg;
	uint8_t buf[256];
	while (!atomic_load(&e->stop)) {
		struct pollfd pfd = { .fd = e->fd, .events = POLLIN };
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(e->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (r > 0)
			sendto(e->fd, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static int pf_udp_in(int ns)
{
	int self = pf_ns_self();
	pf_ns_enter(ns);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	pf_ns_enter(self);
	close(self);
	return fd;
}

int pf_udp_rtt(int ns_cli, int ns_srv, const char *addr, uint16_t port, unsigned n, unsigned gap_us, double *rtt_us)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, addr, &sa.sin_addr);
	struct pf_echo e = { .fd = pf_udp_in(ns_srv) };
	int c = pf_udp_in(ns_cli), answered = 0;
	pthread_t thr;
	if (e.fd < 0 || c < 0 || bind(e.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    pthread_create(&thr, NULL, pf_echo_run, &e) != 0) {
		if (e.fd >= 0)
			close(e.fd);
		if (c >= 0)
			close(c);
		return -1;
	}
	connect(c, (struct sockaddr *)&sa, sizeof(sa));
	for (unsigned i = 0; i < n; i++) {
		struct timespec a, b;
		uint32_t tag = i, got = UINT32_MAX;
		clock_gettime(CLOCK_MONOTONIC, &a);
		send(c, &tag, sizeof(tag), 0);
		rtt_us[i] = -1;
		while (got != tag) {
			struct pollfd pfd = { .fd = c, .events = POLLIN };
			if (poll(&pfd, 1, 1000) <= 0)
				break;
			if (recv(c, &got, sizeof(got), 0) != sizeof(got))
				break;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (got == tag) {
			rtt_us[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
			answered++;
		}
		usleep(gap_us);
	}
	atomic_store(&e.stop, true);
	pthread_join(thr, NULL);
	close(e.fd);
	close(c);
	return answered;
}
