/* SPDX-License-Identifier: BSD-2-Clause */
/* A tiny deterministic PRNG for the table-driven tests' mutations. */
#ifndef ST_XORSHIFT_H
#define ST_XORSHIFT_H
#include <stdint.h>

/* xorshift64: the next value of *state (never 0 when the seed is not). */
static inline uint64_t xorshift64(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

#endif
