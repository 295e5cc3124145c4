// SPDX-License-Identifier: BSD-2-Clause
/* `sessiontrace inspect -p PID`: the failing session reads, before any request fails. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli/inspect.h"
#include "cli/options.h"
#include "daemon/sandbox.h"
#include "diagnose/inspect.h"
#include "discover/procfs.h"
#include "discover/watcher.h"
#include "resolve/target.h"
#include "util/escape.h"
#include "util/log.h"
#include "util/strbuf.h"

#define EXIT_FINDINGS 3 /* --fail-on-findings */
#define CMD "sessiontrace inspect"

static const char usage[] =
"Usage: sessiontrace inspect -p PID [--format text|json] [--fail-on-findings]\n"
"\n"
"Find every request.session read of a running Starlette or FastAPI app that\n"
"will fail, before any request does. The app the server process serves is read\n"
"from its memory (nothing is stopped, injected or written): every mounted app\n"
"and router, each one's middleware in the order a request meets them, and the\n"
"code of every route endpoint, FastAPI dependency and middleware dispatch. A\n"
"read of the session of the request parameter that no SessionMiddleware runs\n"
"before is a finding, with its cause (missing_middleware, middleware_order,\n"
"mounted_app), the code (function, file, line) and the fix.\n"
"\n"
"With several workers (uvicorn --workers, gunicorn), give a worker's pid.\n"
"Exit status: 0 (with or without findings), 2 on a bad pid, a process that\n"
"is not a supported Python or serves no app, 3 with --fail-on-findings when\n"
"there are findings.\n"
"\n"
"  -p, --pid PID          the server process (a worker)\n"
"  -f, --format FMT       text (default: the app tree with each finding) or json\n"
"      --fail-on-findings exit 3 when there are findings (for CI)\n"
"  -v, --verbose          say what is read\n"
"  -h, --help             this text\n"
"\n"
"Examples:\n"
"  sessiontrace inspect -p $(pgrep -f 'uvicorn main:app' | head -1)\n"
"  sessiontrace inspect -p 4242 --format json | jq '.findings[].reader'\n"
"  sessiontrace inspect -p 4242 --fail-on-findings >/dev/null || echo broken\n";

/* Text from the target, safe for a terminal. */
static const char *term(struct strbuf *sb, const char *s)
{
	strbuf__reset(sb);
	escape__term(sb, s, strlen(s));
	return sb->buf && !sb->oom ? sb->buf : "?";
}

static const char *short_of(const char *name, unsigned off)
{
	return off < strlen(name) ? name + off : name;
}

static void print_findings_of(const struct inspection *in, unsigned app, struct strbuf *sb,
			      const char *pad, FILE *out)
{
	unsigned i;

	for (i = 0; i < in->nfindings; i++) {
		const struct inspect_finding *f = &in->findings[i];

		if (f->app != app)
			continue;
		fprintf(out, "%s  ! %s: %s", pad, diagnose__cause_name(f->cause),
			term(sb, f->reader.function));
		fprintf(out, " (%s:%d)", term(sb, f->reader.file), f->reader.line);
		if (f->route[0])
			fprintf(out, " on %s", term(sb, f->route));
		fprintf(out, "\n%s    fix: %s\n", pad, term(sb, f->hint));
	}
}

static void print_text(const struct target *t, const struct inspection *in, FILE *out)
{
	struct strbuf sb = { 0 };
	char pad[2 * INSPECT_MAX_APPS + 1];
	unsigned i, j;

	fprintf(out, "pid %d, python %s, service %s\n", t->pid, t->python,
		term(&sb, t->service));
	for (i = 0; i < in->napps; i++) {
		const struct inspect_app *a = &in->apps[i];
		unsigned d = a->depth < INSPECT_MAX_APPS ? a->depth : INSPECT_MAX_APPS;

		memset(pad, ' ', 2 * d);
		pad[2 * d] = 0;
		fprintf(out, "\n%s%s", pad, term(&sb, a->name));
		fprintf(out, " %s '%s'%s\n", a->depth ? "mounted at" : "at",
			a->mount[0] ? term(&sb, a->mount) : "/",
			a->is_app && !a->built ? " (middleware as configured: no request yet)" : "");
		if (a->nmw) {
			fprintf(out, "%s  middleware:", pad);
			for (j = 0; j < a->nmw; j++)
				fprintf(out, "%s%s%s", j ? " > " : " ",
					term(&sb, short_of(a->mw[j].name, a->mw[j].short_off)),
					a->mw[j].mount ? " (Mount)" : "");
			fputc('\n', out);
		}
		if (a->nroutes) {
			fprintf(out, "%s  routes:", pad);
			for (j = 0; j < a->nroutes; j++)
				fprintf(out, "%s%s", j ? ", " : " ", term(&sb, a->routes[j]));
			fputc('\n', out);
		}
		print_findings_of(in, i, &sb, pad, out);
	}
	fprintf(out, "\n%u finding%s; %u readers analyzed", in->nfindings,
		in->nfindings == 1 ? "" : "s", in->readers);
	if (in->unanalyzed)
		fprintf(out, ", %u could not be", in->unanalyzed);
	fputc('\n', out);
	if (in->truncated)
		fprintf(out, "(the app is larger than what is read: some apps or readers were "
			"left out)\n");
	if (in->changed)
		fprintf(out, "(the app changed while it was read: run again)\n");
	strbuf__free(&sb);
}

static json_object *app_json(const struct inspect_app *a)
{
	json_object *o = json_object_new_object(), *mw = json_object_new_array(),
		    *routes = json_object_new_array();
	unsigned j;

	json_object_object_add(o, "class", json_object_new_string(a->name));
	json_object_object_add(o, "mount", json_object_new_string(a->mount));
	json_object_object_add(o, "parent", a->parent < 0 ? NULL :
			       json_object_new_int(a->parent));
	json_object_object_add(o, "router_only", json_object_new_boolean(!a->is_app));
	json_object_object_add(o, "built", json_object_new_boolean(a->built));
	for (j = 0; j < a->nmw; j++)
		json_object_array_add(mw, json_object_new_string(a->mw[j].name));
	json_object_object_add(o, "middleware", mw);
	for (j = 0; j < a->nroutes; j++)
		json_object_array_add(routes, json_object_new_string(a->routes[j]));
	json_object_object_add(o, "routes", routes);
	return o;
}

static json_object *finding_json(const struct inspection *in, const struct inspect_finding *f)
{
	json_object *o = json_object_new_object(), *rd = json_object_new_object(),
		    *app = json_object_new_object();

	json_object_object_add(o, "cause", json_object_new_string(diagnose__cause_name(f->cause)));
	json_object_object_add(rd, "function", json_object_new_string(f->reader.function));
	json_object_object_add(rd, "file", json_object_new_string(f->reader.file));
	json_object_object_add(rd, "line", f->reader.line < 0 ? NULL :
			       json_object_new_int(f->reader.line));
	json_object_object_add(o, "reader", rd);
	json_object_object_add(app, "class", json_object_new_string(in->apps[f->app].name));
	json_object_object_add(app, "mount", json_object_new_string(in->apps[f->app].mount));
	json_object_object_add(o, "app", app);
	json_object_object_add(o, "route", f->middleware ? NULL : json_object_new_string(f->route));
	json_object_object_add(o, "hint", json_object_new_string(f->hint));
	return o;
}

static void print_json(const struct target *t, const struct inspection *in, FILE *out)
{
	json_object *root = json_object_new_object(), *apps = json_object_new_array(),
		    *findings = json_object_new_array();
	unsigned i;

	json_object_object_add(root, "pid", json_object_new_int(t->pid));
	json_object_object_add(root, "python", json_object_new_string(t->python));
	json_object_object_add(root, "service", json_object_new_string(t->service));
	for (i = 0; i < in->napps; i++)
		json_object_array_add(apps, app_json(&in->apps[i]));
	json_object_object_add(root, "apps", apps);
	for (i = 0; i < in->nfindings; i++)
		json_object_array_add(findings, finding_json(in, &in->findings[i]));
	json_object_object_add(root, "findings", findings);
	json_object_object_add(root, "readers", json_object_new_int((int)in->readers));
	json_object_object_add(root, "unanalyzed", json_object_new_int((int)in->unanalyzed));
	json_object_object_add(root, "truncated", json_object_new_boolean(in->truncated));
	json_object_object_add(root, "changed_while_reading", json_object_new_boolean(in->changed));
	fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
					     JSON_C_TO_STRING_NOSLASHESCAPE), out);
	fputc('\n', out);
	json_object_put(root);
}

static const char *nothing_traced(void *ctx, pid_t pid)
{
	return NULL;
}

/*
 * The app spec ("main:app") from pid's command line or its server's, as the
 * tracer names services; else its process name. Read before the sandbox.
 */
static void service_of(pid_t pid, char *service, size_t sz)
{
	static const struct watcher_ops ops = { .traced_service = nothing_traced };
	struct watcher *w = watcher__new(&ops, NULL);

	service[0] = '\0';
	if (w)
		watcher__service(w, pid, service, sz);
	watcher__free(w);
	if (!service[0])
		procfs__comm(pid, service, sz);
}

/*
 * In the sandboxed child: parse the interpreter file fd and read the app
 * from the process's memory (both the target's choice), print the report.
 * The exit status.
 */
static int inspect_sandboxed(const struct target_loc *loc, int fd, const char *service,
			     bool json, bool fail)
{
	struct inspection *in = NULL;
	struct target *t;
	char err[512];
	int ret = sandbox__enter();

	if (ret) {
		fprintf(stderr, CMD ": cannot enter the sandbox: %s\n", strerror(-ret));
		return 1;
	}
	t = target__resolve(loc, fd, NULL, err, sizeof(err));
	if (!t) {
		fprintf(stderr, CMD ": %s\n", err);
		return 2;
	}
	target__set_service(t, service);
	ret = inspect__run(t, &in, err, sizeof(err));
	if (ret) {
		fprintf(stderr, CMD ": %s\n", err);
		target__free(t);
		return ret == -ENOMEM ? 1 : 2;
	}
	if (json)
		print_json(t, in, stdout);
	else
		print_text(t, in, stdout);
	ret = fail && in->nfindings ? EXIT_FINDINGS : 0;
	inspect__free(in);
	target__free(t);
	return ret;
}

/* inspect_sandboxed in a child: its exit status, or 1 when it died. */
static int inspect_in_child(const struct target_loc *loc, int fd, const char *service, bool json,
			    bool fail)
{
	int status;
	pid_t child;

	fflush(NULL);
	child = fork();
	if (child < 0) {
		fprintf(stderr, CMD ": fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		status = inspect_sandboxed(loc, fd, service, json, fail);
		fflush(NULL);
		_exit(status);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WTERMSIG(status) == SIGPIPE) /* its reader went away (| head): as any filter */
		return 128 + SIGPIPE;
	fprintf(stderr, CMD ": the analysis died: %s\n", strsignal(WTERMSIG(status)));
	return 1;
}


int inspect__main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ "fail-on-findings", no_argument, NULL, 'F' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool json = false, fail = false;
	struct target_loc loc;
	char err[512], service[sizeof(((struct target *)0)->service)];
	pid_t pid = 0;
	int c, ret, fd;

	optind = 1;
	log__set_level(LOG_WARN);
	while ((c = getopt_long(argc, argv, "p:f:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (options__pid(CMD, optarg, &pid))
				return 2;
			break;
		case 'f':
			if (options__format(CMD, optarg, &json))
				return 2;
			break;
		case 'F':
			fail = true;
			break;
		case 'v':
			log__set_level(LOG_DEBUG);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr, "Try '" CMD " --help'.\n");
			return 2;
		}
	}
	if (!pid || optind < argc) {
		fprintf(stderr, CMD ": %s\nTry '" CMD " --help'.\n",
			!pid ? "-p PID is required" : "unexpected argument");
		return 2;
	}
	/* what takes a path here; the rest in a sandbox, as the tracer's decoder */
	if (target__locate(pid, &loc, &fd, err, sizeof(err))) {
		fprintf(stderr, CMD ": %s\n", err);
		return 2;
	}
	service_of(pid, service, sizeof(service));
	ret = inspect_in_child(&loc, fd, service, json, fail);
	close(fd);
	return ret;
}
