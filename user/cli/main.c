// SPDX-License-Identifier: BSD-2-Clause
/* sessiontrace: catch Starlette's SessionMiddleware assertion in running servers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <cap-ng.h>
#include "discover/discover.h"
#include "decode/drops.h"
#include "sink/jsonlog.h"
#include "util/log.h"
#include "sink/metrics.h"
#include "attach/probe.h"
#include "decode/props.h"
#include "decode/report.h"
#include "cli/summary.h"
#include "resolve/target.h"
#include "util/version.h"

#define MAX_PIDS    256  /* -p options */
#define MAX_TARGETS 1024 /* processes traced at once */
#define MAX_PENDING 256  /* discovered processes whose interpreter is not ready yet */
#define PENDING_MS  10000 /* how long a new process may take to load its interpreter */
#define RETRY_MS    50
#define FORK_GRACE_MS 50  /* multiprocessing forks then execs: trace what it becomes */
#define ANCESTORS   8    /* parent levels searched for a server */
#define DRAIN_BUDGET 256 /* records per pass of the event loop (~20 ms of work) */

static const char usage[] =
"Usage: sessiontrace [-p PID]... [-j FILE] [-m [ADDR:]PORT] [-d SEC] [-k LIST] [-P MODE]\n"
"                    [-q] [-v]\n"
"       sessiontrace report [--format text|json] FILE...   (see report --help)\n"
"\n"
"Attach to running uvicorn/gunicorn/hypercorn processes (CPython) and record,\n"
"for every 'SessionMiddleware must be installed to access request.session'\n"
"AssertionError, the request, the Python stack and the code that read the session.\n"
"The server is not restarted, paused or modified.\n"
"\n"
"Without -p, every process that serves ASGI now or starts later is traced:\n"
"uvicorn, gunicorn and hypercorn, and their workers (uvicorn --workers and\n"
"--reload children, gunicorn's forked workers), in any container on this host.\n"
"\n"
"Options:\n"
"  -p, --pid PID       trace this process only (repeatable)\n"
"  -j, --json FILE     append one JSON object per hit to FILE (created 0600);\n"
"                      SIGHUP reopens it (logrotate)\n"
"      --json-max-size SIZE\n"
"                      rotate FILE to FILE.1, FILE.2, ... before it passes SIZE\n"
"                      bytes (k, M, G suffixes; default: no rotation)\n"
"      --json-keep N   rotated files kept (default 5)\n"
"  -m, --metrics [ADDR:]PORT\n"
"                      serve Prometheus metrics on http://ADDR:PORT/metrics; a bare\n"
"                      PORT listens on 127.0.0.1 only; [::1]:PORT for IPv6\n"
"      --max-series N  at most N label sets of sessiontrace_assertions_total\n"
"                      (default 1000); hits beyond them go to one overflow series\n"
"  -d, --duration SEC  stop after SEC seconds (default: until SIGINT/SIGTERM)\n"
"  -k, --kind LIST     which failures to record, comma separated: session,\n"
"                      auth, user (request.auth/.user: AuthenticationMiddleware)\n"
"                      or all (default: all)\n"
"  -P, --probe MODE    assert: a uprobe that runs only when an assert fails\n"
"                      (the LOAD_ASSERTION_ERROR handler; from 3.14, do_raise,\n"
"                      which only Python raise statements reach): no cost on\n"
"                      healthy requests; raise: on _PyErr_SetObject, every\n"
"                      exception (needed for python -O); auto (default): assert\n"
"                      where it validates, raise elsewhere\n"
"  -q, --quiet         no human report on stdout\n"
"  -v, --verbose       debug messages, including libbpf's\n"
"  -V, --version       print the version\n"
"  -h, --help          this text\n"
"\n"
"Examples:\n"
"  sudo sessiontrace                        # every ASGI server, now and later\n"
"  sudo sessiontrace -p $(pgrep -f 'uvicorn main:app')\n"
"  sudo sessiontrace -p 4242 -p 4243 -j /var/log/sessiontrace.jsonl -q\n"
"  sudo sessiontrace -k session -d 60\n"
"  sudo sessiontrace -q -j /var/log/sessiontrace.jsonl -m 9464   # + /metrics on loopback\n"
"\n"
"Exit status: 0 on a clean stop, 2 on bad arguments or a process that cannot\n"
"be traced, 1 on other errors.\n";

struct options {
	pid_t pids[MAX_PIDS];
	int npids;
	const char *json;
	long duration;
	bool quiet;
	int verbose;
	unsigned kinds; /* bit per enum st_prop */
	int probe;      /* enum st_probe_kind, or PROBE_AUTO */
	const char *metrics; /* -m */
	unsigned long long json_max_size;
	long json_keep;
	long max_series;
};

#define PROBE_AUTO -1
#define OPT_MAX_SERIES 256
#define OPT_JSON_MAX_SIZE 257
#define OPT_JSON_KEEP 258

struct pending {
	pid_t pid;
	unsigned long long start_time;
	long long deadline_ms;
	long long not_before_ms; /* forked children: wait for a possible exec */
	char service[DISCOVER_SERVICE_MAX];
	char last_err[256];
};

struct state {
	struct options *o;
	struct probe *probe;
	struct report *report;
	struct metrics *metrics;
	struct target *targets[MAX_TARGETS];
	int ntargets;
	struct pending pending[MAX_PENDING];
	int npending;
	bool discover;
	unsigned long long records, write_errors, traced;
	unsigned long long dropped[DROP_N]; /* enum drop_reason */
	bool write_failing;
	struct jsonlog *json;
};

static struct state st;

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

static struct target *find_target(pid_t pid)
{
	int i;

	for (i = 0; i < st.ntargets; i++)
		if (st.targets[i] && st.targets[i]->pid == (pid_t)pid)
			return st.targets[i];
	return NULL;
}

static void dropped(enum drop_reason why)
{
	/* read by the metrics thread */
	__atomic_add_fetch(&st.dropped[why], 1, __ATOMIC_RELAXED);
}

static void on_event(void *ctx, const struct st_event *ev)
{
	struct target *t = find_target(ev->pid);
	int err, drop;

	if (!t) {
		dropped(DROP_PROCESS_GONE);
		return;
	}
	/* a record raised by an earlier process with the same pid */
	if (ev->start_ticks != t->start_time) {
		dropped(DROP_STALE_PID);
		pr_debug("pid %u: dropped a record of an earlier process with that pid\n", ev->pid);
		return;
	}
	err = report__event(st.report, t, ev, &drop);
	target__event_end(t); /* its frames are no longer used: the code cache may evict */
	if (drop >= 0) {
		dropped(drop);
		return;
	}
	st.records++;
	if (st.metrics) {
		struct report_labels l;

		report__labels(st.report, &l);
		metrics__hit(st.metrics, t->service, l.route, l.method, l.cause);
	}
	if (err) {
		/* once per failing streak, not once per record */
		if (!st.write_failing)
			pr_warn("cannot write records to %s: %s (hits are still counted; retrying "
				"with each record)\n", st.o->json, strerror(-err));
		st.write_failing = true;
		st.write_errors++;
	} else if (st.write_failing) {
		st.write_failing = false;
		pr_warn("writing records to %s again (%llu not written so far)\n", st.o->json,
			st.write_errors);
	}
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "session,auth" -> bits of enum st_prop; -EINVAL on an unknown name. */
static int parse_kinds(const char *arg, unsigned *out)
{
	const char *p = arg;
	unsigned bits = 0;
	int i;

	while (*p) {
		size_t n = strcspn(p, ",");

		for (i = 0; i < ST_NPROPS; i++)
			if (n == strlen(st_prop_names[i]) && !strncmp(p, st_prop_names[i], n))
				break;
		if (i < ST_NPROPS)
			bits |= 1U << i;
		else if (n == 3 && !strncmp(p, "all", 3))
			bits |= (1U << ST_NPROPS) - 1;
		else
			return -EINVAL;
		p += n;
		if (*p == ',' && *++p == 0)
			return -EINVAL;
	}
	if (!bits)
		return -EINVAL;
	*out = bits;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "json", required_argument, NULL, 'j' },
		{ "duration", required_argument, NULL, 'd' },
		{ "kind", required_argument, NULL, 'k' },
		{ "probe", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json-max-size", required_argument, NULL, OPT_JSON_MAX_SIZE },
		{ "json-keep", required_argument, NULL, OPT_JSON_KEEP },
		{ "metrics", required_argument, NULL, 'm' },
		{ "max-series", required_argument, NULL, OPT_MAX_SERIES },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	long v;
	int c, i;

	while ((c = getopt_long(argc, argv, "p:j:m:d:k:P:qvVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_long(optarg, 1, INT_MAX, &v)) {
				fprintf(stderr, "sessiontrace: invalid pid '%s'\n", optarg);
				return -EINVAL;
			}
			if (o->npids >= MAX_PIDS) {
				fprintf(stderr, "sessiontrace: at most %d -p options\n", MAX_PIDS);
				return -EINVAL;
			}
			for (i = 0; i < o->npids && o->pids[i] != v; i++)
				;
			if (i == o->npids)
				o->pids[o->npids++] = v;
			break;
		case 'j':
			o->json = optarg;
			break;
		case OPT_JSON_MAX_SIZE:
			if (jsonlog__parse_size(optarg, &o->json_max_size)) {
				fprintf(stderr, "sessiontrace: invalid --json-max-size '%s' (bytes, "
					"or with k, M, G)\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_JSON_KEEP:
			if (parse_long(optarg, 1, JSONLOG_MAX_KEEP, &v)) {
				fprintf(stderr, "sessiontrace: invalid --json-keep '%s' (1 to %d)\n",
					optarg, JSONLOG_MAX_KEEP);
				return -EINVAL;
			}
			o->json_keep = v;
			break;
		case 'm':
			o->metrics = optarg;
			break;
		case OPT_MAX_SERIES:
			if (parse_long(optarg, 1, METRICS_MAX_SERIES, &v)) {
				fprintf(stderr, "sessiontrace: invalid --max-series '%s' (1 to %d)\n",
					optarg, METRICS_MAX_SERIES);
				return -EINVAL;
			}
			o->max_series = v;
			break;
		case 'V':
			printf("sessiontrace %s\n", ST_VERSION);
			exit(0);
		case 'd':
			if (parse_long(optarg, 1, 365L * 24 * 3600, &v)) {
				fprintf(stderr, "sessiontrace: invalid duration '%s' (seconds, >= 1)\n",
					optarg);
				return -EINVAL;
			}
			o->duration = v;
			break;
		case 'k':
			if (parse_kinds(optarg, &o->kinds)) {
				fprintf(stderr, "sessiontrace: invalid --kind '%s' (session, auth, "
					"user, all; comma separated)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'P':
			if (!strcmp(optarg, "auto"))
				o->probe = PROBE_AUTO;
			else if (!strcmp(optarg, "assert"))
				o->probe = ST_PROBE_ASSERT;
			else if (!strcmp(optarg, "raise"))
				o->probe = ST_PROBE_RAISE;
			else {
				fprintf(stderr, "sessiontrace: invalid --probe '%s' (assert, raise or "
					"auto)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'sessiontrace --help'.\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sessiontrace: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static void drop_target(int i, const char *why)
{
	struct target *t = st.targets[i];

	fprintf(stderr, "sessiontrace: pid=%d %s; still tracing %d process(es)\n", t->pid, why,
		st.ntargets - 1);
	probe__detach(st.probe, t);
	target__free(t);
	st.targets[i] = st.targets[--st.ntargets];
	st.targets[st.ntargets] = NULL;
}

static int target_index(pid_t pid)
{
	int i;

	for (i = 0; i < st.ntargets; i++)
		if (st.targets[i]->pid == pid)
			return i;
	return -1;
}

/*
 * The service a process belongs to: the ASGI app spec on its own command
 * line or its nearest server ancestor's (workers have none), else its name.
 */
static bool server_ancestry(pid_t pid, enum discover_verdict *self, char *service,
			    size_t servicesz)
{
	char args[4096], svc[DISCOVER_SERVICE_MAX];
	size_t len;
	pid_t ppid;
	int level, i;

	service[0] = 0;
	*self = DISCOVER_NO;
	for (level = 0; level <= ANCESTORS && pid > 1; level++, pid = ppid) {
		enum discover_verdict v;

		if (discover__read(pid, &ppid, args, sizeof(args), &len))
			return false;
		v = discover__classify(args, len, svc, sizeof(svc));
		if (level == 0)
			*self = v;
		if (v == DISCOVER_NEVER && level == 0)
			return false;
		if (level > 0 && (i = target_index(pid)) >= 0) {
			if (!service[0])
				snprintf(service, servicesz, "%s", st.targets[i]->service);
			return true;
		}
		if (v == DISCOVER_SERVER) {
			if (!service[0])
				snprintf(service, servicesz, "%s", svc);
			if (service[0] || level > 0)
				return true;
			/* a server without a spec on its command line: look further up */
			*self = DISCOVER_SERVER;
		}
	}
	return *self == DISCOVER_SERVER;
}

static void comm_of(pid_t pid, char *buf, size_t sz)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	buf[0] = 0;
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, sz, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/* --probe: the assert probe where it validates (auto), or what was asked for. */
static int choose_probe(struct target *t)
{
	if (st.o->probe == ST_PROBE_RAISE || (st.o->probe == PROBE_AUTO && !t->assert_ok)) {
		if (!t->raise_ok) {
			fprintf(stderr, "sessiontrace: pid %d: no raise probe: %s\n", t->pid,
				t->raise_why);
			return -ENOTSUP;
		}
		if (st.o->probe == PROBE_AUTO)
			pr_debug("pid %d: raise probe: %s\n", t->pid, t->assert_why);
		t->bpf.probe = ST_PROBE_RAISE;
		return 0;
	}
	if (!t->assert_ok) {
		fprintf(stderr, "sessiontrace: pid %d: no assert probe: %s (use --probe raise or "
			"auto)\n", t->pid, t->assert_why);
		return -ENOTSUP;
	}
	t->bpf.probe = ST_PROBE_ASSERT;
	return 0;
}

/* Attach t; on success it is ours. Prints the attached line. */
static int start_tracing(struct target *t, const char *service)
{
	const char *pname;
	int err;

	if (st.ntargets >= MAX_TARGETS) {
		pr_warn("pid %d: not traced: already tracing %d processes\n", t->pid, MAX_TARGETS);
		return -ENOSPC;
	}
	t->bpf.kinds = st.o->kinds;
	err = choose_probe(t);
	if (err)
		return err;
	if (service && service[0])
		snprintf(t->service, sizeof(t->service), "%s", service);
	else
		comm_of(t->pid, t->service, sizeof(t->service));
	err = probe__attach(st.probe, t);
	if (err)
		return err;
	st.targets[st.ntargets++] = t;
	st.traced++;
	pname = t->bpf.probe == ST_PROBE_ASSERT ? "assert" : "raise";
	if (t->ns_pid != t->pid)
		fprintf(stderr, "attached pid=%d python=%s probe=%s ns_pid=%d\n", t->pid,
			t->python, pname, t->ns_pid);
	else
		fprintf(stderr, "attached pid=%d python=%s probe=%s\n", t->pid, t->python, pname);
	return 0;
}

static int find_pending(pid_t pid)
{
	int i;

	for (i = 0; i < st.npending; i++)
		if (st.pending[i].pid == pid)
			return i;
	return -1;
}

static void drop_pending(int i)
{
	st.pending[i] = st.pending[--st.npending];
}

/*
 * A process that may serve ASGI: traced as soon as its interpreter is loaded.
 * inherited_service: forked from a traced process (gunicorn workers).
 */
static void consider(pid_t pid, const char *inherited_service)
{
	char service[DISCOVER_SERVICE_MAX];
	enum discover_verdict self;
	struct pending *pe;

	if (target_index(pid) >= 0 || find_pending(pid) >= 0)
		return;
	if (inherited_service) {
		snprintf(service, sizeof(service), "%s", inherited_service);
	} else if (!server_ancestry(pid, &self, service, sizeof(service))) {
		return;
	}
	if (st.npending >= MAX_PENDING) {
		pr_warn("pid %d: not traced: %d processes already waiting\n", pid, MAX_PENDING);
		return;
	}
	pe = &st.pending[st.npending++];
	memset(pe, 0, sizeof(*pe));
	pe->pid = pid;
	pe->deadline_ms = now_ms() + PENDING_MS;
	if (inherited_service)
		pe->not_before_ms = now_ms() + FORK_GRACE_MS;
	snprintf(pe->service, sizeof(pe->service), "%s", service);
	pr_debug("pid %d: candidate (service '%s')\n", pid, service);
}

/* Try every waiting process once; returns how many are still waiting. */
static int try_pending(void)
{
	long long now = now_ms();
	int i;

	for (i = st.npending - 1; i >= 0; i--) {
		struct pending *pe = &st.pending[i];
		struct target *t;
		char path[64];
		int err;

		snprintf(path, sizeof(path), "/proc/%d", pe->pid);
		if (access(path, F_OK)) {
			drop_pending(i);
			continue;
		}
		if (now < pe->not_before_ms)
			continue;
		err = target__new(pe->pid, &t, pe->last_err, sizeof(pe->last_err));
		if (!err) {
			if (start_tracing(t, pe->service))
				target__free(t);
			drop_pending(i);
		} else if (err == -ENOEXEC || now >= pe->deadline_ms) {
			/* not Python (a shell the app ran, say): nothing to say */
			if (err != -ENOEXEC)
				fprintf(stderr, "sessiontrace: not tracing pid=%d: %s\n", pe->pid,
					pe->last_err);
			drop_pending(i);
		}
	}
	return st.npending;
}

static void on_proc(void *ctx, const struct st_proc_event *ev)
{
	pid_t pid = ev->pid;
	int i;

	if (ev->kind == ST_PROC_EXEC) {
		/* a traced process that execs is another program now */
		i = target_index(pid);
		if (i >= 0)
			drop_target(i, "exec'd a new program");
		i = find_pending(pid);
		if (i >= 0)
			drop_pending(i);
		consider(pid, NULL);
	} else if (ev->kind == ST_PROC_FORK) {
		i = target_index(ev->ppid);
		if (i >= 0)
			consider(pid, st.targets[i]->service);
	}
}

/* Scrape time, on the HTTP thread: BPF counters are read from the map. */
static void metrics_health(struct metrics_health *h, void *ctx)
{
	__u64 cnt[ST_NCOUNTERS];
	int i;

	h->attached = (unsigned long long)__atomic_load_n(&st.ntargets, __ATOMIC_RELAXED);
	if (st.probe && !probe__counters(st.probe, cnt)) {
		h->lost = cnt[ST_C_LOST];
		h->hits = cnt[ST_C_HITS];
	}
	for (i = 0; i < DROP_N; i++)
		h->dropped[i] = __atomic_load_n(&st.dropped[i], __ATOMIC_RELAXED);
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

static int scan_one(pid_t pid, void *ctx)
{
	if (pid != getpid())
		consider(pid, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .kinds = (1U << ST_NPROPS) - 1, .probe = PROBE_AUTO };
	struct pollfd pfd[MAX_TARGETS + 2];
	sigset_t mask;
	__u64 cnt[ST_NCOUNTERS];
	struct target *given[MAX_PIDS] = {};
	int sfd = -1, ret = 1, err, i;
	unsigned progs = 0;
	bool more = false;
	long long start, deadline = 0;
	char errbuf[512];
	bool stop = false;

	setvbuf(stderr, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "report"))
		return summary__main(argc - 1, argv + 1);
	if (parse_args(argc, argv, &o))
		return 2;
	st.o = &o;
	st.discover = o.npids == 0;
	/* Blocked before any thread starts (the metrics server): the signalfd gets them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	log__set_level(o.verbose >= 1 ? LOG_DEBUG : LOG_WARN);
	libbpf_set_print(libbpf_print);

	/*
	 * Resolve every given target and its probe before touching the kernel:
	 * bad input attaches nothing, and only the programs they need are loaded
	 * (discovery may meet any interpreter: all of them).
	 */
	for (i = 0; i < o.npids; i++) {
		err = target__new(o.pids[i], &given[i], errbuf, sizeof(errbuf));
		if (err) {
			fprintf(stderr, "sessiontrace: %s\n", errbuf);
			ret = 2;
			goto cleanup;
		}
		if (choose_probe(given[i])) {
			ret = 2;
			goto cleanup;
		}
		progs |= probe__prog_for(given[i]);
	}
	if (st.discover)
		progs = PROBE_PROG_ALL;
	if (o.json) {
		st.json = jsonlog__open(o.json, o.json_max_size,
					o.json_keep ? (unsigned)o.json_keep : JSONLOG_DEFAULT_KEEP,
					errbuf, sizeof(errbuf));
		if (!st.json) {
			fprintf(stderr, "sessiontrace: %s\n", errbuf);
			ret = 2;
			goto cleanup;
		}
	}
	if (o.metrics) {
		st.metrics = metrics__new(o.max_series ? (size_t)o.max_series : METRICS_DEFAULT_SERIES);
		if (!st.metrics)
			goto cleanup;
		if (metrics__listen(st.metrics, o.metrics, errbuf, sizeof(errbuf))) {
			fprintf(stderr, "sessiontrace: %s\n", errbuf);
			ret = 2;
			goto cleanup;
		}
	}
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		pr_warn("signalfd: %s\n", strerror(errno));
		goto cleanup;
	}
	st.report = report__new(o.quiet ? NULL : stdout, st.json);
	if (!st.report)
		goto cleanup;
	if (probe__kernel_check(errbuf, sizeof(errbuf))) {
		fprintf(stderr, "sessiontrace: %s\n", errbuf);
		goto cleanup;
	}
	st.probe = probe__new(on_event, NULL, progs);
	if (!st.probe)
		goto cleanup;
	for (i = 0; i < o.npids; i++) {
		char service[DISCOVER_SERVICE_MAX];
		enum discover_verdict self;

		server_ancestry(given[i]->pid, &self, service, sizeof(service));
		if (start_tracing(given[i], service)) {
			ret = 2;
			goto cleanup;
		}
		given[i] = NULL;
	}
	if (!st.discover && (err = drop_privileges()))
		pr_warn("could not drop capabilities after attaching: %s\n", strerror(-err));
	/* the HTTP thread starts with the capabilities this thread has now */
	if (st.metrics && metrics__start(st.metrics, metrics_health, NULL, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "sessiontrace: %s\n", errbuf);
		goto cleanup;
	}
	if (st.discover) {
		/* Watch first, then scan: a server starting in between is not missed. */
		if (probe__watch_processes(st.probe, on_proc))
			goto cleanup;
		discover__scan(scan_one, NULL);
		try_pending();
		fprintf(stderr, "sessiontrace: watching for ASGI servers (%d traced now)\n",
			st.ntargets);
	}

	start = now_ms();
	if (o.duration)
		deadline = start + o.duration * 1000LL;
	while (!stop) {
		int timeout = -1, nfd = 0, ntarg;

		if (more)
			timeout = 0; /* records still waiting: look at signals and exits, go on */
		else if (st.npending)
			timeout = RETRY_MS;
		else if (st.ntargets)
			timeout = ST_RB_DRAIN_MS; /* records come without wakeups */
		if (deadline) {
			long long left = deadline - now_ms();

			if (left <= 0)
				break;
			if (timeout < 0 || left < timeout)
				timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		pfd[nfd++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[nfd++] = (struct pollfd){ .fd = probe__epoll_fd(st.probe), .events = POLLIN };
		ntarg = st.ntargets;
		for (i = 0; i < ntarg; i++)
			pfd[nfd++] = (struct pollfd){ .fd = st.targets[i]->pidfd, .events = POLLIN };
		if (poll(pfd, nfd, timeout) < 0) {
			if (errno == EINTR)
				continue;
			pr_warn("poll: %s\n", strerror(errno));
			goto cleanup;
		}
		/* The pidfds match st.targets as it was when polled. */
		for (i = 2; i < nfd; i++)
			if (pfd[i].revents)
				st.targets[i - 2]->exited = true;
		/* Records first: an exiting process's last records are still its own. */
		err = probe__drain(st.probe, DRAIN_BUDGET);
		if (err < 0 && err != -EINTR) {
			pr_warn("ring buffer: %s\n", strerror(-err));
			goto cleanup;
		}
		more = err == 1;
		for (i = st.ntargets - 1; i >= 0; i--)
			if (st.targets[i]->exited)
				drop_target(i, "exited");
		if (st.npending)
			try_pending();
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo != SIGHUP)
				stop = true;
			else if (st.json && (err = jsonlog__reopen(st.json)))
				pr_warn("SIGHUP: cannot reopen %s: %s\n", o.json, strerror(-err));
			else if (st.json)
				pr_debug("SIGHUP: reopened %s\n", o.json);
		}
	}
	/* Records already in the ring buffer belong to this run. */
	/*
	 * Stop the producers first (a storm would otherwise keep the final drain
	 * going), then take every record they made: the counts add up exactly.
	 */
	for (i = 0; i < st.ntargets; i++)
		probe__detach(st.probe, st.targets[i]);
	probe__drain(st.probe, 0);
	ret = 0;
cleanup:
	if (st.probe) {
		probe__counters(st.probe, cnt);
		if (ret == 0) {
			/* every hit is a record, lost, or dropped for a reason: the sums match */
			unsigned long long ndrop = 0;
			char why[256] = "";
			size_t wn = 0;

			for (i = 0; i < DROP_N; i++) {
				ndrop += st.dropped[i];
				if (st.dropped[i] && wn < sizeof(why))
					wn += snprintf(why + wn, sizeof(why) - wn, "%s%s %llu",
						       wn ? ", " : " (", drop_reason_names[i],
						       st.dropped[i]);
			}
			if (wn && wn < sizeof(why) - 1)
				snprintf(why + wn, sizeof(why) - wn, ")");
			fprintf(stderr, "sessiontrace: exiting: %llu records, %llu lost, %llu hits, "
				"%llu AssertionError/KeyError raises examined, %llu probe runs, "
				"%llu processes traced, %llu dropped%s\n",
				st.records, (unsigned long long)cnt[ST_C_LOST],
				(unsigned long long)cnt[ST_C_HITS],
				(unsigned long long)cnt[ST_C_ASSERTS],
				(unsigned long long)cnt[ST_C_RUNS], st.traced, ndrop, why);
		}
		if (ret == 0 && st.write_errors)
			fprintf(stderr, "sessiontrace: %llu of the %llu records could not be written to "
				"%s\n", st.write_errors, st.records, o.json);
		for (i = 0; i < st.ntargets; i++)
			probe__detach(st.probe, st.targets[i]);
	}
	/* before the probe: scrapes read its counters */
	metrics__free(st.metrics);
	st.metrics = NULL;
	for (i = 0; i < st.ntargets; i++)
		target__free(st.targets[i]);
	for (i = 0; i < o.npids; i++)
		target__free(given[i]);
	probe__free(st.probe);
	report__free(st.report);
	jsonlog__close(st.json);
	if (sfd >= 0)
		close(sfd);
	return ret;
}
