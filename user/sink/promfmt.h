/* SPDX-License-Identifier: BSD-2-Clause */
/* Prometheus text exposition format (version 0.0.4): the pieces we emit. */
#ifndef ST_PROMFMT_H
#define ST_PROMFMT_H
#include <stdbool.h>
#include <stddef.h>
#include "util/escape.h"

/*
 * Append s[0..n) as a label value, without the quotes: '\\' -> \\,
 * '"' -> \", newline -> \n (the only escapes the format has); each
 * ill-formed UTF-8 sequence -> U+FFFD, as escape__json() does. NULL: "".
 */
void promfmt__label_value(struct strbuf *sb, const char *s, size_t n);

/*
 * "# HELP name help\n# TYPE name type\n"; help escapes '\\' and newline.
 * openmetrics: the OpenMetrics text format, where a counter's family is
 * named without the "_total" its samples carry.
 */
void promfmt__header(struct strbuf *sb, bool openmetrics, const char *name, const char *type,
		     const char *help);

/*
 * name{k1="v1",k2="v2"} value\n for nlabels pairs (keys are trusted
 * identifiers, values are escaped); no braces when nlabels is 0.
 */
void promfmt__sample(struct strbuf *sb, const char *name, const char *const *keys,
		     const char *const *values, size_t nlabels, unsigned long long value);
/*
 * The same with an OpenMetrics exemplar after the value:
 * ... value # {ex_key="ex_value"} 1 ts (ts: Unix seconds, millisecond precision).
 */
void promfmt__sample_exemplar(struct strbuf *sb, const char *name, const char *const *keys,
			      const char *const *values, size_t nlabels, unsigned long long value,
			      const char *ex_key, const char *ex_value, double ts);

#endif
