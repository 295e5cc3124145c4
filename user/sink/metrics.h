/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Prometheus metrics: a bounded table of labelled counters, and /metrics
 * served by libmicrohttpd on its own thread.
 *
 * sessiontrace_assertions_total{service,route,method,cause} counts hits from
 * the records. At most max_series label sets exist, at most per_service of
 * one service; every hit beyond a service's share is counted in its overflow
 * series (service="S", the other labels "__overflow__"), every hit beyond
 * them all in one overflow series (all labels "__overflow__"), and hits whose
 * record was lost in the ring buffer (counted in BPF) appear as the series
 * with all labels "__lost__", and those refused to a process over its budget
 * (BPF's, or its share of the decoder) as "__over_budget__", so the sum over
 * all series is every hit.
 */
#ifndef ST_METRICS_H
#define ST_METRICS_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "decode/drops.h"

#define METRICS_DEFAULT_SERIES 1000
#define METRICS_MAX_SERIES     100000
#define METRICS_DEFAULT_SERVICE_SERIES 250 /* of one service (--max-series-per-service) */
#define METRICS_SERVICES       1024  /* services with their own series; then all overflow */
#define METRICS_TARGETS        1024  /* traced processes in sessiontrace_target_info */
#define METRICS_PREDICTIONS    4096  /* (process, cause, reader) of predicted failures */
#define METRICS_OVERFLOW       "__overflow__"
#define METRICS_LOST           "__lost__"
#define METRICS_OVER_BUDGET    "__over_budget__"
#define METRICS_CHECKS_MAX     16

struct metrics;
struct sink;

/* What the health metrics show, filled at scrape time (on the HTTP thread). */
struct metrics_health {
	unsigned long long attached, lost, hits;
	unsigned long long execs; /* execs the kernel's filter passed to discovery */
	unsigned long long listens; /* listen() calls of Python processes, passed to discovery */
	unsigned long long procs_lost; /* process events the ring buffer had no room for */
	unsigned long long dropped[DROP_N]; /* enum drop_reason */
	/* discovery's checks of Python processes, by verdict (name, count) */
	const char *check_names[METRICS_CHECKS_MAX];
	unsigned long long checks[METRICS_CHECKS_MAX];
	unsigned nchecks;
};
typedef void (*metrics_health_fn)(struct metrics_health *out, void *ctx);

/*
 * At most max_series label sets, then __overflow__; at most per_service of
 * one service, then its own series {service="S", the others __overflow__}.
 * NULL with errno: ENOMEM.
 */
struct metrics *metrics__new(size_t max_series, size_t per_service);
void metrics__free(struct metrics *m);

/* One hit's labels, and its trace. */
struct metrics_hit {
	const char *service, *route, *method, *cause;
	const char *uid;      /* the pod UID of the process, or "" (then no uid label) */
	const char *trace_id; /* from a valid traceparent, or "": the series' exemplar */
	double ts;            /* when (Unix seconds), the exemplar's timestamp */
};
/*
 * One hit. Labels are copied (bounded, marked when cut); method is reduced
 * to a known method or OTHER; the latest trace id of a series is its
 * exemplar in the OpenMetrics exposition.
 */
void metrics__hit(struct metrics *m, const struct metrics_hit *h);
/* Where a traced process runs, each part "" when unknown (sessiontrace_target_info). */
struct metrics_place {
	const char *container_id, *pod_uid, *hostname;
};
/*
 * pid is traced, by service, at place; service NULL: it is not any more.
 * At most METRICS_TARGETS.
 */
void metrics__target(struct metrics *m, pid_t pid, const char *service,
		     const struct metrics_place *place);
/* The sink that counts hits into m (owned by m: sink__free does nothing). */
struct sink *metrics__sink(struct metrics *m);
/* Number of label sets in use, overflow and lost series excluded. */
size_t metrics__nseries(struct metrics *m);
/*
 * The whole exposition text (caller frees), as /metrics serves it: the
 * Prometheus text format, or with om OpenMetrics (families of counters
 * without _total, exemplars, "# EOF"), which a scraper asks for in Accept.
 */
char *metrics__render(struct metrics *m, bool om, size_t *len);

/*
 * "PORT" (loopback), "ADDR:PORT", "[ADDR6]:PORT": into host and port.
 * 0 or -EINVAL.
 */
int metrics__parse_addr(const char *spec, char *host, size_t hostsz, unsigned *port);
/*
 * Two steps, so that a bad address fails before anything is attached and the
 * HTTP thread starts only after capabilities were dropped (they are per
 * thread): listen() binds spec (-errno and a one-line reason in err);
 * start() serves /metrics and / from it on a thread; health is called for
 * every scrape.
 */
int metrics__listen(struct metrics *m, const char *spec, char *err, size_t errsz);
int metrics__start(struct metrics *m, metrics_health_fn health, void *ctx, char *err,
		   size_t errsz);

#endif
