/* SPDX-License-Identifier: BSD-2-Clause */
/* The BPF side: skeleton, targets map, uprobes, ring buffer, counters. */
#ifndef ST_PROBE_H
#define ST_PROBE_H
#include <linux/types.h>
#include "sessiontrace.h"

struct probe;
struct target;

/* Called for every record; ctx is the one given to probe__new. */
typedef void (*probe_event_fn)(void *ctx, const struct st_event *ev);
/* Called for every exec in the system and every fork of a traced process. */
typedef void (*probe_proc_fn)(void *ctx, const struct st_proc_event *ev);

/* Opens and loads the BPF object. NULL and errno on failure (message printed). */
/* Does this kernel have what the probes need (BTF, uprobes)? 0, or a reason in err. */
int probe__kernel_check(char *err, size_t errsz);
struct probe *probe__new(probe_event_fn fn, void *ctx);
/*
 * Adds t to the targets map; attaches the raise probe to its interpreter file
 * unless another target already runs the same file.
 */
int probe__attach(struct probe *p, struct target *t);
/* Detaches and forgets t; safe to call twice. */
void probe__detach(struct probe *p, struct target *t);
/* Consume ready records; waits at most timeout_ms. Returns records or -errno. */
/* Start reporting exec/fork events to fn (discovery). */
int probe__watch_processes(struct probe *p, probe_proc_fn fn);
int probe__poll(struct probe *p, int timeout_ms);
/* Consume every record there is, woken or not. Returns records or -errno. */
int probe__drain(struct probe *p);
int probe__epoll_fd(const struct probe *p);
/* Sums of the per-CPU counters (enum st_counter). */
int probe__counters(const struct probe *p, __u64 out[ST_NCOUNTERS]);
void probe__free(struct probe *p);

#endif
