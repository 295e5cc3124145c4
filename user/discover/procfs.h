/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Everything sessiontrace reads from /proc about a process. What a process
 * wrote there (its name, its command line, its file paths) is untrusted:
 * every read is bounded. Functions return 0 or -errno (-ENOENT, -ESRCH: gone).
 */
#ifndef ST_PROCFS_H
#define ST_PROCFS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct procfs_stat {
	pid_t ppid;                    /* field 4 */
	unsigned long long start_time; /* field 22: tells a reused pid apart */
};

/* The fields of /proc/PID/stat sessiontrace uses. */
int procfs__stat(pid_t pid, struct procfs_stat *out);
/* /proc/PID/cmdline: NUL-separated argv, at most argsz bytes in *len. */
int procfs__cmdline(pid_t pid, char *args, size_t argsz, size_t *len);
/* /proc/PID/comm without its newline ("" when unreadable). */
void procfs__comm(pid_t pid, char *buf, size_t sz);
/* Its pid in its own innermost pid namespace (NSpid); pid when unknown. */
pid_t procfs__ns_pid(pid_t pid);
/* True while /proc/PID exists. */
bool procfs__exists(pid_t pid);
/*
 * The interpreter file in /proc/PID/maps: a mapped libpython3.X.so, else the
 * executable. path: as the target sees it; [start, end): its mapping at file
 * offset 0 (the name of its /proc/PID/map_files entry).
 */
int procfs__interpreter(pid_t pid, char *path, size_t pathsz, uint64_t *start, uint64_t *end);
/*
 * The threads of pid (/proc/PID/task): at most max tids into tids, and in
 * *n how many there are, counted up to max + 1 (more than max: *n > max).
 */
int procfs__threads(pid_t pid, pid_t *tids, size_t max, size_t *n);
/* Calls fn for every process in /proc, in pid order; stops when fn returns non-zero. */
int procfs__scan(int (*fn)(pid_t pid, void *ctx), void *ctx);

#endif
