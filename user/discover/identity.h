/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Which container and which Kubernetes pod a process runs in, as node
 * agents tell: from the cgroup path the runtime and the kubelet gave it
 * (/proc/PID/cgroup), and the hostname of its UTS namespace (the pod's
 * name in Kubernetes). No API server is asked: a pod UID on a series joins
 * it to kube-state-metrics' kube_pod_info in PromQL.
 *
 *   systemd driver:  .../kubepods-burstable-pod<UID_with_underscores>.slice/
 *                        cri-containerd-<ID>.scope   (crio-<ID>.scope, docker-<ID>.scope)
 *   cgroupfs driver: /kubepods/burstable/pod<UID>/<ID>
 *   plain docker:    /docker/<ID>, /system.slice/docker-<ID>.scope; podman: libpod-<ID>.scope
 *   a reader in a private cgroup namespace sees /../../..kubepods...
 */
#ifndef ST_IDENTITY_H
#define ST_IDENTITY_H
#include <stddef.h>
#include <sys/types.h>

#define IDENTITY_ID_LEN   64 /* a container id: 64 lowercase hex digits */
#define IDENTITY_UID_LEN  36 /* a pod UID: 8-4-4-4-12 lowercase hex digits */
#define IDENTITY_HOST_MAX 64 /* HOST_NAME_MAX */

struct identity {
	char container_id[IDENTITY_ID_LEN + 1];   /* "" when not in a container */
	char runtime[16];                         /* "containerd", "cri-o", "docker", "podman", "" */
	char pod_uid[IDENTITY_UID_LEN + 1];       /* "" outside a pod */
	char hostname[IDENTITY_HOST_MAX + 1];     /* its UTS namespace's when not ours, else "" */
};

/* From the text of /proc/PID/cgroup (len bytes, untrusted): pure, never fails. */
void identity__from_cgroup(const char *text, size_t len, struct identity *out);
/*
 * pid's identity: its cgroup, and the hostname of its UTS namespace when
 * that is not the tracer's (entering it takes CAP_SYS_ADMIN; without, no
 * hostname). Unknown parts stay "".
 */
void identity__of(pid_t pid, struct identity *out);

#endif
