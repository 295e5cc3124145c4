// SPDX-License-Identifier: BSD-2-Clause
/* The human report of a hit, on a terminal: every string from the target escaped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "decode/hit.h"
#include "resolve/props.h"
#include "diagnose/diagnose.h"
#include "resolve/target.h"
#include "sink/limit.h"
#include "sink/sink.h"
#include "util/escape.h"

struct console_sink {
	struct sink sink;
	FILE *out;
	struct strbuf text;
};

static void text_cstr(struct strbuf *x, const char *s)
{
	escape__term(x, s, strlen(s));
}

static void text_str(struct strbuf *x, const struct hit_str *d)
{
	escape__term(x, d->s, d->len);
	if (d->truncated)
		strbuf__addlit(x, "...[truncated]");
}

/* "\n    app NAME mounted at M (serving this request)" */
static void text_app(struct strbuf *x, const struct diagnosis *dg, unsigned app)
{
	const struct diag_app *a = &dg->apps[app];

	strbuf__addlit(x, "\n    app ");
	text_cstr(x, a->name);
	if (a->mount[0]) {
		strbuf__addlit(x, " mounted at ");
		text_cstr(x, a->mount);
	}
	if ((int)app == dg->serving)
		strbuf__addlit(x, " (serving this request)");
	if (!a->built)
		strbuf__addlit(x, " (not started: stack from user_middleware)");
}

/* The middleware stack as the request met it, where the property was read. */
static void text_chain(struct strbuf *x, const struct hit *h, const struct diagnosis *dg)
{
	const char *need = diagnose__required_name(dg->prop);
	char here[512] = "";
	unsigned i;
	int app = -1;

	if (dg->touched_frame >= 0 && (unsigned)dg->touched_frame < h->nframes) {
		const struct frame_info *f = &h->frames[dg->touched_frame];

		snprintf(here, sizeof(here), " (%s, %s:%d)", f->function, f->file, f->line);
	}
	strbuf__addlit(x, "\n  middleware (outermost first):");
	for (i = 0; i <= dg->nmw; i++) {
		const struct diag_mw *m = i < dg->nmw ? &dg->mw[i] : NULL;

		if (m && (int)m->app != app)
			text_app(x, dg, app = m->app);
		strbuf__addlit(x, "\n      ");
		if (m) {
			text_cstr(x, m->name);
			if (m->mount)
				strbuf__addlit(x, " [Mount middleware]");
			if ((int)i == dg->required)
				strbuf__addf(x, "   <== %s", need);
		} else {
			strbuf__addlit(x, "router -> endpoint");
		}
		if ((int)i == dg->touched) {
			strbuf__addf(x, "   <-- request.%s read here", props__name(h->prop));
			text_cstr(x, here);
		}
	}
	if (dg->mw_truncated)
		strbuf__addlit(x, "\n      ... (chain not fully read)");
	if (dg->required < 0) {
		strbuf__addf(x, "\n    no %s on this path", need);
		if (dg->elsewhere != DIAG_WHERE_NONE) {
			strbuf__addlit(x, "; installed on the ");
			text_cstr(x, dg->elsewhere_app);
			strbuf__addlit(x, " app at '");
			text_cstr(x, dg->elsewhere_mount);
			strbuf__addc(x, '\'');
		}
	}
}

static void text_diagnosis(struct strbuf *x, const struct hit *h, const struct diagnosis *dg)
{
	strbuf__addlit(x, "\n  cause:    ");
	text_cstr(x, diagnose__cause_name(dg->cause));
	strbuf__addlit(x, "\n  hint:     ");
	text_cstr(x, dg->hint);
	strbuf__addlit(x, "\n  route:    ");
	text_cstr(x, dg->route);
	if (dg->app_known)
		text_chain(x, h, dg);
}

static void text_head(struct strbuf *x, const struct hit *h)
{
	const struct target *t = h->t;

	strbuf__addf(x, "%s pid=%u", h->ts, h->ev->pid);
	if (t->ns_pid != (pid_t)h->ev->pid)
		strbuf__addf(x, " (pid %d in its namespace)", t->ns_pid);
	strbuf__addf(x, " tid=%u python=%s service=", h->ev->tid, t->python);
	text_cstr(x, t->service);
	if (t->id.container_id[0] || t->id.pod_uid[0] || t->id.hostname[0]) {
		strbuf__addlit(x, "\n  where:    ");
		if (t->id.container_id[0])
			strbuf__addf(x, "container %.12s%s%s%s ", t->id.container_id,
				     t->id.runtime[0] ? " (" : "", t->id.runtime,
				     t->id.runtime[0] ? ")" : "");
		if (t->id.pod_uid[0])
			strbuf__addf(x, "pod %s ", t->id.pod_uid);
		if (t->id.hostname[0])
			strbuf__addf(x, "host %s", t->id.hostname);
	}
	strbuf__addf(x, "\n  %s: ", h->exc_type);
	text_str(x, &h->msg);
	strbuf__addlit(x, "\n  request:  ");
	if (h->request) {
		text_str(x, &h->method);
		strbuf__addc(x, ' ');
		if (h->root.len) {
			text_str(x, &h->root);
			strbuf__addc(x, ' ');
		}
		text_str(x, &h->path);
		strbuf__addlit(x, " from ");
		text_str(x, &h->client);
		if (h->trace_id[0])
			strbuf__addf(x, "\n  trace:    %s (parent span %s)", h->trace_id,
				     h->parent_span_id);
	} else {
		strbuf__addlit(x, "none (raised outside a request)");
	}
	strbuf__addlit(x, "\n  accessor: ");
	if (h->accessor >= 0) {
		const struct frame_info *f = &h->frames[h->accessor];

		text_cstr(x, f->function);
		strbuf__addlit(x, " at ");
		text_cstr(x, f->file);
		strbuf__addf(x, ":%d", f->line);
	} else {
		strbuf__addlit(x, "unknown");
	}
}

static void text_traceback(struct strbuf *x, const struct hit *h)
{
	unsigned i;

	strbuf__addlit(x, "\n  Traceback (most recent call last):\n");
	if (h->ev->flags & ST_EV_FRAMES_TRUNCATED)
		strbuf__addf(x, "    ... outer frames beyond %d not captured\n", ST_MAX_FRAMES);
	for (i = h->nframes; i-- > 0;) {
		strbuf__addlit(x, "    File \"");
		text_cstr(x, h->frames[i].file);
		strbuf__addf(x, "\", line %d, in ", h->frames[i].line);
		text_cstr(x, h->frames[i].function);
		if ((int)i == h->accessor)
			strbuf__addlit(x, "   <-- accessor");
		strbuf__addc(x, '\n');
	}
	strbuf__addc(x, '\n');
}

static int console_emit(struct sink *s, const struct hit *h, const struct diagnosis *dg)
{
	struct console_sink *c = (struct console_sink *)s;
	struct strbuf *x = &c->text;

	strbuf__reset(x);
	text_head(x, h);
	text_diagnosis(x, h, dg);
	text_traceback(x, h);
	if (x->oom)
		return -ENOMEM;
	fwrite(x->buf, 1, x->len, c->out);
	fflush(c->out);
	return 0;
}

static void console_summary(struct sink *s, const struct limit_summary *sum)
{
	struct console_sink *c = (struct console_sink *)s;
	struct strbuf *x = &c->text;
	const char *const parts[][2] = {
		{ "", sum->property }, { ", service ", sum->service },
		{ ", route ", sum->route }, { ", cause ", sum->cause },
	};
	size_t i;

	strbuf__reset(x);
	strbuf__addf(x, "%llu more like this (", sum->count);
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		strbuf__add(x, parts[i][0], strlen(parts[i][0]));
		text_cstr(x, parts[i][1]);
	}
	strbuf__addf(x, ") from %s to %s, over the record rate\n\n", sum->since, sum->until);
	if (x->oom)
		return;
	fwrite(x->buf, 1, x->len, c->out);
	fflush(c->out);
}

static void console_free(struct sink *s)
{
	struct console_sink *c = (struct console_sink *)s;

	strbuf__free(&c->text);
	free(c);
}

struct sink *console_sink__new(FILE *out)
{
	struct console_sink *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->out = out;
	strbuf__init(&c->text);
	c->sink = (struct sink){ .emit = console_emit, .summary = console_summary,
				 .free = console_free };
	return &c->sink;
}
