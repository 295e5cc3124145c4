// SPDX-License-Identifier: BSD-2-Clause
/*
 * bytecode__attr_reads(), bytecode__call_attr_reads() and the opcode tables
 * of bytecode.inc:
 *  - the tables of 3.10 to 3.15 are consistent, and say what each
 *    interpreter's own opcode/dis modules say (bytecode_cases.inc): the
 *    base and caches of every opcode, the number of every named one;
 *  - real code of every interpreter (tests/unit/gen_bytecode.py: co_code,
 *    the specialized co_code_adaptive, sys.monitoring instrumented code,
 *    a JIT's ENTER_EXECUTOR): exactly the reads SOURCE marks, on the
 *    lines it marks (through linetable__addr2line), INSTRUMENTED_LINE
 *    refused; then every prefix and random mutations of it, safely;
 *    the samples of call results (callee >= 0) through
 *    bytecode__call_attr_reads, the others through bytecode__attr_reads;
 *  - hand-assembled code for every rule (aliases, super-instructions,
 *    EXTENDED_ARG, caches holding instructions, ENTER_EXECUTOR,
 *    instrumented opcodes, limits; the forms of a call and what breaks
 *    one) on every version that has the opcodes;
 *  - each of the 256 opcode values of each version, alone and followed
 *    by a read (its caches skipped exactly);
 *  - malformed input: odd lengths, truncation, EXTENDED_ARG at the end,
 *    unknown versions, NULL pointers, the length bound.
 * Every buffer handed over is an exact-size heap copy (ASan sees over-reads).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/bytecode.h"
#include "decode/linetable.h"
#include "xorshift.h"

#include "bytecode_cases.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MINOR(v) (((v) >> 16) & 0xff)

static uint64_t rng_state = 0x243f6a8885a308d3ull;

#define rng() xorshift64(&rng_state)

static uint8_t *copy_of(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	assert_non_null(c);
	if (n)
		memcpy(c, p, n);
	return c;
}

/* hex string -> exact-size heap buffer */
static uint8_t *unhex(const char *s, size_t *len)
{
	size_t n = strlen(s) / 2, i;
	uint8_t *b = malloc(n ? n : 1);

	assert_non_null(b);
	for (i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		b[i] = (uint8_t)v;
	}
	*len = n;
	return b;
}

/* bytecode__call_attr_reads of global callee if callee >= 0, else bytecode__attr_reads of local */
static int scan(unsigned ver, const uint8_t *code, size_t len, int callee, unsigned local,
		unsigned namei, unsigned *out, unsigned max, unsigned *n)
{
	if (callee >= 0)
		return bytecode__call_attr_reads(ver, code, len, (unsigned)callee, namei, out, max,
						 n);
	return bytecode__attr_reads(ver, code, len, local, namei, out, max, n);
}

/* scan() of an exact-size heap copy */
static int reads(unsigned ver, const uint8_t *code, size_t len, int callee, unsigned local,
		 unsigned namei, unsigned *out, unsigned max, unsigned *n)
{
	uint8_t *c = copy_of(code, len);
	int err = scan(ver, c, len, callee, local, namei, out, max, n);

	free(c);
	return err;
}

/* ---- the tables ---- */

static void test_tables(void **state)
{
	unsigned minor;
	int op;

	for (minor = 10; minor <= 15; minor++) {
		const struct bytecode_table *t = bytecode__table(0x03000000 | minor << 16 | 0x0af0);
		int nvalid = 0, nattr = 0, nopaque = 0;

		assert_non_null(t);
		assert_int_equal(t->version_hex, 0x03000000 | minor << 16);
		for (op = 0; op < 256; op++) {
			int b = t->base[op];

			assert_true(b >= BYTECODE_OPAQUE && b < 256);
			if (b >= 0) {
				nvalid++;
				assert_int_equal(t->base[b], b); /* a base is its own base */
				nattr += b == t->load_attr && op != b;
			} else {
				assert_int_equal(t->caches[op], 0);
			}
			if (b == BYTECODE_OPAQUE) {
				nopaque++;
				assert_true(minor >= 12 && op >= t->min_instrumented);
			}
			if (b >= 0 && b != op)
				assert_int_equal(t->caches[op], 0); /* caches: per base opcode */
		}
		assert_true(t->load_fast >= 0 && t->store_fast >= 0 && t->load_attr >= 0 &&
			    t->extended_arg >= 0);
		assert_int_equal(t->caches[t->extended_arg], 0);
		assert_int_equal(t->attr_shift, minor >= 12);
		assert_int_equal(t->load_method >= 0, minor <= 11);
		assert_int_equal(t->load_fast_load_fast >= 0, minor >= 13);
		assert_int_equal(t->load_fast_borrow >= 0, minor >= 14);
		assert_int_equal(t->cache >= 0, minor >= 11);
		assert_int_equal(t->global_shift, minor >= 11);
		assert_true(t->load_global >= 0 && t->load_name >= 0 && t->load_const >= 0);
		assert_int_equal(t->load_small_int >= 0, minor >= 14);
		assert_int_equal(t->push_null >= 0 && t->call >= 0, minor >= 11);
		assert_int_equal(t->kw_names >= 0, minor == 11 || minor == 12);
		assert_int_equal(t->precall >= 0, minor == 11);
		assert_int_equal(t->call_kw >= 0, minor >= 13);
		assert_int_equal(t->call_function >= 0 && t->call_function_kw >= 0, minor == 10);
		if (minor >= 13)
			assert_int_equal(t->base[t->enter_executor], t->jump_backward);
		if (minor >= 12) {
			assert_int_equal(t->base[t->instrumented_line], BYTECODE_OPAQUE);
			assert_int_equal(t->base[t->instrumented_instruction], BYTECODE_OPAQUE);
		}
		print_message("3.%u: %d opcodes, LOAD_ATTR %d caches and %d specialized forms, "
			      "LOAD_METHOD %d caches, %d opaque, ENTER_EXECUTOR -> %d (%d caches)\n",
			      minor, nvalid, t->caches[t->load_attr], nattr,
			      t->load_method >= 0 ? t->caches[t->load_method] : -1, nopaque,
			      t->enter_executor >= 0 ? t->base[t->enter_executor] : -1,
			      t->enter_executor >= 0 ? t->caches[t->jump_backward] : -1);
	}
	assert_null(bytecode__table(0x03090000));
	assert_null(bytecode__table(0x03100000));
	assert_null(bytecode__table(0x020a0000));
	assert_null(bytecode__table(0x040b0000));
}

/* The opcode fields of struct bytecode_table, by their name in the opcode module. */
static const struct {
	size_t field;
	const char *name;
} named_ops[] = {
#define NAMED(f, name) { offsetof(struct bytecode_table, f), name }
	NAMED(load_fast, "LOAD_FAST"), NAMED(store_fast, "STORE_FAST"),
	NAMED(load_attr, "LOAD_ATTR"), NAMED(load_method, "LOAD_METHOD"),
	NAMED(extended_arg, "EXTENDED_ARG"), NAMED(load_fast_check, "LOAD_FAST_CHECK"),
	NAMED(load_fast_and_clear, "LOAD_FAST_AND_CLEAR"),
	NAMED(load_fast_load_fast, "LOAD_FAST_LOAD_FAST"),
	NAMED(store_fast_load_fast, "STORE_FAST_LOAD_FAST"),
	NAMED(store_fast_store_fast, "STORE_FAST_STORE_FAST"),
	NAMED(load_fast_borrow, "LOAD_FAST_BORROW"),
	NAMED(load_fast_borrow_load_fast_borrow, "LOAD_FAST_BORROW_LOAD_FAST_BORROW"),
	NAMED(load_global, "LOAD_GLOBAL"), NAMED(load_name, "LOAD_NAME"),
	NAMED(load_const, "LOAD_CONST"), NAMED(load_small_int, "LOAD_SMALL_INT"),
	NAMED(push_null, "PUSH_NULL"), NAMED(call, "CALL"), NAMED(kw_names, "KW_NAMES"),
	NAMED(precall, "PRECALL"), NAMED(call_kw, "CALL_KW"),
	NAMED(call_function, "CALL_FUNCTION"), NAMED(call_function_kw, "CALL_FUNCTION_KW"),
	NAMED(cache, "CACHE"), NAMED(jump_backward, "JUMP_BACKWARD"),
	NAMED(enter_executor, "ENTER_EXECUTOR"), NAMED(instrumented_line, "INSTRUMENTED_LINE"),
	NAMED(instrumented_instruction, "INSTRUMENTED_INSTRUCTION"),
#undef NAMED
};

/* Each named opcode of bytecode.inc is the interpreter's number of that name, or -1 if none. */
static void check_named(size_t k, const struct bytecode_table *t)
{
	size_t i, j;

	for (i = 0; i < NELEM(named_ops); i++) {
		int got = *(const int *)((const char *)t + named_ops[i].field), want = -1;

		for (j = 0; j < NELEM(oprows); j++)
			if (oprows[j].interp == k && !strcmp(oprows[j].name, named_ops[i].name))
				want = oprows[j].op;
		if (got != want)
			fail_msg("%s: %s is %d in bytecode.inc, %d in Python", interps[k].name,
				 named_ops[i].name, got, want);
	}
}

/* bytecode.inc against each interpreter's opcode and dis modules */
static void test_tables_vs_python(void **state)
{
	size_t k, i;

	for (k = 0; k < NELEM(interps); k++) {
		const struct bytecode_table *t = bytecode__table(interps[k].version);
		int rows = 0, valid = 0, op;

		assert_non_null(t);
		for (i = 0; i < NELEM(oprows); i++) {
			const struct bc_oprow *r = &oprows[i];

			if (r->interp != k)
				continue;
			rows++;
			if (t->base[r->op] != r->base ||
			    (r->base >= 0 && t->caches[r->base] != r->caches))
				fail_msg("%s: %s (%d): base %d caches %d in bytecode.inc, Python: %d %d",
					 interps[k].name, r->name, r->op, t->base[r->op],
					 r->base >= 0 ? t->caches[r->base] : -1, r->base, r->caches);
		}
		for (op = 0; op < 256; op++)
			valid += t->base[op] != BYTECODE_NOT_OPCODE;
		check_named(k, t);
		print_message("%s: %d opcodes, the same as its opcode module's, and %zu named\n",
			      interps[k].name, rows, NELEM(named_ops));
		assert_int_equal(valid, rows);
	}
}

/* ---- real code ---- */

struct real_stats {
	size_t cases, reads, lines, prefixes, mutations, ebusy, calls, call_reads;
	char specialized[512];
};

static void note_specialized(struct real_stats *st, const char *list)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(st->specialized);

		if (!strstr(st->specialized, tok) && n + strlen(tok) + 2 < sizeof(st->specialized))
			snprintf(st->specialized + n, sizeof(st->specialized) - n, "%s%s",
				 n ? " " : "", tok);
	}
}

/* Every even prefix: 0 with the reads before the cut, or an error. */
static void check_prefixes(const struct bc_case *c, unsigned ver, const uint8_t *code,
			   size_t len, struct real_stats *st)
{
	unsigned out[8], n, i, want;
	size_t cut;
	int err;

	for (cut = 0; cut <= len; cut += 2) {
		err = reads(ver, code, cut, c->callee, c->local, c->namei, out, 8, &n);
		st->prefixes++;
		if (err == 0 && c->err == 0) {
			for (want = 0; want < c->nreads && c->reads[want] < cut / 2; want++)
				;
			assert_int_equal(n, want);
			for (i = 0; i < n; i++)
				assert_int_equal(out[i], c->reads[i]);
		} else if (err) {
			assert_true(err == -EINVAL || err == -EBUSY);
			assert_int_equal(n, 0);
		}
	}
	assert_int_equal(reads(ver, code, len - 1, c->callee, c->local, c->namei, out, 8, &n),
			 -EINVAL);
}

static void check_mutations(const struct bc_case *c, unsigned ver, const uint8_t *code,
			    size_t len, struct real_stats *st)
{
	unsigned out[8], n;
	uint8_t *m = copy_of(code, len);
	int round, k, err;

	for (round = 0; round < 64; round++) {
		memcpy(m, code, len);
		for (k = 0; k < 1 + round % 4; k++)
			m[rng() % len] = (uint8_t)rng();
		err = scan(ver, m, len, c->callee, c->local, c->namei, out, 8, &n);
		assert_true(err == 0 || err == -EINVAL || err == -EBUSY);
		assert_true(n <= 8 && (!err || !n));
		st->mutations++;
	}
	free(m);
}

static void check_real(const struct bc_case *c, struct real_stats *st)
{
	unsigned ver = interps[c->interp].version, out[8], n = 99, i;
	size_t len, ltlen;
	uint8_t *code = unhex(c->code, &len), *lt = unhex(c->linetable, &ltlen);
	int err = scan(ver, code, len, c->callee, c->local, c->namei, out, 8, &n);

	if (err != c->err || (!err && n != c->nreads))
		fail_msg("%s %s (%s): error %d, %u reads; want %d, %u", interps[c->interp].name,
			 c->name, c->form, err, n, c->err, c->nreads);
	st->ebusy += err == -EBUSY;
	st->calls += c->callee >= 0;
	for (i = 0; !err && i < n; i++) {
		int addrq = bytecode__addrq(ver, out[i]);
		int line = linetable__addr2line(ver, lt, ltlen, c->firstlineno, addrq);

		if (out[i] != c->reads[i] || line != c->lines[i])
			fail_msg("%s %s (%s): read %u at unit %u line %d; want unit %u line %d",
				 interps[c->interp].name, c->name, c->form, i, out[i], line,
				 c->reads[i], c->lines[i]);
		st->reads++;
		st->lines++;
		st->call_reads += c->callee >= 0;
	}
	/* @max: the first ones, and none with max 0 */
	if (!err && c->nreads > 1) {
		err = scan(ver, code, len, c->callee, c->local, c->namei, out, 1, &n);
		assert_int_equal(err, 0);
		assert_int_equal(n, 1);
		assert_int_equal(out[0], c->reads[0]);
		err = scan(ver, code, len, c->callee, c->local, c->namei, NULL, 0, &n);
		assert_int_equal(err, 0);
		assert_int_equal(n, 0);
	}
	note_specialized(st, c->specialized);
	check_prefixes(c, ver, code, len, st);
	check_mutations(c, ver, code, len, st);
	free(code);
	free(lt);
	st->cases++;
}

static void test_real_code(void **state)
{
	size_t k, i;

	for (k = 0; k < NELEM(interps); k++) {
		struct real_stats st = { 0 };
		char forms[256] = "";

		for (i = 0; i < NELEM(cases); i++) {
			size_t n = strlen(forms);

			if (cases[i].interp != k)
				continue;
			check_real(&cases[i], &st);
			if (!strstr(forms, cases[i].form))
				snprintf(forms + n, sizeof(forms) - n, "%s%s", n ? " " : "", cases[i].form);
		}
		print_message("%s: %zu code objects (%s; %zu of call results): %zu reads at "
			      "the marked lines (%zu of call results), %zu refused "
			      "(INSTRUMENTED_LINE); %zu prefixes, %zu mutations\n", interps[k].name,
			      st.cases, forms, st.calls, st.reads, st.call_reads, st.ebusy,
			      st.prefixes, st.mutations);
		if (st.specialized[0])
			print_message("  reads specialized as: %s\n", st.specialized);
		assert_true(st.cases >= 10 && st.reads > 0 && st.calls >= 3 && st.call_reads > 0);
	}
}

/* ---- hand-assembled code ---- */

/* Pseudo-fields of struct bytecode_table for instructions the scan does not name. */
enum {
	P_OTHER = 1000,   /* a base opcode without caches that is nothing to the scan */
	P_CACHED,         /* a base opcode with caches, nothing to the scan */
	P_INSTR_CACHED,   /* an INSTRUMENTED_X whose X has caches */
	P_RAW_EXT,        /* a bare EXTENDED_ARG with this arg, no instruction after */
	P_CALL,           /* CALL_FUNCTION (3.10), CALL (3.11+) */
	P_CALL_KW,        /* CALL_FUNCTION_KW (3.10), CALL_KW (3.13+) */
};
#define OP(f) offsetof(struct bytecode_table, f)

struct ins {
	size_t op;   /* OP(field) or a P_* */
	uint32_t arg;
	bool read;   /* a read of local L, attribute N: this instruction's unit */
};

struct synth {
	const char *name;
	int want;
	unsigned cut;  /* bytes removed from the end: LOAD_ATTR's caches (3.11+ only) */
	unsigned var, attr; /* the variable (call_synths: callee) and attribute; 0: L (G), N */
	struct ins ins[10];
};

#define L  3u      /* the variable */
#define A  5u      /* another local */
#define B  6u
#define N  7u      /* the attribute's co_names index */
#define M  8u      /* another attribute */
#define G  9u      /* the callee's co_names index (LOAD_GLOBAL: with the NULL bit on 3.11+) */
#define H  10u     /* another global */
#define I(f, a)  { OP(f), (a), false }
#define RD(f, a) { OP(f), (a), true }   /* the read */
#define PS(p, a) { (p), (a), false }

static const struct synth synths[] = {
	{ "load, attr", 0, 0, 0, 0, { I(load_fast, L), RD(load_attr, N) } },
	{ "other local", 0, 0, 0, 0, { I(load_fast, A), I(load_attr, N) } },
	{ "other attribute", 0, 0, 0, 0, { I(load_fast, L), I(load_attr, M) } },
	{ "second attribute (request.state.session)", 0, 0, 0, 0,
	  { I(load_fast, L), I(load_attr, M), I(load_attr, N) } },
	{ "something between", 0, 0, 0, 0,
	  { I(load_fast, L), PS(P_OTHER, 0), I(load_attr, N) } },
	{ "caches between", 0, 0, 0, 0,
	  { I(load_fast, L), PS(P_CACHED, 0), I(load_attr, N) } },
	{ "alias", 0, 0, 0, 0,
	  { I(load_fast, L), I(store_fast, A), I(load_fast, A),
	    RD(load_attr, N) } },
	{ "alias overwritten", 0, 0, 0, 0,
	  { I(load_fast, L), I(store_fast, A), PS(P_OTHER, 0), I(store_fast, A),
	    I(load_fast, A), I(load_attr, N) } },
	{ "alias of an alias", 0, 0, 0, 0,
	  { I(load_fast, L), I(store_fast, A), I(load_fast, A),
	    I(store_fast, B), I(load_fast, B), RD(load_attr, N) } },
	{ "variable overwritten stays", 0, 0, 0, 0,
	  { PS(P_OTHER, 0), I(store_fast, L), I(load_fast, L),
	    RD(load_attr, N) } },
	{ "alias 1023 (last tracked)", 0, 0, 0, 0,
	  { I(load_fast, L), I(store_fast, 1023), I(load_fast, 1023),
	    RD(load_attr, N) } },
	{ "alias 1024 (not tracked)", 0, 0, 0, 0,
	  { I(load_fast, L), I(store_fast, 1024), I(load_fast, 1024),
	    I(load_attr, N) } },
	{ "variable 70000, attribute 300", 0, 0, 70000, 300,
	  { I(load_fast, 70000), RD(load_attr, 300) } },
	{ "EXTENDED_ARG 0 prefixes", 0, 0, 0, 0,
	  { PS(P_RAW_EXT, 0), PS(P_RAW_EXT, 0), PS(P_RAW_EXT, 0), PS(P_RAW_EXT, 0),
	    PS(P_RAW_EXT, 0), I(load_fast, L), PS(P_RAW_EXT, 0), RD(load_attr, N) } },
	{ "EXTENDED_ARG at the end", -EINVAL, 0, 0, 0,
	  { I(load_fast, L), I(load_attr, N), PS(P_RAW_EXT, 1) } },
	{ "EXTENDED_ARG alone", -EINVAL, 0, 0, 0, { PS(P_RAW_EXT, 0) } },
	{ "odd length", -EINVAL, 1, 0, 0, { I(load_fast, L), I(load_attr, N) } },
	{ "three reads", 0, 0, 0, 0,
	  { I(load_fast, L), RD(load_attr, N), I(load_fast, L),
	    RD(load_attr, N), I(load_fast, L), RD(load_attr, N) } },
	{ "LOAD_METHOD", 0, 0, 0, 0, { I(load_fast, L), RD(load_method, N) } },
	{ "LOAD_FAST_CHECK", 0, 0, 0, 0, { I(load_fast_check, L), RD(load_attr, N) } },
	{ "LOAD_FAST_AND_CLEAR", 0, 0, 0, 0,
	  { I(load_fast_and_clear, L), RD(load_attr, N) } },
	{ "LOAD_FAST_LOAD_FAST, variable on top", 0, 0, 0, 0,
	  { I(load_fast_load_fast, A << 4 | L), RD(load_attr, N) } },
	{ "LOAD_FAST_LOAD_FAST, variable below", 0, 0, 0, 0,
	  { I(load_fast_load_fast, L << 4 | A), I(load_attr, N) } },
	{ "STORE_FAST_LOAD_FAST alias", 0, 0, 0, 0,
	  { I(load_fast, L), I(store_fast_load_fast, A << 4 | A),
	    RD(load_attr, N) } },
	{ "STORE_FAST_LOAD_FAST variable", 0, 0, 0, 0,
	  { PS(P_OTHER, 0), I(store_fast_load_fast, A << 4 | L), RD(load_attr, N) } },
	{ "STORE_FAST_STORE_FAST: first alias, second not", 0, 0, 0, 0,
	  { I(load_fast, L), I(store_fast_store_fast, A << 4 | B),
	    I(load_fast, A), RD(load_attr, N), I(load_fast, B),
	    I(load_attr, N) } },
	{ "LOAD_FAST_BORROW", 0, 0, 0, 0, { I(load_fast_borrow, L), RD(load_attr, N) } },
	{ "LOAD_FAST_BORROW_LOAD_FAST_BORROW", 0, 0, 0, 0,
	  { I(load_fast_borrow_load_fast_borrow, A << 4 | L), RD(load_attr, N) } },
	{ "CACHE as an instruction", -EINVAL, 0, 0, 0,
	  { I(load_fast, L), I(cache, 0), I(load_attr, N) } },
	{ "caches cut", -EINVAL, 2, 0, 0, { I(load_fast, L), I(load_attr, N) } },
	{ "ENTER_EXECUTOR and its cache", 0, 0, 0, 0,
	  { I(enter_executor, 1), I(load_fast, L), RD(load_attr, N) } },
	{ "instrumented with caches", 0, 0, 0, 0,
	  { PS(P_INSTR_CACHED, 0), I(load_fast, L), RD(load_attr, N) } },
	{ "INSTRUMENTED_LINE", -EBUSY, 0, 0, 0,
	  { I(load_fast, L), I(load_attr, N), I(instrumented_line, 0) } },
	{ "INSTRUMENTED_INSTRUCTION", -EBUSY, 0, 0, 0,
	  { I(instrumented_instruction, 0), I(load_fast, L), I(load_attr, N) } },
};

/* bytecode__call_attr_reads of callee G */
static const struct synth call_synths[] = {
	{ "call, attr", 0, 0, 0, 0,
	  { I(load_global, G), I(load_fast, A), PS(P_CALL, 1), RD(load_attr, N) } },
	{ "call, LOAD_METHOD", 0, 0, 0, 0,
	  { I(load_global, G), PS(P_CALL, 0), RD(load_method, N) } },
	{ "call with keywords", 0, 0, 0, 0,
	  { I(load_global, G), I(load_fast, A), I(load_const, 0), PS(P_CALL_KW, 1),
	    RD(load_attr, N) } },
	{ "call: KW_NAMES", 0, 0, 0, 0,
	  { I(load_global, G), I(load_fast, A), I(kw_names, 0), I(call, 1), RD(load_attr, N) } },
	{ "call: KW_NAMES, PRECALL", 0, 0, 0, 0,
	  { I(load_global, G), I(load_fast, A), I(kw_names, 0), I(precall, 1), I(call, 1),
	    RD(load_attr, N) } },
	{ "call: LOAD_NAME, LOAD_CONST", 0, 0, 0, 0,
	  { I(load_name, G), I(load_const, 0), PS(P_CALL, 1), RD(load_attr, N) } },
	{ "call: PUSH_NULL", 0, 0, 0, 0,
	  { I(load_global, G), I(push_null, 0), PS(P_CALL, 0), RD(load_attr, N) } },
	{ "call: LOAD_SMALL_INT, LOAD_FAST_BORROW", 0, 0, 0, 0,
	  { I(load_global, G), I(load_small_int, 1), I(load_fast_borrow, A), PS(P_CALL, 2),
	    RD(load_attr, N) } },
	{ "call: LOAD_FAST_LOAD_FAST, two arguments", 0, 0, 0, 0,
	  { I(load_global, G), I(load_fast_load_fast, A << 4 | B), PS(P_CALL, 2),
	    RD(load_attr, N) } },
	{ "call of the global as an argument (check(Request, x))", 0, 0, 0, 0,
	  { I(load_global, H), I(load_global, G), I(load_fast, A), PS(P_CALL, 2),
	    I(load_attr, N) } },
	{ "call with keywords, no names", 0, 0, 0, 0,
	  { I(load_global, G), PS(P_CALL_KW, 0), I(load_attr, N) } },
	{ "call of another global", 0, 0, 0, 0,
	  { I(load_global, H), I(load_fast, A), PS(P_CALL, 1), I(load_attr, N) } },
	{ "nested call", 0, 0, 0, 0,
	  { I(load_global, G), I(load_global, H), I(load_fast, A), PS(P_CALL, 1), PS(P_CALL, 1),
	    I(load_attr, N) } },
	{ "call: something between", 0, 0, 0, 0,
	  { I(load_global, G), PS(P_OTHER, 0), PS(P_CALL, 0), I(load_attr, N) } },
	{ "the global's own attribute", 0, 0, 0, 0,
	  { I(load_global, G), I(load_attr, N), I(load_fast, L), I(load_attr, N) } },
	{ "call, second attribute", 0, 0, 0, 0,
	  { I(load_global, G), PS(P_CALL, 0), I(load_attr, M), I(load_attr, N) } },
	{ "call result alias, read twice", 0, 0, 0, 0,
	  { I(load_global, G), PS(P_CALL, 0), I(store_fast, A), I(load_fast, A),
	    RD(load_attr, N), I(load_global, H), I(load_fast, A), RD(load_attr, N) } },
	{ "call result alias overwritten", 0, 0, 0, 0,
	  { I(load_global, G), PS(P_CALL, 0), I(store_fast, A), PS(P_OTHER, 0),
	    I(store_fast, A), I(load_fast, A), I(load_attr, N) } },
	{ "call result STORE_FAST_LOAD_FAST", 0, 0, 0, 0,
	  { I(load_global, G), PS(P_CALL, 0), I(store_fast_load_fast, A << 4 | A),
	    RD(load_attr, N) } },
	{ "callee 70000, attribute 300", 0, 0, 70000, 300,
	  { I(load_global, 70000), PS(P_CALL, 0), RD(load_attr, 300) } },
	{ "call: caches cut", -EINVAL, 2, 0, 0,
	  { I(load_global, G), PS(P_CALL, 0), I(load_attr, N) } },
	{ "call: EXTENDED_ARG at the end", -EINVAL, 0, 0, 0,
	  { I(load_global, G), PS(P_CALL, 0), I(load_attr, N), PS(P_RAW_EXT, 1) } },
	{ "call: INSTRUMENTED_LINE", -EBUSY, 0, 0, 0,
	  { I(load_global, G), PS(P_CALL, 0), I(instrumented_line, 0), I(load_attr, N) } },
};

/* An opcode of the version with that role, or -1. */
static int resolve(const struct bytecode_table *t, size_t op)
{
	int v;

	if (op == P_OTHER || op == P_CACHED || op == P_INSTR_CACHED) {
		for (v = 1; v < 256; v++) {
			int b = t->base[v];
			bool named = false;
			size_t f;

			if (b < 0)
				continue;
			for (f = OP(load_fast); f <= OP(instrumented_instruction); f += sizeof(int))
				named |= *(const int *)((const char *)t + f) == b;
			if (named)
				continue;
			if (op == P_OTHER && b == v && !t->caches[b])
				return v;
			if (op == P_CACHED && b == v && t->caches[b])
				return v;
			if (op == P_INSTR_CACHED && t->min_instrumented >= 0 &&
			    v >= t->min_instrumented && b != v && t->caches[b])
				return v;
		}
		return -1;
	}
	if (op == P_RAW_EXT)
		return t->extended_arg;
	if (op == P_CALL)
		return t->call >= 0 ? t->call : t->call_function;
	if (op == P_CALL_KW)
		return t->call_kw >= 0 ? t->call_kw : t->call_function_kw;
	return *(const int *)((const char *)t + op);
}

/* A byte that is no opcode of the version. */
static uint8_t not_opcode(const struct bytecode_table *t)
{
	int v;

	for (v = 0; v < 256; v++)
		if (t->base[v] == BYTECODE_NOT_OPCODE)
			return (uint8_t)v;
	fail_msg("3.%u: every byte is an opcode", MINOR(t->version_hex));
	return 0;
}

/*
 * Append one instruction: EXTENDED_ARG prefixes, then its caches, which
 * may hold anything: here a byte that is no opcode (a cache not skipped
 * makes the code malformed), then what looks like reads of the variable.
 */
static void put(const struct bytecode_table *t, uint8_t *b, size_t *n, int op, uint32_t arg, bool raw)
{
	int shift, k;

	for (shift = 24; !raw && shift > 0; shift -= 8)
		if (arg >> shift) {
			b[(*n)++] = (uint8_t)t->extended_arg;
			b[(*n)++] = (uint8_t)(arg >> shift);
		}
	b[(*n)++] = (uint8_t)op;
	b[(*n)++] = (uint8_t)arg;
	for (k = 0; !raw && t->base[op] >= 0 && k < t->caches[t->base[op]]; k++) {
		b[(*n)++] = k ? (uint8_t)(k % 2 ? t->load_fast : t->load_attr) : not_opcode(t);
		b[(*n)++] = (uint8_t)(k % 2 ? L : N << t->attr_shift);
	}
}

/* Assemble s for t; false when the version lacks one of its opcodes. */
static bool assemble(const struct bytecode_table *t, const struct synth *s, uint8_t *b, size_t *n,
		     unsigned *want, unsigned *nwant)
{
	size_t i;

	*n = *nwant = 0;
	if (s->cut > 1 && !t->caches[t->load_attr])
		return false;
	for (i = 0; i < NELEM(s->ins) && (s->ins[i].op || i == 0); i++) {
		const struct ins *in = &s->ins[i];
		int op = resolve(t, in->op);
		uint32_t arg = in->arg;

		if (op < 0)
			return false;
		if (in->op == OP(load_attr))
			arg <<= t->attr_shift;
		if (in->op == OP(load_global)) /* 3.11+: and push NULL */
			arg = arg << t->global_shift | (uint32_t)t->global_shift;
		put(t, b, n, op, arg, in->op == P_RAW_EXT);
		if (in->read)
			want[(*nwant)++] = (unsigned)(*n / 2 - 1 - (t->base[op] >= 0 ? t->caches[t->base[op]] : 0));
	}
	*n -= s->cut;
	return true;
}

/* One synth on one version: 1 run, 0 skipped (an opcode the version lacks). */
static int run_synth(unsigned ver, const struct synth *sy, bool by_call)
{
	const struct bytecode_table *t = bytecode__table(ver);
	unsigned out[8], want[8], n, nwant, i, var = sy->var ? sy->var : by_call ? G : L;
	uint8_t code[256];
	size_t len;
	int err;

	if (!assemble(t, sy, code, &len, want, &nwant))
		return 0;
	err = reads(ver, code, len, by_call ? (int)var : -1, var, sy->attr ? sy->attr : N, out, 8,
		    &n);
	if (err != sy->want || (!err && n != nwant))
		fail_msg("3.%u \"%s\": error %d, %u reads; want %d, %u", MINOR(ver), sy->name, err,
			 n, sy->want, nwant);
	for (i = 0; !err && i < n; i++)
		if (out[i] != want[i])
			fail_msg("3.%u \"%s\": read %u at %u, want %u", MINOR(ver), sy->name, i,
				 out[i], want[i]);
	return 1;
}

static void test_synthetic(void **state)
{
	unsigned minor;
	size_t s;
	int ran = 0, calls = 0, total = 0;

	for (minor = 10; minor <= 15; minor++) {
		unsigned ver = 0x03000000 | minor << 16;

		for (s = 0; s < NELEM(synths); s++)
			ran += run_synth(ver, &synths[s], false);
		for (s = 0; s < NELEM(call_synths); s++)
			calls += run_synth(ver, &call_synths[s], true);
		total += NELEM(synths) + NELEM(call_synths);
	}
	print_message("%d hand-assembled cases over 3.10-3.15, %d of them of call results (%d "
		      "skipped: opcode not in that version)\n", ran + calls, calls,
		      total - ran - calls);
}

/* Each opcode value alone, then followed by a read: its caches skipped exactly. */
static void test_all_opcodes(void **state)
{
	unsigned minor, out[8], n;
	int op, counts[4] = { 0 };

	for (minor = 10; minor <= 15; minor++) {
		unsigned ver = 0x03000000 | minor << 16;
		const struct bytecode_table *t = bytecode__table(ver);

		for (op = 0; op < 256; op++) {
			uint8_t code[64];
			size_t len = 0;
			int b = t->base[op], want_alone, want_then, err;

			put(t, code, &len, op, 0, true);
			if (b == BYTECODE_OPAQUE)
				want_alone = want_then = -EBUSY;
			else if (b < 0 || b == t->cache)
				want_alone = want_then = -EINVAL;
			else if (b == t->extended_arg || t->caches[b])
				want_alone = -EINVAL, want_then = 0;
			else
				want_alone = want_then = 0;
			err = reads(ver, code, len, -1, L, N, out, 8, &n);
			if (err != want_alone)
				fail_msg("3.%u opcode %d alone: %d, want %d", minor, op, err, want_alone);
			len = 0;
			put(t, code, &len, op, 0, false);
			put(t, code, &len, t->load_fast, L, false);
			put(t, code, &len, t->load_attr, N << t->attr_shift, false);
			err = reads(ver, code, len, -1, L, N, out, 8, &n);
			if (err != want_then || (!err && (n != 1 || out[0] != len / 2 - 1 -
							   t->caches[t->load_attr])))
				fail_msg("3.%u opcode %d then a read: %d (%u reads), want %d", minor, op,
					 err, n, want_then);
			counts[want_then == 0 ? 0 : want_then == -EBUSY ? 1 : 2]++;
		}
	}
	print_message("6 x 256 opcode values: %d followed by a read found, %d refused as "
		      "opaque, %d malformed\n", counts[0], counts[1], counts[2]);
}

/* Both scans: the same argument checks. */
static int (*const scans[])(unsigned, const uint8_t *, size_t, unsigned, unsigned, unsigned *,
			    unsigned, unsigned *) = {
	bytecode__attr_reads,
	bytecode__call_attr_reads,
};

static void test_arguments(void **state)
{
	const struct bytecode_table *t = bytecode__table(0x030c0000);
	uint8_t code[8] = { (uint8_t)t->load_fast, L, (uint8_t)t->load_attr, N << 1 };
	unsigned out[2], n = 7;
	size_t f;
	uint8_t *big;

	for (f = 0; f < NELEM(scans); f++) {
		n = 7;
		assert_int_equal(scans[f](0x03090000, code, 4, L, N, out, 2, &n), -ENOTSUP);
		assert_int_equal(n, 0);
		assert_int_equal(scans[f](0x03100000, code, 4, L, N, out, 2, &n), -ENOTSUP);
		assert_int_equal(scans[f](0x040c0000, code, 4, L, N, out, 2, &n), -ENOTSUP);
		assert_int_equal(scans[f](0x030c0000, code, 4, L, N, out, 2, NULL), -EINVAL);
		assert_int_equal(scans[f](0x030c0000, NULL, 4, L, N, out, 2, &n), -EINVAL);
		assert_int_equal(scans[f](0x030c0000, code, 4, L, N, NULL, 2, &n), -EINVAL);
		assert_int_equal(scans[f](0x030c0000, NULL, 0, L, N, NULL, 0, &n), 0);
		assert_int_equal(n, 0);
		/* the length bound is checked before anything is read */
		assert_int_equal(scans[f](0x030a0000, code, BYTECODE_MAX_LEN + 2, L, N, out, 2, &n),
				 -EINVAL);
	}
	/* caches of the LOAD_ATTR missing */
	assert_int_equal(reads(0x030c0000, code, 4, -1, L, N, out, 2, &n), -EINVAL);
	assert_int_equal(reads(0x030a0000, (const uint8_t[]){ 124, L, 106, N }, 4, -1, L, N, out, 2,
			       &n), 0);
	assert_int_equal(n, 1);
	/* the longest code accepted: one pass (no call: no read of a call result) */
	big = malloc(BYTECODE_MAX_LEN);
	assert_non_null(big);
	for (n = 0; n < BYTECODE_MAX_LEN; n += 4) {
		big[n] = 124;      /* 3.10 LOAD_FAST L */
		big[n + 1] = L;
		big[n + 2] = 106;  /* LOAD_ATTR N */
		big[n + 3] = N;
	}
	for (f = 0; f < NELEM(scans); f++) {
		assert_int_equal(scans[f](0x030a0000, big, BYTECODE_MAX_LEN, L, N, out, 2, &n), 0);
		assert_int_equal(n, f ? 0 : 2);
	}
	free(big);
}

static void test_addrq(void **state)
{
	assert_int_equal(bytecode__addrq(0x030a0000, 0), 0);
	assert_int_equal(bytecode__addrq(0x030b07f0, 21), 42);
	assert_int_equal(bytecode__addrq(0x030f0000, 1000), 2000);
	assert_int_equal(bytecode__addrq(0x030e0000, 0x3fffffff), 0x7ffffffe);
	assert_int_equal(bytecode__addrq(0x030e0000, 0x40000000), -1);
	assert_int_equal(bytecode__addrq(0x03090000, 1), -1);
	assert_int_equal(bytecode__addrq(0x03100000, 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_tables_vs_python),
		cmocka_unit_test(test_real_code),
		cmocka_unit_test(test_synthetic),
		cmocka_unit_test(test_all_opcodes),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_addrq),
	};

	return cmocka_run_group_tests_name("bytecode", tests, NULL, NULL);
}
