// SPDX-License-Identifier: BSD-2-Clause
#include <string.h>
#include "sink/promfmt.h"

void promfmt__label_value(struct strbuf *sb, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k;
	int32_t cp;

	if (!s)
		return;
	while (i < n) {
		switch (s[i]) {
		case '\\':
			strbuf__add(sb, "\\\\", 2);
			i++;
			continue;
		case '"':
			strbuf__add(sb, "\\\"", 2);
			i++;
			continue;
		case '\n':
			strbuf__add(sb, "\\n", 2);
			i++;
			continue;
		}
		k = escape__utf8_next(s + i, n - i, &cp);
		if (cp < 0)
			strbuf__add(sb, "\xef\xbf\xbd", 3);
		else
			strbuf__add(sb, (const char *)s + i, k);
		i += k;
	}
}

static void add_help(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			strbuf__add(sb, "\\\\", 2);
		else if (*s == '\n')
			strbuf__add(sb, "\\n", 2);
		else
			strbuf__addc(sb, *s);
	}
}

void promfmt__header(struct strbuf *sb, bool openmetrics, const char *name, const char *type,
		     const char *help)
{
	size_t n = strlen(name);

	if (openmetrics && !strcmp(type, "counter") && n > 6 && !strcmp(name + n - 6, "_total"))
		n -= 6;
	strbuf__addf(sb, "# HELP %.*s ", (int)n, name);
	add_help(sb, help);
	strbuf__addf(sb, "\n# TYPE %.*s %s\n", (int)n, name, type);
}

/* {k1="v1",...}: nothing when nlabels is 0 */
static void labels(struct strbuf *sb, const char *const *keys, const char *const *values,
		   size_t nlabels)
{
	size_t i;

	for (i = 0; i < nlabels; i++) {
		strbuf__addc(sb, i ? ',' : '{');
		strbuf__addf(sb, "%s=\"", keys[i]);
		if (values[i])
			promfmt__label_value(sb, values[i], strlen(values[i]));
		strbuf__addc(sb, '"');
	}
	if (nlabels)
		strbuf__addc(sb, '}');
}

void promfmt__sample(struct strbuf *sb, const char *name, const char *const *keys,
		     const char *const *values, size_t nlabels, unsigned long long value)
{
	strbuf__add(sb, name, strlen(name));
	labels(sb, keys, values, nlabels);
	strbuf__addf(sb, " %llu\n", value);
}

void promfmt__sample_exemplar(struct strbuf *sb, const char *name, const char *const *keys,
			      const char *const *values, size_t nlabels, unsigned long long value,
			      const char *ex_key, const char *ex_value, double ts)
{
	strbuf__add(sb, name, strlen(name));
	labels(sb, keys, values, nlabels);
	strbuf__addf(sb, " %llu # ", value);
	labels(sb, &ex_key, &ex_value, 1);
	strbuf__addf(sb, " 1 %.3f\n", ts);
}
