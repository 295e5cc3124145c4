// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elfsym.h"

#define MAX_LOADS 16

struct elfsym {
	int fd;
	struct { uint64_t vaddr, offset, filesz; bool exec; } loads[MAX_LOADS];
	size_t nloads;
	Elf *elf;
	bool dyn;
	bool has_symtab;
	uint64_t base_vaddr;
};

struct elfsym *elfsym__open(const char *path)
{
	struct elfsym *e;
	GElf_Ehdr eh;
	size_t i, nph;
	Elf_Scn *scn = NULL;
	int err = -EINVAL;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0) {
		err = -errno;
		goto cleanup;
	}
	e->elf = elf_begin(e->fd, ELF_C_READ, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF || !gelf_getehdr(e->elf, &eh))
		goto cleanup;
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
		goto cleanup;
	e->dyn = eh.e_type == ET_DYN;
	e->base_vaddr = UINT64_MAX;
	if (elf_getphdrnum(e->elf, &nph))
		goto cleanup;
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (ph.p_vaddr < e->base_vaddr)
			e->base_vaddr = ph.p_vaddr & ~0xfffULL;
		if (e->nloads < MAX_LOADS) {
			e->loads[e->nloads].vaddr = ph.p_vaddr;
			e->loads[e->nloads].offset = ph.p_offset;
			e->loads[e->nloads].filesz = ph.p_filesz;
			e->loads[e->nloads].exec = ph.p_flags & PF_X;
			e->nloads++;
		}
	}
	if (e->base_vaddr == UINT64_MAX)
		goto cleanup;
	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			e->has_symtab = true;
	}
	return e;
cleanup:
	elfsym__free(e);
	errno = -err;
	return NULL;
}

void elfsym__free(struct elfsym *e)
{
	if (!e)
		return;
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	free(e);
}

static int find_in(const struct elfsym *e, Elf64_Word type, const char *name,
		   struct elfsym_info *out)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *s;

			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			s = elf_strptr(e->elf, sh.sh_link, sym.st_name);
			if (!s || strcmp(s, name))
				continue;
			out->value = sym.st_value;
			out->size = sym.st_size;
			out->type = GELF_ST_TYPE(sym.st_info);
			out->dynamic = type == SHT_DYNSYM;
			return 0;
		}
	}
	return -ENOENT;
}

int elfsym__find(const struct elfsym *e, const char *name, struct elfsym_info *out)
{
	struct elfsym_info dyn;

	if (find_in(e, SHT_SYMTAB, name, out))
		return find_in(e, SHT_DYNSYM, name, out);
	/* also exported? then strip keeps it */
	out->dynamic = !find_in(e, SHT_DYNSYM, name, &dyn) && dyn.value == out->value;
	return 0;
}

bool elfsym__is_dyn(const struct elfsym *e)
{
	return e->dyn;
}

uint64_t elfsym__base_vaddr(const struct elfsym *e)
{
	return e->base_vaddr;
}

bool elfsym__has_symtab(const struct elfsym *e)
{
	return e->has_symtab;
}

int elfsym__vaddr_to_offset(const struct elfsym *e, uint64_t vaddr, uint64_t *off)
{
	size_t i;

	for (i = 0; i < e->nloads; i++) {
		if (vaddr >= e->loads[i].vaddr && vaddr - e->loads[i].vaddr < e->loads[i].filesz) {
			*off = vaddr - e->loads[i].vaddr + e->loads[i].offset;
			return 0;
		}
	}
	return -ENOENT;
}

int elfsym__read(const struct elfsym *e, uint64_t vaddr, void *buf, size_t len)
{
	uint64_t off, end;

	if (elfsym__vaddr_to_offset(e, vaddr, &off) || elfsym__vaddr_to_offset(e, vaddr + len - 1, &end) ||
	    end - off != len - 1)
		return -ENOENT;
	return pread(e->fd, buf, len, off) == (ssize_t)len ? 0 : -EIO;
}

bool elfsym__in_section(const struct elfsym *e, uint64_t vaddr, const char *prefix)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(e->elf, &shstrndx))
		return false;
	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || vaddr < sh.sh_addr || vaddr - sh.sh_addr >= sh.sh_size)
			continue;
		name = elf_strptr(e->elf, shstrndx, sh.sh_name);
		if (name && !strncmp(name, prefix, strlen(prefix)))
			return true;
	}
	return false;
}
