// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
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
	char first[40], last[40];
	uint64_t seed; /* of the keys' hash: a records file's fields are anyone's */
};

struct summary *summary__new(void)
{
	struct summary *s = calloc(1, sizeof(struct summary));
	size_t d;

	if (s)
		s->seed = hashmap__seed();
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
	free(s);
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
		return 0;
	}
	if (!json_object_object_get_ex(rec, "stack", NULL) && !(n = summary_of(rec, &ts, &last))) {
		json_object_put(rec);
		json_tokener_free(tok);
		goto invalid;
	}
	json_tokener_free(tok);
	s->records = sat_add(s->records, n);
	seen(s->first, s->last, ts);
	if (last)
		seen(s->first, s->last, last);
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

void summary__print_text(const struct summary *s, FILE *out)
{
	size_t d, i;

	sorted(s);
	fprintf(out, "%llu records", s->records);
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
	fputc('\n', out);
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
	size_t d, i;

	sorted(s);
	json_object_object_add(root, "records", json_object_new_int64((int64_t)s->records));
	json_object_object_add(root, "invalid_lines", json_object_new_int64((int64_t)s->invalid));
	json_object_object_add(root, "predictions", json_object_new_int64((int64_t)s->predictions));
	json_object_object_add(root, "overlong_lines", json_object_new_int64((int64_t)s->overlong));
	json_object_object_add(root, "first_seen", s->first[0] ? json_object_new_string(s->first) : NULL);
	json_object_object_add(root, "last_seen", s->last[0] ? json_object_new_string(s->last) : NULL);
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
"Usage: sessiontrace report [--format text|json] FILE...\n"
"\n"
"Summarize sessiontrace records (the -j file and its rotated copies FILE.1,\n"
"FILE.2, ...; any order): how many failures, by cause (with the fix), by route\n"
"template, by the code that read the session (accessor) and by service, each\n"
"with when it was first and last seen. Lines that are not records are skipped\n"
"and counted (also lines over 4 MiB). '-' reads standard input. Exit status:\n"
"0, 1 when nothing in the files is a record, 2 on a file that cannot be read.\n"
"\n"
"  -f, --format FMT   text (default) or json (one object)\n"
"  -h, --help         this text\n"
"\n"
"Examples:\n"
"  sessiontrace report /var/log/sessiontrace/records.jsonl*\n"
"  sessiontrace report --format json records.jsonl | jq '.by_route[0]'\n";

/*
 * One line into buf (at most cap bytes, no newline, NUL-terminated). A longer
 * line is read to its end but not kept: *overlong. 1: a line, 0: end of file.
 */
static int read_line(FILE *f, char *buf, size_t cap, size_t *len, bool *overlong)
{
	int c;

	*len = 0;
	*overlong = false;
	while ((c = getc_unlocked(f)) != EOF && c != '\n') {
		if (*len < cap)
			buf[(*len)++] = (char)c;
		else
			*overlong = true;
	}
	buf[*len] = 0;
	return c != EOF || *len || *overlong;
}

static int read_file(struct summary *s, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	char *line;
	size_t n;
	bool overlong;
	int err = 0;

	if (!f) {
		fprintf(stderr, "sessiontrace report: cannot open %s: %s\n", path, strerror(errno));
		return 2;
	}
	line = malloc(LINE_MAX_BYTES + 1);
	if (!line) {
		fprintf(stderr, "sessiontrace report: out of memory\n");
		err = 1;
	}
	while (!err && read_line(f, line, LINE_MAX_BYTES, &n, &overlong)) {
		if (overlong) {
			s->invalid++;
			s->overlong++;
			continue;
		}
		if (summary__add_line(s, line, n) == -ENOMEM) {
			fprintf(stderr, "sessiontrace report: out of memory\n");
			err = 1;
		}
	}
	if (!err && ferror(f)) {
		fprintf(stderr, "sessiontrace report: error reading %s\n", path);
		err = 2;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return err;
}

int summary__main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct summary *s;
	bool json = false;
	int c, i, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (options__format("sessiontrace report", optarg, &json))
				return 2;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'sessiontrace report --help'.\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "sessiontrace report: no records file given\n"
			"Try 'sessiontrace report --help'.\n");
		return 2;
	}
	s = summary__new();
	if (!s) {
		fprintf(stderr, "sessiontrace report: out of memory\n");
		return 1;
	}
	for (i = optind; i < argc && !ret; i++)
		ret = read_file(s, argv[i]);
	if (!ret && !s->records && s->invalid) {
		fprintf(stderr, "sessiontrace report: no records in %s: %llu lines, none a "
			"sessiontrace record\n", argc - optind == 1 ? argv[optind] : "the files given",
			s->invalid);
		ret = 1;
	}
	if (!ret) {
		if (json)
			summary__print_json(s, stdout);
		else
			summary__print_text(s, stdout);
	}
	summary__free(s);
	return ret;
}
