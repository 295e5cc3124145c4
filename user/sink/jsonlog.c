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
	struct jsonlog_files files; /* delegated: another process opens and rotates */
	bool delegated;
};

/* path opened for appending, checked: a regular file of ours, one name. */
static int open_checked(const char *path, int *out, char *err, size_t errsz)
{
	struct stat sb;
	/* O_NONBLOCK: a FIFO planted at the path must not block us; cleared below */
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
		      O_NONBLOCK, 0600);

	if (fd < 0) {
		int e = errno;

		if (err && e == ENXIO) /* a FIFO nobody reads */
			snprintf(err, errsz, "%s is not a regular file", path);
		else if (err)
			snprintf(err, errsz, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		if (err)
			snprintf(err, errsz, "%s is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	/* someone else's file: they could read, truncate or swap what we write */
	if (sb.st_uid != geteuid()) {
		if (err)
			snprintf(err, errsz, "%s is owned by uid %u, not by this user (uid %u): "
				 "refusing to write records to it", path, (unsigned)sb.st_uid,
				 (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	/* a second name elsewhere (a hard link planted by someone who could write there) */
	if (sb.st_nlink != 1) {
		if (err)
			snprintf(err, errsz, "%s has %lu names (hard links): refusing to write "
				 "records to it", path, (unsigned long)sb.st_nlink);
		close(fd);
		return -EMLINK;
	}
	if (fcntl(fd, F_SETFL, O_APPEND) < 0) {
		int e = errno;

		if (err)
			snprintf(err, errsz, "cannot use %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	if (sb.st_mode & 077)
		pr_warn("%s is readable by others (mode %03o); records contain request paths\n",
			path, sb.st_mode & 0777);
	*out = fd;
	return 0;
}

int jsonlog__open_path(const char *path, unsigned keep, bool rotate, int *fd, char *err,
		       size_t errsz)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 16];
	unsigned i;

	if (rotate) {
		/* FILE.(keep-1) -> FILE.keep, ..., FILE -> FILE.1, then a new FILE */
		for (i = keep ? keep : 1; i > 1; i--) {
			snprintf(from, sizeof(from), "%s.%u", path, i - 1);
			snprintf(to, sizeof(to), "%s.%u", path, i);
			if (rename(from, to) && errno != ENOENT)
				return -errno;
		}
		snprintf(to, sizeof(to), "%s.1", path);
		if (rename(path, to) && errno != ENOENT)
			return -errno;
	}
	return open_checked(path, fd, err, errsz);
}

/* A new descriptor of the path (rotating first when asked), by us or by delegation. */
static int open_file(struct jsonlog *l, bool rotate, char *err, size_t errsz)
{
	struct stat sb;
	int fd = -1, ret;

	ret = l->delegated ? l->files.open(l->files.ctx, rotate, &fd) :
			     jsonlog__open_path(l->path, l->keep, rotate, &fd, err, errsz);
	if (ret)
		return ret;
	if (fstat(fd, &sb)) {
		ret = -errno;
		close(fd);
		return ret;
	}
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
	if (open_file(l, false, err, errsz)) {
		free(l);
		return NULL;
	}
	return l;
}

void jsonlog__delegate(struct jsonlog *l, const struct jsonlog_files *files)
{
	l->files = *files;
	l->delegated = true;
}

int jsonlog__write(struct jsonlog *l, const char *buf, size_t len)
{
	ssize_t n;
	int err;

	if (l->fd < 0 && (err = open_file(l, false, NULL, 0)))
		return err;
	if (l->max_size && l->size && l->size + len > l->max_size &&
	    (err = open_file(l, true, NULL, 0)))
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
	return open_file(l, false, NULL, 0);
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
