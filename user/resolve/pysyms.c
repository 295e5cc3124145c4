// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <string.h>
#include "resolve/elfsym.h"
#include "resolve/pysyms.h"
#include "resolve/x86dec.h"

#define MAX_TARGETS 16
#define MAX_BODY    512

/*
 * Targets of the rel32 jumps and calls (e9/e8) in a function body, leaving
 * out PLT stubs. Scanning bytes, not instructions, can yield bogus targets
 * from immediates; the caller only trusts a target two functions share.
 */
static size_t branch_targets(const struct elfsym *e, const char *func, uint64_t *out)
{
	struct elfsym_info si;
	uint8_t body[MAX_BODY];
	uint64_t i, off;
	size_t n = 0;

	if (elfsym__find(e, func, &si) || si.size < 5 || si.size > MAX_BODY ||
	    elfsym__read(e, si.value, body, si.size))
		return 0;
	for (i = 0; i + 5 <= si.size && n < MAX_TARGETS; i++) {
		int32_t rel;
		uint64_t target;

		if (body[i] != 0xe9 && body[i] != 0xe8)
			continue;
		memcpy(&rel, &body[i + 1], sizeof(rel));
		target = si.value + i + 5 + (int64_t)rel;
		if (target >= si.value && target < si.value + si.size)
			continue; /* a branch inside the function itself */
		if (elfsym__vaddr_to_offset(e, target, &off) || elfsym__in_section(e, target, ".plt"))
			continue;
		out[n++] = target;
	}
	return n;
}

#define WRAPPER_MAX 64

static int wrapper_target(const struct elfsym *e, const char *func, struct raise_entry *out)
{
	struct x86dec_insn in[16];
	struct elfsym_info si;
	uint64_t target = 0;
	int i, n;

	if (elfsym__find(e, func, &si) || !si.size || si.size > WRAPPER_MAX)
		return -ENOENT;
	n = x86dec__decode(e, si.value, si.size, in, 16, false);
	for (i = 0; i < n; i++) {
		if (in[i].flow == X86_FLOW_NEXT)
			continue;
		/* one unconditional branch out, nothing else */
		if (in[i].flow != X86_FLOW_JMP || !in[i].target || target ||
		    (in[i].target >= si.value && in[i].target < si.value + si.size) ||
		    !elfsym__is_code(e, in[i].target) || elfsym__in_section(e, in[i].target, ".plt"))
			return -ENOENT;
		target = in[i].target;
	}
	if (!target)
		return -ENOENT;
	out->vaddr = target;
	out->name = NULL;
	return 0;
}

int pysyms__raise_entry(const struct elfsym *e, bool use_names, struct raise_entry *out)
{
	uint64_t a[MAX_TARGETS], b[MAX_TARGETS], shared[MAX_TARGETS];
	struct elfsym_info si;
	size_t na, nb, i, j, k, nshared = 0;

	/*
	 * Where GCC split the body off (3.13), the entry only checks that the
	 * type is an exception class and jumps to the .part.0; other callers
	 * (_PyErr_SetKeyError, under python -O) call the .part.0 directly. The
	 * .part.0 sees every raise.
	 */
	if (use_names && !elfsym__find(e, "_PyErr_SetObject.part.0", &si)) {
		out->vaddr = si.value;
		out->name = "_PyErr_SetObject.part.0";
		return 0;
	}
	if (use_names && !elfsym__find(e, "_PyErr_SetObject", &si)) {
		out->vaddr = si.value;
		out->name = "_PyErr_SetObject";
		return 0;
	}
	/*
	 * Stripped 3.13+: _PyErr_SetObject is local, so it has no name. GCC
	 * split its body into _PyErr_SetObject.part.0, with the same arguments
	 * in the same registers, and every path to it ends in a jump there:
	 * _PyErr_SetObject (do_raise's callee) and the exported PyErr_SetObject
	 * and PyErr_SetNone alike. The one target those two exported functions
	 * share is it.
	 */
	na = branch_targets(e, "PyErr_SetObject", a);
	nb = branch_targets(e, "PyErr_SetNone", b);
	for (i = 0; i < na; i++) {
		for (j = 0; j < nb && b[j] != a[i]; j++)
			;
		for (k = 0; k < nshared && shared[k] != a[i]; k++)
			;
		if (j < nb && k == nshared)
			shared[nshared++] = a[i];
	}
	if (nshared == 1) {
		out->vaddr = shared[0];
		out->name = NULL;
		return 0;
	}
	/*
	 * GCC 16 (Debian sid) neither splits nor shares: PyErr_SetObject is a
	 * wrapper that moves its arguments up one register, loads the thread
	 * state into rdi and tail-jumps to _PyErr_SetObject(tstate, type,
	 * value), while PyErr_SetNone goes to its own _PyErr_SetNone. The one
	 * branch out of the wrapper, decoded, is the function.
	 */
	return wrapper_target(e, "PyErr_SetObject", out);
}
