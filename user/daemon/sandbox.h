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
 * A seccomp filter, on every thread of the process, allowing only what
 * decoding, the sinks (records file and its rotation, console, metrics
 * HTTP) and the exit need; any other call fails with EPERM. Needs
 * no_new_privs (sandbox__drop_caps) unless CAP_SYS_ADMIN. 0 or -errno.
 */
int sandbox__seccomp(void);

#endif
