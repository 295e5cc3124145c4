// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "attach/probe.h"
#include "daemon/targets.h"
#include "daemon/tracer.h"
#include "discover/identity.h"
#include "daemon/decoder.h"
#include "daemon/privsep.h"
#include "daemon/sandbox.h"
#include "discover/watcher.h"
#include "resolve/target.h"
#include "util/clock.h"
#include "util/log.h"

#define DRAIN_BUDGET  256    /* records per pass of the event loop (~20 ms of work) */
#define LOST_CHECK_MS 1000   /* discovery: how often the lost process events are counted */
#define RESCAN_MS     60000  /* discovery: how often /proc is rescanned for the unseen */

struct tracer {
	const struct tracer_opts *o;
	bool discover;                   /* no -p: watch for servers */
	struct target *given[TRACER_MAX_PIDS]; /* -p targets until attached */
	struct probe *probe;
	struct targets *targets;
	struct watcher *watcher;
	struct decoder *dec;             /* -p: the decoder, in this process */
	struct privsep *ps;              /* discovery: the decoder's process */
	int sfd;                         /* signalfd: SIGINT, SIGTERM, SIGHUP */
	long long next_check_ms;         /* discovery: next look at the lost-events counter */
	long long next_scan_ms;          /* discovery: next rescan of /proc */
	__u64 procs_lost;                /* process events lost, as of the last look */
	struct pollfd pfd[TARGETS_MAX + 4]; /* signals, records or processes, decoder and its
					     * files, pidfds */
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's warnings include whole verifier logs: shown with -v only. */
	if (log__level() < LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * The watch trigger holds a descriptor per thread of each target: the soft
 * limit on open files goes up to the hard one (systemd's default soft limit
 * is 1024).
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			pr_debug("cannot raise the open files limit: %s\n", strerror(errno));
	}
}

/* Tell the decoder about t, wherever it runs. */
static int decoder_add(struct tracer *tr, const struct target *t)
{
	return tr->ps ? privsep__add(tr->ps, t) : decoder__add(tr->dec, t);
}

static void decoder_drop(struct tracer *tr, pid_t pid)
{
	if (tr->ps)
		privsep__drop(tr->ps, pid);
	else
		decoder__drop(tr->dec, pid);
}

/* Decoder first, then the probe: no record of t comes before t is known. */
static int attach_once(struct tracer *tr, struct target *t, char *why, size_t whysz)
{
	pid_t pid = t->pid;
	int ret = decoder_add(tr, t);

	if (ret) {
		snprintf(why, whysz, "pid %d: not traced: %s", pid, strerror(-ret));
		return ret;
	}
	ret = targets__add(tr->targets, t, why, whysz);
	if (ret)
		decoder_drop(tr, pid);
	return ret;
}

/*
 * Attach t. Whether its watchpoint can be set shows only now (debug
 * registers taken, no breakpoint events, a policy): -P auto then takes the
 * fallback probe where --allow-fallback allows it (target__watch_failed).
 * 0, or -errno with one sentence in why.
 */
static int attach(struct tracer *tr, struct target *t, char *why, size_t whysz)
{
	char reason[512];
	int ret = attach_once(tr, t, why, whysz);

	if (!ret || t->bpf.probe != ST_PROBE_WATCH || tr->o->probe != TARGET_PROBE_AUTO ||
	    ret == -ESRCH || targets__count(tr->targets) >= TARGETS_MAX)
		return ret;
	snprintf(reason, sizeof(reason), "no hardware watchpoint: %s", why);
	ret = target__watch_failed(t, reason, tr->o->allow_fallback, why, whysz);
	return ret ? ret : attach_once(tr, t, why, whysz);
}

/* Detach the i-th target and tell the decoder, saying why on stderr. */
static void untrace(struct tracer *tr, int i, const char *why)
{
	pid_t pid = targets__at(tr->targets, i)->t->pid;

	targets__drop(tr->targets, i, why);
	decoder_drop(tr, pid);
}

/* Resolve, choose the probe, attach: 0 when traced, else -errno with err set. */
static int trace_pid(struct tracer *tr, struct target *t, const char *service, char *err,
		     size_t errsz)
{
	int ret = target__choose_probe(t, tr->o->probe, tr->o->kinds, tr->o->allow_fallback, err,
					errsz);

	if (ret)
		return ret;
	target__set_service(t, service);
	identity__of(t->pid, &t->id);
	ret = attach(tr, t, err, errsz);
	if (!ret) /* discovery: the sinks are open and the privileges settled */
		targets__announce(tr->targets, targets__count(tr->targets) - 1);
	return ret;
}

static const char *traced_service(void *ctx, pid_t pid)
{
	struct tracer *tr = ctx;
	int i = targets__index(tr->targets, pid);

	return i < 0 ? NULL : targets__at(tr->targets, i)->t->service;
}

/*
 * pid resolved for discovery: its interpreter file located and opened here,
 * parsed (with its memory) in the decoding child, which holds no
 * CAP_SYS_ADMIN and opens nothing; the probe then goes on that same file.
 */
static struct target *resolve(struct tracer *tr, pid_t pid, char *why, size_t whysz)
{
	struct target_loc loc;
	struct target *t = NULL;
	int fd, err = target__locate(pid, &loc, &fd, why, whysz);

	if (err) {
		errno = -err;
		return NULL;
	}
	t = tr->ps ? privsep__resolve(tr->ps, &loc, fd, why, whysz) :
		     target__resolve(&loc, fd, NULL, why, whysz);
	err = t ? target__own_file(t, fd) : -errno;
	close(fd);
	if (err && t) {
		snprintf(why, whysz, "pid %d: %s", pid, strerror(-err));
		target__free(t);
		t = NULL;
	}
	errno = -err;
	return t;
}

/* Without the decoding child (never in discovery): the same in this process. */
static int imports_here(struct target *t)
{
	target__refresh(t);
	return target__imports(t, "starlette");
}

/*
 * Discovery's check of a Python process that listens: resolved the first
 * time (kept in *state), then checked again (its state re-read: -O and the
 * watch slot are set as it initializes) until it has imported starlette,
 * then traced.
 */
static enum discover_check check(void *ctx, pid_t pid, const char *service, void **state,
				 char *why, size_t whysz)
{
	struct tracer *tr = ctx;
	struct target *t = *state;
	int ret;

	if (!t) {
		t = resolve(tr, pid, why, whysz);
		if (!t)
			return errno == ENOEXEC ? CHECK_NOT_PYTHON :
			       errno == ESRCH ? CHECK_GONE : CHECK_NOT_READY;
		*state = t;
	}
	ret = tr->ps ? privsep__check(tr->ps, t, why, whysz) : imports_here(t);
	if (ret < 0) {
		snprintf(why, whysz, "its interpreter is not initialized yet (%s)", strerror(-ret));
		return CHECK_NOT_READY;
	}
	if (!ret) {
		snprintf(why, whysz, "listens, but has not imported starlette");
		return CHECK_NO_STARLETTE;
	}
	if (trace_pid(tr, t, service, why, whysz))
		return CHECK_REFUSED;
	*state = NULL; /* the registry's now */
	return CHECK_TRACED;
}

static void forget(void *ctx, void *state)
{
	target__free(state);
}

static void forker(void *ctx, pid_t pid)
{
	struct tracer *tr = ctx;

	probe__forker(tr->probe, pid);
}

static void counted(void *ctx, enum discover_check v)
{
	struct tracer *tr = ctx;

	probe__count_check(tr->probe, v);
}

static void on_exec(void *ctx, pid_t pid)
{
	struct tracer *tr = ctx;
	int i = targets__index(tr->targets, pid);

	if (i >= 0)
		untrace(tr, i, "exec'd a new program");
}

static const struct watcher_ops watch_ops = {
	.traced_service = traced_service,
	.check = check,
	.forget = forget,
	.exec = on_exec,
	.forker = forker,
	.counted = counted,
};

static void on_proc(void *ctx, const struct st_proc_event *ev)
{
	struct tracer *tr = ctx;

	watcher__proc_event(tr->watcher, ev);
}

/*
 * Resolve every given target and its probe before touching the kernel: bad
 * input attaches nothing, and only the programs they need are loaded
 * (discovery may meet any interpreter: all of them). 0, or the exit status.
 */
static int resolve_given(struct tracer *tr, unsigned *progs)
{
	const struct tracer_opts *o = tr->o;
	char err[512];
	int i;

	*progs = tr->discover ? PROBE_PROG_ALL : 0;
	if (!o->npids)
		return 0;
	/* the files and memory the targets chose are parsed in a sandboxed child */
	tr->ps = privsep__start_resolver();
	if (!tr->ps)
		return 1;
	for (i = 0; i < o->npids; i++) {
		tr->given[i] = resolve(tr, o->pids[i], err, sizeof(err));
		if (!tr->given[i] || target__choose_probe(tr->given[i], o->probe, o->kinds,
							  o->allow_fallback, err, sizeof(err))) {
			fprintf(stderr, "sessiontrace: %s\n", err);
			return 2;
		}
		*progs |= probe__prog_for(tr->given[i]);
		/* a watchpoint may be refused at attach: what it falls back on */
		if (tr->given[i]->bpf.probe == ST_PROBE_WATCH && o->allow_fallback &&
		    o->probe == TARGET_PROBE_AUTO)
			*progs |= PROBE_PROG_DO_RAISE | PROBE_PROG_RAISE;
	}
	i = privsep__finish(tr->ps);
	privsep__free(tr->ps);
	tr->ps = NULL;
	return i ? 1 : 0;
}

/*
 * With -p: attach every target, then fork the decoding child (the sandbox
 * of discovery's: it reads the targets' memory, decodes, writes the records
 * and serves the metrics). What the parent does from then on (watch the
 * targets exit, open and rotate the records file, close the links) needs
 * only CAP_SYS_PTRACE.
 */
static int start_given(struct tracer *tr)
{
	int i, ret;

	for (i = 0; i < tr->o->npids; i++) {
		char service[128], why[512];

		watcher__service(tr->watcher, tr->given[i]->pid, service, sizeof(service));
		target__set_service(tr->given[i], service);
		identity__of(tr->given[i]->pid, &tr->given[i]->id);
		if (attach(tr, tr->given[i], why, sizeof(why))) {
			fprintf(stderr, "sessiontrace: %s\n", why);
			return 2;
		}
		tr->given[i] = NULL;
	}
	/* before the parent drops CAP_SETUID: the child becomes nobody */
	tr->ps = privsep__start(tr->dec, tr->probe, tr->o->json, tr->o->json_keep);
	if (!tr->ps)
		return 1;
	tr->dec = NULL; /* the child's now */
	if ((ret = sandbox__drop_caps()))
		pr_warn("could not drop capabilities after attaching: %s\n", strerror(-ret));
	/* said once the targets are in the child and the capabilities are dropped */
	for (i = 0; i < targets__count(tr->targets); i++)
		targets__announce(tr->targets, i);
	return 0;
}

/* Fork the decoder off, then watch: servers are attached as they come. */
static int start_discovery(struct tracer *tr)
{
	tr->ps = privsep__start(tr->dec, tr->probe, tr->o->json, tr->o->json_keep);
	if (!tr->ps)
		return 1;
	tr->dec = NULL; /* the child's now */
	/* Watch first, then scan: a server starting in between is not missed. */
	if (probe__watch_processes(tr->probe, on_proc, tr))
		return 1;
	watcher__scan(tr->watcher, false);
	watcher__try(tr->watcher);
	tr->next_check_ms = clock__now_ms() + LOST_CHECK_MS;
	tr->next_scan_ms = clock__now_ms() + RESCAN_MS;
	fprintf(stderr, "sessiontrace: watching for ASGI servers (%d traced now)\n",
		targets__count(tr->targets));
	return 0;
}

/* Load the probe programs, attach the given targets or start watching. */
static int start(struct tracer *tr, unsigned progs)
{
	char err[512];

	if (probe__kernel_check(err, sizeof(err))) {
		fprintf(stderr, "sessiontrace: %s\n", err);
		return 1;
	}
	tr->probe = probe__new(decoder__event, tr->dec, progs, err, sizeof(err));
	if (!tr->probe) {
		fprintf(stderr, "sessiontrace: %s\n", err);
		return 1;
	}
	decoder__set_probe(tr->dec, tr->probe);
	tr->targets = targets__new(tr->probe);
	tr->watcher = watcher__new(&watch_ops, tr);
	if (!tr->targets || !tr->watcher) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		return 1;
	}
	return tr->discover ? start_discovery(tr) : start_given(tr);
}

/*
 * Discovery, now and then: process events lost for want of room in the ring
 * buffer (a burst of execs) mean a rescan of every Python process; one a
 * minute finds those no event told of.
 */
static void rescan(struct tracer *tr)
{
	long long now = clock__now_ms();
	__u64 cnt[ST_NCOUNTERS];

	if (!tr->discover || now < tr->next_check_ms)
		return;
	tr->next_check_ms = now + LOST_CHECK_MS;
	if (!probe__counters(tr->probe, cnt) && cnt[ST_C_PROCS_LOST] != tr->procs_lost) {
		pr_warn("%llu process events lost: rescanning /proc\n",
			(unsigned long long)(cnt[ST_C_PROCS_LOST] - tr->procs_lost));
		tr->procs_lost = cnt[ST_C_PROCS_LOST];
		watcher__scan(tr->watcher, true);
		tr->next_scan_ms = now + RESCAN_MS;
	} else if (now >= tr->next_scan_ms) {
		watcher__scan(tr->watcher, false);
		tr->next_scan_ms = now + RESCAN_MS;
	}
}

/* Sooner of a timeout (-1 forever) and a deadline's ms from now. */
static int sooner(int timeout, long long deadline)
{
	long long left = deadline - clock__now_ms();

	if (left < 0)
		left = 0;
	return timeout < 0 || left < timeout ? (left > INT_MAX ? INT_MAX : (int)left) : timeout;
}

/* How long the next poll may wait: -1 forever, or ms. false: the deadline passed. */
static bool poll_timeout(struct tracer *tr, bool more, long long deadline, int *timeout)
{
	*timeout = -1;
	if (more)
		*timeout = 0; /* records still waiting: look at signals and exits, go on */
	else if (watcher__pending(tr->watcher))
		*timeout = (int)watcher__next_ms(tr->watcher);
	else if (tr->dec && targets__count(tr->targets))
		*timeout = ST_RB_DRAIN_MS; /* records come without wakeups */
	if (tr->discover)
		*timeout = sooner(*timeout, tr->next_check_ms);
	if (deadline) {
		if (deadline <= clock__now_ms())
			return false;
		*timeout = sooner(*timeout, deadline);
	}
	return true;
}

/* A signal: true to stop (SIGINT, SIGTERM); SIGHUP reopens the files. */
static bool on_signal(struct tracer *tr)
{
	struct signalfd_siginfo si;

	if (read(tr->sfd, &si, sizeof(si)) != sizeof(si))
		return false;
	if (si.ssi_signo != SIGHUP)
		return true;
	if (tr->ps)
		privsep__reopen(tr->ps);
	else
		decoder__reopen(tr->dec);
	return false;
}

/*
 * Until a signal or the deadline: 0, or 1 on an error. Polled: signals;
 * the ring buffer of hits (-p) or of process events (discovery); the
 * decoding child's socket (discovery); every target's pidfd.
 */
static int event_loop(struct tracer *tr)
{
	struct pollfd *pfd = tr->pfd;
	long long deadline = tr->o->duration ? clock__now_ms() + tr->o->duration * 1000LL : 0;
	bool more = false;
	int err, i;

	for (;;) {
		int timeout, nfd = 0, first, ntarg = targets__count(tr->targets);

		if (!poll_timeout(tr, more, deadline, &timeout))
			return 0;
		pfd[nfd++] = (struct pollfd){ .fd = tr->sfd, .events = POLLIN };
		pfd[nfd++] = (struct pollfd){ .fd = tr->dec ? probe__epoll_fd(tr->probe)
							    : probe__processes_fd(tr->probe),
					      .events = POLLIN };
		if (tr->ps) {
			pfd[nfd++] = (struct pollfd){ .fd = privsep__fd(tr->ps), .events = POLLIN };
			pfd[nfd++] = (struct pollfd){ .fd = privsep__files_fd(tr->ps), .events = POLLIN };
		}
		first = nfd;
		for (i = 0; i < ntarg; i++)
			pfd[nfd++] = (struct pollfd){ .fd = targets__at(tr->targets, i)->pidfd,
						      .events = POLLIN };
		if (poll(pfd, nfd, timeout) < 0) {
			if (errno == EINTR)
				continue;
			pr_warn("poll: %s\n", strerror(errno));
			return 1;
		}
		if (tr->ps && pfd[3].revents)
			privsep__serve_files(tr->ps); /* the child's records file: open, rotate */
		if (tr->ps && pfd[2].revents && privsep__poll(tr->ps)) {
			/* its records would go nowhere: stop tracing (systemd restarts us) */
			err = privsep__reap(tr->ps);
			fprintf(stderr, "sessiontrace: the decoding process exited; detaching "
				"everything\n");
			return err ? err : 1;
		}
		/* The pidfds match the targets as they were when polled. */
		for (i = first; i < nfd; i++)
			if (pfd[i].revents)
				targets__at(tr->targets, i - first)->exited = true;
		/* Records first: an exiting process's last records are still its own. */
		err = tr->dec ? decoder__drain(tr->dec, DRAIN_BUDGET)
			      : probe__drain_processes(tr->probe);
		if (err < 0 && err != -EINTR) {
			pr_warn("ring buffer: %s\n", strerror(-err));
			return 1;
		}
		more = err == 1;
		for (i = targets__count(tr->targets) - 1; i >= 0; i--)
			if (targets__at(tr->targets, i)->exited)
				untrace(tr, i, "exited");
		rescan(tr);
		if (watcher__pending(tr->watcher))
			watcher__try(tr->watcher);
		if (pfd[0].revents && on_signal(tr))
			return 0;
	}
}

static void tracer_free(struct tracer *tr)
{
	int i;

	/* before the probe and the targets: scrapes read them */
	decoder__free(tr->dec);
	privsep__free(tr->ps); /* a child not finished is killed */
	targets__free(tr->targets);
	watcher__free(tr->watcher);
	for (i = 0; i < TRACER_MAX_PIDS; i++)
		target__free(tr->given[i]);
	probe__free(tr->probe);
	if (tr->sfd >= 0)
		close(tr->sfd);
	free(tr);
}

int tracer__run(const struct tracer_opts *o)
{
	struct tracer *tr = calloc(1, sizeof(*tr));
	unsigned progs = 0;
	char err[512];
	sigset_t mask;
	int ret = 1;

	if (!tr) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		return 1;
	}
	tr->o = o;
	tr->sfd = -1;
	tr->discover = o->npids == 0;
	/* Blocked before any thread starts (the metrics server): the signalfd gets them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	libbpf_set_print(libbpf_print);
	raise_fd_limit();
	ret = resolve_given(tr, &progs);
	if (ret)
		goto cleanup;
	tr->dec = decoder__new(o, err, sizeof(err));
	if (!tr->dec) {
		fprintf(stderr, "sessiontrace: %s\n", err);
		ret = errno == ENOMEM ? 1 : 2;
		goto cleanup;
	}
	ret = 1;
	tr->sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (tr->sfd < 0) {
		pr_warn("signalfd: %s\n", strerror(errno));
		goto cleanup;
	}
	ret = start(tr, progs);
	if (!ret)
		ret = event_loop(tr);
	/*
	 * Stop the producers first (a storm would otherwise keep the final drain
	 * going), then take every record they made: the counts add up exactly.
	 */
	if (tr->targets)
		targets__detach_all(tr->targets);
	if (ret)
		goto cleanup;
	if (tr->ps)
		ret = privsep__finish(tr->ps);
	else
		decoder__finish(tr->dec);
cleanup:
	tracer_free(tr);
	return ret;
}
