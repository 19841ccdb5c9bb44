/* SPDX-License-Identifier: MIT */
/*
 * pages.c - the region page allocator: O(log n) aligned best fit over free runs, about four
 * bits of state per granule, out of band.
 *
 * The problem. A request for n granules must start at an absolute index (device base /
 * granule + offset) that is a multiple of A = 2^ceil(log2 n) (Linux's dma_alloc_coherent
 * promise), or of a smaller cap the region asked for. Only n granules are taken, never A: the
 * unused tail of the aligned block stays free for others. The kernel's declared-memory
 * allocator keeps one bit per page and scans from page 0: O(pool) per call.
 *
 * The state, all in one array of 64-bit words that follows struct dmacoh__pa (offsets, no
 * pointers, so it may live in memory mapped at different addresses in several processes):
 *
 *  1. Kinds: two bits per granule, FREE / HEAD (first granule of an allocation) / OCC (first
 *     granule of an occupied range) / CONT (continues the run before). They make every free
 *     checkable (a double free finds no HEAD, a wrong size finds the run longer or shorter).
 *  2. A busy summary over the kind words: a hierarchical bitmap, one bit per kind word saying
 *     "some granule here is not free", 64 to a word per level. The nearest busy granule before
 *     or after any point, and so the free run around it, is found in O(log64 n) word reads.
 *  3. Free-run classes. Every maximal free run of length L, 2^c <= L < 2^(c+1), is filed in
 *     the class-c index under its anchor: the first granule of the run whose offset has its
 *     low c bits all set (one exists, because the run is at least 2^c long; two runs never
 *     share one). The class-c index is a hierarchical bitmap of n >> c bits, except class 0:
 *     its runs are single free granules, never two side by side (they would be one run), so
 *     one bit per pair of granules names the run, and which of the two it is comes from the
 *     kinds. All classes together take 1.5n bits; finding, adding or removing a run is
 *     O(log64 n).
 *
 * Total: 2 + 1.5 + about 1/16 bits per granule, plus a header of about 100 bytes and 24 bytes
 * per class (count, best-fit cursor, first-fit floor).
 *
 * Placement. A run of length L >= n + A - 1 always holds an aligned fit; shorter runs of the
 * classes log2(n) .. may or may not, depending on where they start.
 *  - First fit, while nothing has been freed since the region was declared or last empty (and
 *    always in a DMACOH_PLACE_FIRST_FIT region): the lowest-addressed fit, so that allocations
 *    of one size come out at ascending addresses (design.md rule 11). The lowest run of each
 *    class that always fits is a candidate; the runs of the classes that may not fit are
 *    looked at in address order below the best candidate, at most FF_PROBES misfits per class.
 *    Past that bound the answer is the lowest fit looked at, and a floor per alignment level
 *    keeps later requests of that level above it until the next free (lowest_fit).
 *  - Best fit, after a free: classes are tried from the smallest that could hold n upwards, at
 *    most PROBES runs of each, and the shortest fitting run of the first class that has one
 *    wins (this kept about 91 % of a pool in use at first failure in simulation, where first
 *    fit stayed near 80 % and "smallest aligned buddy block" fell to 69 %). Classes that always
 *    fit give their lowest-addressed runs; classes that may not fit resume from a per-class
 *    cursor, so runs that did not fit once are not probed first every time. The block goes at
 *    the run's start when that is aligned, else at its end when that is, else at the first
 *    aligned granule, so that the leftover stays in one piece where it can.
 *
 * Cost. Best fit: at most PROBES runs in each of the (at most two or three) classes that may
 * not fit, plus one class lookup, each O(log64 n); free: two neighbour lookups and three index
 * updates. First fit adds one lookup per nonempty class and at most FF_PROBES misfit runs in
 * each class that may not fit. A free also lowers the first-fit floors that are set (a mask
 * names them; usually none). Marking the n granules of the block itself costs n/32 word
 * writes, which the zeroing of those n granules dwarfs. One granule in best fit (the
 * commonest request) has a short path with the same result (single_alloc, single_free).
 *
 * DEVIATION(kernel): in best fit, bounded probing means a request can fail while a run that
 * would hold it exists: when no free run of pow2ceil(n + A - 1) granules exists and the probed
 * runs of the smaller classes hold no fit; and, under a DMA limit inside the region, when the
 * lowest PROBES runs of each class do not. In first fit, likewise when more than FF_PROBES
 * misfit runs of a class lie below the fit, and none is found above the runs looked at. The
 * kernel's first fit over every page would find it, at O(pool) cost.
 *
 * Largest free run: kept exact on every insertion; when the last run of that length is
 * consumed it is marked stale and recomputed on the next read from the runs of the top
 * nonempty class only (reading it is O(1) otherwise; the recount visits every run of that
 * class, n/2 of them at worst, under the region lock). Free granules are a counter.
 */
#include "internal.h"

#define LO        0x5555555555555555ull /* the low bit of every 2-bit field */
#define NONE      UINT64_MAX
#define PROBES    8
#define FF_PROBES 32 /* misfit runs looked at per class in first fit */

void (*dmacoh__step_fn)(unsigned step);

/* ---- word storage ---- */

static uint64_t *W(const struct dmacoh__pa *pa)
{
    /* The words follow the struct; the cast drops const for the shared helpers. */
    return (uint64_t *)(uintptr_t)(pa + 1);
}

/* ---- hierarchical bitmaps ----
 *
 * Descriptor of bitmap h (0: busy summary, 1 + c: class c) at W[h * stride]: the level count,
 * then the word offset and the word count of each level, level 0 (the leaf bits) first. The top
 * level is one word.
 */
struct hb {
    const uint64_t *d; /* d[0] levels, d[1 + L] offset, d[1 + maxlev + L] words */
    uint64_t *w;
    uint64_t maxlev;
};

static struct hb hb_get(const struct dmacoh__pa *pa, uint64_t h)
{
    struct hb b;

    b.w = W(pa);
    b.d = b.w + h * pa->stride;
    b.maxlev = (pa->stride - 1) / 2;
    return b;
}

static uint64_t hb_off(const struct hb *b, uint64_t L)
{
    return b->d[1 + L];
}

static uint64_t hb_words(const struct hb *b, uint64_t L)
{
    return b->d[1 + b->maxlev + L];
}

/* hb_set and hb_clear climb only while a word goes from or to zero. The level count and the
 * word values are held in locals: words and descriptor are uint64_t of one array, so the
 * compiler would otherwise read them again after every store. */
static void hb_set(const struct hb *b, uint64_t i)
{
    uint64_t levels = b->d[0];

    for (uint64_t L = 0; L < levels; L++, i >>= 6) {
        uint64_t *w = &b->w[hb_off(b, L) + (i >> 6)];
        uint64_t was = *w;

        *w = was | (1ull << (i & 63));
        if (was)
            return;
    }
}

static void hb_clear(const struct hb *b, uint64_t i)
{
    uint64_t levels = b->d[0];

    for (uint64_t L = 0; L < levels; L++, i >>= 6) {
        uint64_t *w = &b->w[hb_off(b, L) + (i >> 6)];
        uint64_t now = *w & ~(1ull << (i & 63));

        *w = now;
        if (now)
            return;
    }
}

static bool hb_test(const struct hb *b, uint64_t i)
{
    return (b->w[hb_off(b, 0) + (i >> 6)] >> (i & 63)) & 1u;
}

/* Goes down from set bit p of level L to the lowest (or highest) set leaf below it. */
static uint64_t hb_down(const struct hb *b, uint64_t L, uint64_t p, bool high)
{
    while (L > 0) {
        uint64_t w;

        L--;
        w = b->w[hb_off(b, L) + p];
        p = (p << 6) + (high ? 63u - (uint64_t)__builtin_clzll(w) : (uint64_t)__builtin_ctzll(w));
    }
    return p;
}

/* First set bit >= i, or NONE. */
static uint64_t hb_next(const struct hb *b, uint64_t i)
{
    for (uint64_t L = 0; L < b->d[0]; L++) {
        uint64_t k = i >> 6, x;

        if (k >= hb_words(b, L))
            return NONE;
        x = b->w[hb_off(b, L) + k] & (~0ull << (i & 63));
        if (x)
            return hb_down(b, L, (k << 6) + (uint64_t)__builtin_ctzll(x), false);
        i = k + 1;
    }
    return NONE;
}

/* First set bit, or NONE: from the top word down, where hb_next(b, 0) climbs from a low word
 * that is often empty (the lowest runs are the first taken). */
static uint64_t hb_first(const struct hb *b)
{
    uint64_t top = b->d[0] - 1, w = b->w[hb_off(b, top)];

    return w ? hb_down(b, top, (uint64_t)__builtin_ctzll(w), false) : NONE;
}

/* Last set bit <= i, or NONE. */
static uint64_t hb_prev(const struct hb *b, uint64_t i)
{
    for (uint64_t L = 0; L < b->d[0]; L++) {
        uint64_t k = i >> 6, x;
        unsigned s = (unsigned)(i & 63);

        if (k >= hb_words(b, L)) {
            k = hb_words(b, L) - 1;
            s = 63;
        }
        x = b->w[hb_off(b, L) + k] & (s == 63 ? ~0ull : (2ull << s) - 1);
        if (x)
            return hb_down(b, L, (k << 6) + 63u - (uint64_t)__builtin_clzll(x), true);
        if (k == 0)
            return NONE;
        i = k - 1;
    }
    return NONE;
}

/* Levels of a hierarchical bitmap of `bits` bits (64-way, down to one top word). */
static uint64_t hb_levels(uint64_t bits)
{
    uint64_t lev = 1, words = (bits + 63) / 64;

    while (words > 1) {
        words = (words + 63) / 64;
        lev++;
    }
    return lev;
}

/* ---- kinds ---- */

static uint64_t *kinds(const struct dmacoh__pa *pa)
{
    return W(pa) + pa->kind_off;
}

/* Kind words are read with relaxed atomic loads: parking (below) flips a HEAD to OCC and
 * back without the region lock, on other granules of the same word. */
static uint64_t kload(const struct dmacoh__pa *pa, uint64_t k)
{
    return __atomic_load_n(&kinds(pa)[k], __ATOMIC_RELAXED);
}

static unsigned get(const struct dmacoh__pa *pa, uint64_t i)
{
    return (unsigned)(kload(pa, i >> 5) >> (2 * (i & 31))) & 3u;
}

/* Mask of the fields for granules [lo, hi) of one word, 0 <= lo < hi <= 32. */
static uint64_t field_mask(unsigned lo, unsigned hi)
{
    /* A shift of 0 to 62: no branch for the whole word (hi - lo is at random on a free). */
    return (~0ull >> (64 - 2 * (hi - lo))) << (2 * lo);
}

/* Keeps the busy summary in step with kind word k going from `was` to `now`. */
static void summarise(struct dmacoh__pa *pa, uint64_t k, uint64_t was, uint64_t now)
{
    if ((was == 0) != (now == 0)) {
        struct hb busy = hb_get(pa, 0);

        if (now)
            hb_set(&busy, k);
        else
            hb_clear(&busy, k);
    }
}

/* Sets the fields `m` of kind word k to `bits`; returns the word before. With parking on, other
 * fields of the word may change under us (HEAD <-> OCC), so the update is a compare-and-swap. */
static uint64_t kstore(struct dmacoh__pa *pa, uint64_t k, uint64_t m, uint64_t bits, uint64_t *now)
{
    uint64_t *w = &kinds(pa)[k], was = kload(pa, k);

    if (!pa->concurrent) {
        *now = (was & ~m) | bits;
        __atomic_store_n(w, *now, __ATOMIC_RELAXED);
        return was;
    }
    do
        *now = (was & ~m) | bits;
    while (!__atomic_compare_exchange_n(w, &was, *now, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return was;
}

/* Gives granule a kind `head` and granules (a, b) kind `rest`, keeping the busy summary in
 * step. One pass; the summary is touched only where a word turns empty or non-empty (parking
 * never changes that: HEAD and OCC are both busy). */
static void fill(struct dmacoh__pa *pa, uint64_t a, uint64_t b, unsigned head, unsigned rest)
{
    uint64_t pattern = LO * rest, first = a;

    if (b == a + 1) { /* one granule: one field of one word */
        uint64_t sh = 2 * (a & 31), was, now;

        was = kstore(pa, a >> 5, 3ull << sh, (uint64_t)head << sh, &now);
        summarise(pa, a >> 5, was, now);
        return;
    }
    while (a < b) {
        uint64_t k = a >> 5, end = (k + 1) << 5, m, bits, was, now;

        if (end > b)
            end = b;
        m = field_mask((unsigned)(a & 31), (unsigned)(end - (k << 5)));
        bits = pattern & m;
        if (a == first)
            bits = (bits & ~(3ull << (2 * (a & 31)))) | ((uint64_t)head << (2 * (a & 31)));
        was = kstore(pa, k, m, bits, &now);
        summarise(pa, k, was, now);
        a = end;
        DMACOH__STEP(90); /* between two words of one block */
    }
}

/* Busy granules of word k, as the low bit of each field. */
static uint64_t busy_bits(uint64_t w)
{
    return (w | (w >> 1)) & LO;
}

/* First granule at or after x that is not FREE, or ngranules. */
static uint64_t next_busy(const struct dmacoh__pa *pa, uint64_t x)
{
    struct hb busy;
    uint64_t k = x >> 5, u, j;

    if (x >= pa->ngranules)
        return pa->ngranules;
    u = busy_bits(kload(pa, k)) & field_mask((unsigned)(x & 31), 32);
    if (u)
        return (k << 5) + (uint64_t)(__builtin_ctzll(u) / 2);
    busy = hb_get(pa, 0);
    j = hb_next(&busy, k + 1);
    if (j == NONE)
        return pa->ngranules;
    return (j << 5) + (uint64_t)(__builtin_ctzll(busy_bits(kload(pa, j))) / 2);
}

/* One past the last granule before x that is not FREE, or 0: where the free run ending at x
 * begins. */
static uint64_t prev_busy_end(const struct dmacoh__pa *pa, uint64_t x)
{
    struct hb busy;
    uint64_t k, u, j;

    if (x == 0)
        return 0;
    k = (x - 1) >> 5;
    u = busy_bits(kload(pa, k)) & field_mask(0, (unsigned)((x - 1) & 31) + 1);
    if (u)
        return (k << 5) + (uint64_t)((63 - __builtin_clzll(u)) / 2) + 1;
    if (k == 0)
        return 0;
    busy = hb_get(pa, 0);
    j = hb_prev(&busy, k - 1);
    if (j == NONE)
        return 0;
    return (j << 5) + (uint64_t)((63 - __builtin_clzll(busy_bits(kload(pa, j)))) / 2) + 1;
}

/* ---- free-run classes ---- */

static uint64_t *ccount(const struct dmacoh__pa *pa)
{
    return W(pa) + pa->count_off;
}

static uint64_t *cursor(const struct dmacoh__pa *pa)
{
    return W(pa) + pa->count_off + pa->nclasses;
}

/* First-fit floors, one per alignment level (log2 of the alignment, 0 .. nclasses), then the
 * mask of the levels whose floor is not 0 (see lowest_fit). */
static uint64_t *floors(const struct dmacoh__pa *pa)
{
    return W(pa) + pa->count_off + 2 * pa->nclasses;
}

static uint64_t *floor_mask(const struct dmacoh__pa *pa)
{
    return floors(pa) + pa->nclasses + 1;
}

static unsigned cls(uint64_t len)
{
    return dmacoh__log2(len);
}

/* Granules per index bit of class c: 2^c, except class 0, whose runs (single free granules)
 * are never next to each other (two would be one run), so one bit per pair of granules names
 * it: the pair's other granule is busy. */
static unsigned cshift(unsigned c)
{
    return c ? c : 1u;
}

/* Bits of the class-c index of a region of n granules. */
static uint64_t class_bits(uint64_t n, uint64_t c)
{
    return c ? n >> c : (n >> 1) + (n & 1);
}

static uint64_t anchor(uint64_t s, unsigned c)
{
    return (s | (((uint64_t)1 << c) - 1)) >> cshift(c);
}

/* Files free run [s, e) in its class (add) or takes it out; keeps the counts and the
 * longest-run figure. Empty runs are ignored. */
static void run_file(struct dmacoh__pa *pa, uint64_t s, uint64_t e, bool add)
{
    unsigned c;
    struct hb b;
    uint64_t len = e - s;

    if (s >= e)
        return;
    c = cls(len);
    b = hb_get(pa, 1 + c);
    if (add) {
        hb_set(&b, anchor(s, c));
        if (ccount(pa)[c]++ == 0)
            pa->classmask |= 1ull << c;
        pa->runs++;
        if (!pa->largest_stale && len >= pa->largest) {
            pa->nlargest = len == pa->largest ? pa->nlargest + 1 : 1;
            pa->largest = len;
        }
    } else {
        hb_clear(&b, anchor(s, c));
        if (--ccount(pa)[c] == 0)
            pa->classmask &= ~(1ull << c);
        pa->runs--;
        if (!pa->largest_stale && len == pa->largest && --pa->nlargest == 0)
            pa->largest_stale = true;
    }
}

static void run_add(struct dmacoh__pa *pa, uint64_t s, uint64_t e)
{
    run_file(pa, s, e, true);
}

static void run_del(struct dmacoh__pa *pa, uint64_t s, uint64_t e)
{
    run_file(pa, s, e, false);
}

/* The free run holding anchor bit i of class c. */
static void run_at(const struct dmacoh__pa *pa, unsigned c, uint64_t i, uint64_t *s, uint64_t *e)
{
    uint64_t a;

    if (c == 0) { /* a single free granule: whichever of pair i is free */
        a = i << 1;
        if (get(pa, a) != DMACOH__G_FREE)
            a++;
        *s = a;
        *e = a + 1;
        return;
    }
    a = (i << c) | (((uint64_t)1 << c) - 1);
    *s = prev_busy_end(pa, a);
    *e = next_busy(pa, a);
}

/* ---- sizes and set-up ---- */

/* Word layout for n granules; returns the total word count, 0 on overflow. */
static uint64_t layout(uint64_t n, uint64_t *stride, uint64_t *nclasses, uint64_t *count_off,
                       uint64_t *kind_off)
{
    uint64_t maxlev = hb_levels(n), nc = (uint64_t)cls(n) + 1, nk = (n + 31) / 32, total;
    uint64_t bits[65];

    *stride = 1 + 2 * maxlev;
    *nclasses = nc;
    *count_off = (1 + nc) * *stride;
    *kind_off = *count_off + 3 * nc + 2; /* counts, cursors, nc + 1 floors, the floor mask */
    total = *kind_off + nk;
    bits[0] = nk;
    for (uint64_t c = 0; c < nc; c++)
        bits[1 + c] = class_bits(n, c);
    for (uint64_t h = 0; h <= nc; h++) {
        for (uint64_t words = (bits[h] + 63) / 64;; words = (words + 63) / 64) {
            total += words;
            if (words <= 1)
                break;
        }
    }
    return total;
}

uint64_t dmacoh__pa_state_size(uint64_t ngranules)
{
    uint64_t stride, nc, co, ko, total;

    /* 2^60 granules would need 2^59 bytes of state: far beyond any machine, and the bound
     * keeps every count below in range. */
    if (ngranules == 0 || ngranules > ((uint64_t)1 << 60))
        return 0;
    total = layout(ngranules, &stride, &nc, &co, &ko);
    if (total > (UINT64_MAX - sizeof(struct dmacoh__pa)) / 8)
        return 0;
    return sizeof(struct dmacoh__pa) + total * 8;
}

/* Lays out the words for pa->ngranules and writes every bitmap descriptor; the descriptors'
 * words must be zero. Returns the word count of the layout. */
static uint64_t describe(struct dmacoh__pa *pa)
{
    uint64_t n = pa->ngranules, nc, total, at, *w = W(pa);

    total = layout(n, &pa->stride, &nc, &pa->count_off, &pa->kind_off);
    pa->nclasses = nc;
    at = pa->kind_off + (n + 31) / 32;
    for (uint64_t h = 0; h <= nc; h++) {
        uint64_t *d = w + h * pa->stride, maxlev = (pa->stride - 1) / 2, L = 0;
        uint64_t bits = h == 0 ? (n + 31) / 32 : class_bits(n, h - 1);

        for (uint64_t words = (bits + 63) / 64;; words = (words + 63) / 64, L++) {
            d[1 + L] = at;
            d[1 + maxlev + L] = words;
            at += words;
            if (words <= 1)
                break;
        }
        d[0] = L + 1;
    }
    return total;
}

void dmacoh__pa_init(struct dmacoh__pa *pa, uint64_t ngranules, uint64_t base_g)
{
    uint64_t nc, total, *w = W(pa);

    pa->ngranules = ngranules;
    pa->base_g = base_g;
    pa->used = pa->occupied = pa->peak = pa->live = 0;
    pa->runs = 0;
    pa->classmask = 0;
    pa->largest = 0;
    pa->nlargest = 0;
    pa->largest_stale = false;
    pa->first_fit = true;
    pa->always_first_fit = false;
    pa->concurrent = false;
    pa->owners_off = pa->owner = 0;
    pa->j_op = pa->j_off = pa->j_n = 0;
    total = layout(ngranules, &pa->stride, &nc, &pa->count_off, &pa->kind_off);
    for (uint64_t k = 0; k < total; k++)
        w[k] = 0;
    pa->nwords = describe(pa);
    run_add(pa, 0, ngranules);
}

/* ---- owner records and the journal (shared regions) ---- */

static uint8_t *owners(const struct dmacoh__pa *pa)
{
    return (uint8_t *)(W(pa) + pa->owners_off);
}

static uint64_t owner_words(uint64_t n)
{
    return (n + 7) / 8;
}

uint64_t dmacoh__pa_owned_size(uint64_t ngranules)
{
    uint64_t base = dmacoh__pa_state_size(ngranules);

    if (base == 0)
        return 0;
    return base + owner_words(ngranules) * 8;
}

void dmacoh__pa_init_owned(struct dmacoh__pa *pa, uint64_t ngranules, uint64_t base_g)
{
    dmacoh__pa_init(pa, ngranules, base_g);
    pa->owners_off = pa->nwords;
    pa->nwords += owner_words(ngranules);
    for (uint64_t k = pa->owners_off; k < pa->nwords; k++)
        W(pa)[k] = 0;
    pa->owner = 0;
    pa->j_op = pa->j_off = pa->j_n = 0;
}

/* Opens the journal for an operation on [off, off + n): the range first, then the op, so that
 * a reader that sees the op sees its range. The stores are ordered for the compiler only: a
 * process that dies has its earlier stores visible to the next locker, which the kernel's
 * lock hand-over orders after them. */
static void j_open(struct dmacoh__pa *pa, uint64_t op, uint64_t off, uint64_t n)
{
    if (!pa->owners_off)
        return;
    pa->j_off = off;
    pa->j_n = n;
    __atomic_store_n(&pa->j_op, op, __ATOMIC_RELEASE);
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* no store of the operation before it */
    DMACOH__STEP(80 + (unsigned)op);         /* journalled, nothing changed yet */
}

static void j_close(struct dmacoh__pa *pa, uint64_t off, uint8_t owner)
{
    if (!pa->owners_off)
        return;
    DMACOH__STEP(84); /* changed, owner not yet recorded */
    owners(pa)[off] = owner;
    DMACOH__STEP(85);                        /* all done but the journal */
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* every store of the operation before it */
    __atomic_store_n(&pa->j_op, (uint64_t)DMACOH__J_NONE, __ATOMIC_RELEASE);
}

/* ---- allocation ---- */

/* Smallest offset >= off whose absolute index is a multiple of align. */
static uint64_t align_up(const struct dmacoh__pa *pa, uint64_t off, uint64_t align)
{
    uint64_t abs = pa->base_g + off;

    return off + ((align - (abs & (align - 1))) & (align - 1));
}

/* Where n granules aligned to `align` go in free run [s, e) without passing `end`, or NONE if
 * they do not fit. First fit takes the first aligned granule, so that allocations of one size
 * ascend; best fit keeps the leftover in one piece where it can: the run's start when that is
 * aligned, else its end when that is, else the first aligned granule. */
static uint64_t place(const struct dmacoh__pa *pa, uint64_t s, uint64_t e, uint64_t n,
                      uint64_t align, uint64_t end, bool lowest)
{
    uint64_t p;

    if (e > end)
        e = end;
    if (e < s + n)
        return NONE;
    p = align_up(pa, s, align);
    if (p > e - n)
        return NONE;
    if (!lowest && p != s && ((pa->base_g + e - n) & (align - 1)) == 0)
        return e - n;
    return p;
}

struct pick {
    uint64_t s, e, p; /* run and placement; p == NONE while nothing fits */
};

/* Looks at up to `probes` runs of class c from anchor bit `from` on (wrapping to 0 once),
 * keeping in *best the shortest fitting run (first fit: the lowest-addressed one). Returns the
 * anchor bit after the last run looked at, for the class cursor. */
static uint64_t probe(struct dmacoh__pa *pa, unsigned c, uint64_t from, unsigned probes, uint64_t n,
                      uint64_t align, uint64_t end, bool lowest, struct pick *best)
{
    struct hb b = hb_get(pa, 1 + c);
    uint64_t i = hb_next(&b, from), min_len = (uint64_t)1 << c;
    bool wrapped = false;

    for (; probes > 0; probes--) {
        uint64_t s, e, p;

        if (i == NONE || (wrapped && i >= from)) {
            if (wrapped || from == 0)
                return 0;
            wrapped = true;
            i = hb_next(&b, 0);
            if (i == NONE || i >= from)
                return 0;
        }
        run_at(pa, c, i, &s, &e);
        if (s >= end && from == 0)
            return 0; /* in address order: nothing later starts below the limit */
        p = place(pa, s, e, n, align, end, lowest);
        if (p != NONE) {
            bool better =
                best->p == NONE || (lowest ? p < best->p
                                           : (e - s < best->e - best->s ||
                                              (e - s == best->e - best->s && p < best->p)));

            if (better) {
                best->s = s;
                best->e = e;
                best->p = p;
            }
            if (lowest || e - s == min_len)
                return i + 1; /* nothing later in this class beats it */
        }
        i = hb_next(&b, i + 1);
    }
    return i == NONE ? 0 : i;
}

/* Keeps p in *best if it is the lowest fit so far. */
static void lower(struct pick *best, uint64_t s, uint64_t e, uint64_t p)
{
    if (p != NONE && (best->p == NONE || p < best->p)) {
        best->s = s;
        best->e = e;
        best->p = p;
    }
}

/* The lowest-addressed fit at or above granule `from`. The free run holding `from` is looked
 * at first, clipped to start there. In a class whose runs all fit (2^c >= sure_len) the lowest
 * run above `from` is the answer for that class, even under a DMA limit (higher runs start
 * higher). In the classes below (at most two: a run shorter than n + align - 1 and at least n
 * long), runs are looked at in address order until one fits, until they start above the best
 * fit found so far, or until FF_PROBES runs of the class did not fit. Returns true if that
 * bound cut a class short: the answer is then the lowest fit among the runs looked at, not
 * necessarily the lowest in the region. O(FF_PROBES log64 n). */
static bool lowest_from(struct dmacoh__pa *pa, uint64_t from, uint64_t mask, uint64_t n,
                        uint64_t align, uint64_t end, uint64_t sure_len, struct pick *best)
{
    uint64_t cut_at = NONE; /* the lowest run a class stopped at without looking further */

    if (from >= end)
        return false;
    if (from > 0 && get(pa, from) == DMACOH__G_FREE) {
        uint64_t s = prev_busy_end(pa, from), e = next_busy(pa, from);

        lower(best, s, e, place(pa, from, e, n, align, end, true));
    }
    /* The classes that surely fit first, so that the best of them bounds the others' scan. */
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t m = mask; m; m &= m - 1) {
            unsigned c = (unsigned)__builtin_ctzll(m);
            struct hb b = hb_get(pa, 1 + c);
            bool sure = ((uint64_t)1 << c) >= sure_len;
            unsigned misses = 0;

            if (sure != (pass == 0))
                continue;
            for (uint64_t i = hb_next(&b, from >> cshift(c)); i != NONE; i = hb_next(&b, i + 1)) {
                uint64_t s, e, p;

                run_at(pa, c, i, &s, &e);
                if (s < from)
                    continue; /* the run holding `from`, looked at above */
                if (s >= end || (best->p != NONE && s >= best->p))
                    break;
                p = place(pa, s, e, n, align, end, true);
                if (p != NONE) {
                    lower(best, s, e, p);
                    break;
                }
                if (sure)
                    break; /* under the limit: the runs above start higher still */
                if (++misses == FF_PROBES) {
                    if (s < cut_at)
                        cut_at = s;
                    break;
                }
            }
        }
    }
    /* Cut short only if runs not looked at may lie below the answer. */
    return cut_at != NONE && (best->p == NONE || cut_at < best->p);
}

/* First fit. Exact (the lowest-addressed aligned fit in the region) unless more than FF_PROBES
 * runs of one of the request's "may not fit" classes lie below the answer and none of them
 * fits; then the lowest fit among the runs looked at. So that allocations of one size still
 * ascend between two frees (design.md rule 11), such a cut placement raises the floor of its
 * alignment level to where it went, and later requests of that level look only above their
 * floor. Every free lowers the floors to 0 again. A request that finds nothing above its floor
 * looks from granule 0 (bounded the same way) rather than fail: succeeding comes before order.
 */
static void lowest_fit(struct dmacoh__pa *pa, uint64_t mask, uint64_t n, uint64_t align,
                       uint64_t end, uint64_t sure_len, struct pick *best)
{
    unsigned lev = dmacoh__log2(align);
    uint64_t from;

    if (lev > pa->nclasses)
        lev = (unsigned)pa->nclasses;
    from = floors(pa)[lev];
    if (lowest_from(pa, from, mask, n, align, end, sure_len, best) && best->p != NONE &&
        best->p > from) {
        floors(pa)[lev] = best->p;
        *floor_mask(pa) |= 1ull << lev;
    }
    if (best->p == NONE && from > 0)
        (void)lowest_from(pa, 0, mask, n, align, end, sure_len, best);
}

/* Every floor back to 0 (a free: ascending order is promised between frees only). */
static void floors_reset(struct dmacoh__pa *pa)
{
    uint64_t *m = floor_mask(pa);

    for (; *m; *m &= *m - 1)
        floors(pa)[__builtin_ctzll(*m)] = 0;
}

/* ---- one granule, best fit, a private region used under its lock only ----
 *
 * A driver's small buffers: the same result as the general path below (the lowest single free
 * granule, from class 0; a free between two busy granules files a class-0 run), in a few word
 * operations, without its generality. Not while first fit holds (it looks at every class), in
 * a shared region (the journal and the crash steps) or while per-thread caches park blocks
 * without the lock (kinds change by compare-and-swap then). */
static bool single_ok(const struct dmacoh__pa *pa)
{
    return !pa->first_fit && !pa->always_first_fit && !pa->concurrent && !pa->owners_off;
}

/* The counts after a free of n granules (region lock held). */
static void freed(struct dmacoh__pa *pa, uint64_t n)
{
    floors_reset(pa);
    pa->used -= n;
    pa->live--;
    /* Ascending order is promised only while nothing is freed; an empty region starts over
     * (not once per-thread caching is on: cached blocks still count as live). */
    pa->first_fit = pa->live == 0 && !pa->concurrent;
}

/* The short path writes out what fill and run_file do for one granule and class 0: through
 * them it costs about 150 instructions a pair more (17 %; fill's compare-and-swap branch and
 * run_file's class lookup). The model and invariant tests in test_pages hold both to the same
 * state.
 *
 * Granule `at` gets kind `to` (one field of its word), the busy summary kept. */
static void single_set(struct dmacoh__pa *pa, uint64_t at, unsigned to)
{
    uint64_t k = at >> 5, sh = 2 * (at & 31), was = kload(pa, k);
    uint64_t now = (was & ~(3ull << sh)) | ((uint64_t)to << sh);

    __atomic_store_n(&kinds(pa)[k], now, __ATOMIC_RELAXED);
    summarise(pa, k, was, now);
}

static uint64_t single_alloc(struct dmacoh__pa *pa)
{
    struct hb b = hb_get(pa, 1);
    uint64_t i = hb_first(&b);
    /* Which granule of the pair: without a branch, as it is either at random. */
    uint64_t a = (i << 1) + (get(pa, i << 1) != DMACOH__G_FREE);

    hb_clear(&b, i);
    /* Class 0's count hovers near zero in a busy region: its bit is set without a branch. */
    pa->classmask = (pa->classmask & ~1ull) | (--ccount(pa)[0] != 0);
    pa->runs--;
    if (!pa->largest_stale && pa->largest == 1 && --pa->nlargest == 0)
        pa->largest_stale = true;
    single_set(pa, a, DMACOH__G_HEAD);
    pa->used++;
    pa->live++;
    if (pa->used > pa->peak)
        pa->peak = pa->used;
    return a;
}

/* Frees the one-granule allocation at off if both neighbours are busy (then it becomes a
 * class-0 run of its own); false, changing nothing, if it is not such a block. */
static bool single_free(struct dmacoh__pa *pa, uint64_t off)
{
    uint64_t k = off >> 5, sh = 2 * (off & 31), was = kload(pa, k), now;
    unsigned next, prev;
    struct hb b;

    if (((was >> sh) & 3u) != DMACOH__G_HEAD)
        return false;
    /* The neighbours, from the same word unless off is at its edge; the region's ends count
     * as busy. */
    next = off + 1 >= pa->ngranules ? DMACOH__G_OCC
           : (off & 31) != 31       ? (unsigned)(was >> (sh + 2)) & 3u
                                    : get(pa, off + 1);
    prev = off == 0     ? DMACOH__G_OCC
           : (off & 31) ? (unsigned)(was >> (sh - 2)) & 3u
                        : get(pa, off - 1);
    /* One branch, not three: which neighbour is free is at random. */
    if ((next == DMACOH__G_FREE) | (next == DMACOH__G_CONT) | (prev == DMACOH__G_FREE))
        return false;
    /* single_set(pa, off, FREE) with the word already read: through it, 19 instructions a
     * pair more (callgrind, 2^18 pages). */
    now = was & ~(3ull << sh);
    __atomic_store_n(&kinds(pa)[k], now, __ATOMIC_RELAXED);
    summarise(pa, k, was, now);
    b = hb_get(pa, 1);
    hb_set(&b, off >> 1);
    ccount(pa)[0]++;
    pa->classmask |= 1ull;
    pa->runs++;
    if (!pa->largest_stale && pa->largest <= 1) {
        pa->nlargest = pa->largest == 1 ? pa->nlargest + 1 : 1;
        pa->largest = 1;
    }
    freed(pa, 1);
    return true;
}

int dmacoh__pa_alloc(struct dmacoh__pa *pa, uint64_t n, uint64_t align, uint64_t limit,
                     uint64_t *off)
{
    uint64_t end = limit < pa->ngranules ? limit : pa->ngranules, sure_len, mask;
    bool capped = end < pa->ngranules, lowest = pa->first_fit || pa->always_first_fit;
    struct pick best = {0, 0, NONE};

    /* First, before the general checks: a class-0 run is a free granule, so one fits. */
    if (n == 1 && align == 1 && !capped && (pa->classmask & 1u) && single_ok(pa)) {
        *off = single_alloc(pa);
        return 0;
    }
    if (n == 0 || n > end || n > pa->ngranules - pa->used - pa->occupied || !dmacoh__is_pow2(align))
        return DMACOH_ENOMEM;
    /* Runs at least this long hold an aligned fit wherever they start. */
    sure_len = align - 1 > UINT64_MAX - n ? UINT64_MAX : n + align - 1;
    mask = pa->classmask & (~0ull << cls(n));
    if (lowest) {
        lowest_fit(pa, mask, n, align, end, sure_len, &best);
        mask = 0;
    } else if (n == 1 && align == 1 && !capped && (mask & 1u)) {
        /* One granule, best fit: any single free granule is a perfect fit. */
        struct hb b = hb_get(pa, 1);

        run_at(pa, 0, hb_first(&b), &best.s, &best.e);
        best.p = best.s;
        mask = 0;
    }
    while (mask) {
        unsigned c = (unsigned)__builtin_ctzll(mask);
        bool sure = !capped && ((uint64_t)1 << c) >= sure_len;

        mask &= mask - 1;
        if (sure || capped) {
            /* Lowest-addressed runs first: every run here fits (or, under a DMA limit, the
             * low ones are the ones that can). */
            (void)probe(pa, c, 0, PROBES, n, align, end, false, &best);
        } else {
            cursor(pa)[c] = probe(pa, c, cursor(pa)[c], PROBES, n, align, end, false, &best);
        }
        if (best.p != NONE)
            break;
    }
    if (best.p == NONE)
        return DMACOH_ENOMEM;
    j_open(pa, DMACOH__J_ALLOC, best.p, n);
    run_del(pa, best.s, best.e);
    DMACOH__STEP(91);
    fill(pa, best.p, best.p + n, DMACOH__G_HEAD, DMACOH__G_CONT);
    DMACOH__STEP(92);
    run_add(pa, best.s, best.p);
    run_add(pa, best.p + n, best.e);
    pa->used += n;
    pa->live++;
    if (pa->used > pa->peak)
        pa->peak = pa->used;
    j_close(pa, best.p, (uint8_t)pa->owner);
    *off = best.p;
    return 0;
}

/* True if granules [a, b) are all CONT. */
static bool all_cont(const struct dmacoh__pa *pa, uint64_t a, uint64_t b)
{
    while (a < b) {
        uint64_t k = a >> 5, end = (k + 1) << 5, m;

        if (end > b)
            end = b;
        m = field_mask((unsigned)(a & 31), (unsigned)(end - (k << 5)));
        if ((kload(pa, k) & m) != (LO & m))
            return false;
        a = end;
    }
    return true;
}

/* Changes the kind of granule i from `from` to `to` atomically; false if it was not `from`. */
static bool claim(struct dmacoh__pa *pa, uint64_t i, unsigned from, unsigned to)
{
    uint64_t *w = &kinds(pa)[i >> 5], was = kload(pa, i >> 5), sh = 2 * (i & 31);

    do {
        if (((was >> sh) & 3u) != from)
            return false;
    } while (!__atomic_compare_exchange_n(w, &was, (was & ~(3ull << sh)) | ((uint64_t)to << sh),
                                          true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return true;
}

/* The allocation of n granules at off is well formed: HEAD, n - 1 CONTs, no CONT after. */
static int well_formed(const struct dmacoh__pa *pa, uint64_t off, uint64_t n)
{
    unsigned k;

    if (off >= pa->ngranules)
        return DMACOH_EFAULT;
    k = get(pa, off);
    if (k == DMACOH__G_OCC)
        return DMACOH_EPERM;
    if (k != DMACOH__G_HEAD)
        return DMACOH_EFAULT;
    if (n == 0 || n > pa->ngranules - off || !all_cont(pa, off + 1, off + n))
        return DMACOH_EINVAL;
    if (off + n < pa->ngranules && get(pa, off + n) == DMACOH__G_CONT)
        return DMACOH_EINVAL;
    return 0;
}

void dmacoh__pa_set_concurrent(struct dmacoh__pa *pa)
{
    pa->concurrent = true;
    pa->first_fit = false; /* cached blocks come back last in, first out */
}

int dmacoh__pa_park(struct dmacoh__pa *pa, uint64_t off, uint64_t n)
{
    if (off >= pa->ngranules)
        return DMACOH_EFAULT;
    if (n == 0 || n > pa->ngranules - off)
        return DMACOH_EINVAL;
    /* Claim first: while the head reads OCC, no locked free touches the block, so the shape
     * checked next cannot change under us (a racing free of it finds OCC and waits for the
     * caches, whose lock the caller holds). */
    if (!claim(pa, off, DMACOH__G_HEAD, DMACOH__G_OCC))
        return get(pa, off) == DMACOH__G_OCC ? DMACOH_EPERM : DMACOH_EFAULT;
    if (!all_cont(pa, off + 1, off + n) ||
        (off + n < pa->ngranules && get(pa, off + n) == DMACOH__G_CONT)) {
        (void)claim(pa, off, DMACOH__G_OCC, DMACOH__G_HEAD);
        return DMACOH_EINVAL;
    }
    return 0;
}

void dmacoh__pa_unpark(struct dmacoh__pa *pa, uint64_t off)
{
    /* OCC (11) to HEAD (10): clear the field's low bit. */
    __atomic_fetch_and(&kinds(pa)[off >> 5], ~(1ull << (2 * (off & 31))), __ATOMIC_RELAXED);
}

/* Gives the n granules at off, whose head was just claimed (or is about to be rewritten under
 * the lock), back to the free runs. */
static void give_back(struct dmacoh__pa *pa, uint64_t off, uint64_t n)
{
    uint64_t s = prev_busy_end(pa, off), e = next_busy(pa, off + n);

    run_del(pa, s, off);
    run_del(pa, off + n, e);
    DMACOH__STEP(93);
    fill(pa, off, off + n, DMACOH__G_FREE, DMACOH__G_FREE);
    DMACOH__STEP(94);
    run_add(pa, s, e);
    freed(pa, n);
}

int dmacoh__pa_free(struct dmacoh__pa *pa, uint64_t off, uint64_t n, bool handle_ok)
{
    int r;

    if (n == 1 && handle_ok && off < pa->ngranules && single_ok(pa) && single_free(pa, off))
        return 0;
    r = well_formed(pa, off, n);

    /* Checked in this order: not an allocation start, occupied, handle, length. */
    if (r == DMACOH_EFAULT || r == DMACOH_EPERM)
        return r;
    if (!handle_ok)
        return DMACOH_EINVAL;
    if (r)
        return r;
    if (pa->concurrent) {
        /* The claim is where this free and a racing park of the same block are ordered. */
        if (!claim(pa, off, DMACOH__G_HEAD, DMACOH__G_FREE))
            return get(pa, off) == DMACOH__G_OCC ? DMACOH_EPERM : DMACOH_EFAULT;
        summarise(pa, off >> 5, 1, kload(pa, off >> 5)); /* the word had a HEAD */
    }
    j_open(pa, DMACOH__J_FREE, off, n);
    give_back(pa, off, n);
    j_close(pa, off, 0);
    return 0;
}

int dmacoh__pa_free_parked(struct dmacoh__pa *pa, uint64_t off, uint64_t n)
{
    /* Straight from OCC to FREE: never HEAD in between, where a second free could park it. */
    if (off >= pa->ngranules || n == 0 || n > pa->ngranules - off ||
        !claim(pa, off, DMACOH__G_OCC, DMACOH__G_FREE))
        return DMACOH_EFAULT;
    summarise(pa, off >> 5, 1, kload(pa, off >> 5));
    give_back(pa, off, n);
    return 0;
}

int dmacoh__pa_reserve(struct dmacoh__pa *pa, uint64_t off, uint64_t n)
{
    uint64_t s, e;

    if (n == 0 || off >= pa->ngranules || n > pa->ngranules - off)
        return DMACOH_ERANGE;
    if (next_busy(pa, off) < off + n)
        return DMACOH_EBUSY;
    s = prev_busy_end(pa, off);
    e = next_busy(pa, off + n);
    j_open(pa, DMACOH__J_RESERVE, off, n);
    run_del(pa, s, e);
    fill(pa, off, off + n, DMACOH__G_OCC, DMACOH__G_CONT);
    run_add(pa, s, off);
    run_add(pa, off + n, e);
    pa->occupied += n;
    j_close(pa, off, 0);
    return 0;
}

/* ---- queries (not on the allocation path) ---- */

/* End of the run that starts at i: an allocation or occupied range with its CONTs, or a
 * stretch of FREE granules. Proportional to the run's own length. */
static uint64_t run_end(const struct dmacoh__pa *pa, uint64_t i, unsigned *kind)
{
    unsigned s = get(pa, i);
    uint64_t j = i + 1;

    if (s == DMACOH__G_FREE) {
        *kind = 0;
        return next_busy(pa, i);
    }
    *kind = (s == DMACOH__G_OCC) ? 2u : 1u;
    while (j < pa->ngranules) {
        uint64_t k = j >> 5, w = kload(pa, k);
        uint64_t m = field_mask((unsigned)(j & 31), 32);
        uint64_t notcont = (w ^ LO) & m; /* nonzero fields: granules that are not CONT */

        if (notcont) {
            j = (k << 5) + (uint64_t)(__builtin_ctzll(notcont) / 2);
            break;
        }
        j = (k + 1) << 5;
    }
    return j < pa->ngranules ? j : pa->ngranules;
}

void dmacoh__pa_find(const struct dmacoh__pa *pa, uint64_t i, uint64_t *start, uint64_t *n,
                     int *kind)
{
    unsigned k;
    uint64_t s = i, end;

    if (get(pa, i) == DMACOH__G_FREE) {
        s = prev_busy_end(pa, i);
    } else {
        while (get(pa, s) == DMACOH__G_CONT)
            s--; /* dmacoh__pa_check guarantees a HEAD or OCC before every CONT */
    }
    end = run_end(pa, s, &k);
    *start = s;
    *n = end - s;
    *kind = (int)k;
}

uint64_t dmacoh__pa_free_mask(const struct dmacoh__pa *pa, uint64_t a, unsigned cnt)
{
    uint64_t free = ~busy_bits(kload(pa, a >> 5) >> (2 * (a & 31))) & LO, m = 0;

    for (unsigned j = 0; j < cnt; j++)
        m |= ((free >> (2 * j)) & 1u) << j;
    return m;
}

uint64_t dmacoh__pa_largest_free(struct dmacoh__pa *pa)
{
    unsigned c;
    struct hb b;
    uint64_t best = 0, count = 0;

    if (!pa->largest_stale)
        return pa->largest;
    if (pa->classmask) {
        c = 63u - (unsigned)__builtin_clzll(pa->classmask);
        b = hb_get(pa, 1 + c);
        for (uint64_t i = hb_next(&b, 0); i != NONE; i = hb_next(&b, i + 1)) {
            uint64_t s, e;

            run_at(pa, c, i, &s, &e);
            if (e - s > best) {
                best = e - s;
                count = 1;
            } else if (e - s == best) {
                count++;
            }
        }
    }
    pa->largest = best;
    pa->nlargest = count;
    pa->largest_stale = false;
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

/* ---- the invariant checker: O(n), for tests and fuzzing ---- */

/* Every summary bit of bitmap h says whether the word below is nonzero, and no bit is set past
 * the bits the level holds. */
static bool hb_ok(const struct dmacoh__pa *pa, uint64_t h, uint64_t bits, uint64_t *set)
{
    struct hb b = hb_get(pa, h);
    uint64_t below = bits;

    *set = 0;
    for (uint64_t L = 0; L < b.d[0]; L++) {
        uint64_t nw = hb_words(&b, L);

        if (nw != (below + 63) / 64)
            return false;
        for (uint64_t k = 0; k < nw; k++) {
            uint64_t w = b.w[hb_off(&b, L) + k];

            if (k == nw - 1 && (below & 63) && (w >> (below & 63)))
                return false;
            if (L == 0)
                *set += (uint64_t)__builtin_popcountll(w);
            else
                for (uint64_t j = 0; j < 64 && (k << 6) + j < below; j++)
                    if ((bool)((w >> j) & 1u) != (b.w[hb_off(&b, L - 1) + (k << 6) + j] != 0))
                        return false;
        }
        below = nw;
    }
    return below == 1;
}

/* The header and the bitmap descriptors are what dmacoh__pa_init wrote for this size. */
static bool layout_ok(const struct dmacoh__pa *pa)
{
    uint64_t stride, nc, co, ko, total, at, *w = W(pa);

    if (pa->ngranules == 0 || pa->ngranules > ((uint64_t)1 << 60))
        return false;
    total = layout(pa->ngranules, &stride, &nc, &co, &ko);
    if (pa->owners_off && pa->owners_off != total)
        return false;
    if (pa->owners_off)
        total += owner_words(pa->ngranules);
    if (stride != pa->stride || nc != pa->nclasses || co != pa->count_off || ko != pa->kind_off ||
        total != pa->nwords)
        return false;
    at = ko + (pa->ngranules + 31) / 32;
    for (uint64_t h = 0; h <= nc; h++) {
        const uint64_t *d = w + h * stride;
        uint64_t maxlev = (stride - 1) / 2, L = 0;
        uint64_t bits = h == 0 ? (pa->ngranules + 31) / 32 : class_bits(pa->ngranules, h - 1);

        for (uint64_t words = (bits + 63) / 64;; words = (words + 63) / 64, L++) {
            if (d[1 + L] != at || d[1 + maxlev + L] != words)
                return false;
            at += words;
            if (words <= 1)
                break;
        }
        if (d[0] != L + 1)
            return false;
        for (L = d[0]; L < maxlev; L++)
            if (d[1 + L] != 0 || d[1 + maxlev + L] != 0)
                return false;
    }
    return at == (pa->owners_off ? pa->owners_off : total);
}

bool dmacoh__pa_check(const struct dmacoh__pa *pa)
{
    uint64_t used = 0, occ = 0, live = 0, runs = 0, i = 0, nk = (pa->ngranules + 31) / 32;
    uint64_t largest = 0, nlargest = 0, set, mask = 0;
    unsigned tail = (unsigned)(pa->ngranules & 31);
    struct hb busy = hb_get(pa, 0);

    if (!layout_ok(pa))
        return false;
    if (pa->owners_off && pa->j_op != DMACOH__J_NONE)
        return false; /* an operation left half done */
    if (tail && (kload(pa, nk - 1) >> (2 * tail)) != 0)
        return false; /* fields past the end must stay FREE */
    if (!hb_ok(pa, 0, nk, &set))
        return false;
    for (uint64_t k = 0; k < nk; k++)
        if (hb_test(&busy, k) != (kload(pa, k) != 0))
            return false;
    for (uint64_t c = 0; c < pa->nclasses; c++) {
        if (!hb_ok(pa, 1 + c, class_bits(pa->ngranules, c), &set) || set != ccount(pa)[c])
            return false;
        if (set)
            mask |= 1ull << c;
        if (cursor(pa)[c] > class_bits(pa->ngranules, c))
            return false;
    }
    if (mask != pa->classmask)
        return false;
    /* Floors: inside the region, and the mask names exactly the ones not 0. */
    for (uint64_t lev = 0; lev <= pa->nclasses; lev++)
        if (floors(pa)[lev] >= pa->ngranules ||
            (floors(pa)[lev] != 0) != ((*floor_mask(pa) >> lev) & 1u))
            return false;
    if (*floor_mask(pa) >> pa->nclasses >> 1)
        return false;
    while (i < pa->ngranules) {
        unsigned s = get(pa, i), kind;
        uint64_t end;

        if (s == DMACOH__G_CONT)
            return false; /* a continuation with nothing before it */
        end = run_end(pa, i, &kind);
        if (pa->owners_off)
            for (uint64_t g = i; g < end; g++)
                if ((owners(pa)[g] != 0) != (kind == 1 && g == i))
                    return false; /* an owner byte off a head, or a head without one */
        if (kind == 1) {
            used += end - i;
            live++;
        } else if (kind == 2) {
            occ += end - i;
        } else {
            unsigned c = cls(end - i);
            struct hb b = hb_get(pa, 1 + c);

            if (!hb_test(&b, anchor(i, c)))
                return false; /* a free run missing from its class */
            runs++;
            if (end - i > largest) {
                largest = end - i;
                nlargest = 1;
            } else if (end - i == largest) {
                nlargest++;
            }
        }
        i = end;
    }
    set = 0;
    for (uint64_t c = 0; c < pa->nclasses; c++)
        set += ccount(pa)[c];
    if (runs != pa->runs || set != runs)
        return false; /* each class holds exactly the runs found: no stale anchors */
    if (!pa->largest_stale && (largest != pa->largest || nlargest != pa->nlargest))
        return false;
    return used == pa->used && occ == pa->occupied && live == pa->live && pa->peak >= pa->used;
}

/* ---- recovery of an owned state after its updater died (shared regions) ---- */

/* Sets granules [a, b) FREE without touching the index (which is rebuilt next). */
static void raw_free(struct dmacoh__pa *pa, uint64_t a, uint64_t b)
{
    for (uint64_t i = a; i < b; i++)
        kinds(pa)[i >> 5] &= ~(3ull << (2 * (i & 31)));
}

void dmacoh__pa_recover(struct dmacoh__pa *pa, uint64_t ngranules, uint64_t base_g)
{
    uint64_t n = ngranules, nc, total, *w = W(pa), nk = (n + 31) / 32, i, owners_off;
    uint64_t peak = pa->peak, keep[64];
    bool always = pa->always_first_fit, freed = pa->j_op == DMACOH__J_FREE;
    struct hb busy;

    /* The size and the owner bytes' place from the caller, not the state. */
    pa->ngranules = n;
    pa->base_g = base_g;
    owners_off = layout(n, &pa->stride, &nc, &pa->count_off, &pa->kind_off);
    pa->owners_off = owners_off;

    /* The journalled operation: a free is finished, an allocation or a reservation undone. */
    if (pa->j_op != DMACOH__J_NONE && pa->j_off < n && pa->j_n <= n - pa->j_off) {
        raw_free(pa, pa->j_off, pa->j_off + pa->j_n);
        owners(pa)[pa->j_off] = 0;
    }
    pa->j_op = DMACOH__J_NONE;
    /* The layout and the bitmap descriptors again, as dmacoh__pa_init writes them. */
    total = layout(n, &pa->stride, &nc, &pa->count_off, &pa->kind_off);
    /* First-fit floors survive (allocations of one size still ascend), unless the operation
     * finished here was a free, which lowers them all; a floor outside the region is dropped. */
    for (uint64_t lev = 0; lev <= nc; lev++) {
        uint64_t f = w[pa->count_off + 2 * nc + lev];

        keep[lev] = freed || f >= n ? 0 : f;
    }
    for (uint64_t k = 0; k < (1 + nc) * pa->stride; k++)
        w[k] = 0;
    (void)describe(pa);
    for (uint64_t k = pa->count_off; k < pa->kind_off; k++)
        w[k] = 0; /* class counts, cursors, floors and their mask */
    for (uint64_t lev = 0; lev <= nc; lev++) {
        floors(pa)[lev] = keep[lev];
        if (keep[lev])
            *floor_mask(pa) |= 1ull << lev;
    }
    for (uint64_t k = pa->kind_off + nk; k < total; k++)
        w[k] = 0; /* every bitmap level */
    pa->owners_off = owners_off;
    pa->nwords = total + owner_words(n);
    if (n & 31)
        kinds(pa)[nk - 1] &= (1ull << (2 * (n & 31))) - 1; /* nothing past the end */
    /* Kinds: a continuation with no head before it becomes free. */
    for (i = 0; i < n; i++) {
        unsigned k = get(pa, i);

        if (k == DMACOH__G_CONT && (i == 0 || get(pa, i - 1) == DMACOH__G_FREE))
            raw_free(pa, i, i + 1);
    }
    busy = hb_get(pa, 0);
    for (uint64_t k = 0; k < nk; k++)
        if (kload(pa, k))
            hb_set(&busy, k);
    pa->used = pa->occupied = pa->live = pa->runs = 0;
    pa->classmask = pa->largest = pa->nlargest = 0;
    pa->largest_stale = false;
    pa->concurrent = false;
    pa->always_first_fit = always;
    for (i = 0; i < n;) {
        unsigned kind;
        uint64_t end = run_end(pa, i, &kind);

        if (kind == 0) {
            run_add(pa, i, end);
        } else if (kind == 1) {
            pa->used += end - i;
            pa->live++;
        } else {
            pa->occupied += end - i;
        }
        if (owners_off)
            for (uint64_t g = i; g < end; g++)
                if (kind != 1 || g != i)
                    owners(pa)[g] = 0;
        i = end;
    }
    pa->peak = peak > pa->used ? peak : pa->used;
    pa->first_fit = pa->live == 0;
}
