// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "attach/probe.h"
#include "daemon/decoder.h"
#include "daemon/privsep.h"
#include "daemon/sandbox.h"
#include "resolve/elfcache.h"
#include "resolve/target.h"
#include "sink/jsonlog.h"
#include "util/clock.h"
#include "util/log.h"

#define DRAIN_BUDGET 256 /* records per pass of the child's loop */
#define CHILD_FILES  16  /* interpreter files a child keeps parsed (resolve/elfcache.h) */

enum msg_type {
	MSG_ADD = 1, MSG_DROP, MSG_REOPEN, MSG_FINISH,
	MSG_RESOLVE, /* parent → child: resolve loc from the file descriptor that comes with it */
	MSG_CHECK,   /* parent → child: re-read t's state, has it imported starlette? */
	MSG_REPLY,   /* child → parent: to MSG_RESOLVE or MSG_CHECK */
};

#define REPLY_MS 2000 /* how long the parent waits for a reply */

struct msg {
	__u32 type;   /* enum msg_type */
	__s32 pid;    /* MSG_DROP */
	__u32 seq;    /* MSG_RESOLVE and MSG_CHECK, and their MSG_REPLY */
	__s32 status; /* MSG_REPLY: 0 or -errno */
	__s32 imports; /* MSG_REPLY to MSG_CHECK: 1, 0 or -errno */
	char why[512]; /* MSG_REPLY */
	struct target_loc loc; /* MSG_RESOLVE */
	struct target t; /* MSG_ADD, MSG_CHECK, MSG_REPLY */
};

struct privsep {
	int sock;
	int files;    /* the child asks for records files here (struct file_msg) */
	pid_t child;
	__u32 seq;    /* the last request's */
	struct msg *m; /* one message buffer: a request or its reply */
	const char *path; /* the records file (-j), or NULL */
	unsigned keep;
};

/* The child's request for a records file descriptor, and the answer (with the fd). */
struct file_msg {
	__u32 rotate; /* rotate the files first */
	__s32 status; /* answer: 0 or -errno */
};

/* Header only, or header and target: one datagram, never split. */
static int send_msg(struct privsep *ps, const struct msg *m, size_t len)
{
	ssize_t n;

	do
		n = send(ps->sock, m, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		pr_warn("the decoding process: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

int privsep__add(struct privsep *ps, const struct target *t)
{
	struct msg *m = ps->m;

	memset(m, 0, offsetof(struct msg, t));
	m->type = MSG_ADD;
	m->pid = t->pid;
	m->t = *t;
	return send_msg(ps, m, sizeof(*m));
}

/* One datagram with a descriptor (or -1). */
static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/*
 * The reply to request seq, into ps->m: 0, -ETIMEDOUT, or -EPIPE when the
 * child is gone. Replies to earlier requests (that timed out) are dropped.
 */
static int wait_reply(struct privsep *ps, __u32 seq)
{
	long long deadline = clock__now_ms() + REPLY_MS;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = ps->sock, .events = POLLIN },
					 { .fd = ps->files, .events = POLLIN } };
		long long left = deadline - clock__now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(pfd, 2, (int)left) < 0 && errno != EINTR)
			return -errno;
		/* the child may be waiting for a records file before it answers */
		if (pfd[1].revents)
			privsep__serve_files(ps);
		n = recv(ps->sock, ps->m, sizeof(*ps->m), MSG_DONTWAIT);
		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if ((size_t)n == sizeof(*ps->m) && ps->m->type == MSG_REPLY && ps->m->seq == seq)
			return 0;
	}
}

/*
 * The child's target, as the parent takes it: strings terminated, layout
 * pointing into itself, the pid asked for, no descriptor. What it says of
 * the file and the process is the child's reading of untrusted input, and
 * only ever aims a probe at that process and that file.
 */
static struct target *take_target(const struct msg *m, pid_t pid)
{
	struct target *t = target__dup(&m->t);

	if (t)
		t->pid = pid;
	return t;
}

struct target *privsep__resolve(struct privsep *ps, const struct target_loc *loc, int fd,
				char *why, size_t whysz)
{
	struct msg *m = ps->m;
	int err;

	memset(m, 0, sizeof(*m));
	m->type = MSG_RESOLVE;
	m->seq = ++ps->seq;
	m->loc = *loc;
	err = send_with_fd(ps->sock, m, sizeof(*m), fd);
	if (!err)
		err = wait_reply(ps, ps->seq);
	if (err) {
		snprintf(why, whysz, "pid %d: the decoding process did not resolve it: %s", loc->pid,
			 strerror(-err));
		errno = -err;
		return NULL;
	}
	m->why[sizeof(m->why) - 1] = 0;
	if (m->status) {
		snprintf(why, whysz, "%s", m->why);
		errno = m->status < 0 && m->status > -4096 ? -m->status : EINVAL;
		return NULL;
	}
	return take_target(m, loc->pid);
}

int privsep__check(struct privsep *ps, struct target *t, char *why, size_t whysz)
{
	struct msg *m = ps->m;
	struct target *fresh;
	int err, fd = t->fd;

	memset(m, 0, offsetof(struct msg, t));
	m->type = MSG_CHECK;
	m->seq = ++ps->seq;
	m->t = *t;
	err = send_msg(ps, m, sizeof(*m));
	if (!err)
		err = wait_reply(ps, ps->seq);
	if (err) {
		snprintf(why, whysz, "the decoding process did not check it: %s", strerror(-err));
		return err;
	}
	m->why[sizeof(m->why) - 1] = 0;
	snprintf(why, whysz, "%s", m->why);
	fresh = take_target(m, t->pid);
	if (!fresh)
		return -ENOMEM;
	/* what it re-read: -O and the watch slot; the file stays the parent's */
	t->optimize = fresh->optimize;
	t->bpf.keyerror_type = fresh->bpf.keyerror_type;
	t->assert_ok = fresh->assert_ok;
	t->watch_ok = fresh->watch_ok;
	t->watch_addr = fresh->watch_addr;
	memcpy(t->assert_why, fresh->assert_why, sizeof(t->assert_why));
	memcpy(t->watch_why, fresh->watch_why, sizeof(t->watch_why));
	target__free(fresh);
	t->fd = fd;
	return m->imports >= -4095 && m->imports <= 1 ? m->imports : -EINVAL;
}

int privsep__poll(struct privsep *ps)
{
	for (;;) {
		ssize_t n = recv(ps->sock, ps->m, sizeof(*ps->m), MSG_DONTWAIT);

		if (n == 0)
			return 1; /* the child is gone */
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : 1;
		/* a late reply to a request that timed out: dropped */
	}
}

int privsep__drop(struct privsep *ps, pid_t pid)
{
	struct msg m = { .type = MSG_DROP, .pid = pid };

	return send_msg(ps, &m, offsetof(struct msg, t));
}

int privsep__reopen(struct privsep *ps)
{
	struct msg m = { .type = MSG_REOPEN };

	return send_msg(ps, &m, offsetof(struct msg, t));
}

int privsep__fd(const struct privsep *ps)
{
	return ps->sock;
}

/* One datagram and the descriptor that came with it (-1 for none). */
static ssize_t recv_with_fd(int sock, void *buf, size_t len, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	*fd = -1;
	if (n < 0)
		return n;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return n;
}

/*
 * In the child, the records file's opener (jsonlog_files): the parent opens
 * (and rotates) it and sends the descriptor; the child opens no path.
 */
static int child_open_file(void *ctx, bool rotate, int *fd)
{
	int sock = (int)(intptr_t)ctx;
	struct file_msg m = { .rotate = rotate };
	long long deadline = clock__now_ms() + REPLY_MS;

	*fd = -1;
	if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m))
		return -errno;
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		long long left = deadline - clock__now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		n = recv_with_fd(sock, &m, sizeof(m), fd);
		if (n == 0)
			return -EPIPE;
		if (n == (ssize_t)sizeof(m))
			break;
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	if (m.status || *fd < 0) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return m.status ? m.status : -EBADF;
	}
	return 0;
}

int privsep__serve_files(struct privsep *ps)
{
	struct file_msg m;
	int fd, n = 0, dummy;

	while (recv_with_fd(ps->files, &m, sizeof(m), &dummy) == (ssize_t)sizeof(m)) {
		if (dummy >= 0)
			close(dummy); /* the child sends none */
		fd = -1;
		m.status = ps->path ? jsonlog__open_path(ps->path, ps->keep, m.rotate, &fd, NULL, 0)
				    : -ENOENT;
		if (m.status)
			pr_warn("cannot %s the records file %s: %s\n", m.rotate ? "rotate" : "reopen",
				ps->path ? ps->path : "(none)", strerror(-m.status));
		send_with_fd(ps->files, &m, sizeof(m), fd);
		if (fd >= 0)
			close(fd);
		n++;
	}
	return n;
}

int privsep__files_fd(const struct privsep *ps)
{
	return ps->files;
}

/*
 * MSG_RESOLVE and MSG_CHECK, in the child: the parsing of what a target
 * controls (its interpreter file, its memory) happens here, sandboxed.
 */
static void child_request(int sock, struct msg *m, int fd, struct elfcache *files)
{
	struct target *t = NULL;
	char why[sizeof(m->why)] = "";

	if (m->type == MSG_RESOLVE) {
		m->loc.interp[sizeof(m->loc.interp) - 1] = 0;
		t = fd >= 0 ? target__resolve(&m->loc, fd, files, why, sizeof(why)) : NULL;
		m->status = t ? 0 : fd < 0 ? -EBADF : -errno;
	} else {
		t = target__dup(&m->t);
		m->status = t ? 0 : -ENOMEM;
		if (t) {
			target__refresh(t);
			m->imports = target__imports(t, "starlette");
		}
	}
	m->type = MSG_REPLY;
	snprintf(m->why, sizeof(m->why), "%s", why);
	if (t)
		m->t = *t;
	target__free(t);
	send(sock, m, sizeof(*m), MSG_NOSIGNAL);
}

/*
 * The child: every message waiting. 1 on finish (or the parent gone), 0,
 * -errno. files: the interpreter files it parsed.
 */
static int child_messages(struct decoder *d, int sock, struct msg *m, struct elfcache *files)
{
	for (;;) {
		int fd;
		ssize_t n = recv_with_fd(sock, m, sizeof(*m), &fd);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return 1; /* the parent is gone: its links closed with it */
		if ((size_t)n < offsetof(struct msg, t) ||
		    ((m->type == MSG_RESOLVE || m->type == MSG_CHECK) && (size_t)n != sizeof(*m))) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (m->type == MSG_RESOLVE || m->type == MSG_CHECK) {
			child_request(sock, m, fd, files);
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (!d) /* the resolver: nothing else */
			return m->type == MSG_FINISH;
		switch (m->type) {
		case MSG_ADD:
			if ((size_t)n == sizeof(*m) && decoder__add(d, &m->t))
				pr_warn("pid %d: not decoded: out of memory or too many "
					"targets\n", m->t.pid);
			break;
		case MSG_DROP:
			decoder__drain(d, 0); /* its last records are still its own */
			decoder__drop(d, m->pid);
			break;
		case MSG_REOPEN:
			decoder__reopen(d);
			break;
		case MSG_FINISH:
			return 1;
		}
	}
}

/* The child is sandboxed and serving: the parent goes on (privsep__start waits for it). */
static void child_ready(int sock, struct msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = MSG_REPLY;
	send(sock, m, sizeof(*m), MSG_NOSIGNAL);
}

/* Sandbox, then decode until told to finish. The exit status. */
static int child_run(struct decoder *d, struct probe *p, int sock, int files_sock)
{
	struct jsonlog_files files = { .open = child_open_file,
				       .ctx = (void *)(intptr_t)files_sock };
	struct elfcache *parsed = elfcache__new(CHILD_FILES);
	struct msg *m = malloc(sizeof(*m));
	__u64 cnt[ST_NCOUNTERS];
	bool more = false;
	int err, status;

	if (!m || !parsed) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		free(m);
		elfcache__free(parsed);
		return 1;
	}
	prctl(PR_SET_NAME, "st-decoder", 0, 0, 0);
	decoder__delegate_files(d, &files);
	probe__counters(p, cnt); /* libbpf reads the CPU count from /sys once: now */
	tzset(); /* glibc reads /etc/localtime once: now, not at the first record */
	sandbox__unprivileged(); /* while CAP_SETUID is there */
	err = sandbox__drop_caps();
	if (err) {
		fprintf(stderr, "sessiontrace: the decoding process could not drop its "
			"capabilities: %s\n", strerror(-err));
		free(m);
		elfcache__free(parsed);
		return 1;
	}
	status = decoder__start_metrics(d);
	if (!status && (err = sandbox__seccomp())) {
		fprintf(stderr, "sessiontrace: the decoding process could not load its seccomp "
			"filter: %s\n", strerror(-err));
		status = 1;
	}
	if (!status)
		child_ready(sock, m);
	while (!status) {
		struct pollfd pfd[2] = {
			{ .fd = sock, .events = POLLIN },
			{ .fd = probe__epoll_fd(p), .events = POLLIN },
		};

		/* records come without wakeups: look every ST_RB_DRAIN_MS */
		if (poll(pfd, 2, more ? 0 : (decoder__count(d) ? ST_RB_DRAIN_MS : -1)) < 0 &&
		    errno != EINTR) {
			pr_warn("poll: %s\n", strerror(errno));
			status = 1;
			break;
		}
		/* messages first: a target is known before any of its records */
		err = child_messages(d, sock, m, parsed);
		if (err) {
			if (err < 0)
				pr_warn("the tracer's socket: %s\n", strerror(-err));
			break;
		}
		decoder__predict_due(d);
		err = decoder__drain(d, DRAIN_BUDGET);
		if (err < 0 && err != -EINTR) {
			pr_warn("ring buffer: %s\n", strerror(-err));
			status = 1;
			break;
		}
		more = err == 1;
	}
	if (!status)
		decoder__finish(d);
	free(m);
	elfcache__free(parsed);
	return status;
}

/* The resolver child: sandboxed, it answers MSG_RESOLVE and MSG_CHECK until told to finish. */
static int resolver_run(int sock)
{
	struct elfcache *files = elfcache__new(CHILD_FILES);
	struct msg *m = malloc(sizeof(*m));
	int err;

	if (!m || !files) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		free(m);
		elfcache__free(files);
		return 1;
	}
	prctl(PR_SET_NAME, "st-resolver", 0, 0, 0);
	err = sandbox__enter();
	if (err) {
		fprintf(stderr, "sessiontrace: the resolving process could not enter its sandbox: "
			"%s\n", strerror(-err));
		free(m);
		elfcache__free(files);
		return 1;
	}
	child_ready(sock, m);
	do
		err = child_messages(NULL, sock, m, files);
	while (!err);
	free(m);
	elfcache__free(files);
	return err < 0;
}

struct privsep *privsep__start_resolver(void)
{
	return privsep__start(NULL, NULL, NULL, 0);
}

struct privsep *privsep__start(struct decoder *d, struct probe *p, const char *records,
			       unsigned keep)
{
	struct privsep *ps = calloc(1, sizeof(*ps));
	int sv[2], fv[2] = { -1, -1 }, err;

	if (ps && !(ps->m = calloc(1, sizeof(*ps->m)))) {
		free(ps);
		ps = NULL;
	}
	if (!ps) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		return NULL;
	}
	ps->path = records;
	ps->keep = keep;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) ||
	    (d && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fv))) {
		fprintf(stderr, "sessiontrace: socketpair: %s\n", strerror(errno));
		free(ps->m);
		free(ps);
		return NULL;
	}
	fflush(NULL); /* nothing buffered is written twice */
	ps->child = fork();
	if (ps->child < 0) {
		fprintf(stderr, "sessiontrace: fork: %s\n", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		close(fv[0]);
		close(fv[1]);
		free(ps->m);
		free(ps);
		return NULL;
	}
	if (ps->child == 0) {
		int status;

		close(sv[0]);
		if (fv[0] >= 0)
			close(fv[0]);
		status = d ? child_run(d, p, sv[1], fv[1]) : resolver_run(sv[1]);
		fflush(NULL);
		/* no cleanup of the parent's state: it is the parent's */
		_exit(status);
	}
	close(sv[1]);
	if (fv[1] >= 0)
		close(fv[1]);
	ps->sock = sv[0];
	ps->files = fv[0];
	/* sandboxed and serving before anything is said or attached for it */
	if ((err = wait_reply(ps, 0))) {
		fprintf(stderr, "sessiontrace: the %s process did not start: %s\n",
			d ? "decoding" : "resolving", strerror(-err));
		privsep__free(ps); /* killed if it still runs */
		return NULL;
	}
	decoder__free(d);
	return ps;
}

int privsep__reap(struct privsep *ps)
{
	int status;

	while (waitpid(ps->child, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	ps->child = 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	fprintf(stderr, "sessiontrace: the decoding process died: %s\n",
		strsignal(WTERMSIG(status)));
	return 1;
}

int privsep__finish(struct privsep *ps)
{
	struct msg m = { .type = MSG_FINISH };

	send_msg(ps, &m, offsetof(struct msg, t));
	return privsep__reap(ps);
}

void privsep__free(struct privsep *ps)
{
	if (!ps)
		return;
	if (ps->child > 0) { /* not finished: do not leave it running */
		kill(ps->child, SIGKILL);
		waitpid(ps->child, NULL, 0);
	}
	close(ps->sock);
	if (ps->files >= 0)
		close(ps->files);
	free(ps->m);
	free(ps);
}
