/* dvmqctl internals: the table printer and the readable renderings of each command's result
 * (dvmqctl_show.c), shared with main and the live views (dvmqctl.c). Only main picks exit codes. */
#ifndef DVMQ_DVMQCTL_H
#define DVMQ_DVMQCTL_H

#include <stdio.h>

#include "dvmq/ctl.h"

/* Columns aligned on their widest cell; cells are copied. */
struct ctl_table {
	size_t n_cols, n_rows, cap;
	char **cells; /* n_rows x n_cols, the header first */
};

void ctl_table_init(struct ctl_table *t, size_t n_cols, const char *const *header);
/* Adds a row of n_cols printf-formatted cells: each argument is one cell's text. */
void ctl_table_row(struct ctl_table *t, ...);
void ctl_table_print(struct ctl_table *t, FILE *f);
void ctl_table_free(struct ctl_table *t);

/* Readable renderings of a command's result (the protocol's result object). */
void show_adapter(json_t *r, FILE *f);
void show_queues(json_t *r, FILE *f);
void show_vms(json_t *r, FILE *f);
void show_vm_removed(json_t *r, FILE *f);
void show_processors(json_t *r, FILE *f);
void show_policy(json_t *r, FILE *f);
void show_moves(json_t *r, FILE *f);
void show_rebalance(json_t *r, FILE *f);
void show_stats(json_t *r, FILE *f);
void show_explain(json_t *r, FILE *f);
void show_version(json_t *r, FILE *f);
void show_queue_set(json_t *r, FILE *f);
void show_config(json_t *r, FILE *f);
void show_config_diff(json_t *r, FILE *f);
void show_history(json_t *r, FILE *f);

/* The load history (dvmqctl_history.c): as CSV (a column per processor and per queue), and as
 * the simulator's picture (dvmq_report_plot). history_plot_check says before the daemon is asked
 * whether out_path can be written. Each returns 0 or a negative errno with err filled. */
void history_csv(json_t *r, FILE *f);
int history_plot_check(const char *out_path, char *err, size_t err_len);
int history_plot(json_t *r, const char *out_path, char *err, size_t err_len);

/* One move as a table line (for --follow), with or without the header first. */
void show_move_line(json_t *move, FILE *f, int header);

#endif
