/* SPDX-License-Identifier: MIT */
/*
 * test_tcache.c - the per-thread caches of freed small blocks (src/core/tcache.c): reuse,
 * double frees caught while a block is cached (from one thread and from two racing), checked
 * sizes and handles, exact statistics and checks, no failure caused by cached blocks, release,
 * and a waiter woken by a cached free. Caching is switched on the way contention does it.
 */
#include "t.h"
#include "fixture.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"

#define PG     4096u
#define BUS    0x80000000u
#define NPAGES 64u
#define ROUNDS 2000

struct fx {
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
};

static void setup(struct fx *f, int flags)
{
    T_OK(dmacoh_sim_create(NULL, &f->sim));
    t_add_memory(f->sim, BUS, NPAGES * PG, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&f->dev, "tc", NULL, dmacoh_sim_platform(f->sim)));
    T_OK(dmacoh_declare_coherent_memory(&f->dev, BUS, BUS, NPAGES * PG, DMACOH_MEMORY_MAP | flags,
                                        NULL, NULL));
    /* What the first contended lock does. */
    dmacoh__lock(&f->dev.pool->lock, f->dev.pool->plat);
    dmacoh__tc_enable(f->dev.pool);
    dmacoh__unlock(&f->dev.pool->lock);
    T_ASSERT(dmacoh__tc_active(f->dev.pool));
}

static void teardown(struct fx *f)
{
    T_OK(dmacoh_release_coherent_memory(&f->dev, 0));
    T_OK(dmacoh_device_fini(&f->dev));
    T_OK(dmacoh_sim_destroy(f->sim));
}

static unsigned cached(const struct fx *f)
{
    unsigned n = 0;

    for (unsigned i = 0; i < DMACOH__TC_SLOTS; i++)
        n += __atomic_load_n(&f->dev.pool->tc[i].count, __ATOMIC_RELAXED);
    return n;
}

/* A freed block is cached and comes back to the next allocation of its size, zeroed. */
static void freed_block_is_reused(void)
{
    struct fx f;
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;

    setup(&f, 0);
    T_OK(dmacoh_alloc_coherent(&f.dev, 2 * PG, 0, 0, &a, &ha));
    memset(a, 0xab, 2 * PG);
    T_OK(dmacoh_free_coherent(&f.dev, 2 * PG, a, ha));
    T_EQ_INT(cached(&f), 1);
    T_OK(dmacoh_alloc_coherent(&f.dev, 2 * PG, 0, 0, &b, &hb));
    T_EQ_PTR(b, a);
    T_EQ_U64(hb, ha);
    T_EQ_INT(((unsigned char *)b)[PG + 5], 0);
    T_EQ_INT(cached(&f), 0);
    T_OK(dmacoh_free_coherent(&f.dev, 2 * PG, b, hb));
    teardown(&f);
}

/* Double free, wrong size, wrong handle and interior pointers are refused with the block
 * cached, exactly as without caching; statistics and checks see the cached block as free. */
static void cached_block_frees_are_checked(void)
{
    struct fx f;
    struct dmacoh_region_stats st;
    void *a;
    dmacoh_dma_addr_t ha;

    setup(&f, 0);
    T_OK(dmacoh_alloc_coherent(&f.dev, 3 * PG, 0, 0, &a, &ha));
    T_ERR(dmacoh_free_coherent(&f.dev, 3 * PG, a, ha + PG), DMACOH_EINVAL);
    T_ERR(dmacoh_free_coherent(&f.dev, 2 * PG, a, ha), DMACOH_EINVAL);
    T_ERR(dmacoh_free_coherent(&f.dev, PG, (char *)a + PG, ha + PG), DMACOH_EFAULT);
    T_OK(dmacoh_free_coherent(&f.dev, 3 * PG, a, ha));
    T_EQ_INT(cached(&f), 1);
    T_ERR(dmacoh_free_coherent(&f.dev, 3 * PG, a, ha), DMACOH_EFAULT);
    T_OK(dmacoh_alloc_coherent(&f.dev, 3 * PG, 0, 0, &a, &ha));
    T_OK(dmacoh_free_coherent(&f.dev, 3 * PG, a, ha));
    T_ASSERT(dmacoh_check(&f.dev));
    st = t_region_stats(&f.dev);
    T_EQ_U64(st.in_use, 0);
    T_EQ_U64(st.live, 0);
    T_EQ_U64(st.largest_free, NPAGES * PG);
    T_EQ_U64(st.allocs, 2);
    T_EQ_U64(st.frees, 2);
    T_EQ_INT(cached(&f), 0);
    teardown(&f);
}

/* Cached blocks never make an allocation fail: the whole region in one piece after every
 * page was allocated and freed one by one. */
static void cached_blocks_do_not_cause_failures(void)
{
    struct fx f;
    void *p[NPAGES], *big;
    dmacoh_dma_addr_t h[NPAGES], hbig;

    setup(&f, DMACOH_MEMORY_EXCLUSIVE);
    for (unsigned i = 0; i < NPAGES; i++)
        T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &p[i], &h[i]));
    for (unsigned i = 0; i < NPAGES; i++)
        T_OK(dmacoh_free_coherent(&f.dev, PG, p[i], h[i]));
    T_ASSERT(cached(&f) > 0);
    T_OK(dmacoh_alloc_coherent(&f.dev, NPAGES * PG, 0, 0, &big, &hbig));
    T_EQ_U64(hbig, BUS);
    T_OK(dmacoh_free_coherent(&f.dev, NPAGES * PG, big, hbig));
    teardown(&f);
}

/* Two threads free the same block at once, many times: exactly one free succeeds each time. */
struct race {
    struct fx *f;
    void *cpu;
    dmacoh_dma_addr_t h;
    int r;
    pthread_barrier_t *go;
};

static void *race_free(void *arg)
{
    struct race *r = arg;

    pthread_barrier_wait(r->go);
    r->r = dmacoh_free_coherent(&r->f->dev, PG, r->cpu, r->h);
    return NULL;
}

static void racing_double_free_loses_once(void)
{
    struct fx f;
    pthread_barrier_t go;

    setup(&f, 0);
    T_ASSERT(pthread_barrier_init(&go, NULL, 2) == 0);
    for (unsigned i = 0; i < ROUNDS; i++) {
        struct race a = {&f, NULL, 0, 1, &go}, b;
        pthread_t t1, t2;

        T_OK(dmacoh_alloc_coherent(&f.dev, PG, DMACOH_ALLOC_NOZERO, 0, &a.cpu, &a.h));
        b = a;
        T_ASSERT(pthread_create(&t1, NULL, race_free, &a) == 0);
        T_ASSERT(pthread_create(&t2, NULL, race_free, &b) == 0);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        T_ASSERT((a.r == 0 && b.r == DMACOH_EFAULT) || (b.r == 0 && a.r == DMACOH_EFAULT));
    }
    T_ASSERT(dmacoh_check(&f.dev));
    T_EQ_U64(t_region_stats(&f.dev).live, 0);
    pthread_barrier_destroy(&go);
    teardown(&f);
}

/* Two threads allocate, write, check and free at once: no block is handed out twice. */
static void *churn(void *arg)
{
    struct fx *f = arg;
    uintptr_t bad = 0;

    for (unsigned i = 0; i < 20000; i++) {
        size_t size = PG * (1 + i % 3);
        unsigned char *c;
        dmacoh_dma_addr_t h;
        unsigned char tag = (unsigned char)(uintptr_t)pthread_self() ^ (unsigned char)i;

        if (dmacoh_alloc_coherent(&f->dev, size, DMACOH_ALLOC_NOZERO | DMACOH_ALLOC_NOFALLBACK, 0,
                                  (void **)&c, &h))
            continue;
        memset(c, tag, size);
        for (size_t k = 0; k < size; k += 512)
            bad += c[k] != tag;
        if (dmacoh_free_coherent(&f->dev, size, c, h))
            bad++;
    }
    return (void *)bad;
}

static void two_threads_never_share_a_block(void)
{
    struct fx f;
    pthread_t t[2];
    void *bad[2];

    setup(&f, 0);
    for (unsigned i = 0; i < 2; i++)
        T_ASSERT(pthread_create(&t[i], NULL, churn, &f) == 0);
    for (unsigned i = 0; i < 2; i++)
        pthread_join(t[i], &bad[i]);
    T_EQ_U64((uintptr_t)bad[0] + (uintptr_t)bad[1], 0);
    T_ASSERT(dmacoh_check(&f.dev));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    teardown(&f);
}

/* A thread waiting for room (exclusive region, DMACOH_ALLOC_WAIT) gets a block another thread
 * frees into its cache. */
struct waiter {
    struct fx *f;
    int r;
    void *cpu;
    dmacoh_dma_addr_t h;
};

static void *wait_for_room(void *arg)
{
    struct waiter *w = arg;

    w->r = dmacoh_alloc_coherent(&w->f->dev, PG, DMACOH_ALLOC_WAIT, 10ull * 1000 * 1000 * 1000,
                                 &w->cpu, &w->h);
    return NULL;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The waiter is woken by the free, not by its 30 s timeout running out (after which it
 * would find the block anyway, by draining the caches itself). */
static void waiter_is_woken_by_a_cached_free(void)
{
    struct fx f;
    void *p[NPAGES];
    dmacoh_dma_addr_t h[NPAGES];
    struct waiter w = {&f, 1, NULL, 0};
    pthread_t t;
    uint64_t t0;

    setup(&f, DMACOH_MEMORY_EXCLUSIVE);
    for (unsigned i = 0; i < NPAGES; i++)
        T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &p[i], &h[i]));
    T_ASSERT(pthread_create(&t, NULL, wait_for_room, &w) == 0);
    while (__atomic_load_n(f.dev.pool->waiters, __ATOMIC_SEQ_CST) == 0)
        sched_yield();
    t0 = mono_ns();
    T_OK(dmacoh_free_coherent(&f.dev, PG, p[7], h[7]));
    pthread_join(t, NULL);
    T_ASSERT(mono_ns() - t0 < 5ull * 1000 * 1000 * 1000);
    T_OK(w.r);
    T_EQ_U64(w.h, h[7]);
    p[7] = w.cpu;
    for (unsigned i = 0; i < NPAGES; i++)
        T_OK(dmacoh_free_coherent(&f.dev, PG, p[i], h[i]));
    teardown(&f);
}

/* A platform whose wait op first frees a block (as another thread would, in the window
 * between the allocation's last look at the region and its sleep): the free changes the
 * sequence word, so the wait returns at once and the allocation gets the block, instead of
 * sleeping out its timeout with the wake-up lost. */
static const struct dmacoh_platform_ops *inner_ops;
static struct {
    struct dmacoh_device *dev;
    void *cpu;
    dmacoh_dma_addr_t h;
    bool armed;
    int r;
    unsigned waits;
} wf;

static int free_then_wait(void *ctx, const uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    wf.waits++;
    if (wf.armed) {
        wf.armed = false;
        wf.r = dmacoh_free_coherent(wf.dev, PG, wf.cpu, wf.h);
    }
    return inner_ops->wait(ctx, word, expected, timeout_ns);
}

static void free_just_before_the_wait_is_not_lost(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_platform *sp, plat;
    struct dmacoh_platform_ops ops;
    struct dmacoh_device dev;
    void *p[NPAGES], *x;
    dmacoh_dma_addr_t h[NPAGES], hx;
    uint64_t t0;

    T_OK(dmacoh_sim_create(NULL, &sim));
    t_add_memory(sim, BUS, NPAGES * PG, DMACOH_MEMORY_MAP, false);
    sp = dmacoh_sim_platform(sim);
    inner_ops = sp->ops;
    ops = *sp->ops;
    ops.wait = free_then_wait;
    T_OK(dmacoh_platform_init(&plat, &ops, sp->ctx));
    T_OK(dmacoh_device_init(&dev, "wf", NULL, &plat));
    T_OK(dmacoh_declare_coherent_memory(&dev, BUS, BUS, NPAGES * PG,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, NULL));
    for (unsigned i = 0; i < NPAGES; i++)
        T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &p[i], &h[i]));
    T_ASSERT(!dmacoh__tc_active(dev.pool)); /* one thread: the free goes to the allocator */
    wf.dev = &dev;
    wf.cpu = p[9];
    wf.h = h[9];
    wf.armed = true;
    wf.r = 1;
    wf.waits = 0;
    t0 = mono_ns();
    T_OK(dmacoh_alloc_coherent(&dev, PG, DMACOH_ALLOC_WAIT, 30ull * 1000 * 1000 * 1000, &x, &hx));
    T_ASSERT(mono_ns() - t0 < 5ull * 1000 * 1000 * 1000);
    T_OK(wf.r);
    T_EQ_U64(hx, h[9]);
    T_ASSERT(wf.waits >= 1);
    p[9] = x;
    for (unsigned i = 0; i < NPAGES; i++)
        T_OK(dmacoh_free_coherent(&dev, PG, p[i], h[i]));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_platform_fini(&plat));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A cached block above a device's reach is never handed to it: not to a child with a
 * narrower DMA mask served through INCLUDES_CHILDREN, nor to dmacoh__alloc_below. The cache
 * holds a reachable block below an unreachable one, newest first (LIFO), so a cache that
 * ignored the limit would hand out the unreachable one. */
static void cached_blocks_respect_the_dma_limit(void)
{
    enum { N = 257 }; /* page N - 1 is the first at 1 MiB */
    const uint64_t mask = DMACOH_BIT_MASK(20);
    struct dmacoh_sim *sim;
    struct dmacoh_device dev, child;
    static void *p[N];
    static dmacoh_dma_addr_t h[N];
    void *x;
    dmacoh_dma_addr_t hx;

    T_OK(dmacoh_sim_create(NULL, &sim));
    t_add_memory(sim, BUS, 2 * 1024 * 1024, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&dev, "parent", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&child, "child", &dev, NULL));
    T_OK(dmacoh_device_set_dma_mask(&child, mask));
    T_OK(dmacoh_declare_coherent_memory(
        &dev, BUS, 0, 2 * 1024 * 1024,
        DMACOH_MEMORY_MAP | DMACOH_MEMORY_INCLUDES_CHILDREN | DMACOH_MEMORY_EXCLUSIVE, NULL, NULL));
    dmacoh__lock(&dev.pool->lock, dev.pool->plat);
    dmacoh__tc_enable(dev.pool);
    dmacoh__unlock(&dev.pool->lock);
    for (unsigned i = 0; i < N; i++)
        T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &p[i], &h[i]));
    T_EQ_U64(h[N - 1], mask + 1);

    /* The child. */
    T_OK(dmacoh_free_coherent(&dev, PG, p[3], h[3]));
    T_OK(dmacoh_free_coherent(&dev, PG, p[N - 1], h[N - 1]));
    T_OK(dmacoh_alloc_coherent(&child, PG, 0, 0, &x, &hx));
    T_ASSERT(hx + PG - 1 <= mask);
    T_EQ_U64(hx, h[3]);
    p[3] = x;
    T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &p[N - 1], &h[N - 1]));
    T_EQ_U64(h[N - 1], mask + 1);

    /* dmacoh__alloc_below. */
    T_OK(dmacoh_free_coherent(&dev, PG, p[5], h[5]));
    T_OK(dmacoh_free_coherent(&dev, PG, p[N - 1], h[N - 1]));
    T_OK(dmacoh__alloc_below(&dev, PG, mask, &x, &hx));
    T_ASSERT(hx + PG - 1 <= mask);
    T_EQ_U64(hx, h[5]);
    p[5] = x;
    T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &p[N - 1], &h[N - 1]));

    for (unsigned i = 0; i < N; i++)
        T_OK(dmacoh_free_coherent(i == 3 ? &child : &dev, PG, p[i], h[i]));
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&child));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A first-fit region never caches: the kernel's order is kept. */
static void first_fit_regions_do_not_cache(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
    struct dmacoh_declare_opts o;
    void *a;
    dmacoh_dma_addr_t h;

    T_OK(dmacoh_sim_create(NULL, &sim));
    t_add_memory(sim, BUS, NPAGES * PG, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&dev, "ff", NULL, dmacoh_sim_platform(sim)));
    memset(&o, 0, sizeof(o));
    o.placement = DMACOH_PLACE_FIRST_FIT;
    T_OK(dmacoh_declare_coherent_memory(&dev, BUS, BUS, NPAGES * PG, DMACOH_MEMORY_MAP, &o, NULL));
    dmacoh__lock(&dev.pool->lock, dev.pool->plat);
    dmacoh__tc_enable(dev.pool);
    dmacoh__unlock(&dev.pool->lock);
    T_ASSERT(!dmacoh__tc_active(dev.pool));
    T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &a, &h));
    T_OK(dmacoh_free_coherent(&dev, PG, a, h));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

static const struct t_case cases[] = {
    T_CASE(freed_block_is_reused),
    T_CASE(cached_block_frees_are_checked),
    T_CASE(cached_blocks_do_not_cause_failures),
    T_CASE(racing_double_free_loses_once),
    T_CASE(two_threads_never_share_a_block),
    T_CASE(waiter_is_woken_by_a_cached_free),
    T_CASE(free_just_before_the_wait_is_not_lost),
    T_CASE(cached_blocks_respect_the_dma_limit),
    T_CASE(first_fit_regions_do_not_cache),
};

T_MAIN(cases)
