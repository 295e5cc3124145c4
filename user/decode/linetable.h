/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Instruction offset -> source line, from a code object's co_linetable,
 * computed exactly as CPython's own PyCode_Addr2Line() does.
 */
#ifndef ST_LINETABLE_H
#define ST_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

/*
 * @version_hex: PY_VERSION_HEX of the target; only major/minor are used.
 *     3.10 uses the PEP 626 co_linetable (sdelta, ldelta) byte pairs;
 *     3.11 to 3.14 the location table (InternalDocs/locations.md). Any other
 *     version returns -1.
 * @table/@len: the raw co_linetable bytes (untrusted; never read past @len).
 * @firstlineno: co_firstlineno.
 * @addrq: byte offset of the instruction in the code: for 3.11+
 *     (instr_ptr - co_code_adaptive) in bytes (code unit index * 2), for
 *     3.10 f_lasti * 2.
 *
 * Returns the line number, or -1 when there is none: a "no line" entry,
 * @addrq not covered by the table, or a malformed table (a 3.11+ table
 * whose first byte lacks the entry-start bit 0x80, a line-delta varint
 * running past the end or longer than 6 bytes, a line outside int range).
 * Like PyCode_Addr2Line(), a negative @addrq (a frame that has not started
 * yet: 3.11/3.12 prev_instr is then one code unit before the code, 3.10
 * f_lasti is -1) returns @firstlineno.
 *
 * Entries of a well-formed table are followed exactly as CPython does,
 * including its handling of bytes it skips (an entry ends at the next byte
 * with bit 7 set). Cost: O(@len), no allocation.
 */
int linetable__addr2line(unsigned version_hex, const uint8_t *table, size_t len,
			int firstlineno, int addrq);

#endif /* ST_LINETABLE_H */
