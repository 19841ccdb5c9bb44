/* SPDX-License-Identifier: MIT */
/*
 * uio.c - the UIO platform: declared memory inside one of a /dev/uioN device's memory maps.
 *
 * open() reads maps/mapM/{addr,size,offset} for M = 0, 1, ... until one is missing (each a
 * number exactly as the kernel writes it, read without following a symlink), and opens the
 * device node once (read/write; it must be a character device). The kernel rounds a map down
 * to a page: `addr` is page aligned, the device's memory starts `offset` bytes into it, and
 * `size` counts the offset. So the memory a region may be declared in is [addr + offset,
 * addr + size), which is also what dmacoh_uio_map() reports; the bytes in front of it are
 * someone else's (neighbouring registers) and no range reaching them is accepted. map() finds
 * the map holding the whole bus range and mmaps that map (the kernel selects map M by the file
 * offset M * page size and maps it from `addr`), then points inside it. The kernel refuses a
 * mapping longer than the map, so only whole pages of it can be mapped. The physical range is
 * claimed process-wide before it is mapped (common.c): no other platform instance (PCI sysfs
 * over the same BAR, /dev/mem, a second UIO instance) may map it for another allocator until
 * this mapping is undone. Open unwinds with goto labels in reverse order; close tolerates
 * nothing half-made.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err: a backend's errors reach the same log */

#include <dmacoh/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct uio_map {
    uint64_t addr, size, offset;
};

struct dmacoh_uio {
    struct dmacoh_platform plat;
    int fd;
    unsigned n, nmaps;
    struct uio_map map[DMACOH_UIO_MAX_MAPS];
};

static int read_attr(const char *sysfs, unsigned n, unsigned m, const char *attr, uint64_t *v)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/class/uio/uio%u/maps/map%u/%s", sysfs, n, m, attr);
    return dmacoh__linux_read_u64(path, v);
}

/* Map m's attributes: addr and size (required), offset (older kernels have none: 0). An
 * unaligned addr is what kernels wrote before they rounded maps down to a page (the offset
 * then was addr's own in-page part): such a map is left unusable rather than guessed at. */
static int read_map(struct dmacoh_uio *uio, const char *sysfs, unsigned m)
{
    struct uio_map *mp = &uio->map[m];
    int r = read_attr(sysfs, uio->n, m, "addr", &mp->addr);

    if (!r)
        r = read_attr(sysfs, uio->n, m, "size", &mp->size);
    if (!r) {
        r = read_attr(sysfs, uio->n, m, "offset", &mp->offset);
        if (r == DMACOH_ENOENT) {
            mp->offset = 0;
            r = 0;
        }
    }
    if (r)
        return r;
    if (mp->addr & ((uint64_t)sysconf(_SC_PAGESIZE) - 1)) {
        /* The kernel cannot mmap it; the other maps stay usable. */
        dmacoh__warn("uio%u: map%u address %#llx is not page aligned: not usable", uio->n, m,
                     (unsigned long long)mp->addr);
        mp->size = mp->offset = 0;
        return 0;
    }
    if (mp->offset >= mp->size || mp->size - 1 > UINT64_MAX - mp->addr) {
        dmacoh__err("uio%u: map%u has offset %#llx, size %#llx at %#llx: the memory would "
                    "start past its end or wrap: refused",
                    uio->n, m, (unsigned long long)mp->offset, (unsigned long long)mp->size,
                    (unsigned long long)mp->addr);
        return DMACOH_EIO;
    }
    return 0;
}

static int read_maps(struct dmacoh_uio *uio, const char *sysfs)
{
    for (unsigned m = 0; m < DMACOH_UIO_MAX_MAPS; m++) {
        char path[PATH_MAX];
        int r;

        snprintf(path, sizeof(path), "%s/class/uio/uio%u/maps/map%u", sysfs, uio->n, m);
        if (access(path, F_OK) != 0)
            break; /* no more maps */
        r = read_map(uio, sysfs, m);
        if (r) {
            dmacoh__err("uio%u: map%u attributes cannot be read: %s", uio->n, m,
                        dmacoh_strerror(r));
            return r;
        }
        uio->nmaps = m + 1;
    }
    if (!uio->nmaps) {
        dmacoh__err("uio%u: the device has no memory maps", uio->n);
        return DMACOH_ENXIO;
    }
    return 0;
}

/* The map holding all of [bus, bus + size): its memory starts `offset` bytes into the page
 * at `addr` (the kernel rounds the map down to a page and counts the offset in `size`), and
 * nothing in front of it belongs to the device's memory. */
static const struct uio_map *find_map(const struct dmacoh_uio *uio, uint64_t bus, uint64_t size,
                                      unsigned *m)
{
    for (*m = 0; *m < uio->nmaps; (*m)++) {
        const struct uio_map *c = &uio->map[*m];
        uint64_t start = c->addr + c->offset, len = c->size - c->offset;

        if (c->size && bus >= start && bus - start < len && size <= len - (bus - start))
            return c;
    }
    return NULL;
}

static int uio_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
                   uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    struct dmacoh_uio *uio = (struct dmacoh_uio *)ctx;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), delta, len;
    unsigned m;
    const struct uio_map *mp = find_map(uio, bus, size, &m);
    int r = 0;
    char who[48];
    struct dmacoh__phys_claim claim = {bus, size, uio, "uio", who, want};

    if (!mp) {
        dmacoh__err("uio%u: bus %#llx+%#llx is not inside one of its maps", uio->n,
                    (unsigned long long)bus, (unsigned long long)size);
        return DMACOH_ENXIO;
    }
    delta = bus - mp->addr;
    len = (delta + size + page - 1) & ~(page - 1);
    if (len > mp->size) {
        dmacoh__err("uio%u: map%u is %#llx bytes, not a whole number of pages: its last page "
                    "cannot be mapped",
                    uio->n, m, (unsigned long long)mp->size);
        return DMACOH_ENXIO;
    }
    out->mode = dmacoh__linux_device_mode(want);
    if (!out->mode)
        return DMACOH_ENOTSUP;
    snprintf(who, sizeof(who), "uio%u map%u", uio->n, m);
    r = dmacoh__linux_phys_claim(&claim);
    if (r)
        return r;
    r = dmacoh__linux_map_claimed(uio->fd, (uint64_t)m * page, len, delta, device_addr, congruence,
                                  bus, size, out);
    if (r) {
        dmacoh__err("uio%u: mmap of map%u failed: %s", uio->n, m, dmacoh_strerror(r));
        return r;
    }
    out->shared = false;
    out->io_width = 0;
    return 0;
}

/* Exporting a block: the node at map M's mmap offset (M pages), which maps the map from its
 * first page; the block lies `bus - addr` bytes in. */
static int uio_file_of(void *ctx, const struct dmacoh_mapping *map, dmacoh_phys_addr_t bus,
                       uint64_t size, struct dmacoh_file_range *out)
{
    struct dmacoh_uio *uio = (struct dmacoh_uio *)ctx;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    unsigned m;
    const struct uio_map *mp = find_map(uio, bus, size, &m);

    (void)map;
    if (!mp) {
        dmacoh__err("uio%u export: bus %#llx+%#llx is not inside one of its maps", uio->n,
                    (unsigned long long)bus, (unsigned long long)size);
        return DMACOH_ENXIO;
    }
    /* A copy of its own for the caller: the platform's descriptor could be closed by a
     * release on another thread, and its number reused, before the caller is done. */
    out->fd = fcntl(uio->fd, F_DUPFD_CLOEXEC, 0);
    if (out->fd < 0)
        return -errno;
    out->close_fd = true;
    out->offset = (uint64_t)m * page;
    out->delta = bus - mp->addr;
    out->align = page;
    return 0;
}

static const struct dmacoh_platform_ops uio_ops = {
    .name = "uio",
    .map = uio_map,
    .file_of = uio_file_of,
    DMACOH__LINUX_COMMON_OPS,
};

int dmacoh_uio_open(unsigned n, const struct dmacoh_uio_opts *opts, struct dmacoh_uio **out)
{
    const char *sysfs = (opts && opts->sysfs_root) ? opts->sysfs_root : "/sys";
    const char *dev = (opts && opts->dev_root) ? opts->dev_root : "/dev";
    char path[PATH_MAX], dir[PATH_MAX];
    struct dmacoh_uio *uio;
    int r;

    if (!out) {
        dmacoh__err("uio open: out is NULL");
        return DMACOH_EINVAL;
    }
    snprintf(path, sizeof(path), "%s/class/uio/uio%u", sysfs, n);
    if (access(path, F_OK) != 0) {
        dmacoh__err("uio open: no %s (is the uio driver for the device loaded and bound?)", path);
        return DMACOH_ENOENT;
    }
    uio = calloc(1, sizeof(*uio));
    if (!uio)
        return DMACOH_ENOMEM;
    uio->n = n;
    r = read_maps(uio, sysfs);
    if (r)
        goto out_free;
    snprintf(path, sizeof(path), "%s/uio%u", dev, n);
    uio->fd = dmacoh__linux_open_checked(path, O_RDWR, DMACOH__FILE_NODE, 0);
    if (uio->fd < 0) {
        r = uio->fd;
        if (r != DMACOH_EIO) /* the checks log their own refusals */
            dmacoh__err("uio open: %s: %s", path,
                        r == DMACOH_EACCES ? "permission denied (needs read/write access)"
                                           : dmacoh_strerror(r));
        goto out_free;
    }
    snprintf(dir, sizeof(dir), "%s/class/uio/uio%u", sysfs, n);
    r = dmacoh__linux_node_is(uio->fd, path, dir);
    if (r)
        goto out_close;
    r = dmacoh_platform_init(&uio->plat, &uio_ops, uio);
    if (r)
        goto out_close;
    *out = uio;
    return 0;
out_close:
    close(uio->fd);
out_free:
    free(uio);
    return r;
}

int dmacoh_uio_close(struct dmacoh_uio *uio)
{
    int r;

    if (!uio)
        return 0;
    r = dmacoh_platform_fini(&uio->plat);
    if (r)
        return r;
    close(uio->fd);
    free(uio);
    return 0;
}

struct dmacoh_platform *dmacoh_uio_platform(struct dmacoh_uio *uio)
{
    return uio ? &uio->plat : NULL;
}

int dmacoh_uio_map(const struct dmacoh_uio *uio, unsigned m, dmacoh_phys_addr_t *addr,
                   uint64_t *size)
{
    if (!uio)
        return DMACOH_EINVAL;
    if (m >= uio->nmaps)
        return DMACOH_ENOENT;
    if (addr)
        *addr = uio->map[m].addr + uio->map[m].offset;
    if (size)
        *size = uio->map[m].size - uio->map[m].offset;
    return 0;
}
