// SPDX-License-Identifier: BSD-2-Clause
#include <string.h>
#include "promfmt.h"

void prom_add_label_value(struct strbuf *sb, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k;
	int32_t cp;

	if (!s)
		return;
	while (i < n) {
		switch (s[i]) {
		case '\\':
			strbuf_add(sb, "\\\\", 2);
			i++;
			continue;
		case '"':
			strbuf_add(sb, "\\\"", 2);
			i++;
			continue;
		case '\n':
			strbuf_add(sb, "\\n", 2);
			i++;
			continue;
		}
		k = utf8_next(s + i, n - i, &cp);
		if (cp < 0)
			strbuf_add(sb, "\xef\xbf\xbd", 3);
		else
			strbuf_add(sb, (const char *)s + i, k);
		i += k;
	}
}

static void add_help(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			strbuf_add(sb, "\\\\", 2);
		else if (*s == '\n')
			strbuf_add(sb, "\\n", 2);
		else
			strbuf_addc(sb, *s);
	}
}

void prom_add_header(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	strbuf_addf(sb, "# HELP %s ", name);
	add_help(sb, help);
	strbuf_addf(sb, "\n# TYPE %s %s\n", name, type);
}

void prom_add_sample(struct strbuf *sb, const char *name, const char *const *keys,
		     const char *const *values, size_t nlabels, unsigned long long value)
{
	size_t i;

	strbuf_add(sb, name, strlen(name));
	for (i = 0; i < nlabels; i++) {
		strbuf_addc(sb, i ? ',' : '{');
		strbuf_addf(sb, "%s=\"", keys[i]);
		if (values[i])
			prom_add_label_value(sb, values[i], strlen(values[i]));
		strbuf_addc(sb, '"');
	}
	if (nlabels)
		strbuf_addc(sb, '}');
	strbuf_addf(sb, " %llu\n", value);
}
