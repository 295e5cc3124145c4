// SPDX-License-Identifier: BSD-2-Clause
/*
 * linetable__addr2line(): hand-written tables for every entry kind, then
 * (LINETABLE_FIXTURES="0xVERSIONHEX:path ...", written by gen_lines.py) the
 * line CPython itself reports for every instruction of thousands of real
 * code objects, then truncated, mutated and random tables that must not
 * make it read out of bounds (run it under ASan to see that).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/linetable.h"
#include "xorshift.h"

#define V310 0x030a0df0u
#define V311 0x030b07f0u
#define V312 0x030c01f0u
#define V313 0x030d00f0u
#define V314 0x030e0000u

struct lt_case {
	const char *name;
	unsigned version;
	const uint8_t *table;
	size_t len;
	int firstlineno;
	int addrq;
	int want;
};

#define TBL(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

/*
 * 3.11+: header byte = 0x80 | code << 3 | (length in code units - 1).
 *   F8           NONE, 1 unit            [0,2)   -1
 *   D9 05 09     ONE_LINE1, 2 units      [2,6)   10+1 = 11
 *   98 37        short form 3, 1 unit    [6,8)   11
 *   E2 01 02     ONE_LINE2, 3 units      [8,14)  13
 *   E8 07        NO_COLUMNS, 7 = -3      [14,16) 10  (bit 0 = sign)
 *   F7 48 03 00 05 0A  LONG, 8 units, line +100 (200 = 0x48 0x03),
 *                end line +0, col 4, end col 9   [16,32) 110
 *   D0 01 02     ONE_LINE0, 1 unit       [32,34) 110
 */
#define T_ALL 0xf8, 0xd9, 0x05, 0x09, 0x98, 0x37, 0xe2, 0x01, 0x02, 0xe8, 0x07, \
	0xf7, 0x48, 0x03, 0x00, 0x05, 0x0a, 0xd0, 0x01, 0x02

/* short forms 0..9, one unit each, after a ONE_LINE2 */
#define T_SHORT 0xe0, 0x00, 0x01, 0x80, 0x00, 0x88, 0x11, 0x90, 0x22, 0x98, 0x33, \
	0xa0, 0x44, 0xa8, 0x55, 0xb0, 0x66, 0xb8, 0x77, 0xc0, 0x08, 0xc8, 0x09

/* 3.10 pairs (sdelta bytes, ldelta; -128 = no line), firstlineno 1:
 *   06 00     [0,6)     1
 *   00 7f     empty, +127 -> 128
 *   04 49     [6,10)    +73 -> 201
 *   02 80     [10,12)   -1
 *   fe fb     [12,266)  -5 -> 196
 *   fe 00     [266,520) 196
 *   02 80     [520,522) -1
 *   04 01     [522,526) 197 (no-line entries do not move the line)
 *   09        odd trailing byte: ignored
 */
#define T_310 0x06, 0x00, 0x00, 0x7f, 0x04, 0x49, 0x02, 0x80, 0xfe, 0xfb, \
	0xfe, 0x00, 0x02, 0x80, 0x04, 0x01, 0x09

static const struct lt_case cases[] = {
	/* every 3.11 kind */
	{ "311 before start", V311, TBL(T_ALL), 10, -2, 10 },
	{ "311 INT_MIN", V311, TBL(T_ALL), 10, INT_MIN, 10 },
	{ "311 NONE", V311, TBL(T_ALL), 10, 0, -1 },
	{ "311 NONE odd", V311, TBL(T_ALL), 10, 1, -1 },
	{ "311 ONE_LINE1", V311, TBL(T_ALL), 10, 2, 11 },
	{ "311 ONE_LINE1 end", V311, TBL(T_ALL), 10, 5, 11 },
	{ "311 short", V311, TBL(T_ALL), 10, 6, 11 },
	{ "311 ONE_LINE2", V311, TBL(T_ALL), 10, 8, 13 },
	{ "311 ONE_LINE2 end", V311, TBL(T_ALL), 10, 13, 13 },
	{ "311 NO_COLUMNS -3", V311, TBL(T_ALL), 10, 14, 10 },
	{ "311 LONG +100", V311, TBL(T_ALL), 10, 16, 110 },
	{ "311 LONG end", V311, TBL(T_ALL), 10, 31, 110 },
	{ "311 ONE_LINE0", V311, TBL(T_ALL), 10, 32, 110 },
	{ "311 ONE_LINE0 odd", V311, TBL(T_ALL), 10, 33, 110 },
	{ "311 past end", V311, TBL(T_ALL), 10, 34, -1 },
	{ "311 INT_MAX", V311, TBL(T_ALL), 10, INT_MAX, -1 },
	{ "312 same format", V312, TBL(T_ALL), 10, 16, 110 },
	{ "313 same format", V313, TBL(T_ALL), 10, 14, 10 },
	{ "314 same format", V314, TBL(T_ALL), 10, 8, 13 },
	{ "311 short 0", V311, TBL(T_SHORT), 7, 2, 9 },
	{ "311 short 5", V311, TBL(T_SHORT), 7, 12, 9 },
	{ "311 short 9", V311, TBL(T_SHORT), 7, 20, 9 },
	{ "311 short past end", V311, TBL(T_SHORT), 7, 22, -1 },
	{ "311 NO_COLUMNS -1000 (2-byte varint)", V311,
	  TBL(0xe8, 0x51, 0x1f), 5000, 0, 4000 },
	{ "311 LONG 6-byte varint", V311,
	  TBL(0xf0, 0x40, 0x40, 0x40, 0x40, 0x40, 0x01, 0, 1, 1), 1, 0,
	  (1 << 29) + 1 },
	{ "311 extra bytes skipped like CPython", V311,
	  TBL(0x80, 0x00, 0x11, 0x22, 0xd8, 0x01, 0x02), 3, 2, 4 },
	/* malformed 3.11 tables */
	{ "311 empty", V311, NULL, 0, 3, 0, -1 },
	{ "311 NULL table", V311, NULL, 40, 3, 0, -1 },
	{ "311 first byte not an entry", V311,
	  TBL(0x00, 0xd0, 0x01, 0x02), 3, 0, -1 },
	{ "311 truncated varint, earlier entry", V311,
	  TBL(0xd0, 0x01, 0x02, 0xf0, 0x48), 3, 0, 3 },
	{ "311 truncated varint", V311, TBL(0xd0, 0x01, 0x02, 0xf0, 0x48), 3, 2, -1 },
	{ "311 header alone", V311, TBL(0xe8), 3, 0, -1 },
	{ "311 7-byte varint", V311,
	  TBL(0xe8, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x00), 3, 0, -1 },
	{ "311 line overflow", V311,
	  TBL(0xe8, 0x40, 0x40, 0x40, 0x40, 0x40, 0x02,
	      0xe8, 0x40, 0x40, 0x40, 0x40, 0x40, 0x02), 1, 2, -1 },
	{ "311 before overflow", V311,
	  TBL(0xe8, 0x40, 0x40, 0x40, 0x40, 0x40, 0x02,
	      0xe8, 0x40, 0x40, 0x40, 0x40, 0x40, 0x02), 1, 0, (1 << 30) + 1 },
	/* 3.10 */
	{ "310 first", V310, TBL(T_310), 1, 0, 1 },
	{ "310 first end", V310, TBL(T_310), 1, 5, 1 },
	{ "310 after empty +127", V310, TBL(T_310), 1, 6, 201 },
	{ "310 no line", V310, TBL(T_310), 1, 10, -1 },
	{ "310 254 split", V310, TBL(T_310), 1, 12, 196 },
	{ "310 254 split 2", V310, TBL(T_310), 1, 519, 196 },
	{ "310 no line 2", V310, TBL(T_310), 1, 521, -1 },
	{ "310 after no line", V310, TBL(T_310), 1, 522, 197 },
	{ "310 past end, odd byte", V310, TBL(T_310), 1, 526, -1 },
	{ "310 before start", V310, TBL(T_310), 1, -2, 1 },
	{ "310 empty then no line", V310,
	  TBL(0x02, 0x01, 0x00, 0x05, 0x02, 0x80, 0x02, 0x00), 10, 2, -1 },
	{ "310 line kept over no line", V310,
	  TBL(0x02, 0x01, 0x00, 0x05, 0x02, 0x80, 0x02, 0x00), 10, 4, 16 },
	{ "310 only empty", V310, TBL(0x00, 0x05, 0x00, 0x05), 10, 0, -1 },
	{ "310 one byte", V310, TBL(0x02), 10, 0, -1 },
	/* versions */
	{ "3.9 unsupported", 0x030900f0, TBL(T_ALL), 10, 2, -1 },
	{ "3.9 unsupported, before start", 0x030900f0, TBL(T_ALL), 10, -2, -1 },
	{ "315 same format", 0x030f0000, TBL(T_ALL), 10, 8, 13 },
	{ "3.16 unsupported", 0x03100000, TBL(T_ALL), 10, 2, -1 },
	{ "2.7 unsupported", 0x020712f0, TBL(T_ALL), 10, 2, -1 },
	{ "4.11 unsupported", 0x040b0000, TBL(T_ALL), 10, 2, -1 },
	{ "micro/serial ignored", 0x030bfeff, TBL(T_ALL), 10, 2, 11 },
};

static void test_cases(void **state)
{
	size_t i, failed = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lt_case *c = &cases[i];
		uint8_t *copy = NULL;
		int got;

		/* exact-size heap copy so that ASan sees any over-read */
		if (c->table) {
			copy = malloc(c->len);
			assert_non_null(copy);
			memcpy(copy, c->table, c->len);
		}
		got = linetable__addr2line(c->version, copy, c->len,
					  c->firstlineno, c->addrq);
		free(copy);
		if (got != c->want) {
			print_error("case \"%s\": got %d, want %d\n",
				    c->name, got, c->want);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* ---- fixtures from gen_lines.py ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

#define rng() xorshift64(&rng_state)

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

struct fixture_stats {
	size_t codes, offsets, mismatches, trunc_calls, mutate_calls;
	size_t kinds[16];	/* 3.11+: entries per code */
	size_t zero_len, no_line, split254, big_jump;	/* 3.10 pairs */
};

static void count_kinds(unsigned ver, const uint8_t *t, size_t len,
			struct fixture_stats *st)
{
	size_t i;

	if (((ver >> 16) & 0xff) == 10) {
		for (i = 0; i + 1 < len; i += 2) {
			st->zero_len += t[i] == 0;
			st->no_line += t[i + 1] == 0x80;
			st->split254 += t[i] == 254;
			st->big_jump += t[i + 1] == 0x7f || t[i + 1] == 0x81;
		}
		return;
	}
	for (i = 0; i < len; i++)
		if (t[i] & 0x80)
			st->kinds[(t[i] >> 3) & 15]++;
}

/*
 * Every prefix of a real table (or a sample for big ones) answers either
 * what the whole table answers, or -1: entries are decoded front to back
 * and a cut entry can only lose its line, never change it.
 */
static void check_truncations(unsigned ver, const uint8_t *t, size_t len,
			      int first, const int *want, size_t n,
			      struct fixture_stats *st)
{
	size_t cut, step_cut, step_off, off;
	uint8_t *copy;

	step_cut = len <= 64 ? 1 : len / 32;
	step_off = n <= 64 ? 1 : n / 64;
	for (cut = 0; cut < len; cut += step_cut) {
		copy = malloc(cut ? cut : 1);
		assert_non_null(copy);
		memcpy(copy, t, cut);
		for (off = 0; off < n; off += step_off) {
			int got = linetable__addr2line(ver, copy, cut, first,
						      (int)(2 * off));

			st->trunc_calls++;
			if (got != want[off] && got != -1) {
				print_error("truncated to %zu: offset %zu gave %d, want %d or -1\n",
					    cut, 2 * off, got, want[off]);
				st->mismatches++;
			}
		}
		free(copy);
	}
}

/* Random byte flips in a real table: anything may come out, but safely. */
static void check_mutations(unsigned ver, const uint8_t *t, size_t len,
			    int first, size_t n, struct fixture_stats *st)
{
	uint8_t *copy;
	int round, k, off;

	if (!len)
		return;
	copy = malloc(len);
	assert_non_null(copy);
	for (round = 0; round < 4; round++) {
		memcpy(copy, t, len);
		for (k = 0; k < 3; k++)
			copy[rng() % len] = (uint8_t)rng();
		for (k = 0; k < 8; k++) {
			off = (int)(rng() % (2 * n + 8));
			(void)linetable__addr2line(ver, copy, len, first, off);
			st->mutate_calls++;
		}
	}
	free(copy);
}

static void check_fixture(unsigned env_ver, const char *path)
{
	struct fixture_stats st = { 0 };
	char *line = NULL, *p, *end;
	size_t cap = 0, len = 0, n = 0, i, total_codes = 0, total_off = 0;
	unsigned ver = 0;
	ssize_t r;
	uint8_t *table = NULL;
	int *want = NULL;
	int first = 0, nbytes = 0;
	char name[256] = "";
	bool have_code = false;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		print_error("cannot open fixture %s\n", path);
		fail();
	}
	while ((r = getline(&line, &cap, f)) > 0) {
		if (line[r - 1] == '\n')
			line[--r] = '\0';
		if (line[0] == 'V') {
			ver = (unsigned)strtoul(line + 2, NULL, 16);
			assert_int_equal(ver & 0xffff0000, env_ver & 0xffff0000);
		} else if (line[0] == 'N') {
			if (sscanf(line + 2, "%zu %zu", &total_codes, &total_off) != 2)
				fail_msg("bad N line in %s", path);
		} else if (line[0] == 'C') {
			assert_true(ver != 0);
			p = line + 2;
			first = (int)strtol(p, &end, 10);
			nbytes = (int)strtol(end, &end, 10);
			assert_true(nbytes >= 0 && *end == ' ');
			p = end + 1;
			end = strchr(p, ' ');
			assert_non_null(end);
			len = strncmp(p, "-", 1) == 0 ? 0 : (size_t)(end - p) / 2;
			free(table);
			table = malloc(len ? len : 1);
			assert_non_null(table);
			for (i = 0; i < len; i++) {
				int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);

				assert_true(hi >= 0 && lo >= 0);
				table[i] = (uint8_t)(hi << 4 | lo);
			}
			snprintf(name, sizeof(name), "%s", end + 1);
			have_code = true;
		} else if (line[0] == 'L') {
			size_t bad = 0;

			assert_true(have_code);
			have_code = false;
			n = (size_t)nbytes / 2;
			free(want);
			want = malloc((n ? n : 1) * sizeof(*want));
			assert_non_null(want);
			p = line + 1;
			for (i = 0; i < n; i++) {
				want[i] = (int)strtol(p, &end, 10);
				assert_true(end != p);
				p = end;
			}
			assert_true(*p == '\0');

			for (i = 0; i < n; i++) {
				int even = linetable__addr2line(ver, table, len, first, (int)(2 * i));
				int odd = linetable__addr2line(ver, table, len, first, (int)(2 * i + 1));

				if (even != want[i] || odd != want[i]) {
					if (st.mismatches + bad < 10)
						print_error("%s: %s offset %zu: got %d/%d, CPython %d\n",
							    path, name, 2 * i, even, odd, want[i]);
					bad++;
				}
			}
			if (linetable__addr2line(ver, table, len, first, nbytes) != -1 ||
			    linetable__addr2line(ver, table, len, first, -2) != first) {
				print_error("%s: %s: wrong answer outside the code\n", path, name);
				bad++;
			}
			st.mismatches += bad;
			st.codes++;
			st.offsets += n;
			count_kinds(ver, table, len, &st);
			check_truncations(ver, table, len, first, want, n, &st);
			check_mutations(ver, table, len, first, n, &st);
		}
	}
	free(line);
	free(table);
	free(want);
	fclose(f);

	print_message("fixture %s (0x%08x): %zu code objects, %zu offsets checked, "
		      "%zu mismatches; %zu truncated-table and %zu mutated-table lookups\n",
		      path, ver, st.codes, st.offsets, st.mismatches,
		      st.trunc_calls, st.mutate_calls);
	if (((ver >> 16) & 0xff) == 10) {
		print_message("  3.10 pairs: %zu empty, %zu no-line, %zu sdelta=254, %zu ldelta=+-127\n",
			      st.zero_len, st.no_line, st.split254, st.big_jump);
	} else {
		print_message("  entries by kind: short0-9 %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu, "
			      "one-line0/1/2 %zu %zu %zu, no-columns %zu, long %zu, none %zu\n",
			      st.kinds[0], st.kinds[1], st.kinds[2], st.kinds[3], st.kinds[4],
			      st.kinds[5], st.kinds[6], st.kinds[7], st.kinds[8], st.kinds[9],
			      st.kinds[10], st.kinds[11], st.kinds[12], st.kinds[13],
			      st.kinds[14], st.kinds[15]);
	}
	assert_int_equal(st.codes, total_codes);
	assert_int_equal(st.offsets, total_off);
	assert_true(st.codes > 0);
	assert_int_equal(st.mismatches, 0);
}

static void test_fixtures(void **state)
{
	const char *env = getenv("LINETABLE_FIXTURES");
	char *copy, *tok, *save = NULL, *colon;
	int nfix = 0;

	if (!env || !*env) {
		print_message("LINETABLE_FIXTURES not set: CPython fixture check skipped\n");
		skip();
	}
	copy = strdup(env);
	assert_non_null(copy);
	for (tok = strtok_r(copy, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		unsigned long ver;

		colon = strchr(tok, ':');
		if (!colon)
			fail_msg("LINETABLE_FIXTURES entry \"%s\" is not VERSIONHEX:path", tok);
		*colon = '\0';
		ver = strtoul(tok, NULL, 16);
		check_fixture((unsigned)ver, colon + 1);
		nfix++;
	}
	free(copy);
	if (!nfix)
		skip();
}

/* ---- random tables ---- */

static void test_random_tables(void **state)
{
	static const unsigned versions[] = {
		V310, V311, V312, V313, V314, 0x030900f0, 0x030f0000, 0x03100000,
	};
	size_t iter, len, i;
	uint8_t *t;
	int first, addrq, got, lo = 0, hi = 0, nominus = 0;

	rng_state = 0x0123456789abcdefull;
	for (iter = 0; iter < 200000; iter++) {
		unsigned ver = versions[rng() % 8];

		len = rng() % 48;
		t = malloc(len ? len : 1);
		assert_non_null(t);
		for (i = 0; i < len; i++)
			t[i] = (uint8_t)rng();
		if (len && (rng() & 1))
			t[0] |= 0x80;
		switch (rng() % 4) {
		case 0:
			first = INT_MAX - (int)(rng() % 4);
			break;
		case 1:
			first = INT_MIN + (int)(rng() % 4);
			break;
		default:
			first = (int)(rng() % 100000);
			break;
		}
		addrq = (int)(rng() % 400) - 4;
		if (rng() % 64 == 0)
			addrq = (rng() & 1) ? INT_MAX : INT_MIN;
		got = linetable__addr2line(ver, t, len, first, addrq);
		if (addrq < 0 && ((ver >> 16) & 0xff) >= 10 && ((ver >> 16) & 0xff) <= 15)
			assert_int_equal(got, first);
		if (got == -1)
			lo++;
		else
			hi++;
		if (ver == 0x030900f0 || ver == 0x03100000)
			assert_int_equal(got, -1);
		else if (got != -1)
			nominus++;
		free(t);
	}
	print_message("random tables: %d lookups gave -1, %d a line\n", lo, hi);
	assert_true(nominus > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_random_tables),
	};

	return cmocka_run_group_tests_name("linetable", tests, NULL, NULL);
}
