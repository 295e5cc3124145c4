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

#define LIMIT_KEYS 4096 /* keys followed; past it, new keys share one "(other)" key */
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

#endif
