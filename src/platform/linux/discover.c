/* SPDX-License-Identifier: MIT */
/*
 * discover.c - dmacoh_discover(): the walk over the machine's device memory, and the kinds
 * that need no more than a few attributes: UIO maps (class/uio/uioN/maps/mapM) and device DAX
 * instances (bus/dax/devices/daxX.Y). PCI functions with their NVMe CMBs are in
 * discover_pci.c, the devicetree in discover_dt.c; what all three use to build and hand over
 * records, in discover_emit.c.
 *
 * Each record is built on the stack and handed to the caller's function; nothing is kept
 * between records but the directory listing being walked. Files are read with the platforms'
 * checked readers (sysfs.c); a record whose files cannot be read carries the reason in
 * `problem` and the walk goes on, so one odd device never hides the others. An access path's
 * state is what access(2) says for the real user now (for /dev/mem, also CAP_SYS_RAWIO): the
 * listing is advice, and the open a platform does later is still what decides.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err */

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One map of UIO device `uio` (its sysfs directory dir). */
static int uio_map(struct dmacoh__walk *w, struct dmacoh_found *f, const char *dir, const char *map)
{
    char path[PATH_MAX + 64], node[PATH_MAX];
    uint64_t addr = 0, size = 0, off = 0;
    const char *bad = NULL;
    int rc;

    if (strlen(dir) + strlen(map) + sizeof("/maps//offset") > sizeof(path))
        return 0; /* no such path can be opened: nothing to report under it */

    f->index = (unsigned)strtoul(map + 3, NULL, 10);
    f->label[0] = f->problem[0] = '\0';
    f->flags = 0;
    f->npaths = 0;
    snprintf(path, sizeof(path), "%s/maps/%s/name", dir, map);
    if (dmacoh__linux_read_file(path, f->label, sizeof(f->label)) > 0)
        f->label[strcspn(f->label, "\n")] = '\0';
    snprintf(path, sizeof(path), "%s/maps/%s/addr", dir, map);
    if ((rc = dmacoh__linux_read_u64(path, &addr)) == 0) {
        snprintf(path, sizeof(path), "%s/maps/%s/size", dir, map);
        rc = dmacoh__linux_read_u64(path, &size);
    }
    if (!rc) {
        snprintf(path, sizeof(path), "%s/maps/%s/offset", dir, map);
        rc = dmacoh__linux_read_u64(path, &off);
        rc = rc == DMACOH_ENOENT ? 0 : rc; /* kernels before 3.x had no offset */
    }
    if (rc)
        bad = dmacoh_strerror(rc);
    else if (!size || addr + size - 1 < addr)
        bad = "the map is empty or wraps around the address space";
    else if (off >= size)
        bad = "the map's offset is not below its size";
    if (bad) {
        dmacoh__discover_fmt(f->problem, sizeof(f->problem), "%s: %s", path, bad);
        f->bus = f->size = f->offset = 0;
        f->flags = DMACOH_FOUND_NO_ADDR;
        return dmacoh__discover_emit(w, f);
    }
    /* As the UIO platform reads a map: the memory starts `offset` bytes into the page at
     * `addr` (a map of memory in the middle of a page), and `size` counts from that page. */
    f->bus = addr + off;
    f->size = size - off;
    f->offset = off;
    snprintf(node, sizeof(node), "%s/%s", w->dev, f->device);
    dmacoh__discover_path(&f->path[0], DMACOH_VIA_UIO, node,
                          (uint64_t)f->index * (uint64_t)sysconf(_SC_PAGESIZE) + off);
    f->npaths = 1;
    return dmacoh__discover_emit(w, f);
}

/* "uio" and digits, as the kernel names UIO devices. */
static bool uio_name_ok(const char *s)
{
    return !strncmp(s, "uio", 3) && s[3] && strspn(s + 3, "0123456789") == strlen(s + 3);
}

static int uio_device(struct dmacoh__walk *w, const char *name)
{
    char dir[PATH_MAX], path[PATH_MAX + 16], (*maps)[256] = NULL;
    struct dmacoh_found f;
    size_t n = 0;
    int rc = 0;

    memset(&f, 0, sizeof(f));
    f.kind = DMACOH_FOUND_UIO;
    f.iommu_group = f.numa_node = -1;
    dmacoh__discover_fmt(f.device, sizeof(f.device), "%s", name);
    snprintf(dir, sizeof(dir), "%s/class/uio/%s", w->sys, name);
    snprintf(path, sizeof(path), "%s/device", dir);
    if (dmacoh__linux_link_name(path, f.parent, sizeof(f.parent)) != 0)
        f.parent[0] = '\0';
    snprintf(path, sizeof(path), "%s/name", dir);
    if (dmacoh__linux_read_file(path, f.driver, sizeof(f.driver)) > 0)
        f.driver[strcspn(f.driver, "\n")] = '\0';
    snprintf(path, sizeof(path), "%s/maps", dir);
    if (dmacoh__linux_list_dir(path, &maps, &n) != 0)
        return 0; /* a UIO device without memory maps (interrupts only) */
    for (size_t i = 0; i < n && !rc; i++)
        if (!strncmp(maps[i], "map", 3) && maps[i][3] && strlen(maps[i]) < 6 &&
            strspn(maps[i] + 3, "0123456789") == strlen(maps[i] + 3))
            rc = uio_map(w, &f, dir, maps[i]);
    free(maps);
    return rc;
}

static int discover_uio(struct dmacoh__walk *w)
{
    char dir[PATH_MAX], (*names)[256] = NULL;
    size_t n = 0;
    int rc = 0;

    snprintf(dir, sizeof(dir), "%s/class/uio", w->sys);
    if (dmacoh__discover_list(w, dir, &names, &n) != 0)
        return 0; /* no UIO on this machine (the module is not loaded) */
    for (size_t i = 0; i < n && !rc; i++) {
        if (uio_name_ok(names[i]))
            rc = uio_device(w, names[i]);
        else
            dmacoh__warn("%s/%s: not a UIO device name: skipped", dir, names[i]);
    }
    free(names);
    return rc;
}

/* A device DAX instance: its size, alignment, physical address (`resource`, root only on
 * recent kernels) and node. */
static int dax_device(struct dmacoh__walk *w, const char *name)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    struct dmacoh_found f;
    uint64_t v;
    int rc;

    memset(&f, 0, sizeof(f));
    f.kind = DMACOH_FOUND_DAX;
    f.iommu_group = f.numa_node = -1;
    dmacoh__discover_fmt(f.device, sizeof(f.device), "%s", name);
    snprintf(dir, sizeof(dir), "%s/bus/dax/devices/%s", w->sys, name);
    snprintf(path, sizeof(path), "%s/driver", dir);
    if (dmacoh__linux_link_name(path, f.driver, sizeof(f.driver)) != 0)
        f.driver[0] = '\0';
    snprintf(path, sizeof(path), "%s/target_node", dir);
    dmacoh__discover_node(path, &f.numa_node);
    snprintf(path, sizeof(path), "%s/align", dir);
    if (dmacoh__linux_read_u64(path, &v) == 0)
        f.align = v;
    snprintf(path, sizeof(path), "%s/size", dir);
    rc = dmacoh__linux_read_u64(path, &f.size);
    if (!rc) {
        snprintf(path, sizeof(path), "%s/resource", dir);
        rc = dmacoh__linux_read_u64(path, &f.bus);
        if (rc == DMACOH_EACCES || rc == DMACOH_ENOENT) {
            f.flags |= DMACOH_FOUND_NO_ADDR;
            f.bus = 0;
            rc = 0; /* the address is the one thing missing; the device is usable */
        }
    }
    if (rc) {
        dmacoh__discover_fmt(f.problem, sizeof(f.problem), "%s: %s", path, dmacoh_strerror(rc));
        f.size = f.bus = 0;
        f.flags |= DMACOH_FOUND_NO_ADDR;
        return dmacoh__discover_emit(w, &f);
    }
    snprintf(path, sizeof(path), "%s/%s", w->dev, name);
    dmacoh__discover_path(&f.path[0], DMACOH_VIA_DAX, path, 0);
    if (f.path[0].state == DMACOH_PATH_ABSENT && !strcmp(f.driver, "kmem"))
        dmacoh__discover_fmt(f.path[0].how, sizeof(f.path[0].how),
                             "the memory is online as system RAM (kmem): sudo daxctl "
                             "reconfigure-device --mode=devdax --force %s (fails while the "
                             "kernel has its pages in use)",
                             name);
    f.npaths = 1;
    return dmacoh__discover_emit(w, &f);
}

/* "dax", digits, ".", digits, as the kernel names device DAX instances: only such a name is
 * put into a command of the advice. */
static bool dax_name_ok(const char *s)
{
    size_t a, b;

    if (strncmp(s, "dax", 3) != 0)
        return false;
    a = strspn(s + 3, "0123456789");
    if (!a || s[3 + a] != '.')
        return false;
    b = strspn(s + 4 + a, "0123456789");
    return b && !s[4 + a + b];
}

static int discover_dax(struct dmacoh__walk *w)
{
    char dir[PATH_MAX], (*names)[256] = NULL;
    size_t n = 0;
    int rc = 0;

    snprintf(dir, sizeof(dir), "%s/bus/dax/devices", w->sys);
    if (dmacoh__discover_list(w, dir, &names, &n) != 0)
        return 0; /* no device DAX on this machine */
    for (size_t i = 0; i < n && !rc; i++) {
        if (dax_name_ok(names[i]))
            rc = dax_device(w, names[i]);
        else
            dmacoh__warn("%s/%s: not a device DAX name: skipped", dir, names[i]);
    }
    free(names);
    return rc;
}

int dmacoh_discover(const struct dmacoh_discover_opts *opts,
                    int (*fn)(void *user, const struct dmacoh_found *f), void *user)
{
    struct dmacoh__walk w = {"/sys", "/dev", NULL, DMACOH_FOUND_ALL, fn, user, false, false};
    int rc;

    if (!fn) {
        dmacoh__err("discover: no callback");
        return DMACOH_EINVAL;
    }
    if (opts) {
        if (opts->kinds & ~(unsigned)DMACOH_FOUND_ALL) {
            dmacoh__err("discover: unknown kinds %#x", opts->kinds);
            return DMACOH_EINVAL;
        }
        w.kinds = opts->kinds ? opts->kinds : DMACOH_FOUND_ALL;
        w.sys = opts->sysfs_root ? opts->sysfs_root : w.sys;
        w.dev = opts->dev_root ? opts->dev_root : w.dev;
        w.want = opts->device;
    }
    if (w.want && (!*w.want || strlen(w.want) > 255 || (strchr(w.want, '/') && w.want[0] != '/'))) {
        dmacoh__err("discover: '%s' is not a device name", w.want);
        return DMACOH_EINVAL;
    }
    rc = (w.kinds & (DMACOH_FOUND_PCI | DMACOH_FOUND_NVME)) ? dmacoh__discover_pci(&w) : 0;
    if (!rc && (w.kinds & DMACOH_FOUND_UIO))
        rc = discover_uio(&w);
    if (!rc && (w.kinds & DMACOH_FOUND_DAX))
        rc = discover_dax(&w);
    if (!rc && (w.kinds & DMACOH_FOUND_DT))
        rc = dmacoh__discover_dt(&w);
    if (!rc && w.denied)
        return DMACOH_EACCES;
    if (!rc && w.want && !w.matched) {
        dmacoh__err("discover: no device memory of '%s' found", w.want);
        return DMACOH_ENOENT;
    }
    return rc;
}

const char *dmacoh_found_kind_name(int kind)
{
    switch (kind) {
    case DMACOH_FOUND_PCI:
        return "pci";
    case DMACOH_FOUND_UIO:
        return "uio";
    case DMACOH_FOUND_DAX:
        return "dax";
    case DMACOH_FOUND_NVME:
        return "nvme";
    case DMACOH_FOUND_DT:
        return "dt";
    default:
        return "?";
    }
}

const char *dmacoh_path_via_name(int via)
{
    static const char *const names[] = {"?", "sysfs", "uio", "vfio", "dax", "devmem"};

    return (via >= 1 && via <= DMACOH_VIA_DEVMEM) ? names[via] : "?";
}

const char *dmacoh_path_state_name(int state)
{
    static const char *const names[] = {"ready", "denied", "busy", "absent"};

    return (state >= 0 && state <= DMACOH_PATH_ABSENT) ? names[state] : "?";
}
