/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One traced process: its interpreter file, CPython version and layout, the
 * addresses the BPF program needs, and a cache of symbolized code objects.
 */
#ifndef ST_TARGET_H
#define ST_TARGET_H
#include <linux/types.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "sessiontrace.h"

struct bpf_link;

struct frame_info {
	const char *function; /* co_qualname; owned by the target's cache */
	const char *file;
	int line;             /* -1: unknown */
};

struct target {
	pid_t pid;                     /* in the host's (our) pid namespace */
	pid_t ns_pid;                  /* in its own innermost pid namespace */
	unsigned long long start_time; /* /proc/PID/stat field 22: tells pid reuse apart */
	char interp[PATH_MAX];         /* interpreter file, as mapped in the target */
	char open_path[PATH_MAX + 32]; /* the mapped file itself: /proc/PID/map_files/... */
	dev_t interp_dev;              /* its identity: one uprobe per file */
	ino_t interp_ino;
	char python[16];               /* "3.11.2"; 3.10: from its sys.version */
	char service[128];
	int optimize;                  /* Py_OptimizeFlag: python -O */             /* ASGI app spec ("main:app") or process name */
	unsigned version_hex;          /* major, minor, patch (no release level) */
	const struct st_py_layout *layout; /* = &bpf.layout: headers + _Py_DebugOffsets */
	struct st_target bpf;          /* value of the BPF "targets" map */
	bool raise_ok;                 /* the raise probe can be used: */
	const char *raise_func;        /* symbol for the raise probe, or NULL: */
	uint64_t raise_offset;         /* then its file offset */
	char raise_why[PATH_MAX + 160]; /* else why not */
	bool assert_ok;                /* the assert probe can be used: */
	int assert_site;               /* enum assert_site_kind (user/opcodes.h) */
	uint64_t assert_offset;        /* file offset of its site */
	uint64_t assert_set_object;    /* do_raise's _PyErr_SetObject (vaddr), or 0 */
	char assert_why[256];          /* else why not */
	bool attached;                 /* in the targets map (probe.c) */
	bool exited;                   /* its pidfd said so (main.c) */
	int pidfd;
	struct code_cache *codes;
	unsigned long long code_evictions; /* times the code cache started over */
};

/*
 * Resolve everything needed to trace pid. On failure returns -errno and
 * writes one human-readable sentence into err.
 */
int target__new(pid_t pid, struct target **out, char *err, size_t errsz);
void target__free(struct target *t);
/*
 * Symbolize one frame; never fails (unknowns become "?" and -1). The strings
 * stay valid until target__event_end(): the code cache evicts only between
 * events, never under the frames of the one being reported.
 */
void target__frame(struct target *t, const struct st_frame *f, struct frame_info *out);
/* The current event is done with its frames: the cache may evict now. */
void target__event_end(struct target *t);
/* true while the same process (not a reused pid) is alive. */
bool target__alive(const struct target *t);
/* Assert probe: move the top frame from LOAD_ASSERTION_ERROR to its raise. */
void target__assert_raise_site(struct target *t, struct st_frame *f);

#endif
