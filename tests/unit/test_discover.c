// SPDX-License-Identifier: BSD-2-Clause
/*
 * Command lines of real deployments (as /proc/PID/cmdline holds them) and
 * what discovery makes of them. Arguments are separated by '|' here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "discover/classify.h"
#include "discover/procfs.h"

struct case_ {
	const char *cmdline;
	enum discover_verdict want;
	const char *service;
};

static const struct case_ cases[] = {
	/* uvicorn */
	{ "/usr/bin/python3|/usr/bin/uvicorn|main:app", DISCOVER_SERVER, "main:app" },
	{ "/usr/bin/python3.11|-m|uvicorn|main:app|--host|0.0.0.0|--port|8000", DISCOVER_SERVER,
	  "main:app" },
	{ "python3|-muvicorn|pkg.api:app", DISCOVER_SERVER, "pkg.api:app" },
	{ "python3|-u|-X|dev|-m|uvicorn|--host|127.0.0.1:80|a.b:create_app()", DISCOVER_SERVER,
	  "a.b:create_app()" },
	{ "python3|-Wignore|-OO|-m|uvicorn|app:app", DISCOVER_SERVER, "app:app" },
	{ "/root/.pyenv/versions/3.12.1/bin/python3.12|-m|uvicorn|mw:app|--app-dir|tests/apps",
	  DISCOVER_SERVER, "mw:app" },
	{ "uvicorn|main:app", DISCOVER_SERVER, "main:app" },
	{ "/usr/bin/python3|-m|uvicorn.__main__|m:app", DISCOVER_SERVER, "m:app" },
	{ "/usr/bin/python3|-m|uvicorn|--fd|3", DISCOVER_SERVER, "" },
	/* gunicorn: host:port and worker class are not the app */
	{ "/usr/bin/python3|/usr/bin/gunicorn|-k|uvicorn.workers.UvicornWorker|-w|2|-b|"
	  "127.0.0.1:8000|app:app", DISCOVER_SERVER, "app:app" },
	{ "gunicorn: master [app:app]", DISCOVER_SERVER, "app:app" },
	{ "gunicorn: worker [svc.main:app]", DISCOVER_SERVER, "svc.main:app" },
	{ "gunicorn: worker [not a spec]", DISCOVER_SERVER, "" },
	{ "python3|-m|gunicorn|-b|unix:/run/app.sock|svc.main:app", DISCOVER_SERVER,
	  "svc.main:app" },
	/* hypercorn */
	{ "/usr/bin/python3|-m|hypercorn|--bind|[::1]:8000|app:app", DISCOVER_SERVER, "app:app" },
	{ "/usr/bin/python3|/usr/bin/hypercorn|app:app", DISCOVER_SERVER, "app:app" },
	/* uvicorn --workers / --reload children: found through their parent */
	{ "/usr/bin/python3|-c|from multiprocessing.spawn import spawn_main; spawn_main("
	  "tracker_fd=5, pipe_handle=7)|--multiprocessing-fork", DISCOVER_NO, "" },
	/* multiprocessing helpers of a server: never */
	{ "/usr/bin/python3|-c|from multiprocessing.resource_tracker import main;main(4)",
	  DISCOVER_NEVER, "" },
	{ "/usr/bin/python3|-m|multiprocessing.forkserver", DISCOVER_NEVER, "" },
	/* not servers */
	{ "/usr/bin/python3|app.py", DISCOVER_NO, "" },
	{ "/usr/bin/python3|-m|http.server", DISCOVER_NO, "" },
	{ "/usr/bin/python3|-c|import uvicorn", DISCOVER_NO, "" },
	{ "/usr/bin/python3|-m|pytest|tests/test_uvicorn.py", DISCOVER_NO, "" },
	{ "/usr/bin/python3|-X|uvicorn|app.py", DISCOVER_NO, "" },
	{ "/usr/sbin/nginx|-g|daemon off;", DISCOVER_NO, "" },
	{ "/bin/uvicornish", DISCOVER_NO, "" },
	{ "bash|-c|uvicorn main:app", DISCOVER_NO, "" },
	{ "", DISCOVER_NO, "" },
	{ "python3|-m", DISCOVER_NO, "" },
	{ "python3|-W", DISCOVER_NO, "" },
	/* daphne and granian take an app spec too */
	{ "/usr/bin/python3|-m|daphne|-b|127.0.0.1|-p|8000|svc.asgi:app", DISCOVER_SERVER,
	  "svc.asgi:app" },
	{ "/usr/bin/python3|/usr/bin/daphne|svc.asgi:application", DISCOVER_SERVER,
	  "svc.asgi:application" },
	{ "/usr/bin/python3.12|/usr/local/bin/granian|--interface|asgi|main:app", DISCOVER_SERVER,
	  "main:app" },
};

/* discover__program: the name of a Python program without an app spec. */
static const struct {
	const char *cmdline, *program;
} programs[] = {
	{ "/usr/bin/python3|/srv/app/main.py|--port|8000", "main.py" },
	{ "python3.14|-u|-m|pkg.serve", "pkg.serve" },
	{ "python3|-mpkg", "pkg" },
	{ "/usr/bin/python3|-m|daphne|-b|127.0.0.1|svc.asgi:app", "daphne" },
	{ "/usr/bin/python3|-c|import time; time.sleep(9)", "" },
	{ "/usr/bin/python3|-X|dev", "" },
	{ "/bin/sh|-c|exec python3 main.py", "" },
	{ "", "" },
};

/* cmdline with '|' for the NULs, in args: its length as /proc has it. */
static size_t to_args(const char *cmdline, char *args, size_t sz)
{
	size_t n = strlen(cmdline), j;

	assert_true(n < sz);
	memcpy(args, cmdline, n + 1);
	for (j = 0; j < n; j++)
		if (args[j] == '|')
			args[j] = 0;
	return n ? n + 1 : 0; /* cmdline ends with a NUL after the last argument */
}

static void test_programs(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		char args[256], prog[64];
		size_t n = to_args(programs[i].cmdline, args, sizeof(args));

		discover__program(args, n, prog, sizeof(prog));
		if (strcmp(prog, programs[i].program))
			fail_msg("'%s': program '%s', want '%s'", programs[i].cmdline, prog,
				 programs[i].program);
	}
}

static void test_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char args[1024], service[DISCOVER_SERVICE_MAX];
		size_t n = to_args(cases[i].cmdline, args, sizeof(args));
		enum discover_verdict got;

		got = discover__classify(args, n, service, sizeof(service));
		if (got != cases[i].want || strcmp(service, cases[i].service))
			fail_msg("case %zu '%s': got %d '%s', want %d '%s'", i, cases[i].cmdline,
				 got, service, cases[i].want, cases[i].service);
	}
}

/* No NUL at the end, arguments longer than the buffer, a tiny service buffer. */
static void *parked(void *arg)
{
	pthread_barrier_t *b = arg;

	pthread_barrier_wait(b); /* started */
	pthread_barrier_wait(b); /* listed */
	return NULL;
}

/* procfs__threads on this process: its 4 threads, and a max below that. */
static void test_threads(void **state)
{
	pthread_barrier_t b;
	pthread_t th[3];
	pid_t tids[8];
	size_t n, i;
	int k;

	(void)state;
	pthread_barrier_init(&b, NULL, 4);
	for (k = 0; k < 3; k++)
		assert_int_equal(pthread_create(&th[k], NULL, parked, &b), 0);
	pthread_barrier_wait(&b);
	assert_int_equal(procfs__threads(getpid(), tids, 8, &n), 0);
	assert_int_equal(n, 4);
	for (i = 0; i < n && tids[i] != getpid(); i++)
		;
	assert_true(i < n); /* the main thread's tid is the pid */
	/* more than max: the count says so (max + 1), only max are written */
	tids[2] = -1;
	assert_int_equal(procfs__threads(getpid(), tids, 2, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(tids[2], -1);
	assert_int_equal(procfs__threads(getpid(), tids, 0, &n), 0);
	assert_int_equal(n, 1);
	pthread_barrier_wait(&b);
	for (k = 0; k < 3; k++)
		pthread_join(th[k], NULL);
	pthread_barrier_destroy(&b);
	assert_int_equal(procfs__threads(999999999, tids, 8, &n), -ENOENT);
}

/* Lines as the kernel prints them, and what a listener parse gives. */
static const struct {
	bool unix_table;
	const char *line;
	int ret;
	unsigned long long inode;
	const char *addr;
} listener_lines[] = {
	{ false, "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0"
		 "        0 63 1 00000000d568654c 100 0 0 10 0", 0, 63, "127.0.0.1:8000" },
	{ false, "   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000"
		 "        0 4242 1 0 100 0 0 10 0", 0, 4242, "0.0.0.0:2024" },
	/* an established connection: not a listener */
	{ false, "   2: 0100007F:1F40 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0"
		 "        0 64 1 0 20 4 30 10 -1", -1, 0, NULL },
	/* IPv6 ::1 port 443 */
	{ false, "   0: 00000000000000000000000001000000:01BB 00000000000000000000000000000000:0000"
		 " 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0 100 0 0 10 0",
	  0, 77, "[::1]:443" },
	/* the header, a short line, garbage, a port out of range, inode 0 */
	{ false, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
		 "  timeout inode", -1, 0, NULL },
	{ false, "   0: 0100007F:1F40", -1, 0, NULL },
	{ false, "   0: zzzz:1F40 00000000:0000 0A a b c d e 5", -1, 0, NULL },
	{ false, "   0: 0100007F:1FFFFF 00000000:0000 0A a b c d e 5", -1, 0, NULL },
	{ false, "   0: 0100007F:1F40 00000000:0000 0A a b c d e 0", -1, 0, NULL },
	/* unix: a listening stream socket with a path, abstract, unnamed, not listening */
	{ true, "0000000089bd78a6: 00000002 00000000 00010000 0001 01 31337 /run/app.sock", 0,
	  31337, "unix:/run/app.sock" },
	{ true, "0000000089bd78a6: 00000002 00000000 00010000 0005 01 9 @abstract", 0, 9,
	  "unix:@abstract" },
	{ true, "0000000089bd78a6: 00000002 00000000 00010000 0001 01 10", 0, 10, "unix:" },
	{ true, "0000000089bd78a6: 00000003 00000000 00000000 0001 03 60 /run/x", -1, 0, NULL },
	/* a path with control bytes and non-ASCII: replaced */
	{ true, "0: 2 0 00010000 0001 01 11 /tmp/a\033[2Jb\xc3\xa9", 0, 11, "unix:/tmp/a?[2Jb??" },
	{ true, "Num       RefCount Protocol Flags    Type St Inode Path", -1, 0, NULL },
};

static void test_listener_lines(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(listener_lines) / sizeof(listener_lines[0]); i++) {
		unsigned long long ino = 0;
		char addr[72] = "";
		int ret = listener_lines[i].unix_table ?
			  procfs__parse_unix_line(listener_lines[i].line, &ino, addr, sizeof(addr)) :
			  procfs__parse_tcp_line(listener_lines[i].line, &ino, addr, sizeof(addr));

		assert_int_equal(ret, listener_lines[i].ret);
		if (ret)
			continue;
		assert_int_equal(ino, listener_lines[i].inode);
		assert_string_equal(addr, listener_lines[i].addr);
	}
}

/* A TCP and a Unix socket that listen, and one of each that does not. */
static void test_listeners_of_this_process(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct procfs_listener l[8];
	socklen_t len = sizeof(in);
	int t1 = socket(AF_INET, SOCK_STREAM, 0), t2 = socket(AF_INET, SOCK_STREAM, 0);
	int u1 = socket(AF_UNIX, SOCK_STREAM, 0), u2 = socket(AF_UNIX, SOCK_STREAM, 0);
	char want[64];
	size_t n, i;
	bool tcp = false, unx = false;

	(void)state;
	snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "st-test-%d", getpid());
	assert_true(t1 >= 0 && t2 >= 0 && u1 >= 0 && u2 >= 0);
	assert_int_equal(procfs__listeners(getpid(), l, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(bind(t1, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(getsockname(t1, (struct sockaddr *)&in, &len), 0);
	assert_int_equal(listen(t1, 4), 0);
	assert_int_equal(bind(u1, (struct sockaddr *)&un,
			      offsetof(struct sockaddr_un, sun_path) + 1 + strlen(un.sun_path + 1)), 0);
	assert_int_equal(listen(u1, 4), 0);
	assert_int_equal(procfs__listeners(getpid(), l, 8, &n), 0);
	assert_int_equal(n, 2);
	snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(in.sin_port));
	for (i = 0; i < n; i++) {
		tcp |= !strcmp(l[i].addr, want);
		unx |= !strncmp(l[i].addr, "unix:@st-test-", 14);
	}
	assert_true(tcp && unx);
	/* max 1: one written, both counted */
	assert_int_equal(procfs__listeners(getpid(), l, 1, &n), 0);
	assert_int_equal(n, 2);
	close(t1);
	close(t2);
	close(u1);
	close(u2);
	assert_int_equal(procfs__listeners(getpid(), l, 8, &n), 0);
	assert_int_equal(n, 0);
}

/* A process's state: running here; a zombie once it has exited unwaited. */
static void test_stat_state(void **state)
{
	struct procfs_stat ps;
	pid_t kid;

	(void)state;
	assert_int_equal(procfs__stat(getpid(), &ps), 0);
	assert_int_equal(ps.state, 'R');
	assert_int_equal(ps.ppid, getppid());
	kid = fork();
	assert_true(kid >= 0);
	if (!kid)
		_exit(0);
	do {
		assert_int_equal(procfs__stat(kid, &ps), 0);
	} while (ps.state != 'Z' && (usleep(1000), true));
	assert_int_equal(ps.ppid, getpid());
	waitpid(kid, NULL, 0);
	assert_int_equal(procfs__stat(kid, &ps), -ENOENT);
}

static void test_bounds(void **state)
{
	static char big[10000];
	char service[8];

	memset(big, 'x', sizeof(big));
	assert_int_equal(discover__classify(big, sizeof(big), service, sizeof(service)),
			 DISCOVER_NO);
	memcpy(big, "python3\0-m\0uvicorn\0verylongmodule:app", 38);
	assert_int_equal(discover__classify(big, 38, service, sizeof(service)), DISCOVER_SERVER);
	assert_string_equal(service, "very\xe2\x80\xa6"); /* cut at its bound, and marked (issue 26) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_programs),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_listener_lines),
		cmocka_unit_test(test_listeners_of_this_process),
		cmocka_unit_test(test_stat_state),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests_name("discover", tests, NULL, NULL);
}
