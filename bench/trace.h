/* SPDX-License-Identifier: MIT */
/*
 * trace.h - seeded workloads for bench_alloc.c: a small random generator, the mixed request
 * size distribution, and two traces run against any page allocator until its first failed
 * allocation (utilisation at first failure).
 *
 * Both traces draw every decision from the seed and from bookkeeping that does not depend on
 * where blocks were placed (live counts, page totals), so two allocators given the same seed
 * see the same sequence of requests and frees up to the first failure of either.
 */
#ifndef DMACOH_BENCH_TRACE_H
#define DMACOH_BENCH_TRACE_H

#include <stdbool.h>
#include <stdint.h>

/* splitmix64: small, fast, and good enough for workloads. */
struct rng {
    uint64_t s;
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n), n >= 1. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Uniform in [lo, hi]. */
uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi);

/*
 * A request size of the mixed trace, in pages: 60 % 1 page, 25 % 2-16, 10 % 17-64, 5 % 65-512
 * (uniform within each class). Drawn again while above max_pages (only pools smaller than the
 * distribution need that).
 */
uint64_t trace_mixed_pages(struct rng *r, uint64_t max_pages);

/* A page allocator as the traces see it. Page numbers are relative to the region start. */
struct trace_alloc {
    const char *name;
    void *ctx;
    /* 0 with *page set, or non-zero when no room. */
    int (*alloc)(void *ctx, uint64_t pages, uint64_t *page);
    void (*free)(void *ctx, uint64_t page, uint64_t pages);
    /* Pages an allocation of `pages` pages takes out of the pool. */
    uint64_t (*footprint)(uint64_t pages);
    /* Pages in use as the allocator itself counts them, or NULL to sum footprint(). */
    uint64_t (*used_pages)(void *ctx);
};

/* A block the benchmark holds: its first page and its requested size. */
struct trace_blk {
    uint32_t page;
    uint32_t pages;
};

/* Where a trace stopped. */
struct trace_result {
    bool failed;          /* an allocation failed (else the step limit ended the trace) */
    uint64_t steps;       /* steps run, the failing one included */
    uint64_t live_pages;  /* pages requested by the live blocks when the allocation failed */
    uint64_t footprint;   /* pages those blocks take in the allocator */
    uint64_t live_blocks; /* live blocks then */
    uint64_t fail_pages;  /* size of the request that failed */
    int fail_kind;        /* driver trace: 0 packet, 1 ring, 2 scratch; mixed trace: 0 */
    uint64_t allocs;      /* successful allocations */
    uint64_t frees;       /* frees */
};

/*
 * The mixed trace on an empty pool of pool_pages pages: each step allocates a request of
 * trace_mixed_pages() with probability 0.6, else frees a uniformly chosen live block (always
 * allocates when nothing is live). Runs until the first failed allocation or max_steps.
 * Frees every block before returning. Returns 0, or -1 when out of host memory.
 */
int trace_mixed(const struct trace_alloc *a, uint64_t pool_pages, uint64_t seed, uint64_t max_steps,
                struct trace_result *res);

/*
 * A trace shaped like a DMA network driver, on an empty pool of pool_pages 4 KiB pages:
 *  - 8 queues, each with a descriptor ring of 2^k pages (k in 0..4, 4-64 KiB), long-lived;
 *  - packet buffers of 2-64 KiB (1-16 pages) posted to a random queue each step and completed
 *    nearly in order (the oldest of the queue with probability 7/8, else one of the next three),
 *    whenever requested live pages exceed the fill target;
 *  - rare scratch buffers (probability 1/500 per step) of 256 KiB-8 MiB (64-2048 pages,
 *    log-uniform), freed after 200-5000 steps;
 *  - ring reconfiguration (probability 1/2000 per step): a queue drops its packets, frees its
 *    ring and allocates a ring of a new size (2^k pages, k in 0..5);
 *  - the fill target ramps linearly from 50 % to 100 % of the pool over ramp_steps steps and
 *    stays at 100 % after.
 * Runs until the first failed allocation or 4 * ramp_steps steps. Frees everything before
 * returning. Returns 0, or -1 when out of host memory.
 */
int trace_driver(const struct trace_alloc *a, uint64_t pool_pages, uint64_t seed,
                 uint64_t ramp_steps, struct trace_result *res);

#endif /* DMACOH_BENCH_TRACE_H */
