/* SPDX-License-Identifier: MIT */
/*
 * test_mask.c - a region that straddles a device's DMA mask: the device gets the part below
 * its mask, never an address above it, and falls back (or fails, exclusive) when that part
 * is full.
 */
#include "t.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#define BUS  0xe0000000u
#define DEV  0xffff0000u /* the region's device range: 0xffff0000..0x1000effff */
#define SIZE (128u * 1024u)

struct fx {
    struct dmacoh_sim *sim;
    struct dmacoh_device bridge, narrow;
};

static void setup(struct fx *f, int flags)
{
    struct dmacoh_sim_memory m = {BUS, SIZE, DMACOH_MEMORY_MAP, false, 0};

    T_OK(dmacoh_sim_create(NULL, &f->sim));
    T_OK(dmacoh_sim_add_memory(f->sim, &m));
    T_OK(dmacoh_device_init(&f->bridge, "bridge", NULL, dmacoh_sim_platform(f->sim)));
    T_OK(dmacoh_device_init(&f->narrow, "narrow", &f->bridge, NULL));
    T_OK(dmacoh_device_set_dma_mask(&f->narrow, DMACOH_BIT_MASK(32)));
    T_OK(dmacoh_declare_coherent_memory(&f->bridge, BUS, DEV, SIZE,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_INCLUDES_CHILDREN | flags,
                                        NULL, NULL));
}

static void teardown(struct fx *f)
{
    T_OK(dmacoh_release_coherent_memory(&f->bridge, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&f->narrow));
    T_OK(dmacoh_device_fini(&f->bridge));
    T_OK(dmacoh_sim_destroy(f->sim));
}

/* The 64 KiB below 4 GiB serve the 32-bit child; nothing above the mask is handed out. */
static void straddling_region_serves_the_part_below_the_mask(void)
{
    struct fx f;
    void *cpu[17];
    dmacoh_dma_addr_t h[17];

    setup(&f, DMACOH_MEMORY_EXCLUSIVE);
    for (unsigned i = 0; i < 16; i++) {
        T_OK(dmacoh_alloc_coherent(&f.narrow, 4096, 0, 0, &cpu[i], &h[i]));
        T_ASSERT(h[i] + 4095 <= 0xffffffffu);
        T_EQ_INT(dmacoh_origin_of(&f.narrow, cpu[i]), DMACOH_ORIGIN_REGION);
    }
    /* Below the mask is full: exclusive, so no fallback and no address above the mask. */
    T_ERR(dmacoh_alloc_coherent(&f.narrow, 4096, 0, 0, &cpu[16], &h[16]), DMACOH_ENOMEM);
    /* The bridge itself (64-bit mask) still reaches the upper half. */
    T_OK(dmacoh_alloc_coherent(&f.bridge, 4096, 0, 0, &cpu[16], &h[16]));
    T_EQ_U64(h[16], 0x100000000ull);
    T_ASSERT(dmacoh_check(&f.bridge));
    teardown(&f);
}

/* Not exclusive: once the part below the mask is full, system memory below the mask. */
static void straddling_region_falls_back_below_the_mask(void)
{
    struct fx f;
    void *cpu;
    dmacoh_dma_addr_t h;

    setup(&f, 0);
    for (unsigned i = 0; i < 16; i++)
        T_OK(dmacoh_alloc_coherent(&f.narrow, 4096, 0, 0, &cpu, &h));
    T_OK(dmacoh_alloc_coherent(&f.narrow, 4096, 0, 0, &cpu, &h));
    T_EQ_INT(dmacoh_origin_of(&f.narrow, cpu), DMACOH_ORIGIN_SYSTEM);
    T_ASSERT(h + 4095 <= 0xffffffffu);
    /* The simulator refuses to go away while system memory is handed out. */
    T_OK(dmacoh_release_coherent_memory(&f.bridge, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&f.narrow));
    T_OK(dmacoh_device_fini(&f.bridge));
    T_ERR(dmacoh_sim_destroy(f.sim), DMACOH_EBUSY);
    T_OK(dmacoh_device_init(&f.narrow, "again", NULL, dmacoh_sim_platform(f.sim)));
    T_OK(dmacoh_free_coherent(&f.narrow, 4096, cpu, h));
    T_OK(dmacoh_device_fini(&f.narrow));
    T_OK(dmacoh_sim_destroy(f.sim));
}

/* A request larger than the reachable part never straddles the mask. */
static void request_larger_than_the_reachable_part_fails(void)
{
    struct fx f;
    void *cpu;
    dmacoh_dma_addr_t h;

    setup(&f, DMACOH_MEMORY_EXCLUSIVE);
    T_ERR(dmacoh_alloc_coherent(&f.narrow, 96 * 1024, 0, 0, &cpu, &h), DMACOH_ENOMEM);
    T_OK(dmacoh_alloc_coherent(&f.narrow, 64 * 1024, 0, 0, &cpu, &h));
    T_EQ_U64(h, DEV);
    teardown(&f);
}

static const struct t_case cases[] = {
    T_CASE(straddling_region_serves_the_part_below_the_mask),
    T_CASE(straddling_region_falls_back_below_the_mask),
    T_CASE(request_larger_than_the_reachable_part_fails),
};

T_MAIN(cases)
