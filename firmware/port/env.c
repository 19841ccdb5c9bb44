/* SPDX-License-Identifier: MIT */
/*
 * env.c - dmacoh_debug_from_env() for the firmware, which the test runner calls before the
 * tests (the hosted library has it in src/platform/linux/env.c). The firmware's environment
 * is filled from the semihosting command line (main.c), so `-append DMACOH_DEBUG=all` on
 * QEMU's command line runs the tests in the debug mode, as DMACOH_DEBUG=all does on Linux.
 * Values as on Linux: "1" or "all", a comma-separated list of "record", "poison" and
 * "cookies", or the flag bits as a number.
 */
#include <dmacoh/debug.h>

#include <stdlib.h>
#include <string.h>

static long parse(const char *v)
{
    static const struct {
        const char *name;
        unsigned flag;
    } words[] = {{"1", DMACOH_DEBUG_ALL},
                 {"all", DMACOH_DEBUG_ALL},
                 {"record", DMACOH_DEBUG_RECORD},
                 {"poison", DMACOH_DEBUG_POISON},
                 {"cookies", DMACOH_DEBUG_IO_COOKIES}};
    char *end;
    unsigned long n = strtoul(v, &end, 0);
    long flags = 0;

    if (*end == '\0' && end != v && strcmp(v, "1") != 0)
        return n <= DMACOH_DEBUG_ALL ? (long)n : -1;
    while (*v) {
        size_t len = strcspn(v, ","), i;

        for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
            if (strlen(words[i].name) == len && strncmp(v, words[i].name, len) == 0)
                break;
        if (i == sizeof(words) / sizeof(words[0]))
            return -1;
        flags |= (long)words[i].flag;
        v += len + (v[len] == ',');
    }
    return flags;
}

int dmacoh_debug_from_env(void)
{
    const char *v = getenv("DMACOH_DEBUG");
    long flags;

    if (!v || !*v)
        return 0;
    flags = parse(v);
    if (flags < 0)
        return DMACOH_EINVAL;
    return dmacoh_debug_set((unsigned)flags);
}
