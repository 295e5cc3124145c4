// SPDX-License-Identifier: BSD-2-Clause
/* Starlette route templates, and the route a request took through the apps. */
#include <stdio.h>
#include <string.h>
#include "diagnose/internal.h"
#include "util/ascii.h"
#include "util/cut.h"

#define MATCH_STEPS 20000 /* template matcher work per match */

static bool conv_char(const char *conv, size_t clen, char c)
{
	if (clen == 4 && !memcmp(conv, "path", 4))
		return true;
	if (clen == 3 && !memcmp(conv, "int", 3))
		return c >= '0' && c <= '9';
	if (clen == 5 && !memcmp(conv, "float", 5))
		return (c >= '0' && c <= '9') || c == '.';
	if (clen == 4 && !memcmp(conv, "uuid", 4))
		return ascii__lower_hex(c) || c == '-';
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

/*
 * From the last hop of tr down: the route the (relative) path matches,
 * appended to tmpl, and the apps entered on the way appended to tr. On no
 * match, tr and tmpl are as they were.
 */
static bool descend(struct ctx *c, struct trail *tr, const char *path, char *tmpl, size_t sz)
{
	const struct node *n = tr->hops[tr->n - 1].node;
	unsigned i;

	if (++c->visits > MAX_NODES * 2)
		return false;
	for (i = 0; i < n->nroutes; i++) {
		const struct route_ent *re = &n->routes[i];
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
		child = re->child ? apps__node_get(c, re->child) : NULL;
		if (!child || tr->n > MAX_DEPTH)
			continue;
		snprintf(tmpl + len, sz - len, "%s", re->tmpl);
		apps__trail_push(tr, re, child);
		if (descend(c, tr, path + rest, tmpl, sz))
			return true;
		apps__trail_pop(tr);
		tmpl[len] = 0;
	}
	return false;
}

/* One try of routes__match with path as the serving app sees it; tr as before on failure. */
static bool match_from(struct ctx *c, struct trail *tr, const char *path, struct diagnosis *dg)
{
	unsigned at = tr->n;
	char tmpl[ROUTE_TMPL_MAX * 2];

	snprintf(tmpl, sizeof(tmpl), "%s", tr->hops[at - 1].prefix);
	c->visits = 0;
	if (descend(c, tr, path, tmpl, sizeof(tmpl))) {
		cut__copy(dg->route, sizeof(dg->route), tmpl); /* marked when it does not fit */
		return true;
	}
	tr->n = at;
	tr->hops[at - 1].via = NULL;
	return false;
}

/*
 * Starlette < 0.35 Mount rewrote scope["path"] to the part below its prefix
 * and added the prefix to root_path; later versions keep the whole path and
 * put the prefix in root_path. Try the path as it is, then without
 * root_path (>= 0.35), then after it (< 0.35 under a Mount(routes=...),
 * whose router does not set scope["app"]: the serving app is the one above
 * the mount).
 */
void routes__match(struct ctx *c, struct trail *tr, const char *path, const char *root_path,
		   struct diagnosis *dg)
{
	size_t rl = strlen(root_path);
	char full[(ST_ROOT_MAX + ST_PATH_MAX) * 4]; /* UTF-8 of the copied str data */

	if (match_from(c, tr, path, dg))
		return;
	if (!rl)
		return;
	if (!strncmp(path, root_path, rl) && path[rl] == '/') {
		match_from(c, tr, path + rl, dg);
		return;
	}
	if ((size_t)snprintf(full, sizeof(full), "%s%s", root_path, path) < sizeof(full))
		match_from(c, tr, full, dg);
}
