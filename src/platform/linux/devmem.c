/* SPDX-License-Identifier: MIT */
/*
 * devmem.c - the /dev/mem platform: a declared bus range is a physical address range, mapped
 * from the memory device at that offset.
 *
 * The device is opened once (O_SYNC for uncached mappings, which is how the kernel picks an
 * uncached mapping of /dev/mem on x86); each region is one congruent mapping of it. The
 * kernel's refusals are told apart for the log: EPERM from mmap is CONFIG_STRICT_DEVMEM
 * guarding RAM, or CONFIG_IO_STRICT_DEVMEM guarding a range a driver claimed. The range is
 * claimed process-wide before it is mapped (common.c), so a BAR or SRAM that another platform
 * instance of the process has declared (PCI sysfs, UIO, a second /dev/mem instance) is
 * refused with -DMACOH_EBUSY instead of getting a second allocator.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err: a backend's errors reach the same log */

#include <dmacoh/devmem.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct dmacoh_devmem {
    struct dmacoh_platform plat;
    int fd;
    char path[256]; /* for logs */
};

static int devmem_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size,
                      dmacoh_dma_addr_t device_addr, uint64_t congruence, int want,
                      struct dmacoh_mapping *out)
{
    struct dmacoh_devmem *dm = (struct dmacoh_devmem *)ctx;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), aligned = bus & ~(page - 1);
    uint64_t delta = bus - aligned, len = (delta + size + page - 1) & ~(page - 1);
    struct dmacoh__phys_claim claim = {bus, size, dm, "devmem", dm->path, want};
    int r = 0;

    if (aligned > (uint64_t)INT64_MAX) {
        dmacoh__err("devmem: physical address %#llx is beyond the file offsets Linux accepts",
                    (unsigned long long)bus);
        return DMACOH_ERANGE;
    }
    out->mode = dmacoh__linux_device_mode(want);
    if (!out->mode)
        return DMACOH_ENOTSUP;
    r = dmacoh__linux_phys_claim(&claim);
    if (r)
        return r;
    r = dmacoh__linux_map_claimed(dm->fd, aligned, len, delta, device_addr, congruence, bus, size,
                                  out);
    if (r) {
        if (r == DMACOH_EPERM)
            dmacoh__err("devmem: the kernel refuses %#llx+%#llx through %s (strict /dev/mem: it "
                        "is RAM, or a driver claimed it: iomem=relaxed lifts the latter)",
                        (unsigned long long)bus, (unsigned long long)size, dm->path);
        else
            dmacoh__err("devmem: mmap of %#llx+%#llx from %s failed: %s", (unsigned long long)bus,
                        (unsigned long long)size, dm->path, dmacoh_strerror(r));
        return r;
    }
    out->shared = false;
    out->io_width = 0;
    return 0;
}

static const struct dmacoh_platform_ops devmem_ops = {
    .name = "devmem",
    .map = devmem_map,
    DMACOH__LINUX_COMMON_OPS,
};

int dmacoh_devmem_open(const struct dmacoh_devmem_opts *opts, struct dmacoh_devmem **out)
{
    const char *path = (opts && opts->path) ? opts->path : "/dev/mem";
    struct dmacoh_devmem *dm;
    int r;

    if (!out) {
        dmacoh__err("devmem open: out is NULL");
        return DMACOH_EINVAL;
    }
    dm = calloc(1, sizeof(*dm));
    if (!dm)
        return DMACOH_ENOMEM;
    snprintf(dm->path, sizeof(dm->path), "%s", path);
    dm->fd = open(path, O_RDWR | O_CLOEXEC | ((opts && opts->cached) ? 0 : O_SYNC));
    if (dm->fd < 0) {
        r = (errno == EACCES || errno == EPERM) ? DMACOH_EACCES : -errno;
        dmacoh__err("devmem open: %s: %s", path,
                    r == DMACOH_EACCES ? "permission denied (needs root or CAP_SYS_RAWIO)"
                                       : strerror(errno));
        free(dm);
        return r;
    }
    r = dmacoh_platform_init(&dm->plat, &devmem_ops, dm);
    if (r) {
        close(dm->fd);
        free(dm);
        return r;
    }
    *out = dm;
    return 0;
}

int dmacoh_devmem_close(struct dmacoh_devmem *dm)
{
    int r;

    if (!dm)
        return 0;
    r = dmacoh_platform_fini(&dm->plat);
    if (r)
        return r;
    close(dm->fd);
    free(dm);
    return 0;
}

struct dmacoh_platform *dmacoh_devmem_platform(struct dmacoh_devmem *dm)
{
    return dm ? &dm->plat : NULL;
}
