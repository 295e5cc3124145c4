// SPDX-License-Identifier: BSD-2-Clause
/* The traceparent header's validation (user/decode/hit.c), table-driven (W3C Trace Context). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "decode/hit.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

static const struct {
	const char *in;
	bool ok;
} rows[] = {
	{ "00-" TID "-" SID "-01", true },
	{ "00-" TID "-" SID "-00", true },
	{ "01-" TID "-" SID "-01", true },               /* a later version ... */
	{ "01-" TID "-" SID "-01-extra", true },         /* ... may carry more after a '-' */
	{ "01-" TID "-" SID "-01x", false },
	{ "00-" TID "-" SID "-01-extra", false },        /* version 00 is exactly 55 bytes */
	{ "ff-" TID "-" SID "-01", false },              /* the invalid version */
	{ "0g-" TID "-" SID "-01", false },
	{ "00-00000000000000000000000000000000-" SID "-01", false }, /* all-zero trace id */
	{ "00-" TID "-0000000000000000-01", false },     /* all-zero parent id */
	{ "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", false }, /* upper case */
	{ "00-" TID "-" SID "-0g", false },
	{ "00-" TID "-" SID "-1", false },
	{ "00_" TID "-" SID "-01", false },
	{ "00-" TID "0-" SID "-01", false },
	{ "", false },
	{ "00", false },
	{ "00-" TID "-" SID, false },
};

static void test_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char tid[33] = "x", sid[17] = "x";
		bool ok = hit__traceparent(rows[i].in, strlen(rows[i].in), tid, sid);

		if (ok != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].in, ok);
		if (ok && (strcmp(tid, TID) || strcmp(sid, SID)))
			fail_msg("row %zu: ids '%s' '%s'", i, tid, sid);
		if (!ok && (tid[0] || sid[0]))
			fail_msg("row %zu: kept '%s' '%s' of an invalid header", i, tid, sid);
	}
}

/* Lengths, not NULs: every prefix of a valid header is invalid, no read past n. */
static void test_prefixes(void **state)
{
	const char *v = "00-" TID "-" SID "-01";
	char tid[33], sid[17];
	size_t n;

	for (n = 0; n < strlen(v); n++)
		assert_false(hit__traceparent(v, n, tid, sid));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
