// SPDX-License-Identifier: BSD-2-Clause
/* report's times and filters (user/cli/filter.c), table-driven. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "cli/filter.h"

#define NOW 1764669600.0 /* 2025-12-02T10:00:00Z */

static const struct {
	const char *in;
	int ret;
	double want;
} times[] = {
	{ "2026-11-24T14:02:00Z", 0, 1795528920.0 },
	{ "2026-11-24T14:02:00.250000Z", 0, 1795528920.25 },
	{ "2026-11-24t14:02:00z", 0, 1795528920.0 },
	{ "2026-11-24 14:02:00Z", 0, 1795528920.0 },
	{ "2026-11-24T16:02:00+02:00", 0, 1795528920.0 },
	{ "2026-11-24T12:32:00-01:30", 0, 1795528920.0 },
	{ "30m", 0, NOW - 1800 },
	{ "2h", 0, NOW - 7200 },
	{ "1d", 0, NOW - 86400 },
	{ "90s", 0, NOW - 90 },
	{ "1.5h", 0, NOW - 5400 },
	{ "2026-11-24T14:02:00", -1, 0 },    /* no zone */
	{ "2026-11-24T14:02:00.Z", -1, 0 },
	{ "2026-13-24T14:02:00Z", -1, 0 },
	{ "2026-11-24T24:02:00Z", -1, 0 },
	{ "2026-11-24T14:02:00+2:00", -1, 0 },
	{ "2026-11-24", -1, 0 },
	{ "-30m", -1, 0 },
	{ "30", -1, 0 },
	{ "30x", -1, 0 },
	{ "m", -1, 0 },
	{ "", -1, 0 },
	{ "0m", -1, 0 },
};

static void test_times(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		double got = -1;
		int ret = filter__parse_time(times[i].in, NOW, &got);

		if ((ret != 0) != (times[i].ret != 0) || (!ret && fabs(got - times[i].want) > 1e-6))
			fail_msg("row %zu (%s): ret %d got %.6f", i, times[i].in, ret, got);
	}
}

static void test_match(void **state)
{
	struct json_object *rec = json_tokener_parse(
		"{\"pid\":42,\"service\":\"main:app\",\"route\":\"/a\",\"cause\":\"middleware_order\","
		"\"container\":{\"id\":\"abc\"},\"k8s\":{\"pod_uid\":\"u-1\"},\"hostname\":\"web-0\"}");
	struct report_filter f;

	assert_non_null(rec);
	filter__init(&f);
	assert_false(filter__active(&f));
	assert_true(filter__match(&f, rec, 100));
	f.service = "main:app";
	f.pid = 42;
	f.container = "abc";
	f.pod_uid = "u-1";
	f.hostname = "web-0";
	f.since = 100;
	f.until = 100;
	assert_true(filter__active(&f));
	assert_true(filter__match(&f, rec, 100));
	assert_false(filter__match(&f, rec, 101));      /* after until */
	assert_false(filter__match(&f, rec, NAN));      /* no time: outside any window */
	f.pid = 43;
	assert_false(filter__match(&f, rec, 100));
	f.pid = -1;
	f.route = "/b";
	assert_false(filter__match(&f, rec, 100));
	f.route = NULL;
	f.hostname = "web-1";
	assert_false(filter__match(&f, rec, 100));
	json_object_put(rec);
	/* a field asked for and missing does not match */
	rec = json_tokener_parse("{\"service\":\"main:app\"}");
	filter__init(&f);
	f.pod_uid = "u-1";
	assert_false(filter__match(&f, rec, 100));
	json_object_put(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
