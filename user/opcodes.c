// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "elfsym.h"
#include "opcodes.h"

#define N           OPCODES_NTARGETS
#define MIN_IN_EVAL (N * 6 / 10) /* PGO moves rare handlers to a cold section */
#define MAX_CANDS   64
#define CHECK_BYTES 32           /* where the handler must load the exception type */

/* From each version's opcode.h / opcode_ids.h. */
static const struct { unsigned minor; int op; } load_assertion_error[] = {
	{ 9, 74 }, { 10, 74 }, { 11, 74 }, { 12, 74 }, { 13, 23 },
};

int opcodes__load_assertion_error(unsigned minor)
{
	size_t i;

	for (i = 0; i < sizeof(load_assertion_error) / sizeof(load_assertion_error[0]); i++)
		if (load_assertion_error[i].minor == minor)
			return load_assertion_error[i].op;
	return -1;
}

struct finder {
	const struct elfsym *e;
	struct elfsym_relocs rel;
	uint64_t eval_start, eval_end;
	uint64_t cands[MAX_CANDS];
	size_t ncands;
	bool too_many;
};

/* Entry i of a table at vaddr: a RELATIVE addend (PIE, shared) or the stored pointer. */
static int table_entry(const struct finder *f, uint64_t table, unsigned i, uint64_t *out)
{
	uint64_t slot = table + (uint64_t)i * 8;

	if (elfsym__is_dyn(f->e))
		return elfsym__relative_at(&f->rel, slot, out);
	return elfsym__read(f->e, slot, out, sizeof(*out));
}

static bool in_eval(const struct finder *f, uint64_t a)
{
	return a >= f->eval_start && a < f->eval_end;
}

static void add_cand(struct finder *f, uint64_t table)
{
	if (f->ncands < MAX_CANDS)
		f->cands[f->ncands++] = table;
	else
		f->too_many = true;
}

/*
 * Shared objects and PIEs: the table's slots are filled by 256 consecutive
 * R_X86_64_RELATIVE relocations, all into code, most into the eval loop.
 */
static void scan_relative(struct finder *f)
{
	const struct elfsym_rel *r = f->rel.relative;
	size_t i, n = f->rel.nrelative, run = 0, ineval = 0;

	/* window [i + 1 - N, i] of consecutive slots, all code */
	for (i = 0; i < n; i++) {
		bool code = elfsym__is_code(f->e, r[i].addend);

		if (!code || (i && r[i].offset != r[i - 1].offset + 8)) {
			run = 0;
			ineval = 0;
			if (!code)
				continue;
		}
		run++;
		ineval += in_eval(f, r[i].addend);
		if (run > N) {
			ineval -= in_eval(f, r[i - N].addend);
			run = N;
		}
		if (run == N && ineval >= MIN_IN_EVAL)
			add_cand(f, r[i + 1 - N].offset);
	}
}

/* Executables: 256 stored pointers into code in a read-only data section. */
static int scan_data(uint64_t vaddr, const void *data, size_t size, void *ctx)
{
	struct finder *f = ctx;
	const unsigned char *d = data;
	size_t i, run = 0, ineval = 0, skip = (8 - (vaddr & 7)) & 7;
	uint64_t p, q;

	if (size < skip + N * 8)
		return 0;
	for (i = skip; i + 8 <= size; i += 8) {
		memcpy(&p, d + i, 8);
		if (!elfsym__is_code(f->e, p)) {
			run = ineval = 0;
			continue;
		}
		run++;
		ineval += in_eval(f, p);
		if (run > N) {
			memcpy(&q, d + i - N * 8, 8);
			ineval -= in_eval(f, q);
			run = N;
		}
		if (run == N && ineval >= MIN_IN_EVAL)
			add_cand(f, vaddr + i + 8 - N * 8);
	}
	return 0;
}

/*
 * Does the code at addr load PyExc_AssertionError within its first bytes?
 * Looks for mov r64, [rip + disp32] (REX.W/REX.WR 8b, ModRM mod=00 rm=101)
 * whose operand is the variable itself (executables) or a GOT slot that the
 * dynamic linker fills with its address (shared objects, PIEs).
 */
static bool loads_assertion_error(const struct finder *f, uint64_t addr, size_t *at)
{
	unsigned char b[CHECK_BYTES];
	struct elfsym_info var;
	bool have_var = !elfsym__find(f->e, "PyExc_AssertionError", &var);
	size_t i;

	if (elfsym__read(f->e, addr, b, sizeof(b)))
		return false;
	for (i = 0; i + 7 <= sizeof(b); i++) {
		int32_t disp;
		uint64_t target;

		if ((b[i] != 0x48 && b[i] != 0x4c) || b[i + 1] != 0x8b || (b[i + 2] & 0xc7) != 0x05)
			continue;
		memcpy(&disp, &b[i + 3], sizeof(disp));
		target = addr + i + 7 + (int64_t)disp;
		if ((have_var && target == var.value) ||
		    (elfsym__is_dyn(f->e) &&
		     elfsym__got_names(f->e, target, "PyExc_AssertionError"))) {
			*at = i;
			return true;
		}
	}
	return false;
}

/*
 * 3.11+ handlers start with the type load (7 bytes: REX.W 8b /r, rip+disp32)
 * and then store the current instruction to the frame:
 * mov %src, disp(%base), REX.W 89 /r with an 8- or 32-bit displacement equal
 * to instr_off. Returns src (x86 number), or -1 if the code has another shape.
 */
static int ip_register(const struct finder *f, uint64_t addr, int instr_off)
{
	unsigned char b[16];
	int dst, src, rm, mod;
	int32_t disp;

	if (elfsym__read(f->e, addr, b, sizeof(b)))
		return -1;
	dst = ((b[0] & 4) << 1) | ((b[2] >> 3) & 7);
	if ((b[7] & 0xf8) != 0x48 || b[8] != 0x89)
		return -1;
	mod = b[9] >> 6;
	rm = b[9] & 7;
	src = ((b[7] & 4) << 1) | ((b[9] >> 3) & 7);
	if (rm == 4 || (mod != 1 && mod != 2))
		return -1; /* SIB or no displacement: not the store we know */
	if (mod == 1)
		disp = (int8_t)b[10];
	else
		memcpy(&disp, &b[10], sizeof(disp));
	if (disp != instr_off || src == dst || src == 4)
		return -1;
	return src;
}

int opcodes__assert_handler(const struct elfsym *e, unsigned minor, int instr_off,
			    bool use_names, struct assert_handler *out, char *why, size_t whysz)
{
	struct finder *f;
	struct elfsym_info si;
	uint64_t h, found_table = 0, found_handler = 0;
	int op = opcodes__load_assertion_error(minor), err = 0;
	size_t i, nvalid = 0;

	memset(out, 0, sizeof(*out));
	if (op < 0) {
		snprintf(why, whysz, "LOAD_ASSERTION_ERROR not known for Python 3.%u", minor);
		return -ENOTSUP;
	}
	if (elfsym__find(e, "_PyEval_EvalFrameDefault", &si) || !si.size) {
		snprintf(why, whysz, "no _PyEval_EvalFrameDefault with a size");
		return -ENOENT;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->e = e;
	f->eval_start = si.value;
	f->eval_end = si.value + si.size;
	if (elfsym__is_dyn(e) && (err = elfsym__relocs(e, &f->rel))) {
		snprintf(why, whysz, "cannot read dynamic relocations");
		goto out;
	}
	if (use_names && !elfsym__find_numbered(e, "opcode_targets", &si) && si.size == N * 8) {
		add_cand(f, si.value);
		out->by_symbol = true;
	} else if (elfsym__is_dyn(e)) {
		scan_relative(f);
	} else {
		elfsym__for_each_data(e, scan_data, f);
	}
	if (!f->ncands) {
		snprintf(why, whysz, "no opcode_targets table found");
		err = -ENOENT;
		goto out;
	}
	/* Overlapping windows of a longer pointer run: the handler decides. */
	for (i = 0; i < f->ncands; i++) {
		size_t at;

		if (table_entry(f, f->cands[i], op, &h) || !elfsym__is_code(e, h) ||
		    !loads_assertion_error(f, h, &at))
			continue;
		if (nvalid++ && h != found_handler)
			break;
		found_table = f->cands[i];
		found_handler = h;
	}
	if (!nvalid) {
		snprintf(why, whysz, "opcode_targets[%d] does not load PyExc_AssertionError%s", op,
			 f->too_many ? " (too many table candidates)" : "");
		err = -ENOENT;
	} else if (i < f->ncands) {
		snprintf(why, whysz, "several opcode_targets candidates validate");
		err = -ENOENT;
	} else {
		out->table = found_table;
		out->handler = found_handler;
		out->ip_reg = -1;
		if (instr_off >= 0 && (out->ip_reg = ip_register(f, found_handler, instr_off)) < 0) {
			snprintf(why, whysz, "LOAD_ASSERTION_ERROR handler does not start by "
				 "storing the instruction pointer");
			err = -ENOENT;
		}
	}
out:
	elfsym__relocs_free(&f->rel);
	free(f);
	return err;
}
