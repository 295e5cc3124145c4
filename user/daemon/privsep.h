/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Node mode's privilege separation, as in OpenSSH: the tracer forks once
 * the probe programs are loaded, before anything is attached.
 *
 * - The parent keeps its capabilities (CAP_SYS_ADMIN, CAP_SYS_PTRACE): it
 *   reads /proc, resolves and attaches targets, and tells the child.
 * - The child ("st-decoder") holds CAP_SYS_PTRACE only, under a seccomp
 *   filter (daemon/sandbox.h). It owns the decoder: the ring buffer of
 *   hits, the reads of target memory, the diagnosis and every sink.
 *
 * Parent → child over a SOCK_SEQPACKET socketpair, one message each: add a
 * target (its resolved description), drop one, reopen files, finish. The
 * child sends nothing back; the parent learns of its exit from the socket.
 */
#ifndef ST_PRIVSEP_H
#define ST_PRIVSEP_H
#include <sys/types.h>

struct decoder;
struct privsep;
struct probe;
struct target;

/*
 * Fork the decoding child for d, which decodes p's records. In the parent:
 * the handle, with d freed (the child owns the sinks now). In the child:
 * never returns. NULL with one line on stderr on failure (d still ours).
 */
struct privsep *privsep__start(struct decoder *d, struct probe *p);
/* Tell the child to decode t; before attaching t, so none of its records precede it. */
int privsep__add(struct privsep *ps, const struct target *t);
/* Tell the child t is gone (its records so far are decoded first). */
int privsep__drop(struct privsep *ps, pid_t pid);
/* SIGHUP: the child reopens its files. */
int privsep__reopen(struct privsep *ps);
/* Readable (or hung up) when the child exited on its own: poll for it. */
int privsep__fd(const struct privsep *ps);
/*
 * Once everything is detached: the child drains, writes its summary and
 * exits. Returns the exit status for the tracer: the child's, or 1 (with a
 * line on stderr) when it died of a signal.
 */
int privsep__finish(struct privsep *ps);
/* Wait for the child, which exited on its own: its exit status, as above. */
int privsep__reap(struct privsep *ps);
void privsep__free(struct privsep *ps);

#endif
