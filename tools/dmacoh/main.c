/* SPDX-License-Identifier: MIT */
/*
 * main.c - the `dmacoh` command: finds the device memory of the machine and shows who holds
 * what. One command with verbs (list, status, show, check, reap), a table by default and
 * --json for scripts; dmacoh(1) is the reference. Built on the public API only.
 */
#include "tool.h"

#include <dmacoh/dmacoh.h>

#include <string.h>

static const struct tool_verb verbs[] = {
    {"list", "device memory this machine has, and how to reach it", cmd_list},
    {"status", "every region declared on the machine, with its holders and use", cmd_status},
    {"show", "the picture of one shared region (terminal, or --svg FILE)", cmd_show},
    {"check", "run the invariant checker on a shared region", cmd_check},
    {"reap", "free the quarantined blocks of a shared region's dead owners", cmd_reap},
};

static void usage(FILE *f)
{
    fputs("usage: dmacoh VERB [OPTIONS] [ARGS]\n"
          "       dmacoh VERB --help | dmacoh --help | dmacoh --version\n\nverbs:\n",
          f);
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
    fputs("\nEvery verb takes --json (a stable schema, see dmacoh(1)) and --help.\n"
          "Exit codes: 0 done, 1 failed, 2 usage, 3 permission denied, 4 not found,\n"
          "5 region damaged or inconsistent (show, check, reap).\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return TOOL_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                if (!strcmp(argv[2], verbs[i].name)) {
                    char *a[] = {argv[2], (char *)"--help", NULL};
                    return verbs[i].run(2, a);
                }
        }
        usage(stdout);
        return TOOL_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        unsigned v = dmacoh_version();

        printf("dmacoh %u.%u.%u (library %u.%u.%u)\n", DMACOH_VERSION_MAJOR, DMACOH_VERSION_MINOR,
               DMACOH_VERSION_PATCH, v / 10000, v / 100 % 100, v % 100);
        return TOOL_OK;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (!strcmp(argv[1], verbs[i].name)) {
            int r = verbs[i].run(argc - 1, argv + 1);

            tool_platform_done();
            return r;
        }
    fprintf(stderr, "dmacoh: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return TOOL_USAGE;
}
