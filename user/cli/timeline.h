/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Hits over time for `report`: counted in base buckets as the records
 * stream by (bounded: past TIMELINE_MAX_BASE of them the base doubles in
 * size, merging), shown in display buckets chosen from the window or given.
 */
#ifndef ST_TIMELINE_H
#define ST_TIMELINE_H
#include <stdbool.h>
#include <stdio.h>

#define TIMELINE_MAX_BASE 65536 /* base buckets held */
#define TIMELINE_MAX_SHOWN 60   /* display buckets, when their size is chosen */
#define TIMELINE_MAX_ROWS 500   /* when it is given: past this many it is chosen */

struct timeline;
struct json_object;

/* base: the base bucket in seconds (the display bucket when given, else 60). */
struct timeline *timeline__new(double base);
void timeline__free(struct timeline *tl);
/* n hits at ts (Unix seconds). 0 or -ENOMEM. */
int timeline__add(struct timeline *tl, double ts, unsigned long long n);

/* A mark on the bucket of ts: "first middleware_order". */
struct timeline_mark {
	double ts;
	const char *text;
};

/*
 * The display: from..to (Unix seconds) in buckets of `bucket` seconds (0:
 * chosen so that at most TIMELINE_MAX_SHOWN show, and never below the
 * base). Text: a line per bucket with a bar scaled to width columns, '#'
 * unless utf8 ('█'), and the marks; JSON: {"bucket_seconds", "buckets":
 * [{"start", "count"}]}. The counts of the buckets sum to what was added
 * between from and to.
 */
void timeline__print_text(const struct timeline *tl, double from, double to, double bucket,
			  int width, bool utf8, const struct timeline_mark *marks, size_t nmarks,
			  FILE *out);
struct json_object *timeline__json(const struct timeline *tl, double from, double to,
				   double bucket);

#endif
