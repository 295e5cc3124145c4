/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A BPF record decoded: is it the failure sessiontrace looks for (a hit),
 * and if so its strings as UTF-8, its frames symbolized, and the code of the
 * application that read the property. What sinks and the diagnosis read.
 */
#ifndef ST_HIT_H
#define ST_HIT_H
#include <stdbool.h>
#include <stddef.h>
#include "decode/drops.h"
#include "decode/symbolizer.h"
#include <linux/types.h>
#include "sessiontrace.h"

struct target;

/* UTF-8 of the longest str copied: 4 bytes per latin-1/UCS-2/UCS-4 unit at most. */
#define HIT_STR_MAX (ST_PATH_MAX * 4 + 1)

struct hit_str {
	char s[HIT_STR_MAX]; /* NUL-terminated; may hold NULs the target put there */
	size_t len;
	bool present;        /* the object was a str (else: null) */
	bool truncated;
};

struct hit {
	const struct st_event *ev;  /* the record (frames keep their raw addresses) */
	const struct target *t;     /* the process that raised it */
	enum st_prop prop;
	const char *exc_type;       /* "AssertionError", or "KeyError" (python -O) */
	bool request;               /* raised serving a request: a scope with a path */
	struct hit_str msg, type, method, path, root, client; /* client: "host:port" */
	/* from a valid traceparent request header (hit__traceparent), else "" */
	char trace_id[33], parent_span_id[17];
	char ts[64];                /* wall-clock time of the raise, ISO 8601 UTC */
	char comm[sizeof(((struct st_event *)0)->comm) + 1];
	unsigned nframes;           /* innermost first */
	struct frame_info frames[ST_MAX_FRAMES];
	int accessor;               /* innermost frame of the application, -1: none */
};

/*
 * Decode ev, raised by process t, symbolizing with s. Returns true for a
 * hit; else false and *why (nothing of *h is then meaningful). The frames
 * point into s until symbolizer__event_end().
 */
bool hit__decode(struct hit *h, const struct target *t, struct symbolizer *s,
		 const struct st_event *ev, enum drop_reason *why);

/*
 * A W3C Trace Context traceparent header value s[0..n): true when it is
 * valid (version two lower-hex digits, not ff; version 00 exactly
 * "00-<32>-<16>-<2>", a later version at least that and then '-' or the
 * end; lower-hex trace and parent ids, neither all zeros), with the ids
 * copied out. Anything else: false, and nothing is kept of it.
 */
bool hit__traceparent(const char *s, size_t n, char trace_id[33], char parent_span_id[17]);

/* True when a file belongs to the frameworks and servers, not to the application. */
bool hit__is_framework_file(const char *file);

#endif
