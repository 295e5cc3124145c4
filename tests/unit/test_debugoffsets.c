// SPDX-License-Identifier: BSD-2-Clause
/*
 * Our generated 3.13 layout against a live 3.13 interpreter's own
 * _Py_DebugOffsets: it must agree, and a single wrong field must be caught
 * and named. Needs root (process_vm_readv) and pyenv's 3.13.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "debugoffsets.h"
#include "elfsym.h"
#include "pylayout.h"
#include "target.h"

#define PY313 "/root/.pyenv/versions/3.13.0/bin/python3.13"
#define LIB313 "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0"

static pid_t child = -1;

static int setup(void **state)
{
	char line[64] = "";
	int fds[2];

	if (access(PY313, X_OK) || geteuid() != 0)
		return 0;
	if (pipe(fds))
		return -1;
	child = fork();
	if (child == 0) {
		dup2(fds[1], 1);
		execl(PY313, PY313, "-c", "print('up', flush=True); import time; time.sleep(30)", NULL);
		_exit(127);
	}
	close(fds[1]);
	/* wait until the interpreter runs Python code: its runtime is initialized */
	if (read(fds[0], line, sizeof(line) - 1) <= 0)
		return -1;
	close(fds[0]);
	return 0;
}

static int teardown(void **state)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return 0;
}

static void test_agrees_and_catches_mismatch(void **state)
{
	struct st_py_layout bad;
	struct target *t = NULL;
	struct elfsym *e;
	struct elfsym_info si;
	char err[256], maps[64], buf[512];
	unsigned long long start = 0;
	FILE *f;
	int n;

	if (child <= 0) {
		print_message("SKIPPED: needs root and %s\n", PY313);
		skip();
	}
	/* target__new runs the check itself: it must pass on the real process */
	n = target__new(child, &t, err, sizeof(err));
	assert_int_equal(n, 0);
	assert_string_equal(t->python, "3.13.0");

	e = elfsym__open(LIB313);
	assert_non_null(e);
	assert_int_equal(elfsym__find(e, "_PyRuntime", &si), 0);
	snprintf(maps, sizeof(maps), "/proc/%d/maps", child);
	f = fopen(maps, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f))
		if (strstr(buf, "libpython3.13.so") && sscanf(buf, "%llx-", &start) == 1)
			break;
	fclose(f);
	assert_true(start != 0);
	n = debugoffsets__check(child, start - elfsym__base_vaddr(e) + si.value, t->version_hex,
				t->layout, err, sizeof(err));
	assert_int_equal(n, 32);

	bad = *t->layout;
	bad.frame_previous += 8;
	n = debugoffsets__check(child, start - elfsym__base_vaddr(e) + si.value, t->version_hex,
				&bad, err, sizeof(err));
	assert_int_equal(n, -EPROTO);
	assert_non_null(strstr(err, "interpreter_frame.previous"));

	/* a version without a known definition is refused, not guessed */
	n = debugoffsets__check(child, start, 0x030e0000, t->layout, err, sizeof(err));
	assert_int_equal(n, -ENOTSUP);
	elfsym__free(e);
	target__free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agrees_and_catches_mismatch),
	};

	return cmocka_run_group_tests_name("debugoffsets", tests, setup, teardown);
}
