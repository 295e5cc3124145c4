/* SPDX-License-Identifier: BSD-2-Clause */
/* CPython object layouts per minor version: data, see resolve/layouts.inc. */
#ifndef ST_PYLAYOUT_H
#define ST_PYLAYOUT_H
#include <linux/types.h>
#include <stdbool.h>
#include "sessiontrace.h"

/* The layout for a PY_VERSION_HEX, or NULL when this build has none. */
const struct st_py_layout *pylayout__find(unsigned version_hex);
/* Whether the tracer is tested on that minor version (else refuse to attach). */
bool pylayout__supported(unsigned version_hex);
/* Writes "3.10, 3.11, ..." (for error messages) into buf, truncated to n; returns buf. */
const char *pylayout__supported_list(char *buf, size_t n);

#endif
