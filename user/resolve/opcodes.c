// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "resolve/elfsym.h"
#include "resolve/opcodes.h"
#include "resolve/x86dec.h"

#define N              OPCODES_NTARGETS
#define HANDLER_INSNS  16   /* the assert handler loads and stores within these */
#define RAISE_INSNS    64   /* RAISE_VARARGS: up to its call of do_raise */
#define DO_RAISE_INSNS 400  /* do_raise's error paths are within these */
#define PREFILTER      48   /* bytes a handler is cheaply checked in first */

/* A PyObject * variable the code may load: its address, or its GOT slot. */
struct ref {
	uint64_t var, slot;
};

static void ref_init(const struct elfsym *e, const char *name, struct ref *r)
{
	struct elfsym_info si;

	memset(r, 0, sizeof(*r));
	if (!elfsym__find(e, name, &si))
		r->var = si.value;
	if (elfsym__is_dyn(e))
		elfsym__got_slot(e, name, &r->slot);
}

static bool ref_is(const struct ref *r, uint64_t a)
{
	return a && (a == r->var || a == r->slot);
}

struct finder {
	const struct elfsym *e;
	const struct st_py_layout *L;
	enum assert_site_kind kind;
	int op;
	struct elfsym_relocs rel;
	struct ref assertion, type_error, runtime_error;
	struct x86dec_insn *insns;
	/* results */
	struct assert_site found;
	size_t nvalid;
	bool conflict;
	const char *last_why; /* the most specific reason a handler was refused */
};

/* Entry i of a table at vaddr: a RELATIVE addend (PIE, shared) or the stored pointer. */
static int table_entry(const struct finder *f, uint64_t table, unsigned i, uint64_t *out)
{
	uint64_t slot = table + (uint64_t)i * 8;

	if (elfsym__is_dyn(f->e))
		return elfsym__relative_at(&f->rel, slot, out);
	return elfsym__read(f->e, slot, out, sizeof(*out));
}

/*
 * Cheap first look at a would-be handler: a rip-relative disp32 ending an
 * instruction that names r (assert handler), or a 64-bit store with an 8-bit
 * displacement equal to the frame's instruction pointer (RAISE_VARARGS).
 */
static bool prefilter(const struct finder *f, uint64_t h)
{
	unsigned char b[PREFILTER];
	size_t i;

	if (elfsym__read(f->e, h, b, sizeof(b)))
		return false;
	for (i = 0; i + 4 <= sizeof(b); i++) {
		if (f->kind == ASSERT_SITE_HANDLER) {
			int32_t disp;

			memcpy(&disp, &b[i], sizeof(disp));
			if (ref_is(&f->assertion, h + i + 4 + (int64_t)disp))
				return true;
		} else if (i >= 2 && (b[i - 2] & 0xf0) == 0x40 && (b[i - 2] & 8) && b[i - 1] == 0x89 &&
			   (b[i] >> 6) == 1 && (b[i] & 7) != 4 && b[i + 1] == (uint8_t)f->L->frame_instr) {
			return true;
		}
	}
	return false;
}

/*
 * Does the code at addr refer to the variable name (an exported PyObject *)
 * within its first n instructions? Directly (executables) or through the
 * GOT slot the dynamic linker fills with it (shared objects, PIEs).
 */
static bool refers_to(const struct elfsym *e, uint64_t addr, size_t n, const char *name)
{
	struct x86dec_insn *in = calloc(n, sizeof(*in));
	struct ref r;
	bool yes = false;
	int i, got;

	if (!in)
		return false;
	ref_init(e, name, &r);
	got = x86dec__decode(e, addr, n * 15, in, n, false);
	for (i = 0; i < got && !yes; i++)
		yes = ref_is(&r, in[i].rip_target);
	free(in);
	return yes;
}

/* The store of the instruction pointer into the frame: mov %reg, instr_off(%base). */
static bool ip_store(const struct finder *f, const struct x86dec_insn *in)
{
	return in->mov64 && in->store && in->mem_base >= 0 && in->mem_base < 16 &&
	       in->mem_index == X86_NOREG && in->mem_disp == f->L->frame_instr && in->reg != 4;
}

static bool validate_handler(struct finder *f, uint64_t h, struct assert_site *s)
{
	struct x86dec_insn *in = f->insns;
	int n = x86dec__decode(f->e, h, HANDLER_INSNS * 15, in, HANDLER_INSNS, true);
	int i, start = 0, load = -1, store = -1;
	uint32_t written = 0;

	if (n <= 0)
		return false;
	if (in[0].endbr)
		start = 1;
	for (i = start; i < n && i < start + 6 && load < 0; i++)
		if (in[i].mov64 && !in[i].store && ref_is(&f->assertion, in[i].rip_target))
			load = i;
	if (load < 0) {
		f->last_why = "does not load PyExc_AssertionError";
		return false;
	}
	s->kind = ASSERT_SITE_HANDLER;
	s->handler = h;
	s->probe = in[start].addr;
	s->ip_reg = -1;
	/* no adaptive code (<= 3.10): frames keep f_lasti current before dispatching */
	if (f->L->code_adaptive < 0)
		return true;
	for (i = start; i < n; i++) {
		if (ip_store(f, &in[i]) && !(written & (1U << in[i].reg))) {
			store = i;
			break;
		}
		written |= in[i].writes;
		if (in[i].flow != X86_FLOW_NEXT)
			break;
	}
	if (store < 0) {
		f->last_why = "LOAD_ASSERTION_ERROR handler does not store the instruction pointer "
			      "into the frame from a register that holds it at the probe";
		return false;
	}
	s->ip_reg = in[store].reg;
	return true;
}

static bool validate_do_raise(struct finder *f, uint64_t h, struct assert_site *s)
{
	struct x86dec_insn *in = f->insns;
	int n = x86dec__decode(f->e, h, RAISE_INSNS * 15, in, RAISE_INSNS, true);
	int i, store = -1, call = -1;
	bool oparg2 = false;
	uint64_t d;

	/* frame->instr_ptr = ...; a branch on oparg == 2 (a cause); do_raise(...) */
	for (i = 0; i < n && call < 0; i++) {
		if (store < 0 && ip_store(f, &in[i]))
			store = i;
		else if (in[i].cmp_imm && in[i].imm == 2)
			oparg2 = true;
		else if (store >= 0 && in[i].flow == X86_FLOW_CALL && in[i].target)
			call = i;
	}
	if (store < 0 || call < 0 || !oparg2) {
		f->last_why = "RAISE_VARARGS handler does not store the instruction pointer, test "
			      "for a cause and call a function";
		return false;
	}
	d = in[call].target;
	if (!elfsym__is_code(f->e, d) || !refers_to(f->e, d, DO_RAISE_INSNS, "PyExc_TypeError") ||
	    !refers_to(f->e, d, DO_RAISE_INSNS, "PyExc_RuntimeError")) {
		f->last_why = "the function RAISE_VARARGS calls is not do_raise (it does not raise "
			      "both TypeError and RuntimeError)";
		return false;
	}
	s->kind = ASSERT_SITE_DO_RAISE;
	s->handler = h;
	s->probe = d;
	s->ip_reg = -1;
	/* do_raise's first direct call is _PyErr_SetObject(tstate, type, value) */
	n = x86dec__decode(f->e, d, RAISE_INSNS * 15, in, RAISE_INSNS, false);
	for (i = 0; i < n; i++)
		if (in[i].flow == X86_FLOW_CALL && in[i].target && elfsym__is_code(f->e, in[i].target)) {
			s->set_object = in[i].target;
			break;
		}
	return true;
}

/* One candidate table: does its entry [op] validate? */
static void try_table(struct finder *f, uint64_t table, bool by_symbol)
{
	struct assert_site s = { .table = table, .by_symbol = by_symbol };
	uint64_t h;
	bool ok;

	if (f->conflict || table_entry(f, table, f->op, &h) || !elfsym__is_code(f->e, h))
		return;
	if (!by_symbol && !prefilter(f, h))
		return;
	ok = f->kind == ASSERT_SITE_HANDLER ? validate_handler(f, h, &s) : validate_do_raise(f, h, &s);
	if (!ok)
		return;
	/*
	 * Overlapping windows of one longer run give the same handler; 3.15's
	 * second table (trace recording) gives another handler whose call is
	 * the same do_raise. What must be unique is where the probe goes.
	 */
	if (f->nvalid++ && s.probe != f->found.probe)
		f->conflict = true;
	if (f->nvalid == 1)
		f->found = s;
}

/* Shared objects and PIEs: slots filled by consecutive R_X86_64_RELATIVE relocations. */
static void scan_relative(struct finder *f)
{
	const struct elfsym_rel *r = f->rel.relative;
	size_t i, n = f->rel.nrelative, run = 0;

	for (i = 0; i < n && !f->conflict; i++) {
		if (!elfsym__is_code(f->e, r[i].addend)) {
			run = 0;
			continue;
		}
		run = (i && run && r[i].offset == r[i - 1].offset + 8) ? run + 1 : 1;
		if (run >= N)
			try_table(f, r[i + 1 - N].offset, false);
	}
}

/* Executables: 256 stored pointers into code in a read-only data section. */
static int scan_data(uint64_t vaddr, const void *data, size_t size, void *ctx)
{
	struct finder *f = ctx;
	const unsigned char *d = data;
	size_t i, run = 0, skip = (8 - (vaddr & 7)) & 7;
	uint64_t p;

	for (i = skip; i + 8 <= size && !f->conflict; i += 8) {
		memcpy(&p, d + i, 8);
		if (!elfsym__is_code(f->e, p)) {
			run = 0;
			continue;
		}
		if (++run >= N)
			try_table(f, vaddr + i + 8 - N * 8, false);
	}
	return 0;
}

int opcodes__assert_site(const struct elfsym *e, const struct st_py_layout *L, bool use_names,
			 struct assert_site *out, char *why, size_t whysz)
{
	struct finder *f;
	struct elfsym_info si;
	const char *opname;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->ip_reg = -1;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->insns = calloc(RAISE_INSNS, sizeof(*f->insns));
	if (!f->insns) {
		free(f);
		return -ENOMEM;
	}
	f->e = e;
	f->L = L;
	if (L->op_load_assertion_error >= 0) {
		f->kind = ASSERT_SITE_HANDLER;
		f->op = L->op_load_assertion_error;
		opname = "LOAD_ASSERTION_ERROR";
	} else {
		f->kind = ASSERT_SITE_DO_RAISE;
		f->op = L->op_raise_varargs;
		opname = "RAISE_VARARGS";
	}
	if (f->op < 0 || f->op >= N || L->frame_instr < 0 ||
	    (f->kind == ASSERT_SITE_DO_RAISE && L->frame_instr > 127)) {
		snprintf(why, whysz, "no %s opcode known for Python %u.%u", opname,
			 L->version_hex >> 24, (L->version_hex >> 16) & 0xff);
		err = -ENOTSUP;
		goto out;
	}
	ref_init(e, "PyExc_AssertionError", &f->assertion);
	if (!f->assertion.var && !f->assertion.slot) {
		snprintf(why, whysz, "no PyExc_AssertionError symbol");
		err = -ENOENT;
		goto out;
	}
	if (elfsym__is_dyn(e) && (err = elfsym__relocs(e, &f->rel))) {
		snprintf(why, whysz, "cannot read dynamic relocations");
		goto out;
	}
	if (use_names && !elfsym__find_numbered(e, "opcode_targets", &si) && si.size == N * 8)
		try_table(f, si.value, true);
	else if (elfsym__is_dyn(e))
		scan_relative(f);
	else
		elfsym__for_each_data(e, scan_data, f);
	if (f->conflict) {
		snprintf(why, whysz, "several opcode_targets candidates validate");
		err = -ENOENT;
	} else if (!f->nvalid) {
		snprintf(why, whysz, "no opcode_targets table whose %s entry validates%s%s", opname,
			 f->last_why ? ": " : "", f->last_why ? f->last_why : "");
		err = -ENOENT;
	} else {
		*out = f->found;
	}
out:
	elfsym__relocs_free(&f->rel);
	free(f->insns);
	free(f);
	return err;
}
