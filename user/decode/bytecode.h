/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CPython bytecode, read as data: where a code object reads an attribute of
 * one of its local variables (request.session in an endpoint or a
 * middleware's dispatch), or of what a call of a global returns
 * (Request(scope).session in a pure ASGI middleware). A pure, bounded,
 * table-driven scan of the code bytes copied out of a traced process
 * (untrusted); the opcode tables of every minor version 3.10 to 3.15 come
 * from CPython's own headers (bytecode.inc, written by
 * scripts/gen-bytecode.sh from tools/pyopcodes.c).
 */
#ifndef ST_BYTECODE_H
#define ST_BYTECODE_H

#include <stddef.h>
#include <stdint.h>

/* Aliases are tracked for locals 0 .. BYTECODE_MAX_ALIASES - 1 only. */
#define BYTECODE_MAX_ALIASES 1024
/* Longest code accepted, in bytes (CPython's own limit is far above any real function). */
#define BYTECODE_MAX_LEN     (1u << 24)

/* bytecode_table.base[] values that are not opcodes */
#define BYTECODE_NOT_OPCODE (-1) /* no opcode of that version: the code is malformed */
/*
 * INSTRUMENTED_LINE, INSTRUMENTED_INSTRUCTION (3.12+), TRACE_RECORD (3.15):
 * the instruction it stands for is kept outside the code bytes.
 */
#define BYTECODE_OPAQUE     (-2)

/*
 * One minor version's opcodes (bytecode.inc). base[op]: the base
 * ("deoptimized") opcode of each of the 256 byte values as found in
 * co_code_adaptive: a specialized one's family (LOAD_ATTR_SLOT ->
 * LOAD_ATTR), INSTRUMENTED_X -> X, ENTER_EXECUTOR -> JUMP_BACKWARD (the
 * instruction it replaced has JUMP_BACKWARD's caches, checked by the
 * generator), itself for a base opcode (every opcode on 3.10),
 * BYTECODE_NOT_OPCODE or BYTECODE_OPAQUE. caches[base]: the inline cache
 * code units after an instruction of that base opcode (0 on 3.10). The
 * other fields: opcode numbers, -1 when the version has no such opcode.
 */
struct bytecode_table {
	unsigned version_hex;     /* PY_VERSION_HEX & 0xffff0000 */
	int attr_shift;           /* LOAD_ATTR's co_names index is oparg >> attr_shift (3.12+: 1) */
	int global_shift;         /* LOAD_GLOBAL's: oparg >> global_shift (3.11+: 1; bit 0: NULL) */
	int load_fast, store_fast, load_attr, load_method, extended_arg;
	int load_fast_check, load_fast_and_clear;
	int load_fast_load_fast, store_fast_load_fast, store_fast_store_fast; /* 3.13+ */
	int load_fast_borrow, load_fast_borrow_load_fast_borrow;              /* 3.14+ */
	int load_global, load_name, load_const;
	int load_small_int;                                                   /* 3.14+ */
	int push_null, call;                                                  /* 3.11+ */
	int kw_names;                                                         /* 3.11, 3.12 */
	int precall;                                                          /* 3.11 */
	int call_kw;                                                          /* 3.13+ */
	int call_function, call_function_kw;                                  /* 3.10 */
	int cache, jump_backward;                                             /* 3.11+ */
	int enter_executor;                                                   /* 3.13+ */
	int min_instrumented, instrumented_line, instrumented_instruction;    /* 3.12+ */
	int16_t base[256];
	uint8_t caches[256];
};

/* The table of a PY_VERSION_HEX (major and minor only), or NULL. */
const struct bytecode_table *bytecode__table(unsigned version_hex);

/*
 * Where does the code read attribute co_names[@namei] of local @local, or
 * of a local that holds what @local held?
 *
 * @version_hex: PY_VERSION_HEX of the target (major/minor used).
 * @code/@len: the code bytes, @len in bytes: 3.10 co_code; 3.11+
 *     co_code_adaptive as the interpreter left it (specialized
 *     instructions, inline caches holding anything, instrumented opcodes,
 *     ENTER_EXECUTOR). Untrusted: never read past @len.
 * @local: LOAD_FAST index of the variable (co_varnames index on 3.10,
 *     localsplus index on 3.11+, the same for a variable that is not a
 *     cell). @namei: index into co_names.
 * @offsets/@max: receives the code-unit offsets (instruction index, the
 *     opcode's own unit, not an EXTENDED_ARG prefix) of the LOAD_ATTR or
 *     LOAD_METHOD instructions that read the attribute, in code order; at
 *     most @max are stored, the others are not reported. @n: how many were
 *     stored.
 *
 * A read is a LOAD_FAST of the variable (LOAD_FAST_CHECK, _AND_CLEAR,
 * _BORROW; the second, top-of-stack, load of LOAD_FAST_LOAD_FAST and its
 * BORROW form; the load of STORE_FAST_LOAD_FAST) or of an alias, directly
 * followed (EXTENDED_ARG prefixes aside) by LOAD_ATTR / LOAD_METHOD of that
 * name (3.12+: oparg >> 1; any specialized form of them). Only the first
 * attribute counts: request.state.session is not a read of session. An
 * alias is a local STORE_FASTed right after such a load (r = request, not
 * q = r = request); a store of anything else ends it. Aliases are followed in code order, not
 * along jumps, and only for locals below BYTECODE_MAX_ALIASES; @local
 * itself stays the variable whatever is stored to it. Not seen: reads
 * through a cell (LOAD_DEREF: a variable a closure captures),
 * getattr(request, "session"), or anything not a direct load.
 *
 * Returns 0; -ENOTSUP for a version without a table; -EINVAL for malformed
 * code (@len odd or above BYTECODE_MAX_LEN, a byte that is not an opcode of
 * that version, a CACHE where an instruction should start, an instruction
 * whose caches or EXTENDED_ARG prefix run past the end) or NULL pointers
 * (@n; @code when @len, @offsets when @max);
 * -EBUSY when the code is instrumented so that an instruction is not in
 * the bytes (sys.settrace or sys.monitoring line/instruction events, 3.12+:
 * INSTRUMENTED_LINE / INSTRUMENTED_INSTRUCTION). On error *n is 0.
 * O(@len), no allocation, no recursion.
 */
int bytecode__attr_reads(unsigned version_hex, const uint8_t *code, size_t len,
			 unsigned local, unsigned namei, unsigned *offsets, unsigned max,
			 unsigned *n);

/*
 * Where does the code read attribute co_names[@namei] of what a call of
 * the global co_names[@callee] returns: directly (Request(scope).session)
 * or through a local it is stored in, and that local's aliases
 * (request = Request(scope); r = request; r.session)?
 *
 * A call of the global is a LOAD_GLOBAL of it (any specialized form;
 * co_names index oparg on 3.10, oparg >> 1 on 3.11+) or a LOAD_NAME
 * (oparg), followed only by argument loads: the loads of
 * bytecode__attr_reads (LOAD_FAST, _CHECK, _AND_CLEAR, _BORROW,
 * LOAD_FAST_LOAD_FAST and its BORROW form: of any local), LOAD_CONST,
 * LOAD_SMALL_INT (3.14+), PUSH_NULL, KW_NAMES (3.11, 3.12), PRECALL (3.11);
 * then by the call that takes exactly those: CALL_FUNCTION or CALL (3.11+)
 * of as many arguments as were loaded, CALL_FUNCTION_KW (3.10) or CALL_KW
 * (3.13+) of one fewer (the names tuple); any specialized or instrumented
 * form. Its result is then the top of the stack as a load of the variable
 * is in bytecode__attr_reads: directly followed by LOAD_ATTR / LOAD_METHOD
 * of @namei it is a read, at that instruction; STORE_FASTed right after,
 * that local is an alias (until something else is stored to it), whose
 * loads are followed the same way (in code order, locals below
 * BYTECODE_MAX_ALIASES, as there). Anything else between the load of the
 * global and the call (another global, an attribute, a nested call,
 * BUILD_*, ...) and it is not seen: Request(make(scope)).session,
 * Request(**kw).session, check(Request, scope).session (the call is
 * check's). There is no variable local: only the results and aliases.
 * Not seen either: module-level code whose arguments are LOAD_NAMEs,
 * a call through an attribute (starlette.requests.Request(scope)).
 *
 * @callee: the co_names index of the global. @version_hex, @code/@len,
 * @namei, @offsets/@max, @n, the offsets, the return values and errors,
 * the bounds: as bytecode__attr_reads.
 */
int bytecode__call_attr_reads(unsigned version_hex, const uint8_t *code, size_t len,
			      unsigned callee, unsigned namei, unsigned *offsets,
			      unsigned max, unsigned *n);

/*
 * The @addrq that linetable__addr2line() takes for the instruction at
 * code-unit @offset (what bytecode__attr_reads gives): its byte offset,
 * @offset * 2, on every version (3.10's f_lasti * 2 too). -1 for a version
 * without a table or an offset past INT_MAX / 2.
 */
int bytecode__addrq(unsigned version_hex, unsigned offset);

#endif /* ST_BYTECODE_H */
