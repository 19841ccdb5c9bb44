/* SPDX-License-Identifier: MIT */
/*
 * queue.h - a submission/completion queue pair (NVMe 1.4 section 4.1): the rings, their
 * memory, the phase tag and the doorbells.
 *
 * Where a ring lives is the caller's choice, made by which dmacoh device it is allocated for:
 * the controller's device, whose declared region is the CMB (allocated with
 * DMACOH_ALLOC_NOFALLBACK so that it stays there or fails), or a child device with no region,
 * whose allocations are the platform's system memory with a DMA handle the controller can use
 * (an IOVA under VFIO, a physical address without an IOMMU). Entries of a ring in device
 * memory are written with dmacoh_memcpy_toio(), which is right for both modes a declare may
 * grant (a MAP pointer or an IO cookie); rings in system memory are plain memory.
 */
#ifndef NVME_CMB_QUEUE_H
#define NVME_CMB_QUEUE_H

#include "regs.h"

#include <dmacoh/dmacoh.h>

#include <stdbool.h>
#include <stdint.h>

/*
 * Queue entries are little-endian structures on the wire (1.4 section 1.4.1: "all fields are
 * little endian"). The two structs below are that wire format: every multi-byte field holds
 * its value little-endian, whatever the host's byte order. Entries are built with htole16/32/64
 * (<endian.h>) field by field, and completions are read with le16toh/le32toh, so the driver is
 * the same on x86, Arm and big-endian s390x. Registers are not here: dmacoh's IO accessors
 * read and write them little-endian already.
 */

/* Submission queue entry (4.2, figure 105): 64 bytes, little-endian fields. */
struct nvme_sqe {
    uint8_t opc;   /* opcode */
    uint8_t flags; /* FUSE, PSDT (00b: PRPs) */
    uint16_t cid;  /* command identifier, set by nvme_submit */
    uint32_t nsid; /* namespace */
    uint32_t cdw2, cdw3;
    uint64_t mptr; /* metadata pointer */
    uint64_t prp1; /* data pointer: PRP entry 1 */
    uint64_t prp2; /* PRP entry 2, or the address of a PRP list */
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};

/* Completion queue entry (4.6, figure 121): 16 bytes, little-endian fields as the controller
 * writes them; nvme_wait hands its caller a copy converted to host order. */
struct nvme_cqe {
    uint32_t dw0; /* command specific */
    uint32_t dw1;
    uint16_t sqhd;   /* SQ head pointer */
    uint16_t sqid;   /* SQ identifier */
    uint16_t cid;    /* command identifier */
    uint16_t status; /* bit 0 the phase tag, bits 15:1 the status field (4.6.1) */
};

/* Time spent inside dmacoh calls, for the figures of --bench: the IO accessors (queue
 * entries copied into device memory, doorbells) and the allocator (PRP lists from the pool). */
extern uint64_t nvme_io_ns, nvme_alloc_ns;

/* Runs `call` (a dmacoh call returning a value) and adds its duration to `counter`. */
#define NVME_TIMED(counter, call)                                                                  \
    __extension__({                                                                                \
        uint64_t t0_ = nvme_now_ns();                                                              \
        __typeof__(call) r_ = (call);                                                              \
        (counter) += nvme_now_ns() - t0_;                                                          \
        r_;                                                                                        \
    })
/* The same for a call without a value. */
#define NVME_TIMED_VOID(counter, call)                                                             \
    do {                                                                                           \
        uint64_t t0_ = nvme_now_ns();                                                              \
        call;                                                                                      \
        (counter) += nvme_now_ns() - t0_;                                                          \
    } while (0)

struct nvme_queue {
    const struct nvme_regs *regs;
    unsigned qid;   /* 0: the admin queue pair */
    unsigned depth; /* entries in each ring */

    struct dmacoh_device *sq_dev; /* the device the SQ ring was allocated for */
    void *sq;                     /* CPU pointer or IO cookie */
    dmacoh_dma_addr_t sq_dma;     /* what the controller is given (ASQ, or PRP1 of Create SQ) */
    bool sq_in_cmb;               /* ring in device memory: entries go through memcpy_toio */

    struct dmacoh_device *cq_dev;
    struct nvme_cqe *cq; /* always system memory here (QEMU's CMB has no CQS) */
    dmacoh_dma_addr_t cq_dma;

    uint16_t sq_tail, sq_head, cq_head, next_cid; /* sq_head: as the last CQE reported */
    uint16_t phase; /* the phase tag a new completion carries (starts at 1, 4.6) */
};

/* Allocates the rings: the SQ for sq_dev (NOFALLBACK when sq_in_cmb), the CQ for cq_dev.
 * depth: 2 to 4096 entries (a 0's based 16-bit queue size; the caller keeps I/O queues within
 * CAP.MQES). Errors: -EINVAL for a depth out of range, those of dmacoh_alloc_coherent (all
 * printed); on failure nothing stays allocated. */
int nvme_queue_alloc(struct nvme_queue *q, const struct nvme_regs *regs, unsigned qid,
                     unsigned depth, struct dmacoh_device *sq_dev, bool sq_in_cmb,
                     struct dmacoh_device *cq_dev);

/* Frees both rings (the controller must no longer use them). */
int nvme_queue_free(struct nvme_queue *q);

/* Copies cmd (wire format) into the SQ at the tail with a fresh command identifier (returned
 * in *cid, host order; FFFFh is never used, 4.2) and rings the SQ tail doorbell. -EBUSY when
 * the ring is full. */
int nvme_submit(struct nvme_queue *q, struct nvme_sqe *cmd, uint16_t *cid);

/* Polls the CQ for the completion of cid for at most timeout_ms, consumes it (head doorbell)
 * and returns its status field (0: success), or -ETIMEDOUT, or -EIO when the entry is not the
 * one awaited or reports an SQ head outside the ring. *out gets the entry in host order. */
int nvme_wait(struct nvme_queue *q, uint16_t cid, unsigned timeout_ms, struct nvme_cqe *out);

#endif /* NVME_CMB_QUEUE_H */
