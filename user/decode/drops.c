// SPDX-License-Identifier: BSD-2-Clause
#include "decode/drops.h"

static const char *const names[DROP_N] = {
	[DROP_LOOK_ALIKE] = "look_alike",
	[DROP_KIND_FILTERED] = "kind_filtered",
	[DROP_MALFORMED] = "malformed",
	[DROP_STALE_PID] = "stale_pid",
	[DROP_PROCESS_GONE] = "process_gone",
	[DROP_OUT_OF_MEMORY] = "out_of_memory",
	[DROP_OVER_BUDGET] = "over_budget",
	[DROP_DECODE_BUDGET] = "decode_budget",
};

const char *drops__name(unsigned reason)
{
	return reason < DROP_N ? names[reason] : "?";
}
