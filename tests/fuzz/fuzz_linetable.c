// SPDX-License-Identifier: BSD-2-Clause
/*
 * linetable__addr2line() (user/decode/linetable.c), both formats: CPython 3.10
 * (sdelta, ldelta) pairs and the 3.11+ location table.
 *
 * Mode 0 (raw): the table, the version, co_firstlineno and the instruction
 * offset all come from the input; the table is an exact-size heap copy (ASan
 * sees any read past it). Checked: negative offsets give firstlineno, unknown
 * versions -1, and the answer is the same when asked twice.
 *
 * Mode 1 (structured): the input is a list of entries (length, kind, line
 * delta, columns) that the harness encodes as CPython's compiler does, so
 * the right line of every offset is known; linetable__addr2line() must give
 * exactly that for every offset, -1 past the end. Covers multi-byte signed
 * varints, -0, NONE entries, 3.10 empty ranges and no-line pairs, lines
 * running out of int range (then -1).
 *
 * Input: [mode (bit 7) | version selector][firstlineno: 4 bytes LE]
 *        mode 0: [addrq: 4 bytes LE][table...]
 *        mode 1: [entries, 3 bytes each...]
 */
#include "fuzz_common.h"
#include <limits.h>
#include "decode/linetable.h"

static const unsigned versions[] = {
	0x030a0df0, 0x030b07f0, 0x030c01f0, 0x030d00f0, 0x030e00a0, 0x030f02f0,
	0x03090000, 0x03100000, 0x020700f0, 0x040a0000,
};
#define NVERSIONS (sizeof(versions) / sizeof(versions[0]))
#define MAX_ENTRIES 256
#define MAX_CHECKS  128

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool known(unsigned v)
{
	return (v >> 24) == 3 && ((v >> 16) & 0xff) >= 10 && ((v >> 16) & 0xff) <= 15;
}

static void raw_mode(unsigned ver, int first, const uint8_t *data, size_t size)
{
	int addrq, got, again, k;
	uint8_t *t;

	if (size < 4)
		return;
	addrq = (int)le32(data);
	data += 4;
	size -= 4;
	t = malloc(size ? size : 1);
	if (!t)
		abort();
	memcpy(t, data, size);
	got = linetable__addr2line(ver, size ? t : NULL, size, first, addrq);
	if (!known(ver))
		FUZZ_CHECK(got == -1, "unknown version 0x%x gave %d", ver, got);
	else if (addrq < 0)
		FUZZ_CHECK(got == first, "addrq %d gave %d, not firstlineno %d", addrq, got, first);
	again = linetable__addr2line(ver, t, size, first, addrq);
	FUZZ_CHECK(again == got, "not deterministic: %d then %d", got, again);
	/* neighbouring offsets, and the ones around the end of the table */
	for (k = -2; k < 6; k++) {
		int64_t near = (int64_t)addrq + k, end = (int64_t)size * 2 + k;

		if (near >= INT_MIN && near <= INT_MAX)
			linetable__addr2line(ver, t, size, first, (int)near);
		if (end <= INT_MAX)
			linetable__addr2line(ver, t, size, first, (int)end);
	}
	free(t);
}

static size_t put_varint(uint8_t *o, uint32_t v)
{
	size_t n = 0;

	while (v >= 64) {
		o[n++] = 64 | (v & 63);
		v >>= 6;
	}
	o[n++] = v;
	return n;
}

static size_t put_svarint(uint8_t *o, int64_t d, bool neg_zero)
{
	uint32_t u = d < 0 ? (uint32_t)(-d) << 1 | 1 : (uint32_t)d << 1;

	if (!d && neg_zero)
		u = 1; /* "-0": CPython never writes it, but it decodes to 0 */
	return put_varint(o, u);
}

/* A line delta from two input bytes: mostly small, sometimes up to +-2^30. */
static int64_t delta_of(uint8_t a, uint8_t b)
{
	int64_t d = (int8_t)b;

	if (a & 0x80)
		d *= (int64_t)1 << (a & 0x17); /* shifts of 0..23 */
	return d;
}

struct expect {
	int64_t end;    /* exclusive byte offset */
	int line;       /* -1: no line */
};

static void check_all(unsigned ver, const uint8_t *t, size_t len, int first,
		      const struct expect *ex, size_t nex, int64_t total)
{
	int64_t step = total / MAX_CHECKS + 1, a;
	size_t e = 0;
	int got;

	for (a = 0; a < total + 4; a += (a < total ? step : 1)) {
		int want;

		while (e < nex && a >= ex[e].end)
			e++;
		want = e < nex ? ex[e].line : -1;
		got = linetable__addr2line(ver, t, len, first, (int)a);
		FUZZ_CHECK(got == want, "version 0x%x firstlineno %d offset %lld: line %d, want %d",
			   ver, first, (long long)a, got, want);
	}
}

/*
 * check_all() on an exact-size heap copy of the len bytes at table (ASan sees
 * any read past its end). Nothing to check without entries; with any, len > 0.
 */
static void check_exact_copy(unsigned ver, const uint8_t *table, size_t len, int first,
			     const struct expect *ex, size_t nex, int64_t total)
{
	uint8_t *t;

	if (!nex)
		return;
	t = malloc(len);
	if (!t)
		abort();
	memcpy(t, table, len);
	check_all(ver, t, len, first, ex, nex, total);
	free(t);
}

static bool line_in_range(int64_t l)
{
	return l >= INT_MIN && l <= INT_MAX;
}

/* 3.11+ location table */
static void structured_311(unsigned ver, int first, const uint8_t *d, size_t n)
{
	static uint8_t table[MAX_ENTRIES * 24];
	static struct expect ex[MAX_ENTRIES];
	size_t len = 0, nex = 0, i;
	int64_t line = first, end = 0;
	bool poisoned = false;

	for (i = 0; i + 3 <= n && nex < MAX_ENTRIES; i += 3) {
		unsigned units = (d[i] & 7) + 1, code = (d[i] >> 3) & 15;
		int64_t delta = 0;

		table[len++] = 0x80 | code << 3 | (units - 1);
		switch (code) {
		case 13: /* NO_COLUMNS */
		case 14: /* LONG */
			delta = delta_of(d[i], d[i + 1]);
			len += put_svarint(table + len, delta, d[i + 2] & 1);
			if (code == 14) {
				len += put_varint(table + len, d[i + 2] & 7);      /* end line */
				len += put_varint(table + len, d[i + 2] >> 3 & 3);  /* col + 1 */
				len += put_varint(table + len, d[i + 1] >> 1);     /* end col + 1 */
			}
			break;
		case 10: case 11: case 12: /* ONE_LINE0..2: col, end col */
			delta = code - 10;
			table[len++] = d[i + 1] & 0x7f;
			table[len++] = d[i + 2] & 0x7f;
			break;
		case 15: /* NONE */
			break;
		default: /* short forms: one byte of columns */
			table[len++] = d[i + 1] & 0x7f;
			break;
		}
		line += delta;
		if (!line_in_range(line))
			poisoned = true;
		end += units * 2;
		ex[nex].end = end;
		ex[nex].line = poisoned || code == 15 ? -1 : (int)line;
		nex++;
	}
	check_exact_copy(ver, table, len, first, ex, nex, end);
}

/* 3.10 (sdelta, ldelta) pairs */
static void structured_310(unsigned ver, int first, const uint8_t *d, size_t n)
{
	static uint8_t table[MAX_ENTRIES * 2 + 1];
	static struct expect ex[MAX_ENTRIES];
	size_t len = 0, nex = 0, i;
	int64_t line = first, end = 0;
	bool poisoned = false;

	for (i = 0; i + 3 <= n && len / 2 < MAX_ENTRIES; i += 3) {
		uint8_t sdelta = d[i] & 0x40 ? 0 : d[i + 1];
		int8_t ldelta = (int8_t)d[i + 2];

		table[len++] = sdelta;
		table[len++] = (uint8_t)ldelta;
		if (ldelta != -128) {
			line += ldelta;
			if (!line_in_range(line))
				poisoned = true;
		}
		if (!sdelta)
			continue;
		end += sdelta;
		ex[nex].end = end;
		ex[nex].line = poisoned || ldelta == -128 ? -1 : (int)line;
		nex++;
	}
	/* CPython never ends a table with an empty range: drop them */
	while (len >= 2 && table[len - 2] == 0)
		len -= 2;
	if (n % 3 == 2)
		table[len++] = d[n - 1]; /* an odd trailing byte is ignored */
	check_exact_copy(ver, table, len, first, ex, nex, end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned ver;
	int first;

	if (size < 5)
		return 0;
	ver = versions[(data[0] & 0x7f) % NVERSIONS];
	first = (int)le32(data + 1);
	if (!(data[0] & 0x80)) {
		raw_mode(ver, first, data + 5, size - 5);
		return 0;
	}
	if (!known(ver))
		return 0;
	if (((ver >> 16) & 0xff) == 10)
		structured_310(ver, first, data + 5, size - 5);
	else
		structured_311(ver, first, data + 5, size - 5);
	return 0;
}
