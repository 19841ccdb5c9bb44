/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/types.h - scalar address types and the flag words shared by both APIs.
 *
 * Addresses are 64-bit on every host (a 32-bit CPU may still drive a device that sees 64-bit
 * addresses, and the kernel's history of int page counts overflowing is not repeated here).
 * Nothing in this header includes an OS header.
 */
#ifndef DMACOH_TYPES_H
#define DMACOH_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An address a device is programmed with (the RFC's device_addr, the kernel's dma_addr_t). */
typedef uint64_t dmacoh_dma_addr_t;

/** An address where the CPU finds memory on the bus (the RFC's bus_addr). */
typedef uint64_t dmacoh_phys_addr_t;

/** Sentinel returned by translations that have no answer (libmetal's METAL_BAD_PHYS). */
#define DMACOH_BAD_DMA_ADDR ((dmacoh_dma_addr_t) ~(uint64_t)0)

/*
 * Region flags. The values are those of the RFC's DMA_MEMORY_* constants so that the RFC
 * layer passes them through unchanged.
 */
enum dmacoh_region_flags {
    /** The CPU may load and store the memory directly (a plain pointer). */
    DMACOH_MEMORY_MAP = 0x01,
    /** The memory is reached only through the accessors of io.h (the pointer is a cookie). */
    DMACOH_MEMORY_IO = 0x02,
    /** Children of the device, at any depth, allocate from this region too (memory on a bridge). */
    DMACOH_MEMORY_INCLUDES_CHILDREN = 0x04,
    /** Never fall back to system memory when the region cannot satisfy a request. */
    DMACOH_MEMORY_EXCLUSIVE = 0x08,
};

/** Every flag bit dmacoh_declare_coherent_memory() understands; other bits are rejected. */
#define DMACOH_MEMORY_ALL_FLAGS                                                                    \
    (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO | DMACOH_MEMORY_INCLUDES_CHILDREN |                      \
     DMACOH_MEMORY_EXCLUSIVE)

/** Allocation options for dmacoh_alloc_coherent(); 0 means the RFC's behaviour. */
enum dmacoh_alloc_flags {
    /** Do not zero the memory (the caller overwrites it anyway). */
    DMACOH_ALLOC_NOZERO = 0x01,
    /** Fail rather than fall back to system memory, even for a non-exclusive region. */
    DMACOH_ALLOC_NOFALLBACK = 0x02,
    /**
     * When the region is exclusive (or NOFALLBACK is given) and full, sleep until a free makes
     * room or the timeout passes. Needs a platform with wait/wake operations.
     */
    DMACOH_ALLOC_WAIT = 0x04,
};

/** Every flag bit dmacoh_alloc_coherent() understands; other bits are rejected. */
#define DMACOH_ALLOC_ALL_FLAGS (DMACOH_ALLOC_NOZERO | DMACOH_ALLOC_NOFALLBACK | DMACOH_ALLOC_WAIT)

/** Where an allocation's memory came from. */
enum dmacoh_origin {
    DMACOH_ORIGIN_NONE = 0,   /**< not allocated (a translation found nothing) */
    DMACOH_ORIGIN_REGION = 1, /**< a declared region */
    DMACOH_ORIGIN_SYSTEM = 2, /**< the platform's system memory (fallback) */
};

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_TYPES_H */
