/* SPDX-License-Identifier: MIT */
/*
 * dax.c - the device DAX platform: declared memory on /dev/daxX.Y.
 *
 * open() reads size, align and (unless the caller gave a bus address) resource from sysfs
 * (Documentation/ABI/testing/sysfs-bus-dax; each a number exactly as the kernel writes it,
 * read without following a symlink), checks that they agree, and opens the node once (it must
 * be a character device).
 * map() widens the bus range to whole alignment units, because the device refuses mappings
 * whose offset, length or virtual address are not multiples of its alignment, and places the
 * mapping so that it sits on an alignment boundary and still gives CPU pointers the
 * congruence with device addresses the core asks for; when both cannot hold the declare fails
 * with -DMACOH_ENOTSUP. The declared bytes (not the widened units) are claimed process-wide
 * before mapping (common.c): /dev/mem or a second instance over them is refused. Open unwinds
 * with goto labels in reverse order.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err: a backend's errors reach the same log */

#include <dmacoh/dax.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_ALIGN (2ull << 20) /* device-dax's default before the align attribute existed */

struct dmacoh_dax {
    struct dmacoh_platform plat;
    int fd;
    char name[32];
    uint64_t base, size, align;
    bool base_physical; /* base read from sysfs `resource`, not given by the caller */
};

/* "daxN.M" with decimal N and M; nothing else (the name becomes part of a path). */
static bool name_ok(const char *s)
{
    const char *p = s;
    unsigned dots = 0, digits = 0;

    if (!s || strncmp(s, "dax", 3) != 0 || strlen(s) >= 32)
        return false;
    for (p = s + 3; *p; p++) {
        if (*p == '.' && digits && !dots) {
            dots++;
            digits = 0;
        } else if (*p >= '0' && *p <= '9') {
            digits++;
        } else {
            return false;
        }
    }
    return dots == 1 && digits > 0;
}

/* The device's sysfs folder: the bus layout, else the class one of older kernels. */
static int find_dir(const char *sysfs, const char *name, char *dir, size_t len)
{
    snprintf(dir, len, "%s/bus/dax/devices/%s", sysfs, name);
    if (access(dir, F_OK) == 0)
        return 0;
    snprintf(dir, len, "%s/class/dax/%s", sysfs, name);
    if (access(dir, F_OK) == 0)
        return 0;
    dmacoh__err("dax open: no %s/bus/dax/devices/%s: no such device-dax device (is the "
                "device_dax driver loaded and the namespace in devdax mode?)",
                sysfs, name);
    return DMACOH_ENOENT;
}

static int read_attr(const char *dir, const char *attr, uint64_t *v)
{
    char path[PATH_MAX + 32];

    snprintf(path, sizeof(path), "%s/%s", dir, attr);
    return dmacoh__linux_read_u64(path, v);
}

/* size, align and the base bus address, checked against each other. */
static int read_geometry(struct dmacoh_dax *dax, const char *dir, const struct dmacoh_dax_opts *o)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    int r = read_attr(dir, "size", &dax->size);

    if (r) {
        dmacoh__err("dax %s: cannot read %s/size: %s", dax->name, dir, dmacoh_strerror(r));
        return DMACOH_EIO;
    }
    /* A missing align is an older kernel; one that is there but not a number is refused. */
    r = read_attr(dir, "align", &dax->align);
    if (r == DMACOH_ENOENT)
        r = read_attr(dir, "device/dax_region/align", &dax->align);
    if (r == DMACOH_ENOENT) {
        dax->align = DEFAULT_ALIGN;
        r = 0;
    }
    if (r) {
        dmacoh__err("dax %s: cannot read its alignment under %s: %s", dax->name, dir,
                    dmacoh_strerror(r));
        return DMACOH_EIO;
    }
    if (dax->align < page || (dax->align & (dax->align - 1)) || !dax->size ||
        dax->size % dax->align) {
        dmacoh__err("dax %s: size %#llx and align %#llx do not make sense", dax->name,
                    (unsigned long long)dax->size, (unsigned long long)dax->align);
        return DMACOH_EIO;
    }
    dax->base_physical = !(o && o->bus_given);
    if (o && o->bus_given) {
        dax->base = o->bus;
    } else if ((r = read_attr(dir, "resource", &dax->base)) != 0) {
        dmacoh__err("dax %s: cannot read %s/resource (%s; it is readable by root only): "
                    "pass the bus address in opts->bus",
                    dax->name, dir, dmacoh_strerror(r));
        return r == DMACOH_EACCES || r == DMACOH_EIO ? r : DMACOH_ENOENT;
    }
    if (dax->base > UINT64_MAX - (dax->size - 1)) {
        dmacoh__err("dax %s: bus %#llx + size %#llx wraps", dax->name,
                    (unsigned long long)dax->base, (unsigned long long)dax->size);
        return DMACOH_EINVAL;
    }
    return 0;
}

static int dax_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
                   uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    struct dmacoh_dax *dax = (struct dmacoh_dax *)ctx;
    uint64_t a = dax->align, off, moff, delta, len, target, low;
    struct dmacoh__phys_claim claim = {bus, size, dax, "dax", dax->name, want};
    int r;

    if (bus < dax->base || bus - dax->base >= dax->size || size > dax->size - (bus - dax->base)) {
        dmacoh__err("dax %s: bus %#llx+%#llx is not inside the device (%#llx+%#llx)", dax->name,
                    (unsigned long long)bus, (unsigned long long)size,
                    (unsigned long long)dax->base, (unsigned long long)dax->size);
        return DMACOH_ENXIO;
    }
    off = bus - dax->base;
    moff = off & ~(a - 1);
    delta = off - moff;
    len = ((delta + size + a - 1) & ~(a - 1)); /* inside the device: its size is a multiple */
    /* The mapping must start on an alignment boundary; the region's first byte, delta bytes
     * in, must be congruent to device_addr modulo `congruence`. */
    low = congruence < a ? congruence : a;
    if ((device_addr - delta) & (low - 1)) {
        dmacoh__err("dax %s: device address %#llx and bus %#llx cannot both keep their "
                    "alignment in a mapping aligned to %#llx",
                    dax->name, (unsigned long long)device_addr, (unsigned long long)bus,
                    (unsigned long long)a);
        return DMACOH_ENOTSUP;
    }
    target = congruence >= a ? device_addr : delta;
    out->mode = (want & DMACOH_MEMORY_MAP) ? DMACOH_MEMORY_MAP : (want & DMACOH_MEMORY_IO);
    /* A base the caller gave (bus_given) is the caller's numbering, not known to be physical:
     * claiming it could refuse another DAX device given the same numbers, or miss /dev/mem
     * over the same bytes. Only a base read from sysfs `resource` is claimed. */
    if (dax->base_physical) {
        r = dmacoh__linux_phys_claim(&claim);
        if (r)
            return r;
        r = dmacoh__linux_map_claimed(dax->fd, moff, len, delta, target,
                                      congruence >= a ? congruence : a, bus, size, out);
    } else {
        r = dmacoh__linux_map_fd(dax->fd, moff, len, delta, target,
                                 congruence >= a ? congruence : a, out);
    }
    if (r) {
        dmacoh__err("dax %s: mmap of %#llx bytes at offset %#llx failed: %s", dax->name,
                    (unsigned long long)len, (unsigned long long)moff, dmacoh_strerror(r));
        return r;
    }
    out->shared = false;
    out->io_width = 0;
    return 0;
}

/* Exporting a block: the node at the block's offset in the device, in alignment units (the
 * device refuses any other mapping, as map() explains). */
static int dax_file_of(void *ctx, const struct dmacoh_mapping *map, dmacoh_phys_addr_t bus,
                       uint64_t size, struct dmacoh_file_range *out)
{
    struct dmacoh_dax *dax = (struct dmacoh_dax *)ctx;
    uint64_t off;

    (void)map;
    if (bus < dax->base || bus - dax->base >= dax->size || size > dax->size - (bus - dax->base)) {
        dmacoh__err("dax %s export: bus %#llx+%#llx is not inside the device", dax->name,
                    (unsigned long long)bus, (unsigned long long)size);
        return DMACOH_ENXIO;
    }
    off = bus - dax->base;
    /* A copy of its own for the caller: the platform's descriptor could be closed by a
     * release on another thread, and its number reused, before the caller is done. */
    out->fd = fcntl(dax->fd, F_DUPFD_CLOEXEC, 0);
    if (out->fd < 0)
        return -errno;
    out->close_fd = true;
    out->offset = off & ~(dax->align - 1);
    out->delta = off - out->offset;
    out->align = dax->align;
    return 0;
}

static const struct dmacoh_platform_ops dax_ops = {
    .name = "dax",
    .map = dax_map,
    .file_of = dax_file_of,
    DMACOH__LINUX_COMMON_OPS,
};

int dmacoh_dax_open(const char *name, const struct dmacoh_dax_opts *opts, struct dmacoh_dax **out)
{
    const char *sysfs = (opts && opts->sysfs_root) ? opts->sysfs_root : "/sys";
    const char *dev = (opts && opts->dev_root) ? opts->dev_root : "/dev";
    char dir[PATH_MAX], path[PATH_MAX + 32];
    struct dmacoh_dax *dax;
    int r;

    if (!out) {
        dmacoh__err("dax open '%s': out is NULL", name ? name : "(null)");
        return DMACOH_EINVAL;
    }
    if (!name_ok(name)) {
        dmacoh__err("dax open: '%s' is not a device DAX name like dax0.0", name ? name : "(null)");
        return DMACOH_EINVAL;
    }
    r = find_dir(sysfs, name, dir, sizeof(dir));
    if (r)
        return r;
    dax = calloc(1, sizeof(*dax));
    if (!dax)
        return DMACOH_ENOMEM;
    snprintf(dax->name, sizeof(dax->name), "%s", name);
    r = read_geometry(dax, dir, opts);
    if (r)
        goto out_free;
    snprintf(path, sizeof(path), "%s/%s", dev, name);
    /* A regular file standing in for the node (tests) must be as long as the device. */
    dax->fd = dmacoh__linux_open_checked(path, O_RDWR, DMACOH__FILE_NODE, dax->size);
    if (dax->fd < 0) {
        r = dax->fd;
        if (r != DMACOH_EIO) /* the checks log their own refusals */
            dmacoh__err("dax open: %s: %s", path,
                        r == DMACOH_EACCES ? "permission denied (needs read/write access)"
                                           : dmacoh_strerror(r));
        goto out_free;
    }
    r = dmacoh__linux_node_is(dax->fd, path, dir);
    if (r)
        goto out_close;
    r = dmacoh_platform_init(&dax->plat, &dax_ops, dax);
    if (r)
        goto out_close;
    *out = dax;
    return 0;
out_close:
    close(dax->fd);
out_free:
    free(dax);
    return r;
}

int dmacoh_dax_close(struct dmacoh_dax *dax)
{
    int r;

    if (!dax)
        return 0;
    r = dmacoh_platform_fini(&dax->plat);
    if (r)
        return r;
    close(dax->fd);
    free(dax);
    return 0;
}

struct dmacoh_platform *dmacoh_dax_platform(struct dmacoh_dax *dax)
{
    return dax ? &dax->plat : NULL;
}

int dmacoh_dax_info(const struct dmacoh_dax *dax, dmacoh_phys_addr_t *bus, uint64_t *size,
                    uint64_t *align)
{
    if (!dax)
        return DMACOH_EINVAL;
    if (bus)
        *bus = dax->base;
    if (size)
        *size = dax->size;
    if (align)
        *align = dax->align;
    return 0;
}
