// SPDX-License-Identifier: BSD-2-Clause
/* CPython str data (latin-1 / UCS-2 / UCS-4) to UTF-8. See pystr.h. */
#include <stdint.h>
#include <string.h>

#include "memory/pystr.h"

static void set_truncated(bool *truncated)
{
	if (truncated)
		*truncated = true;
}

/* Encode @cp into @buf (4 bytes); returns the length. */
static size_t utf8_encode(uint32_t cp, unsigned char *buf)
{
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x80) {
		buf[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = 0xc0 | (cp >> 6);
		buf[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = 0xe0 | (cp >> 12);
		buf[1] = 0x80 | ((cp >> 6) & 0x3f);
		buf[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	buf[0] = 0xf0 | (cp >> 18);
	buf[1] = 0x80 | ((cp >> 12) & 0x3f);
	buf[2] = 0x80 | ((cp >> 6) & 0x3f);
	buf[3] = 0x80 | (cp & 0x3f);
	return 4;
}

size_t pystr__to_utf8(const void *data, size_t nbytes, unsigned kind,
		     char *out, size_t outsz, bool *truncated)
{
	const unsigned char *p = data;
	unsigned char enc[4];
	size_t i, n, nchars, len = 0;
	uint32_t cp;

	if (!out)
		outsz = 0;
	if (kind != 1 && kind != 2 && kind != 4) {
		set_truncated(truncated);
		if (outsz)
			out[0] = '\0';
		return 0;
	}
	if (!p && nbytes) {
		set_truncated(truncated);
		nbytes = 0;
	}
	if (!outsz) {
		if (nbytes)
			set_truncated(truncated);
		return 0;
	}
	if (nbytes % kind)
		set_truncated(truncated);
	nchars = nbytes / kind;

	for (i = 0; i < nchars; i++) {
		const unsigned char *c = p + i * kind;

		switch (kind) {
		case 1:
			cp = c[0];
			break;
		case 2:
			cp = (uint32_t)c[0] | (uint32_t)c[1] << 8;
			break;
		default:
			cp = (uint32_t)c[0] | (uint32_t)c[1] << 8 |
			     (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
			break;
		}
		n = utf8_encode(cp, enc);
		/* len <= outsz - 1 always holds: room for the NUL */
		if (n > outsz - 1 - len) {
			set_truncated(truncated);
			break;
		}
		memcpy(out + len, enc, n);
		len += n;
	}
	out[len] = '\0';
	return len;
}
