// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "decode/linetable.h"
#include "memory/pyobj.h"
#include "memory/remote.h"
#include "decode/symbolizer.h"
#include "resolve/target.h"
#include "util/hashmap.h"
#include "util/cut.h"
#include "util/log.h"

#define CODE_CACHE_FULL  2048          /* entries before an eviction is due */
#define CODE_CACHE_BYTES (8u << 20)    /* strings and line tables before one is due */
#define ENTRY_BYTES      128           /* an entry's own allocations, counted with its strings */
#define NAME_MAX_BYTES   4096          /* longest qualname/filename kept (UTF-8) */
#define NAME_READS       64            /* remote reads per name (a 4096-char UCS-4 str: 32) */
#define LINETABLE_MAX    (256u << 10)  /* one code object's line table (else: no line) */

struct code_entry {
	char *function;
	char *file;
	int firstlineno;
	uint8_t *linetable;
	size_t linetable_len;
};

/*
 * Symbolized code objects by address. Lifetimes: entries are freed only
 * between events (symbolizer__event_end), so the frames of the event being
 * decoded point into live entries; during an event the map keeps taking
 * them (one event adds at most ST_MAX_FRAMES). Bounded by entries and by
 * bytes (each line table is capped too).
 */
struct symbolizer {
	const struct target *t;
	struct hashmap map; /* address -> struct code_entry * */
	size_t bytes;       /* strings and line tables held */
	struct symbolizer_pool *pool; /* or NULL */
	unsigned long long evictions;
};

struct symbolizer *symbolizer__new(const struct target *t, struct symbolizer_pool *pool)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->t = t;
	s->pool = pool;
	hashmap__init(&s->map, hashmap__hash_u64, hashmap__equal_u64, NULL);
	return s;
}

static void code_entry_free(struct code_entry *c)
{
	if (!c)
		return;
	free(c->function);
	free(c->file);
	free(c->linetable);
	free(c);
}

static void cache_clear(struct symbolizer *s)
{
	struct hashmap_entry *e;
	size_t bkt;

	hashmap__for_each_entry(&s->map, e, bkt)
		code_entry_free((struct code_entry *)e->value);
	hashmap__clear(&s->map);
	if (s->pool)
		s->pool->bytes -= s->bytes;
	s->bytes = 0;
}

void symbolizer__free(struct symbolizer *s)
{
	if (!s)
		return;
	cache_clear(s);
	free(s);
}

/* A str object of the target as UTF-8 (malloc'd), NULL if it is not one. */
static char *read_name(const struct target *t, __u64 obj)
{
	char buf[NAME_MAX_BYTES + 1];
	bool cut = false;
	struct pyobj r;

	pyobj__init(&r, t->pid, t->layout, &t->bpf, NAME_READS);
	if (pyobj__str(&r, obj, buf, sizeof(buf), NULL, &cut))
		return NULL;
	if (cut)
		cut__mark(buf, sizeof(buf));
	return strdup(buf);
}

#define MAX(a, b) ((a) > (b) ? (a) : (b))

static int load_code(struct symbolizer *s, uint64_t addr, struct code_entry *c)
{
	const struct target *t = s->t;
	const struct st_py_layout *L = t->layout;
	uint8_t hdr[256];
	uint64_t lt;
	__u64 size;
	int32_t first;
	size_t need = MAX(MAX(MAX(L->code_filename, L->code_name), L->code_qualname),
			  MAX(L->code_firstlineno, L->code_linetable)) + 8;

	if (need > sizeof(hdr) || remote__read(t->pid, addr, hdr, need))
		return -EFAULT;
	c->function = read_name(t, *(uint64_t *)&hdr[L->code_qualname >= 0 ? L->code_qualname
									     : L->code_name]);
	c->file = read_name(t, *(uint64_t *)&hdr[L->code_filename]);
	memcpy(&first, &hdr[L->code_firstlineno], sizeof(first));
	c->firstlineno = first;
	lt = *(uint64_t *)&hdr[L->code_linetable];
	if (lt && !remote__read_u64(t->pid, lt + L->var_size, &size) && size <= LINETABLE_MAX) {
		c->linetable = malloc(size ? size : 1);
		if (c->linetable && !remote__read(t->pid, lt + L->bytes_sval, c->linetable, size))
			c->linetable_len = size;
	}
	need = ENTRY_BYTES + c->linetable_len + (c->function ? strlen(c->function) : 0) +
	       (c->file ? strlen(c->file) : 0);
	s->bytes += need;
	if (s->pool)
		s->pool->bytes += need;
	return 0;
}

static struct code_entry *code_lookup(struct symbolizer *s, uint64_t addr)
{
	struct code_entry *c;
	uintptr_t v;

	if (hashmap__find(&s->map, addr, &v))
		return (struct code_entry *)v;
	c = calloc(1, sizeof(*c));
	if (!c || load_code(s, addr, c) || hashmap__set(&s->map, addr, (uintptr_t)c)) {
		code_entry_free(c);
		return NULL;
	}
	return c;
}

void symbolizer__event_end(struct symbolizer *s)
{
	if (hashmap__size(&s->map) < CODE_CACHE_FULL && s->bytes < CODE_CACHE_BYTES &&
	    (!s->pool || s->pool->bytes < s->pool->cap))
		return;
	/* full enough: start over */
	cache_clear(s);
	s->evictions++;
	pr_debug("pid %d: code object cache started over (%llu times)\n", s->t->pid,
		 s->evictions);
}

void symbolizer__frame(struct symbolizer *s, const struct st_frame *f, struct frame_info *out)
{
	const struct st_py_layout *L = s->t->layout;
	struct code_entry *c = f->code ? code_lookup(s, f->code) : NULL;
	int64_t addrq;

	out->function = "?";
	out->file = "?";
	out->line = -1;
	if (!c)
		return;
	if (c->function)
		out->function = c->function;
	if (c->file)
		out->file = c->file;
	if (!c->linetable)
		return;
	if (L->code_adaptive >= 0)
		addrq = (int64_t)(f->instr - f->code - L->code_adaptive);
	else
		addrq = (int64_t)(int32_t)f->instr * 2; /* <=3.10: f_lasti in code units */
	if (addrq < 0 || addrq > INT32_MAX)
		return;
	out->line = linetable__addr2line(s->t->version_hex, c->linetable, c->linetable_len,
					 c->firstlineno, (int)addrq);
}

void symbolizer__code_at(struct symbolizer *s, __u64 code, unsigned unit,
			 struct frame_info *out)
{
	const struct st_py_layout *L = s->t->layout;
	struct st_frame f = { .code = code };

	/* the frame's instruction pointer: 3.11+ an address, 3.10 f_lasti */
	f.instr = L->code_adaptive >= 0 ? code + L->code_adaptive + 2ULL * unit : unit;
	symbolizer__frame(s, &f, out);
}

/*
 * For `assert cond, CONSTANT`, which is how every request property asserts,
 * the RAISE_VARARGS 1 is a fixed number of code units after
 * LOAD_ASSERTION_ERROR (LOAD_CONST, then CALL with its caches; 3.11 also
 * PRECALL); 3.12 and 3.13 give the two instructions different lines for a
 * multi-line assert. Move there when the code unit there really is
 * RAISE_VARARGS 1.
 */
void symbolizer__assert_raise_site(struct symbolizer *s, struct st_frame *f)
{
	static const struct { unsigned minor, units; } site[] = { { 11, 9 }, { 12, 6 }, { 13, 6 } };
	unsigned minor = (s->t->version_hex >> 16) & 0xff;
	int op = s->t->layout->op_raise_varargs;
	__u8 cu[2];
	size_t i;

	for (i = 0; i < sizeof(site) / sizeof(site[0]); i++) {
		if (site[i].minor != minor)
			continue;
		if (!f->instr || remote__read(s->t->pid, f->instr + site[i].units * 2, cu, sizeof(cu)) ||
		    cu[0] != op || cu[1] != 1)
			return;
		f->instr += site[i].units * 2;
		return;
	}
}
