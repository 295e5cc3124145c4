// SPDX-License-Identifier: BSD-2-Clause
/*
 * The remote object reader against objects laid out in this process's own
 * memory (process_vm_readv on ourselves), for every layout in the table:
 * str, int, tuple, list, dict (<=3.10 and 3.11+ keys), instance attributes
 * in each attr_mode (tp_dictoffset, 3.11 values/dict, 3.12 tagged word,
 * 3.13 inline values), heap type names and __mro__. Then garbage: random
 * bytes, unmapped and wild pointers, absurd counts, a spent read budget:
 * errors, never a crash or an unbounded loop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "resolve/pylayout.h"
#include "memory/pyobj.h"
#include "resolve/target.h"

#define HEAPTYPE (1ULL << 9)
#define F_LONG   (1ULL << 24)
#define F_LIST   (1ULL << 25)
#define F_TUPLE  (1ULL << 26)

static const unsigned versions[] = { 0x030a0000, 0x030b0000, 0x030c0000, 0x030d0000 };

/* Bump allocator of zeroed, 16-aligned memory with room before objects. */
static uint8_t *arena;
static size_t used;

static uint8_t *alloc(size_t n)
{
	uint8_t *p = arena + used;

	used += (n + 64 + 15) & ~(size_t)15;
	assert_true(used < (4 << 20));
	return p + 64; /* 64 bytes before: managed dict/values words */
}

static void put(uint8_t *base, long off, uint64_t v)
{
	memcpy(base + off, &v, sizeof(v));
}

static uint64_t A(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

struct fake {
	const struct st_py_layout *L;
	struct target *t;
	uint8_t *str_type, *tuple_type, *list_type, *dict_type, *int_type, *type_type;
};

static uint8_t *new_type(struct fake *f, const char *tp_name, uint64_t flags)
{
	uint8_t *t = alloc(1024);

	put(t, 8, A(f->type_type));
	put(t, f->L->type_name, A(tp_name));
	put(t, f->L->type_flags, flags);
	return t;
}

static uint8_t *new_str(struct fake *f, const char *s)
{
	const struct st_py_layout *L = f->L;
	size_t n = strlen(s);
	uint8_t *o = alloc(L->str_ascii_data + n + 1);
	uint32_t state = (1 << 5) | (1 << 6) | (1 << 2); /* compact, ascii, kind 1 */

	put(o, 0, 1);
	put(o, 8, A(f->str_type));
	put(o, L->str_length, n);
	memcpy(o + L->str_state, &state, sizeof(state));
	memcpy(o + L->str_ascii_data, s, n);
	return o;
}

static uint8_t *new_tuple(struct fake *f, unsigned n, const __u64 *items)
{
	uint8_t *o = alloc(f->L->tuple_items + 8 * n);

	put(o, 8, A(f->tuple_type));
	put(o, f->L->var_size, n);
	memcpy(o + f->L->tuple_items, items, 8 * n);
	return o;
}

/* A keys object with n str keys (3.11+: unicode kind, or split), entries filled. */
static uint8_t *new_keys(struct fake *f, unsigned n, const char *const *keys,
			 const __u64 *vals, bool split)
{
	const struct st_py_layout *L = f->L;
	uint8_t *k = alloc(L->dk_indices + 8 + n * 24);
	uint64_t *e;
	unsigned i;

	if (L->dk_size >= 0) {
		put(k, L->dk_size, 8); /* 8 slots of 1-byte indices */
		put(k, L->dk_nentries, n);
		e = (uint64_t *)(k + L->dk_indices + 8);
		for (i = 0; i < n; i++) {
			e[i * 3 + 1] = A(new_str(f, keys[i]));
			e[i * 3 + 2] = split ? 0 : vals[i];
		}
		return k;
	}
	k[L->dk_log2_size] = 3;
	k[L->dk_log2_index_bytes] = 3;
	k[L->dk_kind] = split ? 2 : 1;
	put(k, L->dk_nentries, n);
	e = (uint64_t *)(k + L->dk_indices + 8);
	for (i = 0; i < n; i++) {
		e[i * 2] = A(new_str(f, keys[i]));
		e[i * 2 + 1] = split ? 0 : vals[i];
	}
	return k;
}

static uint8_t *new_dict(struct fake *f, unsigned n, const char *const *keys, const __u64 *vals)
{
	uint8_t *d = alloc(64);

	put(d, 8, A(f->dict_type));
	put(d, f->L->dict_keys, A(new_keys(f, n, keys, vals, false)));
	return d;
}

static void setup_fake(struct fake *f, unsigned version)
{
	used = 0;
	memset(arena, 0, 4 << 20);
	f->L = pylayout__find(version);
	assert_non_null(f->L);
	f->t = calloc(1, sizeof(*f->t));
	f->t->pid = getpid();
	f->t->layout = f->L;
	f->type_type = alloc(1024);
	put(f->type_type, 8, A(f->type_type));
	put(f->type_type, f->L->type_name, A("type"));
	f->str_type = new_type(f, "str", 1ULL << 28);
	f->tuple_type = new_type(f, "tuple", F_TUPLE);
	f->list_type = new_type(f, "list", F_LIST);
	f->dict_type = new_type(f, "dict", 1ULL << 29);
	f->int_type = new_type(f, "int", F_LONG);
	f->t->bpf.unicode_type = A(f->str_type);
	f->t->bpf.tuple_type = A(f->tuple_type);
	f->t->bpf.dict_type = A(f->dict_type);
}

/* A frame's self that is a cell: its content, whether the cell type is known or read by name. */
static void test_deref_cell(void **state)
{
	size_t vi, k;

	for (vi = 0; vi < sizeof(versions) / sizeof(versions[0]); vi++) {
		struct fake f;
		struct pyobj r;
		uint8_t *cell_type, *cell, *empty, *plain;
		__u64 v;

		setup_fake(&f, versions[vi]);
		cell_type = new_type(&f, "cell", 0);
		cell = alloc(64);
		put(cell, 8, A(cell_type));
		put(cell, f.L->cell_ref, 0x1234560);
		empty = alloc(64);
		put(empty, 8, A(cell_type));
		plain = alloc(64);
		put(plain, 8, A(f.dict_type));
		for (k = 0; k < 2; k++) { /* 0: by tp_name, 1: &PyCell_Type known */
			const struct {
				uint8_t *obj;
				int ret;
				__u64 want;
			} cases[] = {
				{ cell, 0, 0x1234560 },
				{ empty, -ENOENT, 0 },
				{ plain, 0, A(plain) },
			};
			size_t i;

			for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
				pyobj__init(&r, f.t->pid, f.t->layout, &f.t->bpf, 100);
				r.cell_type = k ? A(cell_type) : 0;
				v = 0;
				assert_int_equal(pyobj__deref_cell(&r, A(cases[i].obj), &v), cases[i].ret);
				if (!cases[i].ret)
					assert_int_equal(v, cases[i].want);
				/* one read when the type is known */
				if (k)
					assert_int_equal(r.reads_left, 99);
			}
		}
	}
}

static void test_scalars(void **state)
{
	size_t vi;

	for (vi = 0; vi < sizeof(versions) / sizeof(versions[0]); vi++) {
		struct fake f;
		struct pyobj r;
		char buf[64];
		size_t len;
		bool trunc = false;
		long long v;
		uint8_t *i1, *i2, *lst;
		__u64 items[3], got[4], total;
		unsigned n;
		uint32_t d[2] = { 5, 1 }; /* 5 + 1 << 30 */

		setup_fake(&f, versions[vi]);
		pyobj__init(&r, f.t->pid, f.t->layout, &f.t->bpf, 10000);
		assert_int_equal(pyobj__str(&r, A(new_str(&f, "hello")), buf, sizeof(buf), &len,
					    &trunc), 0);
		assert_string_equal(buf, "hello");
		assert_int_equal(len, 5);
		assert_false(trunc);
		assert_int_equal(pyobj__str(&r, A(new_str(&f, "a long string")), buf, 5, &len,
					    &trunc), 0);
		assert_string_equal(buf, "a lo");
		assert_true(trunc);
		assert_int_equal(pyobj__str_eq(&r, A(new_str(&f, "self")), "self"), 1);
		assert_int_equal(pyobj__str_eq(&r, A(new_str(&f, "selfx")), "self"), 0);
		assert_int_equal(pyobj__str(&r, A(f.dict_type), buf, sizeof(buf), NULL, NULL),
				 -EINVAL);

		/* ints: 2 digits, positive and negative */
		i1 = alloc(64);
		put(i1, 8, A(f.int_type));
		memcpy(i1 + f.L->long_digits, d, sizeof(d));
		if (f.L->long_tag >= 0)
			put(i1, f.L->long_tag, 2 << 3);
		else
			put(i1, f.L->var_size, 2);
		assert_int_equal(pyobj__int(&r, A(i1), &v), 0);
		assert_int_equal(v, 5 + (1LL << 30));
		i2 = alloc(64);
		memcpy(i2, i1, 64);
		if (f.L->long_tag >= 0)
			put(i2, f.L->long_tag, (1 << 3) | 2);
		else
			put(i2, f.L->var_size, (uint64_t)-1);
		assert_int_equal(pyobj__int(&r, A(i2), &v), 0);
		assert_int_equal(v, -5);

		items[0] = A(i1);
		items[1] = A(i2);
		items[2] = A(f.dict_type);
		assert_int_equal(pyobj__items(&r, A(new_tuple(&f, 3, items)), got, 2, &n, &total), 0);
		assert_int_equal(n, 2);
		assert_int_equal(total, 3);
		assert_true(got[0] == items[0] && got[1] == items[1]);
		lst = alloc(64);
		put(lst, 8, A(f.list_type));
		put(lst, f.L->var_size, 3);
		put(lst, f.L->list_items, A(items));
		assert_int_equal(pyobj__items(&r, A(lst), got, 4, &n, NULL), 0);
		assert_int_equal(n, 3);
		assert_true(got[2] == items[2]);
		free(f.t);
	}
}

static void test_dict_attr_typename(void **state)
{
	size_t vi;

	for (vi = 0; vi < sizeof(versions) / sizeof(versions[0]); vi++) {
		static const char *const keys[] = { "app", "router", "user_middleware" };
		const struct st_py_layout *L;
		struct fake f;
		struct pyobj r;
		__u64 vals[3], v, mro[2];
		uint8_t *d, *cls, *obj, *modd, *values;
		const char *modkey = "__module__";
		char name[128];
		size_t off;
		unsigned n;

		setup_fake(&f, versions[vi]);
		L = f.L;
		pyobj__init(&r, f.t->pid, f.t->layout, &f.t->bpf, 10000);
		vals[0] = 0x1111;
		vals[1] = 0x2222;
		vals[2] = 0x3333;
		d = new_dict(&f, 3, keys, vals);
		assert_int_equal(pyobj__dict_get(&r, A(d), "router", &v), 0);
		assert_int_equal(v, 0x2222);
		assert_int_equal(pyobj__dict_get(&r, A(d), "user_middleware", &v), 0);
		assert_int_equal(v, 0x3333);
		assert_int_equal(pyobj__dict_get(&r, A(d), "middleware_stack", &v), -ENOENT);

		/* a heap type: "mod.Thing", __mro__ = (Thing, str) */
		v = A(new_str(&f, "mod"));
		modd = new_dict(&f, 1, &modkey, &v);
		cls = new_type(&f, "Thing", HEAPTYPE | L->tpflags_managed_dict | L->tpflags_inline);
		put(cls, L->ht_qualname, A(new_str(&f, "Outer.Thing")));
		put(cls, L->type_dict, A(modd));
		mro[0] = A(cls);
		mro[1] = A(f.str_type);
		put(cls, L->type_mro, A(new_tuple(&f, 2, mro)));
		assert_int_equal(pyobj__type_name(&r, A(cls), name, sizeof(name), &off), 0);
		assert_string_equal(name, "mod.Outer.Thing");
		assert_int_equal(off, 4);
		assert_int_equal(pyobj__type_name(&r, A(f.dict_type), name, sizeof(name), &off), 0);
		assert_string_equal(name, "dict");
		assert_int_equal(pyobj__mro(&r, A(cls), mro, 2, &n), 0);
		assert_int_equal(n, 2);
		assert_true(mro[1] == A(f.str_type));

		/* an instance with a dict, however this version reaches it */
		obj = alloc(64);
		put(obj, 8, A(cls));
		switch (L->attr_mode) {
		case ST_ATTR_DICTOFFSET:
			put(cls, L->type_dictoffset, 32);
			put(obj, 32, A(d));
			break;
		case ST_ATTR_311:
		case ST_ATTR_313:
			put(obj, L->managed_dict, A(d));
			break;
		case ST_ATTR_312:
			put(obj, L->managed_dict, A(d));
			break;
		}
		assert_int_equal(pyobj__attr(&r, A(obj), "app", &v), 0);
		assert_int_equal(v, 0x1111);
		assert_int_equal(pyobj__attr(&r, A(obj), "nope", &v), -ENOENT);

		/* split table: values beside the object, keys in the type (3.11+) */
		if (L->attr_mode != ST_ATTR_DICTOFFSET) {
			obj = alloc(128);
			put(obj, 8, A(cls));
			put(cls, L->type_cached_keys, A(new_keys(&f, 3, keys, NULL, true)));
			if (L->attr_mode == ST_ATTR_313) {
				values = obj + L->inline_values;
				values[L->values_valid] = 1;
			} else {
				values = alloc(64);
			}
			put(values, L->values_values + 8, 0x4444);
			if (L->attr_mode == ST_ATTR_311)
				put(obj, L->managed_values, A(values));
			else if (L->attr_mode == ST_ATTR_312)
				put(obj, L->managed_dict, A(values) - 1);
			assert_int_equal(pyobj__attr(&r, A(obj), "router", &v), 0);
			assert_int_equal(v, 0x4444);
			assert_int_equal(pyobj__attr(&r, A(obj), "app", &v), -ENOENT);
			if (L->attr_mode == ST_ATTR_313) {
				values[L->values_valid] = 0;
				assert_int_equal(pyobj__attr(&r, A(obj), "router", &v), -ENOENT);
			}
		}
		free(f.t);
	}
}

static void test_garbage(void **state)
{
	size_t vi;

	for (vi = 0; vi < sizeof(versions) / sizeof(versions[0]); vi++) {
		struct fake f;
		struct pyobj r;
		uint8_t *junk, *d, *k;
		__u64 v, items[8];
		char buf[64];
		unsigned n, i, round;
		void *unmapped;
		long long ll;
		bool yes;

		setup_fake(&f, versions[vi]);
		unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(unmapped != MAP_FAILED);
		junk = alloc(1 << 16);
		srand(42 + vi);
		for (round = 0; round < 200; round++) {
			for (i = 0; i < (1 << 16); i++)
				junk[i] = rand();
			/* sprinkle pointers into the junk so that some reads follow them */
			for (i = 0; i < 64; i++)
				put(junk, (rand() % ((1 << 16) / 8)) * 8,
				    i % 2 ? A(junk + (rand() % (1 << 15))) : A(f.dict_type));
			pyobj__init(&r, f.t->pid, f.t->layout, &f.t->bpf, 2000);
			pyobj__str(&r, A(junk + round * 8), buf, sizeof(buf), NULL, NULL);
			pyobj__int(&r, A(junk + round * 8), &ll);
			pyobj__items(&r, A(junk + round * 8), items, 8, &n, NULL);
			pyobj__dict_get(&r, A(junk + round * 8), "app", &v);
			pyobj__attr(&r, A(junk + round * 8), "app", &v);
			pyobj__type_name(&r, A(junk + round * 8), buf, sizeof(buf), NULL);
			pyobj__code_first_arg(&r, A(junk + round * 8), "self", &yes);
			pyobj__deref_cell(&r, A(junk + round * 8), &v);
			assert_true(r.reads_left <= 2000);
		}
		pyobj__init(&r, f.t->pid, f.t->layout, &f.t->bpf, 1000);
		assert_int_equal(pyobj__str(&r, A(unmapped), buf, sizeof(buf), NULL, NULL), -EFAULT);
		assert_int_equal(pyobj__attr(&r, 0x10, "app", &v), -EFAULT);
		assert_int_equal(pyobj__attr(&r, 1ULL << 60, "app", &v), -EFAULT);
		/* a dict claiming more entries than its size: refused, not scanned */
		d = new_dict(&f, 0, NULL, NULL);
		memcpy(&v, d + f.L->dict_keys, 8);
		k = (uint8_t *)(uintptr_t)v;
		put(k, f.L->dk_nentries, 1ULL << 40);
		assert_int_equal(pyobj__dict_get(&r, A(d), "app", &v), -EINVAL);
		/* a spent budget fails every read */
		pyobj__init(&r, f.t->pid, f.t->layout, &f.t->bpf, 0);
		assert_int_equal(pyobj__str(&r, A(new_str(&f, "x")), buf, sizeof(buf), NULL, NULL),
				 -E2BIG);
		munmap(unmapped, 4096);
		free(f.t);
	}
}

static int setup(void **state)
{
	arena = aligned_alloc(4096, 4 << 20);
	return arena ? 0 : -1;
}

static int teardown(void **state)
{
	free(arena);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_deref_cell),
		cmocka_unit_test(test_dict_attr_typename),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests_name("pyobj", tests, setup, teardown);
}
