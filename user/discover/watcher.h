/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Discovery's policy: which processes become candidates (a server by its
 * command line or its ancestry, a fork of a traced server), how long each
 * may take to load its interpreter, and the grace a fresh fork gets to exec.
 * What "traced" means and how to trace is the caller's (struct watcher_ops).
 */
#ifndef ST_WATCHER_H
#define ST_WATCHER_H
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "sessiontrace.h"

struct watcher_ops {
	/* The service of pid when it is traced, else NULL. */
	const char *(*traced_service)(void *ctx, pid_t pid);
	/*
	 * Try to trace candidate pid now. 0: done with it (traced, or refused
	 * with a message); -ENOEXEC: not Python, forget it silently; any other
	 * -errno: not ready yet (err says why), try again until its deadline.
	 */
	int (*try_trace)(void *ctx, pid_t pid, const char *service, char *err, size_t errsz);
	/* A traced process exec'd: it is another program now. */
	void (*exec)(void *ctx, pid_t pid);
};

struct watcher;

/* NULL on out of memory. */
struct watcher *watcher__new(const struct watcher_ops *ops, void *ctx);
void watcher__free(struct watcher *w);
/* Every process running now becomes a candidate if it serves ASGI. */
int watcher__scan(struct watcher *w);
/* An exec or fork seen by the probe. */
void watcher__proc_event(struct watcher *w, const struct st_proc_event *ev);
/* Try every candidate once; returns how many still wait. */
int watcher__try(struct watcher *w);
/* How many candidates wait. */
int watcher__pending(const struct watcher *w);
/*
 * The service pid belongs to: the ASGI app spec on its own command line or
 * its nearest server ancestor's (workers have none), "" when unknown.
 */
void watcher__service(struct watcher *w, pid_t pid, char *service, size_t sz);

#endif
