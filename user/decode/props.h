/* SPDX-License-Identifier: BSD-2-Clause */
/* Starlette's HTTPConnection properties that assert their middleware. */
#ifndef ST_PROPS_H
#define ST_PROPS_H
#include <linux/types.h>
#include "sessiontrace.h"

/* Indexed by enum st_prop: "session", "auth", "user". */
extern const char *const st_prop_names[ST_NPROPS];
/* Their assertion messages, as starlette/requests.py words them. */
extern const char *const st_prop_messages[ST_NPROPS];

#endif
