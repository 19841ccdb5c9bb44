/* SPDX-License-Identifier: MIT */
/*
 * buddy.h - a baseline of bench_alloc.c: a binary buddy allocator over the pool's pages that
 * gives back the unused tail of a rounded block. Written here from the textbook description
 * (Knowlton's buddy system) and the description of tail reuse; not copied from any kernel.
 *
 * Free blocks of 2^k pages (k = 0..max order) sit on one doubly linked list per order; a block
 * of order k starts at a multiple of 2^k (page numbers relative to the region start).
 *
 * Allocation of n pages: k = ceil(log2 n). The first block of the smallest non-empty order
 * j >= k is taken (O(1): the list heads plus a bit mask of the non-empty orders) and halved
 * down to order k, the upper halves going onto their lists. The block is then aligned to 2^k,
 * the alignment promise (the smallest power of two >= n). Its tail, pages [p + n, p + 2^k),
 * is given back at once as free buddies: cut from p + n upwards into the largest naturally
 * aligned power-of-two pieces that fit below p + 2^k. None of them can merge at that moment
 * (each piece's buddy overlaps [p, p + n) or a piece of another order). The pool's footprint
 * of an allocation is therefore n pages, as dmacoh's.
 *
 * Tail reuse keeps the alignment promise: every free block, tail pieces included, is a block
 * of some order j starting at a multiple of 2^j, and an allocation of order k takes a block of
 * order >= k, whose start is a multiple of 2^k.
 *
 * Free of n pages at p (the caller gives n, as in the kernel's API): [p, p + n) is cut into the
 * same naturally aligned pieces as above (p is a multiple of 2^k), and each piece is freed with
 * the usual merge: while its buddy (start XOR 2^order) is the head of a free block of the same
 * order, the buddy leaves its list and the two become one block of the next order.
 * O(log n) pieces, each O(log N) merges.
 *
 * Everything under one spinlock per operation, as kernel_bitmap.c. Metadata: per page one byte
 * (order + 1 if the page heads a free block, else 0) and two 32-bit links: 9 bytes per page
 * (the links could live in the free pages themselves, but the pool here is never mapped).
 * Pools of at most 2^31 pages.
 */
#ifndef DMACOH_BENCH_BUDDY_H
#define DMACOH_BENCH_BUDDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDDY_MAX_ORDER 31
#define BUDDY_NIL       UINT32_MAX

struct buddy {
    uint8_t *head;   /* per page: order + 1 if the page heads a free block, else 0 */
    uint32_t *next;  /* per page: next free block of the same order (BUDDY_NIL ends) */
    uint32_t *prev;  /* per page: previous free block of the same order */
    uint64_t npages; /* pages in the region */
    uint64_t nfree;  /* free pages (for the self-check) */
    uint32_t list[BUDDY_MAX_ORDER + 1]; /* first free block of each order */
    uint32_t nonempty;                  /* bit k set: list[k] is not empty */
    unsigned max_order;                 /* largest order that fits the region */
    uint32_t lock;                      /* the region's spinlock */
};

/* Bytes of metadata for npages pages (0 when npages is 0 or above 2^31). */
size_t buddy_meta_bytes(uint64_t npages);

/* Prepares b over caller storage of buddy_meta_bytes(npages) bytes; all pages free. */
void buddy_init(struct buddy *b, uint64_t npages, void *meta);

/* 0 with *page set (aligned to the smallest power of two >= pages), or -1 when no block of
 * order ceil(log2 pages) or above is free. */
int buddy_alloc(struct buddy *b, uint64_t pages, uint64_t *page);

/* Frees the allocation of `pages` pages at `page`. */
void buddy_free(struct buddy *b, uint64_t page, uint64_t pages);

/* Pages an allocation of `pages` pages takes out of the pool: `pages` (the tail is reused). */
uint64_t buddy_footprint(uint64_t pages);

#endif /* DMACOH_BENCH_BUDDY_H */
