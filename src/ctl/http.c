/* The metrics page: libmicrohttpd on a thread of its own serves GET /metrics, rendered from the
 * publisher's latest snapshot (include/dvmq/ctl_state.h).
 * Invariant: this thread reads only the publisher (a snapshot reference per request) and never
 * touches the engine or the data plane; the control thread never waits for it. We open the
 * listening socket ourselves so a refused address comes back as a precise errno; once the daemon
 * runs, the socket is libmicrohttpd's (MHD_stop_daemon closes it). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dvmq/ctl_state.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct dvmq_metrics_http {
	struct MHD_Daemon *mhd;
	struct dvmq_snapshot_pub *pub;
	uint16_t port;
	int fd;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
			     const char *type, bool must_free)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, must_free ? MHD_RESPMEM_MUST_FREE
										      : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static char *const_text(const char *s)
{
	return (char *)(uintptr_t)s; /* MHD_RESPMEM_PERSISTENT never writes to it */
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	(void)version;
	(void)upload_data;
	(void)req_cls;
	struct dvmq_metrics_http *h = cls;
	if (*upload_data_size)
		return MHD_NO; /* no request here has a body */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		static const char m[] = "only GET and HEAD\n";
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, const_text(m), sizeof(m) - 1, "text/plain", false);
	}
	if (strcmp(url, "/metrics") != 0) {
		static const char m[] = "dvmq: the metrics are at /metrics\n";
		return reply(conn, MHD_HTTP_NOT_FOUND, const_text(m), sizeof(m) - 1, "text/plain", false);
	}
	struct dvmq_snapshot *s = dvmq_snapshot_acquire(h->pub);
	if (!s) {
		static const char m[] = "dvmq: starting, no state published yet\n";
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, const_text(m), sizeof(m) - 1, "text/plain", false);
	}
	char *body;
	size_t len;
	int rc = dvmq_prom_render(s, &body, &len);
	dvmq_snapshot_unref(s);
	if (rc) {
		static const char m[] = "dvmq: out of memory\n";
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, const_text(m), sizeof(m) - 1, "text/plain", false);
	}
	return reply(conn, MHD_HTTP_OK, body, len, CONTENT_TYPE, true);
}

static void set_err(char *err, size_t len, const char *what, const char *addr, uint16_t port, int e)
{
	if (err && len)
		snprintf(err, len, "metrics page on %s port %u: %s: %s", addr, port, what, strerror(e));
}

static int listen_on(const char *addr, uint16_t port, int *fd_out, char *err, size_t err_len)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t sl;
	struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&ss;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		sl = sizeof(*in4);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		sl = sizeof(*in6);
	} else {
		set_err(err, err_len, "not an IPv4 or IPv6 address", addr, port, EINVAL);
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 32) != 0) {
		int e = errno;
		set_err(err, err_len, "cannot listen", addr, port, e);
		if (fd >= 0)
			close(fd);
		return -e;
	}
	*fd_out = fd;
	return 0;
}

int dvmq_metrics_http_start(const struct dvmq_metrics_http_config *cfg, struct dvmq_snapshot_pub *pub,
			    struct dvmq_metrics_http **out, char *err, size_t err_len)
{
	const char *addr = cfg->address ? cfg->address : "127.0.0.1";
	struct dvmq_metrics_http *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->pub = pub;
	h->fd = -1;
	int rc = listen_on(addr, cfg->port, &h->fd, err, err_len);
	if (rc)
		goto err_free;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(h->fd, (struct sockaddr *)&ss, &sl) != 0) {
		rc = -errno;
		set_err(err, err_len, "getsockname", addr, cfg->port, errno);
		goto err_close;
	}
	h->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)(void *)&ss)->sin_port
						: ((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
	h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, handle, h,
				  MHD_OPTION_LISTEN_SOCKET, h->fd, MHD_OPTION_CONNECTION_LIMIT, 32u,
				  MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!h->mhd) {
		rc = -EIO;
		set_err(err, err_len, "libmicrohttpd refused to start", addr, cfg->port, EIO);
		/* it refuses bad options with the socket untouched; should a later failure have closed
		 * it already, closing again could hit a descriptor opened since */
		if (fcntl(h->fd, F_GETFD) == -1)
			goto err_free;
		goto err_close;
	}
	*out = h;
	return 0;
err_close:
	close(h->fd);
err_free:
	free(h);
	return rc;
}

uint16_t dvmq_metrics_http_port(const struct dvmq_metrics_http *h)
{
	return h->port;
}

void dvmq_metrics_http_stop(struct dvmq_metrics_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd); /* joins its thread and closes the listening socket it was given */
	free(h);
}
