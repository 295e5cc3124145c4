// SPDX-License-Identifier: BSD-2-Clause
/*
 * pystr__to_utf8() (user/memory/pystr.c) on raw str data of any kind and length,
 * into output buffers of every size from 0 up (exact-size heap buffers:
 * ASan sees one byte of overflow). Checked against an independent
 * conversion: the output is valid UTF-8, NUL-terminated within @outsz, a
 * prefix of the full conversion ending on a character boundary, and
 * @truncated is set exactly when something was left out.
 *
 * Input: [kind selector | 0x40 NULL data | 0x80 outsz < 32][outsz: 2 bytes LE]
 *        [str data...]
 */
#include "fuzz_common.h"
#include "memory/pystr.h"

static const unsigned kinds[] = { 1, 2, 4, 0, 3, 8 };

/* Full UTF-8 of the data, U+FFFD for surrogates and > U+10FFFF. */
static size_t reference(const uint8_t *p, size_t nbytes, unsigned kind, uint8_t *out,
			size_t *bounds, size_t *nb)
{
	size_t i, len = 0;

	*nb = 0;
	for (i = 0; i + kind <= nbytes; i += kind) {
		uint32_t cp = p[i];

		if (kind >= 2)
			cp |= (uint32_t)p[i + 1] << 8;
		if (kind == 4)
			cp |= (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			cp = 0xfffd;
		len += fz_utf8_put(cp, out + len);
		bounds[(*nb)++] = len;
	}
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned kind;
	size_t outsz, nbytes, len, reflen, nb, i;
	uint8_t *in, *ref;
	char *out;
	size_t *bounds;
	bool trunc = false, want_trunc, at_boundary;

	if (size < 3)
		return 0;
	kind = kinds[(data[0] & 0x3f) % (sizeof(kinds) / sizeof(kinds[0]))];
	/* small sizes are the interesting ones: 0..31 often, else up to 64 KiB */
	outsz = (size_t)data[1] | (size_t)data[2] << 8;
	if (data[0] & 0x80)
		outsz &= 31;
	data += 3;
	nbytes = size - 3;
	in = malloc(nbytes ? nbytes : 1);
	out = outsz ? malloc(outsz) : NULL;
	ref = malloc(nbytes * 2 + 4); /* latin-1 doubles at most */
	bounds = malloc(sizeof(*bounds) * (nbytes + 1));
	if (!in || (outsz && !out) || !ref || !bounds)
		abort();
	memcpy(in, data, nbytes);

	if ((data[-3] & 0x40) && nbytes) {
		/* NULL data with a length: nothing, and truncated */
		len = pystr__to_utf8(NULL, nbytes, kind, out, outsz, &trunc);
		FUZZ_CHECK(len == 0 && trunc && (!outsz || !out[0]), "NULL data: len %zu", len);
		goto out;
	}
	len = pystr__to_utf8(nbytes ? in : NULL, nbytes, kind, out, outsz, &trunc);
	if (!outsz) {
		FUZZ_CHECK(len == 0, "wrote %zu bytes with outsz 0", len);
	} else {
		FUZZ_CHECK(len < outsz, "len %zu, outsz %zu", len, outsz);
		FUZZ_CHECK(out[len] == '\0', "not NUL-terminated");
		FUZZ_CHECK(fz_utf8_valid((uint8_t *)out, len), "output not UTF-8");
	}
	if (kind != 1 && kind != 2 && kind != 4) {
		FUZZ_CHECK(len == 0 && trunc, "unknown kind %u: len %zu trunc %d", kind, len, trunc);
		goto out;
	}
	reflen = reference(in, nbytes, kind, ref, bounds, &nb);
	FUZZ_CHECK(len <= reflen && (!len || !memcmp(out, ref, len)),
		   "kind %u: output is not a prefix of the conversion", kind);
	at_boundary = len == 0;
	for (i = 0; i < nb && !at_boundary; i++)
		at_boundary = bounds[i] == len;
	FUZZ_CHECK(at_boundary, "kind %u: output ends inside a character", kind);
	want_trunc = len < reflen || nbytes % kind;
	FUZZ_CHECK(trunc == want_trunc, "kind %u nbytes %zu outsz %zu: truncated %d, want %d",
		   kind, nbytes, outsz, trunc, want_trunc);
	/* the output stops only when the next character does not fit */
	if (outsz && len < reflen) {
		for (i = 0; i < nb && bounds[i] <= len; i++)
			;
		FUZZ_CHECK(bounds[i] > outsz - 1, "stopped early: next char ends at %zu, outsz %zu",
			   bounds[i], outsz);
	}
	/* NULL truncated pointer: same output */
	if (outsz) {
		char *again = malloc(outsz);

		FUZZ_CHECK(again, "malloc");
		FUZZ_CHECK(pystr__to_utf8(in, nbytes, kind, again, outsz, NULL) == len &&
			   !memcmp(again, out, len + 1), "differs with truncated == NULL");
		free(again);
	}
out:
	free(in);
	free(out);
	free(ref);
	free(bounds);
	return 0;
}
