/* SPDX-License-Identifier: MIT */
/*
 * debug_env.c - the hosted side of the debug mode: the DMACOH_DEBUG environment variable and a
 * symbolizer for report sites based on dladdr().
 *
 * The shared library reads DMACOH_DEBUG when it is loaded (a constructor, like glibc's
 * MALLOC_CHECK_); a program linked with the static library calls dmacoh_debug_from_env()
 * itself, which also links this file in.
 */
#include <dmacoh/debug.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dladdr_sym(const void *addr, char *buf, size_t len)
{
    Dl_info di;
    const char *file;

    if (!dladdr(addr, &di) || (!di.dli_sname && !di.dli_fname))
        return NULL;
    file = di.dli_fname ? strrchr(di.dli_fname, '/') : NULL;
    file = file ? file + 1 : (di.dli_fname ? di.dli_fname : "?");
    if (di.dli_sname)
        snprintf(buf, len, "%s+%#lx in %s", di.dli_sname,
                 (unsigned long)((const char *)addr - (const char *)di.dli_saddr), file);
    else
        snprintf(buf, len, "%s+%#lx", file,
                 (unsigned long)((const char *)addr - (const char *)di.dli_fbase));
    return buf;
}

/* Flags from "1", "all", a list of "record", "poison", "cookies", or a number; -1 when the
 * text means nothing. */
static long parse(const char *v)
{
    char *end;
    long flags = 0;

    if (!strcmp(v, "all"))
        return DMACOH_DEBUG_ALL;
    flags = strtol(v, &end, 0);
    if (*v && !*end)
        return flags == 1 ? DMACOH_DEBUG_ALL : flags;
    flags = 0;
    while (*v) {
        size_t n = strcspn(v, ",");

        if (n == 6 && !strncmp(v, "record", 6))
            flags |= DMACOH_DEBUG_RECORD;
        else if (n == 6 && !strncmp(v, "poison", 6))
            flags |= DMACOH_DEBUG_POISON;
        else if (n == 7 && !strncmp(v, "cookies", 7))
            flags |= DMACOH_DEBUG_IO_COOKIES;
        else if (n)
            return -1;
        v += n + (v[n] == ',');
    }
    return flags;
}

int dmacoh_debug_from_env(void)
{
    const char *v = getenv("DMACOH_DEBUG");
    long flags;

    dmacoh_debug_set_symbolizer(dladdr_sym);
    if (!v || !*v)
        return 0;
    flags = parse(v);
    if (flags < 0 || ((unsigned long)flags & ~(unsigned long)DMACOH_DEBUG_ALL))
        return DMACOH_EINVAL;
    return dmacoh_debug_set((unsigned)flags);
}

__attribute__((constructor)) static void from_env_at_load(void)
{
    (void)dmacoh_debug_from_env();
}
