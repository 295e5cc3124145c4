// SPDX-License-Identifier: BSD-2-Clause
/* The cause and the hint from the facts of a diagnosis (pure). */
#include <stdarg.h>
#include <stdio.h>
#include "diagnose/diagnose.h"
#include "resolve/props.h"

static const char *const cause_names[DIAG_NCAUSES] = {
	[DIAG_UNKNOWN] = "unknown",
	[DIAG_MISSING] = "missing_middleware",
	[DIAG_ORDER] = "middleware_order",
	[DIAG_MOUNTED] = "mounted_app",
	[DIAG_BACKGROUND] = "background_task",
	[DIAG_OUTSIDE] = "outside_request",
};

/* Why the order of add_middleware() calls matters, as the hints word it. */
#define LAST_RUNS_FIRST "add_middleware() inserts at index 0, so the middleware added last runs first"

const char *diagnose__cause_name(enum diag_cause c)
{
	return (unsigned)c < DIAG_NCAUSES ? cause_names[c] : "unknown";
}

const char *diagnose__required_name(enum st_prop prop)
{
	return prop == ST_PROP_SESSION ? "SessionMiddleware" : "AuthenticationMiddleware";
}

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

/* "app.add_middleware(SessionMiddleware, secret_key=...)" */
static void install_phrase(struct hintbuf *h, enum st_prop prop)
{
	hadd(h, "app.add_middleware(%s, %s)", diagnose__required_name(prop), setup_args(prop));
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

static enum diag_cause hint_outside(struct hintbuf *h, enum st_prop prop)
{
	hadd(h, "request.%s was read with no request being served (a Request built "
	     "from a bare scope, e.g. in a startup hook, a thread or a scheduled job): "
	     "only a request that passed through %s has %s, so pass the values that "
	     "code needs to it explicitly.", props__name(prop), diagnose__required_name(prop),
	     prop_what(prop));
	return DIAG_OUTSIDE;
}

static enum diag_cause hint_background(struct hintbuf *h, const struct diagnosis *dg,
				       enum st_prop prop)
{
	const char *P = props__name(prop);

	hadd(h, "request.%s was read in a BackgroundTask, which runs after the response "
	     "was sent (the client saw success)", P);
	if (dg->app_known && dg->required < 0)
		hadd(h, " and no %s wraps this path", diagnose__required_name(prop));
	hadd(h, ": read what the task needs from request.%s in the endpoint and pass it "
	     "to the task as an argument", P);
	if (prop == ST_PROP_SESSION)
		hadd(h, " (a session changed after the response never reaches the cookie)");
	hadd(h, ".");
	return DIAG_BACKGROUND;
}

static enum diag_cause hint_unread(struct hintbuf *h, enum st_prop prop)
{
	hadd(h, "The app's middleware could not be read from the process: make sure %s "
	     "wraps this route, added last with ", diagnose__required_name(prop));
	install_phrase(h, prop);
	hadd(h, " (add_middleware inserts at index 0, so the middleware added last runs "
	     "first).");
	return DIAG_UNKNOWN;
}

/* The needed middleware is on the path (dg->required), T read the property. */
static enum diag_cause hint_on_path(struct hintbuf *h, const struct diagnosis *dg,
				    enum st_prop prop, const struct diag_mw *T)
{
	const char *X = diagnose__required_name(prop), *P = props__name(prop);
	const struct diag_mw *R = &dg->mw[dg->required];

	if (T && dg->touched < dg->required && T->app == R->app) {
		hadd(h, "%s reads request.%s before %s runs: " LAST_RUNS_FIRST "; call ",
		     short_name(T), P, X);
		install_phrase(h, prop);
		hadd(h, " after app.add_middleware(%s), not before (in middleware=[...], list "
		     "Middleware(%s, ...) before Middleware(%s)).", short_name(T), X,
		     short_name(T));
		return DIAG_ORDER;
	}
	if (T && dg->touched < dg->required && R->app < dg->napps && T->app < dg->napps) {
		hadd(h, "%s sits on ", X);
		app_phrase(h, &dg->apps[R->app]);
		hadd(h, ", inside %s of ", short_name(T));
		app_phrase(h, &dg->apps[T->app]);
		hadd(h, ", which reads request.%s first: add %s to that outer app instead, "
		     "calling ", P, X);
		install_phrase(h, prop);
		hadd(h, " after app.add_middleware(%s) (the middleware added last runs first).",
		     short_name(T));
		return DIAG_MOUNTED;
	}
	hadd(h, "%s is on this path, outside the code that read request.%s: something "
	     "between them replaced the scope (a middleware that copies or rebuilds it); "
	     "pass the original scope dict through.", X, P);
	return DIAG_UNKNOWN;
}

/* The needed middleware is installed on another app (dg->elsewhere). */
static enum diag_cause hint_elsewhere(struct hintbuf *h, const struct diagnosis *dg,
				      enum st_prop prop, const struct diag_mw *T)
{
	hadd(h, "%s is installed only on %s (the %s app at '%s'), whose middleware does "
	     "not wrap this path: add ", diagnose__required_name(prop),
	     dg->elsewhere == DIAG_WHERE_SUB ? "a mounted sub-app" : "another mounted app",
	     dg->elsewhere_app[0] && dg->elsewhere_short_off < sizeof(dg->elsewhere_app) ?
	     dg->elsewhere_app + dg->elsewhere_short_off : "?", dg->elsewhere_mount);
	install_phrase(h, prop);
	hadd(h, " to the outermost app (");
	if (dg->napps)
		app_phrase(h, &dg->apps[0]);
	else
		hadd(h, "the app serving it");
	hadd(h, ")");
	if (T)
		hadd(h, ", after app.add_middleware(%s) so that it runs first", short_name(T));
	hadd(h, ", which then wraps every mounted app, and remove it from the app at "
	     "'%s'.", dg->elsewhere_mount);
	return DIAG_MOUNTED;
}

static enum diag_cause hint_missing(struct hintbuf *h, const struct diagnosis *dg,
				    enum st_prop prop, const struct diag_mw *T)
{
	const char *X = diagnose__required_name(prop);
	const struct diag_app *serving = dg->serving >= 0 && (unsigned)dg->serving < dg->napps ?
					 &dg->apps[dg->serving] : NULL;

	hadd(h, "No %s wraps this path: add ", X);
	install_phrase(h, prop);
	hadd(h, " to ");
	if (serving)
		app_phrase(h, serving);
	else
		hadd(h, "the app");
	if (T)
		hadd(h, ", after app.add_middleware(%s): " LAST_RUNS_FIRST " and %s must run "
		     "before %s, which reads request.%s", short_name(T), X, short_name(T),
		     props__name(prop));
	hadd(h, ".");
	return DIAG_MISSING;
}

void diagnose__decide(struct diagnosis *dg)
{
	enum st_prop prop = (unsigned)dg->prop < ST_NPROPS ? dg->prop : ST_PROP_SESSION;
	const struct diag_mw *T = toucher(dg);
	struct hintbuf h = { .s = dg->hint, .sz = sizeof(dg->hint) };

	dg->hint[0] = 0;
	if (!dg->request)
		dg->cause = hint_outside(&h, prop);
	else if (dg->background)
		dg->cause = hint_background(&h, dg, prop);
	else if (!dg->app_known)
		dg->cause = hint_unread(&h, prop);
	else if (dg->required >= 0)
		dg->cause = hint_on_path(&h, dg, prop, T);
	else if (dg->elsewhere != DIAG_WHERE_NONE)
		dg->cause = hint_elsewhere(&h, dg, prop, T);
	else
		dg->cause = hint_missing(&h, dg, prop, T);
}
