// SPDX-License-Identifier: BSD-2-Clause
/* sessiontrace: catch Starlette's SessionMiddleware assertion in running servers. */
#include <stdio.h>
#include <string.h>
#include "cli/inspect.h"
#include "cli/options.h"
#include "cli/summary.h"
#include "daemon/tracer.h"
#include "util/log.h"

static int cmd_trace(int argc, char **argv)
{
	struct tracer_opts o;
	int verbose = 0, ret;

	options__defaults(&o);
	ret = options__parse(argc, argv, &o, &verbose);
	if (ret)
		return ret > 0 ? 0 : 2;
	log__set_level(verbose >= 1 ? LOG_DEBUG : LOG_WARN);
	return tracer__run(&o);
}

/* `sessiontrace NAME ...` runs NAME; anything else is the trace command's options. */
static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "report", summary__main },
	{ "inspect", inspect__main },
};

int main(int argc, char **argv)
{
	size_t i;

	setvbuf(stderr, NULL, _IOLBF, 0);
	for (i = 0; argc > 1 && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	return cmd_trace(argc, argv);
}
