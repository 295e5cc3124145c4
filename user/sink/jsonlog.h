/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The forensic records file: one JSON object per line, appended with a
 * single write() each (O_APPEND), created 0600, never truncated. With a
 * size limit it rotates FILE -> FILE.1 -> ... -> FILE.<keep> before a record
 * would pass it (a record is never split across files); reopen() follows a
 * logrotate-style move (SIGHUP). A failed write (disk full) leaves no partial
 * line behind and is retried with the next record.
 */
#ifndef ST_JSONLOG_H
#define ST_JSONLOG_H
#include <stddef.h>

#define JSONLOG_DEFAULT_KEEP 5
#define JSONLOG_MAX_KEEP     1000

struct jsonlog;

/* max_size 0: no rotation. NULL with a one-line reason in err. */
struct jsonlog *jsonlog__open(const char *path, unsigned long long max_size, unsigned keep,
			      char *err, size_t errsz);
/* Append one record (ending in '\n'). 0 or -errno. */
int jsonlog__write(struct jsonlog *l, const char *buf, size_t len);
/* Close and open the path again (it may have been moved away). 0 or -errno. */
int jsonlog__reopen(struct jsonlog *l);
void jsonlog__close(struct jsonlog *l);

/* "64M", "512k", "1G", "4096": bytes; 0 or -EINVAL (also for 0 and overflow). */
int jsonlog__parse_size(const char *s, unsigned long long *out);

#endif
