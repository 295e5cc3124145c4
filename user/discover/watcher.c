// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "discover/classify.h"
#include "discover/procfs.h"
#include "discover/watcher.h"
#include "util/hashmap.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_PENDING   256   /* candidates whose interpreter is not ready yet */
#define PENDING_MS    10000 /* how long a new process may take to load its interpreter */
#define FORK_GRACE_MS 50    /* multiprocessing forks then execs: trace what it becomes */
#define ANCESTORS     8     /* parent levels searched for a server */

struct pending {
	pid_t pid;
	long long deadline_ms;
	long long not_before_ms; /* forked children: wait for a possible exec */
	char service[DISCOVER_SERVICE_MAX];
	char last_err[256];
};

/*
 * Negative verdicts of processes met as ancestors, per (pid, start time):
 * the next candidate under the same parent (a CI runner's, a shell's) reads
 * only their stat, not their command line again. A process's own exec
 * replaces its entry.
 */
#define VERDICTS_MAX 4096

struct watcher {
	const struct watcher_ops *ops;
	void *ctx;
	struct pending pending[MAX_PENDING];
	int npending;
	struct hashmap verdicts; /* verdict_key() -> enum discover_verdict + 1 */
};

/* pid (22 bits) and start time (clock ticks since boot, 42 bits): one key. */
static uintptr_t verdict_key(pid_t pid, unsigned long long start_time)
{
	return (uintptr_t)pid | (uintptr_t)(start_time << 22);
}

struct watcher *watcher__new(const struct watcher_ops *ops, void *ctx)
{
	struct watcher *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->ops = ops;
	w->ctx = ctx;
	hashmap__init(&w->verdicts, hashmap__hash_u64, hashmap__equal_u64, NULL);
	return w;
}

void watcher__free(struct watcher *w)
{
	if (w)
		hashmap__clear(&w->verdicts);
	free(w);
}

/*
 * pid's verdict from its command line: an ancestor's may come from the cache
 * (its own exec replaced it), the process itself is always read.
 */
static int classify(struct watcher *w, pid_t pid, const struct procfs_stat *ps, bool ancestor,
		    enum discover_verdict *v, char *svc, size_t svcsz)
{
	uintptr_t key = verdict_key(pid, ps->start_time), cached;
	char args[4096];
	size_t len;

	svc[0] = 0;
	if (ancestor && hashmap__find(&w->verdicts, key, &cached)) {
		*v = (enum discover_verdict)(cached - 1);
		return 0;
	}
	if (procfs__cmdline(pid, args, sizeof(args), &len))
		return -1;
	*v = discover__classify(args, len, svc, svcsz);
	if (*v == DISCOVER_SERVER) {
		hashmap__delete(&w->verdicts, key, NULL, NULL);
		return 0;
	}
	if (hashmap__size(&w->verdicts) >= VERDICTS_MAX)
		hashmap__clear(&w->verdicts); /* full: start over */
	hashmap__set(&w->verdicts, key, (uintptr_t)*v + 1); /* out of memory: not cached */
	return 0;
}

/*
 * Whether pid serves ASGI, by its command line and its ancestors': *self is
 * its own verdict, service as watcher__service(). A helper of a server
 * (DISCOVER_NEVER) never does.
 */
static bool server_ancestry(struct watcher *w, pid_t pid, enum discover_verdict *self,
			    char *service, size_t servicesz)
{
	char svc[DISCOVER_SERVICE_MAX];
	struct procfs_stat ps;
	const char *traced;
	int level;

	service[0] = 0;
	*self = DISCOVER_NO;
	for (level = 0; level <= ANCESTORS && pid > 1; level++, pid = ps.ppid) {
		enum discover_verdict v;

		if (procfs__stat(pid, &ps) || classify(w, pid, &ps, level > 0, &v, svc, sizeof(svc)))
			return false;
		if (level == 0)
			*self = v;
		if (v == DISCOVER_NEVER && level == 0)
			return false;
		if (level > 0 && (traced = w->ops->traced_service(w->ctx, pid))) {
			if (!service[0])
				snprintf(service, servicesz, "%s", traced);
			return true;
		}
		if (v == DISCOVER_SERVER) {
			if (!service[0])
				snprintf(service, servicesz, "%s", svc);
			if (service[0] || level > 0)
				return true;
			/* a server without a spec on its command line: look further up */
			*self = DISCOVER_SERVER;
		}
	}
	return *self == DISCOVER_SERVER;
}

void watcher__service(struct watcher *w, pid_t pid, char *service, size_t sz)
{
	enum discover_verdict self;

	server_ancestry(w, pid, &self, service, sz);
}

static int find_pending(const struct watcher *w, pid_t pid)
{
	int i;

	for (i = 0; i < w->npending; i++)
		if (w->pending[i].pid == pid)
			return i;
	return -1;
}

static void drop_pending(struct watcher *w, int i)
{
	w->pending[i] = w->pending[--w->npending];
}

/*
 * A process that may serve ASGI: traced as soon as its interpreter is loaded.
 * inherited_service: forked from a traced process (gunicorn workers).
 */
static void consider(struct watcher *w, pid_t pid, const char *inherited_service)
{
	char service[DISCOVER_SERVICE_MAX];
	enum discover_verdict self;
	struct pending *pe;

	if (w->ops->traced_service(w->ctx, pid) || find_pending(w, pid) >= 0)
		return;
	if (inherited_service)
		snprintf(service, sizeof(service), "%s", inherited_service);
	else if (!server_ancestry(w, pid, &self, service, sizeof(service)))
		return;
	if (w->npending >= MAX_PENDING) {
		pr_warn("pid %d: not traced: %d processes already waiting\n", pid, MAX_PENDING);
		return;
	}
	pe = &w->pending[w->npending++];
	memset(pe, 0, sizeof(*pe));
	pe->pid = pid;
	pe->deadline_ms = clock__now_ms() + PENDING_MS;
	if (inherited_service)
		pe->not_before_ms = clock__now_ms() + FORK_GRACE_MS;
	snprintf(pe->service, sizeof(pe->service), "%s", service);
	pr_debug("pid %d: candidate (service '%s')\n", pid, service);
}

static int scan_one(pid_t pid, void *ctx)
{
	if (pid != getpid())
		consider(ctx, pid, NULL);
	return 0;
}

int watcher__scan(struct watcher *w)
{
	return procfs__scan(scan_one, w);
}

void watcher__proc_event(struct watcher *w, const struct st_proc_event *ev)
{
	const char *svc;
	int i;

	if (ev->kind == ST_PROC_EXEC) {
		w->ops->exec(w->ctx, ev->pid);
		i = find_pending(w, ev->pid);
		if (i >= 0)
			drop_pending(w, i);
		consider(w, ev->pid, NULL);
	} else if (ev->kind == ST_PROC_FORK && (svc = w->ops->traced_service(w->ctx, ev->ppid))) {
		consider(w, ev->pid, svc);
	}
}

int watcher__try(struct watcher *w)
{
	long long now = clock__now_ms();
	int i, err;

	for (i = w->npending - 1; i >= 0; i--) {
		struct pending *pe = &w->pending[i];

		if (!procfs__exists(pe->pid)) {
			drop_pending(w, i);
			continue;
		}
		if (now < pe->not_before_ms)
			continue;
		err = w->ops->try_trace(w->ctx, pe->pid, pe->service, pe->last_err,
					sizeof(pe->last_err));
		if (!err || err == -ENOEXEC) {
			/* not Python (a shell the app ran, say): nothing to say */
			drop_pending(w, i);
		} else if (now >= pe->deadline_ms) {
			fprintf(stderr, "sessiontrace: not tracing pid=%d: %s\n", pe->pid,
				pe->last_err);
			drop_pending(w, i);
		}
	}
	return w->npending;
}

int watcher__pending(const struct watcher *w)
{
	return w->npending;
}
