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
    uint64_t uid, blocks = 0, bytes = 0;
    unsigned mode;
    int i = tool_opts(argc, argv, opts, help), r;
    char why[512], a[32];

    if (i < 0)
        return i == -2 ? TOOL_OK : TOOL_USAGE;
    if (i != argc - 1)
        return tool_err(TOOL_USAGE, argv[0], "needs one REGION (try 'dmacoh reap --help')");
    tool_log_capture();
    p = tool_platform(argv[0]);
    if (!p)
        return TOOL_FAIL;
    r = tool_find_region(argv[0], p, argv[i], &uid, &mode);
    if (r)
        return r;
    r = tool_as_owner(uid);
    if (r == 0) {
        r = dmacoh_shared_reap_by_name(p, argv[i], &blocks, &bytes);
        tool_as_self();
    }
    if (r) {
        int code = r == DMACOH_EIO ? TOOL_DAMAGED : tool_code(r);

        if (code == TOOL_NOPERM)
            return tool_err(code, argv[0], "%s", tool_noperm(argv[i], uid, mode, why));
        return tool_err(code, argv[0], "%s",
                        *tool_last_log() ? tool_last_log() : dmacoh_strerror(r));
    }
    if (json) {
        struct json j;

        json_init(&j, stdout);
        json_begin(&j, NULL, '{');
        json_u64(&j, "schema", 1);
        json_str(&j, "name", argv[i]);
        json_u64(&j, "blocks", blocks);
        json_u64(&j, "bytes", bytes);
        json_end(&j, '}');
    } else {
        printf("region %s: %" PRIu64 " quarantined block%s freed (%s)\n", argv[i], blocks,
               blocks == 1 ? "" : "s", tool_size(bytes, a));
    }
    return TOOL_OK;
}
