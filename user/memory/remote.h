/* SPDX-License-Identifier: BSD-2-Clause */
/* Reading another process's memory. Everything read is untrusted. */
#ifndef ST_REMOTE_H
#define ST_REMOTE_H
#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 0 when all len bytes were read, -errno otherwise. */
int remote__read(pid_t pid, uint64_t addr, void *buf, size_t len);
int remote__read_u64(pid_t pid, uint64_t addr, __u64 *out);

#endif
