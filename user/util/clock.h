/* SPDX-License-Identifier: BSD-2-Clause */
/* The one clock the daemon's timers, deadlines and record rates use. */
#ifndef ST_CLOCK_H
#define ST_CLOCK_H
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds. */
static inline long long clock__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC in nanoseconds: bpf_ktime_get_ns's clock. */
static inline long long clock__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif
