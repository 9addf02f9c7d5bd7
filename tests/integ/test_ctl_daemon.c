/* dvmq-fake-daemon: the control socket and the metrics page of a daemon, serving the fake state
 * of tests/unit/ctl_fixture.h, so that dvmqctl's tests (tests/cli/test_dvmqctl.sh) run every
 * command end to end before the real daemon serves them (phase 2 swaps this for `dvmq run`).
 * Runs until SIGTERM or SIGINT, then removes its socket. Counters grow 10 times a second unless
 * --frozen. --fail makes every change fail (the daemon-failed exit code). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "../unit/ctl_fixture.h"

#define TICK_NS 100000000ull

void ctl_fake_publish_move(void *server, const struct dvmq_snap_move *m)
{
	dvmq_ctl_server_publish(server, "move", dvmq_ctl_move_json(m));
}

static void log_stderr(void *ctx, enum dvmq_ctl_log_level level, const char *msg)
{
	(void)ctx;
	static const char *const names[] = { "error", "warning", "info", "debug" };
	if (level <= DVMQ_LOG_INFO)
		fprintf(stderr, "dvmq-fake-daemon: %s: %s\n", names[level], msg);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *port_file = NULL;
	bool frozen = false, failing = false, minimal = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (strcmp(argv[i], "--metrics-port-file") == 0 && i + 1 < argc)
			port_file = argv[++i];
		else if (strcmp(argv[i], "--frozen") == 0)
			frozen = true;
		else if (strcmp(argv[i], "--fail") == 0)
			failing = true;
		else if (strcmp(argv[i], "--minimal") == 0)
			minimal = true; /* an older daemon: no queue.set, stats.clear, history, config.* */
		else {
			fprintf(stderr, "usage: dvmq-fake-daemon --socket PATH [--metrics-port-file FILE] [--frozen] [--fail] "
					"[--minimal]\n");
			return 2;
		}
	}
	if (!sock) {
		fprintf(stderr, "dvmq-fake-daemon: --socket PATH is required\n");
		return 2;
	}
	static struct ctl_fake f;
	ctl_fake_init(&f, 4);
	f.next_proc = 0;
	ctl_fake_add(&f, "web-1", "02:00:00:00:00:01", 100, 0.5);
	f.next_proc = 0;
	ctl_fake_add(&f, "web-2", "02:00:00:00:00:02", 100, 0.3);
	ctl_fake_add(&f, "db", "02:00:00:00:00:03", 100, 0.2);
	ctl_fake_add(&f, "batch", "02:00:00:00:00:04", 0, 0.1);
	ctl_fake_tick(&f, 2000000000ull);
	struct dvmq_ctl_state st = { minimal ? &ctl_fake_ops_minimal : &ctl_fake_ops, &f };
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	struct dvmq_ctl_registry *reg = NULL;
	struct dvmq_ctl_server *srv = NULL;
	struct dvmq_snapshot_pub *pub = NULL;
	struct dvmq_metrics_http *http = NULL;
	char err[256] = "";
	struct dvmq_ctl_server_config cfg = { .path = sock, .log = log_stderr };
	struct dvmq_metrics_http_config mcfg = { .address = "127.0.0.1", .port = 0 };
	int rc = sfd < 0 ? -errno : dvmq_ctl_registry_create("fake", &reg);
	if (!rc)
		rc = dvmq_ctl_commands_register(reg, &st);
	if (!rc)
		rc = dvmq_ctl_server_create(&cfg, reg, ctl_test_mono_ns(), &srv, err, sizeof(err));
	if (!rc)
		rc = dvmq_snapshot_pub_create(&pub);
	if (!rc)
		rc = dvmq_metrics_http_start(&mcfg, pub, &http, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "dvmq-fake-daemon: %s\n", err[0] ? err : strerror(-rc));
		goto out;
	}
	f.on_move = ctl_fake_publish_move;
	f.on_move_ctx = srv;
	f.fail = failing ? -EIO : 0;
	if (port_file) {
		FILE *pf = fopen(port_file, "w");
		if (pf) {
			fprintf(pf, "%u\n", dvmq_metrics_http_port(http));
			fclose(pf);
		}
	}
	uint64_t next = ctl_test_mono_ns();
	for (;;) {
		uint64_t now = ctl_test_mono_ns();
		if (now >= next) {
			if (!frozen)
				ctl_fake_tick(&f, TICK_NS);
			dvmq_snapshot_publish(pub, ctl_fake_ops.snapshot(&f));
			next = now + TICK_NS;
		}
		int tmo = dvmq_ctl_server_timeout_ms(srv, now), tick_ms = (int)((next - now) / 1000000ull) + 1;
		struct pollfd p[2] = { { .fd = dvmq_ctl_server_fd(srv), .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		poll(p, 2, tmo < 0 || tmo > tick_ms ? tick_ms : tmo);
		if (p[1].revents)
			break;
		if (dvmq_ctl_server_dispatch(srv, ctl_test_mono_ns()) != 0)
			break;
	}
out:
	dvmq_metrics_http_stop(http);
	dvmq_snapshot_pub_destroy(pub);
	dvmq_ctl_server_destroy(srv);
	dvmq_ctl_registry_destroy(reg);
	if (sfd >= 0)
		close(sfd);
	return rc ? 1 : 0;
}
