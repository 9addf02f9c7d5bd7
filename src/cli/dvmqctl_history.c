/* dvmqctl history: the daemon's load ring (the `history` result: a row per step, a column per
 * processor and per queue) as a table, as CSV, and as the simulator's picture: the rows become
 * the series dvmq_report_plot draws (history-load.csv, -moves.csv, -awake.csv) in a private
 * directory removed afterwards. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dvmq/report.h"
#include "dvmqctl.h"

static double at(json_t *arr, size_t i)
{
	return json_number_value(json_array_get(arr, i));
}

void history_csv(json_t *r, FILE *f)
{
	json_t *rows = json_object_get(r, "rows"), *queues = json_object_get(r, "queues");
	long long np = json_integer_value(json_object_get(r, "processors"));
	fputs("time_s", f);
	for (long long p = 0; p < np; p++)
		fprintf(f, ",p%lld", p);
	size_t i;
	json_t *q;
	json_array_foreach(queues, i, q) {
		const char *vm = json_string_value(json_object_get(q, "vm"));
		fprintf(f, ",q%lld%s%s", (long long)json_integer_value(json_object_get(q, "queue")), vm ? ":" : "", vm ? vm : "");
	}
	fputs(",awake,drops_per_s,moves\n", f);
	json_t *row;
	json_array_foreach(rows, i, row) {
		json_t *load = json_object_get(row, "load"), *ql = json_object_get(row, "queue_load");
		fprintf(f, "%.3f", json_number_value(json_object_get(row, "t")));
		for (size_t k = 0; k < json_array_size(load); k++)
			fprintf(f, ",%.4f", at(load, k));
		for (size_t k = 0; k < json_array_size(ql); k++)
			fprintf(f, ",%.4f", at(ql, k));
		fprintf(f, ",%lld,%.1f,%lld\n", (long long)json_integer_value(json_object_get(row, "awake")),
			json_number_value(json_object_get(row, "drops_per_s")),
			(long long)json_integer_value(json_object_get(row, "moves")));
	}
}

void show_history(json_t *r, FILE *f)
{
	json_t *rows = json_object_get(r, "rows");
	size_t n = json_array_size(rows);
	long long np = json_integer_value(json_object_get(r, "processors"));
	if (n == 0) {
		fprintf(f, "no history yet\n");
		return;
	}
	double t0 = json_number_value(json_object_get(json_array_get(rows, 0), "t"));
	double t1 = json_number_value(json_object_get(json_array_get(rows, n - 1), "t"));
	fprintf(f, "%zu rows, %.0f s to %.0f s (every %.3g s); dvmqctl history --csv for all of it\n", n, t0, t1,
		json_number_value(json_object_get(r, "step_s")));
	static const char *const head[] = { "PROCESSOR", "MEAN", "MAX", "LAST" };
	struct ctl_table t;
	ctl_table_init(&t, 4, head);
	for (long long p = 0; p < np; p++) {
		double sum = 0.0, max = 0.0, last = 0.0;
		size_t i;
		json_t *row;
		json_array_foreach(rows, i, row) {
			last = at(json_object_get(row, "load"), (size_t)p);
			sum += last;
			max = last > max ? last : max;
		}
		char id[24], mean[16], mx[16], ls[16];
		snprintf(id, sizeof(id), "%lld", p);
		snprintf(mean, sizeof(mean), "%.0f%%", sum / (double)n * 100.0);
		snprintf(mx, sizeof(mx), "%.0f%%", max * 100.0);
		snprintf(ls, sizeof(ls), "%.0f%%", last * 100.0);
		ctl_table_row(&t, id, mean, mx, ls);
	}
	ctl_table_print(&t, f);
	ctl_table_free(&t);
}

int history_plot_check(const char *out_path, char *err, size_t err_len)
{
	return dvmq_report_plot_check(out_path, err, err_len);
}

static int write_series(const char *dir, const char *what, json_t *r, char *err, size_t err_len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/history-%s.csv", dir, what);
	FILE *f = fopen(path, "w");
	if (!f) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	json_t *rows = json_object_get(r, "rows");
	long long np = json_integer_value(json_object_get(r, "processors"));
	size_t i;
	json_t *row;
	if (strcmp(what, "load") == 0) {
		fputs("time_s", f);
		for (long long p = 0; p < np; p++)
			fprintf(f, ",p%lld", p);
		fputc('\n', f);
	} else if (strcmp(what, "moves") == 0) {
		fputs("time_s\n", f);
	} else {
		fputs("time_s,awake,oracle,dropped_pps\n", f);
	}
	json_array_foreach(rows, i, row) {
		double t = json_number_value(json_object_get(row, "t"));
		if (strcmp(what, "load") == 0) {
			json_t *load = json_object_get(row, "load");
			fprintf(f, "%.3f", t);
			for (size_t k = 0; k < json_array_size(load); k++)
				fprintf(f, ",%.4f", at(load, k));
			fputc('\n', f);
		} else if (strcmp(what, "moves") == 0) {
			for (long long m = json_integer_value(json_object_get(row, "moves")); m > 0; m--)
				fprintf(f, "%.3f\n", t);
		} else {
			fprintf(f, "%.3f,%lld,NaN,%.1f\n", t, (long long)json_integer_value(json_object_get(row, "awake")),
				json_number_value(json_object_get(row, "drops_per_s")));
		}
	}
	int rc = ferror(f) ? -EIO : 0;
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc)
		snprintf(err, err_len, "%s: cannot write", path);
	return rc;
}

int history_plot(json_t *r, const char *out_path, char *err, size_t err_len)
{
	char dir[] = "/tmp/dvmqctl-history.XXXXXX";
	if (!mkdtemp(dir)) {
		snprintf(err, err_len, "cannot make a temporary directory: %s", strerror(errno));
		return -errno;
	}
	static const char *const what[] = { "load", "moves", "awake" };
	int rc = 0;
	for (int k = 0; k < 3 && rc == 0; k++)
		rc = write_series(dir, what[k], r, err, err_len);
	if (rc == 0) {
		const char *const pol[] = { "history" };
		struct dvmq_plot p = { .csv_dir = dir, .policies = pol, .n_policies = 1, .focus = "history",
				       .n_processors = (uint32_t)json_integer_value(json_object_get(r, "processors")),
				       .title = "daemon history", .out_path = out_path, .no_oracle = true };
		rc = dvmq_report_plot(&p, err, err_len);
	}
	static const char *const files[] = { "history-load.csv", "history-moves.csv", "history-awake.csv", "plot.gp",
					      "gnuplot.log" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	return rc;
}
