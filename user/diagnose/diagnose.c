// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "diagnose/diagnose.h"
#include "util/log.h"
#include "decode/props.h"
#include "decode/pyobj.h"
#include "decode/pystr.h"
#include "decode/hit.h"
#include "resolve/target.h"

#define READS_PER_EVENT 40000 /* remote reads one diagnosis may cost, cached or not */
#define MAX_PROCS       16    /* processes with cached apps */
#define MAX_NODES       64    /* apps and routers cached per process */
#define MAX_ROOTS       4
#define MAX_TYPES       256   /* power of 2 */
#define MAX_CODES       512   /* power of 2 */
#define MAX_CHAIN       32    /* middleware in one app's chain */
#define MAX_ROUTES      256   /* routes read per router */
#define MAX_MOUNT_MW    8     /* Mount(middleware=[...]) */
#define MAX_DEPTH       6     /* mounts followed */
#define APP_LINKS       12    /* .app links followed from a frame's self */
#define NODE_TTL_SEC    30    /* re-read cached apps after this long */
#define MATCH_STEPS     20000 /* template matcher work per match */
#define PATH_MAX_UTF8   (ST_PATH_MAX * 4 + 1)

/* Classes recognised anywhere in a type's __mro__ (subclasses count). */
enum cls_bit {
	CLS_APP = 1 << 0,       /* starlette.applications.Starlette (FastAPI too) */
	CLS_ROUTER = 1 << 1,
	CLS_MOUNT = 1 << 2,
	CLS_HOST = 1 << 3,
	CLS_ROUTE = 1 << 4,     /* BaseRoute: Route, WebSocketRoute, APIRoute */
	CLS_SESSION = 1 << 5,
	CLS_AUTH = 1 << 6,
};

static const struct {
	const char *name;
	unsigned bit;
} known_classes[] = {
	{ "starlette.applications.Starlette", CLS_APP },
	{ "starlette.routing.Router", CLS_ROUTER },
	{ "starlette.routing.Mount", CLS_MOUNT },
	{ "starlette.routing.Host", CLS_HOST },
	{ "starlette.routing.BaseRoute", CLS_ROUTE },
	{ "starlette.middleware.sessions.SessionMiddleware", CLS_SESSION },
	{ "starlette.middleware.authentication.AuthenticationMiddleware", CLS_AUTH },
};

const char *const diag_cause_names[DIAG_NCAUSES] = {
	[DIAG_UNKNOWN] = "unknown",
	[DIAG_MISSING] = "missing_middleware",
	[DIAG_ORDER] = "middleware_order",
	[DIAG_MOUNTED] = "mounted_app",
	[DIAG_BACKGROUND] = "background_task",
	[DIAG_OUTSIDE] = "outside_request",
};

struct type_info {
	__u64 addr;              /* 0: empty */
	char name[DIAG_NAME_MAX];
	unsigned short_off;
	unsigned cls;            /* enum cls_bit */
};

struct code_self {
	__u64 addr;              /* 0: empty */
	bool self;               /* first argument is named self */
};

struct chain_ent {
	__u64 addr;              /* the instance; 0 when derived from user_middleware */
	char name[DIAG_NAME_MAX];
	unsigned short_off, cls;
};

enum route_kind { ROUTE_PLAIN, ROUTE_MOUNT, ROUTE_HOST };

struct route_ent {
	enum route_kind kind;
	char *tmpl;              /* Route.path / Mount.path, NULL when not a str */
	__u64 child;             /* Mount: the app or Router under its middleware */
	unsigned nmw;
	struct chain_ent *mw;    /* Mount(middleware=[...]), outermost first */
};

/* A Starlette app or a Router, as read from the target. */
struct node {
	__u64 addr, type;
	time_t loaded;
	bool is_app, built, chain_truncated;
	char name[DIAG_NAME_MAX];
	unsigned short_off, cls;
	unsigned nchain;
	struct chain_ent chain[MAX_CHAIN];
	unsigned nroutes;
	struct route_ent *routes;
};

struct proc {
	pid_t pid;               /* 0: free */
	unsigned long long start_time;
	unsigned long long used;
	__u64 roots[MAX_ROOTS];
	bool spec_tried;
	struct type_info types[MAX_TYPES];
	struct code_self codes[MAX_CODES];
	unsigned nnodes;
	struct node *nodes[MAX_NODES];
};

/*
 * Lifetimes: a diagnosis holds node pointers across node_get() calls (the
 * trail of apps walked, the recursion of find_under/find_holder/descend).
 * So node_get never frees a node: one it replaces or evicts is retired, and
 * retired nodes are freed when the next diagnosis starts.
 */
struct diagnose {
	struct proc procs[MAX_PROCS];
	unsigned long long clock;
	struct node **retired;
	size_t nretired, capretired;
};

/* One diagnosis in progress. */
struct ctx {
	struct diagnose *d;
	struct proc *p;
	const struct target *t;
	struct pyobj r;
	time_t now;
	unsigned visits;         /* nodes visited by tree walks of this event */
};

const char *diagnose__cause_name(enum diag_cause c)
{
	return (unsigned)c < DIAG_NCAUSES ? diag_cause_names[c] : "unknown";
}

const char *diagnose__required_name(enum st_prop prop)
{
	return prop == ST_PROP_SESSION ? "SessionMiddleware" : "AuthenticationMiddleware";
}

static unsigned required_cls(enum st_prop prop)
{
	return prop == ST_PROP_SESSION ? CLS_SESSION : CLS_AUTH;
}

/* ---------------------------------------------------------------------- */
/* route templates                                                          */

static bool conv_char(const char *conv, size_t clen, char c)
{
	if (clen == 4 && !memcmp(conv, "path", 4))
		return true;
	if (clen == 3 && !memcmp(conv, "int", 3))
		return c >= '0' && c <= '9';
	if (clen == 5 && !memcmp(conv, "float", 5))
		return (c >= '0' && c <= '9') || c == '.';
	if (clen == 4 && !memcmp(conv, "uuid", 4))
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
	return c != '/'; /* str, and custom convertors: one segment */
}

static bool match_rec(const char *t, const char *p, bool prefix, size_t *rest, const char *p0,
		      unsigned *steps)
{
	for (;;) {
		/* never decrement past 0: the budget must stay spent */
		if (!*steps)
			return false;
		(*steps)--;
		if (*t == '{') {
			const char *close = strchr(t, '}'), *colon;
			const char *conv = "str";
			size_t clen = 3, run = 0, min;

			if (!close)
				return false;
			colon = memchr(t, ':', close - t);
			if (colon) {
				conv = colon + 1;
				clen = close - conv;
			}
			min = clen == 4 && !memcmp(conv, "path", 4) ? 0 : 1;
			while (p[run] && conv_char(conv, clen, p[run]))
				run++;
			if (clen == 4 && !memcmp(conv, "uuid", 4)) {
				if (run < 36)
					return false;
				return match_rec(close + 1, p + 36, prefix, rest, p0, steps);
			}
			for (;; run--) {
				if (run < min)
					return false;
				if (match_rec(close + 1, p + run, prefix, rest, p0, steps))
					return true;
				if (!run || !*steps)
					return false;
			}
		}
		if (!*t) {
			if (!prefix)
				return !*p;
			/* Mount: compile_path(path + "/{path:path}") */
			if (*p != '/')
				return false;
			*rest = p - p0;
			return true;
		}
		if (*t != *p)
			return false;
		t++;
		p++;
	}
}

bool diagnose__route_match(const char *tmpl, const char *path, bool prefix, size_t *rest)
{
	unsigned steps = MATCH_STEPS;
	size_t dummy;

	if (!tmpl || !path)
		return false;
	return match_rec(tmpl, path, prefix, rest ? rest : &dummy, path, &steps);
}

/* ---------------------------------------------------------------------- */
/* the verdict                                                              */

struct hintbuf {
	char *s;
	size_t sz, len;
};

static void hadd(struct hintbuf *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hadd(struct hintbuf *h, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (h->len + 1 >= h->sz)
		return;
	va_start(ap, fmt);
	n = vsnprintf(h->s + h->len, h->sz - h->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		h->len = h->len + n < h->sz ? h->len + n : h->sz - 1;
}

static const char *short_name(const struct diag_mw *m)
{
	return m->name + (m->short_off < sizeof(m->name) ? m->short_off : 0);
}

static const char *app_short(const struct diag_app *a)
{
	return a->name + (a->short_off < sizeof(a->name) ? a->short_off : 0);
}

/* "the Starlette app" or "the FastAPI app mounted at '/sub'" */
static void app_phrase(struct hintbuf *h, const struct diag_app *a)
{
	hadd(h, "the %s app", a->name[0] ? app_short(a) : "serving");
	if (a->mount[0])
		hadd(h, " mounted at '%s'", a->mount);
}

static const char *setup_args(enum st_prop prop)
{
	return prop == ST_PROP_SESSION ? "secret_key=..." : "backend=...";
}

static const char *prop_what(enum st_prop prop)
{
	return prop == ST_PROP_SESSION ? "a session" : prop == ST_PROP_AUTH ?
	       "auth credentials" : "a user";
}

/*
 * The user's middleware that read the property, when it is one: the chain
 * position is known and it is not the framework's own outer layer.
 */
static const struct diag_mw *toucher(const struct diagnosis *dg)
{
	if (dg->touched < 0 || (unsigned)dg->touched >= dg->nmw)
		return NULL;
	return &dg->mw[dg->touched];
}

void diagnose__decide(struct diagnosis *dg)
{
	enum st_prop prop = (unsigned)dg->prop < ST_NPROPS ? dg->prop : ST_PROP_SESSION;
	const char *X = diagnose__required_name(prop), *P = st_prop_names[prop];
	const struct diag_mw *T = toucher(dg);
	const struct diag_app *serving = dg->serving >= 0 && (unsigned)dg->serving < dg->napps ?
					 &dg->apps[dg->serving] : NULL;
	struct hintbuf h = { .s = dg->hint, .sz = sizeof(dg->hint) };

	dg->hint[0] = 0;
	if (!dg->request) {
		dg->cause = DIAG_OUTSIDE;
		hadd(&h, "request.%s was read with no request being served (a Request built "
		     "from a bare scope, e.g. in a startup hook, a thread or a scheduled job): "
		     "only a request that passed through %s has %s, so pass the values that "
		     "code needs to it explicitly.", P, X, prop_what(prop));
		return;
	}
	if (dg->background) {
		dg->cause = DIAG_BACKGROUND;
		hadd(&h, "request.%s was read in a BackgroundTask, which runs after the response "
		     "was sent (the client saw success)", P);
		if (dg->app_known && dg->required < 0)
			hadd(&h, " and no %s wraps this path", X);
		hadd(&h, ": read what the task needs from request.%s in the endpoint and pass it "
		     "to the task as an argument", P);
		if (prop == ST_PROP_SESSION)
			hadd(&h, " (a session changed after the response never reaches the cookie)");
		hadd(&h, ".");
		return;
	}
	if (!dg->app_known) {
		dg->cause = DIAG_UNKNOWN;
		hadd(&h, "The app's middleware could not be read from the process: make sure %s "
		     "wraps this route, added last with app.add_middleware(%s, %s) "
		     "(add_middleware inserts at index 0, so the middleware added last runs "
		     "first).", X, X, setup_args(prop));
		return;
	}
	if (dg->required >= 0) {
		const struct diag_mw *R = &dg->mw[dg->required];

		if (T && dg->touched < dg->required && T->app == R->app) {
			dg->cause = DIAG_ORDER;
			hadd(&h, "%s reads request.%s before %s runs: add_middleware() inserts at "
			     "index 0, so the middleware added last runs first; call "
			     "app.add_middleware(%s, %s) after app.add_middleware(%s), not "
			     "before (in middleware=[...], list Middleware(%s, ...) before "
			     "Middleware(%s)).", short_name(T), P, X, X, setup_args(prop),
			     short_name(T), X, short_name(T));
			return;
		}
		if (T && dg->touched < dg->required && R->app < dg->napps && T->app < dg->napps) {
			dg->cause = DIAG_MOUNTED;
			hadd(&h, "%s sits on ", X);
			app_phrase(&h, &dg->apps[R->app]);
			hadd(&h, ", inside %s of ", short_name(T));
			app_phrase(&h, &dg->apps[T->app]);
			hadd(&h, ", which reads request.%s first: add %s to that outer app instead, "
			     "calling app.add_middleware(%s, %s) after app.add_middleware(%s) "
			     "(the middleware added last runs first).", P, X, X, setup_args(prop),
			     short_name(T));
			return;
		}
		dg->cause = DIAG_UNKNOWN;
		hadd(&h, "%s is on this path, outside the code that read request.%s: something "
		     "between them replaced the scope (a middleware that copies or rebuilds it); "
		     "pass the original scope dict through.", X, P);
		return;
	}
	if (dg->elsewhere != DIAG_WHERE_NONE) {
		dg->cause = DIAG_MOUNTED;
		hadd(&h, "%s is installed only on %s (the %s app at '%s'), whose middleware does "
		     "not wrap this path: add app.add_middleware(%s, %s) to the outermost app (",
		     X, dg->elsewhere == DIAG_WHERE_SUB ? "a mounted sub-app" : "another mounted app",
		     dg->elsewhere_app[0] && dg->elsewhere_short_off < sizeof(dg->elsewhere_app) ?
		     dg->elsewhere_app + dg->elsewhere_short_off : "?", dg->elsewhere_mount, X,
		     setup_args(prop));
		if (dg->napps)
			app_phrase(&h, &dg->apps[0]);
		else
			hadd(&h, "the app serving it");
		hadd(&h, ")");
		if (T)
			hadd(&h, ", after app.add_middleware(%s) so that it runs first",
			     short_name(T));
		hadd(&h, ", which then wraps every mounted app, and remove it from the app at "
		     "'%s'.", dg->elsewhere_mount);
		return;
	}
	dg->cause = DIAG_MISSING;
	hadd(&h, "No %s wraps this path: add app.add_middleware(%s, %s) to ", X, X,
	     setup_args(prop));
	if (serving)
		app_phrase(&h, serving);
	else
		hadd(&h, "the app");
	if (T)
		hadd(&h, ", after app.add_middleware(%s): add_middleware() inserts at index 0, so "
		     "the middleware added last runs first and %s must run before %s, which "
		     "reads request.%s", short_name(T), X, short_name(T), P);
	hadd(&h, ".");
}

/* ---------------------------------------------------------------------- */
/* per-process caches                                                       */

static void node_free(struct node *n)
{
	unsigned i;

	if (!n)
		return;
	for (i = 0; i < n->nroutes; i++) {
		free(n->routes[i].tmpl);
		free(n->routes[i].mw);
	}
	free(n->routes);
	free(n);
}

static void proc_clear(struct proc *p)
{
	unsigned i;

	for (i = 0; i < p->nnodes; i++)
		node_free(p->nodes[i]);
	memset(p, 0, sizeof(*p));
}

static struct proc *proc_get(struct diagnose *d, const struct target *t)
{
	struct proc *p, *lru = &d->procs[0];
	unsigned i;

	d->clock++;
	for (i = 0; i < MAX_PROCS; i++) {
		p = &d->procs[i];
		if (p->pid == t->pid && p->start_time == t->start_time) {
			p->used = d->clock;
			return p;
		}
		if (p->used < lru->used)
			lru = p;
	}
	proc_clear(lru);
	lru->pid = t->pid;
	lru->start_time = t->start_time;
	lru->used = d->clock;
	return lru;
}

struct diagnose *diagnose__new(void)
{
	return calloc(1, sizeof(struct diagnose));
}

/* Keep n alive until the current diagnosis ends; if that fails, it is leaked, not freed. */
static void node_retire(struct diagnose *d, struct node *n)
{
	if (d->nretired == d->capretired) {
		size_t cap = d->capretired ? d->capretired * 2 : MAX_NODES;
		struct node **v = realloc(d->retired, cap * sizeof(*v));

		if (!v) {
			pr_warn("out of memory: an app cache node is kept for good\n");
			return;
		}
		d->retired = v;
		d->capretired = cap;
	}
	d->retired[d->nretired++] = n;
}

static void retired_free(struct diagnose *d)
{
	size_t i;

	for (i = 0; i < d->nretired; i++)
		node_free(d->retired[i]);
	d->nretired = 0;
}

void diagnose__free(struct diagnose *d)
{
	unsigned i;

	if (!d)
		return;
	for (i = 0; i < MAX_PROCS; i++)
		proc_clear(&d->procs[i]);
	retired_free(d);
	free(d->retired);
	free(d);
}

static size_t hash64(__u64 v)
{
	return (size_t)((v >> 4) * 0x9E3779B97F4A7C15ULL >> 20);
}

/* Name and recognised base classes of a type object, cached: types live long. */
static const struct type_info *type_info(struct ctx *c, __u64 type)
{
	struct type_info *ti = NULL;
	__u64 mro[PYOBJ_MRO_MAX];
	size_t h = hash64(type), i, off;
	unsigned n = 0, k, j;

	for (i = 0; i < 8; i++) {
		ti = &c->p->types[(h + i) & (MAX_TYPES - 1)];
		if (ti->addr == type)
			return ti;
		if (!ti->addr)
			break;
	}
	if (i == 8)
		ti = &c->p->types[h & (MAX_TYPES - 1)]; /* evict */
	memset(ti, 0, sizeof(*ti));
	if (pyobj__type_name(&c->r, type, ti->name, sizeof(ti->name), &off))
		return NULL;
	ti->short_off = off;
	if (!pyobj__mro(&c->r, type, mro, PYOBJ_MRO_MAX, &n)) {
		for (k = 0; k < n; k++) {
			char name[DIAG_NAME_MAX];

			if (k == 0)
				snprintf(name, sizeof(name), "%s", ti->name);
			else if (pyobj__type_name(&c->r, mro[k], name, sizeof(name), NULL))
				continue;
			for (j = 0; j < sizeof(known_classes) / sizeof(known_classes[0]); j++)
				if (!strcmp(name, known_classes[j].name))
					ti->cls |= known_classes[j].bit;
		}
	}
	ti->addr = type;
	return ti;
}

static const struct type_info *obj_type_info(struct ctx *c, __u64 obj)
{
	__u64 type;

	if (!obj || pyobj__type(&c->r, obj, &type))
		return NULL;
	return type_info(c, type);
}

/* Is the first argument of this code object `self`? Cached per code object. */
static bool code_has_self(struct ctx *c, __u64 code)
{
	struct code_self *cs;
	size_t h = hash64(code), i;
	bool yes = false;

	for (i = 0; i < 8; i++) {
		cs = &c->p->codes[(h + i) & (MAX_CODES - 1)];
		if (cs->addr == code)
			return cs->self;
		if (!cs->addr)
			break;
	}
	if (i == 8)
		cs = &c->p->codes[h & (MAX_CODES - 1)];
	if (pyobj__code_first_arg(&c->r, code, "self", &yes))
		return false; /* unreadable now: do not cache */
	cs->addr = code;
	cs->self = yes;
	return yes;
}

static void chain_ent_set(struct chain_ent *e, __u64 addr, const struct type_info *ti)
{
	e->addr = addr;
	snprintf(e->name, sizeof(e->name), "%s", ti ? ti->name : "?");
	e->short_off = ti ? ti->short_off : 0;
	e->cls = ti ? ti->cls : 0;
}

static void chain_ent_named(struct chain_ent *e, const char *name)
{
	const char *dot = strrchr(name, '.');

	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->short_off = dot ? dot + 1 - name : 0;
}

/*
 * The class a user_middleware item wraps: Middleware(cls, options) before
 * Starlette 0.35 and Middleware(cls, args, kwargs) from 0.35 both keep it in
 * .cls; a bare (cls, options) tuple holds it first.
 */
static const struct type_info *user_mw_class(struct ctx *c, __u64 item)
{
	__u64 cls, first;
	unsigned n;

	if (pyobj__attr(&c->r, item, "cls", &cls)) {
		if (pyobj__items(&c->r, item, &first, 1, &n, NULL) || !n)
			return NULL;
		cls = first;
	}
	return type_info(c, cls);
}

/* Starlette's own outer and inner layers around user_middleware. */
static const char *const synth_outer = "starlette.middleware.errors.ServerErrorMiddleware";
static const char *const synth_inner = "starlette.middleware.exceptions.ExceptionMiddleware";

static void read_chain(struct ctx *c, struct node *n)
{
	__u64 stack = 0, router = 0, obj, items[MAX_CHAIN];
	unsigned i, cnt = 0;

	pyobj__attr(&c->r, n->addr, "router", &router);
	if (!pyobj__attr(&c->r, n->addr, "middleware_stack", &stack) && stack &&
	    !pyobj__is_none(&c->r, stack)) {
		n->built = true;
		for (obj = stack, i = 0; i < MAX_CHAIN; i++) {
			const struct type_info *ti;

			if (obj == router)
				return;
			ti = obj_type_info(c, obj);
			if (ti && (ti->cls & (CLS_APP | CLS_ROUTER)))
				return;
			chain_ent_set(&n->chain[n->nchain++], obj, ti);
			if (pyobj__attr(&c->r, obj, "app", &obj))
				break;
		}
		/* a layer that keeps the next one elsewhere than .app, or too deep */
		n->chain_truncated = true;
		return;
	}
	/* Starlette >= 0.24 builds middleware_stack on the first request only */
	if (!pyobj__attr(&c->r, n->addr, "user_middleware", &obj))
		pyobj__items(&c->r, obj, items, MAX_CHAIN - 2, &cnt, NULL);
	chain_ent_named(&n->chain[n->nchain++], synth_outer);
	for (i = 0; i < cnt; i++) {
		const struct type_info *ti = user_mw_class(c, items[i]);

		chain_ent_set(&n->chain[n->nchain], 0, ti);
		n->nchain++;
	}
	chain_ent_named(&n->chain[n->nchain++], synth_inner);
}

/* Mount.app down to the app or Router it wraps, collecting Mount middleware. */
static void read_mount(struct ctx *c, __u64 route, struct route_ent *re)
{
	__u64 base = 0, obj;
	unsigned i;

	pyobj__attr(&c->r, route, "_base_app", &base);
	if (pyobj__attr(&c->r, route, "app", &obj))
		obj = base;
	for (i = 0; obj && i < APP_LINKS; i++) {
		const struct type_info *ti;

		if (obj == base) {
			re->child = base;
			return;
		}
		ti = obj_type_info(c, obj);
		if (!ti)
			break;
		if (ti->cls & (CLS_APP | CLS_ROUTER)) {
			re->child = obj;
			return;
		}
		if (!re->mw)
			re->mw = calloc(MAX_MOUNT_MW, sizeof(*re->mw));
		if (re->mw && re->nmw < MAX_MOUNT_MW)
			chain_ent_set(&re->mw[re->nmw++], obj, ti);
		if (pyobj__attr(&c->r, obj, "app", &obj))
			break;
	}
	re->child = base;
}

static int read_routes(struct ctx *c, struct node *n, __u64 holder)
{
	__u64 list, items[MAX_ROUTES];
	unsigned cnt = 0, i;
	int err;

	err = pyobj__attr(&c->r, holder, "routes", &list);
	if (!err)
		err = pyobj__items(&c->r, list, items, MAX_ROUTES, &cnt, NULL);
	if (err)
		return err;
	n->routes = calloc(cnt ? cnt : 1, sizeof(*n->routes));
	if (!n->routes)
		return -ENOMEM;
	for (i = 0; i < cnt; i++) {
		const struct type_info *ti = obj_type_info(c, items[i]);
		struct route_ent *re = &n->routes[n->nroutes];
		char tmpl[DIAG_ROUTE_MAX];
		bool trunc = false;
		__u64 path;

		if (!ti)
			continue;
		if (ti->cls & CLS_MOUNT)
			re->kind = ROUTE_MOUNT;
		else if (ti->cls & CLS_HOST)
			re->kind = ROUTE_HOST;
		else
			re->kind = ROUTE_PLAIN;
		if (re->kind != ROUTE_HOST && !pyobj__attr(&c->r, items[i], "path", &path) &&
		    !pyobj__str(&c->r, path, tmpl, sizeof(tmpl), NULL, &trunc) && !trunc)
			re->tmpl = strdup(tmpl);
		if (re->kind != ROUTE_PLAIN)
			read_mount(c, items[i], re);
		n->nroutes++;
	}
	return 0;
}

static struct node *node_get(struct ctx *c, __u64 addr)
{
	struct proc *p = c->p;
	const struct type_info *ti;
	struct node *n = NULL;
	unsigned i, slot = p->nnodes;
	__u64 type, router;

	if (!addr || pyobj__type(&c->r, addr, &type))
		return NULL;
	for (i = 0; i < p->nnodes; i++) {
		if (p->nodes[i]->addr != addr)
			continue;
		n = p->nodes[i];
		/* same object (type unchanged), built, and fresh enough */
		if (n->type == type && n->built && c->now - n->loaded < NODE_TTL_SEC)
			return n;
		slot = i;
		break;
	}
	ti = type_info(c, type);
	if (!ti || !(ti->cls & (CLS_APP | CLS_ROUTER)))
		return NULL;
	if (slot == p->nnodes && p->nnodes == MAX_NODES) {
		/* full: start over rather than grow (the old ones live to the event's end) */
		for (i = 0; i < p->nnodes; i++)
			node_retire(c->d, p->nodes[i]);
		p->nnodes = 0;
		slot = 0;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->addr = addr;
	n->type = type;
	n->loaded = c->now;
	n->cls = ti->cls;
	n->is_app = ti->cls & CLS_APP;
	n->built = true;
	snprintf(n->name, sizeof(n->name), "%s", ti->name);
	n->short_off = ti->short_off;
	if (n->is_app) {
		read_chain(c, n);
		if (!pyobj__attr(&c->r, addr, "router", &router))
			read_routes(c, n, router);
	} else {
		read_routes(c, n, addr);
	}
	if (slot < p->nnodes)
		node_retire(c->d, p->nodes[slot]); /* a caller may still hold the old one */
	else
		p->nnodes++;
	p->nodes[slot] = n;
	return n;
}

/* ---------------------------------------------------------------------- */
/* finding the apps                                                         */

static void add_root(struct proc *p, __u64 app)
{
	unsigned i;

	for (i = 0; i < MAX_ROOTS; i++)
		if (p->roots[i] == app)
			return;
	memmove(&p->roots[1], &p->roots[0], (MAX_ROOTS - 1) * sizeof(p->roots[0]));
	p->roots[0] = app;
}

/* Follow .app links from obj to the first Starlette app. */
static __u64 app_through_links(struct ctx *c, __u64 obj)
{
	unsigned i;

	for (i = 0; obj && i < APP_LINKS; i++) {
		const struct type_info *ti = obj_type_info(c, obj);

		if (!ti)
			return 0;
		if (ti->cls & CLS_APP)
			return obj;
		if (pyobj__attr(&c->r, obj, "app", &obj))
			return 0;
	}
	return 0;
}

/* The ASGI app named on the server's command line: sys.modules[mod].attr[.attr]. */
static __u64 app_from_spec(struct ctx *c)
{
	char spec[sizeof(c->t->service)], *colon, *attr, *dot;
	__u64 obj;

	snprintf(spec, sizeof(spec), "%s", c->t->service);
	colon = strchr(spec, ':');
	if (!colon || colon == spec || !colon[1])
		return 0;
	*colon = 0;
	attr = colon + 1;
	dot = strchr(attr, '.');
	if (dot)
		*dot = 0;
	if (pyobj__module(&c->r, c->t->bpf.runtime, spec, &obj) ||
	    pyobj__module_attr(&c->r, obj, attr, &obj))
		return 0;
	while (dot) {
		attr = dot + 1;
		dot = strchr(attr, '.');
		if (dot)
			*dot = 0;
		if (pyobj__attr(&c->r, obj, attr, &obj))
			return 0;
	}
	return app_through_links(c, obj);
}

struct hop {
	struct node *node;
	char prefix[DIAG_ROUTE_MAX]; /* mount prefix from the root */
	const struct route_ent *via; /* the Mount route entered next (NULL: last) */
};

struct trail {
	unsigned n;
	struct hop hops[MAX_DEPTH + 1];
};

/* out = a + b, truncated to sz; out never overlaps a or b here */
static void join(char *out, size_t sz, const char *a, const char *b)
{
	size_t la = strnlen(a, sz - 1), lb = b ? strnlen(b, sz - 1 - la) : 0;

	memmove(out, a, la);
	if (lb)
		memmove(out + la, b, lb);
	out[la + lb] = 0;
}

/* Depth-first search for target under trail's last hop. */
static bool find_under(struct ctx *c, struct trail *tr, __u64 target)
{
	struct hop *h = &tr->hops[tr->n - 1];
	unsigned i;

	if (h->node->addr == target)
		return true;
	if (tr->n > MAX_DEPTH || ++c->visits > MAX_NODES)
		return false;
	for (i = 0; i < h->node->nroutes; i++) {
		const struct route_ent *re = &h->node->routes[i];
		struct node *child;
		struct hop *next;

		if (re->kind == ROUTE_PLAIN || !re->child)
			continue;
		child = node_get(c, re->child);
		if (!child)
			continue;
		h->via = re;
		next = &tr->hops[tr->n++];
		memset(next, 0, sizeof(*next));
		next->node = child;
		join(next->prefix, sizeof(next->prefix), h->prefix, re->tmpl);
		if (find_under(c, tr, target))
			return true;
		tr->n--;
		h->via = NULL;
	}
	return false;
}

static bool node_has(const struct node *n, unsigned cls)
{
	unsigned i, j;

	for (i = 0; i < n->nchain; i++)
		if (n->chain[i].cls & cls)
			return true;
	for (i = 0; i < n->nroutes; i++)
		for (j = 0; j < n->routes[i].nmw; j++)
			if (n->routes[i].mw[j].cls & cls)
				return true;
	return false;
}

struct found {
	const struct node *node;
	char prefix[DIAG_ROUTE_MAX];
	unsigned depth;
};

/* Every app under root (bounded) holding the class, first in depth-first order. */
static bool find_holder(struct ctx *c, struct node *n, const char *prefix, unsigned depth,
			unsigned cls, const struct trail *path, struct found *out)
{
	unsigned i, k;

	if (depth > MAX_DEPTH || ++c->visits > MAX_NODES)
		return false;
	for (k = 0; k < path->n; k++)
		if (path->hops[k].node == n)
			break;
	if (k == path->n && node_has(n, cls)) {
		out->node = n;
		out->depth = depth;
		snprintf(out->prefix, sizeof(out->prefix), "%s", prefix);
		return true;
	}
	for (i = 0; i < n->nroutes; i++) {
		const struct route_ent *re = &n->routes[i];
		char sub[DIAG_ROUTE_MAX];
		struct node *child;

		if (re->kind == ROUTE_PLAIN || !re->child || !(child = node_get(c, re->child)))
			continue;
		join(sub, sizeof(sub), prefix, re->tmpl);
		if (find_holder(c, child, sub, depth + 1, cls, path, out))
			return true;
	}
	return false;
}

/*
 * From the serving app down: the route the (relative) path matches, and the
 * apps entered on the way that had not run yet when the property was read.
 */
static bool descend(struct ctx *c, struct trail *tr, const char *path, char *tmpl, size_t sz)
{
	struct hop *h = &tr->hops[tr->n - 1];
	unsigned i;

	if (++c->visits > MAX_NODES * 2)
		return false;
	for (i = 0; i < h->node->nroutes; i++) {
		const struct route_ent *re = &h->node->routes[i];
		size_t rest = 0, len = strlen(tmpl);
		struct node *child;

		if (!re->tmpl)
			continue;
		if (re->kind == ROUTE_PLAIN) {
			if (!diagnose__route_match(re->tmpl, path, false, NULL))
				continue;
			snprintf(tmpl + len, sz - len, "%s", re->tmpl);
			return true;
		}
		if (re->kind != ROUTE_MOUNT || !diagnose__route_match(re->tmpl, path, true, &rest))
			continue;
		child = re->child ? node_get(c, re->child) : NULL;
		if (!child || tr->n > MAX_DEPTH)
			continue;
		snprintf(tmpl + len, sz - len, "%s", re->tmpl);
		h->via = re;
		memset(&tr->hops[tr->n], 0, sizeof(tr->hops[0]));
		tr->hops[tr->n].node = child;
		join(tr->hops[tr->n].prefix, sizeof(tr->hops[0].prefix), h->prefix, re->tmpl);
		tr->n++;
		if (descend(c, tr, path + rest, tmpl, sz))
			return true;
		tr->n--;
		h->via = NULL;
		tmpl[len] = 0;
	}
	return false;
}

static void mw_add(struct diagnosis *dg, const struct chain_ent *e, unsigned app, bool mount,
		   unsigned req)
{
	struct diag_mw *m;

	if (dg->nmw >= DIAG_MAX_MW) {
		dg->mw_truncated = true;
		return;
	}
	m = &dg->mw[dg->nmw++];
	snprintf(m->name, sizeof(m->name), "%s", e->name);
	m->short_off = e->short_off;
	m->app = app;
	m->mount = mount;
	m->required = e->cls & req;
}

/* The apps and middleware of the trail, in the order a request meets them. */
static void flatten(const struct trail *tr, struct diagnosis *dg, __u64 *addrs)
{
	unsigned req = required_cls(dg->prop), i, j, app = 0;

	for (i = 0; i < tr->n; i++) {
		const struct node *n = tr->hops[i].node;

		if (n->is_app && dg->napps < DIAG_MAX_APPS) {
			struct diag_app *a = &dg->apps[dg->napps];

			snprintf(a->name, sizeof(a->name), "%s", n->name);
			a->short_off = n->short_off;
			snprintf(a->mount, sizeof(a->mount), "%s", tr->hops[i].prefix);
			a->built = n->built;
			app = dg->napps++;
			for (j = 0; j < n->nchain; j++) {
				if (dg->nmw < DIAG_MAX_MW)
					addrs[dg->nmw] = n->chain[j].addr;
				mw_add(dg, &n->chain[j], app, false, req);
			}
			if (n->chain_truncated)
				dg->mw_truncated = true;
		}
		if (tr->hops[i].via)
			for (j = 0; j < tr->hops[i].via->nmw; j++) {
				if (dg->nmw < DIAG_MAX_MW)
					addrs[dg->nmw] = tr->hops[i].via->mw[j].addr;
				mw_add(dg, &tr->hops[i].via->mw[j], app, true, req);
			}
	}
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* A decoded string to match routes with: "" when the target put a NUL in it. */
static const char *route_str(const struct hit_str *hs)
{
	return memchr(hs->s, 0, hs->len) ? "" : hs->s;
}

/* The trail from the root under which the serving app sits deepest. */
static bool find_parents(struct ctx *c, struct node *sn, struct trail *tr)
{
	bool found = false;
	unsigned k;

	for (k = 0; k < MAX_ROOTS; k++) {
		struct node *root = c->p->roots[k] ? node_get(c, c->p->roots[k]) : NULL;
		struct trail cand = { .n = 1 };

		if (!root)
			continue;
		cand.hops[0].node = root;
		c->visits = 0;
		if (find_under(c, &cand, sn->addr) && (!found || cand.n > tr->n)) {
			*tr = cand;
			found = true;
		}
	}
	return found;
}

/*
 * The route template the request matched, from the serving app (the last hop
 * of tr) down; descended apps are appended to tr. Starlette < 0.35 Mount
 * rewrote scope["path"] to the part below its prefix, later versions keep
 * the whole path and put the prefix in root_path: try the path as it is,
 * then without root_path.
 */
static void match_route(struct ctx *c, struct trail *tr, const char *path,
			const char *root_path, struct diagnosis *dg)
{
	unsigned at = tr->n;
	size_t rl = strlen(root_path);
	char tmpl[DIAG_ROUTE_MAX];

	snprintf(tmpl, sizeof(tmpl), "%s", tr->hops[at - 1].prefix);
	c->visits = 0;
	if (descend(c, tr, path, tmpl, sizeof(tmpl))) {
		snprintf(dg->route, sizeof(dg->route), "%s", tmpl);
		return;
	}
	tr->n = at;
	tr->hops[at - 1].via = NULL;
	if (!rl || strncmp(path, root_path, rl) || path[rl] != '/')
		return;
	snprintf(tmpl, sizeof(tmpl), "%s", tr->hops[at - 1].prefix);
	c->visits = 0;
	if (descend(c, tr, path + rl, tmpl, sizeof(tmpl))) {
		snprintf(dg->route, sizeof(dg->route), "%s", tmpl);
		return;
	}
	tr->n = at;
	tr->hops[at - 1].via = NULL;
}

int diagnose__event(struct diagnose *d, const struct hit *h, struct diagnosis *dg)
{
	const struct target *t = h->t;
	const struct st_event *ev = h->ev;
	const struct frame_info *frames = h->frames;
	const char *path = route_str(&h->path), *root_path = route_str(&h->root);
	unsigned n = h->nframes;
	__u64 selfs[ST_MAX_FRAMES] = { 0 }, addrs[DIAG_MAX_MW] = { 0 }, serving = ev->app;
	enum st_prop prop = h->prop;
	struct ctx c = { .d = d, .t = t, .now = time(NULL) };
	struct trail tr = { 0 };
	struct node *sn = NULL;
	unsigned i, k;
	bool found = false;

	/* between diagnoses: nothing holds the nodes retired by the last one */
	retired_free(d);
	memset(dg, 0, sizeof(*dg));
	dg->serving = -1;
	dg->required = -1;
	dg->touched = -1;
	dg->touched_frame = -1;
	snprintf(dg->route, sizeof(dg->route), "%s", DIAG_ROUTE_NONE);
	dg->prop = prop;
	dg->request = h->request;
	for (i = 0; i < n; i++)
		if (ends_with(frames[i].file, "/starlette/background.py"))
			dg->background = true;
	if (!dg->request || !t->layout || t->layout->code_varnames < 0)
		goto decide;
	snprintf(dg->route, sizeof(dg->route), "%s", DIAG_ROUTE_UNMATCHED);

	c.p = proc_get(d, t);
	pyobj__init(&c.r, t->pid, t->layout, &t->bpf, READS_PER_EVENT);
	/* each frame's first local, when the code says it is self (a cell: its content) */
	for (i = 0; i < n && i < ST_MAX_FRAMES; i++) {
		const struct st_frame *f = &ev->frames[i];

		if (f->self && f->code && code_has_self(&c, f->code) &&
		    pyobj__deref_cell(&c.r, f->self, &selfs[i]))
			selfs[i] = 0;
	}
	if (!c.p->spec_tried) {
		__u64 app = app_from_spec(&c);

		c.p->spec_tried = true;
		if (app)
			add_root(c.p, app);
	}
	if (!serving) {
		/* no scope["app"] (not Starlette at the top): the innermost app on the stack */
		for (i = 0; i < n && !serving; i++) {
			const struct type_info *ti = selfs[i] ? obj_type_info(&c, selfs[i]) : NULL;

			if (ti && (ti->cls & CLS_APP))
				serving = selfs[i];
		}
	}
	sn = serving ? node_get(&c, serving) : NULL;
	if (!sn || !sn->is_app)
		goto decide;
	dg->app_known = true;
	found = find_parents(&c, sn, &tr);
	if (!found) {
		/* outermost frames first: uvicorn's wrappers lead to the outermost app */
		for (i = n; i-- > 0;) {
			__u64 app = selfs[i] ? app_through_links(&c, selfs[i]) : 0;

			if (app) {
				add_root(c.p, app);
				break;
			}
		}
		found = find_parents(&c, sn, &tr);
	}
	if (!found) {
		memset(&tr, 0, sizeof(tr));
		tr.n = 1;
		tr.hops[0].node = sn;
	}
	match_route(&c, &tr, path, root_path, dg);
	for (i = 0; i < tr.n; i++)
		if (tr.hops[i].node == sn) {
			unsigned a = 0, j;

			for (j = 0; j < i; j++)
				a += tr.hops[j].node->is_app;
			dg->serving = a;
		}
	flatten(&tr, dg, addrs);
	for (i = 0; i < dg->nmw; i++)
		if (dg->mw[i].required) {
			dg->required = i;
			break;
		}
	/*
	 * Where the property was read: the innermost frame whose self is a layer
	 * of the chain, or a Router or route (then inside the router: the
	 * endpoint, a dependency; every layer of the chain encloses it).
	 */
	for (i = 0; i < n && dg->touched < 0; i++) {
		const struct type_info *ti;

		if (!selfs[i])
			continue;
		for (k = 0; k < dg->nmw; k++)
			if (addrs[k] == selfs[i]) {
				dg->touched = k;
				dg->touched_frame = i;
				break;
			}
		if (dg->touched < 0 && (ti = obj_type_info(&c, selfs[i])) &&
		    (ti->cls & (CLS_ROUTER | CLS_ROUTE)))
			break;
	}
	if (dg->touched < 0) {
		/* inside the router (or nothing known on the stack): the endpoint's code */
		dg->touched = dg->nmw;
		for (i = 0; i < n; i++)
			if (!hit__is_framework_file(frames[i].file)) {
				dg->touched_frame = i;
				break;
			}
	}
	if (dg->required < 0) {
		struct found f = { 0 };
		const char *sprefix = "";

		for (i = 0; i < tr.n; i++)
			if (tr.hops[i].node == sn)
				sprefix = tr.hops[i].prefix;
		c.visits = 0;
		if (find_holder(&c, sn, sprefix, 0, required_cls(prop), &tr, &f)) {
			dg->elsewhere = DIAG_WHERE_SUB;
		} else {
			for (k = 0; k < MAX_ROOTS && !f.node; k++) {
				struct node *root = c.p->roots[k] ? node_get(&c, c.p->roots[k]) : NULL;

				c.visits = 0;
				if (root && find_holder(&c, root, "", 0, required_cls(prop), &tr, &f))
					dg->elsewhere = DIAG_WHERE_OTHER;
			}
		}
		if (f.node) {
			snprintf(dg->elsewhere_app, sizeof(dg->elsewhere_app), "%s", f.node->name);
			dg->elsewhere_short_off = f.node->short_off;
			snprintf(dg->elsewhere_mount, sizeof(dg->elsewhere_mount), "%s", f.prefix);
		}
	}
	if (!c.r.reads_left)
		pr_debug("pid %d: diagnosis read budget spent\n", t->pid);
decide:
	diagnose__decide(dg);
	return 0;
}
