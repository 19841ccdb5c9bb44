/* SPDX-License-Identifier: MIT */
/*
 * api.c - the public entry points that the debug mode watches: alloc, free, declare, release,
 * device fini and platform fini.
 *
 * Each is a dispatch and nothing else. With the debug flag word zero (one relaxed load) it
 * calls the core's mechanism directly (alloc.c, region.c, device.c); otherwise the debug
 * layer (debug.c), which checks and records around the same mechanisms. So the files form
 * layers: this one above debug.c, debug.c above the core, and no core file calls upward.
 * DMACOH__SITE() is taken here, in the function the caller called, so that reports name the
 * caller's own code.
 */
#include "internal.h"

/* The line a declaration leaves at DMACOH_LOG_INFO. Here, not in region.c, so that regions
 * the library declares for itself (windows, e.g. hostmem's chunks of system memory) are not
 * reported as the program's declarations. The region declared is the last of dev's list. */
static void declared(const struct dmacoh_device *dev, dmacoh_phys_addr_t bus,
                     dmacoh_dma_addr_t daddr, uint64_t size, int flags)
{
    int f;
    unsigned i = dev->nregions - 1;
    const struct dmacoh__pool *pool = dmacoh__dev_region(dev, i, &f);

    if (!pool) /* never: the declare just appended it (said for the static analyzer) */
        return;
    dmacoh__info(
        "declared on '%s'%s%s%s: bus %#llx device %#llx size %#llx granule %#llx "
        "%s%s%s%s",
        dev->name, dmacoh__region_name(dev, i)[0] ? " region '" : "", dmacoh__region_name(dev, i),
        dmacoh__region_name(dev, i)[0] ? "'" : "", (unsigned long long)bus,
        (unsigned long long)daddr, (unsigned long long)size, (unsigned long long)1 << pool->gshift,
        pool->mode == DMACOH_MEMORY_MAP ? "MAP" : "IO",
        (flags & DMACOH_MEMORY_INCLUDES_CHILDREN) ? " INCLUDES_CHILDREN" : "",
        (flags & DMACOH_MEMORY_EXCLUSIVE) ? " EXCLUSIVE" : "", pool->refs > 1 ? " (shared)" : "");
}

int dmacoh_alloc_coherent(struct dmacoh_device *dev, size_t size, unsigned flags,
                          uint64_t timeout_ns, void **cpu, dmacoh_dma_addr_t *handle)
{
    if (dmacoh__dbg_on())
        return dmacoh__dbg_alloc(dev, NULL, size, flags, timeout_ns, cpu, handle, DMACOH__SITE());
    return dmacoh__alloc(dev, size, flags, timeout_ns, cpu, handle);
}

int dmacoh_alloc_coherent_from(struct dmacoh_device *dev, const char *region, size_t size,
                               unsigned flags, uint64_t timeout_ns, void **cpu,
                               dmacoh_dma_addr_t *handle)
{
    if (dmacoh__dbg_on() && region)
        return dmacoh__dbg_alloc(dev, region, size, flags, timeout_ns, cpu, handle, DMACOH__SITE());
    return dmacoh__alloc_from(dev, region, size, flags, timeout_ns, cpu, handle);
}

int dmacoh_free_coherent(struct dmacoh_device *dev, size_t size, void *cpu,
                         dmacoh_dma_addr_t handle)
{
    if (dmacoh__dbg_on())
        return dmacoh__dbg_free(dev, size, cpu, handle, DMACOH__SITE());
    return dmacoh__free(dev, size, cpu, handle);
}

/* Declares through the debug layer when it is on; name as dmacoh__declare's. */
static int declare(struct dmacoh_device *dev, const char *name, dmacoh_phys_addr_t bus_addr,
                   dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                   const struct dmacoh_declare_opts *opts, int *granted, const void *site)
{
    int r;

    if (dmacoh__dbg_on())
        r = dmacoh__dbg_declare(dev, name, bus_addr, device_addr, size, flags, opts, granted, site);
    else
        r = dmacoh__declare(dev, name, bus_addr, device_addr, size, flags, opts, granted, false);
    if (r == 0)
        declared(dev, bus_addr, device_addr, size, flags);
    return r;
}

int dmacoh_declare_coherent_memory(struct dmacoh_device *dev, dmacoh_phys_addr_t bus_addr,
                                   dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                                   const struct dmacoh_declare_opts *opts, int *granted)
{
    return declare(dev, NULL, bus_addr, device_addr, size, flags, opts, granted, DMACOH__SITE());
}

int dmacoh_declare_region(struct dmacoh_device *dev, const char *name, dmacoh_phys_addr_t bus_addr,
                          dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                          const struct dmacoh_declare_opts *opts, int *granted)
{
    if (!name) {
        dmacoh__err("declare region on '%s': the name is NULL", dmacoh_device_name(dev));
        return DMACOH_EINVAL;
    }
    return declare(dev, name, bus_addr, device_addr, size, flags, opts, granted, DMACOH__SITE());
}

int dmacoh_declare_shared_memory(struct dmacoh_device *dev, dmacoh_phys_addr_t bus_addr,
                                 dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                                 const struct dmacoh_declare_opts *opts,
                                 const struct dmacoh_share_opts *share, int *granted)
{
    /* Not recorded by the debug mode: its allocations are, as any region's. */
    int r = dmacoh__declare_shared(dev, bus_addr, device_addr, size, flags, opts, share, granted);

    if (r == 0)
        declared(dev, bus_addr, device_addr, size, flags);
    return r;
}

/* Releases through the debug layer when it is on; name as dmacoh__release's. */
static int release(struct dmacoh_device *dev, const char *name, unsigned flags, const void *site)
{
    int r;

    if (dmacoh__dbg_on())
        r = dmacoh__dbg_release(dev, name, flags, site);
    else
        r = dmacoh__release(dev, name, flags);
    if (r == 0) {
        /* After the list changed: a dma_pool that sees the new epoch sees the release too.
         * Only the program's releases move it: the library's own windows (hostmem's chunks)
         * hold no dma_pool chunks, and would make every pool recheck on nearly every call. */
        __atomic_add_fetch(&dmacoh__release_epoch, 1u, __ATOMIC_RELEASE);
        dmacoh__info("released %s%s%s of '%s'", name ? "region '" : "regions", name ? name : "",
                     name ? "'" : "", dev->name);
    }
    return r;
}

int dmacoh_release_coherent_memory(struct dmacoh_device *dev, unsigned flags)
{
    return release(dev, NULL, flags, DMACOH__SITE());
}

int dmacoh_release_region(struct dmacoh_device *dev, const char *name, unsigned flags)
{
    if (!name) {
        dmacoh__err("release region on '%s': the name is NULL", dmacoh_device_name(dev));
        return DMACOH_EINVAL;
    }
    return release(dev, name, flags, DMACOH__SITE());
}

int dmacoh_declare_default_memory(struct dmacoh_platform *p, dmacoh_phys_addr_t bus_addr,
                                  dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                                  const struct dmacoh_declare_opts *opts, int *granted)
{
    int r;

    if (!dmacoh__platform_ok(p)) {
        dmacoh__err("declare default pool: not an initialised platform");
        return DMACOH_EINVAL;
    }
    if (dmacoh__device_ok(&p->defdev)) {
        dmacoh__err("declare default pool on '%s': one is declared already", p->ops->name);
        return DMACOH_EBUSY;
    }
    r = dmacoh_device_init(&p->defdev, "default pool", NULL, p);
    if (r == 0)
        r = declare(&p->defdev, NULL, bus_addr, device_addr, size, flags, opts, granted,
                    DMACOH__SITE());
    if (r && dmacoh__device_ok(&p->defdev)) {
        (void)dmacoh__device_fini(&p->defdev);
        p->defdev.magic = 0;
    }
    return r;
}

int dmacoh_release_default_memory(struct dmacoh_platform *p, unsigned flags)
{
    int r;

    if (!dmacoh__platform_ok(p)) {
        dmacoh__err("release default pool: not an initialised platform");
        return DMACOH_EINVAL;
    }
    if (!dmacoh__device_ok(&p->defdev)) {
        dmacoh__info("release default pool on '%s': none declared", p->ops->name);
        return DMACOH_ENODEV;
    }
    r = release(&p->defdev, NULL, flags, DMACOH__SITE());
    if (r == 0) {
        (void)dmacoh__device_fini(&p->defdev);
        p->defdev.magic = 0; /* never a retired device: it is declared again by this call */
    }
    return r;
}

int dmacoh_device_fini(struct dmacoh_device *dev)
{
    if (dmacoh__dbg_on())
        return dmacoh__dbg_device_fini(dev, DMACOH__SITE());
    return dmacoh__device_fini(dev);
}

int dmacoh_platform_fini(struct dmacoh_platform *p)
{
    int r = dmacoh__platform_fini(p);

    /* Debug records outlive a change of the flag word, so they are freed whenever they exist,
     * and only once the platform has agreed to go. */
    if (r == 0 && p->dbg)
        dmacoh__dbg_platform_fini(p);
    return r;
}
