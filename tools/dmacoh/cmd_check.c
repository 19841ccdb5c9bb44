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
#include <stdlib.h>
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
    struct dmacoh_platform *p;
    struct tool_region reg;
    struct tool_look *l;
    int i = tool_opts(argc, argv, opts, help), code;
    char why[512];

    if (i < 0)
        return i == -2 ? TOOL_OK : TOOL_USAGE;
    if (i != argc - 1)
        return tool_err(TOOL_USAGE, argv[0], "needs one REGION (try 'dmacoh check --help')");
    l = calloc(1, sizeof(*l));
    if (!l)
        return tool_err(TOOL_FAIL, argv[0], "out of memory");
    tool_log_capture();
    p = tool_platform(argv[0]);
    if (!p) {
        code = TOOL_FAIL;
        snprintf(why, sizeof(why), "cannot set up");
    } else {
        code = tool_find_region(p, argv[i], &reg, why);
    }
    if (code == TOOL_OK && tool_look(p, &reg, TOOL_LOOK_INFO, l)) {
        code = tool_look_code(l);
        snprintf(why, sizeof(why), "%s", l->why);
    }
    if (json) {
        struct json j;

        json_init(&j, stdout);
        json_begin(&j, NULL, '{');
        json_u64(&j, "schema", 1);
        json_str(&j, "name", argv[i]);
        json_bool(&j, "consistent", code == TOOL_OK);
        json_str(&j, "error", code ? why : NULL);
        json_u64(&j, "exit", (uint64_t)code);
        json_end(&j, '}');
    } else if (code == TOOL_OK) {
        printf("region %s: consistent (%u live and %u dead owners, %" PRIu64 " blocks, %" PRIu64
               " quarantined, %" PRIu64 " recoveries)\n",
               argv[i], l->info.stats.procs, l->info.stats.dead, l->info.stats.live_blocks,
               l->info.stats.quarantined_blocks, l->info.stats.recoveries);
    } else if (why[0]) {
        tool_err(code, argv[0], "%s", why);
    }
    free(l);
    return tool_flush(argv[0], code);
}
