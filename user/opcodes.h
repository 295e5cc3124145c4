/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The LOAD_ASSERTION_ERROR handler inside _PyEval_EvalFrameDefault: entry
 * [opcode] of the computed-goto table opcode_targets (DESIGN.md, "assert
 * probe"). Found by symbol where .symtab has it, else by the table's shape,
 * and validated before use: the handler's first instructions load
 * PyExc_AssertionError.
 */
#ifndef ST_OPCODES_H
#define ST_OPCODES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elfsym;

#define OPCODES_NTARGETS 256

struct assert_handler {
	uint64_t table;   /* link-time address of opcode_targets */
	uint64_t handler; /* link-time address of the handler */
	bool by_symbol;   /* the table was named in .symtab */
	/*
	 * 3.11+: the register (x86 number 0-15) holding the current instruction
	 * when the handler starts; it stores it to the frame (instr_off) only
	 * after the probe has fired. -1 when not asked for.
	 */
	int ip_reg;
};

/* LOAD_ASSERTION_ERROR's number in CPython 3.<minor>, or -1 if not known. */
int opcodes__load_assertion_error(unsigned minor);

/*
 * Finds and validates the handler in interpreter file e of CPython 3.<minor>.
 * instr_off >= 0: the offset of the frame's instruction pointer, which the
 * handler must store, from a register, right after loading the exception
 * type (3.11+); it then finds that register. use_names=false ignores .symtab
 * (tests check the stripped path with it). 0, or a negative errno with a
 * one-line reason in why.
 */
int opcodes__assert_handler(const struct elfsym *e, unsigned minor, int instr_off,
			    bool use_names, struct assert_handler *out, char *why, size_t whysz);

#endif
