/* SPDX-License-Identifier: MIT */
/*
 * test_debug.c - the debug mode (dmacoh/debug.h): each misuse it adds is detected, returned as
 * an error and reported with its sites; each test fails with the mode off (the calls succeed,
 * or the report lacks the sites). Poisoning, the dump, the environment switch, metadata
 * exhaustion, and no false report on correct use (a pool, a toggle of the mode).
 */
#include "faultplat.h"
#include "fixture.h"
#include "t.h"

#include <dmacoh/baremetal.h>
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUS  0xd0000000u
#define SIZE (64u * 1024u)

struct rig {
    struct dmacoh_sim *sim;
    struct dmacoh_device root, child;
};

/* A root with a region for itself and its children, and one child; debug mode on. */
static void up(struct rig *g, int mode)
{
    struct dmacoh_sim_memory m = {BUS, SIZE, mode, false, 0};

    T_OK(dmacoh_debug_set(DMACOH_DEBUG_RECORD | DMACOH_DEBUG_POISON));
    T_OK(dmacoh_sim_create(NULL, &g->sim));
    T_OK(dmacoh_sim_add_memory(g->sim, &m));
    T_OK(dmacoh_device_init(&g->root, "root", NULL, dmacoh_sim_platform(g->sim)));
    T_OK(dmacoh_device_init(&g->child, "child", &g->root, NULL));
    T_OK(dmacoh_declare_coherent_memory(&g->root, BUS, 0, SIZE,
                                        mode | DMACOH_MEMORY_INCLUDES_CHILDREN, NULL, NULL));
}

static void down(struct rig *g)
{
    T_OK(dmacoh_device_fini(&g->child));
    T_OK(dmacoh_release_coherent_memory(&g->root, 0));
    T_OK(dmacoh_device_fini(&g->root));
    T_OK(dmacoh_sim_destroy(g->sim));
    T_OK(dmacoh_debug_set(0));
}

static uint64_t reports(void)
{
    struct dmacoh_debug_stats st;

    T_OK(dmacoh_debug_get_stats(&st));
    return st.reports;
}

/* 100 and 200 bytes round to the same page: only the record tells them apart. */
static void free_with_wrong_size_refused(void)
{
    struct rig g;
    void *c;
    dmacoh_dma_addr_t h;
    uint64_t r0;

    up(&g, DMACOH_MEMORY_MAP);
    r0 = reports();
    T_OK(dmacoh_alloc_coherent(&g.root, 100, 0, 0, &c, &h));
    T_ERR(dmacoh_free_coherent(&g.root, 200, c, h), DMACOH_EINVAL);
    T_ASSERT(t_log_find("free with the wrong size"));
    T_ASSERT(t_log_find("allocated for 'root' (size 100"));
    T_EQ_U64(reports(), r0 + 1);
    T_OK(dmacoh_free_coherent(&g.root, 100, c, h));
    down(&g);
}

static void free_with_wrong_handle_names_sites(void)
{
    struct rig g;
    void *c;
    dmacoh_dma_addr_t h;

    up(&g, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&g.root, 4096, 0, 0, &c, &h));
    T_ERR(dmacoh_free_coherent(&g.root, 4096, c, h + 4096), DMACOH_EINVAL);
    T_ASSERT(t_log_find("free with the wrong handle"));
    T_ASSERT(t_log_find(") at 0x")); /* the allocation site */
    T_OK(dmacoh_free_coherent(&g.root, 4096, c, h));
    down(&g);
}

/* The child's memory comes from the root's region, so the core alone cannot tell the devices
 * apart; nor can it for system memory. */
static void free_with_wrong_device_refused(void)
{
    struct rig g;
    void *c, *s;
    dmacoh_dma_addr_t h, hs;

    up(&g, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&g.child, 4096, 0, 0, &c, &h));
    T_ERR(dmacoh_free_coherent(&g.root, 4096, c, h), DMACOH_EINVAL);
    T_ASSERT(t_log_find("free with the wrong device"));
    T_ASSERT(t_log_find("allocated for 'child'"));
    T_OK(dmacoh_alloc_coherent(&g.child, 128 * 1024, 0, 0, &s, &hs)); /* too big: system */
    T_EQ_INT(dmacoh_origin_of(&g.child, s), DMACOH_ORIGIN_SYSTEM);
    T_ERR(dmacoh_free_coherent(&g.root, 128 * 1024, s, hs), DMACOH_EINVAL);
    T_OK(dmacoh_free_coherent(&g.child, 128 * 1024, s, hs));
    T_OK(dmacoh_free_coherent(&g.child, 4096, c, h));
    down(&g);
}

static void double_free_names_both_sites(void)
{
    struct rig g;
    void *c;
    dmacoh_dma_addr_t h;

    up(&g, DMACOH_MEMORY_IO);
    T_OK(dmacoh_alloc_coherent(&g.root, 4096, 0, 0, &c, &h));
    T_OK(dmacoh_free_coherent(&g.root, 4096, c, h));
    T_ERR(dmacoh_free_coherent(&g.root, 4096, c, h), DMACOH_EFAULT);
    T_ASSERT(t_log_find("double free of"));
    T_ASSERT(t_log_find(": freed at 0x"));
    T_ASSERT(dmacoh_check(&g.root));
    down(&g);
}

static void free_of_never_allocated_named(void)
{
    struct rig g;
    void *c, *o;
    dmacoh_dma_addr_t h;

    up(&g, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&g.root, 4096, 0, 0, &c, &h)); /* the state exists */
    o = dmacoh_dma_to_virt(&g.root, 0x8000);
    T_ERR(dmacoh_free_coherent(&g.root, 4096, o, 0x8000), DMACOH_EFAULT);
    T_ASSERT(t_log_find("never allocated"));
    T_OK(dmacoh_free_coherent(&g.root, 4096, c, h));
    down(&g);
}

/* Memory freed, then marked occupied: its free is refused as for any occupied range (the
 * stale record does not turn it into a double free). Found by the fuzzer. */
static void free_of_occupied_after_free_is_eperm(void)
{
    struct rig g;
    void *c, *o;
    dmacoh_dma_addr_t h;

    up(&g, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&g.root, 4096, 0, 0, &c, &h));
    T_OK(dmacoh_free_coherent(&g.root, 4096, c, h));
    T_OK(dmacoh_mark_declared_memory_occupied(&g.root, h, 4096, &o));
    T_EQ_PTR(o, c);
    T_ERR(dmacoh_free_coherent(&g.root, 4096, c, h), DMACOH_EPERM);
    T_ASSERT(!t_log_find("double free"));
    down(&g);
}

static void free_after_release_named(void)
{
    struct rig g;
    void *c;
    dmacoh_dma_addr_t h;

    up(&g, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&g.root, 4096, 0, 0, &c, &h));
    T_OK(dmacoh_release_coherent_memory(&g.root, DMACOH_RELEASE_FORCE));
    T_ASSERT(t_log_find("outstanding at release of 'root': 4096 bytes"));
    T_ERR(dmacoh_free_coherent(&g.root, 4096, c, h), DMACOH_EFAULT);
    T_ASSERT(t_log_find("free after its region was released"));
    T_ASSERT(t_log_find(": released at 0x"));
    T_OK(dmacoh_declare_coherent_memory(
        &g.root, BUS, 0, SIZE, DMACOH_MEMORY_MAP | DMACOH_MEMORY_INCLUDES_CHILDREN, NULL, NULL));
    down(&g);
}

static void use_after_fini_named(void)
{
    struct rig g;
    struct dmacoh_device gone;
    void *c;
    dmacoh_dma_addr_t h;

    up(&g, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_device_init(&gone, "gone", NULL, dmacoh_sim_platform(g.sim)));
    T_OK(dmacoh_device_fini(&gone));
    T_ERR(dmacoh_alloc_coherent(&gone, 4096, 0, 0, &c, &h), DMACOH_EINVAL);
    T_ASSERT(t_log_find("retired by dmacoh_device_fini"));
    T_ERR(dmacoh_device_fini(&gone), DMACOH_EINVAL);
    T_ERR(dmacoh_declare_coherent_memory(&gone, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_EINVAL);
    down(&g);
}

/* A child can be retired while memory it took from its parent's region (or system memory)
 * is outstanding: debug mode refuses, listing each allocation. */
static void leaks_at_fini_listed_and_refused(void)
{
    struct rig g;
    void *c, *s;
    dmacoh_dma_addr_t h, hs;

    up(&g, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&g.child, 8192, 0, 0, &c, &h));
    T_OK(dmacoh_alloc_coherent(&g.child, 128 * 1024, 0, 0, &s, &hs));
    T_ERR(dmacoh_device_fini(&g.child), DMACOH_EBUSY);
    T_ASSERT(t_log_find("outstanding at fini of 'child': 8192 bytes"));
    T_ASSERT(t_log_find("outstanding at fini of 'child': 131072 bytes"));
    T_ASSERT(t_log_find("2 allocations outstanding"));
    T_OK(dmacoh_free_coherent(&g.child, 8192, c, h));
    T_OK(dmacoh_free_coherent(&g.child, 128 * 1024, s, hs));
    down(&g);
}

static void leaks_at_release_listed(void)
{
    struct rig g;
    void *c[2];
    dmacoh_dma_addr_t h[2];

    up(&g, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&g.root, 4096, 0, 0, &c[0], &h[0]));
    T_OK(dmacoh_alloc_coherent(&g.child, 12288, 0, 0, &c[1], &h[1]));
    T_ERR(dmacoh_release_coherent_memory(&g.root, 0), DMACOH_EBUSY);
    T_ASSERT(t_log_find("outstanding at release of 'root': 4096 bytes"));
    T_ASSERT(t_log_find("outstanding at release of 'root': 12288 bytes"));
    T_ASSERT(t_log_find("for 'child', allocated at 0x"));
    T_OK(dmacoh_free_coherent(&g.root, 4096, c[0], h[0]));
    T_OK(dmacoh_free_coherent(&g.child, 12288, c[1], h[1]));
    down(&g);
}

/* Two bare-metal platforms over the same memory, and a region over live system memory: the
 * bus-range check of each platform cannot see either. */
static void overlapping_declarations_refused(void)
{
    static uint64_t arena[2][8192], ram_meta[512];
    struct dmacoh_baremetal bm[2];
    struct dmacoh_baremetal_config cfg;
    struct dmacoh_device a, b;
    unsigned char *mem = aligned_alloc(1u << 20, 2u << 20);
    uint64_t bus = 0x20000000u;
    void *c;
    dmacoh_dma_addr_t h;

    T_ASSERT(mem != NULL);
    T_OK(dmacoh_debug_set(DMACOH_DEBUG_RECORD));
    for (int i = 0; i < 2; i++) {
        memset(&cfg, 0, sizeof(cfg));
        cfg.cpu_offset = (uint64_t)(uintptr_t)mem - bus;
        cfg.modes = DMACOH_MEMORY_MAP;
        cfg.meta_arena = arena[i];
        cfg.meta_arena_size = sizeof(arena[i]);
        if (i == 0) { /* RAM for fallback in the second MiB */
            cfg.ram_bus = bus + (1u << 20);
            cfg.ram_size = 1u << 20;
            cfg.ram_meta = ram_meta;
            cfg.ram_meta_size = sizeof(ram_meta);
        }
        T_OK(dmacoh_baremetal_init(&bm[i], &cfg));
    }
    T_OK(dmacoh_device_init(&a, "a", NULL, &bm[0].plat));
    T_OK(dmacoh_device_init(&b, "b", NULL, &bm[1].plat));
    T_OK(dmacoh_declare_coherent_memory(&a, bus, bus, 65536, DMACOH_MEMORY_MAP, NULL, NULL));
    T_ERR(dmacoh_declare_coherent_memory(&b, bus + 32768, bus + 32768, 65536, DMACOH_MEMORY_MAP,
                                         NULL, NULL),
          DMACOH_EBUSY);
    T_ASSERT(t_log_find("overlaps another region or live system memory"));
    T_ASSERT(!dmacoh_device_has_region(&b));
    T_OK(dmacoh_release_coherent_memory(&a, 0));
    T_OK(dmacoh_alloc_coherent(&a, 4096, 0, 0, &c, &h)); /* system memory, first page of RAM */
    T_EQ_U64(h, bus + (1u << 20));
    T_ERR(dmacoh_declare_coherent_memory(&b, bus + (1u << 20), 0, 65536, DMACOH_MEMORY_MAP, NULL,
                                         NULL),
          DMACOH_EBUSY);
    T_OK(dmacoh_free_coherent(&a, 4096, c, h));
    T_OK(dmacoh_device_fini(&a));
    T_OK(dmacoh_device_fini(&b));
    T_OK(dmacoh_baremetal_fini(&bm[1]));
    T_OK(dmacoh_baremetal_fini(&bm[0]));
    T_OK(dmacoh_debug_set(0));
    free(mem);
}

struct seen {
    unsigned n;
    uint64_t bytes;
    bool region, system;
};

static int count(void *user, const struct dmacoh_debug_record *r)
{
    struct seen *s = (struct seen *)user;

    s->n++;
    s->bytes += r->size;
    s->region |= r->region;
    s->system |= !r->region;
    T_ASSERT(r->site != NULL);
    return 0;
}

static void dump_lists_outstanding(void)
{
    struct rig g;
    struct seen s = {0};
    void *c[3];
    dmacoh_dma_addr_t h[3];

    up(&g, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&g.root, 100, 0, 0, &c[0], &h[0]));
    T_OK(dmacoh_alloc_coherent(&g.child, 200, 0, 0, &c[1], &h[1]));
    T_OK(dmacoh_alloc_coherent(&g.child, 128 * 1024, 0, 0, &c[2], &h[2]));
    T_EQ_INT(dmacoh_debug_dump(dmacoh_sim_platform(g.sim), count, &s), 3);
    T_EQ_INT(s.n, 3);
    T_EQ_U64(s.bytes, 100 + 200 + 128 * 1024);
    T_ASSERT(s.region && s.system);
    T_EQ_INT(dmacoh_debug_dump(dmacoh_sim_platform(g.sim), NULL, NULL), 3);
    T_ASSERT(t_log_find("outstanding: 200 bytes"));
    T_OK(dmacoh_free_coherent(&g.root, 100, c[0], h[0]));
    T_OK(dmacoh_free_coherent(&g.child, 200, c[1], h[1]));
    T_OK(dmacoh_free_coherent(&g.child, 128 * 1024, c[2], h[2]));
    T_EQ_INT(dmacoh_debug_dump(dmacoh_sim_platform(g.sim), count, &s), 0);
    T_ERR(dmacoh_debug_dump(NULL, count, &s), DMACOH_EINVAL);
    down(&g);
}

/* Freed memory holds the poison; a write after the free is reported when the granule is
 * handed out again, with the range and the last owner. IO regions through the accessors. */
static void poison_catches_write_after_free(void)
{
    static const int modes[2] = {DMACOH_MEMORY_MAP, DMACOH_MEMORY_IO};

#if defined(DMACOH_TRACK_ASAN) && DMACOH_TRACK_ASAN
    T_SKIP("ASan tracks region blocks in this build: it stops the stale write first "
           "(test_track)");
#endif
#ifdef HAVE_MEMCHECK
    if (RUNNING_ON_VALGRIND)
        T_SKIP("valgrind knows region blocks: it reports the stale write first (test_track)");
#endif
    for (int i = 0; i < 2; i++) {
        struct rig g;
        struct dmacoh_debug_stats st0, st;
        unsigned char *c, *c2;
        dmacoh_dma_addr_t h, h2;

        up(&g, modes[i]);
        T_OK(dmacoh_debug_get_stats(&st0));
        T_OK(dmacoh_alloc_coherent(&g.root, 8192, 0, 0, (void **)&c, &h));
        T_OK(dmacoh_free_coherent(&g.root, 8192, c, h));
        T_EQ_INT(dmacoh_ioread8(c), DMACOH_DEBUG_POISON_BYTE);
        T_EQ_INT(dmacoh_ioread8(c + 8191), DMACOH_DEBUG_POISON_BYTE);
        dmacoh_iowrite8(0x11, c + 4100); /* a stale pointer writes */
        dmacoh_iowrite8(0x22, c + 4200);
        T_OK(dmacoh_alloc_coherent(&g.root, 8192, 0, 0, (void **)&c2, &h2));
        T_EQ_PTR(c2, c);
        T_ASSERT(t_log_find("was written after it was freed; last owner: 8192 bytes"));
        T_ASSERT(t_log_find("(dma 0x1004)"));
        T_EQ_INT(dmacoh_ioread8(c2 + 4100), 0); /* still zeroed for the new owner */
        T_OK(dmacoh_debug_get_stats(&st));
        T_EQ_U64(st.poison_errors, st0.poison_errors + 1);
        /* Untouched freed memory is reused without a report. */
        t_log_reset();
        T_OK(dmacoh_free_coherent(&g.root, 8192, c2, h2));
        T_OK(dmacoh_alloc_coherent(&g.root, 4096, DMACOH_ALLOC_NOZERO, 0, (void **)&c, &h));
        T_EQ_INT(dmacoh_ioread8(c + 10), DMACOH_DEBUG_POISON_BYTE);
        T_ASSERT(!t_log_find("poison"));
        T_OK(dmacoh_free_coherent(&g.root, 4096, c, h));
        down(&g);
    }
}

/* A freed block over 1 MiB is poisoned in its first and last 512 KiB only (so freeing a huge
 * block does not write all of it); a stale write there is caught, one in the middle is not. */
static void poison_of_a_large_block_covers_its_edges(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_sim_memory m = {BUS, 4u << 20, DMACOH_MEMORY_MAP, false, 0};
    struct dmacoh_device dev;
    struct dmacoh_debug_stats st0, st;
    const size_t big = 2u << 20, edge = 512u << 10;
    unsigned char *c, *c2;
    dmacoh_dma_addr_t h, h2;

#if defined(DMACOH_TRACK_ASAN) && DMACOH_TRACK_ASAN
    T_SKIP("ASan tracks region blocks in this build: it stops the stale write first");
#endif
#ifdef HAVE_MEMCHECK
    if (RUNNING_ON_VALGRIND)
        T_SKIP("valgrind knows region blocks: it reports the stale write first");
#endif
    T_OK(dmacoh_debug_set(DMACOH_DEBUG_RECORD | DMACOH_DEBUG_POISON));
    T_OK(dmacoh_sim_create(NULL, &sim));
    T_OK(dmacoh_sim_add_memory(sim, &m));
    T_OK(dmacoh_device_init(&dev, "big", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_declare_coherent_memory(&dev, BUS, 0, m.size, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_debug_get_stats(&st0));
    T_OK(dmacoh_alloc_coherent(&dev, big, 0, 0, (void **)&c, &h));
    T_OK(dmacoh_free_coherent(&dev, big, c, h));
    T_EQ_INT(c[0], DMACOH_DEBUG_POISON_BYTE);
    T_EQ_INT(c[edge - 1], DMACOH_DEBUG_POISON_BYTE);
    T_EQ_INT(c[edge], 0); /* the middle keeps the zeroes of the allocation */
    T_EQ_INT(c[big - edge - 1], 0);
    T_EQ_INT(c[big - edge], DMACOH_DEBUG_POISON_BYTE);
    T_EQ_INT(c[big - 1], DMACOH_DEBUG_POISON_BYTE);
    c[big / 2] = 0x33; /* not seen */
    c[big - 10] = 0x44;
    T_OK(dmacoh_alloc_coherent(&dev, big, 0, 0, (void **)&c2, &h2));
    T_EQ_PTR(c2, c);
    T_OK(dmacoh_debug_get_stats(&st));
    T_EQ_U64(st.poison_errors, st0.poison_errors + 1);
    T_ASSERT(t_log_find("(dma 0x1ffff6)"));
    T_OK(dmacoh_free_coherent(&dev, big, c2, h2));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
    T_OK(dmacoh_debug_set(0));
}

/* Records of an earlier period are forgotten: memory freed while the mode was off is not
 * taken for live when the mode comes back. */
static void toggling_makes_no_false_report(void)
{
    struct rig g;
    void *c, *c2;
    dmacoh_dma_addr_t h, h2;
    uint64_t r0;

    up(&g, DMACOH_MEMORY_MAP);
    r0 = reports();
    T_OK(dmacoh_alloc_coherent(&g.root, 4096, 0, 0, &c, &h));
    T_OK(dmacoh_debug_set(0));
    T_OK(dmacoh_free_coherent(&g.root, 4096, c, h));
    T_OK(dmacoh_debug_set(DMACOH_DEBUG_RECORD | DMACOH_DEBUG_POISON));
    T_OK(dmacoh_alloc_coherent(&g.root, 4096, 0, 0, &c2, &h2));
    T_EQ_PTR(c2, c);
    T_OK(dmacoh_free_coherent(&g.root, 4096, c2, h2));
    T_EQ_U64(reports(), r0);
    T_ERR(dmacoh_debug_set(0x80), DMACOH_EINVAL);
    T_EQ_INT(dmacoh_debug_get(), DMACOH_DEBUG_RECORD | DMACOH_DEBUG_POISON);
    down(&g);
}

/* A pool, its chunks freed and reused, in debug mode: no report. */
static void pool_in_debug_mode_is_quiet(void)
{
    struct rig g;
    struct dmacoh_pool *p;
    void *c[64];
    dmacoh_dma_addr_t h[64];
    uint64_t r0;

    up(&g, DMACOH_MEMORY_MAP);
    r0 = reports();
    T_OK(dmacoh_pool_create(&p, "p", &g.child, 512, 0, 0, NULL));
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 64; i++)
            T_OK(dmacoh_pool_alloc(p, DMACOH_POOL_ZERO, &c[i], &h[i]));
        for (int i = 63; i >= 0; i--)
            T_OK(dmacoh_pool_free(p, c[i], h[i]));
    }
    T_OK(dmacoh_pool_destroy(p, 0));
    T_EQ_U64(reports(), r0);
    T_ASSERT(!t_log_find("poison"));
    down(&g);
}

/* With no metadata for records, allocations go unrecorded (counted), and their frees are
 * checked only as in every build. */
static void no_metadata_means_no_record_and_no_false_report(void)
{
    struct dmacoh_sim *sim;
    struct t_faultplat fp;
    struct dmacoh_device dev;
    struct dmacoh_debug_stats st0, st;
    void *c;
    dmacoh_dma_addr_t h;

    T_OK(dmacoh_debug_set(DMACOH_DEBUG_RECORD));
    T_OK(dmacoh_sim_create(NULL, &sim));
    t_faultplat_init(&fp, dmacoh_sim_platform(sim));
    T_OK(dmacoh_device_init(&dev, "dev", NULL, &fp.plat));
    T_OK(dmacoh_debug_get_stats(&st0));
    t_faultplat_arm(&fp, 2); /* sys_alloc passes, the debug state's meta_alloc fails */
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &c, &h));
    T_EQ_INT(fp.failed, T_FAULT_META_ALLOC);
    T_OK(dmacoh_debug_get_stats(&st));
    T_EQ_U64(st.lost, st0.lost + 1);
    T_OK(dmacoh_free_coherent(&dev, 4096, c, h));
    T_EQ_U64(st.reports, st0.reports);
    T_OK(dmacoh_device_fini(&dev));
    T_EQ_INT(fp.meta_blocks, 0);
    T_OK(dmacoh_platform_fini(&fp.plat));
    T_OK(dmacoh_sim_destroy(sim));
    T_OK(dmacoh_debug_set(0));
}

static void *churn(void *arg)
{
    struct dmacoh_device *dev = (struct dmacoh_device *)arg;
    void *c[8];
    dmacoh_dma_addr_t h[8];
    int bad = 0;

    for (int round = 0; round < 300; round++) {
        for (int i = 0; i < 8; i++)
            bad |= dmacoh_alloc_coherent(dev, (size_t)(16 + 512 * i), 0, 0, &c[i], &h[i]);
        for (int i = 0; i < 8; i++)
            bad |= dmacoh_free_coherent(dev, (size_t)(16 + 512 * i), c[i], h[i]);
    }
    return bad ? dev : NULL;
}

/* Four threads allocate and free at once (region and system memory, the table growing and
 * poisoned granules reused): no report, no failure (and TSan sees the locking). */
static void threads_in_debug_mode(void)
{
    struct rig g;
    struct dmacoh_device kids[3];
    pthread_t t[4];
    void *ret;
    uint64_t r0;

    up(&g, DMACOH_MEMORY_MAP);
    r0 = reports();
    for (int i = 0; i < 3; i++)
        T_OK(dmacoh_device_init(&kids[i], "kid", &g.root, NULL));
    T_EQ_INT(pthread_create(&t[0], NULL, churn, &g.child), 0);
    for (int i = 0; i < 3; i++)
        T_EQ_INT(pthread_create(&t[i + 1], NULL, churn, &kids[i]), 0);
    for (int i = 0; i < 4; i++) {
        T_EQ_INT(pthread_join(t[i], &ret), 0);
        T_ASSERT(ret == NULL);
    }
    for (int i = 0; i < 3; i++)
        T_OK(dmacoh_device_fini(&kids[i]));
    T_EQ_U64(reports(), r0);
    T_ASSERT(!t_log_find("poison"));
    down(&g);
}

static void environment_switch(void)
{
    T_OK(setenv("DMACOH_DEBUG", "record", 1));
    T_OK(dmacoh_debug_from_env());
    T_EQ_INT(dmacoh_debug_get(), DMACOH_DEBUG_RECORD);
    T_OK(setenv("DMACOH_DEBUG", "poison", 1));
    T_OK(dmacoh_debug_from_env());
    T_EQ_INT(dmacoh_debug_get(), DMACOH_DEBUG_RECORD | DMACOH_DEBUG_POISON);
    T_OK(setenv("DMACOH_DEBUG", "0", 1));
    T_OK(dmacoh_debug_from_env());
    T_EQ_INT(dmacoh_debug_get(), 0);
    T_OK(setenv("DMACOH_DEBUG", "cookies", 1));
    T_OK(dmacoh_debug_from_env());
    T_EQ_INT(dmacoh_debug_get(), DMACOH_DEBUG_RECORD | DMACOH_DEBUG_IO_COOKIES);
    T_OK(setenv("DMACOH_DEBUG", "all", 1));
    T_OK(dmacoh_debug_from_env());
    T_EQ_INT(dmacoh_debug_get(), DMACOH_DEBUG_ALL);
    T_OK(setenv("DMACOH_DEBUG", "record,bogus", 1));
    T_ERR(dmacoh_debug_from_env(), DMACOH_EINVAL);
    T_EQ_INT(dmacoh_debug_get(), DMACOH_DEBUG_ALL);
    T_OK(setenv("DMACOH_DEBUG", "8", 1));
    T_ERR(dmacoh_debug_from_env(), DMACOH_EINVAL);
    T_ERR(dmacoh_debug_set(0x8), DMACOH_EINVAL);
    T_EQ_INT(dmacoh_debug_get(), DMACOH_DEBUG_ALL);
    T_OK(unsetenv("DMACOH_DEBUG"));
    T_OK(dmacoh_debug_set(0));
}

static const struct t_case cases[] = {
    T_CASE(free_with_wrong_size_refused),
    T_CASE(free_with_wrong_handle_names_sites),
    T_CASE(free_with_wrong_device_refused),
    T_CASE(double_free_names_both_sites),
    T_CASE(free_of_never_allocated_named),
    T_CASE(free_of_occupied_after_free_is_eperm),
    T_CASE(free_after_release_named),
    T_CASE(use_after_fini_named),
    T_CASE(leaks_at_fini_listed_and_refused),
    T_CASE(leaks_at_release_listed),
    T_CASE(overlapping_declarations_refused),
    T_CASE(dump_lists_outstanding),
    T_CASE(poison_catches_write_after_free),
    T_CASE(poison_of_a_large_block_covers_its_edges),
    T_CASE(toggling_makes_no_false_report),
    T_CASE(pool_in_debug_mode_is_quiet),
    T_CASE(no_metadata_means_no_record_and_no_false_report),
    T_CASE(threads_in_debug_mode),
    T_CASE(environment_switch),
};

T_MAIN(cases)
