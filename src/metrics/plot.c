/* The picture of a run (dvmq_report_plot): a gnuplot script over the run's CSV series, drawn by
 * plot_render (plot_gnuplot.c: no shell, every name quoted). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/report.h"
#include "plot_internal.h"

#define PLOT_KEYED 16u /* processors named in the key; the others are drawn without */
#define PLOT_LINES 4u  /* up to this many processors, a line each; more overlap: a heat map */

/* A series file of csv_dir, quoted: DIR/POLICY-WHAT.csv */
static void put_series(FILE *g, const struct dvmq_plot *p, const char *policy, const char *what)
{
	size_t n = strlen(p->csv_dir) + strlen(policy) + strlen(what) + 8;
	char *path = malloc(n);
	if (!path) {
		fputs("''", g); /* gnuplot then fails; the caller reports its error */
		return;
	}
	snprintf(path, n, "%s/%s-%s.csv", p->csv_dir, policy, what);
	plot_put_quoted(g, path);
	free(path);
}

/* A look per policy that two lines on top of each other still show both: colour, dash, width
 * (static and a quiet ovs-alb often run the same course) */
static void put_style(FILE *g, const char *policy)
{
	static const struct { const char *name, *style; } styles[] = {
		{ "none", "lc rgb '#888888' dt 1 lw 1" },     { "static", "lc rgb '#000000' dt 2 lw 2" },
		{ "dynamic", "lc rgb '#e66100' dt 1 lw 1.5" }, { "ovs-alb", "lc rgb '#3b6fd6' dt 4 lw 2.5" },
		{ "adaptive", "lc rgb '#1a9641' dt 1 lw 2" },   { "rsspp", "lc rgb '#984ea3' dt 5 lw 1.5" },
		{ "irqbalance", "lc rgb '#a65628' dt 3 lw 1.5" },
	};
	for (size_t i = 0; i < sizeof(styles) / sizeof(styles[0]); i++)
		if (strcmp(styles[i].name, policy) == 0) {
			fprintf(g, " %s", styles[i].style);
			return;
		}
}

/* A policy's line: its style and its key text (a label that says why it never moved) */
static void put_policy(FILE *g, const struct dvmq_plot *p, size_t i)
{
	put_style(g, p->policies[i]);
	fputs(" title ", g);
	plot_put_quoted(g, p->labels && p->labels[i] ? p->labels[i] : p->policies[i]);
}

/* Panel 5: each group VM's queues over time (steps), from the focus policy's groups series. */
static void groups_panel(FILE *g, const struct dvmq_plot *p)
{
	size_t n = p->n_group_vms < PLOT_KEYED ? p->n_group_vms : PLOT_KEYED;
	char title[600];
	snprintf(title, sizeof(title), "queues in each VM group (VMMQ) under %s", p->focus);
	fputs("unset logscale y\nset title ", g);
	plot_put_quoted(g, title);
	fputs("\nset ylabel 'queues'\nset yrange [0:*]\nplot ", g);
	for (size_t i = 0; i < n; i++) {
		put_series(g, p, p->focus, "groups");
		fputs(" using 1:(strcol(2) eq ", g);
		plot_put_quoted(g, p->group_vms[i]);
		fputs(" ? $3 : 1/0) with steps lw 2 title ", g);
		plot_put_quoted(g, p->group_vms[i]);
		fputs(i + 1 < n ? ", " : "\n", g);
	}
}

/* Panel 1 as lines: one per processor from the wide load series (a row per interval, a column
 * per processor: no undefined points to break the lines). */
static void load_lines(FILE *g, const struct dvmq_plot *p)
{
	const uint32_t n = p->n_processors;
	fputs("\nset ylabel 'load'\nset yrange [0:1.08]\nplot ", g);
	uint32_t keyed = n < PLOT_KEYED ? n : PLOT_KEYED;
	fprintf(g, "for [i=2:%u] ", keyed + 1);
	put_series(g, p, p->focus, "load");
	fputs(" using 1:i with lines lw 1 title columnheader(i), ", g);
	if (n > keyed) {
		fprintf(g, "for [i=%u:%u] ", keyed + 2, n + 1);
		put_series(g, p, p->focus, "load");
		fputs(" using 1:i with lines lw 1 notitle, ", g);
	}
	put_series(g, p, p->focus, "moves");
	fputs(" using 1:(1.04) with points pt 7 ps 0.4 lc rgb 'red' title 'move'\n", g);
}

/* Panel 1 as a heat map: processors up, time across, the colour the load (1 and over: the
 * darkest). The wide series is turned into (time, processor, load) rows first, processor after
 * processor (set table, before the multiplot), which `with image` draws as a grid. */
static void load_table(FILE *g, const struct dvmq_plot *p)
{
	fputs("set table $dvmq_load separator comma\n", g);
	fprintf(g, "plot for [i=2:%u] ", p->n_processors + 1);
	put_series(g, p, p->focus, "load");
	fputs(" using 1:(i-2):i with table\nunset table\n", g);
}

static void load_heat(FILE *g, const struct dvmq_plot *p)
{
	const uint32_t n = p->n_processors;
	fprintf(g, "\nset ylabel 'processor'\nset yrange [-0.5:%u.5]\nset cbrange [0:1]\nset cblabel 'load'\n"
		   "set palette defined (0 '#ffffe5', 0.25 '#fed976', 0.5 '#fd8d3c', 0.75 '#e31a1c', 1 '#800026')\n"
		   "set autoscale xfix\nplot $dvmq_load using 1:2:3 with image notitle, ",
		n);
	put_series(g, p, p->focus, "moves");
	fprintf(g, " using 1:(%u) with points pt 7 ps 0.4 lc rgb 'red' title 'move'\nunset colorbox\n"
		   "set autoscale x\n",
		n);
}

static int write_script(FILE *g, const void *ctx, bool png)
{
	const struct dvmq_plot *p = ctx;
	const uint32_t n = p->n_processors;
	const bool groups = p->n_group_vms > 0 && p->group_vms;
	const int height = groups ? 1800 : 1500;
	if (png)
		fprintf(g, "set terminal pngcairo size 1200,%d background rgb 'white' font 'Sans,9'\n", height);
	else
		fprintf(g, "set terminal svg size 1200,%d dynamic background rgb 'white' font 'Arial,11'\n", height);
	fputs("set output ", g);
	plot_put_quoted(g, p->out_path);
	fputs("\nset datafile separator ','\n", g);
	const bool heat = n > PLOT_LINES;
	if (heat)
		load_table(g, p);
	/* the same plot width in every panel, whatever its key or colour box: time lines up */
	fprintf(g, "set key outside right\nset lmargin at screen 0.08\nset rmargin at screen 0.64\nset xlabel 'time (s)'\n"
		   "set multiplot layout %d,1 title ",
		(groups ? 5 : 4) - p->no_oracle); /* a daemon's history has no latency per interval */
	char title[600];
	snprintf(title, sizeof(title), "dvmq %s", p->title ? p->title : "");
	plot_put_quoted(g, title);
	/* panel 1: each processor's load over time, moves marked at the top */
	snprintf(title, sizeof(title), heat ? "processor load under %s (colour; moves marked at the top)"
					    : "processor load under %s (moves marked at the top)",
		 p->focus);
	fputs("\nset title ", g);
	plot_put_quoted(g, title);
	if (heat)
		load_heat(g, p);
	else
		load_lines(g, p);
	/* panel 2: awake processors per policy against the oracle (the same for every policy) */
	fputs(p->no_oracle ? "set title 'awake processors (owning a queue)'\n"
			   : "set title 'awake processors against the oracle (a lower bound on the processors needed)'\n",
	      g);
	fputs("set ylabel 'processors'\n", g);
	fprintf(g, "set yrange [0:%.1f]\nplot ", (double)n * 1.05 + 0.5);
	for (size_t i = 0; i < p->n_policies; i++) {
		put_series(g, p, p->policies[i], "awake");
		fputs(" using 1:2 with steps", g);
		put_policy(g, p, i);
		fputs(i + 1 < p->n_policies || !p->no_oracle ? ", " : "\n", g);
	}
	if (!p->no_oracle) {
		put_series(g, p, p->focus, "awake");
		fputs(" using 1:3 with steps lw 2 dt 3 lc rgb '#b2182b' title 'oracle'\n", g);
	}
	/* panel 3: drops per second per policy, on a log scale: one policy's millions must not hide
	 * another's hundreds; no drops is drawn on the floor */
	fputs("set title 'drops per second (log scale; none drawn as 1)'\nset ylabel 'packets/s'\n"
	      "set logscale y\nset yrange [1:*]\nplot ",
	      g);
	for (size_t i = 0; i < p->n_policies; i++) {
		put_series(g, p, p->policies[i], "awake");
		fputs(" using 1:($4 < 1 ? 1 : $4) with steps", g);
		put_policy(g, p, i);
		fputs(i + 1 < p->n_policies ? ", " : "\n", g);
	}
	if (p->no_oracle) {
		fputs("unset multiplot\n", g);
		return ferror(g) ? -EIO : 0;
	}
	/* panel 4: each interval's p99 latency per policy, log scale (a millisecond tail next to
	 * microseconds); an interval that delivered nothing is drawn at 0.1 us */
	fputs("set title 'p99 latency per interval (log scale)'\nset ylabel 'microseconds'\n"
	      "set yrange [0.1:*]\nplot ",
	      g);
	for (size_t i = 0; i < p->n_policies; i++) {
		put_series(g, p, p->policies[i], "awake");
		fputs(" using 1:($5 < 0.1 ? 0.1 : $5) with steps", g);
		put_policy(g, p, i);
		fputs(i + 1 < p->n_policies ? ", " : "\n", g);
	}
	if (groups)
		groups_panel(g, p);
	fputs("unset multiplot\n", g);
	return ferror(g) ? -EIO : 0;
}

int dvmq_report_plot(const struct dvmq_plot *p, char *err, size_t err_len)
{
	bool vm_breaks = false;
	for (size_t i = 0; p->group_vms && i < p->n_group_vms; i++)
		vm_breaks |= plot_has_line_break(p->group_vms[i]);
	if (plot_has_line_break(p->title) || plot_has_line_break(p->focus) || vm_breaks) {
		plot_set_err(err, err_len, "file names with line breaks cannot be plotted");
		return -EINVAL;
	}
	return plot_render(p->csv_dir, p->out_path, write_script, p, err, err_len);
}
