/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The listening sockets of a network namespace, from the kernel's sock_diag
 * netlink interface (what ss(8) uses). /proc/PID/net/tcp walks the whole
 * established-connections hash table on every read, milliseconds on a big
 * host; a dump of sockets in LISTEN walks only the listening ones.
 */
#ifndef ST_SOCKDIAG_H
#define ST_SOCKDIAG_H
#include <stddef.h>
#include <sys/types.h>
#include "discover/procfs.h"

/*
 * A NETLINK_SOCK_DIAG socket in pid's network namespace (this thread enters
 * it for the socket() call only): a descriptor, or -errno (-EPERM without
 * CAP_SYS_ADMIN for another namespace).
 */
int sockdiag__open(pid_t pid);
/*
 * The sockets in LISTEN of fd's namespace, TCP (v4, v6) and Unix, whose
 * inode is in ino[]: at most max into out, the count added to *n. 0 or
 * -errno. Bounded: PROCFS_LINES_MAX sockets of each dump.
 */
int sockdiag__listeners(int fd, const unsigned long long *ino, size_t nino,
			struct procfs_listener *out, size_t max, size_t *n);
/*
 * One datagram of a dump (pure; the kernel's or anyone's bytes): its
 * inet_diag_msg or unix_diag_msg entries matched against ino[] as above.
 * 1 once NLMSG_DONE is in it, 0 when more is to come, -errno for an error
 * message, -EBADMSG for a malformed one. *entries counts what was parsed.
 */
int sockdiag__parse(const void *buf, size_t len, const unsigned long long *ino, size_t nino,
		    struct procfs_listener *out, size_t max, size_t *n, size_t *entries);
/* An address and port as a listener shows them: "127.0.0.1:8000", "[::1]:8000". */
void sockdiag__format(int family, const void *addr, unsigned port, char *out, size_t outsz);
/* "unix:" and a socket's path, printable ASCII only (its owner chose it); abstract: '@'. */
void sockdiag__unix_addr(const char *path, size_t len, char *out, size_t outsz);

#endif /* ST_SOCKDIAG_H */
