// SPDX-License-Identifier: BSD-2-Clause
/*
 * The Prometheus exposition pieces (user/sink/promfmt.c) and the bounded series
 * table (user/sink/metrics.c): exact expected text, table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sink/metrics.h"
#include "sink/promfmt.h"

static const struct {
	const char *in;
	size_t n; /* 0: strlen(in) */
	const char *want;
} label_rows[] = {
	{ "", 0, "" },
	{ "/items/{id}", 0, "/items/{id}" },
	{ "a\\b", 0, "a\\\\b" },
	{ "say \"hi\"", 0, "say \\\"hi\\\"" },
	{ "line1\nline2", 0, "line1\\nline2" },
	{ "tab\tcr\r", 0, "tab\tcr\r" },             /* only \\ \" \n are escaped */
	{ "caf\xc3\xa9 \xe4\xb8\xad", 0, "caf\xc3\xa9 \xe4\xb8\xad" },
	{ "bad\xff", 0, "bad\xef\xbf\xbd" },           /* invalid byte -> U+FFFD */
	{ "\xc0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd" },  /* overlong: two maximal subparts */
	{ "\xe2\x82", 0, "\xef\xbf\xbd" },             /* truncated sequence: one */
	{ "\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
	{ "a\0b", 3, "a\0b" },                         /* NUL kept, length-driven */
	{ "\\\"\n", 0, "\\\\\\\"\\n" },
};

static void test_label_values(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(label_rows) / sizeof(label_rows[0]); i++) {
		struct strbuf sb;
		size_t n = label_rows[i].n ? label_rows[i].n : strlen(label_rows[i].in);
		size_t wn = label_rows[i].n ? n : strlen(label_rows[i].want);

		strbuf__init(&sb);
		promfmt__label_value(&sb, label_rows[i].in, n);
		if (wn == 0) {
			assert_true(sb.len == 0);
		} else {
			assert_non_null(sb.buf);
			if (sb.len != wn || memcmp(sb.buf, label_rows[i].want, wn))
				fail_msg("row %zu: got '%.*s'", i, (int)sb.len, sb.buf);
		}
		strbuf__free(&sb);
	}
}

static void test_samples(void **state)
{
	static const char *const keys[] = { "service", "route", "method", "cause" };
	const char *vals[] = { "main:app", "/a/\"{x}\"", "", "missing_middleware" };
	struct strbuf sb;

	strbuf__init(&sb);
	promfmt__header(&sb, false, "x_total", "counter", "Help with \\ and\nnewline.");
	promfmt__sample(&sb, "x_total", keys, vals, 4, 42);
	promfmt__sample(&sb, "y", NULL, NULL, 0, 0);
	assert_string_equal(sb.buf,
		"# HELP x_total Help with \\\\ and\\nnewline.\n"
		"# TYPE x_total counter\n"
		"x_total{service=\"main:app\",route=\"/a/\\\"{x}\\\"\",method=\"\","
		"cause=\"missing_middleware\"} 42\n"
		"y 0\n");
	strbuf__free(&sb);
}

static void hit(struct metrics *m, const char *service, const char *route, const char *method,
		const char *cause)
{
	const struct metrics_hit h = { .service = service, .route = route, .method = method,
				       .cause = cause, .uid = "", .trace_id = "" };

	metrics__hit(m, &h);
}

static unsigned long long sample(const char *text, const char *series)
{
	const char *p = strstr(text, series);

	if (!p)
		return 0;
	return strtoull(p + strlen(series), NULL, 10);
}

/* The cap: label sets beyond it go to the overflow series; the sum is exact. */
static void test_series_cap(void **state)
{
	struct metrics *m = metrics__new(3, 3);
	char route[32], *text;
	size_t len;
	int i;

	assert_non_null(m);
	for (i = 0; i < 1000; i++) {
		snprintf(route, sizeof(route), "/r/%d", i % 10);
		hit(m, "svc", route, i % 2 ? "GET" : "BREW", "missing_middleware");
	}
	assert_int_equal(metrics__nseries(m), 3);
	text = metrics__render(m, false, &len);
	assert_non_null(text);
	/* first three label sets: /r/0 BREW->OTHER, /r/1 GET, /r/2 OTHER; 100 hits each */
	assert_int_equal(sample(text, "{service=\"svc\",route=\"/r/0\",method=\"OTHER\","
				"cause=\"missing_middleware\"} "), 100);
	assert_int_equal(sample(text, "{service=\"svc\",route=\"/r/1\",method=\"GET\","
				"cause=\"missing_middleware\"} "), 100);
	assert_int_equal(sample(text, "{service=\"__overflow__\",route=\"__overflow__\","
				"method=\"__overflow__\",cause=\"__overflow__\"} "), 700);
	assert_null(strstr(text, "BREW"));
	assert_null(strstr(text, "__lost__"));
	free(text);
	metrics__free(m);
}

/*
 * One service's share: a flood of label sets of "noisy" takes its
 * per-service quota and then its own overflow series; "quiet", coming
 * after, still gets its own series; separators in labels make no two label
 * sets one.
 */
static void test_service_quota(void **state)
{
	struct metrics *m = metrics__new(100, 10);
	char route[32], *text;
	size_t len;
	int i;

	assert_non_null(m);
	for (i = 0; i < 5000; i++) {
		snprintf(route, sizeof(route), "/n/%d", i);
		hit(m, "noisy", route, "GET", "missing_middleware");
	}
	for (i = 0; i < 7; i++)
		hit(m, "quiet", "/q/{id}", "GET", "missing_middleware");
	hit(m, "a\x1f" "b", "c", "GET", "x");
	hit(m, "a", "b\x1f" "c", "GET", "x");
	assert_int_equal(metrics__nseries(m), 13);
	text = metrics__render(m, false, &len);
	assert_non_null(text);
	assert_int_equal(sample(text, "{service=\"noisy\",route=\"__overflow__\","
				"method=\"__overflow__\",cause=\"__overflow__\"} "), 4990);
	assert_int_equal(sample(text, "{service=\"quiet\",route=\"/q/{id}\",method=\"GET\","
				"cause=\"missing_middleware\"} "), 7);
	assert_int_equal(sample(text, "{service=\"a\",route=\"b\x1f" "c\",method=\"GET\","
				"cause=\"x\"} "), 1);
	assert_null(strstr(text, "{service=\"__overflow__\""));
	free(text);
	metrics__free(m);
}

/*
 * OpenMetrics: counter families without _total, the latest trace of a
 * series as its exemplar, "# EOF" last; the plain format has neither, and
 * a series whose hits had no trace has no exemplar.
 */
static void test_openmetrics(void **state)
{
	struct metrics *m = metrics__new(10, 10);
	const char *tid = "4bf92f3577b34da6a3ce929d0e0e4736";
	struct metrics_hit h = { .service = "main:app", .route = "/a", .method = "GET",
				 .cause = "missing_middleware", .uid = "", .trace_id = "" };
	char *om, *plain;
	size_t len;

	assert_non_null(m);
	metrics__hit(m, &h);
	h.trace_id = "0af7651916cd43dd8448eb211c80319c";
	h.ts = 1700000000.25;
	metrics__hit(m, &h);
	h.trace_id = tid;
	h.ts = 1700000001.5;
	metrics__hit(m, &h);
	h.route = "/b";
	h.trace_id = "";
	metrics__hit(m, &h);
	om = metrics__render(m, true, &len);
	plain = metrics__render(m, false, &len);
	assert_non_null(om);
	assert_non_null(plain);
	assert_non_null(strstr(om, "# TYPE sessiontrace_assertions counter\n"));
	assert_non_null(strstr(om, "sessiontrace_assertions_total{service=\"main:app\",route=\"/a\","
				   "method=\"GET\",cause=\"missing_middleware\"} 3 # {trace_id=\""
				   "4bf92f3577b34da6a3ce929d0e0e4736\"} 1 1700000001.500\n"));
	assert_non_null(strstr(om, "route=\"/b\",method=\"GET\",cause=\"missing_middleware\"} 1\n"));
	assert_true(len > 0);
	assert_string_equal(om + strlen(om) - 6, "# EOF\n");
	assert_non_null(strstr(om, "# TYPE sessiontrace_attached_processes gauge\n"));
	assert_null(strstr(plain, "# EOF"));
	assert_null(strstr(plain, "trace_id"));
	assert_non_null(strstr(plain, "# TYPE sessiontrace_assertions_total counter\n"));
	free(om);
	free(plain);
	metrics__free(m);
}

static const struct {
	const char *spec, *host;
	unsigned port;
	int ret;
} addr_rows[] = {
	{ "9464", "127.0.0.1", 9464, 0 },
	{ "0.0.0.0:9464", "0.0.0.0", 9464, 0 },
	{ "127.0.0.2:1", "127.0.0.2", 1, 0 },
	{ "[::1]:9464", "::1", 9464, 0 },
	{ "localhost:65535", "localhost", 65535, 0 },
	{ "", NULL, 0, -1 },
	{ "0", NULL, 0, -1 },
	{ "65536", NULL, 0, -1 },
	{ "99999", NULL, 0, -1 },
	{ "-1", NULL, 0, -1 },
	{ "+80", NULL, 0, -1 },
	{ "80x", NULL, 0, -1 },
	{ ":9464", NULL, 0, -1 },
	{ "host:", NULL, 0, -1 },
	{ "::1:9464", NULL, 0, -1 },
	{ "[::1]9464", NULL, 0, -1 },
	{ "[]:9464", NULL, 0, -1 },
	{ "foo:bar", NULL, 0, -1 },
	{ "1234567", NULL, 0, -1 },
};

static void test_parse_addr(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(addr_rows) / sizeof(addr_rows[0]); i++) {
		char host[64] = "";
		unsigned port = 0;
		int ret = metrics__parse_addr(addr_rows[i].spec, host, sizeof(host), &port);

		if ((ret == 0) != (addr_rows[i].ret == 0))
			fail_msg("'%s': returned %d", addr_rows[i].spec, ret);
		if (ret)
			continue;
		assert_string_equal(host, addr_rows[i].host);
		assert_int_equal(port, addr_rows[i].port);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_values),
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_service_quota),
		cmocka_unit_test(test_openmetrics),
		cmocka_unit_test(test_parse_addr),
	};

	return cmocka_run_group_tests_name("promfmt", tests, NULL, NULL);
}
