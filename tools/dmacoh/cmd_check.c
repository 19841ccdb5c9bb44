/* SPDX-License-Identifier: MIT */
/*
 * cmd_check.c - `dmacoh check REGION`: the invariant checker over a shared region's allocator
 * state (dmacoh_shared_inspect), from outside its processes. Reports and repairs nothing
 * beyond what any process of the region does on taking its lock (finishing or undoing the
 * update of a process that died holding it); a state that fails the checker is left for the
 * next process that attaches, which repairs it.
 */
#include "tool.h"

#include <dmacoh/errno.h>
#include <dmacoh/shared.h>

#include <inttypes.h>
#include <string.h>

static const char help[] =
    "usage: dmacoh check REGION [--json]\n"
    "\n"
    "Runs the invariant checker on the shared region REGION's allocator state.\n"
    "Exit 0: consistent; 5: inconsistent or damaged (the next process to attach\n"
    "repairs it, or dmacoh_shared_unlink removes it); 3, 4: not readable, not found.\n"
    "\n"
    "  --json   the verdict as JSON (schema in dmacoh(1))\n";

int cmd_check(int argc, char **argv)
{
    const char *json = NULL;
    struct tool_opt opts[] = {{"json", false, &json}, {NULL, false, NULL}};
    struct dmacoh_shared_info in;
    struct dmacoh_platform *p;
    uint64_t uid;
    unsigned mode;
    int i = tool_opts(argc, argv, opts, help), r, code;
    char why[512];

    if (i < 0)
        return i == -2 ? TOOL_OK : TOOL_USAGE;
    if (i != argc - 1)
        return tool_err(TOOL_USAGE, argv[0], "needs one REGION (try 'dmacoh check --help')");
    tool_log_capture();
    p = tool_platform(argv[0]);
    if (!p)
        return TOOL_FAIL;
    r = tool_find_region(argv[0], p, argv[i], &uid, &mode);
    if (r)
        return r;
    memset(&in, 0, sizeof(in));
    r = tool_as_owner(uid);
    if (r == 0) {
        r = dmacoh_shared_inspect(p, argv[i], &in, NULL, NULL, NULL);
        tool_as_self();
    }
    code = r == 0 ? TOOL_OK : r == DMACOH_EIO ? TOOL_DAMAGED : tool_code(r);
    if (code == TOOL_NOPERM)
        snprintf(why, sizeof(why), "%s", tool_noperm(argv[i], uid, mode, why));
    else
        snprintf(why, sizeof(why), "%s",
                 r && *tool_last_log() ? tool_last_log() : dmacoh_strerror(r));
    if (json) {
        struct json j;

        json_init(&j, stdout);
        json_begin(&j, NULL, '{');
        json_u64(&j, "schema", 1);
        json_str(&j, "name", argv[i]);
        json_bool(&j, "consistent", r == 0);
        json_str(&j, "error", r ? why : NULL);
        json_u64(&j, "exit", (uint64_t)code);
        json_end(&j, '}');
        return code;
    }
    if (r)
        return tool_err(code, argv[0], "%s", why);
    printf("region %s: consistent (%u live and %u dead owners, %" PRIu64 " blocks, %" PRIu64
           " quarantined, %" PRIu64 " recoveries)\n",
           argv[i], in.stats.procs, in.stats.dead, in.stats.live_blocks,
           in.stats.quarantined_blocks, in.stats.recoveries);
    return TOOL_OK;
}
