/* The picture of a run (dvmq_report_plot): what the SVG draws (a line per processor through
 * every interval, a line per policy in the awake, drops and p99 latency panels), a real PNG, file
 * names that would break a shell or a gnuplot string, and the errors. Needs gnuplot: skips
 * without it. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../harness.h"
#include "dvmq/report.h"
#include "dvmq/sim.h"

static bool have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char *dirs = strdup(path ? path : "/usr/bin:/bin");
	bool found = false;
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char exe[4096];
		snprintf(exe, sizeof(exe), "%s/gnuplot", d);
		found = access(exe, X_OK) == 0;
	}
	free(dirs);
	return found;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

/* Runs `policies` on a small host (`procs` processors, 3 s, 100 ms intervals: 30 intervals) with
 * the CSV series in dir. Returns 0 or -1. */
static int simulate_on(const char *dir, const char *const *policies, size_t n, unsigned procs)
{
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	char text[256];
	snprintf(text, sizeof(text),
		 "[host]\nprocessors = %u\nqueue_pool = 8\nduration = 3s\n"
		 "[vm a]\ncount = 6\nload = steps 0s:100kpps 1s:400kpps 2s:100kpps\n",
		 procs);
	if (dvmq_scenario_load_text("plot.ini", text, NULL, &s, &d))
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct dvmq_engine_params p = s->params;
		dvmq_policy_parse(policies[i], &p.policy);
		const char *what[] = { "load", "moves", "awake" };
		FILE *f[3];
		for (int k = 0; k < 3; k++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s-%s.csv", dir, policies[i], what[k]);
			f[k] = fopen(path, "w");
		}
		struct dvmq_sim_sinks sinks = { .load = f[0], .moves = f[1], .awake = f[2] };
		struct dvmq_result r;
		rc = f[0] && f[1] && f[2] ? dvmq_sim_run(s, &p, &sinks, &r, NULL) : -1;
		for (int k = 0; k < 3; k++)
			if (f[k])
				fclose(f[k]);
	}
	dvmq_scenario_free(s);
	return rc;
}

static int simulate(const char *dir, const char *const *policies, size_t n)
{
	return simulate_on(dir, policies, n, 4);
}

/* Points of the data part of a gnuplot SVG path: its M and L commands after the key's sample
 * segment (the first "M .. L .."). */
static int path_points(const char *d, const char *end)
{
	int n = 0;
	for (const char *c = d; c < end; c++)
		n += (*c == 'M' || *c == 'L') && c[-1] != 'A';
	return n - 2;
}

/* The plot group of panel `panel` ('a', 'b', 'c') titled `title`: its points, or -1. */
static int group_points(const char *svg, char panel, const char *title)
{
	char want[128];
	for (const char *g = strstr(svg, "<g id=\"gnuplot_plot_"); g; g = strstr(g + 1, "<g id=\"gnuplot_plot_")) {
		const char *q = strchr(g + 20, '"');
		if (!q || q[-1] != panel)
			continue;
		snprintf(want, sizeof(want), "<title>%s</title>", title);
		/* the group runs to the next plot's group (its own holds nested ones) */
		const char *close = strstr(g + 1, "<g id=\"gnuplot_plot_");
		if (!close)
			close = g + strlen(g);
		const char *t = strstr(g, "<title>");
		if (!close || !t || t > close || strncmp(t, want, strlen(want)) != 0)
			continue;
		int best = -1;
		for (const char *d = strstr(g, " d='"); d && d < close; d = strstr(d + 1, " d='")) {
			const char *e = strchr(d + 4, '\'');
			int n = e ? path_points(d + 4, e) : -1;
			if (n > best)
				best = n;
		}
		return best;
	}
	return -1;
}

static void cleanup(const char *dir)
{
	const char *files[] = { "none-load.csv", "none-moves.csv", "none-awake.csv", "adaptive-load.csv",
				"adaptive-moves.csv", "adaptive-awake.csv", "plot.gp", "gnuplot.log", "p.svg", "p.png",
				"it's \"odd\".svg" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

TEST(plot_svg_draws_every_processor_through_every_interval)
{
	if (!have_gnuplot())
		SKIP("gnuplot is not installed (apt-get install gnuplot-nox)");
	/* a directory whose name would end a quoted gnuplot string or split a shell word */
	char dir[256];
	snprintf(dir, sizeof(dir), "/tmp/dvmq plot's \"test\" %d", (int)getpid());
	CHECK(mkdir(dir, 0700) == 0);
	const char *pol[] = { "none", "adaptive" };
	char out[512];
	snprintf(out, sizeof(out), "%s/it's \"odd\".svg", dir);
	struct dvmq_plot p = { .csv_dir = dir, .policies = pol, .n_policies = 2, .focus = "adaptive",
			       .n_processors = 4, .title = "o'clock", .out_path = out };
	char err[600] = "";
	int rc = simulate(dir, pol, 2);
	if (rc == 0)
		rc = dvmq_report_plot(&p, err, sizeof(err));
	size_t len = 0;
	char *svg = rc == 0 ? slurp(out, &len) : NULL;
	cleanup(dir);
	CHECK_MSG(rc == 0, "plot: %d %s", rc, err);
	CHECK(svg);
	/* panel a: one line per processor, each through all 30 intervals; the moves */
	int pts[4];
	for (int c = 0; c < 4; c++) {
		char t[16];
		snprintf(t, sizeof(t), "cpu%d", c);
		pts[c] = group_points(svg, 'a', t);
	}
	int awake_none = group_points(svg, 'b', "none"), awake_ada = group_points(svg, 'b', "adaptive");
	int oracle = group_points(svg, 'b', "oracle"), drops_none = group_points(svg, 'c', "none");
	int drops_ada = group_points(svg, 'c', "adaptive"), fifth = group_points(svg, 'a', "cpu4");
	int p99_none = group_points(svg, 'd', "none"), p99_ada = group_points(svg, 'd', "adaptive");
	bool moves = strstr(svg, "<title>move</title>") != NULL, title = strstr(svg, "o&apos;clock") ||
									   strstr(svg, "o'clock");
	free(svg);
	for (int c = 0; c < 4; c++)
		CHECK_MSG(pts[c] >= 30, "cpu%d drawn through %d points, want >= 30 intervals", c, pts[c]);
	CHECK(fifth == -1); /* four processors, four lines */
	CHECK(moves && title);
	/* panels b and c: a line per policy (steps: two points per interval) and the oracle */
	CHECK_MSG(awake_none >= 30 && awake_ada >= 30 && oracle >= 30, "awake %d %d oracle %d", awake_none,
		  awake_ada, oracle);
	CHECK_MSG(drops_none >= 30 && drops_ada >= 30, "drops %d %d", drops_none, drops_ada);
	/* panel d: each interval's p99 latency, a line per policy */
	CHECK_MSG(p99_none >= 30 && p99_ada >= 30, "p99 %d %d", p99_none, p99_ada);
}

TEST(plot_png_is_a_png_of_the_asked_size)
{
	if (!have_gnuplot())
		SKIP("gnuplot is not installed (apt-get install gnuplot-nox)");
	char dir[] = "/tmp/dvmq-plot-png.XXXXXX";
	CHECK(mkdtemp(dir));
	const char *pol[] = { "adaptive" };
	char out[512];
	snprintf(out, sizeof(out), "%s/p.png", dir);
	struct dvmq_plot p = { .csv_dir = dir, .policies = pol, .n_policies = 1, .focus = "adaptive",
			       .n_processors = 4, .title = "png", .out_path = out };
	char err[600] = "";
	int rc = simulate(dir, pol, 1);
	if (rc == 0)
		rc = dvmq_report_plot(&p, err, sizeof(err));
	size_t len = 0;
	unsigned char *png = rc == 0 ? (unsigned char *)slurp(out, &len) : NULL;
	cleanup(dir);
	CHECK_MSG(rc == 0, "plot: %d %s", rc, err);
	CHECK(png);
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	bool ok = len > 20000 && memcmp(png, sig, 8) == 0 && memcmp(png + 12, "IHDR", 4) == 0;
	uint32_t w = ok ? (uint32_t)png[16] << 24 | (uint32_t)png[17] << 16 | (uint32_t)png[18] << 8 | png[19] : 0;
	uint32_t h = ok ? (uint32_t)png[20] << 24 | (uint32_t)png[21] << 16 | (uint32_t)png[22] << 8 | png[23] : 0;
	free(png);
	CHECK_MSG(ok, "%zu bytes, not a PNG of plausible size", len);
	CHECK_MSG(w == 1200 && h == 1500, "PNG %ux%u", w, h);
}

TEST(plot_errors)
{
	const char *pol[] = { "adaptive" };
	char err[600];
	struct dvmq_plot p = { .csv_dir = "/tmp", .policies = pol, .n_policies = 1, .focus = "adaptive",
			       .n_processors = 4, .title = "x", .out_path = "/tmp/x.jpg" };
	CHECK(dvmq_report_plot(&p, err, sizeof(err)) == -EINVAL);
	CHECK_MSG(strcmp(err, "/tmp/x.jpg: want a FILE.svg or FILE.png") == 0, "%s", err);
	p.out_path = "/tmp/x\n.svg";
	CHECK(dvmq_report_plot(&p, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "line breaks") != NULL);
	/* gnuplot not on PATH: said so, not a crash or a shell's "command not found" */
	char dir[] = "/tmp/dvmq-plot-err.XXXXXX";
	CHECK(mkdtemp(dir));
	p.csv_dir = dir;
	p.out_path = "/tmp/never.svg";
	setenv("PATH", "/nonexistent", 1);
	int rc = dvmq_report_plot(&p, err, sizeof(err));
	cleanup(dir);
	CHECK_MSG(rc == -ENOENT, "rc %d", rc);
	CHECK(strstr(err, "gnuplot not found") != NULL);
}

TEST(plot_gnuplot_failure_is_reported)
{
	if (!have_gnuplot())
		SKIP("gnuplot is not installed (apt-get install gnuplot-nox)");
	/* no CSV series at all: gnuplot fails, its own error comes back */
	char dir[] = "/tmp/dvmq-plot-fail.XXXXXX";
	CHECK(mkdtemp(dir));
	const char *pol[] = { "adaptive" };
	char out[512], err[600] = "";
	snprintf(out, sizeof(out), "%s/p.svg", dir);
	struct dvmq_plot p = { .csv_dir = dir, .policies = pol, .n_policies = 1, .focus = "adaptive",
			       .n_processors = 4, .title = "x", .out_path = out };
	int rc = dvmq_report_plot(&p, err, sizeof(err));
	cleanup(dir);
	CHECK_MSG(rc == -EIO, "rc %d", rc);
	CHECK_MSG(strncmp(err, "gnuplot: ", 9) == 0 && strlen(err) > 12, "%s", err);
}

/* The width and height of the first PNG embedded in an SVG (gnuplot's `with image`), decoded
 * from the base64 of its IHDR; 0 when there is none. */
static void embedded_png_size(const char *svg, uint32_t *w, uint32_t *h)
{
	*w = *h = 0;
	const char *b = strstr(svg, "data:image/png;base64,");
	if (!b)
		return;
	b += strlen("data:image/png;base64,");
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char bytes[24];
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (; *b && n < sizeof(bytes); b++) {
		const char *c = strchr(abc, *b);
		if (!c || !*b)
			return;
		acc = acc << 6 | (uint32_t)(c - abc);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bytes[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (n < sizeof(bytes) || memcmp(bytes + 1, "PNG", 3) != 0 || memcmp(bytes + 12, "IHDR", 4) != 0)
		return;
	*w = (uint32_t)bytes[16] << 24 | (uint32_t)bytes[17] << 16 | (uint32_t)bytes[18] << 8 | bytes[19];
	*h = (uint32_t)bytes[20] << 24 | (uint32_t)bytes[21] << 16 | (uint32_t)bytes[22] << 8 | bytes[23];
}

/* More processors than a few lines can show apart: panel a is a heat map, one cell per processor
 * and interval (the image gnuplot embeds is 30 intervals by 8 processors), no line per processor;
 * the moves still marked. */
TEST(plot_many_processors_draw_a_heat_map_of_every_processor_and_interval)
{
	if (!have_gnuplot())
		SKIP("gnuplot is not installed (apt-get install gnuplot-nox)");
	char dir[] = "/tmp/dvmq-plot-heat.XXXXXX";
	CHECK(mkdtemp(dir));
	const char *pol[] = { "adaptive" };
	char out[512];
	snprintf(out, sizeof(out), "%s/p.svg", dir);
	struct dvmq_plot p = { .csv_dir = dir, .policies = pol, .n_policies = 1, .focus = "adaptive",
			       .n_processors = 8, .title = "heat", .out_path = out };
	char err[600] = "";
	int rc = simulate_on(dir, pol, 1, 8);
	if (rc == 0)
		rc = dvmq_report_plot(&p, err, sizeof(err));
	size_t len = 0;
	char *svg = rc == 0 ? slurp(out, &len) : NULL;
	cleanup(dir);
	CHECK_MSG(rc == 0, "plot: %d %s", rc, err);
	CHECK(svg);
	uint32_t w, h;
	embedded_png_size(svg, &w, &h);
	bool lines = strstr(svg, "<title>cpu0</title>") != NULL, moves = strstr(svg, "<title>move</title>") != NULL;
	bool colour = strstr(svg, "processor load under adaptive (colour") != NULL;
	free(svg);
	CHECK_MSG(w == 30 && h == 8, "heat map %ux%u, want 30 intervals x 8 processors", w, h);
	CHECK(!lines && moves && colour);
}
