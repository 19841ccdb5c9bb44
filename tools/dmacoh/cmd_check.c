/* SPDX-License-Identifier: MIT */
/* cmd_check.c - `dmacoh check`: placeholder (not a finished verb). */
#include "tool.h"

int cmd_check(int argc, char **argv)
{
    (void)argc;
    return tool_err(TOOL_FAIL, argv[0], "not built yet");
}
