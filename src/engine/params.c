/* Engine parameters: defaults, validation, and setting one by name from text with units.
 * The defaults are the ones the simulator suite chose; README.md says why each. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/engine.h"
#include "dvmq/units.h"

static const char *const policy_names[DVMQ_POLICY_COUNT] = {
	[DVMQ_POLICY_NONE] = "none",       [DVMQ_POLICY_STATIC] = "static",
	[DVMQ_POLICY_DYNAMIC] = "dynamic", [DVMQ_POLICY_OVS_ALB] = "ovs-alb",
	[DVMQ_POLICY_ADAPTIVE] = "adaptive",
};

static const char *const reason_names[DVMQ_REASON_COUNT] = {
	[DVMQ_REASON_SPREAD] = "spread",       [DVMQ_REASON_COALESCE] = "coalesce",
	[DVMQ_REASON_REBALANCE] = "rebalance", [DVMQ_REASON_PROCESSOR_SET] = "processor-set",
	[DVMQ_REASON_POLICY] = "policy",
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

void dvmq_engine_params_default(struct dvmq_engine_params *p)
{
	*p = (struct dvmq_engine_params){
		.policy = DVMQ_POLICY_ADAPTIVE,
		.high = 0.90,
		.low = 0.25,
		.ewma_alpha = 0.5,
		.dwell_ns = 1000000000ull,
		.return_guard_ns = 2000000000ull,
		.min_gain = 0.05,
		.pack = 0.75,
		.coalesce_rounds = 3,
		.peak_halflife_ns = 2000000000ull,
		.ovs_threshold = 0.95,
		.ovs_history = 12,
		.ovs_interval_ns = 60000000000ull,
		.ovs_improvement = 0.25,
	};
}

static bool frac_ok(double x)
{
	return isfinite(x) && x > 0.0 && x <= 1.0;
}

int dvmq_engine_params_validate(const struct dvmq_engine_params *p)
{
	if ((unsigned)p->policy >= DVMQ_POLICY_COUNT)
		return -EINVAL;
	if (!frac_ok(p->high) || !isfinite(p->low) || p->low < 0.0 || p->low >= p->high)
		return -EINVAL;
	if (!frac_ok(p->ewma_alpha) || !frac_ok(p->pack) || p->pack > p->high)
		return -EINVAL;
	if (!isfinite(p->min_gain) || p->min_gain < 0.0 || p->min_gain >= 1.0)
		return -EINVAL;
	if (!frac_ok(p->ovs_threshold) || !frac_ok(p->ovs_improvement))
		return -EINVAL;
	if (p->ovs_history < 1 || p->ovs_history > 64 || p->coalesce_rounds > 1000)
		return -EINVAL;
	return 0;
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
	P("min-gain", P_FRAC, min_gain),
	P("pack", P_FRAC, pack),
	P("coalesce-rounds", P_COUNT, coalesce_rounds),
	P("peak-halflife", P_TIME, peak_halflife_ns),
	P("ovs-threshold", P_FRAC, ovs_threshold),
	P("ovs-history", P_COUNT, ovs_history),
	P("ovs-interval", P_TIME, ovs_interval_ns),
	P("ovs-improvement", P_FRAC, ovs_improvement),
};
#undef P

const char *const *dvmq_engine_param_names(void)
{
	static const char *const names[] = {
		"policy", "high", "low", "ewma", "dwell", "return-guard", "min-gain", "pack",
		"coalesce-rounds", "peak-halflife", "ovs-threshold", "ovs-history", "ovs-interval", "ovs-improvement",
		NULL,
	};
	return names;
}

int dvmq_engine_param_set(struct dvmq_engine_params *p, const char *name, const char *value)
{
	for (size_t i = 0; i < sizeof(param_table) / sizeof(param_table[0]); i++) {
		const struct param_desc *d = &param_table[i];
		if (strcmp(d->name, name) != 0)
			continue;
		struct dvmq_engine_params next = *p;
		char *field = (char *)&next + d->off;
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
		if (rc == 0)
			rc = dvmq_engine_params_validate(&next);
		if (rc != 0)
			return -EINVAL;
		*p = next;
		return 0;
	}
	return -ENOENT;
}
