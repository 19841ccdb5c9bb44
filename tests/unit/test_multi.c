/* SPDX-License-Identifier: MIT */
/*
 * test_multi.c - several regions per device and the platform's default pool (region.h:
 * dmacoh_declare_region, dmacoh_release_region, dmacoh_region_get_stats_at,
 * dmacoh_declare_default_memory; alloc.h: dmacoh_alloc_coherent_from): the order of use, the
 * per-call choice, frees routed to the region holding the pointer (and refused with another
 * region's handle), per-region statistics, releasing one region, overlap and limit checks,
 * the default pool's rules (devices with no region of their own, DMA masks, release while
 * used), dma_pools and the debug mode over several regions, and a randomised run against a
 * model. Every test builds its own simulator.
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include "fixture.h"
#include "t.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define PG       UINT64_C(0x1000)
#define MEM_A    UINT64_C(0x10000000)
#define MEM_B    UINT64_C(0x20000000)
#define MEM_C    UINT64_C(0x30000000)
#define MEM_D    UINT64_C(0x50000000)
#define DEV_A    UINT64_C(0x80000000)
#define DEV_B    UINT64_C(0x90000000)
#define DEV_C    UINT64_C(0xa0000000)
#define DEV_D    UINT64_C(0xb0000000)
#define RAM_BASE UINT64_C(0x40000000)
#define RAM_SIZE UINT64_C(0x4000000)
#define MAP      DMACOH_MEMORY_MAP
#define MAPIO    (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)
#define EXCL     DMACOH_MEMORY_EXCLUSIVE
#define INCL     DMACOH_MEMORY_INCLUDES_CHILDREN
#define NOFB     DMACOH_ALLOC_NOFALLBACK

/* A simulator with four memories of `pages` pages each at MEM_A..MEM_D. */
static struct dmacoh_sim *sim_new(uint64_t pages)
{
    struct dmacoh_sim *sim = NULL;

    T_OK(dmacoh_sim_create(NULL, &sim));
    t_add_memory(sim, MEM_A, pages * PG, MAPIO, false);
    t_add_memory(sim, MEM_B, pages * PG, MAPIO, false);
    t_add_memory(sim, MEM_C, pages * PG, MAPIO, false);
    t_add_memory(sim, MEM_D, pages * PG, MAPIO, false);
    return sim;
}

static void region(struct dmacoh_device *dev, const char *name, uint64_t bus, uint64_t da,
                   uint64_t size, int flags)
{
    int g = 0;

    T_OK(dmacoh_declare_region(dev, name, bus, da, size, flags, NULL, &g));
    T_EQ_INT(g, DMACOH_MEMORY_MAP);
    T_ASSERT(dmacoh_check(dev));
}

static bool in(dmacoh_dma_addr_t h, uint64_t base, uint64_t size)
{
    return h >= base && h - base < size;
}

static struct dmacoh_region_stats stats_at(const struct dmacoh_device *dev, unsigned i,
                                           const char *name)
{
    struct dmacoh_region_stats st;
    const char *n = NULL;

    T_OK(dmacoh_region_get_stats_at(dev, i, &st, &n));
    T_ASSERT(n && strcmp(n, name) == 0);
    return st;
}

/* Order of use: region 1 until full, then region 2, then system memory; the counters of each
 * region and of the device add up. */
static void test_order_own_list(void)
{
    struct dmacoh_sim *sim = sim_new(2);
    struct dmacoh_device dev;
    void *c[6];
    dmacoh_dma_addr_t h[6];
    struct dmacoh_region_stats a, b;
    uint64_t fb, fail;

    T_OK(dmacoh_device_init(&dev, "multi", NULL, dmacoh_sim_platform(sim)));
    region(&dev, "a", MEM_A, DEV_A, 2 * PG, MAP);
    region(&dev, "b", MEM_B, DEV_B, 2 * PG, MAP);
    for (unsigned i = 0; i < 5; i++)
        T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &c[i], &h[i]));
    T_ASSERT(in(h[0], DEV_A, 2 * PG) && in(h[1], DEV_A, 2 * PG));
    T_ASSERT(in(h[2], DEV_B, 2 * PG) && in(h[3], DEV_B, 2 * PG));
    T_ASSERT(in(h[4], RAM_BASE, RAM_SIZE));
    T_EQ_INT(dmacoh_origin_of(&dev, c[3]), DMACOH_ORIGIN_REGION);
    T_EQ_INT(dmacoh_origin_of(&dev, c[4]), DMACOH_ORIGIN_SYSTEM);
    a = stats_at(&dev, 0, "a");
    b = stats_at(&dev, 1, "b");
    T_EQ_U64(a.live, 2);
    T_EQ_U64(b.live, 2);
    T_EQ_U64(a.allocs + b.allocs, 4);
    T_EQ_U64(a.in_use + b.in_use, 4 * PG);
    T_EQ_U64(a.failures, 3); /* the allocations of b's two and the system one tried a first */
    T_EQ_U64(b.failures, 1);
    T_EQ_U64(a.fallbacks, 1); /* counted once, on the first region of the list */
    T_EQ_U64(b.fallbacks, 0);
    T_EQ_U64(a.device_base, DEV_A);
    T_EQ_U64(b.bus_base, MEM_B);
    dmacoh_device_counters(&dev, &fb, &fail);
    T_EQ_U64(fb, 1);
    T_EQ_U64(fail, 0);
    T_ERR(dmacoh_region_get_stats_at(&dev, 2, &a, NULL), DMACOH_ENOENT);
    for (unsigned i = 0; i < 5; i++)
        T_OK(dmacoh_free_coherent(&dev, PG, c[i], h[i]));
    T_EQ_U64(stats_at(&dev, 0, "a").frees + stats_at(&dev, 1, "b").frees, 4);
    T_EQ_U64(stats_at(&dev, 1, "b").live, 0);
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_release_coherent_memory(&dev, 0)); /* every region of the list */
    T_ASSERT(!dmacoh_device_has_region(&dev));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* EXCLUSIVE on any region of the list, or NOFALLBACK, stops before system memory. */
static void test_exclusive_nofallback(void)
{
    struct dmacoh_sim *sim = sim_new(1);
    struct dmacoh_device d1, d2;
    void *c[3];
    dmacoh_dma_addr_t h[3];

    T_OK(dmacoh_device_init(&d1, "excl", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&d2, "nofb", NULL, dmacoh_sim_platform(sim)));
    region(&d1, "a", MEM_A, DEV_A, PG, MAP);
    region(&d1, "b", MEM_B, DEV_B, PG, MAP | EXCL);
    T_OK(dmacoh_alloc_coherent(&d1, PG, 0, 0, &c[0], &h[0]));
    T_OK(dmacoh_alloc_coherent(&d1, PG, 0, 0, &c[1], &h[1]));
    T_ASSERT(in(h[0], DEV_A, PG) && in(h[1], DEV_B, PG));
    T_ERR(dmacoh_alloc_coherent(&d1, PG, 0, 0, &c[2], &h[2]), DMACOH_ENOMEM);
    T_ASSERT(t_log_find("exclusive"));
    /* Waiting, on a platform that can: every region tried, then a timed wait on the first. */
    T_ERR(dmacoh_alloc_coherent(&d1, PG, DMACOH_ALLOC_WAIT, 1000000, &c[2], &h[2]),
          DMACOH_ETIMEDOUT);
    T_OK(dmacoh_free_coherent(&d1, PG, c[1], h[1]));
    T_OK(dmacoh_alloc_coherent(&d1, PG, DMACOH_ALLOC_WAIT, 1000000, &c[1], &h[1]));
    T_ASSERT(in(h[1], DEV_B, PG));
    for (unsigned i = 0; i < 2; i++)
        T_OK(dmacoh_free_coherent(&d1, PG, c[i], h[i]));

    region(&d2, "c", MEM_C, DEV_C, PG, MAP);
    region(&d2, "d", MEM_D, DEV_D, PG, MAP);
    T_OK(dmacoh_alloc_coherent(&d2, PG, NOFB, 0, &c[0], &h[0]));
    T_OK(dmacoh_alloc_coherent(&d2, PG, NOFB, 0, &c[1], &h[1]));
    T_ERR(dmacoh_alloc_coherent(&d2, PG, NOFB, 0, &c[2], &h[2]), DMACOH_ENOMEM);
    T_OK(dmacoh_alloc_coherent(&d2, PG, 0, 0, &c[2], &h[2])); /* not exclusive: system */
    T_ASSERT(in(h[2], RAM_BASE, RAM_SIZE));
    for (unsigned i = 0; i < 3; i++)
        T_OK(dmacoh_free_coherent(&d2, PG, c[i], h[i]));
    T_OK(dmacoh_release_coherent_memory(&d1, 0));
    T_OK(dmacoh_release_coherent_memory(&d2, 0));
    T_OK(dmacoh_device_fini(&d1));
    T_OK(dmacoh_device_fini(&d2));
    T_OK(dmacoh_sim_destroy(sim));
}

/* One region by name: only that one, no fallback; unknown names and full regions refused. */
static void test_alloc_from(void)
{
    struct dmacoh_sim *sim = sim_new(2);
    struct dmacoh_device dev;
    void *c[4];
    dmacoh_dma_addr_t h[4];
    uint64_t fail;
    int g;

    T_OK(dmacoh_device_init(&dev, "from", NULL, dmacoh_sim_platform(sim)));
    /* The RFC's declare makes the first, unnamed region; named ones follow it. */
    T_OK(dmacoh_declare_coherent_memory(&dev, MEM_A, DEV_A, 2 * PG, MAP, NULL, &g));
    region(&dev, "second", MEM_B, DEV_B, PG, MAP);
    T_ERR(dmacoh_declare_coherent_memory(&dev, MEM_C, DEV_C, PG, MAP, NULL, &g), DMACOH_EBUSY);
    T_OK(dmacoh_alloc_coherent_from(&dev, "second", PG, 0, 0, &c[0], &h[0]));
    T_ASSERT(in(h[0], DEV_B, PG)); /* although the first region has room */
    T_ERR(dmacoh_alloc_coherent_from(&dev, "second", PG, 0, 0, &c[1], &h[1]), DMACOH_ENOMEM);
    T_ASSERT(t_log_find("'second'"));
    T_OK(dmacoh_alloc_coherent_from(&dev, "", PG, 0, 0, &c[1], &h[1]));
    T_ASSERT(in(h[1], DEV_A, 2 * PG));
    t_log_reset();
    T_ERR(dmacoh_alloc_coherent_from(&dev, "third", PG, 0, 0, &c[2], &h[2]), DMACOH_ENOENT);
    T_ASSERT(t_log_find("no region named 'third'"));
    T_ERR(dmacoh_alloc_coherent_from(&dev, NULL, PG, 0, 0, &c[2], &h[2]), DMACOH_EINVAL);
    T_ERR(dmacoh_alloc_coherent_from(&dev, "second", 0, 0, 0, &c[2], &h[2]), DMACOH_EINVAL);
    dmacoh_device_counters(&dev, NULL, &fail);
    T_EQ_U64(fail, 4);
    T_EQ_U64(stats_at(&dev, 0, "").live, 1);
    T_EQ_U64(stats_at(&dev, 1, "second").live, 1);
    T_OK(dmacoh_free_coherent(&dev, PG, c[0], h[0]));
    T_OK(dmacoh_free_coherent(&dev, PG, c[1], h[1]));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

static int count_extent(void *user, const struct dmacoh_extent *e)
{
    unsigned *n = user;

    if (e->kind == DMACOH_EXTENT_ALLOC)
        (*n)++;
    return 0;
}

/* A free goes to the region holding the pointer; another region's handle is refused and
 * changes nothing; lookups see every region. */
static void test_free_routing(void)
{
    struct dmacoh_sim *sim = sim_new(4);
    struct dmacoh_device dev;
    struct dmacoh_region_stats a0, b0;
    struct dmacoh_extent e;
    void *x, *y;
    dmacoh_dma_addr_t hx, hy;
    unsigned nalloc = 0;

    T_OK(dmacoh_device_init(&dev, "route", NULL, dmacoh_sim_platform(sim)));
    region(&dev, "a", MEM_A, DEV_A, PG, MAP);
    region(&dev, "b", MEM_B, DEV_B, 4 * PG, MAP);
    T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &x, &hx));
    T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &y, &hy));
    T_ASSERT(in(hx, DEV_A, PG) && in(hy, DEV_B, 4 * PG));
    /* Translations and lookups reach the second region. */
    T_EQ_U64(dmacoh_virt_to_dma(&dev, y), hy);
    T_EQ_PTR(dmacoh_dma_to_virt(&dev, hy), y);
    T_EQ_U64(dmacoh_dma_to_bus(&dev, hy), MEM_B + (hy - DEV_B));
    T_EQ_U64(dmacoh_bus_to_dma(&dev, MEM_B + (hy - DEV_B)), hy);
    T_OK(dmacoh_region_find(&dev, y, &e));
    T_EQ_U64(e.dma, hy);
    T_EQ_INT(e.kind, DMACOH_EXTENT_ALLOC);
    T_OK(dmacoh_region_walk(&dev, count_extent, &nalloc));
    T_EQ_INT(nalloc, 2);
    a0 = stats_at(&dev, 0, "a");
    b0 = stats_at(&dev, 1, "b");
    /* y (region b) freed with x's handle (region a): refused, nothing changes. */
    T_ERR(dmacoh_free_coherent(&dev, PG, y, hx), DMACOH_EINVAL);
    T_ASSERT(t_log_find("does not match"));
    T_ERR(dmacoh_free_coherent(&dev, PG, x, hy), DMACOH_EINVAL);
    T_ERR(dmacoh_free_coherent(&dev, 2 * PG, y, hy), DMACOH_EINVAL);
    T_ERR(dmacoh_free_coherent(&dev, PG, (char *)y + PG, hy + PG), DMACOH_EFAULT);
    T_EQ_U64(stats_at(&dev, 0, "a").live, a0.live);
    T_EQ_U64(stats_at(&dev, 1, "b").live, b0.live);
    T_EQ_U64(stats_at(&dev, 1, "b").frees, b0.frees);
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_free_coherent(&dev, PG, y, hy));
    T_OK(dmacoh_free_coherent(&dev, PG, x, hx));
    T_ERR(dmacoh_free_coherent(&dev, PG, y, hy), DMACOH_EFAULT); /* double free */
    T_EQ_U64(stats_at(&dev, 1, "b").frees, 1);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* Releasing one region keeps the others, in order, in use. */
static void test_release_one(void)
{
    struct dmacoh_sim *sim = sim_new(2);
    struct dmacoh_device dev;
    void *x, *y, *z;
    dmacoh_dma_addr_t hx, hy, hz;

    T_OK(dmacoh_device_init(&dev, "rel", NULL, dmacoh_sim_platform(sim)));
    region(&dev, "a", MEM_A, DEV_A, PG, MAP);
    region(&dev, "b", MEM_B, DEV_B, PG, MAP);
    region(&dev, "c", MEM_C, DEV_C, PG, MAP);
    T_OK(dmacoh_alloc_coherent_from(&dev, "a", PG, 0, 0, &x, &hx));
    T_OK(dmacoh_alloc_coherent_from(&dev, "c", PG, 0, 0, &z, &hz));
    T_ERR(dmacoh_release_region(&dev, "a", 0), DMACOH_EBUSY);
    T_ASSERT(t_log_find("of 'a' are outstanding"));
    T_ERR(dmacoh_release_region(&dev, "nope", 0), DMACOH_ENOENT);
    T_ERR(dmacoh_release_region(&dev, NULL, 0), DMACOH_EINVAL);
    T_ERR(dmacoh_release_region(&dev, "a", 0x80), DMACOH_EINVAL);
    /* Release of every region: refused as a whole while any is in use. */
    T_ERR(dmacoh_release_coherent_memory(&dev, 0), DMACOH_EBUSY);
    T_EQ_U64(stats_at(&dev, 1, "b").live, 0);
    T_OK(dmacoh_release_region(&dev, "b", 0));
    T_EQ_U64(stats_at(&dev, 0, "a").live, 1);
    T_EQ_U64(stats_at(&dev, 1, "c").live, 1); /* moved up */
    T_OK(dmacoh_free_coherent(&dev, PG, x, hx));
    T_OK(dmacoh_release_region(&dev, "a", 0));
    T_EQ_U64(stats_at(&dev, 0, "c").device_base, DEV_C);
    T_ERR(dmacoh_region_get_stats_at(&dev, 1, &(struct dmacoh_region_stats){0}, NULL),
          DMACOH_ENOENT);
    /* The remaining region still serves and frees; a fresh one goes after it. */
    T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &y, &hy));
    T_ASSERT(in(hy, RAM_BASE, RAM_SIZE)); /* c is full */
    region(&dev, "a2", MEM_A, DEV_A, PG, MAP);
    T_EQ_U64(stats_at(&dev, 1, "a2").bus_base, MEM_A);
    T_OK(dmacoh_free_coherent(&dev, PG, z, hz));
    T_OK(dmacoh_free_coherent(&dev, PG, y, hy));
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_ERR(dmacoh_release_coherent_memory(&dev, 0), DMACOH_ENODEV);
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* Overlaps within one device's list, names and the limit. */
static void test_declare_checks(void)
{
    struct dmacoh_sim *sim = NULL;
    struct dmacoh_device dev, other;
    struct dmacoh_platform *p;
    char name[40];
    int g;

    T_OK(dmacoh_sim_create(NULL, &sim));
    t_add_memory(sim, MEM_A, 64 * PG, MAPIO, false);
    t_add_memory(sim, MEM_B, 4 * PG, MAPIO, true);
    p = dmacoh_sim_platform(sim);
    T_OK(dmacoh_device_init(&dev, "checks", NULL, p));
    T_OK(dmacoh_device_init(&other, "other", NULL, p));
    region(&dev, "r0", MEM_A, DEV_A, 2 * PG, MAP);
    /* Bus range overlapping the device's own region. */
    T_ERR(dmacoh_declare_region(&dev, "r1", MEM_A + PG, DEV_B, 2 * PG, MAP, NULL, &g),
          DMACOH_EBUSY);
    /* Device range overlapping it, on a different bus range. */
    T_ERR(dmacoh_declare_region(&dev, "r1", MEM_A + 8 * PG, DEV_A + PG, PG, MAP, NULL, &g),
          DMACOH_EBUSY);
    T_ASSERT(t_log_find("overlaps its region"));
    T_ERR(dmacoh_declare_region(&dev, "r0", MEM_A + 8 * PG, DEV_B, PG, MAP, NULL, &g),
          DMACOH_EEXIST);
    T_ERR(dmacoh_declare_region(&dev, "", MEM_A + 8 * PG, DEV_B, PG, MAP, NULL, &g), DMACOH_EINVAL);
    T_ERR(dmacoh_declare_region(&dev, NULL, MEM_A + 8 * PG, DEV_B, PG, MAP, NULL, &g),
          DMACOH_EINVAL);
    T_ERR(dmacoh_declare_region(&dev, "a b", MEM_A + 8 * PG, DEV_B, PG, MAP, NULL, &g),
          DMACOH_EINVAL);
    memset(name, 'x', 32);
    name[32] = '\0';
    T_ERR(dmacoh_declare_region(&dev, name, MEM_A + 8 * PG, DEV_B, PG, MAP, NULL, &g),
          DMACOH_EINVAL);
    name[31] = '\0'; /* 31 characters: the longest */
    region(&dev, name, MEM_A + 8 * PG, DEV_B, PG, MAP);
    T_ERR(dmacoh_declare_region(&dev, "bad", MEM_A + 9 * PG, DEV_B + PG, PG + 1, MAP, NULL, &g),
          DMACOH_EINVAL);
    /* A shared range may be joined by another device, but not twice by one. */
    region(&dev, "sh", MEM_B, DEV_C, 4 * PG, MAP);
    region(&other, "sh", MEM_B, DEV_C, 4 * PG, MAP);
    T_ERR(dmacoh_declare_region(&dev, "sh2", MEM_B, DEV_C, 4 * PG, MAP, NULL, &g), DMACOH_EBUSY);
    T_EQ_INT(stats_at(&dev, 2, "sh").sharers, 2);
    /* The limit: DMACOH_REGIONS_MAX regions, then -DMACOH_ERANGE. */
    for (unsigned i = 3; i < DMACOH_REGIONS_MAX; i++) {
        snprintf(name, sizeof(name), "r%u", i);
        region(&dev, name, MEM_A + (16 + 2 * i) * PG, DEV_D + 2 * i * PG, PG, MAP);
    }
    T_ERR(dmacoh_declare_region(&dev, "one-too-many", MEM_A + 60 * PG, DEV_D + 60 * PG, PG, MAP,
                                NULL, &g),
          DMACOH_ERANGE);
    T_ASSERT(t_log_find("the most a device may have"));
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_EQ_INT(stats_at(&other, 0, "sh").sharers, 1);
    T_OK(dmacoh_release_region(&other, "sh", 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_device_fini(&other));
    T_OK(dmacoh_sim_destroy(sim));
}

/* The nearest ancestor's INCLUDES_CHILDREN regions, in order, serve a child without regions
 * (its regions without the flag do not); a child with a region of its own never uses them. */
static void test_ancestor_list(void)
{
    struct dmacoh_sim *sim = sim_new(1);
    struct dmacoh_platform *p = dmacoh_sim_platform(sim);
    struct dmacoh_device bridge, kid, own;
    void *c[4];
    dmacoh_dma_addr_t h[4];

    T_OK(dmacoh_device_init(&bridge, "bridge", NULL, p));
    T_OK(dmacoh_device_init(&kid, "kid", &bridge, NULL));
    T_OK(dmacoh_device_init(&own, "own", &bridge, NULL));
    region(&bridge, "private", MEM_A, DEV_A, PG, MAP);
    region(&bridge, "k1", MEM_B, DEV_B, PG, MAP | INCL);
    region(&bridge, "k2", MEM_C, DEV_C, PG, MAP | INCL);
    region(&own, "mine", MEM_D, DEV_D, PG, MAP);
    T_OK(dmacoh_alloc_coherent(&kid, PG, 0, 0, &c[0], &h[0]));
    T_OK(dmacoh_alloc_coherent(&kid, PG, 0, 0, &c[1], &h[1]));
    T_OK(dmacoh_alloc_coherent(&kid, PG, 0, 0, &c[2], &h[2]));
    T_ASSERT(in(h[0], DEV_B, PG) && in(h[1], DEV_C, PG) && in(h[2], RAM_BASE, RAM_SIZE));
    T_EQ_U64(stats_at(&bridge, 0, "private").live, 0);
    T_EQ_INT(dmacoh_origin_of(&kid, c[1]), DMACOH_ORIGIN_REGION);
    T_EQ_U64(dmacoh_virt_to_dma(&kid, c[1]), h[1]);
    T_OK(dmacoh_alloc_coherent(&own, PG, 0, 0, &c[3], &h[3]));
    T_ASSERT(in(h[3], DEV_D, PG));
    T_OK(dmacoh_free_coherent(&kid, PG, c[1], h[1]));
    T_OK(dmacoh_alloc_coherent(&own, PG, 0, 0, &c[1], &h[1])); /* own is full: system */
    T_ASSERT(in(h[1], RAM_BASE, RAM_SIZE));
    T_OK(dmacoh_free_coherent(&own, PG, c[1], h[1]));
    T_OK(dmacoh_free_coherent(&own, PG, c[3], h[3]));
    T_OK(dmacoh_free_coherent(&kid, PG, c[0], h[0]));
    T_OK(dmacoh_free_coherent(&kid, PG, c[2], h[2]));
    T_OK(dmacoh_release_coherent_memory(&own, 0));
    T_OK(dmacoh_release_coherent_memory(&bridge, 0));
    T_OK(dmacoh_device_fini(&own));
    T_OK(dmacoh_device_fini(&kid));
    T_OK(dmacoh_device_fini(&bridge));
    T_OK(dmacoh_sim_destroy(sim));
}

/* The default pool: serves devices with no region and no ancestor region, within their DMA
 * mask; never a device with a region of its own; refuses release while used. */
static void test_default_pool(void)
{
    struct dmacoh_sim *sim = sim_new(2);
    struct dmacoh_platform *p = dmacoh_sim_platform(sim);
    struct dmacoh_device root, owner, kid, narrow;
    struct dmacoh_region_stats st;
    void *c[5];
    dmacoh_dma_addr_t h[5];
    int g = 0;

    T_OK(dmacoh_device_init(&root, "root", NULL, p));
    T_OK(dmacoh_device_init(&owner, "owner", NULL, p));
    T_OK(dmacoh_device_init(&kid, "kid", &owner, NULL));
    T_OK(dmacoh_device_init(&narrow, "narrow", NULL, p));
    T_OK(dmacoh_device_set_dma_mask(&narrow, DMACOH_BIT_MASK(31)));
    T_ERR(dmacoh_default_memory_get_stats(p, &st), DMACOH_ENODEV);
    T_ERR(dmacoh_release_default_memory(p, 0), DMACOH_ENODEV);
    T_OK(dmacoh_declare_default_memory(p, MEM_C, DEV_C, 2 * PG, MAPIO, NULL, &g));
    T_EQ_INT(g, DMACOH_MEMORY_MAP);
    T_ERR(dmacoh_declare_default_memory(p, MEM_D, DEV_D, PG, MAP, NULL, &g), DMACOH_EBUSY);
    T_ERR(dmacoh_declare_default_memory(NULL, MEM_D, DEV_D, PG, MAP, NULL, &g), DMACOH_EINVAL);
    region(&owner, "own", MEM_A, DEV_A, PG, MAP | INCL);
    /* A root device without regions: the default pool. */
    T_OK(dmacoh_alloc_coherent(&root, PG, 0, 0, &c[0], &h[0]));
    T_ASSERT(in(h[0], DEV_C, 2 * PG));
    T_EQ_INT(dmacoh_origin_of(&root, c[0]), DMACOH_ORIGIN_REGION);
    T_EQ_PTR(dmacoh_dma_to_virt(&root, h[0]), c[0]);
    /* A device with its own region, and its child: never the pool, even when full. */
    T_OK(dmacoh_alloc_coherent(&owner, PG, 0, 0, &c[1], &h[1]));
    T_ASSERT(in(h[1], DEV_A, PG));
    T_OK(dmacoh_alloc_coherent(&kid, PG, 0, 0, &c[2], &h[2]));
    T_ASSERT(in(h[2], RAM_BASE, RAM_SIZE));
    /* A device whose mask ends below the pool skips it. */
    T_OK(dmacoh_alloc_coherent(&narrow, PG, 0, 0, &c[3], &h[3]));
    T_ASSERT(in(h[3], RAM_BASE, RAM_SIZE));
    T_ERR(dmacoh_alloc_coherent(&narrow, PG, NOFB, 0, &c[4], &h[4]), DMACOH_ENOMEM);
    T_OK(dmacoh_default_memory_get_stats(p, &st));
    T_EQ_U64(st.live, 1);
    T_EQ_U64(st.device_base, DEV_C);
    T_EQ_U64(st.failures, 0); /* skipped, not tried */
    /* Release refused while used, with nothing changed. */
    T_ERR(dmacoh_release_default_memory(p, 0), DMACOH_EBUSY);
    T_ERR(dmacoh_platform_fini(p), DMACOH_EBUSY);
    T_OK(dmacoh_alloc_coherent(&root, PG, 0, 0, &c[4], &h[4]));
    T_ASSERT(in(h[4], DEV_C, 2 * PG));
    T_OK(dmacoh_free_coherent(&root, PG, c[4], h[4]));
    T_ERR(dmacoh_free_coherent(&root, PG, c[0], h[0] + PG), DMACOH_EINVAL);
    T_OK(dmacoh_free_coherent(&root, PG, c[0], h[0]));
    T_OK(dmacoh_release_default_memory(p, 0));
    T_ERR(dmacoh_default_memory_get_stats(p, &st), DMACOH_ENODEV);
    T_OK(dmacoh_alloc_coherent(&root, PG, 0, 0, &c[0], &h[0]));
    T_ASSERT(in(h[0], RAM_BASE, RAM_SIZE));
    T_OK(dmacoh_free_coherent(&root, PG, c[0], h[0]));
    /* Declared again, exclusive: full means no system memory for the devices it serves. */
    T_OK(dmacoh_declare_default_memory(p, MEM_D, DEV_D, PG, MAP | EXCL, NULL, &g));
    T_OK(dmacoh_alloc_coherent(&root, PG, 0, 0, &c[0], &h[0]));
    T_ASSERT(in(h[0], DEV_D, PG));
    T_ERR(dmacoh_alloc_coherent(&root, PG, 0, 0, &c[4], &h[4]), DMACOH_ENOMEM);
    T_OK(dmacoh_release_default_memory(p, DMACOH_RELEASE_FORCE));
    for (unsigned i = 1; i < 4; i++)
        T_OK(dmacoh_free_coherent(i == 1 ? &owner : i == 2 ? &kid : &narrow, PG, c[i], h[i]));
    T_OK(dmacoh_release_coherent_memory(&owner, 0));
    T_OK(dmacoh_device_fini(&kid));
    T_OK(dmacoh_device_fini(&owner));
    T_OK(dmacoh_device_fini(&root));
    T_OK(dmacoh_device_fini(&narrow));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A dma_pool over a device with several regions takes chunks from each in turn, and gives
 * every block back to the right region. */
static void test_dma_pool(void)
{
    struct dmacoh_sim *sim = sim_new(2);
    struct dmacoh_device dev;
    struct dmacoh_pool *pool = NULL;
    void *c[64];
    dmacoh_dma_addr_t h[64];
    unsigned na = 0, nb = 0, ns = 0;

    T_OK(dmacoh_device_init(&dev, "pooled", NULL, dmacoh_sim_platform(sim)));
    region(&dev, "a", MEM_A, DEV_A, 2 * PG, MAP);
    region(&dev, "b", MEM_B, DEV_B, 2 * PG, MAP);
    T_OK(dmacoh_pool_create(&pool, "blocks", &dev, 512, 64, 0, NULL));
    for (unsigned i = 0; i < 64; i++) {
        T_OK(dmacoh_pool_alloc(pool, 0, &c[i], &h[i]));
        na += in(h[i], DEV_A, 2 * PG);
        nb += in(h[i], DEV_B, 2 * PG);
        ns += in(h[i], RAM_BASE, RAM_SIZE);
        T_EQ_U64(dmacoh_virt_to_dma(&dev, c[i]), h[i]);
    }
    /* Both regions filled (8 blocks a page) before any chunk of system memory. */
    T_EQ_INT(na, 16);
    T_EQ_INT(nb, 16);
    T_EQ_INT(ns, 32);
    T_ASSERT(stats_at(&dev, 1, "b").live > 0);
    for (unsigned i = 0; i < 64; i++)
        T_OK(dmacoh_pool_free(pool, c[i], h[i]));
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_pool_destroy(pool, 0));
    T_EQ_U64(stats_at(&dev, 0, "a").live + stats_at(&dev, 1, "b").live, 0);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A dma_pool's chunks remember which region of the list they came from: releasing another
 * region leaves them in use; releasing theirs retires them (their blocks are then refused). */
static void test_dma_pool_release(void)
{
    struct dmacoh_sim *sim = sim_new(1);
    struct dmacoh_device dev;
    struct dmacoh_pool *pool = NULL;
    void *c[17];
    dmacoh_dma_addr_t h[17];
    int inb = -1;

    T_OK(dmacoh_device_init(&dev, "pooled", NULL, dmacoh_sim_platform(sim)));
    region(&dev, "a", MEM_A, DEV_A, PG, MAP);
    region(&dev, "b", MEM_B, DEV_B, PG, MAP);
    region(&dev, "c", MEM_C, DEV_C, PG, MAP);
    T_OK(dmacoh_pool_create(&pool, "blocks", &dev, 512, 64, 0, NULL));
    for (unsigned i = 0; i < 16; i++) {
        T_OK(dmacoh_pool_alloc(pool, 0, &c[i], &h[i]));
        if (in(h[i], DEV_B, PG))
            inb = (int)i;
    }
    T_ASSERT(inb >= 0);
    T_EQ_U64(stats_at(&dev, 0, "a").live, 1); /* one chunk of a page in each */
    T_EQ_U64(stats_at(&dev, 1, "b").live, 1);
    T_EQ_U64(stats_at(&dev, 2, "c").live, 0);
    /* Another region released: b's chunk stays in use. */
    T_OK(dmacoh_release_region(&dev, "c", 0));
    t_log_reset();
    T_OK(dmacoh_pool_alloc(pool, 0, &c[16], &h[16]));
    T_ASSERT(!t_log_find("released under it"));
    T_OK(dmacoh_pool_free(pool, c[16], h[16]));
    T_OK(dmacoh_pool_free(pool, c[inb], h[inb]));
    T_OK(dmacoh_pool_alloc(pool, 0, &c[inb], &h[inb]));
    T_ASSERT(in(h[inb], DEV_B, PG));
    /* b released under the pool: its chunk retired, its blocks refused. */
    T_OK(dmacoh_release_region(&dev, "b", DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_pool_alloc(pool, 0, &c[16], &h[16]));
    T_ASSERT(t_log_find("released under it"));
    T_ASSERT(dmacoh_pool_free(pool, c[inb], h[inb]) != 0);
    T_OK(dmacoh_pool_free(pool, c[16], h[16]));
    for (unsigned i = 0; i < 15; i++)
        if (in(h[i], DEV_A, PG))
            T_OK(dmacoh_pool_free(pool, c[i], h[i]));
    T_OK(dmacoh_pool_destroy(pool, 0));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* The debug mode records allocations of every region, and its report of what a release leaves
 * outstanding names the region. */
static void test_debug_names_region(void)
{
    struct dmacoh_sim *sim = sim_new(2);
    struct dmacoh_platform *p = dmacoh_sim_platform(sim);
    struct dmacoh_device dev, root;
    void *x, *y, *z;
    dmacoh_dma_addr_t hx, hy, hz;

    T_OK(dmacoh_debug_set(DMACOH_DEBUG_RECORD | DMACOH_DEBUG_POISON));
    T_OK(dmacoh_device_init(&dev, "dbg", NULL, p));
    T_OK(dmacoh_device_init(&root, "root", NULL, p));
    region(&dev, "a", MEM_A, DEV_A, PG, MAP);
    region(&dev, "fifo", MEM_B, DEV_B, PG, MAP);
    T_OK(dmacoh_declare_default_memory(p, MEM_C, DEV_C, PG, MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &x, &hx));
    T_OK(dmacoh_alloc_coherent_from(&dev, "fifo", 64, 0, 0, &y, &hy));
    T_OK(dmacoh_alloc_coherent(&root, PG, 0, 0, &z, &hz));
    T_ASSERT(in(hy, DEV_B, PG) && in(hz, DEV_C, PG));
    /* The debug mode knows the exact size even from a named region. */
    T_ERR(dmacoh_free_coherent(&dev, 128, y, hy), DMACOH_EINVAL);
    T_ASSERT(t_log_find("wrong size"));
    t_log_reset();
    T_ERR(dmacoh_release_region(&dev, "fifo", 0), DMACOH_EBUSY);
    T_ASSERT(t_log_find("outstanding at release of 'dbg' region 'fifo'"));
    t_log_reset();
    T_ERR(dmacoh_release_default_memory(p, 0), DMACOH_EBUSY);
    T_ASSERT(t_log_find("outstanding at release of 'default pool'"));
    T_OK(dmacoh_release_region(&dev, "fifo", DMACOH_RELEASE_FORCE));
    T_ERR(dmacoh_free_coherent(&dev, 64, y, hy), DMACOH_EFAULT);
    T_ASSERT(t_log_find("free after its region was released"));
    T_OK(dmacoh_free_coherent(&dev, PG, x, hx));
    T_OK(dmacoh_free_coherent(&root, PG, z, hz));
    T_OK(dmacoh_release_default_memory(p, 0));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_device_fini(&root));
    T_OK(dmacoh_debug_set(0));
    T_OK(dmacoh_sim_destroy(sim));
}

struct thr {
    struct dmacoh_device *dev;
    unsigned seed;
    int errors;
};

static void *churn(void *arg)
{
    struct thr *t = arg;
    uint64_t s = t->seed;
    void *c[8] = {0};
    dmacoh_dma_addr_t h[8] = {0};
    size_t sz[8] = {0};

    for (unsigned i = 0; i < 20000; i++) {
        unsigned k = (unsigned)(t_rand(&s) % 8);

        if (c[k]) {
            t->errors += dmacoh_free_coherent(t->dev, sz[k], c[k], h[k]) != 0;
            c[k] = NULL;
        } else {
            sz[k] = (size_t)((1 + t_rand(&s) % 4) * PG);
            if (dmacoh_alloc_coherent(t->dev, sz[k], 0, 0, &c[k], &h[k]))
                t->errors++;
            else if (dmacoh_virt_to_dma(t->dev, c[k]) != h[k])
                t->errors++;
        }
    }
    for (unsigned k = 0; k < 8; k++)
        if (c[k])
            t->errors += dmacoh_free_coherent(t->dev, sz[k], c[k], h[k]) != 0;
    return NULL;
}

/* Threads allocating and freeing over a list (the per-thread caches of each region). */
static void test_threads(void)
{
    struct dmacoh_sim *sim = sim_new(16);
    struct dmacoh_device dev;
    pthread_t th[3];
    struct thr t[3];

    T_OK(dmacoh_device_init(&dev, "thr", NULL, dmacoh_sim_platform(sim)));
    region(&dev, "a", MEM_A, DEV_A, 16 * PG, MAP);
    region(&dev, "b", MEM_B, DEV_B, 16 * PG, MAP);
    for (unsigned i = 0; i < 3; i++) {
        t[i] = (struct thr){&dev, 17u + i, 0};
        T_ASSERT(pthread_create(&th[i], NULL, churn, &t[i]) == 0);
    }
    for (unsigned i = 0; i < 3; i++) {
        T_ASSERT(pthread_join(th[i], NULL) == 0);
        T_EQ_INT(t[i].errors, 0);
    }
    T_ASSERT(dmacoh_check(&dev));
    T_EQ_U64(stats_at(&dev, 0, "a").live + stats_at(&dev, 1, "b").live, 0);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* Threads on two devices that the default pool serves at once: one allocator between them,
 * and every block freed back to it through the device that allocated it. */
static void test_default_threads(void)
{
    struct dmacoh_sim *sim = sim_new(16);
    struct dmacoh_platform *p = dmacoh_sim_platform(sim);
    struct dmacoh_device dev[2];
    struct dmacoh_region_stats st;
    pthread_t th[4];
    struct thr t[4];
    int g;

    T_OK(dmacoh_device_init(&dev[0], "left", NULL, p));
    T_OK(dmacoh_device_init(&dev[1], "right", NULL, p));
    T_OK(dmacoh_declare_default_memory(p, MEM_A, DEV_A, 16 * PG, MAP, NULL, &g));
    for (unsigned i = 0; i < 4; i++) {
        t[i] = (struct thr){&dev[i % 2], 31u + i, 0};
        T_ASSERT(pthread_create(&th[i], NULL, churn, &t[i]) == 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        T_ASSERT(pthread_join(th[i], NULL) == 0);
        T_EQ_INT(t[i].errors, 0);
    }
    T_OK(dmacoh_default_memory_get_stats(p, &st));
    T_EQ_U64(st.live, 0);
    T_EQ_U64(st.in_use, 0);
    T_ASSERT(st.allocs > 0 && st.allocs == st.frees);
    T_OK(dmacoh_release_default_memory(p, 0));
    T_OK(dmacoh_device_fini(&dev[0]));
    T_OK(dmacoh_device_fini(&dev[1]));
    T_OK(dmacoh_sim_destroy(sim));
}

/* Frees through a device that does not hold the block: another device served by the default
 * pool, the ancestor whose INCLUDES_CHILDREN region serves the holder's sibling, and a device
 * after the default pool was released under its block. Each is refused and changes nothing. */
static void test_free_across_devices(void)
{
    struct dmacoh_sim *sim = sim_new(4);
    struct dmacoh_platform *p = dmacoh_sim_platform(sim);
    struct dmacoh_device par, kid, x, y;
    struct dmacoh_region_stats st;
    void *b, *k, *d;
    dmacoh_dma_addr_t hb, hk, hd;
    int g;

    T_OK(dmacoh_device_init(&par, "par", NULL, p));
    T_OK(dmacoh_device_init(&kid, "kid", &par, NULL));
    T_OK(dmacoh_device_init(&x, "x", &par, NULL));
    T_OK(dmacoh_device_init(&y, "y", NULL, p));
    region(&par, "up", MEM_A, DEV_A, 2 * PG, MAP | INCL);
    region(&x, "a", MEM_B, DEV_B, PG, MAP);
    region(&x, "b", MEM_B + PG, DEV_B + PG, PG, MAP);
    T_OK(dmacoh_declare_default_memory(p, MEM_C, DEV_C, 2 * PG, MAP, NULL, &g));
    T_OK(dmacoh_alloc_coherent_from(&x, "b", PG, 0, 0, &b, &hb));
    T_OK(dmacoh_alloc_coherent(&kid, PG, 0, 0, &k, &hk));
    T_OK(dmacoh_alloc_coherent(&y, PG, 0, 0, &d, &hd));
    T_ASSERT(in(hb, DEV_B + PG, PG) && in(hk, DEV_A, 2 * PG) && in(hd, DEV_C, 2 * PG));
    /* x's block through y (default pool) and through the parent; the kid's through x, which
     * has regions of its own but is also a child of par. */
    T_ERR(dmacoh_free_coherent(&y, PG, b, hb), DMACOH_EFAULT);
    T_ERR(dmacoh_free_coherent(&par, PG, b, hb), DMACOH_EFAULT);
    T_EQ_U64(stats_at(&x, 1, "b").live, 1);
    T_OK(dmacoh_free_coherent(&x, PG, k, hk)); /* par's region serves x's children too: found */
    T_OK(dmacoh_alloc_coherent(&kid, PG, 0, 0, &k, &hk));
    /* The default pool's block through x: x is served by par's region, but the default pool
     * holds the pointer, so the free reaches it. */
    T_EQ_INT(dmacoh_origin_of(&x, d), DMACOH_ORIGIN_REGION);
    t_log_reset();
    T_ERR(dmacoh_platform_fini(p), DMACOH_EBUSY);
    T_ASSERT(t_log_find("the default pool is still declared"));
    /* Released under y's block: the free is refused, in every build. */
    T_OK(dmacoh_release_default_memory(p, DMACOH_RELEASE_FORCE));
    T_ERR(dmacoh_default_memory_get_stats(p, &st), DMACOH_ENODEV);
    T_ASSERT(dmacoh_free_coherent(&y, PG, d, hd) < 0);
    T_OK(dmacoh_free_coherent(&x, PG, b, hb));
    T_OK(dmacoh_free_coherent(&kid, PG, k, hk));
    T_OK(dmacoh_release_coherent_memory(&x, 0));
    T_OK(dmacoh_release_coherent_memory(&par, 0));
    T_ERR(dmacoh_platform_fini(p), DMACOH_EBUSY); /* devices still initialised */
    T_OK(dmacoh_device_fini(&kid));
    T_OK(dmacoh_device_fini(&x));
    T_OK(dmacoh_device_fini(&par));
    T_OK(dmacoh_device_fini(&y));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A default pool that the DMA mask cuts in two: the part below is used, then system memory. */
static void test_default_partly_above_mask(void)
{
    struct dmacoh_sim *sim = sim_new(4);
    struct dmacoh_platform *p = dmacoh_sim_platform(sim);
    struct dmacoh_device n;
    struct dmacoh_region_stats st;
    void *c[3];
    dmacoh_dma_addr_t h[3];
    int g;

    T_OK(dmacoh_device_init(&n, "n", NULL, p));
    T_OK(dmacoh_device_set_dma_mask(&n, DMACOH_BIT_MASK(32)));
    T_OK(dmacoh_declare_default_memory(p, MEM_C, UINT64_C(0xfffff000), 4 * PG, MAP, NULL, &g));
    T_OK(dmacoh_alloc_coherent(&n, PG, 0, 0, &c[0], &h[0]));
    T_EQ_U64(h[0], UINT64_C(0xfffff000));
    T_OK(dmacoh_alloc_coherent(&n, PG, 0, 0, &c[1], &h[1]));
    T_ASSERT(in(h[1], RAM_BASE, RAM_SIZE));
    T_ERR(dmacoh_alloc_coherent(&n, PG, NOFB, 0, &c[2], &h[2]), DMACOH_ENOMEM);
    T_OK(dmacoh_default_memory_get_stats(p, &st));
    T_EQ_U64(st.live, 1);
    T_EQ_U64(st.fallbacks, 1);
    for (unsigned i = 0; i < 2; i++)
        T_OK(dmacoh_free_coherent(&n, PG, c[i], h[i]));
    T_OK(dmacoh_release_default_memory(p, 0));
    T_OK(dmacoh_device_fini(&n));
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- randomised run against a model ---- */

#define NREG  4
#define NLIVE 64

struct mlive {
    void *cpu;
    dmacoh_dma_addr_t h;
    size_t size;
    int reg; /* model: index into the fixed region table, -1 system */
};

static const uint64_t reg_bus[NREG] = {MEM_A, MEM_B, MEM_C, MEM_D};
static const uint64_t reg_dev[NREG] = {DEV_A, DEV_B, DEV_C, DEV_D};
static const char *const reg_name[NREG] = {"r0", "r1", "r2", "r3"};

/* Which fixed region holds device address h, or -1. */
static int which(dmacoh_dma_addr_t h)
{
    for (int r = 0; r < NREG; r++)
        if (in(h, reg_dev[r], 4 * PG))
            return r;
    return -1;
}

static void test_random_model(void)
{
    struct dmacoh_sim *sim = sim_new(4);
    struct dmacoh_device dev;
    struct mlive l[NLIVE] = {0};
    bool declared[NREG] = {false};
    unsigned live[NREG] = {0};
    int order[NREG], n = 0; /* the model's list: region indices in order of declaration */
    uint64_t s = 0x5eed;

    T_OK(dmacoh_device_init(&dev, "model", NULL, dmacoh_sim_platform(sim)));
    for (unsigned step = 0; step < 4000; step++) {
        unsigned op = (unsigned)(t_rand(&s) % 10), k = (unsigned)(t_rand(&s) % NLIVE);
        int r = (int)(t_rand(&s) % NREG);

        if (op == 0 && !declared[r]) {
            region(&dev, reg_name[r], reg_bus[r], reg_dev[r], 4 * PG, MAP);
            declared[r] = true;
            order[n++] = r;
        } else if (op == 1 && declared[r]) {
            int e = dmacoh_release_region(&dev, reg_name[r], 0);

            T_EQ_INT(e, live[r] ? DMACOH_EBUSY : 0);
            if (e == 0) {
                int j = 0;

                declared[r] = false;
                while (order[j] != r)
                    j++;
                for (; j + 1 < n; j++)
                    order[j] = order[j + 1];
                n--;
            }
        } else if (op <= 5 && !l[k].cpu) {
            bool from = op == 5 && declared[r];
            int e;

            l[k].size = (size_t)((1 + t_rand(&s) % 3) * PG - t_rand(&s) % 64);
            e = from ? dmacoh_alloc_coherent_from(&dev, reg_name[r], l[k].size, 0, 0, &l[k].cpu,
                                                  &l[k].h)
                     : dmacoh_alloc_coherent(&dev, l[k].size, 0, 0, &l[k].cpu, &l[k].h);
            if (e) {
                T_ASSERT(from); /* only a named region can be full without fallback */
                T_EQ_INT(e, DMACOH_ENOMEM);
                l[k].cpu = NULL;
                continue;
            }
            l[k].reg = which(l[k].h);
            if (from)
                T_EQ_INT(l[k].reg, r);
            /* Never a later region while an earlier one had room: checked loosely, the
             * region used is declared, and system memory only with the list in use. */
            T_ASSERT(l[k].reg < 0 ? in(l[k].h, RAM_BASE, RAM_SIZE) : declared[l[k].reg]);
            if (!from && n > 0 && l[k].reg >= 0 && l[k].reg != order[0]) {
                struct dmacoh_region_stats st0 = stats_at(&dev, 0, reg_name[order[0]]);

                T_ASSERT(st0.failures > 0);
            }
            if (l[k].reg >= 0)
                live[l[k].reg]++;
        } else if (l[k].cpu) {
            unsigned o = (unsigned)(t_rand(&s) % NLIVE);

            /* Sometimes first with another live allocation's handle: refused. */
            if (op == 9 && l[o].cpu && o != k && l[o].h != l[k].h)
                T_ERR(dmacoh_free_coherent(&dev, l[k].size, l[k].cpu, l[o].h), DMACOH_EINVAL);
            T_OK(dmacoh_free_coherent(&dev, l[k].size, l[k].cpu, l[k].h));
            if (l[k].reg >= 0)
                live[l[k].reg]--;
            l[k].cpu = NULL;
        }
        if (step % 97 == 0) {
            T_ASSERT(dmacoh_check(&dev));
            for (int j = 0; j < n; j++)
                T_EQ_U64(stats_at(&dev, (unsigned)j, reg_name[order[j]]).live, live[order[j]]);
        }
    }
    for (unsigned k = 0; k < NLIVE; k++)
        if (l[k].cpu)
            T_OK(dmacoh_free_coherent(&dev, l[k].size, l[k].cpu, l[k].h));
    T_ASSERT(dmacoh_check(&dev));
    if (n)
        T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A name handed out by dmacoh_region_get_stats_at() stays its region's while earlier regions
 * are released (the list moves up, the names do not) and later ones declared. */
static void test_names_stay(void)
{
    struct dmacoh_sim *sim = sim_new(1);
    struct dmacoh_device dev;
    struct dmacoh_region_stats st;
    const char *na = NULL, *nb = NULL, *nc = NULL, *nd = NULL;

    T_OK(dmacoh_device_init(&dev, "names", NULL, dmacoh_sim_platform(sim)));
    region(&dev, "a", MEM_A, DEV_A, PG, MAP);
    region(&dev, "b", MEM_B, DEV_B, PG, MAP);
    region(&dev, "c", MEM_C, DEV_C, PG, MAP);
    T_OK(dmacoh_region_get_stats_at(&dev, 0, &st, &na));
    T_OK(dmacoh_region_get_stats_at(&dev, 1, &st, &nb));
    T_OK(dmacoh_region_get_stats_at(&dev, 2, &st, &nc));
    T_OK(dmacoh_release_region(&dev, "a", 0));
    T_ASSERT(strcmp(nb, "b") == 0 && strcmp(nc, "c") == 0);
    T_ASSERT(strcmp(na, "") == 0); /* a released region's name reads empty */
    region(&dev, "d", MEM_D, DEV_D, PG, MAP);
    T_ASSERT(strcmp(nb, "b") == 0 && strcmp(nc, "c") == 0);
    T_EQ_U64(stats_at(&dev, 0, "b").device_base, DEV_B);
    T_EQ_U64(stats_at(&dev, 1, "c").device_base, DEV_C);
    T_OK(dmacoh_region_get_stats_at(&dev, 2, &st, &nd));
    T_ASSERT(strcmp(nd, "d") == 0 && st.device_base == DEV_D);
    T_OK(dmacoh_release_region(&dev, "c", 0));
    T_ASSERT(strcmp(nb, "b") == 0 && strcmp(nd, "d") == 0);
    /* The invariant check sees two regions given one name slot. */
    T_ASSERT(dmacoh_check(&dev));
    {
        uint8_t keep = dev.name_slot[1];

        dev.name_slot[1] = dev.name_slot[0];
        t_log_reset();
        T_ASSERT(!dmacoh_check(&dev));
        T_ASSERT(t_log_find("name slot"));
        dev.name_slot[1] = keep;
    }
    T_ERR(dmacoh_release_region(&dev, "c", 0), DMACOH_ENOENT);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* dmacoh_mark_declared_memory_occupied takes the range out of the region of dev's list that
 * holds it, not only out of the first; a range in none, or across two, is refused. */
static void test_mark_occupied_list(void)
{
    struct dmacoh_sim *sim = sim_new(2);
    struct dmacoh_device dev;
    void *c = NULL, *x = NULL;
    dmacoh_dma_addr_t h;

    T_OK(dmacoh_device_init(&dev, "mbox", NULL, dmacoh_sim_platform(sim)));
    region(&dev, "a", MEM_A, DEV_A, 2 * PG, MAP);
    region(&dev, "b", MEM_B, DEV_B, 2 * PG, MAP);
    T_OK(dmacoh_mark_declared_memory_occupied(&dev, DEV_B + PG, PG, &c));
    T_EQ_U64(dmacoh_virt_to_dma(&dev, c), DEV_B + PG);
    T_EQ_U64(stats_at(&dev, 1, "b").occupied, PG);
    T_EQ_U64(stats_at(&dev, 0, "a").occupied, 0);
    T_ERR(dmacoh_mark_declared_memory_occupied(&dev, DEV_B + PG, PG, &x), DMACOH_EBUSY);
    t_log_reset();
    T_ERR(dmacoh_mark_declared_memory_occupied(&dev, DEV_C, PG, &x), DMACOH_ERANGE);
    T_ASSERT(t_log_find("not inside one of its regions"));
    T_ERR(dmacoh_mark_declared_memory_occupied(&dev, DEV_B + PG, 2 * PG, &x), DMACOH_ERANGE);
    T_ASSERT(x == NULL);
    /* b has one free page left, a two. */
    T_OK(dmacoh_alloc_coherent_from(&dev, "b", PG, 0, 0, &x, &h));
    T_EQ_U64(h, DEV_B);
    T_OK(dmacoh_free_coherent(&dev, PG, x, h));
    T_OK(dmacoh_mark_declared_memory_occupied(&dev, DEV_A, PG, &x));
    T_EQ_U64(stats_at(&dev, 0, "a").occupied, PG);
    T_OK(dmacoh_release_coherent_memory(&dev, 0)); /* occupied ranges are not outstanding */
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A device whose DMA mask ends below the whole default pool is served as if there were none:
 * a dma_pool's chunk comes from system memory without a failure counted on the device. */
static void test_default_above_mask_pool(void)
{
    struct dmacoh_sim *sim = sim_new(4);
    struct dmacoh_platform *p = dmacoh_sim_platform(sim);
    struct dmacoh_device n;
    struct dmacoh_pool *pool = NULL;
    void *c;
    dmacoh_dma_addr_t h;
    uint64_t fb = 0, fl = 0;
    int g;

    T_OK(dmacoh_device_init(&n, "narrow", NULL, p));
    T_OK(dmacoh_device_set_dma_mask(&n, DMACOH_BIT_MASK(32)));
    T_OK(dmacoh_declare_default_memory(p, MEM_C, UINT64_C(0x100000000), 4 * PG, MAPIO, NULL, &g));
    T_OK(dmacoh_pool_create(&pool, "blocks", &n, 512, 64, 0, NULL));
    t_log_reset();
    T_OK(dmacoh_pool_alloc(pool, 0, &c, &h));
    T_ASSERT(in(h, RAM_BASE, RAM_SIZE));
    T_ASSERT(!t_log_find("no room"));
    dmacoh_device_counters(&n, &fb, &fl);
    T_EQ_U64(fl, 0);
    T_EQ_U64(fb, 1);
    T_OK(dmacoh_pool_free(pool, c, h));
    T_OK(dmacoh_pool_destroy(pool, 0));
    T_OK(dmacoh_release_default_memory(p, 0));
    T_OK(dmacoh_device_fini(&n));
    T_OK(dmacoh_sim_destroy(sim));
}

static const struct t_case cases[] = {

    T_CASE(test_order_own_list),
    T_CASE(test_exclusive_nofallback),
    T_CASE(test_alloc_from),
    T_CASE(test_free_routing),
    T_CASE(test_release_one),
    T_CASE(test_declare_checks),
    T_CASE(test_ancestor_list),
    T_CASE(test_default_pool),
    T_CASE(test_dma_pool),
    T_CASE(test_dma_pool_release),
    T_CASE(test_debug_names_region),
    T_CASE(test_threads),
    T_CASE(test_random_model),
    T_CASE(test_names_stay),
    T_CASE(test_mark_occupied_list),
    T_CASE(test_default_above_mask_pool),
    T_CASE(test_default_threads),
    T_CASE(test_free_across_devices),
    T_CASE(test_default_partly_above_mask),
};

T_MAIN(cases)
