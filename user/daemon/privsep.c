// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "attach/probe.h"
#include "daemon/decoder.h"
#include "daemon/privsep.h"
#include "daemon/sandbox.h"
#include "resolve/target.h"
#include "util/log.h"

#define DRAIN_BUDGET 256 /* records per pass of the child's loop */

enum msg_type { MSG_ADD = 1, MSG_DROP, MSG_REOPEN, MSG_FINISH };

struct msg {
	__u32 type;  /* enum msg_type */
	__s32 pid;   /* MSG_DROP */
	struct target t; /* MSG_ADD */
};

struct privsep {
	int sock;
	pid_t child;
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
	struct msg *m = malloc(sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	m->type = MSG_ADD;
	m->pid = t->pid;
	m->t = *t;
	err = send_msg(ps, m, sizeof(*m));
	free(m);
	return err;
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

/* The child: every message waiting. 1 on finish (or the parent gone), 0, -errno. */
static int child_messages(struct decoder *d, int sock, struct msg *m)
{
	for (;;) {
		ssize_t n = recv(sock, m, sizeof(*m), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return 1; /* the parent is gone: its links closed with it */
		if ((size_t)n < offsetof(struct msg, t))
			continue;
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

/* Sandbox, then decode until told to finish. The exit status. */
static int child_run(struct decoder *d, struct probe *p, int sock)
{
	struct msg *m = malloc(sizeof(*m));
	__u64 cnt[ST_NCOUNTERS];
	bool more = false;
	int err, status;

	if (!m) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		return 1;
	}
	prctl(PR_SET_NAME, "st-decoder", 0, 0, 0);
	err = sandbox__drop_caps();
	if (err) {
		fprintf(stderr, "sessiontrace: the decoding process could not drop its "
			"capabilities: %s\n", strerror(-err));
		free(m);
		return 1;
	}
	probe__counters(p, cnt); /* libbpf reads the CPU count from /sys once: now */
	status = decoder__start_metrics(d);
	if (!status && (err = sandbox__seccomp())) {
		fprintf(stderr, "sessiontrace: the decoding process could not load its seccomp "
			"filter: %s\n", strerror(-err));
		status = 1;
	}
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
		err = child_messages(d, sock, m);
		if (err) {
			if (err < 0)
				pr_warn("the tracer's socket: %s\n", strerror(-err));
			break;
		}
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
	return status;
}

struct privsep *privsep__start(struct decoder *d, struct probe *p)
{
	struct privsep *ps = calloc(1, sizeof(*ps));
	int sv[2];

	if (!ps) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		fprintf(stderr, "sessiontrace: socketpair: %s\n", strerror(errno));
		free(ps);
		return NULL;
	}
	fflush(NULL); /* nothing buffered is written twice */
	ps->child = fork();
	if (ps->child < 0) {
		fprintf(stderr, "sessiontrace: fork: %s\n", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(ps);
		return NULL;
	}
	if (ps->child == 0) {
		int status;

		close(sv[0]);
		status = child_run(d, p, sv[1]);
		fflush(NULL);
		/* no cleanup of the parent's state: it is the parent's */
		_exit(status);
	}
	close(sv[1]);
	ps->sock = sv[0];
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
	free(ps);
}
