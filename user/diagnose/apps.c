// SPDX-License-Identifier: BSD-2-Clause
/*
 * The apps of a traced process as read from it: the types of its objects,
 * each Starlette app's middleware chain and routes (struct node), the roots
 * of its tree of mounted apps, and trails through that tree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diagnose/internal.h"
#include "resolve/target.h"
#include "util/cut.h"

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
	{ "starlette.requests.HTTPConnection", CLS_CONNECTION },
};

/* ---------------------------------------------------------------------- */
/* types                                                                    */

/* The name and the recognised base classes of a type; NULL if its name is unreadable. */
static struct type_info *type_read(struct ctx *c, __u64 type)
{
	struct type_info *ti = calloc(1, sizeof(*ti));
	__u64 mro[PYOBJ_MRO_MAX];
	unsigned n = 0, k, j;
	size_t off;

	if (!ti)
		return NULL;
	if (pyobj__type_name(&c->r, type, ti->name, sizeof(ti->name), &off)) {
		free(ti);
		return NULL;
	}
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
	return ti;
}

void apps__types_clear(struct proc *p, struct diagnose *d)
{
	struct hashmap_entry *e;
	size_t b;

	hashmap__for_each_entry(&p->types, e, b) {
		if (d)
			diagnose__retire(d, (void *)e->value, free, "a type cache entry");
		else
			free((void *)e->value);
	}
	hashmap__clear(&p->types);
}

/*
 * Name and recognised base classes of a type object, cached: types live
 * long. The entry stays valid until the diagnosis ends.
 */
static const struct type_info *type_info(struct ctx *c, __u64 type)
{
	struct hashmap *m = &c->p->types;
	struct type_info *ti;
	uintptr_t v;

	if (hashmap__find(m, type, &v))
		return (const struct type_info *)v;
	ti = type_read(c, type);
	if (!ti)
		return NULL;
	/* full: start over rather than grow (the old ones live to the event's end) */
	if (hashmap__size(m) >= MAX_TYPES)
		apps__types_clear(c->p, c->d);
	if (hashmap__set(m, type, (uintptr_t)ti))
		diagnose__retire(c->d, ti, free, "a type cache entry"); /* not cached */
	return ti;
}

const struct type_info *apps__class_type_info(struct ctx *c, __u64 cls)
{
	return cls && pyobj__is_class(&c->r, cls) ? type_info(c, cls) : NULL;
}

const struct type_info *apps__obj_type_info(struct ctx *c, __u64 obj)
{
	__u64 type;

	if (!obj || pyobj__type(&c->r, obj, &type))
		return NULL;
	return type_info(c, type);
}

/* ---------------------------------------------------------------------- */
/* apps and routers                                                         */

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
			ti = apps__obj_type_info(c, obj);
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
		n->chain[n->nchain++].item = items[i];
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
		ti = apps__obj_type_info(c, obj);
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
		const struct type_info *ti = apps__obj_type_info(c, items[i]);
		struct route_ent *re = &n->routes[n->nroutes];
		char tmpl[ROUTE_TMPL_MAX];
		bool trunc = false;
		__u64 path;

		if (!ti)
			continue;
		re->obj = items[i];
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

void apps__node_free(void *node)
{
	struct node *n = node;
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

static void node_retire(struct ctx *c, struct node *n)
{
	diagnose__retire(c->d, n, apps__node_free, "an app cache node");
}

struct node *apps__node_get(struct ctx *c, __u64 addr)
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
		if (n->type == type && n->built && !n->partial && c->now - n->loaded < NODE_TTL_SEC)
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
			node_retire(c, p->nodes[i]);
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
	/* what it lacks would be missing for every later hit until the node expired */
	n->partial = !c->r.reads_left;
	if (slot < p->nnodes)
		node_retire(c, p->nodes[slot]); /* a caller may still hold the old one */
	else
		p->nnodes++;
	p->nodes[slot] = n;
	return n;
}

/* ---------------------------------------------------------------------- */
/* roots                                                                    */

void apps__add_root(struct proc *p, __u64 app)
{
	unsigned i;

	for (i = 0; i < MAX_ROOTS; i++)
		if (p->roots[i] == app)
			return;
	memmove(&p->roots[1], &p->roots[0], (MAX_ROOTS - 1) * sizeof(p->roots[0]));
	p->roots[0] = app;
}

__u64 apps__app_through_links(struct ctx *c, __u64 obj)
{
	unsigned i;

	for (i = 0; obj && i < APP_LINKS; i++) {
		const struct type_info *ti = apps__obj_type_info(c, obj);

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
	return apps__app_through_links(c, obj);
}

void apps__root_from_spec(struct ctx *c)
{
	__u64 app;

	if (c->p->spec_tried)
		return;
	app = app_from_spec(c);
	c->p->spec_tried = true;
	if (app)
		apps__add_root(c->p, app);
}

/* ---------------------------------------------------------------------- */
/* trails through the tree of apps                                          */

void apps__join(char *out, size_t sz, const char *a, const char *b)
{
	size_t la = strnlen(a, sz - 1), lb = b ? strnlen(b, sz - 1 - la) : 0;
	bool cut = a[la] || (b && b[lb]);

	memmove(out, a, la);
	if (lb)
		memmove(out + la, b, lb);
	out[la + lb] = 0;
	if (cut) /* a prefix or template longer than the bound: say so */
		cut__mark(out, sz);
}

void apps__trail_push(struct trail *tr, const struct route_ent *re, struct node *child)
{
	struct hop *h = &tr->hops[tr->n - 1], *next = &tr->hops[tr->n++];

	h->via = re;
	memset(next, 0, sizeof(*next));
	next->node = child;
	apps__join(next->prefix, sizeof(next->prefix), h->prefix, re->tmpl);
}

void apps__trail_pop(struct trail *tr)
{
	tr->n--;
	tr->hops[tr->n - 1].via = NULL;
}

/* Depth-first search for target under trail's last hop. */
static bool find_under(struct ctx *c, struct trail *tr, __u64 target)
{
	const struct node *n = tr->hops[tr->n - 1].node;
	unsigned i;

	if (n->addr == target)
		return true;
	if (tr->n > MAX_DEPTH || ++c->visits > MAX_NODES)
		return false;
	for (i = 0; i < n->nroutes; i++) {
		const struct route_ent *re = &n->routes[i];
		struct node *child;

		if (re->kind == ROUTE_PLAIN || !re->child)
			continue;
		child = apps__node_get(c, re->child);
		if (!child)
			continue;
		apps__trail_push(tr, re, child);
		if (find_under(c, tr, target))
			return true;
		apps__trail_pop(tr);
	}
	return false;
}

bool apps__find_parents(struct ctx *c, struct node *sn, struct trail *tr)
{
	bool found = false;
	unsigned k;

	for (k = 0; k < MAX_ROOTS; k++) {
		struct node *root = apps__node_get(c, c->p->roots[k]);
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

/*
 * The first app at or under n (bounded, depth-first) that holds the class
 * and is not on path.
 */
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
		cut__copy(out->prefix, sizeof(out->prefix), prefix);
		return true;
	}
	for (i = 0; i < n->nroutes; i++) {
		const struct route_ent *re = &n->routes[i];
		char sub[DIAG_ROUTE_MAX];
		struct node *child;

		if (re->kind == ROUTE_PLAIN || !re->child || !(child = apps__node_get(c, re->child)))
			continue;
		apps__join(sub, sizeof(sub), prefix, re->tmpl);
		if (find_holder(c, child, sub, depth + 1, cls, path, out))
			return true;
	}
	return false;
}

enum diag_where apps__find_elsewhere(struct ctx *c, struct node *sn, const char *sprefix,
				     unsigned cls, const struct trail *tr, struct found *out)
{
	unsigned k;

	c->visits = 0;
	if (find_holder(c, sn, sprefix, 0, cls, tr, out))
		return DIAG_WHERE_SUB;
	for (k = 0; k < MAX_ROOTS; k++) {
		struct node *root = apps__node_get(c, c->p->roots[k]);

		c->visits = 0;
		if (root && find_holder(c, root, "", 0, cls, tr, out))
			return DIAG_WHERE_OTHER;
	}
	return DIAG_WHERE_NONE;
}

/* ---------------------------------------------------------------------- */
/* the trail as facts                                                       */

/* Append e to dg->mw (its instance to addrs), or mark the list truncated. */
static void mw_add(struct diagnosis *dg, __u64 *addrs, const struct chain_ent *e, unsigned app,
		   bool mount, unsigned req)
{
	struct diag_mw *m;

	if (dg->nmw >= DIAG_MAX_MW) {
		dg->mw_truncated = true;
		return;
	}
	addrs[dg->nmw] = e->addr;
	m = &dg->mw[dg->nmw++];
	snprintf(m->name, sizeof(m->name), "%s", e->name);
	m->short_off = e->short_off;
	m->app = app;
	m->mount = mount;
	m->required = e->cls & req;
}

void apps__flatten(const struct trail *tr, struct diagnosis *dg, __u64 *addrs)
{
	unsigned req = cls_required(dg->prop), i, j, app = 0;

	for (i = 0; i < tr->n; i++) {
		const struct node *n = tr->hops[i].node;
		const struct route_ent *via = tr->hops[i].via;

		if (n->is_app && dg->napps < DIAG_MAX_APPS) {
			struct diag_app *a = &dg->apps[dg->napps];

			snprintf(a->name, sizeof(a->name), "%s", n->name);
			a->short_off = n->short_off;
			snprintf(a->mount, sizeof(a->mount), "%s", tr->hops[i].prefix);
			a->built = n->built;
			app = dg->napps++;
			for (j = 0; j < n->nchain; j++)
				mw_add(dg, addrs, &n->chain[j], app, false, req);
			if (n->chain_truncated)
				dg->mw_truncated = true;
		}
		for (j = 0; via && j < via->nmw; j++)
			mw_add(dg, addrs, &via->mw[j], app, true, req);
	}
}
