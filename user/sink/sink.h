/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where a diagnosed hit goes: one small interface with the JSON records
 * file, the console report and the Prometheus metrics behind it. A sink
 * knows the hit and its diagnosis, nothing of how they were found.
 */
#ifndef ST_SINK_H
#define ST_SINK_H
#include <stdio.h>

struct hit;
struct diagnosis;
struct limit_summary;
struct jsonlog_files;
struct target;
struct inspection;

struct sink {
	/* Take one hit: 0, or -errno when this sink could not (it says so itself). */
	int (*emit)(struct sink *s, const struct hit *h, const struct diagnosis *dg);
	/*
	 * A sink that writes records has this: under a storm (limit.h) it gets
	 * the hits past the rate as summaries, not one by one. NULL: it gets
	 * every hit (the metrics).
	 */
	void (*summary)(struct sink *s, const struct limit_summary *sum);
	/*
	 * What inspect finds in process t, just traced (and again on SIGHUP):
	 * the reads that will fail before any request does; may be NULL.
	 */
	void (*predict)(struct sink *s, const struct target *t, const struct inspection *in);
	/* SIGHUP: reopen what it writes to (logrotate); may be NULL. */
	int (*reopen)(struct sink *s);
	/* Its files are opened and rotated by files from now on (jsonlog.h); may be NULL. */
	void (*delegate)(struct sink *s, const struct jsonlog_files *files);
	/* After a clean run of `records` records: its last words on stderr; may be NULL. */
	void (*finish)(struct sink *s, unsigned long long records);
	void (*free)(struct sink *s);
};

/* The console report (stdout): human text, safe for a terminal. NULL: out of memory. */
struct sink *console_sink__new(FILE *out);
/*
 * The JSON records file: one object per line, appended (jsonlog.h: created
 * 0600, rotated past max_size keeping `keep` files). NULL with a sentence
 * in err when it cannot be opened.
 */
struct sink *record_sink__new(const char *path, unsigned long long max_size, unsigned keep,
			      char *err, size_t errsz);

static inline int sink__emit(struct sink *s, const struct hit *h, const struct diagnosis *dg)
{
	return s->emit(s, h, dg);
}

static inline void sink__free(struct sink *s)
{
	if (s)
		s->free(s);
}

#endif
