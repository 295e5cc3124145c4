// SPDX-License-Identifier: BSD-2-Clause
/* Marked truncation (user/util/cut.c), table-driven, at and around the bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "util/cut.h"

#define M CUT_MARK

static const struct {
	const char *src;
	size_t sz;
	const char *want;
	bool cut;
} rows[] = {
	{ "", 8, "", false },
	{ "abc", 4, "abc", false },                 /* exactly fits */
	{ "abcd", 4, M, true },                     /* one over: only the mark fits */
	{ "abcdefgh", 8, "abcd" M, true },          /* 4 bytes + 3 of mark + NUL */
	{ "abcdefg", 8, "abcdefg", false },
	{ "abcdefgh", 9, "abcdefgh", false },
	{ "abcdefghi", 9, "abcde" M, true },
	{ "ab\xc3\xa9" "defgh", 8, "ab\xc3\xa9" M, true }, /* a whole é */
	{ "abc\xc3\xa9" "efgh", 8, "abc" M, true },  /* never half an é */
	{ "a\xe4\xb8\xad\xe4\xb8\xad", 7, "a" M, true }, /* nor half a CJK character */
	{ "\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad", 8, "\xe4\xb8\xad" M, true },
	{ "abcdef", 3, "ab", true },                /* no room for the mark: cut only */
	{ "abcdef", 1, "", true },
	{ "\x80\x80\x80\x80\x80\x80\x80\x80", 8, M, true }, /* not UTF-8 at all */
};

static void test_copy(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char buf[16];
		bool cut;

		memset(buf, 'X', sizeof(buf));
		cut = cut__copy(buf, rows[i].sz, rows[i].src);
		if (cut != rows[i].cut || strcmp(buf, rows[i].want) || strlen(buf) >= rows[i].sz)
			fail_msg("row %zu: got '%s' cut %d", i, buf, cut);
		if (buf[rows[i].sz] != 'X')
			fail_msg("row %zu: wrote past %zu bytes", i, rows[i].sz);
	}
}

static void test_copyn_and_mark(void **state)
{
	char buf[8];

	assert_false(cut__copyn(buf, sizeof(buf), "abcdefgh", 3));
	assert_string_equal(buf, "abc");
	assert_true(cut__copyn(buf, sizeof(buf), "abcdefgh", 8));
	assert_string_equal(buf, "abcd" M);
	/* a string cut earlier, somewhere else, marked here */
	strcpy(buf, "ab");
	cut__mark(buf, sizeof(buf));
	assert_string_equal(buf, "ab" M);
	strcpy(buf, "abcdefg");
	cut__mark(buf, sizeof(buf));
	assert_string_equal(buf, "abcd" M);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_copyn_and_mark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
