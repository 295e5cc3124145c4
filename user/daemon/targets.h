/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The processes being traced, on the attaching side: each resolved target
 * with its probe attached and the pidfd that says when it exits. Owned by the event
 * loop's thread; the metrics thread reads only the count.
 */
#ifndef ST_TARGETS_H
#define ST_TARGETS_H
#include <stdbool.h>
#include <sys/types.h>

#define TARGETS_MAX 1024 /* processes traced at once */

struct probe;
struct target;
struct traced {
	struct target *t;
	int pidfd;
	bool exited; /* its pidfd said so */
};

struct targets;

/* A registry attaching through p. NULL on out of memory. */
struct targets *targets__new(struct probe *p);
/* Detaches and frees every target. */
void targets__free(struct targets *r);
/*
 * Attach t (its probe chosen) and keep it: on 0 it is the registry's, the
 * last entry. -errno (t still the caller's) and one sentence in why when it
 * cannot.
 */
int targets__add(struct targets *r, struct target *t, char *why, size_t whysz);
/*
 * Print the i-th target's "attached" line. The caller prints it once the
 * records flow and the privileges are what they stay: scripts and tests
 * take the line to mean the tracer is up.
 */
void targets__announce(const struct targets *r, int i);
/* Detach and free the i-th target, saying why on stderr. */
void targets__drop(struct targets *r, int i, const char *why);
/* Detach every target (their records stop); they stay known until freed. */
void targets__detach_all(struct targets *r);
/* Index of pid's entry, or -1. */
int targets__index(const struct targets *r, pid_t pid);
struct traced *targets__at(struct targets *r, int i);
/* How many are traced now; safe from any thread. */
int targets__count(const struct targets *r);

#endif
