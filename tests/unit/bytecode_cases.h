/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The real bytecode cases of every interpreter (bytecode_cases.inc, written
 * by gen_bytecode.py), shared by test_bytecode.c and fuzz_bytecode.c.
 */
#ifndef ST_BYTECODE_CASES_H
#define ST_BYTECODE_CASES_H

struct bc_interp {
	const char *name;
	unsigned version;
};

struct bc_oprow {
	unsigned interp;
	int op, base, caches;
	const char *name;
};

struct bc_case {
	unsigned interp;
	const char *name, *form;
	int err;
	unsigned local;
	int callee; /* >= 0: bytecode__call_attr_reads of this global; -1: of local */
	unsigned namei;
	int firstlineno;
	unsigned nreads;
	unsigned reads[8];
	int lines[8];
	const char *specialized;
	const char *linetable, *code;
};

#include "bytecode_cases.inc"

#endif
