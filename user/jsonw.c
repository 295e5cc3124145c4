// SPDX-License-Identifier: BSD-2-Clause
/* Growable string buffer and JSON / terminal escapers. See jsonw.h. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

#define STRBUF_MIN_CAP 64

void strbuf_init(struct strbuf *sb)
{
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->oom = false;
}

void strbuf_free(struct strbuf *sb)
{
	free(sb->buf);
	strbuf_init(sb);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->oom = false;
	if (sb->buf)
		sb->buf[0] = '\0';
}

/* Make room for @extra more bytes plus the NUL. false (and oom) on failure. */
static bool strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *p;

	if (sb->oom)
		return false;
	/* no object can be larger than PTRDIFF_MAX */
	if (extra > (size_t)PTRDIFF_MAX - 1 - sb->len)
		goto oom;
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : STRBUF_MIN_CAP;
	while (cap < need) {
		if (cap > (size_t)PTRDIFF_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	p = realloc(sb->buf, cap);
	if (!p)
		goto oom;
	if (!sb->buf)
		p[0] = '\0';
	sb->buf = p;
	sb->cap = cap;
	return true;
oom:
	sb->oom = true;
	return false;
}

void strbuf_add(struct strbuf *sb, const char *s, size_t n)
{
	if (!n || !s)
		return;
	if (!strbuf_grow(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void strbuf_addc(struct strbuf *sb, char c)
{
	if (!strbuf_grow(sb, 1))
		return;
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;

	if (sb->oom)
		return;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->oom = true;
	} else if (strbuf_grow(sb, (size_t)n)) {
		if (vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap2) == n)
			sb->len += n;
		else
			sb->oom = true;
		sb->buf[sb->len] = '\0';
	}
	va_end(ap2);
}

size_t utf8_next(const unsigned char *s, size_t n, int32_t *cp)
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

void json_add_str(struct strbuf *sb, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0, k = 1;
	char esc[6];
	int32_t cp;

	if (!s) {
		strbuf_add(sb, "null", 4);
		return;
	}
	strbuf_addc(sb, '"');
	while (i < n) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80) {
			k = utf8_next(s + i, n - i, &cp);
			if (cp >= 0) {
				i += k;
				continue;
			}
		}
		/* flush the pass-through run before s[i] */
		strbuf_add(sb, str + run, i - run);
		if (c >= 0x80) {
			strbuf_add(sb, "\\ufffd", 6);
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
			strbuf_add(sb, esc, 2);
		} else {
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hexdig[c >> 4];
			esc[5] = hexdig[c & 15];
			strbuf_add(sb, esc, 6);
		}
		i++;
		run = i;
	}
	strbuf_add(sb, str + run, i - run);
	strbuf_addc(sb, '"');
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

	strbuf_add(sb, esc, 4);
}

void term_add_str(struct strbuf *sb, const char *str, size_t n)
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
			k = utf8_next(s + i, n - i, &cp);
			if (cp >= 0 && !term_invisible(cp)) {
				i += k;
				continue;
			}
		}
		strbuf_add(sb, str + run, i - run);
		if (c < 0x80) {
			if (c == '\n')
				strbuf_add(sb, "\\n", 2);
			else if (c == '\t')
				strbuf_add(sb, "\\t", 2);
			else if (c == '\r')
				strbuf_add(sb, "\\r", 2);
			else
				add_hex_byte(sb, c);
			k = 1;
		} else if (cp >= 0) {
			strbuf_addf(sb, "\\u%04x", (unsigned)cp);
		} else {
			for (j = 0; j < k; j++)
				add_hex_byte(sb, s[i + j]);
		}
		i += k;
		run = i;
	}
	strbuf_add(sb, str + run, i - run);
}
