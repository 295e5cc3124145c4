// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "memory/pyobj.h"
#include "util/cut.h"
#include "memory/pystr.h"
#include "memory/remote.h"

/*
 * tp_flags bits: the same values in every CPython 3.8-3.14 (Include/object.h),
 * so they are constants here rather than layout data.
 */
#define TPFLAGS_HEAPTYPE      (1ULL << 9)
#define TPFLAGS_LONG_SUBCLASS (1ULL << 24)
#define TPFLAGS_LIST_SUBCLASS (1ULL << 25)
#define TPFLAGS_TUPLE_SUBCLASS (1ULL << 26)
#define TPFLAGS_TYPE_SUBCLASS  (1ULL << 31)

#define STR_KIND(state)    (((state) >> 2) & 7)
#define STR_COMPACT        (1U << 5)
#define STR_ASCII          (1U << 6)
#define STR_CHARS_MAX      4096   /* longest str converted */
#define TPNAME_MAX         128
#define ENTRY_CHUNK        32     /* dict entries per read */
#define MODULES_SCAN       8192   /* sys.modules entries examined */
#define INDEX_BYTES_MAX    (1ULL << 24)

void pyobj__init(struct pyobj *r, pid_t pid, const struct st_py_layout *L,
		 const struct st_target *types, unsigned max_reads)
{
	r->pid = pid;
	r->L = L;
	r->unicode_type = types->unicode_type;
	r->tuple_type = types->tuple_type;
	r->dict_type = types->dict_type;
	r->reads_left = max_reads;
}

int pyobj__read(struct pyobj *r, __u64 addr, void *buf, size_t len)
{
	if (!r->reads_left)
		return -E2BIG;
	r->reads_left--;
	/* user-space x86_64 addresses only: anything else is garbage */
	if (addr < 4096 || addr >= (1ULL << 47) || len > (1U << 20))
		return -EFAULT;
	return remote__read(r->pid, addr, buf, len);
}

int pyobj__ptr(struct pyobj *r, __u64 addr, __u64 *out)
{
	return pyobj__read(r, addr, out, sizeof(*out));
}

int pyobj__type(struct pyobj *r, __u64 obj, __u64 *type)
{
	int err = pyobj__ptr(r, obj + 8, type);

	if (!err && !*type)
		err = -EFAULT;
	return err;
}

/* tp_flags of a type object. */
static int type_flags(struct pyobj *r, __u64 type, __u64 *flags)
{
	return pyobj__ptr(r, type + r->L->type_flags, flags);
}

static bool is_exact(struct pyobj *r, __u64 obj, __u64 want)
{
	__u64 type;

	return want && !pyobj__type(r, obj, &type) && type == want;
}

int pyobj__str(struct pyobj *r, __u64 obj, char *buf, size_t sz, size_t *len, bool *truncated)
{
	const struct st_py_layout *L = r->L;
	uint8_t raw[512], head[128];
	__u64 type, length, data, nbytes, done = 0;
	uint32_t state, kind;
	size_t out = 0;
	bool trunc = false;
	int err;

	if (!sz)
		return -EINVAL;
	buf[0] = 0;
	if (len)
		*len = 0;
	if (L->str_compact_data > (int)sizeof(head))
		return -EINVAL;
	err = pyobj__read(r, obj, head, L->str_compact_data);
	if (err)
		return err;
	memcpy(&type, head + 8, sizeof(type));
	if (type != r->unicode_type)
		return -EINVAL;
	memcpy(&length, head + L->str_length, sizeof(length));
	memcpy(&state, head + L->str_state, sizeof(state));
	kind = STR_KIND(state);
	if (!(state & STR_COMPACT) || (kind != 1 && kind != 2 && kind != 4))
		return -EINVAL;
	if (length > STR_CHARS_MAX) {
		length = STR_CHARS_MAX;
		trunc = true;
	}
	data = obj + ((state & STR_ASCII) ? L->str_ascii_data : L->str_compact_data);
	nbytes = length * kind;
	/* in chunks of whole characters, each converted and appended */
	while (done < nbytes && out + 1 < sz) {
		size_t n = nbytes - done < sizeof(raw) ? nbytes - done : sizeof(raw);

		err = pyobj__read(r, data + done, raw, n);
		if (err)
			return err;
		out += pystr__to_utf8(raw, n, kind, buf + out, sz - out, &trunc);
		done += n;
	}
	if (done < nbytes)
		trunc = true;
	if (len)
		*len = out;
	if (truncated && trunc)
		*truncated = true;
	return 0;
}

int pyobj__str_eq(struct pyobj *r, __u64 obj, const char *s)
{
	const struct st_py_layout *L = r->L;
	size_t n = strlen(s);
	uint8_t head[128];
	char data[PYOBJ_KEY_MAX];
	__u64 type, length;
	uint32_t state;
	int err;

	if (n > sizeof(data) || L->str_ascii_data > (int)sizeof(head))
		return -EINVAL;
	err = pyobj__read(r, obj, head, L->str_ascii_data);
	if (err)
		return err;
	memcpy(&type, head + 8, sizeof(type));
	memcpy(&length, head + L->str_length, sizeof(length));
	memcpy(&state, head + L->str_state, sizeof(state));
	if (type != r->unicode_type || length != n)
		return 0;
	/* the names we look up are ASCII; so is any str equal to them */
	if ((state & (STR_COMPACT | STR_ASCII)) != (STR_COMPACT | STR_ASCII))
		return 0;
	if (!n)
		return 1;
	err = pyobj__read(r, obj + L->str_ascii_data, data, n);
	if (err)
		return err;
	return !memcmp(data, s, n);
}

int pyobj__int(struct pyobj *r, __u64 obj, long long *out)
{
	const struct st_py_layout *L = r->L;
	__u64 type, flags, tag, ndigits, v = 0;
	uint32_t digits[3];
	bool neg;
	int err, i;

	err = pyobj__type(r, obj, &type);
	if (!err)
		err = type_flags(r, type, &flags);
	if (err)
		return err;
	if (!(flags & TPFLAGS_LONG_SUBCLASS))
		return -EINVAL;
	if (L->long_tag >= 0) {
		/* 3.12+: lv_tag = ndigits << 3 | sign (0 positive, 1 zero, 2 negative) */
		err = pyobj__ptr(r, obj + L->long_tag, &tag);
		if (err)
			return err;
		ndigits = tag >> 3;
		neg = (tag & 3) == 2;
		if ((tag & 3) == 1)
			ndigits = 0;
	} else {
		int64_t size;

		err = pyobj__read(r, obj + L->var_size, &size, sizeof(size));
		if (err)
			return err;
		neg = size < 0;
		ndigits = neg ? -(__u64)size : (__u64)size;
	}
	if (ndigits > 3)
		return -ERANGE;
	if (ndigits) {
		err = pyobj__read(r, obj + L->long_digits, digits, ndigits * sizeof(digits[0]));
		if (err)
			return err;
	}
	for (i = (int)ndigits - 1; i >= 0; i--) {
		if (v >> 33)
			return -ERANGE;
		v = (v << 30) | (digits[i] & 0x3fffffff);
	}
	if (v >> 63)
		return -ERANGE;
	*out = neg ? -(long long)v : (long long)v;
	return 0;
}

int pyobj__items(struct pyobj *r, __u64 obj, __u64 *items, unsigned max, unsigned *n,
		 __u64 *total)
{
	const struct st_py_layout *L = r->L;
	__u64 type, flags, size, base;
	int err;

	*n = 0;
	err = pyobj__type(r, obj, &type);
	if (!err)
		err = type_flags(r, type, &flags);
	if (!err)
		err = pyobj__ptr(r, obj + L->var_size, &size);
	if (err)
		return err;
	if ((int64_t)size < 0 || size > (1ULL << 32))
		return -EINVAL;
	if (flags & TPFLAGS_TUPLE_SUBCLASS) {
		base = obj + L->tuple_items;
	} else if (flags & TPFLAGS_LIST_SUBCLASS) {
		err = pyobj__ptr(r, obj + L->list_items, &base);
		if (err)
			return err;
	} else {
		return -EINVAL;
	}
	if (total)
		*total = size;
	if (size > max)
		size = max;
	if (size) {
		err = pyobj__read(r, base, items, size * sizeof(*items));
		if (err)
			return err;
	}
	*n = size;
	return 0;
}

/*
 * Scan a dict keys object for key, newest entry first (sys.modules: the
 * application is imported late). values: a split table's values array, or
 * 0 for a combined table. Mirrors read_keys/scan_dict in the BPF program.
 */
static int scan_keys(struct pyobj *r, __u64 keys, __u64 values, const char *key,
		     unsigned limit, __u64 *val)
{
	const struct st_py_layout *L = r->L;
	uint8_t raw[64];
	__u64 nentries, capacity, index_bytes, entries, esz, koff, e[ENTRY_CHUNK * 3];
	unsigned kind = 0, lo, hi;
	int err;

	if (L->dk_indices <= 0 || L->dk_indices > (int)sizeof(raw))
		return -EINVAL;
	err = pyobj__read(r, keys, raw, L->dk_indices);
	if (err)
		return err;
	memcpy(&nentries, raw + L->dk_nentries, sizeof(nentries));
	if (L->dk_size >= 0) {
		/* <=3.10: dk_size slots of 1/2/4/8-byte indices, entries {hash, key, value} */
		memcpy(&capacity, raw + L->dk_size, sizeof(capacity));
		if (capacity > INDEX_BYTES_MAX)
			return -EINVAL;
		index_bytes = capacity * (capacity <= 0xff ? 1 : capacity <= 0xffff ? 2 :
					  capacity <= 0xffffffffULL ? 4 : 8);
	} else {
		uint8_t log2_size = raw[L->dk_log2_size], log2_index = raw[L->dk_log2_index_bytes];

		if (log2_size > 30 || log2_index > 24)
			return -EINVAL;
		capacity = 1ULL << log2_size;
		index_bytes = 1ULL << log2_index;
		kind = raw[L->dk_kind];
	}
	if (nentries > capacity)
		return -EINVAL;
	entries = keys + L->dk_indices + index_bytes;
	/* 3.11+: DICT_KEYS_GENERAL (0) keeps the hash; unicode/split entries do not */
	esz = (L->dk_size < 0 && kind) ? 2 : 3;
	koff = esz == 2 ? 0 : 1;
	hi = nentries;
	if (limit > hi)
		limit = hi;
	while (limit && hi) {
		unsigned i;

		lo = hi > ENTRY_CHUNK ? hi - ENTRY_CHUNK : 0;
		if (hi - lo > limit)
			lo = hi - limit;
		err = pyobj__read(r, entries + lo * esz * 8, e, (hi - lo) * esz * 8);
		if (err)
			return err;
		for (i = hi - lo; i-- > 0;) {
			__u64 k = e[i * esz + koff], v = e[i * esz + koff + 1];
			int eq;

			if (!k)
				continue;
			eq = pyobj__str_eq(r, k, key);
			if (eq == -E2BIG)
				return eq;
			if (eq != 1)
				continue;
			if (values) {
				err = pyobj__ptr(r, values + L->values_values + 8ULL * (lo + i), &v);
				if (err)
					return err;
			}
			if (!v)
				return -ENOENT;
			*val = v;
			return 0;
		}
		limit -= hi - lo;
		hi = lo;
	}
	return -ENOENT;
}

static int dict_get(struct pyobj *r, __u64 dict, const char *key, unsigned limit, __u64 *val)
{
	__u64 keys, values;
	int err;

	if (!is_exact(r, dict, r->dict_type))
		return -EINVAL;
	err = pyobj__ptr(r, dict + r->L->dict_keys, &keys);
	if (!err)
		err = pyobj__ptr(r, dict + r->L->dict_values, &values);
	if (err)
		return err;
	return scan_keys(r, keys, values, key, limit, val);
}

int pyobj__dict_get(struct pyobj *r, __u64 dict, const char *key, __u64 *val)
{
	return dict_get(r, dict, key, PYOBJ_DICT_SCAN, val);
}

#define CLASS_MRO_MAX 16

int pyobj__class_attr(struct pyobj *r, __u64 type, const char *name, __u64 *val,
		      __u64 *owner)
{
	__u64 types[CLASS_MRO_MAX], dict;
	unsigned n = 0, i;
	int err = pyobj__mro(r, type, types, CLASS_MRO_MAX, &n);

	if (err)
		return err;
	for (i = 0; i < n; i++) {
		/* 3.12+ static builtin types keep no tp_dict (object, at the end) */
		if (pyobj__ptr(r, types[i] + r->L->type_dict, &dict) || !dict)
			continue;
		if (!pyobj__dict_get(r, dict, name, val)) {
			if (owner)
				*owner = types[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* obj.__dict__[name], however this version stores the instance dict. */
static int dict_attr(struct pyobj *r, __u64 obj, const char *name, __u64 *val)
{
	const struct st_py_layout *L = r->L;
	__u64 type, flags, dict = 0, values = 0, keys;
	int err;

	err = pyobj__type(r, obj, &type);
	if (!err)
		err = type_flags(r, type, &flags);
	if (err)
		return err;
	/*
	 * 3.11+ keep a class instance's attributes before the object (managed
	 * dict) only when the type says so; other types use tp_dictoffset.
	 */
	if (L->attr_mode == ST_ATTR_DICTOFFSET || !(flags & L->tpflags_managed_dict)) {
		int64_t off;

		err = pyobj__read(r, type + L->type_dictoffset, &off, sizeof(off));
		if (err)
			return err;
		if (off <= 0 || off > 4096) /* negative: var-sized objects, not ours */
			return -ENOENT;
		err = pyobj__ptr(r, obj + off, &dict);
		if (err)
			return err;
	} else if (L->attr_mode == ST_ATTR_311) {
		err = pyobj__ptr(r, obj + L->managed_values, &values);
		if (!err && !values)
			err = pyobj__ptr(r, obj + L->managed_dict, &dict);
	} else if (L->attr_mode == ST_ATTR_312) {
		err = pyobj__ptr(r, obj + L->managed_dict, &dict);
		if (!err && (dict & 1)) {
			values = dict + 1;
			dict = 0;
		}
	} else if (L->attr_mode == ST_ATTR_313) {
		err = pyobj__ptr(r, obj + L->managed_dict, &dict);
		if (!err && !dict && (flags & L->tpflags_inline)) {
			uint8_t valid = 0;

			values = obj + L->inline_values;
			err = pyobj__read(r, values + L->values_valid, &valid, 1);
			if (!err && !valid)
				return -ENOENT;
		}
	} else {
		return -EINVAL;
	}
	if (err)
		return err;
	if (values) {
		/* split table: the keys are shared in the type */
		err = pyobj__ptr(r, type + L->type_cached_keys, &keys);
		if (err)
			return err;
		return scan_keys(r, keys, values, name, PYOBJ_DICT_SCAN, val);
	}
	if (!dict)
		return -ENOENT;
	return pyobj__dict_get(r, dict, name, val);
}

/* A __slots__ attribute: the class's member descriptor says where the instance keeps it. */
static int slot_attr(struct pyobj *r, __u64 obj, const char *name, __u64 *val)
{
	const struct st_py_layout *L = r->L;
	__u64 type, descr, member;
	char tp[32];
	int64_t off;
	int err;

	if (L->member_descr_member <= 0)
		return -ENOENT;
	err = pyobj__type(r, obj, &type);
	if (!err)
		err = pyobj__class_attr(r, type, name, &descr, NULL);
	if (!err)
		err = pyobj__type(r, descr, &type);
	if (!err)
		err = pyobj__type_tpname(r, type, tp, sizeof(tp));
	if (err)
		return err;
	if (strcmp(tp, "member_descriptor"))
		return -ENOENT;
	err = pyobj__ptr(r, descr + L->member_descr_member, &member);
	if (!err)
		err = pyobj__read(r, member + L->memberdef_offset, &off, sizeof(off));
	if (err)
		return err;
	if (off < 16 || off > 4096)
		return -ENOENT;
	err = pyobj__ptr(r, obj + off, val);
	if (!err && !*val)
		return -ENOENT; /* the slot was never set */
	return err;
}

int pyobj__attr(struct pyobj *r, __u64 obj, const char *name, __u64 *val)
{
	int err = dict_attr(r, obj, name, val);

	return err == -ENOENT ? slot_attr(r, obj, name, val) : err;
}

int pyobj__type_tpname(struct pyobj *r, __u64 type, char *buf, size_t sz)
{
	char tmp[TPNAME_MAX];
	size_t i, got = sizeof(tmp);
	__u64 p;
	int err;

	if (!sz)
		return -EINVAL;
	buf[0] = 0;
	err = pyobj__ptr(r, type + r->L->type_name, &p);
	if (err)
		return err;
	/* tp_name may sit near the end of a mapping: read less before giving up */
	err = pyobj__read(r, p, tmp, got);
	if (err == -EFAULT) {
		got = 32;
		err = pyobj__read(r, p, tmp, got);
	}
	if (err)
		return err;
	for (i = 0; i < got && tmp[i]; i++)
		if ((unsigned char)tmp[i] < 0x20 || (unsigned char)tmp[i] >= 0x7f)
			return -EINVAL;
	if (i == 0 || i == got)
		return -EINVAL;
	snprintf(buf, sz, "%.*s", (int)i, tmp);
	return 0;
}

int pyobj__type_name(struct pyobj *r, __u64 type, char *buf, size_t sz, size_t *short_off)
{
	char mod[256], qual[512], full[sizeof(mod) + sizeof(qual) + CUT_MARK_LEN];
	bool mod_cut = false, qual_cut = false;
	__u64 flags, tdict, m, q;
	int err;

	if (short_off)
		*short_off = 0;
	err = type_flags(r, type, &flags);
	if (err)
		return err;
	if (!(flags & TPFLAGS_HEAPTYPE)) {
		const char *dot;

		err = pyobj__type_tpname(r, type, buf, sz);
		if (!err && short_off && (dot = strrchr(buf, '.')))
			*short_off = dot + 1 - buf;
		return err;
	}
	err = pyobj__ptr(r, type + r->L->ht_qualname, &q);
	if (!err)
		err = pyobj__str(r, q, qual, sizeof(qual), NULL, &qual_cut);
	if (err)
		return err;
	if (qual_cut)
		cut__mark(qual, sizeof(qual));
	mod[0] = 0;
	if (!pyobj__ptr(r, type + r->L->type_dict, &tdict) &&
	    !pyobj__dict_get(r, tdict, "__module__", &m) &&
	    !pyobj__str(r, m, mod, sizeof(mod), NULL, &mod_cut) && mod_cut)
		cut__mark(mod, sizeof(mod));
	if (mod[0] && strcmp(mod, "builtins")) {
		snprintf(full, sizeof(full), "%s.%s", mod, qual);
		if (short_off)
			*short_off = strlen(mod) + 1 < sz ? strlen(mod) + 1 : 0;
	} else {
		snprintf(full, sizeof(full), "%s", qual);
	}
	/* a class made inside a function (an instrumentation library's) may not fit: marked */
	cut__copy(buf, sz, full);
	return 0;
}

int pyobj__mro(struct pyobj *r, __u64 type, __u64 *types, unsigned max, unsigned *n)
{
	__u64 mro;
	int err;

	*n = 0;
	err = pyobj__ptr(r, type + r->L->type_mro, &mro);
	if (err)
		return err;
	if (!is_exact(r, mro, r->tuple_type))
		return -EINVAL;
	return pyobj__items(r, mro, types, max, n, NULL);
}

bool pyobj__is_class(struct pyobj *r, __u64 obj)
{
	__u64 type, flags;

	return !pyobj__type(r, obj, &type) && !type_flags(r, type, &flags) &&
	       (flags & TPFLAGS_TYPE_SUBCLASS);
}

bool pyobj__is_none(struct pyobj *r, __u64 obj)
{
	char name[16];
	__u64 type;

	return !pyobj__type(r, obj, &type) && !pyobj__type_tpname(r, type, name, sizeof(name)) &&
	       !strcmp(name, "NoneType");
}

int pyobj__deref_cell(struct pyobj *r, __u64 obj, __u64 *out)
{
	char name[16];
	__u64 type, w[4];
	int err;

	/* the cell type known: its header and ob_ref in one read */
	if (r->cell_type && r->L->cell_ref >= 16 && r->L->cell_ref < (int)sizeof(w) &&
	    !(r->L->cell_ref & 7)) {
		err = pyobj__read(r, obj, w, r->L->cell_ref + 8);
		if (err)
			return err;
		*out = w[1] == r->cell_type ? w[r->L->cell_ref / 8] : obj;
		return *out ? 0 : -ENOENT;
	}
	err = pyobj__type(r, obj, &type);
	if (!err)
		err = pyobj__type_tpname(r, type, name, sizeof(name));
	if (err)
		return err;
	if (strcmp(name, "cell")) {
		*out = obj;
		return 0;
	}
	err = pyobj__ptr(r, obj + r->L->cell_ref, out);
	if (!err && !*out)
		err = -ENOENT;
	return err;
}

int pyobj__code_first_arg(struct pyobj *r, __u64 code, const char *name, bool *yes)
{
	const struct st_py_layout *L = r->L;
	__u64 names, first;
	int32_t argcount;
	unsigned n;
	int err;

	*yes = false;
	if (L->code_argcount < 0 || L->code_varnames < 0)
		return -EINVAL;
	err = pyobj__read(r, code + L->code_argcount, &argcount, sizeof(argcount));
	if (!err)
		err = pyobj__ptr(r, code + L->code_varnames, &names);
	if (err)
		return err;
	if (argcount < 1)
		return 0;
	if (!is_exact(r, names, r->tuple_type))
		return -EINVAL;
	err = pyobj__items(r, names, &first, 1, &n, NULL);
	if (err || !n)
		return err ? err : -EINVAL;
	err = pyobj__str_eq(r, first, name);
	if (err < 0)
		return err;
	*yes = err == 1;
	return 0;
}

int pyobj__module(struct pyobj *r, __u64 runtime, const char *module, __u64 *mod)
{
	const struct st_py_layout *L = r->L;
	__u64 interp, modules;
	int err;

	if (!runtime || L->runtime_interp_main <= 0 || L->interp_modules <= 0)
		return -ENOTSUP;
	err = pyobj__ptr(r, runtime + L->runtime_interp_main, &interp);
	if (!err)
		err = pyobj__ptr(r, interp + L->interp_modules, &modules);
	if (err)
		return err;
	return dict_get(r, modules, module, MODULES_SCAN, mod);
}

int pyobj__module_attr(struct pyobj *r, __u64 mod, const char *name, __u64 *val)
{
	__u64 dict;
	int err;

	err = pyobj__ptr(r, mod + r->L->module_dict, &dict);
	if (err)
		return err;
	return pyobj__dict_get(r, dict, name, val);
}
