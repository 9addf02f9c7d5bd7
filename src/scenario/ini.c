/* The INI reader (include/dvmq/ini.h). It works in place on its own copy of the text: each line
 * is cut out with a NUL, comments are cut off, and items point into the copy, so a line of any
 * length costs nothing extra. Invariant: `pos` is the start of the first line not yet read and
 * `line` the number of the last line read. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/ini.h"

struct dvmq_ini {
	char *text;
	char *pos;
	int line;
	const char *error;
};

int dvmq_ini_create(const char *text, struct dvmq_ini **out)
{
	struct dvmq_ini *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->text = strdup(text ? text : "");
	if (!r->text) {
		free(r);
		return -ENOMEM;
	}
	r->pos = r->text;
	*out = r;
	return 0;
}

static void set_err(char *err, size_t len, const char *msg)
{
	if (err && len)
		snprintf(err, len, "%s", msg);
}

int dvmq_ini_create_file(const char *path, struct dvmq_ini **out, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		set_err(err, err_len, strerror(errno));
		return -ENOENT;
	}
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 16384;
			char *t = realloc(text, cap);
			if (!t) {
				rc = -ENOMEM;
				goto err_free;
			}
			text = t;
		}
		size_t n = fread(text + len, 1, 4096, f);
		len += n;
		if (len > DVMQ_INI_MAX_BYTES) {
			set_err(err, err_len, "file larger than 16 MiB");
			rc = -EINVAL;
			goto err_free;
		}
		if (n < 4096)
			break;
	}
	if (ferror(f)) {
		set_err(err, err_len, strerror(EIO));
		rc = -ENOENT;
		goto err_free;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		set_err(err, err_len, "file contains a NUL byte (not a text file)");
		rc = -EINVAL;
		goto err_free;
	}
	struct dvmq_ini *r = calloc(1, sizeof(*r));
	if (!r) {
		rc = -ENOMEM;
		goto err_free;
	}
	fclose(f);
	r->text = r->pos = text;
	*out = r;
	return 0;
err_free:
	fclose(f);
	free(text);
	return rc;
}

int dvmq_ini_open(const char *path, struct dvmq_ini **out, char *dir, size_t dir_len, char *msg,
		  size_t msg_len)
{
	char err[256];
	/* the file's directory names the files it refers to (traces, scenarios): a path that does
	 * not fit is refused, not cut */
	if (strlen(path) >= dir_len) {
		snprintf(msg, msg_len, "%.64s...: path is longer than %zu bytes", path, dir_len - 1);
		return -ENAMETOOLONG;
	}
	int rc = dvmq_ini_create_file(path, out, err, sizeof(err));
	if (rc == -ENOENT)
		snprintf(msg, msg_len, "%s: cannot open: %s", path, err);
	else if (rc == -EINVAL)
		snprintf(msg, msg_len, "%s:1: %s", path, err);
	if (rc)
		return rc;
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, dir_len, ".");
	else if (slash == path)
		snprintf(dir, dir_len, "/");
	else
		snprintf(dir, dir_len, "%.*s", (int)(slash - path), path);
	return 0;
}

void dvmq_ini_destroy(struct dvmq_ini *r)
{
	if (!r)
		return;
	free(r->text);
	free(r);
}

const char *dvmq_ini_error(const struct dvmq_ini *r)
{
	return r->error ? r->error : "no error";
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Trims blanks at both ends, in place. */
static char *trim(char *s)
{
	while (is_blank(*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int fail(struct dvmq_ini *r, const char *what)
{
	r->error = what;
	return -EINVAL;
}

static int section(struct dvmq_ini *r, char *s, struct dvmq_ini_item *it)
{
	size_t n = strlen(s); /* s is trimmed and starts with '[' */
	char *close = strchr(s, ']');
	if (!close)
		return fail(r, "section header without a closing ']'");
	if (close != s + n - 1)
		return fail(r, "text after ']' in a section header");
	*close = '\0';
	char *name = trim(s + 1);
	if (!*name)
		return fail(r, "empty section name: want [NAME] or [NAME ARGUMENTS]");
	char *arg = name;
	while (*arg && !is_blank(*arg))
		arg++;
	if (*arg) {
		*arg++ = '\0';
		arg = trim(arg);
	}
	it->kind = DVMQ_INI_SECTION;
	it->name = name;
	it->arg = *arg ? arg : NULL;
	return 1;
}

int dvmq_ini_next(struct dvmq_ini *r, struct dvmq_ini_item *it)
{
	memset(it, 0, sizeof(*it));
	while (*r->pos) {
		char *s = r->pos;
		char *nl = strchr(s, '\n');
		if (nl) {
			*nl = '\0';
			r->pos = nl + 1;
		} else {
			r->pos = s + strlen(s);
		}
		it->line = ++r->line;
		/* a comment starts at the line's start or after a blank, so values may hold '#' */
		for (char *c = s; *c; c++)
			if ((*c == '#' || *c == ';') && (c == s || is_blank(c[-1]))) {
				*c = '\0';
				break;
			}
		s = trim(s);
		if (!*s)
			continue;
		if (*s == '[')
			return section(r, s, it);
		char *eq = strchr(s, '=');
		if (!eq)
			return fail(r, "syntax error: want KEY = VALUE, [section] or a # comment");
		*eq = '\0';
		char *key = trim(s);
		if (!*key)
			return fail(r, "syntax error: '=' without a key before it");
		for (char *c = key; *c; c++)
			if (is_blank(*c))
				return fail(r, "syntax error: a key is one word (KEY = VALUE)");
		it->kind = DVMQ_INI_KEY;
		it->key = key;
		it->value = trim(eq + 1);
		return 1;
	}
	return 0;
}
