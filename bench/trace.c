/* SPDX-License-Identifier: MIT */
/*
 * trace.c - the seeded workloads of trace.h. Included by bench_alloc.c.
 */
#include "trace.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    /* Hashed, so that nearby seeds start far apart on the splitmix sequence (seed * constant
     * would make seed k + 1's sequence that of seed k shifted by one draw). */
    r->s = mix64(seed ^ 0x632be59bd9b4e019ull);
}

uint64_t rng_next(struct rng *r)
{
    return mix64(r->s += 0x9e3779b97f4a7c15ull);
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
    return lo + rng_below(r, hi - lo + 1);
}

uint64_t trace_mixed_pages(struct rng *r, uint64_t max_pages)
{
    for (;;) {
        uint64_t c = rng_below(r, 100), n;

        if (c < 60)
            n = 1;
        else if (c < 85)
            n = rng_range(r, 2, 16);
        else if (c < 95)
            n = rng_range(r, 17, 64);
        else
            n = rng_range(r, 65, 512);
        if (n <= max_pages)
            return n;
    }
}

/* ---- a growable array of blocks ---- */

struct blkvec {
    struct trace_blk *v;
    uint64_t n, cap;
};

static int blkvec_push(struct blkvec *b, uint64_t page, uint64_t pages)
{
    if (b->n == b->cap) {
        uint64_t cap = b->cap ? 2 * b->cap : 1024;
        struct trace_blk *v = realloc(b->v, (size_t)cap * sizeof(*v));

        if (!v)
            return -1;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n].page = (uint32_t)page;
    b->v[b->n].pages = (uint32_t)pages;
    b->n++;
    return 0;
}

/* ---- the mixed trace ---- */

int trace_mixed(const struct trace_alloc *a, uint64_t pool_pages, uint64_t seed, uint64_t max_steps,
                struct trace_result *res)
{
    struct blkvec live = {NULL, 0, 0};
    struct rng r;
    uint64_t req = 0, foot = 0;
    int err = 0;

    memset(res, 0, sizeof(*res));
    rng_seed(&r, seed);
    while (res->steps < max_steps) {
        res->steps++;
        if (live.n == 0 || rng_below(&r, 10) < 6) {
            uint64_t n = trace_mixed_pages(&r, pool_pages), page;

            if (a->alloc(a->ctx, n, &page) != 0) {
                res->failed = true;
                res->fail_pages = n;
                break;
            }
            if (blkvec_push(&live, page, n) != 0) {
                a->free(a->ctx, page, n);
                err = -1;
                break;
            }
            req += n;
            foot += a->footprint(n);
            res->allocs++;
        } else {
            uint64_t i = rng_below(&r, live.n);
            struct trace_blk b = live.v[i];

            a->free(a->ctx, b.page, b.pages);
            live.v[i] = live.v[--live.n];
            req -= b.pages;
            foot -= a->footprint(b.pages);
            res->frees++;
        }
    }
    res->live_pages = req;
    res->footprint = a->used_pages ? a->used_pages(a->ctx) : foot;
    res->live_blocks = live.n;
    for (uint64_t i = 0; i < live.n; i++)
        a->free(a->ctx, live.v[i].page, live.v[i].pages);
    free(live.v);
    return err;
}

/* ---- the DMA driver trace ---- */

#define DRV_QUEUES   8
#define DRV_SCRATCH  8 /* scratch buffers live at once, at most */
#define PAGE_BYTES   4096u
#define KIND_PACKET  0
#define KIND_RING    1
#define KIND_SCRATCH 2

/* A queue's packets in flight: a circular buffer, oldest at head. */
struct drv_queue {
    struct trace_blk ring;
    struct trace_blk *pkt;
    uint64_t head, n, cap;
};

struct drv {
    const struct trace_alloc *a;
    struct rng r;
    struct drv_queue q[DRV_QUEUES];
    struct trace_blk scratch[DRV_SCRATCH];
    uint64_t scratch_end[DRV_SCRATCH]; /* step at which each is freed; 0 = slot empty */
    uint64_t req, foot, blocks;
    struct trace_result *res;
};

static int drv_alloc(struct drv *d, uint64_t pages, int kind, struct trace_blk *b)
{
    uint64_t page;

    if (d->a->alloc(d->a->ctx, pages, &page) != 0) {
        d->res->failed = true;
        d->res->fail_pages = pages;
        d->res->fail_kind = kind;
        return 1;
    }
    b->page = (uint32_t)page;
    b->pages = (uint32_t)pages;
    d->req += pages;
    d->foot += d->a->footprint(pages);
    d->blocks++;
    d->res->allocs++;
    return 0;
}

static void drv_free(struct drv *d, struct trace_blk b)
{
    d->a->free(d->a->ctx, b.page, b.pages);
    d->req -= b.pages;
    d->foot -= d->a->footprint(b.pages);
    d->blocks--;
    d->res->frees++;
}

static int queue_push(struct drv_queue *q, struct trace_blk b)
{
    if (q->n == q->cap) {
        uint64_t cap = q->cap ? 2 * q->cap : 256;
        struct trace_blk *v = malloc((size_t)cap * sizeof(*v));

        if (!v)
            return -1;
        for (uint64_t i = 0; i < q->n; i++)
            v[i] = q->pkt[(q->head + i) % q->cap];
        free(q->pkt);
        q->pkt = v;
        q->cap = cap;
        q->head = 0;
    }
    q->pkt[(q->head + q->n) % q->cap] = b;
    q->n++;
    return 0;
}

/* Removes the packet `j` places after the oldest (0 = the oldest). */
static struct trace_blk queue_take(struct drv_queue *q, uint64_t j)
{
    struct trace_blk b = q->pkt[(q->head + j) % q->cap];

    for (uint64_t i = j; i > 0; i--)
        q->pkt[(q->head + i) % q->cap] = q->pkt[(q->head + i - 1) % q->cap];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return b;
}

/* Completes one packet of a random non-empty queue; false when no packet is in flight. */
static bool drv_complete(struct drv *d)
{
    uint64_t q0 = rng_below(&d->r, DRV_QUEUES);

    for (unsigned k = 0; k < DRV_QUEUES; k++) {
        struct drv_queue *q = &d->q[(q0 + k) % DRV_QUEUES];
        uint64_t j = 0;

        if (q->n == 0)
            continue;
        if (rng_below(&d->r, 8) == 0)
            j = rng_range(&d->r, 1, 3);
        if (j >= q->n)
            j = q->n - 1;
        drv_free(d, queue_take(q, j));
        return true;
    }
    return false;
}

int trace_driver(const struct trace_alloc *a, uint64_t pool_pages, uint64_t seed,
                 uint64_t ramp_steps, struct trace_result *res)
{
    struct drv d;
    uint64_t frees;
    int err = 0, stop = 0;

    memset(&d, 0, sizeof(d));
    memset(res, 0, sizeof(*res));
    d.a = a;
    d.res = res;
    rng_seed(&d.r, seed);
    for (unsigned i = 0; i < DRV_QUEUES && !stop; i++)
        stop = drv_alloc(&d, (uint64_t)1 << rng_range(&d.r, 0, 4), KIND_RING, &d.q[i].ring);
    while (!stop && res->steps < 4 * ramp_steps) {
        uint64_t t = ++res->steps, ramp = t < ramp_steps ? t : ramp_steps;
        uint64_t target = pool_pages / 2 + (pool_pages / 2) * ramp / ramp_steps;
        struct trace_blk b;

        /* expired scratch buffers */
        for (unsigned i = 0; i < DRV_SCRATCH; i++) {
            if (d.scratch_end[i] && d.scratch_end[i] <= t) {
                drv_free(&d, d.scratch[i]);
                d.scratch_end[i] = 0;
            }
        }
        /* ring reconfiguration */
        if (rng_below(&d.r, 2000) == 0) {
            struct drv_queue *q = &d.q[rng_below(&d.r, DRV_QUEUES)];

            while (q->n)
                drv_free(&d, queue_take(q, 0));
            drv_free(&d, q->ring);
            q->ring.pages = 0;
            if ((stop = drv_alloc(&d, (uint64_t)1 << rng_range(&d.r, 0, 5), KIND_RING, &q->ring)))
                break;
        }
        /* a scratch buffer */
        if (rng_below(&d.r, 500) == 0) {
            unsigned k = (unsigned)rng_range(&d.r, 6, 10);
            uint64_t n = rng_range(&d.r, (uint64_t)1 << k, (uint64_t)2 << k), life;

            n = n > 2048 ? 2048 : n;
            life = rng_range(&d.r, 200, 5000);
            for (unsigned i = 0; i < DRV_SCRATCH; i++) {
                if (d.scratch_end[i] == 0) {
                    if ((stop = drv_alloc(&d, n, KIND_SCRATCH, &d.scratch[i])))
                        break;
                    d.scratch_end[i] = t + life;
                    break;
                }
            }
            if (stop)
                break;
        }
        /* a packet, then completions down to the target */
        {
            struct drv_queue *q = &d.q[rng_below(&d.r, DRV_QUEUES)];
            uint64_t bytes = rng_range(&d.r, 2048, 65536);

            if ((stop = drv_alloc(&d, (bytes + PAGE_BYTES - 1) / PAGE_BYTES, KIND_PACKET, &b)))
                break;
            if (queue_push(q, b) != 0) {
                drv_free(&d, b);
                err = -1;
                break;
            }
        }
        while (d.req > target && drv_complete(&d))
            ;
    }
    res->live_pages = d.req;
    res->footprint = a->used_pages ? a->used_pages(a->ctx) : d.foot;
    res->live_blocks = d.blocks;
    frees = res->frees;
    for (unsigned i = 0; i < DRV_QUEUES; i++) {
        struct drv_queue *q = &d.q[i];

        while (q->n)
            drv_free(&d, queue_take(q, 0));
        free(q->pkt);
        if (q->ring.pages)
            drv_free(&d, q->ring);
    }
    for (unsigned i = 0; i < DRV_SCRATCH; i++) {
        if (d.scratch_end[i])
            drv_free(&d, d.scratch[i]);
    }
    res->frees = frees; /* the clean-up is not part of the trace */
    return err;
}
