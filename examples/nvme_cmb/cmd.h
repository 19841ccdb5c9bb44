/* SPDX-License-Identifier: MIT */
/*
 * cmd.h - the commands this driver sends: Identify (NVMe 1.4 section 5.15), Create and Delete
 * I/O Completion/Submission Queue (5.3, 5.4, 5.5, 5.6), and the NVM command set's Read and
 * Write (6.9, 6.15) with data pointers built from PRPs (4.3), PRP lists taken from a dmacoh
 * pool.
 */
#ifndef NVME_CMB_CMD_H
#define NVME_CMB_CMD_H

#include "queue.h"
#include "regs.h"

#include <dmacoh/dmacoh.h>

#include <stdbool.h>
#include <stdint.h>

#define NVME_PAGE 4096u /* CC.MPS = 0 */
#define NVME_PRP_LIST_ENTS                                                                         \
    32u /* entries per PRP list block: transfers up to 33 pages,
                                  * since a block never crosses a page and lists are not
                                  * chained (4.3) */

/* Status field (4.6.1.2): Status Code Type bits 10:8, Status Code bits 7:0 of status >> 1. */
#define NVME_SCT(st)                (((unsigned)(st) >> 8) & 7u)
#define NVME_SC(st)                 ((unsigned)(st)&0xffu)
#define NVME_SC_DATA_TRANSFER_ERROR 0x04u /* generic status (SCT 0), 4.6.1.2.1 */

struct nvme_ctrl {
    struct nvme_regs regs;
    struct dmacoh_device *cmb_dev;  /* the controller; its region (when declared) is the CMB */
    struct dmacoh_device *host_dev; /* its child with no region: system memory */
    bool cmb_declared;              /* the CMB is declared on cmb_dev and its space enabled */
    struct nvme_cmb_info cmb;       /* what CMBLOC/CMBSZ said */
    struct dmacoh_pool *prp_pool;   /* PRP lists, in system memory */
    struct nvme_queue admin, io;
    bool io_live; /* the I/O queue pair exists on the controller */
    bool halted;  /* disabled after a command timed out: no more commands */
    bool stuck;   /* ... and it did not stop (CSTS.RDY stayed 1): nothing it used is freed */
    unsigned timeout_ms;

    /* From Identify. */
    char model[41], serial[21];
    uint32_t nsid;      /* the namespace used: 1 */
    uint64_t nsze;      /* its size in logical blocks */
    unsigned lba_bytes; /* its logical block size */
    unsigned max_pages; /* MDTS in 4 KiB pages, 0: no limit */
};

/* Human-readable status ("SCT 0h SC 04h: data transfer error"), into a static buffer. */
const char *nvme_status_str(int status);

/* Submits an admin command (wire format: fields little-endian) and waits for it. Returns its
 * status (0 success), or -errno. A command that does not complete within timeout_ms leaves
 * the controller in an unknown state, with the command's memory possibly still in use: the
 * controller is then disabled (CC.EN = 0 and CSTS.RDY = 0 awaited, as the kernel resets a
 * controller on a timeout), `halted` is set, and -ETIMEDOUT is returned - only then may the
 * caller free that memory, and only if the controller stopped (`stuck` clear). A halted controller takes no more commands (-EIO at once). */
int nvme_admin(struct nvme_ctrl *c, struct nvme_sqe *cmd);

/* Identify Controller and Identify Namespace 1 into a system-memory page (page-aligned, as
 * every dmacoh allocation); fills model, serial, nsze, lba_bytes, max_pages. -ENODEV for a
 * namespace this driver cannot use: empty, a block size outside 512 B to 4 KiB, or metadata
 * in its format (LBAF.MS). */
int nvme_identify(struct nvme_ctrl *c);

/* Creates I/O completion queue 1 (system memory) and I/O submission queue 1: in the CMB when
 * sq_in_cmb, else in system memory. depth is capped at CAP.MQES + 1 entries (said on stdout
 * when it is). On failure nothing is left allocated or created. */
int nvme_create_io_queues(struct nvme_ctrl *c, unsigned depth, bool sq_in_cmb);

/* Deletes I/O SQ 1 then CQ 1 (a CQ goes after the SQs that use it, 5.5) and frees them. On a
 * halted controller there is nothing to delete: the rings are freed. When a deletion fails the
 * rings stay allocated (-EIO): the controller may still use them until it is disabled. */
int nvme_delete_io_queues(struct nvme_ctrl *c);

/* Read (write false) or Write nlb blocks at lba with the data pointer given as it will be
 * sent: PRP1 and PRP2 (a page or a PRP list's address). -EINVAL when the blocks are not
 * inside the namespace or nlb is 0 or above 65536 (the 0's based NLB field); otherwise the
 * command's status, or -errno. */
int nvme_io_prp(struct nvme_ctrl *c, bool write, uint64_t lba, unsigned nlb, uint64_t prp1,
                uint64_t prp2);

/* Read or Write nlb blocks at lba to or from a buffer the controller reaches at `dma`
 * (contiguous in the controller's address space): PRP1 alone, PRP1 + PRP2, or PRP1 + a PRP
 * list from the pool, as the length needs (4.3). *form (may be NULL) says which. -EINVAL
 * (with a message) when the blocks are not inside the namespace, dma is not dword aligned,
 * the length exceeds MDTS, or it spans more pages than one list block holds (this driver does
 * not chain PRP lists); otherwise as nvme_io_prp. */
int nvme_rw(struct nvme_ctrl *c, bool write, uint64_t lba, unsigned nlb, dmacoh_dma_addr_t dma,
            const char **form);

#endif /* NVME_CMB_CMD_H */
