/* SPDX-License-Identifier: BSD-2-Clause */
/* `sessiontrace inspect -p PID`: the session reads that will fail (diagnose/inspect.h). */
#ifndef ST_CLI_INSPECT_H
#define ST_CLI_INSPECT_H

/* The subcommand: argv[0] is "inspect". Returns the exit status. */
int inspect__main(int argc, char **argv);

#endif
