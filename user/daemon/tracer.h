/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The tracing daemon: resolves and attaches the processes asked for (or
 * discovers them), runs the event loop (records, signals, exits, -d), sends
 * each hit through decode → diagnose → sinks, and accounts for every hit.
 */
#ifndef ST_TRACER_H
#define ST_TRACER_H
#include <stdbool.h>
#include <sys/types.h>

#define TRACER_MAX_PIDS 256 /* -p options */

struct tracer_opts {
	pid_t pids[TRACER_MAX_PIDS]; /* none: discover every ASGI server */
	int npids;
	const char *json;            /* records file, or NULL */
	unsigned long long json_max_size;
	unsigned json_keep;
	unsigned record_rate;        /* full records a second per key (limit.h); 0: all */
	const char *metrics;         /* [ADDR:]PORT, or NULL */
	unsigned long max_series;
	unsigned long max_service_series; /* of one service */
	long duration;               /* seconds; 0: until a signal */
	bool quiet;                  /* no console report */
	unsigned kinds;              /* bits of enum st_prop */
	int probe;                   /* enum st_probe_kind, or TARGET_PROBE_AUTO */
	bool allow_fallback;         /* auto without a zero-cost trigger: a costly probe */
	bool no_predict;             /* no inspection of each server when it is attached */
};

/* Trace until a signal or the duration. Returns the exit status (0, 1, 2). */
int tracer__run(const struct tracer_opts *o);

#endif
