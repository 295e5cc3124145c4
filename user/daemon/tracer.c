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
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <cap-ng.h>
#include "attach/probe.h"
#include "daemon/targets.h"
#include "daemon/tracer.h"
#include "decode/drops.h"
#include "decode/hit.h"
#include "diagnose/diagnose.h"
#include "discover/watcher.h"
#include "resolve/target.h"
#include "sink/limit.h"
#include "sink/metrics.h"
#include "sink/sink.h"
#include "util/log.h"

#define RETRY_MS     50  /* candidates waiting for their interpreter: look again */
#define DRAIN_BUDGET 256 /* records per pass of the event loop (~20 ms of work) */
#define MAX_SINKS    3

struct tracer {
	const struct tracer_opts *o;
	bool discover;                   /* no -p: watch for servers */
	struct target *given[TRACER_MAX_PIDS]; /* -p targets until attached */
	struct probe *probe;
	struct targets *targets;
	struct watcher *watcher;
	struct diagnose *diag;
	struct hit *hit;                 /* the one being handled */
	struct diagnosis *dg;
	struct metrics *metrics;
	struct sink *sinks[MAX_SINKS];
	int nsinks;
	struct limit *limit;             /* --record-rate; NULL: a full record per hit */
	int sfd;                         /* signalfd: SIGINT, SIGTERM, SIGHUP */
	struct pollfd pfd[TARGETS_MAX + 2]; /* the signalfd, the ring buffer, the pidfds */
	unsigned long long records;      /* hits through the sinks */
	unsigned long long summarized;   /* of which in summaries, not full records */
	unsigned long long dropped[DROP_N]; /* enum drop_reason; read by the metrics thread */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's warnings include whole verifier logs: shown with -v only. */
	if (log__level() < LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void dropped(struct tracer *tr, enum drop_reason why)
{
	__atomic_add_fetch(&tr->dropped[why], 1, __ATOMIC_RELAXED);
}

/* One record: decode, diagnose, every sink; or the reason it is not a hit. */
static void on_event(void *ctx, const struct st_event *ev)
{
	struct tracer *tr = ctx;
	int i = targets__index(tr->targets, ev->pid);
	struct traced *e;
	enum drop_reason why;

	if (i < 0) {
		dropped(tr, DROP_PROCESS_GONE);
		return;
	}
	e = targets__at(tr->targets, i);
	/* a record raised by an earlier process with the same pid */
	if (ev->start_ticks != e->t->start_time) {
		dropped(tr, DROP_STALE_PID);
		pr_debug("pid %u: dropped a record of an earlier process with that pid\n", ev->pid);
		return;
	}
	if (!hit__decode(tr->hit, e->t, e->sym, ev, &why))
		dropped(tr, why);
	else if (diagnose__event(tr->diag, tr->hit, tr->dg))
		dropped(tr, DROP_OUT_OF_MEMORY);
	else {
		/* past the record rate, only the sinks that count every hit get it */
		bool full = !tr->limit || limit__admit(tr->limit, tr->hit, tr->dg, now_ms());

		tr->records++;
		tr->summarized += !full;
		for (i = 0; i < tr->nsinks; i++)
			if (full || !tr->sinks[i]->summary)
				sink__emit(tr->sinks[i], tr->hit, tr->dg);
	}
	symbolizer__event_end(e->sym); /* its frames are no longer used: the cache may evict */
}

/* Resolve, choose the probe, attach: 0 when traced, else -errno with err set. */
static int trace_pid(struct tracer *tr, struct target *t, const char *service, char *err,
		     size_t errsz)
{
	int ret = target__choose_probe(t, tr->o->probe, tr->o->kinds, err, errsz);

	if (ret)
		return ret;
	target__set_service(t, service);
	ret = targets__add(tr->targets, t);
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

static int try_trace(void *ctx, pid_t pid, const char *service, char *err, size_t errsz)
{
	struct tracer *tr = ctx;
	struct target *t = target__new(pid, err, errsz);
	char why[512] = "";

	if (!t)
		return -errno;
	if (trace_pid(tr, t, service, why, sizeof(why))) {
		if (why[0])
			fprintf(stderr, "sessiontrace: %s\n", why);
		target__free(t);
	}
	return 0;
}

static void on_exec(void *ctx, pid_t pid)
{
	struct tracer *tr = ctx;
	int i = targets__index(tr->targets, pid);

	if (i >= 0)
		targets__drop(tr->targets, i, "exec'd a new program");
}

static const struct watcher_ops watch_ops = {
	.traced_service = traced_service,
	.try_trace = try_trace,
	.exec = on_exec,
};

static void on_proc(void *ctx, const struct st_proc_event *ev)
{
	struct tracer *tr = ctx;

	watcher__proc_event(tr->watcher, ev);
}

/* Scrape time, on the HTTP thread: BPF counters are read from the map. */
static void metrics_health(struct metrics_health *h, void *ctx)
{
	struct tracer *tr = ctx;
	__u64 cnt[ST_NCOUNTERS];
	int i;

	h->attached = tr->targets ? (unsigned long long)targets__count(tr->targets) : 0;
	if (tr->probe && !probe__counters(tr->probe, cnt)) {
		h->lost = cnt[ST_C_LOST];
		h->hits = cnt[ST_C_HITS];
		h->execs = cnt[ST_C_EXECS];
	}
	for (i = 0; i < DROP_N; i++)
		h->dropped[i] = __atomic_load_n(&tr->dropped[i], __ATOMIC_RELAXED);
}

/*
 * With -p every probe is attached by now. What the rest of the run does
 * (read the targets' memory, read the BPF maps and ring buffer through the
 * descriptors already open, write records, serve metrics, close the links)
 * needs only CAP_SYS_PTRACE, for process_vm_readv on processes whose
 * capabilities we would no longer have. Everything else goes, also from the
 * bounding set, and no_new_privs keeps it gone.
 */
static int drop_privileges(void)
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
	for (i = 0; i < o->npids; i++) {
		tr->given[i] = target__new(o->pids[i], err, sizeof(err));
		if (!tr->given[i] ||
		    target__choose_probe(tr->given[i], o->probe, o->kinds, err, sizeof(err))) {
			fprintf(stderr, "sessiontrace: %s\n", err);
			return 2;
		}
		*progs |= probe__prog_for(tr->given[i]);
	}
	return 0;
}

/* The records file, the console, the metrics. 0, or the exit status. */
static int open_sinks(struct tracer *tr)
{
	const struct tracer_opts *o = tr->o;
	char err[512];

	if (o->json) {
		tr->sinks[tr->nsinks] = record_sink__new(o->json, o->json_max_size, o->json_keep,
							 err, sizeof(err));
		if (!tr->sinks[tr->nsinks++]) {
			fprintf(stderr, "sessiontrace: %s\n", err);
			return 2;
		}
	}
	if (o->metrics) {
		tr->metrics = metrics__new(o->max_series);
		if (!tr->metrics) {
			fprintf(stderr, "sessiontrace: out of memory\n");
			return 1;
		}
		if (metrics__listen(tr->metrics, o->metrics, err, sizeof(err))) {
			fprintf(stderr, "sessiontrace: %s\n", err);
			return 2;
		}
		tr->sinks[tr->nsinks++] = metrics__sink(tr->metrics);
	}
	if (!o->quiet && !(tr->sinks[tr->nsinks++] = console_sink__new(stdout))) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		return 1;
	}
	if (o->record_rate && !(tr->limit = limit__new(o->record_rate))) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		return 1;
	}
	return 0;
}

static void on_summary(void *ctx, const struct limit_summary *sum)
{
	struct tracer *tr = ctx;
	int i;

	for (i = 0; i < tr->nsinks; i++)
		if (tr->sinks[i]->summary)
			tr->sinks[i]->summary(tr->sinks[i], sum);
}

/* The summaries due now, or all of them (at exit). */
static void flush_summaries(struct tracer *tr, bool all)
{
	if (tr->limit)
		limit__flush(tr->limit, now_ms(), all, on_summary, tr);
}

/* Load the probe programs, attach the given targets, start watching. */
static int start(struct tracer *tr, unsigned progs)
{
	char err[512];
	int i, ret;

	if (probe__kernel_check(err, sizeof(err))) {
		fprintf(stderr, "sessiontrace: %s\n", err);
		return 1;
	}
	tr->probe = probe__new(on_event, tr, progs, err, sizeof(err));
	if (!tr->probe) {
		fprintf(stderr, "sessiontrace: %s\n", err);
		return 1;
	}
	tr->targets = targets__new(tr->probe);
	tr->watcher = watcher__new(&watch_ops, tr);
	if (!tr->targets || !tr->watcher) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		return 1;
	}
	for (i = 0; i < tr->o->npids; i++) {
		char service[128];

		watcher__service(tr->watcher, tr->given[i]->pid, service, sizeof(service));
		target__set_service(tr->given[i], service);
		if (targets__add(tr->targets, tr->given[i]))
			return 2;
		tr->given[i] = NULL;
	}
	if (!tr->discover && (ret = drop_privileges()))
		pr_warn("could not drop capabilities after attaching: %s\n", strerror(-ret));
	/* the HTTP thread starts with the capabilities this thread has now */
	if (tr->metrics && metrics__start(tr->metrics, metrics_health, tr, err, sizeof(err))) {
		fprintf(stderr, "sessiontrace: %s\n", err);
		return 1;
	}
	/* -p: said once every sink serves and the capabilities are dropped */
	for (i = 0; i < targets__count(tr->targets); i++)
		targets__announce(tr->targets, i);
	if (tr->discover) {
		/* Watch first, then scan: a server starting in between is not missed. */
		if (probe__watch_processes(tr->probe, on_proc))
			return 1;
		watcher__scan(tr->watcher);
		watcher__try(tr->watcher);
		fprintf(stderr, "sessiontrace: watching for ASGI servers (%d traced now)\n",
			targets__count(tr->targets));
	}
	return 0;
}

/* How long the next poll may wait: -1 forever, or ms. false: the deadline passed. */
static bool poll_timeout(struct tracer *tr, bool more, long long deadline, int *timeout)
{
	*timeout = -1;
	if (more)
		*timeout = 0; /* records still waiting: look at signals and exits, go on */
	else if (watcher__pending(tr->watcher))
		*timeout = RETRY_MS;
	else if (targets__count(tr->targets))
		*timeout = ST_RB_DRAIN_MS; /* records come without wakeups */
	if (deadline) {
		long long left = deadline - now_ms();

		if (left <= 0)
			return false;
		if (*timeout < 0 || left < *timeout)
			*timeout = left > INT_MAX ? INT_MAX : (int)left;
	}
	return true;
}

/* A signal: true to stop (SIGINT, SIGTERM); SIGHUP reopens the files. */
static bool on_signal(struct tracer *tr)
{
	struct signalfd_siginfo si;
	int i;

	if (read(tr->sfd, &si, sizeof(si)) != sizeof(si))
		return false;
	if (si.ssi_signo != SIGHUP)
		return true;
	for (i = 0; i < tr->nsinks; i++)
		if (tr->sinks[i]->reopen)
			tr->sinks[i]->reopen(tr->sinks[i]);
	return false;
}

/* Until a signal or the deadline: 0, or 1 on an error. */
static int event_loop(struct tracer *tr)
{
	struct pollfd *pfd = tr->pfd;
	long long deadline = tr->o->duration ? now_ms() + tr->o->duration * 1000LL : 0;
	bool more = false;
	int err, i;

	for (;;) {
		int timeout, nfd = 0, ntarg = targets__count(tr->targets);

		if (!poll_timeout(tr, more, deadline, &timeout))
			return 0;
		pfd[nfd++] = (struct pollfd){ .fd = tr->sfd, .events = POLLIN };
		pfd[nfd++] = (struct pollfd){ .fd = probe__epoll_fd(tr->probe), .events = POLLIN };
		for (i = 0; i < ntarg; i++)
			pfd[nfd++] = (struct pollfd){ .fd = targets__at(tr->targets, i)->pidfd,
						      .events = POLLIN };
		if (poll(pfd, nfd, timeout) < 0) {
			if (errno == EINTR)
				continue;
			pr_warn("poll: %s\n", strerror(errno));
			return 1;
		}
		/* The pidfds match the targets as they were when polled. */
		for (i = 2; i < nfd; i++)
			if (pfd[i].revents)
				targets__at(tr->targets, i - 2)->exited = true;
		/* Records first: an exiting process's last records are still its own. */
		err = probe__drain(tr->probe, DRAIN_BUDGET);
		if (err < 0 && err != -EINTR) {
			pr_warn("ring buffer: %s\n", strerror(-err));
			return 1;
		}
		more = err == 1;
		flush_summaries(tr, false);
		for (i = targets__count(tr->targets) - 1; i >= 0; i--)
			if (targets__at(tr->targets, i)->exited)
				targets__drop(tr->targets, i, "exited");
		if (watcher__pending(tr->watcher))
			watcher__try(tr->watcher);
		if (pfd[0].revents && on_signal(tr))
			return 0;
	}
}

/* Every hit is a record, lost, or dropped for a reason: the sums match. */
static void print_summary(struct tracer *tr)
{
	unsigned long long ndrop = 0;
	__u64 cnt[ST_NCOUNTERS] = {};
	char why[256] = "";
	size_t wn = 0;
	int i;

	probe__counters(tr->probe, cnt);
	for (i = 0; i < DROP_N; i++) {
		ndrop += tr->dropped[i];
		if (tr->dropped[i] && wn < sizeof(why))
			wn += snprintf(why + wn, sizeof(why) - wn, "%s%s %llu", wn ? ", " : " (",
				       drop_reason_names[i], tr->dropped[i]);
	}
	if (wn && wn < sizeof(why) - 1)
		snprintf(why + wn, sizeof(why) - wn, ")");
	fprintf(stderr, "sessiontrace: exiting: %llu records, %llu lost, %llu hits, "
		"%llu AssertionError/KeyError raises examined, %llu probe runs, "
		"%llu processes traced, %llu dropped%s; %llu of the records in summaries\n",
		tr->records, (unsigned long long)cnt[ST_C_LOST], (unsigned long long)cnt[ST_C_HITS],
		(unsigned long long)cnt[ST_C_ASSERTS], (unsigned long long)cnt[ST_C_RUNS],
		targets__total(tr->targets), ndrop, why, tr->summarized);
	for (i = 0; i < tr->nsinks; i++)
		if (tr->sinks[i]->finish)
			tr->sinks[i]->finish(tr->sinks[i], tr->records);
}

static void tracer_free(struct tracer *tr)
{
	int i;

	/* before the probe and the targets: scrapes read them */
	metrics__free(tr->metrics);
	tr->metrics = NULL;
	targets__free(tr->targets);
	watcher__free(tr->watcher);
	for (i = 0; i < TRACER_MAX_PIDS; i++)
		target__free(tr->given[i]);
	probe__free(tr->probe);
	for (i = 0; i < tr->nsinks; i++)
		sink__free(tr->sinks[i]);
	limit__free(tr->limit);
	diagnose__free(tr->diag);
	free(tr->hit);
	free(tr->dg);
	if (tr->sfd >= 0)
		close(tr->sfd);
	free(tr);
}

int tracer__run(const struct tracer_opts *o)
{
	struct tracer *tr = calloc(1, sizeof(*tr));
	unsigned progs = 0;
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
	ret = resolve_given(tr, &progs);
	if (!ret)
		ret = open_sinks(tr);
	if (ret)
		goto cleanup;
	ret = 1;
	tr->sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (tr->sfd < 0) {
		pr_warn("signalfd: %s\n", strerror(errno));
		goto cleanup;
	}
	tr->diag = diagnose__new();
	tr->hit = calloc(1, sizeof(*tr->hit));
	tr->dg = calloc(1, sizeof(*tr->dg));
	if (!tr->diag || !tr->hit || !tr->dg) {
		fprintf(stderr, "sessiontrace: out of memory\n");
		goto cleanup;
	}
	ret = start(tr, progs);
	if (!ret)
		ret = event_loop(tr);
	if (ret)
		goto cleanup;
	/*
	 * Stop the producers first (a storm would otherwise keep the final drain
	 * going), then take every record they made: the counts add up exactly.
	 */
	targets__detach_all(tr->targets);
	probe__drain(tr->probe, 0);
	flush_summaries(tr, true);
	print_summary(tr);
cleanup:
	tracer_free(tr);
	return ret;
}
