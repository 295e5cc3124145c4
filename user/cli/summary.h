/* SPDX-License-Identifier: BSD-2-Clause */
/* `sessiontrace report FILE...`: what an engineer opens during an incident. */
#ifndef ST_SUMMARY_H
#define ST_SUMMARY_H
#include <stdio.h>

struct summary;

/* An empty summary; NULL with errno: ENOMEM. */
struct summary *summary__new(void);
void summary__free(struct summary *s);
/*
 * Account one line of a records file: 0 for a record counted, 1 for one
 * not matched (or a prediction), -EINVAL for a line that is no record.
 */
int summary__add_line(struct summary *s, const char *line, size_t len);
/* Write the summary: text (aligned, control characters neutralized) or one JSON object. */
void summary__print_text(const struct summary *s, FILE *out);
void summary__print_json(const struct summary *s, FILE *out);

/* The subcommand: argv[0] is "report". Returns the exit status. */
int summary__main(int argc, char **argv);

#endif
