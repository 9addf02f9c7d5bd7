/* A small test harness: tests register themselves, the runner executes each one in a child
 * process of its own (so a failed CHECK that leaves threads, descriptors or devices behind cannot
 * touch the tests after it: the child's exit ends them) and ends with
 * "N passed, N failed, N skipped". CHECK records the first failure of a test and returns from it;
 * SKIP says why a test cannot run here and returns (a skip is never counted as a pass).
 * DVMQ_TEST_NOFORK=1 runs the tests in the runner's own process (for a debugger). */
#ifndef DVMQ_TEST_HARNESS_H
#define DVMQ_TEST_HARNESS_H

#include <stdio.h>

struct test_case {
	const char *name;
	const char *suite; /* "fast" or "slow" */
	void (*fn)(void);
};

void test_register(const char *name, const char *suite, void (*fn)(void));
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int test_failed(void);

#define TEST_IN(suite, name)                                                                     \
	static void name(void);                                                                  \
	__attribute__((constructor)) static void register_##name(void)                          \
	{                                                                                        \
		test_register(#name, suite, name);                                               \
	}                                                                                        \
	static void name(void)

#define TEST(name) TEST_IN("fast", name)
#define SLOW_TEST(name) TEST_IN("slow", name)

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			test_fail(__FILE__, __LINE__, "%s", #cond);                              \
			return;                                                                  \
		}                                                                                \
	} while (0)

#define CHECK_MSG(cond, ...)                                                                     \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			test_fail(__FILE__, __LINE__, __VA_ARGS__);                              \
			return;                                                                  \
		}                                                                                \
	} while (0)

#define SKIP(...)                                                                                \
	do {                                                                                     \
		test_skip(__VA_ARGS__);                                                          \
		return;                                                                          \
	} while (0)

#endif
