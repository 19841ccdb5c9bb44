/* SPDX-License-Identifier: MIT */
/*
 * test_faults.c - fault injection: every fallible platform call and every metadata allocation
 * of declare, alloc (with fallback), free, release and pools fails once, in turn.
 *
 * Each test loops N = 1, 2, ...: the Nth fallible call of the operation fails (faultplat.h),
 * the operation must return the error that call maps to, leave nothing allocated (metadata,
 * mappings, system memory) and leave the allocator consistent (dmacoh_check); the loop ends
 * at the first N where the operation runs through without reaching a fault. The number of
 * faults injected is printed, so a path that stops reaching the platform shows as a change.
 */
#include "faultplat.h"
#include "fixture.h"
#include "t.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/pool.h>
#include <dmacoh/sim.h>

#include <stdio.h>
#include <string.h>

#define BUS  0xd0000000u
#define SIZE (32u * 1024u)

static unsigned long total_injected;

struct rig {
    struct dmacoh_sim *sim;
    struct t_faultplat fp;
    struct dmacoh_device dev;
};

static void rig_up(struct rig *g, bool shared)
{
    T_OK(dmacoh_debug_set(0)); /* the counts below are those of the plain library */
    memset(g, 0, sizeof(*g));
    T_OK(dmacoh_sim_create(NULL, &g->sim));
    t_add_memory(g->sim, BUS, SIZE, DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, shared);
    t_faultplat_init(&g->fp, dmacoh_sim_platform(g->sim));
    T_OK(dmacoh_device_init(&g->dev, "dev", NULL, &g->fp.plat));
}

/* Nothing of the platform is held but what the test still owns. */
/* meta -1: not checked (the debug mode keeps its state until the platform goes). */
static void assert_held(const struct t_faultplat *fp, long meta, long maps, long sys)
{
    if (meta >= 0)
        T_EQ_INT(fp->meta_blocks, meta);
    T_EQ_INT(fp->maps, maps);
    T_EQ_INT(fp->sys_blocks, sys);
    if (meta == 0)
        T_EQ_INT(fp->meta_bytes, 0);
}

static void rig_down(struct rig *g)
{
    T_OK(dmacoh_device_fini(&g->dev));
    assert_held(&g->fp, 0, 0, 0);
    T_OK(dmacoh_platform_fini(&g->fp.plat));
    T_OK(dmacoh_sim_destroy(g->sim));
}

static void report(const char *what, unsigned long n)
{
    printf("# %s: %lu faults injected\n", what, n);
    total_injected += n;
}

/* Declare: metadata, then the mapping. */
static void declare_survives_every_fault(void)
{
    struct rig g;
    unsigned long n;
    int r, granted = 0;

    rig_up(&g, false);
    for (n = 1;; n++) {
        t_faultplat_arm(&g.fp, n);
        r = dmacoh_declare_coherent_memory(&g.dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, &granted);
        if (g.fp.failed == T_FAULT_NONE)
            break;
        T_ERR(r, t_faultplat_expected(g.fp.failed));
        T_ASSERT(!dmacoh_device_has_region(&g.dev));
        T_ASSERT(dmacoh_check(&g.dev));
        assert_held(&g.fp, 0, 0, 0);
    }
    t_faultplat_arm(&g.fp, 0);
    T_OK(r);
    T_EQ_INT(granted, DMACOH_MEMORY_MAP);
    T_EQ_U64(g.fp.injected, 2); /* meta_alloc, map */
    T_ASSERT(dmacoh_check(&g.dev));
    assert_held(&g.fp, 1, 1, 0);
    t_faultplat_arm(&g.fp, 0);
    T_OK(dmacoh_release_coherent_memory(&g.dev, 0));
    report("declare", g.fp.injected);
    rig_down(&g);
}

/* A platform whose mapping breaks the congruence contract is refused, and unmapped. */
static void declare_refuses_lying_mapping(void)
{
    struct rig g;

    rig_up(&g, false);
    g.fp.lie_map = true;
    T_ERR(dmacoh_declare_coherent_memory(&g.dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_EIO);
    T_ASSERT(t_log_find("breaks its contract"));
    T_ASSERT(!dmacoh_device_has_region(&g.dev));
    assert_held(&g.fp, 0, 0, 0);
    g.fp.lie_map = false;
    rig_down(&g);
}

/* The core's one fixed-size table: the registry of regions with an access-width cap (64
 * slots, io.c). The declare that finds it full fails with -ENOMEM and holds nothing. */
static void declare_survives_full_io_width_registry(void)
{
    struct dmacoh_declare_opts o;
    struct dmacoh_device dev[65];
    struct rig g;
    unsigned n;
    int r = 0;

    rig_up(&g, false);
    memset(&o, 0, sizeof(o));
    o.io_width = 4;
    o.granule = 16;
    for (n = 0; n < 65; n++) {
        T_OK(dmacoh_device_init(&dev[n], "w", NULL, &g.fp.plat));
        r = dmacoh_declare_coherent_memory(&dev[n], BUS + n * 16u, 0, 16, DMACOH_MEMORY_IO, &o,
                                           NULL);
        if (r)
            break;
    }
    T_ERR(r, DMACOH_ENOMEM);
    T_ASSERT(n >= 1 && n <= 64); /* other tests' regions may hold slots */
    T_ASSERT(t_log_find("too many regions with an IO width cap"));
    T_ASSERT(!dmacoh_device_has_region(&dev[n]));
    assert_held(&g.fp, (long)n, (long)n, 0);
    T_OK(dmacoh_device_fini(&dev[n]));
    while (n--) {
        T_OK(dmacoh_release_coherent_memory(&dev[n], 0));
        T_OK(dmacoh_device_fini(&dev[n]));
    }
    rig_down(&g);
}

/* Fills the region with 4 KiB allocations; returns how many. */
static unsigned fill(struct dmacoh_device *dev, void **cpu, dmacoh_dma_addr_t *h, unsigned max)
{
    unsigned k = 0;

    while (k < max &&
           dmacoh_alloc_coherent(dev, 4096, DMACOH_ALLOC_NOFALLBACK, 0, &cpu[k], &h[k]) == 0)
        k++;
    return k;
}

/* Alloc from a full region falls back to system memory; the fallback's failure is returned
 * and counted, and changes nothing. Then the same with no region at all. */
static void alloc_fallback_survives_every_fault(void)
{
    struct rig g;
    void *cpu[16], *c = NULL;
    dmacoh_dma_addr_t h[16], hh = 0;
    uint64_t fails0, fails;
    unsigned long n, before;
    unsigned k;
    int r;

    rig_up(&g, false);
    T_OK(dmacoh_declare_coherent_memory(&g.dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL));
    k = fill(&g.dev, cpu, h, 16);
    T_EQ_INT(k, SIZE / 4096);
    before = g.fp.injected;
    for (n = 1;; n++) {
        dmacoh_device_counters(&g.dev, NULL, &fails0);
        t_faultplat_arm(&g.fp, n);
        r = dmacoh_alloc_coherent(&g.dev, 8192, 0, 0, &c, &hh);
        if (g.fp.failed == T_FAULT_NONE)
            break;
        T_ERR(r, t_faultplat_expected(g.fp.failed));
        dmacoh_device_counters(&g.dev, NULL, &fails);
        T_EQ_U64(fails, fails0 + 1);
        T_EQ_U64(t_region_stats(&g.dev).live, k);
        T_ASSERT(dmacoh_check(&g.dev));
        assert_held(&g.fp, 1, 1, 0);
    }
    t_faultplat_arm(&g.fp, 0);
    T_OK(r);
    T_EQ_INT(dmacoh_origin_of(&g.dev, c), DMACOH_ORIGIN_SYSTEM);
    T_EQ_U64(g.fp.injected - before, 1);
    T_OK(dmacoh_free_coherent(&g.dev, 8192, c, hh));
    while (k--)
        T_OK(dmacoh_free_coherent(&g.dev, 4096, cpu[k], h[k]));
    T_OK(dmacoh_release_coherent_memory(&g.dev, 0));
    for (n = 1;; n++) {
        t_faultplat_arm(&g.fp, n);
        r = dmacoh_alloc_coherent(&g.dev, 100, 0, 0, &c, &hh);
        if (g.fp.failed == T_FAULT_NONE)
            break;
        T_ERR(r, t_faultplat_expected(g.fp.failed));
        assert_held(&g.fp, 0, 0, 0);
    }
    t_faultplat_arm(&g.fp, 0);
    T_OK(r);
    T_OK(dmacoh_free_coherent(&g.dev, 100, c, hh));
    report("alloc with fallback", g.fp.injected);
    rig_down(&g);
}

/* System memory above the device's DMA mask is handed back and refused with -ERANGE. */
static void alloc_refuses_system_memory_above_mask(void)
{
    struct rig g;
    void *c = NULL;
    dmacoh_dma_addr_t hh = 0;

    rig_up(&g, false);
    T_OK(dmacoh_device_set_dma_mask(&g.dev, DMACOH_BIT_MASK(32)));
    g.fp.lie_sys_alloc = true;
    T_ERR(dmacoh_alloc_coherent(&g.dev, 4096, 0, 0, &c, &hh), DMACOH_ERANGE);
    T_ASSERT(t_log_find("above the DMA mask"));
    T_ASSERT(c == NULL);
    assert_held(&g.fp, 0, 0, 0);
    g.fp.lie_sys_alloc = false;
    rig_down(&g);
}

/* Free of system memory: a failing platform free is returned and the memory stays live (a
 * second try frees it). Free of region memory calls no fallible op. */
static void free_survives_every_fault(void)
{
    struct rig g;
    void *c, *rc;
    dmacoh_dma_addr_t hh, rh;
    unsigned long n;
    int r;

    rig_up(&g, false);
    T_OK(dmacoh_alloc_coherent(&g.dev, 4096, 0, 0, &c, &hh));
    for (n = 1;; n++) {
        t_faultplat_arm(&g.fp, n);
        r = dmacoh_free_coherent(&g.dev, 4096, c, hh);
        if (g.fp.failed == T_FAULT_NONE)
            break;
        T_ERR(r, t_faultplat_expected(g.fp.failed));
        assert_held(&g.fp, 0, 0, 1);
        T_EQ_INT(dmacoh_origin_of(&g.dev, c), DMACOH_ORIGIN_SYSTEM);
    }
    t_faultplat_arm(&g.fp, 0);
    T_OK(r);
    assert_held(&g.fp, 0, 0, 0);
    T_EQ_U64(g.fp.injected, 1);
    T_OK(dmacoh_declare_coherent_memory(&g.dev, BUS, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&g.dev, 4096, 0, 0, &rc, &rh));
    t_faultplat_arm(&g.fp, 1);
    T_OK(dmacoh_free_coherent(&g.dev, 4096, rc, rh));
    T_EQ_INT(g.fp.failed, T_FAULT_NONE);
    T_ASSERT(dmacoh_check(&g.dev));
    t_faultplat_arm(&g.fp, 0);
    T_OK(dmacoh_release_coherent_memory(&g.dev, 0));
    report("free", g.fp.injected);
    rig_down(&g);
}

/* Release calls only infallible ops (unmap, meta_free); with allocations outstanding, forced,
 * and on a region shared by two devices. */
static void release_has_no_fallible_step(void)
{
    struct rig g;
    struct dmacoh_device dev2;
    void *c;
    dmacoh_dma_addr_t hh;

    rig_up(&g, true);
    T_OK(dmacoh_device_init(&dev2, "dev2", NULL, &g.fp.plat));
    T_OK(dmacoh_declare_coherent_memory(&g.dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_declare_coherent_memory(&dev2, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&g.dev, 4096, 0, 0, &c, &hh));
    t_faultplat_arm(&g.fp, 1);
    T_ERR(dmacoh_release_coherent_memory(&g.dev, 0), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&g.dev, DMACOH_RELEASE_FORCE));
    assert_held(&g.fp, 1, 1, 0);
    T_ASSERT(dmacoh_check(&dev2));
    T_OK(dmacoh_release_coherent_memory(&dev2, DMACOH_RELEASE_FORCE));
    T_EQ_INT(g.fp.failed, T_FAULT_NONE);
    T_EQ_U64(g.fp.injected, 0);
    T_OK(dmacoh_device_fini(&dev2));
    report("release", g.fp.injected);
    rig_down(&g);
}

#define BLOCKS 40 /* 10 chunks of 4 blocks: 8 from the region, 2 from system memory */

/* One attempt: create a pool and take BLOCKS blocks. On a fault, everything taken is given
 * back and the pool destroyed without force (nothing may be left outstanding). */
static int pool_attempt(struct rig *g, unsigned long n)
{
    struct dmacoh_pool *pool = NULL;
    void *cpu[BLOCKS];
    dmacoh_dma_addr_t h[BLOCKS];
    struct dmacoh_pool_stats st;
    unsigned k = 0;
    int r;

    t_faultplat_arm(&g->fp, n);
    r = dmacoh_pool_create(&pool, "p", &g->dev, 1024, 0, 0, NULL);
    if (r)
        return r;
    for (; k < BLOCKS; k++) {
        r = dmacoh_pool_alloc(pool, 0, &cpu[k], &h[k]);
        if (r)
            break;
    }
    T_OK(dmacoh_pool_get_stats(pool, &st));
    T_EQ_U64(st.in_use, k);
    T_EQ_U64(st.failures, r ? 1 : 0);
    T_ASSERT(dmacoh_check(&g->dev));
    t_faultplat_arm(&g->fp, 0); /* giving back is not under test here */
    while (k--)
        T_OK(dmacoh_pool_free(pool, cpu[k], h[k]));
    T_OK(dmacoh_pool_destroy(pool, 0));
    return r;
}

static void pool_survives_every_fault(void)
{
    struct rig g;
    unsigned long n, absorbed = 0;
    int r;

    rig_up(&g, false);
    T_OK(dmacoh_declare_coherent_memory(&g.dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL));
    for (n = 1;; n++) {
        r = pool_attempt(&g, n);
        if (g.fp.failed == T_FAULT_NONE)
            break;
        /* A chunk of the region whose header cannot be had is then asked of system memory
         * in one piece: that fault is absorbed, the rest are returned. */
        if (r == 0)
            absorbed++;
        else
            T_ERR(r, t_faultplat_expected(g.fp.failed));
        T_EQ_U64(t_region_stats(&g.dev).live, 0);
        assert_held(&g.fp, 1, 1, 0);
    }
    t_faultplat_arm(&g.fp, 0);
    T_OK(r);
    /* pool struct, 10 chunk headers, 2 hash tables, 2 fallback chunks */
    T_ASSERT(g.fp.injected >= 14);
    T_ASSERT(absorbed >= 1);
    printf("# pool: %lu of the faults absorbed by a fallback\n", absorbed);
    T_OK(dmacoh_release_coherent_memory(&g.dev, 0));
    report("pool create and alloc", g.fp.injected);
    rig_down(&g);
}

/* The debug mode's own metadata (its state, record table, poison bitmap) failing at every
 * step of a declare, 70 allocations (the table grows twice), their frees and a release, each
 * on a fresh platform: a fault of the core's is returned, one of the debug mode's is absorbed
 * (the allocation goes unrecorded); nothing is reported, and nothing leaks once the platform
 * is gone. */
static int debug_attempt(struct rig *g, unsigned long n)
{
    struct dmacoh_declare_opts o;
    void *c[70];
    dmacoh_dma_addr_t h[70];
    int r;

    memset(&o, 0, sizeof(o));
    o.granule = 256;
    t_faultplat_arm(&g->fp, n);
    r = dmacoh_declare_coherent_memory(&g->dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, &o, NULL);
    if (r)
        return r;
    for (unsigned k = 0; k < 70; k++) /* all from the region: 88 of its 128 granules */
        T_OK(dmacoh_alloc_coherent(&g->dev, k < 6 ? 1024 : 16, 0, 0, &c[k], &h[k]));
    for (unsigned k = 70; k-- > 0;)
        T_OK(dmacoh_free_coherent(&g->dev, k < 6 ? 1024 : 16, c[k], h[k]));
    T_OK(dmacoh_release_coherent_memory(&g->dev, 0));
    return 0;
}

static void debug_mode_survives_every_fault(void)
{
    struct dmacoh_debug_stats st0, st;
    unsigned long n, injected = 0, meta_faults = 0;
    enum t_fault_op failed;
    int r;

    T_OK(dmacoh_debug_get_stats(&st0));
    for (n = 1;; n++) {
        struct rig g;

        rig_up(&g, false);
        T_OK(dmacoh_debug_set(DMACOH_DEBUG_RECORD | DMACOH_DEBUG_POISON));
        r = debug_attempt(&g, n);
        t_faultplat_arm(&g.fp, 0);
        T_OK(dmacoh_debug_set(0));
        failed = g.fp.failed;
        injected += g.fp.injected;
        T_ASSERT(!dmacoh_device_has_region(&g.dev));
        T_OK(dmacoh_device_fini(&g.dev));
        T_OK(dmacoh_platform_fini(&g.fp.plat));
        assert_held(&g.fp, 0, 0, 0);
        T_OK(dmacoh_sim_destroy(g.sim));
        if (failed == T_FAULT_NONE)
            break;
        meta_faults += failed == T_FAULT_META_ALLOC && r == 0;
        if (r)
            T_ERR(r, t_faultplat_expected(failed));
    }
    T_OK(r);
    T_OK(dmacoh_debug_get_stats(&st));
    T_EQ_U64(st.reports, st0.reports);
    T_ASSERT(st.lost > st0.lost);
    T_ASSERT(meta_faults >= 3); /* state, bitmap, table, table growths */
    printf("# debug mode: %lu of the faults absorbed\n", meta_faults);
    report("debug mode", injected);
}

static void faults_total(void)
{
    printf("# total: %lu faults injected\n", total_injected);
    T_ASSERT(total_injected >= 19);
}

static const struct t_case cases[] = {
    T_CASE(declare_survives_every_fault),
    T_CASE(declare_refuses_lying_mapping),
    T_CASE(declare_survives_full_io_width_registry),
    T_CASE(alloc_fallback_survives_every_fault),
    T_CASE(alloc_refuses_system_memory_above_mask),
    T_CASE(free_survives_every_fault),
    T_CASE(release_has_no_fallible_step),
    T_CASE(pool_survives_every_fault),
    T_CASE(debug_mode_survives_every_fault),
    T_CASE(faults_total),
};

T_MAIN(cases)
