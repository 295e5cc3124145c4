// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "discover/procfs.h"
#include "discover/sockdiag.h"

/* Opens /proc/PID/<name>; NULL and errno when it cannot. */
static FILE *proc_open(pid_t pid, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return fopen(path, "re");
}

int procfs__stat(pid_t pid, struct procfs_stat *out)
{
	char buf[1024], *p;
	FILE *f = proc_open(pid, "stat");
	size_t n;
	int field;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* comm may hold spaces and ')': the fields resume after the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %d", &out->state, &out->ppid) != 2)
		return -EINVAL;
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	out->start_time = strtoull(p + 1, NULL, 10);
	return 0;
}

int procfs__cmdline(pid_t pid, char *args, size_t argsz, size_t *len)
{
	FILE *f = proc_open(pid, "cmdline");

	if (!f)
		return -errno;
	*len = fread(args, 1, argsz, f);
	fclose(f);
	return 0;
}

void procfs__comm(pid_t pid, char *buf, size_t sz)
{
	FILE *f = proc_open(pid, "comm");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, sz, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

int procfs__children(pid_t pid, pid_t *kids, size_t max, size_t *n)
{
	char path[64];
	long v;
	FILE *f;

	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (*n < max && fscanf(f, "%ld", &v) == 1)
		if (v > 0 && v <= INT_MAX)
			kids[(*n)++] = (pid_t)v;
	fclose(f);
	return 0;
}

int procfs__uid(pid_t pid, uid_t *uid)
{
	char path[32];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (stat(path, &sb))
		return -errno;
	*uid = sb.st_uid;
	return 0;
}

int procfs__exe(pid_t pid, char *path, size_t pathsz)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, path, pathsz - 1);
	if (n < 0)
		return -errno;
	path[n] = 0;
	return 0;
}

pid_t procfs__ns_pid(pid_t pid)
{
	FILE *f = proc_open(pid, "status");
	char line[256];
	pid_t ns = pid;

	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f)) {
		char *p, *last, *save;

		if (strncmp(line, "NSpid:", 6))
			continue;
		last = NULL;
		for (p = strtok_r(line + 6, " \t\n", &save); p; p = strtok_r(NULL, " \t\n", &save))
			last = p;
		if (last)
			ns = (pid_t)strtol(last, NULL, 10);
		break;
	}
	fclose(f);
	return ns;
}

static bool is_libpython(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libpython", 9) && strstr(base, ".so");
}

int procfs__interpreter(pid_t pid, char *path, size_t pathsz, uint64_t *start, uint64_t *end)
{
	char line[PATH_MAX + 128], exe[PATH_MAX];
	uint64_t exe_start = 0, exe_end = 0;
	bool have_lib = false;
	int err = procfs__exe(pid, exe, sizeof(exe));
	FILE *f;

	if (err)
		return err;
	f = proc_open(pid, "maps");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, off;
		char perms[8];
		int pos = 0;
		char *file;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &lo, &hi, perms, &off, &pos) < 4 ||
		    !pos)
			continue;
		file = line + pos;
		file[strcspn(file, "\n")] = 0;
		if (file[0] != '/' || off != 0)
			continue;
		if (is_libpython(file) && !have_lib) {
			snprintf(path, pathsz, "%s", file);
			*start = lo;
			*end = hi;
			have_lib = true;
		} else if (!strcmp(file, exe) && !exe_start) {
			exe_start = lo;
			exe_end = hi;
		}
	}
	fclose(f);
	if (have_lib)
		return 0;
	if (!exe_start)
		return -ENOENT;
	snprintf(path, pathsz, "%s", exe);
	*start = exe_start;
	*end = exe_end;
	return 0;
}

int procfs__threads(pid_t pid, pid_t *tids, size_t max, size_t *n)
{
	struct dirent *de;
	char path[64];
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	*n = 0;
	while (*n <= max && (de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (*end || v <= 0 || v > INT_MAX)
			continue;
		if (*n < max)
			tids[*n] = (pid_t)v;
		(*n)++;
	}
	closedir(d);
	return 0;
}

/* "0100007F:1F40" (IPv4) or 32 hex digits and a port (IPv6), as the kernel prints them. */
static int inet_addr(const char *hex, char *out, size_t outsz)
{
	const char *colon = strchr(hex, ':');
	size_t hl = colon ? (size_t)(colon - hex) : 0;
	uint32_t w[4];
	unsigned port, i;
	char *end;

	if (hl != 8 && hl != 32)
		return -1;
	port = strtoul(colon + 1, &end, 16);
	if (end == colon + 1 || *end || port > 0xffff)
		return -1;
	for (i = 0; i < hl / 8; i++) {
		char word[9];

		memcpy(word, hex + 8 * i, 8);
		word[8] = 0;
		w[i] = strtoul(word, &end, 16);
		if (*end)
			return -1;
	}
	/* each 32-bit word is the address's bytes in host order: as in memory */
	sockdiag__format(hl == 8 ? AF_INET : AF_INET6, w, port, out, outsz);
	return 0;
}

int procfs__parse_tcp_line(const char *line, unsigned long long *inode, char *addr, size_t addrsz)
{
	char local[80], st[8];
	unsigned long long ino;

	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
	if (sscanf(line, " %*s %79s %*s %7s %*s %*s %*s %*s %*s %llu", local, st, &ino) != 3)
		return -1;
	if (strcmp(st, "0A") || !ino || inet_addr(local, addr, addrsz))
		return -1; /* TCP_LISTEN is 10 */
	*inode = ino;
	return 0;
}

int procfs__parse_unix_line(const char *line, unsigned long long *inode, char *addr,
			    size_t addrsz)
{
	unsigned long flags;
	unsigned long long ino;
	int pos = 0;
	const char *p;

	/* Num RefCount Protocol Flags Type St Inode [Path] */
	if (sscanf(line, " %*s %*s %*s %lx %*s %*s %llu%n", &flags, &ino, &pos) != 2 || !pos)
		return -1;
	if (!(flags & 0x10000) || !ino) /* __SO_ACCEPTCON: listen() was called */
		return -1;
	*inode = ino;
	for (p = line + pos; *p == ' '; p++)
		;
	sockdiag__unix_addr(p, strcspn(p, "\n"), addr, addrsz);
	return 0;
}

/* The socket inodes among pid's descriptors (at most max): how many, or -errno. */
static int socket_inodes(pid_t pid, unsigned long long *ino, size_t max)
{
	char path[64], link[64];
	struct dirent *de;
	size_t n = 0, seen = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && seen < PROCFS_FDS_MAX && n < max) {
		ssize_t l;

		if (de->d_name[0] == '.')
			continue;
		seen++;
		l = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (!strncmp(link, "socket:[", 8))
			ino[n++] = strtoull(link + 8, NULL, 10);
	}
	closedir(d);
	return (int)n;
}

/* Lines of /proc/PID/net/NAME that parse as listeners whose inode is in ino[]. */
static void match_table(pid_t pid, const char *name,
			int (*parse)(const char *, unsigned long long *, char *, size_t),
			const unsigned long long *ino, size_t nino, struct procfs_listener *out,
			size_t max, size_t *n)
{
	char line[512], rel[32];
	size_t lines = 0, i;
	FILE *f;

	snprintf(rel, sizeof(rel), "net/%s", name);
	f = proc_open(pid, rel);
	if (!f)
		return;
	while (lines++ < PROCFS_LINES_MAX && fgets(line, sizeof(line), f)) {
		struct procfs_listener l;
		size_t len = strlen(line);

		/* the rest of a line longer than the buffer (a long unix path) is skipped */
		while (len && line[len - 1] != '\n' && fgets(rel, sizeof(rel), f))
			if (strchr(rel, '\n'))
				break;
		if (parse(line, &l.inode, l.addr, sizeof(l.addr)))
			continue;
		for (i = 0; i < nino; i++)
			if (ino[i] == l.inode)
				break;
		if (i == nino)
			continue;
		if (*n < max)
			out[*n] = l;
		(*n)++;
	}
	fclose(f);
}

int procfs__listeners(pid_t pid, struct procfs_listener *out, size_t max, size_t *n)
{
	unsigned long long *ino = malloc(PROCFS_SOCKS_MAX * sizeof(*ino));
	int k, fd, ret;

	*n = 0;
	if (!ino)
		return -ENOMEM;
	k = socket_inodes(pid, ino, PROCFS_SOCKS_MAX);
	if (k > 0 && (fd = sockdiag__open(pid)) >= 0) {
		ret = sockdiag__listeners(fd, ino, k, out, max, n);
		close(fd);
		if (!ret)
			goto out;
		*n = 0; /* the tables, then */
	}
	if (k > 0) {
		match_table(pid, "tcp", procfs__parse_tcp_line, ino, k, out, max, n);
		match_table(pid, "tcp6", procfs__parse_tcp_line, ino, k, out, max, n);
		match_table(pid, "unix", procfs__parse_unix_line, ino, k, out, max, n);
	}
out:
	free(ino);
	return k < 0 ? k : 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int procfs__scan(int (*fn)(pid_t pid, void *ctx), void *ctx)
{
	pid_t *pids = NULL, *grown;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d = opendir("/proc");
	int ret = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (*end || v <= 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(pids, cap * sizeof(*pids));
			if (!grown) {
				ret = -ENOMEM;
				goto cleanup;
			}
			pids = grown;
		}
		pids[n++] = (pid_t)v;
	}
	qsort(pids, n, sizeof(*pids), cmp_pid);
	for (i = 0; i < n && !ret; i++)
		ret = fn(pids[i], ctx);
cleanup:
	closedir(d);
	free(pids);
	return ret < 0 ? ret : 0;
}
