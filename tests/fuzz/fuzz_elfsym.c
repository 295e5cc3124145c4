// SPDX-License-Identifier: BSD-2-Clause
/*
 * elfsym (user/resolve/elfsym.c, through libelf) and the stripped-binary branch
 * scan of pysyms (user/resolve/pysyms.c) on arbitrary and mutated ELF files: the
 * interpreter file of a traced process is not ours to trust (a container
 * image can ship any libpython). The input is written to a memfd and opened
 * by path (/proc/self/fd/N), as elfsym__open() opens /proc/PID/map_files.
 *
 * Checked: no crash or leak in open/find/read/in_section/raise_entry;
 * elfsym__is_dyn() agrees with e_type; the base address is page aligned;
 * elfsym__read() returns exactly the file's bytes at the offset that
 * elfsym__vaddr_to_offset() gives, never bytes from beyond the file; a
 * raise entry found without names is a mapped address with no name.
 */
#include "fuzz_common.h"
#include <errno.h>
#include <unistd.h>
#include "resolve/elfsym.h"
#include "resolve/pysyms.h"

static const char *const names[] = {
	"_PyErr_SetObject", "PyErr_SetObject", "PyErr_SetNone", "Py_Version", "_PyRuntime",
	"PyExc_AssertionError", "PyUnicode_Type", "main", "_start", "",
};

static int memfd = -1;
static char path[64];

static void check_read(const struct elfsym *e, const uint8_t *data, size_t size, uint64_t vaddr,
		       size_t len)
{
	uint8_t buf[64];
	uint64_t off;
	int ret;

	if (!len || len > sizeof(buf))
		return;
	ret = elfsym__read(e, vaddr, buf, len);
	if (ret)
		return;
	FUZZ_CHECK(!elfsym__vaddr_to_offset(e, vaddr, &off), "read an unmapped address");
	FUZZ_CHECK(off < size && len <= size - off, "read %zu bytes at file offset 0x%llx of a "
		   "%zu-byte file", len, (unsigned long long)off, size);
	FUZZ_CHECK(!memcmp(buf, data + off, len), "bytes differ from the file at 0x%llx",
		   (unsigned long long)off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elfsym *e;
	struct elfsym_info si;
	struct raise_entry re;
	uint64_t off, tail = 0;
	size_t i;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-elf", MFD_CLOEXEC);
		FUZZ_CHECK(memfd >= 0, "memfd_create");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	e = elfsym__open(path);
	if (!e)
		return 0;
	if (size >= 18) {
		unsigned type = data[16] | data[17] << 8;

		FUZZ_CHECK(elfsym__is_dyn(e) == (type == 3), "is_dyn with e_type %u", type);
	}
	FUZZ_CHECK(!(elfsym__base_vaddr(e) & 0xfff), "base 0x%llx not page aligned",
		   (unsigned long long)elfsym__base_vaddr(e));
	(void)elfsym__has_symtab(e);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (elfsym__find(e, names[i], &si))
			continue;
		if (!elfsym__vaddr_to_offset(e, si.value, &off))
			(void)elfsym__in_section(e, si.value, ".text");
		check_read(e, data, size, si.value, 16);
		check_read(e, data, size, si.value, si.size < 64 ? (size_t)si.size : 64);
	}
	/* addresses the input picks: its last 8 bytes, and around the base */
	if (size >= 8)
		memcpy(&tail, data + size - 8, 8);
	check_read(e, data, size, tail, 1 + (tail >> 58));
	check_read(e, data, size, elfsym__base_vaddr(e), 64);
	check_read(e, data, size, UINT64_MAX - 3, 8);
	(void)elfsym__in_section(e, tail, ".plt");
	(void)elfsym__in_section(e, tail, "");
	if (!pysyms__raise_entry(e, false, &re)) {
		FUZZ_CHECK(!re.name, "a name without use_names");
		FUZZ_CHECK(!elfsym__vaddr_to_offset(e, re.vaddr, &off), "raise entry not mapped");
	}
	if (!pysyms__raise_entry(e, true, &re) && re.name)
		FUZZ_CHECK(!strcmp(re.name, "_PyErr_SetObject") ||
			   !strcmp(re.name, "_PyErr_SetObject.part.0"), "raise entry %s", re.name);
	elfsym__free(e);
	return 0;
}
