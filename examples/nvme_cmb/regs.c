/* SPDX-License-Identifier: MIT */
/*
 * regs.c - controller registers: reset, enable and shutdown with CAP.TO timeouts (NVMe 1.4
 * section 7.6.1 initialisation, 7.6.2 shutdown), the controller memory buffer registers, and
 * the doorbells.
 */
#include "regs.h"

#include <dmacoh/io.h>

#include <errno.h>
#include <stdio.h>
#include <time.h>

uint32_t nvme_rd32(const struct nvme_regs *r, unsigned off)
{
    return dmacoh_ioread32(r->bar0 + off);
}

void nvme_wr32(const struct nvme_regs *r, unsigned off, uint32_t v)
{
    dmacoh_iowrite32(v, r->bar0 + off);
}

/* 64-bit registers are read and written as two dwords, low first (3.1: "64-bit registers
 * may be accessed as 2 32-bit accesses"), which every controller accepts. */
uint64_t nvme_rd64(const struct nvme_regs *r, unsigned off)
{
    uint64_t lo = nvme_rd32(r, off);

    return lo | (uint64_t)nvme_rd32(r, off + 4) << 32;
}

void nvme_wr64(const struct nvme_regs *r, unsigned off, uint64_t v)
{
    nvme_wr32(r, off, (uint32_t)v);
    nvme_wr32(r, off + 4, (uint32_t)(v >> 32));
}

uint64_t nvme_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Polls CSTS until (CSTS & mask) == want, CSTS.CFS, or the controller's timeout. */
static int wait_csts(const struct nvme_regs *r, uint32_t mask, uint32_t want, const char *what)
{
    uint64_t end = nvme_now_ns() + (uint64_t)r->timeout_ms * 1000000u;
    struct timespec pause = {0, 100000}; /* 100 us between reads */
    uint32_t csts;

    for (;;) {
        csts = nvme_rd32(r, NVME_REG_CSTS);
        if (csts == 0xffffffffu) {
            fprintf(stderr,
                    "nvme: CSTS reads all ones while waiting for %s: the controller "
                    "is gone or its BAR is not decoded\n",
                    what);
            return -EIO;
        }
        if ((csts & mask) == want)
            return 0;
        if ((csts & NVME_CSTS_CFS) && want != 0) {
            fprintf(stderr, "nvme: controller fatal status (CSTS %#x) while waiting for %s\n", csts,
                    what);
            return -EIO;
        }
        if (nvme_now_ns() > end) {
            fprintf(stderr, "nvme: %s not reached within CAP.TO = %u ms (CSTS %#x)\n", what,
                    r->timeout_ms, csts);
            return -ETIMEDOUT;
        }
        nanosleep(&pause, NULL);
    }
}

int nvme_reset(struct nvme_regs *r)
{
    uint32_t cc;

    r->cap = nvme_rd64(r, NVME_REG_CAP);
    r->stride = 4u << NVME_CAP_DSTRD(r->cap);
    /* CAP.TO is in 500 ms units; 0 would mean "no time", so wait at least 500 ms. */
    r->timeout_ms = (NVME_CAP_TO(r->cap) ? NVME_CAP_TO(r->cap) : 1u) * 500u;
    /* The doorbells of queue pairs 0 and 1: the last is CQ 1's head at 0x1000 + 3 stride. */
    if (NVME_REG_DBS + 3ull * r->stride + 4 > r->bar0_len) {
        fprintf(stderr,
                "nvme: doorbell stride %u (CAP.DSTRD %u) puts queue 1's doorbells beyond the "
                "%llu bytes of BAR0\n",
                r->stride, NVME_CAP_DSTRD(r->cap), (unsigned long long)r->bar0_len);
        return -ENODEV;
    }
    /* CC.MPS = 0 (4 KiB pages, this driver's PRP unit) must lie in [MPSMIN, MPSMAX]. */
    if (NVME_CAP_MPSMIN(r->cap) != 0) {
        fprintf(stderr,
                "nvme: the controller's smallest memory page is %u KiB (CAP.MPSMIN): "
                "this driver uses 4 KiB pages\n",
                4u << NVME_CAP_MPSMIN(r->cap));
        return -ENODEV;
    }
    cc = nvme_rd32(r, NVME_REG_CC);
    if (cc & NVME_CC_EN)
        nvme_wr32(r, NVME_REG_CC, cc & ~NVME_CC_EN);
    return wait_csts(r, NVME_CSTS_RDY, 0, "CSTS.RDY = 0 (disable)");
}

int nvme_enable(struct nvme_regs *r)
{
    /* CSS 000b (NVM command set), MPS 0 (4 KiB pages), AMS 000b (round robin). */
    uint32_t cc = NVME_CC_IOSQES(6) | NVME_CC_IOCQES(4) | NVME_CC_EN;

    nvme_wr32(r, NVME_REG_CC, cc);
    return wait_csts(r, NVME_CSTS_RDY, NVME_CSTS_RDY, "CSTS.RDY = 1 (enable)");
}

int nvme_shutdown(struct nvme_regs *r)
{
    uint32_t cc = nvme_rd32(r, NVME_REG_CC);
    int rc, rc2;

    nvme_wr32(r, NVME_REG_CC, (cc & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL);
    rc = wait_csts(r, 3u << 2, NVME_SHST_COMPLETE << 2, "CSTS.SHST = 10b (shutdown complete)");
    nvme_wr32(r, NVME_REG_CC, 0);
    rc2 = wait_csts(r, NVME_CSTS_RDY, 0, "CSTS.RDY = 0 (disable after shutdown)");
    return rc ? rc : rc2;
}

int nvme_cmb_probe(const struct nvme_regs *r, struct nvme_cmb_info *cmb)
{
    uint32_t loc, sz;
    uint64_t unit;

    if (!NVME_CAP_CMBS(r->cap)) {
        /* Before 1.4, CMBLOC/CMBSZ were always on: CAP.CMBS clear may still mean a CMB. */
        sz = nvme_rd32(r, NVME_REG_CMBSZ);
        if (sz == 0)
            return -ENODEV;
    }
    nvme_wr64(r, NVME_REG_CMBMSC, NVME_CMBMSC_CRE);
    loc = nvme_rd32(r, NVME_REG_CMBLOC);
    sz = nvme_rd32(r, NVME_REG_CMBSZ);
    if (sz == 0)
        return -ENODEV;
    if (((sz >> 8) & 0xf) > 6) {
        fprintf(stderr, "nvme: CMBSZ %#x: size unit (SZU) %u is reserved\n", sz, (sz >> 8) & 0xf);
        return -ENODEV;
    }
    unit = 4096ull << (4 * ((sz >> 8) & 0xf)); /* SZU: 4 KiB, 64 KiB, 1 MiB, ... 64 GiB */
    cmb->bir = loc & 7;
    cmb->offset = (uint64_t)(loc >> 12) * unit;
    cmb->size = (uint64_t)(sz >> 12) * unit;
    cmb->sqs = sz & 1;
    cmb->cqs = (sz >> 1) & 1;
    cmb->lists = (sz >> 2) & 1;
    cmb->rds = (sz >> 3) & 1;
    cmb->wds = (sz >> 4) & 1;
    return 0;
}

int nvme_cmb_fits(const struct nvme_cmb_info *cmb, uint64_t bar_size)
{
    if (cmb->offset < bar_size && cmb->size <= bar_size - cmb->offset)
        return 0;
    fprintf(stderr, "nvme: CMB of %llu bytes at offset %#llx does not fit in BAR%u (%llu bytes)\n",
            (unsigned long long)cmb->size, (unsigned long long)cmb->offset, cmb->bir,
            (unsigned long long)bar_size);
    return -ENODEV;
}

int nvme_cmb_enable_space(const struct nvme_regs *r, uint64_t cba)
{
    /* CBA is bits 63:12; the high dword first, so the low write (with CMSE) sees it all. */
    nvme_wr32(r, NVME_REG_CMBMSC + 4, (uint32_t)(cba >> 32));
    nvme_wr32(r, NVME_REG_CMBMSC, (uint32_t)(cba & ~0xfffull) | NVME_CMBMSC_CRE | NVME_CMBMSC_CMSE);
    if (nvme_rd32(r, NVME_REG_CMBSTS) & 1u) { /* CBAI: CBA Invalid */
        fprintf(stderr, "nvme: the controller refused CMB address %#llx (CMBSTS.CBAI)\n",
                (unsigned long long)cba);
        return -EINVAL;
    }
    return 0;
}

void nvme_cmb_disable(const struct nvme_regs *r)
{
    nvme_wr64(r, NVME_REG_CMBMSC, 0);
}

void nvme_ring_sq(const struct nvme_regs *r, unsigned qid, uint32_t tail)
{
    nvme_wr32(r, NVME_REG_DBS + (2 * qid) * r->stride, tail);
}

void nvme_ring_cq(const struct nvme_regs *r, unsigned qid, uint32_t head)
{
    nvme_wr32(r, NVME_REG_DBS + (2 * qid + 1) * r->stride, head);
}
