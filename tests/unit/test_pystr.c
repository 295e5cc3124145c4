// SPDX-License-Identifier: BSD-2-Clause
/* pystr__to_utf8(): table-driven, exact bytes out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory/pystr.h"

struct pystr_case {
	const char *name;
	unsigned kind;
	const char *data;	/* raw str data, little-endian */
	size_t nbytes;
	size_t outsz;
	const char *want;	/* exact UTF-8 output, without the NUL */
	size_t want_len;
	bool want_trunc;
};

/* string literal and its length without the terminating NUL */
#define S(lit) lit, sizeof(lit) - 1

#define FFFD "\xef\xbf\xbd"

static const struct pystr_case cases[] = {
	/* latin-1 */
	{ "ascii", 1, S("abc"), 16, S("abc"), false },
	{ "empty", 1, S(""), 16, S(""), false },
	{ "latin-1 e-acute", 1, S("caf\xe9"), 16, S("caf\xc3\xa9"), false },
	{ "latin-1 0x80 0xff", 1, S("\x80\xff"), 16, S("\xc2\x80\xc3\xbf"), false },
	{ "latin-1 NUL kept", 1, S("a\0b"), 16, S("a\0b"), false },
	/* UCS-2 */
	{ "ucs2 ascii", 2, S("A\0z\0"), 16, S("Az"), false },
	{ "ucs2 e-acute", 2, S("\xe9\0"), 16, S("\xc3\xa9"), false },
	{ "ucs2 U+07FF", 2, S("\xff\x07"), 16, S("\xdf\xbf"), false },
	{ "ucs2 U+0800", 2, S("\x00\x08"), 16, S("\xe0\xa0\x80"), false },
	{ "ucs2 euro", 2, S("\xac\x20"), 16, S("\xe2\x82\xac"), false },
	{ "ucs2 U+FFFF", 2, S("\xff\xff"), 16, S("\xef\xbf\xbf"), false },
	{ "ucs2 lone high surrogate", 2, S("a\0\x3d\xd8" "b\0"), 16,
	  S("a" FFFD "b"), false },
	{ "ucs2 lone low surrogate", 2, S("\x00\xdc"), 16, S(FFFD), false },
	{ "ucs2 U+D7FF not a surrogate", 2, S("\xff\xd7"), 16, S("\xed\x9f\xbf"), false },
	{ "ucs2 U+E000 not a surrogate", 2, S("\x00\xe0"), 16, S("\xee\x80\x80"), false },
	{ "ucs2 pair stays two lone surrogates", 2, S("\x3d\xd8\x00\xde"), 16,
	  S(FFFD FFFD), false },
	/* UCS-4 */
	{ "ucs4 ascii", 4, S("A\0\0\0"), 16, S("A"), false },
	{ "ucs4 U+1F600", 4, S("\x00\xf6\x01\x00"), 16, S("\xf0\x9f\x98\x80"), false },
	{ "ucs4 U+10000", 4, S("\x00\x00\x01\x00"), 16, S("\xf0\x90\x80\x80"), false },
	{ "ucs4 U+10FFFF", 4, S("\xff\xff\x10\x00"), 16, S("\xf4\x8f\xbf\xbf"), false },
	{ "ucs4 U+110000", 4, S("\x00\x00\x11\x00"), 16, S(FFFD), false },
	{ "ucs4 0xFFFFFFFF", 4, S("\xff\xff\xff\xff"), 16, S(FFFD), false },
	{ "ucs4 0x80000000", 4, S("\x00\x00\x00\x80"), 16, S(FFFD), false },
	{ "ucs4 surrogate", 4, S("\x00\xd8\x00\x00"), 16, S(FFFD), false },
	{ "ucs4 NUL", 4, S("\0\0\0\0"), 16, S("\0"), false },
	/* partial trailing character: ignored, truncated */
	{ "ucs2 partial", 2, S("A\0B"), 16, S("A"), true },
	{ "ucs4 partial", 4, S("\x00\xf6\x01\x00\x41\x00"), 16,
	  S("\xf0\x9f\x98\x80"), true },
	{ "ucs4 only partial", 4, S("AAA"), 16, S(""), true },
	/* output too small: stop at a character boundary */
	{ "e-acute outsz 2", 1, S("\xe9"), 2, S(""), true },
	{ "e-acute outsz 3", 1, S("\xe9"), 3, S("\xc3\xa9"), false },
	{ "a e-acute outsz 3", 1, S("a\xe9"), 3, S("a"), true },
	{ "emoji outsz 4", 4, S("\x00\xf6\x01\x00"), 4, S(""), true },
	{ "emoji outsz 5", 4, S("\x00\xf6\x01\x00"), 5, S("\xf0\x9f\x98\x80"), false },
	{ "a emoji b outsz 5", 4, S("a\0\0\0\x00\xf6\x01\x00" "b\0\0\0"), 5,
	  S("a"), true },
	{ "a emoji b outsz 6", 4, S("a\0\0\0\x00\xf6\x01\x00" "b\0\0\0"), 6,
	  S("a\xf0\x9f\x98\x80"), true },
	{ "a emoji b outsz 7", 4, S("a\0\0\0\x00\xf6\x01\x00" "b\0\0\0"), 7,
	  S("a\xf0\x9f\x98\x80" "b"), false },
	{ "euro euro outsz 6", 2, S("\xac\x20\xac\x20"), 6, S("\xe2\x82\xac"), true },
	{ "euro euro outsz 7", 2, S("\xac\x20\xac\x20"), 7,
	  S("\xe2\x82\xac\xe2\x82\xac"), false },
	{ "ascii exact fit", 1, S("abcd"), 5, S("abcd"), false },
	{ "ascii one short", 1, S("abcd"), 4, S("abc"), true },
	{ "outsz 1", 1, S("abc"), 1, S(""), true },
	{ "outsz 1 empty input", 1, S(""), 1, S(""), false },
	{ "outsz 0", 1, S("abc"), 0, S(""), true },
	{ "outsz 0 empty input", 2, S(""), 0, S(""), false },
	/* bad kinds */
	{ "kind 0", 0, S("abcd"), 16, S(""), true },
	{ "kind 3", 3, S("abc"), 16, S(""), true },
	{ "kind 8", 8, S("abcdefgh"), 16, S(""), true },
	{ "kind 3 outsz 0", 3, S("abc"), 0, S(""), true },
};

#define SENTINEL 0x5a

static void run_case(const struct pystr_case *c)
{
	char *data = malloc(c->nbytes ? c->nbytes : 1);
	char *out = malloc(c->outsz ? c->outsz : 1);
	bool trunc = false;
	size_t got;

	assert_non_null(data);
	assert_non_null(out);
	memcpy(data, c->data, c->nbytes);
	memset(out, SENTINEL, c->outsz ? c->outsz : 1);
	got = pystr__to_utf8(data, c->nbytes, c->kind, out, c->outsz, &trunc);
	if (got != c->want_len || trunc != c->want_trunc ||
	    memcmp(out, c->want, c->want_len) != 0 ||
	    (c->outsz && out[got] != '\0') ||
	    (!c->outsz && out[0] != SENTINEL)) {
		print_error("case \"%s\": got len %zu trunc %d, want len %zu trunc %d\n",
			    c->name, got, trunc, c->want_len, c->want_trunc);
		free(data);
		free(out);
		fail();
	}
	free(data);
	free(out);
}

static void test_cases(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

static void test_truncated_flag_is_sticky(void **state)
{
	char out[8];
	bool trunc = true;

	/* a complete conversion never clears a flag set by the caller */
	assert_int_equal(pystr__to_utf8("ab", 2, 1, out, sizeof(out), &trunc), 2);
	assert_string_equal(out, "ab");
	assert_true(trunc);
}

static void test_null_arguments(void **state)
{
	char out[8];
	bool trunc = false;

	/* truncated may be NULL */
	assert_int_equal(pystr__to_utf8("abcdef", 6, 1, out, 4, NULL), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(pystr__to_utf8("ab", 2, 3, out, 4, NULL), 0);
	assert_string_equal(out, "");

	/* NULL data */
	assert_int_equal(pystr__to_utf8(NULL, 0, 1, out, sizeof(out), &trunc), 0);
	assert_string_equal(out, "");
	assert_false(trunc);
	memset(out, 'x', sizeof(out));
	assert_int_equal(pystr__to_utf8(NULL, 4, 2, out, sizeof(out), &trunc), 0);
	assert_string_equal(out, "");
	assert_true(trunc);

	/* NULL out: treated as outsz 0 */
	trunc = false;
	assert_int_equal(pystr__to_utf8("ab", 2, 1, NULL, 16, &trunc), 0);
	assert_true(trunc);
}

/* Every code point of every kind, round-tripped through an independent decoder. */
static void test_all_code_points(void **state)
{
	unsigned char in[4], out[8];
	uint32_t cp, dec;
	size_t n;

	for (cp = 0; cp <= 0x110000; cp++) {
		unsigned kind = cp < 0x100 ? 1 : cp < 0x10000 ? 2 : 4;
		bool trunc = false;

		in[0] = cp;
		in[1] = cp >> 8;
		in[2] = cp >> 16;
		in[3] = cp >> 24;
		n = pystr__to_utf8(in, kind, kind, (char *)out, sizeof(out), &trunc);
		assert_false(trunc);
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
			assert_int_equal(n, 3);
			assert_memory_equal(out, FFFD, 3);
			continue;
		}
		assert_int_equal(n, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
		if (n == 1)
			dec = out[0];
		else if (n == 2)
			dec = (out[0] & 0x1fu) << 6 | (out[1] & 0x3fu);
		else if (n == 3)
			dec = (out[0] & 0x0fu) << 12 | (out[1] & 0x3fu) << 6 | (out[2] & 0x3fu);
		else
			dec = (out[0] & 0x07u) << 18 | (out[1] & 0x3fu) << 12 |
			      (out[2] & 0x3fu) << 6 | (out[3] & 0x3fu);
		assert_int_equal(dec, cp);
		assert_int_equal(out[n], 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_truncated_flag_is_sticky),
		cmocka_unit_test(test_null_arguments),
		cmocka_unit_test(test_all_code_points),
	};

	return cmocka_run_group_tests_name("pystr", tests, NULL, NULL);
}
