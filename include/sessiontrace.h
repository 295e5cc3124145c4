/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between bpf/sessiontrace.bpf.c and user space. No includes. */
#ifndef ST_SESSIONTRACE_H
#define ST_SESSIONTRACE_H

#define ST_MAX_FRAMES     64   /* Python frames copied per hit */
#define ST_MAX_TARGETS    4096 /* traced processes */
#define ST_MSG_MAX        128  /* exception message bytes copied */
#define ST_PATH_MAX       1024 /* request path bytes copied (raw str data) */
#define ST_SHORT_MAX      64   /* method, type, root_path, client host */
#define ST_ROOT_MAX       256
#define ST_TRACEPARENT_MAX 64  /* the traceparent header's value (55 bytes in version 00) */
#define ST_HEADER_SCAN    32   /* request headers examined for traceparent */
#define ST_SCOPE_SCAN     48   /* scope dict entries examined */
#define ST_ATTR_SCAN      32   /* instance attribute keys examined */
#define ST_RB_BYTES       (4 << 20) /* record ring buffer */
#define ST_RB_WAKEUP_BYTES (1 << 20) /* wake user space early above this fill */
#define ST_RB_DRAIN_MS    50   /* user space drains the ring buffer this often */
/*
 * Per-process budget (a token bucket in the target's map value): every hit
 * takes a token; while the record ring buffer is more than ST_RB_SHARED_BYTES
 * full, a hit of a process with none left is counted (ST_C_OVER_BUDGET), not
 * recorded, so one process failing as fast as it can leaves the rest of the
 * buffer to the others. Below that fill nothing is refused.
 */
#define ST_BUDGET_RATE    100  /* tokens a second */
#define ST_BUDGET_BURST   200  /* tokens at most */
#define ST_RB_SHARED_BYTES (ST_RB_BYTES / 2)
#define ST_MAX_THREADS    1024 /* thread states searched by the assert probe */
#define ST_WATCH_EVENTS_SCAN 16 /* events of a thread's perf context examined (watch trigger) */
#define ST_FRAME_READ_MAX 128  /* bytes of a frame read per step (layout.frame_read) */
#define ST_NPATTERNS      4    /* assertion messages (enum st_prop) */
#define ST_PATTERN_MAX    64

/* How instance attributes (request.scope) are stored. */
enum st_attr_mode {
	ST_ATTR_DICTOFFSET = 0, /* <=3.10: dict at obj + tp_dictoffset */
	ST_ATTR_311 = 1,        /* 3.11: values at obj+managed_values (keys in the type),
				   else dict at obj+managed_dict */
	ST_ATTR_312 = 2,        /* 3.12: one word at obj+managed_dict: bit 0 set → values at word+1 */
	ST_ATTR_313 = 3,        /* 3.13+: dict at obj+managed_dict, else inline values at
				   obj+inline_values when the type has the flag and they are valid */
};

/*
 * Offsets into CPython objects for one minor version (x86_64, GIL build).
 * Values come from tools/pyoffsets.c compiled against that version's own
 * headers; -1 means "no such field in this version".
 */
struct st_py_layout {
	__u32 version_hex;        /* major/minor only: 0x030b0000 */
	__s16 tstate_frame;       /* tstate->frame | ->cframe | ->current_frame */
	__s16 cframe_current;     /* cframe->current_frame, -1: no cframe */
	__s16 frame_code;         /* f_code / f_executable */
	__s16 frame_previous;     /* previous / f_back */
	__s16 frame_instr;        /* prev_instr / instr_ptr; f_lasti (int) for <=3.10 */
	__s16 frame_owner;        /* -1: frames have no owner byte */
	__s16 frame_localsplus;
	__s16 frame_read;         /* bytes covering code, previous, instr and owner */
	__u8 owner_cstack;        /* frames with an owner >= this are shims (C stack,
				     3.14's interpreter entry frames); 0xff: none */
	__u8 tagged;              /* 3.14: f_executable/localsplus are tagged (mask ~3) */
	/*
	 * 3.11+: the thread's data stack, where the frames of plain calls lie
	 * next to each other (older ones below): read in windows, not one by
	 * one. -1 (3.10): frames are heap objects.
	 */
	__s16 tstate_datastack_chunk; /* PyThreadState.datastack_chunk */
	__s16 tstate_datastack_top;   /* PyThreadState.datastack_top: end of the used part */
	__s16 stackchunk_data;        /* _PyStackChunk.data */
	__s16 pad1;
	__s16 exc_args;
	__s16 exc_traceback;
	__s16 var_size;           /* PyVarObject.ob_size */
	__s16 tuple_items;
	__s16 bytes_sval;
	__s16 str_length;
	__s16 str_state;
	__s16 str_ascii_data;     /* sizeof(PyASCIIObject) */
	__s16 str_compact_data;   /* sizeof(PyCompactUnicodeObject) */
	__s16 type_dictoffset;    /* tp_dictoffset */
	__s16 type_cached_keys;   /* PyHeapTypeObject.ht_cached_keys */
	__s16 type_flags;         /* tp_flags */
	__s16 dict_keys;          /* ma_keys */
	__s16 dict_values;        /* ma_values */
	__s16 dk_size;            /* <=3.10 (Py_ssize_t), else -1 */
	__s16 dk_log2_size;       /* 3.11+, else -1 */
	__s16 dk_log2_index_bytes; /* 3.11+, else -1 */
	__s16 dk_kind;
	__s16 dk_nentries;
	__s16 dk_indices;
	__s16 values_values;      /* PyDictValues.values */
	__s16 values_valid;       /* PyDictValues.valid (3.13+), else -1 */
	__s16 managed_dict;       /* MANAGED_DICT_OFFSET (3.11+) */
	__s16 managed_values;     /* 3.11: values pointer before the object */
	__s16 inline_values;      /* 3.13+: inline PyDictValues at obj + this, else -1 */
	__u32 tpflags_inline;     /* Py_TPFLAGS_INLINE_VALUES (3.13+), else 0 */
	__u8 attr_mode;           /* enum st_attr_mode */
	__u8 pad[3];
	/*
	 * The assert probe has no tstate argument: it finds the thread's state
	 * by walking the main interpreter's threads for thread_id (pthread_self,
	 * the thread's fs base on x86_64). 0: unknown, no assert probe.
	 */
	__s32 runtime_interp_main; /* _PyRuntime.interpreters.main */
	__s32 interp_threads_head; /* PyInterpreterState.threads.head */
	__s32 tstate_next;         /* PyThreadState.next */
	__s32 tstate_thread_id;    /* PyThreadState.thread_id */
	/*
	 * 3.14+: interp->common_consts[CONSTANT_ASSERTIONERROR], which only a
	 * failing assert's LOAD_COMMON_CONSTANT 0 reads: the watch trigger's
	 * data breakpoint. -1: no such slot (<= 3.13).
	 */
	__s32 interp_assert_slot;
	/* code objects: read from user space only */
	__s16 code_filename;
	__s16 code_name;
	__s16 code_qualname;
	__s16 code_firstlineno;
	__s16 code_linetable;
	__s16 code_adaptive;      /* co_code_adaptive (3.11+) */
	__s16 code_code;          /* co_code (<=3.10) */
	__s16 pad2;
	/* remote object reader (user/memory/pyobj.c, user/diagnose/): user space only */
	__s16 code_argcount;      /* co_argcount (int) */
	__s16 code_varnames;      /* co_varnames (<=3.10) | co_localsplusnames: args first */
	__s16 type_name;          /* tp_name (const char *) */
	__s16 type_dict;          /* tp_dict: "__module__" of heap types */
	__s16 type_mro;           /* tp_mro (tuple) */
	__s16 ht_qualname;        /* PyHeapTypeObject.ht_qualname */
	__s16 list_items;         /* PyListObject.ob_item (PyObject **) */
	__s16 cell_ref;           /* PyCellObject.ob_ref */
	__s16 long_digits;        /* first 30-bit digit of an int */
	__s16 long_tag;           /* 3.12+: lv_tag (ndigits << 3 | sign), else -1: ob_size */
	__u16 tpflags_managed_dict; /* Py_TPFLAGS_MANAGED_DICT (3.11+), else 0 */
	__s16 module_dict;        /* PyModuleObject.md_dict */
	__s32 interp_modules;     /* PyInterpreterState.modules | .imports.modules (sys.modules) */
	/* opcode.h: where the assert probe goes (user/resolve/opcodes.c); -1: no such opcode */
	__s16 op_load_assertion_error; /* 3.10-3.13 */
	__s16 op_raise_varargs;
	/* sessiontrace inspect: functions and their code (user space only) */
	__s16 code_names;         /* co_names (tuple): the attribute names LOAD_ATTR indexes */
	__s16 func_code;          /* PyFunctionObject.func_code */
	__s16 func_globals;       /* PyFunctionObject.func_globals: its module's dict */
	__s16 method_func;        /* PyMethodObject.im_func (a bound method's function) */
	__s16 method_self;        /* PyMethodObject.im_self */
	__s16 member_descr_member; /* PyMemberDescrObject.d_member (a __slots__ slot) */
	__s16 memberdef_offset;   /* PyMemberDef.offset: where the slot is in the instance */
};

/* Per traced process (BPF map "targets", key: tgid as seen by the host). */
struct st_target {
	__u64 assertion_type;     /* value of PyExc_AssertionError in that process */
	__u64 unicode_type;       /* &PyUnicode_Type */
	__u64 tuple_type;         /* &PyTuple_Type */
	__u64 dict_type;          /* &PyDict_Type */
	__u64 bytes_type;         /* &PyBytes_Type */
	__u64 list_type;          /* &PyList_Type */
	__u64 keyerror_type;      /* value of PyExc_KeyError: python -O raises it instead */
	__u32 kinds;              /* bit per enum st_prop to report */
	__u32 probe;              /* enum st_probe_kind: which program reports this process */
	__u64 runtime;            /* &_PyRuntime (assert probe) */
	/*
	 * Assert probe, 3.11+: the register (x86 encoding number, 0-15) that
	 * holds the current instruction at the handler's first instruction: the
	 * handler stores it to the frame only after the probe. -1: the frame's
	 * own field is current (<= 3.10).
	 */
	__s32 assert_ip_reg;
	__u32 pad0;
	__u64 watch_addr;         /* watch trigger: the slot its breakpoints are on */
	struct st_py_layout layout;
	/*
	 * Written by BPF, zero from user space: the interned str objects of
	 * the scope keys (enum st_key), learned from the first dict that had
	 * them. A later dict is matched by pointer, without reading its keys.
	 */
	__u64 key_obj[8];
	/* Written by BPF, zero from user space: the budget's bucket (ST_BUDGET_RATE). */
	__u64 budget_ns;          /* tokens counted up to this time (bpf_ktime_get_ns) */
	__s64 budget_tokens;
};

/* The dict keys BPF looks for: the request scope's, and "scope" itself. */
enum st_key {
	ST_KEY_TYPE = 0,
	ST_KEY_METHOD,
	ST_KEY_PATH,
	ST_KEY_ROOT,    /* root_path */
	ST_KEY_CLIENT,
	ST_KEY_APP,
	ST_KEY_SCOPE,   /* the Request's instance attribute */
	ST_KEY_HEADERS, /* the scope's: [(name, value), ...] as bytes, for traceparent */
	ST_NKEYS,
};

/* Which HTTPConnection property failed; also the index of its message pattern. */
enum st_prop {
	ST_PROP_SESSION = 0, /* request.session: SessionMiddleware */
	ST_PROP_AUTH,        /* request.auth: AuthenticationMiddleware */
	ST_PROP_USER,        /* request.user: AuthenticationMiddleware */
	ST_NPROPS,
};

/* The probe points (README.md, "How it works"). */
enum st_probe_kind {
	ST_PROBE_RAISE = 0,  /* _PyErr_SetObject: every raise, filtered in BPF */
	ST_PROBE_ASSERT = 1, /* LOAD_ASSERTION_ERROR handler (3.14+: do_raise): failing asserts */
	ST_PROBE_WATCH = 2,  /* 3.14+: a data breakpoint on the slot a failing assert reads */
};

/* How it failed. */
enum st_exc_kind {
	ST_EXC_ASSERT = 0,   /* AssertionError with the property's message */
	ST_EXC_KEYERROR,     /* python -O: KeyError('<property>') from scope[...] */
};

/* BPF per-CPU counters, summed by user space. */
enum st_counter {
	ST_C_RUNS = 0, /* probe runs in a traced process */
	ST_C_ASSERTS,  /* of which AssertionError or KeyError */
	ST_C_HITS,     /* of which first raise with a matching message */
	ST_C_LOST,     /* hits whose record could not be reserved */
	ST_C_EXECS,    /* execs passed to user space (discovery: the exec filter's output) */
	ST_C_LISTENS,  /* listen() calls of Python processes passed to user space */
	ST_C_PROCS_LOST, /* process events (exec, fork, listen) the ring buffer had no room for */
	ST_C_OVER_BUDGET, /* hits not recorded: their process was over its budget (ST_BUDGET_RATE) */
	ST_NCOUNTERS,
};

enum st_str_flags {
	ST_STR_PRESENT   = 1 << 0, /* the object existed and was a str */
	ST_STR_TRUNCATED = 1 << 1, /* more characters than were copied */
	ST_STR_BADTYPE   = 1 << 2, /* an object, but not a (compact) str */
};

/* Raw str data as CPython stores it: kind 1 (latin-1), 2 (UCS-2) or 4 (UCS-4). */
struct st_str_hdr {
	__u32 length;    /* characters in the Python object */
	__u16 nbytes;    /* bytes copied into data */
	__u8 kind;
	__u8 flags;      /* enum st_str_flags */
};

struct st_frame {
	__u64 code;
	__u64 instr;     /* instruction pointer, or f_lasti (<=3.10) */
	__u64 self;      /* first local (self of a method), unverified */
};

enum st_event_flags {
	ST_EV_REQUEST   = 1 << 0, /* a scope dict was found */
	ST_EV_FRAMES_TRUNCATED = 1 << 1,
	ST_EV_CLIENT    = 1 << 2,
	ST_EV_NO_SCRATCH = 1 << 3, /* both scratch slots of the CPU in use: no frames, no scope */
};

struct st_event {
	__u64 ts_ns;             /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u32 pid;
	__u32 tid;
	__u64 exc;               /* exception object address */
	char comm[16];
	__u32 flags;             /* enum st_event_flags */
	__u32 nframes;
	__u32 client_port;
	__u32 pattern;           /* enum st_prop; ST_NPROPS: assert probe, user space decides */
	__u32 exc_kind;          /* enum st_exc_kind */
	__u32 pad;
	__u64 app;               /* scope["app"]: the (sub-)app serving the request */
	__u64 start_ticks;       /* the process's start time, as /proc/PID/stat field 22:
				    tells a reused pid from the process user space knows */
	struct st_str_hdr msg_h, type_h, method_h, path_h, root_h, client_h;
	struct st_str_hdr traceparent_h; /* kind 1: the header's bytes (W3C Trace Context) */
	char msg[ST_MSG_MAX];
	char type[ST_SHORT_MAX];
	char method[ST_SHORT_MAX];
	char client[ST_SHORT_MAX];
	char root[ST_ROOT_MAX];
	char traceparent[ST_TRACEPARENT_MAX];
	char path[ST_PATH_MAX];
	struct st_frame frames[ST_MAX_FRAMES];
};

/* Process life cycle, for discovery (ring buffer "procs"). */
enum st_proc_kind {
	ST_PROC_EXEC = 1,   /* pid exec'd a new program */
	ST_PROC_FORK = 2,   /* a traced or listening process forked a new process pid */
	ST_PROC_LISTEN = 3, /* a Python process called listen() */
};

#define ST_FORKERS_MAX 4096 /* processes whose forks are reported (BPF map "forkers") */
#define ST_CHECK_VERDICTS 16 /* slots of the BPF map "checks": discovery's verdicts */

struct st_proc_event {
	__u32 kind;  /* enum st_proc_kind */
	__u32 pid;   /* tgid, host pid namespace */
	__u32 ppid;  /* real parent's tgid */
	__u32 pad;
};

#endif /* ST_SESSIONTRACE_H */
