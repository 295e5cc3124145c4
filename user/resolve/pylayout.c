// SPDX-License-Identifier: BSD-2-Clause
#include <stddef.h>
#include <stdio.h>
#include "resolve/pylayout.h"

static const struct st_py_layout layouts[] = {
#include "resolve/layouts.inc"
};

/*
 * Minor versions whose every code path (frame walk, attribute storage, line
 * table) has an integration test against a real server. Other layouts in the
 * table are known but not yet trusted.
 */
static const unsigned supported[] = { 0x030a0000, 0x030b0000, 0x030c0000, 0x030d0000,
				       0x030e0000, 0x030f0000 };

const struct st_py_layout *pylayout__find(unsigned version_hex)
{
	size_t i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].version_hex == (version_hex & 0xffff0000))
			return &layouts[i];
	return NULL;
}

bool pylayout__supported(unsigned version_hex)
{
	size_t i;

	for (i = 0; i < sizeof(supported) / sizeof(supported[0]); i++)
		if (supported[i] == (version_hex & 0xffff0000))
			return pylayout__find(version_hex) != NULL;
	return false;
}

const char *pylayout__supported_list(char *buf, size_t n)
{
	size_t i, len = 0;

	if (!n)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < sizeof(supported) / sizeof(supported[0]) && len < n; i++) {
		int w = snprintf(buf + len, n - len, "%s%u.%u", i ? ", " : "",
				 supported[i] >> 24, (supported[i] >> 16) & 0xff);

		if (w < 0)
			break;
		len += (size_t)w;
	}
	return buf;
}
