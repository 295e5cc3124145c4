/* SPDX-License-Identifier: BSD-2-Clause */
/* Starlette's HTTPConnection properties that assert their middleware. */
#ifndef ST_PROPS_H
#define ST_PROPS_H
#include <linux/types.h>
#include "sessiontrace.h"

/* "session", "auth", "user" for enum st_prop; "?" out of range. */
const char *props__name(unsigned prop);
/* Its assertion message, as starlette/requests.py words it; "" out of range. */
const char *props__message(unsigned prop);

#endif
