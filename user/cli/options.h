/* SPDX-License-Identifier: BSD-2-Clause */
/* The trace command's options and usage. */
#ifndef ST_OPTIONS_H
#define ST_OPTIONS_H
#include "daemon/tracer.h"

/* The options of a bare `sessiontrace`. */
void options__defaults(struct tracer_opts *o);
/*
 * Parse argv into o (set to its defaults first) and *verbose (-v count).
 * 0: trace; 1: done (--help or --version printed); -EINVAL: bad arguments,
 * one line said why on stderr.
 */
int options__parse(int argc, char **argv, struct tracer_opts *o, int *verbose);
/* A decimal in [min, max], the whole string: 0, or -EINVAL. */
int options__parse_long(const char *s, long min, long max, long *out);

#endif
