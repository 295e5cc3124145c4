/* SPDX-License-Identifier: BSD-2-Clause */
/* The trace command's options and usage. */
#ifndef ST_OPTIONS_H
#define ST_OPTIONS_H
#include <stdbool.h>
#include <sys/types.h>
#include "daemon/tracer.h"

/* The options of a bare `sessiontrace`. */
void options__defaults(struct tracer_opts *o);
/*
 * Parse argv into o (set to its defaults first) and *verbose (-v count).
 * 0: trace; 1: done (--help or --version printed); -EINVAL: bad arguments,
 * one line said why on stderr.
 */
int options__parse(int argc, char **argv, struct tracer_opts *o, int *verbose);
/*
 * The commands' shared checks. Each returns 0, or -EINVAL after one line on
 * stderr: "CMD: invalid NAME 'ARG' (HINT)", CMD being "sessiontrace",
 * "sessiontrace report" or "sessiontrace inspect".
 */
/* A pid (1 to INT_MAX). */
int options__pid(const char *cmd, const char *arg, pid_t *pid);
/* --format: "text" (*json = false) or "json" (*json = true). */
int options__format(const char *cmd, const char *arg, bool *json);

#endif
