// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "discover/classify.h"
#include "discover/procfs.h"
#include "discover/watcher.h"
#include "util/cut.h"
#include "util/hashmap.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_PENDING   1024 /* processes with checks to come */
#define FORK_GRACE_MS 50   /* multiprocessing forks then execs: check what it becomes */
#define ANCESTORS     8    /* parent levels searched for an app spec */
#define VERDICTS_MAX  4096 /* ancestors' command-line verdicts, what -v said, who was seen */
#define PER_UID_MAX   (MAX_PENDING / 4) /* one user's processes with checks to come */

/*
 * When a new (exec'd, forked or listening) Python process is checked, in ms
 * from the event: often in its first second, when apps import their
 * framework and workers receive their socket, then less and less. A process
 * found running at start is checked once.
 */
static const int schedule_ms[] = { 0, 100, 250, 500, 1000, 2000, 4000, 8000 };
#define NSTEPS (int)(sizeof(schedule_ms) / sizeof(schedule_ms[0]))

static const char *const check_names[CHECK_N] = {
	[CHECK_TRACED] = "traced",
	[CHECK_NOT_PYTHON] = "not_python",
	[CHECK_HELPER] = "helper",
	[CHECK_NOT_READY] = "not_ready",
	[CHECK_NO_STARLETTE] = "no_starlette",
	[CHECK_NO_LISTENER] = "no_listener",
	[CHECK_REFUSED] = "refused",
	[CHECK_GONE] = "gone",
};

const char *watcher__check_name(enum discover_check v)
{
	return v < CHECK_N ? check_names[v] : "?";
}

struct pending {
	pid_t pid;
	unsigned long long start_time; /* tells a reused pid apart */
	long long armed_ms, next_ms;
	int step;                      /* index of the next check in schedule_ms */
	bool young;                    /* a schedule of checks, else one */
	bool heir;                     /* its parent serves: a socket may come from it */
	bool forker;                   /* its forks are reported */
	void *state;                   /* the caller's, between checks */
	uid_t uid;                     /* its owner: one user cannot take every slot */
	char service[DISCOVER_SERVICE_MAX];
};

struct watcher {
	const struct watcher_ops *ops;
	void *ctx;
	struct pending pending[MAX_PENDING];
	int npending;
	bool full_said;          /* "too many processes waiting" said */
	struct hashmap verdicts; /* verdict_key() -> enum discover_verdict + 1 */
	struct hashmap said;     /* verdict_key() -> enum discover_check + 1 said by -v */
	struct hashmap seen;     /* verdict_key() of every process armed: a rescan skips them */
	struct hashmap per_uid;  /* uid -> processes with checks to come */
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
	hashmap__init(&w->said, hashmap__hash_u64, hashmap__equal_u64, NULL);
	hashmap__init(&w->seen, hashmap__hash_u64, hashmap__equal_u64, NULL);
	hashmap__init(&w->per_uid, hashmap__hash_u64, hashmap__equal_u64, NULL);
	return w;
}

void watcher__free(struct watcher *w)
{
	if (!w)
		return;
	while (w->npending)
		w->ops->forget(w->ctx, w->pending[--w->npending].state);
	hashmap__clear(&w->verdicts);
	hashmap__clear(&w->said);
	hashmap__clear(&w->seen);
	hashmap__clear(&w->per_uid);
	free(w);
}

/* key -> value in a bounded cache: full, it starts over. */
static void remember(struct hashmap *m, uintptr_t key, uintptr_t val)
{
	if (hashmap__size(m) >= VERDICTS_MAX)
		hashmap__clear(m);
	hashmap__set(m, key, val); /* out of memory: not remembered */
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
	if (*v == DISCOVER_SERVER && svc[0]) {
		hashmap__delete(&w->verdicts, key, NULL, NULL);
		return 0;
	}
	remember(&w->verdicts, key, (uintptr_t)*v + 1);
	return 0;
}

void watcher__service(struct watcher *w, pid_t pid, char *service, size_t sz)
{
	char svc[DISCOVER_SERVICE_MAX], args[4096];
	struct procfs_stat ps;
	const char *traced;
	pid_t p = pid;
	size_t len;
	int level;

	service[0] = 0;
	for (level = 0; level <= ANCESTORS && p > 1; level++, p = ps.ppid) {
		enum discover_verdict v;

		if (procfs__stat(p, &ps) || classify(w, p, &ps, level > 0, &v, svc, sizeof(svc)))
			break;
		if (level > 0 && (traced = w->ops->traced_service(w->ctx, p))) {
			cut__copy(service, sz, traced);
			return;
		}
		if (svc[0]) {
			cut__copy(service, sz, svc);
			return;
		}
	}
	/* no app spec anywhere: the program it runs ("main.py") */
	if (!procfs__cmdline(pid, args, sizeof(args), &len))
		discover__program(args, len, service, sz);
}

static int find_pending(const struct watcher *w, pid_t pid)
{
	int i;

	for (i = 0; i < w->npending; i++)
		if (w->pending[i].pid == pid)
			return i;
	return -1;
}

/* It has exited (a zombie its parent has not waited for yet): it serves no more. */
static bool exited(const struct procfs_stat *ps)
{
	return ps->state == 'Z' || ps->state == 'X';
}

/* uid's processes with checks to come, changed by delta; the count after. */
static uintptr_t uid_count(struct watcher *w, uid_t uid, int delta)
{
	uintptr_t n = 0;

	hashmap__find(&w->per_uid, uid, &n);
	n += delta;
	if (n)
		hashmap__set(&w->per_uid, uid, n);
	else
		hashmap__delete(&w->per_uid, uid, NULL, NULL);
	return n;
}

static void drop_pending(struct watcher *w, int i)
{
	w->ops->forget(w->ctx, w->pending[i].state);
	uid_count(w, w->pending[i].uid, -1);
	w->pending[i] = w->pending[--w->npending];
}

/* Does pid serve (traced, or holding a listening socket): may its children inherit one? */
static bool serves(struct watcher *w, pid_t pid)
{
	struct procfs_listener l;
	size_t n = 0;

	if (pid <= 1)
		return false;
	if (w->ops->traced_service(w->ctx, pid))
		return true;
	procfs__listeners(pid, &l, 1, &n);
	return n > 0;
}

/*
 * pid is to be checked: once (running at start), or on the schedule (young:
 * it exec'd, listens or was forked; a process already waiting starts its
 * schedule over). inherited_service: forked from a traced process.
 */
static void arm(struct watcher *w, pid_t pid, bool young, long long delay_ms,
		const char *inherited_service)
{
	long long now = clock__now_ms();
	struct procfs_stat ps;
	struct pending *pe;
	uid_t uid;
	int i;

	if (pid <= 0 || pid == getpid() || w->ops->traced_service(w->ctx, pid))
		return;
	if ((i = find_pending(w, pid)) >= 0) {
		pe = &w->pending[i];
		if (young) {
			pe->young = true;
			pe->armed_ms = pe->next_ms = now + delay_ms;
			pe->step = 0;
		}
		return;
	}
	if (procfs__stat(pid, &ps) || exited(&ps) || procfs__uid(pid, &uid))
		return;
	remember(&w->seen, verdict_key(pid, ps.start_time), 1);
	if (w->npending >= MAX_PENDING || uid_count(w, uid, 0) >= PER_UID_MAX) {
		if (!w->full_said)
			pr_warn("pid %d: not checked: %d processes already waiting, %lu of uid %u "
				"(said once; a rescan finds it later)\n", pid, w->npending,
				(unsigned long)uid_count(w, uid, 0), (unsigned)uid);
		w->full_said = true;
		hashmap__delete(&w->seen, verdict_key(pid, ps.start_time), NULL, NULL);
		return;
	}
	uid_count(w, uid, +1);
	pe = &w->pending[w->npending++];
	memset(pe, 0, sizeof(*pe));
	pe->uid = uid;
	pe->pid = pid;
	pe->start_time = ps.start_time;
	pe->young = young;
	pe->heir = young && serves(w, ps.ppid);
	pe->armed_ms = pe->next_ms = now + delay_ms;
	/* else found when it listens: most Python processes never do */
	if (inherited_service)
		snprintf(pe->service, sizeof(pe->service), "%s", inherited_service);
}

/* Does the process run Python, by name (what the kernel's exec filter passes)? */
static bool pythonish(pid_t pid)
{
	char name[PATH_MAX];
	const char *base;

	procfs__comm(pid, name, sizeof(name));
	if (!strncmp(name, "python", 6))
		return true;
	if (procfs__exe(pid, name, sizeof(name)))
		return false;
	base = strrchr(name, '/');
	return !strncmp(base ? base + 1 : name, "python", 6);
}

/* A Python process not seen before: checked once. */
static int scan_one(pid_t pid, void *ctx)
{
	struct watcher *w = ctx;
	struct procfs_stat ps;
	uintptr_t v;

	if (procfs__stat(pid, &ps) || hashmap__find(&w->seen, verdict_key(pid, ps.start_time), &v))
		return 0;
	if (pythonish(pid))
		arm(w, pid, false, 0, NULL);
	return 0;
}

int watcher__scan(struct watcher *w, bool again)
{
	if (again)
		hashmap__clear(&w->seen);
	w->full_said = false;
	return procfs__scan(scan_one, w);
}

void watcher__proc_event(struct watcher *w, const struct st_proc_event *ev)
{
	const char *svc;
	int i;

	switch (ev->kind) {
	case ST_PROC_EXEC:
		w->ops->exec(w->ctx, ev->pid);
		/* what was resolved of the old program is no more */
		if ((i = find_pending(w, ev->pid)) >= 0)
			drop_pending(w, i);
		arm(w, ev->pid, true, 0, NULL);
		break;
	case ST_PROC_FORK:
		svc = w->ops->traced_service(w->ctx, ev->ppid);
		arm(w, ev->pid, true, FORK_GRACE_MS, svc);
		break;
	case ST_PROC_LISTEN:
		arm(w, ev->pid, true, 0, NULL);
		break;
	}
}

/* -v says why, once per process and verdict; a refusal is said always. */
static void say(struct watcher *w, const struct pending *pe, enum discover_check v,
		const char *why)
{
	uintptr_t key = verdict_key(pe->pid, pe->start_time), was;

	if (v == CHECK_REFUSED) {
		fprintf(stderr, "sessiontrace: %s\n", why);
		return;
	}
	if (v == CHECK_TRACED || v == CHECK_GONE ||
	    (hashmap__find(&w->said, key, &was) && was == (uintptr_t)v + 1))
		return;
	remember(&w->said, key, (uintptr_t)v + 1);
	pr_debug("pid %d: not traced (%s): %s\n", pe->pid, watcher__check_name(v), why);
}

/*
 * pe listens without the app (a gunicorn master): its forks are reported
 * from now on, and the children it forked already are checked too.
 */
static void mark_forker(struct watcher *w, struct pending *pe)
{
	pid_t kids[64], pid = pe->pid;
	size_t n = 0, i;

	w->ops->forker(w->ctx, pid);
	pe->forker = true;
	procfs__children(pid, kids, sizeof(kids) / sizeof(kids[0]), &n);
	for (i = 0; i < n; i++)
		arm(w, kids[i], true, 0, NULL); /* pe may move: pid is a copy */
}

/* One check of pe: true when it is done with (traced, or a final verdict). */
static bool check_one(struct watcher *w, struct pending *pe)
{
	struct procfs_listener l[2];
	struct procfs_stat ps;
	enum discover_check v;
	enum discover_verdict cv;
	char why[512] = "", svc[DISCOVER_SERVICE_MAX];
	size_t n = 0;

	if (procfs__stat(pe->pid, &ps) || ps.start_time != pe->start_time || exited(&ps)) {
		v = CHECK_GONE;
	} else if (!classify(w, pe->pid, &ps, false, &cv, svc, sizeof(svc)) &&
		   cv == DISCOVER_NEVER) {
		v = CHECK_HELPER;
		snprintf(why, sizeof(why), "a multiprocessing helper of a server");
	} else if (procfs__listeners(pe->pid, l, 2, &n), !n) {
		/* the cheap test first: most Python processes never serve */
		v = CHECK_NO_LISTENER;
		snprintf(why, sizeof(why), "holds no listening socket");
	} else {
		if (!pe->service[0])
			watcher__service(w, pe->pid, pe->service, sizeof(pe->service));
		v = w->ops->check(w->ctx, pe->pid, pe->service, &pe->state, why, sizeof(why));
		if (v == CHECK_TRACED)
			pr_debug("pid %d: traced: it imports starlette and listens on %s%s\n",
				 pe->pid, l[0].addr, n > 1 ? " (and more)" : "");
		if (v == CHECK_NO_STARLETTE && !pe->forker)
			mark_forker(w, pe);
	}
	w->ops->counted(w->ctx, v);
	/*
	 * No socket and none to come from its parent: a process that starts
	 * serving calls listen(), which starts the schedule again.
	 */
	if (v == CHECK_TRACED || v == CHECK_NOT_PYTHON || v == CHECK_HELPER ||
	    v == CHECK_REFUSED || v == CHECK_GONE || (v == CHECK_NO_LISTENER && !pe->heir) ||
	    !pe->young || pe->step >= NSTEPS - 1) {
		say(w, pe, v, why);
		return true;
	}
	pe->step++;
	pe->next_ms = pe->armed_ms + schedule_ms[pe->step];
	return false;
}

int watcher__try(struct watcher *w)
{
	long long now = clock__now_ms();
	int i;

	for (i = w->npending - 1; i >= 0; i--) {
		if (now < w->pending[i].next_ms)
			continue;
		if (check_one(w, &w->pending[i]))
			drop_pending(w, i);
	}
	return w->npending;
}

int watcher__pending(const struct watcher *w)
{
	return w->npending;
}

long long watcher__next_ms(const struct watcher *w)
{
	long long now = clock__now_ms(), next = -1;
	int i;

	for (i = 0; i < w->npending; i++) {
		long long d = w->pending[i].next_ms - now;

		if (d < 0)
			d = 0;
		if (next < 0 || d < next)
			next = d;
	}
	return next;
}
