// SPDX-License-Identifier: BSD-2-Clause
/*
 * An adversary for issue 25, item 1: a process that looks like CPython to
 * the tracer and swaps its interpreter mapping in a loop.
 *
 *   swap_interp LIBPYTHON OTHER
 *
 * Loads LIBPYTHON's PT_LOAD segments as the dynamic loader would (no
 * relocation, no code run), sets the two exception pointers the tracer
 * reads, names itself python3.X, prints "ready ADDR LEN" and then, forever,
 * maps OTHER and LIBPYTHON in turn (MAP_FIXED) over the first segment: the
 * one /proc/PID/maps shows as the interpreter at file offset 0. A tracer
 * that parses one file and attaches by path a moment later may put the
 * probe's offset in OTHER. OTHER must be larger than that offset for the
 * trap to land anywhere (another libpython does).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096UL
#define TRUNC(x) ((x) & ~(PAGE - 1))
#define ROUND(x) TRUNC((x) + PAGE - 1)

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* The value of a .dynsym symbol, 0 if absent. */
static uint64_t dynsym(const uint8_t *img, size_t size, const char *name)
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Shdr *sh = (const void *)(img + eh->e_shoff);
	int i;

	if (eh->e_shoff + (size_t)eh->e_shnum * sizeof(*sh) > size)
		return 0;
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym;
		const char *str;
		size_t k, n;

		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum)
			continue;
		sym = (const void *)(img + sh[i].sh_offset);
		str = (const char *)(img + sh[sh[i].sh_link].sh_offset);
		n = sh[i].sh_size / sizeof(*sym);
		for (k = 0; k < n; k++)
			if (sym[k].st_name && !strcmp(str + sym[k].st_name, name))
				return sym[k].st_value;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const Elf64_Ehdr *eh;
	const Elf64_Phdr *ph;
	uint64_t span = 0, first_len = 0, assertion, keyerror, unicode;
	uint8_t *img, *base;
	struct stat st;
	int fd, other, i;

	if (argc != 3) {
		fprintf(stderr, "usage: swap_interp LIBPYTHON OTHER\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	other = open(argv[2], O_RDONLY);
	if (fd < 0 || other < 0 || fstat(fd, &st))
		die("open");
	img = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED)
		die("mmap");
	eh = (const void *)img;
	ph = (const void *)(img + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr + ph[i].p_memsz > span)
			span = ph[i].p_vaddr + ph[i].p_memsz;
	base = mmap(NULL, ROUND(span), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		die("reserve");
	for (i = 0; i < eh->e_phnum; i++) {
		uint64_t start = TRUNC(ph[i].p_vaddr), off = TRUNC(ph[i].p_offset);
		uint64_t len = ROUND(ph[i].p_vaddr + ph[i].p_filesz) - start;
		int prot = PROT_READ | (ph[i].p_flags & PF_X ? PROT_EXEC : 0) |
			   (ph[i].p_flags & PF_W ? PROT_WRITE : 0);

		if (ph[i].p_type != PT_LOAD)
			continue;
		if (mmap(base + start, len, prot, MAP_PRIVATE | MAP_FIXED, fd, off) == MAP_FAILED)
			die("segment");
		if (!off)
			first_len = len;
	}
	/* what the tracer reads first: *PyExc_AssertionError, *PyExc_KeyError */
	assertion = dynsym(img, st.st_size, "PyExc_AssertionError");
	keyerror = dynsym(img, st.st_size, "PyExc_KeyError");
	unicode = dynsym(img, st.st_size, "PyUnicode_Type");
	if (!assertion || !keyerror || !unicode || !first_len) {
		fprintf(stderr, "swap_interp: %s is not a libpython\n", argv[1]);
		return 1;
	}
	*(uint64_t *)(base + assertion) = (uint64_t)(base + unicode);
	*(uint64_t *)(base + keyerror) = (uint64_t)(base + unicode);
	prctl(PR_SET_NAME, "python3");
	printf("ready %p %lu\n", (void *)base, (unsigned long)first_len);
	fflush(stdout);
	for (;;) {
		if (mmap(base, first_len, PROT_READ, MAP_PRIVATE | MAP_FIXED, other, 0) == MAP_FAILED ||
		    mmap(base, first_len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED)
			die("swap");
	}
}
