/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One generic hash map (after libbpf's own hashmap.h): keys and values are
 * uintptr_t, so a key is an integer (an address in a target) or a pointer to
 * something the caller owns (a string); the caller gives the hash and the
 * equality. Separate chaining, grown at a load of 3/4. Not thread safe.
 */
#ifndef ST_HASHMAP_H
#define ST_HASHMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t (*hashmap_hash_fn)(uintptr_t key, void *ctx);
typedef bool (*hashmap_equal_fn)(uintptr_t a, uintptr_t b, void *ctx);

struct hashmap_entry {
	uintptr_t key, value;
	struct hashmap_entry *next;
};

struct hashmap {
	hashmap_hash_fn hash;
	hashmap_equal_fn equal;
	void *ctx;
	struct hashmap_entry **buckets;
	size_t cap_bits, size;
};

/* An empty map (allocates nothing until the first set); ctx is passed to hash and equal. */
void hashmap__init(struct hashmap *m, hashmap_hash_fn hash, hashmap_equal_fn equal, void *ctx);
/* Frees the entries (not what keys and values point to). */
void hashmap__clear(struct hashmap *m);
/* 0, or -ENOMEM. Replaces the value of an existing key. */
int hashmap__set(struct hashmap *m, uintptr_t key, uintptr_t value);
/* true when key is there; *value (may be NULL) gets its value. */
bool hashmap__find(const struct hashmap *m, uintptr_t key, uintptr_t *value);
/* true when key was there; old_key and old_value (may be NULL) get what was stored. */
bool hashmap__delete(struct hashmap *m, uintptr_t key, uintptr_t *old_key, uintptr_t *old_value);
static inline size_t hashmap__size(const struct hashmap *m) { return m->size; }

/* Integer keys; NUL-terminated string keys. */
uint64_t hashmap__hash_u64(uintptr_t key, void *ctx);
bool hashmap__equal_u64(uintptr_t a, uintptr_t b, void *ctx);
/*
 * NUL-terminated strings. ctx: NULL, or a uint64_t seed (hashmap__seed) for
 * keys someone else chooses (a request's route, a records file's fields):
 * they cannot be crafted in advance to share a bucket.
 */
uint64_t hashmap__hash_str(uintptr_t key, void *ctx);
/* A random seed for hashmap__hash_str. */
uint64_t hashmap__seed(void);
/*
 * A string key for a tuple of n strings: each as its length, ':' and its
 * bytes, so that no two tuples make the same key whatever bytes they hold
 * (malloc'd; NULL on out of memory).
 */
char *hashmap__tuple_key(const char *const *f, size_t n);
bool hashmap__equal_str(uintptr_t a, uintptr_t b, void *ctx);

/* Every entry: for (i...) hashmap__for_each_entry(m, e, i) { ... } */
#define hashmap__for_each_entry(m, e, bkt)                                     \
	for ((bkt) = 0; (m)->buckets && (bkt) < ((size_t)1 << (m)->cap_bits); (bkt)++) \
		for ((e) = (m)->buckets[bkt]; (e); (e) = (e)->next)

#endif
