/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ST_LOG_H
#define ST_LOG_H

enum log_level { LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

/*
 * The verbosity is the process's one global setting (like libbpf's print
 * callback): set by the command's option parsing, before any thread starts,
 * and only read after that. scripts/check-structure.py allows it and nothing else.
 */
void log__set_level(int level);
int log__level(void);
/* "sessiontrace: " and the message on stderr when level <= the verbosity. */
void log__print(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_warn(...)  log__print(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log__print(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log__print(LOG_DEBUG, __VA_ARGS__)

#endif
