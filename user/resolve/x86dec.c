// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <capstone/capstone.h>
#include "resolve/elfsym.h"
#include "resolve/x86dec.h"

/* capstone's register id of any width → x86 number, X86_RIP, or X86_NOREG. */
static int regnum(unsigned r)
{
	static const struct { unsigned q, d, w, b; } gpr[16] = {
		{ X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL },
		{ X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL },
		{ X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL },
		{ X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL },
		{ X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL },
		{ X86_REG_RBP, X86_REG_EBP, X86_REG_BP, X86_REG_BPL },
		{ X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL },
		{ X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL },
		{ X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B },
		{ X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B },
		{ X86_REG_R10, X86_REG_R10D, X86_REG_R10W, X86_REG_R10B },
		{ X86_REG_R11, X86_REG_R11D, X86_REG_R11W, X86_REG_R11B },
		{ X86_REG_R12, X86_REG_R12D, X86_REG_R12W, X86_REG_R12B },
		{ X86_REG_R13, X86_REG_R13D, X86_REG_R13W, X86_REG_R13B },
		{ X86_REG_R14, X86_REG_R14D, X86_REG_R14W, X86_REG_R14B },
		{ X86_REG_R15, X86_REG_R15D, X86_REG_R15W, X86_REG_R15B },
	};
	int i;

	if (r == X86_REG_RIP)
		return X86_RIP;
	for (i = 0; i < 16; i++)
		if (r == gpr[i].q || r == gpr[i].d || r == gpr[i].w || r == gpr[i].b)
			return i;
	/* ah, ch, dh, bh: the second byte of rax..rbx */
	if (r == X86_REG_AH || r == X86_REG_CH || r == X86_REG_DH || r == X86_REG_BH)
		return r == X86_REG_AH ? 0 : r == X86_REG_CH ? 1 : r == X86_REG_DH ? 2 : 3;
	return X86_NOREG;
}

static bool is64(unsigned r)
{
	int n = regnum(r);

	return n >= 0 && n < 16 && (r == X86_REG_RAX || r == X86_REG_RCX || r == X86_REG_RDX ||
		r == X86_REG_RBX || r == X86_REG_RSP || r == X86_REG_RBP || r == X86_REG_RSI ||
		r == X86_REG_RDI || (r >= X86_REG_R8 && r <= X86_REG_R15));
}

static void convert(csh h, const cs_insn *ci, struct x86dec_insn *o)
{
	const cs_x86 *x = &ci->detail->x86;
	cs_regs rr, rw;
	uint8_t nr = 0, nw = 0;
	int i;

	memset(o, 0, sizeof(*o));
	o->addr = ci->address;
	o->size = ci->size;
	o->reg = o->mem_base = o->mem_index = X86_NOREG;
	o->endbr = ci->id == X86_INS_ENDBR64;
	if (cs_insn_group(h, ci, CS_GRP_CALL))
		o->flow = X86_FLOW_CALL;
	else if (cs_insn_group(h, ci, CS_GRP_RET) || ci->id == X86_INS_UD2 ||
		 ci->id == X86_INS_HLT || ci->id == X86_INS_INT3)
		o->flow = X86_FLOW_RET;
	else if (ci->id == X86_INS_JMP)
		o->flow = X86_FLOW_JMP;
	else if (cs_insn_group(h, ci, CS_GRP_JUMP))
		o->flow = X86_FLOW_JCC;
	for (i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];

		if (op->type == X86_OP_IMM && (o->flow == X86_FLOW_CALL || o->flow == X86_FLOW_JMP ||
					       o->flow == X86_FLOW_JCC))
			o->target = (uint64_t)op->imm;
		if (op->type == X86_OP_IMM && ci->id == X86_INS_CMP) {
			o->cmp_imm = true;
			o->imm = op->imm;
		}
		if (op->type == X86_OP_MEM) {
			o->has_mem = true;
			o->mem_base = op->mem.base ? regnum(op->mem.base) : X86_NOREG;
			o->mem_index = op->mem.index ? regnum(op->mem.index) : X86_NOREG;
			o->mem_disp = op->mem.disp;
			if (o->mem_base == X86_RIP && o->mem_index == X86_NOREG)
				o->rip_target = ci->address + ci->size + (uint64_t)op->mem.disp;
			o->store = i == 0;
		}
	}
	if (ci->id == X86_INS_MOV && x->op_count == 2 && o->has_mem) {
		const cs_x86_op *r = &x->operands[o->store ? 1 : 0];

		if (r->type == X86_OP_REG && is64(r->reg)) {
			o->mov64 = true;
			o->reg = regnum(r->reg);
		}
	}
	if (!cs_regs_access(h, ci, rr, &nr, rw, &nw)) {
		for (i = 0; i < nw; i++) {
			int n = regnum(rw[i]);

			if (n >= 0 && n < 16)
				o->writes |= 1U << n;
		}
		for (i = 0; i < nr; i++) {
			int n = regnum(rr[i]);

			if (n >= 0 && n < 16)
				o->reads |= 1U << n;
		}
	}
	/* a call clobbers the caller-saved registers (System V) */
	if (o->flow == X86_FLOW_CALL)
		o->writes |= 0x0fc7; /* rax rcx rdx rsi rdi r8-r11 */
}

int x86dec__decode(const struct elfsym *e, uint64_t addr, size_t maxbytes,
		   struct x86dec_insn *out, size_t max, bool stop_at_flow)
{
	uint8_t *buf;
	cs_insn *ci = NULL;
	csh h;
	size_t n = 0, got, i;
	uint64_t off;

	if (!max || !maxbytes || elfsym__vaddr_to_offset(e, addr, &off))
		return 0;
	buf = malloc(maxbytes);
	if (!buf)
		return -ENOMEM;
	/* the code may end before maxbytes: shrink to what the segment holds */
	while (maxbytes >= 16 && elfsym__read(e, addr, buf, maxbytes))
		maxbytes /= 2;
	if (maxbytes < 16 && elfsym__read(e, addr, buf, maxbytes)) {
		free(buf);
		return 0;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
		free(buf);
		return -ENOMEM;
	}
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	got = cs_disasm(h, buf, maxbytes, addr, max, &ci);
	for (i = 0; i < got && n < max; i++) {
		convert(h, &ci[i], &out[n]);
		n++;
		if (stop_at_flow && (out[n - 1].flow == X86_FLOW_JMP ||
				     out[n - 1].flow == X86_FLOW_RET))
			break;
	}
	if (ci)
		cs_free(ci, got);
	cs_close(&h);
	free(buf);
	return (int)n;
}
