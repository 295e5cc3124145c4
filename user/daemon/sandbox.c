// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <cap-ng.h>
#include <seccomp.h>
#include "daemon/sandbox.h"
#include "util/log.h"

/* Anything else kills the process: a decoder that calls what it never needs is not ours any more. */
#ifndef SANDBOX_DEFAULT_ACTION
#define SANDBOX_DEFAULT_ACTION SCMP_ACT_KILL_PROCESS
#endif

int sandbox__drop_caps(void)
{
	capng_select_t what;

	if (capng_get_caps_process())
		return -EPERM;
	/* the bounding set can only shrink with CAP_SETPCAP (systemd may not give it) */
	what = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP) ? CAPNG_SELECT_BOTH
								    : CAPNG_SELECT_CAPS;
	capng_clear(what);
	capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
		     (what == CAPNG_SELECT_BOTH ? CAPNG_BOUNDING_SET : 0), CAP_SYS_PTRACE);
	if (capng_apply(what))
		return -EPERM;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	pr_debug("capabilities dropped: only CAP_SYS_PTRACE is left\n");
	return 0;
}

#define NOBODY 65534

void sandbox__unprivileged(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		pr_debug("PR_SET_DUMPABLE: %s\n", strerror(errno));
	if (geteuid() != 0)
		return;
	/* keep CAP_SYS_PTRACE across the change of uid; CAP_SETUID/SETGID needed for it */
	capng_clear(CAPNG_SELECT_CAPS);
	capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SYS_PTRACE);
	if (capng_change_id(NOBODY, NOBODY, CAPNG_DROP_SUPP_GRP))
		pr_debug("sandbox: process %d keeps uid 0: no CAP_SETUID/CAP_SETGID to become "
			 "nobody\n", (int)getpid());
	else
		pr_debug("sandbox: process %d runs as uid %d with CAP_SYS_PTRACE only\n",
			 (int)getpid(), NOBODY);
}

/*
 * By what needs them. Memory: malloc. Threads: the metrics server's one
 * is started before the filter, so no clone. Target memory:
 * process_vm_readv. Files: none is opened by path: the records file and
 * the interpreter files come as descriptors from the parent. Sockets: the
 * metrics listener, already bound. With arguments checked, below: bpf (map
 * lookups: the counters; the ring buffer is mmapped already), ioctl,
 * prlimit64.
 */
static const char *const allowed[] = {
	/* memory, threads, time, signals, exit */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex", "set_robust_list",
	"rseq", "sched_yield", "sched_getaffinity", "getpid", "gettid", "getuid", "geteuid",
	"sysinfo", /* glibc's qsort sizes its buffer by the machine's memory */
	"clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday", "getrandom",
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack", "restart_syscall",
	"exit", "exit_group",
	/* target memory */
	"process_vm_readv",
	/* descriptors: the ring buffer's epoll, the privsep socket, stdio, and the
	 * interpreter files the parent sends to be parsed (read where they are) */
	"read", "write", "writev", "readv", "pread64", "close", "fcntl", "fstat", "newfstatat",
	"statx", "lseek", "poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"epoll_ctl", "epoll_create1", "pipe2", "eventfd2",
	/* the records file, on descriptors the parent opened: a short write taken back */
	"ftruncate", "fsync", "fdatasync",
	/* the metrics server */
	"accept", "accept4", "recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown",
	"setsockopt", "getsockopt", "getsockname", "getpeername",
};

/* Allow nr when its argument arg, masked, equals val. */
static int allow_if(scmp_filter_ctx ctx, int nr, unsigned arg, uint64_t mask, uint64_t val)
{
	struct scmp_arg_cmp cmp = {
		.arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = val,
	};

	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

int sandbox__seccomp(void)
{
	scmp_filter_ctx ctx = seccomp_init(SANDBOX_DEFAULT_ACTION);
	size_t i;
	int err;

	if (!ctx)
		return -ENOMEM;
	/* every thread, the metrics server's too */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (i = 0; !err && i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);

		if (nr != __NR_SCMP_ERROR)
			err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	/* the counters: no map is written, no program loaded */
	if (!err)
		err = allow_if(ctx, SCMP_SYS(bpf), 0, ~0ULL, BPF_MAP_LOOKUP_ELEM);
	/* a library's prctl (naming a thread, say) fails instead: nothing the decoder needs */
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(prctl), 0);
	/* pthread_getattr_np (a thread starting under sanitizers) reads limits, sets none */
	if (!err)
		err = allow_if(ctx, SCMP_SYS(prlimit64), 2, ~0ULL, 0);
	/* stdio asks whether stdout is a terminal; no other ioctl */
	if (!err)
		err = allow_if(ctx, SCMP_SYS(ioctl), 1, ~0ULL, TCGETS);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	if (!err)
		pr_debug("sandbox: process %d: seccomp filter loaded, %zu system calls allowed\n",
			 (int)getpid(), i + 3);
	return err;
}

int sandbox__enter(void)
{
	int err;

	tzset(); /* glibc reads /etc/localtime once: now, not at the first timestamp */
	sandbox__unprivileged(); /* while CAP_SETUID is there */
	err = sandbox__drop_caps();
	return err ? err : sandbox__seccomp();
}
