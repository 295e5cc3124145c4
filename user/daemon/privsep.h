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
 * target (its resolved description), drop one, reopen files, finish; and
 * two requests the child answers: resolve a process from its interpreter
 * file (the descriptor travels with the message: the child opens nothing),
 * check a resolved one. The parent learns of the child's exit from the
 * socket's end.
 */
#ifndef ST_PRIVSEP_H
#define ST_PRIVSEP_H
#include <sys/types.h>

struct decoder;
struct privsep;
struct probe;
struct target;
struct target_loc;

/*
 * Fork the decoding child for d, which decodes p's records. In the parent:
 * the handle, with d freed (the child owns the sinks now). In the child:
 * never returns. NULL with one line on stderr on failure (d still ours).
 */
/*
 * A child that only resolves (privsep__resolve, privsep__check), in the
 * same sandbox, for -p's targets before anything is loaded: the parent then
 * parses no file a target chose. privsep__finish ends it. NULL with one
 * line on stderr on failure.
 */
struct privsep *privsep__start_resolver(void);
struct privsep *privsep__start(struct decoder *d, struct probe *p, const char *records,
			       unsigned keep);
/*
 * The child asks for the records file (records: its path; keep: rotated
 * files kept), which only the parent opens and rotates: answer what it
 * asked. Readable privsep__files_fd() means a request. How many were served.
 */
int privsep__serve_files(struct privsep *ps);
int privsep__files_fd(const struct privsep *ps);
/*
 * Resolve loc->pid in the child from its interpreter file fd (sent along):
 * ELF, machine code and memory are parsed there, sandboxed. The target, or
 * NULL with errno and one sentence in why. Waits for the reply at most 2 s.
 */
struct target *privsep__resolve(struct privsep *ps, const struct target_loc *loc, int fd,
				char *why, size_t whysz);
/*
 * In the child: re-read t's interpreter state (-O, the watch slot) into t,
 * and has it imported starlette? 1, 0, or -errno.
 */
int privsep__check(struct privsep *ps, struct target *t, char *why, size_t whysz);
/*
 * The socket was readable outside a request: drop late replies. 1 when
 * the child is gone (then privsep__reap), else 0.
 */
int privsep__poll(struct privsep *ps);
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
