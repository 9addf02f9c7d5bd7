/* A small reader for human-written INI files (scenarios, and `dvmq run --config`): it splits
 * the text into sections and keys and says where each came from; what the keys mean is the
 * caller's business.
 *
 * Syntax (docs/scenarios.md): `[NAME]` or `[NAME ARGUMENTS]` starts a section (the arguments are
 * the rest of the brackets' content, trimmed, e.g. `[vm web]`, `[cpu 1-2,5]`); `KEY = VALUE`
 * sets a key (both trimmed, the value may be empty); blank lines are skipped; `#` or `;` starts a
 * comment at the beginning of a line or after a blank (so `a#b` is a value, `a #b` is not).
 * Lines may be of any length and end in LF or CRLF. Anything else is an error with its line.
 *
 * Ownership: the reader copies the text; items point into the reader's copy and stay valid until
 * dvmq_ini_destroy. Thread safety: a reader has one owner. Nothing here prints. */
#ifndef DVMQ_INI_H
#define DVMQ_INI_H

#include <stddef.h>

#define DVMQ_INI_MAX_BYTES (16u << 20) /* dvmq_ini_create_file refuses larger files */

enum dvmq_ini_kind {
	DVMQ_INI_SECTION, /* name, arg (NULL when the brackets hold only a name) */
	DVMQ_INI_KEY,     /* key, value */
};

struct dvmq_ini_item {
	enum dvmq_ini_kind kind;
	int line;                /* 1-based */
	const char *name, *arg;  /* SECTION */
	const char *key, *value; /* KEY */
};

struct dvmq_ini;

/* A reader over a copy of `text` (a C string). Returns 0 or -ENOMEM. */
int dvmq_ini_create(const char *text, struct dvmq_ini **out);
/* A reader over a file's content. Returns 0, -ENOENT (cannot open: err says why), -EINVAL (not a
 * text file: a NUL byte, or larger than DVMQ_INI_MAX_BYTES; err says which) or -ENOMEM.
 * err (may be NULL) gets a message without the file name. */
int dvmq_ini_create_file(const char *path, struct dvmq_ini **out, char *err, size_t err_len);
/* The same, for loaders that report "file:line: ..." errors: on failure msg gets the whole
 * message ("PATH: cannot open: why" or "PATH:1: why"); on success dir gets the directory that
 * names inside the file resolve against ("." for a bare file name, "/" for a file in the root).
 * Returns as dvmq_ini_create_file, or -ENAMETOOLONG ("PATH...: path is longer than N bytes")
 * when path does not fit in dir_len. */
int dvmq_ini_open(const char *path, struct dvmq_ini **out, char *dir, size_t dir_len, char *msg,
		  size_t msg_len);
void dvmq_ini_destroy(struct dvmq_ini *r);

/* The next item: returns 1 with *item filled, 0 at the end of the text, or -EINVAL for a line
 * that is not valid INI (item->line is that line; dvmq_ini_error says what is wrong). After an
 * error the reader goes on with the next line. */
int dvmq_ini_next(struct dvmq_ini *r, struct dvmq_ini_item *item);
/* What was wrong with the line of the last -EINVAL. */
const char *dvmq_ini_error(const struct dvmq_ini *r);

#endif
