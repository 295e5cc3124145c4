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
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "probe.h"
#include "report.h"
#include "target.h"

#define MAX_PIDS 256

static const char usage[] =
"Usage: sessiontrace -p PID [-p PID]... [-j FILE] [-d SEC] [-q] [-v]\n"
"\n"
"Attach to running uvicorn/gunicorn/hypercorn processes (CPython) and record,\n"
"for every 'SessionMiddleware must be installed to access request.session'\n"
"AssertionError, the request, the Python stack and the code that read the session.\n"
"The server is not restarted, paused or modified.\n"
"\n"
"Options:\n"
"  -p, --pid PID       trace this process (repeatable)\n"
"  -j, --json FILE     append one JSON object per hit to FILE (created 0600)\n"
"  -d, --duration SEC  stop after SEC seconds (default: until SIGINT/SIGTERM)\n"
"  -k, --kind LIST     which failures to record, comma separated: session,\n"
"                      auth, user (request.auth/.user: AuthenticationMiddleware)\n"
"                      or all (default: all)\n"
"  -q, --quiet         no human report on stdout\n"
"  -v, --verbose       debug messages, including libbpf's\n"
"  -h, --help          this text\n"
"\n"
"Examples:\n"
"  sudo sessiontrace -p $(pgrep -f 'uvicorn main:app')\n"
"  sudo sessiontrace -p 4242 -p 4243 -j /var/log/sessiontrace.jsonl -q\n"
"  sudo sessiontrace -p 4242 -d 60\n"
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
};

struct state {
	struct probe *probe;
	struct report *report;
	struct target *targets[MAX_PIDS];
	int ntargets;
	unsigned long long records, write_errors, not_hits;
};

static struct state st;

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

static void on_event(void *ctx, const struct st_event *ev)
{
	struct target *t = find_target(ev->pid);
	int err;

	if (!t)
		return;
	err = report__event(st.report, t, ev);
	if (err == 1) {
		st.not_hits++;
		return;
	}
	st.records++;
	if (err && st.write_errors++ == 0)
		pr_warn("failed to write a JSON record: %s (records keep being counted)\n",
			strerror(-err));
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
	static const char *const names[ST_NPROPS] = { "session", "auth", "user" };
	const char *p = arg;
	unsigned bits = 0;
	int i;

	while (*p) {
		size_t n = strcspn(p, ",");

		for (i = 0; i < ST_NPROPS; i++)
			if (n == strlen(names[i]) && !strncmp(p, names[i], n))
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
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	long v;
	int c, i;

	while ((c = getopt_long(argc, argv, "p:j:d:k:qvh", longopts, NULL)) != -1) {
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
	if (!o->npids) {
		fprintf(stderr, "sessiontrace: no process given: use -p PID (automatic discovery "
			"of servers is not implemented yet)\n");
		return -EINVAL;
	}
	return 0;
}

static int open_json(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
	struct stat sb;

	if (fd < 0) {
		fprintf(stderr, "sessiontrace: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "sessiontrace: %s is not a regular file\n", path);
		close(fd);
		return -1;
	}
	if (sb.st_mode & 077)
		pr_warn("%s is readable by others (mode %03o); records contain request paths\n",
			path, sb.st_mode & 0777);
	return fd;
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

int main(int argc, char **argv)
{
	struct options o = { .kinds = (1U << ST_NPROPS) - 1 };
	struct pollfd pfd[MAX_PIDS + 2];
	struct timespec start, now;
	sigset_t mask;
	__u64 cnt[ST_NCOUNTERS];
	int sfd = -1, json_fd = -1, ret = 1, err, i;
	char errbuf[512];
	bool stop = false;

	setvbuf(stderr, NULL, _IOLBF, 0);
	if (parse_args(argc, argv, &o))
		return 2;
	log__set_level(o.verbose >= 1 ? LOG_DEBUG : LOG_WARN);
	libbpf_set_print(libbpf_print);

	/* Resolve every target before touching the kernel: bad input attaches nothing. */
	for (i = 0; i < o.npids; i++) {
		err = target__new(o.pids[i], &st.targets[st.ntargets], errbuf, sizeof(errbuf));
		if (err) {
			fprintf(stderr, "sessiontrace: %s\n", errbuf);
			ret = 2;
			goto cleanup;
		}
		st.targets[st.ntargets]->bpf.kinds = o.kinds;
		st.ntargets++;
	}
	if (o.json) {
		json_fd = open_json(o.json);
		if (json_fd < 0) {
			ret = 2;
			goto cleanup;
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		pr_warn("signalfd: %s\n", strerror(errno));
		goto cleanup;
	}
	st.report = report__new(o.quiet ? NULL : stdout, json_fd);
	if (!st.report)
		goto cleanup;
	st.probe = probe__new(on_event, NULL);
	if (!st.probe)
		goto cleanup;
	for (i = 0; i < st.ntargets; i++) {
		if (probe__attach(st.probe, st.targets[i])) {
			ret = 2;
			goto cleanup;
		}
	}
	for (i = 0; i < st.ntargets; i++)
		fprintf(stderr, "attached pid=%d python=%s probe=raise\n", st.targets[i]->pid,
			st.targets[i]->python);

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!stop) {
		int timeout = -1, nfd = 0;

		if (o.duration) {
			long long left;

			clock_gettime(CLOCK_MONOTONIC, &now);
			left = o.duration * 1000LL - ((now.tv_sec - start.tv_sec) * 1000LL +
						      (now.tv_nsec - start.tv_nsec) / 1000000);
			if (left <= 0)
				break;
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		pfd[nfd++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[nfd++] = (struct pollfd){ .fd = probe__epoll_fd(st.probe), .events = POLLIN };
		for (i = 0; i < st.ntargets; i++)
			pfd[nfd++] = (struct pollfd){ .fd = st.targets[i]->pidfd, .events = POLLIN };
		if (poll(pfd, nfd, timeout) < 0) {
			if (errno == EINTR)
				continue;
			pr_warn("poll: %s\n", strerror(errno));
			goto cleanup;
		}
		if (pfd[1].revents) {
			err = probe__poll(st.probe, 0);
			if (err < 0 && err != -EINTR) {
				pr_warn("ring buffer: %s\n", strerror(-err));
				goto cleanup;
			}
		}
		/* Walk backwards: drop_target moves the last target into the slot. */
		for (i = nfd - 1; i >= 2; i--)
			if (pfd[i].revents)
				drop_target(i - 2, "exited");
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				stop = true;
		}
	}
	/* Records already in the ring buffer belong to this run. */
	probe__poll(st.probe, 0);
	ret = 0;
cleanup:
	if (st.probe) {
		probe__counters(st.probe, cnt);
		if (ret == 0)
			fprintf(stderr, "sessiontrace: exiting: %llu records, %llu lost, %llu "
				"assertion raises seen, %llu probe runs\n", st.records,
				(unsigned long long)cnt[ST_C_LOST],
				(unsigned long long)cnt[ST_C_ASSERTS],
				(unsigned long long)cnt[ST_C_RUNS]);
		for (i = 0; i < st.ntargets; i++)
			probe__detach(st.probe, st.targets[i]);
	}
	for (i = 0; i < st.ntargets; i++)
		target__free(st.targets[i]);
	probe__free(st.probe);
	report__free(st.report);
	if (json_fd >= 0)
		close(json_fd);
	if (sfd >= 0)
		close(sfd);
	return ret;
}
