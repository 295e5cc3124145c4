/* SPDX-License-Identifier: BSD-2-Clause */
/* Character classes of the ids targets and clients send (locale-free). */
#ifndef ST_ASCII_H
#define ST_ASCII_H
#include <stdbool.h>
#include <stddef.h>

/* 0-9 or a-f: how container ids, pod UIDs and trace ids are written. */
static inline bool ascii__lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* s[0..n) are all lower-case hex digits. */
static inline bool ascii__lower_hex_n(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!ascii__lower_hex(s[i]))
			return false;
	return true;
}

#endif
