/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Bounded copies that say they were cut: a string that does not fit its
 * buffer ends in "…" (U+2026), cut at a UTF-8 character boundary, so that
 * whoever reads a record, the console or a metric label sees that the name
 * goes on (a class defined inside a function by an instrumentation library
 * has a qualname longer than any bound).
 */
#ifndef ST_CUT_H
#define ST_CUT_H
#include <stdbool.h>
#include <stddef.h>

#define CUT_MARK "\xe2\x80\xa6" /* U+2026 HORIZONTAL ELLIPSIS */
#define CUT_MARK_LEN 3

/*
 * src into dst (sz bytes with the NUL): all of it, or as much as fits with
 * the mark after it. true when cut. sz 0 writes nothing; below
 * CUT_MARK_LEN + 1 a cut string has no room for the mark and is only cut.
 */
bool cut__copy(char *dst, size_t sz, const char *src);
/* The same for the n bytes at src (NULs in them end the string). */
bool cut__copyn(char *dst, size_t sz, const char *src, size_t n);
/* dst (a string in sz bytes) was cut before it got here: end it with the mark. */
void cut__mark(char *dst, size_t sz);

#endif
