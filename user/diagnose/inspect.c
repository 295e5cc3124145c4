// SPDX-License-Identifier: BSD-2-Clause
/* sessiontrace inspect: the app tree, its readers, and the findings (inspect.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "decode/bytecode.h"
#include "decode/symbolizer.h"
#include "diagnose/inspect.h"
#include "diagnose/internal.h"
#include "resolve/target.h"
#include "util/log.h"

#define READS_PER_RUN  400000   /* remote reads one reading of the app may cost */
#define RUNS_MAX       4        /* readings until two agree */
#define CODE_MAX_BYTES (64u << 10) /* one function's bytecode */
#define NAMES_MAX      1024     /* co_names searched for "session" */
#define VARNAMES_MAX   256      /* locals searched for a FastAPI parameter name */
#define DEPENDANT_MAX  32       /* sub-dependencies per dependency */
#define DEPENDANT_DEPTH 8
#define READS_FOUND    4        /* .session reads located per reader (the first is shown) */
#define WRAPPED_DEPTH  8        /* decorators followed through __wrapped__ */

/* The endpoint class methods that get the request or the websocket. */
static const char *const endpoint_methods[] = {
	"get", "head", "post", "put", "patch", "delete", "options",
	"on_connect", "on_receive", "on_disconnect",
};
/* FastAPI's Dependant: the names of the parameters that get the connection. */
static const char *const dependant_params[] = {
	"request_param_name", "websocket_param_name", "http_connection_param_name",
};

struct walk {
	struct ctx c;
	struct symbolizer *sym;
	struct inspection *out;
	struct diagnosis *base;  /* the path to the node being visited */
	struct diagnosis *dg;    /* one reader's verdict */
	uint8_t *code;           /* CODE_MAX_BYTES */
	__u64 names[NAMES_MAX];
	unsigned visits;
};

/* ---------------------------------------------------------------------- */
/* one reader's bytecode                                                    */

/* Index of the str equal to s among a tuple's first max items; -1 if none. */
static int tuple_index(struct walk *w, __u64 tuple, const char *s, unsigned max)
{
	unsigned n = 0, i;

	if (max > NAMES_MAX || pyobj__items(&w->c.r, tuple, w->names, max, &n, NULL))
		return -1;
	for (i = 0; i < n; i++)
		if (pyobj__str_eq(&w->c.r, w->names[i], s) == 1)
			return (int)i;
	return -1;
}

/* The code object's instructions into w->code: their length in bytes, or -errno. */
static long code_bytes(struct walk *w, __u64 code)
{
	const struct st_py_layout *L = w->c.t->layout;
	__u64 size, addr = code, holder = code;
	int err;

	if (L->code_adaptive < 0) { /* 3.10: co_code, a bytes object */
		err = pyobj__ptr(&w->c.r, code + L->code_code, &holder);
		if (err)
			return err;
		addr = holder + L->bytes_sval;
	} else {
		addr = code + L->code_adaptive;
	}
	err = pyobj__read(&w->c.r, holder + L->var_size, &size, sizeof(size));
	if (err)
		return err;
	if (L->code_adaptive >= 0)
		size *= 2; /* 3.11+: ob_size counts code units */
	if (!size || size > CODE_MAX_BYTES)
		return -E2BIG;
	err = pyobj__read(&w->c.r, addr, w->code, size);
	return err ? err : (long)size;
}

/*
 * co_names of code into *names, and the index of "session" in it: >= 0,
 * -ENOENT when the code reads no attribute of that name, or -errno.
 */
static int session_name(struct walk *w, __u64 code, __u64 *names)
{
	int err = pyobj__ptr(&w->c.r, code + w->c.t->layout->code_names, names);
	int namei;

	if (err)
		return err;
	namei = tuple_index(w, *names, "session", NAMES_MAX);
	return namei < 0 ? -ENOENT : namei;
}

/* The function, file and line of the instruction at code unit off of code. */
static void locate(struct walk *w, __u64 code, unsigned off, struct inspect_reader *rd)
{
	struct frame_info fi;

	symbolizer__code_at(w->sym, code, off, &fi);
	snprintf(rd->function, sizeof(rd->function), "%s", fi.function);
	snprintf(rd->file, sizeof(rd->file), "%s", fi.file);
	rd->line = fi.line;
}

/*
 * Does the code read .session of its local `local` (or of the parameter
 * named pname, when given)? 1 with rd filled, 0, or -errno: not analyzed.
 */
static int code_reads_session(struct walk *w, __u64 code, int local, const char *pname,
			      struct inspect_reader *rd)
{
	const struct st_py_layout *L = w->c.t->layout;
	unsigned offs[READS_FOUND], n = 0;
	__u64 names, varnames;
	int namei, err;
	long len;

	namei = session_name(w, code, &names);
	if (namei < 0)
		return namei == -ENOENT ? 0 : namei;
	if (pname) {
		err = pyobj__ptr(&w->c.r, code + L->code_varnames, &varnames);
		if (err)
			return err;
		local = tuple_index(w, varnames, pname, VARNAMES_MAX);
		if (local < 0)
			return 0;
	}
	len = code_bytes(w, code);
	if (len < 0)
		return (int)len;
	err = bytecode__attr_reads(w->c.t->version_hex, w->code, (size_t)len, (unsigned)local,
				   (unsigned)namei, offs, READS_FOUND, &n);
	if (err || !n)
		return err;
	locate(w, code, offs[0], rd);
	return 1;
}

/*
 * Does the code read .session of a connection it builds itself, such as
 * request = Request(scope) in a pure ASGI middleware's __call__? The
 * callee is any global of the function's module that is a class deriving
 * from starlette.requests.HTTPConnection (Request, WebSocket, aliases).
 * 1 with rd filled, 0, or -errno: not analyzed.
 */
static int code_builds_and_reads_session(struct walk *w, __u64 func, __u64 code,
					 struct inspect_reader *rd)
{
	const struct st_py_layout *L = w->c.t->layout;
	unsigned offs[READS_FOUND], n = 0, nnames = 0, i;
	__u64 names, globals, obj;
	const struct type_info *ti;
	char name[128];
	int namei, err;
	long len;

	namei = session_name(w, code, &names);
	if (namei < 0)
		return namei == -ENOENT ? 0 : namei;
	err = pyobj__items(&w->c.r, names, w->names, NAMES_MAX, &nnames, NULL);
	if (!err)
		err = pyobj__ptr(&w->c.r, func + L->func_globals, &globals);
	if (err)
		return err;
	len = code_bytes(w, code);
	if (len < 0)
		return (int)len;
	/* the scan costs no remote read: the globals are looked up only for a call it finds */
	for (i = 0; i < nnames; i++) {
		if ((int)i == namei ||
		    bytecode__call_attr_reads(w->c.t->version_hex, w->code, (size_t)len, i,
					      (unsigned)namei, offs, READS_FOUND, &n) || !n)
			continue;
		if (pyobj__str(&w->c.r, w->names[i], name, sizeof(name), NULL, NULL) ||
		    pyobj__dict_get(&w->c.r, globals, name, &obj))
			continue;
		ti = apps__class_type_info(&w->c, obj);
		if (ti && (ti->cls & CLS_CONNECTION)) {
			locate(w, code, offs[0], rd);
			return 1;
		}
	}
	return 0;
}

/*
 * The function object of a callable and its code: a function, or a bound
 * method's (whose self takes the first parameter: *bound is set). -ENOENT
 * for anything else.
 */
static int callable_code(struct walk *w, __u64 obj, __u64 *func, __u64 *code, int *bound)
{
	const struct st_py_layout *L = w->c.t->layout;
	char tp[32];
	__u64 type;
	int i;

	*bound = 0;
	for (i = 0; i < 2; i++) {
		if (pyobj__type(&w->c.r, obj, &type) ||
		    pyobj__type_tpname(&w->c.r, type, tp, sizeof(tp)))
			return -EFAULT;
		*func = obj;
		if (!strcmp(tp, "function"))
			return pyobj__ptr(&w->c.r, obj + L->func_code, code);
		if (strcmp(tp, "method") || pyobj__ptr(&w->c.r, obj + L->method_func, &obj))
			break;
		*bound = 1;
	}
	return -ENOENT;
}

/* ---------------------------------------------------------------------- */
/* findings                                                                 */

static void add_finding(struct walk *w, const struct inspect_reader *rd, bool mw,
			const char *route)
{
	struct inspection *in = w->out;
	struct inspect_finding *f;

	if (in->nfindings >= INSPECT_MAX_FINDINGS) {
		in->truncated = true;
		return;
	}
	f = &in->findings[in->nfindings++];
	f->cause = w->dg->cause;
	f->reader = *rd;
	f->app = in->napps - 1;
	f->middleware = mw;
	snprintf(f->route, sizeof(f->route), "%s", route ? route : "");
	snprintf(f->hint, sizeof(f->hint), "%s", w->dg->hint);
}

/*
 * A reader at position touched of the path (an index of w->base->mw, or
 * nmw: inside the router) reads request.session: a finding unless a
 * SessionMiddleware runs before it.
 */
static void judge(struct walk *w, const struct trail *tr, struct node *sn, int touched,
		  const struct inspect_reader *rd, const char *route)
{
	struct diagnosis *dg = w->dg;

	if (w->base->required >= 0 && w->base->required < touched)
		return;
	*dg = *w->base;
	dg->touched = touched;
	if (dg->required < 0)
		diagnose__find_elsewhere(&w->c, tr, sn, dg);
	snprintf(dg->route, sizeof(dg->route), "%s", route ? route : "");
	diagnose__decide(dg);
	add_finding(w, rd, (unsigned)touched < dg->nmw, route);
}

/* Counts a reader's analysis (ret < 0: not analyzed); ret > 0: judges its finding. */
static void tally(struct walk *w, const struct trail *tr, struct node *sn, int touched,
		  int ret, const struct inspect_reader *rd, const char *route)
{
	if (ret < 0)
		w->out->unanalyzed++;
	else
		w->out->readers++;
	if (ret > 0)
		judge(w, tr, sn, touched, rd, route);
}

/*
 * One callable that gets the connection as its parameter `local` (or
 * pname), and the functions it decorates: functools.wraps keeps each in
 * __wrapped__, which gets the connection at the same place (Starlette
 * passes it on; FastAPI reads the signature through __wrapped__).
 */
static void reader(struct walk *w, const struct trail *tr, struct node *sn, int touched,
		   __u64 fn, int local, const char *pname, const char *route)
{
	struct inspect_reader rd = { .line = -1 };
	__u64 func, code;
	int bound, ret;
	unsigned depth;

	for (depth = 0; depth < WRAPPED_DEPTH; depth++) {
		if (callable_code(w, fn, &func, &code, &bound))
			return; /* a class, a builtin, a partial: not Python code we analyze */
		ret = code_reads_session(w, code, pname ? 0 : local + bound, pname, &rd);
		tally(w, tr, sn, touched, ret, &rd, route);
		if (ret > 0)
			return;
		if (pyobj__attr(&w->c.r, func, "__wrapped__", &fn))
			return;
		local += bound; /* the method's function: self is its own first parameter */
	}
}

/* A pure ASGI middleware's __call__(self, scope, receive, send): the connections it builds. */
static void asgi_reader(struct walk *w, const struct trail *tr, struct node *sn, int touched,
			__u64 fn)
{
	struct inspect_reader rd = { .line = -1 };
	__u64 func, code;
	int bound, ret;

	if (callable_code(w, fn, &func, &code, &bound))
		return;
	ret = code_builds_and_reads_session(w, func, code, &rd);
	tally(w, tr, sn, touched, ret, &rd, NULL);
}

/* ---------------------------------------------------------------------- */
/* the readers of an app                                                    */

/*
 * A middleware's dispatch: Middleware(..., dispatch=f), else its class's
 * dispatch(self, request, ...); a class without one is a pure ASGI
 * middleware: its __call__.
 */
static void middleware_reader(struct walk *w, const struct trail *tr, struct node *sn,
			      const struct chain_ent *e, int touched)
{
	__u64 fn = 0, cls = 0, kw;

	if (e->addr) { /* a built layer: BaseHTTPMiddleware keeps dispatch_func */
		if (!pyobj__attr(&w->c.r, e->addr, "dispatch_func", &fn)) {
			reader(w, tr, sn, touched, fn, 0, NULL, NULL);
			return;
		}
		pyobj__type(&w->c.r, e->addr, &cls);
	} else if (e->item) { /* Middleware(cls, *args, **kwargs) (<0.35: **options) */
		if ((!pyobj__attr(&w->c.r, e->item, "kwargs", &kw) ||
		     !pyobj__attr(&w->c.r, e->item, "options", &kw)) &&
		    !pyobj__dict_get(&w->c.r, kw, "dispatch", &fn)) {
			reader(w, tr, sn, touched, fn, 0, NULL, NULL);
			return;
		}
		if (pyobj__attr(&w->c.r, e->item, "cls", &cls))
			pyobj__items(&w->c.r, e->item, &cls, 1, &(unsigned){ 0 }, NULL);
	}
	if (!cls)
		return;
	if (!pyobj__class_attr(&w->c.r, cls, "dispatch", &fn, NULL))
		reader(w, tr, sn, touched, fn, 1, NULL, NULL);
	else if (!pyobj__class_attr(&w->c.r, cls, "__call__", &fn, NULL))
		asgi_reader(w, tr, sn, touched, fn);
}

/* A FastAPI Dependant: its call, then its sub-dependencies. */
static void dependant_readers(struct walk *w, const struct trail *tr, struct node *sn,
			      __u64 dep, const char *route, unsigned depth)
{
	__u64 call, name, list, items[DEPENDANT_MAX];
	char pname[128];
	unsigned i, n = 0;

	if (depth > DEPENDANT_DEPTH || ++w->visits > INSPECT_MAX_READERS) {
		w->out->truncated = true;
		return;
	}
	if (!pyobj__attr(&w->c.r, dep, "call", &call) && !pyobj__is_none(&w->c.r, call))
		for (i = 0; i < sizeof(dependant_params) / sizeof(dependant_params[0]); i++)
			if (!pyobj__attr(&w->c.r, dep, dependant_params[i], &name) &&
			    !pyobj__is_none(&w->c.r, name) &&
			    !pyobj__str(&w->c.r, name, pname, sizeof(pname), NULL, NULL))
				reader(w, tr, sn, (int)w->base->nmw, call, 0, pname, route);
	if (!pyobj__attr(&w->c.r, dep, "dependencies", &list))
		pyobj__items(&w->c.r, list, items, DEPENDANT_MAX, &n, NULL);
	for (i = 0; i < n; i++)
		dependant_readers(w, tr, sn, items[i], route, depth + 1);
}

/* A plain route: FastAPI's dependant, else the endpoint (a function or an endpoint class). */
static void route_readers(struct walk *w, const struct trail *tr, struct node *sn,
			  const struct route_ent *re, const char *route)
{
	__u64 obj, fn;
	size_t i;

	if (!pyobj__attr(&w->c.r, re->obj, "dependant", &obj) && !pyobj__is_none(&w->c.r, obj)) {
		dependant_readers(w, tr, sn, obj, route, 0);
		return;
	}
	if (pyobj__attr(&w->c.r, re->obj, "endpoint", &obj))
		return;
	if (!pyobj__is_class(&w->c.r, obj)) {
		reader(w, tr, sn, (int)w->base->nmw, obj, 0, NULL, route);
		return;
	}
	/* HTTPEndpoint / WebSocketEndpoint: get(self, request), on_connect(self, websocket), ... */
	for (i = 0; i < sizeof(endpoint_methods) / sizeof(endpoint_methods[0]); i++)
		if (!pyobj__class_attr(&w->c.r, obj, endpoint_methods[i], &fn, NULL))
			reader(w, tr, sn, (int)w->base->nmw, fn, 1, NULL, route);
}

/* ---------------------------------------------------------------------- */
/* the tree                                                                 */

static void mw_copy(struct inspect_app *a, const struct chain_ent *e, bool mount)
{
	struct inspect_mw *m;

	if (a->nmw >= INSPECT_MAX_MW)
		return;
	m = &a->mw[a->nmw++];
	snprintf(m->name, sizeof(m->name), "%s", e->name);
	m->short_off = e->short_off;
	m->mount = mount;
	m->session = e->cls & CLS_SESSION;
}

/* The node the trail ends at, as an app of the report: its index, or -1 when full. */
static int app_entry(struct walk *w, const struct trail *tr, int parent)
{
	const struct hop *h = &tr->hops[tr->n - 1];
	const struct route_ent *via = tr->n > 1 ? tr->hops[tr->n - 2].via : NULL;
	const struct node *n = h->node;
	struct inspect_app *a;
	unsigned i;

	if (w->out->napps >= INSPECT_MAX_APPS) {
		w->out->truncated = true;
		return -1;
	}
	a = &w->out->apps[w->out->napps++];
	snprintf(a->name, sizeof(a->name), "%s", n->name);
	a->short_off = n->short_off;
	snprintf(a->mount, sizeof(a->mount), "%s", h->prefix);
	a->parent = parent;
	a->depth = tr->n - 1;
	a->is_app = n->is_app;
	a->built = n->built;
	for (i = 0; via && i < via->nmw; i++)
		mw_copy(a, &via->mw[i], true);
	for (i = 0; n->is_app && i < n->nchain; i++)
		mw_copy(a, &n->chain[i], false);
	a->routes = calloc(n->nroutes ? n->nroutes : 1, sizeof(*a->routes));
	for (i = 0; a->routes && i < n->nroutes; i++) {
		char full[DIAG_ROUTE_MAX];

		if (n->routes[i].kind != ROUTE_PLAIN || !n->routes[i].tmpl)
			continue;
		apps__join(full, sizeof(full), h->prefix, n->routes[i].tmpl);
		if ((a->routes[a->nroutes] = strdup(full)))
			a->nroutes++;
	}
	return (int)w->out->napps - 1;
}

/* w->base: the facts of the path tr, which ends at sn, for a session read. */
static void path_facts(struct walk *w, const struct trail *tr, struct node *sn)
{
	__u64 addrs[DIAG_MAX_MW];

	memset(w->base, 0, sizeof(*w->base));
	w->base->prop = ST_PROP_SESSION;
	w->base->request = true;
	w->base->app_known = true;
	w->base->required = -1;
	w->base->touched = -1;
	w->base->touched_frame = -1;
	diagnose__facts_from_trail(tr, sn, w->base, addrs);
	w->base->serving = w->base->napps ? (int)w->base->napps - 1 : -1;
}

/* The node at the end of tr: its entry, its middleware's readers, its routes, its mounts. */
static void visit(struct walk *w, struct trail *tr, int parent)
{
	struct node *sn = tr->hops[tr->n - 1].node;
	const struct route_ent *via = tr->n > 1 ? tr->hops[tr->n - 2].via : NULL;
	int self = app_entry(w, tr, parent);
	unsigned i, first, nvia = via ? via->nmw : 0, nown = sn->is_app ? sn->nchain : 0;

	if (self < 0 || ++w->visits > INSPECT_MAX_READERS)
		return;
	path_facts(w, tr, sn);
	/* this node's layers end the path: the Mount's middleware, then its own chain */
	first = w->base->nmw >= nvia + nown ? w->base->nmw - nvia - nown : 0;
	for (i = 0; i < nvia && first + i < w->base->nmw; i++)
		middleware_reader(w, tr, sn, &via->mw[i], (int)(first + i));
	for (i = 0; i < nown && first + nvia + i < w->base->nmw; i++)
		middleware_reader(w, tr, sn, &sn->chain[i], (int)(first + nvia + i));
	for (i = 0; i < sn->nroutes; i++) {
		const struct route_ent *re = &sn->routes[i];
		char route[DIAG_ROUTE_MAX];
		struct node *child;

		if (re->kind == ROUTE_PLAIN) {
			apps__join(route, sizeof(route), tr->hops[tr->n - 1].prefix, re->tmpl);
			route_readers(w, tr, sn, re, route);
			continue;
		}
		if (!re->child || tr->n > MAX_DEPTH || !(child = apps__node_get(&w->c, re->child)))
			continue;
		apps__trail_push(tr, re, child);
		visit(w, tr, self);
		apps__trail_pop(tr);
		path_facts(w, tr, sn); /* the child's visit reused base */
	}
}

/* ---------------------------------------------------------------------- */
/* a reading, and readings until two agree                                  */

static void hash_str(__u64 *h, const char *s)
{
	for (; *s; s++)
		*h = (*h ^ (unsigned char)*s) * 0x100000001b3ULL;
	*h = (*h ^ 0xff) * 0x100000001b3ULL;
}

/* What two readings must agree on: the tree, the chains, the routes, the findings. */
static __u64 signature(const struct inspection *in)
{
	__u64 h = 0xcbf29ce484222325ULL;
	unsigned i, j;
	char num[32];

	for (i = 0; i < in->napps; i++) {
		const struct inspect_app *a = &in->apps[i];

		hash_str(&h, a->name);
		hash_str(&h, a->mount);
		for (j = 0; j < a->nmw; j++)
			hash_str(&h, a->mw[j].name);
		for (j = 0; j < a->nroutes; j++)
			hash_str(&h, a->routes[j]);
	}
	for (i = 0; i < in->nfindings; i++) {
		const struct inspect_finding *f = &in->findings[i];

		snprintf(num, sizeof(num), "%d/%d/%u", (int)f->cause, f->reader.line, f->app);
		hash_str(&h, num);
		hash_str(&h, f->reader.function);
		hash_str(&h, f->route);
	}
	return h;
}

void inspect__free(struct inspection *in)
{
	unsigned i, j;

	if (!in)
		return;
	for (i = 0; i < in->napps; i++) {
		for (j = 0; j < in->apps[i].nroutes; j++)
			free(in->apps[i].routes[j]);
		free(in->apps[i].routes);
	}
	free(in);
}

/* One reading of t's app tree into a new *out. */
static int reading(const struct target *t, struct inspection **out, char *err, size_t errsz)
{
	struct walk w = { 0 };
	struct diagnose *d = diagnose__new();
	struct trail tr = { 0 };
	struct node *root = NULL;
	int ret = -ENOMEM;

	w.out = calloc(1, sizeof(*w.out));
	w.base = calloc(1, sizeof(*w.base));
	w.dg = calloc(1, sizeof(*w.dg));
	w.code = malloc(CODE_MAX_BYTES);
	w.sym = symbolizer__new(t, NULL);
	if (!d || !w.out || !w.base || !w.dg || !w.code || !w.sym) {
		snprintf(err, errsz, "out of memory");
		goto cleanup;
	}
	diagnose__ctx_init(d, t, READS_PER_RUN, &w.c);
	apps__root_from_spec(&w.c);
	if (w.c.p->roots[0])
		root = apps__node_get(&w.c, w.c.p->roots[0]);
	if (!root) {
		snprintf(err, errsz, "pid %d: no Starlette or FastAPI app found from its command "
			 "line's app (\"%s\"); with several workers, inspect a worker, not the "
			 "supervisor", t->pid, t->service);
		ret = -ENOENT;
		goto cleanup;
	}
	tr.n = 1;
	tr.hops[0].node = root;
	visit(&w, &tr, -1);
	*out = w.out;
	w.out = NULL;
	ret = 0;
cleanup:
	inspect__free(w.out);
	symbolizer__free(w.sym);
	free(w.code);
	free(w.dg);
	free(w.base);
	diagnose__free(d);
	return ret;
}

int inspect__run(const struct target *t, struct inspection **out, char *err, size_t errsz)
{
	struct inspection *last = NULL, *cur;
	unsigned run;
	int ret;

	if (!t->layout || t->layout->code_names <= 0 || t->layout->func_code <= 0) {
		snprintf(err, errsz, "pid %d: Python %s: no code object layout", t->pid, t->python);
		return -ENOTSUP;
	}
	for (run = 0; run < RUNS_MAX; run++) {
		ret = reading(t, &cur, err, errsz);
		if (ret) {
			inspect__free(last);
			return ret;
		}
		if (last && signature(last) == signature(cur)) {
			inspect__free(last);
			*out = cur;
			return 0;
		}
		inspect__free(last);
		last = cur;
		pr_debug("pid %d: inspect: reading %u\n", t->pid, run + 1);
	}
	last->changed = true;
	*out = last;
	return 0;
}
