// SPDX-License-Identifier: BSD-2-Clause
/*
 * bytecode__attr_reads() and the opcode tables of bytecode.inc:
 *  - the tables of 3.10 to 3.15 are consistent, and say what each
 *    interpreter's own opcode/dis modules say (bytecode_cases.inc);
 *  - real code of every interpreter (tests/unit/gen_bytecode.py: co_code,
 *    the specialized co_code_adaptive, sys.monitoring instrumented code,
 *    a JIT's ENTER_EXECUTOR): exactly the reads SOURCE marks, on the
 *    lines it marks (through linetable__addr2line), INSTRUMENTED_LINE
 *    refused; then every prefix and random mutations of it, safely;
 *  - hand-assembled code for every rule (aliases, super-instructions,
 *    EXTENDED_ARG, caches holding instructions, ENTER_EXECUTOR,
 *    instrumented opcodes, limits) on every version that has the opcodes;
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

static int reads(unsigned ver, const uint8_t *code, size_t len, unsigned local, unsigned namei,
		 unsigned *out, unsigned max, unsigned *n)
{
	uint8_t *c = copy_of(code, len);
	int err = bytecode__attr_reads(ver, c, len, local, namei, out, max, n);

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
		print_message("%s: %d opcodes, the same as its opcode module's\n", interps[k].name,
			      rows);
		assert_int_equal(valid, rows);
	}
}

/* ---- real code ---- */

struct real_stats {
	size_t cases, reads, lines, prefixes, mutations, ebusy;
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
		err = reads(ver, code, cut, c->local, c->namei, out, 8, &n);
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
	assert_int_equal(reads(ver, code, len - 1, c->local, c->namei, out, 8, &n), -EINVAL);
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
		err = bytecode__attr_reads(ver, m, len, c->local, c->namei, out, 8, &n);
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
	int err = bytecode__attr_reads(ver, code, len, c->local, c->namei, out, 8, &n);

	if (err != c->err || (!err && n != c->nreads))
		fail_msg("%s %s (%s): error %d, %u reads; want %d, %u", interps[c->interp].name,
			 c->name, c->form, err, n, c->err, c->nreads);
	st->ebusy += err == -EBUSY;
	for (i = 0; !err && i < n; i++) {
		int addrq = bytecode__addrq(ver, out[i]);
		int line = linetable__addr2line(ver, lt, ltlen, c->firstlineno, addrq);

		if (out[i] != c->reads[i] || line != c->lines[i])
			fail_msg("%s %s (%s): read %u at unit %u line %d; want unit %u line %d",
				 interps[c->interp].name, c->name, c->form, i, out[i], line,
				 c->reads[i], c->lines[i]);
		st->reads++;
		st->lines++;
	}
	/* @max: the first ones, and none with max 0 */
	if (!err && c->nreads > 1) {
		assert_int_equal(bytecode__attr_reads(ver, code, len, c->local, c->namei, out, 1, &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(out[0], c->reads[0]);
		assert_int_equal(bytecode__attr_reads(ver, code, len, c->local, c->namei, NULL, 0, &n), 0);
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
		print_message("%s: %zu code objects (%s): %zu reads at the marked lines, %zu refused "
			      "(INSTRUMENTED_LINE); %zu prefixes, %zu mutations\n", interps[k].name,
			      st.cases, forms, st.reads, st.ebusy, st.prefixes, st.mutations);
		if (st.specialized[0])
			print_message("  reads specialized as: %s\n", st.specialized);
		assert_true(st.cases >= 10 && st.reads > 0);
	}
}

/* ---- hand-assembled code ---- */

/* Pseudo-fields of struct bytecode_table for instructions the scan does not name. */
enum {
	P_OTHER = 1000,   /* a base opcode without caches that is nothing to the scan */
	P_CACHED,         /* a base opcode with caches, nothing to the scan */
	P_INSTR_CACHED,   /* an INSTRUMENTED_X whose X has caches */
	P_RAW_EXT,        /* a bare EXTENDED_ARG with this arg, no instruction after */
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
	unsigned var, attr; /* the variable and the attribute; 0: L and N */
	struct ins ins[10];
};

#define L  3u      /* the variable */
#define A  5u      /* another local */
#define B  6u
#define N  7u      /* the attribute's co_names index */
#define M  8u      /* another attribute */
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
		put(t, b, n, op, arg, in->op == P_RAW_EXT);
		if (in->read)
			want[(*nwant)++] = (unsigned)(*n / 2 - 1 - (t->base[op] >= 0 ? t->caches[t->base[op]] : 0));
	}
	*n -= s->cut;
	return true;
}

static void test_synthetic(void **state)
{
	unsigned minor, out[8], want[8], n, nwant, i;
	size_t s, len;
	uint8_t code[256];
	int ran = 0, skipped = 0;

	for (minor = 10; minor <= 15; minor++) {
		unsigned ver = 0x03000000 | minor << 16;
		const struct bytecode_table *t = bytecode__table(ver);

		for (s = 0; s < NELEM(synths); s++) {
			int err;

			if (!assemble(t, &synths[s], code, &len, want, &nwant)) {
				skipped++;
				continue;
			}
			err = reads(ver, code, len, synths[s].var ? synths[s].var : L,
				    synths[s].attr ? synths[s].attr : N, out, 8, &n);
			if (err != synths[s].want || (!err && n != nwant))
				fail_msg("3.%u \"%s\": error %d, %u reads; want %d, %u", minor,
					 synths[s].name, err, n, synths[s].want, nwant);
			for (i = 0; !err && i < n; i++)
				if (out[i] != want[i])
					fail_msg("3.%u \"%s\": read %u at %u, want %u", minor,
						 synths[s].name, i, out[i], want[i]);
			ran++;
		}
	}
	print_message("%d hand-assembled cases over 3.10-3.15 (%d skipped: opcode not in that version)\n",
		      ran, skipped);
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
			err = reads(ver, code, len, L, N, out, 8, &n);
			if (err != want_alone)
				fail_msg("3.%u opcode %d alone: %d, want %d", minor, op, err, want_alone);
			len = 0;
			put(t, code, &len, op, 0, false);
			put(t, code, &len, t->load_fast, L, false);
			put(t, code, &len, t->load_attr, N << t->attr_shift, false);
			err = reads(ver, code, len, L, N, out, 8, &n);
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

static void test_arguments(void **state)
{
	const struct bytecode_table *t = bytecode__table(0x030c0000);
	uint8_t code[8] = { (uint8_t)t->load_fast, L, (uint8_t)t->load_attr, N << 1 };
	unsigned out[2], n = 7;
	uint8_t *big;

	assert_int_equal(bytecode__attr_reads(0x03090000, code, 4, L, N, out, 2, &n), -ENOTSUP);
	assert_int_equal(n, 0);
	assert_int_equal(bytecode__attr_reads(0x03100000, code, 4, L, N, out, 2, &n), -ENOTSUP);
	assert_int_equal(bytecode__attr_reads(0x040c0000, code, 4, L, N, out, 2, &n), -ENOTSUP);
	assert_int_equal(bytecode__attr_reads(0x030c0000, code, 4, L, N, out, 2, NULL), -EINVAL);
	assert_int_equal(bytecode__attr_reads(0x030c0000, NULL, 4, L, N, out, 2, &n), -EINVAL);
	assert_int_equal(bytecode__attr_reads(0x030c0000, code, 4, L, N, NULL, 2, &n), -EINVAL);
	assert_int_equal(bytecode__attr_reads(0x030c0000, NULL, 0, L, N, NULL, 0, &n), 0);
	assert_int_equal(n, 0);
	/* caches of the LOAD_ATTR missing */
	assert_int_equal(reads(0x030c0000, code, 4, L, N, out, 2, &n), -EINVAL);
	assert_int_equal(reads(0x030a0000, (const uint8_t[]){ 124, L, 106, N }, 4, L, N, out, 2, &n), 0);
	assert_int_equal(n, 1);
	/* the length bound is checked before anything is read */
	assert_int_equal(bytecode__attr_reads(0x030a0000, code, BYTECODE_MAX_LEN + 2, L, N, out, 2,
					      &n), -EINVAL);
	/* the longest code accepted: one pass */
	big = malloc(BYTECODE_MAX_LEN);
	assert_non_null(big);
	for (n = 0; n < BYTECODE_MAX_LEN; n += 4) {
		big[n] = 124;      /* 3.10 LOAD_FAST L */
		big[n + 1] = L;
		big[n + 2] = 106;  /* LOAD_ATTR N */
		big[n + 3] = N;
	}
	assert_int_equal(bytecode__attr_reads(0x030a0000, big, BYTECODE_MAX_LEN, L, N, out, 2, &n), 0);
	assert_int_equal(n, 2);
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
