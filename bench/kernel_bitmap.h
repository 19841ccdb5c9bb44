/* SPDX-License-Identifier: MIT */
/*
 * kernel_bitmap.h - the baseline of bench_alloc.c: Linux's page allocator for declared
 * coherent memory, written here from its description (not copied from the kernel).
 *
 * One bit per page. A request of n pages is rounded up to 2^order pages (order = ceil(log2 n));
 * positions 0, 2^order, 2*2^order, ... are tried in turn, each by testing its 2^order bits,
 * and the first window with all bits clear is taken (its bits set). Free clears the 2^order
 * bits. The whole operation runs under one spinlock (the kernel takes a spinlock with
 * interrupts off). Positions are relative to the region start, as in the kernel.
 *
 * One addition for the benchmark's set-up only: kbm_alloc_fast() returns exactly the position
 * kbm_alloc() would, but starts its scan at a lower bound of the lowest free page instead of
 * at page 0, so that pools of 2^24 pages can be filled in seconds. kbm_free() keeps that lower
 * bound (one compare); kbm_alloc() never reads it. bench_alloc.c checks the two agree.
 */
#ifndef DMACOH_BENCH_KERNEL_BITMAP_H
#define DMACOH_BENCH_KERNEL_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kbm {
    uint64_t *bitmap; /* npages bits, rounded up to whole words; bit set = page in use */
    uint64_t npages;  /* pages in the region */
    uint64_t low;     /* no free page below this (read by kbm_alloc_fast only) */
    uint32_t lock;    /* the region's spinlock */
};

/* Bytes of bitmap for npages pages (what the kernel allocates: whole longs). */
size_t kbm_bitmap_bytes(uint64_t npages);

/* Prepares kb over caller storage of kbm_bitmap_bytes(npages) bytes; all pages free. */
void kbm_init(struct kbm *kb, uint64_t npages, uint64_t *bitmap);

/* The order of a request: the smallest k with 2^k >= pages (pages >= 1). */
unsigned kbm_order(uint64_t pages);

/* Pages a request of `pages` pages takes: 2^order. */
uint64_t kbm_footprint(uint64_t pages);

/* The kernel's allocation: 0 with *page set, or -1 when no aligned window is free. */
int kbm_alloc(struct kbm *kb, uint64_t pages, uint64_t *page);

/* The same result as kbm_alloc(), found faster (set-up and warm-up only). */
int kbm_alloc_fast(struct kbm *kb, uint64_t pages, uint64_t *page);

/* The kernel's free of an allocation of `pages` pages at `page`. */
void kbm_free(struct kbm *kb, uint64_t page, uint64_t pages);

/* Longest run of free pages (O(pages); for reports only). */
uint64_t kbm_largest_free(const struct kbm *kb);

#endif /* DMACOH_BENCH_KERNEL_BITMAP_H */
