/* SPDX-License-Identifier: MIT */
/*
 * test_granule.c - fine-grained regions (dmacoh_declare_opts.granule, include/dmacoh/region.h
 * and alloc.h): odd sizes round up to whole granules; handles are aligned to the smallest
 * power-of-two number of granules >= size as absolute device addresses, also when the device
 * base is aligned to the granule only; data lands at the right bus address; invalid granules
 * and granule-misaligned sizes and bases are refused; a dma_pool with small chunks on a few
 * KiB of SRAM; and how many 16-byte descriptors fit in 32 KiB with fine and page granules.
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include "fixture.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

#define MEM_A UINT64_C(0x10000000)
#define MEM_B UINT64_C(0x20000000)
#define DEV_A UINT64_C(0x80000000)
#define DEV_B UINT64_C(0x90000000)
#define PG    UINT64_C(0x1000)
#define K4    UINT64_C(0x1000)
#define K32   UINT64_C(0x8000)
#define M2    UINT64_C(0x200000)
#define M4    UINT64_C(0x400000)
#define MAP   DMACOH_MEMORY_MAP
#define IO    DMACOH_MEMORY_IO
#define EXCL  DMACOH_MEMORY_EXCLUSIVE

static const uint64_t granules[] = {16, 32, 64, 256, 1024};
#define NGRAN (sizeof(granules) / sizeof(granules[0]))

static struct dmacoh_sim *sim_new(void)
{
    struct dmacoh_sim *sim = NULL;

    T_OK(dmacoh_sim_create(NULL, &sim));
    return sim;
}

static int declare_g(struct dmacoh_device *dev, uint64_t bus, uint64_t da, uint64_t size, int flags,
                     uint64_t granule)
{
    struct dmacoh_declare_opts o;

    memset(&o, 0, sizeof(o));
    o.granule = granule;
    return dmacoh_declare_coherent_memory(dev, bus, da, size, flags, &o, NULL);
}

static void dev_done(struct dmacoh_device *dev)
{
    T_ASSERT(dmacoh_check(dev));
    if (dmacoh_device_has_region(dev))
        T_OK(dmacoh_release_coherent_memory(dev, 0));
    T_OK(dmacoh_device_fini(dev));
}

static uint64_t round_up(uint64_t x, uint64_t g)
{
    return (x + g - 1) / g * g;
}

/* The alignment dmacoh_alloc_coherent promises for size bytes with granule g. */
static uint64_t promised_align(uint64_t size, uint64_t g)
{
    return t_pow2_ceil((size + g - 1) / g) * g;
}

static unsigned char pat(uint64_t tag, size_t i)
{
    uint64_t x = (tag + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)i * 0xbf58476d1ce4e5b9ull);

    x ^= x >> 29;
    return (unsigned char)(x >> 48);
}

struct alloc {
    void *cpu;
    dmacoh_dma_addr_t h;
    size_t size;
    uint64_t tag;
};

static int cmp_alloc(const void *a, const void *b)
{
    dmacoh_dma_addr_t x = ((const struct alloc *)a)->h, y = ((const struct alloc *)b)->h;

    return x < y ? -1 : x > y;
}

/*
 * Bus address for a region at device base `base`: a MAP view needs the CPU pointer congruent
 * to the device address, and the simulator maps whole pages, so the region starts at the same
 * offset into a page of the memory at MEM_A as the device base has.
 */
static uint64_t bus_for(uint64_t base)
{
    return MEM_A + (base & (PG - 1));
}

/* Checks one allocation of a granule-g region of `size` bytes at device base `base`. */
static void check_alloc(struct dmacoh_sim *sim, struct dmacoh_device *dev, const struct alloc *a,
                        uint64_t g, uint64_t base, uint64_t size)
{
    static unsigned char buf[16384];
    uint64_t al = promised_align(a->size, g);

    if ((a->h & (al - 1)) || ((uintptr_t)a->cpu & (al - 1)) || a->h < base ||
        a->h + round_up(a->size, g) > base + size)
        t_fail(__FILE__, __LINE__,
               "granule %" PRIu64 " base %#" PRIx64 ": %zu bytes at dma %#" PRIx64
               " cpu %p, want alignment %#" PRIx64 " inside the region",
               g, base, a->size, a->h, a->cpu, al);
    T_EQ_U64(dmacoh_virt_to_dma(dev, a->cpu), a->h);
    T_EQ_U64(dmacoh_dma_to_bus(dev, a->h), bus_for(base) + (a->h - base));
    T_ASSERT(a->size <= sizeof(buf));
    T_OK(dmacoh_sim_bus_read(sim, bus_for(base) + (a->h - base), buf, a->size));
    for (size_t i = 0; i < a->size; i++)
        if (buf[i] != pat(a->tag, i))
            t_fail(__FILE__, __LINE__,
                   "granule %" PRIu64 ": byte %zu of dma %#" PRIx64 " is not on the bus", g, i,
                   a->h);
}

/* ---- rounding and alignment ---- */

static void rounding_and_alignment(void)
{
    for (size_t k = 0; k < NGRAN; k++) {
        uint64_t g = granules[k];
        uint64_t base = g; /* aligned to the granule, not to 2 granules */
        struct dmacoh_sim *sim = sim_new();
        struct dmacoh_device dev;
        uint64_t sizes[] = {1,         g - 1,         g,         g + 1,     2 * g,
                            2 * g + 1, 3 * g - 1,     3 * g + 5, 4 * g + 1, 5 * g + 3,
                            7 * g + 1, 8 * g + g / 2, 9 * g - 7, 16 * g - 1};
        struct alloc a;

        t_add_memory(sim, MEM_A, K32 + PG, MAP, false);
        T_OK(dmacoh_device_init(&dev, "sram", NULL, dmacoh_sim_platform(sim)));
        T_OK(declare_g(&dev, bus_for(base), base, K32, MAP | EXCL, g));
        T_EQ_U64(t_region_stats(&dev).granule, g);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            if (sizes[i] == 0 || round_up(sizes[i], g) > K32 / 2)
                continue;
            a.size = (size_t)sizes[i];
            a.tag = i;
            T_OK(dmacoh_alloc_coherent(&dev, a.size, 0, 0, &a.cpu, &a.h));
            /* Whole granules are taken: no more, no less. */
            T_EQ_U64(t_region_stats(&dev).in_use, round_up(a.size, g));
            T_EQ_U64(t_region_stats(&dev).live, 1);
            for (size_t j = 0; j < a.size; j++)
                ((unsigned char *)a.cpu)[j] = pat(a.tag, j);
            check_alloc(sim, &dev, &a, g, base, K32);
            T_OK(dmacoh_free_coherent(&dev, a.size, a.cpu, a.h));
            T_EQ_U64(t_region_stats(&dev).in_use, 0);
        }
        dev_done(&dev);
        T_OK(dmacoh_sim_destroy(sim));
    }
}

/* Random sizes filling the region, partial frees, refills: every allocation stays correct. */
static void random_fill(void)
{
    static struct alloc live[2048];
    uint64_t seed = 0x6a4e1e;

    for (size_t k = 0; k < NGRAN; k++) {
        uint64_t g = granules[k];
        uint64_t base = DEV_A + g; /* again aligned to the granule only */
        struct dmacoh_sim *sim = sim_new();
        struct dmacoh_device dev;
        uint64_t used = 0, tag = 1;
        size_t n = 0;

        t_add_memory(sim, MEM_A, K32 + PG, MAP, false);
        T_OK(dmacoh_device_init(&dev, "sram", NULL, dmacoh_sim_platform(sim)));
        T_OK(declare_g(&dev, bus_for(base), base, K32, MAP | EXCL, g));
        for (int round = 0; round < 4; round++) {
            int r = 0;

            /* Fill until the region refuses. */
            while (n < 2048) {
                uint64_t maxsz = 8 * g < 4096 ? 8 * g : 4096;
                struct alloc *a = &live[n];

                a->size = 1 + (size_t)(t_rand(&seed) % maxsz);
                r = dmacoh_alloc_coherent(&dev, a->size, 0, 0, &a->cpu, &a->h);
                if (r)
                    break;
                a->tag = tag++;
                for (size_t j = 0; j < a->size; j++)
                    ((unsigned char *)a->cpu)[j] = pat(a->tag, j);
                used += round_up(a->size, g);
                n++;
            }
            T_ERR(r, DMACOH_ENOMEM);
            T_EQ_U64(t_region_stats(&dev).in_use, used);
            T_EQ_U64(t_region_stats(&dev).live, n);
            qsort(live, n, sizeof(live[0]), cmp_alloc);
            for (size_t i = 0; i < n; i++) {
                check_alloc(sim, &dev, &live[i], g, base, K32);
                if (i + 1 < n)
                    T_ASSERT(live[i].h + round_up(live[i].size, g) <= live[i + 1].h);
            }
            /* Free a random half. */
            for (size_t i = 0; i < n;) {
                if (t_rand(&seed) & 1) {
                    T_OK(dmacoh_free_coherent(&dev, live[i].size, live[i].cpu, live[i].h));
                    used -= round_up(live[i].size, g);
                    live[i] = live[--n];
                } else {
                    i++;
                }
            }
            T_EQ_U64(t_region_stats(&dev).in_use, used);
            T_ASSERT(dmacoh_check(&dev));
        }
        while (n) {
            n--;
            T_OK(dmacoh_free_coherent(&dev, live[n].size, live[n].cpu, live[n].h));
        }
        T_EQ_U64(t_region_stats(&dev).in_use, 0);
        dev_done(&dev);
        T_OK(dmacoh_sim_destroy(sim));
    }
}

/* ---- invalid granules, sizes and bases ---- */

static void invalid_granules(void)
{
    static const uint64_t bad[] = {8,  3000, M4,      1,      2,          4,
                                   24, 48,   PG + 16, 3 * M2, UINT64_MAX, UINT64_C(1) << 63};
    struct dmacoh_sim *sim = sim_new();
    struct dmacoh_device dev;

    t_add_memory(sim, MEM_A, K32, MAP, false);
    t_add_memory(sim, MEM_B, 2 * M4, MAP, false);
    T_OK(dmacoh_device_init(&dev, "sram", NULL, dmacoh_sim_platform(sim)));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t_log_reset();
        T_ERR(declare_g(&dev, MEM_A, DEV_A, K32, MAP, bad[i]), DMACOH_EINVAL);
        T_ASSERT(t_log_count() >= 1);
        T_ASSERT(!dmacoh_device_has_region(&dev));
        /* Where size and bases are multiples of it, the granule alone is wrong. */
        T_ERR(declare_g(&dev, MEM_B, DEV_B, 2 * M4, MAP, bad[i]), DMACOH_EINVAL);
        T_ASSERT(!dmacoh_device_has_region(&dev));
    }
    T_EQ_U64(dmacoh_region_meta_size(K32, 8), 0);
    T_EQ_U64(dmacoh_region_meta_size(K32, 3000), 0);
    T_EQ_U64(dmacoh_region_meta_size(2 * M4, M4), 0);
    T_ASSERT(dmacoh_region_meta_size(K32, 16) > 0);
    T_ASSERT(dmacoh_region_meta_size(2 * M4, M2) > 0);

    /* 0 means PAGE_SIZE. */
    T_OK(declare_g(&dev, MEM_A, DEV_A, K32, MAP, 0));
    T_EQ_U64(t_region_stats(&dev).granule, DMACOH_PAGE_SIZE);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    /* The extremes of the range are valid. */
    T_OK(declare_g(&dev, MEM_A, DEV_A, K32, MAP, DMACOH_GRANULE_MIN));
    T_EQ_U64(t_region_stats(&dev).granule, 16);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(declare_g(&dev, MEM_B, DEV_B, 2 * M4, MAP, DMACOH_GRANULE_MAX));
    T_EQ_U64(t_region_stats(&dev).granule, M2);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    dev_done(&dev);
    T_OK(dmacoh_sim_destroy(sim));
}

static void misaligned_size_and_bases(void)
{
    struct dmacoh_sim *sim = sim_new();
    struct dmacoh_device dev;
    void *cpu;
    dmacoh_dma_addr_t h;

    t_add_memory(sim, MEM_A, K32, MAP, false);
    T_OK(dmacoh_device_init(&dev, "sram", NULL, dmacoh_sim_platform(sim)));
    /* Size not a multiple of the granule. */
    T_ERR(declare_g(&dev, MEM_A, DEV_A, K32 - 32, MAP, 64), DMACOH_EINVAL);
    T_ERR(declare_g(&dev, MEM_A, DEV_A, K32 - 16, MAP, 32), DMACOH_EINVAL);
    T_ERR(declare_g(&dev, MEM_A, DEV_A, 1000, MAP, 16), DMACOH_EINVAL);
    T_ERR(declare_g(&dev, MEM_A, DEV_A, 0, MAP, 16), DMACOH_EINVAL);
    /* Device base not granule-aligned. */
    T_ERR(declare_g(&dev, MEM_A, 0x20, K32, MAP, 64), DMACOH_EINVAL);
    T_ERR(declare_g(&dev, MEM_A, 0x40, K32, MAP, 256), DMACOH_EINVAL);
    T_ERR(declare_g(&dev, MEM_A, DEV_A + 0x200, K32, MAP, 1024), DMACOH_EINVAL);
    T_ERR(declare_g(&dev, MEM_A, DEV_A + 8, K32, MAP, 16), DMACOH_EINVAL);
    /* Bus base not granule-aligned. */
    T_ERR(declare_g(&dev, MEM_A + 0x20, DEV_A, K32 - 64, MAP, 64), DMACOH_EINVAL);
    T_ERR(declare_g(&dev, MEM_A + 0x40, DEV_A, K32 - 256, MAP, 256), DMACOH_EINVAL);
    T_ASSERT(!dmacoh_device_has_region(&dev));

    /* Aligned to the granule but not to a page: fine. */
    T_OK(declare_g(&dev, MEM_A + 0x40, 0x40, K32 - 64, MAP | EXCL, 64));
    T_EQ_U64(t_region_stats(&dev).size, K32 - 64);
    T_OK(dmacoh_alloc_coherent(&dev, 64, 0, 0, &cpu, &h));
    T_ASSERT(h >= 0x40 && h + 64 <= K32);
    T_EQ_U64(h % 64, 0);
    T_EQ_U64(dmacoh_dma_to_bus(&dev, h), MEM_A + h);
    memset(cpu, 0x3c, 64);
    {
        unsigned char b[64];

        T_OK(dmacoh_sim_bus_read(sim, MEM_A + h, b, 64));
        for (size_t i = 0; i < 64; i++)
            T_EQ_INT(b[i], 0x3c);
    }
    T_OK(dmacoh_free_coherent(&dev, 64, cpu, h));
    dev_done(&dev);
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- a dma_pool on a fine-grained region ---- */

static void pool_on_fine_region(void)
{
    /* (granule, device base, blocks expected): 256-byte chunks, 256-aligned absolutely. */
    static const uint64_t cfg[][3] = {
        {16, DEV_A, 256},        /* 16 chunks of 16 descriptors in 4 KiB */
        {16, DEV_A + 0x40, 240}, /* base not 256-aligned: chunks fit at 0x100..0xf00 only */
        {64, DEV_A + 0x100, 256}, {256, DEV_A, 256},
        {PG, DEV_A, 16}, /* page granule: one 256-byte chunk takes the whole 4 KiB */
    };
    static void *cpu[300];
    static dmacoh_dma_addr_t h[300];

    for (size_t k = 0; k < sizeof(cfg) / sizeof(cfg[0]); k++) {
        uint64_t g = cfg[k][0], base = cfg[k][1];
        struct dmacoh_sim *sim = sim_new();
        struct dmacoh_pool_opts o;
        struct dmacoh_pool_stats ps;
        struct dmacoh_device dev;
        struct dmacoh_pool *p = NULL;
        size_t n = 0;
        int r;

        t_add_memory(sim, MEM_A, K4 + PG, MAP, false);
        T_OK(dmacoh_device_init(&dev, "sram4k", NULL, dmacoh_sim_platform(sim)));
        T_OK(declare_g(&dev, bus_for(base), base, K4, MAP | EXCL, g));
        memset(&o, 0, sizeof(o));
        o.chunk_size = 256;
        o.keep_empty = 1;
        T_OK(dmacoh_pool_create(&p, "desc", &dev, 16, 16, 0, &o));
        T_OK(dmacoh_pool_get_stats(p, &ps));
        T_EQ_U64(ps.chunk_size, 256);
        T_EQ_U64(ps.per_chunk, 16);
        while ((r = dmacoh_pool_alloc(p, DMACOH_POOL_ZERO, &cpu[n], &h[n])) == 0) {
            T_ASSERT(n < 299);
            T_EQ_U64(h[n] % 16, 0);
            T_ASSERT(h[n] >= base && h[n] + 16 <= base + K4);
            T_EQ_U64(dmacoh_virt_to_dma(&dev, cpu[n]), h[n]);
            for (size_t i = 0; i < 16; i++)
                T_EQ_INT(((unsigned char *)cpu[n])[i], 0);
            memset(cpu[n], (int)(n & 0xff), 16);
            n++;
        }
        T_ERR(r, DMACOH_ENOMEM);
        if (n != cfg[k][2])
            t_fail(__FILE__, __LINE__,
                   "granule %" PRIu64 " base %#" PRIx64 ": %zu descriptors, want %" PRIu64, g, base,
                   n, cfg[k][2]);
        T_OK(dmacoh_pool_get_stats(p, &ps));
        T_EQ_U64(ps.in_use, n);
        /* Each chunk takes 256 bytes of a fine region, a whole granule otherwise. */
        T_EQ_U64(t_region_stats(&dev).in_use, ps.chunks * (g > 256 ? g : 256));
        for (size_t i = 0; i < n; i++) {
            unsigned char b[16];

            T_OK(dmacoh_sim_bus_read(sim, bus_for(base) + (h[i] - base), b, 16));
            for (size_t j = 0; j < 16; j++)
                T_EQ_INT(b[j], (int)(i & 0xff));
        }
        for (size_t i = 0; i < n; i++)
            T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
        T_OK(dmacoh_pool_get_stats(p, &ps));
        T_EQ_U64(ps.in_use, 0);
        T_ASSERT(ps.chunks <= 1);
        T_OK(dmacoh_pool_destroy(p, 0));
        T_EQ_U64(t_region_stats(&dev).in_use, 0);
        dev_done(&dev);
        T_OK(dmacoh_sim_destroy(sim));
    }
}

/* ---- 16-byte descriptors, one dmacoh_alloc_coherent each ---- */

static size_t count_descriptors(uint64_t granule)
{
    static void *cpu[4096];
    static dmacoh_dma_addr_t h[4096];
    struct dmacoh_sim *sim = sim_new();
    struct dmacoh_device dev;
    size_t n = 0;
    int r;

    t_add_memory(sim, MEM_A, K32, MAP, false);
    T_OK(dmacoh_device_init(&dev, "usb-sram", NULL, dmacoh_sim_platform(sim)));
    T_OK(declare_g(&dev, MEM_A, DEV_A, K32, MAP | EXCL, granule));
    while ((r = dmacoh_alloc_coherent(&dev, 16, 0, 0, &cpu[n], &h[n])) == 0) {
        T_ASSERT(n < 4095);
        T_ASSERT(h[n] >= DEV_A && h[n] + 16 <= DEV_A + K32);
        T_EQ_U64(h[n] % 16, 0);
        if (n)
            T_ASSERT(h[n] > h[n - 1]); /* one size, no frees: ascending */
        n++;
    }
    T_ERR(r, DMACOH_ENOMEM);
    T_EQ_U64(t_region_stats(&dev).live, n);
    for (size_t i = 0; i < n; i++)
        T_OK(dmacoh_free_coherent(&dev, 16, cpu[i], h[i]));
    dev_done(&dev);
    T_OK(dmacoh_sim_destroy(sim));
    return n;
}

static void descriptors_in_32k(void)
{
    T_EQ_U64(count_descriptors(16), 2048);
    T_EQ_U64(count_descriptors(0), 8); /* PAGE_SIZE */
    T_EQ_U64(count_descriptors(DMACOH_PAGE_SIZE), 8);
    for (size_t k = 0; k < NGRAN; k++)
        T_EQ_U64(count_descriptors(granules[k]), K32 / granules[k]);
}

static const struct t_case cases[] = {
    T_CASE(rounding_and_alignment),    T_CASE(random_fill),         T_CASE(invalid_granules),
    T_CASE(misaligned_size_and_bases), T_CASE(pool_on_fine_region), T_CASE(descriptors_in_32k),
};

T_MAIN(cases)
