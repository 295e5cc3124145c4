// SPDX-License-Identifier: BSD-2-Clause
/* Escapers of untrusted bytes for JSON and terminal sinks. See escape.h. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/escape.h"

size_t escape__utf8_next(const unsigned char *s, size_t n, int32_t *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xc2) {		/* continuation byte, or overlong C0/C1 */
		*cp = -1;
		return 1;
	}
	if (c < 0xe0) {
		need = 1;
		v = c & 0x1f;
	} else if (c < 0xf0) {
		need = 2;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c < 0xf5) {
		need = 3;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* > U+10FFFF */
	} else {
		*cp = -1;
		return 1;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*cp = -1;
			return i;
		}
		lo = 0x80;
		hi = 0xbf;
		v = v << 6 | (s[i] & 0x3f);
	}
	*cp = (int32_t)v;
	return need + 1;
}

static const char hexdig[] = "0123456789abcdef";

void escape__json(struct strbuf *sb, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0, k = 1;
	char esc[6];
	int32_t cp;

	if (!s) {
		strbuf__add(sb, "null", 4);
		return;
	}
	strbuf__addc(sb, '"');
	while (i < n) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80) {
			k = escape__utf8_next(s + i, n - i, &cp);
			if (cp >= 0) {
				i += k;
				continue;
			}
		}
		/* flush the pass-through run before s[i] */
		strbuf__add(sb, str + run, i - run);
		if (c >= 0x80) {
			strbuf__add(sb, "\\ufffd", 6);
			i += k;
			run = i;
			continue;
		}
		esc[0] = '\\';
		switch (c) {
		case '"':  esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:   esc[1] = 0; break;
		}
		if (esc[1]) {
			strbuf__add(sb, esc, 2);
		} else {
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hexdig[c >> 4];
			esc[5] = hexdig[c & 15];
			strbuf__add(sb, esc, 6);
		}
		i++;
		run = i;
	}
	strbuf__add(sb, str + run, i - run);
	strbuf__addc(sb, '"');
}

static bool term_invisible(int32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c ||
	       cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

static void add_hex_byte(struct strbuf *sb, unsigned char c)
{
	char esc[4] = { '\\', 'x', hexdig[c >> 4], hexdig[c & 15] };

	strbuf__add(sb, esc, 4);
}

void escape__term(struct strbuf *sb, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0, k = 1, j;
	int32_t cp;

	if (!s)
		return;
	while (i < n) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			k = escape__utf8_next(s + i, n - i, &cp);
			if (cp >= 0 && !term_invisible(cp)) {
				i += k;
				continue;
			}
		}
		strbuf__add(sb, str + run, i - run);
		if (c < 0x80) {
			if (c == '\n')
				strbuf__add(sb, "\\n", 2);
			else if (c == '\t')
				strbuf__add(sb, "\\t", 2);
			else if (c == '\r')
				strbuf__add(sb, "\\r", 2);
			else
				add_hex_byte(sb, c);
			k = 1;
		} else if (cp >= 0) {
			strbuf__addf(sb, "\\u%04x", (unsigned)cp);
		} else {
			for (j = 0; j < k; j++)
				add_hex_byte(sb, s[i + j]);
		}
		i += k;
		run = i;
	}
	strbuf__add(sb, str + run, i - run);
}
