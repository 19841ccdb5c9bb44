/* SPDX-License-Identifier: MIT */
/*
 * test_clean.c - clean memory is not zeroed again. A region whose platform says the memory
 * reads zero when declared hands its first allocations out without writing them; a freed
 * block is dirty and zeroed when handed out again; dmacoh_region_scrub() zeroes dirty free
 * granules, after which allocations skip them again; a block that is partly clean has
 * exactly its dirty granules zeroed. On the simulated platform, wrapped so that its map op
 * says "zero" (the flag forced on): the backing memory is poisoned through the simulator's
 * bus first, so poison still there after an allocation proves the library did not write it.
 * MAP and IO regions, debug mode (which zeroes everything itself, and where a scrub leaves
 * poisoned freed memory alone), and dmacoh_check() catching a wrong count. Clean memory is
 * tracked per group of DMACOH__CLEAN_G (4) granules: a free makes its groups dirty, the free
 * granules beside the block in them included; a scrub budget may end inside a group, and the
 * next scrub goes on there unless a free touched that group in between.
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/debug.h>
#include <dmacoh/sim.h>

#include "t.h"
#include "core/internal.h" /* struct dmacoh__pool: the clean bitmap, for the checker test */

#include <stdlib.h>
#include <string.h>

#define PG      UINT64_C(0x1000)
#define MEM_BUS UINT64_C(0x100000000)
#define MEM_SZ  (UINT64_C(1) << 21) /* 512 granules of 4 KiB: two words of clean bits */
#define POISON  0xa5

struct env {
    struct dmacoh_sim *sim;
    struct dmacoh_platform zp; /* the simulator, its map op saying "zero" */
    struct dmacoh_platform_ops zops;
    struct dmacoh_device dev;
    unsigned char *buf; /* MEM_SZ bytes read back over the bus */
};

static struct env *cur;
static const struct dmacoh_declare_opts *setup_opts; /* of the next setup() */
static bool all_clean[MEM_SZ / PG];

static int zero_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t daddr,
                    uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    int r = dmacoh_sim_platform(cur->sim)->ops->map(ctx, bus, size, daddr, congruence, want, out);

    if (r == 0)
        out->zeroed = true;
    return r;
}

/* A simulator with one memory of MEM_SZ bytes offering `modes`, poisoned, and dev on it
 * with the memory declared; `forced`: the platform says the memory is zero. */
static void setup(struct env *e, int modes, bool forced)
{
    struct dmacoh_sim_memory m = {MEM_BUS, MEM_SZ, 0, false, 0};
    struct dmacoh_platform *sp;
    int granted = 0;

    memset(e, 0, sizeof(*e));
    cur = e;
    m.modes = modes;
    T_OK(dmacoh_sim_create(NULL, &e->sim));
    T_OK(dmacoh_sim_add_memory(e->sim, &m));
    e->buf = malloc(MEM_SZ);
    T_ASSERT(e->buf != NULL);
    memset(e->buf, POISON, MEM_SZ);
    T_OK(dmacoh_sim_bus_write(e->sim, MEM_BUS, e->buf, MEM_SZ));
    sp = dmacoh_sim_platform(e->sim);
    if (forced) {
        e->zops = *sp->ops;
        e->zops.map = zero_map;
        T_OK(dmacoh_platform_init(&e->zp, &e->zops, sp->ctx));
        sp = &e->zp;
    }
    T_OK(dmacoh_device_init(&e->dev, "clean", NULL, sp));
    T_OK(dmacoh_declare_coherent_memory(&e->dev, MEM_BUS, MEM_BUS, MEM_SZ,
                                        modes | DMACOH_MEMORY_EXCLUSIVE, setup_opts, &granted));
    setup_opts = NULL;
    T_ASSERT(dmacoh_check(&e->dev));
}

static void teardown(struct env *e)
{
    T_ASSERT(dmacoh_check(&e->dev));
    T_OK(dmacoh_release_coherent_memory(&e->dev, 0));
    T_OK(dmacoh_device_fini(&e->dev));
    if (e->zp.ops)
        T_OK(dmacoh_platform_fini(&e->zp));
    T_OK(dmacoh_sim_destroy(e->sim));
    free(e->buf);
    cur = NULL;
}

static void poison(struct env *e)
{
    memset(e->buf, POISON, MEM_SZ);
    T_OK(dmacoh_sim_bus_write(e->sim, MEM_BUS, e->buf, MEM_SZ));
}

/* Reads the memory back and checks granules [g0, g1): POISON where clean(g) (not written),
 * zero elsewhere. clean NULL: all zero. */
static void expect(struct env *e, uint64_t g0, uint64_t g1, const bool *clean)
{
    T_OK(dmacoh_sim_bus_read(e->sim, MEM_BUS, e->buf, MEM_SZ));
    for (uint64_t g = g0; g < g1; g++) {
        unsigned char want = clean && clean[g] ? POISON : 0;

        for (uint64_t b = 0; b < PG; b++)
            if (e->buf[g * PG + b] != want)
                t_fail(__FILE__, __LINE__, "granule %llu byte %llu is %#x, expected %#x",
                       (unsigned long long)g, (unsigned long long)b, e->buf[g * PG + b], want);
    }
}

static void *alloc_all(struct env *e, unsigned flags)
{
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;

    T_OK(dmacoh_alloc_coherent(&e->dev, MEM_SZ, flags, 0, &cpu, &h));
    T_EQ_U64(h, MEM_BUS);
    return cpu;
}

/* Declared clean: not written; freed: dirty, zeroed; scrubbed: clean again, not written. */
static void cycle(int modes)
{
    struct env e;
    uint64_t s = 1;
    void *cpu;

    for (unsigned g = 0; g < MEM_SZ / PG; g++)
        all_clean[g] = true;
    setup(&e, modes, true);
    cpu = alloc_all(&e, 0);
    expect(&e, 0, MEM_SZ / PG, all_clean);
    T_ASSERT(dmacoh_check(&e.dev));
    T_OK(dmacoh_free_coherent(&e.dev, MEM_SZ, cpu, MEM_BUS));
    T_ASSERT(dmacoh_check(&e.dev));
    cpu = alloc_all(&e, 0); /* dirty now: zeroed */
    expect(&e, 0, MEM_SZ / PG, NULL);
    T_OK(dmacoh_free_coherent(&e.dev, MEM_SZ, cpu, MEM_BUS));
    poison(&e); /* what a device may have left */
    T_OK(dmacoh_region_scrub(&e.dev, UINT64_MAX, &s));
    T_EQ_U64(s, MEM_SZ);
    expect(&e, 0, MEM_SZ / PG, NULL);
    T_ASSERT(dmacoh_check(&e.dev));
    T_OK(dmacoh_region_scrub(&e.dev, UINT64_MAX, &s)); /* nothing left to do */
    T_EQ_U64(s, 0);
    poison(&e); /* to see that the next allocation does not write */
    cpu = alloc_all(&e, 0);
    expect(&e, 0, MEM_SZ / PG, all_clean);
    T_OK(dmacoh_free_coherent(&e.dev, MEM_SZ, cpu, MEM_BUS));
    teardown(&e);
}

static void map_region(void)
{
    cycle(DMACOH_MEMORY_MAP);
}

static void io_region(void)
{
    cycle(DMACOH_MEMORY_IO);
}

/* Clean and dirty granules mixed inside one block, word boundaries crossed, the block starting
 * at a granule that is not a multiple of 64: exactly the dirty ones are zeroed. */
static void partial(void)
{
    enum { N = MEM_SZ / PG, OCC = 5 };
    static bool clean[N];
    struct env e;
    uint64_t s = 0, b;
    void *cpu = NULL, *occ = NULL;
    dmacoh_dma_addr_t h = 0;

    struct dmacoh_declare_opts o = {0};

    o.align_cap = PG; /* blocks may start at any granule */
    setup_opts = &o;
    setup(&e, DMACOH_MEMORY_MAP, false);           /* nothing clean */
    T_OK(dmacoh_region_scrub(&e.dev, 3 * PG, &s)); /* granules 0..2: group 0 not finished */
    T_EQ_U64(s, 3 * PG);
    T_EQ_U64(e.dev.pool->nclean, 0);
    T_OK(dmacoh_region_scrub(&e.dev, 70 * PG, &s)); /* 3..72: groups 0..17 clean */
    T_EQ_U64(s, 70 * PG);
    T_EQ_U64(e.dev.pool->nclean, 72);
    /* A dirty hole in the clean run: a block handed out (not zeroed) and freed. Its groups
     * are dirty then, the free granules beside it in them included. */
    T_OK(dmacoh_alloc_coherent(&e.dev, 10 * PG, DMACOH_ALLOC_NOZERO, 0, &cpu, &h));
    b = (h - MEM_BUS) / PG;
    T_ASSERT(b + 10 <= 72);
    T_OK(dmacoh_free_coherent(&e.dev, 10 * PG, cpu, h));
    /* The last scrub stopped inside group 18 (granule 73), and no free touched that group:
     * this one goes on from there, 73..122, and finishes groups 18..29. */
    T_OK(dmacoh_region_scrub(&e.dev, 50 * PG, &s));
    T_EQ_U64(s, 50 * PG);
    T_ASSERT(dmacoh_check(&e.dev));
    poison(&e);
    for (unsigned g = 0; g < N; g++)
        clean[g] = g < 120 && (g / 4 < b / 4 || g / 4 > (b + 9) / 4);
    T_EQ_U64(e.dev.pool->nclean, 120 - 4 * ((b + 9) / 4 - b / 4 + 1));
    /* Occupied granules 0..4: the block below starts at granule 5. */
    T_OK(dmacoh_mark_declared_memory_occupied(&e.dev, MEM_BUS, OCC * PG, &occ));
    T_ASSERT(dmacoh_check(&e.dev));
    T_OK(dmacoh_alloc_coherent(&e.dev, MEM_SZ - OCC * PG, 0, 0, &cpu, &h));
    T_EQ_U64(h, MEM_BUS + OCC * PG);
    expect(&e, OCC, N, clean);
    T_ASSERT(dmacoh_check(&e.dev));
    T_OK(dmacoh_free_coherent(&e.dev, MEM_SZ - OCC * PG, cpu, h));
    /* Everything free but the occupied range is dirty now: a scrub does all of it. */
    T_OK(dmacoh_region_scrub(&e.dev, UINT64_MAX, &s));
    T_EQ_U64(s, MEM_SZ - OCC * PG);
    T_EQ_U64(e.dev.pool->nclean, N - OCC);
    T_ASSERT(dmacoh_check(&e.dev));
    teardown(&e);
}

/* A free dirties the groups it touches: a one-granule free costs its three free neighbours
 * their clean state; the groups further on stay clean. */
static void free_dirties_group(void)
{
    static bool clean[8];
    struct env e;
    void *a = NULL, *b = NULL, *cpu = NULL;
    dmacoh_dma_addr_t ha = 0, hb = 0, h = 0;

    setup(&e, DMACOH_MEMORY_MAP, true);
    T_OK(dmacoh_alloc_coherent(&e.dev, PG, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&e.dev, PG, 0, 0, &b, &hb));
    T_EQ_U64(ha, MEM_BUS); /* first fit in a fresh region: granules 0 and 1 */
    T_EQ_U64(hb, MEM_BUS + PG);
    T_EQ_U64(e.dev.pool->nclean, MEM_SZ / PG - 2);
    memset(a, 0x11, PG);
    T_OK(dmacoh_free_coherent(&e.dev, PG, a, ha));
    T_EQ_U64(e.dev.pool->nclean, MEM_SZ / PG - 4); /* 0, 2 and 3 free and dirty */
    T_OK(dmacoh_free_coherent(&e.dev, PG, b, hb));
    T_EQ_U64(e.dev.pool->nclean, MEM_SZ / PG - 4);
    T_ASSERT(dmacoh_check(&e.dev));
    poison(&e);
    T_OK(dmacoh_alloc_coherent(&e.dev, 8 * PG, 0, 0, &cpu, &h));
    T_EQ_U64(h, MEM_BUS);
    for (unsigned g = 0; g < 8; g++)
        clean[g] = g >= 4;
    expect(&e, 0, 8, clean);
    T_OK(dmacoh_free_coherent(&e.dev, 8 * PG, cpu, h));
    teardown(&e);
}

/* Budgets smaller than a group still make progress: one granule per call cleans the region. */
static void small_budgets(void)
{
    struct env e;
    uint64_t s = 0, calls = 0;
    void *cpu;

    setup(&e, DMACOH_MEMORY_MAP, false);
    do {
        T_OK(dmacoh_region_scrub(&e.dev, (calls & 1) ? PG : 3 * PG, &s));
        calls++;
        T_ASSERT(calls <= MEM_SZ / PG);
    } while (s);
    T_EQ_U64(e.dev.pool->nclean, MEM_SZ / PG);
    T_ASSERT(dmacoh_check(&e.dev));
    poison(&e);
    cpu = alloc_all(&e, 0);
    expect(&e, 0, MEM_SZ / PG, all_clean);
    T_OK(dmacoh_free_coherent(&e.dev, MEM_SZ, cpu, MEM_BUS));
    teardown(&e);
}

/* Budgets below a group make progress on a region where blocks are freed between the calls,
 * as long as the frees are in other groups: each scrub goes on where the last one stopped. */
static void small_budgets_beside_frees(void)
{
    enum { N = MEM_SZ / PG };
    static void *cpu[N];
    static dmacoh_dma_addr_t h[N];
    struct env e;
    uint64_t s = 0;
    struct dmacoh_declare_opts o = {0};

    o.align_cap = PG;
    setup_opts = &o;
    setup(&e, DMACOH_MEMORY_MAP, false);
    for (unsigned g = 0; g < N; g++) {
        T_OK(dmacoh_alloc_coherent(&e.dev, PG, DMACOH_ALLOC_NOZERO, 0, &cpu[g], &h[g]));
        T_EQ_U64(h[g], MEM_BUS + g * PG);
    }
    for (unsigned g = 0; g < 4; g++)
        T_OK(dmacoh_free_coherent(&e.dev, PG, cpu[g], h[g]));
    /* One page per scrub, a page of another group freed after each. */
    for (unsigned k = 0; k < 4; k++) {
        T_OK(dmacoh_region_scrub(&e.dev, PG, &s));
        T_EQ_U64(s, PG);
        T_OK(dmacoh_free_coherent(&e.dev, PG, cpu[8 + k], h[8 + k]));
    }
    T_EQ_U64(e.dev.pool->nclean, 4); /* group 0: all four zeroed, once each */
    T_ASSERT(dmacoh_check(&e.dev));
    for (unsigned g = 4; g < N; g++)
        if (g < 8 || g >= 12)
            T_OK(dmacoh_free_coherent(&e.dev, PG, cpu[g], h[g]));
    teardown(&e);
}

/* A scrub stopped inside a group starts the group again when a free touched it in between:
 * granule 0, zeroed, then handed out, written and freed, must not pass for clean when the
 * next scrub finishes the group from granule 2. */
static void scrub_restarts_group(void)
{
    struct env e;
    uint64_t s = 0;
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;

    setup(&e, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_region_scrub(&e.dev, 2 * PG, &s)); /* granules 0 and 1 */
    T_EQ_U64(s, 2 * PG);
    T_OK(dmacoh_alloc_coherent(&e.dev, PG, DMACOH_ALLOC_NOZERO, 0, &cpu, &h));
    T_EQ_U64(h, MEM_BUS);
    memset(cpu, 0x11, PG);
    T_OK(dmacoh_free_coherent(&e.dev, PG, cpu, h));
    T_OK(dmacoh_region_scrub(&e.dev, 2 * PG, &s)); /* 0 and 1 again */
    T_OK(dmacoh_region_scrub(&e.dev, 2 * PG, &s)); /* 2 and 3: group 0 clean */
    T_EQ_U64(e.dev.pool->nclean, 4);
    T_ASSERT(dmacoh_check(&e.dev));
    T_OK(dmacoh_alloc_coherent(&e.dev, 4 * PG, 0, 0, &cpu, &h));
    T_EQ_U64(h, MEM_BUS);
    expect(&e, 0, 4, NULL); /* zero, not the 0x11 the driver left in granule 0 */
    T_OK(dmacoh_free_coherent(&e.dev, 4 * PG, cpu, h));
    teardown(&e);
}

/* NOZERO takes clean granules too: they are dirty once handed out. */
static void nozero_dirties(void)
{
    struct env e;
    void *cpu;

    setup(&e, DMACOH_MEMORY_MAP, true);
    cpu = alloc_all(&e, DMACOH_ALLOC_NOZERO);
    memset(cpu, 0x11, MEM_SZ); /* the driver and its device write */
    T_OK(dmacoh_free_coherent(&e.dev, MEM_SZ, cpu, MEM_BUS));
    cpu = alloc_all(&e, 0);
    expect(&e, 0, MEM_SZ / PG, NULL);
    T_OK(dmacoh_free_coherent(&e.dev, MEM_SZ, cpu, MEM_BUS));
    teardown(&e);
}

/* Debug mode zeroes every block itself; a scrub leaves poisoned freed memory alone. */
static void debug_mode(void)
{
    struct env e;
    struct dmacoh_debug_stats st;
    uint64_t s = 1, errs;
    void *cpu;

    T_OK(dmacoh_debug_get_stats(&st));
    errs = st.poison_errors;
    T_OK(dmacoh_debug_set(DMACOH_DEBUG_RECORD | DMACOH_DEBUG_POISON)); /* before declaring */
    setup(&e, DMACOH_MEMORY_MAP, true);
    cpu = alloc_all(&e, 0);
    expect(&e, 0, MEM_SZ / PG, NULL);
    T_OK(dmacoh_free_coherent(&e.dev, MEM_SZ, cpu, MEM_BUS));
    T_OK(dmacoh_region_scrub(&e.dev, UINT64_MAX, &s));
    T_EQ_U64(s, 0);
    T_OK(dmacoh_sim_bus_read(e.sim, MEM_BUS, e.buf, MEM_SZ));
    T_EQ_INT(e.buf[0], DMACOH_DEBUG_POISON_BYTE);
    T_EQ_INT(e.buf[MEM_SZ - 1], DMACOH_DEBUG_POISON_BYTE);
    cpu = alloc_all(&e, 0);
    expect(&e, 0, MEM_SZ / PG, NULL);
    T_OK(dmacoh_free_coherent(&e.dev, MEM_SZ, cpu, MEM_BUS));
    T_ASSERT(dmacoh_check(&e.dev));
    T_OK(dmacoh_debug_get_stats(&st));
    T_EQ_U64(st.poison_errors, errs);
    teardown(&e);
    T_OK(dmacoh_debug_set(0));
}

/* dmacoh_check covers the bitmap: the count of free granules in clean groups. A group whose
 * granules are all in use may stay marked (it says nothing then). */
static void check_catches(void)
{
    struct env e;
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;
    struct dmacoh__pool *pool;
    uint64_t G, bit;

    setup(&e, DMACOH_MEMORY_MAP, true);
    pool = e.dev.pool;
    T_EQ_U64(pool->nclean, MEM_SZ / PG);
    T_OK(dmacoh_alloc_coherent(&e.dev, PG, 0, 0, &cpu, &h));
    T_EQ_U64(pool->nclean, MEM_SZ / PG - 1);
    T_ASSERT(dmacoh_check(&e.dev));
    G = (h - MEM_BUS) / PG / 4;
    bit = (uint64_t)1 << (G & 63);
    T_ASSERT(pool->clean[G >> 6] & bit); /* its three neighbours are still clean */
    pool->nclean++;
    T_ASSERT(!dmacoh_check(&e.dev));
    T_ASSERT(t_log_find("clean bitmap counts"));
    pool->nclean--;
    T_ASSERT(dmacoh_check(&e.dev));
    T_OK(dmacoh_free_coherent(&e.dev, PG, cpu, h));
    T_EQ_U64(pool->nclean, MEM_SZ / PG - 4);
    T_ASSERT(!(pool->clean[G >> 6] & bit));
    pool->clean[G >> 6] |= bit; /* a dirty group marked clean: four free granules too many */
    T_ASSERT(!dmacoh_check(&e.dev));
    T_ASSERT(t_log_find("counts 512 free granules against 508"));
    pool->clean[G >> 6] &= ~bit;
    T_ASSERT(dmacoh_check(&e.dev));
    teardown(&e);
}

/* A clean block that starts inside a group and crosses words of the clean bitmap: none of it
 * is written (the group bits are read 17 at a time, across a word where needed). */
static void misaligned_clean_block(void)
{
    enum { N = MEM_SZ / PG, OCC = 5 };
    struct env e;
    void *cpu = NULL, *occ = NULL;
    dmacoh_dma_addr_t h = 0;
    struct dmacoh_declare_opts o = {0};

    for (unsigned g = 0; g < N; g++)
        all_clean[g] = true;
    o.align_cap = PG;
    setup_opts = &o;
    setup(&e, DMACOH_MEMORY_MAP, true);
    T_OK(dmacoh_mark_declared_memory_occupied(&e.dev, MEM_BUS, OCC * PG, &occ));
    T_EQ_U64(e.dev.pool->nclean, N - OCC);
    T_OK(dmacoh_alloc_coherent(&e.dev, MEM_SZ - OCC * PG, 0, 0, &cpu, &h));
    T_EQ_U64(h, MEM_BUS + OCC * PG);
    T_EQ_U64(e.dev.pool->nclean, 0);
    expect(&e, OCC, N, all_clean);
    T_OK(dmacoh_free_coherent(&e.dev, MEM_SZ - OCC * PG, cpu, h));
    T_EQ_U64(e.dev.pool->nclean, 0);
    T_ASSERT(dmacoh_check(&e.dev));
    teardown(&e);
}

/* An occupied range is the device's: no longer clean. */
static void occupied_dirty(void)
{
    struct env e;
    void *occ = NULL;

    setup(&e, DMACOH_MEMORY_MAP, true);
    T_OK(dmacoh_mark_declared_memory_occupied(&e.dev, MEM_BUS + 3 * PG, 70 * PG, &occ));
    T_EQ_U64(e.dev.pool->nclean, MEM_SZ / PG - 70);
    T_ASSERT(dmacoh_check(&e.dev));
    teardown(&e);
}

static void errors(void)
{
    struct env e;
    struct dmacoh_device bare;
    uint64_t s = 7;

    T_ERR(dmacoh_region_scrub(NULL, PG, &s), DMACOH_EINVAL);
    T_EQ_U64(s, 0);
    T_ASSERT(t_log_find("scrub: not an initialised device"));
    setup(&e, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&bare, "bare", NULL, dmacoh_sim_platform(e.sim)));
    T_ERR(dmacoh_region_scrub(&bare, PG, NULL), DMACOH_ENODEV);
    T_ASSERT(t_log_find("no region of its own"));
    T_OK(dmacoh_device_fini(&bare));
    T_OK(dmacoh_region_scrub(&e.dev, 0, &s)); /* a budget of 0 does nothing */
    T_EQ_U64(s, 0);
    T_OK(dmacoh_region_scrub(&e.dev, PG - 1, NULL)); /* less than a granule: nothing */
    T_OK(dmacoh_region_scrub(&e.dev, PG, &s));
    T_EQ_U64(s, PG);
    teardown(&e);
}

static const struct t_case cases[] = {
    T_CASE(map_region),
    T_CASE(io_region),
    T_CASE(partial),
    T_CASE(free_dirties_group),
    T_CASE(small_budgets),
    T_CASE(small_budgets_beside_frees),
    T_CASE(scrub_restarts_group),
    T_CASE(nozero_dirties),
    T_CASE(debug_mode),
    T_CASE(check_catches),
    T_CASE(misaligned_clean_block),
    T_CASE(occupied_dirty),
    T_CASE(errors),
};

T_MAIN(cases)
