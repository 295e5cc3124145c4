// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "discover/sockdiag.h"

#define RECV_BYTES 32768 /* one datagram of a dump (the kernel's are at most a page or two) */

static int same_netns(pid_t pid)
{
	struct stat mine, theirs;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat("/proc/thread-self/ns/net", &mine) || stat(path, &theirs))
		return -errno;
	return mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

static int diag_socket(void)
{
	struct timeval tv = { .tv_sec = 1 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (fd < 0)
		return -errno;
	/* the kernel answers a dump as it is read: never waits, but bound it anyway */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int sockdiag__open(pid_t pid)
{
	char path[64];
	int same = same_netns(pid), theirs, mine, fd;

	if (same < 0)
		return same;
	if (same)
		return diag_socket();
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	theirs = open(path, O_RDONLY | O_CLOEXEC);
	if (theirs < 0)
		return -errno;
	mine = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (mine < 0) {
		fd = -errno;
		close(theirs);
		return fd;
	}
	/* a socket stays in the namespace it was made in; nothing else is done there */
	if (setns(theirs, CLONE_NEWNET)) {
		fd = -errno;
	} else {
		fd = diag_socket();
		if (setns(mine, CLONE_NEWNET)) {
			/* every later socket would be theirs: never go on */
			fprintf(stderr, "sessiontrace: cannot return to its own network namespace: "
				"%s\n", strerror(errno));
			abort();
		}
	}
	close(theirs);
	close(mine);
	return fd;
}

void sockdiag__format(int family, const void *addr, unsigned port, char *out, size_t outsz)
{
	char host[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family, addr, host, sizeof(host));
	snprintf(out, outsz, family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

void sockdiag__unix_addr(const char *path, size_t len, char *out, size_t outsz)
{
	size_t k = (size_t)snprintf(out, outsz, "unix:"), i;

	for (i = 0; i < len && k + 1 < outsz; i++) {
		char c = path[i];

		out[k++] = !i && !c ? '@' : (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	if (k < outsz)
		out[k] = 0;
}

static bool wanted(unsigned long long inode, const unsigned long long *ino, size_t nino)
{
	size_t i;

	for (i = 0; inode && i < nino; i++)
		if (ino[i] == inode)
			return true;
	return false;
}

/* A listener wanted: into out while there is room, counted always. */
static struct procfs_listener *add(unsigned long long inode, struct procfs_listener *out,
				   size_t max, size_t *n)
{
	struct procfs_listener *l = *n < max ? &out[*n] : NULL;

	(*n)++;
	if (l)
		l->inode = inode;
	return l;
}

static int parse_inet(const struct nlmsghdr *h, const unsigned long long *ino, size_t nino,
		      struct procfs_listener *out, size_t max, size_t *n)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	struct procfs_listener *l;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	if (m->idiag_state != TCP_LISTEN || !wanted(m->idiag_inode, ino, nino))
		return 0;
	if ((l = add(m->idiag_inode, out, max, n)))
		sockdiag__format(m->idiag_family, m->id.idiag_src, ntohs(m->id.idiag_sport),
				 l->addr, sizeof(l->addr));
	return 0;
}

static int parse_unix(const struct nlmsghdr *h, const unsigned long long *ino, size_t nino,
		      struct procfs_listener *out, size_t max, size_t *n)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	struct procfs_listener *l;
	const struct rtattr *a;
	int left;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	if (m->udiag_state != TCP_LISTEN || !wanted(m->udiag_ino, ino, nino) ||
	    !(l = add(m->udiag_ino, out, max, n)))
		return 0;
	snprintf(l->addr, sizeof(l->addr), "unix:");
	left = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (a = (const struct rtattr *)(m + 1); RTA_OK(a, left); a = RTA_NEXT(a, left))
		if (a->rta_type == UNIX_DIAG_NAME)
			sockdiag__unix_addr(RTA_DATA(a), RTA_PAYLOAD(a), l->addr, sizeof(l->addr));
	return 0;
}

int sockdiag__parse(const void *buf, size_t len, const unsigned long long *ino, size_t nino,
		    struct procfs_listener *out, size_t max, size_t *n, size_t *entries)
{
	const unsigned char *p = buf;
	size_t left = len > RECV_BYTES ? RECV_BYTES : len, step;
	int ret;

	while (left >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)p;

		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > left)
			return -EBADMSG;
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			return e->error < 0 && e->error > -4096 ? e->error : -EBADMSG;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(1))
			return -EBADMSG;
		(*entries)++;
		switch (*(const __u8 *)NLMSG_DATA(h)) {
		case AF_INET:
		case AF_INET6:
			ret = parse_inet(h, ino, nino, out, max, n);
			break;
		case AF_UNIX:
			ret = parse_unix(h, ino, nino, out, max, n);
			break;
		default:
			ret = -EBADMSG;
		}
		if (ret)
			return ret;
		step = NLMSG_ALIGN(h->nlmsg_len);
		step = step > left ? left : step;
		p += step;
		left -= step;
	}
	return left ? -EBADMSG : 0; /* a partial header */
}

/* One dump (req, reqlen bytes after the header) read to its end. */
static int dump(int fd, const void *req, size_t reqlen, const unsigned long long *ino,
		size_t nino, struct procfs_listener *out, size_t max, size_t *n)
{
	struct {
		struct nlmsghdr h;
		union {
			struct inet_diag_req_v2 inet;
			struct unix_diag_req unx;
		} r;
	} msg = {
		.h = { .nlmsg_len = NLMSG_LENGTH(reqlen), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	size_t entries = 0;
	char *buf;
	int ret = 0;

	memcpy(&msg.r, req, reqlen);
	if (sendto(fd, &msg, msg.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	buf = malloc(RECV_BYTES);
	if (!buf)
		return -ENOMEM;
	while (!ret) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t got = recvfrom(fd, buf, RECV_BYTES, 0, (struct sockaddr *)&from, &fl);

		if (got < 0) {
			ret = errno == EINTR ? 0 : -errno;
			continue;
		}
		if (from.nl_pid) /* not the kernel's */
			continue;
		ret = sockdiag__parse(buf, (size_t)got, ino, nino, out, max, n, &entries);
		if (!ret && entries > PROCFS_LINES_MAX)
			ret = -E2BIG;
	}
	free(buf);
	return ret < 0 ? ret : 0;
}

int sockdiag__listeners(int fd, const unsigned long long *ino, size_t nino,
			struct procfs_listener *out, size_t max, size_t *n)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct unix_diag_req u = {
		.sdiag_family = AF_UNIX, .udiag_states = 1 << TCP_LISTEN,
		.udiag_show = UDIAG_SHOW_NAME,
	};
	size_t i;
	int ret;

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		struct inet_diag_req_v2 r = {
			.sdiag_family = families[i], .sdiag_protocol = IPPROTO_TCP,
			.idiag_states = 1 << TCP_LISTEN,
		};

		if ((ret = dump(fd, &r, sizeof(r), ino, nino, out, max, n)))
			return ret;
	}
	return dump(fd, &u, sizeof(u), ino, nino, out, max, n);
}
