// SPDX-License-Identifier: BSD-2-Clause
/*
 * A hostile "interpreter" for discovery's flood test and bench, built as
 * python3.12: it exports what a CPython 3.12 binary does (_PyRuntime opening
 * with the debug cookie and a version, Py_Version) over garbage, and listens
 * on a port, so that each check of it goes all the way to the resolver
 * (verdict: not_ready, checked again and again on the schedule).
 *
 *   python3.12 N   (as root) becomes uid/gid 65534, then execs N copies of
 *                  itself at once and waits; each copy listens and waits.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((used)) unsigned long Py_Version = 0x030c04f0;
__attribute__((used)) unsigned char _PyRuntime[65536] = "xdebugpy\xf0\x04\x0c\x03";

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int n = argc > 1 ? atoi(argv[1]) : 0, s, i;

	if (n > 0) {
		if (!geteuid() && (setgid(65534) || setuid(65534)))
			return 1;
		for (i = 0; i < n; i++)
			if (!fork()) {
				execl(argv[0], argv[0], (char *)NULL);
				_exit(1);
			}
		pause();
		return 0;
	}
	memset(_PyRuntime + 16, 0xff, sizeof(_PyRuntime) - 16);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1))
		return 1;
	pause();
	return 0;
}
