/* SPDX-License-Identifier: MIT */
/*
 * regs.h - the NVMe controller's registers (NVM Express Base Specification 1.4, section 3.1;
 * 2.0 numbering in brackets where it differs): capabilities, configuration and status, the
 * admin queue attributes and bases, the controller memory buffer, and the doorbells.
 *
 * Registers live in BAR0 (MLBAR/MUBAR). They are read and written with dmacoh's accessors
 * (dmacoh/io.h), which are little-endian and ordered against memory, as the spec's registers
 * need: a doorbell write is not issued before the queue entry it announces is visible.
 */
#ifndef NVME_CMB_REGS_H
#define NVME_CMB_REGS_H

#include <stdbool.h>
#include <stdint.h>

/* Register offsets (1.4 section 3.1, figure 78). */
#define NVME_REG_CAP    0x00   /* Controller Capabilities, 64 bits (3.1.1) */
#define NVME_REG_VS     0x08   /* Version (3.1.2) */
#define NVME_REG_CC     0x14   /* Controller Configuration (3.1.5) */
#define NVME_REG_CSTS   0x1c   /* Controller Status (3.1.6) */
#define NVME_REG_AQA    0x24   /* Admin Queue Attributes (3.1.8) */
#define NVME_REG_ASQ    0x28   /* Admin Submission Queue Base Address, 64 bits (3.1.9) */
#define NVME_REG_ACQ    0x30   /* Admin Completion Queue Base Address, 64 bits (3.1.10) */
#define NVME_REG_CMBLOC 0x38   /* Controller Memory Buffer Location (3.1.11) */
#define NVME_REG_CMBSZ  0x3c   /* Controller Memory Buffer Size (3.1.12) */
#define NVME_REG_CMBMSC 0x50   /* CMB Memory Space Control, 64 bits (3.1.16) */
#define NVME_REG_CMBSTS 0x58   /* CMB Status (3.1.17) */
#define NVME_REG_DBS    0x1000 /* first doorbell (3.1.24, 3.1.25) */

/* CAP fields (3.1.1). */
#define NVME_CAP_MQES(cap)    ((unsigned)((cap)&0xffff) + 1u)    /* entries per queue, at most */
#define NVME_CAP_TO(cap)      ((unsigned)(((cap) >> 24) & 0xff)) /* ready timeout, 500 ms units */
#define NVME_CAP_DSTRD(cap)   ((unsigned)(((cap) >> 32) & 0xf))  /* doorbell stride 4 << DSTRD */
#define NVME_CAP_CSS_NVM(cap) ((((cap) >> 37) & 1u) != 0)        /* NVM command set supported */
#define NVME_CAP_MPSMIN(cap)  ((unsigned)(((cap) >> 48) & 0xf))  /* 4 KiB << MPSMIN */
#define NVME_CAP_CMBS(cap)    ((((cap) >> 57) & 1u) != 0)        /* CMBLOC/CMBSZ/CMBMSC supported */

/* CC (3.1.5) and CSTS (3.1.6). */
#define NVME_CC_EN         0x1u
#define NVME_CC_SHN_NORMAL (1u << 14)
#define NVME_CC_SHN_MASK   (3u << 14)
#define NVME_CC_IOSQES(n)  ((uint32_t)(n) << 16) /* log2 of the SQ entry size: 6 (64 bytes) */
#define NVME_CC_IOCQES(n)  ((uint32_t)(n) << 20) /* log2 of the CQ entry size: 4 (16 bytes) */
#define NVME_CSTS_RDY      0x1u
#define NVME_CSTS_CFS      0x2u
#define NVME_CSTS_SHST(x)  (((x) >> 2) & 3u)
#define NVME_SHST_COMPLETE 2u

/* CMBMSC (3.1.16): Capabilities Registers Enabled, Memory Space Enabled, base address. */
#define NVME_CMBMSC_CRE  0x1ull
#define NVME_CMBMSC_CMSE 0x2ull

/* The controller's registers as this driver sees them. */
struct nvme_regs {
    volatile uint8_t *bar0; /* BAR0 mapped into the process */
    uint64_t bar0_len;      /* bytes of it mapped: registers and doorbells must lie inside */
    uint64_t cap;           /* CAP, read once at reset */
    unsigned stride;        /* bytes between doorbells: 4 << CAP.DSTRD */
    unsigned timeout_ms;    /* CAP.TO in milliseconds: the longest RDY or SHST wait */
};

/* What CMBLOC and CMBSZ say about the controller memory buffer (3.1.11, 3.1.12). */
struct nvme_cmb_info {
    unsigned bir;    /* which BAR holds it */
    uint64_t offset; /* where in that BAR it starts (CMBLOC.OFST in CMBSZ.SZU units) */
    uint64_t size;   /* its bytes (CMBSZ.SZ in CMBSZ.SZU units) */
    bool sqs;        /* Submission Queue Support: I/O SQs may live in it */
    bool cqs;        /* Completion Queue Support */
    bool lists;      /* PRP and SGL lists may live in it */
    bool rds;        /* Read Data Support: data of reads may be written into it */
    bool wds;        /* Write Data Support: data of writes may be taken from it */
};

uint32_t nvme_rd32(const struct nvme_regs *r, unsigned off);
void nvme_wr32(const struct nvme_regs *r, unsigned off, uint32_t v);
uint64_t nvme_rd64(const struct nvme_regs *r, unsigned off);
void nvme_wr64(const struct nvme_regs *r, unsigned off, uint64_t v);

/* Monotonic clock in nanoseconds, for timeouts and figures. */
uint64_t nvme_now_ns(void);

/* Reads CAP and disables the controller (CC.EN = 0, wait for CSTS.RDY = 0 within CAP.TO).
 * Returns 0; -ENODEV (message on stderr) when the doorbells of queue pairs 0 and 1 lie beyond
 * the mapped bar0_len (CAP.DSTRD) or the controller cannot use 4 KiB memory pages (CAP.MPSMIN
 * above 0); -ETIMEDOUT or -EIO as for the waits below. */
int nvme_reset(struct nvme_regs *r);

/* Sets CC with EN (and the queue entry sizes) and waits for CSTS.RDY = 1 within CAP.TO.
 * -ETIMEDOUT, or -EIO when the controller reports a fatal status (CSTS.CFS). */
int nvme_enable(struct nvme_regs *r);

/* Normal shutdown (7.6.2): CC.SHN = 01b, wait for CSTS.SHST = 10b, then CC.EN = 0 and wait
 * for CSTS.RDY = 0 - that last wait even when the shutdown notification timed out, since only
 * a controller that is no longer ready has stopped using host memory. First error returned. */
int nvme_shutdown(struct nvme_regs *r);

/* Sets CMBMSC.CRE so that CMBLOC and CMBSZ are reported, and decodes them (CMBSZ.SZU scales
 * both SZ and CMBLOC.OFST). -ENODEV when the controller has no CMB (CAP.CMBS clear or CMBSZ 0)
 * or reports one this driver cannot use (a reserved SZU, with a message). Whether it lies
 * inside its BAR is for the caller to check, who knows the BAR's size. */
int nvme_cmb_probe(const struct nvme_regs *r, struct nvme_cmb_info *cmb);

/* 0 when the CMB lies inside its BAR of bar_size bytes (CMBLOC.OFST + CMBSZ.SZ, 3.1.11);
 * -ENODEV with a message otherwise. */
int nvme_cmb_fits(const struct nvme_cmb_info *cmb, uint64_t bar_size);

/* Turns the CMB's controller memory space on at controller address cba (CMBMSC.CMSE and CBA):
 * queue and PRP addresses in [cba, cba + size) are then served from the CMB. -EINVAL when the
 * controller refuses the address (CMBSTS.CBAI). */
int nvme_cmb_enable_space(const struct nvme_regs *r, uint64_t cba);

/* CMBMSC = 0: no CMB registers, no CMB address space. */
void nvme_cmb_disable(const struct nvme_regs *r);

/* Doorbells (3.1.24, 3.1.25): submission queue y's tail, completion queue y's head. */
void nvme_ring_sq(const struct nvme_regs *r, unsigned qid, uint32_t tail);
void nvme_ring_cq(const struct nvme_regs *r, unsigned qid, uint32_t head);

#endif /* NVME_CMB_REGS_H */
