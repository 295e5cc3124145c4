// SPDX-License-Identifier: BSD-2-Clause
/*
 * The record limiter (user/sink/limit.c): a bucket per key, one summary per
 * key and period, and the bounds on keys the targets choose: a service's
 * quota and its own "(other)", idle keys forgotten in least-recently-used
 * order, pending ones never.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "decode/hit.h"
#include "diagnose/diagnose.h"
#include "resolve/target.h"
#include "sink/limit.h"

struct fixture {
	struct target t[2];
	struct hit h;
	struct diagnosis dg;
	char function[64];
};

static struct fixture fx;

/* One hit of service index svc on route, read by a function named after it. */
static bool admit(struct limit *l, int svc, const char *route, long long now_ms)
{
	fx.h.t = &fx.t[svc];
	fx.h.prop = ST_PROP_SESSION;
	snprintf(fx.function, sizeof(fx.function), "read_%s", route);
	fx.h.frames[0] = (struct frame_info){ .function = fx.function, .file = "app.py",
					      .line = 7 };
	fx.h.nframes = 1;
	fx.h.accessor = 0;
	snprintf(fx.h.ts, sizeof(fx.h.ts), "2026-12-02T08:00:%02lld.000000Z", now_ms / 1000 % 60);
	snprintf(fx.dg.route, sizeof(fx.dg.route), "%s", route);
	fx.dg.cause = DIAG_MISSING;
	return limit__admit(l, &fx.h, &fx.dg, now_ms);
}

struct summaries {
	unsigned n;
	unsigned long long total;
	char service[8][64], route[8][64];
	unsigned long long count[8];
};

static void on_summary(void *ctx, const struct limit_summary *s)
{
	struct summaries *out = ctx;

	if (out->n < 8) {
		snprintf(out->service[out->n], 64, "%s", s->service);
		snprintf(out->route[out->n], 64, "%s", s->route);
		out->count[out->n] = s->count;
	}
	out->n++;
	out->total += s->count;
}

static void setup_targets(void)
{
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.t[0].service, sizeof(fx.t[0].service), "noisy:app");
	snprintf(fx.t[1].service, sizeof(fx.t[1].service), "quiet:app");
}

/* rate per key, then one summary a period with the exact count. */
static void test_rate(void **state)
{
	struct limit *l = limit__new(3);
	struct summaries s = { 0 };
	int i, admitted = 0;

	setup_targets();
	assert_non_null(l);
	for (i = 0; i < 10; i++)
		admitted += admit(l, 0, "/a", 1000);
	assert_int_equal(admitted, 3);
	limit__flush(l, 1500, false, on_summary, &s);
	assert_int_equal(s.n, 0); /* not due before a period */
	limit__flush(l, 2000, false, on_summary, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.count[0], 7);
	/* refilled at 3 a second: one token after a third of a second */
	assert_true(admit(l, 0, "/a", 2400));
	limit__free(l);
}

/*
 * A service past its quota shares its own "(other)"; another service still
 * gets keys of its own; the summary of "(other)" names the service.
 */
static void test_service_quota(void **state)
{
	struct limit *l = limit__new(1);
	struct summaries s = { 0 };
	struct limit_stats st;
	char route[32];
	int i, admitted = 0;

	setup_targets();
	assert_non_null(l);
	for (i = 0; i < LIMIT_SERVICE_KEYS + 100; i++) {
		snprintf(route, sizeof(route), "/n/%d", i);
		admitted += admit(l, 0, route, 1000);
	}
	/* each own key's one token, then the service's "(other)"'s one */
	assert_int_equal(admitted, LIMIT_SERVICE_KEYS + 1);
	assert_true(admit(l, 1, "/q", 1000));
	limit__stats(l, &st);
	assert_int_equal(st.keys, LIMIT_SERVICE_KEYS + 1);
	assert_int_equal(st.services, 2);
	assert_int_equal(st.evicted, 0);
	limit__flush(l, 2000, false, on_summary, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.service[0], "noisy:app");
	assert_string_equal(s.route[0], "(other)");
	assert_int_equal(s.count[0], 99);
	limit__free(l);
}

/*
 * At the quota, the least recently used key goes when it is idle (nothing
 * pending, bucket full again): a new key then has its own; a pending key is
 * never forgotten (its summary would be lost), and a recently used one
 * stays.
 */
static void test_idle_eviction(void **state)
{
	struct limit *l = limit__new(1);
	struct summaries s = { 0 };
	struct limit_stats st;
	char route[32];
	int i;

	setup_targets();
	assert_non_null(l);
	for (i = 0; i < LIMIT_SERVICE_KEYS; i++) {
		snprintf(route, sizeof(route), "/n/%d", i);
		assert_true(admit(l, 0, route, 1000));
	}
	/* /n/0, the oldest, is used again (and now pending): /n/1 is the LRU */
	assert_false(admit(l, 0, "/n/0", 1001));
	/* a second later every bucket is full again: /n/1 is idle and goes */
	assert_true(admit(l, 0, "/new/1", 2100));
	limit__stats(l, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.keys, LIMIT_SERVICE_KEYS);
	/* /n/1 is a new key now: its own full bucket (evicting /n/2) */
	assert_true(admit(l, 0, "/n/1", 2100));
	assert_false(admit(l, 0, "/n/1", 2100));
	limit__stats(l, &st);
	assert_int_equal(st.evicted, 2);
	/* /n/0's pending count survived all this: due first; then /n/1's */
	limit__flush(l, 2200, false, on_summary, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.route[0], "/n/0");
	limit__flush(l, 2200, true, on_summary, &s);
	assert_int_equal(s.total, 1 + 1);
	limit__free(l);
}

/* Past LIMIT_KEYS in all, services share; no key is lost count of. */
static void test_global_bound(void **state)
{
	struct limit *l = limit__new(1);
	struct summaries s = { 0 };
	struct limit_stats st;
	char route[32];
	int i, k, hits = 0, admitted = 0;

	setup_targets();
	assert_non_null(l);
	for (k = 0; k < 12; k++) {
		snprintf(fx.t[0].service, sizeof(fx.t[0].service), "svc%d:app", k);
		for (i = 0; i < LIMIT_SERVICE_KEYS; i++, hits++) {
			snprintf(route, sizeof(route), "/r/%d", i);
			admitted += admit(l, 0, route, 1000);
		}
	}
	limit__stats(l, &st);
	assert_int_equal(st.keys, LIMIT_KEYS);
	limit__flush(l, 5000, true, on_summary, &s);
	assert_int_equal(admitted + s.total, hits);
	limit__free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_service_quota),
		cmocka_unit_test(test_idle_eviction),
		cmocka_unit_test(test_global_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
