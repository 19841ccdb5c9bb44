/* SPDX-License-Identifier: MIT */
/*
 * export.c - the file behind a block (dmacoh/export.h).
 *
 * The block is checked exactly as a free checks it (the start of a live allocation, the same
 * number of granules, the handle of that start), under the region lock with the per-thread
 * caches held, so a block freed into a cache is seen as what it is: not live. The platform's
 * file_of op then says where the bytes lie in a file; what it answers is checked against the
 * contract (align a power of two, offset a multiple of it) before the caller sees it, since a
 * peer process will map exactly that.
 */
#include "internal.h"
#include "lock.h"

/* Whether the platform's answer keeps the contract of struct dmacoh_file_range. */
static bool range_ok(const struct dmacoh_file_range *r)
{
    return r->fd >= 0 && dmacoh__is_pow2(r->align) && r->align >= DMACOH_PAGE_SIZE &&
           (r->offset & (r->align - 1)) == 0;
}

/* Checks (off, n granules, handle) is a live allocation of pool and asks the platform; the
 * region lock and the caches are held by the caller. */
static int locate(const struct dmacoh_device *dev, struct dmacoh__pool *pool, uint64_t off,
                  size_t size, dmacoh_dma_addr_t handle, struct dmacoh_file_range *out)
{
    const struct dmacoh_platform *p = pool->plat;
    uint64_t gmask = ((uint64_t)1 << pool->gshift) - 1, start, n;
    int kind, r;

    dmacoh__pa_find(pool->pa, off >> pool->gshift, &start, &n, &kind);
    if (kind != 1 || start != off >> pool->gshift) {
        dmacoh__err("export on '%s': %p is not the start of a live allocation%s", dev->name,
                    (void *)(pool->cpu + off), kind == 2 ? " (an occupied range)" : "");
        return DMACOH_EFAULT;
    }
    if (n != ((uint64_t)size + gmask) >> pool->gshift || handle != pool->dev_base + off) {
        dmacoh__err("export on '%s': size %zu or handle %#llx does not match the allocation at "
                    "%p (%llu bytes, handle %#llx)",
                    dev->name, size, (unsigned long long)handle, (void *)(pool->cpu + off),
                    (unsigned long long)(n << pool->gshift),
                    (unsigned long long)(pool->dev_base + off));
        return DMACOH_EINVAL;
    }
    if (!p->ops->file_of) {
        dmacoh__err("export on '%s': the %s platform has no file behind its memory to hand out",
                    dev->name, p->ops->name);
        return DMACOH_ENOTSUP;
    }
    r = p->ops->file_of(p->ctx, &pool->map, pool->bus + off, size, out);
    if (r == 0 && !range_ok(out)) {
        dmacoh__err("export on '%s': the %s platform named fd %d offset %#llx align %#llx, "
                    "which breaks its contract",
                    dev->name, p->ops->name, out->fd, (unsigned long long)out->offset,
                    (unsigned long long)out->align);
        return DMACOH_EIO;
    }
    if (r)
        dmacoh__err("export on '%s': the %s platform cannot name the file of %p: %s", dev->name,
                    p->ops->name, (void *)(pool->cpu + off), dmacoh_strerror(r));
    return r;
}

int dmacoh_block_file(struct dmacoh_device *dev, void *cpu, size_t size, dmacoh_dma_addr_t handle,
                      struct dmacoh_file_range *out)
{
    const struct dmacoh_device *owner;
    struct dmacoh_file_range fr = {-1, false, 0, 0, 0, 0};
    struct dmacoh__pool *pool;
    uint64_t off;
    int r;

    if (!dmacoh__device_ok(dev) || !cpu || !out || size == 0 ||
        size > SIZE_MAX - DMACOH_GRANULE_MAX) {
        dmacoh__err("export on '%s': %s", dmacoh_device_name(dev),
                    !dmacoh__device_ok(dev) ? "not an initialised device"
                    : !cpu                  ? "the CPU address is NULL"
                    : !out                  ? "out is NULL"
                    : size == 0             ? "size 0"
                                            : "the size is beyond any allocation");
        return DMACOH_EINVAL;
    }
    pool = dmacoh__pool_for(dev, &owner);
    if (!pool) {
        dmacoh__err("export on '%s': no declared region serves the device", dev->name);
        return DMACOH_ENODEV;
    }
    if (!dmacoh__pool_holds(pool, cpu))
        pool = dmacoh__pool_holding(dev, cpu, &owner);
    if (!pool) {
        dmacoh__err("export on '%s': %p is not in the region of '%s' (system memory cannot be "
                    "exported)",
                    dev->name, cpu, owner->name);
        return DMACOH_EFAULT;
    }
    off = (uint64_t)((char *)cpu - pool->cpu);
    if (off & (((uint64_t)1 << pool->gshift) - 1)) {
        dmacoh__err("export on '%s': %p is not the start of an allocation", dev->name, cpu);
        return DMACOH_EFAULT;
    }
    (void)dmacoh__pool_lock(pool);
    dmacoh__tc_hold(pool);
    r = locate(dev, pool, off, size, handle, &fr);
    if (r == 0)
        fr.mode = pool->mode;
    dmacoh__tc_unhold(pool);
    dmacoh__pool_unlock(pool);
    if (r)
        return r;
    *out = fr;
    dmacoh__dbg("export on '%s': %zu bytes at %p are fd %d offset %#llx + %#llx", dev->name, size,
                cpu, fr.fd, (unsigned long long)fr.offset, (unsigned long long)fr.delta);
    return 0;
}
