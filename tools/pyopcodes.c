// SPDX-License-Identifier: BSD-2-Clause
/*
 * Prints the struct bytecode_table entry of user/decode/bytecode.inc for the
 * CPython whose headers this is compiled against (scripts/gen-bytecode.sh): for each
 * of the 256 opcode values the base ("deoptimized") opcode, the inline cache
 * code units that follow each base opcode, and the numbers of the opcodes
 * user/decode/bytecode.c looks at. The per-version #ifs live here, so that
 * the analyzer only ever sees data.
 *
 * Where the tables come from:
 *   3.10  no specialization: every opcode is its own base, no caches; which
 *         values are opcodes comes from the #defines of its opcode.h, listed
 *         by the script in opnames.h (3.10 has no table of them).
 *   3.11  internal/pycore_opcode.h with NEED_OPCODE_TABLES: _PyOpcode_Deopt,
 *   3.12  _PyOpcode_Caches.
 *   3.13+ internal/pycore_opcode_metadata.h with NEED_OPCODE_METADATA: the
 *         same two tables plus _PyOpcode_OpName.
 * A value whose _PyOpcode_Deopt entry is 0 is not an opcode (CACHE aside);
 * 3.13+ also one without a name (3.14+ deopt the unused values to themselves).
 *
 * What _PyOpcode_Deopt leaves to the runtime, and this program decides:
 *   INSTRUMENTED_X (3.12+, sys.monitoring and, from 3.12, sys.settrace)
 *       deopt to themselves; CPython's Python/instrumentation.c maps them
 *       with DE_INSTRUMENT, a table in a .c file that is not installed.
 *       It is INSTRUMENTED_X -> X for every X (checked by name where the
 *       headers carry names, 3.13+), and every instrumented opcode must be
 *       in de_instrument[] below or the program fails.
 *   INSTRUMENTED_LINE, INSTRUMENTED_INSTRUCTION replace any instruction and
 *       keep the original in code->_co_monitoring, outside the code bytes:
 *       printed as BYTECODE_OPAQUE (the analyzer refuses the code).
 *   TRACE_RECORD (3.15) is never in the code; BYTECODE_OPAQUE too.
 *   ENTER_EXECUTOR (3.13+) replaces the instruction where a tier-2 trace
 *       starts and keeps it in the executor: JUMP_BACKWARD, and from 3.15
 *       also RESUME (RESUME_CHECK_JIT). Printed with base JUMP_BACKWARD; the
 *       program fails unless every instruction a trace can start at (JUMP_
 *       BACKWARD and the base of every *_JIT specialization) has as many
 *       caches as JUMP_BACKWARD, so that skipping it stays exact.
 */
#define Py_BUILD_CORE 1
#define NEED_OPCODE_TABLES 1
#define NEED_OPCODE_METADATA 1
#include <Python.h>
#include <stdio.h>
#include <string.h>
#if PY_VERSION_HEX >= 0x030d0000
#include "internal/pycore_opcode_metadata.h"
#define HAVE_NAMES 1
#elif PY_VERSION_HEX >= 0x030b0000
#include "internal/pycore_opcode.h"
#else
#include <opcode.h>
#endif

#define NOT_OPCODE (-1)	/* BYTECODE_NOT_OPCODE in user/decode/bytecode.h */
#define OPAQUE (-2)	/* BYTECODE_OPAQUE */

/* An opcode's number, or -1 when this version has none (or only a pseudo-op). */
#define OPNUM(x) ((x) < 256 ? (x) : -1)

static int base[256];
static int caches[256];

#if PY_VERSION_HEX < 0x030b0000
static const int opnames[] = {
#define OPNAME(x) x,
#include "opnames.h"
#undef OPNAME
};

static int fill_tables(void)
{
	size_t i;

	for (i = 0; i < 256; i++)
		base[i] = NOT_OPCODE;
	for (i = 0; i < sizeof(opnames) / sizeof(opnames[0]); i++)
		if (opnames[i] >= 0 && opnames[i] < 256)	/* not EXCEPT_HANDLER (257) */
			base[opnames[i]] = opnames[i];
	return 0;
}
#else
#ifdef MIN_INSTRUMENTED_OPCODE
/* Python/instrumentation.c DE_INSTRUMENT, for every version that has them. */
static const struct {
	int instrumented, base;
	const char *name;
} de_instrument[] = {
#define DE(x) { INSTRUMENTED_##x, x, #x },
#ifdef INSTRUMENTED_RESUME
	DE(RESUME)
#endif
#ifdef INSTRUMENTED_RETURN_VALUE
	DE(RETURN_VALUE)
#endif
#ifdef INSTRUMENTED_RETURN_CONST
	DE(RETURN_CONST)
#endif
#ifdef INSTRUMENTED_CALL
	DE(CALL)
#endif
#ifdef INSTRUMENTED_CALL_KW
	DE(CALL_KW)
#endif
#ifdef INSTRUMENTED_CALL_FUNCTION_EX
	DE(CALL_FUNCTION_EX)
#endif
#ifdef INSTRUMENTED_YIELD_VALUE
	DE(YIELD_VALUE)
#endif
#ifdef INSTRUMENTED_JUMP_FORWARD
	DE(JUMP_FORWARD)
#endif
#ifdef INSTRUMENTED_JUMP_BACKWARD
	DE(JUMP_BACKWARD)
#endif
#ifdef INSTRUMENTED_POP_JUMP_IF_FALSE
	DE(POP_JUMP_IF_FALSE)
#endif
#ifdef INSTRUMENTED_POP_JUMP_IF_TRUE
	DE(POP_JUMP_IF_TRUE)
#endif
#ifdef INSTRUMENTED_POP_JUMP_IF_NONE
	DE(POP_JUMP_IF_NONE)
#endif
#ifdef INSTRUMENTED_POP_JUMP_IF_NOT_NONE
	DE(POP_JUMP_IF_NOT_NONE)
#endif
#ifdef INSTRUMENTED_FOR_ITER
	DE(FOR_ITER)
#endif
#ifdef INSTRUMENTED_POP_ITER
	DE(POP_ITER)
#endif
#ifdef INSTRUMENTED_END_FOR
	DE(END_FOR)
#endif
#ifdef INSTRUMENTED_END_SEND
	DE(END_SEND)
#endif
#ifdef INSTRUMENTED_LOAD_SUPER_ATTR
	DE(LOAD_SUPER_ATTR)
#endif
#ifdef INSTRUMENTED_NOT_TAKEN
	DE(NOT_TAKEN)
#endif
#ifdef INSTRUMENTED_END_ASYNC_FOR
	DE(END_ASYNC_FOR)
#endif
#undef DE
	{ -1, -1, NULL },
};
#endif

static int fail(const char *what, int op)
{
	fprintf(stderr, "pyopcodes: %s %s: opcode %d\n", PY_VERSION, what, op);
	return -1;
}

/* The instrumented opcodes: from DE_INSTRUMENT, or opaque. */
static int fill_instrumented(void)
{
#ifdef MIN_INSTRUMENTED_OPCODE
	size_t k;
	int op;

	for (k = 0; de_instrument[k].name; k++) {
		op = de_instrument[k].instrumented;
#ifdef HAVE_NAMES
		if (!_PyOpcode_OpName[op] || strncmp(_PyOpcode_OpName[op], "INSTRUMENTED_", 13) ||
		    !_PyOpcode_OpName[de_instrument[k].base] ||
		    strcmp(_PyOpcode_OpName[op] + 13, _PyOpcode_OpName[de_instrument[k].base]))
			return fail("DE_INSTRUMENT entry does not match the names", op);
#endif
		base[op] = de_instrument[k].base;
	}
	base[INSTRUMENTED_LINE] = OPAQUE;
	base[INSTRUMENTED_INSTRUCTION] = OPAQUE;
#ifdef TRACE_RECORD
	/*
	 * 3.15: what the trace-recording dispatch table jumps to for every
	 * opcode; never written into the code. Should it be, the instruction
	 * it stands for is not there either.
	 */
	base[TRACE_RECORD] = OPAQUE;
#endif
	for (op = MIN_INSTRUMENTED_OPCODE; op < 256; op++) {
#ifdef ENTER_EXECUTOR
		if (op == ENTER_EXECUTOR)
			continue;
#endif
		if (base[op] == op)
			return fail("instrumented opcode missing from DE_INSTRUMENT", op);
	}
#endif
	return 0;
}

/*
 * ENTER_EXECUTOR: JUMP_BACKWARD's place (and caches), checked against every
 * other instruction a trace can start at.
 */
static int fill_enter_executor(void)
{
#ifdef ENTER_EXECUTOR
	int op;

	base[ENTER_EXECUTOR] = JUMP_BACKWARD;
	for (op = 0; op < 256; op++) {
		const char *name = _PyOpcode_OpName[op];
		size_t len = name ? strlen(name) : 0;

		if (len > 4 && !strcmp(name + len - 4, "_JIT") && base[op] >= 0 &&
		    caches[base[op]] != caches[JUMP_BACKWARD])
			return fail("a trace may start at an instruction whose caches differ from JUMP_BACKWARD's",
				    op);
	}
#endif
	return 0;
}

static int fill_tables(void)
{
	int op, b;

	for (op = 0; op < 256; op++) {
		b = _PyOpcode_Deopt[op];
		base[op] = b || op == CACHE ? b : NOT_OPCODE;
		caches[op] = _PyOpcode_Caches[op];
	}
#ifdef HAVE_NAMES
	/* 3.14+ also map the unused values (EXTRA_CASES) to themselves */
	for (op = 0; op < 256; op++) {
		const char *name = _PyOpcode_OpName[op];

		if (!name || name[0] == '<')
			base[op] = NOT_OPCODE;
		else if (base[op] == NOT_OPCODE)
			return fail("named opcode without a _PyOpcode_Deopt entry", op);
	}
#endif
	if (fill_instrumented() || fill_enter_executor())
		return -1;
	for (op = 0; op < 256; op++) {
		b = base[op];
		if (b >= 0 && base[b] != b)
			return fail("base opcode is not its own base", op);
		if (b < 0 && caches[op])
			return fail("caches for a value that is not an opcode", op);
	}
	return 0;
}
#endif

static void print_row(const char *field, const int *v)
{
	int i, j;

	printf("\t\t.%s = {\n", field);
	for (i = 0; i < 256; i += 16) {
		printf("\t\t\t/* %3d */", i);
		for (j = i; j < i + 16; j++)
			printf(" %d,", v[j]);
		printf("\n");
	}
	printf("\t\t},\n");
}

#define F(name, val) printf("\t\t.%s = %d,\n", name, (int)(val))
#ifdef LOAD_METHOD
#define OP_LOAD_METHOD OPNUM(LOAD_METHOD)
#else
#define OP_LOAD_METHOD -1
#endif

int main(void)
{
	if (fill_tables())
		return 1;
	printf("\t{ /* %s */\n", PY_VERSION);
	printf("\t\t.version_hex = 0x%08x,\n", (unsigned)(PY_VERSION_HEX & 0xffff0000));
	/* 3.12 folded LOAD_METHOD into LOAD_ATTR: bit 0 of the oparg says "method" */
	F("attr_shift", PY_VERSION_HEX >= 0x030c0000);
	/* 3.11: bit 0 of LOAD_GLOBAL's oparg says "push NULL" */
	F("global_shift", PY_VERSION_HEX >= 0x030b0000);
	F("load_fast", LOAD_FAST);
	F("store_fast", STORE_FAST);
	F("load_attr", LOAD_ATTR);
	F("load_method", OP_LOAD_METHOD);
	F("extended_arg", EXTENDED_ARG);
	/* the opcodes not every version has: -1 where missing */
#define OPT(name, x) F(name, OPNUM(x))
#define NONE(name) F(name, -1)
#ifdef LOAD_FAST_CHECK
	OPT("load_fast_check", LOAD_FAST_CHECK);
	OPT("load_fast_and_clear", LOAD_FAST_AND_CLEAR);
#else
	NONE("load_fast_check");
	NONE("load_fast_and_clear");
#endif
#ifdef LOAD_FAST_LOAD_FAST
	OPT("load_fast_load_fast", LOAD_FAST_LOAD_FAST);
	OPT("store_fast_load_fast", STORE_FAST_LOAD_FAST);
	OPT("store_fast_store_fast", STORE_FAST_STORE_FAST);
#else
	NONE("load_fast_load_fast");
	NONE("store_fast_load_fast");
	NONE("store_fast_store_fast");
#endif
#ifdef LOAD_FAST_BORROW
	OPT("load_fast_borrow", LOAD_FAST_BORROW);
	OPT("load_fast_borrow_load_fast_borrow", LOAD_FAST_BORROW_LOAD_FAST_BORROW);
#else
	NONE("load_fast_borrow");
	NONE("load_fast_borrow_load_fast_borrow");
#endif
	F("load_global", LOAD_GLOBAL);
	F("load_name", LOAD_NAME);
	F("load_const", LOAD_CONST);
#ifdef LOAD_SMALL_INT
	OPT("load_small_int", LOAD_SMALL_INT);
#else
	NONE("load_small_int");
#endif
#ifdef PUSH_NULL
	OPT("push_null", PUSH_NULL);
	OPT("call", CALL);
#else
	NONE("push_null");
	NONE("call");
#endif
#ifdef KW_NAMES
	OPT("kw_names", KW_NAMES);
#else
	NONE("kw_names");
#endif
#ifdef PRECALL
	OPT("precall", PRECALL);
#else
	NONE("precall");
#endif
#ifdef CALL_KW
	OPT("call_kw", CALL_KW);
#else
	NONE("call_kw");
#endif
#ifdef CALL_FUNCTION
	OPT("call_function", CALL_FUNCTION);
	OPT("call_function_kw", CALL_FUNCTION_KW);
#else
	NONE("call_function");
	NONE("call_function_kw");
#endif
#if PY_VERSION_HEX >= 0x030b0000
	OPT("cache", CACHE);
	OPT("jump_backward", JUMP_BACKWARD);
#else
	NONE("cache");
	NONE("jump_backward");
#endif
#ifdef ENTER_EXECUTOR
	OPT("enter_executor", ENTER_EXECUTOR);
#else
	NONE("enter_executor");
#endif
#ifdef MIN_INSTRUMENTED_OPCODE
	OPT("min_instrumented", MIN_INSTRUMENTED_OPCODE);
	OPT("instrumented_line", INSTRUMENTED_LINE);
	OPT("instrumented_instruction", INSTRUMENTED_INSTRUCTION);
#else
	NONE("min_instrumented");
	NONE("instrumented_line");
	NONE("instrumented_instruction");
#endif
	print_row("base", base);
	print_row("caches", caches);
	printf("\t},\n");
	return 0;
}
