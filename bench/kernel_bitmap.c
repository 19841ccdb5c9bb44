/* SPDX-License-Identifier: MIT */
/*
 * kernel_bitmap.c - the baseline allocator (see kernel_bitmap.h): one bit per page, requests
 * rounded to 2^order pages, the first free window found by testing aligned positions from
 * page 0 upwards. Included by bench_alloc.c.
 */
#include "kernel_bitmap.h"

static void kbm_lock(uint32_t *l)
{
    for (;;) {
        if (__atomic_exchange_n(l, 1u, __ATOMIC_ACQUIRE) == 0)
            return;
        while (__atomic_load_n(l, __ATOMIC_RELAXED) != 0) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }
}

static void kbm_unlock(uint32_t *l)
{
    __atomic_store_n(l, 0u, __ATOMIC_RELEASE);
}

size_t kbm_bitmap_bytes(uint64_t npages)
{
    return (size_t)((npages + 63) / 64) * sizeof(uint64_t);
}

void kbm_init(struct kbm *kb, uint64_t npages, uint64_t *bitmap)
{
    uint64_t nwords = (npages + 63) / 64;

    kb->bitmap = bitmap;
    kb->npages = npages;
    kb->low = 0;
    kb->lock = 0;
    for (uint64_t w = 0; w < nwords; w++)
        bitmap[w] = 0;
}

unsigned kbm_order(uint64_t pages)
{
    return pages <= 1 ? 0u : 64u - (unsigned)__builtin_clzll(pages - 1);
}

uint64_t kbm_footprint(uint64_t pages)
{
    return (uint64_t)1 << kbm_order(pages);
}

/* True if the 2^order bits at pos (a multiple of 2^order) are all clear. Below 64 bits the
 * window lies inside one word; from 64 bits on it is whole words. */
static bool window_free(const uint64_t *bm, uint64_t pos, unsigned order)
{
    if (order < 6) {
        uint64_t mask = (((uint64_t)1 << (1u << order)) - 1) << (pos & 63);

        return (bm[pos >> 6] & mask) == 0;
    }
    for (uint64_t w = pos >> 6, end = w + ((uint64_t)1 << (order - 6)); w < end; w++) {
        if (bm[w])
            return false;
    }
    return true;
}

/* Sets (set) or clears the 2^order bits at pos. */
static void window_mark(uint64_t *bm, uint64_t pos, unsigned order, bool set)
{
    if (order < 6) {
        uint64_t mask = (((uint64_t)1 << (1u << order)) - 1) << (pos & 63);

        if (set)
            bm[pos >> 6] |= mask;
        else
            bm[pos >> 6] &= ~mask;
        return;
    }
    for (uint64_t w = pos >> 6, end = w + ((uint64_t)1 << (order - 6)); w < end; w++)
        bm[w] = set ? ~(uint64_t)0 : 0;
}

/* Tries positions start, start + 2^order, ... (start a multiple of 2^order). Lock held. */
static int scan_from(struct kbm *kb, uint64_t start, unsigned order, uint64_t *page)
{
    uint64_t step = (uint64_t)1 << order;

    for (uint64_t pos = start; step <= kb->npages && pos <= kb->npages - step; pos += step) {
        if (window_free(kb->bitmap, pos, order)) {
            window_mark(kb->bitmap, pos, order, true);
            *page = pos;
            return 0;
        }
    }
    return -1;
}

int kbm_alloc(struct kbm *kb, uint64_t pages, uint64_t *page)
{
    unsigned order = kbm_order(pages);
    int r;

    if (pages == 0 || pages > kb->npages)
        return -1;
    kbm_lock(&kb->lock);
    r = scan_from(kb, 0, order, page);
    kbm_unlock(&kb->lock);
    return r;
}

int kbm_alloc_fast(struct kbm *kb, uint64_t pages, uint64_t *page)
{
    unsigned order = kbm_order(pages);
    uint64_t step = (uint64_t)1 << order, w, nwords = (kb->npages + 63) / 64;
    int r;

    if (pages == 0 || pages > kb->npages)
        return -1;
    kbm_lock(&kb->lock);
    /* Raise the lower bound to the lowest free page: whole used words are skipped. */
    w = kb->low >> 6;
    while (w < nwords && kb->bitmap[w] == ~(uint64_t)0)
        w++;
    if (w >= nwords) {
        kb->low = kb->npages;
    } else {
        uint64_t bits = ~kb->bitmap[w];

        if ((w << 6) < kb->low)
            bits &= ~(uint64_t)0 << (kb->low & 63);
        kb->low = bits ? (w << 6) + (uint64_t)__builtin_ctzll(bits) : (w + 1) << 6;
        if (kb->low > kb->npages)
            kb->low = kb->npages;
    }
    /* No window that starts below the lowest free page can be free, so the first free window
     * at or after it (rounded up to the alignment) is the one kbm_alloc() finds. */
    r = scan_from(kb, (kb->low + step - 1) & ~(step - 1), order, page);
    kbm_unlock(&kb->lock);
    return r;
}

void kbm_free(struct kbm *kb, uint64_t page, uint64_t pages)
{
    kbm_lock(&kb->lock);
    window_mark(kb->bitmap, page, kbm_order(pages), false);
    if (page < kb->low)
        kb->low = page;
    kbm_unlock(&kb->lock);
}

uint64_t kbm_largest_free(const struct kbm *kb)
{
    uint64_t best = 0, run = 0;

    for (uint64_t p = 0; p < kb->npages; p++) {
        if (kb->bitmap[p >> 6] & ((uint64_t)1 << (p & 63))) {
            run = 0;
        } else if (++run > best) {
            best = run;
        }
    }
    return best;
}
