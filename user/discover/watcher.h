/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Discovery's policy: which processes are checked, when, and how often.
 *
 * A process is traced when it is CPython, has imported starlette and holds
 * a listening socket (its own, or one its server's master handed it). The
 * Python processes checked: every one running at start (once), and, from
 * the kernel's events, each that execs, listens, or is forked by a traced
 * or listening process; those are checked again on a fixed schedule over
 * their first seconds (an app imports starlette, a worker receives its
 * socket, a little after it starts). What "check" and "trace" mean is the
 * caller's (struct watcher_ops).
 */
#ifndef ST_WATCHER_H
#define ST_WATCHER_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "sessiontrace.h"

/* One check's verdict (the index of sessiontrace_discovery_checks_total's series). */
enum discover_check {
	CHECK_TRACED = 0,   /* serves a Starlette app: traced now */
	CHECK_NOT_PYTHON,   /* not a CPython this build reads */
	CHECK_HELPER,       /* a multiprocessing helper of a server: never */
	CHECK_NOT_READY,    /* its interpreter is not initialized yet */
	CHECK_NO_STARLETTE, /* listens, but has not imported starlette */
	CHECK_NO_LISTENER,  /* holds no listening socket (its memory is not read) */
	CHECK_REFUSED,      /* serves a Starlette app but cannot be traced (said why) */
	CHECK_GONE,         /* exited */
	CHECK_N,
};

/* "traced", "not_python", ...: the metric's label. */
const char *watcher__check_name(enum discover_check v);

struct watcher_ops {
	/* The service of pid when it is traced, else NULL. */
	const char *(*traced_service)(void *ctx, pid_t pid);
	/*
	 * Check pid, which holds a listening socket: CPython? imported
	 * starlette? and, when it has, trace it. *state keeps what a first
	 * check resolved for the next (NULL at first; the caller's to free with
	 * forget). why: one sentence, for -v and for a refusal.
	 */
	enum discover_check (*check)(void *ctx, pid_t pid, const char *service, void **state,
				     char *why, size_t whysz);
	void (*forget)(void *ctx, void *state);
	/* A traced process exec'd: it is another program now. */
	void (*exec)(void *ctx, pid_t pid);
	/* pid listens but is not traced (a gunicorn master): report its forks. */
	void (*forker)(void *ctx, pid_t pid);
	/* Every check's verdict (metrics). */
	void (*counted)(void *ctx, enum discover_check v);
};

struct watcher;

/* NULL on out of memory. */
struct watcher *watcher__new(const struct watcher_ops *ops, void *ctx);
void watcher__free(struct watcher *w);
/*
 * Every Python process running now that discovery has not met before is
 * checked once (at start, and now and then); again: those met before too
 * (after lost process events: a listen may be among them).
 */
int watcher__scan(struct watcher *w, bool again);
/* An exec, fork or listen seen by the probe. */
void watcher__proc_event(struct watcher *w, const struct st_proc_event *ev);
/* Run the checks that are due; returns how many processes still have some. */
int watcher__try(struct watcher *w);
/* How many processes have checks to come. */
int watcher__pending(const struct watcher *w);
/* Milliseconds until the next check is due (0: now), or -1 for none. */
long long watcher__next_ms(const struct watcher *w);
/*
 * The service pid belongs to: the ASGI app spec on its own command line or
 * its nearest ancestor's (workers have none), else the program it runs
 * ("main.py"), "" when unknown.
 */
void watcher__service(struct watcher *w, pid_t pid, char *service, size_t sz);

#endif
