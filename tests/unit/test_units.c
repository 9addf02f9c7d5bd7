/* Unit parsing: every unit, blanks, and the bad inputs. */
#include <errno.h>

#include "../harness.h"
#include "dvmq/units.h"

TEST(units_time)
{
	uint64_t ns;
	CHECK(dvmq_units_time_ns("2ms", &ns) == 0 && ns == 2000000ull);
	CHECK(dvmq_units_time_ns(" 1.5 s ", &ns) == 0 && ns == 1500000000ull);
	CHECK(dvmq_units_time_ns("1min", &ns) == 0 && ns == 60000000000ull);
	CHECK(dvmq_units_time_ns("250us", &ns) == 0 && ns == 250000ull);
	CHECK(dvmq_units_time_ns("0", &ns) == 0 && ns == 0);
	CHECK(dvmq_units_time_ns("5", &ns) == -EINVAL);
	CHECK(dvmq_units_time_ns("5 parsecs", &ns) == -EINVAL);
	CHECK(dvmq_units_time_ns("-1s", &ns) == -ERANGE);
	CHECK(dvmq_units_time_ns("", &ns) == -EINVAL);
	CHECK(dvmq_units_time_ns("infs", &ns) == -EINVAL);
}

TEST(units_rate_bytes_fraction_count)
{
	double v;
	uint64_t n;
	CHECK(dvmq_units_rate_pps("800kpps", &v) == 0 && v == 800000.0);
	CHECK(dvmq_units_rate_pps("1.2Mpps", &v) == 0 && v > 1199999.0 && v < 1200001.0);
	CHECK(dvmq_units_rate_pps("-5kpps", &v) == -ERANGE);
	CHECK(dvmq_units_rate_pps("5kbps", &v) == -EINVAL);
	CHECK(dvmq_units_bytes("1500B", &n) == 0 && n == 1500);
	CHECK(dvmq_units_bytes("2KiB", &n) == 0 && n == 2048);
	CHECK(dvmq_units_bytes("1.5B", &n) == -EINVAL);
	CHECK(dvmq_units_fraction("30%", &v) == 0 && v > 0.299 && v < 0.301);
	CHECK(dvmq_units_fraction("0.25", &v) == 0 && v == 0.25);
	CHECK(dvmq_units_fraction("-3%", &v) == -ERANGE);
	CHECK(dvmq_units_count("42", &n) == 0 && n == 42);
	CHECK(dvmq_units_count("4x", &n) == -EINVAL);
	CHECK(dvmq_units_count("-4", &n) == -ERANGE);
}

TEST(units_mac)
{
	uint8_t m[6];
	CHECK(dvmq_units_mac("02:00:AB:cd:00:01", m) == 0 && m[2] == 0xab && m[3] == 0xcd && m[5] == 1);
	CHECK(dvmq_units_mac("02:00:ab:cd:00", m) == -EINVAL);
	CHECK(dvmq_units_mac("02:00:ab:cd:00:01:02", m) == -EINVAL);
	CHECK(dvmq_units_mac("02-00-ab-cd-00-01", m) == -EINVAL);
	CHECK(dvmq_units_mac("0g:00:ab:cd:00:01", m) == -EINVAL);
}
