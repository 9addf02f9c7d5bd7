/* The control client (include/dvmq/ctl.h): one connection, blocking calls with timeouts.
 * Invariant: replies are matched to requests by id; event lines that arrive before a reply are
 * kept, in order, for dvmq_ctl_client_next_event. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dvmq/ctl.h"

struct pending_event {
	struct pending_event *next;
	char *line;
	size_t len;
};

struct dvmq_ctl_client {
	int fd;
	json_int_t next_id;
	char *in;
	size_t in_len, in_cap;
	struct pending_event *ev_head, *ev_tail;
};

int dvmq_ctl_client_open(const char *path, struct dvmq_ctl_client **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (!path || !*path || strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	struct dvmq_ctl_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->next_id = 1;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0) {
		int rc = -errno;
		dvmq_ctl_client_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void dvmq_ctl_client_close(struct dvmq_ctl_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	while (c->ev_head) {
		struct pending_event *e = c->ev_head;
		c->ev_head = e->next;
		free(e->line);
		free(e);
	}
	free(c->in);
	free(c);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until `end` (-1: forever). */
static int left_ms(int64_t end)
{
	if (end < 0)
		return -1;
	int64_t l = end - now_ms();
	return l < 0 ? 0 : l > 1000000 ? 1000000 : (int)l;
}

static int send_all(struct dvmq_ctl_client *c, const char *buf, size_t len, int64_t end)
{
	while (len) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return errno == EPIPE ? -ECONNRESET : -errno;
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		int r = poll(&p, 1, left_ms(end));
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Reads until a whole line is buffered; returns its length (without '\n') or -errno. */
static ssize_t read_line(struct dvmq_ctl_client *c, int64_t end)
{
	size_t scanned = 0;
	for (;;) {
		char *nl = c->in_len > scanned ? memchr(c->in + scanned, '\n', c->in_len - scanned) : NULL;
		if (nl)
			return nl - c->in;
		scanned = c->in_len;
		if (c->in_len > DVMQ_CTL_MAX_REPLY)
			return -EMSGSIZE;
		if (c->in_cap - c->in_len < 4096) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 65536;
			char *n = realloc(c->in, cap);
			if (!n)
				return -ENOMEM;
			c->in = n;
			c->in_cap = cap;
		}
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r = poll(&p, 1, left_ms(end));
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -errno;
		}
		c->in_len += (size_t)n;
	}
}

static void consume(struct dvmq_ctl_client *c, size_t len)
{
	memmove(c->in, c->in + len + 1, c->in_len - len - 1);
	c->in_len -= len + 1;
}

static int keep_event(struct dvmq_ctl_client *c, size_t len)
{
	struct pending_event *e = calloc(1, sizeof(*e));
	char *line = malloc(len ? len : 1);
	if (!e || !line) {
		free(e);
		free(line);
		return -ENOMEM;
	}
	memcpy(line, c->in, len);
	e->line = line;
	e->len = len;
	if (c->ev_tail)
		c->ev_tail->next = e;
	else
		c->ev_head = e;
	c->ev_tail = e;
	return 0;
}

int dvmq_ctl_client_call(struct dvmq_ctl_client *c, const char *cmd, json_t *args, int timeout_ms,
			 struct dvmq_ctl_reply *rep, struct dvmq_ctl_error *err)
{
	memset(rep, 0, sizeof(*rep));
	int64_t end = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	json_int_t id = c->next_id++;
	size_t len;
	char *line = dvmq_ctl_encode_request(id, cmd, args, &len);
	if (!line)
		return -ENOMEM;
	int rc = send_all(c, line, len, end);
	free(line);
	while (rc == 0) {
		ssize_t n = read_line(c, end);
		if (n < 0)
			return (int)n;
		rc = dvmq_ctl_decode_reply(c->in, (size_t)n, rep, err);
		if (rc == 0 && rep->is_event) {
			dvmq_ctl_reply_clear(rep);
			rc = keep_event(c, (size_t)n);
		} else if (rc == 0 && rep->id != id) {
			/* the server answers a line it could not read with id null: that is ours */
			if (rep->id != -1) {
				long long got = (long long)rep->id;
				dvmq_ctl_reply_clear(rep);
				dvmq_ctl_error_set(err, DVMQ_CTL_E_PARSE, "reply to request %lld while waiting for %lld", got,
						   (long long)id);
				rc = -EPROTO;
			}
			consume(c, (size_t)n);
			return rc;
		} else {
			consume(c, (size_t)n);
			return rc;
		}
		consume(c, (size_t)n);
	}
	return rc;
}

int dvmq_ctl_client_next_event(struct dvmq_ctl_client *c, int timeout_ms, struct dvmq_ctl_reply *rep,
			       struct dvmq_ctl_error *err)
{
	memset(rep, 0, sizeof(*rep));
	if (c->ev_head) {
		struct pending_event *e = c->ev_head;
		c->ev_head = e->next;
		if (!c->ev_head)
			c->ev_tail = NULL;
		int rc = dvmq_ctl_decode_reply(e->line, e->len, rep, err);
		free(e->line);
		free(e);
		return rc;
	}
	int64_t end = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		ssize_t n = read_line(c, end);
		if (n < 0)
			return (int)n;
		int rc = dvmq_ctl_decode_reply(c->in, (size_t)n, rep, err);
		consume(c, (size_t)n);
		if (rc || rep->is_event)
			return rc;
		if (rep->error.code == DVMQ_CTL_E_TIMEOUT || rep->error.code == DVMQ_CTL_E_BUSY) {
			dvmq_ctl_reply_clear(rep);
			return -ECONNRESET; /* the server is closing this connection */
		}
		dvmq_ctl_reply_clear(rep); /* a stray reply: not an event */
	}
}
