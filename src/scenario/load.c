/* Offered-load formulas: parse "steps 0s:100kpps 10s:800kpps" and friends, and evaluate them.
 * Evaluation is on the simulator's hot path: no allocation, a binary search for point lists. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/scenario.h"
#include "dvmq/units.h"

static int parse_value(const char *s, bool rate, double *v)
{
	return rate ? dvmq_units_rate_pps(s, v) : dvmq_units_fraction(s, v);
}

static const char *value_hint(bool rate)
{
	return rate ? "a rate such as 800kpps" : "a load such as 30%";
}

/* Splits text into blank-separated words in place; words has room for every one (a word
 * takes at least two characters of text with its blank, so strlen / 2 + 1 is enough). */
static size_t split_words(char *text, char **words)
{
	size_t n = 0;
	char *save = NULL;
	for (char *w = strtok_r(text, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	return n;
}

static int parse_points(char **w, size_t n, bool rate, struct dvmq_load_term *t, char *err, size_t len)
{
	if (n == 0) {
		snprintf(err, len, "%s needs at least one TIME:VALUE point",
			 t->kind == DVMQ_LOAD_STEPS ? "steps" : "ramp");
		return -EINVAL;
	}
	t->points = calloc(n, sizeof(*t->points));
	if (!t->points) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char *colon = strchr(w[i], ':');
		if (!colon) {
			snprintf(err, len, "point '%s' is not TIME:VALUE", w[i]);
			return -EINVAL;
		}
		*colon = '\0';
		int rc = dvmq_units_time_ns(w[i], &t->points[i].t_ns);
		if (rc) {
			snprintf(err, len, "bad time '%s' (want e.g. 10s, 250ms)", w[i]);
			return -EINVAL;
		}
		rc = parse_value(colon + 1, rate, &t->points[i].v);
		if (rc == -ERANGE) {
			snprintf(err, len, "negative %s '%s'", rate ? "rate" : "load", colon + 1);
			return -EINVAL;
		}
		if (rc) {
			snprintf(err, len, "bad value '%s' (want %s)", colon + 1, value_hint(rate));
			return -EINVAL;
		}
		if (i > 0 && t->points[i].t_ns <= t->points[i - 1].t_ns) {
			snprintf(err, len, "point times must increase ('%s' after an equal or later one)", w[i]);
			return -EINVAL;
		}
		t->n_points = i + 1;
	}
	return 0;
}

/* key=value arguments of sine and burst. */
static int parse_named(char **w, size_t n, bool rate, struct dvmq_load_term *t, char *err, size_t len)
{
	bool sine = t->kind == DVMQ_LOAD_SINE;
	bool have_period = false, have_a = false, have_b = false;
	for (size_t i = 0; i < n; i++) {
		char *eq = strchr(w[i], '=');
		if (!eq) {
			snprintf(err, len, "argument '%s' is not NAME=VALUE", w[i]);
			return -EINVAL;
		}
		*eq = '\0';
		const char *k = w[i], *v = eq + 1;
		int rc = 0;
		double *dst = NULL;
		if (strcmp(k, "period") == 0) {
			rc = dvmq_units_time_ns(v, &t->period_ns);
			have_period = rc == 0;
		} else if (strcmp(k, "phase") == 0) {
			rc = dvmq_units_time_ns(v, &t->phase_ns);
		} else if (sine && strcmp(k, "mean") == 0) {
			dst = &t->mean;
			have_a = true;
		} else if (sine && strcmp(k, "amp") == 0) {
			dst = &t->amp;
			have_b = true;
		} else if (!sine && strcmp(k, "on") == 0) {
			dst = &t->on;
			have_a = true;
		} else if (!sine && strcmp(k, "off") == 0) {
			dst = &t->off;
			have_b = true;
		} else if (!sine && strcmp(k, "duty") == 0) {
			rc = dvmq_units_fraction(v, &t->duty);
			if (rc == 0 && t->duty > 1.0)
				rc = -EINVAL;
		} else {
			snprintf(err, len, "unknown %s argument '%s' (known: %s)", sine ? "sine" : "burst", k,
				 sine ? "mean, amp, period, phase" : "on, off, period, duty, phase");
			return -EINVAL;
		}
		if (dst) {
			rc = parse_value(v, rate, dst);
			if (rc == -ERANGE) {
				snprintf(err, len, "negative %s '%s'", rate ? "rate" : "load", v);
				return -EINVAL;
			}
			if (rc) {
				snprintf(err, len, "bad %s '%s' (want %s)", k, v, value_hint(rate));
				return -EINVAL;
			}
		} else if (rc) {
			snprintf(err, len, "bad %s '%s'", k, v);
			return -EINVAL;
		}
	}
	if (!have_period || t->period_ns == 0 || !have_a || (sine && !have_b)) {
		snprintf(err, len, "%s needs %s", sine ? "sine" : "burst",
			 sine ? "mean=, amp= and period= (> 0)" : "on= and period= (> 0)");
		return -EINVAL;
	}
	if (sine && t->amp > t->mean) {
		snprintf(err, len, "sine amp must not exceed mean (the load would go negative)");
		return -EINVAL;
	}
	if (!sine && !have_b)
		t->off = 0.0;
	if (!sine && t->duty == 0.0)
		t->duty = 0.5;
	return 0;
}

int dvmq_load_parse_term(const char *text, bool rate, struct dvmq_load_term *t, char *err, size_t len)
{
	memset(t, 0, sizeof(*t));
	/* a line of any length: a steps or ramp line may list hundreds of points */
	size_t text_len = strlen(text);
	char *buf = strdup(text);
	char **w = malloc((text_len / 2 + 1) * sizeof(*w));
	int rc = 0;
	if (!buf || !w) {
		snprintf(err, len, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	size_t n = split_words(buf, w);
	if (n == 0) {
		snprintf(err, len, "empty load");
		rc = -EINVAL;
		goto out;
	}
	if (strcmp(w[0], "steps") == 0 || strcmp(w[0], "ramp") == 0) {
		t->kind = w[0][0] == 's' ? DVMQ_LOAD_STEPS : DVMQ_LOAD_RAMP;
		rc = parse_points(w + 1, n - 1, rate, t, err, len);
	} else if (strcmp(w[0], "sine") == 0 || strcmp(w[0], "burst") == 0) {
		t->kind = w[0][1] == 'i' ? DVMQ_LOAD_SINE : DVMQ_LOAD_BURST;
		rc = parse_named(w + 1, n - 1, rate, t, err, len);
	} else {
		t->kind = DVMQ_LOAD_CONST;
		if (strcmp(w[0], "const") == 0 && n == 2)
			w[0] = w[1];
		else if (n != 1) {
			snprintf(err, len, "unknown load formula '%s' (known: VALUE, const, steps, ramp, "
				 "sine, burst)", w[0]);
			rc = -EINVAL;
			goto out;
		}
		rc = parse_value(w[0], rate, &t->v);
		if (rc == -ERANGE)
			snprintf(err, len, "negative %s '%s'", rate ? "rate" : "load", w[0]);
		else if (rc)
			snprintf(err, len, "bad value '%s' (want %s)", w[0], value_hint(rate));
		rc = rc ? -EINVAL : 0;
	}
out:
	if (rc) {
		free(t->points);
		t->points = NULL;
		t->n_points = 0;
	}
	free(w);
	free(buf);
	return rc;
}

/* Index of the last point at or before t, or SIZE_MAX when t is before the first. */
static size_t point_index(const struct dvmq_load_term *t, uint64_t t_ns)
{
	if (t->n_points == 0 || t_ns < t->points[0].t_ns)
		return SIZE_MAX;
	size_t lo = 0, hi = t->n_points;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->points[mid].t_ns <= t_ns)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static double term_at(const struct dvmq_load_term *t, uint64_t t_ns)
{
	switch (t->kind) {
	case DVMQ_LOAD_CONST:
		return t->v;
	case DVMQ_LOAD_STEPS:
	case DVMQ_LOAD_TRACE: {
		size_t i = point_index(t, t_ns);
		/* before the first point: steps hold their first value, a trace has not started */
		if (i == SIZE_MAX)
			return t->kind == DVMQ_LOAD_TRACE ? 0.0 : t->points[0].v;
		return t->points[i].v;
	}
	case DVMQ_LOAD_RAMP: {
		size_t i = point_index(t, t_ns);
		if (i == SIZE_MAX)
			return t->points[0].v;
		if (i + 1 >= t->n_points)
			return t->points[i].v;
		const struct dvmq_load_point *a = &t->points[i], *b = &t->points[i + 1];
		double f = (double)(t_ns - a->t_ns) / (double)(b->t_ns - a->t_ns);
		return a->v + (b->v - a->v) * f;
	}
	case DVMQ_LOAD_SINE: {
		double x = (double)((t_ns + t->phase_ns) % t->period_ns) / (double)t->period_ns;
		return t->mean + t->amp * sin(2.0 * M_PI * x);
	}
	case DVMQ_LOAD_BURST: {
		double x = (double)((t_ns + t->phase_ns) % t->period_ns) / (double)t->period_ns;
		return x < t->duty ? t->on : t->off;
	}
	}
	return 0.0;
}

double dvmq_load_at(const struct dvmq_load *l, uint64_t t_ns)
{
	double v = 0.0;
	for (size_t i = 0; i < l->n_terms; i++)
		v += term_at(&l->terms[i], t_ns);
	return v > 0.0 ? v : 0.0;
}

void dvmq_load_free(struct dvmq_load *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_terms; i++) {
		free(l->terms[i].points);
		l->terms[i].points = NULL;
	}
	l->n_terms = 0;
}

bool dvmq_load_is_constant(const struct dvmq_load *l)
{
	for (size_t t = 0; t < l->n_terms; t++)
		if (l->terms[t].kind != DVMQ_LOAD_CONST)
			return false;
	return true;
}
