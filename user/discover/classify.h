/* SPDX-License-Identifier: BSD-2-Clause */
/* Which command lines serve ASGI: uvicorn, gunicorn, hypercorn and their workers. */
#ifndef ST_CLASSIFY_H
#define ST_CLASSIFY_H
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

#endif
