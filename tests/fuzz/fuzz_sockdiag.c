// SPDX-License-Identifier: BSD-2-Clause
/*
 * sockdiag__parse() (user/discover/sockdiag.c) on arbitrary bytes as one
 * datagram of a sock_diag dump. It returns 1 (NLMSG_DONE), 0 (more to
 * come), -EBADMSG or an errno the message carried; never reads outside the
 * datagram; counts at least what it writes, each written listener being one
 * of the inodes asked for, with an address that is NUL-terminated printable
 * ASCII. The first byte chooses max (0..7); seeds are real dumps
 * (tests/fuzz/seeds.py: this host's sockets in LISTEN, TCP v4, v6, Unix).
 */
#include <errno.h>
#include "fuzz_common.h"
#include "discover/sockdiag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the seeds' inodes are real: any value asked for is as good as another */
	static const unsigned long long ino[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	struct procfs_listener out[8];
	size_t max, n = 0, entries = 0, i, k;
	void *buf;
	int ret;

	if (!size)
		return 0;
	max = data[0] & 7;
	/* an exact-size copy: ASan sees any read past the datagram */
	buf = malloc(size - 1 ? size - 1 : 1);
	FUZZ_CHECK(buf, "malloc");
	memcpy(buf, data + 1, size - 1);
	memset(out, 0xa5, sizeof(out));
	ret = sockdiag__parse(buf, size - 1, ino, sizeof(ino) / sizeof(ino[0]), out, max, &n,
			      &entries);
	FUZZ_CHECK(ret == 1 || ret == 0 || (ret < 0 && ret > -4096), "return %d", ret);
	FUZZ_CHECK(n <= entries, "%zu listeners from %zu entries", n, entries);
	for (i = 0; i < n && i < max; i++) {
		FUZZ_CHECK(out[i].inode >= 1 && out[i].inode <= 10, "inode %llu", out[i].inode);
		FUZZ_CHECK(memchr(out[i].addr, 0, sizeof(out[i].addr)), "address not terminated");
		for (k = 0; out[i].addr[k]; k++)
			FUZZ_CHECK(out[i].addr[k] >= 0x20 && out[i].addr[k] < 0x7f,
				   "byte 0x%02x in an address", (unsigned char)out[i].addr[k]);
	}
	free(buf);
	return 0;
}
