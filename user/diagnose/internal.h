/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private to user/diagnose/: the apps as read from a target, the per-process
 * caches that hold them, and one diagnosis in progress.
 *
 *  - diagnose.c: the entry (diagnose__event), the per-process caches and the
 *    retired list;
 *  - apps.c: types and apps read from the target, the roots, and trails
 *    through the tree of mounted apps;
 *  - routes.c: route templates, and the route a request took;
 *  - verdict.c: the cause and the hint (diagnose__decide);
 *  - inspect.c: sessiontrace inspect, the whole tree walked without a hit.
 */
#ifndef ST_DIAGNOSE_INTERNAL_H
#define ST_DIAGNOSE_INTERNAL_H
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include "diagnose/diagnose.h"
#include "memory/pyobj.h"
#include "util/hashmap.h"

#define MAX_PROCS       16    /* processes with cached apps */
#define MAX_NODES       64    /* apps and routers cached per process */
#define MAX_ROOTS       4
#define MAX_TYPES       256   /* type objects cached per process */
#define MAX_CODES       512   /* code objects cached per process */
#define MAX_CHAIN       32    /* middleware in one app's chain */
#define MAX_ROUTES      256   /* routes read per router */
#define ROUTE_TMPL_MAX  2048  /* one Route.path read (then marked when cut to DIAG_ROUTE_MAX) */
#define MAX_MOUNT_MW    8     /* Mount(middleware=[...]) */
#define MAX_DEPTH       6     /* mounts followed */
#define APP_LINKS       12    /* .app links followed from a frame's self */
#define NODE_TTL_SEC    30    /* re-read cached apps after this long */

/* Classes recognised anywhere in a type's __mro__ (subclasses count). */
enum cls_bit {
	CLS_APP = 1 << 0,       /* starlette.applications.Starlette (FastAPI too) */
	CLS_ROUTER = 1 << 1,
	CLS_MOUNT = 1 << 2,
	CLS_HOST = 1 << 3,
	CLS_ROUTE = 1 << 4,     /* BaseRoute: Route, WebSocketRoute, APIRoute */
	CLS_SESSION = 1 << 5,
	CLS_AUTH = 1 << 6,
	CLS_CONNECTION = 1 << 7, /* starlette.requests.HTTPConnection: Request, WebSocket */
};

/* The class the property needs on the request's path (enum cls_bit). */
static inline unsigned cls_required(enum st_prop prop)
{
	return prop == ST_PROP_SESSION ? CLS_SESSION : CLS_AUTH;
}

struct type_info {
	char name[DIAG_NAME_MAX];
	unsigned short_off;
	unsigned cls;            /* enum cls_bit */
};

struct chain_ent {
	__u64 addr;              /* the instance; 0 when derived from user_middleware */
	__u64 item;              /* derived: its Middleware(cls, ...) item, else 0 */
	char name[DIAG_NAME_MAX];
	unsigned short_off, cls;
};

enum route_kind { ROUTE_PLAIN, ROUTE_MOUNT, ROUTE_HOST };

struct route_ent {
	enum route_kind kind;
	__u64 obj;               /* the Route, Mount or Host object */
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
	bool partial;            /* the read budget ran out while it was read: not reused */
	char name[DIAG_NAME_MAX];
	unsigned short_off, cls;
	unsigned nchain;
	struct chain_ent chain[MAX_CHAIN];
	unsigned nroutes;
	struct route_ent *routes;
};

/*
 * What is cached for one process. types: type address → struct type_info *
 * (owned), at most MAX_TYPES; codes: code address → whether its first
 * argument is self (0 or 1), at most MAX_CODES; nodes: at most MAX_NODES.
 */
struct proc {
	pid_t pid;               /* 0: free */
	unsigned long long start_time;
	unsigned long long used;
	__u64 roots[MAX_ROOTS];
	bool spec_tried;
	struct hashmap types;
	struct hashmap codes;
	unsigned nnodes;
	struct node *nodes[MAX_NODES];
};

/* Something retired, and how to free it. */
struct retired {
	void *ptr;
	void (*free_fn)(void *ptr);
};

/*
 * Lifetimes: a diagnosis holds node and type_info pointers across the calls
 * that read more of them (the trail of apps walked, the recursion of
 * find_under/find_holder/descend). So the caches never free what they
 * replace or evict during a diagnosis: it is retired, and retired entries
 * are freed when the next diagnosis starts.
 */
struct diagnose {
	struct proc procs[MAX_PROCS];
	unsigned long long clock;
	struct retired *retired;
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

/* A path down the tree of apps, from a root. */
struct hop {
	struct node *node;
	char prefix[DIAG_ROUTE_MAX]; /* mount prefix from the root */
	const struct route_ent *via; /* the Mount route entered next (NULL: last) */
};

struct trail {
	unsigned n;
	struct hop hops[MAX_DEPTH + 1];
};

/* An app holding the needed middleware, found by apps__find_elsewhere. */
struct found {
	const struct node *node;
	char prefix[DIAG_ROUTE_MAX];
	unsigned depth;
};

/* diagnose.c */

/*
 * Keep ptr alive until the current diagnosis ends, then free_fn(ptr). If
 * that cannot be recorded (out of memory), ptr is kept for good (what names
 * it in the warning): never freed early.
 */
void diagnose__retire(struct diagnose *d, void *ptr, void (*free_fn)(void *ptr),
		      const char *what);

/*
 * Start reading t through d's caches: what the last diagnosis retired is
 * freed, c reads with a budget of reads remote reads.
 */
void diagnose__ctx_init(struct diagnose *d, const struct target *t, unsigned reads,
			struct ctx *c);
/*
 * The facts of a request's path (tr) into dg: apps, middleware (addrs[i]:
 * the instance of dg->mw[i]), the serving app sn and the needed middleware.
 */
void diagnose__facts_from_trail(const struct trail *tr, const struct node *sn,
				 struct diagnosis *dg, __u64 *addrs);
/* Where the needed middleware is installed, when not on the path (tr). */
void diagnose__find_elsewhere(struct ctx *c, const struct trail *tr, struct node *sn,
			       struct diagnosis *dg);

/* apps.c */

/* Frees a node (a struct node *) and its routes. */
void apps__node_free(void *node);
/*
 * Empties p->types: its entries are retired to d (they may be held until the
 * diagnosis ends), or freed now when d is NULL.
 */
void apps__types_clear(struct proc *p, struct diagnose *d);
/* Name and recognised base classes of obj's type (cached); NULL if unreadable. */
const struct type_info *apps__obj_type_info(struct ctx *c, __u64 obj);
/* The same of the class cls itself; NULL if cls is not a class or unreadable. */
const struct type_info *apps__class_type_info(struct ctx *c, __u64 cls);
/*
 * The app or Router at addr, read or cached (re-read when stale or not yet
 * built); NULL when it is neither. Valid until the diagnosis ends.
 */
struct node *apps__node_get(struct ctx *c, __u64 addr);
/* Follow .app links from obj to the first Starlette app; 0 if none. */
__u64 apps__app_through_links(struct ctx *c, __u64 obj);
/* Once per process: the app named on the server's command line becomes a root. */
void apps__root_from_spec(struct ctx *c);
/* Make app the newest root of the process (kept once). */
void apps__add_root(struct proc *p, __u64 app);
/*
 * The trail from the root under which sn sits deepest; false (tr untouched)
 * when no root leads to it.
 */
bool apps__find_parents(struct ctx *c, struct node *sn, struct trail *tr);
/* out = a + b (b may be NULL), truncated to sz; out never overlaps a or b. */
void apps__join(char *out, size_t sz, const char *a, const char *b);
/* Enter child through the Mount route re of the last hop (tr->n <= MAX_DEPTH). */
void apps__trail_push(struct trail *tr, const struct route_ent *re, struct node *child);
/* Undo apps__trail_push. */
void apps__trail_pop(struct trail *tr);
/*
 * An app holding the needed middleware that is not on the request's path
 * (tr): first under sn (at sprefix), else under a root.
 */
enum diag_where apps__find_elsewhere(struct ctx *c, struct node *sn, const char *sprefix,
				     unsigned cls, const struct trail *tr, struct found *out);
/*
 * The apps and middleware of the trail into dg, in the order a request meets
 * them; addrs[i]: the instance of dg->mw[i] (0 when derived).
 */
void apps__flatten(const struct trail *tr, struct diagnosis *dg, __u64 *addrs);

/* routes.c */

/*
 * The route template the request matched into dg->route, from the serving
 * app (the last hop of tr) down; the apps descended into are appended to tr.
 */
void routes__match(struct ctx *c, struct trail *tr, const char *path, const char *root_path,
		   struct diagnosis *dg);

#endif
