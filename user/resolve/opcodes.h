/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where the zero-cost ("assert") probe goes, found from what the machine code
 * does (README, "Probe sites"):
 *
 *  - 3.10-3.13: the LOAD_ASSERTION_ERROR handler, which runs only when an
 *    assert fails. Valid when its first instructions load
 *    PyExc_AssertionError; 3.11+ also store the current instruction into the
 *    frame, from a register the BPF program then reads.
 *  - 3.14+: no such opcode (LOAD_COMMON_CONSTANT loads AssertionError and
 *    other constants with no branch on which). The next instruction of a
 *    failing assert is RAISE_VARARGS, whose handler stores the instruction
 *    pointer into the frame and calls do_raise(tstate, exc, cause): the probe
 *    goes on do_raise's entry, which runs only for a Python `raise`
 *    statement. do_raise is valid when it reports both of its errors
 *    (PyExc_TypeError, PyExc_RuntimeError).
 *
 * Handlers are entries [opcode] of the computed-goto table opcode_targets,
 * named in .symtab or found by shape (256 code pointers; every window of a
 * longer run is a candidate and the handler decides). Opcode numbers and the
 * frame's instruction pointer offset come from the layout (resolve/layouts.inc,
 * generated from each version's opcode.h).
 */
#ifndef ST_OPCODES_H
#define ST_OPCODES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "sessiontrace.h"

struct elfsym;

#define OPCODES_NTARGETS 256

enum assert_site_kind {
	ASSERT_SITE_HANDLER = 0,  /* LOAD_ASSERTION_ERROR handler */
	ASSERT_SITE_DO_RAISE = 1, /* do_raise(tstate, exc, cause) entry */
};

struct assert_site {
	enum assert_site_kind kind;
	uint64_t table;   /* link-time address of opcode_targets */
	uint64_t handler; /* link-time address of the handler */
	uint64_t probe;   /* where the uprobe goes: handler (past endbr64) or do_raise */
	bool by_symbol;   /* the table was named in .symtab */
	/*
	 * HANDLER, 3.11+: the register (x86 number 0-15) holding the current
	 * instruction at probe; the handler stores it to the frame only later.
	 * -1 otherwise.
	 */
	int ip_reg;
	uint64_t set_object; /* DO_RAISE: the function do_raise raises through, or 0 */
};

/*
 * Finds and validates the site in interpreter file e whose layout is L.
 * use_names=false ignores .symtab (tests check the stripped path with it).
 * 0, or a negative errno with a one-line reason in why.
 */
int opcodes__assert_site(const struct elfsym *e, const struct st_py_layout *L, bool use_names,
			 struct assert_site *out, char *why, size_t whysz);


#endif
