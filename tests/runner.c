/* Runs every registered test (optionally only names containing one of argv[1..]) and prints one line per
 * test and "N passed, N failed" last. Exit status 1 when any failed. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MAX_TESTS 512

static struct test_case tests[MAX_TESTS];
static int n_tests;
static int current_failed;

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

int test_failed(void)
{
	return current_failed;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	for (int i = 0; i < n_tests; i++) {
		int wanted = argc < 2;
		for (int k = 1; k < argc && !wanted; k++)
			wanted = strstr(tests[i].name, argv[k]) != NULL;
		if (!wanted)
			continue;
		current_failed = 0;
		tests[i].fn();
		printf("%s %s\n", current_failed ? "FAIL" : "ok  ", tests[i].name);
		fflush(stdout);
		if (current_failed)
			failed++;
		else
			passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
