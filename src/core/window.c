/* SPDX-License-Identifier: MIT */
/*
 * window.c - a window of CPU-addressable memory handed out by the core's own allocator.
 *
 * Platforms need memory with real DMA addresses for fallback (the simulator's RAM, a
 * firmware's DMA-able RAM section) and, without a heap, memory for metadata. Rather than each
 * writing an allocator, a window declares the memory as an exclusive region of a private
 * device on a private platform whose map is arithmetic: every allocation then has the same
 * alignment promise and the same checked free as declared memory.
 *
 * A window sits beside the public entry points, not above them: it calls the core's
 * mechanisms (dmacoh__declare, dmacoh__free, ...) directly, so the library's own windows
 * (hostmem's chunks of system memory, a firmware's metadata arena) are neither logged as the
 * program's declarations nor recorded by the debug mode, whose records are of what the
 * program allocated. Their frees are checked all the same.
 */
#include "internal.h"

static int win_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
                   uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    struct dmacoh_window *w = (struct dmacoh_window *)ctx;
    char *cpu = w->cpu + (bus - w->bus);

    (void)size;
    if (!(want & DMACOH_MEMORY_MAP))
        return DMACOH_ENOTSUP;
    if (((uint64_t)(uintptr_t)cpu - device_addr) & (congruence - 1))
        return DMACOH_ENOTSUP;
    out->cpu = cpu;
    out->mode = DMACOH_MEMORY_MAP;
    out->shared = false;
    out->io_width = 0;
    out->priv = NULL;
    return 0;
}

static void win_unmap(void *ctx, struct dmacoh_mapping *m, uint64_t size)
{
    (void)ctx;
    (void)m;
    (void)size;
}

static const struct dmacoh_platform_ops win_ops = {
    .name = "window",
    .map = win_map,
    .unmap = win_unmap,
};

int dmacoh_window_init(struct dmacoh_window *w, const char *name, void *cpu, dmacoh_phys_addr_t bus,
                       uint64_t size, uint64_t granule, void *meta, size_t meta_size)
{
    struct dmacoh_declare_opts o = {
        granule ? granule : DMACOH_PAGE_SIZE, meta, meta_size, 0, 0, DMACOH_PLACE_BEST_FIT};
    int r;

    if (!w || !cpu || size == 0 || !dmacoh__is_pow2(o.granule) || o.granule < DMACOH_GRANULE_MIN) {
        dmacoh__err("window init '%s': NULL window or memory, or bad size or granule", name);
        return DMACOH_EINVAL;
    }
    w->cpu = (char *)cpu;
    w->bus = bus;
    if (!meta) {
        /* The window's own state at its start; the rest is served from the first granule
         * boundary after it, so an 8-aligned arena works as well as a granule-aligned one. */
        uint64_t need = dmacoh_region_meta_size(size & ~(o.granule - 1), o.granule);
        uint64_t skip = ((bus + need + o.granule - 1) & ~(o.granule - 1)) - bus;

        if (need == 0 || skip >= size || ((uintptr_t)cpu & 7u)) {
            dmacoh__err("window init '%s': too small to hold its own state", name);
            return DMACOH_EINVAL;
        }
        o.meta = cpu;
        o.meta_size = (size_t)need;
        w->cpu += skip;
        w->bus += skip;
        size = (size - skip) & ~(o.granule - 1);
    }
    r = dmacoh_platform_init(&w->plat, &win_ops, w);
    if (r)
        return r;
    r = dmacoh_device_init(&w->dev, name, NULL, &w->plat);
    if (r)
        goto out_plat;
    r = dmacoh__declare(&w->dev, NULL, w->bus, w->bus, size,
                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, &o, NULL, false);
    if (r)
        goto out_dev;
    return 0;
out_dev:
    (void)dmacoh__device_fini(&w->dev);
out_plat:
    (void)dmacoh__platform_fini(&w->plat);
    return r;
}

int dmacoh_window_alloc(struct dmacoh_window *w, uint64_t size, uint64_t mask, void **cpu,
                        dmacoh_dma_addr_t *handle)
{
    int r;

    if (!w || !cpu || !handle)
        return DMACOH_EINVAL;
    if (size > SIZE_MAX)
        return DMACOH_ENOMEM; /* 32-bit hosts: more than a mapped window can hold */
    r = dmacoh__alloc_below(&w->dev, size, mask, cpu, handle);
    if (r == DMACOH_ENOMEM && mask < w->bus + (dmacoh_window_size(w) - 1))
        return DMACOH_ERANGE; /* part of the window lies above the mask */
    return r;
}

int dmacoh_window_free(struct dmacoh_window *w, void *cpu, uint64_t size, dmacoh_dma_addr_t handle)
{
    if (!w || size > SIZE_MAX)
        return DMACOH_EINVAL;
    return dmacoh__free(&w->dev, (size_t)size, cpu, handle);
}

dmacoh_dma_addr_t dmacoh_window_virt_to_dma(const struct dmacoh_window *w, const void *cpu)
{
    struct dmacoh_extent e;

    if (!w || dmacoh_region_find(&w->dev, cpu, &e) != 0 || e.kind != DMACOH_EXTENT_ALLOC)
        return DMACOH_BAD_DMA_ADDR;
    return dmacoh_virt_to_dma(&w->dev, cpu);
}

void *dmacoh_window_dma_to_virt(const struct dmacoh_window *w, dmacoh_dma_addr_t dma)
{
    void *cpu = w ? dmacoh_dma_to_virt(&w->dev, dma) : NULL;

    return cpu && dmacoh_window_virt_to_dma(w, cpu) != DMACOH_BAD_DMA_ADDR ? cpu : NULL;
}

uint64_t dmacoh_window_size(const struct dmacoh_window *w)
{
    struct dmacoh_region_stats st;

    return (w && dmacoh_region_get_stats(&w->dev, &st) == 0) ? st.size : 0;
}

uint64_t dmacoh_window_live(const struct dmacoh_window *w)
{
    struct dmacoh_region_stats st;

    return (w && dmacoh_region_get_stats(&w->dev, &st) == 0) ? st.live : 0;
}

int dmacoh_window_fini(struct dmacoh_window *w)
{
    int r;

    if (!w)
        return DMACOH_EINVAL;
    if (dmacoh_window_live(w))
        return DMACOH_EBUSY;
    r = dmacoh__release(&w->dev, NULL, 0);
    if (!r)
        r = dmacoh__device_fini(&w->dev);
    if (!r)
        r = dmacoh__platform_fini(&w->plat);
    return r;
}
