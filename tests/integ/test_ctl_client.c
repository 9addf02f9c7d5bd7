/* The blocking control client against a server on a thread of its own (as the daemon's control
 * thread will run it), the client's errors (no daemon, permission, timeout, a daemon that goes
 * away), and the metrics page over real HTTP. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../harness.h"
#include "../unit/ctl_fixture.h"

/* A server whose every call (and the fake state) lives on its own thread. */
struct served {
	struct ctl_fake f;
	struct dvmq_ctl_state st;
	struct dvmq_ctl_registry *reg;
	struct dvmq_ctl_server *srv;
	pthread_t thread;
	bool threaded;
	int wake[2];
	atomic_bool stop;
};

static void *serve(void *arg)
{
	struct served *s = arg;
	while (!atomic_load(&s->stop)) {
		uint64_t now = ctl_test_mono_ns();
		struct pollfd p[2] = { { .fd = dvmq_ctl_server_fd(s->srv), .events = POLLIN }, { .fd = s->wake[0], .events = POLLIN } };
		poll(p, 2, dvmq_ctl_server_timeout_ms(s->srv, now));
		dvmq_ctl_server_dispatch(s->srv, ctl_test_mono_ns());
	}
	return NULL;
}

static int served_start(struct served *s, bool thread)
{
	memset(s, 0, sizeof(*s));
	ctl_fake_init(&s->f, 2);
	s->st = (struct dvmq_ctl_state){ &ctl_fake_ops, &s->f };
	struct dvmq_ctl_server_config cfg = { .path = ctl_test_sock_path() };
	if (pipe(s->wake) || dvmq_ctl_registry_create("test", &s->reg) || dvmq_ctl_commands_register(s->reg, &s->st) ||
	    dvmq_ctl_server_create(&cfg, s->reg, ctl_test_mono_ns(), &s->srv, NULL, 0))
		return -1;
	/* two VMs on processor 0: a rebalance moves web-1 */
	if (ctl_fake_add(&s->f, "web-1", "02:00:00:00:00:01", 100, 0.3))
		return -1;
	s->f.next_proc = 0;
	if (ctl_fake_add(&s->f, "web-2", "02:00:00:00:00:03", 100, 0.2))
		return -1;
	s->f.on_move = ctl_fake_publish_move;
	s->f.on_move_ctx = s->srv;
	if (thread && pthread_create(&s->thread, NULL, serve, s) != 0)
		return -1;
	s->threaded = thread;
	return 0;
}

static void served_stop(struct served *s)
{
	atomic_store(&s->stop, true);
	if (s->threaded && write(s->wake[1], "x", 1) == 1)
		pthread_join(s->thread, NULL);
	close(s->wake[1]);
	close(s->wake[0]);
	dvmq_ctl_server_destroy(s->srv);
	dvmq_ctl_registry_destroy(s->reg);
}

TEST(ctl_client_calls_a_serving_thread)
{
	struct served s;
	CHECK(served_start(&s, true) == 0);
	struct dvmq_ctl_client *c;
	CHECK(dvmq_ctl_client_open(ctl_test_sock_path(), &c) == 0);
	struct dvmq_ctl_reply rep;
	struct dvmq_ctl_error err;
	CHECK(dvmq_ctl_client_call(c, "version", NULL, 2000, &rep, &err) == 0);
	CHECK(rep.error.code == DVMQ_CTL_OK && strcmp(json_string_value(json_object_get(rep.result, "version")), "test") == 0);
	dvmq_ctl_reply_clear(&rep);
	CHECK(dvmq_ctl_client_call(c, "vm.add", json_pack("{s:s, s:s, s:s}", "name", "db", "mac", "02:00:00:00:00:02", "port", "sink"), 2000,
				   &rep, &err) == 0);
	CHECK(rep.error.code == DVMQ_CTL_OK);
	dvmq_ctl_reply_clear(&rep);
	CHECK(dvmq_ctl_client_call(c, "vm.remove", json_pack("{s:s}", "name", "nope"), 2000, &rep, &err) == 0);
	CHECK(rep.error.code == DVMQ_CTL_E_UNKNOWN_VM && strcmp(rep.error.msg, "unknown VM 'nope'") == 0);
	dvmq_ctl_reply_clear(&rep);
	/* many calls on one connection, and a second client at the same time */
	struct dvmq_ctl_client *c2;
	CHECK(dvmq_ctl_client_open(ctl_test_sock_path(), &c2) == 0);
	for (int i = 0; i < 200; i++) {
		struct dvmq_ctl_client *who = i % 2 ? c : c2;
		CHECK(dvmq_ctl_client_call(who, "queue.show", NULL, 2000, &rep, &err) == 0 && rep.error.code == DVMQ_CTL_OK);
		CHECK(json_array_size(json_object_get(rep.result, "queues")) == 4);
		dvmq_ctl_reply_clear(&rep);
	}
	dvmq_ctl_client_close(c2);
	dvmq_ctl_client_close(c);
	served_stop(&s);
}

TEST(ctl_client_follows_events)
{
	struct served s;
	CHECK(served_start(&s, true) == 0);
	struct dvmq_ctl_client *fol, *cmd;
	CHECK(dvmq_ctl_client_open(ctl_test_sock_path(), &fol) == 0 && dvmq_ctl_client_open(ctl_test_sock_path(), &cmd) == 0);
	struct dvmq_ctl_reply rep;
	struct dvmq_ctl_error err;
	CHECK(dvmq_ctl_client_call(fol, "moves", json_pack("{s:b}", "follow", 1), 2000, &rep, &err) == 0);
	dvmq_ctl_reply_clear(&rep);
	/* no event yet: a bounded wait says so */
	CHECK(dvmq_ctl_client_next_event(fol, 50, &rep, &err) == -ETIMEDOUT);
	/* the fake publishes (served_start set on_move) from the serving thread, in the handler */
	CHECK(dvmq_ctl_client_call(cmd, "rebalance", NULL, 2000, &rep, &err) == 0);
	CHECK(json_array_size(json_object_get(rep.result, "moves")) == 1);
	dvmq_ctl_reply_clear(&rep);
	CHECK(dvmq_ctl_client_next_event(fol, 2000, &rep, &err) == 0);
	CHECK(rep.is_event && strcmp(rep.event, "move") == 0 && json_integer_value(json_object_get(rep.result, "to")) == 1);
	dvmq_ctl_reply_clear(&rep);
	dvmq_ctl_client_close(fol);
	dvmq_ctl_client_close(cmd);
	served_stop(&s);
}

TEST(ctl_client_errors)
{
	struct dvmq_ctl_client *c;
	CHECK(dvmq_ctl_client_open(ctl_test_sock_path(), &c) == -ENOENT);
	CHECK(dvmq_ctl_client_open("", &c) == -ENAMETOOLONG);
	struct served s;
	CHECK(served_start(&s, false) == 0); /* nobody dispatches: calls time out */
	CHECK(dvmq_ctl_client_open(ctl_test_sock_path(), &c) == 0);
	struct dvmq_ctl_reply rep;
	struct dvmq_ctl_error err;
	CHECK(dvmq_ctl_client_call(c, "version", NULL, 100, &rep, &err) == -ETIMEDOUT);
	served_stop(&s); /* the daemon goes away: the connection is closed under the client */
	CHECK(dvmq_ctl_client_call(c, "version", NULL, 1000, &rep, &err) == -ECONNRESET);
	dvmq_ctl_client_close(c);
	dvmq_ctl_client_close(NULL);
}

TEST(ctl_client_permission_denied)
{
	struct served s;
	CHECK(served_start(&s, false) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct dvmq_ctl_client *c;
		if (geteuid() == 0) { /* root passes any mode: be someone else */
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(3);
		} else if (chmod(ctl_test_sock_path(), 0) != 0) {
			_exit(3);
		}
		_exit(dvmq_ctl_client_open(ctl_test_sock_path(), &c) == -EACCES ? 0 : 1);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECK_MSG(WEXITSTATUS(st) == 0, "exit %d", WEXITSTATUS(st));
	served_stop(&s);
}

/* ---- the metrics page ---- */

/* GET or another method on 127.0.0.1:port; returns the status, the body in buf. */
static int http(uint16_t port, const char *method, const char *url, char *buf, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	char req[256];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", method, url);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		return -1;
	}
	size_t len = 0;
	ssize_t r;
	while (len + 1 < cap && (r = recv(fd, buf + len, cap - len - 1, 0)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(fd);
	int status = -1;
	sscanf(buf, "HTTP/1.%*d %d", &status);
	return status;
}

TEST(ctl_http_serves_the_published_snapshot)
{
	struct dvmq_snapshot_pub *pub;
	CHECK(dvmq_snapshot_pub_create(&pub) == 0);
	struct dvmq_metrics_http *h;
	char err[256];
	struct dvmq_metrics_http_config cfg = { .address = "127.0.0.1", .port = 0 };
	CHECK_MSG(dvmq_metrics_http_start(&cfg, pub, &h, err, sizeof(err)) == 0, "%s", err);
	uint16_t port = dvmq_metrics_http_port(h);
	CHECK(port != 0);
	static char buf[1 << 20];
	CHECK(http(port, "GET", "/metrics", buf, sizeof(buf)) == 503);
	struct ctl_fake f;
	ctl_fake_init(&f, 2);
	CHECK(ctl_fake_add(&f, "web-1", "02:00:00:00:00:01", 100, 0.3) == 0);
	ctl_fake_tick(&f, 1000000000ull);
	struct dvmq_snapshot *s = ctl_fake_ops.snapshot(&f);
	CHECK(s);
	char *want;
	size_t want_len;
	CHECK(dvmq_prom_render(s, &want, &want_len) == 0);
	dvmq_snapshot_publish(pub, s);
	CHECK(http(port, "GET", "/metrics", buf, sizeof(buf)) == 200);
	CHECK_MSG(strstr(buf, "Content-Type: text/plain; version=0.0.4"), "%.300s", buf);
	const char *body = strstr(buf, "\r\n\r\n");
	CHECK(body && strcmp(body + 4, want) == 0);
	free(want);
	CHECK(http(port, "GET", "/", buf, sizeof(buf)) == 404);
	CHECK(http(port, "POST", "/metrics", buf, sizeof(buf)) == 405);
	/* the port is taken now; a bad address is refused */
	struct dvmq_metrics_http *h2;
	struct dvmq_metrics_http_config same = { .address = "127.0.0.1", .port = port };
	CHECK(dvmq_metrics_http_start(&same, pub, &h2, err, sizeof(err)) == -EADDRINUSE);
	CHECK_MSG(strstr(err, "cannot listen"), "%s", err);
	struct dvmq_metrics_http_config bad = { .address = "localhost:80", .port = 0 };
	CHECK(dvmq_metrics_http_start(&bad, pub, &h2, err, sizeof(err)) == -EINVAL);
	CHECK_MSG(strstr(err, "not an IPv4 or IPv6 address"), "%s", err);
	dvmq_metrics_http_stop(h);
	dvmq_metrics_http_stop(NULL);
	dvmq_snapshot_pub_destroy(pub);
}
