// SPDX-License-Identifier: BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include "util/log.h"

static int cur_level = LOG_WARN;

void log__set_level(int level)
{
	cur_level = level;
}

int log__level(void)
{
	return cur_level;
}

void log__print(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > cur_level)
		return;
	fputs("sessiontrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
