/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/uio.h - the UIO platform (Linux): declared memory in the maps of a /dev/uioN device.
 *
 * dmacoh_uio_open() reads the device's maps from <sysfs>/class/uio/uioN/maps/mapM/{addr,size,
 * offset} and opens <dev>/uioN. The kernel rounds a map down to a page: `addr` is page
 * aligned, the device's memory starts `offset` bytes into the map and `size` counts those
 * bytes. A map's memory is therefore [addr + offset, addr + size), which dmacoh_uio_map()
 * reports; a region declared on this platform must lie inside that range of one map (a range
 * reaching the bytes in front of it, someone else's registers, is refused). It is mapped by
 * mmap of /dev/uioN at offset M * page size (UIO's way of selecting map M), placed so that CPU
 * pointers are congruent to device addresses. When `offset` is not a multiple of the page
 * size, declare with a granule that divides it (struct dmacoh_declare_opts).
 *
 * Every attribute is read exactly as the kernel writes it (decimal, or hexadecimal after 0x;
 * a sign or trailing bytes are refused), attributes must be regular files and the node a
 * character device, none of them a symbolic link, and no open blocks on a FIFO. Works with uio_pdrv_genirq (SoC SRAM described
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
 * device has no memory maps), -DMACOH_EIO (a map attribute is not a number as the kernel
 * writes one, is a symbolic link or not a regular file; a map's offset is not below its size,
 * or the map wraps; the node is a symbolic link or not a character device), -DMACOH_EINVAL
 * (NULL out), -DMACOH_ENOMEM. Each error has a log line naming the file. A map at an address
 * that is not page aligned is not an error: it is unusable, with a warning.
 * Context: any thread; blocks on file I/O, never on a FIFO.
 */
int dmacoh_uio_open(unsigned n, const struct dmacoh_uio_opts *opts, struct dmacoh_uio **out);

/** Closes it. Errors: -DMACOH_EBUSY while regions or devices are on its platform. */
int dmacoh_uio_close(struct dmacoh_uio *uio);

/** The platform to pass to dmacoh_device_init(). */
struct dmacoh_platform *dmacoh_uio_platform(struct dmacoh_uio *uio);

/**
 * Where map m's memory is: its physical address (`addr + offset` of sysfs) and size (`size -
 * offset`), the range a region may be declared in. Errors: -DMACOH_EINVAL (NULL uio),
 * -DMACOH_ENOENT (no map m). A map at an address that is not page aligned reports size 0.
 * The end is an upper bound, not the device's: uio_pdrv_genirq rounds `size` up to a whole
 * page (offset plus the resource's length, page aligned), and sysfs does not say where the
 * resource ends. 0x100 bytes of SRAM at 0x40000800 are reported as 0x800 bytes at 0x40000800:
 * declare the memory's own length (datasheet, devicetree), never simply what this reports.
 */
int dmacoh_uio_map(const struct dmacoh_uio *uio, unsigned m, dmacoh_phys_addr_t *addr,
                   uint64_t *size);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_UIO_H */
