/* SPDX-License-Identifier: MIT */
/*
 * test_pool_pack.c - how many blocks a dma_pool gets out of a region: for block sizes from 16 B
 * to 64 KiB over a 256 KiB exclusive region, at least 95 % of the blocks that fit by bytes
 * (where alignment or a boundary makes that impossible, exactly the blocks the rule allows);
 * the same count again after every block was freed; the end of a region that cannot hold a
 * chunk of the pool's size used by smaller chunks; and every check of free (double free, a
 * pointer that is no block, a pointer that does not match its handle) still made in a packed
 * pool, in chunks of every size it holds.
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include "fixture.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

#define MEM_A  UINT64_C(0x10000000)
#define DEV_A  UINT64_C(0x80000000)
#define PG     UINT64_C(0x1000)
#define REGION (64 * PG)    /* 256 KiB */
#define MAXB   (16384u + 1) /* 16-byte blocks over 256 KiB, and one more */

struct fx {
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
};

static void fx_init(struct fx *f)
{
    struct dmacoh_sim_opts o;
    int g = 0;

    memset(&o, 0, sizeof(o));
    f->sim = NULL;
    T_OK(dmacoh_sim_create(&o, &f->sim));
    T_OK(dmacoh_device_init(&f->dev, "packdev", NULL, dmacoh_sim_platform(f->sim)));
    t_add_memory(f->sim, MEM_A, REGION, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_declare_coherent_memory(&f->dev, MEM_A, DEV_A, REGION,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, &g));
    T_EQ_INT(g, DMACOH_MEMORY_MAP);
}

static void fx_fini(struct fx *f)
{
    T_ASSERT(dmacoh_check(&f->dev));
    T_OK(dmacoh_release_coherent_memory(&f->dev, 0));
    T_OK(dmacoh_device_fini(&f->dev));
    T_OK(dmacoh_sim_destroy(f->sim));
}

static uint64_t pool_in_use(const struct dmacoh_pool *p)
{
    struct dmacoh_pool_stats st;

    T_OK(dmacoh_pool_get_stats(p, &st));
    return st.in_use;
}

static void *cpu[MAXB];
static dmacoh_dma_addr_t h[MAXB];
static uint64_t sorted[MAXB];

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Allocates from p until the region is full; checks each block lies in the region, is aligned,
 * keeps to the boundary and overlaps no other; returns how many it got. */
static size_t fill_up(struct dmacoh_pool *p, struct fx *f, size_t size, size_t align,
                      size_t boundary)
{
    size_t n = 0;
    int r;

    while ((r = dmacoh_pool_alloc(p, 0, &cpu[n], &h[n])) == 0) {
        T_ASSERT(h[n] >= DEV_A && h[n] + size <= DEV_A + REGION);
        T_EQ_U64(h[n] % align, 0);
        if (boundary)
            T_EQ_U64(h[n] / boundary, (h[n] + size - 1) / boundary);
        T_EQ_U64(dmacoh_virt_to_dma(&f->dev, cpu[n]), h[n]);
        sorted[n] = h[n];
        n++;
        T_ASSERT(n < MAXB);
    }
    T_EQ_INT(r, DMACOH_ENOMEM);
    qsort(sorted, n, sizeof(sorted[0]), cmp_u64);
    for (size_t i = 0; i + 1 < n; i++)
        T_ASSERT(sorted[i] + size <= sorted[i + 1]);
    return n;
}

/* Frees every block, in an order that visits the chunks out of turn. */
static void free_all(struct dmacoh_pool *p, size_t n)
{
    for (size_t i = 0; i < n; i += 2)
        T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
    for (size_t i = 1; i < n; i += 2)
        T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
    T_EQ_U64(pool_in_use(p), 0);
}

/* Each misuse is refused with its code and a log line, and changes nothing. */
static void misuse_refused(struct dmacoh_pool *p, size_t n, size_t stride)
{
    uint64_t before = pool_in_use(p);

    T_ASSERT(n >= 2);
    /* Double free of the first and the last block. */
    T_OK(dmacoh_pool_free(p, cpu[0], h[0]));
    t_log_reset();
    T_ERR(dmacoh_pool_free(p, cpu[0], h[0]), DMACOH_EFAULT);
    T_ASSERT(t_log_count() > 0);
    T_OK(dmacoh_pool_free(p, cpu[n - 1], h[n - 1]));
    t_log_reset();
    T_ERR(dmacoh_pool_free(p, cpu[n - 1], h[n - 1]), DMACOH_EFAULT);
    T_ASSERT(t_log_count() > 0);
    /* Not a block start (inside a block), in the middle block's chunk. */
    if (stride > 8) {
        t_log_reset();
        T_ERR(dmacoh_pool_free(p, (char *)cpu[n / 2] + 8, h[n / 2] + 8), DMACOH_EFAULT);
        T_ASSERT(t_log_count() > 0);
    }
    /* A pointer that is not the handle's block. */
    t_log_reset();
    T_ERR(dmacoh_pool_free(p, cpu[1], h[n / 2]), DMACOH_EINVAL);
    T_ASSERT(t_log_count() > 0);
    /* A handle outside every chunk: below the region. */
    t_log_reset();
    T_ERR(dmacoh_pool_free(p, cpu[1], DEV_A - PG), DMACOH_EFAULT);
    T_ASSERT(t_log_count() > 0);
    T_EQ_U64(pool_in_use(p), before - 2);
    T_OK(dmacoh_pool_alloc(p, 0, &cpu[0], &h[0]));
    T_OK(dmacoh_pool_alloc(p, 0, &cpu[n - 1], &h[n - 1]));
    T_EQ_U64(pool_in_use(p), before);
}

/* Blocks held over 256 KiB, for each size, against floor(256 KiB / size). */
static void pack_sizes(void)
{
    static const size_t sizes[] = {16, 24, 64, 100, 512, 1536, 2048, 3000, 4096, 6000, 8192, 65536};

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t size = sizes[s], fit = (size_t)REGION / size, n, again;
        struct dmacoh_pool *p = NULL;
        struct fx f;

        fx_init(&f);
        T_OK(dmacoh_pool_create(&p, "pack", &f.dev, size, 0, 0, NULL));
        n = fill_up(p, &f, size, 8, 0);
        if (n * 100 < fit * 95)
            t_fail(__FILE__, __LINE__, "%zu-byte blocks: %zu held of %zu that fit (< 95 %%)", size,
                   n, fit);
        misuse_refused(p, n, size);
        T_ASSERT(dmacoh_check(&f.dev));
        free_all(p, n);
        again = fill_up(p, &f, size, 8, 0);
        T_EQ_U64(again, n);
        free_all(p, again);
        T_OK(dmacoh_pool_destroy(p, 0));
        T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
        fx_fini(&f);
    }
}

/* Every block size from 16 B to 4 KiB, and every 7th to 64 KiB: at least 95 % of the blocks
 * that fit at the pool's stride (the size rounded up to 8 bytes, the least alignment a block
 * gets). By bytes that is 95 % too for every size that is a multiple of 8; a size just above a
 * multiple of 8 loses to the rounding what no chunk size can give back (17-byte blocks take
 * 24 bytes: at most 10922 of the 15420 that fit by bytes). */
static void pack_every_size(void)
{
    struct dmacoh_pool *p;
    struct fx f;
    void *c;
    dmacoh_dma_addr_t hh;

    fx_init(&f);
    for (size_t size = 16; size <= 65536; size += size < 4096 ? 1 : 7) {
        size_t stride = (size + 7) & ~(size_t)7, n = 0;

        p = NULL;
        T_OK(dmacoh_pool_create(&p, "every", &f.dev, size, 0, 0, NULL));
        while (dmacoh_pool_alloc(p, 0, &c, &hh) == 0)
            n++;
        if (n * 100 < (REGION / stride) * 95)
            t_fail(__FILE__, __LINE__, "%zu-byte blocks: %zu held of %zu that fit (< 95 %%)", size,
                   n, (size_t)(REGION / stride));
        if (size % 8 == 0)
            T_ASSERT(n * 100 >= (REGION / size) * 95);
        T_OK(dmacoh_pool_destroy(p, DMACOH_POOL_DESTROY_FORCE));
        T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    }
    fx_fini(&f);
}

/* Where the rule, not the pool, limits what fits, exactly that many:
 *  - 1536-byte blocks that must not cross 4 KiB: two per 4 KiB, 128 over 256 KiB (75 %);
 *  - 100-byte blocks aligned to 64: a stride of 128 bytes, 2048 over 256 KiB (78 %);
 *  - 3000-byte blocks aligned to 2048: a stride of 4096, 64 over 256 KiB (73 %). */
static void pack_rule_bound(void)
{
    static const size_t shapes[][4] = {
        {1536, 0, 4096, 128}, {100, 64, 0, 2048}, {3000, 2048, 0, 64}};

    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        size_t size = shapes[s][0], align = shapes[s][1], boundary = shapes[s][2], n;
        struct dmacoh_pool *p = NULL;
        struct fx f;

        fx_init(&f);
        T_OK(dmacoh_pool_create(&p, "rule", &f.dev, size, align, boundary, NULL));
        n = fill_up(p, &f, size, align ? align : 8, boundary);
        T_EQ_U64(n, shapes[s][3]);
        misuse_refused(p, n, size);
        free_all(p, n);
        T_EQ_U64(fill_up(p, &f, size, align ? align : 8, boundary), n);
        free_all(p, n);
        T_OK(dmacoh_pool_destroy(p, 0));
        fx_fini(&f);
    }
}

/* A region whose first page is taken cannot hold eight 32 KiB chunks of 1536-byte blocks:
 * seven fit above it, and the pool fills pages 1 to 7 with chunks of 16, 8 and 4 KiB (10, 5
 * and 2 blocks): 164 blocks of the 168 that fit in 252 KiB. Frees find every block's chunk
 * among the four chunk sizes, and misuse is refused in each. */
static void pack_region_end(void)
{
    struct dmacoh_pool_stats ps;
    struct dmacoh_pool *p = NULL;
    void *first;
    dmacoh_dma_addr_t fh;
    size_t n;
    struct fx f;

    fx_init(&f);
    T_OK(dmacoh_alloc_coherent(&f.dev, PG, 0, 0, &first, &fh));
    T_EQ_U64(fh, DEV_A);
    T_OK(dmacoh_pool_create(&p, "end", &f.dev, 1536, 0, 0, NULL));
    T_OK(dmacoh_pool_get_stats(p, &ps));
    T_EQ_U64(ps.chunk_size, 32768);
    T_EQ_U64(ps.per_chunk, 21);
    n = fill_up(p, &f, 1536, 8, 0);
    T_EQ_U64(n, 7 * 21 + 10 + 5 + 2);
    T_OK(dmacoh_pool_get_stats(p, &ps));
    T_EQ_U64(ps.chunks, 10);
    /* Misuse in a chunk of each size: blocks 0 (32 KiB), 147 (16 KiB), 157 (8 KiB), 162. */
    for (size_t i = 0; i < n; i++) {
        dmacoh_dma_addr_t c = h[i] & ~(uint64_t)(PG - 1);

        if (c != DEV_A + PG && c != DEV_A + 2 * PG && c != DEV_A + 4 * PG && c != DEV_A + 8 * PG)
            continue;
        T_OK(dmacoh_pool_free(p, cpu[i], h[i]));
        T_ERR(dmacoh_pool_free(p, cpu[i], h[i]), DMACOH_EFAULT);
        T_ERR(dmacoh_pool_free(p, (char *)cpu[i] + 512, h[i] + 512), DMACOH_EFAULT);
        T_OK(dmacoh_pool_alloc(p, 0, &cpu[i], &h[i]));
    }
    /* The taken page is no block of the pool. */
    T_ERR(dmacoh_pool_free(p, first, fh), DMACOH_EFAULT);
    free_all(p, n);
    T_EQ_U64(fill_up(p, &f, 1536, 8, 0), n);
    free_all(p, n);
    T_OK(dmacoh_pool_destroy(p, 0));
    T_OK(dmacoh_free_coherent(&f.dev, PG, first, fh));
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    fx_fini(&f);
}

static const struct t_case cases[] = {
    T_CASE(pack_sizes),
    T_CASE(pack_every_size),
    T_CASE(pack_rule_bound),
    T_CASE(pack_region_end),
};

T_MAIN(cases)
