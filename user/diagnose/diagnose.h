/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Why did request.session (request.auth, request.user) fail? Reads the app
 * that served the request out of the target (its built middleware chain,
 * the apps mounted under it and the apps it is mounted in), locates the code
 * that read the property in that chain, and names the cause and the fix.
 *
 * How the apps are found:
 *  - the serving app is scope["app"] (st_event.app): each Starlette.__call__
 *    overwrites it, so it is the innermost Starlette app entered;
 *  - the outermost app ("root") is the process's ASGI app, read from the
 *    interpreter's sys.modules through the app spec on the server's command
 *    line ("module:attr", target.service), else found from the stack: the
 *    verified `self` of each frame, outermost first, followed through `.app`
 *    links (uvicorn's wrappers → Starlette). A BaseHTTPMiddleware runs the
 *    rest of the chain in another task, whose stack does not reach the root:
 *    hence the module lookup first. Roots are cached per process;
 *  - parents of the serving app: the path from a root down to it through
 *    router.routes → Mount (Mount middleware, _base_app) → app or Router;
 *  - apps are cached per (pid, address) and re-read after a while, or when
 *    their middleware_stack had not been built yet (Starlette >= 0.24 builds
 *    it on the first request; until then it is derived from user_middleware,
 *    whose items are Middleware(cls, options) before 0.35 and
 *    Middleware(cls, args, kwargs) from 0.35: only .cls is read).
 */
#ifndef ST_DIAGNOSE_H
#define ST_DIAGNOSE_H
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include "sessiontrace.h"

struct hit;

#define DIAG_NAME_MAX  128  /* "module.qualname" of a class */
#define DIAG_ROUTE_MAX 256  /* route template, mount prefix */
#define DIAG_MAX_MW    48   /* middleware on one request's path */
#define DIAG_MAX_APPS  8    /* apps on one request's path */
#define DIAG_HINT_MAX  768

/* Route labels that are not templates: bounded, never the raw path. */
#define DIAG_ROUTE_UNMATCHED "<unmatched>"
#define DIAG_ROUTE_NONE      "<no-request>"

enum diag_cause {
	DIAG_UNKNOWN = 0,
	DIAG_MISSING,     /* no Session/AuthenticationMiddleware on the request's path */
	DIAG_ORDER,       /* on the path, but inside the middleware that read the property */
	DIAG_MOUNTED,     /* on another app of the process (mounted sub-app, parent) */
	DIAG_BACKGROUND,  /* read by a BackgroundTask after the response */
	DIAG_OUTSIDE,     /* no request at all */
	DIAG_NCAUSES,
};

enum diag_where {
	DIAG_WHERE_NONE = 0,
	DIAG_WHERE_SUB,     /* an app mounted (at any depth) under the serving app */
	DIAG_WHERE_OTHER,   /* another branch of the same tree: a sibling mount, or an
			       app outside this request's path. (A parent's middleware
			       always wraps its mounted apps: on a parent it is on the
			       path, and the cause is the order.) */
};

struct diag_mw {
	char name[DIAG_NAME_MAX];
	unsigned short_off;   /* where the class's qualname starts in name */
	unsigned app;         /* index into diagnosis.apps of the app it belongs to */
	bool required;        /* the middleware the property needs (or a subclass) */
	bool mount;           /* from Mount(middleware=[...]), wrapping the next app */
};

struct diag_app {
	char name[DIAG_NAME_MAX]; /* class, "module.qualname" */
	unsigned short_off;
	char mount[DIAG_ROUTE_MAX]; /* prefix from the outermost known app; "" for it */
	bool built;                 /* chain read from middleware_stack (else derived) */
};

struct diagnosis {
	/* facts */
	enum st_prop prop;
	bool request;         /* a served request: the scope has a path */
	bool background;      /* read inside starlette.background.BackgroundTask */
	bool app_known;       /* the serving app and its chain were read */
	unsigned napps;       /* apps on the request's path, outermost first */
	struct diag_app apps[DIAG_MAX_APPS];
	int serving;          /* index in apps of scope["app"], -1: unknown */
	unsigned nmw;         /* middleware on the path, outermost first */
	struct diag_mw mw[DIAG_MAX_MW];
	bool mw_truncated;
	int required;         /* index in mw of the needed middleware, -1: not on the path */
	int touched;          /* index in mw whose code read the property; nmw: the router
				 (endpoint, dependency); -1: unknown */
	int touched_frame;    /* stack index (innermost 0) of that code, -1: unknown */
	enum diag_where elsewhere; /* where the needed middleware is installed instead */
	char elsewhere_app[DIAG_NAME_MAX]; /* its app's class, "module.qualname" */
	unsigned elsewhere_short_off;
	char elsewhere_mount[DIAG_ROUTE_MAX];
	char route[DIAG_ROUTE_MAX]; /* template: mount prefixes + Route.path */
	/* verdict (diagnose__decide) */
	enum diag_cause cause;
	char hint[DIAG_HINT_MAX];
};

struct diagnose;

/* The diagnosis's caches (types, app graphs); NULL with errno: ENOMEM. */
struct diagnose *diagnose__new(void);
void diagnose__free(struct diagnose *d);

/*
 * Diagnose one hit, reading its process's apps. Never fails for lack of
 * information: what could not be read leaves app_known false and the cause
 * unknown. -ENOMEM only.
 */
int diagnose__event(struct diagnose *d, const struct hit *h, struct diagnosis *out);

/* The cause and the hint from the facts in dg (pure: unit-tested). */
void diagnose__decide(struct diagnosis *dg);

/* "missing_middleware", ...: the records' and metrics' cause. */
const char *diagnose__cause_name(enum diag_cause c);
/* "SessionMiddleware" or "AuthenticationMiddleware": what prop needs. */
const char *diagnose__required_name(enum st_prop prop);

/*
 * Match a Starlette path template ("/items/{id:int}") against path. prefix:
 * Mount semantics (template + "/{path:path}"): *rest is set to the offset of
 * the remaining "/..." in path. Returns true on a match. Bounded work.
 */
bool diagnose__route_match(const char *tmpl, const char *path, bool prefix, size_t *rest);

#endif
