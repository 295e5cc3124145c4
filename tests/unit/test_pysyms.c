// SPDX-License-Identifier: BSD-2-Clause
/*
 * The raise-probe entry in every interpreter file on this machine, found
 * without names (as in a stripped build) must be the function .symtab names:
 * _PyErr_SetObject.part.0 where GCC split it (3.13), else _PyErr_SetObject.
 * Where _PyErr_SetObject is exported (.dynsym: 3.10-3.12, Debian's static
 * 3.11) strip keeps it, and the exported callers reach it through the PLT,
 * so only the named path applies.
 * Files: PYSYMS_FILES (space separated), default Debian's python3.11 and
 * every pyenv libpython3.1x. A file that is not there is reported SKIPPED.
 */
#include <errno.h>
#include <glob.h>
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
#include "resolve/pysyms.h"

/* The unnamed entry of a copy of path made by strip(1), or 0 on failure. */
static uint64_t stripped_entry(const char *path)
{
	char tmpl[] = "/tmp/st-pysyms-XXXXXX", cmd[8192];
	struct raise_entry re = { 0 };
	struct elfsym *e;
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "strip -o '%s' '%s'", tmpl, path);
	assert_int_equal(system(cmd), 0);
	e = elfsym__open(tmpl);
	assert_non_null(e);
	assert_false(elfsym__has_symtab(e));
	/* with names allowed, a stripped 3.13 still has none to offer */
	if (pysyms__raise_entry(e, true, &re) == 0)
		assert_null(re.name);
	else
		re.vaddr = 0;
	elfsym__free(e);
	unlink(tmpl);
	return re.vaddr;
}

static void check_file(const char *path)
{
	struct elfsym *e = elfsym__open(path);
	struct elfsym_info named, part;
	struct raise_entry byname, noname;
	uint64_t off, want;

	if (!e) {
		printf("SKIPPED: %s: %s\n", path, strerror(errno));
		return;
	}
	/* with names: the split-off body where GCC made one (every raise reaches it) */
	if (elfsym__find(e, "_PyErr_SetObject.part.0", &part) == 0) {
		assert_int_equal(pysyms__raise_entry(e, true, &byname), 0);
		assert_string_equal(byname.name, "_PyErr_SetObject.part.0");
		assert_true(byname.vaddr == part.value);
	} else if (elfsym__find(e, "_PyErr_SetObject", &named) == 0) {
		/* else the real _PyErr_SetObject whenever any table has it */
		assert_int_equal(pysyms__raise_entry(e, true, &byname), 0);
		assert_string_equal(byname.name, "_PyErr_SetObject");
		assert_true(byname.vaddr == named.value);
		if (named.dynamic) {
			printf("ok: %s: _PyErr_SetObject exported at 0x%llx (kept by strip)\n", path,
			       (unsigned long long)named.value);
			elfsym__free(e);
			return;
		}
	}
	if (!elfsym__has_symtab(e)) {
		printf("SKIPPED: %s: stripped already, nothing to check against\n", path);
		elfsym__free(e);
		return;
	}
	/* without names: must be what .symtab calls the function's body */
	if (elfsym__find(e, "_PyErr_SetObject.part.0", &part) == 0)
		want = part.value;
	else
		want = named.value;
	assert_int_equal(pysyms__raise_entry(e, false, &noname), 0);
	assert_null(noname.name);
	assert_true(noname.vaddr == want);
	assert_int_equal(elfsym__vaddr_to_offset(e, noname.vaddr, &off), 0);
	/* and a real stripped copy gives the same address */
	assert_true(stripped_entry(path) == want);
	printf("ok: %s: unnamed entry 0x%llx matches .symtab, also after strip\n", path,
	       (unsigned long long)want);
	elfsym__free(e);
}

static void test_interpreters(void **state)
{
	const char *env = getenv("PYSYMS_FILES");
	const char *root = getenv("PYENV_ROOT");
	char pattern[4096];
	glob_t g = { 0 };
	size_t i, n = 0;

	if (env && *env) {
		char *copy = strdup(env), *save = NULL, *tok;

		for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save), n++)
			check_file(tok);
		free(copy);
		assert_true(n > 0);
		return;
	}
	check_file("/usr/bin/python3.11");
	snprintf(pattern, sizeof(pattern), "%s/versions/3.1[0-9]*/lib/libpython3.1[0-9].so.1.0",
		 root && *root ? root : "/root/.pyenv");
	if (glob(pattern, 0, NULL, &g) == 0)
		for (i = 0; i < g.gl_pathc; i++)
			check_file(g.gl_pathv[i]);
	else
		printf("SKIPPED: no pyenv libpython matches %s\n", pattern);
	globfree(&g);
}

/*
 * Debian 13 and sid builds (scripts/rootfs.sh): stripped, static, GCC 14
 * and 16. The entry each must give, read off its disassembly: the target
 * of PyErr_SetObject's tail jump (which on 3.14 is also do_raise's first
 * call, test_opcodes), or 3.15's exported _PyErr_SetObject.
 */
static void test_distro_builds(void **state)
{
	static const struct { const char *path; uint64_t want; const char *name; } rows[] = {
		{ "/var/cache/sessiontrace/rootfs/trixie/usr/bin/python3.13", 0x59ce80, NULL },
		{ "/var/cache/sessiontrace/rootfs/sid/usr/bin/python3.13", 0x5fa2c0, NULL },
		{ "/var/cache/sessiontrace/rootfs/sid/usr/bin/python3.14", 0x5d4910, NULL },
		{ "/var/cache/sessiontrace/rootfs/sid/usr/bin/python3.15", 0x60df50, "_PyErr_SetObject" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct elfsym *e = elfsym__open(rows[i].path);
		struct raise_entry re;

		if (!e) {
			printf("SKIPPED: %s: %s\n", rows[i].path, strerror(errno));
			continue;
		}
		assert_int_equal(pysyms__raise_entry(e, true, &re), 0);
		assert_true(re.vaddr == rows[i].want);
		if (rows[i].name)
			assert_string_equal(re.name, rows[i].name);
		else
			assert_null(re.name);
		printf("ok: %s: raise entry 0x%llx%s\n", rows[i].path,
		       (unsigned long long)re.vaddr, re.name ? " (named)" : "");
		elfsym__free(e);
	}
}

/* A file with neither name nor the exported pair: a clean -ENOENT. */
static void test_not_python(void **state)
{
	struct elfsym *e = elfsym__open("/bin/true");
	struct raise_entry re;

	assert_non_null(e);
	assert_int_equal(pysyms__raise_entry(e, true, &re), -ENOENT);
	assert_int_equal(pysyms__raise_entry(e, false, &re), -ENOENT);
	elfsym__free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interpreters),
		cmocka_unit_test(test_distro_builds),
		cmocka_unit_test(test_not_python),
	};

	return cmocka_run_group_tests_name("pysyms", tests, NULL, NULL);
}
