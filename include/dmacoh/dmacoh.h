/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/dmacoh.h - the namespaced API of dmacoh, in one include.
 *
 * dmacoh gives user-space and bare-metal drivers the per-device declared coherent memory that
 * the 2004 RFC proposed for Linux: declare a window of on-chip or on-card memory for a device,
 * then allocate pieces of it with both the CPU pointer and the device address. Every action
 * returns 0 or a negative DMACOH_E* code (== -errno on Linux); dma-mapping.h is the RFC's
 * exact API as a thin layer on this one.
 *
 *   types.h     address types, flags          errno.h    error codes and their names
 *   config.h    overridable knobs             platform.h the plug-in contract
 *   device.h    devices, the log callback     region.h   declare, release, occupy, stats
 *   alloc.h     alloc and free                io.h       accessors for IO regions
 *   pool.h      small blocks (dma_pool)         debug.h    the DMA-API debug mode
 *   export.h    the file behind a block, to map it in another process
 */
#ifndef DMACOH_DMACOH_H
#define DMACOH_DMACOH_H

#define DMACOH_VERSION_MAJOR 0
#define DMACOH_VERSION_MINOR 4
#define DMACOH_VERSION_PATCH 0
/** The version as one comparable number: major * 10000 + minor * 100 + patch. */
#define DMACOH_VERSION                                                                             \
    (DMACOH_VERSION_MAJOR * 10000 + DMACOH_VERSION_MINOR * 100 + DMACOH_VERSION_PATCH)

#include <dmacoh/config.h>
#include <dmacoh/types.h>
#include <dmacoh/errno.h>
#include <dmacoh/platform.h>
#include <dmacoh/device.h>
#include <dmacoh/region.h>
#include <dmacoh/alloc.h>
#include <dmacoh/io.h>
#include <dmacoh/pool.h>
#include <dmacoh/debug.h>
#include <dmacoh/shared.h>
#include <dmacoh/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version as a number (DMACOH_VERSION of the build). Context: any. */
unsigned dmacoh_version(void);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_DMACOH_H */
