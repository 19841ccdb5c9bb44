/* SPDX-License-Identifier: MIT */
/*
 * baremetal.c - the bare-metal platform: memory already addressable at bus + cpu_offset.
 *
 * Freestanding like the core (it includes nothing but dmacoh headers). Mapping is arithmetic;
 * the congruence the core asks for holds when cpu_offset is a multiple of it, which it is for
 * an identity mapping. Fallback RAM and the metadata arena are dmacoh_windows: the library's
 * own allocator hands them out, so they are aligned and checked like declared memory.
 */
#include <dmacoh/baremetal.h>

static int bm_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
                  uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    struct dmacoh_baremetal *bm = (struct dmacoh_baremetal *)ctx;
    uint64_t cpu = bus + bm->cfg.cpu_offset;
    int both = bm->cfg.modes & want;

    (void)size;
    if (!both)
        return DMACOH_ENOTSUP;
    if ((cpu - device_addr) & (congruence - 1))
        return DMACOH_ENOTSUP;
    if (cpu > UINTPTR_MAX)
        return DMACOH_ERANGE;
    out->cpu = (void *)(uintptr_t)cpu;
    out->mode = (both & DMACOH_MEMORY_MAP) ? DMACOH_MEMORY_MAP : DMACOH_MEMORY_IO;
    out->shared = false;
    out->io_width = bm->cfg.io_width;
    out->priv = NULL;
    return 0;
}

static void bm_unmap(void *ctx, struct dmacoh_mapping *m, uint64_t size)
{
    (void)ctx;
    (void)m;
    (void)size;
}

static int bm_sys_alloc(void *ctx, const struct dmacoh_device *dev, uint64_t size, uint64_t align,
                        void **cpu, dmacoh_dma_addr_t *handle)
{
    struct dmacoh_baremetal *bm = (struct dmacoh_baremetal *)ctx;

    (void)align; /* the window aligns to pow2(size) already */
    if (!bm->cfg.ram_size)
        return DMACOH_ENOMEM;
    return dmacoh_window_alloc(&bm->ram, size, dmacoh_device_dma_mask(dev), cpu, handle);
}

static int bm_sys_free(void *ctx, const struct dmacoh_device *dev, void *cpu, uint64_t size,
                       dmacoh_dma_addr_t handle)
{
    struct dmacoh_baremetal *bm = (struct dmacoh_baremetal *)ctx;

    (void)dev;
    return bm->cfg.ram_size ? dmacoh_window_free(&bm->ram, cpu, size, handle) : DMACOH_EFAULT;
}

static dmacoh_dma_addr_t bm_virt_to_dma(void *ctx, const struct dmacoh_device *dev, const void *cpu)
{
    struct dmacoh_baremetal *bm = (struct dmacoh_baremetal *)ctx;

    (void)dev;
    return bm->cfg.ram_size ? dmacoh_window_virt_to_dma(&bm->ram, cpu) : DMACOH_BAD_DMA_ADDR;
}

static void *bm_dma_to_virt(void *ctx, const struct dmacoh_device *dev, dmacoh_dma_addr_t dma)
{
    struct dmacoh_baremetal *bm = (struct dmacoh_baremetal *)ctx;

    (void)dev;
    return bm->cfg.ram_size ? dmacoh_window_dma_to_virt(&bm->ram, dma) : NULL;
}

static void *bm_meta_alloc(void *ctx, size_t size)
{
    struct dmacoh_baremetal *bm = (struct dmacoh_baremetal *)ctx;
    void *p;
    dmacoh_dma_addr_t h;

    if (!bm->cfg.meta_arena || dmacoh_window_alloc(&bm->meta, size, ~(uint64_t)0, &p, &h) != 0)
        return NULL;
    __builtin_memset(p, 0, size); /* the same promise as the hosted platforms' calloc */
    return p;
}

static void bm_meta_free(void *ctx, void *p, size_t size)
{
    struct dmacoh_baremetal *bm = (struct dmacoh_baremetal *)ctx;

    (void)dmacoh_window_free(&bm->meta, p, size, dmacoh_window_virt_to_dma(&bm->meta, p));
}

static const struct dmacoh_platform_ops bm_ops = {
    .name = "baremetal",
    .map = bm_map,
    .unmap = bm_unmap,
    .sys_alloc = bm_sys_alloc,
    .sys_free = bm_sys_free,
    .sys_virt_to_dma = bm_virt_to_dma,
    .sys_dma_to_virt = bm_dma_to_virt,
    .meta_alloc = bm_meta_alloc,
    .meta_free = bm_meta_free,
};

static bool config_ok(const struct dmacoh_baremetal_config *cfg)
{
    return cfg && (cfg->modes & (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)) &&
           !(cfg->modes & ~(DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)) &&
           !(cfg->io_width & (cfg->io_width - 1)) && cfg->io_width <= 8 &&
           (!cfg->ram_size || cfg->ram_meta);
}

int dmacoh_baremetal_init(struct dmacoh_baremetal *bm, const struct dmacoh_baremetal_config *cfg)
{
    int r;

    if (!bm || !config_ok(cfg))
        return DMACOH_EINVAL;
    bm->cfg = *cfg;
    bm->ram.dev.magic = 0;
    bm->meta.dev.magic = 0;
    if (cfg->ram_size) {
        r = dmacoh_window_init(&bm->ram, "baremetal RAM",
                               (void *)(uintptr_t)(cfg->ram_bus + cfg->cpu_offset), cfg->ram_bus,
                               cfg->ram_size, 0, cfg->ram_meta, cfg->ram_meta_size);
        if (r)
            return r;
    }
    if (cfg->meta_arena) {
        r = dmacoh_window_init(&bm->meta, "baremetal metadata", cfg->meta_arena,
                               (uintptr_t)cfg->meta_arena, cfg->meta_arena_size, DMACOH_GRANULE_MIN,
                               NULL, 0);
        if (r)
            goto out_ram;
    }
    r = dmacoh_platform_init(&bm->plat, &bm_ops, bm);
    if (r)
        goto out_meta;
    return 0;
out_meta:
    if (cfg->meta_arena)
        (void)dmacoh_window_fini(&bm->meta);
out_ram:
    if (cfg->ram_size)
        (void)dmacoh_window_fini(&bm->ram);
    return r;
}

int dmacoh_baremetal_fini(struct dmacoh_baremetal *bm)
{
    int r;

    if (!bm)
        return DMACOH_EINVAL;
    if (bm->cfg.ram_size && dmacoh_window_live(&bm->ram))
        return DMACOH_EBUSY;             /* fallback memory is still handed out */
    r = dmacoh_platform_fini(&bm->plat); /* frees the debug mode's records, if any */
    if (r)
        return r;
    if (bm->cfg.meta_arena && dmacoh_window_live(&bm->meta)) {
        /* Metadata is still handed out (a dma_pool not destroyed): stay usable. */
        (void)dmacoh_platform_init(&bm->plat, &bm_ops, bm);
        return DMACOH_EBUSY;
    }
    if (bm->cfg.meta_arena)
        (void)dmacoh_window_fini(&bm->meta);
    if (bm->cfg.ram_size)
        (void)dmacoh_window_fini(&bm->ram);
    return 0;
}
