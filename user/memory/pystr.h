/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Conversion of the raw character data of a CPython str (PEP 393 compact
 * representation) copied out of a foreign process into UTF-8.
 */
#ifndef ST_PYSTR_H
#define ST_PYSTR_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Convert @nbytes bytes of str data of the given PEP 393 @kind to UTF-8.
 *
 * @kind: 1 (latin-1, one byte per character), 2 (UCS-2, little-endian u16)
 *        or 4 (UCS-4, little-endian u32).
 * @out/@outsz: destination; @outsz counts the terminating NUL. The output
 *        is always NUL-terminated when @outsz > 0; nothing is written when
 *        @outsz == 0 (or @out is NULL).
 * @truncated: set to true (never to false: the caller initialises it) when
 *        the output is incomplete: @out too small (the output then stops at
 *        a character boundary), a trailing partial character in @data
 *        (@nbytes not a multiple of @kind; it is ignored), @data NULL with
 *        @nbytes > 0, or an unknown @kind. May be NULL.
 *
 * Surrogates (U+D800..U+DFFF, always "lone" in a str: CPython never pairs
 * them) and values above U+10FFFF are replaced by U+FFFD. U+0000 is kept
 * as a 0x00 byte: use the returned length, not strlen(), to find the end.
 *
 * Returns the number of bytes written to @out, excluding the NUL.
 */
size_t pystr__to_utf8(const void *data, size_t nbytes, unsigned kind,
		     char *out, size_t outsz, bool *truncated);

#endif /* ST_PYSTR_H */
