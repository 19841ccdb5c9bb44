/* SPDX-License-Identifier: MIT */
/*
 * first_fit.h - a baseline of bench_alloc.c: bitmap first fit with the alignment promise, the
 * way Linux's genalloc places a request with an alignment (its bitmap_find_next_zero_area()
 * with an align mask), written here from that description (not copied from the kernel).
 *
 * One bit per page (set = in use). A request of n pages must start at a multiple of
 * 2^ceil(log2 n) (the alignment promise); it takes exactly n bits, so its footprint is n pages.
 * The search starts at page 0: find the next clear bit, round it up to the alignment, find the
 * next set bit after it; if that lies at or beyond the candidate + n, the candidate is taken,
 * else the search goes on from the set bit + 1 (only the candidate's n bits are searched for a set
 * bit, as genalloc does). Bits are scanned a word at a time. Free clears
 * the n bits. One spinlock per operation.
 *
 * One addition for the benchmark's set-up only, as in kernel_bitmap.h: ff_alloc_fast() returns
 * exactly the page ff_alloc() would, but starts at a lower bound of the lowest clear bit
 * (kept by ff_free() with one compare; ff_alloc() never reads it). bench_alloc.c checks that
 * the two agree.
 */
#ifndef DMACOH_BENCH_FIRST_FIT_H
#define DMACOH_BENCH_FIRST_FIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ff {
    uint64_t *bitmap; /* npages bits, whole words; bit set = page in use */
    uint64_t npages;  /* pages in the region */
    uint64_t low;     /* no clear bit below this (read by ff_alloc_fast only) */
    uint32_t lock;    /* the region's spinlock */
};

/* Bytes of bitmap for npages pages. */
size_t ff_bitmap_bytes(uint64_t npages);

/* Prepares f over caller storage of ff_bitmap_bytes(npages) bytes; all pages free. */
void ff_init(struct ff *f, uint64_t npages, uint64_t *bitmap);

/* First fit from page 0: 0 with *page set (a multiple of 2^ceil(log2 pages)), or -1. */
int ff_alloc(struct ff *f, uint64_t pages, uint64_t *page);

/* The same result as ff_alloc(), found from the lowest clear bit (set-up and warm-up only). */
int ff_alloc_fast(struct ff *f, uint64_t pages, uint64_t *page);

/* Frees the allocation of `pages` pages at `page`. */
void ff_free(struct ff *f, uint64_t page, uint64_t pages);

/* Pages an allocation of `pages` pages takes out of the pool: `pages`. */
uint64_t ff_footprint(uint64_t pages);

#endif /* DMACOH_BENCH_FIRST_FIT_H */
