/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sessiontrace inspect: the request.session reads of a running app that
 * will fail, found from its objects and bytecode before any request does.
 *
 * From the app the server serves, every app and router reachable through
 * Mount and Host is walked with its middleware in the order a request
 * meets them (the runtime diagnosis's own reading, diagnose/apps.c). Its
 * readers are collected: route endpoints (functions, HTTPEndpoint and
 * WebSocketEndpoint methods), FastAPI dependencies (route.dependant,
 * recursively) and each middleware's dispatch. A reader's bytecode says
 * whether it reads `.session` of the parameter that gets the request
 * (decode/bytecode.h). When no SessionMiddleware runs before that reader on
 * its path, that is a finding, with the cause and hint diagnose__decide
 * gives a runtime failure there.
 */
#ifndef ST_INSPECT_H
#define ST_INSPECT_H
#include <limits.h>
#include <stdbool.h>
#include "diagnose/diagnose.h"

struct target;

#define INSPECT_MAX_APPS     32
#define INSPECT_MAX_MW       40  /* an app's chain with its Mount's middleware */
#define INSPECT_MAX_FINDINGS 128
#define INSPECT_MAX_READERS  2048 /* readers analyzed per app tree */
#define INSPECT_FUNC_MAX     256
#define INSPECT_FILE_MAX     512

struct inspect_mw {
	char name[DIAG_NAME_MAX]; /* "module.qualname" */
	unsigned short_off;
	bool mount;               /* from the Mount's middleware=[...] */
	bool session;             /* a SessionMiddleware (or subclass) */
};

struct inspect_app {
	char name[DIAG_NAME_MAX]; /* class, "module.qualname" */
	unsigned short_off;
	char mount[DIAG_ROUTE_MAX]; /* prefix from the served app; "" for it */
	int parent;               /* index of the app or router above; -1: the root */
	unsigned depth;
	bool is_app;              /* a Starlette/FastAPI app, else a Router */
	bool built;               /* middleware_stack built (a request was served) */
	unsigned nmw;             /* its middleware, outermost first */
	struct inspect_mw mw[INSPECT_MAX_MW];
	unsigned nroutes;
	char **routes;            /* full templates of its plain routes (malloc'd) */
};

struct inspect_reader {
	char function[INSPECT_FUNC_MAX]; /* co_qualname (3.10: co_name) */
	char file[INSPECT_FILE_MAX];
	int line;                 /* of the first .session read; -1: unknown */
};

struct inspect_finding {
	enum diag_cause cause;
	struct inspect_reader reader;
	unsigned app;             /* index into inspection.apps */
	bool middleware;          /* read by a middleware's dispatch (else endpoint/dependency) */
	char route[DIAG_ROUTE_MAX]; /* template; "" for a middleware */
	char hint[DIAG_HINT_MAX];
};

struct inspection {
	unsigned napps;
	struct inspect_app apps[INSPECT_MAX_APPS];
	unsigned nfindings;
	struct inspect_finding findings[INSPECT_MAX_FINDINGS];
	unsigned readers;         /* readers whose bytecode was analyzed */
	unsigned unanalyzed;      /* readers whose code could not be read or analyzed */
	bool truncated;           /* a bound was reached: more apps, readers or findings */
	bool changed;             /* two readings in a row never agreed: objects changed */
};

/*
 * Inspect t's app (found from the app spec of its command line). 0 with
 * *out (free with inspect__free); -ENOENT with a sentence in err when no
 * app could be found; -ENOMEM. The process is only read, never stopped:
 * the app is read until two readings in a row agree (at most 4), else
 * out->changed is set and the last one is given.
 */
int inspect__run(const struct target *t, struct inspection **out, char *err, size_t errsz);
void inspect__free(struct inspection *in);

#endif
