/* SPDX-License-Identifier: MIT */
/*
 * iova.c - device addresses a platform chooses for system memory (the VFIO platform's IOVAs),
 * and the anonymous memory behind them.
 *
 * The space is a few usable ranges (what the IOMMU driver reports, clipped to the caller's
 * bounds), a table of live blocks sorted by IOVA, and the held ranges: device addresses that
 * already name other memory (declared regions), which a block must never overlap, or one DMA
 * handle would name two memories. A new block goes in the lowest gap that holds it at the
 * asked alignment, below the device's mask; the table also answers frees (which block starts
 * at this CPU address) and both translations. Ranges are compared by their last byte, never
 * by an exclusive end, which is 0 for a block at the top of the 64-bit space. Everything is a
 * linear scan: system-memory fallback hands out few, large blocks (the core's pools carve
 * small ones from them), so simplicity wins over a tree. The caller serialises access.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_2M (2ull << 20)

void dmacoh__iova_clip(struct dmacoh__iova_space *s, uint64_t lo, uint64_t hi)
{
    unsigned n = 0;

    for (unsigned i = 0; i < s->nranges; i++) {
        struct dmacoh__iova_range r = s->range[i];

        if (r.lo < lo)
            r.lo = lo;
        if (r.hi > hi)
            r.hi = hi;
        if (r.lo <= r.hi)
            s->range[n++] = r;
    }
    s->nranges = n;
}

static uint64_t align_up(uint64_t x, uint64_t a, bool *wrap)
{
    if (x > UINT64_MAX - (a - 1)) {
        *wrap = true;
        return 0;
    }
    return (x + a - 1) & ~(a - 1);
}

/* Whether [at, last] overlaps a live block or a held range; if so *end is the last byte of
 * one that does. Ends are inclusive (iova + len - 1), so a block that ends at 2^64 - 1 is
 * never mistaken for one that ends at 0. */
static bool taken(const struct dmacoh__iova_space *s, uint64_t at, uint64_t last, uint64_t *end)
{
    for (size_t i = 0; i < s->nblk; i++) {
        uint64_t lo = s->blk[i].iova, hi = lo + (s->blk[i].len - 1);

        if (lo > last)
            break; /* sorted by IOVA: the rest lie above */
        if (hi >= at) {
            *end = hi;
            return true;
        }
    }
    for (size_t i = 0; i < s->nheld; i++) {
        if (s->held[i].lo <= last && s->held[i].hi >= at) {
            *end = s->held[i].hi;
            return true;
        }
    }
    return false;
}

/* First fit of len bytes aligned to align in [lo, hi] outside the live blocks and held
 * ranges: 0 with *iova set, or -1. Each step moves the candidate past something it overlaps,
 * so the loop ends. */
static int fit_in(const struct dmacoh__iova_space *s, uint64_t lo, uint64_t hi, uint64_t len,
                  uint64_t align, uint64_t *iova)
{
    bool wrap = false;
    uint64_t at = align_up(lo, align, &wrap), end = 0;

    while (!wrap && at <= hi && hi - at >= len - 1) {
        if (!taken(s, at, at + (len - 1), &end)) {
            *iova = at;
            return 0;
        }
        if (end == UINT64_MAX)
            return -1; /* what is in the way reaches the top of the space */
        at = align_up(end + 1, align, &wrap);
    }
    return -1;
}

int dmacoh__iova_pick(const struct dmacoh__iova_space *s, uint64_t len, uint64_t align,
                      uint64_t mask, uint64_t *iova)
{
    bool below = false;

    if (len == 0 || align == 0 || (align & (align - 1)))
        return DMACOH_EINVAL;
    for (unsigned i = 0; i < s->nranges; i++) {
        uint64_t lo = s->range[i].lo, hi = s->range[i].hi < mask ? s->range[i].hi : mask;

        if (lo > hi)
            continue;
        below = true;
        if (fit_in(s, lo, hi, len, align, iova) == 0)
            return 0;
    }
    return below ? DMACOH_ENOMEM : DMACOH_ERANGE;
}

size_t dmacoh__iova_live_in(const struct dmacoh__iova_space *s, uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < s->nblk; i++)
        if (s->blk[i].iova <= hi && s->blk[i].iova + (s->blk[i].len - 1) >= lo)
            return i;
    return s->nblk;
}

/* arr (n used of *cap elements of `size` bytes) with room for one more: itself, or moved to
 * twice the capacity (from `first`); NULL when there is no memory (arr and *cap unchanged). */
static void *room(void *arr, size_t n, size_t *cap, size_t size, size_t first)
{
    size_t c = *cap ? *cap * 2 : first;
    void *p;

    if (n < *cap)
        return arr;
    p = realloc(arr, c * size);
    if (p)
        *cap = c;
    return p;
}

int dmacoh__iova_hold(struct dmacoh__iova_space *s, uint64_t lo, uint64_t hi, const void *key)
{
    struct dmacoh__iova_held *held;

    if (dmacoh__iova_live_in(s, lo, hi) < s->nblk)
        return DMACOH_EBUSY;
    held = room(s->held, s->nheld, &s->capheld, sizeof(*held), 8);
    if (!held)
        return DMACOH_ENOMEM;
    s->held = held;
    s->held[s->nheld++] = (struct dmacoh__iova_held){lo, hi, key};
    return 0;
}

bool dmacoh__iova_unhold(struct dmacoh__iova_space *s, const void *key)
{
    for (size_t i = 0; i < s->nheld; i++) {
        if (s->held[i].key == key) {
            s->held[i] = s->held[--s->nheld];
            return true;
        }
    }
    return false;
}

int dmacoh__iova_insert(struct dmacoh__iova_space *s, const struct dmacoh__iova_blk *b)
{
    struct dmacoh__iova_blk *blk = room(s->blk, s->nblk, &s->capblk, sizeof(*blk), 16);
    size_t i = 0;

    if (!blk)
        return DMACOH_ENOMEM;
    s->blk = blk;
    while (i < s->nblk && s->blk[i].iova < b->iova)
        i++;
    memmove(&s->blk[i + 1], &s->blk[i], (s->nblk - i) * sizeof(*b));
    s->blk[i] = *b;
    s->nblk++;
    return 0;
}

void dmacoh__iova_remove(struct dmacoh__iova_space *s, size_t i)
{
    memmove(&s->blk[i], &s->blk[i + 1], (s->nblk - i - 1) * sizeof(s->blk[0]));
    s->nblk--;
}

void dmacoh__iova_fini(struct dmacoh__iova_space *s)
{
    free(s->blk);
    s->blk = NULL;
    s->nblk = s->capblk = 0;
    free(s->held);
    s->held = NULL;
    s->nheld = s->capheld = 0;
}

size_t dmacoh__iova_find(const struct dmacoh__iova_space *s, const void *cpu)
{
    size_t i;

    for (i = 0; i < s->nblk && s->blk[i].cpu != (const char *)cpu; i++)
        ;
    return i;
}

dmacoh_dma_addr_t dmacoh__iova_virt_to_dma(const struct dmacoh__iova_space *s, const void *cpu)
{
    uintptr_t p = (uintptr_t)cpu;

    for (size_t i = 0; i < s->nblk; i++) {
        uintptr_t b = (uintptr_t)s->blk[i].cpu;

        if (p >= b && p - b < s->blk[i].size)
            return s->blk[i].iova + (p - b);
    }
    return DMACOH_BAD_DMA_ADDR;
}

void *dmacoh__iova_dma_to_virt(const struct dmacoh__iova_space *s, dmacoh_dma_addr_t dma)
{
    for (size_t i = 0; i < s->nblk; i++)
        if (dma >= s->blk[i].iova && dma - s->blk[i].iova < s->blk[i].size)
            return s->blk[i].cpu + (dma - s->blk[i].iova);
    return NULL;
}

char *dmacoh__linux_alloc_anon(uint64_t len, uint64_t align, bool huge, int *err)
{
    uint64_t unit = (uint64_t)sysconf(_SC_PAGESIZE), slack;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    uintptr_t base, at;
    void *p;

    if (huge && len % HUGE_2M == 0) {
        flags |= MAP_HUGETLB;
        unit = HUGE_2M;
    }
    slack = align > unit ? align - unit : 0; /* room to slide to an aligned address */
    if (slack > SIZE_MAX || len > SIZE_MAX - slack) {
        *err = DMACOH_ENOMEM;
        return NULL;
    }
    p = mmap(NULL, (size_t)(len + slack), PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) {
        *err = DMACOH_ENOMEM;
        dmacoh__err("no %s memory for %llu bytes: %s",
                    (flags & MAP_HUGETLB) ? "hugetlb (are huge pages reserved?)" : "anonymous",
                    (unsigned long long)len, strerror(errno));
        return NULL;
    }
    if (!slack)
        return p;
    base = (uintptr_t)p;
    at = (base + (uintptr_t)(align - 1)) & ~(uintptr_t)(align - 1);
    if (at > base)
        munmap(p, at - base);
    if (base + slack > at)
        munmap((void *)(at + (uintptr_t)len), (size_t)(base + slack - at));
    return (char *)at;
}
