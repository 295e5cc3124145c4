/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The watch trigger's events (3.14+): a hardware data breakpoint on the slot
 * only a failing assert reads, one perf event per thread of a target, each
 * inherited by the threads that thread creates, each running one BPF
 * program. Threads alive at attach get their own event (at most
 * WATCH_THREADS_MAX); later ones inherit theirs, however many.
 */
#ifndef ST_WATCH_H
#define ST_WATCH_H
#include <linux/types.h>
#include <stddef.h>
#include <sys/types.h>

#define WATCH_THREADS_MAX 256 /* threads alive at attach: one event (and fd) each */

struct watch;
struct bpf_program;

/*
 * Breakpoints (read or write, 8 bytes) on addr in every thread of pid, each
 * running prog. A thread created meanwhile by one that had its event already
 * ends up with two (the BPF program runs once per read: watch_first). Threads keep appearing while
 * they are opened: the thread list is read again until it has no new one.
 * NULL, errno set and one sentence in err (nothing is left open): ENOSPC, a
 * thread's debug registers are all taken (a debugger's watchpoints); E2BIG,
 * more than WATCH_THREADS_MAX threads; ENOENT/EOPNOTSUPP, no breakpoint
 * events in this kernel; EACCES/EPERM, a policy refuses perf_event_open.
 */
struct watch *watch__open(const struct bpf_program *prog, pid_t pid, __u64 addr, char *err,
			  size_t errsz);
/* Closes every event: the inherited ones go with them. NULL is fine. */
void watch__close(struct watch *w);

#endif
