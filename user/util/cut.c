// SPDX-License-Identifier: BSD-2-Clause
#include <string.h>
#include "util/cut.h"

/* The largest length <= at that does not split a UTF-8 character of s. */
static size_t boundary(const char *s, size_t at)
{
	while (at > 0 && ((unsigned char)s[at] & 0xc0) == 0x80)
		at--;
	return at;
}

void cut__mark(char *dst, size_t sz)
{
	size_t len;

	if (sz < CUT_MARK_LEN + 1)
		return;
	len = strnlen(dst, sz - 1);
	if (len + CUT_MARK_LEN > sz - 1)
		len = boundary(dst, sz - 1 - CUT_MARK_LEN);
	memcpy(dst + len, CUT_MARK, CUT_MARK_LEN);
	dst[len + CUT_MARK_LEN] = '\0';
}

bool cut__copyn(char *dst, size_t sz, const char *src, size_t n)
{
	size_t len = strnlen(src, n);

	if (!sz)
		return len > 0;
	if (len < sz) {
		memcpy(dst, src, len);
		dst[len] = '\0';
		return false;
	}
	/* it does not fit: what does, up to a character's start, then the mark */
	len = sz - 1;
	if (sz >= CUT_MARK_LEN + 1)
		len = boundary(src, sz - 1 - CUT_MARK_LEN);
	else
		len = boundary(src, len);
	memcpy(dst, src, len);
	dst[len] = '\0';
	cut__mark(dst, sz);
	return true;
}

bool cut__copy(char *dst, size_t sz, const char *src)
{
	return cut__copyn(dst, sz, src, (size_t)-1);
}
