/* SPDX-License-Identifier: MIT */
/*
 * bench_io.c - what the IO accessors cost, with the debug mode's IO cookies off (the default:
 * one relaxed load and a branch per access) and on, against plain volatile loads and stores
 * (the baseline), in the same run, on one simulated IO region.
 *
 * Each step writes and reads back one 32-bit word (ordered accessors), walking a 4 KiB block;
 * block copies move 4 KiB with memcpy_toio. Time is taken per batch of BATCH steps and the
 * median over batches reported in ns per step, with the ratio to the baseline. Output: one
 * name=value per line. --quick runs a few batches only (CI smoke test).
 *
 * Also the latency of a 2 MiB allocation from a simulated IO region (4 MiB, its own device):
 * zeroed (the default, through the accessors: memset_io) against DMACOH_ALLOC_NOZERO, each an
 * alloc+free pair, median and maximum over ZROUNDS rounds in ns (zero_alloc_2m_*); and zeroed
 * with clean memory available: before each round, untimed, dmacoh_region_scrub() zeroes the
 * free memory (the 2 MiB the previous round freed), so the allocation finds its granules
 * clean and writes nothing (zero_alloc_2m_clean_*); the scrub's own time is reported too
 * (scrub_2m_ns_median: the zeroing moved off the allocation path).
 */
#define _GNU_SOURCE
#include <dmacoh/debug.h>
#include <dmacoh/dmacoh.h>
#include <dmacoh/io.h>
#include <dmacoh/sim.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUS   0xd0000000u
#define SIZE  (1u << 20)
#define BATCH 8192
#define WORDS 1024
#define ZBUS  0xe0000000u
#define ZSIZE (4u << 20)
#define ZBLK  (2u << 20)

static unsigned nbatches = 201;
static unsigned char src[4096];

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static uint32_t sink;

static void step_plain(volatile void *base, unsigned i)
{
    volatile uint32_t *w = (volatile uint32_t *)base + (i % WORDS);

    __asm__ __volatile__("" ::: "memory");
    *w = i;
    sink += *w;
    __asm__ __volatile__("" ::: "memory");
}

static void step_accessor(volatile void *base, unsigned i)
{
    volatile uint32_t *w = (volatile uint32_t *)base + (i % WORDS);

    dmacoh_iowrite32(i, w);
    sink += dmacoh_ioread32(w);
}

static void step_block(volatile void *base, unsigned i)
{
    (void)i;
    dmacoh_memcpy_toio(base, src, sizeof(src));
}

/* Median ns per step of fn over the batches. */
static double measure(void (*fn)(volatile void *, unsigned), volatile void *base, unsigned steps)
{
    double *t = malloc(nbatches * sizeof(*t)), med;

    if (!t)
        abort();
    for (unsigned b = 0; b < nbatches; b++) {
        double t0 = now_ns();

        for (unsigned i = 0; i < steps; i++)
            fn(base, i);
        t[b] = (now_ns() - t0) / steps;
    }
    qsort(t, nbatches, sizeof(*t), cmp);
    med = t[nbatches / 2];
    free(t);
    return med;
}

struct region {
    struct dmacoh_device dev;
    void *p;
    dmacoh_dma_addr_t h;
};

static void declare(struct dmacoh_sim *sim, struct region *r, const char *name)
{
    if (dmacoh_device_init(&r->dev, name, NULL, dmacoh_sim_platform(sim)) ||
        dmacoh_declare_coherent_memory(&r->dev, BUS, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL) ||
        dmacoh_alloc_coherent(&r->dev, 4096, 0, 0, &r->p, &r->h))
        abort();
}

static void undeclare(struct region *r)
{
    if (dmacoh_free_coherent(&r->dev, 4096, r->p, r->h) ||
        dmacoh_release_coherent_memory(&r->dev, 0) || dmacoh_device_fini(&r->dev))
        abort();
}

/* Median (and *max, the maximum) ns of a ZBLK alloc+free pair with `flags`, over `rounds`;
 * with scrub non-NULL, each round first scrubs the region (untimed here: the median of those
 * goes to *scrub). */
static double zero_alloc(struct dmacoh_device *dev, int flags, unsigned rounds, double *max,
                         double *scrub)
{
    double *t = malloc(rounds * sizeof(*t)), *ts = malloc(rounds * sizeof(*ts)), med;

    if (!t || !ts)
        abort();
    for (unsigned i = 0; i < rounds; i++) {
        double t0 = now_ns();
        void *p;
        dmacoh_dma_addr_t h;
        uint64_t done = 0;

        if (scrub) {
            if (dmacoh_region_scrub(dev, UINT64_MAX, &done))
                abort();
            ts[i] = now_ns() - t0;
            t0 = now_ns();
        }

        if (dmacoh_alloc_coherent(dev, ZBLK, flags, 0, &p, &h) ||
            dmacoh_free_coherent(dev, ZBLK, p, h))
            abort();
        t[i] = now_ns() - t0;
    }
    qsort(t, rounds, sizeof(*t), cmp);
    med = t[rounds / 2];
    *max = t[rounds - 1];
    if (scrub) {
        qsort(ts, rounds, sizeof(*ts), cmp);
        *scrub = ts[rounds / 2];
    }
    free(ts);
    free(t);
    return med;
}

int main(int argc, char **argv)
{
    struct dmacoh_sim *sim = NULL;
    struct dmacoh_sim_memory m = {BUS, SIZE, DMACOH_MEMORY_IO, false, 0};
    struct dmacoh_sim_memory zm = {ZBUS, ZSIZE, DMACOH_MEMORY_IO, false, 0};
    struct dmacoh_device zdev;
    unsigned zrounds;
    double z_on, z_off, z_on_max, z_off_max, z_clean, z_clean_max, z_scrub;
    struct region plain, cookie;
    double base, off, on, on_plain, blk_off, blk_on;

    if (argc > 1 && strcmp(argv[1], "--quick") == 0)
        nbatches = 5;
    memset(src, 0x5a, sizeof(src));
    if (dmacoh_sim_create(NULL, &sim) || dmacoh_sim_add_memory(sim, &m) ||
        dmacoh_sim_add_memory(sim, &zm))
        abort();

    /* 2 MiB from an IO region, zeroed, then not zeroed */
    zrounds = nbatches < 31 ? 3 : 31;
    if (dmacoh_device_init(&zdev, "zero", NULL, dmacoh_sim_platform(sim)) ||
        dmacoh_declare_coherent_memory(&zdev, ZBUS, 0, ZSIZE, DMACOH_MEMORY_IO, NULL, NULL))
        abort();
    z_on = zero_alloc(&zdev, 0, zrounds, &z_on_max, NULL);
    z_off = zero_alloc(&zdev, DMACOH_ALLOC_NOZERO, zrounds, &z_off_max, NULL);
    z_clean = zero_alloc(&zdev, 0, zrounds, &z_clean_max, &z_scrub);
    if (dmacoh_release_coherent_memory(&zdev, 0) || dmacoh_device_fini(&zdev))
        abort();

    declare(sim, &plain, "plain"); /* cookies off: the pointer is the mapping */
    base = measure(step_plain, plain.p, BATCH);
    off = measure(step_accessor, plain.p, BATCH);
    blk_off = measure(step_block, plain.p, 64);
    undeclare(&plain);

    if (dmacoh_debug_set(DMACOH_DEBUG_IO_COOKIES))
        abort();
    declare(sim, &cookie, "cookie");
    on = measure(step_accessor, cookie.p, BATCH);
    blk_on = measure(step_block, cookie.p, 64);
    /* A pointer that is no cookie, while a region has cookies: the search finds nothing. */
    on_plain = measure(step_accessor, dmacoh__io_resolve(cookie.p), BATCH);
    undeclare(&cookie);
    if (dmacoh_debug_set(0) || dmacoh_sim_destroy(sim))
        abort();

    printf("batches=%u\n", nbatches);
    printf("plain_volatile_ns=%.2f\n", base);
    printf("accessor_cookies_off_ns=%.2f\n", off);
    printf("accessor_cookies_off_ratio=%.2f\n", off / base);
    printf("accessor_cookie_ns=%.2f\n", on);
    printf("accessor_cookie_ratio=%.2f\n", on / base);
    printf("accessor_non_cookie_while_cookies_ns=%.2f\n", on_plain);
    printf("memcpy_toio_4k_cookies_off_ns=%.1f\n", blk_off);
    printf("memcpy_toio_4k_cookie_ns=%.1f\n", blk_on);
    printf("memcpy_toio_4k_ratio=%.3f\n", blk_on / blk_off);
    printf("zero_alloc_2m_rounds=%u\n", zrounds);
    printf("zero_alloc_2m_zeroed_ns_median=%.0f\n", z_on);
    printf("zero_alloc_2m_zeroed_ns_max=%.0f\n", z_on_max);
    printf("zero_alloc_2m_nozero_ns_median=%.0f\n", z_off);
    printf("zero_alloc_2m_nozero_ns_max=%.0f\n", z_off_max);
    printf("zero_alloc_2m_clean_ns_median=%.0f\n", z_clean);
    printf("zero_alloc_2m_clean_ns_max=%.0f\n", z_clean_max);
    printf("scrub_2m_ns_median=%.0f\n", z_scrub);
    return sink == 12345 ? 1 : 0;
}
