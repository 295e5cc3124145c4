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
	char state;                    /* field 3: 'Z' a zombie, 'X' dead */
	pid_t ppid;                    /* field 4 */
	unsigned long long start_time; /* field 22: tells a reused pid apart */
};

/* The fields of /proc/PID/stat sessiontrace uses. */
int procfs__stat(pid_t pid, struct procfs_stat *out);
/* /proc/PID/cmdline: NUL-separated argv, at most argsz bytes in *len. */
int procfs__cmdline(pid_t pid, char *args, size_t argsz, size_t *len);
/* /proc/PID/comm without its newline ("" when unreadable). */
void procfs__comm(pid_t pid, char *buf, size_t sz);
/* Its owner (the uid of /proc/PID). */
int procfs__uid(pid_t pid, uid_t *uid);
/* The program file it runs (/proc/PID/exe), as its mount namespace names it. */
int procfs__exe(pid_t pid, char *path, size_t pathsz);
/* Its pid in its own innermost pid namespace (NSpid); pid when unknown. */
pid_t procfs__ns_pid(pid_t pid);
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
/*
 * pid's child processes (/proc/PID/task/PID/children): at most max into
 * kids, the count in *n.
 */
int procfs__children(pid_t pid, pid_t *kids, size_t max, size_t *n);
/* A socket that accepts connections. */
struct procfs_listener {
	unsigned long long inode;
	char addr[72]; /* "127.0.0.1:8000", "[::1]:8000", "unix:/run/app.sock" (printable, cut) */
};

#define PROCFS_FDS_MAX   4096    /* descriptors of a process examined */
#define PROCFS_SOCKS_MAX 1024    /* of which sockets */
#define PROCFS_LINES_MAX 262144  /* lines of each /proc/PID/net table read */

/*
 * The listening sockets pid holds: its descriptors' socket inodes matched
 * against its network namespace's TCP (v4, v6) sockets in LISTEN and Unix
 * sockets that accept (/proc/PID/net/{tcp,tcp6,unix}). At most max into
 * out, the count in *n. Bounded work: PROCFS_FDS_MAX descriptors,
 * PROCFS_LINES_MAX lines of each table.
 */
int procfs__listeners(pid_t pid, struct procfs_listener *out, size_t max, size_t *n);
/*
 * One line of /proc/net/tcp or tcp6 (pure): 0 with its inode and address
 * when it is a socket in LISTEN, else -1.
 */
int procfs__parse_tcp_line(const char *line, unsigned long long *inode, char *addr, size_t addrsz);
/* One line of /proc/net/unix (pure): 0 with its inode and path when it accepts, else -1. */
int procfs__parse_unix_line(const char *line, unsigned long long *inode, char *addr,
			    size_t addrsz);
/* Calls fn for every process in /proc, in pid order; stops when fn returns non-zero. */
int procfs__scan(int (*fn)(pid_t pid, void *ctx), void *ctx);

#endif
