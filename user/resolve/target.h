/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One process resolved for tracing: its interpreter file, CPython version
 * and layout, the addresses the BPF program needs, and where each probe can
 * go. Written only here; the other stages read it.
 */
#ifndef ST_TARGET_H
#define ST_TARGET_H
#include <linux/types.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "sessiontrace.h"
#include "discover/identity.h"
#include "resolve/elfcache.h"

/* Where a process's interpreter is: what /proc says (target__locate). */
struct target_loc {
	pid_t pid, ns_pid;
	unsigned long long start_time;
	char interp[PATH_MAX];         /* as mapped in the target */
	uint64_t map_start, map_end;   /* its mapping at file offset 0 */
	struct elfcache_key file;      /* the file opened (fstat): what is parsed, its identity */
};

struct target {
	pid_t pid;                     /* in the host's (our) pid namespace */
	pid_t ns_pid;                  /* in its own innermost pid namespace */
	unsigned long long start_time; /* /proc/PID/stat field 22: tells pid reuse apart */
	char interp[PATH_MAX];         /* interpreter file, as mapped in the target */
	int fd;                        /* the interpreter file parsed, on the attaching side; -1 */
	char open_path[PATH_MAX + 32]; /* that descriptor, to attach to: /proc/self/fd/N */
	char python[16];               /* "3.11.2"; 3.10: from its sys.version */
	char service[128];             /* ASGI app spec ("main:app") or process name */
	struct identity id;            /* its container, pod and hostname (discover/identity.h) */
	int optimize;                  /* Py_OptimizeFlag: python -O */
	__u64 cell_type;               /* &PyCell_Type, 0: unknown (cells found by tp_name) */
	unsigned version_hex;          /* major, minor, patch (no release level) */
	const struct st_py_layout *layout; /* = &bpf.layout: headers + _Py_DebugOffsets */
	struct st_target bpf;          /* value of the BPF "targets" map */
	bool raise_ok;                 /* the raise probe can be used: */
	char raise_func[32];           /* symbol for the raise probe, or "": */
	uint64_t raise_offset;         /* then its file offset */
	char raise_why[PATH_MAX + 160]; /* else why not */
	__u64 optimize_addr;           /* &Py_OptimizeFlag, or 0 */
	__u64 keyerror_value;          /* PyExc_KeyError (bpf.keyerror_type only under -O) */
	bool assert_site_ok;           /* the file has an assert probe site (assert_why if not) */
	bool assert_ok;                /* the assert probe can be used: */
	int assert_site;               /* enum assert_site_kind (resolve/opcodes.h) */
	uint64_t assert_offset;        /* file offset of its site */
	uint64_t assert_set_object;    /* do_raise's _PyErr_SetObject (vaddr), or 0 */
	char assert_why[256];          /* else why not */
	bool watch_ok;                 /* the watch trigger can be used (3.14+): */
	uint64_t watch_addr;           /* interp->common_consts[CONSTANT_ASSERTIONERROR] */
	char watch_why[256];           /* else why not */
};

/*
 * Where pid's interpreter is (/proc), and in *fd that file, opened through
 * /proc/PID/map_files (the file the process maps, in any mount namespace).
 * 0, or -errno (-ESRCH: gone) with one sentence in err and nothing open.
 */
int target__locate(pid_t pid, struct target_loc *loc, int *fd, char *err, size_t errsz);
/*
 * Everything needed to trace loc->pid from its interpreter file fd (ELF,
 * machine code) and its memory: both untrusted. The file is parsed once per
 * identity when files (a cache) is given, else now. NULL, errno set
 * (ENOEXEC: not a Python process) and one sentence in err. t->fd is -1: the file
 * stays the caller's (target__own_file).
 */
struct target *target__resolve(const struct target_loc *loc, int fd, struct elfcache *files,
			       char *err, size_t errsz);
/* Keep a descriptor of fd in t: the probe is attached to the file that was parsed. */
int target__own_file(struct target *t, int fd);
/* target__locate + target__resolve + target__own_file, in this process. */
struct target *target__new(pid_t pid, char *err, size_t errsz);
void target__free(struct target *t);
/*
 * Read again what depends on the interpreter's state (python -O, the watch
 * trigger's slot): a process resolved just after its exec had not set them.
 */
void target__refresh(struct target *t);
#define TARGET_IMPORTS_READS 20000 /* remote reads for one sys.modules lookup */
/* Has the main interpreter imported module (sys.modules)? 1, 0, or -errno (not readable yet). */
int target__imports(const struct target *t, const char *module);
/*
 * A copy of t for the decoding side (possibly another process: t may be
 * bytes received from the attaching side). Its layout points into itself;
 * fd, which only the attaching side has, is -1. NULL on out of memory.
 */
struct target *target__dup(const struct target *t);
/*
 * --probe auto: the trigger that costs nothing on healthy requests (the
 * LOAD_ASSERTION_ERROR handler up to 3.13, the watchpoint from 3.14); the
 * raise probe under python -O, which has no asserts.
 */
#define TARGET_PROBE_AUTO -1

/* "raise", "assert", "watch" (enum st_probe_kind); "?" for anything else. */
const char *target__probe_name(int kind);
/* The kind a name says (or "auto": TARGET_PROBE_AUTO); -EINVAL for none. */
int target__probe_parse(const char *name, int *kind);

/*
 * Choose t's probe (enum st_probe_kind, or TARGET_PROBE_AUTO) and the kinds
 * of failure it reports (bits of enum st_prop). -ENOTSUP with a sentence in
 * err when the probe asked for cannot serve it. fallback: where auto has no
 * zero-cost trigger, take the probe that runs on every raise (do_raise from
 * 3.14, else _PyErr_SetObject) and say so on stderr; without it, -ENOTSUP.
 */
int target__choose_probe(struct target *t, int mode, unsigned kinds, bool fallback, char *err,
			 size_t errsz);
/*
 * t's watchpoint could not be set (why): its fallback probe, as
 * target__choose_probe would have taken it. 0, or -ENOTSUP with a sentence
 * in err when there is none or fallback is false.
 */
int target__watch_failed(struct target *t, const char *why, bool fallback, char *err,
			 size_t errsz);
/* The service t belongs to; "" or NULL: its process name. */
void target__set_service(struct target *t, const char *service);

#endif
