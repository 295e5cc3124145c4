/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the process that reads untrusted target memory may still do: the
 * capabilities (sandbox__drop_caps) and the system calls (sandbox__seccomp).
 */
#ifndef ST_SANDBOX_H
#define ST_SANDBOX_H

/*
 * Keep only CAP_SYS_PTRACE (process_vm_readv on targets of any user), also
 * in the bounding set when we may shrink it, and set no_new_privs. For
 * every thread started afterwards. 0 or -errno.
 */
int sandbox__drop_caps(void);
/*
 * What is left of being root, dropped after sandbox__drop_caps where it
 * can be: not dumpable (no process of its uid may ptrace it or read its
 * memory), and the uid and gid of nobody where CAP_SETUID/CAP_SETGID allow
 * (CAP_SYS_PTRACE kept). Said with -v when the uid cannot change.
 */
void sandbox__unprivileged(void);
/*
 * A seccomp filter, on every thread of the process, allowing only what
 * decoding, resolving (on descriptors it was given), the sinks (records
 * file descriptors, console, metrics HTTP) and the exit need, and no call
 * that takes a path; any other call kills the process. Needs no_new_privs
 * (sandbox__drop_caps) unless CAP_SYS_ADMIN. 0 or -errno.
 */
int sandbox__seccomp(void);
/*
 * All of it, in order, for a process that only reads targets and writes to
 * descriptors it holds (the resolver, inspect): glibc's time zone loaded
 * first, then sandbox__unprivileged, sandbox__drop_caps, sandbox__seccomp.
 * 0 or -errno (then the process must not go on).
 */
int sandbox__enter(void);

#endif
