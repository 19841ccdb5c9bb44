/* SPDX-License-Identifier: MIT */
/*
 * setup.h - bringing the controller up on a dmacoh platform and down again: the platform
 * (VFIO, or PCI sysfs with physical-address fallback), BAR0, the dmacoh devices, the CMB
 * declared as the controller's coherent memory, the admin queue pair, controller enable
 * (NVMe 1.4 section 7.6.1) and, at the end, shutdown (7.6.2) and release of everything.
 */
#ifndef NVME_CMB_SETUP_H
#define NVME_CMB_SETUP_H

#include "cmd.h"

#include <dmacoh/hostmem.h>
#include <dmacoh/pci.h>
#include <dmacoh/vfio.h>

#include <stdbool.h>
#include <stdint.h>

struct nvme_setup_opts {
    const char *bdf;     /* PCI address, "0000:00:13.0" */
    bool use_pci;        /* PCI sysfs + hostmem (physical addresses) instead of VFIO */
    bool no_cmb;         /* leave the CMB off even when the controller has one */
    bool cmb_io;         /* ask for IO access to the CMB only (accessors), not MAP */
    bool cba_given;      /* cba below was chosen by the user */
    uint64_t cba;        /* controller address of the CMB (CMBMSC.CBA) */
    unsigned timeout_ms; /* per command */
};

struct nvme_dev {
    struct nvme_ctrl c;
    struct dmacoh_vfio *vfio;
    struct dmacoh_pci *pci;
    struct dmacoh_hostmem *hm;
    struct dmacoh_platform *plat;
    struct dmacoh_device ctrl_dev; /* the controller; the CMB is its region */
    struct dmacoh_device host_dev; /* its child without a region: system memory */
    bool ctrl_init, host_init;
    void *bar0;
    size_t bar0_len;
    int granted;                /* DMACOH_MEMORY_MAP or _IO for the CMB */
    dmacoh_phys_addr_t cmb_bus; /* where the CPU finds the CMB */
};

/* Everything up to an enabled controller with its admin queues and Identify done. On
 * failure whatever was set up is taken down again. Returns 0 or a negative error. */
int nvme_open(struct nvme_dev *d, const struct nvme_setup_opts *o);

/* Deletes the I/O queues, shuts the controller down, frees every allocation, destroys the
 * pool, releases the CMB (refused if anything in it is still allocated) and closes the
 * platform. Returns 0 when all of that succeeded. */
int nvme_close(struct nvme_dev *d);

#endif /* NVME_CMB_SETUP_H */
