// SPDX-License-Identifier: BSD-2-Clause
/*
 * The cache of parsed interpreter files (user/resolve/elfcache.c): a file
 * is parsed once per identity, a changed identity (size, mtime, ctime) is
 * parsed again, a file libelf cannot read is not tried twice, and the least
 * recently used goes past the bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "resolve/elfcache.h"
#include "resolve/elfsym.h"

static int open_key(const char *path, struct elfcache_key *k)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	*k = (struct elfcache_key){ .dev = sb.st_dev, .ino = sb.st_ino, .size = sb.st_size,
				    .mtime_ns = sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec,
				    .ctime_ns = sb.st_ctim.tv_sec * 1000000000LL + sb.st_ctim.tv_nsec };
	return fd;
}

static void test_once_per_identity(void **state)
{
	struct elfcache *c = elfcache__new(4);
	struct elfcache_stats st;
	struct elfcache_key k, changed;
	const struct elfsym *a, *b, *d;
	struct elfsym_info si;
	int fd = open_key("/proc/self/exe", &k);

	assert_non_null(c);
	a = elfcache__get(c, &k, fd);
	b = elfcache__get(c, &k, fd);
	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_int_equal(elfsym__find(a, "main", &si), 0);
	elfcache__stats(c, &st);
	assert_int_equal(st.parses, 1);
	assert_int_equal(st.hits, 1);
	/* the same inode rewritten: a new change time is a new file */
	changed = k;
	changed.ctime_ns++;
	d = elfcache__get(c, &changed, fd);
	assert_non_null(d);
	assert_ptr_not_equal(d, a);
	elfcache__stats(c, &st);
	assert_int_equal(st.parses, 2);
	close(fd);
	elfcache__free(c);
}

static void test_unreadable_remembered(void **state)
{
	char path[] = "/tmp/st-elfcache-XXXXXX";
	struct elfcache *c = elfcache__new(4);
	struct elfcache_stats st;
	struct elfcache_key k;
	int tmp = mkstemp(path), fd;

	assert_true(tmp >= 0);
	assert_int_equal(write(tmp, "\x7f" "ELF garbage", 12), 12);
	close(tmp);
	fd = open_key(path, &k);
	unlink(path);
	errno = 0;
	assert_null(elfcache__get(c, &k, fd));
	assert_int_not_equal(errno, 0);
	errno = 0;
	assert_null(elfcache__get(c, &k, fd));
	assert_int_not_equal(errno, 0);
	elfcache__stats(c, &st);
	assert_int_equal(st.parses, 1);
	assert_int_equal(st.hits, 1);
	close(fd);
	elfcache__free(c);
}

static void test_bounded_lru(void **state)
{
	struct elfcache *c = elfcache__new(2);
	struct elfcache_stats st;
	struct elfcache_key k[3];
	int fd = open_key("/proc/self/exe", &k[0]);

	assert_non_null(c);
	k[1] = k[2] = k[0];
	k[1].mtime_ns++;
	k[2].mtime_ns += 2;
	assert_non_null(elfcache__get(c, &k[0], fd));
	assert_non_null(elfcache__get(c, &k[1], fd));
	assert_non_null(elfcache__get(c, &k[0], fd)); /* k[1] is now the least recently used */
	assert_non_null(elfcache__get(c, &k[2], fd)); /* evicts k[1] */
	assert_non_null(elfcache__get(c, &k[0], fd)); /* still there */
	elfcache__stats(c, &st);
	assert_int_equal(st.parses, 3);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.hits, 2);
	assert_non_null(elfcache__get(c, &k[1], fd)); /* parsed again */
	elfcache__stats(c, &st);
	assert_int_equal(st.parses, 4);
	close(fd);
	elfcache__free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once_per_identity),
		cmocka_unit_test(test_unreadable_remembered),
		cmocka_unit_test(test_bounded_lru),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
