/* Runs every registered test (or only those whose names contain one of argv[1..]), each in a child
 * process, and prints one line per test ("ok   NAME", "FAIL NAME", "skip NAME: why") and
 * "N passed, N failed, N skipped" last. A child that crashes, leaks (LeakSanitizer's exit code),
 * or runs past DVMQ_TEST_TIMEOUT seconds (default 300) is a failure. Exit status 1 when any
 * failed. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MAX_TESTS 1024
#define EXIT_SKIP 77

static struct test_case tests[MAX_TESTS];
static int n_tests;
static int current_failed, current_skipped;
static char skip_reason[256];

void test_register(const char *name, const char *suite, void (*fn)(void))
{
	if (n_tests == MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		exit(2);
	}
	tests[n_tests++] = (struct test_case){ name, suite, fn };
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	if (current_failed)
		return;
	current_failed = 1;
	fprintf(stdout, "    %s:%d: ", file, line);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

void test_skip(const char *fmt, ...)
{
	current_skipped = 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	va_end(ap);
}

int test_failed(void)
{
	return current_failed;
}

enum outcome { PASSED, FAILED, SKIPPED };

static enum outcome run_here(const struct test_case *t)
{
	current_failed = current_skipped = 0;
	skip_reason[0] = '\0';
	t->fn();
	fflush(stdout);
	if (current_failed)
		return FAILED;
	return current_skipped ? SKIPPED : PASSED;
}

/* The test in a child: its exit status carries the outcome, a pipe the reason for a skip. */
static enum outcome run_forked(const struct test_case *t, unsigned timeout_s)
{
	int fds[2];
	if (pipe(fds) != 0) {
		perror("pipe");
		return FAILED;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return FAILED;
	}
	if (pid == 0) {
		close(fds[0]);
		alarm(timeout_s);
		enum outcome o = run_here(t);
		if (o == SKIPPED && write(fds[1], skip_reason, strlen(skip_reason)) < 0)
			o = FAILED;
		close(fds[1]);
		/* exit(), not _exit(): LeakSanitizer checks this test's allocations at exit */
		exit(o == PASSED ? 0 : o == SKIPPED ? EXIT_SKIP : 1);
	}
	close(fds[1]);
	ssize_t n = read(fds[0], skip_reason, sizeof(skip_reason) - 1);
	skip_reason[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return FAILED;
	if (WIFSIGNALED(st)) {
		printf("    killed by signal %d%s\n", WTERMSIG(st),
		       WTERMSIG(st) == SIGALRM ? " (timed out: DVMQ_TEST_TIMEOUT)" : "");
		return FAILED;
	}
	int code = WEXITSTATUS(st);
	if (code == 0)
		return PASSED;
	if (code == EXIT_SKIP)
		return SKIPPED;
	if (code != 1)
		printf("    exit status %d (a sanitizer's report is above)\n", code);
	return FAILED;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0;
	const char *nofork = getenv("DVMQ_TEST_NOFORK"), *tmo = getenv("DVMQ_TEST_TIMEOUT");
	unsigned timeout_s = tmo && atoi(tmo) > 0 ? (unsigned)atoi(tmo) : 300;
	for (int i = 0; i < n_tests; i++) {
		int wanted = argc < 2;
		for (int k = 1; k < argc && !wanted; k++)
			wanted = strstr(tests[i].name, argv[k]) != NULL;
		if (!wanted)
			continue;
		enum outcome o = nofork && *nofork == '1' ? run_here(&tests[i]) : run_forked(&tests[i], timeout_s);
		if (o == SKIPPED)
			printf("skip %s: %s\n", tests[i].name, skip_reason[0] ? skip_reason : "no reason given");
		else
			printf("%s %s\n", o == FAILED ? "FAIL" : "ok  ", tests[i].name);
		fflush(stdout);
		passed += o == PASSED;
		failed += o == FAILED;
		skipped += o == SKIPPED;
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
