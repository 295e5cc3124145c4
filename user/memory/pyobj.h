/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A bounded reader of Python objects in another process (process_vm_readv),
 * driven by the per-version layout. Everything read is untrusted: every
 * length, count and loop is bounded, every pointer is read through
 * remote__read (a bad one is -EFAULT, never a crash), and one reader has a
 * budget of remote reads after which every read fails with -E2BIG, so a
 * cyclic or hostile object graph costs a bounded amount of work.
 *
 * Functions return 0 or -errno: -EFAULT unreadable memory, -EINVAL the object
 * is not of the expected type, -ENOENT no such key or attribute, -E2BIG the
 * read budget is spent.
 */
#ifndef ST_PYOBJ_H
#define ST_PYOBJ_H
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "sessiontrace.h"

#define PYOBJ_DICT_SCAN  512 /* dict entries examined per lookup */
#define PYOBJ_KEY_MAX    64  /* longest key or attribute name looked up */
#define PYOBJ_MRO_MAX    32  /* classes examined in a type's __mro__ */

struct pyobj {
	pid_t pid;
	const struct st_py_layout *L;
	__u64 unicode_type, tuple_type, dict_type;
	__u64 cell_type;      /* &PyCell_Type when known (then a cell is one read), or 0 */
	unsigned reads_left;
};

/*
 * Bind a reader to process pid with layout L; types: its str, tuple and dict
 * type objects (the rest of it unused). max_reads bounds its remote reads.
 */
void pyobj__init(struct pyobj *r, pid_t pid, const struct st_py_layout *L,
		 const struct st_target *types, unsigned max_reads);
/*
 * len bytes / one pointer at addr of the target, each one remote read off
 * the budget: 0, -E2BIG (budget spent), -EFAULT (not a user-space address),
 * or remote__read's error.
 */
int pyobj__read(struct pyobj *r, __u64 addr, void *buf, size_t len);
int pyobj__ptr(struct pyobj *r, __u64 addr, __u64 *out);
/* ob_type of obj. */
int pyobj__type(struct pyobj *r, __u64 obj, __u64 *type);
/*
 * "module.qualname" of a type: __module__ and ht_qualname for heap types
 * (classes defined in Python), tp_name for static types ("builtins."
 * omitted). *short_off: where the qualname starts in buf (may be NULL).
 */
int pyobj__type_name(struct pyobj *r, __u64 type, char *buf, size_t sz, size_t *short_off);
/* The C string tp_name (static types carry their module in it). */
int pyobj__type_tpname(struct pyobj *r, __u64 type, char *buf, size_t sz);
/* Up to max classes of a type's __mro__ (the type itself first). */
int pyobj__mro(struct pyobj *r, __u64 type, __u64 *types, unsigned max, unsigned *n);

/*
 * A str as UTF-8, NUL-terminated. *len: bytes written (may be NULL);
 * *truncated set when the str did not fit (may be NULL).
 */
int pyobj__str(struct pyobj *r, __u64 obj, char *buf, size_t sz, size_t *len, bool *truncated);
/* 1 when obj is a str equal to the ASCII s, 0 when not, -errno. */
int pyobj__str_eq(struct pyobj *r, __u64 obj, const char *s);
/* An int that fits in 63 bits (-ERANGE otherwise). */
int pyobj__int(struct pyobj *r, __u64 obj, long long *out);
/* Items of a tuple or list: *n = min(len, max); *total = len (may be NULL). */
int pyobj__items(struct pyobj *r, __u64 obj, __u64 *items, unsigned max, unsigned *n,
		 __u64 *total);
/* d[key] for a dict with str keys (entries scanned linearly, keys compared). */
int pyobj__dict_get(struct pyobj *r, __u64 dict, const char *key, __u64 *val);
/*
 * An instance attribute: obj.__dict__[name], however this version stores
 * it, else a __slots__ slot of that name (dataclass(slots=True)).
 */
int pyobj__attr(struct pyobj *r, __u64 obj, const char *name, __u64 *val);
/*
 * A class attribute: the first of type's __mro__ (up to 16 classes) whose
 * __dict__ has name. *owner (may be NULL): that class.
 */
int pyobj__class_attr(struct pyobj *r, __u64 type, const char *name, __u64 *val,
		      __u64 *owner);
/* True when obj is a class (its type is type or a subclass of it). */
bool pyobj__is_class(struct pyobj *r, __u64 obj);
/* True when obj is None (the type named "NoneType"). */
bool pyobj__is_none(struct pyobj *r, __u64 obj);
/*
 * The object a frame slot holds: itself, or the content of a cell (3.11+
 * turns a local captured by a closure into a cell in place).
 */
int pyobj__deref_cell(struct pyobj *r, __u64 obj, __u64 *out);
/* Whether a code object's first positional argument is named name. */
int pyobj__code_first_arg(struct pyobj *r, __u64 code, const char *name, bool *yes);
/* sys.modules[module] of the main interpreter; runtime: &_PyRuntime. */
int pyobj__module(struct pyobj *r, __u64 runtime, const char *module, __u64 *mod);
/* A module's global: module.__dict__[name]. */
int pyobj__module_attr(struct pyobj *r, __u64 mod, const char *name, __u64 *val);

#endif
