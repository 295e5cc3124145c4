/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The back half of the pipeline: each record → hit (decode) → diagnosis →
 * every sink, with the accounting (records, summaries, drops) and the exit
 * summary. It reads target memory and nothing else of the system: it knows
 * the targets by copies the attaching side hands it, never attaches, never
 * reads /proc. In node mode it runs in its own unprivileged process
 * (daemon/privsep.h); with -p, in the tracer's.
 */
#ifndef ST_DECODER_H
#define ST_DECODER_H
#include <stdbool.h>
#include <sys/types.h>
#include "sessiontrace.h"

struct decoder;
struct jsonlog_files;
struct probe;
struct target;
struct tracer_opts;

/*
 * Opens the sinks o asks for (records file, metrics socket, console) and
 * the record-rate limit. NULL on failure, errno set (ENOMEM, or EINVAL for
 * what the user gave) and one sentence in err.
 */
struct decoder *decoder__new(const struct tracer_opts *o, char *err, size_t errsz);
/* The probe whose records it decodes (its ring buffer and counters). */
void decoder__set_probe(struct decoder *d, struct probe *p);
/* A probe_event_fn: one record, ctx the decoder. */
void decoder__event(void *ctx, const struct st_event *ev);
/* Start decoding t's records (a copy is kept). 0, or -ENOMEM/-ENOSPC. */
int decoder__add(struct decoder *d, const struct target *t);
/* Stop: pid's records from now on are dropped as "process gone". */
void decoder__drop(struct decoder *d, pid_t pid);
/*
 * Records waiting in the ring buffer, at most max (0: all), then the
 * summaries due. 1 when more may wait, 0, or -errno.
 */
int decoder__drain(struct decoder *d, unsigned max);
/* SIGHUP: the sinks reopen their files. */
/* The records file is opened and rotated by files from now on (the sandboxed child). */
void decoder__delegate_files(struct decoder *d, const struct jsonlog_files *files);
void decoder__reopen(struct decoder *d);
/*
 * Run inspect's analysis of the targets added (or reopened on SIGHUP)
 * since the last call: in the decoding child's loop, in its sandbox.
 */
void decoder__predict_due(struct decoder *d);
/* Serve metrics from a thread of the calling one's capabilities. 0, or the exit status. */
int decoder__start_metrics(struct decoder *d);
/* Targets decoded now; safe from any thread. */
int decoder__count(const struct decoder *d);
/*
 * The end, once the probes are detached: every record left, every summary,
 * the exit line ("exiting: N records, ...") and the sinks' last words.
 */
void decoder__finish(struct decoder *d);
/* Frees d; its sinks close without writing anything more. */
void decoder__free(struct decoder *d);

#endif
