// SPDX-License-Identifier: BSD-2-Clause
/*
 * The remote Python object reader (user/memory/pyobj.c): dict scans, attribute
 * lookup (every CPython 3.10-3.13 storage: __dict__ at tp_dictoffset,
 * 3.11 managed values, 3.12 tagged managed dict, 3.13 inline values),
 * str/int/tuple/list/type/cell/code reads, on fuzzed remote memory. Reads go
 * through the real process_vm_readv (user/memory/remote.c) of our own pid into
 * the fixed-address arena (fuzz_common.h); seeds are real objects of real
 * interpreters copied there with their pointers relocated (seeds.py).
 *
 * Checked: results are 0 or a negative errno (bool/int results in range);
 * string outputs are NUL-terminated inside their buffer, with the returned
 * length, and valid UTF-8 (str) or printable ASCII (tp_name); counts never
 * exceed the given maximum; the read budget is honoured.
 *
 * FUZZ_SHOW=1 in the environment prints each result.
 *
 * Input: [version selector][operation][name: 16 bytes, NUL-padded]
 *        [object address: 8 bytes LE][arena...]
 */
#include "fuzz_common.h"
#include <errno.h>
#include <unistd.h>
#include "resolve/pylayout.h"
#include "memory/pyobj.h"
#include "resolve/target.h"

/* must match seeds.py PYOBJ_TYPES: real type objects are copied there */
#define FZ_UNICODE_TYPE (FZ_ARENA_BASE + 0x1000)
#define FZ_TUPLE_TYPE   (FZ_ARENA_BASE + 0x1400)
#define FZ_DICT_TYPE    (FZ_ARENA_BASE + 0x1800)
#define HDR_SIZE        (2 + 16 + 8)
#define MAX_READS       512

static const unsigned versions[] = { 0x030a0000, 0x030b0000, 0x030c0000, 0x030d0000 };

static bool errno_ok(int err)
{
	return err == 0 || err == -EFAULT || err == -EINVAL || err == -ENOENT || err == -E2BIG ||
	       err == -ERANGE || err == -ENOMEM || err == -ENAMETOOLONG || err == -EPROTO ||
	       err == -ENOSPC || err == -EOVERFLOW;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct target t;
	struct pyobj r;
	char name[17], buf[300];
	__u64 obj, val = 0, items[40];
	size_t len = 0, off = 0;
	unsigned n = 0;
	long long iv = 0;
	bool trunc = false, yes = false;
	int err = 0;

	if (size < HDR_SIZE)
		return 0;
	memcpy(name, data + 2, 16);
	name[16] = 0;
	memcpy(&obj, data + 18, 8);
	if (obj && !(obj >> 32))
		obj += FZ_ARENA_BASE; /* small values: offsets into the arena */
	fz_arena_load(data + HDR_SIZE, size - HDR_SIZE);

	t.pid = getpid();
	t.version_hex = versions[data[0] & 3];
	t.layout = pylayout__find(t.version_hex);
	FUZZ_CHECK(t.layout, "no layout for 0x%x", t.version_hex);
	t.bpf.unicode_type = FZ_UNICODE_TYPE;
	t.bpf.tuple_type = FZ_TUPLE_TYPE;
	t.bpf.dict_type = FZ_DICT_TYPE;
	pyobj__init(&r, t.pid, t.layout, &t.bpf, MAX_READS);

	memset(buf, 'X', sizeof(buf));
	switch (data[1] % 13) {
	case 0:
		err = pyobj__dict_get(&r, obj, name, &val);
		break;
	case 1:
		err = pyobj__attr(&r, obj, name, &val);
		break;
	case 2: {
		/* output buffer sizes down to 1 byte */
		size_t sz = 1 + (data[0] >> 2) * 4;

		err = pyobj__str(&r, obj, buf, sz, &len, &trunc);
		FUZZ_CHECK(buf[sz] == 'X', "pyobj__str wrote past %zu bytes", sz);
		if (!err) {
			FUZZ_CHECK(len < sz && buf[len] == 0, "len %zu, size %zu", len, sz);
			FUZZ_CHECK(fz_utf8_valid((uint8_t *)buf, len), "str not UTF-8");
		}
		break;
	}
	case 3:
		err = pyobj__str_eq(&r, obj, name);
		FUZZ_CHECK(err == 0 || err == 1 || (err < 0 && errno_ok(err)), "str_eq %d", err);
		err = err > 0 ? 0 : err;
		break;
	case 4:
		err = pyobj__int(&r, obj, &iv);
		break;
	case 5: {
		__u64 total;
		unsigned max = data[0] >> 2 & 31;

		err = pyobj__items(&r, obj, items, max, &n, &total);
		if (!err)
			FUZZ_CHECK(n <= max && n <= total, "items: %u of max %u, total %llu", n, max,
				   (unsigned long long)total);
		break;
	}
	case 6:
		err = pyobj__type_name(&r, obj, buf, sizeof(buf) - 1, &off);
		if (!err) {
			len = strnlen(buf, sizeof(buf) - 1);
			FUZZ_CHECK(len < sizeof(buf) - 1 && off <= len, "type name %zu, off %zu", len,
				   off);
			FUZZ_CHECK(fz_utf8_valid((uint8_t *)buf, len), "type name not UTF-8");
		}
		break;
	case 7:
		err = pyobj__type_tpname(&r, obj, buf, 1 + (data[0] >> 2));
		if (!err) {
			size_t i;

			len = strnlen(buf, 1 + (data[0] >> 2));
			FUZZ_CHECK(len < 1u + (data[0] >> 2), "tp_name not terminated");
			for (i = 0; i < len; i++)
				FUZZ_CHECK(buf[i] >= 0x20 && buf[i] < 0x7f, "tp_name byte 0x%02x",
					   (unsigned char)buf[i]);
		}
		break;
	case 8: {
		unsigned max = PYOBJ_MRO_MAX;

		err = pyobj__mro(&r, obj, items, max, &n);
		if (!err)
			FUZZ_CHECK(n <= max, "mro of %u", n);
		break;
	}
	case 9:
		(void)pyobj__is_none(&r, obj);
		break;
	case 10:
		err = pyobj__deref_cell(&r, obj, &val);
		break;
	case 11:
		err = pyobj__code_first_arg(&r, obj, name, &yes);
		break;
	case 12:
		err = pyobj__module_attr(&r, obj, name, &val);
		break;
	}
	if (getenv("FUZZ_SHOW"))
		fprintf(stderr, "op %d name '%s' obj 0x%llx: err %d val 0x%llx n %u iv %lld yes %d "
			"buf '%.*s'\n", data[1] % 13, name, (unsigned long long)obj, err,
			(unsigned long long)val, n, iv, yes, (int)strnlen(buf, 64), buf);
	FUZZ_CHECK(errno_ok(err), "operation %d returned %d", data[1] % 13, err);
	FUZZ_CHECK(r.reads_left <= MAX_READS, "read budget wrapped: %u", r.reads_left);
	return 0;
}
