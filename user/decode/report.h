/* SPDX-License-Identifier: BSD-2-Clause */
/* Turns a BPF record into the JSON line and the human report. */
#ifndef ST_REPORT_H
#define ST_REPORT_H
#include <stdbool.h>
#include <linux/types.h>
#include <stdio.h>
#include "sessiontrace.h"

struct report;
struct target;
struct jsonlog;

/* console: stream for the human report, or NULL (-q); json: the records file, or NULL. */
struct report *report__new(FILE *console, struct jsonlog *json);
/*
 * One event: *drop = -1 when it became a record (console, JSON, labels),
 * else the enum drop_reason why not (nothing written). Returns 0, or -errno
 * when writing the JSON record failed (the record still counts).
 */
int report__event(struct report *r, struct target *t, const struct st_event *ev, int *drop);
void report__free(struct report *r);

/* The metric labels of the last record reported (valid until the next event). */
struct report_labels {
	const char *route;  /* route template, or a bounded placeholder */
	const char *method; /* as the client sent it ("" without a request) */
	const char *cause;
};
void report__labels(const struct report *r, struct report_labels *out);

/* True when a file belongs to the frameworks, not to the application. */
bool report__is_framework_file(const char *file);

#endif
