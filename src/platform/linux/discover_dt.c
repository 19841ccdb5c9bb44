/* SPDX-License-Identifier: MIT */
/*
 * discover_dt.c - the devicetree part of dmacoh_discover(): the children of /reserved-memory
 * and every node whose `compatible` lists "mmio-sram", read from the unflattened tree the
 * kernel shows under firmware/devicetree/base (a directory per node, a file per property,
 * property values as in the blob: big-endian 32-bit cells, NUL-separated string lists).
 *
 * A node's `reg` is a list of (address, size) pairs whose widths in cells come from the
 * parent's #address-cells and #size-cells (2 and 1 when absent, as the devicetree
 * specification says); addresses here are taken as CPU physical addresses, which holds for
 * reserved memory (a child of the root) and for SRAM on a bus without `ranges` translation.
 * The walk does not follow symbolic links, goes at most 32 levels deep and does not descend
 * into a node it reports (an SRAM's children are partitions of it). A `reg` whose length is
 * not a whole number of pairs, or cells wider than 64 bits, is reported on the record.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DEPTH 32
#define MAX_REG   4096 /* bytes of `reg` read: 256 pairs of 2 + 2 cells */

/* A property of cells into *v (big-endian, `cells` of them, at most 2): true if read. */
static bool read_cells(const char *path, unsigned cells, uint64_t *v)
{
    unsigned char buf[16];
    long n = dmacoh__linux_read_file(path, (char *)buf, sizeof(buf));

    if (n != (long)cells * 4 || cells > 2)
        return false;
    *v = 0;
    for (long i = 0; i < n; i++)
        *v = *v << 8 | buf[i];
    return true;
}

/* #address-cells or #size-cells of node dir: the value, dflt when absent, ~0u when bad. */
static unsigned cells_of(const char *dir, const char *prop, unsigned dflt)
{
    char path[PATH_MAX + 32];
    uint64_t v;
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, prop);
    if (lstat(path, &st) != 0)
        return dflt;
    return read_cells(path, 1, &v) && v <= 4 ? (unsigned)v : ~0u;
}

static uint64_t cell_value(const unsigned char *p, unsigned cells)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < cells * 4; i++)
        v = v << 8 | p[i];
    return v;
}

static bool has_prop(const char *dir, const char *prop)
{
    char path[PATH_MAX + 32];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, prop);
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first string of `compatible` into f->label; whether the list holds "mmio-sram". */
static bool compatible(const char *dir, struct dmacoh_found *f)
{
    char path[PATH_MAX + 32], buf[512];
    long n;

    snprintf(path, sizeof(path), "%s/compatible", dir);
    n = dmacoh__linux_read_file(path, buf, sizeof(buf));
    f->label[0] = '\0';
    if (n <= 0)
        return false;
    dmacoh__discover_fmt(f->label, sizeof(f->label), "%s", buf);
    for (long i = 0; i < n; i += (long)strlen(buf + i) + 1)
        if (!strcmp(buf + i, "mmio-sram"))
            return true;
    return false;
}

/* A node without `reg` (reserved memory the kernel places at boot): its `size`, no address. */
static int dynamic_node(struct dmacoh__walk *w, struct dmacoh_found *f, const char *dir,
                        unsigned sc)
{
    char path[PATH_MAX + 32];

    snprintf(path, sizeof(path), "%s/size", dir);
    f->flags |= DMACOH_FOUND_NO_ADDR;
    if (!read_cells(path, sc, &f->size))
        dmacoh__discover_fmt(f->problem, sizeof(f->problem),
                             "neither `reg` nor a `size` of %u "
                             "cells",
                             sc);
    else
        dmacoh__discover_fmt(f->problem, sizeof(f->problem),
                             "placed by the kernel at boot (no `reg`): the address is in "
                             "/proc/iomem");
    return dmacoh__discover_emit(w, f);
}

/* The records of one reported node: one per (address, size) pair of `reg`. */
static int dt_node(struct dmacoh__walk *w, const char *dir, const char *rel, unsigned ac,
                   unsigned sc)
{
    char path[PATH_MAX + 32], mem[PATH_MAX];
    unsigned char *reg;
    struct dmacoh_found f;
    long n;
    int rc = 0;

    memset(&f, 0, sizeof(f));
    f.kind = DMACOH_FOUND_DT;
    f.iommu_group = f.numa_node = -1;
    dmacoh__discover_fmt(f.device, sizeof(f.device), "%s", rel);
    compatible(dir, &f);
    f.flags = (has_prop(dir, "no-map") ? DMACOH_FOUND_NO_MAP : 0u) |
              (has_prop(dir, "reusable") ? DMACOH_FOUND_REUSABLE : 0u);
    if (ac > 2 || sc > 2) {
        f.flags |= DMACOH_FOUND_NO_ADDR;
        dmacoh__discover_fmt(f.problem, sizeof(f.problem),
                             "the parent's #address-cells %u / #size-cells %u: more than 64 bits",
                             ac, sc);
        return dmacoh__discover_emit(w, &f);
    }
    snprintf(path, sizeof(path), "%s/reg", dir);
    if (!has_prop(dir, "reg"))
        return dynamic_node(w, &f, dir, sc);
    reg = malloc(MAX_REG + 1);
    if (!reg)
        return DMACOH_ENOMEM;
    n = dmacoh__linux_read_file(path, (char *)reg, MAX_REG + 1);
    if (n <= 0 || (ac + sc) == 0 || n % (long)((ac + sc) * 4) != 0) {
        f.flags |= DMACOH_FOUND_NO_ADDR;
        dmacoh__discover_fmt(f.problem, sizeof(f.problem),
                             "%s: %ld bytes, not pairs of %u address and %u size cells", path, n,
                             ac, sc);
        free(reg);
        return dmacoh__discover_emit(w, &f);
    }
    snprintf(mem, sizeof(mem), "%s/mem", w->dev);
    for (long off = 0; off < n && !rc; off += (long)((ac + sc) * 4), f.index++) {
        f.bus = cell_value(reg + off, ac);
        f.size = cell_value(reg + off + (size_t)ac * 4, sc);
        f.problem[0] = '\0';
        f.npaths = 0;
        if (!f.size || f.bus + f.size - 1 < f.bus) {
            dmacoh__discover_fmt(f.problem, sizeof(f.problem), "%s: entry %u is empty or wraps",
                                 path, f.index);
        } else {
            dmacoh__discover_path(&f.path[0], DMACOH_VIA_DEVMEM, mem, f.bus);
            if (f.path[0].state == DMACOH_PATH_READY && !(f.flags & DMACOH_FOUND_NO_MAP)) {
                f.path[0].state = DMACOH_PATH_BUSY;
                dmacoh__discover_fmt(f.path[0].how, sizeof(f.path[0].how),
                                     "the kernel maps this memory as RAM (no `no-map`): "
                                     "/dev/mem refuses it under CONFIG_STRICT_DEVMEM");
            }
            f.npaths = 1;
        }
        rc = dmacoh__discover_emit(w, &f);
    }
    free(reg);
    return rc;
}

/* The children of node dir (rel: its path from the root, "" for the root). */
static int dt_walk(struct dmacoh__walk *w, const char *dir, const char *rel, unsigned depth)
{
    char(*names)[256] = NULL, child[PATH_MAX], crel[PATH_MAX];
    unsigned ac = cells_of(dir, "#address-cells", 2), sc = cells_of(dir, "#size-cells", 1);
    bool reserved = !strcmp(rel, "/reserved-memory");
    struct dmacoh_found probe;
    size_t n = 0;
    int rc = 0;

    if (depth > MAX_DEPTH) {
        dmacoh__warn("%s: deeper than %u nodes: not walked", dir, MAX_DEPTH);
        return 0;
    }
    if (dmacoh__discover_list(w, dir, &names, &n) != 0)
        return 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct stat st;

        if ((size_t)snprintf(child, sizeof(child), "%s/%s", dir, names[i]) >= sizeof(child) ||
            (size_t)snprintf(crel, sizeof(crel), "%s/%s", rel, names[i]) >= sizeof(crel) ||
            lstat(child, &st) != 0 || !S_ISDIR(st.st_mode))
            continue; /* a property, a link, or a path too long */
        if (reserved || compatible(child, &probe))
            rc = dt_node(w, child, crel, ac, sc);
        else
            rc = dt_walk(w, child, crel, depth + 1);
    }
    free(names);
    return rc;
}

int dmacoh__discover_dt(struct dmacoh__walk *w)
{
    char base[PATH_MAX];

    snprintf(base, sizeof(base), "%s/firmware/devicetree/base", w->sys);
    return dt_walk(w, base, "", 0);
}
