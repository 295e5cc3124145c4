// SPDX-License-Identifier: BSD-2-Clause
/*
 * Command lines of real deployments (as /proc/PID/cmdline holds them) and
 * what discovery makes of them. Arguments are separated by '|' here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>
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
};

static void test_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char args[1024], service[DISCOVER_SERVICE_MAX];
		size_t n = strlen(cases[i].cmdline), j;
		enum discover_verdict got;

		memcpy(args, cases[i].cmdline, n + 1);
		for (j = 0; j < n; j++)
			if (args[j] == '|')
				args[j] = 0;
		/* cmdline ends with a NUL after the last argument */
		got = discover__classify(args, n ? n + 1 : 0, service, sizeof(service));
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

static void test_bounds(void **state)
{
	static char big[10000];
	char service[8];

	memset(big, 'x', sizeof(big));
	assert_int_equal(discover__classify(big, sizeof(big), service, sizeof(service)),
			 DISCOVER_NO);
	memcpy(big, "python3\0-m\0uvicorn\0verylongmodule:app", 38);
	assert_int_equal(discover__classify(big, 38, service, sizeof(service)), DISCOVER_SERVER);
	assert_string_equal(service, "verylon");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests_name("discover", tests, NULL, NULL);
}
