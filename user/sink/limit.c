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

struct service;

struct key {
	char *id;              /* the map's key (hashmap__tuple_key of the fields) */
	char *fields;          /* the same, NUL-separated */
	const char *f[NFIELDS];
	size_t bytes;          /* id and fields */
	double tokens;
	long long refilled_ms;
	unsigned long long count; /* counted since the last summary */
	long long first_ms;    /* when the first of them came */
	char since[64], until[64];
	struct service *svc;   /* NULL: an "(other)" key */
	struct key *prev, *next; /* its service's keys, the most recently used first */
};

/* A service's keys: at most LIMIT_SERVICE_KEYS, then its own "(other)". */
struct service {
	char *name;
	unsigned nkeys;
	struct key *head, *tail;
	struct key *other;
};

struct limit {
	unsigned rate;
	struct hashmap keys;   /* id -> struct key * */
	struct hashmap services; /* name -> struct service * */
	struct key *other;     /* every key past LIMIT_KEYS, LIMIT_BYTES or LIMIT_SERVICES */
	size_t bytes;          /* of the keys in the map */
	unsigned long pending; /* keys with a count */
	unsigned long long evicted; /* idle keys forgotten to make room */
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
	hashmap__init(&l->services, hashmap__hash_str, hashmap__equal_str, &l->seed);
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
	hashmap__for_each_entry(&l->services, e, b) {
		struct service *svc = (struct service *)e->value;

		key_free(svc->other);
		free(svc->name);
		free(svc);
	}
	hashmap__clear(&l->services);
	key_free(l->other);
	free(l);
}

/* The fields joined by sep; NULL on out of memory. */
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

	if (!k || !(k->id = hashmap__tuple_key(f, NFIELDS)) || !(k->fields = join(f, '\0'))) {
		key_free(k);
		return NULL;
	}
	for (i = 0, p = k->fields; i < NFIELDS; i++, p += strlen(p) + 1)
		k->f[i] = p;
	k->bytes = strlen(k->id) + (size_t)(p - k->fields);
	k->tokens = l->rate;
	k->refilled_ms = now_ms;
	return k;
}

static void refill(const struct limit *l, struct key *k, long long now_ms)
{
	if (now_ms <= k->refilled_ms)
		return;
	k->tokens += (double)(now_ms - k->refilled_ms) * l->rate / 1000.0;
	if (k->tokens > l->rate)
		k->tokens = l->rate;
	k->refilled_ms = now_ms;
}

static void unlink_key(struct service *svc, struct key *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		svc->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		svc->tail = k->prev;
	k->prev = k->next = NULL;
}

static void push_key(struct service *svc, struct key *k)
{
	k->next = svc->head;
	if (svc->head)
		svc->head->prev = k;
	svc->head = k;
	if (!svc->tail)
		svc->tail = k;
}

/*
 * Forget svc's least recently used key if it is idle: nothing counted for
 * a summary and its bucket full again, so a new key in its place is the same
 * to it. true when one went.
 */
static bool evict_idle(struct limit *l, struct service *svc, long long now_ms)
{
	struct key *k = svc ? svc->tail : NULL;

	if (!k || k->count)
		return false;
	refill(l, k, now_ms);
	if (k->tokens < l->rate)
		return false;
	unlink_key(svc, k);
	hashmap__delete(&l->keys, (uintptr_t)k->id, NULL, NULL);
	svc->nkeys--;
	l->bytes -= k->bytes;
	l->evicted++;
	key_free(k);
	return true;
}

static struct service *service_get(struct limit *l, const char *name)
{
	struct service *svc;
	uintptr_t v;

	if (hashmap__find(&l->services, (uintptr_t)name, &v))
		return (struct service *)v;
	if (hashmap__size(&l->services) >= LIMIT_SERVICES || !(svc = calloc(1, sizeof(*svc))))
		return NULL;
	if (!(svc->name = strdup(name)) ||
	    hashmap__set(&l->services, (uintptr_t)svc->name, (uintptr_t)svc)) {
		free(svc->name);
		free(svc);
		return NULL;
	}
	return svc;
}

/* "(other)" of svc (made when first needed), or of every service (svc NULL). */
static struct key *other_key(struct limit *l, struct service *svc, long long now_ms)
{
	const char *f[NFIELDS] = { svc ? svc->name : "(other)", "(other)", "(other)", "(other)",
				   "", "", "" };
	struct key **o = svc ? &svc->other : &l->other;

	if (!*o)
		*o = key_new(l, f, now_ms);
	return *o;
}

/*
 * The key of these fields, made when new: a service's first
 * LIMIT_SERVICE_KEYS keys have their own, later ones take the place of an
 * idle one or share the service's "(other)"; past every service's bound
 * (LIMIT_KEYS, LIMIT_BYTES) the same. NULL on out of memory.
 */
static struct key *key_get(struct limit *l, const char *const f[NFIELDS], long long now_ms)
{
	struct service *svc;
	struct key *k;
	char *id = hashmap__tuple_key(f, NFIELDS);
	uintptr_t v;

	if (!id)
		return NULL;
	if (hashmap__find(&l->keys, (uintptr_t)id, &v)) {
		free(id);
		k = (struct key *)v;
		unlink_key(k->svc, k);
		push_key(k->svc, k);
		return k;
	}
	free(id);
	if (!(svc = service_get(l, f[0])))
		return other_key(l, NULL, now_ms);
	if (svc->nkeys >= LIMIT_SERVICE_KEYS && !evict_idle(l, svc, now_ms))
		return other_key(l, svc, now_ms);
	if ((hashmap__size(&l->keys) >= LIMIT_KEYS || l->bytes >= LIMIT_BYTES) &&
	    !evict_idle(l, svc, now_ms))
		return other_key(l, svc, now_ms);
	if (!(k = key_new(l, f, now_ms)))
		return NULL;
	if (hashmap__set(&l->keys, (uintptr_t)k->id, (uintptr_t)k)) {
		key_free(k);
		return NULL;
	}
	k->svc = svc;
	push_key(svc, k);
	svc->nkeys++;
	l->bytes += k->bytes;
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
	refill(l, k, now_ms);
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
	hashmap__for_each_entry(&l->services, e, b)
		summarize(l, ((struct service *)e->value)->other, now_ms, all, fn, ctx);
	summarize(l, l->other, now_ms, all, fn, ctx);
}

void limit__stats(const struct limit *l, struct limit_stats *out)
{
	out->keys = hashmap__size(&l->keys);
	out->services = hashmap__size(&l->services);
	out->bytes = l->bytes;
	out->evicted = l->evicted;
}
