// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sink/jsonlog.h"
#include "util/log.h"

struct jsonlog {
	char path[PATH_MAX];
	unsigned long long max_size, size;
	unsigned keep;
	int fd;
};

static int open_file(struct jsonlog *l, char *err, size_t errsz)
{
	struct stat sb;
	/* O_NONBLOCK: a FIFO planted at the path must not block us; cleared below */
	int fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
		      O_NONBLOCK, 0600);

	if (fd < 0) {
		int e = errno;

		if (err && e == ENXIO) /* a FIFO nobody reads */
			snprintf(err, errsz, "%s is not a regular file", l->path);
		else if (err)
			snprintf(err, errsz, "cannot open %s: %s", l->path, strerror(e));
		return -e;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		if (err)
			snprintf(err, errsz, "%s is not a regular file", l->path);
		close(fd);
		return -EINVAL;
	}
	/* someone else's file: they could read, truncate or swap what we write */
	if (sb.st_uid != geteuid()) {
		if (err)
			snprintf(err, errsz, "%s is owned by uid %u, not by this user (uid %u): "
				 "refusing to write records to it", l->path, (unsigned)sb.st_uid,
				 (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	if (fcntl(fd, F_SETFL, O_APPEND) < 0) {
		int e = errno;

		if (err)
			snprintf(err, errsz, "cannot use %s: %s", l->path, strerror(e));
		close(fd);
		return -e;
	}
	if (sb.st_mode & 077)
		pr_warn("%s is readable by others (mode %03o); records contain request paths\n",
			l->path, sb.st_mode & 0777);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = fd;
	l->size = sb.st_size;
	return 0;
}

struct jsonlog *jsonlog__open(const char *path, unsigned long long max_size, unsigned keep,
			      char *err, size_t errsz)
{
	struct jsonlog *l = calloc(1, sizeof(*l));

	if (!l) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	/* room for ".<keep>" */
	if (strlen(path) + 8 >= sizeof(l->path)) {
		snprintf(err, errsz, "records path too long");
		free(l);
		return NULL;
	}
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->max_size = max_size;
	l->keep = keep ? keep : 1;
	l->fd = -1;
	if (open_file(l, err, errsz)) {
		free(l);
		return NULL;
	}
	return l;
}

/* FILE.(keep-1) -> FILE.keep, ..., FILE -> FILE.1, then a new FILE. */
static int rotate(struct jsonlog *l)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 16];
	unsigned i;
	int err;

	for (i = l->keep; i > 1; i--) {
		snprintf(from, sizeof(from), "%s.%u", l->path, i - 1);
		snprintf(to, sizeof(to), "%s.%u", l->path, i);
		if (rename(from, to) && errno != ENOENT)
			return -errno;
	}
	snprintf(to, sizeof(to), "%s.1", l->path);
	if (rename(l->path, to) && errno != ENOENT)
		return -errno;
	err = open_file(l, NULL, 0);
	return err;
}

int jsonlog__write(struct jsonlog *l, const char *buf, size_t len)
{
	ssize_t n;
	int err;

	if (l->fd < 0 && (err = open_file(l, NULL, 0)))
		return err;
	if (l->max_size && l->size && l->size + len > l->max_size && (err = rotate(l)))
		return err;
	do
		n = write(l->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len) {
		l->size += len;
		return 0;
	}
	err = n < 0 ? -errno : -ENOSPC;
	/* a short write: take the partial line back, the next record starts clean */
	if (n > 0 && ftruncate(l->fd, (off_t)l->size))
		pr_debug("ftruncate %s: %s\n", l->path, strerror(errno));
	return err;
}

int jsonlog__reopen(struct jsonlog *l)
{
	return open_file(l, NULL, 0);
}

void jsonlog__close(struct jsonlog *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

int jsonlog__parse_size(const char *s, unsigned long long *out)
{
	unsigned long long v = 0, mul = 1;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (ULLONG_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	switch (*p) {
	case 0:
		break;
	case 'k': case 'K':
		mul = 1ULL << 10;
		break;
	case 'm': case 'M':
		mul = 1ULL << 20;
		break;
	case 'g': case 'G':
		mul = 1ULL << 30;
		break;
	default:
		return -EINVAL;
	}
	if (*p && p[1])
		return -EINVAL;
	if (v == 0 || v > ULLONG_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}
