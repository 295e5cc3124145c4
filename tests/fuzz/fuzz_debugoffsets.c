// SPDX-License-Identifier: BSD-2-Clause
/*
 * debugoffsets__apply() (user/resolve/debugoffsets.c) on arbitrary bytes as the
 * target's _Py_DebugOffsets, read through the real process_vm_readv path
 * (user/memory/remote.c) from our own pid: the blob sits at the end of the fuzz
 * arena, right before a guard page, so a short blob is a short read exactly
 * as at the end of a target's mapping.
 *
 * Checked: an error message is one NUL-terminated line within its buffer
 * (also for tiny buffers); success only with the "xdebugpy" cookie,
 * the requested minor version, not free-threaded, at least 25 fields taken,
 * thread_state.current_frame taken from the blob (re-checked here
 * independently), and a frame read the BPF program can do; a version
 * without a definition is -ENOTSUP.
 *
 * Input: [version_hex: 4 bytes LE][errsz][blob...]
 */
#include "fuzz_common.h"
#include <errno.h>
#include <unistd.h>
#include "resolve/debugoffsets.h"
#include "resolve/pylayout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t errszs[] = { 256, 1, 2, 16, 64, 0 };
	const struct st_py_layout *base;
	struct st_py_layout L;
	unsigned version, minor;
	size_t n, errsz;
	uint8_t *a = fz_arena(), *blob;
	char *err;
	int ret;

	if (size < 5)
		return 0;
	version = (unsigned)data[0] | (unsigned)data[1] << 8 | (unsigned)data[2] << 16 |
		  (unsigned)data[3] << 24;
	errsz = errszs[data[4] % (sizeof(errszs) / sizeof(errszs[0]))];
	data += 5;
	n = size - 5;
	if (n > FZ_ARENA_SIZE)
		n = FZ_ARENA_SIZE;
	blob = a + FZ_ARENA_SIZE - n;
	memcpy(blob, data, n);
	/* our layout for that version, else the 3.13 one */
	base = pylayout__find(version);
	if (!base)
		base = pylayout__find(0x030d0000);
	FUZZ_CHECK(base, "no 3.13 layout in this build");
	L = *base;
	minor = (version >> 16) & 0xff;
	err = malloc(errsz ? errsz : 1);
	if (!err)
		abort();
	memset(err, 'X', errsz ? errsz : 1);
	ret = debugoffsets__apply(getpid(), (uint64_t)(uintptr_t)blob, version, &L, err, errsz);
	if (errsz && ret < 0) {
		FUZZ_CHECK(memchr(err, 0, errsz), "message not NUL-terminated");
		FUZZ_CHECK(!strchr(err, '\n'), "message has a newline");
	}
	if ((version >> 24) != 3 || minor < 13 || minor > 15) {
		FUZZ_CHECK(ret == -ENOTSUP, "version 0x%x: %d", version, ret);
	} else if (ret > 0) {
		uint64_t ver, ft;

		FUZZ_CHECK(n >= 24 && !memcmp(data, "xdebugpy", 8), "accepted without the cookie");
		memcpy(&ver, data + 8, 8);
		memcpy(&ft, data + 16, 8);
		FUZZ_CHECK((ver & 0xffff0000) == (version & 0xffff0000), "accepted version 0x%llx",
			   (unsigned long long)ver);
		FUZZ_CHECK(!ft, "accepted a free-threaded build");
		FUZZ_CHECK(ret >= 25, "took only %d fields", ret);
		FUZZ_CHECK(L.frame_read > 0 && L.frame_read <= ST_FRAME_READ_MAX,
			   "frame read of %d bytes accepted", L.frame_read);
		/* thread_state.current_frame: u64 number 23 (3.13) or 26 (3.14, 3.15) */
		{
			size_t k = minor == 13 ? 23 : 26;
			uint64_t cf;

			FUZZ_CHECK(n >= (k + 1) * 8, "accepted a blob of %zu bytes", n);
			memcpy(&cf, data + k * 8, 8);
			FUZZ_CHECK(cf == (uint64_t)L.tstate_frame,
				   "current_frame %llu in the blob, layout took %d",
				   (unsigned long long)cf, L.tstate_frame);
		}
	} else {
		FUZZ_CHECK(ret == -EFAULT || ret == -EPROTO, "unexpected error %d", ret);
	}
	memset(blob, 0, n);
	free(err);
	return 0;
}
