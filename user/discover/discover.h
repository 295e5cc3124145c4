/* SPDX-License-Identifier: BSD-2-Clause */
/* Which processes serve ASGI: uvicorn, gunicorn, hypercorn and their workers. */
#ifndef ST_DISCOVER_H
#define ST_DISCOVER_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define DISCOVER_SERVICE_MAX 128

enum discover_verdict {
	DISCOVER_NO = 0,     /* not a server by its command line */
	DISCOVER_SERVER,     /* runs uvicorn/gunicorn/hypercorn itself */
	DISCOVER_NEVER,      /* a helper process of a server: never traced */
};

/*
 * Classify a command line (argv as /proc/PID/cmdline holds it: NUL-separated,
 * len bytes). On DISCOVER_SERVER, service receives the ASGI app spec
 * ("main:app") when the command line has one, else "". Pure.
 */
enum discover_verdict discover__classify(const char *args, size_t len, char *service,
					 size_t servicesz);

/* Parent pid and command line of pid; -errno when it is gone. */
int discover__read(pid_t pid, pid_t *ppid, char *args, size_t argsz, size_t *len);

/* Calls fn for every process in /proc, in pid order; stops when fn returns non-zero. */
int discover__scan(int (*fn)(pid_t pid, void *ctx), void *ctx);

#endif
