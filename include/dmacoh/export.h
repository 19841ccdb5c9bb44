/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/export.h - where a block of declared memory lies in a file, so that another process
 * can map the same bytes.
 *
 * A block allocated from a declared region is memory the platform mapped from some file: a
 * memfd (the memfd and simulated platforms), a device DAX node, a BAR's sysfs resourceN file,
 * a /dev/uioN node. dmacoh_block_file() names that file, the offset to map it from and how the
 * block sits in that mapping; dmacoh/linux_export.h sends the lot to another process over a
 * Unix socket. Platforms whose memory has no file that can be handed out safely refuse:
 * /dev/mem (it would give the other process all physical memory), VFIO (the device
 * descriptor gives the whole device), system memory. docs/design.md, "Exporting a block".
 */
#ifndef DMACOH_EXPORT_H
#define DMACOH_EXPORT_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>
#include <dmacoh/device.h>
#include <dmacoh/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Says which file holds a live allocation of dev's region, and how to map it from there.
 * (cpu, size, handle) must be exactly an allocation dmacoh_alloc_coherent() returned from the
 * region serving dev (dev's own, or an ancestor's declared with
 * DMACOH_MEMORY_INCLUDES_CHILDREN), checked as dmacoh_free_coherent() checks them.
 *
 * @param[in]  cpu    the allocation's CPU pointer (or IO cookie)
 * @param[in]  size   its size, compared in whole granules; the block exported is `size` bytes
 * @param[in]  handle its DMA handle
 * @param[out] out    the file range (struct dmacoh_file_range, dmacoh/platform.h) and the
 *                    region's granted mode
 * Errors (nothing changes on any of them, *out is untouched, and a log line says why):
 *  - -DMACOH_EINVAL: dev not initialised, cpu or out NULL, size 0, or size or handle does not
 *    match the allocation at cpu.
 *  - -DMACOH_ENODEV: no region serves dev.
 *  - -DMACOH_EFAULT: cpu is not the start of a live allocation of that region (system memory
 *    of the fallback, a freed block, the middle of a block, an occupied range).
 *  - -DMACOH_ENOTSUP: the platform has no file it may hand out (no file_of op, or it refuses).
 *  - -DMACOH_EIO: the platform's answer breaks the op's contract (a descriptor it opened for
 *    the call is then not closed: no platform of the library does this).
 *  - platform errors of file_of (-DMACOH_ENXIO, OS errors of opening or copying the
 *    descriptor).
 * Guarantees: out->align is a power of two >= the page size and out->offset a multiple of
 * it; out->mode is the mode the region was granted (a peer maps the file the same way).
 * Ownership: when out->close_fd is true the caller closes out->fd (the Linux platforms always
 * give a descriptor of the caller's own: a copy, or a file opened for the call); otherwise the
 * descriptor is the platform's, valid while the region stays declared, and must not be
 * closed.
 * Whoever maps the file can reach all of it (the whole memfd window, BAR, UIO device or DAX
 * device), not only the block: hand it only to processes trusted with that.
 * Context: thread-safe; takes the region lock briefly (and drains the per-thread caches of
 * freed blocks, as dmacoh_region_find does). May open a file (PCI sysfs).
 */
int dmacoh_block_file(struct dmacoh_device *dev, void *cpu, size_t size, dmacoh_dma_addr_t handle,
                      struct dmacoh_file_range *out);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_EXPORT_H */
