/* SPDX-License-Identifier: BSD-2-Clause */
/* The BPF side: skeleton, targets map, uprobes, ring buffer, counters. */
#ifndef ST_PROBE_H
#define ST_PROBE_H
#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "sessiontrace.h"

struct probe;
struct target;

/* Called for every record; ctx is the one given to probe__new. */
typedef void (*probe_event_fn)(void *ctx, const struct st_event *ev);
/* Called for every exec that may start a server and every fork of a traced process. */
typedef void (*probe_proc_fn)(void *ctx, const struct st_proc_event *ev);

/* Does this kernel have what the probes need (BTF, uprobes)? 0, or a reason in err. */
int probe__kernel_check(char *err, size_t errsz);

/* Which probe programs to load: verifying each costs ~50 ms at start. */
enum probe_progs {
	PROBE_PROG_RAISE = 1 << 0,    /* raise_probe: _PyErr_SetObject */
	PROBE_PROG_ASSERT = 1 << 1,   /* assert_probe: LOAD_ASSERTION_ERROR handler */
	PROBE_PROG_DO_RAISE = 1 << 2, /* do_raise_probe: 3.14+ */
	PROBE_PROG_WATCH = 1 << 3,    /* watch_probe: 3.14+, the watch trigger */
	PROBE_PROG_ALL = 15,
};
/* The program target t needs, once t->bpf.probe is chosen. */
unsigned probe__prog_for(const struct target *t);
/*
 * Opens and loads the BPF object with the probe programs in progs (enum
 * probe_progs) and the discovery ones. NULL, errno set and one sentence in
 * err on failure.
 */
struct probe *probe__new(probe_event_fn fn, void *ctx, unsigned progs, char *err,
			 size_t errsz);
/*
 * Adds t to the targets map and attaches its probe, for t alone: a uprobe
 * on its interpreter file scoped to its pid, or the watch trigger's
 * breakpoints on its threads (attach/watch.h). 0, or -errno with one
 * sentence in err and nothing left attached (-ENOTSUP: its program was not
 * loaded).
 */
int probe__attach(struct probe *p, const struct target *t, char *err, size_t errsz);
/* Undoes one successful probe__attach of t (exactly once). */
void probe__detach(struct probe *p, const struct target *t);
/* Start reporting exec, fork and listen events to fn, with ctx (discovery). */
int probe__watch_processes(struct probe *p, probe_proc_fn fn, void *ctx);
/* Report pid's forks: a process that listens but is not traced (a gunicorn master). */
int probe__forker(struct probe *p, pid_t pid);
/* Count one of discovery's checks with this verdict (the attaching process only). */
void probe__count_check(struct probe *p, unsigned verdict);
/* The checks by verdict, for /metrics (any process holding the maps). */
int probe__checks(const struct probe *p, __u64 out[ST_CHECK_VERDICTS]);
/*
 * Consume the records there are, woken or not, at most max (0: all). Returns
 * 1 when max were consumed and more may wait, 0 when the buffer is empty, or
 * -errno. A bounded drain keeps signals, -d and exits prompt during a storm.
 */
int probe__drain(struct probe *p, unsigned max);
/* Readable when hit records wait (they come without wakeups: poll with a timeout too). */
int probe__epoll_fd(const struct probe *p);
/* Hand every process event waiting to the probe_proc_fn: 0 or -errno. */
int probe__drain_processes(struct probe *p);
/* Readable when process events wait; -1 before probe__watch_processes. */
int probe__processes_fd(const struct probe *p);
/* Sums of the per-CPU counters (enum st_counter). */
int probe__counters(const struct probe *p, __u64 out[ST_NCOUNTERS]);
void probe__free(struct probe *p);

#endif
