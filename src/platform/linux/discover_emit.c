/* SPDX-License-Identifier: MIT */
/*
 * discover_emit.c - what every part of the discovery walk (discover.c, discover_pci.c,
 * discover_dt.c) uses to build its records and hand them over: formatting a field, the
 * caller's filters in front of its function, listing a folder with the reason it could not
 * be, an access path's state for the real user (access(2): advice, since the open a platform
 * does later is what decides), and a NUMA node.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void dmacoh__discover_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap); /* cut when too long: the fields are for reading */
    va_end(ap);
}

/* The last component of a devicetree path ("/a/b@0" -> "b@0"). */
static const char *last(const char *s)
{
    const char *p = strrchr(s, '/');

    return p ? p + 1 : s;
}

int dmacoh__discover_emit(struct dmacoh__walk *w, struct dmacoh_found *f)
{
    if (!(w->kinds & (unsigned)f->kind))
        return 0;
    if (w->want && strcmp(w->want, f->device) != 0 &&
        !(f->kind == DMACOH_FOUND_NVME && !strcmp(w->want, f->label)) &&
        !(f->kind == DMACOH_FOUND_DT && !strcmp(w->want, last(f->device))))
        return 0;
    w->matched = true;
    return w->fn(w->user, f);
}

int dmacoh__discover_list(struct dmacoh__walk *w, const char *dir, char (**names)[256], size_t *n)
{
    int rc = dmacoh__linux_list_dir(dir, names, n);

    if (rc == DMACOH_EACCES) {
        dmacoh__err("discover: %s: read permission missing: what it holds is not listed", dir);
        w->denied = true;
    } else if (rc && rc != DMACOH_ENOENT) {
        dmacoh__err("discover: %s: %s: not listed", dir, dmacoh_strerror(rc));
    }
    return rc;
}

void dmacoh__discover_path(struct dmacoh_found_path *p, int via, const char *file, uint64_t offset)
{
    struct stat st;
    bool r, wr;

    memset(p, 0, sizeof(*p));
    p->via = via;
    p->offset = offset;
    dmacoh__discover_fmt(p->file, sizeof(p->file), "%s", file);
    if (lstat(file, &st) != 0) {
        p->state = DMACOH_PATH_ABSENT;
        dmacoh__discover_fmt(p->how, sizeof(p->how), "%s: %s", file, strerror(errno));
        return;
    }
    r = access(file, R_OK) == 0;
    wr = access(file, W_OK) == 0;
    p->state = (r && wr) ? DMACOH_PATH_READY : DMACOH_PATH_DENIED;
    if (p->state == DMACOH_PATH_READY)
        return;
    dmacoh__discover_fmt(p->missing, sizeof(p->missing), "%s",
                         (!r && !wr) ? "read and write"
                         : !r        ? "read"
                                     : "write");
    if (via == DMACOH_VIA_SYSFS) /* kernfs keeps no POSIX ACLs: setfacl fails there */
        dmacoh__discover_fmt(p->how, sizeof(p->how),
                             "run as root, or take the file: sudo chown $(id -un) %s (lost when "
                             "the device is rebound or the machine reboots; a udev rule keeps it)",
                             file);
    else
        dmacoh__discover_fmt(p->how, sizeof(p->how),
                             "run as root, or grant it: sudo setfacl -m u:$(id -un):rw %s", file);
}

void dmacoh__discover_node(const char *path, int *v)
{
    char buf[32];
    char *end;
    long x;

    if (dmacoh__linux_read_file(path, buf, sizeof(buf)) <= 0)
        return;
    x = strtol(buf, &end, 10);
    if (end != buf && (*end == '\n' || !*end) && x >= -1 && x < 65536)
        *v = (int)x;
}
