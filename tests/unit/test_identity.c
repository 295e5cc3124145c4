// SPDX-License-Identifier: BSD-2-Clause
/*
 * Container and pod identity from /proc/PID/cgroup (user/discover/identity.c):
 * the kubelet's and the runtimes' names, both cgroup drivers, v1 and v2
 * files, a reader's private cgroup namespace, and what is not an id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "discover/identity.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
#define UID_ "1b2c3d4e_5f60_4a7b_8c9d_0e1f2a3b4c5d"

static const struct {
	const char *text, *id, *runtime, *uid;
} rows[] = {
	/* systemd driver, cgroup v2 */
	{ "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/"
	  "cri-containerd-" ID ".scope\n", ID, "containerd", UID },
	{ "0::/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID ".scope\n", ID, "cri-o", UID },
	{ "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/"
	  "docker-" ID ".scope\n", ID, "docker", UID },
	/* CRI-O's conmon is not the container */
	{ "0::/kubepods.slice/kubepods-pod" UID_ ".slice/crio-conmon-" ID ".scope\n", "", "", UID },
	/* cgroupfs driver */
	{ "0::/kubepods/burstable/pod" UID "/" ID "\n", ID, "", UID },
	{ "0::/kubepods/pod" UID "/" ID "\n", ID, "", UID },
	/* cgroup v1: a line per hierarchy; the first that names one */
	{ "12:pids:/kubepods/besteffort/pod" UID "/" ID "\n"
	  "11:memory:/kubepods/besteffort/pod" UID "/" ID "\n1:name=systemd:/\n", ID, "", UID },
	{ "5:cpu,cpuacct:/\n4:memory:/docker/" ID "\n", ID, "docker", "" },
	/* the unified line wins over v1 lines that say otherwise */
	{ "4:memory:/docker/" ID2 "\n0::/system.slice/docker-" ID ".scope\n", ID, "docker", "" },
	/* seen from a private cgroup namespace */
	{ "0::/../../kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/cri-containerd-" ID ".scope\n", ID, "containerd", UID },
	{ "0::/../../../kubepods/burstable/pod" UID "/" ID "\n", ID, "", UID },
	/* podman */
	{ "0::/machine.slice/libpod-" ID ".scope/container\n", ID, "podman", "" },
	/* nothing: a host process, a user session, garbage */
	{ "0::/user.slice/user-0.slice/session-3.scope\n", "", "", "" },
	{ "0::/\n", "", "", "" },
	{ "", "", "", "" },
	{ "0::/kubepods/pod" UID "x/" ID "\n", "", "", "" },          /* a UID too long */
	/* a bad character late in a UID keeps nothing of it (found by fuzz_identity) */
	{ "0::/kubepods.slice/kubepods-pod1b2c3d4e_5f60_4a7b_8c9d_0e1fAa3b4c5d.slice/crio-" ID
	  ".scope\n", ID, "cri-o", "" },
	{ "0::/kubepods/pod1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5/" ID "\n", "", "", "" },
	{ "0::/system.slice/docker-" ID "0.scope\n", "", "", "" },   /* 65 digits */
	{ "0::/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
	  ".scope\n", "", "", "" },                                     /* upper case */
	{ "0::/some/" ID "\n", "", "", "" },                           /* an id, but under what? */
	{ "garbage without colons\n::\n0:\n", "", "", "" },
	{ "0::/kubepods/burstable/pod" UID "/" ID, ID, "", UID },     /* no newline at the end */
};

static void test_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct identity id;

		memset(&id, 0x5a, sizeof(id));
		identity__from_cgroup(rows[i].text, strlen(rows[i].text), &id);
		if (strcmp(id.container_id, rows[i].id) || strcmp(id.runtime, rows[i].runtime) ||
		    strcmp(id.pod_uid, rows[i].uid) || id.hostname[0])
			fail_msg("row %zu: id '%s' runtime '%s' uid '%s' host '%s'", i, id.container_id,
				 id.runtime, id.pod_uid, id.hostname);
	}
}

/* Lengths, not NULs, bound the text: a cut in the middle of an id is no id. */
static void test_bounded(void **state)
{
	const char *text = "0::/kubepods/burstable/pod" UID "/" ID "\n";
	struct identity id;
	size_t n;

	for (n = 0; n < strlen(text); n++) {
		identity__from_cgroup(text, n, &id);
		if (n < strlen(text) - 1 && id.container_id[0])
			fail_msg("cut at %zu: id '%s'", n, id.container_id);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
