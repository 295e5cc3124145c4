// SPDX-License-Identifier: BSD-2-Clause
/*
 * Attribute reads of a local in CPython bytecode (bytecode.h): one pass over
 * the code units, each instruction mapped to its base opcode and skipped by
 * that opcode's inline caches, with a one-instruction memory of "the top of
 * the stack is the variable" and a bitmap of its aliases.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>

#include "decode/bytecode.h"

static const struct bytecode_table tables[] = {
#include "decode/bytecode.inc"
};

const struct bytecode_table *bytecode__table(unsigned version_hex)
{
	size_t i;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (tables[i].version_hex == (version_hex & 0xffff0000))
			return &tables[i];
	return NULL;
}

/* What an instruction does to the analysis. */
enum role {
	R_OTHER,        /* anything else: the top of the stack is unknown */
	R_LOAD,         /* pushes local oparg */
	R_LOAD2,        /* pushes local oparg >> 4, then local oparg & 15 */
	R_STORE,        /* pops into local oparg */
	R_STORE_LOAD,   /* pops into local oparg >> 4, pushes local oparg & 15 */
	R_STORE2,       /* pops into local oparg >> 4, then into local oparg & 15 */
	R_ATTR,         /* replaces the top with its attribute oparg >> attr_shift */
	R_METHOD,       /* LOAD_METHOD (3.10, 3.11): attribute oparg */
};

static enum role role_of(const struct bytecode_table *t, int op)
{
	if (op == t->load_fast || op == t->load_fast_check || op == t->load_fast_and_clear ||
	    op == t->load_fast_borrow)
		return R_LOAD;
	if (op == t->load_fast_load_fast || op == t->load_fast_borrow_load_fast_borrow)
		return R_LOAD2;
	if (op == t->store_fast)
		return R_STORE;
	if (op == t->store_fast_load_fast)
		return R_STORE_LOAD;
	if (op == t->store_fast_store_fast)
		return R_STORE2;
	if (op == t->load_attr)
		return R_ATTR;
	if (op == t->load_method)
		return R_METHOD;
	return R_OTHER;
}

struct scan {
	const struct bytecode_table *t;
	unsigned local, namei;
	bool top;                 /* the last instruction pushed the variable or an alias */
	uint8_t alias[BYTECODE_MAX_ALIASES / 8];
	unsigned *offsets, max, n;
};

static bool is_var(const struct scan *s, uint32_t x)
{
	if (x == s->local)
		return true;
	return x < BYTECODE_MAX_ALIASES && (s->alias[x / 8] >> (x % 8) & 1);
}

/*
 * A store into local x of the top of the stack (the variable when top).
 * The variable itself stays the variable (is_var looks at it first).
 */
static void store(struct scan *s, uint32_t x, bool top)
{
	if (x >= BYTECODE_MAX_ALIASES)
		return;
	if (top)
		s->alias[x / 8] |= 1u << (x % 8);
	else
		s->alias[x / 8] &= ~(1u << (x % 8));
}

/* An attribute of the top of the stack (the variable when top). */
static void attr(struct scan *s, bool top, uint32_t name, unsigned at)
{
	if (!top || name != s->namei)
		return;
	if (s->n < s->max)
		s->offsets[s->n++] = at;
}

/* One instruction (its EXTENDED_ARG prefixes folded into oparg) at code unit at. */
static void step(struct scan *s, enum role r, uint32_t oparg, unsigned at)
{
	bool top = s->top;

	s->top = false;
	switch (r) {
	case R_LOAD:
		s->top = is_var(s, oparg);
		break;
	case R_LOAD2:
		s->top = is_var(s, oparg & 15);
		break;
	case R_STORE:
		store(s, oparg, top);
		break;
	case R_STORE_LOAD:
		store(s, oparg >> 4, top);
		s->top = is_var(s, oparg & 15);
		break;
	case R_STORE2:
		/* the second value stored was below the top: not known */
		store(s, oparg >> 4, top);
		store(s, oparg & 15, false);
		break;
	case R_ATTR:
		attr(s, top, oparg >> s->t->attr_shift, at);
		break;
	case R_METHOD:
		attr(s, top, oparg, at);
		break;
	case R_OTHER:
		break;
	}
}

int bytecode__attr_reads(unsigned version_hex, const uint8_t *code, size_t len,
			 unsigned local, unsigned namei, unsigned *offsets, unsigned max,
			 unsigned *n)
{
	const struct bytecode_table *t = bytecode__table(version_hex);
	struct scan s = { .t = t, .local = local, .namei = namei, .offsets = offsets, .max = max };
	size_t units = len / 2, i = 0, next;
	uint32_t arg = 0;
	bool prefix = false;

	if (!n)
		return -EINVAL;
	*n = 0;
	if (!t)
		return -ENOTSUP;
	if ((len && !code) || len % 2 || len > BYTECODE_MAX_LEN || (max && !offsets))
		return -EINVAL;
	while (i < units) {
		uint8_t op = code[2 * i];
		uint32_t oparg = arg | code[2 * i + 1];
		int b = t->base[op];

		if (b == BYTECODE_OPAQUE)
			return -EBUSY;
		if (b < 0 || b == t->cache)
			return -EINVAL;
		next = i + 1 + t->caches[b];
		if (next > units)
			return -EINVAL;
		prefix = b == t->extended_arg;
		if (prefix) {
			/* like CPython: oparg << 8 per prefix (in 32 bits) */
			arg = oparg << 8;
		} else {
			arg = 0;
			step(&s, role_of(t, b), oparg, (unsigned)i);
		}
		i = next;
	}
	if (prefix)
		return -EINVAL; /* an EXTENDED_ARG with no instruction after it */
	*n = s.n;
	return 0;
}

int bytecode__addrq(unsigned version_hex, unsigned offset)
{
	if (!bytecode__table(version_hex) || offset > INT_MAX / 2)
		return -1;
	return (int)(offset * 2);
}
