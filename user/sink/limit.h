/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Records under a storm. Past a rate, one key (service, route, cause,
 * property, accessor) stops getting a full record per hit: each new key gets its first `rate`
 * records in full (a bucket of `rate` tokens, refilled at `rate` a second),
 * and the hits over the rate are counted and summarized, one summary per
 * key and second: "N more like this since T". The metrics count every hit
 * regardless; a summary carries the exact count of what it stands for.
 */
#ifndef ST_LIMIT_H
#define ST_LIMIT_H
#include <stdbool.h>
#include <stddef.h>

/*
 * Keys are the targets' choice (routes, accessors): bounded per service,
 * then in all. A service's first LIMIT_SERVICE_KEYS keys are its own; a
 * later one takes the place of its least recently used key when that one is
 * idle (nothing pending, its bucket full again: forgetting it changes
 * nothing), else shares the service's "(other)" key. One service cannot take
 * the others' keys: LIMIT_KEYS and LIMIT_BYTES bound them all, and services
 * past LIMIT_SERVICES share one "(other)".
 */
#define LIMIT_SERVICE_KEYS 512
#define LIMIT_KEYS 4096
#define LIMIT_BYTES (4u << 20) /* of key strings */
#define LIMIT_SERVICES 1024
#define LIMIT_PERIOD_MS 1000 /* a key's summary is due this long after its first counted hit */

struct hit;
struct diagnosis;

struct limit_summary {
	const char *service, *route, *cause, *property;
	const char *function, *file; /* the accessor; "" when none */
	int line;                    /* the accessor's, -1: none */
	unsigned long long count; /* hits of this key not written in full */
	const char *since, *until; /* ts (ISO 8601 UTC) of the first and the last of them */
};

typedef void (*limit_summary_fn)(void *ctx, const struct limit_summary *s);

struct limit;

/* rate > 0 records a second per key. NULL on out of memory. */
struct limit *limit__new(unsigned rate);
void limit__free(struct limit *l);
/*
 * true: write this hit in full; false: it is counted in its key's next
 * summary. now_ms: CLOCK_MONOTONIC.
 */
bool limit__admit(struct limit *l, const struct hit *h, const struct diagnosis *dg,
		  long long now_ms);
/* The summaries due by now_ms, or every pending one (all: at exit), to fn. */
void limit__flush(struct limit *l, long long now_ms, bool all, limit_summary_fn fn, void *ctx);

struct limit_stats {
	unsigned long keys, services;
	unsigned long long bytes, evicted;
};
void limit__stats(const struct limit *l, struct limit_stats *out);

#endif
