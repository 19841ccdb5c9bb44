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
 *
 * Options are checked before any device is opened, each refusal naming the option: whole
 * unsigned numbers only, 1 to 65536 blocks per write (NLB is 16 bits, 0's based), a non-zero
 * 4 KiB-aligned --cba (CMBMSC.CBA is bits 63:12), and no --cba on the PCI platform (see
 * main()). LBA ranges are checked against the namespace once Identify has told its size.
 */
#include "bench.h"
#include "setup.h"

#include <dmacoh/debug.h>
#include <dmacoh/io.h>

#include <endian.h>
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
    if (!c->stuck) { /* a controller that did not stop after a timeout may still use them */
        buf_put(&in);
        buf_put(&out);
    }
done:
    free(want);
    free(got);
    return rc;
}

/* A write whose PRP list lies in memory that was freed just before the command is sent. */
static int bad_prp(struct nvme_ctrl *c, uint64_t lba)
{
    unsigned nlb = 3 * NVME_PAGE / c->lba_bytes;
    struct buf data, list;
    uint64_t ent[2];
    int st;

    /* Inside the namespace, or the controller's "LBA out of range" would pass for a refusal. */
    if (lba >= c->nsze || nlb > c->nsze - lba) {
        fprintf(stderr,
                "nvme_cmb: --bad-prp %" PRIu64 ": %u blocks there are not inside "
                "namespace 1 (%" PRIu64 " blocks)\n",
                lba, nlb, c->nsze);
        return -EINVAL;
    }
    if (buf_get(c, &data, 3 * NVME_PAGE, false))
        return -ENOMEM;
    if (buf_get(c, &list, NVME_PAGE, false)) {
        buf_put(&data);
        return -ENOMEM;
    }
    fill(data.cpu, data.len, "bad-prp.");
    ent[0] = htole64(data.dma + NVME_PAGE); /* PRP entries are little-endian */
    ent[1] = htole64(data.dma + 2 * NVME_PAGE);
    memcpy(list.cpu, ent, sizeof(ent));
    buf_put(&list); /* its IOVA is unmapped from the IOMMU now */
    printf("nvme_cmb: bad PRP: a write of 3 pages at LBA %" PRIu64 " with its PRP list at "
           "%#llx, freed\n",
           lba, (unsigned long long)list.dma);
    st = nvme_io_prp(c, true, lba, nlb, data.dma, list.dma);
    if (!c->stuck) /* after a timeout, only once the controller stopped */
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

/* A number (decimal, 0x hex or 0 octal) that must be all of s up to `stop` ('\0' or ':'),
 * without a sign and within max; *end gets where it stopped. */
static bool number(const char *s, char stop, uint64_t max, uint64_t *v, const char **end)
{
    char *e;

    if (*s < '0' || *s > '9') /* no sign, no blank: strtoull would take "-1" as 2^64 - 1 */
        return false;
    errno = 0;
    *v = strtoull(s, &e, 0);
    if (end)
        *end = e;
    return errno == 0 && e != s && *e == stop && *v <= max;
}

static int parse_job(const char *s, bool cmb, struct job *j)
{
    const char *end;
    uint64_t v;

    if (!number(s, ':', UINT64_MAX, &j->lba, &end))
        return -1;
    /* At most the blocks one command moves (the 0's based 16-bit NLB); the namespace size,
     * MDTS and the PRP list are checked against the controller once it is known. */
    if (!number(end + 1, ':', 65536, &v, &end) || v == 0 || end[1] == '\0')
        return -1;
    j->blocks = (unsigned)v;
    j->tag = end + 1;
    j->cmb = cmb;
    return 0;
}

/* Bad usage, said precisely. */
static int bad(const char *what, const char *arg)
{
    fprintf(stderr, "nvme_cmb: %s%s%s%s\n", what, *arg ? ": '" : "", arg, *arg ? "'" : "");
    return 2;
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
        uint64_t n;

        if (!strcmp(a, "--no-cmb") || !strcmp(a, "--cmb-io")) {
            *(a[2] == 'n' ? &o.no_cmb : &o.cmb_io) = true;
            continue;
        }
        if (a[0] != '-') {
            if (o.bdf)
                return bad("more than one PCI address", a);
            o.bdf = a;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--platform") && (!strcmp(v, "vfio") || !strcmp(v, "pci"))) {
            o.use_pci = !strcmp(v, "pci");
        } else if (!strcmp(a, "--cba")) {
            /* CBA is bits 63:12 of CMBMSC: a page-aligned controller address, not 0. */
            if (!number(v, '\0', UINT64_MAX, &o.cba, NULL) || o.cba == 0 ||
                (o.cba & (NVME_PAGE - 1)))
                return bad("--cba: not a non-zero 4 KiB-aligned address", v);
            o.cba_given = true;
        } else if (!strcmp(a, "--timeout")) {
            if (!number(v, '\0', 3600000, &n, NULL) || n == 0)
                return bad("--timeout: not 1 to 3600000 milliseconds", v);
            o.timeout_ms = (unsigned)n;
        } else if (!strcmp(a, "--write") || !strcmp(a, "--write-cmb")) {
            if (njobs == MAX_WRITES)
                return bad("more than 16 writes", v);
            if (parse_job(v, !strcmp(a, "--write-cmb"), &jobs[njobs++]))
                return bad("not LBA:BLOCKS:TAG with 1 to 65536 blocks and a tag", v);
        } else if (!strcmp(a, "--bad-prp")) {
            if (!number(v, '\0', INT64_MAX, &n, NULL))
                return bad("--bad-prp: not an LBA", v);
            bad_lba = (long long)n;
        } else if (!strcmp(a, "--bench")) {
            if (!number(v, '\0', 100000000, &n, NULL) || n == 0)
                return bad("--bench: not 1 to 100000000 commands", v);
            bench_n = (unsigned)n;
        } else {
            return usage();
        }
    }
    if (!o.bdf)
        return usage();
    if (o.no_cmb && (o.cmb_io || o.cba_given))
        return bad("--no-cmb with --cmb-io or --cba", "");
    /* Without an IOMMU system memory is known to the controller by its physical address: a CBA
     * of our choosing could name RAM, and the controller would then take those RAM addresses
     * for its own memory. The CMB stays at its bus address, which no RAM has. */
    if (o.use_pci && o.cba_given)
        return bad("--cba with --platform pci (physical addresses: the CMB keeps its bus "
                   "address)",
                   "");
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
