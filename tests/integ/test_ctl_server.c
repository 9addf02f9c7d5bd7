/* The control socket server and client on real unix sockets, and the metrics page over real
 * HTTP: socket mode and group, a second instance, stale sockets, every bad input and a silent
 * client each answered while other clients keep being served, pipelining, followers, and the
 * client's errors. The server runs on a virtual clock (timeouts without sleeping) except where a
 * thread serves the blocking client. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
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

#define SEC 1000000000ull

void ctl_fake_publish_move(void *server, const struct dvmq_snap_move *m)
{
	dvmq_ctl_server_publish(server, "move", dvmq_ctl_move_json(m));
}

struct env {
	struct ctl_fake f;
	struct dvmq_ctl_state st;
	struct dvmq_ctl_registry *reg;
	struct dvmq_ctl_server *srv;
	struct dvmq_ctl_server_config cfg;
	uint64_t now;
	char log[2048];
	char err[256];
};

static void log_to_env(void *ctx, enum dvmq_ctl_log_level level, const char *msg)
{
	(void)level;
	struct env *e = ctx;
	size_t n = strlen(e->log);
	snprintf(e->log + n, sizeof(e->log) - n, "%s\n", msg);
}

static void env_config(struct env *e)
{
	memset(e, 0, sizeof(*e));
	ctl_fake_init(&e->f, 2);
	e->st = (struct dvmq_ctl_state){ &ctl_fake_ops, &e->f };
	e->cfg = (struct dvmq_ctl_server_config){
		.path = ctl_test_sock_path(), .request_timeout_ns = SEC / 2, .idle_timeout_ns = SEC, .log = log_to_env, .log_ctx = e,
	};
	e->now = 1000 * SEC;
}

/* Returns the errno of dvmq_ctl_server_create. */
static int env_start(struct env *e)
{
	if (!e->reg && (dvmq_ctl_registry_create("test", &e->reg) || dvmq_ctl_commands_register(e->reg, &e->st)))
		return -ENOMEM;
	return dvmq_ctl_server_create(&e->cfg, e->reg, e->now, &e->srv, e->err, sizeof(e->err));
}

static void env_stop(struct env *e)
{
	dvmq_ctl_server_destroy(e->srv);
	dvmq_ctl_registry_destroy(e->reg);
	e->srv = NULL;
	e->reg = NULL;
}

/* Lets the server work through whatever the clients sent. */
static void pump(struct env *e)
{
	for (int i = 0; i < 4; i++) {
		struct pollfd p = { .fd = dvmq_ctl_server_fd(e->srv), .events = POLLIN };
		poll(&p, 1, i == 0 ? 20 : 2);
		dvmq_ctl_server_dispatch(e->srv, e->now);
	}
}

static int raw_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends it all, letting the server read when the socket buffer is full. */
static bool raw_send(struct env *e, int fd, const char *data, size_t len)
{
	for (int stalls = 0; len && stalls < 1000;) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pump(e);
			stalls++;
			continue;
		}
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return len == 0;
}

/* Reads one line (the server pumped meanwhile). Returns its length, 0 at EOF, -1 on timeout. */
static ssize_t raw_line(struct env *e, int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (int round = 0; round < 200; round++) {
		pump(e);
		for (;;) {
			ssize_t r = recv(fd, buf + n, 1, MSG_DONTWAIT); /* one byte: never past the line */
			if (r == 0)
				return n ? (ssize_t)n : 0;
			if (r < 0)
				break;
			if (buf[n] == '\n' || n + 2 >= cap) {
				buf[n + 1] = '\0';
				return (ssize_t)n + 1;
			}
			n++;
		}
	}
	return -1;
}

/* The error code in a reply line, "ok", or what went wrong. */
static const char *reply_code(const char *line, char *out, size_t len)
{
	json_t *r = json_loads(line, 0, NULL);
	const char *c = !r ? "(not JSON)"
			: json_is_true(json_object_get(r, "ok")) ? "ok"
			: json_string_value(json_object_get(json_object_get(r, "error"), "code"));
	snprintf(out, len, "%s", c ? c : "(no code)");
	json_decref(r);
	return out;
}

/* Sends `req` on fd and returns the reply's code. */
static const char *ask(struct env *e, int fd, const char *req, size_t len, char *out, size_t out_len)
{
	char line[4096];
	if (!raw_send(e, fd, req, len))
		return snprintf(out, out_len, "(send failed)"), out;
	ssize_t n = raw_line(e, fd, line, sizeof(line));
	if (n <= 0)
		return snprintf(out, out_len, n == 0 ? "(closed)" : "(no reply)"), out;
	return reply_code(line, out, out_len);
}

static bool served(struct env *e, int fd)
{
	static const char v[] = "{\"v\":1,\"cmd\":\"version\"}\n";
	char c[64];
	return strcmp(ask(e, fd, v, sizeof(v) - 1, c, sizeof(c)), "ok") == 0;
}

TEST(ctl_server_socket_mode_and_cleanup)
{
	struct env e;
	env_config(&e);
	CHECK_MSG(env_start(&e) == 0, "%s", e.err);
	struct stat st;
	CHECK(stat(e.cfg.path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK_MSG((st.st_mode & 07777) == 0660, "mode %o", st.st_mode & 07777);
	char lock[160];
	snprintf(lock, sizeof(lock), "%s.lock", e.cfg.path);
	CHECK(access(lock, F_OK) == 0);
	CHECK(strcmp(dvmq_ctl_server_path(e.srv), e.cfg.path) == 0);
	env_stop(&e);
	CHECK(access(e.cfg.path, F_OK) != 0 && errno == ENOENT);
	CHECK(access(lock, F_OK) != 0);
	dvmq_ctl_server_destroy(NULL);
}

TEST(ctl_server_socket_group)
{
	if (geteuid() != 0)
		SKIP("needs root to give the socket to another group");
	struct group *g = getgrnam("daemon");
	if (!g)
		SKIP("no group 'daemon' on this system to stand in for 'dvmq'");
	gid_t gid = g->gr_gid;
	struct env e;
	env_config(&e);
	e.cfg.group = "daemon";
	CHECK_MSG(env_start(&e) == 0, "%s", e.err);
	struct stat st;
	CHECK(stat(e.cfg.path, &st) == 0 && st.st_gid == gid && st.st_uid == 0);
	env_stop(&e);
	/* a group that does not exist leaves the owner's group */
	env_config(&e);
	e.cfg.group = "no-such-group-dvmq";
	CHECK_MSG(env_start(&e) == 0, "%s", e.err);
	CHECK(stat(e.cfg.path, &st) == 0 && st.st_gid == getegid());
	env_stop(&e);
}

TEST(ctl_server_second_instance_refused)
{
	struct env a, b;
	env_config(&a);
	CHECK_MSG(env_start(&a) == 0, "%s", a.err);
	env_config(&b);
	CHECK(env_start(&b) == -EADDRINUSE);
	CHECK_MSG(strstr(b.err, "another dvmq is running on") && strstr(b.err, a.cfg.path), "%s", b.err);
	env_stop(&b);
	int fd = raw_connect(a.cfg.path);
	CHECK(fd >= 0 && served(&a, fd)); /* the first one never noticed */
	close(fd);
	env_stop(&a);
	/* something listening there without the lock (another program, an older dvmq): refused too */
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", a.cfg.path);
	CHECK(l >= 0 && bind(l, (struct sockaddr *)&addr, sizeof(addr)) == 0 && listen(l, 1) == 0);
	env_config(&b);
	CHECK(env_start(&b) == -EADDRINUSE);
	CHECK_MSG(strstr(b.err, "it accepts connections"), "%s", b.err);
	env_stop(&b);
	close(l);
	unlink(a.cfg.path);
}

TEST(ctl_server_stale_socket_replaced)
{
	const char *path = ctl_test_sock_path();
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) { /* an instance that crashes: socket and lock file stay behind */
		struct env c;
		env_config(&c);
		_exit(env_start(&c) == 0 ? 0 : 1);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(access(path, F_OK) == 0);
	struct dvmq_ctl_client *cl;
	CHECK(dvmq_ctl_client_open(path, &cl) == -ECONNREFUSED);
	struct env e;
	env_config(&e);
	CHECK_MSG(env_start(&e) == 0, "%s", e.err);
	CHECK_MSG(strstr(e.log, "removed the stale control socket"), "log: %s", e.log);
	int fd = raw_connect(path);
	CHECK(fd >= 0 && served(&e, fd));
	close(fd);
	env_stop(&e);
}

TEST(ctl_server_refuses_a_file_and_a_long_path)
{
	struct env e;
	env_config(&e);
	char file[128];
	snprintf(file, sizeof(file), "%s", ctl_test_sock_path());
	snprintf(strrchr(file, '/') + 1, 16, "file");
	FILE *f = fopen(file, "w");
	CHECK(f);
	fputs("precious", f);
	fclose(f);
	e.cfg.path = file;
	CHECK(env_start(&e) == -EEXIST);
	CHECK_MSG(strstr(e.err, "is not a socket"), "%s", e.err);
	CHECK(access(file, F_OK) == 0);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	longp[0] = '/';
	e.cfg.path = longp;
	CHECK(env_start(&e) == -ENAMETOOLONG);
	env_stop(&e);
}

TEST(ctl_server_bad_lines_answered_others_served)
{
	struct env e;
	env_config(&e);
	CHECK_MSG(env_start(&e) == 0, "%s", e.err);
	int bad = raw_connect(e.cfg.path), good = raw_connect(e.cfg.path);
	CHECK(bad >= 0 && good >= 0);
	static char big[200000]; /* longer than the input buffer: the server must skip, not read it */
	char deep[128], c[64];
	/* valid JSON but too long: were its tail read as a line of its own, it would get an answer */
	static const char head[] = "{\"v\":1,\"cmd\":\"stats\",\"pad\":\"";
	memcpy(big, head, sizeof(head) - 1);
	memset(big + sizeof(head) - 1, 'x', sizeof(big) - sizeof(head) - 2);
	memcpy(big + sizeof(big) - 3, "\"}\n", 3);
	snprintf(deep, sizeof(deep), "{\"v\":1,\"cmd\":\"stats\",\"args\":{\"a\":[[[[[[[[[[[[]]]]]]]]]]]]}}\n");
	struct { const char *data; size_t len; const char *want; } cases[] = { /* len 0: strlen */
		{ "garbage\n", 0, "parse-error" },
		{ "{\"v\":1,\"cmd\":\"stats\"\n", 0, "parse-error" },
		{ "{\"v\":2,\"cmd\":\"stats\"}\n", 0, "bad-version" },
		{ "{\"v\":1,\"cmd\":\"st\xff\xfe\"}\n", 0, "bad-encoding" },
		{ deep, 0, "too-deep" },
		{ big, sizeof(big), "too-large" },
		{ "[]\n", 0, "bad-request" },
		{ "{\"v\":1,\"cmd\":\"frobnicate\"}\n", 0, "unknown-command" },
		{ "{\"v\":1,\"cmd\":\"vm.show\",\"args\":{\"name\":\"nope\"}}\r\n", 0, "unknown-vm" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].data);
		const char *got = ask(&e, bad, cases[i].data, len, c, sizeof(c));
		CHECK_MSG(strcmp(got, cases[i].want) == 0, "case %zu: %s, want %s", i, got, cases[i].want);
		CHECK_MSG(served(&e, good), "the other client was not served after case %zu", i);
	}
	CHECK(served(&e, bad)); /* and the bad client's connection still works */
	/* a stream that ends inside a line: an answer, then the end */
	static const char trunc[] = "{\"v\":1,\"cmd\":\"stats\"";
	CHECK(raw_send(&e, bad, trunc, sizeof(trunc) - 1) && shutdown(bad, SHUT_WR) == 0);
	char line[512];
	CHECK(raw_line(&e, bad, line, sizeof(line)) > 0);
	CHECK_MSG(strcmp(reply_code(line, c, sizeof(c)), "parse-error") == 0 && strstr(line, "truncated"), "%s", line);
	CHECK(raw_line(&e, bad, line, sizeof(line)) == 0);
	CHECK(served(&e, good));
	close(bad);
	close(good);
	env_stop(&e);
}

TEST(ctl_server_silent_and_half_line_clients_time_out)
{
	struct env e;
	env_config(&e);
	CHECK_MSG(env_start(&e) == 0, "%s", e.err);
	int silent = raw_connect(e.cfg.path), half = raw_connect(e.cfg.path), good = raw_connect(e.cfg.path);
	CHECK(silent >= 0 && half >= 0 && good >= 0);
	pump(&e);
	CHECK(raw_send(&e, half, "{\"v\":1,", 7));
	pump(&e);
	CHECK(dvmq_ctl_server_timeout_ms(e.srv, e.now) == 500);
	char line[512], c[64];
	e.now += SEC / 2 - 1;
	CHECK(served(&e, good));
	CHECK(dvmq_ctl_server_n_clients(e.srv) == 3);
	e.now += 1;
	CHECK(raw_line(&e, half, line, sizeof(line)) > 0);
	CHECK_MSG(strcmp(reply_code(line, c, sizeof(c)), "timeout") == 0 && strstr(line, "not finished"), "%s", line);
	CHECK(raw_line(&e, half, line, sizeof(line)) == 0);
	e.now += SEC / 2; /* the silent one: a second since it connected */
	CHECK(raw_line(&e, silent, line, sizeof(line)) > 0);
	CHECK_MSG(strcmp(reply_code(line, c, sizeof(c)), "timeout") == 0 && strstr(line, "idle"), "%s", line);
	CHECK(raw_line(&e, silent, line, sizeof(line)) == 0);
	/* good asked something half a second ago: still here */
	CHECK(dvmq_ctl_server_n_clients(e.srv) == 1 && served(&e, good));
	close(silent);
	close(half);
	close(good);
	env_stop(&e);
}

TEST(ctl_server_busy_when_full)
{
	struct env e;
	env_config(&e);
	e.cfg.max_clients = 2;
	CHECK_MSG(env_start(&e) == 0, "%s", e.err);
	int a = raw_connect(e.cfg.path), b = raw_connect(e.cfg.path);
	pump(&e);
	int c3 = raw_connect(e.cfg.path);
	char line[512], c[64];
	CHECK(c3 >= 0 && raw_line(&e, c3, line, sizeof(line)) > 0);
	CHECK_MSG(strcmp(reply_code(line, c, sizeof(c)), "busy") == 0, "%s", line);
	CHECK(served(&e, a) && served(&e, b));
	close(a);
	close(b);
	close(c3);
	env_stop(&e);
}

TEST(ctl_server_pipelined_requests_answered_in_order)
{
	struct env e;
	env_config(&e);
	CHECK_MSG(env_start(&e) == 0, "%s", e.err);
	int fd = raw_connect(e.cfg.path);
	CHECK(fd >= 0);
	enum { N = 300 };
	char *all = malloc(N * 80), line[8192];
	size_t len = 0;
	for (int i = 0; i < N; i++) /* processor.show replies are long: the server must stop and resume */
		len += (size_t)sprintf(all + len, "{\"v\":1,\"id\":%d,\"cmd\":\"%s\"}\n", i, i % 2 ? "version" : "processor.show");
	CHECK(raw_send(&e, fd, all, len));
	free(all);
	for (int i = 0; i < N; i++) {
		CHECK_MSG(raw_line(&e, fd, line, sizeof(line)) > 0, "reply %d missing", i);
		json_t *r = json_loads(line, 0, NULL);
		json_int_t id = json_integer_value(json_object_get(r, "id"));
		bool ok = json_is_true(json_object_get(r, "ok"));
		json_decref(r);
		CHECK_MSG(id == i && ok, "reply %d: %s", i, line);
	}
	close(fd);
	env_stop(&e);
}

TEST(ctl_server_followers_get_moves_and_slow_ones_are_dropped)
{
	struct env e;
	env_config(&e);
	e.cfg.max_output_bytes = 4096;
	CHECK_MSG(env_start(&e) == 0, "%s", e.err);
	e.f.on_move = ctl_fake_publish_move;
	e.f.on_move_ctx = e.srv;
	e.f.next_proc = 0;
	CHECK(ctl_fake_add(&e.f, "a", "02:00:00:00:00:01", 100, 0.5) == 0);
	e.f.next_proc = 0;
	CHECK(ctl_fake_add(&e.f, "b", "02:00:00:00:00:02", 100, 0.6) == 0);
	int fol = raw_connect(e.cfg.path), cmd = raw_connect(e.cfg.path), slow = raw_connect(e.cfg.path);
	static const char follow[] = "{\"v\":1,\"cmd\":\"moves\",\"args\":{\"follow\":true}}\n";
	static const char rebal[] = "{\"v\":1,\"cmd\":\"rebalance\"}\n";
	char c[64], line[1024];
	CHECK(strcmp(ask(&e, fol, follow, sizeof(follow) - 1, c, sizeof(c)), "ok") == 0);
	CHECK(strcmp(ask(&e, slow, follow, sizeof(follow) - 1, c, sizeof(c)), "ok") == 0);
	CHECK(strcmp(ask(&e, cmd, rebal, sizeof(rebal) - 1, c, sizeof(c)), "ok") == 0);
	CHECK(raw_line(&e, fol, line, sizeof(line)) > 0);
	json_t *ev = json_loads(line, 0, NULL);
	CHECK_MSG(ev && strcmp(json_string_value(json_object_get(ev, "event")), "move") == 0, "%s", line);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(ev, "data"), "vm")), "b") == 0);
	json_decref(ev);
	/* followers are not idle: past the idle timeout they stay */
	e.now += 5 * SEC;
	pump(&e);
	CHECK(dvmq_ctl_server_n_clients(e.srv) == 2); /* cmd went idle; both followers stay */
	/* `slow` never reads: once the kernel buffer and 4 KiB of ours are full, it is dropped */
	unsigned sent = 0;
	while (dvmq_ctl_server_n_clients(e.srv) == 2 && sent < 100000) {
		struct dvmq_snap_move m = { .seq = ++sent, .queue = 1, .to = 1 };
		dvmq_ctl_server_publish(e.srv, "move", dvmq_ctl_move_json(&m));
		while (sent % 64 == 0 && recv(fol, line, sizeof(line), MSG_DONTWAIT) > 0)
			; /* fol keeps reading */
		dvmq_ctl_server_dispatch(e.srv, e.now);
	}
	CHECK_MSG(dvmq_ctl_server_n_clients(e.srv) == 1, "after %u events", sent);
	CHECK_MSG(strstr(e.log, "does not read its move events"), "%s", e.log);
	close(fol);
	close(cmd);
	close(slow);
	env_stop(&e);
}
