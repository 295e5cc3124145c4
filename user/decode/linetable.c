// SPDX-License-Identifier: BSD-2-Clause
/*
 * co_linetable decoding, after CPython's Objects/codeobject.c
 * (PyCode_Addr2Line, _PyCode_CheckLineNumber, advance, scan_varint) for
 * 3.10 and 3.11+, made safe for untrusted input. See linetable.h.
 */
#include <limits.h>
#include <stdbool.h>

#include "decode/linetable.h"

/* 3.11+ location entry kinds (Include/cpython/code.h) */
enum {
	LOC_ONE_LINE0 = 10,
	LOC_ONE_LINE1 = 11,
	LOC_ONE_LINE2 = 12,
	LOC_NO_COLUMNS = 13,
	LOC_LONG = 14,
	LOC_NONE = 15,
};

#define VARINT_MAX_SHIFT 30	/* 6 bytes: 36 bits, as many as a u32 needs */

/*
 * scan_varint(): 6-bit little-endian groups, bit 6 = more follow. Bit 7 is
 * not looked at (as in CPython). false if it runs past @len or is too long.
 */
static bool read_varint(const uint8_t *p, size_t len, size_t *pos,
			uint32_t *out)
{
	unsigned int shift = 0;
	uint32_t val;
	uint8_t b;

	if (*pos >= len)
		return false;
	b = p[(*pos)++];
	val = b & 63;
	while (b & 64) {
		if (*pos >= len)
			return false;
		shift += 6;
		if (shift > VARINT_MAX_SHIFT)
			return false;
		b = p[(*pos)++];
		val |= (uint32_t)(b & 63) << shift;
	}
	*out = val;
	return true;
}

/*
 * scan_signed_varint(): sign and magnitude, bit 0 is the sign (not zig-zag:
 * 1 decodes to -0).
 */
static bool read_svarint(const uint8_t *p, size_t len, size_t pos,
			 int64_t *out)
{
	uint32_t uval;

	if (!read_varint(p, len, &pos, &uval))
		return false;
	if (uval & 1)
		*out = -(int64_t)(uval >> 1);
	else
		*out = uval >> 1;
	return true;
}

static bool line_ok(int64_t line)
{
	return line >= INT_MIN && line <= INT_MAX;
}

static int addr2line_311(const uint8_t *p, size_t len, int64_t line,
			 int64_t addrq)
{
	int64_t start = 0, end, delta;
	size_t i = 0;

	if (!len || !(p[0] & 0x80))
		return -1;
	while (i < len) {
		uint8_t b = p[i];
		int code = (b >> 3) & 15;

		/* next_code_delta(): length in code units, minus one */
		end = start + ((b & 7) + 1) * 2;
		switch (code) {
		case LOC_NO_COLUMNS:
		case LOC_LONG:
			if (!read_svarint(p, len, i + 1, &delta))
				return -1;
			break;
		case LOC_ONE_LINE0:
		case LOC_ONE_LINE1:
		case LOC_ONE_LINE2:
			delta = code - LOC_ONE_LINE0;
			break;
		default:	/* short forms 0-9 and NONE: same line */
			delta = 0;
			break;
		}
		line += delta;
		if (!line_ok(line))
			return -1;
		if (addrq < end)
			return code == LOC_NONE ? -1 : (int)line;
		start = end;
		/* advance(): the next entry starts at the next byte with bit 7 */
		do
			i++;
		while (i < len && !(p[i] & 0x80));
	}
	return -1;
}

static int addr2line_310(const uint8_t *p, size_t len, int64_t line,
			 int64_t addrq)
{
	int64_t end = 0;
	size_t i;

	/* a trailing odd byte is not a pair: ignored */
	for (i = 0; i + 1 < len; i += 2) {
		uint8_t sdelta = p[i];
		int8_t ldelta = (int8_t)p[i + 1];

		if (ldelta != -128) {
			line += ldelta;
			if (!line_ok(line))
				return -1;
		}
		/*
		 * Empty ranges (sdelta 0: a line jump of more than 127 split
		 * in pieces) are merged into the next one, whose line wins.
		 */
		end += sdelta;
		if (sdelta && addrq < end)
			return ldelta == -128 ? -1 : (int)line;
	}
	return -1;
}

int linetable__addr2line(unsigned version_hex, const uint8_t *table, size_t len,
			int firstlineno, int addrq)
{
	unsigned major = (version_hex >> 24) & 0xff;
	unsigned minor = (version_hex >> 16) & 0xff;

	if (major != 3 || minor < 10 || minor > 15)
		return -1;
	if (addrq < 0)
		return firstlineno;
	if (!table)
		len = 0;
	if (minor == 10)
		return addr2line_310(table, len, firstlineno, addrq);
	return addr2line_311(table, len, firstlineno, addrq);
}
