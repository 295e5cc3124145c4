// SPDX-License-Identifier: BSD-2-Clause
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "decode/hit.h"
#include "util/ascii.h"
#include "resolve/props.h"
#include "memory/pystr.h"
#include "resolve/target.h"

/* Library code around the application: never the "accessor". */
static const char *const framework_parts[] = {
	"/starlette/", "/fastapi/", "/anyio/", "/uvicorn/", "/asyncio/", "/concurrent/",
	"/threading.py", "/gunicorn/", "/hypercorn/", "/uvloop/", "/h11/", "/httptools/",
};

bool hit__is_framework_file(const char *file)
{
	size_t i;

	if (!file || !strcmp(file, "?"))
		return true;
	for (i = 0; i < sizeof(framework_parts) / sizeof(framework_parts[0]); i++)
		if (strstr(file, framework_parts[i]))
			return true;
	return false;
}

/* One copied str; data holds at most cap bytes whatever the header says. */
static void decode_str(const struct st_str_hdr *h, const char *data, size_t cap,
		       struct hit_str *out)
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

static void set_str(struct hit_str *out, const char *fmt, const char *arg)
{
	out->len = snprintf(out->s, sizeof(out->s), fmt, arg);
	out->present = true;
	out->truncated = false;
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

/*
 * A failing assert seen by the assert probe, or a KeyError('session')
 * (python -O), is the failure only when raised by the property itself: the
 * top frame is starlette's HTTPConnection.<name>.
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

static void decode_strings(struct hit *h, const struct st_event *ev)
{
	decode_str(&ev->msg_h, ev->msg, sizeof(ev->msg), &h->msg);
	decode_str(&ev->type_h, ev->type, sizeof(ev->type), &h->type);
	decode_str(&ev->method_h, ev->method, sizeof(ev->method), &h->method);
	decode_str(&ev->path_h, ev->path, sizeof(ev->path), &h->path);
	decode_str(&ev->root_h, ev->root, sizeof(ev->root), &h->root);
	decode_str(&ev->client_h, ev->client, sizeof(ev->client), &h->client);
	/* the header's raw bytes, kept only when valid (a client chose them) */
	h->trace_id[0] = h->parent_span_id[0] = '\0';
	if ((ev->flags & ST_EV_REQUEST) && (ev->traceparent_h.flags & ST_STR_PRESENT) &&
	    !(ev->traceparent_h.flags & (ST_STR_TRUNCATED | ST_STR_BADTYPE)) &&
	    ev->traceparent_h.kind == 1)
		hit__traceparent(ev->traceparent, ev->traceparent_h.nbytes < sizeof(ev->traceparent) ?
				 ev->traceparent_h.nbytes : sizeof(ev->traceparent),
				 h->trace_id, h->parent_span_id);
	/* a scope without a path (a Request built by hand) is no request */
	h->request = (ev->flags & ST_EV_REQUEST) && h->path.present;
	if ((ev->flags & ST_EV_CLIENT) && h->client.present) {
		char port[16];
		int pn = snprintf(port, sizeof(port), ":%u", ev->client_port);

		if (h->client.len + pn < sizeof(h->client.s)) {
			memcpy(h->client.s + h->client.len, port, pn + 1);
			h->client.len += pn;
		}
	}
}

/* s[0..n) are n lower-case hex digits, not all '0'. */
static bool hex_id(const char *s, size_t n)
{
	return ascii__lower_hex_n(s, n) && strspn(s, "0") < n;
}

bool hit__traceparent(const char *s, size_t n, char trace_id[33], char parent_span_id[17])
{
	trace_id[0] = parent_span_id[0] = '\0';
	/* "vv-" 32 "-" 16 "-" "ff": 55 bytes; version ff is invalid, 00 exactly 55 bytes */
	if (n < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' ||
	    !ascii__lower_hex_n(s, 2) || !memcmp(s, "ff", 2) ||
	    (!memcmp(s, "00", 2) ? n != 55 : n > 55 && s[55] != '-') ||
	    !hex_id(s + 3, 32) || !hex_id(s + 36, 16) || !ascii__lower_hex_n(s + 53, 2))
		return false;
	memcpy(trace_id, s + 3, 32);
	trace_id[32] = '\0';
	memcpy(parent_span_id, s + 36, 16);
	parent_span_id[16] = '\0';
	return true;
}

static void symbolize(struct hit *h, struct symbolizer *s, const struct st_event *ev)
{
	unsigned i;

	h->nframes = ev->nframes < ST_MAX_FRAMES ? ev->nframes : ST_MAX_FRAMES;
	h->accessor = -1;
	for (i = 0; i < h->nframes; i++) {
		struct st_frame f = ev->frames[i];

		if (i == 0 && ev->pattern == ST_NPROPS)
			symbolizer__assert_raise_site(s, &f);
		symbolizer__frame(s, &f, &h->frames[i]);
		if (h->accessor < 0 && !hit__is_framework_file(h->frames[i].file))
			h->accessor = i;
	}
}

/*
 * Which property failed. The raise probe read it from the message; the
 * assert probe saw a failing assert before its message exists: a hit only
 * when the property itself asserted (top frame), the message then its own.
 */
static bool which_property(struct hit *h, const struct st_event *ev, unsigned kinds,
			   enum drop_reason *why)
{
	unsigned p;

	if (ev->pattern != ST_NPROPS) {
		h->prop = ev->pattern;
		return true;
	}
	for (p = 0; p < ST_NPROPS; p++)
		if (h->nframes && raised_by_property(&h->frames[0], props__name(p)))
			break;
	if (p == ST_NPROPS || !(kinds & (1U << p))) {
		*why = p == ST_NPROPS ? DROP_LOOK_ALIKE : DROP_KIND_FILTERED;
		return false;
	}
	h->prop = p;
	set_str(&h->msg, "%s", props__message(p));
	return true;
}

bool hit__decode(struct hit *h, const struct target *t, struct symbolizer *s,
		 const struct st_event *ev, enum drop_reason *why)
{
	h->ev = ev;
	h->t = t;
	format_ts(ev, h->ts, sizeof(h->ts));
	memcpy(h->comm, ev->comm, sizeof(ev->comm));
	h->comm[sizeof(ev->comm)] = 0;
	decode_strings(h, ev);
	if (ev->pattern > ST_NPROPS || ev->exc_kind > ST_EXC_KEYERROR) {
		*why = DROP_MALFORMED;
		return false;
	}
	symbolize(h, s, ev);
	if (!which_property(h, ev, t->bpf.kinds, why))
		return false;
	h->exc_type = "AssertionError";
	if (ev->exc_kind == ST_EXC_KEYERROR) {
		if (!h->nframes || !raised_by_property(&h->frames[0], props__name(h->prop))) {
			*why = DROP_LOOK_ALIKE;
			return false;
		}
		/* str(KeyError('session')) */
		set_str(&h->msg, "'%s'", props__name(h->prop));
		h->exc_type = "KeyError";
	}
	return true;
}
