// SPDX-License-Identifier: BSD-2-Clause
/* The JSON record of a hit, appended to the records file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "decode/hit.h"
#include "resolve/props.h"
#include "diagnose/diagnose.h"
#include "diagnose/inspect.h"
#include "resolve/target.h"
#include "sink/jsonlog.h"
#include "sink/limit.h"
#include "sink/sink.h"
#include "util/escape.h"
#include "util/log.h"

struct record_sink {
	struct sink sink;
	struct jsonlog *log;
	char *path;
	struct strbuf json;
	unsigned long long write_errors;
	bool failing;
};

static void json_cstr(struct strbuf *sb, const char *s)
{
	escape__json(sb, s, strlen(s));
}

/* "key":value, and "key_truncated":true after it when it was cut (at BPF's bound or here). */
static void json_key(struct strbuf *sb, const char *key, const struct hit_str *d)
{
	strbuf__addf(sb, "\"%s\":", key);
	if (d->present)
		escape__json(sb, d->s, d->len);
	else
		strbuf__addlit(sb, "null");
	if (d->present && d->truncated)
		strbuf__addf(sb, ",\"%s_truncated\":true", key);
}

static void json_frame(struct strbuf *sb, const struct frame_info *fi)
{
	strbuf__addlit(sb, "{\"function\":");
	json_cstr(sb, fi->function);
	strbuf__addlit(sb, ",\"file\":");
	json_cstr(sb, fi->file);
	if (fi->line >= 0)
		strbuf__addf(sb, ",\"line\":%d}", fi->line);
	else
		strbuf__addlit(sb, ",\"line\":null}");
}

/* {"class": ..., "mount": ...} */
static void json_app(struct strbuf *j, const char *cls, const char *mount)
{
	strbuf__addlit(j, "{\"class\":");
	json_cstr(j, cls);
	strbuf__addlit(j, ",\"mount\":");
	json_cstr(j, mount);
}

static void json_diagnosis(struct strbuf *j, const struct diagnosis *dg)
{
	unsigned i;

	strbuf__addlit(j, ",\"app\":");
	if (dg->serving >= 0 && (unsigned)dg->serving < dg->napps) {
		json_app(j, dg->apps[dg->serving].name, dg->apps[dg->serving].mount);
		strbuf__addc(j, '}');
	} else {
		strbuf__addlit(j, "null");
	}
	strbuf__addlit(j, ",\"route\":");
	json_cstr(j, dg->route);
	strbuf__addlit(j, ",\"apps\":[");
	for (i = 0; i < dg->napps; i++) {
		if (i)
			strbuf__addc(j, ',');
		json_app(j, dg->apps[i].name, dg->apps[i].mount);
		strbuf__addf(j, ",\"built\":%s}", dg->apps[i].built ? "true" : "false");
	}
	strbuf__addlit(j, "],\"middleware\":[");
	for (i = 0; i < dg->nmw; i++) {
		if (i)
			strbuf__addc(j, ',');
		json_cstr(j, dg->mw[i].name);
	}
	strbuf__addc(j, ']');
	if (dg->mw_truncated)
		strbuf__addlit(j, ",\"middleware_truncated\":true");
	strbuf__addlit(j, ",\"read_in\":");
	if (!dg->app_known || dg->touched < 0)
		strbuf__addlit(j, "null");
	else if ((unsigned)dg->touched < dg->nmw)
		json_cstr(j, dg->mw[dg->touched].name);
	else
		strbuf__addlit(j, "\"router\"");
	/* where the needed middleware is, when not on this path */
	strbuf__addlit(j, ",\"installed_on\":");
	if (dg->elsewhere != DIAG_WHERE_NONE) {
		json_app(j, dg->elsewhere_app, dg->elsewhere_mount);
		strbuf__addc(j, '}');
	} else {
		strbuf__addlit(j, "null");
	}
	strbuf__addlit(j, ",\"cause\":");
	json_cstr(j, diagnose__cause_name(dg->cause));
	strbuf__addlit(j, ",\"hint\":");
	json_cstr(j, dg->hint);
}

static void json_request(struct strbuf *j, const struct hit *h)
{
	strbuf__addlit(j, ",\"request\":");
	if (!h->request) {
		strbuf__addlit(j, "null");
		return;
	}
	strbuf__addc(j, '{');
	json_key(j, "type", &h->type);
	strbuf__addc(j, ',');
	json_key(j, "method", &h->method);
	strbuf__addc(j, ',');
	json_key(j, "path", &h->path);
	strbuf__addc(j, ',');
	json_key(j, "root_path", &h->root);
	strbuf__addc(j, ',');
	json_key(j, "client", &h->client);
	strbuf__addc(j, '}');
	if (h->trace_id[0])
		strbuf__addf(j, ",\"trace_id\":\"%s\",\"parent_span_id\":\"%s\"", h->trace_id,
			     h->parent_span_id);
}

/* Where the process runs: each part only when known (never an empty string). */
static void json_identity(struct strbuf *j, const struct identity *id)
{
	if (id->container_id[0]) {
		strbuf__addlit(j, ",\"container\":{\"id\":");
		json_cstr(j, id->container_id);
		if (id->runtime[0]) {
			strbuf__addlit(j, ",\"runtime\":");
			json_cstr(j, id->runtime);
		}
		strbuf__addc(j, '}');
	}
	if (id->pod_uid[0]) {
		strbuf__addlit(j, ",\"k8s\":{\"pod_uid\":");
		json_cstr(j, id->pod_uid);
		strbuf__addc(j, '}');
	}
	if (id->hostname[0]) {
		strbuf__addlit(j, ",\"hostname\":");
		json_cstr(j, id->hostname);
	}
}

static void json_record(struct strbuf *j, const struct hit *h, const struct diagnosis *dg)
{
	const struct target *t = h->t;
	unsigned i;

	strbuf__reset(j);
	strbuf__addf(j, "{\"ts\":\"%s\",\"pid\":%u,\"ns_pid\":%d,\"tid\":%u,\"comm\":", h->ts,
		     h->ev->pid, t->ns_pid, h->ev->tid);
	json_cstr(j, h->comm);
	strbuf__addlit(j, ",\"service\":");
	json_cstr(j, t->service);
	json_identity(j, &t->id);
	strbuf__addf(j, ",\"python\":\"%s\",\"property\":\"%s\",\"exception\":{\"type\":\"%s\",",
		     t->python, props__name(h->prop), h->exc_type);
	json_key(j, "message", &h->msg);
	strbuf__addc(j, '}');
	json_request(j, h);
	strbuf__addlit(j, ",\"stack\":[");
	for (i = 0; i < h->nframes; i++) {
		if (i)
			strbuf__addc(j, ',');
		json_frame(j, &h->frames[i]);
	}
	strbuf__addc(j, ']');
	if (h->ev->flags & ST_EV_FRAMES_TRUNCATED)
		strbuf__addlit(j, ",\"stack_truncated\":true");
	strbuf__addlit(j, ",\"accessor\":");
	if (h->accessor >= 0)
		json_frame(j, &h->frames[h->accessor]);
	else
		strbuf__addlit(j, "null");
	json_diagnosis(j, dg);
	strbuf__addlit(j, "}\n");
}

/*
 * "N more like this": the fields that name the key, and the count.
 * {"ts": until, "summary": {"count", "since", "until"}, "service",
 * "property", "route", "cause", "accessor"}
 */
static void json_summary(struct strbuf *j, const struct limit_summary *sum)
{
	const char *const keys[][2] = {
		{ "service", sum->service }, { "property", sum->property },
		{ "route", sum->route }, { "cause", sum->cause },
	};
	size_t i;

	strbuf__reset(j);
	strbuf__addf(j, "{\"ts\":\"%s\",\"summary\":{\"count\":%llu,\"since\":\"%s\",\"until\":"
		     "\"%s\"}", sum->until, sum->count, sum->since, sum->until);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		strbuf__addf(j, ",\"%s\":", keys[i][0]);
		json_cstr(j, keys[i][1]);
	}
	strbuf__addlit(j, ",\"accessor\":");
	if (sum->function[0]) {
		struct frame_info fi = { .function = sum->function, .file = sum->file,
					 .line = sum->line };

		json_frame(j, &fi);
	} else {
		strbuf__addlit(j, "null");
	}
	strbuf__addlit(j, "}\n");
}

/*
 * One finding of inspect's for process t, as a record: what `inspect
 * --format json` says of it, with "kind":"prediction" and the process.
 */
static void json_prediction(struct strbuf *j, const struct target *t,
			    const struct inspection *in, const struct inspect_finding *f)
{
	struct frame_info reader = { .function = f->reader.function, .file = f->reader.file,
				     .line = f->reader.line };
	const struct inspect_app *a = f->app < in->napps ? &in->apps[f->app] : NULL;
	struct timespec now;
	struct tm tm;
	char ts[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	strbuf__reset(j);
	strbuf__addf(j, "{\"ts\":\"%s.%06ldZ\",\"kind\":\"prediction\",\"pid\":%d,\"ns_pid\":%d,",
		     ts, now.tv_nsec / 1000, t->pid, t->ns_pid);
	strbuf__addlit(j, "\"service\":");
	json_cstr(j, t->service);
	json_identity(j, &t->id);
	strbuf__addf(j, ",\"python\":\"%s\",\"cause\":", t->python);
	json_cstr(j, diagnose__cause_name(f->cause));
	strbuf__addlit(j, ",\"reader\":");
	json_frame(j, &reader);
	strbuf__addlit(j, ",\"app\":");
	if (a) {
		strbuf__addlit(j, "{\"class\":");
		json_cstr(j, a->name);
		strbuf__addlit(j, ",\"mount\":");
		json_cstr(j, a->mount);
		strbuf__addc(j, '}');
	} else {
		strbuf__addlit(j, "null");
	}
	strbuf__addlit(j, ",\"route\":");
	if (f->middleware)
		strbuf__addlit(j, "null");
	else
		json_cstr(j, f->route);
	strbuf__addlit(j, ",\"hint\":");
	json_cstr(j, f->hint);
	strbuf__addlit(j, "}\n");
}

/* Write what r->json holds, with the write-failure accounting. */
static int record_write(struct record_sink *r)
{
	int err = r->json.oom ? -ENOMEM : jsonlog__write(r->log, r->json.buf, r->json.len);

	if (err) {
		/* once per failing streak, not once per record */
		if (!r->failing)
			pr_warn("cannot write records to %s: %s (hits are still counted; retrying "
				"with each record)\n", r->path, strerror(-err));
		r->failing = true;
		r->write_errors++;
	} else if (r->failing) {
		r->failing = false;
		pr_warn("writing records to %s again (%llu not written so far)\n", r->path,
			r->write_errors);
	}
	return err;
}

static int record_emit(struct sink *s, const struct hit *h, const struct diagnosis *dg)
{
	struct record_sink *r = (struct record_sink *)s;

	json_record(&r->json, h, dg);
	return record_write(r);
}

static void record_predict(struct sink *s, const struct target *t, const struct inspection *in)
{
	struct record_sink *r = (struct record_sink *)s;
	unsigned i;

	/* not hits: a write that fails is said with -v, not counted with the records */
	for (i = 0; i < in->nfindings; i++) {
		int err;

		json_prediction(&r->json, t, in, &in->findings[i]);
		err = r->json.oom ? -ENOMEM : jsonlog__write(r->log, r->json.buf, r->json.len);
		if (err)
			pr_debug("pid %d: a prediction not written to %s: %s\n", t->pid, r->path,
				 strerror(-err));
	}
}

static void record_summary(struct sink *s, const struct limit_summary *sum)
{
	struct record_sink *r = (struct record_sink *)s;

	json_summary(&r->json, sum);
	record_write(r);
}

static int record_reopen(struct sink *s)
{
	struct record_sink *r = (struct record_sink *)s;
	int err = jsonlog__reopen(r->log);

	if (err)
		pr_warn("SIGHUP: cannot reopen %s: %s\n", r->path, strerror(-err));
	else
		pr_debug("SIGHUP: reopened %s\n", r->path);
	return err;
}

static void record_delegate(struct sink *s, const struct jsonlog_files *files)
{
	jsonlog__delegate(((struct record_sink *)s)->log, files);
}

static void record_finish(struct sink *s, unsigned long long records)
{
	struct record_sink *r = (struct record_sink *)s;

	if (r->write_errors)
		fprintf(stderr, "sessiontrace: %llu of the %llu records could not be written to "
			"%s\n", r->write_errors, records, r->path);
}

static void record_free(struct sink *s)
{
	struct record_sink *r = (struct record_sink *)s;

	jsonlog__close(r->log);
	strbuf__free(&r->json);
	free(r->path);
	free(r);
}

struct sink *record_sink__new(const char *path, unsigned long long max_size, unsigned keep,
			      char *err, size_t errsz)
{
	struct record_sink *r = calloc(1, sizeof(*r));

	if (!r || !(r->path = strdup(path))) {
		snprintf(err, errsz, "out of memory");
		free(r);
		return NULL;
	}
	r->log = jsonlog__open(path, max_size, keep, err, errsz);
	if (!r->log) {
		free(r->path);
		free(r);
		return NULL;
	}
	strbuf__init(&r->json);
	r->sink = (struct sink){ .emit = record_emit, .summary = record_summary,
				 .predict = record_predict,
				 .reopen = record_reopen, .delegate = record_delegate,
				 .finish = record_finish,
				 .free = record_free };
	return &r->sink;
}
