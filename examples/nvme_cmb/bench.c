/* SPDX-License-Identifier: MIT */
/*
 * bench.c - --bench: commands per second with the I/O submission queue in the CMB and in
 * system memory, and the share of the time spent inside dmacoh calls (docs/performance.md).
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Time and dmacoh time of one placement, summed over the rounds. */
struct tally {
    uint64_t ns, io_ns, alloc_ns;
    unsigned commands;
};

/* n writes and n reads of three pages (a PRP list each) with the I/O SQ where asked. */
static int bench_one(struct nvme_ctrl *c, unsigned n, bool sq_in_cmb, struct tally *t)
{
    uint64_t lba = c->nsze - 3 * NVME_PAGE / c->lba_bytes, t0;
    unsigned nlb = 3 * NVME_PAGE / c->lba_bytes;
    dmacoh_dma_addr_t dma;
    void *buf;
    int rc = 0;

    if (nvme_delete_io_queues(c) || nvme_create_io_queues(c, 64, sq_in_cmb))
        return -EIO;
    rc = dmacoh_alloc_coherent(c->host_dev, 3 * NVME_PAGE, 0, 0, &buf, &dma);
    if (rc) {
        fprintf(stderr, "nvme_cmb: bench buffer: %s\n", dmacoh_strerror(rc));
        return rc;
    }
    memset(buf, 0x5a, 3 * NVME_PAGE);
    nvme_io_ns = nvme_alloc_ns = 0;
    t0 = nvme_now_ns();
    for (unsigned i = 0; i < n && rc == 0; i++) {
        rc = nvme_rw(c, true, lba, nlb, dma, NULL);
        if (rc == 0)
            rc = nvme_rw(c, false, lba, nlb, dma, NULL);
    }
    t->ns += nvme_now_ns() - t0;
    t->io_ns += nvme_io_ns;
    t->alloc_ns += nvme_alloc_ns;
    t->commands += 2 * n;
    if (!c->stuck) /* after a timeout, only once the controller stopped */
        dmacoh_free_coherent(c->host_dev, 3 * NVME_PAGE, buf, dma);
    return rc < 0 ? rc : rc > 0 ? -EIO : 0;
}

static double report(const char *where, const struct tally *t)
{
    double rate = t->commands / ((double)t->ns / 1e9);

    printf("nvme_cmb: bench: I/O SQ in %s: %u commands in %.1f ms: %.0f commands/s; "
           "time in dmacoh calls %.1f%% (IO accessors %.1f%%, PRP-list pool %.1f%%)\n",
           where, t->commands, (double)t->ns / 1e6, rate,
           100.0 * (double)(t->io_ns + t->alloc_ns) / (double)t->ns,
           100.0 * (double)t->io_ns / (double)t->ns, 100.0 * (double)t->alloc_ns / (double)t->ns);
    return rate;
}

/* Rounds alternate the placements, so that a slower moment of a shared machine falls on
 * both alike. */
int nvme_bench(struct nvme_ctrl *c, unsigned n)
{
    enum { ROUNDS = 8 };
    struct tally in_cmb = {0, 0, 0, 0}, in_ram = {0, 0, 0, 0};
    bool cmb = c->cmb_declared && c->cmb.sqs;
    double a, b;

    for (unsigned r = 0; r < ROUNDS; r++) {
        unsigned k = n / ROUNDS + (r < n % ROUNDS);

        if ((cmb && bench_one(c, k, true, &in_cmb)) || bench_one(c, k, false, &in_ram))
            return -EIO;
    }
    b = report("system memory", &in_ram);
    if (cmb) {
        a = report("the CMB", &in_cmb);
        printf("nvme_cmb: bench: commands/s with the SQ in the CMB / in system memory: %.2f\n",
               a / b);
    }
    return 0;
}
