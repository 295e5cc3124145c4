// SPDX-License-Identifier: BSD-2-Clause
/*
 * The decoding process's seccomp filter (daemon/sandbox.c), applied by the
 * same function in a child of this test: what a compromised decoder would
 * try kills it (opening /proc/<parent>/mem, any path for writing or
 * reading, rename, unlink), what the decoder does still works (writing and
 * truncating descriptors it was given, reading a target's memory).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "daemon/sandbox.h"

static char tmpdir[64];

/* What one child tries once the filter is on: 0 when it returned. */
typedef int (*attempt_fn)(int fd);

static int open_parent_mem(int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", getppid());
	return open(path, O_RDWR) >= 0 ? 0 : 1;
}

static int open_for_writing(int fd)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/planted", tmpdir);
	return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600) >= 0 ? 0 : 1;
}

static int open_for_reading(int fd)
{
	return open("/etc/hostname", O_RDONLY) >= 0 ? 0 : 1;
}

static int do_rename(int fd)
{
	char a[128], b[128];

	snprintf(a, sizeof(a), "%s/records", tmpdir);
	snprintf(b, sizeof(b), "%s/elsewhere", tmpdir);
	return rename(a, b) ? 1 : 0;
}

static int do_unlink(int fd)
{
	char a[128];

	snprintf(a, sizeof(a), "%s/records", tmpdir);
	return unlink(a) ? 1 : 0;
}

static int exec_shell(int fd)
{
	execl("/bin/sh", "sh", "-c", "true", (char *)NULL);
	return 1;
}

/* The decoder's own work: write a record and take a short one back, read memory. */
static int decoder_work(int fd)
{
	static const char rec[] = "{\"a\":1}\n";
	static long word = 0x5e55;
	long got = 0;
	struct iovec local = { &got, sizeof(got) }, remote = { &word, sizeof(word) };

	if (write(fd, rec, sizeof(rec) - 1) != (ssize_t)(sizeof(rec) - 1))
		return 10;
	if (ftruncate(fd, 0))
		return 11;
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != sizeof(got) || got != word)
		return 12;
	/* a library naming a thread gets EPERM, it is not killed */
	if (prctl(PR_SET_NAME, "x", 0, 0, 0) != -1 || errno != EPERM)
		return 13;
	return 0;
}

/* Run attempt in a child under the filter; its wait status. */
static int under_filter(attempt_fn attempt)
{
	char path[128];
	int status, fd;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/records", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_true(fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || sandbox__seccomp())
			_exit(100);
		_exit(attempt(fd));
	}
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void killed(attempt_fn attempt)
{
	int status = under_filter(attempt);

	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		fail_msg("not killed by SIGSYS: status 0x%x", status);
}

static void test_kills(void **state)
{
	(void)state;
	killed(open_parent_mem);
	killed(open_for_writing);
	killed(open_for_reading);
	killed(do_rename);
	killed(do_unlink);
	killed(exec_shell);
}

static void test_decoder_work(void **state)
{
	int status = under_filter(decoder_work);

	(void)state;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("the decoder's own calls: status 0x%x", status);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kills),
		cmocka_unit_test(test_decoder_work),
	};
	int ret;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/st-sandbox-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/records", tmpdir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/planted", tmpdir);
		unlink(p);
		rmdir(tmpdir);
	}
	return ret;
}
