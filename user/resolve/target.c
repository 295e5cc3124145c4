// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "resolve/debugoffsets.h"
#include "resolve/elfsym.h"
#include "util/hashmap.h"
#include "resolve/opcodes.h"
#include "decode/linetable.h"
#include "util/log.h"
#include "resolve/pylayout.h"
#include "decode/pyobj.h"
#include "decode/pystr.h"
#include "resolve/pysyms.h"
#include "decode/remote.h"
#include "resolve/target.h"

#define CODE_CACHE_FULL 2048     /* entries before an eviction is due */
#define CODE_CACHE_BYTES (16u << 20) /* strings and line tables before one is due */
#define NAME_MAX_CHARS  1024     /* longest qualname/filename read from a target */
#define LINETABLE_MAX   (256u << 10) /* one code object's line table (else: no line) */

struct code_entry {
	char *function;
	char *file;
	int firstlineno;
	uint8_t *linetable;
	size_t linetable_len;
};

/*
 * Symbolized code objects by address. Lifetimes: entries are freed only
 * between events (target__event_end), so the frames of the event being
 * reported point into live entries; during an event the map keeps taking
 * them (one event adds at most ST_MAX_FRAMES). Bounded by entries and by
 * bytes (each line table is capped too).
 */
struct code_cache {
	struct hashmap map; /* address -> struct code_entry * */
	size_t bytes;       /* strings and line tables held */
};

static void seterr(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static int read_start_time(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* comm may contain spaces and parentheses: fields resume after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	*out = strtoull(p + 1, NULL, 10);
	return 0;
}

static bool is_libpython(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libpython", 9) && strstr(base, ".so");
}

/*
 * Find the interpreter file in /proc/PID/maps: a mapped libpython3.X.so, else
 * the executable. Returns its path as the target sees it and its mapping at
 * file offset 0 ("start-end", the name of its /proc/PID/map_files entry).
 */
static int find_interpreter(pid_t pid, char *path, size_t pathsz, uint64_t *map_start,
			    uint64_t *map_end)
{
	char maps[64], line[PATH_MAX + 128], exe[PATH_MAX];
	uint64_t exe_start = 0, exe_end = 0;
	bool have_lib = false;
	ssize_t n;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/exe", pid);
	n = readlink(maps, exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = 0;
	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		char perms[8];
		int pos = 0;
		char *file;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &pos) < 4 ||
		    !pos)
			continue;
		file = line + pos;
		file[strcspn(file, "\n")] = 0;
		if (file[0] != '/' || off != 0)
			continue;
		if (is_libpython(file) && !have_lib) {
			snprintf(path, pathsz, "%s", file);
			*map_start = start;
			*map_end = end;
			have_lib = true;
		} else if (!strcmp(file, exe) && !exe_start) {
			exe_start = start;
			exe_end = end;
		}
	}
	fclose(f);
	if (have_lib)
		return 0;
	if (!exe_start)
		return -ENOENT;
	snprintf(path, pathsz, "%s", exe);
	*map_start = exe_start;
	*map_end = exe_end;
	return 0;
}

/* The innermost pid namespace's pid: last field of NSpid in /proc/PID/status. */
static pid_t read_ns_pid(pid_t pid)
{
	char path[64], line[256];
	pid_t ns = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f)) {
		char *p, *last;

		if (strncmp(line, "NSpid:", 6))
			continue;
		last = NULL;
		for (p = strtok(line + 6, " \t\n"); p; p = strtok(NULL, " \t\n"))
			last = p;
		if (last)
			ns = (pid_t)strtol(last, NULL, 10);
		break;
	}
	fclose(f);
	return ns;
}

/* Python version from the library or executable name: ".../python3.10" → 0x030a0000. */
static unsigned version_from_name(const char *path)
{
	const char *base = strrchr(path, '/'), *p;
	unsigned major, minor;

	p = strstr(base ? base : path, "python");
	if (!p || sscanf(p + 6, "%u.%u", &major, &minor) != 2 || major > 9 || minor > 99)
		return 0;
	return (major << 24) | (minor << 16);
}

static int sym_addr(const struct elfsym *e, uint64_t bias, const char *name, __u64 *out)
{
	struct elfsym_info si;

	if (elfsym__find(e, name, &si))
		return -ENOENT;
	*out = si.value + bias;
	return 0;
}

/*
 * Can the assert probe serve this process? It needs its site (user/opcodes.c:
 * the LOAD_ASSERTION_ERROR handler, or do_raise from 3.14), the thread-state
 * walk offsets where the site has no thread state at hand, and asserts
 * compiled in: under python -O (Py_OptimizeFlag, still set by 3.12+)
 * request.session raises KeyError instead, which only the raise probe sees.
 */
static void assert_probe_site(struct target *t, const struct elfsym *e)
{
	const struct st_py_layout *L = t->layout;
	struct assert_site s;

	t->assert_ok = false;
	if (t->optimize > 0) {
		snprintf(t->assert_why, sizeof(t->assert_why),
			 "runs with -O (asserts removed): the raise probe sees its KeyError");
		return;
	}
	if (opcodes__assert_site(e, L, true, &s, t->assert_why, sizeof(t->assert_why)))
		return;
	if (s.kind == ASSERT_SITE_HANDLER &&
	    (!t->bpf.runtime || L->runtime_interp_main <= 0 || L->interp_threads_head <= 0 ||
	     L->tstate_thread_id <= 0)) {
		snprintf(t->assert_why, sizeof(t->assert_why),
			 "no thread-state offsets for Python %s", t->python);
		return;
	}
	if (elfsym__vaddr_to_offset(e, s.probe, &t->assert_offset)) {
		snprintf(t->assert_why, sizeof(t->assert_why), "site 0x%llx outside the file",
			 (unsigned long long)s.probe);
		return;
	}
	t->bpf.assert_ip_reg = s.ip_reg;
	t->assert_site = s.kind;
	t->assert_set_object = s.set_object;
	pr_debug("pid %d: assert probe on %s at 0x%llx (file offset 0x%llx), opcode_targets at "
		 "0x%llx%s, ip register %d\n", t->pid,
		 s.kind == ASSERT_SITE_HANDLER ? "the LOAD_ASSERTION_ERROR handler" : "do_raise",
		 (unsigned long long)s.probe, (unsigned long long)t->assert_offset,
		 (unsigned long long)s.table, s.by_symbol ? " (.symtab)" : " (by shape)", s.ip_reg);
	t->assert_ok = true;
}

/*
 * The raise probe's site: _PyErr_SetObject, named or not (user/pysyms.c).
 * Only -P raise and python -O need it. Where do_raise was found, its call
 * of _PyErr_SetObject must be the same function.
 */
static void raise_probe_site(struct target *t, const struct elfsym *e)
{
	struct raise_entry re;

	t->raise_ok = false;
	if (pysyms__raise_entry(e, true, &re) ||
	    elfsym__vaddr_to_offset(e, re.vaddr, &t->raise_offset)) {
		snprintf(t->raise_why, sizeof(t->raise_why), "cannot find _PyErr_SetObject in %s: "
			 "no symbol, and PyErr_SetObject/PyErr_SetNone do not lead to one function",
			 t->interp);
		return;
	}
	if (t->assert_set_object && !re.name && re.vaddr != t->assert_set_object) {
		snprintf(t->raise_why, sizeof(t->raise_why), "PyErr_SetObject leads to 0x%llx, "
			 "do_raise raises through 0x%llx: no _PyErr_SetObject both agree on",
			 (unsigned long long)re.vaddr, (unsigned long long)t->assert_set_object);
		return;
	}
	t->raise_func = re.name;
	t->raise_ok = true;
	pr_debug("pid %d: raise probe at %s (file offset 0x%" PRIx64 ")\n", t->pid,
		 re.name ? re.name : "the unnamed _PyErr_SetObject body", t->raise_offset);
}

/*
 * 3.10 has no Py_Version: its patch level is in sys.version ("3.10.13 (main,
 * ...)"), read from the running interpreter. 0, or -errno (then X.Y only).
 */
static int version_from_sys(struct target *t)
{
	struct pyobj r;
	unsigned major, minor, patch;
	char buf[64];
	__u64 sys, v;

	pyobj__init(&r, t, 4096);
	if (pyobj__module(&r, t->bpf.runtime, "sys", &sys) ||
	    pyobj__module_attr(&r, sys, "version", &v) ||
	    pyobj__str(&r, v, buf, sizeof(buf), NULL, NULL))
		return -ENOENT;
	if (sscanf(buf, "%u.%u.%u", &major, &minor, &patch) != 3 || patch > 0xff ||
	    ((major << 24) | (minor << 16)) != (t->version_hex & 0xffff0000))
		return -EPROTO;
	t->version_hex |= patch << 8;
	snprintf(t->python, sizeof(t->python), "%u.%u.%u", major, minor, patch);
	return 0;
}

int target__new(pid_t pid, struct target **out, char *err, size_t errsz)
{
	struct target *t;
	struct elfsym *e = NULL;
	struct elfsym_info si;
	uint64_t map_start = 0, map_end = 0, bias;
	struct stat sb;
	__u64 v;
	uint32_t ver = 0;
	bool have_patch;
	int ret;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		seterr(err, errsz, "out of memory");
		return -ENOMEM;
	}
	t->pid = pid;
	t->pidfd = -1;
	t->bpf.assert_ip_reg = -1;
	ret = read_start_time(pid, &t->start_time);
	if (ret) {
		seterr(err, errsz, "pid %d: no such process", pid);
		goto cleanup;
	}
	t->ns_pid = read_ns_pid(pid);
	ret = find_interpreter(pid, t->interp, sizeof(t->interp), &map_start, &map_end);
	if (ret) {
		seterr(err, errsz, "pid %d: cannot read its memory map: %s", pid, strerror(-ret));
		goto cleanup;
	}
	/*
	 * Open the file the target really maps, not whatever its path names now:
	 * map_files reaches it in another mount namespace (containers) and after
	 * it was replaced or deleted on disk (upgrades).
	 */
	snprintf(t->open_path, sizeof(t->open_path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 pid, map_start, map_end);
	if (stat(t->open_path, &sb)) {
		ret = -errno;
		seterr(err, errsz, "pid %d: cannot open its interpreter %s: %s", pid, t->interp,
		       strerror(errno));
		goto cleanup;
	}
	t->interp_dev = sb.st_dev;
	t->interp_ino = sb.st_ino;
	e = elfsym__open(t->open_path);
	if (!e) {
		ret = -errno ? -errno : -EINVAL;
		seterr(err, errsz, "pid %d: cannot read ELF file %s: %s", pid, t->interp,
		       strerror(-ret));
		goto cleanup;
	}
	bias = elfsym__is_dyn(e) ? map_start - elfsym__base_vaddr(e) : 0;
	if (elfsym__find(e, "PyExc_AssertionError", &si) && !version_from_name(t->interp)) {
		ret = -ENOEXEC;
		seterr(err, errsz, "pid %d is not a Python process (%s has no CPython symbols)",
		       pid, t->interp);
		goto cleanup;
	}
	have_patch = !sym_addr(e, bias, "Py_Version", &v) && !remote__read(pid, v, &ver, sizeof(ver));
	if (have_patch) {
		t->version_hex = ver;
		snprintf(t->python, sizeof(t->python), "%u.%u.%u", ver >> 24, (ver >> 16) & 0xff,
			 (ver >> 8) & 0xff);
	} else {
		/* Py_Version is 3.11+; before, the file name gives major.minor (sys.version below) */
		t->version_hex = version_from_name(t->interp);
		snprintf(t->python, sizeof(t->python), "%u.%u", t->version_hex >> 24,
			 (t->version_hex >> 16) & 0xff);
	}
	if (!t->version_hex || !pylayout__supported(t->version_hex)) {
		ret = -ENOTSUP;
		seterr(err, errsz, "pid %d runs Python %s, which this build does not support "
		       "(supported: %s)", pid, t->version_hex ? t->python : "of unknown version",
		       pylayout__supported_list());
		goto cleanup;
	}
	t->bpf.layout = *pylayout__find(t->version_hex);
	t->layout = &t->bpf.layout;
	/* 3.13+ describes itself: every offset it publishes is taken from it. */
	if (t->version_hex >= 0x030d0000) {
		char why[256];

		if (sym_addr(e, bias, "_PyRuntime", &v)) {
			ret = -ENOENT;
			seterr(err, errsz, "pid %d: %s has no _PyRuntime symbol", pid, t->interp);
			goto cleanup;
		}
		ret = debugoffsets__apply(pid, v, t->version_hex, &t->bpf.layout, why, sizeof(why));
		if (ret < 0) {
			seterr(err, errsz, "pid %d (Python %s): %s", pid, t->python, why);
			goto cleanup;
		}
		pr_debug("pid %d: %d layout fields from the target's _Py_DebugOffsets\n", pid, ret);
		ret = 0;
	}
	if (sym_addr(e, bias, "PyExc_AssertionError", &v) ||
	    remote__read_u64(pid, v, &t->bpf.assertion_type) || !t->bpf.assertion_type ||
	    sym_addr(e, bias, "PyUnicode_Type", &t->bpf.unicode_type) ||
	    sym_addr(e, bias, "PyTuple_Type", &t->bpf.tuple_type) ||
	    sym_addr(e, bias, "PyDict_Type", &t->bpf.dict_type) ||
	    sym_addr(e, bias, "PyBytes_Type", &t->bpf.bytes_type) ||
	    sym_addr(e, bias, "PyExc_KeyError", &v) ||
	    remote__read_u64(pid, v, &t->bpf.keyerror_type) || !t->bpf.keyerror_type) {
		ret = -EFAULT;
		seterr(err, errsz, "pid %d: cannot resolve CPython type objects in %s", pid,
		       t->interp);
		goto cleanup;
	}
	/* The type pointers must point at what they claim: read back one. */
	if (remote__read_u64(pid, t->bpf.unicode_type + 8, &v)) {
		ret = -EFAULT;
		seterr(err, errsz, "pid %d: cannot read its memory (process_vm_readv)", pid);
		goto cleanup;
	}
	t->bpf.kinds = (1U << ST_NPROPS) - 1;
	/*
	 * python -O (or PYTHONOPTIMIZE): the property raises KeyError. Without
	 * it the raise probe ignores KeyError, which healthy requests raise
	 * often (SessionMiddleware's cookie lookup).
	 */
	if (!sym_addr(e, bias, "Py_OptimizeFlag", &v)) {
		int32_t opt = 0;

		if (!remote__read(pid, v, &opt, sizeof(opt)))
			t->optimize = opt;
	}
	if (t->optimize <= 0)
		t->bpf.keyerror_type = 0;
	if (!sym_addr(e, bias, "_PyRuntime", &v))
		t->bpf.runtime = v;
	if (!have_patch && version_from_sys(t))
		pr_debug("pid %d: sys.version unreadable: Python %s\n", pid, t->python);
	assert_probe_site(t, e);
	raise_probe_site(t, e);
	if (!t->assert_ok && !t->raise_ok) {
		ret = -ENOENT;
		seterr(err, errsz, "pid %d (Python %s): no probe site: %s; %s", pid, t->python,
		       t->assert_why, t->raise_why);
		goto cleanup;
	}
	t->codes = calloc(1, sizeof(*t->codes));
	if (t->codes)
		hashmap__init(&t->codes->map, hashmap__hash_u64, hashmap__equal_u64, NULL);
	if (!t->codes) {
		ret = -ENOMEM;
		seterr(err, errsz, "out of memory");
		goto cleanup;
	}
	t->pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (t->pidfd < 0) {
		ret = -errno;
		seterr(err, errsz, "pid %d: pidfd_open: %s", pid, strerror(errno));
		goto cleanup;
	}
	elfsym__free(e);
	pr_debug("pid %d: interpreter %s python %s bias 0x%" PRIx64 "\n", pid, t->interp,
		 t->python, bias);
	*out = t;
	return 0;
cleanup:
	elfsym__free(e);
	target__free(t);
	return ret ? ret : -EINVAL;
}

static void code_entry_free(struct code_entry *c)
{
	if (!c)
		return;
	free(c->function);
	free(c->file);
	free(c->linetable);
	free(c);
}

static void code_cache_clear(struct code_cache *cc)
{
	struct hashmap_entry *e;
	size_t bkt;

	hashmap__for_each_entry(&cc->map, e, bkt)
		code_entry_free((struct code_entry *)e->value);
	hashmap__clear(&cc->map);
	cc->bytes = 0;
}

void target__free(struct target *t)
{
	if (!t)
		return;
	if (t->codes) {
		code_cache_clear(t->codes);
		free(t->codes);
	}
	if (t->pidfd >= 0)
		close(t->pidfd);
	free(t);
}

bool target__alive(const struct target *t)
{
	unsigned long long st;

	return !read_start_time(t->pid, &st) && st == t->start_time;
}

/* Read a str object from the target as UTF-8 (malloc'd), NULL if it is not one. */
static char *read_str(struct target *t, uint64_t obj)
{
	const struct st_py_layout *L = t->layout;
	uint64_t head[8];
	uint32_t state, kind;
	uint64_t len, data, nbytes;
	void *raw;
	char *out;
	bool trunc = false;
	size_t outsz;

	if (remote__read(t->pid, obj, head, sizeof(head)) || head[1] != t->bpf.unicode_type)
		return NULL;
	len = head[L->str_length / 8];
	state = (uint32_t)head[L->str_state / 8];
	kind = (state >> 2) & 7;
	if (!(state & (1 << 5)) || (kind != 1 && kind != 2 && kind != 4))
		return NULL;
	if (len > NAME_MAX_CHARS)
		len = NAME_MAX_CHARS;
	data = obj + ((state & (1 << 6)) ? L->str_ascii_data : L->str_compact_data);
	nbytes = len * kind;
	raw = malloc(nbytes + 1);
	outsz = len * 4 + 1;
	out = malloc(outsz);
	if (!raw || !out || (nbytes && remote__read(t->pid, data, raw, nbytes))) {
		free(raw);
		free(out);
		return NULL;
	}
	pystr__to_utf8(raw, nbytes, kind, out, outsz, &trunc);
	free(raw);
	return out;
}

#define MAX(a, b) ((a) > (b) ? (a) : (b))

static int load_code(struct target *t, uint64_t addr, struct code_entry *c)
{
	const struct st_py_layout *L = t->layout;
	uint8_t hdr[256];
	uint64_t lt;
	__u64 size;
	int32_t first;
	size_t need = MAX(MAX(MAX(L->code_filename, L->code_name), L->code_qualname),
			  MAX(L->code_firstlineno, L->code_linetable)) + 8;

	if (need > sizeof(hdr) || remote__read(t->pid, addr, hdr, need))
		return -EFAULT;
	c->function = read_str(t, *(uint64_t *)&hdr[L->code_qualname >= 0 ? L->code_qualname : L->code_name]);
	c->file = read_str(t, *(uint64_t *)&hdr[L->code_filename]);
	memcpy(&first, &hdr[L->code_firstlineno], sizeof(first));
	c->firstlineno = first;
	lt = *(uint64_t *)&hdr[L->code_linetable];
	if (lt && !remote__read_u64(t->pid, lt + L->var_size, &size) && size <= LINETABLE_MAX) {
		c->linetable = malloc(size ? size : 1);
		if (c->linetable && !remote__read(t->pid, lt + L->bytes_sval, c->linetable, size))
			c->linetable_len = size;
	}
	t->codes->bytes += c->linetable_len + (c->function ? strlen(c->function) : 0) +
			   (c->file ? strlen(c->file) : 0);
	return 0;
}

static struct code_entry *code_lookup(struct target *t, uint64_t addr)
{
	struct code_cache *cc = t->codes;
	struct code_entry *c;
	uintptr_t v;

	if (hashmap__find(&cc->map, addr, &v))
		return (struct code_entry *)v;
	c = calloc(1, sizeof(*c));
	if (!c || load_code(t, addr, c) || hashmap__set(&cc->map, addr, (uintptr_t)c)) {
		code_entry_free(c);
		return NULL;
	}
	return c;
}

void target__event_end(struct target *t)
{
	struct code_cache *cc = t->codes;

	if (!cc || (hashmap__size(&cc->map) < CODE_CACHE_FULL && cc->bytes < CODE_CACHE_BYTES))
		return;
	/* full enough: start over */
	code_cache_clear(cc);
	t->code_evictions++;
}

void target__frame(struct target *t, const struct st_frame *f, struct frame_info *out)
{
	struct code_entry *c = f->code ? code_lookup(t, f->code) : NULL;
	int64_t addrq;

	out->function = "?";
	out->file = "?";
	out->line = -1;
	if (!c)
		return;
	if (c->function)
		out->function = c->function;
	if (c->file)
		out->file = c->file;
	if (!c->linetable)
		return;
	if (t->layout->code_adaptive >= 0)
		addrq = (int64_t)(f->instr - f->code - t->layout->code_adaptive);
	else
		addrq = (int64_t)(int32_t)f->instr * 2; /* <=3.10: f_lasti in code units */
	if (addrq < 0 || addrq > INT32_MAX)
		return;
	out->line = linetable__addr2line(t->version_hex, c->linetable, c->linetable_len,
					c->firstlineno, (int)addrq);
}

/*
 * The assert probe stops at LOAD_ASSERTION_ERROR, while Python's traceback
 * names the RAISE_VARARGS 1 that follows (3.12 and 3.13 give the two other
 * lines for a multi-line assert). For `assert cond, CONSTANT`, which is how
 * every request property asserts, it is a fixed number of code units later
 * (LOAD_CONST, then CALL with its caches; 3.11 also PRECALL): move there
 * when the code unit there really is RAISE_VARARGS 1.
 */
void target__assert_raise_site(struct target *t, struct st_frame *f)
{
	static const struct { unsigned minor, units; __u8 op; } site[] = {
		{ 11, 9, 130 }, { 12, 6, 130 }, { 13, 6, 101 },
	};
	unsigned minor = (t->version_hex >> 16) & 0xff;
	__u8 cu[2];
	size_t i;

	for (i = 0; i < sizeof(site) / sizeof(site[0]); i++) {
		if (site[i].minor != minor)
			continue;
		if (!f->instr || remote__read(t->pid, f->instr + site[i].units * 2, cu, sizeof(cu)) ||
		    cu[0] != site[i].op || cu[1] != 1)
			return;
		f->instr += site[i].units * 2;
		return;
	}
}
