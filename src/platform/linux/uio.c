/* SPDX-License-Identifier: MIT */
/*
 * uio.c - the UIO platform: declared memory inside one of a /dev/uioN device's memory maps.
 *
 * open() reads maps/mapM/{addr,size,offset} for M = 0, 1, ... until one is missing, and opens
 * the device node once (read/write); close() releases both. map() finds the map holding the
 * whole bus range and mmaps that map (the kernel selects map M by the file offset M * page
 * size and maps it from `addr`, which is page aligned; `offset` says where the device's memory
 * starts inside the map and is already counted in `size`), then points inside it. The kernel
 * refuses a mapping longer than the map, so only whole pages of it can be mapped. Open unwinds with goto labels in reverse order; close tolerates nothing half-made.
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

static int read_maps(struct dmacoh_uio *uio, const char *sysfs)
{
    for (unsigned m = 0; m < DMACOH_UIO_MAX_MAPS; m++) {
        struct uio_map *mp = &uio->map[m];
        int r = read_attr(sysfs, uio->n, m, "addr", &mp->addr);

        if (r == DMACOH_ENOENT)
            break; /* no more maps */
        if (!r)
            r = read_attr(sysfs, uio->n, m, "size", &mp->size);
        if (!r && (mp->addr & ((uint64_t)sysconf(_SC_PAGESIZE) - 1))) {
            /* The kernel cannot mmap it; the other maps stay usable. */
            dmacoh__warn("uio%u: map%u address %#llx is not page aligned: not usable", uio->n, m,
                         (unsigned long long)mp->addr);
            mp->size = 0;
        }
        if (!r && read_attr(sysfs, uio->n, m, "offset", &mp->offset) != 0)
            mp->offset = 0; /* older kernels have no offset attribute */
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

static int uio_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
                   uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    struct dmacoh_uio *uio = (struct dmacoh_uio *)ctx;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), delta, len;
    const struct uio_map *mp = NULL;
    unsigned m;
    int r = 0;

    for (m = 0; m < uio->nmaps && !mp; m++) {
        const struct uio_map *c = &uio->map[m];

        if (bus >= c->addr && bus - c->addr < c->size && size <= c->size - (bus - c->addr))
            mp = c;
    }
    if (!mp) {
        dmacoh__err("uio%u: bus %#llx+%#llx is not inside one of its maps", uio->n,
                    (unsigned long long)bus, (unsigned long long)size);
        return DMACOH_ENXIO;
    }
    m--;
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
    r = dmacoh__linux_map_fd(uio->fd, (uint64_t)m * page, len, delta, device_addr, congruence, out);
    if (r) {
        dmacoh__err("uio%u: mmap of map%u failed: %s", uio->n, m, dmacoh_strerror(r));
        return r;
    }
    out->shared = false;
    out->io_width = 0;
    return 0;
}

static const struct dmacoh_platform_ops uio_ops = {
    .name = "uio",
    .map = uio_map,
    DMACOH__LINUX_COMMON_OPS,
};

int dmacoh_uio_open(unsigned n, const struct dmacoh_uio_opts *opts, struct dmacoh_uio **out)
{
    const char *sysfs = (opts && opts->sysfs_root) ? opts->sysfs_root : "/sys";
    const char *dev = (opts && opts->dev_root) ? opts->dev_root : "/dev";
    char path[PATH_MAX];
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
    uio->fd = open(path, O_RDWR | O_CLOEXEC);
    if (uio->fd < 0) {
        r = (errno == EACCES || errno == EPERM) ? DMACOH_EACCES : -errno;
        dmacoh__err("uio open: %s: %s", path,
                    r == DMACOH_EACCES ? "permission denied (needs read/write access)"
                                       : strerror(errno));
        goto out_free;
    }
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
        *addr = uio->map[m].addr;
    if (size)
        *size = uio->map[m].size;
    return 0;
}
