/* SPDX-License-Identifier: MIT */
/*
 * memfd.c - the memfd platform: a window of device memory backed by a memfd that another
 * process can map too.
 *
 * The window is one file; every region is one congruent mapping of it at the region's offset
 * in the window (MAP_SHARED, so the other process sees each store). attach() is create()
 * without creating: it checks the received descriptor is a file large enough and takes its
 * own duplicate.
 *
 * The other process is not trusted with the window's size. A file that shrinks under a
 * MAP_SHARED mapping turns every access beyond its new end into SIGBUS, and the driver's next
 * allocation zeroes its block: a peer's ftruncate would crash the driver. So create() seals
 * the memfd (F_SEAL_SHRINK | F_SEAL_GROW: its size is fixed; F_SEAL_SEAL: no one adds seals
 * later, such as a write seal that would make the driver's next mapping fail), and attach()
 * refuses a descriptor that is not sealed against shrinking.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err: a backend's errors reach the same log */

#include <dmacoh/memfd.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WINDOW_ALIGN 4096u

struct dmacoh_memfd {
    struct dmacoh_platform plat;
    int fd;
    dmacoh_phys_addr_t bus;
    uint64_t size;
};

static int memfd_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size,
                     dmacoh_dma_addr_t device_addr, uint64_t congruence, int want,
                     struct dmacoh_mapping *out)
{
    struct dmacoh_memfd *m = (struct dmacoh_memfd *)ctx;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), off, aligned, delta, len;
    int r = 0;

    if (bus < m->bus || bus - m->bus >= m->size || size > m->size - (bus - m->bus)) {
        dmacoh__err("memfd: bus %#llx+%#llx is outside the window %#llx+%#llx",
                    (unsigned long long)bus, (unsigned long long)size, (unsigned long long)m->bus,
                    (unsigned long long)m->size);
        return DMACOH_ENXIO;
    }
    off = bus - m->bus;
    aligned = off & ~(page - 1);
    delta = off - aligned;
    len = (delta + size + page - 1) & ~(page - 1);
    r = dmacoh__linux_map_fd(m->fd, aligned, len, delta, device_addr, congruence, out);
    if (r)
        return r;
    /* DMACOH_MAP_MULTIPROCESS changes nothing here: a memfd is no physical range to claim,
     * and every process that maps it sees the same pages. */
    out->mode = (want & DMACOH_MEMORY_MAP) ? DMACOH_MEMORY_MAP : DMACOH_MEMORY_IO;
    out->shared = false;
    out->io_width = 0;
    out->ram = true; /* a memfd view: sanitizers may track blocks in it */
    return 0;
}

/* Exporting a block: the window's memfd at the block's offset in the window. */
static int memfd_file_of(void *ctx, const struct dmacoh_mapping *map, dmacoh_phys_addr_t bus,
                         uint64_t size, struct dmacoh_file_range *out)
{
    struct dmacoh_memfd *m = (struct dmacoh_memfd *)ctx;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), off;

    (void)map;
    if (bus < m->bus || bus - m->bus >= m->size || size > m->size - (bus - m->bus)) {
        dmacoh__err("memfd export: bus %#llx+%#llx is outside the window", (unsigned long long)bus,
                    (unsigned long long)size);
        return DMACOH_ENXIO;
    }
    off = bus - m->bus;
    /* A copy of its own for the caller: the platform's descriptor could be closed by a
     * release on another thread, and its number reused, before the caller is done. */
    out->fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 0);
    if (out->fd < 0)
        return -errno;
    out->close_fd = true;
    out->offset = off & ~(page - 1);
    out->delta = off - out->offset;
    out->align = page;
    return 0;
}

static const struct dmacoh_platform_ops memfd_ops = {
    .name = "memfd",
    .map = memfd_map,
    .file_of = memfd_file_of,
    DMACOH__LINUX_COMMON_OPS,
};

static int window_ok(dmacoh_phys_addr_t bus, uint64_t size, struct dmacoh_memfd **out)
{
    if (!out) {
        dmacoh__err("memfd: out is NULL");
        return DMACOH_EINVAL;
    }
    if (size == 0 || ((bus | size) & (WINDOW_ALIGN - 1)) || size > (uint64_t)INT64_MAX) {
        dmacoh__err("memfd: window %#llx+%#llx must be non-empty and 4 KiB aligned",
                    (unsigned long long)bus, (unsigned long long)size);
        return DMACOH_EINVAL;
    }
    if (bus + (size - 1) < bus)
        return DMACOH_ERANGE;
    return 0;
}

/* Wraps an owned descriptor into a platform; closes it on failure. */
static int wrap(int fd, dmacoh_phys_addr_t bus, uint64_t size, struct dmacoh_memfd **out)
{
    struct dmacoh_memfd *m = calloc(1, sizeof(*m));
    int r;

    if (!m) {
        close(fd);
        return DMACOH_ENOMEM;
    }
    m->fd = fd;
    m->bus = bus;
    m->size = size;
    r = dmacoh_platform_init(&m->plat, &memfd_ops, m);
    if (r) {
        close(fd);
        free(m);
        return r;
    }
    *out = m;
    return 0;
}

int dmacoh_memfd_create(dmacoh_phys_addr_t bus, uint64_t size, struct dmacoh_memfd **out)
{
    int r = window_ok(bus, size, out), fd;

    if (r)
        return r;
    dmacoh__linux_track_init();
    fd = memfd_create("dmacoh-device-memory", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        r = -errno;
        dmacoh__err("memfd: memfd_create failed: %s", dmacoh_strerror(r));
        return r;
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        r = -errno;
        dmacoh__err("memfd: cannot size the window to %#llx bytes: %s", (unsigned long long)size,
                    dmacoh_strerror(r));
        close(fd);
        return r;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        r = -errno;
        dmacoh__err("memfd: cannot seal the window against resizing: %s", dmacoh_strerror(r));
        close(fd);
        return r;
    }
    return wrap(fd, bus, size, out);
}

/* The window's size must not shrink under the mappings: 0, or -DMACOH_EINVAL (logged). */
static int check_sealed(int fd)
{
    int seals = fcntl(fd, F_GET_SEALS);

    if (seals >= 0 && (seals & F_SEAL_SHRINK))
        return 0;
    dmacoh__err("memfd attach: descriptor %d is not sealed against shrinking (F_SEAL_SHRINK%s): "
                "the other process could truncate it and crash this one with SIGBUS; make the "
                "window with dmacoh_memfd_create, or seal it (fcntl F_ADD_SEALS)",
                fd, seals < 0 ? ": not a memfd" : " missing");
    return DMACOH_EINVAL;
}

int dmacoh_memfd_attach(int fd, dmacoh_phys_addr_t bus, uint64_t size, struct dmacoh_memfd **out)
{
    struct stat st;
    int r = window_ok(bus, size, out), own;

    if (r)
        return r;
    dmacoh__linux_track_init();
    /* The seal first: once it is there, the size checked below cannot shrink any more. */
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (r = check_sealed(fd)) != 0)
        return r;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < size) {
        dmacoh__err("memfd attach: descriptor %d is not a file of at least %#llx bytes", fd,
                    (unsigned long long)size);
        return DMACOH_EINVAL;
    }
    own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0)
        return -errno;
    return wrap(own, bus, size, out);
}

int dmacoh_memfd_fd(const struct dmacoh_memfd *m)
{
    return m ? m->fd : -1;
}

int dmacoh_memfd_close(struct dmacoh_memfd *m)
{
    int r;

    if (!m)
        return 0;
    r = dmacoh_platform_fini(&m->plat);
    if (r)
        return r;
    close(m->fd);
    free(m);
    return 0;
}

struct dmacoh_platform *dmacoh_memfd_platform(struct dmacoh_memfd *m)
{
    return m ? &m->plat : NULL;
}
