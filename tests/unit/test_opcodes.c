// SPDX-License-Identifier: BSD-2-Clause
/*
 * The LOAD_ASSERTION_ERROR handler of every interpreter on this machine:
 * found by symbol (.symtab's opcode_targets.N) and by shape (names ignored),
 * the two agree, a strip(1)ped copy gives the same handler, and the handler
 * validates. Negative rows: a file that is not Python, a copy whose handler
 * no longer loads PyExc_AssertionError, a version without a known opcode.
 * An interpreter that is not installed is reported SKIPPED.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "elfsym.h"
#include "opcodes.h"

/*
 * instr_off: the frame's instruction pointer field (user/layouts.inc
 * frame_instr), -1 for 3.10; ip_reg: the register the handler stores there,
 * read off each file's disassembly (objdump -d at the handler).
 */
static const struct row {
	const char *path;
	unsigned minor;
	int instr_off, ip_reg;
} rows[] = {
	{ "/usr/bin/python3.11", 11, 0x38, 15 }, /* Debian: static, stripped, non-PIE */
	{ "/root/.pyenv/versions/3.10.13/lib/libpython3.10.so.1.0", 10, -1, -1 },
	{ "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", 11, 0x38, 14 },
	{ "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0", 12, 0x38, 10 },
	{ "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0", 13, 0x38, 15 },
};

static char why[256];

static int find(const char *path, unsigned minor, int instr_off, bool names,
		struct assert_handler *h)
{
	struct elfsym *e = elfsym__open(path);
	int err;

	assert_non_null(e);
	why[0] = 0;
	err = opcodes__assert_handler(e, minor, instr_off, names, h, why, sizeof(why));
	elfsym__free(e);
	return err;
}

/* cp or strip path to a temporary file; returns its name (static buffer). */
static const char *copy_of(const char *path, const char *how)
{
	static char tmpl[64];
	char cmd[8192];
	int fd;

	snprintf(tmpl, sizeof(tmpl), "/tmp/st-opcodes-XXXXXX");
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s '%s' '%s'", how, path, tmpl);
	assert_int_equal(system(cmd), 0);
	return tmpl;
}

static void test_interpreters(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct assert_handler named, shaped, stripped;
		struct elfsym *e;
		const char *tmp;
		bool symtab;

		if (access(r->path, R_OK)) {
			printf("SKIPPED: %s: not installed\n", r->path);
			continue;
		}
		e = elfsym__open(r->path);
		assert_non_null(e);
		symtab = elfsym__has_symtab(e);
		elfsym__free(e);

		if (find(r->path, r->minor, r->instr_off, true, &named))
			fail_msg("%s: %s", r->path, why);
		assert_int_equal(named.by_symbol, symtab);
		if (find(r->path, r->minor, r->instr_off, false, &shaped))
			fail_msg("%s (by shape): %s", r->path, why);
		assert_false(shaped.by_symbol);
		assert_true(shaped.table == named.table);
		assert_true(shaped.handler == named.handler);
		assert_int_equal(named.ip_reg, r->ip_reg);
		assert_int_equal(shaped.ip_reg, r->ip_reg);

		tmp = copy_of(r->path, "cp");
		snprintf(why, sizeof(why), "strip '%s'", tmp);
		assert_int_equal(system(why), 0);
		if (find(tmp, r->minor, r->instr_off, true, &stripped))
			fail_msg("%s (stripped copy): %s", r->path, why);
		assert_false(stripped.by_symbol);
		assert_true(stripped.handler == named.handler);
		unlink(tmp);
		printf("ok: %s: opcode_targets 0x%llx (%s), handler 0x%llx; same by shape and "
		       "stripped\n", r->path, (unsigned long long)named.table,
		       symtab ? "named" : "by shape", (unsigned long long)named.handler);
	}
}

/* The handler's bytes replaced: validation must refuse, not guess. */
static void test_corrupted(void **state)
{
	const struct row *r = &rows[3];
	struct assert_handler h;
	struct elfsym *e;
	uint64_t off;
	const char *tmp;
	char cmd[512];

	if (access(r->path, R_OK)) {
		printf("SKIPPED: %s: not installed\n", r->path);
		return;
	}
	assert_int_equal(find(r->path, r->minor, r->instr_off, true, &h), 0);
	/* another frame offset: the store is not the one expected, refused */
	assert_int_equal(find(r->path, r->minor, 0x40, true, &h), -ENOENT);
	assert_non_null(strstr(why, "instruction pointer"));
	e = elfsym__open(r->path);
	assert_non_null(e);
	assert_int_equal(elfsym__vaddr_to_offset(e, h.handler, &off), 0);
	elfsym__free(e);
	tmp = copy_of(r->path, "cp");
	snprintf(cmd, sizeof(cmd),
		 "printf '\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220"
		 "\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220"
		 "\\220\\220' | dd of='%s' bs=1 seek=%llu conv=notrunc status=none",
		 tmp, (unsigned long long)off);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(find(tmp, r->minor, r->instr_off, true, &h), -ENOENT);
	assert_non_null(strstr(why, "does not load PyExc_AssertionError"));
	unlink(tmp);
}

static void test_not_python(void **state)
{
	struct assert_handler h;

	assert_int_equal(find("/bin/true", 12, 0x38, true, &h), -ENOENT);
	assert_non_null(strstr(why, "_PyEval_EvalFrameDefault"));
	assert_int_equal(find("/bin/true", 12, 0x38, false, &h), -ENOENT);
}

static void test_versions(void **state)
{
	struct assert_handler h;

	assert_int_equal(opcodes__load_assertion_error(10), 74);
	assert_int_equal(opcodes__load_assertion_error(12), 74);
	assert_int_equal(opcodes__load_assertion_error(13), 23);
	assert_int_equal(opcodes__load_assertion_error(14), -1);
	if (!access(rows[4].path, R_OK)) {
		assert_int_equal(find(rows[4].path, 14, 0x38, true, &h), -ENOTSUP);
		assert_non_null(strstr(why, "3.14"));
		/* 3.13's file with 3.12's opcode: entry 74 is another handler */
		assert_int_equal(find(rows[4].path, 12, 0x38, true, &h), -ENOENT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interpreters),
		cmocka_unit_test(test_corrupted),
		cmocka_unit_test(test_not_python),
		cmocka_unit_test(test_versions),
	};

	return cmocka_run_group_tests_name("opcodes", tests, NULL, NULL);
}
