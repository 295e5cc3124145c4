/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Interpreter files parsed, by the identity of the file (device, inode,
 * size, modification and change times): the processes of one interpreter
 * (gunicorn's workers, a flood of copies of one file) have it parsed once,
 * and a file libelf cannot read is not tried again. Bounded: at most `max`
 * files (each parsed one keeps a descriptor of its own), the least recently
 * used forgotten.
 */
#ifndef ST_ELFCACHE_H
#define ST_ELFCACHE_H
#include <stdint.h>
#include <sys/types.h>

struct elfsym;
struct elfcache;

struct elfcache_key {
	dev_t dev;
	ino_t ino;
	int64_t size, mtime_ns, ctime_ns;
};

struct elfcache_stats {
	unsigned long long hits, parses, evictions;
};

struct elfcache *elfcache__new(unsigned max);
void elfcache__free(struct elfcache *c);
/*
 * The parsed file whose identity is k, from fd (an open descriptor of
 * it): cached, or parsed now. NULL with errno when it cannot be parsed
 * (remembered too). The cache owns it; it stays valid until the next call.
 */
const struct elfsym *elfcache__get(struct elfcache *c, const struct elfcache_key *k, int fd);
void elfcache__stats(const struct elfcache *c, struct elfcache_stats *out);

#endif
