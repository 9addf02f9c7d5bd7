/* The engine's rules in words, for operators: engine parameters as the text `policy set` takes
 * back ("90%", "1s"), and the rule that keeps a queue where it is (`explain`), derived from a
 * snapshot alone.
 * Invariant: dvmq_ctl_param_format knows every name dvmq_engine_param_names() lists, and its text
 * parses back to the same value (tests/unit/test_ctl_commands.c checks both, so a parameter added
 * to the engine without a line here fails the tests). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ctl_internal.h"
#include "dvmq/units.h"

enum kind { K_FRAC, K_TIME, K_COUNT, K_POLICY };

struct param_text {
	const char *name;
	enum kind kind;
	size_t off;
};

#define P(n, k, f) { n, k, offsetof(struct dvmq_engine_params, f) }
static const struct param_text params[] = {
	P("policy", K_POLICY, policy),
	P("high", K_FRAC, high),
	P("low", K_FRAC, low),
	P("ewma", K_FRAC, ewma_alpha),
	P("dwell", K_TIME, dwell_ns),
	P("return-guard", K_TIME, return_guard_ns),
	P("return-window", K_TIME, return_window_ns),
	P("min-gain", K_FRAC, min_gain),
	P("floor", K_FRAC, spread_floor),
	P("pack", K_FRAC, pack),
	P("coalesce-rounds", K_COUNT, coalesce_rounds),
	P("peak-halflife", K_TIME, peak_halflife_ns),
	P("ovs-threshold", K_FRAC, ovs_threshold),
	P("ovs-history", K_COUNT, ovs_history),
	P("ovs-interval", K_TIME, ovs_interval_ns),
	P("ovs-improvement", K_FRAC, ovs_improvement),
};
#undef P

static void format_time(uint64_t ns, char *buf, size_t len)
{
	if (ns && ns % 1000000000ull == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ns / 1000000000ull));
	else if (ns && ns % 1000000ull == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / 1000000ull));
	else if (ns && ns % 1000ull == 0)
		snprintf(buf, len, "%lluus", (unsigned long long)(ns / 1000ull));
	else
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
}

int dvmq_ctl_param_format(const struct dvmq_engine_params *p, const char *name, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		if (strcmp(params[i].name, name) != 0)
			continue;
		const char *field = (const char *)p + params[i].off;
		switch (params[i].kind) {
		case K_POLICY: {
			enum dvmq_policy pol;
			memcpy(&pol, field, sizeof(pol));
			snprintf(buf, len, "%s", dvmq_policy_name(pol));
			break;
		}
		case K_FRAC: {
			double f, back = -1.0;
			memcpy(&f, field, sizeof(f));
			/* "90%" reads best, "0.95" next (a percentage the parser would round by an ulp);
			 * whatever the text, it parses back to exactly this value */
			snprintf(buf, len, "%.10g%%", f * 100.0);
			if (dvmq_units_fraction(buf, &back) != 0 || back != f)
				snprintf(buf, len, "%.10g", f);
			if (dvmq_units_fraction(buf, &back) != 0 || back != f)
				snprintf(buf, len, "%.17g", f);
			break;
		}
		case K_TIME: {
			uint64_t ns;
			memcpy(&ns, field, sizeof(ns));
			format_time(ns, buf, len);
			break;
		}
		case K_COUNT: {
			uint32_t n;
			memcpy(&n, field, sizeof(n));
			snprintf(buf, len, "%u", n);
			break;
		}
		}
		return 0;
	}
	return -ENOENT;
}

static double pct(double f)
{
	return f * 100.0;
}

/* Whether some other processor in the set could take `load` and stay under `high`. */
static bool room_elsewhere(const struct dvmq_snapshot *s, uint32_t self, double load, double high)
{
	for (uint32_t i = 0; i < s->n_processors; i++) {
		const struct dvmq_snap_processor *p = &s->processors[i];
		if (p->id != self && p->in_set && p->load + load < high)
			return true;
	}
	return false;
}

int dvmq_ctl_explain_rule(const struct dvmq_snapshot *s, uint32_t id, char *buf, size_t len)
{
	const struct dvmq_snap_queue *q = dvmq_snap_queue_find(s, id);
	if (!q)
		return -ENOENT;
	const struct dvmq_engine_params *pr = &s->params;
	const struct dvmq_snap_processor *p = dvmq_snap_processor_find(s, q->processor);
	double load = p ? p->load : 0.0;
	uint64_t since = q->moved && s->now_ns >= q->last_move_ns ? s->now_ns - q->last_move_ns : UINT64_MAX;
	char t[32];
	if (!p) {
		snprintf(buf, len, "queue %u has no processor: it is being placed", id);
	} else if (!p->in_set) {
		snprintf(buf, len, "processor %u left the processor set: the next round moves queue %u into the set "
			 "(reason processor-set)", p->id, id);
	} else if (pr->policy == DVMQ_POLICY_NONE) {
		snprintf(buf, len, "policy none: every queue stays on the base processor (%u)", s->adapter.base);
	} else if (pr->policy == DVMQ_POLICY_STATIC) {
		snprintf(buf, len, "policy static: queues are placed round-robin when created and never move");
	} else if (pr->policy == DVMQ_POLICY_OVS_ALB) {
		format_time(pr->ovs_interval_ns, t, sizeof(t));
		snprintf(buf, len, "policy ovs-alb: it re-plans only after a processor stayed at or over %.0f%% busy "
			 "for %u samples, at most every %s, and only for a %.0f%% better variance; processor %u is at %.0f%%",
			 pct(pr->ovs_threshold), pr->ovs_history, t, pct(pr->ovs_improvement), p->id, pct(load));
	} else if (pr->policy == DVMQ_POLICY_ADAPTIVE && since < pr->dwell_ns) {
		format_time(pr->dwell_ns, t, sizeof(t));
		snprintf(buf, len, "it moved %.2f s ago: dwell %s keeps it on processor %u for %.2f s more",
			 (double)since * 1e-9, t, p->id, (double)(pr->dwell_ns - since) * 1e-9);
	} else if (pr->policy == DVMQ_POLICY_ADAPTIVE && load > pr->high && q->load < pr->spread_floor) {
		snprintf(buf, len, "processor %u is at %.0f%%, over high %.0f%%, but this queue's %.2f%% is under floor "
			 "%.2f%%: moving it would relieve nobody, so it never spreads", p->id, pct(load), pct(pr->high),
			 pct(q->load), pct(pr->spread_floor));
	} else if (load > pr->high) {
		if (room_elsewhere(s, p->id, q->load, pr->high))
			snprintf(buf, len, "processor %u is at %.0f%%, over high %.0f%%: the next round spreads a queue off "
				 "it (this one unless a smaller one suffices)", p->id, pct(load), pct(pr->high));
		else
			snprintf(buf, len, "processor %u is at %.0f%%, over high %.0f%%, but no processor in the set can take "
				 "this queue's %.0f%% and stay under high: moving it would only move the bottleneck",
				 p->id, pct(load), pct(pr->high), pct(q->load));
	} else if (pr->policy == DVMQ_POLICY_DYNAMIC && load < pr->low) {
		snprintf(buf, len, "processor %u is at %.0f%%, under low %.0f%%: coalescing may move this queue home "
			 "(processor %u) or onto a busier processor", p->id, pct(load), pct(pr->low), q->home);
	} else if (pr->policy == DVMQ_POLICY_DYNAMIC) {
		snprintf(buf, len, "processor %u is at %.0f%%, between low %.0f%% and high %.0f%%: neither spread nor "
			 "coalesce applies", p->id, pct(load), pct(pr->low), pct(pr->high));
	} else if (since < pr->return_guard_ns) {
		format_time(pr->return_guard_ns, t, sizeof(t));
		snprintf(buf, len, "processor %u is at %.0f%%, under high %.0f%%; the queue moved %.2f s ago and "
			 "return-guard %s forbids undoing that move for %.2f s more", p->id, pct(load), pct(pr->high),
			 (double)since * 1e-9, t, (double)(pr->return_guard_ns - since) * 1e-9);
	} else {
		snprintf(buf, len, "processor %u is at %.0f%%, under high %.0f%%: adaptive moves it only to let a "
			 "processor park, when every queue there fits elsewhere under pack %.0f%% for %u rounds",
			 p->id, pct(load), pct(pr->high), pct(pr->pack), pr->coalesce_rounds);
	}
	return 0;
}

bool ctl_param_parses(const char *name, const char *value)
{
	double f;
	uint64_t u;
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		if (strcmp(params[i].name, name) != 0)
			continue;
		switch (params[i].kind) {
		case K_POLICY:
			return false;
		case K_FRAC:
			return dvmq_units_fraction(value, &f) == 0;
		case K_TIME:
			return dvmq_units_time_ns(value, &u) == 0;
		case K_COUNT:
			return dvmq_units_count(value, &u) == 0;
		}
	}
	return false;
}
