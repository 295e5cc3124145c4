// SPDX-License-Identifier: BSD-2-Clause
/*
 * The records file (user/sink/jsonlog.c): size parsing, rotation that never splits
 * a record nor loses one, reopen after a move; and the `report` summary
 * (user/cli/summary.c) over crafted lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "sink/jsonlog.h"
#include "cli/summary.h"

static const struct {
	const char *in;
	unsigned long long want;
	int ret;
} size_rows[] = {
	{ "1", 1, 0 }, { "4096", 4096, 0 }, { "16k", 16384, 0 }, { "16K", 16384, 0 },
	{ "64M", 64ULL << 20, 0 }, { "2G", 2ULL << 30, 0 },
	{ "0", 0, -EINVAL }, { "", 0, -EINVAL }, { "k", 0, -EINVAL }, { "-1", 0, -EINVAL },
	{ "12kb", 0, -EINVAL }, { "1T", 0, -EINVAL }, { " 1", 0, -EINVAL },
	{ "99999999999999999999", 0, -EINVAL }, { "17179869184G", 0, -EINVAL },
};

static void test_parse_size(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(size_rows) / sizeof(size_rows[0]); i++) {
		unsigned long long v = 0;
		int ret = jsonlog__parse_size(size_rows[i].in, &v);

		if (ret != size_rows[i].ret)
			fail_msg("'%s': %d", size_rows[i].in, ret);
		if (!ret)
			assert_true(v == size_rows[i].want);
	}
}

static char dir[] = "/tmp/st-jsonlog-XXXXXX";

static size_t count_lines(const char *path, size_t *bytes, int *mode)
{
	FILE *f = fopen(path, "r");
	struct stat sb;
	char *line = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return 0;
	fstat(fileno(f), &sb);
	*bytes = sb.st_size;
	*mode = sb.st_mode & 0777;
	while (getline(&line, &cap, f) > 0) {
		assert_true(line[strlen(line) - 1] == '\n');
		assert_true(line[0] == '{');
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

static void test_rotation(void **state)
{
	char path[256], name[300], rec[128], err[256];
	struct jsonlog *l;
	size_t total = 0, bytes, i;
	int mode, k;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/records.jsonl", dir);
	l = jsonlog__open(path, 1000, 50, err, sizeof(err));
	assert_non_null(l);
	for (i = 0; i < 400; i++) {
		int n = snprintf(rec, sizeof(rec), "{\"n\":%zu,\"pad\":\"%.*s\"}\n", i,
				 (int)(i % 40), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

		assert_int_equal(jsonlog__write(l, rec, (size_t)n), 0);
	}
	jsonlog__close(l);
	for (k = 0; k <= 50; k++) {
		if (k)
			snprintf(name, sizeof(name), "%s.%d", path, k);
		else
			snprintf(name, sizeof(name), "%s", path);
		bytes = 0;
		i = count_lines(name, &bytes, &mode);
		if (!i)
			continue;
		assert_true(bytes <= 1000);
		assert_int_equal(mode, 0600);
		total += i;
	}
	assert_int_equal(total, 400); /* keep large enough: none lost */

	/* keep 2: only the newest three files remain, still whole records */
	snprintf(path, sizeof(path), "%s/small.jsonl", dir);
	l = jsonlog__open(path, 200, 2, err, sizeof(err));
	assert_non_null(l);
	for (i = 0; i < 100; i++)
		assert_int_equal(jsonlog__write(l, "{\"x\":\"0123456789012345678901234567\"}\n", 37), 0);
	jsonlog__close(l);
	snprintf(name, sizeof(name), "%s.3", path);
	assert_int_equal(access(name, F_OK), -1);
	snprintf(name, sizeof(name), "%s.2", path);
	assert_int_equal(count_lines(name, &bytes, &mode), 5);
}

static void test_reopen(void **state)
{
	char path[256], moved[300], err[256];
	struct jsonlog *l;
	size_t bytes;
	int mode;

	snprintf(path, sizeof(path), "%s/hup.jsonl", dir);
	snprintf(moved, sizeof(moved), "%s.old", path);
	l = jsonlog__open(path, 0, 5, err, sizeof(err));
	assert_non_null(l);
	assert_int_equal(jsonlog__write(l, "{\"a\":1}\n", 8), 0);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(jsonlog__write(l, "{\"a\":2}\n", 8), 0); /* still the moved file */
	assert_int_equal(jsonlog__reopen(l), 0);
	assert_int_equal(jsonlog__write(l, "{\"a\":3}\n", 8), 0);
	jsonlog__close(l);
	assert_int_equal(count_lines(moved, &bytes, &mode), 2);
	assert_int_equal(count_lines(path, &bytes, &mode), 1);
	assert_int_equal(mode, 0600);
	/* a directory is not a records file */
	assert_null(jsonlog__open(dir, 0, 5, err, sizeof(err)));
	assert_non_null(strstr(err, "Is a directory"));
}

static const char *const lines[] = {
	"{\"ts\":\"2026-11-24T10:00:02.000000Z\",\"service\":\"a:app\",\"stack\":[],"
	"\"accessor\":{\"function\":\"Auth.dispatch\",\"file\":\"/app/a.py\",\"line\":22},"
	"\"route\":\"/account/{uid:int}\",\"cause\":\"middleware_order\",\"hint\":\"swap them\"}\n",
	"{\"ts\":\"2026-11-24T10:00:01.000000Z\",\"service\":\"a:app\",\"stack\":[],"
	"\"accessor\":{\"function\":\"Auth.dispatch\",\"file\":\"/app/a.py\",\"line\":22},"
	"\"route\":\"/account/{uid:int}\",\"cause\":\"middleware_order\",\"hint\":\"swap them\"}\n",
	"{\"ts\":\"2026-11-24T10:00:03.000000Z\",\"service\":\"b:app\",\"stack\":[],"
	"\"accessor\":null,\"route\":\"/x\\u001b[31m\",\"cause\":\"missing_middleware\"}\n",
	"not json\n",
	"{\"ts\":\"2026-11-24T10:00:04Z\"}\n",                 /* no stack: not a record */
	/* inspect's prediction (written at attach): counted apart, not a failure */
	"{\"ts\":\"2026-11-24T09:00:00Z\",\"kind\":\"prediction\",\"service\":\"a:app\","
	"\"cause\":\"middleware_order\"}\n",
	"{\"ts\":\"2026-11-24T10:00:04Z\",\"stack\":[]} trailing\n",
	"\n",
	"[1,2]\n",
};

/* A new summary of n crafted lines, each added whether or not it is a record. */
static struct summary *summary_of(const char *const *in, size_t n)
{
	struct summary *s = summary__new();
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		summary__add_line(s, in[i], strlen(in[i]));
	return s;
}

/* What print writes for s, as one NUL-terminated buffer the caller frees. */
static char *printed(const struct summary *s,
		     void (*print)(const struct summary *s, FILE *out))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	print(s, f);
	fclose(f);
	assert_non_null(buf);
	return buf;
}

static void test_summary(void **state)
{
	struct summary *s = summary_of(lines, sizeof(lines) / sizeof(lines[0]));
	char *buf = printed(s, summary__print_json);

	assert_string_equal(buf,
		"{\"records\":3,\"read\":3,\"invalid_lines\":4,\"predictions\":1,\"overlong_lines\":0,\"first_seen\":\"2026-11-24T10:00:01.000000Z\","
		"\"last_seen\":\"2026-11-24T10:00:03.000000Z\","
		"\"timeline\":{\"bucket_seconds\":60.0,\"buckets\":[{\"start\":\"2026-11-24T10:00:00Z\",\"count\":3}]},"
		"\"by_cause\":[{\"cause\":\"middleware_order\",\"count\":2,"
		"\"first_seen\":\"2026-11-24T10:00:01.000000Z\",\"last_seen\":\"2026-11-24T10:00:02.000000Z\","
		"\"hint\":\"swap them\"},{\"cause\":\"missing_middleware\",\"count\":1,"
		"\"first_seen\":\"2026-11-24T10:00:03.000000Z\",\"last_seen\":\"2026-11-24T10:00:03.000000Z\"}],"
		"\"by_route\":[{\"route\":\"/account/{uid:int}\",\"count\":2,"
		"\"first_seen\":\"2026-11-24T10:00:01.000000Z\",\"last_seen\":\"2026-11-24T10:00:02.000000Z\"},"
		"{\"route\":\"/x\\u001b[31m\",\"count\":1,\"first_seen\":\"2026-11-24T10:00:03.000000Z\","
		"\"last_seen\":\"2026-11-24T10:00:03.000000Z\"}],"
		"\"by_accessor\":[{\"accessor\":\"Auth.dispatch (/app/a.py:22)\",\"count\":2,"
		"\"first_seen\":\"2026-11-24T10:00:01.000000Z\",\"last_seen\":\"2026-11-24T10:00:02.000000Z\"},"
		"{\"accessor\":\"<none>\",\"count\":1,\"first_seen\":\"2026-11-24T10:00:03.000000Z\","
		"\"last_seen\":\"2026-11-24T10:00:03.000000Z\"}],"
		"\"by_service\":[{\"service\":\"a:app\",\"count\":2,"
		"\"first_seen\":\"2026-11-24T10:00:01.000000Z\",\"last_seen\":\"2026-11-24T10:00:02.000000Z\"},"
		"{\"service\":\"b:app\",\"count\":1,\"first_seen\":\"2026-11-24T10:00:03.000000Z\","
		"\"last_seen\":\"2026-11-24T10:00:03.000000Z\"}]}\n");
	free(buf);
	buf = printed(s, summary__print_text);
	assert_non_null(strstr(buf, "3 records, first 2026-11-24T10:00:01.000000Z, last "
				    "2026-11-24T10:00:03.000000Z (4 lines were not records"));
	assert_non_null(strstr(buf, "(1 prediction records of inspect's are not failures: not counted)"));
	assert_null(strchr(buf, '\x1b'));          /* the ESC is neutralized */
	assert_non_null(strstr(buf, "/x\\x1b[31m"));
	assert_non_null(strstr(buf, "fix: swap them"));
	free(buf);
	summary__free(s);
}

/* Summary records ("N more like this", sink/limit.c) count for N; bad ones for nothing. */
static const char *const summary_lines[] = {
	"{\"ts\":\"2026-11-24T10:00:01Z\",\"stack\":[],\"cause\":\"missing_middleware\","
	"\"route\":\"/a\",\"service\":\"s\",\"accessor\":null}\n",
	"{\"ts\":\"2026-11-24T10:00:05Z\",\"summary\":{\"count\":41,\"since\":\"2026-11-24T10:00:02Z\","
	"\"until\":\"2026-11-24T10:00:05Z\"},\"service\":\"s\",\"property\":\"session\",\"route\":\"/a\","
	"\"cause\":\"missing_middleware\",\"accessor\":null}\n",
	/* not summaries: count 0, negative, past 2^53, not an int; since missing */
	"{\"ts\":\"2026-11-24T10:00:06Z\",\"summary\":{\"count\":0,\"since\":\"a\",\"until\":\"b\"}}\n",
	"{\"ts\":\"2026-11-24T10:00:06Z\",\"summary\":{\"count\":-5,\"since\":\"a\",\"until\":\"b\"}}\n",
	"{\"ts\":\"2026-11-24T10:00:06Z\",\"summary\":{\"count\":9007199254740993,\"since\":\"a\","
	"\"until\":\"b\"}}\n",
	"{\"ts\":\"2026-11-24T10:00:06Z\",\"summary\":{\"count\":\"7\",\"since\":\"a\",\"until\":\"b\"}}\n",
	"{\"ts\":\"2026-11-24T10:00:06Z\",\"summary\":{\"count\":7,\"until\":\"b\"}}\n",
	"{\"ts\":\"2026-11-24T10:00:06Z\",\"summary\":7}\n",
};

static void test_summary_records(void **state)
{
	struct summary *s = summary_of(summary_lines,
				       sizeof(summary_lines) / sizeof(summary_lines[0]));
	char *buf = printed(s, summary__print_json);

	assert_non_null(strstr(buf, "{\"records\":42,\"read\":42,\"invalid_lines\":6,\"predictions\":0,\"overlong_lines\":0,"
				    "\"first_seen\":\"2026-11-24T10:00:01Z\",\"last_seen\":\"2026-11-24T10:00:05Z\","
				    "\"timeline\":{\"bucket_seconds\":60.0,\"buckets\":[{\"start\":\"2026-11-24T10:00:00Z\",\"count\":42}]},"
				    "\"by_cause\":[{\"cause\":\"missing_middleware\",\"count\":42,"));
	assert_non_null(strstr(buf, "\"by_route\":[{\"route\":\"/a\",\"count\":42,"));
	free(buf);
	summary__free(s);
}

/* sessiontrace report on a file it did not write: run as the subcommand. */
static int report_on(const char *content, size_t len, char **out)
{
	char path[] = "/tmp/st-report-XXXXXX";
	char *argv[] = { "report", path, NULL };
	size_t olen = 0;
	FILE *f, *saved = stdout;
	int fd = mkstemp(path), ret;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	f = open_memstream(out, &olen);
	stdout = f;
	ret = summary__main(2, argv);
	stdout = saved;
	fclose(f);
	unlink(path);
	return ret;
}

static void test_report_hostile_files(void **state)
{
	static const char esc_ts[] =
		"{\"ts\":\"\\u001b]0;owned\\u0007\\u001b[2J2026\",\"stack\":[],\"cause\":\"c\"}\n";
	size_t big = (4u << 20) + 100, i;
	char *content, *out = NULL;

	/* ESC and BEL in ts: escaped wherever it is printed */
	assert_int_equal(report_on(esc_ts, sizeof(esc_ts) - 1, &out), 0);
	assert_null(strchr(out, '\x1b'));
	assert_null(strchr(out, '\x07'));
	assert_non_null(strstr(out, "first \\x1b]0;owned"));
	free(out);

	/* a line over 4 MiB is skipped and counted, the record after it kept */
	content = malloc(big + 200);
	assert_non_null(content);
	memset(content, 'A', big);
	content[big] = '\n';
	i = big + 1;
	i += (size_t)sprintf(content + i, "{\"ts\":\"2026-11-24T10:00:01.000000Z\",\"stack\":[]}\n");
	out = NULL;
	assert_int_equal(report_on(content, i, &out), 0);
	assert_non_null(strstr(out, "1 records"));
	assert_non_null(strstr(out, "(1 lines were not records and were skipped) (1 of them longer"));
	free(out);
	free(content);

	/* nothing readable: one line on stderr, exit 1; an empty file is 0 records, exit 0 */
	out = NULL;
	assert_int_equal(report_on("not json\n[]\n", 12, &out), 1);
	assert_string_equal(out, "");
	free(out);
	out = NULL;
	assert_int_equal(report_on("", 0, &out), 0);
	assert_non_null(strstr(out, "0 records"));
	free(out);
}

/* Many distinct groups: hashed, each counted exactly. */
static void test_report_many_groups(void **state)
{
	struct summary *s = summary__new();
	char line[256], *buf;
	size_t i;

	for (i = 0; i < 20000; i++) {
		snprintf(line, sizeof(line), "{\"ts\":\"2026-11-24T10:00:01.000000Z\",\"stack\":[],"
			 "\"route\":\"/r/%zu\"}", i % 5000);
		assert_int_equal(summary__add_line(s, line, strlen(line)), 0);
	}
	buf = printed(s, summary__print_json);
	assert_non_null(strstr(buf, "{\"route\":\"/r/0\",\"count\":4,"));
	assert_non_null(strstr(buf, "{\"route\":\"/r/4999\",\"count\":4,"));
	assert_null(strstr(buf, "\"count\":5"));
	free(buf);
	summary__free(s);
}

/* A records path that is not ours to write: refused with one reason, nothing written. */
static void test_records_file_refused(void **state)
{
	char err[512];
	struct jsonlog *l;

	unlink("/tmp/st-jl-fifo");
	assert_int_equal(mkfifo("/tmp/st-jl-fifo", 0600), 0);
	l = jsonlog__open("/tmp/st-jl-fifo", 0, 1, err, sizeof(err));
	assert_null(l);
	assert_non_null(strstr(err, "not a regular file"));
	unlink("/tmp/st-jl-fifo");

	unlink("/tmp/st-jl-link");
	assert_int_equal(symlink("/tmp/st-jl-target", "/tmp/st-jl-link"), 0);
	assert_null(jsonlog__open("/tmp/st-jl-link", 0, 1, err, sizeof(err)));
	unlink("/tmp/st-jl-link");

	if (geteuid() != 0) {
		printf("SKIPPED: records file owned by another user: needs root to chown\n");
		return;
	}
	unlink("/tmp/st-jl-other");
	assert_int_equal(close(open("/tmp/st-jl-other", O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(chown("/tmp/st-jl-other", 65534, 65534), 0);
	l = jsonlog__open("/tmp/st-jl-other", 0, 1, err, sizeof(err));
	assert_null(l);
	assert_non_null(strstr(err, "owned by uid 65534"));
	unlink("/tmp/st-jl-other");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_records),
		cmocka_unit_test(test_report_hostile_files),
		cmocka_unit_test(test_report_many_groups),
		cmocka_unit_test(test_records_file_refused),
	};
	int ret = cmocka_run_group_tests_name("jsonlog", tests, NULL, NULL);
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (dir[strlen(dir) - 1] != 'X' && system(cmd))
		ret = 1;
	return ret;
}
