/* SPDX-License-Identifier: MIT */
/*
 * buddy.c - the binary buddy allocator with tail reuse (see buddy.h). Included by
 * bench_alloc.c after kernel_bitmap.c (whose spinlock it uses).
 */
#include "buddy.h"

size_t buddy_meta_bytes(uint64_t npages)
{
    if (npages == 0 || npages > ((uint64_t)1 << BUDDY_MAX_ORDER) || npages > SIZE_MAX / 16)
        return 0;
    return (size_t)npages * (2 * sizeof(uint32_t) + 1);
}

static unsigned buddy_order(uint64_t pages)
{
    return pages <= 1 ? 0u : 64u - (unsigned)__builtin_clzll(pages - 1);
}

uint64_t buddy_footprint(uint64_t pages)
{
    return pages;
}

/* Puts the free block of order k at p onto its list. Lock held. */
static void buddy_push(struct buddy *b, uint32_t p, unsigned k)
{
    uint32_t first = b->list[k];

    b->head[p] = (uint8_t)(k + 1);
    b->prev[p] = BUDDY_NIL;
    b->next[p] = first;
    if (first != BUDDY_NIL)
        b->prev[first] = p;
    b->list[k] = p;
    b->nonempty |= (uint32_t)1 << k;
}

/* Takes the free block of order k at p off its list. Lock held. */
static void buddy_unlink(struct buddy *b, uint32_t p, unsigned k)
{
    uint32_t n = b->next[p], pv = b->prev[p];

    b->head[p] = 0;
    if (pv != BUDDY_NIL)
        b->next[pv] = n;
    else if ((b->list[k] = n) == BUDDY_NIL)
        b->nonempty &= ~((uint32_t)1 << k);
    if (n != BUDDY_NIL)
        b->prev[n] = pv;
}

/* Frees the block of order k at p, merging with its free buddies. Lock held. */
static void buddy_put(struct buddy *b, uint64_t p, unsigned k)
{
    while (k < b->max_order) {
        uint64_t q = p ^ ((uint64_t)1 << k);

        if (q + ((uint64_t)1 << k) > b->npages || b->head[q] != k + 1)
            break;
        buddy_unlink(b, (uint32_t)q, k);
        p &= ~((uint64_t)1 << k);
        k++;
    }
    buddy_push(b, (uint32_t)p, k);
}

/* The order of the largest naturally aligned block that starts at p and ends by end. */
static unsigned piece_order(uint64_t p, uint64_t end)
{
    unsigned k = p ? (unsigned)__builtin_ctzll(p) : 63u;
    unsigned fit = 63u - (unsigned)__builtin_clzll(end - p);

    return k < fit ? k : fit;
}

void buddy_init(struct buddy *b, uint64_t npages, void *meta)
{
    uint8_t *m = (uint8_t *)meta;

    b->next = (uint32_t *)m;
    b->prev = (uint32_t *)(m + npages * sizeof(uint32_t));
    b->head = m + 2 * npages * sizeof(uint32_t);
    b->npages = npages;
    b->nfree = npages;
    b->nonempty = 0;
    b->lock = 0;
    b->max_order = 63u - (unsigned)__builtin_clzll(npages);
    for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++)
        b->list[k] = BUDDY_NIL;
    for (uint64_t p = 0; p < npages; p++)
        b->head[p] = 0;
    /* the region as naturally aligned blocks, from page 0 upwards */
    for (uint64_t p = 0; p < npages;) {
        unsigned k = piece_order(p, npages);

        buddy_push(b, (uint32_t)p, k);
        p += (uint64_t)1 << k;
    }
}

int buddy_alloc(struct buddy *b, uint64_t pages, uint64_t *page)
{
    unsigned k = buddy_order(pages), j;
    uint32_t avail;
    uint64_t p, end;

    if (pages == 0 || k > b->max_order)
        return -1;
    kbm_lock(&b->lock);
    avail = b->nonempty & ~(((uint32_t)1 << k) - 1);
    if (avail == 0) {
        kbm_unlock(&b->lock);
        return -1;
    }
    j = (unsigned)__builtin_ctz(avail);
    p = b->list[j];
    buddy_unlink(b, (uint32_t)p, j);
    while (j > k) { /* halve: the upper half goes onto the list below */
        j--;
        buddy_push(b, (uint32_t)(p + ((uint64_t)1 << j)), j);
    }
    /* the tail [p + pages, p + 2^k) back as free pieces (none can merge now) */
    end = p + ((uint64_t)1 << k);
    for (uint64_t q = p + pages; q < end;) {
        unsigned o = piece_order(q, end);

        buddy_push(b, (uint32_t)q, o);
        q += (uint64_t)1 << o;
    }
    b->nfree -= pages;
    kbm_unlock(&b->lock);
    *page = p;
    return 0;
}

void buddy_free(struct buddy *b, uint64_t page, uint64_t pages)
{
    uint64_t end = page + pages;

    kbm_lock(&b->lock);
    for (uint64_t q = page; q < end;) {
        unsigned o = piece_order(q, end);

        buddy_put(b, q, o);
        q += (uint64_t)1 << o;
    }
    b->nfree += pages;
    kbm_unlock(&b->lock);
}
