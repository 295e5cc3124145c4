// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "diagnose/diagnose.h"
#include "sink/jsonlog.h"
#include "util/escape.h"
#include "decode/props.h"
#include "decode/pystr.h"
#include <linux/types.h>
#include "decode/drops.h"
#include "decode/report.h"
#include "resolve/target.h"

/* UTF-8 of the longest str we copy: 4 bytes per latin-1/UCS-2/UCS-4 unit at most. */
#define STR_OUT_MAX (ST_PATH_MAX * 4 + 1)

struct report {
	FILE *console;
	struct jsonlog *out;
	struct strbuf json, text;
	struct diagnose *diag;
	struct report_labels labels;
};

/* Library code around the application: never the "accessor". */
static const char *const framework_parts[] = {
	"/starlette/", "/fastapi/", "/anyio/", "/uvicorn/", "/asyncio/", "/concurrent/",
	"/threading.py", "/gunicorn/", "/hypercorn/", "/uvloop/", "/h11/", "/httptools/",
};

bool report__is_framework_file(const char *file)
{
	size_t i;

	if (!file || !strcmp(file, "?"))
		return true;
	for (i = 0; i < sizeof(framework_parts) / sizeof(framework_parts[0]); i++)
		if (strstr(file, framework_parts[i]))
			return true;
	return false;
}

struct report *report__new(FILE *console, struct jsonlog *json)
{
	struct report *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->diag = diagnose__new();
	if (!r->diag) {
		free(r);
		return NULL;
	}
	r->console = console;
	r->out = json;
	strbuf__init(&r->json);
	strbuf__init(&r->text);
	return r;
}

void report__free(struct report *r)
{
	if (!r)
		return;
	strbuf__free(&r->json);
	strbuf__free(&r->text);
	diagnose__free(r->diag);
	free(r);
}

struct dstr {
	char s[STR_OUT_MAX];
	size_t len;
	bool present, truncated;
};

/* Decode one copied str; data holds at most cap bytes whatever the header says. */
static void decode(const struct st_str_hdr *h, const char *data, size_t cap, struct dstr *out)
{
	size_t n = (size_t)h->nbytes < cap ? (size_t)h->nbytes : cap;

	out->len = 0;
	out->s[0] = 0;
	out->present = h->flags & ST_STR_PRESENT;
	out->truncated = h->flags & ST_STR_TRUNCATED;
	if (!out->present)
		return;
	out->len = pystr__to_utf8(data, n, h->kind, out->s, sizeof(out->s), &out->truncated);
}

/*
 * ev->ts_ns is CLOCK_MONOTONIC (bpf_ktime_get_ns). A record is never from
 * the future: a value beyond now (a corrupt record) is shown as now.
 */
static void format_ts(const struct st_event *ev, char *buf, size_t sz)
{
	struct timespec mono, real;
	unsigned long long now_mono, ts, age, real_ns, ns;
	time_t sec;
	struct tm tm;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	now_mono = (unsigned long long)mono.tv_sec * 1000000000ULL + (unsigned long long)mono.tv_nsec;
	real_ns = (unsigned long long)real.tv_sec * 1000000000ULL + (unsigned long long)real.tv_nsec;
	ts = ev->ts_ns <= now_mono ? ev->ts_ns : now_mono;
	age = now_mono - ts;
	ns = age <= real_ns ? real_ns - age : 0;
	sec = (time_t)(ns / 1000000000ULL);
	if (!gmtime_r(&sec, &tm)) {
		snprintf(buf, sz, "1970-01-01T00:00:00.000000Z");
		return;
	}
	snprintf(buf, sz, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)((ns % 1000000000ULL) / 1000));
}

static void json_key(struct strbuf *sb, const char *key, const struct dstr *d)
{
	strbuf__addf(sb, "\"%s\":", key);
	if (d->present)
		escape__json(sb, d->s, d->len);
	else
		strbuf__add(sb, "null", 4);
}

static void json_frame(struct strbuf *sb, const struct frame_info *fi)
{
	strbuf__add(sb, "{\"function\":", 12);
	escape__json(sb, fi->function, strlen(fi->function));
	strbuf__add(sb, ",\"file\":", 8);
	escape__json(sb, fi->file, strlen(fi->file));
	if (fi->line >= 0)
		strbuf__addf(sb, ",\"line\":%d}", fi->line);
	else
		strbuf__add(sb, ",\"line\":null}", 13);
}

static void text_str(struct strbuf *sb, const struct dstr *d)
{
	escape__term(sb, d->s, d->len);
	if (d->truncated)
		strbuf__add(sb, "...[truncated]", 14);
}

/*
 * A KeyError('session') (python -O) is the failure only when raised by the
 * property itself: the top frame is starlette's HTTPConnection.<name>.
 */
static bool raised_by_property(const struct frame_info *top, const char *name)
{
	const char *fn = top->function, *dot = strrchr(fn, '.');
	size_t fl = strlen(top->file), sl = strlen("/starlette/requests.py");

	if (fl < sl || strcmp(top->file + fl - sl, "/starlette/requests.py"))
		return false;
	/* 3.11+: co_qualname "HTTPConnection.session"; 3.10: co_name "session" */
	return !strcmp(dot ? dot + 1 : fn, name) &&
	       (!dot || !strncmp(fn, "HTTPConnection.", strlen("HTTPConnection.")));
}

/* Append a string literal (its length known at compile time). */
#define ADD_LIT(sb, lit) strbuf__add(sb, lit, sizeof(lit) - 1)

static void json_cstr(struct strbuf *sb, const char *s)
{
	escape__json(sb, s, strlen(s));
}

static void json_diagnosis(struct strbuf *j, const struct diagnosis *dg)
{
	unsigned i;

	ADD_LIT(j, ",\"app\":");
	if (dg->serving >= 0 && (unsigned)dg->serving < dg->napps) {
		const struct diag_app *a = &dg->apps[dg->serving];

		ADD_LIT(j, "{\"class\":");
		json_cstr(j, a->name);
		ADD_LIT(j, ",\"mount\":");
		json_cstr(j, a->mount);
		strbuf__addc(j, '}');
	} else {
		ADD_LIT(j, "null");
	}
	ADD_LIT(j, ",\"route\":");
	json_cstr(j, dg->route);
	ADD_LIT(j, ",\"apps\":[");
	for (i = 0; i < dg->napps; i++) {
		if (i)
			strbuf__addc(j, ',');
		ADD_LIT(j, "{\"class\":");
		json_cstr(j, dg->apps[i].name);
		ADD_LIT(j, ",\"mount\":");
		json_cstr(j, dg->apps[i].mount);
		strbuf__addf(j, ",\"built\":%s}", dg->apps[i].built ? "true" : "false");
	}
	ADD_LIT(j, "],\"middleware\":[");
	for (i = 0; i < dg->nmw; i++) {
		if (i)
			strbuf__addc(j, ',');
		json_cstr(j, dg->mw[i].name);
	}
	strbuf__addc(j, ']');
	if (dg->mw_truncated)
		ADD_LIT(j, ",\"middleware_truncated\":true");
	ADD_LIT(j, ",\"read_in\":");
	if (!dg->app_known || dg->touched < 0)
		ADD_LIT(j, "null");
	else if ((unsigned)dg->touched < dg->nmw)
		json_cstr(j, dg->mw[dg->touched].name);
	else
		ADD_LIT(j, "\"router\"");
	/* where the needed middleware is, when not on this path */
	ADD_LIT(j, ",\"installed_on\":");
	if (dg->elsewhere != DIAG_WHERE_NONE) {
		ADD_LIT(j, "{\"class\":");
		json_cstr(j, dg->elsewhere_app);
		ADD_LIT(j, ",\"mount\":");
		json_cstr(j, dg->elsewhere_mount);
		strbuf__addc(j, '}');
	} else {
		ADD_LIT(j, "null");
	}
	ADD_LIT(j, ",\"cause\":");
	json_cstr(j, diagnose__cause_name(dg->cause));
	ADD_LIT(j, ",\"hint\":");
	json_cstr(j, dg->hint);
}

static void text_cstr(struct strbuf *x, const char *s)
{
	escape__term(x, s, strlen(s));
}

/* The middleware stack as the request met it, where the property was read. */
static void text_diagnosis(struct strbuf *x, const struct diagnosis *dg, const char *prop,
			   const struct frame_info *frames, unsigned n)
{
	const char *need = diagnose__required_name(dg->prop);
	char here[512];
	unsigned i;
	int app = -1;

	ADD_LIT(x, "\n  cause:    ");
	text_cstr(x, diagnose__cause_name(dg->cause));
	ADD_LIT(x, "\n  hint:     ");
	text_cstr(x, dg->hint);
	ADD_LIT(x, "\n  route:    ");
	text_cstr(x, dg->route);
	if (!dg->app_known)
		return;
	here[0] = 0;
	if (dg->touched_frame >= 0 && (unsigned)dg->touched_frame < n) {
		const struct frame_info *f = &frames[dg->touched_frame];

		snprintf(here, sizeof(here), " (%s, %s:%d)", f->function, f->file, f->line);
	}
	ADD_LIT(x, "\n  middleware (outermost first):");
	for (i = 0; i <= dg->nmw; i++) {
		const struct diag_mw *m = i < dg->nmw ? &dg->mw[i] : NULL;

		if (m && (int)m->app != app) {
			const struct diag_app *a = &dg->apps[m->app];

			app = m->app;
			ADD_LIT(x, "\n    app ");
			text_cstr(x, a->name);
			if (a->mount[0]) {
				ADD_LIT(x, " mounted at ");
				text_cstr(x, a->mount);
			}
			if ((int)m->app == dg->serving)
				ADD_LIT(x, " (serving this request)");
			if (!a->built)
				ADD_LIT(x, " (not started: stack from user_middleware)");
		}
		ADD_LIT(x, "\n      ");
		if (m) {
			text_cstr(x, m->name);
			if (m->mount)
				ADD_LIT(x, " [Mount middleware]");
			if ((int)i == dg->required)
				strbuf__addf(x, "   <== %s", need);
		} else {
			ADD_LIT(x, "router -> endpoint");
		}
		if ((int)i == dg->touched) {
			strbuf__addf(x, "   <-- request.%s read here", prop);
			escape__term(x, here, strlen(here));
		}
	}
	if (dg->mw_truncated)
		ADD_LIT(x, "\n      ... (chain not fully read)");
	if (dg->required < 0) {
		strbuf__addf(x, "\n    no %s on this path", need);
		if (dg->elsewhere != DIAG_WHERE_NONE) {
			ADD_LIT(x, "; installed on the ");
			text_cstr(x, dg->elsewhere_app);
			ADD_LIT(x, " app at '");
			text_cstr(x, dg->elsewhere_mount);
			strbuf__addc(x, '\'');
		}
	}
}

int report__event(struct report *r, struct target *t, const struct st_event *ev, int *drop)
{
	static struct diagnosis dg;
	static struct dstr msg, type, method, path, root, client;
	struct frame_info frames[ST_MAX_FRAMES];
	struct strbuf *j = &r->json, *x = &r->text;
	unsigned i, n = ev->nframes < ST_MAX_FRAMES ? ev->nframes : ST_MAX_FRAMES;
	int accessor = -1, err = 0;
	const char *prop, *exc_type;
	bool req;
	char ts[64], comm[sizeof(ev->comm) + 1];

	*drop = -1;
	format_ts(ev, ts, sizeof(ts));
	memcpy(comm, ev->comm, sizeof(ev->comm));
	comm[sizeof(ev->comm)] = 0;
	decode(&ev->msg_h, ev->msg, sizeof(ev->msg), &msg);
	decode(&ev->type_h, ev->type, sizeof(ev->type), &type);
	decode(&ev->method_h, ev->method, sizeof(ev->method), &method);
	decode(&ev->path_h, ev->path, sizeof(ev->path), &path);
	decode(&ev->root_h, ev->root, sizeof(ev->root), &root);
	decode(&ev->client_h, ev->client, sizeof(ev->client), &client);
	/* a scope without a path (a Request built by hand) is no request */
	req = (ev->flags & ST_EV_REQUEST) && path.present;
	if ((ev->flags & ST_EV_CLIENT) && client.present) {
		char port[16];
		int pn = snprintf(port, sizeof(port), ":%u", ev->client_port);

		if (client.len + pn < sizeof(client.s)) {
			memcpy(client.s + client.len, port, pn + 1);
			client.len += pn;
		}
	}
	if (ev->pattern > ST_NPROPS || ev->exc_kind > ST_EXC_KEYERROR) {
		*drop = DROP_MALFORMED;
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct st_frame f = ev->frames[i];

		if (i == 0 && ev->pattern == ST_NPROPS)
			target__assert_raise_site(t, &f);
		target__frame(t, &f, &frames[i]);
		if (accessor < 0 && !report__is_framework_file(frames[i].file))
			accessor = i;
	}
	if (ev->pattern == ST_NPROPS) {
		unsigned p;

		/*
		 * The assert probe saw a failing assert before its message exists:
		 * a hit only when the property itself asserted (top frame).
		 */
		for (p = 0; p < ST_NPROPS; p++)
			if (n && raised_by_property(&frames[0], st_prop_names[p]))
				break;
		if (p == ST_NPROPS || !(t->bpf.kinds & (1U << p))) {
			*drop = p == ST_NPROPS ? DROP_LOOK_ALIKE : DROP_KIND_FILTERED;
			return 0;
		}
		prop = st_prop_names[p];
		msg.len = snprintf(msg.s, sizeof(msg.s), "%s", st_prop_messages[p]);
		msg.present = true;
		msg.truncated = false;
	} else {
		prop = st_prop_names[ev->pattern];
	}
	if (ev->exc_kind == ST_EXC_KEYERROR) {
		if (!n || !raised_by_property(&frames[0], prop)) {
			*drop = DROP_LOOK_ALIKE;
			return 0;
		}
		/* str(KeyError('session')) */
		msg.len = snprintf(msg.s, sizeof(msg.s), "'%s'", prop);
		msg.present = true;
		msg.truncated = false;
	}
	exc_type = ev->exc_kind == ST_EXC_KEYERROR ? "KeyError" : "AssertionError";
	err = diagnose__event(r->diag, t, ev, frames, n, &dg);
	if (err) {
		*drop = DROP_OUT_OF_MEMORY;
		return 0;
	}

	strbuf__reset(j);
	strbuf__addf(j, "{\"ts\":\"%s\",\"pid\":%u,\"ns_pid\":%d,\"tid\":%u,\"comm\":", ts,
		    ev->pid, t->ns_pid, ev->tid);
	escape__json(j, comm, strlen(comm));
	strbuf__add(j, ",\"service\":", 11);
	escape__json(j, t->service, strlen(t->service));
	strbuf__addf(j, ",\"python\":\"%s\",\"property\":\"%s\",\"exception\":{\"type\":\"%s\",",
		    t->python, prop, exc_type);
	json_key(j, "message", &msg);
	strbuf__add(j, "},\"request\":", 12);
	if (req) {
		strbuf__addc(j, '{');
		json_key(j, "type", &type);
		strbuf__addc(j, ',');
		json_key(j, "method", &method);
		strbuf__addc(j, ',');
		json_key(j, "path", &path);
		if (path.truncated)
			strbuf__add(j, ",\"path_truncated\":true", 22);
		strbuf__addc(j, ',');
		json_key(j, "root_path", &root);
		strbuf__addc(j, ',');
		json_key(j, "client", &client);
		strbuf__addc(j, '}');
	} else {
		strbuf__add(j, "null", 4);
	}
	strbuf__add(j, ",\"stack\":[", 10);
	for (i = 0; i < n; i++) {
		if (i)
			strbuf__addc(j, ',');
		json_frame(j, &frames[i]);
	}
	strbuf__addc(j, ']');
	if (ev->flags & ST_EV_FRAMES_TRUNCATED)
		strbuf__add(j, ",\"stack_truncated\":true", 23);
	strbuf__add(j, ",\"accessor\":", 12);
	if (accessor >= 0)
		json_frame(j, &frames[accessor]);
	else
		strbuf__add(j, "null", 4);
	json_diagnosis(j, &dg);
	r->labels.route = dg.route;
	r->labels.method = req && method.present ? method.s : "";
	r->labels.cause = diagnose__cause_name(dg.cause);
	strbuf__add(j, "}\n", 2);
	if (j->oom) {
		*drop = DROP_OUT_OF_MEMORY;
		return 0;
	}
	if (r->out)
		err = jsonlog__write(r->out, j->buf, j->len);

	if (!r->console)
		return err;
	strbuf__reset(x);
	strbuf__addf(x, "%s pid=%u", ts, ev->pid);
	if (t->ns_pid != (pid_t)ev->pid)
		strbuf__addf(x, " (pid %d in its namespace)", t->ns_pid);
	strbuf__addf(x, " tid=%u python=%s service=", ev->tid, t->python);
	escape__term(x, t->service, strlen(t->service));
	strbuf__addf(x, "\n  %s: ", exc_type);
	text_str(x, &msg);
	strbuf__add(x, "\n  request:  ", 13);
	if (req) {
		text_str(x, &method);
		strbuf__addc(x, ' ');
		if (root.len) {
			text_str(x, &root);
			strbuf__addc(x, ' ');
		}
		text_str(x, &path);
		strbuf__add(x, " from ", 6);
		text_str(x, &client);
	} else {
		strbuf__add(x, "none (raised outside a request)", 31);
	}
	strbuf__add(x, "\n  accessor: ", 13);
	if (accessor >= 0) {
		escape__term(x, frames[accessor].function, strlen(frames[accessor].function));
		strbuf__add(x, " at ", 4);
		escape__term(x, frames[accessor].file, strlen(frames[accessor].file));
		strbuf__addf(x, ":%d", frames[accessor].line);
	} else {
		strbuf__add(x, "unknown", 7);
	}
	text_diagnosis(x, &dg, prop, frames, n);
	strbuf__add(x, "\n  Traceback (most recent call last):\n", 38);
	if (ev->flags & ST_EV_FRAMES_TRUNCATED)
		strbuf__addf(x, "    ... outer frames beyond %d not captured\n", ST_MAX_FRAMES);
	for (i = n; i-- > 0;) {
		strbuf__add(x, "    File \"", 10);
		escape__term(x, frames[i].file, strlen(frames[i].file));
		strbuf__addf(x, "\", line %d, in ", frames[i].line);
		escape__term(x, frames[i].function, strlen(frames[i].function));
		strbuf__add(x, (int)i == accessor ? "   <-- accessor\n" : "\n",
			   (int)i == accessor ? 16 : 1);
	}
	strbuf__addc(x, '\n');
	if (!x->oom) {
		fwrite(x->buf, 1, x->len, r->console);
		fflush(r->console);
	}
	return err;
}

void report__labels(const struct report *r, struct report_labels *out)
{
	*out = r->labels;
}
