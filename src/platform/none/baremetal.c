/* SPDX-License-Identifier: MIT */
/*
 * baremetal.c - the bare-metal platform: memory already addressable at bus + cpu_offset.
 *
 * Freestanding like the core (it includes nothing but dmacoh headers). Mapping is arithmetic;
 * the congruence the core asks for holds when cpu_offset is a multiple of it, which it is for
 * an identity mapping. Fallback RAM is handed out by a region of the library itself on a
 * private platform, as the simulator does, so it is checked and aligned the same way.
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
    int r;

    (void)align; /* the RAM region aligns to pow2(size) already */
    if (!bm->cfg.ram_size || size > SIZE_MAX)
        return DMACOH_ENOMEM;
    r = dmacoh_alloc_coherent(&bm->ram_dev, (size_t)size, DMACOH_ALLOC_NOZERO, 0, cpu, handle);
    if (r == 0 && *handle + (size - 1) > dmacoh_device_dma_mask(dev)) {
        (void)dmacoh_free_coherent(&bm->ram_dev, (size_t)size, *cpu, *handle);
        return DMACOH_ERANGE;
    }
    return r;
}

static int bm_sys_free(void *ctx, const struct dmacoh_device *dev, void *cpu, uint64_t size,
                       dmacoh_dma_addr_t handle)
{
    struct dmacoh_baremetal *bm = (struct dmacoh_baremetal *)ctx;

    (void)dev;
    if (!bm->cfg.ram_size || size > SIZE_MAX)
        return DMACOH_EFAULT;
    return dmacoh_free_coherent(&bm->ram_dev, (size_t)size, cpu, handle);
}

static dmacoh_dma_addr_t bm_virt_to_dma(void *ctx, const struct dmacoh_device *dev, const void *cpu)
{
    struct dmacoh_baremetal *bm = (struct dmacoh_baremetal *)ctx;

    struct dmacoh_extent e;

    (void)dev;
    if (!bm->cfg.ram_size || dmacoh_region_find(&bm->ram_dev, cpu, &e) != 0 ||
        e.kind != DMACOH_EXTENT_ALLOC)
        return DMACOH_BAD_DMA_ADDR;
    return dmacoh_virt_to_dma(&bm->ram_dev, cpu);
}

static void *bm_dma_to_virt(void *ctx, const struct dmacoh_device *dev, dmacoh_dma_addr_t dma)
{
    struct dmacoh_baremetal *bm = (struct dmacoh_baremetal *)ctx;

    void *cpu = bm->cfg.ram_size ? dmacoh_dma_to_virt(&bm->ram_dev, dma) : NULL;

    return cpu && bm_virt_to_dma(ctx, dev, cpu) != DMACOH_BAD_DMA_ADDR ? cpu : NULL;
}

static const struct dmacoh_platform_ops bm_ops = {
    .name = "baremetal",
    .map = bm_map,
    .unmap = bm_unmap,
    .sys_alloc = bm_sys_alloc,
    .sys_free = bm_sys_free,
    .sys_virt_to_dma = bm_virt_to_dma,
    .sys_dma_to_virt = bm_dma_to_virt,
};

static const struct dmacoh_platform_ops bm_ram_ops = {
    .name = "baremetal-ram",
    .map = bm_map,
    .unmap = bm_unmap,
};

/* Declares the RAM window on the private platform; unwinds in reverse order on failure. */
static int setup_ram(struct dmacoh_baremetal *bm)
{
    const struct dmacoh_baremetal_config *c = &bm->cfg;
    struct dmacoh_declare_opts o = {0, c->ram_meta, c->ram_meta_size, 0};
    int r = dmacoh_platform_init(&bm->ram_plat, &bm_ram_ops, bm);

    if (r)
        return r;
    r = dmacoh_device_init(&bm->ram_dev, "baremetal-ram", NULL, &bm->ram_plat);
    if (r)
        goto out_plat;
    r = dmacoh_declare_coherent_memory(&bm->ram_dev, c->ram_bus, c->ram_bus, c->ram_size,
                                       DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, &o, NULL);
    if (r)
        goto out_dev;
    return 0;
out_dev:
    (void)dmacoh_device_fini(&bm->ram_dev);
out_plat:
    (void)dmacoh_platform_fini(&bm->ram_plat);
    return r;
}

int dmacoh_baremetal_init(struct dmacoh_baremetal *bm, const struct dmacoh_baremetal_config *cfg)
{
    int r;

    if (!bm || !cfg || !(cfg->modes & (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)) ||
        (cfg->modes & ~(DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)) ||
        (cfg->io_width & (cfg->io_width - 1)) || cfg->io_width > 8 ||
        (cfg->ram_size && !cfg->ram_meta))
        return DMACOH_EINVAL;
    bm->cfg = *cfg;
    if (cfg->ram_size) {
        r = setup_ram(bm);
        if (r)
            return r;
    }
    r = dmacoh_platform_init(&bm->plat, &bm_ops, bm);
    if (r && cfg->ram_size) {
        (void)dmacoh_release_coherent_memory(&bm->ram_dev, DMACOH_RELEASE_FORCE);
        (void)dmacoh_device_fini(&bm->ram_dev);
        (void)dmacoh_platform_fini(&bm->ram_plat);
    }
    return r;
}

int dmacoh_baremetal_fini(struct dmacoh_baremetal *bm)
{
    int r;

    struct dmacoh_region_stats st;

    if (!bm)
        return DMACOH_EINVAL;
    if (bm->cfg.ram_size && dmacoh_region_get_stats(&bm->ram_dev, &st) == 0 && st.live)
        return DMACOH_EBUSY; /* fallback memory is still handed out */
    r = dmacoh_platform_fini(&bm->plat);
    if (r)
        return r;
    if (bm->cfg.ram_size) {
        (void)dmacoh_release_coherent_memory(&bm->ram_dev, DMACOH_RELEASE_FORCE);
        (void)dmacoh_device_fini(&bm->ram_dev);
        (void)dmacoh_platform_fini(&bm->ram_plat);
    }
    return 0;
}
