// SPDX-License-Identifier: BSD-2-Clause
#include "resolve/props.h"

static const char *const names[ST_NPROPS] = {
	[ST_PROP_SESSION] = "session",
	[ST_PROP_AUTH] = "auth",
	[ST_PROP_USER] = "user",
};

static const char *const messages[ST_NPROPS] = {
	[ST_PROP_SESSION] = "SessionMiddleware must be installed to access request.session",
	[ST_PROP_AUTH] = "AuthenticationMiddleware must be installed to access request.auth",
	[ST_PROP_USER] = "AuthenticationMiddleware must be installed to access request.user",
};

const char *props__name(unsigned prop)
{
	return prop < ST_NPROPS ? names[prop] : "?";
}

const char *props__message(unsigned prop)
{
	return prop < ST_NPROPS ? messages[prop] : "";
}
