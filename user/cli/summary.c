// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <json-c/json.h>
#include "cli/filter.h"
#include "cli/timeline.h"
#include "util/hashmap.h"
#include "util/escape.h"
#include "cli/options.h"
#include "cli/summary.h"

#define LINE_MAX_BYTES (4u << 20) /* a record is a few KB; anything bigger is not one */
#define KEY_MAX        512

enum dim { BY_CAUSE, BY_ROUTE, BY_ACCESSOR, BY_SERVICE, NDIMS };

static const char *const dim_names[NDIMS] = { "cause", "route", "accessor", "service" };

struct group {
	char *key;
	char *hint;             /* by cause: the fix, from the first record */
	unsigned long long count;
	char first[40], last[40]; /* RFC 3339 UTC: compare as strings */
};

struct groups {
	struct group *v;
	size_t n, cap;
	struct hashmap index; /* key (the group's own string) -> position in v + 1 */
};

/*
 * Records files are untrusted input (they may come from elsewhere): every
 * line is read into a bounded buffer, longer ones are skipped and counted,
 * every string printed to a terminal is escaped, grouping is by hash.
 */
struct summary {
	struct groups g[NDIMS];
	unsigned long long records, invalid, overlong;
	unsigned long long predictions; /* "kind":"prediction" records: not failures */
	unsigned long long read;        /* records (a summary counts N) before the filter */
	unsigned long long unreadable;  /* files whose compressed data broke off */
	struct report_filter filter;
	struct timeline *tl;            /* the matched records over time */
	double bucket;                  /* --bucket, 0: chosen */
	double first_ts, last_ts;       /* of the matched, Unix seconds; NAN: none */
	char first[40], last[40];
	uint64_t seed; /* of the keys' hash: a records file's fields are anyone's */
};

struct summary *summary__new(void)
{
	struct summary *s = calloc(1, sizeof(struct summary));
	size_t d;

	if (s) {
		s->seed = hashmap__seed();
		filter__init(&s->filter);
		s->first_ts = s->last_ts = NAN;
		s->tl = timeline__new(60);
		if (!s->tl) {
			free(s);
			return NULL;
		}
	}
	for (d = 0; s && d < NDIMS; d++)
		hashmap__init(&s->g[d].index, hashmap__hash_str, hashmap__equal_str, &s->seed);
	return s;
}

void summary__free(struct summary *s)
{
	size_t d, i;

	if (!s)
		return;
	for (d = 0; d < NDIMS; d++) {
		for (i = 0; i < s->g[d].n; i++) {
			free(s->g[d].v[i].key);
			free(s->g[d].v[i].hint);
		}
		free(s->g[d].v);
		hashmap__clear(&s->g[d].index);
	}
	timeline__free(s->tl);
	free(s);
}

/*
 * Count only the records f matches, and show the timeline in buckets of
 * `bucket` seconds (0: chosen from the window). 0 or -ENOMEM.
 */
static int set_filter(struct summary *s, const struct report_filter *f, double bucket)
{
	struct timeline *tl = timeline__new(bucket > 0 ? bucket : 60);

	if (!tl)
		return -ENOMEM;
	timeline__free(s->tl);
	s->tl = tl;
	s->filter = *f;
	s->bucket = bucket;
	return 0;
}

static void seen(char *first, char *last, const char *ts)
{
	if (!ts[0])
		return;
	if (!first[0] || strcmp(ts, first) < 0)
		snprintf(first, 40, "%s", ts);
	if (!last[0] || strcmp(ts, last) > 0)
		snprintf(last, 40, "%s", ts);
}

/* Counts from untrusted summaries saturate instead of wrapping. */
static unsigned long long sat_add(unsigned long long a, unsigned long long b)
{
	return a + b < a ? ~0ULL : a + b;
}

/* n more records of key, from ts to last (a summary), or one at ts (last NULL). */
static int account(struct groups *g, const char *key, unsigned long long n, const char *ts,
		   const char *last, const char *hint)
{
	struct group *x = NULL;
	uintptr_t at;

	if (hashmap__find(&g->index, (uintptr_t)key, &at))
		x = &g->v[at - 1];
	if (!x) {
		if (g->n == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 16;
			struct group *v = realloc(g->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			g->v = v;
			g->cap = cap;
		}
		x = &g->v[g->n];
		memset(x, 0, sizeof(*x));
		x->key = strdup(key);
		if (!x->key)
			return -ENOMEM;
		if (hashmap__set(&g->index, (uintptr_t)x->key, g->n + 1)) {
			free(x->key);
			return -ENOMEM;
		}
		g->n++;
	}
	if (hint && !x->hint)
		x->hint = strdup(hint);
	x->count = sat_add(x->count, n);
	seen(x->first, x->last, ts);
	if (last)
		seen(x->first, x->last, last);
	return 0;
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int int_of(struct json_object *o, const char *key, long long *out)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

/*
 * A summary record ("N more like this", sink/limit.h) stands for N records:
 * {"summary": {"count": N, "since": ts, "until": ts}}. 0 when rec is not one.
 */
#define SUMMARY_COUNT_MAX (1ULL << 53)
static unsigned long long summary_of(struct json_object *rec, const char **since, const char **until)
{
	struct json_object *sum;
	long long n;

	if (!json_object_object_get_ex(rec, "summary", &sum) ||
	    !json_object_is_type(sum, json_type_object) || int_of(sum, "count", &n) || n < 1 ||
	    (unsigned long long)n > SUMMARY_COUNT_MAX || !(*since = str_of(sum, "since")) ||
	    !(*until = str_of(sum, "until")))
		return 0;
	return n;
}

int summary__add_line(struct summary *s, const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *rec, *acc = NULL;
	const char *ts, *v, *fn, *file, *last = NULL;
	unsigned long long n = 1;
	char key[KEY_MAX];
	long long lineno;
	double when;
	int err = 0;

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (!len)
		return 0; /* blank line: not counted either way */
	if (len > LINE_MAX_BYTES || len > INT32_MAX)
		goto invalid;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	rec = json_tokener_parse_ex(tok, line, (int)len);
	if (!rec || json_tokener_get_error(tok) != json_tokener_success ||
	    tok->char_offset != (int)len || !json_object_is_type(rec, json_type_object) ||
	    !(ts = str_of(rec, "ts"))) {
		json_object_put(rec);
		json_tokener_free(tok);
		goto invalid;
	}
	/* inspect's findings, written when a server was attached: no failure (yet) */
	if (str_of(rec, "kind") && !strcmp(str_of(rec, "kind"), "prediction")) {
		json_object_put(rec);
		json_tokener_free(tok);
		s->predictions++;
		return 1;
	}
	if (!json_object_object_get_ex(rec, "stack", NULL) && !(n = summary_of(rec, &ts, &last))) {
		json_object_put(rec);
		json_tokener_free(tok);
		goto invalid;
	}
	json_tokener_free(tok);
	s->read = sat_add(s->read, n);
	/* a summary's hits are at its until; a record's at its ts */
	if (filter__parse_rfc3339(last ? last : ts, &when))
		when = NAN;
	if (filter__active(&s->filter) && !filter__match(&s->filter, rec, when)) {
		json_object_put(rec);
		return 1;
	}
	s->records = sat_add(s->records, n);
	seen(s->first, s->last, ts);
	if (last)
		seen(s->first, s->last, last);
	if (!isnan(when)) {
		if (isnan(s->first_ts) || when < s->first_ts)
			s->first_ts = when;
		if (isnan(s->last_ts) || when > s->last_ts)
			s->last_ts = when;
		err = timeline__add(s->tl, when, n);
	}
	v = str_of(rec, "cause");
	err = err ?: account(&s->g[BY_CAUSE], v ? v : "unknown", n, ts, last, str_of(rec, "hint"));
	v = str_of(rec, "route");
	err = err ?: account(&s->g[BY_ROUTE], v ? v : "<none>", n, ts, last, NULL);
	json_object_object_get_ex(rec, "accessor", &acc);
	fn = str_of(acc, "function");
	file = str_of(acc, "file");
	if (fn && file && !int_of(acc, "line", &lineno))
		snprintf(key, sizeof(key), "%s (%s:%lld)", fn, file, lineno);
	else
		snprintf(key, sizeof(key), "<none>");
	err = err ?: account(&s->g[BY_ACCESSOR], key, n, ts, last, NULL);
	v = str_of(rec, "service");
	err = err ?: account(&s->g[BY_SERVICE], v ? v : "<none>", n, ts, last, NULL);
	json_object_put(rec);
	return err;
invalid:
	s->invalid++;
	return -EINVAL;
}

static int by_count(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* Groups by count; the index follows them (printing may come before more lines). */
static void sorted(const struct summary *cs)
{
	struct summary *s = (struct summary *)cs;
	size_t d, i;

	for (d = 0; d < NDIMS; d++) {
		struct groups *g = &s->g[d];

		if (!g->n)
			continue;
		qsort(g->v, g->n, sizeof(*g->v), by_count);
		for (i = 0; i < g->n; i++)
			hashmap__set(&g->index, (uintptr_t)g->v[i].key, i + 1); /* keys exist: no alloc */
	}
}

static void put_term(FILE *out, const char *str)
{
	struct strbuf sb;

	strbuf__init(&sb);
	escape__term(&sb, str, strlen(str));
	if (sb.buf)
		fputs(sb.buf, out);
	strbuf__free(&sb);
}

/* Escaped, then padded to width columns (timestamps: ASCII once escaped). */
static void put_term_width(FILE *out, const char *str, int width)
{
	struct strbuf sb;

	strbuf__init(&sb);
	escape__term(&sb, str, strlen(str));
	fprintf(out, "%-*s", width, sb.buf ? sb.buf : "");
	strbuf__free(&sb);
}

/* The window the timeline shows: the filter's bounds, else the matched records' own. */
static void window(const struct summary *s, double *from, double *to)
{
	*from = !isnan(s->filter.since) ? s->filter.since : s->first_ts;
	*to = !isnan(s->filter.until) ? s->filter.until : s->last_ts;
}

/* Columns of the terminal out is, else $COLUMNS, else 80. */
static int columns(FILE *out)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");

	if (isatty(fileno(out)) && !ioctl(fileno(out), TIOCGWINSZ, &ws) && ws.ws_col)
		return ws.ws_col;
	if (env && atoi(env) > 0)
		return atoi(env) < 1000 ? atoi(env) : 1000;
	return 80;
}

/* Bars of block characters on a UTF-8 terminal, '#' anywhere else. */
static bool utf8_terminal(FILE *out)
{
	const char *v = getenv("LC_ALL");

	if (!v || !*v)
		v = getenv("LC_CTYPE");
	if (!v || !*v)
		v = getenv("LANG");
	return isatty(fileno(out)) && v && (strstr(v, "UTF-8") || strstr(v, "utf8"));
}

/* The first and last hit of each cause, marked on the timeline. */
static void print_timeline(const struct summary *s, FILE *out)
{
	const struct groups *g = &s->g[BY_CAUSE];
	struct timeline_mark *marks = calloc(2 * g->n + 1, sizeof(*marks));
	char **texts = calloc(2 * g->n + 1, sizeof(*texts));
	double from, to;
	size_t i, n = 0;

	window(s, &from, &to);
	if (!marks || !texts || isnan(from) || isnan(to)) {
		free(marks);
		free(texts);
		return;
	}
	for (i = 0; i < g->n && i < 16; i++) {
		struct strbuf sb;
		double t;

		strbuf__init(&sb);
		escape__term(&sb, g->v[i].key, strlen(g->v[i].key));
		if (!filter__parse_rfc3339(g->v[i].first, &t) &&
		    asprintf(&texts[n], "first %s", sb.buf ? sb.buf : "") > 0)
			marks[n] = (struct timeline_mark){ t, texts[n] }, n++;
		if (!filter__parse_rfc3339(g->v[i].last, &t) &&
		    asprintf(&texts[n], "last %s", sb.buf ? sb.buf : "") > 0)
			marks[n] = (struct timeline_mark){ t, texts[n] }, n++;
		strbuf__free(&sb);
	}
	timeline__print_text(s->tl, from, to, s->bucket, columns(out), utf8_terminal(out), marks, n,
			     out);
	for (i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	free(marks);
}

void summary__print_text(const struct summary *s, FILE *out)
{
	size_t d, i;

	sorted(s);
	fprintf(out, "%llu records", s->records);
	if (filter__active(&s->filter))
		fprintf(out, " matched, of %llu read", s->read);
	if (s->records) {
		fputs(", first ", out);
		put_term(out, s->first);
		fputs(", last ", out);
		put_term(out, s->last);
	}
	if (s->invalid)
		fprintf(out, " (%llu lines were not records and were skipped)", s->invalid);
	if (s->predictions)
		fprintf(out, " (%llu prediction records of inspect's are not failures: not counted)",
			s->predictions);
	if (s->overlong)
		fprintf(out, " (%llu of them longer than %u bytes)", s->overlong, LINE_MAX_BYTES);
	if (s->unreadable)
		fprintf(out, " (%llu files broke off: corrupt compressed data)", s->unreadable);
	fputc('\n', out);
	if (s->records)
		print_timeline(s, out);
	for (d = 0; d < NDIMS; d++) {
		if (!s->g[d].n)
			continue;
		fprintf(out, "\nby %s:\n  %8s  %-27s  %-27s  %s\n", dim_names[d], "count", "first seen",
			"last seen", dim_names[d]);
		for (i = 0; i < s->g[d].n; i++) {
			const struct group *x = &s->g[d].v[i];

			fprintf(out, "  %8llu  ", x->count);
			put_term_width(out, x->first, 27);
			fputs("  ", out);
			put_term_width(out, x->last, 27);
			fputs("  ", out);
			put_term(out, x->key);
			fputc('\n', out);
			if (x->hint) {
				fputs("            fix: ", out);
				put_term(out, x->hint);
				fputc('\n', out);
			}
		}
	}
}

void summary__print_json(const struct summary *s, FILE *out)
{
	struct json_object *root = json_object_new_object();
	double from, to;
	size_t d, i;

	sorted(s);
	json_object_object_add(root, "records", json_object_new_int64((int64_t)s->records));
	json_object_object_add(root, "read", json_object_new_int64((int64_t)s->read));
	json_object_object_add(root, "invalid_lines", json_object_new_int64((int64_t)s->invalid));
	json_object_object_add(root, "predictions", json_object_new_int64((int64_t)s->predictions));
	json_object_object_add(root, "overlong_lines", json_object_new_int64((int64_t)s->overlong));
	json_object_object_add(root, "first_seen", s->first[0] ? json_object_new_string(s->first) : NULL);
	json_object_object_add(root, "last_seen", s->last[0] ? json_object_new_string(s->last) : NULL);
	window(s, &from, &to);
	json_object_object_add(root, "timeline", timeline__json(s->tl, from, to, s->bucket));
	for (d = 0; d < NDIMS; d++) {
		struct json_object *arr = json_object_new_array();
		char name[32];

		for (i = 0; i < s->g[d].n; i++) {
			const struct group *x = &s->g[d].v[i];
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, dim_names[d], json_object_new_string(x->key));
			json_object_object_add(o, "count", json_object_new_int64((int64_t)x->count));
			json_object_object_add(o, "first_seen", json_object_new_string(x->first));
			json_object_object_add(o, "last_seen", json_object_new_string(x->last));
			if (x->hint)
				json_object_object_add(o, "hint", json_object_new_string(x->hint));
			json_object_array_add(arr, o);
		}
		snprintf(name, sizeof(name), "by_%s", dim_names[d]);
		json_object_object_add(root, name, arr);
	}
	fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
					     JSON_C_TO_STRING_NOSLASHESCAPE), out);
	fputc('\n', out);
	json_object_put(root);
}

static const char usage[] =
"Usage: sessiontrace report [OPTIONS] FILE...\n"
"\n"
"Summarize sessiontrace records (the -j file and its rotated copies FILE.1,\n"
"FILE.2, ..., gzip-compressed or not; any order): how many failures, by cause\n"
"(with the fix), by route template, by the code that read the session\n"
"(accessor) and by service, each with when it was first and last seen, and a\n"
"timeline of the hits. Lines that are not records are skipped and counted (also\n"
"lines over 4 MiB); a file given twice is read once; '-' reads standard input.\n"
"Exit status: 0, 1 when nothing in the files is a record, 2 on a file that\n"
"cannot be read or a bad option.\n"
"\n"
"Which records (every one given must match):\n"
"      --since TIME   at or after TIME: RFC 3339 (2026-11-24T14:02:00Z) or ago\n"
"                     (30m, 2h, 1d)\n"
"      --until TIME   at or before TIME\n"
"      --service S    --route R    --cause C    --pid N\n"
"      --container ID --pod-uid UID --hostname H\n"
"                     exactly these values (the record's fields)\n"
"\n"
"  -f, --format FMT   text (default), json (one object, with the same numbers)\n"
"                     or jsonl (the matching records themselves, unchanged)\n"
"      --bucket DUR   timeline buckets of DUR (90s, 5m, 1h; default: chosen from\n"
"                     the window, at most 60 of them)\n"
"  -h, --help         this text\n"
"\n"
"Examples:\n"
"  sessiontrace report /var/log/sessiontrace/records.jsonl*\n"
"  sessiontrace report --since 2026-11-24T14:02:00Z --until 2026-11-24T14:20:00Z \\\n"
"      --service main:app records.jsonl*\n"
"  sessiontrace report --since 2h --cause middleware_order --bucket 5m records.jsonl*\n"
"  sessiontrace report --format jsonl --pod-uid 5a1e7c3d-2b4f-4c6a-9d8e-1f2a3b4c5d6e \\\n"
"      records.jsonl.*.gz | jq .request.path\n"
"  sessiontrace report --format json records.jsonl | jq '.by_route[0]'\n";

/*
 * One line into buf (at most cap bytes, no newline, NUL-terminated). A longer
 * line is read to its end but not kept: *overlong. 1: a line, 0: end of file.
 */
static int read_line(gzFile f, char *buf, size_t cap, size_t *len, bool *overlong)
{
	int c;

	*len = 0;
	*overlong = false;
	while ((c = gzgetc(f)) != -1 && c != '\n') {
		if (*len < cap)
			buf[(*len)++] = (char)c;
		else
			*overlong = true;
	}
	buf[*len] = 0;
	return c != EOF || *len || *overlong;
}

/*
 * Every line of path (gzip-compressed or not: zlib reads both; "-" is
 * standard input) into s; with jsonl, the matching records' lines go to
 * stdout unchanged. Compressed data that breaks off (a corrupt member, a
 * cut file) ends the file with one line on stderr; what came before counts.
 */
static int read_file(struct summary *s, const char *path, bool jsonl)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(0);
	gzFile f = fd >= 0 ? gzdopen(fd, "rb") : NULL;
	char *line;
	size_t n;
	bool overlong;
	int err = 0, zerr;

	if (!f) {
		fprintf(stderr, "sessiontrace report: cannot open %s: %s\n", path,
			strerror(fd < 0 ? errno : ENOMEM));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	gzbuffer(f, 128 << 10);
	line = malloc(LINE_MAX_BYTES + 1);
	if (!line) {
		fprintf(stderr, "sessiontrace report: out of memory\n");
		err = 1;
	}
	while (!err && read_line(f, line, LINE_MAX_BYTES, &n, &overlong)) {
		int ret;

		if (overlong) {
			s->invalid++;
			s->overlong++;
			continue;
		}
		ret = summary__add_line(s, line, n);
		if (ret == -ENOMEM) {
			fprintf(stderr, "sessiontrace report: out of memory\n");
			err = 1;
		} else if (ret == 0 && jsonl) {
			fwrite(line, 1, n, stdout);
			putchar('\n');
		}
	}
	gzerror(f, &zerr);
	if (!err && zerr != Z_OK && zerr != Z_STREAM_END) {
		/* what came before the break counts; the rest of the file cannot be read */
		fprintf(stderr, "sessiontrace report: %s: %s; the rest of it is skipped\n", path,
			zerr == Z_ERRNO ? strerror(errno) : "corrupt compressed data");
		s->unreadable++;
	}
	free(line);
	gzclose(f);
	return err;
}

enum { OPT_SINCE = 256, OPT_UNTIL, OPT_SERVICE, OPT_ROUTE, OPT_CAUSE, OPT_PID, OPT_CONTAINER,
       OPT_POD_UID, OPT_HOSTNAME, OPT_BUCKET };

/* One option of report's: 0, or 2 (the exit status) with one line said. */
static int report_option(int c, const char *arg, struct report_filter *f, double *bucket,
			 int *format)
{
	double now = (double)time(NULL);
	char *end;

	switch (c) {
	case 'f':
		if (!strcmp(arg, "jsonl")) {
			*format = 2;
			return 0;
		}
		{
			bool json;

			if (options__format("sessiontrace report", arg, &json))
				return 2;
			*format = json;
		}
		return 0;
	case OPT_SINCE:
	case OPT_UNTIL:
		if (filter__parse_time(arg, now, c == OPT_SINCE ? &f->since : &f->until))
			break;
		return 0;
	case OPT_BUCKET:
		if (filter__parse_duration(arg, bucket) || *bucket < 1)
			break;
		return 0;
	case OPT_PID:
		errno = 0;
		f->pid = strtoll(arg, &end, 10);
		if (errno || end == arg || *end || f->pid < 0)
			break;
		return 0;
	case OPT_SERVICE: f->service = arg; return 0;
	case OPT_ROUTE: f->route = arg; return 0;
	case OPT_CAUSE: f->cause = arg; return 0;
	case OPT_CONTAINER: f->container = arg; return 0;
	case OPT_POD_UID: f->pod_uid = arg; return 0;
	case OPT_HOSTNAME: f->hostname = arg; return 0;
	default:
		fprintf(stderr, "Try 'sessiontrace report --help'.\n");
		return 2;
	}
	fprintf(stderr, "sessiontrace report: bad value '%s' for %s (%s)\n", arg,
		c == OPT_PID ? "--pid" : c == OPT_BUCKET ? "--bucket" : c == OPT_SINCE ? "--since" :
		"--until", c == OPT_PID ? "a process id" : c == OPT_BUCKET ?
		"a duration: 90s, 5m, 1h, 1d" : "RFC 3339, e.g. 2026-11-24T14:02:00Z, or 30m, 2h, 1d");
	return 2;
}

/* path names a file read already (the same device and inode): it is not read twice. */
static bool read_before(char *const *paths, int n, const char *path)
{
	struct stat a, b;
	int i;

	if (!strcmp(path, "-") || stat(path, &a))
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(paths[i], "-") && !stat(paths[i], &b) && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			fprintf(stderr, "sessiontrace report: %s is %s, read once\n", path, paths[i]);
			return true;
		}
	return false;
}

int summary__main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "service", required_argument, NULL, OPT_SERVICE },
		{ "route", required_argument, NULL, OPT_ROUTE },
		{ "cause", required_argument, NULL, OPT_CAUSE },
		{ "pid", required_argument, NULL, OPT_PID },
		{ "container", required_argument, NULL, OPT_CONTAINER },
		{ "pod-uid", required_argument, NULL, OPT_POD_UID },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "bucket", required_argument, NULL, OPT_BUCKET },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct report_filter f;
	struct summary *s;
	double bucket = 0;
	int c, i, ret = 0, format = 0; /* 0 text, 1 json, 2 jsonl */

	optind = 1;
	filter__init(&f);
	while ((c = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		if (report_option(c, optarg, &f, &bucket, &format))
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "sessiontrace report: no records file given\n"
			"Try 'sessiontrace report --help'.\n");
		return 2;
	}
	s = summary__new();
	if (!s || set_filter(s, &f, bucket)) {
		fprintf(stderr, "sessiontrace report: out of memory\n");
		summary__free(s);
		return 1;
	}
	for (i = optind; i < argc && !ret; i++)
		if (!read_before(argv + optind, i - optind, argv[i]))
			ret = read_file(s, argv[i], format == 2);
	if (!ret && !s->read && s->invalid) {
		fprintf(stderr, "sessiontrace report: no records in %s: %llu lines, none a "
			"sessiontrace record\n", argc - optind == 1 ? argv[optind] : "the files given",
			s->invalid);
		ret = 1;
	}
	if (!ret && format == 1)
		summary__print_json(s, stdout);
	else if (!ret && format == 0)
		summary__print_text(s, stdout);
	summary__free(s);
	return ret;
}
