/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * x86-64 instructions of an interpreter file, decoded by capstone: what the
 * probe-site finders (resolve/opcodes.c, resolve/pysyms.c) need to know of each, in
 * x86 register numbers (0 rax .. 15 r15) so that the BPF side can use them.
 */
#ifndef ST_X86DEC_H
#define ST_X86DEC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elfsym;

#define X86_NOREG (-1)

enum x86_flow {
	X86_FLOW_NEXT = 0, /* falls through */
	X86_FLOW_JMP,      /* unconditional jump (target set when direct) */
	X86_FLOW_JCC,      /* conditional jump */
	X86_FLOW_CALL,
	X86_FLOW_RET,      /* ret, ud2, hlt, int3: no fall-through */
};

struct x86dec_insn {
	uint64_t addr;
	uint8_t size;
	bool endbr;            /* endbr64: a landing pad, nothing else */
	enum x86_flow flow;
	uint64_t target;       /* direct branch/call target, 0 if none */
	/* mov between a 64-bit register and memory, or a load of one */
	bool mov64;            /* mov r64, r/m64 or mov r/m64, r64 */
	int reg;               /* the register operand of that mov, or X86_NOREG */
	bool store;            /* the memory operand is the destination */
	bool has_mem;          /* one memory operand: */
	int mem_base;          /* x86 number, X86_NOREG, or 16 for rip */
	int mem_index;
	int64_t mem_disp;
	uint64_t rip_target;   /* rip-relative memory operand's address, else 0 */
	bool cmp_imm;          /* cmp with an immediate operand: */
	int64_t imm;
	uint32_t writes;       /* bit per x86 register number written */
	uint32_t reads;        /* bit per x86 register number read */
};

#define X86_RIP 16

/*
 * Decodes up to max instructions at link-time address addr of e, at most
 * maxbytes, stopping after the first jump/ret when stop_at_flow. Returns the
 * number decoded (0 when nothing decodes there) or -errno.
 */
int x86dec__decode(const struct elfsym *e, uint64_t addr, size_t maxbytes,
		   struct x86dec_insn *out, size_t max, bool stop_at_flow);

#endif
