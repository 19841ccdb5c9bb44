/* SPDX-License-Identifier: MIT */
/* cmd_list.c - `dmacoh list`: placeholder until discovery lands (not a finished verb). */
#include "tool.h"

int cmd_list(int argc, char **argv)
{
    (void)argc;
    return tool_err(TOOL_FAIL, argv[0], "not built yet");
}
