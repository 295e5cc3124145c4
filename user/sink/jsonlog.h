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
#include <stdbool.h>
#include <stddef.h>

#define JSONLOG_DEFAULT_KEEP 5
#define JSONLOG_MAX_KEEP     1000

struct jsonlog;

/*
 * Who opens the file and rotates it, when not this process (the decoding
 * child, which may open nothing, asks the parent): open returns a new
 * descriptor of the path in *fd, after rotating the files first when
 * rotate; 0 or -errno.
 */
struct jsonlog_files {
	int (*open)(void *ctx, bool rotate, int *fd);
	void *ctx;
};

/*
 * The path half: a descriptor of path for appending (created 0600; refused
 * unless it is a regular file of this user with one name), after rotating
 * FILE -> FILE.1 -> ... -> FILE.<keep> when rotate. 0 or -errno, with a
 * sentence in err when err is not NULL.
 */
int jsonlog__open_path(const char *path, unsigned keep, bool rotate, int *fd, char *err,
		       size_t errsz);
/* max_size 0: no rotation. NULL with a one-line reason in err. */
struct jsonlog *jsonlog__open(const char *path, unsigned long long max_size, unsigned keep,
			      char *err, size_t errsz);
/* Append one record (ending in '\n'). 0 or -errno. */
int jsonlog__write(struct jsonlog *l, const char *buf, size_t len);
/* Close and open the path again (it may have been moved away). 0 or -errno. */
int jsonlog__reopen(struct jsonlog *l);
/* From now on, opening and rotating are files' (the descriptor in use stays). */
void jsonlog__delegate(struct jsonlog *l, const struct jsonlog_files *files);
void jsonlog__close(struct jsonlog *l);

/* "64M", "512k", "1G", "4096": bytes; 0 or -EINVAL (also for 0 and overflow). */
int jsonlog__parse_size(const char *s, unsigned long long *out);

#endif
