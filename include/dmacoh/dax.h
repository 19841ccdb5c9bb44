/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/dax.h - the device DAX platform (Linux): declared memory on a /dev/daxX.Y character
 * device (persistent memory or CXL memory in devdax mode).
 *
 * dmacoh_dax_open() reads the device's size, alignment and physical start from
 * <sysfs>/bus/dax/devices/daxX.Y/{size,align,resource} (the kernel's sysfs-bus-dax ABI; the
 * older /sys/class/dax/daxX.Y layout is tried too) and opens <dev>/daxX.Y read/write. Byte
 * `off` of the device has bus address `base + off`, where base is the caller's choice
 * (opts->bus) or, by default, the physical start from `resource` (readable by root only). A
 * region declared on this platform must lie inside [base, base + size); it is mapped
 * MAP_SHARED from the device at an offset and with a length that are multiples of the
 * device's alignment (2 MiB or 1 GiB typically; the kernel refuses anything else), at a
 * virtual address that is a multiple of it too, so the region itself need only be page
 * aligned. Device DAX is ordinary (cacheable) memory, so DMACOH_MEMORY_MAP is granted on every
 * CPU when asked. Sizes are 64-bit: regions of hundreds of GiB work on 64-bit hosts (a 32-bit
 * process cannot map more than its address space: -DMACOH_EOVERFLOW). Mapping does not touch
 * the memory; only allocations are zeroed (unless DMACOH_ALLOC_NOZERO).
 *
 * Every number is read exactly as the kernel writes it (decimal, or hexadecimal after 0x; a
 * sign, trailing bytes or a leading zero are refused), attributes must be regular files and
 * the node a character device, none of them a symbolic link, and no open blocks on a FIFO.
 *
 * No system-memory fallback (allocations that would need it fail with -DMACOH_ENOMEM). Paths
 * are parameters so tests can use a fake sysfs tree and a sparse file for the device.
 */
#ifndef DMACOH_DAX_H
#define DMACOH_DAX_H

#include <dmacoh/dmacoh.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque device DAX platform instance. */
struct dmacoh_dax;

/** Options of dmacoh_dax_open(); a NULL pointer means all defaults. */
struct dmacoh_dax_opts {
    const char *sysfs_root; /**< "/sys" when NULL */
    const char *dev_root;   /**< "/dev" when NULL */
    bool bus_given;         /**< use `bus` below instead of sysfs `resource` */
    dmacoh_phys_addr_t bus; /**< with bus_given: the bus address of the device's first byte;
                                 the caller's numbering, so its ranges are not claimed
                                 process-wide (another instance is not refused) */
};

/**
 * Opens device DAX `name` ("dax0.0").
 * Errors, each with a log line naming the path:
 * - -DMACOH_EINVAL: NULL out, a name not of the form daxN.M, bus + size wraps.
 * - -DMACOH_ENOENT: no such device in sysfs (no device_dax driver, or the namespace is not in
 *   devdax mode), no device node, or no `resource` attribute (kernels before 5.3) and no bus
 *   address given.
 * - -DMACOH_EACCES: the node cannot be opened read/write, or `resource` cannot be read and no
 *   bus address was given (it is readable by root only).
 * - -DMACOH_EIO: size, align or resource not a number as the kernel writes one (a negative
 *   size among them), or inconsistent (align not a power of two of at least a page, size zero
 *   or not a multiple of align); an attribute that is a symbolic link or not a regular file;
 *   a node that is a symbolic link or not a character device. -DMACOH_ENOMEM.
 * Context: any thread; blocks on file I/O, never on a FIFO.
 */
int dmacoh_dax_open(const char *name, const struct dmacoh_dax_opts *opts, struct dmacoh_dax **out);

/**
 * Closes it. Errors: -DMACOH_EBUSY while a region is declared or a device initialised on its
 * platform (nothing changes). NULL is accepted.
 */
int dmacoh_dax_close(struct dmacoh_dax *dax);

/** The platform to pass to dmacoh_device_init(). */
struct dmacoh_platform *dmacoh_dax_platform(struct dmacoh_dax *dax);

/**
 * The bus address of the device's first byte, its size and its alignment (any out-pointer may
 * be NULL). Errors: -DMACOH_EINVAL (NULL dax).
 */
int dmacoh_dax_info(const struct dmacoh_dax *dax, dmacoh_phys_addr_t *bus, uint64_t *size,
                    uint64_t *align);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_DAX_H */
