// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "resolve/elfsym.h"

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
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	struct elfsym *e;

	if (fd < 0)
		return NULL;
	e = elfsym__open_fd(fd);
	err = errno;
	close(fd);
	errno = err;
	return e;
}

struct elfsym *elfsym__open_fd(int fd)
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
	/* its own descriptor of the same open file: the caller's stays the caller's */
	e->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
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

/* The next section of type after *scn with its entries: their data and count, or NULL. */
static Elf_Data *next_table(const struct elfsym *e, Elf_Scn **scn, Elf64_Word type,
			    GElf_Shdr *sh, size_t *n)
{
	Elf_Data *data;

	while ((*scn = elf_nextscn(e->elf, *scn))) {
		if (!gelf_getshdr(*scn, sh) || sh->sh_type != type || !sh->sh_entsize)
			continue;
		data = elf_getdata(*scn, NULL);
		if (!data)
			continue;
		*n = sh->sh_size / sh->sh_entsize;
		return data;
	}
	return NULL;
}

/*
 * Calls fn(name, sym, ctx) for each defined symbol of every section of type
 * (SHT_SYMTAB or SHT_DYNSYM) until it returns non-zero; returns that value.
 */
static int for_each_sym(const struct elfsym *e, Elf64_Word type,
			int (*fn)(const char *name, const GElf_Sym *sym, void *ctx), void *ctx)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	size_t i, n;
	int ret;

	while ((data = next_table(e, &scn, type, &sh, &n))) {
		for (i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *s;

			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			s = elf_strptr(e->elf, sh.sh_link, sym.st_name);
			if (s && (ret = fn(s, &sym, ctx)))
				return ret;
		}
	}
	return 0;
}

static void sym_info(const GElf_Sym *sym, bool dynamic, struct elfsym_info *out)
{
	out->value = sym->st_value;
	out->size = sym->st_size;
	out->type = GELF_ST_TYPE(sym->st_info);
	out->dynamic = dynamic;
}

struct find_ctx {
	const char *name;
	bool dynamic;
	struct elfsym_info *out;
	int found;
};

static int match_exact(const char *s, const GElf_Sym *sym, void *ctx)
{
	struct find_ctx *f = ctx;

	if (strcmp(s, f->name))
		return 0;
	sym_info(sym, f->dynamic, f->out);
	return 1;
}

static int find_in(const struct elfsym *e, Elf64_Word type, const char *name,
		   struct elfsym_info *out)
{
	struct find_ctx f = { .name = name, .dynamic = type == SHT_DYNSYM, .out = out };

	return for_each_sym(e, type, match_exact, &f) ? 0 : -ENOENT;
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

bool elfsym__is_code(const struct elfsym *e, uint64_t vaddr)
{
	size_t i;

	for (i = 0; i < e->nloads; i++)
		if (e->loads[i].exec && vaddr >= e->loads[i].vaddr &&
		    vaddr - e->loads[i].vaddr < e->loads[i].filesz)
			return true;
	return false;
}

static bool numbered(const char *s, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(s, name, n))
		return false;
	if (!s[n])
		return true;
	if (s[n] != '.' || !s[n + 1])
		return false;
	for (s += n + 1; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* name, or name.N for a number N (GCC's clones): all at one address, or -EEXIST */
static int match_numbered(const char *s, const GElf_Sym *sym, void *ctx)
{
	struct find_ctx *f = ctx;

	if (!numbered(s, f->name))
		return 0;
	if (f->found++ && f->out->value != sym->st_value)
		return -EEXIST;
	sym_info(sym, false, f->out);
	return 0;
}

int elfsym__find_numbered(const struct elfsym *e, const char *name, struct elfsym_info *out)
{
	struct find_ctx f = { .name = name, .out = out };
	int err = for_each_sym(e, SHT_SYMTAB, match_numbered, &f);

	if (err)
		return err;
	return f.found ? 0 : -ENOENT;
}

static int rel_cmp(const void *a, const void *b)
{
	const struct elfsym_rel *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Calls fn for each RELA entry of every SHT_RELA section until it returns non-zero. */
static int for_each_rela(const struct elfsym *e,
			 int (*fn)(const GElf_Rela *r, const GElf_Shdr *sh, void *ctx), void *ctx)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	size_t i, n;
	int ret;

	while ((data = next_table(e, &scn, SHT_RELA, &sh, &n))) {
		for (i = 0; i < n; i++) {
			GElf_Rela r;

			if (gelf_getrela(data, i, &r) && (ret = fn(&r, &sh, ctx)))
				return ret;
		}
	}
	return 0;
}

static int add_relative(const GElf_Rela *r, const GElf_Shdr *sh, void *ctx)
{
	struct elfsym_relocs *out = ctx;
	struct elfsym_rel *n;
	size_t cap;

	if (GELF_R_TYPE(r->r_info) != R_X86_64_RELATIVE)
		return 0;
	cap = out->nrelative;
	if (!(cap & (cap - 1))) { /* 0, 1, 2, 4, ...: grow to twice */
		n = realloc(out->relative, (cap ? cap * 2 : 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		out->relative = n;
	}
	out->relative[out->nrelative].offset = r->r_offset;
	out->relative[out->nrelative].addend = (uint64_t)r->r_addend;
	out->nrelative++;
	return 0;
}

int elfsym__relocs(const struct elfsym *e, struct elfsym_relocs *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	err = for_each_rela(e, add_relative, out);
	if (err) {
		elfsym__relocs_free(out);
		return err;
	}
	if (out->nrelative)
		qsort(out->relative, out->nrelative, sizeof(*out->relative), rel_cmp);
	return 0;
}

void elfsym__relocs_free(struct elfsym_relocs *r)
{
	free(r->relative);
	r->relative = NULL;
	r->nrelative = 0;
}

int elfsym__relative_at(const struct elfsym_relocs *r, uint64_t vaddr, uint64_t *addend)
{
	size_t lo = 0, hi = r->nrelative;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->relative[mid].offset < vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == r->nrelative || r->relative[lo].offset != vaddr)
		return -ENOENT;
	*addend = r->relative[lo].addend;
	return 0;
}

struct got_ctx {
	const struct elfsym *e;
	uint64_t vaddr;
	const char *name;
};

static int got_match(const GElf_Rela *r, const GElf_Shdr *sh, void *ctx)
{
	struct got_ctx *c = ctx;
	unsigned type = GELF_R_TYPE(r->r_info);
	Elf_Scn *symscn;
	GElf_Shdr symsh;
	Elf_Data *data;
	GElf_Sym sym;
	const char *s;

	if (r->r_offset != c->vaddr || (type != R_X86_64_GLOB_DAT && type != R_X86_64_64))
		return 0;
	symscn = elf_getscn(c->e->elf, sh->sh_link);
	if (!symscn || !gelf_getshdr(symscn, &symsh) || !(data = elf_getdata(symscn, NULL)) ||
	    !gelf_getsym(data, GELF_R_SYM(r->r_info), &sym))
		return 0;
	s = elf_strptr(c->e->elf, symsh.sh_link, sym.st_name);
	return s && !strcmp(s, c->name);
}

struct got_slot_ctx {
	const struct elfsym *e;
	const char *name;
	uint64_t slot;
};

static int got_slot_match(const GElf_Rela *r, const GElf_Shdr *sh, void *ctx)
{
	struct got_slot_ctx *c = ctx;
	struct got_ctx m = { .e = c->e, .vaddr = r->r_offset, .name = c->name };

	if (!got_match(r, sh, &m))
		return 0;
	c->slot = r->r_offset;
	return 1;
}

int elfsym__got_slot(const struct elfsym *e, const char *name, uint64_t *slot)
{
	struct got_slot_ctx c = { .e = e, .name = name };

	if (for_each_rela(e, got_slot_match, &c) != 1)
		return -ENOENT;
	*slot = c.slot;
	return 0;
}

int elfsym__for_each_data(const struct elfsym *e,
			  int (*fn)(uint64_t vaddr, const void *data, size_t size, void *ctx),
			  void *ctx)
{
	Elf_Scn *scn = NULL;
	int ret;

	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_ALLOC) || (sh.sh_flags & SHF_EXECINSTR))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf || data->d_size != sh.sh_size)
			continue;
		ret = fn(sh.sh_addr, data->d_buf, data->d_size, ctx);
		if (ret)
			return ret;
	}
	return 0;
}
