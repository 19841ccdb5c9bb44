/* SPDX-License-Identifier: MIT */
/*
 * bench_pack.c - how well a dma_pool packs: for block sizes from 16 B to 64 KiB, a pool over a
 * 256 KiB region (the device's only memory: exclusive, no system memory behind it) takes blocks
 * until the first refusal, and the blocks held are set against the blocks that fit by bytes
 * (256 KiB / block size). Issue 17, item 4: the target is >= 95 % for every size.
 *
 * Output, one name=value line each: pack_held{size=S}, pack_fit{size=S},
 * pack_ratio{size=S} (held / fit), then pack_min_ratio and pack_sizes_below_95 over all sizes.
 * --quick is the same run (it takes milliseconds); the option exists for the CI smoke test.
 */
#define _GNU_SOURCE
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGION (256u * 1024u)

/* Powers of two from 16 B to 64 KiB, and the sizes 1.5 times each from 24 B to 48 KiB. */
static const size_t sizes[] = {16,   24,    32,    48,    64,    96,    128,  192,  256,
                               384,  512,   768,   1024,  1536,  2048,  3072, 4096, 6144,
                               8192, 12288, 16384, 24576, 32768, 49152, 65536};

static void die(const char *what, int r)
{
    fprintf(stderr, "bench_pack: %s failed: %d (%s)\n", what, r, dmacoh_strerror(r));
    exit(1);
}

/* Blocks a pool of `size`-byte blocks holds before its first refusal. */
static unsigned held(struct dmacoh_device *dev, size_t size)
{
    struct dmacoh_pool *pool;
    unsigned n = 0, cap = REGION / 8;
    void **cpu = malloc(cap * sizeof(*cpu));
    dmacoh_dma_addr_t *h = malloc(cap * sizeof(*h));
    int r;

    if (!cpu || !h)
        die("malloc", DMACOH_ENOMEM);
    if ((r = dmacoh_pool_create(&pool, "pack", dev, size, 0, 0, NULL)) != 0)
        die("dmacoh_pool_create", r);
    while (n < cap && dmacoh_pool_alloc(pool, 0, &cpu[n], &h[n]) == 0)
        n++;
    for (unsigned i = 0; i < n; i++) {
        if ((r = dmacoh_pool_free(pool, cpu[i], h[i])) != 0)
            die("dmacoh_pool_free", r);
    }
    if ((r = dmacoh_pool_destroy(pool, 0)) != 0)
        die("dmacoh_pool_destroy", r);
    free(cpu);
    free(h);
    return n;
}

int main(int argc, char **argv)
{
    struct dmacoh_sim_opts so = {.no_ram = true};
    struct dmacoh_sim_memory mem = {0xfe000000u, REGION, DMACOH_MEMORY_MAP, false, 0};
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
    double min_ratio = 2.0;
    unsigned below = 0;
    int r;

    if (argc > 1 && strcmp(argv[1], "--quick") != 0) {
        fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
        return 2;
    }
    dmacoh_set_log_fn(NULL, NULL, 0); /* every pool ends on a refusal, which would log */
    if ((r = dmacoh_sim_create(&so, &sim)) != 0 || (r = dmacoh_sim_add_memory(sim, &mem)) != 0 ||
        (r = dmacoh_device_init(&dev, "bench", NULL, dmacoh_sim_platform(sim))) != 0 ||
        (r = dmacoh_declare_coherent_memory(&dev, mem.bus, mem.bus, mem.size,
                                            DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL,
                                            NULL)) != 0)
        die("set-up", r);
    printf("region_bytes=%u\n", REGION);
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned n = held(&dev, sizes[i]), fit = (unsigned)(REGION / sizes[i]);
        double ratio = (double)n / (double)fit;

        printf("pack_held{size=%zu}=%u\n", sizes[i], n);
        printf("pack_fit{size=%zu}=%u\n", sizes[i], fit);
        printf("pack_ratio{size=%zu}=%.3f\n", sizes[i], ratio);
        if (ratio < min_ratio)
            min_ratio = ratio;
        below += ratio < 0.95;
    }
    printf("pack_min_ratio=%.3f\n", min_ratio);
    printf("pack_sizes_below_95=%u\n", below);
    if ((r = dmacoh_release_coherent_memory(&dev, 0)) != 0 || (r = dmacoh_device_fini(&dev)) != 0)
        die("tear-down", r);
    return dmacoh_sim_destroy(sim) ? 1 : 0;
}
