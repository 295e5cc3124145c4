// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "resolve/elfcache.h"
#include "resolve/elfsym.h"

struct entry {
	struct elfcache_key k;
	struct elfsym *e;          /* NULL: it could not be parsed, */
	int err;                   /* for this errno */
	unsigned long long used;   /* the cache's clock when last asked for */
};

struct elfcache {
	unsigned max, n;
	unsigned long long clock;
	struct elfcache_stats stats;
	struct entry v[];
};

struct elfcache *elfcache__new(unsigned max)
{
	struct elfcache *c = calloc(1, sizeof(*c) + (size_t)(max ? max : 1) * sizeof(c->v[0]));

	if (c)
		c->max = max ? max : 1;
	return c;
}

void elfcache__free(struct elfcache *c)
{
	unsigned i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		elfsym__free(c->v[i].e);
	free(c);
}

static int same(const struct elfcache_key *a, const struct elfcache_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

const struct elfsym *elfcache__get(struct elfcache *c, const struct elfcache_key *k, int fd)
{
	struct entry *slot = NULL;
	unsigned i;

	c->clock++;
	for (i = 0; i < c->n; i++) {
		if (!same(&c->v[i].k, k))
			continue;
		c->v[i].used = c->clock;
		c->stats.hits++;
		errno = c->v[i].err;
		return c->v[i].e;
	}
	if (c->n < c->max) {
		slot = &c->v[c->n++];
	} else {
		slot = &c->v[0];
		for (i = 1; i < c->n; i++)
			if (c->v[i].used < slot->used)
				slot = &c->v[i];
		elfsym__free(slot->e);
		c->stats.evictions++;
	}
	memset(slot, 0, sizeof(*slot));
	slot->k = *k;
	slot->used = c->clock;
	slot->e = elfsym__open_fd(fd);
	slot->err = slot->e ? 0 : (errno ? errno : EINVAL);
	c->stats.parses++;
	errno = slot->err;
	return slot->e;
}

void elfcache__stats(const struct elfcache *c, struct elfcache_stats *out)
{
	*out = c->stats;
}
