/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CPython 3.13+ publishes its own struct offsets in _Py_DebugOffsets, the
 * first member of _PyRuntime (cookie "xdebugpy", version, free_threaded,
 * then uint64_t offsets). Every field the tracer needs that the target
 * publishes is taken from it at attach time; the rest comes from the
 * version's headers (resolve/layouts.inc). Field order per minor version:
 * resolve/debugoffsets.inc, generated from each version's header.
 */
#ifndef ST_DEBUGOFFSETS_H
#define ST_DEBUGOFFSETS_H
#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "sessiontrace.h"

#define DEBUGOFFSETS_MAX_FIELDS 256

/* A _Py_DebugOffsets as read from a target, before it is trusted. */
struct debug_offsets {
	char cookie[8];
	uint64_t version;
	uint64_t free_threaded;
	uint64_t v[DEBUGOFFSETS_MAX_FIELDS];
};

/*
 * Reads the target's _Py_DebugOffsets at runtime_addr and writes every field
 * it publishes into *L (a copy of the headers' layout for that version),
 * recomputing what derives from them. Returns the number of fields taken
 * from the target (> 0), or -errno with one sentence in err: -ENOTSUP when
 * this build has no definition for the version, -EPROTO on a bad cookie,
 * version, free-threaded build or an offset out of range.
 */
int debugoffsets__apply(pid_t pid, uint64_t runtime_addr, unsigned version_hex,
			struct st_py_layout *L, char *err, size_t errsz);
/* The same on a copy already read (fuzzing, tests); the buffer is untrusted. */
int debugoffsets__apply_buf(const struct debug_offsets *d, size_t len, unsigned version_hex,
			    struct st_py_layout *L, char *err, size_t errsz);

#endif
