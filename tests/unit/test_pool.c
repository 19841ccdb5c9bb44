/* SPDX-License-Identifier: MIT */
/*
 * test_pool.c - the dma_pool contract of include/dmacoh/pool.h and the dma_pool wrappers of
 * include/dmacoh/dma-mapping.h: argument errors of every call; size, align and boundary over
 * hundreds of random parameter triples; ascending blocks of a fresh chunk; zeroing after junk
 * (MAP, IO, dma_pool_zalloc); a reference-model random test with every kind of bad free (each
 * refused, logged, changing nothing); chunks going back to the region and the anti-thrash empty
 * chunk; small exclusive IO regions (exhaustion, cookies, data on the simulated bus); pools
 * served by an ancestor's region or system memory; destroy with blocks outstanding; poisoning;
 * several threads on one pool (a stress test, keep_empty across the per-thread shards, and a
 * full exclusive region shared by threads). Each test builds its own simulator and devices.
 */
#include <dmacoh/dma-mapping.h>
#include <dmacoh/sim.h>

#include "fixture.h"
#include "t.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_A    UINT64_C(0x10000000)
#define MEM_B    UINT64_C(0x20000000)
#define DEV_A    UINT64_C(0x80000000)
#define DEV_B    UINT64_C(0x90000000)
#define RAM_BASE UINT64_C(0x40000000) /* the simulator's default RAM window */
#define RAM_SIZE UINT64_C(0x4000000)
#define PG       UINT64_C(0x1000)
#define K64      UINT64_C(0x10000)
#define M4       UINT64_C(0x400000)
#define MAP      DMACOH_MEMORY_MAP
#define IO       DMACOH_MEMORY_IO
#define EXCL     DMACOH_MEMORY_EXCLUSIVE
#define INCL     DMACOH_MEMORY_INCLUDES_CHILDREN
#define FORCE    DMACOH_POOL_DESTROY_FORCE

/* ---- fixtures ---- */

static struct dmacoh_sim *sim_new(bool no_ram)
{
    struct dmacoh_sim_opts o;
    struct dmacoh_sim *sim = NULL;

    memset(&o, 0, sizeof(o));
    o.no_ram = no_ram;
    T_OK(dmacoh_sim_create(&o, &sim));
    return sim;
}

static void declare(struct dmacoh_device *dev, uint64_t bus, uint64_t da, uint64_t size, int flags,
                    int mode)
{
    int g = 0;

    T_OK(dmacoh_declare_coherent_memory(dev, bus, da, size, flags, NULL, &g));
    T_EQ_INT(g, mode);
}

/* Checks the device, releases its region (refused if a pool leaked a chunk) and retires it. */
static void dev_done(struct dmacoh_device *dev)
{
    T_ASSERT(dmacoh_check(dev));
    if (dmacoh_device_has_region(dev))
        T_OK(dmacoh_release_coherent_memory(dev, 0));
    T_OK(dmacoh_device_fini(dev));
}

struct fx {
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
};

/* A sim with a device "pooldev"; with size != 0 it declares size bytes of memory at MEM_A. */
static void fx_init(struct fx *f, uint64_t size, int modes, int flags)
{
    f->sim = sim_new(false);
    T_OK(dmacoh_device_init(&f->dev, "pooldev", NULL, dmacoh_sim_platform(f->sim)));
    if (size) {
        t_add_memory(f->sim, MEM_A, size, modes, false);
        declare(&f->dev, MEM_A, DEV_A, size, flags, (flags & MAP) ? MAP : IO);
    }
}

static void fx_fini(struct fx *f)
{
    dev_done(&f->dev);
    T_OK(dmacoh_sim_destroy(f->sim));
}

static struct dmacoh_pool_stats pst(const struct dmacoh_pool *p)
{
    struct dmacoh_pool_stats st;

    memset(&st, 0, sizeof(st));
    T_OK(dmacoh_pool_get_stats(p, &st));
    return st;
}

static struct dmacoh_pool *pool_new(const char *name, struct dmacoh_device *dev, size_t size,
                                    size_t align, size_t boundary, const struct dmacoh_pool_opts *o)
{
    struct dmacoh_pool *p = NULL;

    T_OK(dmacoh_pool_create(&p, name, dev, size, align, boundary, o));
    T_ASSERT(p != NULL);
    return p;
}

/* ---- data patterns ---- */

static unsigned char pat(uint64_t tag, size_t i)
{
    uint64_t x = (tag + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)i * 0xbf58476d1ce4e5b9ull);

    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    return (unsigned char)(x >> 56);
}

static void fill(void *cpu, size_t n, uint64_t tag)
{
    unsigned char *b = (unsigned char *)cpu;

    for (size_t i = 0; i < n; i++)
        b[i] = pat(tag, i);
}

/* Index of the first byte that does not hold the pattern, or n. */
static size_t verify(const void *cpu, size_t n, uint64_t tag)
{
    const unsigned char *b = (const unsigned char *)cpu;

    for (size_t i = 0; i < n; i++)
        if (b[i] != pat(tag, i))
            return i;
    return n;
}

static bool all_bytes(const void *p, size_t n, unsigned char v)
{
    const unsigned char *b = (const unsigned char *)p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return false;
    return true;
}

static uint64_t pow2_ceil(uint64_t x)
{
    uint64_t r = 1;

    while (r < x)
        r <<= 1;
    return r;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* ---- argument validation ---- */

static void create_args(void)
{
    static const size_t bad_align[] = {3, 6, 12, 24, 100, 257, 4095, SIZE_MAX};
    static const size_t bad_boundary[] = {3, 96, 1000, 4097, SIZE_MAX};
    static const size_t small_boundary[][2] = {{64, 32}, {65, 64}, {2048, 1024}, {9, 8}, {2, 1}};
    struct dmacoh_pool *p = NULL;
    struct dmacoh_device raw;
    struct dmacoh_pool_stats ps;
    struct fx f;

    fx_init(&f, K64, MAP, MAP);
    T_ERR(dmacoh_pool_create(&p, "a", &f.dev, 0, 0, 0, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_create(&p, "a", &f.dev, 0, 8, 64, NULL), DMACOH_EINVAL);
    for (size_t i = 0; i < sizeof(bad_align) / sizeof(bad_align[0]); i++)
        T_ERR(dmacoh_pool_create(&p, "a", &f.dev, 64, bad_align[i], 0, NULL), DMACOH_EINVAL);
    for (size_t i = 0; i < sizeof(bad_boundary) / sizeof(bad_boundary[0]); i++)
        T_ERR(dmacoh_pool_create(&p, "a", &f.dev, 1, 0, bad_boundary[i], NULL), DMACOH_EINVAL);
    for (size_t i = 0; i < sizeof(small_boundary) / sizeof(small_boundary[0]); i++)
        T_ERR(dmacoh_pool_create(&p, "a", &f.dev, small_boundary[i][0], 0, small_boundary[i][1],
                                 NULL),
              DMACOH_EINVAL);
    T_ERR(dmacoh_pool_create(&p, NULL, &f.dev, 64, 0, 0, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_create(&p, "a", NULL, 64, 0, 0, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_create(NULL, "a", &f.dev, 64, 0, 0, NULL), DMACOH_EINVAL);
    memset(&raw, 0, sizeof(raw));
    T_ERR(dmacoh_pool_create(&p, "a", &raw, 64, 0, 0, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_create(&p, "a", &f.dev, SIZE_MAX, 0, 0, NULL), DMACOH_EOVERFLOW);
    T_ERR(dmacoh_pool_create(&p, "a", &f.dev, SIZE_MAX - 7, 0, 0, NULL), DMACOH_EOVERFLOW);
    T_EQ_U64(t_region_stats(&f.dev).allocs, 0);

    /* The edges that are valid, and no chunk is taken until the first block is. */
    p = pool_new("edge1", &f.dev, 1, 1, 1, NULL);
    ps = pst(p);
    T_EQ_U64(ps.chunks, 0);
    T_EQ_U64(ps.in_use, 0);
    T_EQ_U64(ps.block_size, 1);
    T_EQ_U64(t_region_stats(&f.dev).allocs, 0);
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    T_OK(dmacoh_pool_destroy(p, 0));
    p = pool_new("edge2", &f.dev, 64, 64, 64, NULL);
    T_OK(dmacoh_pool_destroy(p, 0));
    p = pool_new("edge3", &f.dev, 2048, 0, 2048, NULL);
    T_OK(dmacoh_pool_destroy(p, 0));
    T_EQ_U64(t_region_stats(&f.dev).allocs, 0);
    fx_fini(&f);
}

/* opts.chunk_size: rounded up to a power of two, at most 4096 blocks, too small is EINVAL. */
static void create_chunk_size(void)
{
    struct dmacoh_pool_opts o;
    struct dmacoh_pool_stats ps;
    struct dmacoh_pool *p = NULL;
    static void *cpu[4097];
    static dmacoh_dma_addr_t h[4097];
    struct fx f;

    fx_init(&f, M4, MAP, MAP | EXCL);
    memset(&o, 0, sizeof(o));
    o.keep_empty = 1;

    /* Defaults: the smallest power of two from max(PAGE_SIZE, stride) up whose blocks fill at
     * least 96 % of it (8-byte blocks: a page; 5000-byte blocks: 8 KiB holds one, 16 and
     * 32 KiB waste 8.4 %, 64 KiB holds 13, 99.2 %). */
    p = pool_new("d1", &f.dev, 8, 0, 0, NULL);
    ps = pst(p);
    T_EQ_U64(ps.chunk_size, PG);
    T_EQ_U64(ps.stride, 8);
    T_EQ_U64(ps.per_chunk, 512);
    T_OK(dmacoh_pool_destroy(p, 0));
    p = pool_new("d2", &f.dev, 5000, 0, 0, NULL);
    ps = pst(p);
    T_EQ_U64(ps.chunk_size, 65536);
    T_EQ_U64(ps.per_chunk, 13);
    T_OK(dmacoh_pool_destroy(p, 0));

    o.chunk_size = 1000;
    p = pool_new("r1", &f.dev, 24, 0, 0, &o);
    ps = pst(p);
    T_EQ_U64(ps.chunk_size, 1024);
    T_EQ_U64(ps.per_chunk, 1024 / 24);
    T_OK(dmacoh_pool_destroy(p, 0));

    /* A chunk of 1 MiB of 8-byte blocks would be 131072 blocks: capped at 4096 per chunk. */
    o.chunk_size = 1u << 20;
    p = pool_new("cap", &f.dev, 8, 0, 0, &o);
    ps = pst(p);
    T_ASSERT(ps.per_chunk <= 4096);
    T_ASSERT(ps.per_chunk >= 1);
    T_ASSERT(ps.chunk_size >= ps.per_chunk * ps.stride);
    T_EQ_U64(ps.chunk_size & (ps.chunk_size - 1), 0);
    for (size_t i = 0; i < ps.per_chunk + 1; i++) {
        T_OK(dmacoh_pool_alloc(p, 0, &cpu[i], &h[i]));
        T_EQ_U64(dmacoh_virt_to_dma(&f.dev, cpu[i]), h[i]);
    }
    T_EQ_U64(pst(p).chunks, 2);
    for (size_t i = 0; i < ps.per_chunk + 1; i++)
        T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
    T_OK(dmacoh_pool_destroy(p, 0));

    /* Too small for one block (64 < 128 after rounding): documented -DMACOH_EINVAL. */
    o.chunk_size = 64;
    p = NULL;
    T_ERR(dmacoh_pool_create(&p, "small", &f.dev, 128, 0, 0, &o), DMACOH_EINVAL);
    if (p)
        T_OK(dmacoh_pool_destroy(p, FORCE));
    o.chunk_size = 8;
    p = NULL;
    T_ERR(dmacoh_pool_create(&p, "small", &f.dev, 16, 0, 0, &o), DMACOH_EINVAL);
    if (p)
        T_OK(dmacoh_pool_destroy(p, FORCE));
    fx_fini(&f);
}

static void call_args(void)
{
    static uint64_t fake[256]; /* zeroed memory that is not a pool */
    struct dmacoh_pool *notpool = (struct dmacoh_pool *)(void *)fake;
    struct dmacoh_pool_stats ps;
    struct dmacoh_pool *p;
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;
    struct fx f;

    fx_init(&f, K64, MAP, MAP);
    p = pool_new("args", &f.dev, 32, 0, 0, NULL);
    T_ERR(dmacoh_pool_alloc(NULL, 0, &cpu, &h), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_alloc(p, 0, NULL, &h), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_alloc(p, 0, &cpu, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_alloc(p, 0x2, &cpu, &h), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_alloc(p, 0x80000000u, &cpu, &h), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_alloc(notpool, 0, &cpu, &h), DMACOH_EINVAL);
    ps = pst(p);
    T_EQ_U64(ps.chunks, 0);
    T_EQ_U64(ps.allocs, 0);
    T_EQ_U64(ps.in_use, 0);

    T_OK(dmacoh_pool_alloc(p, 0, &cpu, &h));
    t_log_reset();
    T_ERR(dmacoh_pool_free(NULL, cpu, h), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_free(p, NULL, h), DMACOH_EINVAL);
    T_ASSERT(t_log_count() >= 1);
    T_ERR(dmacoh_pool_free(notpool, cpu, h), DMACOH_EINVAL);
    T_EQ_U64(pst(p).in_use, 1);
    T_EQ_U64(pst(p).frees, 0);

    T_ERR(dmacoh_pool_get_stats(NULL, &ps), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_get_stats(p, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_get_stats(notpool, &ps), DMACOH_EINVAL);

    T_OK(dmacoh_pool_destroy(NULL, 0));
    T_OK(dmacoh_pool_destroy(NULL, FORCE));
    T_ERR(dmacoh_pool_destroy(notpool, 0), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_destroy(notpool, FORCE), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_destroy(p, 0x2), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_destroy(p, FORCE | 0x100), DMACOH_EINVAL);
    /* Still a working pool holding its block. */
    T_EQ_U64(pst(p).in_use, 1);
    T_OK(dmacoh_pool_free(p, cpu, h));
    T_OK(dmacoh_pool_alloc(p, 0, &cpu, &h));
    T_OK(dmacoh_pool_free(p, cpu, h));
    T_OK(dmacoh_pool_destroy(p, 0));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    fx_fini(&f);
}

/* ---- size, align and boundary ---- */

#define GEO_MAX 1100

static void geometry_random(void)
{
    static void *cpu[GEO_MAX];
    static dmacoh_dma_addr_t h[GEO_MAX];
    static uint64_t sorted[GEO_MAX], tag[GEO_MAX];
    static const size_t chunk_opts[] = {0, 0, 0, 8192, 65536};
    uint64_t seed = 0x5eed0001;
    struct dmacoh_device sysdev;
    struct fx f;

    fx_init(&f, M4, MAP, MAP);
    T_OK(dmacoh_device_init(&sysdev, "sysdev", NULL, dmacoh_sim_platform(f.sim)));
    for (unsigned trial = 0; trial < 400; trial++) {
        size_t size = 1 + (size_t)(t_rand(&seed) % 2048);
        size_t align = (t_rand(&seed) % 4 == 0) ? 0 : (size_t)1 << (t_rand(&seed) % 9);
        size_t boundary =
            (t_rand(&seed) % 3 == 0) ? 0 : (size_t)pow2_ceil(size) << (t_rand(&seed) % 4);
        size_t a = align ? align : 8;
        struct dmacoh_device *dev = (trial & 1) ? &sysdev : &f.dev;
        struct dmacoh_pool_opts o;
        struct dmacoh_pool_stats ps;
        struct dmacoh_pool *p;
        size_t n;

        memset(&o, 0, sizeof(o));
        o.keep_empty = 1;
        o.chunk_size = chunk_opts[t_rand(&seed) % 5];
        p = pool_new("geo", dev, size, align, boundary, &o);
        ps = pst(p);
        T_EQ_U64(ps.block_size, size);
        T_ASSERT(ps.stride >= size);
        T_EQ_U64(ps.stride % a, 0);
        T_EQ_U64(ps.stride % 8, 0);
        T_EQ_U64(ps.chunk_size & (ps.chunk_size - 1), 0);
        T_ASSERT(ps.chunk_size >= ps.stride);
        T_ASSERT(ps.per_chunk >= 1 && ps.per_chunk <= 4096);
        /* Enough blocks for two chunks and more, within a byte budget. */
        n = 2 * ps.per_chunk + 1 + (size_t)(t_rand(&seed) % 4);
        if (n > (128u * 1024u) / size + 2)
            n = (128u * 1024u) / size + 2;
        if (n > GEO_MAX)
            n = GEO_MAX;
        for (size_t i = 0; i < n; i++) {
            T_OK(dmacoh_pool_alloc(p, 0, &cpu[i], &h[i]));
            if ((h[i] & (a - 1)) || ((uintptr_t)cpu[i] & (a - 1)) ||
                (boundary && h[i] / boundary != (h[i] + size - 1) / boundary) ||
                dmacoh_virt_to_dma(dev, cpu[i]) != h[i] || dmacoh_dma_to_virt(dev, h[i]) != cpu[i])
                t_fail(__FILE__, __LINE__,
                       "trial %u size %zu align %zu boundary %zu: block %zu cpu %p dma %#" PRIx64
                       " misplaced (virt_to_dma %#" PRIx64 ")",
                       trial, size, align, boundary, i, cpu[i], h[i],
                       dmacoh_virt_to_dma(dev, cpu[i]));
            tag[i] = ((uint64_t)trial << 16) | i;
            fill(cpu[i], size, tag[i]);
            sorted[i] = h[i];
        }
        T_EQ_U64(pst(p).in_use, n);
        qsort(sorted, n, sizeof(sorted[0]), cmp_u64);
        for (size_t i = 0; i + 1 < n; i++)
            if (sorted[i] + size > sorted[i + 1])
                t_fail(__FILE__, __LINE__,
                       "trial %u size %zu: blocks %#" PRIx64 " and %#" PRIx64 " overlap", trial,
                       size, sorted[i], sorted[i + 1]);
        /* Every pattern intact after all were written (no overlap on the CPU side either). */
        for (size_t i = 0; i < n; i++)
            if (verify(cpu[i], size, tag[i]) != size)
                t_fail(__FILE__, __LINE__,
                       "trial %u size %zu: block %zu (dma %#" PRIx64
                       ") overwritten by another block",
                       trial, size, i, h[i]);
        /* Free in a shuffled order, verifying each block's own pattern first. */
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(t_rand(&seed) % i);
            void *tc = cpu[i - 1];
            dmacoh_dma_addr_t th = h[i - 1];
            uint64_t tt = tag[i - 1];

            cpu[i - 1] = cpu[j];
            h[i - 1] = h[j];
            tag[i - 1] = tag[j];
            cpu[j] = tc;
            h[j] = th;
            tag[j] = tt;
        }
        for (size_t i = 0; i < n; i++) {
            T_EQ_U64(verify(cpu[i], size, tag[i]), size);
            T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
        }
        ps = pst(p);
        T_EQ_U64(ps.in_use, 0);
        T_EQ_U64(ps.frees, n);
        T_OK(dmacoh_pool_destroy(p, 0));
    }
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    T_EQ_U64(t_region_stats(&f.dev).live, 0);
    T_OK(dmacoh_device_fini(&sysdev));
    fx_fini(&f);
}

/* ---- ascending order ---- */

static void fresh_chunk_ascending(void)
{
    static const size_t shapes[][3] = {{48, 16, 0}, {8, 0, 0}, {100, 4, 256}, {700, 64, 1024}};
    struct fx f;

    fx_init(&f, M4, MAP, MAP | EXCL);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        struct dmacoh_pool *p =
            pool_new("asc", &f.dev, shapes[s][0], shapes[s][1], shapes[s][2], NULL);
        struct dmacoh_pool_stats ps = pst(p);
        static void *cpu[2 * 4096];
        static dmacoh_dma_addr_t h[2 * 4096];

        for (size_t i = 0; i < 2 * ps.per_chunk; i++) {
            T_OK(dmacoh_pool_alloc(p, 0, &cpu[i], &h[i]));
            if (i % ps.per_chunk == 0) {
                /* The first block of a fresh chunk is its start; chunks are size-aligned. */
                T_EQ_U64(h[i] & (ps.chunk_size - 1), 0);
                continue;
            }
            T_ASSERT(h[i] > h[i - 1]);
            T_ASSERT((uintptr_t)cpu[i] > (uintptr_t)cpu[i - 1]);
            T_EQ_U64(h[i] & ~(uint64_t)(ps.chunk_size - 1),
                     h[i - 1] & ~(uint64_t)(ps.chunk_size - 1));
        }
        T_EQ_U64(pst(p).chunks, 2);
        T_OK(dmacoh_pool_destroy(p, FORCE));
    }
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    fx_fini(&f);
}

/* ---- zeroing ---- */

static void zero_flag(void)
{
    struct dmacoh_pool *p;
    void *cpu[64], *c, *big;
    dmacoh_dma_addr_t h[64], hh, hb;
    struct fx f;

    fx_init(&f, K64, MAP, MAP | EXCL);
    /* Junk in the whole region first, so that fresh chunks hold it too. */
    T_OK(dmacoh_alloc_coherent(&f.dev, K64, 0, 0, &big, &hb));
    memset(big, 0x5a, K64);
    T_OK(dmacoh_free_coherent(&f.dev, K64, big, hb));

    p = pool_new("zero", &f.dev, 200, 8, 0, NULL);
    T_OK(dmacoh_pool_alloc(p, DMACOH_POOL_ZERO, &c, &hh));
    T_ASSERT(all_bytes(c, 200, 0));
    T_OK(dmacoh_pool_free(p, c, hh));
    for (size_t i = 0; i < 20; i++) {
        T_OK(dmacoh_pool_alloc(p, 0, &cpu[i], &h[i]));
        memset(cpu[i], 0xee, 200);
    }
    for (size_t i = 0; i < 20; i++)
        T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
    for (size_t i = 0; i < 20; i++) {
        T_OK(dmacoh_pool_alloc(p, DMACOH_POOL_ZERO, &cpu[i], &h[i]));
        T_ASSERT(all_bytes(cpu[i], 200, 0));
    }
    for (size_t i = 0; i < 20; i++)
        T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
    T_OK(dmacoh_pool_destroy(p, 0));
    fx_fini(&f);
}

static void zero_rfc_and_io(void)
{
    struct device rdev;
    struct dma_pool *rp;
    struct dmacoh_pool *p;
    struct dmacoh_sim *sim = sim_new(false);
    unsigned char buf[96];
    void *cpu[16];
    dma_addr_t h[16];

    /* dma_pool_zalloc and dma_pool_alloc(__GFP_ZERO) on MAP memory. */
    t_add_memory(sim, MEM_A, K64, MAP, false);
    T_OK(dmacoh_device_init(&rdev.dmacoh, "rfc", NULL, dmacoh_sim_platform(sim)));
    T_EQ_INT(dma_declare_coherent_memory(&rdev, MEM_A, DEV_A, K64, DMA_MEMORY_MAP), DMA_MEMORY_MAP);
    rp = dma_pool_create("rfczero", &rdev, 96, 32, 0);
    T_ASSERT(rp != NULL);
    for (size_t i = 0; i < 16; i++) {
        cpu[i] = dma_pool_alloc(rp, GFP_KERNEL, &h[i]);
        T_ASSERT(cpu[i] != NULL);
        memset(cpu[i], 0xc3, 96);
    }
    for (size_t i = 0; i < 16; i++)
        dma_pool_free(rp, cpu[i], h[i]);
    for (size_t i = 0; i < 16; i++) {
        cpu[i] = (i & 1) ? dma_pool_zalloc(rp, GFP_ATOMIC, &h[i])
                         : dma_pool_alloc(rp, GFP_KERNEL | __GFP_ZERO, &h[i]);
        T_ASSERT(cpu[i] != NULL);
        T_ASSERT(all_bytes(cpu[i], 96, 0));
    }
    for (size_t i = 0; i < 16; i++)
        dma_pool_free(rp, cpu[i], h[i]);
    T_EQ_U64(pst(rp).in_use, 0);
    dma_pool_destroy(rp);
    T_EQ_U64(t_region_stats(&rdev.dmacoh).in_use, 0);
    dev_done(&rdev.dmacoh);

    /* DMACOH_POOL_ZERO on IO memory (memset_io), seen from the bus. */
    t_add_memory(sim, MEM_B, 2 * PG, IO, false);
    T_OK(dmacoh_device_init(&rdev.dmacoh, "rfcio", NULL, dmacoh_sim_platform(sim)));
    declare(&rdev.dmacoh, MEM_B, DEV_B, 2 * PG, IO | EXCL, IO);
    p = pool_new("iozero", &rdev.dmacoh, 96, 0, 0, NULL);
    for (size_t i = 0; i < 16; i++) {
        T_OK(dmacoh_pool_alloc(p, 0, &cpu[i], &h[i]));
        dmacoh_memset_io(cpu[i], 0x77, 96);
    }
    for (size_t i = 0; i < 16; i++)
        T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
    for (size_t i = 0; i < 16; i++) {
        T_OK(dmacoh_pool_alloc(p, DMACOH_POOL_ZERO, &cpu[i], &h[i]));
        memset(buf, 0xff, sizeof(buf));
        T_OK(dmacoh_sim_bus_read(sim, dmacoh_dma_to_bus(&rdev.dmacoh, h[i]), buf, 96));
        T_ASSERT(all_bytes(buf, 96, 0));
    }
    T_OK(dmacoh_pool_destroy(p, FORCE));
    dev_done(&rdev.dmacoh);
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- reference model ---- */

#define MODEL_LIVE 600
#define MODEL_SIZE 40

struct blk {
    void *cpu;
    dmacoh_dma_addr_t h;
    uint64_t tag;
};

static bool model_has(const struct blk *live, size_t n, dmacoh_dma_addr_t h)
{
    for (size_t i = 0; i < n; i++)
        if (live[i].h == h)
            return true;
    return false;
}

/* Number of distinct chunks holding the model's live blocks. */
static uint64_t live_chunks(const struct blk *live, size_t n, size_t chunk_size)
{
    static uint64_t base[MODEL_LIVE];
    uint64_t k = 0;

    for (size_t i = 0; i < n; i++)
        base[i] = live[i].h & ~(uint64_t)(chunk_size - 1);
    qsort(base, n, sizeof(base[0]), cmp_u64);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || base[i] != base[i - 1])
            k++;
    return k;
}

/* Remembers a freed block in a ring of the last 32. */
static void forget(struct blk *gone, size_t *n, size_t *next, struct blk b)
{
    gone[*next] = b;
    *next = (*next + 1) % 32;
    if (*n < 32)
        (*n)++;
}

/* A bad free must fail with `want`, log, and leave both pools' counters untouched. */
static void bad_free(struct dmacoh_pool *p, struct dmacoh_pool *q, void *cpu, dmacoh_dma_addr_t h,
                     int want, const char *what)
{
    struct dmacoh_pool_stats a = pst(p), b = pst(q), a2, b2;
    unsigned logs = t_log_count();
    int r = dmacoh_pool_free(p, cpu, h);

    if (r != want)
        t_fail(__FILE__, __LINE__, "%s: free(%p, %#" PRIx64 ") got %d (%s), want %d (%s)", what,
               cpu, h, r, dmacoh_err_name(r), want, dmacoh_err_name(want));
    T_ASSERT(t_log_count() > logs);
    a2 = pst(p);
    b2 = pst(q);
    T_EQ_U64(a2.in_use, a.in_use);
    T_EQ_U64(a2.frees, a.frees);
    T_EQ_U64(a2.allocs, a.allocs);
    T_EQ_U64(a2.chunks, a.chunks);
    T_EQ_U64(b2.in_use, b.in_use);
    T_EQ_U64(b2.frees, b.frees);
    T_EQ_U64(b2.chunks, b.chunks);
}

static void model_random(void)
{
    static struct blk live[MODEL_LIVE];
    struct blk gone[32], other[8];
    size_t nlive = 0, ngone = 0, gi = 0;
    uint64_t seed = 0x600d5eed, allocs = 0, frees = 0, tag = 1;
    unsigned bad[4] = {0, 0, 0, 0};
    struct dmacoh_pool *p, *q;
    struct dmacoh_pool_stats ps;
    struct fx f;

    fx_init(&f, M4, MAP, MAP | EXCL);
    p = pool_new("model", &f.dev, MODEL_SIZE, 8, 0, NULL);
    q = pool_new("other", &f.dev, MODEL_SIZE, 8, 0, NULL);
    for (size_t i = 0; i < 8; i++)
        T_OK(dmacoh_pool_alloc(q, 0, &other[i].cpu, &other[i].h));
    ps = pst(p);
    T_ASSERT(ps.stride > 8); /* so that handle + 8 is inside a block, not a start */

    for (unsigned op = 0; op < 6000; op++) {
        unsigned r = (unsigned)(t_rand(&seed) % 100);
        /* Phases: grow to many blocks, shrink to few, and again. */
        unsigned grow = ((op / 1500) % 2 == 0) ? 65 : 35;

        if (r < 8 && nlive >= 2) {
            unsigned kind = (unsigned)(t_rand(&seed) % 4);
            size_t i = (size_t)(t_rand(&seed) % nlive), j = (i + 1) % nlive;

            switch (kind) {
            case 0: /* double free of a block freed earlier and not handed out again */
                for (size_t g = 0; g < ngone; g++) {
                    if (model_has(live, nlive, gone[g].h))
                        continue;
                    bad_free(p, q, gone[g].cpu, gone[g].h, DMACOH_EFAULT, "double free");
                    bad[0]++;
                    break;
                }
                break;
            case 1: /* not a block start */
                bad_free(p, q, (char *)live[i].cpu + 8, live[i].h + 8, DMACOH_EFAULT, "+8");
                bad[1]++;
                break;
            case 2: /* a live handle with the CPU pointer of another live block */
                bad_free(p, q, live[j].cpu, live[i].h, DMACOH_EINVAL, "mismatch");
                bad[2]++;
                break;
            default: /* a block of the other pool */
                j = (size_t)(t_rand(&seed) % 8);
                bad_free(p, q, other[j].cpu, other[j].h, DMACOH_EFAULT, "other pool");
                bad[3]++;
                break;
            }
            /* The block involved can still be freed properly, and its data is intact. */
            if (kind != 0 && (t_rand(&seed) & 1)) {
                T_EQ_U64(verify(live[i].cpu, MODEL_SIZE, live[i].tag), MODEL_SIZE);
                T_OK(dmacoh_pool_free(p, live[i].cpu, live[i].h));
                frees++;
                forget(gone, &ngone, &gi, live[i]);
                live[i] = live[--nlive];
            }
        } else if (nlive == 0 || (r < grow && nlive < MODEL_LIVE)) {
            struct blk *b = &live[nlive];

            T_OK(dmacoh_pool_alloc(p, 0, &b->cpu, &b->h));
            if (model_has(live, nlive, b->h))
                t_fail(__FILE__, __LINE__, "op %u: block %#" PRIx64 " handed out twice", op, b->h);
            T_EQ_U64(b->h % 8, 0);
            T_EQ_U64(dmacoh_virt_to_dma(&f.dev, b->cpu), b->h);
            b->tag = tag++;
            fill(b->cpu, MODEL_SIZE, b->tag);
            nlive++;
            allocs++;
        } else {
            size_t i = (size_t)(t_rand(&seed) % nlive);
            size_t at = verify(live[i].cpu, MODEL_SIZE, live[i].tag);

            if (at != MODEL_SIZE)
                t_fail(__FILE__, __LINE__, "op %u: block %#" PRIx64 " byte %zu overwritten", op,
                       live[i].h, at);
            T_OK(dmacoh_pool_free(p, live[i].cpu, live[i].h));
            frees++;
            forget(gone, &ngone, &gi, live[i]);
            live[i] = live[--nlive];
        }
        ps = pst(p);
        T_EQ_U64(ps.in_use, nlive);
        T_EQ_U64(ps.allocs, allocs);
        T_EQ_U64(ps.frees, frees);
        if (op % 16 == 0) {
            uint64_t lc = live_chunks(live, nlive, ps.chunk_size);

            T_ASSERT(ps.chunks >= lc);
            T_ASSERT(ps.chunks <= lc + 1); /* default keep_empty = 1 */
            /* One q chunk plus p's chunks, each a page of the exclusive region. */
            T_EQ_U64(t_region_stats(&f.dev).in_use, (ps.chunks + pst(q).chunks) * PG);
        }
        if (op % 500 == 0)
            T_ASSERT(dmacoh_check(&f.dev));
    }
    T_ASSERT(bad[0] > 10 && bad[1] > 10 && bad[2] > 10 && bad[3] > 10);
    while (nlive) {
        T_EQ_U64(verify(live[nlive - 1].cpu, MODEL_SIZE, live[nlive - 1].tag), MODEL_SIZE);
        T_OK(dmacoh_pool_free(p, live[nlive - 1].cpu, live[nlive - 1].h));
        nlive--;
    }
    ps = pst(p);
    T_EQ_U64(ps.in_use, 0);
    T_ASSERT(ps.chunks <= 1);
    for (size_t i = 0; i < 8; i++)
        T_OK(dmacoh_pool_free(q, other[i].cpu, other[i].h));
    T_OK(dmacoh_pool_destroy(p, 0));
    T_OK(dmacoh_pool_destroy(q, 0));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    T_EQ_U64(t_region_stats(&f.dev).live, 0);
    fx_fini(&f);
}

/* ---- chunks back to the region, thrash policy ---- */

static void chunk_return(void)
{
    static const unsigned keeps[] = {0, 1, 3};
    static void *cpu[10 * 64];
    static dmacoh_dma_addr_t h[10 * 64];
    struct fx f;

    fx_init(&f, M4, MAP, MAP | EXCL);
    for (size_t k = 0; k < sizeof(keeps) / sizeof(keeps[0]); k++) {
        struct dmacoh_pool_opts o;
        struct dmacoh_pool *p;
        struct dmacoh_pool_stats ps;
        size_t n;

        memset(&o, 0, sizeof(o));
        o.keep_empty = keeps[k] ? keeps[k] : DMACOH_POOL_KEEP_NONE;
        p = pool_new("ret", &f.dev, 64, 64, 0, &o);
        ps = pst(p);
        T_EQ_U64(ps.per_chunk, 64);
        n = 10 * ps.per_chunk;
        for (size_t i = 0; i < n; i++)
            T_OK(dmacoh_pool_alloc(p, 0, &cpu[i], &h[i]));
        T_EQ_U64(pst(p).chunks, 10);
        T_EQ_U64(t_region_stats(&f.dev).in_use, 10 * PG);
        /* Empty the chunks one after another: each goes back unless it is kept. */
        for (size_t i = 0; i < n; i++) {
            T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
            ps = pst(p);
            T_ASSERT(ps.chunks <= keeps[k] + (n - 1 - i + ps.per_chunk - 1) / ps.per_chunk);
            T_EQ_U64(t_region_stats(&f.dev).in_use, ps.chunks * PG);
        }
        ps = pst(p);
        T_ASSERT(ps.chunks <= keeps[k]);
        if (keeps[k] == 0)
            T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
        T_OK(dmacoh_pool_destroy(p, 0));
        T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
        T_EQ_U64(t_region_stats(&f.dev).live, 0);
    }
    fx_fini(&f);
}

static void thrash(void)
{
    static void *cpu[512];
    static dmacoh_dma_addr_t h[512];
    struct dmacoh_pool_opts o;
    struct fx f;

    fx_init(&f, M4, MAP, MAP | EXCL);
    memset(&o, 0, sizeof(o));
    o.keep_empty = 1;
    for (int variant = 0; variant < 2; variant++) {
        struct dmacoh_pool *p = pool_new("thrash", &f.dev, 32, 0, 0, variant ? &o : NULL);
        struct dmacoh_pool_stats ps = pst(p);
        uint64_t before = t_region_stats(&f.dev).allocs,
                 frees_before = t_region_stats(&f.dev).frees;
        void *c;
        dmacoh_dma_addr_t hh;

        T_ASSERT(ps.per_chunk <= 512);
        for (size_t i = 0; i < ps.per_chunk; i++)
            T_OK(dmacoh_pool_alloc(p, 0, &cpu[i], &h[i]));
        T_EQ_U64(pst(p).chunks, 1);
        /* At the edge of a full chunk: each alloc needs a second chunk, each free empties it. */
        for (int i = 0; i < 1000; i++) {
            T_OK(dmacoh_pool_alloc(p, 0, &c, &hh));
            T_OK(dmacoh_pool_free(p, c, hh));
        }
        T_ASSERT(t_region_stats(&f.dev).allocs - before <= 3);
        T_ASSERT(t_region_stats(&f.dev).frees - frees_before <= 2);
        /* And the other way: one block over a full chunk, then free/alloc a first-chunk block. */
        T_OK(dmacoh_pool_alloc(p, 0, &c, &hh));
        for (int i = 0; i < 1000; i++) {
            T_OK(dmacoh_pool_free(p, c, hh));
            T_OK(dmacoh_pool_alloc(p, 0, &c, &hh));
        }
        T_ASSERT(t_region_stats(&f.dev).allocs - before <= 3);
        T_OK(dmacoh_pool_free(p, c, hh));
        for (size_t i = 0; i < ps.per_chunk; i++)
            T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
        T_OK(dmacoh_pool_destroy(p, 0));
    }
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    fx_fini(&f);
}

/* ---- small exclusive IO region ---- */

static void exclusive_io(void)
{
    static void *cpu[64];
    static dmacoh_dma_addr_t h[64];
    struct dmacoh_region_stats rs;
    struct dmacoh_pool *p;
    struct dmacoh_pool_stats ps;
    size_t n = 0;
    void *c;
    dmacoh_dma_addr_t hh;
    unsigned char b[4];
    struct fx f;
    int r;

    fx_init(&f, 2 * PG, IO, IO | EXCL);
    p = pool_new("iopool", &f.dev, 512, 0, 0, NULL);
    while ((r = dmacoh_pool_alloc(p, 0, &cpu[n], &h[n])) == 0) {
        T_ASSERT(n < 63);
        T_ASSERT(h[n] >= DEV_A && h[n] + 512 <= DEV_A + 2 * PG);
        T_EQ_U64(dmacoh_virt_to_dma(&f.dev, cpu[n]), h[n]);
        n++;
    }
    T_ERR(r, DMACOH_ENOMEM);
    T_EQ_U64(n, 16); /* two 4 KiB chunks of eight 512-byte blocks */
    ps = pst(p);
    T_EQ_U64(ps.failures, 1);
    T_EQ_U64(ps.in_use, 16);
    T_ERR(dmacoh_pool_alloc(p, 0, &c, &hh), DMACOH_ENOMEM);
    rs = t_region_stats(&f.dev);
    T_EQ_U64(rs.in_use, 2 * PG);
    T_EQ_U64(rs.fallbacks, 0);

    /* Cookies: CPU writes land at the block's bus address, bus writes are read back. */
    for (size_t i = 0; i < n; i++) {
        static const size_t offs[] = {0, 4, 256, 508};

        for (size_t k = 0; k < 4; k++) {
            uint32_t v = 0xa5000000u | (uint32_t)(i << 12) | (uint32_t)offs[k];

            dmacoh_iowrite32(v, (char *)cpu[i] + offs[k]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        static const size_t offs[] = {0, 4, 256, 508};

        for (size_t k = 0; k < 4; k++) {
            uint32_t v = 0xa5000000u | (uint32_t)(i << 12) | (uint32_t)offs[k];
            dmacoh_phys_addr_t bus = dmacoh_dma_to_bus(&f.dev, h[i] + offs[k]);

            T_EQ_U64(bus, MEM_A + (h[i] + offs[k] - DEV_A));
            T_OK(dmacoh_sim_bus_read(f.sim, bus, b, 4));
            T_EQ_U64((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                         (uint32_t)b[3] << 24,
                     v);
        }
        b[0] = 0x11;
        b[1] = 0x22;
        b[2] = 0x33;
        b[3] = (unsigned char)i;
        T_OK(dmacoh_sim_bus_write(f.sim, dmacoh_dma_to_bus(&f.dev, h[i] + 16), b, 4));
        T_EQ_U64(dmacoh_ioread32((char *)cpu[i] + 16), 0x00332211u | (uint32_t)i << 24);
    }

    /* Freeing one block makes room again; the pool takes no memory outside the region. */
    T_OK(dmacoh_pool_free(p, cpu[5], h[5]));
    T_OK(dmacoh_pool_alloc(p, 0, &c, &hh));
    T_EQ_U64(hh, h[5]);
    T_EQ_PTR(c, cpu[5]);
    T_ERR(dmacoh_pool_alloc(p, 0, &c, &hh), DMACOH_ENOMEM);
    T_EQ_U64(pst(p).failures, 3);
    for (size_t i = 0; i < n; i++)
        T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
    T_EQ_U64(pst(p).in_use, 0);
    T_OK(dmacoh_pool_destroy(p, 0));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    fx_fini(&f);
}

/* ---- which memory serves the pool ---- */

static void ancestor_region(void)
{
    struct dmacoh_sim *sim = sim_new(false);
    struct dmacoh_device par, child, grand, par2, child2;
    struct dmacoh_pool *p, *pg, *p2;
    void *c;
    dmacoh_dma_addr_t h;
    unsigned char buf[32];

    t_add_memory(sim, MEM_A, K64, MAP, false);
    t_add_memory(sim, MEM_B, K64, MAP, false);
    T_OK(dmacoh_device_init(&par, "bridge", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&child, "child", &par, NULL));
    T_OK(dmacoh_device_init(&grand, "grandchild", &child, NULL));
    declare(&par, MEM_A, DEV_A, K64, MAP | INCL, MAP);
    T_OK(dmacoh_device_init(&par2, "plain", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&child2, "child2", &par2, NULL));
    declare(&par2, MEM_B, DEV_B, K64, MAP, MAP);

    p = pool_new("child-pool", &child, 32, 0, 0, NULL);
    pg = pool_new("grand-pool", &grand, 32, 0, 0, NULL);
    T_OK(dmacoh_pool_alloc(p, 0, &c, &h));
    T_ASSERT(h >= DEV_A && h + 32 <= DEV_A + K64);
    T_EQ_INT(dmacoh_origin_of(&child, c), DMACOH_ORIGIN_REGION);
    T_EQ_U64(dmacoh_virt_to_dma(&child, c), h);
    T_EQ_U64(t_region_stats(&par).in_use, PG);
    fill(c, 32, 77);
    T_OK(dmacoh_sim_bus_read(sim, dmacoh_dma_to_bus(&child, h), buf, 32));
    T_EQ_U64(verify(buf, 32, 77), 32);
    T_OK(dmacoh_pool_free(p, c, h));
    T_OK(dmacoh_pool_alloc(pg, 0, &c, &h));
    T_ASSERT(h >= DEV_A && h + 32 <= DEV_A + K64);
    T_OK(dmacoh_pool_free(pg, c, h));

    /* Without INCLUDES_CHILDREN the child's pool lives in system memory. */
    p2 = pool_new("child2-pool", &child2, 32, 0, 0, NULL);
    T_OK(dmacoh_pool_alloc(p2, 0, &c, &h));
    T_ASSERT(h >= RAM_BASE && h + 32 <= RAM_BASE + RAM_SIZE);
    T_EQ_INT(dmacoh_origin_of(&child2, c), DMACOH_ORIGIN_SYSTEM);
    T_EQ_U64(t_region_stats(&par2).in_use, 0);
    T_OK(dmacoh_pool_free(p2, c, h));

    T_OK(dmacoh_pool_destroy(p, 0));
    T_OK(dmacoh_pool_destroy(pg, 0));
    T_OK(dmacoh_pool_destroy(p2, 0));
    T_EQ_U64(t_region_stats(&par).in_use, 0);
    T_EQ_U64(t_region_stats(&par).live, 0);
    dev_done(&grand);
    dev_done(&child);
    dev_done(&par);
    dev_done(&child2);
    dev_done(&par2);
    T_OK(dmacoh_sim_destroy(sim));
}

static void system_memory(void)
{
    struct dmacoh_sim *sim = sim_new(false);
    struct dmacoh_device dev;
    struct dmacoh_pool *p;
    void *cpu[200], *c;
    dmacoh_dma_addr_t h[200], hh;
    unsigned char buf[72];
    int want, r;

    T_OK(dmacoh_device_init(&dev, "noregion", NULL, dmacoh_sim_platform(sim)));
    p = pool_new("sys", &dev, 72, 8, 0, NULL);
    for (size_t i = 0; i < 200; i++) {
        T_OK(dmacoh_pool_alloc(p, 0, &cpu[i], &h[i]));
        T_ASSERT(h[i] >= RAM_BASE && h[i] + 72 <= RAM_BASE + RAM_SIZE);
        T_EQ_INT(dmacoh_origin_of(&dev, cpu[i]), DMACOH_ORIGIN_SYSTEM);
        T_EQ_U64(dmacoh_virt_to_dma(&dev, cpu[i]), h[i]);
        fill(cpu[i], 72, i);
    }
    for (size_t i = 0; i < 200; i++) {
        /* Simulated RAM is identity-mapped: the handle is the bus address. */
        T_OK(dmacoh_sim_bus_read(sim, h[i], buf, 72));
        T_EQ_U64(verify(buf, 72, i), 72);
        T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
    }
    T_OK(dmacoh_pool_destroy(p, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));

    /* No system memory at all: the pool reports what dmacoh_alloc_coherent() does. */
    sim = sim_new(true);
    T_OK(dmacoh_device_init(&dev, "noram", NULL, dmacoh_sim_platform(sim)));
    want = dmacoh_alloc_coherent(&dev, PG, 0, 0, &c, &hh);
    T_ASSERT(want < 0);
    p = pool_new("noram", &dev, 72, 8, 0, NULL);
    r = dmacoh_pool_alloc(p, 0, &c, &hh);
    T_ERR(r, want);
    T_EQ_U64(pst(p).failures, 1);
    T_EQ_U64(pst(p).chunks, 0);
    T_EQ_U64(pst(p).in_use, 0);
    T_OK(dmacoh_pool_destroy(p, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- destroy ---- */

static void destroy_outstanding(void)
{
    struct dmacoh_pool *p;
    struct dmacoh_pool_stats ps;
    void *cpu[300];
    dmacoh_dma_addr_t h[300];
    struct device rdev;
    struct dma_pool *rp;
    struct fx f;

    fx_init(&f, K64, MAP, MAP | EXCL);
    p = pool_new("busy-pool", &f.dev, 64, 0, 0, NULL);
    ps = pst(p);
    /* Outstanding blocks in two chunks. */
    for (size_t i = 0; i < ps.per_chunk + 2; i++)
        T_OK(dmacoh_pool_alloc(p, 0, &cpu[i], &h[i]));
    for (size_t i = 1; i < ps.per_chunk; i++)
        T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
    T_EQ_U64(pst(p).in_use, 3);
    t_log_reset();
    T_ERR(dmacoh_pool_destroy(p, 0), DMACOH_EBUSY);
    T_ASSERT(t_log_count() >= 2); /* one line per chunk with blocks outstanding */
    T_ASSERT(t_log_find("busy-pool"));
    /* Refused: the pool and its blocks are intact. */
    ps = pst(p);
    T_EQ_U64(ps.in_use, 3);
    T_EQ_U64(ps.chunks, 2);
    T_OK(dmacoh_pool_free(p, cpu[0], h[0]));
    T_ERR(dmacoh_pool_destroy(p, 0), DMACOH_EBUSY);
    T_EQ_U64(pst(p).in_use, 2);
    t_log_reset();
    T_OK(dmacoh_pool_destroy(p, FORCE));
    T_ASSERT(t_log_find("busy-pool"));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    T_EQ_U64(t_region_stats(&f.dev).live, 0);

    /* An idle pool goes without FORCE. */
    p = pool_new("idle", &f.dev, 64, 0, 0, NULL);
    T_OK(dmacoh_pool_alloc(p, 0, &cpu[0], &h[0]));
    T_OK(dmacoh_pool_free(p, cpu[0], h[0]));
    T_OK(dmacoh_pool_destroy(p, 0));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    fx_fini(&f);

    /* dma_pool_destroy is unconditional. */
    fx_init(&f, 0, 0, 0);
    t_add_memory(f.sim, MEM_B, K64, MAP, false);
    T_OK(dmacoh_device_init(&rdev.dmacoh, "rfcdestroy", NULL, dmacoh_sim_platform(f.sim)));
    T_EQ_INT(dma_declare_coherent_memory(&rdev, MEM_B, DEV_B, K64, DMA_MEMORY_MAP | EXCL),
             DMA_MEMORY_MAP);
    rp = dma_pool_create("rfc-busy", &rdev, 64, 0, 0);
    T_ASSERT(rp != NULL);
    for (size_t i = 0; i < 100; i++) {
        cpu[i] = dma_pool_alloc(rp, GFP_KERNEL, &h[i]);
        T_ASSERT(cpu[i] != NULL);
    }
    T_ASSERT(t_region_stats(&rdev.dmacoh).in_use >= 2 * PG);
    t_log_reset();
    dma_pool_destroy(rp);
    T_ASSERT(t_log_find("rfc-busy"));
    T_EQ_U64(t_region_stats(&rdev.dmacoh).in_use, 0);
    T_EQ_U64(t_region_stats(&rdev.dmacoh).live, 0);
    dma_pool_destroy(NULL);
    dev_done(&rdev.dmacoh);
    fx_fini(&f);
}

/* ---- the RFC wrappers ---- */

static void rfc_wrappers(void)
{
    struct dmacoh_sim *sim = sim_new(false);
    struct device rdev;
    struct dma_pool *rp, *rq;
    struct dmacoh_pool_stats before, after;
    void *c[20], *x;
    dma_addr_t h[20], hx = 0;

    t_add_memory(sim, MEM_A, 2 * PG, MAP, false);
    T_OK(dmacoh_device_init(&rdev.dmacoh, "rfcpool", NULL, dmacoh_sim_platform(sim)));
    T_EQ_INT(dma_declare_coherent_memory(&rdev, MEM_A, DEV_A, 2 * PG,
                                         DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE),
             DMA_MEMORY_MAP);
    T_ASSERT(dma_pool_create(NULL, &rdev, 64, 0, 0) == NULL);
    T_ASSERT(dma_pool_create("x", NULL, 64, 0, 0) == NULL);
    T_ASSERT(dma_pool_create("x", &rdev, 0, 0, 0) == NULL);
    t_log_reset();
    T_ASSERT(dma_pool_create("x", &rdev, 64, 3, 0) == NULL);
    T_ASSERT(t_log_count() >= 1);
    T_ASSERT(dma_pool_create("x", &rdev, 64, 0, 32) == NULL);
    rp = dma_pool_create("rfc", &rdev, 1024, 16, 1024);
    T_ASSERT(rp != NULL);
    rq = dma_pool_create("rfc2", &rdev, 1024, 16, 0);
    T_ASSERT(rq != NULL);
    T_ASSERT(dma_pool_alloc(rp, GFP_KERNEL, NULL) == NULL);
    T_ASSERT(dma_pool_alloc(NULL, GFP_KERNEL, &hx) == NULL);

    /* 8 KiB exclusive: 8 blocks of 1 KiB, then NULL. */
    for (size_t i = 0; i < 8; i++) {
        c[i] = dma_pool_alloc(rp, GFP_KERNEL, &h[i]);
        T_ASSERT(c[i] != NULL);
        T_EQ_U64(h[i] % 1024, 0);
        T_EQ_U64(dmacoh_virt_to_dma(&rdev.dmacoh, c[i]), h[i]);
    }
    T_ASSERT(dma_pool_alloc(rp, GFP_ATOMIC, &hx) == NULL);
    T_ASSERT(dma_pool_alloc(rq, GFP_ATOMIC, &hx) == NULL);

    /* Bad frees through the wrapper change nothing. */
    before = pst(rp);
    dma_pool_free(rp, c[0], h[0] + 16);
    dma_pool_free(rp, c[1], h[0]);
    dma_pool_free(rp, NULL, h[0]);
    dma_pool_free(rq, c[0], h[0]);
    after = pst(rp);
    T_EQ_U64(after.in_use, before.in_use);
    T_EQ_U64(after.frees, before.frees);
    dma_pool_free(rp, c[0], h[0]);
    dma_pool_free(rp, c[0], h[0]);
    T_EQ_U64(pst(rp).frees, before.frees + 1);
    x = dma_pool_alloc(rp, GFP_KERNEL, &hx);
    T_EQ_PTR(x, c[0]);
    T_EQ_U64(hx, h[0]);
    for (size_t i = 0; i < 8; i++)
        dma_pool_free(rp, c[i], h[i]);
    T_EQ_U64(pst(rp).in_use, 0);
    dma_pool_destroy(rp);
    dma_pool_destroy(rq);
    T_EQ_U64(t_region_stats(&rdev.dmacoh).in_use, 0);
    dev_done(&rdev.dmacoh);
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- poisoning ---- */

static void poison(void)
{
    struct dmacoh_pool_opts o;
    struct dmacoh_pool *p;
    void *a, *b, *c, *x;
    dmacoh_dma_addr_t ha, hb, hc, hx;
    struct fx f;

    fx_init(&f, K64, MAP, MAP | EXCL);
    memset(&o, 0, sizeof(o));
    o.poison = true;
    o.keep_empty = 1;

    /* Without poisoning nothing is checked. */
    p = pool_new("plain-pool", &f.dev, 40, 0, 0, NULL);
    T_OK(dmacoh_pool_alloc(p, 0, &a, &ha));
    T_OK(dmacoh_pool_alloc(p, 0, &b, &hb));
    T_OK(dmacoh_pool_free(p, a, ha));
    memset(a, 0, 40);
    T_OK(dmacoh_pool_alloc(p, 0, &x, &hx));
    T_EQ_U64(hx, ha);
    T_EQ_U64(pst(p).poison_errors, 0);
    T_OK(dmacoh_pool_free(p, x, hx));
    T_OK(dmacoh_pool_free(p, b, hb));
    T_OK(dmacoh_pool_destroy(p, 0));

    p = pool_new("poison-pool", &f.dev, 40, 0, 0, &o);
    T_OK(dmacoh_pool_alloc(p, 0, &a, &ha));
    T_OK(dmacoh_pool_alloc(p, 0, &b, &hb));
    T_OK(dmacoh_pool_alloc(p, 0, &c, &hc));
    fill(a, 40, 1);
    fill(b, 40, 2);
    fill(c, 40, 3);
    T_EQ_U64(pst(p).poison_errors, 0);
    /* A freed block is filled with the poison byte; an untouched one passes the check. */
    T_OK(dmacoh_pool_free(p, a, ha));
    T_ASSERT(all_bytes(a, 40, DMACOH_POOL_POISON));
    T_EQ_U64(verify(b, 40, 2), 40);
    T_OK(dmacoh_pool_alloc(p, 0, &x, &hx));
    T_EQ_U64(hx, ha);
    T_EQ_U64(pst(p).poison_errors, 0);
    /* Written after free: caught and logged when handed out again. */
    T_OK(dmacoh_pool_free(p, b, hb));
    T_ASSERT(all_bytes(b, 40, DMACOH_POOL_POISON));
    ((unsigned char *)b)[39] = 0;
    t_log_reset();
    T_OK(dmacoh_pool_alloc(p, DMACOH_POOL_ZERO, &b, &hx));
    T_EQ_U64(hx, hb);
    T_EQ_U64(pst(p).poison_errors, 1);
    T_ASSERT(t_log_find("poison-pool"));
    T_ASSERT(all_bytes(b, 40, 0));
    /* Once more, with the first byte. */
    T_OK(dmacoh_pool_free(p, c, hc));
    ((unsigned char *)c)[0] = 0x42;
    T_OK(dmacoh_pool_alloc(p, 0, &c, &hx));
    T_EQ_U64(hx, hc);
    T_EQ_U64(pst(p).poison_errors, 2);
    T_OK(dmacoh_pool_free(p, x, ha));
    T_OK(dmacoh_pool_free(p, b, hb));
    T_OK(dmacoh_pool_free(p, c, hc));
    T_EQ_U64(pst(p).poison_errors, 2);
    T_OK(dmacoh_pool_destroy(p, 0));
    fx_fini(&f);

    /* On IO memory, tampered with from the bus side (a stray DMA write). */
    fx_init(&f, 2 * PG, IO, IO | EXCL);
    p = pool_new("io-poison", &f.dev, 64, 0, 0, &o);
    T_OK(dmacoh_pool_alloc(p, 0, &a, &ha));
    T_OK(dmacoh_pool_alloc(p, 0, &b, &hb));
    T_OK(dmacoh_pool_free(p, a, ha));
    T_EQ_U64(dmacoh_ioread8((char *)a + 63), DMACOH_POOL_POISON);
    {
        unsigned char z = 0x00;

        T_OK(dmacoh_sim_bus_write(f.sim, dmacoh_dma_to_bus(&f.dev, ha + 20), &z, 1));
    }
    t_log_reset();
    T_OK(dmacoh_pool_alloc(p, 0, &a, &hx));
    T_EQ_U64(hx, ha);
    T_EQ_U64(pst(p).poison_errors, 1);
    T_ASSERT(t_log_find("io-poison"));
    T_OK(dmacoh_pool_free(p, a, ha));
    T_OK(dmacoh_pool_free(p, b, hb));
    T_OK(dmacoh_pool_destroy(p, 0));
    fx_fini(&f);
}

/* ---- threads ---- */

#define NTHREADS   4
#define THREAD_OPS 25000
#define THREAD_MAX 48
#define THREAD_SZ  56
#define MAILBOXES  64

/* Blocks handed between threads, so that frees cross the per-thread shards. */
struct mailboxes {
    pthread_mutex_t mu;
    struct blk box[MAILBOXES];
    bool full[MAILBOXES];
};

struct worker {
    pthread_t tid;
    struct dmacoh_pool *pool;
    struct dmacoh_device *dev;
    struct mailboxes *mb;
    unsigned id;
    uint64_t allocs, frees;
    char err[160];
};

/* Verifies a block's pattern and frees it; false (with w->err set) on any failure. */
static bool worker_free(struct worker *w, const struct blk *b, unsigned op)
{
    size_t at = verify(b->cpu, THREAD_SZ, b->tag);
    int r;

    if (at != THREAD_SZ) {
        snprintf(w->err, sizeof(w->err),
                 "thread %u op %u: block %#" PRIx64 " (tag %#" PRIx64 ") byte %zu overwritten",
                 w->id, op, b->h, b->tag, at);
        return false;
    }
    r = dmacoh_pool_free(w->pool, b->cpu, b->h);
    if (r != 0) {
        snprintf(w->err, sizeof(w->err), "thread %u op %u: free %#" PRIx64 ": %d", w->id, op, b->h,
                 r);
        return false;
    }
    w->frees++;
    return true;
}

static void *worker_main(void *arg)
{
    struct worker *w = (struct worker *)arg;
    struct blk live[THREAD_MAX];
    size_t n = 0;
    uint64_t seed = 0x7157ull + w->id, tag = (uint64_t)w->id << 32;

    w->err[0] = '\0';
    for (unsigned op = 0; op < THREAD_OPS || n; op++) {
        unsigned r = op < THREAD_OPS ? (unsigned)(t_rand(&seed) % 100) : 99;

        if (n == 0 || (r < 45 && n < THREAD_MAX)) {
            struct blk *b = &live[n];
            int e = dmacoh_pool_alloc(w->pool, 0, &b->cpu, &b->h);

            if (e != 0 || dmacoh_virt_to_dma(w->dev, b->cpu) != b->h || (b->h & 7)) {
                snprintf(w->err, sizeof(w->err), "thread %u op %u: alloc %d dma %#" PRIx64, w->id,
                         op, e, b->h);
                return NULL;
            }
            b->tag = tag++;
            fill(b->cpu, THREAD_SZ, b->tag);
            n++;
            w->allocs++;
        } else if (r < 65) {
            /* Post a block to a mailbox; free whatever another thread left there. */
            size_t i = (size_t)(t_rand(&seed) % n), k = (size_t)(t_rand(&seed) % MAILBOXES);
            struct blk old;
            bool had;

            pthread_mutex_lock(&w->mb->mu);
            had = w->mb->full[k];
            old = w->mb->box[k];
            w->mb->box[k] = live[i];
            w->mb->full[k] = true;
            pthread_mutex_unlock(&w->mb->mu);
            live[i] = live[--n];
            if (had && !worker_free(w, &old, op))
                return NULL;
        } else {
            size_t i = (size_t)(t_rand(&seed) % n);

            if (!worker_free(w, &live[i], op))
                return NULL;
            live[i] = live[--n];
        }
    }
    return NULL;
}

static void threads(void)
{
    static struct mailboxes mb;
    struct worker w[NTHREADS];
    struct dmacoh_pool_stats ps;
    struct dmacoh_pool *p;
    uint64_t allocs = 0, frees = 0;
    struct fx f;

    fx_init(&f, M4, MAP, MAP);
    p = pool_new("mt", &f.dev, THREAD_SZ, 8, 0, NULL);
    memset(&mb, 0, sizeof(mb));
    T_EQ_INT(pthread_mutex_init(&mb.mu, NULL), 0);
    for (unsigned i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].pool = p;
        w[i].dev = &f.dev;
        w[i].mb = &mb;
        w[i].id = i + 1;
        T_EQ_INT(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < NTHREADS; i++)
        T_EQ_INT(pthread_join(w[i].tid, NULL), 0);
    for (unsigned i = 0; i < NTHREADS; i++) {
        if (w[i].err[0])
            t_fail(__FILE__, __LINE__, "%s", w[i].err);
        allocs += w[i].allocs;
        frees += w[i].frees;
    }
    /* What is left in the mailboxes is freed here, after its pattern is checked. */
    for (size_t k = 0; k < MAILBOXES; k++) {
        if (!mb.full[k])
            continue;
        T_EQ_U64(verify(mb.box[k].cpu, THREAD_SZ, mb.box[k].tag), THREAD_SZ);
        T_OK(dmacoh_pool_free(p, mb.box[k].cpu, mb.box[k].h));
        frees++;
    }
    T_EQ_INT(pthread_mutex_destroy(&mb.mu), 0);
    T_EQ_U64(frees, allocs);
    ps = pst(p);
    T_EQ_U64(ps.in_use, 0);
    T_EQ_U64(ps.allocs, allocs);
    T_EQ_U64(ps.frees, allocs);
    /* With several threads peak is only an upper bound of the true peak (pool.h). */
    T_ASSERT(ps.peak >= 1 && ps.peak <= allocs);
    T_ASSERT(dmacoh_check(&f.dev));
    T_OK(dmacoh_pool_destroy(p, 0));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    fx_fini(&f);
}

/* ---- one call sequence in a thread of its own (a new thread gets a new shard) ---- */

struct job {
    struct dmacoh_pool *pool;
    bool do_free;
    size_t n, done; /* blocks to take or return, and how many were */
    void **cpu;
    dmacoh_dma_addr_t *h;
    int r; /* the first error, or 0 */
};

static void *job_main(void *arg)
{
    struct job *j = (struct job *)arg;

    j->r = 0;
    for (j->done = 0; j->done < j->n; j->done++) {
        j->r = j->do_free ? dmacoh_pool_free(j->pool, j->cpu[j->done], j->h[j->done])
                          : dmacoh_pool_alloc(j->pool, 0, &j->cpu[j->done], &j->h[j->done]);
        if (j->r)
            break;
    }
    return NULL;
}

static struct job in_thread(struct dmacoh_pool *p, bool do_free, size_t n, void **cpu,
                            dmacoh_dma_addr_t *h)
{
    struct job j = {p, do_free, n, 0, cpu, h, 0};
    pthread_t t;

    T_EQ_INT(pthread_create(&t, NULL, job_main, &j), 0);
    T_EQ_INT(pthread_join(t, NULL), 0);
    return j;
}

/* An explicit keep_empty bounds the pool's empty chunks, whichever threads used it; the
 * default keeps one per shard (four threads on four shards: four), and no more within one. */
static void keep_empty_threads(void)
{
    static const unsigned keeps[] = {0, 1, 2, 4};
    void *cpu[8];
    dmacoh_dma_addr_t h[8];
    struct fx f;

    fx_init(&f, K64, MAP, MAP | EXCL);
    for (size_t k = 0; k < sizeof(keeps) / sizeof(keeps[0]); k++) {
        struct dmacoh_pool_opts o;
        struct dmacoh_pool_stats ps;
        struct dmacoh_pool *p;

        memset(&o, 0, sizeof(o));
        o.keep_empty = keeps[k] ? keeps[k] : DMACOH_POOL_KEEP_NONE;
        p = pool_new("keep-mt", &f.dev, 64, 0, 0, keeps[k] == 4 ? NULL : &o); /* 4: default */
        /* Four threads take one block each, then this thread returns them all. */
        for (size_t i = 0; i < 4; i++) {
            struct job j = in_thread(p, false, 1, &cpu[i], &h[i]);

            T_OK(j.r);
        }
        for (size_t i = 0; i < 4; i++)
            T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
        ps = pst(p);
        T_EQ_U64(ps.in_use, 0);
        if (ps.chunks > keeps[k] || t_region_stats(&f.dev).in_use > keeps[k] * PG)
            t_fail(__FILE__, __LINE__,
                   "keep_empty %u, no block outstanding: pool holds %" PRIu64 " chunks (%" PRIu64
                   " bytes of the region)",
                   keeps[k], ps.chunks, t_region_stats(&f.dev).in_use);
        if (keeps[k] == 4) {
            void *more[128];
            dmacoh_dma_addr_t hm[128];

            T_EQ_U64(ps.chunks, 4); /* each thread's shard keeps its chunk */
            /* Two chunks' worth in this thread's shard (one of the four), all freed: one stays. */
            for (size_t i = 0; i < 128; i++)
                T_OK(dmacoh_pool_alloc(p, 0, &more[i], &hm[i]));
            for (size_t i = 0; i < 128; i++)
                T_OK(dmacoh_pool_free(p, more[i], hm[i]));
            T_EQ_U64(pst(p).chunks, 4);
        }
        T_OK(dmacoh_pool_destroy(p, 0));
        T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    }
    fx_fini(&f);
}

/* A small exclusive region is not starved by threads: blocks of any chunk with room are used. */
static void exclusive_threads(void)
{
    static void *cpu[32];
    static dmacoh_dma_addr_t h[32];
    struct dmacoh_pool_stats ps;
    struct dmacoh_pool *p;
    struct job j;
    struct fx f;

    fx_init(&f, 2 * PG, IO, IO | EXCL);
    p = pool_new("io-mt", &f.dev, 512, 0, 0, NULL);
    T_OK(in_thread(p, false, 1, &cpu[0], &h[0]).r);
    T_OK(in_thread(p, false, 1, &cpu[1], &h[1]).r);
    j = in_thread(p, false, 30, &cpu[2], &h[2]);
    T_ERR(j.r, DMACOH_ENOMEM);
    T_EQ_U64(j.done, 14); /* 16 blocks of 512 bytes in 8 KiB, whoever holds the chunks */
    ps = pst(p);
    T_EQ_U64(ps.in_use, 16);
    T_EQ_U64(ps.failures, 1);
    T_EQ_U64(t_region_stats(&f.dev).in_use, 2 * PG);
    qsort(h, 16, sizeof(h[0]), cmp_u64);
    for (size_t i = 0; i + 1 < 16; i++)
        T_ASSERT(h[i] + 512 <= h[i + 1]);
    /* Handles were sorted: recover each cookie from its handle before freeing. */
    for (size_t i = 0; i < 16; i++) {
        cpu[i] = dmacoh_dma_to_virt(&f.dev, h[i]);
        T_ASSERT(cpu[i] != NULL);
    }
    j = in_thread(p, true, 16, cpu, h);
    T_OK(j.r);
    T_EQ_U64(j.done, 16);
    ps = pst(p);
    T_EQ_U64(ps.in_use, 0);
    T_EQ_U64(ps.allocs, 16);
    T_EQ_U64(ps.frees, 16);
    T_OK(dmacoh_pool_destroy(p, 0));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    fx_fini(&f);
}

/* ---- huge chunk_size (last: undefined behaviour here aborts a sanitizer build) ---- */

static void create_huge_chunk_size(void)
{
    /* 64-bit values: those a 32-bit size_t cannot hold are skipped there. */
    static const uint64_t bad[] = {((uint64_t)1 << 31) + 1, (uint64_t)1 << 32, (uint64_t)1 << 63,
                                   ((uint64_t)1 << 63) + 1, UINT64_MAX};
    struct dmacoh_pool_opts o;
    struct dmacoh_pool_stats ps;
    struct dmacoh_pool *p = NULL;
    struct fx f;

    fx_init(&f, K64, MAP, MAP);
    memset(&o, 0, sizeof(o));
    o.keep_empty = 1;
    /* Above 2 GiB is refused (pool.h); beyond 2^63 no power of two >= it even exists. */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bad[i] > SIZE_MAX)
            continue;
        o.chunk_size = (size_t)bad[i];
        p = NULL;
        T_ERR(dmacoh_pool_create(&p, "huge", &f.dev, 64, 0, 0, &o), DMACOH_EINVAL);
    }
    /* 2 GiB itself is accepted, and capped at 4096 blocks per chunk. */
    o.chunk_size = (size_t)1 << 31;
    p = pool_new("2g", &f.dev, 64, 0, 0, &o);
    ps = pst(p);
    T_ASSERT(ps.per_chunk >= 1 && ps.per_chunk <= 4096);
    T_EQ_U64(ps.chunk_size & (ps.chunk_size - 1), 0);
    T_EQ_U64(ps.chunks, 0);
    T_OK(dmacoh_pool_destroy(p, 0));
    fx_fini(&f);
}

/* A handle in the gap at the end of a boundary segment (24-byte blocks, 64-byte boundary:
 * blocks at 0 and 24, a gap at 48..63, the next segment's first block at 64) starts no block:
 * its free is -EFAULT and the next segment's first block, which is held, stays allocated. */
static void boundary_gap_is_no_block(void)
{
    struct fx f;
    struct dmacoh_pool *p;
    void *b[3];
    dmacoh_dma_addr_t h[3];

    fx_init(&f, 16 * PG, MAP, MAP | EXCL);
    p = pool_new("gap", &f.dev, 24, 8, 64, NULL);
    for (unsigned i = 0; i < 3; i++)
        T_OK(dmacoh_pool_alloc(p, 0, &b[i], &h[i]));
    T_EQ_U64(h[1] - h[0], 24);
    T_EQ_U64(h[2] - h[0], 64);
    for (uint64_t off = 48; off < 64; off += 8) {
        t_log_reset();
        T_ERR(dmacoh_pool_free(p, (char *)b[0] + off, h[0] + off), DMACOH_EFAULT);
        T_ASSERT(t_log_count() > 0);
    }
    T_EQ_U64(pst(p).in_use, 3);
    for (unsigned i = 0; i < 3; i++)
        T_OK(dmacoh_pool_free(p, b[i], h[i]));
    T_OK(dmacoh_pool_destroy(p, 0));
    fx_fini(&f);
}

/* A free of a handle whose chunk the pool does not hold ends (-EFAULT) at every number of
 * chunks, in particular 16 and 32 in one shard, where a chunk table allowed to fill up would
 * have no empty slot to end the probe. Under alarm(): a regression fails, it does not hang. */
static void chunk_table_lookups_end(void)
{
    struct fx f;
    struct dmacoh_pool *p;
    struct dmacoh_pool_opts o;
    void *b[48], *stray;
    dmacoh_dma_addr_t h[48], hs = DEV_A + 63 * PG;

    fx_init(&f, 64 * PG, MAP, MAP | EXCL);
    memset(&o, 0, sizeof(o));
    o.chunk_size = PG;
    p = pool_new("tab", &f.dev, PG, 0, 0, &o); /* one block per chunk */
    stray = dmacoh_dma_to_virt(&f.dev, hs);
    alarm(20);
    for (unsigned i = 0; i < 48; i++) {
        T_OK(dmacoh_pool_alloc(p, 0, &b[i], &h[i]));
        T_ASSERT(h[i] < hs);
        T_ERR(dmacoh_pool_free(p, stray, hs), DMACOH_EFAULT);
    }
    T_EQ_U64(pst(p).chunks, 48);
    for (unsigned i = 0; i < 48; i++)
        T_OK(dmacoh_pool_free(p, b[i], h[i]));
    alarm(0);
    T_OK(dmacoh_pool_destroy(p, 0));
    fx_fini(&f);
}

static const struct t_case cases[] = {
    T_CASE(create_args),
    T_CASE(create_chunk_size),
    T_CASE(call_args),
    T_CASE(geometry_random),
    T_CASE(fresh_chunk_ascending),
    T_CASE(zero_flag),
    T_CASE(zero_rfc_and_io),
    T_CASE(model_random),
    T_CASE(chunk_return),
    T_CASE(thrash),
    T_CASE(exclusive_io),
    T_CASE(ancestor_region),
    T_CASE(system_memory),
    T_CASE(destroy_outstanding),
    T_CASE(rfc_wrappers),
    T_CASE(poison),
    T_CASE(threads),
    T_CASE(keep_empty_threads),
    T_CASE(exclusive_threads),
    T_CASE(create_huge_chunk_size),
    T_CASE(boundary_gap_is_no_block),
    T_CASE(chunk_table_lookups_end),
};

T_MAIN(cases)
