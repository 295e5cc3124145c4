// SPDX-License-Identifier: BSD-2-Clause
/*
 * Attribute reads of a local, or of what a call of a global returns, in
 * CPython bytecode (bytecode.h): one pass over the code units, each
 * instruction mapped to its base opcode and skipped by that opcode's inline
 * caches, with a one-instruction memory of "the top of the stack is the
 * variable", a bitmap of its aliases and, for calls, "only arguments were
 * loaded since the callee, this many values".
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
	R_GLOBAL,       /* LOAD_GLOBAL: pushes global oparg >> global_shift (and maybe NULL) */
	R_NAME,         /* LOAD_NAME: pushes name oparg */
	R_CONST,        /* LOAD_CONST, LOAD_SMALL_INT: pushes one argument */
	R_CALL_PREP,    /* PUSH_NULL, KW_NAMES, PRECALL: no argument pushed */
	R_CALL,         /* CALL_FUNCTION, CALL: calls with oparg arguments */
	R_CALL_KW,      /* CALL_FUNCTION_KW, CALL_KW: oparg arguments and their names */
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
	if (op == t->load_global)
		return R_GLOBAL;
	if (op == t->load_name)
		return R_NAME;
	if (op == t->load_const || op == t->load_small_int)
		return R_CONST;
	if (op == t->push_null || op == t->kw_names || op == t->precall)
		return R_CALL_PREP;
	if (op == t->call || op == t->call_function)
		return R_CALL;
	if (op == t->call_kw || op == t->call_function_kw)
		return R_CALL_KW;
	return R_OTHER;
}

/*
 * The variable: local @local (bytecode__attr_reads), or what a call of
 * global @callee returns (bytecode__call_attr_reads, by_call); and aliases.
 */
struct scan {
	const struct bytecode_table *t;
	unsigned local, callee, namei;
	bool by_call;
	bool top;                 /* the last instruction pushed the variable or an alias */
	bool calling;             /* by_call: since a load of the callee, only argument loads */
	uint32_t args;            /* the values these pushed */
	uint8_t alias[BYTECODE_MAX_ALIASES / 8];
	unsigned *offsets, max, n;
};

static bool is_var(const struct scan *s, uint32_t x)
{
	if (!s->by_call && x == s->local)
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

/* A load of global or name x: the callee starts a call. */
static void load_callable(struct scan *s, uint32_t x)
{
	s->calling = s->by_call && x == s->callee;
	s->args = 0;
}

/* An argument load of k values: the call of the callee goes on, if any. */
static void argument(struct scan *s, bool calling, uint32_t k)
{
	s->calling = calling;
	s->args += k;
}

/* One instruction (its EXTENDED_ARG prefixes folded into oparg) at code unit at. */
static void step(struct scan *s, enum role r, uint32_t oparg, unsigned at)
{
	bool top = s->top, calling = s->calling;

	s->top = false;
	s->calling = false;
	switch (r) {
	case R_LOAD:
		s->top = is_var(s, oparg);
		argument(s, calling, 1);
		break;
	case R_LOAD2:
		s->top = is_var(s, oparg & 15);
		argument(s, calling, 2);
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
	case R_GLOBAL:
		load_callable(s, oparg >> s->t->global_shift);
		break;
	case R_NAME:
		load_callable(s, oparg);
		break;
	case R_CONST:
		argument(s, calling, 1);
		break;
	case R_CALL_PREP:
		argument(s, calling, 0);
		break;
	case R_CALL:
		/* the callee's own call: it consumes exactly the arguments loaded */
		s->top = calling && s->args == oparg;
		break;
	case R_CALL_KW:
		/* the names tuple on top of the arguments */
		s->top = calling && s->args && s->args - 1 == oparg;
		break;
	case R_OTHER:
		break;
	}
}

/* The scan of s (its variable, attribute and output set) over the code. */
static int scan_code(struct scan *s, unsigned version_hex, const uint8_t *code, size_t len,
		     unsigned *n)
{
	const struct bytecode_table *t = bytecode__table(version_hex);
	size_t units = len / 2, i = 0, next;
	uint32_t arg = 0;
	bool prefix = false;

	if (!n)
		return -EINVAL;
	*n = 0;
	if (!t)
		return -ENOTSUP;
	if ((len && !code) || len % 2 || len > BYTECODE_MAX_LEN || (s->max && !s->offsets))
		return -EINVAL;
	s->t = t;
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
			step(s, role_of(t, b), oparg, (unsigned)i);
		}
		i = next;
	}
	if (prefix)
		return -EINVAL; /* an EXTENDED_ARG with no instruction after it */
	*n = s->n;
	return 0;
}

int bytecode__attr_reads(unsigned version_hex, const uint8_t *code, size_t len,
			 unsigned local, unsigned namei, unsigned *offsets, unsigned max,
			 unsigned *n)
{
	struct scan s = { .local = local, .namei = namei, .offsets = offsets, .max = max };

	return scan_code(&s, version_hex, code, len, n);
}

int bytecode__call_attr_reads(unsigned version_hex, const uint8_t *code, size_t len,
			      unsigned callee, unsigned namei, unsigned *offsets, unsigned max,
			      unsigned *n)
{
	struct scan s = { .callee = callee, .by_call = true, .namei = namei, .offsets = offsets,
			  .max = max };

	return scan_code(&s, version_hex, code, len, n);
}

int bytecode__addrq(unsigned version_hex, unsigned offset)
{
	if (!bytecode__table(version_hex) || offset > INT_MAX / 2)
		return -1;
	return (int)(offset * 2);
}
