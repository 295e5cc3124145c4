/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Frames of one traced process to (function, file, line): a cache of the
 * code objects read from it, by address, bounded by entries and bytes.
 */
#ifndef ST_SYMBOLIZER_H
#define ST_SYMBOLIZER_H
#include <linux/types.h>
#include "sessiontrace.h"

struct target;
struct symbolizer;

struct frame_info {
	const char *function; /* co_qualname (3.10: co_name); owned by the symbolizer */
	const char *file;     /* co_filename */
	int line;             /* -1: unknown */
};

/*
 * What the symbolizers of one decoder hold together, and their bound: a
 * symbolizer that finds the pool past its cap at the end of an event starts
 * over, as it does past its own bounds, so all the caches stay under one cap
 * however many processes are traced.
 */
struct symbolizer_pool {
	size_t bytes, cap;
};
#define SYMBOLIZER_POOL_BYTES (24u << 20)

/*
 * A symbolizer for process t (which must outlive it), counting into pool
 * (or only its own bounds: NULL). NULL and errno on failure.
 */
struct symbolizer *symbolizer__new(const struct target *t, struct symbolizer_pool *pool);
void symbolizer__free(struct symbolizer *s);
/*
 * Symbolize one frame; never fails (unknowns become "?" and -1). The strings
 * stay valid until symbolizer__event_end(): the cache evicts only between
 * events, never under the frames of the one being decoded.
 */
void symbolizer__frame(struct symbolizer *s, const struct st_frame *f, struct frame_info *out);
/*
 * Like symbolizer__frame, for the instruction unit code units into the
 * code object at code (what the code bytes read from it index).
 */
void symbolizer__code_at(struct symbolizer *s, __u64 code, unsigned unit,
			 struct frame_info *out);
/* The current event is done with its frames: the cache may evict now. */
void symbolizer__event_end(struct symbolizer *s);
/*
 * The assert probe stops at LOAD_ASSERTION_ERROR; Python's traceback names
 * the RAISE_VARARGS after it. Moves a top frame there when it is one.
 */
void symbolizer__assert_raise_site(struct symbolizer *s, struct st_frame *f);

#endif
