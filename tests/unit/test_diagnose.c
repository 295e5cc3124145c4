// SPDX-License-Identifier: BSD-2-Clause
/*
 * diagnose__decide(): the cause and the hint from the facts (the middleware
 * on the request's path, where the property was read, where the needed
 * middleware is installed instead); diagnose__route_match(): Starlette path
 * templates. Table-driven, exact causes, hint contents checked both ways:
 * what it must say and the wrong advice it must never give.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose.h"

#define SE "starlette.middleware.errors.ServerErrorMiddleware"
#define EX "starlette.middleware.exceptions.ExceptionMiddleware"
#define SM "starlette.middleware.sessions.SessionMiddleware"
#define AM "starlette.middleware.authentication.AuthenticationMiddleware"
#define AUTHMW "app.AuthMiddleware"
#define STARLETTE "starlette.applications.Starlette"

#define MAXN 8
#define ROUTER -2 /* touched: inside the router (index nmw) */

struct decide_case {
	const char *name;
	enum st_prop prop;
	bool request, background, app_known;
	const char *mw[MAXN];      /* NULL-terminated, outermost first */
	unsigned mw_app[MAXN];     /* app index of each */
	const char *apps[MAXN];    /* mount prefixes of the apps on the path, NULL-terminated */
	int serving;
	int touched;               /* index in mw, ROUTER, or -1 */
	enum diag_where elsewhere;
	const char *elsewhere_mount;
	enum diag_cause want;
	const char *has[6];        /* substrings the hint must contain */
	const char *hasnt[3];      /* and must not */
};

static const struct decide_case decide_cases[] = {
	{
		.name = "the common advice: SessionMiddleware added first, auth middleware outermost",
		.prop = ST_PROP_SESSION, .request = true, .app_known = true,
		.mw = { SE, AUTHMW, SM, EX }, .apps = { "" }, .serving = 0, .touched = 1,
		.want = DIAG_ORDER,
		.has = { "AuthMiddleware reads request.session before SessionMiddleware runs",
			 "add_middleware() inserts at index 0",
			 "the middleware added last runs first",
			 "call app.add_middleware(SessionMiddleware, secret_key=...) after "
			 "app.add_middleware(AuthMiddleware), not before",
			 "list Middleware(SessionMiddleware, ...) before Middleware(AuthMiddleware)" },
		/* the advice that reproduces the error */
		.hasnt = { "app.add_middleware(AuthMiddleware) after app.add_middleware(SessionMiddleware)",
			   "Middleware(AuthMiddleware) before" },
	},
	{
		.name = "AuthenticationMiddleware reads the session (session backend) outside it",
		.prop = ST_PROP_SESSION, .request = true, .app_known = true,
		.mw = { SE, AM, SM, EX }, .apps = { "" }, .serving = 0, .touched = 1,
		.want = DIAG_ORDER,
		.has = { "AuthenticationMiddleware reads request.session before SessionMiddleware",
			 "after app.add_middleware(AuthenticationMiddleware)" },
	},
	{
		.name = "request.user read by a middleware outside AuthenticationMiddleware",
		.prop = ST_PROP_USER, .request = true, .app_known = true,
		.mw = { SE, "app.Audit", AM, EX }, .apps = { "" }, .serving = 0, .touched = 1,
		.want = DIAG_ORDER,
		.has = { "Audit reads request.user before AuthenticationMiddleware runs",
			 "app.add_middleware(AuthenticationMiddleware, backend=...) after "
			 "app.add_middleware(Audit)" },
		.hasnt = { "SessionMiddleware" },
	},
	{
		.name = "missing, read in the endpoint",
		.prop = ST_PROP_SESSION, .request = true, .app_known = true,
		.mw = { SE, EX }, .apps = { "" }, .serving = 0, .touched = ROUTER,
		.want = DIAG_MISSING,
		.has = { "No SessionMiddleware wraps this path",
			 "app.add_middleware(SessionMiddleware, secret_key=...) to the Starlette app." },
	},
	{
		.name = "missing, read by a user middleware: add it last, after that one",
		.prop = ST_PROP_SESSION, .request = true, .app_known = true,
		.mw = { SE, AUTHMW, EX }, .apps = { "" }, .serving = 0, .touched = 1,
		.want = DIAG_MISSING,
		.has = { "after app.add_middleware(AuthMiddleware)", "inserts at index 0",
			 "SessionMiddleware must run before AuthMiddleware" },
	},
	{
		.name = "request.auth missing",
		.prop = ST_PROP_AUTH, .request = true, .app_known = true,
		.mw = { SE, SM, EX }, .apps = { "" }, .serving = 0, .touched = ROUTER,
		.want = DIAG_MISSING,
		.has = { "No AuthenticationMiddleware wraps this path",
			 "app.add_middleware(AuthenticationMiddleware, backend=...)" },
	},
	{
		.name = "route on the parent, SessionMiddleware only on a mounted sub-app",
		.prop = ST_PROP_SESSION, .request = true, .app_known = true,
		.mw = { SE, EX }, .apps = { "" }, .serving = 0, .touched = ROUTER,
		.elsewhere = DIAG_WHERE_SUB, .elsewhere_mount = "/admin",
		.want = DIAG_MOUNTED,
		.has = { "installed only on a mounted sub-app (the Starlette app at '/admin')",
			 "to the outermost app (the Starlette app)",
			 "remove it from the app at '/admin'" },
	},
	{
		.name = "sibling sub-app has it",
		.prop = ST_PROP_SESSION, .request = true, .app_known = true,
		.mw = { SE, EX, SE, EX }, .mw_app = { 0, 0, 1, 1 }, .apps = { "", "/api" },
		.serving = 1, .touched = ROUTER,
		.elsewhere = DIAG_WHERE_OTHER, .elsewhere_mount = "/admin",
		.want = DIAG_MOUNTED,
		.has = { "another mounted app (the Starlette app at '/admin')",
			 "to the outermost app (the Starlette app)" },
	},
	{
		.name = "on a sub-app, read by the parent's middleware before entering it",
		.prop = ST_PROP_SESSION, .request = true, .app_known = true,
		.mw = { SE, AUTHMW, EX, SE, SM, EX }, .mw_app = { 0, 0, 0, 1, 1, 1 },
		.apps = { "", "/app" }, .serving = 0, .touched = 1,
		.want = DIAG_MOUNTED,
		.has = { "SessionMiddleware sits on the Starlette app mounted at '/app'",
			 "inside AuthMiddleware of the Starlette app",
			 "after app.add_middleware(AuthMiddleware)" },
	},
	{
		.name = "background task, no SessionMiddleware",
		.prop = ST_PROP_SESSION, .request = true, .background = true, .app_known = true,
		.mw = { SE, EX }, .apps = { "" }, .serving = 0, .touched = ROUTER,
		.want = DIAG_BACKGROUND,
		.has = { "read in a BackgroundTask", "the client saw success",
			 "no SessionMiddleware wraps this path",
			 "pass it to the task as an argument", "never reaches the cookie" },
	},
	{
		.name = "background task wins over missing middleware, app unreadable",
		.prop = ST_PROP_USER, .request = true, .background = true,
		.touched = -1, .serving = -1,
		.want = DIAG_BACKGROUND,
		.has = { "request.user was read in a BackgroundTask" },
		.hasnt = { "cookie", "wraps this path" },
	},
	{
		.name = "no request",
		.prop = ST_PROP_SESSION, .touched = -1, .serving = -1,
		.want = DIAG_OUTSIDE,
		.has = { "no request being served", "only a request that passed through "
			 "SessionMiddleware has a session" },
	},
	{
		.name = "app unreadable",
		.prop = ST_PROP_SESSION, .request = true, .touched = -1, .serving = -1,
		.want = DIAG_UNKNOWN,
		.has = { "could not be read", "added last", "inserts at index 0" },
	},
	{
		.name = "present and outside the reader: the scope was replaced",
		.prop = ST_PROP_SESSION, .request = true, .app_known = true,
		.mw = { SE, SM, AUTHMW, EX }, .apps = { "" }, .serving = 0, .touched = 2,
		.want = DIAG_UNKNOWN,
		.has = { "replaced the scope" },
	},
};

static void fill(const struct decide_case *c, struct diagnosis *dg)
{
	unsigned i;

	memset(dg, 0, sizeof(*dg));
	dg->prop = c->prop;
	dg->request = c->request;
	dg->background = c->background;
	dg->app_known = c->app_known;
	dg->serving = c->serving;
	dg->required = -1;
	for (i = 0; i < MAXN && c->apps[i]; i++) {
		snprintf(dg->apps[i].name, sizeof(dg->apps[i].name), "%s", STARLETTE);
		dg->apps[i].short_off = strrchr(STARLETTE, '.') + 1 - STARLETTE;
		snprintf(dg->apps[i].mount, sizeof(dg->apps[i].mount), "%s", c->apps[i]);
		dg->apps[i].built = true;
		dg->napps++;
	}
	for (i = 0; i < MAXN && c->mw[i]; i++) {
		struct diag_mw *m = &dg->mw[i];
		const char *need = c->prop == ST_PROP_SESSION ? SM : AM;

		snprintf(m->name, sizeof(m->name), "%s", c->mw[i]);
		m->short_off = strrchr(c->mw[i], '.') + 1 - c->mw[i];
		m->app = c->mw_app[i];
		m->required = !strcmp(c->mw[i], need);
		if (m->required && dg->required < 0)
			dg->required = i;
		dg->nmw++;
	}
	dg->touched = c->touched == ROUTER ? (int)dg->nmw : c->touched;
	dg->elsewhere = c->elsewhere;
	if (c->elsewhere) {
		snprintf(dg->elsewhere_app, sizeof(dg->elsewhere_app), "%s", STARLETTE);
		dg->elsewhere_short_off = strrchr(STARLETTE, '.') + 1 - STARLETTE;
		snprintf(dg->elsewhere_mount, sizeof(dg->elsewhere_mount), "%s",
			 c->elsewhere_mount);
	}
}

static void test_decide(void **state)
{
	static struct diagnosis dg;
	size_t i, k;

	for (i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		const struct decide_case *c = &decide_cases[i];

		fill(c, &dg);
		diagnose__decide(&dg);
		if (dg.cause != c->want)
			fail_msg("%s: cause %s, want %s", c->name, diagnose__cause_name(dg.cause),
				 diagnose__cause_name(c->want));
		for (k = 0; k < 6 && c->has[k]; k++)
			if (!strstr(dg.hint, c->has[k]))
				fail_msg("%s: hint lacks \"%s\": %s", c->name, c->has[k], dg.hint);
		for (k = 0; k < 3 && c->hasnt[k]; k++)
			if (strstr(dg.hint, c->hasnt[k]))
				fail_msg("%s: hint says \"%s\": %s", c->name, c->hasnt[k], dg.hint);
		/* one sentence: ends with a period, no newline */
		if (!dg.hint[0] || dg.hint[strlen(dg.hint) - 1] != '.' || strchr(dg.hint, '\n'))
			fail_msg("%s: hint is not one sentence: %s", c->name, dg.hint);
	}
}

static void test_cause_names(void **state)
{
	assert_string_equal(diagnose__cause_name(DIAG_UNKNOWN), "unknown");
	assert_string_equal(diagnose__cause_name(DIAG_MISSING), "missing_middleware");
	assert_string_equal(diagnose__cause_name(DIAG_ORDER), "middleware_order");
	assert_string_equal(diagnose__cause_name(DIAG_MOUNTED), "mounted_app");
	assert_string_equal(diagnose__cause_name(DIAG_BACKGROUND), "background_task");
	assert_string_equal(diagnose__cause_name(DIAG_OUTSIDE), "outside_request");
	assert_string_equal(diagnose__cause_name((enum diag_cause)99), "unknown");
	assert_string_equal(diagnose__required_name(ST_PROP_SESSION), "SessionMiddleware");
	assert_string_equal(diagnose__required_name(ST_PROP_AUTH), "AuthenticationMiddleware");
	assert_string_equal(diagnose__required_name(ST_PROP_USER), "AuthenticationMiddleware");
}

/* A hint built from long hostile names stays bounded and terminated. */
static void test_hint_bounded(void **state)
{
	static struct diagnosis dg;
	unsigned i;

	memset(&dg, 0, sizeof(dg));
	dg.prop = ST_PROP_SESSION;
	dg.request = dg.app_known = true;
	dg.required = -1;
	dg.napps = 1;
	memset(dg.apps[0].mount, 'm', sizeof(dg.apps[0].mount) - 1);
	memset(dg.apps[0].name, 'a', sizeof(dg.apps[0].name) - 1);
	dg.apps[0].short_off = 9999; /* garbage offset: ignored */
	for (i = 0; i < 3; i++) {
		memset(dg.mw[i].name, 'x', sizeof(dg.mw[i].name) - 1);
		dg.mw[i].short_off = i == 1 ? 5000 : 3;
	}
	dg.nmw = 3;
	dg.touched = 1;
	dg.elsewhere = DIAG_WHERE_SUB;
	memset(dg.elsewhere_mount, '/', sizeof(dg.elsewhere_mount) - 1);
	memset(dg.elsewhere_app, 'e', sizeof(dg.elsewhere_app) - 1);
	dg.elsewhere_short_off = 4000;
	diagnose__decide(&dg);
	assert_int_equal(dg.cause, DIAG_MOUNTED);
	assert_true(strlen(dg.hint) < sizeof(dg.hint));
	assert_non_null(strstr(dg.hint, "SessionMiddleware is installed only on"));
}

struct match_case {
	const char *tmpl, *path;
	bool prefix, want;
	size_t rest;
};

static const struct match_case match_cases[] = {
	{ "/items/{item_id}", "/items/3", false, true, 0 },
	{ "/items/{item_id}", "/items/", false, false, 0 },
	{ "/items/{item_id}", "/items/3/x", false, false, 0 },
	{ "/account/{uid:int}", "/account/42", false, true, 0 },
	{ "/account/{uid:int}", "/account/4x", false, false, 0 },
	{ "/f/{v:float}", "/f/1.5", false, true, 0 },
	{ "/u/{id:uuid}", "/u/0a1b2c3d-0000-4000-8000-00000000abcd", false, true, 0 },
	{ "/u/{id:uuid}", "/u/0a1b2c3d", false, false, 0 },
	{ "/{rest:path}", "/a/b/c", false, true, 0 },
	{ "/{rest:path}", "/", false, true, 0 },
	{ "/files/{p:path}/raw", "/files/a/b/raw", false, true, 0 },
	{ "/{a}/{b}", "/x/y", false, true, 0 },
	{ "/{a}/{b}", "/x", false, false, 0 },
	{ "/login", "/login", false, true, 0 },
	{ "/login", "/logins", false, false, 0 },
	{ "/ok", "/ok/", false, false, 0 },
	/* Mount: prefix + "/{path:path}" */
	{ "/api", "/api/me", true, true, 4 },
	{ "/api", "/api", true, false, 0 },
	{ "/api", "/apix/me", true, false, 0 },
	{ "/users/{uid}", "/users/7/posts", true, true, 8 },
	{ "", "/anything", true, true, 0 },
	{ "/{unterminated", "/x", false, false, 0 },
};

static void test_route_match(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];
		size_t rest = 12345;
		bool got = diagnose__route_match(c->tmpl, c->path, c->prefix, &rest);

		if (got != c->want)
			fail_msg("%s %s (prefix %d): %d, want %d", c->tmpl, c->path, c->prefix,
				 got, c->want);
		if (got && c->prefix && rest != c->rest)
			fail_msg("%s %s: rest %zu, want %zu", c->tmpl, c->path, rest, c->rest);
	}
	assert_false(diagnose__route_match(NULL, "/x", false, NULL));
}

/* Pathological templates against long paths: bounded work, no match. */
static void test_route_match_bounded(void **state)
{
	char path[4097];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	assert_false(diagnose__route_match("/{a:path}{b:path}{c:path}{d:path}{e:path}/x", path,
					   false, NULL));
	assert_false(diagnose__route_match("/{a}{b}{c}{d}{e}{f}{g}{h}/", path, false, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_cause_names),
		cmocka_unit_test(test_hint_bounded),
		cmocka_unit_test(test_route_match),
		cmocka_unit_test(test_route_match_bounded),
	};

	return cmocka_run_group_tests_name("diagnose", tests, NULL, NULL);
}
