/* The INI reader (dvmq/ini.h): items with their lines, comments, lines of any length, and every
 * malformed line as an error with its line number. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "dvmq/ini.h"

TEST(ini_reads_sections_keys_and_lines)
{
	const char *text = "# leading comment\n"
			   "; another\n"
			   "\n"
			   "[host]\n"
			   "processors = 4   # after a blank: a comment\n"
			   "  [vm  web ]  \r\n"
			   "mac=02:00:00:00:00:01\r\n"
			   "file = a#b;c.csv\n"
			   "[cpu 1-2, 5]\n"
			   "empty =\n"
			   "last = no newline at the end";
	struct dvmq_ini *r;
	CHECK(dvmq_ini_create(text, &r) == 0);
	struct dvmq_ini_item it;
	struct {
		enum dvmq_ini_kind kind;
		int line;
		const char *a, *b;
	} want[] = {
		{ DVMQ_INI_SECTION, 4, "host", NULL },
		{ DVMQ_INI_KEY, 5, "processors", "4" },
		{ DVMQ_INI_SECTION, 6, "vm", "web" },
		{ DVMQ_INI_KEY, 7, "mac", "02:00:00:00:00:01" },
		{ DVMQ_INI_KEY, 8, "file", "a#b;c.csv" },
		{ DVMQ_INI_SECTION, 9, "cpu", "1-2, 5" },
		{ DVMQ_INI_KEY, 10, "empty", "" },
		{ DVMQ_INI_KEY, 11, "last", "no newline at the end" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int rc = dvmq_ini_next(r, &it);
		CHECK_MSG(rc == 1, "item %zu: rc %d (%s)", i, rc, dvmq_ini_error(r));
		CHECK_MSG(it.kind == want[i].kind && it.line == want[i].line, "item %zu: kind %d line %d", i, it.kind,
			  it.line);
		const char *a = it.kind == DVMQ_INI_SECTION ? it.name : it.key;
		const char *b = it.kind == DVMQ_INI_SECTION ? it.arg : it.value;
		CHECK_MSG(strcmp(a, want[i].a) == 0, "item %zu: '%s'", i, a);
		CHECK_MSG(want[i].b ? b && strcmp(b, want[i].b) == 0 : b == NULL, "item %zu: '%s'", i, b ? b : "(null)");
	}
	CHECK(dvmq_ini_next(r, &it) == 0);
	CHECK(dvmq_ini_next(r, &it) == 0);
	dvmq_ini_destroy(r);
	dvmq_ini_destroy(NULL);
}

TEST(ini_line_of_any_length)
{
	/* 200 kB on one line: Debian's libinih stopped at 200 bytes */
	size_t n = 200000;
	char *text = malloc(n + 64);
	CHECK(text);
	strcpy(text, "[vm a]\nload = ");
	size_t at = strlen(text);
	memset(text + at, 'x', n);
	strcpy(text + at + n, "\nnext = 1\n");
	struct dvmq_ini *r;
	int rc = dvmq_ini_create(text, &r);
	free(text);
	CHECK(rc == 0);
	struct dvmq_ini_item it;
	CHECK(dvmq_ini_next(r, &it) == 1 && it.kind == DVMQ_INI_SECTION);
	rc = dvmq_ini_next(r, &it);
	bool ok = rc == 1 && it.line == 2 && strlen(it.value) == n;
	if (ok)
		ok = dvmq_ini_next(r, &it) == 1 && it.line == 3 && strcmp(it.key, "next") == 0;
	dvmq_ini_destroy(r);
	CHECK(ok);
}

TEST(ini_bad_lines_name_their_line)
{
	static const struct {
		const char *text, *want;
		int line;
	} bad[] = {
		{ "[host]\nthis is not ini\n", "syntax error: want KEY = VALUE", 2 },
		{ "\n\n[host\n", "section header without a closing ']'", 3 },
		{ "[host] x\n", "text after ']'", 1 },
		{ "[ ]\n", "empty section name", 1 },
		{ "[host]\n= 4\n", "'=' without a key", 2 },
		{ "[host]\nmax processors = 4\n", "a key is one word", 2 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dvmq_ini *r;
		CHECK(dvmq_ini_create(bad[i].text, &r) == 0);
		struct dvmq_ini_item it;
		int rc;
		while ((rc = dvmq_ini_next(r, &it)) == 1)
			;
		bool ok = rc == -EINVAL && it.line == bad[i].line && strstr(dvmq_ini_error(r), bad[i].want);
		const char *got = dvmq_ini_error(r);
		int line = it.line;
		/* the reader goes on after an error */
		while (rc != 0)
			rc = dvmq_ini_next(r, &it);
		CHECK_MSG(ok, "case %zu: rc, line %d, '%s' (want line %d, '%s')", i, line, got, bad[i].line, bad[i].want);
		dvmq_ini_destroy(r);
	}
}

TEST(ini_file_errors)
{
	struct dvmq_ini *r = NULL;
	char err[128];
	CHECK(dvmq_ini_create_file("/nonexistent/x.ini", &r, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "No such file") != NULL);
	char path[] = "/tmp/dvmq-ini.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	FILE *f = fdopen(fd, "w");
	CHECK(f);
	fwrite("[a]\0x = 1\n", 1, 10, f);
	fclose(f);
	int rc = dvmq_ini_create_file(path, &r, err, sizeof(err));
	unlink(path);
	CHECK(rc == -EINVAL);
	CHECK(strstr(err, "NUL byte") != NULL);
}

/* dvmq_ini_open: the loaders' whole message and the directory names in the file resolve against */
TEST(ini_open_messages_and_directory)
{
	struct dvmq_ini *r = NULL;
	char dir[64], msg[256];
	CHECK(dvmq_ini_open("/nonexistent/x.ini", &r, dir, sizeof(dir), msg, sizeof(msg)) == -ENOENT);
	const char *no = "/nonexistent/x.ini: cannot open: ";
	CHECK_MSG(strncmp(msg, no, strlen(no)) == 0, "%s", msg);
	char path[] = "/tmp/dvmq-ini-open.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	FILE *f = fdopen(fd, "w");
	CHECK(f);
	fwrite("[a]\0x = 1\n", 1, 10, f);
	fclose(f);
	int rc = dvmq_ini_open(path, &r, dir, sizeof(dir), msg, sizeof(msg));
	char want[128];
	snprintf(want, sizeof(want), "%s:1: ", path);
	CHECK_MSG(rc == -EINVAL && strncmp(msg, want, strlen(want)) == 0, "%d %s", rc, msg);
	f = fopen(path, "w");
	CHECK(f);
	fputs("[a]\nx = 1\n", f);
	fclose(f);
	rc = dvmq_ini_open(path, &r, dir, sizeof(dir), msg, sizeof(msg));
	unlink(path);
	CHECK(rc == 0 && strcmp(dir, "/tmp") == 0);
	dvmq_ini_destroy(r);
	/* a bare name resolves against "." (the test runs in a child process: chdir stays there) */
	CHECK(chdir(DVMQ_SOURCE_ROOT "/scenarios") == 0);
	CHECK(dvmq_ini_open("default.ini", &r, dir, sizeof(dir), msg, sizeof(msg)) == 0 && strcmp(dir, ".") == 0);
	dvmq_ini_destroy(r);
}
