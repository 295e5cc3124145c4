// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "attach/probe.h"
#include "daemon/targets.h"
#include "resolve/target.h"
#include "util/log.h"

struct targets {
	struct probe *probe;
	struct traced v[TARGETS_MAX];
	int n;                    /* read by the metrics thread */
	bool detached;            /* targets__detach_all done */
};

struct targets *targets__new(struct probe *p)
{
	struct targets *r = calloc(1, sizeof(*r));

	if (r)
		r->probe = p;
	return r;
}

/* Forget entry i (detached already or not at all). */
static void release(struct targets *r, int i)
{
	struct traced *e = &r->v[i];

	target__free(e->t);
	if (e->pidfd >= 0)
		close(e->pidfd);
	r->v[i] = r->v[r->n - 1];
	memset(&r->v[r->n - 1], 0, sizeof(r->v[0]));
	__atomic_store_n(&r->n, r->n - 1, __ATOMIC_RELAXED);
}

void targets__free(struct targets *r)
{
	if (!r)
		return;
	targets__detach_all(r);
	while (r->n)
		release(r, r->n - 1);
	free(r);
}

int targets__add(struct targets *r, struct target *t, char *why, size_t whysz)
{
	struct traced *e;
	int err;

	if (r->n >= TARGETS_MAX) {
		snprintf(why, whysz, "pid %d: not traced: already tracing %d processes", t->pid,
			 TARGETS_MAX);
		return -ENOSPC;
	}
	e = &r->v[r->n];
	e->pidfd = syscall(SYS_pidfd_open, t->pid, 0);
	if (e->pidfd < 0) {
		err = -errno;
		snprintf(why, whysz, "pid %d: pidfd_open: %s", t->pid, strerror(errno));
		return err;
	}
	err = probe__attach(r->probe, t, why, whysz);
	if (err) {
		close(e->pidfd);
		memset(e, 0, sizeof(*e));
		return err;
	}
	e->t = t;
	__atomic_store_n(&r->n, r->n + 1, __ATOMIC_RELAXED);
	return 0;
}

void targets__announce(const struct targets *r, int i)
{
	const struct target *t = r->v[i].t;

	fprintf(stderr, "attached pid=%d python=%s probe=%s", t->pid, t->python,
		target__probe_name(t->bpf.probe));
	if (t->ns_pid != t->pid)
		fprintf(stderr, " ns_pid=%d", t->ns_pid);
	fputc('\n', stderr);
}

void targets__drop(struct targets *r, int i, const char *why)
{
	fprintf(stderr, "sessiontrace: pid=%d %s; still tracing %d process(es)\n", r->v[i].t->pid,
		why, r->n - 1);
	if (!r->detached)
		probe__detach(r->probe, r->v[i].t);
	release(r, i);
}

void targets__detach_all(struct targets *r)
{
	int i;

	if (r->detached)
		return;
	for (i = 0; i < r->n; i++)
		probe__detach(r->probe, r->v[i].t);
	r->detached = true;
}

int targets__index(const struct targets *r, pid_t pid)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (r->v[i].t->pid == pid)
			return i;
	return -1;
}

struct traced *targets__at(struct targets *r, int i)
{
	return &r->v[i];
}

int targets__count(const struct targets *r)
{
	return __atomic_load_n(&r->n, __ATOMIC_RELAXED);
}
