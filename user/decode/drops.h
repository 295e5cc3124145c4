/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Why a probe hit did not become a record. Every hit the BPF program counts
 * ends as exactly one of: a record, lost in the ring buffer, or dropped for
 * one of these reasons (exit summary, sessiontrace_hits_dropped_total).
 */
#ifndef ST_DROPS_H
#define ST_DROPS_H

enum drop_reason {
	DROP_LOOK_ALIKE = 0, /* a failing assert / KeyError that is not the property's */
	DROP_KIND_FILTERED,  /* the property, but not one of -k's kinds */
	DROP_MALFORMED,      /* the record's fields are out of range */
	DROP_STALE_PID,      /* raised by an earlier process with the same pid */
	DROP_PROCESS_GONE,   /* from a process no longer traced */
	DROP_OUT_OF_MEMORY,  /* the tracer could not allocate what the record needs */
	DROP_OVER_BUDGET,    /* its process was over its budget in BPF (ST_BUDGET_RATE) */
	DROP_DECODE_BUDGET,  /* its process was over its decoding time while the decoder was
				behind (daemon/decoder.c) */
	DROP_N,
};

/* "look_alike", ...: the metric's reason label; "?" out of range. */
const char *drops__name(unsigned reason);

#endif
