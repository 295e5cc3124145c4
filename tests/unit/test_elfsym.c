// SPDX-License-Identifier: BSD-2-Clause
/*
 * ELF symbol look-up, checked against the dynamic linker's own answers: for
 * each loaded object, elfsym's st_value + (load address) must equal what
 * dlsym() returns, and the load address must be what elfsym's base implies.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <gelf.h>
#include "resolve/elfsym.h"

/* Exported from this (PIE) executable: -rdynamic is not needed for .symtab. */
int elfsym_test_variable = 42;
int elfsym_test_function(int x)
{
	return x + elfsym_test_variable;
}

struct find_obj {
	const char *needle;
	char path[4096];
	uintptr_t addr;
	bool found;
};

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct find_obj *f = data;

	if (f->needle[0] ? strstr(info->dlpi_name, f->needle) != NULL : info->dlpi_name[0] == 0) {
		snprintf(f->path, sizeof(f->path), "%s", f->needle[0] ? info->dlpi_name : "/proc/self/exe");
		f->addr = info->dlpi_addr;
		f->found = true;
		return 1;
	}
	return 0;
}

static struct find_obj find(const char *needle)
{
	struct find_obj f = { .needle = needle };

	dl_iterate_phdr(phdr_cb, &f);
	assert_true(f.found);
	return f;
}

static void test_self_exe(void **state)
{
	struct find_obj f = find("");
	struct elfsym *e = elfsym__open(f.path);
	struct elfsym_info si;

	assert_non_null(e);
	assert_int_equal(elfsym__find(e, "elfsym_test_function", &si), 0);
	assert_int_equal(si.type, STT_FUNC);
	assert_true(si.value + f.addr == (uintptr_t)&elfsym_test_function);
	assert_int_equal(elfsym__find(e, "elfsym_test_variable", &si), 0);
	assert_int_equal(si.type, STT_OBJECT);
	assert_int_equal(si.size, sizeof(int));
	assert_true(si.value + f.addr == (uintptr_t)&elfsym_test_variable);
	assert_int_equal(elfsym__find(e, "no_such_symbol_anywhere", &si), -ENOENT);
	elfsym__free(e);
}

/* A shared object: every exported name in the table must match dlsym. */
static void test_shared_lib(void **state)
{
	static const char *const names[] = {
		"elf_begin", "elf_end", "gelf_getsym", "elf_strptr", "elf_version",
	};
	struct find_obj f = find("libelf");
	struct elfsym *e = elfsym__open(f.path);
	void *h = dlopen(f.path, RTLD_NOW | RTLD_NOLOAD);
	size_t i;

	assert_non_null(e);
	assert_non_null(h);
	assert_true(elfsym__is_dyn(e));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct elfsym_info si;

		assert_int_equal(elfsym__find(e, names[i], &si), 0);
		assert_true(si.dynamic || elfsym__has_symtab(e));
		assert_ptr_equal((void *)(si.value + f.addr), dlsym(h, names[i]));
	}
	dlclose(h);
	elfsym__free(e);
}

static void test_bad_files(void **state)
{
	static const char *const paths[] = { "/nonexistent/file", "/etc/hostname", "/dev/null", "/" };
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_null(elfsym__open(paths[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_exe),
		cmocka_unit_test(test_shared_lib),
		cmocka_unit_test(test_bad_files),
	};

	return cmocka_run_group_tests_name("elfsym", tests, NULL, NULL);
}
