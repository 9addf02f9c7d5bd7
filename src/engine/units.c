/* Unit parsing for human-written numbers: a number, optional blanks, then a unit suffix. */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dvmq/units.h"

struct unit {
	const char *suffix;
	double scale;
};

/* Parses "<number><blanks><suffix>" where suffix must be one of units (or empty when
 * allow_bare, or the number is exactly zero). */
static int parse_with_unit(const char *s, const struct unit *units, size_t n_units, bool allow_bare,
			   double *out)
{
	if (!s)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno == ERANGE || !isfinite(v))
		return -EINVAL;
	if (!isdigit((unsigned char)*s) && *s != '-' && *s != '+' && *s != '.')
		return -EINVAL; /* strtod accepts "inf", "nan", hex: we do not */
	while (isspace((unsigned char)*end))
		end++;
	size_t len = strlen(end);
	while (len > 0 && isspace((unsigned char)end[len - 1]))
		len--;
	double scale = 0.0;
	if (len == 0) {
		if (!allow_bare && v != 0.0)
			return -EINVAL;
		scale = 1.0;
	} else {
		for (size_t i = 0; i < n_units; i++) {
			if (strlen(units[i].suffix) == len && strncmp(end, units[i].suffix, len) == 0) {
				scale = units[i].scale;
				break;
			}
		}
		if (scale == 0.0)
			return -EINVAL;
	}
	if (v < 0.0)
		return -ERANGE;
	/* a percentage divides (95 / 100 is the double nearest 0.95, the one "0.95" reads as; 95 *
	 * 0.01 is an ulp above it, and "95%" would then print back as 0.95) */
	*out = scale == 0.01 ? v / 100.0 : v * scale;
	return 0;
}

int dvmq_units_time_ns(const char *s, uint64_t *ns)
{
	static const struct unit u[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "min", 60e9 }, { "h", 3600e9 },
	};
	double v;
	int rc = parse_with_unit(s, u, sizeof(u) / sizeof(u[0]), false, &v);
	if (rc)
		return rc;
	if (v > 1e18)
		return -ERANGE;
	*ns = (uint64_t)llround(v);
	return 0;
}

int dvmq_units_duration_ns(const char *s, uint64_t *ns)
{
	int rc = dvmq_units_time_ns(s, ns);
	if (rc == 0)
		return *ns == 0 ? -EINVAL : 0;
	if (rc == -ERANGE)
		return rc;
	/* a bare number is seconds, as in timeout(1) or iperf3 -t */
	double sec;
	static const struct unit none[] = { { "", 1.0 } };
	rc = parse_with_unit(s, none, 0, true, &sec);
	if (rc)
		return rc;
	if (sec > 1e9)
		return -ERANGE;
	*ns = (uint64_t)llround(sec * 1e9);
	return *ns == 0 ? -EINVAL : 0;
}

void dvmq_units_time_format(uint64_t ns, char *buf, size_t len)
{
	static const struct { uint64_t ns; const char *unit; } u[] = {
		{ 3600000000000ull, "h" }, { 60000000000ull, "min" }, { 1000000000ull, "s" }, { 1000000ull, "ms" },
		{ 1000ull, "us" },
	};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (ns && ns % u[i].ns == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ns / u[i].ns), u[i].unit);
			return;
		}
	snprintf(buf, len, "%lluns", (unsigned long long)ns);
}

int dvmq_units_rate_pps(const char *s, double *pps)
{
	static const struct unit u[] = {
		{ "pps", 1 }, { "kpps", 1e3 }, { "Kpps", 1e3 }, { "Mpps", 1e6 }, { "mpps", 1e6 },
	};
	int rc = parse_with_unit(s, u, sizeof(u) / sizeof(u[0]), false, pps);
	if (rc == 0 && *pps > 1e12)
		return -ERANGE;
	return rc;
}

int dvmq_units_bytes(const char *s, uint64_t *bytes)
{
	static const struct unit u[] = {
		{ "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "KiB", 1024 }, { "MiB", 1048576 },
	};
	double v;
	int rc = parse_with_unit(s, u, sizeof(u) / sizeof(u[0]), false, &v);
	if (rc)
		return rc;
	if (v > 1e15 || v != floor(v))
		return v > 1e15 ? -ERANGE : -EINVAL;
	*bytes = (uint64_t)v;
	return 0;
}

int dvmq_units_fraction(const char *s, double *f)
{
	static const struct unit u[] = { { "%", 0.01 } };
	return parse_with_unit(s, u, 1, true, f);
}

int dvmq_units_count(const char *s, uint64_t *n)
{
	if (!s)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '-')
		return -ERANGE;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return -EINVAL;
	*n = v;
	return 0;
}

int dvmq_units_mac(const char *s, uint8_t mac[6])
{
	if (!s)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	uint8_t m[6];
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -EINVAL;
		char hex[3] = { s[0], s[1], 0 };
		m[i] = (uint8_t)strtoul(hex, NULL, 16);
		s += 2;
		if (i < 5) {
			if (*s != ':')
				return -EINVAL;
			s++;
		}
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '\0')
		return -EINVAL;
	memcpy(mac, m, 6);
	return 0;
}
