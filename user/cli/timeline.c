// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "cli/timeline.h"
#include "util/hashmap.h"

struct timeline {
	double base;            /* seconds per base bucket */
	struct hashmap counts;  /* base bucket index (floor(ts / base), biased) -> count */
};

#define BIAS (1LL << 40) /* bucket indices are kept positive: keys are unsigned */

struct timeline *timeline__new(double base)
{
	struct timeline *tl = calloc(1, sizeof(*tl));

	if (!tl)
		return NULL;
	tl->base = base > 0 ? base : 60;
	hashmap__init(&tl->counts, hashmap__hash_u64, hashmap__equal_u64, NULL);
	return tl;
}

void timeline__free(struct timeline *tl)
{
	if (!tl)
		return;
	hashmap__clear(&tl->counts);
	free(tl);
}

static uintptr_t key_of(const struct timeline *tl, double ts)
{
	double k = floor(ts / tl->base);

	if (k < -BIAS + 1)
		k = -BIAS + 1;
	if (k > BIAS - 1)
		k = BIAS - 1;
	return (uintptr_t)((long long)k + BIAS);
}

static int put(struct timeline *tl, uintptr_t key, unsigned long long n)
{
	uintptr_t v = 0;

	hashmap__find(&tl->counts, key, &v);
	v = v + n < v ? UINTPTR_MAX : v + n;
	return hashmap__set(&tl->counts, key, v) ? -ENOMEM : 0;
}

/* Past the bound: the base doubles, and the buckets merge in pairs. */
static int coarsen(struct timeline *tl)
{
	struct hashmap old = tl->counts;
	struct hashmap_entry *e;
	size_t b;
	int err = 0;

	tl->base *= 2;
	hashmap__init(&tl->counts, hashmap__hash_u64, hashmap__equal_u64, NULL);
	hashmap__for_each_entry(&old, e, b) {
		double start = ((long long)e->key - BIAS) * (tl->base / 2);

		err = err ?: put(tl, key_of(tl, start), e->value);
	}
	hashmap__clear(&old);
	return err;
}

int timeline__add(struct timeline *tl, double ts, unsigned long long n)
{
	int err;

	if (!isfinite(ts) || !n)
		return 0;
	err = put(tl, key_of(tl, ts), n);
	while (!err && hashmap__size(&tl->counts) > TIMELINE_MAX_BASE)
		err = coarsen(tl);
	return err;
}

/* The display bucket: given (at least the base), or the smallest nice one that shows all. */
static double display_bucket(const struct timeline *tl, double from, double to, double bucket)
{
	static const double nice[] = { 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600,
				       12 * 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400 };
	size_t i;

	/* asked for more rows than anyone reads: chosen instead */
	if (bucket > 0 && (to - from) / bucket >= TIMELINE_MAX_ROWS)
		bucket = 0;
	if (bucket <= 0) {
		for (i = 0; i < sizeof(nice) / sizeof(nice[0]); i++)
			if (nice[i] >= tl->base && (to - from) / nice[i] < TIMELINE_MAX_SHOWN)
				return nice[i];
		bucket = nice[i - 1];
	}
	/* whole base buckets only: a base bucket is never split between two shown ones */
	return bucket < tl->base ? tl->base : ceil(bucket / tl->base) * tl->base;
}

/* Counts of the display buckets from..to; *n of them (malloc'd), NULL on out of memory. */
static unsigned long long *bucketize(const struct timeline *tl, double from, double to,
				     double bucket, size_t *n)
{
	double start = floor(from / bucket) * bucket;
	struct hashmap_entry *e;
	unsigned long long *v;
	size_t b, k;

	*n = to >= start ? (size_t)floor((to - start) / bucket) + 1 : 0;
	if (*n > 100000)
		*n = 100000;
	v = calloc(*n ? *n : 1, sizeof(*v));
	if (!v)
		return NULL;
	hashmap__for_each_entry(&tl->counts, e, b) {
		double ts = ((long long)e->key - BIAS) * tl->base;

		if (ts + tl->base <= from || ts > to || ts < start)
			continue;
		k = (size_t)floor((ts - start) / bucket);
		if (k < *n)
			v[k] += e->value;
	}
	return v;
}

static void format_ts(double t, char *buf, size_t sz)
{
	time_t s = (time_t)floor(t);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void format_len(double secs, char *buf, size_t sz)
{
	if (fmod(secs, 86400) == 0)
		snprintf(buf, sz, "%.0fd", secs / 86400);
	else if (fmod(secs, 3600) == 0)
		snprintf(buf, sz, "%.0fh", secs / 3600);
	else if (fmod(secs, 60) == 0)
		snprintf(buf, sz, "%.0fm", secs / 60);
	else
		snprintf(buf, sz, "%.0fs", secs);
}

void timeline__print_text(const struct timeline *tl, double from, double to, double bucket,
			  int width, bool utf8, const struct timeline_mark *marks, size_t nmarks,
			  FILE *out)
{
	unsigned long long *v, most = 0;
	double start;
	char ts[32], len[16];
	size_t n, i, m;
	int w, bar = width - 40 > 10 ? width - 40 : 10;

	if (!(to >= from))
		return;
	bucket = display_bucket(tl, from, to, bucket);
	v = bucketize(tl, from, to, bucket, &n);
	if (!v)
		return;
	start = floor(from / bucket) * bucket;
	for (i = 0; i < n; i++)
		if (v[i] > most)
			most = v[i];
	format_len(bucket, len, sizeof(len));
	fprintf(out, "\ntimeline (%s buckets):\n", len);
	for (i = 0; i < n; i++) {
		format_ts(start + i * bucket, ts, sizeof(ts));
		fprintf(out, "  %s  ", ts);
		w = most ? (int)((v[i] * (unsigned long long)bar + most - 1) / most) : 0;
		for (m = 0; m < (size_t)bar; m++)
			fputs(m < (size_t)w ? (utf8 ? "\xe2\x96\x88" : "#") : " ", out);
		fprintf(out, " %8llu", v[i]);
		for (m = 0; m < nmarks; m++)
			if (marks[m].ts >= start + i * bucket && marks[m].ts < start + (i + 1) * bucket)
				fprintf(out, "  <- %s", marks[m].text);
		fputc('\n', out);
	}
	free(v);
}

struct json_object *timeline__json(const struct timeline *tl, double from, double to,
				   double bucket)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	unsigned long long *v = NULL;
	double start = 0;
	char ts[32];
	size_t n = 0, i;

	if (to >= from) {
		bucket = display_bucket(tl, from, to, bucket);
		v = bucketize(tl, from, to, bucket, &n);
		start = floor(from / bucket) * bucket;
	}
	json_object_object_add(o, "bucket_seconds", json_object_new_double(v ? bucket : 0));
	for (i = 0; v && i < n; i++) {
		struct json_object *b = json_object_new_object();

		format_ts(start + i * bucket, ts, sizeof(ts));
		json_object_object_add(b, "start", json_object_new_string(ts));
		json_object_object_add(b, "count", json_object_new_int64((int64_t)v[i]));
		json_object_array_add(arr, b);
	}
	json_object_object_add(o, "buckets", arr);
	free(v);
	return o;
}
