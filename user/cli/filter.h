/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * `report`'s questions during an incident: which records, of which window,
 * service, route, cause, process, container, pod or host. Every field given
 * must match (exactly); a record lacking a field given does not match.
 */
#ifndef ST_FILTER_H
#define ST_FILTER_H
#include <stdbool.h>
#include <sys/types.h>

struct json_object;

struct report_filter {
	double since, until;       /* Unix seconds; NAN: no bound */
	const char *service, *route, *cause, *container, *pod_uid, *hostname; /* NULL: any */
	long long pid;             /* -1: any */
};

/* No bound, any value: matches every record. */
void filter__init(struct report_filter *f);
/* Whether f asks about anything at all. */
bool filter__active(const struct report_filter *f);
/*
 * A time as the options take it: RFC 3339 ("2026-11-24T14:02:00Z",
 * "...+02:00", fractions of a second) or relative to now ("30s", "30m",
 * "2h", "1d"). 0 with *out in Unix seconds, or -EINVAL.
 */
int filter__parse_time(const char *s, double now, double *out);
/*
 * RFC 3339 only: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) ('t' or ' ' for
 * T, 'z' for Z), as records carry it. 0 with *out Unix seconds, or -EINVAL.
 */
int filter__parse_rfc3339(const char *s, double *out);
/* A duration: "90s", "5m", "1h", "1d"; 0 with *out seconds (> 0), or -EINVAL. */
int filter__parse_duration(const char *s, double *out);
/* Does rec (a failure's record or a summary), of time ts, match f? */
bool filter__match(const struct report_filter *f, struct json_object *rec, double ts);

#endif
