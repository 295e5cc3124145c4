// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "resolve/debugoffsets.h"
#include "util/log.h"
#include "memory/remote.h"

static const struct schema {
	unsigned version; /* major/minor: 0x030e0000 */
	const char *const *fields;
} schemas[] = {
#include "resolve/debugoffsets.inc"
};

#define L_(f) offsetof(struct st_py_layout, f), sizeof(((struct st_py_layout *)0)->f)

/* Which published field fills which layout field. */
static const struct {
	const char *name;
	size_t off, width;
} map[] = {
	{ "thread_state.current_frame", L_(tstate_frame) },
	{ "thread_state.next", L_(tstate_next) },
	{ "thread_state.thread_id", L_(tstate_thread_id) },
	{ "interpreter_state.threads_head", L_(interp_threads_head) },
	{ "interpreter_state.imports_modules", L_(interp_modules) },
	{ "interpreter_frame.previous", L_(frame_previous) },
	{ "interpreter_frame.executable", L_(frame_code) },
	{ "interpreter_frame.instr_ptr", L_(frame_instr) },
	{ "interpreter_frame.localsplus", L_(frame_localsplus) },
	{ "interpreter_frame.owner", L_(frame_owner) },
	{ "code_object.filename", L_(code_filename) },
	{ "code_object.name", L_(code_name) },
	{ "code_object.qualname", L_(code_qualname) },
	{ "code_object.linetable", L_(code_linetable) },
	{ "code_object.firstlineno", L_(code_firstlineno) },
	{ "code_object.argcount", L_(code_argcount) },
	{ "code_object.localsplusnames", L_(code_varnames) },
	{ "code_object.co_code_adaptive", L_(code_adaptive) },
	{ "type_object.tp_name", L_(type_name) },
	{ "type_object.tp_flags", L_(type_flags) },
	{ "type_object.tp_dictoffset", L_(type_dictoffset) },      /* 3.15+ */
	{ "heap_type_object.ht_cached_keys", L_(type_cached_keys) }, /* 3.15+ */
	{ "tuple_object.ob_item", L_(tuple_items) },
	{ "tuple_object.ob_size", L_(var_size) },
	{ "list_object.ob_item", L_(list_items) },
	{ "dict_object.ma_keys", L_(dict_keys) },
	{ "dict_object.ma_values", L_(dict_values) },
	{ "long_object.lv_tag", L_(long_tag) },
	{ "long_object.ob_digit", L_(long_digits) },
	{ "bytes_object.ob_sval", L_(bytes_sval) },
	{ "unicode_object.state", L_(str_state) },
	{ "unicode_object.length", L_(str_length) },
	{ "unicode_object.asciiobject_size", L_(str_ascii_data) },
	{ "unicode_object.compactunicodeobject_size", L_(str_compact_data) }, /* 3.15+ */
};

#define MAX(a, b) ((a) > (b) ? (a) : (b))

static const struct schema *find_schema(unsigned version_hex)
{
	size_t i;

	for (i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
		if (schemas[i].version == (version_hex & 0xffff0000))
			return &schemas[i];
	return NULL;
}

static int field_index(const struct schema *s, const char *name)
{
	int i;

	for (i = 0; s->fields[i] && i < DEBUGOFFSETS_MAX_FIELDS; i++)
		if (!strcmp(s->fields[i], name))
			return i;
	return -1;
}

int debugoffsets__apply_buf(const struct debug_offsets *d, size_t len, unsigned version_hex,
			    struct st_py_layout *L, char *err, size_t errsz)
{
	const struct schema *s = find_schema(version_hex);
	unsigned major = version_hex >> 24, minor = (version_hex >> 16) & 0xff;
	size_t i;
	int n = 0;

	if (!s) {
		snprintf(err, errsz, "no _Py_DebugOffsets definition for Python %u.%u in this build",
			 major, minor);
		return -ENOTSUP;
	}
	if (len < offsetof(struct debug_offsets, v) || memcmp(d->cookie, "xdebugpy", 8) ||
	    (d->version & 0xffff0000) != (version_hex & 0xffff0000)) {
		snprintf(err, errsz, "_PyRuntime does not start with _Py_DebugOffsets for %u.%u",
			 major, minor);
		return -EPROTO;
	}
	if (d->free_threaded) {
		snprintf(err, errsz, "free-threaded CPython builds are not supported");
		return -EPROTO;
	}
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		int k = field_index(s, map[i].name);
		uint64_t want;
		char *dst = (char *)L + map[i].off;
		int64_t have;

		if (k < 0)
			continue; /* not published by this version: the headers' value stays */
		if (offsetof(struct debug_offsets, v) + (size_t)(k + 1) * 8 > len) {
			snprintf(err, errsz, "_Py_DebugOffsets is shorter than its %s field",
				 map[i].name);
			return -EPROTO;
		}
		want = d->v[k];
		if (want > (map[i].width == 2 ? 0x7fffu : 0x7fffffffu)) {
			snprintf(err, errsz, "_Py_DebugOffsets: %s is %llu, out of range",
				 map[i].name, (unsigned long long)want);
			return -EPROTO;
		}
		if (map[i].width == 2) {
			__s16 v16;

			memcpy(&v16, dst, 2);
			have = v16;
			v16 = (__s16)want;
			memcpy(dst, &v16, 2);
		} else {
			__s32 v32;

			memcpy(&v32, dst, 4);
			have = v32;
			v32 = (__s32)want;
			memcpy(dst, &v32, 4);
		}
		if (have != (int64_t)want)
			pr_debug("layout: %s is %llu in the target, %lld in the %u.%u headers: "
				 "using the target's\n", map[i].name, (unsigned long long)want,
				 (long long)have, major, minor);
		n++;
	}
	/* what derives from the frame fields: one read per frame in BPF */
	{
		int fr = MAX(MAX(L->frame_code, L->frame_previous), MAX(L->frame_instr, L->frame_owner));

		fr = (MAX(fr + 8, L->frame_localsplus + 8) + 7) & ~7;
		if (fr > ST_FRAME_READ_MAX || L->frame_code & 7 || L->frame_previous & 7 ||
		    L->frame_instr & 7) {
			snprintf(err, errsz, "_Py_DebugOffsets: interpreter frame fields out of range "
				 "(frame read of %d bytes)", fr);
			return -EPROTO;
		}
		L->frame_read = fr;
	}
	if (L->str_length & 7 || L->str_state & 7 || L->str_length >= 64 || L->str_state >= 64) {
		snprintf(err, errsz, "_Py_DebugOffsets: str fields out of range");
		return -EPROTO;
	}
	return n;
}

int debugoffsets__apply(pid_t pid, uint64_t runtime_addr, unsigned version_hex,
			struct st_py_layout *L, char *err, size_t errsz)
{
	struct debug_offsets d;

	if (!find_schema(version_hex)) /* say so before reading anything */
		return debugoffsets__apply_buf(NULL, 0, version_hex, L, err, errsz);
	if (remote__read(pid, runtime_addr, &d, sizeof(d))) {
		snprintf(err, errsz, "cannot read _Py_DebugOffsets at 0x%llx",
			 (unsigned long long)runtime_addr);
		return -EFAULT;
	}
	return debugoffsets__apply_buf(&d, sizeof(d), version_hex, L, err, errsz);
}
