/* SPDX-License-Identifier: MIT */
/*
 * main.c - nvme_cmb: a small user-space NVMe driver on dmacoh, with its submission queues in
 * the controller memory buffer (CMB) when the controller has one.
 *
 *   nvme_cmb BDF [--platform vfio|pci] [--no-cmb | --cmb-io] [--cba ADDR] [--timeout MS]
 *                [--write LBA:BLOCKS:TAG]... [--write-cmb LBA:BLOCKS:TAG]...
 *                [--bad-prp LBA] [--bench N]
 *
 * --cmb-io declares the CMB for accessor (IO) access only, as a platform that cannot map it
 * would grant: every access to it then goes through dmacoh's IO accessors.
 * --write fills a system-memory buffer with TAG repeated, writes it at LBA, reads it back into
 * another buffer and compares; 8, 16 and more 512-byte blocks take one page (PRP1), two pages
 * (PRP1 + PRP2) and a PRP list. --write-cmb does the same with both data buffers in the CMB
 * when CMBSZ.WDS and RDS allow it (else in system memory, and says so). --bad-prp sends a
 * write whose PRP list lies in memory just freed: under an IOMMU its IOVA is unmapped, and the
 * controller must fail the command (data transfer error) - the driver reports it, or a
 * timeout, and never hangs. --bench N times N writes and N reads of three pages with the I/O
 * SQ in the CMB and N with it in system memory, in alternating rounds. Exit status 0 when
 * everything asked went as it should, 1 otherwise, 2 for bad usage.
 */
#include "bench.h"
#include "setup.h"

#include <dmacoh/debug.h>
#include <dmacoh/io.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WRITES 16

struct job {
    uint64_t lba;
    unsigned blocks;
    const char *tag;
    bool cmb;
};

static void fill(uint8_t *p, size_t n, const char *tag)
{
    size_t t = strlen(tag);

    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)tag[i % t];
}

/* A data buffer: in the CMB (device memory, accessors) or in system memory. */
struct buf {
    struct dmacoh_device *dev;
    size_t len;
    void *cpu;
    dmacoh_dma_addr_t dma;
    bool cmb;
};

static int buf_get(struct nvme_ctrl *c, struct buf *b, size_t len, bool cmb)
{
    int rc;

    b->dev = cmb ? c->cmb_dev : c->host_dev;
    b->len = len;
    b->cmb = cmb;
    rc = dmacoh_alloc_coherent(b->dev, len, cmb ? DMACOH_ALLOC_NOFALLBACK : 0, 0, &b->cpu, &b->dma);
    if (rc)
        fprintf(stderr, "nvme_cmb: %zu-byte buffer in %s: %s\n", len,
                cmb ? "the CMB" : "system memory", dmacoh_strerror(rc));
    return rc;
}

static void buf_put(struct buf *b)
{
    dmacoh_free_coherent(b->dev, b->len, b->cpu, b->dma);
}

/* Write, read back into a second buffer, compare. */
static int do_job(struct nvme_ctrl *c, const struct job *j)
{
    size_t len = (size_t)j->blocks * c->lba_bytes;
    bool cmb = j->cmb && c->cmb_declared && c->cmb.wds && c->cmb.rds;
    struct buf out, in;
    uint8_t *want = malloc(len), *got = malloc(len);
    const char *form = "";
    int rc = -ENOMEM, st;

    if (!want || !got || buf_get(c, &out, len, cmb) != 0)
        goto done;
    if (buf_get(c, &in, len, cmb) != 0) {
        buf_put(&out);
        goto done;
    }
    fill(want, len, j->tag);
    if (cmb)
        dmacoh_memcpy_toio(out.cpu, want, len);
    else
        memcpy(out.cpu, want, len);
    st = nvme_rw(c, true, j->lba, j->blocks, out.dma, &form);
    if (st == 0)
        st = nvme_rw(c, false, j->lba, j->blocks, in.dma, NULL);
    if (st == 0) {
        if (cmb)
            dmacoh_memcpy_fromio(got, in.cpu, len);
        else
            memcpy(got, in.cpu, len);
        rc = memcmp(want, got, len) == 0 ? 0 : -EIO;
        printf("nvme_cmb: LBA %" PRIu64 " +%u (%zu bytes, %s, buffers in %s at %#llx/%#llx): "
               "'%s' written, read back %s\n",
               j->lba, j->blocks, len, form,
               cmb      ? "the CMB"
               : j->cmb ? "system memory (CMB data not available)"
                        : "system memory",
               (unsigned long long)out.dma, (unsigned long long)in.dma, j->tag,
               rc ? "DIFFERENT" : "equal");
    } else {
        fprintf(stderr, "nvme_cmb: LBA %" PRIu64 " +%u: %s\n", j->lba, j->blocks,
                nvme_status_str(st));
        rc = st < 0 ? st : -EIO;
    }
    buf_put(&in);
    buf_put(&out);
done:
    free(want);
    free(got);
    return rc;
}

/* A write whose PRP list lies in memory that was freed just before the command is sent. */
static int bad_prp(struct nvme_ctrl *c, uint64_t lba)
{
    struct buf data, list;
    int st;

    if (buf_get(c, &data, 3 * NVME_PAGE, false) || buf_get(c, &list, NVME_PAGE, false))
        return -ENOMEM;
    fill(data.cpu, data.len, "bad-prp.");
    ((uint64_t *)list.cpu)[0] = data.dma + NVME_PAGE;
    ((uint64_t *)list.cpu)[1] = data.dma + 2 * NVME_PAGE;
    buf_put(&list); /* its IOVA is unmapped from the IOMMU now */
    printf("nvme_cmb: bad PRP: a write of 3 pages at LBA %" PRIu64 " with its PRP list at "
           "%#llx, freed\n",
           lba, (unsigned long long)list.dma);
    st = nvme_io_prp(c, true, lba, 3 * NVME_PAGE / c->lba_bytes, data.dma, list.dma);
    buf_put(&data);
    if (st > 0) {
        printf("nvme_cmb: bad PRP: refused by the controller: %s\n", nvme_status_str(st));
        printf("BAD-PRP-IOVA %#llx\n", (unsigned long long)list.dma);
        return 0;
    }
    fprintf(stderr, "nvme_cmb: bad PRP: %s\n",
            st == 0 ? "the controller accepted a PRP list in freed memory" : nvme_status_str(st));
    return -EIO;
}

static int parse_job(const char *s, bool cmb, struct job *j)
{
    char *end;

    j->lba = strtoull(s, &end, 0);
    if (*end != ':')
        return -1;
    j->blocks = (unsigned)strtoul(end + 1, &end, 0);
    if (*end != ':' || j->blocks == 0 || end[1] == '\0')
        return -1;
    j->tag = end + 1;
    j->cmb = cmb;
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: nvme_cmb BDF [--platform vfio|pci] [--no-cmb | --cmb-io] [--cba ADDR] "
                    "[--timeout MS]\n"
                    "       [--write LBA:BLOCKS:TAG]... [--write-cmb LBA:BLOCKS:TAG]... "
                    "[--bad-prp LBA] [--bench N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct nvme_setup_opts o = {NULL, false, false, false, false, 0, 5000};
    struct job jobs[MAX_WRITES];
    unsigned njobs = 0, bench_n = 0;
    long long bad_lba = -1;
    struct dmacoh_debug_stats ds;
    struct nvme_dev d;
    int failed = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--no-cmb") || !strcmp(a, "--cmb-io")) {
            *(a[2] == 'n' ? &o.no_cmb : &o.cmb_io) = true;
            continue;
        }
        if (a[0] != '-') {
            o.bdf = a;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--platform") && (!strcmp(v, "vfio") || !strcmp(v, "pci"))) {
            o.use_pci = !strcmp(v, "pci");
        } else if (!strcmp(a, "--cba")) {
            o.cba = strtoull(v, NULL, 0);
            o.cba_given = true;
        } else if (!strcmp(a, "--timeout")) {
            o.timeout_ms = (unsigned)strtoul(v, NULL, 0);
        } else if ((!strcmp(a, "--write") || !strcmp(a, "--write-cmb")) && njobs < MAX_WRITES) {
            if (parse_job(v, !strcmp(a, "--write-cmb"), &jobs[njobs++]))
                return usage();
        } else if (!strcmp(a, "--bad-prp")) {
            bad_lba = strtoll(v, NULL, 0);
        } else if (!strcmp(a, "--bench")) {
            bench_n = (unsigned)strtoul(v, NULL, 0);
        } else {
            return usage();
        }
    }
    if (!o.bdf || o.timeout_ms == 0)
        return usage();
    if (nvme_open(&d, &o))
        return 1;
    if (nvme_create_io_queues(&d.c, 64, d.c.cmb_declared && d.c.cmb.sqs) == 0) {
        printf("nvme_cmb: I/O SQ in %s at %#llx (CMBSZ.SQS %s), I/O CQ in system memory at "
               "%#llx\n",
               d.c.io.sq_in_cmb ? "the CMB" : "system memory", (unsigned long long)d.c.io.sq_dma,
               !d.c.cmb_declared ? "n/a: no CMB"
               : d.c.cmb.sqs     ? "set"
                                 : "clear",
               (unsigned long long)d.c.io.cq_dma);
        for (unsigned i = 0; i < njobs; i++)
            failed |= do_job(&d.c, &jobs[i]) != 0;
        if (bad_lba >= 0)
            failed |= bad_prp(&d.c, (uint64_t)bad_lba) != 0;
        if (bench_n)
            failed |= nvme_bench(&d.c, bench_n) != 0;
    } else {
        failed = 1;
    }
    if (nvme_close(&d) != 0)
        failed = 1;
    else
        printf("nvme_cmb: shut down: queues deleted, CSTS.SHST complete, memory freed, "
               "CMB released\n");
    if (dmacoh_debug_get() != 0 && dmacoh_debug_get_stats(&ds) == 0) {
        printf("nvme_cmb: debug mode: %llu misuse reports, %llu poison errors\n",
               (unsigned long long)ds.reports, (unsigned long long)ds.poison_errors);
        failed |= ds.reports != 0 || ds.poison_errors != 0;
    }
    return failed;
}
