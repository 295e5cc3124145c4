// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/options.h"
#include "resolve/props.h"
#include "resolve/target.h"
#include "sink/jsonlog.h"
#include "sink/metrics.h"
#include "util/version.h"

#define OPT_MAX_SERIES    256
#define OPT_JSON_MAX_SIZE 257
#define OPT_JSON_KEEP     258
#define OPT_RECORD_RATE   259
#define OPT_ALLOW_FALLBACK 260
#define OPT_SERVICE_SERIES 261
#define OPT_NO_PREDICT    262
#define RECORD_RATE_DEFAULT 100
#define RECORD_RATE_MAX   1000000

static const char usage[] =
"Usage: sessiontrace [-p PID]... [-j FILE] [-m [ADDR:]PORT] [-d SEC] [-k LIST] [-P MODE]\n"
"                    [-q] [-v]\n"
"       sessiontrace report [--format text|json] FILE...   (see report --help)\n"
"       sessiontrace inspect -p PID [--format text|json]   (see inspect --help)\n"
"\n"
"Attach to running Starlette/FastAPI servers (CPython) and record,\n"
"for every 'SessionMiddleware must be installed to access request.session'\n"
"AssertionError, the request, the Python stack and the code that read the session.\n"
"The server is not restarted, paused or modified.\n"
"\n"
"Without -p, every process now or later that is CPython, has imported starlette\n"
"and holds a listening socket is traced, however it was started (uvicorn,\n"
"gunicorn and uvicorn --workers workers, hypercorn, daphne, python main.py),\n"
"in any container on this host; -v says why a Python process is not.\n"
"\n"
"Options:\n"
"  -p, --pid PID       trace this process only (repeatable)\n"
"  -j, --json FILE     append one JSON object per hit to FILE (created 0600);\n"
"                      SIGHUP reopens it (logrotate)\n"
"      --json-max-size SIZE\n"
"                      rotate FILE to FILE.1, FILE.2, ... before it passes SIZE\n"
"                      bytes (k, M, G suffixes; default: no rotation)\n"
"      --json-keep N   rotated files kept (default 5)\n"
"      --record-rate N full records (file and console) per second for one\n"
"                      service, route, cause and property (default 100); past\n"
"                      it, one summary record a second says how many more came.\n"
"                      The metrics count every hit. 0: a full record per hit\n"
"  -m, --metrics [ADDR:]PORT\n"
"                      serve Prometheus metrics on http://ADDR:PORT/metrics; a bare\n"
"                      PORT listens on 127.0.0.1 only; [::1]:PORT for IPv6\n"
"      --max-series N  at most N label sets of sessiontrace_assertions_total\n"
"                      (default 1000); hits beyond them go to one overflow series\n"
"      --max-series-per-service N\n"
"                      at most N of them for one service (default 250); its hits\n"
"                      beyond go to its own overflow series\n"
"      --no-predict    do not inspect each server when it is attached (by default\n"
"                      what `inspect` would find becomes a prediction record and\n"
"                      sessiontrace_predicted_failures, again on SIGHUP)\n"
"  -d, --duration SEC  stop after SEC seconds (default: until SIGINT/SIGTERM)\n"
"  -k, --kind LIST     which failures to record, comma separated: session,\n"
"                      auth, user (request.auth/.user: AuthenticationMiddleware)\n"
"                      or all (default: all)\n"
"  -P, --probe MODE    what triggers a capture (man sessiontrace):\n"
"                      auto (default): the trigger that costs nothing on healthy\n"
"                      requests, assert up to Python 3.13, watch from 3.14;\n"
"                      raise under python -O (no asserts)\n"
"                      watch: 3.14+, a hardware data breakpoint on the constant\n"
"                      only a failing assert reads; runs only when one fails\n"
"                      assert: up to 3.13 a uprobe on the LOAD_ASSERTION_ERROR\n"
"                      handler, runs only when an assert fails; from 3.14 on\n"
"                      do_raise: runs on every Python raise statement\n"
"                      raise: on _PyErr_SetObject, runs on every exception\n"
"      --allow-fallback\n"
"                      where auto finds no zero-cost trigger (no hardware\n"
"                      breakpoint, debug registers taken), trace on do_raise or\n"
"                      _PyErr_SetObject instead of leaving the process untraced\n"
"  -q, --quiet         no human report on stdout\n"
"  -v, --verbose       debug messages, including libbpf's\n"
"  -V, --version       print the version\n"
"  -h, --help          this text\n"
"\n"
"Examples:\n"
"  sudo sessiontrace                        # every Starlette server, now and later\n"
"  sudo sessiontrace -p $(pgrep -f 'uvicorn main:app')\n"
"  sudo sessiontrace -p 4242 -p 4243 -j /var/log/sessiontrace.jsonl -q\n"
"  sudo sessiontrace -k session -d 60\n"
"  sudo sessiontrace --allow-fallback        # costly probe where no zero-cost one\n"
"  sudo sessiontrace -j /var/log/sessiontrace.jsonl --record-rate 10   # storms\n"
"  sudo sessiontrace -q -j /var/log/sessiontrace.jsonl -m 9464   # + /metrics on loopback\n"
"\n"
"Exit status: 0 on a clean stop, 2 on bad arguments or a process that cannot\n"
"be traced, 1 on other errors.\n";

/* A decimal in [min, max], the whole string: 0, or -EINVAL. */
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
			if (n == strlen(props__name(i)) && !strncmp(p, props__name(i), n))
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

/* "CMD: invalid NAME 'ARG' (HINT)"; without a hint, no parentheses. -EINVAL. */
static int bad_value_of(const char *cmd, const char *name, const char *arg, const char *hint)
{
	fprintf(stderr, "%s: invalid %s '%s'%s%s%s\n", cmd, name, arg, hint ? " (" : "",
		hint ? hint : "", hint ? ")" : "");
	return -EINVAL;
}

int options__pid(const char *cmd, const char *arg, pid_t *pid)
{
	long v;

	if (parse_long(arg, 1, INT_MAX, &v))
		return bad_value_of(cmd, "pid", arg, NULL);
	*pid = (pid_t)v;
	return 0;
}

int options__format(const char *cmd, const char *arg, bool *json)
{
	if (strcmp(arg, "text") && strcmp(arg, "json"))
		return bad_value_of(cmd, "--format", arg, "text or json");
	*json = !strcmp(arg, "json");
	return 0;
}

static int bad_value(const char *name, const char *arg, const char *hint)
{
	return bad_value_of("sessiontrace", name, arg, hint);
}

/* A number in [min, max] into *out, else bad_value with "MIN to MAX" and the note. */
static int ranged(const char *name, const char *arg, long min, long max, const char *note,
		  long *out)
{
	char hint[96];

	if (!parse_long(arg, min, max, out))
		return 0;
	snprintf(hint, sizeof(hint), "%ld to %ld%s", min, max, note);
	return bad_value(name, arg, hint);
}

static int add_pid(struct tracer_opts *o, const char *arg)
{
	pid_t pid;
	int i;

	if (options__pid("sessiontrace", arg, &pid))
		return -EINVAL;
	if (o->npids >= TRACER_MAX_PIDS) {
		fprintf(stderr, "sessiontrace: at most %d -p options\n", TRACER_MAX_PIDS);
		return -EINVAL;
	}
	for (i = 0; i < o->npids && o->pids[i] != pid; i++)
		;
	if (i == o->npids)
		o->pids[o->npids++] = pid;
	return 0;
}

static int set_probe(struct tracer_opts *o, const char *arg)
{
	if (target__probe_parse(arg, &o->probe))
		return bad_value("--probe", arg, "watch, assert, raise or auto");
	return 0;
}

/* One option: 0 parsed, 1 done (--help, --version), -EINVAL with one line said. */
static int apply(int c, const char *arg, struct tracer_opts *o, int *verbose)
{
	long v;

	switch (c) {
	case 'p':
		return add_pid(o, arg);
	case 'j':
		o->json = arg;
		return 0;
	case OPT_JSON_MAX_SIZE:
		if (jsonlog__parse_size(arg, &o->json_max_size))
			return bad_value("--json-max-size", arg, "bytes, or with k, M, G");
		return 0;
	case OPT_JSON_KEEP:
		if (ranged("--json-keep", arg, 1, JSONLOG_MAX_KEEP, "", &v))
			return -EINVAL;
		o->json_keep = v;
		return 0;
	case 'm':
		o->metrics = arg;
		return 0;
	case OPT_MAX_SERIES:
		if (ranged("--max-series", arg, 1, METRICS_MAX_SERIES, "", &v))
			return -EINVAL;
		o->max_series = v;
		return 0;
	case OPT_SERVICE_SERIES:
		if (ranged("--max-series-per-service", arg, 1, METRICS_MAX_SERIES, "", &v))
			return -EINVAL;
		o->max_service_series = v;
		return 0;
	case OPT_RECORD_RATE:
		if (ranged("--record-rate", arg, 0, RECORD_RATE_MAX, " records a second; 0: no limit",
			   &v))
			return -EINVAL;
		o->record_rate = v;
		return 0;
	case 'd':
		if (parse_long(arg, 1, 365L * 24 * 3600, &v))
			return bad_value("duration", arg, "seconds, >= 1");
		o->duration = v;
		return 0;
	case 'k':
		if (parse_kinds(arg, &o->kinds))
			return bad_value("--kind", arg, "session, auth, user, all; comma separated");
		return 0;
	case 'P':
		return set_probe(o, arg);
	case OPT_ALLOW_FALLBACK:
		o->allow_fallback = true;
		return 0;
	case OPT_NO_PREDICT:
		o->no_predict = true;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	case 'v':
		(*verbose)++;
		return 0;
	case 'V':
		printf("sessiontrace %s\n", ST_VERSION);
		return 1;
	case 'h':
		fputs(usage, stdout);
		return 1;
	default:
		fprintf(stderr, "Try 'sessiontrace --help'.\n");
		return -EINVAL;
	}
}

int options__parse(int argc, char **argv, struct tracer_opts *o, int *verbose)
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
		{ "max-series-per-service", required_argument, NULL, OPT_SERVICE_SERIES },
		{ "record-rate", required_argument, NULL, OPT_RECORD_RATE },
		{ "allow-fallback", no_argument, NULL, OPT_ALLOW_FALLBACK },
		{ "no-predict", no_argument, NULL, OPT_NO_PREDICT },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c, err;

	while ((c = getopt_long(argc, argv, "p:j:m:d:k:P:qvVh", longopts, NULL)) != -1) {
		err = apply(c, optarg, o, verbose);
		if (err)
			return err;
	}
	if (optind < argc) {
		fprintf(stderr, "sessiontrace: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

void options__defaults(struct tracer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->kinds = (1U << ST_NPROPS) - 1;
	o->probe = TARGET_PROBE_AUTO;
	o->json_keep = JSONLOG_DEFAULT_KEEP;
	o->max_series = METRICS_DEFAULT_SERIES;
	o->max_service_series = METRICS_DEFAULT_SERVICE_SERIES;
	o->record_rate = RECORD_RATE_DEFAULT;
}

