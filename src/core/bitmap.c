/* SPDX-License-Identifier: MIT */
/*
 * bitmap.c - the region page allocator: two bits of state per granule, aligned first fit.
 *
 * Each granule is FREE, HEAD (first granule of an allocation), OCC (first granule of an
 * occupied range) or CONT (continues the one before). Knowing where every allocation starts
 * and how long it runs is what lets a free be checked in every build: a double free finds no
 * HEAD, a wrong size finds the run longer or shorter than claimed, a pointer into the middle
 * finds a CONT. The kernel's kernel/dma/coherent.c keeps one bit per page and so cannot tell.
 *
 * Placement: lowest-addressed run of n free granules whose absolute index (device base /
 * granule + offset) is a multiple of the alignment, which is the smallest power of two >= n
 * (Linux's dma_alloc_coherent promise). Unlike the kernel, only n granules are taken, not
 * 2^order: the tail of the aligned block stays free for others. The scan skips whole runs of
 * used and free granules a word (32 granules) at a time and starts at a hint below which
 * nothing is free. It is O(region) in the worst case.
 *
 * The state holds offsets and counts only, no pointers: it can be placed in memory shared by
 * several processes.
 */
#include "internal.h"

#define LO 0x5555555555555555ull /* the low bit of every 2-bit field */

static uint64_t *words(const struct dmacoh__pa *pa)
{
    /* The words follow the struct; the cast drops const for the shared helper. */
    return (uint64_t *)(uintptr_t)(pa + 1);
}

static unsigned get(const struct dmacoh__pa *pa, uint64_t i)
{
    return (unsigned)(words(pa)[i >> 5] >> (2 * (i & 31))) & 3u;
}

static void set(struct dmacoh__pa *pa, uint64_t i, unsigned v)
{
    uint64_t *w = &words(pa)[i >> 5];
    unsigned sh = 2 * (unsigned)(i & 31);

    *w = (*w & ~(3ull << sh)) | ((uint64_t)v << sh);
}

/* Mask of the fields for granules [lo, hi) of one word, 0 <= lo < hi <= 32. */
static uint64_t field_mask(unsigned lo, unsigned hi)
{
    uint64_t m = (hi - lo == 32) ? ~0ull : ((1ull << (2 * (hi - lo))) - 1);

    return m << (2 * lo);
}

/* Fills granules [a, b) with the 2-bit value v in every field. */
static void fill(struct dmacoh__pa *pa, uint64_t a, uint64_t b, unsigned v)
{
    uint64_t pattern = LO * v;

    while (a < b) {
        uint64_t k = a >> 5, end = (k + 1) << 5;
        uint64_t m;

        if (end > b)
            end = b;
        m = field_mask((unsigned)(a & 31), (unsigned)(end - (k << 5)));
        words(pa)[k] = (words(pa)[k] & ~m) | (pattern & m);
        a = end;
    }
}

/* First granule in [a, b) that is not FREE, or b. */
static uint64_t next_used(const struct dmacoh__pa *pa, uint64_t a, uint64_t b)
{
    while (a < b) {
        uint64_t k = a >> 5, end = (k + 1) << 5, w = words(pa)[k];
        uint64_t u;

        if (end > b)
            end = b;
        u = (w | (w >> 1)) & LO & field_mask((unsigned)(a & 31), (unsigned)(end - (k << 5)));
        if (u)
            return (k << 5) + (uint64_t)(__builtin_ctzll(u) / 2);
        a = end;
    }
    return b;
}

/* First FREE granule at or after a, or ngranules. */
static uint64_t next_free(const struct dmacoh__pa *pa, uint64_t a)
{
    uint64_t n = pa->ngranules;

    while (a < n) {
        uint64_t k = a >> 5, w = words(pa)[k];
        uint64_t f = ~(w | (w >> 1)) & LO & field_mask((unsigned)(a & 31), 32);

        if (f) {
            uint64_t i = (k << 5) + (uint64_t)(__builtin_ctzll(f) / 2);
            return i < n ? i : n;
        }
        a = (k + 1) << 5;
    }
    return n;
}

/* True if granules [a, b) are all CONT. */
static bool all_cont(const struct dmacoh__pa *pa, uint64_t a, uint64_t b)
{
    while (a < b) {
        uint64_t k = a >> 5, end = (k + 1) << 5, m;

        if (end > b)
            end = b;
        m = field_mask((unsigned)(a & 31), (unsigned)(end - (k << 5)));
        if ((words(pa)[k] & m) != (LO & m))
            return false;
        a = end;
    }
    return true;
}

uint64_t dmacoh__pa_state_size(uint64_t ngranules)
{
    uint64_t nwords = (ngranules + 31) / 32;

    if (ngranules == 0 || nwords > (UINT64_MAX - sizeof(struct dmacoh__pa)) / 8)
        return 0;
    return sizeof(struct dmacoh__pa) + nwords * 8;
}

void dmacoh__pa_init(struct dmacoh__pa *pa, uint64_t ngranules, uint64_t base_g)
{
    pa->ngranules = ngranules;
    pa->base_g = base_g;
    pa->used = pa->occupied = pa->peak = pa->live = 0;
    pa->nwords = (ngranules + 31) / 32;
    pa->hint = 0;
    for (uint64_t k = 0; k < pa->nwords; k++)
        words(pa)[k] = 0;
}

/* Smallest offset >= off whose absolute index is a multiple of align. */
static uint64_t align_up(const struct dmacoh__pa *pa, uint64_t off, uint64_t align)
{
    uint64_t abs = pa->base_g + off;

    return off + ((align - (abs & (align - 1))) & (align - 1));
}

static void mark(struct dmacoh__pa *pa, uint64_t off, uint64_t n, unsigned head)
{
    set(pa, off, head);
    fill(pa, off + 1, off + n, DMACOH__G_CONT);
    if (off <= pa->hint && pa->hint < off + n)
        pa->hint = next_free(pa, off + n);
}

int dmacoh__pa_alloc(struct dmacoh__pa *pa, uint64_t n, uint64_t align, uint64_t limit,
                     uint64_t *off)
{
    uint64_t total = limit < pa->ngranules ? limit : pa->ngranules, pos;

    if (n == 0 || n > total || n > pa->ngranules - pa->used - pa->occupied)
        return DMACOH_ENOMEM;
    pos = align_up(pa, pa->hint, align);
    while (pos <= total - n) {
        uint64_t u = next_used(pa, pos, pos + n);
        uint64_t f;

        if (u == pos + n) {
            mark(pa, pos, n, DMACOH__G_HEAD);
            pa->used += n;
            pa->live++;
            if (pa->used > pa->peak)
                pa->peak = pa->used;
            *off = pos;
            return 0;
        }
        f = next_free(pa, u);
        if (f >= total)
            break;
        pos = align_up(pa, f, align);
    }
    return DMACOH_ENOMEM;
}

int dmacoh__pa_free(struct dmacoh__pa *pa, uint64_t off, uint64_t n, bool handle_ok)
{
    unsigned s;

    if (off >= pa->ngranules)
        return DMACOH_EFAULT;
    s = get(pa, off);
    if (s == DMACOH__G_OCC)
        return DMACOH_EPERM;
    if (s != DMACOH__G_HEAD)
        return DMACOH_EFAULT;
    if (!handle_ok)
        return DMACOH_EINVAL;
    if (n == 0 || n > pa->ngranules - off || !all_cont(pa, off + 1, off + n))
        return DMACOH_EINVAL;
    if (off + n < pa->ngranules && get(pa, off + n) == DMACOH__G_CONT)
        return DMACOH_EINVAL;
    fill(pa, off, off + n, DMACOH__G_FREE);
    pa->used -= n;
    pa->live--;
    if (off < pa->hint)
        pa->hint = off;
    return 0;
}

int dmacoh__pa_reserve(struct dmacoh__pa *pa, uint64_t off, uint64_t n)
{
    if (n == 0 || off >= pa->ngranules || n > pa->ngranules - off)
        return DMACOH_ERANGE;
    if (next_used(pa, off, off + n) != off + n)
        return DMACOH_EBUSY;
    mark(pa, off, n, DMACOH__G_OCC);
    pa->occupied += n;
    return 0;
}

/* Length of the run that starts at i: an allocation or occupied range with its CONTs, or a
 * stretch of FREE granules. */
static uint64_t run_end(const struct dmacoh__pa *pa, uint64_t i, unsigned *kind)
{
    unsigned s = get(pa, i);
    uint64_t j = i + 1;

    if (s == DMACOH__G_FREE) {
        *kind = 0;
        return next_used(pa, i, pa->ngranules);
    }
    *kind = (s == DMACOH__G_OCC) ? 2u : 1u;
    while (j < pa->ngranules && get(pa, j) == DMACOH__G_CONT)
        j++;
    return j;
}

void dmacoh__pa_find(const struct dmacoh__pa *pa, uint64_t i, uint64_t *start, uint64_t *n,
                     int *kind)
{
    unsigned k;
    uint64_t s = i, end;

    if (get(pa, i) == DMACOH__G_FREE) {
        while (s > 0 && get(pa, s - 1) == DMACOH__G_FREE)
            s--;
    } else {
        while (get(pa, s) == DMACOH__G_CONT)
            s--; /* dmacoh__pa_check guarantees a HEAD or OCC before every CONT */
    }
    end = run_end(pa, s, &k);
    *start = s;
    *n = end - s;
    *kind = (int)k;
}

uint64_t dmacoh__pa_largest_free(const struct dmacoh__pa *pa)
{
    uint64_t best = 0, i = next_free(pa, 0);

    while (i < pa->ngranules) {
        uint64_t end = next_used(pa, i, pa->ngranules);

        if (end - i > best)
            best = end - i;
        i = next_free(pa, end);
    }
    return best;
}

int dmacoh__pa_walk(const struct dmacoh__pa *pa, int (*fn)(void *, uint64_t, uint64_t, int),
                    void *user)
{
    uint64_t i = 0;

    while (i < pa->ngranules) {
        unsigned kind;
        uint64_t end = run_end(pa, i, &kind);
        int r = fn(user, i, end - i, (int)kind);

        if (r)
            return r;
        i = end;
    }
    return 0;
}

bool dmacoh__pa_check(const struct dmacoh__pa *pa)
{
    uint64_t used = 0, occ = 0, live = 0, i = 0;
    unsigned tail = (unsigned)(pa->ngranules & 31);

    if (pa->nwords != (pa->ngranules + 31) / 32 || pa->hint > pa->ngranules)
        return false;
    if (tail && (words(pa)[pa->nwords - 1] >> (2 * tail)) != 0)
        return false; /* fields past the end must stay FREE */
    if (next_free(pa, 0) < pa->hint)
        return false;
    while (i < pa->ngranules) {
        unsigned s = get(pa, i), kind;
        uint64_t end;

        if (s == DMACOH__G_CONT)
            return false; /* a continuation with nothing before it */
        end = run_end(pa, i, &kind);
        if (kind == 1) {
            used += end - i;
            live++;
        } else if (kind == 2) {
            occ += end - i;
        }
        i = end;
    }
    return used == pa->used && occ == pa->occupied && live == pa->live && pa->peak >= pa->used;
}
