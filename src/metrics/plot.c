/* The picture of a run (dvmq_report_plot): a gnuplot script over the run's CSV series, and
 * gnuplot started without a shell. Invariant: every file name and title in the script is inside
 * gnuplot single quotes with each quote doubled, and none holds a line break, so no name can end
 * a string or a command of the script. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dvmq/report.h"

#define PLOT_KEYED 16u /* processors named in the key; the others are drawn without */

static void set_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
	if (!err || !len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* Writes s as a gnuplot single-quoted string: quotes doubled, nothing else special. */
static void put_quoted(FILE *g, const char *s)
{
	fputc('\'', g);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', g);
		fputc(*s, g);
	}
	fputc('\'', g);
}

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
	put_quoted(g, path);
	free(path);
}

static bool has_line_break(const char *s)
{
	return s && strpbrk(s, "\n\r") != NULL;
}

/* A look per policy that two lines on top of each other still show both: colour, dash, width
 * (static and a quiet ovs-alb often run the same course) */
static void put_style(FILE *g, const char *policy)
{
	static const struct { const char *name, *style; } styles[] = {
		{ "none", "lc rgb '#888888' dt 1 lw 1" },     { "static", "lc rgb '#000000' dt 2 lw 2" },
		{ "dynamic", "lc rgb '#e66100' dt 1 lw 1.5" }, { "ovs-alb", "lc rgb '#3b6fd6' dt 4 lw 2.5" },
		{ "adaptive", "lc rgb '#1a9641' dt 1 lw 2" },
	};
	for (size_t i = 0; i < sizeof(styles) / sizeof(styles[0]); i++)
		if (strcmp(styles[i].name, policy) == 0) {
			fprintf(g, " %s", styles[i].style);
			return;
		}
}

static const char *label(const struct dvmq_plot *p, size_t i)
{
	return p->labels && p->labels[i] ? p->labels[i] : p->policies[i];
}

static int write_script(FILE *g, const struct dvmq_plot *p, bool png)
{
	const uint32_t n = p->n_processors;
	if (png)
		fputs("set terminal pngcairo size 1200,1200 background rgb 'white' font 'Sans,9'\n", g);
	else
		fputs("set terminal svg size 1200,1200 dynamic background rgb 'white' font 'Arial,11'\n", g);
	fputs("set output ", g);
	put_quoted(g, p->out_path);
	fputs("\nset datafile separator ','\nset key outside right\nset xlabel 'time (s)'\n"
	      "set multiplot layout 3,1 title ",
	      g);
	char title[600];
	snprintf(title, sizeof(title), "dvmq %s", p->title ? p->title : "");
	put_quoted(g, title);
	/* panel 1: one line per processor from the wide load series (a row per interval, a column
	 * per processor: no undefined points to break the lines) */
	snprintf(title, sizeof(title), "processor load under %s (moves marked at the top)", p->focus);
	fputs("\nset title ", g);
	put_quoted(g, title);
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
	/* panel 2: awake processors per policy against the oracle (the same for every policy) */
	fputs(p->no_oracle ? "set title 'awake processors (owning a queue)'\n"
			   : "set title 'awake processors against the oracle (a lower bound on the processors needed)'\n",
	      g);
	fputs("set ylabel 'processors'\n", g);
	fprintf(g, "set yrange [0:%.1f]\nplot ", (double)n * 1.05 + 0.5);
	for (size_t i = 0; i < p->n_policies; i++) {
		put_series(g, p, p->policies[i], "awake");
		fputs(" using 1:2 with steps", g);
		put_style(g, p->policies[i]);
		fputs(" title ", g);
		put_quoted(g, label(p, i));
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
		put_style(g, p->policies[i]);
		fputs(" title ", g);
		put_quoted(g, label(p, i));
		fputs(i + 1 < p->n_policies ? ", " : "\n", g);
	}
	fputs("unset multiplot\n", g);
	return ferror(g) ? -EIO : 0;
}

/* The first line of gnuplot's output that says what went wrong (else its last line). */
static void log_error(const char *log_path, char *err, size_t len)
{
	FILE *f = fopen(log_path, "r");
	char line[512], last[512] = "no output";
	bool found = false;
	while (f && !found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		snprintf(last, sizeof(last), "%s", line);
		found = strstr(line, "rror") != NULL;
	}
	if (f)
		fclose(f);
	set_err(err, len, "gnuplot: %s", last);
}

/* Runs gnuplot SCRIPT with no shell: stdin /dev/null, stdout and stderr to log_path.
 * Returns 0, -ENOENT (not installed) or -EIO. */
static int run_gnuplot(char *script, const char *log_path)
{
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa))
		return -ENOMEM;
	int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!rc)
		rc = posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
	char prog[] = "gnuplot";
	char *const argv[] = { prog, script, NULL };
	pid_t pid;
	if (!rc)
		rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return rc == ENOENT ? -ENOENT : -EIO;
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -EIO;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return -ENOENT;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int dvmq_report_plot_check(const char *out_path, char *err, size_t err_len)
{
	const char *dot = strrchr(out_path, '.');
	if (!dot || (strcmp(dot, ".png") != 0 && strcmp(dot, ".svg") != 0)) {
		set_err(err, err_len, "%s: want a FILE.svg or FILE.png", out_path);
		return -EINVAL;
	}
	if (has_line_break(out_path)) {
		set_err(err, err_len, "file names with line breaks cannot be plotted");
		return -EINVAL;
	}
	const char *slash = strrchr(out_path, '/');
	char dir[4096];
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - out_path) + (slash == out_path) : 1,
		 slash ? out_path : ".");
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		set_err(err, err_len, "%s: no directory %s to write it in", out_path, dir);
		return -ENOENT;
	}
	if (access(dir, W_OK) != 0) {
		set_err(err, err_len, "%s: cannot write in %s: %s", out_path, dir, strerror(errno));
		return -EACCES;
	}
	return 0;
}

int dvmq_report_plot(const struct dvmq_plot *p, char *err, size_t err_len)
{
	const char *dot = strrchr(p->out_path, '.');
	bool png = dot && strcmp(dot, ".png") == 0, svg = dot && strcmp(dot, ".svg") == 0;
	if (!png && !svg) {
		set_err(err, err_len, "%s: want a FILE.svg or FILE.png", p->out_path);
		return -EINVAL;
	}
	if (has_line_break(p->out_path) || has_line_break(p->csv_dir) || has_line_break(p->title) ||
	    has_line_break(p->focus)) {
		set_err(err, err_len, "file names with line breaks cannot be plotted");
		return -EINVAL;
	}
	size_t n = strlen(p->csv_dir) + 16;
	char *script = malloc(n), *log_path = malloc(n);
	int rc = script && log_path ? 0 : -ENOMEM;
	if (rc)
		goto out;
	snprintf(script, n, "%s/plot.gp", p->csv_dir);
	snprintf(log_path, n, "%s/gnuplot.log", p->csv_dir);
	FILE *g = fopen(script, "w");
	if (!g) {
		rc = -errno;
		set_err(err, err_len, "%s: %s", script, strerror(errno));
		goto out;
	}
	rc = write_script(g, p, png);
	if (fclose(g) != 0 && rc == 0)
		rc = -EIO;
	if (rc) {
		set_err(err, err_len, "%s: cannot write the script", script);
		goto out;
	}
	rc = run_gnuplot(script, log_path);
	if (rc == -ENOENT)
		set_err(err, err_len, "gnuplot not found (apt-get install gnuplot-nox)");
	else if (rc)
		log_error(log_path, err, err_len);
out:
	free(script);
	free(log_path);
	return rc;
}
