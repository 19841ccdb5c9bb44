/* SPDX-License-Identifier: MIT */
/*
 * queue.c - ring memory, submission with the tail doorbell, completion polling with the phase
 * tag and the head doorbell (NVMe 1.4 sections 4.1 queue mechanics, 4.6 completion entries).
 */
#include "queue.h"

#include <dmacoh/io.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t nvme_io_ns, nvme_alloc_ns;

int nvme_queue_alloc(struct nvme_queue *q, const struct nvme_regs *regs, unsigned qid,
                     unsigned depth, struct dmacoh_device *sq_dev, bool sq_in_cmb,
                     struct dmacoh_device *cq_dev)
{
    size_t sq_bytes = (size_t)depth * sizeof(struct nvme_sqe);
    size_t cq_bytes = (size_t)depth * sizeof(struct nvme_cqe);
    void *cq;
    int rc;

    memset(q, 0, sizeof(*q));
    if (depth < 2 || depth > 4096) {
        fprintf(stderr, "nvme: queue %u: %u entries (2 to 4096 allowed)\n", qid, depth);
        return -EINVAL;
    }
    q->regs = regs;
    q->qid = qid;
    q->depth = depth;
    q->sq_dev = sq_dev;
    q->sq_in_cmb = sq_in_cmb;
    q->cq_dev = cq_dev;
    q->phase = 1;
    /* Zeroed by the library (memset_io in device memory): an all-zero CQ carries phase 0, so
     * no stale entry looks new. Both rings are page-aligned (the alignment promise), as the
     * controller needs (ASQ/ACQ bits 11:0 are reserved; PRP1 of Create I/O SQ/CQ). */
    rc = dmacoh_alloc_coherent(sq_dev, sq_bytes, sq_in_cmb ? DMACOH_ALLOC_NOFALLBACK : 0, 0, &q->sq,
                               &q->sq_dma);
    if (rc) {
        q->sq = NULL;
        fprintf(stderr, "nvme: SQ %u (%zu bytes) for '%s': %s\n", qid, sq_bytes,
                dmacoh_device_name(sq_dev), dmacoh_strerror(rc));
        return rc;
    }
    rc = dmacoh_alloc_coherent(cq_dev, cq_bytes, 0, 0, &cq, &q->cq_dma);
    if (rc) {
        fprintf(stderr, "nvme: CQ %u (%zu bytes) for '%s': %s\n", qid, cq_bytes,
                dmacoh_device_name(cq_dev), dmacoh_strerror(rc));
        dmacoh_free_coherent(sq_dev, sq_bytes, q->sq, q->sq_dma);
        q->sq = NULL;
        return rc;
    }
    q->cq = cq;
    return 0;
}

int nvme_queue_free(struct nvme_queue *q)
{
    int a = dmacoh_free_coherent(q->sq_dev, (size_t)q->depth * sizeof(struct nvme_sqe), q->sq,
                                 q->sq_dma);
    int b = dmacoh_free_coherent(q->cq_dev, (size_t)q->depth * sizeof(struct nvme_cqe), q->cq,
                                 q->cq_dma);

    q->sq = NULL;
    q->cq = NULL;
    return a ? a : b;
}

int nvme_submit(struct nvme_queue *q, struct nvme_sqe *cmd, uint16_t *cid)
{
    uint16_t next = (uint16_t)((q->sq_tail + 1) % q->depth);
    void *slot;

    /* Full when the tail would meet the head the controller last reported (4.1.1). */
    if (next == q->sq_head)
        return -EBUSY;
    if (q->next_cid == 0xffff) /* "should not be used" as a command identifier (4.2) */
        q->next_cid = 0;
    *cid = q->next_cid++;
    cmd->cid = htole16(*cid);
    if (q->sq_in_cmb) {
        /* Device memory: the accessor takes a MAP pointer or an IO cookie alike. */
        slot = (char *)q->sq + (size_t)q->sq_tail * sizeof(*cmd);
        NVME_TIMED_VOID(nvme_io_ns, dmacoh_memcpy_toio(slot, cmd, sizeof(*cmd)));
    } else {
        memcpy((struct nvme_sqe *)q->sq + q->sq_tail, cmd, sizeof(*cmd));
    }
    q->sq_tail = next;
    /* An ordered write: the entry above is visible to the controller before the doorbell. */
    NVME_TIMED_VOID(nvme_io_ns, nvme_ring_sq(q->regs, q->qid, q->sq_tail));
    return 0;
}

int nvme_wait(struct nvme_queue *q, uint16_t cid, unsigned timeout_ms, struct nvme_cqe *out)
{
    uint64_t end = nvme_now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct timespec pause = {0, 20000};
    unsigned spins = 0;

    for (;;) {
        struct nvme_cqe *e = &q->cq[q->cq_head];
        /* The status word carries the phase tag; read it first, the rest after (acquire). */
        uint16_t status = le16toh(__atomic_load_n(&e->status, __ATOMIC_ACQUIRE));

        if ((status & 1u) == q->phase) {
            out->dw0 = le32toh(e->dw0);
            out->dw1 = le32toh(e->dw1);
            out->sqhd = le16toh(e->sqhd);
            out->sqid = le16toh(e->sqid);
            out->cid = le16toh(e->cid);
            out->status = status;
            q->cq_head = (uint16_t)((q->cq_head + 1) % q->depth);
            if (q->cq_head == 0)
                q->phase ^= 1u; /* a wrap inverts the phase the controller writes */
            NVME_TIMED_VOID(nvme_io_ns, nvme_ring_cq(q->regs, q->qid, q->cq_head));
            if (out->sqhd >= q->depth) {
                fprintf(stderr, "nvme: queue %u: completion reports SQ head %u of %u entries\n",
                        q->qid, out->sqhd, q->depth);
                return -EIO;
            }
            q->sq_head = out->sqhd;
            if (out->cid != cid) {
                fprintf(stderr, "nvme: queue %u completed command %u, expected %u\n", q->qid,
                        out->cid, cid);
                return -EIO;
            }
            return status >> 1;
        }
        if (nvme_now_ns() > end) {
            fprintf(stderr, "nvme: queue %u: command %u not completed within %u ms\n", q->qid, cid,
                    timeout_ms);
            return -ETIMEDOUT;
        }
        if (++spins > 1000)
            nanosleep(&pause, NULL);
    }
}
