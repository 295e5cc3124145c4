// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <bpf/libbpf.h>
#include "attach/watch.h"
#include "discover/procfs.h"
#include "util/log.h"

/*
 * List, open what is new, list again: threads created meanwhile are found.
 * A process that keeps creating threads through this many listings (a
 * burst takes a few; one that never stops, all) is refused.
 */
#define WATCH_PASSES 64

struct watch {
	pid_t pid;
	unsigned n;
	struct {
		pid_t tid;
		struct bpf_link *link; /* owns the event's fd */
	} ev[WATCH_THREADS_MAX];
};

/*
 * One thread's breakpoint. inherit_thread: threads it creates get a copy
 * (running the same program, with the same cookie), processes it forks do
 * not (a forked worker is a target of its own); remove_on_exec: a new
 * program keeps none. User-space accesses only: not our process_vm_readv.
 */
static int open_event(pid_t tid, __u64 addr)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_BREAKPOINT;
	a.size = sizeof(a);
	a.bp_type = HW_BREAKPOINT_RW; /* x86 has no read-only data breakpoint */
	a.bp_addr = addr;
	a.bp_len = HW_BREAKPOINT_LEN_8;
	a.sample_period = 1;
	a.inherit = 1;
	a.inherit_thread = 1;
	a.remove_on_exec = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	return syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Why perf_event_open refused a breakpoint, as a sentence fragment. */
static const char *open_why(int err)
{
	switch (err) {
	case ENOSPC:
		return "all of a thread's hardware debug registers are in use (a debugger's "
		       "watchpoints?)";
	case ENOENT:
	case EOPNOTSUPP:
	case ENODEV:
		return "this kernel or machine has no hardware breakpoint events";
	case EACCES:
	case EPERM:
		return "perf_event_open is refused here (a seccomp filter, lockdown, or no "
		       "CAP_PERFMON)";
	case EINVAL:
		return "the kernel refuses the breakpoint's attributes (inherit_thread and "
		       "remove_on_exec need Linux 5.13)";
	case EMFILE:
	case ENFILE:
		return "out of file descriptors (one per thread)";
	default:
		return "perf_event_open failed";
	}
}

static bool has_thread(const struct watch *w, pid_t tid)
{
	unsigned i;

	for (i = 0; i < w->n; i++)
		if (w->ev[i].tid == tid)
			return true;
	return false;
}

/* An event and its program for tid: 0, 1 when the thread is gone, or -errno and err. */
static int add_thread(struct watch *w, const struct bpf_program *prog, pid_t tid, __u64 addr,
		      char *err, size_t errsz)
{
	struct bpf_link *link;
	int fd, ret;

	if (w->n == WATCH_THREADS_MAX) {
		snprintf(err, errsz, "pid %d has more than %d threads (one breakpoint event each)",
			 w->pid, WATCH_THREADS_MAX);
		return -E2BIG;
	}
	fd = open_event(tid, addr);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ESRCH)
			return 1; /* exited since it was listed */
		snprintf(err, errsz, "%s (thread %d: %s)", open_why(-ret), tid, strerror(-ret));
		return ret;
	}
	link = bpf_program__attach_perf_event(prog, fd);
	if (!link) {
		ret = -errno;
		close(fd);
		snprintf(err, errsz, "cannot run the BPF program on thread %d's breakpoint: %s",
			 tid, strerror(-ret));
		return ret;
	}
	w->ev[w->n].tid = tid;
	w->ev[w->n].link = link;
	w->n++;
	return 0;
}

struct watch *watch__open(const struct bpf_program *prog, pid_t pid, __u64 addr, char *err,
			  size_t errsz)
{
	struct watch *w = calloc(1, sizeof(*w));
	pid_t tids[WATCH_THREADS_MAX];
	unsigned pass, added = 1;
	size_t n, i;
	int ret = -ENOMEM;

	if (!w) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	w->pid = pid;
	for (pass = 0; pass < WATCH_PASSES && added; pass++) {
		ret = procfs__threads(pid, tids, WATCH_THREADS_MAX, &n);
		if (ret) {
			snprintf(err, errsz, "pid %d: cannot list its threads: %s", pid, strerror(-ret));
			goto fail;
		}
		if (n > WATCH_THREADS_MAX) {
			ret = -E2BIG;
			snprintf(err, errsz, "pid %d has more than %d threads (one breakpoint event "
				 "each)", pid, WATCH_THREADS_MAX);
			goto fail;
		}
		for (added = 0, i = 0; i < n; i++) {
			if (has_thread(w, tids[i]))
				continue;
			ret = add_thread(w, prog, tids[i], addr, err, errsz);
			if (ret < 0)
				goto fail;
			added += ret == 0;
		}
	}
	if (added) {
		ret = -EAGAIN;
		snprintf(err, errsz, "pid %d kept creating threads through %d listings", pid,
			 WATCH_PASSES);
		goto fail;
	}
	if (!w->n) {
		ret = -ESRCH;
		snprintf(err, errsz, "pid %d has no threads left", pid);
		goto fail;
	}
	pr_debug("pid %d: watch trigger on 0x%llx: %u thread(s), %u listing(s)\n", pid,
		 (unsigned long long)addr, w->n, pass);
	return w;
fail:
	watch__close(w);
	errno = -ret;
	return NULL;
}

void watch__close(struct watch *w)
{
	unsigned i;

	if (!w)
		return;
	for (i = 0; i < w->n; i++)
		bpf_link__destroy(w->ev[i].link);
	free(w);
}
