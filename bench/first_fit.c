/* SPDX-License-Identifier: MIT */
/*
 * first_fit.c - bitmap first fit with the alignment promise (see first_fit.h). Included by
 * bench_alloc.c after kernel_bitmap.c (whose spinlock it uses).
 */
#include "first_fit.h"

size_t ff_bitmap_bytes(uint64_t npages)
{
    return (size_t)((npages + 63) / 64) * sizeof(uint64_t);
}

void ff_init(struct ff *f, uint64_t npages, uint64_t *bitmap)
{
    f->bitmap = bitmap;
    f->npages = npages;
    f->low = 0;
    f->lock = 0;
    for (uint64_t w = 0; w < (npages + 63) / 64; w++)
        bitmap[w] = 0;
}

uint64_t ff_footprint(uint64_t pages)
{
    return pages;
}

/* The first bit in [from, limit) whose value is `set`, or limit when none (limit <= npages). */
static uint64_t ff_next(const struct ff *f, uint64_t from, uint64_t limit, bool set)
{
    uint64_t nwords = (limit + 63) / 64, w = from >> 6, bits;

    if (from >= limit)
        return limit;
    bits = (set ? f->bitmap[w] : ~f->bitmap[w]) & (~(uint64_t)0 << (from & 63));
    while (bits == 0) {
        if (++w >= nwords)
            return limit;
        bits = set ? f->bitmap[w] : ~f->bitmap[w];
    }
    from = (w << 6) + (uint64_t)__builtin_ctzll(bits);
    return from < limit ? from : limit;
}

/* Sets (set) or clears bits [p, p + n). */
static void ff_mark(uint64_t *bm, uint64_t p, uint64_t n, bool set)
{
    while (n > 0) {
        unsigned off = (unsigned)(p & 63);
        uint64_t take = 64 - off < n ? 64 - off : n;
        uint64_t mask = (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1)) << off;

        if (set)
            bm[p >> 6] |= mask;
        else
            bm[p >> 6] &= ~mask;
        p += take;
        n -= take;
    }
}

/* The search from `start`. Lock held. */
static int ff_search(struct ff *f, uint64_t start, uint64_t pages, uint64_t *page)
{
    uint64_t mask = (pages <= 1 ? 1 : (uint64_t)1 << (64 - __builtin_clzll(pages - 1))) - 1;

    for (;;) {
        uint64_t c = ff_next(f, start, f->npages, false), end;

        c = (c + mask) & ~mask;
        if (c >= f->npages || pages > f->npages - c)
            return -1;
        end = ff_next(f, c, c + pages, true); /* only the candidate's bits are read */
        if (end >= c + pages) {
            ff_mark(f->bitmap, c, pages, true);
            *page = c;
            return 0;
        }
        start = end + 1;
    }
}

int ff_alloc(struct ff *f, uint64_t pages, uint64_t *page)
{
    int r;

    if (pages == 0 || pages > f->npages)
        return -1;
    kbm_lock(&f->lock);
    r = ff_search(f, 0, pages, page);
    kbm_unlock(&f->lock);
    return r;
}

int ff_alloc_fast(struct ff *f, uint64_t pages, uint64_t *page)
{
    int r;

    if (pages == 0 || pages > f->npages)
        return -1;
    kbm_lock(&f->lock);
    f->low = ff_next(f, f->low, f->npages, false);
    /* no clear bit lies below low, so no candidate ff_alloc() could take starts below it */
    r = ff_search(f, f->low, pages, page);
    kbm_unlock(&f->lock);
    return r;
}

void ff_free(struct ff *f, uint64_t page, uint64_t pages)
{
    kbm_lock(&f->lock);
    ff_mark(f->bitmap, page, pages, false);
    if (page < f->low)
        f->low = page;
    kbm_unlock(&f->lock);
}
