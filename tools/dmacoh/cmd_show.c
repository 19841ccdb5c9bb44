/* SPDX-License-Identifier: MIT */
/* cmd_show.c - `dmacoh show`: placeholder (not a finished verb). */
#include "tool.h"

int cmd_show(int argc, char **argv)
{
    (void)argc;
    return tool_err(TOOL_FAIL, argv[0], "not built yet");
}
