/* SPDX-License-Identifier: MIT */
/*
 * model.c - nvme_cmb's registers, queues, commands and PRPs against a model of an NVMe
 * controller, on dmacoh's simulated platform: no hardware, no privilege, any CPU.
 *
 * The model is a thread that does what a controller does with host memory, through the
 * simulated bus (dmacoh_sim_bus_read/write) and the BAR0 registers: it follows CC.EN with
 * CSTS.RDY, takes the admin queue from AQA/ASQ/ACQ, fetches submission entries up to the SQ
 * tail doorbell, decodes them as the little-endian structures the specification defines
 * (NVMe 1.4 section 4.2), checks every rule of PRPs (4.3: PRP1 dword aligned, later entries
 * page aligned, PRP2 a page or a qword-aligned list that stays inside its page), MDTS, the
 * queue sizes against CAP.MQES and the LBA range, moves data between its medium and the
 * buffers, and posts completions with the phase tag (4.6), never more than the CQ head
 * doorbell leaves room for. The driver's code runs unchanged; only what setup.c does with the
 * platform (BAR0, AQA/ASQ/ACQ) is repeated here. Run under qemu-s390x by `make cross-test`,
 * it proves the byte order on a big-endian host.
 *
 * Output: one line per check; exit status 0 when all passed.
 */
#include "../cmd.h"

#include <dmacoh/io.h>
#include <dmacoh/pool.h>
#include <dmacoh/sim.h>

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAM_BASE  0x40000000ull
#define CMB_BUS   0x80000000ull   /* where the simulated CMB sits on the bus */
#define CMB_CBA   0x4000000000ull /* the controller address it is declared at (CMBMSC.CBA) */
#define CMB_SIZE  (1u << 20)
#define NS_BLOCKS 4096u
#define BLOCK     512u
#define MQES      31u /* 0's based: I/O queues of at most 32 entries */
#define MDTS      3u  /* 2^3 pages: 32 KiB */

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            printf("ok - ");                                                                       \
        } else {                                                                                   \
            printf("FAIL (line %d) - ", __LINE__);                                                 \
            failures++;                                                                            \
        }                                                                                          \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
    } while (0)

/* ---- the controller model ---------------------------------------------------------------- */

struct mq {
    bool sq_live, cq_live;
    uint64_t sq_base, cq_base;
    unsigned sq_depth, cq_depth, head, cq_tail, phase;
};

static struct model {
    struct dmacoh_sim *sim;
    volatile uint8_t *bar0;
    pthread_t thread;
    struct mq q[2];
    uint8_t *medium;
    bool ready;
    /* Set by the test (atomics): stop, drop the next I/O command, Identify's fields. */
    int stop, drop_next, bad_sqhd, ignore_shn, mdts, lbads;
    /* Counted by the model: rule violations it saw, commands executed. */
    int violations, commands;
} m;

static uint32_t reg_rd(unsigned off)
{
    return dmacoh_ioread32(m.bar0 + off);
}

static void reg_wr(unsigned off, uint32_t v)
{
    dmacoh_iowrite32(v, m.bar0 + off);
}

/* A controller address as the bus sees it: the CMB window [CBA, CBA + size) is the CMB. */
static uint64_t bus_of(uint64_t a)
{
    return a >= CMB_CBA && a - CMB_CBA < CMB_SIZE ? a - CMB_CBA + CMB_BUS : a;
}

static int bus_rd(uint64_t a, void *p, size_t n)
{
    return dmacoh_sim_bus_read(m.sim, bus_of(a), p, n);
}

static int bus_wr(uint64_t a, const void *p, size_t n)
{
    return dmacoh_sim_bus_write(m.sim, bus_of(a), p, n);
}

static void violation(const char *what, uint64_t v)
{
    printf("# model: %s (%#" PRIx64 ")\n", what, v);
    __atomic_add_fetch(&m.violations, 1, __ATOMIC_SEQ_CST);
}

/* Status codes (4.6.1.2): generic (SCT 0) and command specific (SCT 1). */
enum {
    SC_OK = 0x00,
    SC_BAD_OPCODE = 0x01,
    SC_BAD_FIELD = 0x02,
    SC_XFER = 0x04,
    SC_PRP_OFFSET = 0x13,
    SC_LBA_RANGE = 0x80,
    SC_BAD_QID = 0x101,
    SC_BAD_QSIZE = 0x102,
};

/* Moves len bytes between the medium at off and the host memory the PRPs describe. */
static int prp_xfer(uint64_t prp1, uint64_t prp2, uint8_t *medium, size_t len, bool to_host)
{
    uint64_t ent[512];
    size_t done, chunk, nents = 0;

    if (prp1 & 3) {
        violation("PRP1 not dword aligned", prp1);
        return SC_PRP_OFFSET;
    }
    chunk = NVME_PAGE - (prp1 & (NVME_PAGE - 1));
    if (chunk > len)
        chunk = len;
    if (len - chunk > NVME_PAGE) { /* PRP2 is a list: it must lie inside its page */
        size_t need = (len - chunk + NVME_PAGE - 1) / NVME_PAGE;

        if (prp2 & 7) {
            violation("PRP list not qword aligned", prp2);
            return SC_PRP_OFFSET;
        }
        if ((prp2 & (NVME_PAGE - 1)) + need * 8 > NVME_PAGE) {
            violation("PRP list crosses a page (would need chaining)", prp2);
            return SC_BAD_FIELD;
        }
        if (bus_rd(prp2, ent, need * 8))
            return SC_XFER;
        for (size_t i = 0; i < need; i++)
            ent[i] = le64toh(ent[i]);
        nents = need;
    } else if (len > chunk) {
        ent[0] = prp2;
        nents = 1;
    }
    if ((to_host ? bus_wr(prp1, medium, chunk) : bus_rd(prp1, medium, chunk)) != 0)
        return SC_XFER;
    done = chunk;
    for (size_t i = 0; i < nents; i++) {
        if (ent[i] & (NVME_PAGE - 1)) {
            violation("PRP entry after the first not page aligned", ent[i]);
            return SC_PRP_OFFSET;
        }
        chunk = len - done < NVME_PAGE ? len - done : NVME_PAGE;
        if ((to_host ? bus_wr(ent[i], medium + done, chunk)
                     : bus_rd(ent[i], medium + done, chunk)) != 0)
            return SC_XFER;
        done += chunk;
    }
    return SC_OK;
}

static int identify(const struct nvme_sqe *e)
{
    uint8_t id[NVME_PAGE];
    uint64_t nsze = htole64(NS_BLOCKS);
    unsigned cns = le32toh(e->cdw10) & 0xff;

    if (le64toh(e->prp1) & (NVME_PAGE - 1)) {
        violation("Identify buffer not page aligned (needs PRP2 then)", le64toh(e->prp1));
        return SC_BAD_FIELD;
    }
    memset(id, 0, sizeof(id));
    if (cns == 1) {
        memcpy(id + 4, "MODEL-SERIAL-1      ", 20);
        memcpy(id + 24, "nvme_cmb model controller               ", 40);
        id[77] = (uint8_t)__atomic_load_n(&m.mdts, __ATOMIC_SEQ_CST);
    } else if (cns == 0 && le32toh(e->nsid) == 1) {
        memcpy(id, &nsze, 8);
        id[25] = 0; /* NLBAF: one format */
        id[26] = 0; /* FLBAS: format 0 */
        id[128 + 2] = (uint8_t)__atomic_load_n(&m.lbads, __ATOMIC_SEQ_CST);
    } else {
        return SC_BAD_FIELD;
    }
    return bus_wr(le64toh(e->prp1), id, sizeof(id)) ? SC_XFER : SC_OK;
}

static int admin(const struct nvme_sqe *e)
{
    uint32_t cdw10 = le32toh(e->cdw10), cdw11 = le32toh(e->cdw11);
    unsigned qid = cdw10 & 0xffff, size = (cdw10 >> 16) + 1;
    uint64_t base = le64toh(e->prp1);

    switch (e->opc) {
    case 0x06:
        return identify(e);
    case 0x05: /* Create I/O CQ */
        if (qid != 1 || m.q[1].cq_live)
            return SC_BAD_QID;
        if (size < 2 || size > MQES + 1)
            return SC_BAD_QSIZE;
        if (!(cdw11 & 1) || (base & (NVME_PAGE - 1)))
            return SC_BAD_FIELD;
        m.q[1].cq_base = base, m.q[1].cq_depth = size, m.q[1].cq_tail = 0, m.q[1].phase = 1;
        m.q[1].cq_live = true;
        reg_wr(NVME_REG_DBS + 3 * 4, 0); /* a new queue's head: the doorbell's last value is gone */
        return SC_OK;
    case 0x01: /* Create I/O SQ */
        if (qid != 1 || m.q[1].sq_live || (cdw11 >> 16) != 1 || !m.q[1].cq_live)
            return SC_BAD_QID;
        if (size < 2 || size > MQES + 1)
            return SC_BAD_QSIZE;
        if (!(cdw11 & 1) || (base & (NVME_PAGE - 1)))
            return SC_BAD_FIELD;
        m.q[1].sq_base = base, m.q[1].sq_depth = size, m.q[1].head = 0, m.q[1].sq_live = true;
        reg_wr(NVME_REG_DBS + 2 * 4, 0);
        return SC_OK;
    case 0x00: /* Delete I/O SQ */
        if (qid != 1 || !m.q[1].sq_live)
            return SC_BAD_QID;
        m.q[1].sq_live = false;
        return SC_OK;
    case 0x04: /* Delete I/O CQ: after its SQs (5.5) */
        if (qid != 1 || !m.q[1].cq_live || m.q[1].sq_live)
            return SC_BAD_QID;
        m.q[1].cq_live = false;
        return SC_OK;
    default:
        return SC_BAD_OPCODE;
    }
}

static int io(const struct nvme_sqe *e)
{
    uint64_t slba = le32toh(e->cdw10) | (uint64_t)le32toh(e->cdw11) << 32;
    unsigned nlb = (le32toh(e->cdw12) & 0xffff) + 1;
    size_t len = (size_t)nlb * BLOCK;

    if (e->opc != 0x01 && e->opc != 0x02)
        return SC_BAD_OPCODE;
    if (le32toh(e->nsid) != 1)
        return SC_BAD_FIELD;
    if (slba >= NS_BLOCKS || nlb > NS_BLOCKS - slba)
        return SC_LBA_RANGE;
    if (len > (NVME_PAGE << MDTS))
        return SC_BAD_FIELD;
    return prp_xfer(le64toh(e->prp1), le64toh(e->prp2), m.medium + slba * BLOCK, len,
                    e->opc == 0x02);
}

static void complete(unsigned qid, uint16_t cid, int sc)
{
    struct mq *q = &m.q[qid];
    uint8_t cqe[16];
    uint16_t v;

    memset(cqe, 0, sizeof(cqe));
    v = htole16(__atomic_exchange_n(&m.bad_sqhd, 0, __ATOMIC_SEQ_CST) ? 0xfff0 : (uint16_t)q->head);
    memcpy(cqe + 8, &v, 2); /* SQHD */
    v = htole16((uint16_t)qid);
    memcpy(cqe + 10, &v, 2);
    v = htole16(cid);
    memcpy(cqe + 12, &v, 2);
    bus_wr(q->cq_base + q->cq_tail * 16u, cqe, 14);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the status word (phase tag) last */
    v = htole16((uint16_t)(sc << 1 | (int)q->phase));
    bus_wr(q->cq_base + q->cq_tail * 16u + 14, &v, 2);
    if (++q->cq_tail == q->cq_depth) {
        q->cq_tail = 0;
        q->phase ^= 1;
    }
}

/* Executes what the SQ tail doorbell of qid announces, as far as the CQ has room. */
static void serve(unsigned qid)
{
    struct mq *q = &m.q[qid];
    unsigned stride = 4, tail = reg_rd(0x1000 + 2 * qid * stride);

    if (tail >= q->sq_depth) {
        violation("SQ tail doorbell beyond the queue", tail);
        return;
    }
    while (q->head != tail) {
        unsigned cq_head = reg_rd(0x1000 + (2 * qid + 1) * stride);
        struct nvme_sqe e;
        int sc;

        if ((q->cq_tail + 1) % q->cq_depth == cq_head)
            return; /* CQ full: wait for the host to move the head doorbell */
        bus_rd(q->sq_base + q->head * 64u, &e, sizeof(e));
        q->head = (q->head + 1) % q->sq_depth;
        if (qid == 1 && __atomic_exchange_n(&m.drop_next, 0, __ATOMIC_SEQ_CST))
            continue; /* lost: never completed */
        sc = qid == 0 ? admin(&e) : io(&e);
        __atomic_add_fetch(&m.commands, 1, __ATOMIC_SEQ_CST);
        complete(qid, le16toh(e.cid), sc);
    }
}

static void *model_run(void *arg)
{
    struct timespec pause = {0, 20000};

    (void)arg;
    while (!__atomic_load_n(&m.stop, __ATOMIC_SEQ_CST)) {
        bool en = reg_rd(NVME_REG_CC) & NVME_CC_EN;

        if (en && !m.ready) { /* enable: the admin queue from AQA, ASQ, ACQ (7.6.1) */
            uint32_t aqa = reg_rd(NVME_REG_AQA);

            memset(m.q, 0, sizeof(m.q));
            m.q[0].sq_base = reg_rd(NVME_REG_ASQ) | (uint64_t)reg_rd(NVME_REG_ASQ + 4) << 32;
            m.q[0].cq_base = reg_rd(NVME_REG_ACQ) | (uint64_t)reg_rd(NVME_REG_ACQ + 4) << 32;
            m.q[0].sq_depth = (aqa & 0xfff) + 1;
            m.q[0].cq_depth = ((aqa >> 16) & 0xfff) + 1;
            m.q[0].phase = 1;
            m.q[0].sq_live = m.q[0].cq_live = true;
            m.ready = true;
        } else if (!en && m.ready) { /* disable: every queue gone, doorbells with them */
            memset(m.q, 0, sizeof(m.q));
            for (unsigned i = 0; i < 4; i++)
                reg_wr(NVME_REG_DBS + i * 4, 0);
            m.ready = false;
        }
        /* A shutdown notification (CC.SHN) is done at once: SHST = 10b, unless told not to. */
        reg_wr(NVME_REG_CSTS, (m.ready ? NVME_CSTS_RDY : 0) |
                                  ((reg_rd(NVME_REG_CC) & NVME_CC_SHN_MASK) &&
                                           !__atomic_load_n(&m.ignore_shn, __ATOMIC_SEQ_CST)
                                       ? NVME_SHST_COMPLETE << 2
                                       : 0));
        for (unsigned qid = 0; m.ready && qid < 2; qid++)
            if (m.q[qid].sq_live)
                serve(qid);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* ---- the driver against it --------------------------------------------------------------- */

static void set_cap(uint64_t cap)
{
    reg_wr(NVME_REG_CAP, (uint32_t)cap);
    reg_wr(NVME_REG_CAP + 4, (uint32_t)(cap >> 32));
}

static const uint64_t cap_ok = MQES | 1ull << 24 /* TO 500 ms */ | 1ull << 37 /* CSS NVM */;

static void registers(struct nvme_ctrl *c)
{
    struct nvme_cmb_info ci;

    set_cap(cap_ok | 10ull << 32); /* DSTRD 10: queue 1's doorbells at 0x1000 + 3 * 4 KiB */
    CHECK(nvme_reset(&c->regs) == -ENODEV, "doorbells beyond BAR0 (CAP.DSTRD) refused");
    set_cap(cap_ok | 1ull << 48); /* MPSMIN 1: 8 KiB pages at least */
    CHECK(nvme_reset(&c->regs) == -ENODEV, "CAP.MPSMIN above 4 KiB refused");
    set_cap(cap_ok | 1ull << 57); /* CMBS */
    CHECK(nvme_reset(&c->regs) == 0 && c->regs.stride == 4 && c->regs.timeout_ms == 500,
          "reset: stride 4, CAP.TO 500 ms");
    /* CMBLOC: OFST 2 (in SZU units), BIR 2; CMBSZ: SZ 16 of SZU 1 (64 KiB), WDS RDS LISTS SQS. */
    reg_wr(NVME_REG_CMBLOC, 2u << 12 | 2);
    reg_wr(NVME_REG_CMBSZ, 16u << 12 | 1u << 8 | 0x1d);
    CHECK(nvme_cmb_probe(&c->regs, &ci) == 0 && ci.bir == 2 && ci.offset == 128 * 1024 &&
              ci.size == 1024 * 1024 && ci.sqs && !ci.cqs && ci.lists && ci.rds && ci.wds,
          "CMBLOC/CMBSZ: offset and size scaled by SZU (128 KiB, 1 MiB), SQS LISTS RDS WDS");
    CHECK(reg_rd(NVME_REG_CMBMSC) & NVME_CMBMSC_CRE, "CMBMSC.CRE set before CMBLOC/CMBSZ are read");
    CHECK(nvme_cmb_fits(&ci, 1152 * 1024) == 0 && nvme_cmb_fits(&ci, 1024 * 1024) == -ENODEV &&
              nvme_cmb_fits(&ci, 64 * 1024) == -ENODEV,
          "the CMB must fit in its BAR: 128 KiB + 1 MiB in 1152 KiB yes, in 1 MiB or 64 KiB no");
    reg_wr(NVME_REG_CMBSZ, 16u << 12 | 7u << 8 | 0x1d);
    CHECK(nvme_cmb_probe(&c->regs, &ci) == -ENODEV, "a reserved CMBSZ.SZU (7) refused");
    reg_wr(NVME_REG_CMBSZ, 0);
    reg_wr(NVME_REG_CMBLOC, 0);
    set_cap(cap_ok);
}

/* Writes nlb blocks at lba from a buffer at dma + off, reads them back into another at the
 * same offset, compares, and compares the model's medium. */
static int round_trip(struct nvme_ctrl *c, struct dmacoh_device *dev, bool io_mem, uint64_t lba,
                      unsigned nlb, unsigned off, unsigned seed)
{
    size_t len = (size_t)nlb * BLOCK, sz = (len + off + NVME_PAGE - 1) & ~(size_t)(NVME_PAGE - 1);
    uint8_t *want = malloc(len), *got = malloc(len);
    void *a, *b;
    dmacoh_dma_addr_t da, db;
    int rc = -ENOMEM;

    if (!want || !got || dmacoh_alloc_coherent(dev, sz, 0, 0, &a, &da))
        goto out;
    if (dmacoh_alloc_coherent(dev, sz, 0, 0, &b, &db)) {
        dmacoh_free_coherent(dev, sz, a, da);
        goto out;
    }
    for (size_t i = 0; i < len; i++)
        want[i] = (uint8_t)(i * 7 + seed + i / 512);
    if (io_mem)
        dmacoh_memcpy_toio((char *)a + off, want, len);
    else
        memcpy((char *)a + off, want, len);
    rc = nvme_rw(c, true, lba, nlb, da + off, NULL);
    if (rc == 0)
        rc = nvme_rw(c, false, lba, nlb, db + off, NULL);
    if (rc == 0) {
        if (io_mem)
            dmacoh_memcpy_fromio(got, (char *)b + off, len);
        else
            memcpy(got, (char *)b + off, len);
        if (memcmp(want, got, len) || memcmp(want, m.medium + lba * BLOCK, len))
            rc = -EIO;
    }
    dmacoh_free_coherent(dev, sz, b, db);
    dmacoh_free_coherent(dev, sz, a, da);
out:
    free(want);
    free(got);
    return rc;
}

/* Many transfers of every PRP form, more than the ring holds several times over. */
static void transfers(struct nvme_ctrl *c, struct dmacoh_device *dev, bool io_mem,
                      const char *where)
{
    static const unsigned nlbs[] = {1, 8, 9, 16, 17, 24, 40, 64};
    static const unsigned offs[] = {0, 4, 512, 4092};
    unsigned n = 0, bad = 0;

    for (unsigned r = 0; r < 3; r++)
        for (unsigned i = 0; i < 8; i++)
            for (unsigned k = 0; k < 4; k++, n++)
                if (round_trip(c, dev, io_mem, (n * 37) % (NS_BLOCKS - 64), nlbs[i], offs[k], n))
                    bad++;
    CHECK(bad == 0 && m.violations == 0,
          "%u write+read pairs, %s, 1 to 64 blocks at PRP1 offsets 0/4/512/4092 (PRP1, PRP2, "
          "PRP lists; the %u-entry ring wrapped %u times): %u differ, %d rule violations",
          n, where, c->io.depth, 2 * n / c->io.depth, bad, m.violations);
    CHECK(reg_rd(NVME_REG_DBS + 2 * 4) == c->io.sq_tail &&
              reg_rd(NVME_REG_DBS + 3 * 4) == c->io.cq_head,
          "doorbells: SQ 1 tail %u, CQ 1 head %u", c->io.sq_tail, c->io.cq_head);
}

int main(void)
{
    struct dmacoh_sim_memory cmb_mem = {CMB_BUS, CMB_SIZE, DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO,
                                        false, 0};
    struct dmacoh_device host, cmb;
    struct nvme_ctrl c;
    dmacoh_dma_addr_t dma;
    uint8_t *bar0; /* BAR0's registers: plain memory the model and the driver share */
    uint64_t t0;
    void *p;
    int rc, granted = 0;

    memset(&m, 0, sizeof(m));
    memset(&c, 0, sizeof(c));
    m.mdts = 40; /* at first: a shift by 40 must not happen */
    m.lbads = 9;
    m.medium = calloc(NS_BLOCKS, BLOCK);
    bar0 = aligned_alloc(NVME_PAGE, 4 * NVME_PAGE);
    m.bar0 = bar0;
    if (!m.medium || !bar0 || dmacoh_sim_create(NULL, &m.sim) ||
        dmacoh_sim_add_memory(m.sim, &cmb_mem) ||
        dmacoh_device_init(&host, "nvme-host", NULL, dmacoh_sim_platform(m.sim)) ||
        dmacoh_device_init(&cmb, "nvme", NULL, dmacoh_sim_platform(m.sim)) ||
        dmacoh_declare_coherent_memory(&cmb, CMB_BUS, CMB_CBA, CMB_SIZE,
                                       DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, &granted)) {
        printf("FAIL - the simulated platform could not be set up\n");
        return 1;
    }
    memset(bar0, 0, 4 * NVME_PAGE);
    dmacoh_device_set_dma_mask(&host, UINT64_MAX);
    dmacoh_device_set_dma_mask(&cmb, UINT64_MAX);
    c.regs.bar0 = m.bar0;
    c.regs.bar0_len = 4 * NVME_PAGE;
    c.host_dev = &host;
    c.cmb_dev = &cmb;
    c.timeout_ms = 5000;
    registers(&c);

    /* Bring-up as setup.c does it: admin queues, AQA/ASQ/ACQ while disabled, enable. */
    rc = nvme_reset(&c.regs);
    rc = rc ? rc : nvme_queue_alloc(&c.admin, &c.regs, 0, 16, &host, false, &host);
    nvme_wr32(&c.regs, NVME_REG_AQA, 15u << 16 | 15u);
    nvme_wr64(&c.regs, NVME_REG_ASQ, c.admin.sq_dma);
    nvme_wr64(&c.regs, NVME_REG_ACQ, c.admin.cq_dma);
    if (rc || pthread_create(&m.thread, NULL, model_run, NULL)) {
        printf("FAIL - admin queues or the model thread\n");
        return 1;
    }
    CHECK(nvme_enable(&c.regs) == 0, "enable: CSTS.RDY = 1");
    CHECK(nvme_identify(&c) == 0 && c.max_pages == 0,
          "Identify with MDTS 40: no limit taken (no shift by 40)");
    __atomic_store_n(&m.lbads, 40, __ATOMIC_SEQ_CST);
    CHECK(nvme_identify(&c) == -ENODEV, "Identify Namespace with LBADS 40 refused");
    __atomic_store_n(&m.lbads, 9, __ATOMIC_SEQ_CST);
    __atomic_store_n(&m.mdts, MDTS, __ATOMIC_SEQ_CST);
    CHECK(nvme_identify(&c) == 0 && c.nsze == NS_BLOCKS && c.lba_bytes == 512 && c.max_pages == 8 &&
              !strcmp(c.serial, "MODEL-SERIAL-1") && !strcmp(c.model, "nvme_cmb model controller"),
          "Identify: '%s' '%s', %" PRIu64 " blocks of %u bytes, MDTS %u pages", c.model, c.serial,
          c.nsze, c.lba_bytes, c.max_pages);
    CHECK(dmacoh_pool_create(&c.prp_pool, "prp-lists", &host, NVME_PRP_LIST_ENTS * 8, 8, NVME_PAGE,
                             NULL) == 0,
          "PRP list pool");

    /* I/O queues in system memory, then with the SQ and the data in the CMB. */
    CHECK(nvme_create_io_queues(&c, 64, false) == 0 && c.io.depth == MQES + 1,
          "I/O queues created, 64 entries asked, %u taken (CAP.MQES + 1)", c.io.depth);
    transfers(&c, &host, false, "SQ and data in system memory");
    CHECK(round_trip(&c, &host, false, 7, 1, 0, 7) == 0 && c.io.cq_head != 0,
          "one more pair: the rings left at slot %u when deleted", c.io.cq_head);
    CHECK(nvme_delete_io_queues(&c) == 0 && !m.q[1].sq_live && !m.q[1].cq_live,
          "I/O queues deleted");
    CHECK(nvme_create_io_queues(&c, 32, true) == 0 && c.io.sq_in_cmb && c.io.sq_dma >= CMB_CBA &&
              c.io.sq_dma < CMB_CBA + CMB_SIZE,
          "I/O SQ in the CMB at %#llx", (unsigned long long)c.io.sq_dma);
    transfers(&c, &cmb, true, "SQ and data in the CMB");

    /* Requests the driver must refuse before anything is sent. */
    rc = dmacoh_alloc_coherent(&host, 16 * NVME_PAGE, 0, 0, &p, &dma);
    CHECK(rc == 0, "a 64 KiB buffer");
    if (rc == 0) {
        int before = __atomic_load_n(&m.commands, __ATOMIC_SEQ_CST);

        CHECK(nvme_rw(&c, true, UINT64_MAX, 1, dma, NULL) == -EINVAL,
              "LBA 2^64 - 1 refused (lba + nlb would wrap)");
        CHECK(nvme_rw(&c, true, NS_BLOCKS - 1, 2, dma, NULL) == -EINVAL,
              "2 blocks at the last LBA refused");
        CHECK(nvme_rw(&c, true, 0, 65, dma, NULL) == -EINVAL, "65 blocks (beyond MDTS) refused");
        CHECK(nvme_rw(&c, true, 0, 8, dma + 2, NULL) == -EINVAL, "PRP1 not dword aligned refused");
        CHECK(nvme_io_prp(&c, true, NS_BLOCKS, 1, dma, 0) == -EINVAL,
              "nvme_io_prp: LBA beyond the namespace refused");
        CHECK(__atomic_load_n(&m.commands, __ATOMIC_SEQ_CST) == before,
              "none of them reached the controller");
        /* A completion whose SQ head lies outside the ring: the full test would go wrong. */
        __atomic_store_n(&m.bad_sqhd, 1, __ATOMIC_SEQ_CST);
        rc = nvme_rw(&c, true, 0, 8, dma, NULL);
        CHECK(rc == -EIO && c.io.sq_head < c.io.depth,
              "a completion reporting SQ head 0xfff0 refused (-EIO), the SQ head kept (%u)",
              c.io.sq_head);
        CHECK(round_trip(&c, &host, false, 9, 8, 0, 9) == 0, "the queue still works after it");
        /* A command the controller never completes: timeout, then the controller stopped. */
        __atomic_store_n(&m.drop_next, 1, __ATOMIC_SEQ_CST);
        c.timeout_ms = 300;
        t0 = nvme_now_ns();
        rc = nvme_rw(&c, true, 0, 8, dma, NULL);
        CHECK(rc == -ETIMEDOUT && nvme_now_ns() - t0 < 3000000000ull,
              "a lost command: -ETIMEDOUT after %llu ms",
              (unsigned long long)((nvme_now_ns() - t0) / 1000000));
        CHECK(c.halted && !c.stuck && !(reg_rd(NVME_REG_CC) & NVME_CC_EN) &&
                  !(reg_rd(NVME_REG_CSTS) & NVME_CSTS_RDY),
              "after the timeout the controller is disabled (CC.EN 0, CSTS.RDY 0) before its "
              "memory is freed");
        CHECK(nvme_rw(&c, false, 0, 8, dma, NULL) == -EIO, "a halted controller takes no commands");
        dmacoh_free_coherent(&host, 16 * NVME_PAGE, p, dma);
    }
    CHECK(nvme_delete_io_queues(&c) == 0 && c.io.sq == NULL && !c.io_live,
          "halted: the I/O rings freed without commands");

    /* Shutdown (7.6.2): SHST awaited, then CC.EN = 0 and CSTS.RDY = 0 awaited before return -
     * also when the shutdown notification is never answered. */
    CHECK(nvme_enable(&c.regs) == 0 && nvme_shutdown(&c.regs) == 0 &&
              !(reg_rd(NVME_REG_CSTS) & NVME_CSTS_RDY) && !(reg_rd(NVME_REG_CC) & NVME_CC_EN),
          "shutdown: SHST complete, then the controller not ready");
    __atomic_store_n(&m.ignore_shn, 1, __ATOMIC_SEQ_CST);
    rc = nvme_enable(&c.regs);
    CHECK(rc == 0 && nvme_shutdown(&c.regs) == -ETIMEDOUT &&
              !(reg_rd(NVME_REG_CSTS) & NVME_CSTS_RDY) && !(reg_rd(NVME_REG_CC) & NVME_CC_EN),
          "shutdown never answered: -ETIMEDOUT after CAP.TO, yet CSTS.RDY = 0 on return");
    __atomic_store_n(&m.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(m.thread, NULL);
    rc = nvme_queue_free(&c.admin);
    rc = rc ? rc : dmacoh_pool_destroy(c.prp_pool, 0);
    rc = rc ? rc : dmacoh_release_coherent_memory(&cmb, 0);
    rc = rc ? rc : dmacoh_device_fini(&cmb);
    rc = rc ? rc : dmacoh_device_fini(&host);
    rc = rc ? rc : dmacoh_sim_destroy(m.sim);
    CHECK(rc == 0, "everything freed and released: the simulator is empty (%d)", rc);
    free(m.medium);
    free(bar0);
    printf("%s: %d failed\n", failures ? "FAIL" : "PASS", failures);
    return failures != 0;
}
