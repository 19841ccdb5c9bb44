/* SPDX-License-Identifier: MIT */
/*
 * cmd_reap.c - `dmacoh reap REGION`: frees the quarantined blocks of a shared region's dead
 * owners (dmacoh_shared_reap_by_name). Whoever runs it says that the device is quiet: no DMA
 * in flight into memory of a process that died.
 */
#include "tool.h"

#include <dmacoh/errno.h>
#include <dmacoh/shared.h>

#include <inttypes.h>
#include <stdlib.h>

static const char help[] =
    "usage: dmacoh reap REGION [--json]\n"
    "\n"
    "Frees the blocks of the shared region REGION that dead processes held (quarantined,\n"
    "since the device they programmed may still write into them). Run it only when the\n"
    "device is quiet: no DMA in flight into memory of a process that died.\n"
    "\n"
    "  --json   what was freed, as JSON (schema in dmacoh(1))\n";

int cmd_reap(int argc, char **argv)
{
    const char *json = NULL;
    struct tool_opt opts[] = {{"json", false, &json}, {NULL, false, NULL}};
    struct dmacoh_platform *p;
    struct tool_region reg;
    struct tool_look *l;
    int i = tool_opts(argc, argv, opts, help), r;
    char why[512];
    char a[32];

    if (i < 0)
        return i == -2 ? TOOL_OK : TOOL_USAGE;
    if (i != argc - 1)
        return tool_err(TOOL_USAGE, argv[0], "needs one REGION (try 'dmacoh reap --help')");
    tool_log_capture();
    p = tool_platform(argv[0]);
    if (!p)
        return TOOL_FAIL;
    r = tool_find_region(p, argv[i], &reg, why);
    if (r)
        return tool_err(r, argv[0], "%s", why);
    l = calloc(1, sizeof(*l));
    if (!l)
        return tool_err(TOOL_FAIL, argv[0], "out of memory");
    if (tool_look(p, &reg, TOOL_LOOK_REAP, l)) {
        r = tool_err(tool_look_code(l), argv[0], "%s", l->why);
        free(l);
        return r;
    }
    if (json) {
        struct json j;

        json_init(&j, stdout);
        json_begin(&j, NULL, '{');
        json_u64(&j, "schema", 1);
        json_str(&j, "name", argv[i]);
        json_u64(&j, "blocks", l->reaped_blocks);
        json_u64(&j, "bytes", l->reaped_bytes);
        json_end(&j, '}');
    } else {
        printf("region %s: %" PRIu64 " quarantined block%s freed (%s)\n", argv[i], l->reaped_blocks,
               l->reaped_blocks == 1 ? "" : "s", tool_size(l->reaped_bytes, a));
    }
    free(l);
    return tool_flush(argv[0], TOOL_OK);
}
