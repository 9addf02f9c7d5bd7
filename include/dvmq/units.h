/* Human units for scenario files and parameters: "2ms", "800kpps", "1500B", "30%".
 * Each parser takes the whole string (surrounding blanks allowed) and returns 0, -EINVAL (not a
 * number, unknown or missing unit, trailing text) or -ERANGE (negative, or too large).
 * Pure functions, thread-safe. */
#ifndef DVMQ_UNITS_H
#define DVMQ_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* ns, us, ms, s, min, h. "0" alone is allowed. */
int dvmq_units_time_ns(const char *s, uint64_t *ns);
/* A duration: a time with its unit, or a bare number of seconds ("60", "2.5"), as `--duration`
 * and a scenario's duration take it. Returns 0, -EINVAL (also for zero: a duration is > 0) or
 * -ERANGE. */
int dvmq_units_duration_ns(const char *s, uint64_t *ns);
/* A time as people write it, the shortest exact unit: "100ms", "30s", "1500us", "2min"; what
 * dvmq_units_time_ns reads back to the same value. */
void dvmq_units_time_format(uint64_t ns, char *buf, size_t len);
/* pps, kpps, Mpps (also Kpps, mpps). "0" alone is allowed. */
int dvmq_units_rate_pps(const char *s, double *pps);
/* B, KB, MB (powers of 1000), KiB, MiB. */
int dvmq_units_bytes(const char *s, uint64_t *bytes);
/* "30%" or a plain number 0..1 ("0.3"). Values over 1 are allowed (the caller bounds them). */
int dvmq_units_fraction(const char *s, double *f);
/* A non-negative decimal integer. */
int dvmq_units_count(const char *s, uint64_t *n);
/* aa:bb:cc:dd:ee:ff (hex, case-insensitive). */
int dvmq_units_mac(const char *s, uint8_t mac[6]);

#endif
