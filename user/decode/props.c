// SPDX-License-Identifier: BSD-2-Clause
#include "decode/props.h"

const char *const st_prop_names[ST_NPROPS] = {
	[ST_PROP_SESSION] = "session",
	[ST_PROP_AUTH] = "auth",
	[ST_PROP_USER] = "user",
};

const char *const st_prop_messages[ST_NPROPS] = {
	[ST_PROP_SESSION] = "SessionMiddleware must be installed to access request.session",
	[ST_PROP_AUTH] = "AuthenticationMiddleware must be installed to access request.auth",
	[ST_PROP_USER] = "AuthenticationMiddleware must be installed to access request.user",
};
