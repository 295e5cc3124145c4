/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Escapers that turn untrusted bytes (strings read out of a traced process)
 * into a JSON string literal or into text that is safe to print on a
 * terminal.
 */
#ifndef ST_ESCAPE_H
#define ST_ESCAPE_H
#include <stddef.h>
#include <stdint.h>
#include "util/strbuf.h"

/*
 * Append @n bytes of @s as a JSON string literal, with the quotes.
 * '"' and '\\' are backslash-escaped; \b \f \n \r \t use their short forms;
 * other bytes < 0x20 and 0x7f become \u00xx (lowercase hex). Well-formed
 * UTF-8 (including C1 controls, U+2028/U+2029) is copied unchanged. Each
 * ill-formed UTF-8 sequence becomes \ufffd, one per maximal subpart (the
 * Unicode "substitution of maximal subparts" practice, the same as Python's
 * bytes.decode("utf-8", "replace")): e.g. an overlong C0 80 gives two, a
 * UTF-8-encoded surrogate ED A0 80 three, a truncated E2 82 one.
 * @s == NULL appends null (no quotes).
 */
void escape__json(struct strbuf *sb, const char *s, size_t n);

/*
 * Append @n bytes of @s for display on a terminal, without quotes, such
 * that the text can never move the cursor, change colours or otherwise
 * drive the terminal:
 *  - \n, \t, \r for those three characters;
 *  - other C0 controls (< 0x20) and DEL: \xNN (two lowercase hex digits),
 *    e.g. ESC "\x1b[31m" -> the 8 characters \x1b[31m;
 *  - C1 controls U+0080..U+009F (well-formed, C2 80..C2 9F) and the
 *    invisible layout controls that can disguise text (U+061C, U+200E,
 *    U+200F, U+2028, U+2029, U+202A..U+202E, U+2066..U+2069): \uXXXX (four
 *    lowercase hex digits of the code point), e.g. C2 9B (CSI) -> \u009b;
 *  - each byte of an ill-formed UTF-8 sequence: \xNN, e.g. a lone 9B ->
 *    \x9b (so \xNN with NN >= 80 always means a raw byte that is not UTF-8,
 *    and \uXXXX always a valid code point);
 *  - everything else (printable ASCII, including '\\', and well-formed
 *    UTF-8) is copied unchanged.
 * @s == NULL appends nothing.
 */
void escape__term(struct strbuf *sb, const char *s, size_t n);

/*
 * Decode one UTF-8 character from s[0..n), n >= 1. Returns its length and
 * sets *cp; for an ill-formed sequence returns the length of its maximal
 * subpart (>= 1: the bytes that one U+FFFD replaces) and sets *cp = -1.
 * Well-formed sequences are exactly those of Unicode Table 3-7: no
 * overlongs, no surrogates, nothing above U+10FFFF.
 */
size_t escape__utf8_next(const unsigned char *s, size_t n, int32_t *cp);

#endif
