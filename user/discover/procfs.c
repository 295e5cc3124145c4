// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "discover/procfs.h"

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
	if (!p || sscanf(p + 1, " %*c %d", &out->ppid) != 1)
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

bool procfs__exists(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return !access(path, F_OK);
}

static bool is_libpython(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libpython", 9) && strstr(base, ".so");
}

int procfs__interpreter(pid_t pid, char *path, size_t pathsz, uint64_t *start, uint64_t *end)
{
	char link[64], line[PATH_MAX + 128], exe[PATH_MAX];
	uint64_t exe_start = 0, exe_end = 0;
	bool have_lib = false;
	ssize_t n;
	FILE *f;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = 0;
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
