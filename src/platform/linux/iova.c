/* SPDX-License-Identifier: MIT */
/*
 * iova.c - device addresses a platform chooses for system memory (the VFIO platform's IOVAs),
 * and the anonymous memory behind them.
 *
 * The space is a few usable ranges (what the IOMMU driver reports, clipped to the caller's
 * bounds) and a table of live blocks sorted by IOVA. A new block goes in the lowest gap that
 * holds it at the asked alignment, below the device's mask; the table also answers frees
 * (which block starts at this CPU address) and both translations. Everything is a linear
 * scan: system-memory fallback hands out few, large blocks (the core's pools carve small ones
 * from them), so simplicity wins over a tree. The caller serialises access.
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

/* First fit of len bytes aligned to align in [lo, hi] between the live blocks: 0 with *iova
 * set, or -1. */
static int fit_in(const struct dmacoh__iova_space *s, uint64_t lo, uint64_t hi, uint64_t len,
                  uint64_t align, uint64_t *iova)
{
    bool wrap = false;
    uint64_t at = align_up(lo, align, &wrap);

    for (size_t i = 0; i < s->nblk && !wrap; i++) {
        const struct dmacoh__iova_blk *b = &s->blk[i];

        if (b->iova + b->len <= at)
            continue; /* wholly below the candidate */
        if (b->iova >= at && b->iova - at >= len)
            break; /* the gap before b holds it */
        at = align_up(b->iova + b->len, align, &wrap);
    }
    if (wrap || at > hi || hi - at < len - 1)
        return -1;
    *iova = at;
    return 0;
}

int dmacoh__iova_pick(const struct dmacoh__iova_space *s, uint64_t len, uint64_t align,
                      uint64_t mask, uint64_t *iova)
{
    bool below = false;

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

int dmacoh__iova_insert(struct dmacoh__iova_space *s, const struct dmacoh__iova_blk *b)
{
    size_t i = 0;

    if (s->nblk == s->capblk) {
        size_t cap = s->capblk ? s->capblk * 2 : 16;
        struct dmacoh__iova_blk *p = realloc(s->blk, cap * sizeof(*p));

        if (!p)
            return DMACOH_ENOMEM;
        s->blk = p;
        s->capblk = cap;
    }
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
