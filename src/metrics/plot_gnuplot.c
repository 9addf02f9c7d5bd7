/* gnuplot without a shell, shared by the plots (plot.c, plot_sweep.c): a script written into a
 * directory, gnuplot spawned on it, its first error line reported. Invariant: every file name and
 * title a script holds is written by plot_put_quoted (gnuplot single quotes, quotes doubled), and
 * none holds a line break (plot_render refuses them), so no name can end a string or a command. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dvmq/report.h"

#include "plot_internal.h"

void plot_set_err(char *err, size_t len, const char *fmt, ...)
{
	if (!err || !len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* Writes s as a gnuplot single-quoted string: quotes doubled, nothing else special. */
void plot_put_quoted(FILE *g, const char *s)
{
	fputc('\'', g);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', g);
		fputc(*s, g);
	}
	fputc('\'', g);
}

bool plot_has_line_break(const char *s)
{
	return s && strpbrk(s, "\n\r") != NULL;
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
	plot_set_err(err, len, "gnuplot: %s", last);
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
		plot_set_err(err, err_len, "%s: want a FILE.svg or FILE.png", out_path);
		return -EINVAL;
	}
	if (plot_has_line_break(out_path)) {
		plot_set_err(err, err_len, "file names with line breaks cannot be plotted");
		return -EINVAL;
	}
	const char *slash = strrchr(out_path, '/');
	char dir[4096];
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - out_path) + (slash == out_path) : 1,
		 slash ? out_path : ".");
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		plot_set_err(err, err_len, "%s: no directory %s to write it in", out_path, dir);
		return -ENOENT;
	}
	if (access(dir, W_OK) != 0) {
		plot_set_err(err, err_len, "%s: cannot write in %s: %s", out_path, dir, strerror(errno));
		return -EACCES;
	}
	return 0;
}

int plot_render(const char *dir, const char *out_path, plot_writer write, const void *ctx, char *err,
		size_t err_len)
{
	const char *dot = strrchr(out_path, '.');
	bool png = dot && strcmp(dot, ".png") == 0, svg = dot && strcmp(dot, ".svg") == 0;
	if (!png && !svg) {
		plot_set_err(err, err_len, "%s: want a FILE.svg or FILE.png", out_path);
		return -EINVAL;
	}
	if (plot_has_line_break(out_path) || plot_has_line_break(dir)) {
		plot_set_err(err, err_len, "file names with line breaks cannot be plotted");
		return -EINVAL;
	}
	size_t n = strlen(dir) + 16;
	char *script = malloc(n), *log_path = malloc(n);
	int rc = script && log_path ? 0 : -ENOMEM;
	if (rc)
		goto out;
	snprintf(script, n, "%s/plot.gp", dir);
	snprintf(log_path, n, "%s/gnuplot.log", dir);
	FILE *g = fopen(script, "w");
	if (!g) {
		rc = -errno;
		plot_set_err(err, err_len, "%s: %s", script, strerror(errno));
		goto out;
	}
	rc = write(g, ctx, png);
	if (fclose(g) != 0 && rc == 0)
		rc = -EIO;
	if (rc) {
		plot_set_err(err, err_len, "%s: cannot write the script", script);
		goto out;
	}
	rc = run_gnuplot(script, log_path);
	if (rc == -ENOENT)
		plot_set_err(err, err_len, "gnuplot not found (apt-get install gnuplot-nox)");
	else if (rc)
		log_error(log_path, err, err_len);
out:
	free(script);
	free(log_path);
	return rc;
}
