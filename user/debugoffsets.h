/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CPython 3.13+ publishes its own struct offsets in _Py_DebugOffsets, the
 * first member of _PyRuntime. We check our generated layout against them
 * before trusting it on a target.
 */
#ifndef ST_DEBUGOFFSETS_H
#define ST_DEBUGOFFSETS_H
#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "sessiontrace.h"

/*
 * Compare layout L with the _Py_DebugOffsets at runtime_addr in pid.
 * Returns the number of fields compared (> 0), or -errno with one sentence in
 * err: -ENOTSUP when this version has no known _Py_DebugOffsets definition,
 * -EPROTO on a mismatch or a bad cookie/version.
 */
int debugoffsets__check(pid_t pid, uint64_t runtime_addr, unsigned version_hex,
			const struct st_py_layout *L, char *err, size_t errsz);

#endif
