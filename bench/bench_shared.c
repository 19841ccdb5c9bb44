/* SPDX-License-Identifier: MIT */
/*
 * bench_shared.c - the alloc+free pair on a shared region against the same pair on a private
 * region, in the same run.
 *
 * Both regions are declared over the memfd platform, with the same size, granule and fill:
 * the private one with dmacoh_declare_coherent_memory, the shared one with
 * dmacoh_declare_shared_memory (its state in DMACOH_SHM_DIR, a temporary folder here), so the
 * difference is what sharing costs: the robust process-shared lock instead of the spinlock,
 * the owner byte and the journal of every update. One process, one thread: the cost of the
 * pair itself, not of contention. Each round measures both, alternating which goes first;
 * the figure is the median over rounds of ns per pair, and the ratio shared/private.
 *
 * Output: name=value lines (scripts/bench-median.py takes the median over runs).
 * Usage: bench_shared [--quick] [--rounds=N] [--log2=N]
 */
#define _GNU_SOURCE
#include <dmacoh/dmacoh.h>
#include <dmacoh/memfd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define BUS  0x100000000ull

static void die(const char *what, int r)
{
    fprintf(stderr, "bench_shared: %s: %s\n", what, dmacoh_strerror(r));
    exit(1);
}

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

struct side {
    struct dmacoh_memfd *m;
    struct dmacoh_device dev;
};

static void setup(struct side *s, uint64_t size, const char *shared_name)
{
    int r = dmacoh_memfd_create(BUS, size, &s->m);

    if (r)
        die("dmacoh_memfd_create", r);
    r = dmacoh_device_init(&s->dev, shared_name ? "shared" : "private", NULL,
                           dmacoh_memfd_platform(s->m));
    if (r)
        die("dmacoh_device_init", r);
    if (shared_name) {
        struct dmacoh_share_opts o = {shared_name, DMACOH_SHARE_CREATE, 0};

        r = dmacoh_declare_shared_memory(
            &s->dev, BUS, BUS, size, DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, &o, NULL);
    } else {
        r = dmacoh_declare_coherent_memory(&s->dev, BUS, BUS, size,
                                           DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, NULL);
    }
    if (r)
        die("declare", r);
}

/* Fills half of the region with single pages at random places (every other allocation of a
 * full pass freed), so that the pair works on a fragmented region, not an empty one. */
static void half_fill(struct side *s, uint64_t pages, void ***keep, dmacoh_dma_addr_t **hk)
{
    void **c = calloc(pages, sizeof(*c));
    dmacoh_dma_addr_t *h = calloc(pages, sizeof(*h));
    uint64_t seed = 88172645463325252ull;

    if (!c || !h)
        die("calloc", DMACOH_ENOMEM);
    for (uint64_t i = 0; i < pages; i++)
        if (dmacoh_alloc_coherent(&s->dev, PAGE, DMACOH_ALLOC_NOZERO, 0, &c[i], &h[i]))
            die("fill", DMACOH_ENOMEM);
    for (uint64_t i = 0; i < pages; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if (seed & 1) {
            (void)dmacoh_free_coherent(&s->dev, PAGE, c[i], h[i]);
            c[i] = NULL;
        }
    }
    *keep = c;
    *hk = h;
}

static double pairs(struct side *s, unsigned n)
{
    double t0 = now();

    for (unsigned i = 0; i < n; i++) {
        void *c;
        dmacoh_dma_addr_t h;

        if (dmacoh_alloc_coherent(&s->dev, PAGE, DMACOH_ALLOC_NOZERO, 0, &c, &h))
            die("alloc", DMACOH_ENOMEM);
        if (dmacoh_free_coherent(&s->dev, PAGE, c, h))
            die("free", DMACOH_EFAULT);
    }
    return (now() - t0) / n;
}

int main(int argc, char **argv)
{
    unsigned rounds = 15, per = 200000, log2 = 14;
    char dir[] = "/tmp/dmacoh-bench-XXXXXX", name[32];
    struct side priv, shar;
    void **kp, **ks;
    dmacoh_dma_addr_t *hp, *hs;
    double *tp, *ts, *ratio;
    uint64_t pages;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            rounds = 3;
            per = 20000;
            log2 = 10;
        } else if (strncmp(argv[i], "--rounds=", 9) == 0) {
            rounds = (unsigned)strtoul(argv[i] + 9, NULL, 10);
        } else if (strncmp(argv[i], "--log2=", 7) == 0) {
            log2 = (unsigned)strtoul(argv[i] + 7, NULL, 10);
        } else {
            fprintf(stderr, "usage: bench_shared [--quick] [--rounds=N] [--log2=N]\n");
            return 2;
        }
    }
    if (rounds == 0 || log2 < 4 || log2 > 20) {
        fprintf(stderr, "bench_shared: rounds >= 1 and 4 <= log2 <= 20\n");
        return 2;
    }
    if (!mkdtemp(dir))
        die("mkdtemp", DMACOH_EIO);
    setenv("DMACOH_SHM_DIR", dir, 1);
    (void)snprintf(name, sizeof(name), "bench%ld", (long)getpid());
    pages = (uint64_t)1 << log2;
    setup(&priv, pages * PAGE, NULL);
    setup(&shar, pages * PAGE, name);
    half_fill(&priv, pages, &kp, &hp);
    half_fill(&shar, pages, &ks, &hs);
    tp = calloc(rounds, sizeof(double));
    ts = calloc(rounds, sizeof(double));
    ratio = calloc(rounds, sizeof(double));
    if (!tp || !ts || !ratio)
        die("calloc", DMACOH_ENOMEM);
    (void)pairs(&priv, per / 10); /* warm both */
    (void)pairs(&shar, per / 10);
    for (unsigned r = 0; r < rounds; r++) {
        if (r & 1) {
            ts[r] = pairs(&shar, per);
            tp[r] = pairs(&priv, per);
        } else {
            tp[r] = pairs(&priv, per);
            ts[r] = pairs(&shar, per);
        }
        ratio[r] = ts[r] / tp[r];
    }
    qsort(tp, rounds, sizeof(double), cmp);
    qsort(ts, rounds, sizeof(double), cmp);
    qsort(ratio, rounds, sizeof(double), cmp);
    printf("shared_pair_ns{region=private,pages=%llu}=%.1f\n", (unsigned long long)pages,
           tp[rounds / 2]);
    printf("shared_pair_ns{region=shared,pages=%llu}=%.1f\n", (unsigned long long)pages,
           ts[rounds / 2]);
    printf("shared_pair_ratio{pages=%llu}=%.3f\n", (unsigned long long)pages, ratio[rounds / 2]);
    for (uint64_t i = 0; i < pages; i++) {
        if (kp[i])
            (void)dmacoh_free_coherent(&priv.dev, PAGE, kp[i], hp[i]);
        if (ks[i])
            (void)dmacoh_free_coherent(&shar.dev, PAGE, ks[i], hs[i]);
    }
    if (dmacoh_release_coherent_memory(&priv.dev, 0) ||
        dmacoh_release_coherent_memory(&shar.dev, 0) ||
        dmacoh_shared_unlink(dmacoh_memfd_platform(shar.m), name) ||
        dmacoh_device_fini(&priv.dev) || dmacoh_device_fini(&shar.dev) ||
        dmacoh_memfd_close(priv.m) || dmacoh_memfd_close(shar.m))
        die("teardown", DMACOH_EBUSY);
    (void)rmdir(dir);
    free(kp);
    free(ks);
    free(hp);
    free(hs);
    free(tp);
    free(ts);
    free(ratio);
    return 0;
}
