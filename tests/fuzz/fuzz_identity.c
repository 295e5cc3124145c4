// SPDX-License-Identifier: BSD-2-Clause
/*
 * identity__from_cgroup() (user/discover/identity.c), which the privileged
 * parent runs on /proc/PID/cgroup, a text the process's owner shapes: on
 * arbitrary bytes it never reads outside them, and what it keeps is a
 * container id of 64 lower-case hex digits, a known runtime, a pod UID in
 * 8-4-4-4-12 form, or nothing; never a hostname. Seeds: this host's cgroup
 * files and the kubelet's names (tests/fuzz/seeds.py).
 */
#include "fuzz_common.h"
#include "discover/identity.h"

static int lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity id;
	char *buf = malloc(size ? size : 1); /* exact size: ASan sees a read past it */
	size_t i;

	FUZZ_CHECK(buf, "malloc");
	memcpy(buf, data, size);
	memset(&id, 0x5a, sizeof(id));
	identity__from_cgroup(buf, size, &id);
	FUZZ_CHECK(!id.hostname[0], "a hostname from a cgroup file");
	FUZZ_CHECK(!id.container_id[0] || strlen(id.container_id) == IDENTITY_ID_LEN,
		   "container id of %zu bytes", strlen(id.container_id));
	for (i = 0; id.container_id[i]; i++)
		FUZZ_CHECK(lower_hex(id.container_id[i]), "byte 0x%02x in a container id",
			   (unsigned char)id.container_id[i]);
	FUZZ_CHECK(!id.runtime[0] || !strcmp(id.runtime, "containerd") ||
		   !strcmp(id.runtime, "cri-o") || !strcmp(id.runtime, "docker") ||
		   !strcmp(id.runtime, "podman"), "runtime '%.15s'", id.runtime);
	FUZZ_CHECK(!id.pod_uid[0] || strlen(id.pod_uid) == IDENTITY_UID_LEN,
		   "pod UID of %zu bytes", strlen(id.pod_uid));
	for (i = 0; id.pod_uid[i]; i++)
		FUZZ_CHECK(i == 8 || i == 13 || i == 18 || i == 23 ? id.pod_uid[i] == '-' :
			   lower_hex(id.pod_uid[i]), "byte 0x%02x in a pod UID",
			   (unsigned char)id.pod_uid[i]);
	free(buf);
	return 0;
}
