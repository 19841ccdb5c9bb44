/* SPDX-License-Identifier: MIT */
/*
 * test_pages.c - the page allocator (src/core/pages.c) on its own, against a reference model.
 *
 * The model keeps one owner per granule. Every allocation must be aligned, inside the limit,
 * on granules the model says are free; every refusal must be one the allocator is allowed:
 * no free run long enough to guarantee an aligned fit (n + align - 1 granules, rounded up to a
 * power of two: pages.c's bounded probing looks at every such run's class). The invariant
 * checker runs every 1000 steps. DMACOH_TEST_QUICK=1 (set for the valgrind pass) shortens the
 * long cases.
 */
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c))                                                                                  \
            t_fail(__FILE__, __LINE__, __VA_ARGS__);                                               \
    } while (0)

static bool quick(void)
{
    const char *v = getenv("DMACOH_TEST_QUICK");

    return v && *v == '1';
}

static uint64_t rnd(uint64_t *s, uint64_t n)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s % n;
}

static struct dmacoh__pa *new_pa(uint64_t n, uint64_t base_g)
{
    uint64_t bytes = dmacoh__pa_state_size(n);
    struct dmacoh__pa *pa;

    T_ASSERT(bytes != 0 && bytes <= SIZE_MAX);
    pa = calloc(1, (size_t)bytes);
    T_ASSERT(pa != NULL);
    dmacoh__pa_init(pa, n, base_g);
    T_ASSERT(dmacoh__pa_check(pa));
    return pa;
}

static uint64_t align_for(uint64_t n, uint64_t cap)
{
    uint64_t a = dmacoh__pow2_ceil(n);

    return (cap && a > cap) ? cap : a;
}

/* ---- the model ---- */

struct model {
    uint64_t n, base_g;
    uint32_t *owner; /* 0 free, ~0u occupied, else allocation id */
    struct live {
        uint64_t off, len;
    } * live;
    uint32_t nlive;
};

static uint64_t model_longest(const struct model *m, uint64_t limit)
{
    uint64_t best = 0, cur = 0, end = limit < m->n ? limit : m->n;

    for (uint64_t i = 0; i < end; i++) {
        cur = m->owner[i] ? 0 : cur + 1;
        if (cur > best)
            best = cur;
    }
    return best;
}

/* One random step: alloc (sizes skewed small), free a random live block, or occupy. */
static void step(struct dmacoh__pa *pa, struct model *m, uint64_t *rs, uint64_t cap, uint64_t limit,
                 uint64_t maxn)
{
    uint64_t kind = rnd(rs, 100);

    if (kind < 52 || m->nlive == 0) {
        uint64_t r = rnd(rs, 100), n, a, off = 0;
        int e;

        n = r < 60 ? 1 : r < 85 ? 2 + rnd(rs, 15) : r < 95 ? 17 + rnd(rs, 48) : 1 + rnd(rs, maxn);
        a = align_for(n, cap);
        e = dmacoh__pa_alloc(pa, n, a, limit, &off);
        if (e == 0) {
            CHECK(((m->base_g + off) & (a - 1)) == 0, "n %llu at %llu not aligned to %llu",
                  (unsigned long long)n, (unsigned long long)off, (unsigned long long)a);
            CHECK(off + n <= m->n && off + n <= limit, "n %llu at %llu past the end or limit",
                  (unsigned long long)n, (unsigned long long)off);
            for (uint64_t i = off; i < off + n; i++)
                CHECK(m->owner[i] == 0, "granule %llu handed out while owned by %u",
                      (unsigned long long)i, (unsigned)m->owner[i]);
            for (uint64_t i = off; i < off + n; i++)
                m->owner[i] = m->nlive + 1;
            m->live[m->nlive].off = off;
            m->live[m->nlive++].len = n;
        } else {
            uint64_t sure = dmacoh__pow2_ceil(n + a - 1), longest = model_longest(m, limit);

            T_EQ_INT(e, DMACOH_ENOMEM);
            /* Without a limit, a run long enough to hold an aligned placement wherever it
             * starts is always found. (Under a limit only the lowest runs of each class are
             * looked at: no such promise.) */
            if (limit >= m->n)
                CHECK(longest < sure,
                      "n %llu (align %llu) refused with a free run of %llu granules",
                      (unsigned long long)n, (unsigned long long)a, (unsigned long long)longest);
        }
    } else if (kind < 98) {
        uint32_t k = (uint32_t)rnd(rs, m->nlive);
        struct live b = m->live[k];
        uint32_t moved_id = m->nlive;

        T_OK(dmacoh__pa_free(pa, b.off, b.len, true));
        for (uint64_t i = b.off; i < b.off + b.len; i++)
            m->owner[i] = 0;
        m->live[k] = m->live[--m->nlive];
        if (k != m->nlive) { /* renumber the moved block's granules */
            for (uint64_t i = m->live[k].off; i < m->live[k].off + m->live[k].len; i++) {
                CHECK(m->owner[i] == moved_id, "owner map out of step");
                m->owner[i] = k + 1;
            }
        }
    } else {
        uint64_t off = rnd(rs, m->n), n = 1 + rnd(rs, 4), i;
        int e;
        bool free_range = off + n <= m->n;

        for (i = off; free_range && i < off + n; i++)
            free_range = m->owner[i] == 0;
        e = dmacoh__pa_reserve(pa, off, n);
        if (off + n > m->n) {
            T_EQ_INT(e, DMACOH_ERANGE);
        } else if (!free_range) {
            T_EQ_INT(e, DMACOH_EBUSY);
        } else {
            T_OK(e);
            for (i = off; i < off + n; i++)
                m->owner[i] = ~0u;
        }
    }
}

static void run_model(uint64_t n, uint64_t base_g, uint64_t cap, uint64_t limit, uint64_t steps,
                      uint64_t seed)
{
    struct dmacoh__pa *pa = new_pa(n, base_g);
    struct model m = {n, base_g, calloc((size_t)n, sizeof(uint32_t)),
                      calloc((size_t)n + 1, sizeof(struct live)), 0};
    uint64_t rs = seed, used = 0;

    T_ASSERT(m.owner && m.live);
    for (uint64_t s = 1; s <= steps; s++) {
        step(pa, &m, &rs, cap, limit, 64);
        if (s % 1000 == 0) {
            CHECK(dmacoh__pa_check(pa), "invariant broken after step %llu", (unsigned long long)s);
            used = 0;
            for (uint32_t k = 0; k < m.nlive; k++)
                used += m.live[k].len;
            T_EQ_U64(pa->used, used);
            T_EQ_U64(pa->live, m.nlive);
            T_EQ_U64(dmacoh__pa_largest_free(pa), model_longest(&m, n));
        }
    }
    T_ASSERT(dmacoh__pa_check(pa));
    /* Everything back: one free run again. */
    while (m.nlive) {
        m.nlive--;
        T_OK(dmacoh__pa_free(pa, m.live[m.nlive].off, m.live[m.nlive].len, true));
    }
    T_ASSERT(dmacoh__pa_check(pa));
    T_EQ_U64(pa->used, 0);
    free(m.owner);
    free(m.live);
    free(pa);
}

/* 10^6 random operations on 4096 granules (10^5 under valgrind), region base not aligned. */
static void random_sequence_against_model(void)
{
    run_model(4096, 0x12345, 0, UINT64_MAX, quick() ? 100000 : 1000000, 0x5eed1);
}

/* The same with a DMA limit below the end, a capped alignment, and odd sizes. */
static void random_sequence_limit_cap_odd_size(void)
{
    run_model(3000, 7, 0, 2100, quick() ? 20000 : 200000, 0x5eed2);
    run_model(2053, 0x100001, 8, UINT64_MAX, quick() ? 20000 : 200000, 0x5eed3);
    run_model(1, 0, 0, UINT64_MAX, 2000, 0x5eed4);
    run_model(65, 3, 0, UINT64_MAX, 20000, 0x5eed5);
}

/* Absolute alignment on random bases, including bases aligned to nothing large. */
static void alignment_over_random_bases(void)
{
    uint64_t rs = 0xa1;

    for (unsigned t = 0; t < 200; t++) {
        uint64_t base = rnd(&rs, 1ull << 40), n = 64 + rnd(&rs, 2000), off = 0;
        struct dmacoh__pa *pa = new_pa(n, base);

        for (unsigned k = 0; k < 50; k++) {
            uint64_t want = 1 + rnd(&rs, 100), a = dmacoh__pow2_ceil(want);

            if (dmacoh__pa_alloc(pa, want, a, UINT64_MAX, &off) == 0)
                CHECK(((base + off) & (a - 1)) == 0, "base %llu off %llu align %llu",
                      (unsigned long long)base, (unsigned long long)off, (unsigned long long)a);
        }
        T_ASSERT(dmacoh__pa_check(pa));
        free(pa);
    }
}

/* Only n granules are taken: the tail of the aligned block serves the next requests. */
static void tail_reuse(void)
{
    struct dmacoh__pa *pa = new_pa(16, 0);
    uint64_t a = 0, b = 0, c = 0;

    T_OK(dmacoh__pa_alloc(pa, 5, 8, UINT64_MAX, &a)); /* [0, 5) of the block [0, 8) */
    T_EQ_U64(a, 0);
    T_OK(dmacoh__pa_alloc(pa, 3, 4, UINT64_MAX, &b)); /* would need 4-alignment: 12 or 8 */
    T_ASSERT(b == 8 || b == 12);
    T_OK(dmacoh__pa_alloc(pa, 1, 1, UINT64_MAX, &c)); /* the tail granules 5..7 */
    T_ASSERT(c >= 5 && c < 8);
    T_EQ_U64(pa->used, 9);
    T_ASSERT(dmacoh__pa_check(pa));
    free(pa);
}

/* Full, then freed in random order, then full again with the same count. */
static void exhaustion_and_recovery(void)
{
    uint64_t n = 1000, off, rs = 7, *offs = calloc(1000, sizeof(uint64_t));
    struct dmacoh__pa *pa = new_pa(n, 3);

    T_ASSERT(offs != NULL);
    for (unsigned round = 0; round < 3; round++) {
        for (uint64_t i = 0; i < n; i++)
            T_OK(dmacoh__pa_alloc(pa, 1, 1, UINT64_MAX, &offs[i]));
        T_ERR(dmacoh__pa_alloc(pa, 1, 1, UINT64_MAX, &off), DMACOH_ENOMEM);
        T_EQ_U64(dmacoh__pa_largest_free(pa), 0);
        T_ASSERT(dmacoh__pa_check(pa));
        for (uint64_t left = n; left; left--) {
            uint64_t k = rnd(&rs, left);

            T_OK(dmacoh__pa_free(pa, offs[k], 1, true));
            offs[k] = offs[left - 1];
        }
        T_EQ_U64(dmacoh__pa_largest_free(pa), n);
        T_ASSERT(dmacoh__pa_check(pa));
    }
    free(offs);
    free(pa);
}

/* Checked frees: each wrong call is refused and changes nothing. */
static void checked_frees(void)
{
    struct dmacoh__pa *pa = new_pa(64, 0);
    uint64_t a = 0, b = 0;

    T_OK(dmacoh__pa_alloc(pa, 3, 4, UINT64_MAX, &a));
    T_OK(dmacoh__pa_reserve(pa, 40, 2));
    T_ERR(dmacoh__pa_free(pa, a + 1, 2, true), DMACOH_EFAULT);
    T_ERR(dmacoh__pa_free(pa, a, 2, true), DMACOH_EINVAL);
    T_ERR(dmacoh__pa_free(pa, a, 4, true), DMACOH_EINVAL);
    T_ERR(dmacoh__pa_free(pa, a, 3, false), DMACOH_EINVAL);
    T_ERR(dmacoh__pa_free(pa, 40, 2, true), DMACOH_EPERM);
    T_ERR(dmacoh__pa_free(pa, 64, 1, true), DMACOH_EFAULT);
    T_ERR(dmacoh__pa_reserve(pa, 39, 2), DMACOH_EBUSY);
    T_ERR(dmacoh__pa_reserve(pa, 63, 2), DMACOH_ERANGE);
    T_ASSERT(dmacoh__pa_check(pa));
    T_OK(dmacoh__pa_free(pa, a, 3, true));
    T_ERR(dmacoh__pa_free(pa, a, 3, true), DMACOH_EFAULT);
    T_OK(dmacoh__pa_alloc(pa, 1, 1, UINT64_MAX, &b));
    T_ASSERT(dmacoh__pa_check(pa));
    free(pa);
}

/* A corrupted state is caught by the checker. */
static void checker_catches_corruption(void)
{
    struct dmacoh__pa *pa = new_pa(300, 0);
    uint64_t a = 0, *w = (uint64_t *)(pa + 1), saved;

    T_OK(dmacoh__pa_alloc(pa, 10, 16, UINT64_MAX, &a));
    T_ASSERT(dmacoh__pa_check(pa));
    /* Each word of state, flipped in its low bit, must be noticed (or be a word whose low bit
     * nothing reads: a cursor value that stays in range). */
    for (uint64_t k = 0; k < pa->nwords; k++) {
        bool cursor = k >= pa->count_off + pa->nclasses && k < pa->count_off + 2 * pa->nclasses;

        saved = w[k];
        w[k] ^= 1;
        if (!cursor)
            CHECK(!dmacoh__pa_check(pa), "flipping word %llu went unnoticed",
                  (unsigned long long)k);
        w[k] = saved;
    }
    pa->used++;
    T_ASSERT(!dmacoh__pa_check(pa));
    pa->used--;
    T_ASSERT(dmacoh__pa_check(pa));
    free(pa);
}

/* 2^30 granules (4 TiB of 4 KiB pages): metadata only; the memory is never touched. */
static void tib_pool_smoke(void)
{
    uint64_t n = 1ull << 30, bytes = dmacoh__pa_state_size(n), off[4];
    struct dmacoh__pa *pa;

    if (quick())
        T_SKIP("DMACOH_TEST_QUICK: 512 MiB of state is slow under valgrind");
    if (bytes > SIZE_MAX / 2)
        T_SKIP("no room for 2^30 granules of state in this address space");
    CHECK(bytes * 8 / n <= 5, "%llu bytes of state for 2^30 granules", (unsigned long long)bytes);
    pa = calloc(1, (size_t)bytes);
    if (!pa)
        T_SKIP("could not allocate the state");
    dmacoh__pa_init(pa, n, 1ull << 30);
    T_OK(dmacoh__pa_alloc(pa, 1, 1, UINT64_MAX, &off[0]));
    T_EQ_U64(off[0], 0);
    T_OK(dmacoh__pa_alloc(pa, 1ull << 28, 1ull << 28, UINT64_MAX, &off[1]));
    T_EQ_U64(off[1], 1ull << 28);
    T_OK(dmacoh__pa_alloc(pa, (1ull << 28) + 1, 1ull << 29, UINT64_MAX, &off[2]));
    T_EQ_U64(off[2], 1ull << 29);
    /* No 2^29-aligned block is free any more: [1, 2^28) and the tail of the last one are. */
    T_ERR(dmacoh__pa_alloc(pa, 1ull << 29, 1ull << 29, UINT64_MAX, &off[3]), DMACOH_ENOMEM);
    T_EQ_U64(dmacoh__pa_largest_free(pa), (1ull << 28) - 1);
    T_OK(dmacoh__pa_alloc(pa, 3, 4, UINT64_MAX, &off[3]));
    T_EQ_U64(off[3], 4);
    T_EQ_U64(pa->used, 1 + (1ull << 28) + (1ull << 28) + 1 + 3);
    T_OK(dmacoh__pa_free(pa, off[1], 1ull << 28, true));
    T_OK(dmacoh__pa_free(pa, off[2], (1ull << 28) + 1, true));
    T_EQ_U64(dmacoh__pa_largest_free(pa), n - 7);
    T_OK(dmacoh__pa_free(pa, off[0], 1, true));
    T_OK(dmacoh__pa_free(pa, off[3], 3, true));
    T_EQ_U64(dmacoh__pa_largest_free(pa), n);
    T_ASSERT(dmacoh__pa_check(pa));
    free(pa);
}

/* Sizes the state refuses. */
static void state_size_limits(void)
{
    T_EQ_U64(dmacoh__pa_state_size(0), 0);
    T_EQ_U64(dmacoh__pa_state_size((1ull << 60) + 1), 0);
    T_ASSERT(dmacoh__pa_state_size(1) > 0);
    /* 2 + 1.5 bits per granule, summaries (1/16 bit), plus a header: 3.56 bits. */
    T_ASSERT(dmacoh__pa_state_size(1ull << 20) <=
             (1ull << 20) * 7 / 16 + (1ull << 20) / 128 + 4096);
}

/* Class 0 keeps one index bit per pair of granules: single free granules are never side by
 * side, and the kinds say which one of the pair is free. Singles at even and odd offsets, and
 * on the last granule of an odd-sized region (a pair with no second granule), must all be
 * found, each once, and nothing more. Lowest-first order (first fit, before any free) would
 * not look at class 0 alone, so one free first switches the region to best fit. */
static void class_zero_pairs(void)
{
    uint64_t n = 255, off, got = 0, nfreed = 0;
    struct dmacoh__pa *pa = new_pa(n, 5);
    bool freed[255] = {false}, seen[255] = {false};

    for (uint64_t i = 0; i < n; i++) {
        T_OK(dmacoh__pa_alloc(pa, 1, 1, UINT64_MAX, &off));
        T_EQ_U64(off, i);
    }
    /* Every third granule (offsets of both parities), and the last one (254: 252 is freed,
     * 253 is not). */
    for (uint64_t i = 0; i < n; i += 3, nfreed++) {
        T_OK(dmacoh__pa_free(pa, i, 1, true));
        freed[i] = true;
    }
    T_OK(dmacoh__pa_free(pa, n - 1, 1, true));
    freed[n - 1] = true;
    nfreed++;
    T_ASSERT(dmacoh__pa_check(pa));
    T_EQ_U64(dmacoh__pa_largest_free(pa), 1);
    while (dmacoh__pa_alloc(pa, 1, 1, UINT64_MAX, &off) == 0) {
        T_ASSERT(off < n);
        CHECK(freed[off] && !seen[off], "granule %llu handed out, free %d, seen %d",
              (unsigned long long)off, freed[off], seen[off]);
        seen[off] = true;
        got++;
        T_ASSERT(dmacoh__pa_check(pa));
    }
    T_EQ_U64(got, nfreed);
    /* Two free granules side by side are one class-1 run, not two class-0 runs (offset 99 is
     * absolute granule 104: aligned for two). */
    T_OK(dmacoh__pa_free(pa, 100, 1, true));
    T_OK(dmacoh__pa_free(pa, 99, 1, true));
    T_ASSERT(dmacoh__pa_check(pa));
    T_EQ_U64(dmacoh__pa_largest_free(pa), 2);
    T_OK(dmacoh__pa_alloc(pa, 2, 2, UINT64_MAX, &off));
    T_EQ_U64(off, 99);
    T_ASSERT(dmacoh__pa_check(pa));
    free(pa);
}

/* Parking (per-thread caches): a parked block is freed straight from OCC to FREE, so a second
 * free racing with the drain can never park it again; a park checks the block's shape only
 * after claiming its head, and gives the head back when the shape is wrong. */
static void parking_keeps_double_frees_out(void)
{
    struct dmacoh__pa *pa = new_pa(64, 0);
    uint64_t x = 0, c = 0;

    dmacoh__pa_set_concurrent(pa);
    T_OK(dmacoh__pa_alloc(pa, 4, 4, UINT64_MAX, &x));
    T_OK(dmacoh__pa_park(pa, x, 4));
    T_ERR(dmacoh__pa_park(pa, x, 4), DMACOH_EPERM);       /* a second free while cached */
    T_ERR(dmacoh__pa_free(pa, x, 4, true), DMACOH_EPERM); /* the locked path sees it too */
    T_OK(dmacoh__pa_free_parked(pa, x, 4));               /* the drain */
    T_ERR(dmacoh__pa_park(pa, x, 4), DMACOH_EFAULT);      /* no HEAD in between to park again */
    T_ERR(dmacoh__pa_free_parked(pa, x, 4), DMACOH_EFAULT);
    T_ASSERT(dmacoh__pa_check(pa));
    /* The block was freed and a shorter one took its start: parking the old shape fails and
     * leaves the new owner's head in place. */
    T_OK(dmacoh__pa_alloc(pa, 2, 2, UINT64_MAX, &c));
    T_EQ_U64(c, x);
    T_ERR(dmacoh__pa_park(pa, x, 4), DMACOH_EINVAL);
    T_ERR(dmacoh__pa_park(pa, x, 1), DMACOH_EINVAL);
    T_ASSERT(dmacoh__pa_check(pa));
    T_OK(dmacoh__pa_free(pa, c, 2, true));
    T_ASSERT(dmacoh__pa_check(pa));
    free(pa);
}

/* First fit is exact while at most FF_PROBES (32) misaligned runs of the request's own size
 * classes lie below the lowest aligned fit: here eight. */
/* A first-fit state of n granules with holes [8k+1, 8k+5) for k < holes: 4 long, but a
 * 3-granule block needs a 4-aligned start, which none of them has room after. Then the hole
 * [8 holes, 8 holes + 4), which fits, and from 8 holes + 8 on, free. */
static struct dmacoh__pa *misfit_holes(uint64_t n, uint64_t holes, bool owned)
{
    struct dmacoh__pa *pa;

    if (owned) { /* a shared region's state: owner bytes and the journal */
        pa = calloc(1, (size_t)dmacoh__pa_owned_size(n));
        T_ASSERT(pa != NULL);
        dmacoh__pa_init_owned(pa, n, 0);
        pa->owner = 1; /* the allocating process's entry */
    } else {
        pa = new_pa(n, 0);
    }

    pa->always_first_fit = true;
    for (uint64_t k = 0; k < holes; k++) {
        T_OK(dmacoh__pa_reserve(pa, 8 * k, 1));
        T_OK(dmacoh__pa_reserve(pa, 8 * k + 5, 3));
    }
    T_OK(dmacoh__pa_reserve(pa, 8 * holes + 4, 4));
    return pa;
}

/* A 3-granule block (expected at `at`), then `singles` single granules into the holes below;
 * returns the block. */
static uint64_t block_then_singles(struct dmacoh__pa *pa, uint64_t at, unsigned singles)
{
    uint64_t a = 0, one;

    T_OK(dmacoh__pa_alloc(pa, 3, 4, UINT64_MAX, &a));
    T_EQ_U64(a, at);
    for (unsigned i = 0; i < singles; i++)
        T_OK(dmacoh__pa_alloc(pa, 1, 1, UINT64_MAX, &one));
    return a;
}

static void first_fit_is_exact(void)
{
    struct dmacoh__pa *pa = misfit_holes(256, 8, false);
    uint64_t a = block_then_singles(pa, 64, 32), b = 0;
    T_OK(dmacoh__pa_alloc(pa, 3, 4, UINT64_MAX, &b));
    CHECK(b > a, "second 3-granule block at %llu, first at %llu", (unsigned long long)b,
          (unsigned long long)a);
    T_ASSERT(dmacoh__pa_check(pa));
    free(pa);
}

/* More than FF_PROBES misfit runs below the lowest fit: first fit stops looking after 32 of
 * them (so an allocation costs O(log n), not O(misfit runs)), and takes the lowest fit among
 * what it looked at. Allocations of one size still ascend between frees: once other sizes
 * use up the runs below, bringing the skipped fit within reach, the next block of the first
 * size still goes above the first one (its alignment level's floor). A free lowers the floors
 * and the lowest fit is found again. Without the floor the second block lands at 320. */
static void first_fit_bounded_still_ascends(void)
{
    /* Forty misfit holes, then [320, 324), which fits, then [328, 512). */
    struct dmacoh__pa *pa = misfit_holes(512, 40, false);
    uint64_t a = 0, b = 0, c = 0, one;

    T_OK(dmacoh__pa_alloc(pa, 3, 4, UINT64_MAX, &a));
    T_EQ_U64(a, 328); /* 32 misfits looked at, then the lowest run that surely fits */
    T_ASSERT(dmacoh__pa_check(pa));
    /* Single granules fill the lowest ten holes: [320, 324) is now the 31st run of its class. */
    for (unsigned i = 0; i < 40; i++) {
        T_OK(dmacoh__pa_alloc(pa, 1, 1, UINT64_MAX, &one));
        T_EQ_U64(one, 8 * (i / 4) + 1 + i % 4);
    }
    T_OK(dmacoh__pa_alloc(pa, 3, 4, UINT64_MAX, &b));
    CHECK(b > a, "second 3-granule block at %llu, first at %llu", (unsigned long long)b,
          (unsigned long long)a);
    T_EQ_U64(b, 332);
    T_ASSERT(dmacoh__pa_check(pa));
    /* A free: order is promised between frees only, and the exact lowest fit comes back. */
    T_OK(dmacoh__pa_free(pa, b, 3, true));
    T_OK(dmacoh__pa_alloc(pa, 3, 4, UINT64_MAX, &c));
    T_EQ_U64(c, 320);
    T_ASSERT(dmacoh__pa_check(pa));
    free(pa);
}

/* The same on a shared region's state that a crash made the next process recover between the
 * two blocks: the floor survives the recovery (with no free finished in it), so the second
 * block still goes above the first. */
static void first_fit_floor_survives_recovery(void)
{
    struct dmacoh__pa *pa = misfit_holes(512, 40, true);
    uint64_t a = block_then_singles(pa, 328, 40), b = 0;

    T_ASSERT(dmacoh__pa_check(pa));
    dmacoh__pa_recover(pa, 512, 0);
    T_ASSERT(dmacoh__pa_check(pa));
    T_OK(dmacoh__pa_alloc(pa, 3, 4, UINT64_MAX, &b));
    CHECK(b > a, "after recovery, second 3-granule block at %llu, first at %llu",
          (unsigned long long)b, (unsigned long long)a);
    free(pa);
}

/* Misfit runs above the answer do not count as cut: with a fit below them first fit stays
 * exact, and no floor is raised (the next, smaller request of the level gets its lowest fit).
 * Free: [4, 7), [16, 64), [101, 110), then forty 5-granule holes from 113 on. */
static void first_fit_misfits_above_are_no_cut(void)
{
    struct dmacoh__pa *pa = new_pa(512, 0);
    uint64_t a = 0, b = 0, at = 0;
    static const uint64_t busy[][2] = {{0, 4}, {7, 9}, {64, 37}, {110, 3}};

    pa->always_first_fit = true;
    for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]); i++)
        T_OK(dmacoh__pa_reserve(pa, busy[i][0], busy[i][1]));
    for (uint64_t k = 0; k < 40; k++) /* holes [8k+113, 8k+118), busy [8k+118, 8k+121) */
        T_OK(dmacoh__pa_reserve(pa, 8 * k + 118, 3));
    at = 8 * 40 + 113;
    T_OK(dmacoh__pa_reserve(pa, at, 512 - at));
    T_OK(dmacoh__pa_alloc(pa, 4, 4, UINT64_MAX, &a));
    T_EQ_U64(a, 16);
    T_OK(dmacoh__pa_alloc(pa, 3, 4, UINT64_MAX, &b));
    T_EQ_U64(b, 4);
    T_ASSERT(dmacoh__pa_check(pa));
    free(pa);
}

static const struct t_case cases[] = {
    T_CASE(random_sequence_against_model),
    T_CASE(random_sequence_limit_cap_odd_size),
    T_CASE(alignment_over_random_bases),
    T_CASE(tail_reuse),
    T_CASE(exhaustion_and_recovery),
    T_CASE(checked_frees),
    T_CASE(checker_catches_corruption),
    T_CASE(tib_pool_smoke),
    T_CASE(state_size_limits),
    T_CASE(class_zero_pairs),
    T_CASE(parking_keeps_double_frees_out),
    T_CASE(first_fit_is_exact),
    T_CASE(first_fit_bounded_still_ascends),
    T_CASE(first_fit_floor_survives_recovery),
    T_CASE(first_fit_misfits_above_are_no_cut),
};

T_MAIN(cases)
