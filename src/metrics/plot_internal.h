/* Shared by the plot writers of src/metrics: gnuplot run without a shell (plot_gnuplot.c). */
#ifndef DVMQ_PLOT_INTERNAL_H
#define DVMQ_PLOT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

void plot_set_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Writes s as a gnuplot single-quoted string: quotes doubled, nothing else special. */
void plot_put_quoted(FILE *g, const char *s);
bool plot_has_line_break(const char *s);

/* Writes a gnuplot script for ctx into g (terminal chosen by png). Returns 0 or -EIO. */
typedef int (*plot_writer)(FILE *g, const void *ctx, bool png);
/* Writes dir/plot.gp with `write` and runs gnuplot on it (output in dir/gnuplot.log). Returns 0,
 * -EINVAL (out_path not .svg or .png, or dir or out_path with a line break), -ENOENT (gnuplot not
 * installed), -EIO (gnuplot failed: err holds its first error line) or another negative errno. */
int plot_render(const char *dir, const char *out_path, plot_writer write, const void *ctx, char *err,
		size_t err_len);

#endif
