// SPDX-License-Identifier: BSD-2-Clause
/*
 * escape__json() and escape__term() (user/util/escape.c) on arbitrary bytes, as a
 * traced process can put in a request path, a file name or a qualname.
 *
 * JSON: the output is exactly one string literal that a strict validator
 * accepts (RFC 8259, valid UTF-8, no lone surrogate escapes); it decodes to
 * the input itself when the input is well-formed UTF-8, else to the input
 * with each ill-formed sequence replaced by U+FFFD (checked by length and
 * UTF-8 validity), and it survives being appended after other text.
 * Terminal: the output holds no C0 control byte, no DEL, no ESC, no C1
 * control (U+0080..U+009F) and no bidi/invisible layout control, and is
 * valid UTF-8; input without any of those passes through unchanged.
 */
#include "fuzz_common.h"
#include "util/escape.h"

static bool term_forbidden(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c ||
	       cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

static void check_json(const uint8_t *in, size_t n, size_t split)
{
	struct strbuf sb;
	uint8_t *dec;
	size_t pos = 0, declen = 0;
	bool valid = fz_utf8_valid(in, n);

	strbuf__init(&sb);
	escape__json(&sb, (const char *)in, n);
	FUZZ_CHECK(!sb.oom && sb.buf && sb.len >= 2, "escape__json produced nothing");
	FUZZ_CHECK(sb.buf[sb.len] == '\0', "not NUL-terminated");
	dec = malloc(sb.len);
	FUZZ_CHECK(dec, "malloc");
	FUZZ_CHECK(fz_json_string((uint8_t *)sb.buf, sb.len, &pos, dec, &declen) && pos == sb.len,
		   "not one JSON string literal: %.*s", (int)(sb.len > 200 ? 200 : sb.len), sb.buf);
	FUZZ_CHECK(fz_utf8_valid(dec, declen), "decoded value is not UTF-8");
	if (valid)
		FUZZ_CHECK(declen == n && !memcmp(dec, in, n), "well-formed input not preserved");
	else
		FUZZ_CHECK(memmem(dec, declen, "\xef\xbf\xbd", 3), "ill-formed input without U+FFFD");
	free(dec);

	/* The same text in two appends after a prefix: a whole JSON document. */
	strbuf__reset(&sb);
	strbuf__add(&sb, "[", 1);
	escape__json(&sb, (const char *)in, split);
	strbuf__addc(&sb, ',');
	escape__json(&sb, (const char *)in + split, n - split);
	strbuf__addf(&sb, ",%zu]", n);
	FUZZ_CHECK(!sb.oom && fz_json_document((uint8_t *)sb.buf, sb.len), "not a JSON array");
	strbuf__reset(&sb);
	escape__json(&sb, NULL, 5);
	FUZZ_CHECK(sb.len == 4 && !memcmp(sb.buf, "null", 4), "NULL is not null");
	strbuf__free(&sb);
}

static void check_term(const uint8_t *in, size_t n)
{
	struct strbuf sb;
	const uint8_t *o;
	size_t i, k, on;
	uint32_t cp;
	bool clean = fz_utf8_valid(in, n);

	for (i = 0; clean && i < n; i += k) {
		k = fz_utf8_one(in + i, n - i, &cp);
		clean = !term_forbidden(cp);
	}
	strbuf__init(&sb);
	strbuf__add(&sb, "> ", 2);
	escape__term(&sb, (const char *)in, n);
	FUZZ_CHECK(!sb.oom && sb.buf[sb.len] == '\0', "bad strbuf");
	o = (const uint8_t *)sb.buf + 2;
	on = sb.len - 2;
	FUZZ_CHECK(!memchr(o, 0x1b, on), "ESC in terminal output");
	for (i = 0; i < on; i += k) {
		k = fz_utf8_one(o + i, on - i, &cp);
		FUZZ_CHECK(k, "terminal output not UTF-8 at %zu", i);
		FUZZ_CHECK(!term_forbidden(cp), "control U+%04X in terminal output", cp);
	}
	if (clean)
		FUZZ_CHECK(on == n && !memcmp(o, in, n), "clean input changed");
	else
		FUZZ_CHECK(on > n || n == 0, "unclean input not escaped");
	strbuf__free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in;
	size_t split;

	if (!size)
		return 0;
	/* first byte: where to split the text for the two-append check */
	split = data[0];
	data++;
	size--;
	if (split > size)
		split = size;
	/* an exact-size copy: ASan sees any read past the end */
	in = malloc(size ? size : 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	check_json(in, size, split);
	check_term(in, size);
	free(in);
	return 0;
}
