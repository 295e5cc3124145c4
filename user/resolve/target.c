// SPDX-License-Identifier: BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "discover/procfs.h"
#include "resolve/debugoffsets.h"
#include "resolve/elfcache.h"
#include "resolve/elfsym.h"
#include "resolve/opcodes.h"
#include "util/cut.h"
#include "util/log.h"
#include "resolve/pylayout.h"
#include "memory/pyobj.h"
#include "resolve/pysyms.h"
#include "memory/remote.h"
#include "resolve/target.h"

static void seterr(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
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
 * python -O (Py_OptimizeFlag, still set by 3.12+): no asserts, so no assert
 * trigger; request.session raises KeyError instead, which only the raise
 * probe sees. True, and why in buf, when t runs so.
 */
static bool optimized(const struct target *t, char *buf, size_t sz)
{
	if (t->optimize <= 0)
		return false;
	snprintf(buf, sz, "runs with -O (asserts removed): the raise probe sees its KeyError");
	return true;
}

/*
 * Where the assert probe goes in this file (resolve/opcodes.c: the
 * LOAD_ASSERTION_ERROR handler, or do_raise from 3.14), and the thread-state
 * walk offsets where the site has no thread state at hand. Whether asserts
 * are compiled in (python -O) is the interpreter's state: runtime_state().
 */
static void assert_probe_site(struct target *t, const struct elfsym *e)
{
	const struct st_py_layout *L = t->layout;
	struct assert_site s;

	t->assert_site_ok = false;
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
	t->assert_site_ok = true;
}

/*
 * 3.14+: where the watch trigger's data breakpoint goes, the main
 * interpreter's common_consts[CONSTANT_ASSERTIONERROR] (layout, from the
 * headers). Valid when the slot holds the AssertionError type: the layout
 * fits this build and the interpreter is initialized.
 */
static void watch_site(struct target *t)
{
	const struct st_py_layout *L = t->layout;
	__u64 interp = 0, slot = 0;

	t->watch_ok = false;
	if (L->interp_assert_slot < 0) {
		snprintf(t->watch_why, sizeof(t->watch_why), "Python %s has LOAD_ASSERTION_ERROR, "
			 "not a constant slot to watch (3.14+)", t->python);
		return;
	}
	if (optimized(t, t->watch_why, sizeof(t->watch_why)))
		return;
	if (!t->bpf.runtime || L->runtime_interp_main <= 0 ||
	    remote__read_u64(t->pid, t->bpf.runtime + L->runtime_interp_main, &interp) || !interp ||
	    remote__read_u64(t->pid, interp + L->interp_assert_slot, &slot)) {
		snprintf(t->watch_why, sizeof(t->watch_why), "its main interpreter is unreadable");
		return;
	}
	if (slot != t->bpf.assertion_type) {
		snprintf(t->watch_why, sizeof(t->watch_why), "interp+%d holds 0x%llx, not "
			 "AssertionError (0x%llx): this build's layout differs from Python %s's headers",
			 L->interp_assert_slot, (unsigned long long)slot,
			 (unsigned long long)t->bpf.assertion_type, t->python);
		return;
	}
	t->watch_addr = interp + L->interp_assert_slot;
	t->watch_ok = true;
	pr_debug("pid %d: watch trigger on 0x%llx (interp 0x%llx + %d)\n", t->pid,
		 (unsigned long long)t->watch_addr, (unsigned long long)interp, L->interp_assert_slot);
}

/*
 * The raise probe's site: _PyErr_SetObject, named or not (resolve/pysyms.c).
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
	snprintf(t->raise_func, sizeof(t->raise_func), "%s", re.name ? re.name : "");
	t->raise_ok = true;
	pr_debug("pid %d: raise probe at %s 0x%llx (file offset 0x%" PRIx64 ")\n", t->pid,
		 re.name ? re.name : "the unnamed _PyErr_SetObject body",
		 (unsigned long long)re.vaddr, t->raise_offset);
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

	pyobj__init(&r, t->pid, t->layout, &t->bpf, 4096);
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

/* A file name is the process owner's choice, and goes into messages only. */
static void sanitize(char *name)
{
	for (; *name; name++)
		if ((unsigned char)*name < 0x20 || *name == 0x7f)
			*name = '?';
}

int target__locate(pid_t pid, struct target_loc *loc, int *fd, char *err, size_t errsz)
{
	struct procfs_stat ps;
	char path[PATH_MAX + 64];
	struct stat sb;
	ssize_t n;
	int ret;

	memset(loc, 0, sizeof(*loc));
	*fd = -1;
	loc->pid = pid;
	if (procfs__stat(pid, &ps)) {
		seterr(err, errsz, "pid %d: no such process", pid);
		return -ESRCH;
	}
	loc->start_time = ps.start_time;
	loc->ns_pid = procfs__ns_pid(pid);
	ret = procfs__interpreter(pid, loc->interp, sizeof(loc->interp), &loc->map_start,
				  &loc->map_end);
	if (ret) {
		seterr(err, errsz, "pid %d: cannot read its memory map: %s", pid, strerror(-ret));
		return ret;
	}
	/*
	 * map_files reaches the file the target really maps, also in another
	 * mount namespace (containers) and after it was replaced or deleted on
	 * disk (upgrades). This one descriptor is what is parsed and what the
	 * probe is attached to: the mapping may change under us, the file
	 * opened does not, and its name is taken from it (the one maps showed
	 * may be another file's by now).
	 */
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid,
		 loc->map_start, loc->map_end);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0 || fstat(*fd, &sb)) {
		ret = -errno;
		sanitize(loc->interp);
		seterr(err, errsz, "pid %d: cannot open its interpreter %s: %s", pid, loc->interp,
		       strerror(errno));
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return ret;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
	n = readlink(path, loc->interp, sizeof(loc->interp) - 1);
	if (n > 0)
		loc->interp[n] = '\0';
	sanitize(loc->interp);
	loc->file = (struct elfcache_key){
		.dev = sb.st_dev, .ino = sb.st_ino, .size = sb.st_size,
		.mtime_ns = sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec,
		.ctime_ns = sb.st_ctim.tv_sec * 1000000000LL + sb.st_ctim.tv_nsec,
	};
	return 0;
}

/*
 * Which CPython, and its layout: Py_Version (3.11+), else the file name;
 * from 3.13 every offset the target publishes in _Py_DebugOffsets.
 * *have_patch: the version has its patch level.
 */
static int resolve_version(struct target *t, const struct elfsym *e, uint64_t bias,
			   bool *have_patch, char *err, size_t errsz)
{
	uint32_t ver = 0;
	char why[256];
	__u64 v;
	int ret;

	*have_patch = !sym_addr(e, bias, "Py_Version", &v) &&
		      !remote__read(t->pid, v, &ver, sizeof(ver));
	if (*have_patch) {
		t->version_hex = ver;
		snprintf(t->python, sizeof(t->python), "%u.%u.%u", ver >> 24, (ver >> 16) & 0xff,
			 (ver >> 8) & 0xff);
	} else {
		/* Py_Version is 3.11+; before, the file name gives major.minor (sys.version later) */
		t->version_hex = version_from_name(t->interp);
		snprintf(t->python, sizeof(t->python), "%u.%u", t->version_hex >> 24,
			 (t->version_hex >> 16) & 0xff);
	}
	if (!t->version_hex || !pylayout__supported(t->version_hex)) {
		char supported[64];

		seterr(err, errsz, "pid %d runs Python %s, which this build does not support "
		       "(supported: %s)", t->pid, t->version_hex ? t->python : "of unknown version",
		       pylayout__supported_list(supported, sizeof(supported)));
		return -ENOTSUP;
	}
	t->bpf.layout = *pylayout__find(t->version_hex);
	t->layout = &t->bpf.layout;
	if (t->version_hex < 0x030d0000)
		return 0;
	/* 3.13+ describes itself: every offset it publishes is taken from it. */
	if (sym_addr(e, bias, "_PyRuntime", &v)) {
		seterr(err, errsz, "pid %d: %s has no _PyRuntime symbol", t->pid, t->interp);
		return -ENOENT;
	}
	ret = debugoffsets__apply(t->pid, v, t->version_hex, &t->bpf.layout, why, sizeof(why));
	if (ret < 0) {
		seterr(err, errsz, "pid %d (Python %s): %s", t->pid, t->python, why);
		return ret;
	}
	pr_debug("pid %d: %d layout fields from the target's _Py_DebugOffsets\n", t->pid, ret);
	return 0;
}

/* The objects the BPF program compares against, and the interpreter's flags. */
static int resolve_objects(struct target *t, const struct elfsym *e, uint64_t bias,
			   char *err, size_t errsz)
{
	pid_t pid = t->pid;
	__u64 v;

	if (sym_addr(e, bias, "PyExc_AssertionError", &v) ||
	    remote__read_u64(pid, v, &t->bpf.assertion_type) || !t->bpf.assertion_type ||
	    sym_addr(e, bias, "PyUnicode_Type", &t->bpf.unicode_type) ||
	    sym_addr(e, bias, "PyTuple_Type", &t->bpf.tuple_type) ||
	    sym_addr(e, bias, "PyDict_Type", &t->bpf.dict_type) ||
	    sym_addr(e, bias, "PyBytes_Type", &t->bpf.bytes_type) ||
	    sym_addr(e, bias, "PyList_Type", &t->bpf.list_type) ||
	    sym_addr(e, bias, "PyExc_KeyError", &v) ||
	    remote__read_u64(pid, v, &t->bpf.keyerror_type) || !t->bpf.keyerror_type) {
		seterr(err, errsz, "pid %d: cannot resolve CPython type objects in %s", pid,
		       t->interp);
		return -EFAULT;
	}
	/* The type pointers must point at what they claim: read back one. */
	if (remote__read_u64(pid, t->bpf.unicode_type + 8, &v)) {
		seterr(err, errsz, "pid %d: cannot read its memory (process_vm_readv)", pid);
		return -EFAULT;
	}
	t->bpf.kinds = (1U << ST_NPROPS) - 1;
	t->keyerror_value = t->bpf.keyerror_type;
	if (sym_addr(e, bias, "Py_OptimizeFlag", &t->optimize_addr))
		t->optimize_addr = 0;
	if (!sym_addr(e, bias, "_PyRuntime", &v))
		t->bpf.runtime = v;
	if (sym_addr(e, bias, "PyCell_Type", &t->cell_type))
		t->cell_type = 0;
	return 0;
}

/*
 * What depends on the interpreter's state rather than its file, read when
 * t is resolved and again by target__refresh: python -O (Py_OptimizeFlag,
 * still set by 3.12+: no asserts, the property raises KeyError, which the
 * raise probe then watches for; without -O it ignores KeyError, which
 * healthy requests raise often), and the watch trigger's slot (set when the
 * interpreter initializes).
 */
static void runtime_state(struct target *t)
{
	int32_t opt = 0;

	if (t->optimize_addr && !remote__read(t->pid, t->optimize_addr, &opt, sizeof(opt)))
		t->optimize = opt;
	t->bpf.keyerror_type = t->optimize > 0 ? t->keyerror_value : 0;
	t->assert_ok = t->assert_site_ok && !optimized(t, t->assert_why, sizeof(t->assert_why));
	watch_site(t);
}

void target__refresh(struct target *t)
{
	runtime_state(t);
}

int target__imports(const struct target *t, const char *module)
{
	struct pyobj r;
	__u64 mod;
	int err;

	pyobj__init(&r, t->pid, t->layout, &t->bpf, TARGET_IMPORTS_READS);
	err = pyobj__module(&r, t->bpf.runtime, module, &mod);
	return !err ? 1 : err == -ENOENT ? 0 : err;
}

struct target *target__resolve(const struct target_loc *loc, int fd, struct elfcache *files,
			       char *err, size_t errsz)
{
	struct elfsym *own = NULL;
	const struct elfsym *e;
	struct target *t;
	struct elfsym_info si;
	uint64_t bias;
	bool have_patch;
	int ret;

	t = calloc(1, sizeof(*t));
	if (!t) {
		seterr(err, errsz, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	t->pid = loc->pid;
	t->ns_pid = loc->ns_pid;
	t->start_time = loc->start_time;
	t->fd = -1;
	snprintf(t->interp, sizeof(t->interp), "%s", loc->interp);
	t->bpf.assert_ip_reg = -1;
	errno = 0;
	e = files ? elfcache__get(files, &loc->file, fd) : (own = elfsym__open_fd(fd));
	if (!e) {
		ret = errno ? -errno : -EINVAL;
		seterr(err, errsz, "pid %d: cannot read ELF file %s: %s", t->pid, t->interp,
		       strerror(-ret));
		goto cleanup;
	}
	bias = elfsym__is_dyn(e) ? loc->map_start - elfsym__base_vaddr(e) : 0;
	if (elfsym__find(e, "PyExc_AssertionError", &si) && !version_from_name(t->interp)) {
		ret = -ENOEXEC;
		seterr(err, errsz, "pid %d is not a Python process (%s has no CPython symbols)",
		       t->pid, t->interp);
		goto cleanup;
	}
	ret = resolve_version(t, e, bias, &have_patch, err, errsz);
	if (!ret)
		ret = resolve_objects(t, e, bias, err, errsz);
	if (ret)
		goto cleanup;
	if (!have_patch && version_from_sys(t))
		pr_debug("pid %d: sys.version unreadable: Python %s\n", t->pid, t->python);
	assert_probe_site(t, e);
	raise_probe_site(t, e);
	runtime_state(t);
	if (!t->assert_site_ok && !t->raise_ok && t->layout->interp_assert_slot < 0) {
		ret = -ENOENT;
		seterr(err, errsz, "pid %d (Python %s): no probe site: %s; %s; %s", t->pid,
		       t->python, t->assert_why, t->raise_why, t->watch_why);
		goto cleanup;
	}
	elfsym__free(own);
	pr_debug("pid %d: interpreter %s python %s bias 0x%" PRIx64 "\n", t->pid, t->interp,
		 t->python, bias);
	return t;
cleanup:
	elfsym__free(own);
	target__free(t);
	errno = ret ? -ret : EINVAL;
	return NULL;
}

int target__own_file(struct target *t, int fd)
{
	t->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (t->fd < 0)
		return -errno;
	snprintf(t->open_path, sizeof(t->open_path), "/proc/self/fd/%d", t->fd);
	return 0;
}

struct target *target__new(pid_t pid, char *err, size_t errsz)
{
	struct target_loc loc;
	struct target *t = NULL;
	int fd, ret = target__locate(pid, &loc, &fd, err, errsz);

	if (!ret) {
		t = target__resolve(&loc, fd, NULL, err, errsz);
		ret = t ? target__own_file(t, fd) : -errno;
		if (ret && t) {
			seterr(err, errsz, "pid %d: %s", pid, strerror(-ret));
			target__free(t);
			t = NULL;
		}
	}
	if (fd >= 0)
		close(fd);
	errno = -ret;
	return t;
}

struct target *target__dup(const struct target *t)
{
	struct target *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *t;
	c->layout = &c->bpf.layout;
	c->raise_func[sizeof(c->raise_func) - 1] = '\0';
	c->fd = -1; /* the file stays the attaching side's */
	c->interp[sizeof(c->interp) - 1] = '\0';
	c->open_path[sizeof(c->open_path) - 1] = '\0';
	c->python[sizeof(c->python) - 1] = '\0';
	c->service[sizeof(c->service) - 1] = '\0';
	c->id.container_id[sizeof(c->id.container_id) - 1] = '\0';
	c->id.runtime[sizeof(c->id.runtime) - 1] = '\0';
	c->id.pod_uid[sizeof(c->id.pod_uid) - 1] = '\0';
	c->id.hostname[sizeof(c->id.hostname) - 1] = '\0';
	c->raise_why[sizeof(c->raise_why) - 1] = '\0';
	c->assert_why[sizeof(c->assert_why) - 1] = '\0';
	c->watch_why[sizeof(c->watch_why) - 1] = '\0';
	return c;
}

void target__free(struct target *t)
{
	if (t && t->fd >= 0)
		close(t->fd);
	free(t);
}

static const char *const probe_names[] = {
	[ST_PROBE_RAISE] = "raise",
	[ST_PROBE_ASSERT] = "assert",
	[ST_PROBE_WATCH] = "watch",
};

const char *target__probe_name(int kind)
{
	if (kind < 0 || kind >= (int)(sizeof(probe_names) / sizeof(probe_names[0])))
		return "?";
	return probe_names[kind];
}

int target__probe_parse(const char *name, int *kind)
{
	int k;

	if (!strcmp(name, "auto")) {
		*kind = TARGET_PROBE_AUTO;
		return 0;
	}
	for (k = 0; k < (int)(sizeof(probe_names) / sizeof(probe_names[0])); k++)
		if (!strcmp(name, probe_names[k])) {
			*kind = k;
			return 0;
		}
	return -EINVAL;
}

/* Is kind's site there? Else *why says why not. */
static bool probe_ok(const struct target *t, int kind, const char **why)
{
	switch (kind) {
	case ST_PROBE_RAISE:
		*why = t->raise_why;
		return t->raise_ok;
	case ST_PROBE_ASSERT:
		*why = t->assert_why;
		return t->assert_ok;
	default:
		*why = t->watch_why;
		return t->watch_ok;
	}
}

/* The probe that runs on every raise: do_raise from 3.14, else _PyErr_SetObject. */
static int costly_probe(const struct target *t)
{
	if (t->assert_ok && t->assert_site == ASSERT_SITE_DO_RAISE)
		return ST_PROBE_ASSERT;
	return t->raise_ok ? ST_PROBE_RAISE : -1;
}

static const char *costly_what(int kind)
{
	return kind == ST_PROBE_ASSERT ? "do_raise, which runs on every Python raise statement" :
					 "_PyErr_SetObject, which runs on every exception";
}

/* auto found no zero-cost trigger (why): the costly probe if fallback, else -ENOTSUP. */
static int fall_back(struct target *t, const char *why, bool fallback, char *err, size_t errsz)
{
	int kind = costly_probe(t);

	if (kind < 0) {
		seterr(err, errsz, "pid %d (Python %s): no zero-cost trigger (%s) and no probe "
		       "to fall back on: %s", t->pid, t->python, why, t->raise_why);
		return -ENOTSUP;
	}
	if (!fallback) {
		seterr(err, errsz, "pid %d (Python %s): not traced: no zero-cost trigger (%s); "
		       "--allow-fallback (or -P %s) traces it on %s", t->pid, t->python, why,
		       target__probe_name(kind), costly_what(kind));
		return -ENOTSUP;
	}
	pr_warn("pid %d (Python %s): no zero-cost trigger (%s): tracing on %s "
		"(--allow-fallback)\n", t->pid, t->python, why, costly_what(kind));
	t->bpf.probe = kind;
	return 0;
}

int target__choose_probe(struct target *t, int mode, unsigned kinds, bool fallback, char *err,
			 size_t errsz)
{
	const char *why;

	t->bpf.kinds = kinds;
	if (mode == TARGET_PROBE_AUTO) {
		/* python -O has no asserts: only the raise probe sees its KeyError */
		if (t->optimize > 0)
			mode = ST_PROBE_RAISE;
		else
			mode = t->layout->interp_assert_slot >= 0 ? ST_PROBE_WATCH : ST_PROBE_ASSERT;
		if (mode != ST_PROBE_RAISE && !probe_ok(t, mode, &why))
			return fall_back(t, why, fallback, err, errsz);
		if (mode == ST_PROBE_RAISE)
			pr_debug("pid %d: raise probe: %s\n", t->pid, t->assert_why);
	}
	if (!probe_ok(t, mode, &why)) {
		seterr(err, errsz, "pid %d: no %s probe: %s%s", t->pid, target__probe_name(mode), why,
		       mode == ST_PROBE_RAISE ? "" : " (use --probe raise or auto)");
		return -ENOTSUP;
	}
	t->bpf.probe = mode;
	return 0;
}

int target__watch_failed(struct target *t, const char *why, bool fallback, char *err,
			 size_t errsz)
{
	return fall_back(t, why, fallback, err, errsz);
}

void target__set_service(struct target *t, const char *service)
{
	if (service && service[0])
		cut__copy(t->service, sizeof(t->service), service);
	else
		procfs__comm(t->pid, t->service, sizeof(t->service));
}
