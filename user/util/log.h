/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ST_LOG_H
#define ST_LOG_H

enum log_level { LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

void log__set_level(int level);
int log__level(void);
void pr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_warn(...)  pr_log(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  pr_log(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) pr_log(LOG_DEBUG, __VA_ARGS__)

#endif
