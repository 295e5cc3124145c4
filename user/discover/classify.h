/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a command line says: the ASGI app spec of uvicorn, gunicorn,
 * hypercorn, daphne and granian (the service name), multiprocessing's
 * helpers (never traced), and the program a Python process runs.
 */
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

/*
 * The program a Python command line runs, for a service name where it has
 * no app spec: "main.py" (python /srv/main.py), "pkg.mod" (python -m
 * pkg.mod); "" for -c or anything else. Pure.
 */
void discover__program(const char *args, size_t len, char *out, size_t outsz);

#endif
