/* SPDX-License-Identifier: MIT */
/*
 * cmd.c - admin commands (Identify, queue creation and deletion) and Read/Write with PRPs.
 */
#include "cmd.h"

#include <dmacoh/pool.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Opcodes: admin (5, figure 139) and NVM (6, figure 346). */
enum {
    OPC_DELETE_SQ = 0x00,
    OPC_CREATE_SQ = 0x01,
    OPC_DELETE_CQ = 0x04,
    OPC_CREATE_CQ = 0x05,
    OPC_IDENTIFY = 0x06,
    OPC_WRITE = 0x01,
    OPC_READ = 0x02,
};

const char *nvme_status_str(int status)
{
    static char buf[96];
    const char *what = "";

    if (status < 0)
        return strerror(-status);
    if (NVME_SCT(status) == 0) {
        switch (NVME_SC(status)) {
        case 0x00:
            what = ": success";
            break;
        case 0x01:
            what = ": invalid command opcode";
            break;
        case 0x02:
            what = ": invalid field in command";
            break;
        case NVME_SC_DATA_TRANSFER_ERROR:
            what = ": data transfer error";
            break;
        case 0x06:
            what = ": internal error";
            break;
        case 0x80:
            what = ": LBA out of range";
            break;
        default:
            break;
        }
    } else if (NVME_SCT(status) == 1) {
        what = ": command specific";
    } else if (NVME_SCT(status) == 2) {
        what = ": media or data integrity error";
    }
    snprintf(buf, sizeof(buf), "SCT %xh SC %02xh%s", NVME_SCT(status), NVME_SC(status), what);
    return buf;
}

static int run(struct nvme_ctrl *c, struct nvme_queue *q, struct nvme_sqe *cmd)
{
    struct nvme_cqe cqe;
    uint16_t cid;
    int rc;

    if (c->halted) {
        fprintf(stderr, "nvme: opcode %#x not sent: the controller was disabled after a timeout\n",
                cmd->opc);
        return -EIO;
    }
    rc = nvme_submit(q, cmd, &cid);
    if (rc == 0)
        rc = nvme_wait(q, cid, c->timeout_ms, &cqe);
    if (rc == -ETIMEDOUT) {
        /* The command may still be running: its buffers, PRP list and queue entries must not
         * be freed while the controller can reach them. Disabling the controller stops it
         * (CSTS.RDY = 0 means it no longer touches host memory); every queue is gone then. */
        c->halted = true;
        fprintf(stderr, "nvme: disabling the controller after the timeout\n");
        c->stuck = nvme_reset(&c->regs) != 0;
        if (c->stuck)
            fprintf(stderr, "nvme: the controller did not stop: its memory is not safe to free\n");
    }
    return rc;
}

int nvme_admin(struct nvme_ctrl *c, struct nvme_sqe *cmd)
{
    return run(c, &c->admin, cmd);
}

/* Copies an ASCII field of Identify data without its trailing blanks. */
static void text(char *dst, const uint8_t *src, size_t n)
{
    memcpy(dst, src, n);
    while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\0'))
        n--;
    dst[n] = '\0';
}

int nvme_identify(struct nvme_ctrl *c)
{
    struct nvme_sqe cmd;
    dmacoh_dma_addr_t dma;
    uint8_t *id;
    unsigned mdts, lbaf, lbads, ms;
    int rc;

    rc = dmacoh_alloc_coherent(c->host_dev, NVME_PAGE, 0, 0, (void **)&id, &dma);
    if (rc) {
        fprintf(stderr, "nvme: identify buffer: %s\n", dmacoh_strerror(rc));
        return rc;
    }
    /* Identify Controller, CNS 01h (5.15.2.2, figure 247). */
    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = OPC_IDENTIFY;
    cmd.prp1 = htole64(dma);
    cmd.cdw10 = htole32(0x01);
    rc = nvme_admin(c, &cmd);
    if (rc) {
        fprintf(stderr, "nvme: Identify Controller: %s\n", nvme_status_str(rc));
        goto out;
    }
    text(c->serial, id + 4, 20);
    text(c->model, id + 24, 40);
    /* MDTS: the largest transfer is 2^MDTS pages of CAP.MPSMIN, which is 4 KiB here (nvme_reset
     * refuses others); 0: no limit. Above 2^20 pages (4 GiB) it limits nothing this driver
     * sends, and a shift by up to 255 would be undefined. */
    mdts = id[77];
    c->max_pages = mdts == 0 || mdts > 20 ? 0 : 1u << mdts;
    /* Identify Namespace 1, CNS 00h (5.15.2.1, figure 245). */
    memset(id, 0, NVME_PAGE);
    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = OPC_IDENTIFY;
    c->nsid = 1;
    cmd.nsid = htole32(c->nsid);
    cmd.prp1 = htole64(dma);
    rc = nvme_admin(c, &cmd);
    if (rc) {
        fprintf(stderr, "nvme: Identify Namespace 1: %s\n", nvme_status_str(rc));
        goto out;
    }
    memcpy(&c->nsze, id, 8); /* NSZE, little-endian like all Identify data */
    c->nsze = le64toh(c->nsze);
    lbaf = id[26] & 0xf; /* FLBAS: the format in use, one of NLBAF + 1 */
    /* LBAF[lbaf] (figure 250): MS (metadata bytes, 16 bits), LBADS (log2 of the block size). */
    lbads = id[128 + 4 * lbaf + 2];
    ms = (unsigned)id[128 + 4 * lbaf] | (unsigned)id[128 + 4 * lbaf + 1] << 8;
    c->lba_bytes = lbads >= 9 && lbads <= 12 ? 1u << lbads : 0;
    if (c->nsze == 0 || lbaf > id[25] || c->lba_bytes == 0 || ms != 0) {
        fprintf(stderr,
                "nvme: namespace 1: %llu blocks, format %u of %u, 2^%u-byte blocks with %u "
                "metadata bytes: not usable here (512 B to 4 KiB blocks, no metadata)\n",
                (unsigned long long)c->nsze, lbaf, id[25] + 1u, lbads, ms);
        rc = -ENODEV;
    }
out:
    dmacoh_free_coherent(c->host_dev, NVME_PAGE, id, dma);
    return rc;
}

int nvme_create_io_queues(struct nvme_ctrl *c, unsigned depth, bool sq_in_cmb)
{
    struct nvme_sqe cmd;
    int rc;

    if (depth > NVME_CAP_MQES(c->regs.cap)) {
        printf("nvme_cmb: I/O queue depth %u capped at CAP.MQES + 1 = %u\n", depth,
               NVME_CAP_MQES(c->regs.cap));
        depth = NVME_CAP_MQES(c->regs.cap);
    }
    rc = nvme_queue_alloc(&c->io, &c->regs, 1, depth, sq_in_cmb ? c->cmb_dev : c->host_dev,
                          sq_in_cmb, c->host_dev);
    if (rc)
        return rc;
    /* Create I/O Completion Queue (5.3): QID 1, size, PC = 1 (contiguous), IEN = 0 (polled). */
    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = OPC_CREATE_CQ;
    cmd.prp1 = htole64(c->io.cq_dma);
    cmd.cdw10 = htole32((depth - 1) << 16 | 1);
    cmd.cdw11 = htole32(0x1);
    rc = nvme_admin(c, &cmd);
    if (rc) {
        fprintf(stderr, "nvme: Create I/O CQ 1: %s\n", nvme_status_str(rc));
        if (!c->stuck) /* a controller that did not stop may still use the rings */
            nvme_queue_free(&c->io);
        return rc > 0 ? -EIO : rc;
    }
    /* Create I/O Submission Queue (5.4): QID 1, size, CQID 1, PC = 1. Its base may be a CMB
     * address: the controller then reads entries from its own memory. */
    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = OPC_CREATE_SQ;
    cmd.prp1 = htole64(c->io.sq_dma);
    cmd.cdw10 = htole32((depth - 1) << 16 | 1);
    cmd.cdw11 = htole32(1u << 16 | 0x1);
    rc = nvme_admin(c, &cmd);
    if (rc) {
        fprintf(stderr, "nvme: Create I/O SQ 1 at %#llx: %s\n", (unsigned long long)c->io.sq_dma,
                nvme_status_str(rc));
        /* The CQ exists: delete it before its ring goes (or, halted, there is none left). */
        c->io_live = true;
        nvme_delete_io_queues(c);
        return rc > 0 ? -EIO : rc;
    }
    c->io_live = true;
    return 0;
}

int nvme_delete_io_queues(struct nvme_ctrl *c)
{
    struct nvme_sqe cmd;
    int a, b;

    if (!c->io_live)
        return 0;
    if (c->halted) {
        /* Disabled: the controller has forgotten every queue and no longer reads them - unless
         * it did not stop, and then the rings stay. */
        if (c->stuck)
            return -EIO;
        c->io_live = false;
        return nvme_queue_free(&c->io);
    }
    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = OPC_DELETE_SQ;
    cmd.cdw10 = htole32(1);
    a = nvme_admin(c, &cmd);
    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = OPC_DELETE_CQ;
    cmd.cdw10 = htole32(1);
    b = c->halted ? -EIO : nvme_admin(c, &cmd);
    if (a || b) {
        fprintf(stderr, "nvme: Delete I/O SQ 1: %s; ", nvme_status_str(a));
        fprintf(stderr, "CQ 1: %s\n", nvme_status_str(b));
        return -EIO; /* the rings stay allocated: the controller may still use them */
    }
    c->io_live = false;
    return nvme_queue_free(&c->io);
}

int nvme_io_prp(struct nvme_ctrl *c, bool write, uint64_t lba, unsigned nlb, uint64_t prp1,
                uint64_t prp2)
{
    struct nvme_sqe cmd;

    if (!c->io_live) {
        fprintf(stderr, "nvme: no I/O queue pair: %s not sent\n", write ? "Write" : "Read");
        return -ENODEV;
    }
    if (nlb == 0 || nlb > 65536 || lba >= c->nsze || nlb > c->nsze - lba) {
        fprintf(stderr, "nvme: %u blocks at LBA %llu: not inside namespace %u (%llu blocks)\n", nlb,
                (unsigned long long)lba, c->nsid, (unsigned long long)c->nsze);
        return -EINVAL;
    }
    memset(&cmd, 0, sizeof(cmd));
    cmd.opc = write ? OPC_WRITE : OPC_READ;
    cmd.nsid = htole32(c->nsid);
    cmd.prp1 = htole64(prp1);
    cmd.prp2 = htole64(prp2);
    cmd.cdw10 = htole32((uint32_t)lba); /* SLBA */
    cmd.cdw11 = htole32((uint32_t)(lba >> 32));
    cmd.cdw12 = htole32(nlb - 1); /* NLB is 0's based */
    return run(c, &c->io, &cmd);
}

int nvme_rw(struct nvme_ctrl *c, bool write, uint64_t lba, unsigned nlb, dmacoh_dma_addr_t dma,
            const char **form)
{
    uint64_t len = (uint64_t)nlb * c->lba_bytes, first = NVME_PAGE - (dma & (NVME_PAGE - 1));
    uint64_t pages = 1 + (len > first ? (len - first + NVME_PAGE - 1) / NVME_PAGE : 0);
    dmacoh_dma_addr_t list_dma = 0;
    uint64_t *list = NULL;
    uint64_t prp2 = 0;
    int rc;

    /* The length is what MDTS limits (5.15.2.2), not the pages an offset makes it touch. */
    if (nlb == 0 || lba >= c->nsze || nlb > c->nsze - lba || (dma & 3) ||
        (c->max_pages && len > (uint64_t)c->max_pages * NVME_PAGE) ||
        pages > 1 + NVME_PRP_LIST_ENTS) {
        fprintf(stderr,
                "nvme: %u blocks at LBA %llu from %#llx: outside the namespace (%llu blocks), "
                "not dword aligned, or too long (%llu pages; MDTS %u pages, one PRP list %u)\n",
                nlb, (unsigned long long)lba, (unsigned long long)dma, (unsigned long long)c->nsze,
                (unsigned long long)pages, c->max_pages, 1 + NVME_PRP_LIST_ENTS);
        return -EINVAL;
    }
    /* PRP entry 1 may start anywhere in a page (dword aligned); every later entry names a
     * whole page (4.3). Two pages: PRP2 is the second page. More: PRP2 is a list of them. */
    if (pages == 2) {
        prp2 = dma + first;
    } else if (pages > 2) {
        rc =
            NVME_TIMED(nvme_alloc_ns, dmacoh_pool_alloc(c->prp_pool, 0, (void **)&list, &list_dma));
        if (rc) {
            fprintf(stderr, "nvme: PRP list: %s\n", dmacoh_strerror(rc));
            return rc;
        }
        for (uint64_t i = 0; i + 1 < pages; i++)
            list[i] = htole64(dma + first + i * NVME_PAGE);
        prp2 = list_dma;
    }
    if (form)
        *form = pages == 1 ? "PRP1" : pages == 2 ? "PRP1+PRP2" : "PRP1+PRP list";
    rc = nvme_io_prp(c, write, lba, nlb, dma, prp2);
    /* After a timeout the list may be freed only if the controller stopped (run()). */
    if (list && !c->stuck)
        NVME_TIMED(nvme_alloc_ns, dmacoh_pool_free(c->prp_pool, list, list_dma));
    return rc;
}
