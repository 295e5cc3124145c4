// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "util/hashmap.h"

#define MIN_BITS 4

void hashmap__init(struct hashmap *m, hashmap_hash_fn hash, hashmap_equal_fn equal, void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->hash = hash;
	m->equal = equal;
	m->ctx = ctx;
}

void hashmap__clear(struct hashmap *m)
{
	struct hashmap_entry *e, *next;
	size_t b;

	for (b = 0; m->buckets && b < ((size_t)1 << m->cap_bits); b++)
		for (e = m->buckets[b]; e; e = next) {
			next = e->next;
			free(e);
		}
	free(m->buckets);
	m->buckets = NULL;
	m->cap_bits = 0;
	m->size = 0;
}

static size_t bucket(const struct hashmap *m, uintptr_t key)
{
	/* Fibonacci hashing: the top bits of the product */
	return m->cap_bits ? (size_t)((m->hash(key, m->ctx) * 0x9E3779B97F4A7C15ULL) >>
				      (64 - m->cap_bits)) : 0;
}

static int grow(struct hashmap *m)
{
	size_t bits = m->cap_bits ? m->cap_bits + 1 : MIN_BITS, b, old = m->cap_bits;
	struct hashmap_entry **nb = calloc((size_t)1 << bits, sizeof(*nb)), **ob = m->buckets;
	struct hashmap_entry *e, *next;

	if (!nb)
		return -ENOMEM;
	m->buckets = nb;
	m->cap_bits = bits;
	for (b = 0; ob && b < ((size_t)1 << old); b++)
		for (e = ob[b]; e; e = next) {
			size_t h = bucket(m, e->key);

			next = e->next;
			e->next = nb[h];
			nb[h] = e;
		}
	free(ob);
	return 0;
}

static struct hashmap_entry **find_slot(const struct hashmap *m, uintptr_t key)
{
	struct hashmap_entry **p;

	if (!m->buckets)
		return NULL;
	for (p = &m->buckets[bucket(m, key)]; *p; p = &(*p)->next)
		if (m->equal((*p)->key, key, m->ctx))
			return p;
	return NULL;
}

int hashmap__set(struct hashmap *m, uintptr_t key, uintptr_t value)
{
	struct hashmap_entry **p = find_slot(m, key), *e;
	size_t h;

	if (p) {
		(*p)->value = value;
		return 0;
	}
	if ((m->size + 1) * 4 > ((size_t)3 << m->cap_bits) || !m->buckets) {
		int err = grow(m);

		if (err)
			return err;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	h = bucket(m, key);
	e->key = key;
	e->value = value;
	e->next = m->buckets[h];
	m->buckets[h] = e;
	m->size++;
	return 0;
}

bool hashmap__find(const struct hashmap *m, uintptr_t key, uintptr_t *value)
{
	struct hashmap_entry **p = find_slot(m, key);

	if (!p)
		return false;
	if (value)
		*value = (*p)->value;
	return true;
}

bool hashmap__delete(struct hashmap *m, uintptr_t key, uintptr_t *old_key, uintptr_t *old_value)
{
	struct hashmap_entry **p = find_slot(m, key), *e;

	if (!p)
		return false;
	e = *p;
	*p = e->next;
	if (old_key)
		*old_key = e->key;
	if (old_value)
		*old_value = e->value;
	free(e);
	m->size--;
	return true;
}

uint64_t hashmap__hash_u64(uintptr_t key, void *ctx)
{
	uint64_t x = (uint64_t)key;

	/* splitmix64's finalizer: addresses differ mostly in their middle bits */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

bool hashmap__equal_u64(uintptr_t a, uintptr_t b, void *ctx)
{
	return a == b;
}

uint64_t hashmap__hash_str(uintptr_t key, void *ctx)
{
	const unsigned char *s = (const unsigned char *)key;
	const uint64_t *seed = ctx;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, the seed's bytes first */
	unsigned i;

	for (i = 0; seed && i < 64; i += 8) {
		h ^= (*seed >> i) & 0xff;
		h *= 0x100000001b3ULL;
	}
	while (*s) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t hashmap__seed(void)
{
	uint64_t seed = 0;

	/* without randomness: the time, still unknown to whoever crafts the keys in advance */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)clock() ^ ((uint64_t)(uintptr_t)&seed << 16);
	return seed;
}

char *hashmap__tuple_key(const char *const *f, size_t n)
{
	size_t len = 1, i, k, off = 0;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(f[i]) + 21;
	if (!(s = malloc(len)))
		return NULL;
	for (i = 0; i < n; i++) {
		k = strlen(f[i]);
		off += snprintf(s + off, len - off, "%zu:", k);
		memcpy(s + off, f[i], k);
		off += k;
	}
	s[off] = '\0';
	return s;
}

bool hashmap__equal_str(uintptr_t a, uintptr_t b, void *ctx)
{
	return !strcmp((const char *)a, (const char *)b);
}
