// SPDX-License-Identifier: BSD-2-Clause
/*
 * The assert probe's site in every interpreter on this machine (pyenv's,
 * Debian 12's, and the Debian 13 / sid builds of scripts/rootfs.sh: GCC 12,
 * 14 and 16, static and shared, with and without .symtab): found by symbol
 * and by shape (names ignored), the two agree, a strip(1)ped copy gives the
 * same site, and the expected register / function is found. Negative rows:
 * a file that is not Python, a handler whose bytes no longer load
 * PyExc_AssertionError, a layout whose frame offset is wrong, a version
 * without the opcodes. A missing interpreter is reported SKIPPED.
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
#include "resolve/elfsym.h"
#include "resolve/opcodes.h"
#include "resolve/pylayout.h"

#define ROOTFS "/var/cache/sessiontrace/rootfs"

/*
 * ip_reg: the register the LOAD_ASSERTION_ERROR handler stores into the
 * frame (-1: 3.10, or a do_raise site); probe: do_raise's address, read
 * off each file's disassembly (objdump -d: the RAISE_VARARGS handler's
 * call, a function that raises TypeError and RuntimeError), 0 to skip.
 */
static const struct row {
	const char *path;
	unsigned version;
	enum assert_site_kind kind;
	int ip_reg;
	uint64_t probe;
} rows[] = {
	{ "/usr/bin/python3.11", 0x030b0000, ASSERT_SITE_HANDLER, 15, 0 }, /* GCC 12, static */
	{ "/root/.pyenv/versions/3.10.13/lib/libpython3.10.so.1.0", 0x030a0000, ASSERT_SITE_HANDLER, -1, 0 },
	{ "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", 0x030b0000, ASSERT_SITE_HANDLER, 14, 0 },
	{ "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0", 0x030c0000, ASSERT_SITE_HANDLER, 10, 0 },
	{ "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0", 0x030d0000, ASSERT_SITE_HANDLER, 15, 0 },
	{ ROOTFS "/trixie/usr/bin/python3.13", 0x030d0000, ASSERT_SITE_HANDLER, 5, 0 },   /* GCC 14, CET */
	{ ROOTFS "/sid/usr/bin/python3.13", 0x030d0000, ASSERT_SITE_HANDLER, 12, 0 },     /* GCC 16 */
	{ ROOTFS "/sid/usr/bin/python3.14", 0x030e0000, ASSERT_SITE_DO_RAISE, -1, 0x659400 },
	{ ROOTFS "/sid/usr/bin/python3.15", 0x030f0000, ASSERT_SITE_DO_RAISE, -1, 0x69cad0 },
};

static char why[256];

static int find(const char *path, const struct st_py_layout *L, bool names, struct assert_site *s)
{
	struct elfsym *e = elfsym__open(path);
	int err;

	assert_non_null(e);
	why[0] = 0;
	err = opcodes__assert_site(e, L, names, s, why, sizeof(why));
	elfsym__free(e);
	return err;
}

/* cp path to a temporary file; returns its name (static buffer). */
static const char *copy_of(const char *path)
{
	static char tmpl[64];
	char cmd[8192];
	int fd;

	snprintf(tmpl, sizeof(tmpl), "/tmp/st-opcodes-XXXXXX");
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, tmpl);
	assert_int_equal(system(cmd), 0);
	return tmpl;
}

static const struct st_py_layout *layout(unsigned version)
{
	const struct st_py_layout *L = pylayout__find(version);

	assert_non_null(L);
	return L;
}

static void test_interpreters(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		const struct st_py_layout *L;
		struct assert_site named, shaped, stripped;
		struct elfsym *e;
		const char *tmp;
		char cmd[256];
		bool symtab;

		if (access(r->path, R_OK)) {
			printf("SKIPPED: %s: not installed\n", r->path);
			continue;
		}
		L = layout(r->version);
		e = elfsym__open(r->path);
		assert_non_null(e);
		symtab = elfsym__has_symtab(e);
		elfsym__free(e);

		if (find(r->path, L, true, &named))
			fail_msg("%s: %s", r->path, why);
		assert_int_equal(named.kind, r->kind);
		assert_int_equal(named.by_symbol, symtab);
		if (find(r->path, L, false, &shaped))
			fail_msg("%s (by shape): %s", r->path, why);
		assert_false(shaped.by_symbol);
		assert_true(shaped.probe == named.probe);
		assert_int_equal(named.ip_reg, r->ip_reg);
		assert_int_equal(shaped.ip_reg, r->ip_reg);
		if (r->probe)
			assert_true(named.probe == r->probe);
		if (r->kind == ASSERT_SITE_HANDLER)
			assert_true(named.probe == named.handler || named.probe == named.handler + 4);
		else
			assert_true(named.set_object != 0);

		tmp = copy_of(r->path);
		snprintf(cmd, sizeof(cmd), "strip '%s'", tmp);
		assert_int_equal(system(cmd), 0);
		if (find(tmp, L, true, &stripped))
			fail_msg("%s (stripped copy): %s", r->path, why);
		assert_false(stripped.by_symbol);
		assert_true(stripped.probe == named.probe);
		unlink(tmp);
		printf("ok: %s: opcode_targets 0x%llx (%s), %s 0x%llx, ip register %d; same by "
		       "shape and stripped\n", r->path, (unsigned long long)named.table,
		       named.by_symbol ? "named" : "by shape",
		       named.kind == ASSERT_SITE_HANDLER ? "LOAD_ASSERTION_ERROR handler" : "do_raise",
		       (unsigned long long)named.probe, named.ip_reg);
	}
}

/* The handler's bytes replaced, or the frame offset wrong: refused, not guessed. */
static void test_corrupted(void **state)
{
	const struct row *r = &rows[3];
	struct st_py_layout L;
	struct assert_site s, refused;
	struct elfsym *e;
	uint64_t off;
	const char *tmp;
	char cmd[512];

	if (access(r->path, R_OK)) {
		printf("SKIPPED: %s: not installed\n", r->path);
		return;
	}
	L = *layout(r->version);
	assert_int_equal(find(r->path, &L, true, &s), 0);
	/* another frame offset: the store is not the one expected, refused */
	L.frame_instr = 0x40;
	assert_int_equal(find(r->path, &L, true, &refused), -ENOENT);
	assert_non_null(strstr(why, "instruction pointer"));
	L = *layout(r->version);
	e = elfsym__open(r->path);
	assert_non_null(e);
	assert_int_equal(elfsym__vaddr_to_offset(e, s.handler, &off), 0);
	elfsym__free(e);
	tmp = copy_of(r->path);
	snprintf(cmd, sizeof(cmd),
		 "printf '\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220"
		 "\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220\\220"
		 "\\220\\220' | dd of='%s' bs=1 seek=%llu conv=notrunc status=none",
		 tmp, (unsigned long long)off);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(find(tmp, &L, true, &refused), -ENOENT);
	assert_non_null(strstr(why, "LOAD_ASSERTION_ERROR"));
	unlink(tmp);
}

/* sid 3.14: its do_raise must pass every check; 3.13's opcode is not a 3.14 handler */
static void test_do_raise_refusals(void **state)
{
	const struct row *r = &rows[7];
	struct st_py_layout L;
	struct assert_site s;

	if (access(r->path, R_OK)) {
		printf("SKIPPED: %s: not installed\n", r->path);
		return;
	}
	L = *layout(r->version);
	/* GET_AWAITABLE's handler calls a function raising both errors too: the
	 * missing branch on oparg == 2 refuses it (3.15's opcode number in 3.14) */
	L.op_raise_varargs = 71;
	assert_int_equal(find(r->path, &L, true, &s), -ENOENT);
	assert_non_null(strstr(why, "RAISE_VARARGS"));
	L = *layout(r->version);
	L.frame_instr = 0x30;
	assert_int_equal(find(r->path, &L, true, &s), -ENOENT);
}

static void test_not_python(void **state)
{
	struct assert_site s;

	assert_int_equal(find("/bin/true", layout(0x030c0000), true, &s), -ENOENT);
	assert_non_null(strstr(why, "PyExc_AssertionError"));
	assert_int_equal(find("/bin/true", layout(0x030e0000), false, &s), -ENOENT);
}

static void test_versions(void **state)
{
	struct st_py_layout L = *layout(0x030d0000);
	struct assert_site s;

	/* opcode numbers come from each version's opcode.h */
	assert_int_equal(layout(0x030a0000)->op_load_assertion_error, 74);
	assert_int_equal(layout(0x030c0000)->op_load_assertion_error, 74);
	assert_int_equal(layout(0x030d0000)->op_load_assertion_error, 23);
	assert_int_equal(layout(0x030e0000)->op_load_assertion_error, -1);
	assert_int_equal(layout(0x030e0000)->op_raise_varargs, 104);
	assert_int_equal(layout(0x030f0000)->op_raise_varargs, 103);
	if (!access(rows[4].path, R_OK)) {
		L.op_load_assertion_error = -1;
		L.op_raise_varargs = -1;
		assert_int_equal(find(rows[4].path, &L, true, &s), -ENOTSUP);
		assert_non_null(strstr(why, "3.13"));
		/* 3.13's file with 3.12's opcode: entry 74 is another handler */
		L = *layout(0x030d0000);
		L.op_load_assertion_error = 74;
		assert_int_equal(find(rows[4].path, &L, true, &s), -ENOENT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interpreters),
		cmocka_unit_test(test_corrupted),
		cmocka_unit_test(test_do_raise_refusals),
		cmocka_unit_test(test_not_python),
		cmocka_unit_test(test_versions),
	};

	return cmocka_run_group_tests_name("opcodes", tests, NULL, NULL);
}
