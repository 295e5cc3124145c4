/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers shared by the libFuzzer targets in tests/fuzz: a failed property
 * aborts (libFuzzer then saves the input as a crash), a strict UTF-8 check,
 * a strict JSON validator, and a fixed-address "remote memory" arena that
 * code reading a traced process through process_vm_readv (user/memory/remote.c)
 * can be pointed at by using our own pid.
 */
#ifndef ST_FUZZ_COMMON_H
#define ST_FUZZ_COMMON_H
#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define FUZZ_CHECK(cond, ...)                                                 \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "fuzz property failed: %s (%s:%d): ", \
				#cond, __FILE__, __LINE__);                   \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			abort();                                              \
		}                                                             \
	} while (0)

/*
 * Decode one well-formed UTF-8 sequence (Unicode Table 3-7: no overlongs,
 * no surrogates, nothing above U+10FFFF). Returns its length, 0 if
 * ill-formed. Written independently of user/util/escape.c on purpose.
 */
static inline size_t fz_utf8_one(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint32_t v;
	size_t len, i;

	if (!n)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		v = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		v = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		v = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000))
		return 0; /* overlong */
	if ((v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	*cp = v;
	return len;
}

static inline bool fz_utf8_valid(const uint8_t *s, size_t n)
{
	uint32_t cp;
	size_t k;

	while (n) {
		k = fz_utf8_one(s, n, &cp);
		if (!k)
			return false;
		s += k;
		n -= k;
	}
	return true;
}

/* Append a code point as UTF-8 (cp already valid). */
static inline size_t fz_utf8_put(uint32_t cp, uint8_t *o)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | cp >> 6;
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | cp >> 12;
		o[1] = 0x80 | (cp >> 6 & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | cp >> 18;
	o[1] = 0x80 | (cp >> 12 & 0x3f);
	o[2] = 0x80 | (cp >> 6 & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/*
 * Strict RFC 8259 JSON. fz_json_string() parses one string literal at
 * s[*pos]; when @dec is not NULL the decoded value is written there (the
 * caller gives room for n bytes: a decoded string is never longer than its
 * literal) with its length in *declen. A \u escape of a lone surrogate is
 * rejected: a JSON string we write must decode to valid Unicode.
 */
static inline int fz_hex4(const uint8_t *s, size_t n, size_t p, uint32_t *v)
{
	size_t i;

	if (p + 4 > n)
		return -1;
	*v = 0;
	for (i = 0; i < 4; i++) {
		uint8_t c = s[p + i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*v |= c - 'A' + 10;
		else
			return -1;
	}
	return 0;
}

static inline bool fz_json_string(const uint8_t *s, size_t n, size_t *pos, uint8_t *dec,
				  size_t *declen)
{
	size_t p = *pos, d = 0, k;
	uint32_t cp, lo;

	if (p >= n || s[p] != '"')
		return false;
	p++;
	for (;;) {
		if (p >= n)
			return false;
		if (s[p] == '"')
			break;
		if (s[p] < 0x20)
			return false;
		if (s[p] == '\\') {
			if (p + 1 >= n)
				return false;
			switch (s[p + 1]) {
			case '"': cp = '"'; break;
			case '\\': cp = '\\'; break;
			case '/': cp = '/'; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u':
				if (fz_hex4(s, n, p + 2, &cp))
					return false;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return false;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (p + 12 > n || s[p + 6] != '\\' || s[p + 7] != 'u' ||
					    fz_hex4(s, n, p + 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
						return false;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
				p += 4;
				break;
			default:
				return false;
			}
			p += 2;
			if (dec)
				d += fz_utf8_put(cp, dec + d);
			continue;
		}
		k = fz_utf8_one(s + p, n - p, &cp);
		if (!k)
			return false;
		if (dec)
			memcpy(dec + d, s + p, k);
		d += k;
		p += k;
	}
	*pos = p + 1;
	if (declen)
		*declen = d;
	return true;
}

static inline void fz_json_ws(const uint8_t *s, size_t n, size_t *p)
{
	while (*p < n && (s[*p] == ' ' || s[*p] == '\t' || s[*p] == '\n' || s[*p] == '\r'))
		(*p)++;
}

static inline bool fz_json_number(const uint8_t *s, size_t n, size_t *pos)
{
	size_t p = *pos;

	if (p < n && s[p] == '-')
		p++;
	if (p >= n)
		return false;
	if (s[p] == '0') {
		p++;
	} else if (s[p] >= '1' && s[p] <= '9') {
		while (p < n && s[p] >= '0' && s[p] <= '9')
			p++;
	} else {
		return false;
	}
	if (p < n && s[p] == '.') {
		p++;
		if (p >= n || s[p] < '0' || s[p] > '9')
			return false;
		while (p < n && s[p] >= '0' && s[p] <= '9')
			p++;
	}
	if (p < n && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < n && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= n || s[p] < '0' || s[p] > '9')
			return false;
		while (p < n && s[p] >= '0' && s[p] <= '9')
			p++;
	}
	*pos = p;
	return true;
}

static inline bool fz_json_value(const uint8_t *s, size_t n, size_t *pos, int depth)
{
	size_t p = *pos;

	if (depth > 64)
		return false;
	fz_json_ws(s, n, &p);
	if (p >= n)
		return false;
	switch (s[p]) {
	case '"':
		if (!fz_json_string(s, n, &p, NULL, NULL))
			return false;
		break;
	case '{':
	case '[': {
		uint8_t close = s[p] == '{' ? '}' : ']';
		bool obj = s[p] == '{';

		p++;
		fz_json_ws(s, n, &p);
		if (p < n && s[p] == close) {
			p++;
			break;
		}
		for (;;) {
			if (obj) {
				fz_json_ws(s, n, &p);
				if (!fz_json_string(s, n, &p, NULL, NULL))
					return false;
				fz_json_ws(s, n, &p);
				if (p >= n || s[p] != ':')
					return false;
				p++;
			}
			if (!fz_json_value(s, n, &p, depth + 1))
				return false;
			fz_json_ws(s, n, &p);
			if (p < n && s[p] == ',') {
				p++;
				continue;
			}
			if (p < n && s[p] == close) {
				p++;
				break;
			}
			return false;
		}
		break;
	}
	case 't':
		if (p + 4 > n || memcmp(s + p, "true", 4))
			return false;
		p += 4;
		break;
	case 'f':
		if (p + 5 > n || memcmp(s + p, "false", 5))
			return false;
		p += 5;
		break;
	case 'n':
		if (p + 4 > n || memcmp(s + p, "null", 4))
			return false;
		p += 4;
		break;
	default:
		if (!fz_json_number(s, n, &p))
			return false;
	}
	fz_json_ws(s, n, &p);
	*pos = p;
	return true;
}

/* The whole of s[0..n) is exactly one JSON value. */
static inline bool fz_json_document(const uint8_t *s, size_t n)
{
	size_t p = 0;

	return fz_json_value(s, n, &p, 0) && p == n;
}

/*
 * Fake remote memory: FZ_ARENA_SIZE bytes at a fixed address, followed by
 * an inaccessible guard page, so that "pointers" inside fuzz inputs and
 * seeds are absolute and reproducible, and process_vm_readv(getpid(), ...)
 * past the arena fails with EFAULT as a read of unmapped target memory
 * would. 0x200000000000 is in x86_64 ASan's HighMem, away from its shadow
 * and its allocator (0x600000000000).
 */
#define FZ_ARENA_BASE 0x200000000000ULL
#define FZ_ARENA_SIZE (1U << 20)

static inline uint8_t *fz_arena(void)
{
	static uint8_t *arena;
	void *p;

	if (arena)
		return arena;
	p = mmap((void *)(uintptr_t)FZ_ARENA_BASE, FZ_ARENA_SIZE + 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)(uintptr_t)FZ_ARENA_BASE) {
		perror("fuzz: cannot map the arena at 0x200000000000");
		abort();
	}
	if (mprotect((uint8_t *)p + FZ_ARENA_SIZE, 4096, PROT_NONE)) {
		perror("fuzz: mprotect");
		abort();
	}
	arena = p;
	return arena;
}

/* Copy @n bytes to the arena start; zero what the previous input left. */
static inline void fz_arena_load(const uint8_t *data, size_t n)
{
	static size_t used;
	uint8_t *a = fz_arena();

	if (n > FZ_ARENA_SIZE)
		n = FZ_ARENA_SIZE;
	if (used > n)
		memset(a + n, 0, used - n);
	if (n)
		memcpy(a, data, n);
	used = n;
}

#endif /* ST_FUZZ_COMMON_H */
