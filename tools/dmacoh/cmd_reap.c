/* SPDX-License-Identifier: MIT */
/* cmd_reap.c - `dmacoh reap`: placeholder (not a finished verb). */
#include "tool.h"

int cmd_reap(int argc, char **argv)
{
    (void)argc;
    return tool_err(TOOL_FAIL, argv[0], "not built yet");
}
