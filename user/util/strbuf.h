/* SPDX-License-Identifier: BSD-2-Clause */
/* A small growable string buffer that remembers a failed append. */
#ifndef ST_STRBUF_H
#define ST_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * @buf is NULL until the first append, and always NUL-terminated after it.
 * @len excludes the NUL. @oom is set when an append could not be done
 * (allocation failure, size overflow, or a vsnprintf() error); from then on
 * every append is a no-op until strbuf__reset()/strbuf__free(), so the
 * contents never silently miss a middle part.
 */
struct strbuf {
	char *buf;
	size_t len, cap;
	bool oom;
};

/* An empty buffer; allocates nothing until the first add. */
void strbuf__init(struct strbuf *sb);
/* Free the memory; @sb is left as after strbuf__init(). */
void strbuf__free(struct strbuf *sb);
/* Empty the buffer (keeps the allocation) and clear @oom. */
void strbuf__reset(struct strbuf *sb);
/* Append @n bytes of @s (which may contain NULs). */
void strbuf__add(struct strbuf *sb, const char *s, size_t n);
void strbuf__addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf__addc(struct strbuf *sb, char c);
/* Append a string literal (its length known at compile time). */
#define strbuf__addlit(sb, lit) strbuf__add(sb, lit, sizeof(lit) - 1)

#endif
