/* SPDX-License-Identifier: MIT */
/*
 * discover_dt.c - the devicetree part of dmacoh_discover(): the children of /reserved-memory
 * and every node whose `compatible` lists "mmio-sram", read from the unflattened tree the
 * kernel shows under firmware/devicetree/base (a directory per node, a file per property,
 * property values as in the blob: big-endian 32-bit cells, NUL-separated string lists).
 *
 * A node's `reg` is a list of (address, size) pairs whose widths in cells come from the
 * parent's #address-cells and #size-cells (2 and 1 when absent, as the devicetree
 * specification says). Those are addresses on the parent's bus: they are CPU physical
 * addresses only when every bus between the root and the node has an empty `ranges` (an
 * identity mapping). A bus with a non-empty `ranges` translates (not applied here), one
 * without `ranges` is not reachable from the CPU at all: a node behind either, or on a bus of
 * #address-cells 0, is reported without an address, saying why. Nodes whose `status` is not
 * "okay" are disabled and skipped with everything under them.
 *
 * The /dev/mem path is ready only for a process holding CAP_SYS_RAWIO (the kernel's open of
 * /dev/mem checks it, whatever the file's mode); reserved memory without `no-map` is the
 * kernel's RAM and an SRAM its sram driver has claimed is held: both are busy.
 *
 * The walk does not follow symbolic links, goes at most 16 levels deep (one log line for
 * what lies deeper) and does not descend into a node it reports (an SRAM's children are
 * partitions of it). Its paths are one heap buffer grown and cut back in place, so a level of
 * the recursion costs a few dozen bytes of stack: a thread with a small stack can walk. A
 * `reg` whose length is not a whole number of pairs, or cells wider than 64 bits, is reported
 * on the record.
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

#define MAX_DEPTH 16   /* levels of nodes below the root that are looked at */
#define MAX_REG   4096 /* bytes of `reg` read: 256 pairs of 2 + 2 cells */

/* Whether the addresses of a bus's children are CPU physical addresses. */
enum bus_space {
    SPACE_CPU = 0,        /* every bus from the root down has an empty `ranges` */
    SPACE_TRANSLATED = 1, /* a bus on the way has a non-empty `ranges`: a translation */
    SPACE_LOCAL = 2,      /* a bus on the way has no `ranges`: not CPU-addressable */
};

/* One walk: the node's path in sysfs and from the root, grown and cut back in place as the
 * walk goes down and up, so that a level of the recursion holds only its listing. */
struct dt_walk {
    char dir[PATH_MAX];
    char rel[PATH_MAX];
    bool warned; /* the depth cap has been logged */
    int rawio;   /* CAP_SYS_RAWIO held: 1, 0, or -1 before it is first asked */
};

/* What a bus says about its children: the cells of their `reg`, and their address space. */
struct dt_bus {
    unsigned ac, sc;   /* #address-cells, #size-cells */
    bool ac_ok, sc_ok; /* each is one cell (or absent, and then the default) */
    int space;         /* enum bus_space */
};

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

/* #address-cells or #size-cells of node dir into *v: dflt when absent; false when the
 * property is not one cell (then *v is 0). */
static bool cells_of(const char *dir, const char *prop, unsigned dflt, unsigned *v)
{
    char path[PATH_MAX + 32];
    uint64_t x;
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, prop);
    *v = dflt;
    if (lstat(path, &st) != 0)
        return true;
    *v = 0;
    if (!read_cells(path, 1, &x))
        return false;
    *v = (unsigned)x;
    return true;
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

/* The first string of `compatible` of node dir into label; whether the list holds
 * "mmio-sram". */
static bool compatible(const char *dir, char *label, size_t len)
{
    char path[PATH_MAX + 32], buf[512];
    long n;

    snprintf(path, sizeof(path), "%s/compatible", dir);
    n = dmacoh__linux_read_file(path, buf, sizeof(buf));
    if (label)
        label[0] = '\0';
    if (n <= 0)
        return false;
    if (label)
        dmacoh__discover_fmt(label, len, "%s", buf);
    for (long i = 0; i < n; i += (long)strlen(buf + i) + 1)
        if (!strcmp(buf + i, "mmio-sram"))
            return true;
    return false;
}

/* Whether node dir is disabled: a `status` other than "okay" (or the older "ok"). The kernel
 * makes no device of such a node, nor of anything under it. */
static bool disabled(const char *dir)
{
    char path[PATH_MAX + 32], buf[64];
    long n;

    snprintf(path, sizeof(path), "%s/status", dir);
    n = dmacoh__linux_read_file(path, buf, sizeof(buf));
    if (n == DMACOH_ENOENT)
        return false;
    return n <= 0 || (strcmp(buf, "okay") != 0 && strcmp(buf, "ok") != 0);
}

/* The address space of the children of node dir, whose own parent's children are in
 * `outer`: an empty `ranges` keeps it, a non-empty one translates, none ends CPU access. */
static int space_of(const char *dir, int outer)
{
    char path[PATH_MAX + 32];
    struct stat st;

    snprintf(path, sizeof(path), "%s/ranges", dir);
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return SPACE_LOCAL;
    return st.st_size != 0 ? SPACE_TRANSLATED : outer;
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

/* Whether this process holds CAP_SYS_RAWIO (bit 17 of the effective set, CapEff in
 * /proc/self/status): the kernel's open of /dev/mem asks for it, whatever the file's mode. */
static bool has_rawio(void)
{
    const size_t len = 64u << 10; /* the Groups line of a user in many groups is long */
    char *buf = malloc(len), *p, *end;
    unsigned long long eff = 0;
    long n = buf ? dmacoh__linux_read_file("/proc/self/status", buf, len) : -1;

    p = n > 0 ? strstr(buf, "\nCapEff:") : NULL;
    if (p) {
        eff = strtoull(p + 8, &end, 16);
        eff = end != p + 8 ? eff : 0;
    }
    free(buf);
    return eff >> 17 & 1u;
}

/* The unit address and name of a node ("sram@50000000" -> "50000000.sram"): the platform
 * device the kernel makes of it. false when the node has no unit address. */
static bool platform_name(const char *node, char *out, size_t len)
{
    const char *at = strchr(node, '@');

    if (!at || !at[1] || at == node)
        return false;
    return (size_t)snprintf(out, len, "%s.%.*s", at + 1, (int)(at - node), node) < len;
}

/* The /dev/mem path of entry f->index of the node at t (`reserved`: a /reserved-memory
 * child). */
static void devmem_path(struct dmacoh__walk *w, struct dt_walk *t, struct dmacoh_found *f,
                        bool reserved)
{
    struct dmacoh_found_path *p = &f->path[0];
    char path[PATH_MAX + 64], name[256], drv[64] = "";
    const char *node = strrchr(t->rel, '/');

    snprintf(path, sizeof(path), "%s/mem", w->dev);
    dmacoh__discover_path(p, DMACOH_VIA_DEVMEM, path, f->bus);
    f->npaths = 1;
    if (p->state == DMACOH_PATH_ABSENT)
        return;
    if (t->rawio < 0)
        t->rawio = has_rawio(); /* once a walk: the answer does not change during it */
    if (p->state == DMACOH_PATH_READY && !t->rawio) {
        p->state = DMACOH_PATH_DENIED;
        dmacoh__discover_fmt(p->missing, sizeof(p->missing), "read and write");
        dmacoh__discover_fmt(p->how, sizeof(p->how), "run as root (needs CAP_SYS_RAWIO)");
    } else if (p->state == DMACOH_PATH_DENIED) {
        dmacoh__discover_fmt(p->how, sizeof(p->how), "run as root (needs CAP_SYS_RAWIO)");
    }
    /* Whether the kernel holds the memory decides whatever the permissions: even root is
     * refused then. Reserved memory without no-map is in the kernel's linear map (RAM, which
     * CONFIG_STRICT_DEVMEM refuses); SRAM is never RAM, but the kernel's sram driver, when
     * bound, claims the range, which CONFIG_IO_STRICT_DEVMEM refuses. */
    if (reserved && !(f->flags & DMACOH_FOUND_NO_MAP)) {
        p->state = DMACOH_PATH_BUSY;
        dmacoh__discover_fmt(p->how, sizeof(p->how),
                             "the kernel maps this memory as RAM (no `no-map`): /dev/mem refuses "
                             "it under CONFIG_STRICT_DEVMEM");
        return;
    }
    if (reserved || !node || !platform_name(node + 1, name, sizeof(name)))
        return;
    snprintf(path, sizeof(path), "%s/bus/platform/devices/%s/driver", w->sys, name);
    if (dmacoh__linux_link_name(path, drv, sizeof(drv)) != 0 || !drv[0])
        return;
    p->state = DMACOH_PATH_BUSY;
    dmacoh__discover_fmt(p->how, sizeof(p->how),
                         "the kernel's %s driver holds %s: /dev/mem refuses the range under "
                         "CONFIG_IO_STRICT_DEVMEM; unbind it: echo %s | sudo tee "
                         "%s/bus/platform/drivers/%s/unbind",
                         drv, name, name, w->sys, drv);
}

/* Why the addresses of a node on bus b cannot be presented as physical ones, or NULL. */
static const char *no_address(const struct dt_bus *b)
{
    if (b->space == SPACE_TRANSLATED)
        return "behind a bus translation (ranges) not applied: the address is not a CPU "
               "physical one";
    if (b->space == SPACE_LOCAL)
        return "on a bus without `ranges`: not CPU-addressable";
    if (b->ac == 0)
        return "the parent's #address-cells is 0: the node has no address";
    return NULL;
}

/* A record of node f without an address, for the reason in f->problem (already set). */
static int unaddressed(struct dmacoh__walk *w, struct dmacoh_found *f)
{
    f->flags |= DMACOH_FOUND_NO_ADDR;
    f->bus = f->size = 0;
    return dmacoh__discover_emit(w, f);
}

/* The records of one reported node: one per (address, size) pair of `reg`. */
static int dt_node(struct dmacoh__walk *w, struct dt_walk *t, const struct dt_bus *b, bool reserved)
{
    char path[PATH_MAX + 32];
    unsigned char *reg;
    struct dmacoh_found f;
    size_t pair = (size_t)(b->ac + b->sc) * 4;
    long n;
    int rc = 0;

    memset(&f, 0, sizeof(f));
    f.kind = DMACOH_FOUND_DT;
    f.iommu_group = f.numa_node = -1;
    dmacoh__discover_fmt(f.device, sizeof(f.device), "%s", t->rel);
    compatible(t->dir, f.label, sizeof(f.label));
    f.flags = (has_prop(t->dir, "no-map") ? DMACOH_FOUND_NO_MAP : 0u) |
              (has_prop(t->dir, "reusable") ? DMACOH_FOUND_REUSABLE : 0u);
    if (!b->ac_ok || !b->sc_ok || b->ac > 2 || b->sc > 2) {
        dmacoh__discover_fmt(f.problem, sizeof(f.problem),
                             "the parent's #address-cells %u%s / #size-cells %u%s: not 0 to 2 "
                             "cells (at most 64 bits)",
                             b->ac, b->ac_ok ? "" : " (not one cell)", b->sc,
                             b->sc_ok ? "" : " (not one cell)");
        return unaddressed(w, &f);
    }
    if (!has_prop(t->dir, "reg"))
        return dynamic_node(w, &f, t->dir, b->sc);
    if (no_address(b)) {
        dmacoh__discover_fmt(f.problem, sizeof(f.problem), "%s", no_address(b));
        return unaddressed(w, &f);
    }
    reg = malloc(MAX_REG + 2);
    if (!reg)
        return DMACOH_ENOMEM;
    snprintf(path, sizeof(path), "%s/reg", t->dir);
    n = dmacoh__linux_read_file(path, (char *)reg, MAX_REG + 2);
    if (n <= 0 || n % (long)pair != 0) {
        if (n < 0)
            dmacoh__discover_fmt(f.problem, sizeof(f.problem), "%s: %s", path,
                                 dmacoh_strerror((int)n));
        else
            dmacoh__discover_fmt(f.problem, sizeof(f.problem),
                                 "%s: %ld bytes, not pairs of %u address and %u size cells", path,
                                 n, b->ac, b->sc);
        free(reg);
        return unaddressed(w, &f);
    }
    for (long off = 0; off < n && !rc; off += (long)pair, f.index++) {
        f.bus = cell_value(reg + off, b->ac);
        f.size = cell_value(reg + off + (size_t)b->ac * 4, b->sc);
        f.problem[0] = '\0';
        f.npaths = 0;
        if (!f.size || f.bus + f.size - 1 < f.bus)
            dmacoh__discover_fmt(f.problem, sizeof(f.problem), "%s: entry %u is empty or wraps",
                                 path, f.index);
        else
            devmem_path(w, t, &f, reserved);
        rc = dmacoh__discover_emit(w, &f);
    }
    free(reg);
    return rc;
}

/* Appends "/name" to the walk's paths: false when a path would be too long. */
static bool down(struct dt_walk *t, const char *name)
{
    size_t d = strlen(t->dir), r = strlen(t->rel), k = strlen(name);

    if (d + k + 2 > sizeof(t->dir) || r + k + 2 > sizeof(t->rel))
        return false;
    t->dir[d] = t->rel[r] = '/';
    memcpy(t->dir + d + 1, name, k + 1);
    memcpy(t->rel + r + 1, name, k + 1);
    return true;
}

/* Cuts the last component off the walk's paths. */
static void up(struct dt_walk *t)
{
    *strrchr(t->dir, '/') = '\0';
    *strrchr(t->rel, '/') = '\0';
}

/* The children of the node at t (whose children's addresses are in `space`). Each level
 * holds its listing (on the heap) and a few words: the paths are t's. */
static int dt_walk(struct dmacoh__walk *w, struct dt_walk *t, int space, unsigned depth)
{
    char(*names)[256] = NULL;
    struct dt_bus b = {0, 0, false, false, space};
    bool reserved = !strcmp(t->rel, "/reserved-memory");
    size_t n = 0;
    int rc = 0;

    if (depth >= MAX_DEPTH) {
        if (!t->warned)
            dmacoh__warn("%s: deeper than %u nodes: not walked (nor any other node as deep)",
                         t->dir, MAX_DEPTH);
        t->warned = true;
        return 0;
    }
    b.ac_ok = cells_of(t->dir, "#address-cells", 2, &b.ac);
    b.sc_ok = cells_of(t->dir, "#size-cells", 1, &b.sc);
    if (dmacoh__discover_list(w, t->dir, &names, &n) != 0)
        return 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct stat st;

        if (!down(t, names[i]))
            continue; /* a path too long */
        if (lstat(t->dir, &st) == 0 && S_ISDIR(st.st_mode) && !disabled(t->dir)) {
            if (reserved || compatible(t->dir, NULL, 0))
                rc = dt_node(w, t, &b, reserved);
            else
                rc = dt_walk(w, t, space_of(t->dir, space), depth + 1);
        }
        up(t);
    }
    free(names);
    return rc;
}

int dmacoh__discover_dt(struct dmacoh__walk *w)
{
    struct dt_walk *t = malloc(sizeof(*t));
    int rc;

    if (!t)
        return DMACOH_ENOMEM;
    t->warned = false;
    t->rawio = -1;
    t->rel[0] = '\0';
    if ((size_t)snprintf(t->dir, sizeof(t->dir), "%s/firmware/devicetree/base", w->sys) >=
        sizeof(t->dir)) {
        free(t);
        return 0;
    }
    rc = dt_walk(w, t, SPACE_CPU, 0); /* the root's children: its cells, CPU addresses */
    free(t);
    return rc;
}
