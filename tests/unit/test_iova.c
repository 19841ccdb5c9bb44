/* SPDX-License-Identifier: MIT */
/*
 * test_iova.c - the IOVA space behind the VFIO platform's fallback memory (iova.c), against a
 * brute-force reference: random picks, inserts and removes over two usable ranges with a hole
 * between them; every pick must be the lowest aligned gap that fits below the mask, and a
 * refusal must mean there is none (-ERANGE exactly when no usable IOVA lies below the mask),
 * with held ranges (declared regions' device addresses) taken and released among them. Then
 * the edges: blocks at the top of the 64-bit space, and held ranges next to live blocks.
 */
#include "t.h"

#include "platform/linux/internal.h"

#include <dmacoh/dmacoh.h>

#include <string.h>

#define PAGE    4096u
#define MAXLIVE 64
#define SLOT    65536u /* the largest block; CPU addresses are slots of an arena */

static char arena[MAXLIVE * SLOT];

static bool overlaps_live(const struct dmacoh__iova_space *s, uint64_t at, uint64_t len)
{
    for (size_t i = 0; i < s->nblk; i++)
        if (at < s->blk[i].iova + s->blk[i].len && s->blk[i].iova < at + len)
            return true;
    for (size_t i = 0; i < s->nheld; i++)
        if (at <= s->held[i].hi && s->held[i].lo < at + len)
            return true;
    return false;
}

/* Holds or releases a random range (an arbitrary, unaligned one, as a region's device range
 * may be) now and then: a hold is refused exactly when a live block overlaps it. */
static void random_hold(struct dmacoh__iova_space *s, uint64_t rnd, const void *keys)
{
    const char *key = (const char *)keys + (rnd >> 40) % 4;
    uint64_t lo = 0x10000 + (rnd >> 8) % 0x1f0000, hi = lo + (rnd >> 28) % 0x8000;
    bool live = false;

    if (dmacoh__iova_unhold(s, key))
        return;
    for (size_t i = 0; i < s->nblk; i++)
        live |= lo <= s->blk[i].iova + s->blk[i].len - 1 && s->blk[i].iova <= hi;
    T_EQ_INT(dmacoh__iova_hold(s, lo, hi, key), live ? DMACOH_EBUSY : 0);
}

/* The lowest IOVA a correct allocator returns, by trying every aligned address. */
static int reference(const struct dmacoh__iova_space *s, uint64_t len, uint64_t align,
                     uint64_t mask, uint64_t *iova)
{
    bool below = false;

    for (unsigned r = 0; r < s->nranges; r++) {
        uint64_t hi = s->range[r].hi < mask ? s->range[r].hi : mask;

        if (s->range[r].lo > hi)
            continue;
        below = true;
        for (uint64_t at = (s->range[r].lo + align - 1) & ~(align - 1); at + len - 1 <= hi;
             at += align) {
            if (!overlaps_live(s, at, len)) {
                *iova = at;
                return 0;
            }
        }
    }
    return below ? DMACOH_ENOMEM : DMACOH_ERANGE;
}

static void random_ops_match_the_reference(void)
{
    static const uint64_t masks[] = {0x3ffff, 0xfffff, 0x1fffff, UINT64_MAX};
    struct dmacoh__iova_space s;
    bool used[MAXLIVE] = {false};
    uint64_t seed = 42;
    unsigned picks = 0, refusals = 0;
    static const char keys[4] = {0};

    memset(&s, 0, sizeof(s));
    s.nranges = 2;
    s.range[0] = (struct dmacoh__iova_range){0, 0x8ffff};
    s.range[1] = (struct dmacoh__iova_range){0xa0000, 0x1fffff};
    dmacoh__iova_clip(&s, 0x10000, UINT64_MAX); /* as the platform's iova_base does */
    T_EQ_U64(s.range[0].lo, 0x10000);
    for (int step = 0; step < 20000; step++) {
        uint64_t rnd = t_rand(&seed), len = (1 + rnd % 16) * PAGE;
        uint64_t align = (uint64_t)PAGE << ((rnd >> 8) % 5), mask = masks[(rnd >> 16) % 4];
        uint64_t got = 0, want = 0;
        int r, w;

        if ((rnd >> 48) % 16 == 0) {
            random_hold(&s, rnd, keys);
            continue;
        }
        if (s.nblk && ((rnd >> 24) % 3 == 0 || s.nblk == MAXLIVE)) {
            size_t i = (size_t)((rnd >> 32) % s.nblk);

            char *cpu = s.blk[i].cpu;
            uint64_t iova = s.blk[i].iova;

            used[(size_t)(cpu - arena) / SLOT] = false;
            dmacoh__iova_remove(&s, i);
            T_EQ_U64(dmacoh__iova_virt_to_dma(&s, cpu), DMACOH_BAD_DMA_ADDR);
            T_EQ_PTR(dmacoh__iova_dma_to_virt(&s, iova), NULL);
            continue;
        }
        r = dmacoh__iova_pick(&s, len, align, mask, &got);
        w = reference(&s, len, align, mask, &want);
        T_EQ_INT(r, w);
        if (r) {
            refusals++;
            continue;
        }
        T_EQ_U64(got, want);
        picks++;
        for (unsigned k = 0; k < MAXLIVE; k++) {
            if (!used[k]) {
                struct dmacoh__iova_blk b = {got, len, len, arena + (size_t)k * SLOT};

                used[k] = true;
                T_OK(dmacoh__iova_insert(&s, &b));
                T_EQ_U64(dmacoh__iova_virt_to_dma(&s, b.cpu + len - 1), got + len - 1);
                T_EQ_PTR(dmacoh__iova_dma_to_virt(&s, got + 5), b.cpu + 5);
                T_ASSERT(dmacoh__iova_find(&s, b.cpu) < s.nblk);
                break;
            }
        }
        for (size_t i = 1; i < s.nblk; i++)
            T_ASSERT(s.blk[i - 1].iova + s.blk[i - 1].len <= s.blk[i].iova);
    }
    T_ASSERT(picks > 1000 && refusals > 100); /* both paths were exercised */
    dmacoh__iova_fini(&s);
    T_EQ_U64(s.nblk, 0);
    T_EQ_U64(s.nheld, 0);
}

/* Blocks at the very top of the 64-bit space: iova + len is 0 there, which must not read as
 * "ends below the candidate" (that handed out the same IOVA twice). */
static void top_of_the_space_is_handed_out_once(void)
{
    const uint64_t top = UINT64_MAX - 2 * PAGE + 1; /* the last two pages */
    struct dmacoh__iova_space s;
    struct dmacoh__iova_blk b[2];
    uint64_t iova = 0;

    memset(&s, 0, sizeof(s));
    s.nranges = 1;
    s.range[0] = (struct dmacoh__iova_range){0, UINT64_MAX};
    dmacoh__iova_clip(&s, top, UINT64_MAX);
    for (unsigned i = 0; i < 2; i++) {
        T_OK(dmacoh__iova_pick(&s, PAGE, PAGE, UINT64_MAX, &iova));
        T_EQ_U64(iova, top + i * PAGE);
        b[i] = (struct dmacoh__iova_blk){iova, PAGE, PAGE, arena + i * SLOT};
        T_OK(dmacoh__iova_insert(&s, &b[i]));
    }
    T_ERR(dmacoh__iova_pick(&s, PAGE, PAGE, UINT64_MAX, &iova), DMACOH_ENOMEM);
    T_EQ_PTR(dmacoh__iova_dma_to_virt(&s, UINT64_MAX), arena + SLOT + PAGE - 1);
    T_EQ_U64(dmacoh__iova_virt_to_dma(&s, arena + SLOT + PAGE - 1), UINT64_MAX);
    /* Freed at the top, the top page is the only gap; a 2-page block does not fit. */
    dmacoh__iova_remove(&s, 1);
    T_ERR(dmacoh__iova_pick(&s, 2 * PAGE, PAGE, UINT64_MAX, &iova), DMACOH_ENOMEM);
    T_OK(dmacoh__iova_pick(&s, PAGE, PAGE, UINT64_MAX, &iova));
    T_EQ_U64(iova, top + PAGE);
    /* A held range that reaches the top ends the search instead of wrapping to 0. */
    T_OK(dmacoh__iova_hold(&s, top + PAGE, UINT64_MAX, arena));
    T_ERR(dmacoh__iova_pick(&s, PAGE, PAGE, UINT64_MAX, &iova), DMACOH_ENOMEM);
    T_ERR(dmacoh__iova_pick(&s, 0, PAGE, UINT64_MAX, &iova), DMACOH_EINVAL);
    T_ERR(dmacoh__iova_pick(&s, PAGE, 3 * PAGE, UINT64_MAX, &iova), DMACOH_EINVAL);
    dmacoh__iova_fini(&s);
}

/* Held ranges (declared regions' device addresses) are never handed out; a hold over a live
 * block is refused; releasing a hold gives its addresses back. */
static void held_ranges_are_never_handed_out(void)
{
    struct dmacoh__iova_space s;
    struct dmacoh__iova_blk b;
    const char *k1 = arena, *k2 = arena + 1;
    uint64_t iova = 0;

    memset(&s, 0, sizeof(s));
    s.nranges = 1;
    s.range[0] = (struct dmacoh__iova_range){0x100000, 0x1fffff};
    T_OK(dmacoh__iova_hold(&s, 0x100000, 0x101fff, k1)); /* a 2-page region at 0x100000 */
    T_OK(dmacoh__iova_pick(&s, PAGE, PAGE, UINT64_MAX, &iova));
    T_EQ_U64(iova, 0x102000);
    b = (struct dmacoh__iova_blk){iova, PAGE, PAGE, arena};
    T_OK(dmacoh__iova_insert(&s, &b));
    /* An unaligned hold just past it pushes an aligned pick past its last byte. */
    T_OK(dmacoh__iova_hold(&s, 0x103000, 0x104800, k2));
    T_OK(dmacoh__iova_pick(&s, 0x4000, 0x4000, UINT64_MAX, &iova));
    T_EQ_U64(iova, 0x108000);
    T_OK(dmacoh__iova_pick(&s, PAGE, PAGE, UINT64_MAX, &iova));
    T_EQ_U64(iova, 0x105000);
    /* The live block's IOVAs cannot be held, not even by one byte of overlap. */
    T_EQ_U64(dmacoh__iova_live_in(&s, 0x102fff, 0x102fff), 0);
    T_EQ_U64(dmacoh__iova_live_in(&s, 0x101000, 0x101fff), 1);
    T_ERR(dmacoh__iova_hold(&s, 0x101000, 0x102000, arena + 2), DMACOH_EBUSY);
    T_EQ_U64(s.nheld, 2);
    /* The mask leaves only held addresses and the live block: no room. */
    T_ERR(dmacoh__iova_pick(&s, PAGE, PAGE, 0x102fff, &iova), DMACOH_ENOMEM);
    T_ASSERT(dmacoh__iova_unhold(&s, k1));
    T_ASSERT(!dmacoh__iova_unhold(&s, k1));
    T_OK(dmacoh__iova_pick(&s, PAGE, PAGE, 0x102fff, &iova));
    T_EQ_U64(iova, 0x100000);
    dmacoh__iova_fini(&s);
    T_EQ_U64(s.nheld, 0);
}

/* Clipping drops ranges left empty and narrows the others. */
static void clip_narrows_and_drops(void)
{
    struct dmacoh__iova_space s;

    memset(&s, 0, sizeof(s));
    s.nranges = 3;
    s.range[0] = (struct dmacoh__iova_range){0, 0xfffff};
    s.range[1] = (struct dmacoh__iova_range){0x200000, 0x2fffff};
    s.range[2] = (struct dmacoh__iova_range){0x400000, UINT64_MAX};
    dmacoh__iova_clip(&s, 0x100000, 0x4fffff);
    T_EQ_INT(s.nranges, 2);
    T_EQ_U64(s.range[0].lo, 0x200000);
    T_EQ_U64(s.range[1].hi, 0x4fffff);
    dmacoh__iova_clip(&s, 0x600000, UINT64_MAX);
    T_EQ_INT(s.nranges, 0);
    {
        uint64_t iova;

        T_ERR(dmacoh__iova_pick(&s, PAGE, PAGE, UINT64_MAX, &iova), DMACOH_ERANGE);
    }
}

static const struct t_case cases[] = {
    T_CASE(random_ops_match_the_reference),
    T_CASE(clip_narrows_and_drops),
    T_CASE(top_of_the_space_is_handed_out_once),
    T_CASE(held_ranges_are_never_handed_out),
};

T_MAIN(cases)
