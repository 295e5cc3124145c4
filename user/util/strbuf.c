// SPDX-License-Identifier: BSD-2-Clause
/* A growable string buffer. See strbuf.h. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

#define STRBUF_MIN_CAP 64

void strbuf__init(struct strbuf *sb)
{
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->oom = false;
}

void strbuf__free(struct strbuf *sb)
{
	free(sb->buf);
	strbuf__init(sb);
}

void strbuf__reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->oom = false;
	if (sb->buf)
		sb->buf[0] = '\0';
}

/* Make room for @extra more bytes plus the NUL. false (and oom) on failure. */
static bool strbuf__grow(struct strbuf *sb, size_t extra)
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

void strbuf__add(struct strbuf *sb, const char *s, size_t n)
{
	if (!n || !s)
		return;
	if (!strbuf__grow(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void strbuf__addc(struct strbuf *sb, char c)
{
	if (!strbuf__grow(sb, 1))
		return;
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

void strbuf__addf(struct strbuf *sb, const char *fmt, ...)
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
	} else if (strbuf__grow(sb, (size_t)n)) {
		if (vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap2) == n)
			sb->len += n;
		else
			sb->oom = true;
		sb->buf[sb->len] = '\0';
	}
	va_end(ap2);
}
