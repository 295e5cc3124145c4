// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "debugoffsets.h"
#include "remote.h"

/*
 * The prefix of _Py_DebugOffsets we compare, as defined in CPython v3.13.0
 * Include/internal/pycore_runtime.h. 3.14 inserts fields (e.g. threads_main),
 * so each minor version needs its own definition: only 3.13 is known here.
 */
struct debug_offsets_313 {
	char cookie[8];
	uint64_t version;
	uint64_t free_threaded;
	struct { uint64_t size, finalizing, interpreters_head; } runtime_state;
	struct {
		uint64_t size, id, next, threads_head, gc, imports_modules, sysdict, builtins,
			ceval_gil, gil_runtime_state, gil_runtime_state_enabled,
			gil_runtime_state_locked, gil_runtime_state_holder;
	} interpreter_state;
	struct {
		uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id,
			datastack_chunk, status;
	} thread_state;
	struct { uint64_t size, previous, executable, instr_ptr, localsplus, owner; } interpreter_frame;
	struct {
		uint64_t size, filename, name, qualname, linetable, firstlineno, argcount,
			localsplusnames, localspluskinds, co_code_adaptive;
	} code_object;
	struct { uint64_t size, ob_type; } pyobject;
	struct { uint64_t size, tp_name, tp_repr, tp_flags; } type_object;
	struct { uint64_t size, ob_item, ob_size; } tuple_object;
	struct { uint64_t size, ob_item, ob_size; } list_object;
	struct { uint64_t size, ma_keys, ma_values; } dict_object;
	struct { uint64_t size, ob_fval; } float_object;
	struct { uint64_t size, lv_tag, ob_digit; } long_object;
	struct { uint64_t size, ob_size, ob_sval; } bytes_object;
	struct { uint64_t size, state, length, asciiobject_size; } unicode_object;
};

#define D(f) offsetof(struct debug_offsets_313, f)
#define L_(f) offsetof(struct st_py_layout, f)

static const struct {
	const char *name;
	size_t debug;  /* offset of the u64 in _Py_DebugOffsets */
	size_t layout; /* offset of the field in st_py_layout */
	size_t width;  /* its size: __s16, or __s32 for the wide ones */
} fields_313[] = {
	{ "thread_state.current_frame", D(thread_state.current_frame), L_(tstate_frame), 2 },
	{ "interpreter_frame.previous", D(interpreter_frame.previous), L_(frame_previous), 2 },
	{ "interpreter_frame.executable", D(interpreter_frame.executable), L_(frame_code), 2 },
	{ "interpreter_frame.instr_ptr", D(interpreter_frame.instr_ptr), L_(frame_instr), 2 },
	{ "interpreter_frame.localsplus", D(interpreter_frame.localsplus), L_(frame_localsplus), 2 },
	{ "interpreter_frame.owner", D(interpreter_frame.owner), L_(frame_owner), 2 },
	{ "code_object.filename", D(code_object.filename), L_(code_filename), 2 },
	{ "code_object.name", D(code_object.name), L_(code_name), 2 },
	{ "code_object.qualname", D(code_object.qualname), L_(code_qualname), 2 },
	{ "code_object.linetable", D(code_object.linetable), L_(code_linetable), 2 },
	{ "code_object.firstlineno", D(code_object.firstlineno), L_(code_firstlineno), 2 },
	{ "code_object.co_code_adaptive", D(code_object.co_code_adaptive), L_(code_adaptive), 2 },
	{ "type_object.tp_flags", D(type_object.tp_flags), L_(type_flags), 2 },
	{ "tuple_object.ob_item", D(tuple_object.ob_item), L_(tuple_items), 2 },
	{ "tuple_object.ob_size", D(tuple_object.ob_size), L_(var_size), 2 },
	{ "dict_object.ma_keys", D(dict_object.ma_keys), L_(dict_keys), 2 },
	{ "dict_object.ma_values", D(dict_object.ma_values), L_(dict_values), 2 },
	{ "bytes_object.ob_size", D(bytes_object.ob_size), L_(var_size), 2 },
	{ "bytes_object.ob_sval", D(bytes_object.ob_sval), L_(bytes_sval), 2 },
	{ "unicode_object.state", D(unicode_object.state), L_(str_state), 2 },
	{ "unicode_object.length", D(unicode_object.length), L_(str_length), 2 },
	{ "unicode_object.asciiobject_size", D(unicode_object.asciiobject_size), L_(str_ascii_data), 2 },
	{ "code_object.argcount", D(code_object.argcount), L_(code_argcount), 2 },
	{ "code_object.localsplusnames", D(code_object.localsplusnames), L_(code_varnames), 2 },
	{ "type_object.tp_name", D(type_object.tp_name), L_(type_name), 2 },
	{ "list_object.ob_item", D(list_object.ob_item), L_(list_items), 2 },
	{ "long_object.lv_tag", D(long_object.lv_tag), L_(long_tag), 2 },
	{ "long_object.ob_digit", D(long_object.ob_digit), L_(long_digits), 2 },
	{ "interpreter_state.imports_modules", D(interpreter_state.imports_modules),
	  L_(interp_modules), 4 },
	{ "interpreter_state.threads_head", D(interpreter_state.threads_head),
	  L_(interp_threads_head), 4 },
	{ "thread_state.next", D(thread_state.next), L_(tstate_next), 4 },
	{ "thread_state.thread_id", D(thread_state.thread_id), L_(tstate_thread_id), 4 },
};

int debugoffsets__check(pid_t pid, uint64_t runtime_addr, unsigned version_hex,
			const struct st_py_layout *L, char *err, size_t errsz)
{
	struct debug_offsets_313 d;
	size_t i;

	if ((version_hex & 0xffff0000) != 0x030d0000) {
		snprintf(err, errsz, "no _Py_DebugOffsets definition for Python %u.%u",
			 version_hex >> 24, (version_hex >> 16) & 0xff);
		return -ENOTSUP;
	}
	if (remote__read(pid, runtime_addr, &d, sizeof(d))) {
		snprintf(err, errsz, "cannot read _Py_DebugOffsets at 0x%llx",
			 (unsigned long long)runtime_addr);
		return -EFAULT;
	}
	if (memcmp(d.cookie, "xdebugpy", 8) || (d.version & 0xffff0000) != (version_hex & 0xffff0000)) {
		snprintf(err, errsz, "_PyRuntime does not start with _Py_DebugOffsets for %u.%u",
			 version_hex >> 24, (version_hex >> 16) & 0xff);
		return -EPROTO;
	}
	if (d.free_threaded) {
		snprintf(err, errsz, "free-threaded CPython builds are not supported");
		return -EPROTO;
	}
	for (i = 0; i < sizeof(fields_313) / sizeof(fields_313[0]); i++) {
		uint64_t want;
		int32_t have;

		memcpy(&want, (const char *)&d + fields_313[i].debug, sizeof(want));
		if (fields_313[i].width == 4) {
			memcpy(&have, (const char *)L + fields_313[i].layout, sizeof(have));
		} else {
			__s16 h16;

			memcpy(&h16, (const char *)L + fields_313[i].layout, sizeof(h16));
			have = h16;
		}
		if (have < 0 || (uint64_t)have != want) {
			snprintf(err, errsz, "layout disagrees with the target's _Py_DebugOffsets: "
				 "%s is %llu there, %d here", fields_313[i].name,
				 (unsigned long long)want, have);
			return -EPROTO;
		}
	}
	return (int)i;
}
