// SPDX-License-Identifier: BSD-2-Clause
/* strbuf, escape__json(), escape__term(): table-driven, exact bytes out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/escape.h"

struct esc_case {
	const char *name;
	const char *in;
	size_t n;
	const char *want;
};

#define S(lit) lit, sizeof(lit) - 1
#define R "\\ufffd"

static const struct esc_case json_cases[] = {
	{ "empty", S(""), "\"\"" },
	{ "ascii", S("hello world"), "\"hello world\"" },
	{ "quote", S("a\"b"), "\"a\\\"b\"" },
	{ "backslash", S("a\\b"), "\"a\\\\b\"" },
	{ "slash kept", S("/p/q"), "\"/p/q\"" },
	{ "short escapes", S("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"" },
	{ "NUL", S("a\0b"), "\"a\\u0000b\"" },
	{ "C0 controls", S("\x01\x07\x0b\x0e\x1a\x1f"),
	  "\"\\u0001\\u0007\\u000b\\u000e\\u001a\\u001f\"" },
	{ "ESC sequence", S("\x1b[31mred"), "\"\\u001b[31mred\"" },
	{ "DEL", S("x\x7fy"), "\"x\\u007fy\"" },
	{ "space and tilde", S(" ~"), "\" ~\"" },
	{ "latin e-acute", S("caf\xc3\xa9"), "\"caf\xc3\xa9\"" },
	{ "emoji", S("\xf0\x9f\x98\x80!"), "\"\xf0\x9f\x98\x80!\"" },
	{ "U+0800", S("\xe0\xa0\x80"), "\"\xe0\xa0\x80\"" },
	{ "U+FFFF", S("\xef\xbf\xbf"), "\"\xef\xbf\xbf\"" },
	{ "U+10000", S("\xf0\x90\x80\x80"), "\"\xf0\x90\x80\x80\"" },
	{ "U+10FFFF", S("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"" },
	{ "C1 kept", S("\xc2\x9b"), "\"\xc2\x9b\"" },
	{ "U+2028 kept", S("\xe2\x80\xa8"), "\"\xe2\x80\xa8\"" },
	/* ill-formed UTF-8: one \ufffd per maximal subpart */
	{ "lone continuation", S("a\x80z"), "\"a" R "z\"" },
	{ "lone continuation bf", S("\xbf"), "\"" R "\"" },
	{ "overlong C0 80", S("\xc0\x80"), "\"" R R "\"" },
	{ "overlong C1 BF", S("\xc1\xbf"), "\"" R R "\"" },
	{ "overlong E0 80 80", S("\xe0\x80\x80"), "\"" R R R "\"" },
	{ "overlong E0 9F BF", S("\xe0\x9f\xbf"), "\"" R R R "\"" },
	{ "overlong F0 80 80 80", S("\xf0\x80\x80\x80"), "\"" R R R R "\"" },
	{ "overlong F0 8F BF BF", S("\xf0\x8f\xbf\xbf"), "\"" R R R R "\"" },
	{ "surrogate ED A0 80", S("\xed\xa0\x80"), "\"" R R R "\"" },
	{ "surrogate ED BF BF", S("\xed\xbf\xbf"), "\"" R R R "\"" },
	{ "above U+10FFFF F4 90", S("\xf4\x90\x80\x80"), "\"" R R R R "\"" },
	{ "F5 lead", S("\xf5\x80\x80\x80"), "\"" R R R R "\"" },
	{ "5-byte form", S("\xf8\x88\x80\x80\x80"), "\"" R R R R R "\"" },
	{ "FE FF", S("\xfe\xff"), "\"" R R "\"" },
	{ "truncated 3-byte at end", S("\xe2\x82"), "\"" R "\"" },
	{ "truncated 3-byte then ascii", S("\xe2\x82" "A"), "\"" R "A\"" },
	{ "truncated 4-byte at end", S("\xf0\x9f\x98"), "\"" R "\"" },
	{ "truncated 4-byte then ascii", S("\xf0\x9f" "x"), "\"" R "x\"" },
	{ "truncated 2-byte at end", S("ab\xc3"), "\"ab" R "\"" },
	{ "lead then valid", S("\xc3\xc3\xa9"), "\"" R "\xc3\xa9\"" },
	{ "lead then quote", S("\xe2\""), "\"" R "\\\"\"" },
	{ "cut by n", "\xc3\xa9", 1, "\"" R "\"" },
	{ "n shorter than string", "abc", 2, "\"ab\"" },
};

static const struct esc_case term_cases[] = {
	{ "empty", S(""), "" },
	{ "plain", S("GET /index.html"), "GET /index.html" },
	{ "quotes and backslash kept", S("\"C:\\dir\""), "\"C:\\dir\"" },
	{ "ESC colour", S("\x1b[31mred"), "\\x1b[31mred" },
	{ "ESC clear screen", S("\x1b[2J\x1b[H"), "\\x1b[2J\\x1b[H" },
	{ "OSC title", S("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07" },
	{ "newline tab cr", S("a\nb\tc\rd"), "a\\nb\\tc\\rd" },
	{ "NUL", S("a\0b"), "a\\x00b" },
	{ "backspace", S("x\b"), "x\\x08" },
	{ "C0 1f", S("\x1f"), "\\x1f" },
	{ "DEL", S("\x7f"), "\\x7f" },
	{ "C1 CSI U+009B", S("\xc2\x9b" "31m"), "\\u009b31m" },
	{ "C1 U+0080", S("\xc2\x80"), "\\u0080" },
	{ "C1 U+009F", S("\xc2\x9f"), "\\u009f" },
	{ "NBSP U+00A0 kept", S("\xc2\xa0"), "\xc2\xa0" },
	{ "e-acute emoji kept", S("\xc3\xa9\xf0\x9f\x98\x80"), "\xc3\xa9\xf0\x9f\x98\x80" },
	{ "ZWJ kept", S("\xe2\x80\x8d"), "\xe2\x80\x8d" },
	{ "RLO U+202E", S("ab\xe2\x80\xae" "cd"), "ab\\u202ecd" },
	{ "LRE U+202A", S("\xe2\x80\xaa"), "\\u202a" },
	{ "RLM U+200F", S("\xe2\x80\x8f"), "\\u200f" },
	{ "LRM U+200E", S("\xe2\x80\x8e"), "\\u200e" },
	{ "LRI U+2066", S("\xe2\x81\xa6"), "\\u2066" },
	{ "PDI U+2069", S("\xe2\x81\xa9"), "\\u2069" },
	{ "ALM U+061C", S("\xd8\x9c"), "\\u061c" },
	{ "LS U+2028", S("\xe2\x80\xa8"), "\\u2028" },
	{ "PS U+2029", S("\xe2\x80\xa9"), "\\u2029" },
	/* ill-formed UTF-8: every byte of the maximal subpart as \xNN */
	{ "lone 9B (raw 8-bit CSI)", S("\x9b" "31m"), "\\x9b31m" },
	{ "lone FF", S("\xff"), "\\xff" },
	{ "overlong C0 80", S("\xc0\x80"), "\\xc0\\x80" },
	{ "overlong E0 80 AF", S("\xe0\x80\xaf"), "\\xe0\\x80\\xaf" },
	{ "surrogate", S("\xed\xa0\x80"), "\\xed\\xa0\\x80" },
	{ "above U+10FFFF", S("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80" },
	{ "truncated at end", S("ok\xe2\x82"), "ok\\xe2\\x82" },
	{ "truncated then ascii", S("\xe2\x82" "A"), "\\xe2\\x82A" },
	{ "truncated then ESC", S("\xf0\x9f\x1b"), "\\xf0\\x9f\\x1b" },
};

static void check_cases(const struct esc_case *cases, size_t n, bool json)
{
	struct strbuf sb;
	size_t i, failed = 0;

	strbuf__init(&sb);
	for (i = 0; i < n; i++) {
		char *in = malloc(cases[i].n ? cases[i].n : 1);

		assert_non_null(in);
		memcpy(in, cases[i].in, cases[i].n);	/* exact size for ASan */
		strbuf__reset(&sb);
		if (json)
			escape__json(&sb, in, cases[i].n);
		else
			escape__term(&sb, in, cases[i].n);
		free(in);
		assert_false(sb.oom);
		if (strlen(cases[i].want) == 0 && sb.len == 0)
			continue;
		assert_non_null(sb.buf);
		if (sb.len != strlen(cases[i].want) ||
		    memcmp(sb.buf, cases[i].want, sb.len) != 0) {
			print_error("%s case \"%s\": got [%s], want [%s]\n",
				    json ? "json" : "term", cases[i].name,
				    sb.buf, cases[i].want);
			failed++;
		}
		assert_int_equal(sb.buf[sb.len], '\0');
	}
	strbuf__free(&sb);
	assert_int_equal(failed, 0);
}

static void test_json_cases(void **state)
{
	check_cases(json_cases, sizeof(json_cases) / sizeof(json_cases[0]), true);
}

static void test_term_cases(void **state)
{
	check_cases(term_cases, sizeof(term_cases) / sizeof(term_cases[0]), false);
}

static void test_null(void **state)
{
	struct strbuf sb;

	strbuf__init(&sb);
	escape__json(&sb, NULL, 5);
	assert_string_equal(sb.buf, "null");
	escape__term(&sb, NULL, 5);
	assert_string_equal(sb.buf, "null");
	strbuf__add(&sb, NULL, 3);	/* no-op */
	assert_int_equal(sb.len, 4);
	strbuf__free(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
}

static void test_json_in_context(void **state)
{
	struct strbuf sb;

	strbuf__init(&sb);
	strbuf__addc(&sb, '{');
	escape__json(&sb, "k", 1);
	strbuf__addc(&sb, ':');
	escape__json(&sb, "v\n", 2);
	strbuf__addf(&sb, ",\"n\":%d}", 42);
	assert_string_equal(sb.buf, "{\"k\":\"v\\n\",\"n\":42}");
	assert_int_equal(sb.len, strlen(sb.buf));
	strbuf__free(&sb);
}

static void test_strbuf_basic(void **state)
{
	struct strbuf sb;
	char *old;

	strbuf__init(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_false(sb.oom);
	strbuf__add(&sb, "", 0);
	assert_null(sb.buf);	/* nothing appended, nothing allocated */
	strbuf__add(&sb, "abc", 3);
	strbuf__addc(&sb, '!');
	strbuf__addf(&sb, "%d-%s-%05.1f", -7, "x", 2.5);
	assert_string_equal(sb.buf, "abc!-7-x-002.5");
	assert_int_equal(sb.len, 14);
	strbuf__add(&sb, "a\0b", 3);	/* embedded NUL kept */
	assert_int_equal(sb.len, 17);
	assert_memory_equal(sb.buf + 14, "a\0b", 4);
	strbuf__addf(&sb, "%s", "");
	assert_int_equal(sb.len, 17);

	old = sb.buf;
	strbuf__reset(&sb);
	assert_ptr_equal(sb.buf, old);	/* allocation kept */
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	strbuf__free(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.cap, 0);
}

static void test_strbuf_growth(void **state)
{
	struct strbuf sb;
	char *big;
	size_t i;

	strbuf__init(&sb);
	for (i = 0; i < 100000; i++)
		strbuf__addc(&sb, 'a' + i % 26);
	for (i = 0; i < 1000; i++)
		strbuf__add(&sb, "0123456789", 10);
	for (i = 0; i < 1000; i++)
		strbuf__addf(&sb, "[%04zu]", i);
	assert_false(sb.oom);
	assert_int_equal(sb.len, 100000 + 10000 + 6000);
	assert_true(sb.cap > sb.len);
	assert_int_equal(strlen(sb.buf), sb.len);
	for (i = 0; i < 100000; i++)
		assert_int_equal(sb.buf[i], 'a' + i % 26);
	assert_memory_equal(sb.buf + 100000, "0123456789", 10);
	assert_memory_equal(sb.buf + sb.len - 6, "[0999]", 6);

	/* one append far bigger than the current capacity, via addf */
	big = malloc(200001);
	assert_non_null(big);
	memset(big, 'z', 200000);
	big[200000] = '\0';
	strbuf__reset(&sb);
	strbuf__addf(&sb, "<%s>", big);
	assert_int_equal(sb.len, 200002);
	assert_int_equal(sb.buf[0], '<');
	assert_int_equal(sb.buf[200001], '>');
	assert_int_equal(sb.buf[200002], '\0');

	/* and one via escape__json: 70000 quotes need 140002 bytes */
	memset(big, '"', 70000);
	strbuf__reset(&sb);
	escape__json(&sb, big, 70000);
	assert_int_equal(sb.len, 140002);
	assert_false(sb.oom);
	free(big);
	strbuf__free(&sb);
}

static void test_strbuf_oom(void **state)
{
	struct strbuf sb;

	strbuf__init(&sb);
	strbuf__add(&sb, "keep", 4);
	/* a size that cannot be allocated: fails cleanly, reads nothing */
	strbuf__add(&sb, "x", SIZE_MAX);
	assert_true(sb.oom);
	assert_string_equal(sb.buf, "keep");
	strbuf__add(&sb, "more", 4);	/* no-op after a failure */
	strbuf__addc(&sb, 'c');
	strbuf__addf(&sb, "%d", 1);
	escape__json(&sb, "j", 1);
	escape__term(&sb, "t\x1b", 2);
	assert_string_equal(sb.buf, "keep");
	assert_int_equal(sb.len, 4);

	strbuf__add(&sb, "x", SIZE_MAX - 2);	/* still safe when already oom */
	strbuf__reset(&sb);
	assert_false(sb.oom);
	strbuf__add(&sb, "ok", 2);
	assert_string_equal(sb.buf, "ok");

	/* the same on a buffer that never allocated */
	strbuf__free(&sb);
	strbuf__add(&sb, "x", SIZE_MAX - 1);
	assert_true(sb.oom);
	assert_null(sb.buf);
	strbuf__free(&sb);
	assert_false(sb.oom);
}

/* ---- properties over every code point and random bytes ---- */

static size_t encode(uint32_t cp, char *b)
{
	if (cp < 0x80) {
		b[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = 0xc0 | cp >> 6;
		b[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = 0xe0 | cp >> 12;
		b[1] = 0x80 | (cp >> 6 & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	b[0] = 0xf0 | cp >> 18;
	b[1] = 0x80 | (cp >> 12 & 0x3f);
	b[2] = 0x80 | (cp >> 6 & 0x3f);
	b[3] = 0x80 | (cp & 0x3f);
	return 4;
}

static bool term_escaped_cp(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
	       cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

static void test_every_code_point(void **state)
{
	struct strbuf sb;
	char b[4];
	size_t n;
	uint32_t cp;

	strbuf__init(&sb);
	for (cp = 0x20; cp <= 0x10ffff; cp++) {
		n = encode(cp, b);
		strbuf__reset(&sb);
		escape__json(&sb, b, n);
		if (cp == '"' || cp == '\\') {
			assert_int_equal(sb.len, 4);
		} else if (cp == 0x7f) {
			assert_string_equal(sb.buf, "\"\\u007f\"");
		} else if (cp >= 0xd800 && cp <= 0xdfff) {
			assert_string_equal(sb.buf, "\"" R R R "\"");
		} else {
			assert_int_equal(sb.len, n + 2);
			assert_memory_equal(sb.buf + 1, b, n);
		}
		strbuf__reset(&sb);
		escape__term(&sb, b, n);
		if (cp >= 0xd800 && cp <= 0xdfff) {
			assert_int_equal(sb.len, 12);	/* \xed\xNN\xNN */
		} else if (term_escaped_cp(cp)) {
			assert_int_equal(sb.buf[0], '\\');
			assert_int_equal(sb.len, cp < 0x80 ? 4 : 6);
		} else {
			assert_int_equal(sb.len, n);
			assert_memory_equal(sb.buf, b, n);
		}
	}
	strbuf__free(&sb);
}

/* Independent strict UTF-8 check (decode, then re-encode must match). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	uint32_t cp;
	char re[4];

	while (i < n) {
		unsigned char c = s[i];

		len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
		      (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (!len || i + len > n)
			return false;
		cp = len == 1 ? c : c & (0x7f >> len);
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    encode(cp, re) != len || memcmp(re, s + i, len))
			return false;
		i += len;
	}
	return true;
}

/* A JSON string literal: quotes, valid escapes, no raw controls. */
static bool valid_json_string(const unsigned char *s, size_t n)
{
	size_t i, k;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return false;
	for (i = 1; i < n - 1; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f || s[i] == '"')
			return false;
		if (s[i] != '\\')
			continue;
		if (++i >= n - 1)
			return false;
		if (s[i] == 'u') {
			for (k = 1; k <= 4; k++)
				if (i + k >= n - 1 || !strchr("0123456789abcdef", s[i + k]))
					return false;
			i += 4;
		} else if (!strchr("\"\\bfnrt", s[i])) {
			return false;
		}
	}
	return valid_utf8(s + 1, n - 2);
}

static bool terminal_safe(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
			return false;
	}
	return valid_utf8(s, n);
}

static void test_random_bytes(void **state)
{
	static const unsigned char alphabet[] = {
		0x00, 0x1b, '\n', '"', '\\', 'a', 0x7f, 0x80, 0x9b, 0xbf, 0xc0,
		0xc2, 0xc3, 0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0,
	};
	uint64_t x = 0x243f6a8885a308d3ull;
	struct strbuf sb;
	unsigned char *s;
	size_t iter, n, i;

	strbuf__init(&sb);
	for (iter = 0; iter < 50000; iter++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = x % 24;
		s = malloc(n ? n : 1);
		assert_non_null(s);
		for (i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* half the bytes from the tricky alphabet, half any byte */
			s[i] = (x & 1) ? alphabet[(x >> 8) % sizeof(alphabet)] : (unsigned char)(x >> 16);
		}
		strbuf__reset(&sb);
		escape__json(&sb, (const char *)s, n);
		assert_true(valid_json_string((unsigned char *)sb.buf, sb.len));
		strbuf__reset(&sb);
		escape__term(&sb, (const char *)s, n);
		if (sb.len)
			assert_true(terminal_safe((unsigned char *)sb.buf, sb.len));
		/* already-valid, control-free input comes out unchanged */
		if (terminal_safe(s, n) && !memchr(s, 0xe2, n) && !memchr(s, 0xd8, n)) {
			assert_int_equal(sb.len, n);
			assert_memory_equal(sb.buf, s, n);
		}
		free(s);
	}
	strbuf__free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_cases),
		cmocka_unit_test(test_term_cases),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_json_in_context),
		cmocka_unit_test(test_strbuf_basic),
		cmocka_unit_test(test_strbuf_growth),
		cmocka_unit_test(test_strbuf_oom),
		cmocka_unit_test(test_every_code_point),
		cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests_name("escape", tests, NULL, NULL);
}
