// SPDX-License-Identifier: BSD-2-Clause
/*
 * Prints the st_py_layout table entry for the CPython whose headers this is
 * compiled against (scripts/gen-layouts.sh). The per-version #ifs live here,
 * in the generator, so that the tracer itself only ever sees data.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#include <opcode.h>
#include <structmember.h> /* PyMemberDef (3.10, 3.11) */
#if PY_VERSION_HEX >= 0x030b0000
#include "internal/pycore_frame.h"
#include "internal/pycore_code.h"
#endif
#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_moduleobject.h"
#if PY_VERSION_HEX >= 0x030e0000
#include "internal/pycore_opcode_utils.h" /* CONSTANT_ASSERTIONERROR */
#endif
#if PY_VERSION_HEX >= 0x030b0000
#include "internal/pycore_dict.h"
#include "internal/pycore_object.h"
#else
#include <frameobject.h>
/*
 * 3.10 does not install Objects/dict-common.h: its dict keys object,
 * copied from v3.10.13 Objects/dict-common.h.
 */
typedef struct {
	Py_ssize_t dk_refcnt;
	Py_ssize_t dk_size;
	void *dk_lookup;
	Py_ssize_t dk_usable;
	Py_ssize_t dk_nentries;
	char dk_indices[];
} PyDictKeysObject310;
#endif

#define F(name, val) printf("\t\t.%s = %ld,\n", name, (long)(val))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
/*
 * Bytes of a frame to read so that code, previous, instr and owner are
 * covered, and the first local (self) too when it is near (3.11+): one read
 * per frame in BPF.
 */
#define FRAME_READ(code, prev, instr, owner) \
	((MAX(MAX(code, prev), MAX(instr, owner)) + 8) & ~7)
#define FRAME_READ_SELF(code, prev, instr, owner, local0) \
	MAX(FRAME_READ(code, prev, instr, owner), (local0) + 8)

/* The names of the frame fields per version (one list of fields below). */
#if PY_VERSION_HEX >= 0x030d0000
#define TSTATE_FRAME   offsetof(PyThreadState, current_frame)
#define CFRAME_CURRENT -1
#define FRAME_CODE     f_executable
#define FRAME_INSTR    instr_ptr
#elif PY_VERSION_HEX >= 0x030b0000
#define TSTATE_FRAME   offsetof(PyThreadState, cframe)
#define CFRAME_CURRENT offsetof(_PyCFrame, current_frame)
#define FRAME_CODE     f_code
#define FRAME_INSTR    prev_instr
#endif
/* The first owner value that is a shim: 3.14 added FRAME_OWNED_BY_INTERPRETER (3) before CSTACK (4). */
#if PY_VERSION_HEX >= 0x030e0000
#define OWNER_CSTACK FRAME_OWNED_BY_INTERPRETER
#elif PY_VERSION_HEX >= 0x030c0000
#define OWNER_CSTACK FRAME_OWNED_BY_CSTACK
#else
#define OWNER_CSTACK 0xff
#endif

/* Frames and the thread's data stack: the stack walk. */
static void frames(void)
{
#if PY_VERSION_HEX >= 0x030b0000
	/* 3.11+: _PyInterpreterFrame; 3.13 renamed f_code and prev_instr, dropped _PyCFrame */
	F("tstate_frame", TSTATE_FRAME);
	F("cframe_current", CFRAME_CURRENT);
	F("frame_code", offsetof(_PyInterpreterFrame, FRAME_CODE));
	F("frame_previous", offsetof(_PyInterpreterFrame, previous));
	F("frame_instr", offsetof(_PyInterpreterFrame, FRAME_INSTR));
	F("frame_owner", offsetof(_PyInterpreterFrame, owner));
	F("frame_localsplus", offsetof(_PyInterpreterFrame, localsplus));
	F("frame_read", FRAME_READ_SELF(offsetof(_PyInterpreterFrame, FRAME_CODE),
					offsetof(_PyInterpreterFrame, previous),
					offsetof(_PyInterpreterFrame, FRAME_INSTR),
					offsetof(_PyInterpreterFrame, owner),
					offsetof(_PyInterpreterFrame, localsplus)));
	F("owner_cstack", OWNER_CSTACK);
	F("tstate_datastack_chunk", offsetof(PyThreadState, datastack_chunk));
	F("tstate_datastack_top", offsetof(PyThreadState, datastack_top));
	F("stackchunk_data", offsetof(_PyStackChunk, data));
#else
	F("tstate_frame", offsetof(PyThreadState, frame));
	F("cframe_current", -1);
	F("frame_code", offsetof(PyFrameObject, f_code));
	F("frame_previous", offsetof(PyFrameObject, f_back));
	F("frame_instr", offsetof(PyFrameObject, f_lasti));
	F("frame_owner", -1);
	F("frame_localsplus", offsetof(PyFrameObject, f_localsplus));
	F("frame_read", FRAME_READ(offsetof(PyFrameObject, f_code),
				   offsetof(PyFrameObject, f_back),
				   offsetof(PyFrameObject, f_lasti), 0));
	F("owner_cstack", 0xff);
	F("tstate_datastack_chunk", -1); /* frames are heap objects */
	F("tstate_datastack_top", -1);
	F("stackchunk_data", -1);
#endif
}

/* Exceptions, tuples, bytes, str and type headers. */
static void objects(void)
{
	F("tagged", PY_VERSION_HEX >= 0x030e0000);
	F("exc_args", offsetof(PyBaseExceptionObject, args));
	F("exc_traceback", offsetof(PyBaseExceptionObject, traceback));
	F("var_size", offsetof(PyVarObject, ob_size));
	F("tuple_items", offsetof(PyTupleObject, ob_item));
	F("bytes_sval", offsetof(PyBytesObject, ob_sval));
	F("str_length", offsetof(PyASCIIObject, length));
	F("str_state", offsetof(PyASCIIObject, state));
	F("str_ascii_data", sizeof(PyASCIIObject));
	F("str_compact_data", sizeof(PyCompactUnicodeObject));
	F("type_dictoffset", offsetof(PyTypeObject, tp_dictoffset));
	F("type_cached_keys", offsetof(PyHeapTypeObject, ht_cached_keys));
	F("type_flags", offsetof(PyTypeObject, tp_flags));
}

/* Dicts, their keys and values, and how instances keep their attributes. */
static void dicts(void)
{
	F("dict_keys", offsetof(PyDictObject, ma_keys));
	F("dict_values", offsetof(PyDictObject, ma_values));
#if PY_VERSION_HEX >= 0x030b0000
	F("dk_size", -1);
	F("dk_log2_size", offsetof(PyDictKeysObject, dk_log2_size));
	F("dk_log2_index_bytes", offsetof(PyDictKeysObject, dk_log2_index_bytes));
	F("dk_kind", offsetof(PyDictKeysObject, dk_kind));
	F("dk_nentries", offsetof(PyDictKeysObject, dk_nentries));
	F("dk_indices", offsetof(PyDictKeysObject, dk_indices));
	F("values_values", offsetof(PyDictValues, values));
#ifdef MANAGED_DICT_OFFSET
	F("managed_dict", MANAGED_DICT_OFFSET);
#else
	/* 3.11 _PyObject_ManagedDictPointer, 3.12 _PyObject_DictOrValuesPointer: obj - 3 words */
	F("managed_dict", -3 * (long)sizeof(PyObject *));
#endif
#else
	F("dk_size", offsetof(PyDictKeysObject310, dk_size));
	F("dk_log2_size", -1);
	F("dk_log2_index_bytes", -1);
	F("dk_kind", -1);
	F("dk_nentries", offsetof(PyDictKeysObject310, dk_nentries));
	F("dk_indices", offsetof(PyDictKeysObject310, dk_indices));
	F("values_values", 0); /* ma_values is a PyObject ** */
	F("managed_dict", 0);
#endif
#if PY_VERSION_HEX >= 0x030d0000
	F("values_valid", offsetof(PyDictValues, valid));
	F("inline_values", sizeof(PyObject));
	F("tpflags_inline", Py_TPFLAGS_INLINE_VALUES);
#else
	F("values_valid", -1);
	F("inline_values", -1);
	F("tpflags_inline", 0);
#endif
#if PY_VERSION_HEX >= 0x030b0000 && PY_VERSION_HEX < 0x030c0000
	/* 3.11 _PyObject_ValuesPointer: obj - 4 words */
	F("managed_values", -4 * (long)sizeof(PyObject *));
#else
	F("managed_values", 0);
#endif
#if PY_VERSION_HEX >= 0x030d0000
	printf("\t\t.attr_mode = ST_ATTR_313,\n");
#elif PY_VERSION_HEX >= 0x030c0000
	printf("\t\t.attr_mode = ST_ATTR_312,\n");
#elif PY_VERSION_HEX >= 0x030b0000
	printf("\t\t.attr_mode = ST_ATTR_311,\n");
#else
	printf("\t\t.attr_mode = ST_ATTR_DICTOFFSET,\n");
#endif
}

/* The thread list (assert probe) and code objects. */
static void threads_and_code(void)
{
	/* assert probe: the thread's state, found from _PyRuntime */
	F("runtime_interp_main", offsetof(_PyRuntimeState, interpreters.main));
#if PY_VERSION_HEX >= 0x030b0000
	F("interp_threads_head", offsetof(PyInterpreterState, threads.head));
#else
	F("interp_threads_head", offsetof(PyInterpreterState, tstate_head));
#endif
	F("tstate_next", offsetof(PyThreadState, next));
	F("tstate_thread_id", offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030e0000
	/* watch trigger: the slot only a failing assert's LOAD_COMMON_CONSTANT 0 reads */
	F("interp_assert_slot", offsetof(PyInterpreterState, common_consts) +
				CONSTANT_ASSERTIONERROR * sizeof(PyObject *));
#else
	F("interp_assert_slot", -1); /* LOAD_ASSERTION_ERROR loads PyExc_AssertionError itself */
#endif
	F("code_filename", offsetof(PyCodeObject, co_filename));
	F("code_name", offsetof(PyCodeObject, co_name));
#if PY_VERSION_HEX >= 0x030b0000
	F("code_qualname", offsetof(PyCodeObject, co_qualname));
	F("code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
	F("code_code", -1);
#else
	F("code_qualname", -1);
	F("code_adaptive", -1);
	F("code_code", offsetof(PyCodeObject, co_code));
#endif
	F("code_firstlineno", offsetof(PyCodeObject, co_firstlineno));
	F("code_linetable", offsetof(PyCodeObject, co_linetable));
	F("code_argcount", offsetof(PyCodeObject, co_argcount));
#if PY_VERSION_HEX >= 0x030b0000
	/* 3.11 folded co_varnames into co_localsplusnames (arguments still first) */
	F("code_varnames", offsetof(PyCodeObject, co_localsplusnames));
#else
	F("code_varnames", offsetof(PyCodeObject, co_varnames));
#endif
}

/* Types, lists, cells, ints, modules, opcodes, functions and descriptors. */
static void types_and_modules(void)
{
	F("type_name", offsetof(PyTypeObject, tp_name));
	F("type_dict", offsetof(PyTypeObject, tp_dict));
	F("type_mro", offsetof(PyTypeObject, tp_mro));
	F("ht_qualname", offsetof(PyHeapTypeObject, ht_qualname));
	F("list_items", offsetof(PyListObject, ob_item));
	F("cell_ref", offsetof(PyCellObject, ob_ref));
#if PY_VERSION_HEX >= 0x030c0000
	F("long_digits", offsetof(PyLongObject, long_value.ob_digit));
	F("long_tag", offsetof(PyLongObject, long_value.lv_tag));
#else
	F("long_digits", offsetof(PyLongObject, ob_digit));
	F("long_tag", -1);
#endif
#ifdef Py_TPFLAGS_MANAGED_DICT
	F("tpflags_managed_dict", Py_TPFLAGS_MANAGED_DICT);
#else
	F("tpflags_managed_dict", 0);
#endif
	F("module_dict", offsetof(PyModuleObject, md_dict));
#if PY_VERSION_HEX >= 0x030c0000
	F("interp_modules", offsetof(PyInterpreterState, imports.modules));
#else
	F("interp_modules", offsetof(PyInterpreterState, modules));
#endif
#ifdef LOAD_ASSERTION_ERROR
	F("op_load_assertion_error", LOAD_ASSERTION_ERROR);
#else
	F("op_load_assertion_error", -1); /* 3.14: LOAD_COMMON_CONSTANT 0 instead */
#endif
	F("op_raise_varargs", RAISE_VARARGS);
	F("code_names", offsetof(PyCodeObject, co_names));
	F("func_code", offsetof(PyFunctionObject, func_code));
	F("func_globals", offsetof(PyFunctionObject, func_globals));
	F("method_func", offsetof(PyMethodObject, im_func));
	F("method_self", offsetof(PyMethodObject, im_self));
	F("member_descr_member", offsetof(PyMemberDescrObject, d_member));
	F("memberdef_offset", offsetof(PyMemberDef, offset));
}

int main(void)
{
	printf("\t{ /* %s */\n", PY_VERSION);
	printf("\t\t.version_hex = 0x%08x,\n", (unsigned)(PY_VERSION_HEX & 0xffff0000));
	frames();
	objects();
	dicts();
	threads_and_code();
	types_and_modules();
	printf("\t},\n");
	return 0;
}
