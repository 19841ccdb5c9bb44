/* SPDX-License-Identifier: MIT */
/*
 * test_alloc.c - allocation and free through the namespaced API (design.md rules 4 to
 * 9, 11; include/dmacoh/alloc.h and region.h): argument errors, full regions with and without
 * EXCLUSIVE, NOFALLBACK and WAIT, rounding, zeroing, alignment, the DMA handle and the address
 * translations, data seen on the simulated bus (MAP and IO), regions inherited through
 * INCLUDES_CHILDREN, ascending order, occupied ranges, every kind of bad free (which must be
 * reported and change nothing), region statistics and DMA masks. Each test builds its own
 * simulator and devices and tears them down.
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include "fixture.h"
#include "t.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG       UINT64_C(0x1000)
#define MEM_A    UINT64_C(0x10000000)
#define MEM_B    UINT64_C(0x20000000)
#define MEM_C    UINT64_C(0x30000000)
#define DEV_A    UINT64_C(0x80000000)
#define DEV_B    UINT64_C(0x90000000)
#define DEV_C    UINT64_C(0xa0000000)
#define RAM_BASE UINT64_C(0x40000000)
#define RAM_SIZE UINT64_C(0x4000000)
#define MAPIO    (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)
#define EXCL     DMACOH_MEMORY_EXCLUSIVE
#define INCL     DMACOH_MEMORY_INCLUDES_CHILDREN
#define NOFB     DMACOH_ALLOC_NOFALLBACK

struct fx {
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
};

static void declare(struct dmacoh_device *dev, uint64_t bus, uint64_t da, uint64_t size, int flags,
                    int mode)
{
    int g = 0;

    T_OK(dmacoh_declare_coherent_memory(dev, bus, da, size, flags, NULL, &g));
    T_EQ_INT(g, mode);
    T_ASSERT(dmacoh_check(dev));
}

/* A sim (opts may be NULL) with `size` bytes at MEM_A; dev declares it at DEV_A if flags. */
static void fx_init(struct fx *f, const struct dmacoh_sim_opts *opts, uint64_t size, int modes,
                    int flags)
{
    f->sim = NULL;
    T_OK(dmacoh_sim_create(opts, &f->sim));
    t_add_memory(f->sim, MEM_A, size, modes, false);
    T_OK(dmacoh_device_init(&f->dev, "fx", NULL, dmacoh_sim_platform(f->sim)));
    if (flags)
        declare(&f->dev, MEM_A, DEV_A, size, flags,
                (flags & DMACOH_MEMORY_MAP) ? DMACOH_MEMORY_MAP : DMACOH_MEMORY_IO);
}

static void fx_fini(struct fx *f)
{
    T_ASSERT(dmacoh_check(&f->dev));
    if (dmacoh_device_has_region(&f->dev))
        T_OK(dmacoh_release_coherent_memory(&f->dev, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&f->dev));
    T_OK(dmacoh_sim_destroy(f->sim));
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static bool all_bytes(const void *p, size_t n, unsigned char v)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return false;
    return true;
}

struct walk {
    struct dmacoh_extent e[128];
    unsigned n;
};

static int walk_fn(void *user, const struct dmacoh_extent *e)
{
    struct walk *w = user;

    if (w->n < 128)
        w->e[w->n++] = *e;
    return 0;
}

/* Fills f's region with one-page allocations; returns how many. */
static unsigned fill(struct fx *f, void **cpu, dmacoh_dma_addr_t *h, unsigned max)
{
    unsigned n = 0;

    while (n < max && dmacoh_alloc_coherent(&f->dev, PG, NOFB, 0, &cpu[n], &h[n]) == 0)
        n++;
    return n;
}

/* A free that must fail with `code`, log why, and change nothing in f's region. */
#define BAD_FREE(f, size, cpu, h, code)                                                            \
    do {                                                                                           \
        struct dmacoh_region_stats b_ = t_region_stats(&(f)->dev), a_;                             \
        t_log_reset();                                                                             \
        T_ERR(dmacoh_free_coherent(&(f)->dev, (size), (cpu), (h)), (code));                        \
        T_ASSERT(t_log_count() > 0);                                                               \
        T_ASSERT(dmacoh_check(&(f)->dev));                                                         \
        a_ = t_region_stats(&(f)->dev);                                                            \
        T_EQ_U64(a_.in_use, b_.in_use);                                                            \
        T_EQ_U64(a_.live, b_.live);                                                                \
        T_EQ_U64(a_.frees, b_.frees);                                                              \
    } while (0)

static void alloc_bad_arguments(void)
{
    struct fx f;
    struct dmacoh_device stale;
    void *cpu = &f;
    dmacoh_dma_addr_t h = 42;

    fx_init(&f, NULL, 16 * PG, MAPIO, DMACOH_MEMORY_MAP);
    t_log_reset();
    T_ERR(dmacoh_alloc_coherent(&f.dev, 0, 0, 0, &cpu, &h), DMACOH_EINVAL);
    T_ASSERT(t_log_count() > 0);
    T_EQ_PTR(cpu, &f); /* untouched on failure */
    T_EQ_U64(h, 42);
    T_ERR(dmacoh_alloc_coherent(&f.dev, 0, NOFB, 0, &cpu, &h), DMACOH_EINVAL);
    T_ERR(dmacoh_alloc_coherent(&f.dev, PG, 0x100, 0, &cpu, &h), DMACOH_EINVAL);
    T_ERR(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, NULL, &h), DMACOH_EINVAL);
    T_ERR(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &cpu, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_alloc_coherent(NULL, PG, 0, 0, &cpu, &h), DMACOH_EINVAL);
    memset(&stale, 0, sizeof(stale));
    T_ERR(dmacoh_alloc_coherent(&stale, PG, 0, 0, &cpu, &h), DMACOH_EINVAL);
    /* Above 2^62 bytes, or more than rounds up to whole pages in a size_t (32-bit builds):
     * an overflow, said as such. */
    t_log_reset();
    T_ERR(dmacoh_alloc_coherent(&f.dev, SIZE_MAX, 0, 0, &cpu, &h), DMACOH_EOVERFLOW);
    T_ASSERT(t_log_find("is more than an allocation may have"));
    T_EQ_PTR(cpu, &f);
    T_EQ_U64(h, 42);
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    T_EQ_U64(t_region_stats(&f.dev).live, 0);
    fx_fini(&f);
}

static void alloc_exclusive_region_full(void)
{
    struct fx f;
    void *cpu[9], *x = NULL;
    dmacoh_dma_addr_t h[9], hx = 0;
    uint64_t failures = 0;

    fx_init(&f, NULL, 8 * PG, MAPIO, DMACOH_MEMORY_MAP | EXCL);
    T_ERR(dmacoh_alloc_coherent(&f.dev, 9 * PG, 0, 0, &x, &hx), DMACOH_ENOMEM);
    T_EQ_PTR(x, NULL);
    T_EQ_U64(t_region_stats(&f.dev).failures, 1);
    T_EQ_U64(t_region_stats(&f.dev).fallbacks, 0);
    dmacoh_device_counters(&f.dev, NULL, &failures);
    T_EQ_U64(failures, 1);
    /* The whole region in one piece fits; then page by page until full. */
    T_OK(dmacoh_alloc_coherent(&f.dev, 8 * PG, 0, 0, &x, &hx));
    T_EQ_U64(hx, DEV_A);
    T_OK(dmacoh_free_coherent(&f.dev, 8 * PG, x, hx));
    T_EQ_INT(fill(&f, cpu, h, 9), 8);
    T_ERR(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &x, &hx), DMACOH_ENOMEM);
    T_OK(dmacoh_free_coherent(&f.dev, PG, cpu[3], h[3]));
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &x, &hx));
    T_EQ_U64(hx, h[3]);
    T_EQ_INT(dmacoh_origin_of(&f.dev, x), DMACOH_ORIGIN_REGION);
    fx_fini(&f);
}

static void alloc_nonexclusive_falls_back(void)
{
    struct fx f;
    void *cpu = NULL, *pg[17];
    dmacoh_dma_addr_t h = 0, hp[17];
    uint64_t fallbacks = 0;
    unsigned char buf[8] = {0};

    fx_init(&f, NULL, 16 * PG, MAPIO, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&f.dev, 32 * PG, 0, 0, &cpu, &h));
    T_EQ_INT(dmacoh_origin_of(&f.dev, cpu), DMACOH_ORIGIN_SYSTEM);
    T_ASSERT(h >= RAM_BASE && h + 32 * PG <= RAM_BASE + RAM_SIZE);
    T_EQ_U64(h % (32 * PG), 0);
    T_ASSERT(all_bytes(cpu, 32 * PG, 0));
    T_EQ_U64(dmacoh_virt_to_dma(&f.dev, (char *)cpu + 100), h + 100);
    T_EQ_PTR(dmacoh_dma_to_virt(&f.dev, h + 100), (char *)cpu + 100);
    /* Identity on the simulator: the bus sees the CPU's stores at the handle. */
    memcpy(cpu, "fallback", 8);
    T_OK(dmacoh_sim_bus_read(f.sim, h, buf, 8));
    T_ASSERT(memcmp(buf, "fallback", 8) == 0);
    T_EQ_U64(t_region_stats(&f.dev).failures, 1);
    T_EQ_U64(t_region_stats(&f.dev).fallbacks, 1);
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    dmacoh_device_counters(&f.dev, &fallbacks, NULL);
    T_EQ_U64(fallbacks, 1);
    T_OK(dmacoh_free_coherent(&f.dev, 32 * PG, cpu, h));
    /* A full (not too small) region falls back too, unless NOFALLBACK. */
    T_EQ_INT(fill(&f, pg, hp, 17), 16);
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &cpu, &h));
    T_EQ_INT(dmacoh_origin_of(&f.dev, cpu), DMACOH_ORIGIN_SYSTEM);
    T_ASSERT(h >= RAM_BASE && h < RAM_BASE + RAM_SIZE);
    T_OK(dmacoh_free_coherent(&f.dev, PG, cpu, h));
    T_ERR(dmacoh_alloc_coherent(&f.dev, PG, NOFB, 0, &cpu, &h), DMACOH_ENOMEM);
    T_EQ_U64(t_region_stats(&f.dev).fallbacks, 2);
    fx_fini(&f);
}

static void alloc_without_region(void)
{
    struct fx f;
    struct dmacoh_sim_opts o;
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;

    fx_init(&f, NULL, 16 * PG, MAPIO, 0);
    T_OK(dmacoh_alloc_coherent(&f.dev, 3 * PG, 0, 0, &cpu, &h));
    T_EQ_INT(dmacoh_origin_of(&f.dev, cpu), DMACOH_ORIGIN_SYSTEM);
    T_EQ_U64(h % (4 * PG), 0);
    T_OK(dmacoh_free_coherent(&f.dev, 3 * PG, cpu, h));
    T_ERR(dmacoh_alloc_coherent(&f.dev, PG, NOFB, 0, &cpu, &h), DMACOH_ENOMEM);
    fx_fini(&f);

    memset(&o, 0, sizeof(o));
    o.no_ram = true;
    fx_init(&f, &o, 16 * PG, MAPIO, 0);
    T_ERR(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &cpu, &h), DMACOH_ENOMEM);
    fx_fini(&f);
}

static void alloc_wait_times_out(void)
{
    struct fx f;
    void *cpu[8], *x = NULL;
    dmacoh_dma_addr_t h[8], hx = 0;
    uint64_t t0, dt;

    fx_init(&f, NULL, 4 * PG, MAPIO, DMACOH_MEMORY_MAP | EXCL);
    T_EQ_INT(fill(&f, cpu, h, 8), 4);
    t0 = now_ns();
    T_ERR(dmacoh_alloc_coherent(&f.dev, PG, DMACOH_ALLOC_WAIT, 100000000u, &x, &hx),
          DMACOH_ETIMEDOUT);
    dt = now_ns() - t0;
    T_ASSERT(dt >= 90000000u);  /* waited about the timeout, */
    T_ASSERT(dt < 3000000000u); /* and not forever */
    T_EQ_PTR(x, NULL);
    T_EQ_U64(t_region_stats(&f.dev).live, 4);
    fx_fini(&f);

    /* Not exclusive: WAIT falls back at once, unless NOFALLBACK makes it wait too. */
    fx_init(&f, NULL, 4 * PG, MAPIO, DMACOH_MEMORY_MAP);
    T_EQ_INT(fill(&f, cpu, h, 8), 4);
    t0 = now_ns();
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, DMACOH_ALLOC_WAIT, 5000000000u, &x, &hx));
    T_ASSERT(now_ns() - t0 < 2000000000u);
    T_EQ_INT(dmacoh_origin_of(&f.dev, x), DMACOH_ORIGIN_SYSTEM);
    T_OK(dmacoh_free_coherent(&f.dev, PG, x, hx));
    T_ERR(dmacoh_alloc_coherent(&f.dev, PG, DMACOH_ALLOC_WAIT | NOFB, 20000000u, &x, &hx),
          DMACOH_ETIMEDOUT);
    fx_fini(&f);
}

struct waiter {
    struct dmacoh_device *dev;
    int err;
    void *cpu;
    dmacoh_dma_addr_t h;
    atomic_int done;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;

    w->err = dmacoh_alloc_coherent(w->dev, PG, DMACOH_ALLOC_WAIT, 10000000000u, &w->cpu, &w->h);
    atomic_store(&w->done, 1);
    return NULL;
}

static void alloc_wait_woken_by_free(void)
{
    struct fx f;
    void *cpu[8];
    dmacoh_dma_addr_t h[8];
    struct waiter w;
    pthread_t th;
    uint64_t t0;
    bool waited;
    int free_err;

    fx_init(&f, NULL, 4 * PG, MAPIO, DMACOH_MEMORY_MAP | EXCL);
    T_EQ_INT(fill(&f, cpu, h, 8), 4);
    memset(&w, 0, sizeof(w));
    w.dev = &f.dev;
    atomic_init(&w.done, 0);
    t0 = now_ns();
    T_EQ_INT(pthread_create(&th, NULL, waiter_main, &w), 0);
    sleep_ms(150);
    waited = atomic_load(&w.done) == 0; /* still waiting for room */
    free_err = dmacoh_free_coherent(&f.dev, PG, cpu[2], h[2]);
    T_EQ_INT(pthread_join(th, NULL), 0); /* no assertion may leave the test before this */
    T_OK(free_err);
    T_ASSERT(waited);
    T_OK(w.err);
    T_ASSERT(now_ns() - t0 < 5000000000u);
    T_EQ_U64(w.h, h[2]);
    T_EQ_INT(dmacoh_origin_of(&f.dev, w.cpu), DMACOH_ORIGIN_REGION);
    T_EQ_U64(t_region_stats(&f.dev).live, 4);
    fx_fini(&f);
}

static void alloc_rounds_to_granules(void)
{
    struct fx f;
    void *a = NULL, *b = NULL, *c = NULL;
    dmacoh_dma_addr_t ha = 0, hb = 0, hc = 0;

    fx_init(&f, NULL, 16 * PG, MAPIO, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&f.dev, 1, 0, 0, &a, &ha));
    T_EQ_U64(t_region_stats(&f.dev).in_use, PG);
    T_OK(dmacoh_alloc_coherent(&f.dev, PG + 1, 0, 0, &b, &hb));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 3 * PG);
    T_OK(dmacoh_alloc_coherent(&f.dev, 3 * PG - 5, 0, 0, &c, &hc));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 6 * PG);
    T_ASSERT(ha + PG <= hb || hb + 2 * PG <= ha);
    T_ASSERT(hb + 2 * PG <= hc || hc + 3 * PG <= hb);
    /* The size is compared in whole granules: any size in the same granule count frees. */
    T_OK(dmacoh_free_coherent(&f.dev, PG, a, ha));
    T_OK(dmacoh_free_coherent(&f.dev, 2 * PG, b, hb));
    BAD_FREE(&f, 2 * PG, c, hc, DMACOH_EINVAL);
    T_OK(dmacoh_free_coherent(&f.dev, 3 * PG - 100, c, hc));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    fx_fini(&f);
}

static void alloc_zeroes_memory(void)
{
    static unsigned char buf[8 * 0x1000];

    for (int io = 0; io < 2; io++) {
        struct fx f;
        void *cpu[8];
        dmacoh_dma_addr_t h[8];
        int mode = io ? DMACOH_MEMORY_IO : DMACOH_MEMORY_MAP;

        fx_init(&f, NULL, 8 * PG, mode, mode | EXCL);
        memset(buf, 0xa5, sizeof(buf));
        T_OK(dmacoh_sim_bus_write(f.sim, MEM_A, buf, sizeof(buf)));
        /* Junk from the bus side, then junk written by the previous owner: zeroed both times. */
        for (int round = 0; round < 2; round++) {
            T_EQ_INT(fill(&f, cpu, h, 8), 8);
            T_OK(dmacoh_sim_bus_read(f.sim, MEM_A, buf, sizeof(buf)));
            T_ASSERT(all_bytes(buf, sizeof(buf), 0));
            for (unsigned i = 0; i < 8; i++) {
                memset(buf, 0x11, PG);
                if (io)
                    dmacoh_memcpy_fromio(buf, cpu[i], PG);
                else
                    memcpy(buf, cpu[i], PG);
                T_ASSERT(all_bytes(buf, PG, 0));
                if (io)
                    dmacoh_memset_io(cpu[i], 0x3c, PG);
                else
                    memset(cpu[i], 0x3c, PG);
                T_OK(dmacoh_free_coherent(&f.dev, PG, cpu[i], h[i]));
            }
        }
        /* NOZERO is accepted and still hands out region memory. */
        T_OK(dmacoh_alloc_coherent(&f.dev, 2 * PG, DMACOH_ALLOC_NOZERO, 0, &cpu[0], &h[0]));
        T_EQ_INT(dmacoh_origin_of(&f.dev, cpu[0]), DMACOH_ORIGIN_REGION);
        T_OK(dmacoh_free_coherent(&f.dev, 2 * PG, cpu[0], h[0]));
        fx_fini(&f);
    }
}

static void alloc_translations(void)
{
    struct fx f;
    struct walk w;
    void *cpu = NULL, *s = NULL, *one = NULL;
    dmacoh_dma_addr_t h = 0, hs = 0, h1 = 0;
    unsigned found = 0;
    int local = 0;
    uint64_t end = DEV_A + 16 * PG;

    fx_init(&f, NULL, 16 * PG, MAPIO, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &one, &h1));
    T_OK(dmacoh_alloc_coherent(&f.dev, 2 * PG, 0, 0, &cpu, &h));
    /* The handle is the device base plus the allocation's offset in the region. */
    memset(&w, 0, sizeof(w));
    T_OK(dmacoh_region_walk(&f.dev, walk_fn, &w));
    for (unsigned i = 0; i < w.n; i++) {
        T_EQ_U64(w.e[i].dma, DEV_A + w.e[i].offset);
        if (w.e[i].kind == 1) {
            T_ASSERT(w.e[i].dma == h1 || w.e[i].dma == h);
            T_EQ_U64(w.e[i].size, w.e[i].dma == h1 ? PG : 2 * PG);
            found++;
        }
    }
    T_EQ_INT(found, 2);
    T_EQ_PTR(cpu, (char *)dmacoh_dma_to_virt(&f.dev, DEV_A) + (h - DEV_A));
    T_EQ_PTR(one, (char *)dmacoh_dma_to_virt(&f.dev, DEV_A) + (h1 - DEV_A));
    T_EQ_U64(dmacoh_virt_to_dma(&f.dev, cpu), h);
    T_EQ_U64(dmacoh_virt_to_dma(&f.dev, (char *)cpu + PG + 7), h + PG + 7);
    T_EQ_PTR(dmacoh_dma_to_virt(&f.dev, h + 5), (char *)cpu + 5);
    T_EQ_U64(dmacoh_dma_to_bus(&f.dev, h), MEM_A + (h - DEV_A));
    T_EQ_U64(dmacoh_bus_to_dma(&f.dev, MEM_A + (h - DEV_A) + 9), h + 9);
    /* Any byte of the region translates, allocated or not. */
    T_ASSERT(dmacoh_dma_to_virt(&f.dev, DEV_A) != NULL);
    T_EQ_U64(dmacoh_dma_to_bus(&f.dev, end - 1), MEM_A + 16 * PG - 1);
    T_EQ_U64(dmacoh_bus_to_dma(&f.dev, MEM_A), DEV_A);
    T_EQ_INT(dmacoh_origin_of(&f.dev, cpu), DMACOH_ORIGIN_REGION);
    /* Outside the region and any system memory: no answer. */
    T_EQ_U64(dmacoh_virt_to_dma(&f.dev, &local), DMACOH_BAD_DMA_ADDR);
    T_EQ_INT(dmacoh_origin_of(&f.dev, &local), DMACOH_ORIGIN_NONE);
    T_EQ_PTR(dmacoh_dma_to_virt(&f.dev, DEV_A - 1), NULL);
    T_EQ_PTR(dmacoh_dma_to_virt(&f.dev, end), NULL);
    T_EQ_U64(dmacoh_dma_to_bus(&f.dev, end), DMACOH_BAD_DMA_ADDR);
    T_EQ_U64(dmacoh_dma_to_bus(&f.dev, DEV_A - 1), DMACOH_BAD_DMA_ADDR);
    T_EQ_U64(dmacoh_bus_to_dma(&f.dev, MEM_A - 1), DMACOH_BAD_DMA_ADDR);
    T_EQ_U64(dmacoh_bus_to_dma(&f.dev, MEM_A + 16 * PG), DMACOH_BAD_DMA_ADDR);
    /* System memory: CPU <-> DMA both ways; bus translation is for region memory only. */
    T_OK(dmacoh_alloc_coherent(&f.dev, 32 * PG, 0, 0, &s, &hs));
    T_EQ_U64(dmacoh_virt_to_dma(&f.dev, (char *)s + 3), hs + 3);
    T_EQ_PTR(dmacoh_dma_to_virt(&f.dev, hs + 3), (char *)s + 3);
    T_EQ_U64(dmacoh_dma_to_bus(&f.dev, hs), DMACOH_BAD_DMA_ADDR);
    T_OK(dmacoh_free_coherent(&f.dev, 32 * PG, s, hs));
    T_OK(dmacoh_free_coherent(&f.dev, 2 * PG, cpu, h));
    fx_fini(&f);
}

/* System memory translates only while live (alloc.h dmacoh_origin_of, platform.h sys_*). */
static void system_memory_translates_only_while_live(void)
{
    struct fx f;
    void *s = NULL;
    dmacoh_dma_addr_t hs = 0;

    fx_init(&f, NULL, PG, MAPIO, 0);
    T_OK(dmacoh_alloc_coherent(&f.dev, 2 * PG, 0, 0, &s, &hs));
    T_EQ_INT(dmacoh_origin_of(&f.dev, s), DMACOH_ORIGIN_SYSTEM);
    T_EQ_U64(dmacoh_virt_to_dma(&f.dev, s), hs);
    T_OK(dmacoh_free_coherent(&f.dev, 2 * PG, s, hs));
    T_EQ_INT(dmacoh_origin_of(&f.dev, s), DMACOH_ORIGIN_NONE);
    T_EQ_U64(dmacoh_virt_to_dma(&f.dev, s), DMACOH_BAD_DMA_ADDR);
    T_EQ_PTR(dmacoh_dma_to_virt(&f.dev, hs), NULL);
    T_EQ_PTR(dmacoh_dma_to_virt(&f.dev, RAM_BASE + RAM_SIZE / 2), NULL); /* never allocated */
    fx_fini(&f);
}

static void alloc_alignment(void)
{
    struct fx f;
    static const uint64_t pages[] = {1, 3, 2, 5, 16, 1, 7, 4};
    void *cpu[8];
    dmacoh_dma_addr_t h[8];

    /* A device base aligned only to one page: the promise is on absolute addresses. */
    f.sim = NULL;
    T_OK(dmacoh_sim_create(NULL, &f.sim));
    t_add_memory(f.sim, MEM_A, 0x100000, MAPIO, false);
    T_OK(dmacoh_device_init(&f.dev, "align", NULL, dmacoh_sim_platform(f.sim)));
    declare(&f.dev, MEM_A, DEV_A + PG, 0x100000, DMACOH_MEMORY_MAP | EXCL, DMACOH_MEMORY_MAP);
    for (unsigned i = 0; i < 8; i++) {
        uint64_t al = PG;
        while (al < pages[i] * PG)
            al *= 2;
        T_OK(dmacoh_alloc_coherent(&f.dev, (size_t)(pages[i] * PG), 0, 0, &cpu[i], &h[i]));
        T_EQ_U64(h[i] % al, 0);
        T_EQ_U64((uintptr_t)cpu[i] % al, 0);
        T_EQ_U64(dmacoh_virt_to_dma(&f.dev, cpu[i]), h[i]);
    }
    for (unsigned i = 0; i < 8; i++)
        T_OK(dmacoh_free_coherent(&f.dev, (size_t)(pages[i] * PG), cpu[i], h[i]));
    fx_fini(&f);
}

static void alloc_data_on_bus(void)
{
    struct fx f;
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;
    static unsigned char buf[2 * 0x1000];
    static const unsigned char le[4] = {0x44, 0x33, 0x22, 0x11};
    unsigned char *p;
    uint64_t bus;

    /* MAP: plain stores land at the bus address of the handle, and back. */
    fx_init(&f, NULL, 16 * PG, MAPIO, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&f.dev, 3 * PG, 0, 0, &cpu, &h)); /* not at offset 0 */
    T_OK(dmacoh_alloc_coherent(&f.dev, 2 * PG, 0, 0, &cpu, &h));
    p = cpu;
    bus = MEM_A + (h - DEV_A);
    for (size_t i = 0; i < sizeof(buf); i++)
        p[i] = (unsigned char)(i * 7 + 1);
    T_OK(dmacoh_sim_bus_read(f.sim, bus, buf, sizeof(buf)));
    for (size_t i = 0; i < sizeof(buf); i++)
        T_EQ_INT(buf[i], (unsigned char)(i * 7 + 1));
    T_OK(dmacoh_sim_bus_write(f.sim, bus + 100, "device", 6));
    T_ASSERT(memcmp(p + 100, "device", 6) == 0);
    fx_fini(&f);

    /* IO: the accessors on the cookie reach the same bytes, little-endian. */
    fx_init(&f, NULL, 16 * PG, DMACOH_MEMORY_IO, DMACOH_MEMORY_IO);
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &cpu, &h));
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &cpu, &h));
    bus = MEM_A + (h - DEV_A);
    T_EQ_U64(dmacoh_dma_to_bus(&f.dev, h), bus);
    dmacoh_iowrite32(0x11223344u, cpu);
    dmacoh_memcpy_toio((char *)cpu + 8, "dmacoh", 6);
    T_OK(dmacoh_sim_bus_read(f.sim, bus, buf, 16));
    T_ASSERT(memcmp(buf, le, 4) == 0);
    T_ASSERT(memcmp(buf + 8, "dmacoh", 6) == 0);
    T_OK(dmacoh_sim_bus_write(f.sim, bus + 64, le, 4));
    T_EQ_U64(dmacoh_ioread32((char *)cpu + 64), 0x11223344u);
    memset(buf, 0, 16);
    dmacoh_memcpy_fromio(buf, (char *)cpu + 8, 6);
    T_ASSERT(memcmp(buf, "dmacoh", 6) == 0);
    fx_fini(&f);
}

static void children_inherit_region(void)
{
    struct fx f;
    struct dmacoh_device c[4]; /* c[0] child of root ... c[3] grandchild's grandchild */
    void *cpu = NULL, *own = NULL;
    dmacoh_dma_addr_t h = 0, hown = 0;

    fx_init(&f, NULL, 16 * PG, MAPIO, DMACOH_MEMORY_MAP | INCL | EXCL);
    t_add_memory(f.sim, MEM_B, 16 * PG, MAPIO, false);
    t_add_memory(f.sim, MEM_C, 16 * PG, MAPIO, false);
    for (unsigned i = 0; i < 4; i++)
        T_OK(dmacoh_device_init(&c[i], "desc", i ? &c[i - 1] : &f.dev, NULL));
    /* Depth 1. */
    T_OK(dmacoh_alloc_coherent(&c[0], 2 * PG, NOFB, 0, &cpu, &h));
    T_ASSERT(h >= DEV_A && h + 2 * PG <= DEV_A + 16 * PG);
    T_EQ_INT(dmacoh_origin_of(&c[0], cpu), DMACOH_ORIGIN_REGION);
    T_EQ_U64(dmacoh_virt_to_dma(&c[0], cpu), h);
    T_EQ_U64(dmacoh_dma_to_bus(&c[0], h), MEM_A + (h - DEV_A));
    T_EQ_U64(t_region_stats(&f.dev).live, 1);
    T_ASSERT(!dmacoh_device_has_region(&c[0]));
    T_ASSERT(dmacoh_check(&c[0]));
    T_OK(dmacoh_free_coherent(&c[0], 2 * PG, cpu, h));
    T_EQ_U64(t_region_stats(&f.dev).live, 0);
    /* Depth 4; c[1] has a region that does not include children: passed over. */
    declare(&c[1], MEM_B, DEV_B, 16 * PG, DMACOH_MEMORY_MAP | EXCL, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&c[3], PG, NOFB, 0, &cpu, &h));
    T_ASSERT(h >= DEV_A && h < DEV_A + 16 * PG);
    T_EQ_U64(dmacoh_virt_to_dma(&c[3], cpu), h);
    T_EQ_U64(t_region_stats(&f.dev).live, 1);
    T_OK(dmacoh_alloc_coherent(&c[1], PG, NOFB, 0, &own, &hown));
    T_ASSERT(hown >= DEV_B && hown < DEV_B + 16 * PG);
    T_OK(dmacoh_free_coherent(&c[1], PG, own, hown));
    T_OK(dmacoh_free_coherent(&c[3], PG, cpu, h));
    T_EQ_U64(t_region_stats(&f.dev).live, 0);
    /* A nearer ancestor that includes children wins. */
    declare(&c[2], MEM_C, DEV_C, 16 * PG, DMACOH_MEMORY_MAP | INCL, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&c[3], PG, NOFB, 0, &cpu, &h));
    T_ASSERT(h >= DEV_C && h < DEV_C + 16 * PG);
    T_EQ_U64(t_region_stats(&f.dev).live, 0);
    T_OK(dmacoh_free_coherent(&c[3], PG, cpu, h));
    T_ASSERT(dmacoh_check(&c[3]));
    T_OK(dmacoh_release_coherent_memory(&c[2], 0));
    T_OK(dmacoh_release_coherent_memory(&c[1], 0));
    for (unsigned i = 4; i-- > 0;)
        T_OK(dmacoh_device_fini(&c[i]));
    fx_fini(&f);
}

static void children_exclusive_inherited(void)
{
    struct fx f;
    struct dmacoh_device child;
    void *cpu[8], *x = NULL;
    dmacoh_dma_addr_t h[8], hx = 0;
    uint64_t fails = 0, fb = 0;

    fx_init(&f, NULL, 4 * PG, MAPIO, DMACOH_MEMORY_MAP | INCL | EXCL);
    T_OK(dmacoh_device_init(&child, "child", &f.dev, NULL));
    for (unsigned i = 0; i < 4; i++)
        T_OK(dmacoh_alloc_coherent(&child, PG, 0, 0, &cpu[i], &h[i]));
    T_ERR(dmacoh_alloc_coherent(&child, PG, 0, 0, &x, &hx), DMACOH_ENOMEM);
    dmacoh_device_counters(&child, NULL, &fails);
    T_EQ_U64(fails, 1);
    T_EQ_U64(t_region_stats(&f.dev).failures, 1);
    for (unsigned i = 0; i < 4; i++)
        T_OK(dmacoh_free_coherent(&child, PG, cpu[i], h[i]));
    T_OK(dmacoh_release_coherent_memory(&f.dev, 0));

    /* The same without EXCLUSIVE: the child falls back. */
    declare(&f.dev, MEM_A, DEV_A, 4 * PG, DMACOH_MEMORY_MAP | INCL, DMACOH_MEMORY_MAP);
    for (unsigned i = 0; i < 4; i++)
        T_OK(dmacoh_alloc_coherent(&child, PG, 0, 0, &cpu[i], &h[i]));
    T_OK(dmacoh_alloc_coherent(&child, PG, 0, 0, &x, &hx));
    T_EQ_INT(dmacoh_origin_of(&child, x), DMACOH_ORIGIN_SYSTEM);
    dmacoh_device_counters(&child, &fb, NULL);
    T_EQ_U64(fb, 1);
    T_EQ_U64(t_region_stats(&f.dev).fallbacks, 1);
    T_OK(dmacoh_free_coherent(&child, PG, x, hx));
    for (unsigned i = 0; i < 4; i++)
        T_OK(dmacoh_free_coherent(&child, PG, cpu[i], h[i]));
    T_OK(dmacoh_release_coherent_memory(&f.dev, 0));

    /* Exclusive but not for children: the child is not served, nor stopped; it falls back. */
    declare(&f.dev, MEM_A, DEV_A, 4 * PG, DMACOH_MEMORY_MAP | EXCL, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&child, PG, 0, 0, &x, &hx));
    T_EQ_INT(dmacoh_origin_of(&child, x), DMACOH_ORIGIN_SYSTEM);
    T_ASSERT(hx >= RAM_BASE && hx < RAM_BASE + RAM_SIZE);
    dmacoh_device_counters(&child, &fb, NULL);
    T_EQ_U64(fb, 2);
    T_EQ_U64(t_region_stats(&f.dev).allocs + t_region_stats(&f.dev).failures, 0);
    T_OK(dmacoh_free_coherent(&child, PG, x, hx));
    T_ERR(dmacoh_alloc_coherent(&child, PG, NOFB, 0, &x, &hx), DMACOH_ENOMEM);
    T_OK(dmacoh_device_fini(&child));
    fx_fini(&f);
}

static void alloc_ascending_order(void)
{
    struct fx f;
    void *cpu[32];
    dmacoh_dma_addr_t h[32];

    fx_init(&f, NULL, 32 * PG, MAPIO, DMACOH_MEMORY_MAP | EXCL);
    for (unsigned i = 0; i < 16; i++) {
        T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &cpu[i], &h[i]));
        if (i > 0)
            T_ASSERT(h[i] > h[i - 1]);
    }
    for (unsigned i = 16; i < 24; i++) {
        T_OK(dmacoh_alloc_coherent(&f.dev, 2 * PG, 0, 0, &cpu[i], &h[i]));
        if (i > 16)
            T_ASSERT(h[i] > h[i - 1]);
    }
    fx_fini(&f);
}

static void occupied_ranges(void)
{
    struct fx f, other;
    struct dmacoh_device child;
    struct walk w;
    void *occ = NULL, *occ2 = NULL, *cpu[16], *x = NULL;
    dmacoh_dma_addr_t h[16];
    unsigned n, kind2 = 0;

    fx_init(&f, NULL, 16 * PG, MAPIO, DMACOH_MEMORY_MAP | EXCL | INCL);
    T_OK(dmacoh_mark_declared_memory_occupied(&f.dev, DEV_A + 2 * PG, PG, &occ));
    T_EQ_PTR(occ, dmacoh_dma_to_virt(&f.dev, DEV_A + 2 * PG));
    T_OK(dmacoh_mark_declared_memory_occupied(&f.dev, DEV_A + 5 * PG + 0x10, 0x10, &occ2));
    T_EQ_PTR(occ2, dmacoh_dma_to_virt(&f.dev, DEV_A + 5 * PG + 0x10));
    T_EQ_U64(t_region_stats(&f.dev).occupied, 2 * PG);
    T_ASSERT(dmacoh_check(&f.dev));

    t_log_reset();
    T_ERR(dmacoh_mark_declared_memory_occupied(&f.dev, DEV_A + 15 * PG, 2 * PG, &x), DMACOH_ERANGE);
    T_ASSERT(t_log_count() > 0);
    T_ERR(dmacoh_mark_declared_memory_occupied(&f.dev, DEV_A - PG, 2 * PG, &x), DMACOH_ERANGE);
    T_ERR(dmacoh_mark_declared_memory_occupied(&f.dev, DEV_A + 16 * PG, PG, &x), DMACOH_ERANGE);
    T_ERR(dmacoh_mark_declared_memory_occupied(&f.dev, ~UINT64_C(0) - 0xff, PG, &x), DMACOH_ERANGE);
    T_ERR(dmacoh_mark_declared_memory_occupied(&f.dev, DEV_A + 2 * PG, PG, &x), DMACOH_EBUSY);
    T_ERR(dmacoh_mark_declared_memory_occupied(&f.dev, DEV_A + 8 * PG, 0, &x), DMACOH_EINVAL);
    T_ERR(dmacoh_mark_declared_memory_occupied(&f.dev, DEV_A + 8 * PG, PG, NULL), DMACOH_EINVAL);
    T_EQ_U64(t_region_stats(&f.dev).occupied, 2 * PG);

    /* Allocations avoid the occupied granules. */
    n = fill(&f, cpu, h, 16);
    T_EQ_INT(n, 14);
    for (unsigned i = 0; i < n; i++)
        T_ASSERT(h[i] != DEV_A + 2 * PG && h[i] != DEV_A + 5 * PG);
    /* Overlapping an allocation (and part of an occupied range): busy, nothing changes. */
    T_ERR(dmacoh_mark_declared_memory_occupied(&f.dev, h[0], PG, &x), DMACOH_EBUSY);
    T_ERR(dmacoh_mark_declared_memory_occupied(&f.dev, DEV_A + PG, 2 * PG, &x), DMACOH_EBUSY);
    T_EQ_U64(t_region_stats(&f.dev).occupied, 2 * PG);
    T_EQ_U64(t_region_stats(&f.dev).live, 14);
    /* Freeing an occupied range is refused, -EPERM whatever the handle and size (pages.c
     * checks "occupied" before the handle and the length). */
    BAD_FREE(&f, PG, occ, DEV_A + 2 * PG, DMACOH_EPERM);
    BAD_FREE(&f, PG, occ, DEV_A + 3 * PG, DMACOH_EPERM);
    BAD_FREE(&f, 2 * PG, occ, DEV_A + 2 * PG, DMACOH_EPERM);
    BAD_FREE(&f, PG, (char *)occ2 - 0x10, DEV_A, DMACOH_EPERM);
    memset(&w, 0, sizeof(w));
    T_OK(dmacoh_region_walk(&f.dev, walk_fn, &w));
    for (unsigned i = 0; i < w.n; i++)
        if (w.e[i].kind == 2) {
            T_ASSERT(w.e[i].offset == 2 * PG || w.e[i].offset == 5 * PG);
            kind2++;
        }
    T_EQ_INT(kind2, 2);

    /* Only the device's own region: a child (served by it) and a device without one fail. */
    T_OK(dmacoh_device_init(&child, "child", &f.dev, NULL));
    T_ERR(dmacoh_mark_declared_memory_occupied(&child, DEV_A + 8 * PG, PG, &x), DMACOH_ENODEV);
    T_OK(dmacoh_device_fini(&child));
    fx_init(&other, NULL, PG, MAPIO, 0);
    T_ERR(dmacoh_mark_declared_memory_occupied(&other.dev, DEV_A, PG, &x), DMACOH_ENODEV);
    fx_fini(&other);
    fx_fini(&f);
}

static void free_bad_arguments(void)
{
    struct fx f;
    struct dmacoh_device other;
    void *a = NULL, *b = NULL;
    dmacoh_dma_addr_t ha = 0, hb = 0;
    int local = 0;
    void *heap = malloc(64);

    T_ASSERT(heap != NULL);
    fx_init(&f, NULL, 16 * PG, MAPIO, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&f.dev, 2 * PG, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &b, &hb));
    BAD_FREE(&f, 3 * PG, a, ha, DMACOH_EINVAL);      /* size too large */
    BAD_FREE(&f, PG, a, ha, DMACOH_EINVAL);          /* size too small */
    BAD_FREE(&f, 0, a, ha, DMACOH_EINVAL);           /* size 0 */
    BAD_FREE(&f, 2 * PG, a, ha + PG, DMACOH_EINVAL); /* wrong handle */
    BAD_FREE(&f, 2 * PG, a, hb, DMACOH_EINVAL);      /* another allocation's handle */
    BAD_FREE(&f, 2 * PG, NULL, ha, DMACOH_EINVAL);
    BAD_FREE(&f, PG, (char *)a + PG, ha + PG, DMACOH_EFAULT); /* middle of an allocation */
    BAD_FREE(&f, PG, (char *)a + 8, ha + 8, DMACOH_EFAULT);
    BAD_FREE(&f, sizeof(local), &local, 0, DMACOH_EFAULT); /* a stack variable */
    BAD_FREE(&f, 64, heap, 0, DMACOH_EFAULT);              /* malloc'd memory */
    {
        /* A free granule of the region, never allocated. */
        dmacoh_dma_addr_t hf = DEV_A + 15 * PG;
        if (hf == ha || hf == hb)
            hf = DEV_A + 14 * PG;
        BAD_FREE(&f, PG, dmacoh_dma_to_virt(&f.dev, hf), hf, DMACOH_EFAULT);
    }
    /* Through a device the allocation does not belong to (no region of its own). */
    T_OK(dmacoh_device_init(&other, "other", NULL, dmacoh_sim_platform(f.sim)));
    t_log_reset();
    T_ASSERT(dmacoh_free_coherent(&other, 2 * PG, a, ha) != 0);
    T_ASSERT(t_log_count() > 0);
    T_EQ_U64(t_region_stats(&f.dev).live, 2);
    T_OK(dmacoh_device_fini(&other));
    /* Both allocations are intact and free normally; then a double free. */
    T_OK(dmacoh_free_coherent(&f.dev, 2 * PG, a, ha));
    BAD_FREE(&f, 2 * PG, a, ha, DMACOH_EFAULT);
    T_OK(dmacoh_free_coherent(&f.dev, PG, b, hb));
    BAD_FREE(&f, PG, b, hb, DMACOH_EFAULT);
    T_EQ_U64(t_region_stats(&f.dev).live, 0);
    T_EQ_U64(t_region_stats(&f.dev).frees, 2);
    free(heap);
    fx_fini(&f);
}

static void free_bad_system_memory(void)
{
    struct fx f;
    void *s = NULL;
    dmacoh_dma_addr_t hs = 0;

    fx_init(&f, NULL, PG, MAPIO, 0);
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &s, &hs));
    T_EQ_INT(dmacoh_origin_of(&f.dev, s), DMACOH_ORIGIN_SYSTEM);
    t_log_reset();
    T_ERR(dmacoh_free_coherent(&f.dev, 3 * PG, s, hs), DMACOH_EINVAL);
    T_ASSERT(t_log_count() > 0);
    T_ERR(dmacoh_free_coherent(&f.dev, PG, s, hs + PG), DMACOH_EINVAL);
    T_ERR(dmacoh_free_coherent(&f.dev, PG, (char *)s + 16, hs + 16), DMACOH_EFAULT);
    T_EQ_INT(dmacoh_origin_of(&f.dev, s), DMACOH_ORIGIN_SYSTEM); /* still live */
    T_OK(dmacoh_free_coherent(&f.dev, PG, s, hs));
    t_log_reset();
    T_ERR(dmacoh_free_coherent(&f.dev, PG, s, hs), DMACOH_EFAULT);
    T_ASSERT(t_log_count() > 0);
    fx_fini(&f);
}

static void free_after_forced_release(void)
{
    struct fx f;
    void *a = NULL, *b = NULL;
    dmacoh_dma_addr_t ha = 0, hb = 0;

    fx_init(&f, NULL, 16 * PG, MAPIO, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&f.dev, 4 * PG, 0, 0, &b, &hb));
    T_OK(dmacoh_release_coherent_memory(&f.dev, DMACOH_RELEASE_FORCE));
    t_log_reset();
    T_ERR(dmacoh_free_coherent(&f.dev, PG, a, ha), DMACOH_EFAULT);
    T_ASSERT(t_log_count() > 0);
    T_ASSERT(dmacoh_check(&f.dev));
    /* Declared again on the same memory: the stale pointers still do not free. */
    declare(&f.dev, MEM_A, DEV_A, 16 * PG, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    BAD_FREE(&f, 4 * PG, b, hb, DMACOH_EFAULT);
    T_EQ_U64(t_region_stats(&f.dev).live, 0);
    T_EQ_U64(t_region_stats(&f.dev).largest_free, 16 * PG);
    fx_fini(&f);
}

static void region_stats_fields(void)
{
    struct fx f;
    struct walk w;
    struct dmacoh_region_stats st;
    void *a = NULL, *b = NULL, *c = NULL, *s = NULL, *x = NULL;
    dmacoh_dma_addr_t ha = 0, hb = 0, hc = 0, hs = 0, hx = 0;
    uint64_t largest = 0, free_bytes = 0, fb = 0, fails = 0;

    fx_init(&f, NULL, 16 * PG, MAPIO, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&f.dev, 2 * PG, 0, 0, &b, &hb));
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &c, &hc));
    st = t_region_stats(&f.dev);
    T_EQ_U64(st.allocs, 3);
    T_EQ_U64(st.in_use, 4 * PG);
    T_EQ_U64(st.peak, 4 * PG);
    T_EQ_U64(st.live, 3);
    T_OK(dmacoh_free_coherent(&f.dev, 2 * PG, b, hb));
    T_OK(dmacoh_alloc_coherent(&f.dev, 32 * PG, 0, 0, &s, &hs)); /* falls back */
    T_ERR(dmacoh_alloc_coherent(&f.dev, 32 * PG, NOFB, 0, &x, &hx), DMACOH_ENOMEM);
    st = t_region_stats(&f.dev);
    T_EQ_U64(st.allocs, 3);
    T_EQ_U64(st.frees, 1);
    T_EQ_U64(st.in_use, 2 * PG);
    T_EQ_U64(st.peak, 4 * PG);
    T_EQ_U64(st.live, 2);
    T_EQ_U64(st.failures, 2);
    T_EQ_U64(st.fallbacks, 1);
    T_EQ_U64(st.occupied, 0);
    dmacoh_device_counters(&f.dev, &fb, &fails);
    T_EQ_U64(fb, 1);
    T_EQ_U64(fails, 1);
    memset(&w, 0, sizeof(w));
    T_OK(dmacoh_region_walk(&f.dev, walk_fn, &w));
    for (unsigned i = 0; i < w.n; i++)
        if (w.e[i].kind == 0) {
            free_bytes += w.e[i].size;
            largest = w.e[i].size > largest ? w.e[i].size : largest;
        }
    T_EQ_U64(st.largest_free, largest);
    T_EQ_U64(free_bytes + st.in_use, 16 * PG);
    /* System memory frees do not count as region frees. */
    T_OK(dmacoh_free_coherent(&f.dev, 32 * PG, s, hs));
    T_EQ_U64(t_region_stats(&f.dev).frees, 1);
    T_OK(dmacoh_free_coherent(&f.dev, PG, a, ha));
    T_OK(dmacoh_free_coherent(&f.dev, PG, c, hc));
    st = t_region_stats(&f.dev);
    T_EQ_U64(st.in_use, 0);
    T_EQ_U64(st.largest_free, 16 * PG);
    T_EQ_U64(st.peak, 4 * PG);
    fx_fini(&f);
}

static void dma_mask_system_memory(void)
{
    struct fx f;
    struct dmacoh_sim_opts o;
    struct dmacoh_device wide;
    void *cpu[16], *x = NULL;
    dmacoh_dma_addr_t h[16], hx = 0;
    uint64_t k64 = 0x10000;

    /* RAM straddling 4 GiB: 1 MiB below, 1 MiB above. */
    memset(&o, 0, sizeof(o));
    o.ram_base = UINT64_C(0xfff00000);
    o.ram_size = UINT64_C(0x200000);
    fx_init(&f, &o, PG, MAPIO, 0);
    T_OK(dmacoh_device_set_dma_mask(&f.dev, DMACOH_BIT_MASK(32)));
    for (unsigned i = 0; i < 16; i++) {
        T_OK(dmacoh_alloc_coherent(&f.dev, (size_t)k64, 0, 0, &cpu[i], &h[i]));
        T_ASSERT(h[i] + k64 - 1 <= UINT64_C(0xffffffff));
    }
    T_ASSERT(dmacoh_alloc_coherent(&f.dev, (size_t)k64, 0, 0, &x, &hx) != 0);
    T_OK(dmacoh_device_init(&wide, "wide", NULL, dmacoh_sim_platform(f.sim)));
    T_OK(dmacoh_alloc_coherent(&wide, (size_t)k64, 0, 0, &x, &hx));
    T_ASSERT(hx > UINT64_C(0xffffffff));
    T_OK(dmacoh_free_coherent(&wide, (size_t)k64, x, hx));
    T_OK(dmacoh_device_fini(&wide));
    for (unsigned i = 0; i < 16; i++)
        T_OK(dmacoh_free_coherent(&f.dev, (size_t)k64, cpu[i], h[i]));
    fx_fini(&f);

    /* RAM wholly above 4 GiB: nothing below the mask. */
    o.ram_base = UINT64_C(0x100000000);
    fx_init(&f, &o, PG, MAPIO, 0);
    T_OK(dmacoh_device_set_dma_mask(&f.dev, DMACOH_BIT_MASK(32)));
    T_ERR(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &x, &hx), DMACOH_ERANGE);
    fx_fini(&f);
}

static void dma_mask_regions(void)
{
    struct fx f;
    struct dmacoh_device child;
    void *cpu[17], *x = NULL;
    dmacoh_dma_addr_t h[17], hx = 0;
    uint64_t hi = UINT64_C(0x100000000), m32 = UINT64_C(0xffffffff);
    int r;

    /* A bridge region wholly above 4 GiB, a child with a 32-bit mask. */
    T_OK(dmacoh_sim_create(NULL, &f.sim));
    t_add_memory(f.sim, MEM_A, 32 * PG, MAPIO, false);
    T_OK(dmacoh_device_init(&f.dev, "bridge", NULL, dmacoh_sim_platform(f.sim)));
    declare(&f.dev, MEM_A, hi, 16 * PG, DMACOH_MEMORY_MAP | INCL, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_device_init(&child, "narrow", &f.dev, NULL));
    T_OK(dmacoh_device_set_dma_mask(&child, DMACOH_BIT_MASK(32)));
    T_OK(dmacoh_alloc_coherent(&child, PG, 0, 0, &x, &hx));
    T_EQ_INT(dmacoh_origin_of(&child, x), DMACOH_ORIGIN_SYSTEM);
    T_ASSERT(hx + PG - 1 <= m32);
    T_OK(dmacoh_free_coherent(&child, PG, x, hx));
    T_ERR(dmacoh_alloc_coherent(&child, PG, NOFB, 0, &x, &hx), DMACOH_ENOMEM);
    T_EQ_U64(t_region_stats(&f.dev).live, 0);
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, NOFB, 0, &x, &hx)); /* the parent can */
    T_ASSERT(hx >= hi);
    T_OK(dmacoh_free_coherent(&f.dev, PG, x, hx));
    /* Exclusive: the narrow child fails rather than fall back. */
    T_OK(dmacoh_release_coherent_memory(&f.dev, 0));
    declare(&f.dev, MEM_A, hi, 16 * PG, DMACOH_MEMORY_MAP | INCL | EXCL, DMACOH_MEMORY_MAP);
    T_ERR(dmacoh_alloc_coherent(&child, PG, 0, 0, &x, &hx), DMACOH_ENOMEM);
    T_OK(dmacoh_release_coherent_memory(&f.dev, 0));

    /*
     * A region straddling 4 GiB (16 pages below, 16 above): the part below the mask serves
     * the child (alloc.h), and no handle is ever above the mask.
     */
    declare(&f.dev, MEM_A, UINT64_C(0xffff0000), 32 * PG, DMACOH_MEMORY_MAP | INCL,
            DMACOH_MEMORY_MAP);
    for (unsigned i = 0; i < 17; i++) {
        r = dmacoh_alloc_coherent(&child, PG, NOFB, 0, &cpu[i], &h[i]);
        if (i < 16) {
            T_OK(r);
            T_ASSERT(h[i] + PG - 1 <= m32);
        } else {
            T_ERR(r, DMACOH_ENOMEM);
        }
    }
    for (unsigned i = 0; i < 17; i++) {
        T_OK(dmacoh_alloc_coherent(&child, PG, 0, 0, &cpu[i], &h[i]));
        T_EQ_INT(dmacoh_origin_of(&child, cpu[i]), DMACOH_ORIGIN_SYSTEM);
        T_ASSERT(h[i] + PG - 1 <= m32);
    }
    for (unsigned i = 0; i < 17; i++)
        T_OK(dmacoh_free_coherent(&child, PG, cpu[i], h[i]));
    T_OK(dmacoh_device_fini(&child));
    fx_fini(&f);
}

static const struct t_case cases[] = {
    T_CASE(alloc_bad_arguments),
    T_CASE(alloc_exclusive_region_full),
    T_CASE(alloc_nonexclusive_falls_back),
    T_CASE(alloc_without_region),
    T_CASE(alloc_wait_times_out),
    T_CASE(alloc_wait_woken_by_free),
    T_CASE(alloc_rounds_to_granules),
    T_CASE(alloc_zeroes_memory),
    T_CASE(alloc_translations),
    T_CASE(system_memory_translates_only_while_live),
    T_CASE(alloc_alignment),
    T_CASE(alloc_data_on_bus),
    T_CASE(children_inherit_region),
    T_CASE(children_exclusive_inherited),
    T_CASE(alloc_ascending_order),
    T_CASE(occupied_ranges),
    T_CASE(free_bad_arguments),
    T_CASE(free_bad_system_memory),
    T_CASE(free_after_forced_release),
    T_CASE(region_stats_fields),
    T_CASE(dma_mask_system_memory),
    T_CASE(dma_mask_regions),
};

T_MAIN(cases)
