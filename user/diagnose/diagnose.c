// SPDX-License-Identifier: BSD-2-Clause
/* The entry (diagnose__event), and the per-process caches it keeps. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "diagnose/internal.h"
#include "util/log.h"
#include "decode/hit.h"
#include "resolve/target.h"

#define READS_PER_EVENT 40000 /* remote reads one diagnosis may cost, cached or not */

/* ---------------------------------------------------------------------- */
/* per-process caches                                                       */

/* Frees what p caches and leaves it free (pid 0), its maps empty. */
static void proc_clear(struct proc *p)
{
	unsigned i;

	for (i = 0; i < p->nnodes; i++)
		apps__node_free(p->nodes[i]);
	apps__types_clear(p, NULL);
	hashmap__clear(&p->codes);
	memset(p, 0, sizeof(*p));
	hashmap__init(&p->types, hashmap__hash_u64, hashmap__equal_u64, NULL);
	hashmap__init(&p->codes, hashmap__hash_u64, hashmap__equal_u64, NULL);
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

void diagnose__retire(struct diagnose *d, void *ptr, void (*free_fn)(void *ptr),
		      const char *what)
{
	if (d->nretired == d->capretired) {
		size_t cap = d->capretired ? d->capretired * 2 : MAX_NODES;
		struct retired *v = realloc(d->retired, cap * sizeof(*v));

		if (!v) {
			pr_warn("out of memory: %s is kept for good\n", what);
			return;
		}
		d->retired = v;
		d->capretired = cap;
	}
	d->retired[d->nretired].ptr = ptr;
	d->retired[d->nretired].free_fn = free_fn;
	d->nretired++;
}

static void retired_free(struct diagnose *d)
{
	size_t i;

	for (i = 0; i < d->nretired; i++)
		d->retired[i].free_fn(d->retired[i].ptr);
	d->nretired = 0;
}

void diagnose__ctx_init(struct diagnose *d, const struct target *t, unsigned reads,
			struct ctx *c)
{
	retired_free(d);
	memset(c, 0, sizeof(*c));
	c->d = d;
	c->t = t;
	c->now = time(NULL);
	c->p = proc_get(d, t);
	pyobj__init(&c->r, t->pid, t->layout, &t->bpf, reads);
	c->r.cell_type = t->cell_type;
}

/* Is the first argument of this code object `self`? Cached per code object. */
static bool code_has_self(struct ctx *c, __u64 code)
{
	struct hashmap *m = &c->p->codes;
	uintptr_t v;
	bool yes = false;

	if (hashmap__find(m, code, &v))
		return v;
	if (pyobj__code_first_arg(&c->r, code, "self", &yes))
		return false; /* unreadable now: do not cache */
	if (hashmap__size(m) >= MAX_CODES)
		hashmap__clear(m); /* full: start over (nothing points into it) */
	hashmap__set(m, code, yes); /* out of memory: not cached */
	return yes;
}

struct diagnose *diagnose__new(void)
{
	struct diagnose *d = calloc(1, sizeof(*d));
	unsigned i;

	for (i = 0; d && i < MAX_PROCS; i++)
		proc_clear(&d->procs[i]);
	return d;
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

/* ---------------------------------------------------------------------- */
/* one diagnosis                                                            */

/*
 * The event's stack: its frames symbolized, and each one's verified self,
 * read when first asked for (self_at): most diagnoses need the innermost
 * few, and each costs a read of the target.
 */
struct stack {
	const struct st_event *ev;
	const struct frame_info *frames;
	unsigned n;
	__u64 selfs[ST_MAX_FRAMES]; /* 0: the first argument is not self, or unreadable */
	__u64 read;                 /* bit per frame: selfs[i] is known */
};

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

/*
 * dg emptied (nothing known), then the facts the event alone gives: the
 * property, whether a request was being served, whether a BackgroundTask
 * is on the stack.
 */
static void facts_from_event(struct diagnosis *dg, const struct hit *h, const struct stack *s)
{
	unsigned i;

	memset(dg, 0, sizeof(*dg));
	dg->serving = -1;
	dg->required = -1;
	dg->touched = -1;
	dg->touched_frame = -1;
	snprintf(dg->route, sizeof(dg->route), "%s", DIAG_ROUTE_NONE);
	dg->prop = h->prop;
	dg->request = h->request;
	for (i = 0; i < s->n; i++)
		if (ends_with(s->frames[i].file, "/starlette/background.py"))
			dg->background = true;
}

/* Frame i's first local, when the code says it is self (a cell: its content); 0 if not. */
static __u64 self_at(struct ctx *c, struct stack *s, unsigned i)
{
	const struct st_frame *f;

	if (i >= s->n || i >= ST_MAX_FRAMES)
		return 0;
	if (s->read & (1ULL << i))
		return s->selfs[i];
	s->read |= 1ULL << i;
	f = &s->ev->frames[i];
	if (f->self && f->code && code_has_self(c, f->code) &&
	    pyobj__deref_cell(&c->r, f->self, &s->selfs[i]))
		s->selfs[i] = 0;
	return s->selfs[i];
}

/*
 * The app that served the request: scope["app"], else (not Starlette at the
 * top) the innermost app on the stack. NULL when unknown.
 */
static struct node *serving_app(struct ctx *c, __u64 serving, struct stack *s)
{
	struct node *sn;
	unsigned i;

	for (i = 0; i < s->n && !serving; i++) {
		__u64 self = self_at(c, s, i);
		const struct type_info *ti = apps__obj_type_info(c, self);

		if (ti && (ti->cls & CLS_APP))
			serving = self;
	}
	sn = apps__node_get(c, serving);
	return sn && sn->is_app ? sn : NULL;
}

/*
 * The trail from a root of the process down to sn: the roots known, else
 * the outermost app reached from the stack becomes one; only sn when no
 * root leads to it.
 */
static void trail_to(struct ctx *c, struct node *sn, struct stack *s, struct trail *tr)
{
	unsigned i;

	if (apps__find_parents(c, sn, tr))
		return;
	/* outermost frames first: uvicorn's wrappers lead to the outermost app */
	for (i = s->n; i-- > 0;) {
		__u64 app = apps__app_through_links(c, self_at(c, s, i));

		if (app) {
			apps__add_root(c->p, app);
			break;
		}
	}
	if (apps__find_parents(c, sn, tr))
		return;
	memset(tr, 0, sizeof(*tr));
	tr->n = 1;
	tr->hops[0].node = sn;
}

/* The last hop of tr at sn; -1 when sn is not on it. */
static int hop_of(const struct trail *tr, const struct node *sn)
{
	int at = -1;
	unsigned i;

	for (i = 0; i < tr->n; i++)
		if (tr->hops[i].node == sn)
			at = i;
	return at;
}

void diagnose__facts_from_trail(const struct trail *tr, const struct node *sn,
				 struct diagnosis *dg, __u64 *addrs)
{
	int at = hop_of(tr, sn);
	unsigned i;

	if (at >= 0) {
		dg->serving = 0;
		for (i = 0; i < (unsigned)at; i++)
			dg->serving += tr->hops[i].node->is_app;
	}
	apps__flatten(tr, dg, addrs);
	for (i = 0; i < dg->nmw; i++)
		if (dg->mw[i].required) {
			dg->required = i;
			break;
		}
}

/*
 * Where the property was read: the innermost frame whose self is a layer of
 * the chain (addrs: the layers' instances), or a Router or route (then
 * inside the router: the endpoint, a dependency; every layer of the chain
 * encloses it), whose code is the innermost non-framework frame.
 */
static void locate_reader(struct ctx *c, struct stack *s, const __u64 *addrs,
			  struct diagnosis *dg)
{
	unsigned i, k;

	for (i = 0; i < s->n && dg->touched < 0; i++) {
		const struct type_info *ti;
		__u64 self = self_at(c, s, i);

		if (!self)
			continue;
		for (k = 0; k < dg->nmw; k++)
			if (addrs[k] == self) {
				dg->touched = k;
				dg->touched_frame = i;
				break;
			}
		if (dg->touched < 0 && (ti = apps__obj_type_info(c, self)) &&
		    (ti->cls & (CLS_ROUTER | CLS_ROUTE)))
			break;
	}
	if (dg->touched >= 0)
		return;
	/* inside the router (or nothing known on the stack): the endpoint's code */
	dg->touched = dg->nmw;
	for (i = 0; i < s->n; i++)
		if (!hit__is_framework_file(s->frames[i].file)) {
			dg->touched_frame = i;
			break;
		}
}

void diagnose__find_elsewhere(struct ctx *c, const struct trail *tr, struct node *sn,
			       struct diagnosis *dg)
{
	struct found f = { 0 };
	int at = hop_of(tr, sn);

	dg->elsewhere = apps__find_elsewhere(c, sn, at >= 0 ? tr->hops[at].prefix : "",
					     cls_required(dg->prop), tr, &f);
	if (!f.node)
		return;
	snprintf(dg->elsewhere_app, sizeof(dg->elsewhere_app), "%s", f.node->name);
	dg->elsewhere_short_off = f.node->short_off;
	snprintf(dg->elsewhere_mount, sizeof(dg->elsewhere_mount), "%s", f.prefix);
}

/*
 * The facts that need the target's memory: the apps on the request's path,
 * the route, where the property was read and where the needed middleware is.
 * What cannot be read is left unknown.
 */
static void facts_from_target(struct ctx *c, const struct st_event *ev, struct stack *s,
			      const char *path, const char *root_path, struct diagnosis *dg)
{
	__u64 addrs[DIAG_MAX_MW] = { 0 };
	struct trail tr = { 0 };
	struct node *sn;

	apps__root_from_spec(c);
	sn = serving_app(c, ev->app, s);
	if (!sn)
		return;
	dg->app_known = true;
	trail_to(c, sn, s, &tr);
	routes__match(c, &tr, path, root_path, dg);
	diagnose__facts_from_trail(&tr, sn, dg, addrs);
	locate_reader(c, s, addrs, dg);
	if (dg->required < 0)
		diagnose__find_elsewhere(c, &tr, sn, dg);
	if (!c->r.reads_left)
		pr_debug("pid %d: diagnosis read budget spent\n", c->t->pid);
}

int diagnose__event(struct diagnose *d, const struct hit *h, struct diagnosis *dg)
{
	const struct target *t = h->t;
	struct stack s = { .ev = h->ev, .frames = h->frames, .n = h->nframes };
	struct ctx c = { .d = d, .t = t, .now = time(NULL) };

	/* between diagnoses: nothing holds what the last one retired */
	retired_free(d);
	facts_from_event(dg, h, &s);
	if (dg->request && t->layout && t->layout->code_varnames >= 0) {
		snprintf(dg->route, sizeof(dg->route), "%s", DIAG_ROUTE_UNMATCHED);
		diagnose__ctx_init(d, t, READS_PER_EVENT, &c);
		facts_from_target(&c, h->ev, &s, route_str(&h->path), route_str(&h->root), dg);
	}
	diagnose__decide(dg);
	return 0;
}
