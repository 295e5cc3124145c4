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

/*
 * make bench's stage profile (built with -DST_PROFILE, never shipped): ns
 * spent per stage of a captured hit, summed; ST_PROF_HITS counts the hits.
 */
enum st_prof {
	ST_PROF_MATCH,   /* the exception, its message, the record's reservation */
	ST_PROF_TASK,    /* time, comm, start time, scratch slot */
	ST_PROF_TSTATE,  /* the thread state: newest frame, data stack bounds */
	ST_PROF_FRAMES,  /* the frame walk */
	ST_PROF_SELF,    /* the Request's scope attribute */
	ST_PROF_SCOPE,   /* the scope dict and its strings */
	ST_PROF_SUBMIT,
	ST_PROF_HITS,
	ST_NPROF,
};
#ifdef ST_PROFILE
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_NPROF);
	__type(key, __u32);
	__type(value, __u64);
} profile SEC(".maps");

static __always_inline void profile_add(__u32 stage, __u64 *t)
{
	__u64 now = bpf_ktime_get_ns(), *v = bpf_map_lookup_elem(&profile, &stage);

	if (v)
		*v += stage == ST_PROF_HITS ? 1 : now - *t;
	*t = now;
}
#define PROFILE_NOW() bpf_ktime_get_ns()
#define PROFILE(stage, t) profile_add(stage, t)
#else
#define PROFILE_NOW() 0
#define PROFILE(stage, t) do { } while (0)
#endif

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

/*
 * Scratch memory for the bulk reads: a window of the thread's data stack
 * (the frames of plain calls), a frame read alone, a dict's entries. One
 * read of a few KiB costs about what two 8-byte reads cost (~70 ns each):
 * reading in bulk is what keeps a hit cheap. Uprobe programs can be
 * preempted on this CPU by another thread's, so a slot is taken with an
 * atomic exchange; two slots per CPU, and a hit that finds both taken is
 * recorded without frames and scope (ST_EV_NO_SCRATCH).
 */
#define WINDOW      8192 /* bytes of data stack read at once */
#define ALONE       WINDOW /* where a frame read alone goes */
#define ENTRIES_MAX (ST_SCOPE_SCAN * 24) /* dict entries read at once */
#define TSTATE_READ 256 /* thread state bytes read, from tstate_frame on */
/*
 * Bytes of a dict keys object read at once: header, indices and entries of a
 * dict of up to 32 keys (the scope, an instance's attributes); a bigger
 * one's entries take a second read.
 */
#define KEYS_READ   640
#define SCAN_BYTES  (KEYS_READ > ENTRIES_MAX ? KEYS_READ : ENTRIES_MAX) /* entries lie below */

/*
 * The frame walk's state lives here, not on the stack: the verifier does
 * not follow values in map memory, so the walk's loop is verified once,
 * not once per frame count and window.
 */
struct walk_state {
	__u64 frame, self;
	__u64 stack_lo, stack_hi; /* the used part of the current data stack chunk */
	__u64 win_lo, win_hi;     /* what buf[0..] holds now */
	__u32 n;                  /* frames recorded */
	__u32 pad;
};

/* A dict scan's state, in the scratch for the same reason. */
struct scan_state {
	__u32 esz, koff; /* entry size, key offset in it */
	__u32 eoff;      /* where the entries are in the scratch */
	__u32 n;         /* entries read */
	__u32 want, found; /* bit per enum st_key */
	__u64 matched;   /* bit per entry: its key is one of ours */
	__u64 vals[ST_NKEYS + 1];
	__u8 idx[ST_NKEYS + 1];
};

struct scratch {
	__u64 busy;
	struct walk_state w;
	struct scan_state scan;
	/*
	 * copy_scope's object headers: off its stack, which adds up with its
	 * caller's and a bpf_loop callback's (6.18 counts all three in 512 bytes)
	 */
	__u64 tmp[10]; /* a tuple header and two items at most */
	__u8 buf[WINDOW + ST_FRAME_READ_MAX + 128];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline struct scratch *scratch_get(void)
{
	__u32 k;

	for (k = 0; k < 2; k++) {
		struct scratch *s = bpf_map_lookup_elem(&scratch, &k);

		if (s && !__sync_lock_test_and_set(&s->busy, 1))
			return s;
	}
	return NULL;
}

/* The first bytes of a str object: its header, and the data of a short str. */
struct str_head {
	__u64 w[8];
};

struct str_info {
	__u64 data;   /* address of the character data */
	__u32 length; /* characters */
	__u8 kind;
	__u8 ascii;
	__u8 interned;
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
	/* interned:2 kind:3 compact:1 ascii:1 — the same bits in 3.10..3.15 */
	if (!(state & (1 << 5)))
		return -1; /* legacy (non-compact) str: not used for our strings */
	si->kind = (state >> 2) & 7;
	if (si->kind != 1 && si->kind != 2 && si->kind != 4)
		return -1;
	si->ascii = (state >> 6) & 1;
	si->interned = state & 3;
	si->data = obj + (si->ascii ? L->str_ascii_data : L->str_compact_data);
	return 0;
}

/*
 * Copy a str's raw data (kind 1/2/4) into buf of size max (a power of 2).
 * A short str is already in the header's bytes: one read.
 */
#define COPY_STR(t, obj, hdr, buf) copy_str(t, obj, hdr, buf, sizeof(buf))
static __always_inline void copy_str(const struct st_target *t, __u64 obj,
				     struct st_str_hdr *hdr, char *buf, __u32 max)
{
	struct str_head h;
	struct str_info si;
	__u64 n, off;

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
	off = si.data - obj;
	if (n && off + n <= sizeof(h)) {
		if (bpf_probe_read_kernel(buf, n & (sizeof(h) - 1), (char *)&h + (off & (sizeof(h) - 1))))
			n = 0;
	} else if (n && bpf_probe_read_user(buf, n, (void *)si.data)) {
		hdr->flags = ST_STR_BADTYPE;
		return;
	}
	hdr->nbytes = n;
}

/* The key a short ASCII str spells, from the bytes in its header; -1: none of ours. */
static __always_inline int key_of(const struct str_head *h, __u32 off, __u32 len)
{
	__u64 a = h->w[(off >> 3) & 7];
	__u64 b = h->w[((off >> 3) + 1) & 7];

	switch (len) {
	case 3:
		if ((a & 0xffffff) == 0x707061) /* "app" */
			return ST_KEY_APP;
		return -1;
	case 4:
		if ((a & 0xffffffff) == 0x65707974) /* "type" */
			return ST_KEY_TYPE;
		if ((a & 0xffffffff) == 0x68746170) /* "path" */
			return ST_KEY_PATH;
		return -1;
	case 6:
		if ((a & 0xffffffffffff) == 0x646f6874656dULL) /* "method" */
			return ST_KEY_METHOD;
		if ((a & 0xffffffffffff) == 0x746e65696c63ULL) /* "client" */
			return ST_KEY_CLIENT;
		return -1;
	case 9: /* "root_pat" "h" */
		if (a == 0x7461705f746f6f72ULL && (b & 0xff) == 'h')
			return ST_KEY_ROOT;
		return -1;
	case 5: /* "scope" */
		if ((a & 0xffffffffff) == 0x65706f6373ULL)
			return ST_KEY_SCOPE;
		return -1;
	case 7: /* "headers" */
		if ((a & 0xffffffffffffffULL) == 0x73726564616568ULL)
			return ST_KEY_HEADERS;
		return -1;
	}
	return -1;
}

/* the request fields */
#define SCOPE_KEYS (((1U << ST_KEY_SCOPE) - 1) | (1U << ST_KEY_HEADERS))
/* Missing from a scope, these are looked for by content even once learned. */
#define SCOPE_NEEDED ((1U << ST_KEY_TYPE) | (1U << ST_KEY_PATH))

struct scan_ctx {
	struct st_target *t;
	struct scratch *s;
	struct scan_state *st; /* in s: what the scan found */
};

/*
 * Where a dict keys object's entries start and how many there are; the
 * first n entries end up in the scratch, at c->st->eoff. Keys object, indices
 * and entries are one block: read at once when it is small (nearly
 * always), the entries alone otherwise.
 * 3.11+: log2 sizes in bytes; entries of 16 bytes {key, value} unless the
 * kind is DICT_KEYS_GENERAL (0). <=3.10: dk_size, always {hash, key, value}.
 */
static __always_inline int read_entries(const struct st_py_layout *L, __u64 keys, __u32 max,
					struct scan_ctx *c)
{
	const __u64 *raw = (const __u64 *)c->s->buf;
	__u64 index_bytes, kind = 0, start, nentries;
	__u32 len;
	bool whole;

	if (!keys || L->dk_indices <= 0 || L->dk_indices > 64)
		return -1;
	whole = !bpf_probe_read_user(c->s->buf, KEYS_READ, (void *)keys);
	if (!whole && bpf_probe_read_user(c->s->buf, L->dk_indices & 63, (void *)keys))
		return -1;
	nentries = raw[(L->dk_nentries >> 3) & 7];
	if (L->dk_size >= 0) {
		__u64 size = raw[(L->dk_size >> 3) & 7];

		index_bytes = size * (size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffff ? 4 : 8);
		if (index_bytes > (1 << 24))
			return -1;
	} else {
		__u8 log2_index_bytes = c->s->buf[L->dk_log2_index_bytes & 31];

		if (log2_index_bytes > 24)
			return -1;
		index_bytes = 1ULL << log2_index_bytes;
		kind = c->s->buf[L->dk_kind & 31];
	}
	start = L->dk_indices + index_bytes;
	c->st->esz = kind ? 16 : 24;
	c->st->koff = kind ? 0 : 8;
	c->st->n = nentries < max ? nentries : max;
	len = c->st->n * c->st->esz;
	if (!len || len > ENTRIES_MAX)
		return -1;
	if (whole && start + len <= KEYS_READ) {
		c->st->eoff = start;
		return 0;
	}
	c->st->eoff = 0;
	return bpf_probe_read_user(c->s->buf, len, (void *)(keys + start)) ? -1 : 0;
}

static __always_inline void take(struct scan_ctx *c, int k, __u32 i, __u64 value)
{
	c->st->vals[k & 7] = value;
	c->st->idx[k & 7] = i;
	c->st->found |= 1U << k;
	c->st->matched |= 1ULL << (i & 63);
}

/*
 * First pass: the keys whose str object is the one learned; no reads. A
 * dict holds a text once, so at most one learned object matches an entry.
 * (The callbacks never branch on what was found: the verifier would have
 * to follow every combination.)
 */
static long match_cb(__u32 i, struct scan_ctx *c)
{
	__u32 o = c->st->eoff + i * c->st->esz + c->st->koff;
	__u64 key;
	int k;

	if (i >= c->st->n || o > SCAN_BYTES - 16)
		return 1;
	key = *(__u64 *)(c->s->buf + o);
	for (k = 0; k < ST_NKEYS; k++)
		if (key && key == c->t->key_obj[k])
			take(c, k, i, *(__u64 *)(c->s->buf + o + 8));
	return 0;
}

/* Second pass, for keys still missing: read each other key and compare. */
static long compare_cb(__u32 i, struct scan_ctx *c)
{
	__u32 o = c->st->eoff + i * c->st->esz + c->st->koff;
	struct str_head h;
	struct str_info si;
	__u64 key;
	int k;

	if (i >= c->st->n || o > SCAN_BYTES - 16)
		return 1;
	key = *(__u64 *)(c->s->buf + o);
	if (!key || (c->st->matched & (1ULL << (i & 63))))
		return 0;
	if (bpf_probe_read_user(&h, sizeof(h), (void *)key) || str_info(c->t, key, &h, &si))
		return 0;
	if (!si.ascii || si.length > 9)
		return 0;
	k = key_of(&h, si.data - key, si.length);
	if (k < 0 || k >= ST_NKEYS)
		return 0;
	take(c, k, i, *(__u64 *)(c->s->buf + o + 8));
	/* an interned str is the one object with its text while code refers to it */
	if (si.interned)
		c->t->key_obj[k & 7] = key;
	return 0;
}

/*
 * Look up the wanted keys (bits of c->st->want) in a dict: c->st->vals[k] gets the
 * value of key k and c->st->found its bit. values: a split table's values
 * array, or 0 for a combined table.
 */
static __always_inline void scan_dict(struct scan_ctx *c, __u64 keys, __u64 values, __u32 max,
				      __u32 want)
{
	__u32 missing, k;

	__builtin_memset(c->st, 0, sizeof(*c->st));
	c->st->want = want;
	if (read_entries(&c->t->layout, keys, max, c))
		return;
	bpf_loop(ST_SCOPE_SCAN, match_cb, c, 0);
	c->st->found &= c->st->want;
	missing = c->st->want & ~c->st->found;
	for (k = 0; k < ST_NKEYS; k++)
		if (c->t->key_obj[k])
			missing &= ~(1U << k) | SCOPE_NEEDED;
	if (missing)
		bpf_loop(ST_SCOPE_SCAN, compare_cb, c, 0);
	c->st->found &= c->st->want;
	if (!values)
		return;
	for (k = 0; k < ST_NKEYS; k++)
		if (c->st->found & (1U << k))
			c->st->vals[k] = read_ptr(values + c->t->layout.values_values + 8 * c->st->idx[k]);
}

/*
 * self.scope for a Request/WebSocket object (instance attribute). The
 * object's header and the words before it (3.11+: where its dict or values
 * pointer is) in one read.
 */
static __noinline __u64 get_scope(struct st_target *t, struct scratch *s, __u64 self)
{
	const struct st_py_layout *L = &t->layout;
	struct scan_ctx c = { .t = t, .s = s, .st = &s->scan };
	__s32 base = L->attr_mode == ST_ATTR_DICTOFFSET ? 0 : L->managed_dict;
	__u64 h[8], type, dict = 0, values = 0;

	if (L->attr_mode == ST_ATTR_311 && L->managed_values < base)
		base = L->managed_values;
	if (!self || base < -48 || base > 0 || bpf_probe_read_user(h, sizeof(h), (void *)(self + base)))
		return 0;
#define AT(off) h[(((off) - base) >> 3) & 7]
	type = AT(8);
	switch (L->attr_mode) {
	case ST_ATTR_DICTOFFSET: {
		__s64 off = (__s64)read_ptr(type + L->type_dictoffset);

		if (off <= 0 || off > 4096) /* negative: var-sized objects, not ours */
			return 0;
		dict = read_ptr(self + off);
		break;
	}
	case ST_ATTR_311:
		values = AT(L->managed_values);
		if (!values)
			dict = AT(L->managed_dict);
		break;
	case ST_ATTR_312:
		dict = AT(L->managed_dict);
		if (dict & 1) {
			values = dict + 1;
			dict = 0;
		}
		break;
	case ST_ATTR_313:
		dict = AT(L->managed_dict);
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
#undef AT
	if (values) {
		/* split table: the keys are shared in the type */
		scan_dict(&c, read_ptr(type + L->type_cached_keys), values, ST_ATTR_SCAN,
			  1U << ST_KEY_SCOPE);
		return s->scan.vals[ST_KEY_SCOPE];
	}
	if (!dict || read_ptr(dict + 8) != t->dict_type)
		return 0;
	scan_dict(&c, read_ptr(dict + L->dict_keys), read_ptr(dict + L->dict_values), ST_ATTR_SCAN,
		  1U << ST_KEY_SCOPE);
	return s->scan.vals[ST_KEY_SCOPE];
}

struct header_ctx {
	const struct st_target *t;
	const __u64 *items;   /* the list's item pointers, in the scratch */
	__u32 n;
	__u64 value;          /* the traceparent header's value (a bytes object), or 0 */
};

/* One (name, value) tuple of the headers list: its name is b"traceparent"? */
static long header_cb(__u32 i, struct header_ctx *c)
{
	const struct st_py_layout *L = &c->t->layout;
	__u32 tsz = (L->tuple_items & 0x38) + 16, bsz = (L->bytes_sval & 0x38) + 16;
	__u64 w[8], name;

	if (i >= c->n || i >= ST_HEADER_SCAN)
		return 1;
	/* the tuple: type, size and both items in one read */
	if (tsz > sizeof(w) || bsz > sizeof(w) || L->var_size > 24 ||
	    bpf_probe_read_user(w, tsz, (void *)c->items[i & 31]) ||
	    w[1] != c->t->tuple_type || w[(L->var_size >> 3) & 3] != 2)
		return 0;
	name = w[(L->tuple_items >> 3) & 7];
	c->value = w[((L->tuple_items >> 3) + 1) & 7];
	/* the name: type, size and its first 16 bytes in one read (ASGI names are lower case) */
	if (bpf_probe_read_user(w, bsz, (void *)name) ||
	    w[1] != c->t->bytes_type || w[(L->var_size >> 3) & 3] != 11 ||
	    w[(L->bytes_sval >> 3) & 7] != 0x7261706563617274ULL || /* "tracepar" */
	    (w[((L->bytes_sval >> 3) + 1) & 7] & 0xffffff) != 0x746e65) { /* "ent" */
		c->value = 0;
		return 0;
	}
	return 1;
}

/*
 * scope["headers"]: the value of the one header read, traceparent (W3C
 * Trace Context), copied raw; user space validates it. The list's item
 * pointers in one read, then each tuple until the name matches.
 */
static __noinline void copy_traceparent(struct st_target *t, struct scratch *s, __u64 list,
					struct st_event *ev)
{
	const struct st_py_layout *L = &t->layout;
	struct header_ctx c = { .t = t, .items = (const __u64 *)s->buf };
	__u64 *h = s->tmp, len, n;
	__u32 bytes;

	if (L->list_items <= 0 || L->list_items > 40 || L->var_size > 24 || L->bytes_sval > 40 ||
	    bpf_probe_read_user(h, (L->list_items & 0x38) + 8, (void *)list) ||
	    h[1] != t->list_type)
		return;
	n = h[(L->var_size >> 3) & 3];
	bytes = (n < ST_HEADER_SCAN ? n : ST_HEADER_SCAN) * 8;
	if (!bytes || bytes > ST_HEADER_SCAN * 8 ||
	    bpf_probe_read_user(s->buf, bytes, (void *)h[(L->list_items >> 3) & 7]))
		return;
	c.n = bytes / 8;
	bpf_loop(ST_HEADER_SCAN, header_cb, &c, 0);
	if (!c.value || bpf_probe_read_user(h, (L->bytes_sval & 0x38) + 8, (void *)c.value) ||
	    h[1] != t->bytes_type)
		return;
	/* h (s->tmp, 10 words) held at most 6 words here: bytes_sval <= 40 */
	len = h[(L->var_size >> 3) & 3];
	ev->traceparent_h.flags = ST_STR_PRESENT;
	ev->traceparent_h.kind = 1;
	ev->traceparent_h.length = len > 0xffff ? 0xffff : len;
	if (len > ST_TRACEPARENT_MAX) {
		ev->traceparent_h.flags |= ST_STR_TRUNCATED;
		len = ST_TRACEPARENT_MAX;
	}
	if (bpf_probe_read_user(ev->traceparent, len, (void *)(c.value + L->bytes_sval))) {
		ev->traceparent_h.flags = ST_STR_BADTYPE;
		return;
	}
	ev->traceparent_h.nbytes = len;
}

static __noinline void copy_scope(struct st_target *t, struct scratch *s, __u64 scope,
				  struct st_event *ev)
{
	const struct st_py_layout *L = &t->layout;
	struct scan_ctx c = { .t = t, .s = s, .st = &s->scan };
	__u64 *vals = s->scan.vals, *d = s->tmp;

	/* ob_type, ma_keys and ma_values in one read */
	if (!scope || L->dict_values < 16 || L->dict_values > 56 || L->dict_keys > 56 ||
	    bpf_probe_read_user(d, (L->dict_values & 0x38) + 8, (void *)scope) ||
	    d[1] != t->dict_type)
		return;
	scan_dict(&c, d[(L->dict_keys >> 3) & 7], d[(L->dict_values >> 3) & 7], ST_SCOPE_SCAN,
		  SCOPE_KEYS);
	if (!vals[ST_KEY_TYPE] && !vals[ST_KEY_PATH])
		return;
	ev->flags |= ST_EV_REQUEST;
	COPY_STR(t, vals[ST_KEY_TYPE], &ev->type_h, ev->type);
	COPY_STR(t, vals[ST_KEY_METHOD], &ev->method_h, ev->method);
	COPY_STR(t, vals[ST_KEY_PATH], &ev->path_h, ev->path);
	COPY_STR(t, vals[ST_KEY_ROOT], &ev->root_h, ev->root);
	ev->app = vals[ST_KEY_APP];
	/* client: (host, port) tuple or None; its header and items in one read */
	if (vals[ST_KEY_CLIENT] && L->tuple_items <= 32 && L->var_size <= 24) {
		__u64 *tup = s->tmp; /* the dict's header is not needed any more */
		__u32 i = (L->tuple_items >> 3) & 7;

		if (!bpf_probe_read_user(tup, (L->tuple_items & 0x38) + 16, (void *)vals[ST_KEY_CLIENT]) &&
		    tup[1] == t->tuple_type && tup[(L->var_size >> 3) & 3] == 2) {
			ev->flags |= ST_EV_CLIENT;
			COPY_STR(t, tup[i], &ev->client_h, ev->client);
			/* a port is one 30-bit digit: ob_digit[0] at +24 in 3.10..3.15 */
			ev->client_port = (__u32)read_ptr(tup[i + 1] + 24) & 0x3fffffff;
		}
	}
	if (vals[ST_KEY_HEADERS])
		copy_traceparent(t, s, vals[ST_KEY_HEADERS], ev);
}

/*
 * python -O: the property's "return self.scope[name]" raises KeyError(name);
 * from C the value is still the argument tuple, from a raise an instance
 * (then without traceback). Exact match of name; user space then checks
 * the top frame is the property itself.
 */
const volatile char prop_names[ST_NPROPS][8]; /* set by user space (props.c) */

/* Which property the copied message names (KeyError); -1: none. */
static __always_inline int match_key(const struct st_str_hdr *h, const char *buf)
{
	__u32 p, i, n;

	if (h->kind != 1 || h->length < 4 || h->length > 7 || h->nbytes != h->length)
		return -1;
	for (p = 0; p < ST_NPROPS; p++) {
		for (n = 0; n < 8 && prop_names[p][n]; n++)
			;
		if (n != h->length)
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

/* Which configured prefix the copied message starts with; -1: none. */
static __always_inline int match_message(const struct st_str_hdr *h, const char *buf)
{
	__u32 p, i;

	if (h->kind != 1 || !(h->flags & ST_STR_PRESENT))
		return -1;
	for (p = 0; p < ST_NPATTERNS; p++) {
		__u32 n = pattern_len[p];

		if (!n || n > ST_PATTERN_MAX || h->nbytes < n)
			continue;
		for (i = 0; i < ST_PATTERN_MAX && i < n; i++)
			if (buf[i] != patterns[p][i])
				break;
		if (i == n) /* n == ST_PATTERN_MAX too */
			return p;
	}
	return -1;
}

static __always_inline int match(__u32 kind, const struct st_str_hdr *h, const char *buf)
{
	return kind == ST_EXC_ASSERT ? match_message(h, buf) : match_key(h, buf);
}

struct walk_ctx {
	const struct st_target *t;
	struct st_event *ev;
	struct scratch *s;
};

/*
 * One step of the frame chain. A frame in the thread's data stack is in
 * the window read last, or a new window ending at it is read: its callers
 * lie below it, so a window holds many. A frame elsewhere (a coroutine's,
 * a generator's, any frame on 3.10) is read alone: the first frame_read
 * bytes, which hold every field we need.
 */
static long walk_cb(__u32 i, struct walk_ctx *c)
{
	const struct st_py_layout *L = &c->t->layout;
	struct walk_state *w = &c->s->w;
	/* a multiple of 8 below ST_FRAME_READ_MAX, in a form the verifier can bound */
	__u32 sz = L->frame_read & 0x78;
	__u64 f = w->frame, off, code;
	const __u8 *fb;
	__u8 owner;

	if (!f || w->n >= ST_MAX_FRAMES || !sz)
		return 1;
	if (f >= w->win_lo && f + sz <= w->win_hi) {
		off = f - w->win_lo;
	} else if (f >= w->stack_lo && f + sz <= w->stack_hi) {
		__u64 lo = f + sz - w->stack_lo > WINDOW ? f + sz - WINDOW : w->stack_lo;
		__u64 len = f + sz - lo;

		if (len > WINDOW || bpf_probe_read_user(c->s->buf, len, (void *)lo))
			return 1;
		w->win_lo = lo;
		w->win_hi = lo + len;
		off = f - lo;
	} else {
		if (bpf_probe_read_user(c->s->buf + ALONE, sz, (void *)f))
			return 1;
		off = ALONE;
	}
	if (off > ALONE)
		return 1;
	fb = c->s->buf + off;
	code = *(__u64 *)(fb + (L->frame_code & 0x78));
	owner = L->frame_owner >= 0 ? fb[L->frame_owner & 0x7f] : 0;
	if (L->tagged)
		code &= ~3ULL;
	if (L->frame_owner < 0 || owner < L->owner_cstack) {
		struct st_frame *fr = &c->ev->frames[w->n & (ST_MAX_FRAMES - 1)];

		fr->code = code;
		fr->instr = *(__u64 *)(fb + (L->frame_instr & 0x78));
		/* 3.11+: self is within the bytes read; <=3.10 it is far in the frame */
		if (L->frame_localsplus >= 0 && L->frame_localsplus + 8 <= sz)
			fr->self = *(__u64 *)(fb + (L->frame_localsplus & 0x78));
		else
			fr->self = read_ptr(f + L->frame_localsplus);
		if (L->tagged)
			fr->self &= ~3ULL;
		if (w->n == 0)
			w->self = fr->self;
		w->n++;
	}
	w->frame = *(__u64 *)(fb + (L->frame_previous & 0x78));
	return 0;
}

/* The newest frame, and the data stack's bounds, from one read of tstate. */
static __always_inline void walk_start(const struct st_py_layout *L, struct scratch *s,
				       __u64 tstate)
{
	struct walk_state *w = &s->w;
	__u64 *ts = (__u64 *)s->buf; /* the window is read after */
	__s32 base = L->tstate_frame & ~7, c = L->tstate_datastack_chunk - base,
	      top = L->tstate_datastack_top - base;

	__builtin_memset(w, 0, sizeof(*w));
	if (bpf_probe_read_user(ts, TSTATE_READ, (void *)(tstate + base))) {
		w->frame = read_ptr(tstate + L->tstate_frame);
	} else {
		w->frame = ts[((L->tstate_frame - base) >> 3) & 31];
		if (L->tstate_datastack_chunk > 0 && c >= 0 && c < TSTATE_READ && top >= 0 &&
		    top < TSTATE_READ && L->stackchunk_data > 0) {
			__u64 chunk = ts[(c >> 3) & 31];

			w->stack_hi = ts[(top >> 3) & 31];
			w->stack_lo = chunk ? chunk + L->stackchunk_data : 0;
			if (w->stack_hi < w->stack_lo)
				w->stack_lo = w->stack_hi = 0;
		}
	}
	if (L->cframe_current >= 0)
		w->frame = read_ptr(w->frame + L->cframe_current);
}

/*
 * Fill in the record of one hit on this thread, reserved by the caller:
 * frame chain from tstate, request scope from the top frame's self, then
 * submit it. Runs only for real hits.
 */
static __always_inline void capture(struct st_target *t, struct st_event *ev, __u64 tstate,
				    __u64 top_instr, __u64 t0)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct walk_ctx w = { .t = t, .ev = ev };
	struct scratch *s;
	__u32 n;
	__u64 flags;

	ev->ts_ns = bpf_ktime_get_ns();
	/* nsec_to_clock_t(start_boottime) with USER_HZ 100, as /proc/PID/stat */
	ev->start_ticks = task->group_leader->start_boottime / 10000000ULL;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));

	s = scratch_get();
	PROFILE(ST_PROF_TASK, &t0);
	if (!s) {
		ev->flags |= ST_EV_NO_SCRATCH;
	} else {
		__u64 scope;

		w.s = s;
		walk_start(&t->layout, s, tstate);
		PROFILE(ST_PROF_TSTATE, &t0);
		bpf_loop(ST_MAX_FRAMES * 2, walk_cb, &w, 0);
		PROFILE(ST_PROF_FRAMES, &t0);
		n = s->w.n;
		if (top_instr && n)
			ev->frames[0].instr = top_instr;
		if (s->w.frame && n >= ST_MAX_FRAMES)
			ev->flags |= ST_EV_FRAMES_TRUNCATED;
		ev->nframes = n;
		scope = get_scope(t, s, s->w.self);
		PROFILE(ST_PROF_SELF, &t0);
		copy_scope(t, s, scope, ev);
		PROFILE(ST_PROF_SCOPE, &t0);
		*(volatile __u64 *)&s->busy = 0; /* the slot is free again */
	}
	/*
	 * A wakeup costs ~12 us here (irq_work): user space drains the buffer on
	 * a short timer instead, and is woken only when it fills up.
	 */
	flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > ST_RB_WAKEUP_BYTES ?
		BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(ev, flags);
	PROFILE(ST_PROF_SUBMIT, &t0);
	PROFILE(ST_PROF_HITS, &t0);
}

/*
 * The record's reservation, its header cleared: the reservation holds an
 * older record's bytes. Built straight in it: uprobe programs run with
 * migration, not preemption, disabled, so a per-CPU buffer could be shared
 * by two threads failing at once on one CPU; a reservation is this hit's own.
 */
static __always_inline struct st_event *reserve(__u64 pid_tgid, __u64 exc, __u32 kind)
{
	struct st_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev)
		return NULL;
	__builtin_memset(ev, 0, offsetof(struct st_event, msg));
	ev->pid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->exc = exc;
	ev->exc_kind = kind;
	return ev;
}

/* No room for a record: still tell a hit (counted, lost) from anything else. */
static __noinline void lost_hit(const struct st_target *t, __u64 msg, __u32 kind)
{
	struct st_str_hdr h = {};
	char buf[ST_PATTERN_MAX];
	int p;

	COPY_STR(t, msg, &h, buf);
	p = match(kind, &h, buf);
	if (p >= 0 && p < ST_NPROPS && (t->kinds & (1U << p))) {
		count(ST_C_HITS);
		count(ST_C_LOST);
	}
}

#define BUDGET_NS_PER_TOKEN (1000000000ULL / ST_BUDGET_RATE)

/*
 * A hit of t takes one of its tokens (include/sessiontrace.h: the
 * per-process budget). True when it has none left and the ring buffer is
 * more than ST_RB_SHARED_BYTES full: then the hit is counted, not recorded.
 * Runs on several CPUs at once: the refill is the one CPU's whose
 * compare-and-swap moves budget_ns, the tokens change atomically; a race
 * lets a token or two too many through, never refuses one it should not.
 */
static __always_inline bool over_budget(struct st_target *t)
{
	__u64 now = bpf_ktime_get_ns(), last = t->budget_ns, add, next;
	__s64 tokens;

	if (now - last >= BUDGET_NS_PER_TOKEN) {
		add = (now - last) / BUDGET_NS_PER_TOKEN;
		/* a full bucket (also the first hit: last is 0) keeps no credit for later */
		next = add >= ST_BUDGET_BURST ? now : last + add * BUDGET_NS_PER_TOKEN;
		if (add > ST_BUDGET_BURST)
			add = ST_BUDGET_BURST;
		if (__sync_val_compare_and_swap(&t->budget_ns, last, next) == last) {
			tokens = __sync_fetch_and_add(&t->budget_tokens, (__s64)add) + (__s64)add;
			if (tokens > ST_BUDGET_BURST)
				t->budget_tokens = ST_BUDGET_BURST;
		}
	}
	if (t->budget_tokens > 0) {
		__sync_fetch_and_add(&t->budget_tokens, -1);
		return false;
	}
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > ST_RB_SHARED_BYTES;
}

/*
 * An AssertionError or KeyError object being raised: if it is a fresh one
 * with one of our messages (or, for KeyError, property names), capture.
 * Every "raise exc" of the same object comes here again; only the first
 * raise has no traceback yet, and that is the frame that failed. The
 * message is copied once, into the record, and matched there; a record
 * that does not match is discarded.
 */
static __always_inline void check_raise(struct st_target *t, __u64 pid_tgid, __u64 tstate,
					__u64 exc, __u32 kind)
{
	const struct st_py_layout *L = &t->layout;
	__u64 args, msg, e[8], a[5], t0 = PROFILE_NOW();
	struct st_event *ev;
	int p;

	count(ST_C_ASSERTS);
	if (kind == ST_EXC_KEYERROR && read_ptr(exc + 8) == t->tuple_type) {
		args = exc; /* not normalized yet: value is the args tuple */
	} else {
		/* the exception's args and traceback in one read */
		if (L->exc_args > 56 || L->exc_traceback > 56 ||
		    bpf_probe_read_user(e, sizeof(e), (void *)exc))
			return;
		if (e[(L->exc_traceback >> 3) & 7])
			return;
		args = e[(L->exc_args >> 3) & 7];
	}
	/* a 1-tuple: type, size and item in one read */
	if (!args || L->var_size > 24 || L->tuple_items > 32 ||
	    bpf_probe_read_user(a, (L->tuple_items & 0x38) + 8, (void *)args) ||
	    a[1] != t->tuple_type || a[(L->var_size >> 3) & 3] != 1)
		return;
	msg = a[(L->tuple_items >> 3) & 7];
	ev = reserve(pid_tgid, exc, kind);
	if (!ev) {
		lost_hit(t, msg, kind);
		return;
	}
	COPY_STR(t, msg, &ev->msg_h, ev->msg);
	p = match(kind, &ev->msg_h, ev->msg);
	if (p < 0 || p >= ST_NPROPS || !(t->kinds & (1U << p))) {
		bpf_ringbuf_discard(ev, BPF_RB_NO_WAKEUP);
		return;
	}
	count(ST_C_HITS);
	if (over_budget(t)) {
		bpf_ringbuf_discard(ev, BPF_RB_NO_WAKEUP);
		count(ST_C_OVER_BUDGET);
		return;
	}
	ev->pattern = p;
	PROFILE(ST_PROF_MATCH, &t0);
	capture(t, ev, tstate, 0, t0);
}

/*
 * The traced process this run is in, when its probe kind is this program's:
 * a run counted. NULL for any other process (pid -1 uprobes are gone, but a
 * target can change kind) or kind.
 */
static __always_inline struct st_target *traced(__u64 pid_tgid, __u32 kind)
{
	__u32 pid = pid_tgid >> 32;
	struct st_target *t = bpf_map_lookup_elem(&targets, &pid);

	if (!t || t->probe != kind)
		return NULL;
	count(ST_C_RUNS);
	return t;
}

/* BPF_KPROBE: libbpf 1.1 has no BPF_UPROBE; the argument access is the same. */
SEC("uprobe")
int BPF_KPROBE(raise_probe, void *tstate, void *type, void *value)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct st_target *t = traced(pid_tgid, ST_PROBE_RAISE);
	__u32 kind;

	if (!t || !value)
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
	struct st_target *t = traced(pid_tgid, ST_PROBE_ASSERT);

	if (t && exc && read_ptr((__u64)exc + 8) == t->assertion_type)
		check_raise(t, pid_tgid, (__u64)tstate, (__u64)exc, ST_EXC_ASSERT);
	return 0;
}

/*
 * A general-purpose register by its x86 encoding number; 0 for none. The
 * verifier refuses a computed offset into the context, which is what a
 * switch over its fields compiles to: the one register is read from it as
 * memory (8 bytes of stack, where a copy of every register took 168 and
 * pushed the program past the 512-byte stack on 6.18 kernels).
 */
#define REG_SLOT(reg) (offsetof(struct pt_regs, reg) / 8)
static __always_inline __u64 reg_value(struct pt_regs *ctx, __s32 r)
{
	__u64 v = 0;
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
	if (k >= sizeof(struct pt_regs) / 8 || bpf_probe_read_kernel(&v, sizeof(v), (__u64 *)ctx + k))
		return 0;
	return v;
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
 * A failing assert seen before its exception exists (LOAD_ASSERTION_ERROR,
 * or the watch trigger's read of the AssertionError slot). No arguments: the
 * thread state is the main interpreter's one whose thread_id (pthread_self)
 * is this thread's fs base. The message is not built yet: user space decides
 * from the top frame's code object whether this is a request property.
 * top_instr: the current instruction where the frame does not have it yet, or 0.
 */
static __always_inline void assert_hit(struct st_target *t, __u64 pid_tgid, __u64 top_instr)
{
	const struct st_py_layout *L = &t->layout;
	struct task_struct *task;
	struct tstate_ctx c = {};
	struct st_event *ev;
	__u64 interp;

	count(ST_C_ASSERTS);
	if (!t->runtime || L->runtime_interp_main <= 0 || L->tstate_thread_id <= 0)
		return;
	interp = read_ptr(t->runtime + L->runtime_interp_main);
	if (!interp)
		return;
	task = bpf_get_current_task_btf();
	c.L = L;
	c.want = BPF_CORE_READ(task, thread.fsbase);
	c.ts = read_ptr(interp + L->interp_threads_head);
	bpf_loop(ST_MAX_THREADS, tstate_cb, &c, 0);
	if (!c.found)
		return;
	count(ST_C_HITS); /* user space decides which property from the top frame */
	if (over_budget(t)) {
		count(ST_C_OVER_BUDGET);
		return;
	}
	ev = reserve(pid_tgid, 0, ST_EXC_ASSERT);
	if (!ev) {
		count(ST_C_LOST);
		return;
	}
	ev->pattern = ST_NPROPS;
	capture(t, ev, c.found, top_instr, PROFILE_NOW());
}

/*
 * First instruction of the LOAD_ASSERTION_ERROR handler in the eval loop
 * (3.10-3.13): runs only when an assert statement fails, so healthy requests
 * never get here. 3.11+ store the current instruction to the frame only
 * after this point: it is read from the register the handler stores it from
 * (user/resolve/opcodes.c finds which).
 */
SEC("uprobe")
int BPF_KPROBE(assert_probe)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct st_target *t = traced(pid_tgid, ST_PROBE_ASSERT);

	if (t)
		assert_hit(t, pid_tgid, reg_value(ctx, t->assert_ip_reg));
	return 0;
}

/*
 * The watch trigger's events (3.14+). A thread created while they were
 * being opened, by a thread that had one already, has two: the one it
 * inherited and its own; both fire on one read, one after the other in the
 * same debug exception, on this CPU, with interrupts off. Which event object
 * fires on a thread says nothing (perf swaps the contexts of cloned threads,
 * and an inherited event has no cookie): the first run counts the thread's
 * events of this program on the slot, and the runs that follow for the same
 * read are skipped. The expiry is a safety net only.
 */
__u32 watch_prog_id; /* watch_probe's id: set by user space once it is loaded */
#define PERF_EVENT_STATE_ON 1 /* PERF_EVENT_STATE_ACTIVE: scheduled in, armed */
#define WATCH_SAME_READ_NS 1000000

struct watch_pending {
	__u64 pid_tgid;
	__u64 ts;
	__u32 left; /* runs of this read still to come */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct watch_pending);
} watch_pending SEC(".maps");

/* Before 6.2 a task had one perf context per kind; breakpoints are software's. */
struct task_struct___pre62 {
	struct perf_event_context *perf_event_ctxp[2];
} __attribute__((preserve_access_index));

/* The current thread's events running watch_probe on addr. */
static __always_inline __u32 watch_events(__u64 addr)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct perf_event_context *ctx;
	struct list_head *head, *pos;
	__u32 i, n = 0;

	if (bpf_core_field_size(task->perf_event_ctxp) == sizeof(void *))
		ctx = BPF_CORE_READ(task, perf_event_ctxp);
	else
		ctx = BPF_CORE_READ((struct task_struct___pre62 *)task, perf_event_ctxp[1]);
	if (!ctx)
		return 0;
	head = &ctx->event_list;
	pos = BPF_CORE_READ(head, next);
	for (i = 0; i < ST_WATCH_EVENTS_SCAN && pos && pos != head; i++) {
		struct perf_event *ev = container_of(pos, struct perf_event, event_entry);

		if (BPF_CORE_READ(ev, attr.type) == PERF_TYPE_BREAKPOINT &&
		    BPF_CORE_READ(ev, attr.bp_addr) == addr &&
		    BPF_CORE_READ(ev, state) == PERF_EVENT_STATE_ON &&
		    BPF_CORE_READ(ev, prog, aux, id) == watch_prog_id)
			n++;
		pos = BPF_CORE_READ(pos, next);
	}
	return n;
}

/* Is this the first run for this read (the others of the same read: false)? */
static __always_inline bool watch_first(const struct st_target *t, __u64 pid_tgid)
{
	__u32 zero = 0, n;
	struct watch_pending *w = bpf_map_lookup_elem(&watch_pending, &zero);
	__u64 now = bpf_ktime_get_ns();

	if (!w)
		return true;
	if (w->left && w->pid_tgid == pid_tgid && now - w->ts < WATCH_SAME_READ_NS) {
		w->left--;
		return false;
	}
	n = watch_events(t->watch_addr);
	w->pid_tgid = pid_tgid;
	w->ts = now;
	w->left = n > 1 ? n - 1 : 0;
	return true;
}

/*
 * Watch trigger (3.14+): a hardware data breakpoint on the main interpreter's
 * common_consts[CONSTANT_ASSERTIONERROR], which only a failing assert's
 * LOAD_COMMON_CONSTANT 0 reads. It fires after the read, with the handler
 * having stored the current instruction to the frame before it: healthy
 * requests never get here.
 */
SEC("perf_event")
int watch_probe(struct bpf_perf_event_data *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct st_target *t = traced(pid_tgid, ST_PROBE_WATCH);

	if (t && watch_first(t, pid_tgid))
		assert_hit(t, pid_tgid, 0);
	return 0;
}

static __always_inline void proc_event(__u32 kind, struct task_struct *task)
{
	struct st_proc_event e = {
		.kind = kind,
		.pid = BPF_CORE_READ(task, tgid),
		.ppid = BPF_CORE_READ(task, real_parent, tgid),
	};

	/* lost: user space rescans /proc (a process it never heard of is checked then) */
	if (bpf_ringbuf_output(&procs, &e, sizeof(e), 0))
		count(ST_C_PROCS_LOST);
}

/* Does a name (a comm, or a path's last component) start with "python"? */
static __always_inline bool pythonish(const char *s)
{
	return s[0] == 'p' && s[1] == 'y' && s[2] == 't' && s[3] == 'h' && s[4] == 'o' &&
	       s[5] == 'n';
}

static __always_inline bool named(const char *comm, const char *name, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (comm[i] != name[i])
			return false;
	return true;
}

/*
 * Could this exec become an ASGI server? Only what the exec tracepoint has:
 * the new comm (the executed file's name; a script's own name under a
 * shebang) and the file the kernel runs (a script's interpreter, symlinks
 * resolved: /usr/bin/python3 -> "python3.11"). Passed: comm python*,
 * uvicorn, gunicorn, hypercorn; a file named python*. Missed: an
 * interpreter renamed to something else, or embedded in another program
 * (uWSGI, a C server linking libpython): those are traced with -p.
 */
static __always_inline bool may_serve(struct linux_binprm *bprm)
{
	char comm[16], name[8] = {};
	const unsigned char *np;

	bpf_get_current_comm(comm, sizeof(comm));
	if (pythonish(comm) || named(comm, "uvicorn", 8) || named(comm, "gunicorn", 9) ||
	    named(comm, "hypercorn", 10))
		return true;
	np = BPF_CORE_READ(bprm, file, f_path.dentry, d_name.name);
	return np && bpf_probe_read_kernel_str(name, sizeof(name), np) > 6 && pythonish(name);
}

/*
 * Execs that may start a server: user space reads their /proc and decides.
 * Every other exec on the host ends here.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!may_serve(bprm))
		return 0;
	count(ST_C_EXECS);
	proc_event(ST_PROC_EXEC, p);
	return 0;
}

/*
 * Discovery's checks of Python processes, by verdict (enum discover_check):
 * written by the attaching process, read by the one serving /metrics.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_CHECK_VERDICTS);
	__type(key, __u32);
	__type(value, __u64);
} checks SEC(".maps");

/*
 * Processes that listen but are not traced (a gunicorn master): their forks
 * matter. LRU: entries of processes long gone make room.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ST_FORKERS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} forkers SEC(".maps");

/*
 * gunicorn forks its workers without exec: a new process (not a thread)
 * whose parent is traced, or listens (forkers), is a candidate too.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ppid = BPF_CORE_READ(parent, tgid);

	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a thread */
	if (!bpf_map_lookup_elem(&targets, &ppid) && !bpf_map_lookup_elem(&forkers, &ppid))
		return 0;
	proc_event(ST_PROC_FORK, child);
	return 0;
}

/*
 * A Python process starts serving. The running program's file name says
 * Python (the interpreter a shebang script runs, whatever the process calls
 * itself); other programs end here.
 */
static __always_inline void listen_event(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const unsigned char *np = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
	char name[8] = {};

	if (!np || bpf_probe_read_kernel_str(name, sizeof(name), np) <= 6 || !pythonish(name))
		return;
	count(ST_C_LISTENS);
	proc_event(ST_PROC_LISTEN, task);
}

/* listen() on any socket, TCP or Unix: the syscall's tracepoint (needs tracefs). */
SEC("tp/syscalls/sys_enter_listen")
int proc_listen(void *ctx)
{
	listen_event();
	return 0;
}

/*
 * Where tracefs is not mounted: a TCP socket entering LISTEN (a BTF
 * tracepoint, in the context of the process that listens; Unix sockets
 * then go unseen). Every TCP state change on the host passes here: one
 * compare.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(proc_tcp_listen, const struct sock *sk, const int oldstate, const int newstate)
{
	if (newstate == TCP_LISTEN)
		listen_event();
	return 0;
}
