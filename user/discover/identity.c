// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "discover/identity.h"
#include "util/ascii.h"
#include "util/log.h"

#define CGROUP_TEXT_MAX 8192 /* of /proc/PID/cgroup: a line per v1 hierarchy, then "0::" */

/* s[0..n) is a container id: 64 lowercase hex digits. */
static bool container_id(const char *s, size_t n)
{
	return n == IDENTITY_ID_LEN && ascii__lower_hex_n(s, n);
}

/* s[0..n) is a pod UID, with '-' or (systemd) '_' between its groups: into out, only then. */
static bool pod_uid(const char *s, size_t n, char out[IDENTITY_UID_LEN + 1])
{
	size_t i;

	if (n != IDENTITY_UID_LEN)
		return false;
	for (i = 0; i < n; i++) {
		bool sep = i == 8 || i == 13 || i == 18 || i == 23;

		if (sep ? (s[i] != '-' && s[i] != '_') : !ascii__lower_hex(s[i]))
			return false;
	}
	for (i = 0; i < n; i++)
		out[i] = s[i] == '_' ? '-' : s[i];
	out[n] = '\0';
	return true;
}

static bool starts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && !memcmp(s, prefix, k);
}

static bool ends(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && !memcmp(s + n - k, suffix, k);
}

/* One path component c[0..n); parent: the one before it ("" for none). */
static void component(const char *c, size_t n, const char *parent, size_t pn,
		      struct identity *out)
{
	static const struct { const char *prefix, *runtime; } scopes[] = {
		{ "cri-containerd-", "containerd" },
		{ "crio-", "cri-o" },
		{ "docker-", "docker" },
		{ "libpod-", "podman" },
	};
	const char *pod;
	size_t i;

	/* kubepods-burstable-pod<UID>.slice, kubepods-pod<UID>.slice, pod<UID> ("kubepods" is not one) */
	for (pod = c; (pod = memmem(pod, c + n - pod, "pod", 3)); pod += 3) {
		const char *u = pod + 3;
		size_t un = c + n - u;

		if (pod != c && pod[-1] != '-')
			continue;
		if (ends(u, un, ".slice"))
			un -= 6;
		pod_uid(u, un, out->pod_uid);
		break;
	}
	if (ends(c, n, ".scope")) {
		for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
			size_t k = strlen(scopes[i].prefix);

			if (starts(c, n, scopes[i].prefix) && container_id(c + k, n - k - 6)) {
				memcpy(out->container_id, c + k, IDENTITY_ID_LEN);
				out->container_id[IDENTITY_ID_LEN] = '\0';
				snprintf(out->runtime, sizeof(out->runtime), "%s", scopes[i].runtime);
				return;
			}
		}
		return;
	}
	/* cgroupfs driver: the bare id, under a pod or under docker */
	if (container_id(c, n) &&
	    (out->pod_uid[0] || (pn == 6 && !memcmp(parent, "docker", 6)))) {
		memcpy(out->container_id, c, IDENTITY_ID_LEN);
		out->container_id[IDENTITY_ID_LEN] = '\0';
		snprintf(out->runtime, sizeof(out->runtime), "%s", out->pod_uid[0] ? "" : "docker");
	}
}

/* One cgroup path p[0..n): what its components say, innermost last. */
static void from_path(const char *p, size_t n, struct identity *out)
{
	const char *end = p + n, *parent = "";
	size_t pn = 0;

	while (p < end) {
		const char *slash = memchr(p, '/', end - p), *c = p;
		size_t cn = (slash ? slash : end) - p;

		if (cn && !(cn == 2 && !memcmp(c, "..", 2))) {
			component(c, cn, parent, pn, out);
			parent = c;
			pn = cn;
		}
		p = slash ? slash + 1 : end;
	}
}

void identity__from_cgroup(const char *text, size_t len, struct identity *out)
{
	const char *p = text, *end = text + len;
	struct identity best = { 0 };
	bool have = false, have_unified = false;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p), *line_end = nl ? nl : end;
		const char *c1 = memchr(p, ':', line_end - p);
		const char *c2 = c1 ? memchr(c1 + 1, ':', line_end - c1 - 1) : NULL;
		struct identity one = { 0 };
		bool unified = c1 == p + 1 && *p == '0' && c2 == c1 + 1;

		if (c2 && c2 + 1 < line_end && c2[1] == '/') {
			from_path(c2 + 1, line_end - c2 - 1, &one);
			/* the unified hierarchy ("0::") first, else the first v1 line that says */
			if ((one.container_id[0] || one.pod_uid[0]) &&
			    (unified ? !have_unified : !have)) {
				best = one;
				have = true;
				have_unified = unified;
			}
		}
		p = nl ? nl + 1 : end;
	}
	memcpy(out->container_id, best.container_id, sizeof(out->container_id));
	memcpy(out->runtime, best.runtime, sizeof(out->runtime));
	memcpy(out->pod_uid, best.pod_uid, sizeof(out->pod_uid));
}

struct uts_ctx {
	int fd;
	char name[IDENTITY_HOST_MAX + 1];
	int err;
};

/* On a thread of its own: namespaces are per thread, this one ends here. */
static void *uts_thread(void *arg)
{
	struct uts_ctx *c = arg;
	struct utsname u;

	if (setns(c->fd, CLONE_NEWUTS) || uname(&u)) {
		c->err = errno;
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", u.nodename);
	return NULL;
}

/* The hostname of pid's UTS namespace, when it is not ours; else "". */
static void hostname_of(pid_t pid, char out[IDENTITY_HOST_MAX + 1])
{
	struct uts_ctx c = { .fd = -1 };
	struct stat mine, theirs;
	char path[64];
	pthread_t th;
	char *s;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/ns/uts", pid);
	if (stat("/proc/self/ns/uts", &mine) || stat(path, &theirs) ||
	    (mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino))
		return;
	c.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c.fd < 0)
		return;
	if (pthread_create(&th, NULL, uts_thread, &c) == 0)
		pthread_join(th, NULL);
	else
		c.err = EAGAIN;
	close(c.fd);
	if (c.err) {
		pr_debug("pid %d: no hostname from its UTS namespace: %s\n", pid, strerror(c.err));
		return;
	}
	/* the namespace's owner chose it: only the characters a hostname has */
	for (s = c.name; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			*s = '?';
	snprintf(out, IDENTITY_HOST_MAX + 1, "%s", c.name);
}

void identity__of(pid_t pid, struct identity *out)
{
	char text[CGROUP_TEXT_MAX], path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text)); /* one read: the kernel renders it whole */
		close(fd);
	}
	identity__from_cgroup(text, n > 0 ? (size_t)n : 0, out);
	hostname_of(pid, out->hostname);
}
