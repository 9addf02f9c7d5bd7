/* Engine parameters: defaults, validation, and setting one by name from text with units.
 * The defaults are the ones the simulator suite chose; README.md says why each. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/engine.h"
#include "dvmq/units.h"

static const char *const policy_names[DVMQ_POLICY_COUNT] = {
	[DVMQ_POLICY_NONE] = "none",       [DVMQ_POLICY_STATIC] = "static",
	[DVMQ_POLICY_DYNAMIC] = "dynamic", [DVMQ_POLICY_OVS_ALB] = "ovs-alb",
	[DVMQ_POLICY_ADAPTIVE] = "adaptive", [DVMQ_POLICY_RSSPP] = "rsspp",
	[DVMQ_POLICY_IRQBALANCE] = "irqbalance",
};

static const char *const reason_names[DVMQ_REASON_COUNT] = {
	[DVMQ_REASON_SPREAD] = "spread",       [DVMQ_REASON_COALESCE] = "coalesce",
	[DVMQ_REASON_REBALANCE] = "rebalance", [DVMQ_REASON_PROCESSOR_SET] = "processor-set",
	[DVMQ_REASON_PIN] = "pin",
	[DVMQ_REASON_POLICY] = "policy",       [DVMQ_REASON_BALANCE] = "balance",
	[DVMQ_REASON_GROW] = "grow",           [DVMQ_REASON_SHRINK] = "shrink",
};

const char *dvmq_policy_name(enum dvmq_policy p)
{
	return (unsigned)p < DVMQ_POLICY_COUNT ? policy_names[p] : "?";
}

int dvmq_policy_parse(const char *name, enum dvmq_policy *out)
{
	for (unsigned i = 0; i < DVMQ_POLICY_COUNT; i++) {
		if (strcmp(name, policy_names[i]) == 0) {
			*out = (enum dvmq_policy)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *dvmq_reason_name(enum dvmq_reason r)
{
	return (unsigned)r < DVMQ_REASON_COUNT ? reason_names[r] : "?";
}

bool dvmq_reason_is_engine(enum dvmq_reason r)
{
	return r == DVMQ_REASON_SPREAD || r == DVMQ_REASON_COALESCE || r == DVMQ_REASON_REBALANCE ||
	       r == DVMQ_REASON_BALANCE || r == DVMQ_REASON_GROW || r == DVMQ_REASON_SHRINK;
}

const char *dvmq_overload_reason_name(enum dvmq_overload_reason r)
{
	static const char *const names[DVMQ_OVERLOAD_REASON_COUNT] = {
		[DVMQ_OVERLOAD_OVER_CAPACITY] = "over-capacity",
		[DVMQ_OVERLOAD_OVER_HIGH] = "over-high",
		[DVMQ_OVERLOAD_NO_ROOM] = "no-room",
	};
	return (unsigned)r < DVMQ_OVERLOAD_REASON_COUNT ? names[r] : "?";
}

int dvmq_overload_format(const struct dvmq_overload *ov, char *buf, size_t len)
{
	/* why its VM's group (VMMQ) did not relieve it, in words */
	static const char *const why[DVMQ_OVERLOAD_GROUP_COUNT] = {
		[DVMQ_OVERLOAD_NO_GROUP] = "needs VMMQ (max-queues 1)",
		[DVMQ_OVERLOAD_GROUP_FULL] = "its group holds max-queues queues",
		[DVMQ_OVERLOAD_NO_QUEUE] = "no free queue for its group",
		[DVMQ_OVERLOAD_NO_PROCESSOR] = "no processor can take a queue of its group",
		[DVMQ_OVERLOAD_ONE_BUCKET] = "one bucket (one flow) alone: no hash splits it",
		[DVMQ_OVERLOAD_HELD] = "its buckets are held by dwell or return-guard",
	};
	/* the processor's load is what it is asked for: over 100 % it cannot serve it all */
	char cpu[96];
	snprintf(cpu, sizeof(cpu), "its processor %.0f%%%s (other work %.0f%%)", ov->processor_load * 100,
		 ov->processor_load > 1.0 ? " of its capacity" : "", ov->other_load * 100);
	if (ov->reason == DVMQ_OVERLOAD_NO_ROOM)
		return snprintf(buf, len, "load %.0f%%, %s: no room: other work leaves no processor of the set room "
				"for it (not a single-queue overload)", ov->queue_load * 100, cpu);
	return snprintf(buf, len, "load %.0f%%, %s: single-queue overload (%s), %s", ov->queue_load * 100, cpu,
			dvmq_overload_reason_name(ov->reason),
			(unsigned)ov->group < DVMQ_OVERLOAD_GROUP_COUNT ? why[ov->group] : "needs VMMQ");
}

void dvmq_engine_params_default(struct dvmq_engine_params *p)
{
	*p = (struct dvmq_engine_params){
		.policy = DVMQ_POLICY_ADAPTIVE,
		.high = 0.90,
		.low = 0.25,
		.ewma_alpha = 0.5,
		.dwell_ns = 1000000000ull,
		.return_guard_ns = 2000000000ull,
		.return_window_ns = 10000000000ull,
		.min_gain = 0.05,
		.spread_floor = 0.001,
		.pack = 0.87,
		.coalesce_rounds = 3,
		.peak_halflife_ns = 2000000000ull,
		.peak_hold_ns = 30000000000ull,
		.ovs_threshold = 0.95,
		.ovs_history = 12,
		.ovs_interval_ns = 60000000000ull,
		.ovs_improvement = 0.25,
		/* RSS++ as published: the paper's target load, the solver's imbalance threshold
		 * (IMBALANCE_THRESHOLD 0.02), automatic core scaling on */
		.rsspp_target = 0.75,
		.rsspp_imbalance = 0.02,
		.rsspp_autoscale = 1,
		/* irqbalance: its SLEEP_INTERVAL; powersave as `--powerthresh=2` (irqbalance's own
		 * default is off) */
		.irqb_interval_ns = 10000000000ull,
		.irqb_powerthresh = 2,
	};
}

static bool frac_ok(double x)
{
	return isfinite(x) && x > 0.0 && x <= 1.0;
}

const char *dvmq_engine_params_problem(const struct dvmq_engine_params *p)
{
	if ((unsigned)p->policy >= DVMQ_POLICY_COUNT)
		return "unknown policy";
	if (!frac_ok(p->high))
		return "high must be above 0 and at most 100%";
	if (!isfinite(p->low) || p->low < 0.0 || p->low >= p->high)
		return "low must be at least 0 and below high";
	if (!frac_ok(p->ewma_alpha))
		return "ewma must be above 0 and at most 1";
	if (!frac_ok(p->pack) || p->pack > p->high)
		return "pack must be above 0 and at most high (coalescing must not fill a processor past the "
		       "point where it spreads again)";
	if (!isfinite(p->min_gain) || p->min_gain < 0.0 || p->min_gain >= 1.0)
		return "min-gain must be at least 0 and below 100%";
	if (!isfinite(p->spread_floor) || p->spread_floor < 0.0 || p->spread_floor >= p->high)
		return "floor must be at least 0 and below high";
	if (p->return_guard_ns < DVMQ_PINGPONG_GUARD_MIN_NS)
		return "return-guard must be at least 1s: adaptive's promise of no ping-pong (no move back "
		       "within 1 s) rests on it";
	if (p->return_window_ns < p->return_guard_ns)
		return "return-window must be at least return-guard";
	if (!frac_ok(p->ovs_threshold))
		return "ovs-threshold must be above 0 and at most 100%";
	if (!frac_ok(p->ovs_improvement))
		return "ovs-improvement must be above 0 and at most 100%";
	if (p->ovs_history < 1 || p->ovs_history > 64)
		return "ovs-history must be 1..64";
	if (p->coalesce_rounds > 1000)
		return "coalesce-rounds must be 0..1000";
	if (!frac_ok(p->rsspp_target))
		return "rsspp-target must be above 0 and at most 100%";
	if (!isfinite(p->rsspp_imbalance) || p->rsspp_imbalance < 0.0 || p->rsspp_imbalance >= 0.5)
		return "rsspp-imbalance must be at least 0 and below 50%";
	if (p->rsspp_autoscale > 1)
		return "rsspp-autoscale must be 0 (off) or 1 (on)";
	if (p->irqb_interval_ns < 1000000ull)
		return "irqbalance-interval must be at least 1ms";
	if (p->irqb_powerthresh > DVMQ_MAX_PROCESSORS)
		return "irqbalance-powerthresh must be 0 (off) .. 4096";
	return NULL;
}

int dvmq_engine_params_validate(const struct dvmq_engine_params *p)
{
	return dvmq_engine_params_problem(p) ? -EINVAL : 0;
}

enum param_kind { P_FRAC, P_TIME, P_COUNT, P_POLICY };

struct param_desc {
	const char *name;
	enum param_kind kind;
	size_t off;
};

#define P(n, k, f) { n, k, offsetof(struct dvmq_engine_params, f) }
static const struct param_desc param_table[] = {
	P("policy", P_POLICY, policy),
	P("high", P_FRAC, high),
	P("low", P_FRAC, low),
	P("ewma", P_FRAC, ewma_alpha),
	P("dwell", P_TIME, dwell_ns),
	P("return-guard", P_TIME, return_guard_ns),
	P("return-window", P_TIME, return_window_ns),
	P("min-gain", P_FRAC, min_gain),
	P("floor", P_FRAC, spread_floor),
	P("pack", P_FRAC, pack),
	P("coalesce-rounds", P_COUNT, coalesce_rounds),
	P("peak-halflife", P_TIME, peak_halflife_ns),
	P("peak-hold", P_TIME, peak_hold_ns),
	P("ovs-threshold", P_FRAC, ovs_threshold),
	P("ovs-history", P_COUNT, ovs_history),
	P("ovs-interval", P_TIME, ovs_interval_ns),
	P("ovs-improvement", P_FRAC, ovs_improvement),
	P("rsspp-target", P_FRAC, rsspp_target),
	P("rsspp-imbalance", P_FRAC, rsspp_imbalance),
	P("rsspp-autoscale", P_COUNT, rsspp_autoscale),
	P("irqbalance-interval", P_TIME, irqb_interval_ns),
	P("irqbalance-powerthresh", P_COUNT, irqb_powerthresh),
};
#undef P

const char *const *dvmq_engine_param_names(void)
{
	/* derived from param_table, so a parameter has exactly one line to add */
	static const char *names[sizeof(param_table) / sizeof(param_table[0]) + 1];
	if (!names[0])
		for (size_t i = 0; i < sizeof(param_table) / sizeof(param_table[0]); i++)
			names[i] = param_table[i].name;
	return names;
}

/* Parses value into a copy of p and validates it. Returns 0 with *next filled, -ENOENT, or
 * -EINVAL with *why saying what is wrong. */
static int param_try(const struct dvmq_engine_params *p, const char *name, const char *value,
		     struct dvmq_engine_params *next, const char **why)
{
	static const char *const expect[] = {
		[P_FRAC] = "not a fraction such as 90% or 0.9",
		[P_TIME] = "not a time such as 2s or 250ms",
		[P_COUNT] = "not a whole number",
		[P_POLICY] = "not a policy (none, static, dynamic, ovs-alb, adaptive, rsspp, irqbalance)",
	};
	*why = "unknown parameter";
	for (size_t i = 0; i < sizeof(param_table) / sizeof(param_table[0]); i++) {
		const struct param_desc *d = &param_table[i];
		if (strcmp(d->name, name) != 0)
			continue;
		if (!value) {
			*why = "missing value";
			return -EINVAL;
		}
		*next = *p;
		char *field = (char *)next + d->off;
		int rc = 0;
		switch (d->kind) {
		case P_POLICY: {
			enum dvmq_policy pol;
			rc = dvmq_policy_parse(value, &pol);
			if (rc == 0)
				memcpy(field, &pol, sizeof(pol));
			break;
		}
		case P_FRAC: {
			double f;
			rc = dvmq_units_fraction(value, &f);
			if (rc == 0)
				memcpy(field, &f, sizeof(f));
			break;
		}
		case P_TIME: {
			uint64_t ns;
			rc = dvmq_units_time_ns(value, &ns);
			if (rc == 0)
				memcpy(field, &ns, sizeof(ns));
			break;
		}
		case P_COUNT: {
			uint64_t n;
			rc = dvmq_units_count(value, &n);
			if (rc == 0 && n > UINT32_MAX)
				rc = -EINVAL;
			if (rc == 0) {
				uint32_t v = (uint32_t)n;
				memcpy(field, &v, sizeof(v));
			}
			break;
		}
		}
		if (rc != 0) {
			*why = expect[d->kind];
			return -EINVAL;
		}
		/* `high = 80%` alone must work: pack (87 % by default) follows high down, keeping the
		 * distance between them, when it would end above it */
		if (d->off == offsetof(struct dvmq_engine_params, high) && next->pack > next->high &&
		    isfinite(next->high))
			/* rounded to 1e-9, so that 87% - 5% is 82% again, and prints so */
			next->pack = round((next->pack - (p->high - next->high)) * 1e9) / 1e9;
		*why = dvmq_engine_params_problem(next);
		return *why ? -ERANGE : 0;
	}
	return -ENOENT;
}

int dvmq_engine_param_set(struct dvmq_engine_params *p, const char *name, const char *value)
{
	struct dvmq_engine_params next;
	const char *why;
	int rc = param_try(p, name, value, &next, &why);
	if (rc == 0)
		*p = next;
	return rc;
}

const char *dvmq_engine_param_problem(const struct dvmq_engine_params *p, const char *name,
				      const char *value)
{
	struct dvmq_engine_params next;
	const char *why;
	return param_try(p, name, value, &next, &why) == 0 ? NULL : why;
}

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

int dvmq_engine_param_format(const struct dvmq_engine_params *p, const char *name, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(param_table) / sizeof(param_table[0]); i++) {
		const struct param_desc *d = &param_table[i];
		if (strcmp(d->name, name) != 0)
			continue;
		const char *field = (const char *)p + d->off;
		switch (d->kind) {
		case P_POLICY: {
			enum dvmq_policy pol;
			memcpy(&pol, field, sizeof(pol));
			snprintf(buf, len, "%s", dvmq_policy_name(pol));
			break;
		}
		case P_FRAC: {
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
		case P_TIME: {
			uint64_t ns;
			memcpy(&ns, field, sizeof(ns));
			format_time(ns, buf, len);
			break;
		}
		case P_COUNT: {
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
