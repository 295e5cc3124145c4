/* SPDX-License-Identifier: BSD-2-Clause */
/* Symbol look-up in an ELF file through libelf (.symtab, then .dynsym). */
#ifndef ST_ELFSYM_H
#define ST_ELFSYM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elfsym;

struct elfsym_info {
	uint64_t value; /* st_value: link-time virtual address */
	uint64_t size;
	int type;       /* STT_FUNC, STT_OBJECT, ... */
	bool dynamic;   /* found in .dynsym (not only in .symtab) */
};

/* Returns NULL and sets errno on failure. */
struct elfsym *elfsym__open(const char *path);
/* The same, from an open file (read through a descriptor of its own). */
struct elfsym *elfsym__open_fd(int fd);
void elfsym__free(struct elfsym *e);
/* 0 or -ENOENT. Prefers a defined symbol; .symtab before .dynsym. */
int elfsym__find(const struct elfsym *e, const char *name, struct elfsym_info *out);
bool elfsym__is_dyn(const struct elfsym *e); /* ET_DYN (PIE or shared object) */
/* Lowest PT_LOAD p_vaddr, page aligned: subtract from a mapping's start to get the bias. */
uint64_t elfsym__base_vaddr(const struct elfsym *e);
bool elfsym__has_symtab(const struct elfsym *e);
/* File offset of a link-time address inside a PT_LOAD segment; -ENOENT if none. */
int elfsym__vaddr_to_offset(const struct elfsym *e, uint64_t vaddr, uint64_t *off);
/* Whether vaddr lies in a section whose name starts with prefix (e.g. ".plt"). */
bool elfsym__in_section(const struct elfsym *e, uint64_t vaddr, const char *prefix);
/* Read len bytes of the file at link-time address vaddr (within one segment). */
int elfsym__read(const struct elfsym *e, uint64_t vaddr, void *buf, size_t len);
/* Whether vaddr lies in an executable PT_LOAD segment. */
bool elfsym__is_code(const struct elfsym *e, uint64_t vaddr);
/*
 * A local symbol GCC may number: "name" or "name.<digits>" (static data in a
 * function, e.g. opcode_targets.0), in .symtab. 0, -ENOENT, or -EEXIST if
 * several match.
 */
int elfsym__find_numbered(const struct elfsym *e, const char *name, struct elfsym_info *out);

/* Dynamic relocations (.rela.dyn) of the kinds user code needs. */
struct elfsym_relocs {
	struct elfsym_rel { uint64_t offset, addend; } *relative; /* R_X86_64_RELATIVE, by offset */
	size_t nrelative;
};
/* Read them into out (sorted by offset; free with elfsym__relocs_free): 0 or -errno. */
int elfsym__relocs(const struct elfsym *e, struct elfsym_relocs *out);
void elfsym__relocs_free(struct elfsym_relocs *r);
/* The slot vaddr's addend, when an R_X86_64_RELATIVE relocation fills it: 0 or -ENOENT. */
int elfsym__relative_at(const struct elfsym_relocs *r, uint64_t vaddr, uint64_t *addend);
/* The slot an R_X86_64_GLOB_DAT/64 relocation fills with symbol name: 0 or -ENOENT. */
int elfsym__got_slot(const struct elfsym *e, const char *name, uint64_t *slot);
/*
 * Allocated, non-executable PROGBITS sections (.rodata, .data.rel.ro, ...):
 * calls fn with each one's link-time address and contents until fn returns
 * non-zero, which is returned.
 */
int elfsym__for_each_data(const struct elfsym *e,
			  int (*fn)(uint64_t vaddr, const void *data, size_t size, void *ctx),
			  void *ctx);

#endif
