// SPDX-License-Identifier: BSD-2-Clause
/*
 * sock_diag dumps (user/discover/sockdiag.c): datagrams built here, well
 * and badly formed, parsed into listeners; then the kernel's own answer for
 * a process in this network namespace and for one in a namespace of its
 * own (entered with setns: needs root, else SKIPPED).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "discover/procfs.h"
#include "discover/sockdiag.h"

/* A datagram under construction. */
struct dgram {
	_Alignas(struct nlmsghdr) unsigned char buf[4096];
	size_t len;
};

static struct nlmsghdr *put(struct dgram *d, __u16 type, const void *payload, size_t plen)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(d->buf + d->len);

	assert_true(d->len + NLMSG_SPACE(plen) <= sizeof(d->buf));
	memset(h, 0, NLMSG_SPACE(plen));
	h->nlmsg_len = NLMSG_LENGTH(plen);
	h->nlmsg_type = type;
	memcpy(NLMSG_DATA(h), payload, plen);
	d->len += NLMSG_SPACE(plen);
	return h;
}

static void put_inet(struct dgram *d, int family, const char *addr, unsigned port, __u8 state,
		     __u32 inode)
{
	struct inet_diag_msg m = { .idiag_family = family, .idiag_state = state,
				   .idiag_inode = inode };

	m.id.idiag_sport = htons(port);
	assert_int_equal(inet_pton(family, addr, m.id.idiag_src), 1);
	put(d, SOCK_DIAG_BY_FAMILY, &m, sizeof(m));
}

/* A unix_diag_msg with a name attribute of nlen bytes (none when name is NULL). */
static void put_unix(struct dgram *d, __u8 state, __u32 inode, const char *name, size_t nlen,
		     int rta_len_delta)
{
	unsigned char p[512] = {};
	struct unix_diag_msg *m = (struct unix_diag_msg *)p;
	struct rtattr *a = (struct rtattr *)(m + 1);
	size_t plen = sizeof(*m);

	m->udiag_family = AF_UNIX;
	m->udiag_state = state;
	m->udiag_ino = inode;
	if (name) {
		a->rta_type = UNIX_DIAG_NAME;
		a->rta_len = (unsigned short)(RTA_LENGTH(nlen) + rta_len_delta);
		memcpy(RTA_DATA(a), name, nlen);
		plen += RTA_SPACE(nlen);
	}
	put(d, SOCK_DIAG_BY_FAMILY, p, plen);
}

static void put_done(struct dgram *d)
{
	int zero = 0;

	put(d, NLMSG_DONE, &zero, sizeof(zero));
}

static const unsigned long long inodes[] = { 100, 200, 300 };

struct parsed {
	int ret;
	size_t n, entries;
	struct procfs_listener l[4];
};

static struct parsed parse(const struct dgram *d, size_t len)
{
	struct parsed p = {};

	p.ret = sockdiag__parse(d->buf, len, inodes, 3, p.l, 4, &p.n, &p.entries);
	return p;
}

static void test_well_formed(void **state)
{
	struct dgram d = {};
	struct parsed p;

	(void)state;
	put_inet(&d, AF_INET, "127.0.0.1", 8000, TCP_LISTEN, 100);
	put_inet(&d, AF_INET6, "::1", 443, TCP_LISTEN, 200);
	put_inet(&d, AF_INET, "10.0.0.1", 80, TCP_LISTEN, 999);   /* another process's */
	put_inet(&d, AF_INET, "10.0.0.1", 81, TCP_ESTABLISHED, 300); /* not listening */
	p = parse(&d, d.len);
	assert_int_equal(p.ret, 0); /* no NLMSG_DONE yet: more to come */
	assert_int_equal(p.entries, 4);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.l[0].inode, 100);
	assert_string_equal(p.l[0].addr, "127.0.0.1:8000");
	assert_int_equal(p.l[1].inode, 200);
	assert_string_equal(p.l[1].addr, "[::1]:443");

	memset(&d, 0, sizeof(d));
	put_unix(&d, TCP_LISTEN, 100, "/run/app.sock", 13, 0);
	put_unix(&d, TCP_LISTEN, 200, "\0abstract", 9, 0);
	put_unix(&d, TCP_LISTEN, 300, "/tmp/a\033[2Jb\xc3\xa9", 13, 0);
	put_done(&d);
	put_unix(&d, TCP_LISTEN, 100, "/after/done", 11, 0); /* never read */
	p = parse(&d, d.len);
	assert_int_equal(p.ret, 1);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.l[0].addr, "unix:/run/app.sock");
	assert_string_equal(p.l[1].addr, "unix:@abstract");
	assert_string_equal(p.l[2].addr, "unix:/tmp/a?[2Jb??");

	/* an unnamed socket; a name whose attribute claims more than the message holds */
	memset(&d, 0, sizeof(d));
	put_unix(&d, TCP_LISTEN, 100, NULL, 0, 0);
	put_unix(&d, TCP_LISTEN, 200, "/x", 2, 200);
	p = parse(&d, d.len);
	assert_int_equal(p.ret, 0);
	assert_int_equal(p.n, 2);
	assert_string_equal(p.l[0].addr, "unix:");
	assert_string_equal(p.l[1].addr, "unix:");
}

/* More matches than room: the first max written, all counted. */
static void test_more_than_max(void **state)
{
	struct dgram d = {};
	struct parsed p;
	int i;

	(void)state;
	for (i = 0; i < 6; i++)
		put_inet(&d, AF_INET, "127.0.0.1", 8000 + i, TCP_LISTEN, 100);
	p = parse(&d, d.len);
	assert_int_equal(p.ret, 0);
	assert_int_equal(p.n, 6);
	assert_string_equal(p.l[3].addr, "127.0.0.1:8003");
}

static void test_malformed(void **state)
{
	struct nlmsgerr e = { .error = -ENOENT };
	struct inet_diag_msg m = { .idiag_family = AF_INET, .idiag_state = TCP_LISTEN };
	struct dgram d = {};
	struct nlmsghdr *h;
	__u8 family = AF_PACKET;

	(void)state;
	/* an error message: its errno */
	put(&d, NLMSG_ERROR, &e, sizeof(e));
	assert_int_equal(parse(&d, d.len).ret, -ENOENT);
	/* an error with no errno, or one out of range */
	memset(&d, 0, sizeof(d));
	e.error = 0;
	put(&d, NLMSG_ERROR, &e, sizeof(e));
	assert_int_equal(parse(&d, d.len).ret, -EBADMSG);
	memset(&d, 0, sizeof(d));
	e.error = -100000;
	put(&d, NLMSG_ERROR, &e, sizeof(e));
	assert_int_equal(parse(&d, d.len).ret, -EBADMSG);
	/* an error too short for its errno */
	memset(&d, 0, sizeof(d));
	put(&d, NLMSG_ERROR, &e, 2);
	assert_int_equal(parse(&d, d.len).ret, -EBADMSG);
	/* an entry shorter than inet_diag_msg */
	memset(&d, 0, sizeof(d));
	put(&d, SOCK_DIAG_BY_FAMILY, &m, sizeof(m) - 1);
	assert_int_equal(parse(&d, d.len).ret, -EBADMSG);
	/* a family that was not asked for, an empty entry, another type */
	memset(&d, 0, sizeof(d));
	put(&d, SOCK_DIAG_BY_FAMILY, &family, 1);
	assert_int_equal(parse(&d, d.len).ret, -EBADMSG);
	memset(&d, 0, sizeof(d));
	put(&d, SOCK_DIAG_BY_FAMILY, &m, 0);
	assert_int_equal(parse(&d, d.len).ret, -EBADMSG);
	memset(&d, 0, sizeof(d));
	put(&d, RTM_NEWLINK, &m, sizeof(m));
	assert_int_equal(parse(&d, d.len).ret, -EBADMSG);
	/* cut short: in the header, in the entry; a length beyond the datagram */
	memset(&d, 0, sizeof(d));
	put_inet(&d, AF_INET, "127.0.0.1", 1, TCP_LISTEN, 100);
	assert_int_equal(parse(&d, 7).ret, -EBADMSG);
	assert_int_equal(parse(&d, NLMSG_LENGTH(4)).ret, -EBADMSG);
	h = (struct nlmsghdr *)d.buf;
	h->nlmsg_len = 1u << 30;
	assert_int_equal(parse(&d, d.len).ret, -EBADMSG);
	h->nlmsg_len = 3; /* shorter than a header */
	assert_int_equal(parse(&d, d.len).ret, -EBADMSG);
	/* nothing */
	assert_int_equal(parse(&d, 0).ret, 0);
}

static void test_format(void **state)
{
	unsigned char v4[4] = { 192, 168, 1, 2 }, v6[16] = { 0xfe, 0x80, [15] = 1 };
	char out[72], tiny[6];

	(void)state;
	sockdiag__format(AF_INET, v4, 65535, out, sizeof(out));
	assert_string_equal(out, "192.168.1.2:65535");
	sockdiag__format(AF_INET6, v6, 0, out, sizeof(out));
	assert_string_equal(out, "[fe80::1]:0");
	sockdiag__format(AF_INET, v4, 80, tiny, sizeof(tiny));
	assert_string_equal(tiny, "192.1");
	sockdiag__unix_addr("abc", 3, tiny, sizeof(tiny));
	assert_string_equal(tiny, "unix:");
}

/* A listening TCP socket of this process on addr: its inode. */
static unsigned long long listening_socket(in_addr_t addr, int *fd, unsigned *port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(addr) };
	socklen_t len = sizeof(in);
	struct stat sb;

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&in, sizeof(in)) ||
	    getsockname(*fd, (struct sockaddr *)&in, &len) || listen(*fd, 4) || fstat(*fd, &sb))
		return 0;
	*port = ntohs(in.sin_port);
	return sb.st_ino;
}

static void test_kernel_dump(void **state)
{
	struct procfs_listener l[4];
	unsigned long long ino;
	unsigned port;
	char want[32];
	size_t n = 0;
	int s, fd;

	(void)state;
	ino = listening_socket(INADDR_LOOPBACK, &s, &port);
	assert_true(ino);
	fd = sockdiag__open(getpid());
	assert_true(fd >= 0);
	assert_int_equal(sockdiag__listeners(fd, &ino, 1, l, 4, &n), 0);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	assert_string_equal(l[0].addr, want);
	close(s);
	n = 0;
	assert_int_equal(sockdiag__listeners(fd, &ino, 1, l, 4, &n), 0);
	assert_int_equal(n, 0);
	close(fd);
}

/*
 * A child in a network namespace of its own listens: its socket is in the
 * dump of its namespace, not in ours, and this thread is back in its own
 * namespace after.
 */
static void test_other_namespace(void **state)
{
	struct { unsigned long long ino; unsigned port; } got = {};
	struct procfs_listener l[4];
	struct stat before, after;
	char want[32];
	size_t n = 0, m = 0;
	int ready[2], fd, ours;
	pid_t kid;

	(void)state;
	if (geteuid()) {
		printf("SKIPPED: test_other_namespace: needs root (unshare, setns)\n");
		skip();
	}
	assert_int_equal(pipe(ready), 0);
	kid = fork();
	assert_true(kid >= 0);
	if (!kid) {
		int s;

		if (unshare(CLONE_NEWNET))
			_exit(1);
		got.ino = listening_socket(INADDR_ANY, &s, &got.port);
		if (!got.ino || write(ready[1], &got, sizeof(got)) != sizeof(got))
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &got, sizeof(got)), sizeof(got));
	close(ready[0]);
	assert_int_equal(stat("/proc/thread-self/ns/net", &before), 0);
	fd = sockdiag__open(kid);
	assert_int_equal(stat("/proc/thread-self/ns/net", &after), 0);
	ours = sockdiag__open(getpid());
	assert_true(fd >= 0 && ours >= 0);
	assert_int_equal(sockdiag__listeners(fd, &got.ino, 1, l, 4, &n), 0);
	assert_int_equal(sockdiag__listeners(ours, &got.ino, 1, l + 1, 3, &m), 0);
	close(fd);
	close(ours);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	assert_true(before.st_dev == after.st_dev && before.st_ino == after.st_ino);
	assert_int_equal(n, 1);
	assert_int_equal(m, 0);
	snprintf(want, sizeof(want), "0.0.0.0:%u", got.port);
	assert_string_equal(l[0].addr, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_well_formed),
		cmocka_unit_test(test_more_than_max),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_kernel_dump),
		cmocka_unit_test(test_other_namespace),
	};

	return cmocka_run_group_tests_name("sockdiag", tests, NULL, NULL);
}
