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

int dmacoh_alloc_coherent(struct dmacoh_device *dev, size_t size, unsigned flags,
                          uint64_t timeout_ns, void **cpu, dmacoh_dma_addr_t *handle)
{
    if (dmacoh__dbg_on())
        return dmacoh__dbg_alloc(dev, size, flags, timeout_ns, cpu, handle, DMACOH__SITE());
    return dmacoh__alloc(dev, size, flags, timeout_ns, cpu, handle);
}

int dmacoh_free_coherent(struct dmacoh_device *dev, size_t size, void *cpu,
                         dmacoh_dma_addr_t handle)
{
    if (dmacoh__dbg_on())
        return dmacoh__dbg_free(dev, size, cpu, handle, DMACOH__SITE());
    return dmacoh__free(dev, size, cpu, handle);
}

int dmacoh_declare_coherent_memory(struct dmacoh_device *dev, dmacoh_phys_addr_t bus_addr,
                                   dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                                   const struct dmacoh_declare_opts *opts, int *granted)
{
    if (dmacoh__dbg_on())
        return dmacoh__dbg_declare(dev, bus_addr, device_addr, size, flags, opts, granted,
                                   DMACOH__SITE());
    return dmacoh__declare(dev, bus_addr, device_addr, size, flags, opts, granted, false);
}

int dmacoh_release_coherent_memory(struct dmacoh_device *dev, unsigned flags)
{
    if (dmacoh__dbg_on())
        return dmacoh__dbg_release(dev, flags, DMACOH__SITE());
    return dmacoh__release(dev, flags);
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
