/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/uio.h - the UIO platform (Linux): declared memory in the maps of a /dev/uioN device.
 *
 * dmacoh_uio_open() reads the device's maps from <sysfs>/class/uio/uioN/maps/mapM/{addr,size,
 * offset} and opens <dev>/uioN. A region declared on a device of this platform must lie in
 * one map (its bus address is the map's physical address, `addr`); it is mapped by mmap of
 * /dev/uioN at offset M * page size (UIO's way of selecting map M), placed so that CPU
 * pointers are congruent to device addresses. Works with uio_pdrv_genirq (SoC SRAM described
 * in a device tree) and uio_pci_generic-like drivers that expose memory maps.
 *
 * Needs read/write access to /dev/uioN. Both roots are parameters so tests can point them at
 * a fake tree. No system-memory fallback.
 */
#ifndef DMACOH_UIO_H
#define DMACOH_UIO_H

#include <dmacoh/dmacoh.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque UIO platform instance. */
struct dmacoh_uio;

/** Options of dmacoh_uio_open(); a NULL pointer means all defaults. */
struct dmacoh_uio_opts {
    const char *sysfs_root; /**< "/sys" when NULL */
    const char *dev_root;   /**< "/dev" when NULL */
};

/** The most maps read (UIO allows 5). */
#define DMACOH_UIO_MAX_MAPS 5

/**
 * Opens /dev/uio<n>. Errors: -DMACOH_ENOENT (no uio<n> under the sysfs root, or no device
 * node), -DMACOH_EACCES (the device node cannot be opened read/write), -DMACOH_ENXIO (the
 * device has no memory maps), -DMACOH_EIO (a map attribute cannot be parsed),
 * -DMACOH_EINVAL (NULL out), -DMACOH_ENOMEM. Context: any thread; blocks on file I/O.
 */
int dmacoh_uio_open(unsigned n, const struct dmacoh_uio_opts *opts, struct dmacoh_uio **out);

/** Closes it. Errors: -DMACOH_EBUSY while regions or devices are on its platform. */
int dmacoh_uio_close(struct dmacoh_uio *uio);

/** The platform to pass to dmacoh_device_init(). */
struct dmacoh_platform *dmacoh_uio_platform(struct dmacoh_uio *uio);

/**
 * Map m's physical address and size. Errors: -DMACOH_EINVAL (NULL uio), -DMACOH_ENOENT (no
 * map m).
 */
int dmacoh_uio_map(const struct dmacoh_uio *uio, unsigned m, dmacoh_phys_addr_t *addr,
                   uint64_t *size);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_UIO_H */
