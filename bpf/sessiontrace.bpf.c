// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Raise probe on CPython's _PyErr_SetObject(tstate, type, value).
 *
 * It fires for every exception any traced interpreter raises, so the path
 * for a non-matching exception is: one hash lookup (pid), one compare (type).
 * Only a fresh AssertionError whose message matches one of the configured
 * prefixes gets its frame chain and request scope copied, synchronously,
 * before the request's objects can change.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "sessiontrace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";


/* Message prefixes that identify the failure, set by user space before load. */
const volatile char patterns[ST_NPATTERNS][ST_PATTERN_MAX];
const volatile __u32 pattern_len[ST_NPATTERNS];

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ST_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct st_target);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ST_RB_BYTES);
} events SEC(".maps");

/* Exec and fork events for discovery: small, rare. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} procs SEC(".maps");

/* Indexed by enum st_counter; per CPU, summed by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		*v += 1;
}

static __always_inline __u64 read_ptr(__u64 addr)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

/* The first bytes of a str object: enough for its header and a short key. */
struct str_head {
	__u64 w[8];
};

struct str_info {
	__u64 data;   /* address of the character data */
	__u32 length; /* characters */
	__u8 kind;
	__u8 ascii;
};

static __always_inline int str_info(const struct st_target *t, __u64 obj,
				    const struct str_head *h, struct str_info *si)
{
	const struct st_py_layout *L = &t->layout;
	__u32 state;

	if (h->w[1] != t->unicode_type)
		return -1;
	/* Offsets are validated by user space to be 8-aligned and < 64. */
	si->length = (__u32)h->w[(L->str_length >> 3) & 7];
	if (h->w[(L->str_length >> 3) & 7] > 0x7fffffff)
		return -1;
	state = (__u32)h->w[(L->str_state >> 3) & 7];
	/* interned:2 kind:3 compact:1 ascii:1 — the same bits in 3.10..3.14 */
	if (!(state & (1 << 5)))
		return -1; /* legacy (non-compact) str: not used for our strings */
	si->kind = (state >> 2) & 7;
	if (si->kind != 1 && si->kind != 2 && si->kind != 4)
		return -1;
	si->ascii = (state >> 6) & 1;
	si->data = obj + (si->ascii ? L->str_ascii_data : L->str_compact_data);
	return 0;
}

/* Copy a str's raw data (kind 1/2/4) into buf of size max (a power of 2). */
#define COPY_STR(t, obj, hdr, buf) copy_str(t, obj, hdr, buf, sizeof(buf))
static __always_inline void copy_str(const struct st_target *t, __u64 obj,
				     struct st_str_hdr *hdr, char *buf, __u32 max)
{
	struct str_head h;
	struct str_info si;
	__u64 n;

	if (!obj)
		return;
	if (bpf_probe_read_user(&h, sizeof(h), (void *)obj) || str_info(t, obj, &h, &si)) {
		hdr->flags = ST_STR_BADTYPE;
		return;
	}
	n = (__u64)si.length * si.kind;
	hdr->flags = ST_STR_PRESENT;
	hdr->length = si.length;
	hdr->kind = si.kind;
	if (n > max) {
		n = max;
		hdr->flags |= ST_STR_TRUNCATED;
	}
	if (n && bpf_probe_read_user(buf, n, (void *)si.data)) {
		hdr->flags = ST_STR_BADTYPE;
		return;
	}
	hdr->nbytes = n;
}

/* Names of the scope keys we copy; index into struct scope_vals. */
enum { K_TYPE, K_METHOD, K_PATH, K_ROOT, K_CLIENT, K_APP, K_N };

static __always_inline int scope_key(const struct str_head *h, __u32 off, __u32 len)
{
	/* short ASCII keys: the data starts within the 64 bytes read */
	__u64 a = h->w[(off >> 3) & 7];
	__u64 b = h->w[((off >> 3) + 1) & 7];

	switch (len) {
	case 3:
		if ((a & 0xffffff) == 0x707061) /* "app" */
			return K_APP;
		return -1;
	case 4:
		if ((a & 0xffffffff) == 0x65707974) /* "type" */
			return K_TYPE;
		if ((a & 0xffffffff) == 0x68746170) /* "path" */
			return K_PATH;
		return -1;
	case 6:
		if ((a & 0xffffffffffff) == 0x646f6874656dULL) /* "method" */
			return K_METHOD;
		if ((a & 0xffffffffffff) == 0x746e65696c63ULL) /* "client" */
			return K_CLIENT;
		return -1;
	case 9: /* "root_pat" "h" */
		if (a == 0x7461705f746f6f72ULL && (b & 0xff) == 'h')
			return K_ROOT;
		return -1;
	case 5: /* "scope" */
		if ((a & 0xffffffffff) == 0x65706f6373ULL)
			return K_N;
		return -1;
	}
	return -1;
}

struct scan_ctx {
	const struct st_target *t;
	__u64 entries, values, esz, koff, nentries;
	__u64 vals[8]; /* indexed by K_*; K_N: "scope" */
	__u32 found;
	bool want_scope;
};

/*
 * Where a dict keys object's entries start and how many there are.
 * 3.11+: log2 sizes in bytes; entries of 16 bytes {key, value} unless the
 * kind is DICT_KEYS_GENERAL (0). <=3.10: dk_size, always {hash, key, value}.
 */
static __always_inline int read_keys(const struct st_py_layout *L, __u64 keys,
				     struct scan_ctx *c)
{
	__u64 raw[8];
	__u64 index_bytes, kind = 0;

	if (!keys || L->dk_indices <= 0 || L->dk_indices > (int)sizeof(raw))
		return -1;
	if (bpf_probe_read_user(raw, L->dk_indices & 63, (void *)keys))
		return -1;
	c->nentries = raw[(L->dk_nentries >> 3) & 7];
	if (L->dk_size >= 0) {
		__u64 size = raw[(L->dk_size >> 3) & 7];

		index_bytes = size * (size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffff ? 4 : 8);
		if (index_bytes > (1 << 24))
			return -1;
	} else {
		__u8 log2_index_bytes = ((__u8 *)raw)[L->dk_log2_index_bytes & 31];

		if (log2_index_bytes > 24)
			return -1;
		index_bytes = 1ULL << log2_index_bytes;
		kind = ((__u8 *)raw)[L->dk_kind & 31];
	}
	c->entries = keys + L->dk_indices + index_bytes;
	c->esz = kind ? 16 : 24;
	c->koff = kind ? 0 : 8;
	return 0;
}


static long scan_cb(__u32 i, struct scan_ctx *c)
{
	const struct st_target *t = c->t;
	struct str_head h;
	struct str_info si;
	__u64 e[2], key;
	int k;

	if (i >= c->nentries)
		return 1;
	if (bpf_probe_read_user(e, sizeof(e), (void *)(c->entries + i * c->esz + c->koff)))
		return 1;
	key = e[0];
	if (!key)
		return 0;
	if (bpf_probe_read_user(&h, sizeof(h), (void *)key) || str_info(t, key, &h, &si))
		return 0;
	if (!si.ascii || si.length > 9)
		return 0;
	k = scope_key(&h, si.data - key, si.length);
	if (k < 0 || (k == K_N) != c->want_scope)
		return 0;
	c->vals[k & 7] = c->values ? read_ptr(c->values + t->layout.values_values + 8 * i) : e[1];
	return ++c->found == (c->want_scope ? 1 : K_N);
}

/*
 * Scan a dict's entries for the wanted keys. want_scope: look for "scope"
 * only; otherwise collect the request fields into c->vals[K_*].
 * values: the split-table values array, or 0 for a combined table.
 */
static __always_inline void scan_dict(struct scan_ctx *c, __u64 keys, __u64 values)
{
	if (read_keys(&c->t->layout, keys, c))
		return;
	c->values = values;
	bpf_loop(c->want_scope ? ST_ATTR_SCAN : ST_SCOPE_SCAN, scan_cb, c, 0);
}

/* self.scope for a Request/WebSocket object (instance attribute). */
static __always_inline __u64 get_scope(const struct st_target *t, __u64 self)
{
	const struct st_py_layout *L = &t->layout;
	struct scan_ctx c = { .t = t, .want_scope = true };
	__u64 type, dict = 0, values = 0;

	if (!self)
		return 0;
	type = read_ptr(self + 8);
	switch (L->attr_mode) {
	case ST_ATTR_DICTOFFSET: {
		__s64 off = (__s64)read_ptr(type + L->type_dictoffset);

		if (off <= 0 || off > 4096) /* negative: var-sized objects, not ours */
			return 0;
		dict = read_ptr(self + off);
		break;
	}
	case ST_ATTR_311:
		values = read_ptr(self + L->managed_values);
		if (!values)
			dict = read_ptr(self + L->managed_dict);
		break;
	case ST_ATTR_312:
		dict = read_ptr(self + L->managed_dict);
		if (dict & 1) {
			values = dict + 1;
			dict = 0;
		}
		break;
	case ST_ATTR_313:
		dict = read_ptr(self + L->managed_dict);
		if (!dict && (read_ptr(type + L->type_flags) & L->tpflags_inline)) {
			__u8 valid = 0;

			values = self + L->inline_values;
			if (bpf_probe_read_user(&valid, 1, (void *)(values + L->values_valid)) || !valid)
				return 0;
		}
		break;
	default:
		return 0;
	}
	if (values) {
		/* split table: the keys are shared in the type */
		scan_dict(&c, read_ptr(type + L->type_cached_keys), values);
		return c.vals[K_N];
	}
	if (!dict || read_ptr(dict + 8) != t->dict_type)
		return 0;
	scan_dict(&c, read_ptr(dict + L->dict_keys), read_ptr(dict + L->dict_values));
	return c.vals[K_N];
}

static __always_inline void copy_scope(const struct st_target *t, __u64 scope,
				       struct st_event *ev)
{
	const struct st_py_layout *L = &t->layout;
	struct scan_ctx c = { .t = t };
	__u64 *vals = c.vals;
	__u64 items[2];

	if (!scope || read_ptr(scope + 8) != t->dict_type)
		return;
	scan_dict(&c, read_ptr(scope + L->dict_keys), read_ptr(scope + L->dict_values));
	if (!vals[K_TYPE] && !vals[K_PATH])
		return;
	ev->flags |= ST_EV_REQUEST;
	COPY_STR(t, vals[K_TYPE], &ev->type_h, ev->type);
	COPY_STR(t, vals[K_METHOD], &ev->method_h, ev->method);
	COPY_STR(t, vals[K_PATH], &ev->path_h, ev->path);
	COPY_STR(t, vals[K_ROOT], &ev->root_h, ev->root);
	ev->app = vals[K_APP];
	/* client: (host, port) tuple or None */
	if (vals[K_CLIENT] && read_ptr(vals[K_CLIENT] + 8) == t->tuple_type &&
	    read_ptr(vals[K_CLIENT] + L->var_size) == 2 &&
	    !bpf_probe_read_user(items, sizeof(items), (void *)(vals[K_CLIENT] + L->tuple_items))) {
		ev->flags |= ST_EV_CLIENT;
		COPY_STR(t, items[0], &ev->client_h, ev->client);
		/* a port is one 30-bit digit: ob_digit[0] at +24 in 3.10..3.14 */
		ev->client_port = (__u32)read_ptr(items[1] + 24) & 0x3fffffff;
	}
}

/*
 * python -O: the property's "return self.scope[name]" raises KeyError(name);
 * from C the value is still the argument tuple, from a raise an instance
 * (then without traceback). Exact match of name; user space then checks
 * the top frame is the property itself.
 */
const volatile char prop_names[ST_NPROPS][8]; /* set by user space (props.c) */

static __always_inline int match_key(const struct st_target *t, __u64 msg)
{
	struct str_head h;
	struct str_info si;
	char buf[8] = {};
	__u32 p, i, n;

	if (!msg || bpf_probe_read_user(&h, sizeof(h), (void *)msg) || str_info(t, msg, &h, &si))
		return -1;
	if (!si.ascii || si.length < 4 || si.length > 7)
		return -1;
	/* 8 bytes: within the object (5..8 data bytes with the NUL, blocks of 8) */
	if (bpf_probe_read_user(buf, sizeof(buf), (void *)si.data))
		return -1;
	for (p = 0; p < ST_NPROPS; p++) {
		for (n = 0; n < 8 && prop_names[p][n]; n++)
			;
		if (n != si.length)
			continue;
		for (i = 0; i < 8; i++) {
			if (i >= n)
				return p;
			if (buf[i] != prop_names[p][i])
				break;
		}
	}
	return -1;
}

/* Does the message start with one of the configured prefixes? */
static __always_inline int match_message(const struct st_target *t, __u64 msg)
{
	struct str_head h;
	struct str_info si;
	char buf[ST_PATTERN_MAX];
	__u32 p, i;

	if (!msg || bpf_probe_read_user(&h, sizeof(h), (void *)msg) || str_info(t, msg, &h, &si))
		return -1;
	if (!si.ascii)
		return -1;
	if (bpf_probe_read_user(buf, sizeof(buf), (void *)si.data))
		return -1;
	for (p = 0; p < ST_NPATTERNS; p++) {
		__u32 n = pattern_len[p];

		if (!n || n > ST_PATTERN_MAX || si.length < n)
			continue;
		for (i = 0; i < ST_PATTERN_MAX && i < n; i++)
			if (buf[i] != patterns[p][i])
				break;
		if (i == n) /* n == ST_PATTERN_MAX too */
			return p;
	}
	return -1;
}

struct walk_ctx {
	const struct st_target *t;
	struct st_event *ev;
	__u64 frame, self;
	__u32 n;
};

/*
 * One step of the frame chain: one read per frame, of the first frame_read
 * bytes, which hold every field we need; the rest of fb stays zero.
 */
static long walk_cb(__u32 i, struct walk_ctx *w)
{
	const struct st_py_layout *L = &w->t->layout;
	__u64 fb[16] = {};
	/* a multiple of 8 below sizeof(fb), in a form the verifier can bound */
	__u32 sz = L->frame_read & 0x78;
	__u64 code;
	__u8 owner;

	if (!w->frame || w->n >= ST_MAX_FRAMES)
		return 1;
	if (!sz)
		return 1;
	if (bpf_probe_read_user(fb, sz, (void *)w->frame))
		return 1;
	code = fb[(L->frame_code >> 3) & 15];
	owner = L->frame_owner >= 0 ? ((__u8 *)fb)[L->frame_owner & 127] : 0;
	if (L->tagged)
		code &= ~3ULL;
	if (L->frame_owner < 0 || owner < L->owner_cstack) {
		struct st_frame *f = &w->ev->frames[w->n & (ST_MAX_FRAMES - 1)];

		f->code = code;
		f->instr = fb[(L->frame_instr >> 3) & 15];
		/* 3.11+: self is within the bytes read; <=3.10 it is far in the frame */
		if (L->frame_localsplus >= 0 && L->frame_localsplus + 8 <= sz)
			f->self = fb[(L->frame_localsplus >> 3) & 15];
		else
			f->self = read_ptr(w->frame + L->frame_localsplus);
		if (L->tagged)
			f->self &= ~3ULL;
		if (w->n == 0)
			w->self = f->self;
		w->n++;
	}
	w->frame = fb[(L->frame_previous >> 3) & 15];
	return 0;
}

/*
 * Build and submit the record of one hit on this thread: frame chain from
 * tstate, request scope from the top frame's self. Runs only for real hits.
 */
static __always_inline void capture(const struct st_target *t, __u64 pid_tgid, __u64 tstate,
				    __u64 exc, __u64 msg, __u32 kind, __u32 pattern, __u64 top_instr)
{
	const struct st_py_layout *L = &t->layout;
	struct task_struct *task = bpf_get_current_task_btf();
	struct walk_ctx w = {};
	struct st_event *ev;
	__u64 flags;

	count(ST_C_HITS);
	/*
	 * Built straight in its ring-buffer reservation: uprobe programs run
	 * with migration, not preemption, disabled, so a per-CPU scratch buffer
	 * could be shared by two threads failing at once on one CPU. A
	 * reservation is this hit's own.
	 */
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count(ST_C_LOST);
		return;
	}
	/* the reservation holds an older record's bytes: clear what user space reads as headers */
	__builtin_memset(ev, 0, offsetof(struct st_event, msg));
	ev->ts_ns = bpf_ktime_get_ns();
	ev->pid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->exc = exc;
	ev->pattern = pattern;
	ev->exc_kind = kind;
	/* nsec_to_clock_t(start_boottime) with USER_HZ 100, as /proc/PID/stat */
	ev->start_ticks = BPF_CORE_READ(task, group_leader, start_boottime) / 10000000ULL;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	COPY_STR(t, msg, &ev->msg_h, ev->msg);

	w.frame = read_ptr(tstate + L->tstate_frame);
	if (L->cframe_current >= 0)
		w.frame = read_ptr(w.frame + L->cframe_current);
	w.t = t;
	w.ev = ev;
	bpf_loop(ST_MAX_FRAMES * 2, walk_cb, &w, 0);
	if (top_instr && w.n)
		ev->frames[0].instr = top_instr;
	if (w.frame && w.n >= ST_MAX_FRAMES)
		ev->flags |= ST_EV_FRAMES_TRUNCATED;
	ev->nframes = w.n;
	copy_scope(t, get_scope(t, w.self), ev);
	/*
	 * A wakeup costs ~12 us here (irq_work): user space drains the buffer on
	 * a short timer instead, and is woken only when it fills up.
	 */
	flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > ST_RB_WAKEUP_BYTES ?
		BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(ev, flags);
}

/*
 * An AssertionError or KeyError object being raised: if it is a fresh one
 * with one of our messages (or, for KeyError, property names), capture.
 * Every "raise exc" of the same object comes here again; only the first
 * raise has no traceback yet, and that is the frame that failed.
 */
static __always_inline void check_raise(const struct st_target *t, __u64 pid_tgid, __u64 tstate,
					__u64 exc, __u32 kind)
{
	const struct st_py_layout *L = &t->layout;
	__u64 args, msg;
	int p;

	count(ST_C_ASSERTS);
	if (kind == ST_EXC_KEYERROR && read_ptr(exc + 8) == t->tuple_type) {
		args = exc; /* not normalized yet: value is the args tuple */
	} else {
		if (read_ptr(exc + L->exc_traceback))
			return;
		args = read_ptr(exc + L->exc_args);
	}
	if (!args || read_ptr(args + 8) != t->tuple_type || read_ptr(args + L->var_size) != 1)
		return;
	msg = read_ptr(args + L->tuple_items);
	p = kind == ST_EXC_ASSERT ? match_message(t, msg) : match_key(t, msg);
	if (p < 0 || p >= ST_NPROPS || !(t->kinds & (1U << p)))
		return;
	capture(t, pid_tgid, tstate, exc, msg, kind, p, 0);
}

/* BPF_KPROBE: libbpf 1.1 has no BPF_UPROBE; the argument access is the same. */
SEC("uprobe")
int BPF_KPROBE(raise_probe, void *tstate, void *type, void *value)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	const struct st_target *t;
	__u32 kind;

	t = bpf_map_lookup_elem(&targets, &pid);
	if (!t || t->probe != ST_PROBE_RAISE)
		return 0;
	count(ST_C_RUNS);
	if (!value)
		return 0;
	if ((__u64)type == t->assertion_type)
		kind = ST_EXC_ASSERT;
	else if ((__u64)type == t->keyerror_type && t->keyerror_type)
		kind = ST_EXC_KEYERROR;
	else
		return 0;
	/* one call site: capture() is inlined once, which the verifier's time follows */
	check_raise(t, pid_tgid, (__u64)tstate, (__u64)value, kind);
	return 0;
}

/*
 * 3.14+ assert probe: do_raise(tstate, exc, cause), which only a Python
 * `raise` statement reaches; a failing assert raises the AssertionError
 * instance its LOAD_COMMON_CONSTANT and CALL built. The RAISE_VARARGS
 * handler stored the instruction pointer into the frame before the call,
 * so the top frame's line is the raise's own.
 */
SEC("uprobe")
int BPF_KPROBE(do_raise_probe, void *tstate, void *exc, void *cause)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	const struct st_target *t;

	t = bpf_map_lookup_elem(&targets, &pid);
	if (!t || t->probe != ST_PROBE_ASSERT)
		return 0;
	count(ST_C_RUNS);
	if (exc && read_ptr((__u64)exc + 8) == t->assertion_type)
		check_raise(t, pid_tgid, (__u64)tstate, (__u64)exc, ST_EXC_ASSERT);
	return 0;
}

/*
 * A general-purpose register by its x86 encoding number; 0 for none. The
 * registers are copied first: the verifier refuses a computed offset into
 * the context, which is what a switch over its fields compiles to.
 */
#define REG_SLOT(reg) (offsetof(struct pt_regs, reg) / 8)
static __always_inline __u64 reg_value(struct pt_regs *ctx, __s32 r)
{
	__u64 regs[sizeof(struct pt_regs) / 8];
	__u32 k;

	switch (r) {
	case 0: k = REG_SLOT(ax); break;
	case 1: k = REG_SLOT(cx); break;
	case 2: k = REG_SLOT(dx); break;
	case 3: k = REG_SLOT(bx); break;
	case 5: k = REG_SLOT(bp); break;
	case 6: k = REG_SLOT(si); break;
	case 7: k = REG_SLOT(di); break;
	case 8: k = REG_SLOT(r8); break;
	case 9: k = REG_SLOT(r9); break;
	case 10: k = REG_SLOT(r10); break;
	case 11: k = REG_SLOT(r11); break;
	case 12: k = REG_SLOT(r12); break;
	case 13: k = REG_SLOT(r13); break;
	case 14: k = REG_SLOT(r14); break;
	case 15: k = REG_SLOT(r15); break;
	default: return 0; /* none, or rsp */
	}
	if (k >= sizeof(regs) / 8 || bpf_probe_read_kernel(regs, sizeof(regs), ctx))
		return 0;
	return regs[k];
}

struct tstate_ctx {
	const struct st_py_layout *L;
	__u64 ts, want, found;
};

static long tstate_cb(__u32 i, struct tstate_ctx *c)
{
	if (!c->ts)
		return 1;
	if (read_ptr(c->ts + c->L->tstate_thread_id) == c->want) {
		c->found = c->ts;
		return 1;
	}
	c->ts = read_ptr(c->ts + c->L->tstate_next);
	return 0;
}

/*
 * First instruction of the LOAD_ASSERTION_ERROR handler in the eval loop:
 * runs only when an assert statement fails, so healthy requests never get
 * here. No arguments: the thread state is the main interpreter's one whose
 * thread_id (pthread_self) is this thread's fs base. 3.11+ store the current
 * instruction to the frame only after this point: it is read from the
 * register the handler stores it from (user/opcodes.c finds which). The
 * message is not built yet: user space decides from the top frame's code
 * object whether this is a request property.
 */
SEC("uprobe")
int BPF_KPROBE(assert_probe)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	struct task_struct *task;
	const struct st_target *t;
	const struct st_py_layout *L;
	struct tstate_ctx c = {};
	__u64 interp;

	t = bpf_map_lookup_elem(&targets, &pid);
	if (!t || t->probe != ST_PROBE_ASSERT)
		return 0;
	count(ST_C_RUNS);
	count(ST_C_ASSERTS);
	L = &t->layout;
	if (!t->runtime || L->runtime_interp_main <= 0 || L->tstate_thread_id <= 0)
		return 0;
	interp = read_ptr(t->runtime + L->runtime_interp_main);
	if (!interp)
		return 0;
	task = bpf_get_current_task_btf();
	c.L = L;
	c.want = BPF_CORE_READ(task, thread.fsbase);
	c.ts = read_ptr(interp + L->interp_threads_head);
	bpf_loop(ST_MAX_THREADS, tstate_cb, &c, 0);
	if (!c.found)
		return 0;
	capture(t, pid_tgid, c.found, 0, 0, ST_EXC_ASSERT, ST_NPROPS,
		reg_value(ctx, t->assert_ip_reg));
	return 0;
}

static __always_inline void proc_event(__u32 kind, struct task_struct *task)
{
	struct st_proc_event e = {
		.kind = kind,
		.pid = BPF_CORE_READ(task, tgid),
		.ppid = BPF_CORE_READ(task, real_parent, tgid),
	};

	bpf_ringbuf_output(&procs, &e, sizeof(e), 0);
}

/* Every exec in the system: user space decides whether it serves ASGI. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	proc_event(ST_PROC_EXEC, p);
	return 0;
}

/*
 * gunicorn forks its workers without exec: a new process (not a thread)
 * whose parent is traced is traced too.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ppid = BPF_CORE_READ(parent, tgid);

	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a thread */
	if (!bpf_map_lookup_elem(&targets, &ppid))
		return 0;
	proc_event(ST_PROC_FORK, child);
	return 0;
}
