/* SPDX-License-Identifier: MIT */
/* cmd_status.c - `dmacoh status`: placeholder (not a finished verb). */
#include "tool.h"

int cmd_status(int argc, char **argv)
{
    (void)argc;
    return tool_err(TOOL_FAIL, argv[0], "not built yet");
}
