/* SPDX-License-Identifier: MIT */
/*
 * env.c - what a hosted program gets without asking: warnings and errors on stderr, the
 * environment variables DMACOH_LOG and DMACOH_DEBUG, and a symbolizer for the debug mode's
 * report sites based on dladdr().
 *
 * All of it is applied once when the library is loaded: by the shared library's constructor,
 * and in a statically linked program by the same constructor, which sits in common.c because
 * every Linux platform links that file (a constructor in a file nothing references would be
 * left out of the program by the linker, and the environment silently ignored). Variables are
 * read with secure_getenv: a set-user-ID or set-group-ID program ignores them, so its caller
 * cannot turn on poisoning or faulting IO cookies inside it.
 */
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err, dmacoh__log_default */

#include <dmacoh/debug.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    const char *v = secure_getenv("DMACOH_DEBUG");
    long flags;

    dmacoh_debug_set_symbolizer(dladdr_sym);
    if (!v || !*v)
        return 0;
    flags = parse(v);
    if (flags < 0 || ((unsigned long)flags & ~(unsigned long)DMACOH_DEBUG_ALL))
        return DMACOH_EINVAL;
    return dmacoh_debug_set((unsigned)flags);
}

/* The standard error the process had when the library was loaded: a duplicate of descriptor
 * 2, taken then. Descriptor 2 itself is not written later: a daemon that closed it may have
 * had it reused for a memfd window or a VFIO device, and a log line written there would land
 * in device memory or registers. -1 when descriptor 2 was closed at load: nothing is written. */
static int err_fd = -1;

void dmacoh_log_stderr(void *user, int level, const char *msg)
{
    char line[512];
    size_t n = msg ? strnlen(msg, sizeof(line) - 1) : 0;
    const char *p = line;

    (void)user;
    (void)level;
    if (__atomic_load_n(&err_fd, __ATOMIC_RELAXED) < 0)
        return;
    if (n)
        memcpy(line, msg, n);
    line[n++] = '\n';
    /* One write per line, so that lines of several threads or processes do not interleave. */
    while (n) {
        ssize_t w = write(__atomic_load_n(&err_fd, __ATOMIC_RELAXED), p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* DMACOH_LOG: the level of the default stderr log; -1 for "none"/"off", -2 for nonsense. */
static int log_level(const char *v)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    if (!strcmp(v, "none") || !strcmp(v, "off"))
        return -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(v, names[i]) || (v[0] == '0' + i && !v[1]))
            return i;
    return -2;
}

void dmacoh__linux_env_init(void)
{
    const char *v = secure_getenv("DMACOH_LOG");
    int level = v && *v ? log_level(v) : DMACOH_LOG_WARN;

    if (level == -2) {
        dmacoh_log_stderr(NULL, DMACOH_LOG_WARN,
                          "dmacoh: DMACOH_LOG is not none, off, error, warn, info, debug or "
                          "0-3; logging warnings and errors");
        level = DMACOH_LOG_WARN;
    }
    if (fcntl(STDERR_FILENO, F_GETFD) >= 0)
        __atomic_store_n(&err_fd, fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3), __ATOMIC_RELAXED);
    if (level >= 0 && __atomic_load_n(&err_fd, __ATOMIC_RELAXED) >= 0)
        dmacoh__log_default(dmacoh_log_stderr, NULL, level);
    if (dmacoh_debug_from_env() != 0)
        dmacoh__err("DMACOH_DEBUG='%s' is not 1, all, a list of record, poison, cookies, or "
                    "a number of flag bits; the debug mode stays off",
                    secure_getenv("DMACOH_DEBUG"));
}
