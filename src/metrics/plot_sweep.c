/* The picture of a sweep (dvmq_report_sweep_plot): one policy run over a range of one parameter,
 * its points as a line in two panels (p99 latency and drops, each against mean awake processors),
 * every peer's point beside it. Drawn by plot_render (plot_gnuplot.c). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/report.h"
#include "plot_internal.h"

static void put_file(FILE *g, const struct dvmq_sweep_plot *p, const char *name)
{
	size_t n = strlen(p->csv_dir) + strlen(name) + 2;
	char *path = malloc(n);
	if (!path) {
		fputs("''", g); /* gnuplot then fails; the caller reports its error */
		return;
	}
	snprintf(path, n, "%s/%s", p->csv_dir, name);
	plot_put_quoted(g, path);
	free(path);
}

/* One panel: the sweep's line with each point's value, the peers as labelled points. ycol is the
 * column of sweep.csv / peers.csv (label,awake,p99_us,drop_pct). */
static void panel(FILE *g, const struct dvmq_sweep_plot *p, const char *y)
{
	fputs("plot ", g);
	put_file(g, p, "sweep.csv");
	fprintf(g, " using 2:%s with linespoints lw 2 pt 7 title ", y);
	char t[300];
	snprintf(t, sizeof(t), "%s over %s", p->policy, p->param);
	plot_put_quoted(g, t);
	fputs(", ", g);
	put_file(g, p, "sweep.csv");
	fprintf(g, " using 2:%s:1 with labels left offset 0.6,0.6 font ',8' notitle, ", y);
	put_file(g, p, "peers.csv");
	fprintf(g, " using 2:%s with points pt 5 ps 1.3 lc rgb 'black' title 'peers (defaults)', ", y);
	put_file(g, p, "peers.csv");
	fprintf(g, " using 2:%s:1 with labels left offset 0.6,-0.6 notitle\n", y);
}

static int write_sweep(FILE *g, const void *ctx, bool png)
{
	const struct dvmq_sweep_plot *p = ctx;
	if (png)
		fputs("set terminal pngcairo size 1000,1000 background rgb 'white' font 'Sans,9'\n", g);
	else
		fputs("set terminal svg size 1000,1000 dynamic background rgb 'white' font 'Arial,11'\n", g);
	fputs("set output ", g);
	plot_put_quoted(g, p->out_path);
	fputs("\nset datafile separator ','\nset key outside right\nset grid\n"
	      "set xlabel 'mean awake processors'\nset multiplot layout 2,1 title ",
	      g);
	char title[600];
	snprintf(title, sizeof(title), "dvmq sim %s --sweep %s (policy %s)", p->title ? p->title : "", p->param,
		 p->policy);
	plot_put_quoted(g, title);
	/* p99 from a few microseconds to tens of milliseconds: log scale */
	fputs("\nset title 'p99 latency against mean awake processors (log scale)'\n"
	      "set ylabel 'p99 latency (us)'\nset logscale y\n",
	      g);
	panel(g, p, "3");
	/* drops: none is drawn at 0.0001 % */
	fputs("set title 'drops against mean awake processors (log scale; none drawn as 0.0001 %)'\n"
	      "set ylabel 'dropped (%)'\n",
	      g);
	panel(g, p, "($4 < 0.0001 ? 0.0001 : $4)");
	fputs("unset multiplot\n", g);
	return ferror(g) ? -EIO : 0;
}

int dvmq_report_sweep_plot(const struct dvmq_sweep_plot *p, char *err, size_t err_len)
{
	if (plot_has_line_break(p->title) || plot_has_line_break(p->param) || plot_has_line_break(p->policy)) {
		plot_set_err(err, err_len, "names with line breaks cannot be plotted");
		return -EINVAL;
	}
	return plot_render(p->csv_dir, p->out_path, write_sweep, p, err, err_len);
}
