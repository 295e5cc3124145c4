// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "jsonw.h"
#include "summary.h"

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
};

struct summary {
	struct groups g[NDIMS];
	unsigned long long records, invalid;
	char first[40], last[40];
};

struct summary *summary__new(void)
{
	return calloc(1, sizeof(struct summary));
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

static int account(struct groups *g, const char *key, const char *ts, const char *hint)
{
	struct group *x = NULL;
	size_t i;

	for (i = 0; i < g->n; i++)
		if (!strcmp(g->v[i].key, key)) {
			x = &g->v[i];
			break;
		}
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
		g->n++;
	}
	if (hint && !x->hint)
		x->hint = strdup(hint);
	x->count++;
	seen(x->first, x->last, ts);
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

int summary__add_line(struct summary *s, const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *rec, *acc = NULL;
	const char *ts, *v, *fn, *file;
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
	    !(ts = str_of(rec, "ts")) || !json_object_object_get_ex(rec, "stack", NULL)) {
		json_object_put(rec);
		json_tokener_free(tok);
		goto invalid;
	}
	json_tokener_free(tok);
	s->records++;
	seen(s->first, s->last, ts);
	v = str_of(rec, "cause");
	err = err ?: account(&s->g[BY_CAUSE], v ? v : "unknown", ts, str_of(rec, "hint"));
	v = str_of(rec, "route");
	err = err ?: account(&s->g[BY_ROUTE], v ? v : "<none>", ts, NULL);
	json_object_object_get_ex(rec, "accessor", &acc);
	fn = str_of(acc, "function");
	file = str_of(acc, "file");
	if (fn && file && !int_of(acc, "line", &lineno))
		snprintf(key, sizeof(key), "%s (%s:%lld)", fn, file, lineno);
	else
		snprintf(key, sizeof(key), "<none>");
	err = err ?: account(&s->g[BY_ACCESSOR], key, ts, NULL);
	v = str_of(rec, "service");
	err = err ?: account(&s->g[BY_SERVICE], v ? v : "<none>", ts, NULL);
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

static void sorted(const struct summary *s)
{
	size_t d;

	for (d = 0; d < NDIMS; d++)
		if (s->g[d].n)
			qsort(s->g[d].v, s->g[d].n, sizeof(*s->g[d].v), by_count);
}

static void put_term(FILE *out, const char *str)
{
	struct strbuf sb;

	strbuf_init(&sb);
	term_add_str(&sb, str, strlen(str));
	if (sb.buf)
		fputs(sb.buf, out);
	strbuf_free(&sb);
}

void summary__print_text(const struct summary *s, FILE *out)
{
	size_t d, i;

	sorted(s);
	fprintf(out, "%llu records", s->records);
	if (s->records)
		fprintf(out, ", first %s, last %s", s->first, s->last);
	if (s->invalid)
		fprintf(out, " (%llu lines were not records and were skipped)", s->invalid);
	fputc('\n', out);
	for (d = 0; d < NDIMS; d++) {
		if (!s->g[d].n)
			continue;
		fprintf(out, "\nby %s:\n  %8s  %-27s  %-27s  %s\n", dim_names[d], "count", "first seen",
			"last seen", dim_names[d]);
		for (i = 0; i < s->g[d].n; i++) {
			const struct group *x = &s->g[d].v[i];

			fprintf(out, "  %8llu  %-27s  %-27s  ", x->count, x->first, x->last);
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
"and counted. '-' reads standard input.\n"
"\n"
"  -f, --format FMT   text (default) or json (one object)\n"
"  -h, --help         this text\n"
"\n"
"Examples:\n"
"  sessiontrace report /var/log/sessiontrace/records.jsonl*\n"
"  sessiontrace report --format json records.jsonl | jq '.by_route[0]'\n";

static int read_file(struct summary *s, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int err = 0;

	if (!f) {
		fprintf(stderr, "sessiontrace report: cannot open %s: %s\n", path, strerror(errno));
		return 2;
	}
	while ((n = getline(&line, &cap, f)) > 0)
		if (summary__add_line(s, line, (size_t)n) == -ENOMEM) {
			fprintf(stderr, "sessiontrace report: out of memory\n");
			err = 1;
			break;
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
			if (!strcmp(optarg, "json")) {
				json = true;
			} else if (strcmp(optarg, "text")) {
				fprintf(stderr, "sessiontrace report: invalid --format '%s' (text or "
					"json)\n", optarg);
				return 2;
			}
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
	if (!s)
		return 1;
	for (i = optind; i < argc && !ret; i++)
		ret = read_file(s, argv[i]);
	if (!ret) {
		if (json)
			summary__print_json(s, stdout);
		else
			summary__print_text(s, stdout);
	}
	summary__free(s);
	return ret;
}
