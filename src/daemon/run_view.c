/* The live view of `dvmq run`, once a second: totals, one line per processor (load, awake or
 * parked, its queues), the latest moves with their reasons and the latest single-queue overloads
 * (a VM whose one queue no move can help: it needs VMMQ). */
#include <stdio.h>
#include <string.h>

#include "run_internal.h"

#define VIEW_QUEUES_LISTED 6

void run_view(struct run *r, uint64_t t)
{
	FILE *f = r->o->live;
	struct run_dpif_counters c;
	r->dpif->counters(r, &c);
	if (r->o->live_redraw)
		fputs("\033[H\033[J", f);
	char total[32] = "";
	if (r->duration_ns)
		snprintf(total, sizeof(total), "/%.0f", (double)r->duration_ns * 1e-9);
	fprintf(f, "dvmq run %s  %s  t=%.0f%s s  offered %llu  delivered %llu  dropped %llu  moves %llu  ping-pongs %llu  "
		   "single-queue overloads %llu  no room %llu\n",
		r->name, dvmq_policy_name(r->params.policy), (double)t * 1e-9, total,
		(unsigned long long)c.offered, (unsigned long long)c.delivered,
		(unsigned long long)(c.drops[DVMQ_SNAP_DROP_OVERFLOW] + c.drops[DVMQ_SNAP_DROP_VM_GONE]), (unsigned long long)r->moves,
		(unsigned long long)r->pingpongs, (unsigned long long)r->overloads, (unsigned long long)r->no_room);
	for (uint32_t p = 0; p < r->n_procs; p++) {
		char qs[256];
		size_t len = 0;
		uint32_t listed = 0, n = 0;
		qs[0] = '\0';
		for (uint32_t q = 0; q < r->n_queues; q++) {
			if (dvmq_engine_queue_processor(r->engine, q) != p)
				continue;
			n++;
			if (listed < VIEW_QUEUES_LISTED && len < sizeof(qs) - 40) {
				len += (size_t)snprintf(qs + len, sizeof(qs) - len, " %u:%s", q, run_queue_vm(r, q));
				listed++;
			}
		}
		if (n > listed)
			snprintf(qs + len, sizeof(qs) - len, " +%u more", n - listed);
		fprintf(f, "  cpu%-3d %4.0f%%  %-6s %2u queues%s\n", r->cpus[p], r->ps[p].busy * 100.0,
			n ? "awake" : "parked", n, qs);
	}
	for (uint32_t i = 0; i < r->n_log; i++)
		fprintf(f, "  move %s\n", r->move_log[i]);
	for (uint32_t i = 0; i < r->n_overload_log; i++)
		fprintf(f, "  stuck %s\n", r->overload_log[i]);
	fflush(f);
}
