// SPDX-License-Identifier: BSD-2-Clause
/*
 * user/util/hashmap.c against a plain array as the oracle: random inserts,
 * replacements, lookups and deletes of integer keys (clustered the way
 * addresses in a target are), then string keys; sizes and every value exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "util/hashmap.h"

#define NKEYS 4096

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_u64_against_array(void **state)
{
	static uintptr_t keys[NKEYS], vals[NKEYS];
	static bool present[NKEYS];
	struct hashmap m;
	size_t i, n = 0, round;

	hashmap__init(&m, hashmap__hash_u64, hashmap__equal_u64, NULL);
	for (i = 0; i < NKEYS; i++)
		keys[i] = 0x7f0000000000ULL + i * 16; /* 16-byte aligned, like objects */
	for (round = 0; round < 200000; round++) {
		size_t k = rng() % NKEYS;
		uintptr_t v = rng(), got = 0, old_key = 0, old_val = 0;

		switch (rng() % 3) {
		case 0:
			assert_int_equal(hashmap__set(&m, keys[k], v), 0);
			n += !present[k];
			present[k] = true;
			vals[k] = v;
			break;
		case 1:
			assert_int_equal(hashmap__find(&m, keys[k], &got), present[k]);
			if (present[k])
				assert_true(got == vals[k]);
			break;
		default:
			assert_int_equal(hashmap__delete(&m, keys[k], &old_key, &old_val), present[k]);
			if (present[k]) {
				assert_true(old_key == keys[k] && old_val == vals[k]);
				present[k] = false;
				n--;
			}
		}
		assert_int_equal(hashmap__size(&m), n);
	}
	{
		struct hashmap_entry *e;
		size_t bkt, seen = 0;

		hashmap__for_each_entry(&m, e, bkt)
			seen++;
		assert_int_equal(seen, n);
	}
	hashmap__clear(&m);
	assert_int_equal(hashmap__size(&m), 0);
	assert_false(hashmap__find(&m, keys[0], NULL));
}

static void test_strings(void **state)
{
	static const char *const words[] = { "", "a", "b", "ab", "ba", "session", "sessio",
					      "/r/1", "/r/10", "\x1b[31m", "caf\xc3\xa9" };
	struct hashmap m;
	char copy[32];
	uintptr_t v;
	size_t i;

	hashmap__init(&m, hashmap__hash_str, hashmap__equal_str, NULL);
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		assert_int_equal(hashmap__set(&m, (uintptr_t)words[i], i), 0);
	assert_int_equal(hashmap__size(&m), sizeof(words) / sizeof(words[0]));
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		/* equal strings at other addresses find the same entry */
		snprintf(copy, sizeof(copy), "%s", words[i]);
		assert_true(hashmap__find(&m, (uintptr_t)copy, &v));
		assert_int_equal(v, i);
	}
	assert_false(hashmap__find(&m, (uintptr_t)"sessions", NULL));
	hashmap__clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64_against_array),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests_name("hashmap", tests, NULL, NULL);
}
