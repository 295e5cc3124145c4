// SPDX-License-Identifier: BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "decode/hit.h"
#include "resolve/props.h"
#include "diagnose/diagnose.h"
#include "resolve/target.h"
#include "sink/limit.h"
#include "util/hashmap.h"

/* service, route, cause, property, and the accessor's function, file, line */
#define NFIELDS 7

struct key {
	char *id;              /* the map's key: the fields joined by US (0x1f) */
	char *fields;          /* the same, NUL-separated */
	const char *f[NFIELDS];
	double tokens;
	long long refilled_ms;
	unsigned long long count; /* counted since the last summary */
	long long first_ms;    /* when the first of them came */
	char since[64], until[64];
};

struct limit {
	unsigned rate;
	struct hashmap keys;   /* id -> struct key * */
	struct key *other;     /* every key past LIMIT_KEYS */
	unsigned long pending; /* keys with a count */
	uint64_t seed;         /* of the keys' hash: routes and accessors are the targets' */
};

struct limit *limit__new(unsigned rate)
{
	struct limit *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->rate = rate;
	l->seed = hashmap__seed();
	hashmap__init(&l->keys, hashmap__hash_str, hashmap__equal_str, &l->seed);
	return l;
}

static void key_free(struct key *k)
{
	if (!k)
		return;
	free(k->id);
	free(k->fields);
	free(k);
}

void limit__free(struct limit *l)
{
	struct hashmap_entry *e;
	size_t b;

	if (!l)
		return;
	hashmap__for_each_entry(&l->keys, e, b)
		key_free((struct key *)e->value);
	hashmap__clear(&l->keys);
	key_free(l->other);
	free(l);
}

/* id: the fields joined by US; NULL on out of memory. */
static char *join(const char *const f[NFIELDS], char sep)
{
	size_t len = 0, n, i;
	char *s, *p;

	for (i = 0; i < NFIELDS; i++)
		len += strlen(f[i]) + 1;
	if (!(s = p = malloc(len)))
		return NULL;
	for (i = 0; i < NFIELDS; i++) {
		n = strlen(f[i]);
		memcpy(p, f[i], n);
		p += n;
		*p++ = i + 1 < NFIELDS ? sep : '\0';
	}
	return s;
}

/* A new key with a full bucket: its first `rate` hits are written in full. */
static struct key *key_new(const struct limit *l, const char *const f[NFIELDS], long long now_ms)
{
	struct key *k = calloc(1, sizeof(*k));
	char *p;
	int i;

	if (!k || !(k->id = join(f, '\x1f')) || !(k->fields = join(f, '\0'))) {
		key_free(k);
		return NULL;
	}
	for (i = 0, p = k->fields; i < NFIELDS; i++, p += strlen(p) + 1)
		k->f[i] = p;
	k->tokens = l->rate;
	k->refilled_ms = now_ms;
	return k;
}

/* The key of these fields, made when new; NULL on out of memory. */
static struct key *key_get(struct limit *l, const char *const f[NFIELDS], long long now_ms)
{
	static const char *const other[NFIELDS] = { "(other)", "(other)", "(other)", "(other)",
						    "", "", "" };
	char *id = join(f, '\x1f');
	struct key *k = NULL;
	uintptr_t v;

	if (!id)
		return NULL;
	if (hashmap__find(&l->keys, (uintptr_t)id, &v)) {
		k = (struct key *)v;
	} else if (hashmap__size(&l->keys) >= LIMIT_KEYS) {
		if (!l->other)
			l->other = key_new(l, other, now_ms);
		k = l->other;
	} else if ((k = key_new(l, f, now_ms)) &&
		   hashmap__set(&l->keys, (uintptr_t)k->id, (uintptr_t)k)) {
		key_free(k);
		k = NULL;
	}
	free(id);
	return k;
}

bool limit__admit(struct limit *l, const struct hit *h, const struct diagnosis *dg,
		  long long now_ms)
{
	const struct frame_info *acc = h->accessor >= 0 ? &h->frames[h->accessor] : NULL;
	char line[16] = "";
	const char *f[NFIELDS] = { h->t->service, dg->route, diagnose__cause_name(dg->cause),
				   props__name(h->prop), acc ? acc->function : "",
				   acc ? acc->file : "", line };
	struct key *k;

	if (acc && acc->line >= 0)
		snprintf(line, sizeof(line), "%d", acc->line);
	k = key_get(l, f, now_ms);

	if (!k)
		return true; /* out of memory: the full record, as without a limit */
	if (now_ms > k->refilled_ms) {
		k->tokens += (double)(now_ms - k->refilled_ms) * l->rate / 1000.0;
		if (k->tokens > l->rate)
			k->tokens = l->rate;
		k->refilled_ms = now_ms;
	}
	if (k->tokens >= 1.0) {
		k->tokens -= 1.0;
		return true;
	}
	if (!k->count++) {
		l->pending++;
		k->first_ms = now_ms;
		snprintf(k->since, sizeof(k->since), "%s", h->ts);
	}
	snprintf(k->until, sizeof(k->until), "%s", h->ts);
	return false;
}

static void summarize(struct limit *l, struct key *k, long long now_ms, bool all,
		      limit_summary_fn fn, void *ctx)
{
	struct limit_summary s;

	if (!k || !k->count || (!all && now_ms - k->first_ms < LIMIT_PERIOD_MS))
		return;
	s = (struct limit_summary){ .service = k->f[0], .route = k->f[1], .cause = k->f[2],
				    .property = k->f[3], .function = k->f[4], .file = k->f[5],
				    .line = k->f[6][0] ? atoi(k->f[6]) : -1, .count = k->count,
				    .since = k->since, .until = k->until };
	fn(ctx, &s);
	k->count = 0;
	l->pending--;
}

void limit__flush(struct limit *l, long long now_ms, bool all, limit_summary_fn fn, void *ctx)
{
	struct hashmap_entry *e;
	size_t b;

	if (!l->pending)
		return;
	hashmap__for_each_entry(&l->keys, e, b)
		summarize(l, (struct key *)e->value, now_ms, all, fn, ctx);
	summarize(l, l->other, now_ms, all, fn, ctx);
}
