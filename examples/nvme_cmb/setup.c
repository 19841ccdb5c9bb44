/* SPDX-License-Identifier: MIT */
/*
 * setup.c - platform, BAR0, CMB declaration, admin queues, enable; and the way back.
 *
 * Where memory comes from, and the dmacoh calls that decide it:
 *  - the CMB: dmacoh_declare_coherent_memory() on the controller's device, bus address the
 *    BAR's (+ CMBLOC.OFST), device address the CMBMSC.CBA this driver programs; MAP or IO as
 *    the platform grants (both asked; IO alone with --cmb-io);
 *  - system memory: allocations for a child device that has no region of its own (the CMB was
 *    declared without DMACOH_MEMORY_INCLUDES_CHILDREN), which the platform serves from RAM
 *    with a handle the controller can use: an IOVA mapped in the IOMMU (VFIO), or the
 *    physical address (hostmem, when there is no translating IOMMU).
 */
#include "setup.h"

#include <dmacoh/pool.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ADMIN_DEPTH 16u

/* PCI sysfs: memory decoding and bus mastering on (command register bits 1 and 2). The PCI
 * platform offers no call for this (VFIO has dmacoh_vfio_set_bus_master), so it is done here. */
static int pci_enable(const char *bdf)
{
    char path[160];
    uint16_t cmd;
    int fd;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/enable", bdf);
    fd = open(path, O_WRONLY);
    if (fd >= 0) {
        if (write(fd, "1", 1) != 1)
            perror(path);
        close(fd);
    }
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
    fd = open(path, O_RDWR);
    if (fd < 0 || pread(fd, &cmd, 2, 4) != 2) {
        fprintf(stderr, "nvme: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -EIO;
    }
    /* Configuration space is little-endian, like the controller's registers. */
    cmd = htole16(le16toh(cmd) | 0x6);
    if (pwrite(fd, &cmd, 2, 4) != 2) {
        fprintf(stderr, "nvme: %s: %s\n", path, strerror(errno));
        close(fd);
        return -EIO;
    }
    close(fd);
    return 0;
}

/* The platform, BAR0 mapped, bus master on. */
static int open_platform(struct nvme_dev *d, const struct nvme_setup_opts *o)
{
    uint64_t off = 0, size = 0;
    int fd = -1, rc;

    if (!o->use_pci) {
        rc = dmacoh_vfio_open(o->bdf, NULL, &d->vfio);
        if (rc)
            return rc;
        d->plat = dmacoh_vfio_platform(d->vfio);
        rc = dmacoh_vfio_set_bus_master(d->vfio, true);
        if (rc == 0)
            rc = dmacoh_vfio_region(d->vfio, 0, &off, &size, NULL);
        if (rc)
            return rc;
        fd = dmacoh_vfio_device_fd(d->vfio);
    } else {
        struct dmacoh_hostmem_opts ho = {0};
        char path[160];

        rc = dmacoh_pci_open(o->bdf, NULL, &d->pci);
        if (rc == 0)
            rc = dmacoh_pci_bar(d->pci, 0, NULL, &size, NULL);
        if (rc)
            return rc;
        ho.declared = dmacoh_pci_platform(d->pci);
        rc = dmacoh_hostmem_open(&ho, &d->hm);
        if (rc)
            return rc;
        d->plat = dmacoh_hostmem_platform(d->hm);
        rc = pci_enable(o->bdf);
        if (rc)
            return rc;
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", o->bdf);
        fd = open(path, O_RDWR | O_SYNC);
        if (fd < 0) {
            fprintf(stderr, "nvme: %s: %s\n", path, strerror(errno));
            return -errno;
        }
    }
    /* All of BAR0: registers, and doorbells as far as CAP.DSTRD spaces them (nvme_reset checks
     * that queue 1's lie inside). */
    d->bar0_len = (size_t)size;
    if (size < 2 * NVME_PAGE || size != d->bar0_len) {
        fprintf(stderr, "nvme: BAR0 of %llu bytes cannot hold an NVMe controller's registers\n",
                (unsigned long long)size);
        if (o->use_pci)
            close(fd);
        return -ENODEV;
    }
    d->bar0 = mmap(NULL, d->bar0_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
    rc = d->bar0 == MAP_FAILED ? -errno : 0;
    if (o->use_pci)
        close(fd);
    if (rc) {
        d->bar0 = NULL;
        fprintf(stderr, "nvme: mmap of BAR0: %s\n", strerror(-rc));
        return rc;
    }
    d->c.regs.bar0 = d->bar0;
    d->c.regs.bar0_len = d->bar0_len;
    return 0;
}

/* Declares the CMB on the controller's device and turns its address space on at CBA. */
static int declare_cmb(struct nvme_dev *d, const struct nvme_setup_opts *o)
{
    struct nvme_ctrl *c = &d->c;
    dmacoh_phys_addr_t bar = 0;
    uint64_t cba, bar_size = 0;
    int rc;

    if (o->no_cmb || nvme_cmb_probe(&c->regs, &c->cmb) != 0) {
        nvme_cmb_disable(&c->regs);
        printf("nvme_cmb: CMB: %s\n", o->no_cmb ? "not used (--no-cmb)" : "none");
        return 0;
    }
    rc = d->vfio ? dmacoh_vfio_bar(d->vfio, c->cmb.bir, &bar, &bar_size, NULL)
                 : dmacoh_pci_bar(d->pci, c->cmb.bir, &bar, &bar_size, NULL);
    /* CMBLOC.OFST + CMBSZ.SZ must lie inside the BAR that CMBLOC.BIR names (3.1.11). */
    if (rc == 0)
        rc = nvme_cmb_fits(&c->cmb, bar_size);
    if (rc) {
        nvme_cmb_disable(&c->regs);
        return rc;
    }
    d->cmb_bus = bar + c->cmb.offset;
    cba = o->cba_given ? o->cba : d->cmb_bus;
    rc = dmacoh_declare_coherent_memory(
        &d->ctrl_dev, d->cmb_bus, cba, c->cmb.size,
        o->cmb_io ? DMACOH_MEMORY_IO : DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, &d->granted);
    if (rc)
        return rc;
    rc = nvme_cmb_enable_space(&c->regs, cba);
    if (rc) {
        dmacoh_release_coherent_memory(&d->ctrl_dev, 0);
        return rc;
    }
    c->cmb_declared = true;
    printf("nvme_cmb: CMB: %llu KiB in BAR%u at bus %#llx, controller address (CBA) %#llx, "
           "declared %s; SQS %d CQS %d LISTS %d RDS %d WDS %d\n",
           (unsigned long long)(c->cmb.size >> 10), c->cmb.bir, (unsigned long long)d->cmb_bus,
           (unsigned long long)cba, d->granted == DMACOH_MEMORY_MAP ? "MAP" : "IO", c->cmb.sqs,
           c->cmb.cqs, c->cmb.lists, c->cmb.rds, c->cmb.wds);
    return 0;
}

int nvme_open(struct nvme_dev *d, const struct nvme_setup_opts *o)
{
    struct nvme_ctrl *c = &d->c;
    int rc;

    memset(d, 0, sizeof(*d));
    c->timeout_ms = o->timeout_ms;
    rc = open_platform(d, o);
    if (rc)
        goto fail;
    rc = dmacoh_device_init(&d->ctrl_dev, "nvme", NULL, d->plat);
    if (rc)
        goto fail;
    d->ctrl_init = true;
    rc = dmacoh_device_init(&d->host_dev, "nvme-host", &d->ctrl_dev, d->plat);
    if (rc)
        goto fail;
    d->host_init = true;
    /* NVMe controllers address 64 bits (PRPs and queue bases are 64-bit). */
    dmacoh_device_set_dma_mask(&d->ctrl_dev, UINT64_MAX);
    dmacoh_device_set_dma_mask(&d->host_dev, UINT64_MAX);
    c->cmb_dev = &d->ctrl_dev;
    c->host_dev = &d->host_dev;
    rc = nvme_reset(&c->regs);
    if (rc == 0 && !NVME_CAP_CSS_NVM(c->regs.cap)) {
        fprintf(stderr, "nvme: %s does not offer the NVM command set (CAP.CSS)\n", o->bdf);
        rc = -ENOTSUP;
    }
    if (rc)
        goto fail;
    printf("nvme_cmb: %s: NVMe %u.%u, MQES %u, CAP.TO %u ms, doorbell stride %u\n", o->bdf,
           nvme_rd32(&c->regs, NVME_REG_VS) >> 16, (nvme_rd32(&c->regs, NVME_REG_VS) >> 8) & 0xff,
           NVME_CAP_MQES(c->regs.cap), c->regs.timeout_ms, c->regs.stride);
    rc = declare_cmb(d, o);
    if (rc)
        goto fail;
    rc = dmacoh_pool_create(&c->prp_pool, "prp-lists", &d->host_dev, NVME_PRP_LIST_ENTS * 8, 8,
                            NVME_PAGE, NULL);
    if (rc)
        goto fail;
    /* Admin SQ in the CMB when there is one (NOFALLBACK: there or nowhere), CQ in RAM. */
    rc = nvme_queue_alloc(&c->admin, &c->regs, 0, ADMIN_DEPTH,
                          c->cmb_declared ? &d->ctrl_dev : &d->host_dev, c->cmb_declared,
                          &d->host_dev);
    if (rc)
        goto fail;
    printf("nvme_cmb: admin SQ in %s at %#llx, admin CQ in system memory at %#llx\n",
           c->cmb_declared ? "the CMB" : "system memory", (unsigned long long)c->admin.sq_dma,
           (unsigned long long)c->admin.cq_dma);
    nvme_wr32(&c->regs, NVME_REG_AQA, (ADMIN_DEPTH - 1) << 16 | (ADMIN_DEPTH - 1));
    nvme_wr64(&c->regs, NVME_REG_ASQ, c->admin.sq_dma);
    nvme_wr64(&c->regs, NVME_REG_ACQ, c->admin.cq_dma);
    rc = nvme_enable(&c->regs);
    if (rc)
        goto fail;
    rc = nvme_identify(c);
    if (rc)
        goto fail;
    printf("nvme_cmb: '%s' serial '%s': namespace 1 has %llu blocks of %u bytes; MDTS %u pages\n",
           c->model, c->serial, (unsigned long long)c->nsze, c->lba_bytes, c->max_pages);
    return 0;
fail:
    fprintf(stderr, "nvme: setting up %s failed: %s\n", o->bdf,
            rc < 0 ? dmacoh_strerror(rc) : nvme_status_str(rc));
    nvme_close(d);
    return rc < 0 ? rc : -EIO;
}

/* Records the first error of a clean-up step, with its name. */
static void step(int *first, int rc, const char *what)
{
    if (rc == 0)
        return;
    fprintf(stderr, "nvme: shutdown: %s: %s\n", what, dmacoh_strerror(rc));
    if (*first == 0)
        *first = rc;
}

int nvme_close(struct nvme_dev *d)
{
    struct nvme_ctrl *c = &d->c;
    int first = 0;

    bool stopped = true;

    if (d->bar0) {
        step(&first, nvme_delete_io_queues(c), "delete I/O queues");
        if (nvme_rd32(&c->regs, NVME_REG_CC) & NVME_CC_EN)
            step(&first, nvme_shutdown(&c->regs), "CC.SHN");
        else
            step(&first, nvme_reset(&c->regs), "CC.EN = 0");
        /* Only a controller that is no longer ready has stopped using host memory. */
        stopped = !(nvme_rd32(&c->regs, NVME_REG_CSTS) & NVME_CSTS_RDY);
        if (c->cmb_declared)
            nvme_cmb_disable(&c->regs);
    }
    if (!stopped && (c->admin.sq || c->io.sq)) {
        fprintf(stderr, "nvme: shutdown: the controller is still ready: its queues are left "
                        "allocated\n");
        step(&first, -EBUSY, "free queues");
    }
    /* I/O rings whose deletion failed: the disabled controller no longer uses them. */
    if (c->io.sq && stopped)
        step(&first, nvme_queue_free(&c->io), "free I/O queues");
    if (c->admin.sq && stopped)
        step(&first, nvme_queue_free(&c->admin), "free admin queues");
    if (c->prp_pool)
        step(&first, dmacoh_pool_destroy(c->prp_pool, 0), "destroy PRP pool");
    if (c->cmb_declared)
        step(&first, dmacoh_release_coherent_memory(&d->ctrl_dev, 0), "release CMB");
    if (d->host_init)
        step(&first, dmacoh_device_fini(&d->host_dev), "fini nvme-host");
    if (d->ctrl_init)
        step(&first, dmacoh_device_fini(&d->ctrl_dev), "fini nvme");
    if (d->bar0)
        munmap(d->bar0, d->bar0_len);
    if (d->hm)
        step(&first, dmacoh_hostmem_close(d->hm), "close hostmem");
    if (d->pci)
        step(&first, dmacoh_pci_close(d->pci), "close PCI platform");
    if (d->vfio)
        step(&first, dmacoh_vfio_close(d->vfio), "close VFIO platform");
    memset(d, 0, sizeof(*d));
    return first;
}
