// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elfsym.h"

struct elfsym {
	int fd;
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

		if (gelf_getphdr(e->elf, i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < e->base_vaddr)
			e->base_vaddr = ph.p_vaddr & ~0xfffULL;
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
	if (!find_in(e, SHT_SYMTAB, name, out))
		return 0;
	return find_in(e, SHT_DYNSYM, name, out);
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
