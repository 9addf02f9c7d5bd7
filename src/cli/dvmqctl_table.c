/* Aligned text tables for dvmqctl. Invariant: every row has n_cols cells; a cell that could not
 * be allocated prints as "?" (a table is output, never a reason to fail a command). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dvmqctl.h"

void ctl_table_init(struct ctl_table *t, size_t n_cols, const char *const *header)
{
	memset(t, 0, sizeof(*t));
	t->n_cols = n_cols;
	/* the header is the first row */
	t->cells = calloc(n_cols * 16, sizeof(*t->cells));
	t->cap = t->cells ? 16 : 0;
	if (!t->cells)
		return;
	for (size_t c = 0; c < n_cols; c++)
		t->cells[c] = strdup(header[c]);
	t->n_rows = 1;
}

void ctl_table_row(struct ctl_table *t, ...)
{
	if (t->n_rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->n_cols * sizeof(*c));
		if (!c)
			return;
		t->cells = c;
		t->cap = cap;
	}
	va_list ap;
	va_start(ap, t);
	for (size_t c = 0; c < t->n_cols; c++) {
		const char *v = va_arg(ap, const char *);
		t->cells[t->n_rows * t->n_cols + c] = strdup(v ? v : "-");
	}
	va_end(ap);
	t->n_rows++;
}

void ctl_table_print(struct ctl_table *t, FILE *f)
{
	size_t w[32] = { 0 };
	for (size_t r = 0; r < t->n_rows; r++)
		for (size_t c = 0; c < t->n_cols && c < 32; c++) {
			const char *s = t->cells[r * t->n_cols + c];
			size_t l = s ? strlen(s) : 1;
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *s = t->cells[r * t->n_cols + c];
			if (c + 1 == t->n_cols)
				fprintf(f, "%s\n", s ? s : "?");
			else
				fprintf(f, "%-*s  ", (int)w[c < 32 ? c : 31], s ? s : "?");
		}
	}
}

void ctl_table_free(struct ctl_table *t)
{
	for (size_t i = 0; t->cells && i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
