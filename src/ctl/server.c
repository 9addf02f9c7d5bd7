/* The control socket server (include/dvmq/ctl.h): a unix stream socket, non-blocking, driven by
 * the caller's event loop through one epoll descriptor; every request runs through the registry
 * on the caller's thread.
 * Invariants: a client never holds more than DVMQ_CTL_MAX_LINE + READ_CHUNK bytes of input nor
 * (besides events) much more than OUT_HIGH bytes of replies: past OUT_HIGH the server stops
 * reading that client until it reads its replies; no client can stall another (no call blocks);
 * a line that never ends is answered `timeout` and its connection closed. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dvmq/ctl.h"

#define READ_CHUNK 16384u
#define IN_CAP (DVMQ_CTL_MAX_LINE + 1u + READ_CHUNK)
#define OUT_HIGH (64u * 1024u)  /* stop taking requests from a client whose replies pile up */
#define MAX_EVENTS 64

struct client {
	int fd;
	bool dead;         /* closed at the end of this dispatch */
	bool eof;          /* the peer shut its side: answer what is complete, then close */
	bool closing;      /* close as soon as the output is flushed */
	bool discarding;   /* inside an oversized line: drop bytes up to its '\n' */
	bool line_started; /* bytes of an unfinished line are pending (or being discarded) */
	uint64_t line_start_ns, last_ns;
	uint32_t events;   /* registered with epoll */
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off, out_cap;
	const char *subs[DVMQ_CTL_MAX_SUBSCRIPTIONS];
};

struct dvmq_ctl_server {
	struct dvmq_ctl_server_config cfg;
	struct dvmq_ctl_registry *reg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int listen_fd, lock_fd, epfd;
	ino_t sock_ino;
	struct client **clients;
	uint32_t n_clients;
	uint64_t now_ns;
};

static void slog(const struct dvmq_ctl_server *s, enum dvmq_ctl_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void slog(const struct dvmq_ctl_server *s, enum dvmq_ctl_log_level lvl, const char *fmt, ...)
{
	if (!s->cfg.log)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->cfg.log(s->cfg.log_ctx, lvl, msg);
}

static void set_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t len, const char *fmt, ...)
{
	if (!err || !len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* ---- output ---- */

static size_t out_pending(const struct client *c)
{
	return c->out_len - c->out_off;
}

static int out_append(struct client *c, const char *data, size_t len)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		if (c->out_off) { /* reuse the space already sent before growing */
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len)
			cap *= 2;
		if (cap != c->out_cap) {
			char *o = realloc(c->out, cap);
			if (!o)
				return -ENOMEM;
			c->out = o;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

static void flush(const struct dvmq_ctl_server *s, struct client *c)
{
	while (!c->dead && out_pending(c)) {
		ssize_t n = send(c->fd, c->out + c->out_off, out_pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_off += (size_t)n;
			c->last_ns = s->now_ns; /* a client that reads is not idle */
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true; /* EPIPE, ECONNRESET: the peer is gone */
			break;
		}
	}
	if (!out_pending(c)) {
		c->out_off = c->out_len = 0;
		if (c->closing)
			c->dead = true;
	}
}

static void send_error(struct dvmq_ctl_server *s, struct client *c, enum dvmq_ctl_errc code, const char *msg)
{
	struct dvmq_ctl_error e;
	dvmq_ctl_error_set(&e, code, "%s", msg);
	size_t len;
	char *line = dvmq_ctl_encode_error(NULL, &e, &len);
	if (!line || out_append(c, line, len) != 0) {
		slog(s, DVMQ_LOG_ERR, "control client %d: out of memory for a reply: closing it", c->fd);
		c->closing = true;
	}
	free(line);
}

/* ---- input ---- */

static void handle_line(struct dvmq_ctl_server *s, struct client *c, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	size_t lead = 0;
	while (lead < len && (line[lead] == ' ' || line[lead] == '\t'))
		lead++;
	if (lead == len)
		return; /* blank lines are allowed between requests */
	struct dvmq_ctl_outcome o;
	dvmq_ctl_registry_handle(s->reg, line + lead, len - lead, &o);
	if (!o.reply || out_append(c, o.reply, o.len) != 0) {
		slog(s, DVMQ_LOG_ERR, "control client %d: out of memory for a reply: closing it", c->fd);
		c->closing = true;
	} else if (o.code != DVMQ_CTL_OK) {
		slog(s, DVMQ_LOG_DEBUG, "control client %d: request refused: %s", c->fd, dvmq_ctl_error_name(o.code));
	}
	free(o.reply);
	for (unsigned i = 0; o.subscribe[i]; i++) {
		unsigned k = 0;
		while (k < DVMQ_CTL_MAX_SUBSCRIPTIONS - 1 && c->subs[k] && strcmp(c->subs[k], o.subscribe[i]) != 0)
			k++;
		if (k < DVMQ_CTL_MAX_SUBSCRIPTIONS - 1)
			c->subs[k] = o.subscribe[i];
	}
}

/* Runs the complete lines in the input buffer while the client reads its replies. */
static void process(struct dvmq_ctl_server *s, struct client *c)
{
	size_t start = 0;
	while (!c->closing && start < c->in_len && out_pending(c) < OUT_HIGH) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (c->discarding) {
			if (!nl) {
				start = c->in_len;
				break;
			}
			c->discarding = false;
		} else if (!nl) {
			if (c->in_len - start > DVMQ_CTL_MAX_LINE) {
				char msg[96];
				snprintf(msg, sizeof(msg), "request line over %u bytes: skipped up to its newline",
					 DVMQ_CTL_MAX_LINE);
				send_error(s, c, DVMQ_CTL_E_TOO_LARGE, msg);
				c->discarding = true;
				start = c->in_len;
			}
			break;
		} else {
			size_t len = (size_t)(nl - (c->in + start));
			if (len > DVMQ_CTL_MAX_LINE) {
				char msg[64];
				snprintf(msg, sizeof(msg), "request line over %u bytes", DVMQ_CTL_MAX_LINE);
				send_error(s, c, DVMQ_CTL_E_TOO_LARGE, msg);
			} else {
				handle_line(s, c, c->in + start, len);
			}
		}
		start = (size_t)(nl - c->in) + 1;
		c->line_started = false;
		c->last_ns = s->now_ns;
	}
	if (start) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if ((c->in_len || c->discarding) && !c->line_started) {
		c->line_started = true;
		c->line_start_ns = s->now_ns;
	}
	if (c->eof && !c->closing && out_pending(c) < OUT_HIGH) {
		/* everything complete is answered; what is left can never end */
		if (c->in_len && !c->discarding)
			send_error(s, c, DVMQ_CTL_E_PARSE, "truncated request: the stream ended before its newline");
		c->closing = true;
	}
}

static void client_read(struct dvmq_ctl_server *s, struct client *c)
{
	while (!c->eof && !c->closing && out_pending(c) < OUT_HIGH && IN_CAP - c->in_len >= READ_CHUNK) {
		ssize_t n = recv(c->fd, c->in + c->in_len, READ_CHUNK, MSG_DONTWAIT);
		if (n > 0) {
			c->in_len += (size_t)n;
			process(s, c);
		} else if (n == 0) {
			c->eof = true;
		} else if (errno == EINTR) {
			continue;
		} else {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			break;
		}
	}
	process(s, c);
}

/* Level-triggered interest: read while the client is allowed to send, write while output waits. */
static void update_events(struct dvmq_ctl_server *s, struct client *c)
{
	if (c->dead)
		return;
	uint32_t ev = 0;
	if (!c->eof && !c->closing && out_pending(c) < OUT_HIGH)
		ev |= EPOLLIN;
	if (out_pending(c))
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	struct epoll_event e = { .events = ev, .data.ptr = c };
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->events = ev;
	else
		c->dead = true;
}

/* ---- clients ---- */

static void client_free(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void accept_all(struct dvmq_ctl_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				slog(s, DVMQ_LOG_WARN, "control socket: accept: %s", strerror(errno));
			return;
		}
		if (s->n_clients >= s->cfg.max_clients) {
			struct dvmq_ctl_error e;
			dvmq_ctl_error_set(&e, DVMQ_CTL_E_BUSY, "too many control clients (%u)", s->cfg.max_clients);
			size_t len;
			char *line = dvmq_ctl_encode_error(NULL, &e, &len);
			if (line && send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				slog(s, DVMQ_LOG_DEBUG, "control socket: busy reply: %s", strerror(errno));
			free(line);
			close(fd);
			slog(s, DVMQ_LOG_WARN, "control socket: refused a client: %u connected", s->n_clients);
			continue;
		}
		struct client *c = calloc(1, sizeof(*c));
		if (c) {
			c->fd = fd;
			c->in = malloc(IN_CAP);
		}
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
		if (!c || !c->in || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
			slog(s, DVMQ_LOG_ERR, "control socket: cannot take a client: %s", c && c->in ? strerror(errno) : "out of memory");
			if (c)
				client_free(c);
			else
				close(fd);
			continue;
		}
		c->events = EPOLLIN;
		c->last_ns = s->now_ns;
		s->clients[s->n_clients++] = c;
	}
}

static uint64_t deadline(const struct dvmq_ctl_server *s, const struct client *c)
{
	if (c->line_started)
		return c->line_start_ns + s->cfg.request_timeout_ns;
	if (!out_pending(c) && (c->subs[0] || c->closing))
		return UINT64_MAX; /* a follower waits for events as long as it reads them */
	return c->last_ns + s->cfg.idle_timeout_ns; /* silent, or not reading its replies */
}

static void timeouts(struct dvmq_ctl_server *s)
{
	for (uint32_t i = 0; i < s->n_clients; i++) {
		struct client *c = s->clients[i];
		if (c->dead || s->now_ns < deadline(s, c))
			continue;
		char msg[96];
		if (c->line_started)
			snprintf(msg, sizeof(msg), "request not finished within %.3g s: closing", (double)s->cfg.request_timeout_ns * 1e-9);
		else
			snprintf(msg, sizeof(msg), "idle for %.3g s: closing", (double)s->cfg.idle_timeout_ns * 1e-9);
		slog(s, DVMQ_LOG_INFO, "control client %d: %s", c->fd, msg);
		send_error(s, c, DVMQ_CTL_E_TIMEOUT, msg);
		c->closing = true;
		flush(s, c);
		c->dead = true; /* a client that does not read its timeout reply is not waited for */
	}
}

static void reap(struct dvmq_ctl_server *s)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < s->n_clients; i++) {
		struct client *c = s->clients[i];
		if (c->dead) {
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
			client_free(c);
		} else {
			s->clients[k++] = c;
		}
	}
	s->n_clients = k;
}

int dvmq_ctl_server_dispatch(struct dvmq_ctl_server *s, uint64_t now_ns)
{
	s->now_ns = now_ns;
	struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(s->epfd, ev, MAX_EVENTS, 0);
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++) {
		struct client *c = ev[i].data.ptr;
		if (!c) {
			accept_all(s);
			continue;
		}
		if (c->dead)
			continue;
		if (ev[i].events & EPOLLOUT)
			flush(s, c);
		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			client_read(s, c);
		else if (!out_pending(c))
			process(s, c); /* replies drained: take the requests that waited */
		flush(s, c);
		/* requests already read wait for no event: while the socket takes the replies, answer
		 * them (pipelined requests whose replies passed OUT_HIGH stalled here) */
		while (!c->dead && !c->closing && c->in_len && out_pending(c) < OUT_HIGH) {
			size_t before = c->in_len;
			process(s, c);
			flush(s, c);
			if (c->in_len == before)
				break; /* a line not finished yet */
		}
		update_events(s, c);
	}
	timeouts(s);
	reap(s);
	return 0;
}

unsigned dvmq_ctl_server_publish(struct dvmq_ctl_server *s, const char *event, json_t *data)
{
	size_t len;
	char *line = dvmq_ctl_encode_event(event, data, &len);
	if (!line)
		return 0;
	unsigned reached = 0;
	for (uint32_t i = 0; i < s->n_clients; i++) {
		struct client *c = s->clients[i];
		bool want = false;
		for (unsigned k = 0; k < DVMQ_CTL_MAX_SUBSCRIPTIONS && c->subs[k] && !want; k++)
			want = strcmp(c->subs[k], event) == 0;
		if (!want || c->dead)
			continue;
		if (out_pending(c) + len > s->cfg.max_output_bytes || out_append(c, line, len) != 0) {
			slog(s, DVMQ_LOG_WARN, "control client %d: does not read its %s events: disconnected", c->fd, event);
			c->dead = true;
			continue;
		}
		flush(s, c);
		update_events(s, c);
		reached += !c->dead;
	}
	free(line);
	return reached; /* the dead are reaped by the next dispatch: this may run inside a handler */
}

/* ---- the socket ---- */

/* Holds PATH.lock for the server's life: two instances starting at once cannot both pass the
 * stale-socket check below. The inode check catches a lock file replaced between open and flock. */
static int take_lock(struct dvmq_ctl_server *s, char *err, size_t err_len)
{
	for (int tries = 0; tries < 3; tries++) {
		int fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			int rc = -errno;
			set_err(err, err_len, "cannot create %s: %s", s->lock_path, strerror(errno));
			return rc;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			int rc = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
			set_err(err, err_len, rc == -EADDRINUSE ? "another dvmq is running on %s (it holds %s)" : "%s: cannot lock %s",
				s->path, s->lock_path);
			close(fd);
			return rc;
		}
		struct stat a, b;
		if (fstat(fd, &a) == 0 && stat(s->lock_path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			s->lock_fd = fd;
			return 0;
		}
		close(fd);
	}
	set_err(err, err_len, "%s keeps changing: another dvmq is starting", s->lock_path);
	return -EADDRINUSE;
}

static int clear_stale(struct dvmq_ctl_server *s, const struct sockaddr_un *addr, char *err, size_t err_len)
{
	struct stat st;
	if (lstat(s->path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		set_err(err, err_len, "%s exists and is not a socket: refusing to replace it", s->path);
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ? 0 : errno;
	close(fd);
	if (rc == 0) {
		set_err(err, err_len, "another dvmq is running on %s (it accepts connections)", s->path);
		return -EADDRINUSE;
	}
	if (rc != ECONNREFUSED) {
		set_err(err, err_len, "cannot tell whether %s is in use: %s", s->path, strerror(rc));
		return -rc;
	}
	if (unlink(s->path) != 0 && errno != ENOENT) {
		rc = -errno;
		set_err(err, err_len, "cannot remove the stale socket %s: %s", s->path, strerror(errno));
		return rc;
	}
	slog(s, DVMQ_LOG_INFO, "removed the stale control socket %s (no process listened on it)", s->path);
	return 0;
}

/* Group ownership when the group exists; a user who may not give it away keeps his own. */
static void set_group(struct dvmq_ctl_server *s)
{
	struct group gr, *res = NULL;
	char buf[4096];
	if (getgrnam_r(s->cfg.group, &gr, buf, sizeof(buf), &res) != 0 || !res) {
		slog(s, DVMQ_LOG_DEBUG, "no group '%s': %s keeps its owner's group", s->cfg.group, s->path);
		return;
	}
	if (chown(s->path, (uid_t)-1, res->gr_gid) != 0)
		slog(s, DVMQ_LOG_WARN, "cannot give %s to group '%s': %s", s->path, s->cfg.group, strerror(errno));
}

static int open_socket(struct dvmq_ctl_server *s, char *err, size_t err_len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	memcpy(addr.sun_path, s->path, strlen(s->path) + 1);
	int rc = take_lock(s, err, err_len);
	if (!rc)
		rc = clear_stale(s, &addr, err, err_len);
	if (rc)
		return rc;
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0) {
		rc = errno == EADDRINUSE ? -EADDRINUSE : -errno;
		set_err(err, err_len, "cannot create the control socket %s: %s", s->path, strerror(errno));
		return rc;
	}
	struct stat st;
	if (chmod(s->path, s->cfg.mode) != 0 || stat(s->path, &st) != 0 || listen(s->listen_fd, 64) != 0) {
		rc = -errno;
		set_err(err, err_len, "cannot set up the control socket %s: %s", s->path, strerror(errno));
		unlink(s->path);
		return rc;
	}
	s->sock_ino = st.st_ino;
	set_group(s);
	return 0;
}

int dvmq_ctl_server_create(const struct dvmq_ctl_server_config *cfg, struct dvmq_ctl_registry *reg,
			   uint64_t now_ns, struct dvmq_ctl_server **out, char *err, size_t err_len)
{
	struct dvmq_ctl_server *s = calloc(1, sizeof(*s));
	if (!s) {
		set_err(err, err_len, "out of memory");
		return -ENOMEM;
	}
	s->listen_fd = s->lock_fd = s->epfd = -1;
	s->cfg = *cfg;
	s->reg = reg;
	s->now_ns = now_ns;
	const char *path = cfg->path ? cfg->path : DVMQ_CTL_DEFAULT_SOCKET;
	if (!s->cfg.mode)
		s->cfg.mode = 0660;
	if (!s->cfg.group)
		s->cfg.group = "dvmq";
	if (!s->cfg.request_timeout_ns)
		s->cfg.request_timeout_ns = 5000000000ull;
	if (!s->cfg.idle_timeout_ns)
		s->cfg.idle_timeout_ns = 60000000000ull;
	if (!s->cfg.max_clients)
		s->cfg.max_clients = 64;
	if (!s->cfg.max_output_bytes)
		s->cfg.max_output_bytes = 4u << 20;
	int rc;
	if (!*path || strlen(path) >= sizeof(s->path)) {
		set_err(err, err_len, "control socket path '%.200s' is empty or longer than %zu bytes", path, sizeof(s->path) - 1);
		rc = -ENAMETOOLONG;
		goto err_free;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(s->lock_path, sizeof(s->lock_path), "%s.lock", path);
	s->clients = calloc(s->cfg.max_clients, sizeof(*s->clients));
	if (!s->clients) {
		set_err(err, err_len, "out of memory");
		rc = -ENOMEM;
		goto err_free;
	}
	rc = open_socket(s, err, err_len);
	if (rc)
		goto err_close;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
	if (s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &e) != 0) {
		rc = -errno;
		set_err(err, err_len, "epoll: %s", strerror(errno));
		goto err_close;
	}
	*out = s;
	return 0;
err_close:
	dvmq_ctl_server_destroy(s);
	return rc;
err_free:
	free(s);
	return rc;
}

void dvmq_ctl_server_destroy(struct dvmq_ctl_server *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_clients; i++)
		client_free(s->clients[i]);
	free(s->clients);
	if (s->listen_fd >= 0) {
		/* only our own socket: a successor may already have replaced it */
		struct stat st;
		if (s->sock_ino && stat(s->path, &st) == 0 && st.st_ino == s->sock_ino)
			unlink(s->path);
		close(s->listen_fd);
	}
	if (s->lock_fd >= 0) {
		unlink(s->lock_path);
		close(s->lock_fd);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	free(s);
}

int dvmq_ctl_server_fd(const struct dvmq_ctl_server *s)
{
	return s->epfd;
}

int dvmq_ctl_server_timeout_ms(const struct dvmq_ctl_server *s, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;
	for (uint32_t i = 0; i < s->n_clients; i++) {
		uint64_t d = deadline(s, s->clients[i]);
		if (d < next)
			next = d;
	}
	if (next == UINT64_MAX)
		return -1;
	if (next <= now_ns)
		return 0;
	uint64_t ms = (next - now_ns + 999999ull) / 1000000ull;
	return ms > 60000 ? 60000 : (int)ms;
}

uint32_t dvmq_ctl_server_n_clients(const struct dvmq_ctl_server *s)
{
	return s->n_clients;
}

const char *dvmq_ctl_server_path(const struct dvmq_ctl_server *s)
{
	return s->path;
}
