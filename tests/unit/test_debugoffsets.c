// SPDX-License-Identifier: BSD-2-Clause
/*
 * Every live 3.13+ interpreter here (pyenv's 3.13, and Debian 13's 3.13,
 * sid's 3.13, 3.14 and 3.15 run in scripts/rootfs.sh's root filesystems):
 * the offsets it publishes in _Py_DebugOffsets, applied to the layout
 * generated from its own headers, change nothing (the two agree field by
 * field), and target__new accepts it. Then the copy read from one of them,
 * spoiled one way at a time, is refused with a reason naming what is wrong.
 * Needs root (process_vm_readv, chroot); a missing interpreter is SKIPPED.
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
#include "resolve/debugoffsets.h"
#include "resolve/elfsym.h"
#include "resolve/pylayout.h"
#include "memory/remote.h"
#include "resolve/target.h"

#define ROOTFS "/var/cache/sessiontrace/rootfs"

static const struct row {
	const char *root; /* chroot into this first, or NULL */
	const char *python;
	const char *version;
} rows[] = {
	{ NULL, "/root/.pyenv/versions/3.13.0/bin/python3.13", "3.13.0" },
	{ ROOTFS "/trixie", "/usr/bin/python3.13", "3.13.5" },
	{ ROOTFS "/sid", "/usr/bin/python3.13", "3.13.18" },
	{ ROOTFS "/sid", "/usr/bin/python3.14", "3.14.10" },
	{ ROOTFS "/sid", "/usr/bin/python3.15", "3.15.2" },
};

/* A child running the interpreter until killed; -1 when it cannot run here. */
static pid_t spawn(const struct row *r)
{
	char path[512], line[64] = "";
	int fds[2];
	pid_t pid;

	snprintf(path, sizeof(path), "%s%s", r->root ? r->root : "", r->python);
	if (access(path, X_OK) || geteuid() != 0 || pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		if (r->root && (chroot(r->root) || chdir("/")))
			_exit(127);
		execl(r->python, r->python, "-c",
		      "print('up', flush=True); import time; time.sleep(60)", NULL);
		_exit(127);
	}
	close(fds[1]);
	/* wait until the interpreter runs Python code: its runtime is initialized */
	if (read(fds[0], line, sizeof(line) - 1) <= 0) {
		close(fds[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(fds[0]);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* _PyRuntime's address in pid (target__new has found the file and bias). */
static uint64_t runtime_addr(const struct target *t)
{
	struct elfsym *e = elfsym__open(t->open_path);
	struct elfsym_info si;
	char maps[64], buf[1024];
	unsigned long long start = 0, off;
	uint64_t addr;
	FILE *f;

	assert_non_null(e);
	assert_int_equal(elfsym__find(e, "_PyRuntime", &si), 0);
	snprintf(maps, sizeof(maps), "/proc/%d/maps", t->pid);
	f = fopen(maps, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f))
		if (strstr(buf, t->interp) && sscanf(buf, "%llx-%*x %*s %llx", &start, &off) == 2 &&
		    off == 0)
			break;
	fclose(f);
	assert_true(start != 0);
	addr = (elfsym__is_dyn(e) ? start - elfsym__base_vaddr(e) : 0) + si.value;
	elfsym__free(e);
	return addr;
}

static void test_live_agree(void **state)
{
	size_t i, ran = 0;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct target *t = NULL;
		char err[512];
		pid_t pid = spawn(r);

		if (pid < 0) {
			printf("SKIPPED: %s%s: not runnable here (needs root and the interpreter)\n",
			       r->root ? r->root : "", r->python);
			continue;
		}
		if (!(t = target__new(pid, err, sizeof(err)))) {
			reap(pid);
			fail_msg("%s: %s", r->python, err);
		}
		assert_string_equal(t->python, r->version);
		/* the headers' table and the target's own offsets: not one field apart */
		if (memcmp(t->layout, pylayout__find(t->version_hex), sizeof(*t->layout))) {
			reap(pid);
			fail_msg("%s %s: _Py_DebugOffsets changed the headers' layout", r->python,
				 r->version);
		}
		printf("ok: %s %s: layout from its headers equals its _Py_DebugOffsets\n",
		       r->python, r->version);
		target__free(t);
		reap(pid);
		ran++;
	}
	if (!ran)
		skip();
}

static void test_refusals(void **state)
{
	const struct row *r = &rows[3]; /* sid 3.14 */
	struct debug_offsets d, bad;
	struct st_py_layout L;
	struct target *t = NULL;
	char err[512];
	pid_t pid = spawn(r);
	int n;

	if (pid < 0) {
		printf("SKIPPED: %s: not runnable here\n", r->python);
		skip();
	}
	t = target__new(pid, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(remote__read(pid, runtime_addr(t), &d, sizeof(d)), 0);
	L = *pylayout__find(t->version_hex);
	n = debugoffsets__apply_buf(&d, sizeof(d), t->version_hex, &L, err, sizeof(err));
	assert_true(n >= 25);

	bad = d;
	memcpy(bad.cookie, "xdebugpx", 8);
	assert_int_equal(debugoffsets__apply_buf(&bad, sizeof(bad), t->version_hex, &L, err,
						 sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "does not start with _Py_DebugOffsets"));
	/* another minor version's definition is not applied to it */
	assert_int_equal(debugoffsets__apply_buf(&d, sizeof(d), 0x030f0000, &L, err, sizeof(err)),
			 -EPROTO);
	bad = d;
	bad.free_threaded = 1;
	assert_int_equal(debugoffsets__apply_buf(&bad, sizeof(bad), t->version_hex, &L, err,
						 sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "free-threaded"));
	/* interpreter_frame.previous: u64 number 1 of its group, which starts at v[28] */
	bad = d;
	bad.v[29] = 1 << 20;
	assert_int_equal(debugoffsets__apply_buf(&bad, sizeof(bad), t->version_hex, &L, err,
						 sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "interpreter_frame.previous"));
	bad.v[29] = 4096;
	assert_int_equal(debugoffsets__apply_buf(&bad, sizeof(bad), t->version_hex, &L, err,
						 sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "frame"));
	/* cut short before a field it needs */
	assert_int_equal(debugoffsets__apply_buf(&d, offsetof(struct debug_offsets, v) + 40,
						 t->version_hex, &L, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "shorter"));
	/* a version without a definition is refused, not guessed */
	assert_int_equal(debugoffsets__apply_buf(&d, sizeof(d), 0x03100000, &L, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "3.16"));
	target__free(t);
	reap(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_agree),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests_name("debugoffsets", tests, NULL, NULL);
}
