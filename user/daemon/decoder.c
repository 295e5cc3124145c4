// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attach/probe.h"
#include "daemon/decoder.h"
#include "daemon/targets.h"
#include "daemon/tracer.h"
#include "decode/drops.h"
#include "decode/hit.h"
#include "decode/symbolizer.h"
#include "discover/watcher.h"
#include "diagnose/diagnose.h"
#include "diagnose/inspect.h"
#include "resolve/target.h"
#include "sink/limit.h"
#include "sink/metrics.h"
#include "sink/sink.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_SINKS 3

/*
 * Each process's share of the decoder: one process whose records are slow
 * to decode (deep apps, many frames, crafted objects) must not make the
 * others' records wait until the ring buffer overflows. Its decoding time is
 * a bucket of DECODE_SHARE_NS a second, at most DECODE_BURST_NS; while the
 * decoder is behind (a record waited DECODE_BEHIND_NS), a process with an
 * empty bucket has its records dropped, counted (DROP_DECODE_BUDGET).
 */
#define DECODE_SHARE_NS  250000000LL  /* a quarter of a second each second */
#define DECODE_BURST_NS  1000000000LL
#define DECODE_BEHIND_NS 1000000000LL

struct decoded {
	struct target *t;         /* the decoder's copy */
	struct symbolizer *sym;
	long long budget_ns;      /* decoding time left */
	long long budget_at;      /* when it was last topped up (CLOCK_MONOTONIC ns) */
	bool predict_due;         /* inspect it (decoder__predict_due) */
};

struct decoder {
	const struct tracer_opts *o;
	struct probe *probe;
	struct decoded v[TARGETS_MAX];
	int n;                           /* read by the metrics thread */
	unsigned long long total;        /* targets ever added */
	struct diagnose *diag;
	struct hit *hit;                 /* the one being handled */
	struct diagnosis *dg;
	struct metrics *metrics;
	struct sink *sinks[MAX_SINKS];
	int nsinks;
	struct limit *limit;             /* --record-rate; NULL: a full record per hit */
	struct symbolizer_pool pool;     /* every target's code object cache together */
	unsigned long long records;      /* hits through the sinks */
	unsigned long long summarized;   /* of which in summaries, not full records */
	unsigned long long dropped[DROP_N]; /* enum drop_reason; read by the metrics thread */
};

static void dropped(struct decoder *d, enum drop_reason why)
{
	__atomic_add_fetch(&d->dropped[why], 1, __ATOMIC_RELAXED);
}

static int find(const struct decoder *d, pid_t pid)
{
	int i;

	for (i = 0; i < d->n; i++)
		if (d->v[i].t->pid == pid)
			return i;
	return -1;
}

/* One record: decode, diagnose, every sink; or the reason it is not a hit. */
void decoder__event(void *ctx, const struct st_event *ev)
{
	struct decoder *d = ctx;
	int i = find(d, ev->pid);
	struct decoded *e;
	enum drop_reason why;
	long long now, idle;

	if (i < 0) {
		dropped(d, DROP_PROCESS_GONE);
		return;
	}
	e = &d->v[i];
	/* a record raised by an earlier process with the same pid */
	if (ev->start_ticks != e->t->start_time) {
		dropped(d, DROP_STALE_PID);
		pr_debug("pid %u: dropped a record of an earlier process with that pid\n", ev->pid);
		return;
	}
	now = clock__now_ns();
	/* idle long enough to fill the bucket: no more (and no overflow in the product) */
	idle = now - e->budget_at;
	if (idle > DECODE_BURST_NS / DECODE_SHARE_NS * 1000000000LL)
		idle = DECODE_BURST_NS / DECODE_SHARE_NS * 1000000000LL;
	else if (idle < 0)
		idle = 0;
	e->budget_ns += idle * DECODE_SHARE_NS / 1000000000LL;
	if (e->budget_ns > DECODE_BURST_NS)
		e->budget_ns = DECODE_BURST_NS;
	e->budget_at = now;
	if (e->budget_ns <= 0 && now - (long long)ev->ts_ns > DECODE_BEHIND_NS) {
		dropped(d, DROP_DECODE_BUDGET);
		return;
	}
	if (!hit__decode(d->hit, e->t, e->sym, ev, &why))
		dropped(d, why);
	else if (diagnose__event(d->diag, d->hit, d->dg))
		dropped(d, DROP_OUT_OF_MEMORY);
	else {
		/* past the record rate, only the sinks that count every hit get it */
		bool full = !d->limit || limit__admit(d->limit, d->hit, d->dg, clock__now_ms());

		d->records++;
		d->summarized += !full;
		for (i = 0; i < d->nsinks; i++)
			if (full || !d->sinks[i]->summary)
				sink__emit(d->sinks[i], d->hit, d->dg);
	}
	symbolizer__event_end(e->sym); /* its frames are no longer used: the cache may evict */
	e->budget_ns -= clock__now_ns() - now;
}

/*
 * What inspect finds in e's process, to every sink that takes predictions:
 * the reads that will fail, before any request does. Bounded as inspect
 * is (reads per reading, readings until two agree).
 */
static void predict(struct decoder *d, struct decoded *e)
{
	struct inspection *in = NULL;
	char err[256];
	int i;

	if (d->o->no_predict)
		return;
	if (inspect__run(e->t, &in, err, sizeof(err))) {
		pr_debug("pid %d: no prediction: %s\n", e->t->pid, err);
		return;
	}
	pr_debug("pid %d: %u predicted failures (%u readers)\n", e->t->pid, in->nfindings,
		 in->readers);
	for (i = 0; i < d->nsinks; i++)
		if (d->sinks[i]->predict)
			d->sinks[i]->predict(d->sinks[i], e->t, in);
	inspect__free(in);
}

int decoder__add(struct decoder *d, const struct target *t)
{
	struct decoded *e;
	int i = find(d, t->pid);

	if (i >= 0) /* the attaching side dropped it and we missed it: the new one wins */
		decoder__drop(d, t->pid);
	if (d->n >= TARGETS_MAX)
		return -ENOSPC;
	e = &d->v[d->n];
	e->t = target__dup(t);
	e->sym = e->t ? symbolizer__new(e->t, &d->pool) : NULL;
	e->budget_ns = DECODE_BURST_NS;
	e->budget_at = clock__now_ns();
	if (!e->sym) {
		target__free(e->t);
		e->t = NULL;
		return -ENOMEM;
	}
	__atomic_store_n(&d->n, d->n + 1, __ATOMIC_RELAXED);
	d->total++;
	if (d->metrics) {
		const struct identity *id = &e->t->id;
		struct metrics_place place = { id->container_id, id->pod_uid, id->hostname };

		metrics__target(d->metrics, e->t->pid, e->t->service, &place);
	}
	e->predict_due = true; /* in the decoding child, never where it is attached */
	return 0;
}

void decoder__drop(struct decoder *d, pid_t pid)
{
	int i = find(d, pid);

	if (i < 0)
		return;
	if (d->metrics)
		metrics__target(d->metrics, pid, NULL, NULL);
	symbolizer__free(d->v[i].sym);
	target__free(d->v[i].t);
	d->v[i] = d->v[d->n - 1];
	memset(&d->v[d->n - 1], 0, sizeof(d->v[0]));
	__atomic_store_n(&d->n, d->n - 1, __ATOMIC_RELAXED);
}

int decoder__count(const struct decoder *d)
{
	return __atomic_load_n(&d->n, __ATOMIC_RELAXED);
}

static void on_summary(void *ctx, const struct limit_summary *sum)
{
	struct decoder *d = ctx;
	int i;

	for (i = 0; i < d->nsinks; i++)
		if (d->sinks[i]->summary)
			d->sinks[i]->summary(d->sinks[i], sum);
}

/* The summaries due now, or all of them (at exit). */
static void flush_summaries(struct decoder *d, bool all)
{
	if (d->limit)
		limit__flush(d->limit, clock__now_ms(), all, on_summary, d);
}

int decoder__drain(struct decoder *d, unsigned max)
{
	int err = probe__drain(d->probe, max);

	flush_summaries(d, false);
	return err;
}

void decoder__delegate_files(struct decoder *d, const struct jsonlog_files *files)
{
	int i;

	for (i = 0; i < d->nsinks; i++)
		if (d->sinks[i]->delegate)
			d->sinks[i]->delegate(d->sinks[i], files);
}

void decoder__reopen(struct decoder *d)
{
	int i;

	for (i = 0; i < d->nsinks; i++)
		if (d->sinks[i]->reopen)
			d->sinks[i]->reopen(d->sinks[i]);
	/* SIGHUP: the apps may have changed (a reload): predicted again */
	for (i = 0; i < d->n; i++)
		d->v[i].predict_due = true;
}

void decoder__predict_due(struct decoder *d)
{
	int i;

	for (i = 0; i < d->n; i++)
		if (d->v[i].predict_due) {
			d->v[i].predict_due = false;
			predict(d, &d->v[i]);
		}
}

/* Why hits became no record: the decoder's reasons, and BPF's (cnt, or NULL). */
static void drops_view(struct decoder *d, const __u64 *cnt, unsigned long long out[DROP_N])
{
	int i;

	for (i = 0; i < DROP_N; i++)
		out[i] = __atomic_load_n(&d->dropped[i], __ATOMIC_RELAXED);
	if (cnt)
		out[DROP_OVER_BUDGET] += cnt[ST_C_OVER_BUDGET];
}

/* Scrape time, on the HTTP thread: BPF counters are read from the map. */
static void metrics_health(struct metrics_health *h, void *ctx)
{
	struct decoder *d = ctx;
	__u64 cnt[ST_NCOUNTERS], checks[ST_CHECK_VERDICTS];
	bool have = d->probe && !probe__counters(d->probe, cnt);
	int i;

	h->attached = (unsigned long long)decoder__count(d);
	if (have) {
		h->lost = cnt[ST_C_LOST];
		h->hits = cnt[ST_C_HITS];
		h->execs = cnt[ST_C_EXECS];
		h->listens = cnt[ST_C_LISTENS];
		h->procs_lost = cnt[ST_C_PROCS_LOST];
	}
	if (d->probe && !probe__checks(d->probe, checks)) {
		for (i = 0; i < CHECK_N && i < METRICS_CHECKS_MAX; i++) {
			h->check_names[i] = watcher__check_name(i);
			h->checks[i] = checks[i];
		}
		h->nchecks = i;
	}
	drops_view(d, have ? cnt : NULL, h->dropped);
}

int decoder__start_metrics(struct decoder *d)
{
	char err[512];

	if (d->metrics && metrics__start(d->metrics, metrics_health, d, err, sizeof(err))) {
		fprintf(stderr, "sessiontrace: %s\n", err);
		return 1;
	}
	return 0;
}

/* Every hit is a record, lost, or dropped for a reason: the sums match. */
static void print_summary(struct decoder *d)
{
	unsigned long long ndrop = 0, drops[DROP_N];
	__u64 cnt[ST_NCOUNTERS] = {};
	char why[256] = "";
	size_t wn = 0;
	int i;

	probe__counters(d->probe, cnt);
	drops_view(d, cnt, drops);
	for (i = 0; i < DROP_N; i++) {
		ndrop += drops[i];
		if (drops[i] && wn < sizeof(why))
			wn += snprintf(why + wn, sizeof(why) - wn, "%s%s %llu", wn ? ", " : " (",
				       drops__name(i), drops[i]);
	}
	if (wn && wn < sizeof(why) - 1)
		snprintf(why + wn, sizeof(why) - wn, ")");
	fprintf(stderr, "sessiontrace: exiting: %llu records, %llu lost, %llu hits, "
		"%llu AssertionError/KeyError raises examined, %llu probe runs, "
		"%llu processes traced, %llu dropped%s; %llu of the records in summaries\n",
		d->records, (unsigned long long)cnt[ST_C_LOST], (unsigned long long)cnt[ST_C_HITS],
		(unsigned long long)cnt[ST_C_ASSERTS], (unsigned long long)cnt[ST_C_RUNS],
		d->total, ndrop, why, d->summarized);
	for (i = 0; i < d->nsinks; i++)
		if (d->sinks[i]->finish)
			d->sinks[i]->finish(d->sinks[i], d->records);
}

void decoder__finish(struct decoder *d)
{
	probe__drain(d->probe, 0);
	flush_summaries(d, true);
	print_summary(d);
}

/*
 * The records file, the console, the metrics, the record rate: 0, or -errno
 * with one sentence in err (-ENOMEM: out of memory; else what the user gave).
 */
static int open_sinks(struct decoder *d, char *err, size_t errsz)
{
	const struct tracer_opts *o = d->o;

	if (o->json) {
		d->sinks[d->nsinks] = record_sink__new(o->json, o->json_max_size, o->json_keep,
						       err, errsz);
		if (!d->sinks[d->nsinks++])
			return -EINVAL; /* as every records-file error: exit 2 */
	}
	if (o->metrics) {
		d->metrics = metrics__new(o->max_series, o->max_service_series);
		if (!d->metrics)
			goto oom;
		if (metrics__listen(d->metrics, o->metrics, err, errsz))
			return -EINVAL;
		d->sinks[d->nsinks++] = metrics__sink(d->metrics);
	}
	if (!o->quiet && !(d->sinks[d->nsinks++] = console_sink__new(stdout)))
		goto oom;
	if (o->record_rate && !(d->limit = limit__new(o->record_rate)))
		goto oom;
	return 0;
oom:
	snprintf(err, errsz, "out of memory");
	return -ENOMEM;
}

struct decoder *decoder__new(const struct tracer_opts *o, char *err, size_t errsz)
{
	struct decoder *d = calloc(1, sizeof(*d));
	int ret;

	if (!d) {
		snprintf(err, errsz, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	d->o = o;
	d->pool.cap = SYMBOLIZER_POOL_BYTES;
	ret = open_sinks(d, err, errsz);
	if (ret)
		goto cleanup;
	d->diag = diagnose__new();
	d->hit = calloc(1, sizeof(*d->hit));
	d->dg = calloc(1, sizeof(*d->dg));
	if (!d->diag || !d->hit || !d->dg) {
		snprintf(err, errsz, "out of memory");
		ret = -ENOMEM;
		goto cleanup;
	}
	return d;
cleanup:
	decoder__free(d);
	errno = -ret;
	return NULL;
}

void decoder__set_probe(struct decoder *d, struct probe *p)
{
	d->probe = p;
}

void decoder__free(struct decoder *d)
{
	int i;

	if (!d)
		return;
	/* first: scrapes read the targets and the probe; its sink lives in it */
	for (i = 0; d->metrics && i < d->nsinks; i++)
		if (d->sinks[i] == metrics__sink(d->metrics))
			d->sinks[i] = NULL;
	metrics__free(d->metrics);
	d->metrics = NULL;
	while (d->n)
		decoder__drop(d, d->v[d->n - 1].t->pid);
	for (i = 0; i < d->nsinks; i++)
		sink__free(d->sinks[i]);
	limit__free(d->limit);
	diagnose__free(d->diag);
	free(d->hit);
	free(d->dg);
	free(d);
}
