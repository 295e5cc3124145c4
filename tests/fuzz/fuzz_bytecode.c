// SPDX-License-Identifier: BSD-2-Clause
/*
 * bytecode__attr_reads() and bytecode__call_attr_reads()
 * (user/decode/bytecode.c) on untrusted code bytes.
 *
 * Every input is checked against an oracle written here the other way
 * round (decode the whole code into an instruction list first, then apply
 * the rules of bytecode.h to the list; a call is recognized from the call
 * instruction backwards over its arguments): same error, same reads. Also: the
 * code is an exact-size heap copy (ASan sees any read past it), an
 * unknown version gives -ENOTSUP, an odd length -EINVAL, every read is a
 * LOAD_ATTR/LOAD_METHOD (any specialized form) inside the code, in
 * increasing order, at most @max of them, the first of a larger @max.
 *
 * Mode 0 (raw):  [version selector][local: 2 LE][namei: 2 LE][max][code...];
 *     with 0x40 in the selector, bytecode__call_attr_reads of callee "local"
 * Mode 1 (real): [0x80][case: 2 LE][(position: 2 LE, byte)...]: a real code
 *     object of tests/unit/bytecode_cases.inc (every interpreter: co_code,
 *     specialized, instrumented, ENTER_EXECUTOR) with those bytes changed,
 *     scanned as the case says (its callee's call results or its local);
 *     unchanged, its reads and their lines must be exactly the expected ones.
 *
 * FUZZ_BYTECODE_SEEDS=DIR fuzz_bytecode writes one raw-mode and one
 * real-mode seed per real case into DIR and exits (mk/fuzz.mk).
 */
#include "fuzz_common.h"
#include <errno.h>
#include "decode/bytecode.h"
#include "decode/linetable.h"

#include "../unit/bytecode_cases.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_READS 64

static const unsigned versions[] = {
	0x030a0df0, 0x030b02f0, 0x030c01f0, 0x030d05f0, 0x030e0af0, 0x030f02f0,
	0x03090000, 0x03100000, 0x020700f0, 0x040b0000,
};

/* ---- the oracle ---- */

struct insn {
	unsigned at;    /* code unit of the opcode */
	int base;
	uint32_t arg;   /* EXTENDED_ARG prefixes folded in */
};

/* The instructions of the code, or the error bytecode.h promises. */
static int decode_all(const struct bytecode_table *t, const uint8_t *c, size_t len, struct insn *out,
		      size_t *n)
{
	size_t i = 0, units = len / 2;
	uint64_t arg = 0;
	bool prefix = false;
	int b;

	*n = 0;
	if (len % 2 || len > BYTECODE_MAX_LEN)
		return -EINVAL;
	while (i < units) {
		b = t->base[c[2 * i]];
		if (b == BYTECODE_OPAQUE)
			return -EBUSY;
		if (b == BYTECODE_NOT_OPCODE || b == t->cache || i + 1 + t->caches[b] > units)
			return -EINVAL;
		arg = (arg | c[2 * i + 1]) & 0xffffffffu;
		if (b == t->extended_arg) {
			arg <<= 8;
			prefix = true;
		} else {
			out[(*n)++] = (struct insn){ (unsigned)i, b, (uint32_t)arg };
			arg = 0;
			prefix = false;
		}
		i += 1 + t->caches[b];
	}
	return prefix ? -EINVAL : 0;
}

static bool in(int op, int a, int b, int c, int d)
{
	return op >= 0 && (op == a || op == b || op == c || op == d);
}

/*
 * Is ins[k] a call of global (or name) callee: walking back from it over
 * argument loads only, the load of the callee, with as many values pushed
 * as the call takes?
 */
static bool callee_call(const struct bytecode_table *t, const struct insn *ins, size_t k,
			unsigned callee)
{
	uint64_t want, got = 0;
	size_t j;
	int b;

	if (in(ins[k].base, t->call, t->call_function, -1, -1))
		want = ins[k].arg;
	else if (in(ins[k].base, t->call_kw, t->call_function_kw, -1, -1))
		want = (uint64_t)ins[k].arg + 1; /* and the names tuple */
	else
		return false;
	for (j = k; j-- > 0;) {
		b = ins[j].base;
		if (in(b, t->load_fast, t->load_fast_check, t->load_fast_and_clear,
		       t->load_fast_borrow) || in(b, t->load_const, t->load_small_int, -1, -1))
			got++;
		else if (in(b, t->load_fast_load_fast, t->load_fast_borrow_load_fast_borrow, -1,
			    -1))
			got += 2;
		else if (!in(b, t->push_null, t->kw_names, t->precall, -1))
			return got == want &&
			       ((b == t->load_global && ins[j].arg >> t->global_shift == callee) ||
				(b == t->load_name && ins[j].arg == callee));
	}
	return false;
}

/*
 * The rules of bytecode.h over the list, one instruction at a time; by_call:
 * local is the callee, and not a variable.
 */
static unsigned oracle(const struct bytecode_table *t, const struct insn *ins, size_t n,
		       bool by_call, unsigned local, unsigned namei, unsigned *out)
{
	static bool alias[BYTECODE_MAX_ALIASES];
	bool top = false;     /* the variable (or an alias) is on top of the stack */
	unsigned nout = 0;
	size_t k;

	memset(alias, 0, sizeof(alias));
#define VAR(x) ((!by_call && (x) == local) || ((x) < BYTECODE_MAX_ALIASES && alias[(x)]))
#define SET(x, v) do { if ((x) < BYTECODE_MAX_ALIASES) alias[(x)] = (v); } while (0)
	for (k = 0; k < n; k++) {
		int b = ins[k].base;
		uint32_t a = ins[k].arg, hi = a >> 4, lo = a & 15;
		bool was = top;

		top = false;
		if (in(b, t->load_fast, t->load_fast_check, t->load_fast_and_clear, t->load_fast_borrow)) {
			top = VAR(a);
		} else if (in(b, t->load_fast_load_fast, t->load_fast_borrow_load_fast_borrow, -1, -1)) {
			top = VAR(lo);
		} else if (b == t->store_fast) {
			SET(a, was);
		} else if (in(b, t->store_fast_load_fast, -1, -1, -1)) {
			SET(hi, was);
			top = VAR(lo);
		} else if (in(b, t->store_fast_store_fast, -1, -1, -1)) {
			SET(hi, was);
			SET(lo, false);
		} else if (was && ((b == t->load_attr && a >> t->attr_shift == namei) ||
				   (in(b, t->load_method, -1, -1, -1) && a == namei))) {
			if (nout < MAX_READS)
				out[nout++] = ins[k].at;
		} else if (by_call) {
			top = callee_call(t, ins, k, local);
		}
	}
#undef VAR
#undef SET
	return nout;
}

/* ---- checks ---- */

/* bytecode__call_attr_reads of callee local when by_call, else bytecode__attr_reads */
static int scan(bool by_call, unsigned ver, const uint8_t *code, size_t len, unsigned local,
		unsigned namei, unsigned *out, unsigned max, unsigned *n)
{
	if (by_call)
		return bytecode__call_attr_reads(ver, code, len, local, namei, out, max, n);
	return bytecode__attr_reads(ver, code, len, local, namei, out, max, n);
}

static void check(bool by_call, unsigned ver, const uint8_t *data, size_t len, unsigned local,
		  unsigned namei, unsigned max)
{
	const struct bytecode_table *t = bytecode__table(ver);
	static struct insn ins[BYTECODE_MAX_LEN / 2 > 65536 ? 65536 : BYTECODE_MAX_LEN / 2];
	unsigned got[MAX_READS], all[MAX_READS], want[MAX_READS], n, nall, nwant, i;
	uint8_t *code = malloc(len ? len : 1);
	size_t ninsn;
	int err, err2, werr;

	if (!code)
		abort();
	memcpy(code, data, len);
	if (max > MAX_READS)
		max = MAX_READS;
	err = scan(by_call, ver, code, len, local, namei, got, max, &n);
	if (!t) {
		FUZZ_CHECK(err == -ENOTSUP && n == 0, "version 0x%x: %d", ver, err);
		free(code);
		return;
	}
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -EBUSY, "error %d", err);
	FUZZ_CHECK(!(len % 2) || err == -EINVAL, "odd length %zu gave %d", len, err);
	FUZZ_CHECK(n <= max && (!err || !n), "%u reads, max %u, error %d", n, max, err);
	err2 = scan(by_call, ver, code, len, local, namei, all, MAX_READS, &nall);
	FUZZ_CHECK(err2 == err && nall >= n, "max %u: %d/%u, max %d: %d/%u", max, err, n,
		   MAX_READS, err2, nall);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(got[i] == all[i], "read %u: %u with max %u, %u with more", i, got[i], max,
			   all[i]);
	for (i = 0; i < nall; i++) {
		int b = t->base[code[2 * all[i]]];

		FUZZ_CHECK(all[i] < len / 2 && (!i || all[i] > all[i - 1]), "read at %u", all[i]);
		FUZZ_CHECK(b == t->load_attr || (b >= 0 && b == t->load_method),
			   "read at %u is opcode %d (base %d)", all[i], code[2 * all[i]], b);
	}
	/* the oracle, on at most 65536 instructions */
	if (len / 2 <= NELEM(ins)) {
		werr = decode_all(t, code, len, ins, &ninsn);
		nwant = werr ? 0 : oracle(t, ins, ninsn, by_call, local, namei, want);
		FUZZ_CHECK(werr == err && nwant == nall, "error %d, %u reads; oracle %d, %u", err,
			   nall, werr, nwant);
		for (i = 0; i < nall; i++)
			FUZZ_CHECK(all[i] == want[i], "read %u at %u, oracle %u", i, all[i], want[i]);
	}
	free(code);
}

static uint8_t *unhex(const char *s, size_t *len)
{
	size_t n = strlen(s) / 2, i;
	uint8_t *b = malloc(n ? n : 1);

	if (!b)
		abort();
	for (i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			abort();
		b[i] = (uint8_t)v;
	}
	*len = n;
	return b;
}

/* What a real case scans for: its callee (call results) or its local. */
static unsigned case_var(const struct bc_case *c)
{
	return c->callee >= 0 ? (unsigned)c->callee : c->local;
}

/* The exact reads and lines of an unchanged real case. */
static void check_case(const struct bc_case *c, const uint8_t *code, size_t len)
{
	unsigned ver = interps[c->interp].version, out[8], n, i;
	size_t ltlen;
	uint8_t *lt = unhex(c->linetable, &ltlen);
	int err = scan(c->callee >= 0, ver, code, len, case_var(c), c->namei, out, 8, &n);

	FUZZ_CHECK(err == c->err && (err || n == c->nreads), "%s %s: %d/%u, want %d/%u", c->name,
		   c->form, err, n, c->err, c->nreads);
	for (i = 0; !err && i < n; i++)
		FUZZ_CHECK(out[i] == c->reads[i] &&
			   linetable__addr2line(ver, lt, ltlen, c->firstlineno,
						bytecode__addrq(ver, out[i])) == c->lines[i],
			   "%s %s: read %u at %u", c->name, c->form, i, out[i]);
	free(lt);
}

static void real_mode(const uint8_t *data, size_t size)
{
	const struct bc_case *c;
	uint8_t *code;
	size_t len, k;

	if (size < 3)
		return;
	c = &cases[(data[1] | data[2] << 8) % NELEM(cases)];
	code = unhex(c->code, &len);
	if (size == 3)
		check_case(c, code, len);
	for (k = 3; k + 3 <= size && len; k += 3)
		code[(data[k] | data[k + 1] << 8) % len] = data[k + 2];
	check(c->callee >= 0, interps[c->interp].version, code, len, case_var(c), c->namei, 8);
	free(code);
}

static void write_seed(const char *dir, const char *kind, size_t i, const uint8_t *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-%zu", dir, kind, i);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* FUZZ_BYTECODE_SEEDS=DIR: a seed of each mode per real case, then exit. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_BYTECODE_SEEDS");
	size_t i, len;

	if (!dir)
		return 0;
	for (i = 0; i < NELEM(cases); i++) {
		const struct bc_case *c = &cases[i];
		uint8_t *code = unhex(c->code, &len), *seed = malloc(len + 6);
		uint8_t real[3] = { 0x80, (uint8_t)i, (uint8_t)(i >> 8) };

		if (!seed)
			abort();
		seed[0] = (uint8_t)(((interps[c->interp].version >> 16) & 0xff) - 10); /* versions[] */
		seed[0] |= c->callee >= 0 ? 0x40 : 0;
		seed[1] = (uint8_t)case_var(c);
		seed[2] = (uint8_t)(case_var(c) >> 8);
		seed[3] = (uint8_t)c->namei;
		seed[4] = (uint8_t)(c->namei >> 8);
		seed[5] = 8;
		memcpy(seed + 6, code, len);
		write_seed(dir, "raw", i, seed, len + 6);
		write_seed(dir, "real", i, real, sizeof(real));
		free(seed);
		free(code);
	}
	fprintf(stderr, "fuzz_bytecode: %zu seeds of each mode in %s\n", NELEM(cases), dir);
	exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 0x80) {
		real_mode(data, size);
		return 0;
	}
	if (size < 6)
		return 0;
	check(data[0] & 0x40, versions[(data[0] & 0x3f) % NELEM(versions)], data + 6, size - 6,
	      data[1] | data[2] << 8, data[3] | data[4] << 8, data[5]);
	return 0;
}
