// SPDX-License-Identifier: BSD-2-Clause
/*
 * A tiny shared object shaped like a stripped CPython 3.13 for the ELF
 * fuzz seeds (tests/fuzz/seeds.py builds it with gcc -O2 -shared
 * -fno-toplevel-reorder, and a strip(1)ped copy): the exported
 * PyErr_SetObject and PyErr_SetNone both end in a rel32 jump to one local
 * function, as both end in _PyErr_SetObject.part.0 there.
 */
struct ts { void *exc; int depth; };

__attribute__((noinline)) static void set_object(struct ts *t, void *type, void *value)
{
	t->exc = value ? value : type;
	t->depth++;
}

/* out of reach of a short jump: the real ones are rel32 (e9) jumps */
__asm__(".text\n.skip 512, 0xcc\n");

void PyErr_SetObject(struct ts *t, void *type, void *value)
{
	if (!t)
		return;
	set_object(t, type, value);
}

void PyErr_SetNone(struct ts *t, void *type)
{
	if (!t)
		return;
	set_object(t, type, 0);
}

int Py_Version = 0x030d00f0;
char _PyRuntime[64] = "xdebugpy";
