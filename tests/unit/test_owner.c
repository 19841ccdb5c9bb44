/* SPDX-License-Identifier: MIT */
/*
 * test_owner.c - no memory with two owners across a release: a dma_pool whose region is
 * released under it (the RFC's unconditional dma_release_declared_memory) and declared again,
 * by another device or the same one, never hands out, frees or zeroes memory of the new
 * declaration; its old blocks' frees are refused naming the release; destroy still works.
 * The same with no system memory to fall back to, and under the debug mode. The per-thread
 * caches and the debug records, which also remember region memory, do not survive a release
 * either, even when the new region's metadata storage is the old one's. A live device cannot
 * be initialised again (which orphaned its region), nor a parent chain made into a cycle
 * (which made the next allocation loop forever); those tests run under alarm() so that a
 * regression fails instead of hanging.
 */
#include <dmacoh/dma-mapping.h>
#include <dmacoh/debug.h>
#include <dmacoh/sim.h>

#include "fixture.h"
#include "t.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"

#define MEM  UINT64_C(0x10000000)
#define DEV  UINT64_C(0x80000000)
#define MB1  UINT64_C(0x100000)
#define PG   UINT64_C(0x1000)
#define FILL 0x5a

struct fx {
    struct dmacoh_sim *sim;
    struct device card, other;
};

static void fx_init(struct fx *f, bool no_ram)
{
    struct dmacoh_sim_opts o;

    memset(&o, 0, sizeof(o));
    o.no_ram = no_ram;
    T_OK(dmacoh_sim_create(&o, &f->sim));
    t_add_memory(f->sim, MEM, MB1, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&f->card.dmacoh, "card", NULL, dmacoh_sim_platform(f->sim)));
    T_OK(dmacoh_device_init(&f->other.dmacoh, "other", NULL, dmacoh_sim_platform(f->sim)));
}

static void fx_fini(struct fx *f)
{
    T_OK(dmacoh_device_fini(&f->card.dmacoh));
    T_OK(dmacoh_device_fini(&f->other.dmacoh));
    T_OK(dmacoh_sim_destroy(f->sim)); /* refuses if system memory is still out */
}

static bool inside(uint64_t x, uint64_t base, uint64_t size)
{
    return x >= base && x - base < size;
}

static bool all_fill(const unsigned char *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i] != FILL)
            return false;
    return true;
}

static struct dmacoh_pool_stats pst_of(const struct dmacoh_pool *p)
{
    struct dmacoh_pool_stats st;

    memset(&st, 0, sizeof(st));
    T_OK(dmacoh_pool_get_stats(p, &st));
    return st;
}

/* The case: 1 MiB MAP|EXCLUSIVE on card, a pool block, an unconditional release, the
 * same range declared on other and all of it allocated, then the old pool is used. */
static void pool_scenario(bool debug)
{
    struct fx f;
    struct dma_pool *pool;
    dma_addr_t h0, h1, hbig;
    unsigned char *b0, *b1, *big;
    struct dmacoh_debug_stats ds0, ds1;
    unsigned old = dmacoh_debug_get(); /* DMACOH_DEBUG=all in the environment turns it on */

    if (debug)
        T_OK(dmacoh_debug_set(DMACOH_DEBUG_ALL));
    debug = dmacoh_debug_get() != 0;
    T_OK(dmacoh_debug_get_stats(&ds0));
    fx_init(&f, false);
    T_EQ_INT(
        dma_declare_coherent_memory(&f.card, MEM, DEV, MB1, DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE),
        DMA_MEMORY_MAP);
    pool = dma_pool_create("old", &f.card, 64, 8, 0);
    T_ASSERT(pool != NULL);
    b0 = dma_pool_alloc(pool, 0, &h0);
    T_ASSERT(b0 != NULL);
    T_ASSERT(inside(h0, DEV, MB1));
    dma_release_declared_memory(&f.card);
    T_ASSERT(!dmacoh_device_has_region(&f.card.dmacoh));
    T_EQ_INT(
        dma_declare_coherent_memory(&f.other, MEM, DEV, MB1, DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE),
        DMA_MEMORY_MAP);
    big = dma_alloc_coherent(&f.other, MB1, &hbig, 0);
    T_ASSERT(big != NULL);
    T_EQ_U64(hbig, DEV);
    memset(big, FILL, MB1);

    /* The old pool takes a new chunk from where card allocates now: system memory. */
    t_log_reset();
    b1 = dma_pool_zalloc(pool, 0, &h1);
    T_ASSERT(b1 != NULL);
    T_ASSERT(!inside(h1, DEV, MB1));
    T_ASSERT(b1 + 64 <= big || b1 >= big + MB1);
    T_EQ_INT(dmacoh_origin_of(&f.card.dmacoh, b1), DMACOH_ORIGIN_SYSTEM);
    T_ASSERT(t_log_find("released under it"));
    T_ASSERT(all_fill(big, MB1));

    /* The old block's free is refused, naming the release; nothing of other's changes. */
    t_log_reset();
    T_ERR(dmacoh_pool_free(pool, b0, h0), DMACOH_EFAULT);
    T_ASSERT(t_log_find("released under the pool"));
    T_ERR(dmacoh_pool_free(pool, b0, h0), DMACOH_EFAULT);
    T_OK(dmacoh_pool_free(pool, b1, h1));
    T_ASSERT(all_fill(big, MB1));
    T_EQ_U64(t_region_stats(&f.other.dmacoh).live, 1);

    /* Destroy works without force: the old block is not outstanding, it is invalid. */
    T_OK(dmacoh_pool_destroy(pool, 0));
    T_ASSERT(all_fill(big, MB1));
    T_ASSERT(dmacoh_check(&f.other.dmacoh));
    T_EQ_U64(t_region_stats(&f.other.dmacoh).live, 1);
    dma_free_coherent(&f.other, MB1, big, hbig);
    T_OK(dmacoh_release_coherent_memory(&f.other.dmacoh, 0));
    T_OK(dmacoh_debug_get_stats(&ds1));
    /* Under debug: the chunk outstanding at the release is the one report; no poison hit. */
    T_EQ_U64(ds1.reports - ds0.reports, debug ? 1 : 0);
    T_EQ_U64(ds1.poison_errors, ds0.poison_errors);
    fx_fini(&f);
    T_OK(dmacoh_debug_set(old));
}

static void pool_after_release_uses_new_memory(void)
{
    pool_scenario(false);
}

static void pool_after_release_under_debug(void)
{
    pool_scenario(true);
}

/* No system memory to fall back to: the old pool fails with a log line rather than use the
 * released chunk, even one kept empty for reuse; destroy still works. */
static void pool_after_release_fails_without_memory(void)
{
    struct fx f;
    struct dmacoh_pool *pool;
    void *b[2], *big;
    dmacoh_dma_addr_t h[2], hbig;
    struct dmacoh_pool_stats st;

    fx_init(&f, true);
    T_OK(dmacoh_declare_coherent_memory(&f.card.dmacoh, MEM, DEV, MB1,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, NULL));
    T_OK(dmacoh_pool_create(&pool, "old", &f.card.dmacoh, 2048, 0, 0, NULL));
    T_OK(dmacoh_pool_alloc(pool, 0, &b[0], &h[0])); /* chunk 1 */
    T_OK(dmacoh_pool_alloc(pool, 0, &b[1], &h[1]));
    T_OK(dmacoh_pool_alloc(pool, 0, &b[0], &h[0])); /* chunk 2 */
    T_OK(dmacoh_pool_free(pool, b[0], h[0]));       /* chunk 2 empty: kept for reuse */
    T_ERR(dmacoh_release_coherent_memory(&f.card.dmacoh, 0), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&f.card.dmacoh, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_declare_coherent_memory(&f.other.dmacoh, MEM, DEV, MB1,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&f.other.dmacoh, MB1, 0, 0, &big, &hbig));
    memset(big, FILL, MB1);
    t_log_reset();
    T_ERR(dmacoh_pool_alloc(pool, 0, &b[0], &h[0]), DMACOH_ENOMEM);
    T_ASSERT(t_log_find("released under it"));
    T_ASSERT(t_log_find("no chunk"));
    st = pst_of(pool);
    T_EQ_U64(st.chunks, 0);
    T_EQ_U64(st.in_use, 0);
    T_ERR(dmacoh_pool_free(pool, b[1], h[1]), DMACOH_EFAULT);
    T_OK(dmacoh_pool_destroy(pool, 0));
    T_ASSERT(all_fill(big, MB1));
    T_OK(dmacoh_free_coherent(&f.other.dmacoh, MB1, big, hbig));
    T_OK(dmacoh_release_coherent_memory(&f.other.dmacoh, 0));
    fx_fini(&f);
}

/* The range declared again on card itself: the new allocation at the old chunk's address is
 * never freed by the old pool (its destroy used to hand the chunk back to card's new region). */
static void pool_destroy_spares_redeclared_memory(void)
{
    struct fx f;
    struct dmacoh_pool *pool;
    struct dmacoh_pool_opts po;
    void *b, *a;
    dmacoh_dma_addr_t hb, ha;

    fx_init(&f, false);
    memset(&po, 0, sizeof(po));
    po.chunk_size = PG;
    T_OK(dmacoh_declare_coherent_memory(&f.card.dmacoh, MEM, DEV, MB1, DMACOH_MEMORY_MAP, NULL,
                                        NULL));
    T_OK(dmacoh_pool_create(&pool, "old", &f.card.dmacoh, 64, 0, 0, &po));
    T_OK(dmacoh_pool_alloc(pool, 0, &b, &hb));
    T_EQ_U64(hb, DEV);
    T_OK(dmacoh_release_coherent_memory(&f.card.dmacoh, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_declare_coherent_memory(&f.card.dmacoh, MEM, DEV, MB1, DMACOH_MEMORY_MAP, NULL,
                                        NULL));
    T_OK(dmacoh_alloc_coherent(&f.card.dmacoh, PG, 0, 0, &a, &ha));
    T_EQ_U64(ha, DEV); /* the old chunk's handle, someone else's now */
    memset(a, FILL, PG);
    T_ERR(dmacoh_pool_free(pool, b, hb), DMACOH_EFAULT);
    T_OK(dmacoh_pool_destroy(pool, DMACOH_POOL_DESTROY_FORCE));
    T_EQ_U64(t_region_stats(&f.card.dmacoh).live, 1);
    T_ASSERT(all_fill(a, PG));
    T_OK(dmacoh_free_coherent(&f.card.dmacoh, PG, a, ha));
    T_OK(dmacoh_release_coherent_memory(&f.card.dmacoh, 0));
    fx_fini(&f);
}

/* A pool served by an ancestor's region (INCLUDES_CHILDREN) retires its chunks when the
 * ancestor releases; a pool on system memory keeps its chunks across any release. */
static void pool_chunks_follow_their_own_region(void)
{
    struct fx f;
    struct device chan;
    struct dmacoh_pool *child, *sys;
    void *c0, *s0, *c1;
    dmacoh_dma_addr_t hc0, hs0, hc1;

    fx_init(&f, false);
    T_OK(dmacoh_device_init(&chan.dmacoh, "chan", &f.card.dmacoh, NULL));
    T_OK(dmacoh_declare_coherent_memory(&f.card.dmacoh, MEM, DEV, MB1,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_INCLUDES_CHILDREN, NULL,
                                        NULL));
    T_OK(dmacoh_pool_create(&child, "child", &chan.dmacoh, 64, 0, 0, NULL));
    T_OK(dmacoh_pool_create(&sys, "sys", &f.other.dmacoh, 64, 0, 0, NULL));
    T_OK(dmacoh_pool_alloc(child, 0, &c0, &hc0));
    T_ASSERT(inside(hc0, DEV, MB1));
    T_OK(dmacoh_pool_alloc(sys, 0, &s0, &hs0));
    T_ASSERT(!inside(hs0, DEV, MB1));
    T_OK(dmacoh_release_coherent_memory(&f.card.dmacoh, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_pool_free(sys, s0, hs0)); /* its chunk never came from a region */
    T_OK(dmacoh_pool_alloc(sys, 0, &s0, &hs0));
    T_OK(dmacoh_pool_alloc(child, 0, &c1, &hc1));
    T_ASSERT(!inside(hc1, DEV, MB1));
    T_ERR(dmacoh_pool_free(child, c0, hc0), DMACOH_EFAULT);
    T_OK(dmacoh_pool_free(child, c1, hc1));
    T_OK(dmacoh_pool_free(sys, s0, hs0));
    T_OK(dmacoh_pool_destroy(child, 0));
    T_OK(dmacoh_pool_destroy(sys, 0));
    T_OK(dmacoh_device_fini(&chan.dmacoh));
    fx_fini(&f);
}

/* A shared range: card's release leaves the region to other, but card's pool no longer hands
 * out blocks of it (they were card's, and became invalid with card's release). */
static void pool_of_a_sharer_after_its_release(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_device card, other;
    struct dmacoh_pool *pool;
    void *b0, *b1;
    dmacoh_dma_addr_t h0, h1;

    T_OK(dmacoh_sim_create(NULL, &sim));
    t_add_memory(sim, MEM, MB1, DMACOH_MEMORY_MAP, true);
    T_OK(dmacoh_device_init(&card, "card", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&other, "other", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_declare_coherent_memory(&card, MEM, DEV, MB1, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_declare_coherent_memory(&other, MEM, DEV, MB1, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_pool_create(&pool, "old", &card, 64, 0, 0, NULL));
    T_OK(dmacoh_pool_alloc(pool, 0, &b0, &h0));
    T_ASSERT(inside(h0, DEV, MB1));
    T_OK(dmacoh_release_coherent_memory(&card, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_pool_alloc(pool, 0, &b1, &h1));
    T_ASSERT(!inside(h1, DEV, MB1));
    T_ERR(dmacoh_pool_free(pool, b0, h0), DMACOH_EFAULT);
    T_OK(dmacoh_pool_free(pool, b1, h1));
    T_OK(dmacoh_pool_destroy(pool, 0));
    T_ASSERT(dmacoh_check(&other));
    T_OK(dmacoh_release_coherent_memory(&other, DMACOH_RELEASE_FORCE)); /* card's old chunk */
    T_OK(dmacoh_device_fini(&card));
    T_OK(dmacoh_device_fini(&other));
    T_OK(dmacoh_sim_destroy(sim));
}

/* The per-thread caches live in the region's state: a release drains them, and a declaration
 * starts them empty, even in the same metadata storage (so at the same address) as before. No
 * block cached before the release is handed out after it. */
static void thread_caches_do_not_survive_a_release(void)
{
    struct fx f;
    struct dmacoh_declare_opts o;
    struct dmacoh__pool *pool;
    static uint64_t meta[8192];
    void *p[MB1 / PG];
    dmacoh_dma_addr_t h[MB1 / PG];
    const unsigned n = (unsigned)(MB1 / PG);

    fx_init(&f, false);
    memset(&o, 0, sizeof(o));
    o.meta = meta;
    o.meta_size = sizeof(meta);
    T_ASSERT(dmacoh_region_meta_size(MB1, PG) <= sizeof(meta));
    T_OK(
        dmacoh_declare_coherent_memory(&f.card.dmacoh, MEM, DEV, MB1, DMACOH_MEMORY_MAP, &o, NULL));
    pool = f.card.dmacoh.pool;
    dmacoh__lock(&pool->lock, pool->plat); /* what the first contended lock does */
    dmacoh__tc_enable(pool);
    dmacoh__unlock(&pool->lock);
    for (unsigned i = 0; i < 8; i++)
        T_OK(dmacoh_alloc_coherent(&f.card.dmacoh, PG, 0, 0, &p[i], &h[i]));
    for (unsigned i = 0; i < 7; i++)
        T_OK(dmacoh_free_coherent(&f.card.dmacoh, PG, p[i], h[i]));
    T_OK(dmacoh_release_coherent_memory(&f.card.dmacoh, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_declare_coherent_memory(&f.other.dmacoh, MEM, DEV, MB1,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, &o, NULL));
    T_EQ_PTR(f.other.dmacoh.pool, pool);
    dmacoh__lock(&pool->lock, pool->plat);
    dmacoh__tc_enable(pool);
    dmacoh__unlock(&pool->lock);
    for (unsigned i = 0; i < n; i++) {
        T_OK(dmacoh_alloc_coherent(&f.other.dmacoh, PG, 0, 0, &p[i], &h[i]));
        for (unsigned j = 0; j < i; j++)
            T_ASSERT(h[j] != h[i]);
    }
    T_ERR(dmacoh_alloc_coherent(&f.other.dmacoh, PG, 0, 0, &p[0], &h[0]), DMACOH_ENOMEM);
    T_ASSERT(dmacoh_check(&f.other.dmacoh));
    T_EQ_U64(t_region_stats(&f.other.dmacoh).live, n);
    T_OK(dmacoh_release_coherent_memory(&f.other.dmacoh, DMACOH_RELEASE_FORCE));
    fx_fini(&f);
}

/* Debug records and poison maps go with their region: after a release and a declaration in
 * the same metadata storage, a free of an allocation of the old region is reported as a free
 * after release (refused, nothing freed), and memory the old region poisoned is not checked
 * as the new region's. */
static void debug_records_do_not_survive_a_release(void)
{
    struct fx f;
    struct dmacoh_declare_opts o;
    static uint64_t meta[8192];
    struct dmacoh_debug_stats d0, d1;
    unsigned char *a, *b, *c;
    dmacoh_dma_addr_t ha, hb, hc;
    unsigned old = dmacoh_debug_get();

    T_OK(dmacoh_debug_set(DMACOH_DEBUG_ALL));
    T_OK(dmacoh_debug_get_stats(&d0));
    fx_init(&f, false);
    memset(&o, 0, sizeof(o));
    o.meta = meta;
    o.meta_size = sizeof(meta);
    T_OK(
        dmacoh_declare_coherent_memory(&f.card.dmacoh, MEM, DEV, MB1, DMACOH_MEMORY_MAP, &o, NULL));
    T_OK(dmacoh_alloc_coherent(&f.card.dmacoh, PG, 0, 0, (void **)&a, &ha));
    T_OK(dmacoh_alloc_coherent(&f.card.dmacoh, PG, 0, 0, (void **)&b, &hb));
    T_OK(dmacoh_free_coherent(&f.card.dmacoh, PG, a, ha));                      /* poisoned */
    T_OK(dmacoh_release_coherent_memory(&f.card.dmacoh, DMACOH_RELEASE_FORCE)); /* b: 1 report */
    T_OK(dmacoh_declare_coherent_memory(&f.other.dmacoh, MEM, DEV, MB1, DMACOH_MEMORY_MAP, &o,
                                        NULL));
    t_log_reset();
    T_ERR(dmacoh_free_coherent(&f.card.dmacoh, PG, b, hb), DMACOH_EFAULT);
    T_ASSERT(t_log_find("released"));
    /* other's memory is written by the device, then handed out: no poison report. */
    T_OK(dmacoh_alloc_coherent(&f.other.dmacoh, MB1, DMACOH_ALLOC_NOZERO, 0, (void **)&c, &hc));
    T_OK(dmacoh_free_coherent(&f.other.dmacoh, MB1, c, hc));
    T_OK(dmacoh_alloc_coherent(&f.other.dmacoh, 2 * PG, 0, 0, (void **)&c, &hc));
    T_OK(dmacoh_debug_get_stats(&d1));
    T_EQ_U64(d1.reports - d0.reports, 2);
    T_EQ_U64(d1.poison_errors, d0.poison_errors);
    T_OK(dmacoh_free_coherent(&f.other.dmacoh, 2 * PG, c, hc));
    T_OK(dmacoh_release_coherent_memory(&f.other.dmacoh, 0));
    fx_fini(&f);
    T_OK(dmacoh_debug_set(old));
}

/* The symbolizer is asked about the sites of a report in order; the last one of a report of
 * a free after release is the release's site. */
static const void *last_site;

static const char *remember(const void *addr, char *buf, size_t len)
{
    last_site = addr;
    snprintf(buf, len, "site");
    return buf;
}

/* A record of a released region keeps the site of the release that ended it, even when a
 * region declared since in the same metadata storage (at the same address) is released. */
static void debug_release_site_is_kept(void)
{
    struct fx f;
    struct dmacoh_declare_opts o;
    static uint64_t meta[8192];
    void *b;
    dmacoh_dma_addr_t hb;
    const void *first;
    unsigned old = dmacoh_debug_get();

    T_OK(dmacoh_debug_set(DMACOH_DEBUG_RECORD));
    dmacoh_debug_set_symbolizer(remember);
    fx_init(&f, false);
    memset(&o, 0, sizeof(o));
    o.meta = meta;
    o.meta_size = sizeof(meta);
    T_OK(
        dmacoh_declare_coherent_memory(&f.card.dmacoh, MEM, DEV, MB1, DMACOH_MEMORY_MAP, &o, NULL));
    T_OK(dmacoh_alloc_coherent(&f.card.dmacoh, PG, 0, 0, &b, &hb));
    T_OK(dmacoh_release_coherent_memory(&f.card.dmacoh, DMACOH_RELEASE_FORCE));
    last_site = NULL;
    t_log_reset();
    T_ERR(dmacoh_free_coherent(&f.card.dmacoh, PG, b, hb), DMACOH_EFAULT);
    T_ASSERT(t_log_find("released at"));
    first = last_site;
    T_ASSERT(first != NULL);
    T_OK(dmacoh_declare_coherent_memory(&f.other.dmacoh, MEM, DEV, MB1, DMACOH_MEMORY_MAP, &o,
                                        NULL));
    T_OK(dmacoh_release_coherent_memory(&f.other.dmacoh, 0));
    last_site = NULL;
    t_log_reset();
    T_ERR(dmacoh_free_coherent(&f.card.dmacoh, PG, b, hb), DMACOH_EFAULT);
    T_ASSERT(t_log_find("released at"));
    T_EQ_PTR(last_site, first);
    fx_fini(&f);
    dmacoh_debug_set_symbolizer(NULL);
    T_OK(dmacoh_debug_set(old));
}

/* Re-initialising a live device is refused and changes nothing: its region, its child and its
 * allocations stay; after fini the same storage can be initialised again. */
static void live_device_reinit_is_refused(void)
{
    struct fx f;
    struct dmacoh_device chan;
    void *a;
    dmacoh_dma_addr_t ha;

    fx_init(&f, false);
    alarm(20);
    T_OK(dmacoh_declare_coherent_memory(
        &f.card.dmacoh, MEM, DEV, MB1,
        DMACOH_MEMORY_MAP | DMACOH_MEMORY_INCLUDES_CHILDREN | DMACOH_MEMORY_EXCLUSIVE, NULL, NULL));
    T_OK(dmacoh_device_init(&chan, "chan", &f.card.dmacoh, NULL));
    T_OK(dmacoh_alloc_coherent(&chan, PG, 0, 0, &a, &ha));
    t_log_reset();
    T_ERR(dmacoh_device_init(&f.card.dmacoh, "card2", NULL, dmacoh_sim_platform(f.sim)),
          DMACOH_EBUSY);
    T_ASSERT(t_log_find("live"));
    T_ERR(dmacoh_device_init(&f.card.dmacoh, "card2", &f.other.dmacoh, NULL), DMACOH_EBUSY);
    T_ERR(dmacoh_device_init(&chan, "chan2", &f.other.dmacoh, NULL), DMACOH_EBUSY);
    T_ERR(dmacoh_device_init(&chan, "chan2", NULL, dmacoh_sim_platform(f.sim)), DMACOH_EBUSY);
    T_EQ_PTR(dmacoh_device_parent(&chan), &f.card.dmacoh);
    T_ASSERT(dmacoh_device_has_region(&f.card.dmacoh));
    T_ASSERT(strcmp(dmacoh_device_name(&f.card.dmacoh), "card") == 0);
    T_EQ_U64(t_region_stats(&f.card.dmacoh).live, 1);
    T_OK(dmacoh_free_coherent(&chan, PG, a, ha));
    T_ERR(dmacoh_device_fini(&f.card.dmacoh), DMACOH_EBUSY); /* region and child: kept */
    T_OK(dmacoh_device_fini(&chan));
    T_OK(dmacoh_device_init(&chan, "chan", &f.card.dmacoh, NULL)); /* retired: may come back */
    T_OK(dmacoh_device_fini(&chan));
    T_OK(dmacoh_release_coherent_memory(&f.card.dmacoh, 0));
    fx_fini(&f);
    alarm(0);
}

/* init(b, parent a) then init(a, parent b) used to make a the child of its own child: the
 * next allocation on either walked the parent chain forever, and a's region was orphaned.
 * Both that and a longer cycle are refused; the tree keeps working. */
static void parent_cycle_is_refused(void)
{
    struct fx f;
    struct dmacoh_device b, c;
    void *x;
    dmacoh_dma_addr_t hx;

    fx_init(&f, false);
    alarm(20); /* a regression loops in the allocation: fail, do not hang */
    T_OK(dmacoh_declare_coherent_memory(
        &f.card.dmacoh, MEM, DEV, MB1,
        DMACOH_MEMORY_MAP | DMACOH_MEMORY_INCLUDES_CHILDREN | DMACOH_MEMORY_EXCLUSIVE, NULL, NULL));
    T_OK(dmacoh_device_init(&b, "b", &f.card.dmacoh, NULL));
    t_log_reset();
    T_ERR(dmacoh_device_init(&f.card.dmacoh, "card", &b, NULL), DMACOH_EBUSY);
    T_ASSERT(t_log_find("cycle"));
    T_OK(dmacoh_device_init(&c, "c", &b, NULL));
    T_ERR(dmacoh_device_init(&f.card.dmacoh, "card", &c, NULL), DMACOH_EBUSY);
    T_ERR(dmacoh_device_init(&b, "b", &c, NULL), DMACOH_EBUSY);
    T_EQ_PTR(dmacoh_device_parent(&f.card.dmacoh), NULL);
    T_EQ_PTR(dmacoh_device_parent(&b), &f.card.dmacoh);
    T_OK(dmacoh_alloc_coherent(&c, PG, 0, 0, &x, &hx));
    T_ASSERT(inside(hx, DEV, MB1));
    T_OK(dmacoh_free_coherent(&c, PG, x, hx));
    T_OK(dmacoh_device_fini(&c));
    T_OK(dmacoh_device_fini(&b));
    T_OK(dmacoh_release_coherent_memory(&f.card.dmacoh, 0));
    fx_fini(&f);
    alarm(0);
}

/* A device dropped without fini (its storage reused: here overwritten) is not followed by
 * later inits and finis on the platform; and a second fini of a device is refused without
 * touching its parent's or the platform's counts. */
static void a_dropped_device_is_not_followed(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_device a, b, c, saved;

    T_OK(dmacoh_sim_create(NULL, &sim));
    alarm(20);
    T_OK(dmacoh_device_init(&a, "a", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&b, "b", &a, NULL));
    memcpy(&saved, &b, sizeof(b));
    memset(&b, 0x5a, sizeof(b)); /* b's storage reused by the program, b never finalised */
    t_log_reset();
    T_OK(dmacoh_device_init(&c, "c", NULL, dmacoh_sim_platform(sim)));
    T_ASSERT(t_log_find("dropped without dmacoh_device_fini"));
    T_OK(dmacoh_device_fini(&c));
    T_ERR(dmacoh_device_fini(&c), DMACOH_EINVAL); /* twice: refused, nothing decremented */
    memcpy(&b, &saved, sizeof(b));
    T_ERR(dmacoh_device_fini(&a), DMACOH_EBUSY); /* b is still its child */
    T_OK(dmacoh_device_fini(&b));
    T_OK(dmacoh_device_fini(&a));
    alarm(0);
    T_OK(dmacoh_sim_destroy(sim));
}

static const struct t_case cases[] = {
    T_CASE(pool_after_release_uses_new_memory),
    T_CASE(pool_after_release_under_debug),
    T_CASE(pool_after_release_fails_without_memory),
    T_CASE(pool_destroy_spares_redeclared_memory),
    T_CASE(pool_chunks_follow_their_own_region),
    T_CASE(pool_of_a_sharer_after_its_release),
    T_CASE(thread_caches_do_not_survive_a_release),
    T_CASE(debug_records_do_not_survive_a_release),
    T_CASE(debug_release_site_is_kept),
    T_CASE(live_device_reinit_is_refused),
    T_CASE(parent_cycle_is_refused),
    T_CASE(a_dropped_device_is_not_followed),
};

T_MAIN(cases)
