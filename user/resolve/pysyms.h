/* SPDX-License-Identifier: BSD-2-Clause */
/* Finding CPython functions in an interpreter file, named or not. */
#ifndef ST_PYSYMS_H
#define ST_PYSYMS_H
#include <stdbool.h>
#include <stdint.h>

struct elfsym;

struct raise_entry {
	uint64_t vaddr;   /* link-time address of the function to probe */
	const char *name; /* its symbol, or NULL when found without one */
};

/*
 * The function the raise probe goes on: the one do_raise() calls with
 * (tstate, type, value). use_names=false skips the symbol tables (tests use
 * it to check the stripped-binary path against .symtab). 0 or -ENOENT.
 */
int pysyms__raise_entry(const struct elfsym *e, bool use_names, struct raise_entry *out);

#endif
